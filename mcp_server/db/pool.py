"""Open the index database: resolve the URL (or start the embedded server), migrate, pool."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import asyncpg
import structlog
from pgvector.asyncpg import register_vector

from ..config import Settings
from ..errors import DatabaseUnavailable
from .embedded import EmbeddedPostgres
from .migrate import migrate

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class Database:
    pool: asyncpg.Pool
    dsn: str
    embedded: bool


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


@asynccontextmanager
async def open_database(settings: Settings, *, min_size: int = 1) -> AsyncIterator[Database]:
    """The migrated database with a connection pool; an embedded server is stopped on exit."""
    server: EmbeddedPostgres | None = None
    dsn = settings.database_url
    if not dsn:
        server = EmbeddedPostgres(settings.data_dir)
        dsn = await anyio.to_thread.run_sync(server.start)
    try:
        try:
            await migrate(dsn)
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max(min_size, settings.pool_max_size),
                init=_init_connection,
                server_settings={
                    "statement_timeout": str(settings.statement_timeout_ms),
                    "application_name": "pgcode",
                    # The index is derived data: a crash of the database may drop the last
                    # few commits, which the next pass re-reads (stat and hash mismatch), but
                    # never half a file. Waiting for a WAL flush per file halved indexing speed.
                    "synchronous_commit": "off",
                },
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"cannot use the database at {_redact(dsn)}: {exc}") from exc
        try:
            yield Database(pool=pool, dsn=dsn, embedded=server is not None)
        finally:
            await pool.close()
    finally:
        if server is not None:
            await anyio.to_thread.run_sync(server.stop)


def _redact(dsn: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in dsn or "://" not in dsn:
        return dsn
    scheme, rest = dsn.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else dsn
