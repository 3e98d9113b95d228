"""Embed chunks that have no vector yet for the configured model, in batches, cached by content hash."""

from __future__ import annotations

import functools
from collections.abc import Callable

import anyio
import asyncpg
import numpy as np
import structlog

from ..config import Settings
from ..db.vector_marks import (
    count_pending,
    forget_pending,
    highest_chunks,
    lowest_mark,
    record_progress,
)
from ..db.vectors import ensure_vector_index
from ..embed.model import Embedder
from ..index.chunk import embed_text
from ..index.records import Chunk

log = structlog.get_logger(__name__)

# Keyset pagination by chunk id keeps each page an index scan, however large the backlog.
_PENDING_PAGE = """
SELECT c.id, c.content_hash, c.header, c.content, f.language
FROM chunks c JOIN files f ON f.id = c.file_id
WHERE c.id > $2 AND ($3::int IS NULL OR c.repository_id = $3) AND c.embed
  AND NOT EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $1 AND v.content_hash = c.content_hash)
ORDER BY c.id
LIMIT $4
"""


def embed_page(settings: Settings) -> int:
    """Chunk rows read (and vectors written) per round trip."""
    return max(settings.embed_batch_size * 8, 64)


async def embed_pending(
    pool: asyncpg.Pool,
    embedder: Embedder,
    settings: Settings,
    repository_id: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Embed every chunk text lacking a vector (for one repository, or all); returns how many.
    When it gets through, it moves each repository's embedding mark up to the highest chunk id
    that existed when it started (see pending.py)."""
    async with pool.acquire() as conn:
        storage = await ensure_vector_index(conn, embedder.model_key, embedder.dim, settings)
        marks = await highest_chunks(conn, repository_id)
        total = await count_pending(conn, embedder.model_key, repository_id)
        last_id = await lowest_mark(conn, embedder.model_key, repository_id)
    done = 0
    page = embed_page(settings)
    if progress:
        progress(0, total)
    while True:
        async with pool.acquire() as conn:
            rows = await conn.fetch(_PENDING_PAGE, embedder.model_key, last_id, repository_id, page)
        if not rows:
            break
        last_id = rows[-1]["id"]
        # Identical code is embedded once (in a file of any language that has it: a text read by
        # its language, embed_text "lean-python", is then read as the first of them says).
        unique = {bytes(r["content_hash"]): r for r in rows}
        rows = list(unique.values())
        texts = [embed_text(Chunk(None, 0, 0, r["content"], r["header"])) for r in rows]
        vectors: np.ndarray = await anyio.to_thread.run_sync(
            functools.partial(
                embedder.embed_documents,
                texts,
                batch_size=settings.embed_batch_size,
                languages=[r["language"] for r in rows],
            )
        )
        async with pool.acquire() as conn:
            await conn.executemany(
                # The column is one of two fixed names (db/vectors.py), never user input.
                f"INSERT INTO embeddings (model, content_hash, {storage.column}) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                [(embedder.model_key, r["content_hash"], v) for r, v in zip(rows, vectors)],
            )
        forget_pending()
        done += len(rows)
        if progress:
            progress(done, max(total, done))
    async with pool.acquire() as conn:
        await record_progress(conn, embedder.model_key, marks)
    log.info("embedded", model=embedder.model_key, count=done)
    return done
