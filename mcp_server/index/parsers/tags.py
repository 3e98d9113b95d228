"""Symbols and call edges of languages without a hand-written parser, from the grammar's tags query."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.resources
import logging

from tree_sitter import Node, Query, QueryCursor

from ..languages import grammar, grammar_module
from ..records import (
    CONF_SCOPED,
    CONF_UNIQUE,
    NAME_FALLBACK,
    NO_GUESS,
    EdgeBudget,
    ParsedFile,
    Symbol,
)
from ._generic import MAX_TARGET, Ctx, get_parser, module_symbol
from ._php_types import PhpTypes
from ._tags_docs import LANGUAGES as _CODE_DOCS
from ._tags_docs import code_doc
from ._tags_imports import LANGUAGES as _IMPORTING
from ._tags_imports import PATH_SPLIT as _PATH_SPLIT
from ._tags_imports import Imports, add_edge, read_imports, swift_module

log = logging.getLogger(__name__)

# tags.scm capture suffix -> symbol kind
_KINDS = {
    "module": "namespace",
    "namespace": "namespace",
    "class": "class",
    "object": "class",
    "mixin": "class",
    "extension": "class",
    "enum": "enum",
    "interface": "interface",
    "function": "function",
    "method": "method",
}
_COMMENTS = frozenset(
    {"comment", "block_comment", "line_comment", "multiline_comment", "haddock", "documentation_comment"}
)
# Nodes that may sit between a doc comment and what it documents (Haskell's type signature).
_DOC_SKIP = frozenset({"attribute_item", "decorator", "signature"})
_SEP = "."
# Definitions whose tag is a field or constant are left to the chunker: only the above are symbols.

# Patterns the shipped tags.scm lacks (PHP's plain `f()` call), and whole queries for grammars
# that ship none (Bash).
_EXTRA: dict[str, str] = {
    "php": """
(function_call_expression function: (name) @name) @reference.call
(object_creation_expression [(name) @name (qualified_name (name) @name .)]) @reference.call
(nullsafe_member_call_expression name: (name) @name) @reference.call
""",
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
    "scala": "(call_expression function: (field_expression field: (identifier) @name)) @reference.call",
    "swift": """
(call_expression . (simple_identifier) @name) @reference.call
(call_expression . (navigation_expression suffix: (navigation_suffix suffix: (simple_identifier) @name))) @reference.call
""",
    "haskell": """
(header module: (module) @name) @definition.module
(declarations (function name: (variable) @name) @definition.function)
(declarations (bind name: (variable) @name) @definition.function)
(declarations (data_type name: (name) @name) @definition.class)
(declarations (newtype name: (name) @name) @definition.class)
(declarations (class name: (name) @name) @definition.interface)
(apply function: (variable) @name) @reference.call
(apply function: (qualified (variable) @name)) @reference.call
""",
    "zig": """
(variable_declaration (identifier) @name [(struct_declaration) (enum_declaration) (union_declaration)]) @definition.class
(function_declaration name: (identifier) @name) @definition.function
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression member: (identifier) @name)) @reference.call
""",
    "julia": """
(module_definition name: (identifier) @name) @definition.module
(struct_definition (type_head (identifier) @name)) @definition.class
(struct_definition (type_head (binary_expression . (identifier) @name))) @definition.class
(abstract_definition (type_head (identifier) @name)) @definition.class
(function_definition (signature (call_expression . (identifier) @name))) @definition.function
(function_definition (signature (typed_expression (call_expression . (identifier) @name)))) @definition.function
(macro_definition (signature (call_expression . (identifier) @name))) @definition.function
(assignment . (call_expression . (identifier) @name)) @definition.function
(call_expression . (identifier) @name) @reference.call
(call_expression . (field_expression (identifier) @name .)) @reference.call
""",
    "perl": """
(package_statement name: (package) @name) @definition.module
(subroutine_declaration_statement name: (bareword) @name) @definition.function
(function_call_expression function: (function) @name) @reference.call
(method_call_expression method: (method) @name) @reference.call
""",
    "objc": """
