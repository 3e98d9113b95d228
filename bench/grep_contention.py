"""Costly greps against searches: search_code latency through a real MCP client, without and then with
clients sending regular expressions the index cannot narrow, on one pgcode server.

The corpus is indexed once (no vectors: searches run in keyword mode unless --mode says otherwise),
a server is started on it (`--no-watch`, the pool and grep timeout as configured), and for
--seconds each phase --searchers clients call search_code back to back: first alone, then while
--greps clients send costly patterns back to back (back-references, which defeat the trigram
index and make PostgreSQL's engine try every split of every line). Prints p50/p95/max of the
searches per phase and what became of the greps.

    python bench/grep_contention.py                          # Django, 8 greps, 2 searchers, 20 s a phase
    python bench/grep_contention.py --generated 2000 --seconds 10
    python bench/grep_contention.py --grep-timeout-ms 3600000  # as if greps had no timeout of their own
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # tests.*, for the SDK clients and the generator

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
from _load_driver import percentile

from mcp_server.db.embedded import EmbeddedPostgres
from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging
from tests._consistency import write_large_repo
from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

COSTLY = [r"(.*)(.*)\2\1", r"(\w+)\s*(\w+).*\2.*\1", r"(.+)\s(.+)\s\2\1"]
QUERIES = [
    "parse the request headers",
    "cache timeout",
    "database connection",
    "render a template with a context",
    "validate an email address",
    "hash a password",
    "resolve a url",
    "session expiry",
    "clean a form field",
    "migration state",
    "clamp value",
    "handle value",
]


@dataclass
class Phase:
    searches: list[float] = field(default_factory=list)
    search_errors: list[str] = field(default_factory=list)
    greps: list[tuple[float, str]] = field(default_factory=list)  # (seconds, outcome)

    def figures(self) -> dict[str, Any]:
        ms = [s * 1000 for s in self.searches]
        grep_s = [s for s, _ in self.greps]
        outcomes: dict[str, int] = {}
        for _, outcome in self.greps:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        return {
            "searches": len(ms),
            "search_errors": len(self.search_errors),
            "first_search_errors": self.search_errors[:3],
            "search_p50_ms": _r(percentile(ms, 0.5)),
            "search_p95_ms": _r(percentile(ms, 0.95)),
            "search_max_ms": _r(max(ms, default=None)),
            "search_ms": [round(m, 1) for m in ms],
            "greps": len(self.greps),
            "grep_outcomes": outcomes,
            "grep_p50_s": _r(percentile(grep_s, 0.5)),
            "grep_max_s": _r(max(grep_s, default=None)),
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1 if value >= 10 else 3)


def _outcome(result: Any) -> str:
    if not result.is_error:
        return "answered"
    text = result.content[0].text if result.content else ""
    if "grep_timeout_ms" in text:
        return "gave up (grep timeout)"
    if "greps are already running" in text:
        return "refused (all grep slots busy)"
    if "statement timeout" in text:
        return "statement timeout"
    return "error: " + text[:80]


async def _searcher(server: HttpServer, repository: str, mode: str, until: float, phase: Phase, offset: int) -> None:
    async with connect("http", server=server) as client:
        i = offset
        while time.monotonic() < until:
            started = time.monotonic()
            result = await client.call_tool(
                "search_code", {"query": QUERIES[i % len(QUERIES)], "mode": mode, "repository": repository}
            )
            phase.searches.append(time.monotonic() - started)
            if result.is_error:
                phase.search_errors.append(result.content[0].text[:200])
            i += 1


async def _grepper(server: HttpServer, repository: str, until: float, phase: Phase, offset: int) -> None:
    async with connect("http", server=server) as client:
        i = offset
        while time.monotonic() < until:
            started = time.monotonic()
            result = await client.call_tool("grep", {"pattern": COSTLY[i % len(COSTLY)], "repository": repository})
            phase.greps.append((time.monotonic() - started, _outcome(result)))
            i += 1


async def run_phase(server: HttpServer, args: argparse.Namespace, repository: str, greps: int) -> Phase:
    phase = Phase()
    until = time.monotonic() + args.seconds
    async with anyio.create_task_group() as tg:
        for g in range(greps):
            tg.start_soon(_grepper, server, repository, until, phase, g)
        if greps:
            await anyio.sleep(0.5)  # the greps are running before the first search
        for s in range(args.searchers):
            tg.start_soon(_searcher, server, repository, args.mode, until, phase, s * 5)
    return phase


async def prepare(dsn: str, data_dir: Path, args: argparse.Namespace) -> tuple[str, Path, dict[str, Any]]:
    if args.generated:
        name = f"generated-{args.generated}"
        root = Path(tempfile.gettempdir()) / f"pgcode-grep-{name}"
        if not root.exists():
            write_large_repo(root, args.generated)
        corpus = {"generated_modules": args.generated}
    else:
        name = f"{args.corpus}-grep"
        root = corpora.private_root(args.corpus, "grep")
        corpus = {"corpus": corpora.get(args.corpus).requirement}
    settings = settings_for(data_dir, dsn)
    async with open_database(settings) as db:
        await claim_repository(db, name, root, fresh=False)
        started = time.perf_counter()
        report = await index_repository(db, settings, root, name=name)
        chunks = await db.pool.fetchval(
            "SELECT count(*) FROM chunks c JOIN repositories r ON r.id = c.repository_id WHERE r.name = $1", name
        )
        text_mb = await db.pool.fetchval(
            "SELECT sum(length(c.content)) / 1e6 FROM chunks c JOIN repositories r"
            " ON r.id = c.repository_id WHERE r.name = $1",
            name,
        )
    print(
        f"indexed {name} in {time.perf_counter() - started:.1f} s ({report.files_indexed} files read,"
        f" {chunks} chunks, {text_mb:.1f} MB of text)",
        file=sys.stderr,
    )
    return name, root, {**corpus, "chunks": chunks, "text_mb": round(float(text_mb or 0), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="django", help="a corpus of bench/corpora.py (default django)")
    parser.add_argument(
        "--generated",
        type=int,
        default=0,
        metavar="MODULES",
        help="index a generated corpus of this many modules instead (no download)",
    )
    parser.add_argument("--greps", type=int, default=8, help="clients sending costly greps (default 8: the pool size)")
    parser.add_argument("--searchers", type=int, default=2, help="clients calling search_code (default 2)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each phase (default 20)")
    parser.add_argument("--mode", choices=["keyword", "hybrid", "semantic"], default="keyword")
    parser.add_argument("--pool-max-size", type=int, default=8, help="the server's pool_max_size (default 8)")
    parser.add_argument("--grep-timeout-ms", type=int, default=5000, help="the server's grep_timeout_ms (default 5000)")
    add_database_arguments(parser)
    args = parser.parse_args()
    if args.greps < 1 or args.searchers < 1 or args.seconds <= 0:
        parser.error("--greps and --searchers must be at least 1, --seconds positive")
    configure_logging("warning")
    data_dir = (args.data_dir or corpora.DEFAULT_DATA_DIR).expanduser().resolve()
    embedded = None if args.database_url else EmbeddedPostgres(data_dir)
    dsn = args.database_url or embedded.start()  # type: ignore[union-attr]
    before = load()
    try:
        name, _, corpus = anyio.run(prepare, dsn, data_dir, args)
        logs = Path(tempfile.mkdtemp(prefix="pgcode-grep-"))
        server = start_http_server(
            dsn,
            logs,
            extra_args=("--no-watch",),
            env={
                "PGCODE_TOKENS": TOKEN,
                "PGCODE_RATE_LIMIT_PER_MINUTE": "0",
                "PGCODE_POOL_MAX_SIZE": str(args.pool_max_size),
                "PGCODE_GREP_TIMEOUT_MS": str(args.grep_timeout_ms),
            },
        )
        try:
            quiet = anyio.run(run_phase, server, args, name, 0)
            contended = anyio.run(run_phase, server, args, name, args.greps)
        finally:
            server.stop()
    finally:
        if embedded is not None:
            embedded.stop()
    figures = {
        **corpus,
        "repository": name,
        "mode": args.mode,
        "greps": args.greps,
        "searchers": args.searchers,
        "seconds_per_phase": args.seconds,
        "pool_max_size": args.pool_max_size,
        "grep_timeout_ms": args.grep_timeout_ms,
        "costly_patterns": COSTLY,
        "without_greps": quiet.figures(),
        "with_greps": contended.figures(),
        "server_log": str(server.log),
    }
    cols = ["searches", "search_errors", "search_p50_ms", "search_p95_ms", "search_max_ms", "greps"]
    print(
        table(
            ["phase", *cols],
            [
                [label, *(figures[key][c] for c in cols)]
                for label, key in (("without greps", "without_greps"), ("with greps", "with_greps"))
            ],
            title=f"search_code ({args.mode}) by {args.searchers} clients on {name}, {corpus['chunks']} chunks;"
            f" {args.greps} costly grep clients; pool {args.pool_max_size}, grep timeout"
            f" {args.grep_timeout_ms} ms",
        )
    )
    g = figures["with_greps"]
    print(
        f"greps: {g['greps']} calls, p50 {g['grep_p50_s']} s, max {g['grep_max_s']} s: "
        + ", ".join(f"{k} {v}" for k, v in g["grep_outcomes"].items())
    )
    payload = {
        "command": " ".join(sys.argv),
        "load_before": before,
        "load_after": load(),
        "machine": machine(),
        "figures": figures,
    }
    label = f"generated{args.generated}" if args.generated else args.corpus
    print("wrote", write_result("grep_contention", payload, label))


if __name__ == "__main__":
    main()
