"""Result types of the graph queries (returned as structured tool output) and their one error."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..errors import InvalidArgument

MatchKind = Literal["exact", "suffix", "prefix", "fuzzy"]


class SymbolRef(BaseModel):
    """A symbol and where to open it: repository, repo-relative path, 1-based inclusive lines."""

    id: int
    repository: str
    path: str
    kind: str
    name: str
    qualified_name: str
    signature: str = ""
    start_line: int
    end_line: int


class Answer(BaseModel):
    """A tool's whole answer."""

    notes: list[str] = Field(
        default_factory=list,
        description="what to know about the answer as a whole, e.g. that "
        "a repository's root folder is missing and its results come from the last index",
    )


class AmbiguousSymbol(InvalidArgument):
    """A symbol name matched several definitions; the message lists them."""

    def __init__(self, message: str, candidates: list[SymbolRef]) -> None:
        super().__init__(message)
        self.candidates = candidates


# -- symbols -------------------------------------------------------------------------------------


class SymbolMatch(SymbolRef):
    match: MatchKind


class SymbolList(Answer):
    query: str
    symbols: list[SymbolMatch]
    truncated: bool = False


class Member(BaseModel):
    id: int
    kind: str
    name: str
    signature: str = ""
    start_line: int
    end_line: int


class SymbolDetail(SymbolRef, Answer):
    language: str | None = None
    docstring: str | None = None
    source: str = Field(description="the symbol's lines as indexed")
    truncated: bool = Field(False, description="source was cut to its first lines")
    parent: SymbolRef | None = None
    members: list[Member] = Field(default_factory=list)
    callers: int = Field(0, description="distinct symbols with a resolved call to this one")
    callees: int = Field(0, description="distinct symbols this one calls (resolved)")
    unresolved_calls: int = Field(0, description="calls from this symbol the indexer could not resolve")
    references: int = Field(0, description="incoming edges of every kind but contains")


class OutlineItem(BaseModel):
    id: int
    kind: str
    name: str
    qualified_name: str
    signature: str = ""
    start_line: int
    end_line: int
    depth: int = Field(description="0 for top-level definitions, 1 for their members, ...")
    parent_id: int | None = None


class FileOutline(Answer):
    repository: str
    path: str
    language: str | None = None
    module: str | None = Field(None, description="qualified name of the file's module symbol")
    line_count: int = 0
    symbols: list[OutlineItem]


class Definition(SymbolRef):
    confidence: float
    via: str = Field(
        description="edge kind that leads here (calls, imports, ...), 'definition', 'holds' for what the"
        " JavaScript object member before it holds, or 'local': a parameter or variable the compiler pass"
        " found the name bound to (kind 'local', its line; id and qualified_name are the symbol whose"
        " scope holds it)"
    )
    target_name: str = Field(description="the name as written at the site")


class DefinitionResult(Answer):
    repository: str
    path: str
    line: int
    name: str | None = Field(None, description="the identifier looked up, when one was given or read")
    definitions: list[Definition]
    unresolved: list[str] = Field(default_factory=list, description="names at the site with no indexed target")
    note: str | None = None


# -- edges and walks -------------------------------------------------------------------------------


class Reference(BaseModel):
    kind: str
    confidence: float
    repository: str
    path: str
    line: int
    source: str = Field(description="qualified name of the symbol containing the site")
    source_id: int
    source_kind: str
    target_name: str
    via: str | None = Field(
        None,
        description="the symbol the site names, when it is a use of this one through it: an overridden method, a class constructed",
    )
    snippet: str
    provenance: str = Field("tree-sitter", description="the pass that made the edge: tree-sitter or compiler")


class EdgeList(Answer):
    symbol: SymbolRef
    references: list[Reference]
    counts: dict[str, int] = Field(default_factory=dict, description="references per edge kind")
    truncated: bool = False


class GraphNode(SymbolRef):
    depth: int


class GraphEdge(BaseModel):
    source_id: int
    source: str
    target_id: int
    target: str
    kind: str
    path: str = Field(description="file of the site")
    line: int
    confidence: float
    provenance: str = Field("tree-sitter", description="the pass that made the edge: tree-sitter or compiler")


class UnresolvedCall(BaseModel):
    source: str
    target_name: str
    path: str
    line: int


class GraphResult(Answer):
    root: SymbolRef
    direction: Literal["callers", "callees"]
    depth: int
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    unresolved: list[UnresolvedCall] = Field(default_factory=list)
    truncated: bool = False


class CallPath(BaseModel):
    length: int = Field(description="number of calls")
    confidence: float = Field(description="the weakest call's confidence")
    nodes: list[SymbolRef]
    edges: list[GraphEdge]


class PathResult(Answer):
    source: SymbolRef
    target: SymbolRef
    paths: list[CallPath]
    note: str | None = None


class Dependent(SymbolRef):
    distance: int
    via: str = Field(description="edge kind of the dependency: calls, references, inherits or imports")
    depends_on: str = Field(description="qualified name of the symbol it uses")
    line: int = Field(description="line of the use")
    is_test: bool


class ImpactFile(BaseModel):
    path: str
    dependents: int
    distance: int
    is_test: bool


class ImpactSummary(BaseModel):
    dependents: int
    files: int
    tests: int = Field(description="dependents that live in test files")
    test_files: int


class ImpactResult(Answer):
    repository: str
    targets: list[SymbolRef] = Field(description="the changed symbol(s) the walk started from")
    dependents: list[Dependent]
    files: list[ImpactFile]
    summary: ImpactSummary
    truncated: bool = False


class ImportItem(BaseModel):
    path: str = Field(description="file of the import statement")
    line: int
    source: str = Field(description="qualified name of the importing symbol")
    target_name: str
    alias: str | None = None
    target: SymbolRef | None = None
    confidence: float


class DependencyResult(Answer):
    repository: str
    path: str
    module: str | None = None
    direction: Literal["dependencies", "dependents"]
    imports: list[ImportItem] = Field(description="resolved imports")
    external: list[ImportItem] = Field(default_factory=list, description="imports of unindexed code")
    files: list[str] = Field(description="the other files, in order")
    truncated: bool = False


# -- repo map --------------------------------------------------------------------------------------


class RankedSymbol(SymbolRef):
    rank: int
    score: float


class RepoMap(Answer):
    """The ranked definitions a repo map shows; the map's text is the answer's text block, beside this."""

    repository: str
    tokens: int = Field(description="estimated tokens of the whole answer, this and the map's text (characters / 4)")
    symbols: list[RankedSymbol]
    symbols_total: int
    edges_total: int
    truncated: bool = False
