"""Go's structural `implements`: each named type whose method set covers an interface's, stored as an inherits edge."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import asyncpg

from ..index.records import CONF_SCOPED, IMPLEMENTS

# Go has no `implements` clause: the relation is derived from the repository's method sets after
# every resolution, and written as inherits edges (alias records.IMPLEMENTS) from the type to the
# interface, the edge Java and TypeScript record for `implements`. Parsed edges never carry that
# alias, so these are exactly the derived ones.
_TYPES = """
SELECT s.id, s.kind, s.name, s.qualified_name, s.file_id, s.start_line
FROM symbols s JOIN files f ON f.id = s.file_id
WHERE s.repository_id = $1 AND f.language = 'go' AND s.kind IN ('struct', 'type', 'interface')
ORDER BY s.id"""
_METHODS = """
SELECT s.name, s.qualified_name, s.signature, p.kind = 'interface' AS abstract
FROM symbols s JOIN files f ON f.id = s.file_id LEFT JOIN symbols p ON p.id = s.parent_id
WHERE s.repository_id = $1 AND f.language = 'go' AND s.kind = 'method'"""
# Embedded types (struct fields without a name, interfaces listed in an interface).
_EMBEDS = f"""
SELECT e.source_id, e.target_id, e.target_name FROM edges e JOIN files f ON f.id = e.file_id
WHERE e.repository_id = $1 AND f.language = 'go' AND e.kind = 'inherits'
  AND e.alias IS DISTINCT FROM '{IMPLEMENTS}'"""
_HAS_GO = "SELECT EXISTS (SELECT 1 FROM files WHERE repository_id = $1 AND language = 'go')"
# Those of the types: a derived edge's source is a Go type (deleted with it).
_DERIVED = f"""
SELECT id, source_id, target_id FROM edges
WHERE source_id = ANY($1::bigint[]) AND kind = 'inherits' AND alias = '{IMPLEMENTS}'"""
_INSERT = f"""
INSERT INTO edges (repository_id, file_id, source_id, target_id, kind, target_name, target_simple, alias,
                   line, confidence)
SELECT $1, v.file_id, v.source_id, v.target_id, 'inherits', v.name, v.simple, '{IMPLEMENTS}', v.line, $2::real
FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::int[])
  AS v(file_id, source_id, target_id, name, simple, line)"""
_MAX_EMBEDDING = 8  # levels of embedding followed for promoted methods
# The standard library's interfaces repositories embed most, by the name written: an interface
# embedding any other from outside the repository has a method set not known here.
_STANDARD: dict[str, tuple[str, ...]] = {
    "io.Reader": ("Read",),
    "io.Writer": ("Write",),
    "io.Closer": ("Close",),
    "io.ReadWriter": ("Read", "Write"),
    "io.ReadCloser": ("Read", "Close"),
    "io.WriteCloser": ("Write", "Close"),
    "io.ReadWriteCloser": ("Read", "Write", "Close"),
    "io.StringWriter": ("WriteString",),
    "fmt.Stringer": ("String",),
    "http.Handler": ("ServeHTTP",),
    "http.ResponseWriter": ("Header", "Write", "WriteHeader"),
    "http.Flusher": ("Flush",),
    "sort.Interface": ("Len", "Less", "Swap"),
}
Shape = tuple[tuple[str, ...], tuple[str, ...]]


@dataclass(slots=True)
class _Type:
    id: int
    kind: str
    name: str
    qname: str
    file_id: int
    line: int
    methods: dict[str, Shape | None] = field(default_factory=dict)  # name -> shape
    embeds: list[int] = field(default_factory=list)
    # an embedded type outside the repository (an interface's: its method set is not known)
    open: bool = False


async def derive_implements(conn: asyncpg.Connection, repository_id: int) -> int:
    """Bring the repository's derived implements edges up to date; returns how many it holds."""
    if not await conn.fetchval(_HAS_GO, repository_id):
        return 0
    types = {
        r["id"]: _Type(r["id"], r["kind"], r["name"], r["qualified_name"], r["file_id"], r["start_line"])
        for r in await conn.fetch(_TYPES, repository_id)
    }
    if not any(t.kind == "interface" for t in types.values()):
        wanted: set[tuple[int, int]] = set()
    else:
        by_qname = {t.qname: t for t in types.values()}
        for r in await conn.fetch(_METHODS, repository_id):
            owner = by_qname.get(r["qualified_name"].rpartition(".")[0])
            if owner is not None and (owner.kind == "interface") == bool(r["abstract"]):
                owner.methods[r["name"]] = shape(r["signature"] or "", r["name"])
        for r in await conn.fetch(_EMBEDS, repository_id):
            t = types.get(r["source_id"])
            if t is None:
                continue
            if r["target_id"] in types:
                t.embeds.append(r["target_id"])
            elif t.kind == "interface" and r["target_name"] in _STANDARD:
                t.methods.update((m, None) for m in _STANDARD[r["target_name"]])
            else:
                t.open = True
        wanted = _implements(types)
    return await _store(conn, repository_id, types, wanted)


