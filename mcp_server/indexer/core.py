"""What the background indexer's parts share: its settings and state, and the steps each part offers the others."""

from __future__ import annotations

from abc import ABC, abstractmethod

import anyio
from anyio.abc import TaskGroup

from ..config import Settings
from ..db.pool import Database
from ..db.refusals import READ_ONLY_SQLSTATE
from ..embed.model import Embedder
from .events import IndexerEvents, NoEvents
from .lease import LeaseManager, manager_for
from .watched import Trouble, Watched


class IndexerCore(ABC):
    """The state of one background indexer. Its jobs (ownership, file events, the work queue, vectors)
    are mixins over it; a step one job needs from another is declared here."""

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
        self._repos: dict[int, Watched] = {}
        self._removed: set[int] = set()
        self._tg: TaskGroup | None = None
        self._roots_changed = anyio.Event()
        self._watch_failed = False
        self._embed_due: set[int] = set()
        self._embed_wake = anyio.Event()
        self._compiler_due: dict[int, float] = {}  # repository id -> when its compiler pass may start
        self._compiler_wake = anyio.Event()
        self._trouble: Trouble | None = None  # the supervisor's last database failure, logged once
        self._reclaiming = anyio.Lock()  # the supervisor and a worker may both notice a lost lease

    async def _after_refusal(self, trouble: Trouble | None) -> None:
        """After a read-only refusal, the pool's sessions are replaced before the next try: a session
        keeps the read-only default it started with (ALTER DATABASE ... SET), so without this the
        retries would fail on old sessions after the database became writable."""
        if trouble is not None and trouble.kind == READ_ONLY_SQLSTATE:
            await self.db.pool.expire_connections()

    @abstractmethod
    async def _disown(self, w: Watched, state: str, *, lost: bool = False) -> None: ...

    @abstractmethod
    async def _root_gone(self, w: Watched) -> None: ...

    @abstractmethod
    async def _reclaim(self, w: Watched) -> bool: ...

    @abstractmethod
    def _start_worker(self, w: Watched) -> None: ...

    @abstractmethod
    def _want_embed(self, repository_id: int) -> None: ...

    @abstractmethod
    def _want_compiler(self, repository_id: int) -> None: ...
