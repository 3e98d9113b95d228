"""Resolve edges' written names to symbol ids: parser candidates, re-exports, inheritance, then names."""

from __future__ import annotations

import builtins
from collections import defaultdict
from dataclasses import dataclass, field
from posixpath import commonprefix

import asyncpg

from ..index.records import CONF_GUESS, CONF_SAME_FILE, CONF_SCOPED, CONF_UNIQUE

_MAX_HOPS = 6
_PY_BUILTINS = frozenset(dir(builtins))
_FAMILY = {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}
# Which symbol kinds a bare-name fallback may land on, per edge kind. Imports never guess.
_FALLBACK_KINDS: dict[str, frozenset[str]] = {
    "calls": frozenset({"function", "method", "class", "constructor", "struct"}),
    "inherits": frozenset({"class", "interface", "trait", "struct", "module"}),
    "references": frozenset({"class", "interface", "struct", "enum", "trait", "type", "union",
                             "function", "method", "constant"}),
}


@dataclass(slots=True)
class _Sym:
    id: int
    kind: str
    qname: str
    file_id: int
    path: str
    family: str


@dataclass(slots=True)
class _Tables:
    by_qname: dict[str, _Sym] = field(default_factory=dict)
    by_name: dict[str, list[_Sym]] = field(default_factory=lambda: defaultdict(list))
    bindings: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # module -> alias -> targets
    bases: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # class qname -> base qnames


async def resolve_edges(
    conn: asyncpg.Connection,
    repository_id: int,
    file_ids: list[int] | None = None,
    names: set[str] | None = None,
) -> int:
    """Resolve the repository's edges (all of them, or those of `file_ids` plus those whose last name
    segment is in `names`); returns how many edges were (re)examined."""
    tables = await _load_tables(conn, repository_id)
    if file_ids is None and names is None:
        rows = await conn.fetch(_EDGES_ALL, repository_id)
    else:
        rows = await conn.fetch(_EDGES_SOME, repository_id, file_ids or [], sorted(names or ()))
    # Base classes first: method lookups through inheritance need them.
    rows = sorted(rows, key=lambda r: r["kind"] != "inherits")
    ids: list[int] = []
    targets: list[int | None] = []
    confs: list[float] = []
    for row in rows:
        hit = _resolve_one(tables, row)
        if row["kind"] == "inherits" and hit is not None:
            source = row["source_qname"]
            if hit[0].qname not in tables.bases[source]:
                tables.bases[source].append(hit[0].qname)
        ids.append(row["id"])
        targets.append(hit[0].id if hit else None)
        confs.append(hit[1] if hit else 0.0)
    if ids:
        await conn.execute(
            "UPDATE edges e SET target_id = v.t, confidence = v.c"
            " FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS v(id, t, c) WHERE e.id = v.id",
            ids, targets, confs,
        )
    return len(ids)


_EDGE_FIELDS = """
SELECT e.id, e.kind, e.target_name, e.target_simple, e.candidates, e.candidate_conf, e.file_id,
       src.qualified_name AS source_qname, f.path, f.language
FROM edges e JOIN symbols src ON src.id = e.source_id JOIN files f ON f.id = e.file_id
"""
_EDGES_ALL = _EDGE_FIELDS + " WHERE e.repository_id = $1 AND e.kind <> 'contains'"
_EDGES_SOME = _EDGE_FIELDS + """ WHERE e.repository_id = $1 AND e.kind <> 'contains'
  AND (e.file_id = ANY($2::bigint[]) OR e.target_simple = ANY($3::text[]))"""


