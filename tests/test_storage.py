"""Storage gives space back: the embedded server's WAL stays small."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import asyncpg

from mcp_server.db.embedded import EmbeddedPostgres
from tests._consistency import postgres_processes

BOUNDED_WAL = {"max_wal_size": "256MB", "min_wal_size": "32MB", "wal_keep_size": "0"}


async def _wal_settings(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {name: await conn.fetchval(f"SHOW {name}") for name in BOUNDED_WAL}
    finally:
        await conn.close()


async def test_the_embedded_server_keeps_its_wal_bounded_and_an_alter_system_still_wins(tmp_path: Path) -> None:
    data_dir = tmp_path / "wal"
    server = EmbeddedPostgres(data_dir)
    try:
        dsn = await anyio.to_thread.run_sync(server.start)
        # A new data dir starts with PostgreSQL's defaults and reads pgcode's on the reload that follows.
        deadline = time.monotonic() + 10
        while (seen := await _wal_settings(dsn)) != BOUNDED_WAL and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert seen == BOUNDED_WAL
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ALTER SYSTEM SET max_wal_size = '128MB'")
        finally:
            await conn.close()
        await anyio.to_thread.run_sync(server.stop)

        server = EmbeddedPostgres(data_dir)
        dsn = await anyio.to_thread.run_sync(server.start)  # an existing data dir: read at start, no wait
        assert await _wal_settings(dsn) == {**BOUNDED_WAL, "max_wal_size": "128MB"}
    finally:
        await anyio.to_thread.run_sync(server.stop)
        for p in postgres_processes(data_dir):
            p.kill()
