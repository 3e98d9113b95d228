"""Many stdio sessions on one data dir share one server (one model, one pool, one watcher), which comes back when killed and leaves when the last session does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import psutil
import pytest
from mcp import Client, MCPError, StdioServerParameters

from mcp_server.config import Settings
from mcp_server.server.shared import place_for, settings_env
from mcp_server.server.tool_surface import TOOL_NAMES
from tests._consistency import scratch_database
from tests.conftest import write_sample_repo
from tests.shared_harness import (
    IDLE_SECONDS,
    INITIALIZE,
    RawSession,
    shared_servers,
    stdio_env,
    wait_for_no_shared_server,
    wait_until,
)

SESSIONS = 5
POOL = 2  # each process's pool: N servers of their own would hold at least N connections


@asynccontextmanager
async def _session(data_dir: Path, dsn: str | None, extra: dict[str, str] | None = None) -> AsyncIterator[Client]:
    """An SDK stdio client of `pgcode serve` on `data_dir`, as a desktop client starts it."""
    args = ["-m", "mcp_server", *(["--database-url", dsn] if dsn else []), "serve"]
    params = StdioServerParameters(command=sys.executable, args=args, env=stdio_env(data_dir, extra))
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


def _relays(data_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        try:
            if (
                "serve" in cmdline
                and "--shared-socket" not in cmdline
                and process.environ().get("PGCODE_DATA_DIR") == str(data_dir)
            ):
                found.append(process)
        except psutil.Error:
            pass
    return found


def _maps_the_model(process: psutil.Process) -> bool:
    return any("onnxruntime" in m.path for m in process.memory_maps())


async def _connections(pg_dsn: str, database: str) -> int:
    conn = await asyncpg.connect(pg_dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgcode'", database
            )
        )
    finally:
        await conn.close()


def _text(result: Any) -> str:
    assert not result.is_error, result.content[0].text if result.content else result
    return str(result.content[0].text)


async def test_concurrent_stdio_sessions_share_one_server_model_and_pool(pg_dsn: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    root = write_sample_repo(tmp_path / "shop")
    extra = {"PGCODE_POOL_MAX_SIZE": str(POOL)}
    async with scratch_database(pg_dsn, "pgcode_shared_sessions") as dsn:
        async with _session(data_dir, dsn, extra) as first:
            progress: list[float] = []

            async def on_progress(done: float, total: float | None, message: str | None) -> None:
                progress.append(done)

            indexed = await first.call_tool(
                "index_repository", {"path": str(root), "name": "shop"}, progress_callback=on_progress
            )
            assert "shop" in _text(indexed) and progress and progress[-1] == 100
            all_in, measured = anyio.Event(), anyio.Event()
            ready = 0
            results: dict[int, str] = {}

            async def one(i: int) -> None:
                nonlocal ready
                async with _session(data_dir, dsn, extra) as client:
                    assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
                    found = await client.call_tool("search_code", {"query": "sign a cookie with a secret", "limit": 3})
                    results[i] = _text(found)
                    ready += 1
                    if ready == SESSIONS:
                        all_in.set()
                    await all_in.wait()
                    # Every session is open and has searched: count what they hold between them.
                    if i == 0:
                        try:
                            results[-1] = str(await _connections(pg_dsn, "pgcode_shared_sessions"))
                            servers, relays = shared_servers(data_dir), _relays(data_dir)
                            results[-2] = f"{len(servers)} {len(relays)}"
                            # The model is loaded once, in the shared server; the relays hold none.
                            assert [_maps_the_model(s) for s in servers] == [True]
                            assert not any(_maps_the_model(r) for r in relays)
                        finally:
                            measured.set()
                    await measured.wait()

            with anyio.fail_after(180):
                async with anyio.create_task_group() as tg:
                    for i in range(SESSIONS):
                        tg.start_soon(one, i)
        assert all("sign_cookie" in results[i] for i in range(SESSIONS))
        assert results[-2] == f"1 {SESSIONS + 1}"  # one shared server for six relays
        # One pool (and the watcher's lease connection) rather than one pool per session.
        assert int(results[-1]) <= POOL + 1, results[-1]
        wait_for_no_shared_server(data_dir)


async def test_a_killed_shared_server_is_replaced_and_the_session_carries_on(pg_dsn: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    root = write_sample_repo(tmp_path / "big")
    package = root / "generated_pkg"
    package.mkdir()
    for i in range(150):
        body = [
            f"def handler_{i}_{j}(order, rate={j}):\n    return helper_{i}_{j}(order) + rate\n\n"
            f"def helper_{i}_{j}(value):\n    return value * {j + 1}\n"
            for j in range(30)
        ]
        (package / f"mod_{i}.py").write_text("\n".join(body))
    async with _session(data_dir, pg_dsn) as client:
        _text(await client.call_tool("list_repositories", {}))
        [first] = shared_servers(data_dir)
        started = anyio.Event()

        async def on_progress(done: float, total: float | None, message: str | None) -> None:
            started.set()

        async def kill_when_started() -> None:
            await started.wait()
            first.send_signal(signal.SIGKILL)

        # A request in flight when the server dies gets an error at once, not a hang.
        with anyio.fail_after(120):
            async with anyio.create_task_group() as tg:
                tg.start_soon(kill_when_started)
                with pytest.raises(MCPError, match="stopped before answering"):
                    await client.call_tool(
                        "index_repository", {"path": str(root), "name": "big-killed"}, progress_callback=on_progress
                    )
        # The next one starts a new server; the session goes on as it was.
        with anyio.fail_after(120):
            listed = await client.call_tool("list_repositories", {})
        assert "repositories" in _text(listed)
        [second] = shared_servers(data_dir)
        assert second.pid != first.pid
        assert len((await client.list_tools()).tools) == len(TOOL_NAMES)
    wait_for_no_shared_server(data_dir)


def _handshake_and_calls(session: RawSession) -> list[dict[str, Any]]:
    """A session in the handshake era (as desktop clients speak it): what it answers, in order."""
    session.send(INITIALIZE)
    answers = [session.answer(1)]
    session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    answers.append(session.request(2, "tools/list"))
    # A successful call whose answer other tests' repositories (indexed or embedded meanwhile) cannot change.
    answers.append(
        session.request(3, "tools/call", {"name": "find_symbol", "arguments": {"name": "no_such_symbol_q7x"}})
    )
    answers.append(session.request(4, "tools/call", {"name": "get_symbol", "arguments": {"symbol": ""}}))
    answers.append(session.request(5, "no/such/method"))
    return answers


def test_sessions_starting_at_once_start_one_shared_server(pg_dsn: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    sessions = [RawSession(["--database-url", pg_dsn], data_dir) for _ in range(4)]
    for session in sessions:
        session.send(INITIALIZE)
    for session in sessions:
        assert session.answer(1)["result"]["serverInfo"]["name"] == "pgcode"
    assert len(shared_servers(data_dir)) == 1
    for i, session in enumerate(sessions):
        assert [m.get("id") for m in session.finish(last=i == len(sessions) - 1)] == [1]


def test_a_relayed_session_answers_as_a_server_of_its_own(pg_dsn: str, tmp_path: Path) -> None:
    own = RawSession(["--database-url", pg_dsn], tmp_path / "own", {"PGCODE_SHARED_SERVER": "false"})
    expected = _handshake_and_calls(own)
    own.finish()
    relayed = RawSession(["--database-url", pg_dsn], tmp_path / "shared")
    answers = _handshake_and_calls(relayed)
    assert len(shared_servers(tmp_path / "shared")) == 1  # it did go through a shared server
    relayed.finish()
    assert answers == expected
    assert answers[3]["result"]["isError"] is True and "error" in answers[4]


def test_a_handshake_era_session_carries_on_after_the_shared_server_is_killed(pg_dsn: str, tmp_path: Path) -> None:
    session = RawSession(["--database-url", pg_dsn], tmp_path / "data")
    session.send(INITIALIZE)
    session.answer(1)
    session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert len(session.request(2, "tools/list")["result"]["tools"]) == len(TOOL_NAMES)
    [first] = shared_servers(tmp_path / "data")
    first.send_signal(signal.SIGKILL)
    # Dead with every thread gone, so its sockets are closed (a zombie whose other threads are still
    # exiting holds them a moment longer: a request sent then gets the in-flight error instead).
    wait_until(lambda: first.status() == psutil.STATUS_ZOMBIE and first.num_threads() == 1, "the shared server is dead")
    # A new server never saw this client's handshake: the relay gives it again, so requests are
    # not refused as coming before initialization.
    listed = session.request(3, "tools/call", {"name": "list_repositories", "arguments": {}})
    assert listed["result"]["isError"] is False, listed
    [second] = shared_servers(tmp_path / "data")
    assert second.pid != first.pid
    assert not psutil.pid_exists(first.pid)  # collected by the relay, its parent, not left a zombie
    assert [m.get("id") for m in session.finish()] == [1, 2, 3]


def test_the_shared_server_and_its_embedded_database_leave_after_the_last_session(tmp_path: Path) -> None:
    """The README's Claude Desktop entry as it is: the `pgcode` command, `serve`, the embedded database."""
    data_dir = tmp_path / "data"
    pgcode = str(Path(sys.executable).parent / "pgcode")

    async def main() -> None:
        params = StdioServerParameters(
            command=pgcode,
            args=["serve"],
            env={
                "PGCODE_LOG_LEVEL": "warning",
                "PGCODE_DATA_DIR": str(data_dir),
                "PGCODE_SHARED_IDLE_SECONDS": str(IDLE_SECONDS),
            },
        )
        async with Client(params, read_timeout_seconds=120) as one:
            _text(await one.call_tool("list_repositories", {}))
            [server] = shared_servers(data_dir)
            async with Client(params, read_timeout_seconds=120) as two:
                _text(await two.call_tool("index_status", {}))
                assert [p.pid for p in shared_servers(data_dir)] == [server.pid]
            # One session left: the server stays (well past its idle period) for the one still open.
            with anyio.move_on_after(IDLE_SECONDS * 2):
                while server.is_running():
                    await anyio.sleep(0.1)
            assert server.is_running()
            _text(await one.call_tool("list_repositories", {}))

    anyio.run(main)
    wait_for_no_shared_server(data_dir, timeout=IDLE_SECONDS + 30)
    assert not list(data_dir.glob("run/*.sock"))
    wait_until(lambda: not _postgres_of(data_dir), "the embedded PostgreSQL stops with the shared server", 30)


