"""A repository's own settings (.pgcode.toml, or [tool.pgcode] in pyproject.toml): ignores, languages, size limit."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.index.discover import is_ignore_rules_file
from mcp_server.indexer.pipeline import index_repository
from tests.mcp_harness import server_env


def _repo(root: Path) -> Path:
    files = {
        "app/main.py": "def main():\n    return 1\n",
        "app/big.py": "# padding\n" * 20 + "def big():\n    return 2\n",
        "generated/out.py": "def gen():\n    return 3\n",
        "web/app.ts": "export function start(): void {}\n",
        "README.md": "# demo\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


async def _paths(db: Database, name: str) -> set[str]:
    async with db.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT f.path FROM files f JOIN repositories r ON r.id = f.repository_id WHERE r.name = $1", name
        )
    return {r["path"] for r in rows}


async def test_a_repository_chooses_its_ignores_languages_and_size_limit(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = _repo(tmp_path / "own")
    (root / ".pgcode.toml").write_text(
        'ignore = ["generated/"]\nlanguages = ["python", "toml"]\nmax_file_bytes = 100\n'
    )
    report = await index_repository(db, settings, root, name="own-settings")
    assert await _paths(db, "own-settings") == {"app/main.py", ".pgcode.toml"}
    assert report.skipped["language_not_selected"] == 2  # web/app.ts, README.md
    assert report.skipped["too_large"] == 1 and report.skipped["ignored"] >= 1
    # Changed settings apply at the next pass: the file is one of those that start a whole pass.
    assert is_ignore_rules_file(".pgcode.toml") and is_ignore_rules_file("pyproject.toml")
    (root / ".pgcode.toml").write_text('languages = ["python", "typescript", "toml"]\n')
    await index_repository(db, settings, root, name="own-settings")
    assert await _paths(db, "own-settings") == {
        "app/main.py",
        "app/big.py",
        "generated/out.py",
        "web/app.ts",
        ".pgcode.toml",
    }


async def test_pyproject_tool_table_is_read_and_pgcode_toml_wins_over_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = _repo(tmp_path / "pyproj")
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n\n[tool.pgcode]\nignore = ["app/"]\n')
    await index_repository(db, settings, root, name="pyproject-settings")
    paths = await _paths(db, "pyproject-settings")
    assert "app/main.py" not in paths and "generated/out.py" in paths
    (root / ".pgcode.toml").write_text('ignore = ["web/"]\n')
    await index_repository(db, settings, root, name="pyproject-settings")
    paths = await _paths(db, "pyproject-settings")
    assert "app/main.py" in paths and "web/app.ts" not in paths


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", "--data-dir", str(data_dir), *args],
        env=server_env(),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_malformed_settings_stop_the_index_with_the_file_and_key_named(tmp_path: Path) -> None:
    root = _repo(tmp_path / "bad")
    (root / ".pgcode.toml").write_text('ignore = "generated/"\nlanguage = ["python"]\n')
    run = _cli("index", str(root), data_dir=tmp_path / "data")
    assert run.returncode == 2, run.stderr
    assert ".pgcode.toml has unknown keys language" in run.stderr and "Traceback" not in run.stderr
    (root / ".pgcode.toml").write_text('ignore = "generated/"\n')
    run = _cli("index", str(root), data_dir=tmp_path / "data")
    assert run.returncode == 2 and ".pgcode.toml: ignore must be" in run.stderr
    (root / ".pgcode.toml").write_text('languages = ["pyhton"]\n')
    run = _cli("config", "show", "--repository", str(root), data_dir=tmp_path / "data")
    assert run.returncode == 2 and "unknown languages pyhton" in run.stderr


def test_config_show_lists_the_repository_file_as_the_source(tmp_path: Path) -> None:
    root = _repo(tmp_path / "shown")
    (root / ".pgcode.toml").write_text('max_file_bytes = 5000\n')
    run = _cli("config", "show", "--json", "--repository", str(root), data_dir=tmp_path / "data")
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)["repository"]
    assert shown["max_file_bytes"] == {"value": 5000, "source": "file .pgcode.toml"}
    assert shown["languages"] == {"value": "all", "source": "default"}
    text = _cli("config", "show", "--repository", str(root), data_dir=tmp_path / "data").stdout
    assert "file .pgcode.toml" in text
