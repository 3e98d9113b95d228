"""Find indexed repositories by name or root path: what the read side and the write side both need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from ..errors import InvalidArgument, RepositoryNotFound


@dataclass(frozen=True, slots=True)
class Repository:
    id: int
    name: str
    root_path: str
    state: str
    indexed_at: datetime | None
    last_error: str | None


COLUMNS = "id, name, root_path, state, indexed_at, last_error"


def repository_from_row(row: asyncpg.Record) -> Repository:
    return Repository(row["id"], row["name"], row["root_path"], row["state"], row["indexed_at"], row["last_error"])


async def find(conn: asyncpg.Connection, name_or_path: str) -> Repository:
    if "\x00" in name_or_path:  # PostgreSQL text cannot hold it
        raise InvalidArgument("repository contains a NUL character")
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM repositories WHERE name = $1", name_or_path)
    if row is None:
        try:
            resolved = str(Path(name_or_path).expanduser().resolve())
        except (OSError, RuntimeError, ValueError):
            resolved = name_or_path
        row = await conn.fetchrow(f"SELECT {COLUMNS} FROM repositories WHERE root_path = $1", resolved)
    if row is None:
        names = [r["name"] for r in await conn.fetch("SELECT name FROM repositories ORDER BY name")]
        known = ", ".join(names) if names else "none yet"
        raise RepositoryNotFound(f"no indexed repository is called {name_or_path!r} (indexed: {known}); index it first")
    return repository_from_row(row)


async def all_repositories(conn: asyncpg.Connection) -> list[Repository]:
    return [repository_from_row(r) for r in await conn.fetch(f"SELECT {COLUMNS} FROM repositories ORDER BY name")]


NOTHING_INDEXED = "nothing is indexed yet: index a folder first (`pgcode index PATH`, or the index_repository tool)"


async def nothing_indexed(conn: asyncpg.Connection) -> bool:
    return not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM repositories)")
