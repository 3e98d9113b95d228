"""`pgcode doctor`: check the installation in one go — model, database, data dir, watcher limits, ports, repositories."""

from __future__ import annotations

import os
import socket
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg

from .config import Settings, redact_url
from .db.catalog import Repository
from .db.pool import connect_kwargs, database_url
from .errors import PgcodeError
from .indexer.repositories import RepositoryStats

OK, WARN, FAIL = "ok", "warn", "fail"
_CONNECT_SECONDS = 15.0
_INOTIFY = Path("/proc/sys/fs/inotify")
_ONNX_FILES = ("model.onnx", "tokenizer.json", "tokenizer_config.json")


@dataclass(frozen=True, slots=True)
class Check:
    status: str  # ok | warn | fail
    area: str  # model | database | data_dir | watcher | port | repository
    message: str  # what was found, and for warn/fail what to do


async def run_checks(settings: Settings) -> list[Check]:
    checks = [*await anyio.to_thread.run_sync(_model, settings), *_data_dir(settings), *_ports(settings)]
    checks.extend(await _database(settings))
    return checks


# ---- model ----------------------------------------------------------------------------------


def _model(settings: Settings) -> list[Check]:
    from .embed.weights import DEFAULT_MODEL, PINNED_SHA256, find_weights

    if settings.model_dir:
        folder = Path(settings.model_dir).expanduser()
        missing = [f for f in _ONNX_FILES if not (folder / f).is_file()]
        if missing:
            return [
                Check(FAIL, "model", f"model_dir {folder} lacks {', '.join(missing)}: point it at a folder with them")
            ]
        return [Check(OK, "model", f"{settings.embedding_model} from model_dir {folder}")]
    if settings.embedding_model.lower() != DEFAULT_MODEL.lower():
        return [
            Check(
                WARN,
                "model",
                f"{settings.embedding_model} loads through fastembed (its cache, or the model hub"
                f"{' — offline is set' if settings.offline else ''}); not checked here",
            )
        ]
    try:
        source = find_weights(Path(settings.weights_dir) if settings.weights_dir else None)
    except PgcodeError as exc:
        return [Check(FAIL, "model", str(exc))]
    checked = [n for n in PINNED_SHA256 if (source.directory / n).is_file()]
    out = [Check(OK, "model", f"{DEFAULT_MODEL} weights from {source.label}: {len(checked)} files match their sha256")]
    built = Path(settings.cache_dir).expanduser() / "models"
    if not any(built.glob("*/model.onnx")):
        out.append(
            Check(OK, "model", f"not built yet: the first search or index builds it into {built} (a few seconds)")
        )
    return out


# ---- data dir and ports ---------------------------------------------------------------------


def _data_dir(settings: Settings) -> list[Check]:
    folder = Path(settings.data_dir).expanduser()
    if not folder.exists():
        parent = next((p for p in folder.parents if p.exists()), None)
        if parent is not None and os.access(parent, os.W_OK):
            return [Check(OK, "data_dir", f"{folder} does not exist yet; the first pgcode command creates it")]
        return [
            Check(FAIL, "data_dir", f"{folder} does not exist and cannot be created: set data_dir to a writable folder")
        ]
    if not folder.is_dir():
        return [Check(FAIL, "data_dir", f"{folder} is not a folder: set data_dir (PGCODE_DATA_DIR) to a folder")]
    if not os.access(folder, os.W_OK | os.X_OK):
        return [Check(FAIL, "data_dir", f"{folder} is not writable by this user: fix its owner or set data_dir")]
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        return [Check(WARN, "data_dir", f"{folder} is readable by other users (mode {mode:o}): chmod 700 {folder}")]
    return [Check(OK, "data_dir", f"{folder}, owner-only")]


def _ports(settings: Settings) -> list[Check]:
    out = []
    for what, port in (("serve --transport http", settings.port), ("worker metrics", settings.metrics_port)):
        if port == 0:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((settings.host, port))
            except OSError as exc:
                out.append(
                    Check(
                        WARN,
                        "port",
                        f"{settings.host}:{port} ({what}) is taken ({exc.strerror}): a pgcode server may be running "
                        "there already; else choose another with --port / --metrics-port",
                    )
                )
                continue
        out.append(Check(OK, "port", f"{settings.host}:{port} ({what}) is free"))
    return out


# ---- database, watcher and repositories -------------------------------------------------------


async def _database(settings: Settings) -> list[Check]:
    try:
        async with database_url(settings) as dsn:
            with anyio.fail_after(_CONNECT_SECONDS):
                conn = await asyncpg.connect(dsn, **connect_kwargs(settings, read_only=True))
            try:
                return await _inspect(conn, settings, dsn)
            finally:
                await conn.close()
    except TimeoutError:
        return [Check(FAIL, "database", f"no answer within {_CONNECT_SECONDS:g} s: is the server up and reachable?")]
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, PgcodeError) as exc:
        where = redact_url(settings.database_url) if settings.database_url else f"embedded in {settings.data_dir}"
        return [Check(FAIL, "database", f"cannot use the database ({where}): {exc}")]


