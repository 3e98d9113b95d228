"""Half-precision vectors: a model stored as halfvec, its own HNSW index, searched through it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from mcp_server.config import ConfigError, Settings
from mcp_server.db.pool import Database, open_database
from mcp_server.db.vectors import ensure_vector_index, index_name, model_storage
from mcp_server.embed.model import Embedder
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

from ._consistency import scratch_database
from .conftest import write_sample_repo


@pytest.fixture(scope="module")
async def hsettings(settings: Settings, pg_dsn: str) -> AsyncIterator[Settings]:
    """A database of its own: the type is fixed per model, and the session database stores `vector`."""
    async with scratch_database(pg_dsn, f"pgcode_halfvec_{os.getpid()}") as dsn:
        yield replace(settings, database_url=dsn, vector_type="halfvec")


@pytest.fixture(scope="module")
async def hdb(
    hsettings: Settings, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    async with open_database(hsettings) as database:
        root = write_sample_repo(tmp_path_factory.mktemp("half") / "shop-half")
        await index_repository(database, hsettings, root, name="shop-half", embedder=embedder)
        yield database


async def test_vectors_are_stored_as_halfvec(hdb: Database, embedder: Embedder) -> None:
    async with hdb.pool.acquire() as conn:
        storage = await model_storage(conn, embedder.model_key)
        counts = await conn.fetchrow(
            "SELECT count(*) AS n, count(embedding_half) AS half, count(embedding) AS full_ FROM embeddings"
        )
        kind = await conn.fetchval(
            "SELECT pg_typeof(embedding_half)::text FROM embeddings WHERE embedding_half IS NOT NULL LIMIT 1"
        )
    assert storage is not None and storage.vector_type == "halfvec" and storage.dim == embedder.dim
    assert counts["n"] > 20 and counts["half"] == counts["n"] and counts["full_"] == 0
    assert kind == "halfvec"


async def test_a_semantic_search_finds_the_function_through_halfvec(hdb: Database, embedder: Embedder) -> None:
    async with hdb.pool.acquire() as conn:
        repo = await repositories.find(conn, "shop-half")
    for mode in ("semantic", "hybrid"):
        result = await search_code(
            hdb.pool,
            embedder,
            "protect a cookie value against tampering using an HMAC of the secret key",
            filters=Filters(repository_id=repo.id),
            mode=mode,
            limit=5,
        )
        assert result.results[0].symbol == "shop.session.sign_cookie", mode


async def test_the_query_is_cast_to_halfvec_so_the_hnsw_index_is_used(hdb: Database, embedder: Embedder) -> None:
    """The semantic leg's ORDER BY (VectorStorage.distance) matches the index expression; a sample
    repository is small enough that the planner would rather scan, so other scans are off."""
    vector = embedder.embed_query("sign a cookie")
    async with hdb.pool.acquire() as conn:
        storage = await model_storage(conn, embedder.model_key)
        assert storage is not None
        literal = await conn.fetchval("SELECT quote_literal($1::text)", embedder.model_key)
        definition = await conn.fetchval("SELECT pg_get_indexdef($1::regclass)", index_name(embedder.model_key))
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    f"EXPLAIN SELECT v.content_hash FROM embeddings v WHERE v.model = {literal} "
                    f"ORDER BY {storage.distance('$1')} LIMIT 10",
                    vector,
                )
            )
    assert "halfvec_cosine_ops" in definition and f"halfvec({embedder.dim})" in definition
    assert f"Index Scan using {index_name(embedder.model_key)}" in plan, plan


async def test_a_worker_set_to_another_type_is_refused_with_a_sentence(
    hdb: Database, hsettings: Settings, embedder: Embedder
) -> None:
    async with hdb.pool.acquire() as conn:
        with pytest.raises(ValueError, match="stores its vectors as halfvec, not vector"):
            await ensure_vector_index(conn, embedder.model_key, embedder.dim, replace(hsettings, vector_type="vector"))


def test_an_unknown_vector_type_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vector_type.*vector or halfvec"):
        Settings.load({"data_dir": tmp_path}, env={"PGCODE_VECTOR_TYPE": "float8"})
    assert Settings.load({"data_dir": tmp_path}, env={"PGCODE_VECTOR_TYPE": "halfvec"}).vector_type == "halfvec"
