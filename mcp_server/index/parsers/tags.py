"""Symbols and call edges of languages without a hand-written parser, from the grammar's tags query."""

from __future__ import annotations

import functools
import importlib
import importlib.resources
import logging

from tree_sitter import Node, Query, QueryCursor

from ..languages import grammar, grammar_module
from ..records import CONF_SCOPED, CONF_UNIQUE, NAME_FALLBACK, EdgeBudget, ParsedFile, RawEdge, Symbol
from ._generic import Ctx, get_parser, module_symbol

log = logging.getLogger(__name__)

# tags.scm capture suffix -> symbol kind
_KINDS = {
    "module": "namespace",
    "namespace": "namespace",
    "class": "class",
    "interface": "interface",
    "function": "function",
    "method": "method",
}
_COMMENTS = frozenset({"comment", "block_comment", "line_comment", "multiline_comment"})
_SEP = "."
# Definitions whose tag is a field or constant are left to the chunker: only the above are symbols.

# Patterns the shipped tags.scm lacks (PHP's plain `f()` call), and whole queries for grammars
# that ship none (Bash).
_EXTRA: dict[str, str] = {
    "php": "(function_call_expression function: (name) @name) @reference.call",
    "bash": """
(function_definition name: (word) @name) @definition.function
(command name: (command_name (word) @name)) @reference.call
""",
    "kotlin": """
(package_header (qualified_identifier) @name) @definition.module
(class_declaration name: (identifier) @name) @definition.class
(object_declaration name: (identifier) @name) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(call_expression . (identifier) @name) @reference.call
(call_expression . (navigation_expression (identifier) @name .)) @reference.call
""",
    "swift": """
(call_expression . (simple_identifier) @name) @reference.call
(call_expression . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @name))) @reference.call
""",
}
# Where a grammar gives the body no field name, the first child of these types ends the signature.
_BODIES = frozenset({"class_body", "function_body", "enum_class_body", "block"})


@functools.cache
def _query(language: str) -> Query:
    name = grammar_module(language)
    shipped = getattr(importlib.import_module(name), "TAGS_QUERY", None)
    if shipped is None:  # some wheels ship the query as a file only
        path = importlib.resources.files(name) / "queries" / "tags.scm"
        shipped = path.read_text(encoding="utf-8") if path.is_file() else ""
    return Query(grammar(language), shipped + "\n" + _EXTRA.get(language, ""))


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    ctx = Ctx(source, path, module_name, language, _SEP, _COMMENTS)
    result = ctx.result
    try:
        root = get_parser(language).parse(source).root_node
        result.has_errors = root.has_error
        result.symbols.append(module_symbol(ctx, ctx.module_doc(root, frozenset())))
        defs: list[tuple[Node, Node, str]] = []
        refs: list[tuple[Node, Node]] = []
        for _, caps in QueryCursor(_query(language)).matches(root):
            names = caps.get("name")
            if not names:
                continue
            for key, nodes in caps.items():
                tag, _, what = key.partition(".")
                if tag == "definition" and what in _KINDS:
                    defs.append((nodes[0], names[0], _KINDS[what]))
                elif tag == "reference" and what == "call":
                    refs.append((nodes[0], names[0]))
        _symbols(ctx, defs)
        _calls(ctx, refs)
    except Exception:  # a grammar bug must not stop the indexing of the rest of the repository
        log.exception("tags parse failed for %s", path)
    return result


def _symbols(ctx: Ctx, defs: list[tuple[Node, Node, str]]) -> None:
    # Sorted outer first, so a stack of open definitions gives each one its parent.
    defs.sort(key=lambda d: (d[0].start_byte, -d[0].end_byte))
    stack: list[tuple[int, int]] = []  # (end_byte, symbol index)
    seen: set[int] = set()
    syms = ctx.result.symbols
    namespace = ""  # a bodiless `namespace A\B;` qualifies what follows it, up to the next one
    for node, name_node, kind in defs:
        if node.id in seen:
            continue
        seen.add(node.id)
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        parent = stack[-1][1] if stack else 0
        name = ctx.text(name_node).replace("\\", ".")
        if parent and syms[parent].kind in ("class", "interface") and kind == "function":
            kind = "method"
        body = node.child_by_field_name("body") or next((c for c in node.children if c.type in _BODIES), None)
        if body is not None and name_node.start_byte >= body.start_byte:
            # A name inside the body: Swift's tags.scm tags each class @definition.method once per
            # method; the method itself is tagged on its own.
            continue
        if kind == "namespace":
            prefix = ""  # a namespace is global: `App\Models` is the same in every file
            if body is None:
                namespace = name
        elif parent:
            prefix = syms[parent].qualified_name
        else:
            prefix = namespace or ctx.module_name
        syms.append(
            Symbol(
                kind=kind,
                name=name.rsplit(".", 1)[-1],
                qualified_name=ctx.join(prefix, name),
                signature=ctx.signature(node.start_byte, body.start_byte if body else node.end_byte),
                docstring=ctx.doc_comment(node),
                start_line=node.start_point.row + 1,
                end_line=node.end_point.row + 1,
                start_byte=node.start_byte,
                end_byte=node.end_byte,
                parent=parent,
            )
        )
        stack.append((node.end_byte, len(syms) - 1))


def _calls(ctx: Ctx, refs: list[tuple[Node, Node]]) -> None:
    syms = ctx.result.symbols
    by_name: dict[str, list[str]] = {}
    for s in syms[1:]:
        if s.kind in ("function", "method", "class"):
            by_name.setdefault(s.name, []).append(s.qualified_name)
    budget = EdgeBudget()
    for node, name_node in refs:
        name = ctx.text(name_node).lstrip("$")
        source = 0
        for i in range(len(syms) - 1, 0, -1):  # innermost definition holding the site
            if syms[i].start_byte <= node.start_byte < syms[i].end_byte and syms[i].kind != "namespace":
                source = i
                break
        target = ctx.flat(node.child_by_field_name("function") or name_node)
        if not budget.admit(source, "calls", target):
            ctx.result.edges_dropped += 1
            continue
        local = by_name.get(name, [])
        # A name defined once in this file most likely is that definition, but the tags query
        # does not see receivers or imports, so it is never certain; else a repository-unique name.
        cands = ((local[0], CONF_SCOPED),) if len(local) == 1 else ()
        ctx.result.edges.append(
            RawEdge(
                source=source,
                kind="calls",
                target_name=target,
                line=node.start_point.row + 1,
                candidates=cands + ((NAME_FALLBACK, CONF_UNIQUE),),
            )
        )
