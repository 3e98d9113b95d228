"""Older copies of the code in one tree (legacy/, old/, build/lib/, a vendored release): rank the live one first."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import asyncpg

# Folder or file names that mark code kept aside rather than run: a name made of these words
# ("legacy", "old_api", "backup-2019", "models.orig.py"), a vendored or installed copy, or a
# setuptools build tree.
_ARCHIVE_WORDS = frozenset(
    "old legacy deprecated obsolete archive archived attic backup backups bak orig unused outdated".split()
)
_COPY_FOLDERS = frozenset(
    {"vendor", "vendored", "_vendor", "third_party", "thirdparty", "node_modules", "site-packages"}
)
_BUILD_TREE = re.compile(r"(^|/)build/lib[^/]*/")
_WORD_SPLIT = re.compile(r"[._\-\s]+")
_VERSION_SEGMENT = re.compile(r"^v?(\d+)(?:[._]\d+)*$", re.IGNORECASE)
_VERSION_TAIL = re.compile(r"(?:^|[^a-z0-9])v?(\d+)$", re.IGNORECASE)


def archived(path: str) -> bool:
    """Whether a segment of the path marks it as an archive, a vendored copy or a build's copy."""
    if _BUILD_TREE.search(path):
        return True
    for segment in path.lower().split("/"):
        if segment in _COPY_FOLDERS:
            return True
        if _ARCHIVE_WORDS.intersection(w for w in _WORD_SPLIT.split(segment) if w):
            return True
    return False


def copy_key(path: str) -> str:
    """What two copies of one file share: its last two path segments, a version folder ("v1",
    "2.0") standing for any version."""
    parts = path.split("/")[-2:]
    return "/".join("<version>" if _VERSION_SEGMENT.match(p) else p for p in parts)


def copy_roots(group: list[str]) -> dict[str, str]:
    """Where each copy starts: its path above the part the copies share, plus that part's first
    folder (src/requests/ and legacy/requests/ for the two requests/models.py); edges from outside
    it are the rest of the repository's."""
    split = [p.split("/") for p in group]
    shared = 0
    while all(len(s) > shared + 1 for s in split) and len({s[-1 - shared] for s in split}) == 1:
        shared += 1
    roots = {}
    for p, parts in zip(group, split, strict=True):
        head = parts[: len(parts) - shared + (1 if shared > 1 else 0)] if shared else parts[:-1]
        roots[p] = "/".join(head) + "/" if head else ""
    return roots


def _version(path: str) -> int:
    """The highest version number a folder of the path names (v2/, click7/, 2.0/), else -1."""
    best = -1
    for segment in path.split("/")[:-1]:
        m = _VERSION_SEGMENT.match(segment) or _VERSION_TAIL.search(segment)
        if m:
            best = max(best, int(m.group(1)))
    return best


def copy_groups(paths: Iterable[str]) -> list[list[str]]:
    """The pool's files that are copies of one another (same copy_key, different paths)."""
    groups: dict[str, set[str]] = {}
    for p in paths:
        groups.setdefault(copy_key(p), set()).add(p)
    return [sorted(g) for g in groups.values() if len(g) > 1]


async def outside_uses(conn: asyncpg.Connection, repository_id: int | None, groups: list[list[str]]) -> dict[str, int]:
    """For each copy, how many resolved edges into its definitions come from files outside the
    folder it starts at (copy_roots): which copy the rest of the repository imports and calls."""
    roots = {p: r for g in groups for p, r in copy_roots(g).items()}
    if not roots:
        return {}
    rows = await conn.fetch(
        """
        WITH target AS (
            SELECT f.id, f.path, t.root FROM unnest($1::text[], $2::text[]) AS t(path, root)
            JOIN files f ON f.path = t.path AND ($3::int IS NULL OR f.repository_id = $3)
        )
        SELECT target.path, count(e.id) AS uses
        FROM target
        LEFT JOIN symbols d ON d.file_id = target.id
        LEFT JOIN edges e ON e.target_id = d.id AND e.file_id <> target.id
            AND NOT starts_with((SELECT sf.path FROM files sf WHERE sf.id = e.file_id), target.root)
        GROUP BY target.path""",
        list(roots),
        list(roots.values()),
        repository_id,
    )
    return {r["path"]: r["uses"] for r in rows}


def stale_paths(groups: list[list[str]], uses: Mapping[str, int]) -> set[str]:
    """Of each group of copies, every file but the live one: the one not in an archive folder,
    then the one the rest of the repository uses most, then the highest version folder, then the
    shallowest path (a copy is usually nested under the folder that holds it)."""
    stale: set[str] = set()
    for group in groups:
        live = max(group, key=lambda p: (not archived(p), uses.get(p, 0), _version(p), -p.count("/"), p))
        stale.update(p for p in group if p != live)
    return stale
