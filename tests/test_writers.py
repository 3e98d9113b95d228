"""One writer per repository across the CLI and running servers: hand-over, removals that stay removed, removal mid-pass."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from mcp import Client

from mcp_server.config import Settings
from mcp_server.db.pool import Database, open_database
from mcp_server.indexer import repositories
from mcp_server.indexer.lease import LeaseManager
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.watcher import BackgroundIndexer

from ._consistency import consistency_problems, scratch_database, write_large_repo
from .mcp_harness import HttpServer, connect, server_env, start_http_server

DEADLINE = 60.0  # seconds: a server yields within its supervisor's 5 s tick; CLI start-up loads the model


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    """Poll `check` (plain or async) until it holds."""
    started = time.monotonic()
    while not await _held(check()):
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout:g} s: {what}")
        await anyio.sleep(0.1)


def pgcode(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process."""
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "--database-url", dsn, *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env=server_env(),
        stdin=subprocess.DEVNULL,
    )


def data(result: Any) -> Any:
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def watcher_state(client: Client, name: str) -> str | None:
    listed = data(await client.call_tool("list_repositories", {}))["repositories"]
    return next((r["watcher"] for r in listed if r["repository"] == name), None)


async def stored(dsn: str) -> dict[str, tuple[Any, ...]]:
    """path -> (file row id, row version, content hash, chunk ids): any re-read, re-store or touch changes it."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT f.path, f.id, f.xmin::text AS version, f.content_hash,
                      array(SELECT c.id FROM chunks c WHERE c.file_id = f.id ORDER BY c.id) AS chunks
               FROM files f"""
        )
    finally:
        await conn.close()
    return {r["path"]: (r["id"], r["version"], bytes(r["content_hash"]), list(r["chunks"])) for r in rows}


async def vectors(dsn: str) -> set[bytes]:
    conn = await asyncpg.connect(dsn)
    try:
        return {bytes(r[0]) for r in await conn.fetch("SELECT content_hash FROM embeddings")}
    finally:
        await conn.close()


