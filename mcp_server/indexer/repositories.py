"""The registry of indexed repositories: create, set state, count, remove (finding them is db/catalog.py's)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from ..db.catalog import COLUMNS as _COLUMNS

# Re-exported: callers of the registry find repositories through it too.
from ..db.catalog import Repository as Repository
from ..db.catalog import all_repositories as all_repositories
from ..db.catalog import find as find
from ..db.catalog import repository_from_row as _repo
from ..errors import InvalidArgument
from .vector_gc import collect_vectors, note_repository


async def register(conn: asyncpg.Connection, root: Path, name: str | None) -> Repository:
    """The repository rooted at `root`, created if new; its name defaults to the folder's name."""
    root_text = str(root)
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM repositories WHERE root_path = $1", root_text)
    if row is not None:
        if name and name != row["name"]:
            raise InvalidArgument(
                f"{root_text} is already indexed as {row['name']!r}; use that name, or remove it first"
            )
        return _repo(row)
    wanted = name or root.name or "root"
    clash = await conn.fetchrow("SELECT root_path FROM repositories WHERE name = $1", wanted)
    if clash is not None:
        raise InvalidArgument(f"the name {wanted!r} is taken by {clash['root_path']}; pass another name (--name)")
    row = await conn.fetchrow(
        f"INSERT INTO repositories (name, root_path) VALUES ($1, $2) RETURNING {_COLUMNS}", wanted, root_text
    )
    return _repo(row)


async def set_state(
    conn: asyncpg.Connection,
    repository_id: int,
    state: str,
    *,
    error: str | None = None,
    skipped: dict[str, int] | None = None,
    finished: bool = False,
) -> None:
    await conn.execute(
        "UPDATE repositories SET state = $2, last_error = $3,"
        " skipped = COALESCE($4::jsonb, skipped),"
        " indexed_at = CASE WHEN $5 THEN now() ELSE indexed_at END,"
        # A finished pass read the root, so it is there again.
        " root_missing_since = CASE WHEN $5 THEN NULL ELSE root_missing_since END WHERE id = $1",
        repository_id,
        state,
        error,
        None if skipped is None else _json(skipped),
        finished,
    )


async def mark_root_missing(conn: asyncpg.Connection, repository_id: int) -> None:
    """The root folder is gone (deleted, moved, unmounted): every server's answers about the
    repository say so until a pass finishes there again (see set_state)."""
    await conn.execute(
        "UPDATE repositories SET root_missing_since = now() WHERE id = $1 AND root_missing_since IS NULL",
        repository_id,
    )


async def remove(conn: asyncpg.Connection, repository_id: int, *, vector_grace_seconds: float) -> None:
    """Drop the repository and all its rows in one transaction, then give their room back: its
    vectors become collectable (at once, with no grace period) and the tables that held its rows are
    vacuumed, so the next rows reuse the space instead of growing the files."""
    async with conn.transaction():
        await note_repository(conn, repository_id)
        await conn.execute("DELETE FROM repositories WHERE id = $1", repository_id)
    collected = await collect_vectors(conn, vector_grace_seconds)
    await _vacuum(conn, [*_ROW_TABLES, *(["embeddings"] if collected.vectors else [])])


# Where a repository's rows live (deleting the repository cascades to all of them).
_ROW_TABLES = ("files", "symbols", "edges", "chunks")


async def _vacuum(conn: asyncpg.Connection, tables: list[str]) -> None:
    # Not FULL: that would lock searches out and rewrite every table; the room is reused, not handed
    # back to the file system. On a large index it may outlast the statement timeout: lifted for it.
    await conn.execute("SET statement_timeout = 0")
    try:
        await conn.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    finally:
        await conn.execute("RESET statement_timeout")


@dataclass(frozen=True, slots=True)
class RepositoryStats:
    repository: Repository
    files: int
    symbols: int
    edges: int
    edges_resolved: int
    chunks: int
    vectors: int  # distinct chunk texts with a vector for the model
    vectors_pending: int  # distinct chunk texts still waiting for one
    skipped: dict[str, int]
    redacted: dict[str, int]  # "files" stored with secrets redacted, and "secrets" redacted in all


async def stats(conn: asyncpg.Connection, repo: Repository, model: str) -> RepositoryStats:
    row = await conn.fetchrow(
        """
        SELECT
          (SELECT count(*) FROM files WHERE repository_id = $1) AS files,
          (SELECT count(*) FROM symbols WHERE repository_id = $1) AS symbols,
          (SELECT count(*) FROM edges WHERE repository_id = $1) AS edges,
          (SELECT count(*) FROM edges WHERE repository_id = $1 AND target_id IS NOT NULL) AS resolved,
          (SELECT count(*) FROM chunks WHERE repository_id = $1) AS chunks,
          (SELECT count(DISTINCT c.content_hash) FROM chunks c WHERE c.repository_id = $1 AND c.embed
             AND EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $2 AND v.content_hash = c.content_hash)) AS vectors,
          (SELECT count(DISTINCT c.content_hash) FROM chunks c WHERE c.repository_id = $1 AND c.embed) AS texts,
          (SELECT skipped FROM repositories WHERE id = $1) AS skipped,
          (SELECT count(*) FROM files WHERE repository_id = $1 AND secrets_redacted > 0) AS redacted_files,
          (SELECT coalesce(sum(secrets_redacted), 0) FROM files WHERE repository_id = $1) AS redacted_secrets
        """,
        repo.id,
        model,
    )
    skipped = row["skipped"]
    skipped = json.loads(skipped) if isinstance(skipped, str) else dict(skipped or {})
    return RepositoryStats(
        repo,
        row["files"],
        row["symbols"],
        row["edges"],
        row["resolved"],
        row["chunks"],
        row["vectors"],
        row["texts"] - row["vectors"],
        skipped,
        {"files": row["redacted_files"], "secrets": row["redacted_secrets"]},
    )


async def content_rules(conn: asyncpg.Connection, repository_id: int) -> str | None:
    """How the repository's stored text was made: the credential rules it was read under and the
    index format (see SecretRules.content_key, prepare.INDEX_FORMAT)."""
    return await conn.fetchval("SELECT settings->>'content_rules' FROM repositories WHERE id = $1", repository_id)


async def project_manifests(conn: asyncpg.Connection, repository_id: int) -> str | None:
    """What the repository's manifests said at its last whole pass (Project.to_json), if recorded."""
    return await conn.fetchval("SELECT settings->>'project' FROM repositories WHERE id = $1", repository_id)


async def set_project_manifests(conn: asyncpg.Connection, repository_id: int, project_json: str) -> None:
    await conn.execute(
        "UPDATE repositories SET settings = settings || jsonb_build_object('project', $2::text) WHERE id = $1",
        repository_id,
        project_json,
    )


async def set_content_rules(conn: asyncpg.Connection, repository_id: int, key: str) -> None:
    await conn.execute(
        "UPDATE repositories SET settings = settings || jsonb_build_object('content_rules', $2::text) WHERE id = $1",
        repository_id,
        key,
    )


def _json(value: dict[str, int]) -> str:
    return json.dumps(value, sort_keys=True)
