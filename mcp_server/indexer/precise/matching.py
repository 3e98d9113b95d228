"""Match a SCIP index against the stored graph: which edges it confirms, corrects, drops, and which it adds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ...index.records import CONF_EXACT, CONF_THROUGH
from .reader import Document, ScipIndex

# SCIP names a TypeScript constructor `Class#<constructor>().`; its calls (`new Class()`) are the
# class's calls in the stored graph, as tree-sitter writes them.
_CONSTRUCTOR = "#`<constructor>`()."
_CALLABLE = frozenset({"function", "method", "constructor", "class", "struct"})
_HEAD_LINES = 12  # decorators and a signature's lines above a definition's name
# The indexers whose language's server counts a use of a member as a use of the members it
# implements or overrides, and of those implementing it (tsserver; jedi counts neither).
_THROUGH_BASES = frozenset({"scip-typescript"})


@dataclass(frozen=True, slots=True)
class StoredSymbol:
    id: int
    file_id: int
    kind: str
    name: str
    qualified_name: str
    start_line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class StoredEdge:
    id: int
    file_id: int
    source_id: int
    target_id: int | None
    kind: str
    target_simple: str
    line: int
    alias: str | None
    through: bool = False  # an earlier pass's edge to a member reached through a base (CONF_THROUGH)


@dataclass(frozen=True, slots=True)
class NewEdge:
    file_id: int
    source_id: int
    target_id: int
    kind: str
    name: str
    target_qualified_name: str
    line: int
    confidence: float = CONF_EXACT


@dataclass(slots=True)
class Plan:
    confirm: list[int] = field(default_factory=list)  # edge ids: the compiler names the same target
    correct: list[tuple[int, int]] = field(default_factory=list)  # (edge id, the target it names instead)
    resolve: list[tuple[int, int]] = field(default_factory=list)  # (unresolved edge id, the target it names)
    drop: list[int] = field(default_factory=list)  # edge ids: the site names something outside the graph
    add: list[NewEdge] = field(default_factory=list)
    # (file id, line, name, binding's file id, its line): an unresolved edge's name bound to
    # something pgcode holds no symbol for (a parameter, a local, an object literal's member).
    bind: list[tuple[int, int, str, int, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Site:
    """What the compiler says one name on one line refers to (the union of its occurrences)."""

    targets: set[int] = field(default_factory=set)  # stored symbols it may stand for
    primary: dict[int, bool] = field(default_factory=dict)  # target an added edge names -> a call?
    # Members the named one implements or overrides, or that implement it -> a call? (CONF_THROUGH edges)
    through: dict[int, bool] = field(default_factory=dict)
    foreign: bool = False  # some occurrence names a local or a library's symbol
    unmapped: bool = False  # some occurrence names the repository's code that no stored symbol stands for
    unknown: bool = False  # some occurrence names a symbol of a file left out (edited meanwhile)
    symbols: set[str] = field(default_factory=set)
    bound: set[tuple[int, int]] = field(default_factory=set)  # (file id, line) of its unmapped symbols' definitions


def plan_import(
    index: ScipIndex,
    documents: dict[str, int],  # document path -> file id, for the files this pass may change
    texts: dict[int, list[str]],  # file id -> its lines as on disk
    symbols: list[StoredSymbol],
    edges: list[StoredEdge],
    skipped_paths: set[str],  # documents of files edited while the indexer ran: trusted for nothing
) -> Plan:
    by_file: dict[int, list[StoredSymbol]] = defaultdict(list)
    for s in symbols:
        by_file[s.file_id].append(s)
    docs = [d for d in index.documents if d.path in documents]
    # Symbols of files left out, and those defined as several things: nothing is known of their uses.
    left_out = {o.symbol for d in index.documents if d.path in skipped_paths for o in d.occurrences if o.definition}
    to_stored, from_stored, ambiguous = _definitions(docs, documents, texts, by_file)
    ids = {s.id: s for s in symbols}
    related = _related(index, to_stored) if index.tool in _THROUGH_BASES else {}
    sites = _sites(docs, documents, texts, index.defined, left_out | ambiguous, to_stored, ids, related)
    _bound(docs, documents, sites, to_stored)
    plan = Plan()
    used: dict[tuple[int, int, str], set[int]] = defaultdict(set)
    imports_at = {(e.file_id, e.line) for e in edges if e.kind == "imports"}
    for e in edges:
        if e.kind == "contains":
            continue
        key = (e.file_id, e.line, e.target_simple)
        site = sites.get(key)
        if site is None:
            continue  # the compiler says nothing of this name here: the edge stays as it is
        if e.target_id is not None and e.target_id in site.targets:
            plan.confirm.append(e.id)
            used[key].add(e.target_id)
            continue
        if e.through and e.target_id in site.through:
            used[key].add(e.target_id)  # an earlier pass's: it stays as it is
            continue
        free = sorted(t for t in site.primary if t not in used[key])
        if free and not site.unknown:
            (plan.correct if e.target_id is not None else plan.resolve).append((e.id, free[0]))
            used[key].add(free[0])
            continue
        if e.target_id is None or site.unknown or site.targets or (e.alias is not None and e.kind != "imports"):
            continue
        # The site names only a local or a library's symbol: the edge's target, the repository's code,
        # is not what it means. Where it names the repository's code pgcode holds no symbol for (an
        # alias exported under another name), the mapping may be what fails, not the edge: it stays.
        if site.foreign and not site.unmapped and from_stored.get(e.target_id, set()).isdisjoint(site.symbols):
            plan.drop.append(e.id)
    for (file_id, line, name), site in sites.items():
        if site.unknown:
            continue
        for target, call in sorted(site.primary.items()):
            if target in used[(file_id, line, name)]:
                continue
            source = _innermost(by_file[file_id], line)
            if source is None:
                continue
            kind = "imports" if (file_id, line) in imports_at else "calls" if call else "references"
            plan.add.append(NewEdge(file_id, source.id, target, kind, name, ids[target].qualified_name, line))
        for target, call in sorted(site.through.items()):
            if target in used[(file_id, line, name)] or target in site.primary or (file_id, line) in imports_at:
                continue
            source = _innermost(by_file[file_id], line)
            if source is not None:
                kind = "calls" if call else "references"
                q = ids[target].qualified_name
                plan.add.append(NewEdge(file_id, source.id, target, kind, name, q, line, CONF_THROUGH))
    _implementations(index, to_stored, ids, edges, plan)
    _bindings(edges, sites, plan)
    return plan


def _bound(
    docs: list[Document], documents: dict[str, int], sites: dict[tuple[int, int, str], _Site], to_stored: dict[str, int]
) -> None:
    """Each site's symbols that no stored symbol stands for, by where the index defines them."""
    defined_at: dict[str, tuple[int, int]] = {}
    for doc in docs:
        for occ in doc.occurrences:
            if occ.definition and occ.symbol not in to_stored:
                defined_at.setdefault(occ.symbol, (documents[doc.path], occ.line))
    for site in sites.values():
        site.bound.update(defined_at[s] for s in site.symbols if s in defined_at)


