"""Shared machinery of the tree-sitter parsers: cursor walk with scope frames, symbol/edge records, docs."""

from __future__ import annotations

import logging
import posixpath
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node, Parser

from ..languages import new_parser
from ..records import CONF_EXACT, CONF_SCOPED, EdgeBudget, ParsedFile, RawEdge, Symbol

log = logging.getLogger(__name__)

Candidates = tuple[tuple[str, float], ...]
# A deferred candidate computation; returning None drops the edge (e.g. a Ruby identifier that
# turned out not to name a method of the class).
CandidateFn = Callable[[], Iterable[tuple[str, float]] | None]
BaseFn = Callable[[], Candidates]  # candidates for a class's base, for `super` calls
Handler = Callable[["Ctx", Node], bool | None]

SKIP = False  # handler return value: do not descend into the node's children

CLASS_KINDS = frozenset({"class", "interface", "struct", "enum", "trait", "union", "type"})
# Rust attributes and JS/TS decorators may sit between a doc comment and its declaration.
_ATTRIBUTES = frozenset({"attribute_item", "decorator"})
MAX_SIGNATURE = 400
MAX_TARGET = 120
# Definitions nested deeper than this many scopes are left unhandled (their text is still chunked):
# every scope's qualified name and lookup chain grows with the depth, so 20,000 nested functions
# would cost time and memory quadratic in the depth. Real code stays far below.
MAX_SCOPES = 100

_local = threading.local()


def get_parser(language: str) -> Parser:
    """One parser per language per thread: tree-sitter parsers are not thread-safe."""
    cache: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if cache is None:
        cache = _local.parsers = {}
    parser = cache.get(language)
    if parser is None:
        parser = cache[language] = new_parser(language)
    return parser


@dataclass(slots=True)
class Frame:
    sym: int  # symbol that owns edges found inside (and parents new symbols)
    qname: str  # prefix for names declared inside
    kind: str  # module | namespace | class | function | impl | ...
    owner: str | None = None  # qualified name of the type `this` / `self` denotes inside
    data: dict[str, Any] = field(default_factory=dict)  # per-language extras


@dataclass(slots=True)
class _Site:
    source: int | Callable[[], int]
    kind: str
    target: str
    line: int
    candidates: Candidates | CandidateFn
    alias: str | None


