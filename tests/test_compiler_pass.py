"""The compiler pass: real scip-typescript and scip-python runs confirm, add and drop tree-sitter's edges."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import TextContent

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.symbols import goto_definition
from mcp_server.graph.walk import find_callees, find_callers, find_references
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_paths, index_repository
from mcp_server.indexer.precise.compiler import compiler_pass
from mcp_server.indexer.precise.status import PassStatus, passes
from mcp_server.server.app import create_server
from mcp_server.server.state import serve_state

from .conftest import FIXTURES, database_of_its_own
from .scip_tools import indexer

_EDGES = """
SELECT f.path, e.line, e.kind, e.target_simple, t.qualified_name AS target, e.confidence, e.provenance
FROM edges e JOIN files f ON f.id = e.file_id LEFT JOIN symbols t ON t.id = e.target_id
WHERE e.repository_id = $1 AND e.kind <> 'contains'
ORDER BY f.path, e.line, e.kind, t.qualified_name NULLS FIRST, e.provenance, e.confidence"""


def _settings(settings: Settings, **changes: object) -> Settings:
    return dataclasses.replace(
        settings, scip_typescript=indexer("scip-typescript"), scip_python=indexer("scip-python"), **changes
    )


async def _indexed(db: Database, settings: Settings, fixture: str, tmp_path: Path) -> repositories.Repository:
    """A copy of the fixture repository, indexed by tree-sitter only."""
    root = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, root)
    report = await index_repository(db, settings, root, name=f"{fixture}-{tmp_path.name}")
    async with db.pool.acquire() as conn:
        return await repositories.find(conn, report.repository)


async def _edges(db: Database, repo: repositories.Repository) -> dict[tuple[str, int, str], list[tuple]]:
    """(path, line, name) -> [(kind, target, confidence, provenance)]"""
    out: dict[tuple[str, int, str], list[tuple]] = {}
    async with db.pool.acquire() as conn:
        for r in await conn.fetch(_EDGES, repo.id):
            out.setdefault((r["path"], r["line"], r["target_simple"]), []).append(
                (r["kind"], r["target"], round(r["confidence"], 2), r["provenance"])
            )
    return out


def _one(statuses: list[PassStatus], indexer_name: str) -> PassStatus:
    found = [s for s in statuses if s.indexer == indexer_name]
    assert len(found) == 1, statuses
    return found[0]


async def test_typescript_builder_chains_and_imports_become_compiler_edges(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    before = await _edges(db, repo := await _indexed(db, s, "scip_ts", tmp_path))
    # tree-sitter cannot follow `z.string().min(2).trim()`: the chain's calls are unresolved.
    assert before[("src/form.ts", 4, "min")] == [("calls", None, 0.0, "tree-sitter")]
    assert before[("src/form.ts", 5, "parse")] == [("calls", None, 0.0, "tree-sitter")]
    assert before[("src/form.ts", 1, "identity")] == [("imports", "src.schema.identity", 1.0, "tree-sitter")]

    status = _one(await compiler_pass(db, s, repo), "scip-typescript")
    assert status.state == "current", status
    assert status.version == "0.4.0"
    assert status.edges_confirmed > 0 and status.edges_added > 0
    assert status.peak_rss_mb and status.peak_rss_mb > 10

    after = await _edges(db, repo)
    assert after[("src/form.ts", 4, "min")] == [("calls", "src.schema.StringSchema.min", 1.0, "compiler")]
    assert after[("src/form.ts", 4, "trim")] == [("calls", "src.schema.StringSchema.trim", 1.0, "compiler")]
    assert after[("src/form.ts", 5, "parse")] == [("calls", "src.schema.StringSchema.parse", 1.0, "compiler")]
    assert after[("src/form.ts", 9, "parse")] == [("calls", "src.schema.StringSchema.parse", 1.0, "compiler")]
    # Confirmed: the same target, now sure and the compiler's.
    assert after[("src/form.ts", 1, "identity")] == [("imports", "src.schema.identity", 1.0, "compiler")]
    assert after[("src/form.ts", 9, "identity")] == [("calls", "src.schema.identity", 1.0, "compiler")]
    # `implements Shape` is confirmed by the index's relationship and the occurrence alike.
    assert after[("src/shapes.ts", 5, "Shape")] == [("inherits", "src.shapes.Shape", 1.0, "compiler")]
    # A library's method stays as tree-sitter wrote it: unresolved.
    assert ("calls", None, 0.0, "tree-sitter") in after[("src/form.ts", 13, "trim")]
    # A field's uses, which tree-sitter does not write, are added.
    assert after[("src/schema.ts", 4, "checks")] == [("references", "src.schema.StringSchema.checks", 1.0, "compiler")]

    callers = await find_callers(db.pool, "StringSchema.min", repo.name)  # type: ignore[arg-type]
    assert [(e.source, e.provenance, e.confidence) for e in callers.edges] == [("src.form.nameField", "compiler", 1.0)]
    only_heuristic = await find_callers(db.pool, "StringSchema.min", repo.name, provenance="tree-sitter")  # type: ignore[arg-type]
    assert only_heuristic.edges == []
    refs = await find_references(db.pool, "StringSchema.parse", repo.name, provenance="compiler")  # type: ignore[arg-type]
    assert {(r.path, r.line, r.provenance) for r in refs.references} == {
        ("src/form.ts", 5, "compiler"),
        ("src/form.ts", 9, "compiler"),
    }


async def test_uses_through_an_implemented_interface_count_for_the_implementation_but_goto_names_the_interface(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    repo = await _indexed(db, s, "scip_ts", tmp_path)
    assert _one(await compiler_pass(db, s, repo), "scip-typescript").state == "current"
    after = await _edges(db, repo)
    # `it.next()` names the library's Iterator.next, which Counter.next implements (an is_reference
    # relationship): a call of Counter.next too, at CONF_THROUGH, as tsserver counts it.
    assert ("calls", "src.shapes.Counter.next", 0.9, "compiler") in after[("src/shapes.ts", 31, "next")]
    # `shape.area()` names Shape.area: Square.area, implementing it, is called there too.
    assert ("calls", "src.shapes.Square.area", 0.9, "compiler") in after[("src/shapes.ts", 20, "area")]
    callers = await find_callers(db.pool, "Counter.next", repo.name)  # type: ignore[arg-type]
    assert [(e.source, e.confidence) for e in callers.edges] == [("src.shapes.step", 0.9)]
    async with db.pool.acquire() as conn:
        # The site names the interface's method: goto_definition does not answer the implementation.
        there = await goto_definition(conn, "src/shapes.ts", 31, name="next", repository=repo.name)
        assert [d.qualified_name for d in there.definitions] == []
        area = await goto_definition(conn, "src/shapes.ts", 20, name="area", repository=repo.name)
        assert [d.qualified_name for d in area.definitions] == ["src.shapes.Shape.area"]
    # A second pass over unchanged files keeps those edges as they are: none added twice.
    assert _one(await compiler_pass(db, s, repo), "scip-typescript").state == "current"
    assert await _edges(db, repo) == after


async def test_goto_answers_a_parameter_the_pass_binds_until_its_file_is_stored_again(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    repo = await _indexed(db, s, "scip_ts", tmp_path)
    async with db.pool.acquire() as conn:
        before = await goto_definition(conn, "src/shapes.ts", 35, name="f", repository=repo.name)
        assert before.definitions == [] and before.unresolved == ["f"]
    assert _one(await compiler_pass(db, s, repo), "scip-typescript").state == "current"
    async with db.pool.acquire() as conn:
        after = await goto_definition(conn, "src/shapes.ts", 35, name="f", repository=repo.name)
        # `f` is twice's parameter: its line, in the scope of twice.
        assert [(d.kind, d.name, d.qualified_name, d.start_line, d.via) for d in after.definitions] == [
            ("local", "f", "src.shapes.twice", 34, "local")
        ]
        assert after.unresolved == []
        # The file stored again: the binding describes another version, and is not answered.
        await conn.execute(
            "UPDATE files SET indexed_at = now() WHERE repository_id = $1 AND path = 'src/shapes.ts'", repo.id
        )
        stale = await goto_definition(conn, "src/shapes.ts", 35, name="f", repository=repo.name)
        assert stale.definitions == []


async def test_a_name_an_export_alias_gives_is_the_aliased_symbol_to_the_pass(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    repo = await _indexed(db, s, "scip_ts", tmp_path)
    before = await _edges(db, repo)
    assert all(p == "tree-sitter" for *_, p in before[("src/alias.ts", 4, "passThrough")])
    assert _one(await compiler_pass(db, s, repo), "scip-typescript").state == "current"
    after = await _edges(db, repo)
    # `export { identity as passThrough }`: scip-typescript names the alias, pgcode holds identity.
    assert after[("src/alias.ts", 4, "passThrough")] == [("calls", "src.schema.identity", 1.0, "compiler")]
    assert after[("src/alias.ts", 1, "passThrough")] == [("imports", "src.schema.identity", 1.0, "compiler")]


async def test_python_guesses_are_confirmed_or_dropped_and_missed_calls_added(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    before = await _edges(db, repo := await _indexed(db, s, "scip_py", tmp_path))
    # A name guess (one `isoformat` in the repository) on a library's date; two `area` methods: no guess.
    assert before[("shop/use.py", 13, "isoformat")] == [("calls", "shop.models.Clock.isoformat", 0.5, "tree-sitter")]
    assert before[("shop/use.py", 17, "area")] == [("calls", None, 0.0, "tree-sitter")]
    assert before[("shop/use.py", 22, "get")] == [("calls", "shop.models.Box.get", 0.9, "tree-sitter")]

    status = _one(await compiler_pass(db, s, repo), "scip-python")
    assert status.state == "current", status
    assert (status.edges_added, status.edges_dropped) == (2, 1)

    after = await _edges(db, repo)
    assert ("shop/use.py", 13, "isoformat") not in after  # datetime.date.isoformat: not the repository's
    assert after[("shop/use.py", 17, "area")] == [("calls", "shop.models.Square.area", 1.0, "compiler")]
    assert after[("shop/use.py", 22, "area")] == [("calls", "shop.models.Square.area", 1.0, "compiler")]
    assert after[("shop/use.py", 22, "get")] == [("calls", "shop.models.Box.get", 1.0, "compiler")]
    callees = await find_callees(db.pool, "shop.use.stamp", repo.name)  # type: ignore[arg-type]
    assert [e.target for e in callees.edges] == ["shop.use.today"]
    sure = await find_callers(db.pool, "Square.area", repo.name, min_confidence=1.0)  # type: ignore[arg-type]
    assert {e.source for e in sure.edges} == {"shop.use.generic_area", "shop.use.boxed_area"}


async def test_an_edit_leaves_the_file_tree_sitter_and_the_pass_stale_until_it_runs_again(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    s = _settings(settings)
    repo = await _indexed(db, s, "scip_ts", tmp_path)
    await compiler_pass(db, s, repo)
    form = Path(repo.root_path) / "src" / "form.ts"
    form.write_text(form.read_text().replace("min(2)", "min(3)"))
    os.utime(form, ns=(time.time_ns(), time.time_ns()))
    await index_paths(db, s, repo, ["src/form.ts"])
    edited = await _edges(db, repo)
    assert edited[("src/form.ts", 4, "min")] == [("calls", None, 0.0, "tree-sitter")]
    # Other files keep their compiler edges; an edge into the edited file's definitions too.
    assert edited[("src/schema.ts", 4, "checks")] == [("references", "src.schema.StringSchema.checks", 1.0, "compiler")]
    async with db.pool.acquire() as conn:
        status = _one(await passes(conn, [repo.id]), "scip-typescript")
    assert status.state == "stale" and status.stale_files == 1 and status.stale_examples == ("src/form.ts",)
    assert "stale: 1 file(s) edited since" in status.sentence() and "src/form.ts" in status.sentence()

    status = _one(await compiler_pass(db, s, repo), "scip-typescript")
    assert status.state == "current"
    assert (await _edges(db, repo))[("src/form.ts", 4, "min")] == [
        ("calls", "src.schema.StringSchema.min", 1.0, "compiler")
    ]


async def test_a_missing_indexer_a_failing_one_and_a_repository_that_opts_out_are_reported(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    missing = dataclasses.replace(settings, scip_typescript=str(tmp_path / "nowhere" / "scip-typescript"))
    repo = await _indexed(db, missing, "scip_ts", tmp_path)
    status = _one(await compiler_pass(db, missing, repo), "scip-typescript")
    assert status.state == "unavailable"
    assert "npm install -g @sourcegraph/scip-typescript@0.4.0" in status.sentence()

    broken = tmp_path / "broken-indexer"
    broken.write_text("#!/bin/sh\necho 'cannot read tsconfig' >&2\nexit 3\n")
    broken.chmod(0o755)
    failing = dataclasses.replace(settings, scip_typescript=str(broken))
    status = _one(await compiler_pass(db, failing, repo), "scip-typescript")
    assert status.state == "failed"
    assert status.error == "scip-typescript exited with status 3: cannot read tsconfig"
    edges = await _edges(db, repo)
    assert all(p == "tree-sitter" for rows in edges.values() for *_, p in rows)

    # A pass whose process died while it ran is reported failed once its deadline has passed.
    async with db.pool.acquire() as conn:
        await conn.execute(
            "UPDATE compiler_passes SET state = 'running', deadline = now() - interval '1 second'"
            " WHERE repository_id = $1",
            repo.id,
        )
        status = _one(await passes(conn, [repo.id]), "scip-typescript")
    assert status.state == "failed" and (status.error or "").startswith("interrupted")

    (Path(repo.root_path) / ".pgcode.toml").write_text("compiler_pass = false\n")
    status = _one(await compiler_pass(db, _settings(settings), repo), "scip-typescript")
    assert status.state == "off"
    assert "compiler_pass = false" in status.sentence()


async def _call(client: Client, tool: str, **arguments: object) -> tuple[dict[str, Any], str]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    text = result.content[0].text if result.content and isinstance(result.content[0], TextContent) else ""
    return result.structured_content or {}, text


async def _pass_state(client: Client, name: str, want: str, seconds: float = 120) -> dict[str, Any]:
    with anyio.fail_after(seconds):
        while True:
            status, _ = await _call(client, "index_status", repository=name)
            compiler = status["repositories"][0]["compiler"]
            if compiler and compiler[0]["state"] == want:
                return dict(compiler[0])
            await anyio.sleep(0.2)


@pytest.fixture
async def own_settings(settings: Settings) -> AsyncIterator[Settings]:
    """A database of its own: the server's watcher claims every repository it finds, and a pass over
    another module's repository (one at a time) would hold this one's back."""
    yield await database_of_its_own(settings, f"pgcode_compiler_{os.getpid()}")


async def test_over_mcp_the_watcher_runs_the_pass_after_a_quiet_period_and_graph_answers_say_where_it_stands(
    own_settings: Settings, tmp_path: Path
) -> None:
    s = _settings(own_settings, compiler_pass_quiet_seconds=2)
    root = tmp_path / "scip-mcp"
    shutil.copytree(FIXTURES / "scip_ts", root)
    async with serve_state(s) as state, Client(create_server(state)) as client:
        indexed, _ = await _call(client, "index_repository", path=str(root), name="scip-mcp")
        assert indexed["repository"] == "scip-mcp"
        # The tree-sitter graph answers at once; the pass follows in the background.
        early, _ = await _call(client, "find_callers", symbol="StringSchema.min", repository="scip-mcp")
        assert early["edges"] == []
        current = await _pass_state(client, "scip-mcp", "current")
        assert current["version"] == "0.4.0" and current["edges_added"] > 0 and current["peak_rss_mb"] > 10
        assert current["note"].startswith("repository 'scip-mcp': compiler pass (scip-typescript 0.4.0) current as of")

        callers, text = await _call(client, "find_callers", symbol="StringSchema.min", repository="scip-mcp")
        assert [(e["source"], e["provenance"], e["confidence"]) for e in callers["edges"]] == [
            ("src.form.nameField", "compiler", 1.0)
        ]
        assert "calls at 4 (1 compiler)" in text
        assert any("compiler pass (scip-typescript 0.4.0) current" in n for n in callers["notes"])
        heuristic, _ = await _call(
            client, "find_callers", symbol="StringSchema.min", repository="scip-mcp", provenance="tree-sitter"
        )
        assert heuristic["edges"] == []
        bad = await client.call_tool("find_callers", {"symbol": "StringSchema.min", "provenance": "lsp"})
        assert bad.is_error

        # An edit: the file's edges are tree-sitter's within the watcher's usual delay, the pass stale...
        form = root / "src" / "form.ts"
        form.write_text(form.read_text().replace("min(2)", "min(3)"))
        stale = await _pass_state(client, "scip-mcp", "stale", 30)
        assert stale["stale_files"] == 1 and "src/form.ts" in stale["note"]
        refs, _ = await _call(client, "find_references", symbol="StringSchema.min", repository="scip-mcp")
        assert any("stale: 1 file(s) edited since" in n for n in refs["notes"])
        # ... and compiler-grade again after the next pass.
        await _pass_state(client, "scip-mcp", "current")
        again, _ = await _call(client, "find_callers", symbol="StringSchema.min", repository="scip-mcp")
        assert [(e["source"], e["provenance"]) for e in again["edges"]] == [("src.form.nameField", "compiler")]


async def test_an_indexer_runs_at_the_lowest_priority_and_is_stopped_past_its_time_or_memory(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _indexed(db, settings, "scip_ts", tmp_path)
    seen = tmp_path / "niceness"
    slow = tmp_path / "slow-indexer"
    # The limits apply from the moment the child runs: it waits a moment before it reports them.
    slow.write_text(
        f"#!{sys.executable}\nimport os, time\ntime.sleep(0.5)\n"
        f"open({str(seen)!r}, 'w').write(str(os.nice(0)))\ntime.sleep(60)\n"
    )
    slow.chmod(0o755)
    started = time.monotonic()
    timed = dataclasses.replace(settings, scip_typescript=str(slow), compiler_pass_timeout_seconds=10)
    status = _one(await compiler_pass(db, timed, repo), "scip-typescript")
    assert status.state == "failed" and "ran longer than compiler_pass_timeout_seconds (10 s)" in (status.error or "")
    assert 10 <= time.monotonic() - started < 30
    assert seen.read_text() == "19"

    greedy = tmp_path / "greedy-indexer"
    greedy.write_text(f"#!{sys.executable}\nimport time\nheld = bytearray(300 * 2**20)\ntime.sleep(60)\n")
    greedy.chmod(0o755)
    capped = dataclasses.replace(settings, scip_typescript=str(greedy), compiler_pass_memory_mb=256)
    status = _one(await compiler_pass(db, capped, repo), "scip-typescript")
    assert status.state == "failed" and "used more than compiler_pass_memory_mb (256 MB)" in (status.error or "")
