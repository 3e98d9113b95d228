"""Keep the repositories this process owns fresh for its whole life: lease, catch up, watch, index edits, embed."""

from __future__ import annotations

from pathlib import Path

import anyio
import structlog
from anyio.abc import TaskStatus

from ..db.vector_marks import count_pending
from ..embed.model import Embedder
from ..errors import RepositoryNotFound
from . import repositories
from .compiler_loop import CompilerPasses
from .fs_events import FileEvents
from .ownership import Ownership
from .vectors_loop import Vectors
from .watched import STATES, WatchStatus
from .work_queue import WorkQueue

__all__ = ["STATES", "BackgroundIndexer", "WatchStatus"]

log = structlog.get_logger(__name__)


class BackgroundIndexer(Ownership, FileEvents, WorkQueue, Vectors, CompilerPasses):
    """Indexes, for as long as `run` runs, every repository of the database whose lease this process
    can take, and keeps trying the others so that it takes over when their owner stops or dies.

    A saved edit reaches the index through a file watch and `index_paths` (no walk of the
    repository); a burst of changes or a change to the ignore rules runs a whole incremental pass.
    Vectors follow in a separate task, so lexical and graph freshness never wait for the model; so does
    the compiler pass (a SCIP indexer, where installed), a quiet period after the last stored edit.

    When the database cannot be reached or refuses writes (read-only, disk full), indexing and embedding
    pause, the edits stay queued and are retried with backoff, and the status says why; reads are not
    affected. Each change of that state is logged once.
    """

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
                tg.start_soon(self._compiler_loop)
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

    def watch_states(self) -> dict[int, tuple[str, str]]:
        """Every repository this process follows: id -> (name, watcher state)."""
        return {w.repo.id: (w.repo.name, w.state) for w in list(self._repos.values())}

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
