"""How current the index is for an answer: vectors and files still pending, last completed pass, vanished roots, a replica's lag."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import ParamSpec, TypeVar

import asyncpg
from pydantic import BaseModel

from ..db.replica import replica_lag
from ..db.vector_marks import recent_pending
from ..embed.model import key_for
from ..graph.models import Answer
from ..indexer.precise import status as compiler_status
from .models import Freshness
from .state import ServerState

A = TypeVar("A", bound=Answer)
P = ParamSpec("P")


@dataclass(frozen=True, slots=True)
class MissingRoot:
    repository_id: int
    repository: str
    root: str
    note: str


# Every answer asks which roots are missing, and that changes when a folder is deleted or comes back:
# the repositories table is read at most this often per pool.
ROOTS_MAX_AGE = 1.0
_roots_seen: dict[int, tuple[float, list[MissingRoot]]] = {}
# Every graph answer says where its repositories' compiler passes stand: read at most this often per
# pool and scope, and again at once when this process records a pass's state or stores files (another
# process's writes show within this long).
PASSES_MAX_AGE = 1.0
_passes_seen: dict[tuple[int, tuple[str, ...], str | None], tuple[float, int, list[str]]] = {}


async def freshness(
    state: ServerState,
    repository_id: int | None,
    *,
    vectors_pending: int | None = None,
    repositories: Iterable[str] = (),
) -> Freshness:
    """For a search scoped to `repository_id` (None: all), whose hits come from `repositories`."""
    key = key_for(state.settings)
    if vectors_pending is None or vectors_pending < 0:
        vectors_pending = await recent_pending(state.db.pool, key, repository_id)
    async with state.db.pool.acquire() as conn:
        last = await conn.fetchval(
            "SELECT max(indexed_at) FROM repositories WHERE $1::int IS NULL OR id = $1", repository_id
        )
        ids = (
            [repository_id]
            if repository_id is not None
            else [r["id"] for r in await conn.fetch("SELECT id FROM repositories")]
        )
    files_pending = 0
    notes: list[str] = []
    if state.indexer is not None:
        statuses = [state.indexer.status(i) for i in ids]
        files_pending = sum(s.files_pending for s in statuses)
        # Results may miss recent edits while indexing waits for the database: say so, once per reason.
        notes = list(dict.fromkeys(s.paused for s in statuses if s.paused))
    names = set(repositories)
    notes += [
        m.note for m in await missing_roots(state.db.pool) if m.repository_id == repository_id or m.repository in names
    ]
    notes += await replica_notes(state)
    return Freshness(
        vectors_complete=vectors_pending == 0,
        vectors_pending=vectors_pending,
        files_pending=files_pending,
        last_indexed_at=last.isoformat() if last else None,
        notes=notes,
    )


async def noted(state: ServerState, answer: A, scope: object = None) -> A:
    """`answer` with a note for each repository it speaks of, or is scoped to (a name or root path),
    whose root folder is missing."""
    missing = await missing_roots(state.db.pool)
    if missing:
        names = _repositories_in(answer)
        answer.notes.extend(m.note for m in missing if m.repository in names or scope in (m.repository, m.root))
    answer.notes.extend(await replica_notes(state))
    return answer


async def replica_notes(state: ServerState) -> list[str]:
    """The replica's lag as a note, on a read-only server whose database is a standby that is further
    behind than replica_lag_note_seconds (a writable server always works on the primary)."""
    if not state.read_only:
        return []
    note = (await replica_lag(state.db.pool)).note(state.settings.replica_lag_note_seconds)
    return [note] if note else []


async def compiler_noted(state: ServerState, answer: A, scope: object = None) -> A:
    """`answer` with a sentence per repository it speaks of (or is scoped to) saying where its compiler
    pass stands: which edges are the compiler's, and which are tree-sitter's and why."""
    names = tuple(sorted(_repositories_in(answer)))
    where = scope if isinstance(scope, str) else None
    if not names and where is None:
        return answer
    key = (id(state.db.pool), names, where)
    now = time.monotonic()
    seen = _passes_seen.get(key)
    if seen is None or now - seen[0] >= PASSES_MAX_AGE or seen[1] != compiler_status.generation:
        generation = compiler_status.generation
        async with state.db.pool.acquire() as conn:
            # A pass not run yet is not news in every answer (index_status lists it): the edges say their provenance.
            seen = (now, generation, [p.sentence() for p in await compiler_status.ran(conn, list(names), where)])
        if len(_passes_seen) > 256:  # one entry per pool and scope; tests open many
            _passes_seen.clear()
        _passes_seen[key] = seen
    answer.notes.extend(seen[2])
    return answer


def with_root_notes(
    state: ServerState, *, graph: bool = False
) -> Callable[[Callable[P, Awaitable[A]]], Callable[P, Awaitable[A]]]:
    """A tool decorator: the tool's answer, `noted` once the tool has given its connection back; a graph
    tool's answer `compiler_noted` too."""

    def decorate(fn: Callable[P, Awaitable[A]]) -> Callable[P, Awaitable[A]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> A:
            answer = await noted(state, await fn(*args, **kwargs), kwargs.get("repository"))
            return await compiler_noted(state, answer, kwargs.get("repository")) if graph else answer

        return wrapper

    return decorate


async def missing_roots(pool: asyncpg.Pool) -> list[MissingRoot]:
    """The repositories whose root a watcher found missing (see repositories.mark_root_missing),
    as of less than ROOTS_MAX_AGE seconds ago. From the database, not the file system: a
    read-only server often runs where the folders are not mounted at all."""
    now = time.monotonic()
    seen = _roots_seen.get(id(pool))
    if seen is not None and now - seen[0] < ROOTS_MAX_AGE:
        return seen[1]
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT id, name, root_path, root_missing_since FROM repositories"
            " WHERE root_missing_since IS NOT NULL ORDER BY name"
        )
    missing = [
        MissingRoot(
            r["id"],
            r["name"],
            r["root_path"],
            (
                f"repository {r['name']!r}: its root folder {r['root_path']} is missing since "
                f"{r['root_missing_since'].astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC (deleted, moved or unmounted); "
                "its results come from the last index, which catches up once the folder is back"
            ),
        )
        for r in rows
    ]
    if len(_roots_seen) > 64:  # one entry per pool; tests open many
        _roots_seen.clear()
    _roots_seen[id(pool)] = (now, missing)
    return missing


def _repositories_in(model: BaseModel) -> set[str]:
    """Every repository name an answer mentions, at any depth."""
    found: set[str] = set()
    stack: list[object] = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, BaseModel):
            for name, value in item:
                if name == "repository" and isinstance(value, str):
                    found.add(value)
                elif isinstance(value, BaseModel | list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
    return found
