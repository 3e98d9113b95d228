"""A small repository written from a dict of files, indexed, and its resolved edges by (source, written target)."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer.pipeline import index_repository


async def index_files(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.removeprefix("\n"))
    await index_repository(db, settings, root, name=root.name)
    return root


async def targets(db: Database, repo: str, kind: str = "calls") -> dict[tuple[str, str], str | None]:
    """(source qualified name, target as written) -> the target's qualified name, or None."""
    rows = await db.pool.fetch(
        """SELECT src.qualified_name AS source, e.target_name, tgt.qualified_name AS target
           FROM edges e JOIN repositories r ON r.id = e.repository_id JOIN symbols src ON src.id = e.source_id
           LEFT JOIN symbols tgt ON tgt.id = e.target_id
           WHERE r.name = $1 AND e.kind = $2""",
        repo,
        kind,
    )
    return {(r["source"], r["target_name"]): r["target"] for r in rows}
