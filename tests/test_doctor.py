"""`pgcode doctor`: one command that checks the installation and says, per line, ok or what to do."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.weights import find_weights
from mcp_server.indexer.pipeline import index_repository
from tests.mcp_harness import server_env


def _doctor(*args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    run = subprocess.run(
        [sys.executable, "-m", "mcp_server", *args, "doctor", "--json"],
        env=server_env(env),
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run.returncode, json.loads(run.stdout)


def test_a_fresh_installation_is_healthy_and_says_what_comes_next(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    code, checks = _doctor("--data-dir", str(data), env={"PGCODE_PORT": "0", "PGCODE_METRICS_PORT": "0"})
    assert code == 0, checks
    by_area: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        by_area.setdefault(check["area"], []).append(check)
    assert all(c["status"] in ("ok", "warn", "fail") for c in checks)
    assert not [c for c in checks if c["status"] == "fail"]
    assert any("sha256" in c["message"] and c["status"] == "ok" for c in by_area["model"])
    assert by_area["data_dir"][0]["status"] == "ok"
    messages = " | ".join(c["message"] for c in by_area["database"])
    assert "PostgreSQL" in messages and "vector" in messages and "connections free" in messages


async def test_a_missing_root_fails_with_what_to_do(
    db: Database, settings: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    root = tmp_path / "gone-repo"
    root.mkdir()
    (root / "app.py").write_text("def run():\n    return 1\n")
    await index_repository(db, settings, root, name="doctor-gone")
    shutil.rmtree(root)
    code, checks = _doctor("--database-url", pg_dsn, env={"PGCODE_PORT": "0", "PGCODE_METRICS_PORT": "0"})
    assert code == 1
    (line,) = [c for c in checks if c["message"].startswith("doctor-gone:")]
    assert line["status"] == "fail" and "is missing" in line["message"]
    assert "pgcode remove doctor-gone" in line["message"]
    assert any(c["area"] == "database" and c["status"] == "ok" for c in checks)


def test_weights_whose_bytes_differ_from_the_pinned_ones_fail(tmp_path: Path) -> None:
    weights = tmp_path / "weights"
    shutil.copytree(find_weights(None).directory, weights)
    (weights / "config.json").write_text('{"tampered": true}')
    code, checks = _doctor(
        "--data-dir",
        str(tmp_path / "data"),
        env={"PGCODE_WEIGHTS_DIR": str(weights), "PGCODE_PORT": "0", "PGCODE_METRICS_PORT": "0"},
    )
    assert code == 1
    (model,) = [c for c in checks if c["area"] == "model"]
    assert model["status"] == "fail" and "config.json sha256" in model["message"]
