"""Helpers shared by the bench/ scripts: the benchmarks' own database, machine load, tables, JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpora import DEFAULT_DATA_DIR, RESULTS

from mcp_server.config import Settings
from mcp_server.indexer import repositories
from mcp_server.indexer.precise.compiler import compiler_pass


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --database-url, read by settings_for."""
    parser.add_argument(
        "--data-dir", type=Path, default=None, help=f"the benchmarks' embedded PostgreSQL (default {DEFAULT_DATA_DIR})"
    )
    parser.add_argument("--database-url", default=None, help="use this PostgreSQL instead of an embedded one")


def settings_for(data_dir: Path | None, database_url: str | None = None) -> Settings:
    """Settings on the benchmarks' own embedded server (bench/.data by default), or on a given URL.
    The environment's PGCODE_DATABASE_URL is deliberately ignored: a benchmark must never write
    into the user's index by accident."""
    data_dir = (data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
    return Settings.load(
        {"data_dir": str(data_dir), "database_url": database_url},
        env={k: v for k, v in os.environ.items() if k != "PGCODE_DATABASE_URL"},
    )


def load() -> dict[str, Any]:
    """The machine's load right now: `uptime`'s text plus the numbers (other jobs share the box)."""
    try:
        text = subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        text = ""
    one, five, fifteen = os.getloadavg()
    return {
        "uptime": text,
        "load1": round(one, 2),
        "load5": round(five, 2),
        "load15": round(fifteen, 2),
        "cpus": os.cpu_count(),
    }


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "code": code_version(),
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and whether mcp_server/ had uncommitted changes (others edit in parallel)."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "mcp_server"], cwd=repo, capture_output=True, text=True, timeout=10
        ).stdout.split("\n")
        return {"commit": head or None, "mcp_server_modified": sorted(line[3:] for line in dirty if line.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "mcp_server_modified": None}


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def write_result(kind: str, payload: dict[str, Any], label: str = "") -> Path:
    """The full result as bench/results/<kind>[-label]-<utc stamp>.json (kept out of git), and its
    summary as <kind>-latest.json (kept in git): both written atomically. Returns the full file."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{kind}{'-' + label if label else ''}-{stamp()}.json"
    _write_json(path, payload)
    _write_json(RESULTS / f"{kind}-latest.json", {**summary(payload), "full_result": path.name})
    return path


# A list longer than this in a result is per-query or per-sample detail: the summary keeps its
# length, the full file keeps the items.
SUMMARY_MAX_ITEMS = 40


def summary(value: Any) -> Any:
    """`value` with every long list replaced by a note of its length."""
    if isinstance(value, dict):
        return {k: summary(v) for k, v in value.items()}
    if isinstance(value, list):
        if len(value) > SUMMARY_MAX_ITEMS:
            return f"{len(value)} items: in the full result file"
        return [summary(v) for v in value]
    return value


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n")
    tmp.replace(path)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> str:
    """A plain fixed-width table (numbers right-aligned)."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    numeric = [all(_is_number(row[i]) for row in rows if i < len(row)) and bool(rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values))

    out = [title] if title else []
    out += [line(list(headers)), "  ".join("-" * w for w in widths)]
    out += [line(row) for row in cells]
    return "\n".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) or value is None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class Timer:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 2)


async def claim_repository(db: Any, name: str, root: Path, fresh: bool) -> None:
    """Make way for indexing `root` as `name`: drop a benchmark repository of that name registered
    for another folder (an older layout of bench/corpora) and, when `fresh`, the repository itself,
    so the figures measure the current parser and resolver (an unchanged file is never re-parsed
    otherwise). Vectors survive: they are cached by chunk text, so only changed chunks re-embed."""
    async with db.pool.acquire() as conn:
        if fresh:
            await conn.execute("DELETE FROM repositories WHERE name = $1 OR root_path = $2", name, str(root.resolve()))
        else:
            await conn.execute(
                "DELETE FROM repositories WHERE name = $1 AND root_path <> $2", name, str(root.resolve())
            )


def add_compiler_pass_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--compiler-pass",
        action="store_true",
        help="run the compiler pass (scip-typescript / scip-python from .ci/npm, else PATH) after indexing",
    )


async def compiler_pass_summary(db: Any, settings: Any, repo: str) -> dict[str, Any]:
    """The compiler pass over the indexed corpus, with the indexers .ci/run installs (else PATH)."""
    tools = Path(__file__).resolve().parent.parent / ".ci" / "npm" / "node_modules" / ".bin"
    found = {
        key: str(tools / name)
        for key, name in (("scip_typescript", "scip-typescript"), ("scip_python", "scip-python"))
        if (tools / name).is_file()
    }
    async with db.pool.acquire() as conn:
        repository = await repositories.find(conn, repo)
    statuses = await compiler_pass(db, dataclasses.replace(settings, **found), repository)
    for s in statuses:
        print(f"[{repo}] compiler pass {s.indexer}: {s.sentence()}", flush=True)
    return {
        s.indexer: {
            "state": s.state,
            "error": s.error,
            "seconds": round(s.seconds, 1) if s.seconds is not None else None,
            "peak_rss_mb": round(s.peak_rss_mb) if s.peak_rss_mb is not None else None,
            "edges": {
                "confirmed": s.edges_confirmed,
                "corrected": s.edges_corrected,
                "added": s.edges_added,
                "dropped": s.edges_dropped,
            },
        }
        for s in statuses
    }
