"""Decode a SCIP index (protobuf, the published schema's messages) into the plain records the importer reads."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from . import scip_pb2
from .runner import IndexerFailed

_DEFINITION = scip_pb2.Definition
_LOCAL = "local "
_MEMBER = re.compile(r"^(`[^`]+`|[\w$]+)(\(\))?\.$")  # a method's or property's descriptor: `has().`, `size.`
_CONSTRUCTOR = "`<constructor>`()."
_ACCESSOR = re.compile(r"^`<([gs]et)>([\w$]+)`\(\)\.$")


@dataclass(frozen=True, slots=True)
class Occurrence:
    line: int  # 1-based
    start: int  # 0-based, in UTF-16 code units from the line's start (what both indexers count)
    end: int
    symbol: str
    definition: bool

    @property
    def local(self) -> bool:
        return self.symbol.startswith(_LOCAL)


@dataclass(slots=True)
class Document:
    path: str  # relative to the indexed root, '/'-separated
    occurrences: list[Occurrence] = field(default_factory=list)


@dataclass(slots=True)
class ScipIndex:
    tool: str
    version: str
    documents: list[Document]
    defined: set[str]  # every non-local symbol some document defines: the repository's own code
    implements: list[tuple[str, str]]  # (symbol, a symbol it implements: a base type, an interface)
    # (member, a member it implements or overrides, whose uses the language's server counts as its
    # own): ObservableMap#has() for Map#has().
    stands_for: list[tuple[str, str]] = field(default_factory=list)


def read_index(data: bytes) -> ScipIndex:
    """Raises IndexerFailed when the bytes are no SCIP index."""
    index = scip_pb2.Index()
    try:
        index.ParseFromString(data)
    except DecodeError as exc:
        raise IndexerFailed(f"the indexer's output is not a SCIP index: {exc}") from None
    documents: list[Document] = []
    defined: set[str] = set()
    implements: list[tuple[str, str]] = []
    stands_for: list[tuple[str, str]] = []
    for doc in index.documents:
        path = doc.relative_path
        if not path or path.startswith("/") or ".." in path.split("/"):
            continue  # not a path inside the root: never read
        out = Document(path)
        for occ in doc.occurrences:
            r = list(occ.range)
            if not occ.symbol or len(r) not in (3, 4) or (len(r) == 4 and r[2] != r[0]):
                continue  # no symbol, or a range over several lines (no identifier spans lines)
            definition = bool(occ.symbol_roles & _DEFINITION)
            # A local's id means something in its own document only: it is made unique across them.
            symbol = f"{occ.symbol} {path}" if occ.symbol.startswith(_LOCAL) else occ.symbol
            out.occurrences.append(Occurrence(r[0] + 1, r[1], r[-1], symbol, definition))
            if definition and not occ.symbol.startswith(_LOCAL):
                defined.add(occ.symbol)
        for info in doc.symbols:
            implements += [(info.symbol, rel.symbol) for rel in info.relationships if rel.is_implementation]
            # A type's relationships are inherits edges; a member's, uses through the base it implements.
            if not info.symbol.endswith(("#", _CONSTRUCTOR)):
                stands_for += [
                    (info.symbol, rel.symbol)
                    for rel in info.relationships
                    if (rel.is_reference or rel.is_implementation) and not rel.symbol.endswith("#")
                ]
        documents.append(out)
    tool = index.metadata.tool_info
    stands_for += _members_of_bases(implements, defined)
    return ScipIndex(tool.name, tool.version, documents, defined, implements, sorted(set(stands_for)))


def _members_of_bases(implements: list[tuple[str, str]], defined: set[str]) -> list[tuple[str, str]]:
    """A member of a type for the same-named member of each type it implements or extends: what
    the index names no relationship for (scip-typescript 0.4.0 names none for an accessor,
    ObservableSet#size. for Set#size.)."""
    bases: dict[str, list[str]] = {}
    for sub, base in implements:
        if sub.endswith("#") and base.endswith("#"):
            bases.setdefault(sub, []).append(base)
    out: list[tuple[str, str]] = []
    for symbol in defined:
        owner, hash_, member = symbol.rpartition("#")
        if not hash_ or not _MEMBER.match(member) or member == _CONSTRUCTOR:
            continue  # a constructor overrides none
        # An accessor (`<get>size`().) stands for a property of the base (size.) or its accessor.
        accessor = _ACCESSOR.match(member)
        members = [member, f"{accessor.group(2)}."] if accessor else [member]
        out += [(symbol, base + m) for base in bases.get(owner + "#", ()) for m in members]
    return out
