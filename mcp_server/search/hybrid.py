"""Hybrid code search: HNSW vectors + code-aware full text + symbol names, pooled and scored by cosine and BM25."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

import anyio
import asyncpg
import numpy as np

from ..db.vector_marks import recent_pending
from ..db.vectors import model_storage
from ..embed.model import Embedder
from ..errors import InvalidArgument
from ..index.chunk import INLINE_KINDS
from ..index.layout import is_test_path
from ..index.tokens import code_terms, tsquery_terms
from . import copies
from .filters import Filters
from .frequencies import document_frequencies

Mode = Literal["hybrid", "semantic", "keyword"]
MODES: tuple[str, ...] = ("hybrid", "semantic", "keyword")
MAX_QUERY_CHARS = 2000
MAX_LIMIT = 100
_RRF_K = 60
# Hybrid's score of a pooled chunk: this share of its cosine to the query (min-max over the pool)
# plus the rest of its BM25 over the query's terms (over the pool's best). See _fuse_scores.
_COSINE_SHARE = 0.6
_BM25_K1 = 1.2
_BM25_B = 0.75
_NAME_QUERY_WORDS = 2
_NAMED_BONUS = 0.5  # on scores within 0..1: a definition the query names leads its page
_FLOOR = 0.01  # every pooled chunk keeps a sliver of score, so the rerank's factors still order it
_DEPTH = 4  # each list fetches limit * _DEPTH candidates before fusion
_MIN_DEPTH = 40
_SNIPPET_LINES = 8
_FOCUS_LINES = 4  # the lines a snippet is chosen by: what an answer shows of it
_SNIPPET_CHARS = 600
# A long query's full-text passes take its rarest words, this many (the any-two pass is their
# pairs: 45 at most), and the first identifiers it names, this many (see _salient for why).
_MAX_LEXEMES = 10
_MAX_IDENTIFIERS = 8
_RARE_COUNT = 1000  # counting a lexeme's chunks stops here: ones this common are ranked by length
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_CAMEL = re.compile(r"[a-z0-9][A-Z]")
_TEST_FACTOR = 0.7
_PREAMBLE_FACTOR = 0.7
_SHORT_PREAMBLE_LINES = 4
_PROSE = frozenset({"markdown", "rst", "text"})
_PROSE_FACTOR = 0.8
# Code beside the code: examples, docs, benchmarks, fixtures and type declarations repeat the
# library's names and words, and an agent asking how the library works wants the library first
# (hand-written questions, NDCG@10 over files: JavaScript .715 -> .755, all .810 -> .815).
_SECONDARY_PATH = re.compile(r"(^|/)(examples?|samples?|docs?|benchmarks?|bench|fixtures|demo|scripts)/|\.d\.ts$")
_SECONDARY_FACTOR = 0.7
_ARCHIVE_FACTOR = 0.7  # legacy/, old/, vendored and build/lib/ copies (copies.archived)
_COPY_FACTOR = 0.4  # the copies of a file that are not the live one, when both are pooled
_FREE_HITS_PER_FILE = 3
_FILE_DECAY = 0.7
_NOT_DEFINITIONS = INLINE_KINDS | {"module"}
# Definition d starts inside chunk c, after c's own symbol s: small siblings merged into one chunk
# (the kinds that are not definitions of their own are $2).
_INNER_DEFINITION = """d.file_id = c.file_id AND d.start_line BETWEEN c.start_line AND c.end_line
    AND d.start_line > s.start_line AND d.kind <> ALL($2::text[])"""
# Words too common in code and prose alike to say which of a chunk's definitions a query is about.
_COMMON_WORDS = frozenset(
    "the and for with from this that are was its into when then than return returns self none true false not"
    " any all".split()
)


@dataclass(frozen=True, slots=True)
class Hit:
    repository: str
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str | None
    language: str | None
    score: float
    snippet: str
    snippet_line: int  # the file line the snippet starts at


@dataclass(slots=True)
class SearchResult:
    results: list[Hit]
    mode: str
    vectors_complete: bool
    vectors_pending: int
    notes: list[str] = field(default_factory=list)


_FROM = """
FROM chunks c
JOIN files f ON f.id = c.file_id
LEFT JOIN symbols s ON s.id = c.symbol_id
"""


async def search_code(
    pool: asyncpg.Pool,
    embedder: Embedder | None,
    query: str,
    *,
    filters: Filters,
    mode: str = "hybrid",
    limit: int = 10,
    ef_search: int = 100,
) -> SearchResult:
    query = query.strip()
    if not query:
        raise InvalidArgument("query is empty; describe the code you want, or give an identifier")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidArgument(f"query is {len(query)} characters long; keep it under {MAX_QUERY_CHARS}")
    if "\x00" in query:
        raise InvalidArgument("query contains a NUL character")
    if mode not in MODES:
        raise InvalidArgument(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if mode == "semantic" and embedder is None:
        raise InvalidArgument("semantic search needs the embedding model, which is not loaded here")
    depth = max(limit * _DEPTH, _MIN_DEPTH)
    notes: list[str] = []
    lists: dict[str, tuple[list[int], float]] = {}
    pending = -1
    vector: np.ndarray | None = None

    async def meaning() -> None:
        nonlocal pending, vector
        assert embedder is not None
        pending = await recent_pending(pool, embedder.model_key, filters.repository_id)
        if mode != "keyword":
            vector = await anyio.to_thread.run_sync(embedder.embed_query, query)
            async with pool.acquire() as conn:
                ids = await _semantic(conn, embedder, vector, filters, depth, ef_search)
            lists["semantic"] = (ids, 1.0)

    async def words() -> None:
        async with pool.acquire() as conn:
            lists["lexical"] = (await _lexical(conn, query, filters, depth, broad=mode == "keyword"), 1.0)
            lists["symbols"] = (await _symbols(conn, query, filters, depth), 1.0)

    # The legs run side by side on their own connections: the query is embedded while the full
    # text is searched, and a search costs about its slowest leg rather than their sum.
    try:
        async with anyio.create_task_group() as tg:
            if embedder is not None:
                tg.start_soon(meaning)
            if mode in ("hybrid", "keyword"):
                tg.start_soon(words)
    except BaseExceptionGroup as group:
        raise group.exceptions[0] from None  # the failure itself, as if the legs ran in turn
    ranked = [lists[name] for name in ("semantic", "lexical", "symbols") if name in lists]
    # Hybrid with vectors scores its pool by cosine and BM25; the keyword page keeps the full-text
    # and symbol lists' own order (reciprocal rank), the semantic page the vector order.
    scoring = None
    if mode == "hybrid" and vector is not None and embedder is not None:
        scoring = Scoring(vector, embedder.model_key, filters.repository_id)
    async with pool.acquire() as conn:
        hits = await rank_hits(conn, ranked, query, filters.kind, limit, scoring=scoring)
    if pending > 0:
        notes.append(f"{pending} chunk texts have no vector yet: semantic ranking covers only the rest")
    if embedder is None and mode == "hybrid":
        notes.append("the embedding model is not loaded: results are keyword and symbol matches only")
    return SearchResult(hits, mode, pending == 0, max(pending, 0), notes)


@dataclass(frozen=True, slots=True)
class Scoring:
    """What scoring a pool by cosine and BM25 needs: the query's vector, its model, and the
    repository whose chunks the terms' document frequencies are counted over (None: all)."""

    vector: np.ndarray
    model_key: str
    repository_id: int | None
    cosine_share: float = _COSINE_SHARE


