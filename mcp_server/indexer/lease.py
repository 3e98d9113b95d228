"""One writer per repository across processes: advisory-lock leases on a dedicated connection, re-entrant in-process, handed over on request."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import anyio
import asyncpg
import structlog

from ..db.locks import REPOSITORY_LEASE
from ..db.pool import Database
from ..db.refusals import write_refusal
from ..errors import ConfigError, IndexBusy, RepositoryNotFound

log = structlog.get_logger(__name__)

LOCK_CLASS = REPOSITORY_LEASE
_QUERY_TIMEOUT = 10.0  # seconds: a lease query on a healthy server takes milliseconds
# How long `pgcode index`/`remove` and remove_repository wait for another process to hand a lease
# over: a watcher lets go within a second; an index pass someone asked for runs to its end first.
HANDOVER_SECONDS = 60.0

# Errors that mean the dedicated connection is unusable (and its locks are therefore gone).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # a pooled connection cut mid-protocol surfaces as this
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)

# Sessions queued for a lease this process holds: a blocked pg_advisory_lock is how a writer asks
# for one (see LeaseManager.try_acquire's `wait`), and the queue is visible to the holder.
_WANTED = """
SELECT DISTINCT k.objid::bigint AS id FROM pg_locks k
WHERE k.locktype = 'advisory' AND NOT k.granted AND k.classid = $1::int::oid AND k.objsubid = 2
  AND k.objid::bigint = ANY($2::bigint[])
  AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

_OWNER = """
SELECT l.owner, l.acquired_at, l.heartbeat_at FROM index_leases l
WHERE l.repository_id = $1
  AND EXISTS (SELECT 1 FROM pg_locks k
              WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.backend_pid
                AND k.classid = $2::int::oid AND k.objid = $1::int::oid AND k.objsubid = 2)
"""


@dataclass(frozen=True, slots=True)
class LeaseOwner:
    owner: str  # hostname:pid of the process that indexes the repository
    acquired_at: datetime
    heartbeat_at: datetime


async def current_owner(conn: asyncpg.Connection, repository_id: int) -> LeaseOwner | None:
    """Who holds the repository's lease now; None if nobody does (a crashed owner's row is ignored:
    its lock died with its connection)."""
    row = await conn.fetchrow(_OWNER, repository_id, LOCK_CLASS)
    return None if row is None else LeaseOwner(row["owner"], row["acquired_at"], row["heartbeat_at"])


async def wanted(conn: asyncpg.Connection, repository_ids: list[int]) -> set[int]:
    """Which of these repositories another session is waiting to write."""
    if not repository_ids:
        return set()
    return {int(r["id"]) for r in await conn.fetch(_WANTED, LOCK_CLASS, repository_ids)}


def removed_meanwhile(name: str) -> RepositoryNotFound:
    return RepositoryNotFound(
        f"{name!r} was removed from the index while it was being indexed, and nothing of it is kept;"
        " index it again to bring it back"
    )


