"""Hostile repositories at full size: 100K and 200K tiny files, 100 MB files, a million lines, deep
nesting, 5 MB nested expressions, minified bundles. Each is indexed (lexical + graph) by a child
process; the figures are wall time, files/s and the peak RSS of that process and its parse workers.
Meanwhile another client keeps searching another repository of the same database through a
read-only `pgcode serve` (the SDK's client over streamable HTTP): its latency and errors are the
figures of "other clients keep answering".

    python bench/hostile_repos.py                       # every case
    python bench/hostile_repos.py --cases tiny deep     # some of them
    python bench/hostile_repos.py --files 20000         # a smaller "tiny" case
    python bench/hostile_repos.py --cases wide nested nested_calls nested_ruby --nested-mb 2
    python bench/hostile_repos.py --embed               # vectors too (slow: 100K chunks on a CPU)

Peak RSS comes two ways: wait4() on the child (the largest single process among it and the workers
it reaped) and psutil sampling every 50 ms (the child alone, the largest worker, and their sum at
one instant, which is what the machine must hold). A case that runs past --case-timeout is killed
and reported as failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.mcp_harness, for the SDK client

import corpora  # noqa: E402
import psutil  # noqa: E402
from _common import load, machine, table, write_result  # noqa: E402

if TYPE_CHECKING:
    from tests.mcp_harness import HttpServer

MB = 1024 * 1024


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path, argparse.Namespace], int]  # writes the repository, returns its file count
    max_file_bytes: int | None = None  # None: pgcode's default
    note: str = ""


def build_tiny(root: Path, args: argparse.Namespace) -> int:
    """`--files` one-function Python files."""
    return _tiny_files(root, args.files)


def build_wide(root: Path, args: argparse.Namespace) -> int:
    """`--wide-files` (200K) one-function Python files."""
    return _tiny_files(root, args.wide_files)


def _tiny_files(root: Path, count: int) -> int:
    """One-function Python files, 200 to a folder; each calls the one before it, so the resolver
    has as many edges as files to settle."""
    per_folder = 200
    for i in range(count):
        folder = root / f"pkg{i // per_folder:04d}"
        if i % per_folder == 0:
            folder.mkdir(parents=True)
        (folder / f"m{i}.py").write_text(f"def f_{i}(x):\n    return f_{max(i - 1, 0)}(x) + 1\n")
    return count


def build_huge(root: Path, args: argparse.Namespace) -> int:
    """A dense 100 MB Python file and a sparse 100 MB JavaScript one: refused by size, never read."""
    root.mkdir(parents=True)
    block = ("x = 1\n" * 10_000).encode()
    with open(root / "dense.py", "wb") as fh:
        for _ in range(100 * MB // len(block) + 1):
            fh.write(block)
    with open(root / "sparse.js", "wb") as fh:
        fh.truncate(100 * MB)
    (root / "ok.py").write_text("def fine():\n    return 1\n")
    return 3


def build_lines(root: Path, args: argparse.Namespace) -> int:
    """A million blank lines (exactly the default 1 MB limit) and a million `x = 1` lines (6 MB,
    over the limit: refused by size)."""
    root.mkdir(parents=True)
    (root / "blank.py").write_text("\n" * 1_000_000)
    (root / "short.py").write_text("x = 1\n" * 1_000_000)
    return 2


def build_lines_raised(root: Path, args: argparse.Namespace) -> int:
    """The same million `x = 1` lines with the byte limit raised to 8 MB: the cost of parsing them."""
    root.mkdir(parents=True)
    (root / "short.py").write_text("x = 1\n" * 1_000_000)
    (root / "calls.js").write_text("".join(f"f{i % 100}(x);\n" for i in range(1_000_000)))
    return 2


def build_deep(root: Path, args: argparse.Namespace) -> int:
    """Deep nesting in every parsed language, each file under the 1 MB limit."""
    deep = {
        "parens.py": "x = " + "(\n" * 100_000 + "1" + "\n)" * 100_000 + "\n",
        "defs.py": "".join(" " * i + f"def f{i}():\n" for i in range(1000)) + " " * 1000 + "pass\n",
        "arrays.js": "var x = " + "[\n" * 200_000 + "]\n" * 200_000,
        "arrays_one_line.js": "var x = " + "[" * 9000 + "]" * 9000 + ";\n",
        "funcs.js": "".join("function g%d() {\n" % i for i in range(20_000)) + "}\n" * 20_000,
        "classes.ts": "".join("class C%d { m() {\n" % i for i in range(15_000)) + "}}\n" * 15_000,
        "blocks.go": "package p\nfunc f() {\n" + "{\n" * 200_000 + "}\n" * 200_000 + "}\n",
        "blocks.rs": "fn f() {\n" + "{\n" * 200_000 + "}\n" * 200_000 + "}\n",
        "blocks.c": "int f(void) {\n" + "{\n" * 200_000 + "}\n" * 200_000 + "}\n",
        "spaces.cpp": "".join("namespace n%d {\n" % i for i in range(20_000)) + "}\n" * 20_000,
        "Nest.java": "class Nest {\n" + "".join("class N%d {\n" % i for i in range(20_000)) + "}\n" * 20_001,
        "Nest.cs": "class Nest { void F() {\n" + "{\n" * 200_000 + "}\n" * 200_000 + "}}\n",
        "mods.rb": "".join(f"module M{i}\n" for i in range(20_000)) + "end\n" * 20_000,
    }
    root.mkdir(parents=True)
    for name, text in deep.items():
        (root / name).write_text(text[:1_000_000])
    return len(deep)


def nested(
    name: str, prefix: str, opening: str, closing: str, suffix: str
) -> Callable[[Path, argparse.Namespace], int]:
    """A builder of one `--nested-mb` file holding a single expression nested as deep as that size
    allows, a level a line (one line of it would be skipped as minified)."""

    def build(root: Path, args: argparse.Namespace) -> int:
        size = int(args.nested_mb * MB)
        levels = (size - len(prefix) - len(suffix) - 1) // (len(opening) + len(closing))
        root.mkdir(parents=True)
        (root / name).write_text(prefix + opening * levels + "1" + closing * levels + suffix)
        return 1

    return build


def build_minified(root: Path, args: argparse.Namespace) -> int:
    """Generated bundles with code extensions: one 900 kB line each."""
    root.mkdir(parents=True)
    for i in range(20):
        (root / f"bundle{i}.js").write_text(f"var a{i}=function(b){{return b+1}};" * 28_000)
    return 20


CASES = {
    c.name: c
    for c in [
        Case("tiny", build_tiny, note="--files tiny files"),
        Case("tiny_again", build_tiny, note="the same tree again: a no-op pass over every file's stat"),
        Case("wide", build_wide, note="--wide-files tiny files"),
        Case("huge", build_huge, note="2 x 100 MB"),
        Case("lines", build_lines, note="1M-line files at the default limit"),
        Case("lines_raised", build_lines_raised, max_file_bytes=8 * MB, note="1M-line files, limit 8 MB"),
        Case("deep", build_deep, note="deep nesting, 13 languages"),
        # Limit 8 MB: the 5 MB files are parsed, not refused by size.
        Case(
            "nested",
            nested("parens.py", "x = ", "(\n", "\n)", "\n"),
            max_file_bytes=8 * MB,
            note="--nested-mb Python file, one parenthesised expression",
        ),
        Case(
            "nested_calls",
            nested("calls.js", "var x = ", "f(\n", ")\n", ";\n"),
            max_file_bytes=8 * MB,
            note="--nested-mb JavaScript file, one call nested in calls: a call edge a line",
        ),
        Case(
            "nested_ruby",
            nested("parens.rb", "x = ", "(\n", ")\n", "\n"),
            max_file_bytes=8 * MB,
            note="--nested-mb Ruby file, one parenthesised expression (its grammar's trees are the largest)",
        ),
        Case("minified", build_minified, note="20 one-line bundles"),
    ]
}


# ---- the child: index one root, print the report -------------------------------------------------


def child(database_url: str, root: str, name: str, max_file_bytes: int | None, embed: bool, fresh: bool) -> None:
    print(json.dumps(index_report(database_url, root, name, max_file_bytes, embed=embed, fresh=fresh)), flush=True)


def index_report(
    database_url: str, root: str, name: str, max_file_bytes: int | None, *, embed: bool, fresh: bool
) -> dict[str, Any]:
    import anyio

    from mcp_server.config import Settings
    from mcp_server.db.pool import open_database
    from mcp_server.embed.model import embedder_for
    from mcp_server.indexer.pipeline import index_repository

    overrides: dict[str, Any] = {"database_url": database_url}
    if max_file_bytes is not None:
        overrides["max_file_bytes"] = max_file_bytes
    settings = Settings.load(overrides, env={k: v for k, v in os.environ.items() if k != "PGCODE_DATABASE_URL"})

    async def run() -> dict[str, Any]:
        async with open_database(settings) as db:
            if fresh:
                async with db.pool.acquire() as conn:
                    await conn.execute("DELETE FROM repositories WHERE name = $1", name)
            embedder = embedder_for(settings) if embed else None
            report = await index_repository(db, settings, Path(root), name=name, embedder=embedder)
        return {
            "files_seen": report.files_seen,
            "files_indexed": report.files_indexed,
            "files_unchanged": report.files_unchanged,
            "skipped": dict(report.skipped),
            "edges_resolved": report.edges_resolved,
            "vectors_embedded": report.vectors_embedded,
            "stages_s": {k: round(v, 2) for k, v in report.seconds.items()},
        }

    return anyio.run(run)


# ---- the parent: build, run, measure ----------------------------------------------------------------


class Sampler:
    """Peak RSS of a process and its descendants, sampled until stopped."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid = pid
        self.every = every
        self.main_mb = 0.0
        self.worker_mb = 0.0
        self.total_mb = 0.0
        self.workers_seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            proc = psutil.Process(self.pid)
        except psutil.Error:
            return
        while not self._stop.is_set():
            try:
                main = proc.memory_info().rss / MB
                kids = []
                for kid in proc.children(recursive=True):
                    try:
                        kids.append(kid.memory_info().rss / MB)
                        self.workers_seen.add(kid.pid)
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            self.main_mb = max(self.main_mb, main)
            self.worker_mb = max([self.worker_mb, *kids])
            self.total_mb = max(self.total_mb, main + sum(kids))
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ---- another client: search_code on another repository while a case indexes ----------------------
# It runs in a process of its own, the read-only server its child: the parent must stay small, since
# wait4 counts the peak RSS of the process a child was started from as the child's.

