"""Peak memory of `pgcode index` on a small Python repository and of `pgcode serve` once started.

    python bench/rss.py --data-dir /tmp/rss-db                 # requests 2.32.3's package
    PYTHONPATH=/path/to/other/checkout python bench/rss.py ...   # the same for another version

The index is cold for parsing (the repository is removed first; vectors cached by content are
reused, so the model's inference is not what is measured). Python processes are sampled every
20 ms: the largest one and all of them together (parse workers); the embedded PostgreSQL is not
counted. The server's figure is its peak (VmHWM) after start-up and one tool call over stdio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpora  # noqa: E402
from _common import load, machine, table, write_result  # noqa: E402

_MB = 2**20


def _env() -> dict[str, str]:
    code = os.environ.get("PYTHONPATH") or str(Path(__file__).resolve().parent.parent)
    return {**os.environ, "PYTHONPATH": code, "PGCODE_SHARED_SERVER": "false"}


def _pgcode(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "mcp_server", "--data-dir", str(data_dir), *args]


def index_peak(data_dir: Path, repo: Path) -> dict[str, float]:
    """Peak RSS of a parse-cold `pgcode index` (after one warm-up run that creates the database)."""
    subprocess.run(_pgcode(data_dir, "index", str(repo)), env=_env(), capture_output=True, check=True)
    subprocess.run(_pgcode(data_dir, "remove", repo.name), env=_env(), capture_output=True, check=True)
    proc = subprocess.Popen(
        _pgcode(data_dir, "index", str(repo)), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    top = psutil.Process(proc.pid)
    largest = together = 0
    while proc.poll() is None:
        try:
            rss = [p.memory_info().rss for p in [top, *top.children(recursive=True)] if "python" in p.name().lower()]
        except psutil.Error:
            continue
        if rss:
            largest, together = max(largest, max(rss)), max(together, sum(rss))
        time.sleep(0.02)
    return {"index_largest_process_mb": round(largest / _MB, 1), "index_python_processes_mb": round(together / _MB, 1)}


async def serve_peak(data_dir: Path) -> dict[str, float]:
    from mcp import Client, StdioServerParameters

    env = _env()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "--data-dir", str(data_dir), "serve", "--no-watch"],
        env={"PYTHONPATH": env["PYTHONPATH"], "PGCODE_SHARED_SERVER": "false"},
    )
    async with Client(params, read_timeout_seconds=120) as client:
        await client.call_tool("list_repositories", {})
        servers = [p for p in psutil.Process().children(recursive=True) if "python" in p.name().lower()]
        peaks = []
        for p in servers:
            with open(f"/proc/{p.pid}/status", encoding="ascii") as status:
                peaks.append(next(int(line.split()[1]) for line in status if line.startswith("VmHWM")))
    return {"serve_startup_peak_mb": round(max(peaks) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="requests")
    parser.add_argument("--data-dir", type=Path, default=corpora.DEFAULT_DATA_DIR)
    args = parser.parse_args()
    corpus = corpora.get(args.corpus)
    before = load()
    with tempfile.TemporaryDirectory(prefix="pgcode-rss-") as tmp:
        # Only the package's code: a Python-only repository.
        repo = Path(tmp) / f"rss-{corpus.name}"
        shutil.copytree(corpora.corpus_root(corpus.name), repo)
        figures: dict[str, Any] = index_peak(args.data_dir, repo)
    figures |= anyio.run(serve_peak, args.data_dir)
    print(table(["figure", "MB"], sorted(figures.items()), title=f"peak RSS, {corpus.requirement}"))
    payload = {"corpus": corpus.requirement, "load_before": before, "load_after": load(), "machine": machine()}
    print("wrote", write_result("rss", {**payload, "figures": figures}, corpus.name))


if __name__ == "__main__":
    main()
