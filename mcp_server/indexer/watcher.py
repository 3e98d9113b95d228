"""Keep the repositories this process owns fresh for its whole life: lease, catch up, watch, index edits, embed."""

from __future__ import annotations

import os
import stat
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import anyio
import structlog
from anyio.abc import TaskGroup, TaskStatus
from watchfiles import Change, awatch

from ..config import Settings
from ..db.pool import Database
from ..embed.model import Embedder
from ..errors import DatabaseUnavailable, IndexBusy, RepositoryNotFound
from ..index.discover import BUILTIN_IGNORES, file_language, is_ignore_rules_file
from . import repositories
from .embed import count_pending, embed_pending
from .lease import CONNECTION_ERRORS, LeaseManager, current_owner, manager_for
from .pipeline import IndexReport, index_paths, index_repository

log = structlog.get_logger(__name__)

STATES = ("watching", "catching_up", "indexing", "owned_elsewhere", "root_missing", "stopped")

# Folder names `discover` always skips (built-in ignores without wildcards): their churn
# (npm install, a build) is dropped before it is even queued.
_SKIPPED_DIRS = frozenset(
    p.rstrip("/") for p in BUILTIN_IGNORES if p.endswith("/") and "*" not in p and "/" not in p.rstrip("/")
)
# Editors' swap, backup and lock files: never indexable, and written on every save.
_EDITOR_DEBRIS = (".swp", ".swx", ".swo", "~", ".tmp", ".orig")
_MAX_BACKOFF = 30.0
_DB_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, DatabaseUnavailable)


@dataclass(frozen=True, slots=True)
class WatchStatus:
    repository_id: int
    state: str                      # one of STATES
    owner: str | None               # hostname:pid of the process that indexes it, if known
    files_pending: int              # changed paths queued or being indexed, not yet stored
    last_event_at: datetime | None  # last file change seen by this process
    last_indexed_at: datetime | None  # end of this process's last successful batch or pass
    vectors_pending: int | None     # chunk texts without a vector, as of the last embedding run
    errors: str | None              # the last error met while indexing it (it did not stop the watcher)
    error_at: datetime | None
    skipped: dict[str, int] = field(default_factory=dict)  # files it could not index, by reason


@dataclass(slots=True)
class _Watched:
    """One repository as this process sees it."""

    repo: repositories.Repository
    root: Path
    state: str = "stopped"
    owner: str | None = None
    owned: bool = False
    pending: set[str] = field(default_factory=set)
    in_flight: int = 0
    full_pass: bool = False  # a whole incremental pass is due: catch-up, ignore rules changed, a burst
    wake: anyio.Event = field(default_factory=anyio.Event)
    covered: anyio.Event = field(default_factory=anyio.Event)  # set once a file watch includes the root
    worker: anyio.CancelScope | None = None
    last_event_at: datetime | None = None
    last_indexed_at: datetime | None = None
    vectors_pending: int | None = None
    error: str | None = None
    error_at: datetime | None = None
    skipped: Counter[str] = field(default_factory=Counter)

    def status(self) -> WatchStatus:
        return WatchStatus(
            self.repo.id, self.state, self.owner, len(self.pending) + self.in_flight, self.last_event_at,
            self.last_indexed_at, self.vectors_pending, self.error, self.error_at, dict(self.skipped),
        )

    def record_error(self, message: str) -> None:
        self.error = message
        self.error_at = _now()


