"""Retrieval quality, docstring -> code (the CodeSearchNet method), for keyword, semantic and hybrid search.

For each corpus, a copy is made with every function and method docstring blanked (the string
becomes `""` and its other lines become blank, so every line keeps its number and the code stays
valid). The copy is indexed with the embedder, then each removed docstring's first sentence is a
query. A hit is correct when it is in the function's file and overlaps the function's lines
(decorators to last line); the symbol variant wants the hit's symbol to be the function itself;
the strict function variant wants at least half of the hit's lines inside the function, and no
whole-file or whole-class chunk that encloses it (the rule the fusion study scores by too).
Functions are top-level functions and methods (of classes at any depth); nested functions are
not queried. First sentences under 4 words are skipped, and so are sentences shared by several
functions (the query could not tell them apart). Queries are sampled with a fixed seed.

    python bench/retrieval.py                                  # requests, werkzeug, jinja2, rich
    python bench/retrieval.py --corpus django                  # ~8 min of embedding on one core
    python bench/retrieval.py --corpus requests --queries 100 --data-dir /tmp/bench-db

Go, TypeScript, Java and Rust corpora (bench/retrieval_corpora.py) are the same with each function's
doc comment stripped instead (bench/doc_strip.py: JSDoc, Go doc comments, Javadoc, rustdoc; every
line keeps its number), the target being the function from its first attribute or decorator to its
last line:

    python bench/retrieval.py --language go --queries 100      # zerolog, cobra, chi
    python bench/retrieval.py --corpus jsoup --corpus commons-io

Metrics: Recall@1/5/10 and MRR@10 per mode. Rich is held out: report it, never tune on it; so are
chi, logrus, rxjs, trpc, commons-io, commons-lang3, smallvec and arrayvec.
Writes bench/results/retrieval-<stamp>.json (and the summary retrieval-latest.json; see bench/README.md);
a run with other languages writes retrieval_langs-<stamp>.json and retrieval_langs-latest.json.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import corpora
import doc_strip
import retrieval_corpora
from _common import add_database_arguments, claim_repository, load, machine, settings_for, table, write_result

from mcp_server.db.pool import open_database
from mcp_server.embed.model import embedder_for
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

MODES = ("keyword", "semantic", "hybrid")
# overlap: the hit touches the function; symbol: the hit is named after it; function: the strict rule
METRIC_VARIANTS = ("overlap", "symbol", "function")
KS = (1, 5, 10)
LIMIT = 10
SEED = 1234
MIN_WORDS = 4
BLANKED = corpora.CACHE / "blanked"
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")


@dataclass(slots=True)
class Function:
    path: str  # repo-relative, POSIX
    name: str
    scope: str  # dotted classes + name, inside the module ("Session.request")
    start: int  # first line (first decorator), 1-based
    def_line: int  # the `def` line
    end: int
    query: str  # the docstring's first sentence (or its whole text: see --query-kind)
    qualified_name: str | None = None  # pgcode's name for it, looked up after indexing
    doc: str = ""  # the whole docstring / doc comment


@dataclass(slots=True)
class Blanked:
    functions: list[Function] = field(default_factory=list)
    files: int = 0
    docstrings_blanked: int = 0
    files_unparsable: int = 0  # left as they are (their functions are not queried)


# --- the blanked copy ---------------------------------------------------------------------


def _definitions(body: list[ast.stmt], scope: list[str]):  # type: ignore[no-untyped-def]
    """Functions and methods (not nested functions) with their class scope, through if/try/with blocks."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node, scope + [node.name]
        elif isinstance(node, ast.ClassDef):
            yield from _definitions(node.body, scope + [node.name])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.AsyncWith, ast.For, ast.While)):
            for part in ("body", "orelse", "finalbody"):
                yield from _definitions(getattr(node, part, []) or [], scope)
            for handler in getattr(node, "handlers", []) or []:
                yield from _definitions(handler.body, scope)
        elif sys.version_info >= (3, 11) and isinstance(node, getattr(ast, "TryStar", ())):
            for part in ("body", "orelse", "finalbody"):
                yield from _definitions(getattr(node, part, []) or [], scope)


