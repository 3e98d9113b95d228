"""What noticing a vanished root and a changed path's shape costs: warm tool latency over MCP stdio
with the repository's root in place and moved away (every answer then carries a note), and the
lookup of a batch of changed paths' stale rows in a repository of many files.

    python bench/root_notes.py                          # Django 5.1.4's package, 100,000 files
    python bench/root_notes.py --corpus requests --samples 50 --files 20000
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import add_database_arguments, load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.config import Settings  # noqa: E402
from mcp_server.db.pool import Database, open_database  # noqa: E402
from mcp_server.index.discover import PathScan  # noqa: E402
from mcp_server.indexer.pipeline import _paths_gone, index_repository  # noqa: E402
from mcp_server.indexer.watcher import BackgroundIndexer  # noqa: E402

_NOTE = "is missing since"
_WAIT_SECONDS = 60.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def index_named(settings: Settings, root: Path, name: str) -> None:
    async with open_database(settings) as db:
        await index_repository(db, settings, root, name=name)


async def tool_latency(settings: Settings, root: Path, name: str, samples: int) -> dict[str, Any]:
    """p50/p95 per tool with the root in place, then moved away (noted), then back."""
    from mcp import Client, StdioServerParameters

    where = (
        ["--database-url", settings.database_url] if settings.database_url else ["--data-dir", str(settings.data_dir)]
    )
    params = StdioServerParameters(command=sys.executable, args=["-m", "mcp_server", *where, "serve", "--no-watch"])
    async with open_database(settings) as db, anyio.create_task_group() as tg:
        # The watcher (no model: nothing to embed) notices the move and records it; the server reads it.
        indexer = BackgroundIndexer(db, settings, None, lease_retry_seconds=1.0)
        await tg.start(indexer.run)
        calls = await _calls(db, name, samples)
        async with Client(params, read_timeout_seconds=120) as client:
            for tool, arguments in calls[:10]:  # warm-up: pool, caches
                await client.call_tool(tool, arguments)
            present = await _timed(client, calls)
            moved = root.with_name(root.name + "-moved")
            os.rename(root, moved)
            try:
                await _until(client, name, noted=True)
                missing = await _timed(client, calls)
            finally:
                os.rename(moved, root)
            await _until(client, name, noted=False)
        tg.cancel_scope.cancel()
    return {"present": present, "root_missing": missing, "samples": samples}


async def _calls(db: Database, name: str, samples: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(1234)
    async with db.pool.acquire() as conn:
        rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", name)
        called = [
            r["id"]
            for r in await conn.fetch(
                "SELECT DISTINCT t.id::text AS id FROM edges e JOIN symbols t ON t.id = e.target_id"
                " WHERE e.kind = 'calls' AND t.repository_id = $1",
                rid,
            )
        ]
        names = [
            r["name"]
            for r in await conn.fetch(
                "SELECT DISTINCT name FROM symbols WHERE repository_id = $1 AND kind IN ('function', 'class')", rid
            )
        ]
    rng.shuffle(called)
    rng.shuffle(names)
    calls: list[tuple[str, dict[str, Any]]] = []
    for i in range(samples):
        word = names[i % len(names)]
        calls.append(("search_code", {"query": word, "mode": "keyword", "repository": name}))
        calls.append(("find_symbol", {"name": word, "repository": name}))
        calls.append(("find_callers", {"symbol": called[i % len(called)], "repository": name, "depth": 3}))
    return calls


async def _timed(client: Any, calls: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    seconds: dict[str, list[float]] = {}
    for tool, arguments in calls:
        started = time.perf_counter()
        result = await client.call_tool(tool, arguments)
        seconds.setdefault(tool, []).append((time.perf_counter() - started) * 1000)
        assert not result.is_error, result.content
    return {tool: {"p50_ms": pct(v, 0.5), "p95_ms": pct(v, 0.95)} for tool, v in seconds.items()}


async def _until(client: Any, name: str, *, noted: bool) -> None:
    deadline = anyio.current_time() + _WAIT_SECONDS
    while True:
        result = await client.call_tool("find_symbol", {"name": "x", "repository": name})
        notes = (result.structured_content or {}).get("notes", [])
        if any(_NOTE in n for n in notes) == noted:
            return
        if anyio.current_time() > deadline:
            raise SystemExit(f"the note did not {'appear' if noted else 'go'} within {_WAIT_SECONDS:g} s")
        await anyio.sleep(0.2)


async def stale_lookup(settings: Settings, files: int, batches: tuple[int, ...]) -> dict[str, float]:
    """Median ms to find the stale rows of a batch of changed paths (a file each, some of them once
    folders) in a synthetic repository of `files` files."""
    root = f"/nonexistent/root-notes-bench-{os.getpid()}"
    figures: dict[str, float] = {}
    async with open_database(settings) as db, db.pool.acquire() as conn:
        rid = await conn.fetchval(
            "INSERT INTO repositories (name, root_path, state) VALUES ($1, $1, 'ready') RETURNING id", root
        )
        try:
            await conn.execute(
                """INSERT INTO files (repository_id, path, content_hash, size, mtime_ns)
                   SELECT $1, 'pkg' || (i % 300) || '/sub' || (i % 17) || '/mod_' || i || '.py', '\\x00', 1, 1
                   FROM generate_series(1, $2) AS i""",
                rid,
                files,
            )
            await conn.execute("ANALYZE files")
            for k in batches:
                scan = PathScan(scanned=[f"pkg{i % 300}/sub{i % 17}/mod_{i}.py" for i in range(1, k + 1)])
                runs = []
                for _ in range(5):
                    started = time.perf_counter()
                    gone = await _paths_gone(conn, rid, scan)
                    runs.append((time.perf_counter() - started) * 1000)
                assert len(gone) == k, (k, len(gone))
                figures[f"paths_{k}_ms"] = round(statistics.median(runs), 2)
        finally:
            await conn.execute("DELETE FROM repositories WHERE id = $1", rid)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django")
    add_database_arguments(parser)
    parser.add_argument("--samples", type=int, default=100, help="calls per tool and state (default 100)")
    parser.add_argument(
        "--files", type=int, default=100_000, help="files of the synthetic repository (default 100,000)"
    )
    args = parser.parse_args()
    corpus = corpora.get(args.corpus)
    settings = settings_for(args.data_dir, args.database_url)
    root = corpora.private_root(corpus.name, "root_notes")
    name = f"root-notes-{corpus.name}"
    before = load()
    anyio.run(index_named, settings, root, name)
    latency = anyio.run(tool_latency, settings, root, name, args.samples)
    lookup = anyio.run(stale_lookup, settings, args.files, (1, 20, 200))
    rows = [
        (tool, state, latency[state][tool]["p50_ms"], latency[state][tool]["p95_ms"])
        for tool in latency["present"]
        for state in ("present", "root_missing")
    ]
    print(table(["tool", "root", "p50 ms", "p95 ms"], rows, title=f"warm tool latency on {corpus.requirement}"))
    print(
        table(
            ["changed paths", "stale lookup ms"],
            [(k.split("_")[1], v) for k, v in lookup.items()],
            title=f"stale rows of a batch, {args.files:,} files",
        )
    )
    payload = {
        "corpus": corpus.requirement,
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "figures": {"latency": latency, "stale_lookup": {"files": args.files, **lookup}},
    }
    print("wrote", write_result("root_notes", payload, corpus.name))


if __name__ == "__main__":
    main()