def _postgres_of(data_dir: Path) -> list[psutil.Process]:
    pgdata = str((data_dir / "pgdata").resolve())
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and pgdata in (process.info["cmdline"] or []):
            found.append(process)
    return found


def test_a_shared_server_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--database-url", "postgresql://pgcode@127.0.0.1:1/none", "serve"],
        stdin=subprocess.PIPE,
        capture_output=True,
        env=stdio_env(tmp_path / "data"),
        timeout=120,
    )
    assert process.returncode == 2
    stderr = process.stderr.decode()
    assert stderr.startswith("error: cannot use the database at postgresql://pgcode@127.0.0.1:1/none"), stderr
    assert process.stdout == b""
    # The shared server that could not start says where its whole log is.
    [log] = (tmp_path / "data" / "run").glob("*.log")
    assert f"(its log: {log})" in stderr and "cannot use the database" in log.read_text()
    wait_for_no_shared_server(tmp_path / "data")


def test_sessions_with_other_settings_get_a_server_of_their_own(tmp_path: Path) -> None:
    base = Settings.load({"data_dir": tmp_path / "data"}, env={})
    other = Settings.load({"data_dir": tmp_path / "data", "read_only": True}, env={})
    # The settings reach the shared server whole, through its environment.
    assert Settings.load(env=settings_env(other)) == other
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCODE_")}
    assert place_for(base, watch=True, env=env) == place_for(base, watch=True, env=env)
    assert place_for(base, watch=True, env=env) != place_for(other, watch=True, env=env)
    assert place_for(base, watch=True, env=env) != place_for(base, watch=False, env=env)
