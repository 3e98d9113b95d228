"""Run the server on a transport until the client leaves or a signal asks it to stop."""

from __future__ import annotations

import signal

import anyio
import structlog
import uvicorn

from ..config import Settings
from .app import create_server
from .http import build_http_app
from .state import serve_state

log = structlog.get_logger(__name__)


async def serve(settings: Settings, transport: str, *, watch: bool = True) -> None:
    """stdio for a desktop client; "http" serves streamable HTTP (/mcp) and SSE (/sse) together."""
    tokens = settings.bearer_tokens() if transport != "stdio" else []
    async with serve_state(settings, watch=watch) as state, anyio.create_task_group() as tg:
        mcp = create_server(state)
        if transport == "stdio":
            # uvicorn handles signals for HTTP (finishing in-flight requests); stdio needs its own.
            tg.start_soon(_stop_on_signal, tg.cancel_scope)
            await mcp.run_stdio_async()
        else:
            app = build_http_app(mcp, host=settings.host, tokens=tokens,
                                 allowed_hosts=[h.strip() for h in settings.allowed_hosts.split(",")])
            config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                    lifespan="on", timeout_graceful_shutdown=10)
            log.info("serving", transport="http", host=settings.host, port=settings.port, auth=bool(tokens))
            await uvicorn.Server(config).serve()
        tg.cancel_scope.cancel()


async def _stop_on_signal(scope: anyio.CancelScope) -> None:
    with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGHUP) as signals:
        async for signum in signals:
            log.info("stopping", signal=signal.Signals(signum).name)
            scope.cancel()
            return
