"""A broken postmaster.pid (power loss, a full disk) never wedges the embedded server: pgcode recovers
when its server is gone, and names the file and the process when a live server still holds it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anyio
import asyncpg
import psutil

from mcp_server.db.embedded import EmbeddedPostgres
from tests._consistency import postgres_processes

# What a crash can leave of the file, each of which PostgreSQL refuses to start on by itself
# ("lock file is empty", "bogus data in lock file") or the package cannot read.
BROKEN = {
    "empty": lambda whole: b"",
    "cut short": lambda whole: b"\n".join(whole.split(b"\n")[:2]),
    "zeroed by power loss": lambda whole: b"\x00" * len(whole),
    "garbled": lambda whole: b"\xff\xfe\x00garbage",
}


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    return alive


async def _note(dsn: str, text: str | None = None) -> str:
    """Write a note (when given) and read every note back: the data survived the recovery."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS notes (text text)")
        if text is not None:
            await conn.execute("INSERT INTO notes VALUES ($1)", text)
        return ",".join(r[0] for r in await conn.fetch("SELECT text FROM notes ORDER BY text"))
    finally:
        await conn.close()


async def test_a_broken_pid_file_left_by_a_stopped_server_does_not_stop_the_next_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "stopped"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    server = EmbeddedPostgres(data_dir)
    dsn = await anyio.to_thread.run_sync(server.start)
    whole = pid_file.read_bytes()
    await _note(dsn, "before")
    await anyio.to_thread.run_sync(server.stop)
    try:
        for what, damage in BROKEN.items():
            assert not postgres_processes(data_dir), "the server should be stopped before its file is damaged"
            pid_file.write_bytes(damage(whole))
            server = EmbeddedPostgres(data_dir)
            dsn = await anyio.to_thread.run_sync(server.start)
            try:
                assert await _note(dsn) == "before", what
                assert pid_file.read_bytes() != damage(whole), f"{what}: the new server writes its own file"
            finally:
                await anyio.to_thread.run_sync(server.stop)
            assert _wait_gone(postgres_processes(data_dir), 10) == []
    finally:
        for p in postgres_processes(data_dir):
            p.kill()


async def test_a_killed_server_with_a_cut_short_pid_file_is_recovered_with_its_committed_rows(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "killed"
    pgdata = data_dir / "pgdata"
    # A handle whose supervisor does not look in time: the kill below stays a dead server.
    server = EmbeddedPostgres(data_dir, check_seconds=3600)
    dsn = await anyio.to_thread.run_sync(server.start)
    try:
        await _note(dsn, "committed")
        session = await asyncpg.connect(dsn)  # a backend of the old server, left to notice the death
        postmaster = postgres_processes(data_dir)
        assert len(postmaster) == 1
        old_group = os.getpgid(postmaster[0].pid)
        os.kill(postmaster[0].pid, signal.SIGKILL)
        assert _wait_gone(postmaster, 10) == []
        (pgdata / "postmaster.pid").write_bytes(b"")  # the disk filled as it was being rewritten
        await anyio.to_thread.run_sync(server.stop)  # releases the handle; nothing left to stop

        fresh = EmbeddedPostgres(data_dir)
        dsn = await anyio.to_thread.run_sync(fresh.start)
        try:
            assert await _note(dsn) == "committed"  # crash recovery replayed the WAL
            leftovers = []
            for p in psutil.process_iter(["name"]):
                try:
                    if p.info["name"] == "postgres" and os.getpgid(p.pid) == old_group:
                        leftovers.append(p.pid)
                except (psutil.Error, OSError):
                    pass
            assert leftovers == [], "a process of the dead server outlived the start of the new one"
        finally:
            session.terminate()
            await anyio.to_thread.run_sync(fresh.stop)
        assert _wait_gone(postgres_processes(data_dir), 10) == []
    finally:
        for p in postgres_processes(data_dir):
            p.kill()


def test_a_live_servers_broken_pid_file_is_never_deleted_and_the_message_says_what_to_do(tmp_path: Path) -> None:
    data_dir = tmp_path / "live"
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    try:
        whole = pid_file.read_bytes()
        pid = int(whole.split()[0])
        cut = whole.split(b"\n")[0] + b"\n"
        pid_file.write_bytes(cut)  # the running server could not rewrite it whole: the disk is full

        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "mcp_server", "--data-dir", str(data_dir), "status"],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PGCODE_DATABASE_URL": ""},
        )
        assert second.returncode == 2, second.stderr
        assert "Traceback" not in second.stderr
        assert str(pid_file) in second.stderr and f"kill -INT {pid}" in second.stderr, second.stderr
        assert time.monotonic() - started < 60

        assert pid_file.read_bytes() == cut, "the live server's lock file was touched"
        assert psutil.Process(pid).is_running()

        async def answers() -> int:
            conn = await asyncpg.connect(dsn)
            try:
                return int(await conn.fetchval("SELECT 1"))
            finally:
                await conn.close()

        assert anyio.run(answers) == 1
        pid_file.write_bytes(whole)
    finally:
        server.stop()
        for p in postgres_processes(data_dir):
            p.kill()


def test_a_zombie_holds_no_handle_on_the_embedded_server() -> None:
    # A shared server killed but not yet collected by its parent is a zombie: counting it as a live
    # holder kept the embedded PostgreSQL up after the last real holder left.
    from mcp_server.db.embedded import _running

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 20
    while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the child never exited"
        time.sleep(0.05)
    try:
        assert psutil.pid_exists(child.pid) and not _running(child.pid)
        assert _running(os.getpid())
    finally:
        child.wait()
    assert not _running(child.pid)
