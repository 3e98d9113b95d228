"""Symbol and graph tools: find/get symbols, outlines, repo map, definitions, references, calls, impact."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..errors import InvalidArgument
from ..graph import repomap, symbols, walk
from ..graph.models import (
    DefinitionResult,
    DependencyResult,
    EdgeList,
    FileOutline,
    GraphResult,
    ImpactResult,
    PathResult,
    RepoMap,
    SymbolDetail,
    SymbolList,
)
from .errors import tool_errors
from .freshness import missing_roots, with_root_notes
from .state import ServerState

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

Repository = Annotated[str | None, Field(description="name or root path; default all", max_length=4096)]
SymbolArg = Annotated[
    str,
    Field(
        description="qualified name, a unique suffix or bare name ('Cart.total'), or id",
        max_length=1000,
    ),
]
MinConfidence = Annotated[
    float,
    Field(
        ge=0.0,
        le=1.0,
        description="skip edges below it: 1 resolved, 0.9 via a type or base, 0.5 a name guess",
    ),
]
# Described by its name and values alone: the core profile's list has no room for more (tests/test_tool_surface.py).
Provenance = Literal["compiler", "tree-sitter"] | None
Depth = Annotated[int, Field(ge=1, le=10, description="hops to follow")]
Limit = Annotated[int, Field(ge=1, le=1000)]
PathArg = Annotated[
    str,
    Field(description="repo-relative path ('src/app.py') or an absolute path inside an indexed root", max_length=4096),
]


def register(mcp: MCPServer, state: ServerState) -> None:
    pool = state.db.pool
    root_notes = with_root_notes(state)
    graph_notes = with_root_notes(state, graph=True)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @root_notes
    async def find_symbol(
        name: Annotated[str, Field(description="a name, a qualified-name suffix or a prefix", max_length=1000)],
        repository: Repository = None,
        kind: Annotated[
            str | None, Field(description="function, method, class, interface, struct, ...", max_length=40)
        ] = None,
        limit: Annotated[int, Field(ge=1, le=200)] = 20,
    ) -> SymbolList:
        """Definitions by name (exact, then suffix, prefix, fuzzy): where is an identifier you know
        (part of) defined?"""
        async with pool.acquire() as conn:
            return await symbols.find_symbol(conn, name, repository, kind, limit)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @root_notes
    async def get_symbol(symbol: SymbolArg, repository: Repository = None) -> SymbolDetail:
        """One definition in full: source, docstring, signature, parent, members, caller/callee
        counts. Read code found by find_symbol or search_code."""
        async with pool.acquire() as conn:
            return await symbols.get_symbol(conn, symbol, repository)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @root_notes
    async def file_outline(path: PathArg, repository: Repository = None) -> FileOutline:
        """A file's definitions in line order with nesting and signatures: cheaper than reading it."""
        async with pool.acquire() as conn:
            return await symbols.file_outline(conn, path, repository)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def repo_map(
        repository: Annotated[str, Field(description="repository name or root path", max_length=4096)],
        max_tokens: Annotated[int, Field(ge=64, le=16384, description="size budget of the map")] = 1024,
    ) -> Annotated[CallToolResult, RepoMap]:
        """A compact map of a repository's most central definitions (PageRank over the code graph),
        grouped by file and trimmed to a token budget. Read it first in an unfamiliar codebase."""
        missing = {m.repository: m.note for m in await missing_roots(pool)}
        async with pool.acquire() as conn:
            answer = await repomap.repo_map(conn, repository, max_tokens, missing)
        # Returned whole, not as a model the SDK would also copy into the text as JSON: the text is
        # the map itself, and the budget covers it and the structured part together.
        return CallToolResult(
            content=[TextContent(type="text", text=answer.text)], structured_content=answer.data.model_dump(mode="json")
        )

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def goto_definition(
        path: PathArg,
        line: Annotated[int, Field(ge=1, description="1-based line of the use")],
        column: Annotated[int | None, Field(ge=1, description="1-based column of the identifier")] = None,
        name: Annotated[str | None, Field(description="the identifier used on that line", max_length=1000)] = None,
        repository: Repository = None,
    ) -> DefinitionResult:
        """Where the name used at a file and line (and column or name) is defined, with confidence;
        says when it is outside the index (a library)."""
        async with pool.acquire() as conn:
            return await symbols.goto_definition(conn, path, line, column, name, repository)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def find_references(
        symbol: SymbolArg,
        repository: Repository = None,
        min_confidence: MinConfidence = 0.0,
        limit: Limit = 200,
        provenance: Provenance = None,
    ) -> EdgeList:
        """Every use of a definition (calls, mentions, imports, subclasses) with file, line and text:
        check before renaming or changing a signature."""
        async with pool.acquire() as conn:
            return await walk.find_references(conn, symbol, repository, min_confidence, limit, provenance)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def find_callers(
        symbol: SymbolArg,
        repository: Repository = None,
        depth: Depth = 1,
        min_confidence: MinConfidence = 0.0,
        limit: Limit = 200,
        provenance: Provenance = None,
    ) -> GraphResult:
        """Who calls a function, and who calls those, up to `depth` hops: what depends on it."""
        async with pool.acquire() as conn:
            return await walk.find_callers(conn, symbol, repository, depth, min_confidence, limit, provenance)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def find_callees(
        symbol: SymbolArg,
        repository: Repository = None,
        depth: Depth = 1,
        min_confidence: MinConfidence = 0.0,
        limit: Limit = 200,
        provenance: Provenance = None,
    ) -> GraphResult:
        """What a function calls, transitively up to `depth`; calls into libraries are listed apart
        as unresolved. Use to understand what a function does without reading every body."""
        async with pool.acquire() as conn:
            return await walk.find_callees(conn, symbol, repository, depth, min_confidence, limit, provenance)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def call_path(
        source: SymbolArg,
        target: SymbolArg,
        repository: Repository = None,
        max_depth: Annotated[int, Field(ge=1, le=10)] = 6,
        min_confidence: MinConfidence = 0.0,
        provenance: Provenance = None,
    ) -> PathResult:
        """The shortest call chains (up to three) from one function to another: how does A end up
        calling B?"""
        async with pool.acquire() as conn:
            return await walk.call_path(conn, source, target, repository, max_depth, min_confidence, provenance)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def impact_analysis(
        symbol: Annotated[
            str | None, Field(description="a definition (qualified name, suffix or id)", max_length=1000)
        ] = None,
        path: Annotated[str | None, Field(description="or a file: everything defined in it", max_length=4096)] = None,
        repository: Repository = None,
        depth: Depth = 3,
        min_confidence: MinConfidence = 0.5,
        limit: Limit = 500,
        provenance: Provenance = None,
    ) -> ImpactResult:
        """What could break if a definition or a file changes: transitive dependents (callers,
        references, subclasses, importers) with distance, and which of them are tests."""
        async with pool.acquire() as conn:
            return await walk.impact_analysis(conn, symbol, path, repository, depth, min_confidence, limit, provenance)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def get_dependencies(
        path: Annotated[str | None, Field(description="a file ('src/app.py')", max_length=4096)] = None,
        module: Annotated[
            str | None, Field(description="or a module's qualified name ('django.db.models')", max_length=1000)
        ] = None,
        repository: Repository = None,
        limit: Limit = 500,
    ) -> DependencyResult:
        """What a file or module imports: indexed targets with their files, then external
        packages by name."""
        async with pool.acquire() as conn:
            return await walk.get_dependencies(conn, _one_of(path, module), repository, limit)

    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    @graph_notes
    async def get_dependents(
        path: Annotated[str | None, Field(description="a file ('src/app.py')", max_length=4096)] = None,
        module: Annotated[str | None, Field(description="or a module's qualified name", max_length=1000)] = None,
        repository: Repository = None,
        limit: Limit = 500,
    ) -> DependencyResult:
        """Which files import a file or module (or anything defined in it), and on which lines."""
        async with pool.acquire() as conn:
            return await walk.get_dependents(conn, _one_of(path, module), repository, limit)


def _one_of(path: str | None, module: str | None) -> str:
    if (path is None) == (module is None):
        raise InvalidArgument("pass either path (a file) or module (a qualified module name), not both and not neither")
    return path if path is not None else module  # type: ignore[return-value]