def process_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaseManager:
    """This process's leases on one database.

    A lease is a session-level advisory lock taken on one connection kept outside the pool: the
    lock lasts exactly as long as that connection, so if the process dies, the repository is free
    for the next process at once. Leases are counted: the watcher and an explicit index run in the
    same process share one lease, and `writer` keeps them from writing the same repository at once.

    A writer that must not simply be refused (`pgcode index` or `remove` while a server watches the
    repository) waits in the lock's queue; a watcher seeing it there hands the lease over and takes
    it back later. `on_wait` is told, in a sentence, whom it waits for.
    """

    def __init__(self, dsn: str, *, owner: str | None = None, on_wait: Callable[[str], None] | None = None) -> None:
        self.dsn = dsn
        self.owner = owner or process_owner()
        self.on_wait = on_wait
        self._conn: asyncpg.Connection | None = None
        self._conn_lock = anyio.Lock()
        self._counts: dict[int, int] = {}
        self._writers: dict[int, anyio.Lock] = {}
        self._holds: dict[int, set[anyio.CancelScope]] = {}

    @property
    def held(self) -> frozenset[int]:
        return frozenset(self._counts)

    def holds(self, repository_id: int) -> bool:
        return repository_id in self._counts

    def writer(self, repository_id: int) -> anyio.Lock:
        """The in-process lock serialising writes to one repository (watcher batches, full passes)."""
        lock = self._writers.get(repository_id)
        if lock is None:
            lock = self._writers[repository_id] = anyio.Lock()
        return lock

    async def try_acquire(self, repository_id: int, *, wait: float = 0.0) -> bool:
        """Take (or take once more) the repository's lease; False if another process holds it (for
        `wait` seconds, queued for it, so that a watching holder hands it over). Raises
        RepositoryNotFound if the repository was removed, a connection error if the database cannot
        be reached."""
        if await self._take(repository_id):
            return True
        if wait <= 0:
            return False
        deadline = anyio.current_time() + wait
        while (left := deadline - anyio.current_time()) > 0:
            # Queued on a connection of its own, so that this process's other leases are not held
            # up meanwhile; once the holder lets go, the lease is taken on the lease connection.
            # Another process may slip in between: then queue again.
            if not await self._queue_for(repository_id, left):
                return False
            if await self._take(repository_id):
                return True
        return False

    async def _queue_for(self, repository_id: int, seconds: float) -> bool:
        """Wait in the lock's queue until the holder lets go (True) or `seconds` pass (False)."""
        conn = await asyncpg.connect(
            self.dsn,
            timeout=_QUERY_TIMEOUT,
            server_settings={
                "application_name": f"pgcode-lease-wait {self.owner}",
                "lock_timeout": str(max(1, int(seconds * 1000))),
            },
        )
        try:
            await conn.execute(
                "SELECT pg_advisory_lock($1, $2)", LOCK_CLASS, repository_id, timeout=seconds + _QUERY_TIMEOUT
            )
            # Given back at once rather than with the session, whose end the server completes later.
            await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, repository_id, timeout=_QUERY_TIMEOUT)
            return True
        except asyncpg.LockNotAvailableError:
            return False
        finally:
            with anyio.CancelScope(shield=True):
                await _close_quietly(conn)

    async def _take(self, repository_id: int) -> bool:
        if repository_id in self._counts:
            self._counts[repository_id] += 1
            return True
        # Shielded: a cancellation between the lock and the bookkeeping would leak the lock.
        with anyio.CancelScope(shield=True):
            async with self._conn_lock:
                if repository_id in self._counts:  # taken by another task while we waited
                    self._counts[repository_id] += 1
                    return True
                conn = await self._connection()
                try:
                    got = await conn.fetchval(
                        "SELECT pg_try_advisory_lock($1, $2)", LOCK_CLASS, repository_id, timeout=_QUERY_TIMEOUT
                    )
                    if not got:
                        await self._close_if_idle()
                        return False
                    try:
                        await conn.execute(
                            "INSERT INTO index_leases (repository_id, owner, backend_pid)"
                            " VALUES ($1, $2, pg_backend_pid())"
                            " ON CONFLICT (repository_id) DO UPDATE SET owner = EXCLUDED.owner,"
                            " backend_pid = EXCLUDED.backend_pid, acquired_at = now(), heartbeat_at = now()",
                            repository_id,
                            self.owner,
                            timeout=_QUERY_TIMEOUT,
                        )
                    except asyncpg.ForeignKeyViolationError:
                        await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, repository_id)
                        await self._close_if_idle()
                        raise RepositoryNotFound(
                            f"repository {repository_id} was removed from the index; index it again to watch it"
                        ) from None
                    except asyncpg.PostgresError:
                        # A database refusing writes (read-only, disk full): no lease without its row,
                        # and no lock left behind that nobody counts.
                        await conn.execute("SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, repository_id)
                        await self._close_if_idle()
                        raise
                except CONNECTION_ERRORS:
                    self._drop_connection()
                    raise
        self._counts[repository_id] = 1
        log.info("lease_acquired", repository_id=repository_id, owner=self.owner)
        return True

    async def release(self, repository_id: int) -> None:
        """Give back one hold; the lease (lock and owner row) goes with the last."""
        count = self._counts.get(repository_id, 0)
        if count > 1:
            self._counts[repository_id] = count - 1
            return
        if count == 0:
            return
        del self._counts[repository_id]
        with anyio.CancelScope(shield=True):
            async with self._conn_lock:
                conn = self._conn
                if conn is None or conn.is_closed():
                    return
                try:
                    await conn.execute(
                        "DELETE FROM index_leases WHERE repository_id = $1 AND backend_pid = pg_backend_pid()",
                        repository_id,
                        timeout=_QUERY_TIMEOUT,
                    )
                    await conn.execute(
                        "SELECT pg_advisory_unlock($1, $2)", LOCK_CLASS, repository_id, timeout=_QUERY_TIMEOUT
                    )
                    await self._close_if_idle()
                except CONNECTION_ERRORS as exc:
                    log.warning("lease_release_failed", repository_id=repository_id, error=str(exc))
                    self._drop_connection()
        log.info("lease_released", repository_id=repository_id)

    @asynccontextmanager
    async def hold(self, repository_id: int, name: str, *, wait: float = 0.0) -> AsyncIterator[None]:
        """Own the repository for one write: its lease (shared with this process's other holders)
        and its in-process writer lock. Raises IndexBusy if another process owns it (for `wait`
        seconds), RepositoryNotFound if `interrupt` stopped the write."""
        if not await self.try_acquire(repository_id):
            if wait <= 0:
                raise IndexBusy(await self.busy_message(repository_id, name))
            if self.on_wait is not None:
                self.on_wait(await self._waiting_notice(repository_id, name, wait))
            if not await self.try_acquire(repository_id, wait=wait):
                raise IndexBusy(await self.busy_message(repository_id, name, waited=wait))
        scope = anyio.CancelScope()
        holds = self._holds.setdefault(repository_id, set())
        holds.add(scope)
        try:
            with scope:
                async with self.writer(repository_id):
                    yield
        finally:
            holds.discard(scope)
            if not holds and self._holds.get(repository_id) is holds:
                del self._holds[repository_id]
            await self.release(repository_id)
        if scope.cancelled_caught:
            raise removed_meanwhile(name)

    def interrupt(self, repository_id: int) -> None:
        """Stop this process's writes to the repository, which is about to be removed: each `hold`
        ends at its next await and raises RepositoryNotFound."""
        for scope in self._holds.get(repository_id, ()):
            scope.cancel()

    async def busy_message(self, repository_id: int, name: str, *, waited: float = 0.0) -> str:
        who, since = await self._owner_words(repository_id)
        if waited:
            return (
                f"{who} has owned the index of {name!r}{since} and did not hand it over within {waited:g} s:"
                " it is running an index pass it was asked for (a watcher would have let go at once); try"
                " again when that pass has finished, or stop that process"
            )
        return (
            f"{who} owns the index of {name!r}{since} and keeps it up to date as files change, so there"
            " is nothing to do here; to index it from this process instead, stop that one first"
        )

    async def _waiting_notice(self, repository_id: int, name: str, wait: float) -> str:
        who, since = await self._owner_words(repository_id)
        return (
            f"{who} owns the index of {name!r}{since}; waiting up to {wait:g} s for it to hand it over"
            " (a server watching it does so within seconds, and takes it back, re-reading only what"
            " changed, once this is done)"
        )

    async def _owner_words(self, repository_id: int) -> tuple[str, str]:
        try:
            conn = await asyncpg.connect(self.dsn, timeout=_QUERY_TIMEOUT)
            try:
                owner = await current_owner(conn, repository_id)
            finally:
                await conn.close()
        except (*CONNECTION_ERRORS, asyncpg.PostgresError):
            owner = None
        if owner is None:
            return "another pgcode process", ""
        return f"the pgcode process {owner.owner}", f" since {owner.acquired_at:%Y-%m-%d %H:%M:%S %Z}"

    async def heartbeat(self) -> set[int]:
        """Confirm the leases still stand and stamp them; returns the repositories whose lease was lost
        (the connection broke, so its locks are gone and another process may own them now)."""
        if not self._counts:
            return set()
        ids = sorted(self._counts)
        try:
            with anyio.CancelScope(shield=True):
                async with self._conn_lock:
                    conn = self._conn
                    if conn is None or conn.is_closed():
                        still: set[int] = set()
                    else:
                        rows = await conn.fetch(
                            "SELECT objid::bigint AS id FROM pg_locks WHERE locktype = 'advisory' AND granted"
                            " AND pid = pg_backend_pid() AND classid = $1::int::oid AND objsubid = 2",
                            LOCK_CLASS,
                            timeout=_QUERY_TIMEOUT,
                        )
                        still = {int(r["id"]) for r in rows}
                        try:
                            await conn.execute(
                                "UPDATE index_leases SET heartbeat_at = now()"
                                " WHERE repository_id = ANY($1::int[]) AND backend_pid = pg_backend_pid()",
                                sorted(still),
                                timeout=_QUERY_TIMEOUT,
                            )
                        except asyncpg.PostgresError as exc:
                            # The locks stand whether or not the stamp can be written.
                            if write_refusal(exc) is None:
                                raise
        except CONNECTION_ERRORS as exc:
            log.warning("lease_connection_lost", error=str(exc))
            self._drop_connection()
            still = set()
        lost = set(ids) - still
        for repository_id in lost:
            self._counts.pop(repository_id, None)
        if lost:
            log.warning("leases_lost", repositories=sorted(lost))
        return lost

    async def aclose(self) -> None:
        """Release every lease this process holds and close the dedicated connection."""
        self._counts.clear()
        with anyio.CancelScope(shield=True):
            async with self._conn_lock:
                conn, self._conn = self._conn, None
                if conn is not None and not conn.is_closed():
                    try:
                        # Closing the session drops its advisory locks; the rows go first so that
                        # readers never see an owner that has left.
                        await conn.execute(
                            "DELETE FROM index_leases WHERE backend_pid = pg_backend_pid()", timeout=_QUERY_TIMEOUT
                        )
                        await conn.close(timeout=_QUERY_TIMEOUT)
                    except (*CONNECTION_ERRORS, asyncpg.PostgresError):
                        conn.terminate()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        self._conn = await asyncpg.connect(
            self.dsn, timeout=_QUERY_TIMEOUT, server_settings={"application_name": f"pgcode-lease {self.owner}"}
        )
        self._conn.add_termination_listener(self._on_terminated)
        return self._conn

    def _on_terminated(self, conn: asyncpg.Connection) -> None:
        # The server went away (a restart, a terminated backend): every lock died with the session, so
        # the leases are forgotten now rather than at the next heartbeat, and the next `hold` takes
        # a fresh lock instead of writing under one that no longer exists.
        if conn is self._conn:
            self._conn = None
            if self._counts:
                log.warning("leases_lost", repositories=sorted(self._counts), reason="the lease connection closed")
            self._counts.clear()

    async def _close_if_idle(self) -> None:
        # No lease held: a connection kept open for nothing would count against max_connections.
        if not self._counts and self._conn is not None:
            conn, self._conn = self._conn, None
            await _close_quietly(conn)

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()
        # Every lock lived on that connection.
        self._counts.clear()


async def _close_quietly(conn: asyncpg.Connection) -> None:
    try:
        await conn.close(timeout=_QUERY_TIMEOUT)
    except (*CONNECTION_ERRORS, asyncpg.PostgresError):
        conn.terminate()


# One manager per open Database, so that the watcher and index runs of one process share leases.
# Keyed by the pool's id; the entry keeps the pool alive, so the id cannot be reused while listed.
_MANAGERS: dict[int, tuple[asyncpg.Pool, LeaseManager]] = {}


def manager_for(db: Database) -> LeaseManager:
    """The process-wide lease manager of `db`."""
    if getattr(db, "pgbouncer", False):
        # In transaction pooling a session lock would stay on a server connection that PgBouncer
        # then lends to other clients: the lease would protect nothing.
        raise ConfigError(
            "indexing needs a direct connection to PostgreSQL, not PgBouncer in transaction pooling:"
            " point this process's database URL at the server itself"
        )
    entry = _MANAGERS.get(id(db.pool))
    if entry is not None and entry[0] is db.pool:
        return entry[1]
    for key, (pool, manager) in list(_MANAGERS.items()):
        if pool.is_closing() and not manager.held:
            del _MANAGERS[key]
    manager = LeaseManager(db.dsn)
    _MANAGERS[id(db.pool)] = (db.pool, manager)
    return manager
