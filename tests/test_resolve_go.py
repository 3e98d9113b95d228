"""Go calls resolved across files the way gopls does: locals, parameters, fields, return types, chains."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.walk import find_callers, find_references
from mcp_server.index.records import IMPLEMENTS
from mcp_server.indexer.pipeline import index_repository

from .resolve_repo import targets

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
    "hooks/hooks.go": """
package hooks

import (
	"io"
	"net"
)

type Hook interface {
	Fire(level int, msg string) error
}

type LevelWriter interface {
	io.Writer
	WriteLevel(level int, p []byte) (n int, err error)
}

// Its method set is net.Conn's too: not known here.
type Conn interface {
	net.Conn
	Fire(level int, msg string) error
}

type printer struct{}

func (p printer) Fire(level int, msg string) error { return nil }

type counter struct{ n int }

func (c *counter) Fire(lvl int, text string) error { c.n++; return nil }

// Fire takes other arguments: no Hook.
type siren struct{}

func (s siren) Fire(msg string) error { return nil }

// The embedded printer's Fire is promoted: a Hook too.
type loud struct{ printer }

type file struct{}

func (f *file) Write(p []byte) (int, error) { return len(p), nil }

func (f *file) WriteLevel(l int, p []byte) (n int, err error) { return f.Write(p) }

type Logger struct {
	hook Hook
	hooks []Hook
	byName map[string]Hook
}

func (l *Logger) Emit(msg string) {
	l.hook.Fire(1, msg)
}

func Direct() {
	c := &counter{}
	c.Fire(2, "x")
}

func Register(f func() error) {}

// A named slice type may have methods of its elements' names: ranging over one is not followed.
type Hooks []Hook

func (hs Hooks) Fire(level int, msg string) error { return nil }

func (l *Logger) Each(extra []Hook, more ...Hook) {
	for _, h := range l.hooks {
		h.Fire(3, "field")
	}
	l.byName["a"].Fire(4, "map")
	for _, h := range extra {
		h.Fire(5, "param")
	}
	more[0].Fire(6, "variadic")
	var named Hooks
	for _, h := range named {
		h.Fire(7, "named")
	}
	for i, h := range []Hook{printer{}} {
		h.Fire(i, "literal")
	}
}

func flush() error { return nil }

func Setup() {
	Register(flush)
}
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
    return await targets(db, REPO, kind)


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


async def test_a_type_implements_an_interface_its_method_set_covers(db: Database, go_repo: Path) -> None:
    implements = {
        (r["source"], r["target"])
        for r in await db.pool.fetch(
            """SELECT src.qualified_name AS source, tgt.qualified_name AS target
               FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
               JOIN symbols tgt ON tgt.id = e.target_id
               WHERE r.name = $1 AND e.kind = 'inherits' AND e.alias = $2""",
            REPO,
            IMPLEMENTS,
        )
    }
    assert {
        ("hooks.printer", "hooks.Hook"),
        ("hooks.counter", "hooks.Hook"),  # a pointer receiver, other parameter names
        ("hooks.loud", "hooks.Hook"),  # promoted from the embedded struct
        ("hooks.file", "hooks.LevelWriter"),  # io.Writer's Write, and its own WriteLevel
        ("hooks.Hooks", "hooks.Hook"),
    } <= implements
    assert ("hooks.siren", "hooks.Hook") not in implements  # Fire(string) is another method
    assert not {t for s, t in implements if t == "hooks.Conn"}  # net.Conn's methods are not known here
    assert not {s for s, t in implements if s.startswith("logx.")}