class BackgroundIndexer:
    """Indexes, for as long as `run` runs, every repository of the database whose lease this process
    can take, and keeps trying the others so that it takes over when their owner stops or dies.

    A saved edit reaches the index through a file watch and `index_paths` (no walk of the
    repository); a burst of changes or a change to the ignore rules runs a whole incremental pass.
    Vectors follow in a separate task, so lexical and graph freshness never wait for the model.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        embedder: Embedder | None,
        *,
        leases: LeaseManager | None = None,
        lease_retry_seconds: float = 5.0,
        heartbeat_seconds: float = 15.0,
        debounce_ms: int = 100,
        step_ms: int = 25,
        burst_paths: int = 200,
    ) -> None:
        self.db = db
        self.settings = settings
        self.leases = leases or manager_for(db)
        self.lease_retry_seconds = lease_retry_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.debounce_ms = debounce_ms
        self.step_ms = step_ms
        self.burst_paths = burst_paths
        self._embedder = embedder
        self._repos: dict[int, _Watched] = {}
        self._removed: set[int] = set()
        self._tg: TaskGroup | None = None
        self._roots_changed = anyio.Event()
        self._watch_failed = False
        self._embed_due: set[int] = set()
        self._embed_wake = anyio.Event()

    # -- public API -------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder | None:
        return self._embedder

    @embedder.setter
    def embedder(self, value: Embedder | None) -> None:
        """Set once the model has loaded: everything owned gets its vectors then."""
        self._embedder = value
        if value is not None:
            for w in self._repos.values():
                if w.owned:
                    self._want_embed(w.repo.id)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run until cancelled; reports started once every repository's lease has been tried."""
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                try:
                    await self._refresh()
                except Exception as exc:  # the supervisor retries; start-up must not fail for it
                    log.warning("watcher_start_degraded", error=str(exc))
                tg.start_soon(self._supervise)
                tg.start_soon(self._watch_loop)
                tg.start_soon(self._embed_loop)
                task_status.started()
        finally:
            self._tg = None
            # Shielded but bounded: hand the leases over promptly, yet never hang a shutdown on a
            # dead database (its connection's end frees the locks anyway).
            owned = [w.repo.id for w in self._repos.values() if w.owned]
            for w in self._repos.values():
                w.state, w.owned, w.owner, w.worker, w.in_flight = "stopped", False, None, None, 0
                w.pending.clear()
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                for repository_id in owned:
                    await self.leases.release(repository_id)

    async def add_repository(self, repository: int | str | Path) -> WatchStatus:
        """Start watching a repository indexed at run time (by id, name or root path)."""
        async with self.db.pool.acquire() as conn:
            if isinstance(repository, int):
                row = await conn.fetchval("SELECT name FROM repositories WHERE id = $1", repository)
                if row is None:
                    raise RepositoryNotFound(f"no indexed repository has id {repository}; index it first")
                repo = await repositories.find(conn, row)
            else:
                repo = await repositories.find(conn, str(repository))
        self._removed.discard(repo.id)
        w = self._track(repo)
        if self._tg is not None:
            await self._claim(w)
        if w.owned:
            self._want_embed(repo.id)
        return w.status()

    async def remove_repository(self, repository_id: int) -> None:
        """Stop watching a repository (it is being removed): its lease is given back at once."""
        self._removed.add(repository_id)
        w = self._repos.pop(repository_id, None)
        if w is not None:
            await self._disown(w, "stopped")

    def status(self, repository_id: int) -> WatchStatus:
        w = self._repos.get(repository_id)
        if w is None:
            return WatchStatus(repository_id, "stopped", None, 0, None, None, None, None, None)
        return w.status()

    async def refresh_status(self, repository_id: int) -> WatchStatus:
        """`status` with vectors_pending counted now rather than as of the last embedding run."""
        w = self._repos.get(repository_id)
        if w is not None and self._embedder is not None:
            async with self.db.pool.acquire() as conn:
                w.vectors_pending = await count_pending(conn, self._embedder.model_key, repository_id)
        return self.status(repository_id)

    # -- ownership ---------------------------------------------------------------------------

    def _track(self, repo: repositories.Repository) -> _Watched:
        w = self._repos.get(repo.id)
        if w is None:
            w = self._repos[repo.id] = _Watched(repo, Path(repo.root_path))
        else:
            w.repo = repo
        return w

    async def _refresh(self) -> None:
        """Follow the repository table (other processes add and remove repositories) and try to own
        every repository whose root is here."""
        async with self.db.pool.acquire() as conn:
            repos = await repositories.all_repositories(conn)
        listed = {r.id for r in repos}
        for repository_id in list(self._repos):
            if repository_id not in listed:
                await self._disown(self._repos.pop(repository_id), "stopped")
        for repo in repos:
            if repo.id in self._removed:
                continue
            w = self._track(repo)
            try:
                await self._claim(w)
            except RepositoryNotFound:  # removed by another process a moment ago
                await self._disown(self._repos.pop(repo.id), "stopped")
            except _DB_ERRORS:
                raise
            except Exception as exc:
                log.exception("claim_failed", repository=repo.name)
                w.record_error(f"{type(exc).__name__}: {exc}")

    async def _claim(self, w: _Watched) -> None:
        if not _is_dir(w.root):
            if w.owned:
                log.warning("root_missing", repository=w.repo.name, root=str(w.root))
            await self._disown(w, "root_missing")
            return
        if w.owned:
            return
        if await self.leases.try_acquire(w.repo.id):
            # Claimed twice at once (supervisor and add_repository), or removed while we waited:
            # give the extra hold back.
            if w.owned or w.repo.id not in self._repos or w.repo.id in self._removed:
                await self.leases.release(w.repo.id)
                return
            w.owned = True
            w.owner = self.leases.owner
            w.state = "catching_up"
            w.full_pass = True  # whatever changed while nobody watched
            w.covered = anyio.Event()
            self._start_worker(w)
            self._roots_changed.set()
            log.info("watching", repository=w.repo.name, root=str(w.root))
        else:
            w.state = "owned_elsewhere"
            async with self.db.pool.acquire() as conn:
                owner = await current_owner(conn, w.repo.id)
            w.owner = owner.owner if owner else None

    async def _disown(self, w: _Watched, state: str, *, lost: bool = False) -> None:
        """Stop indexing `w`; give its lease back, unless it is already `lost` (then this process no
        longer holds it, and a release would only undo another holder's hold)."""
        w.state = state
        w.pending.clear()
        w.in_flight = 0
        if w.worker is not None:
            w.worker.cancel()
            w.worker = None
        if w.owned:
            w.owned = False
            w.owner = None
            self._roots_changed.set()
            if not lost:
                await self.leases.release(w.repo.id)

    async def _supervise(self) -> None:
        """Retry leases, notice vanished and returning roots, and keep the leases' heartbeat."""
        backoff = self.lease_retry_seconds
        last_beat = anyio.current_time()
        while True:
            await anyio.sleep(backoff)
            try:
                if anyio.current_time() - last_beat >= self.heartbeat_seconds:
                    last_beat = anyio.current_time()
                    await self.leases.heartbeat()
                # A lease can also go with a connection that broke under any other lease call.
                for w in list(self._repos.values()):
                    if w.owned and not self.leases.holds(w.repo.id):
                        w.record_error("lost the lease (the database connection broke); retrying")
                        await self._disown(w, "owned_elsewhere", lost=True)
                await self._refresh()
                backoff = self.lease_retry_seconds
            except _DB_ERRORS as exc:
                backoff = min(max(backoff * 2, 1.0), _MAX_BACKOFF)
                log.warning("database_unreachable", error=str(exc), retry_in=backoff)
            except Exception:
                log.exception("supervisor_failed")
                backoff = min(max(backoff * 2, 1.0), _MAX_BACKOFF)

    # -- file watching -------------------------------------------------------------------------

    async def _watch_loop(self) -> None:
        """One file watch over every owned root, replaced whenever that set changes. The new watch is
        running before the old one stops, so no event falls between them."""
        live: set[anyio.Event] = set()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_cancel, live)
            current: tuple[Path, ...] = ()
            stop_current: anyio.Event | None = None
            while True:
                self._roots_changed = anyio.Event()
                roots = tuple(sorted({w.root for w in self._repos.values() if w.owned}))
                if roots != current or self._watch_failed:
                    if self._watch_failed:
                        self._watch_failed = False
                        await anyio.sleep(min(self.lease_retry_seconds, 5.0))
                    stop_next = anyio.Event()
                    if roots:
                        live.add(stop_next)
                        await tg.start(self._watch, roots, stop_next, live)
                    if stop_current is not None:
                        stop_current.set()
                    current, stop_current = roots, stop_next
                for w in self._repos.values():
                    if w.owned and w.root in current:
                        w.covered.set()
                await self._roots_changed.wait()

    async def _watch(
        self, roots: tuple[Path, ...], stop: anyio.Event, live: set[anyio.Event],
        *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        started = False
        prefixes = tuple(str(root) + os.sep for root in roots)
        try:
            stream = awatch(
                *roots, watch_filter=partial(_worth_a_look, prefixes), debounce=self.debounce_ms,
                step=self.step_ms, stop_event=stop, rust_timeout=2_000, recursive=True,
                ignore_permission_denied=True,
            )
            async with aclosing(stream):
                # The watch is set up synchronously when the stream is first awaited, before this
                # task yields; so once `start` has returned, the new watch sees every change.
                task_status.started()
                started = True
                async for changes in stream:
                    self._dispatch(changes)
        except Exception as exc:
            log.warning("file_watch_failed", roots=[str(r) for r in roots], error=str(exc))
            for w in self._repos.values():
                if w.owned and w.root in roots:
                    w.record_error(f"watching files failed: {exc}")
            self._watch_failed = True
            self._roots_changed.set()
        finally:
            live.discard(stop)
            if not started:
                task_status.started()

    def _dispatch(self, changes: set[tuple[Change, str]]) -> None:
        now = _now()
        owned = [(w, str(w.root) + os.sep) for w in self._repos.values() if w.owned]
        for _change, path in changes:
            for w, prefix in owned:
                if not path.startswith(prefix):
                    continue
                rel = path[len(prefix):].replace(os.sep, "/")
                if is_ignore_rules_file(rel):
                    w.full_pass = True  # which files are indexed may have changed anywhere
                else:
                    w.pending.add(rel)
                w.last_event_at = now
                w.wake.set()

    # -- indexing ----------------------------------------------------------------------------

    def _start_worker(self, w: _Watched) -> None:
        assert self._tg is not None, "the indexer is not running"
        scope = anyio.CancelScope()
        w.worker = scope
        self._tg.start_soon(self._work, w, scope)

    async def _work(self, w: _Watched, scope: anyio.CancelScope) -> None:
        with scope:
            # The catch-up pass must not start before the watch does, or changes in between are lost.
            with anyio.move_on_after(5):
                await w.covered.wait()
            w.wake.set()
            backoff = 0.0
            while True:
                await w.wake.wait()
                w.wake = anyio.Event()
                if not (w.pending or w.full_pass):
                    continue
                if not _is_dir(w.root):
                    await self._disown(w, "root_missing")
                    return
                backoff = await self._index_batch(w, backoff)
                if backoff:
                    await anyio.sleep(backoff)
                    w.wake.set()

    async def _index_batch(self, w: _Watched, backoff: float) -> float:
        """Index what is queued; returns how long to wait before retrying (0 when it went through)."""
        full = w.full_pass or len(w.pending) > self.burst_paths
        paths, w.pending = w.pending, set()
        w.full_pass = False
        w.in_flight = len(paths)
        catching_up = w.state == "catching_up"
        if not catching_up:
            w.state = "indexing"
        report: IndexReport | None = None
        try:
            if full:
                report = await index_repository(
                    self.db, self.settings, w.root, name=w.repo.name, leases=self.leases
                )
            else:
                report = await index_paths(self.db, self.settings, w.repo, paths, leases=self.leases)
        except _DB_ERRORS as exc:
            w.pending |= paths
            w.full_pass = w.full_pass or full
            w.record_error(f"database unreachable: {exc}")
            backoff = min(max(backoff * 2, 0.5), _MAX_BACKOFF)
            log.warning("index_deferred", repository=w.repo.name, error=str(exc), retry_in=backoff)
            return backoff
        except IndexBusy as exc:  # our lease is gone: another process owns it now
            w.record_error(str(exc))
            await self._disown(w, "owned_elsewhere", lost=True)
            return 0.0
        except Exception as exc:
            # Whatever failed, a whole pass is the way back to an index that matches the disk; if it
            # fails again, the backoff keeps the retries rare and the error stays in the status.
            log.exception("index_failed", repository=w.repo.name, paths=len(paths), full=full)
            w.record_error(f"{type(exc).__name__}: {exc}")
            w.full_pass = True
            backoff = min(max(backoff * 2, 1.0), _MAX_BACKOFF)
            return backoff
        finally:
            w.in_flight = 0
            if w.owned:
                w.state = "catching_up" if (catching_up and report is None and w.full_pass) else "watching"
        if report is not None:
            w.last_indexed_at = _now()
            w.skipped.update(report.skipped)
            if report.files_indexed or report.files_deleted or full:
                self._want_embed(w.repo.id)
            log.debug(
                "indexed", repository=w.repo.name, full=full, files=report.files_indexed,
                deleted=report.files_deleted, seconds={k: round(v, 3) for k, v in report.seconds.items()},
            )
        return 0.0

    # -- vectors -----------------------------------------------------------------------------

    def _want_embed(self, repository_id: int) -> None:
        # A trigger while embedding runs is remembered, not started twice: the loop comes back for it.
        self._embed_due.add(repository_id)
        self._embed_wake.set()

    async def _embed_loop(self) -> None:
        backoff = 0.0
        while True:
            await self._embed_wake.wait()
            self._embed_wake = anyio.Event()
            embedder = self._embedder
            if embedder is None:
                continue  # the setter triggers again once the model is loaded
            due, self._embed_due = self._embed_due, set()
            for repository_id in sorted(due):
                w = self._repos.get(repository_id)
                if w is None or not w.owned:
                    continue
                try:
                    count = await embed_pending(self.db.pool, embedder, self.settings, repository_id)
                    async with self.db.pool.acquire() as conn:
                        w.vectors_pending = await count_pending(conn, embedder.model_key, repository_id)
                    backoff = 0.0
                    log.debug("embedded", repository=w.repo.name, count=count)
                except _DB_ERRORS as exc:
                    self._embed_due.add(repository_id)
                    backoff = min(max(backoff * 2, 0.5), _MAX_BACKOFF)
                    w.record_error(f"embedding deferred, database unreachable: {exc}")
                    await anyio.sleep(backoff)
                    self._embed_wake.set()
                except Exception as exc:
                    log.exception("embed_failed", repository=w.repo.name)
                    w.record_error(f"embedding failed: {type(exc).__name__}: {exc}")


def _worth_a_look(prefixes: tuple[str, ...], change: Change, path: str) -> bool:
    """A cheap first filter, run for every raw event: the ignore rules proper are applied later, only
    to what passes. A deletion always passes: it may be a folder of indexed files."""
    rel = next((path[len(p):] for p in prefixes if path.startswith(p)), None)
    if not rel:
        return False
    parts = rel.split(os.sep)
    name = parts[-1]
    if parts[0] == ".git":
        return rel == os.path.join(".git", "info", "exclude")
    if any(p in _SKIPPED_DIRS for p in parts[:-1]) or name.endswith(_EDITOR_DEBRIS):
        return False
    if change == Change.deleted:
        return True
    if file_language(name) is not None or is_ignore_rules_file(name):
        return True
    if change != Change.added:
        return False
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # a new folder: its files may predate its watch
    except OSError:
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def _now() -> datetime:
    return datetime.now(UTC)


async def _stop_on_cancel(live: set[anyio.Event]) -> None:
    # awatch waits in a worker thread that a cancellation cannot interrupt; setting the stop events
    # makes that thread return within one step instead of at its timeout.
    try:
        await anyio.sleep_forever()
    finally:
        for stop in list(live):
            stop.set()

