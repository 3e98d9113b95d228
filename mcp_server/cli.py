"""Command line: `pgcode index`, `search`, `status`, `remove`, `serve`, `worker`, `config show`, `db ...`: a thin shell over the library."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from .config import ResolvedSettings, Settings, resolve
from .errors import ConfigError, InvalidArgument, PgcodeError

T = TypeVar("T")

if TYPE_CHECKING:
    from .db.pool import Database
    from .indexer.lease import LeaseManager

EXIT_USAGE = 2

# Flags that set a setting of the same name (the dest), wherever they appear in the command line.
_SETTING_FLAGS = (
    "database_url",
    "data_dir",
    "log_level",
    "pgbouncer",
    "read_only",
    "host",
    "port",
    "token_file",
    "allowed_hosts",
    "allowed_roots",
    "rate_limit_per_minute",
    "max_request_bytes",
    "metrics_port",
    "tools",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pgcode",
        description="Index code repositories into PostgreSQL + pgvector and search them; serve them over MCP.",
    )
    parser.add_argument(
        "--database-url", help="PostgreSQL URL (default: pgcode's own embedded server; env PGCODE_DATABASE_URL)"
    )
    parser.add_argument("--data-dir", type=Path, help="where the embedded server keeps its data (env PGCODE_DATA_DIR)")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="log level (to stderr)")
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="TOML file of settings (env PGCODE_CONFIG); precedence: defaults < file < env < flags",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        default=None,
        help="the database URL is PgBouncer in transaction pooling mode (read-only use only)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "index",
        help="index a folder (again): only what changed is re-read",
        description="Index a repository folder. Example: pgcode index ~/src/myproject",
    )
    p.add_argument("path", type=Path, help="the repository folder")
    p.add_argument("--name", help="the repository's name in the index (default: the folder's name)")
    p.set_defaults(run=_cmd_index)

    p = sub.add_parser(
        "search",
        help="hybrid search over indexed code",
        description='Search indexed code. Example: pgcode search "where is the session cookie signed"',
    )
    p.add_argument("query", help="natural language or identifiers")
    p.add_argument("--repository", "-r", help="only this repository (name or path)")
    p.add_argument("--path-glob", "-g", help="only paths matching this glob, e.g. 'src/**/*.py' or '*.ts'")
    p.add_argument("--language", "-l", help="only this language, e.g. python")
    p.add_argument("--kind", "-k", help="only chunks of this symbol kind, e.g. function, class, method")
    p.add_argument("--mode", "-m", choices=["hybrid", "semantic", "keyword"], default="hybrid")
    p.add_argument("--limit", "-n", type=int, default=10, help="how many results (1-100)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_search)

    p = sub.add_parser("status", help="indexed repositories with counts and freshness")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--skipped", action="store_true", help="also name every file left out of each repository, and why")
    p.set_defaults(run=_cmd_status)

    p = sub.add_parser(
        "serve",
        help="serve the index to MCP clients (stdio, or HTTP with /mcp and /sse)",
        description="Serve MCP. Examples: pgcode serve  |  pgcode serve --transport http --port 8765 "
        "--token-file tokens.txt",
    )
    p.add_argument(
        "--transport",
        "-t",
        choices=["stdio", "http", "sse"],
        default="stdio",
        help="stdio for desktop clients; http (or sse) serves streamable HTTP at /mcp and SSE at /sse",
    )
    p.add_argument("--host", help="address to bind for http (default 127.0.0.1; env PGCODE_HOST)")
    p.add_argument("--port", type=int, help="port for http (default 8765; env PGCODE_PORT)")
    p.add_argument("--token-file", help="file of accepted bearer tokens, one per line (env PGCODE_TOKEN_FILE)")
    p.add_argument("--allowed-hosts", help="extra Host names accepted beyond loopback, comma-separated")
    p.add_argument(
        "--allowed-roots",
        metavar="DIRS",
        help="folders MCP clients may index below, comma-separated (default: over http none, over "
        "stdio anything but system folders and the home folder's hidden folders)",
    )
    p.add_argument(
        "--tools",
        metavar="LIST",
        help="tools to list: all (default), core (search, symbols, references, callers, definition, outline) "
        "or tool names, comma-separated, e.g. core,grep (env PGCODE_TOOLS)",
    )
    p.add_argument("--no-watch", action="store_true", help="serve without watching roots for changes")
    p.add_argument(
        "--read-only",
        action="store_true",
        default=None,
        help="serve search and graph tools only (e.g. from a replica): no migrations, no watcher, index tools refused",
    )
    p.add_argument(
        "--rate-limit-per-minute",
        type=int,
        metavar="N",
        help="HTTP requests a minute per token (default 600; 0 = no limit)",
    )
    p.add_argument("--max-request-bytes", type=int, metavar="N", help="largest HTTP request body (default 1 MiB)")
    # How `pgcode serve` over stdio starts the shared server of its data dir (server/shared.py).
    p.add_argument("--shared-socket", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--shared-lock-fd", type=int, default=-1, help=argparse.SUPPRESS)
    p.set_defaults(run=_cmd_serve)

    p = sub.add_parser(
        "worker",
        help="index and watch every repository in the database; serve only /health, /ready and /metrics",
        description="Run the indexing worker until SIGTERM/SIGINT: it keeps every repository of the "
        "database fresh and computes vectors, for read-only servers to serve. Connect it "
        "directly to PostgreSQL (not through PgBouncer). Example: pgcode worker "
        "--metrics-port 9765",
    )
    p.add_argument("--host", help="address for /health, /ready and /metrics (default 127.0.0.1; env PGCODE_HOST)")
    p.add_argument("--metrics-port", type=int, help="port for /health, /ready and /metrics (default 9765)")
    p.add_argument("--token-file", help="bearer tokens accepted on /metrics, one per line (env PGCODE_TOKEN_FILE)")
    p.set_defaults(run=_cmd_worker)

    p = sub.add_parser(
        "doctor",
        help="check the installation: model files, database, data dir, watcher limits, ports, repositories",
        description="Check everything pgcode needs, in one go; each line says ok, or what is wrong and "
        "what to do. Exit code 0 when nothing failed (warnings allowed), 1 otherwise.",
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=_cmd_doctor)

    p = sub.add_parser("config", help="show the effective configuration")
    config_sub = p.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    q = config_sub.add_parser("show", help="every setting's effective value and where it came from (secrets masked)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.add_argument(
        "--repository",
        metavar="PATH",
        type=Path,
        help="also the settings this repository folder gives itself (.pgcode.toml or [tool.pgcode] in pyproject.toml)",
    )
    q.set_defaults(run=None)

    p = sub.add_parser("db", help="database administration: migrate, roles, partitioning")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    q = db_sub.add_parser("migrate", help="apply pending schema migrations (as pgcode_writer, directly to PostgreSQL)")
    q.set_defaults(run=_cmd_db_migrate)
    q = db_sub.add_parser(
        "roles",
        help="create or repair the pgcode_writer and pgcode_reader roles (as a superuser)",
        description="Run schema/roles.sql as a superuser. Passwords are set from "
        "PGCODE_WRITER_PASSWORD / PGCODE_READER_PASSWORD when those are set.",
    )
    q.set_defaults(run=_cmd_db_roles)
    q = db_sub.add_parser(
        "partition",
        help="hash-partition symbols, edges and chunks by repository (optional)",
        description="Convert symbols, edges and chunks to PARTITION BY HASH (repository_id) in one "
        "transaction, keeping rows, indexes and privileges. Stop every writer first. "
        "See mcp_server/schema/partition_by_repository.sql.",
    )
    q.add_argument("--partitions", type=int, required=True, metavar="N", help="number of hash partitions (e.g. 8)")
    q.set_defaults(run=_cmd_db_partition)

    p = sub.add_parser("remove", help="drop a repository from the index (its files are not touched)")
    p.add_argument("repository", help="name or path")
    p.set_defaults(run=_cmd_remove)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    overrides = {key: getattr(args, key) for key in _SETTING_FLAGS if getattr(args, key, None) is not None}
    try:
        resolved = resolve(overrides, config_file=args.config)
    except PgcodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    settings = resolved.settings
    if args.command == "config":
        try:
            _show_config(resolved, as_json=args.json, repository=args.repository)
        except PgcodeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        return 0
    from .logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    run: Callable[[argparse.Namespace, Settings], Awaitable[int]] = args.run
    try:
        try:
            return anyio.run(run, args, settings)
        except BaseExceptionGroup as group:
            # Task groups wrap what their tasks raised: report a pgcode error as if raised alone.
            raise _sole(group) from None
    except PgcodeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: what was stored so far is kept; run the command again to resume", file=sys.stderr)
        return 130


async def _until_interrupted(work: Callable[[], Awaitable[T]]) -> T:
    """work's result, or KeyboardInterrupt once Ctrl-C has cancelled it. Ctrl-C cancels through an
    anyio scope, which a shielded step (giving a lease back, marking a state) defers until it ends:
    asyncio's own handler cancels the task once, and a shield that swallows that cancellation
    would let the pass run on to the end."""
    interrupted = False
    result: list[T] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            nonlocal interrupted
            with anyio.open_signal_receiver(signal.SIGINT) as signals:
                async for _ in signals:
                    interrupted = True
                    group.cancel_scope.cancel()
                    return

        group.start_soon(watch)
        result.append(await work())
        group.cancel_scope.cancel()
    if interrupted or not result:
        raise KeyboardInterrupt
    return result[0]


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one PgcodeError (or interrupt) in a group, else the group itself."""
    errors, rest = group.split((PgcodeError, KeyboardInterrupt))
    if errors is not None and rest is None:
        leaf: BaseException = errors
        while isinstance(leaf, BaseExceptionGroup):
            leaf = leaf.exceptions[0]
        return leaf
    return group