class Ctx:
    """Everything one parse accumulates; language handlers read and extend it."""

    def __init__(
        self, source: bytes, path: str, module_name: str, language: str, sep: str, comment_types: frozenset[str]
    ) -> None:
        self.source = source
        self.path = path
        self.module_name = module_name
        self.language = language
        self.sep = sep
        self.comment_types = comment_types
        self.result = ParsedFile(language=language)
        self.frames: list[Frame] = []
        self.nodes: list[Node] = []  # ancestors of the node being handled, itself last
        self.skip: set[int] = set()  # node ids the walk must neither handle nor descend into
        self.defined: dict[str, int] = {}  # qualified name -> first symbol index
        self.imports: dict[str, Any] = {}  # local name -> language-specific import info
        self.bases: dict[str, list[BaseFn]] = {}  # class qname -> its base candidates
        self.data: dict[str, Any] = {}
        self._sites: list[_Site] = []
        self._budget = EdgeBudget()
        self._pending: Frame | None = None

    # ---- text helpers -------------------------------------------------------------------
    def text(self, node: Node | None) -> str:
        if node is None:
            return ""
        return self.source[node.start_byte : node.end_byte].decode("utf-8", errors="replace")

    def flat(self, node: Node | None, limit: int = MAX_TARGET) -> str:
        """Node text with whitespace collapsed, long receivers elided so targets stay short."""
        if node is None:
            return ""
        end = min(node.end_byte, node.start_byte + 4 * limit)
        text = " ".join(self.source[node.start_byte : end].decode("utf-8", errors="replace").split())
        if len(text) > limit:
            # keep the called name (the tail): the resolver matches on the last segment
            text = "…" + text[-(limit - 1) :]
        return text

    def join(self, prefix: str, name: str, sep: str | None = None) -> str:
        return f"{prefix}{sep or self.sep}{name}" if prefix else name

    # ---- scopes -------------------------------------------------------------------------
    @property
    def frame(self) -> Frame:
        return self.frames[-1]

    @property
    def parent(self) -> Node | None:
        return self.nodes[-2] if len(self.nodes) > 1 else None

    def ancestor(self, levels: int) -> Node | None:
        idx = len(self.nodes) - 1 - levels
        return self.nodes[idx] if idx >= 0 else None

    def enter(self, frame: Frame) -> None:
        """Make `frame` the scope of the current node's descendants."""
        self._pending = frame

    def scope_chain(self, qname: str | None = None) -> list[str]:
        """Prefixes of a scope's qualified name, innermost first, never above the file's root."""
        q = self.frame.qname if qname is None else qname
        root = self.frames[0].qname if self.frames else ""
        chain: list[str] = []
        if q and q != root and root and not q.startswith(root + self.sep):
            chain.append(q)  # a scope named outside the root (C++ out-of-line definitions)
            q = ""
        while q and q != root:
            chain.append(q)
            cut = q.rfind(self.sep)
            q = q[:cut] if cut > 0 else ""
        chain.append(root)
        return chain

    def lookup(self, name: str, chain: list[str], kinds: frozenset[str] | None = None) -> str | None:
        """The qualified name `name` denotes from a scope, if it is defined in this file."""
        for prefix in chain:
            q = self.join(prefix, name)
            idx = self.defined.get(q)
            if idx is not None and (kinds is None or self.result.symbols[idx].kind in kinds):
                return q
        return None

    def member(self, owner: str, name: str, sep: str | None = None) -> Candidates:
        """Candidate for `self.name` inside `owner`: exact when this file defines it."""
        q = self.join(owner, name, sep)
        return ((q, CONF_EXACT if q in self.defined else CONF_SCOPED),)

    def member_later(self, owner: str, name: str, sep: str | None = None) -> CandidateFn:
        """`member`, evaluated once the whole file is known (the method may be defined below)."""
        return lambda: self.member(owner, name, sep)

    # ---- records ------------------------------------------------------------------------
    def add_symbol(
        self,
        kind: str,
        name: str,
        qname: str,
        node: Node,
        *,
        sig_end: int | None = None,
        sig_start: int | None = None,
        doc_anchor: Node | None = None,
        span: Node | None = None,
        doc: str | None = None,
        parent: int | None = None,
        end_node: Node | None = None,
        signature: str | None = None,
    ) -> int:
        span = span or node
        end = end_node or span
        if signature is None:
            signature = self.signature(
                sig_start if sig_start is not None else span.start_byte,
                sig_end if sig_end is not None else end.end_byte,
            )
        if doc is None:
            doc = self.doc_comment(doc_anchor or span)
        symbols = self.result.symbols
        symbols.append(
            Symbol(
                kind=kind,
                name=name,
                qualified_name=qname,
                signature=signature,
                docstring=doc,
                start_line=span.start_point.row + 1,
                end_line=_end_row(end) + 1,
                start_byte=span.start_byte,
                end_byte=end.end_byte,
                parent=self.frame.sym if parent is None else parent,
            )
        )
        idx = len(symbols) - 1
        self.defined.setdefault(qname, idx)
        return idx

    def edge(
        self,
        kind: str,
        target: str,
        node: Node | int,
        candidates: Candidates | CandidateFn = (),
        alias: str | None = None,
        source: int | Callable[[], int] | None = None,
    ) -> None:
        if not target:
            return
        source = self.frame.sym if source is None else source
        if not callable(source) and not self._budget.admit(source, kind, target):
            return
        line = node if isinstance(node, int) else node.start_point.row + 1
        self._sites.append(_Site(source, kind, target, line, candidates, alias))

    # ---- signatures and comments --------------------------------------------------------
    def signature(self, start: int, end: int) -> str:
        end = min(end, start + 4 * MAX_SIGNATURE)
        text = " ".join(self.source[start:end].decode("utf-8", errors="replace").split())
        text = text.rstrip("{;: ").rstrip()
        if text.endswith(" ="):  # a declaration cut before its value
            text = text[:-2].rstrip()
        return text[:MAX_SIGNATURE]

    def doc_comment(self, anchor: Node, skip_types: frozenset[str] = _ATTRIBUTES) -> str | None:
        """The contiguous comment block right above `anchor` (attributes in between allowed)."""
        blocks: list[Node] = []
        cur = anchor
        prev = cur.prev_sibling
        guard = 0
        while prev is not None and guard < 500:
            guard += 1
            if prev.type in skip_types:
                cur, prev = prev, prev.prev_sibling
                continue
            if prev.type not in self.comment_types:
                break
            if _end_row(prev) < cur.start_point.row - 1:
                break  # a blank line separates it
            if prev.start_point.row == 0 and self.text(prev).startswith("#!"):
                break  # the script's interpreter line
            before = prev.prev_sibling
            if (
                before is not None
                and before.type not in self.comment_types
                and _end_row(before) == prev.start_point.row
            ):
                break  # a trailing comment of the previous statement
            blocks.append(prev)
            cur, prev = prev, prev.prev_sibling
        if not blocks:
            return None
        return _clean_comments(self.text(b) for b in reversed(blocks))

    def module_doc(self, root: Node, header_types: frozenset[str]) -> str | None:
        """Leading file comment, unless it is glued to (and so documents) the first declaration."""
        block: list[Node] = []
        child = root.child(0) if root.child_count else None
        while child is not None and child.type in self.comment_types and len(block) < 200:
            if block and child.start_point.row > _end_row(block[-1]) + 1:
                break
            block.append(child)
            child = child.next_sibling
        if not block:
            return None
        if (
            child is not None
            and child.type not in header_types
            and child.start_point.row <= _end_row(block[-1]) + 1
            and not self.text(block[0]).startswith(("//!", "/*!"))
        ):
            return None
        return _clean_comments(self.text(b) for b in block)

    # ---- output -------------------------------------------------------------------------
    def finish(self) -> ParsedFile:
        seen: set[tuple[int, str, str, int, str | None]] = set()
        edges = self.result.edges
        for site in self._sites:
            try:
                source = site.source() if callable(site.source) else site.source
                cands = site.candidates() if callable(site.candidates) else site.candidates
            except Exception:  # a resolution bug must not cost the whole file
                log.debug("candidate resolution failed in %s", self.path, exc_info=True)
                source, cands = (0 if callable(site.source) else site.source), ()
            if cands is None:
                continue
            key = (source, site.kind, site.target, site.line, site.alias)  # `{ a, b: a }` exports a twice
            if key in seen:
                continue
            seen.add(key)
            if callable(site.source) and not self._budget.admit(source, site.kind, site.target):
                continue  # known only now; the others were admitted as they were found
            edges.append(
                RawEdge(
                    source=source,
                    kind=site.kind,
                    target_name=site.target,
                    line=site.line,
                    candidates=_dedupe(cands),
                    alias=site.alias,
                )
            )
        self.result.edges_dropped = self._budget.dropped
        return self.result


