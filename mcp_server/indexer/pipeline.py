"""Index a repository: discover -> prepare (read, parse, chunk) -> store -> resolve -> embed; or remove it, as its writer."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import anyio
import asyncpg
import structlog

from ..config import Settings
from ..db.pool import Database
from ..embed.model import Embedder
from ..errors import InvalidArgument
from ..index.discover import FoundFile, PathScan, discover, scan_paths
from ..index.modules import module_names
from ..index.prepare import INDEX_FORMAT, Prepared, Skipped, Unchanged, prepare_batch
from ..index.project import EMPTY_PROJECT, Project, is_manifest, read_project
from ..index.repo_settings import RepoSettings, read_repo_settings
from ..index.secrets import SecretRules
from . import repositories, store
from .embed import embed_pending
from .lease import HANDOVER_SECONDS, LeaseManager, manager_for, removed_meanwhile
from .parent_watch import exit_with_parent
from .resolve import resolve_edges

log = structlog.get_logger(__name__)

# (stage, done, total): stages are "discover", "parse", "resolve", "embed".
ProgressFn = Callable[[str, int, int], None]

_BATCH = 24  # files per worker task
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
    leases: LeaseManager | None = None,
    wait: float = 0.0,
) -> IndexReport:
    """Register `root` if it is new and bring its index up to date (see index_registered)."""
    root = _check_root(root)
    async with db.pool.acquire() as conn:
        repo = await repositories.register(conn, root, name)
    return await index_registered(db, settings, repo, embedder=embedder, progress=progress, leases=leases, wait=wait)


async def index_registered(
    db: Database,
    settings: Settings,
    repo: repositories.Repository,
    *,
    embedder: Embedder | None = None,
    progress: ProgressFn | None = None,
    leases: LeaseManager | None = None,
    wait: float = 0.0,
) -> IndexReport:
    """Bring the index of a registered repository up to date; vectors too when an embedder is given.
    Never registers it again: a repository removed meanwhile stays removed (RepositoryNotFound).
    Raises IndexBusy when another process owns it (this process's own watcher does not count) and
    does not hand it over within `wait` seconds."""
    root = _check_root(Path(repo.root_path))
    report_progress: ProgressFn = progress or (lambda stage, done, total: None)
    leases = leases or manager_for(db)
    async with leases.hold(repo.id, repo.name, wait=wait), _removal_ends_the_pass(db, repo):
        report = IndexReport(repository=repo.name, root=str(root))
        async with db.pool.acquire() as conn:
            # Read under the lease: a repository not 'ready' now had a pass cut short (a kill, a
            # crash of the database) after storing files whose edges were never resolved.
            state = await conn.fetchval("SELECT state FROM repositories WHERE id = $1", repo.id)
            if state is None:
                raise removed_meanwhile(repo.name)
            await repositories.set_state(conn, repo.id, "indexing")
        try:
            await _index_files(db, settings, root, repo.id, report, report_progress, resolve_all=state != "ready")
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                async with db.pool.acquire() as conn:
                    await repositories.set_state(conn, repo.id, "error", error=str(exc) or type(exc).__name__)
            raise
        async with db.pool.acquire() as conn:
            await repositories.set_state(conn, repo.id, "ready", skipped=dict(report.skipped), finished=True)
    if embedder is not None:
        started = time.perf_counter()
        report.vectors_embedded = await embed_pending(
            db.pool, embedder, settings, repo.id, progress=lambda d, t: report_progress("embed", d, t)
        )
        report.seconds["embed"] = time.perf_counter() - started
    return report


async def index_paths(
    db: Database,
    settings: Settings,
    repository: repositories.Repository,
    rel_paths: Iterable[str],
    *,
    leases: LeaseManager | None = None,
) -> IndexReport:
    """Bring just these repo-relative paths (files or folders, present or gone) up to date, without
    walking the repository: the watcher's fast path for a few saved files. Vectors are left to
    `embed_pending`. Raises IndexBusy when another process owns the repository."""
    leases = leases or manager_for(db)
    root = Path(repository.root_path)
    report = IndexReport(repository=repository.name, root=str(root))
    paths = sorted(set(rel_paths))
    async with leases.hold(repository.id, repository.name), _removal_ends_the_pass(db, repository):
        # 'indexing' while the batch writes: if it is cut short (a kill, a lost database, an error)
        # after storing files but before resolving their edges, the state stays so, and the next
        # whole pass resolves everything (see index_repository).
        async with db.pool.acquire() as conn:
            marked = (
                await conn.fetchval(
                    "UPDATE repositories SET state = 'indexing' WHERE id = $1 AND state = 'ready' RETURNING true",
                    repository.id,
                )
                is not None
            )
        await _index_paths(db, settings, repository, root, paths, report)
        if marked:
            async with db.pool.acquire() as conn:
                await conn.execute(
                    "UPDATE repositories SET state = 'ready' WHERE id = $1 AND state = 'indexing'", repository.id
                )
    return report


async def remove_repository(
    db: Database,
    settings: Settings,
    repo: repositories.Repository,
    *,
    leases: LeaseManager | None = None,
    wait: float = HANDOVER_SECONDS,
) -> None:
    """Drop `repo` and everything indexed of it, as its one writer. This process's passes over it
    stop first (each answers that the repository was removed); a watcher in another process is asked
    to hand it over and given `wait` seconds (IndexBusy after that), so no pass writes while the
    rows go, and none registers it again."""
    leases = leases or manager_for(db)
    leases.interrupt(repo.id)
    async with leases.hold(repo.id, repo.name, wait=wait), db.pool.acquire() as conn:
        await repositories.remove(conn, repo.id, vector_grace_seconds=settings.vector_gc_grace_seconds)


@asynccontextmanager
async def _removal_ends_the_pass(db: Database, repo: repositories.Repository) -> AsyncIterator[None]:
    """A repository removed by a writer that did not wait for the lease (an older pgcode, plain
    SQL) fails the next row stored for it: that is the end of the pass, not a database error."""
    try:
        yield
    except asyncpg.ForeignKeyViolationError:
        with anyio.CancelScope(shield=True):
            async with db.pool.acquire() as conn:
                listed = await conn.fetchval("SELECT true FROM repositories WHERE id = $1", repo.id)
        if listed:
            raise
        raise removed_meanwhile(repo.name) from None


async def _index_paths(
    db: Database,
    settings: Settings,
    repository: repositories.Repository,
    root: Path,
    paths: list[str],
    report: IndexReport,
) -> None:
    """index_paths' work, under its lease."""
    started = time.perf_counter()
    rules = secret_rules(settings)
    repo_settings = await anyio.to_thread.run_sync(read_repo_settings, root)
    max_bytes = repo_settings.max_file_bytes or settings.max_file_bytes
    scan, modules = await anyio.to_thread.run_sync(_scan_paths, root, paths, max_bytes, rules, repo_settings)
    if any(is_manifest(path) for path in scan.scanned):
        # What every import of the language means may have changed: a whole pass sorts it out.
        await _index_files(db, settings, root, repository.id, report, _quiet)
        return
    report.files_seen = len(scan.files)
    report.skipped.update(scan.skipped)
    report.seconds["discover"] = time.perf_counter() - started

    started = time.perf_counter()
    touched = _Touched()
    async with db.pool.acquire() as conn:
        project = Project.from_json(await repositories.project_manifests(conn, repository.id))
        states = await _file_states(conn, repository.id, [f.path for f in scan.files])
        gone = await _paths_gone(conn, repository.id, scan)
        # No size/mtime shortcut here: a change was reported, and two saves within one tick of
        # the file system's clock can leave both equal. The content hash decides instead.
        todo = [(f, modules[f.path], states[f.path].content_hash if f.path in states else None) for f in scan.files]
        if gone:
            await touched.before(conn, await _file_ids(conn, repository.id, gone))
            await store.delete_files(conn, repository.id, gone)
            report.files_deleted = len(gone)
        async for results in _prepare_all(str(root), todo, max_bytes, rules, project):
            await _apply(conn, repository.id, results, states, report, touched)
        report.seconds["parse_store"] = time.perf_counter() - started

        started = time.perf_counter()
        if touched:
            report.edges_resolved = await _resolve_touched(conn, repository.id, touched)
        report.seconds["resolve"] = time.perf_counter() - started


async def _apply(
    conn: asyncpg.Connection,
    repository_id: int,
    results: list[Prepared | Unchanged | Skipped],
    states: dict[str, store.FileState],
    report: IndexReport,
    touched: _Touched,
) -> None:
    """Store prepared files (new ones together in one transaction, others one transaction each),
    remember new stats of unchanged ones, drop skipped ones."""
    new = [r for r in results if isinstance(r, Prepared) and r.found.path not in states]
    await store.store_new_files(conn, repository_id, new)
    for prepared in new:
        touched.after(prepared)
    report.files_indexed += len(new)
    for result in results:
        state = states.get(result.found.path)
        if state is None and isinstance(result, Prepared):
            continue  # stored above
        if isinstance(result, Skipped):
            report.skipped[result.reason] += 1
            if state is not None:  # it was indexed before: drop the stale rows
                await touched.before(conn, [state.id])
                await store.delete_files(conn, repository_id, [result.found.path])
        elif isinstance(result, Unchanged):
            assert state is not None  # only a file with a stored hash can be unchanged
            await store.touch_file(conn, state.id, result.found)
            report.files_unchanged += 1
        else:
            if state is not None:
                await touched.before(conn, [state.id])
            await _store(conn, repository_id, result, replacing=state is not None)
            touched.after(result)
            report.files_indexed += 1


async def _resolve_touched(conn: asyncpg.Connection, repository_id: int, touched: _Touched) -> int:
    file_ids = await _file_ids(conn, repository_id, touched.stored)
    return await resolve_edges(conn, repository_id, file_ids, touched.changed_names(), edge_ids=sorted(touched.inbound))


def _quiet(stage: str, done: int, total: int) -> None:
    """Progress of a whole pass the watcher started: nobody is watching a bar."""


def _scan_paths(
    root: Path, paths: list[str], max_file_bytes: int, rules: SecretRules, repo_settings: RepoSettings
) -> tuple[PathScan, dict[str, str]]:
    """The paths' current state on disk and the module name of each indexable file among them."""
    scan = scan_paths(root, paths, max_file_bytes, rules, repo_settings)
    # A Python module's name follows its package chain: the __init__.py files above it.
    inits: set[str] = set()
    checked: set[str] = set()
    for f in scan.files:
        parent = PurePosixPath(f.path).parent
        while str(parent) != "." and str(parent) not in checked:
            checked.add(str(parent))
            init = f"{parent}/__init__.py"
            if (root / init).is_file():
                inits.add(init)
            parent = parent.parent
    languages = {init: "python" for init in inits} | {f.path: f.language for f in scan.files}
    return scan, module_names(list(languages), languages)


async def _file_states(conn: asyncpg.Connection, repository_id: int, paths: list[str]) -> dict[str, store.FileState]:
    rows = await conn.fetch(
        "SELECT id, path, size, mtime_ns, content_hash FROM files WHERE repository_id = $1 AND path = ANY($2::text[])",
        repository_id,
        paths,
    )
    return {r["path"]: store.FileState(r["id"], r["size"], r["mtime_ns"], bytes(r["content_hash"])) for r in rows}


async def _file_ids(conn: asyncpg.Connection, repository_id: int, paths: Iterable[str]) -> list[int]:
    return [
        r["id"]
        for r in await conn.fetch(
            "SELECT id FROM files WHERE repository_id = $1 AND path = ANY($2::text[])", repository_id, list(paths)
        )
    ]


async def _paths_gone(conn: asyncpg.Connection, repository_id: int, scan: PathScan) -> list[str]:
    """Indexed files that must go: at or under a scanned path, and not found there now."""
    present = {f.path for f in scan.files}
    # Under 'p' is the byte range ['p/', 'p0'): '0' follows '/' (files_repo_path_bytes serves it).
    rows = await conn.fetch(
        """SELECT f.path FROM unnest($2::text[]) AS p(path) JOIN files f ON f.repository_id = $1 AND (
               f.path = p.path
               OR (f.path COLLATE "C" >= p.path || '/' AND f.path COLLATE "C" < p.path || '0'))""",
        repository_id,
        scan.scanned,
    )
    return sorted({r["path"] for r in rows} - present)


@dataclass(slots=True)
class _Touched:
    """What a batch of stored and deleted files changes for the resolver: edges elsewhere that pointed
    at their old symbols (storing a file replaces its symbols, which unresolves those edges), and the
    names whose qualified definitions appeared or disappeared (edges by those names may now resolve
    differently)."""

    inbound: set[int] = field(default_factory=set)
    qnames_before: dict[str, str] = field(default_factory=dict)  # qualified name -> name
    qnames_after: dict[str, str] = field(default_factory=dict)
    stored: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.stored or self.qnames_before or self.inbound)

    async def before(self, conn: asyncpg.Connection, file_ids: list[int]) -> None:
        """Call before the files' rows are replaced or deleted."""
        if not file_ids:
            return
        rows = await conn.fetch(
            """SELECT e.id FROM symbols s JOIN edges e ON e.target_id = s.id
               WHERE s.file_id = ANY($1::bigint[]) AND e.file_id <> ALL($1::bigint[]) AND e.kind <> 'contains'""",
            file_ids,
        )
        self.inbound.update(r["id"] for r in rows)
        for r in await conn.fetch(
            "SELECT DISTINCT qualified_name, name FROM symbols WHERE file_id = ANY($1::bigint[])", file_ids
        ):
            self.qnames_before[r["qualified_name"]] = r["name"]

    def after(self, prepared: Prepared) -> None:
        self.stored.append(prepared.found.path)
        if prepared.parsed is not None:
            for sym in prepared.parsed.symbols:
                self.qnames_after[sym.qualified_name] = sym.name

    def changed_names(self) -> set[str]:
        before, after = self.qnames_before, self.qnames_after
        return {before[q] for q in before.keys() - after.keys()} | {after[q] for q in after.keys() - before.keys()}


