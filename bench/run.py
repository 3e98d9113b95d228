"""Run every benchmark in bench/, one at a time, and write bench/results/summary.json.

Runs retrieval.py (all five corpora), graph_precision.py, embed_cost.py, speed.py, edit_latency.py,
replica_latency.py, root_notes.py,
load.py, hostile_repos.py, answer_sizes.py and scale.py, each in its own process with its default arguments (heavy jobs never
overlap: the machine is shared). A script whose command line requires a folder (an argparse "required" error) is
re-run with a scratch copy of the Requests corpus, or with what --args gives it. Child processes
get PGCODE_DATA_DIR=<data dir> and no PGCODE_DATABASE_URL, so nothing touches the user's index.

    python bench/run.py                         # everything, defaults
    python bench/run.py --only retrieval --only graph_precision
    python bench/run.py --skip scale            # all but the 1M-chunk run (~45 min on 2 cores)
    python bench/run.py --args edit_latency="/path/to/repo --edits 10"

Prints one table per benchmark and the machine load (uptime) around each.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import corpora
from _common import load, machine, table

BENCH = Path(__file__).resolve().parent
TAKES_DATA_DIR = [
    "retrieval",
    "graph_precision",
    "answer_sizes",
    "embed_cost",
]  # the rest read PGCODE_DATA_DIR from the environment
SCRIPTS = [
    *TAKES_DATA_DIR,
    "speed",
    "edit_latency",
    "replica_latency",
    "root_notes",
    "load",
    "hostile_repos",
    "answer_sizes",
    "scale",
]
SCRATCH = corpora.CACHE / "scratch"


def _new_results(stem: str, since: float) -> list[Path]:
    if not corpora.RESULTS.exists():
        return []
    found = [
        p
        for p in corpora.RESULTS.glob(f"{stem}*.json")
        if p.stat().st_mtime >= since and not p.name.endswith("-latest.json") and p.name != "summary.json"
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime)


def _scratch_root(corpus: str = "requests") -> Path:
    """A fresh copy of a corpus for scripts that edit the folder they are given."""
    target = SCRATCH / corpus
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(corpora.corpus_root(corpus), target)
    return target


def run_script(name: str, extra: list[str], env: dict[str, str], timeout: float | None) -> dict[str, Any]:
    script = BENCH / f"{name}.py"
    started_wall = time.time()
    started = time.perf_counter()
    before = load()
    command = [sys.executable, str(script), *extra]
    print(f"\n=== {name}: {' '.join(shlex.quote(c) for c in command[1:])}   [{before['uptime']}]", flush=True)
    proc = _run(command, env, timeout)
    if proc["returncode"] == 2 and "required" in proc["stderr"] and not extra:
        # argparse: a required argument (a folder) is missing -> give it a scratch corpus.
        command = [sys.executable, str(script), str(_scratch_root())]
        print(f"    {name} needs a folder: re-running as {' '.join(shlex.quote(c) for c in command[1:])}", flush=True)
        proc = _run(command, env, timeout)
    after = load()
    files = _new_results(name, started_wall - 1)
    payloads = []
    for f in files:
        try:
            payloads.append({"file": str(f.relative_to(BENCH.parent)), "data": json.loads(f.read_text())})
        except (OSError, json.JSONDecodeError):
            payloads.append({"file": str(f), "data": None})
    return {
        "name": name,
        "command": " ".join(shlex.quote(c) for c in command),
        "returncode": proc["returncode"],
        "seconds": round(time.perf_counter() - started, 1),
        "load_before": before,
        "load_after": after,
        "results": payloads,
        "stdout_tail": proc["stdout"][-4000:],
        "stderr_tail": proc["stderr"][-2000:],
    }


def _run(command: list[str], env: dict[str, str], timeout: float | None) -> dict[str, Any]:
    out: list[str] = []
    try:
        proc = subprocess.Popen(
            command, env=env, cwd=BENCH.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    except OSError as exc:
        return {"returncode": -1, "stdout": "", "stderr": str(exc)}
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout if timeout else None
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    for line in proc.stdout:  # stream the child's own progress and tables
        print("    " + line, end="", flush=True)
        out.append(line)
        if deadline and time.monotonic() > deadline:
            proc.kill()
            break
    returncode = proc.wait()
    reader.join(timeout=5)
    return {"returncode": returncode, "stdout": "".join(out), "stderr": "".join(err)}


def print_summary(runs: list[dict[str, Any]]) -> None:
    print("\n" + "=" * 100)
    for run in runs:
        name = run["name"]
        head = (
            f"{name}: exit {run['returncode']}, {run['seconds']} s, load1 {run['load_before']['load1']}"
            f" -> {run['load_after']['load1']}"
        )
        print("\n" + head)
        data = run["results"][-1]["data"] if run["results"] else None
        if data is None:
            print("  (no result file)" + (f"\n  stderr: {run['stderr_tail'][-500:]}" if run["returncode"] else ""))
            continue
        if name == "retrieval":
            import retrieval

            retrieval.print_tables(data["corpora"])
        elif name == "graph_precision":
            import graph_precision

            graph_precision.print_tables(data["corpora"])
        else:
            rows = [[k, v] for k, v in _scalars(data)]
            print(table(["field", "value"], rows[:40], title=f"{name} ({run['results'][-1]['file']})"))


def _scalars(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flattened scalar fields of another script's JSON (lists of records are summarised by length)."""
    out: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                out += _scalars(v, key + ".")
            elif isinstance(v, list):
                out.append((key, f"[{len(v)} items]"))
            else:
                out.append((key, v))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="run just these (repeatable): " + ", ".join(SCRIPTS))
    parser.add_argument("--skip", action="append", default=[], help="skip these (repeatable)")
    parser.add_argument(
        "--args",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="arguments for one script, e.g. graph_precision=\"--functions 100\"",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=corpora.DEFAULT_DATA_DIR,
        help=f"embedded PostgreSQL for every child (default {corpora.DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds per script (default: none)")
    args = parser.parse_args()

    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, _, value = item.partition("=")
        extra[name.removesuffix(".py")] = shlex.split(value)
    if "retrieval" not in extra:  # every corpus, Django included (the first run embeds ~16k chunks)
        extra["retrieval"] = [a for c in corpora.CORPORA for a in ("--corpus", c)]
    if "edit_latency" not in extra and (not args.only or "edit_latency" in args.only):
        extra["edit_latency"] = [str(_scratch_root("django")), "--edits", "40"]
    data_dir = args.data_dir.expanduser().resolve()
    for name in TAKES_DATA_DIR:
        if "--data-dir" not in extra.get(name, []):
            extra.setdefault(name, []).extend(["--data-dir", str(data_dir)])

    env = {k: v for k, v in os.environ.items() if k != "PGCODE_DATABASE_URL"}
    env["PGCODE_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH), env.get("PYTHONPATH", "")]))

    wanted = [n for n in SCRIPTS if (BENCH / f"{n}.py").exists()]
    if args.only:
        wanted = [n for n in wanted if n in {o.removesuffix(".py") for o in args.only}]
    wanted = [n for n in wanted if n not in {s.removesuffix(".py") for s in args.skip}]
    missing = [n for n in SCRIPTS if not (BENCH / f"{n}.py").exists()]

    started = time.perf_counter()
    runs = []
    for name in wanted:
        runs.append(run_script(name, extra.get(name, []), env, args.timeout))
    print_summary(runs)
    summary = {
        "benchmark": "summary",
        "command": " ".join(sys.argv),
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "data_dir": str(data_dir),
        "not_present": missing,
        "runs": runs,
    }
    corpora.RESULTS.mkdir(parents=True, exist_ok=True)
    path = corpora.RESULTS / "summary.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    tmp.replace(path)
    print(f"\nwrote {path}")
    if missing:
        print(f"not present (skipped): {', '.join(m + '.py' for m in missing)}")
    if any(r["returncode"] != 0 for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
