"""One ASGI app for remote clients: streamable HTTP at /mcp, SSE at /sse, /health; bearer tokens."""

from __future__ import annotations

import hmac
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_OPEN_PATHS = frozenset({"/health"})


class BearerTokens:
    """401 unless the request carries one of the configured tokens (compared in constant time)."""

    def __init__(self, app: ASGIApp, tokens: Sequence[str]) -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens if t]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.tokens or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        ok = scheme.lower() == b"bearer" and any(hmac.compare_digest(token.strip(), t) for t in self.tokens)
        if not ok:
            response = JSONResponse(
                {"error": "unauthorized", "detail": "send the header 'Authorization: Bearer <token>'"},
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="pgcode"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def transport_security(host: str, extra_hosts: Sequence[str]) -> TransportSecuritySettings:
    """Host/Origin checks against DNS rebinding: loopback names always; when bound beyond
    loopback, this machine's names and addresses plus any configured ones."""
    names = {"127.0.0.1", "localhost", "[::1]"}
    if host not in _LOOPBACK:
        names |= _machine_names()
        if host not in ("0.0.0.0", "::", ""):
            names.add(f"[{host}]" if ":" in host else host)
    names |= {h for h in extra_hosts if h}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=sorted({n for n in names} | {f"{n}:*" for n in names}),
        allowed_origins=sorted({f"{scheme}://{n}{port}" for n in names for scheme in ("http", "https")
                                for port in ("", ":*")}),
    )


def _machine_names() -> set[str]:
    names: set[str] = set()
    try:
        hostname = socket.gethostname()
        names |= {hostname, socket.getfqdn()}
        for info in socket.getaddrinfo(hostname, None):
            address = str(info[4][0])
            names.add(f"[{address}]" if ":" in address else address)
    except OSError:
        pass
    return names


def build_http_app(mcp: MCPServer, *, host: str, tokens: Sequence[str], allowed_hosts: Sequence[str] = ()) -> Starlette:
    security = transport_security(host, allowed_hosts)
    streamable = mcp.streamable_http_app(host=host, transport_security=security)
    sse = mcp.sse_app(host=host, transport_security=security)

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The /mcp routes were lifted out of their own app, so their session manager runs here.
        async with mcp.session_manager.run():
            yield

    app = Starlette(
        routes=[Route("/health", health, methods=["GET"]), *streamable.routes, *sse.routes],
        lifespan=lifespan,
    )
    app.add_middleware(BearerTokens, tokens=list(tokens))
    return app