(class_interface . (identifier) @name) @definition.class
(class_implementation . (identifier) @name) @definition.class
(protocol_declaration . (identifier) @name) @definition.interface
(method_definition (identifier) @name) @definition.method
(method_declaration (identifier) @name) @definition.method
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @definition.function
(message_expression method: (identifier) @name) @reference.call
(call_expression function: (identifier) @name) @reference.call
""",
}
# Receivers that name the enclosing class itself, and its base.
_SELF = frozenset({"this", "self", "$this", "static", "Self"})
_BASE = frozenset({"parent", "super"})
# Grammars whose shipped tags.scm is replaced rather than extended: Dart's tags every identifier
# followed by a selector as a call.
_OWN: dict[str, str] = {
    "dart": """
(class_definition name: (identifier) @name) @definition.class
(mixin_declaration (identifier) @name) @definition.mixin
(extension_declaration name: (identifier) @name) @definition.extension
(enum_declaration name: (identifier) @name) @definition.enum
(method_signature (function_signature name: (identifier) @name)) @definition.method
(method_signature (getter_signature name: (identifier) @name)) @definition.method
(method_signature (setter_signature name: (identifier) @name)) @definition.method
(program (function_signature name: (identifier) @name) @definition.function)
(_ (identifier) @name @reference.call . (selector (argument_part)))
(_ (selector (unconditional_assignable_selector (identifier) @name @reference.call)) . (selector (argument_part)))
(_ (selector (conditional_assignable_selector (identifier) @name @reference.call)) . (selector (argument_part)))
""",
}
# Modules that nest inside the file's module (OCaml's `module M = struct`), where elsewhere a
# module or namespace names itself in full (`defmodule Shop.Cart`, `namespace App\Models`).
_NESTED_MODULES = frozenset({"ocaml"})
# Dart's grammar puts a function's body beside its signature, not inside it.
_TRAILING_BODY = "function_body"
# Where a grammar gives the body no field name, the first child of these types ends the signature.
_BODIES = frozenset(
    {"class_body", "function_body", "enum_class_body", "block", "struct_declaration", "implementation_definition"}
)


@functools.cache
def _query(language: str) -> Query:
    if language in _OWN:
        return Query(grammar(language), _OWN[language])
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
        ignored: set[int] = set()  # names a pattern captured as @ignore (Elixir's `def`, `if`)
        for _, caps in QueryCursor(_query(language)).matches(root):
            ignored.update(n.id for n in caps.get("ignore", ()))
            names = caps.get("name")
            if not names:
                continue
            for key, nodes in caps.items():
                tag, _, what = key.partition(".")
                if tag == "definition" and what in _KINDS:
                    defs.append((nodes[0], names[0], _KINDS[what]))
                elif tag == "reference" and what == "call":
                    refs.append((nodes[0], names[0]))
        # A Swift package's target is one module: its files name their definitions after it.
        package = _symbols(ctx, defs, (swift_module(path) or "") if language == "swift" else "")
        # Julia's `f(x) = ...` defines f with what the grammar also reads as a call of it.
        named = ignored | {name.id for _, name, _ in defs}
        imports = read_imports(ctx, root)
        php = PhpTypes(ctx, root, imports.bound, package) if language == "php" else None
        _calls(ctx, [r for r in refs if r[1].id not in named], imports, package, php)
    except Exception:  # a grammar bug must not stop the indexing of the rest of the repository
        log.exception("tags parse failed for %s", path)
    return result


def _symbols(ctx: Ctx, defs: list[tuple[Node, Node, str]], namespace: str) -> str:
    """Appends the definitions as symbols; returns the file's package (its bodiless namespace, else
    the `namespace` given)."""
    # Sorted outer first, so a stack of open definitions gives each one its parent.
    defs.sort(key=lambda d: (d[0].start_byte, -d[0].end_byte))
    stack: list[tuple[int, int]] = []  # (end_byte, symbol index)
    seen: set[int] = set()
    syms = ctx.result.symbols
    # a bodiless `namespace A\B;` qualifies what follows it, up to the next one
    for node, name_node, kind in defs:
        if node.id in seen:
            continue
        seen.add(node.id)
        trailing = node.next_sibling
        end = trailing if trailing is not None and trailing.type == _TRAILING_BODY else node
        while stack and stack[-1][0] <= node.start_byte:
            stack.pop()
        parent = stack[-1][1] if stack else 0
        name = ctx.text(name_node).replace("\\", ".").replace("::", ".")
        if parent and syms[parent].kind in ("class", "interface") and kind == "function":
            kind = "method"
        body = node.child_by_field_name("body") or next((c for c in node.children if c.type in _BODIES), None)
        if body is not None and name_node.start_byte >= body.start_byte:
            # A name inside the body: Swift's tags.scm tags each class @definition.method once per
            # method; the method itself is tagged on its own.
            continue
        if kind == "namespace" and ctx.language not in _NESTED_MODULES:
            prefix = ""  # a namespace is global: `App\Models` is the same in every file
            if body is None and node.end_point.row == name_node.end_point.row:
                namespace = name
        elif parent:
            prefix = syms[parent].qualified_name
        else:
            prefix = namespace or ctx.module_name
        qualified_name = ctx.join(prefix, name)
        last = syms[-1]
        if len(syms) > 1 and last.qualified_name == qualified_name and last.parent == parent:
            # Another clause of the same definition (Haskell equations, Elixir `def` heads).
            syms[-1] = dataclasses.replace(last, end_line=end.end_point.row + 1, end_byte=end.end_byte)
            stack.append((end.end_byte, len(syms) - 1))
            continue
        # Without a body node the signature is the definition's first line.
        sig_end = body.start_byte if body else ctx.source.find(b"\n", name_node.end_byte, node.end_byte)
        syms.append(
            Symbol(
                kind=kind,
                name=name.rsplit(".", 1)[-1],
                qualified_name=qualified_name,
                signature=ctx.signature(node.start_byte, sig_end if sig_end > 0 else node.end_byte),
                docstring=_doc(ctx, node),
                start_line=node.start_point.row + 1,
                end_line=end.end_point.row + 1,
                start_byte=node.start_byte,
                end_byte=end.end_byte,
                parent=parent,
            )
        )
        stack.append((end.end_byte, len(syms) - 1))
    return namespace


def _doc(ctx: Ctx, node: Node) -> str | None:
    if ctx.language in _CODE_DOCS:
        return code_doc(ctx, node) or ctx.doc_comment(node, _DOC_SKIP)
    doc = ctx.doc_comment(node, _DOC_SKIP)
    parent = node.parent
    if doc is None and parent is not None and parent.parent is not None and parent.named_children[0] == node:
        # The comment documents the statement the definition opens (OCaml's `let` around its binding).
        doc = ctx.doc_comment(parent, _DOC_SKIP)
    return doc


def _calls(ctx: Ctx, refs: list[tuple[Node, Node]], imports: Imports, package: str, php: PhpTypes | None) -> None:
    syms = ctx.result.symbols
    by_name: dict[str, list[str]] = {}
    for s in syms[1:]:
        if s.kind in ("function", "method", "class"):
            by_name.setdefault(s.name, []).append(s.qualified_name)
    budget = EdgeBudget()
    for node, name_node in refs:
        name = ctx.text(name_node).lstrip("$")
        if not any(c.isalnum() or c == "_" for c in name):
            continue  # an operator applied (OCaml's `( + )`), not a named callee
        if ctx.language == "bash" and name == "source":
            continue  # an import, read as one
        if ctx.language == "elixir" and _in_attribute(node):
            continue  # `@spec send_all(list) :: :ok` names a function, and calls nothing
        source = 0
        for i in range(len(syms) - 1, 0, -1):  # innermost definition holding the site
            if syms[i].start_byte <= node.start_byte < syms[i].end_byte and syms[i].kind not in ("namespace", "field"):
                source = i
                break
        callee = node.child_by_field_name("function") or node.child_by_field_name("target")  # Elixir's
        if callee is not None or name_node.start_byte < node.start_byte:
            target = ctx.flat(callee or name_node)
        else:  # the site up to the name: `User::find`, `$this->save`, `ledger.balance`
            written = ctx.source[node.start_byte : name_node.end_byte].decode("utf-8", errors="replace")
            target = " ".join(written.split()).removeprefix("new ").lstrip("[")[:MAX_TARGET]
        if not budget.admit(source, "calls", target):
            ctx.result.edges_dropped += 1
            continue
        head, *rest = _PATH_SPLIT.split(target.lstrip("\\").replace(" ", "."))
        local = by_name.get(name, [])
        fallback: tuple[tuple[str, float], ...] = ((NAME_FALLBACK, CONF_UNIQUE),)
        cands: tuple[tuple[str, float], ...] = ()
        typed = _typed(php, node, name) if php is not None else None
        if typed is not None:  # PHP: the receiver's declared type, or the base's for `parent::`
            cands, fallback = typed, ()
        elif head in imports.bound:  # `User::find` after `use App\Models\User`
            cands = ((".".join([imports.bound[head], *rest]), CONF_SCOPED),)
        elif len(rest) == 1 and head in _SELF:  # `$this->save()`, `self.total()`: the class's own
            owner = _enclosing_class(syms, source)
            cands = ((f"{owner}.{name}", CONF_SCOPED),) if owner else ()
        elif rest and head in _BASE:  # `parent::reset()`: a base's, which the tags query cannot see
            owner = _enclosing_class(syms, source)
            if owner and f"{owner}.{name}" in local:
                # `super.requestLayout()` in the override: the one definition of the name a guess
                # could find is the override itself, never the base's (a library's, here).
                fallback = ((NO_GUESS, CONF_UNIQUE),)
        elif rest and (head.startswith("$") or head[:1].islower()):
            # A variable's member (`$record->format()`, `cart.total()`): its type is unknown here,
            # and a name guess is wrong more often than right.
            fallback = ((NO_GUESS, CONF_UNIQUE),)
        else:
            # A name defined once in this file most likely is that definition, but the tags query
            # does not see types, so it is never certain; else a repository-unique name.
            cands = ((local[0], CONF_SCOPED),) if len(local) == 1 else ()
            if ctx.language in _IMPORTING and (not rest or head[:1].isupper()):
                cands += _scoped(cands, [head, *rest], package, imports.modules)
        add_edge(ctx, source, "calls", target, node.start_point.row + 1, cands + fallback)


def _typed(php: PhpTypes, node: Node, name: str) -> tuple[tuple[str, float], ...] | None:
    """`$this->handler->handle()`: `handle` on the class the receiver is declared to hold."""
    if node.type in ("member_call_expression", "nullsafe_member_call_expression"):
        path = php.receiver(node)
    elif node.type == "scoped_call_expression" and php.ctx.text(node.child_by_field_name("scope") or node) == "parent":
        path = php.scope(node)
    else:
        return None
    return ((f"{path}.{name}", CONF_SCOPED),) if path else None


def _in_attribute(node: Node) -> bool:
    """Whether the node lies inside an Elixir module attribute (`@spec`, `@type`, `@doc`)."""
    at = node.parent
    while at is not None:
        first = at.child(0)
        if at.type == "unary_operator" and first is not None and first.type == "@":
            return True
        at = at.parent
    return False


def _scoped(
    cands: tuple[tuple[str, float], ...], path: list[str], package: str, modules: list[str]
) -> tuple[tuple[str, float], ...]:
    """What `helper()` or `Cart.of()` may be beyond this file: Kotlin/Scala packages, PHP namespaces
    and Swift modules span files, so the package's own, defined in another file; then the same in
    each module the file imports whole (`import Pricing`, `source lib.sh`), or a name of one of
    them written out (`Pricing.apply()`)."""
    written = ".".join(path)
    if len(path) > 1 and path[0] in modules:
        qualified = [written]
    else:
        qualified = [f"{scope}.{written}" for scope in ([package] if package else []) + modules]
    known = {q for q, _ in cands}
    out: list[tuple[str, float]] = []
    for q in qualified:
        if q not in known:
            known.add(q)
            out.append((q, CONF_SCOPED))
    return tuple(out)


def _enclosing_class(syms: list[Symbol], index: int) -> str | None:
    at: int | None = index
    while at:
        if syms[at].kind in ("class", "interface", "enum"):
            return syms[at].qualified_name
        at = syms[at].parent
    return None
