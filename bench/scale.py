"""Scale: pgcode's own schema and semantic query path over a synthetic table of 1M chunks.

Real 384-d vectors of real chunks (the configured model, over the Python corpora in
bench/corpora) are multiplied into N vectors by adding Gaussian noise shaped like the real
vectors' own covariance (renormalised), spread over 100 repositories and many files, and copied
into repositories/files/chunks/embeddings. Then: load time, HNSW build time and size (pgcode's
own index definition, mcp_server/db/vectors.py), and for held-out query embeddings (docstring
sentences embedded as queries) the semantic leg of search_code (mcp_server/search/hybrid.py,
the real SQL) at two ef_search settings: recall@10 against an exact scan, p50/p95 latency,
unfiltered and filtered (one repository of 100; a path glob), and that filtered searches still
return k results.

    python bench/scale.py                        # 1,000,000 chunks (build ~30-45 min on 2 cores)
    python bench/scale.py --quick                # 50,000 chunks, to try the script
    python bench/scale.py --chunks 200000 --ef-search 40 --ef-search 200
    python bench/scale.py --chunks 200000 --vector-type halfvec   # half-precision storage and index

The embedded PostgreSQL lives in bench/.data-scale (git-ignored; several GB at 1M: delete it
when done). A later run with the same parameters reuses the loaded table and index
(--rebuild forces a fresh load).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.config import Settings  # noqa: E402
from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.db.vectors import VectorStorage, ensure_vector_index, index_name  # noqa: E402
from mcp_server.embed.model import Embedder, embedder_for  # noqa: E402
from mcp_server.index.chunk import chunk_file, embed_text  # noqa: E402
from mcp_server.index.modules import module_names  # noqa: E402
from mcp_server.index.parse import parse_source  # noqa: E402
from mcp_server.search import hybrid  # noqa: E402
from mcp_server.search.filters import Filters, glob_to_regex  # noqa: E402

DEFAULT_DATA_DIR = corpora.BENCH / ".data-scale"
SEED_CORPORA = ("django", "werkzeug", "jinja2", "requests")  # rich stays held out
TARGETS = {"search_p95_ms": 100.0, "recall_at_10": 0.95}
K = 10
DEPTH = max(K * hybrid._DEPTH, hybrid._MIN_DEPTH)  # what search_code asks the semantic leg for
GLOB = "**/utils/**"
BATCH = 50_000
REPO_PREFIX = "scale-"


@dataclass(slots=True)
class Seeds:
    vectors: np.ndarray  # (n, dim) float32, unit length: real chunks embedded as documents
    headers: list[str]
    paths: list[str]  # every corpus file path (the file-name vocabulary)
    queries: list[str]  # docstring sentences
    query_vectors: np.ndarray  # embedded as queries


# --------------------------------------------------------------------------- real vectors


def _corpus_chunks() -> tuple[list[str], list[str], list[str], list[str]]:
    """(texts to embed, headers, file paths, docstring sentences) from the seed corpora."""
    texts: list[str] = []
    headers: list[str] = []
    paths: list[str] = []
    docs: list[str] = []
    for name in SEED_CORPORA:
        root = corpora.corpus_root(name)
        files = {p.relative_to(root).as_posix(): p for p in corpora.python_files(root)}
        modules = module_names(files, {rel: "python" for rel in files})
        for rel, path in files.items():
            paths.append(rel)
            source = path.read_bytes()
            parsed = parse_source(source, rel, "python", modules[rel])
            for chunk in chunk_file(source.decode("utf-8", "replace"), parsed):
                texts.append(embed_text(chunk))
                headers.append(chunk.header or rel)
            for sym in parsed.symbols:
                if sym.kind in ("function", "method", "class") and sym.docstring:
                    sentence = sym.docstring.strip().split("\n\n")[0].split(". ")[0].replace("\n", " ").strip()
                    if 5 <= len(sentence.split()) <= 40:
                        docs.append(sentence)
    return texts, headers, paths, docs


def real_seeds(embedder: Embedder, n_seeds: int, n_queries: int, cache: Path) -> Seeds:
    """Embed a random sample of real chunks and docstring queries once; cached in the data dir."""
    key = hashlib.sha1(f"{embedder.model_key}|{n_seeds}|{n_queries}|{SEED_CORPORA}".encode()).hexdigest()[:12]
    meta_path, vec_path, qvec_path = (
        cache / f"seeds-{key}.json",
        cache / f"seeds-{key}.npy",
        cache / f"queries-{key}.npy",
    )
    if meta_path.exists() and vec_path.exists() and qvec_path.exists():
        meta = json.loads(meta_path.read_text())
        return Seeds(np.load(vec_path), meta["headers"], meta["paths"], meta["queries"], np.load(qvec_path))
    rng = random.Random(7)
    texts, headers, paths, docs = _corpus_chunks()
    picked = rng.sample(range(len(texts)), min(n_seeds, len(texts)))
    queries = rng.sample(sorted(set(docs)), min(n_queries, len(set(docs))))
    print(
        f"embedding {len(picked)} real chunks (of {len(texts)}) and {len(queries)} queries ...",
        file=sys.stderr,
        flush=True,
    )
    t = time.perf_counter()
    vectors = np.asarray(embedder.embed_documents([texts[i] for i in picked], batch_size=16), dtype=np.float32)
    qvecs = np.stack([np.asarray(embedder.embed_query(q), dtype=np.float32) for q in queries])
    print(f"  embedded in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(vec_path, vectors)
    np.save(qvec_path, qvecs)
    meta_path.write_text(json.dumps({"headers": [headers[i] for i in picked], "paths": paths, "queries": queries}))
    return Seeds(vectors, [headers[i] for i in picked], paths, queries, qvecs)


def _normalise(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


class Synthesiser:
    """Seed + sigma * N(0, covariance of the seeds), renormalised: noise along the directions the
    model actually uses, not isotropic noise in all 384 dimensions (which no real chunk has)."""

    def __init__(self, seeds: np.ndarray, sigma: float, seed: int) -> None:
        self.seeds = seeds.astype(np.float32)
        centred = self.seeds - self.seeds.mean(axis=0)
        _, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
        self.basis = (vt * (s[:, None] / np.sqrt(len(seeds) - 1))).astype(np.float32)  # rows: sqrt(eig) * eigvec
        self.sigma = sigma
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(seed index per row, unit vectors)."""
        which = self.rng.integers(0, len(self.seeds), n)
        z = self.rng.standard_normal((n, self.basis.shape[0]), dtype=np.float32)
        return which, _normalise(self.seeds[which] + self.sigma * (z @ self.basis)).astype(np.float32)


