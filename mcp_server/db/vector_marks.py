"""How many chunk texts still wait for a vector: counted above each repository's embedding mark,
and remembered for a moment for searches."""

from __future__ import annotations

import time

import asyncpg

# Per repository, only the chunks above the mark the last complete embedding pass left
# (vector_progress; see 0005_vector_progress.sql) can lack a vector. Distinct texts per repository:
# the same text in two repositories counts in each.
_COUNT_PENDING = """
SELECT coalesce(sum(n), 0) FROM repositories r CROSS JOIN LATERAL (
    SELECT count(DISTINCT c.content_hash) AS n FROM chunks c
    WHERE c.repository_id = r.id AND c.embed
      AND c.id > coalesce((SELECT p.through_chunk FROM vector_progress p
                           WHERE p.model = $1 AND p.repository_id = r.id), 0)
      AND NOT EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $1 AND v.content_hash = c.content_hash)
) pending
WHERE $2::int IS NULL OR r.id = $2
"""

# Writers of chunks hold this (shared) for their transaction; the embedder takes it exclusively
# for a moment before reading the highest chunk id, so no chunk below that id is still uncommitted.
CHUNK_WRITES = 0x7068  # first key of the advisory lock; the second is the repository id
# Writers also hold (CHUNK_WRITES, EVERY_REPOSITORY) shared, which the vector collector takes
# exclusively to delete vectors no committed chunk uses while no new chunk can appear.
EVERY_REPOSITORY = -1  # never a repository id (they count from 1)

# Every search reports the count (is semantic ranking complete?), and counting is an anti-join
# over the scope's chunks: tens of milliseconds on a large repository, more than the search
# itself. Writes made by this process forget the remembered counts at once; another process's
# writes (a separate `pgcode worker`) show within MAX_AGE seconds.
MAX_AGE = 2.0
_remembered: dict[tuple[int, str, int | None], tuple[float, int]] = {}


async def count_pending(conn: asyncpg.Connection, model: str, repository_id: int | None) -> int:
    return int(await conn.fetchval(_COUNT_PENDING, model, repository_id))


async def recent_pending(pool: asyncpg.Pool, model: str, repository_id: int | None) -> int:
    """count_pending, or its value from less than MAX_AGE seconds ago."""
    key = (id(pool), model, repository_id)
    now = time.monotonic()
    seen = _remembered.get(key)
    if seen is not None and now - seen[0] < MAX_AGE:
        return seen[1]
    async with pool.acquire() as conn:
        count = await count_pending(conn, model, repository_id)
    if len(_remembered) > 1024:
        _remembered.clear()
    _remembered[key] = (now, count)
    return count


def forget_pending() -> None:
    """Chunks or vectors changed here: the next search counts afresh."""
    _remembered.clear()


async def hold_chunk_writes(conn: asyncpg.Connection, repository_id: int) -> None:
    """Inside a transaction that adds chunks to the repository: until it ends, no embedding mark
    can pass its chunk ids, and no vector its chunks may use is collected."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock_shared($1, $2), pg_advisory_xact_lock_shared($1, $3)",
        CHUNK_WRITES,
        repository_id,
        EVERY_REPOSITORY,
    )


async def highest_chunks(conn: asyncpg.Connection, repository_id: int | None) -> dict[int, int]:
    """Each repository's highest chunk id, once every transaction adding chunks to it has ended:
    every chunk at or below it is committed and visible to what runs next."""
    ids = (
        [repository_id]
        if repository_id is not None
        else [r["id"] for r in await conn.fetch("SELECT id FROM repositories ORDER BY id")]
    )
    marks: dict[int, int] = {}
    for rid in ids:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", CHUNK_WRITES, rid)
            high = await conn.fetchval("SELECT max(id) FROM chunks WHERE repository_id = $1", rid)
        if high is not None:
            marks[rid] = high
    return marks


async def lowest_mark(conn: asyncpg.Connection, model: str, repository_id: int | None) -> int:
    """The lowest embedding mark in scope (0 where a repository has none): no chunk at or below it
    lacks a vector, so an embedding pass can start its pages there."""
    return int(
        await conn.fetchval(
            """SELECT coalesce(min(coalesce(p.through_chunk, 0)), 0) FROM repositories r
           LEFT JOIN vector_progress p ON p.repository_id = r.id AND p.model = $1
           WHERE $2::int IS NULL OR r.id = $2""",
            model,
            repository_id,
        )
    )


async def record_progress(conn: asyncpg.Connection, model: str, marks: dict[int, int]) -> None:
    """Every chunk at or below each mark now has a vector for the model."""
    if marks:
        try:
            await conn.execute(
                """INSERT INTO vector_progress (model, repository_id, through_chunk)
                   SELECT $1, m.rid, m.high FROM unnest($2::int[], $3::bigint[]) AS m(rid, high)
                   JOIN repositories r ON r.id = m.rid
                   ON CONFLICT (model, repository_id)
                   DO UPDATE SET through_chunk = greatest(vector_progress.through_chunk, EXCLUDED.through_chunk)""",
                model,
                list(marks),
                list(marks.values()),
            )
        except asyncpg.ForeignKeyViolationError:
            pass  # a repository removed after the join saw it: nothing of it is left to mark
    forget_pending()
