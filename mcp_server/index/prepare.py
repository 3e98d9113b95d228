"""Read, hash, parse and chunk one file: the CPU-bound work, safe to run in a worker process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import structlog

from .chunk import chunk_file
from .discover import FoundFile, Unreadable, read_source
from .languages import LANGUAGES
from .parse import NameTooLong, parse_source
from .project import EMPTY_PROJECT, Project
from .records import Chunk, ParsedFile
from .secrets import DEFAULT_RULES, SecretRules

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Prepared:
    found: FoundFile
    digest: bytes
    line_count: int
    parsed: ParsedFile | None  # None for plain-text files
    chunks: list[Chunk]
    secrets: int = 0  # secrets redacted from the text


@dataclass(frozen=True, slots=True)
class Unchanged:
    found: FoundFile  # same bytes as indexed: only the stat moved


@dataclass(frozen=True, slots=True)
class Skipped:
    found: FoundFile
    reason: str


# What a file yields (symbols, edges, chunks) for the same bytes: bumped when parsing or chunking
# changes, so that an index made by an older version parses its files again on the next pass
# (their vectors are kept wherever a chunk's text is unchanged).
INDEX_FORMAT = b"17"


def file_digest(data: bytes, context: str = "") -> bytes:
    """The file's content hash; `context` (the project's key for its language) is part of it, so a
    changed go.mod or tsconfig makes the files whose imports it names parse again."""
    h = hashlib.blake2b(data, digest_size=16, person=b"pgcode-format-" + INDEX_FORMAT)
    if context:
        h.update(b"\0project:" + context.encode())
    return h.digest()


def prepare_file(
    root: str,
    found: FoundFile,
    module_name: str,
    max_file_bytes: int,
    old_digest: bytes | None,
    secrets: SecretRules = DEFAULT_RULES,
    project: Project = EMPTY_PROJECT,
) -> Prepared | Unchanged | Skipped:
    try:
        data, text, redacted = read_source(Path(root), found, max_file_bytes, secrets)
    except Unreadable as exc:
        return Skipped(found, exc.reason)
    digest = file_digest(data, project.key(found.language))
    if digest == old_digest:
        return Unchanged(found)
    parsed: ParsedFile | None = None
    if found.language in LANGUAGES:
        try:
            parsed = parse_source(data, found.path, found.language, module_name, project)
        except RecursionError:
            return Skipped(found, "too_deeply_nested")
        except NameTooLong:
            return Skipped(found, "name_too_long")
        except Exception:  # a parser bug must cost one file, never the whole index
            log.exception("parse_failed", path=found.path)
            return Skipped(found, "parse_failed")
    chunks = chunk_file(text, parsed)
    return Prepared(found, digest, text.count("\n") + (0 if text.endswith("\n") else 1), parsed, chunks, redacted)


def prepare_batch(
    root: str,
    items: list[tuple[FoundFile, str, bytes | None]],
    max_file_bytes: int,
    secrets: SecretRules = DEFAULT_RULES,
    project: Project = EMPTY_PROJECT,
) -> list[Prepared | Unchanged | Skipped]:
    """Several files in one call: amortises the cost of crossing into a worker process."""
    return [prepare_file(root, found, module, max_file_bytes, old, secrets, project) for found, module, old in items]
