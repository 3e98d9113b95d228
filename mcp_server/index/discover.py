"""Find the files of a repository worth indexing: git-aware ignores, size, binary and encoding checks."""

from __future__ import annotations

import errno
import os
import stat
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import pathspec

from .languages import EXTENSIONS
from .repo_settings import NONE, RepoSettings, is_repo_settings_file
from .secrets import DEFAULT_RULES, SecretRules, redact

# Directories nobody wants in a code index: dependencies, build output, caches, VCS internals.
BUILTIN_IGNORES: tuple[str, ...] = (
    ".git/",
    ".hg/",
    ".svn/",
    ".jj/",
    "node_modules/",
    "bower_components/",
    "jspm_packages/",
    ".venv/",
    "venv/",
    ".env/",
    "env/",
    "virtualenv/",
    "site-packages/",
    "__pypackages__/",
    "vendor/",
    "third_party/vendor/",
    "build/",
    "dist/",
    "out/",
    "target/",
    "_build/",
    ".next/",
    ".nuxt/",
    ".svelte-kit/",
    ".output/",
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".tox/",
    ".nox/",
    ".cache/",
    ".gradle/",
    ".idea/",
    ".vscode/",
    ".terraform/",
    "coverage/",
    "htmlcov/",
    ".eggs/",
    "*.egg-info/",
    "*.min.js",
    "*.min.css",
    "*.map",
    "*.pyc",
    "*.lock",
    "package-lock.json",
)

# Files indexed as plain text (searchable, chunked by lines, no symbols).
TEXT_EXTENSIONS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".rst": "rst",
    ".txt": "text",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".sql": "sql",
    ".zsh": "shell",
    ".html": "html",
    ".htm": "html",
    ".css": "css",
    ".scss": "css",
    ".erl": "erlang",
    ".clj": "clojure",
    ".r": "r",
    ".proto": "protobuf",
    ".graphql": "graphql",
    ".tf": "terraform",
}
TEXT_FILENAMES: dict[str, str] = {
    "Dockerfile": "dockerfile",
    "go.mod": "gomod",
    "Makefile": "make",
    "CMakeLists.txt": "cmake",
    "Gemfile": "ruby",
    "Rakefile": "ruby",
    "Jenkinsfile": "groovy",
}

IGNORE_FILES = (".gitignore", ".pgcodeignore")
# Configuration files are worth indexing; large JSON/YAML files are data (fixtures, results, schemas
# dumps) that would crowd search results, so they get a lower size limit.
DATA_KINDS = frozenset({"json", "yaml"})
DATA_FILE_BYTES = 100_000
_MAX_IGNORE_BYTES = 256 * 1024
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


@dataclass(frozen=True, slots=True)
class FoundFile:
    path: str  # repo-relative, POSIX
    size: int  # bytes
    mtime_ns: int
    language: str  # parser language id, or a text kind ("markdown", "yaml", ...)


@dataclass(slots=True)
class Discovery:
    files: list[FoundFile] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    skipped_paths: list[tuple[str, str]] | None = None  # (path, reason), when asked for

    def skip(self, reason: str, rel: str) -> None:
        self.skipped[reason] += 1
        if self.skipped_paths is not None:
            self.skipped_paths.append((rel, reason))


def file_language(path: str) -> str | None:
    name = PurePosixPath(path).name
    suffix = PurePosixPath(path).suffix.lower()
    return EXTENSIONS.get(suffix) or TEXT_EXTENSIONS.get(suffix) or TEXT_FILENAMES.get(name)


def discover(
    root: Path,
    max_file_bytes: int,
    secrets: SecretRules = DEFAULT_RULES,
    repo: RepoSettings = NONE,
    *,
    name_skipped: bool = False,
) -> Discovery:
    """Every indexable file under `root`, with counted reasons for what was left out (and, with
    `name_skipped`, the path of each). `repo` is the repository's own settings (repo_settings.py):
    more ignores, its languages, its size limit."""
    result = Discovery(skipped_paths=[] if name_skipped else None)
    limit = repo.max_file_bytes or max_file_bytes
    result.files.extend(_walk(root, _root_specs(root, repo), limit, result, secrets=secrets, languages=repo.languages))
    result.files.sort(key=lambda f: f.path)
    return result


def _root_specs(root: Path, repo: RepoSettings = NONE) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    specs: list[tuple[str, pathspec.GitIgnoreSpec]] = [("", _BUILTIN_SPEC)]
    if repo.ignore:
        specs.append(("", pathspec.GitIgnoreSpec.from_lines(repo.ignore)))
    exclude = root / ".git" / "info" / "exclude"
    try:
        regular = stat.S_ISREG(os.stat(exclude).st_mode)
    except OSError:  # no .git, or one this user cannot enter
        regular = False
    if regular:
        specs.append(("", _read_spec(exclude)))
    return specs


_BUILTIN_SPEC = pathspec.GitIgnoreSpec.from_lines(BUILTIN_IGNORES)


