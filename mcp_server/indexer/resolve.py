"""Resolve edges' written names to symbol ids: parser candidates, re-exports, inheritance, then names."""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import asyncpg

from ..index.records import (
    ARG_TYPE,
    ARITY,
    CONF_SCOPED,
    CONF_UNIQUE,
    FIXTURE_CANDIDATE,
    IMPLEMENTS,
    NAME_FALLBACK,
    RETURNS_SELF,
    SLOT_TYPE,
    TYPE_ARG,
    TYPE_OF,
    TYPE_PARAM,
)
from .c_includes import Includes, load_includes
from .file_private import LANGUAGES as FILE_PRIVATE_LANGUAGES
from .file_private import is_class_private, is_file_private
from .go_implements import derive_implements
from .ruby_receivers import spells_owner
from .std_methods import STD_METHODS

_MAX_HOPS = 6
_SELF_ENTRY = f"<{RETURNS_SELF[len(TYPE_PARAM) :]}>"  # how a RETURNS_SELF edge is kept among the bases
# TypeScript chains go further: `z.string().refine().optional()` crosses two re-exports, a
# variable's value, a method's return type and a base class per call.
_FAMILY_HOPS = {"javascript": 12, "go": 48}  # Go: one hop per method of a builder chain
_PY_BUILTINS = frozenset(dir(builtins))
_PY_CONTAINER_METHODS = frozenset(
    name
    for kind in (dict, list, str, set, frozenset, bytes, bytearray, tuple, int, float)
    for name in dir(kind)
    if not name.startswith("_")
) | frozenset({"read", "write", "close", "flush", "readline", "readlines", "seek", "tell", "send", "recv"})
_PY_RECEIVER_KINDS = frozenset({"method", "constructor"})
# Methods of Rust's standard types and traits (Vec, slices, str, Option, Result, iterators, Clone,
# Into, fmt, io): on a receiver whose type the parser could not tell, these are the std methods,
# and a same-named repository method (a SmallVec's `push`, a Bytes' `len`) is a guess. The crate's
# one impl of a standard trait is no better a guess: `inner.size_hint()` on either's `ref inner` is
# the Iterator of `L` or `R`, not `Either::size_hint`.
_RUST_STD_METHODS = frozenset(
    """clone clone_from iter iter_mut into_iter push pop len is_empty unwrap expect into to_string to_owned
    as_ref as_mut get get_mut insert remove contains map and_then ok err ok_or unwrap_or unwrap_or_else
    unwrap_or_default collect next extend clear as_str as_slice as_mut_slice as_ptr as_mut_ptr borrow
    borrow_mut cmp partial_cmp eq ne lt le gt ge hash fmt from default write read write_str write_all
    write_fmt flush split join trim starts_with ends_with chars bytes lines parse find filter fold any all
    count sum min max rev zip enumerate take skip chain cloned copied first last sort sort_by sort_unstable
    dedup retain truncate reserve reserve_exact capacity drain append split_off split_at swap is_some
    is_none is_ok is_err as_bytes to_vec lock deref deref_mut drop add sub mul div rem neg not checked_add
    checked_sub checked_mul saturating_sub saturating_add wrapping_add wrapping_sub abs pow try_into
    try_from entry or_insert keys values resize fill copy_from_slice clone_from_slice extend_from_slice
    as_deref as_deref_mut replace set map_err unwrap_err expect_err offset add_assign sub_assign
    shrink_to_fit into_boxed_slice into_vec with_capacity new_in write_u8 read_exact by_ref step_by
    position to_le_bytes to_be_bytes from_le_bytes from_be_bytes leak cast is_null offset_from
    size_hint nth next_back nth_back rfold rfind try_fold try_rfold try_for_each for_each reduce min_by
    max_by min_by_key max_by_key peekable fuse inspect flat_map flatten scan take_while skip_while
    map_while partition unzip product rposition find_map filter_map from_iter
    read_to_end read_to_string read_vectored write_vectored fill_buf consume read_line read_until
    seek stream_position rewind description cause source finish poll index index_mut from_str
    get_unchecked get_unchecked_mut chunks chunks_exact windows binary_search binary_search_by
    split_first split_last reverse rotate_left rotate_right sort_unstable_by""".split()
)
_RUBY_INSTANCE = re.compile(r"\w#[^.#]+$")  # `Rack::Request#params`, not a JavaScript `Foo.#field`
_EXTENSION = re.compile(r"\(\s*this\s")  # a C# extension method's first parameter: `Where<T>( this IEnumerable<T> s`
_C_UNITS = (".c", ".cc", ".cpp", ".cxx", ".c++")  # translation units, not headers
_FAMILY = {"typescript": "javascript", "tsx": "javascript", "vue": "javascript", "svelte": "javascript", "cpp": "c"}
# Which symbol kinds a bare-name fallback may land on, per edge kind. Imports never guess.
_FALLBACK_KINDS: dict[str, frozenset[str]] = {
    "calls": frozenset({"function", "method", "class", "constructor", "struct"}),
    "inherits": frozenset({"class", "interface", "trait", "struct", "module"}),
    "references": frozenset(
        {"class", "interface", "struct", "enum", "trait", "type", "union", "function", "method", "constant"}
    ),
}


@dataclass(slots=True)
class _Sym:
    id: int
    kind: str
    qname: str
    file_id: int
    path: str
    family: str
    span: int = 0  # bytes: of a C/C++ declaration and its definition, the definition is the larger
    file_private: bool = False  # Kotlin/Swift `private`: no other file can call it (file_private.py)
    class_private: bool = False  # C# `private`: no other class can call it
    extension: bool = False  # a C# extension method: `static T M(this X x, ...)`