def _docstring_node(node: ast.AST) -> ast.Constant | None:
    body = getattr(node, "body", None)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        return body[0].value
    return None


def first_sentence(doc: str) -> str | None:
    """The first sentence of the docstring's first paragraph, whitespace collapsed."""
    paragraph = doc.strip().split("\n\n")[0]
    paragraph = " ".join(paragraph.split())
    if not paragraph or paragraph.startswith((":", ">>>", "..")):
        return None
    m = _SENTENCE.match(paragraph)
    return (m.group(1) if m else paragraph).strip()


def blank_source(source: bytes) -> tuple[bytes, list[tuple[ast.AST, list[str], str]]]:
    """The source with function/method docstrings blanked (line numbers kept), and the functions
    whose docstrings were removed, each with its scope and docstring."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found: list[tuple[ast.AST, list[str], str]] = []
    edits: list[tuple[int, int, int, int]] = []
    for node, scope in _definitions(tree.body, []):
        doc = _docstring_node(node)
        if doc is None or doc.end_lineno is None or doc.end_col_offset is None:
            continue
        found.append((node, scope, ast.get_docstring(node, clean=True) or ""))
        edits.append((doc.lineno, doc.col_offset, doc.end_lineno, doc.end_col_offset))
    # Bottom-up, so earlier edits do not move later ones (they never do: line count is kept).
    for l0, c0, l1, c1 in sorted(edits, reverse=True):
        first, last = lines[l0 - 1], lines[l1 - 1]
        prefix, suffix = first[:c0], last[c1:]  # ast offsets are UTF-8 byte offsets
        if not suffix.endswith(b"\n") and l1 < len(lines):
            suffix += b"\n"
        lines[l0 - 1] = prefix + b'""' + suffix
        for i in range(l0, l1):
            lines[i] = b"\n"
    out = b"".join(lines)
    assert out.count(b"\n") == source.count(b"\n"), "line count changed"
    return out, found


def make_blanked(corpus: corpora.Corpus) -> tuple[Path, Blanked]:
    """bench/corpora/blanked/<corpus>: the corpus with docstrings blanked. Files are rewritten only
    when their bytes change, so a re-run re-indexes (and re-embeds) nothing."""
    src_root = corpora.corpus_root(corpus.name)
    dst_root = BLANKED / corpus.name
    result = Blanked()
    wanted: set[Path] = set()
    for src in sorted(p for p in src_root.rglob("*") if p.is_file() and p.name != ".complete"):
        rel = src.relative_to(src_root)
        dst = dst_root / rel
        wanted.add(dst)
        data = src.read_bytes()
        if src.suffix == ".py":
            result.files += 1
            try:
                blanked, found = blank_source(data)
                ast.parse(blanked)
            except (SyntaxError, ValueError, AssertionError):
                result.files_unparsable += 1
                blanked, found = data, []
            result.docstrings_blanked += len(found)
            for node, scope, doc in found:
                sentence = first_sentence(doc)
                if sentence is None or len(sentence.split()) < MIN_WORDS:
                    continue
                decorators = [d.lineno for d in getattr(node, "decorator_list", [])]
                result.functions.append(
                    Function(
                        path=rel.as_posix(),
                        name=scope[-1],
                        scope=".".join(scope),
                        start=min([node.lineno, *decorators]),
                        def_line=node.lineno,  # type: ignore[attr-defined]
                        end=node.end_lineno or node.lineno,
                        query=sentence,  # type: ignore[attr-defined]
                        doc=doc,
                    )
                )
            data = blanked
        if not dst.exists() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
    for stale in [p for p in dst_root.rglob("*") if p.is_file() and p not in wanted]:
        stale.unlink()
    return dst_root, result


def make_stripped(corpus: retrieval_corpora.LangCorpus) -> tuple[Path, Blanked]:
    """bench/corpora/blanked/<corpus>: the library's files with function doc comments stripped."""
    dst_root = BLANKED / corpus.name
    result = Blanked()

    def take(rel: str, found: list[doc_strip.DocFunction] | None) -> None:
        result.files += 1
        if found is None:
            result.files_unparsable += 1
            return
        result.docstrings_blanked += len(found)
        for d in found:
            if d.query is None or len(d.query.split()) < MIN_WORDS:
                continue
            result.functions.append(Function(rel, d.name, d.scope, d.start, d.def_line, d.end, d.query, doc=d.doc))

    retrieval_corpora.strip_tree(corpus, dst_root, take)
    return dst_root, result


