"""Concurrent MCP load on real pgcode processes: SDK clients over SSE and streamable HTTP, live edits and indexing, lease and deadlock watch.

Shared by bench/load.py (60 s, figures) and tests/test_load.py (a short run, assertions).
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx2

from mcp_server.indexer.lease import LOCK_CLASS
from tests.mcp_harness import HttpServer, connect, free_port, server_env, start_http_server

READY_SECONDS = 120
# Read tools and how often a client calls each: searches and the graph, as an assistant would.
MIX: dict[str, int] = {
    "search_code": 24,
    "find_symbol": 10,
    "find_callers": 10,
    "find_references": 9,
    "find_callees": 8,
    "get_symbol": 8,
    "call_path": 5,
    "impact_analysis": 5,
    "file_outline": 5,
    "grep": 4,
    "goto_definition": 4,
    "get_dependencies": 2,
    "get_dependents": 2,
    "repo_map": 1,
    "index_status": 1,
    "list_repositories": 1,
}


# --- processes ----------------------------------------------------------------------------------


@dataclass
class Cluster:
    """Two HTTP servers and a worker on one database, each accepting the same bearer tokens."""

    servers: list[HttpServer]
    worker: HttpServer
    tokens: list[str]

    @property
    def processes(self) -> list[HttpServer]:
        return [*self.servers, self.worker]

    def stop(self) -> None:
        for p in self.processes:
            p.stop()

    def log_problems(self) -> list[str]:
        """Tracebacks in the processes' logs (one line each, with the log it came from)."""
        found = []
        for p in self.processes:
            text = p.log.read_text(errors="replace")
            found += [f"{p.log.name}: {line}" for line in text.splitlines() if "Traceback" in line]
        return found


def _wait(process: HttpServer, path: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise RuntimeError(f"{process.log.name} exited: {process.log.read_text()[-3000:]}")
        try:
            if httpx2.get(f"{process.base}{path}", timeout=3).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{process.base}{path} not ready within {READY_SECONDS}s: {process.log.read_text()[-3000:]}")


def start_worker(dsn: str, log_dir: Path, *, token_file: Path) -> HttpServer:
    port = free_port()
    log = log_dir / f"worker-{port}.log"
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mcp_server",
                "--database-url",
                dsn,
                "worker",
                "--metrics-port",
                str(port),
                "--token-file",
                str(token_file),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(),
        )
    return HttpServer(process, port, log)


@contextmanager
def cluster(
    dsn: str, log_dir: Path, tokens: Sequence[str], *, index_roots: Sequence[Path], servers: int = 2
) -> Iterator[Cluster]:
    """Start the servers and the worker (watching, read-write: they compete for each repository's
    lease), wait until each is ready (database, migrations, model), stop them all on exit. The
    clients' tokens are read-only; the last (the writer's) is admin and may index `index_roots`."""
    token_file = log_dir / "load-tokens.txt"
    token_file.write_text("".join(f"{t}\n" for t in tokens[:-1]) + f"admin:{tokens[-1]}\n")
    roots = ("--allowed-roots", ",".join(str(r) for r in index_roots))
    started: list[HttpServer] = []
    try:
        for _ in range(servers):
            started.append(start_http_server(dsn, log_dir, token_file=token_file, extra_args=roots))
        worker = start_worker(dsn, log_dir, token_file=token_file)
        started.append(worker)
        for p in started:
            _wait(p, "/ready")
        yield Cluster(started[:-1], worker, list(tokens))
    finally:
        for p in started:
            p.stop()


# --- what the clients ask --------------------------------------------------------------------------


@dataclass
class Workload:
    """Arguments drawn from an indexed repository, so every call names something that exists."""

    repository: str
    queries: list[str]
    names: list[str]
    functions: list[str]  # unique qualified names that have callers
    pairs: list[tuple[str, str]]  # caller -> callee, for call_path
    files: list[str]
    uses: list[tuple[str, int, str]]  # path, line, name of a resolved call, for goto_definition


_UNIQUE = """
WITH u AS (SELECT qualified_name FROM symbols WHERE repository_id = $1
           GROUP BY qualified_name HAVING count(*) = 1)
"""


