"""What an assistant pays in tokens for pgcode: the tool list and typical answers, over MCP stdio.

Indexes a corpus (Django 5.1.4's package by default) with vectors, starts `pgcode serve` and
reads, with the SDK's own client, the text content the model sees:
 - tools/list, all tools and the `core` profile (characters of the listing as sent);
 - search_code with default arguments (10 hits, hybrid) for a fixed list of questions;
 - find_callers, depth 1, for a fixed-seed sample of functions and methods that have callers.
Tokens are characters / 4. The indented JSON of the structured result (what the text was before)
is measured beside each answer.

    python bench/answer_sizes.py
    python bench/answer_sizes.py --corpus requests --callers 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import add_database_arguments, claim_repository, load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.embed.model import embedder_for  # noqa: E402
from mcp_server.indexer.pipeline import index_repository  # noqa: E402

SEED = 1234
QUESTIONS = (
    "where is the session cookie signed",
    "how are database migrations applied in order",
    "validate an email address in a form field",
    "render a template with a context",
    "check a user's password against its hash",
    "paginate a queryset",
    "how does the ORM build the SQL for a filter with Q objects",
    "send an email with attachments",
    "middleware that sets the CSRF token cookie",
    "cache a view's response",
    "parse the HTTP Accept-Language header",
    "resolve a URL path to a view",
    "timezone aware datetime conversion",
    "serialize model instances to JSON",
    "admin change list search fields",
    "upload a file and store it",
    "prefetch related objects",
    "transaction atomic savepoint rollback",
    "translate a string with gettext lazily",
    "signal sent after a model is saved",
)


def tokens(text: str) -> float:
    return len(text) / 4


def spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "max": round(ordered[-1], 1),
    }


async def _sample_callees(settings: Any, name: str, count: int) -> list[str]:
    async with open_database(settings) as db, db.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT DISTINCT t.qualified_name FROM edges e JOIN symbols t ON t.id = e.target_id
               JOIN repositories r ON r.id = e.repository_id
               WHERE r.name = $1 AND e.kind = 'calls' AND t.kind IN ('function', 'method')
               ORDER BY 1""",
            name,
        )
    names = [r["qualified_name"] for r in rows]
    random.Random(SEED).shuffle(names)
    return names[:count]


async def measure(settings: Any, name: str, callees: list[str]) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    where = (
        ["--database-url", settings.database_url] if settings.database_url else ["--data-dir", str(settings.data_dir)]
    )
    out: dict[str, Any] = {"tools_list": {}, "search_code": [], "find_callers": []}
    for profile in ("all", "core"):
        env = {**os.environ, "PGCODE_TOOLS": profile, "PGCODE_SHARED_SERVER": "false"}
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "mcp_server", *where, "serve", "--no-watch"], env=env
        )
        async with Client(params, read_timeout_seconds=300) as client:
            listed = (await client.list_tools()).tools
            out["tools_list"][profile] = {
                "tools": len(listed),
                "chars": sum(len(t.model_dump_json(by_alias=True, exclude_none=True)) for t in listed),
            }
            if profile != "all":
                continue
            for question in QUESTIONS:
                result = await client.call_tool("search_code", {"query": question, "repository": name})
                out["search_code"].append(_sizes(question, result))
            for callee in callees:
                result = await client.call_tool("find_callers", {"symbol": callee, "repository": name})
                out["find_callers"].append(_sizes(callee, result))
    return out


def _sizes(asked: str, result: Any) -> dict[str, Any]:
    text = result.content[0].text if result.content else ""
    before = json.dumps(result.structured_content, indent=2) if result.structured_content is not None else text
    return {"asked": asked, "error": result.is_error, "tokens": tokens(text), "json_tokens": tokens(before)}


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    corpus = corpora.get(args.corpus)
    root = corpora.private_root(corpus.name, "answers")
    name = f"bench-answers-{corpus.name}"
    embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings))
    async with open_database(settings) as db:
        await claim_repository(db, name, root, fresh=False)
        await index_repository(db, settings, root, name=name, embedder=embedder)
    callees = await _sample_callees(settings, name, args.callers)
    figures = await measure(settings, name, callees)
    rows = []
    for tool in ("search_code", "find_callers"):
        answers = [a for a in figures[tool] if not a["error"]]
        now, was = spread([a["tokens"] for a in answers]), spread([a["json_tokens"] for a in answers])
        figures[f"{tool}_summary"] = {"answers": len(answers), "tokens": now, "indented_json_tokens": was}
        rows.append([tool, len(answers), now["median"], now["p90"], now["max"], was["median"]])
    print(table(["tool", "answers", "tokens median", "p90", "max", "indented JSON median"], rows, title=corpus.name))
    listing = figures["tools_list"]
    print(
        f"tools/list: all {listing['all']['chars']} chars ({listing['all']['tools']} tools), "
        f"core {listing['core']['chars']} chars ({listing['core']['tools']} tools)"
    )
    payload = {
        "benchmark": "answer_sizes",
        "command": "bench/answer_sizes.py " + " ".join(sys.argv[1:]),
        "corpus": corpus.requirement,
        "seed": SEED,
        "machine": machine(),
        "load": load(),
        "figures": figures,
    }
    print(f"wrote {write_result('answer_sizes', payload)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="django", help="a corpus of bench/corpora.py (default django)")
    parser.add_argument("--callers", type=int, default=30, help="functions sampled for find_callers (default 30)")
    add_database_arguments(parser)
    anyio.run(_run, parser.parse_args())


if __name__ == "__main__":
    main()