async def fetchval(dsn: str, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@asynccontextmanager
async def serving(dsn: str, log_dir: Path, root: Path) -> AsyncIterator[tuple[HttpServer, Client]]:
    """A real `pgcode serve` over HTTP on `dsn` and a client of it; its log must hold no traceback."""
    server = start_http_server(dsn, log_dir, env={"PGCODE_ALLOWED_ROOTS": str(root.parent)})
    try:
        async with connect("http", server=server, token=None) as client:
            yield server, client
    finally:
        server.stop()
    log = server.log.read_text()
    assert "Traceback" not in log, log[-4000:]


async def test_pgcode_index_while_serve_watches_is_handed_the_lease_and_rereads_only_the_edit(
    pg_dsn: str, tmp_path: Path
) -> None:
    async with scratch_database(pg_dsn, f"writers_index_{os.getpid()}") as dsn:
        root = write_large_repo(tmp_path / "proj", 90)
        first = pgcode(dsn, "index", str(root))
        assert first.returncode == 0, first.stderr
        before, vectors_before = await stored(dsn), await vectors(dsn)
        edited = "pkg_0/mod_5.py"
        async with serving(dsn, tmp_path, root) as (_server, client):
            await until(lambda: _is(watcher_state(client, "proj"), "watching"), "the server watches the repository")
            path = root / edited
            path.write_text(
                path.read_text().replace('"""Step 0 of module 5."""', '"""Step 0 of module 5: handover_probe."""')
            )
            again = pgcode(dsn, "index", str(root))
            assert again.returncode == 0, again.stderr
            assert "hand" in again.stderr and "watch" in again.stderr, again.stderr  # says what happened
            counts = re.search(r": (\d+) files indexed, (\d+) unchanged, 0 removed", again.stderr)
            assert counts and int(counts[1]) <= 1 and int(counts[1]) + int(counts[2]) == len(before), again.stderr
            # The server takes the repository back and catches up without re-reading anything.
            await until(lambda: _is(watcher_state(client, "proj"), "watching"), "the server takes the repository back")
            assert await fetchval(dsn, "SELECT count(*) FROM chunks WHERE content LIKE '%handover_probe%'") >= 1
        after = await stored(dsn)
        changed = {p for p in before if before[p] != after.get(p)}
        assert changed == {edited}, sorted(changed)
        new_vectors = await vectors(dsn) - vectors_before
        assert 1 <= len(new_vectors) <= len(after[edited][3]), "only the edited file's new chunk texts are embedded"


async def test_pgcode_remove_while_serve_watches_stays_removed(pg_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(pg_dsn, f"writers_remove_{os.getpid()}") as dsn:
        root = write_large_repo(tmp_path / "proj", 90)
        assert pgcode(dsn, "index", str(root)).returncode == 0
        vectors_before = await vectors(dsn)
        async with serving(dsn, tmp_path, root) as (_server, client):
            await until(lambda: _is(watcher_state(client, "proj"), "watching"), "the server watches the repository")
            gone = pgcode(dsn, "remove", "proj")
            assert gone.returncode == 0, gone.stderr
            assert "removed proj" in gone.stderr and "hand" in gone.stderr, gone.stderr
            # Edits right after: a change to the ignore rules makes a watcher run a whole pass.
            (root / ".gitignore").write_text("*.log\n")
            (root / "pkg_0" / "mod_1.py").write_text("def after_removal():\n    return 1\n")
            started = time.monotonic()
            while time.monotonic() - started < 12:  # two supervisor ticks of the server and then some
                assert await fetchval(dsn, "SELECT count(*) FROM repositories") == 0, "the repository came back"
                await anyio.sleep(0.2)
            assert data(await client.call_tool("list_repositories", {}))["repositories"] == []
        assert await vectors(dsn) == vectors_before, "nothing is embedded again"


async def test_remove_repository_while_it_is_being_indexed_answers_with_a_sentence(pg_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(pg_dsn, f"writers_midpass_{os.getpid()}") as dsn:
        root = write_large_repo(tmp_path / "big", 400, heavy_tail=4)
        async with (
            serving(dsn, tmp_path, root) as (_server, client),
            connect("http", server=_server, token=None) as other,
        ):
            answers: dict[str, Any] = {}

            async def index() -> None:
                answers["index"] = await client.call_tool("index_repository", {"path": str(root)})

            async def mid_pass() -> bool:
                return bool(
                    await fetchval(
                        dsn,
                        "SELECT count(*) FROM files f JOIN repositories r ON r.id = f.repository_id"
                        " WHERE r.name = 'big' AND r.state = 'indexing'",
                    )
                )

            async with anyio.create_task_group() as tg:
                tg.start_soon(index)
                await until(mid_pass, "the pass has stored files and goes on")
                removed = await other.call_tool("remove_repository", {"repository": "big"})
            assert not removed.is_error, removed.content
            assert data(removed) == {"repository": "big", "removed": True}
            answer = answers["index"]
            text = answer.content[0].text
            assert answer.is_error and "removed" in text and "ForeignKey" not in text, text
            assert data(await other.call_tool("list_repositories", {}))["repositories"] == []
        conn = await asyncpg.connect(dsn)
        try:
            assert await consistency_problems(conn) == {}
            assert await conn.fetchval("SELECT count(*) FROM files") == 0
        finally:
            await conn.close()


@pytest.fixture
async def own_db(pg_dsn: str, settings: Settings) -> AsyncIterator[tuple[Database, Settings]]:
    """A database of its own: a watcher claims every repository it finds."""
    async with scratch_database(pg_dsn, f"writers_own_{os.getpid()}") as dsn:
        own = replace(settings, database_url=dsn)
        async with open_database(own) as database:
            yield database, own


@asynccontextmanager
async def watched(
    own_db: tuple[Database, Settings], root: Path, tick: float
) -> AsyncIterator[tuple[BackgroundIndexer, int]]:
    """A small repository, indexed, and a watcher (supervisor ticks `tick` s apart) watching it."""
    db, settings = own_db
    write_large_repo(root, 5)
    report = await index_repository(db, settings, root)
    async with db.pool.acquire() as conn:
        rid = (await repositories.find(conn, report.repository)).id
    indexer = BackgroundIndexer(db, settings, None, lease_retry_seconds=tick, heartbeat_seconds=tick)
    async with anyio.create_task_group() as tg:
        await tg.start(indexer.run)
        await until(lambda: indexer.status(rid).state == "watching", "watching")
        yield indexer, rid
        tg.cancel_scope.cancel()


async def test_a_watcher_never_registers_a_removed_repository_again(
    own_db: tuple[Database, Settings], tmp_path: Path
) -> None:
    db, _ = own_db
    root = tmp_path / "small"
    # Slow ticks: the supervisor must not be what notices the removal first.
    async with watched(own_db, root, tick=120) as (indexer, rid):
        async with db.pool.acquire() as conn:  # a writer that never asked for the lease
            await conn.execute("DELETE FROM repositories WHERE id = $1", rid)
        (root / ".gitignore").write_text("*.tmp\n")  # a whole pass
        await until(lambda: indexer.status(rid).state == "stopped", "the watcher lets it go")
    async with db.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM repositories") == 0


async def test_a_waiting_writer_is_handed_the_lease_and_the_watcher_takes_it_back(
    own_db: tuple[Database, Settings], tmp_path: Path
) -> None:
    notices: list[str] = []
    async with watched(own_db, tmp_path / "lent", tick=0.2) as (indexer, rid):
        other = LeaseManager(own_db[0].dsn, owner="cli:1", on_wait=notices.append)
        assert not await other.try_acquire(rid)  # without waiting: refused, as before
        with anyio.fail_after(10):
            async with other.hold(rid, "lent", wait=10):
                assert indexer.status(rid).state == "owned_elsewhere"
                assert not indexer.leases.holds(rid)
        assert indexer.leases.owner in notices[0] and "hand it over" in notices[0]
        await other.aclose()
        await until(lambda: indexer.status(rid).state == "watching", "the watcher takes it back")


async def _held(result: bool | Awaitable[bool]) -> bool:
    return bool(await result) if inspect.isawaitable(result) else bool(result)


async def _is(value: Awaitable[Any], expected: Any) -> bool:
    return await value == expected
