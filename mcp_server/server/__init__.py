"""The MCP server: process state, tools, and the stdio / SSE / streamable HTTP transports."""
