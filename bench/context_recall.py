"""Tokens to recall: how much answer text a model reads before the wanted definition's source is in it.

The queries are retrieval.py's: each corpus is copied with its docstrings blanked, and each removed
docstring's first sentence (a description that does not name the function) asks for the function
it was written for. The copy is indexed with vectors, `pgcode serve` is started, and over MCP stdio,
with the SDK's own client, every query is answered two ways:

 - get_context(query) in one call. Its answer is read at budget 4,000; the tokens to recall are the
   characters up to the end of the first definition block whose shown lines hold the target's
   `def` line, / 4. It is also called at each threshold's budget (500, 1,000, 2,000), since a
   smaller budget is filled differently, not cut: "found at budget B" is read from that answer.
 - the baseline agent: search_code(query) (10 hits), then get_symbol on each hit's symbol in rank
   order (a symbol once), every answer appended to the transcript, until one's source holds the
   target's `def` line; the tokens to recall are the transcript's characters then, / 4. Never
   fetched among the 10 hits: not found.

A definition's source "holds the target" when it is in the target's file and its shown lines
(header's first line to the last line printed; get_symbol's source as returned) include the line
of the target's `def` (a class shown far enough counts, as the model has read it).
Click is held out: report it, never tune on it.

    python bench/context_recall.py                          # requests, flask; click held out
    python bench/context_recall.py --corpus requests --queries 50 --data-dir /tmp/recall-db
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
import retrieval  # noqa: E402
from _common import add_database_arguments, claim_repository, load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.embed.model import embedder_for  # noqa: E402
from mcp_server.indexer.pipeline import index_repository  # noqa: E402
from mcp_server.logs import configure_logging  # noqa: E402

THRESHOLDS = (500, 1000, 2000, 4000)
READ_BUDGET = THRESHOLDS[-1]
DEFAULT_CORPORA = ["requests", "flask", "click"]
HELD_OUT = frozenset({"click"})
SEARCH_HITS = 10
# Where a get_context definition block ends: the next block, relation list, outline or "also:" line.
_BLOCK_ENDS = ("\n== ", "\n-- ", "\nalso: ")
# This bench's own blanked copies: retrieval.py's folder is rewritten by whichever checkout runs it.
retrieval.BLANKED = corpora.CACHE / "blanked-recall"


def tokens(chars: int) -> float:
    return chars / 4


def holds(path: str, first: int, last: int, fn: retrieval.Function) -> bool:
    return path == fn.path and first <= fn.def_line <= last


def context_recall(text: str, data: dict[str, Any] | None, fn: retrieval.Function) -> dict[str, Any]:
    """Where in a get_context answer the target's source is first shown: characters to the end of
    that definition block, and whether the block was the target itself or an enclosing one."""
    for rank, d in enumerate((data or {}).get("definitions") or [], 1):
        if not holds(d["path"], d["start_line"], d["source_end_line"], fn):
            continue
        header = f"== {d['path']}:{d['start_line']}-{d['end_line']} {d['kind']} {d['qualified_name']}"
        at = text.find(header)
        if at < 0:
            continue
        ends = [e for e in (text.find(mark, at + 1) for mark in _BLOCK_ENDS) if e >= 0]
        end = min(ends) if ends else len(text)
        return {"chars": end, "own": d["qualified_name"] == fn.qualified_name, "rank": rank}
    named = fn.qualified_name is not None and fn.qualified_name in text
    return {"chars": None, "named_only": named}


async def _call(client: Any, tool: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any] | None, bool]:
    result = await client.call_tool(tool, arguments)
    text = "".join(getattr(block, "text", "") for block in result.content)
    return text, result.structured_content, bool(result.is_error)


async def baseline(client: Any, repository: str, fn: retrieval.Function) -> dict[str, Any]:
    """search_code, then get_symbol on the hits in rank order until the target's source is read."""
    text, data, _ = await _call(client, "search_code", {"query": fn.query, "repository": repository})
    chars = len(text)
    hits = (data or {}).get("results") or []
    fetched: set[str] = set()
    calls = 0
    search_rank = next((i for i, h in enumerate(hits, 1) if holds(h["path"], h["start_line"], h["end_line"], fn)), None)
    for rank, hit in enumerate(hits[:SEARCH_HITS], 1):
        name = hit.get("symbol")
        if not name or name in fetched:
            continue
        fetched.add(name)
        calls += 1
        text, detail, error = await _call(client, "get_symbol", {"symbol": name, "repository": repository})
        chars += len(text)
        if error or not detail:
            continue
        shown = detail.get("source", "").count("\n") + 1
        if holds(detail["path"], detail["start_line"], detail["start_line"] + shown - 1, fn):
            return {"chars": chars, "hit_rank": rank, "get_symbol_calls": calls, "search_rank": search_rank}
    return {"chars": None, "get_symbol_calls": calls, "search_rank": search_rank, "transcript_chars": chars}