def secret_rules(settings: Settings) -> SecretRules:
    """The credential rules the settings ask for: discovery and every file read apply them."""
    return SecretRules.parse(settings.secret_files, settings.redact_secrets)


def _check_root(root: Path) -> Path:
    try:
        resolved = root.expanduser().resolve(strict=True)
    except (OSError, RuntimeError):
        raise InvalidArgument(f"{root} does not exist; pass the folder of a repository") from None
    if not resolved.is_dir():
        raise InvalidArgument(f"{root} is not a folder; pass the folder of a repository")
    return resolved


async def _index_files(
    db: Database,
    settings: Settings,
    root: Path,
    repository_id: int,
    report: IndexReport,
    progress: ProgressFn,
    *,
    resolve_all: bool = False,
) -> None:
    started = time.perf_counter()
    rules = secret_rules(settings)
    repo_settings = await anyio.to_thread.run_sync(read_repo_settings, root)
    max_bytes = repo_settings.max_file_bytes or settings.max_file_bytes
    found = await anyio.to_thread.run_sync(discover, root, max_bytes, rules, repo_settings)
    project = await anyio.to_thread.run_sync(read_project, root, [f.path for f in found.files])
    report.files_seen = len(found.files)
    report.skipped.update(found.skipped)
    progress("discover", len(found.files), len(found.files))
    report.seconds["discover"] = time.perf_counter() - started

    touched = _Touched()
    async with db.pool.acquire() as conn:
        states = await store.file_states(conn, repository_id)
        # Text stored under other credential rules (redaction off, older shapes) or by an older
        # index format is read again: the content hash (which includes the format) then decides.
        made_by = f"{rules.content_key};format {INDEX_FORMAT.decode()}"
        reread = await repositories.content_rules(conn, repository_id) != made_by
        # A changed go.mod / package.json / tsconfig changes what imports mean: every file is read
        # again and its hash (which includes the manifests its language reads) decides.
        project_json = project.to_json()
        new_manifests = await repositories.project_manifests(conn, repository_id) != project_json
        reread = reread or (new_manifests and bool(states))
        on_disk = {f.path for f in found.files}
        gone = sorted(set(states) - on_disk)
        if gone:
            await touched.before(conn, [states[path].id for path in gone])
            await store.delete_files(conn, repository_id, gone)
    report.files_deleted = len(gone)

    modules = module_names(on_disk, {f.path: f.language for f in found.files})
    todo: list[tuple[FoundFile, str, bytes | None]] = []
    for f in found.files:
        state = states.get(f.path)
        if state is not None and state.size == f.size and state.mtime_ns == f.mtime_ns and not reread:
            report.files_unchanged += 1
            continue
        todo.append((f, modules[f.path], state.content_hash if state else None))

    started = time.perf_counter()
    done = 0
    progress("parse", 0, len(todo))
    first_pass = not states
    async for results in _prepare_all(str(root), todo, max_bytes, rules, project):
        async with db.pool.acquire() as conn:
            if first_pass:  # everything is resolved afresh below: nothing to track
                await _apply(conn, repository_id, results, states, report, _Touched())
            else:
                await _apply(conn, repository_id, results, states, report, touched)
        done += len(results)
        progress("parse", done, len(todo))
    if reread or new_manifests:
        async with db.pool.acquire() as conn:
            await repositories.set_content_rules(conn, repository_id, made_by)
            await repositories.set_project_manifests(conn, repository_id, project_json)
    report.seconds["parse_store"] = time.perf_counter() - started

    started = time.perf_counter()
    async with db.pool.acquire() as conn:
        if first_pass or resolve_all or report.files_indexed > max(50, len(on_disk) // 5):
            if report.files_indexed > 50:
                # Fresh statistics before anything plans a query over the new rows: until
                # autovacuum gets to them, the planner takes a new repository for one row per
                # table and picks nested loops that run for minutes (searched right after a
                # first pass on Django). ~1 s on a million edges.
                await conn.execute("ANALYZE files, symbols, edges, chunks")
            report.edges_resolved = await resolve_edges(conn, repository_id)
        elif touched:
            report.edges_resolved = await _resolve_touched(conn, repository_id, touched)
    progress("resolve", 1, 1)
    report.seconds["resolve"] = time.perf_counter() - started


async def _store(
    conn: asyncpg.Connection, repository_id: int, prepared: Prepared, *, replacing: bool = True
) -> set[str]:
    return await store.store_file(
        conn,
        repository_id,
        prepared.found,
        prepared.digest,
        prepared.line_count,
        prepared.parsed,
        prepared.chunks,
        replacing=replacing,
        secrets_redacted=prepared.secrets,
    )


async def _prepare_all(  # type: ignore[no-untyped-def]
    root: str,
    todo: list[tuple[FoundFile, str, bytes | None]],
    max_bytes: int,
    rules: SecretRules,
    project: Project = EMPTY_PROJECT,
):
    """Yield prepared batches in order of completion: a process pool for big jobs, a thread otherwise."""
    batches = [todo[i : i + _BATCH] for i in range(0, len(todo), _BATCH)]
    workers = min(os.cpu_count() or 1, 4)
    if len(todo) < _POOL_THRESHOLD or workers < 2:
        for batch in batches:
            yield await anyio.to_thread.run_sync(prepare_batch, root, batch, max_bytes, rules, project)
        return
    # spawn, not fork: the parent runs threads (event loop helpers, the model) that fork would copy.
    executor = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=exit_with_parent,
        initargs=(os.getpid(),),
    )
    loop = asyncio.get_running_loop()
    queue = iter(batches)
    pending: dict[asyncio.Future[list[Prepared | Unchanged | Skipped]], list[tuple[FoundFile, str, bytes | None]]] = {}
    broken = False
    try:
        for batch in queue:
            pending[loop.run_in_executor(executor, prepare_batch, root, batch, max_bytes, rules, project)] = batch
            if len(pending) >= workers * 2:  # bounded: memory stays flat however large the repository
                break
        while pending:
            finished, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for future in finished:
                batch = pending.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool:
                    # A worker died (out of memory, killed): finish this batch here instead.
                    broken = True
                    result = await anyio.to_thread.run_sync(prepare_batch, root, batch, max_bytes, rules, project)
                nxt = next(queue, None)
                if nxt is not None and not broken:
                    pending[loop.run_in_executor(executor, prepare_batch, root, nxt, max_bytes, rules, project)] = nxt
                elif nxt is not None:
                    pending[
                        asyncio.ensure_future(
                            anyio.to_thread.run_sync(prepare_batch, root, nxt, max_bytes, rules, project)
                        )
                    ] = nxt
                yield result
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=False, cancel_futures=True)
