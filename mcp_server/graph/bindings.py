"""Where the compiler pass found a name bound that pgcode holds no symbol for: goto_definition's answer for a parameter or a local."""

from __future__ import annotations

from .models import Definition
from .scope import SYMBOL_COLUMNS, SYMBOL_FROM, Conn, symbol_ref

# A binding counts while neither its file nor the use's was stored again after the pass started.
_BOUND = """
SELECT DISTINCT b.def_file_id, b.def_line FROM compiler_bindings b
JOIN files u ON u.id = b.file_id JOIN files d ON d.id = b.def_file_id
WHERE b.file_id = $1 AND b.line = $2 AND b.name = $3
  AND u.indexed_at <= b.written_at AND d.indexed_at <= b.written_at
ORDER BY b.def_file_id, b.def_line"""
# The innermost symbol whose lines hold the binding: the scope it belongs to.
_SCOPE = f"""
SELECT {SYMBOL_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.file_id = $1 AND s.start_line <= $2 AND $2 <= s.end_line
ORDER BY s.end_line - s.start_line, s.start_line DESC LIMIT 1"""


async def bound_at(conn: Conn, file_id: int, line: int, name: str) -> list[Definition]:
    """The bindings the compiler pass names for `name` on the line: each as a `local` definition at
    the binding's line, carrying the id and qualified name of the symbol whose scope holds it."""
    out: list[Definition] = []
    for b in await conn.fetch(_BOUND, file_id, line, name):
        scope = await conn.fetchrow(_SCOPE, b["def_file_id"], b["def_line"])
        if scope is None:
            continue
        ref = symbol_ref(scope)
        out.append(
            Definition(
                **ref.model_dump(exclude={"kind", "name", "signature", "start_line", "end_line"}),
                kind="local",
                name=name,
                start_line=b["def_line"],
                end_line=b["def_line"],
                confidence=1.0,
                via="local",
                target_name=name,
            )
        )
    return out
