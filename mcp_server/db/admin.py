"""Administrator tasks run by hand, never at start-up: database roles, hash partitioning by repository."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import asyncpg
import structlog

from ..config import redact_url
from ..errors import ConfigError, DatabaseUnavailable
from .locks import REPOSITORY_LEASE
from .migrate import pending

log = structlog.get_logger(__name__)

PARTITIONED_TABLES = ("symbols", "edges", "chunks")
MAX_PARTITIONS = 1024


def schema_file(name: str) -> str:
    return resources.files("mcp_server").joinpath("schema", name).read_text(encoding="utf-8")


async def _connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database at {redact_url(dsn)}: {exc}") from None


@dataclass(frozen=True, slots=True)
class PartitionReport:
    partitions: int
    rows: dict[str, int]  # table -> rows moved


async def partitions_of(conn: asyncpg.Connection) -> dict[str, int]:
    """table -> number of hash partitions (0: a plain table)."""
    rows = await conn.fetch(
        """SELECT c.relname, c.relkind::text AS relkind, (SELECT count(*) FROM pg_inherits i WHERE i.inhparent = c.oid) AS parts
           FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY($1::text[])""",
        list(PARTITIONED_TABLES),
    )
    return {r["relname"]: int(r["parts"]) if r["relkind"] == "p" else 0 for r in rows}


async def partition_by_repository(dsn: str, partitions: int) -> PartitionReport:
    """Convert symbols, edges and chunks to PARTITION BY HASH (repository_id), in one transaction
    (all or nothing), keeping every row, index and foreign key. The database must be migrated and
    nothing may be indexing it (its tables are locked exclusively while their rows move)."""
    if not 1 <= partitions <= MAX_PARTITIONS:
        raise ConfigError(f"--partitions must be between 1 and {MAX_PARTITIONS}, got {partitions}")
    conn = await _connect(dsn)
    try:
        if await pending(conn):
            raise DatabaseUnavailable("the database is not migrated: run `pgcode db migrate` first")
        current = await partitions_of(conn)
        if any(current.values()):
            raise ConfigError(
                "the tables are partitioned already: " + ", ".join(f"{t} into {n}" for t, n in sorted(current.items()))
            )
        busy = await conn.fetchval(
            # Advisory locks are per database, but pg_locks lists the whole cluster's.
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = $1::int::oid"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            REPOSITORY_LEASE,
        )
        if busy:
            raise ConfigError(
                f"{busy} repository lease(s) are held: a pgcode worker or writable server is indexing this "
                "database; stop it (and every writer) while partitioning, then start it again"
            )
        async with conn.transaction():
            # Fail fast rather than queue behind a long reader while holding other locks.
            await conn.execute("SET LOCAL lock_timeout = '10s'")
            await conn.execute(schema_file("partition_by_repository.sql"))
            await conn.fetchval("SELECT pg_temp.pgcode_partition_by_repository($1)", partitions)
            rows = {t: int(await conn.fetchval(f"SELECT count(*) FROM public.{t}")) for t in PARTITIONED_TABLES}
        for table in PARTITIONED_TABLES:
            await conn.execute(f"ANALYZE public.{table}")  # a partitioned parent has no statistics until then
    except asyncpg.LockNotAvailableError:
        raise DatabaseUnavailable(
            "could not lock the tables within 10 s: stop every pgcode process using this database and retry"
        ) from None
    except asyncpg.PostgresError as exc:
        raise DatabaseUnavailable(f"partitioning failed and was rolled back: {exc}") from None
    finally:
        await conn.close()
    log.info("partitioned", partitions=partitions, rows=rows)
    return PartitionReport(partitions, rows)


async def apply_roles(dsn: str, *, writer_password: str | None = None, reader_password: str | None = None) -> None:
    """Run schema/roles.sql (as a superuser), then set the roles' passwords if given."""
    conn = await _connect(dsn)
    try:
        if not await conn.fetchval("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"):
            raise ConfigError("creating roles needs a superuser (or CREATEROLE) connection: use the admin URL")
        async with conn.transaction():
            await conn.execute(schema_file("roles.sql"))
            for role, password in (("pgcode_writer", writer_password), ("pgcode_reader", reader_password)):
                if password:
                    # ALTER ROLE takes no bind parameters: role and password travel as parameters
                    # into transaction-local settings, and format(%I, %L) quotes them on the server.
                    await conn.execute(
                        "SELECT set_config('pgcode.role', $1, true), set_config('pgcode.password', $2, true)",
                        role,
                        password,
                    )
                    await conn.execute(
                        "DO $$ BEGIN EXECUTE format('ALTER ROLE %I PASSWORD %L', "
                        "current_setting('pgcode.role'), current_setting('pgcode.password')); END $$"
                    )
            await conn.execute("SELECT set_config('pgcode.password', '', true)")
    except asyncpg.PostgresError as exc:
        raise DatabaseUnavailable(f"roles.sql failed and was rolled back: {exc}") from None
    finally:
        await conn.close()