async def rank_hits(
    conn: asyncpg.Connection,
    ranked: list[tuple[list[int], float]],
    query: str,
    kind: str | None,
    limit: int,
    *,
    scoring: Scoring | None = None,
    rerank: bool = True,
    merge: bool = True,
) -> list[Hit]:
    """The page of hits from the legs' ranked chunk ids and weights: with `scoring`, their pool
    scored by cosine and BM25 (the weights unused), else fused by reciprocal rank. (`rerank` and
    `merge` off are for the retrieval bench's ablation: they show what each step adds.)"""
    if scoring is None:
        fused = _fuse(ranked)
        candidates = await _candidates(conn, list(fused))
    else:
        pool = list(dict.fromkeys(chunk_id for ids, _ in ranked for chunk_id in ids))
        candidates = await _candidates(conn, pool, query, scoring)
        fused = _fuse_scores(candidates, scoring.cosine_share)
        if len(query.split()) <= _NAME_QUERY_WORDS:
            # A name asks for its definition: the chunks that use it more often, or read more like
            # its words, come after (hand-written symbol questions, NDCG@10 over files: "BufMut",
            # "resolve_redirects" and "AxiosHeaders" had their callers first).
            names = set(_query_names(query))
            for c in candidates:
                if c.name is not None and c.name.lower() in names and c.kind != "module":
                    fused[c.chunk_id] += _NAMED_BONUS
    if rerank:
        scores = _rerank(candidates, fused, query)
        scores = await _demote_copies(conn, candidates, scores, scoring.repository_id if scoring else None)
    else:
        scores = {c.chunk_id: fused[c.chunk_id] for c in candidates}
    if merge:
        picks = _spread_over_files(_one_per_definition(candidates, scores))
    else:
        picks = sorted(
            (_Pick(c.chunk_id, scores[c.chunk_id], c.start_line, c.end_line, False, c.path) for c in candidates),
            key=lambda p: (-p.score, p.chunk_id),
        )
    return await _hits(conn, picks[:limit], query, kind)


