"""stdout is the protocol: in stdio mode nothing but JSON-RPC ever reaches it, however the session ends."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.shared_harness import stdio_env, wait_for_no_shared_server

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "stdout-test", "version": "1"}}}
# `pgcode serve` with a server of its own, and relaying to the shared server of its data dir.
MODES = {"own": "false", "shared": "true"}


def _serve(pg_dsn: str, tmp_path: Path, mode: str) -> subprocess.Popen[bytes]:
    # An empty model cache: the model is still being built when a short session ends.
    env = stdio_env(tmp_path / "data", {"PGCODE_SHARED_SERVER": MODES[mode], "PGCODE_CACHE_DIR": str(tmp_path / "cache")})
    return subprocess.Popen([sys.executable, "-m", "mcp_server", "--database-url", pg_dsn, "serve"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _send(process: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
    assert process.stdin is not None
    process.stdin.write((json.dumps(message) + "\n").encode())
    process.stdin.flush()


def _finish(process: subprocess.Popen[bytes], tmp_path: Path, stdout: bytes = b"") -> list[dict[str, Any]]:
    """Close stdin; every line the server wrote to stdout, each checked to be JSON-RPC."""
    out, err = process.communicate(timeout=120)
    wait_for_no_shared_server(tmp_path / "data")
    assert process.returncode == 0, err.decode()[-3000:]
    return _json_rpc(stdout + out)


def _json_rpc(stdout: bytes) -> list[dict[str, Any]]:
    received = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line on stdout is not JSON-RPC: {line[:300]!r}") from None
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line[:300]
        received.append(message)
    return received


def _answer(process: subprocess.Popen[bytes], request_id: int, seen: bytearray) -> dict[str, Any]:
    """Read stdout (kept in `seen`) up to the answer to `request_id`, within a deadline."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    deadline = time.monotonic() + 120
    while True:
        for message in _json_rpc(bytes(seen)):
            if message.get("id") == request_id:
                return message
        assert time.monotonic() < deadline, f"no answer to request {request_id}"
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(fd, 1 << 16) if ready else b""
        assert chunk or not ready, f"stdout closed before the answer to request {request_id}"
        seen += chunk


@pytest.mark.parametrize("mode", MODES)
def test_a_session_that_ends_before_the_model_loads_writes_only_json_rpc(
    pg_dsn: str, tmp_path: Path, mode: str
) -> None:
    process = _serve(pg_dsn, tmp_path, mode)
    _send(process, INITIALIZE)
    received = _finish(process, tmp_path)
    assert [m.get("id") for m in received] == [1]
    assert received[0]["result"]["serverInfo"]["name"] == "pgcode"


@pytest.mark.parametrize("mode", MODES)
def test_a_whole_session_writes_only_json_rpc(pg_dsn: str, tmp_path: Path, mode: str) -> None:
    process = _serve(pg_dsn, tmp_path, mode)
    seen = bytearray()
    _send(process, INITIALIZE)
    assert _answer(process, 1, seen)["result"]["serverInfo"]["name"] == "pgcode"
    _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    _send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert len(_answer(process, 2, seen)["result"]["tools"]) > 10
    _send(process, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                    "params": {"name": "list_repositories", "arguments": {}}})
    assert _answer(process, 3, seen)["result"]["isError"] is False
    _send(process, {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                    "params": {"name": "find_symbol", "arguments": {"name": "x", "limit": -5}}})
    assert _answer(process, 4, seen)["result"]["isError"] is True
    received = _finish(process, tmp_path, bytes(seen))
    assert [m.get("id") for m in received] == [1, 2, 3, 4]
