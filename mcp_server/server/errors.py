"""Turn domain and database failures into MCP tool errors a person (or model) can act on."""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg
import structlog
from mcp.server.mcpserver.exceptions import ToolError

from ..db.refusals import write_refusal
from ..errors import (
    AccessDenied,
    ConfigError,
    DatabaseUnavailable,
    IndexBusy,
    InvalidArgument,
    PathOutsideRoot,
    PgcodeError,
    RepositoryNotFound,
)

log = structlog.get_logger(__name__)

# A server shutting down, crashed or still starting: the same to a caller as one not reachable.
_SERVER_GOING_AWAY = (
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)

P = ParamSpec("P")
R = TypeVar("R")

# Set by the server around each tool call: a read-only server's database is a replica (or PgBouncer
# in front of one), and its operator looks there first.
READ_ONLY_DATABASE: contextvars.ContextVar[bool] = contextvars.ContextVar("pgcode_read_only_database", default=False)


def unreachable(exc: BaseException) -> str:
    """The sentence for a database that does not answer."""
    if READ_ONLY_DATABASE.get():
        return (
            "replica unreachable: this read-only server's database (a replica, or PgBouncer in front of "
            f"one) does not answer right now; try again in a few seconds ({type(exc).__name__})"
        )
    return f"the index database is not reachable right now; try again in a few seconds ({type(exc).__name__})"


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Known failures become ToolError with their sentence; anything else is logged with its
    traceback and reported without internals. Each failure's kind is noted for the metrics."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return await fn(*args, **kwargs)
            except BaseExceptionGroup as group:
                # A task group inside the tool wraps what it raised; report the failure itself.
                raise _sole(group) from None
        except ToolError:
            note_kind("other")
            raise
        except Exception as exc:
            note_kind(error_kind(exc))
            translated = _translated(fn.__name__, exc)
            if translated is None:
                raise
            raise translated from None

    return wrapper


def _translated(tool: str, exc: Exception) -> ToolError | None:
    """The tool error a caller sees for `exc`; None for a failure that is not a known one."""
    if isinstance(exc, PgcodeError):
        return ToolError(str(exc))
    if isinstance(exc, asyncpg.QueryCanceledError | TimeoutError):
        # QueryCanceledError: the server's statement_timeout. TimeoutError: the client-side
        # command timeout used behind PgBouncer (checked before OSError, its base class).
        return ToolError(
            f"{tool} took longer than the server's statement timeout; narrow it "
            "(a repository, a path_glob, a smaller depth or limit) and try again"
        )
    if isinstance(exc, asyncpg.ReadOnlySQLTransactionError):
        return ToolError(
            f"{tool} needs to write, but this server's database connection is read-only "
            "(a replica, or the pgcode_reader role); index with `pgcode worker` or a writable server"
        )
    if isinstance(exc, asyncpg.InsufficientPrivilegeError):
        log.warning("tool_insufficient_privilege", tool=tool)
        return ToolError(
            f"{tool} is not allowed by the database role this server connects as; "
            "ask the operator to grant it (see mcp_server/schema/roles.sql)"
        )
    if isinstance(exc, _UNREACHABLE):
        log.warning("database_unreachable", tool=tool, error=str(exc))
        return ToolError(unreachable(exc))
    if isinstance(exc, asyncpg.PostgresError):
        refusal = write_refusal(exc)
        if refusal is not None:  # disk full, out of resources: the database may recover by itself
            log.warning("tool_write_refused", tool=tool, reason=refusal.reason)
            return ToolError(
                f"{tool} cannot run now: {refusal}; searches keep working, try again once "
                "the database's operator has fixed it"
            )
        log.exception("tool_database_error", tool=tool)
        return ToolError(f"{tool} failed in the database: {exc.__class__.__name__}")
    return None


_UNREACHABLE = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, *_SERVER_GOING_AWAY)
_KINDS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((InvalidArgument, PathOutsideRoot, ConfigError), "invalid_argument"),
    (RepositoryNotFound, "not_found"),
    (AccessDenied, "denied"),
    (IndexBusy, "busy"),
    (DatabaseUnavailable, "unreachable"),
    ((asyncpg.QueryCanceledError, TimeoutError), "timeout"),
    (asyncpg.ReadOnlySQLTransactionError, "read_only"),
    (asyncpg.InsufficientPrivilegeError, "denied"),
    (_UNREACHABLE, "unreachable"),
)


def error_kind(exc: BaseException) -> str:
    """The kind a failure is counted as in pgcode_tool_errors_total."""
    for types, kind in _KINDS:
        if isinstance(exc, types):
            return kind
    if isinstance(exc, asyncpg.PostgresError):
        return "refused_write" if write_refusal(exc) is not None else "database"
    return "internal" if not isinstance(exc, PgcodeError) else "other"


# The kinds of failure noted during one tool call (a list the server puts in place around the call:
# the tool may run in a copy of the call's context, and a list is shared by both).
ERROR_KINDS_NOTED: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("pgcode_error_kinds", default=None)


def note_kind(kind: str) -> None:
    noted = ERROR_KINDS_NOTED.get()
    if noted is not None:
        noted.append(kind)


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    return inner
