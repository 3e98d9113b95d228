"""What a server process owns for its whole life: the database, the model, the background indexer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import structlog

from ..config import Settings
from ..db.pool import Database, open_database
from ..embed.model import Embedder, ModelUnavailable, load_embedder
from ..indexer.watcher import BackgroundIndexer

log = structlog.get_logger(__name__)

_MODEL_WAIT_SECONDS = 120


@dataclass(slots=True)
class ServerState:
    db: Database
    settings: Settings
    indexer: BackgroundIndexer | None
    _embedder: Embedder | None = None
    _model_error: str | None = None
    _model_ready: anyio.Event = field(default_factory=anyio.Event)

    async def embedder(self) -> Embedder | None:
        """The model once loaded (it loads in the background at start-up); None if it cannot load."""
        with anyio.move_on_after(_MODEL_WAIT_SECONDS):
            await self._model_ready.wait()
        return self._embedder

    @property
    def model_error(self) -> str | None:
        return self._model_error

    async def _load_model(self) -> None:
        try:
            self._embedder = await anyio.to_thread.run_sync(
                lambda: load_embedder(self.settings.embedding_model, quantize=self.settings.embedding_quantize,
                                      threads=self.settings.embed_threads or None)
            )
            if self.indexer is not None:
                self.indexer.embedder = self._embedder
        except ModelUnavailable as exc:
            self._model_error = str(exc)
            log.error("model_unavailable", error=str(exc))
        finally:
            self._model_ready.set()


@asynccontextmanager
async def serve_state(settings: Settings, *, watch: bool = True) -> AsyncIterator[ServerState]:
    """Open the database, load the model in the background and run the indexer until exit."""
    async with open_database(settings) as db, anyio.create_task_group() as tg:
        indexer = BackgroundIndexer(db, settings, None) if watch else None
        state = ServerState(db=db, settings=settings, indexer=indexer)
        tg.start_soon(state._load_model)
        if indexer is not None:
            await tg.start(indexer.run)
        try:
            yield state
        finally:
            tg.cancel_scope.cancel()
