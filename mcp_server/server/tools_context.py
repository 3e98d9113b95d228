"""The get_context tool: one budgeted answer combining search, definitions, callers/callees and outlines."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from ..context import assemble
from ..context.assemble import DEFAULT_BUDGET, MAX_BUDGET, MIN_BUDGET
from ..context.models import ContextResult
from ..search.hybrid import MAX_QUERY_CHARS
from .errors import tool_errors
from .freshness import replica_notes
from .state import ServerState

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def register(mcp: MCPServer, state: ServerState) -> None:
    @mcp.tool(annotations=READ_ONLY)
    @tool_errors
    async def get_context(
        query: Annotated[str | None, Field(description="a question or task", max_length=MAX_QUERY_CHARS)] = None,
        symbol: Annotated[str | None, Field(description="or a symbol (name or id)", max_length=1000)] = None,
        repository: Annotated[str | None, Field(description="name or root path; default all", max_length=4096)] = None,
        budget_tokens: Annotated[int, Field(ge=MIN_BUDGET, le=MAX_BUDGET)] = DEFAULT_BUDGET,
    ) -> Annotated[CallToolResult, ContextResult]:
        """What you need to act on a question or symbol, within a token budget: the best definitions
        with source, their callers and callees, their files' outlines. First stop for "how does X
        work" or before changing X."""
        embedder = await state.embedder() if query else None
        text, result = await assemble.get_context(
            state.db.pool,
            embedder,
            query=query,
            symbol=symbol,
            repository=repository,
            budget_tokens=budget_tokens,
            ef_search=state.settings.hnsw_ef_search,
        )
        lagging = await replica_notes(state)
        if lagging:  # outside the budget: a sentence about the answer, not part of it
            result.notes.extend(lagging)
            text = "\n".join([text, *(f"note: {n}" for n in lagging)])
        # The text is the answer and the budget covers it; the structured part says the same.
        return CallToolResult(
            content=[TextContent(type="text", text=text)], structured_content=result.model_dump(mode="json")
        )
