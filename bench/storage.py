"""Measure what edits and removals leave on disk: database size, vectors no chunk uses, WAL.

Two runs, each on a fresh embedded PostgreSQL of its own: `kept` does what pgcode did before vectors
were collected (a removal is a bare DELETE, nothing deletes vectors, PostgreSQL's default WAL
settings), `collected` does what pgcode does now: the default grace period (so the removed corpus, indexed
again at once, reuses its vectors), and after each cycle a collection as the background indexer
runs it once that grace period has passed. Each indexes two real corpora with vectors, then repeats a
cycle: edit a share of the first corpus's Python files, re-index it, remove the second and index it
again. The live rows are the same in both runs at the end.

    python bench/storage.py                       # pgcode's own mcp_server/ and Requests, 4 cycles
    python bench/storage.py --corpus django --cycles 3

Prints a table per run and writes the figures as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from _common import Timer, load, machine, settings_for, table, write_result
from corpora import corpus_root

from mcp_server.config import Settings
from mcp_server.db.pool import Database, open_database
from mcp_server.db.size import disk_use
from mcp_server.embed.model import Embedder, embedder_for
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.vector_gc import collect_vectors
from mcp_server.logs import configure_logging

_OWN_CODE = Path(__file__).resolve().parent.parent / "mcp_server"
_UNUSED = """SELECT count(*) FROM embeddings v
             WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = v.content_hash)"""
# PostgreSQL's own defaults, which the embedded server ran with before it was bounded.
_DEFAULT_WAL = {"max_wal_size": "1GB", "min_wal_size": "80MB"}


@dataclass(slots=True)
class Row:
    step: str
    database_mb: float
    wal_mb: float | None
    chunks: int
    vectors: int
    unused: int
    seconds: float
    collect_seconds: float | None = None  # the collection at the end of the cycle

    @property
    def unused_share(self) -> float:
        return round(self.unused / self.vectors, 3) if self.vectors else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", default=None, help="the corpus edited (default: a copy of pgcode's own mcp_server/)"
    )
    parser.add_argument("--removed", default="requests", help="the corpus removed and indexed again (default requests)")
    parser.add_argument("--cycles", type=int, default=4, help="edit/remove cycles (default 4)")
    parser.add_argument("--edit-share", type=float, default=0.3, help="share of Python files edited per cycle")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--only", choices=["kept", "collected"], help="run just one of the two")
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


async def _run(args: argparse.Namespace) -> None:
    runs: dict[str, list[Row]] = {}
    with tempfile.TemporaryDirectory(prefix="pgcode-bench-storage-") as work:
        embedder = await anyio.to_thread.run_sync(lambda: embedder_for(settings_for(None)))
        # One copy for both runs: the same code in each (mcp_server/ may change meanwhile).
        sources = (
            _copy(corpus_root(args.corpus) if args.corpus else _OWN_CODE, Path(work) / "edited"),
            _copy(corpus_root(args.removed), Path(work) / "removed"),
        )
        for mode in ("kept", "collected"):
            if args.only and mode != args.only:
                continue
            runs[mode] = await _scenario(args, mode, Path(work) / mode, sources, embedder)
            print(_table(mode, runs[mode]), end="\n\n")
    payload: dict[str, Any] = {
        "machine": machine(),
        "load": load(),
        "command": " ".join(sys.argv),
        "edited": args.corpus or "mcp_server",
        "removed": args.removed,
        "cycles": args.cycles,
        "edit_share": args.edit_share,
        "runs": {
            mode: [{**asdict(row), "unused_share": row.unused_share} for row in rows] for mode, rows in runs.items()
        },
    }
    print(f"written to {write_result('storage', payload)}")


async def _scenario(
    args: argparse.Namespace, mode: str, work: Path, sources: tuple[Path, Path], embedder: Embedder
) -> list[Row]:
    edited, removed = (_copy(source, work / source.name) for source in sources)
    settings = settings_for(
        work / "data"
    )  # the default grace period: a removed corpus indexed again reuses its vectors
    rows: list[Row] = []
    async with open_database(settings) as db:
        if mode == "kept":
            await _server_settings(db, _DEFAULT_WAL)
        timer = Timer()
        await index_repository(db, settings, edited, name="edited", embedder=embedder)
        await index_repository(db, settings, removed, name="removed", embedder=embedder)
        rows.append(await _row(db, "indexed", timer))
        rng = random.Random(args.seed)
        files = sorted(p for p in edited.rglob("*.py") if p.stat().st_size)
        for cycle in range(1, args.cycles + 1):
            timer = Timer()
            for path in rng.sample(files, max(1, int(len(files) * args.edit_share))):
                _edit(path)
            await index_repository(db, settings, edited, name="edited", embedder=embedder)
            await _remove(db, settings, mode)
            await index_repository(db, settings, removed, name="removed", embedder=embedder)
            collect: float | None = None
            if mode == "collected":
                started = Timer()
                async with db.pool.acquire() as conn:  # what the background indexer does once the grace has passed
                    await collect_vectors(conn, 0)
                collect = started.seconds()
            rows.append(await _row(db, f"cycle {cycle}", timer, collect))
    shutil.rmtree(work / "data", ignore_errors=True)
    return rows


def _copy(source: Path, dest: Path) -> Path:
    """A copy to edit (the corpora's own roots are shared by every benchmark); a bare package
    folder goes into a root of its own, so its modules keep their package paths."""
    shutil.copytree(
        source,
        dest / source.name if (source / "__init__.py").exists() else dest,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return dest


def _edit(path: Path) -> None:
    """Touch most definitions of the file, as a refactoring would: every `return` gets one more space."""
    path.write_text(path.read_text(encoding="utf-8").replace("return ", "return  "), encoding="utf-8")


async def _remove(db: Database, settings: Settings, mode: str) -> None:
    async with db.pool.acquire() as conn:
        repo = await repositories.find(conn, "removed")
        if mode == "kept":
            await conn.execute("DELETE FROM repositories WHERE id = $1", repo.id)
        else:
            await repositories.remove(conn, repo.id, vector_grace_seconds=settings.vector_gc_grace_seconds)


async def _server_settings(db: Database, values: dict[str, str]) -> None:
    async with db.pool.acquire() as conn:
        for name, value in values.items():
            await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")


async def _row(db: Database, step: str, timer: Timer, collect: float | None = None) -> Row:
    async with db.pool.acquire() as conn:
        disk = await disk_use(conn)
        counts: asyncpg.Record = await conn.fetchrow(
            f"SELECT (SELECT count(*) FROM chunks) AS chunks, (SELECT count(*) FROM embeddings) AS vectors,"
            f" ({_UNUSED}) AS unused"
        )
    wal = None if disk.wal_bytes is None else round(disk.wal_bytes / 1e6, 1)
    return Row(
        step,
        round(disk.database_bytes / 1e6, 1),
        wal,
        counts["chunks"],
        counts["vectors"],
        counts["unused"],
        timer.seconds(),
        collect,
    )


def _table(mode: str, rows: list[Row]) -> str:
    return table(
        ["step", "database MB", "WAL MB", "chunks", "vectors", "unused", "unused share", "seconds", "collect s"],
        [
            [
                r.step,
                r.database_mb,
                r.wal_mb,
                r.chunks,
                r.vectors,
                r.unused,
                r.unused_share,
                r.seconds,
                r.collect_seconds,
            ]
            for r in rows
        ],
        title=f"{mode}:",
    )


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
