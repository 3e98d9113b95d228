"""Run one SCIP indexer over a repository: low priority, time and memory limits, output outside the repository."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import anyio
import psutil

from ...config import Settings
from .indexers import SCIP_PYTHON, SCIP_TYPESCRIPT, Indexer

_POLL_SECONDS = 0.25
_LOG_TAIL = 600  # characters of the indexer's output kept for a failure's message


class IndexerFailed(Exception):
    """The indexer exited with an error, ran out of time or memory, or wrote no index."""


@dataclass(frozen=True, slots=True)
class RunResult:
    index: bytes  # the index.scip file's content
    seconds: float
    peak_rss_mb: float


async def run_indexer(indexer: Indexer, executable: Path, root: Path, settings: Settings) -> RunResult:
    """Run `executable` over `root` and return the index it wrote. The work folder is a fresh temporary
    one outside the repository, removed afterwards; nothing is written into the repository."""
    with tempfile.TemporaryDirectory(prefix="pgcode-scip-", dir=_work_parent(root, settings)) as tmp:
        work = Path(tmp)
        output = work / "index.scip"
        command = [str(executable), *_arguments(indexer, root, work, output)]
        log_path = work / "indexer.log"
        started = time.monotonic()
        with log_path.open("wb") as log:
            peak, code, stopped = await _supervise(command, root, log, settings)
        seconds = time.monotonic() - started
        if stopped is not None:
            raise IndexerFailed(f"{indexer.name} {stopped} and was stopped: {_tail(log_path)}")
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            raise IndexerFailed(f"{indexer.name} {how}: {_tail(log_path)}")
        try:
            data = output.read_bytes()
        except OSError:
            raise IndexerFailed(f"{indexer.name} wrote no index: {_tail(log_path)}") from None
        return RunResult(data, seconds, peak / 2**20)


def _work_parent(root: Path, settings: Settings) -> str | None:
    """The system's temporary folder, unless the repository is in it (then the cache dir)."""
    system = Path(tempfile.gettempdir()).resolve()
    if system == root or system.is_relative_to(root):
        parent = settings.cache_dir / "scip-runs"
        parent.mkdir(parents=True, exist_ok=True)
        return str(parent)
    return None


def _arguments(indexer: Indexer, root: Path, work: Path, output: Path) -> list[str]:
    if indexer is SCIP_TYPESCRIPT:
        args = ["index", "--cwd", str(root), "--output", str(output), "--no-progress-bar"]
        if (root / "jsconfig.json").is_file() and not (root / "tsconfig.json").is_file():
            args.append(str(root / "jsconfig.json"))  # a JavaScript project's own settings (allowJs implied)
        elif not (root / "tsconfig.json").is_file():
            # --infer-tsconfig would write a tsconfig.json into the repository: ours goes in the
            # work folder instead, and takes in every JavaScript and TypeScript file under the root.
            config = work / "tsconfig.json"
            config.write_text(
                json.dumps(
                    {
                        "compilerOptions": {"allowJs": True, "noEmit": True},
                        "include": [f"{root}/**/*"],
                        "exclude": [f"{root}/**/node_modules"],
                    }
                )
            )
            args.append(str(config))
        return args
    if indexer is SCIP_PYTHON:
        # An empty environment: otherwise scip-python runs pip to list the installed packages
        # (seconds, and a look outside the repository) to name the external symbols pgcode skips.
        environment = work / "environment.json"
        environment.write_text("[]")
        return [
            "index",
            "--cwd",
            str(root),
            "--project-name",
            root.name or "repository",
            "--project-version",
            "0",
            "--environment",
            str(environment),
            "--output",
            str(output),
            "--quiet",
        ]
    raise ValueError(f"no command line for {indexer.name}")


async def _supervise(command: list[str], root: Path, log: BinaryIO, settings: Settings) -> tuple[int, int, str | None]:
    """Run the command to its end, at the lowest priority, killed past the time or memory limit or
    when the pass is cancelled. Returns the peak resident bytes, the exit code (-signal when killed)
    and, when a limit stopped it, which."""
    limit = settings.compiler_pass_memory_mb * 2**20
    env = {k: v for k, v in os.environ.items() if not k.startswith("PGCODE_")}  # no database URL or tokens
    # Node's heap stops short of the limit with an error of its own rather than the kernel's kill.
    env["NODE_OPTIONS"] = f"--max-old-space-size={max(256, settings.compiler_pass_memory_mb * 3 // 4)}"
    process = subprocess.Popen(
        command,
        cwd=root,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed whole, with any children
    )
    # Priority and address-space limit are set from here rather than in a preexec_fn (unsafe in a
    # process running threads); the indexer has barely started when they apply.
    try:
        child = psutil.Process(process.pid)
        child.nice(19)
        # Twice the heap limit in address space: Node maps far more than it touches.
        child.rlimit(psutil.RLIMIT_AS, (limit * 2, limit * 2))
    except psutil.Error:
        pass  # it already exited: its exit code tells
    deadline = time.monotonic() + settings.compiler_pass_timeout_seconds
    peak = 0
    try:
        while process.poll() is None:
            rss = _tree_rss(process.pid)
            peak = max(peak, rss)
            stopped = None
            if rss > limit:
                stopped = f"used more than compiler_pass_memory_mb ({settings.compiler_pass_memory_mb} MB)"
            elif time.monotonic() > deadline:
                stopped = f"ran longer than compiler_pass_timeout_seconds ({settings.compiler_pass_timeout_seconds} s)"
            if stopped is not None:
                _kill(process)
                process.wait()
                return peak, process.returncode, stopped
            await anyio.sleep(_POLL_SECONDS)
    except BaseException:
        _kill(process)
        process.wait()
        raise
    return peak, process.returncode, None


def _tree_rss(pid: int) -> int:
    try:
        parent = psutil.Process(pid)
        return parent.memory_info().rss + sum(c.memory_info().rss for c in parent.children(recursive=True))
    except psutil.Error:
        return 0


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass


def _tail(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return "no output"
    text = " ".join(text.split())
    return (text[-_LOG_TAIL:] if len(text) > _LOG_TAIL else text) or "no output"
