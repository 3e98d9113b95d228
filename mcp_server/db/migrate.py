"""Apply the numbered SQL migrations in schema/ in order, once, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Any constant works; it only has to be the same in every pgcode process.
_LOCK_KEY = 0x70676364  # "pgcd"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def transactional(self) -> bool:
        # CREATE INDEX CONCURRENTLY and friends cannot run inside a transaction.
        return not self.sql.lstrip().startswith("-- no-transaction")


def migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("mcp_server").joinpath("schema").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def applied_versions(conn: asyncpg.Connection) -> set[int]:
    exists = await conn.fetchval("SELECT to_regclass('pgcode_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row["version"] for row in await conn.fetch("SELECT version FROM pgcode_migrations")}


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    done = await applied_versions(conn)
    return [m for m in migrations() if m.version not in done]


async def migrate(dsn: str) -> list[str]:
    """Bring the database up to date; return the names of the migrations applied now."""
    conn = await asyncpg.connect(dsn)
    applied: list[str] = []
    try:
        # Serialises concurrent start-ups: the second process waits, then finds nothing to do.
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS pgcode_migrations ("
                " version integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            for migration in await pending(conn):
                if migration.transactional:
                    async with conn.transaction():
                        await conn.execute(migration.sql)
                        await _record(conn, migration)
                else:
                    await conn.execute(migration.sql)
                    await _record(conn, migration)
                applied.append(migration.name)
                log.info("migration_applied", name=migration.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()
    return applied


async def _record(conn: asyncpg.Connection, migration: Migration) -> None:
    await conn.execute(
        "INSERT INTO pgcode_migrations (version, name) VALUES ($1, $2)", migration.version, migration.name
    )
