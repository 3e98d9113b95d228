"""Which language a file is, by its name, and the tree-sitter grammar for each language."""

from __future__ import annotations

import functools
import importlib
import warnings
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
    ".scala": "scala",
    ".sc": "scala",
    ".lua": "lua",
    ".ex": "elixir",
    ".exs": "elixir",
    ".dart": "dart",
    ".ml": "ocaml",
    ".sol": "solidity",
    ".hs": "haskell",
    ".zig": "zig",
    ".jl": "julia",
    ".pl": "perl",
    ".pm": "perl",
    ".m": "objc",
    ".vue": "vue",
    ".svelte": "svelte",
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
    "scala": ("tree_sitter_scala", "language"),
    "lua": ("tree_sitter_lua", "language"),
    "elixir": ("tree_sitter_elixir", "language"),
    "dart": ("tree_sitter_dart", "language"),
    "ocaml": ("tree_sitter_ocaml", "language_ocaml"),
    "solidity": ("tree_sitter_solidity", "language"),
    "haskell": ("tree_sitter_haskell", "language"),
    "zig": ("tree_sitter_zig", "language"),
    "julia": ("tree_sitter_julia", "language"),
    "perl": ("tree_sitter_perl", "language"),
    "objc": ("tree_sitter_objc", "language"),
}

# Single-file components, whose script blocks are parsed with the JavaScript/TypeScript grammar.
_COMPONENTS = ("vue", "svelte")

LANGUAGES: tuple[str, ...] = (*_GRAMMARS, *_COMPONENTS)


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
    with warnings.catch_warnings():
        # Older grammar wheels (Perl's, Solidity's) hand over the language as an int pointer.
        warnings.simplefilter("ignore", DeprecationWarning)
        return Language(getattr(module, attr)())


def new_parser(language: str) -> Parser:
    """A fresh parser: tree-sitter parsers are not thread-safe, so callers keep one per thread."""
    return Parser(grammar(language))
