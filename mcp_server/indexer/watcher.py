"""Keep the repositories this process owns fresh for its whole life: lease, catch up, watch, index edits, embed.

When the database cannot be reached or refuses writes (read-only, disk full), indexing and embedding
pause, the edits stay queued and are retried with backoff, and the status says why; reads are not
affected. Each change of that state is logged once.
"""

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
from ..db.refusals import READ_ONLY_SQLSTATE, write_refusal
from ..db.vector_marks import count_pending
from ..embed.model import Embedder
from ..errors import DatabaseUnavailable, IndexBusy, RepositoryNotFound
from ..index.discover import BUILTIN_IGNORES, file_language, is_ignore_rules_file
from . import repositories, vector_gc
from .embed import embed_pending
from .events import IndexerEvents, NoEvents
from .lease import CONNECTION_ERRORS, LeaseManager, current_owner, manager_for, wanted
from .pipeline import IndexReport, index_paths, index_registered

log = structlog.get_logger(__name__)

STATES = ("watching", "catching_up", "indexing", "paused", "owned_elsewhere", "root_missing", "stopped")

# Folder names `discover` always skips (built-in ignores without wildcards): their churn
# (npm install, a build) is dropped before it is even queued.
_SKIPPED_DIRS = frozenset(
    p.rstrip("/") for p in BUILTIN_IGNORES if p.endswith("/") and "*" not in p and "/" not in p.rstrip("/")
)
# Editors' swap, backup and lock files: never indexable, and written on every save.
_EDITOR_DEBRIS = (".swp", ".swx", ".swo", "~", ".tmp", ".orig")
_MAX_BACKOFF = 30.0
# A paused repository is retried at most this far apart: once the database takes writes again, the
# queued edits should not wait long, and a retry costs one failed write.
_MAX_PAUSE = 15.0
# After replacing the file watch: time for the new one to be set up before the catch-up pass.
_SWITCH_SETTLE_SECONDS = 0.5
_NEW_GRACE_SECONDS = 10.0
_HAND_OVER_CHECK_SECONDS = 1.0  # how often an owner looks for a writer queued for one of its leases
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
    paused: str | None = None       # why indexing or embedding waits, and how often it is retried