async def _demote_copies(
    conn: asyncpg.Connection, candidates: list[_Candidate], scores: dict[int, float], repository_id: int | None
) -> dict[int, float]:
    """Where the pool holds two copies of one file (legacy/, build/lib/, an older release beside
    the live one), every copy but the live one (copies.stale_paths) scores _COPY_FACTOR times as
    much: the reader wants the code that runs, and two copies would fill the page twice."""
    groups = copies.copy_groups({c.path for c in candidates})
    if not groups:
        return scores
    stale = copies.stale_paths(groups, await copies.outside_uses(conn, repository_id, groups))
    return {
        k: v * _COPY_FACTOR if path in stale else v
        for k, v, path in ((c.chunk_id, scores[c.chunk_id], c.path) for c in candidates)
    }


def _spread_over_files(picks: list[_Pick]) -> list[_Pick]:
    """Past its first _FREE_HITS_PER_FILE hits, each further hit of one file scores _FILE_DECAY
    times the one before: a page held by one or two files leaves the agent blind to the rest.
    Measured on hand-written questions (bench/file_search.py, NDCG@10 over files, the corpora
    tuned on) 0.815 -> 0.826, for a small cost to docstring -> function MRR@10 (requests .598 ->
    .585, werkzeug .501 -> .492, jinja2 .524 -> .520); decaying from the second hit on gained
    .02 more over files and lost .05 per function."""
    seen: dict[str, int] = {}
    spread: list[_Pick] = []
    for p in picks:
        n = seen.get(p.path, 0)
        seen[p.path] = n + 1
        factor = _FILE_DECAY ** (n - _FREE_HITS_PER_FILE + 1) if n >= _FREE_HITS_PER_FILE else 1.0
        spread.append(replace(p, score=p.score * factor))
    return sorted(spread, key=lambda p: (-p.score, p.chunk_id))


def _fuse(ranked: list[tuple[list[int], float]]) -> dict[int, float]:
    """Weighted reciprocal rank fusion of (ranked ids, weight) lists."""
    scores: dict[int, float] = {}
    for ids, weight in ranked:
        for rank, chunk_id in enumerate(ids):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (_RRF_K + rank + 1)
    return scores


def _fuse_scores(candidates: list[_Candidate], cosine_share: float) -> dict[int, float]:
    """Each pooled chunk's cosine to the query, min-max scaled over the pool, and its BM25 over
    the query's terms, over the pool's best, mixed `cosine_share` to the rest.

    Reciprocal rank fusion added nothing over the vectors alone (strict MRR@10 within .03 of them
    on every corpus; no constant or weight moved it): rank alone cannot tell a full-text list
    whose head shares one common word with the query from one whose head names it, and the
    full-text order (ts_rank_cd) weighs every word alike. Scoring every chunk of the union pool by
    both measures lets each say how much it believes, and BM25 weighs a query's rare words above
    its common ones. Measured (bench/retrieval.py --fusion-study, tuned corpora) share .5 / .6 /
    .7, mean MRR@10 .513 / .522 / .517; cosine scaled over 0..1 instead of the pool .503."""
    cosines = [c.cosine for c in candidates if c.cosine is not None]
    low, high = (min(cosines), max(cosines)) if cosines else (0.0, 0.0)
    lengths = [c.length for c in candidates]
    average = sum(lengths) / len(lengths) if lengths else 1.0
    bm25 = {c.chunk_id: _bm25(c, average) for c in candidates}
    best = max(bm25.values(), default=0.0)
    scores: dict[int, float] = {}
    for c in candidates:
        near = (c.cosine - low) / (high - low) if c.cosine is not None and high > low else 0.0
        words = bm25[c.chunk_id] / best if best > 0 else 0.0
        scores[c.chunk_id] = _FLOOR + (1 - _FLOOR) * (cosine_share * near + (1 - cosine_share) * words)
    return scores


def _bm25(c: _Candidate, average_length: float) -> float:
    """Okapi BM25 of a chunk over the query terms it holds; the pool's mean length stands for the
    collection's (measured against the true mean: MRR@10 within .004)."""
    norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * c.length / max(average_length, 1.0))
    return sum(idf * tf * (_BM25_K1 + 1) / (tf + norm) for tf, idf in c.terms)


def _identifier_shaped(word: str) -> bool:
    """snake_case or camelCase; not an acronym ("URL", "JSON"), which names no symbol in particular."""
    return "_" in word.strip("_") or _CAMEL.search(word) is not None