AnyCorpus = corpora.Corpus | retrieval_corpora.LangCorpus


def select_corpora(names: list[str] | None, languages: list[str] | None) -> list[AnyCorpus]:
    """The named corpora (Python or not) and every corpus of the named languages; default the small Python ones."""
    chosen: list[AnyCorpus] = []
    for name in names or []:
        other = retrieval_corpora.CORPORA.get(name.lower())
        chosen.append(other if other is not None else corpora.get(name))
    for language in languages or []:
        if language not in retrieval_corpora.BY_LANGUAGE:
            raise SystemExit(f"unknown language {language!r}; choose from {', '.join(retrieval_corpora.BY_LANGUAGE)}")
        chosen.extend(retrieval_corpora.CORPORA[n] for n in retrieval_corpora.BY_LANGUAGE[language])
    return chosen or list(corpora.selected(None, corpora.SMALL))


# --- long queries: a whole doc text as the paragraph an agent pastes --------------------------

QUERY_KINDS = ("sentence", "paragraph", "paragraph-plain")
MIN_PARAGRAPH_WORDS = 25
_IDENTIFIER_SHAPED = re.compile(
    r"`[^`]*`|\b\w+\(\)|\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+|\b\w*_\w*\b|\b[a-z]+[A-Z]\w*|\b[A-Z][a-z0-9]+[A-Z]\w*"
)


def paragraph_query(fn: Function, plain: bool) -> str | None:
    """The function's whole doc text on one line (doctest and directive lines dropped), at most
    the search limit long; `plain` also drops every identifier-shaped word and the function's own
    name, as a report written by someone who does not know the code would. None when under
    MIN_PARAGRAPH_WORDS words."""
    lines = [line for line in fn.doc.splitlines() if not line.strip().startswith((">>>", "...", ".. "))]
    text = " ".join(" ".join(lines).split())
    if plain:
        text = _IDENTIFIER_SHAPED.sub(" ", text)
        text = re.sub(rf"\b{re.escape(fn.name)}\b", " ", text, flags=re.IGNORECASE)
        text = " ".join(text.split())
    if len(text.split()) < MIN_PARAGRAPH_WORDS:
        return None
    return text[:2000].rsplit(" ", 1)[0] if len(text) > 2000 else text


def with_query_kind(functions: list[Function], kind: str) -> list[Function]:
    if kind == "sentence":
        return functions
    out: list[Function] = []
    for fn in functions:
        query = paragraph_query(fn, plain=kind == "paragraph-plain")
        if query is not None:
            fn.query = query
            out.append(fn)
    return out


def sample(functions: list[Function], n: int, seed: int) -> tuple[list[Function], int]:
    """Up to n functions, seeded; sentences shared by several functions are dropped (ambiguous)."""
    counts: dict[str, int] = {}
    for f in functions:
        counts[f.query.lower()] = counts.get(f.query.lower(), 0) + 1
    unique = sorted((f for f in functions if counts[f.query.lower()] == 1), key=lambda f: (f.path, f.def_line))
    dropped = len(functions) - len(unique)
    rng = random.Random(seed)
    return (rng.sample(unique, n) if len(unique) > n else unique), dropped


# --- scoring --------------------------------------------------------------------------------


