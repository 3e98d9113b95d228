"""The MCP server driven by the SDK's own client over stdio, SSE and streamable HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.indexer.pipeline import IndexReport, index_repository
from mcp_server.server.tool_surface import TOOL_NAMES
from tests.conftest import write_sample_repo
from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

TRANSPORTS = ["stdio", "sse", "http"]

TOOLS = set(TOOL_NAMES)  # the registered order lives in tool_surface; test_tool_surface checks it
WRITE_TOOLS = {"index_repository", "remove_repository"}


@pytest.fixture(scope="module")
def http_server(
    pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, indexed_sample: IndexReport
) -> Iterator[HttpServer]:
    tmp = tmp_path_factory.mktemp("http")
    token_file = tmp / "tokens.txt"
    token_file.write_text(f"# team tokens\nadmin:{TOKEN}\nsecond-token\n")
    server = start_http_server(
        pg_dsn, tmp, token_file=token_file, extra_args=("--allowed-roots", str(tmp_path_factory.getbasetemp()))
    )
    yield server
    server.stop()


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_tool_is_listed_described_and_annotated(
    transport: str, pg_dsn: str, http_server: HttpServer
) -> None:
    async with connect(transport, dsn=pg_dsn, server=http_server) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for tool in tools:
        assert tool.description and len(tool.description) > 40, tool.name
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is (tool.name not in WRITE_TOOLS), tool.name


def test_every_tool_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in TOOLS)


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_search_code_returns_located_hits_with_freshness(
    transport: str, pg_dsn: str, http_server: HttpServer, indexed_sample: IndexReport
) -> None:
    async with connect(transport, dsn=pg_dsn, server=http_server) as client:
        result = await client.call_tool(
            "search_code", {"query": "sign a cookie value with a secret key", "repository": "shop-shared", "limit": 3}
        )
    data = _data(result)
    top = data["results"][0]
    assert (top["repository"], top["path"], top["symbol"]) == (
        "shop-shared",
        "shop/session.py",
        "shop.session.sign_cookie",
    )
    assert top["start_line"] == 9 and "def sign_cookie" in top["snippet"]
    assert data["freshness"]["vectors_complete"] is True


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_grep_finds_lines_by_regex_and_literal(
    transport: str, pg_dsn: str, http_server: HttpServer, indexed_sample: IndexReport
) -> None:
    async with connect(transport, dsn=pg_dsn, server=http_server) as client:
        regex = _data(await client.call_tool("grep", {"pattern": r"def \w+_cookie", "repository": "shop-shared"}))
        literal = _data(
            await client.call_tool("grep", {"pattern": "percent / 100)", "literal": True, "repository": "shop-shared"})
        )
        bad = await client.call_tool("grep", {"pattern": "(unclosed"})
    assert [(m["path"], m["line"]) for m in regex["matches"]] == [("shop/session.py", 9), ("shop/session.py", 15)]
    assert [(m["path"], m["line"]) for m in literal["matches"]] == [("shop/pricing.py", 8)]
    assert bad.is_error and "regular expression" in bad.content[0].text


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_index_repository_reports_progress_and_counts(
    transport: str, pg_dsn: str, http_server: HttpServer, tmp_path: Path
) -> None:
    root = write_sample_repo(tmp_path / f"progress-{transport}")
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    async with connect(transport, dsn=pg_dsn, server=http_server) as client:
        result = await client.call_tool(
            "index_repository", {"path": str(root), "name": f"progress-{transport}"}, progress_callback=on_progress
        )
        listed = _data(await client.call_tool("list_repositories", {}))
        removed = _data(await client.call_tool("remove_repository", {"repository": f"progress-{transport}"}))
    data = _data(result)
    assert data["files_indexed"] == 16 and data["symbols"] > 50 and data["skipped"]["binary"] == 1
    assert len(seen) >= 3 and seen[-1][0] == 100
    assert [p for p, _, _ in seen] == sorted(p for p, _, _ in seen)
    assert f"progress-{transport}" in {r["repository"] for r in listed["repositories"]}
    assert removed == {"repository": f"progress-{transport}", "removed": True}


BAD_ARGUMENTS: list[tuple[str, dict[str, Any]]] = [
    ("search_code", {}),
    ("search_code", {"query": 42}),
    ("search_code", {"query": "x", "limit": -1}),
    ("search_code", {"query": "x", "limit": 10**9}),
    ("search_code", {"query": "x" * 1_000_000}),
    ("search_code", {"query": "x", "mode": "fuzzy"}),
    ("search_code", {"query": "x", "repository": "no-such-repo"}),
    ("search_code", {"query": "'; DROP TABLE chunks; --"}),
    ("grep", {"pattern": "(a+)+$"}),
    ("grep", {"pattern": "x", "limit": 0}),
    ("find_symbol", {"name": ""}),
    ("get_symbol", {"symbol": "no.such.symbol"}),
    ("file_outline", {"path": "../../etc/passwd"}),
    ("file_outline", {"path": "/etc/passwd"}),
    ("repo_map", {"repository": "no-such-repo"}),
    ("goto_definition", {"path": "shop/cart.py", "line": -5}),
    ("find_references", {"symbol": "total"}),
    ("find_callers", {"symbol": "shop.pricing.add_tax", "depth": 99}),
    ("find_callees", {"symbol": "shop.pricing.add_tax", "depth": 0}),
    ("call_path", {"source": "a"}),
    ("impact_analysis", {"symbol": "shop.pricing.add_tax", "min_confidence": 7}),
    ("get_dependencies", {"path": "..\\..\\windows\\win.ini"}),
    ("get_dependencies", {}),
    ("get_dependents", {"module": "x\x00y"}),
    ("index_repository", {"path": "relative/path"}),
    ("index_repository", {"path": "/definitely/not/here"}),
    ("index_status", {"repository": "no-such-repo"}),
    ("remove_repository", {}),
    ("list_repositories", {"unexpected": 1}),
]


@pytest.mark.parametrize(("tool", "arguments"), BAD_ARGUMENTS)
async def test_malformed_arguments_are_tool_errors_and_the_server_stays_up(
    tool: str, arguments: dict[str, Any], http_server: HttpServer, indexed_sample: IndexReport
) -> None:
    async with connect("http", server=http_server) as client:
        result = await client.call_tool(tool, arguments)
        text = result.content[0].text if result.content else ""
        alive = await client.call_tool("list_repositories", {})
    if tool == "grep" and arguments["pattern"] == "(a+)+$":
        assert not result.is_error  # a valid regex: PostgreSQL's engine does not backtrack catastrophically
    elif "DROP TABLE" in str(arguments):
        assert not result.is_error  # just text to search for: every query is parameterised
    elif tool == "list_repositories":
        assert not result.is_error  # extra arguments are ignored, not fatal
    else:
        assert result.is_error, (tool, arguments, text)
        assert "Traceback" not in text and "root:" not in text
    assert "root:x:0:0" not in text
    assert not alive.is_error


def test_http_requires_the_bearer_token_except_on_health(http_server: HttpServer) -> None:
    assert httpx2.get(f"{http_server.base}/health").status_code == 200
    assert httpx2.post(f"{http_server.base}/mcp", json={}).status_code == 401
    assert httpx2.get(f"{http_server.base}/sse", headers={"Authorization": "Bearer wrong"}).status_code == 401
    response = httpx2.post(f"{http_server.base}/mcp", json={}, headers={"Authorization": "Bearer second-token"})
    assert response.status_code != 401


def test_a_foreign_host_header_is_rejected(http_server: HttpServer) -> None:
    response = httpx2.post(
        f"{http_server.base}/mcp", json={}, headers={"Authorization": f"Bearer {TOKEN}", "Host": "evil.example"}
    )
    assert response.status_code == 421


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_graph_tools_answer_with_locations_and_confidence(
    transport: str, pg_dsn: str, http_server: HttpServer, indexed_sample: IndexReport
) -> None:
    repo = {"repository": "shop-shared"}
    async with connect(transport, dsn=pg_dsn, server=http_server) as client:
        callers = _data(await client.call_tool("find_callers", {"symbol": "shop.pricing.apply_discount", **repo}))
        callees = _data(
            await client.call_tool("find_callees", {"symbol": "shop.cart.DiscountCart.checkout", "depth": 3, **repo})
        )
        path = _data(
            await client.call_tool(
                "call_path", {"source": "shop.cart.DiscountCart.checkout", "target": "shop.pricing.add_tax", **repo}
            )
        )
        refs = _data(await client.call_tool("find_references", {"symbol": "shop.cart.Cart", **repo}))
        found = _data(await client.call_tool("find_symbol", {"name": "sign_cookie", **repo}))
        detail = _data(await client.call_tool("get_symbol", {"symbol": "shop.session.sign_cookie", **repo}))
        outline = _data(await client.call_tool("file_outline", {"path": "shop/cart.py", **repo}))
        definition = _data(
            await client.call_tool("goto_definition", {"path": "shop/cart.py", "line": 29, "name": "discount", **repo})
        )
        impact = _data(await client.call_tool("impact_analysis", {"path": "shop/pricing.py", **repo}))
        deps = _data(await client.call_tool("get_dependencies", {"path": "shop/cart.py", **repo}))
        dependents = _data(await client.call_tool("get_dependents", {"module": "shop.pricing", **repo}))
        overview = _data(await client.call_tool("repo_map", {"repository": "shop-shared", "max_tokens": 256}))
    edge = next(e for e in callers["edges"] if e["source"] == "shop.cart.DiscountCart.total")
    assert edge["confidence"] == 1.0 and edge["path"] == "shop/cart.py" and edge["line"] == 29
    assert {
        "shop.cart.DiscountCart.total",
        "shop.pricing.apply_discount",
        "shop.cart.Cart.total",
        "shop.pricing.add_tax",
    } <= {n["qualified_name"] for n in callees["nodes"]}
    assert path["paths"] and path["paths"][0]["nodes"][0]["qualified_name"] == "shop.cart.DiscountCart.checkout"
    assert path["paths"][0]["nodes"][-1]["qualified_name"] == "shop.pricing.add_tax"
    assert {"inherits", "calls"} <= {r["kind"] for r in refs["references"]}
    assert (
        found["symbols"][0]["qualified_name"] == "shop.session.sign_cookie" and found["symbols"][0]["match"] == "exact"
    )
    assert "hmac.new" in detail["source"] and detail["docstring"].startswith("Sign a cookie value")
    names = [s["name"] for s in outline["symbols"]]
    assert names[0] == "Cart" and {"DiscountCart", "checkout", "total"} <= set(names)
    assert definition["definitions"][0]["qualified_name"] == "shop.pricing.apply_discount"
    assert impact["summary"]["dependents"] >= 3
    assert "shop/pricing.py" in deps["files"] and deps["imports"][0]["target"] is not None
    assert "shop/cart.py" in dependents["files"]
    assert overview["symbols"] and overview["tokens"] <= 256


async def test_the_running_server_sees_edits_made_on_disk(pg_dsn: str, http_server: HttpServer, tmp_path: Path) -> None:
    root = write_sample_repo(tmp_path / "live")
    async with connect("http", server=http_server) as client:
        _data(await client.call_tool("index_repository", {"path": str(root), "name": "live"}))
        (root / "shop" / "loyalty.py").write_text(
            "def award_loyalty_points(order_total):\n    return int(order_total // 10)\n"
        )
        pricing = root / "shop" / "pricing.py"
        pricing.write_text(pricing.read_text().replace("def add_tax(", "def add_sales_tax("))
        (root / "shop" / "session.py").unlink()
        deadline = anyio.current_time() + 20
        while True:
            added = _data(await client.call_tool("find_symbol", {"name": "award_loyalty_points", "repository": "live"}))
            renamed = _data(await client.call_tool("grep", {"pattern": "def add_sales_tax", "repository": "live"}))
            gone = _data(await client.call_tool("grep", {"pattern": "def sign_cookie", "repository": "live"}))
            if added["symbols"] and renamed["matches"] and not gone["matches"]:
                break
            assert anyio.current_time() < deadline, (added, renamed, gone)
            await anyio.sleep(0.2)
        status = _data(await client.call_tool("index_status", {"repository": "live"}))
        _data(await client.call_tool("remove_repository", {"repository": "live"}))
    assert status["repositories"][0]["watcher"] in ("watching", "indexing", "catching_up")


async def test_two_server_processes_share_one_database_with_one_writer_per_repository(
    pg_dsn: str, http_server: HttpServer, tmp_path: Path
) -> None:
    root = write_sample_repo(tmp_path / "shared-writer")
    second = start_http_server(pg_dsn, tmp_path, env={"PGCODE_TOKENS": f"admin:{TOKEN}"})
    try:
        async with connect("http", server=http_server) as first_client:
            _data(await first_client.call_tool("index_repository", {"path": str(root), "name": "shared-writer"}))
        deadline = anyio.current_time() + 30
        while True:
            states = []
            for server in (http_server, second):
                async with connect("http", server=server) as client:
                    status = _data(await client.call_tool("index_status", {"repository": "shared-writer"}))
                    states.append(status["repositories"][0]["watcher"])
                    hits = _data(
                        await client.call_tool(
                            "search_code", {"query": "apply_discount", "mode": "keyword", "repository": "shared-writer"}
                        )
                    )
                    assert hits["results"][0]["symbol"] == "shop.pricing.apply_discount"
            if sorted(states) == ["owned_elsewhere", "watching"]:
                break
            assert anyio.current_time() < deadline, states
            await anyio.sleep(0.5)
        async with connect("http", server=second) as client:
            refused = await client.call_tool("index_repository", {"path": str(root), "name": "shared-writer"})
        # The second process reads but does not write this repository.
        assert refused.is_error and "owns the index of 'shared-writer'" in refused.content[0].text
    finally:
        second.stop()
        async with connect("http", server=http_server) as client:
            await client.call_tool("remove_repository", {"repository": "shared-writer"})


async def test_search_over_stdio_shows_a_large_function_once_with_its_span_and_matching_lines(
    pg_dsn: str, db: Database, settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "ledger"
    root.mkdir()
    body = "".join(f"    entry_{i} = post(account, {i})  # post the entry to the account\n" for i in range(120))
    (root / "ledger.py").write_text(
        "def settle_accounts(account):\n" + body + "    entry_77b = reconcile_quarterly_ledger(account)\n"
        "    return account\n"
    )
    await index_repository(db, settings, root, name="mcp-ledger", embedder=embedder)
    async with connect("stdio", dsn=pg_dsn) as client:
        result = await client.call_tool(
            "search_code", {"query": "reconcile quarterly ledger", "repository": "mcp-ledger", "limit": 5}
        )
    data = _data(result)
    settle = [h for h in data["results"] if h["symbol"] == "ledger.settle_accounts"]
    assert len(settle) == 1 and (settle[0]["start_line"], settle[0]["end_line"]) == (1, 123)
    text = result.content[0].text
    # One line names the function over its whole span; the snippet's lines are numbered where they match.
    assert text.count("ledger.py:1-123") == 1
    assert "  122: entry_77b = reconcile_quarterly_ledger(account)" in text
