"""Languages parsed from their grammar's tags query: symbols, a call edge and identifier search, through the real index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.graph.walk import find_callers
from mcp_server.index.parse import parse_source
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

FIXTURES = Path(__file__).parent / "fixtures" / "langs"
REPO = "tags-langs"

# file, language, (kind, qualified name, start line) expected, callee, caller, identifier to search
CASES = [
    (
        "User.php",
        "php",
        [
            ("namespace", "App.Models", 2),
            ("class", "App.Models.User", 5),
            ("method", "App.Models.User.save", 6),
            ("method", "App.Models.User.validate", 7),
            ("function", "App.Models.helper", 10),
        ],
        "App.Models.helper",
        "App.Models.User.save",
        "helper",
    ),
    (
        "Cart.kt",
        "kotlin",
        [
            ("namespace", "com.shop", 1),
            ("class", "com.shop.Cart", 4),
            ("method", "com.shop.Cart.total", 5),
            ("method", "com.shop.Cart.addTax", 9),
            ("function", "com.shop.checkout", 12),
        ],
        "com.shop.Cart.addTax",
        "com.shop.Cart.total",
        "addTax",
    ),
    (
        "Basket.swift",
        "swift",
        [
            ("class", "Basket.Basket", 4),
            ("method", "Basket.Basket.total", 5),
            ("method", "Basket.Basket.withTax", 9),
            ("function", "Basket.pay", 12),
        ],
        "Basket.Basket.withTax",
        "Basket.Basket.total",
        "withTax",
    ),
    (
        "deploy.sh",
        "bash",
        [("function", "deploy.upload_build", 3), ("function", "deploy.deploy", 7)],
        "deploy.upload_build",
        "deploy.deploy",
        "upload_build",
    ),
]


@pytest.fixture(scope="module")
async def tags_repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tags") / REPO
    shutil.copytree(FIXTURES, root)
    await index_repository(db, settings, root, name=REPO)
    return root


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
def test_symbols_have_qualified_names_kinds_and_spans(
    file: str, language: str, symbols: list[tuple[str, str, int]], callee: str, caller: str, ident: str
) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    got = [(s.kind, s.qualified_name, s.start_line) for s in parsed.symbols[1:]]
    assert got == symbols
    assert all(s.signature for s in parsed.symbols[1:])


@pytest.mark.parametrize(
    ("file", "language", "doc"),
    [("User.php", "php", "A user."), ("Cart.kt", "kotlin", "A basket of items.")]
    + [("Basket.swift", "swift", "A basket of goods.")],
)
def test_a_class_keeps_its_doc_comment(file: str, language: str, doc: str) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    assert [s.docstring for s in parsed.symbols if s.kind == "class"] == [doc]


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
async def test_a_same_file_call_resolves(
    db: Database,
    tags_repo: Path,
    file: str,
    language: str,
    symbols: list[tuple[str, str, int]],
    callee: str,
    caller: str,
    ident: str,
) -> None:
    callers = await find_callers(db.pool, callee, REPO)
    edges = [(e.source, e.target, e.confidence) for e in callers.edges]
    assert (caller, callee, 0.9) in edges


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
async def test_an_identifier_finds_its_definition(
    db: Database,
    embedder: Embedder,
    tags_repo: Path,
    file: str,
    language: str,
    symbols: list[tuple[str, str, int]],
    callee: str,
    caller: str,
    ident: str,
) -> None:
    async with db.pool.acquire() as conn:
        filters = Filters(repository_id=(await repositories.find(conn, REPO)).id)
    result = await search_code(db.pool, embedder, ident, filters=filters, mode="keyword", limit=5)
    assert result.results[0].symbol == callee
    assert result.results[0].path == file
