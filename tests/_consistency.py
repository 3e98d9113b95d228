"""Helpers for interruption tests: scratch databases, a generated repository, and what makes an index consistent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import psutil


def with_database(dsn: str, database: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


@asynccontextmanager
async def scratch_database(pg_dsn: str, name: str) -> AsyncIterator[str]:
    """A new, empty database on the test server, dropped afterwards (with whatever still uses it)."""
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield with_database(pg_dsn, name)
    finally:
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def per_file(conn: asyncpg.Connection, name: str) -> dict[str, tuple[Any, ...]]:
    """path -> (content hash, symbols, edges, chunks) for one repository."""
    rows = await conn.fetch(
        """SELECT f.path, f.content_hash,
                  (SELECT count(*) FROM symbols s WHERE s.file_id = f.id) AS symbols,
                  (SELECT count(*) FROM edges e WHERE e.file_id = f.id) AS edges,
                  (SELECT count(*) FROM chunks c WHERE c.file_id = f.id) AS chunks
           FROM files f JOIN repositories r ON r.id = f.repository_id WHERE r.name = $1""",
        name,
    )
    return {r["path"]: (bytes(r["content_hash"]), r["symbols"], r["edges"], r["chunks"]) for r in rows}


async def fingerprint(conn: asyncpg.Connection, name: str, *, resolved: bool = True) -> dict[str, tuple[Any, ...]]:
    """path -> everything stored for the file, by value (no ids): its row, symbols, edges and chunks.
    Two indexes of the same tree agree exactly; `resolved=False` leaves out what the resolver fills in."""
    repo = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", name)
    assert repo is not None, f"no repository {name!r}"
    files = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT id, path, language, content_hash, line_count, parse_errors FROM files WHERE repository_id = $1",
            repo,
        )
    }
    symbols: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT s.file_id, s.qualified_name, s.kind, s.signature, s.docstring, s.start_line, s.end_line,
                      s.start_byte, s.end_byte, p.qualified_name AS parent
               FROM symbols s LEFT JOIN symbols p ON p.id = s.parent_id WHERE s.repository_id = $1""",
        repo,
    ):
        symbols[r["file_id"]].append(tuple(r)[1:])
    edges: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT e.file_id, src.qualified_name AS source, e.kind, e.target_name, e.line, e.alias,
                      e.candidates, t.qualified_name AS target, e.confidence
               FROM edges e JOIN symbols src ON src.id = e.source_id LEFT JOIN symbols t ON t.id = e.target_id
               WHERE e.repository_id = $1""",
        repo,
    ):
        row = tuple(r)[1:]
        edges[r["file_id"]].append(row if resolved else row[:-2])
    chunks: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT c.file_id, c.start_line, c.end_line, c.content_hash, c.tsv::text AS tsv, s.qualified_name
               FROM chunks c LEFT JOIN symbols s ON s.id = c.symbol_id WHERE c.repository_id = $1""",
        repo,
    ):
        chunks[r["file_id"]].append(
            (r["start_line"], r["end_line"], bytes(r["content_hash"]), r["tsv"], r["qualified_name"])
        )
    return {
        f["path"]: (
            f["language"],
            bytes(f["content_hash"]),
            f["line_count"],
            f["parse_errors"],
            sorted(symbols[fid], key=repr),
            sorted(edges[fid], key=repr),
            sorted(chunks[fid], key=repr),
        )
        for fid, f in files.items()
    }