async def measure(settings: Any, repository: str, chosen: list[retrieval.Function]) -> list[dict[str, Any]]:
    from mcp import Client, StdioServerParameters

    where = (
        ["--database-url", settings.database_url] if settings.database_url else ["--data-dir", str(settings.data_dir)]
    )
    env = {**os.environ, "PGCODE_TOOLS": "all", "PGCODE_SHARED_SERVER": "false"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server", *where, "serve", "--no-watch"], env=env
    )
    rows: list[dict[str, Any]] = []
    async with Client(params, read_timeout_seconds=300) as client:
        for fn in chosen:
            row: dict[str, Any] = {
                "query": fn.query,
                "target": f"{fn.path}:{fn.start}-{fn.end} {fn.qualified_name}",
                "def_line": fn.def_line,
            }
            for budget in THRESHOLDS:
                text, data, error = await _call(
                    client, "get_context", {"query": fn.query, "repository": repository, "budget_tokens": budget}
                )
                found = context_recall(text, data, fn) if not error else {"chars": None, "error": text[:200]}
                found["answer_chars"] = len(text)
                if budget == READ_BUDGET:
                    row["context"] = found
                    row["context_top"] = [
                        f"{d['path']}:{d['start_line']}-{d['source_end_line']} {d['qualified_name']}"
                        for d in ((data or {}).get("definitions") or [])[:4]
                    ]
                row.setdefault("context_at_budget", {})[budget] = found["chars"] is not None
            row["baseline"] = await baseline(client, repository, fn)
            rows.append(row)
    return rows


def _tokens_or_none(found: dict[str, Any]) -> float | None:
    return None if found["chars"] is None else tokens(found["chars"])


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows) or 1
    context = [_tokens_or_none(r["context"]) for r in rows]
    agent = [_tokens_or_none(r["baseline"]) for r in rows]

    def within(values: list[float | None]) -> dict[str, float]:
        return {str(t): round(sum(1 for v in values if v is not None and v <= t) / n, 3) for t in THRESHOLDS}

    def median(values: list[float | None]) -> float | None:
        # Not found counts as more than any figure: the median exists while half the queries are found.
        ordered = sorted(v if v is not None else float("inf") for v in values)
        mid = statistics.median_low(ordered) if ordered else float("inf")
        return None if mid == float("inf") else round(mid, 1)

    return {
        "queries": len(rows),
        "get_context_4k_answer": {"within": within(context), "median_tokens": median(context)},
        "get_context_at_budget": {
            str(t): round(sum(1 for r in rows if r["context_at_budget"].get(t)) / n, 3) for t in THRESHOLDS
        },
        "search_then_get_symbol": {
            "within": within(agent),
            "median_tokens": median(agent),
            "found_at_all": round(sum(1 for v in agent if v is not None) / n, 3),
        },
        "search_hit_holds_target": round(sum(1 for r in rows if r["baseline"]["search_rank"] is not None) / n, 3),
        "context_target_named_not_shown": sum(1 for r in rows if r["context"].get("named_only")),
        "context_target_via_own_block": sum(1 for r in rows if r["context"].get("own")),
    }