def function_hit(path: str, start: int, end: int, fn: Function) -> bool:
    """The strict function-level rule: at least half of the hit's lines lie inside the function,
    and the hit does not enclose the function with more code on both sides (a whole-file or
    whole-class chunk holding it names the container, not the function)."""
    if path != fn.path:
        return False
    inside = min(end, fn.end) - max(start, fn.start) + 1
    encloses = start < fn.start and end > fn.end
    return inside > 0 and 2 * inside >= end - start + 1 and not encloses


def rank_of(hits: list[Any], fn: Function, variant: str) -> int | None:
    for rank, hit in enumerate(hits, 1):
        if variant == "function":
            if function_hit(hit.path, hit.start_line, hit.end_line, fn):
                return rank
        elif variant == "symbol":
            if fn.qualified_name is not None and hit.symbol == fn.qualified_name:
                return rank
        elif hit.path == fn.path and hit.start_line <= fn.end and hit.end_line >= fn.start:
            return rank
    return None


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    out = {f"R@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in KS}
    out["MRR@10"] = sum(1.0 / r for r in ranks if r is not None and r <= LIMIT) / n
    return {k: round(v, 4) for k, v in out.items()}


# --- ablation: the same three ranked lists, fused and shown other ways ------------------------

VARIANTS = (
    "as shipped",
    "semantic leg alone",
    "full-text leg alone",
    "full-text leg, BM25-scored",
    "symbol leg alone",
    "reciprocal rank fusion (before)",
    "no symbol leg",
    "no full-text leg",
    "cosine share 0.5",
    "cosine share 0.7",
    "no rerank (test/preamble/prose factors)",
    "no merge (a hit per chunk, as before)",
)


def rrf_semantic_weight(query: str) -> float:
    """The vector list's weight in the reciprocal rank fusion search_code used before it scored
    its pool: 8 for a paragraph (20 words or more), 2 for a sentence (4 or more), else 1."""
    words = len(query.split())
    return 8.0 if words >= 20 else 2.0 if words >= 4 else 1.0


async def fusion_study(db: Any, embedder: Any, rid: int, chosen: list[Function]) -> dict[str, Any]:
    """Strict function-level recall of pgcode's own three lists (semantic, full text, symbol
    names), each alone and fused other ways. Every variant goes through hybrid.rank_hits, the
    step search_code shows its page with, so "as shipped" reproduces search_code and each other
    variant changes one thing. A leg alone is shown in its own order; "BM25-scored" ranks the
    full-text leg's chunks by the BM25 the hybrid pool is scored with."""
    from mcp_server.search import hybrid

    depth = max(LIMIT * hybrid._DEPTH, hybrid._MIN_DEPTH)
    filters = Filters(repository_id=rid)
    ranks: dict[str, list[int | None]] = {v: [] for v in VARIANTS}
    async with db.pool.acquire() as conn:
        for fn in chosen:
            q = fn.query
            vector = await anyio.to_thread.run_sync(embedder.embed_query, q)
            sem = await hybrid._semantic(conn, embedder, vector, filters, depth, 100)
            lex = await hybrid._lexical(conn, q, filters, depth)
            sym = await hybrid._symbols(conn, q, filters, depth)
            w = rrf_semantic_weight(q)

            def scoring(share: float = hybrid._COSINE_SHARE) -> Any:
                return hybrid.Scoring(vector, embedder.model_key, rid, share)  # noqa: B023

            legs = [(sem, w), (lex, 1.0), (sym, 1.0)]
            lists: dict[str, tuple[list[tuple[list[int], float]], dict[str, Any]]] = {
                "as shipped": (legs, {"scoring": scoring()}),
                "semantic leg alone": ([(sem, 1)], {}),
                "full-text leg alone": ([(lex, 1)], {}),
                "full-text leg, BM25-scored": ([(lex, 1)], {"scoring": scoring(0.0)}),
                "symbol leg alone": ([(sym, 1)], {}),
                "reciprocal rank fusion (before)": (legs, {}),
                "no symbol leg": ([(sem, w), (lex, 1)], {"scoring": scoring()}),
                "no full-text leg": ([(sem, w), (sym, 1)], {"scoring": scoring()}),
                "cosine share 0.5": (legs, {"scoring": scoring(0.5)}),
                "cosine share 0.7": (legs, {"scoring": scoring(0.7)}),
                "no rerank (test/preamble/prose factors)": (legs, {"scoring": scoring(), "rerank": False}),
                "no merge (a hit per chunk, as before)": (legs, {"scoring": scoring(), "merge": False}),
            }
            for variant, (ranked, flags) in lists.items():
                hits = await hybrid.rank_hits(conn, ranked, q, None, LIMIT, **flags)
                ranks[variant].append(rank_of(hits, fn, "function"))
    return {"variants": {v: metrics(ranks[v]) for v in VARIANTS}}


# --- fp32 against int8: the same searches with the unquantised model ------------------------

PRECISION_MODES = ("semantic", "hybrid")
COST_SAMPLE = 400  # chunk texts each model embeds for its CPU-seconds per 1,000 chunks


async def strict_ranks(db: Any, embedder: Any, rid: int, chosen: list[Function], mode: str) -> list[int | None]:
    """Each query's rank of its function under the strict rule, through search_code."""
    ranks: list[int | None] = []
    for fn in chosen:
        try:
            result = await search_code(db.pool, embedder, fn.query, filters=Filters(repository_id=rid), mode=mode)
        except asyncpg.QueryCanceledError:
            ranks.append(None)
            continue
        ranks.append(rank_of(result.results, fn, "function"))
    return ranks


def embed_cpu_per_1000(embedders: dict[str, Any], texts: list[str], batch_size: int) -> dict[str, float]:
    """Process CPU-seconds each embedder spends on `texts` (the indexer's call, its batch size),
    per 1,000 texts: the best of two alternating rounds, as other work on the machine only adds."""
    best: dict[str, float] = {}
    for _ in range(2):
        for name, embedder in embedders.items():
            started = time.process_time()
            embedder.embed_documents(texts, batch_size=batch_size)
            spent = (time.process_time() - started) / max(len(texts), 1) * 1000
            best[name] = round(min(best.get(name, spent), spent), 3)
    return best


async def precision_study(
    db: Any, settings: Any, int8: Any, fp32: Any, rid: int, chosen: list[Function], seed: int
) -> dict[str, Any]:
    """Strict MRR@10 / R@10 of the semantic and hybrid modes with the fp32 model beside the
    int8 one (the default), each with vectors of its own, and what each costs the model."""
    from mcp_server.indexer.embed import embed_pending

    await embed_pending(db.pool, fp32, settings, rid)
    figures: dict[str, Any] = {}
    for name, embedder in (("int8", int8), ("fp32", fp32)):
        figures[name] = {
            "model_key": embedder.model_key,
            **{mode: metrics(await strict_ranks(db, embedder, rid, chosen, mode)) for mode in PRECISION_MODES},
        }
    async with db.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT DISTINCT ON (content_hash) header, content FROM chunks WHERE repository_id = $1 AND embed",
            rid,
        )
    texts = sorted(f"{r['header']}\n{r['content']}" if r["header"] else r["content"] for r in rows)
    texts = random.Random(seed).sample(texts, min(COST_SAMPLE, len(texts)))
    cost = await anyio.to_thread.run_sync(
        lambda: embed_cpu_per_1000({"int8": int8, "fp32": fp32}, texts, settings.embed_batch_size)
    )
    for name, cpu in cost.items():
        figures[name]["cpu_s_per_1000_chunks"] = cpu
    figures["cost_sample"] = len(texts)
    return figures


