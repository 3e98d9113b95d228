"""Assemble get_context's answer: the best definitions with source, their callers and callees, then file outlines,
greedily within a token budget, deterministically."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import asyncpg

from ..db import catalog
from ..embed.embedder import Embedder
from ..errors import InvalidArgument
from ..graph import symbols as graph_symbols
from ..graph import walk
from ..graph.models import SymbolRef
from ..graph.scope import SYMBOL_COLUMNS, SYMBOL_FROM, check_int, scope, symbol_ref
from ..search.filters import Filters
from ..search.hybrid import search_code
from .models import ContextDefinition, ContextOutline, ContextRelation, ContextResult

CHARS_PER_TOKEN = 4
DEFAULT_BUDGET = 2000
MIN_BUDGET, MAX_BUDGET = 200, 32_000
SEARCH_HITS = 15  # hits looked at for definitions
NEIGHBOUR_SEEDS = 3  # definitions whose callers and callees are listed
NEIGHBOURS = 6  # callers (and callees) listed per definition
OUTLINE_FILES = 3
# Shares of the budget each section may fill (what one leaves, the next may use).
_DEFINITIONS_SHARE = 0.70
_RELATED_SHARE = 0.90
_FIRST_DEFINITION_SHARE = 0.45
_OTHER_DEFINITION_SHARE = 0.25
_MIN_DEFINITION_CHARS = 240  # a header and a few lines: less is not worth showing
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[.:]{1,2}[A-Za-z_][A-Za-z0-9_]*)*")
_MAX_IDENTIFIER_SEEDS = 3
# Kinds whose source is other definitions: their outline says more per token than their text.
_CONTAINERS = frozenset({"namespace", "module", "package"})

_HIT_SYMBOL = f"""
SELECT {SYMBOL_COLUMNS}, s.file_id FROM {SYMBOL_FROM}
WHERE r.name = $1 AND f.path = $2 AND s.qualified_name = $3 AND s.kind <> 'module'
  AND s.start_line <= $5 AND s.end_line >= $4
ORDER BY s.end_line - s.start_line, s.id LIMIT 1"""
_NAMED = f"""
SELECT {SYMBOL_COLUMNS}, s.file_id FROM {SYMBOL_FROM}
WHERE s.repository_id = ANY($1::int[]) AND s.name = $2 AND s.kind <> 'module'
ORDER BY s.id LIMIT 4"""
_FILE_OF = "SELECT file_id FROM symbols WHERE id = $1"


@dataclass(slots=True)
class _Seed:
    ref: SymbolRef
    score: float


@dataclass(slots=True)
class _Text:
    """The answer's text as it grows, in characters, against the budget."""

    limit: int
    parts: list[str] = field(default_factory=list)
    size: int = 0

    def room(self, share: float = 1.0) -> int:
        return int(self.limit * share) - self.size

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text) + 1

    def fits(self, text: str, share: float = 1.0) -> bool:
        return len(text) + 1 <= self.room(share)


async def get_context(
    pool: asyncpg.Pool,
    embedder: Embedder | None,
    *,
    query: str | None = None,
    symbol: str | None = None,
    repository: str | None = None,
    budget_tokens: int = DEFAULT_BUDGET,
    ef_search: int = 100,
) -> tuple[str, ContextResult]:
    """The text answer and its structured form. A symbol seeds the answer with itself; a question
    with the definitions search ranks first (identifiers written in it first of all)."""
    budget_tokens = check_int("budget_tokens", budget_tokens, MIN_BUDGET, MAX_BUDGET)
    query = (query or "").strip() or None
    symbol = (symbol or "").strip() or None
    if query is None and symbol is None:
        raise InvalidArgument("give a question (query) or a symbol to build the context around")
    notes: list[str] = []
    async with pool.acquire() as conn:
        ids = await scope(conn, repository)
        seeds: list[_Seed] = []
        if symbol is not None:
            seeds.append(_Seed(await graph_symbols.resolve_symbol(conn, symbol, repository), 1.0))
        if query is not None:
            seeds.extend(await _identifier_seeds(conn, query, ids))
    if query is not None:
        filters = Filters(repository_id=ids[0] if repository is not None and ids else None)
        mode = "hybrid" if embedder is not None else "keyword"
        found = await search_code(
            pool, embedder, query, filters=filters, mode=mode, limit=SEARCH_HITS, ef_search=ef_search
        )
        notes.extend(found.notes)
        async with pool.acquire() as conn:
            for hit in found.results:
                if hit.symbol is None:
                    continue
                row = await conn.fetchrow(
                    _HIT_SYMBOL, hit.repository, hit.path, hit.symbol, hit.start_line, hit.end_line
                )
                if row is not None:
                    seeds.append(_Seed(symbol_ref(row), hit.score))
    seeds = _unique(seeds)
    if not seeds:
        async with pool.acquire() as conn:
            empty = await catalog.nothing_indexed(conn)
        notes.append(catalog.NOTHING_INDEXED if empty else "nothing matched: rephrase, or name a symbol")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        return await _assemble(conn, seeds, query, symbol, repository, budget_tokens, notes)