async def build_workload(dsn: str, repository: str, *, size: int = 300) -> Workload:
    conn = await asyncpg.connect(dsn)
    try:
        rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", repository)
        if rid is None:
            raise RuntimeError(f"repository {repository!r} is not indexed")
        await conn.execute("SELECT setseed(0.42)")
        functions = [
            r[0]
            for r in await conn.fetch(
                _UNIQUE
                + """SELECT t.qualified_name FROM edges e JOIN symbols t ON t.id = e.target_id
                         WHERE e.repository_id = $1 AND e.kind = 'calls' AND t.qualified_name IN (SELECT * FROM u)
                         GROUP BY 1 ORDER BY 1 LIMIT $2""",
                rid,
                size,
            )
        ]
        pairs = [
            (r[0], r[1])
            for r in await conn.fetch(
                _UNIQUE
                + """SELECT DISTINCT s.qualified_name, t.qualified_name FROM edges e
                         JOIN symbols s ON s.id = e.source_id JOIN symbols t ON t.id = e.target_id
                         WHERE e.repository_id = $1 AND e.kind = 'calls' AND e.confidence >= 0.9
                           AND s.qualified_name IN (SELECT * FROM u) AND t.qualified_name IN (SELECT * FROM u)
                         ORDER BY 1, 2 LIMIT $2""",
                rid,
                size,
            )
        ]
        uses = [
            (r[0], r[1], r[2])
            for r in await conn.fetch(
                """SELECT f.path, e.line, t.name FROM edges e JOIN files f ON f.id = e.file_id
               JOIN symbols t ON t.id = e.target_id
               WHERE e.repository_id = $1 AND e.kind = 'calls' AND e.confidence >= 0.9
               ORDER BY f.path, e.line LIMIT $2""",
                rid,
                size,
            )
        ]
        files = [
            r[0]
            for r in await conn.fetch(
                """SELECT f.path FROM files f WHERE f.repository_id = $1
                 AND EXISTS (SELECT 1 FROM symbols s WHERE s.file_id = f.id) ORDER BY f.path LIMIT $2""",
                rid,
                size,
            )
        ]
        names = [
            r[0]
            for r in await conn.fetch(
                """SELECT DISTINCT name FROM symbols WHERE repository_id = $1 AND kind IN ('function', 'method', 'class')
                 AND length(name) > 3 ORDER BY name LIMIT $2""",
                rid,
                size,
            )
        ]
        prose = [
            r[0]
            for r in await conn.fetch(
                r"""SELECT DISTINCT btrim(split_part(docstring, E'\n', 1)) FROM symbols
                WHERE repository_id = $1 AND length(btrim(split_part(docstring, E'\n', 1))) BETWEEN 15 AND 120
                ORDER BY 1 LIMIT $2""",
                rid,
                size,
            )
        ]
    finally:
        await conn.close()
    if not (functions and pairs and uses and files and names):
        raise RuntimeError(f"repository {repository!r} has too little code for a load run")
    return Workload(repository, prose + names[: max(1, len(prose) // 2)], names, functions, pairs, files, uses)


def next_call(w: Workload, rng: random.Random) -> tuple[str, dict[str, Any]]:
    """One tool call of the mix, with arguments that exist in the repository."""
    tool = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    repo = {"repository": w.repository}
    pick = rng.choice
    match tool:
        case "search_code":
            return tool, {"query": pick(w.queries), "limit": 10, **repo}
        case "find_symbol":
            return tool, {"name": pick(w.names), "limit": 20, **repo}
        case "find_callers" | "find_callees":
            return tool, {"symbol": pick(w.functions), "depth": rng.randint(1, 3), **repo}
        case "find_references" | "get_symbol":
            return tool, {"symbol": pick(w.functions), **repo}
        case "call_path":
            source, target = pick(w.pairs)
            return tool, {"source": source, "target": target, "max_depth": 4, **repo}
        case "impact_analysis":
            return tool, {"symbol": pick(w.functions), "depth": 2, **repo}
        case "file_outline" | "get_dependencies" | "get_dependents":
            return tool, {"path": pick(w.files), **repo}
        case "grep":
            return tool, {"pattern": f"def {pick(w.names)}", "limit": 50, **repo}
        case "goto_definition":
            path, line, name = pick(w.uses)
            return tool, {"path": path, "line": line, "name": name, **repo}
        case "repo_map":
            return tool, {"max_tokens": 512, **repo}
        case "index_status":
            return tool, repo
        case _:
            return tool, {}


# --- measurements -----------------------------------------------------------------------------------


@dataclass
class _Series:
    seconds: list[float] = field(default_factory=list)
    errors: int = 0
    messages: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Recorder:
    """Latency and errors per (transport, tool)."""

    def __init__(self) -> None:
        self.series: dict[tuple[str, str], _Series] = {}

    def record(self, transport: str, tool: str, seconds: float, error: str | None = None) -> None:
        s = self.series.setdefault((transport, tool), _Series())
        s.seconds.append(seconds)
        if error is not None:
            s.errors += 1
            if len(s.messages) < 3:
                s.messages.append(error[:500])

    @property
    def calls(self) -> int:
        return sum(len(s.seconds) for s in self.series.values())

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.series.values())

    def first_errors(self, n: int = 5) -> list[str]:
        return [f"{t}/{tool}: {m}" for (t, tool), s in sorted(self.series.items()) for m in s.messages][:n]

    def rows(self, by: str) -> list[dict[str, Any]]:
        """Per transport ("transport"), per tool ("tool") or per both ("both"): calls, errors, p50/p95/p99 in ms."""
        groups: dict[str, _Series] = {}
        for (transport, tool), s in self.series.items():
            key = {"transport": transport, "tool": tool, "both": f"{transport}/{tool}"}[by]
            g = groups.setdefault(key, _Series())
            g.seconds += s.seconds
            g.errors += s.errors
            g.messages += s.messages
        out = []
        for key, g in sorted(groups.items()):
            ms = [x * 1000 for x in g.seconds]
            out.append(
                {
                    by: key,
                    "calls": len(ms),
                    "errors": g.errors,
                    "p50_ms": _round(percentile(ms, 0.5)),
                    "p95_ms": _round(percentile(ms, 0.95)),
                    "p99_ms": _round(percentile(ms, 0.99)),
                    "first_errors": g.messages[:3],
                }
            )
        return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@dataclass
class LeaseWatch:
    """Who held each repository's lease at each sample: the holders of its advisory lock, named by
    the application_name of their connection ("pgcode-lease host:pid")."""

    samples: int = 0
    holders: dict[str, list[int]] = field(default_factory=dict)  # repository -> holder count per sample
    owners: dict[str, set[str]] = field(default_factory=dict)  # repository -> every owner seen

    def summary(self) -> dict[str, Any]:
        return {
            name: {
                "samples": len(counts),
                "one_owner": counts.count(1),
                "no_owner": counts.count(0),
                "several_owners": sum(1 for c in counts if c > 1),
                "owners_seen": sorted(self.owners[name]),
            }
            for name, counts in sorted(self.holders.items())
        }


_HOLDERS = """
SELECT r.name, count(k.pid) AS holders,
       coalesce(array_agg(a.application_name) FILTER (WHERE k.pid IS NOT NULL), '{}') AS owners
FROM repositories r
LEFT JOIN pg_locks k ON k.locktype = 'advisory' AND k.granted AND k.classid = $1::int::oid
                    AND k.objid = r.id::oid AND k.objsubid = 2
LEFT JOIN pg_stat_activity a ON a.pid = k.pid
GROUP BY r.name
"""


async def watch_leases(dsn: str, until: float, watch: LeaseWatch, interval: float = 0.25) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        while time.monotonic() < until:
            for row in await conn.fetch(_HOLDERS, LOCK_CLASS):
                watch.holders.setdefault(row["name"], []).append(row["holders"])
                watch.owners.setdefault(row["name"], set()).update(
                    o.removeprefix("pgcode-lease ") for o in row["owners"]
                )
            watch.samples += 1
            await anyio.sleep(interval)
    finally:
        await conn.close()


async def deadlocks(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"))
    finally:
        await conn.close()


async def postgres_log(dsn: str) -> Path | None:
    """The server's log file when it is local and readable (the embedded server writes pgdata/log)."""
    conn = await asyncpg.connect(dsn)
    try:
        current = await conn.fetchval("SELECT pg_current_logfile()")
        data_dir = await conn.fetchval("SELECT current_setting('data_directory', true)")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    for candidate in (current, "log"):
        if candidate and data_dir:
            path = Path(data_dir) / candidate
            if path.is_file() and os.access(path, os.R_OK):
                return path
    return None


def log_lines_since(path: Path | None, offset: int, needle: str) -> list[str]:
    if path is None:
        return []
    with open(path, "rb") as fh:
        fh.seek(offset)
        text = fh.read().decode("utf-8", errors="replace")
    return [line for line in text.splitlines() if needle in line]


# --- the actors ---------------------------------------------------------------------------------------


async def client_loop(
    transport: str, server: HttpServer, token: str, workload: Workload, until: float, recorder: Recorder, seed: int
) -> None:
    """One assistant: a session on `server`, tool calls back to back until `until`. A broken session
    is recorded as an error and opened again."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        started = time.perf_counter()
        try:
            async with connect(transport, server=server, token=token) as client:
                while time.monotonic() < until:
                    tool, arguments = next_call(workload, rng)
                    started = time.perf_counter()
                    result = await client.call_tool(tool, arguments)
                    error = None
                    if result.is_error:
                        error = f"{arguments}: {result.content[0].text if result.content else result}"
                    recorder.record(transport, tool, time.perf_counter() - started, error)
        except Exception as exc:  # noqa: BLE001 - every failure is a measured error, the run goes on
            recorder.record(transport, "(session)", time.perf_counter() - started, f"{type(exc).__name__}: {exc!r}")
            await anyio.sleep(0.5)


@dataclass
class Edit:
    path: str
    name: str


def _replace(path: Path, text: str) -> None:
    # A new inode: the corpus copies may be hard links to the pristine corpus, which must not change.
    tmp = path.with_name(f".{path.name}.load-tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def edit_loop(
    root: Path, paths: Sequence[str], until: float, edits: list[Edit], *, interval: float = 0.5, tag: str = ""
) -> None:
    """Save an edit every `interval` seconds: a new, uniquely named function appended to one of `paths`."""
    i = 0
    tag = tag or f"{os.getpid()}_{int(time.time())}"
    while time.monotonic() < until:
        rel = paths[i % len(paths)]
        name = f"load_edit_{tag}_{i}"
        target = root / rel
        _replace(
            target,
            target.read_text() + f'\n\ndef {name}(value):\n    """Saved during the load run."""\n'
            f"    return value + {i}\n",
        )
        edits.append(Edit(rel, name))
        i += 1
        await anyio.sleep(interval)


async def index_loop(server: HttpServer, token: str, root: Path, name: str, until: float, recorder: Recorder) -> int:
    """Index `root` as `name` through `server`, remove it, index it again... until `until`. Returns
    the number of complete index runs."""
    rounds = 0
    async with connect("http", server=server, token=token) as client:
        while time.monotonic() < until:
            for tool, arguments in (
                ("index_repository", {"path": str(root), "name": name}),
                ("remove_repository", {"repository": name}),
            ):
                started = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                error = (result.content[0].text if result.content else str(result)) if result.is_error else None
                recorder.record("writer", tool, time.perf_counter() - started, error)
                if tool == "index_repository" and error is None:
                    rounds += 1
                if time.monotonic() >= until:
                    break
    return rounds


async def wait_searchable(server: HttpServer, token: str, repository: str, name: str, timeout: float) -> float:
    """Seconds until find_symbol through `server` returns `name`; raises TimeoutError after `timeout`."""
    started = time.monotonic()
    async with connect("http", server=server, token=token) as client:
        while True:
            found = await client.call_tool("find_symbol", {"name": name, "repository": repository})
            data = found.structured_content or {}
            if not found.is_error and any(s["name"] == name for s in data.get("symbols", [])):
                return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{name} not searchable through {server.base} within {timeout}s")
            await anyio.sleep(0.2)


# --- one run ---------------------------------------------------------------------------------------------


@dataclass
class Plan:
    dsn: str
    cluster: Cluster
    workload: Workload
    watched_root: Path  # the indexed repository whose files are edited
    edit_paths: list[str]
    side_root: Path  # indexed (and removed, and indexed again) during the run
    side_name: str
    seconds: float
    clients: int = 20
    edit_interval: float = 0.5


@dataclass
class Outcome:
    recorder: Recorder
    leases: LeaseWatch
    edits: list[Edit]
    index_rounds: int
    seconds: float  # from the first call until the last client's last answer
    edit_visible_s: dict[str, float]  # server -> seconds after the run until the last edit was found


def client_tokens(n: int) -> list[str]:
    """One token per client plus one for the writer: the rate limit is per token, as for a team."""
    return [f"load-client-{i:02d}-{os.urandom(6).hex()}" for i in range(n)] + [f"load-writer-{os.urandom(6).hex()}"]


async def run(plan: Plan) -> Outcome:
    """20 clients (half streamable HTTP, half SSE, spread over the servers) for `seconds`, while one
    repository's files are edited and another is indexed through the first server."""
    recorder, leases, edits = Recorder(), LeaseWatch(), []
    rounds: list[int] = []
    servers = plan.cluster.servers
    tokens = plan.cluster.tokens
    started = time.monotonic()
    until = started + plan.seconds

    async def writer() -> None:
        rounds.append(await index_loop(servers[0], tokens[-1], plan.side_root, plan.side_name, until, recorder))

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch_leases, plan.dsn, until, leases)
        tg.start_soon(lambda: edit_loop(plan.watched_root, plan.edit_paths, until, edits, interval=plan.edit_interval))
        tg.start_soon(writer)  # its last index run may outlast the clients: the outer group waits for it
        async with anyio.create_task_group() as clients:
            for i in range(plan.clients):
                transport = "http" if i % 2 == 0 else "sse"
                server = servers[(i // 2) % len(servers)]
                clients.start_soon(
                    client_loop,
                    transport,
                    server,
                    tokens[i % (len(tokens) - 1)],
                    plan.workload,
                    until,
                    recorder,
                    1000 + i,
                )
        elapsed = time.monotonic() - started
    visible: dict[str, float] = {}
    if edits:
        for server in servers:
            visible[server.base] = round(
                await wait_searchable(server, tokens[0], plan.workload.repository, edits[-1].name, timeout=60), 2
            )
    return Outcome(recorder, leases, edits, rounds[0] if rounds else 0, elapsed, visible)
