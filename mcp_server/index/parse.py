"""Parse one source file into symbols and unresolved edges, dispatching on its language."""

from __future__ import annotations

import importlib
from typing import Protocol

from .records import ParsedFile

# language id -> module under mcp_server.index.parsers that implements it
_PARSER_MODULES: dict[str, str] = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "javascript",
    "tsx": "javascript",
    "go": "go",
    "rust": "rust",
    "java": "java",
    "c": "cfamily",
    "cpp": "cfamily",
    "csharp": "csharp",
    "ruby": "ruby",
}


class LanguageParser(Protocol):
    def parse(self, source: bytes, path: str, module_name: str, language: str) -> ParsedFile: ...


def parse_source(source: bytes, path: str, language: str, module_name: str) -> ParsedFile:
    """Symbols and raw edges of one file.

    `path` is repo-relative POSIX; `module_name` is the dotted module path the pipeline derived
    for the file (for Python, the package chain: "django/db/models/base.py" ->
    "django.db.models.base"); parsers use it as the prefix of every qualified name.
    """
    module = importlib.import_module(f"{__package__}.parsers.{_PARSER_MODULES[language]}")
    parser: LanguageParser = module  # type: ignore[assignment]
    return parser.parse(source, path, module_name, language)
