"""How current the index is for a scope: vectors and files still pending, last completed pass."""

from __future__ import annotations

from ..embed.model import key_for
from ..db.vector_marks import recent_pending
from .models import Freshness
from .state import ServerState


async def freshness(state: ServerState, repository_id: int | None, *, vectors_pending: int | None = None) -> Freshness:
    key = key_for(state.settings)
    if vectors_pending is None or vectors_pending < 0:
        vectors_pending = await recent_pending(state.db.pool, key, repository_id)
    async with state.db.pool.acquire() as conn:
        last = await conn.fetchval(
            "SELECT max(indexed_at) FROM repositories WHERE $1::int IS NULL OR id = $1", repository_id
        )
        ids = [repository_id] if repository_id is not None else [
            r["id"] for r in await conn.fetch("SELECT id FROM repositories")
        ]
    files_pending = 0
    notes: list[str] = []
    if state.indexer is not None:
        statuses = [state.indexer.status(i) for i in ids]
        files_pending = sum(s.files_pending for s in statuses)
        # Results may miss recent edits while indexing waits for the database: say so, once per reason.
        notes = list(dict.fromkeys(s.paused for s in statuses if s.paused))
    return Freshness(
        vectors_complete=vectors_pending == 0, vectors_pending=vectors_pending, files_pending=files_pending,
        last_indexed_at=last.isoformat() if last else None, notes=notes,
    )
