"""Migrations: applied once, recorded, idempotent and safe when several processes start together."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg

from mcp_server.db.migrate import migrate, migrations


async def test_migrations_are_recorded_and_a_second_run_applies_nothing(pg_dsn: str) -> None:
    await migrate(pg_dsn)
    assert await migrate(pg_dsn) == []
    conn = await asyncpg.connect(pg_dsn)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM pgcode_migrations ORDER BY 1")]
        extensions = {r["extname"] for r in await conn.fetch("SELECT extname FROM pg_extension")}
    finally:
        await conn.close()
    assert versions == [m.version for m in migrations()]
    assert {"vector", "pg_trgm"} <= extensions


async def test_concurrent_start_ups_on_a_fresh_database_apply_each_migration_once(pg_dsn: str) -> None:
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute("DROP DATABASE IF EXISTS pgcode_concurrent_migrate")
        await admin.execute("CREATE DATABASE pgcode_concurrent_migrate")
    finally:
        await admin.close()
    parts = urlsplit(pg_dsn)
    fresh = urlunsplit(parts._replace(path="/pgcode_concurrent_migrate"))
    results: list[list[str]] = []

    async def run() -> None:
        results.append(await migrate(fresh))

    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(run)
    applied = sorted(name for names in results for name in names)
    assert applied == [m.name for m in migrations()]


def test_every_migration_ships_with_the_package() -> None:
    names = [m.name for m in migrations()]
    assert names and names[0].startswith("0001_")
    assert len({m.version for m in migrations()}) == len(names)
