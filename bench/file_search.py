"""File-level search quality on hand-written questions: NDCG@10 and Recall@10 over files, per category and language.

Each corpus has an annotation file, bench/annotations/<corpus>.json: a JSON list of
`{"query", "relevant": [paths], "secondary": [paths], "category"}` where the paths are relative
to the corpus root and the category is "semantic" (describe behaviour), "architecture" (how does
... work, answered by several files) or "symbol" (an identifier). The questions were written by
reading each corpus's source, as a user who has not read it would ask them: no file names.

A query's hits are turned into files in rank order (a file counts once, at its best hit), and the
first ten files are scored: gain 1 for a relevant file, 0.5 for a secondary one, discounted by
log2(rank + 1), over the ideal order of all the annotated files (NDCG@10); Recall@10 is the share
of the relevant files among those ten. Each query runs at search limit 10 (the page as shown) and
at limit 20 (more hits, so more distinct files reach the ten).

    python bench/file_search.py --data-dir /tmp/files-db                   # every built-in corpus
    python bench/file_search.py --corpus zerolog --corpus requests
    python bench/file_search.py --annotations DIR --root chi=/src/chi      # your own annotations
    python bench/file_search.py --stale-copies     # with an older copy planted (bench/stale_copies.py)

With --annotations, every DIR/<name>.json is a corpus; --root NAME=PATH says which checkout it
describes (a built-in corpus's name needs no --root). Corpora in HELD_OUT are reported, never
tuned on. Writes bench/results/file_search-<stamp>.json (and the summary file_search-latest.json).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import corpora
import stale_copies
from _common import add_database_arguments, claim_repository, load, machine, settings_for, table, write_result

from mcp_server.db.pool import open_database
from mcp_server.embed.model import embedder_for
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

ANNOTATIONS = Path(__file__).resolve().parent / "annotations"
MODES = ("hybrid", "keyword", "semantic")
CATEGORIES = ("architecture", "semantic", "symbol")
LIMITS = (10, 20)
K = 10
GAIN_RELEVANT = 1.0
GAIN_SECONDARY = 0.5


@dataclass(frozen=True, slots=True)
class Source:
    language: str
    base: str  # the corpus root, relative to the corpora cache
    skip: tuple[str, ...] = ()  # folder names left out (bundles, source maps' folders)


# Shipped bundles (dist/) and source maps are left out: a user's checkout would not index them
# as source, and they would double every file.
SOURCES: dict[str, Source] = {
    "zerolog": Source("go", "lsp/src/golang-github-rs-zerolog-dev-1.26.1-2/usr/share/gocode/src/github.com/rs/zerolog"),
    "cobra": Source("go", "lsp/src/golang-github-spf13-cobra-dev-1.6.1-1/usr/share/gocode/src/github.com/spf13/cobra"),
    "rxjs": Source("typescript", "lsp/src/rxjs-7.8.1/package/src"),
    "mobx": Source("typescript", "lsp/src/mobx-6.13.5/package/src"),
    "axios": Source("javascript", "lsp/src/axios-1.7.9/package", skip=("dist",)),
    "fastify": Source("javascript", "lsp/src/fastify-4.28.1/package"),
    "jsoup": Source("java", "lsp/src/jsoup-1.15.3-1", skip=("resources", "debian")),
    "commons-io": Source("java", "lsp/src/commons-io-2.11.0-2", skip=("resources", "debian")),
    "requests": Source("python", "src/requests-2.32.3"),
    "click": Source("python", "src/click-8.1.8"),
    "httpx": Source("python", "src/httpx-0.28.1"),
    "werkzeug": Source("python", "src/werkzeug-3.1.3"),
    "bytes": Source("rust", "rust/src/librust-bytes-dev_1.2.1-1/usr/share/cargo/registry/bytes-1.2.1"),
    "semver": Source("rust", "rust/src/librust-semver-dev_1.0.14-1/usr/share/cargo/registry/semver-1.0.14"),
}
# At least one a language: report their figures, never tune search on them.
HELD_OUT = frozenset({"cobra", "mobx", "fastify", "commons-io", "werkzeug", "semver"})

_LANGUAGE_BY_SUFFIX = {
    ".py": "python",
    ".go": "go",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".java": "java",
    ".rs": "rust",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".hpp": "cpp",
    ".rb": "ruby",
    ".kt": "kotlin",
    ".cs": "csharp",
    ".php": "php",
}


# --- scoring ----------------------------------------------------------------------------------


def ranked_files(paths: list[str]) -> list[str]:
    """Hits' files in rank order, each once (at its best hit)."""
    seen: dict[str, None] = {}
    for p in paths:
        seen.setdefault(p, None)
    return list(seen)