async def run_corpus(settings: Any, embedder: Any, corpus: corpora.Corpus, args: argparse.Namespace) -> dict[str, Any]:
    load_before = load()
    root, blanked = retrieval.make_blanked(corpus)
    chosen, ambiguous = retrieval.sample(blanked.functions, args.queries, args.seed)
    name = f"bench-recall-{corpus.name}"
    started = time.perf_counter()
    async with open_database(settings) as db:
        await claim_repository(db, name, root, fresh=False)
        await index_repository(db, settings, root, name=name, embedder=embedder)
        async with db.pool.acquire() as conn:
            symbols = await conn.fetch(
                """SELECT f.path, s.name, s.qualified_name, s.start_line FROM symbols s
                   JOIN files f ON f.id = s.file_id JOIN repositories r ON r.id = s.repository_id
                   WHERE r.name = $1 AND s.kind IN ('function', 'method')""",
                name,
            )
    index_seconds = time.perf_counter() - started
    for fn in chosen:
        fn.qualified_name = next(
            (
                s["qualified_name"]
                for s in symbols
                if s["path"] == fn.path and s["name"] == fn.name and fn.start <= s["start_line"] <= fn.def_line
            ),
            None,
        )
    print(f"[{corpus.name}] {len(chosen)} queries, indexed in {index_seconds:.0f}s; asking ...", flush=True)
    rows = await measure(settings, name, chosen)
    return {
        "corpus": corpus.name,
        "requirement": corpus.requirement,
        "held_out": corpus.name in HELD_OUT,
        "eligible": len(blanked.functions),
        "ambiguous_dropped": ambiguous,
        "summary": summarise(rows),
        "load_before": load_before,
        "load_after": load(),
        "per_query": rows,
    }


def print_tables(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        s = r["summary"]
        label = r["corpus"] + (" (held out)" if r["held_out"] else "")
        for way, figures in (
            ("get_context, 4k answer", s["get_context_4k_answer"]),
            ("search_code + get_symbol", s["search_then_get_symbol"]),
        ):
            found = figures.get("found_at_all", figures["within"][str(READ_BUDGET)])
            rows.append([label, s["queries"], way, *figures["within"].values(), found, figures["median_tokens"]])
        budgets = s["get_context_at_budget"]
        rows.append([label, s["queries"], "get_context at that budget", *budgets.values(), None, None])
    print()
    print(
        table(
            ["corpus", "queries", "answer", *(f"<= {t}" for t in THRESHOLDS), "found", "median tokens"],
            rows,
            title="Target definition's source read within N tokens (fraction of queries)",
        )
    )


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    selected = corpora.selected(args.corpus, DEFAULT_CORPORA)
    embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings))
    started = time.perf_counter()
    results = [await run_corpus(settings, embedder, corpus, args) for corpus in selected]
    print_tables(results)
    payload = {
        "benchmark": "context_recall",
        "command": "bench/context_recall.py " + " ".join(sys.argv[1:]),
        "seed": args.seed,
        "queries_requested": args.queries,
        "thresholds": list(THRESHOLDS),
        "embedding_model": embedder.model_key,
        "held_out": sorted(HELD_OUT),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "corpora": results,
    }
    label = "-".join(c.name for c in selected) if args.corpus else ""
    print(f"\nwrote {write_result('context_recall', payload, label)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", action="append", help=f"corpus name, repeatable (default: {', '.join(DEFAULT_CORPORA)})"
    )
    parser.add_argument("--queries", type=int, default=300, help="queries per corpus (default 300: all of them)")
    parser.add_argument("--seed", type=int, default=retrieval.SEED, help=f"sampling seed (default {retrieval.SEED})")
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
