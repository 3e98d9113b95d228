"""What the compiler pass costs on a corpus: index it with tree-sitter, then run each SCIP indexer its languages call for.

    python bench/compiler_cost.py --corpus django [--data-dir DIR]

Prints and writes (bench/results/compiler_cost-<corpus>-<stamp>.json, compiler_cost-latest.json) the
tree-sitter pass's seconds, then per indexer its wall seconds, peak resident MB (the indexer and its
children, sampled every 0.25 s) and the edges it confirmed, corrected, added and dropped.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import anyio
import corpora
from _common import (
    add_database_arguments,
    claim_repository,
    compiler_pass_summary,
    load,
    machine,
    settings_for,
    write_result,
)

from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    root = corpora.private_root(args.corpus, "compiler")
    name = f"bench-compiler-{args.corpus}"
    load_before = load()
    async with open_database(settings) as db:
        await claim_repository(db, name, root, fresh=True)
        started = time.perf_counter()
        report = await index_repository(db, settings, root, name=name)
        index_seconds = time.perf_counter() - started
        async with db.pool.acquire() as conn:
            edges = await conn.fetchval(
                "SELECT count(*) FROM edges e JOIN repositories r ON r.id = e.repository_id"
                " WHERE r.name = $1 AND e.kind <> 'contains'",
                name,
            )
        print(
            f"[{args.corpus}] tree-sitter: {report.files_indexed} files, {edges} edges in {index_seconds:.1f}s",
            flush=True,
        )
        passes = await compiler_pass_summary(db, settings, name)
    for indexer, p in passes.items():
        print(f"[{args.corpus}] {indexer}: {p}", flush=True)
    payload: dict[str, Any] = {
        "benchmark": "compiler_cost",
        "command": " ".join(sys.argv),
        "machine": machine(),
        "corpus": args.corpus,
        "files": report.files_indexed,
        "edges": edges,
        "tree_sitter_seconds": round(index_seconds, 1),
        "compiler_pass": passes,
        "load_before": load_before,
        "load_after": load(),
    }
    print(f"wrote {write_result('compiler_cost', payload, args.corpus)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="django", help="a corpus of bench/corpora.py (default django)")
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
