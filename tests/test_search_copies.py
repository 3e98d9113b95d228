"""Older copies beside the live code rank after it; BM25's document frequencies follow the index exactly."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.search import copies
from mcp_server.search.hybrid import search_code

from .test_search import _filters

_PRICING = (
    "def apply_discount(price, percent):\n"
    "    # the discount is a percentage of the price, never below zero\n"
    "    return max(price - price * percent / 100, 0)\n"
)


def test_archive_folders_and_names_are_recognised_and_live_paths_are_not() -> None:
    for path in ("legacy/shop/pricing.py", "src/old_api/x.py", "build/lib/shop/a.py", "vendor/x/y.go", "a.orig.py"):
        assert copies.archived(path), path
    for path in ("src/shop/pricing.py", "src/bold/x.py", "golden/x.py", "utils/deprecation.py", "builder/lib/a.py"):
        assert not copies.archived(path), path


def test_copies_are_grouped_by_their_shared_tail_and_start_where_they_part() -> None:
    groups = copies.copy_groups(
        ["src/shop/pricing.py", "legacy/shop/pricing.py", "src/shop/cart.py", "v1/a.go", "v2/a.go"]
    )
    assert sorted(groups) == [["legacy/shop/pricing.py", "src/shop/pricing.py"], ["v1/a.go", "v2/a.go"]]
    assert copies.copy_roots(["src/shop/pricing.py", "legacy/shop/pricing.py"]) == {
        "src/shop/pricing.py": "src/shop/",
        "legacy/shop/pricing.py": "legacy/shop/",
    }
    assert copies.copy_roots(["shop/a.py", "build/lib/shop/a.py"]) == {
        "shop/a.py": "shop/",
        "build/lib/shop/a.py": "build/lib/shop/",
    }


def test_the_live_copy_is_chosen_by_marker_then_use_then_version() -> None:
    assert copies.stale_paths([["legacy/shop/p.py", "src/shop/p.py"]], {"legacy/shop/p.py": 9}) == {"legacy/shop/p.py"}
    assert copies.stale_paths([["a/shop/p.py", "b/c/shop/p.py"]], {"b/c/shop/p.py": 2}) == {"a/shop/p.py"}
    assert copies.stale_paths([["v1/p.go", "v2/p.go"]], {}) == {"v1/p.go"}


async def test_the_copy_the_repository_imports_ranks_before_an_unmarked_older_copy(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "copies"
    # The live module sits deeper than the copy and is indexed after it (ties go to the first
    # indexed): only the imports can tell them apart.
    (root / "zone" / "core" / "shop").mkdir(parents=True)
    (root / "snapshot" / "shop").mkdir(parents=True)
    (root / "zone" / "__init__.py").write_text("")
    (root / "zone" / "core" / "__init__.py").write_text("")
    (root / "zone" / "core" / "shop" / "__init__.py").write_text("")
    (root / "zone" / "core" / "shop" / "pricing.py").write_text(_PRICING)
    (root / "snapshot" / "shop" / "pricing.py").write_text(_PRICING)
    (root / "checkout.py").write_text(
        "from zone.core.shop.pricing import apply_discount\n\n\ndef total(price):\n"
        "    return apply_discount(price, 10)\n"
    )
    await index_repository(db, settings, root, name="copies")
    result = await search_code(
        db.pool, None, "apply a percentage discount to the price", filters=await _filters(db, "copies"), mode="keyword"
    )
    paths = [h.path for h in result.results]
    assert paths[0] == "zone/core/shop/pricing.py", paths


async def test_an_archived_copy_ranks_after_the_live_code(db: Database, settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "archived"
    (root / "legacy" / "shop").mkdir(parents=True)
    (root / "src" / "shop").mkdir(parents=True)
    (root / "legacy" / "shop" / "pricing.py").write_text(_PRICING)
    (root / "src" / "shop" / "pricing.py").write_text(_PRICING)
    await index_repository(db, settings, root, name="archived")
    result = await search_code(
        db.pool,
        None,
        "apply a percentage discount to the price",
        filters=await _filters(db, "archived"),
        mode="keyword",
    )
    assert [h.path for h in result.results][:2] == ["src/shop/pricing.py", "legacy/shop/pricing.py"]
    assert result.results[1].score < 0.5 * result.results[0].score


async def test_document_frequencies_are_exact_and_follow_the_index(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    from mcp_server.search.frequencies import document_frequencies

    root = tmp_path / "counted"
    root.mkdir()
    (root / "a.py").write_text("def refund(order):\n    return order.refund_total\n")
    await index_repository(db, settings, root, name="counted")
    rid = (await _filters(db, "counted")).repository_id
    async with db.pool.acquire() as conn:
        first = await document_frequencies(conn, "refund orders", [], rid)
        assert first == await document_frequencies(conn, "refund orders", [], rid)  # cached, alike
        chunks = await conn.fetchval("SELECT count(*) FROM chunks WHERE repository_id = $1", rid)
    assert first.chunks == chunks and first.terms["refund"] >= 1
    (root / "b.py").write_text("def partial_refund(order):\n    return refund(order) / 2\n")
    await index_repository(db, settings, root, name="counted")
    async with db.pool.acquire() as conn:
        after = await document_frequencies(conn, "refund orders", [], rid)
        counted = await conn.fetchval(
            "SELECT count(*) FROM chunks WHERE repository_id = $1 AND tsv @@ to_tsquery('simple', 'refund')", rid
        )
    assert after.terms["refund"] == counted > first.terms["refund"]
