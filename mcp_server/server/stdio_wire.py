"""stdin and stdout kept for JSON-RPC alone: claimed once, fd 1 then points at stderr and fd 0 at the null device."""

from __future__ import annotations

import asyncio
import io
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

# One JSON-RPC message per line; the limit only caps buffering.
MAX_LINE = 1 << 30


@dataclass(frozen=True, slots=True)
class Wire:
    """Private duplicates of the client's stdin and stdout: the only way to the protocol left."""

    stdin: int
    stdout: int


_claimed: Wire | None = None


def claim() -> Wire:
    """Move the protocol off fds 0 and 1, for the life of the process: fd 1 becomes stderr and fd 0
    the null device, so a C library, a child process or a stray print (even while the interpreter
    shuts down) can neither corrupt the client's stream nor read from it."""
    global _claimed
    if _claimed is None:
        sys.stdout.flush()
        wire = Wire(stdin=_private(0), stdout=_private(1))
        try:
            os.dup2(2, 1)
        except OSError:  # no stderr to speak of: what is written to fd 1 goes nowhere
            _point_at_null(1, os.O_WRONLY)
        _point_at_null(0, os.O_RDONLY)
        _claimed = wire
    return _claimed


def _private(fd: int) -> int:
    # Above the standard range, which is about to be redirected; not inherited by child processes.
    if fcntl is None:
        return os.dup(fd)
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def _point_at_null(fd: int, flags: int) -> None:
    null = os.open(os.devnull, flags)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


async def read_lines(fd: int) -> AsyncIterator[bytes]:
    """The lines arriving on `fd` (each with its newline, the last maybe without), until end of file.

    Read by the event loop rather than a worker thread where the descriptor allows it (a pipe, a
    socket, a terminal): a thread blocked in read() cannot be cancelled, so a stop signal would wait
    for the client's next message."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE)
    pipe = os.fdopen(fd, "rb", buffering=0, closefd=False)
    try:
        transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    except (OSError, ValueError):
        # A regular file: it ends by itself, so the thread-based reader is fine.
        async for line in anyio.wrap_file(pipe):
            yield line
        return
    try:
        while line := await reader.readline():
            yield line
    finally:
        transport.close()


async def decoded(lines: AsyncIterator[bytes]) -> AsyncIterator[str]:
    async for line in lines:
        yield line.decode("utf-8", errors="replace")


def text_writer(fd: int) -> Any:
    """An async text file on `fd`, as the SDK's stdio transport writes to (one message, then flush)."""
    return anyio.wrap_file(io.TextIOWrapper(os.fdopen(fd, "wb", closefd=False), encoding="utf-8"))


class LineWriter:
    """Whole lines written to `fd` one at a time, each flushed (several tasks may write)."""

    def __init__(self, fd: int) -> None:
        self._file = anyio.wrap_file(os.fdopen(fd, "wb", closefd=False))
        self._lock = anyio.Lock()

    async def write(self, line: bytes) -> None:
        async with self._lock:
            await self._file.write(line)
            await self._file.flush()
