"""Search tools: search_code and grep."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from ..db.catalog import NOTHING_INDEXED, nothing_indexed
from ..indexer import repositories
from ..search.filters import Filters
from ..search.grep import grep as grep_lines
from ..search.hybrid import MAX_QUERY_CHARS
from ..search.hybrid import search_code as hybrid_search
from .errors import tool_errors
from .freshness import freshness
from .models import GrepHit, GrepResponse, SearchHit, SearchResponse
from .state import ServerState

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Repository = Annotated[str | None, Field(description="name or root path; default all", max_length=4096)]
PathGlob = Annotated[
    str | None,
    Field(
        description="only paths matching this glob: '*.py' (any folder), 'src/**/*.ts', '*.{ts,tsx}'", max_length=500
    ),
]
Language = Annotated[
    str | None,
    Field(
        description="python, javascript, typescript, tsx, go, rust, java, c, cpp, csharp, ruby, php, kotlin, swift, bash, markdown, ...",
        max_length=40,
    ),
]


def register(mcp: MCPServer, state: ServerState) -> None:
    async def _filters(
        repository: str | None, path_glob: str | None = None, language: str | None = None, kind: str | None = None
    ) -> Filters:
        filters = Filters(path_glob=path_glob, language=language, kind=kind)
        if repository:
            async with state.db.pool.acquire() as conn:
                filters.repository_id = (await repositories.find(conn, repository)).id
        return filters

    # Greps hold at most half the pool, so a burst of costly patterns leaves connections to searches.
    grep_slots = anyio.CapacityLimiter(max(1, state.settings.pool_max_size // 2))

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def search_code(
        query: Annotated[
            str,
            Field(
                description="natural language ('where is the session cookie signed') or identifiers",
                max_length=MAX_QUERY_CHARS,
            ),
        ],
        repository: Repository = None,
        path_glob: PathGlob = None,
        language: Language = None,
        kind: Annotated[
            str | None,
            Field(description="symbol kind: function, method, class, struct, ...", max_length=40),
        ] = None,
        mode: Literal["hybrid", "semantic", "keyword"] = "hybrid",
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
    ) -> SearchResponse:
        """Find code by meaning or by name when you don't know where it lives. Hybrid ranks vectors,
        code-aware full text and symbol names together; 'keyword' is exact-ish and instant,
        'semantic' by meaning only. Hits give path, lines, enclosing symbol and a snippet. Exact
        regex: grep; a known name: find_symbol."""
        filters = await _filters(repository, path_glob, language, kind)
        embedder = await state.embedder() if mode != "keyword" else None
        result = await hybrid_search(
            state.db.pool,
            embedder,
            query,
            filters=filters,
            mode=mode,
            limit=limit,
            ef_search=state.settings.hnsw_ef_search,
        )
        fresh = await freshness(
            state,
            filters.repository_id,
            vectors_pending=result.vectors_pending,
            repositories={h.repository for h in result.results},
        )
        fresh.notes.extend(result.notes)
        if not result.results:
            async with state.db.pool.acquire() as conn:
                if await nothing_indexed(conn):
                    fresh.notes.append(NOTHING_INDEXED)
        if embedder is None and mode != "keyword" and state.model_error:
            fresh.notes.append(f"semantic ranking is off: {state.model_error}")
        return SearchResponse(
            results=[SearchHit.model_validate(h, from_attributes=True) for h in result.results],
            mode=result.mode,
            freshness=fresh,
        )

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def grep(
        pattern: Annotated[
            str, Field(description="a POSIX regular expression (or text, with literal=true)", max_length=1000)
        ],
        repository: Repository = None,
        path_glob: PathGlob = None,
        language: Language = None,
        limit: Annotated[int, Field(ge=1, le=1000)] = 100,
        literal: Annotated[bool, Field(description="match the pattern as plain text")] = False,
        case_sensitive: bool = True,
    ) -> GrepResponse:
        """Every line of indexed code matching a regular expression or literal text, with
        repository, path and line number. Use it for exact strings, error messages, TODOs or
        all uses of an identifier in text; use search_code when you only know what the code does."""
        filters = await _filters(repository, path_glob, language)
        with anyio.move_on_after(state.settings.grep_timeout_ms / 1000) as waited:
            await grep_slots.acquire()
        if waited.cancelled_caught:
            raise ToolError(
                f"{grep_slots.total_tokens:g} greps are already running on this server, the most it runs "
                "at once; try again in a few seconds, or make the pattern more specific"
            )
        try:
            async with state.db.pool.acquire() as conn:
                matches, truncated = await grep_lines(
                    conn,
                    pattern,
                    filters,
                    limit=limit,
                    literal=literal,
                    case_sensitive=case_sensitive,
                    timeout_ms=state.settings.grep_timeout_ms,
                )
        finally:
            grep_slots.release()
        return GrepResponse(
            matches=[
                GrepHit(repository=m.repository, path=m.path, line=m.line, text=m.text, language=m.language)
                for m in matches
            ],
            truncated=truncated,
            freshness=await freshness(state, filters.repository_id, repositories={m.repository for m in matches}),
        )
