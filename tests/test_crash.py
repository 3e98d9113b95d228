"""Crash safety: kill -9 of pgcode, or of its embedded PostgreSQL, in the middle of indexing leaves a
consistent index that resumes where it stopped, while search keeps answering (or refusing clearly)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx2
import psutil
from mcp import Client

from mcp_server.db.embedded import EmbeddedPostgres
from mcp_server.db.migrate import migrate
from mcp_server.indexer.lease import current_owner
from tests._consistency import (
    consistency_problems,
    fingerprint,
    postgres_processes,
    scratch_database,
    write_large_repo,
)
from tests.mcp_harness import TOKEN, HttpServer, connect, free_port, server_env, start_http_server

CALL_BOUND = 10.0  # seconds: every tool call answers within this, whatever the database is doing
READY_SECONDS = 90


# --- helpers ----------------------------------------------------------------------------------


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


@dataclass
class _Calls:
    """Tool calls made in a loop while something is killed and restarted: when, how long, what came back."""

    made: list[tuple[float, float, bool, str]] = field(default_factory=list)  # start, seconds, ok, error text

    def ok_after(self, moment: float) -> bool:
        return any(ok and start > moment for start, _, ok, _ in self.made)

    def slowest(self) -> float:
        return max((seconds for _, seconds, _, _ in self.made), default=0.0)

    def errors(self) -> list[str]:
        return [text for _, _, ok, text in self.made if not ok]


async def _keep_calling(
    client: Client, tool: str, args: dict[str, Any], calls: _Calls, stop: anyio.Event, pause: float = 0.2
) -> None:
    """Call `tool` until `stop`; a call that outlives the bound is cut off and recorded as a hang."""
    while not stop.is_set():
        started = time.monotonic()
        ok, text = False, "no answer within the bound (a hang)"
        with anyio.move_on_after(CALL_BOUND + 5):
            result = await client.call_tool(tool, args)
            ok, text = (not result.is_error), ("" if not result.is_error else _text(result))
        calls.made.append((started, time.monotonic() - started, ok, text))
        await anyio.sleep(pause)


async def _wait_for(conn_factory: Any, sql: str, predicate: Any, *, timeout: float, what: str) -> Any:
    """Poll `sql` until `predicate(value)`, connecting again whenever the database was away."""
    deadline = time.monotonic() + timeout
    conn: asyncpg.Connection | None = None
    try:
        while True:
            try:
                if conn is None or conn.is_closed():
                    conn = await conn_factory()
                value = await conn.fetchval(sql)
                if predicate(value):
                    return value
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                conn = None
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await anyio.sleep(0.05)
    finally:
        if conn is not None and not conn.is_closed():
            await conn.close()


def _children(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


@asynccontextmanager
async def _servers(*servers: HttpServer) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


# --- kill -9 of pgcode ----------------------------------------------------------------------------

KILL_FILES = 450


async def test_kill_9_of_pgcode_mid_index_leaves_a_consistent_index_that_resumes(pg_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(pg_dsn, "pgcode_crash_kill") as dsn:
        root = write_large_repo(tmp_path / "big", KILL_FILES, heavy_tail=4)
        reference = tmp_path / "reference"
        shutil.copytree(root, reference)
        total = sum(1 for _ in root.rglob("*.py"))
        env = {"PGCODE_TOKENS": f"admin:{TOKEN}", "PGCODE_ALLOWED_ROOTS": str(tmp_path)}
        await migrate(dsn)  # before a read-only server may use it
        servers: dict[str, HttpServer] = {}

        async def start(role: str, *args: str) -> None:
            servers[role] = await anyio.to_thread.run_sync(
                lambda: start_http_server(dsn, tmp_path, extra_args=args, env=env)
            )

        async with anyio.create_task_group() as starting:
            starting.start_soon(start, "writer", "--no-watch")
            starting.start_soon(start, "reader", "--read-only")
        writer, reader = servers["writer"], servers["reader"]
        async with _servers(writer, reader):
            ready = httpx2.get(f"{reader.base}/ready", timeout=5)
            deadline = time.monotonic() + READY_SECONDS
            while ready.status_code != 200:  # the model is loaded: hybrid search needs no waiting
                assert time.monotonic() < deadline, ready.text
                await anyio.sleep(0.2)
                ready = httpx2.get(f"{reader.base}/ready", timeout=5)

            searches = _Calls()
            stop = anyio.Event()

            async def connect_db() -> asyncpg.Connection:
                return await asyncpg.connect(dsn)

            gave_up = anyio.Event()

            async def index_until_killed() -> None:
                try:
                    async with connect("http", server=writer) as client:
                        await client.call_tool("index_repository", {"path": str(root), "name": "big"})
                except Exception:  # the server is killed under the call: whatever the client says
                    pass
                gave_up.set()

            async with connect("http", server=reader) as search_client, anyio.create_task_group() as tg:
                tg.start_soon(
                    _keep_calling,
                    search_client,
                    "search_code",
                    {"query": "which step feeds the next module", "limit": 5},
                    searches,
                    stop,
                )
                async with anyio.create_task_group() as indexing:
                    indexing.start_soon(index_until_killed)
                    # Late in the pass: too few files remain for the resumed pass to re-resolve the
                    # whole repository on its own account, so it must know the last pass was cut short.
                    await _wait_for(
                        connect_db,
                        "SELECT count(*) FROM files",
                        lambda n: n >= total * 0.85,
                        timeout=120,
                        what="the files to be stored",
                    )
                    parse_workers = _children(writer.process)
                    writer.process.send_signal(signal.SIGKILL)
                    await anyio.to_thread.run_sync(writer.process.wait, 10)
                    killed_at = time.monotonic()
                    with anyio.move_on_after(CALL_BOUND):
                        await gave_up.wait()  # the client notices the dead server by itself...
                    indexing.cancel_scope.cancel()  # ...or is given up on: its answer does not matter
                if (os.cpu_count() or 1) >= 2:  # else files are parsed in a thread, not in worker processes
                    assert parse_workers, "no parse workers ran"
                left = await anyio.to_thread.run_sync(_wait_gone, parse_workers, 15)
                assert left == [], "parse workers outlived the killed server"

                conn = await asyncpg.connect(dsn)
                try:
                    repo = await conn.fetchrow("SELECT id, state FROM repositories WHERE name = 'big'")
                    assert await consistency_problems(conn) == {}
                    interrupted = await fingerprint(conn, "big", resolved=False)
                    assert 0 < len(interrupted) < total, "the kill did not land in the middle of the pass"
                    # The lease died with the killed process's connection: nobody owns the repository.
                    assert await current_owner(conn, repo["id"]) is None
                    assert repo["state"] == "indexing"  # says the pass did not finish
                finally:
                    await conn.close()

                restarted = await anyio.to_thread.run_sync(
                    lambda: start_http_server(dsn, tmp_path, extra_args=("--no-watch",), env=env)
                )
                async with _servers(restarted), connect("http", server=restarted) as client:
                    resumed = _data(await client.call_tool("index_repository", {"path": str(root), "name": "big"}))
                    # Only the remainder is read again; every stored file is recognised as unchanged.
                    assert resumed["files_unchanged"] == len(interrupted)
                    assert resumed["files_indexed"] == total - len(interrupted)
                    assert resumed["files_seen"] == total
                    stop.set()
                    clean = _data(
                        await client.call_tool("index_repository", {"path": str(reference), "name": "reference"})
                    )
                    assert clean["files_indexed"] == total

            conn = await asyncpg.connect(dsn)
            try:
                assert await consistency_problems(conn) == {}
                complete = await fingerprint(conn, "reference")
                complete_unresolved = await fingerprint(conn, "reference", resolved=False)
                final = await fingerprint(conn, "big")
                state = await conn.fetchval("SELECT state FROM repositories WHERE name = 'big'")
            finally:
                await conn.close()
            # Each file stored before the kill was whole: what a clean index stores for it.
            for path, stored in interrupted.items():
                assert stored == complete_unresolved[path], path
            # After the resumed pass, the index is the clean one, edges resolved across files included.
            assert final.keys() == complete.keys()
            assert [p for p in final if final[p] != complete[p]] == []
            assert state == "ready"

            # Search answered all along, each call well within the bound.
            assert searches.errors() == [], searches.errors()[:3]
            assert searches.slowest() < CALL_BOUND, searches.slowest()
            assert searches.ok_after(killed_at), "no search ran after the kill"
            assert any(start < killed_at for start, *_ in searches.made), "no search ran before the kill"


# --- kill -9 of the embedded PostgreSQL ----------------------------------------------------------

EMBEDDED_FILES = 250
_UNREACHABLE = ("not reachable", "starting up", "restarting")
_FINISHED = """SELECT (r.state, (SELECT count(*) FROM files f WHERE f.repository_id = r.id)::int)
               FROM repositories r WHERE r.name = 'emb'"""


def _start_embedded(data_dir: Path, log_dir: Path) -> HttpServer:
    """`pgcode serve --transport http` on its own embedded PostgreSQL (no database URL)."""
    port = free_port()
    log = log_dir / f"embedded-{port}.log"
    env = server_env(
        {
            "PGCODE_DATABASE_URL": "",
            "PGCODE_TOKENS": f"admin:{TOKEN}",
            "PGCODE_LOG_LEVEL": "info",
            "PGCODE_ALLOWED_ROOTS": str(log_dir),
            # No vectors: the background embedding would only compete for the CPU here.
            "PGCODE_EMBEDDING_MODEL": "pgcode-test/no-such-model",
        }
    )
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcp_server",
                "--data-dir",
                str(data_dir),
                "serve",
                "--transport",
                "http",
                "--port",
                str(port),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    server = HttpServer(process, port, log)
    deadline = time.monotonic() + READY_SECONDS
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx2.get(f"{server.base}/health", timeout=1).status_code == 200:
                return server
        except httpx2.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"the server did not come up: {log.read_text()[-3000:]}")
        time.sleep(0.2)


def _postmaster_pid(pgdata: Path) -> int:
    return int((pgdata / "postmaster.pid").read_text().split()[0])


async def test_kill_9_of_the_embedded_postgres_is_survived_without_restarting_pgcode(tmp_path: Path) -> None:
    data_dir = tmp_path / "embedded"
    pgdata = data_dir / "pgdata"
    root = write_large_repo(tmp_path / "emb", EMBEDDED_FILES)
    reference = tmp_path / "emb-reference"
    shutil.copytree(root, reference)
    total = sum(1 for _ in root.rglob("*.py"))
    server = _start_embedded(data_dir, tmp_path)
    # postmaster.pid: pid, data dir, start time, port, socket directory (the same across restarts).
    port, socket_dir = (pgdata / "postmaster.pid").read_text().split("\n")[3:5]
    dsn = f"postgresql://postgres:@/postgres?host={socket_dir}&port={port}"

    async def connect_db() -> asyncpg.Connection:
        return await asyncpg.connect(dsn, timeout=2)

    try:
        calls = _Calls()
        stop = anyio.Event()
        index_outcome: list[tuple[float, Any]] = []

        async def index_once() -> None:
            async with connect("http", server=server) as client:
                result = await client.call_tool("index_repository", {"path": str(root), "name": "emb"})
                index_outcome.append((time.monotonic(), result))

        async with connect("http", server=server) as client, anyio.create_task_group() as tg:
            tg.start_soon(index_once)
            await _wait_for(
                connect_db,
                "SELECT count(*) FROM files",
                lambda n: n >= total * 0.3,
                timeout=120,
                what="the files to be stored",
            )
            tg.start_soon(
                _keep_calling,
                client,
                "search_code",
                {"query": "clamp", "mode": "keyword", "limit": 3},
                calls,
                stop,
                0.1,
            )
            old_pid = _postmaster_pid(pgdata)
            os.kill(old_pid, signal.SIGKILL)  # the postmaster alone: its backends are orphaned
            killed_at = time.monotonic()

            # pgcode starts its server again by itself; tool calls succeed again soon after.
            with anyio.fail_after(60):
                while not calls.ok_after(killed_at + 0.5):
                    await anyio.sleep(0.1)
            back_at = min(start for start, _, ok, _ in calls.made if ok and start > killed_at + 0.5)
            new_pid = _postmaster_pid(pgdata)
            assert new_pid != old_pid and psutil.pid_exists(new_pid)
            assert server.process.poll() is None, "pgcode itself went down"

            # The interrupted index call came back with a clear error, not a hang.
            with anyio.fail_after(CALL_BOUND + 5):
                while not index_outcome:
                    await anyio.sleep(0.1)
            answered_at, result = index_outcome[0]
            assert answered_at - killed_at < CALL_BOUND
            assert result.is_error and any(s in _text(result) for s in _UNREACHABLE), _text(result)

            # The background indexer takes the repository over again and finishes the pass.
            await _wait_for(
                connect_db,
                _FINISHED,
                lambda row: row == ("ready", total),
                timeout=90,
                what="the background indexer to finish the repository",
            )
            stop.set()

            status = _data(await client.call_tool("index_status", {"repository": "emb"}))["repositories"][0]
            assert status["files"] == total and status["state"] == "ready", status
            clean = _data(await client.call_tool("index_repository", {"path": str(reference), "name": "clean"}))
            assert clean["files_indexed"] == total

        # During the outage every call answered within the bound: results, or a clear error.
        assert calls.slowest() < CALL_BOUND, calls.slowest()
        assert calls.errors(), "no call fell into the outage"
        assert all(any(s in text for s in _UNREACHABLE) for text in calls.errors()), set(calls.errors())
        conn = await connect_db()
        try:
            assert await consistency_problems(conn) == {}
            assert await fingerprint(conn, "emb") == await fingerprint(conn, "clean")
        finally:
            await conn.close()
        print(
            f"embedded PostgreSQL killed: tools answered again after {back_at - killed_at:.1f} s; "
            f"{len(calls.errors())} of {len(calls.made)} calls refused meanwhile; "
            f"the interrupted index call answered {answered_at - killed_at:.1f} s after the kill"
        )

        # A clean stop still stops the server pgcode started again.
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(20) == 0, server.log.read_text()[-3000:]
        deadline = time.monotonic() + 10
        while postgres_processes(data_dir) and time.monotonic() < deadline:
            await anyio.sleep(0.2)
        assert postgres_processes(data_dir) == [], "the restarted PostgreSQL outlived pgcode"
        assert "Traceback" not in server.log.read_text()
    finally:
        server.stop()
        for p in postgres_processes(data_dir):
            p.kill()


_KILLED_OWNER = """
import asyncio, os, signal, sys
from pathlib import Path
import asyncpg
from mcp_server.db.embedded import EmbeddedPostgres

