"""The credential filter's cost on a real corpus: how fast the content check reads text, what it
redacts there (a real corpus has next to no secrets: every redaction is worth a look), and a cold
index (lexical + graph, no vectors) with redaction on and off, alternated.

    python bench/credential_filter.py                    # Django 5.1.4's package, 3 runs each way
    python bench/credential_filter.py --corpus requests --runs 5
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora
from _common import (
    add_database_arguments,
    claim_repository,
    load,
    machine,
    settings_for,
    table,
    write_result,
)

from mcp_server.db.pool import open_database
from mcp_server.index.discover import discover
from mcp_server.index.secrets import redact
from mcp_server.indexer.pipeline import index_repository


def scan(root: Path, rounds: int) -> dict[str, Any]:
    """The content check alone over every file discovery keeps, best of `rounds`."""
    found = discover(root, 1_000_000)
    texts = {f.path: (root / f.path).read_text("utf-8", errors="replace") for f in found.files}
    total = sum(len(t.encode("utf-8")) for t in texts.values())
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        results = {path: redact(text) for path, text in texts.items()}
        best = min(best, time.perf_counter() - started)
    labels: Counter[str] = Counter()
    redacted = []
    for path, result in results.items():
        if result.secrets:
            lines = [line.strip()[:160] for line in result.text.splitlines() if "[REDACTED:" in line]
            redacted.append({"path": path, "secrets": result.secrets, "lines": lines})
            for line in lines:
                labels.update(part.split("]", 1)[0] for part in line.split("[REDACTED:")[1:])
    return {
        "files": len(texts),
        "mb": round(total / 1e6, 2),
        "seconds": round(best, 3),
        "mb_per_s": round(total / 1e6 / best, 1),
        "us_per_file": round(best / len(texts) * 1e6, 1),
        "files_redacted": len(redacted),
        "labels": dict(labels),
        "redacted": redacted,
    }


async def index_runs(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Cold passes, redaction on and off in turn (so load on the machine hits both alike)."""
    base = settings_for(args.data_dir, args.database_url)
    seconds: dict[str, list[float]] = {"on": [], "off": []}
    async with open_database(base) as db:
        for _ in range(args.runs):
            for mode in ("on", "off"):
                settings = dataclasses.replace(base, redact_secrets=mode == "on")
                await claim_repository(db, "bench-secrets", root, fresh=True)
                started = time.perf_counter()
                await index_repository(db, settings, root, name="bench-secrets")
                seconds[mode].append(round(time.perf_counter() - started, 2))
        await claim_repository(db, "bench-secrets", root, fresh=True)
    on, off = statistics.median(seconds["on"]), statistics.median(seconds["off"])
    return {"runs": seconds, "median_on_s": on, "median_off_s": off, "overhead_pct": round((on - off) / off * 100, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django", choices=sorted(corpora.CORPORA))
    parser.add_argument("--runs", type=int, default=3, help="cold index passes each way (default 3)")
    add_database_arguments(parser)
    args = parser.parse_args()
    root = corpora.private_root(args.corpus, "secrets")
    before = load()
    content = scan(root, rounds=3)
    indexing = anyio.run(index_runs, args, root)
    print(
        table(
            ["files", "MB", "scan s", "MB/s", "µs/file", "files redacted"],
            [
                [
                    content["files"],
                    content["mb"],
                    content["seconds"],
                    content["mb_per_s"],
                    content["us_per_file"],
                    content["files_redacted"],
                ]
            ],
            title=f"content check on {args.corpus}",
        )
    )
    for item in content["redacted"]:
        print(f"  {item['path']}: {item['secrets']}  {item['lines'][:2]}")
    print()
    print(
        table(
            ["redaction", "runs (s)", "median s"],
            [
                ["on", " ".join(map(str, indexing["runs"]["on"])), indexing["median_on_s"]],
                ["off", " ".join(map(str, indexing["runs"]["off"])), indexing["median_off_s"]],
            ],
            title=f"cold index (lexical + graph): overhead {indexing['overhead_pct']} %",
        )
    )
    path = write_result(
        "credential_filter",
        {
            "corpus": args.corpus,
            "content_check": content,
            "index": indexing,
            "machine": machine(),
            "load_before": before,
            "load_after": load(),
        },
        label=args.corpus,
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
