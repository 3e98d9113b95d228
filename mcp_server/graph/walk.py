"""Graph walks: references, callers and callees, shortest call paths, change impact, file imports."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument
from ..index.languages import language_for
from ..index.layout import is_test_path
from ..index.records import CONF_SCOPED, CONF_UNIQUE, MEMBER_READ, TYPE_OF
from .models import (
    CallPath,
    DependencyResult,
    Dependent,
    EdgeList,
    GraphEdge,
    GraphNode,
    GraphResult,
    ImpactFile,
    ImpactResult,
    ImpactSummary,
    ImportItem,
    PathResult,
    Reference,
    SymbolRef,
    UnresolvedCall,
)
from .scope import (
    MAX_DEPTH,
    MAX_LIMIT,
    MAX_PATH,
    SYMBOL_COLUMNS,
    SYMBOL_FROM,
    Conn,
    FileRef,
    check_confidence,
    check_int,
    check_provenance,
    check_text,
    resolve_file,
    round_conf,
    scope,
    symbol_ref,
    symbols_by_id,
)
from .symbols import MENTIONED as _MENTIONED
from .symbols import resolve

MAX_PATHS = 3
_MAX_BASES = 16  # inherits edges followed up from a method's class
_JS_FAMILY = "javascript,typescript,tsx"
_SNIPPET_CHARS = 200
_CALLS = ["calls"]
# What a change can break: code that calls, mentions, subclasses or imports the changed symbol.
_DEPENDENCY_KINDS = ["calls", "references", "inherits", "imports"]

# One query per level of a breadth-first walk. Each node is expanded once however many paths
# reach it, so a hub with thousands of callers costs one index probe per caller, never one per
# path (a recursive CTE with path arrays enumerates paths, which explodes on dense call graphs).
# The parameter is cast to real because confidences are stored as real: 0.9::real < 0.9::float8.
# Incoming edges are read with the frontier's stand-ins (_STAND_INS): an edge to one is reported
# as an edge to the node it stands for.
# An accessor's reads (`err.message` of `get message()`) are its calls. So is a function passed
# as a value (`"gt": Gt`, `http.HandlerFunc(f)`, a method value `c.Handler`) where the language's
# server counts it among the incoming calls: gopls.
# A member read as a value (records.MEMBER_READ: `this.parse.bind(this)`, `ZodNull.create`) is a call
# of the function or method it names, and a class read so (`instanceof z.ZodError`) one of its
# constructor (the class stands in for it, edge kind 'calls'): tsserver's call hierarchy counts both.
_VALUE_CALL_LANGUAGES = "go"
_ACCESSOR = r"^((public|protected|private|static|override)\s+)*[gs]et\s"
_STEP_IN = f"""
SELECT e.source_id, w.stands_for AS target_id, e.line, least(e.confidence, w.cap) AS confidence, e.provenance,
       CASE WHEN e.kind = ANY($2::text[]) OR t.signature !~ '{_ACCESSOR}' THEN e.kind ELSE 'calls' END AS kind
FROM unnest($1::bigint[], $4::bigint[], $5::text[], $6::real[]) AS w(id, stands_for, edge_kind, cap)
JOIN edges e ON e.target_id = w.id JOIN symbols t ON t.id = e.target_id
WHERE (e.kind = ANY($2::text[])
       OR (e.kind = 'references' AND 'calls' = ANY($2::text[]) AND e.alias IS DISTINCT FROM '{TYPE_OF}'
           AND t.kind = 'method' AND t.signature ~ '{_ACCESSOR}')
       OR (e.kind = 'references' AND 'calls' = ANY($2::text[]) AND e.alias = '{MEMBER_READ}'
           AND (t.kind IN ('function', 'method') OR w.edge_kind = 'calls'))
       OR (e.kind = 'references' AND 'calls' = ANY($2::text[]) AND e.alias IS NULL
           AND t.kind IN ('function', 'method')
           AND EXISTS (SELECT 1 FROM files f WHERE f.id = e.file_id AND f.language = ANY('{{{_VALUE_CALL_LANGUAGES}}}'::text[]))))
  AND (w.edge_kind IS NULL OR w.edge_kind = '' OR e.kind = w.edge_kind
       OR (w.edge_kind = 'calls' AND e.alias = '{MEMBER_READ}'))
  AND least(e.confidence, w.cap) >= $3::real AND ($7::text IS NULL OR e.provenance = $7::text)