async def _load_tables(conn: asyncpg.Connection, repository_id: int) -> _Tables:
    t = _Tables()
    for r in await conn.fetch(
        "SELECT s.id, s.kind, s.name, s.qualified_name, s.file_id, f.path, f.language"
        " FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.repository_id = $1 ORDER BY s.id",
        repository_id,
    ):
        sym = _Sym(r["id"], r["kind"], r["qualified_name"], r["file_id"], r["path"],
                   _FAMILY.get(r["language"], r["language"]))
        t.by_qname.setdefault(sym.qname, sym)
        if sym.kind != "module":
            t.by_name[r["name"]].append(sym)
    # Module-level imports: what each module re-exports under which local name.
    for r in await conn.fetch(
        "SELECT src.qualified_name AS module, e.alias, e.candidates, e.target_name FROM edges e"
        " JOIN symbols src ON src.id = e.source_id"
        " WHERE e.repository_id = $1 AND e.kind = 'imports' AND src.kind = 'module'",
        repository_id,
    ):
        if not r["candidates"]:
            continue
        target = r["candidates"][0]
        alias = r["alias"]
        if alias is None:
            # `from m import *`: the candidate names the module itself (or ends in ".*").
            if r["target_name"].endswith("*"):
                star = target[:-2] if target.endswith(".*") else target
                t.bindings.setdefault(r["module"], {}).setdefault("*", []).append(star)
            continue
        first = target.split(".", 1)[0]
        # `import a.b` binds `a` to package a, not to a.b.
        bound = first if (alias == first and "." in target and target.rsplit(".", 1)[-1] != alias) else target
        t.bindings.setdefault(r["module"], {}).setdefault(alias, []).append(bound)
    for r in await conn.fetch(
        "SELECT src.qualified_name AS cls, tgt.qualified_name AS base FROM edges e"
        " JOIN symbols src ON src.id = e.source_id JOIN symbols tgt ON tgt.id = e.target_id"
        " WHERE e.repository_id = $1 AND e.kind = 'inherits'",
        repository_id,
    ):
        t.bases[r["cls"]].append(r["base"])
    return t


def _resolve_one(t: _Tables, row: asyncpg.Record) -> tuple[_Sym, float] | None:
    candidates: list[str] = row["candidates"] or []
    confs: list[float] = row["candidate_conf"] or []
    for qname, conf in zip(candidates, confs):
        found = _lookup(t, qname, 0, frozenset())
        if found is not None:
            sym, scoped = found
            return sym, min(conf, CONF_SCOPED) if scoped else conf
    if candidates:
        # The parser knew what the name is bound to and it is not in this repository
        # (a library, the standard library): guessing by name would only invent edges.
        return None
    return _fallback(t, row)


def _lookup(t: _Tables, qname: str, hops: int, seen: frozenset[str]) -> tuple[_Sym, bool] | None:
    """Find `qname`, following re-exports (`pkg.X` -> `pkg.mod.X`) and base classes (`C.m` -> `Base.m`).
    The flag says whether inheritance was needed."""
    sym = t.by_qname.get(qname)
    if sym is not None:
        return sym, False
    if hops >= _MAX_HOPS or qname in seen or "." not in qname:
        return None
    seen = seen | {qname}
    parts = qname.split(".")
    for i in range(len(parts) - 1, 0, -1):
        prefix, rest = ".".join(parts[:i]), parts[i:]
        module_bindings = t.bindings.get(prefix)
        if module_bindings:
            tail = ".".join(rest[1:])
            for target in module_bindings.get(rest[0], ()):
                found = _lookup(t, f"{target}.{tail}" if tail else target, hops + 1, seen)
                if found:
                    return found
            for star in module_bindings.get("*", ()):
                found = _lookup(t, f"{star}.{'.'.join(rest)}", hops + 1, seen)
                if found:
                    return found
        if len(rest) == 1 and prefix in t.bases:
            for base in t.bases[prefix]:
                found = _lookup(t, f"{base}.{rest[0]}", hops + 1, seen)
                if found:
                    return found[0], True
        if prefix in t.by_qname:
            break  # a real symbol: shorter prefixes cannot re-export what it lacks
    return None


def _fallback(t: _Tables, row: asyncpg.Record) -> tuple[_Sym, float] | None:
    kinds = _FALLBACK_KINDS.get(row["kind"])
    name = row["target_simple"]
    family = _FAMILY.get(row["language"], row["language"])
    if kinds is None:
        return None
    if family == "python" and (name in _PY_BUILTINS or "." not in row["target_name"]):
        # A bare Python name the parser could not bind is a builtin, a parameter or a local
        # (it sees every binding in the file): only unknown receivers (`x.m()`) are worth a guess.
        return None
    options = [s for s in t.by_name.get(name, ()) if s.kind in kinds and s.family == family]
    if not options:
        return None
    same_file = [s for s in options if s.file_id == row["file_id"]]
    if same_file:
        return same_file[0], CONF_SAME_FILE
    if len(options) == 1:
        return options[0], CONF_UNIQUE
    path = row["path"]
    nearest = max(options, key=lambda s: len(commonprefix([s.path, path])))
    return nearest, CONF_GUESS