async def _identifier_seeds(conn: asyncpg.Connection, query: str, ids: list[int]) -> list[_Seed]:
    """Definitions named in the question as code is written (`get_queryset`, `QuerySet.filter`,
    `parseHeader`): exact evidence, ranked before anything search finds."""
    seeds: list[_Seed] = []
    for token in dict.fromkeys(_IDENTIFIER.findall(query)):
        if not _looks_like_code(token):
            continue
        name = re.split(r"[.:]+", token)[-1]
        rows = await conn.fetch(_NAMED, ids, name)
        if "." in token or ":" in token:
            suffix = re.sub(r"[:]+", ".", token)
            rows = [r for r in rows if r["qualified_name"].endswith(suffix)]
        if 0 < len(rows) <= 2:
            seeds.extend(_Seed(symbol_ref(r), 1.0) for r in rows)
        if len(seeds) >= _MAX_IDENTIFIER_SEEDS:
            break
    return seeds


def _looks_like_code(token: str) -> bool:
    return "_" in token.strip("_") or "." in token or "::" in token or bool(re.search(r"[a-z][A-Z]", token))


def _unique(seeds: list[_Seed]) -> list[_Seed]:
    seen: set[int] = set()
    out: list[_Seed] = []
    for seed in seeds:
        if seed.ref.id not in seen:
            seen.add(seed.ref.id)
            out.append(seed)
    return out


