"""A repository's own indexing settings: `.pgcode.toml` at its root, or `[tool.pgcode]` in its pyproject.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidArgument

FILE = ".pgcode.toml"
PYPROJECT = "pyproject.toml"
_MAX_BYTES = 256 * 1024
KEYS = {
    "ignore": "gitignore-style patterns, relative to the repository root (a list of strings)",
    "languages": "the languages to index, e.g. ['python', 'markdown'] (a list of strings); others are skipped",
    "max_file_bytes": "larger files are skipped (a positive integer)",
    "compiler_pass": "false: no SCIP indexer runs over this repository, its edges stay tree-sitter's (true or false)",
}


@dataclass(frozen=True, slots=True)
class RepoSettings:
    ignore: tuple[str, ...] = ()
    languages: frozenset[str] | None = None  # None: every language
    max_file_bytes: int | None = None  # None: the server's setting
    compiler_pass: bool | None = None  # None: the server's setting
    source: str | None = None  # the file they came from, repo-relative ("pyproject.toml [tool.pgcode]")

    def describe(self) -> list[dict[str, Any]]:
        """Each key with its value and source, for `config show --repository`."""
        where = f"file {self.source}" if self.source else "default"
        return [
            {"key": "ignore", "value": list(self.ignore), "source": where if self.ignore else "default"},
            {
                "key": "languages",
                "value": sorted(self.languages) if self.languages is not None else "all",
                "source": where if self.languages is not None else "default",
            },
            {
                "key": "max_file_bytes",
                "value": self.max_file_bytes if self.max_file_bytes is not None else "the server's",
                "source": where if self.max_file_bytes is not None else "default",
            },
            {
                "key": "compiler_pass",
                "value": self.compiler_pass if self.compiler_pass is not None else "the server's",
                "source": where if self.compiler_pass is not None else "default",
            },
        ]


NONE = RepoSettings()


def is_repo_settings_file(rel: str) -> bool:
    return rel in (FILE, PYPROJECT)


def read_repo_settings(root: Path) -> RepoSettings:
    """The repository's settings, or NONE. Raises InvalidArgument naming the file and the key when
    they are malformed: indexing with settings silently dropped would index the wrong files."""
    own = _read(root / FILE)
    if own is not None:
        return _parse(_toml(own, FILE), FILE)
    project = _read(root / PYPROJECT)
    if project is None:
        return NONE
    try:
        table = tomllib.loads(project).get("tool", {}).get("pgcode")
    except tomllib.TOMLDecodeError:
        return NONE  # a broken pyproject.toml is the project's business, not a pgcode setting
    if table is None:
        return NONE
    where = f"{PYPROJECT} [tool.pgcode]"
    if not isinstance(table, dict):
        raise InvalidArgument(f"{where} must be a table of settings ({', '.join(KEYS)})")
    return _parse(table, where)


def _read(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > _MAX_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _toml(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidArgument(f"{where} is not valid TOML: {exc}") from None


def _parse(table: dict[str, Any], where: str) -> RepoSettings:
    from .discover import TEXT_EXTENSIONS, TEXT_FILENAMES
    from .languages import EXTENSIONS

    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        listed = "; ".join(f"{k}: {v}" for k, v in KEYS.items())
        raise InvalidArgument(f"{where} has unknown keys {', '.join(unknown)}; known: {listed}")
    ignore = table.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise InvalidArgument(f"{where}: ignore must be {KEYS['ignore']}")
    languages = table.get("languages")
    if languages is not None:
        known = set(EXTENSIONS.values()) | set(TEXT_EXTENSIONS.values()) | set(TEXT_FILENAMES.values())
        if not isinstance(languages, list) or not all(isinstance(v, str) for v in languages):
            raise InvalidArgument(f"{where}: languages must be {KEYS['languages']}")
        strange = sorted(set(languages) - known)
        if strange:
            raise InvalidArgument(f"{where}: unknown languages {', '.join(strange)}; known: {', '.join(sorted(known))}")
    limit = table.get("max_file_bytes")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidArgument(f"{where}: max_file_bytes must be {KEYS['max_file_bytes']}")
    compiler = table.get("compiler_pass")
    if compiler is not None and not isinstance(compiler, bool):
        raise InvalidArgument(f"{where}: compiler_pass must be {KEYS['compiler_pass']}")
    return RepoSettings(tuple(ignore), frozenset(languages) if languages is not None else None, limit, compiler, where)