def _bindings(edges: list[StoredEdge], sites: dict[tuple[int, int, str], _Site], plan: Plan) -> None:
    """The unresolved uses the compiler binds to one place pgcode has no symbol for."""
    resolved = {edge for edge, _ in plan.resolve}
    # A name an import binds is the imported module's: where it resolves, so does the use; where it
    # does not (a library's), the binding is not its definition.
    imports_at = {(e.file_id, e.line) for e in edges if e.kind == "imports"}
    seen: set[tuple[int, int, str, int, int]] = set()
    for e in edges:
        if e.target_id is not None or e.id in resolved or e.kind not in ("calls", "references"):
            continue
        site = sites.get((e.file_id, e.line, e.target_simple))
        if site is None or site.targets or site.unknown or len(site.bound) != 1:
            continue
        where = next(iter(site.bound))
        row = (e.file_id, e.line, e.target_simple, *where)
        if row not in seen and where != (e.file_id, e.line) and where not in imports_at:
            seen.add(row)
            plan.bind.append(row)


def _definitions(
    docs: list[Document],
    documents: dict[str, int],
    texts: dict[int, list[str]],
    by_file: dict[int, list[StoredSymbol]],
) -> tuple[dict[str, int], dict[int, set[str]], set[str]]:
    """SCIP symbol -> the stored symbol it defines (the innermost one of that name whose span holds
    the definition), and back. Locals too: a function declared in a callback is a local to the
    indexer and a symbol to pgcode."""
    found: dict[str, list[StoredSymbol]] = defaultdict(list)
    for doc in docs:
        file_id = documents[doc.path]
        lines = texts.get(file_id, [])
        for occ in doc.occurrences:
            if not occ.definition:
                continue
            name = _text(lines, occ.line, occ.start, occ.end)
            if not name:
                continue
            # The name of a declaration is on its first lines (after decorators, in a signature):
            # a local of the same name deep in a function's body is not the function.
            held = [
                s
                for s in by_file[file_id]
                if s.name == name and s.start_line <= occ.line <= min(s.end_line, s.start_line + _HEAD_LINES)
            ]
            if held:
                found[occ.symbol].append(min(held, key=lambda s: (s.end_line - s.start_line, -s.start_line)))
    to_stored: dict[str, int] = {}
    from_stored: dict[int, set[str]] = defaultdict(set)
    for symbol, stored in found.items():
        # One symbol defined as several things (scip-python names two nested functions of one name
        # alike): nothing is known of which one a use means. Overloads share one qualified name.
        if len({s.qualified_name for s in stored}) == 1:
            to_stored[symbol] = stored[0].id
            from_stored[stored[0].id].add(symbol)
    return to_stored, from_stored, set(found) - set(to_stored)