def _show_config(resolved: ResolvedSettings, *, as_json: bool, repository: Path | None = None) -> None:
    rows = resolved.describe()
    repo_rows: list[dict[str, Any]] = []
    if repository is not None:
        from .index.repo_settings import read_repo_settings

        if not repository.is_dir():
            raise InvalidArgument(f"{repository} is not a folder; pass the folder of a repository")
        repo_rows = read_repo_settings(repository.resolve()).describe()
    where = (
        f"{resolved.config_file} (from {resolved.config_file_source})"
        if resolved.config_file
        else "none (set --config or PGCODE_CONFIG)"
    )
    if as_json:
        print(
            json.dumps(
                {
                    "config_file": str(resolved.config_file) if resolved.config_file else None,
                    "settings": {r["key"]: {"value": r["value"], "source": r["source"]} for r in rows},
                    **(
                        {"repository": {r["key"]: {"value": r["value"], "source": r["source"]} for r in repo_rows}}
                        if repository is not None
                        else {}
                    ),
                },
                indent=2,
            )
        )
        return
    print(f"config file: {where}")
    width = max(len(r["key"]) for r in rows)
    for r in rows:
        value = "(embedded)" if r["key"] == "database_url" and r["value"] is None else json.dumps(r["value"])
        print(f"{r['key']:<{width}}  {value:<40}  {r['source']}")
    if repository is not None:
        print(f"repository {repository}:")
        for r in repo_rows:
            print(f"  {r['key']:<{width - 2}}  {json.dumps(r['value']):<40}  {r['source']}")