@dataclass(frozen=True, slots=True)
class _Candidate:
    chunk_id: int
    path: str
    language: str | None
    start_line: int
    end_line: int
    kind: str | None
    symbol_id: int | None
    symbol_start: int | None
    symbol_end: int | None
    holds_others: bool  # other definitions start inside it: small siblings merged into one chunk
    name: str | None = None  # its symbol's, when scoring
    cosine: float | None = None  # to the query's vector, when scoring (None: no vector yet)
    length: int = 0  # tokens in its full-text entry (positions), when scoring
    terms: tuple[tuple[int, float], ...] = ()  # (frequency, idf) of each query term it holds, when scoring


@dataclass(frozen=True, slots=True)
class _Pick:
    """One hit to show: the best chunk of a definition, over the definition's whole span."""

    chunk_id: int
    score: float
    start_line: int
    end_line: int
    holds_others: bool
    path: str


async def _candidates(
    conn: asyncpg.Connection, chunk_ids: list[int], query: str = "", scoring: Scoring | None = None
) -> list[_Candidate]:
    if not chunk_ids:
        return []
    if scoring is None:
        rows = await conn.fetch(
            f"""SELECT c.id, f.path, f.language, c.start_line, c.end_line, s.kind, c.symbol_id,
                      s.start_line AS symbol_start, s.end_line AS symbol_end,
                      EXISTS (SELECT 1 FROM symbols d WHERE {_INNER_DEFINITION}) AS holds_others
               FROM chunks c JOIN files f ON f.id = c.file_id LEFT JOIN symbols s ON s.id = c.symbol_id
               WHERE c.id = ANY($1::bigint[])""",
            chunk_ids,
            list(_NOT_DEFINITIONS),
        )
        return [_candidate(r) for r in rows]
    parts, identifiers = code_terms(query)
    words = " ".join(p for p in parts if not p.isdigit()) or " ".join(parts)
    storage = await model_storage(conn, scoring.model_key)
    # The same SQL literal as the semantic leg's (see _semantic); no vectors yet: no cosine.
    literal = "'" + scoring.model_key.replace("'", "''") + "'"
    # A definition's later windows have no vector of their own (index/chunk.py, worth_a_vector):
    # they stand on its first window's, else they scored no cosine at all and the words they hold
    # (the lines that resolve a function's targets, say) had to outscore embedded chunks on BM25
    # alone. Strict MRR@10 over the ten tuned corpora .521 -> .523 (Python -.008, the rest +.007).
    cosine = (
        f"""coalesce((SELECT 1 - {storage.distance("$6")} FROM embeddings v
             WHERE v.content_hash = c.content_hash AND v.model = {literal}),
             (SELECT 1 - {storage.distance("$6")} FROM chunks w
              JOIN embeddings v ON v.content_hash = w.content_hash AND v.model = {literal}
              WHERE NOT c.embed AND s.kind <> 'module' AND w.symbol_id = c.symbol_id AND w.embed
              ORDER BY w.start_line LIMIT 1))"""
        if storage is not None
        else "NULL::float8"
    )
    counted = await document_frequencies(conn, words, sorted(set(identifiers)), scoring.repository_id)
    rows = await conn.fetch(
        _SCORED_CANDIDATES.format(inner=_INNER_DEFINITION, cosine=cosine),
        chunk_ids,
        list(_NOT_DEFINITIONS),
        list(counted.terms),
        list(counted.terms.values()),
        counted.chunks,
        *([scoring.vector] if storage is not None else []),
    )
    return [
        replace(
            _candidate(r),
            name=r["name"],
            cosine=r["cosine"],
            length=r["length"] or 0,
            terms=tuple(zip(r["tfs"] or [], r["idfs"] or [], strict=True)),
        )
        for r in rows
    ]


# The pool's rows with what BM25 needs: each query term's frequency in the chunk and its idf
# (from the term's document frequency $4 among $5 chunks, frequencies.py), and the chunk's
# length; $6, when the model has vectors here, is the query's.
_SCORED_CANDIDATES = """
WITH idf AS (
    SELECT x.term, ln(1 + ($5::float8 - x.df + 0.5) / (x.df + 0.5)) AS idf
    FROM unnest($3::text[], $4::float8[]) AS x(term, df)
)
SELECT c.id, f.path, f.language, c.start_line, c.end_line, s.kind, c.symbol_id,
       s.name, s.start_line AS symbol_start, s.end_line AS symbol_end,
       EXISTS (SELECT 1 FROM symbols d WHERE {inner}) AS holds_others,
       {cosine} AS cosine, w.length, w.tfs, w.idfs
FROM chunks c JOIN files f ON f.id = c.file_id LEFT JOIN symbols s ON s.id = c.symbol_id
CROSS JOIN LATERAL (
    SELECT sum(coalesce(array_length(u.positions, 1), 1))::int AS length,
           array_agg(coalesce(array_length(u.positions, 1), 1)) FILTER (WHERE idf.term IS NOT NULL) AS tfs,
           array_agg(idf.idf) FILTER (WHERE idf.term IS NOT NULL) AS idfs
    FROM unnest(c.tsv) AS u LEFT JOIN idf ON idf.term = u.lexeme
) w
WHERE c.id = ANY($1::bigint[])"""


