"""Per-model HNSW indexes over the shared embeddings table (pgvector needs a fixed dimension)."""

from __future__ import annotations

import hashlib

import asyncpg

from ..config import Settings

_LOCK_KEY = 0x70677678  # serialises index creation across processes


def index_name(model: str) -> str:
    return "embeddings_hnsw_" + hashlib.sha1(model.encode()).hexdigest()[:12]


async def ensure_vector_index(conn: asyncpg.Connection, model: str, dim: int, settings: Settings) -> None:
    """Create the partial HNSW index for `model` once (cosine distance)."""
    row = await conn.fetchrow("SELECT dim FROM vector_indexes WHERE model = $1", model)
    if row is not None:
        if row["dim"] != dim:
            raise ValueError(f"model {model!r} was indexed with dimension {row['dim']}, not {dim}")
        return
    name = index_name(model)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        if await conn.fetchval("SELECT 1 FROM vector_indexes WHERE model = $1", model):
            return
        # Identifiers cannot be bound as parameters: the name is a hex digest and dim/m/ef are ints,
        # and the model literal is quoted by quote_literal on the server.
        literal = await conn.fetchval("SELECT quote_literal($1::text)", model)
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
            f"WITH (m = {int(settings.hnsw_m)}, ef_construction = {int(settings.hnsw_ef_construction)}) "
            f"WHERE model = {literal}"
        )
        await conn.execute("INSERT INTO vector_indexes (model, dim, index_name) VALUES ($1, $2, $3)", model, dim, name)


async def model_dim(conn: asyncpg.Connection, model: str) -> int | None:
    return await conn.fetchval("SELECT dim FROM vector_indexes WHERE model = $1", model)
