"""Each repository's compiler pass per indexer, as stored: record its progress, and say where it stands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from .indexers import BY_NAME, INDEXERS, for_languages

# Graph answers name at most this many of the files edited since the pass.
_NAMED_FILES = 3
# Bumped whenever this process records a pass's state or stores files: what a reader cached of the
# passes is old.
generation = 0


@dataclass(frozen=True, slots=True)
class PassStatus:
    repository_id: int
    repository: str
    indexer: str
    state: str  # current | running | stale | unavailable | failed | off | pending
    version: str | None = None
    finished_at: datetime | None = None
    started_at: datetime | None = None
    error: str | None = None
    edges_confirmed: int = 0
    edges_corrected: int = 0
    edges_added: int = 0
    edges_dropped: int = 0
    stale_files: int = 0
    stale_examples: tuple[str, ...] = ()
    seconds: float | None = None
    peak_rss_mb: float | None = None

    def sentence(self) -> str:
        """One line for an answer's notes."""
        who = f"repository {self.repository!r}: compiler pass ({self.indexer}{' ' + self.version if self.version else ''})"
        at = f" {self.finished_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if self.finished_at else ""
        if self.state == "current":
            return f"{who} current as of{at}: edges with provenance compiler are its, at confidence 1"
        if self.state == "stale":
            named = ", ".join(self.stale_examples) + (" ..." if self.stale_files > len(self.stale_examples) else "")
            return (
                f"{who} stale: {self.stale_files} file(s) edited since{at} ({named}); "
                "their edges are tree-sitter's until the next run"
            )
        if self.state == "running":
            since = f" since {self.started_at.astimezone(UTC):%H:%M:%S} UTC" if self.started_at else ""
            return f"{who} running{since}; the edges are tree-sitter's (and the last run's) meanwhile"
        if self.state == "unavailable":
            return f"{who} unavailable: {self.error}; the edges are tree-sitter's"
        if self.state == "failed":
            return f"{who} failed: {self.error}; the edges are tree-sitter's (and the last good run's)"
        if self.state == "off":
            return f"{who} off for this repository (compiler_pass = false); the edges are tree-sitter's"
        return f"{who} not run yet; the edges are tree-sitter's"


async def begin(conn: asyncpg.Connection, repository_id: int, indexer: str, seconds: float) -> datetime:
    """Mark the pass running for at most `seconds`; returns its start (the database's clock): files
    stored later are stale."""
    started: datetime = await conn.fetchval(
        """INSERT INTO compiler_passes (repository_id, indexer, state, started_at, deadline)
           VALUES ($1, $2, 'running', now(), now() + make_interval(secs => $3))
           ON CONFLICT (repository_id, indexer) DO UPDATE
           SET state = 'running', started_at = now(), deadline = EXCLUDED.deadline, error = NULL
           RETURNING started_at""",
        repository_id,
        indexer,
        seconds,
    )
    changed()
    return started


async def finish(
    conn: asyncpg.Connection,
    repository_id: int,
    indexer: str,
    *,
    version: str,
    confirmed: int,
    corrected: int,
    added: int,
    dropped: int,
    skipped: list[str],
    seconds: float,
    peak_rss_mb: float,
) -> None:
    await conn.execute(
        """UPDATE compiler_passes SET state = 'current', finished_at = now(), error = NULL, version = $3,
               edges_confirmed = $4, edges_corrected = $5, edges_added = $6, edges_dropped = $7, skipped_files = $8,
               seconds = $9, peak_rss_mb = $10
           WHERE repository_id = $1 AND indexer = $2""",
        repository_id,
        indexer,
        version,
        confirmed,
        corrected,
        added,
        dropped,
        skipped,
        seconds,
        peak_rss_mb,
    )
    changed()


async def record(conn: asyncpg.Connection, repository_id: int, indexer: str, state: str, error: str | None) -> None:
    """A pass that did not import: failed (error), unavailable (what to install) or off."""
    await conn.execute(
        """INSERT INTO compiler_passes (repository_id, indexer, state, error, finished_at) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (repository_id, indexer) DO UPDATE SET state = $3, error = $4, finished_at = now()""",
        repository_id,
        indexer,
        state,
        error,
    )
    changed()


def changed() -> None:
    """A pass's state was recorded, or files were stored or deleted (a pass may be stale now)."""
    global generation
    generation += 1


