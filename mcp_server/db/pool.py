"""Open the index database: resolve the URL (or start the embedded server), migrate or check, pool."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import asyncpg
import structlog
from pgvector.asyncpg import register_vector

from ..config import Settings, redact_url
from ..errors import ConfigError, DatabaseUnavailable
from .embedded import EmbeddedPostgres
from .migrate import applied_versions, migrate, migrations, pending

log = structlog.get_logger(__name__)

_CLOSE_SECONDS = 10.0  # a pool that cannot close politely by then is terminated

PGBOUNCER_NEEDS_READ_ONLY = (
    "pgbouncer = true (transaction pooling) cannot carry what writing needs: migrations and each "
    "repository's indexing lease are session-level advisory locks. Connect `pgcode worker`, "
    "`pgcode index` and writable servers directly to PostgreSQL; use PgBouncer for `pgcode serve --read-only`"
)


class _OneLineFloorRetries(logging.Filter):
    """asyncpg's pool reconnects its minimum size in the background after the server went away, with
    its own backoff, and logs each failed try with a traceback: a restart of PostgreSQL should read
    as a few lines naming the error, not pages of stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and str(record.msg).startswith("Failed to restore the pool connection floor"):
            exc = record.exc_info[1]
            record.msg = f"{record.msg} ({type(exc).__name__}: {exc})"
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OneLineFloorRetries())


@dataclass(slots=True)
class Database:
    pool: asyncpg.Pool
    dsn: str
    embedded: bool
    read_only: bool = False
    pgbouncer: bool = False


async def _init_connection(conn: asyncpg.Connection) -> None:
    await register_vector(conn)


def connect_kwargs(settings: Settings, *, read_only: bool) -> dict[str, Any]:
    """asyncpg connection options for these settings (shared by the pool and one-off connections)."""
    if settings.pgbouncer:
        # Transaction pooling hands each transaction to any server connection: a named prepared
        # statement made on one is unknown on the next (PgBouncer < 1.21 cannot track them), and
        # startup parameters other than a few are refused ("unsupported startup parameter").
        # The server-side statement_timeout comes from the role (ALTER ROLE ... SET, see
        # schema/roles.sql); the client-side timeout below cancels a query that outlives it anyway.
        timeout = settings.statement_timeout_ms / 1000 + 1 if settings.statement_timeout_ms else None
        return {
            "statement_cache_size": 0,
            "command_timeout": timeout,
            "server_settings": {"application_name": "pgcode"},
        }
    server_settings = {
        "statement_timeout": str(settings.statement_timeout_ms),
        "application_name": "pgcode",
    }
    # Read-only transactions come from the role (pgcode_reader, schema/roles.sql), not from here: a
    # PgBouncer >= 1.21 in front of a reader may be set to ignore statement_timeout, but it refuses
    # any startup parameter it was not told about.
    if not read_only:
        # The index is derived data: a crash of the database may drop the last few commits,
        # which the next pass re-reads (stat and hash mismatch), but never half a file. Waiting
        # for a WAL flush per file halved indexing speed.
        server_settings["synchronous_commit"] = "off"
    return {"server_settings": server_settings}


@asynccontextmanager
async def open_database(
    settings: Settings, *, min_size: int = 1, read_only: bool | None = None
) -> AsyncIterator[Database]:
    """The database with a connection pool: migrated, or (read-only) checked to be current.
    An embedded server started here is stopped on exit."""
    read_only = settings.read_only if read_only is None else read_only
    if settings.pgbouncer and not read_only:
        raise ConfigError(PGBOUNCER_NEEDS_READ_ONLY)
    server: EmbeddedPostgres | None = None
    dsn = settings.database_url
    kwargs = connect_kwargs(settings, read_only=read_only)
    try:
        if not dsn:
            # Inside the try: a stop signal that arrives while the server starts must stop it too.
            server = EmbeddedPostgres(settings.data_dir)
            dsn = await anyio.to_thread.run_sync(server.start)
        try:
            if read_only:
                await check_schema(dsn, settings)
            else:
                await migrate(dsn)
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max(min_size, settings.pool_max_size), init=_init_connection, **kwargs
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(f"cannot use the database at {redact_url(dsn)}: {exc}") from exc
        try:
            yield Database(
                pool=pool, dsn=dsn, embedded=server is not None, read_only=read_only, pgbouncer=settings.pgbouncer
            )
        finally:
            # Shielded: a cancelled caller must still hand its connections back (and, below, stop
            # the embedded server), or the database keeps serving a dead process's sessions.
            closed = False
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(_CLOSE_SECONDS):
                    await pool.close()
                    closed = True
                if not closed:
                    pool.terminate()
    finally:
        if server is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(server.stop)


@asynccontextmanager
async def database_url(settings: Settings) -> AsyncIterator[str]:
    """The URL to connect to, without migrating: the configured one, or the embedded server's
    (started here and stopped on exit). For administrator commands that open their own connections."""
    if settings.database_url:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir)
    try:
        yield await anyio.to_thread.run_sync(server.start)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(server.stop)


async def check_schema(dsn: str, settings: Settings) -> None:
    """Refuse a database whose schema is older than this pgcode (a read-only process never migrates)."""
    conn = await asyncpg.connect(dsn, **connect_kwargs(settings, read_only=True))
    try:
        waiting = await pending(conn)
        newer = await applied_versions(conn) - {m.version for m in migrations()}
    finally:
        await conn.close()
    if waiting:
        names = ", ".join(m.name for m in waiting)
        raise DatabaseUnavailable(
            f"the database at {redact_url(dsn)} is not migrated to this pgcode's schema "
            f"({len(waiting)} migration(s) pending: {names}); a read-only server never migrates: run "
            "`pgcode worker` or `pgcode db migrate` against the primary (as pgcode_writer) first"
        )
    if newer:
        log.warning("schema_newer_than_code", versions=sorted(newer))