def _dedupe(cands: Iterable[tuple[str, float]]) -> Candidates:
    out: list[tuple[str, float]] = []
    seen: set[str] = set()
    for q, conf in cands:
        if q and q not in seen:
            seen.add(q)
            out.append((q, conf))
    return tuple(out)


def _end_row(node: Node) -> int:
    """Last row holding text of the node (line comments may end at column 0 of the next row)."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point.row else row


def _clean_comments(texts: Iterable[str]) -> str | None:
    lines: list[str] = []
    for raw in texts:
        text = raw.strip()
        if text.startswith("/*"):
            text = text[2:]
            text = text.lstrip("*!")
            if text.endswith("*/"):
                text = text[:-2]
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("*"):
                    line = line[1:]
                lines.append(line[1:] if line.startswith(" ") else line)
        elif text.startswith("(*"):  # OCaml's (** doc *)
            lines.extend(line.strip().removesuffix("*)").rstrip() for line in text.lstrip("(*").splitlines())
        elif text.startswith("=begin"):
            lines.extend(line.rstrip() for line in text.splitlines()[1:] if not line.startswith("=end"))
        else:
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("//"):
                    line = line.lstrip("/")
                    if line.startswith("!"):
                        line = line[1:]
                elif line.startswith("#"):
                    line = line.lstrip("#")
                elif line.startswith("--"):  # Lua, Haskell (`-- |` marks a Haddock comment), SQL
                    line = line.lstrip("-").removeprefix(" |")
                lines.append(line[1:] if line.startswith(" ") else line)
    out = "\n".join(lines).strip()
    return out or None


def line_count(source: bytes) -> int:
    if not source:
        return 1
    n = source.count(b"\n")
    return max(1, n if source.endswith(b"\n") else n + 1)


def module_symbol(ctx: Ctx, doc: str | None) -> Symbol:
    name = ctx.module_name.rsplit(".", 1)[-1] if ctx.module_name else posixpath.basename(ctx.path)
    return Symbol(
        kind="module",
        name=name,
        qualified_name=ctx.module_name,
        signature="",
        docstring=doc,
        start_line=1,
        end_line=line_count(ctx.source),
        start_byte=0,
        end_byte=len(ctx.source),
        parent=None,
    )


def walk(ctx: Ctx, root: Node, handlers: Mapping[str, Handler]) -> None:
    """Visit every node once, depth-first, with a cursor: no recursion whatever the nesting.

    A handler may `ctx.enter(frame)` to scope the node's descendants, or return SKIP to prune them.
    """
    cursor = root.walk()
    frames = ctx.frames
    frame_depths = [-1] * len(frames)
    nodes = ctx.nodes
    skip = ctx.skip
    depth = 0
    while True:
        node = cursor.node
        assert node is not None
        while frame_depths[-1] >= depth:
            frame_depths.pop()
            frames.pop()
        del nodes[depth:]
        nodes.append(node)
        descend = True
        handler = handlers.get(node.type)
        if skip and node.id in skip:
            descend = False  # already accounted for by a handler higher up
        elif handler is not None and node.is_named and len(frames) <= MAX_SCOPES:
            # (is_named: keyword tokens share names like "class")
            ctx._pending = None
            if handler(ctx, node) is SKIP:
                descend = False
            elif ctx._pending is not None:
                frames.append(ctx._pending)
                frame_depths.append(depth)
            ctx._pending = None
        if descend and cursor.goto_first_child():
            depth += 1
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return
            depth -= 1


def run(
    source: bytes,
    path: str,
    module_name: str,
    language: str,
    *,
    sep: str,
    comment_types: frozenset[str],
    header_types: frozenset[str],
    handlers: Mapping[str, Handler],
    root_prefix: str | Callable[[Ctx, Node], str] | None = None,
    setup: Callable[[Ctx, Node], None] | None = None,
    after: Callable[[Ctx], None] | None = None,
) -> ParsedFile:
    """Parse `source` and run the language's handlers over it; never raises."""
    ctx = Ctx(source, path, module_name, language, sep, comment_types)
    try:
        tree = get_parser(language).parse(source)
        root = tree.root_node
        ctx.result.has_errors = root.has_error
        ctx.result.symbols.append(module_symbol(ctx, ctx.module_doc(root, header_types)))
        ctx.defined[module_name] = 0
        prefix = (
            root_prefix(ctx, root) if callable(root_prefix) else (module_name if root_prefix is None else root_prefix)
        )
        ctx.frames.append(Frame(sym=0, qname=prefix, kind="module"))
        if setup is not None:
            setup(ctx, root)
        walk(ctx, root, handlers)
        if after is not None:
            after(ctx)  # what needs the whole file seen (Java fields, once the methods are known)
    except Exception:  # robustness over completeness: index what was found so far
        log.warning("parser for %s failed on %s", language, path, exc_info=True)
        ctx.result.has_errors = True
        if not ctx.result.symbols:
            ctx.result.symbols.append(module_symbol(ctx, None))
        del ctx.frames[1:]
        if not ctx.frames:
            ctx.frames.append(Frame(sym=0, qname=module_name, kind="module"))
    try:
        return ctx.finish()
    except Exception:
        log.warning("edge finalisation failed on %s", path, exc_info=True)
        ctx.result.has_errors = True
        return ctx.result


def strip_nested(pattern: re.Pattern[str], text: str) -> str:
    """`text` with every match of `pattern` removed, innermost first (`<A<B>>`, 8 levels deep at most)."""
    for _ in range(8):
        stripped = pattern.sub("", text)
        if stripped == text:
            break
        text = stripped
    return text


def relative_module(path: str, target: str, strip_exts: tuple[str, ...]) -> str | None:
    """Module name of `target` resolved against the directory of `path` ("./a" -> "src.a")."""
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
    if joined.startswith("..") or joined.startswith("/") or joined in (".", ""):
        return None
    for ext in strip_exts:
        if joined.endswith(ext):
            joined = joined[: -len(ext)]
            break
    return joined.replace("/", ".")