@dataclass(slots=True)
class _Tables:
    """The symbol table, import bindings and base classes the lookups read.

    Complete for a full resolution. For an incremental one it starts empty and is filled on
    demand: a lookup of a key not loaded yet records it as missing and sees nothing; the caller
    loads what was missing and resolves again, until a pass needs nothing new. That final pass saw
    exactly what the complete tables would have shown it, at a fraction of the cost.
    """

    complete: bool = True
    by_qname: dict[str, _Sym] = field(default_factory=dict)
    stubs: dict[str, _Sym] = field(default_factory=dict)  # Python `.pyi` definitions, by qualified name
    by_name: dict[str, list[_Sym]] = field(default_factory=dict)
    bindings: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # module -> alias -> targets
    stored_bases: dict[str, list[str]] = field(default_factory=dict)  # class qname -> base qnames, as stored
    bases: dict[str, list[str]] = field(default_factory=dict)  # stored_bases + those resolved in this pass
    # The same by the source symbol's id: two top-level modules of one name (every test folder's
    # `conftest`) share qualified names, and a pytest fixture is found by its file.
    stored_bases_by_id: dict[int, list[str]] = field(default_factory=dict)
    bases_by_id: dict[int, list[str]] = field(default_factory=dict)
    # Java methods: qualified name -> (fewest, most) arguments of each overload (records.ARITY)
    arities: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # Rust methods defined under one path more than once: `impl From<String> for Bytes` and
    # `impl From<Vec<u8>> for Bytes` both define `Bytes::from`; which one a call means is the
    # argument's type, unknown here, so lookups abstain.
    overloaded: set[str] = field(default_factory=set)
    first_param: dict[int, str] = field(default_factory=dict)  # Rust method id -> its first parameter's type
    # C++ overloads under one qualified name, each with the arguments it takes: a call picks the
    # one its number of arguments fits (`Slice(buf, n)` is `Slice(const char*, size_t)`).
    overloads: dict[str, list[tuple[_Sym, tuple[int, int]]]] = field(default_factory=dict)
    qnames_loaded: set[str] = field(default_factory=set)
    names_loaded: set[str] = field(default_factory=set)
    missing_qnames: set[str] = field(default_factory=set)
    missing_names: set[str] = field(default_factory=set)
    # (qualified name, hops left) -> what a lookup found: a barrel module's star re-exports make
    # the same failing lookups again and again (mobx: 700k for 3.5k edges). Only lookups no cycle
    # cut short are kept, so a result never depends on the path that first asked.
    memo: dict[
        tuple[str, int, int | None, str | None, str | None, str | None, str | None], tuple[_Sym, bool] | None
    ] = field(default_factory=dict)
    cuts: int = 0
    includes: Includes = field(default_factory=Includes)  # C and C++: what each file sees declared

    def start_pass(self) -> None:
        self.bases = {cls: list(bases) for cls, bases in self.stored_bases.items()}
        self.bases_by_id = {cls: list(bases) for cls, bases in self.stored_bases_by_id.items()}
        self.missing_qnames.clear()
        self.missing_names.clear()
        self.memo.clear()

    def knows(self, qname: str) -> bool:
        """Whether the symbol, bindings and bases under this qualified name are loaded (noting it if not)."""
        return self._has_qname(qname)

    def _has_qname(self, qname: str) -> bool:
        if self.complete or qname in self.qnames_loaded:
            return True
        self.missing_qnames.add(qname)
        return False

    def symbol(self, qname: str) -> _Sym | None:
        return self.by_qname.get(qname) if self._has_qname(qname) else None

    def module_bindings(self, module: str) -> dict[str, list[str]] | None:
        return self.bindings.get(module) if self._has_qname(module) else None

    def bases_of(self, cls: str) -> list[str]:
        return self.bases.get(cls, []) if self._has_qname(cls) else []

    def symbol_bases(self, sym: _Sym) -> list[str]:
        """The bases of this one symbol, not of every symbol sharing its qualified name."""
        return self.bases_by_id.get(sym.id, []) if self._has_qname(sym.qname) else []

    def add_base(self, cls: str, base: str, cls_id: int | None = None) -> None:
        if self._has_qname(cls):
            known = self.bases.setdefault(cls, [])
            if cls_id is not None:
                own = self.bases_by_id.setdefault(cls_id, [])
                if base not in own:
                    own.append(base)
            if base not in known:
                known.append(base)
                self.memo.clear()

    def named(self, name: str) -> list[_Sym]:
        if self.complete or name in self.names_loaded:
            return self.by_name.get(name, [])
        self.missing_names.add(name)
        return []


_MAX_PASSES = 24  # each pass loads only keys no earlier pass asked for; this is a safety net
_LAZY_MAX_ROWS = 10_000


async def resolve_edges(
    conn: asyncpg.Connection,
    repository_id: int,
    file_ids: list[int] | None = None,
    names: set[str] | None = None,
    *,
    edge_ids: list[int] | None = None,
) -> int:
    """Resolve the repository's edges (all of them, or those of `file_ids`, those whose last name
    segment is in `names` and those listed in `edge_ids`); returns how many edges were (re)examined."""
    if file_ids is None and names is None and edge_ids is None:
        tables = await _load_tables(conn, repository_id)
        rows = await conn.fetch(_EDGES_ALL, repository_id)
    else:
        rows = await conn.fetch(_EDGES_SOME, repository_id, file_ids or [], sorted(names or ()), edge_ids or [])
        # Loading on demand costs a few passes over the rows; past ~15k rows one bulk load is
        # cheaper (measured on Django: 17k rows take 0.9 s either way, 400 rows 0.03 s vs 0.5 s).
        tables = _Tables(complete=False) if len(rows) <= _LAZY_MAX_ROWS else await _load_tables(conn, repository_id)
    # Base classes and variables' types first: method lookups through them need them. Then by
    # id, so that a subset is resolved in the same order as within the whole.
    rows = sorted(rows, key=lambda r: (not _is_base(r), r["id"]))
    c_files = {r["file_id"] for r in rows if r["language"] in ("c", "cpp") and r["kind"] == "calls"}
    if c_files:
        tables.includes = await load_includes(conn, repository_id, c_files)
    n_bases = sum(1 for r in rows if _is_base(r))
    passes = 0
    while True:
        tables.start_pass()
        hits = [_resolve_row(tables, row) for row in rows[:n_bases]]
        _retry_go_bases(tables, rows, hits)
        hits += [_resolve_row(tables, row) for row in rows[n_bases:]]
        if not (tables.missing_qnames or tables.missing_names):
            break
        passes += 1
        if passes >= _MAX_PASSES:
            tables = await _load_tables(conn, repository_id)
        else:
            await _load_more(conn, repository_id, tables)
    ids = [row["id"] for row in rows]
    targets = [hit[0].id if hit else None for hit in hits]
    confs = [hit[1] if hit else 0.0 for hit in hits]
    if ids:
        await conn.execute(
            # An edge the compiler pass made or confirmed is its answer until its file is stored
            # again (which replaces it by a tree-sitter edge) or its target goes (a target_id set
            # NULL by the symbol's deletion): then it is this resolver's again.
            "UPDATE edges e SET target_id = v.t, confidence = v.c, provenance = 'tree-sitter'"
            " FROM unnest($1::bigint[], $2::bigint[], $3::real[]) AS v(id, t, c)"
            " WHERE e.id = v.id AND CASE WHEN e.provenance = 'compiler' THEN e.target_id IS NULL"
            " ELSE e.target_id IS DISTINCT FROM v.t OR e.confidence <> v.c END",
            ids,
            targets,
            confs,
        )
    # An edit anywhere may change a method set, and with it an implements edge that no edge of
    # the edited files names (a method removed from another file than its type's).
    await derive_implements(conn, repository_id)
    return len(ids)


