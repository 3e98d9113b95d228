"""pgcode: a live map of code for AI assistants, in PostgreSQL + pgvector, served over MCP."""

__version__ = "0.1.0"
