"""Per-model HNSW indexes over the shared embeddings table (pgvector needs a fixed dimension)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import asyncpg

from ..config import Settings

_LOCK_KEY = 0x70677678  # serialises index creation across processes

# vector type -> (embeddings column holding it, HNSW operator class for cosine distance)
_STORAGE = {"vector": ("embedding", "vector_cosine_ops"), "halfvec": ("embedding_half", "halfvec_cosine_ops")}


@dataclass(frozen=True, slots=True)
class VectorStorage:
    """How one model's vectors are stored: dimension and pgvector type (vector or halfvec)."""

    dim: int
    vector_type: str = "vector"

    @property
    def column(self) -> str:
        return _STORAGE[self.vector_type][0]

    @property
    def indexed(self) -> str:
        """The HNSW index's expression, which a query must repeat word for word to use it."""
        return f"(v.{self.column}::{self.vector_type}({int(self.dim)}))"

    def distance(self, param: str) -> str:
        """Cosine distance from a stored vector to a bound query vector, cast to the indexed type."""
        return f"({self.indexed} <=> {param}::{self.vector_type}({int(self.dim)}))"


def index_name(model: str) -> str:
    return "embeddings_hnsw_" + hashlib.sha1(model.encode()).hexdigest()[:12]


async def ensure_vector_index(conn: asyncpg.Connection, model: str, dim: int, settings: Settings) -> VectorStorage:
    """Create the partial HNSW index for `model` once (cosine distance), as settings.vector_type;
    returns how the model's vectors are stored."""
    row = await conn.fetchrow("SELECT dim, vector_type FROM vector_indexes WHERE model = $1", model)
    if row is not None:
        if row["dim"] != dim:
            raise ValueError(f"model {model!r} was indexed with dimension {row['dim']}, not {dim}")
        if row["vector_type"] != settings.vector_type:
            raise ValueError(
                f"model {model!r} stores its vectors as {row['vector_type']}, not {settings.vector_type}: "
                f"set vector_type = {row['vector_type']!r} (the type is fixed when a model is first embedded; "
                "a new database changes it)"
            )
        return VectorStorage(dim, row["vector_type"])
    storage = VectorStorage(dim, settings.vector_type)
    name = index_name(model)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _LOCK_KEY)
        if await conn.fetchval("SELECT 1 FROM vector_indexes WHERE model = $1", model):
            return await _recorded(conn, model, dim)
        # Identifiers cannot be bound as parameters: the name is a hex digest, the column and
        # operator class come from _STORAGE, dim/m/ef are ints, and the model literal is quoted by
        # quote_literal on the server.
        literal = await conn.fetchval("SELECT quote_literal($1::text)", model)
        column, opclass = _STORAGE[storage.vector_type]
        await conn.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            f"USING hnsw (({column}::{storage.vector_type}({int(dim)})) {opclass}) "
            f"WITH (m = {int(settings.hnsw_m)}, ef_construction = {int(settings.hnsw_ef_construction)}) "
            f"WHERE model = {literal}"
        )
        await conn.execute(
            "INSERT INTO vector_indexes (model, dim, index_name, vector_type) VALUES ($1, $2, $3, $4)",
            model,
            dim,
            name,
            storage.vector_type,
        )
    return storage


async def _recorded(conn: asyncpg.Connection, model: str, dim: int) -> VectorStorage:
    kind = await conn.fetchval("SELECT vector_type FROM vector_indexes WHERE model = $1", model)
    return VectorStorage(dim, kind)


async def model_storage(conn: asyncpg.Connection, model: str) -> VectorStorage | None:
    """How `model`'s vectors are stored, or None before anything was embedded with it."""
    row = await conn.fetchrow("SELECT dim, vector_type FROM vector_indexes WHERE model = $1", model)
    return None if row is None else VectorStorage(row["dim"], row["vector_type"])