def _retry_go_bases(tables: _Tables, rows: list[asyncpg.Record], hits: list[tuple[_Sym, float] | None]) -> None:
    """Go's variables are typed by their value (`var std = New()`: what New returns), whose type
    edge may come later in the rows: the variables' edges that found nothing try once more, once
    every other type is known, and before the edges that go through them (base rows come first)."""
    retried = [
        i
        for i, row in enumerate(rows[: len(hits)])
        if hits[i] is None and row["language"] == "go" and row["alias"] == TYPE_OF and _is_base(row)
    ]
    for i in retried:
        hits[i] = _resolve_row(tables, rows[i])


def _is_base(row: asyncpg.Record) -> bool:
    """An edge whose target members its source answers for: a base class, or a variable's type
    (`apps = Apps()`: `apps.get_model` is `Apps.get_model`, found like an inherited method), or
    a generic's parameter or argument (records.TYPE_PARAM, TYPE_ARG)."""
    if row["kind"] == "inherits":
        return True
    alias = row["alias"] or ""
    return row["kind"] == "references" and (alias == TYPE_OF or alias.startswith((TYPE_PARAM, TYPE_ARG, SLOT_TYPE)))


def _base_entry(alias: str | None, base: str | None) -> str | None:
    """How a base edge is kept among the bases: the base's name, or for generics "<0>" (of the
    class's first type parameter) and "<0>=pkg.Apple" (the superclass's first type argument)."""
    alias = alias or ""
    if alias.startswith(TYPE_PARAM):
        return f"<{alias[len(TYPE_PARAM) :]}>"
    if base is None:
        return None
    if alias.startswith(TYPE_ARG):
        return f"<{alias[len(TYPE_ARG) :]}>={base}"
    return base


def _resolve_row(tables: _Tables, row: asyncpg.Record) -> tuple[_Sym, float] | None:
    if (row["alias"] or "").startswith(TYPE_PARAM):
        tables.add_base(row["source_qname"], _base_entry(row["alias"], None) or "", row["source_id"])
        return None  # names no symbol: the type is the one the caller's superclass passes
    hit = _resolve_one(tables, row)
    alias = row["alias"] or ""
    if hit is not None and alias.startswith(SLOT_TYPE):
        # the type is the base of the function's member "(0,1)", not of the function
        tables.add_base(f"{row['source_qname']}.{alias[len(SLOT_TYPE) :]}", hit[0].qname)
    elif hit is not None and _is_base(row):
        entry = _base_entry(row["alias"], hit[0].qname)
        if entry is not None:
            tables.add_base(row["source_qname"], entry, row["source_id"])
    return hit


_EDGE_FIELDS = """
SELECT e.id, e.kind, e.target_name, e.target_simple, e.candidates, e.candidate_conf, e.file_id, e.alias,
       e.source_id, src.qualified_name AS source_qname, f.path, f.language
FROM edges e JOIN symbols src ON src.id = e.source_id JOIN files f ON f.id = e.file_id
"""
_PARSED = f"e.kind <> 'contains' AND e.alias IS DISTINCT FROM '{IMPLEMENTS}'"  # not derived after resolving
_EDGES_ALL = _EDGE_FIELDS + f" WHERE e.repository_id = $1 AND {_PARSED}"
_EDGES_SOME = (
    _EDGE_FIELDS
    + f""" WHERE e.repository_id = $1 AND {_PARSED}
  AND (e.file_id = ANY($2::bigint[]) OR e.target_simple = ANY($3::text[]) OR e.id = ANY($4::bigint[]))"""
)


_SYMBOL_FIELDS = """
SELECT s.id, s.kind, s.name, s.qualified_name, s.file_id, f.path, f.language, s.signature,
       s.end_byte - s.start_byte AS span
FROM symbols s JOIN files f ON f.id = s.file_id
"""
# Module-level imports: what each module re-exports under which local name.
_BINDING_FIELDS = """
SELECT src.qualified_name AS module, e.alias, e.candidates, e.target_name, f.language
FROM edges e JOIN symbols src ON src.id = e.source_id JOIN files f ON f.id = e.file_id
WHERE e.repository_id = $1 AND e.kind = 'imports' AND src.kind = 'module'
"""
# A records.SLOT_TYPE edge is the base of the function's member it names ("autorun.(0,1)").
_BASE_FIELDS = f"""
SELECT CASE WHEN e.alias LIKE '{SLOT_TYPE}%'
            THEN src.qualified_name || '.' || substr(e.alias, {len(SLOT_TYPE) + 1})
            ELSE src.qualified_name END AS cls,
       src.id AS cls_id, tgt.qualified_name AS base, e.alias, e.kind
FROM edges e JOIN symbols src ON src.id = e.source_id LEFT JOIN symbols tgt ON tgt.id = e.target_id
WHERE e.repository_id = $1 AND (
  (e.target_id IS NOT NULL AND ((e.kind = 'inherits' AND e.alias IS DISTINCT FROM '{IMPLEMENTS}')
    OR (e.kind = 'references'
        AND (e.alias = '{TYPE_OF}' OR e.alias LIKE '{TYPE_ARG}%' OR e.alias LIKE '{SLOT_TYPE}%'))))
  OR (e.kind = 'references' AND e.alias LIKE '{TYPE_PARAM}%'))
"""
# Rows come in id order in both the complete and the on-demand load, so that both build
# identical lists (bindings keep their order; of symbols sharing a qualified name the first wins,
# except in Python, where the last definition is the one a name ends up bound to: the
# implementation after its `@overload` stubs, the redefinition after the fallback).


