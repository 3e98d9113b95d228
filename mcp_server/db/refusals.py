"""Which database errors mean "it cannot take writes right now" (read-only, disk full, out of resources), named for people."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

READ_ONLY_SQLSTATE = "25006"

# SQLSTATEs of states the database may leave by itself (an operator frees disk space, a standby is
# promoted, a read-only switch is turned off): a writer waits for them instead of failing for good.
_REASONS: dict[str, str] = {
    "25006": "read-only",  # read_only_sql_transaction: default_transaction_read_only, a standby
    "53000": "out of resources",  # insufficient_resources
    "53100": "disk full",  # disk_full: a table or its WAL could not grow
    "53200": "out of memory",  # out_of_memory
    "53300": "too many connections",  # too_many_connections
    "53400": "a configured limit was reached",  # configuration_limit_exceeded, e.g. temp_file_limit
}


@dataclass(frozen=True, slots=True)
class WriteRefusal:
    reason: str  # "read-only", "disk full", ...
    sqlstate: str

    def __str__(self) -> str:
        return f"the database refuses writes ({self.reason}, SQLSTATE {self.sqlstate})"


def write_refusal(exc: BaseException) -> WriteRefusal | None:
    """Why the database refused a write, if `exc` (or an error it was raised from) is such a refusal."""
    seen: set[int] = set()
    current: BaseException | None = exc
    # A failure while recording a failure (the repository's error state is a write too) hides the
    # first one in its context.
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, asyncpg.PostgresError):
            code = getattr(current, "sqlstate", None)
            if code in _REASONS:
                return WriteRefusal(_REASONS[code], code)
        current = current.__cause__ or current.__context__
    return None
