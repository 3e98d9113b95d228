"""HTTP limits in front of the MCP transports: a token bucket per client, a cap on request bodies, deadlines for slow clients."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass

import anyio
import h11
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# SlowClientGuard subclasses uvicorn's internal HTTP/1.1 protocol (connection_made, data_received,
# on_response_complete, conn.their_state): uvicorn is pinned in pyproject.toml; on an upgrade, check
# those hooks still exist and tests/test_network.py's slowloris test passes.
from uvicorn.protocols.http.h11_impl import H11Protocol

# Set by BearerTokens on the scope: which configured token the request carried (its index).
CLIENT_KEY = "pgcode.client"
_MAX_BUCKETS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """`per_minute` requests a minute per key, in bursts of up to `burst` (default `per_minute`)."""

    def __init__(self, per_minute: int, burst: int | None = None) -> None:
        self.capacity = float(burst if burst is not None else per_minute)
        self.rate = per_minute / 60.0  # tokens per second
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float | None = None) -> float:
        """0 if the request may go ahead (a token is spent), else the seconds until one is available."""
        bucket = self._refilled(key, time.monotonic() if now is None else now)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    def wait(self, key: str, now: float | None = None) -> float:
        """The seconds until `key` has a token (0: it has one now), spending nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        now = time.monotonic() if now is None else now
        tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_BUCKETS:
                self._forget(now)
            bucket = self._buckets[key] = _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def _forget(self, now: float) -> None:
        # A full bucket holds no information: drop those. Many keys in use at once (addresses of a
        # spread-out attack) must not grow the table without bound either: then the least recent go.
        for key, b in list(self._buckets.items()):
            if b.tokens + (now - b.updated) * self.rate >= self.capacity:
                del self._buckets[key]
        if len(self._buckets) >= _MAX_BUCKETS:
            oldest = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in oldest[: len(oldest) // 2]:
                del self._buckets[key]


def client_address(scope: Scope) -> str:
    """The peer's address (behind a proxy, the proxy's)."""
    address = scope.get("client")
    return str(address[0]) if address else "unknown"


def too_many(detail: str, wait: float) -> JSONResponse:
    retry = max(1, math.ceil(wait))
    return JSONResponse(
        {"error": "rate_limited", "detail": f"{detail}; retry in {retry} s"},
        status_code=429,
        headers={"Retry-After": str(retry)},
    )


class RateLimit:
    """429 with Retry-After once a client (its bearer token, or its address when no tokens are
    configured) exceeds its bucket. Paths in `exempt` (probes, metrics) are never limited."""

    def __init__(self, app: ASGIApp, per_minute: int, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.buckets = TokenBuckets(per_minute) if per_minute > 0 else None
        self.per_minute = per_minute
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.buckets is None or scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        client = scope.get(CLIENT_KEY) or f"address:{client_address(scope)}"
        wait = self.buckets.take(str(client))
        if wait > 0:
            await too_many(f"more than {self.per_minute} requests a minute from this client", wait)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """413 for a body over `max_bytes`: at once when Content-Length says so, otherwise as soon as
    the streamed bytes pass the limit (the rest is never read). A body within the limit is read
    here and replayed to the app: MCP messages are small JSON documents, and a transport that
    meets the overflow half-way could only answer 400 or 500. A body still incomplete after
    `timeout` seconds gets 408: a client trickling bytes would otherwise hold its request open."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout: float | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = -1
            if declared > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        cached: deque[Message] = deque()
        body = bytearray()
        too_large = False
        with anyio.move_on_after(self.timeout) as deadline:
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    cached.append(message)  # the client left: let the app see it
                    break
                body.extend(message.get("body", b""))
                if len(body) > self.max_bytes:
                    too_large = True
                    break
                if not message.get("more_body", False):
                    cached.append({"type": "http.request", "body": bytes(body), "more_body": False})
                    break
        if too_large:
            await self._reject(scope, receive, send)
            return
        if deadline.cancelled_caught:
            response = JSONResponse(
                {"error": "request_timeout", "detail": f"the request body did not arrive within {self.timeout:g} s"},
                status_code=408,
                headers={"Connection": "close"},
            )
            await response(scope, receive, send)
            return

        async def replay() -> Message:
            return cached.popleft() if cached else await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"error": "request_too_large", "detail": f"the request body exceeds {self.max_bytes} bytes"},
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def slow_client_guard(timeout: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with a deadline on each request's head: uvicorn itself waits for
    ever for a client that connects and sends nothing, or sends its headers a byte at a time, so a
    few hundred such clients would hold sockets (and file descriptors) indefinitely. The clock starts
    when the connection opens or the previous response ends; the connection is closed unless a whole
    request head arrived within `timeout` seconds."""

    class SlowClientGuard(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # type: ignore[arg-type]
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is not h11.IDLE:  # a whole request head has arrived
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm()  # the next request on a kept-alive connection gets the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_deadline = self.loop.call_later(timeout, self._expire)

        def _disarm(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

        def _expire(self) -> None:
            self._head_deadline = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            try:
                self.conn.send(h11.ConnectionClosed())
            except h11.LocalProtocolError:
                pass
            self.transport.close()

    return SlowClientGuard