PROBE_REPOSITORY = "hostile-probe-requests"
PROBE_QUERIES = (
    "send a prepared request through a session",
    "HTTPAdapter",
    "parse the content type header",
    "retry when the connection fails",
    "merge_setting",
    "cookies of a redirected response",
)


def probe_child(database_url: str, interval: float, timeout: float) -> None:
    """Index the requests corpus with its vectors (kept between runs, so usually a no-op pass), serve
    the database read-only over HTTP (no watcher: the cases' repositories are the cases' own) and
    search it until stdin closes; one JSON line per search on stdout."""
    import anyio

    from tests.mcp_harness import TOKEN, start_http_server

    index_report(
        database_url,
        str(corpora.private_root("requests", "hostile-probe")),
        PROBE_REPOSITORY,
        None,
        embed=True,
        fresh=False,
    )
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    logs = Path(tempfile.mkdtemp(prefix="pgcode-hostile-probe-"))
    token_file = logs / "tokens.txt"
    token_file.write_text(TOKEN + "\n")
    server = start_http_server(database_url, logs, token_file=token_file, extra_args=("--read-only",))
    try:
        anyio.run(_search, server, interval, timeout, stop)
    finally:
        server.stop()
        shutil.rmtree(logs, ignore_errors=True)


async def _search(server: HttpServer, interval: float, timeout: float, stop: threading.Event) -> None:
    """search_code every `interval` seconds through the SDK's client over streamable HTTP. A call
    past `timeout` or a broken session is an error; the client goes on."""
    import anyio

    from tests.mcp_harness import connect

    rng = random.Random(0)

    def report(started: float, error: str | None) -> None:
        print(json.dumps({"s": time.perf_counter() - started, "error": error}), flush=True)

    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with connect("http", server=server) as client:
                while not stop.is_set():
                    started = time.perf_counter()
                    error = None
                    try:
                        with anyio.fail_after(timeout):
                            result = await client.call_tool(
                                "search_code", {"query": rng.choice(PROBE_QUERIES), "repository": PROBE_REPOSITORY}
                            )
                        if result.is_error:
                            error = result.content[0].text if result.content else str(result)
                        elif not (result.structured_content or {}).get("results"):
                            error = "no results"
                    except TimeoutError:
                        error = f"no answer within {timeout:g} s"
                    report(started, error)
                    await anyio.sleep(max(0.0, interval - (time.perf_counter() - started)))
        except Exception as exc:  # noqa: BLE001 - a broken session is a measured error
            report(started, f"{type(exc).__name__}: {exc}")
            await anyio.sleep(0.5)


