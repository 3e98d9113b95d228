"""The background indexer's vectors: embed what the index lacks, collect what nothing uses."""

from __future__ import annotations

import anyio
import structlog

from ..db.vector_marks import count_pending
from . import vector_gc
from .core import IndexerCore
from .embed import embed_pending
from .watched import MAX_PAUSE, held_off_by

log = structlog.get_logger(__name__)


class Vectors(IndexerCore):
    """One embedding loop for every owned repository (a trigger while it runs is remembered), and the vector GC."""

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
                    why = held_off_by(exc)
                    if why is None:
                        log.exception("embed_failed", repository=w.repo.name)
                        w.record_error(f"embedding failed: {type(exc).__name__}: {exc}")
                        continue
                    # Wait, then come back for this repository and the others still due: the model
                    # must not spin on a database that cannot take the vectors.
                    self._embed_due |= {r for r in due if r >= repository_id}
                    backoff = min(max(backoff * 2, 1.0), MAX_PAUSE)
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
                if held_off_by(exc) is None:  # else the next round, once the database is back
                    log.exception("vector_gc_failed")
