"""A costly grep gives up after its own timeout with a tool error, and never takes the connections searches need."""

from __future__ import annotations

import time
from collections.abc import Iterator

import anyio
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository
from tests._consistency import write_large_repo
from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

REPO = "grep-limits"
GREP_TIMEOUT = 2.0
POOL = 4
# Back-references defeat the trigram index (no literal to look for) and make PostgreSQL's engine try
# every split of every line: minutes over this corpus without a timeout.
PATHOLOGICAL = r"(.*)(.*)\2\1"
_ACTIVE_GREPS = """
SELECT count(*) FROM pg_stat_activity
WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%string_to_array(c.content%'"""


@pytest.fixture(scope="module")
async def corpus(db: Database, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> str:
    root = write_large_repo(tmp_path_factory.mktemp("grep-limits") / "corpus", 250)
    await index_repository(db, settings, root, name=REPO)
    return REPO


@pytest.fixture(scope="module")
def grep_server(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, corpus: str) -> Iterator[HttpServer]:
    server = start_http_server(
        pg_dsn,
        tmp_path_factory.mktemp("grep-limits-http"),
        extra_args=("--no-watch",),
        env={
            "PGCODE_TOKENS": TOKEN,
            "PGCODE_POOL_MAX_SIZE": str(POOL),
            "PGCODE_STATEMENT_TIMEOUT_MS": "20000",
            "PGCODE_GREP_TIMEOUT_MS": str(int(GREP_TIMEOUT * 1000)),
            "PGCODE_RATE_LIMIT_PER_MINUTE": "0",
        },
    )
    yield server
    server.stop()


async def test_a_costly_pattern_is_a_tool_error_within_the_grep_timeout(grep_server: HttpServer) -> None:
    async with connect("http", server=grep_server) as client:
        started = time.monotonic()
        result = await client.call_tool("grep", {"pattern": PATHOLOGICAL, "repository": REPO})
        elapsed = time.monotonic() - started
        text = result.content[0].text
        assert result.is_error, text
        assert "gave up after 2 s (grep_timeout_ms)" in text and "path_glob or language" in text, text
        assert elapsed < GREP_TIMEOUT + 1.5, elapsed
        # A pattern the index can narrow still answers, and the language filter narrows too.
        found = await client.call_tool("grep", {"pattern": r"def step_7_\d", "repository": REPO, "language": "python"})
        assert not found.is_error and len(found.structured_content["matches"]) == 4
        other = await client.call_tool("grep", {"pattern": r"def step_7_\d", "repository": REPO, "language": "rust"})
        assert not other.is_error and other.structured_content["matches"] == []


async def test_costly_greps_leave_connections_for_searches(grep_server: HttpServer, db: Database) -> None:
    outcomes: list[tuple[float, str]] = []
    latencies: list[float] = []

    async def costly_grep() -> None:
        async with connect("http", server=grep_server) as client:
            started = time.monotonic()
            result = await client.call_tool("grep", {"pattern": PATHOLOGICAL, "repository": REPO})
            assert result.is_error
            outcomes.append((time.monotonic() - started, result.content[0].text))

    async with connect("http", server=grep_server) as searcher, anyio.create_task_group() as tg:
        for _ in range(POOL + 2):  # more costly greps than the pool has connections
            tg.start_soon(costly_grep)
        with anyio.fail_after(30):
            while await db.pool.fetchval(_ACTIVE_GREPS) < 2:
                await anyio.sleep(0.05)
        for query in ("clamp value", "Handler handle", "step module", "feed the next module", "generated"):
            started = time.monotonic()
            result = await searcher.call_tool("search_code", {"query": query, "mode": "keyword", "repository": REPO})
            latencies.append(time.monotonic() - started)
            assert not result.is_error and result.structured_content["results"], query
        # However many were sent, greps never hold more than half the pool.
        assert await db.pool.fetchval(_ACTIVE_GREPS) <= POOL // 2
    assert max(latencies) < 2.0, latencies
    assert len(outcomes) == POOL + 2
    for elapsed, text in outcomes:
        # Each waited for a slot at most one timeout, then ran at most one.
        assert elapsed < 2 * GREP_TIMEOUT + 2, (elapsed, text)
        assert "grep_timeout_ms" in text or "greps are already running" in text, text