def _candidate(r: asyncpg.Record) -> _Candidate:
    return _Candidate(
        r["id"],
        r["path"],
        r["language"],
        r["start_line"],
        r["end_line"],
        r["kind"],
        r["symbol_id"],
        r["symbol_start"],
        r["symbol_end"],
        r["holds_others"],
    )


def _rerank(candidates: list[_Candidate], fused: dict[int, float], query: str) -> dict[int, float]:
    """Code-aware adjustments to the fused scores. Tests repeat the names and words of the code
    they test: an assistant asking where something happens wants the implementation first,
    unless it asks about tests. A file's bare import lines match its path's words but answer
    nothing. Prose describes code in the very words people search with; the code comes first.
    Code kept aside (legacy/, old/, a vendored copy) is not the code that runs (copies.archived)."""
    lowered = query.lower()
    wants_tests = "test" in lowered
    wants_docs = any(word in lowered for word in ("doc", "readme", "guide", "manual"))
    wants_archive = copies.archived(lowered.replace(" ", "/"))
    scores: dict[int, float] = {}
    for c in candidates:  # a chunk deleted since it was ranked is dropped here
        score = fused[c.chunk_id]
        if not wants_tests and is_test_path(c.path):
            score *= _TEST_FACTOR
        elif not wants_docs and _SECONDARY_PATH.search(c.path):
            score *= _SECONDARY_FACTOR
        if not wants_archive and copies.archived(c.path):
            score *= _ARCHIVE_FACTOR
        if c.kind == "module" and c.end_line - c.start_line < _SHORT_PREAMBLE_LINES:
            score *= _PREAMBLE_FACTOR
        if not wants_docs and c.language in _PROSE:
            score *= _PROSE_FACTOR
        scores[c.chunk_id] = score
    return scores


def _one_per_definition(candidates: list[_Candidate], scores: dict[int, float]) -> list[_Pick]:
    """Windows of one large definition would crowd the page with the same function or class:
    they become one hit, ranked by its best window, spanning the whole definition, its snippet
    taken from that best window. A file's top-level lines (module windows), prose, and chunks that
    hold several small definitions are not windows of one definition: each stays a hit of its own
    (the last is named after the definition the query names, if any, when hits are made)."""
    groups: dict[tuple[str, int], list[_Candidate]] = {}
    for c in candidates:
        window = c.symbol_id is not None and c.kind != "module" and not c.holds_others
        key = ("symbol", c.symbol_id) if window and c.symbol_id is not None else ("chunk", c.chunk_id)
        groups.setdefault(key, []).append(c)
    picks: list[_Pick] = []
    for key, members in groups.items():
        best = min(members, key=lambda c: (-scores[c.chunk_id], c.chunk_id))
        start = min(c.start_line for c in members)
        end = max(c.end_line for c in members)
        if key[0] == "symbol":
            # The definition's own lines, with the doc comment its first window starts at.
            start = min(start, best.symbol_start or start)
            end = max(end, best.symbol_end or end)
        picks.append(_Pick(best.chunk_id, scores[best.chunk_id], start, end, best.holds_others, best.path))
    return sorted(picks, key=lambda p: (-p.score, p.chunk_id))


async def _semantic(
    conn: asyncpg.Connection, embedder: Embedder, vector: np.ndarray, filters: Filters, depth: int, ef_search: int
) -> list[int]:
    storage = await model_storage(conn, embedder.model_key)
    if storage is None:
        return []  # nothing embedded with this model yet
    # The model is a SQL literal, not a parameter: the HNSW index is partial on it, and a generic
    # plan with a parameter could not prove the index applies. (standard_conforming_strings is on
    # in every supported PostgreSQL: doubling quotes is the whole of quoting.)
    literal = "'" + embedder.model_key.replace("'", "''") + "'"
    where, params = filters.sql(3)
    distance = storage.distance("$1")  # the query cast to the stored type: the index applies
    sql = f"""
        SELECT c.id {_FROM} JOIN embeddings v ON v.content_hash = c.content_hash AND v.model = {literal}
        WHERE c.embed {where}
        ORDER BY {distance} LIMIT $2"""
    async with conn.transaction():
        # Filtered searches keep scanning the graph until `depth` rows pass the filter (pgvector 0.8).
        await conn.execute(
            f"SET LOCAL hnsw.ef_search = {int(ef_search)}; SET LOCAL hnsw.iterative_scan = relaxed_order"
        )
        rows = await conn.fetch(sql, vector, depth, *params)
        if len(rows) < depth and filters.any:
            # A selective filter can exhaust the iterative scan: rank the filtered rows exactly.
            exact = sql.replace(f"ORDER BY {distance}", f"ORDER BY {distance} + 0")
            await conn.execute("SET LOCAL enable_indexscan = off")
            rows = await conn.fetch(exact, vector, depth, *params)
    return [r["id"] for r in rows]