# --- the run ----------------------------------------------------------------------------------


async def run_corpus(
    db: Any, settings: Any, embedder: Any, corpus: AnyCorpus, args: argparse.Namespace, fp32: Any = None
) -> dict[str, Any]:
    load_before = load()
    language = getattr(corpus, "language", "python")
    if isinstance(corpus, retrieval_corpora.LangCorpus):
        root, blanked = make_stripped(corpus)
    else:
        root, blanked = make_blanked(corpus)
    chosen, ambiguous = sample(with_query_kind(blanked.functions, args.query_kind), args.queries, args.seed)
    print(
        f"[{corpus.name}] {blanked.files} files, {blanked.docstrings_blanked} docstrings blanked, "
        f"{len(blanked.functions)} eligible, {ambiguous} ambiguous dropped, {len(chosen)} queries; indexing ...",
        flush=True,
    )
    started = time.perf_counter()
    await claim_repository(db, f"bench-retrieval-{corpus.name}", root, fresh=not args.reuse_index)
    report = await index_repository(db, settings, root, name=f"bench-retrieval-{corpus.name}", embedder=embedder)
    index_seconds = time.perf_counter() - started
    async with db.pool.acquire() as conn:
        repo = await conn.fetchrow("SELECT id FROM repositories WHERE name = $1", f"bench-retrieval-{corpus.name}")
        rid = repo["id"]
        chunks = await conn.fetchval("SELECT count(*) FROM chunks WHERE repository_id = $1", rid)
        symbols = await conn.fetch(
            """SELECT f.path, s.name, s.qualified_name, s.start_line, s.end_line FROM symbols s
               JOIN files f ON f.id = s.file_id
               WHERE s.repository_id = $1 AND s.kind IN ('function', 'method', 'constructor')""",
            rid,
        )
        spans = await conn.fetch(
            """SELECT f.path, c.start_line, c.end_line FROM chunks c JOIN files f ON f.id = c.file_id
               WHERE c.repository_id = $1""",
            rid,
        )
    # The strict rule can only be met where some chunk is mostly the function: the share of targets
    # that have one bounds the strict recall, whatever the ranking.
    by_path: dict[str, list[tuple[int, int]]] = {}
    for c in spans:
        by_path.setdefault(c["path"], []).append((c["start_line"], c["end_line"]))
    reachable = sum(1 for fn in chosen if any(function_hit(fn.path, lo, hi, fn) for lo, hi in by_path.get(fn.path, [])))
    by_site: dict[tuple[str, str], list[Any]] = {}
    for s in symbols:
        by_site.setdefault((s["path"], s["name"]), []).append(s)
    unmatched = 0
    for fn in chosen:
        cands = [s for s in by_site.get((fn.path, fn.name), []) if fn.start <= s["start_line"] <= fn.def_line]
        if cands:
            fn.qualified_name = cands[0]["qualified_name"]
        else:
            unmatched += 1
    print(
        f"[{corpus.name}] indexed in {index_seconds:.1f}s ({chunks} chunks, {report.vectors_embedded} vectors "
        f"embedded now); querying ...",
        flush=True,
    )

    ranks: dict[str, dict[str, list[int | None]]] = {m: {v: [] for v in METRIC_VARIANTS} for m in MODES}
    latency: dict[str, list[float]] = {m: [] for m in MODES}
    timeouts: dict[str, list[str]] = {m: [] for m in MODES}
    per_query: list[dict[str, Any]] = []
    pending = 0
    for fn in chosen:
        row: dict[str, Any] = {
            "query": fn.query,
            "path": fn.path,
            "lines": [fn.start, fn.end],
            "qualified_name": fn.qualified_name,
        }
        for mode in MODES:
            t0 = time.perf_counter()
            try:
                result = await search_code(
                    db.pool, embedder, fn.query, filters=Filters(repository_id=rid), mode=mode, limit=LIMIT
                )
            except asyncpg.QueryCanceledError:
                # The statement timeout: the query is scored as a miss and counted, not the run lost.
                latency[mode].append(time.perf_counter() - t0)
                timeouts[mode].append(fn.query)
                for v in METRIC_VARIANTS:
                    ranks[mode][v].append(None)
                row[mode] = {**{f"{v}_rank": None for v in METRIC_VARIANTS}, "timeout": True}
                continue
            latency[mode].append(time.perf_counter() - t0)
            pending = max(pending, result.vectors_pending)
            found = {v: rank_of(result.results, fn, v) for v in METRIC_VARIANTS}
            for v, rank in found.items():
                ranks[mode][v].append(rank)
            row[mode] = {
                **{f"{v}_rank": rank for v, rank in found.items()},
                "top": [f"{h.path}:{h.start_line}-{h.end_line} {h.symbol}" for h in result.results[:3]],
            }
        per_query.append(row)
    study = None
    if args.fusion_study and not corpus.held_out:
        study = await fusion_study(db, embedder, rid, chosen)
    precision = None
    if fp32 is not None:
        precision = await precision_study(db, settings, embedder, fp32, rid, chosen, args.seed)
    out = {
        "corpus": corpus.name,
        "language": language,
        "requirement": corpus.requirement,
        "held_out": corpus.held_out,
        "fusion_study": study,
        "precision_study": precision,
        "files": blanked.files,
        "files_unparsable": blanked.files_unparsable,
        "docstrings_blanked": blanked.docstrings_blanked,
        "eligible": len(blanked.functions),
        "ambiguous_dropped": ambiguous,
        "queries": len(chosen),
        # Go docs open with the function's name by convention ("Foo returns ..."): a keyword head start.
        "queries_naming_function": sum(1 for fn in chosen if re.search(rf"\b{re.escape(fn.name)}\b", fn.query)),
        "fewer_than_requested": len(chosen) < args.queries,
        "functions_without_symbol": unmatched,
        "chunks": chunks,
        "targets_with_a_function_chunk": round(reachable / (len(chosen) or 1), 4),
        "vectors_pending": pending,
        "index_seconds": round(index_seconds, 1),
        "index_stages": {k: round(v, 2) for k, v in report.seconds.items()},
        "vectors_embedded": report.vectors_embedded,
        "metrics": {m: {v: metrics(ranks[m][v]) for v in METRIC_VARIANTS} for m in MODES},
        "statement_timeouts": timeouts,
        "latency_ms_p50": {m: round(1000 * statistics.median(latency[m]), 1) if latency[m] else None for m in MODES},
        "load_before": load_before,
        "load_after": load(),
        "per_query": per_query,
    }
    return out