def is_ignore_rules_file(rel: str) -> bool:
    """Whether editing `rel` can change which files are indexed (.gitignore, .pgcodeignore,
    .git/info/exclude, the repository's own settings)."""
    return PurePosixPath(rel).name in IGNORE_FILES or rel == ".git/info/exclude" or is_repo_settings_file(rel)


@dataclass(slots=True)
class PathScan:
    """What a handful of changed paths hold now, found without walking the whole repository."""

    files: list[FoundFile] = field(default_factory=list)  # indexable files at or under the paths
    # The paths looked at: whatever the index holds at or under one of them and is not in `files` is
    # gone, whatever the path was before (a file, a folder) and is now (either, a link, nothing).
    scanned: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


def scan_paths(
    root: Path,
    rel_paths: Iterable[str],
    max_file_bytes: int,
    secrets: SecretRules = DEFAULT_RULES,
    repo: RepoSettings = NONE,
) -> PathScan:
    """Apply `discover`'s rules (ignore files along the way, symlinks, types, sizes) to just these
    repo-relative paths; a folder is walked whole. Each path is reported scanned: what the index
    holds at or under it is stale unless found again (a missing, ignored or unindexable path holds
    nothing)."""
    result = PathScan()
    max_file_bytes = repo.max_file_bytes or max_file_bytes
    chains: dict[str, list[tuple[str, pathspec.GitIgnoreSpec]] | None] = {}
    seen: set[str] = set()
    for raw in rel_paths:
        rel = raw.strip("/")
        if not rel or rel in seen or any(part in ("", ".", "..") for part in rel.split("/")):
            continue
        if not _storable(rel):  # never indexed, so nothing to drop either
            continue
        seen.add(rel)
        result.scanned.append(rel)
        parent = rel.rsplit("/", 1)[0] if "/" in rel else ""
        specs = _chain(root, parent, chains, repo)
        if specs is None:  # an ancestor folder is ignored, a symlink, or gone
            continue
        try:
            st = os.lstat(root / rel)
        except OSError:
            continue
        reason = _refusal(rel, st, specs, max_file_bytes, secrets, repo.languages)
        if reason is not None:
            result.skipped[reason] += 1
        elif stat.S_ISDIR(st.st_mode):
            walked = Discovery()
            result.files.extend(
                _walk(root, specs, max_file_bytes, walked, start=rel, secrets=secrets, languages=repo.languages)
            )
            result.skipped.update(walked.skipped)
        else:
            result.files.append(FoundFile(rel, st.st_size, st.st_mtime_ns, file_language(rel) or ""))
    # A file and its folder may both have changed: keep one entry per file.
    result.files = sorted({f.path: f for f in result.files}.values(), key=lambda f: f.path)
    return result


def _chain(
    root: Path,
    rel_dir: str,
    cache: dict[str, list[tuple[str, pathspec.GitIgnoreSpec]] | None],
    repo: RepoSettings = NONE,
) -> list[tuple[str, pathspec.GitIgnoreSpec]] | None:
    """The ignore specs that apply to entries of `rel_dir` (its own ignore files included), or None
    when `discover` would never enter it."""
    if rel_dir in cache:
        return cache[rel_dir]
    if not rel_dir:
        specs: list[tuple[str, pathspec.GitIgnoreSpec]] | None = _root_specs(root, repo)
    else:
        parent = rel_dir.rsplit("/", 1)[0] if "/" in rel_dir else ""
        above = _chain(root, parent, cache, repo)
        specs = None
        if above is not None:
            try:
                st = os.lstat(root / rel_dir)
            except OSError:
                st = None
            if st is not None and stat.S_ISDIR(st.st_mode) and not _ignored(rel_dir, True, above):
                specs = list(above)
    if specs is not None:
        abs_dir = root / rel_dir if rel_dir else root
        specs.extend(_ignore_specs(abs_dir, rel_dir))
    cache[rel_dir] = specs
    return specs


def _refusal(
    rel: str,
    st: os.stat_result,
    specs: list[tuple[str, pathspec.GitIgnoreSpec]],
    max_file_bytes: int,
    secrets: SecretRules,
    languages: frozenset[str] | None = None,
) -> str | None:
    """Why `discover` would leave this entry out (the reason it counts), or None to keep it."""
    if stat.S_ISLNK(st.st_mode):
        return "symlink"
    is_dir = stat.S_ISDIR(st.st_mode)
    if _ignored(rel, is_dir, specs):
        return "ignored"
    # Before the type check: a key file (.pem) is no indexed type either, but `secret` says why.
    if secrets.is_secret_path(rel, is_dir):
        return "secret"
    if is_dir:
        return None
    if not stat.S_ISREG(st.st_mode):
        return "not_a_file"
    language = file_language(rel)
    if language is None:
        return "unsupported_type"
    if languages is not None and language not in languages:
        return "language_not_selected"
    if st.st_size > (min(max_file_bytes, DATA_FILE_BYTES) if language in DATA_KINDS else max_file_bytes):
        return "too_large"
    return None