async def _load_tables(conn: asyncpg.Connection, repository_id: int) -> _Tables:
    t = _Tables()
    _add_symbols(t, await conn.fetch(_SYMBOL_FIELDS + " WHERE s.repository_id = $1 ORDER BY s.id", repository_id))
    _add_bindings(t, await conn.fetch(_BINDING_FIELDS + " ORDER BY e.id", repository_id))
    _add_bases(t, await conn.fetch(_BASE_FIELDS + " ORDER BY e.id", repository_id))
    return t


async def _load_more(conn: asyncpg.Connection, repository_id: int, t: _Tables) -> None:
    """Load what the last pass found missing: symbols by qualified name (with the bindings of those
    that are modules and the bases of those that are classes) and symbols by bare name."""
    qnames = sorted(t.missing_qnames - t.qnames_loaded)
    names = sorted(t.missing_names - t.names_loaded)
    if qnames:
        rows = await conn.fetch(
            _SYMBOL_FIELDS + " WHERE s.repository_id = $1 AND s.qualified_name = ANY($2::text[]) ORDER BY s.id",
            repository_id,
            qnames,
        )
        for r in rows:
            _add_qname(t, _sym(r))
            _note_arity(t, r)
            _note_first_param(t, r)
        _add_bindings(
            t,
            await conn.fetch(
                _BINDING_FIELDS + " AND src.qualified_name = ANY($2::text[]) ORDER BY e.id",
                repository_id,
                qnames + _rust_module_names(qnames),
            ),
        )
        # a function's callback member ("autorun.(0,1)") has its bases stored on the function
        owners = sorted({q.rpartition(".")[0] for q in qnames if q.rpartition(".")[2].startswith("(")})
        wanted = set(qnames)
        rows = await conn.fetch(
            _BASE_FIELDS + " AND src.qualified_name = ANY($2::text[]) ORDER BY e.id", repository_id, qnames + owners
        )
        _add_bases(t, [r for r in rows if r["cls"] in wanted])
        t.qnames_loaded.update(qnames)
    if names:
        rows = await conn.fetch(
            _SYMBOL_FIELDS + " WHERE s.repository_id = $1 AND s.name = ANY($2::text[]) AND s.kind <> 'module'"
            " ORDER BY s.id",
            repository_id,
            names,
        )
        for r in rows:
            t.by_name.setdefault(r["name"], []).append(_sym(r))
            _note_first_param(t, r)
        t.names_loaded.update(names)


def _sym(r: asyncpg.Record) -> _Sym:
    return _Sym(
        r["id"],
        r["kind"],
        r["qualified_name"],
        r["file_id"],
        r["path"],
        _FAMILY.get(r["language"], r["language"]),
        r["span"],
        is_file_private(r["language"], r["signature"]),
        is_class_private(r["language"], r["signature"]),
        r["language"] == "csharp" and _EXTENSION.search(r["signature"] or "") is not None,
    )


def _add_symbols(t: _Tables, rows: list[asyncpg.Record]) -> None:
    for r in rows:
        sym = _sym(r)
        _add_qname(t, sym)
        _note_arity(t, r)
        _note_first_param(t, r)
        if sym.kind != "module":
            t.by_name.setdefault(r["name"], []).append(sym)


def _note_arity(t: _Tables, r: asyncpg.Record) -> None:
    if r["language"] == "java" and r["kind"] in _PY_RECEIVER_KINDS:
        takes = parameter_count(r["signature"] or "")
        if takes is not None:
            t.arities.setdefault(r["qualified_name"], []).append(takes)
    elif r["language"] in ("c", "cpp") and r["kind"] in _PY_RECEIVER_KINDS:
        takes = parameter_count(r["signature"] or "", defaults=True)
        if takes is not None:
            t.arities.setdefault(r["qualified_name"], []).append(takes)
            t.overloads.setdefault(r["qualified_name"], []).append((_sym(r), takes))


def _note_first_param(t: _Tables, r: asyncpg.Record) -> None:
    if r["language"] == "rust" and r["kind"] == "method":
        head = first_parameter_type(r["signature"] or "")
        if head:
            t.first_param[r["id"]] = head


def first_parameter_type(signature: str) -> str | None:
    """The type a Rust fn's first parameter is of, as its head: `fn from(vec: Vec<u8>)` "Vec",
    `(s: &'static str)` "str", `(slice: &[u8])` "[u8]"; None for `self` or none."""
    start = signature.find("(", signature.find("fn "))
    if start < 0:
        return None
    depth, end = 0, start + 1
    for end in range(start + 1, len(signature)):
        ch = signature[end]
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            if depth == 0:
                break
            depth -= 1
        elif ch == "," and depth == 0:
            break
    param = signature[start + 1 : end]
    if ":" not in param:
        return None
    pattern, _, written = param.partition(":")
    return None if pattern.strip().endswith("self") else type_head(written)