async def _inspect(conn: asyncpg.Connection, settings: Settings, dsn: str) -> list[Check]:
    from .db.migrate import applied_versions, migrations, pending
    from .db.size import disk_use

    out: list[Check] = []
    version = await conn.fetchval("SHOW server_version")
    where = "embedded" if not settings.database_url else redact_url(dsn)
    size = (await disk_use(conn)).database_bytes
    out.append(Check(OK, "database", f"PostgreSQL {version} ({where}), {size / 1e6:.1f} MB"))
    extensions = {r["name"]: (r["installed"], r["default"]) for r in await conn.fetch(_EXTENSIONS)}
    for name, floor in (("vector", "0.7"), ("pg_trgm", None)):
        installed, available = extensions.get(name, (None, None))
        if installed is None and available is None:
            out.append(Check(FAIL, "database", f"extension {name} is not available on this server: install it"))
        elif installed is None:
            out.append(
                Check(
                    WARN,
                    "database",
                    f"extension {name} {available} is available, not created yet: the first index creates it",
                )
            )
        elif floor and _older(installed, floor):
            out.append(
                Check(
                    FAIL,
                    "database",
                    f"extension {name} {installed} is older than {floor}: ALTER EXTENSION {name} UPDATE",
                )
            )
        else:
            out.append(Check(OK, "database", f"extension {name} {installed}"))
    try:
        waiting = await pending(conn)
        newer = await applied_versions(conn) - {m.version for m in migrations()}
    except asyncpg.PostgresError as exc:
        waiting, newer = [], set()
        out.append(Check(WARN, "database", f"cannot read the applied migrations: {exc}"))
    if newer:
        out.append(
            Check(FAIL, "database", f"the schema is newer than this pgcode (migration {max(newer)}): upgrade pgcode")
        )
    elif waiting:
        out.append(
            Check(
                WARN,
                "database",
                f"{len(waiting)} migrations not applied yet: the next writing pgcode command applies them",
            )
        )
    else:
        out.append(Check(OK, "database", f"schema current ({len(migrations())} migrations)"))
    limit = int(await conn.fetchval("SHOW max_connections"))
    used = int(await conn.fetchval("SELECT count(*) FROM pg_stat_activity"))
    free = limit - used
    status = OK if free >= settings.pool_max_size else WARN
    advice = (
        ""
        if status == OK
        else f": fewer than one pool ({settings.pool_max_size}); raise max_connections or lower pool_max_size"
    )
    out.append(Check(status, "database", f"{free} of {limit} connections free{advice}"))
    if waiting or "repositories" not in {r["relname"] for r in await conn.fetch(_TABLES)}:
        return out
    out.extend(await _repositories(conn, settings))
    return out


_EXTENSIONS = """
SELECT a.name, e.extversion AS installed, a.default_version AS "default"
FROM pg_available_extensions a LEFT JOIN pg_extension e ON e.extname = a.name
WHERE a.name IN ('vector', 'pg_trgm')
"""
_TABLES = "SELECT relname FROM pg_class WHERE relkind IN ('r', 'p') AND relname = 'repositories'"


def _older(version: str, floor: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())

    return parts(version) < parts(floor)


async def _repositories(conn: asyncpg.Connection, settings: Settings) -> list[Check]:
    from .embed.model import key_for
    from .indexer import repositories

    out: list[Check] = []
    repos = await repositories.all_repositories(conn)
    if not repos:
        return [Check(OK, "repository", "none indexed yet: `pgcode index PATH`")]
    folders = 0
    for repo in repos:
        stats = await repositories.stats(conn, repo, key_for(settings))
        folders += int(
            await conn.fetchval(
                "SELECT count(DISTINCT regexp_replace(path, '/[^/]*$', '')) FROM files WHERE repository_id = $1",
                repo.id,
            )
        )
        out.append(_repository(repo, stats))
    out.extend(_watch_limits(folders))
    return out


def _repository(repo: Repository, stats: RepositoryStats) -> Check:
    name = repo.name
    root = Path(repo.root_path)
    if not root.is_dir():
        return Check(
            FAIL,
            "repository",
            f"{name}: root {root} is missing; answers come from its last index. Move it back, or "
            f"`pgcode remove {name}`",
        )
    if not os.access(root, os.R_OK | os.X_OK):
        return Check(FAIL, "repository", f"{name}: root {root} is not readable by this user")
    state = repo.state
    if state == "error":
        return Check(FAIL, "repository", f"{name}: the last pass failed ({repo.last_error}); `pgcode index {root}`")
    indexed = repo.indexed_at
    age = "never" if indexed is None else _age(time.time() - indexed.timestamp())
    pending = stats.vectors_pending
    files = stats.files
    if state != "ready":
        return Check(
            WARN,
            "repository",
            f"{name}: {state} ({files} files, last whole pass {age}); a pass is running or was cut short: `pgcode index {root}` resumes it",
        )
    if pending:
        return Check(
            WARN,
            "repository",
            f"{name}: {files} files, {pending} chunk texts without vectors (a server or `pgcode index` embeds them), last whole pass {age}",
        )
    return Check(OK, "repository", f"{name}: {files} files at {root}, vectors complete, last whole pass {age}")


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _watch_limits(folders: int) -> list[Check]:
    if not sys.platform.startswith("linux") or not _INOTIFY.is_dir():
        return []
    try:
        watches = int((_INOTIFY / "max_user_watches").read_text())
        instances = int((_INOTIFY / "max_user_instances").read_text())
    except (OSError, ValueError):
        return [Check(WARN, "watcher", "cannot read the inotify limits in /proc/sys/fs/inotify")]
    if folders > watches * 0.8:
        return [
            Check(
                WARN,
                "watcher",
                f"the indexed roots hold ~{folders} folders and inotify allows {watches} watches per user: "
                f"sudo sysctl fs.inotify.max_user_watches={max(524288, folders * 2)}",
            )
        ]
    return [Check(OK, "watcher", f"inotify: {watches} watches per user for ~{folders} folders, {instances} instances")]
