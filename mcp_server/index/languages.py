"""Which language a file is, by its name, and the tree-sitter grammar for each language."""

from __future__ import annotations

import functools
import importlib
from pathlib import PurePosixPath

from tree_sitter import Language, Parser

# extension -> language id
EXTENSIONS: dict[str, str] = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".hxx": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".rake": "ruby",
    ".php": "php",
    ".sh": "bash",
    ".bash": "bash",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".swift": "swift",
}

# language id -> (grammar module, function returning the language capsule)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
    "bash": ("tree_sitter_bash", "language"),
    "kotlin": ("tree_sitter_kotlin", "language"),
    "swift": ("tree_sitter_swift", "language"),
}

LANGUAGES: tuple[str, ...] = tuple(_GRAMMARS)


def language_for(path: str) -> str | None:
    """The language id of a repo-relative path, or None when pgcode does not parse it."""
    return EXTENSIONS.get(PurePosixPath(path).suffix.lower())


def grammar_module(language: str) -> str:
    """The Python module that ships the language's grammar (and its queries)."""
    return _GRAMMARS[language][0]


@functools.cache
def grammar(language: str) -> Language:
    module_name, attr = _GRAMMARS[language]
    module = importlib.import_module(module_name)
    return Language(getattr(module, attr)())


def new_parser(language: str) -> Parser:
    """A fresh parser: tree-sitter parsers are not thread-safe, so callers keep one per thread."""
    return Parser(grammar(language))
