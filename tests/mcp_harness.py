"""Start real pgcode server processes and connect the SDK's own client over stdio, SSE or HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "test-token-7f3a"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "PGCODE_LOG_LEVEL": os.environ.get("PGCODE_TEST_SERVER_LOG_LEVEL", "warning"), **(extra or {})}
    env.pop("PGCODE_DATABASE_URL", None)
    return env


@dataclass
class HttpServer:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_http_server(
    dsn: str,
    log_dir: Path,
    *,
    token_file: Path | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> HttpServer:
    port = free_port()
    log = log_dir / f"server-{port}.log"
    args = [
        sys.executable,
        "-m",
        "mcp_server",
        "--database-url",
        dsn,
        "serve",
        "--transport",
        "http",
        "--port",
        str(port),
        *extra_args,
    ]
    if token_file is not None:
        args += ["--token-file", str(token_file)]
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            args, stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=server_env(env)
        )
    server = HttpServer(process, port, log)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx2.get(f"{server.base}/health", timeout=1).status_code == 200:
                return server
        except httpx2.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"server did not come up: {log.read_text()[-3000:]}")


_STDIO_DATA: list[str] = []


def _stdio_data_dir() -> str:
    if not _STDIO_DATA:
        _STDIO_DATA.append(tempfile.mkdtemp(prefix="pgcode-stdio-"))
    return _STDIO_DATA[0]


@asynccontextmanager
async def connect(
    transport: str, *, dsn: str | None = None, server: HttpServer | None = None, token: str | None = TOKEN
) -> AsyncIterator[Client]:
    """A connected SDK client. stdio spawns its own server process; sse/http talk to `server`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if transport == "stdio":
        assert dsn is not None
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_server", "--database-url", dsn, "serve"],
            env={
                **{k: v for k, v in server_env().items() if k.startswith(("PGCODE_", "XDG_", "HOME", "PATH"))},
                # The session's shared server lives in a data dir of the tests' own, not the user's, and
                # leaves a moment after the test's session: it watches (and leases) the test database.
                "PGCODE_DATA_DIR": os.environ.get("PGCODE_DATA_DIR") or _stdio_data_dir(),
                "PGCODE_SHARED_IDLE_SECONDS": "1",
            },
        )
        async with Client(params, read_timeout_seconds=120) as client:
            yield client
    elif transport == "sse":
        assert server is not None
        async with Client(sse_client(f"{server.base}/sse", headers=headers), read_timeout_seconds=120) as client:
            yield client
    else:
        assert server is not None
        async with (
            httpx2.AsyncClient(headers=headers, timeout=120) as http,
            Client(streamable_http_client(f"{server.base}/mcp", http_client=http), read_timeout_seconds=120) as client,
        ):
            yield client
