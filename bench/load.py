"""Concurrency under load: MCP clients over streamable HTTP and SSE on two pgcode servers and a worker
sharing one database, while one repository's files are edited and another is indexed.

Half the clients use streamable HTTP (/mcp), half SSE (/sse), spread over both servers, each with
its own bearer token, calling the read tools back to back (search, symbols, graph); meanwhile a
file of the indexed corpus is saved every --edit-interval seconds and a second corpus is indexed,
removed and indexed again through the first server. Reports calls, errors and p50/p95/p99 per
transport and per tool, throughput, who held each repository's lease at every sample, and
deadlocks (pg_stat_database and the PostgreSQL log).

    python bench/load.py                               # Django, 20 clients, 60 s
    python bench/load.py --corpus requests --seconds 15 --clients 10
    python bench/load.py --database-url postgresql://localhost/pgcode_bench
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.mcp_harness, for the SDK clients

import _load_driver as driver  # noqa: E402
import corpora  # noqa: E402
from _common import claim_repository, load, machine, settings_for, table, write_result  # noqa: E402

from mcp_server.config import Settings  # noqa: E402
from mcp_server.db.embedded import EmbeddedPostgres  # noqa: E402
from mcp_server.db.pool import open_database  # noqa: E402
from mcp_server.db.vectors import ensure_vector_index  # noqa: E402
from mcp_server.embed.model import embedder_for  # noqa: E402
from mcp_server.indexer.embed import embed_pending  # noqa: E402
from mcp_server.indexer.pipeline import index_repository  # noqa: E402
from mcp_server.logs import configure_logging  # noqa: E402

EDITED_FILES = 5
LOAD_DATABASE = "pgcode_load"  # on the benchmarks' embedded server, next to the other benchmarks' database


async def own_database(dsn: str) -> str:
    """The load run's own database on the benchmarks' server: the processes under test watch every
    repository of their database, and must not take the leases of other benchmarks' repositories."""
    admin = await asyncpg.connect(dsn)
    try:
        if not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", LOAD_DATABASE):
            await admin.execute(f'CREATE DATABASE "{LOAD_DATABASE}"')
    finally:
        await admin.close()
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{LOAD_DATABASE}", parts.query, parts.fragment))


async def copy_vectors(source_dsn: str, dsn: str, model: str, settings: Settings) -> int:
    """Vectors the benchmarks' main database already has for this database's chunks, copied over
    (binary COPY on one server), so the run starts fully embedded instead of embedding for minutes."""
    target = await asyncpg.connect(dsn)
    source = await asyncpg.connect(source_dsn)
    try:
        wanted = [
            r[0]
            for r in await target.fetch(
                "SELECT DISTINCT c.content_hash FROM chunks c WHERE NOT EXISTS"
                " (SELECT 1 FROM embeddings e WHERE e.model = $1 AND e.content_hash = c.content_hash)",
                model,
            )
        ]
        if not wanted or not await source.fetchval("SELECT to_regclass('embeddings') IS NOT NULL"):
            return 0
        buffer = io.BytesIO()
        await source.copy_from_query(
            "SELECT model, content_hash, embedding, created_at FROM embeddings"
            " WHERE model = $1 AND content_hash = ANY($2::bytea[])",
            model,
            wanted,
            output=buffer,
            format="binary",
        )
        buffer.seek(0)
        status = await target.copy_to_table(
            "embeddings", source=buffer, format="binary", columns=["model", "content_hash", "embedding", "created_at"]
        )
        dim = await target.fetchval("SELECT vector_dims(embedding) FROM embeddings WHERE model = $1 LIMIT 1", model)
        if dim:
            await ensure_vector_index(target, model, int(dim), settings)
        return int(status.split()[-1])
    finally:
        await source.close()
        await target.close()


