"""The shared server's sessions: one MCP session per connection on its owner-only Unix socket, and the idle period after the last one."""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import AsyncIterator

import anyio
import structlog
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from . import shared
from .stdio_wire import MAX_LINE

log = structlog.get_logger(__name__)

_BUSY_RETRY_SECONDS = 1.0  # after a session start held the lock when the server meant to retire


class Sessions:
    """Serves each connection as its own MCP session, as `pgcode serve` would serve its stdio, and
    knows when none has been open for `idle_seconds`."""

    def __init__(self, mcp: MCPServer, idle_seconds: float) -> None:
        self._mcp = mcp
        self._idle_seconds = idle_seconds
        self.active = 0
        self._changed = anyio.Event()

    async def serve(self, stream: SocketStream) -> None:
        """One connection: the hello line, then MCP in JSON-RPC lines until the relay closes it."""
        if not _same_user(stream):
            await stream.aclose()
            return
        self.active += 1
        self._changed.set()
        try:
            await stream.send(json.dumps({"pgcode": shared.HELLO, "pid": os.getpid()}).encode() + b"\n")
            server = self._mcp._lowlevel_server
            async with stdio_server(stdin=_lines(stream), stdout=_Writer(stream)) as (read, write):  # type: ignore[arg-type]
                await server.run(read, write, server.create_initialization_options())
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass  # the relay went away
        except Exception:
            # One session's failure must not end the others'.
            log.exception("shared_session_failed")
        finally:
            self.active -= 1
            self._changed.set()
            await stream.aclose()

    async def until_idle(self, place: shared.Place, inode: int) -> None:
        """Return once no session has been open for the idle period and new ones can no longer arrive."""
        wait = self._idle_seconds
        while True:
            self._changed = anyio.Event()
            if self.active:
                await self._changed.wait()
                wait = self._idle_seconds
                continue
            with anyio.move_on_after(wait) as waited:
                await self._changed.wait()
            if not waited.cancelled_caught:
                wait = self._idle_seconds
                continue
            # No await between this check and withdrawing: no session can slip in unseen.
            if shared.withdraw(place, inode):
                log.info("shared_server_idle", seconds=self._idle_seconds)
                return
            wait = _BUSY_RETRY_SECONDS


async def _lines(stream: SocketStream) -> AsyncIterator[str]:
    buffered = BufferedByteReceiveStream(stream)
    while True:
        try:
            line = await buffered.receive_until(b"\n", MAX_LINE) + b"\n"
        except (anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError):
            if buffered.buffer:  # a last line without its newline, as stdin would deliver it
                yield buffered.buffer.decode("utf-8", errors="replace")
            return
        yield line.decode("utf-8", errors="replace")


class _Writer:
    """The session's output, as the SDK's stdio transport writes it; dropped once the relay is gone
    (the session then ends at the end of its input)."""

    def __init__(self, stream: SocketStream) -> None:
        self._stream = stream

    async def write(self, text: str) -> None:
        try:
            await self._stream.send(text.encode())
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass

    async def flush(self) -> None:
        pass


def _same_user(stream: SocketStream) -> bool:
    """Whether the peer runs as this user (Linux says; elsewhere the owner-only folder is the guard)."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True
    raw = stream.extra(SocketAttribute.raw_socket)
    _pid, uid, _gid = struct.unpack("3i", raw.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i")))
    return bool(uid == os.getuid())
