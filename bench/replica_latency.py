"""Measure edit -> searchable on read-only servers that read a streaming replica: primary, hot standby, PgBouncer, worker, readers.

The topology of tests/test_replica.py (deploy/postgres/replication.md), built from the embedded
PostgreSQL's binaries in a scratch folder. Each edit writes a new file with a uniquely named
function; three clocks run from just before the write: until the row is on the primary (the
worker's share), until it is on the standby (replication), until a keyword search through MCP
finds it on every reader (the total).

    python bench/replica_latency.py --edits 20
    python bench/replica_latency.py --root /work/corpora/... --edits 20

Prints a table and p50/p95, and writes the figures as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg
from _common import load, machine, table, write_result

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import write_sample_repo  # noqa: E402
from tests.mcp_harness import HttpServer, connect  # noqa: E402
from tests.replica_topology import Team, start_team  # noqa: E402

_POLL = 0.01
_TIMEOUT = 30.0


@dataclass(slots=True)
class Sample:
    edit: int
    primary: float  # write -> the new function's row is on the primary
    standby: float  # write -> replayed on the standby
    readers: float  # write -> a keyword search finds it on every reader

    @property
    def replication(self) -> float:
        return max(0.0, self.standby - self.primary)


async def _until_row(url: str, name: str, started: float) -> float:
    conn = await asyncpg.connect(url)
    try:
        while not await conn.fetchval("SELECT count(*) FROM symbols WHERE name = $1", name):
            if time.monotonic() - started > _TIMEOUT:
                raise TimeoutError(f"{name} never reached {url}")
            await anyio.sleep(_POLL)
        return time.monotonic() - started
    finally:
        await conn.close()


async def _until_found(server: HttpServer, name: str, repository: str, started: float) -> float:
    async with connect("http", server=server) as client:
        while True:
            result = await client.call_tool("search_code", {"query": name, "mode": "keyword", "repository": repository})
            hits = (result.structured_content or {}).get("results", []) if not result.is_error else []
            if any(h["symbol"].endswith(name) for h in hits):
                return time.monotonic() - started
            if time.monotonic() - started > _TIMEOUT:
                raise TimeoutError(f"{name} never became searchable on {server.base}")
            await anyio.sleep(_POLL)


async def _clock(times: dict[str, float], key: str, waiter: Coroutine[Any, Any, float]) -> None:
    times[key] = await waiter


async def _measure(team: Team, repository: str, edits: int, pause: float) -> list[Sample]:
    samples = []
    folder = team.root / "replica_bench"
    folder.mkdir(exist_ok=True)
    primary = team.topology.primary.url()
    standby = team.topology.standby.url()
    for n in range(edits):
        name = f"replica_bench_{n}_{os.getpid()}"
        times: dict[str, float] = {}
        started = time.monotonic()
        (folder / f"edit_{n}.py").write_text(f'def {name}(value):\n    """Edit {n}."""\n    return value\n')
        async with anyio.create_task_group() as tg:
            tg.start_soon(_clock, times, "primary", _until_row(primary, name, started))
            tg.start_soon(_clock, times, "standby", _until_row(standby, name, started))
            for i, reader in enumerate(team.readers):
                tg.start_soon(_clock, times, f"reader{i}", _until_found(reader, name, repository, started))
        sample = Sample(
            n, times["primary"], times["standby"], max(v for k, v in times.items() if k.startswith("reader"))
        )
        samples.append(sample)
        print(
            f"edit {n:2d}: primary {sample.primary:.3f} s, standby {sample.standby:.3f} s, readers {sample.readers:.3f} s",
            flush=True,
        )
        await anyio.sleep(pause)
    return samples


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="a repository to copy and index (default: the sample)")
    parser.add_argument("--edits", type=int, default=20, help="how many edits to time (default 20)")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between edits (default 0.5)")
    parser.add_argument("--work-dir", type=Path, default=None, help="scratch folder (default: a new temp dir)")
    args = parser.parse_args()
    os.environ.setdefault("PGCODE_SHARED_SERVER", "false")
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="pgcode-replica-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    repository = "bench"
    if args.root is None:
        root = write_sample_repo(work / repository)
    else:
        import shutil

        root = work / repository
        shutil.copytree(args.root, root)
    before = load()
    with start_team(work, root, repository) as team:
        samples = anyio.run(_measure, team, repository, args.edits, args.pause)
    after = load()
    totals = [s.readers for s in samples]
    replication = [s.replication for s in samples]
    share = sum(replication) / sum(totals)
    rows = [
        ["on the primary (worker)", *(_quantile([s.primary for s in samples], q) for q in (0.5, 0.95))],
        ["replication (primary -> standby)", *(_quantile(replication, q) for q in (0.5, 0.95))],
        ["searchable on both readers", *(_quantile(totals, q) for q in (0.5, 0.95))],
    ]
    print(table(["seconds from the write", "p50", "p95"], rows, title=f"\n{len(samples)} edits"))
    print(f"replication share of edit -> searchable: {share:.1%} (mean {statistics.mean(replication) * 1000:.0f} ms)")
    write_result(
        "replica_latency",
        {
            "command": " ".join(["python", *sys.argv]),
            "machine": machine(),
            "load_before": before,
            "load_after": after,
            "edits": len(samples),
            "p50_seconds": round(_quantile(totals, 0.5), 3),
            "p95_seconds": round(_quantile(totals, 0.95), 3),
            "primary_p50_seconds": round(_quantile([s.primary for s in samples], 0.5), 3),
            "replication_p50_seconds": round(_quantile(replication, 0.5), 3),
            "replication_p95_seconds": round(_quantile(replication, 0.95), 3),
            "replication_share": round(share, 3),
            "samples": [asdict(s) | {"replication": s.replication} for s in samples],
        },
    )


if __name__ == "__main__":
    main()