async def _lexical(
    conn: asyncpg.Connection, query: str, filters: Filters, depth: int, *, broad: bool = False
) -> list[int]:
    """Full-text matches, narrowest first: chunks holding every query word, then (for three or
    more words) any two of them, then, for a `broad` search, any one. Each wider pass runs only
    while the page is short. Pairs rank the chunks that share the query's vocabulary above those
    that merely mention one word of it; any-one-word matches are the slowest part of a search
    (thousands of rows to rank) and, measured on docstring-to-code retrieval, add nothing once the
    vector list is fused in, so only keyword mode asks for them. Whole identifiers match exactly
    throughout. A long query (a pasted bug report) searches by its rarest words only."""
    parts, identifiers = code_terms(query)
    words = [p for p in parts if not p.isdigit()] or parts  # a lone number still searches
    exact = tsquery_terms(list(dict.fromkeys(identifiers))[:_MAX_IDENTIFIERS])
    if not tsquery_terms(words) and not exact:
        return []
    lexemes: list[str] = [
        r["lexeme"]
        for r in await conn.fetch(
            "SELECT DISTINCT lexeme FROM unnest(to_tsvector('english', $1)) ORDER BY lexeme", " ".join(words)
        )
        if re.fullmatch(r"[a-z0-9_]+", r["lexeme"])
    ]
    if len(lexemes) > _MAX_LEXEMES:
        lexemes = await _salient(conn, lexemes, filters.repository_id)
    quoted = [f"'{lexeme}'" for lexeme in lexemes]
    if not quoted and not exact:
        return []  # only stop words
    passes = [" & ".join(quoted)]
    if len(quoted) >= 3:
        passes.append(" | ".join(f"{a} & {b}" for i, a in enumerate(quoted) for b in quoted[i + 1 :]))
    if len(quoted) == 2 or (broad and len(quoted) > 2):
        passes.append(" | ".join(quoted))
    where, params = filters.sql(4)
    # The lexemes are already stemmed: the 'simple' configuration keeps them as they are.
    sql = f"""
        WITH q AS (SELECT (to_tsquery('simple', $1) || to_tsquery('simple', $2)) AS q)
        SELECT c.id, ts_rank_cd(c.tsv, q.q, 1) AS rank {_FROM} CROSS JOIN q
        WHERE c.tsv @@ q.q {where}
        ORDER BY rank DESC, c.id LIMIT $3"""
    ids: list[int] = []
    seen: set[int] = set()
    for terms in passes:
        for r in await conn.fetch(sql, terms, exact, depth - len(ids), *params):
            if r["id"] not in seen:
                seen.add(r["id"])
                ids.append(r["id"])
        if len(ids) >= depth:
            break
    return ids[:depth]


