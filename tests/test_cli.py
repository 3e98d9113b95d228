"""The command line as a user runs it: index with progress, search (text and JSON), status, errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import psutil

from tests.conftest import write_sample_repo


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def test_index_then_search_then_status_through_the_command_line(pg_dsn: str, tmp_path: Path) -> None:
    repo = write_sample_repo(tmp_path / "cli-shop")
    url = ("--database-url", pg_dsn)
    indexed = _run(*url, "index", str(repo), "--name", "cli-shop")
    assert indexed.returncode == 0, indexed.stderr
    # Not a terminal: one line per stage saying how much it did, no redrawn bars.
    assert re.search(r"^parse\+store: (\d+) of \1 files$", indexed.stderr, re.MULTILINE) and "\r" not in indexed.stderr
    assert "indexed cli-shop" in indexed.stderr and indexed.stdout == ""

    found = _run(*url, "search", "where is the session cookie signed", "-r", "cli-shop", "-n", "3")
    assert found.returncode == 0, found.stderr
    first, second = [line for line in found.stdout.splitlines() if re.match(r"\S+:\d+-\d+  ", line)][:2]
    # sign_cookie and verify_cookie (which calls it on a `signed` value) score within .01 of each
    # other: what this checks is the command's output, not the ranking (bench/retrieval.py's job)
    assert first.startswith("shop/session.py:") and "shop.session.sign_cookie" in first + second

    as_json = _run(*url, "search", "apply_discount", "-r", "cli-shop", "--json")
    payload = json.loads(as_json.stdout)
    top = payload["results"][0]
    assert (
        top["path"] == "shop/pricing.py" and top["start_line"] == 6 and top["symbol"] == "shop.pricing.apply_discount"
    )
    assert payload["freshness"]["vectors_complete"] is True

    status = _run(*url, "status", "--json")
    payload = json.loads(status.stdout)
    rows = {r["repository"]: r for r in payload["repositories"]}
    assert payload["database"]["size_bytes"] > 0
    shop = rows["cli-shop"]
    assert shop["files"] == 16 and shop["symbols"] > 50 and shop["vectors_pending"] == 0
    assert shop["vectors"] > 0 and shop["state"] == "ready" and shop["skipped"]["binary"] == 1


def test_bad_input_exits_2_with_a_message_not_a_traceback(pg_dsn: str, tmp_path: Path) -> None:
    missing = _run("--database-url", pg_dsn, "index", str(tmp_path / "absent"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr and "Traceback" not in missing.stderr
    unknown = _run("--database-url", pg_dsn, "search", "x", "-r", "no-such-repo")
    assert unknown.returncode == 2 and "no-such-repo" in unknown.stderr and "Traceback" not in unknown.stderr
    bad_env = _run("status", env={"PGCODE_HNSW_M": "lots"})
    assert bad_env.returncode == 2 and "PGCODE_HNSW_M" in bad_env.stderr


def test_without_a_database_url_pgcode_runs_and_stops_its_own_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgcode-data"
    env = {"PGCODE_DATABASE_URL": ""}
    first = _run("--data-dir", str(data_dir), "status", env=env)
    assert first.returncode == 0, first.stderr
    assert "no repositories indexed yet" in first.stdout
    assert (data_dir / "pgdata" / "PG_VERSION").exists()
    running = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert running == []  # stopped cleanly on exit
