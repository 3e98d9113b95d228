"""Can every table be distributed by repository_id (Citus)? Read from the migrated catalog, checked
against the list deploy/capacity.md gives of the tables and constraints that stand in the way."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from mcp_server.db.pool import Database

GUIDE = Path(__file__).resolve().parent.parent / "deploy" / "capacity.md"
KEY = "repository_id"

# Tables Citus would copy to every node as reference tables (small, global by nature: repository
# names are unique across all of them): they need no repository column, and a foreign key to one
# is allowed. Everything else must be distributable.
REFERENCE = {"pgcode_migrations", "vector_indexes", "repositories"}


async def _breaks(conn: asyncpg.Connection) -> set[str]:
    """Each reason a public table cannot be distributed by repository_id and co-located."""
    found: set[str] = set()
    tables = [
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        )
    ]
    for table in tables:
        if table in REFERENCE:
            continue
        columns = {
            r["attname"]
            for r in await conn.fetch(
                "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped",
                table,
            )
        }
        key = KEY
        if key not in columns:
            found.add(f"{table}: no {KEY} column")
            continue
        for con in await conn.fetch(
            """SELECT conname, contype::text AS contype, confrelid::regclass::text AS target,
                      ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY(conkey)) AS cols,
                      ARRAY(SELECT attname FROM pg_attribute WHERE attrelid = confrelid AND attnum = ANY(confkey))
                        AS target_cols
               FROM pg_constraint WHERE conrelid = $1::regclass AND contype IN ('p', 'u', 'f')""",
            table,
        ):
            if con["contype"] in ("p", "u") and key not in con["cols"]:
                found.add(f"{table}: unique key {con['conname']} ({', '.join(con['cols'])}) lacks {key}")
            if con["contype"] == "f" and con["target"] not in REFERENCE:
                if key not in con["cols"] or key not in con["target_cols"]:
                    found.add(f"{table}: foreign key {con['conname']} to {con['target']} lacks {KEY}")
    return found


async def test_the_capacity_guide_lists_every_table_that_stops_distribution(db: Database) -> None:
    async with db.pool.acquire() as conn:
        found = await _breaks(conn)
    section = GUIDE.read_text(encoding="utf-8").split("<!-- distribution-check -->")[1]
    listed = {m.group(1) for m in re.finditer(r"^- `([^`]+)`", section, re.MULTILINE)}
    assert found == listed, (
        f"tables/constraints the catalog shows but deploy/capacity.md does not list: {sorted(found - listed)}; "
        f"listed but no longer true: {sorted(listed - found)}"
    )


async def test_the_check_sees_a_cross_repository_foreign_key(db: Database) -> None:
    """The check itself: a table keyed without the repository is reported, in a transaction rolled back."""
    async with db.pool.acquire() as conn:
        tx = conn.transaction()
        await tx.start()
        try:
            await conn.execute("CREATE TABLE probe_links (id bigint PRIMARY KEY, symbol_id bigint REFERENCES symbols)")
            found = await _breaks(conn)
        finally:
            await tx.rollback()
    assert "probe_links: no repository_id column" in found