async def _assemble(
    conn: asyncpg.Connection,
    seeds: list[_Seed],
    query: str | None,
    symbol: str | None,
    repository: str | None,
    budget_tokens: int,
    notes: list[str],
) -> tuple[str, ContextResult]:
    text = _Text(budget_tokens * CHARS_PER_TOKEN)
    repos = {s.ref.repository for s in seeds}
    asked = f'"{query}"' if query else symbol
    head = f"context for {asked} · budget {budget_tokens} tokens"
    if len(repos) == 1:
        head += f" · repository {next(iter(repos))}"
    text.add(head)
    for note in notes:
        text.add(f"note: {note}")
    shared = len(repos) == 1

    definitions: list[ContextDefinition] = []
    shown: set[int] = set()
    for i, seed in enumerate(s for s in seeds if s.ref.kind not in _CONTAINERS):
        share = _FIRST_DEFINITION_SHARE if i == 0 else _OTHER_DEFINITION_SHARE
        room = min(text.room(_DEFINITIONS_SHARE), int(text.limit * share))
        if room < _MIN_DEFINITION_CHARS:
            if text.room(_DEFINITIONS_SHARE) < _MIN_DEFINITION_CHARS:
                break
            continue
        block, last, source = await _definition(conn, seed.ref, room, shared)
        if block is None:
            continue
        text.add(block)
        shown.add(seed.ref.id)
        definitions.append(
            ContextDefinition(**seed.ref.model_dump(), score=round(seed.score, 5), source=source, source_end_line=last)
        )

    related: list[ContextRelation] = []
    for definition in definitions[:NEIGHBOUR_SEEDS]:
        for incoming in (True, False):
            rows = await _neighbours(conn, definition, incoming)
            lines: list[str] = []
            for ref, line in rows:
                if ref.id in shown:
                    continue
                # A caller is shown at its call site (in its own file), a callee at its definition.
                where = f"{ref.path}:{line}" if incoming else f"{ref.path}:{ref.start_line}"
                entry = f"{where} {ref.kind} {ref.qualified_name}" + (f" · {ref.signature}" if ref.signature else "")
                if not shared:
                    entry += f" [{ref.repository}]"
                if not text.fits("\n".join([*lines, entry]) + "\n-- x", _RELATED_SHARE):
                    break
                lines.append(entry)
                related.append(
                    ContextRelation(
                        **ref.model_dump(),
                        relation="caller" if incoming else "callee",
                        of=definition.qualified_name,
                        line=line,
                    )
                )
            if lines:
                verb = "is called by" if incoming else "calls"
                text.add(f"-- {definition.qualified_name} {verb}:\n" + "\n".join(lines))

    outlines: list[ContextOutline] = []
    files: list[SymbolRef] = []
    for definition in definitions:
        if (definition.repository, definition.path) not in {(f.repository, f.path) for f in files}:
            files.append(definition)
    for ref in files[:OUTLINE_FILES]:
        outline = await _outline(conn, ref)
        block = f"-- outline {ref.path}:\n{outline}"
        if not text.fits(block):
            lines = block.split("\n")
            while len(lines) > 2 and not text.fits("\n".join(lines)):
                lines.pop()
            if len(lines) <= 2:
                break
            block = "\n".join(lines)
        text.add(block)
        outlines.append(ContextOutline(repository=ref.repository, path=ref.path, text=outline))

    for seed in seeds:  # what did not fit as source, by name and place
        if seed.ref.id in shown:
            continue
        entry = (
            f"also: {seed.ref.path}:{seed.ref.start_line}-{seed.ref.end_line} {seed.ref.kind} {seed.ref.qualified_name}"
        )
        if not text.fits(entry):
            break
        text.add(entry)

    body = "\n".join(text.parts)
    result = ContextResult(
        query=query,
        symbol=symbol,
        budget_tokens=budget_tokens,
        used_tokens=-(-len(body) // CHARS_PER_TOKEN),
        definitions=definitions,
        related=related,
        outlines=outlines,
        notes=notes,
    )
    return body, result


async def _definition(conn: asyncpg.Connection, ref: SymbolRef, room: int, shared: bool) -> tuple[str | None, int, str]:
    """The definition's block (header and as many source lines as fit in `room` characters)."""
    file_id = await conn.fetchval(_FILE_OF, ref.id)
    if file_id is None:
        return None, 0, ""
    lines = await graph_symbols.file_lines(conn, file_id, ref.start_line, ref.end_line)
    margin = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    header = f"== {ref.path}:{ref.start_line}-{ref.end_line} {ref.kind} {ref.qualified_name}"
    if not shared:
        header += f" [{ref.repository}]"
    out = [header]
    size = len(header) + 1
    last = ref.start_line - 1
    for number, line in enumerate(lines, start=ref.start_line):
        piece = line[margin:].rstrip()
        tail = f"… lines {number}-{ref.end_line} not shown: get_symbol {ref.id}"
        if size + len(piece) + 1 + (len(tail) + 1 if number < ref.end_line else 0) > room:
            out.append(tail)
            break
        out.append(piece)
        size += len(piece) + 1
        last = number
    if last < ref.start_line:  # not even its first line fits
        return None, 0, ""
    return "\n".join(out), last, "\n".join(lines[: last - ref.start_line + 1])


async def _neighbours(conn: asyncpg.Connection, ref: SymbolRef, incoming: bool) -> list[tuple[SymbolRef, int]]:
    found = await (walk.find_callers if incoming else walk.find_callees)(
        conn, str(ref.id), None, depth=1, min_confidence=0.5, limit=NEIGHBOURS * 3
    )
    by_id = {n.id: n for n in found.nodes if n.depth == 1}
    out: list[tuple[SymbolRef, int]] = []
    seen: set[int] = set()
    # Surest edges first, then by place: deterministic whatever order the walk gave.
    for edge in sorted(found.edges, key=lambda e: (-e.confidence, e.path, e.line)):
        other = edge.source_id if incoming else edge.target_id
        node = by_id.get(other)
        if node is None or other in seen:
            continue
        seen.add(other)
        out.append((SymbolRef(**node.model_dump(exclude={"depth"})), edge.line))
        if len(out) >= NEIGHBOURS:
            break
    return out


async def _outline(conn: asyncpg.Connection, ref: SymbolRef) -> str:
    outline = await graph_symbols.file_outline(conn, ref.path, ref.repository)
    lines: list[str] = []
    for item in outline.symbols:
        if item.depth > 1:
            continue
        lines.append(f"{'  ' * item.depth}{item.kind} {item.name} {item.start_line}-{item.end_line}")
    return "\n".join(lines)
