"""The graph service on the sample repository: lookup, outline, definitions, walks, impact, repo map."""

from __future__ import annotations

import math
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.errors import InvalidArgument, PathOutsideRoot, RepositoryNotFound
from mcp_server.graph.models import AmbiguousSymbol
from mcp_server.graph.repomap import pagerank, repo_map
from mcp_server.graph.symbols import file_outline, find_symbol, get_symbol, goto_definition, resolve_symbol
from mcp_server.graph.walk import (
    call_path,
    find_callees,
    find_callers,
    find_references,
    get_dependencies,
    get_dependents,
    impact_analysis,
)
from mcp_server.index.layout import is_test_path
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import IndexReport, index_repository

REPO = "shop-shared"
pytestmark = pytest.mark.usefixtures("indexed_sample")

_APP_CORE = '''"""Core arithmetic."""


def helper(x: int) -> int:
    return x + 1


def compute(x: int) -> int:
    return helper(x) * 2


def top() -> int:
    return left() + right()


def left() -> int:
    return bottom()


def right() -> int:
    return bottom()


def bottom() -> int:
    return 0
'''


@pytest.fixture(scope="module")
async def app_repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small repository with tests that call into it, a diamond of calls and a 450-line function."""
    root = tmp_path_factory.mktemp("graph") / "graph-app"
    (root / "app").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "core.py").write_text(_APP_CORE)
    (root / "app" / "service.py").write_text(
        "from app.core import compute\n\n\ndef serve() -> int:\n    return compute(3)\n"
    )
    (root / "tests" / "test_core.py").write_text(
        "from app.core import compute\n\n\ndef test_compute() -> None:\n    assert compute(1) == 4\n"
    )
    body = "".join(f"    v{i} = {i}\n" for i in range(450))
    (root / "app" / "long.py").write_text(f'"""Long."""\n\n\ndef long_function() -> int:\n{body}    return 0\n')
    await index_repository(db, settings, root, name="graph-app")
    return root


# -- resolve_symbol ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "qualified_name", "line"),
    [
        ("shop.cart.Cart.total", "shop.cart.Cart.total", 16),
        ("Cart.total", "shop.cart.Cart.total", 16),
        ("DiscountCart.total", "shop.cart.DiscountCart.total", 28),
        ("apply_discount", "shop.pricing.apply_discount", 6),
        ("geo::Point::norm", "geo::Point::norm", 14),  # the definition, not the declaration on line 8
        ("Point::norm", "geo::Point::norm", 14),
        ("Point", "geo::Point", 5),  # the class, not its constructor
        ("Invoice", "com.shop.billing.Invoice", 6),  # the class, not the file's module
        ("DailyReport#generate", "Reports::DailyReport#generate", 6),
        ("shop.Cart", "shop.cart.Cart", 7),  # re-exported by shop/__init__.py
    ],
)
async def test_resolve_symbol_accepts_qualified_names_suffixes_and_re_exports(
    db: Database, query: str, qualified_name: str, line: int
) -> None:
    ref = await resolve_symbol(db.pool, query, REPO)
    assert (ref.qualified_name, ref.start_line, ref.repository) == (qualified_name, line, REPO)


async def test_resolve_symbol_accepts_an_id_and_a_kind(db: Database) -> None:
    cart = await resolve_symbol(db.pool, "shop.cart.Cart", REPO)
    assert (await resolve_symbol(db.pool, str(cart.id), REPO)).qualified_name == "shop.cart.Cart"
    ctor = await resolve_symbol(db.pool, "Invoice", REPO, kind="constructor")
    assert ctor.qualified_name == "com.shop.billing.Invoice.Invoice"


async def test_an_ambiguous_name_lists_its_candidates(db: Database) -> None:
    with pytest.raises(AmbiguousSymbol) as caught:
        await resolve_symbol(db.pool, "total", REPO)
    message = str(caught.value)
    assert "shop.cart.Cart.total (method) shop/cart.py:16" in message
    assert "shop.cart.DiscountCart.total (method) shop/cart.py:28" in message
    assert "com.shop.billing.Invoice.total (method) lib/Invoice.java:14" in message
    assert "qualified name" in message and "id" in message
    assert {c.qualified_name for c in caught.value.candidates} == {
        "shop.cart.Cart.total",
        "shop.cart.DiscountCart.total",
        "com.shop.billing.Invoice.total",
    }
    assert isinstance(caught.value, InvalidArgument)


async def test_an_unknown_symbol_suggests_close_names_and_find_symbol(db: Database) -> None:
    with pytest.raises(InvalidArgument, match="find_symbol") as caught:
        await resolve_symbol(db.pool, "apply_discont", REPO)
    assert "shop.pricing.apply_discount" in str(caught.value)


async def test_without_a_repository_every_repository_is_searched(db: Database, app_repo: Path) -> None:
    ref = await resolve_symbol(db.pool, "app.core.helper", None)
    assert (ref.repository, ref.path, ref.start_line) == ("graph-app", "app/core.py", 4)


# -- find_symbol ---------------------------------------------------------------------------------------


async def test_find_symbol_ranks_exact_then_suffix_then_prefix_then_fuzzy(db: Database) -> None:
    found = await find_symbol(db.pool, "total", REPO)
    assert [(s.qualified_name, s.match) for s in found.symbols] == [
        ("shop.cart.Cart.total", "exact"),
        ("shop.cart.DiscountCart.total", "exact"),
        ("com.shop.billing.Invoice.total", "exact"),
        ("server.cartTotal", "suffix"),
        ("web.src.api.ApiClient.cartTotal", "suffix"),
    ]
    dotted = await find_symbol(db.pool, "Cart.total", REPO)
    assert (dotted.symbols[0].qualified_name, dotted.symbols[0].match) == ("shop.cart.Cart.total", "suffix")
    prefix = await find_symbol(db.pool, "apply", REPO)
    assert [(s.qualified_name, s.match) for s in prefix.symbols] == [("shop.pricing.apply_discount", "prefix")]
    fuzzy = await find_symbol(db.pool, "aply_discount", REPO)
    assert (fuzzy.symbols[0].qualified_name, fuzzy.symbols[0].match) == ("shop.pricing.apply_discount", "fuzzy")
    hit = fuzzy.symbols[0]
    assert (hit.repository, hit.path, hit.start_line, hit.end_line, hit.kind) == (
        REPO,
        "shop/pricing.py",
        6,
        8,
        "function",
    )


async def test_find_symbol_is_case_insensitive_after_exact_and_filters_by_kind(db: Database) -> None:
    found = await find_symbol(db.pool, "cart", REPO)
    assert [(s.qualified_name, s.match) for s in found.symbols[:2]] == [
        ("shop.cart", "exact"),
        ("shop.cart.Cart", "exact"),
    ]
    classes = await find_symbol(db.pool, "cart", REPO, kind="class")
    assert {s.kind for s in classes.symbols} == {"class"}
    assert "web.src.widget.CartWidget" in {s.qualified_name for s in classes.symbols}


async def test_find_symbol_flags_a_cut_list(db: Database) -> None:
    found = await find_symbol(db.pool, "total", REPO, limit=2)
    assert len(found.symbols) == 2 and found.truncated
    assert not (await find_symbol(db.pool, "checkout", REPO)).truncated


# -- get_symbol ----------------------------------------------------------------------------------------


async def test_get_symbol_shows_source_parent_members_and_counts(db: Database) -> None:
    detail = await get_symbol(db.pool, "Cart.total", REPO)
    assert detail.source == (
        "    def total(self) -> float:\n"
        '        """Sum of item prices including tax."""\n'
        "        return add_tax(sum(price for _, price in self.items))"
    )
    assert detail.docstring == "Sum of item prices including tax." and not detail.truncated
    assert detail.parent is not None and detail.parent.qualified_name == "shop.cart.Cart"
    # DiscountCart.total calls it through super(); it calls add_tax, and sum() stays unresolved.
    assert (detail.callers, detail.callees, detail.unresolved_calls) == (1, 1, 1)
    cart = await get_symbol(db.pool, "shop.cart.Cart", REPO)
    assert [(m.name, m.kind, m.start_line) for m in cart.members] == [
        ("__init__", "method", 10),
        ("add", "method", 13),
        ("total", "method", 16),
    ]
    assert cart.source.split("\n")[2] == ""  # blank lines inside the span are kept
    assert cart.references == 5  # two imports, the subclass, the annotation and the call


async def test_get_symbol_caps_long_source(db: Database, app_repo: Path) -> None:
    detail = await get_symbol(db.pool, "long_function", "graph-app")
    lines = detail.source.split("\n")
    assert detail.truncated and len(lines) == 400
    assert lines[0] == "def long_function() -> int:" and lines[399] == "    v398 = 398"


# -- file_outline ----------------------------------------------------------------------------------------


async def test_file_outline_nests_definitions_in_line_order(db: Database) -> None:
    outline = await file_outline(db.pool, "shop/cart.py", REPO)
    assert outline.module == "shop.cart" and outline.language == "python"
    assert [(s.qualified_name, s.depth, s.start_line) for s in outline.symbols] == [
        ("shop.cart.Cart", 0, 7),
        ("shop.cart.Cart.__init__", 1, 10),
        ("shop.cart.Cart.add", 1, 13),
        ("shop.cart.Cart.total", 1, 16),
        ("shop.cart.DiscountCart", 0, 21),
        ("shop.cart.DiscountCart.__init__", 1, 24),
        ("shop.cart.DiscountCart.total", 1, 28),
        ("shop.cart.DiscountCart.checkout", 1, 31),
    ]
    cpp = await file_outline(db.pool, "./native/geometry.cpp", REPO)
    assert [(s.qualified_name, s.depth) for s in cpp.symbols] == [
        ("geo", 0),
        ("geo::Point", 1),
        ("geo::Point::Point", 2),
        ("geo::Point::norm", 2),
        ("geo::Point::x_", 2),  # fields: their types reach members (`p.x_.m()`)
        ("geo::Point::y_", 2),
        ("geo::Point::norm", 1),
    ]


async def test_file_outline_maps_an_absolute_path_inside_a_root(db: Database) -> None:
    async with db.pool.acquire() as conn:
        root = Path((await repositories.find(conn, REPO)).root_path)
    outline = await file_outline(db.pool, str(root / "shop" / "pricing.py"))
    assert (outline.repository, outline.path) == (REPO, "shop/pricing.py")


@pytest.mark.parametrize("path", ["../../etc/passwd", "shop/../../x.py", "/etc/passwd"])
async def test_paths_outside_every_root_are_refused(db: Database, path: str) -> None:
    with pytest.raises(PathOutsideRoot):
        await file_outline(db.pool, path, REPO)


async def test_an_unknown_file_lists_the_closest_indexed_paths(db: Database) -> None:
    with pytest.raises(InvalidArgument, match="shop/cart.py"):
        await file_outline(db.pool, "shop/carts.py", REPO)
    with pytest.raises(InvalidArgument, match="NUL"):
        await file_outline(db.pool, "shop/cart.py\x00", REPO)


# -- goto_definition ---------------------------------------------------------------------------------------


async def test_goto_definition_follows_an_alias_by_name_or_column(db: Database) -> None:
    by_name = await goto_definition(db.pool, "shop/cart.py", 29, name="discount", repository=REPO)
    assert [(d.qualified_name, d.confidence, d.via) for d in by_name.definitions] == [
        ("shop.pricing.apply_discount", 1.0, "calls")
    ]
    # `        return discount(super().total(), self.percent)`: column 16 is the d of discount.
    by_column = await goto_definition(db.pool, "shop/cart.py", 29, column=16, repository=REPO)
    assert by_column.name == "discount"
    assert [d.qualified_name for d in by_column.definitions] == ["shop.pricing.apply_discount"]
    whole_line = await goto_definition(db.pool, "shop/cart.py", 29, repository=REPO)
    assert [(d.qualified_name, d.confidence) for d in whole_line.definitions] == [
        ("shop.pricing.apply_discount", 1.0),
        ("shop.cart.Cart.total", 0.9),
    ]
    assert whole_line.unresolved == ["super"]


async def test_goto_definition_on_a_definition_line_returns_the_definition(db: Database) -> None:
    result = await goto_definition(db.pool, "shop/cart.py", 28, repository=REPO)
    assert [(d.qualified_name, d.via) for d in result.definitions] == [("shop.cart.DiscountCart.total", "definition")]
    base = await goto_definition(db.pool, "shop/cart.py", 21, name="Cart", repository=REPO)
    assert [(d.qualified_name, d.via) for d in base.definitions] == [("shop.cart.Cart", "inherits")]


async def test_goto_definition_explains_an_unresolved_library_call(db: Database) -> None:
    result = await goto_definition(db.pool, "shop/session.py", 11, name="new", repository=REPO)
    assert result.definitions == [] and result.unresolved == ["hmac.new"]
    assert result.note is not None and "hmac.new" in result.note and "library" in result.note


async def test_goto_definition_checks_the_line_and_column(db: Database) -> None:
    with pytest.raises(InvalidArgument, match="line"):
        await goto_definition(db.pool, "shop/cart.py", 33, repository=REPO)
    with pytest.raises(InvalidArgument, match="column"):
        await goto_definition(db.pool, "shop/cart.py", 29, column=500, repository=REPO)


# -- find_references ----------------------------------------------------------------------------------------


async def test_find_references_lists_every_site_with_its_line(db: Database) -> None:
    refs = await find_references(db.pool, "shop.pricing.apply_discount", REPO)
    assert [(r.path, r.line, r.kind, r.source, r.confidence) for r in refs.references] == [
        ("shop/__init__.py", 4, "imports", "shop", 1.0),
        ("shop/cart.py", 4, "imports", "shop.cart", 1.0),
        ("shop/cart.py", 29, "calls", "shop.cart.DiscountCart.total", 1.0),
    ]
    assert refs.references[2].snippet == "return discount(super().total(), self.percent)"
    assert refs.counts == {"calls": 1, "imports": 2} and not refs.truncated


async def test_find_references_filters_by_confidence_and_limit(db: Database) -> None:
    all_refs = await find_references(db.pool, "shop.cart.Cart.total", REPO)
    assert [(r.source, r.confidence) for r in all_refs.references] == [("shop.cart.DiscountCart.total", 0.9)]
    assert (await find_references(db.pool, "shop.cart.Cart.total", REPO, min_confidence=0.9)).references
    assert not (await find_references(db.pool, "shop.cart.Cart.total", REPO, min_confidence=0.95)).references
    cut = await find_references(db.pool, "shop.cart.Cart", REPO, limit=2)
    assert len(cut.references) == 2 and cut.truncated and sum(cut.counts.values()) == 5


# -- callers and callees -------------------------------------------------------------------------------------


async def test_find_callers_walks_up_to_the_depth(db: Database) -> None:
    one = await find_callers(db.pool, "shop.pricing.apply_discount", REPO)
    assert [(n.qualified_name, n.depth) for n in one.nodes] == [
        ("shop.pricing.apply_discount", 0),
        ("shop.cart.DiscountCart.total", 1),
    ]
    assert [(e.source, e.target, e.line, e.confidence) for e in one.edges] == [
        ("shop.cart.DiscountCart.total", "shop.pricing.apply_discount", 29, 1.0)
    ]
    three = await find_callers(db.pool, "shop.pricing.apply_discount", REPO, depth=3)
    assert [(n.qualified_name, n.depth) for n in three.nodes][-1] == ("shop.cart.DiscountCart.checkout", 2)
    constructed = await find_callers(db.pool, "shop.cart.Cart", REPO)
    assert [n.qualified_name for n in constructed.nodes if n.depth == 1] == ["shop.session.new_cart_for"]


async def test_find_callees_reaches_through_super_and_lists_library_calls(db: Database) -> None:
    result = await find_callees(db.pool, "shop.cart.DiscountCart.checkout", REPO, depth=2)
    assert {(n.qualified_name, n.depth) for n in result.nodes} == {
        ("shop.cart.DiscountCart.checkout", 0),
        ("shop.cart.DiscountCart.total", 1),
        ("shop.cart.Cart.total", 2),
        ("shop.pricing.apply_discount", 2),
    }
    assert result.unresolved == []
    three = await find_callees(db.pool, "shop.cart.DiscountCart.checkout", REPO, depth=3)
    assert ("shop.pricing.add_tax", 3) in {(n.qualified_name, n.depth) for n in three.nodes}
    total = await find_callees(db.pool, "shop.cart.DiscountCart.total", REPO, min_confidence=0.95)
    assert [n.qualified_name for n in total.nodes if n.depth == 1] == ["shop.pricing.apply_discount"]
    assert [(u.target_name, u.line) for u in total.unresolved] == [("super", 29)]


# -- call_path ------------------------------------------------------------------------------------------------


async def test_call_path_finds_the_shortest_chain(db: Database) -> None:
    result = await call_path(db.pool, "DiscountCart.checkout", "apply_discount", REPO)
    assert [[n.qualified_name for n in p.nodes] for p in result.paths] == [
        ["shop.cart.DiscountCart.checkout", "shop.cart.DiscountCart.total", "shop.pricing.apply_discount"]
    ]
    assert result.paths[0].length == 2 and [e.line for e in result.paths[0].edges] == [32, 29]
    via_super = await call_path(db.pool, "DiscountCart.checkout", "add_tax", REPO)
    assert via_super.paths[0].length == 3 and via_super.paths[0].confidence == 0.9


async def test_call_path_reports_when_there_is_none(db: Database) -> None:
    backwards = await call_path(db.pool, "apply_discount", "DiscountCart.checkout", REPO)
    assert backwards.paths == [] and backwards.note and "no chain" in backwards.note
    too_short = await call_path(db.pool, "DiscountCart.checkout", "apply_discount", REPO, max_depth=1)
    assert too_short.paths == []
    too_sure = await call_path(db.pool, "DiscountCart.checkout", "add_tax", REPO, min_confidence=0.95)
    assert too_sure.paths == [] and "0.95" in (too_sure.note or "")


async def test_call_path_returns_every_shortest_chain(db: Database, app_repo: Path) -> None:
    result = await call_path(db.pool, "app.core.top", "app.core.bottom", "graph-app")
    assert sorted([n.name for n in p.nodes] for p in result.paths) == [
        ["top", "left", "bottom"],
        ["top", "right", "bottom"],
    ]


# -- impact_analysis -------------------------------------------------------------------------------------------


async def test_impact_of_a_function_reaches_its_tests(db: Database, app_repo: Path) -> None:
    result = await impact_analysis(db.pool, symbol="app.core.helper", repository="graph-app")
    assert {(d.qualified_name, d.distance, d.via, d.is_test) for d in result.dependents} == {
        ("app.core.compute", 1, "calls", False),
        ("app.service", 2, "imports", False),
        ("app.service.serve", 2, "calls", False),
        ("test_core", 2, "imports", True),
        ("test_core.test_compute", 2, "calls", True),
    }
    assert (result.summary.dependents, result.summary.files, result.summary.tests, result.summary.test_files) == (
        5,
        3,
        2,
        1,
    )
    assert [(f.path, f.is_test) for f in result.files] == [
        ("app/core.py", False),
        ("app/service.py", False),
        ("tests/test_core.py", True),
    ]
    shallow = await impact_analysis(db.pool, symbol="app.core.helper", repository="graph-app", depth=1)
    assert [d.qualified_name for d in shallow.dependents] == ["app.core.compute"]


async def test_impact_of_a_file_covers_everything_in_it(db: Database) -> None:
    result = await impact_analysis(db.pool, path="shop/pricing.py", repository=REPO)
    assert [t.qualified_name for t in result.targets] == ["shop.pricing"]
    assert {(d.qualified_name, d.distance) for d in result.dependents} == {
        ("shop", 1),
        ("shop.cart", 1),
        ("shop.cart.Cart.total", 1),
        ("shop.cart.DiscountCart.total", 1),
        ("shop.cart.DiscountCart.checkout", 2),
    }
    assert result.summary.tests == 0
    # min_confidence 0.5 by default; the 0.9 call through super() passes, 0.95 drops it.
    strict = await impact_analysis(db.pool, symbol="shop.cart.Cart.total", repository=REPO, min_confidence=0.95)
    assert strict.dependents == []


def test_test_paths_are_recognised() -> None:
    for path in (
        "tests/test_x.py",
        "pkg/test_x.py",
        "x_test.py",
        "server/main_test.go",
        "web/a.spec.ts",
        "web/a.test.js",
        "spec/models/user_spec.rb",
        "src/__tests__/a.js",
        "src/test/FooTest.java",
    ):
        assert is_test_path(path), path
    for path in ("shop/cart.py", "latest.py", "contest/x.py", "src/testing_utils.py"):
        assert not is_test_path(path), path


# -- dependencies ----------------------------------------------------------------------------------------------


async def test_get_dependencies_lists_indexed_and_external_imports(db: Database) -> None:
    deps = await get_dependencies(db.pool, "shop/session.py", REPO)
    assert deps.module == "shop.session" and deps.files == ["shop/cart.py"]
    assert [(i.line, i.target_name, i.target.qualified_name if i.target else None) for i in deps.imports] == [
        (6, "shop.Cart", "shop.cart.Cart")
    ]
    assert [(i.line, i.target_name) for i in deps.external] == [(3, "hashlib"), (4, "hmac")]


async def test_get_dependents_accepts_a_module_name(db: Database) -> None:
    by_module = await get_dependents(db.pool, "shop.pricing", REPO)
    by_path = await get_dependents(db.pool, "shop/pricing.py", REPO)
    assert by_module == by_path
    assert by_module.files == ["shop/__init__.py", "shop/cart.py"]
    assert [(i.path, i.line, i.alias) for i in by_module.imports] == [
        ("shop/__init__.py", 4, "apply_discount"),
        ("shop/cart.py", 3, "add_tax"),
        ("shop/cart.py", 4, "discount"),
    ]
    with pytest.raises(InvalidArgument, match="neither an indexed file nor a module"):
        await get_dependents(db.pool, "shop.nothing", REPO)


# -- repo_map ----------------------------------------------------------------------------------------------------


async def test_repo_map_ranks_central_symbols_within_the_budget(db: Database) -> None:
    small = await repo_map(db.pool, REPO, max_tokens=192)
    assert small.data.tokens <= 192 and math.ceil(small.chars / 4) == small.data.tokens
    # Cart has five incoming edges; formatPrice, called by ApiClient.cartTotal (itself called through
    # the widget's typed field), ranks about as high. Cart's file has the higher score: shown first.
    assert small.data.truncated
    assert {s.qualified_name for s in small.data.symbols} == {"web.src.format.formatPrice", "shop.cart.Cart"}
    assert small.text.startswith("shop/cart.py:\n  class Cart (7)\n")
    assert [s.rank for s in small.data.symbols] == list(range(1, len(small.data.symbols) + 1))
    answer = await repo_map(db.pool, REPO, max_tokens=16384)
    full, text = answer.data, answer.text
    async with db.pool.acquire() as conn:
        definitions = await conn.fetchval(
            "SELECT count(*) FROM symbols WHERE kind <> 'module' AND repository_id = $1",
            (await repositories.find(conn, REPO)).id,
        )
    assert not full.truncated and len(full.symbols) == full.symbols_total == definitions
    assert "  method Cart.total | def total(self) -> float (16)\n" in text
    assert "  method Inventory::take | " in text  # crate path stripped, impl type kept


def test_pagerank_favours_the_hub_and_sums_to_one() -> None:
    sources = np.array([1, 2, 3, 0])
    targets = np.array([0, 0, 0, 1])
    rank = pagerank(4, sources, targets, np.ones(4))
    assert rank.argmax() == 0 and rank.sum() == pytest.approx(1.0)


async def test_a_large_graph_is_walked_and_ranked_quickly(db: Database) -> None:
    """2,000 functions in a chain plus 20,000 random calls, inserted directly."""
    async with db.pool.acquire() as conn:
        repo_id = await conn.fetchval(
            "INSERT INTO repositories (name, root_path) VALUES ('graph-synthetic', '/nonexistent/graph-synthetic')"
            " RETURNING id"
        )
        file_id = await conn.fetchval(
            "INSERT INTO files (repository_id, path, content_hash, size, mtime_ns, line_count)"
            " VALUES ($1, 'big.py', '\\x00', 1, 1, 20000) RETURNING id",
            repo_id,
        )
        await conn.execute(
            """INSERT INTO symbols (repository_id, file_id, kind, name, qualified_name, start_line, end_line,
                                    start_byte, end_byte)
               SELECT $1, $2, 'function', 'f' || g, 'big.f' || g, g * 10, g * 10 + 5, g * 100, g * 100 + 50
               FROM generate_series(1, 2000) g""",
            repo_id,
            file_id,
        )
        await conn.execute(
            """WITH s AS (SELECT array_agg(id ORDER BY start_line) ids FROM symbols WHERE repository_id = $1)
               INSERT INTO edges (repository_id, file_id, source_id, target_id, kind, target_name, target_simple,
                                  line, confidence)
               SELECT $1::int, $2::bigint, s.ids[g], s.ids[g + 1], 'calls', 'f', 'f', g * 10 + 1, 1.0
               FROM s, generate_series(1, 1999) g
               UNION ALL
               SELECT $1, $2, s.ids[1 + abs(hashint4(g) % 2000)], s.ids[1 + abs(hashint4(-g) % 1000)],
                      'calls', 'f', 'f', 1, 0.5
               FROM s, generate_series(1, 20000) g""",
            repo_id,
            file_id,
        )
    try:
        started = time.perf_counter()
        callers = await find_callers(db.pool, "big.f500", "graph-synthetic", depth=3, limit=50)
        chain = await call_path(db.pool, "big.f1", "big.f7", "graph-synthetic", min_confidence=1.0)
        mapped = (await repo_map(db.pool, "graph-synthetic", max_tokens=512)).data
        elapsed = time.perf_counter() - started
        assert callers.truncated and len(callers.nodes) == 51
        assert [n.qualified_name for n in chain.paths[0].nodes] == [f"big.f{i}" for i in range(1, 8)]
        assert mapped.tokens <= 512 and mapped.symbols_total == 2000
        assert elapsed < 5  # generous for CI; about 0.1 s locally
    finally:
        async with db.pool.acquire() as conn:
            await conn.execute("DELETE FROM repositories WHERE id = $1", repo_id)


# -- argument checks -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: find_callers(p, "apply_discount", REPO, depth=0), "depth must be a whole number from 1 to 10"),
        (lambda p: find_callees(p, "apply_discount", REPO, depth=11), "from 1 to 10"),
        (lambda p: find_references(p, "apply_discount", REPO, limit=-1), "limit must be a whole number from 1 to"),
        (lambda p: find_symbol(p, "total", REPO, limit=1001), "limit"),
        (lambda p: find_references(p, "apply_discount", REPO, min_confidence=2), "min_confidence must be a number"),
        (lambda p: find_callers(p, "apply_discount", REPO, min_confidence=float("nan")), "min_confidence"),
        (lambda p: call_path(p, "a", "b", REPO, max_depth=0), "max_depth"),
        (lambda p: repo_map(p, REPO, max_tokens=10), "max_tokens must be a whole number from 64 to 16384"),
        (lambda p: resolve_symbol(p, "to\x00tal", REPO), "NUL"),
        (lambda p: find_symbol(p, "   ", REPO), "empty"),
        (lambda p: impact_analysis(p, repository=REPO), "either symbol or path"),
        (lambda p: impact_analysis(p, symbol="x", path="y", repository=REPO), "either symbol or path"),
        (lambda p: goto_definition(p, "shop/cart.py", 0, repository=REPO), "line"),
    ],
)
async def test_bad_arguments_say_what_is_allowed(
    db: Database, call: Callable[[asyncpg.Pool], Awaitable[object]], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await call(db.pool)


async def test_an_unknown_repository_is_named(db: Database) -> None:
    with pytest.raises(RepositoryNotFound, match="no-such-repo"):
        await find_symbol(db.pool, "total", "no-such-repo")
    with pytest.raises(RepositoryNotFound):
        await repo_map(db.pool, "no-such-repo")


async def test_results_carry_repository_relative_locations(db: Database, indexed_sample: IndexReport) -> None:
    result = await find_callees(db.pool, "shop.session.new_cart_for", REPO)
    for node in result.nodes:
        assert node.repository == REPO and not node.path.startswith("/") and 1 <= node.start_line <= node.end_line
    assert [e.path for e in result.edges] == ["shop/session.py", "shop/session.py"]


# -- Python type inference across files --------------------------------------------------------------------

_TYPED_FILES = {
    "reg/__init__.py": "from .registry import apps\n",
    "reg/registry.py": ("class Apps:\n    def get_model(self, name):\n        return name\n\n\napps = Apps()\n"),
    "reg/text.py": (
        "from typing import overload\n"
        "\n"
        "\n"
        "def lazy(func):\n"
        "    return func\n"
        "\n"
        "\n"
        "gettext_lazy = lazy(str)\n"
        "\n"
        "\n"
        "@overload\n"
        "def pick(x: int) -> int: ...\n"
        "@overload\n"
        "def pick(x: str) -> str: ...\n"
        "def pick(x):\n"
        "    return x\n"
    ),
    "reg/base.py": (
        "class Writer:\n"
        "    def write(self, text):\n"
        "        return text\n"
        "\n"
        "\n"
        "class Base:\n"
        "    def __init__(self):\n"
        "        self.out = Writer()\n"
        "        self.raw = None\n"
    ),
    "reg/use.py": (
        "from reg import apps\n"
        "from reg.base import Base\n"
        "from reg.text import gettext_lazy as _, pick\n"
        "\n"
        "\n"
        "def load():\n"
        "    return apps.get_model(_('name')), pick(1)\n"
        "\n"
        "\n"
        "class Command(Base):\n"
        "    def run(self):\n"
        "        self.out.write('x')\n"
        "        self.raw.flush_all()\n"
        "\n"
        "\n"
        "class Sink:\n"
        "    def flush_all(self):\n"
        "        pass\n"
    ),
}


async def _index_tree(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)


async def test_python_instances_and_inherited_attributes_resolve_across_files(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _index_tree(db, settings, tmp_path / "typed-app", _TYPED_FILES)
    callees = await find_callees(db.pool, "reg.use.load", "typed-app")
    # `apps` is an `Apps` instance re-exported by the package: its method, inferred (0.9); `_` is a
    # module-level variable; `pick` is the implementation, not its `@overload` stubs.
    assert {(e.target, e.confidence) for e in callees.edges} == {
        ("reg.registry.Apps.get_model", 0.9),
        ("reg.text.gettext_lazy", 1.0),
        ("reg.text.pick", 1.0),
    }
    pick = {n.qualified_name: n.start_line for n in callees.nodes}["reg.text.pick"]
    assert pick == 15
    run = await find_callees(db.pool, "reg.use.Command.run", "typed-app")
    # `self.out` is typed by the base class's `self.out = Writer()`; `self.raw` is not typed, so
    # its call falls back to the one method of that name, at the fallback's confidence.
    assert {(e.target, e.line, e.confidence) for e in run.edges} == {
        ("reg.base.Writer.write", 12, 0.9),
        ("reg.use.Sink.flush_all", 13, 0.5),
    }
    imported = await goto_definition(db.pool, "reg/use.py", 1, name="apps", repository="typed-app")
    assert [(d.qualified_name, d.start_line, d.via) for d in imported.definitions] == [
        ("reg.registry.apps", 6, "imports")
    ]


_RETURNED_FILES = {
    "shop/__init__.py": "",
    "shop/client.py": (
        "class Client:\n"
        "    def get(self, url):\n"
        "        return url\n"
        "\n"
        "    def __enter__(self) -> 'Client':\n"
        "        return self\n"
        "\n"
        "    def __exit__(self, *exc):\n"
        "        pass\n"
        "\n"
        "\n"
        "class Builder:\n"
        "    def copy(self):\n"
        "        return self\n"
        "\n"
        "    def build(self):\n"
        "        return 1\n"
        "\n"
        "\n"
        "class FancyBuilder(Builder):\n"
        "    def build(self):\n"
        "        return 2\n"
    ),
    "shop/make.py": (
        "from .client import Client\n"
        "\n"
        "\n"
        "def make_client():\n"
        "    return Client()\n"
        "\n"
        "\n"
        "class Maker:\n"
        "    @property\n"
        "    def client(self) -> Client:\n"
        "        return Client()\n"
    ),
    "shop/use.py": (
        "from .client import FancyBuilder\n"
        "from .make import Maker, make_client\n"
        "\n"
        "\n"
        "def run(maker: Maker):\n"
        "    c = make_client()\n"
        "    c.get('a')\n"
        "    with make_client() as entered:\n"
        "        entered.get('b')\n"
        "    FancyBuilder().copy().build()\n"
        "    maker.client.get('c')\n"
    ),
    "stubbed/__init__.py": "def helper():\n    return 1\n",
    "stubbed/__init__.pyi": "def helper() -> int: ...\n",
    "stubbed/use.py": "from stubbed import helper\n\n\ndef call():\n    helper()\n",
    "tests/conftest.py": (
        "import pytest\n"
        "from shop.make import make_client\n"
        "\n"
        "\n"
        "@pytest.fixture\n"
        "def client():\n"
        "    yield make_client()\n"
    ),
    "tests/unit/test_it.py": "def test_get(client):\n    client.get('d')\n",
    "examples/tests/conftest.py": ("import pytest\n\n\n@pytest.fixture\ndef client():\n    return object()\n"),
}


async def test_python_values_are_typed_by_what_functions_methods_and_fixtures_return(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _index_tree(db, settings, tmp_path / "returned-app", _RETURNED_FILES)
    refs = await find_references(db.pool, "shop.client.Client.get", "returned-app")
    # make_client() returns a Client (its `return`), so does `with` (Client.__enter__ -> 'Client'),
    # and a property typed by its annotation; a test's `client` is what the fixture of the
    # conftest.py up its folders yields, not another folder's conftest of the same module name.
    assert [(r.path, r.line, r.source, r.confidence) for r in refs.references] == [
        ("shop/use.py", 7, "shop.use.run", 0.9),
        ("shop/use.py", 9, "shop.use.run", 0.9),
        ("shop/use.py", 11, "shop.use.run", 0.9),
        ("tests/unit/test_it.py", 2, "test_it.test_get", 0.9),
    ]
    # copy() returns self: on a FancyBuilder, what it returns is a FancyBuilder.
    build = await find_references(db.pool, "shop.client.FancyBuilder.build", "returned-app")
    assert [(r.path, r.line) for r in build.references] == [("shop/use.py", 10)]
    # A stub beside the module does not stand for it.
    called = await goto_definition(db.pool, "stubbed/use.py", 5, name="helper", repository="returned-app")
    assert [(d.qualified_name, d.path) for d in called.definitions] == [("stubbed.helper", "stubbed/__init__.py")]


_CHAINED_FILES = {
    "chain/__init__.py": "",
    "chain/provider.py": (
        "class Provider:\n"
        "    def dumps(self, value):\n"
        "        return value\n"
        "\n"
        "\n"
        "class Tag:\n"
        "    def check(self):\n"
        "        return True\n"
    ),
    "chain/app.py": (
        "from .provider import Provider\n"
        "\n"
        "\n"
        "class App:\n"
        "    def __init__(self) -> None:\n"
        "        self.json = Provider()\n"
    ),
    "chain/client.py": (
        "from .app import App\n"
        "from .provider import Tag\n"
        "\n"
        "\n"
        "class Client:\n"
        "    def __init__(self, app: App) -> None:\n"
        "        self.app = app\n"
        "        self.order: list[Tag] = []\n"
        "\n"
        "    def send(self, value):\n"
        "        for tag in self.order:\n"
        "            tag.check()\n"
        "        return self.app.json.dumps(value)\n"
    ),
}


async def test_python_loop_items_and_attributes_of_attributes_resolve_across_files(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _index_tree(db, settings, tmp_path / "chained-app", _CHAINED_FILES)
    callees = await find_callees(db.pool, "chain.client.Client.send", "chained-app")
    # `self.app` is an App, whose `json` is a Provider (its type edge); `tag` is an item of a list[Tag].
    assert {(e.target, e.line, e.confidence) for e in callees.edges} == {
        ("chain.provider.Tag.check", 12, 0.9),
        ("chain.provider.Provider.dumps", 13, 0.9),
    }


_PROTOCOL_FILES = {
    "proto/__init__.py": "",
    "proto/urls.py": (
        "class URL:\n"
        "    @property\n"
        "    def path(self) -> str:\n"
        "        return '/'\n"
        "\n"
        "\n"
        "class Headers:\n"
        "    def raw(self):\n"
        "        return []\n"
    ),
    "proto/models.py": (
        "from .urls import URL, Headers\n"
        "\n"
        "\n"
        "class Response:\n"
        "    def __init__(self) -> None:\n"
        "        self.headers = Headers()\n"
        "\n"
        "    @property\n"
        "    def url(self) -> URL:\n"
        "        return URL()\n"
    ),
    "proto/use.py": (
        "from .models import Response\n"
        "\n"
        "\n"
        "def show(response: Response):\n"
        "    print(response.url.path)\n"
        "    return response.headers.raw()\n"
        "\n"
        "\n"
        "async def drain(stream):\n"
        "    await stream.__anext__()\n"
        "    stream.close_all()\n"
    ),
}
# A test's own async iterator: the only `__anext__` the repository defines.
_PROTOCOL_FILES["tests/test_iter.py"] = textwrap.dedent("""\
    class CustomAsyncIterator:
        async def __anext__(self):
            raise StopAsyncIteration

        def close_all(self):
            pass
    """)


async def test_python_property_chains_are_read_and_protocol_methods_never_guessed_by_name(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    files = _PROTOCOL_FILES
    await _index_tree(db, settings, tmp_path / "proto-app", files)
    # `response.url.path` reads the property `url` and, through its return type, the property `path`;
    # `response.headers.raw()` reads the attribute `headers` before calling its method.
    refs = await find_references(db.pool, "proto.urls.URL.path", "proto-app")
    assert [(r.path, r.line, r.confidence) for r in refs.references] == [("proto/use.py", 5, 0.9)]
    url = await find_references(db.pool, "proto.models.Response.url", "proto-app")
    assert [(r.path, r.line) for r in url.references] == [("proto/use.py", 5)]
    headers = await find_references(db.pool, "proto.models.Response.headers", "proto-app")
    assert [(r.path, r.line) for r in headers.references] == [("proto/use.py", 6)]
    # An untyped `stream.__anext__()` is any async iterator's (a generator's, most often): the one
    # class of the repository defining `__anext__` is no caller of it, while a name no protocol
    # has (`close_all`) still falls back to its one definition, at the fallback's confidence.
    anext = await find_callers(db.pool, "test_iter.CustomAsyncIterator.__anext__", "proto-app")
    assert anext.edges == []
    closing = await find_callers(db.pool, "test_iter.CustomAsyncIterator.close_all", "proto-app")
    assert [(e.source, e.line, e.confidence) for e in closing.edges] == [("proto.use.drain", 11, 0.5)]


_MANAGER_FILES = {
    "cm/__init__.py": "",
    "cm/session.py": "class Session:\n    def save(self):\n        return 1\n",
    "cm/manage.py": textwrap.dedent("""\
        from contextlib import contextmanager
        from typing import Iterator

        from .session import Session


        @contextmanager
        def opened() -> Iterator[Session]:
            yield Session()


        class Client:
            @contextmanager
            def transaction(self):
                yield Session()


        def local():
            with opened() as here:
                here.save()
        """),
    "cm/use.py": textwrap.dedent("""\
        from .manage import Client, opened


        def run(client: Client):
            with opened() as session:
                session.save()
            with client.transaction() as tx:
                tx.save()
        """),
}


_HELD_FILES = {
    "held/use.py": (
        "from .state import App, _cv_app\n"
        "\n"
        "\n"
        "class Flask(App):\n"
        "    def run(self, name):\n"
        "        _cv_app.get(None).push()\n"
        "        self.blueprints.get(name).register()\n"
    ),
    "held/ctx.py": (
        "class AppContext:\n"
        "    def push(self):\n"
        "        pass\n"
        "\n"
        "\n"
        "class Blueprint:\n"
        "    def register(self):\n"
        "        pass\n"
        "\n"
        "\n"
        "class Other:\n"  # (so that no name alone tells which `push` or `register`)
        "    def push(self):\n"
        "        pass\n"
        "\n"
        "    def register(self):\n"
        "        pass\n"
    ),
    "held/state.py": (
        "from contextvars import ContextVar\n"
        "\n"
        "from .ctx import AppContext, Blueprint\n"
        "\n"
        "_cv_app: ContextVar[AppContext] = ContextVar('app')\n"
        "\n"
        "\n"
        "class App:\n"
        "    def __init__(self):\n"
        "        self.blueprints: dict[str, Blueprint] = {}\n"
    ),
    "held/__init__.py": "",
}


async def test_python_what_a_container_holds_is_given_back_across_files(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _index_tree(db, settings, tmp_path / "held-app", _HELD_FILES)
    # `_cv_app` holds AppContexts and the inherited `blueprints` Blueprints (records.SLOT_TYPE on
    # the methods giving one back): the calls on what `get()` gives are theirs.
    for method, line in (("AppContext.push", 6), ("Blueprint.register", 7)):
        refs = await find_references(db.pool, f"held.ctx.{method}", "held-app")
        assert [(r.path, r.line, r.source) for r in refs.references] == [("held/use.py", line, "held.use.Flask.run")]


async def test_python_with_a_contextmanager_gives_what_it_yields(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    await _index_tree(db, settings, tmp_path / "cm-app", _MANAGER_FILES)
    refs = await find_references(db.pool, "cm.session.Session.save", "cm-app")
    # A @contextmanager's `with ... as x` is what it yields: from its annotation (`Iterator[Session]`)
    # or its `yield`, in its own file and, through its type edge, in another.
    assert sorted((r.path, r.line, r.source, r.confidence) for r in refs.references) == [
        ("cm/manage.py", 20, "cm.manage.local", 0.9),
        ("cm/use.py", 6, "cm.use.run", 0.9),
        ("cm/use.py", 8, "cm.use.run", 0.9),
    ]
