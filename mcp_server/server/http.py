"""One ASGI app for remote clients: streamable HTTP at /mcp, SSE at /sse, /health, /ready, /metrics; bearer tokens and limits."""

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

from .limits import CLIENT_KEY, BodyLimit, RateLimit
from .metrics import CONTENT_TYPE
from .state import ServerState

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Probes carry no token (Kubernetes cannot send one); /metrics does (the metrics can reveal
# repository names). None of the three is rate limited: probes and scrapes are not client load.
_OPEN_PATHS = frozenset({"/health", "/ready"})
OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})


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
        token = token.strip()
        # Every token is compared, matched or not, so the time taken says nothing about which matched.
        matches = [hmac.compare_digest(token, t) for t in self.tokens]
        if scheme.lower() != b"bearer" or not any(matches):
            response = JSONResponse(
                {"error": "unauthorized", "detail": "send the header 'Authorization: Bearer <token>'"},
                status_code=401, headers={"WWW-Authenticate": 'Bearer realm="pgcode"'},
            )
            await response(scope, receive, send)
            return
        # The rate limit is per token: its position in the list names it without keeping it around.
        scope[CLIENT_KEY] = f"token:{matches.index(True)}"
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


def ops_routes(state: ServerState) -> list[Route]:
    """/health (the process answers), /ready (it can serve: database, schema, model), /metrics.

    Plain routes outside the MCP transports, so the transports' Host/Origin check does not apply:
    a Kubernetes probe sends the pod's IP as Host."""

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def ready(_: Request) -> Response:
        ok, checks = await state.readiness()
        return JSONResponse({"status": "ready" if ok else "not_ready", "checks": checks},
                            status_code=200 if ok else 503)

    async def metrics(_: Request) -> Response:
        await state.metrics.refresh()
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _guarded(app: Starlette, state: ServerState, tokens: Sequence[str]) -> Starlette:
    # Added innermost first: a request meets the token check, then the rate limit, then the body cap.
    settings = state.settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, timeout=settings.request_timeout_seconds)
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, exempt=OPS_PATHS)
    app.add_middleware(BearerTokens, tokens=list(tokens))
    return app


def build_http_app(mcp: MCPServer, state: ServerState, *, tokens: Sequence[str]) -> Starlette:
    settings = state.settings
    host = settings.host
    security = transport_security(host, [h.strip() for h in settings.allowed_hosts.split(",")])
    limit = settings.max_request_bytes
    streamable = mcp.streamable_http_app(host=host, transport_security=security, max_request_body_size=limit)
    sse = mcp.sse_app(host=host, transport_security=security, max_request_body_size=limit)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The /mcp routes were lifted out of their own app, so their session manager runs here.
        async with mcp.session_manager.run():
            yield

    app = Starlette(routes=[*ops_routes(state), *streamable.routes, *sse.routes], lifespan=lifespan)
    return _guarded(app, state, tokens)


def build_ops_app(state: ServerState, *, tokens: Sequence[str]) -> Starlette:
    """`pgcode worker`'s HTTP side: probes and metrics only, no MCP."""
    return _guarded(Starlette(routes=ops_routes(state)), state, tokens)
