"""What a server process owns for its whole life: the database, the model, the background indexer, its metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import asyncpg
import structlog

from ..config import Settings
from ..db.migrate import pending
from ..db.pool import Database, connect_kwargs, open_database
from ..embed.model import Embedder, ModelUnavailable, embedder_for, key_for
from ..indexer.watcher import BackgroundIndexer
from .metrics import CountingEmbedder, Metrics
from .reachability import Reachability

log = structlog.get_logger(__name__)

_MODEL_WAIT_SECONDS = 120
_READY_CHECK_SECONDS = 3.0


@dataclass(slots=True)
class ServerState:
    db: Database
    settings: Settings
    indexer: BackgroundIndexer | None
    metrics: Metrics = field(default_factory=lambda: Metrics(role="server"))
    # How MCP clients reach this process: "stdio" (the local user's own client) or "http" (remote:
    # the read boundary is stricter).
    transport: str = "stdio"
    # Read-only servers only: tool calls fail fast while the database (a replica, PgBouncer) does not answer.
    reachability: Reachability | None = None
    _embedder: Embedder | None = None
    _model_error: str | None = None
    _model_ready: anyio.Event = field(default_factory=anyio.Event)

    @property
    def read_only(self) -> bool:
        return self.db.read_only

    async def embedder(self) -> Embedder | None:
        """The model once loaded (it loads in the background at start-up); None if it cannot load."""
        with anyio.move_on_after(_MODEL_WAIT_SECONDS):
            await self._model_ready.wait()
        return self._embedder

    @property
    def model_error(self) -> str | None:
        return self._model_error

    async def readiness(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        """Whether this process can serve now, check by check (each with ok and a detail)."""
        checks: dict[str, dict[str, Any]] = {}
        try:
            with anyio.fail_after(_READY_CHECK_SECONDS):
                async with self.db.pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
                    waiting = await pending(conn)
            checks["database"] = {"ok": True, "detail": "reachable"}
            checks["migrations"] = (
                {"ok": True, "detail": "current"}
                if not waiting
                else {"ok": False, "detail": "pending: " + ", ".join(m.name for m in waiting)}
            )
        except TimeoutError:
            checks["database"] = {"ok": False, "detail": f"no answer within {_READY_CHECK_SECONDS:g} s"}
            checks["migrations"] = {"ok": False, "detail": "unknown: the database did not answer"}
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            checks["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
            checks["migrations"] = {"ok": False, "detail": "unknown: the database did not answer"}
        if self._embedder is not None:
            checks["model"] = {"ok": True, "detail": self._embedder.model_key}
        elif self._model_error is not None:
            checks["model"] = {"ok": False, "detail": f"failed: {self._model_error}"}
        else:
            checks["model"] = {"ok": False, "detail": "loading"}
        return all(c["ok"] for c in checks.values()), checks

    async def _load_model(self) -> None:
        try:
            loaded = await anyio.to_thread.run_sync(
                lambda: embedder_for(self.settings),
                # A shutdown during start-up must not wait for the model to finish loading.
                abandon_on_cancel=True,
            )
            self._embedder = CountingEmbedder(loaded, self.metrics.embed_chunks, self.metrics.embed_seconds)
            if self.indexer is not None:
                self.indexer.embedder = self._embedder
        except ModelUnavailable as exc:
            self._model_error = str(exc)
            log.error("model_unavailable", error=str(exc))
        finally:
            self._model_ready.set()


@asynccontextmanager
async def serve_state(
    settings: Settings, *, watch: bool = True, read_only: bool | None = None, role: str = "server"
) -> AsyncIterator[ServerState]:
    """Open the database, load the model in the background and run the indexer until exit.
    Read-only: the database is checked, not migrated, and nothing is watched or indexed."""
    read_only = settings.read_only if read_only is None else read_only
    async with open_database(settings, read_only=read_only) as db, anyio.create_task_group() as tg:
        metrics = Metrics(role="reader" if read_only else role)
        indexer = BackgroundIndexer(db, settings, None, events=metrics.watcher_lag) if watch and not read_only else None
        metrics.bind(db, indexer, key_for(settings))
        state = ServerState(db=db, settings=settings, indexer=indexer, metrics=metrics)
        if read_only:
            state.reachability = Reachability(db.dsn, connect_kwargs(settings, read_only=True))
            tg.start_soon(state.reachability.run)
        tg.start_soon(state._load_model)
        if indexer is not None:
            await tg.start(indexer.run)
        try:
            yield state
        finally:
            tg.cancel_scope.cancel()
