"""Build the MCP server: every tool, bound to one process's state, timed and counted."""

from __future__ import annotations

import time
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, Tool

from .. import __version__
from . import render, tool_surface, tools_context, tools_graph, tools_index, tools_search
from .errors import ERROR_KINDS_NOTED, READ_ONLY_DATABASE
from .http import request_role
from .state import ServerState

INSTRUCTIONS = """\
pgcode indexes code repositories and answers questions about them.
- A question or a task? get_context: definitions, callers/callees and outlines within a token budget.
- Don't know where something lives? search_code (meaning or names), grep (exact text/regex).
- Know a name? find_symbol, then get_symbol for its source, or file_outline for a file's structure.
- How does code connect? find_callers / find_callees, find_references, goto_definition,
  call_path, impact_analysis (what breaks if this changes), get_dependencies / get_dependents.
- New to a repository? repo_map lists its most central symbols.
- Repositories: list_repositories, index_repository (add or refresh), index_status (freshness).
Every result has repository, repo-relative path and 1-based lines: cite and open them.
Graph edges carry a confidence (1.0 = resolved through imports/self; lower = matched by name).
"""

WRITE_TOOLS = frozenset({"index_repository", "remove_repository"})
READ_ONLY_REFUSAL = (
    "this server is read-only; index with `pgcode worker` or a writable server "
    "(repositories it indexes are searchable here as soon as they are stored)"
)

READ_TOKEN_REFUSAL = (
    "{tool} needs an admin token and this one is read-only (search and graph); the operator grants "
    "admin rights by listing the token as admin:TOKEN in the server's tokens"
)


class PgcodeServer(MCPServer):
    """MCPServer whose every tool call is counted and timed, and which refuses index tools when
    read-only or to a read-only token (the tools stay listed: clients see one surface whatever the
    deployment)."""

    def __init__(self, state: ServerState, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state = state
        self._listing: list[Tool] | None = None

    async def list_tools(self) -> list[Tool]:
        """The tools as registered, described compactly (tool_surface.py); the same list every time."""
        if self._listing is None:
            self._listing = [
                tool.model_copy(
                    update={
                        "description": tool_surface.compact_description(tool.description),
                        "input_schema": tool_surface.compact_input(tool.input_schema),
                        "output_schema": tool_surface.shallow_output(tool.output_schema),
                    }
                )
                for tool in await super().list_tools()
            ]
        return self._listing

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        started = time.perf_counter()
        status = "error"
        READ_ONLY_DATABASE.set(self._state.read_only)
        kinds: list[str] = []
        ERROR_KINDS_NOTED.set(kinds)
        try:
            if name in WRITE_TOOLS:
                if self._state.read_only:
                    kinds.append("read_only")
                    raise ToolError(READ_ONLY_REFUSAL)
                request = getattr(getattr(context, "request_context", None), "request", None)
                if request_role(request) == "read":
                    kinds.append("denied")
                    raise ToolError(READ_TOKEN_REFUSAL.format(tool=name))
            call = super().call_tool(name, arguments, context)
            guard = self._state.reachability
            result = await (guard.guard(call) if guard is not None else call)
            status = "error" if getattr(result, "is_error", False) else "ok"
            if isinstance(result, CallToolResult) and render.is_json_copy(result):
                # The model reads the text: compact lines instead of the indented JSON of the
                # structured result, which stays whole for clients that read it. (A tool that
                # wrote a text of its own, as repo_map does within its budget, keeps it.)
                assert result.structured_content is not None
                text = render.render(name, result.structured_content)
                result = result.model_copy(update={"content": [TextContent(type="text", text=text)]})
            return result
        finally:
            self._state.metrics.observe_tool(name, status, time.perf_counter() - started, kinds[0] if kinds else None)


def create_server(state: ServerState) -> MCPServer:
    mcp = PgcodeServer(state, "pgcode", instructions=INSTRUCTIONS, version=__version__)
    tools_search.register(mcp, state)
    tools_context.register(mcp, state)
    tools_graph.register(mcp, state)
    tools_index.register(mcp, state)
    registered = [tool.name for tool in mcp._tool_manager.list_tools()]
    listed = tool_surface.exposed(state.settings.tools, registered)
    for name in registered:
        if name not in listed:
            mcp.remove_tool(name)  # a call by name is then an unknown tool, as for any other
    state.metrics.known_tools(listed)
    return mcp
