"""Storage gives space back: vectors no chunk uses are collected after their grace period (by the
background indexer and after a removal), a removal's room is reused, the embedded server's WAL
stays small, and `pgcode status` shows the database's size."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import asyncpg

from mcp_server.config import Settings
from mcp_server.db.embedded import EmbeddedPostgres
from mcp_server.db.pool import Database, open_database
from mcp_server.embed.model import Embedder
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.vector_gc import collect_vectors
from mcp_server.indexer.watcher import BackgroundIndexer
from tests._consistency import postgres_processes, scratch_database
from tests.mcp_harness import connect

BOUNDED_WAL = {"max_wal_size": "256MB", "min_wal_size": "32MB", "wal_keep_size": "0"}
_UNUSED = """SELECT count(*) FROM embeddings v
             WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.content_hash = v.content_hash)"""
_MISSING = """SELECT count(DISTINCT c.content_hash) FROM chunks c
              WHERE NOT EXISTS (SELECT 1 FROM embeddings v WHERE v.model = $1 AND v.content_hash = c.content_hash)"""
_ROW_TABLES = ("files", "symbols", "edges", "chunks")


@asynccontextmanager
async def _database(settings: Settings, name: str, *, grace: int) -> AsyncIterator[tuple[Database, Settings]]:
    """A database of its own (collection counts every vector in it), with this grace period."""
    assert settings.database_url
    async with scratch_database(settings.database_url, f"{name}_{os.getpid()}") as dsn:
        scoped = replace(settings, database_url=dsn, vector_gc_grace_seconds=grace)
        async with open_database(scoped) as db:
            yield db, scoped


@asynccontextmanager
async def _indexed(
    settings: Settings, embedder: Embedder, root: Path, *, grace: int
) -> AsyncIterator[tuple[Database, Settings, Path]]:
    """A database of its own holding one repository of `_write_repo`, indexed with its vectors."""
    async with _database(settings, f"pgcode_storage_{root.name}", grace=grace) as (db, scoped):
        await index_repository(db, scoped, _write_repo(root, 0), embedder=embedder)
        yield db, scoped, root


def _write_repo(root: Path, version: int, modules: int = 6) -> Path:
    """A small package whose every function body says which version of the code it is."""
    (root / "ledger").mkdir(parents=True, exist_ok=True)
    (root / "ledger" / "__init__.py").write_text("")
    for m in range(modules):
        (root / "ledger" / f"book_{m}.py").write_text(
            "".join(
                f"def post_entry_{m}_{f}(amount):\n"
                f'    """Post an entry to book {m}, rule {f}, revision {version}."""\n'
                f"    return round(amount * {version + 1}.{f}, {m % 3})\n\n\n"
                for f in range(4)
            )
        )
    return root


async def _count(db: Database, sql: str, *args: Any) -> int:
    async with db.pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args))


async def _hashes(db: Database, sql: str, *args: Any) -> set[bytes]:
    async with db.pool.acquire() as conn:
        return {bytes(r[0]) for r in await conn.fetch(sql, *args)}


async def test_edit_and_remove_cycles_leave_no_unused_vector_once_collected(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    async with _database(settings, "pgcode_storage_cycles", grace=0) as (db, scoped):
        kept = _write_repo(tmp_path / "kept", 0)
        dropped = _write_repo(tmp_path / "dropped", 100)  # texts of its own: its vectors go with it
        await index_repository(db, scoped, kept, embedder=embedder)
        await index_repository(db, scoped, dropped, embedder=embedder)
        for version in (1, 2, 3):
            _write_repo(kept, version)
            if version == 3:
                (kept / "ledger" / "book_5.py").unlink()
            report = await index_repository(db, scoped, kept, embedder=embedder)
            assert report.vectors_embedded > 0
        assert await _count(db, _UNUSED) >= 3 * 5 * 4  # every edit left the old texts' vectors behind

        async with db.pool.acquire() as conn:
            repo = await repositories.find(conn, "dropped")
            its_texts = await _hashes(db, "SELECT content_hash FROM chunks WHERE repository_id = $1", repo.id)
            await repositories.remove(conn, repo.id, vector_grace_seconds=scoped.vector_gc_grace_seconds)

        assert await _count(db, _UNUSED) == 0
        assert its_texts and not its_texts & await _hashes(db, "SELECT content_hash FROM embeddings")
        assert await _count(db, "SELECT count(*) FROM vector_orphans") == 0
        assert await _count(db, _MISSING, embedder.model_key) == 0  # no vector a chunk uses was taken
        assert await _count(db, "SELECT count(*) FROM chunks") > 0


async def test_the_background_indexer_collects_vectors_an_edit_left_unused(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    async with _indexed(settings, embedder, tmp_path / "watched", grace=0) as (db, scoped, root):
        old = await _hashes(
            db, "SELECT c.content_hash FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.path = 'ledger/book_2.py'"
        )
        assert old and old <= await _hashes(db, "SELECT content_hash FROM embeddings")
        indexer = BackgroundIndexer(db, scoped, embedder, lease_retry_seconds=0.2, heartbeat_seconds=0.2)
        async with anyio.create_task_group() as tg:
            await tg.start(indexer.run)
            book = root / "ledger" / "book_2.py"
            book.write_text(book.read_text().replace("revision 0", "revision 9"))
            deadline = time.monotonic() + 60
            while True:
                vectors = await _hashes(db, "SELECT content_hash FROM embeddings")
                missing = await _count(db, _MISSING, embedder.model_key)
                edited = await _count(db, "SELECT count(*) FROM chunks WHERE content LIKE '%revision 9%'")
                if edited and not missing and not (old & vectors) and not await _count(db, _UNUSED):
                    break
                assert time.monotonic() < deadline, (edited, missing, len(old & vectors))
                await anyio.sleep(0.1)
            tg.cancel_scope.cancel()


async def test_a_vector_unused_for_less_than_the_grace_period_is_kept_and_a_revert_reuses_it(
    settings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    async with _indexed(settings, embedder, tmp_path / "grace", grace=3600) as (db, scoped, root):
        original = await _hashes(db, "SELECT content_hash FROM chunks")
        book = root / "ledger" / "book_1.py"
        first = book.read_text()
        book.write_text(first.replace("revision 0", "revision 7"))
        await index_repository(db, scoped, root, embedder=embedder)
        edited = await _hashes(db, "SELECT content_hash FROM chunks") - original
        left = original - await _hashes(db, "SELECT content_hash FROM chunks")
        assert edited and left

        async with db.pool.acquire() as conn:
            kept = await collect_vectors(conn, scoped.vector_gc_grace_seconds)
        assert kept.vectors == 0 and kept.waiting == len(left)
        assert left <= await _hashes(db, "SELECT content_hash FROM embeddings")

        book.write_text(first)  # the edit is reverted within the hour
        reverted = await index_repository(db, scoped, root, embedder=embedder)
        assert reverted.files_indexed == 1 and reverted.vectors_embedded == 0  # its vectors were still there
        async with db.pool.acquire() as conn:
            await collect_vectors(conn, scoped.vector_gc_grace_seconds)
        assert await _hashes(db, "SELECT content_hash FROM vector_orphans") == edited  # the revert's are in use
        assert edited <= await _hashes(db, "SELECT content_hash FROM embeddings")

        async with db.pool.acquire() as conn:
            gone = await collect_vectors(conn, 0)  # once the grace period has passed
        assert gone.vectors == len(edited) and gone.waiting == 0
        assert await _count(db, _UNUSED) == 0 and await _count(db, _MISSING, embedder.model_key) == 0


async def test_remove_repository_over_mcp_gives_its_room_to_the_next_rows(settings: Settings, tmp_path: Path) -> None:
    assert settings.database_url
    async with scratch_database(settings.database_url, f"pgcode_storage_room_{os.getpid()}") as dsn:
        async with open_database(replace(settings, database_url=dsn)):
            pass  # migrated
        admin = await asyncpg.connect(dsn)
        try:
            for table in _ROW_TABLES:  # the only vacuum is the one the removal runs
                await admin.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")

            async def heap_bytes() -> dict[str, int]:
                return {t: await admin.fetchval("SELECT pg_relation_size($1::regclass)", t) for t in _ROW_TABLES}

            root = _write_repo(tmp_path / "room", 0, modules=60)
            async with connect("stdio", dsn=dsn) as client:
                first = await client.call_tool("index_repository", {"path": str(root), "name": "room"})
                assert not first.is_error, first.content
                once = await heap_bytes()
                removed = await client.call_tool("remove_repository", {"repository": "room"})
                assert not removed.is_error, removed.content
                again = await client.call_tool("index_repository", {"path": str(root), "name": "room"})
                assert not again.is_error, again.content
            twice = await heap_bytes()
            assert once["chunks"] > 8192 * 4
            for table in _ROW_TABLES:
                assert twice[table] <= once[table] * 1.25, (table, once, twice)  # not twice the size

            status = subprocess.run(
                [sys.executable, "-m", "mcp_server", "--database-url", dsn, "status", "--json"],
                capture_output=True,
                text=True,
                timeout=120,
                stdin=subprocess.DEVNULL,
            )
            assert status.returncode == 0, status.stderr
            shown = json.loads(status.stdout)
            size = await admin.fetchval("SELECT pg_database_size(current_database())")
            assert abs(shown["database"]["size_bytes"] - size) <= size * 0.2
            assert [r["repository"] for r in shown["repositories"]] == ["room"]
        finally:
            await admin.close()


async def _wal_settings(dsn: str) -> dict[str, str]:
    conn = await asyncpg.connect(dsn)
    try:
        return {name: await conn.fetchval(f"SHOW {name}") for name in BOUNDED_WAL}
    finally:
        await conn.close()


async def test_the_embedded_server_keeps_its_wal_bounded_and_an_alter_system_still_wins(tmp_path: Path) -> None:
    data_dir = tmp_path / "wal"
    server = EmbeddedPostgres(data_dir)
    try:
        dsn = await anyio.to_thread.run_sync(server.start)
        # A new data dir starts with PostgreSQL's defaults and reads pgcode's on the reload that follows.
        deadline = time.monotonic() + 10
        while (seen := await _wal_settings(dsn)) != BOUNDED_WAL and time.monotonic() < deadline:
            await anyio.sleep(0.05)
        assert seen == BOUNDED_WAL
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("ALTER SYSTEM SET max_wal_size = '128MB'")
        finally:
            await conn.close()
        await anyio.to_thread.run_sync(server.stop)

        server = EmbeddedPostgres(data_dir)
        dsn = await anyio.to_thread.run_sync(server.start)  # an existing data dir: read at start, no wait
        assert await _wal_settings(dsn) == {**BOUNDED_WAL, "max_wal_size": "128MB"}
    finally:
        await anyio.to_thread.run_sync(server.stop)
        for p in postgres_processes(data_dir):
            p.kill()
