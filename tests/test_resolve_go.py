"""Go calls resolved across files the way gopls does: locals, parameters, fields, return types, chains."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository

REPO = "go-resolve"

_FILES = {
    "go.mod": "module example.com/logx\n\ngo 1.21\n",
    "logger.go": """
package logx

import "example.com/logx/internal/buffer"

type Logger struct{ level int }

func New(level int) *Logger { return &Logger{level: level} }

func (l Logger) With() Context { return Context{l: l} }

func (l *Logger) Info() *Event { return newEvent(l) }

func (l *Logger) Flush() {}

type Context struct{ l Logger }

func (c Context) Str(key string) Context { return c }

func (c Context) Logger() Logger { return c.l }

type Event struct {
	buf *buffer.Buffer
	base
}

func newEvent(l *Logger) *Event { return &Event{} }

func (e *Event) Msg(s string) { e.buf.AppendString(s) }

type base struct{}

func (b *base) Reset() {}
""",
    "use.go": """
package logx

import (
	"bytes"
	"sync"
)

var std = New(0)

var pool sync.Pool

func Run(out *bytes.Buffer) func() {
	logger := New(1)
	logger.Info().Msg("a")
	l := logger.With().Str("k").Logger()
	l.Info().Msg("b")
	enc := &Event{}
	enc.Reset()
	var ev Event
	ev.Msg("c")
	std.Flush()
	out.Reset()
	pool.Put(nil)
	return logger.Flush
}
""",
    "internal/buffer/buffer.go": """
package buffer

type Buffer struct{ b []byte }

func (b *Buffer) AppendString(s string) { b.b = append(b.b, s...) }

// Put shares its name with sync.Pool's: a call on a pool is never guessed onto it.
func (b *Buffer) Put(v any) {}

// Reset too (bytes.Buffer's).
func (b *Buffer) Reset() {}
""",
}


@pytest.fixture(scope="module")
async def go_repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("go") / REPO
    for rel, text in _FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.removeprefix("\n"))
    await index_repository(db, settings, root, name=REPO)
    return root


async def _edges(db: Database, kind: str) -> dict[tuple[str, str], str | None]:
    rows = await db.pool.fetch(
        """SELECT src.qualified_name AS source, e.target_name, tgt.qualified_name AS target
           FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
           LEFT JOIN symbols tgt ON tgt.id = e.target_id
           WHERE r.name = $1 AND e.kind = $2""",
        REPO,
        kind,
    )
    return {(r["source"], r["target_name"]): r["target"] for r in rows}


async def test_a_local_holds_its_constructors_declared_return_type(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("logx.Run", "logger.Info")] == "logx.Logger.Info"
    assert calls[("logx.Run", "logger.Info().Msg")] == "logx.Event.Msg"


async def test_builder_chains_follow_each_methods_return_type(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("logx.Run", "logger.With().Str")] == "logx.Context.Str"
    assert calls[("logx.Run", 'logger.With().Str("k").Logger')] == "logx.Context.Logger"
    assert calls[("logx.Run", "l.Info")] == "logx.Logger.Info"


async def test_composite_literals_var_declarations_and_embedded_methods(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("logx.Run", "enc.Reset")] == "logx.base.Reset"  # promoted from the embedded struct
    assert calls[("logx.Run", "ev.Msg")] == "logx.Event.Msg"


async def test_struct_fields_and_package_variables_are_typed(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("logx.Event.Msg", "e.buf.AppendString")] == "buffer.Buffer.AppendString"
    assert calls[("logx.Run", "std.Flush")] == "logx.Logger.Flush"


async def test_members_of_standard_library_types_are_never_guessed_by_name(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("logx.Run", "out.Reset")] is None
    assert calls[("logx.Run", "pool.Put")] is None


async def test_a_method_value_without_a_call_is_a_reference(db: Database, go_repo: Path) -> None:
    refs = await _edges(db, "references")
    assert refs[("logx.Run", "logger.Flush")] == "logx.Logger.Flush"