def _sites(
    docs: list[Document],
    documents: dict[str, int],
    texts: dict[int, list[str]],
    defined: set[str],
    left_out: set[str],
    to_stored: dict[str, int],
    ids: dict[int, StoredSymbol],
    related: dict[str, set[int]],
) -> dict[tuple[int, int, str], _Site]:
    sites: dict[tuple[int, int, str], _Site] = defaultdict(_Site)
    for doc in docs:
        file_id = documents[doc.path]
        lines = texts.get(file_id, [])
        # A local the document never defines is a name the indexer could not place (scip-typescript
        # 0.4.0 writes one for a member of `export * as z`): nothing is known of it.
        locals_defined = {o.symbol for o in doc.occurrences if o.definition and o.local}
        for occ in doc.occurrences:
            if occ.definition:
                continue
            name = _text(lines, occ.line, occ.start, occ.end)
            if not name or not (name[0].isalpha() or name[0] in "_$"):
                continue  # a module's path in quotes, an operator: no edge is written so
            site = sites[(file_id, occ.line, name)]
            site.symbols.add(occ.symbol)
            if occ.symbol in left_out:
                site.unknown = True
                continue
            line_text = lines[occ.line - 1] if occ.line <= len(lines) else ""
            for other in related.get(occ.symbol, ()):
                site.through.setdefault(other, _called(ids[other], line_text, occ.end))
            if occ.local and occ.symbol not in to_stored:
                if occ.symbol in locals_defined:
                    site.foreign = True  # a variable or parameter: no symbol of the graph
                else:
                    site.unmapped = True
                continue
            target = to_stored.get(occ.symbol)
            cls = None
            if occ.symbol.endswith(_CONSTRUCTOR):
                cls = to_stored.get(occ.symbol[: -len(_CONSTRUCTOR)] + "#")
            if target is None and cls is None:
                # The repository's own code the graph has no symbol for (an export alias, a field of
                # an object literal), or a library's symbol.
                if occ.symbol in defined:
                    site.unmapped = True
                else:
                    site.foreign = True
                continue
            chosen = cls if cls is not None else target
            assert chosen is not None
            site.targets.update(t for t in (target, cls) if t is not None)
            site.primary[chosen] = _called(ids[chosen], line_text, occ.end)
    for site in sites.values():
        for t in site.targets:
            site.through.pop(t, None)
    return sites


def _called(target: StoredSymbol, line_text: str, end: int) -> bool:
    """Whether a use ending at UTF-16 offset `end` calls `target`: a callable, then `(` or `<`."""
    return target.kind in _CALLABLE and line_text[_py_index(line_text, end) :].lstrip().startswith(("(", "<"))


def _related(index: ScipIndex, to_stored: dict[str, int]) -> dict[str, set[int]]:
    """SCIP symbol -> the stored members a use of it counts for besides its own: those it implements
    or overrides, and those implementing or overriding it (one step each way)."""
    out: dict[str, set[int]] = defaultdict(set)
    for member, base in index.stands_for:
        if member in to_stored:
            out[base].add(to_stored[member])
        if base in to_stored:
            out[member].add(to_stored[base])
    return out


def _implementations(
    index: ScipIndex, to_stored: dict[str, int], ids: dict[int, StoredSymbol], edges: list[StoredEdge], plan: Plan
) -> None:
    """A type implementing or extending another is an inherits edge: confirmed, or added."""
    inherits = {(e.source_id, e.target_id): e.id for e in edges if e.kind == "inherits" and e.target_id is not None}
    confirmed = set(plan.confirm)
    for symbol, base in index.implements:
        sub, sup = to_stored.get(symbol), to_stored.get(base)
        if sub is None or sup is None or ids[sub].kind == "method" or ids[sup].kind == "method":
            continue
        edge = inherits.get((sub, sup))
        if edge is not None:
            if edge not in confirmed:
                plan.confirm.append(edge)
                confirmed.add(edge)
            continue
        s = ids[sub]
        plan.add.append(NewEdge(s.file_id, sub, sup, "inherits", ids[sup].name, ids[sup].qualified_name, s.start_line))
        inherits[(sub, sup)] = -1


def _innermost(symbols: list[StoredSymbol], line: int) -> StoredSymbol | None:
    held = [s for s in symbols if s.start_line <= line <= s.end_line]
    if not held:
        modules = [s for s in symbols if s.kind == "module"]
        return modules[0] if modules else None
    return min(held, key=lambda s: (s.end_line - s.start_line, -s.start_line))


def _text(lines: list[str], line: int, start: int, end: int) -> str:
    if not 1 <= line <= len(lines) or end <= start:
        return ""
    text = lines[line - 1]
    return text[_py_index(text, start) : _py_index(text, end)]


def _py_index(text: str, utf16: int) -> int:
    """The string index of a UTF-16 offset into `text` (they differ past characters outside the BMP)."""
    if text.isascii():
        return utf16
    units = 0
    for i, ch in enumerate(text):
        if units >= utf16:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(text)
