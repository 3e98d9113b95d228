"""One compiler pass over a repository: run each of its languages' SCIP indexers, then import each index in one transaction."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import anyio
import asyncpg
import structlog

from ...config import Settings
from ...db.pool import Database
from ...index.records import CONF_EXACT, CONF_THROUGH
from ...index.repo_settings import read_repo_settings
from .. import repositories
from ..lease import LeaseManager, manager_for
from ..store import EDGE_COLUMNS
from . import status
from .indexers import Indexer, for_languages, locate
from .matching import Plan, StoredEdge, StoredSymbol, plan_import
from .reader import ScipIndex, read_index
from .runner import IndexerFailed, run_indexer

log = structlog.get_logger(__name__)

_MAX_TEXT_BYTES = 4_000_000  # a document larger than this is not read back to match names


async def compiler_pass(
    db: Database, settings: Settings, repo: repositories.Repository, *, leases: LeaseManager | None = None
) -> list[status.PassStatus]:
    """Run the pass for every indexer the repository's languages call for; returns where each stands.
    Never raises for an indexer's failure: that is recorded as the pass's state."""
    leases = leases or manager_for(db)
    root = Path(repo.root_path)
    async with db.pool.acquire() as conn:
        languages = {
            r["language"]
            for r in await conn.fetch(
                "SELECT DISTINCT language FROM files WHERE repository_id = $1 AND language IS NOT NULL", repo.id
            )
        }
    try:
        enabled = (await anyio.to_thread.run_sync(read_repo_settings, root)).compiler_pass
    except Exception:  # a broken .pgcode.toml fails the tree-sitter pass, which says why
        enabled = None
    for indexer in for_languages(languages):
        if not settings.compiler_pass or enabled is False:
            async with db.pool.acquire() as conn:
                await status.record(conn, repo.id, indexer.name, "off", None)
            continue
        executable = locate(indexer, settings)
        if executable is None:
            async with db.pool.acquire() as conn:
                await status.record(conn, repo.id, indexer.name, "unavailable", indexer.install_hint())
            continue
        await _run_one(db, settings, repo, root, indexer, executable, leases)
    async with db.pool.acquire() as conn:
        return await status.passes(conn, [repo.id])


async def _run_one(
    db: Database,
    settings: Settings,
    repo: repositories.Repository,
    root: Path,
    indexer: Indexer,
    executable: Path,
    leases: LeaseManager,
) -> None:
    async with db.pool.acquire() as conn:
        # Its deadline: the indexer's time limit, and as long again for reading and importing its index.
        started_at = await status.begin(conn, repo.id, indexer.name, 2 * settings.compiler_pass_timeout_seconds)
    try:
        run = await run_indexer(indexer, executable, root, settings)
        index = await anyio.to_thread.run_sync(read_index, run.index)
        began = time.perf_counter()
        # The writer's lease and lock for the import only: the indexer ran without them, beside the watcher.
        async with leases.hold(repo.id, repo.name), db.pool.acquire() as conn:
            plan, skipped, documents = await _plan(conn, repo.id, root, indexer, index, started_at)
            async with conn.transaction():
                await _apply(conn, repo.id, plan)
                await _bind(conn, plan, list(documents.values()), started_at)
            await status.finish(
                conn,
                repo.id,
                indexer.name,
                version=index.version,
                confirmed=len(plan.confirm),
                corrected=len(plan.correct),
                added=len(plan.add) + len(plan.resolve),
                dropped=len(plan.drop),
                skipped=skipped,
                seconds=run.seconds + (time.perf_counter() - began),
                peak_rss_mb=run.peak_rss_mb,
            )
        log.info(
            "compiler_pass",
            repository=repo.name,
            indexer=indexer.name,
            confirmed=len(plan.confirm),
            corrected=len(plan.correct),
            added=len(plan.add) + len(plan.resolve),
            dropped=len(plan.drop),
            seconds=round(run.seconds, 1),
            peak_rss_mb=round(run.peak_rss_mb),
        )
    except IndexerFailed as exc:
        await _failed(db, repo.id, indexer.name, str(exc))
    except Exception as exc:  # recorded, never raised: the pass is an extra, the tree-sitter graph stands
        log.exception("compiler_pass_failed", repository=repo.name, indexer=indexer.name)
        await _failed(db, repo.id, indexer.name, f"{type(exc).__name__}: {exc}")
    except BaseException:
        with anyio.CancelScope(shield=True):
            await _failed(db, repo.id, indexer.name, "stopped before it finished (pgcode was shutting down)")
        raise


async def _failed(db: Database, repository_id: int, indexer: str, error: str) -> None:
    async with db.pool.acquire() as conn:
        await status.record(conn, repository_id, indexer, "failed", error)


async def _plan(
    conn: asyncpg.Connection, repository_id: int, root: Path, indexer: Indexer, index: ScipIndex, started_at: datetime
) -> tuple[Plan, list[str], dict[str, int]]:
    """What the index changes, against the rows as they are now; the documents left out because
    their files were stored again after the indexer started (the index may describe another version);
    and those imported (path -> file id)."""
    rows = await conn.fetch(
        "SELECT id, path, mtime_ns, indexed_at FROM files WHERE repository_id = $1 AND language = ANY($2::text[])",
        repository_id,
        sorted(indexer.languages),
    )
    files = {r["path"]: r for r in rows}
    wanted = {d.path for d in index.documents}
    documents: dict[str, int] = {}
    skipped: list[str] = []
    for path in sorted(wanted & files.keys()):
        r = files[path]
        if r["indexed_at"] > started_at:
            skipped.append(path)
        else:
            documents[path] = r["id"]
    texts, changed = await anyio.to_thread.run_sync(
        _read_texts, root, documents, {p: files[p]["mtime_ns"] for p in documents}
    )
    for path in changed:  # changed on disk since it was stored: the watcher has it queued
        skipped.append(path)
        del documents[path]
    file_ids = list(documents.values())
    symbols = [
        StoredSymbol(r["id"], r["file_id"], r["kind"], r["name"], r["qualified_name"], r["start_line"], r["end_line"])
        for r in await conn.fetch(
            "SELECT id, file_id, kind, name, qualified_name, start_line, end_line FROM symbols"
            " WHERE file_id = ANY($1::bigint[])",
            file_ids,
        )
    ]
    edges = [
        StoredEdge(
            r["id"],
            r["file_id"],
            r["source_id"],
            r["target_id"],
            r["kind"],
            r["target_simple"],
            r["line"],
            r["alias"],
            r["through"],
        )
        for r in await conn.fetch(
            "SELECT id, file_id, source_id, target_id, kind, target_simple, line, alias,"
            " provenance = 'compiler' AND confidence = $2::real AS through FROM edges"
            " WHERE file_id = ANY($1::bigint[]) AND kind <> 'contains'",
            file_ids,
            CONF_THROUGH,
        )
    ]
    plan = await anyio.to_thread.run_sync(plan_import, index, documents, texts, symbols, edges, set(skipped))
    return plan, sorted(skipped), documents


def _read_texts(
    root: Path, documents: dict[str, int], mtimes: dict[str, int]
) -> tuple[dict[int, list[str]], list[str]]:
    """Each document's lines as on disk, read only inside the root; and the documents whose file
    changed since it was stored."""
    texts: dict[int, list[str]] = {}
    changed: list[str] = []
    base = root.resolve()
    for path, file_id in documents.items():
        full = root / path
        try:
            if full.is_symlink() or not full.resolve().is_relative_to(base):
                changed.append(path)
                continue
            stat = full.stat()
            if stat.st_mtime_ns != mtimes[path]:
                changed.append(path)
                continue
            if stat.st_size > _MAX_TEXT_BYTES:
                continue
            texts[file_id] = full.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            changed.append(path)
    return texts, changed


async def _bind(conn: asyncpg.Connection, plan: Plan, file_ids: list[int], started_at: datetime) -> None:
    """The imported files' bindings, as of the indexer's start: the last pass's give way."""
    await conn.execute("DELETE FROM compiler_bindings WHERE file_id = ANY($1::bigint[])", file_ids)
    if plan.bind:
        await conn.copy_records_to_table(
            "compiler_bindings",
            records=[(*row, started_at) for row in plan.bind],
            columns=("file_id", "line", "name", "def_file_id", "def_line", "written_at"),
        )


