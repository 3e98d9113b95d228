"""How many chunk texts still wait for a vector: counted, and remembered for a moment for searches."""

from __future__ import annotations

import time

import asyncpg

_COUNT_PENDING = """
SELECT count(DISTINCT c.content_hash) FROM chunks c
WHERE ($2::int IS NULL OR c.repository_id = $2)
  AND NOT EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $1 AND v.content_hash = c.content_hash)
"""

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
