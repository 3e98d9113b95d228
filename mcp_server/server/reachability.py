"""Whether a read-only server's database answers: a probe on a connection of its own, so that tool calls fail at once, and calls in flight stop, while it does not."""

from __future__ import annotations

import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import anyio
import asyncpg
import structlog
from mcp.server.mcpserver.exceptions import ToolError

from .errors import note_kind, unreachable

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A probe every quarter second, each given 0.75 s: a database that refuses or drops connections is
# noticed within half a second, one that stops answering (PgBouncer queueing clients for a server it
# cannot reach, up to its query_wait_timeout) after two probes in a row time out, under 2 s.
PROBE_SECONDS = 0.25
PROBE_TIMEOUT = 0.75
TIMEOUTS_TO_FAIL = 2


class Reachability:
    """The last verdict on the database, and the calls to stop when it turns unreachable."""

    def __init__(self, dsn: str, connect_kwargs: dict[str, Any]) -> None:
        self.dsn = dsn
        self.connect_kwargs = connect_kwargs
        self.down_since: float | None = None
        self.cause: BaseException | None = None
        self._in_flight: set[anyio.CancelScope] = set()
        self._timeouts = 0

    @property
    def reachable(self) -> bool:
        return self.down_since is None

    async def run(self) -> None:
        """Probe until cancelled."""
        conn: asyncpg.Connection | None = None
        try:
            while True:
                try:
                    with anyio.fail_after(PROBE_TIMEOUT):
                        if conn is None or conn.is_closed():
                            conn = await asyncpg.connect(self.dsn, **self.connect_kwargs)
                        await conn.fetchval("SELECT 1")
                    self._up()
                except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    if conn is not None:
                        conn.terminate()
                        conn = None
                    self._timeouts = self._timeouts + 1 if isinstance(exc, TimeoutError) else TIMEOUTS_TO_FAIL
                    if self._timeouts >= TIMEOUTS_TO_FAIL:
                        self._down(exc)
                await anyio.sleep(PROBE_SECONDS)
        finally:
            if conn is not None:
                conn.terminate()

    def _up(self) -> None:
        self._timeouts = 0
        if self.down_since is not None:
            log.warning("database_reachable_again", after_seconds=round(time.monotonic() - self.down_since, 1))
            self.down_since, self.cause = None, None

    def _down(self, exc: BaseException) -> None:
        if self.down_since is None:
            log.warning("database_unreachable", error=str(exc) or type(exc).__name__)
            self.down_since, self.cause = time.monotonic(), exc
            for scope in self._in_flight:  # their answers would come only after PgBouncer gives up
                scope.cancel()

    async def guard(self, call: Coroutine[Any, Any, T]) -> T:
        """`call`'s result; a "replica unreachable" ToolError at once if the database is known not to
        answer, or as soon as it stops answering while `call` runs (the call is cancelled)."""
        if not self.reachable:
            call.close()
            note_kind("unreachable")
            raise ToolError(unreachable(self.cause or TimeoutError()))
        scope = anyio.CancelScope()
        self._in_flight.add(scope)
        try:
            with scope:
                return await call
        finally:
            self._in_flight.discard(scope)
        note_kind("unreachable")  # cancelled by _down
        raise ToolError(unreachable(self.cause or TimeoutError()))