ORDER BY least(e.confidence, w.cap) DESC, e.id"""
_STEP_OUT = """
SELECT e.source_id, e.target_id, e.line, e.confidence, e.kind, e.provenance FROM edges e
WHERE e.source_id = ANY($1::bigint[]) AND e.target_id IS NOT NULL
  AND e.kind = ANY($2::text[]) AND e.confidence >= $3::real AND ($4::text IS NULL OR e.provenance = $4::text)
ORDER BY e.confidence DESC, e.id"""
_UNRESOLVED_CALLS = """
SELECT s.qualified_name AS source, e.target_name, f.path, e.line
FROM edges e JOIN symbols s ON s.id = e.source_id JOIN files f ON f.id = e.file_id
WHERE e.source_id = ANY($1::bigint[]) AND e.target_id IS NULL AND e.kind = 'calls'
ORDER BY f.path, e.line, e.id LIMIT $2"""
# The symbols queried (w.edge_kind NULL) and their stand-ins (_STAND_INS: only edges of kind w.edge_kind, at
# most w.cap sure), each with the symbol it stands for.
# A macro's body is text until used: its uses are the references (graph.walk._through_macros).
_NOT_IN_MACRO = "s.kind <> 'macro'"
_REFERENCES = f"""
SELECT e.kind, least(e.confidence, w.cap) AS confidence, r.name AS repository, f.path, e.line,
       s.qualified_name AS source, s.id AS source_id, s.kind AS source_kind, e.target_name,
       CASE WHEN w.edge_kind IS NOT NULL THEN t.qualified_name END AS via, e.provenance,
       coalesce((SELECT split_part(c.content, E'\\n', e.line - c.start_line + 1) FROM chunks c
                 WHERE c.file_id = e.file_id AND c.start_line <= e.line AND c.end_line >= e.line
                 LIMIT 1), '') AS snippet
FROM unnest($1::bigint[], $4::text[], $5::real[]) AS w(id, edge_kind, cap)
JOIN edges e ON e.target_id = w.id JOIN symbols s ON s.id = e.source_id JOIN files f ON f.id = e.file_id
JOIN repositories r ON r.id = e.repository_id JOIN symbols t ON t.id = e.target_id
WHERE e.kind <> 'contains' AND {_MENTIONED} AND {_NOT_IN_MACRO}
  AND (w.edge_kind IS NULL OR w.edge_kind = '' OR e.kind = w.edge_kind)
  AND least(e.confidence, w.cap) >= $2::real AND ($6::text IS NULL OR e.provenance = $6::text)
ORDER BY f.path, e.line, e.id LIMIT $3"""
_REFERENCE_COUNTS = f"""
SELECT e.kind, count(*) AS n
FROM unnest($1::bigint[], $3::text[], $4::real[]) AS w(id, edge_kind, cap)
JOIN edges e ON e.target_id = w.id JOIN symbols t ON t.id = e.target_id JOIN symbols s ON s.id = e.source_id
WHERE e.kind <> 'contains' AND {_MENTIONED} AND {_NOT_IN_MACRO}
  AND (w.edge_kind IS NULL OR w.edge_kind = '' OR e.kind = w.edge_kind)
  AND least(e.confidence, w.cap) >= $2::real AND ($5::text IS NULL OR e.provenance = $5::text)
