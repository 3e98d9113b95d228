"""Spawn `pgcode serve` over stdio on a data dir of the test's own, drive it over raw pipes, find or wait for its shared server."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.mcp_harness import server_env

IDLE_SECONDS = 2  # how long a test's shared server stays after its last session


def stdio_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `pgcode serve` whose shared server is the test's alone and soon gone."""
    return server_env(
        {"PGCODE_DATA_DIR": str(data_dir), "PGCODE_SHARED_IDLE_SECONDS": str(IDLE_SECONDS), **(extra or {})}
    )


def shared_servers(data_dir: Path) -> list[psutil.Process]:
    """The running shared servers of `data_dir`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "--shared-socket" in (process.info["cmdline"] or []) and process.environ().get("PGCODE_DATA_DIR") == str(
                data_dir.absolute()
            ):
                found.append(process)
        except psutil.Error:
            pass
    return found


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.05)


def wait_for_no_shared_server(data_dir: Path, timeout: float = 60) -> None:
    wait_until(lambda: not shared_servers(data_dir), f"the shared server of {data_dir} exits", timeout)


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "1"}},
}


class RawSession:
    """`pgcode serve` over raw stdio pipes: what reaches its stdout, byte for byte, read with deadlines."""

    def __init__(self, args: list[str], data_dir: Path, extra: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_server", *args, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=stdio_env(data_dir, extra),
        )
        self.seen = bytearray()

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(message) + "\n").encode())
        self.process.stdin.flush()

    def request(self, request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a request and read up to its answer."""
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, **({"params": params} if params else {})})
        return self.answer(request_id)

    def answer(self, request_id: int, timeout: float = 120) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            # Only whole lines: a long answer arrives over several reads.
            for message in json_rpc(bytes(self.seen[: self.seen.rfind(b"\n") + 1])):
                if message.get("id") == request_id:
                    return message
            assert time.monotonic() < deadline, f"no answer to request {request_id}"
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 1 << 16) if ready else b""
            assert chunk or not ready, f"stdout closed before the answer to request {request_id}"
            self.seen += chunk

    def finish(self, *, last: bool = True) -> list[dict[str, Any]]:
        """Close stdin; every line written to stdout, each checked to be JSON-RPC. The last session
        of the data dir also waits for its shared server to leave."""
        out, err = self.process.communicate(timeout=120)
        if last:
            wait_for_no_shared_server(self.data_dir)
        assert self.process.returncode == 0, err.decode()[-3000:]
        return json_rpc(bytes(self.seen) + out)


def json_rpc(stdout: bytes) -> list[dict[str, Any]]:
    """The messages on `stdout`; an assertion error at the first line that is not JSON-RPC."""
    received = []
    for line in stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            raise AssertionError(f"a line on stdout is not JSON-RPC: {line[:300]!r}") from None
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line[:300]
        received.append(message)
    return received
