"""The tool list a client pays for on every turn: its size, the `tools` setting's profiles, compact schemas."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from mcp_server.indexer.pipeline import IndexReport
from mcp_server.server.tool_surface import PROFILES, TOOL_NAMES, compact_input, shallow_output
from tests.mcp_harness import connect, server_env

# Budgets of issue "lean tool surface": the full list, and the core profile.
ALL_BUDGET = 24_000
CORE_BUDGET = 8_000


def _listing_chars(tools: list[Any]) -> int:
    """What tools/list costs: the tools as the server sends them, compact JSON."""
    return sum(len(tool.model_dump_json(by_alias=True, exclude_none=True)) for tool in tools)


async def _listed(pg_dsn: str, monkeypatch: pytest.MonkeyPatch, setting: str | None) -> list[Any]:
    if setting is None:
        monkeypatch.delenv("PGCODE_TOOLS", raising=False)
    else:
        monkeypatch.setenv("PGCODE_TOOLS", setting)
    async with connect("stdio", dsn=pg_dsn) as client:
        return (await client.list_tools()).tools


async def test_the_full_list_and_the_core_profile_fit_their_budgets(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = await _listed(pg_dsn, monkeypatch, None)
    core = await _listed(pg_dsn, monkeypatch, "core")
    assert [t.name for t in every] == list(TOOL_NAMES)
    assert [t.name for t in core] == [n for n in TOOL_NAMES if n in PROFILES["core"]]
    sizes = {"all": _listing_chars(every), "core": _listing_chars(core)}
    print(f"tools/list characters: {sizes}")
    assert sizes["all"] <= ALL_BUDGET and sizes["core"] <= CORE_BUDGET, sizes
    # Compact, not gutted: every tool still says when to use it and what each argument is.
    for tool in every:
        assert "\n" not in (tool.description or "") and len(tool.description or "") > 40, tool.name
        for name, prop in tool.input_schema.get("properties", {}).items():
            assert "title" not in prop and prop.get("type"), (tool.name, name, prop)


async def test_a_tool_outside_the_profile_is_an_unknown_tool_and_the_listed_ones_answer(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch, indexed_sample: IndexReport
) -> None:
    monkeypatch.setenv("PGCODE_TOOLS", "core,grep")
    async with connect("stdio", dsn=pg_dsn) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert names == [n for n in TOOL_NAMES if n in {*PROFILES["core"], "grep"}]
        refused = await client.call_tool("impact_analysis", {"symbol": "shop.cart.Cart.total"})
        assert refused.is_error and "impact_analysis" in refused.content[0].text
        # The client checks each structured result against the (shallow) published schema: a
        # nullable field published as non-null would fail here.
        hits = await client.call_tool("search_code", {"query": "cart total", "repository": "shop-shared"})
        missing = await client.call_tool(
            "goto_definition", {"path": "shop/cart.py", "line": 1, "column": 1, "repository": "shop-shared"}
        )
        callers = await client.call_tool(
            "find_callers", {"symbol": "shop.pricing.add_tax", "repository": "shop-shared"}
        )
    assert not hits.is_error and hits.structured_content["results"]
    assert not missing.is_error, missing.content[0].text
    assert not callers.is_error and callers.structured_content["nodes"]


def test_an_unknown_tool_name_is_a_usage_error_naming_the_choices() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "mcp_server", "serve", "--tools", "core,serch_code"],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "serch_code" in run.stderr and "core" in run.stderr and "search_code" in run.stderr
    assert "Traceback" not in run.stderr


def test_optional_arguments_lose_their_null_and_results_keep_it() -> None:
    arguments = {
        "type": "object",
        "title": "x",
        "properties": {
            "title": {"anyOf": [{"type": "string", "maxLength": 4096}, {"type": "null"}], "default": None},
            "limit": {"type": "integer", "default": 10, "title": "Limit"},
        },
    }
    assert compact_input(arguments) == {
        "type": "object",
        "properties": {"title": {"type": "string"}, "limit": {"type": "integer", "default": 10}},
    }
    result = {
        "type": "object",
        "properties": {
            "definition": {"anyOf": [{"$ref": "#/$defs/SymbolRef"}, {"type": "null"}]},
            "direction": {"enum": ["callers", "callees"], "type": "string"},
            "hits": {"type": "array", "items": {"$ref": "#/$defs/Hit"}},
            "extra": {"anyOf": [{"$ref": "#/$defs/A"}, {"items": {}}]},
        },
        "required": ["hits"],
        "$defs": {"SymbolRef": {}, "Hit": {}, "A": {}},
    }
    assert json.loads(json.dumps(shallow_output(result))) == {
        "type": "object",
        "properties": {
            "definition": {"type": ["object", "null"]},
            "direction": {"enum": ["callers", "callees"], "type": "string"},
            "hits": {"type": "array"},
            "extra": {},
        },
    }
