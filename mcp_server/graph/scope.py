"""Shared by the graph queries: argument checks, repository scope, file paths, symbol rows."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, TypeAlias

import asyncpg

from ..db import catalog
from ..errors import InvalidArgument, PathOutsideRoot
from .models import SymbolRef

# Every function accepts a connection or a pool: both offer fetch/fetchrow/fetchval.
Conn: TypeAlias = asyncpg.Connection | asyncpg.Pool

MAX_NAME = 1000
MAX_PATH = 4096
MAX_LIMIT = 1000
MAX_DEPTH = 10

SYMBOL_COLUMNS = (
    "s.id, r.name AS repository, f.path, s.kind, s.name, s.qualified_name, s.signature, s.start_line, s.end_line"
)
SYMBOL_FROM = "symbols s JOIN files f ON f.id = s.file_id JOIN repositories r ON r.id = s.repository_id"

_SYMBOLS_BY_ID = f"SELECT {SYMBOL_COLUMNS} FROM {SYMBOL_FROM} WHERE s.id = ANY($1::bigint[])"
_ALL_REPOSITORIES = "SELECT id, name, root_path FROM repositories ORDER BY name"
_FILE_BY_PATH = """
SELECT f.id, f.repository_id, r.name AS repository, f.path, f.language, f.line_count
FROM files f JOIN repositories r ON r.id = f.repository_id
WHERE f.repository_id = ANY($1::int[]) AND f.path = $2
ORDER BY r.name"""
# Closest indexed paths for a "no such file" message: trigram match on the whole path, or
# the file name anywhere (a wrong folder is the usual mistake).
_CLOSE_PATHS = """
SELECT f.path FROM files f
WHERE f.repository_id = ANY($1::int[]) AND (f.path % $2 OR f.path LIKE $3)
ORDER BY similarity(f.path, $2) DESC, f.path LIMIT 5"""


def check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def check_confidence(value: Any, name: str = "min_confidence") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or not 0 <= value <= 1:
        raise InvalidArgument(f"{name} must be a number from 0 to 1 (1 = resolved exactly), not {value!r}")
    return float(value)


PROVENANCES = ("tree-sitter", "compiler")


def check_provenance(value: Any) -> str | None:
    """None for every edge, else the one pass whose edges are wanted."""
    if value is None or value == "any":
        return None
    if value not in PROVENANCES:
        raise InvalidArgument(f"provenance must be 'any', 'compiler' or 'tree-sitter', not {value!r}")
    return str(value)


def check_text(name: str, value: Any, max_len: int = MAX_NAME) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{name} is empty; give a name such as 'Cart.total'")
    if "\x00" in value:
        raise InvalidArgument(f"{name} contains a NUL character")
    value = value.strip()
    if len(value) > max_len:
        raise InvalidArgument(f"{name} is {len(value)} characters long; keep it under {max_len}")
    return value


def check_kind(kind: str | None) -> str | None:
    if kind is None:
        return None
    kind = check_text("kind", kind, 40)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_ -]*", kind):
        raise InvalidArgument(f"kind {kind!r} is not a symbol kind such as function, method or class")
    return kind


async def scope(conn: Conn, repository: str | None) -> list[int]:
    """Ids of the repositories a query may look at: the one named, or all of them."""
    if repository is None:
        return [r["id"] for r in await conn.fetch(_ALL_REPOSITORIES)]
    repo = await catalog.find(conn, check_text("repository", repository, MAX_PATH))  # type: ignore[arg-type]
    return [repo.id]


def symbol_ref(row: asyncpg.Record) -> SymbolRef:
    return SymbolRef(**{k: row[k] for k in SymbolRef.model_fields})


async def symbols_by_id(conn: Conn, ids: Collection[int]) -> dict[int, SymbolRef]:
    if not ids:
        return {}
    return {r["id"]: symbol_ref(r) for r in await conn.fetch(_SYMBOLS_BY_ID, list(ids))}


def round_conf(value: float) -> float:
    # Confidences are stored as real: 0.9 comes back as 0.8999999761581421.
    return round(float(value), 3)


@dataclass(frozen=True, slots=True)
class FileRef:
    id: int
    repository_id: int
    repository: str
    path: str
    language: str | None
    line_count: int


async def resolve_file(conn: Conn, path: str, repository: str | None) -> FileRef:
    """The indexed file named by a repo-relative path, or an absolute path inside an indexed root."""
    path = check_text("path", path, MAX_PATH)
    ids = await scope(conn, repository)
    if os.path.isabs(path) or path.startswith("~"):
        ids, relative = await _relative_to_root(conn, path, ids)
    else:
        relative = _clean_relative(path)
    rows = await conn.fetch(_FILE_BY_PATH, ids, relative)
    if len(rows) > 1:
        names = ", ".join(r["repository"] for r in rows)
        raise InvalidArgument(f"{relative} is indexed in several repositories ({names}); pass repository")
    if not rows:
        base = PurePosixPath(relative).name
        close = [r["path"] for r in await conn.fetch(_CLOSE_PATHS, ids, relative, "%" + like_escape(base))]
        hint = f"; closest indexed paths: {', '.join(close)}" if close else ""
        raise InvalidArgument(f"{relative} is not an indexed file{hint}. Paths are relative to the repository root")
    r = rows[0]
    return FileRef(r["id"], r["repository_id"], r["repository"], r["path"], r["language"], r["line_count"])


def _clean_relative(path: str) -> str:
    # Backslashes count as separators too: "..\\..\\x" must not slip past the ".." check.
    parts = re.split(r"[\\/]+", path)
    if ".." in parts:
        raise PathOutsideRoot(f"{path} leaves the repository ('..'); give a path relative to its root")
    cleaned = "/".join(p for p in parts if p not in (".", ""))
    if not cleaned:
        raise InvalidArgument(f"{path!r} names no file; give a path such as src/app.py")
    return cleaned


async def _relative_to_root(conn: Conn, path: str, ids: list[int]) -> tuple[list[int], str]:
    """(repository ids, relative path) for an absolute path inside one of the indexed roots."""
    rows = [r for r in await conn.fetch(_ALL_REPOSITORIES) if r["id"] in ids]
    expanded = os.path.expanduser(path)
    # The lexical form first (a symlink inside the root stays inside), then the resolved one
    # (roots are stored resolved, so /tmp vs /private/tmp style aliases still match).
    forms = [Path(os.path.normpath(expanded))]
    try:
        forms.append(Path(expanded).resolve())
    except (OSError, RuntimeError):
        pass
    # The deepest root wins: a repository may be nested in another one's folder.
    for row in sorted(rows, key=lambda r: len(r["root_path"]), reverse=True):
        root = Path(row["root_path"])
        for form in forms:
            if form.is_relative_to(root) and form != root:
                return [row["id"]], form.relative_to(root).as_posix()
    roots = ", ".join(r["root_path"] for r in rows) or "none"
    raise PathOutsideRoot(f"{path} is not inside an indexed repository (roots: {roots})")


def like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
