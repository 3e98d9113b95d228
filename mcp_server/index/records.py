"""Plain records passed between the indexing stages: parsed symbols, raw edges, chunks."""

from __future__ import annotations

from dataclasses import dataclass, field

# Edge kinds stored in the graph. `contains` edges are derived from Symbol.parent by the store.
EDGE_KINDS = ("calls", "imports", "inherits", "references", "contains")

# Confidence scale shared by parsers and the resolver (higher is surer).
CONF_EXACT = 1.0  # resolved through an import, a definite local definition or `self`
CONF_SCOPED = 0.9  # resolved through the enclosing class / inheritance chain
CONF_UNIQUE = 0.5  # bare name matched exactly one definition in the repository
# The compiler pass's edge to a member a site reaches through the base it names (ObservableMap.has
# for a call of Map.has): another implementation may be the one run. The site names the base, so
# goto_definition leaves these out.
CONF_THROUGH = 0.9

# A candidate standing for "else match the bare name": what follows a guess the parser cannot
# vouch for (`self.x.m()` with x inherited from a base in another file), so that a guess naming
# nothing costs no more than having made none.
NAME_FALLBACK = "*"
# A candidate naming no symbol, for a site the parser knows it cannot bind (a member of an untyped
# variable): candidates that all miss make the resolver leave the edge unresolved, with no name guess.
NO_GUESS = "?"
# The alias of a C header's `references` edge to a function it declares (`int lua_gettop(lua_State *L);`),
# left unresolved: the resolver reads them to know which names a file sees declared through its
# `#include`s (indexer.c_includes), and a call resolved through one is CONF_SCOPED sure.
DECLARES = ":declares"

# A candidate "#2" (never a qualified name) says the call passes two arguments: where overloads
# share one qualified name (Java), the resolver passes over a class whose methods of that name
# take no such number and looks on in its bases (`new Base16().encode(b)` is BaseNCodec's
# one-argument encode, not Base16's four-argument override).
ARITY = "#"
# A candidate "@Vec" (never a qualified name) says a Rust call's first argument is a Vec: the
# methods of a trait implemented once per argument type (`impl From<Vec<u8>> for Bytes`,
# `impl From<String> for Bytes`) share one path, and the one whose parameter is of that type is meant.
ARG_TYPE = "@"

# The alias that marks a `references` edge as a variable's type: its source is a module-level
# variable (`apps = Apps()`) or an instance attribute (`self.out = Writer()`), its target the class
# it holds an instance of. The resolver reads these like base classes, so `apps.get_model`
# elsewhere reaches `Apps.get_model`.
TYPE_OF = ":type"
# Generics, Java: a `references` edge with alias ":param0" says its source (a method or field) is
# of its class's first type parameter (`T get()` in `class Box<T>`); ":arg0" on a class's edge to
# a type says the class's superclass takes that type as its first argument (`extends Box<Apple>`).
# The resolver reads them together: `appleBox.get().m()` in a subclass is then `Apple.m`.
TYPE_PARAM = ":param"
TYPE_ARG = ":arg"
# The alias of a `references` edge that reads a member as a value, not calling it (`this.parse.bind(this)`,
# `ZodNull.create`, `instanceof z.ZodError`): tsserver counts such reads among a function's or a
# constructor's incoming calls (its call hierarchy takes any right side of a property access), and
# so does find_callers for JavaScript and TypeScript. A type written `z.ZodError` is no such read.
MEMBER_READ = ":read"
# The alias of a `references` edge from a function to a type that one of its "slots" is declared
# to hold: ":slot(0,1)" for `autorun(view: (a: A, r: Reaction) => void)` (what its first parameter,
# a function, is given second: Reaction), ":slot(is)" for a type guard `isMap(x): x is Map` (what
# the argument is where the guard holds). The resolver keeps it as the base of the function's member
# "(0,1)" / "(is)": a callback passed there has its parameter hold that member
# (`autorun((a, r) => r.dispose())`: `r.dispose` is `autorun.(0,1).dispose`, Reaction.dispose), and
# `if (isMap(x)) x.set()` is `isMap.(is).set`, Map.set.
SLOT_TYPE = ":slot"
# The alias of an inherits edge no parser wrote: a Go type's method set covers the interface's
# (indexer.go_implements derives them after each resolution; the resolver leaves them alone).
IMPLEMENTS = ":implements"
# Python: a method that returns `self` (`-> Self`, `return self`) is of type parameter "self": what
# it returns is the class it was looked up on (`Sub().copy()` is a Sub even where Base defines copy).
RETURNS_SELF = TYPE_PARAM + "self"
# A candidate "~client.get" names `get` on what the pytest fixture `client` gives a test: the
# resolver looks for the fixture in the conftest.py nearest up the edge's folders.
FIXTURE_CANDIDATE = "~"

