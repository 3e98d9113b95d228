"""Which repositories the background indexer owns: claim their leases, give them back or hand them over, take back a lost one."""

from __future__ import annotations

from pathlib import Path

import anyio
import structlog

from ..db.refusals import write_refusal
from ..errors import RepositoryNotFound
from . import repositories
from .core import IndexerCore
from .lease import current_owner, wanted
from .watched import DB_ERRORS, MAX_BACKOFF, Trouble, Watched, held_off_by, is_dir

log = structlog.get_logger(__name__)

_NEW_GRACE_SECONDS = 10.0
_HAND_OVER_CHECK_SECONDS = 1.0  # how often an owner looks for a writer queued for one of its leases


class Ownership(IndexerCore):
    """The supervisor: follows the repositories table, keeps the leases' heartbeat, notices vanished roots."""

    def _track(self, repo: repositories.Repository) -> Watched:
        w = self._repos.get(repo.id)
        if w is None:
            w = self._repos[repo.id] = Watched(repo, Path(repo.root_path))
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
            fresh = {
                r["id"]
                for r in await conn.fetch(
                    "SELECT id FROM repositories WHERE state = 'new' AND created_at > now() - make_interval(secs => $1)",
                    _NEW_GRACE_SECONDS,
                )
            }
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
            except DB_ERRORS:
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
                w.hold_off(Trouble(refusal.sqlstate, f"cannot take the indexing lease: {refusal}"), 0.0)
                raise

    async def _claim(self, w: Watched) -> None:
        if not is_dir(w.root):
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

    async def _root_gone(self, w: Watched) -> None:
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

    async def _disown(self, w: Watched, state: str, *, lost: bool = False) -> None:
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
                if held_off_by(exc) is None:  # else the supervisor reports the database's trouble
                    log.exception("hand_over_check_failed")
                continue
            for repository_id in sorted(asked):
                w = self._repos.get(repository_id)
                if w is not None and w.owned:
                    log.info("lease_handed_over", repository=w.repo.name)
                    await self._disown(w, "owned_elsewhere")

    async def _reclaim(self, w: Watched) -> bool:
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
                why = held_off_by(exc)
                if why is not None and why.kind != "unreachable":  # its owner row is a write
                    w.state = "paused"
                    w.hold_off(
                        Trouble(why.kind, f"cannot take the indexing lease: {why.sentence}"), max(w.retry_in, 1.0)
                    )
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
                backoff = min(2.0 ** (failures - 1), MAX_BACKOFF)
                for w in self._repos.values():
                    if w.held_off is not None and not self.leases.holds(w.repo.id):  # waits for a claim
                        w.retry_in = backoff
                why = held_off_by(exc)
                if why is None:
                    log.exception("supervisor_failed")
                else:
                    if self._trouble is None or why.kind != self._trouble.kind:
                        log.warning("database_trouble", reason=why.sentence, retry_in=backoff)
                    self._trouble = why