GROUP BY e.kind ORDER BY e.kind"""
# Symbols whose uses are uses of another, as tsserver counts them for JavaScript and TypeScript:
# the methods a method overrides (a call through the base may run the override: at most
# CONF_UNIQUE sure; a constructor overrides none), found up the inherits edges; and a class's
# calls (`new C()`) for its one constructor. rustc and javac count neither (measured: Rust's
# references precision .95 -> .91).
_STAND_INS = f"""
WITH RECURSIVE up(cls, name, start, depth) AS (
  SELECT s.parent_id, s.name, s.id, 0 FROM symbols s JOIN files f ON f.id = s.file_id
  WHERE s.id = ANY($1::bigint[]) AND s.kind = 'method' AND s.name <> 'constructor' AND s.parent_id IS NOT NULL
    AND f.language = ANY('{{{_JS_FAMILY}}}'::text[])
  UNION
  SELECT e.target_id, up.name, up.start, up.depth + 1 FROM up
  JOIN edges e ON e.source_id = up.cls AND e.kind = 'inherits' AND e.target_id IS NOT NULL
  WHERE up.depth < {_MAX_BASES}
)
SELECT DISTINCT m.id, up.start, '' AS edge_kind, {CONF_UNIQUE}::real AS cap FROM up
JOIN symbols m ON m.parent_id = up.cls AND m.name = up.name AND m.kind = 'method'
WHERE up.depth > 0
UNION
SELECT c.parent_id, c.id, 'calls', 1.0::real FROM symbols c JOIN files f ON f.id = c.file_id
WHERE c.id = ANY($1::bigint[]) AND c.parent_id IS NOT NULL AND c.kind = 'method' AND c.name = 'constructor'
  AND f.language = ANY('{{{_JS_FAMILY}}}'::text[])
  AND (SELECT count(*) FROM symbols o WHERE o.parent_id = c.parent_id AND o.kind = c.kind AND o.name = c.name) = 1"""
# A class or module changes with its members: the walk starts from all of them.
_DESCENDANTS = """
WITH RECURSIVE d(id, path) AS (
  SELECT id, ARRAY[id] FROM symbols WHERE id = ANY($1::bigint[])
  UNION ALL
  SELECT s.id, d.path || s.id FROM symbols s JOIN d ON s.parent_id = d.id
  WHERE s.id <> ALL(d.path) AND cardinality(d.path) < 64
)
SELECT DISTINCT id FROM d"""
_FILE_SYMBOLS = "SELECT id FROM symbols WHERE file_id = $1"
_MAX_BASE_HOPS = 8
_MAX_MACRO_HOPS = 4
_MACROS_CALLING = """
SELECT DISTINCT e.source_id AS id FROM edges e JOIN symbols s ON s.id = e.source_id
WHERE e.target_id = ANY($1::bigint[]) AND e.kind = 'calls' AND s.kind = 'macro'"""
_BASES_OF = """
SELECT DISTINCT b.qualified_name AS base FROM symbols s
JOIN edges e ON e.source_id = s.id AND e.kind = 'inherits' JOIN symbols b ON b.id = e.target_id
WHERE s.repository_id = $1 AND s.qualified_name = ANY($2::text[])"""
_METHODS_NAMED = """
SELECT id FROM symbols WHERE repository_id = $1 AND qualified_name = ANY($2::text[]) AND kind = 'method'"""
_FILE_MODULE = f"""
SELECT {SYMBOL_COLUMNS} FROM {SYMBOL_FROM}
WHERE s.file_id = $1 AND s.parent_id IS NULL AND s.kind = 'module' ORDER BY s.id LIMIT 1"""
_MODULE_FILES = """
SELECT s.file_id, r.name AS repository FROM symbols s JOIN repositories r ON r.id = s.repository_id
WHERE s.repository_id = ANY($1::int[]) AND s.qualified_name = $2 AND s.kind = 'module'"""
_FILE_BY_ID = """
SELECT f.id, f.repository_id, r.name AS repository, f.path, f.language, f.line_count
FROM files f JOIN repositories r ON r.id = f.repository_id WHERE f.id = $1"""
_IMPORTS_OF_FILE = """
SELECT e.line, e.target_name, e.alias, e.confidence, e.target_id, s.qualified_name AS source, f.path
FROM edges e JOIN symbols s ON s.id = e.source_id JOIN files f ON f.id = e.file_id
WHERE e.file_id = $1 AND e.kind = 'imports' ORDER BY e.line, e.id LIMIT $2"""
_IMPORTERS_OF_FILE = """
SELECT e.line, e.target_name, e.alias, e.confidence, e.target_id, s.qualified_name AS source, f.path
FROM symbols t JOIN edges e ON e.target_id = t.id AND e.kind = 'imports'
JOIN symbols s ON s.id = e.source_id JOIN files f ON f.id = e.file_id
WHERE t.file_id = $1 AND e.file_id <> $1 ORDER BY f.path, e.line, e.id LIMIT $2"""


@dataclass(slots=True)
class _Walk:
    depth: dict[int, int]
    # (source, target) -> (line, confidence, kind, provenance): the surest edge between the two
    edges: dict[tuple[int, int], tuple[int, float, str, str]] = field(default_factory=dict)
    # node -> (neighbour it was reached from, line, confidence, kind)
    reached_by: dict[int, tuple[int, int, float, str]] = field(default_factory=dict)
    truncated: bool = False


# Methods a call may reach a method through (dynamic dispatch): for a method, the same-named
# methods of the interfaces its type implements (inherits edges to interfaces, Go's derived
# ones too: records.IMPLEMENTS); for an interface's method, those of the types implementing it.
_DISPATCH = """
WITH RECURSIVE m AS (
  SELECT s.id, s.name, s.repository_id, o.id AS owner, o.kind = 'interface' AS abstract
  FROM symbols s JOIN files f ON f.id = s.file_id JOIN symbols o ON o.repository_id = s.repository_id
   AND o.qualified_name = left(s.qualified_name, length(s.qualified_name) - length(s.name) - 1)
  WHERE s.id = ANY($1::bigint[]) AND s.kind = 'method' AND f.language = ANY($2::text[])
    AND o.kind = ANY($3::text[])
), up(start, name, repository_id, type_id, depth) AS (
  SELECT m.id, m.name, m.repository_id, m.owner, 0 FROM m
  UNION
  SELECT up.start, up.name, up.repository_id, e.target_id, up.depth + 1
  FROM up JOIN edges e ON e.source_id = up.type_id AND e.kind = 'inherits'
  JOIN symbols t ON t.id = e.target_id AND t.kind = 'interface'
  WHERE up.depth < $4
), down(start, name, repository_id, type_id, depth) AS (
  SELECT m.id, m.name, m.repository_id, m.owner, 0 FROM m WHERE m.abstract
  UNION
  SELECT down.start, down.name, down.repository_id, e.source_id, down.depth + 1
  FROM down JOIN edges e ON e.target_id = down.type_id AND e.kind = 'inherits'
  WHERE down.depth < $4
)
SELECT DISTINCT r.id, x.start FROM (SELECT * FROM up UNION ALL SELECT * FROM down) x
JOIN symbols ty ON ty.id = x.type_id
JOIN symbols r ON r.repository_id = x.repository_id AND r.qualified_name = ty.qualified_name || '.' || x.name
WHERE x.depth > 0 AND r.kind = 'method' AND r.id <> ALL($1::bigint[])"""
# Where the language's own server counts calls through an interface as the implementing
# method's (and the implementations' calls as the interface method's): gopls, intelephense.
# javac names only the method a call is written against. A base class is no interface here: in
# PHP, counting a base method's calls for its overrides took monolog's references precision from
# .98 to .64 against intelephense.
_DISPATCH_LANGUAGES = ["go", "php"]
_DISPATCH_DEPTH = 4
_TYPE_KINDS = ["class", "interface", "struct", "type", "trait", "enum"]


@dataclass(slots=True)
class _Targets:
    """Symbols asked about and their stand-ins (_STAND_INS), as the columns the queries unnest."""

    ids: list[int]
    stands_for: list[int]
    only: list[str | None]
    cap: list[float]


async def _targets(conn: Conn, ids: list[int]) -> _Targets:
    asked = set(ids)
    rows: list[Any] = [r for r in await conn.fetch(_STAND_INS, ids) if r["id"] not in asked]
    # Calls through an interface may run another implementation: at most CONF_SCOPED sure.
    rows += [
        {"id": r["id"], "start": r["start"], "edge_kind": "", "cap": CONF_SCOPED}
        for r in await conn.fetch(_DISPATCH, ids, _DISPATCH_LANGUAGES, _TYPE_KINDS, _DISPATCH_DEPTH)
    ]
    return _Targets(
        [*ids, *(r["id"] for r in rows)],
        [*ids, *(r["start"] for r in rows)],
        [*(None for _ in ids), *(r["edge_kind"] for r in rows)],
        [*(1.0 for _ in ids), *(r["cap"] for r in rows)],
    )


async def _step(
    conn: Conn, frontier: list[int], incoming: bool, kinds: list[str], min_conf: float, provenance: str | None
) -> list[Any]:
    if not incoming:
        return list(await conn.fetch(_STEP_OUT, frontier, kinds, min_conf, provenance))
    t = await _targets(conn, frontier)
    return list(await conn.fetch(_STEP_IN, t.ids, kinds, min_conf, t.stands_for, t.only, t.cap, provenance))


async def _walk(
    conn: Conn,
    start: list[int],
    incoming: bool,
    kinds: list[str],
    depth: int,
    min_conf: float,
    limit: int,
    provenance: str | None = None,
) -> _Walk:
    """Breadth-first over edges of `kinds`, against (incoming) or along their direction."""
    walk = _Walk(depth={node: 0 for node in start})
    frontier = list(start)
    for level in range(1, depth + 1):
        if not frontier:
            break
        found: list[int] = []
        for r in await _step(conn, frontier, incoming, kinds, min_conf, provenance):
            here, there = (r["target_id"], r["source_id"]) if incoming else (r["source_id"], r["target_id"])
            if there not in walk.depth:
                if len(walk.depth) - len(start) >= limit:
                    walk.truncated = True
                    continue
                walk.depth[there] = level
                walk.reached_by[there] = (here, r["line"], r["confidence"], r["kind"])
                found.append(there)
            key = (r["source_id"], r["target_id"])
            if key not in walk.edges:  # rows come surest first
                walk.edges[key] = (r["line"], r["confidence"], r["kind"], r["provenance"])
        frontier = found
    return walk


def _edge(source: SymbolRef, target: SymbolRef, line: int, confidence: float, kind: str, provenance: str) -> GraphEdge:
    return GraphEdge(
        source_id=source.id,
        source=source.qualified_name,
        target_id=target.id,
        target=target.qualified_name,
        kind=kind,
        path=source.path,
        line=line,
        confidence=round_conf(confidence),
        provenance=provenance,
    )


async def find_references(
    conn: Conn,
    symbol: str,
    repository: str | None = None,
    min_confidence: float = 0.0,
    limit: int = 200,
    provenance: str | None = None,
) -> EdgeList:
    """Every site that calls, mentions, imports or subclasses the symbol, with its source line."""
    min_conf = check_confidence(min_confidence)
    only = check_provenance(provenance)
    limit = check_int("limit", limit, 1, MAX_LIMIT)
    target = await resolve(conn, symbol, repository)
    ids = target.ids + await _overridden(conn, target.ref, target.repository_id)
    ids += await _through_macros(conn, ids)
    t = await _targets(conn, ids)
    rows = await conn.fetch(_REFERENCES, t.ids, min_conf, limit + 1, t.only, t.cap, only)
    counts = {r["kind"]: r["n"] for r in await conn.fetch(_REFERENCE_COUNTS, t.ids, min_conf, t.only, t.cap, only)}
    refs = [
        Reference(
            **{**dict(r), "confidence": round_conf(r["confidence"]), "snippet": r["snippet"].strip()[:_SNIPPET_CHARS]}
        )
        for r in rows[:limit]
    ]
    return EdgeList(symbol=target.ref, references=refs, counts=counts, truncated=len(rows) > limit)


async def _overridden(conn: Conn, ref: SymbolRef, repository_id: int) -> list[int]:
    """The methods a C++ method overrides: a call through a base (`env->NewFile()` on an `Env*`)
    may run the override, so the base's call sites are the override's references too."""
    if ref.kind != "method" or language_for(ref.path) not in ("c", "cpp") or "::" not in ref.qualified_name:
        return []
    cls, _, name = ref.qualified_name.rpartition("::")
    seen = {cls}
    frontier, found = [cls], []
    for _ in range(_MAX_BASE_HOPS):
        bases = [r["base"] for r in await conn.fetch(_BASES_OF, repository_id, frontier) if r["base"] not in seen]
        if not bases:
            break
        seen.update(bases)
        members = [f"{b}::{name}" for b in bases]
        found += [r["id"] for r in await conn.fetch(_METHODS_NAMED, repository_id, members)]
        frontier = bases
    return found


async def _through_macros(conn: Conn, ids: list[int]) -> list[int]:
    """The function-like macros whose bodies call these (through other macros too): a use of
    `lua_remove(L, i)` calls lua_rotate, so it is a reference to it and its function a caller."""
    found: list[int] = []
    frontier = ids
    for _ in range(_MAX_MACRO_HOPS):
        seen = set(ids) | set(found)
        frontier = [r["id"] for r in await conn.fetch(_MACROS_CALLING, frontier) if r["id"] not in seen]
        if not frontier:
            break
        found += frontier
    return found


async def find_callers(
    conn: Conn,
    symbol: str,
    repository: str | None = None,
    depth: int = 1,
    min_confidence: float = 0.0,
    limit: int = 200,
    provenance: str | None = None,
) -> GraphResult:
    """Who calls the symbol, and who calls those, up to `depth` calls away."""
    return await _calls(conn, symbol, repository, depth, min_confidence, limit, incoming=True, provenance=provenance)


async def find_callees(
    conn: Conn,
    symbol: str,
    repository: str | None = None,
    depth: int = 1,
    min_confidence: float = 0.0,
    limit: int = 200,
    provenance: str | None = None,
) -> GraphResult:
    """What the symbol calls, transitively up to `depth`; its unresolved calls (libraries) listed apart."""
    return await _calls(conn, symbol, repository, depth, min_confidence, limit, incoming=False, provenance=provenance)


async def _calls(
    conn: Conn,
    symbol: str,
    repository: str | None,
    depth: int,
    min_confidence: float,
    limit: int,
    incoming: bool,
    provenance: str | None = None,
) -> GraphResult:
    depth = check_int("depth", depth, 1, MAX_DEPTH)
    min_conf = check_confidence(min_confidence)
    only = check_provenance(provenance)
    limit = check_int("limit", limit, 1, MAX_LIMIT)
    root = await resolve(conn, symbol, repository)
    macros = await _through_macros(conn, root.ids) if incoming else []
    walk = await _walk(conn, root.ids + macros, incoming, _CALLS, depth, min_conf, limit, only)
    for m in macros:  # their users are the callers; the macros themselves are no call sites
        walk.depth.pop(m, None)
    refs = await symbols_by_id(conn, walk.depth)
    nodes = sorted(
        (GraphNode(**refs[n].model_dump(), depth=d) for n, d in walk.depth.items() if n in refs),
        key=lambda g: (g.depth, g.path, g.start_line, g.id),
    )
    edges = [
        _edge(refs[s], refs[t], line, conf, kind, made_by)
        for (s, t), (line, conf, kind, made_by) in walk.edges.items()
        if s in refs and t in refs
    ]
    edges.sort(key=lambda e: (walk.depth[e.target_id if incoming else e.source_id], e.path, e.line))
    unresolved: list[UnresolvedCall] = []
    truncated = walk.truncated
    if not incoming:
        rows = await conn.fetch(_UNRESOLVED_CALLS, root.ids, limit + 1)
        unresolved = [UnresolvedCall(**dict(r)) for r in rows[:limit]]
        truncated = truncated or len(rows) > limit
    return GraphResult(
        root=root.ref,
        direction="callers" if incoming else "callees",
        depth=depth,
        nodes=nodes,
        edges=edges,
        unresolved=unresolved,
        truncated=truncated,
    )


async def call_path(
    conn: Conn,
    source: str,
    target: str,
    repository: str | None = None,
    max_depth: int = 6,
    min_confidence: float = 0.0,
    provenance: str | None = None,
) -> PathResult:
    """Up to three shortest call chains from `source` to `target` (bidirectional breadth-first search)."""
    max_depth = check_int("max_depth", max_depth, 1, MAX_DEPTH)
    min_conf = check_confidence(min_confidence)
    only = check_provenance(provenance)
    src = await resolve(conn, source, repository)
    dst = await resolve(conn, target, repository)
    if src.repository_id != dst.repository_id:
        return PathResult(
            source=src.ref,
            target=dst.ref,
            paths=[],
            note="source and target are in different repositories; calls never cross them",
        )
    if set(src.ids) & set(dst.ids):
        return PathResult(source=src.ref, target=dst.ref, paths=[], note="source and target are the same symbol")
    chains, hops = await _shortest(conn, src.ids, dst.ids, max_depth, min_conf, only)
    refs = await symbols_by_id(conn, {n for chain in chains for n in chain})
    paths: list[CallPath] = []
    for chain in chains:
        if not all(n in refs for n in chain):
            continue  # a file on the chain was re-indexed between the two queries: its symbols have new ids
        steps = [_edge(refs[a], refs[b], *hops[(a, b)]) for a, b in itertools.pairwise(chain)]
        paths.append(
            CallPath(
                length=len(steps),
                confidence=min(s.confidence for s in steps),
                nodes=[refs[n] for n in chain],
                edges=steps,
            )
        )
    paths.sort(key=lambda p: -p.confidence)
    note = None
    if not paths:
        weak = f" with confidence >= {min_conf}" if min_conf > 0 else ""
        note = (
            f"no chain of at most {max_depth} resolved calls{weak} leads from {src.ref.qualified_name} to "
            f"{dst.ref.qualified_name}; calls through unresolved names (callbacks, dynamic dispatch, "
            "libraries) are not in the graph"
        )
    return PathResult(source=src.ref, target=dst.ref, paths=paths, note=note)


async def _shortest(
    conn: Conn, sources: list[int], targets: list[int], max_depth: int, min_conf: float, provenance: str | None
) -> tuple[list[list[int]], dict[tuple[int, int], tuple[int, float, str, str]]]:
    """Shortest chains as node lists, growing the smaller frontier each round (one query per round)."""
    dist = ({n: 0 for n in sources}, {n: 0 for n in targets})  # forward, backward
    links: tuple[dict[int, list[int]], dict[int, list[int]]] = (defaultdict(list), defaultdict(list))
    frontier = (list(sources), list(targets))
    levels = [0, 0]
    hops: dict[tuple[int, int], tuple[int, float, str, str]] = {}
    meets: list[int] = []
    while frontier[0] and frontier[1] and levels[0] + levels[1] < max_depth and not meets:
        side = 0 if len(frontier[0]) <= len(frontier[1]) else 1
        levels[side] += 1
        found: list[int] = []
        rows = await _step(conn, frontier[side], side == 1, _CALLS, min_conf, provenance)
        for r in rows:
            here, there = (r["source_id"], r["target_id"]) if side == 0 else (r["target_id"], r["source_id"])
            hops.setdefault((r["source_id"], r["target_id"]), (r["line"], r["confidence"], r["kind"], r["provenance"]))
            if there not in dist[side]:
                dist[side][there] = levels[side]
                found.append(there)
            if dist[side][there] == levels[side] and here not in links[side][there]:
                links[side][there].append(here)  # a predecessor on a shortest route
        frontier = (found, frontier[1]) if side == 0 else (frontier[0], found)
        meets = [n for n in found if n in dist[1 - side]]
    if not meets:
        return [], hops
    best = min(dist[0][m] + dist[1][m] for m in meets)

    def routes(node: int, side: int) -> Iterator[list[int]]:
        if dist[side][node] == 0:
            yield [node]
            return
        for prev in links[side][node]:
            for route in routes(prev, side):
                yield route + [node]

    chains = (
        fwd + list(reversed(bwd))[1:]
        for m in meets
        if dist[0][m] + dist[1][m] == best
        for fwd in routes(m, 0)
        for bwd in routes(m, 1)
    )
    return list(itertools.islice(chains, MAX_PATHS)), hops


async def impact_analysis(
    conn: Conn,
    symbol: str | None = None,
    path: str | None = None,
    repository: str | None = None,
    depth: int = 3,
    min_confidence: float = 0.5,
    limit: int = 500,
    provenance: str | None = None,
) -> ImpactResult:
    """What depends on a symbol (or on anything in a file), transitively, with tests flagged."""
    if (symbol is None) == (path is None):
        raise InvalidArgument("pass either symbol or path (a file), not both and not neither")
    depth = check_int("depth", depth, 1, MAX_DEPTH)
    min_conf = check_confidence(min_confidence)
    only = check_provenance(provenance)
    limit = check_int("limit", limit, 1, MAX_LIMIT)
    if symbol is not None:
        resolved = await resolve(conn, symbol, repository)
        start = [r["id"] for r in await conn.fetch(_DESCENDANTS, resolved.ids)]
        targets, repo = [resolved.ref], resolved.ref.repository
    else:
        file = await resolve_file(conn, path or "", repository)
        start = [r["id"] for r in await conn.fetch(_FILE_SYMBOLS, file.id)]
        module = await conn.fetchrow(_FILE_MODULE, file.id)
        targets, repo = ([symbol_ref(module)] if module else []), file.repository
    walk = await _walk(conn, start, True, _DEPENDENCY_KINDS, depth, min_conf, limit, only)
    refs = await symbols_by_id(conn, walk.depth)
    dependents: list[Dependent] = []
    for node, (used, line, _conf, kind) in walk.reached_by.items():
        if node in refs and used in refs:
            ref = refs[node]
            dependents.append(
                Dependent(
                    **ref.model_dump(),
                    distance=walk.depth[node],
                    via=kind,
                    depends_on=refs[used].qualified_name,
                    line=line,
                    is_test=is_test_path(ref.path),
                )
            )
    dependents.sort(key=lambda d: (d.distance, d.path, d.line, d.id))
    per_file: dict[str, list[Dependent]] = defaultdict(list)
    for d in dependents:
        per_file[d.path].append(d)
    files = sorted(
        (
            ImpactFile(path=p, dependents=len(ds), distance=min(d.distance for d in ds), is_test=ds[0].is_test)
            for p, ds in per_file.items()
        ),
        key=lambda f: (f.distance, f.path),
    )
    summary = ImpactSummary(
        dependents=len(dependents),
        files=len(files),
        tests=sum(d.is_test for d in dependents),
        test_files=sum(f.is_test for f in files),
    )
    return ImpactResult(
        repository=repo, targets=targets, dependents=dependents, files=files, summary=summary, truncated=walk.truncated
    )


async def get_dependencies(
    conn: Conn, path_or_module: str, repository: str | None = None, limit: int = 500
) -> DependencyResult:
    """What a file (or module) imports: indexed targets with their files, then external names."""
    return await _imports(conn, path_or_module, repository, limit, dependents=False)


async def get_dependents(
    conn: Conn, path_or_module: str, repository: str | None = None, limit: int = 500
) -> DependencyResult:
    """Which files import a file (or module), or anything defined in it, and on which lines."""
    return await _imports(conn, path_or_module, repository, limit, dependents=True)


async def _imports(
    conn: Conn, path_or_module: str, repository: str | None, limit: int, dependents: bool
) -> DependencyResult:
    limit = check_int("limit", limit, 1, MAX_LIMIT)
    file = await _module_file(conn, path_or_module, repository)
    module = await conn.fetchrow(_FILE_MODULE, file.id)
    rows = await conn.fetch(_IMPORTERS_OF_FILE if dependents else _IMPORTS_OF_FILE, file.id, limit + 1)
    targets = await symbols_by_id(conn, {r["target_id"] for r in rows[:limit] if r["target_id"] is not None})
    resolved: list[ImportItem] = []
    external: list[ImportItem] = []
    for r in rows[:limit]:
        target = targets.get(r["target_id"]) if r["target_id"] is not None else None
        item = ImportItem(
            path=r["path"],
            line=r["line"],
            source=r["source"],
            target_name=r["target_name"],
            alias=r["alias"],
            target=target,
            confidence=round_conf(r["confidence"]),
        )
        (resolved if target is not None else external).append(item)
    others = [i.path for i in resolved] if dependents else [i.target.path for i in resolved if i.target]
    return DependencyResult(
        repository=file.repository,
        path=file.path,
        module=module["qualified_name"] if module else None,
        direction="dependents" if dependents else "dependencies",
        imports=resolved,
        external=external,
        files=[p for p in dict.fromkeys(others) if p != file.path],
        truncated=len(rows) > limit,
    )


async def _module_file(conn: Conn, path_or_module: str, repository: str | None) -> FileRef:
    """The file named by a repo-relative path, or the file of a module's qualified name."""
    text = check_text("path_or_module", path_or_module, MAX_PATH)
    try:
        return await resolve_file(conn, text, repository)
    except InvalidArgument as not_a_file:
        if "/" in text or "\\" in text:
            raise
        rows = await conn.fetch(_MODULE_FILES, await scope(conn, repository), text)
        if len(rows) > 1:
            names = ", ".join(sorted(r["repository"] for r in rows))
            raise InvalidArgument(f"module {text} exists in several repositories ({names}); pass repository") from None
        if not rows:
            raise InvalidArgument(f"{text} is neither an indexed file nor a module name: {not_a_file}") from None
    r = await conn.fetchrow(_FILE_BY_ID, rows[0]["file_id"])
    return FileRef(r["id"], r["repository_id"], r["repository"], r["path"], r["language"], r["line_count"])