async def prepare(
    source_dsn: str, dsn: str, data_dir: Path, corpus: str, side_corpus: str
) -> tuple[str, Path, Path, str]:
    """The watched corpus indexed with its vectors (copied or cached by content, so usually
    quick), from a fresh copy (earlier runs' edits undone); the side corpus copied, not registered."""
    watched = corpora.CACHE / "load" / corpus
    shutil.rmtree(watched, ignore_errors=True)
    watched = corpora.private_root(corpus, "load")
    side = corpora.private_root(side_corpus, "load-side")
    name, side_name = f"load-{corpus}", f"load-side-{side_corpus}"
    settings = settings_for(data_dir, dsn)
    embedder = embedder_for(settings)
    async with open_database(settings) as db:
        if dsn != source_dsn:  # the run's own database: what earlier runs with other corpora left goes
            async with db.pool.acquire() as conn:
                await conn.execute("DELETE FROM repositories WHERE name <> $1", name)
        await claim_repository(db, name, watched, fresh=False)
        await claim_repository(db, side_name, side, fresh=True)
        started = time.perf_counter()
        await index_repository(db, settings, watched, name=name)
        copied = await copy_vectors(source_dsn, dsn, embedder.model_key, settings) if source_dsn != dsn else 0
        embedded = await embed_pending(db.pool, embedder, settings, None)
        print(
            f"indexed {name} in {time.perf_counter() - started:.1f} s ({copied} vectors copied,"
            f" {embedded} chunks embedded)",
            file=sys.stderr,
        )
    return name, watched, side, side_name