async def _salient(conn: asyncpg.Connection, lexemes: list[str], repository_id: int | None) -> list[str]:
    """The _MAX_LEXEMES rarest of a long query's lexemes that occur in the code at all.

    A pasted bug report holds a hundred distinct words or more. Their any-two pass was thousands
    of pairs, which PostgreSQL tests against every chunk and ts_rank_cd then scores pair by pair:
    on Django (9,352 chunks) a 200-character report took 0.4 s in this leg alone (190 pairs; the
    plan a seq scan of chunks, a quarter of it the @@ filter and the rest ranking 772 matches),
    and 900 characters ran into the 30 s statement timeout. The rare words are the ones that tell
    a chunk apart. The planner's statistics of chunks.tsv (kept by ANALYZE) list its most common
    lexemes with their frequencies; a lexeme not among them is rarer than all of those, and the
    index counts its chunks (a handful, or none: a word no chunk holds would only spend a slot).
    For 133 lexemes of a 2,000-character report on Django this takes 5 ms."""
    rows = await conn.fetch(
        """
        WITH stats AS (
            SELECT s.most_common_elems::text::text[] AS elems, s.most_common_elem_freqs AS freqs
            FROM pg_stats s
            WHERE s.schemaname = current_schema() AND s.tablename = 'chunks' AND s.attname = 'tsv'
            ORDER BY s.inherited DESC LIMIT 1
        ), common AS (
            SELECT m.elem, m.freq FROM stats, unnest(stats.elems, stats.freqs) AS m(elem, freq)
            WHERE m.elem = ANY($1::text[])
        ), counted AS MATERIALIZED (
            SELECT l.lexeme, common.freq, CASE WHEN common.freq IS NULL THEN (
                SELECT count(*) FROM (
                    SELECT 1 FROM chunks c
                    WHERE c.tsv @@ to_tsquery('simple', quote_literal(l.lexeme))
                      AND ($2::int IS NULL OR c.repository_id = $2)
                    LIMIT $3
                ) AS found) END AS chunks
            FROM unnest($1::text[]) AS l(lexeme) LEFT JOIN common ON common.elem = l.lexeme
        )
        SELECT lexeme FROM counted WHERE chunks IS NULL OR chunks > 0
        ORDER BY freq NULLS FIRST, chunks, length(lexeme) DESC, lexeme LIMIT $4""",
        lexemes,
        repository_id,
        _RARE_COUNT,
        _MAX_LEXEMES,
    )
    keep = {r["lexeme"] for r in rows}
    return [lexeme for lexeme in lexemes if lexeme in keep]


def _query_names(query: str) -> list[str]:
    """The symbol names a query may mean, lower-cased: its words when it has one or two, else its
    identifier-shaped ones."""
    words = _IDENT.findall(query)
    if len(words) > 2:
        # In a sentence, plain English words ("where", "session") would match every class named
        # like them; only identifier-shaped tokens (snake_case, camelCase) name symbols.
        words = [w for w in words if _identifier_shaped(w)]
    # The first named are the report's subject: a long paste keeps those (sorted, it kept the a's).
    return list(dict.fromkeys(w.lower() for w in words))[:16]


async def _symbols(conn: asyncpg.Connection, query: str, filters: Filters, depth: int) -> list[int]:
    """Chunks holding a symbol whose name is one of the query's identifiers (exact first, then fuzzy)."""
    names = _query_names(query)
    if not names:
        return []
    where, params = filters.sql(5, symbol="d")
    # Two index-friendly branches (b-tree on lower(name), trigram GIN) rather than one OR, which
    # no index can serve; the repository narrows the symbols before they meet the chunks. The
    # matches are found first, whatever the statistics say: right after a repository's first
    # pass the planner believes it has one chunk and one symbol, and a plan that scores every
    # symbol's similarity once per chunk took minutes on Django.
    rows = await conn.fetch(
        f"""
        WITH m AS MATERIALIZED (
            SELECT d.id, d.file_id, d.start_line, 1.0::real AS score FROM symbols d
            WHERE lower(d.name) = ANY($1::text[]) AND d.kind <> 'module'
              AND ($4::int IS NULL OR d.repository_id = $4)
            UNION ALL
            SELECT d.id, d.file_id, d.start_line, similarity(lower(d.name), $2) FROM symbols d
            WHERE $3 AND lower(d.name) % $2 AND lower(d.name) <> ALL($1::text[]) AND d.kind <> 'module'
              AND ($4::int IS NULL OR d.repository_id = $4)
        )
        SELECT DISTINCT ON (c.id) c.id, m.score
        FROM m
        JOIN symbols d ON d.id = m.id
        JOIN chunks c ON c.file_id = m.file_id AND c.start_line <= m.start_line AND c.end_line >= m.start_line
        JOIN files f ON f.id = c.file_id
        WHERE true {where}
        ORDER BY c.id, m.score DESC""",
        names,
        names[0] if len(names) == 1 else " ".join(names),
        len(names) == 1,
        filters.repository_id,
        *params,
    )
    ordered = sorted(rows, key=lambda r: (-r["score"], r["id"]))[:depth]
    return [r["id"] for r in ordered]


