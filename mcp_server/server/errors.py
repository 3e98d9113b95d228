"""Turn domain and database failures into MCP tool errors a person (or model) can act on."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

import asyncpg
import structlog
from mcp.server.mcpserver.exceptions import ToolError

from ..db.refusals import write_refusal
from ..errors import PgcodeError

log = structlog.get_logger(__name__)

# A server shutting down, crashed or still starting: the same to a caller as one not reachable.
_SERVER_GOING_AWAY = (
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
)

P = ParamSpec("P")
R = TypeVar("R")


def tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Known failures become ToolError with their sentence; anything else is logged with its
    traceback and reported without internals."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            try:
                return await fn(*args, **kwargs)
            except BaseExceptionGroup as group:
                # A task group inside the tool wraps what it raised; report the failure itself.
                raise _sole(group) from None
        except ToolError:
            raise
        except PgcodeError as exc:
            raise ToolError(str(exc)) from None
        except (asyncpg.QueryCanceledError, TimeoutError):
            # QueryCanceledError: the server's statement_timeout. TimeoutError: the client-side
            # command timeout used behind PgBouncer (checked before OSError, its base class).
            raise ToolError(
                f"{fn.__name__} took longer than the server's statement timeout; narrow it "
                "(a repository, a path_glob, a smaller depth or limit) and try again"
            ) from None
        except asyncpg.ReadOnlySQLTransactionError:
            raise ToolError(
                f"{fn.__name__} needs to write, but this server's database connection is read-only "
                "(a replica, or the pgcode_reader role); index with `pgcode worker` or a writable server"
            ) from None
        except asyncpg.InsufficientPrivilegeError:
            log.warning("tool_insufficient_privilege", tool=fn.__name__)
            raise ToolError(
                f"{fn.__name__} is not allowed by the database role this server connects as; "
                "ask the operator to grant it (see mcp_server/schema/roles.sql)"
            ) from None
        except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError, *_SERVER_GOING_AWAY) as exc:
            log.warning("database_unreachable", tool=fn.__name__, error=str(exc))
            raise ToolError(
                f"the index database is not reachable right now; try again in a few seconds ({type(exc).__name__})"
            ) from None
        except asyncpg.PostgresError as exc:
            refusal = write_refusal(exc)
            if refusal is not None:  # disk full, out of resources: the database may recover by itself
                log.warning("tool_write_refused", tool=fn.__name__, reason=refusal.reason)
                raise ToolError(
                    f"{fn.__name__} cannot run now: {refusal}; searches keep working, try again once "
                    "the database's operator has fixed it"
                ) from None
            log.exception("tool_database_error", tool=fn.__name__)
            raise ToolError(f"{fn.__name__} failed in the database: {exc.__class__.__name__}") from None

    return wrapper


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    inner: BaseException = group
    while isinstance(inner, BaseExceptionGroup) and len(inner.exceptions) == 1:
        inner = inner.exceptions[0]
    return inner