def _require_writable(settings: Settings, what: str) -> None:
    if settings.read_only:
        raise ConfigError(f"{what} writes to the index, but read_only is set; unset it (or use a writable process)")
    if settings.pgbouncer:
        from .db.pool import PGBOUNCER_NEEDS_READ_ONLY

        raise ConfigError(PGBOUNCER_NEEDS_READ_ONLY)


async def _cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from .cli_progress import ProgressBars
    from .db.pool import open_database
    from .embed.model import embedder_for
    from .indexer.lease import HANDOVER_SECONDS
    from .indexer.pipeline import index_repository

    _require_writable(settings, "pgcode index")
    async with open_database(settings) as db:
        embedder = await anyio.to_thread.run_sync(embedder_for, settings)
        with ProgressBars() as bars:
            # A server watching the repository hands it over for this pass and takes it back after.
            report = await _until_interrupted(
                lambda: index_repository(
                    db,
                    settings,
                    args.path,
                    name=args.name,
                    embedder=embedder,
                    progress=bars.update,
                    leases=_noting_leases(db),
                    wait=HANDOVER_SECONDS,
                )
            )
    skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(report.skipped.items())) or "none"
    timing = ", ".join(f"{stage} {sec:.1f}s" for stage, sec in report.seconds.items())
    print(
        f"indexed {report.repository} ({report.root}): {report.files_indexed} files indexed, "
        f"{report.files_unchanged} unchanged, {report.files_deleted} removed; "
        f"{report.vectors_embedded} chunk texts embedded\nskipped: {skipped}\ntime: {timing}",
        file=sys.stderr,
    )
    return 0


