"""Hybrid search: natural language and identifiers, filters that still fill the page, modes, freshness."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.errors import InvalidArgument
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import IndexReport, index_repository
from mcp_server.search.filters import Filters, glob_to_regex
from mcp_server.search.hybrid import search_code


async def _filters(db: Database, repo: str = "shop-shared", **kw: str) -> Filters:
    async with db.pool.acquire() as conn:
        return Filters(repository_id=(await repositories.find(conn, repo)).id, **kw)


@pytest.mark.parametrize("mode", ["hybrid", "semantic"])
async def test_a_natural_language_description_finds_the_function(
    db: Database, embedder: Embedder, indexed_sample: IndexReport, mode: str
) -> None:
    result = await search_code(
        db.pool,
        embedder,
        "protect a cookie value against tampering using an HMAC of the secret key",
        filters=await _filters(db),
        mode=mode,
        limit=5,
    )
    assert result.results[0].symbol == "shop.session.sign_cookie"
    assert result.results[0].path == "shop/session.py"


@pytest.mark.parametrize("mode", ["hybrid", "keyword"])
async def test_an_identifier_finds_its_definition_first(
    db: Database, embedder: Embedder, indexed_sample: IndexReport, mode: str
) -> None:
    result = await search_code(db.pool, embedder, "apply_discount", filters=await _filters(db), mode=mode, limit=5)
    top = result.results[0]
    assert (top.path, top.symbol) == ("shop/pricing.py", "shop.pricing.apply_discount")
    assert top.start_line == 6 and "def apply_discount" in top.snippet


async def test_camel_case_words_match_split_identifiers(
    db: Database, embedder: Embedder, indexed_sample: IndexReport
) -> None:
    result = await search_code(db.pool, embedder, "format price", filters=await _filters(db), mode="keyword")
    assert result.results[0].symbol == "web.src.format.formatPrice"


async def test_every_hit_carries_location_symbol_language_and_snippet(
    db: Database, embedder: Embedder, indexed_sample: IndexReport
) -> None:
    result = await search_code(db.pool, embedder, "cart total", filters=await _filters(db), limit=10)
    assert result.results
    for hit in result.results:
        assert hit.repository == "shop-shared" and not hit.path.startswith("/")
        assert 1 <= hit.start_line <= hit.end_line and hit.snippet and hit.score > 0
        assert hit.language


@pytest.mark.parametrize(
    ("kw", "check"),
    [
        ({"language": "go"}, lambda h: h.language == "go"),
        ({"path_glob": "web/**"}, lambda h: h.path.startswith("web/")),
        ({"path_glob": "*.ts"}, lambda h: h.path.endswith(".ts")),
        ({"kind": "class"}, lambda h: h.kind == "class"),
    ],
)
async def test_filters_restrict_results(
    db: Database, embedder: Embedder, indexed_sample: IndexReport, kw: dict[str, str], check: object
) -> None:
    result = await search_code(db.pool, embedder, "cart total price", filters=await _filters(db, **kw), limit=3)
    assert result.results
    assert all(check(h) for h in result.results)  # type: ignore[operator]


async def test_a_selective_filter_still_returns_a_full_page(
    db: Database, embedder: Embedder, indexed_sample: IndexReport
) -> None:
    python_chunks = 0
    async with db.pool.acquire() as conn:
        python_chunks = await conn.fetchval(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id"
            " WHERE f.language = 'python' AND c.repository_id = (SELECT id FROM repositories WHERE name = 'shop-shared')"
        )
    assert python_chunks >= 5
    result = await search_code(
        db.pool,
        embedder,
        "an unrelated query about rockets and planets",
        filters=await _filters(db, language="python"),
        mode="semantic",
        limit=5,
    )
    assert len(result.results) == 5 and all(h.language == "python" for h in result.results)


async def test_search_says_when_vectors_are_incomplete(
    db: Database, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "util.py").write_text("def launch_rocket(fuel):\n    return fuel * 2\n")
    await index_repository(db, settings, tmp_path / "lonely", name="no-vectors")  # no embedder: lexical only
    result = await search_code(db.pool, embedder, "launch_rocket", filters=await _filters(db, "no-vectors"))
    assert result.results and result.results[0].symbol == "util.launch_rocket"
    assert not result.vectors_complete and result.vectors_pending == 1
    assert any("no vector yet" in n for n in result.notes)


@pytest.mark.parametrize(
    ("query", "kw", "message"),
    [
        ("", {}, "empty"),
        ("x" * 5000, {}, "characters"),
        ("ok", {"mode": "fuzzy"}, "mode"),
        ("ok", {"limit": 0}, "limit"),
        ("ok", {"limit": 1000}, "limit"),
        ("a\x00b", {}, "NUL"),
    ],
)
async def test_bad_search_arguments_are_clear_errors(
    db: Database, embedder: Embedder, query: str, kw: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        await search_code(db.pool, embedder, query, filters=Filters(), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("glob", "matches", "misses"),
    [
        ("*.py", ["a.py", "x/y/a.py"], ["a.pyc", "a.py/b.txt"]),
        ("src/**/*.ts", ["src/a.ts", "src/x/y/a.ts"], ["lib/src/a.ts", "src/a.tsx"]),
        ("web/*", ["web/a.js"], ["web/x/a.js"]),
        ("*.{ts,tsx}", ["a.ts", "b/c.tsx"], ["a.js"]),
    ],
)
def test_path_globs_follow_shell_conventions(glob: str, matches: list[str], misses: list[str]) -> None:
    import re

    pattern = re.compile(glob_to_regex(glob))
    assert all(pattern.search(p) for p in matches)
    assert not any(pattern.search(p) for p in misses)


def test_an_unbalanced_glob_is_a_clear_error() -> None:
    with pytest.raises(InvalidArgument, match="unclosed"):
        glob_to_regex("*.{ts,js")


async def test_implementation_outranks_the_tests_that_repeat_its_words(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "ranked"
    (root / "billing").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "billing" / "refunds.py").write_text(
        "def refund_invoice(invoice):\n    \"\"\"Refund a paid invoice.\"\"\"\n    return invoice.total * -1\n"
    )
    (root / "tests" / "test_refunds.py").write_text(
        "from billing.refunds import refund_invoice\n\n\ndef test_refund_invoice_refunds_paid_invoice():\n"
        "    invoice = make_paid_invoice()\n    refund = refund_invoice(invoice)\n"
        "    assert refund == -invoice.total  # refund the paid invoice\n"
    )
    await index_repository(db, settings, root, name="ranked")
    result = await search_code(
        db.pool, None, "refund a paid invoice", filters=await _filters(db, "ranked"), mode="keyword"
    )
    assert result.results[0].path == "billing/refunds.py"
    asked = await search_code(
        db.pool, None, "test refund paid invoice", filters=await _filters(db, "ranked"), mode="keyword"
    )
    assert asked.results[0].path == "tests/test_refunds.py"


async def test_code_outranks_prose_that_describes_it_unless_docs_are_asked_for(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "prose"
    root.mkdir()
    (root / "README.md").write_text(
        "# Resolver\n\nThe resolver maps every edge target to a symbol. Edge targets are resolved to\n"
        "symbols through imports; unresolved edge targets keep their written name.\n"
    )
    (root / "resolver.py").write_text(
        "def resolve_edge_targets(edges, symbols):\n    \"\"\"Map each edge target to its symbol.\"\"\"\n"
        "    return {e: symbols.get(e) for e in edges}\n"
    )
    await index_repository(db, settings, root, name="prose")
    code = await search_code(
        db.pool, None, "resolve edge targets to symbols", filters=await _filters(db, "prose"), mode="keyword"
    )
    assert code.results[0].path == "resolver.py"
    docs = await search_code(
        db.pool,
        None,
        "readme: the resolver maps every edge target to a symbol",
        filters=await _filters(db, "prose"),
        mode="keyword",
    )
    assert docs.results[0].path == "README.md"


async def test_windows_of_one_large_function_are_one_hit_over_its_whole_span(
    db: Database, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "large"
    root.mkdir()
    body = [
        f"    ledger_entry_{i} = reconcile_ledger(account, {i})  # reconcile the ledger account" for i in range(150)
    ]
    lines = ["def settle_accounts(account):", '    """Settle every ledger account."""', *body, "    return account", ""]
    small = ["", "def reconcile_ledger(account, n):", "    return account", ""]
    (root / "ledger.py").write_text("\n".join(lines + small))
    await index_repository(db, settings, root, name="large", embedder=embedder)
    async with db.pool.acquire() as conn:
        windows = await conn.fetchval(
            "SELECT count(*) FROM chunks c JOIN symbols s ON s.id = c.symbol_id WHERE s.name = 'settle_accounts'"
        )
    assert windows >= 3  # the function is cut into several windows
    for mode in ("hybrid", "keyword", "semantic"):
        result = await search_code(
            db.pool, embedder, "reconcile the ledger account", filters=await _filters(db, "large"), mode=mode
        )
        settle = [h for h in result.results if h.symbol == "ledger.settle_accounts"]
        assert len(settle) == 1, mode
        hit = settle[0]
        assert (hit.start_line, hit.end_line) == (1, len(lines) - 1), mode
        assert hit.start_line <= hit.snippet_line <= hit.end_line and "ledger" in hit.snippet
    named = await search_code(
        db.pool, embedder, "ledger_entry_120", filters=await _filters(db, "large"), mode="keyword"
    )
    top = named.results[0]
    # The hit names the function and its whole span; the snippet starts at the line that matched.
    assert (top.symbol, top.start_line) == ("ledger.settle_accounts", 1)
    assert top.snippet_line >= 100 and "ledger_entry_120" in top.snippet


async def test_a_chunk_of_small_methods_is_shown_as_the_method_the_query_is_about(
    db: Database, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "siblings"
    root.mkdir()
    (root / "kettle.py").write_text(
        "class Kettle:\n"
        "    def fill(self, litres):\n        self.water = litres\n\n"
        "    def boil(self):\n        self.temperature = 100  # bring the water to a rolling boil\n\n"
        "    def pour(self, cup):\n        cup.tea = self.water\n"
    )
    await index_repository(db, settings, root, name="siblings", embedder=embedder)
    async with db.pool.acquire() as conn:
        chunks = await conn.fetchval(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = 'kettle.py'"
        )
    assert chunks == 1  # the three methods share their class's chunk
    for mode in ("hybrid", "keyword"):
        result = await search_code(
            db.pool, embedder, "rolling boil temperature", filters=await _filters(db, "siblings"), mode=mode
        )
        top = result.results[0]
        assert (top.symbol, top.kind, top.start_line, top.end_line) == ("kettle.Kettle.boil", "method", 5, 6), mode
        assert top.snippet_line == 5 and "rolling boil" in top.snippet


async def test_one_file_does_not_hold_the_whole_page(db: Database, settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "spread"
    root.mkdir()
    (root / "headers.py").write_text(
        "".join(f"def parse_header_{i}(raw):\n    return parse(raw, 'header value token', {i})\n\n\n" for i in range(6))
    )
    (root / "cookies.py").write_text("def read_cookie(raw):\n    return parse(raw, 'header value')\n")
    await index_repository(db, settings, root, name="spread")
    result = await search_code(
        db.pool, None, "parse header value token", filters=await _filters(db, "spread"), mode="keyword"
    )
    paths = [h.path for h in result.results]
    assert paths[:3] == ["headers.py"] * 3  # the best file keeps its first hits
    assert "cookies.py" in paths[:4] and paths.count("headers.py") == 6


async def test_library_code_outranks_examples_and_declarations_that_repeat_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "beside"
    (root / "lib").mkdir(parents=True)
    (root / "examples").mkdir()
    (root / "lib" / "retry.py").write_text(
        "def retry_request(send, attempts):\n    return [send() for _ in range(attempts)]\n"
    )
    (root / "examples" / "retry_demo.py").write_text(
        "def demo_retry_request(send):\n    # retry the request: retry_request retries a request\n"
        "    return retry_request(send, attempts=3)  # retry request\n"
    )
    await index_repository(db, settings, root, name="beside")
    result = await search_code(db.pool, None, "retry a request", filters=await _filters(db, "beside"), mode="keyword")
    assert result.results[0].path == "lib/retry.py"


async def test_hybrid_scores_its_pool_with_document_frequencies_of_one_repository_or_all(
    db: Database, embedder: Embedder, indexed_sample: IndexReport
) -> None:
    query = "protect a cookie value against tampering using an HMAC of the secret key"
    for filters in (await _filters(db), Filters()):  # counted in the repository; estimated over every one
        result = await search_code(db.pool, embedder, query, filters=filters, limit=5)
        assert result.results[0].symbol == "shop.session.sign_cookie"
        assert all(0 < h.score <= 1 for h in result.results)


def test_bm25_weighs_a_rare_term_above_a_common_one_repeated() -> None:
    from mcp_server.search.hybrid import _bm25, _Candidate

    def chunk(terms: tuple[tuple[int, float], ...]) -> _Candidate:
        return _Candidate(1, "a.py", "python", 1, 5, "function", 1, 1, 5, False, length=40, terms=terms)

    rare_once = chunk(((1, 6.0),))
    common_often = chunk(((6, 0.4),))
    assert _bm25(rare_once, 40.0) > _bm25(common_often, 40.0) > 0
    assert _bm25(chunk(((1, 6.0),)), 40.0) > _bm25(replace(rare_once, length=400), 40.0)  # long chunks say less


def test_fusion_lets_words_overrule_a_slightly_nearer_vector() -> None:
    from mcp_server.search.hybrid import _Candidate, _fuse_scores

    def chunk(chunk_id: int, cosine: float, terms: tuple[tuple[int, float], ...]) -> _Candidate:
        return _Candidate(
            chunk_id, "a.py", "python", 1, 5, "function", chunk_id, 1, 5, False, cosine=cosine, length=40, terms=terms
        )

    nearest, worded, neither = chunk(1, 0.62, ()), chunk(2, 0.60, ((2, 5.0),)), chunk(3, 0.30, ())
    scores = _fuse_scores([nearest, worded, neither], 0.6)
    assert scores[2] > scores[1] > scores[3] > 0
    only_vectors = _fuse_scores([nearest, worded, neither], 1.0)
    assert only_vectors[1] > only_vectors[2] > only_vectors[3]


async def test_a_name_finds_its_definition_before_the_code_that_repeats_it(
    db: Database, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "named-def"
    root.mkdir()
    (root / "redirects.py").write_text("def resolve_redirects(resp, limit):\n    return walk(resp.history, limit)\n")
    (root / "session.py").write_text(
        "from redirects import resolve_redirects\n\n\ndef follow_redirects(resp):\n"
        "    # resolve the redirects: resolve_redirects resolves each redirect\n"
        + "".join(f"    redirect_{i} = resolve_redirects(resp, {i})  # resolve redirects\n" for i in range(8))
        + "    return resp\n"
    )
    await index_repository(db, settings, root, name="named-def", embedder=embedder)
    result = await search_code(db.pool, embedder, "resolve_redirects", filters=await _filters(db, "named-def"))
    assert (result.results[0].path, result.results[0].symbol) == ("redirects.py", "redirects.resolve_redirects")
