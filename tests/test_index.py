"""Indexing a repository end to end: counts, graph resolution, incremental updates, skips."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import time
from pathlib import Path

import asyncpg
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.errors import InvalidArgument
from mcp_server.indexer.pipeline import IndexReport, index_repository

EXPECTED_FILES = {
    "docs/guide.md",
    "generated/keep.py",
    "lib/Invoice.java",
    "lib/Ledger.cs",
    "lib/inventory.rs",
    "native/checksum.c",
    "native/geometry.cpp",
    "server/main.go",
    "shop/__init__.py",
    "shop/cart.py",
    "shop/pricing.py",
    "shop/session.py",
    "tools/report.rb",
    "web/src/api.ts",
    "web/src/format.ts",
    "web/src/widget.js",
}


async def _repo_id(conn: asyncpg.Connection, name: str) -> int:
    return await conn.fetchval("SELECT id FROM repositories WHERE name = $1", name)


async def _edge(
    conn: asyncpg.Connection, repo: str, source: str, target_name: str, kind: str = "calls"
) -> asyncpg.Record:
    row = await conn.fetchrow(
        """SELECT e.confidence, t.qualified_name AS target FROM edges e
           JOIN symbols s ON s.id = e.source_id LEFT JOIN symbols t ON t.id = e.target_id
           WHERE e.repository_id = (SELECT id FROM repositories WHERE name = $1)
             AND s.qualified_name = $2 AND e.target_name = $3 AND e.kind = $4
           ORDER BY e.line LIMIT 1""",
        repo,
        source,
        target_name,
        kind,
    )
    assert row is not None, f"no {kind} edge {source} -> {target_name}"
    return row


async def test_indexing_stores_every_indexable_file_and_counts_what_it_skipped(
    db: Database, indexed_sample: IndexReport
) -> None:
    async with db.pool.acquire() as conn:
        repo_id = await _repo_id(conn, "shop-shared")
        paths = {r["path"] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", repo_id)}
        counts = await conn.fetchrow(
            """SELECT (SELECT count(*) FROM symbols WHERE repository_id = $1) AS symbols,
                      (SELECT count(*) FROM chunks WHERE repository_id = $1) AS chunks,
                      (SELECT count(*) FROM edges WHERE repository_id = $1) AS edges""",
            repo_id,
        )
    assert paths == EXPECTED_FILES
    assert counts["symbols"] > 50 and counts["chunks"] >= len(EXPECTED_FILES) and counts["edges"] > 50
    skipped = indexed_sample.skipped
    assert skipped["binary"] == 1 and skipped["invalid_utf8"] == 1 and skipped["too_large"] == 1
    assert skipped["ignored"] >= 6  # .log, build/, generated/drop.py, secret_*.py, docs/private/, node_modules/
    async with db.pool.acquire() as conn:
        missing = await conn.fetchval(
            """SELECT count(*) FROM chunks c WHERE c.repository_id = $1 AND c.embed AND NOT EXISTS
               (SELECT 1 FROM embeddings v WHERE v.content_hash = c.content_hash)""",
            repo_id,
        )
    assert missing == 0  # every chunk the model reads has its vector (embedded now, or reused)


@pytest.mark.parametrize(
    ("qualified_name", "kind", "path", "line"),
    [
        ("shop.cart.Cart", "class", "shop/cart.py", 7),
        ("shop.cart.Cart.total", "method", "shop/cart.py", 16),
        ("shop.session.sign_cookie", "function", "shop/session.py", 9),
        ("shop.pricing.TAX_RATE", "variable", "shop/pricing.py", 3),
        ("web.src.api.ApiClient.cartTotal", "method", "web/src/api.ts", 8),
        ("web.src.format.formatPrice", "function", "web/src/format.ts", 2),
        ("web.src.widget.mountWidget", "function", "web/src/widget.js", 14),
        ("server.Server.ServeHTTP", "method", "server/main.go", 14),
        ("com.shop.billing.Invoice.total", "method", "lib/Invoice.java", 14),
        ("adler32", "function", "native/checksum.c", 5),
        ("geo::Point::norm", "method", "native/geometry.cpp", 14),
        ("Shop.Accounting.Ledger.Balance", "method", "lib/Ledger.cs", 15),
        ("Reports::DailyReport#generate", "method", "tools/report.rb", 6),
    ],
)
async def test_each_language_yields_qualified_symbols(
    db: Database, indexed_sample: IndexReport, qualified_name: str, kind: str, path: str, line: int
) -> None:
    async with db.pool.acquire() as conn:
        row = await conn.fetchrow(
            """SELECT s.kind, f.path, s.start_line FROM symbols s JOIN files f ON f.id = s.file_id
               WHERE s.repository_id = (SELECT id FROM repositories WHERE name = 'shop-shared')
                 AND s.qualified_name = $1
               ORDER BY s.end_byte - s.start_byte DESC LIMIT 1""",  # a definition over its declaration
            qualified_name,
        )
    assert row is not None, qualified_name
    assert (row["kind"], row["path"], row["start_line"]) == (kind, path, line)


async def test_rust_symbols_are_qualified_by_module_path(db: Database, indexed_sample: IndexReport) -> None:
    async with db.pool.acquire() as conn:
        names = {
            r[0]
            for r in await conn.fetch(
                "SELECT qualified_name FROM symbols WHERE name = 'take' AND repository_id ="
                " (SELECT id FROM repositories WHERE name = 'shop-shared')"
            )
        }
    assert len(names) == 1 and next(iter(names)).endswith("Inventory::take")


@pytest.mark.parametrize(
    ("source", "target_name", "expected", "confidence"),
    [
        # `from .pricing import apply_discount as discount`
        ("shop.cart.DiscountCart.total", "discount", "shop.pricing.apply_discount", 1.0),
        ("shop.cart.Cart.total", "add_tax", "shop.pricing.add_tax", 1.0),
        ("shop.cart.DiscountCart.checkout", "self.total", "shop.cart.DiscountCart.total", 1.0),
        ("shop.cart.DiscountCart.total", "super().total", "shop.cart.Cart.total", 0.9),
        # `from shop import Cart`, re-exported by shop/__init__.py from shop.cart
        ("shop.session.new_cart_for", "Cart", "shop.cart.Cart", 1.0),
        ("shop.session.new_cart_for", "cart.add", "shop.cart.Cart.add", 0.9),
        ("shop.session.verify_cookie", "sign_cookie", "shop.session.sign_cookie", 1.0),
    ],
)
async def test_python_calls_resolve_through_imports_aliases_self_and_super(
    db: Database, indexed_sample: IndexReport, source: str, target_name: str, expected: str, confidence: float
) -> None:
    async with db.pool.acquire() as conn:
        edge = await _edge(conn, "shop-shared", source, target_name)
    assert edge["target"] == expected
    assert edge["confidence"] == pytest.approx(confidence)


async def test_calls_into_the_standard_library_stay_unresolved(db: Database, indexed_sample: IndexReport) -> None:
    async with db.pool.acquire() as conn:
        edge = await _edge(conn, "shop-shared", "shop.session.sign_cookie", "hmac.new")
    assert edge["target"] is None and edge["confidence"] == 0


async def test_inheritance_edges_point_at_the_base_class(db: Database, indexed_sample: IndexReport) -> None:
    async with db.pool.acquire() as conn:
        edge = await _edge(conn, "shop-shared", "shop.cart.DiscountCart", "Cart", kind="inherits")
    assert edge["target"] == "shop.cart.Cart"


async def test_reindexing_an_unchanged_repository_reads_and_embeds_nothing(
    db: Database, settings: Settings, embedder: Embedder, sample_repo: Path
) -> None:
    await index_repository(db, settings, sample_repo, name="shop-noop", embedder=embedder)
    started = time.perf_counter()
    again = await index_repository(db, settings, sample_repo, name="shop-noop", embedder=embedder)
    elapsed = time.perf_counter() - started
    assert again.files_indexed == 0 and again.files_deleted == 0 and again.vectors_embedded == 0
    assert again.files_unchanged == len(EXPECTED_FILES)
    assert elapsed < 5  # generous: the point is that no file is parsed or embedded


async def _snapshot(conn: asyncpg.Connection, repo: str) -> dict[str, set[tuple[object, ...]]]:
    repo_id = await _repo_id(conn, repo)
    rows = await conn.fetch(
        "SELECT f.path, s.id, s.qualified_name FROM symbols s JOIN files f ON f.id = s.file_id"
        " WHERE s.repository_id = $1",
        repo_id,
    )
    out: dict[str, set[tuple[object, ...]]] = {}
    for r in rows:
        out.setdefault(r["path"], set()).add((r["id"], r["qualified_name"]))
    return out


async def test_incremental_index_changes_exactly_the_rows_of_edited_added_deleted_and_renamed_files(
    db: Database, settings: Settings, embedder: Embedder, sample_repo: Path
) -> None:
    await index_repository(db, settings, sample_repo, name="shop-incr", embedder=embedder)
    async with db.pool.acquire() as conn:
        before = await _snapshot(conn, "shop-incr")

    pricing = sample_repo / "shop" / "pricing.py"
    pricing.write_text(
        pricing.read_text()
        .replace("def add_tax(", "def add_vat(")
        .replace("return amount * (1 + TAX_RATE)", "return round(amount * (1 + TAX_RATE), 2)")
    )
    (sample_repo / "shop" / "refunds.py").write_text(
        "from .pricing import add_vat\n\n\ndef refund(amount: float) -> float:\n    return -add_vat(amount)\n"
    )
    (sample_repo / "server" / "main.go").unlink()
    shutil.move(sample_repo / "tools" / "report.rb", sample_repo / "tools" / "daily_report.rb")

    report = await index_repository(db, settings, sample_repo, name="shop-incr", embedder=embedder)
    assert report.files_indexed == 3  # pricing.py, refunds.py, daily_report.rb
    assert report.files_deleted == 2  # main.go, report.rb
    async with db.pool.acquire() as conn:
        after = await _snapshot(conn, "shop-incr")
        repo_id = await _repo_id(conn, "shop-incr")
        orphans = await conn.fetchval(
            """SELECT (SELECT count(*) FROM symbols s WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = s.file_id))
                    + (SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM files f WHERE f.id = c.file_id))
                    + (SELECT count(*) FROM edges e WHERE NOT EXISTS (SELECT 1 FROM symbols s WHERE s.id = e.source_id))"""
        )
        call = await _edge(conn, "shop-incr", "shop.refunds.refund", "add_vat")
        stale = await _edge(conn, "shop-incr", "shop.cart.Cart.total", "add_tax")
        vectors_for_rename = await conn.fetchval(
            """SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id
               WHERE f.repository_id = $1 AND f.path = 'tools/daily_report.rb'
                 AND EXISTS (SELECT 1 FROM embeddings v WHERE v.content_hash = c.content_hash)""",
            repo_id,
        )

    untouched = set(before) - {"shop/pricing.py", "server/main.go", "tools/report.rb"}
    for path in untouched:
        assert after[path] == before[path], f"{path} changed though its file did not"
    assert "server/main.go" not in after and "tools/report.rb" not in after
    # Same code under a new path: the same symbols, only the module's own name follows the path.
    assert {q for _, q in after["tools/daily_report.rb"]} - {"tools.daily_report"} == (
        {q for _, q in before["tools/report.rb"]} - {"tools.report"}
    )
    assert "shop.pricing.add_vat" in {q for _, q in after["shop/pricing.py"]}
    assert "shop.pricing.add_tax" not in {q for _, q in after["shop/pricing.py"]}
    assert orphans == 0
    assert call["target"] == "shop.pricing.add_vat"
    assert stale["target"] is None  # cart.py still calls add_tax, which no longer exists
    assert vectors_for_rename > 0
    # Only the edited and new code needed new vectors; the renamed file reused its own.
    assert 0 < report.vectors_embedded <= 4


async def test_a_file_that_turns_binary_is_dropped_from_the_index(
    db: Database, settings: Settings, sample_repo: Path
) -> None:
    await index_repository(db, settings, sample_repo, name="shop-binary")
    target = sample_repo / "shop" / "pricing.py"
    target.write_bytes(b"\x00\x01\x02 not text any more")
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10_000_000))
    report = await index_repository(db, settings, sample_repo, name="shop-binary")
    assert report.skipped["binary"] == 2
    async with db.pool.acquire() as conn:
        paths = {
            r[0]
            for r in await conn.fetch(
                "SELECT path FROM files WHERE repository_id = $1", await _repo_id(conn, "shop-binary")
            )
        }
    assert "shop/pricing.py" not in paths


async def test_indexing_a_missing_folder_is_a_clear_error(db: Database, settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="does not exist"):
        await index_repository(db, settings, tmp_path / "nope")


async def test_a_name_taken_by_another_folder_is_refused(
    db: Database, settings: Settings, sample_repo: Path, tmp_path: Path
) -> None:
    await index_repository(db, settings, sample_repo, name="shop-taken")
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(InvalidArgument, match="taken"):
        await index_repository(db, settings, other, name="shop-taken")


async def test_pending_vectors_are_counted_above_the_mark_the_last_embedding_pass_left(
    db: Database, settings: Settings, embedder: Embedder, sample_repo: Path
) -> None:
    from mcp_server.db.vector_marks import count_pending, hold_chunk_writes
    from mcp_server.indexer.embed import embed_pending

    await index_repository(db, settings, sample_repo, name="shop-mark", embedder=embedder)
    async with db.pool.acquire() as conn:
        rid = await _repo_id(conn, "shop-mark")
        mark = await conn.fetchval(
            "SELECT through_chunk FROM vector_progress WHERE model = $1 AND repository_id = $2", embedder.model_key, rid
        )
        assert mark == await conn.fetchval("SELECT max(id) FROM chunks WHERE repository_id = $1", rid)
        assert await count_pending(conn, embedder.model_key, rid) == 0

    # New text above the mark is pending until a pass embeds it and moves the mark past it.
    (sample_repo / "shop" / "refunds.py").write_text(
        'def refund_marked_order(order_id):\n    """Give the customer back what a marked order cost."""\n'
        "    return order_id * 17 + 424242\n"
    )
    await index_repository(db, settings, sample_repo, name="shop-mark")
    async with db.pool.acquire() as conn:
        assert await count_pending(conn, embedder.model_key, rid) == 1
        assert await count_pending(conn, embedder.model_key, None) >= 1
    assert await embed_pending(db.pool, embedder, settings, rid) == 1
    async with db.pool.acquire() as conn:
        assert await count_pending(conn, embedder.model_key, rid) == 0
        assert await conn.fetchval(
            "SELECT through_chunk FROM vector_progress WHERE model = $1 AND repository_id = $2", embedder.model_key, rid
        ) == await conn.fetchval("SELECT max(id) FROM chunks WHERE repository_id = $1", rid)

    # A writer still inside its transaction holds the mark back: the embedder waits for it, so a
    # chunk id taken before the mark moves is never left below it without a vector.
    async with db.pool.acquire() as writer, db.pool.acquire() as conn:
        tx = writer.transaction()
        await tx.start()
        await hold_chunk_writes(writer, rid)
        embedding = asyncio.ensure_future(embed_pending(db.pool, embedder, settings, rid))
        await asyncio.sleep(0.5)
        assert not embedding.done()
        await tx.rollback()
        assert await asyncio.wait_for(embedding, 30) == 0
        assert await count_pending(conn, embedder.model_key, rid) == 0


async def test_chunks_left_out_of_the_vector_index_are_searched_by_keyword_and_never_pending(
    db: Database, settings: Settings, embedder: Embedder, sample_repo: Path
) -> None:
    from mcp_server.db.vector_marks import count_pending
    from mcp_server.indexer import repositories
    from mcp_server.search.filters import Filters
    from mcp_server.search.hybrid import search_code

    body = "".join(f"    total_{i} = apply_rounding(total_{i - 1}, step={i})\n" for i in range(1, 100))
    (sample_repo / "shop" / "ledger.py").write_text(
        "import os\nfrom decimal import Decimal\n\n\n"
        "def reconcile_ledger(entries):\n    total_0 = Decimal(0)\n"
        + body
        + "    quokka_tally = total_99\n    return quokka_tally\n"
    )
    await index_repository(db, settings, sample_repo, name="shop-unembedded", embedder=embedder)
    async with db.pool.acquire() as conn:
        repo = await repositories.find(conn, "shop-unembedded")
        rows = await conn.fetch(
            """SELECT c.start_line, c.embed, EXISTS (SELECT 1 FROM embeddings v
                   WHERE v.model = $2 AND v.content_hash = c.content_hash) AS has_vector
               FROM chunks c JOIN files f ON f.id = c.file_id
               WHERE c.repository_id = $1 AND f.path = 'shop/ledger.py' ORDER BY c.start_line""",
            repo.id,
            embedder.model_key,
        )
        # The import preamble and the function's later windows are stored, without vectors.
        assert [(r["embed"], r["has_vector"]) for r in rows][:2] == [(False, False), (True, True)]
        assert len(rows) > 3 and all(not r["embed"] and not r["has_vector"] for r in rows[2:])
        assert await count_pending(conn, embedder.model_key, repo.id) == 0
        stats = await repositories.stats(conn, repo, embedder.model_key)
        assert stats.vectors_pending == 0 and stats.vectors > 0
    filters = Filters(repository_id=repo.id)
    found = await search_code(db.pool, embedder, "quokka_tally", filters=filters, mode="keyword")
    assert found.results and found.results[0].path == "shop/ledger.py" and found.vectors_pending == 0
    unembedded = {(r["start_line"]) for r in rows if not r["embed"]}
    semantic = await search_code(db.pool, embedder, "apply rounding to a total", filters=filters, mode="semantic")
    assert semantic.results
    assert not any(h.path == "shop/ledger.py" and h.start_line in unembedded for h in semantic.results)


async def test_a_pass_that_stores_many_files_leaves_fresh_planner_statistics(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    # Without them the planner takes a new repository for one row per table: a single-identifier
    # search right after the first pass over Django chose a plan that ran past the statement timeout.
    from tests._consistency import write_large_repo

    root = write_large_repo(tmp_path / "many", 80)
    async with db.pool.acquire() as conn:
        before = await conn.fetchval("SELECT now()")
    await index_repository(db, settings, root, name="many-files")
    async with db.pool.acquire() as conn:
        analyzed = {
            r["relname"]: r["last_analyze"]
            for r in await conn.fetch(
                "SELECT relname, last_analyze FROM pg_stat_user_tables"
                " WHERE relname IN ('files', 'symbols', 'edges', 'chunks')"
            )
        }
    assert set(analyzed) == {"files", "symbols", "edges", "chunks"}
    assert all(when is not None and when >= before for when in analyzed.values()), analyzed


async def test_an_index_made_by_an_older_format_parses_again_and_keeps_its_vectors(
    db: Database, settings: Settings, embedder: Embedder, sample_repo: Path
) -> None:
    await index_repository(db, settings, sample_repo, name="shop-format", embedder=embedder)
    async with db.pool.acquire() as conn:
        repo_id = await _repo_id(conn, "shop-format")
        # What a version before INDEX_FORMAT recorded: the bare content hash, the rules alone.
        await conn.execute(
            "UPDATE repositories SET settings = settings || jsonb_build_object('content_rules',"
            " split_part(settings->>'content_rules', ';', 1)) WHERE id = $1",
            repo_id,
        )
        for r in await conn.fetch("SELECT id, path FROM files WHERE repository_id = $1", repo_id):
            data = (sample_repo / r["path"]).read_bytes()
            await conn.execute(
                "UPDATE files SET content_hash = $2 WHERE id = $1",
                r["id"],
                hashlib.blake2b(data, digest_size=16).digest(),
            )
    again = await index_repository(db, settings, sample_repo, name="shop-format", embedder=embedder)
    assert again.files_indexed == len(EXPECTED_FILES) and again.files_unchanged == 0
    assert again.vectors_embedded == 0  # the chunk texts are the same: their vectors are reused
