"""How much disk the index takes: the database's size and, where the role may see it, the server's WAL."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class DiskUse:
    database_bytes: int
    wal_bytes: int | None  # None: listing the WAL needs a superuser or pg_monitor


async def disk_use(conn: asyncpg.Connection) -> DiskUse:
    size = await conn.fetchval("SELECT pg_database_size(current_database())")
    try:
        wal = await conn.fetchval("SELECT coalesce(sum(size), 0) FROM pg_ls_waldir()")
    except asyncpg.InsufficientPrivilegeError:
        wal = None
    return DiskUse(int(size), None if wal is None else int(wal))
