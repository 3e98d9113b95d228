"""Host/Origin refusals (DNS rebinding) answered in front of the MCP transports, each logged as one line."""

from __future__ import annotations

from collections.abc import Collection

import structlog
from mcp.server.transport_security import (
    TransportSecurityMiddleware,
    TransportSecuritySettings,
)
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

log = structlog.get_logger(__name__)


class ForeignHosts:
    """421 for a Host, 403 for an Origin that is not this server's, by the SDK's own rules and settings.

    The transports check the same, but the SSE endpoint raises after answering: every refusal
    logged a traceback of fifty lines, which an attacker could repeat at will."""

    def __init__(self, app: ASGIApp, security: TransportSecuritySettings, exempt: Collection[str] = ()) -> None:
        self.app = app
        self.check = TransportSecurityMiddleware(security)
        self.exempt = frozenset(exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        # Only the headers are read here; the body stays for the transport.
        refusal = await self.check.validate_request(Request(scope, receive))
        if refusal is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        log.warning(
            "request_refused",
            status=refusal.status_code,
            reason=bytes(refusal.body).decode(),
            path=scope["path"],
            host=headers.get("host"),
            origin=headers.get("origin"),
            client=client[0] if client else None,
        )
        await refusal(scope, receive, send)
