"""One ASGI app for remote clients: streamable HTTP at /mcp, SSE at /sse, /health, /ready, /metrics; bearer tokens and limits."""

from __future__ import annotations

import hmac
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..config import Grant
from .limits import CLIENT_KEY, BodyLimit, RateLimit, TokenBuckets, client_address, too_many
from .metrics import CONTENT_TYPE
from .rebinding import ForeignHosts
from .state import ServerState

log = structlog.get_logger(__name__)

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Probes carry no token (Kubernetes cannot send one); /metrics does (the metrics can reveal
# repository names). None of the three is rate limited: probes and scrapes are not client load.
_OPEN_PATHS = frozenset({"/health", "/ready"})
OPS_PATHS = frozenset({"/health", "/ready", "/metrics"})


# Failed authentications allowed per client address, in a burst and then a minute: enough for a
# person fixing a typo, far too few to guess a token. Past it every request from the address gets
# 429, a right token too, so that the answer says nothing about a guess.
AUTH_FAILURE_BURST = 20
AUTH_FAILURES_PER_MINUTE = 20


class BearerTokens:
    """401 unless the request carries one of the configured tokens (compared in constant time).

    A request that passes is tagged with its token (as the MCP SDK's authenticated user, so a session
    answers only the token that opened it: another token's calls on its id get 404) and the token's
    role. Failures are limited per client address."""

    def __init__(self, app: ASGIApp, grants: Sequence[Grant]) -> None:
        self.app = app
        self.grants = [(g.token.encode(), g.role) for g in grants if g.token]
        self.failures = TokenBuckets(AUTH_FAILURES_PER_MINUTE, burst=AUTH_FAILURE_BURST)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.grants or scope["path"] in _OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        address = client_address(scope)
        blocked = self.failures.wait(address)
        if blocked > 0:
            await too_many("too many failed authentications from this address", blocked)(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        token = token.strip()
        # Every token is compared, matched or not, so the time taken says nothing about which matched.
        matches = [hmac.compare_digest(token, t) for t, _ in self.grants]
        if scheme.lower() != b"bearer" or not any(matches):
            self.failures.take(address)
            if self.failures.wait(address) > 0:
                log.warning("auth_failures_limited", client=address, burst=AUTH_FAILURE_BURST)
            response = JSONResponse(
                {"error": "unauthorized", "detail": "send the header 'Authorization: Bearer <token>'"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="pgcode"'},
            )
            await response(scope, receive, send)
            return
        # The token's position in the list names it (for the rate limit and the session's owner)
        # without keeping the token itself around.
        index = matches.index(True)
        name = f"token:{index}"
        scope[CLIENT_KEY] = name
        scope["user"] = AuthenticatedUser(AccessToken(token=name, client_id=name, scopes=[self.grants[index][1]]))
        await self.app(scope, receive, send)


def request_role(request: object) -> str | None:
    """The role of the token an HTTP request carried; None when the server has no tokens (or the
    call did not come over HTTP)."""
    user = getattr(request, "scope", {}).get("user")
    return user.scopes[0] if isinstance(user, AuthenticatedUser) and user.scopes else None


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
        allowed_origins=sorted(
            {f"{scheme}://{n}{port}" for n in names for scheme in ("http", "https") for port in ("", ":*")}
        ),
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
        return JSONResponse(
            {"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503
        )

    async def metrics(_: Request) -> Response:
        await state.metrics.refresh()
        return Response(state.metrics.exposition(), media_type=CONTENT_TYPE)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/ready", ready, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _guarded(app: Starlette, state: ServerState, tokens: Sequence[Grant]) -> Starlette:
    # Added innermost first: a request meets the token check, then the rate limit, then the body cap.
    settings = state.settings
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes, timeout=settings.request_timeout_seconds)
    app.add_middleware(RateLimit, per_minute=settings.rate_limit_per_minute, exempt=OPS_PATHS)
    app.add_middleware(BearerTokens, grants=list(tokens))
    return app


def build_http_app(mcp: MCPServer, state: ServerState, *, tokens: Sequence[Grant]) -> Starlette:
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
    app.add_middleware(ForeignHosts, security=security, exempt=OPS_PATHS)  # innermost: after the token check
    return _guarded(app, state, tokens)


def build_ops_app(state: ServerState, *, tokens: Sequence[Grant]) -> Starlette:
    """`pgcode worker`'s HTTP side: probes and metrics only, no MCP."""
    return _guarded(Starlette(routes=ops_routes(state)), state, tokens)
