"""Shared fixtures: one embedded PostgreSQL per test session, the real model, a sample repository."""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from mcp_server.config import Settings
from mcp_server.db.embedded import EmbeddedPostgres
from mcp_server.db.pool import Database, open_database
from mcp_server.embed.model import Embedder, embedder_for
from mcp_server.indexer.pipeline import IndexReport, index_repository
from mcp_server.logs import configure_logging

FIXTURES = Path(__file__).parent / "fixtures"
configure_logging("info")  # to stderr, as in production: stdout belongs to the stdio transport


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL: PGCODE_TEST_DATABASE_URL if set, else the embedded server in a temp dir."""
    external = os.environ.get("PGCODE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    dsn = server.start()
    try:
        yield dsn
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings.load({"database_url": pg_dsn, "data_dir": tmp_path_factory.mktemp("data")}, env={})


@pytest.fixture(scope="session")
async def db(settings: Settings) -> AsyncIterator[Database]:
    async with open_database(settings) as database:
        yield database


@pytest.fixture(scope="session")
def embedder(settings: Settings) -> Embedder:
    return embedder_for(settings)


def write_sample_repo(dest: Path) -> Path:
    """The committed sample repository plus the files git itself would refuse to commit."""
    shutil.copytree(FIXTURES / "sample_repo", dest)
    (dest / ".gitignore").write_text("*.log\nbuild/\ngenerated/*\n!generated/keep.py\nsecret_*.py\n")
    (dest / ".pgcodeignore").write_text("docs/private/\n")
    (dest / "debug.log").write_text("noise\n")
    (dest / "build").mkdir()
    (dest / "build" / "out.py").write_text("print('build output')\n")
    (dest / "generated").mkdir()
    (dest / "generated" / "keep.py").write_text("def kept():\n    return 1\n")
    (dest / "generated" / "drop.py").write_text("def dropped():\n    return 2\n")
    (dest / "secret_keys.py").write_text("API_KEY = 'x'\n")
    (dest / "docs" / "private").mkdir()
    (dest / "docs" / "private" / "notes.md").write_text("# internal notes\n")
    (dest / "node_modules" / "left").mkdir(parents=True)
    (dest / "node_modules" / "left" / "index.js").write_text("module.exports = 1;\n")
    (dest / "logo.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00binary")
    (dest / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    (dest / "huge.py").write_text("x = 1\n" * 400_000)  # 2.4 MB, over the default limit
    return dest


@pytest.fixture
def sample_repo(tmp_path: Path) -> Path:
    return write_sample_repo(tmp_path / "sample")


@pytest.fixture(scope="session")
async def indexed_sample(
    db: Database, settings: Settings, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> IndexReport:
    """The sample repository indexed once, with vectors, shared by read-only tests."""
    root = write_sample_repo(tmp_path_factory.mktemp("shared") / "shop-shared")
    return await index_repository(db, settings, root, name="shop-shared", embedder=embedder)


async def database_of_its_own(settings: Settings, name: str) -> Settings:
    """`settings` pointed at a new, empty database of the test server (for a watcher, which claims
    every repository it finds: other modules' must not be there)."""
    assert settings.database_url
    admin = await asyncpg.connect(settings.database_url)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    parts = urlsplit(settings.database_url)
    return dataclasses.replace(settings, database_url=urlunsplit(parts._replace(path=f"/{name}")))