def type_head(written: str) -> str | None:
    """`&'static mut [u8; 4]` -> "[u8]", `Vec<u8>` -> "Vec", `crate::Bytes` -> "Bytes"."""
    text = written.strip()
    while True:
        for prefix in ("&", "mut ", "dyn ", "impl "):
            if text.startswith(prefix):
                text = text[len(prefix) :].lstrip()
                break
        else:
            if text.startswith("'"):
                text = text.partition(" ")[2].lstrip()
                continue
            break
    if text.startswith("["):
        return "[" + text[1:].split(";", 1)[0].split("]", 1)[0].strip() + "]"
    head = text.split("<", 1)[0].strip().rsplit("::", 1)[-1]
    return head or None


def parameter_count(signature: str, *, defaults: bool = False) -> tuple[int, int] | None:
    """(fewest, most) arguments a Java method's signature takes; None when it cannot tell
    (a signature cut short). Commas inside generics, annotations and arrays do not count.
    With `defaults` (C++), parameters with a default value may be left out and `(void)` takes none."""
    depth, start = 0, -1
    for i, ch in enumerate(signature):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0:
            start = i
            break
    if start < 0:
        return None
    params: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in signature[start + 1 :]:
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            if depth == 0:
                if "".join(cur).strip():
                    params.append("".join(cur))
                if defaults and [p.strip() for p in params] == ["void"]:
                    params = []
                n = len(params)
                if params and "..." in params[-1]:
                    return (n - 1, 1 << 16)
                fewest = sum(1 for p in params if "=" not in p) if defaults else n
                return (fewest, n)
            depth -= 1
        elif ch == "," and depth == 0:
            params.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    return None


def _add_qname(t: _Tables, sym: _Sym) -> None:
    if sym.family == "python" and sym.path.endswith(".pyi"):
        # A stub declares what the code beside it defines or re-exports (`attr/__init__.pyi`'s
        # `def fields` is `attr/__init__.py`'s `from ._make import fields`): found only when the
        # code does not say (lookups fall back to it).
        t.stubs[sym.qname] = sym
    elif sym.family == "python":
        t.by_qname[sym.qname] = sym  # the last definition wins
    elif sym.family == "rust" and sym.kind == "method" and sym.qname in t.by_qname:
        if t.by_qname[sym.qname].id != sym.id:
            t.overloaded.add(sym.qname)
    elif sym.family == "c" and sym.qname in t.by_qname:
        # A declaration in foo.h and its definition in foo.cc are one symbol: edges name the
        # definition, the one graph.symbols.resolve shows for the pair (the larger span).
        if sym.span > t.by_qname[sym.qname].span:
            t.by_qname[sym.qname] = sym
    else:
        t.by_qname.setdefault(sym.qname, sym)


def _rust_module(module_name: str) -> str:
    """A Rust file's module symbol ("src.buf.mod") as the path its items are named under ("crate::buf")."""
    segs = module_name.split(".")
    if "src" in segs:
        segs = segs[segs.index("src") + 1 :]
    if segs and segs[-1] in ("mod", "lib", "main"):
        segs = segs[:-1]
    return "::".join(["crate", *segs])


def _rust_module_names(qnames: list[str]) -> list[str]:
    """The module symbols a crate path may be bound by: `crate::buf` is src/buf.rs or src/buf/mod.rs."""
    found: list[str] = []
    for q in qnames:
        if q == "crate":
            found += ["src.lib", "src.main"]
        elif q.startswith("crate::"):
            rest = q[len("crate::") :].replace("::", ".")
            found += [f"src.{rest}", f"src.{rest}.mod"]
    return found


def _add_bindings(t: _Tables, rows: list[asyncpg.Record]) -> None:
    for r in rows:
        if not r["candidates"]:
            continue
        alias = r["alias"]
        if r["language"] == "rust":
            # `pub use self::chain::Chain` in src/buf/mod.rs binds `crate::buf::Chain`.
            t.bindings.setdefault(_rust_module(r["module"]), {}).setdefault(alias or "*", []).append(
                r["candidates"][0].removesuffix("::*")
            )
            continue
        if _FAMILY.get(r["language"], r["language"]) == "javascript":
            # `./x` is x.ts or x/index.ts, which the parser cannot tell: every candidate is bound,
            # and lookups try them in order (a module that does not exist holds nothing).
            key = "*" if alias is None and r["target_name"].endswith("*") else alias
            if key is not None:
                t.bindings.setdefault(r["module"], {}).setdefault(key, []).extend(r["candidates"])
            continue
        target = r["candidates"][0]
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


def _add_bases(t: _Tables, rows: list[asyncpg.Record]) -> None:
    for r in rows:
        entry = _base_entry(r["alias"], r["base"]) if r["kind"] != "inherits" else r["base"]
        if entry is not None:
            t.stored_bases.setdefault(r["cls"], []).append(entry)
            if not (r["alias"] or "").startswith(SLOT_TYPE):  # a member's, not the symbol's own
                t.stored_bases_by_id.setdefault(r["cls_id"], []).append(entry)


def _resolve_one(t: _Tables, row: asyncpg.Record) -> tuple[_Sym, float] | None:
    candidates: list[str] = row["candidates"] or []
    confs: list[float] = row["candidate_conf"] or []
    arity: int | None = None
    arg: str | None = None
    if candidates and candidates[-1].startswith(ARG_TYPE):
        arg = candidates[-1][len(ARG_TYPE) :]
        candidates, confs = candidates[:-1], confs[:-1]
    if candidates and candidates[-1].startswith(ARITY):
        arity = int(candidates[-1][len(ARITY) :])
        candidates, confs = candidates[:-1], confs[:-1]
    family = _FAMILY.get(row["language"], row["language"])
    max_hops = _FAMILY_HOPS.get(family, _MAX_HOPS)
    sep = "::" if family == "c" else None  # C++ names a member through its class: `ns::Derived::m`
    for qname, conf in zip(candidates, confs):
        if qname == NAME_FALLBACK:
            return _fallback(t, row)
        if qname.startswith(FIXTURE_CANDIDATE):
            defined, found = _fixture(t, row, qname[len(FIXTURE_CANDIDATE) :], max_hops)
            if not defined:
                continue
            # The fixture is found: what it gives decides, whatever a name elsewhere would say.
            return (found[0], min(conf, CONF_SCOPED)) if found is not None else None
        found = _lookup(t, qname, 0, frozenset(), max_hops, arity, arg=arg, sep=sep)
        if found is not None:
            sym, scoped = found
            if family == "c":
                own = _c_program(t, sym, row["file_id"])
                if own is None:
                    return None
                sym = own
            return sym, min(conf, CONF_SCOPED) if scoped else conf
    if candidates:
        if row["language"] == "rust":
            return next(filter(None, (_foreign_method(t, q, arg) for q in candidates)), None)
        # The parser knew what the name is bound to and it is not in this repository
        # (a library, the standard library): guessing by name would only invent edges.
        return None
    return _fallback(t, row)