# Sites of one name called (imported, referenced) from one definition past this many add rows, not
# graph: a generated 5 MB expression nesting one call a million deep made a million edges, whose
# single COPY ran past the statement timeout and failed the whole index pass (their sites nearly
# doubled the parse's memory, 934 MB to 1.7 GB).
MAX_SITES_PER_TARGET = 100
# The edges of one file whatever their targets (a flood of distinct names): far above any
# hand-written file, few enough to store within the statement timeout.
MAX_FILE_EDGES = 100_000


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str  # module | class | function | method | interface | struct | enum | trait | ...
    name: str  # as declared: "get_signing_serializer"
    qualified_name: str  # "flask.sessions.SecureCookieSessionInterface.get_signing_serializer"
    signature: str  # the declaration line(s) up to the body, whitespace-collapsed
    docstring: str | None  # docstring or leading doc comment, stripped
    start_line: int  # 1-based, inclusive
    end_line: int  # 1-based, inclusive
    start_byte: int
    end_byte: int
    parent: int | None  # index of the enclosing symbol in ParsedFile.symbols; None for the module


@dataclass(frozen=True, slots=True)
class RawEdge:
    source: int  # index of the enclosing symbol in ParsedFile.symbols (0 = the module)
    kind: str  # calls | imports | inherits | references
    target_name: str  # the name as written at the site: "self.save", "os.path.join", "Base"
    line: int  # 1-based line of the site
    # Fully qualified guesses at the target, best first, each with the confidence it earns if it
    # names a real symbol. The resolver tries them in order, then falls back to bare-name matching.
    candidates: tuple[tuple[str, float], ...] = ()
    alias: str | None = None  # imports only: the local name the import binds ("np" for numpy)


@dataclass(slots=True)
class ParsedFile:
    language: str
    symbols: list[Symbol] = field(default_factory=list)  # symbols[0] is always the module symbol
    edges: list[RawEdge] = field(default_factory=list)
    has_errors: bool = False  # tree-sitter reported syntax errors (the file is still indexed)
    edges_dropped: int = 0  # sites past the EdgeBudget


class EdgeBudget:
    """Which of a file's edge sites to keep: the first MAX_SITES_PER_TARGET of each (source, kind,
    target) and MAX_FILE_EDGES in all, so who calls what stays whole and only repeats go. Parsers
    ask as early as they know the site, so a dropped one costs no candidates and no record."""

    __slots__ = ("_sites", "kept", "dropped")

    def __init__(self) -> None:
        self._sites: dict[tuple[int, str, str], int] = {}
        self.kept = 0
        self.dropped = 0

    def admit(self, source: int, kind: str, target: str) -> bool:
        key = (source, kind, target)
        seen = self._sites.get(key, 0)
        if seen >= MAX_SITES_PER_TARGET or self.kept >= MAX_FILE_EDGES:
            self.dropped += 1
            return False
        self._sites[key] = seen + 1
        self.kept += 1
        return True


@dataclass(frozen=True, slots=True)
class Chunk:
    symbol: int | None  # index into ParsedFile.symbols of the symbol this chunk belongs to
    start_line: int  # 1-based, inclusive
    end_line: int
    content: str  # the source lines, as displayed and searched lexically
    header: str  # "path · Class.method · signature": prepended to the text embedded
    # False: kept out of the vector index on purpose (see chunk.worth_a_vector); still searched by keyword.
    embed: bool = True