async def _hits(conn: asyncpg.Connection, top: list[_Pick], query: str, kind: str | None) -> list[Hit]:
    if not top:
        return []
    rows = await conn.fetch(
        """
        SELECT c.id, r.name AS repository, f.path, f.language, c.start_line, c.end_line, c.content,
               s.qualified_name, s.kind
        FROM chunks c JOIN files f ON f.id = c.file_id JOIN repositories r ON r.id = c.repository_id
        LEFT JOIN symbols s ON s.id = c.symbol_id
        WHERE c.id = ANY($1::bigint[])""",
        [p.chunk_id for p in top],
    )
    by_id = {r["id"]: r for r in rows}
    parts, whole = code_terms(query)
    terms = {t for t in parts if len(t) > 2}
    identifiers = frozenset(whole)
    inner = await _inner_definitions(conn, [p.chunk_id for p in top if p.holds_others], kind)
    hits: list[Hit] = []
    for pick in top:
        r = by_id.get(pick.chunk_id)
        if r is None:
            continue  # deleted between ranking and fetching
        symbol, kind, start, end = r["qualified_name"], r["kind"], pick.start_line, pick.end_line
        lines = r["content"].splitlines()
        found = [_line_terms(line, terms, identifiers) for line in lines]
        first = r["start_line"]  # the file line `lines` starts at
        focus = _focus(inner.get(pick.chunk_id, []), found, first, identifiers, terms - _COMMON_WORDS)
        if focus is not None:
            symbol, kind, start, end = focus["qualified_name"], focus["kind"], focus["start_line"], focus["end_line"]
            inside = slice(max(start - first, 0), end - first + 1)
            lines, found, first = lines[inside], found[inside], max(start, first)
        offset, text = snippet(lines, found)
        hits.append(
            Hit(
                repository=r["repository"],
                path=r["path"],
                start_line=start,
                end_line=end,
                symbol=symbol,
                kind=kind,
                language=r["language"],
                score=round(pick.score, 5),
                snippet=text,
                snippet_line=first + offset,
            )
        )
    return hits


async def _inner_definitions(
    conn: asyncpg.Connection, chunk_ids: list[int], kind: str | None
) -> dict[int, list[asyncpg.Record]]:
    """The definitions inside chunks that hold several (small siblings merged into one chunk)."""
    if not chunk_ids:
        return {}
    rows = await conn.fetch(
        f"""SELECT c.id AS chunk_id, d.qualified_name, d.kind, d.name, d.start_line, d.end_line
           FROM chunks c JOIN symbols s ON s.id = c.symbol_id JOIN symbols d ON {_INNER_DEFINITION}
           WHERE c.id = ANY($1::bigint[]) AND ($3::text IS NULL OR d.kind = $3)
           ORDER BY c.id, d.start_line, d.id""",
        chunk_ids,
        list(_NOT_DEFINITIONS),
        kind,  # the hit must stay of the kind the search was filtered to
    )
    out: dict[int, list[asyncpg.Record]] = {}
    for r in rows:
        out.setdefault(r["chunk_id"], []).append(r)
    return out


def _focus(
    definitions: list[asyncpg.Record],
    found: list[tuple[set[str], set[str]]],
    first: int,
    identifiers: frozenset[str],
    words: set[str],
) -> asyncpg.Record | None:
    """Of a chunk's several small definitions, the one the query is about: the one it names, else
    the one whose lines hold most of its `words`; none when no definition holds any (the chunk's
    own lines, a class header say, matched). `found` is each line's query terms (_line_terms)."""
    best: tuple[int, int, int] = (0, 0, 0)
    chosen: asyncpg.Record | None = None
    for d in definitions:
        name_parts, name_whole = code_terms(d["name"])
        named = (len(identifiers.intersection(name_whole)), len(words.intersection(name_parts)))
        body: set[str] = set()
        for _, line_words in found[max(d["start_line"] - first, 0) : d["end_line"] - first + 1]:
            body |= words & line_words
        score = (*named, len(body))
        if score > best:
            best, chosen = score, d
    return chosen


def snippet(lines: list[str], found: list[tuple[set[str], set[str]]]) -> tuple[int, str]:
    """A few of a hit's lines, starting where the query's words are densest (a whole identifier
    of the query outweighs any number of words), and how many lines in they start. `found` is
    each line's query identifiers and words (_line_terms)."""
    start, best = 0, (0, 0)
    for i in range(len(lines)):
        seen_ids: set[str] = set()
        seen_terms: set[str] = set()
        for ids, words in found[i : i + _FOCUS_LINES]:
            seen_ids |= ids
            seen_terms |= words
        score = (len(seen_ids), len(seen_terms))
        if score > best:
            start, best = i, score
    while start < len(lines) - 1 and not lines[start].strip():
        start += 1
    text = "\n".join(lines[start : start + _SNIPPET_LINES])
    return start, text if len(text) <= _SNIPPET_CHARS else text[:_SNIPPET_CHARS] + "…"


def _line_terms(line: str, terms: set[str], identifiers: frozenset[str]) -> tuple[set[str], set[str]]:
    """The query's whole identifiers and its words that the line holds."""
    if not terms and not identifiers:
        return set(), set()
    parts, whole = code_terms(line)
    return set(identifiers.intersection(whole)), terms.intersection(parts)