class Probe:
    """The other client's process seen from here: its searches as they finish; `window()` hands
    over those since the last window."""

    def __init__(self, database_url: str, args: argparse.Namespace) -> None:
        self._log = tempfile.TemporaryFile("w+")
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--probe-child",
            "--database-url",
            database_url,
            "--probe-interval",
            str(args.probe_interval),
            "--probe-timeout",
            str(args.probe_timeout),
        ]
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PGCODE_LOG_LEVEL": "warning"},
        )
        self._lock = threading.Lock()
        self._seconds: list[float] = []
        self._errors: list[str] = []
        self._answered = threading.Event()
        self._reader = threading.Thread(target=self._read, name="search-probe", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self._seconds.append(record["s"])
                if record["error"] is not None:
                    self._errors.append(record["error"][:300])
                else:
                    self._answered.set()

    def answering(self, timeout: float) -> None:
        """Wait for a first answer (the repository indexed, the model loaded), then start afresh."""
        deadline = time.monotonic() + timeout
        while not self._answered.wait(0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self._log.seek(0)
                raise SystemExit(
                    f"the other client never got an answer: {self._errors[-3:]}\n{self._log.read()[-3000:]}"
                )
        self.window()

    def window(self) -> dict[str, Any]:
        with self._lock:
            seconds, errors = self._seconds, self._errors
            self._seconds, self._errors = [], []
        ms = [x * 1000 for x in seconds]
        p95 = statistics.quantiles(ms, n=20, method="inclusive")[18] if len(ms) > 1 else max(ms, default=None)
        return {
            "calls": len(ms),
            "errors": len(errors),
            "p50_ms": _ms(statistics.median(ms) if ms else None),
            "p95_ms": _ms(p95),
            "max_ms": _ms(max(ms, default=None)),
            "first_errors": errors[:3],
        }

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # its stop signal; it stops its server
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


@contextmanager
def other_client(database_url: str, args: argparse.Namespace) -> Iterator[Probe]:
    probe = Probe(database_url, args)
    try:
        probe.answering(600)  # a first run embeds the corpus
        yield probe
    finally:
        probe.stop()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _latency_row(w: dict[str, Any]) -> tuple[Any, ...]:
    return w["calls"], w["errors"], w["p50_ms"], w["p95_ms"], w["max_ms"]


def _latency(w: dict[str, Any]) -> str:
    return (
        f"{w['calls']} searches, {w['errors']} errors, p50 {w['p50_ms']} ms, p95 {w['p95_ms']} ms,"
        f" max {w['max_ms']} ms" + (f" ({w['first_errors'][0]})" if w["first_errors"] else "")
    )


def run_case(case: Case, work: Path, database_url: str, args: argparse.Namespace, probe: Probe) -> dict[str, Any]:
    root = work / ("tiny" if case.name == "tiny_again" else case.name)
    built = time.perf_counter()
    if case.name == "tiny_again":
        files = args.files
    else:
        shutil.rmtree(root, ignore_errors=True)
        files = case.build(root, args)
    build_s = time.perf_counter() - built
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--database-url",
        database_url,
        "--root",
        str(root),
        "--name",
        f"hostile-{case.name.removesuffix('_again')}",
    ]
    if case.max_file_bytes is not None:
        command += ["--max-file-bytes", str(case.max_file_bytes)]
    if args.embed:
        command.append("--embed")
    if case.name != "tiny_again":
        command.append("--fresh")
    load_before = load()
    probe.window()  # what it saw while the case was built is not the case's
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PGCODE_LOG_LEVEL": "warning"},
    )
    timed_out = threading.Event()

    def kill() -> None:  # its parse workers exit with it
        timed_out.set()
        process.kill()

    killer = threading.Timer(args.case_timeout, kill)
    killer.start()
    sampler = Sampler(process.pid)
    out: list[str] = []
    err: list[str] = []
    readers = [
        threading.Thread(target=lambda s, sink: sink.extend(s), args=(stream, sink), daemon=True)
        for stream, sink in ((process.stdout, out), (process.stderr, err))
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    killer.cancel()
    searched = probe.window()
    sampler.stop()
    for reader in readers:
        reader.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        why = f"killed after {args.case_timeout:g} s" if timed_out.is_set() else f"exit {process.returncode}"
        raise SystemExit(f"case {case.name} failed ({why}):\n{''.join(err)[-4000:]}")
    report = json.loads(out[-1])
    return {
        "case": case.name,
        "note": case.note,
        "files_on_disk": files,
        "build_s": round(build_s, 1),
        "wall_s": round(wall, 2),
        "files_per_s": round(files / wall, 1) if wall else None,
        "peak_rss_mb_wait4": round(usage.ru_maxrss / 1024, 1),
        "peak_rss_mb_main": round(sampler.main_mb, 1),
        "peak_rss_mb_worker": round(sampler.worker_mb, 1),
        "peak_rss_mb_total": round(sampler.total_mb, 1),
        "workers": len(sampler.workers_seen),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "load_before": load_before["load1"],
        "load_after": load()["load1"],
        "other_client": searched,
        **report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--files", type=int, default=100_000, help="files in the 'tiny' case")
    parser.add_argument("--wide-files", type=int, default=200_000, help="files in the 'wide' case")
    parser.add_argument("--nested-mb", type=float, default=5.0, help="size of each 'nested' case's file")
    parser.add_argument("--case-timeout", type=float, default=900.0, help="seconds before a case is killed")
    parser.add_argument("--probe-interval", type=float, default=0.5, help="seconds between the other client's searches")
    parser.add_argument(
        "--probe-timeout",
        type=float,
        default=30.0,
        help="seconds after which the other client counts a search as failed",
    )
    parser.add_argument(
        "--idle-seconds",
        type=float,
        default=15.0,
        help="the other client's searches measured before any case, for comparison",
    )
    parser.add_argument("--embed", action="store_true", help="compute vectors too")
    parser.add_argument(
        "--data-dir", type=Path, default=corpora.DEFAULT_DATA_DIR, help="the benchmarks' embedded PostgreSQL"
    )
    parser.add_argument("--database-url", help="index into this PostgreSQL instead")
    parser.add_argument("--work-dir", type=Path, help="where to build the repositories (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the built repositories and their index")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--name", help=argparse.SUPPRESS)
    parser.add_argument("--max-file-bytes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database_url, args.root, args.name, args.max_file_bytes, args.embed, args.fresh)
        return
    if args.probe_child:
        probe_child(args.database_url, args.probe_interval, args.probe_timeout)
        return

    from mcp_server.db.embedded import EmbeddedPostgres

    # The parent owns the database, so the children's figures are pgcode's alone, not PostgreSQL's.
    server = None if args.database_url else EmbeddedPostgres(args.data_dir.expanduser().resolve())
    database_url = args.database_url or server.start()  # type: ignore[union-attr]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="pgcode-hostile-"))
    before = load()
    results: list[dict[str, Any]] = []
    try:
        order = [c for c in CASES if c in args.cases]
        if "tiny_again" in order and "tiny" not in order:
            order.insert(order.index("tiny_again"), "tiny")
        with other_client(database_url, args) as probe:
            time.sleep(args.idle_seconds)
            idle = probe.window()
            print(f"other client, nothing indexing: {_latency(idle)}", file=sys.stderr, flush=True)
            for name in order:
                print(f"case {name} ...", file=sys.stderr, flush=True)
                results.append(run_case(CASES[name], work, database_url, args, probe))
                r = results[-1]
                print(
                    f"  {r['wall_s']} s, {r['peak_rss_mb_total']} MB total peak, skipped {r['skipped']};"
                    f" other client {_latency(r['other_client'])}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
            _forget(database_url, [f"hostile-{n}" for n in CASES])
        if server is not None:
            server.stop()
    rows = [
        (
            r["case"],
            r["files_on_disk"],
            r["files_indexed"],
            r["wall_s"],
            r["files_per_s"],
            r["peak_rss_mb_main"],
            r["peak_rss_mb_worker"],
            r["peak_rss_mb_total"],
            r["peak_rss_mb_wait4"],
            r["load_before"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["skipped"].items())) or "-",
        )
        for r in results
    ]
    print(
        table(
            [
                "case",
                "files",
                "indexed",
                "wall s",
                "files/s",
                "main MB",
                "worker MB",
                "total MB",
                "wait4 MB",
                "load",
                "skipped",
            ],
            rows,
            title="hostile repositories (lexical + graph" + (" + vectors)" if args.embed else ")"),
        )
    )
    other = [("(nothing indexing)", *_latency_row(idle))] + [
        (r["case"], *_latency_row(r["other_client"])) for r in results
    ]
    print(
        table(
            ["while indexing", "searches", "errors", "p50 ms", "p95 ms", "max ms"],
            other,
            title=f"the other client: search_code on {PROBE_REPOSITORY} every {args.probe_interval:g} s",
        )
    )
    payload = {
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "embed": args.embed,
        "files": args.files,
        "wide_files": args.wide_files,
        "nested_mb": args.nested_mb,
        "probe": {
            "repository": PROBE_REPOSITORY,
            "interval_s": args.probe_interval,
            "timeout_s": args.probe_timeout,
            "idle": idle,
        },
        "cases": results,
    }
    print("wrote", write_result("hostile_repos", payload))


def _forget(database_url: str, names: list[str]) -> None:
    """Drop the benchmark's repositories from the index (the trees are gone)."""
    import anyio
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute("DELETE FROM repositories WHERE name = ANY($1::text[])", names)
        finally:
            await conn.close()

    anyio.run(drop)


if __name__ == "__main__":
    main()
