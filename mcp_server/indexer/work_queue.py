"""Each owned repository's worker: index what is queued, back off while the database is in trouble, retry."""

from __future__ import annotations

import anyio
import structlog

from ..errors import IndexBusy, RepositoryNotFound
from .core import IndexerCore
from .pipeline import IndexReport, index_paths, index_registered
from .watched import MAX_BACKOFF, MAX_PAUSE, Watched, held_off_by, is_dir, utc_now

log = structlog.get_logger(__name__)


class WorkQueue(IndexerCore):
    """One worker task per owned repository, woken by queued paths or a due whole pass."""

    def _start_worker(self, w: Watched) -> None:
        assert self._tg is not None, "the indexer is not running"
        scope = anyio.CancelScope()
        w.worker = scope
        self._tg.start_soon(self._work, w, scope)

    async def _work(self, w: Watched, scope: anyio.CancelScope) -> None:
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
                if not is_dir(w.root):
                    await self._root_gone(w)
                    return
                backoff = await self._index_batch(w, backoff)
                if backoff:
                    await anyio.sleep(backoff)
                    w.wake.set()

    async def _index_batch(self, w: Watched, backoff: float) -> float:
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

    async def _store_batch(self, w: Watched, paths: set[str], full: bool, backoff: float) -> float:
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
            why = held_off_by(exc)
            if why is not None and w.held_off is not None and w.held_off.kind == why.kind:
                why = w.held_off  # the same trouble: keep the sentence it was first reported with
            if why is not None:
                # Nothing of a failed file was stored (a file's rows commit together), but files
                # stored before it may wait for their edges: the retry is a whole pass, which sees
                # the cut-short state and resolves everything. The paths stay queued regardless.
                w.pending |= paths
                w.full_pass = True
                retry_in = min(max(backoff * 2, 1.0), MAX_PAUSE)
                w.hold_off(why, retry_in)
                await self._after_refusal(why)
            else:
                # Whatever failed, a whole pass is the way back to an index that matches the disk; if
                # it fails again, the backoff keeps the retries rare and the error stays in the status.
                log.exception("index_failed", repository=w.repo.name, paths=len(paths), full=full)
                w.record_error(f"{type(exc).__name__}: {exc}")
                w.full_pass = True
                retry_in = min(max(backoff * 2, 1.0), MAX_BACKOFF)
        finally:
            w.in_flight = 0
        if report is not None:
            w.resume()
            w.last_indexed_at = utc_now()
            w.skipped.update(report.skipped)
            if report.files_indexed or report.files_deleted or full:
                self._want_embed(w.repo.id)
                self._want_compiler(w.repo.id)
            log.debug(
                "indexed",
                repository=w.repo.name,
                full=full,
                files=report.files_indexed,
                deleted=report.files_deleted,
                seconds={k: round(v, 3) for k, v in report.seconds.items()},
            )
        if w.owned:
            if w.held_off is not None:
                w.state = "paused"
            elif catching_up and report is None and w.full_pass:
                w.state = "catching_up"
            else:
                w.state = "watching"
        return retry_in

    async def _still_listed(self, repository_id: int) -> bool:
        async with self.db.pool.acquire() as conn:
            return bool(await conn.fetchval("SELECT true FROM repositories WHERE id = $1", repository_id))
