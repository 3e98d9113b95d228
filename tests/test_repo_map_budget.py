"""repo_map through a real MCP client: the whole answer (text blocks and structured content) fits max_tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository
from tests._consistency import write_large_repo
from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

REPO = "budget-map"
MODULES = 250  # 1,500 definitions: more than the largest budget shows


def received_chars(result: Any) -> int:
    """What a client receives, in characters: every text block plus the structured content as the
    wire carries it (compact JSON, UTF-8 as is)."""
    text = sum(len(block.text) for block in result.content)
    structured = result.structured_content
    return text + (len(json.dumps(structured, separators=(",", ":"), ensure_ascii=False)) if structured else 0)


@pytest.fixture(scope="module")
async def mapped_repo(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = write_large_repo(tmp_path_factory.mktemp("budget") / "corpus", MODULES)
    await index_repository(db, settings, root, name=REPO)
    return REPO


@pytest.fixture(scope="module")
def map_server(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, mapped_repo: str) -> Iterator[HttpServer]:
    server = start_http_server(
        pg_dsn, tmp_path_factory.mktemp("budget-http"), extra_args=("--no-watch",), env={"PGCODE_TOKENS": TOKEN}
    )
    yield server
    server.stop()


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_the_whole_repo_map_answer_fits_its_token_budget(transport: str, map_server: HttpServer) -> None:
    async with connect(transport, server=map_server) as client:
        for budget in (64, 256, 1024, 4096, 16384):
            result = await client.call_tool("repo_map", {"repository": REPO, "max_tokens": budget})
            assert not result.is_error, result.content
            received = received_chars(result)
            data = result.structured_content
            assert received / 4 <= budget, (budget, received)
            assert data["tokens"] == -(-received // 4)
            assert data["truncated"] and data["symbols_total"] == MODULES * 6 + 3
            # The text block is the map itself (not the JSON again) and says what was left out.
            text = result.content[0].text
            assert not text.startswith("{")
            assert text.endswith(
                f"… {MODULES * 6 + 3 - len(data['symbols']):,} more definitions: raise max_tokens to see them\n"
            )
            for symbol in data["symbols"]:
                assert f"{symbol['name']} " in text and f"({symbol['start_line']})" in text
            if budget >= 256:
                # The budget is spent, not wasted: the map fills most of it.
                assert received / 4 > budget * 0.8 and data["symbols"], (budget, received)
