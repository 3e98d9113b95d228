"""`pgcode serve` over stdio as a relay: JSON-RPC lines pass between the client and the shared server, which holds the model, the pool and the watcher."""

from __future__ import annotations

import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import anyio
import structlog
from anyio import CancelScope
from anyio.abc import TaskGroup

from ..config import Settings
from ..errors import PgcodeError, SharedServerFailed
from . import shared, stdio_wire

log = structlog.get_logger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_INTERNAL_ERROR = -32603
_REPLAY_ID = "pgcode-relay-replay"  # the id of an initialize the relay replays: its answer is not the client's
_LOST = (
    "pgcode's shared server (pid {pid}) stopped before answering this request; the next request starts "
    "it again, so send this one again"
)


async def relay(settings: Settings, *, watch: bool) -> None:
    """Serve this process's stdio client through the shared server (started if none runs) until the
    client leaves or a signal comes. The client sees what a stdio server of its own would send."""
    wire = stdio_wire.claim()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_signal, tg.cancel_scope)
        # Here, not on the first message: a server that cannot start is reported at once, as before.
        first = await shared.connect(settings, watch=watch)
        session = _Relay(settings, watch, stdio_wire.LineWriter(wire.stdout))
        await session.run(stdio_wire.read_lines(wire.stdin), first)
        tg.cancel_scope.cancel()


async def _stop_on_signal(scope: CancelScope) -> None:
    with anyio.open_signal_receiver(*_STOP_SIGNALS) as signals:
        async for signum in signals:
            log.info("stopping", signal=signal.Signals(signum).name)
            scope.cancel()
            return


class _Relay:
    """One client's session. The shared server may go away (killed, upgraded): the client's requests
    it had not answered get an error, and the next message reaches a new server, to which the
    client's initialize is replayed so the session carries on."""

    def __init__(self, settings: Settings, watch: bool, out: stdio_wire.LineWriter) -> None:
        self._settings = settings
        self._watch = watch
        self._out = out
        self._upstream: shared.Upstream | None = None
        self._pending: dict[str, Any] = {}  # client requests not answered yet: JSON of the id -> id
        self._initialize: dict[str, Any] | None = None
        self._initialized: bytes | None = None
        self._replayed = anyio.Event()
        self._client_done = False
        self._sending: str | None = None  # the request being written to the server right now
        self._tg: TaskGroup | None = None

    async def run(self, lines: AsyncIterator[bytes], first: shared.Upstream) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._attach(first)
            async for line in lines:
                await self._forward(line)
            # The client closed stdin: so does the relay, and the server answers what is in flight
            # and ends the session, as a stdio server at the end of its input would.
            self._client_done = True
            upstream = self._upstream
            if upstream is None:
                tg.cancel_scope.cancel()
                return
            try:
                await upstream.send_eof()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                tg.cancel_scope.cancel()

    def _attach(self, upstream: shared.Upstream) -> None:
        assert self._tg is not None
        self._upstream = upstream
        self._tg.start_soon(self._pump, upstream)

    async def _pump(self, upstream: shared.Upstream) -> None:
        """The server's lines to the client, until the server closes the session."""
        try:
            while True:
                line = await upstream.receive_line()
                if not self._note_answer(line):
                    await self._out.write(line)
        except (
            anyio.IncompleteRead,
            anyio.EndOfStream,
            anyio.DelimiterNotFound,
            anyio.BrokenResourceError,
            anyio.ClosedResourceError,
            OSError,
        ):
            pass
        await self._lost(upstream)

    def _note_answer(self, line: bytes) -> bool:
        """Mark the request a response answers; True if it answers the relay's own replay."""
        message = _parse(line)
        if message is None or "method" in message or "id" not in message:
            return False
        if message["id"] == _REPLAY_ID:
            self._replayed.set()
            return True
        self._pending.pop(_id_key(message["id"]), None)
        return False

    async def _lost(self, upstream: shared.Upstream) -> None:
        if self._upstream is not upstream:
            return
        self._upstream = None
        self._replayed.set()
        await upstream.aclose()
        if self._client_done:  # the session's normal end
            assert self._tg is not None
            self._tg.cancel_scope.cancel()
            return
        log.warning("shared_server_lost", pid=upstream.pid, unanswered=len(self._pending))
        for key in list(self._pending):
            if key != self._sending:  # that one is the sender's to retry or answer
                await self._answer_error(key, _LOST.format(pid=upstream.pid))

    async def _forward(self, line: bytes) -> None:
        message = _parse(line)
        key = _id_key(message["id"]) if message is not None and "method" in message and "id" in message else None
        if not line.endswith(b"\n"):
            line += b"\n"
        # Twice at most: a server found gone only by this send never got the message, so the next
        # one does (the relay may not have seen the first one's end yet when the client wrote).
        for _ in range(2):
            upstream = self._upstream
            if upstream is not None and upstream.hung_up():
                await self._lost(upstream)
                upstream = None
            if upstream is None:
                try:
                    upstream = await self._reconnect()
                except PgcodeError as exc:
                    log.error("shared_server_unavailable", error=str(exc))
                    await self._refuse(message, key, f"pgcode cannot serve this request: {exc}")
                    return
            if key is not None:
                self._pending[key] = message["id"]  # type: ignore[index]
            self._sending = key
            try:
                await upstream.send(line)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                if key is not None:
                    self._pending.pop(key, None)
                await self._lost(upstream)
                continue
            finally:
                self._sending = None
            if upstream is not self._upstream and key is not None:
                # Sent, but the server was lost meanwhile: it will never answer.
                await self._answer_error(key, _LOST.format(pid=upstream.pid))
            if key is not None and message is not None and message.get("method") == "initialize":
                self._initialize = message
            elif message is not None and message.get("method") == "notifications/initialized":
                self._initialized = line
            return
        await self._refuse(
            message,
            key,
            "pgcode's shared server closed every connection at once; its log is under the data dir's run/ folder",
        )

    async def _refuse(self, message: dict[str, Any] | None, key: str | None, text: str) -> None:
        if key is not None and message is not None:
            self._pending[key] = message["id"]
            await self._answer_error(key, text)

    async def _reconnect(self) -> shared.Upstream:
        upstream = await shared.connect(self._settings, watch=self._watch)
        self._replayed = anyio.Event()
        self._attach(upstream)
        if self._initialize is not None:
            # The new server has never seen this client: it gets the client's handshake again.
            try:
                await upstream.send(json.dumps({**self._initialize, "id": _REPLAY_ID}).encode() + b"\n")
                with anyio.move_on_after(shared.START_SECONDS):
                    await self._replayed.wait()
                if self._initialized is not None:
                    await upstream.send(self._initialized)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                await self._lost(upstream)
                raise SharedServerFailed(
                    "the shared server closed the session as soon as it opened; "
                    "its log is under the data dir's run/ folder"
                ) from None
        log.warning("shared_server_reconnected", pid=upstream.pid)
        return upstream

    async def _answer_error(self, key: str, text: str) -> None:
        if key not in self._pending:
            return
        request_id = self._pending.pop(key)
        error = {"jsonrpc": "2.0", "id": request_id, "error": {"code": _INTERNAL_ERROR, "message": text}}
        await self._out.write(json.dumps(error).encode() + b"\n")


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        message = json.loads(line)
    except ValueError:
        return None  # passed on as it is: the server answers a parse error as it would on stdio
    return message if isinstance(message, dict) else None


def _id_key(request_id: Any) -> str:
    return json.dumps(request_id)