@dataclass(frozen=True, slots=True)
class _Trouble:
    """A state of the database worth waiting out: `kind` tells states apart for logging (once per
    change, not per retry whose message differs); `sentence` is what the status shows."""

    kind: str
    sentence: str


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
    held_off: _Trouble | None = None  # why indexing waits: the database is unreachable or refuses writes
    held_off_since: datetime | None = None
    retry_in: float = 0.0
    embed_held_off: _Trouble | None = None  # the same for vectors
    root_missing_recorded: bool = False  # the repositories table says its root is missing

    def status(self) -> WatchStatus:
        return WatchStatus(
            self.repo.id, self.state, self.owner, len(self.pending) + self.in_flight, self.last_event_at,
            self.last_indexed_at, self.vectors_pending, self.error, self.error_at, dict(self.skipped),
            self.paused_note(),
        )

    def paused_note(self) -> str | None:
        if self.held_off is not None:
            since = f" since {self.held_off_since:%H:%M:%S} UTC" if self.held_off_since else ""
            return (f"indexing paused{since}: {self.held_off.sentence}; retrying every {self.retry_in:g} s; "
                    "searches keep answering from the index as it was")
        if self.embed_held_off is not None:
            return (f"vectors paused: {self.embed_held_off.sentence}; retrying with backoff; "
                    "keyword and graph search are current")
        return None

    def record_error(self, message: str) -> None:
        self.error = message
        self.error_at = _now()

    def hold_off(self, why: _Trouble, retry_in: float) -> None:
        """Indexing waits for the database; logged when the kind of trouble changes, not on every retry."""
        if self.held_off is None or why.kind != self.held_off.kind:
            log.warning("indexing_paused", repository=self.repo.name, reason=why.sentence, retry_in=retry_in)
            if self.held_off is None:
                self.held_off_since = _now()
        self.held_off, self.retry_in = why, retry_in
        self.record_error(why.sentence)

    def resume(self) -> None:
        if self.held_off is not None:
            log.warning("indexing_resumed", repository=self.repo.name, after=self.held_off.sentence)
        self.held_off = self.held_off_since = None
        self.retry_in = 0.0


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
        events: IndexerEvents | None = None,
    ) -> None:
        self.db = db
        self.events: IndexerEvents = events or NoEvents()
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
        self._trouble: _Trouble | None = None  # the supervisor's last database failure, logged once
        self._reclaiming = anyio.Lock()  # the supervisor and a worker may both notice a lost lease

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
                tg.start_soon(self._hand_over_loop)
                tg.start_soon(self._watch_loop)
                tg.start_soon(self._embed_loop)
                tg.start_soon(self._vector_gc_loop)
                task_status.started()
        finally:
            self._tg = None
            # Shielded but bounded: hand the leases over promptly, yet never hang a shutdown on a
            # dead database (its connection's end frees the locks anyway).
            owned = [w.repo.id for w in self._repos.values() if w.owned]
            for w in self._repos.values():
                w.state, w.owned, w.owner, w.worker, w.in_flight = "stopped", False, None, None, 0
                w.pending.clear()
                self.events.dropped(w.repo.id)
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

    def files_pending(self) -> dict[str, int]:
        """Files queued or being indexed, per repository this process owns (by name)."""
        return {w.repo.name: len(w.pending) + w.in_flight for w in list(self._repos.values()) if w.owned}

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
            # A repository registered a moment ago and not yet indexed is its registering
            # process's to take: claiming it first would refuse that process's index_repository.
            # Left unclaimed past the grace (the registering process died), anyone may take it.
            fresh = {r["id"] for r in await conn.fetch(
                "SELECT id FROM repositories WHERE state = 'new' AND created_at > now() - make_interval(secs => $1)",
                _NEW_GRACE_SECONDS)}
        listed = {r.id for r in repos}
        for repository_id in list(self._repos):
            if repository_id not in listed:
                await self._disown(self._repos.pop(repository_id), "stopped")
        for repo in repos:
            if repo.id in self._removed or (repo.id in fresh and not self.leases.holds(repo.id)):
                continue
            w = self._track(repo)
            try:
                await self._claim(w)
            except RepositoryNotFound:  # removed by another process a moment ago
                await self._disown(self._repos.pop(repo.id), "stopped")
            except _DB_ERRORS:
                raise
            except Exception as exc:
                refusal = write_refusal(exc)
                if refusal is None:
                    log.exception("claim_failed", repository=repo.name)
                    w.record_error(f"{type(exc).__name__}: {exc}")
                    continue
                # Taking the lease writes its owner row, so no claim can succeed now: the supervisor
                # backs off, and says how long in the status.
                w.state = "paused"
                w.hold_off(_Trouble(refusal.sqlstate, f"cannot take the indexing lease: {refusal}"), 0.0)
                raise

    async def _claim(self, w: _Watched) -> None:
        if not _is_dir(w.root):
            await self._root_gone(w)
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
            w.root_missing_recorded = False  # the catch-up pass clears the record when it finishes
            await self._after_refusal(w.held_off)
            w.resume()
            w.full_pass = True  # whatever changed while nobody watched
            w.covered = anyio.Event()
            self._start_worker(w)
            self._roots_changed.set()
            log.info("watching", repository=w.repo.name, root=str(w.root))
        else:
            w.state = "owned_elsewhere"
            w.held_off = w.held_off_since = None
            async with self.db.pool.acquire() as conn:
                owner = await current_owner(conn, w.repo.id)
            w.owner = owner.owner if owner else None

    async def _root_gone(self, w: _Watched) -> None:
        """The root is not a folder now: record it for every server's answers, then stop indexing it.
        Recorded only by its owner, or by anyone while nobody owns it: a process that cannot see the
        folder (another machine, another mount) must not contradict the one indexing it."""
        if w.owned:
            log.warning("root_missing", repository=w.repo.name, root=str(w.root))
        if not w.root_missing_recorded:
            try:
                async with self.db.pool.acquire() as conn:
                    if w.owned or await current_owner(conn, w.repo.id) is None:
                        await repositories.mark_root_missing(conn, w.repo.id)
                        w.root_missing_recorded = True
            except Exception as exc:  # the supervisor tries again each round: in the status, not a log line each
                w.record_error(f"could not record that the root is missing: {type(exc).__name__}: {exc}")
        # Last: called from the worker itself, this cancels the task it runs in.
        await self._disown(w, "root_missing")

    async def _disown(self, w: _Watched, state: str, *, lost: bool = False) -> None:
        """Stop indexing `w`; give its lease back, unless it is already `lost` (then this process no
        longer holds it, and a release would only undo another holder's hold)."""
        w.state = state
        w.pending.clear()
        w.in_flight = 0
        self.events.dropped(w.repo.id)
        w.held_off = w.held_off_since = w.embed_held_off = None
        if w.worker is not None:
            w.worker.cancel()
            w.worker = None
        if w.owned:
            w.owned = False
            w.owner = None
            self._roots_changed.set()
            if not lost:
                await self.leases.release(w.repo.id)

    async def _hand_over_loop(self) -> None:
        """Let go, within a second, of the repositories another writer waits for (`pgcode index` or
        `remove` run while this process watches them): it writes under the lease, then the
        supervisor takes the repository back with a catch-up pass, which re-reads only files whose
        size or mtime differ."""
        while True:
            await anyio.sleep(_HAND_OVER_CHECK_SECONDS)
            owned = [w.repo.id for w in self._repos.values() if w.owned]
            if not owned:
                continue
            try:
                async with self.db.pool.acquire() as conn:
                    asked = await wanted(conn, owned)
            except Exception as exc:
                if _held_off_by(exc) is None:  # else the supervisor reports the database's trouble
                    log.exception("hand_over_check_failed")
                continue
            for repository_id in sorted(asked):
                w = self._repos.get(repository_id)
                if w is not None and w.owned:
                    log.info("lease_handed_over", repository=w.repo.name)
                    await self._disown(w, "owned_elsewhere")

    async def _reclaim(self, w: _Watched) -> bool:
        """Take back the lease of a repository this process owned until its lease connection broke;
        False if another process has it now (then `w` is disowned)."""
        async with self._reclaiming:
            if not w.owned:
                return False
            if self.leases.holds(w.repo.id):
                return True
            try:
                got = await self.leases.try_acquire(w.repo.id)
            except Exception as exc:
                why = _held_off_by(exc)
                if why is not None and why.kind != "unreachable":  # its owner row is a write
                    w.state = "paused"
                    w.hold_off(_Trouble(why.kind, f"cannot take the indexing lease: {why.sentence}"),
                               max(w.retry_in, 1.0))
                raise
            if got:
                await self._after_refusal(w.held_off)
                w.record_error("lost the lease (the database connection broke); took it back")
                # A crash of the database may have dropped the last commits: a pass re-reads what differs.
                w.full_pass = True
                w.wake.set()
                return True
            w.record_error("lost the lease (the database connection broke); another process owns it now")
            await self._disown(w, "owned_elsewhere", lost=True)
            return False

    async def _supervise(self) -> None:
        """Retry leases, notice vanished and returning roots, and keep the leases' heartbeat."""
        backoff = self.lease_retry_seconds
        failures = 0
        last_beat = anyio.current_time()
        while True:
            await anyio.sleep(backoff)
            try:
                if anyio.current_time() - last_beat >= self.heartbeat_seconds:
                    last_beat = anyio.current_time()
                    await self.leases.heartbeat()
                # A lease goes with its connection (a restart, a cut): take it back while nobody has.
                for w in list(self._repos.values()):
                    if w.owned and not self.leases.holds(w.repo.id):
                        await self._reclaim(w)
                await self._refresh()
                backoff, failures = self.lease_retry_seconds, 0
                if self._trouble is not None:
                    log.warning("database_back", after=self._trouble.sentence)
                    self._trouble = None
            except Exception as exc:
                # Soon after the database returns (a restart takes seconds), rarely during a long outage.
                failures += 1
                backoff = min(2.0 ** (failures - 1), _MAX_BACKOFF)
                for w in self._repos.values():
                    if w.held_off is not None and not self.leases.holds(w.repo.id):  # waits for a claim
                        w.retry_in = backoff
                why = _held_off_by(exc)
                if why is None:
                    log.exception("supervisor_failed")
                else:
                    if self._trouble is None or why.kind != self._trouble.kind:
                        log.warning("database_trouble", reason=why.sentence, retry_in=backoff)
                    self._trouble = why

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
                        # A change can still slip between the watches: the old one drops what it
                        # was debouncing when stopped, and the new one sees nothing until its
                        # first wait sets it up. Once it surely runs, a pass over the kept roots
                        # (a stat per file) picks up whatever slipped through.
                        kept = set(current) & set(roots)
                        if kept:
                            tg.start_soon(self._catch_up_after_switch, kept)
                    current, stop_current = roots, stop_next
                for w in self._repos.values():
                    if w.owned and w.root in current:
                        w.covered.set()
                await self._roots_changed.wait()

    async def _still_listed(self, repository_id: int) -> bool:
        async with self.db.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true FROM repositories WHERE id = $1", repository_id))

    async def _catch_up_after_switch(self, roots: set[Path]) -> None:
        await anyio.sleep(_SWITCH_SETTLE_SECONDS)
        for w in self._repos.values():
            if w.owned and w.root in roots:
                w.full_pass = True
                w.wake.set()

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
        queued: dict[int, set[str]] = {}
        for _change, path in changes:
            for w, prefix in owned:
                if not path.startswith(prefix):
                    continue
                rel = path[len(prefix):].replace(os.sep, "/")
                if is_ignore_rules_file(rel):
                    w.full_pass = True  # which files are indexed may have changed anywhere
                else:
                    w.pending.add(rel)
                    queued.setdefault(w.repo.id, set()).add(rel)
                w.last_event_at = now
                w.wake.set()
        for repository_id, paths in queued.items():
            self.events.queued(repository_id, paths)

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
                    await self._root_gone(w)
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
        self.events.batch_started(w.repo.id, paths)
        try:
            return await self._store_batch(w, paths, full, backoff)
        finally:
            self.events.batch_done(w.repo.id, paths, w.pending)

    async def _store_batch(self, w: _Watched, paths: set[str], full: bool, backoff: float) -> float:
        """Index the batch taken from the queue; the paths go back to it if the database is in trouble."""
        catching_up = w.state == "catching_up"
        if w.held_off is None and not catching_up:
            w.state = "indexing"
        report: IndexReport | None = None
        retry_in = 0.0
        try:
            if not self.leases.holds(w.repo.id):
                if not await self._reclaim(w):
                    return 0.0
                full = True
            try:
                if full:  # never registers the repository: one removed meanwhile stays removed
                    report = await index_registered(self.db, self.settings, w.repo, leases=self.leases)
                else:
                    report = await index_paths(self.db, self.settings, w.repo, paths, leases=self.leases)
            except RepositoryNotFound as exc:
                if not await self._still_listed(w.repo.id):
                    # Removed (by any process) while this pass wrote its files: the rows it stored
                    # went with the repository, and there is nothing left to index.
                    self._repos.pop(w.repo.id, None)
                    await self._disown(w, "stopped")
                    return 0.0
                # A removal in this process stopped the pass and has yet to commit: the retry finds
                # the repository gone (or, were the removal to fail, indexes it whole).
                w.record_error(str(exc))
                w.full_pass = True
                retry_in = 1.0
        except IndexBusy as exc:  # our lease is gone: another process owns it now
            w.record_error(str(exc))
            await self._disown(w, "owned_elsewhere", lost=True)
            return 0.0
        except Exception as exc:
            why = _held_off_by(exc)
            if why is not None and w.held_off is not None and w.held_off.kind == why.kind:
                why = w.held_off  # the same trouble: keep the sentence it was first reported with
            if why is not None:
                # Nothing of a failed file was stored (a file's rows commit together), but files
                # stored before it may wait for their edges: the retry is a whole pass, which sees
                # the cut-short state and resolves everything. The paths stay queued regardless.
                w.pending |= paths
                w.full_pass = True
                retry_in = min(max(backoff * 2, 1.0), _MAX_PAUSE)
                w.hold_off(why, retry_in)
                await self._after_refusal(why)
            else:
                # Whatever failed, a whole pass is the way back to an index that matches the disk; if
                # it fails again, the backoff keeps the retries rare and the error stays in the status.
                log.exception("index_failed", repository=w.repo.name, paths=len(paths), full=full)
                w.record_error(f"{type(exc).__name__}: {exc}")
                w.full_pass = True
                retry_in = min(max(backoff * 2, 1.0), _MAX_BACKOFF)
        finally:
            w.in_flight = 0
        if report is not None:
            w.resume()
            w.last_indexed_at = _now()
            w.skipped.update(report.skipped)
            if report.files_indexed or report.files_deleted or full:
                self._want_embed(w.repo.id)
            log.debug(
                "indexed", repository=w.repo.name, full=full, files=report.files_indexed,
                deleted=report.files_deleted, seconds={k: round(v, 3) for k, v in report.seconds.items()},
            )
        if w.owned:
            if w.held_off is not None:
                w.state = "paused"
            elif catching_up and report is None and w.full_pass:
                w.state = "catching_up"
            else:
                w.state = "watching"
        return retry_in

    async def _after_refusal(self, trouble: _Trouble | None) -> None:
        """After a read-only refusal, the pool's sessions are replaced before the next try: a session
        keeps the read-only default it started with (ALTER DATABASE ... SET), so without this the
        retries would fail on old sessions after the database became writable."""
        if trouble is not None and trouble.kind == READ_ONLY_SQLSTATE:
            await self.db.pool.expire_connections()

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
                    if w.embed_held_off is not None:
                        log.warning("embedding_resumed", repository=w.repo.name, after=w.embed_held_off.sentence)
                        w.embed_held_off = None
                    log.debug("embedded", repository=w.repo.name, count=count)
                except Exception as exc:
                    why = _held_off_by(exc)
                    if why is None:
                        log.exception("embed_failed", repository=w.repo.name)
                        w.record_error(f"embedding failed: {type(exc).__name__}: {exc}")
                        continue
                    # Wait, then come back for this repository and the others still due: the model
                    # must not spin on a database that cannot take the vectors.
                    self._embed_due |= {r for r in due if r >= repository_id}
                    backoff = min(max(backoff * 2, 1.0), _MAX_PAUSE)
                    await self._after_refusal(why)
                    if w.embed_held_off is None or why.kind != w.embed_held_off.kind:
                        log.warning("embedding_paused", repository=w.repo.name, reason=why.sentence, retry_in=backoff)
                    w.embed_held_off = why
                    w.record_error(f"embedding deferred: {why.sentence}")
                    await anyio.sleep(backoff)
                    self._embed_wake.set()
                    break

    async def _vector_gc_loop(self) -> None:
        """Vectors that edits and removals left unused are deleted once the grace period has passed."""
        grace = self.settings.vector_gc_grace_seconds
        while True:
            await anyio.sleep(vector_gc.every(grace))
            try:
                async with self.db.pool.acquire() as conn:
                    await vector_gc.collect_vectors(conn, grace)
            except Exception as exc:
                if _held_off_by(exc) is None:  # else the next round, once the database is back
                    log.exception("vector_gc_failed")


def _held_off_by(exc: BaseException) -> _Trouble | None:
    """Why a failure is one to wait out (the database is unreachable, or refuses writes for now);
    None for any other failure."""
    if isinstance(exc, _DB_ERRORS):
        return _Trouble("unreachable", f"the database is not reachable ({type(exc).__name__}: {exc})")
    refusal = write_refusal(exc)
    return None if refusal is None else _Trouble(refusal.sqlstate, str(refusal))


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
