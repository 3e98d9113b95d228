"""Index a repository: discover -> prepare (read, parse, chunk) -> store -> resolve -> embed."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog

from ..config import Settings
from ..db.pool import Database
from ..embed.model import Embedder
from ..errors import IndexBusy, InvalidArgument
from ..index.discover import FoundFile, discover
from ..index.modules import module_names
from ..index.prepare import Prepared, Skipped, Unchanged, prepare_batch
from . import repositories, store
from .embed import embed_pending
from .resolve import resolve_edges

log = structlog.get_logger(__name__)

# (stage, done, total): stages are "discover", "parse", "resolve", "embed".
ProgressFn = Callable[[str, int, int], None]

_LOCK_CLASS = 0x7067  # first key of the per-repository advisory lock
_BATCH = 24           # files per worker task
_POOL_THRESHOLD = 150  # below this many files to prepare, worker start-up costs more than it saves


@dataclass(slots=True)
class IndexReport:
    repository: str
    root: str
    files_seen: int = 0
    files_indexed: int = 0
    files_unchanged: int = 0
    files_deleted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    edges_resolved: int = 0
    vectors_embedded: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall seconds


async def index_repository(
    db: Database,
    settings: Settings,
    root: Path,
    *,
    name: str | None = None,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
) -> IndexReport:
    """Bring the index of `root` up to date; vectors too when an embedder is given."""
    root = _check_root(root)
    report_progress: ProgressFn = progress or (lambda stage, done, total: None)
    async with db.pool.acquire() as lock_conn:
        repo = await repositories.register(lock_conn, root, name)
        got = await lock_conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", _LOCK_CLASS, repo.id)
        if not got:
            raise IndexBusy(f"another pgcode process is indexing {repo.name!r} right now; try again when it ends")
        try:
            report = IndexReport(repository=repo.name, root=str(root))
            await repositories.set_state(lock_conn, repo.id, "indexing")
            try:
                await _index_files(db, settings, root, repo.id, report, report_progress)
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await repositories.set_state(lock_conn, repo.id, "error", error=str(exc) or type(exc).__name__)
                raise
            await repositories.set_state(
                lock_conn, repo.id, "ready", skipped=dict(report.skipped), finished=True
            )
        finally:
            with anyio.CancelScope(shield=True):
                await lock_conn.execute("SELECT pg_advisory_unlock($1, $2)", _LOCK_CLASS, repo.id)
    if embedder is not None:
        started = time.perf_counter()
        report.vectors_embedded = await embed_pending(
            db.pool, embedder, settings, repo.id, progress=lambda d, t: report_progress("embed", d, t)
        )
        report.seconds["embed"] = time.perf_counter() - started
    return report


def _check_root(root: Path) -> Path:
    try:
        resolved = root.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidArgument(f"{root} does not exist; pass the folder of a repository") from None
    if not resolved.is_dir():
        raise InvalidArgument(f"{root} is not a folder; pass the folder of a repository")
    return resolved


async def _index_files(
    db: Database, settings: Settings, root: Path, repository_id: int, report: IndexReport, progress: ProgressFn
) -> None:
    started = time.perf_counter()
    found = await anyio.to_thread.run_sync(discover, root, settings.max_file_bytes)
    report.files_seen = len(found.files)
    report.skipped.update(found.skipped)
    progress("discover", len(found.files), len(found.files))
    report.seconds["discover"] = time.perf_counter() - started

    async with db.pool.acquire() as conn:
        states = await store.file_states(conn, repository_id)
    on_disk = {f.path for f in found.files}
    gone = sorted(set(states) - on_disk)
    async with db.pool.acquire() as conn:
        changed_names = await store.delete_files(conn, repository_id, gone)
    report.files_deleted = len(gone)

    modules = module_names(on_disk, {f.path: f.language for f in found.files})
    todo: list[tuple[FoundFile, str, bytes | None]] = []
    for f in found.files:
        state = states.get(f.path)
        if state is not None and state.size == f.size and state.mtime_ns == f.mtime_ns:
            report.files_unchanged += 1
            continue
        todo.append((f, modules[f.path], state.content_hash if state else None))

    started = time.perf_counter()
    changed_files: list[str] = []
    done = 0
    progress("parse", 0, len(todo))
    async for results in _prepare_all(str(root), todo, settings.max_file_bytes):
        async with db.pool.acquire() as conn:
            for result in results:
                if isinstance(result, Skipped):
                    report.skipped[result.reason] += 1
                    if result.found.path in states:  # it was indexed before: drop the stale rows
                        changed_names |= await store.delete_files(conn, repository_id, [result.found.path])
                elif isinstance(result, Unchanged):
                    await store.touch_file(conn, states[result.found.path].id, result.found)
                    report.files_unchanged += 1
                else:
                    changed_names |= await _store(conn, repository_id, result)
                    changed_files.append(result.found.path)
                    report.files_indexed += 1
        done += len(results)
        progress("parse", done, len(todo))
    report.seconds["parse_store"] = time.perf_counter() - started

    started = time.perf_counter()
    async with db.pool.acquire() as conn:
        first_pass = not states
        if first_pass or len(changed_files) > max(50, len(on_disk) // 5):
            report.edges_resolved = await resolve_edges(conn, repository_id)
        elif changed_files or changed_names:
            file_ids = [
                r["id"] for r in await conn.fetch(
                    "SELECT id FROM files WHERE repository_id = $1 AND path = ANY($2::text[])",
                    repository_id, changed_files,
                )
            ]
            report.edges_resolved = await resolve_edges(conn, repository_id, file_ids, changed_names)
    progress("resolve", 1, 1)
    report.seconds["resolve"] = time.perf_counter() - started


async def _store(conn: object, repository_id: int, prepared: Prepared) -> set[str]:
    return await store.store_file(
        conn,  # type: ignore[arg-type]
        repository_id, prepared.found, prepared.digest, prepared.line_count, prepared.parsed, prepared.chunks,
    )


async def _prepare_all(root: str, todo: list[tuple[FoundFile, str, bytes | None]], max_bytes: int):  # type: ignore[no-untyped-def]
    """Yield prepared batches in order of completion: a process pool for big jobs, a thread otherwise."""
    batches = [todo[i:i + _BATCH] for i in range(0, len(todo), _BATCH)]
    workers = min(os.cpu_count() or 1, 4)
    if len(todo) < _POOL_THRESHOLD or workers < 2:
        for batch in batches:
            yield await anyio.to_thread.run_sync(prepare_batch, root, batch, max_bytes)
        return
    # spawn, not fork: the parent runs threads (event loop helpers, the model) that fork would copy.
    executor: Executor = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    loop = asyncio.get_running_loop()
    try:
        pending: set[asyncio.Future[list[Prepared | Unchanged | Skipped]]] = set()
        queue = iter(batches)
        in_flight = workers * 2  # bounded: memory stays flat however large the repository
        for batch in queue:
            pending.add(loop.run_in_executor(executor, prepare_batch, root, batch, max_bytes))
            if len(pending) >= in_flight:
                break
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                nxt = next(queue, None)
                if nxt is not None:
                    pending.add(loop.run_in_executor(executor, prepare_batch, root, nxt, max_bytes))
                yield future.result()
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
