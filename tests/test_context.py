"""get_context over MCP: definitions with source, callers and callees, outlines, all within the token budget."""

from __future__ import annotations

import pytest

from mcp_server.indexer.pipeline import IndexReport
from tests.mcp_harness import connect


@pytest.mark.parametrize("budget", [200, 600, 2000])
async def test_a_question_gets_the_right_definitions_within_its_budget(
    pg_dsn: str, indexed_sample: IndexReport, budget: int
) -> None:
    async with connect("stdio", dsn=pg_dsn) as client:
        result = await client.call_tool(
            "get_context",
            {
                "query": "how is value-added tax added to an amount",
                "repository": "shop-shared",
                "budget_tokens": budget,
            },
        )
    assert not result.is_error, result.content[0].text
    text = result.content[0].text
    data = result.structured_content
    assert len(text) <= budget * 4 and data["used_tokens"] <= budget
    assert text.startswith('context for "how is value-added tax added to an amount"')
    names = [d["qualified_name"] for d in data["definitions"]]
    assert "shop.pricing.add_tax" in names[:3], names
    add_tax = next(d for d in data["definitions"] if d["qualified_name"] == "shop.pricing.add_tax")
    assert "return amount * (1 + TAX_RATE)" in add_tax["source"] and "return amount * (1 + TAX_RATE)" in text


async def test_a_symbol_brings_its_callers_callees_and_outline(pg_dsn: str, indexed_sample: IndexReport) -> None:
    async with connect("stdio", dsn=pg_dsn) as client:
        result = await client.call_tool("get_context", {"symbol": "shop.cart.Cart.total", "repository": "shop-shared"})
        again = await client.call_tool("get_context", {"symbol": "shop.cart.Cart.total", "repository": "shop-shared"})
    data = result.structured_content
    assert data["definitions"][0]["qualified_name"] == "shop.cart.Cart.total"
    relations = {(r["relation"], r["qualified_name"]) for r in data["related"]}
    assert ("caller", "shop.cart.DiscountCart.total") in relations and ("callee", "shop.pricing.add_tax") in relations
    callee = next(r for r in data["related"] if r["qualified_name"] == "shop.pricing.add_tax")
    assert f"shop/pricing.py:{callee['start_line']} function shop.pricing.add_tax" in result.content[0].text
    assert [o["path"] for o in data["outlines"]] == ["shop/cart.py"] and "class Cart" in data["outlines"][0]["text"]
    assert again.content[0].text == result.content[0].text  # deterministic


async def test_neither_question_nor_symbol_is_a_tool_error(pg_dsn: str, indexed_sample: IndexReport) -> None:
    async with connect("stdio", dsn=pg_dsn) as client:
        result = await client.call_tool("get_context", {"repository": "shop-shared"})
    assert result.is_error and "query" in result.content[0].text and "symbol" in result.content[0].text