def _all_named(t: _Tables, qname: str) -> list[_Sym]:
    return [s for s in t.named(qname.rsplit("::", 1)[-1]) if s.qname == qname]


def _rust_twins(t: _Tables, qname: str) -> list[_Sym]:
    """The same method name under the path a re-exported owner stands for (`crate::Bytes::from`
    also as `crate::bytes::Bytes::from`), when the owner path itself defines no type."""
    owner, _, name = qname.rpartition("::")
    parent, _, alias = owner.rpartition("::")
    if not parent or not t.knows(owner) or t.symbol(owner) is not None:
        return []
    targets = (t.module_bindings(parent) or {}).get(alias, [])
    return [s for target in targets if target != owner for s in _all_named(t, f"{target}::{name}")]


def _by_argument(t: _Tables, syms: list[_Sym], arg: str | None) -> _Sym | None:
    """Of one path's methods (records.ARG_TYPE), the one whose first parameter is of the argument's type."""
    matching = [s for s in syms if arg is not None and t.first_param.get(s.id) == arg]
    return matching[0] if len(matching) == 1 else None


def _foreign_method(t: _Tables, qname: str, arg: str | None = None) -> tuple[_Sym, float] | None:
    """`Vec::put_u8`, a method of a standard type (or `[]::advance`, of a slice) that the crate gives it: its own impl's method
    for that type (`impl BufMut for Vec<u8>`), else the one trait method of the name it declares
    (a default the impl does not override). Never one of the standard type's own methods."""
    owner, _, name = qname.rpartition("::")
    if owner.startswith("crate::") or owner.count("::") > 2:
        return None
    owner = owner.rsplit("::", 1)[-1]  # `std::collections::VecDeque`, as the crate's impl names it
    if not (owner[:1].isupper() or owner == "[]"):
        return None
    methods = [s for s in t.named(name) if s.family == "rust" and s.kind == "method"]
    on_type = [s for s in methods if s.qname.rsplit("::", 2)[-2] == owner]
    if name in _RUST_STD_METHODS or len(on_type) > 1:
        # `Vec::from(b)`: a standard method name, or one of several impls: only the argument's type tells
        picked = _by_argument(t, on_type, arg)
        return (picked, CONF_SCOPED) if picked is not None else None
    if on_type:
        return on_type[0], CONF_SCOPED
    declared = [s for s in methods if (p := t.symbol(s.qname.rpartition("::")[0])) is not None and p.kind == "trait"]
    return (declared[0], CONF_UNIQUE) if len(declared) == 1 else None


def _fixture(t: _Tables, row: asyncpg.Record, written: str, max_hops: int) -> tuple[bool, tuple[_Sym, bool] | None]:
    """`client.get` on a test's parameter `client`: `get` on what the pytest fixture `client` of the
    nearest conftest.py up the test's folders gives. Says first whether such a fixture exists."""
    name, _, rest = written.partition(".")
    folder = PurePosixPath(row["path"]).parent
    while True:
        conftest = "conftest.py" if str(folder) == "." else f"{folder}/conftest.py"
        defined = [s for s in t.named(name) if s.path == conftest and s.kind == "function"]
        if defined:
            fixture = defined[-1]  # the last definition is the one pytest sees
            if not rest:
                return True, (fixture, False)
            for base in t.symbol_bases(fixture):
                found = _lookup(t, f"{base}.{rest}", 1, frozenset(), max_hops)
                if found is not None:
                    return True, found
            return True, None
        if str(folder) == ".":
            return False, None
        folder = folder.parent


def _lookup(
    t: _Tables,
    qname: str,
    hops: int,
    seen: frozenset[str],
    max_hops: int = _MAX_HOPS,
    arity: int | None = None,
    via: str | None = None,
    arg: str | None = None,
    origin: str | None = None,
    sep: str | None = None,
) -> tuple[_Sym, bool] | None:
    key = (qname, max_hops - hops, arity, via, arg, origin, sep)
    if key in t.memo:
        return t.memo[key]
    cuts = t.cuts
    found = _find(t, qname, hops, seen, max_hops, arity, via, arg, origin, sep)
    if found is None and qname in t.stubs:
        found = t.stubs[qname], False
    if found is None and sep is None and "__enter__." in qname:
        found = _entered(t, qname, hops, seen, max_hops)
    if t.cuts == cuts:
        t.memo[key] = found
    return found


def _entered(t: _Tables, qname: str, hops: int, seen: frozenset[str], max_hops: int) -> tuple[_Sym, bool] | None:
    """`x.m` after `with v as x` (Python: "V.__enter__.m"): where V's type defines no `__enter__` in
    the repository, x is v itself: a @contextmanager's type is what it yields, and the standard
    library's context managers (files, sockets, servers) return themselves."""
    for marker in (".__enter__.", ".__aenter__."):
        owner, found, rest = qname.partition(marker)
        if found:
            if _lookup(t, owner + marker[:-1], hops, seen, max_hops) is not None:
                return None  # its own `__enter__` says what x is, and has no such member
            return _lookup(t, f"{owner}.{rest}", hops, seen, max_hops)
    return None


