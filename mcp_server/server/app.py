"""Build the MCP server: every tool, bound to one process's state."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from .. import __version__
from . import tools_graph, tools_index, tools_search
from .state import ServerState

INSTRUCTIONS = """\
pgcode indexes code repositories and answers questions about them.
- Don't know where something lives? search_code (meaning or names), grep (exact text/regex).
- Know a name? find_symbol, then get_symbol for its source, or file_outline for a file's structure.
- How does code connect? find_callers / find_callees, find_references, goto_definition,
  call_path, impact_analysis (what breaks if this changes), get_dependencies / get_dependents.
- New to a repository? repo_map lists its most central symbols.
- Repositories: list_repositories, index_repository (add or refresh), index_status (freshness).
Every result has repository, repo-relative path and 1-based lines: cite and open them.
Graph edges carry a confidence (1.0 = resolved through imports/self; lower = matched by name).
"""


def create_server(state: ServerState) -> MCPServer:
    mcp: MCPServer = MCPServer("pgcode", instructions=INSTRUCTIONS, version=__version__)
    tools_search.register(mcp, state)
    tools_graph.register(mcp, state)
    tools_index.register(mcp, state)
    return mcp
