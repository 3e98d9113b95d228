"""Bytes per row on disk: real corpora indexed (without vectors) on a fresh embedded server, then
each table's heap, indexes and TOAST divided by its rows; the figures deploy/capacity.md scales.

Vectors are left out (bench/scale.py measures the embeddings heap and HNSW index per vector, for
vector and halfvec); everything else is what `pgcode index` stores.

    python bench/row_bytes.py                     # Django and Requests
    python bench/row_bytes.py --corpus flask --data-dir /tmp/row-bytes
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

import anyio
from _common import Timer, load, machine, settings_for, table, write_result
from corpora import corpus_root

from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging

TABLES = ("repositories", "files", "symbols", "edges", "chunks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", action="append", help="repeatable (default: django and requests)")
    parser.add_argument("--data-dir", type=Path, default=Path("bench/.data-row-bytes"))
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args.corpus or ["django", "requests"], args.data_dir)


async def _run(names: list[str], data_dir: Path) -> None:
    shutil.rmtree(data_dir, ignore_errors=True)  # a fresh server: no dead rows from earlier runs
    settings = settings_for(data_dir)
    before = load()
    timer = Timer()
    async with open_database(settings) as db:
        for name in names:
            await index_repository(db, settings, corpus_root(name), name=name)
        async with db.pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")
            rows: dict[str, dict[str, Any]] = {}
            for t in TABLES:
                # Table names come from TABLES above, never from input.
                count = await conn.fetchval(f"SELECT count(*) FROM {t}")
                heap, total = await conn.fetchrow(
                    "SELECT pg_table_size($1::regclass), pg_total_relation_size($1::regclass)", t
                )
                rows[t] = {
                    "rows": count,
                    "table_bytes": heap,
                    "index_bytes": total - heap,
                    "total_bytes": total,
                    "bytes_per_row": round(total / count) if count else None,
                }
            database = await conn.fetchval("SELECT pg_database_size(current_database())")
    shutil.rmtree(data_dir, ignore_errors=True)
    chunks = rows["chunks"]["rows"]
    stored = sum(r["total_bytes"] for r in rows.values())
    print(
        table(
            ["table", "rows", "table MB", "indexes MB", "bytes per row"],
            [
                [t, r["rows"], round(r["table_bytes"] / 1e6, 1), round(r["index_bytes"] / 1e6, 1), r["bytes_per_row"]]
                for t, r in rows.items()
            ],
            title=f"row bytes: {', '.join(names)} indexed without vectors ({timer.seconds():.0f} s)",
        )
    )
    per_chunk = round(stored / chunks)
    print(f"all five tables per chunk: {per_chunk} bytes; database {database / 1e6:.1f} MB")
    payload = {
        "corpora": names,
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "tables": rows,
        "bytes_per_chunk_all_tables": per_chunk,
        "edges_per_chunk": round(rows["edges"]["rows"] / chunks, 2),
        "symbols_per_chunk": round(rows["symbols"]["rows"] / chunks, 2),
        "database_bytes": database,
    }
    print("wrote", write_result("row-bytes", payload))


if __name__ == "__main__":
    main()