def _find(
    t: _Tables,
    qname: str,
    hops: int,
    seen: frozenset[str],
    max_hops: int,
    arity: int | None,
    via: str | None,
    arg: str | None = None,
    origin: str | None = None,
    sep: str | None = None,
) -> tuple[_Sym, bool] | None:
    """Find `qname`, following re-exports (`pkg.X` -> `pkg.mod.X`) and base classes (`C.m` -> `Base.m`).
    The flag says whether inheritance was needed. A call's `arity` passes over methods that take
    no such number of arguments: the one called is then a base's. `via` is the class whose base is
    being searched: its superclass's type arguments stand for the base's type parameters. `origin` is
    the class the search started from, which a method returning `self` returns (records.RETURNS_SELF)."""
    sym = t.symbol(qname)
    if sym is not None and qname in t.overloaded:
        picked = _by_argument(t, _all_named(t, qname), arg)
        return (picked, False) if picked is not None else None
    if sym is not None and sym.family == "rust" and sym.kind == "method":
        twins = _rust_twins(t, qname)
        if twins:
            # `impl From<BytesMut> for Bytes` in bytes_mut.rs names `crate::Bytes::from` by the
            # re-export it imports; the type's own path has `from`s too: the argument picks one
            picked = _by_argument(t, [sym, *twins], arg)
            return (picked, False) if picked is not None else None
    if sym is not None and arity is not None and sym.family == "c":
        overloads = t.overloads.get(qname, ())
        # a definition repeats no default values: it takes as many as its declaration at most
        most = {hi for _, (lo, hi) in overloads if lo <= arity <= hi}
        fits = [s for s, (_, hi) in overloads if hi in most]
        if fits:
            return max(fits, key=lambda s: s.span), False  # a definition over its declaration
    if sym is not None and (arity is None or _takes(t, qname, arity)):
        return sym, False
    if qname in seen:
        t.cuts += 1
        return None
    if sep is None and _RUBY_INSTANCE.search(qname):
        return _ruby_inherited(t, qname, hops, seen, max_hops)
    # Rust paths keep their `::` (crate::buf::Chain::new): re-exports and trait impls are followed the same way.
    given = sep
    sep = given or ("::" if qname.startswith("crate::") else ".")
    if hops >= max_hops or sep not in qname:
        return None
    seen = seen | {qname}
    parts = qname.split(sep)
    for i in range(len(parts) - 1, 0, -1):
        prefix, rest = sep.join(parts[:i]), parts[i:]
        module_bindings = t.module_bindings(prefix)
        if module_bindings:
            tail = sep.join(rest[1:])
            for target in module_bindings.get(rest[0], ()):
                found = _lookup(
                    t, f"{target}{sep}{tail}" if tail else target, hops + 1, seen, max_hops, arity, arg=arg, sep=given
                )
                if found:
                    return found
            for star in module_bindings.get("*", ()):
                found = _lookup(t, f"{star}{sep}{sep.join(rest)}", hops + 1, seen, max_hops, arity, arg=arg, sep=given)
                if found:
                    return found
        # `C.x` and `C.x.m` are found on C's bases, `var.m` on the variable's type.
        bases = t.bases_of(prefix)
        is_class = any(b.startswith("<") and "=" in b for b in bases) or _is_class(t, prefix)
        for base in bases:
            if base == _SELF_ENTRY:
                base = origin or prefix.rpartition(sep)[0]
            elif base.startswith("<"):
                if "=" in base:
                    continue  # a type argument, read below through `via`
                base = _type_argument(t, via, base) or ""
                if not base:
                    continue
            found = _lookup(
                t,
                f"{base}{sep}{sep.join(rest)}",
                hops + 1,
                seen,
                max_hops,
                arity,
                prefix if is_class else None,
                arg,
                (origin or prefix) if is_class else None,
                given,
            )
            if found:
                return found[0], True
        if not t.knows(prefix) or t.symbol(prefix) is not None:
            # A real symbol: shorter prefixes cannot re-export what it lacks. Not loaded yet: this
            # pass cannot tell, and must not wander up through every package's star imports.
            break
    return None


def _ruby_inherited(t: _Tables, qname: str, hops: int, seen: frozenset[str], max_hops: int) -> tuple[_Sym, bool] | None:
    """Ruby's `C#m` (an instance method) that C does not define: its superclass's, or a module's it
    includes (`include Helpers`: both are C's bases)."""
    owner, _, name = qname.rpartition("#")
    if hops >= max_hops:
        return None
    for base in t.bases_of(owner):
        found = _lookup(t, f"{base}#{name}", hops + 1, seen | {qname}, max_hops)
        if found:
            return found[0], True
    return None


def _is_class(t: _Tables, qname: str) -> bool:
    sym = t.symbol(qname)
    return sym is not None and sym.kind in ("class", "interface", "enum")


def _type_argument(t: _Tables, via: str | None, param: str) -> str | None:
    """The type `via`'s superclass passes for a type parameter ("<0>"), if `via` names one."""
    if via is None:
        return None
    for entry in t.bases_of(via):
        if entry.startswith(param + "="):
            return entry[len(param) + 1 :]
    return None


def _takes(t: _Tables, qname: str, arity: int) -> bool:
    known = t.arities.get(qname)
    return not known or any(lo <= arity <= hi for lo, hi in known)


def _c_options(t: _Tables, options: list[_Sym], file_id: int) -> list[_Sym]:
    """C/C++ symbols a bare name may mean from a file: one per qualified name (a declaration and its
    definition are one), and no other file's `static` or anonymous-namespace definitions (the
    parser names those after their file: `db/log_test.cc::leveldb::log::BigString`)."""
    out: dict[str, _Sym] = {}
    for s in options:
        if s.qname.startswith(s.path + "::") and s.file_id != file_id:
            continue
        out.setdefault(s.qname, t.symbol(s.qname) or s)
    return list(out.values())


def _c_program(t: _Tables, sym: _Sym, file_id: int) -> _Sym | None:
    """Of a C function defined in several translation units (each test program's own `main` or
    `usage`: programs apart, never linked together), the calling file's own; None when the caller
    defines none of them. `sym` itself when it is defined once."""
    if sym.kind != "function" or "::" in sym.qname:
        return sym  # a file's own `static` is named after it; C++ scopes name members and overloads
    copies = [s for s in _all_named(t, sym.qname) if s.kind == "function"]
    units = {s.file_id for s in copies if s.path.endswith(_C_UNITS)}
    if len(units) < 2:
        return sym
    own = [s for s in copies if s.file_id == file_id]
    return max(own, key=lambda s: s.span) if own and file_id in units else None


