"""Regex or literal search over the indexed text, line by line, with the regex engine of PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

import asyncpg

from ..errors import InvalidArgument
from .filters import Filters

MAX_PATTERN = 1000
MAX_LIMIT = 1000

# PostgreSQL's regex engine has no catastrophic backtracking, and the trigram index narrows
# the chunks first; every line match is found in SQL so Python's `re` never runs user patterns.
_GREP = """
SELECT r.name AS repository, f.path, f.language, c.start_line + l.n - 1 AS line, l.text
FROM chunks c
JOIN files f ON f.id = c.file_id
JOIN repositories r ON r.id = c.repository_id
LEFT JOIN symbols s ON s.id = c.symbol_id
CROSS JOIN LATERAL unnest(string_to_array(c.content, E'\\n')) WITH ORDINALITY AS l(text, n)
WHERE c.content {op} $1 AND l.text {op} $1 {where}
ORDER BY r.name, f.path, line
LIMIT $2
"""


@dataclass(frozen=True, slots=True)
class GrepMatch:
    repository: str
    path: str
    line: int
    text: str
    language: str | None


async def grep(
    conn: asyncpg.Connection,
    pattern: str,
    filters: Filters,
    *,
    limit: int = 100,
    literal: bool = False,
    case_sensitive: bool = True,
    timeout_ms: int = 5_000,
) -> tuple[list[GrepMatch], bool]:
    """Matching lines (and whether the limit cut them off), given up after `timeout_ms`."""
    if not pattern:
        raise InvalidArgument("pattern is empty")
    if len(pattern) > MAX_PATTERN:
        raise InvalidArgument(f"pattern is {len(pattern)} characters long; keep it under {MAX_PATTERN}")
    if "\x00" in pattern:
        raise InvalidArgument("pattern contains a NUL character")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    regex = re.escape(pattern) if literal else pattern
    op = "~" if case_sensitive else "~*"
    where, params = filters.sql(3)
    try:
        # No backtracking blow-up, but a pattern the trigram index cannot narrow is run on every
        # chunk, and back-references are slow: a timeout of its own, shorter than other queries'.
        # Transaction-local, so it holds behind PgBouncer's transaction pooling too.
        async with conn.transaction():
            await conn.execute("SELECT set_config('statement_timeout', $1, true)", f"{timeout_ms}ms")
            rows = await conn.fetch(_GREP.format(op=op, where=where), regex, limit + 1, *params)
    except asyncpg.QueryCanceledError:
        raise InvalidArgument(
            f"grep gave up after {timeout_ms / 1000:g} s (grep_timeout_ms): the pattern is too costly to "
            "match over this much code. Make it more specific (a literal word of three or more characters "
            "lets the index narrow the search; back-references such as \\1 are slow), or narrow it with "
            "repository, path_glob or language"
        ) from None
    except asyncpg.InvalidRegularExpressionError as exc:
        raise InvalidArgument(
            f"invalid regular expression: {exc}; pass literal=true to search for the text as written"
        ) from None
    except asyncpg.ProgramLimitExceededError as exc:
        raise InvalidArgument(f"the regular expression is too complex: {exc}; simplify it") from None
    matches = [GrepMatch(r["repository"], r["path"], r["line"], r["text"][:500], r["language"]) for r in rows[:limit]]
    return matches, len(rows) > limit
