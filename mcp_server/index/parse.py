"""Parse one source file into symbols and unresolved edges, dispatching on its language."""

from __future__ import annotations

import dataclasses
import importlib
from typing import Protocol

import structlog

from .project import EMPTY_PROJECT, Project
from .records import ParsedFile, RawEdge

log = structlog.get_logger(__name__)

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
    "php": "tags",
    "bash": "tags",
    "kotlin": "tags",
    "swift": "tags",
    "scala": "tags",
    "lua": "tags",
    "elixir": "tags",
    "dart": "tags",
    "ocaml": "tags",
    "solidity": "tags",
    "haskell": "tags",
    "zig": "tags",
    "julia": "tags",
    "perl": "tags",
    "objc": "tags",
    "vue": "sfc",
    "svelte": "sfc",
}

# Names are keys of btree indexes, whose entries PostgreSQL caps at ~2.7 kB: a name past this
# (5,000 nested namespaces, a 10 kB identifier) would fail the file's whole transaction.
MAX_NAME_BYTES = 1000


class NameTooLong(Exception):
    """The file's own module name is over MAX_NAME_BYTES: nothing in it can be stored."""


class LanguageParser(Protocol):
    def parse(self, source: bytes, path: str, module_name: str, language: str) -> ParsedFile: ...


def parse_source(
    source: bytes, path: str, language: str, module_name: str, project: Project = EMPTY_PROJECT
) -> ParsedFile:
    """Symbols and raw edges of one file.

    `path` is repo-relative POSIX; `module_name` is the dotted module path the pipeline derived
    for the file (for Python, the package chain: "django/db/models/base.py" ->
    "django.db.models.base"); parsers use it as the prefix of every qualified name.
    Definitions whose names are too long to index are left out with everything inside them.
    Edge sites past the parsers' EdgeBudget (records.py) are left out too, with a warning.
    `project` is what the repository's manifests say (go.mod, package.json, tsconfig); parsers that
    read it set USES_PROJECT and take it as a keyword.
    """
    module = importlib.import_module(f"{__package__}.parsers.{_PARSER_MODULES[language]}")
    if getattr(module, "USES_PROJECT", False):
        parsed = module.parse(source, path, module_name, language, project=project)
    else:
        parser: LanguageParser = module  # type: ignore[assignment]
        parsed = parser.parse(source, path, module_name, language)
    parsed = bound_names(parsed)
    if parsed.edges_dropped:
        log.warning("edge_sites_dropped", path=path, kept=len(parsed.edges), dropped=parsed.edges_dropped)
    return parsed


def _too_long(text: str) -> bool:
    # Most names are ASCII: the character count settles it without encoding.
    return len(text) > MAX_NAME_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES


def bound_names(parsed: ParsedFile) -> ParsedFile:
    """`parsed` without the symbols (and their descendants) whose names exceed MAX_NAME_BYTES; their
    edges move to the nearest kept ancestor. Raises NameTooLong when the module symbol itself is."""
    symbols = parsed.symbols
    long = [_too_long(s.qualified_name) or _too_long(s.name) for s in symbols]
    if not any(long):
        return parsed
    if long[0]:
        raise NameTooLong(symbols[0].qualified_name[:80])
    # owner[i]: the nearest symbol at or above i that is kept (the module at worst).
    owner: list[int | None] = [None] * len(symbols)
    owner[0] = 0
    for i in range(1, len(symbols)):
        chain: list[int] = []
        cursor: int | None = i
        while cursor is not None and owner[cursor] is None and len(chain) <= len(symbols):
            chain.append(cursor)
            cursor = symbols[cursor].parent
        found = owner[cursor] if cursor is not None and owner[cursor] is not None else 0
        # Walk back down: a symbol is kept only if its name fits and its parent's owner is the parent.
        for j in reversed(chain):
            parent = symbols[j].parent
            found = j if not long[j] and (parent is None or found == parent) else found
            owner[j] = found
    new_index = {old: new for new, old in enumerate(i for i in range(len(symbols)) if owner[i] == i)}
    kept = [
        dataclasses.replace(s, parent=new_index[s.parent] if s.parent is not None else None)
        for i, s in enumerate(symbols)
        if owner[i] == i
    ]
    edges: list[RawEdge] = [dataclasses.replace(e, source=new_index[owner[e.source] or 0]) for e in parsed.edges]
    return dataclasses.replace(parsed, symbols=kept, edges=edges)
