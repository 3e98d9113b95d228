"""The background indexer's compiler passes: one at a time, a quiet period after a repository's last stored edit."""

from __future__ import annotations

import anyio
import structlog

from .core import IndexerCore
from .precise import status
from .precise.compiler import compiler_pass
from .watched import held_off_by

log = structlog.get_logger(__name__)

# A pass state a new run would not change (edits since make it stale, which is due).
_SETTLED = frozenset({"current"})


class CompilerPasses(IndexerCore):
    """Debounced: every stored edit pushes the repository's pass back by `compiler_pass_quiet_seconds`,
    so a burst of saves costs one run after it. The indexer runs as a child process at the lowest
    priority and without the lease; only its import takes the repository's writer lock, briefly."""

    def _want_compiler(self, repository_id: int) -> None:
        if not self.settings.compiler_pass:
            return
        self._compiler_due[repository_id] = anyio.current_time() + self.settings.compiler_pass_quiet_seconds
        self._compiler_wake.set()

    async def _compiler_loop(self) -> None:
        while True:
            if not self._compiler_due:
                await self._compiler_wake.wait()
                self._compiler_wake = anyio.Event()
                continue
            repository_id, due = min(self._compiler_due.items(), key=lambda item: item[1])
            wait = due - anyio.current_time()
            if wait > 0:
                with anyio.move_on_after(wait):
                    await self._compiler_wake.wait()
                self._compiler_wake = anyio.Event()
                continue
            del self._compiler_due[repository_id]
            w = self._repos.get(repository_id)
            if w is None or not w.owned:
                continue
            if w.pending or w.in_flight:  # edits still coming in: another quiet period
                self._want_compiler(repository_id)
                continue
            try:
                async with self.db.pool.acquire() as conn:
                    passes = await status.passes(conn, [repository_id])
                if passes and all(p.state in _SETTLED for p in passes):
                    continue  # nothing edited since the last run (a catch-up pass that found no change)
                await compiler_pass(self.db, self.settings, w.repo, leases=self.leases)
            except Exception as exc:  # the pass records its own failures; this is the database's
                if held_off_by(exc) is None:
                    log.exception("compiler_pass_failed", repository=w.repo.name)
                else:  # tried again once the database is back, a quiet period from now
                    self._want_compiler(repository_id)
