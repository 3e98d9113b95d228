"""Run the server (or the worker) until the client leaves or SIGTERM/SIGINT asks it to stop, then shut down in order."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Iterator

import anyio
import structlog
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from starlette.applications import Starlette

from ..config import Settings
from ..errors import ConfigError
from .app import create_server
from .http import build_http_app, build_ops_app
from .limits import slow_client_guard
from .state import serve_state

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_MAX_STDIO_LINE = 1 << 30  # one JSON-RPC message per line; the limit only caps buffering


class _Uvicorn(uvicorn.Server):
    """uvicorn without its own signal handlers: after a graceful stop, uvicorn re-raises the signal
    it caught, which would kill the process before the watcher, the pool and the embedded
    PostgreSQL are shut down. pgcode listens for the signals itself and sets `should_exit`."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Stopper:
    """Turns SIGTERM/SIGINT/SIGHUP into an orderly stop at any point of the process's life: while
    starting up (or serving stdio) by cancelling `scope`, whose clean-up then runs as usual; while
    uvicorn serves, by its graceful shutdown, in-flight requests finishing first (up to
    shutdown_grace_seconds). A second signal during a graceful shutdown stops at once."""

    def __init__(self) -> None:
        self.scope = anyio.CancelScope()
        self.server: uvicorn.Server | None = None

    async def watch(self) -> None:
        with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
            async for signum in signals:
                log.info("stopping", signal=signal.Signals(signum).name)
                if self.server is None:
                    self.scope.cancel()
                elif self.server.should_exit:
                    self.server.force_exit = True
                else:
                    self.server.should_exit = True


async def serve(settings: Settings, transport: str, *, watch: bool = True) -> None:
    """stdio for a desktop client; "http" serves streamable HTTP (/mcp) and SSE (/sse) together."""
    tokens = settings.bearer_grants() if transport != "stdio" else []
    # The port first: a port in use is reported before the database and the model are touched.
    sock = _listen(settings.host, settings.port) if transport != "stdio" else None
    stopper = _Stopper()
    async with anyio.create_task_group() as signals:
        signals.start_soon(stopper.watch)
        with stopper.scope:
            async with serve_state(settings, watch=watch) as state:
                state.transport = transport
                mcp = create_server(state)
                if sock is None:
                    await _run_stdio(mcp)
                else:
                    app = build_http_app(mcp, state, tokens=tokens)
                    log.info("serving", transport="http", host=settings.host, port=settings.port,
                             auth=bool(tokens), read_only=state.read_only)
                    await _run_http(app, sock, settings, stopper)
        signals.cancel_scope.cancel()
    log.info("stopped")


async def work(settings: Settings) -> None:
    """`pgcode worker`: index and watch every repository of the database, embed, serve only
    /health, /ready and /metrics (on metrics_port), until a signal."""
    tokens = settings.bearer_grants()
    sock = _listen(settings.host, settings.metrics_port)
    stopper = _Stopper()
    async with anyio.create_task_group() as signals:
        signals.start_soon(stopper.watch)
        with stopper.scope:
            async with serve_state(settings, watch=True, read_only=False, role="worker") as state:
                app = build_ops_app(state, tokens=tokens)
                log.info("working", host=settings.host, metrics_port=settings.metrics_port, auth=bool(tokens))
                await _run_http(app, sock, settings, stopper)
        signals.cancel_scope.cancel()
    log.info("stopped")


class _StdinLines:
    """stdin as an async iterator of lines read by the event loop rather than by a worker thread:
    a thread blocked in read() cannot be cancelled, so a stop signal would wait for the client's
    next message (or for ever)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        line = await self.reader.readline()
        if not line:
            raise StopAsyncIteration
        return line.decode("utf-8", errors="replace")


async def _run_stdio(mcp: MCPServer) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_STDIO_LINE)
    try:
        pipe = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    except (OSError, ValueError, AttributeError):
        # Not a pipe or a terminal (a regular file, say): the SDK's thread-based reader it is.
        await mcp.run_stdio_async()
        return
    try:
        # The SDK reads any async iterable of lines; its own stdout handling is kept.
        async with stdio_server(stdin=_StdinLines(reader)) as (read_stream, write_stream):  # type: ignore[arg-type]
            server = mcp._lowlevel_server
            await server.run(read_stream, write_stream, server.create_initialization_options())
    finally:
        transport.close()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


async def _run_http(app: Starlette, sock: socket.socket, settings: Settings, stopper: _Stopper) -> None:
    # The HTTP protocol is chosen, not left to uvicorn's "auto": only this one carries the deadline
    # that keeps slow or silent clients from holding connections for ever.
    config = uvicorn.Config(app, log_level="warning", lifespan="on",
                            http=slow_client_guard(settings.request_timeout_seconds),
                            timeout_graceful_shutdown=settings.shutdown_grace_seconds)
    server = _Uvicorn(config)
    stopper.server = server
    try:
        with sock:
            await server.serve(sockets=[sock])
    finally:
        stopper.server = None
