"""Decode a SCIP index (protobuf, the published schema's messages) into the plain records the importer reads."""

from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf.message import DecodeError

from . import scip_pb2
from .runner import IndexerFailed

_DEFINITION = scip_pb2.Definition
_LOCAL = "local "


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
        documents.append(out)
    tool = index.metadata.tool_info
    return ScipIndex(tool.name, tool.version, documents, defined, implements)