async def test_a_call_through_an_interface_is_a_reference_of_each_implementation(db: Database, go_repo: Path) -> None:
    calls = await _edges(db, "calls")
    assert calls[("hooks.Logger.Emit", "l.hook.Fire")] == "hooks.Hook.Fire"
    refs = await find_references(db.pool, "hooks.counter.Fire", REPO)
    assert {(r.source, r.line) for r in refs.references if r.source != "hooks.Logger.Each"} == {
        ("hooks.Logger.Emit", 52),
        ("hooks.Direct", 57),
    }
    through = next(r for r in refs.references if r.source == "hooks.Logger.Emit")
    assert through.confidence == 0.9  # Hook's Fire: another implementation may be the one run
    printer = await find_references(db.pool, "hooks.printer.Fire", REPO)
    assert "hooks.Direct" not in {r.source for r in printer.references}  # counter's own call
    iface = await find_references(db.pool, "hooks.Hook.Fire", REPO)
    assert {r.source for r in iface.references} >= {"hooks.Logger.Emit", "hooks.Direct"}
    siren = await find_references(db.pool, "hooks.siren.Fire", REPO)
    assert not siren.references
    callers = await find_callers(db.pool, "hooks.counter.Fire", REPO)
    assert {n.qualified_name for n in callers.nodes if n.depth == 1} == {
        "hooks.Logger.Emit",
        "hooks.Logger.Each",
        "hooks.Direct",
    }


async def test_a_function_passed_as_a_value_has_its_receiver_among_callers(db: Database, go_repo: Path) -> None:
    callers = await find_callers(db.pool, "hooks.flush", REPO)
    assert [(n.qualified_name, n.depth) for n in callers.nodes if n.depth == 1] == [("hooks.Setup", 1)]
    assert [e.kind for e in callers.edges] == ["references"]


async def _implements(db: Database, repo: str) -> set[tuple[str, str | None]]:
    rows = await db.pool.fetch(
        """SELECT src.qualified_name AS source, tgt.qualified_name AS target
           FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
           LEFT JOIN symbols tgt ON tgt.id = e.target_id
           WHERE r.name = $1 AND e.kind = 'inherits' AND e.alias = $2""",
        repo,
        IMPLEMENTS,
    )
    return {(r["source"], r["target"]) for r in rows}


async def test_implements_follows_edits_of_either_file(db: Database, settings: Settings, tmp_path: Path) -> None:
    repo = "go-implements-edits"
    (tmp_path / "go.mod").write_text("module example.com/shape\n\ngo 1.21\n")
    iface = tmp_path / "shape.go"
    impl = tmp_path / "square.go"
    iface.write_text("package shape\n\ntype Shape interface {\n\tArea() float64\n}\n")
    impl.write_text("package shape\n\ntype Square struct{ s float64 }\n\nfunc (q Square) Area() float64 { return 0 }\n")
    await index_repository(db, settings, tmp_path, name=repo)
    assert await _implements(db, repo) == {("shape.Square", "shape.Shape")}

    iface.write_text("package shape\n\ntype Shape interface {\n\tArea() float64\n\tSides() int\n}\n")
    await index_repository(db, settings, tmp_path, name=repo)
    assert await _implements(db, repo) == set()  # Square has no Sides

    impl.write_text(impl.read_text() + "\nfunc (q *Square) Sides() int { return 4 }\n")
    await index_repository(db, settings, tmp_path, name=repo)
    assert await _implements(db, repo) == {("shape.Square", "shape.Shape")}


async def test_range_variables_and_indexes_hold_a_known_containers_elements(db: Database, go_repo: Path) -> None:
    calls = {
        (r["line"], r["target"])
        for r in await db.pool.fetch(
            """SELECT e.line, tgt.qualified_name AS target
               FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
               LEFT JOIN symbols tgt ON tgt.id = e.target_id
               WHERE r.name = $1 AND e.kind = 'calls' AND src.qualified_name = 'hooks.Logger.Each'""",
            REPO,
        )
    }
    assert calls == {
        (69, "hooks.Hook.Fire"),  # a slice field
        (71, "hooks.Hook.Fire"),  # a map field's value
        (73, "hooks.Hook.Fire"),  # a slice parameter
        (75, "hooks.Hook.Fire"),  # a variadic parameter
        (78, None),  # an element of Hooks: never Hooks.Fire
        (81, "hooks.Hook.Fire"),  # a slice literal
    }