async def _apply(conn: asyncpg.Connection, repository_id: int, plan: Plan) -> None:
    """The plan's changes: call inside the repository's one transaction for this import."""
    if plan.confirm:
        await conn.execute(
            "UPDATE edges SET provenance = 'compiler', confidence = $2 WHERE id = ANY($1::bigint[])",
            plan.confirm,
            CONF_EXACT,
        )
    retarget = plan.correct + plan.resolve
    if retarget:
        await conn.execute(
            "UPDATE edges e SET target_id = v.t, provenance = 'compiler', confidence = $3"
            " FROM unnest($1::bigint[], $2::bigint[]) AS v(id, t) WHERE e.id = v.id",
            [c[0] for c in retarget],
            [c[1] for c in retarget],
            CONF_EXACT,
        )
    if plan.drop:
        await conn.execute("DELETE FROM edges WHERE id = ANY($1::bigint[])", plan.drop)
    if plan.add:
        # The target's qualified name as the one candidate: if its file is stored again, the
        # resolver finds the new symbol of that name.
        await conn.copy_records_to_table(
            "edges",
            records=[
                (
                    repository_id,
                    a.file_id,
                    a.source_id,
                    a.target_id,
                    a.kind,
                    a.name,
                    a.name,
                    [a.target_qualified_name],
                    [a.confidence],
                    None,
                    a.line,
                    a.confidence,
                    "compiler",
                )
                for a in plan.add
            ],
            columns=(*EDGE_COLUMNS, "provenance"),
        )
