"""Measure edit -> searchable latency: index a repository, run the background indexer, time saved edits.

Each edit appends a uniquely named function to a random Python file of the repository; the clock
runs from just before the write until a keyword search (what an assistant would run) returns that
name. Every edited file is restored at the end (and the restore indexed) unless --keep is given.

    python bench/edit_latency.py /tmp/dj/Django-5.1.4/django --edits 30
    python bench/edit_latency.py ~/src/project --database-url postgresql://localhost/pgcode

Prints a table and p50/p95, and writes the figures as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import string
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import anyio
from _common import add_database_arguments, settings_for

from mcp_server.db.pool import Database, open_database
from mcp_server.embed.model import Embedder, embedder_for
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.watcher import BackgroundIndexer
from mcp_server.logs import configure_logging
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

RESULTS = Path(__file__).parent / "results"
_POLL = 0.01  # seconds between searches while waiting for an edit to show up
_TIMEOUT = 15.0


@dataclass(slots=True)
class Sample:
    edit: int
    path: str
    lines: int
    seconds: float  # write -> a keyword search returns the new name
    event: float | None  # write -> the watcher saw the change
    indexed: float | None  # write -> the watcher's batch (store and resolve) ended


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="the repository folder (it is edited, then restored)")
    add_database_arguments(parser)
    parser.add_argument("--edits", type=int, default=30, help="how many edits to time (default 30)")
    parser.add_argument("--pause", type=float, default=0.3, help="seconds between edits (default 0.3)")
    parser.add_argument("--seed", type=int, default=7, help="random seed for the files picked")
    parser.add_argument(
        "--embed", action="store_true", help="load the model: vectors are computed in the background meanwhile"
    )
    parser.add_argument("--keep", action="store_true", help="leave the edits in place")
    parser.add_argument("--label", default="", help="a word to tell result files apart")
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


async def _run(args: argparse.Namespace) -> None:
    # The benchmarks' own embedded server (bench/.data) unless a URL is given: never the user's index.
    settings = settings_for(args.data_dir, args.database_url)
    root = args.root.expanduser().resolve()
    embedder: Embedder | None = None
    if args.embed:
        embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings))
    async with open_database(settings) as db:
        started = time.perf_counter()
        report = await index_repository(db, settings, root)
        initial = time.perf_counter() - started
        print(
            f"initial pass: {report.files_indexed} indexed, {report.files_unchanged} unchanged in {initial:.1f}s",
            file=sys.stderr,
        )
        async with db.pool.acquire() as conn:
            repo = await repositories.find(conn, str(root))
            sizes = await conn.fetchrow(
                """SELECT (SELECT count(*) FROM files WHERE repository_id = $1) AS files,
                          (SELECT count(*) FROM symbols WHERE repository_id = $1) AS symbols,
                          (SELECT count(*) FROM edges WHERE repository_id = $1) AS edges""",
                repo.id,
            )
            candidates = sorted(
                r[0]
                for r in await conn.fetch(
                    "SELECT path FROM files WHERE repository_id = $1 AND language = 'python'", repo.id
                )
            )
        if not candidates:
            raise SystemExit(f"{root} has no indexed Python files to edit")
        indexer = BackgroundIndexer(db, settings, embedder)
        originals: dict[Path, bytes] = {}
        samples: list[Sample] = []
        async with anyio.create_task_group() as tg:
            await tg.start(indexer.run)
            await _until(lambda: indexer.status(repo.id).state == "watching", "the indexer to watch the repository")
            rng = random.Random(args.seed)
            try:
                for i in range(args.edits):
                    rel = rng.choice(candidates)
                    samples.append(await _edit(db, indexer, repo.id, root, rel, i, originals))
                    print(f"{i + 1:>3}  {samples[-1].seconds * 1000:7.1f} ms  {rel}", file=sys.stderr)
                    await anyio.sleep(args.pause)
            finally:
                if not args.keep:
                    for path, data in originals.items():
                        path.write_bytes(data)
                    await _until(lambda: indexer.status(repo.id).files_pending == 0, "the restore to be indexed")
                    await anyio.sleep(0.5)
                status = indexer.status(repo.id)
                tg.cancel_scope.cancel()
    _report(args, root, dict(sizes), samples, initial, status.errors)


async def _edit(
    db: Database,
    indexer: BackgroundIndexer,
    repository_id: int,
    root: Path,
    rel: str,
    i: int,
    originals: dict[Path, bytes],
) -> Sample:
    path = root / rel
    before = path.read_bytes()
    originals.setdefault(path, before)
    # One random lower-case word: digits would split into one-letter search terms matching every
    # chunk, and a shared prefix (probe_...) would let earlier probes outrank this one (the search
    # ranks implementation above tests); either way the bench would time ranking, not freshness.
    name = "probe" + "".join(random.choices(string.ascii_lowercase, k=12))
    text = before.decode("utf-8")
    addition = f"\n\ndef {name}(value):\n    \"\"\"Edit {i} of the latency benchmark.\"\"\"\n    return value\n"
    wall = time.time()
    started = time.perf_counter()
    path.write_text(text + addition, encoding="utf-8")
    filters = Filters(repository_id=repository_id)
    while True:
        result = await search_code(db.pool, None, name, filters=filters, mode="keyword", limit=5)
        if any(name in (h.symbol or "") or name in h.snippet for h in result.results):
            took = time.perf_counter() - started
            # Let the batch finish (search may see the file before its edges are resolved).
            while indexer.status(repository_id).files_pending and time.perf_counter() - started < _TIMEOUT:
                await anyio.sleep(_POLL)
            status = indexer.status(repository_id)
            return Sample(
                i, rel, text.count("\n"), took, _since(wall, status.last_event_at), _since(wall, status.last_indexed_at)
            )
        if time.perf_counter() - started > _TIMEOUT:
            raise SystemExit(f"edit {i} of {rel} was not searchable after {_TIMEOUT}s")
        await anyio.sleep(_POLL)


def _since(wall: float, moment: datetime | None) -> float | None:
    return None if moment is None or moment.timestamp() < wall else moment.timestamp() - wall


async def _until(check: object, what: str, timeout: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout
    while not check():  # type: ignore[operator]
        if time.perf_counter() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        await anyio.sleep(0.05)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of the samples at or below it."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def _report(
    args: argparse.Namespace,
    root: Path,
    sizes: dict[str, int],
    samples: list[Sample],
    initial: float,
    error: str | None,
) -> None:
    seconds = [s.seconds for s in samples]
    p50, p95 = _percentile(seconds, 50), _percentile(seconds, 95)
    load = os.getloadavg()
    print(f"\nrepository  {root}  ({sizes['files']} files, {sizes['symbols']} symbols, {sizes['edges']} edges)")
    print(f"machine     {os.cpu_count()} cpus, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"\n{'edit':>4}  {'ms':>7}  {'seen':>6}  {'stored+resolved':>15}  {'lines':>6}  file")
    for s in samples:
        seen, indexed = _ms(s.event), _ms(s.indexed)
        print(f"{s.edit + 1:>4}  {s.seconds * 1000:7.1f}  {seen!s:>6}  {indexed!s:>15}  {s.lines:>6}  {s.path}")
    print(
        f"\nedit -> searchable over {len(samples)} edits: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms,"
        f" max {max(seconds) * 1000:.0f} ms, mean {statistics.fmean(seconds) * 1000:.0f} ms"
    )
    if error:
        print(f"indexer reported an error: {error}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    label = f"-{args.label}" if args.label else ""
    out = RESULTS / f"edit_latency-{root.name}{label}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "repository": str(root),
                "sizes": sizes,
                "edits": len(samples),
                "embedding": args.embed,
                "initial_pass_seconds": round(initial, 3),
                "cpus": os.cpu_count(),
                "load_average": load,
                "p50_ms": round(p50 * 1000, 1),
                "p95_ms": round(p95 * 1000, 1),
                "max_ms": round(max(seconds) * 1000, 1),
                "samples": [
                    {
                        "edit": s.edit,
                        "path": s.path,
                        "lines": s.lines,
                        "ms": round(s.seconds * 1000, 1),
                        "seen_ms": _ms(s.event),
                        "indexed_ms": _ms(s.indexed),
                    }
                    for s in samples
                ],
                "indexer_error": error,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written to {out}")


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