# --------------------------------------------------------------------------- loading


def _tsvector_binary(_: Any) -> bytes:
    return b"\x00\x00\x00\x00"  # an empty tsvector: the lexical legs are not measured here


def _passthrough(data: bytes) -> bytes:
    return data


async def _connect(dsn: str) -> asyncpg.Connection:
    from pgvector.asyncpg import register_vector

    conn = await asyncpg.connect(dsn, server_settings={"statement_timeout": "0", "synchronous_commit": "off"})
    await register_vector(conn)
    await conn.set_type_codec(
        "tsvector", schema="pg_catalog", encoder=_tsvector_binary, decoder=_passthrough, format="binary"
    )
    return conn


async def refuse_foreign_data(conn: asyncpg.Connection) -> None:
    """The bench truncates pgcode's tables: only a database holding nothing but its own rows will do."""
    others = await conn.fetchval("SELECT count(*) FROM repositories WHERE name NOT LIKE $1", REPO_PREFIX + "%")
    if others:
        print(
            f"error: this database indexes {others} repositories not made by bench/scale.py; "
            "give it a database of its own (--data-dir, or an empty --database-url)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def layout(n_chunks: int, n_repos: int, paths: list[str], seed: int) -> tuple[list[list[str]], np.ndarray, np.ndarray]:
    """Files per repository (paths drawn from real corpus paths) and each chunk's repository and file index."""
    rng = np.random.default_rng(seed)
    per_repo = max(1, n_chunks // n_repos // 20)  # ~20 chunks a file
    repo_files: list[list[str]] = []
    for _ in range(n_repos):
        order = rng.permutation(len(paths))
        chosen = [paths[i] for i in order[:per_repo]]
        while len(chosen) < per_repo:  # more files than the vocabulary: copies in numbered folders
            chosen += [f"v{len(chosen) // len(paths)}/{paths[i]}" for i in order[: per_repo - len(chosen)]]
        repo_files.append(chosen)
    chunk_repo = np.arange(n_chunks) % n_repos
    chunk_file = rng.integers(0, per_repo, n_chunks)
    return repo_files, chunk_repo, chunk_file


async def load_table(
    dsn: str,
    model: str,
    seeds: Seeds,
    synth: Synthesiser,
    n_chunks: int,
    n_repos: int,
    marker: dict[str, Any],
    column: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """COPY the synthetic corpus into pgcode's tables; returns (vectors, chunk repo, chunk path-match) + timings."""
    conn = await _connect(dsn)
    try:
        await refuse_foreign_data(conn)
        await conn.execute("TRUNCATE repositories, files, symbols, edges, chunks, embeddings, vector_indexes CASCADE")
        await conn.execute(f"DROP INDEX IF EXISTS {index_name(model)}")
        repo_files, chunk_repo, chunk_file = layout(n_chunks, n_repos, seeds.paths, 11)
        started = time.perf_counter()
        async with conn.transaction():
            await conn.executemany(
                "INSERT INTO repositories (id, name, root_path, state, settings) VALUES ($1, $2, $3, 'ready', $4)",
                [
                    (r + 1, f"{REPO_PREFIX}{r:03d}", f"/scale/{r:03d}", json.dumps(marker if r == 0 else {}))
                    for r in range(n_repos)
                ],
            )
            file_rows = []
            per_repo = len(repo_files[0])
            for r, files in enumerate(repo_files):
                for j, path in enumerate(files):
                    file_rows.append(
                        (
                            r * per_repo + j + 1,
                            r + 1,
                            path,
                            "python",
                            hashlib.blake2b(f"{r}/{path}".encode(), digest_size=16).digest(),
                            4096,
                            0,
                            100,
                        )
                    )
            await conn.copy_records_to_table(
                "files",
                records=file_rows,
                columns=["id", "repository_id", "path", "language", "content_hash", "size", "mtime_ns", "line_count"],
            )
        vectors = np.empty((n_chunks, synth.seeds.shape[1]), dtype=np.float32)
        in_glob = glob_mask(repo_files, chunk_repo, chunk_file)
        copied = 0
        while copied < n_chunks:
            n = min(BATCH, n_chunks - copied)
            which, vecs = synth.batch(n)
            vectors[copied : copied + n] = vecs
            hashes = [hashlib.blake2b(f"scale:{copied + i}".encode(), digest_size=16).digest() for i in range(n)]
            chunk_rows = []
            embed_rows = []
            for i in range(n):
                cid = copied + i
                header = seeds.headers[which[i]]
                r = int(chunk_repo[cid])
                chunk_rows.append(
                    (
                        cid + 1,
                        r + 1,
                        r * per_repo + int(chunk_file[cid]) + 1,
                        None,
                        1 + 20 * (cid % 50),
                        20 + 20 * (cid % 50),
                        f"# {header}\n",
                        header,
                        hashes[i],
                        "",
                    )
                )
                embed_rows.append((model, hashes[i], vecs[i]))
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "chunks",
                    records=chunk_rows,
                    columns=[
                        "id",
                        "repository_id",
                        "file_id",
                        "symbol_id",
                        "start_line",
                        "end_line",
                        "content",
                        "header",
                        "content_hash",
                        "tsv",
                    ],
                )
                await conn.copy_records_to_table(
                    "embeddings", records=embed_rows, columns=["model", "content_hash", column]
                )
            copied += n
            print(
                f"  loaded {copied:,}/{n_chunks:,} chunks ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        for table_name, last in (("repositories", n_repos), ("files", len(file_rows)), ("chunks", n_chunks)):
            await conn.execute(f"ALTER TABLE {table_name} ALTER COLUMN id RESTART WITH {last + 1}")
        # What a complete embedding pass leaves behind: each repository's mark (see db/vector_marks.py).
        await conn.execute(
            """INSERT INTO vector_progress (model, repository_id, through_chunk)
               SELECT $1, repository_id, max(id) FROM chunks GROUP BY repository_id
               ON CONFLICT (model, repository_id) DO UPDATE SET through_chunk = EXCLUDED.through_chunk""",
            model,
        )
        load_s = time.perf_counter() - started
        t = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE) repositories, files, chunks, embeddings")
        return (
            vectors,
            chunk_repo,
            in_glob,
            {"load_s": round(load_s, 1), "vacuum_analyze_s": round(time.perf_counter() - t, 1)},
        )
    finally:
        await conn.close()


def glob_mask(repo_files: list[list[str]], chunk_repo: np.ndarray, chunk_file: np.ndarray) -> np.ndarray:
    """Which chunks lie in a file matching GLOB (with pgcode's own glob translation)."""
    pattern = re.compile(glob_to_regex(GLOB))
    per_file = [np.array([bool(pattern.search(p)) for p in files]) for files in repo_files]
    table_ = np.stack(per_file)  # every repository has the same number of files
    return table_[chunk_repo, chunk_file]


async def build_index(dsn: str, model: str, dim: int, settings: Settings, mwm: str, workers: int) -> dict[str, Any]:
    """pgcode's own CREATE INDEX (ensure_vector_index), with the session tuned for a bulk build."""
    conn = await _connect(dsn)
    watcher = await _connect(dsn)
    try:
        await conn.execute(f"SET maintenance_work_mem = '{mwm}'")
        await conn.execute(f"SET max_parallel_maintenance_workers = {int(workers)}")
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        started = time.perf_counter()

        async def progress() -> None:
            while True:
                await anyio.sleep(60)
                row = await watcher.fetchrow(
                    "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index WHERE pid = $1", pid
                )
                if row:
                    print(
                        f"  HNSW build {time.perf_counter() - started:.0f} s: {row['phase']}, "
                        f"{row['tuples_done']:,}/{row['tuples_total']:,}",
                        file=sys.stderr,
                        flush=True,
                    )

        async with anyio.create_task_group() as tg:
            tg.start_soon(progress)
            await ensure_vector_index(conn, model, dim, settings)
            tg.cancel_scope.cancel()
        build_s = time.perf_counter() - started
        name = index_name(model)
        size = await conn.fetchval("SELECT pg_relation_size($1::regclass)", name)
        return {
            "build_s": round(build_s, 1),
            "index": name,
            "index_bytes": size,
            "index_mb": round(size / 2**20, 1),
            "m": settings.hnsw_m,
            "ef_construction": settings.hnsw_ef_construction,
            "maintenance_work_mem": mwm,
            "max_parallel_maintenance_workers": workers,
        }
    finally:
        await watcher.close()
        await conn.close()


# --------------------------------------------------------------------------- measuring


def exact_top(
    vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None, k: int
) -> list[tuple[np.ndarray, float]]:
    """Exact top-k chunk ids (1-based) per query by cosine distance, and the k-th distance."""
    ids = np.arange(1, len(vectors) + 1) if mask is None else np.flatnonzero(mask) + 1
    base = vectors if mask is None else vectors[mask]
    out = []
    for start in range(0, len(queries), 16):
        dist = 1.0 - (base @ queries[start : start + 16].T).astype(np.float64)  # (rows, <=16)
        for col in range(dist.shape[1]):
            d = dist[:, col]
            top = np.argpartition(d, k)[:k] if len(d) > k else np.arange(len(d))
            top = top[np.argsort(d[top])]
            out.append((ids[top], float(d[top[-1]])))
    return out


def recall(got: list[int], truth: tuple[np.ndarray, float], vectors: np.ndarray, q: np.ndarray) -> float:
    """Share of the exact top-k found; a hit tied with the k-th exact distance counts (float noise)."""
    found = got[:K]
    if not found:
        return 0.0
    d = 1.0 - vectors[np.asarray(found) - 1] @ q
    exact = set(truth[0].tolist())
    hits = sum(1 for cid, dist in zip(found, d) if cid in exact or dist <= truth[1] + 1e-5)
    return min(hits, K) / min(K, len(truth[0]))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def measure(
    db: Any,
    settings: Settings,
    embedder: Embedder,
    vectors: np.ndarray,
    chunk_repo: np.ndarray,
    in_glob: np.ndarray,
    seeds: Seeds,
    ef_values: list[int],
    n_repos: int,
    end_to_end: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    query_repos = rng.integers(0, n_repos, len(seeds.query_vectors))
    truth: dict[str, list[tuple[np.ndarray, float]]] = {}
    t = time.perf_counter()
    truth["none"] = exact_top(vectors, seeds.query_vectors, None, K)
    truth["glob"] = exact_top(vectors, seeds.query_vectors, in_glob, K)
    truth["repository"] = []
    for r in range(n_repos):
        idx = np.flatnonzero(query_repos == r)
        if len(idx):
            for i, res in zip(idx, exact_top(vectors, seeds.query_vectors[idx], chunk_repo == r, K)):
                truth["repository"].append((i, res))
    truth["repository"] = [res for _, res in sorted(truth["repository"], key=lambda p: p[0])]
    exact_numpy_s = time.perf_counter() - t

    results: dict[str, Any] = {"runs": [], "exact_numpy_s": round(exact_numpy_s, 1)}
    async with db.pool.acquire() as conn:
        repo_ids = {r["name"]: r["id"] for r in await conn.fetch("SELECT id, name FROM repositories")}
        shows = {
            s: await conn.fetchval(f"SHOW {s}")
            for s in (
                "shared_buffers",
                "work_mem",
                "effective_cache_size",
                "jit",
                "max_parallel_workers_per_gather",
                "hnsw.max_scan_tuples",
                "server_version",
            )
        }
        results["server"] = shows

        def filters_for(kind: str, i: int) -> Filters:
            if kind == "repository":
                return Filters(repository_id=repo_ids[f"{REPO_PREFIX}{int(query_repos[i]):03d}"])
            if kind == "glob":
                return Filters(path_glob=GLOB)
            return Filters()

        # Warm cache: one untimed pass of every query at the largest ef_search, every filter.
        t = time.perf_counter()
        for kind in ("none", "repository", "glob"):
            for i, q in enumerate(seeds.query_vectors):
                await hybrid._semantic(conn, embedder, q, filters_for(kind, i), DEPTH, max(ef_values))
        results["warm_up_s"] = round(time.perf_counter() - t, 1)
        for ef in ef_values:
            for kind in ("none", "repository", "glob"):
                times, recalls, returned = [], [], []
                for i, q in enumerate(seeds.query_vectors):
                    f = filters_for(kind, i)
                    t0 = time.perf_counter()
                    ids = await hybrid._semantic(conn, embedder, q, f, DEPTH, ef)
                    times.append((time.perf_counter() - t0) * 1000)
                    recalls.append(recall(ids, truth[kind][i], vectors, q))
                    returned.append(len(ids))
                results["runs"].append(
                    {
                        "ef_search": ef,
                        "filter": kind,
                        "queries": len(times),
                        "recall_at_10": round(statistics.mean(recalls), 4),
                        "recall_at_10_min": round(min(recalls), 2),
                        "p50_ms": pct(times, 0.5),
                        "p95_ms": pct(times, 0.95),
                        "max_ms": round(max(times), 1),
                        "returned_min": min(returned),
                        "short_of_k": sum(1 for n in returned if n < K),
                    }
                )
                print(f"  ef_search {ef} filter {kind}: {results['runs'][-1]}", file=sys.stderr, flush=True)
        storage = VectorStorage(vectors.shape[1], settings.vector_type)
        results["exact_scan_sql"] = await _exact_sql(conn, embedder, storage, vectors, seeds, truth["none"])
        results["plans"] = await plans(
            conn, embedder, storage, seeds.query_vectors[0], repo_ids[f"{REPO_PREFIX}000"], max(ef_values)
        )
    try:
        results["search_code"] = await _end_to_end(db.pool, embedder, seeds, settings.hnsw_ef_search, end_to_end)
    except (asyncpg.PostgresError, RuntimeError) as exc:  # keep the figures measured so far
        results["search_code"] = {"ef_search": settings.hnsw_ef_search, "error": str(exc)}
    return results


async def _exact_sql(
    conn: asyncpg.Connection,
    embedder: Embedder,
    storage: VectorStorage,
    vectors: np.ndarray,
    seeds: Seeds,
    truth: list[tuple[np.ndarray, float]],
    n: int = 10,
) -> dict[str, Any]:
    """The exact ranking pgcode falls back to (ORDER BY distance + 0, index scans off), on a few
    queries: checks that the numpy ground truth is PostgreSQL's and shows what no index costs."""
    literal = await conn.fetchval("SELECT quote_literal($1::text)", embedder.model_key)
    sql = (
        f"SELECT c.id {hybrid._FROM} JOIN embeddings v ON v.content_hash = c.content_hash AND v.model = {literal}"
        f" ORDER BY {storage.distance('$1')} + 0 LIMIT $2"
    )
    times, recalls = [], []
    for i, q in enumerate(seeds.query_vectors[:n]):
        async with conn.transaction():
            await conn.execute("SET LOCAL enable_indexscan = off")
            t = time.perf_counter()
            ids = [r["id"] for r in await conn.fetch(sql, q, K)]
            times.append((time.perf_counter() - t) * 1000)
        recalls.append(recall(ids, truth[i], vectors, q))
    return {
        "queries": n,
        "agreement_with_numpy": round(statistics.mean(recalls), 4),
        "p50_ms": pct(times, 0.5),
        "max_ms": round(max(times), 1),
    }


async def _end_to_end(pool: asyncpg.Pool, embedder: Embedder, seeds: Seeds, ef: int, n: int) -> dict[str, Any]:
    """search_code(mode="semantic") itself, back to back, and two steps it takes besides the
    semantic leg: embedding the query, and counting chunk texts that have no vector yet (a search
    pays the count whenever its scope's last count is older than db.vector_marks.MAX_AGE; it reads
    only the chunks above each repository's embedding mark)."""
    from mcp_server.db.vector_marks import count_pending

    total, embed, pending = [], [], []
    for i, text in enumerate(seeds.queries[: n + 5]):
        t = time.perf_counter()
        res = await hybrid.search_code(pool, embedder, text, filters=Filters(), mode="semantic", limit=K, ef_search=ef)
        t1 = time.perf_counter()
        embedder.embed_query(text)
        t2 = time.perf_counter()
        if 5 <= i < 10:  # the count alone, a few times
            async with pool.acquire() as conn:
                await count_pending(conn, embedder.model_key, None)
            pending.append((time.perf_counter() - t2) * 1000)
        if i >= 5:  # the first few warm the model and the pool
            total.append((t1 - t) * 1000)
            embed.append((t2 - t1) * 1000)
        if len(res.results) != K:
            raise RuntimeError(f"search_code returned {len(res.results)} results, not {K}, for {text!r}")
    return {
        "ef_search": ef,
        "queries": len(total),
        "p50_ms": pct(total, 0.5),
        "p95_ms": pct(total, 0.95),
        "embed_query_p50_ms": pct(embed, 0.5),
        "count_pending_p50_ms": pct(pending, 0.5),
        "count_pending_p95_ms": pct(pending, 0.95),
    }


async def plans(
    conn: asyncpg.Connection, embedder: Embedder, storage: VectorStorage, q: np.ndarray, repository_id: int, ef: int
) -> dict[str, str]:
    """Which access path the semantic leg's SQL gets per filter (the same SQL as hybrid._semantic)."""
    literal = await conn.fetchval("SELECT quote_literal($1::text)", embedder.model_key)
    out = {}
    for kind, f in (
        ("none", Filters()),
        ("repository", Filters(repository_id=repository_id)),
        ("glob", Filters(path_glob=GLOB)),
    ):
        where, params = f.sql(3)
        sql = (
            f"SELECT c.id {hybrid._FROM} JOIN embeddings v ON v.content_hash = c.content_hash AND v.model = {literal}"
            f" WHERE true {where} ORDER BY {storage.distance('$1')} LIMIT $2"
        )
        async with conn.transaction():
            await conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
            await conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            rows = await conn.fetch(f"EXPLAIN {sql}", q, DEPTH, *params)
        text = [r[0] for r in rows]
        nodes = [line.strip().removeprefix("->").strip().split("  (cost")[0] for line in text if "(cost" in line]
        out[kind] = " > ".join(nodes[:6])
    return out


async def _prewarm(conn: asyncpg.Connection, index: str) -> dict[str, Any]:
    """Load the HNSW index and the embeddings heap into shared_buffers (as far as they fit)."""
    if not await conn.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_prewarm'"):
        return {"prewarmed": False}
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    t = time.perf_counter()
    blocks = {rel: await conn.fetchval("SELECT pg_prewarm($1::regclass)", rel) for rel in (index, "embeddings")}
    return {"prewarmed": True, "blocks": blocks, "seconds": round(time.perf_counter() - t, 1)}


def structure(vectors: np.ndarray, seeds: np.ndarray, sample: int = 1000) -> dict[str, float]:
    """How realistic the neighbourhoods are: nearest real seed, nearest other row, vs the seeds' own."""
    rng = np.random.default_rng(3)
    rows = rng.choice(len(vectors), min(sample, len(vectors)), replace=False)
    sv = vectors[rows]
    to_seed = (sv @ seeds.T).max(axis=1)
    nn = []
    for start in range(0, len(sv), 50):
        sims = sv[start : start + 50] @ vectors.T
        sims[np.arange(len(sims)), rows[start : start + 50]] = -2.0
        nn.append(sims.max(axis=1))
    seed_sims = seeds @ seeds.T
    np.fill_diagonal(seed_sims, -2.0)
    return {
        "mean_cos_to_nearest_seed": round(float(to_seed.mean()), 4),
        "mean_cos_to_nearest_row": round(float(np.concatenate(nn).mean()), 4),
        "seeds_mean_cos_to_nearest_seed": round(float(seed_sims.max(axis=1).mean()), 4),
    }


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 chunks (overrides --chunks)")
    parser.add_argument("--repositories", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=4000, help="real chunks embedded as the seed vectors")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--sigma", type=float, default=0.6, help="noise scale, in units of the seeds' covariance")
    parser.add_argument("--ef-search", type=int, action="append", help="repeatable (default: 100 and 400)")
    parser.add_argument(
        "--ef-construction",
        type=int,
        default=128,
        help="HNSW ef_construction (default 128, what a million chunks needs; pgcode's own default is 64)",
    )
    parser.add_argument(
        "--vector-type",
        choices=("vector", "halfvec"),
        default="vector",
        help="how vectors are stored and indexed (pgcode's vector_type); recall is against float32 truth",
    )
    parser.add_argument("--maintenance-work-mem", default="3GB")
    parser.add_argument("--parallel-workers", type=int, default=1, help="max_parallel_maintenance_workers")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--database-url", default=None, help="an empty pgcode database instead of the embedded one")
    parser.add_argument(
        "--end-to-end",
        type=int,
        default=20,
        help="search_code(mode='semantic') calls timed end to end (each counts pending vectors)",
    )
    parser.add_argument(
        "--shared-buffers",
        default=None,
        help="the embedded server's shared_buffers (ALTER SYSTEM, restart; default 4GB: the 1M index "
        "and vectors are ~4 GB)",
    )
    parser.add_argument("--rebuild", action="store_true", help="load and build even if the table is already there")
    args = parser.parse_args()
    n_chunks = 50_000 if args.quick else args.chunks
    ef_values = sorted(set(args.ef_search or [100, 400]))
    for name, value, low in (
        ("--chunks", n_chunks, 1000),
        ("--repositories", args.repositories, 1),
        ("--seeds", args.seeds, 50),
        ("--queries", args.queries, 10),
    ):
        if value < low:
            parser.error(f"{name} must be at least {low}")
    if args.end_to_end < 1:
        parser.error("--end-to-end must be at least 1")
    if args.shared_buffers and args.database_url:
        parser.error("--shared-buffers applies to the embedded server only; tune your own server's config")
    if args.shared_buffers is None and not args.database_url:
        args.shared_buffers = "4GB"
    if any(not 1 <= ef <= 1000 for ef in ef_values):
        parser.error("--ef-search must be between 1 and 1000")
    if not 4 <= args.ef_construction <= 1000:
        parser.error("--ef-construction must be between 4 and 1000")
    settings = dataclasses.replace(
        settings_for(args.data_dir, args.database_url),
        hnsw_ef_construction=args.ef_construction,
        vector_type=args.vector_type,
    )
    before = load()
    anyio.run(run, args, settings, n_chunks, ef_values, before)


async def run(
    args: argparse.Namespace, settings: Settings, n_chunks: int, ef_values: list[int], before: dict[str, Any]
) -> None:
    embedder = embedder_for(settings)
    seeds = real_seeds(embedder, args.seeds, args.queries, settings.data_dir)
    synth = Synthesiser(seeds.vectors, args.sigma, seed=42)
    if args.shared_buffers:
        async with open_database(settings) as db, db.pool.acquire() as conn:
            literal = await conn.fetchval("SELECT quote_literal($1::text)", args.shared_buffers)
            try:
                await conn.execute(f"ALTER SYSTEM SET shared_buffers = {literal}")
            except asyncpg.PostgresError as exc:
                print(f"error: --shared-buffers {args.shared_buffers!r}: {exc}", file=sys.stderr)
                raise SystemExit(2) from None
        # leaving the context stops the embedded server; the next start reads the new size
    marker = {
        "scale_bench": {
            "chunks": n_chunks,
            "repositories": args.repositories,
            "sigma": args.sigma,
            "seeds": len(seeds.vectors),
            "model": embedder.model_key,
            "m": settings.hnsw_m,
            "ef_construction": settings.hnsw_ef_construction,
            "vector_type": settings.vector_type,
        }
    }
    async with open_database(settings) as db:  # migrates; the bench then uses its own connections
        dsn = db.dsn
        async with db.pool.acquire() as conn:
            await refuse_foreign_data(conn)
            stored = await conn.fetchval("SELECT settings FROM repositories WHERE name = $1", f"{REPO_PREFIX}000")
            have_index = await conn.fetchval("SELECT 1 FROM vector_indexes WHERE model = $1", embedder.model_key)
        stored = json.loads(stored) if isinstance(stored, str) else stored
        reuse = (
            not args.rebuild
            and have_index
            and stored
            and stored.get("scale_bench", {}) | {"timings": None} == marker["scale_bench"] | {"timings": None}
        )
        repo_files, chunk_repo, chunk_file = layout(n_chunks, args.repositories, seeds.paths, 11)
        if reuse:
            print("reusing the loaded table and index (same parameters; --rebuild to reload)", file=sys.stderr)
            vectors = np.concatenate([synth.batch(min(BATCH, n_chunks - s))[1] for s in range(0, n_chunks, BATCH)])
            in_glob = glob_mask(repo_files, chunk_repo, chunk_file)
            timings = stored["scale_bench"]["timings"]
            loaded, built = timings["load"], timings["build"]
            loaded["reused"] = True
        else:
            print(f"loading {n_chunks:,} chunks into {args.repositories} repositories ...", file=sys.stderr, flush=True)
            vectors, chunk_repo, in_glob, loaded = await load_table(
                dsn,
                embedder.model_key,
                seeds,
                synth,
                n_chunks,
                args.repositories,
                marker,
                VectorStorage(embedder.dim, settings.vector_type).column,
            )
            print(
                f"building the HNSW index (m={settings.hnsw_m}, ef_construction={settings.hnsw_ef_construction}, "
                f"maintenance_work_mem={args.maintenance_work_mem}, "
                f"max_parallel_maintenance_workers={args.parallel_workers}) ...",
                file=sys.stderr,
                flush=True,
            )
            built = await build_index(
                dsn, embedder.model_key, embedder.dim, settings, args.maintenance_work_mem, args.parallel_workers
            )
            async with db.pool.acquire() as conn:
                marker["scale_bench"]["timings"] = {"load": loaded, "build": built}
                await conn.execute(
                    "UPDATE repositories SET settings = $1 WHERE name = $2", json.dumps(marker), f"{REPO_PREFIX}000"
                )
        async with db.pool.acquire() as conn:
            sizes = {
                r["name"]: r["bytes"]
                for r in await conn.fetch(
                    "SELECT relname AS name, pg_total_relation_size(oid) AS bytes FROM pg_class"
                    " WHERE relname IN ('chunks', 'embeddings', 'files')"
                )
            }
            sizes["embeddings_heap"] = await conn.fetchval("SELECT pg_relation_size('embeddings')")
            sizes["database"] = await conn.fetchval("SELECT pg_database_size(current_database())")
        async with db.pool.acquire() as conn:
            prewarm = await _prewarm(conn, index_name(embedder.model_key))
        shape = structure(vectors, seeds.vectors)
        mid = load()
        print("measuring ...", file=sys.stderr, flush=True)
        measured = await measure(
            db, settings, embedder, vectors, chunk_repo, in_glob, seeds, ef_values, args.repositories, args.end_to_end
        )
    after = load()
    measured["prewarm"] = prewarm
    report(args, n_chunks, seeds, shape, loaded, built, sizes, measured, before, mid, after, float(in_glob.mean()))


def report(
    args: argparse.Namespace,
    n_chunks: int,
    seeds: Seeds,
    shape: dict[str, float],
    loaded: dict[str, Any],
    built: dict[str, Any],
    sizes: dict[str, int],
    measured: dict[str, Any],
    before: dict[str, Any],
    mid: dict[str, Any],
    after: dict[str, Any],
    glob_share: float,
) -> None:
    mb = {k: round(v / 2**20, 1) for k, v in sizes.items()}
    print(
        table(
            ["figure", "value"],
            [
                ["chunks", n_chunks],
                ["vector type", args.vector_type],
                ["repositories", args.repositories],
                ["real seed vectors", len(seeds.vectors)],
                ["sigma (x seed covariance)", args.sigma],
                ["mean cos to nearest real seed", shape["mean_cos_to_nearest_seed"]],
                ["mean cos to nearest other row", shape["mean_cos_to_nearest_row"]],
                ["seeds' own mean cos to nearest seed", shape["seeds_mean_cos_to_nearest_seed"]],
                ["load s (COPY)", loaded["load_s"]],
                ["vacuum analyze s", loaded.get("vacuum_analyze_s")],
                ["HNSW build s", built["build_s"]],
                ["HNSW m / ef_construction", f"{built['m']} / {built['ef_construction']}"],
                [
                    "maintenance_work_mem / parallel workers",
                    f"{built['maintenance_work_mem']} / {built['max_parallel_maintenance_workers']}",
                ],
                ["HNSW index MB", built["index_mb"]],
                ["embeddings heap MB", mb.get("embeddings_heap")],
                ["embeddings MB (heap, pkey, HNSW)", mb.get("embeddings")],
                ["chunks MB (with indexes)", mb.get("chunks")],
                ["database MB", mb.get("database")],
                [f"path glob {GLOB!r} share of chunks", round(glob_share, 4)],
                ["shared_buffers", measured["server"]["shared_buffers"]],
                ["load1 before / mid / after", f"{before['load1']} / {mid['load1']} / {after['load1']}"],
            ],
            title=f"scale: {n_chunks:,} chunks" + (" (table reused)" if loaded.get("reused") else ""),
        )
    )
    rows = []
    for run in measured["runs"]:
        ok = run["recall_at_10"] >= TARGETS["recall_at_10"] and run["p95_ms"] <= TARGETS["search_p95_ms"]
        rows.append(
            [
                run["ef_search"],
                run["filter"],
                run["queries"],
                run["recall_at_10"],
                run["recall_at_10_min"],
                run["p50_ms"],
                run["p95_ms"],
                run["returned_min"],
                run["short_of_k"],
                "met" if ok else "MISSED",
            ]
        )
    print()
    print(
        table(
            [
                "ef_search",
                "filter",
                "queries",
                "recall@10",
                "min",
                "p50 ms",
                "p95 ms",
                "returned min",
                "short of k",
                "target",
            ],
            rows,
            title=f"semantic leg of search_code (LIMIT {DEPTH}), warm cache; target p95 <= "
            f"{TARGETS['search_p95_ms']} ms and recall@10 >= {TARGETS['recall_at_10']}",
        )
    )
    ex, e2e = measured["exact_scan_sql"], measured["search_code"]
    print(
        f"\nexact scan in PostgreSQL (index off, {ex['queries']} queries): p50 {ex['p50_ms']} ms, "
        f"agreement with the numpy ground truth {ex['agreement_with_numpy']}"
    )
    if "error" in e2e:
        print(f"search_code(mode='semantic') end to end failed: {e2e['error']}")
    else:
        print(
            f"search_code(mode='semantic') end to end (ef_search {e2e['ef_search']}, {e2e['queries']} queries): "
            f"p50 {e2e['p50_ms']} ms, p95 {e2e['p95_ms']} ms; of which embedding the query p50 "
            f"{e2e['embed_query_p50_ms']} ms; count_pending alone (uncached) p50 {e2e['count_pending_p50_ms']} ms, "
            f"p95 {e2e['count_pending_p95_ms']} ms"
        )
    print("plans of the semantic SQL: " + "; ".join(f"{k}: {v}" for k, v in measured["plans"].items()))
    payload = {
        "benchmark": "scale",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
        "load_before": before,
        "load_mid": mid,
        "load_after": after,
        "targets": TARGETS,
        "parameters": {
            "chunks": n_chunks,
            "vector_type": args.vector_type,
            "repositories": args.repositories,
            "seeds": len(seeds.vectors),
            "seed_corpora": SEED_CORPORA,
            "queries": len(seeds.query_vectors),
            "sigma": args.sigma,
            "noise": "seed + sigma * N(0, covariance of the seeds), renormalised",
            "path_glob": GLOB,
            "path_glob_share": round(glob_share, 4),
            "k": K,
            "depth": DEPTH,
            "cache": "warm: pg_prewarm of the HNSW index and embeddings heap (as far as shared_buffers "
            "holds them), then one untimed pass of every query and filter before timing",
            "lexical": "chunk content is a one-line stand-in with an empty tsvector; only the semantic "
            "path is measured",
        },
        "vectors": shape,
        "load": loaded,
        "build": built,
        "sizes_mb": mb,
        "server": measured["server"],
        "runs": measured["runs"],
        "plans": measured["plans"],
        "exact_scan_sql": ex,
        "search_code_semantic": e2e,
        "prewarm": measured["prewarm"],
        "exact_numpy_s": measured["exact_numpy_s"],
        "warm_up_s": measured["warm_up_s"],
    }
    label = ("quick" if n_chunks == 50_000 else f"{n_chunks // 1000}k") + (
        "" if args.vector_type == "vector" else f"-{args.vector_type}"
    )
    # Only the default study (1M chunks, vector) is scale-latest.json: other sizes and types keep
    # their own summaries instead of overwriting it.
    default = label == "1000k"
    print("wrote", write_result("scale" if default else f"scale-{label}", payload, label if default else ""))


if __name__ == "__main__":
    main()
