"""Speed on a real corpus: cold index by stage, lexical vs vector readiness, no-op re-index,
embedding overhead against the bare model, and warm tool latency over MCP stdio.

    python bench/speed.py                      # Django 5.1.4's package
    python bench/speed.py --corpus requests --samples 30
    python bench/speed.py --latency-only --data-dir /tmp/db   # tool latency on the index already there
    python bench/speed.py --lexical-only --data-dir /tmp/db   # cold index until keyword search, no vectors

Long queries (pasted bug reports, commit messages, tracebacks; bench/long_queries.py) are timed
per length, hybrid mode, as `search_<length>ch_p50_ms` / `_p95_ms`.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import load, machine, settings_for, table, write_result  # noqa: E402
from long_queries import LENGTHS, long_queries  # noqa: E402

from mcp_server.config import Settings  # noqa: E402
from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.embed.model import embedder_for  # noqa: E402
from mcp_server.index.chunk import embed_text  # noqa: E402
from mcp_server.index.records import Chunk  # noqa: E402
from mcp_server.indexer import repositories  # noqa: E402
from mcp_server.indexer.embed import embed_pending  # noqa: E402
from mcp_server.indexer.pipeline import index_repository  # noqa: E402

TARGETS = {
    "lexical_graph_ready_s": 10.0,
    "vectors_over_bare_model": 1.2,
    "noop_reindex_s": 2.0,
    "search_p50_ms": 20.0,
    "find_callers_d3_p50_ms": 10.0,
    **{f"search_{n}ch_p95_ms": 300.0 for n in LENGTHS},
    "index_peak_rss_mb": 500.0,
}
QUERIES = [
    "where is the session cookie signed",
    "parse a date from a string",
    "validate an email address",
    "compile a regular expression pattern",
    "render a template with a context",
    "open a database connection",
    "hash a password",
    "QuerySet filter",
    "get_object_or_404",
    "HttpResponseRedirect",
    "reverse url lookup",
    "middleware that handles CSRF tokens",
    "send an email message",
    "serialize objects to json",
    "cache a value with a timeout",
    "paginate a list of objects",
    "translate a string",
    "upload a file",
    "format a number with thousands separators",
    "migrate the database schema",
]


def rss_mb() -> tuple[float, float]:
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return round(me, 1), round(kids, 1)


def cpu_s() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def cold_index(settings: Settings, root: Path, name: str, lexical_only: bool = False) -> dict[str, Any]:
    embedder = embedder_for(settings)
    async with open_database(settings) as db:
        async with db.pool.acquire() as conn:
            await conn.execute("DELETE FROM repositories WHERE name = $1", name)
            # A cold run: no vector may be reused from an earlier run of this benchmark.
            await conn.execute("DELETE FROM embeddings WHERE model = $1", embedder.model_key)
            await conn.execute("DELETE FROM vector_progress WHERE model = $1", embedder.model_key)
        cpu0, t0 = cpu_s(), time.perf_counter()
        report = await index_repository(db, settings, root, name=name)
        lexical = time.perf_counter() - t0
        cpu_lexical = cpu_s() - cpu0
        async with db.pool.acquire() as conn:
            stats = await repositories.stats(conn, await repositories.find(conn, name), embedder.model_key)
        lexical_figures = {
            "files": stats.files,
            "symbols": stats.symbols,
            "edges": stats.edges,
            "chunks": stats.chunks,
            "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
            "lexical_graph_ready_s": round(lexical, 2),
            "lexical_cpu_s": round(cpu_lexical, 2),
        }
        if lexical_only:
            return {**lexical_figures, "index_peak_rss_mb": max(rss_mb())}
        t1 = time.perf_counter()
        embedded = await embed_pending(db.pool, embedder, settings, None)
        vectors = time.perf_counter() - t1
        noop = []
        for _ in range(3):
            t = time.perf_counter()
            await index_repository(db, settings, root, name=name)
            noop.append(time.perf_counter() - t)
        async with db.pool.acquire() as conn:
            repo = await repositories.find(conn, name)
            sample = await conn.fetch(
                "SELECT header, content FROM chunks WHERE repository_id = $1 ORDER BY random() LIMIT 1500", repo.id
            )
    texts = [embed_text(Chunk(None, 0, 0, r["content"], r["header"])) for r in sample]
    t2 = time.perf_counter()
    embedder.embed_documents(texts, batch_size=settings.embed_batch_size)
    bare_per_chunk = (time.perf_counter() - t2) / max(len(texts), 1)
    pipeline_per_chunk = vectors / max(embedded, 1)
    me, kids = rss_mb()
    return {
        **lexical_figures,
        "vectors_s": round(vectors, 2),
        "vectors_embedded": embedded,
        "pipeline_chunks_per_s": round(1 / pipeline_per_chunk, 1) if embedded else None,
        "bare_model_chunks_per_s": round(1 / bare_per_chunk, 1),
        "vectors_over_bare_model": round(pipeline_per_chunk / bare_per_chunk, 3) if embedded else None,
        "noop_reindex_s": round(statistics.median(noop), 2),
        "peak_rss_mb": me,
        "peak_rss_workers_mb": kids,
        "index_peak_rss_mb": max(me, kids),
    }


async def tool_latency(data_dir: Path, name: str, samples: int) -> dict[str, Any]:
    from mcp import Client, StdioServerParameters

    # The server runs the code under test (the stdio client passes on only PATH, HOME and the
    # like), in its own process: a shared server, started from / by an earlier run and idle still,
    # would serve another checkout's code.
    code = os.environ.get("PYTHONPATH") or str(Path(__file__).resolve().parent.parent)
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--data-dir", str(data_dir), "serve", "--no-watch"],
        env={"PYTHONPATH": code, "PGCODE_SHARED_SERVER": "false"},
    )
    rng = random.Random(1234)
    async with Client(params, read_timeout_seconds=120) as client:
        callers_of = await _called_symbols(data_dir, name, samples, rng)
        for q in QUERIES[:5]:  # warm-up: model, pool, caches
            await client.call_tool("search_code", {"query": q, "repository": name})
        search: list[float] = []
        for i in range(samples):
            t = time.perf_counter()
            r = await client.call_tool("search_code", {"query": QUERIES[i % len(QUERIES)], "repository": name})
            search.append((time.perf_counter() - t) * 1000)
            assert not r.is_error, r.content
        long: dict[str, float] = {}
        for length in LENGTHS:
            times: list[float] = []
            errors = 0
            # Each distinct query twice: the first run is as cold as a pasted report ever is.
            for q in long_queries(length, max(2, samples // 12)) * 2:
                t = time.perf_counter()
                r = await client.call_tool("search_code", {"query": q, "repository": name, "mode": "hybrid"})
                times.append((time.perf_counter() - t) * 1000)
                errors += r.is_error  # a statement timeout is a figure here, not a crash of the bench
            long[f"search_{length}ch_errors"] = errors
            long[f"search_{length}ch_p50_ms"] = pct(times, 0.5)
            long[f"search_{length}ch_p95_ms"] = pct(times, 0.95)
            long[f"search_{length}ch_max_ms"] = round(max(times), 2)
        callers: list[float] = []
        for symbol in callers_of:
            t = time.perf_counter()
            r = await client.call_tool("find_callers", {"symbol": symbol, "repository": name, "depth": 3})
            callers.append((time.perf_counter() - t) * 1000)
            assert not r.is_error, r.content
    return {
        "search_p50_ms": pct(search, 0.5),
        "search_p95_ms": pct(search, 0.95),
        **long,
        "find_callers_d3_p50_ms": pct(callers, 0.5),
        "find_callers_d3_p95_ms": pct(callers, 0.95),
        "samples": samples,
    }


async def _called_symbols(data_dir: Path, name: str, n: int, rng: random.Random) -> list[str]:
    async with open_database(settings_for(data_dir)) as db, db.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT t.id::text AS id FROM edges e JOIN symbols t ON t.id = e.target_id"
            " WHERE e.kind = 'calls' AND t.repository_id = (SELECT id FROM repositories WHERE name = $1)",
            name,
        )
    ids = [r["id"] for r in rows]
    rng.shuffle(ids)
    return ids[:n]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django")
    parser.add_argument("--data-dir", type=Path, default=corpora.DEFAULT_DATA_DIR)
    parser.add_argument("--samples", type=int, default=100, help="tool calls per latency figure")
    parser.add_argument(
        "--latency-only", action="store_true", help="skip the cold index: time the tools on the index in --data-dir"
    )
    parser.add_argument(
        "--lexical-only",
        action="store_true",
        help="time the cold index until keyword search and graph answer only: no vectors, no tool latency",
    )
    args = parser.parse_args()
    corpus = corpora.get(args.corpus)
    root = corpora.corpus_root(corpus.name)
    settings = settings_for(args.data_dir)
    name = f"speed-{corpus.name}"
    before = load()
    index = {} if args.latency_only else anyio.run(cold_index, settings, root, name, args.lexical_only)
    latency = {} if args.lexical_only else anyio.run(tool_latency, args.data_dir, name, args.samples)
    figures = {**index, **latency}
    rows = [
        (k, figures.get(k), f"<= {v}", "met" if figures.get(k) is not None and figures[k] <= v else "MISSED")
        for k, v in TARGETS.items()
    ]
    print(table(["figure", "measured", "target", ""], rows, title=f"speed on {corpus.requirement} ({root})"))
    print(table(["stage", "seconds"], sorted(index.get("stages_s", {}).items())))
    print(
        {
            k: figures.get(k)
            for k in (
                "files",
                "symbols",
                "edges",
                "chunks",
                "vectors_s",
                "pipeline_chunks_per_s",
                "bare_model_chunks_per_s",
                "lexical_cpu_s",
            )
        }
    )
    payload = {
        "corpus": corpus.requirement,
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "figures": figures,
        "targets": TARGETS,
    }
    # A latency-only run has a summary of its own: speed-latest.json keeps the whole figures.
    kind = "speed-latency" if args.latency_only else "speed-lexical" if args.lexical_only else "speed"
    print("wrote", write_result(kind, payload, corpus.name))


if __name__ == "__main__":
    main()