_TYPE_MEMBER = re.compile(r"([A-Z]\w*)\.\w+")  # `Type.member` (fullmatch)


def _nested_class(t: _Tables, sym: _Sym) -> bool:
    """Whether the symbol is a class declared inside another class, object or enum."""
    if sym.kind != "class" or "." not in sym.qname:
        return False
    outer = t.symbol(sym.qname.rsplit(".", 1)[0])
    return outer is not None and outer.kind in ("class", "interface", "enum", "struct")


def _fallback(t: _Tables, row: asyncpg.Record) -> tuple[_Sym, float] | None:
    kinds = _FALLBACK_KINDS.get(row["kind"])
    name = row["target_simple"]
    family = _FAMILY.get(row["language"], row["language"])
    if kinds is None:
        return None
    if row["language"] == "javascript":
        # Untyped JavaScript: the parser binds every name it can see, so what is left is a member of
        # a receiver of no known type (`child.addSchema()`, `this.ready()` in a plain function).
        # Against tsserver on fastify, a guess by unique name was right once in 54.
        return None
    if family == "python" and (name in _PY_BUILTINS or "." not in row["target_name"]):
        # A bare Python name the parser could not bind is a builtin, a parameter or a local
        # (it sees every binding in the file): only unknown receivers (`x.m()`) are worth a guess.
        return None
    if family == "rust" and "." in row["target_name"]:
        # `x.m()`: a method, and never one of the standard types' by name alone.
        if name in _RUST_STD_METHODS:
            return None
        kinds = kinds & _PY_RECEIVER_KINDS
    if family == "python":
        if len(name) > 4 and name.startswith("__") and name.endswith("__"):
            # `x.__anext__()`, `cm.__enter__()`: a protocol method, which every generator, file and
            # lock of the standard library has; one class of the repository defining it says nothing.
            return None
        if name in _PY_CONTAINER_METHODS:
            # `x.append()`, `"".join()`, `d.items()`: on an unknown receiver these are almost always
            # the built-in types' methods (jedi agreed with a same-named repository method 0 times in 50).
            return None
        kinds = kinds & _PY_RECEIVER_KINDS  # `x.m()` calls a method, never a module-level function
    if family == "c" and row["kind"] == "calls":
        kinds = kinds | {"macro"}  # `api_check(L, e)`: a function-like macro
    # `ModulePriorities.get(...)` names its type: that one is still a guess worth making. In C#, an
    # extension method the file itself defines is too (LinqBridge.cs, the repository's own LINQ,
    # calls its own `Where`), not its other methods (`_list.RemoveAt` in CollectionWrapper.cs).
    std = name in STD_METHODS.get(family, ()) and _TYPE_MEMBER.fullmatch(row["target_name"]) is None
    options = [
        s
        for s in t.named(name)
        if s.kind in kinds and s.family == family and not (std and not (s.extension and s.file_id == row["file_id"]))
    ]
    if family == "ruby" and "." in row["target_name"] and not spells_owner(row["target_name"], options):
        return None
    if family in FILE_PRIVATE_LANGUAGES:
        # Swift specs' `describe("x") { }` (Quick's) is not the one class's `private func describe`
        # in another file: a private declaration is never a guess from outside its file.
        options = [s for s in options if not (s.file_private and s.file_id != row["file_id"])]
        if "." not in row["target_name"]:
            # `IllegalStateException(...)` is not another file's `Exceptions.IllegalStateException`:
            # a nested class is named through its outer type, or from inside it.
            options = [s for s in options if s.file_id == row["file_id"] or not _nested_class(t, s)]
        elif (owner := _TYPE_MEMBER.fullmatch(row["target_name"])) is not None:
            # `UUID.fromString(s)`: a member of a type of that name, not any `fromString` (Version's).
            options = [s for s in options if s.qname.rsplit(".", 2)[-2:-1] == [owner.group(1)]]
    if family == "csharp":
        # `_document.CreateDocumentType(...)` is XmlDocument's, not XmlNodeConverter's private method:
        # a private member is a guess only from inside its class (or one nested in it).
        source = row["source_qname"] or ""
        options = [s for s in options if not s.class_private or source.startswith(s.qname.rpartition(".")[0] + ".")]
        if row["candidates"]:
            # the receiver's declared type, which has no such member in the repository: only an
            # extension method of the repository may be what it calls (`format.FormatWith()`)
            options = [s for s in options if s.extension]
    if family == "c":
        options = _c_options(t, options, row["file_id"])
    # Only a name defined once in the repository is worth an edge: measured against jedi, picking
    # among several (same file first, else the nearest path) was wrong two times in three.
    # A stub (`.pyi`) declares what code defines; definitions of one qualified name in one file
    # (`@overload` stubs and the implementation) are one definition: the one lookups find.
    options = [s for s in options if not s.path.endswith(".pyi")] or options
    if family == "c" and len(options) == 1:
        own = _c_program(t, options[0], row["file_id"])
        if own is None:
            return None
        copies = _all_named(t, own.qname)
        seen = t.includes.seen(row["file_id"])
        # a macro several headers define (`#if !defined(lua_assert)` fallbacks): the one this file includes
        visible = [s for s in copies if s.kind == "macro" and s.file_id in seen]
        if own.kind == "macro" and visible and own not in visible:
            own = max(visible, key=lambda s: s.span)
        if row["language"] == "c" and t.includes.declared_to(row["file_id"], name, {s.file_id for s in copies}):
            return own, CONF_SCOPED  # declared by a header the file includes: c_includes
        return own, CONF_UNIQUE
    if len(options) == 1:
        return options[0], CONF_UNIQUE
    if len({(s.qname, s.path) for s in options}) == 1:
        sym = t.symbol(options[0].qname)
        return (sym, CONF_UNIQUE) if sym is not None and sym in options else None
    return None
