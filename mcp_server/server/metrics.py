"""Prometheus metrics of one pgcode process: tool calls, the watcher's queue and lag, vectors pending, the pool."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence, Set

import anyio
import asyncpg
import numpy as np
import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .. import __version__
from ..db.pool import Database
from ..db.replica import ReplicaLag, replica_lag
from ..embed.model import Embedder
from ..indexer.watcher import STATES, BackgroundIndexer

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Searches take milliseconds to a second; graph walks and index runs much longer.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Gauges read from the database are recomputed at most this often, however often Prometheus scrapes.
CACHE_SECONDS = 5.0
_QUERY_SECONDS = 3.0
# pgcode_tool_errors_total's kinds (see server/errors.py's error_kind); anything else is "other".
ERROR_KINDS = (
    "invalid_argument",
    "not_found",
    "denied",
    "read_only",
    "busy",
    "timeout",
    "unreachable",
    "refused_write",
    "database",
    "internal",
    "other",
)

_VECTORS_PENDING = """
SELECT r.name,
       (SELECT count(DISTINCT c.content_hash) FROM chunks c
        WHERE c.repository_id = r.id AND c.embed
          AND NOT EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $1 AND v.content_hash = c.content_hash)) AS pending
FROM repositories r
ORDER BY r.name
"""


class WatcherLag:
    """The watcher-lag gauge's view of the indexer's events: when each queued path was first seen
    changed. A path stays "unprocessed" from its first event until a batch containing it has ended
    without putting it back in the queue."""

    def __init__(self) -> None:
        self._first_seen: dict[int, dict[str, float]] = {}

    def queued(self, repository_id: int, paths: Set[str]) -> None:
        now = time.monotonic()
        seen = self._first_seen.setdefault(repository_id, {})
        for rel in paths:
            seen.setdefault(rel, now)

    def batch_started(self, repository_id: int, paths: Set[str]) -> None:
        pass  # in flight, its paths keep their times until the batch is done

    def batch_done(self, repository_id: int, paths_done: Set[str], still_pending: Set[str]) -> None:
        seen = self._first_seen.get(repository_id)
        if seen:
            # A path edited again while its batch ran, or put back by a failed one, keeps its time.
            for rel in paths_done - still_pending:
                seen.pop(rel, None)

    def dropped(self, repository_id: int) -> None:
        self._first_seen.pop(repository_id, None)

    def lag_seconds(self) -> float:
        """now - the oldest change not yet stored, over every repository this process owns; 0 when idle."""
        return max(self.lag_by_repository().values(), default=0.0)

    def lag_by_repository(self) -> dict[int, float]:
        """now - the oldest change not yet stored, per repository with changes waiting."""
        now = time.monotonic()
        return {rid: max(0.0, now - min(seen.values())) for rid, seen in list(self._first_seen.items()) if seen}


class CountingEmbedder(Embedder):
    """The loaded model, counting the chunk texts it embeds for the index (queries are not counted)."""

    def __init__(self, inner: Embedder, counter: Counter, seconds: Counter | None = None) -> None:
        self.__dict__.update(inner.__dict__)
        self._chunk_counter = counter
        self._seconds_counter = seconds

    def embed_documents(
        self, texts: Sequence[str], batch_size: int = 16, languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        started = time.perf_counter()
        vectors = super().embed_documents(texts, batch_size=batch_size, languages=languages)
        self._chunk_counter.inc(len(vectors))
        if self._seconds_counter is not None:  # throughput = rate(chunks) / rate(seconds)
            self._seconds_counter.inc(time.perf_counter() - started)
        return vectors


class Metrics:
    """One registry per process (and per app in tests): never the global default registry, so two
    servers in one interpreter do not share counters."""

    def __init__(self, *, role: str) -> None:
        self.role = role
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self.tool_requests = Counter(
            "pgcode_tool_requests",
            "MCP tool calls, by tool and outcome (ok or error).",
            ["tool", "status"],
            registry=self.registry,
        )
        self.tool_latency = Histogram(
            "pgcode_tool_latency_seconds",
            "Time to answer an MCP tool call, by tool.",
            ["tool"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.embed_chunks = Counter(
            "pgcode_embed_chunks",
            "Chunk texts embedded by this process for the index.",
            registry=self.registry,
        )
        self.embed_seconds = Counter(
            "pgcode_embed_seconds",
            "Time the model spent embedding chunk texts for the index (chunks per second: the ratio of the rates).",
            registry=self.registry,
        )
        self.tool_errors = Counter(
            "pgcode_tool_errors",
            "Failed MCP tool calls, by tool and kind of failure.",
            ["tool", "kind"],
            registry=self.registry,
        )
        self.db: Database | None = None
        self.indexer: BackgroundIndexer | None = None
        self.watcher_lag = WatcherLag()  # subscribed to the indexer's events by whoever builds it
        self.model_key: str | None = None
        self._tools: frozenset[str] = frozenset()
        self._vectors: dict[str, int] | None = None
        self._replica: ReplicaLag | None = None
        self._vectors_at = -math.inf
        self._refresh_lock = anyio.Lock()
        self.registry.register(_LiveCollector(self))

    def bind(self, db: Database, indexer: BackgroundIndexer | None, model_key: str) -> None:
        self.db, self.indexer, self.model_key = db, indexer, model_key

    def known_tools(self, names: Iterable[str]) -> None:
        """Start every tool's series at 0, so rates and error ratios exist before the first failure."""
        self._tools = frozenset(names)
        for name in self._tools:
            for status in ("ok", "error"):
                self.tool_requests.labels(name, status)
            self.tool_latency.labels(name)
            for kind in ERROR_KINDS:
                self.tool_errors.labels(name, kind)

    def observe_tool(self, name: str, status: str, seconds: float, kind: str | None = None) -> None:
        # A client may call any name: unknown ones share one label, so they cannot grow the series.
        tool = name if name in self._tools else "unknown"
        self.tool_requests.labels(tool, status).inc()
        self.tool_latency.labels(tool).observe(seconds)
        if status == "error":
            self.tool_errors.labels(tool, kind if kind in ERROR_KINDS else "other").inc()

    async def refresh(self) -> None:
        """Recompute the database-backed gauges unless they are fresher than CACHE_SECONDS."""
        if self.db is None or self.model_key is None:
            return
        async with self._refresh_lock:  # concurrent scrapes share one query
            if time.monotonic() - self._vectors_at < CACHE_SECONDS:
                return
            try:
                with anyio.fail_after(_QUERY_SECONDS):
                    async with self.db.pool.acquire() as conn:
                        rows = await conn.fetch(_VECTORS_PENDING, self.model_key)
                    replica = await replica_lag(self.db.pool) if self.db.read_only else None
                self._vectors = {r["name"]: int(r["pending"]) for r in rows}
                self._replica = replica
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                # The scrape still answers (process and tool metrics matter most when the database
                # is in trouble); the gauge is left out rather than shown stale.
                log.warning("metrics_database_unavailable", error=str(exc) or type(exc).__name__)
                self._vectors = None
                self._replica = None
            self._vectors_at = time.monotonic()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def pool_waiting(pool: asyncpg.Pool) -> int:
    """How many acquires wait for a free connection. asyncpg keeps no such count: its queue of free
    connections does, as the futures of the acquires blocked on it (checked by tests/test_ops.py
    against a real pool, so an asyncpg that renames them fails there rather than reading 0)."""
    getters = getattr(getattr(pool, "_queue", None), "_getters", None)
    return sum(1 for waiter in getters if not waiter.done()) if getters is not None else 0