# Each query counts rows that break an invariant of the index; all must be 0. Foreign keys cover
# some of these, but migration 0003 dropped those a cascade already implies, so they are checked.
CHECKS: dict[str, str] = {
    "files of no repository": "SELECT count(*) FROM files f WHERE NOT EXISTS (SELECT 1 FROM repositories r WHERE r.id = f.repository_id)",
    "symbols of no file, or of another repository than their file": """SELECT count(*) FROM symbols s WHERE NOT EXISTS (
               SELECT 1 FROM files f WHERE f.id = s.file_id AND f.repository_id = s.repository_id)""",
    "symbols whose parent is gone or in another file": """SELECT count(*) FROM symbols s WHERE s.parent_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM symbols p WHERE p.id = s.parent_id AND p.file_id = s.file_id)""",
    "edges of no file, or of another repository than their file": """SELECT count(*) FROM edges e WHERE NOT EXISTS (
               SELECT 1 FROM files f WHERE f.id = e.file_id AND f.repository_id = e.repository_id)""",
    "edges whose source symbol is gone or in another file": """SELECT count(*) FROM edges e WHERE NOT EXISTS (
               SELECT 1 FROM symbols s WHERE s.id = e.source_id AND s.file_id = e.file_id)""",
    "edges resolved to a missing symbol or one in another repository": """SELECT count(*) FROM edges e WHERE e.target_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM symbols t WHERE t.id = e.target_id AND t.repository_id = e.repository_id)""",
    "chunks of no file, or of another repository than their file": """SELECT count(*) FROM chunks c WHERE NOT EXISTS (
               SELECT 1 FROM files f WHERE f.id = c.file_id AND f.repository_id = c.repository_id)""",
    "chunks whose symbol is gone or in another file": """SELECT count(*) FROM chunks c WHERE c.symbol_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM symbols s WHERE s.id = c.symbol_id AND s.file_id = c.file_id)""",
    "files with neither symbols nor chunks although they have lines": """SELECT count(*) FROM files f WHERE f.line_count > 0
               AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.file_id = f.id)
               AND NOT EXISTS (SELECT 1 FROM symbols s WHERE s.file_id = f.id)""",
    "duplicate symbols": """SELECT count(*) FROM (SELECT 1 FROM symbols GROUP BY file_id, qualified_name, kind, start_byte, end_byte
                                 HAVING count(*) > 1) d""",
    "duplicate chunks": """SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY file_id, start_line, end_line, content_hash
                                 HAVING count(*) > 1) d""",
    "duplicate files": "SELECT count(*) FROM (SELECT 1 FROM files GROUP BY repository_id, path HAVING count(*) > 1) d",
    "lease rows of no repository": "SELECT count(*) FROM index_leases l WHERE NOT EXISTS (SELECT 1 FROM repositories r WHERE r.id = l.repository_id)",
}


async def consistency_problems(conn: asyncpg.Connection) -> dict[str, int]:
    """The broken invariants of the whole database, with how many rows break each (empty: consistent)."""
    found = {name: await conn.fetchval(sql) for name, sql in CHECKS.items()}
    return {name: count for name, count in found.items() if count}


def write_large_repo(root: Path, modules: int, *, heavy_tail: int = 0) -> Path:
    """A Python repository of `modules` small files in packages of 50, each calling into the previous
    module and into a shared base module, so that resolution crosses files. `heavy_tail` large files
    come last in path order: they keep the end of a pass busy for seconds, so a test can act while
    most files are stored and some are not (a cold index commits a batch of new files at once)."""
    root.mkdir(parents=True)
    (root / "core").mkdir()
    (root / "core" / "__init__.py").write_text("")
    (root / "core" / "base.py").write_text(
        '"""Shared helpers every generated module calls."""\n\n\n'
        "def clamp(value, low=0, high=100):\n    return max(low, min(high, value))\n\n\n"
        "class Handler:\n    def handle(self, value):\n        return clamp(value)\n"
    )
    for i in range(modules):
        package = root / f"pkg_{i // 50}"
        if not package.exists():
            package.mkdir()
            (package / "__init__.py").write_text("")
        prev = f"pkg_{(i - 1) // 50}.mod_{i - 1}" if i else "core.base"
        prev_fn = f"step_{i - 1}_0" if i else "clamp"
        lines = [
            f'"""Generated module {i}: steps that feed the next module."""',
            "",
            "from core.base import Handler, clamp",
            f"from {prev} import {prev_fn}",
            "",
            "",
        ]
        for j in range(4):
            lines += [
                f"def step_{i}_{j}(value):",
                f'    """Step {j} of module {i}."""',
                f"    return clamp({prev_fn}(value) + {j})",
                "",
                "",
            ]
        lines += [
            f"class Handler{i}(Handler):",
            f'    """Handles module {i}."""',
            "",
            "    def handle(self, value):",
            f"        return step_{i}_3(super().handle(value))",
            "",
        ]
        (package / f"mod_{i}.py").write_text("\n".join(lines))
    if heavy_tail:
        (root / "zz_tail").mkdir()
        (root / "zz_tail" / "__init__.py").write_text("")
        body = "".join(f"def heavy_{k}(value):\n    return clamp(value + {k})\n\n\n" for k in range(4000))
        for k in range(heavy_tail - 1):
            (root / "zz_tail" / f"heavy_{k}.py").write_text("from core.base import clamp\n\n\n" + body)
    return root


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The postmaster whose command line names `data_dir` (the embedded server of that dir), if running."""
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found
