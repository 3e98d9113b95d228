"""What the model reads: each tool's text is compact lines, the structured result stays whole."""

from __future__ import annotations

import re
from pathlib import Path

from mcp_server.indexer.pipeline import IndexReport
from mcp_server.server.render import compact_json, render
from tests.mcp_harness import connect


async def test_search_text_states_shared_fields_once_and_numbers_the_snippet_lines(
    pg_dsn: str, indexed_sample: IndexReport
) -> None:
    root = Path(indexed_sample.root)
    async with connect("stdio", dsn=pg_dsn) as client:
        result = await client.call_tool(
            "search_code", {"query": "add value-added tax", "repository": "shop-shared", "limit": 5}
        )
    assert not result.is_error
    text = result.content[0].text
    data = result.structured_content
    assert data is not None and len(data["results"]) >= 2
    lines = text.splitlines()
    assert lines[0].startswith(f"{len(data['results'])} hits (hybrid) · repository shop-shared")
    assert text.count("shop-shared") == 1  # said once, not per hit
    assert not text.lstrip().startswith("{") and '"repository"' not in text
    numbered = [re.match(r"  (\d+): (.*)$", line) for line in lines]
    checked = 0
    current: str | None = None
    for line, match in zip(lines[1:], numbered[1:]):
        if match is None:
            current = line.split(":", 1)[0]
            continue
        assert current is not None
        source = (root / current).read_text().splitlines()
        # The number is the file's own line: open it there and read the same text.
        assert source[int(match.group(1)) - 1].strip().startswith(match.group(2).strip().rstrip("…")), line
        checked += 1
    assert checked >= 2
    assert any(h["symbol"] == "shop.pricing.add_tax" for h in data["results"])
    assert "function add_tax" in text  # the module prefix the path already says is dropped
    assert len(text) < len(str(data))


async def test_callers_and_references_read_as_one_line_per_site(pg_dsn: str, indexed_sample: IndexReport) -> None:
    async with connect("stdio", dsn=pg_dsn) as client:
        callers = await client.call_tool(
            "find_callers", {"symbol": "shop.pricing.add_tax", "repository": "shop-shared"}
        )
        refs = await client.call_tool(
            "find_references", {"symbol": "shop.pricing.add_tax", "repository": "shop-shared"}
        )
    for result in (callers, refs):
        assert not result.is_error, result.content[0].text
    head, *lines = callers.content[0].text.splitlines()
    rows = [line for line in lines if not line.startswith("note: ")]  # notes: e.g. where the compiler pass stands
    assert head.startswith("callers of function shop.pricing.add_tax (shop/pricing.py:") and "shop-shared" in head
    nodes = [n for n in callers.structured_content["nodes"] if n["depth"] > 0]
    assert len(rows) == len(nodes) >= 1
    for node, row in zip(nodes, rows):
        assert row.startswith(f"{node['path']}:{node['start_line']}-{node['end_line']} {node['kind']} ")
        assert "calls at " in row and "(1)" in row
    ref_head, *ref_rows = refs.content[0].text.splitlines()
    assert ref_head.startswith("references to function shop.pricing.add_tax")
    references = refs.structured_content["references"]
    assert [r.split(" ", 1)[0] for r in ref_rows[: len(references)]] == [f"{r['path']}:{r['line']}" for r in references]


def test_other_results_are_compact_json_with_shared_fields_hoisted() -> None:
    data = {
        "symbols": [
            {"repository": "r", "path": "a.py", "kind": "function", "name": "f"},
            {"repository": "r", "path": "b.py", "kind": "function", "name": "g"},
        ],
        "notes": [],
    }
    assert compact_json(data) == (
        '{"symbols":[{"path":"a.py","name":"f"},{"path":"b.py","name":"g"}],'
        '"symbols_all":{"repository":"r","kind":"function"},"notes":[]}'
    )
    # A renderer meeting a shape it does not know falls back to the generic form, never fails.
    assert render("find_callers", {"nodes": []}) == '{"nodes":[]}'
