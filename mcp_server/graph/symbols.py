"""Symbol lookup: resolve a name to one symbol, search names, show a symbol, outline a file, go to a definition."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import asyncpg

from ..errors import InvalidArgument
from ..index.records import CONF_THROUGH, TYPE_OF
from .bindings import bound_at
from .models import (
    AmbiguousSymbol,
    Definition,
    DefinitionResult,
    FileOutline,
    MatchKind,
    Member,
    OutlineItem,
    SymbolDetail,
    SymbolList,
    SymbolMatch,
    SymbolRef,
)
from .scope import (
    MAX_LIMIT,
    SYMBOL_COLUMNS,
    SYMBOL_FROM,
    Conn,
    check_int,
    check_kind,
    check_text,
    like_escape,
    resolve_file,
    round_conf,
    scope,
    symbol_ref,
    symbols_by_id,
)

MAX_SOURCE_LINES = 400
MAX_CANDIDATES = 10
_MAX_COLUMN = 100_000
_C_UNITS = (".c", ".cc", ".cpp", ".cxx", ".c++")  # translation units, not headers
_SEPARATORS = re.compile(r"::|[.#/]")
_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*")
_QUALIFIER = re.compile(r"[A-Za-z_$][\w$]*(?![\w$]|\s*[(<])")
# The receiver chain written just before an identifier: `utils.` of `utils.forEach`, `a?.b.` , `ns::`.
_RECEIVER = re.compile(r"(?:[A-Za-z_$][\w$]*\s*(?:\?\.|\.|::|->)\s*)+$")
_MEMBER_OPS = re.compile(r"\s*(?:\?\.|::|->|\.)\s*")
_MATCH: dict[int, MatchKind] = {0: "exact", 1: "exact", 2: "suffix", 3: "suffix", 4: "prefix", 5: "fuzzy"}

_RESOLVE_COLUMNS = f"{SYMBOL_COLUMNS}, s.repository_id, s.parent_id, s.end_byte - s.start_byte AS span"
_RESOLVE_BY_ID = f"""
SELECT {_RESOLVE_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.id = $1 AND s.repository_id = ANY($2::int[])"""
_RESOLVE_BY_QNAME = f"""
SELECT {_RESOLVE_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.repository_id = ANY($1::int[]) AND s.qualified_name = $2 AND ($3::text IS NULL OR s.kind = $3)"""
_RESOLVE_BY_NAME = f"""
SELECT {_RESOLVE_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.repository_id = ANY($1::int[]) AND s.name = ANY($2::text[]) AND ($3::text IS NULL OR s.kind = $3)"""
# "pkg.Name" where pkg re-exports Name (Python `from .mod import Name` in pkg/__init__.py).
_RESOLVE_REEXPORT = f"""
SELECT {_RESOLVE_COLUMNS}
FROM symbols m JOIN edges e ON e.source_id = m.id AND e.kind = 'imports' AND e.target_id IS NOT NULL
JOIN symbols s ON s.id = e.target_id JOIN files f ON f.id = s.file_id JOIN repositories r ON r.id = s.repository_id
WHERE m.repository_id = ANY($1::int[]) AND m.qualified_name = $2 AND m.kind = 'module'
  AND coalesce(e.alias, e.target_simple) = $3 AND ($4::text IS NULL OR s.kind = $4)"""

# Qualified names with every language's separator turned into "." so "Cart.total" matches
# "shop.cart.Cart.total", "geo::Point::norm" and "Reports::DailyReport#generate" alike.
_NORM_QNAME = "replace(replace(replace(s.qualified_name, '::', '.'), '#', '.'), '/', '.')"
_SCOPE = "s.repository_id = ANY($1::int[]) AND ($4::text IS NULL OR s.kind = $4)"
# One statement, best tier first; each branch is capped so a short query cannot scan far.
_FIND = f"""
WITH hits AS (
  (SELECT s.id, 0 AS tier, 1.0::float8 AS sim FROM symbols s
    WHERE {_SCOPE} AND (s.name = $2 OR s.qualified_name = $2) LIMIT $5)
  UNION ALL
  (SELECT s.id, 1, 1.0 FROM symbols s WHERE {_SCOPE} AND lower(s.name) = $9 LIMIT $5)
  UNION ALL
  (SELECT s.id, 2, 1.0 FROM symbols s
    WHERE {_SCOPE} AND s.name = $3 AND {_NORM_QNAME} LIKE '%.' || $6 LIMIT $5)
  UNION ALL
  (SELECT s.id, 3, 1.0 FROM symbols s
    WHERE {_SCOPE} AND lower(s.name) LIKE '%' || $7 AND lower({_NORM_QNAME}) LIKE '%' || $8
    ORDER BY length(s.name), s.id LIMIT $5)
  UNION ALL
  (SELECT s.id, 4, 1.0 FROM symbols s
    WHERE {_SCOPE} AND lower(s.name) LIKE $7 || '%' AND lower({_NORM_QNAME}) LIKE '%' || $8 || '%'
    ORDER BY length(s.name), s.id LIMIT $5)
), best AS (SELECT DISTINCT ON (id) id, tier, sim FROM hits ORDER BY id, tier)
SELECT {SYMBOL_COLUMNS}, b.tier, b.sim FROM best b JOIN {SYMBOL_FROM} ON s.id = b.id
ORDER BY b.tier, b.sim DESC, s.kind = 'module', length(s.qualified_name), s.qualified_name, s.id
LIMIT $5"""
# Only when nothing has the name and the tiers above leave room: similarity is computed for
# every name sharing trigrams with the query, the one costly part of a lookup in a big repository.
_FIND_FUZZY = f"""
WITH hits AS (
  SELECT s.id, 5 AS tier, similarity(lower(s.name), $2)::float8 AS sim FROM symbols s
  WHERE {_SCOPE} AND lower(s.name) % $2 AND s.id <> ALL($3::bigint[])
  ORDER BY sim DESC, s.id LIMIT $5)
SELECT {SYMBOL_COLUMNS}, h.tier, h.sim FROM hits h JOIN {SYMBOL_FROM} ON s.id = h.id
ORDER BY h.sim DESC, s.kind = 'module', length(s.qualified_name), s.qualified_name, s.id"""

_SYMBOL_BY_ID = f"SELECT {SYMBOL_COLUMNS} FROM {SYMBOL_FROM} WHERE s.id = $1"
_DETAIL = """
SELECT s.docstring, s.file_id, s.parent_id, f.language FROM symbols s JOIN files f ON f.id = s.file_id
WHERE s.id = $1"""
_MEMBERS = """
SELECT id, kind, name, signature, start_line, end_line FROM symbols
WHERE parent_id = $1 ORDER BY start_line, start_byte"""
# A variable's type edge (records.TYPE_OF) mentions the type only where its name is written
# (`x: Foo`, `y = Foo()`): `return hooks` or `const s = z.string()` tells the resolver what the
# value holds, and is no use of the class it holds.
# An edge on the target's own first line in its own file (`export default function bind`, which
# binds the module's default) is its definition, not a use of it.
MENTIONED = (
    f"(e.alias IS DISTINCT FROM '{TYPE_OF}' OR e.target_name = t.name"
    " OR right(e.target_name, length(t.name) + 1) = '.' || t.name)"
    " AND (e.file_id <> t.file_id OR e.line <> t.start_line)"
)
_COUNTS = f"""
SELECT
  (SELECT count(DISTINCT source_id) FROM edges
    WHERE target_id = ANY($1::bigint[]) AND target_id IS NOT NULL AND kind = 'calls') AS callers,
  (SELECT count(DISTINCT target_id) FROM edges
    WHERE source_id = ANY($1::bigint[]) AND target_id IS NOT NULL AND kind = 'calls') AS callees,
  (SELECT count(*) FROM edges
    WHERE source_id = ANY($1::bigint[]) AND target_id IS NULL AND kind = 'calls') AS unresolved,
  (SELECT count(*) FROM edges e JOIN symbols t ON t.id = e.target_id
    WHERE e.target_id = ANY($1::bigint[]) AND e.kind <> 'contains' AND {MENTIONED}) AS refs"""
_CHUNK_LINES = """
SELECT start_line, content FROM chunks
WHERE file_id = $1 AND start_line <= $3 AND end_line >= $2 ORDER BY start_line"""
_OUTLINE = """
SELECT id, parent_id, kind, name, qualified_name, signature, start_line, end_line FROM symbols
WHERE file_id = $1 ORDER BY start_line, start_byte, end_byte DESC"""
_SITE_EDGES = f"""
SELECT e.kind, e.target_name, e.target_simple, e.alias, e.confidence, e.target_id FROM edges e
WHERE e.file_id = $1 AND e.line = $2 AND e.kind <> 'contains'
  AND NOT (e.provenance = 'compiler' AND e.confidence = {CONF_THROUGH}::real)
ORDER BY e.confidence DESC, e.id"""
_LINE_DEFINITIONS = f"""
SELECT {SYMBOL_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.file_id = $1 AND s.start_line = $2 AND s.kind <> 'module' ORDER BY s.start_byte"""

# What a JavaScript object's member holds when it is a name (`{ isFunction }`, `isCallable: isFunction`):
# the reference written on the member's own line.
_HELD_VALUE = """
SELECT e.target_id FROM edges e JOIN symbols s ON s.id = $1
WHERE e.file_id = s.file_id AND e.line = s.start_line AND e.kind = 'references' AND e.target_name = $2
  AND e.target_id IS NOT NULL AND e.target_id <> s.id
ORDER BY e.confidence DESC, e.id LIMIT 1"""
_JS_FILES = (".js", ".mjs", ".cjs", ".jsx")


@dataclass(frozen=True, slots=True)
class Resolved:
    ref: SymbolRef
    ids: list[int]  # the symbol plus any same-named twins (a C++ declaration + definition)
    repository_id: int


def split_name(qualified: str) -> list[str]:
    return [p for p in _SEPARATORS.split(qualified) if p]


async def resolve_symbol(conn: Conn, symbol: str, repository: str | None, kind: str | None = None) -> SymbolRef:
    """The one symbol named by an id, a qualified name or a name suffix ("Cart.total")."""
    return (await resolve(conn, symbol, repository, kind)).ref


async def resolve(conn: Conn, symbol: str, repository: str | None, kind: str | None = None) -> Resolved:
    symbol = check_text("symbol", symbol)
    kind = check_kind(kind)
    ids = await scope(conn, repository)
    if symbol.isascii() and symbol.isdigit():
        row = await conn.fetchrow(_RESOLVE_BY_ID, int(symbol), ids) if len(symbol) <= 18 else None
        if row is None or (kind is not None and row["kind"] != kind):
            raise InvalidArgument(f"no {kind or 'symbol'} has id {symbol} here; find ids with find_symbol")
        twins = await conn.fetch(_RESOLVE_BY_QNAME, [row["repository_id"]], row["qualified_name"], None)
        program = _programs(twins)
        twins = [t for t in twins if program(t) == program(row)]
        return Resolved(symbol_ref(row), sorted({row["id"], *(t["id"] for t in twins)}), row["repository_id"])
    rows = await conn.fetch(_RESOLVE_BY_QNAME, ids, symbol, kind)
    if not rows:
        parts = split_name(symbol)
        wanted = _normalized(symbol)
        named = await conn.fetch(_RESOLVE_BY_NAME, ids, list({parts[-1] if parts else symbol, symbol}), kind)
        rows = [r for r in named if _has_suffix(r["qualified_name"], wanted) or r["name"] == symbol]
        if not rows and len(parts) > 1 and "." in symbol:
            rows = await conn.fetch(_RESOLVE_REEXPORT, ids, ".".join(parts[:-1]), parts[-1], kind)
    if not rows:
        raise InvalidArgument(await _not_found_message(conn, symbol, ids, kind))
    groups: dict[tuple[int, str, str], list[asyncpg.Record]] = defaultdict(list)
    program = _programs(rows)
    for r in rows:
        groups[(r["repository_id"], r["qualified_name"], program(r))].append(r)
    # Same qualified name twice in one repository is one symbol (C++ declaration + definition,
    # a property getter + setter): the largest span is the definition with the body.
    best = {key: max(group, key=lambda r: (r["span"], -r["id"])) for key, group in groups.items()}
    if len(best) > 1:
        # A class and its own constructors share the class's name: the class is meant.
        chosen = {r["id"] for r in best.values()}
        best = {k: r for k, r in best.items() if not (r["kind"] == "constructor" and r["parent_id"] in chosen)}
        # Likewise a file's module and the class it is named after (Java, C#, Ruby): the class.
        files = {(r["repository_id"], r["path"]) for r in best.values() if r["kind"] != "module"}
        best = {k: r for k, r in best.items() if r["kind"] != "module" or (r["repository_id"], r["path"]) not in files}
    if len(best) > 1:
        raise _ambiguous(symbol, list(best.values()))
    key, row = next(iter(best.items()))
    return Resolved(symbol_ref(row), sorted(r["id"] for r in groups[key]), row["repository_id"])


def _programs(rows: Sequence[asyncpg.Record]) -> Callable[[asyncpg.Record], str]:
    """What tells apart rows of one qualified name: the file of a C function defined in several
    translation units (each test program's own `main` or `usage`, never linked together: one
    symbol each, as indexer.resolve binds calls), else "" (a declaration and its definition are
    one symbol)."""
    units: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in rows:
        if _c_function(r):
            units[(r["repository_id"], r["qualified_name"])].add(r["path"])

    def key(row: asyncpg.Record) -> str:
        apart = _c_function(row) and len(units[(row["repository_id"], row["qualified_name"])]) > 1
        return row["path"] if apart else ""

    return key


def _c_function(row: asyncpg.Record) -> bool:
    return row["kind"] == "function" and "::" not in row["qualified_name"] and row["path"].endswith(_C_UNITS)


def _normalized(qualified: str) -> str:
    return ".".join(split_name(qualified))


def _has_suffix(qualified: str, wanted: str) -> bool:
    norm = _normalized(qualified)
    return norm == wanted or norm.endswith("." + wanted)


def _ambiguous(symbol: str, rows: list[asyncpg.Record]) -> AmbiguousSymbol:
    rows = sorted(rows, key=lambda r: (r["repository"], r["path"], r["start_line"]))
    several_repos = len({r["repository"] for r in rows}) > 1
    lines = [
        f"  {r['qualified_name']} ({r['kind']}) {r['path']}:{r['start_line']}"
        + (f" in {r['repository']}" if several_repos else "")
        for r in rows[:MAX_CANDIDATES]
    ]
    more = f"\n  ... and {len(rows) - MAX_CANDIDATES} more" if len(rows) > MAX_CANDIDATES else ""
    how = "a qualified name, an id" + (" or a repository" if several_repos else "")
    message = f"{symbol!r} matches {len(rows)} symbols; pass {how} to pick one:\n" + "\n".join(lines) + more
    return AmbiguousSymbol(message, [symbol_ref(r) for r in rows])


async def _not_found_message(conn: Conn, symbol: str, ids: list[int], kind: str | None) -> str:
    close = await _find_rows(conn, symbol, ids, kind, 5)
    what = f"{kind} " if kind else ""
    hint = f"; close names: {', '.join(r['qualified_name'] for r in close)}" if close else ""
    return f"no {what}symbol is named {symbol!r}{hint}. Search names with find_symbol"


async def _find_rows(conn: Conn, name: str, ids: list[int], kind: str | None, limit: int) -> list[asyncpg.Record]:
    parts = split_name(name)
    seg = parts[-1] if parts else name
    norm = _normalized(name) or name
    rows = await conn.fetch(
        _FIND,
        ids,
        name,
        seg,
        kind,
        limit,
        like_escape(norm),
        like_escape(seg.lower()),
        like_escape(norm.lower()),
        name.lower(),
    )
    # Names like an existing one are noise next to it (and prefixes/suffixes already came back).
    if len(rows) < limit and not any(r["tier"] <= 1 for r in rows):
        rows += await conn.fetch(_FIND_FUZZY, ids, seg.lower(), [r["id"] for r in rows], kind, limit - len(rows))
    return rows


async def find_symbol(
    conn: Conn, name: str, repository: str | None = None, kind: str | None = None, limit: int = 20
) -> SymbolList:
    """Symbols by name: exact matches first, then qualified-name suffixes, prefixes, fuzzy names."""
    name = check_text("name", name)
    kind = check_kind(kind)
    limit = check_int("limit", limit, 1, MAX_LIMIT)
    ids = await scope(conn, repository)
    rows = await _find_rows(conn, name, ids, kind, limit + 1)
    symbols = [SymbolMatch(**symbol_ref(r).model_dump(), match=_MATCH[r["tier"]]) for r in rows[:limit]]
    return SymbolList(query=name, symbols=symbols, truncated=len(rows) > limit)


async def get_symbol(conn: Conn, symbol: str, repository: str | None = None) -> SymbolDetail:
    """One symbol with its source (as indexed), parent, direct members and call counts."""
    if isinstance(conn, asyncpg.Connection) and not conn.is_in_transaction():
        # One snapshot for all its queries: a re-index committed between them would otherwise take
        # the symbol (or its file's lines) away half-way through the answer.
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            return await _symbol_detail(conn, symbol, repository)
    return await _symbol_detail(conn, symbol, repository)


async def _symbol_detail(conn: Conn, symbol: str, repository: str | None) -> SymbolDetail:
    resolved = await resolve(conn, symbol, repository)
    ref = resolved.ref
    detail = await conn.fetchrow(_DETAIL, ref.id)
    if detail is None:
        raise InvalidArgument(f"{ref.qualified_name} left the index while it was read (a re-index); try again")
    last = min(ref.end_line, ref.start_line + MAX_SOURCE_LINES - 1)
    lines = await file_lines(conn, detail["file_id"], ref.start_line, last)
    parent = None
    if detail["parent_id"] is not None:
        parent_row = await conn.fetchrow(_SYMBOL_BY_ID, detail["parent_id"])
        parent = symbol_ref(parent_row) if parent_row else None
    members = [Member(**dict(r)) for r in await conn.fetch(_MEMBERS, ref.id)]
    counts = await conn.fetchrow(_COUNTS, resolved.ids)
    return SymbolDetail(
        **ref.model_dump(),
        language=detail["language"],
        docstring=detail["docstring"],
        source="\n".join(lines),
        truncated=last < ref.end_line,
        parent=parent,
        members=members,
        callers=counts["callers"],
        callees=counts["callees"],
        unresolved_calls=counts["unresolved"],
        references=counts["refs"],
    )


async def file_lines(conn: Conn, file_id: int, first: int, last: int) -> list[str]:
    """Lines first..last of a file as indexed, rebuilt from its chunks (which skip only blank lines)."""
    text = {n: "" for n in range(first, last + 1)}
    for chunk in await conn.fetch(_CHUNK_LINES, file_id, first, last):
        for offset, line in enumerate(chunk["content"].split("\n")):
            if first <= chunk["start_line"] + offset <= last:
                text[chunk["start_line"] + offset] = line
    return [text[n] for n in range(first, last + 1)]


async def file_outline(conn: Conn, path: str, repository: str | None = None) -> FileOutline:
    """The definitions of one file in line order, each with its nesting depth."""
    file = await resolve_file(conn, path, repository)
    rows = await conn.fetch(_OUTLINE, file.id)
    module = next((r for r in rows if r["parent_id"] is None and r["kind"] == "module"), None)
    depth: dict[int, int] = {module["id"]: -1} if module else {}
    items: list[OutlineItem] = []
    for r in rows:  # parents start no later than their children, so depth is known in line order
        if module is not None and r["id"] == module["id"]:
            continue
        depth[r["id"]] = depth.get(r["parent_id"], -1) + 1
        items.append(OutlineItem(**dict(r), depth=depth[r["id"]]))
    return FileOutline(
        repository=file.repository,
        path=file.path,
        language=file.language,
        module=module["qualified_name"] if module else None,
        line_count=file.line_count,
        symbols=items,
    )


def _identifier_at(text: str, column: int) -> re.Match[str] | None:
    """The identifier under a 1-based column, or ending just before it (an editor's cursor)."""
    found = list(_IDENTIFIER.finditer(text))
    for match in found:
        if match.start() < column <= match.end():
            return match
    return next((m for m in found if m.end() == column - 1), None)


def _written(text: str, found: re.Match[str]) -> str:
    """An identifier with the receiver written before it, dot-separated (`utils.forEach`)."""
    receiver = _RECEIVER.search(text[: found.start()])
    return (_MEMBER_OPS.sub(".", receiver.group()) if receiver else "") + found.group()


def _at_column(edges: list[asyncpg.Record], written: str) -> list[asyncpg.Record]:
    """Of a line's edges for one name, those written as at the column (`utils.forEach`, not the
    `list.forEach` beside it): a line may call two things of one name."""
    chains = [_MEMBER_OPS.sub(".", e["target_name"]) for e in edges]
    mine = [e for e, c in zip(edges, chains) if written == c.lstrip(".").removeprefix("new.")]
    if not mine:
        mine = [e for e, c in zip(edges, chains) if c.endswith("." + written)]
    return mine or edges


async def goto_definition(
    conn: Conn,
    path: str,
    line: int,
    column: int | None = None,
    name: str | None = None,
    repository: str | None = None,
) -> DefinitionResult:
    """What a name at a site (file, line[, column or name]) refers to, with the resolver's confidence."""
    file = await resolve_file(conn, path, repository)
    line = check_int("line", line, 1, max(file.line_count, 1))
    note: str | None = None
    written: str | None = None
    beside_definition = False
    if name is not None:
        name = check_text("name", name)
    if column is not None:
        column = check_int("column", column, 1, _MAX_COLUMN)
        text = (await file_lines(conn, file.id, line, line))[0]
        if column > len(text) + 1:
            raise InvalidArgument(f"column {column} is past the end of line {line} ({len(text)} characters)")
        found = _identifier_at(text, column)
        if name is None:
            name = found.group() if found else None
            if name is None:
                note = f"no identifier at column {column}; showing everything line {line} refers to"
        if found is not None and found.group() == name:
            written = _written(text, found)
            # A definition names itself first on its line: a later `len` is a use (`fn len(&self)
            # -> usize { self.data.len() }`, `const trim = (s) => s.trim()`), not the definition.
            first = next(m for m in _IDENTIFIER.finditer(text) if m.group() == name)
            beside_definition = first.start() != found.start()
    edges = await conn.fetch(_SITE_EDGES, file.id, line)
    defs = await conn.fetch(_LINE_DEFINITIONS, file.id, line)
    if name is not None:
        defs = [d for d in defs if d["name"] == name and not beside_definition]
        picked = [e for e in edges if name in (e["target_simple"], e["alias"], _last(e["target_name"]))]
        if not picked:
            # A qualifier rather than the called name ("cart" in cart.add): weaker, but the best there
            # is. Not a call within it (`string` of z.string().datetime): that call is another edge's.
            picked = [e for e in edges if name in _QUALIFIER.findall(e["target_name"])]
        if not picked and not defs and edges:
            listed = ", ".join(dict.fromkeys(e["target_name"] for e in edges))
            note = f"nothing named {name!r} is referred to on line {line}; the line refers to: {listed}"
        edges = _at_column(picked, written) if written is not None and picked else picked
    targets = await symbols_by_id(conn, [e["target_id"] for e in edges if e["target_id"] is not None])
    definitions: list[Definition] = []
    seen: set[int] = set()
    for e in edges:
        target = targets.get(e["target_id"])
        if target is not None and target.id not in seen:
            seen.add(target.id)
            definitions.append(
                Definition(
                    **target.model_dump(),
                    confidence=round_conf(e["confidence"]),
                    via=e["kind"],
                    target_name=e["target_name"],
                )
            )
            held = await _held_value(conn, definitions[-1], seen)
            if held is not None:
                definitions.append(held)
    for d in defs:
        if d["id"] not in seen:
            definitions.append(
                Definition(**symbol_ref(d).model_dump(), confidence=1.0, via="definition", target_name=d["name"])
            )
    unresolved = list(dict.fromkeys(e["target_name"] for e in edges if e["target_id"] is None))
    if not definitions and name is not None:
        # A parameter or a local the graph holds no symbol for, as the compiler pass placed it.
        definitions = await bound_at(conn, file.id, line, name)
        if definitions:
            unresolved = []
    if not definitions and note is None:
        if unresolved:
            note = (
                f"no indexed definition for {', '.join(unresolved)}: most likely defined outside the "
                "indexed code (a library, the standard library, generated code) or bound dynamically"
            )
        else:
            what = f" named {name!r}" if name else ""
            note = f"nothing{what} on line {line} of {file.path} refers to an indexed symbol"
    return DefinitionResult(
        repository=file.repository,
        path=file.path,
        line=line,
        name=name,
        definitions=definitions,
        unresolved=unresolved,
        note=note,
    )


async def _held_value(conn: Conn, member: Definition, seen: set[int]) -> Definition | None:
    """After a JavaScript object's member that holds a name (`export default { isFunction }`, which
    tsserver answers first for `utils.isFunction()`), what that name is: `const isFunction =
    typeOfTest('function')` says more than the member does. Not TypeScript: `x: Foo` is a type there."""
    if member.kind != "attribute" or not member.path.endswith(_JS_FILES):
        return None
    value = member.signature.rpartition(":")[2].strip()
    if _IDENTIFIER.fullmatch(value) is None:
        return None
    target_id = await conn.fetchval(_HELD_VALUE, member.id, value)
    target = (await symbols_by_id(conn, [target_id])).get(target_id) if target_id is not None else None
    if target is None or target.id in seen:
        return None
    seen.add(target.id)
    return Definition(**target.model_dump(), confidence=member.confidence, via="holds", target_name=value)


def _last(target_name: str) -> str:
    found = _IDENTIFIER.findall(target_name)
    return found[-1] if found else target_name