def _walk(
    root: Path,
    specs: list[tuple[str, pathspec.GitIgnoreSpec]],
    max_file_bytes: int,
    result: Discovery,
    start: str = "",
    secrets: SecretRules = DEFAULT_RULES,
    languages: frozenset[str] | None = None,
) -> Iterator[FoundFile]:
    # Explicit stack: repositories can nest deeper than Python's recursion limit.
    stack: list[tuple[str, list[tuple[str, pathspec.GitIgnoreSpec]]]] = [(start, specs)]
    while stack:
        rel_dir, specs = stack.pop()
        abs_dir = root / rel_dir if rel_dir else root
        local = list(specs) + _ignore_specs(abs_dir, rel_dir)
        try:
            with os.scandir(abs_dir) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            result.skip("unreadable", rel_dir or ".")
            continue
        subdirs: list[str] = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if not _storable(entry.name):
                result.skip("invalid_path", rel.encode("utf-8", "replace").decode())
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                result.skip("unreadable", rel)
                continue
            # Symlinks are never followed: a link can point outside the root or loop back into it.
            reason = _refusal(rel, st, local, max_file_bytes, secrets, languages)
            if reason is not None:
                result.skip(reason, rel)
            elif stat.S_ISDIR(st.st_mode):
                subdirs.append(rel)
            else:
                yield FoundFile(rel, st.st_size, st.st_mtime_ns, file_language(rel) or "")
        for sub in reversed(subdirs):
            stack.append((sub, local))


def _storable(name: str) -> bool:
    """Whether a file name can be stored: bytes that are not UTF-8 come back from the OS as lone
    surrogates, which PostgreSQL text refuses."""
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _ignored(rel: str, is_dir: bool, specs: list[tuple[str, pathspec.GitIgnoreSpec]]) -> bool:
    """Git's rule: the last matching pattern wins, deeper ignore files after shallower ones."""
    verdict = False
    for base, spec in specs:
        if base and not rel.startswith(base + "/"):
            continue
        sub = rel[len(base) + 1 :] if base else rel
        check = spec.check_file(sub + "/" if is_dir else sub)
        if check.include is not None:
            verdict = check.include
    return verdict


def _ignore_specs(abs_dir: Path, rel_dir: str) -> list[tuple[str, pathspec.GitIgnoreSpec]]:
    """The rules of the ignore files directly in a folder (regular files only, never links)."""
    found: list[tuple[str, pathspec.GitIgnoreSpec]] = []
    for ignore_name in IGNORE_FILES:
        try:
            st = os.lstat(abs_dir / ignore_name)
        except OSError:  # absent, or the folder itself cannot be entered
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((rel_dir, _read_spec(abs_dir / ignore_name)))
    return found


def _read_spec(path: Path) -> pathspec.GitIgnoreSpec:
    try:
        # Bounded: a hostile 100 MB ignore file must not be read (or compiled) whole.
        with open(path, "rb") as fh:
            data = fh.read(_MAX_IGNORE_BYTES)
    except OSError:
        data = b""
    return pathspec.GitIgnoreSpec.from_lines(data.decode("utf-8", errors="replace").splitlines())


class Unreadable(Exception):
    """A file that was discovered but cannot be indexed; `reason` is the counted skip reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_source(
    root: Path, found: FoundFile, max_file_bytes: int, secrets: SecretRules = DEFAULT_RULES
) -> tuple[bytes, str, int]:
    """The file's bytes and text as they are to be indexed (secrets redacted), and how many secrets
    were redacted; raises Unreadable with a reason for binary/invalid files and key files."""
    abs_path = root / found.path
    try:
        # The path was a regular file at discovery, but it may have been swapped since: O_NOFOLLOW
        # refuses a link, O_NONBLOCK keeps a named pipe from blocking the open, fstat catches the rest.
        fd = os.open(abs_path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    except FileNotFoundError:
        raise Unreadable("vanished") from None
    except OSError as exc:
        raise Unreadable("symlink" if exc.errno == errno.ELOOP else "unreadable") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise Unreadable("not_a_file")
        with os.fdopen(fd, "rb") as fh:
            data = fh.read(max_file_bytes + 1)
    except OSError:
        raise Unreadable("unreadable") from None
    if len(data) > max_file_bytes:
        raise Unreadable("too_large")
    # NUL anywhere, not only in the sniffed head: PostgreSQL text cannot hold it.
    if b"\x00" in data:
        raise Unreadable("binary")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("invalid_utf8") from None
    if _minified(text):
        raise Unreadable("minified")
    if not secrets.redact:
        return data, text, 0
    # Here, before parsing: symbols' byte spans and chunks' lines are then those of the text stored.
    redaction = redact(text)
    if redaction.nothing_else:
        raise Unreadable("secret")
    if not redaction.secrets:
        return data, text, 0
    return redaction.text.encode("utf-8"), redaction.text, redaction.secrets


def _minified(text: str) -> bool:
    """Generated one-line bundles: huge lines carry no structure worth indexing."""
    if len(text) < 20_000:
        return False
    lines = text.count("\n") + 1
    return len(text) / lines > 500