async def main() -> None:
    dsn = EmbeddedPostgres(Path(sys.argv[1])).start()
    conn = await asyncpg.connect(dsn)
    await conn.execute("CREATE TABLE survivor (note text)")
    await conn.execute("INSERT INTO survivor VALUES ('committed before the kill')")
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_a_new_pgcode_takes_over_after_both_it_and_its_embedded_postgres_were_killed(tmp_path: Path) -> None:
    data_dir = tmp_path / "stale"
    script = tmp_path / "killed_owner.py"
    script.write_text(_KILLED_OWNER)
    done = subprocess.run(
        [sys.executable, str(script), str(data_dir)],
        env=server_env(),
        timeout=120,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]
    orphans = postgres_processes(data_dir)
    assert orphans, "the embedded server should have outlived its killed owner"
    os.kill(orphans[0].pid, signal.SIGKILL)  # and now the server too: a stale postmaster.pid is left
    assert _wait_gone(orphans, 10) == []
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    # Worse, its process id now belongs to another program, as after a reboot.
    other = subprocess.Popen(["sleep", "60"])
    lines = pid_file.read_text().split("\n")
    pid_file.write_text("\n".join([str(other.pid), *lines[1:]]))

    # The next pgcode process starts it again (crash recovery keeps what was committed) and, being
    # the only live holder, stops it on its way out: the dead owner's handle does not keep it running.
    server = EmbeddedPostgres(data_dir)
    try:
        dsn = await anyio.to_thread.run_sync(server.start)
        try:
            conn = await asyncpg.connect(dsn)
            try:
                assert await conn.fetchval("SELECT note FROM survivor") == "committed before the kill"
            finally:
                await conn.close()
        finally:
            await anyio.to_thread.run_sync(server.stop)
        assert _wait_gone(postgres_processes(data_dir), 10) == [], "the embedded server outlived its last live holder"
    finally:
        other.kill()
        other.wait()
        for p in postgres_processes(data_dir):
            p.kill()