async def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from .db.pool import open_database
    from .embed.model import embedder_for
    from .indexer import repositories
    from .search.filters import Filters
    from .search.hybrid import search_code

    async with open_database(settings, read_only=settings.read_only or settings.pgbouncer) as db:
        filters = Filters(path_glob=args.path_glob, language=args.language, kind=args.kind)
        if args.repository:
            async with db.pool.acquire() as conn:
                filters.repository_id = (await repositories.find(conn, args.repository)).id
        embedder = None
        if args.mode != "keyword":
            embedder = await anyio.to_thread.run_sync(embedder_for, settings)
        result = await search_code(
            db.pool,
            embedder,
            args.query,
            filters=filters,
            mode=args.mode,
            limit=args.limit,
            ef_search=settings.hnsw_ef_search,
        )
        if not result.results:
            from .db.catalog import NOTHING_INDEXED, nothing_indexed

            async with db.pool.acquire() as conn:
                if await nothing_indexed(conn):
                    result.notes.append(NOTHING_INDEXED)
    if args.json:
        print(
            json.dumps(
                {
                    "results": [asdict(h) for h in result.results],
                    "freshness": {
                        "vectors_complete": result.vectors_complete,
                        "vectors_pending": result.vectors_pending,
                    },
                    "mode": result.mode,
                    "notes": result.notes,
                },
                indent=2,
            )
        )
        return 0
    if not result.results:
        print("no results", file=sys.stderr)
    several = len({h.repository for h in result.results}) > 1
    for h in result.results:
        where = f"{h.repository}:{h.path}" if several else h.path
        print(f"{where}:{h.start_line}-{h.end_line}  {h.symbol or '-'}  {h.score:.4f}")
        for line in h.snippet.splitlines():
            print(f"    {line}")
        print()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


async def _cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from .db.pool import open_database
    from .db.size import disk_use
    from .embed.model import key_for
    from .indexer import repositories

    key = key_for(settings)
    async with (
        open_database(settings, read_only=settings.read_only or settings.pgbouncer) as db,
        db.pool.acquire() as conn,
    ):
        all_stats = [await repositories.stats(conn, r, key) for r in await repositories.all_repositories(conn)]
        disk = await disk_use(conn)
        skipped = (
            {s.repository.name: await _skipped_files(conn, s.repository, settings) for s in all_stats}
            if args.skipped
            else {}
        )
    if args.json:
        rows = [
            _stats_json(s) | ({"skipped_files": skipped[s.repository.name]} if args.skipped else {}) for s in all_stats
        ]
        print(
            json.dumps(
                {
                    "database": {"size_bytes": disk.database_bytes, "wal_bytes": disk.wal_bytes},
                    "repositories": rows,
                },
                indent=2,
                default=str,
            )
        )
        return 0
    wal = "" if disk.wal_bytes is None else f", WAL {_megabytes(disk.wal_bytes)}"
    print(f"database: {_megabytes(disk.database_bytes)}{wal}")
    if not all_stats:
        print("no repositories indexed yet: run `pgcode index PATH`")
        return 0
    print(
        f"{'repository':<20} {'files':>7} {'symbols':>8} {'edges':>8} {'chunks':>7} {'texts':>7} {'vectors':>8} "
        f"{'pending':>8}  state  indexed"
    )
    for s in all_stats:
        r = s.repository
        when = r.indexed_at.strftime("%Y-%m-%d %H:%M:%S") if r.indexed_at else "never"
        print(
            f"{r.name:<20} {s.files:>7} {s.symbols:>8} {s.edges:>8} {s.chunks:>7} {s.vectors + s.vectors_pending:>7} "
            f"{s.vectors:>8} {s.vectors_pending:>8}  {r.state}  {when}  {r.root_path}"
        )
    print(
        "chunks with the same text share one vector: `texts` are the distinct chunk texts, each either "
        "embedded (`vectors`) or waiting (`pending`)"
    )
    for name, files in skipped.items():
        print(f"\n{name}: {len(files)} files left out" + (":" if files else ""))
        for item in files:
            print(f"  {item['path']}  {item['reason']}")
    return 0


