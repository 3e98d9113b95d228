"""`pgcode index` on one repository holding every parsed language: each language's files get symbols and chunks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import asyncpg

from mcp_server.index.languages import LANGUAGES

FIXTURES = Path(__file__).parent / "fixtures"


async def test_every_parsed_language_gets_symbols_in_one_repository(pg_dsn: str, tmp_path: Path) -> None:
    repo = tmp_path / "mixed"
    shutil.copytree(FIXTURES / "sample_repo", repo)
    shutil.copytree(FIXTURES / "langs", repo / "langs")
    run = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--database-url", pg_dsn, "index", str(repo), "--name", "mixed"],
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr
    conn = await asyncpg.connect(pg_dsn)
    try:
        rows = await conn.fetch(
            """SELECT f.language,
                      count(DISTINCT s.id) FILTER (WHERE s.kind <> 'module') AS symbols,
                      count(DISTINCT c.id) AS chunks
               FROM files f JOIN repositories r ON r.id = f.repository_id
               LEFT JOIN symbols s ON s.file_id = f.id LEFT JOIN chunks c ON c.file_id = f.id
               WHERE r.name = 'mixed' GROUP BY f.language"""
        )
    finally:
        await conn.close()
    found = {r["language"]: (r["symbols"], r["chunks"]) for r in rows}
    assert sorted(lang for lang in LANGUAGES if found.get(lang, (0, 0))[0] == 0) == []
    assert sorted(lang for lang in LANGUAGES if found.get(lang, (0, 0))[1] == 0) == []
