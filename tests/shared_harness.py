"""Spawn `pgcode serve` over stdio on a data dir of the test's own, and find or wait for its shared server."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

from tests.mcp_harness import server_env

IDLE_SECONDS = 2  # how long a test's shared server stays after its last session


def stdio_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a `pgcode serve` whose shared server is the test's alone and soon gone."""
    return server_env({"PGCODE_DATA_DIR": str(data_dir), "PGCODE_SHARED_IDLE_SECONDS": str(IDLE_SECONDS),
                       **(extra or {})})


def shared_servers(data_dir: Path) -> list[psutil.Process]:
    """The running shared servers of `data_dir`."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "--shared-socket" in (process.info["cmdline"] or []) and \
                    process.environ().get("PGCODE_DATA_DIR") == str(data_dir.absolute()):
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
