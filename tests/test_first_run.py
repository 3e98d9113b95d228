"""A new user's first run: progress in logs, searchable before vectors, Ctrl-C while embedding, an empty index, status."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mcp import Client, StdioServerParameters

from mcp_server.cli_progress import LEXICAL_READY
from tests.mcp_harness import server_env


def _repo(root: Path, modules: int) -> Path:
    for i in range(modules):
        path = root / "pkg" / f"mod_{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "\n\n".join(
            f'def handler_{i}_{j}(request):\n    """Answer request kind {i}-{j} with its own words: {i * 31 + j}."""\n'
            f"    return request.reply('{i}-{j}')"
            for j in range(6)
        )
        path.write_text(body + "\n")
    (root / "logo.py").write_bytes(b"\x89PNG\r\n\x1a\n\x00binary")
    (root / "big.py").write_text("x = 1\n" * 300_000)
    (root / "notes.log").write_text("noise\n")
    (root / ".gitignore").write_text("*.log\n")
    return root


def _env(data_dir: Path) -> dict[str, str]:
    return server_env({"PGCODE_DATA_DIR": str(data_dir), "PGCODE_EMBED_THREADS": "1"})


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", *args],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def test_ctrl_c_while_embedding_keeps_the_index_searchable_and_the_next_run_resumes(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", modules=150)
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "index", str(root)],
        env=_env(data),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + 240
    for line in proc.stderr:
        seen.append(line)
        if LEXICAL_READY in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    else:
        raise AssertionError("the index finished without saying the lexical pass was done:\n" + "".join(seen))
    time.sleep(0.5)  # into the embedding
    proc.send_signal(signal.SIGINT)
    rest = proc.stderr.read()
    assert proc.wait(60) == 130, rest
    log = "".join(seen) + rest
    assert "\r" not in log  # not a terminal: lines, not redrawn bars
    assert "discover: " in log and "files/s" not in log and "file/s" not in log.split("parse+store")[0]
    assert "interrupted" in rest and "Traceback" not in log

    # Already searchable by keyword and graph, before any vector.
    found = _cli("search", "--mode", "keyword", "--json", "--limit", "100", "handler_7_3", data_dir=data)
    assert found.returncode == 0, found.stderr
    assert any(h["symbol"] == "mod_7.handler_7_3" for h in json.loads(found.stdout)["results"])
    before = json.loads(_cli("status", "--json", data_dir=data).stdout)["repositories"][0]
    assert before["vectors_pending"] > 0

    again = _cli("index", str(root), data_dir=data)
    assert again.returncode == 0, again.stderr
    after = json.loads(_cli("status", "--json", data_dir=data).stdout)["repositories"][0]
    assert after["vectors_pending"] == 0
    embedded = int(again.stderr.split(" chunk texts embedded")[0].rsplit(" ", 1)[-1])
    # Only what the first run had not embedded: the rest was kept.
    assert 0 < embedded == before["vectors_pending"]
    assert after["chunk_texts"] == after["vectors"] and after["chunks"] >= after["chunk_texts"]


def test_status_names_each_file_left_out_and_why(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", modules=2)
    data = tmp_path / "data"
    assert _cli("index", str(root), data_dir=data).returncode == 0
    shown = json.loads(_cli("status", "--json", "--skipped", data_dir=data).stdout)["repositories"][0]
    reasons = {item["path"]: item["reason"] for item in shown["skipped_files"]}
    assert reasons["big.py"] == "too_large" and reasons["notes.log"] == "ignored"
    assert reasons["logo.py"] == "unreadable_as_text"  # admitted by the walk, refused when read
    text = _cli("status", "--skipped", data_dir=data).stdout
    assert "big.py  too_large" in text and "distinct chunk texts" in text


async def test_searching_an_empty_index_says_how_to_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    cli = _cli("search", "--mode", "keyword", "anything at all", data_dir=data)
    assert cli.returncode == 0 and "nothing is indexed yet" in cli.stderr and "pgcode index" in cli.stderr
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_server", "serve", "--no-watch"],
        env={**_env(data), "PGCODE_SHARED_SERVER": "false", "PATH": os.environ.get("PATH", "")},
    )
    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("search_code", {"query": "anything at all", "mode": "keyword"})
    assert not result.is_error
    assert "nothing is indexed yet" in result.content[0].text and "index_repository" in result.content[0].text