async def _skipped_files(conn: Any, repository: Any, settings: Settings) -> list[dict[str, str]]:
    """The files of a repository's root that are not indexed, and why: the walk's own reasons, and
    for files it admitted but the index lacks, the reading's (binary, not UTF-8, minified, secrets)."""
    from .index.discover import discover
    from .index.repo_settings import read_repo_settings
    from .indexer.pipeline import secret_rules

    root = Path(repository.root_path)
    if not root.is_dir():
        return [{"path": ".", "reason": "root_missing"}]
    rules = secret_rules(settings)
    repo_settings = await anyio.to_thread.run_sync(read_repo_settings, root)
    found = await anyio.to_thread.run_sync(
        lambda: discover(root, settings.max_file_bytes, rules, repo_settings, name_skipped=True)
    )
    stored = {r["path"] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", repository.id)}
    out = [{"path": path, "reason": reason} for path, reason in (found.skipped_paths or [])]
    out += [{"path": f.path, "reason": "unreadable_as_text"} for f in found.files if f.path not in stored]
    return sorted(out, key=lambda item: item["path"])


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _stats_json(s: Any) -> dict[str, Any]:
    r = s.repository
    return {
        "repository": r.name,
        "root": r.root_path,
        "state": r.state,
        "indexed_at": r.indexed_at.isoformat() if r.indexed_at else None,
        "last_error": r.last_error,
        "files": s.files,
        "symbols": s.symbols,
        "edges": s.edges,
        "edges_resolved": s.edges_resolved,
        "chunks": s.chunks,
        "chunk_texts": s.vectors + s.vectors_pending,
        "vectors": s.vectors,
        "vectors_pending": s.vectors_pending,
        "skipped": s.skipped,
        "redacted": s.redacted,
    }


async def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    transport = "http" if args.transport in ("http", "sse") else "stdio"
    if transport == "http":
        settings.bearer_grants()  # an unreadable token file or an unknown role is a usage error before anything starts
    if settings.pgbouncer and not settings.read_only:
        from .db.pool import PGBOUNCER_NEEDS_READ_ONLY

        raise ConfigError(PGBOUNCER_NEEDS_READ_ONLY)
    from .server.tool_surface import TOOL_NAMES, exposed

    exposed(settings.tools, TOOL_NAMES)  # a misspelt tool is a usage error before anything starts
    if args.shared_socket is not None:
        from .server.run import serve_shared

        await serve_shared(settings, args.shared_socket, args.shared_lock_fd, watch=not args.no_watch)
    elif transport == "stdio" and settings.shared_server and sys.platform != "win32":
        from .server.relay import relay  # the relay holds no model and no pool, and imports neither

        await relay(settings, watch=not args.no_watch)
    else:
        from .server.run import serve

        await serve(settings, transport, watch=not args.no_watch)
    return 0


async def _cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from .doctor import FAIL, run_checks

    checks = await run_checks(settings)
    if args.json:
        print(json.dumps([{"status": c.status, "area": c.area, "message": c.message} for c in checks], indent=2))
    else:
        for c in checks:
            print(f"{c.status:<4}  {c.area:<10}  {c.message}")
    return 1 if any(c.status == FAIL for c in checks) else 0


async def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from .server.run import work

    _require_writable(settings, "pgcode worker")
    settings.bearer_tokens()
    await work(settings)
    return 0


async def _cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from .db.pool import open_database

    _require_writable(settings, "pgcode db migrate")
    async with open_database(settings):
        pass  # opening a writable database applies what is pending
    print("the database schema is current", file=sys.stderr)
    return 0


async def _cmd_db_roles(args: argparse.Namespace, settings: Settings) -> int:
    from .db.admin import apply_roles
    from .db.pool import database_url

    _require_writable(settings, "pgcode db roles")
    async with database_url(settings) as dsn:
        await apply_roles(
            dsn,
            writer_password=os.environ.get("PGCODE_WRITER_PASSWORD") or None,
            reader_password=os.environ.get("PGCODE_READER_PASSWORD") or None,
        )
    print("roles pgcode_writer and pgcode_reader are in place", file=sys.stderr)
    return 0


async def _cmd_db_partition(args: argparse.Namespace, settings: Settings) -> int:
    from .db.admin import partition_by_repository
    from .db.pool import database_url

    _require_writable(settings, "pgcode db partition")
    async with database_url(settings) as dsn:
        report = await partition_by_repository(dsn, args.partitions)
    moved = ", ".join(f"{table} {rows}" for table, rows in report.rows.items())
    print(
        f"symbols, edges and chunks are now hash-partitioned by repository into {report.partitions} "
        f"partitions each (rows kept: {moved})",
        file=sys.stderr,
    )
    return 0


async def _cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from .db.pool import open_database
    from .indexer import repositories
    from .indexer.pipeline import remove_repository

    _require_writable(settings, "pgcode remove")
    async with open_database(settings) as db:
        async with db.pool.acquire() as conn:
            repo = await repositories.find(conn, args.repository)
        # Under the lease: a server watching it hands it over, and does not bring it back.
        await remove_repository(db, settings, repo, leases=_noting_leases(db))
    print(f"removed {repo.name} from the index", file=sys.stderr)
    return 0


def _noting_leases(db: Database) -> LeaseManager:
    """This process's lease manager, saying on stderr whom a command waits for."""
    from .indexer.lease import manager_for

    leases = manager_for(db)
    leases.on_wait = lambda sentence: print(f"note: {sentence}", file=sys.stderr)
    return leases