def _implements(types: dict[int, _Type]) -> set[tuple[int, int]]:
    """(type, interface) pairs: every method of the interface (its embedded ones too) is in the
    type's method set (its own, pointer receivers included, and those promoted by embedding)
    under the same name, taking and returning the same types."""
    sets = {t.id: _method_set(types, t.id, 0, frozenset()) for t in types.values()}
    holders: dict[str, set[int]] = defaultdict(set)
    for t in types.values():
        if t.kind != "interface":
            for name in sets[t.id]:
                holders[name].add(t.id)
    pairs: set[tuple[int, int]] = set()
    for iface in types.values():
        needed = sets[iface.id]
        if iface.kind != "interface" or not needed or _is_open(types, iface.id, 0):
            continue  # `any`, or an interface that embeds one from elsewhere
        rarest = min(needed, key=lambda n: len(holders.get(n, ())))
        for tid in holders.get(rarest, ()):
            have = sets[tid]
            if all(n in have and _fits(have[n], s) for n, s in needed.items()):
                pairs.add((tid, iface.id))
    return pairs


def _method_set(types: dict[int, _Type], tid: int, depth: int, seen: frozenset[int]) -> dict[str, Shape | None]:
    t = types[tid]
    found: dict[str, Shape | None] = {}
    if depth < _MAX_EMBEDDING:
        for sub in t.embeds:
            if sub not in seen:
                for name, s in _method_set(types, sub, depth + 1, seen | {tid}).items():
                    found.setdefault(name, s)
    found.update(t.methods)  # a type's own method hides the promoted one
    return found


def _is_open(types: dict[int, _Type], tid: int, depth: int) -> bool:
    t = types[tid]
    return t.open or (depth < _MAX_EMBEDDING and any(_is_open(types, sub, depth + 1) for sub in t.embeds))


def _fits(have: Shape | None, need: Shape | None) -> bool:
    return have is None or need is None or have == need


def shape(signature: str, name: str) -> Shape | None:
    """The parameter and result types of a Go method's signature, names dropped and package
    qualifiers too (`Level` here is `zerolog.Level` elsewhere): `(dst, s []byte) []byte` is
    (("[]byte", "[]byte"), ("[]byte",)). None when it cannot tell (a signature cut short)."""
    at = signature.find(f"{name}(")
    if at < 0:
        return None
    params, rest = _group(signature[at + len(name) :])
    if params is None:
        return None
    rest = rest.strip()
    if rest.startswith("("):
        results, _ = _group(rest)
        return None if results is None else (_types(params), _types(results))
    return _types(params), _types([rest] if rest else [])


def _group(text: str) -> tuple[list[str] | None, str]:
    """The comma-separated entries of the parenthesised list `text` opens with, and what follows it."""
    depth = 0
    entries: list[str] = []
    cur: list[str] = []
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
            if depth == 1:
                continue
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                last = "".join(cur).strip()
                return ([*entries, last] if last or entries else []), text[i + 1 :]
        elif ch == "," and depth == 1:
            entries.append("".join(cur).strip())
            cur = []
            continue
        if depth >= 1:
            cur.append(ch)
    return None, ""


_NAMED = re.compile(r"^([A-Za-z_]\w*)\s+(\S.*)$")
_QUALIFIER = re.compile(r"\b[A-Za-z_]\w*\.")
_TYPE_WORDS = frozenset({"func", "chan", "map", "interface", "struct"})


def _types(entries: list[str]) -> tuple[str, ...]:
    """Each entry's type: `a, b int` lists names, then a name with the type they share."""
    named = [_NAMED.match(e) for e in entries]
    if not any(m is not None and m.group(1) not in _TYPE_WORDS for m in named):
        return tuple(_norm(e) for e in entries)
    out: list[str] = []
    pending = 0
    for m in named:
        if m is None or m.group(1) in _TYPE_WORDS:
            pending += 1  # a name whose type comes with a later entry
            continue
        out += [_norm(m.group(2))] * (pending + 1)
        pending = 0
    return tuple(out)


def _norm(text: str) -> str:
    t = _QUALIFIER.sub("", "".join(text.split()))
    return "interface{}" if t == "any" else t


async def _store(
    conn: asyncpg.Connection, repository_id: int, types: dict[int, _Type], wanted: set[tuple[int, int]]
) -> int:
    have: set[tuple[int, int]] = set()
    stale: list[int] = []
    for r in await conn.fetch(_DERIVED, sorted(types)):
        pair = (r["source_id"], r["target_id"])
        if pair in wanted and pair not in have:
            have.add(pair)
        else:
            stale.append(r["id"])  # no longer implemented, its interface gone, or a twin
    if stale:
        await conn.execute("DELETE FROM edges WHERE id = ANY($1::bigint[])", stale)
    new = sorted(wanted - have)
    if new:
        src = [types[s] for s, _ in new]
        dst = [types[t] for _, t in new]
        await conn.execute(
            _INSERT,
            repository_id,
            CONF_SCOPED,
            [t.file_id for t in src],
            [t.id for t in src],
            [t.id for t in dst],
            [t.qname for t in dst],
            [t.name for t in dst],
            [t.line for t in src],
        )
    return len(wanted)
