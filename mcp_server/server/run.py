"""Run the server (or the worker) until the client leaves or SIGTERM/SIGINT asks it to stop, then shut down in order."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import structlog
import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server
from starlette.applications import Starlette

from ..config import Settings
from ..errors import ConfigError
from . import shared, stdio_wire
from .app import create_server
from .http import build_http_app, build_ops_app
from .limits import slow_client_guard
from .sessions import Sessions
from .state import serve_state

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


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
    # Before anything can print: nothing but JSON-RPC may reach the client's stdout.
    wire = stdio_wire.claim() if transport == "stdio" else None
    # The port first: a port in use is reported before the database and the model are touched.
    sock = _listen(settings.host, settings.port) if transport != "stdio" else None
    stopper = _Stopper()
    async with anyio.create_task_group() as signals:
        signals.start_soon(stopper.watch)
        with stopper.scope:
            async with serve_state(settings, watch=watch) as state:
                state.transport = transport
                mcp = create_server(state)
                if wire is not None:
                    await _run_stdio(mcp, wire)
                else:
                    app = build_http_app(mcp, state, tokens=tokens)
                    log.info(
                        "serving",
                        transport="http",
                        host=settings.host,
                        port=settings.port,
                        auth=bool(tokens),
                        read_only=state.read_only,
                    )
                    assert sock is not None  # bound above for every transport but stdio
                    await _run_http(app, sock, settings, stopper)
        signals.cancel_scope.cancel()
    log.info("stopped")


async def serve_shared(settings: Settings, socket_path: Path, lock_fd: int, *, watch: bool = True) -> None:
    """The shared server of a data dir's stdio sessions (started by `pgcode serve`, see shared.py):
    a stdio server's state, with its MCP sessions arriving over a Unix socket, until it has been
    idle for shared_idle_seconds or a signal comes."""
    place = shared.place_of(settings, socket_path)
    stopper = _Stopper()
    async with anyio.create_task_group() as signals:
        signals.start_soon(stopper.watch)
        with stopper.scope:
            try:
                async with serve_state(settings, watch=watch) as state:
                    # Every session is a local `pgcode serve` relaying its own user's stdio client.
                    state.transport = "stdio"
                    sessions = Sessions(create_server(state), settings.shared_idle_seconds)
                    listener, inode = await shared.listen(place)
                    # Listening: the session that started this server (and any waiting) may connect.
                    os.close(lock_fd)
                    lock_fd = -1
                    log.info("serving", transport="shared", socket=str(place.socket), read_only=state.read_only)
                    try:
                        async with anyio.create_task_group() as tg:
                            tg.start_soon(listener.serve, sessions.serve)
                            await sessions.until_idle(place, inode)
                            tg.cancel_scope.cancel()
                    finally:
                        shared.withdraw(place, inode)
            finally:
                if lock_fd >= 0:
                    os.close(lock_fd)
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


async def _run_stdio(mcp: MCPServer, wire: stdio_wire.Wire) -> None:
    # The SDK reads any async iterable of lines and writes to any async text file; given both, it
    # leaves fds 0 and 1 alone (they were moved off the protocol for good by stdio_wire.claim).
    stdin = stdio_wire.decoded(stdio_wire.read_lines(wire.stdin))
    async with stdio_server(stdin=stdin, stdout=stdio_wire.text_writer(wire.stdout)) as (read_stream, write_stream):  # type: ignore[arg-type]
        server = mcp._lowlevel_server
        await server.run(read_stream, write_stream, server.create_initialization_options())


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
    config = uvicorn.Config(
        app,
        log_level="warning",
        lifespan="on",
        http=slow_client_guard(settings.request_timeout_seconds),
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )
    server = _Uvicorn(config)
    stopper.server = server
    try:
        with sock:
            await server.serve(sockets=[sock])
    finally:
        stopper.server = None
