"""Delete vectors no chunk uses any more, once they have gone unused for the grace period."""

from __future__ import annotations

from dataclasses import dataclass

import anyio
import asyncpg
import structlog

from ..db.vector_marks import CHUNK_WRITES, EVERY_REPOSITORY

log = structlog.get_logger(__name__)

BATCH = 500  # vectors deleted per transaction: chunk writers wait for one batch at most
_RUN_LOCK = 0x70677663  # "pgvc": one collection at a time, whichever process runs it
# While chunk writers are busy (a cold index), a batch waits for a gap between their transactions
# this many times, then the run gives up until the next one: waiting in the lock queue would hold
# every new writer off behind it.
_GAP_TRIES = 20
_GAP_PAUSE = 0.05
_MAX_EVERY = 300.0

# Vectors of texts no chunk has (or none the model reads: see chunks.embed), noted with the time they were first seen so. Read against the
# chunks' content-hash index; vectors of every model (one no longer configured too).
_NOTE_UNUSED = """
INSERT INTO vector_orphans (model, content_hash)
SELECT v.model, v.content_hash FROM embeddings v
WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = v.content_hash AND c.embed)
ON CONFLICT DO NOTHING
"""

# A repository about to be removed: every vector its chunks use (those still used elsewhere are
# forgotten by the next collection), cheaper than the whole-table pass.
_NOTE_REPOSITORY = """
INSERT INTO vector_orphans (model, content_hash)
SELECT DISTINCT v.model, v.content_hash FROM chunks c JOIN embeddings v ON v.content_hash = c.content_hash
WHERE c.repository_id = $1
ON CONFLICT DO NOTHING
"""

_FORGET_USED = """
DELETE FROM vector_orphans o WHERE EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = o.content_hash AND c.embed)
"""

# Run with chunk writers held off, so "no chunk uses it" cannot change under the statement: a vector
# deleted here is one no committed chunk has, and any chunk stored later finds it missing and gets
# it embedded again (no embedding mark can pass a chunk whose vector is gone).
_COLLECT = """
WITH due AS (
    SELECT o.model, o.content_hash FROM vector_orphans o
    WHERE o.since <= now() - make_interval(secs => $1)
    ORDER BY o.since
    LIMIT $2
), gone AS (
    DELETE FROM embeddings v USING due d
    WHERE v.model = d.model AND v.content_hash = d.content_hash
      AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = d.content_hash AND c.embed)
    RETURNING 1
), settled AS (
    DELETE FROM vector_orphans o USING due d WHERE o.model = d.model AND o.content_hash = d.content_hash
)
SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM gone) AS gone
"""


@dataclass(frozen=True, slots=True)
class Collection:
    vectors: int  # deleted by this run
    waiting: int  # unused, still within the grace period (or left for the next run)
    ran: bool = True  # False: another process was collecting


def every(grace_seconds: float) -> float:
    """How often the background indexer collects: a quarter of the grace period, within 1 s to 5 min."""
    return min(max(grace_seconds / 4, 1.0), _MAX_EVERY)


async def note_repository(conn: asyncpg.Connection, repository_id: int) -> None:
    """Inside the transaction that removes the repository: its vectors start their grace period now."""
    await conn.execute(_NOTE_REPOSITORY, repository_id)


async def collect_vectors(conn: asyncpg.Connection, grace_seconds: float) -> Collection:
    """Note the vectors no chunk uses, forget those used again, and delete the ones unused for longer
    than `grace_seconds`, a batch per transaction."""
    if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _RUN_LOCK):
        return Collection(0, 0, ran=False)
    try:
        await conn.execute(_NOTE_UNUSED)
        await conn.execute(_FORGET_USED)
        deleted = 0
        while True:
            batch = await _collect_batch(conn, grace_seconds)
            if batch is None:
                break
            due, gone = batch
            deleted += gone
            if due < BATCH:
                break
        waiting = int(await conn.fetchval("SELECT count(*) FROM vector_orphans"))
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _RUN_LOCK)
    if deleted:
        log.info("vectors_collected", count=deleted, waiting=waiting)
    return Collection(deleted, waiting)


async def _collect_batch(conn: asyncpg.Connection, grace_seconds: float) -> tuple[int, int] | None:
    """(rows due, vectors deleted) for one batch; None while chunk writers leave no gap."""
    for _ in range(_GAP_TRIES):
        async with conn.transaction():
            if await conn.fetchval("SELECT pg_try_advisory_xact_lock($1, $2)", CHUNK_WRITES, EVERY_REPOSITORY):
                row = await conn.fetchrow(_COLLECT, float(grace_seconds), BATCH)
                return int(row["due"]), int(row["gone"])
        await anyio.sleep(_GAP_PAUSE)
    log.info("vector_collection_deferred", reason="chunk writers busy")
    return None
