"""Index tools: index_repository, index_status, list_repositories, remove_repository."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from ..db.replica import replica_lag
from ..embed.model import key_for
from ..errors import InvalidArgument
from ..indexer import repositories
from ..indexer.pipeline import index_repository as run_index
from ..indexer.pipeline import remove_repository as run_remove
from ..indexer.precise import status as compiler_status
from .boundary import check_index_root
from .errors import tool_errors
from .freshness import replica_notes
from .models import CompilerPassInfo, IndexResult, Removed, RepositoryInfo, RepositoryList
from .state import ServerState

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_STAGE_SHARE = {"discover": (0.0, 0.05), "parse": (0.05, 0.9), "resolve": (0.9, 1.0)}


def register(mcp: MCPServer, state: ServerState) -> None:
    async def _info(repo: repositories.Repository) -> RepositoryInfo:
        key = key_for(state.settings)
        async with state.db.pool.acquire() as conn:
            s = await repositories.stats(conn, repo, key)
            passes = await compiler_status.passes(conn, [repo.id])
        watch = state.indexer.status(repo.id) if state.indexer is not None else None
        return RepositoryInfo(
            repository=repo.name,
            root=repo.root_path,
            state=repo.state,
            indexed_at=repo.indexed_at.isoformat() if repo.indexed_at else None,
            last_error=repo.last_error,
            files=s.files,
            symbols=s.symbols,
            edges=s.edges,
            edges_resolved=s.edges_resolved,
            chunks=s.chunks,
            vectors=s.vectors,
            vectors_pending=s.vectors_pending,
            skipped=s.skipped,
            redacted=s.redacted,
            watcher=watch.state if watch else None,
            files_pending=watch.files_pending if watch else 0,
            paused=watch.paused if watch else None,
            compiler=[_pass_info(p) for p in passes],
        )

    async def _listing(infos: list[RepositoryInfo]) -> RepositoryList:
        """The repositories, with the replica's lag on a read-only server (its note past the threshold)."""
        if not state.read_only:
            return RepositoryList(repositories=infos)
        lag = await replica_lag(state.db.pool)
        return RepositoryList(
            repositories=infos,
            replica_lag_seconds=round(lag.seconds, 1) if lag.standby else None,
            notes=await replica_notes(state),
        )

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        )
    )
    @tool_errors
    async def index_repository(
        path: Annotated[
            str, Field(description="absolute path of the repository folder on the server's machine", max_length=4096)
        ],
        ctx: Context,
        name: Annotated[
            str | None,
            Field(
                description="name to refer to it by (default: the folder's name)", max_length=200, pattern=r"^[\w.\-]+$"
            ),
        ] = None,
    ) -> IndexResult:
        """Index a repository folder (or bring it up to date: only changed files are re-read), then
        keep it fresh by watching it. Reports progress. Returns once the code is searchable by
        keyword and in the graph; vectors for semantic search follow in the background
        (see index_status)."""
        if "\x00" in path:
            raise InvalidArgument("path contains a NUL character")
        root = Path(path).expanduser()
        if not root.is_absolute():
            raise InvalidArgument(f"{path!r} is not an absolute path; pass the full path of the repository folder")
        async with state.db.pool.acquire() as conn:
            registered = {r.root_path for r in await repositories.all_repositories(conn)}
        root = check_index_root(root, state.settings, transport=state.transport, registered=registered)

        async def report(stage: str, done: int, total: int) -> None:
            low, high = _STAGE_SHARE.get(stage, (0.0, 1.0))
            fraction = low + (high - low) * (done / total if total else 1.0)
            await ctx.report_progress(round(fraction * 100, 1), 100, f"{stage} {done}/{total}")

        send, receive = anyio.create_memory_object_stream[tuple[str, int, int]](max_buffer_size=1000)

        async def forward() -> None:
            async with receive:
                async for item in receive:
                    await report(*item)

        def progress(stage: str, done: int, total: int) -> None:
            try:
                send.send_nowait((stage, done, total))
            except anyio.WouldBlock:
                pass  # progress is advisory: never slow indexing down for it

        async with anyio.create_task_group() as tg:
            tg.start_soon(forward)
            try:
                outcome = await run_index(state.db, state.settings, root, name=name, progress=progress)
            finally:
                send.close()
        async with state.db.pool.acquire() as conn:
            repo = await repositories.find(conn, outcome.repository)
        if state.indexer is not None:
            await state.indexer.add_repository(repo.id)
        info = await _info(repo)
        await ctx.report_progress(100, 100, "searchable; vectors follow in the background")
        return IndexResult(
            repository=repo.name,
            root=repo.root_path,
            files_seen=outcome.files_seen,
            files_indexed=outcome.files_indexed,
            files_unchanged=outcome.files_unchanged,
            files_deleted=outcome.files_deleted,
            skipped=dict(outcome.skipped),
            symbols=info.symbols,
            edges=info.edges,
            chunks=info.chunks,
            vectors_pending=info.vectors_pending,
            seconds={k: round(v, 3) for k, v in outcome.seconds.items()},
            note="searchable by keyword and in the graph now; semantic vectors are computed in the background"
            if info.vectors_pending
            else "fully indexed",
        )

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def index_status(
        repository: Annotated[str | None, Field(description="name or root path; omit for all", max_length=4096)] = None,
    ) -> RepositoryList:
        """How fresh the index is: per repository, files and vectors still pending, when it was
        last indexed, what the background watcher is doing, where each compiler pass stands. Check
        it when search results look stale or semantic coverage is reported incomplete."""
        async with state.db.pool.acquire() as conn:
            repos = (
                [await repositories.find(conn, repository)] if repository else await repositories.all_repositories(conn)
            )
        return await _listing([await _info(r) for r in repos])

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def list_repositories() -> RepositoryList:
        """The repositories this server has indexed, with their names (what the other tools'
        `repository` argument takes), roots and sizes."""
        async with state.db.pool.acquire() as conn:
            repos = await repositories.all_repositories(conn)
        return await _listing([await _info(r) for r in repos])

    @mcp.tool(
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
        )
    )
    @tool_errors
    async def remove_repository(
        repository: Annotated[str, Field(description="name or root path", max_length=4096)],
    ) -> Removed:
        """Drop a repository from the index and stop watching it. Files on disk are not touched."""
        async with state.db.pool.acquire() as conn:
            repo = await repositories.find(conn, repository)
        # As the repository's one writer: a pass over it here stops (its caller is told it was
        # removed), a watcher elsewhere hands it over; only then do the rows go.
        await run_remove(state.db, state.settings, repo)
        if state.indexer is not None:
            await state.indexer.remove_repository(repo.id)
        return Removed(repository=repo.name, removed=True)


def _pass_info(p: compiler_status.PassStatus) -> CompilerPassInfo:
    """A compiler pass as index_status shows it: its counts, times rounded, and its state in a sentence."""
    fields = dataclasses.asdict(p) | {
        "note": p.sentence(),
        "finished_at": p.finished_at.isoformat() if p.finished_at else None,
        "seconds": round(p.seconds, 1) if p.seconds is not None else None,
        "peak_rss_mb": round(p.peak_rss_mb) if p.peak_rss_mb is not None else None,
    }
    return CompilerPassInfo.model_validate({k: v for k, v in fields.items() if k in CompilerPassInfo.model_fields})