_COLUMNS = """
r.id AS repository_id, r.name AS repository, p.indexer,
CASE WHEN p.state = 'running' AND p.deadline < now() THEN 'failed' ELSE p.state END AS state,
CASE WHEN p.state = 'running' AND p.deadline < now()
     THEN 'interrupted: the process running it stopped before it finished' ELSE p.error END AS error,
p.version, p.started_at, p.finished_at,
p.edges_confirmed, p.edges_corrected, p.edges_added, p.edges_dropped, p.seconds, p.peak_rss_mb"""
_PASSES = f"""
SELECT {_COLUMNS}, p.skipped_files
FROM compiler_passes p JOIN repositories r ON r.id = p.repository_id
WHERE r.id = ANY($1::int[]) ORDER BY r.name, p.indexer"""
_LANGUAGES = "SELECT DISTINCT repository_id, language FROM files WHERE repository_id = ANY($1::int[]) AND language = ANY($2::text[])"
# Files of the pass's languages stored after it started (their edges are tree-sitter's again), and those
# it left out because they were edited while it ran.
_STALE = """
SELECT count(*) AS n, (array_agg(path ORDER BY path))[1:$5] AS named FROM files
WHERE repository_id = $1 AND language = ANY($2::text[]) AND (indexed_at > $3 OR path = ANY($4::text[]))"""
# The passes that have run for the repositories named (or the one a name or root path scopes to),
# with their stale files, in one statement: every graph answer asks. An indexer counts while the
# repository has a file of its languages, as in `passes`.
_NOTED = f"""
SELECT {_COLUMNS}, coalesce(s.n, 0) AS stale_files, s.named AS stale_named
FROM repositories r
JOIN compiler_passes p ON p.repository_id = r.id
JOIN unnest($3::text[], $4::text[]) AS m(indexer, languages) ON m.indexer = p.indexer
LEFT JOIN LATERAL (
    SELECT count(*) AS n, (array_agg(f.path ORDER BY f.path))[1:$5] AS named FROM files f
    WHERE f.repository_id = r.id AND f.language = ANY(string_to_array(m.languages, ','))
      AND (f.indexed_at > p.started_at OR f.path = ANY(p.skipped_files))
) s ON p.state = 'current'
WHERE (r.name = ANY($1::text[]) OR r.name = $2 OR r.root_path = $2)
  AND EXISTS (SELECT FROM files f WHERE f.repository_id = r.id AND f.language = ANY(string_to_array(m.languages, ',')))
ORDER BY r.name, array_position($3::text[], p.indexer)"""
_INDEXER_NAMES = [i.name for i in INDEXERS]
_INDEXER_LANGUAGES = [",".join(sorted(i.languages)) for i in INDEXERS]


async def passes(conn: asyncpg.Connection, repository_ids: list[int]) -> list[PassStatus]:
    """Where each repository's compiler passes stand, for every indexer its languages call for."""
    if not repository_ids:
        return []
    names = {
        r["id"]: r["name"]
        for r in await conn.fetch("SELECT id, name FROM repositories WHERE id = ANY($1::int[])", repository_ids)
    }
    languages = sorted({lang for i in BY_NAME.values() for lang in i.languages})
    wanted: dict[int, set[str]] = {}
    for r in await conn.fetch(_LANGUAGES, repository_ids, languages):
        wanted.setdefault(r["repository_id"], set()).add(r["language"])
    stored = {(r["repository_id"], r["indexer"]): r for r in await conn.fetch(_PASSES, repository_ids)}
    out: list[PassStatus] = []
    for repository_id in sorted(wanted, key=lambda i: names.get(i, "")):
        for indexer in for_languages(wanted[repository_id]):
            row = stored.get((repository_id, indexer.name))
            if row is None:
                out.append(PassStatus(repository_id, names[repository_id], indexer.name, "pending"))
                continue
            stale, examples = 0, ()
            if row["state"] == "current":
                s = await conn.fetchrow(
                    _STALE,
                    repository_id,
                    sorted(indexer.languages),
                    row["started_at"],
                    row["skipped_files"],
                    _NAMED_FILES,
                )
                stale, examples = s["n"], tuple(s["named"] or ())
            out.append(_status(row, stale, examples))
    return out


async def ran(conn: asyncpg.Connection, names: list[str], scope: str | None) -> list[PassStatus]:
    """The passes that have run (not the pending ones) for the repositories named, or scoped to by a
    name or root path: what a graph answer's notes say, in one statement."""
    rows = await conn.fetch(
        _NOTED,
        names,
        scope,
        _INDEXER_NAMES,
        _INDEXER_LANGUAGES,
        _NAMED_FILES,
    )
    return [_status(r, r["stale_files"], tuple(r["stale_named"] or ())) for r in rows]


def _status(row: asyncpg.Record, stale: int, examples: tuple[str, ...]) -> PassStatus:
    state = "stale" if row["state"] == "current" and stale else row["state"]
    return PassStatus(
        row["repository_id"],
        row["repository"],
        row["indexer"],
        state,
        row["version"],
        row["finished_at"],
        row["started_at"],
        row["error"],
        row["edges_confirmed"],
        row["edges_corrected"],
        row["edges_added"],
        row["edges_dropped"],
        stale,
        examples,
        row["seconds"],
        row["peak_rss_mb"],
    )