def print_tables(results: list[dict[str, Any]]) -> None:
    for variant, title in (
        ("overlap", "hit overlaps the function's lines"),
        ("symbol", "hit symbol == the function's qualified name"),
        ("function", "strict: >= 50 % of the hit inside the function, no enclosing file/class chunk"),
    ):
        rows = []
        for r in results:
            name = r["corpus"] + (" (held out)" if r["held_out"] else "")
            for mode in MODES:
                m = r["metrics"][mode][variant]
                rows.append(
                    [name, r["queries"], mode, m["R@1"], m["R@5"], m["R@10"], m["MRR@10"], r["latency_ms_p50"][mode]]
                )
        print()
        print(
            table(
                ["corpus", "queries", "mode", "R@1", "R@5", "R@10", "MRR@10", "p50 ms"],
                rows,
                title=f"Retrieval, docstring -> code ({title})",
            )
        )
    print()
    print(
        table(
            [
                "corpus",
                "files",
                "eligible",
                "ambiguous",
                "queries",
                "chunks",
                "strict-reachable",
                "index s",
                "load1 before",
                "load1 after",
            ],
            [
                [
                    r["corpus"],
                    r["files"],
                    r["eligible"],
                    r["ambiguous_dropped"],
                    r["queries"],
                    r["chunks"],
                    r.get("targets_with_a_function_chunk"),
                    r["index_seconds"],
                    r["load_before"]["load1"],
                    r["load_after"]["load1"],
                ]
                for r in results
            ],
        )
    )
    studied = [r for r in results if r.get("fusion_study")]
    if studied:
        rows = [
            [r["corpus"], v, m["R@1"], m["R@5"], m["R@10"], m["MRR@10"]]
            for r in studied
            for v, m in r["fusion_study"]["variants"].items()
        ]
        print()
        print(
            table(
                ["corpus", "fusion variant", "R@1", "R@5", "R@10", "MRR@10"],
                rows,
                title="Fusion study (strict function rule; never run on the held-out corpus)",
            )
        )
    precise = [r for r in results if r.get("precision_study")]
    if precise:
        rows = [
            [
                r["corpus"] + (" (held out)" if r["held_out"] else ""),
                name,
                *(
                    f"{r['precision_study'][name][m]['MRR@10']:.3f} / {r['precision_study'][name][m]['R@10']:.3f}"
                    for m in PRECISION_MODES
                ),
                r["precision_study"][name]["cpu_s_per_1000_chunks"],
            ]
            for r in precise
            for name in ("int8", "fp32")
        ]
        print()
        print(
            table(
                ["corpus", "model", "semantic MRR@10 / R@10", "hybrid MRR@10 / R@10", "model CPU-s per 1,000 chunks"],
                rows,
                title="fp32 against int8 (strict function rule)",
            )
        )
    for r in results:
        for mode, queries in r.get("statement_timeouts", {}).items():
            if queries:
                print(
                    f"note: {r['corpus']} {mode}: {len(queries)} queries hit the statement timeout (scored as misses)"
                )
        if r["fewer_than_requested"]:
            print(f"note: {r['corpus']} has only {r['queries']} eligible functions (fewer than requested)")


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    selected = select_corpora(args.corpus, args.language)
    embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings))
    fp32 = None
    if args.precision_study:
        unquantised = dataclasses.replace(settings, embedding_quantize=False)
        fp32 = await anyio.to_thread.run_sync(lambda: embedder_for(unquantised))
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    async with open_database(settings) as db:
        for corpus in selected:
            results.append(await run_corpus(db, settings, embedder, corpus, args, fp32))
    print_tables(results)
    payload = {
        "benchmark": "retrieval",
        "command": " ".join(sys.argv),
        "seed": args.seed,
        "queries_requested": args.queries,
        "modes": list(MODES),
        "limit": LIMIT,
        "embedding_model": embedder.model_key,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "held_out": [r["corpus"] for r in results if r["held_out"]],
        "corpora": results,
    }
    label = "-".join(c.name for c in selected) if args.corpus or args.language else ""
    # Other languages keep a summary of their own, so a run of them leaves the Python figure's file be.
    python_only = all(isinstance(c, corpora.Corpus) for c in selected)
    path = write_result("retrieval" if python_only else "retrieval_langs", payload, label)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        action="append",
        help=f"corpus name, repeatable (default: {', '.join(corpora.SMALL)}; also: django, "
        f"{', '.join(retrieval_corpora.CORPORA)})",
    )
    parser.add_argument(
        "--language",
        action="append",
        help=f"every corpus of a language, repeatable ({', '.join(retrieval_corpora.BY_LANGUAGE)})",
    )
    parser.add_argument("--queries", type=int, default=300, help="queries per corpus (default 300)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default {SEED})")
    parser.add_argument(
        "--query-kind",
        choices=QUERY_KINDS,
        default="sentence",
        help="the doc text's first sentence (default); its whole text as a long query; or that without "
        f"identifiers (functions whose text has under {MIN_PARAGRAPH_WORDS} words are left out of the long kinds)",
    )
    parser.add_argument(
        "--fusion-study",
        action="store_true",
        help="also score other fusions of the three ranked lists (skipped on the held-out corpus)",
    )
    parser.add_argument(
        "--precision-study",
        action="store_true",
        help="also run the semantic and hybrid searches with the fp32 model (vectors of its own) and "
        "measure both models' CPU-seconds per 1,000 chunks",
    )
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep the corpus's index from an earlier run (default: index afresh, so the figures "
        "measure the current code; vectors are reused either way)",
    )
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