class _LiveCollector(Collector):
    """Gauges read at scrape time from the process's own state (pool, watcher) and the cache."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Metric]:
        m = self.metrics
        info = GaugeMetricFamily(
            "pgcode_info", "pgcode's version and role in this process.", labels=["version", "role"]
        )
        info.add_metric([__version__, m.role], 1)
        yield info
        if m.db is not None:
            pool = m.db.pool
            yield GaugeMetricFamily(
                "pgcode_db_pool_in_use",
                "Database connections checked out of the pool.",
                value=pool.get_size() - pool.get_idle_size(),
            )
            yield GaugeMetricFamily(
                "pgcode_db_pool_max_size", "The pool's maximum size (pool_max_size).", value=pool.get_max_size()
            )
            yield GaugeMetricFamily(
                "pgcode_db_pool_waiting",
                "Requests waiting for a connection of a full pool.",
                value=pool_waiting(pool),
            )
        queue = m.indexer.files_pending() if m.indexer is not None else {}
        yield GaugeMetricFamily(
            "pgcode_index_queue_depth",
            "Changed files queued in this process's watcher or being indexed.",
            value=sum(queue.values()),
        )
        files = GaugeMetricFamily(
            "pgcode_files_pending",
            "Files changed on disk but not yet stored, per repository this process indexes.",
            labels=["repository"],
        )
        for name, count in sorted(queue.items()):
            files.add_metric([name], count)
        yield files
        yield GaugeMetricFamily(
            "pgcode_watcher_lag_seconds",
            "Age of the oldest file change not yet stored (0 when idle).",
            value=m.watcher_lag.lag_seconds() if m.indexer is not None else 0.0,
        )
        followed = m.indexer.watch_states() if m.indexer is not None else {}
        lags = m.watcher_lag.lag_by_repository()
        lag = GaugeMetricFamily(
            "pgcode_index_lag_seconds",
            "Per repository this process follows: age of its oldest file change not yet stored (0 when idle).",
            labels=["repository"],
        )
        states = GaugeMetricFamily(
            "pgcode_watcher_state",
            "Per repository this process follows: 1 for the watcher's current state, 0 for the others.",
            labels=["repository", "state"],
        )
        for rid, (name, current) in sorted(followed.items(), key=lambda item: item[1][0]):
            lag.add_metric([name], lags.get(rid, 0.0))
            for state in STATES:
                states.add_metric([name, state], 1.0 if state == current else 0.0)
        yield lag
        yield states
        if m._replica is not None:  # a reader's database: a standby, or a primary (0)
            yield GaugeMetricFamily(
                "pgcode_replica_lag_seconds",
                "How far the reader's database is behind its primary (0 when caught up, or a primary).",
                value=m._replica.seconds,
            )
            yield GaugeMetricFamily(
                "pgcode_replica_receiving",
                "1 while the reader's standby streams WAL from its primary (or is a primary), 0 when cut off.",
                value=1.0 if m._replica.receiving else 0.0,
            )
        if m._vectors is not None:
            vectors = GaugeMetricFamily(
                "pgcode_vectors_pending",
                "Chunk texts without a vector for the configured model, per repository.",
                labels=["repository"],
            )
            for name, count in sorted(m._vectors.items()):
                vectors.add_metric([name], count)
            yield vectors
