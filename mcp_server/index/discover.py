"""Find the files of a repository worth indexing: git-aware ignores, size, binary and encoding checks."""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from .languages import EXTENSIONS

# Directories nobody wants in a code index: dependencies, build output, caches, VCS internals.
BUILTIN_IGNORES: tuple[str, ...] = (
    ".git/", ".hg/", ".svn/", ".jj/",
    "node_modules/", "bower_components/", "jspm_packages/",
    ".venv/", "venv/", ".env/", "env/", "virtualenv/", "site-packages/", "__pypackages__/",
    "vendor/", "third_party/vendor/",
    "build/", "dist/", "out/", "target/", "_build/", ".next/", ".nuxt/", ".svelte-kit/", ".output/",
    "__pycache__/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".tox/", ".nox/", ".cache/",
    ".gradle/", ".idea/", ".vscode/", ".terraform/", "coverage/", "htmlcov/", ".eggs/", "*.egg-info/",
    "*.min.js", "*.min.css", "*.map", "*.pyc", "*.lock", "package-lock.json",
)

# Files indexed as plain text (searchable, chunked by lines, no symbols).
TEXT_EXTENSIONS: dict[str, str] = {
    ".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".txt": "text",
    ".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json", ".ini": "ini", ".cfg": "ini",
    ".sql": "sql", ".sh": "shell", ".bash": "shell", ".zsh": "shell",
    ".html": "html", ".htm": "html", ".css": "css", ".scss": "css", ".vue": "vue", ".svelte": "svelte",
    ".php": "php", ".kt": "kotlin", ".kts": "kotlin", ".swift": "swift", ".scala": "scala",
    ".lua": "lua", ".ex": "elixir", ".exs": "elixir", ".erl": "erlang", ".hs": "haskell",
    ".ml": "ocaml", ".clj": "clojure", ".dart": "dart", ".r": "r", ".jl": "julia", ".proto": "protobuf",
    ".graphql": "graphql", ".tf": "terraform",
}
TEXT_FILENAMES: dict[str, str] = {
    "Dockerfile": "dockerfile", "Makefile": "make", "CMakeLists.txt": "cmake", "Gemfile": "ruby",
    "Rakefile": "ruby", "Jenkinsfile": "groovy",
}

IGNORE_FILES = (".gitignore", ".pgcodeignore")
_SNIFF_BYTES = 8192


@dataclass(frozen=True, slots=True)
class FoundFile:
    path: str          # repo-relative, POSIX
    size: int          # bytes
    mtime_ns: int
    language: str      # parser language id, or a text kind ("markdown", "yaml", ...)


@dataclass(slots=True)
class Discovery:
    files: list[FoundFile] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count


def file_language(path: str) -> str | None:
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    return EXTENSIONS.get(suffix) or TEXT_EXTENSIONS.get(suffix) or TEXT_FILENAMES.get(name)


def discover(root: Path, max_file_bytes: int) -> Discovery:
    """Every indexable file under `root`, with counted reasons for what was left out."""
    result = Discovery()
    builtin = pathspec.GitIgnoreSpec.from_lines(BUILTIN_IGNORES)
    root_specs: list[tuple[str, pathspec.GitIgnoreSpec]] = [("", builtin)]
    exclude = root / ".git" / "info" / "exclude"
    if exclude.is_file():
        root_specs.append(("", _read_spec(exclude)))
    result.files.extend(_walk(root, root_specs, max_file_bytes, result))
    result.files.sort(key=lambda f: f.path)
    return result


def _walk(
    root: Path, specs: list[tuple[str, pathspec.GitIgnoreSpec]], max_file_bytes: int, result: Discovery
) -> Iterator[FoundFile]:
    # Explicit stack: repositories can nest deeper than Python's recursion limit.
    stack: list[tuple[str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [("", specs)]
    while stack:
        rel_dir, specs = stack.pop()
        abs_dir = root / rel_dir if rel_dir else root
        local = list(specs)
        for ignore_name in IGNORE_FILES:
            ignore_file = abs_dir / ignore_name
            if ignore_file.is_file() and not ignore_file.is_symlink():
                local.append((rel_dir, _read_spec(ignore_file)))
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            result.skipped["unreadable"] += 1
            continue
        subdirs: list[str] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                result.skipped["unreadable"] += 1
                continue
            if stat.S_ISLNK(st.st_mode):
                # Never followed: a link can point outside the root or loop back into it.
                result.skipped["symlink"] += 1
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if _ignored(rel, is_dir, local):
                result.skipped["ignored"] += 1
                continue
            if is_dir:
                subdirs.append(rel)
                continue
            if not stat.S_ISREG(st.st_mode):
                result.skipped["not_a_file"] += 1
                continue
            language = file_language(rel)
            if language is None:
                result.skipped["unsupported_type"] += 1
                continue
            if st.st_size > max_file_bytes:
                result.skipped["too_large"] += 1
                continue
            yield FoundFile(rel, st.st_size, st.st_mtime_ns, language)
        for sub in reversed(subdirs):
            stack.append((sub, local))


def _ignored(rel: str, is_dir: bool, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """Git's rule: the last matching pattern wins, deeper ignore files after shallower ones."""
    verdict = False
    for base, spec in specs:
        if base and not rel.startswith(base + "/"):
            continue
        sub = rel[len(base) + 1:] if base else rel
        check = spec.check_file(sub + "/" if is_dir else sub)
        if check.include is not None:
            verdict = check.include
    return verdict


def _read_spec(path: Path) -> pathspec.GitIgnoreSpec:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return pathspec.GitIgnoreSpec.from_lines(lines)


class Unreadable(Exception):
    """A file that was discovered but cannot be indexed; `reason` is the counted skip reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_source(root: Path, found: FoundFile, max_file_bytes: int) -> tuple[bytes, str]:
    """The file's bytes and decoded text; raises Unreadable with a reason for binary/invalid files."""
    abs_path = root / found.path
    try:
        # O_NOFOLLOW: the path was a regular file at discovery; refuse it if it became a link since.
        fd = os.open(abs_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_file_bytes + 1)
    except FileNotFoundError:
        raise Unreadable("vanished") from None
    except OSError:
        raise Unreadable("unreadable") from None
    if len(data) > max_file_bytes:
        raise Unreadable("too_large")
    if b"\x00" in data[:_SNIFF_BYTES]:
        raise Unreadable("binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("invalid_utf8") from None
    if _minified(text):
        raise Unreadable("minified")
    return data, text


def _minified(text: str) -> bool:
    """Generated one-line bundles: huge lines carry no structure worth indexing."""
    if len(text) < 20_000:
        return False
    lines = text.count("\n") + 1
    return len(text) / lines > 500