async def measure(args: argparse.Namespace, server_dsn: str, data_dir: Path) -> dict[str, Any]:
    dsn = server_dsn if args.database_url else await own_database(server_dsn)
    name, watched, side, side_name = await prepare(server_dsn, dsn, data_dir, args.corpus, args.side_corpus)
    workload = await driver.build_workload(dsn, name)
    py_files = [f for f in workload.files if f.endswith(".py")]
    edit_paths = py_files[:: max(1, len(py_files) // EDITED_FILES)][:EDITED_FILES]
    pg_log = await driver.postgres_log(dsn)
    log_offset = pg_log.stat().st_size if pg_log else 0
    logs = Path(tempfile.mkdtemp(prefix="pgcode-load-"))
    with driver.cluster(dsn, logs, driver.client_tokens(args.clients), index_roots=[side]) as cluster:
        deadline = time.monotonic() + 120
        while True:  # the watched repository has its writer before the clock starts
            probe = driver.LeaseWatch()
            await driver.watch_leases(dsn, time.monotonic() + 0.01, probe)
            if probe.holders.get(name) == [1]:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"nobody claimed {name}'s lease within 120 s; logs in {logs}")
            await anyio.sleep(0.5)
        deadlocks_before = await driver.deadlocks(dsn)
        load_before = load()
        outcome = await driver.run(
            driver.Plan(
                dsn=dsn,
                cluster=cluster,
                workload=workload,
                watched_root=watched,
                edit_paths=edit_paths,
                side_root=side,
                side_name=side_name,
                seconds=args.seconds,
                clients=args.clients,
                edit_interval=args.edit_interval,
            )
        )
        load_after = load()
        cluster.stop()  # exiting backends flush their statistics
        problems = cluster.log_problems()
    deadlocks_after = await driver.deadlocks(dsn)
    deadlock_lines = driver.log_lines_since(pg_log, log_offset, "deadlock detected")
    async with open_database(settings_for(data_dir, dsn)) as db, db.pool.acquire() as conn:
        await conn.execute("DELETE FROM repositories WHERE name = $1", side_name)

    rec = outcome.recorder
    readers = [r for r in rec.rows("transport") if r["transport"] != "writer"]
    reader_calls = sum(r["calls"] for r in readers)
    leases = outcome.leases.summary()
    return {
        "corpus": corpora.get(args.corpus).requirement,
        "side_corpus": corpora.get(args.side_corpus).requirement,
        "clients": args.clients,
        "seconds": round(outcome.seconds, 1),
        "edit_interval_s": args.edit_interval,
        "calls": reader_calls,
        "errors": rec.errors,
        "first_errors": rec.first_errors(),
        "throughput_calls_per_s": round(reader_calls / outcome.seconds, 1),
        "per_transport": rec.rows("transport"),
        "per_tool": rec.rows("tool"),
        "per_transport_tool": rec.rows("both"),
        "edits_saved": len(outcome.edits),
        "edited_files": edit_paths,
        "last_edit_searchable_after_run_s": outcome.edit_visible_s,
        "side_index_runs": outcome.index_rounds,
        "leases": leases,
        "one_writer_per_repository": all(r["several_owners"] == 0 for r in leases.values())
        and leases.get(name, {}).get("one_owner") == leases.get(name, {}).get("samples")
        and len(leases.get(name, {}).get("owners_seen", [])) == 1,
        "deadlocks": {
            "pg_stat_database_before": deadlocks_before,
            "after": deadlocks_after,
            "log": str(pg_log) if pg_log else None,
            "log_lines": deadlock_lines,
        },
        "process_tracebacks": problems,
        "process_logs": str(logs),
        "load_at_run_start": load_before,
        "load_at_run_end": load_after,
    }


def report(figures: dict[str, Any]) -> None:
    cols = ["calls", "errors", "p50_ms", "p95_ms", "p99_ms"]
    print(
        table(
            ["transport", *cols],
            [[r["transport"], *(r[c] for c in cols)] for r in figures["per_transport"]],
            title=f"{figures['clients']} clients for {figures['seconds']} s on {figures['corpus']}",
        )
    )
    print()
    print(table(["tool", *cols], [[r["tool"], *(r[c] for c in cols)] for r in figures["per_tool"]]))
    print()
    print(
        table(
            ["repository", "samples", "one owner", "no owner", "several", "owners seen"],
            [
                [k, v["samples"], v["one_owner"], v["no_owner"], v["several_owners"], ", ".join(v["owners_seen"])]
                for k, v in figures["leases"].items()
            ],
            title="who held each repository's lease, per sample",
        )
    )
    d = figures["deadlocks"]
    print()
    print(
        f"throughput {figures['throughput_calls_per_s']} calls/s; errors {figures['errors']}; "
        f"edits saved {figures['edits_saved']}; side index runs {figures['side_index_runs']}; "
        f"last edit searchable {figures['last_edit_searchable_after_run_s']} s after the run"
    )
    print(
        f"one writer per repository: {figures['one_writer_per_repository']}; deadlocks "
        f"{d['after'] - d['pg_stat_database_before']} (pg_stat_database), {len(d['log_lines'])} in the log; "
        f"tracebacks in process logs: {len(figures['process_tracebacks'])}"
    )
    for line in figures["first_errors"]:
        print("  error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django", help="the indexed corpus the clients query and edits change")
    parser.add_argument("--side-corpus", default="requests", help="the corpus indexed again and again during the run")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--edit-interval", type=float, default=0.5, help="seconds between saved edits")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=corpora.DEFAULT_DATA_DIR,
        help="the embedded PostgreSQL's data dir (default bench/.data)",
    )
    parser.add_argument("--database-url", help="use this PostgreSQL instead of the embedded one")
    args = parser.parse_args()
    if args.clients < 2 or args.seconds <= 0:
        parser.error("--clients must be at least 2 (one per transport) and --seconds positive")
    configure_logging("warning")
    embedded = None if args.database_url else EmbeddedPostgres(args.data_dir.expanduser().resolve())
    dsn = args.database_url or embedded.start()  # type: ignore[union-attr]
    before = load()
    try:
        figures = anyio.run(measure, args, dsn, args.data_dir)
    finally:
        if embedded is not None:
            embedded.stop()
    report(figures)
    payload = {
        "command": " ".join(sys.argv),
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "figures": figures,
    }
    print("wrote", write_result("load", payload, args.corpus))


if __name__ == "__main__":
    main()
