"""Memory and database connections of N concurrent stdio sessions: each with a server of its own, or all relaying to the shared one.

    python bench/sessions.py                                  # 1, 5 and 20 sessions, both ways
    python bench/sessions.py --counts 1,5 --modes shared

Each session is the SDK's stdio client of `pgcode serve`, as a desktop client runs it, on the
benchmarks' own embedded PostgreSQL: it lists the tools and runs a hybrid search (which needs the
model), then every session stays open while the resident memory of all pgcode processes (psutil:
relays, servers and their workers; PostgreSQL apart) and pgcode's connections (pg_stat_activity)
are read. `own` is `shared_server = false`: each session's `pgcode serve` holds its own pool and
model, as every stdio session did before the shared server. Prints a table and writes JSON under
bench/results/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import psutil
from _common import load, machine, table, write_result
from corpora import BENCH
from mcp import Client, StdioServerParameters

from mcp_server.db.embedded import EmbeddedPostgres

MODES = {"own": "false", "shared": "true"}
SESSION_SECONDS = 300  # for one session to start, list, search (a cold model included)
IDLE_SECONDS = 2  # the shared server's idle period here: runs follow each other quickly
INDEXED = Path(__file__).resolve().parent.parent / "mcp_server" / "server"  # something to search


def _env(data_dir: Path, mode: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("PGCODE_")}
    return {
        **keep,
        "PGCODE_DATA_DIR": str(data_dir),
        "PGCODE_SHARED_SERVER": MODES[mode],
        "PGCODE_SHARED_IDLE_SECONDS": str(IDLE_SECONDS),
        "PGCODE_LOG_LEVEL": "error",
    }


def _pgcode_processes(data_dir: Path) -> list[psutil.Process]:
    """Every pgcode process on `data_dir` and its descendants, PostgreSQL's excepted."""
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "mcp_server" in " ".join(process.info["cmdline"] or []) and process.environ().get(
                "PGCODE_DATA_DIR"
            ) == str(data_dir):
                found[process.pid] = process
                for child in process.children(recursive=True):
                    if child.name() != "postgres":
                        found[child.pid] = child
        except psutil.Error:
            pass
    return list(found.values())


def _rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass
    return round(total / 1e6, 1)


async def _connections(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) FILTER (WHERE application_name = 'pgcode') AS pgcode, "
            "count(*) FILTER (WHERE backend_type = 'client backend') AS clients FROM pg_stat_activity"
        )
        limit = int(await conn.fetchval("SHOW max_connections"))
    finally:
        await conn.close()
    return {"pgcode": int(row["pgcode"]), "clients": int(row["clients"]), "max_connections": limit}


async def _run(data_dir: Path, dsn: str, mode: str, count: int) -> dict[str, Any]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server", "serve"], env=_env(data_dir, mode))
    arrived = 0
    all_in, measured = anyio.Event(), anyio.Event()
    failures: list[str] = []
    figures: dict[str, Any] = {}
    started = time.monotonic()

    def arrive() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            all_in.set()

    async def session() -> None:
        try:
            with anyio.fail_after(SESSION_SECONDS):
                async with Client(params, read_timeout_seconds=SESSION_SECONDS) as client:
                    await client.list_tools()
                    result = await client.call_tool("search_code", {"query": "relay JSON-RPC lines", "limit": 3})
                    if result.is_error:
                        raise RuntimeError(result.content[0].text if result.content else "tool error")
                    arrive()
                    await measured.wait()
        except Exception as exc:  # a session that dies is a figure too ("Connection closed")
            failures.append(f"{type(exc).__name__}: {exc}"[:300])
            arrive()

    async with anyio.create_task_group() as tg:
        for _ in range(count):
            tg.start_soon(session)
        await all_in.wait()
        processes = _pgcode_processes(data_dir)
        figures = {
            "ready_seconds": round(time.monotonic() - started, 1),
            "processes": len(processes),
            "rss_mb": _rss_mb(processes),
            **await _connections(dsn),
        }
        measured.set()
    _wait_for_exit(data_dir)
    return {
        "mode": mode,
        "sessions": count,
        "ok": count - len(failures),
        "failed": len(failures),
        "failures": sorted(set(failures)),
        **figures,
    }


def _wait_for_exit(data_dir: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _pgcode_processes(data_dir):
        if time.monotonic() > deadline:
            raise SystemExit(f"pgcode processes on {data_dir} still running {timeout:g} s after their sessions")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,5,20", help="concurrent sessions per run, comma-separated")
    parser.add_argument("--modes", default="own,shared", help="own, shared or both")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=BENCH / ".data" / "sessions",
        help="the embedded PostgreSQL of this bench (its own: runs start and stop servers on it)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    modes = [m for m in args.modes.split(",") if m in MODES]
    data_dir = args.data_dir.expanduser().resolve()
    # The bench holds the embedded server for its whole run: sessions join it, none stops it.
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    try:
        env = _env(data_dir, "own")
        subprocess.run(
            [sys.executable, "-m", "mcp_server", "index", str(INDEXED), "--name", "bench-sessions"],
            env=env,
            check=True,
            capture_output=True,
            timeout=600,
        )
        before = load()
        runs = [anyio.run(_run, data_dir, dsn, mode, count) for mode in modes for count in counts]
    finally:
        server.stop()
    print(
        table(
            ["mode", "sessions", "ok", "failed", "processes", "rss_mb", "pgcode conns", "ready s"],
            [
                [
                    r["mode"],
                    r["sessions"],
                    r["ok"],
                    r["failed"],
                    r.get("processes"),
                    r.get("rss_mb"),
                    r.get("pgcode"),
                    r.get("ready_seconds"),
                ]
                for r in runs
            ],
            title="concurrent stdio sessions: memory of all pgcode processes, database connections",
        )
    )
    for r in runs:
        for failure in r["failures"]:
            print(f"  {r['mode']} x{r['sessions']}: {failure}")
    path = write_result(
        "sessions",
        {
            "machine": machine(),
            "load_before": before,
            "load_after": load(),
            "runs": runs,
            "max_connections": runs[0].get("max_connections") if runs else None,
        },
    )
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