def ndcg(files: list[str], relevant: list[str], secondary: list[str], k: int = K) -> float:
    """NDCG@k of a ranked list of distinct files: gain 1 for relevant, 0.5 for secondary."""
    gains = {p: GAIN_SECONDARY for p in secondary}
    gains.update({p: GAIN_RELEVANT for p in relevant})
    ideal = sorted(gains.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    if idcg == 0:
        return 0.0
    dcg = sum(gains.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(files[:k]))
    return dcg / idcg


def recall(files: list[str], relevant: list[str], k: int = K) -> float:
    """The share of relevant files among the first k."""
    if not relevant:
        return 0.0
    return len(set(files[:k]) & set(relevant)) / len(set(relevant))


def mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


# --- corpora ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Corpus:
    name: str
    root: Path  # the tree indexed (annotation paths are relative to it)
    language: str
    held_out: bool
    queries: list[dict[str, Any]]


def load_annotations(path: Path) -> list[dict[str, Any]]:
    """The annotation list, checked: every entry has a query, a category and relevant files."""
    data = json.loads(path.read_text())
    if isinstance(data, dict):  # {"queries": [...]} is accepted too
        data = data["queries"]
    out = []
    for i, q in enumerate(data):
        if not q.get("query") or not q.get("relevant"):
            raise SystemExit(f"{path}: entry {i} needs a query and relevant files")
        out.append(
            {
                "query": q["query"],
                "relevant": list(q["relevant"]),
                "secondary": list(q.get("secondary") or []),
                "category": q.get("category") or "semantic",
            }
        )
    return out


def missing_paths(root: Path, queries: list[dict[str, Any]]) -> list[str]:
    return sorted({p for q in queries for p in q["relevant"] + q["secondary"] if not (root / p).is_file()})


def guess_language(root: Path) -> str:
    counts = Counter(
        _LANGUAGE_BY_SUFFIX[p.suffix] for p in root.rglob("*") if p.is_file() and p.suffix in _LANGUAGE_BY_SUFFIX
    )
    return counts.most_common(1)[0][0] if counts else "unknown"


def linked_copy(name: str, source: Source) -> Path:
    """bench/corpora/file-search/<name>: the corpus root without its skipped folders and source
    maps, hard-linked (pgcode registers a folder under one repository name only, and other
    benchmarks index these trees too)."""
    src = corpora.CACHE / source.base
    if not src.is_dir():
        raise SystemExit(f"corpus {name}: {src} is missing (PGCODE_BENCH_CORPORA={corpora.CACHE})")
    dst = corpora.CACHE / "file-search" / name
    if (dst / ".complete").exists():
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    stale_copies.link_tree(src, dst, skip=(*source.skip, "node_modules"), suffixes=(".map",))
    (dst / ".complete").write_text("ok\n")
    return dst


def selected_corpora(args: argparse.Namespace) -> list[Corpus]:
    folder = args.annotations or ANNOTATIONS
    roots = dict(r.split("=", 1) for r in args.root or [])
    names = args.corpus or sorted(p.stem for p in folder.glob("*.json"))
    out = []
    for name in names:
        path = folder / f"{name}.json"
        if not path.is_file():
            raise SystemExit(f"no annotations {path}")
        if name in roots:
            root = Path(roots[name]).expanduser().resolve()
            language = guess_language(root)
        elif name in SOURCES:
            root = linked_copy(name, SOURCES[name])
            language = SOURCES[name].language
            if args.stale_copies:
                if name not in stale_copies.PLANTS:
                    continue  # no older copy to plant: the plain run measures it
                root = stale_copies.planted_root(name, root)
        else:
            raise SystemExit(f"{name}: say which checkout it describes with --root {name}=PATH")
        queries = load_annotations(path)
        missing = missing_paths(root, queries)
        if missing:
            print(f"warning: {name}: {len(missing)} annotated files are not under {root}: {missing[:5]}")
        label = f"{name}+stale" if args.stale_copies else name
        out.append(Corpus(label, root, language, name in HELD_OUT, queries))
    return out


# --- the run ----------------------------------------------------------------------------------


def aggregate(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean NDCG@10 and Recall@10 per mode and limit, overall and per category."""
    out: dict[str, Any] = {}
    for mode in MODES:
        for limit in LIMITS:
            key = f"{mode}@{limit}"
            groups = {"all": rows, **{c: [r for r in rows if r["category"] == c] for c in CATEGORIES}}
            out[key] = {
                g: {
                    "n": len(rs),
                    "ndcg@10": mean([r[key]["ndcg"] for r in rs]),
                    "recall@10": mean([r[key]["recall"] for r in rs]),
                }
                for g, rs in groups.items()
            }
    return out


async def run_corpus(db: Any, settings: Any, embedder: Any, corpus: Corpus, args: argparse.Namespace) -> dict[str, Any]:
    repo_name = f"bench-files-{corpus.name}"
    load_before = load()
    started = time.perf_counter()
    print(f"[{corpus.name}] {len(corpus.queries)} queries; indexing {corpus.root} ...", flush=True)
    await claim_repository(db, repo_name, corpus.root, fresh=not args.reuse_index)
    report = await index_repository(db, settings, corpus.root, name=repo_name, embedder=embedder)
    index_seconds = time.perf_counter() - started
    async with db.pool.acquire() as conn:
        rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", repo_name)
        files = await conn.fetchval("SELECT count(*) FROM files WHERE repository_id = $1", rid)
        chunks = await conn.fetchval("SELECT count(*) FROM chunks WHERE repository_id = $1", rid)
    print(f"[{corpus.name}] indexed in {index_seconds:.1f}s ({files} files, {chunks} chunks); querying ...", flush=True)
    rows: list[dict[str, Any]] = []
    latency: dict[str, list[float]] = {m: [] for m in MODES}
    for q in corpus.queries:
        row: dict[str, Any] = {k: q[k] for k in ("query", "category", "relevant", "secondary")}
        for mode in MODES:
            t0 = time.perf_counter()
            result = await search_code(
                db.pool, embedder, q["query"], filters=Filters(repository_id=rid), mode=mode, limit=max(LIMITS)
            )
            latency[mode].append(time.perf_counter() - t0)
            hits = [h.path for h in result.results]
            # what the page showed, to see why a query missed (which definition outranked the answer)
            row[f"{mode}_top"] = [
                f"{h.path}:{h.start_line}-{h.end_line} {h.symbol or ''}".rstrip() for h in result.results[:5]
            ]
            for limit in LIMITS:
                # The first `limit` hits of the longer page are the limit-`limit` page: ranking
                # does not depend on the limit beyond how deep the legs are read.
                ranked = ranked_files(hits[:limit])
                row[f"{mode}@{limit}"] = {
                    "ndcg": round(ndcg(ranked, q["relevant"], q["secondary"]), 4),
                    "recall": round(recall(ranked, q["relevant"]), 4),
                    "files": ranked[:K],
                }
        rows.append(row)
    return {
        "corpus": corpus.name,
        "language": corpus.language,
        "held_out": corpus.held_out,
        "root": str(corpus.root),
        "queries": len(rows),
        "files": files,
        "chunks": chunks,
        "index_seconds": round(index_seconds, 1),
        "vectors_embedded": report.vectors_embedded,
        "latency_ms_p50": {m: round(1000 * statistics.median(v), 1) if v else None for m, v in latency.items()},
        "load_before": load_before,
        "load_after": load(),
        "metrics": aggregate(rows),
        "per_query": rows,
    }


def print_tables(results: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """Per corpus, then language x category, at one search limit; returns the language table."""
    rows = []
    for r in results:
        name = r["corpus"] + (" (held out)" if r["held_out"] else "")
        for mode in MODES:
            m = r["metrics"][f"{mode}@{limit}"]
            rows.append(
                [name, r["language"], mode, r["queries"]]
                + [m[g]["ndcg@10"] for g in ("all", *CATEGORIES)]
                + [m["all"]["recall@10"]]
            )
    headers = ["corpus", "language", "mode", "queries", "ndcg all", *(f"ndcg {c[:4]}" for c in CATEGORIES), "R@10"]
    print()
    print(table(headers, rows, title=f"File search, NDCG@10 over files (search limit {limit})"))
    by_language: dict[str, Any] = {}
    every = [q for r in results for q in r["per_query"]]
    groups: dict[str, list[dict[str, Any]]] = {
        language: [q for r in results if r["language"] == language for q in r["per_query"]]
        for language in sorted({r["language"] for r in results})
    }
    groups["all"] = every
    groups["all, tuned on"] = [q for r in results if not r["held_out"] for q in r["per_query"]]
    groups["all, held out"] = [q for r in results if r["held_out"] for q in r["per_query"]]
    rows = []
    for language, qs in groups.items():
        if not qs:
            continue
        by_language[language] = aggregate(qs)
        for mode in MODES:
            m = by_language[language][f"{mode}@{limit}"]
            rows.append(
                [language, mode, m["all"]["n"]]
                + [m[g]["ndcg@10"] for g in ("all", *CATEGORIES)]
                + [m["all"]["recall@10"]]
            )
    print()
    print(
        table(
            ["language", "mode", "queries", "ndcg all", *(f"ndcg {c[:4]}" for c in CATEGORIES), "R@10"],
            rows,
            title=f"File search by language, every corpus (search limit {limit})",
        )
    )
    return by_language


def print_worst(results: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    every = [(r["corpus"], q) for r in results for q in r["per_query"]]
    worst = sorted(every, key=lambda cq: (cq[1]["hybrid@10"]["ndcg"], cq[1]["hybrid@20"]["ndcg"]))[:n]
    print(f"\nThe {n} worst queries (hybrid, limit 10):")
    out = []
    for name, q in worst:
        print(f"- [{name}/{q['category']}] {q['query']!r}: ndcg {q['hybrid@10']['ndcg']:.2f}")
        print(
            f"    wanted: {', '.join(q['relevant'])}"
            + (f"; also {', '.join(q['secondary'])}" if q["secondary"] else "")
        )
        print(f"    ranked: {', '.join(q['hybrid@10']['files'][:6])}")
        print(f"    top hits: {'; '.join(q['hybrid_top'][:3])}")
        out.append({"corpus": name, **q})
    return out


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    chosen = selected_corpora(args)
    embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings))
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    async with open_database(settings) as db:
        for corpus in chosen:
            results.append(await run_corpus(db, settings, embedder, corpus, args))
    by_language = {limit: print_tables(results, limit) for limit in LIMITS}
    worst = print_worst(results, args.worst)
    payload = {
        "benchmark": "file_search",
        "command": " ".join(sys.argv),
        "modes": list(MODES),
        "limits": list(LIMITS),
        "k": K,
        "gains": {"relevant": GAIN_RELEVANT, "secondary": GAIN_SECONDARY},
        "embedding_model": embedder.model_key,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "held_out": [r["corpus"] for r in results if r["held_out"]],
        "by_language": {str(k): v for k, v in by_language.items()},
        "worst": [
            {k: q[k] for k in ("corpus", "query", "category", "relevant", "hybrid@10", "hybrid_top")} for q in worst
        ],
        # one flat list, so the committed summary keeps its length and the full file the rows
        "queries": [{"corpus": r["corpus"], **q} for r in results for q in r["per_query"]],
        "corpora": [{k: v for k, v in r.items() if k != "per_query"} for r in results],
    }
    label = "-".join(c.name for c in chosen) if args.corpus else ""
    path = write_result("file_search_stale" if args.stale_copies else "file_search", payload, label)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", help="corpus name, repeatable (default: every annotation file)")
    parser.add_argument("--annotations", type=Path, default=None, help=f"annotation folder (default {ANNOTATIONS})")
    parser.add_argument(
        "--root", action="append", metavar="NAME=PATH", help="the checkout annotations NAME.json describe, repeatable"
    )
    parser.add_argument("--worst", type=int, default=5, help="how many of the worst queries to print (default 5)")
    parser.add_argument(
        "--stale-copies",
        action="store_true",
        help="plant an older copy of the library in each corpus that has one (bench/stale_copies.py)",
    )
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep each corpus's index from an earlier run (default: index afresh; vectors are reused either way)",
    )
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
