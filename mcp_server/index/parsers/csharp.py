"""C# parser: namespaces, types, methods, constructors, usings, calls, base lists, type references."""

from __future__ import annotations

import re
from dataclasses import replace
from functools import partial
from typing import NamedTuple

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, CONF_UNIQUE, NAME_FALLBACK, ParsedFile
from ._csharp_types import declare, declared
from ._generic import CLASS_KINDS, SKIP, CandidateFn, Candidates, Ctx, Frame, Handler, run

_COMMENTS = frozenset({"comment"})
_HEADERS = frozenset(
    {"using_directive", "namespace_declaration", "file_scoped_namespace_declaration", "extern_alias_directive"}
)
_TYPES = {
    "class_declaration": "class",
    "struct_declaration": "struct",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "record_struct_declaration": "struct",
    "delegate_declaration": "type",
}
_CALLABLE = frozenset({"method", "function", "constructor"})
# framework types: guessing them into the file's namespaces would only add noise
_FRAMEWORK = frozenset(
    {
        "String",
        "Object",
        "Int32",
        "Int64",
        "Boolean",
        "Double",
        "Decimal",
        "Guid",
        "DateTime",
        "DateTimeOffset",
        "TimeSpan",
        "Task",
        "ValueTask",
        "List",
        "Dictionary",
        "HashSet",
        "IEnumerable",
        "IList",
        "ICollection",
        "IDictionary",
        "IReadOnlyList",
        "IReadOnlyCollection",
        "IReadOnlyDictionary",
        "IEnumerator",
        "Action",
        "Func",
        "Exception",
        "ArgumentException",
        "ArgumentNullException",
        "InvalidOperationException",
        "NotImplementedException",
        "NotSupportedException",
        "CancellationToken",
        "IDisposable",
        "IAsyncDisposable",
        "Attribute",
        "Type",
        "Nullable",
        "Span",
        "ReadOnlySpan",
        "Memory",
        "Console",
        "Math",
        "Enumerable",
        "StringBuilder",
        "Stream",
        "Lazy",
        "Tuple",
        "EventArgs",
        "EventHandler",
        "IEquatable",
        "IComparable",
        "Array",
        "var",
        "dynamic",
        "nameof",
    }
)
_TYPE_WRAPPERS = frozenset(
    {
        "generic_name",
        "type_argument_list",
        "nullable_type",
        "array_type",
        "pointer_type",
        "ref_type",
        "tuple_type",
        "tuple_element",
    }
)
_XML_TAG = re.compile(r"</?[A-Za-z][^<>]*?/?>")
# Conditional-compilation lines: inside a base list or a member's head (`class JToken : IJsonLineInfo
# #if !PORTABLE , ICloneable #endif {`) tree-sitter-c-sharp loses the whole class; blanked (same
# byte offsets), every branch is read, as the grammar does with directives between declarations.
_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(?:if|elif|else|endif|region|endregion)\b[^\n]*", re.M)
# Keywords tree-sitter's error recovery can take for a local function's name (`if (x) {`).
_KEYWORDS = frozenset({"if", "while", "for", "foreach", "switch", "using", "lock", "catch", "fixed", "return"})
# A member of a framework type (`Math.Max`, `string.Join`, `System.Enum.IsDefined`) is no
# repository method, whatever it is named: this candidate names one no repository defines, which
# keeps the resolver from guessing by the bare name.
_FRAMEWORK_NS = ("System", "Microsoft")


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    source = _DIRECTIVE.sub(lambda m: b" " * len(m.group(0)), source)
    return run(
        source,
        path,
        module_name,
        language,
        sep=".",
        comment_types=_COMMENTS,
        header_types=_HEADERS,
        handlers=_HANDLERS,
        root_prefix="",
    )


def _doc(ctx: Ctx, node: Node) -> str | None:
    doc = ctx.doc_comment(node)
    if doc is None:
        return None
    return "\n".join(line.strip() for line in _XML_TAG.sub("", doc).splitlines() if line.strip()) or None


def _sig(ctx: Ctx, node: Node, end: int) -> str:
    start = next((c.start_byte for c in node.children if c.type != "attribute_list"), node.start_byte)
    return ctx.signature(start, end)


def _body_start(node: Node) -> int:
    body = node.child_by_field_name("body")
    return body.start_byte if body is not None else node.end_byte


def _owners(ctx: Ctx) -> list[str]:
    return [f.owner for f in reversed(ctx.frames) if f.kind == "class" and f.owner]


class _Scope(NamedTuple):
    chain: list[str]  # lexical scopes, innermost first
    namespaces: list[str]  # enclosing namespaces and their parents, innermost first


def _scope(ctx: Ctx, qname: str | None = None) -> _Scope:
    spaces: list[str] = []
    for frame in reversed(ctx.frames):
        if frame.kind == "namespace":
            ns = frame.qname
            while ns and ns not in spaces:
                spaces.append(ns)
                ns = ns.rpartition(".")[0]
    return _Scope(ctx.scope_chain(qname), spaces)


def _type_cands(ctx: Ctx, text: str, scope: _Scope) -> Candidates:
    """A type as written: this file's, a `using X = ...` alias, else guesses in visible namespaces."""
    chain = scope.chain
    head, _, rest = text.partition(".")
    suffix = "." + rest if rest else ""
    local = ctx.lookup(head, chain, CLASS_KINDS)
    if local is not None:
        return ((local + suffix, CONF_EXACT),)
    if head in ctx.imports:
        return ((ctx.imports[head] + suffix, CONF_SCOPED),)
    if head in _FRAMEWORK or not head[:1].isupper():
        return ()
    # framework namespaces cannot hold this repository's types
    spaces = scope.namespaces + [u for u in ctx.data.get("usings", []) if not u.startswith(("System", "Microsoft."))]
    return tuple((f"{ns}.{text}", CONF_SCOPED) for ns in spaces[:6])


# ---- definitions ------------------------------------------------------------------------


def _namespace(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = ctx.flat(name_node).replace(" ", "")
    qname = ctx.join(ctx.frame.qname, name)
    if node.type == "file_scoped_namespace_declaration":
        # covers the rest of the file, so it becomes the file's root scope
        idx = ctx.add_symbol("namespace", name, qname, node, signature=f"namespace {name}", doc=_doc(ctx, node))
        ctx.result.symbols[idx] = replace(
            ctx.result.symbols[idx], end_line=ctx.result.symbols[0].end_line, end_byte=len(ctx.source)
        )
        ctx.frames[0] = Frame(idx, qname, "namespace")
        return SKIP
    idx = ctx.add_symbol("namespace", name, qname, node, sig_end=_body_start(node), doc=_doc(ctx, node))
    ctx.enter(Frame(idx, qname, "namespace"))
    return None


def _type(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    kind = _TYPES[node.type]
    name = ctx.text(name_node)
    qname = ctx.join(ctx.frame.qname, name)
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    idx = ctx.add_symbol(kind, name, qname, node, signature=_sig(ctx, node, end), doc=_doc(ctx, node))
    tps = node.child_by_field_name("type_parameters")
    tparams = {ctx.text(p.child_by_field_name("name")) for p in tps.named_children} if tps is not None else set()
    if kind != "type":
        ctx.enter(Frame(idx, qname, "class", qname, {"tparams": tparams}))
    return None


def _bases(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    if frame.kind != "class":
        return SKIP
    scope = _scope(ctx, ctx.frames[-2].qname if len(ctx.frames) > 1 else None)
    for i, t in enumerate(node.named_children):
        if t.type == "primary_constructor_base_type":
            t = t.named_child(0) or t
        if t.type == "generic_name":
            t = t.named_child(0) or t
        if t.type not in ("identifier", "qualified_name"):
            continue
        target = ctx.flat(t).replace(" ", "")
        fn = partial(_type_cands, ctx, target, scope)
        ctx.edge("inherits", target, t, fn)
        simple = target.rsplit(".", 1)[-1]
        if i == 0 and not (simple[:1] == "I" and simple[1:2].isupper()):  # IFoo names an interface
            ctx.bases.setdefault(frame.qname, []).append(fn)
    return SKIP


def _method(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = ctx.text(name_node)
    if node.type == "local_function_statement":
        if name in _KEYWORDS:
            return None
        kind = "function"
    elif frame.kind != "class":
        return None
    else:
        kind = "constructor" if node.type == "constructor_declaration" else "method"
    qname = ctx.join(frame.qname, name)
    idx = ctx.add_symbol(kind, name, qname, node, signature=_sig(ctx, node, _body_start(node)), doc=_doc(ctx, node))
    tps = node.child_by_field_name("type_parameters")
    tparams = {ctx.text(p.child_by_field_name("name")) for p in tps.named_children} if tps is not None else set()
    ctx.enter(Frame(idx, qname, "function", frame.owner, {"tparams": tparams}))
    return None


# ---- usings, calls, references ----------------------------------------------------------


def _using(ctx: Ctx, node: Node) -> bool | None:
    alias_node = node.child_by_field_name("name")
    target = next(
        (
            c
            for c in node.named_children
            if c.type in ("identifier", "qualified_name", "generic_name")
            and (alias_node is None or c.id != alias_node.id)
        ),
        None,
    )
    if target is None:
        return SKIP
    path = ctx.flat(target).replace(" ", "")
    is_static = any(c.type == "static" for c in node.children)
    if alias_node is not None:
        alias = ctx.text(alias_node)
        ctx.imports[alias] = path
        ctx.edge("imports", path, node, ((path, CONF_EXACT),), alias=alias)
    else:
        ctx.data.setdefault("static_usings" if is_static else "usings", []).append(path)
        ctx.edge("imports", path, node, ((path, CONF_EXACT),))
    return SKIP


def _invocation(ctx: Ctx, node: Node) -> bool | None:
    fn = node.child_by_field_name("function")
    if fn is None:
        return None
    owners = _owners(ctx)
    scope = _scope(ctx)
    if fn.type in ("identifier", "generic_name"):
        name = ctx.text(fn.named_child(0) if fn.type == "generic_name" and fn.named_child_count else fn)
        if name == "nameof":
            return None

        def bare() -> Candidates:
            local = ctx.lookup(name, scope.chain, _CALLABLE)
            if local is not None:
                return ((local, CONF_EXACT),)
            statics = tuple((f"{s}.{name}", CONF_SCOPED) for s in ctx.data.get("static_usings", []))
            return (((f"{owners[0]}.{name}", CONF_SCOPED),) if owners else ()) + statics

        ctx.edge("calls", name, node, bare)
    elif fn.type == "member_access_expression":
        name_node = fn.child_by_field_name("name")
        if name_node is None:
            return None
        if name_node.type == "generic_name" and name_node.named_child_count:
            name_node = name_node.named_child(0)
        name = ctx.text(name_node)
        target = ctx.flat(fn)
        receiver = fn.child_by_field_name("expression")
        first = fn.child(0)
        if first is not None and first.type == "this" and owners:
            ctx.edge("calls", target, name_node, ctx.member_later(owners[0], name))
        elif first is not None and first.type == "base" and owners:
            owner = owners[0]

            def base() -> Candidates:
                for fn_ in ctx.bases.get(owner, [])[:1]:
                    return tuple((f"{q}.{name}", CONF_SCOPED) for q, _ in fn_())
                return ()

            ctx.edge("calls", target, name_node, base)
        elif receiver is not None and _framework_receiver(ctx, receiver):
            ctx.edge("calls", target, name_node, ((f"{ctx.flat(receiver)}.{name}", CONF_SCOPED),))
        elif (
            receiver is not None
            and receiver.type in ("identifier", "qualified_name")
            and ctx.flat(receiver).rsplit(".", 1)[-1][:1].isupper()
        ):
            text = ctx.flat(receiver).replace(" ", "")
            ctx.edge(
                "calls",
                target,
                name_node,
                lambda: tuple(c for q, _ in _type_cands(ctx, text, scope) for c in ctx.member(q, name)),
            )
        elif receiver is not None and receiver.type == "identifier":
            ctx.edge("calls", target, name_node, _declared_member(ctx, receiver, name, scope))
        elif (
            receiver is not None
            and receiver.type == "member_access_expression"
            and receiver.child(0) is not None
            and receiver.child(0).type == "this"
        ):
            field = receiver.child_by_field_name("name")  # `this._writer.Write()`
            ctx.edge("calls", target, name_node, _declared_member(ctx, field, name, scope))
        else:
            ctx.edge("calls", target, name_node)
    return None


def _declared_member(ctx: Ctx, var: Node | None, name: str, scope: _Scope) -> CandidateFn:
    """`reader.Read()` where `JsonReader reader` is a parameter, local or field: JsonReader's Read
    (or a base's). A type outside the repository has none; then only an extension method of the
    repository may be guessed by name (`format.FormatWith(...)` on a string)."""
    if var is None or var.type != "identifier":
        return lambda: ()
    text, at = ctx.text(var), var.start_byte

    def cands() -> Candidates:
        d = declared(ctx, text, at)  # once the whole file is read: fields may come below
        if d is None:
            return ()
        typed = tuple(c for q, _ in _type_cands(ctx, d.type, scope) for c in ctx.member(q, name)) if d.type else ()
        return (*typed, (NAME_FALLBACK, CONF_UNIQUE))

    return cands


def _framework_receiver(ctx: Ctx, receiver: Node) -> bool:
    """`string.Join`, `Math.Max`, `System.Enum.IsDefined`: a framework type's member (unless this
    file declares or aliases a type of that name)."""
    if receiver.type == "predefined_type":
        return True
    text = ctx.flat(receiver).replace(" ", "")
    head = text.partition(".")[0]
    if head in ctx.imports or ctx.lookup(head, ctx.scope_chain(), CLASS_KINDS) is not None:
        return False
    return head in _FRAMEWORK_NS or (head in _FRAMEWORK and "." not in text)


def _new(ctx: Ctx, node: Node) -> bool | None:
    tnode = node.child_by_field_name("type")
    if tnode is not None and tnode.type == "generic_name":
        tnode = tnode.named_child(0)
    if tnode is None or tnode.type not in ("identifier", "qualified_name"):
        return None
    ctx.skip.add(tnode.id)
    target = ctx.flat(tnode).replace(" ", "")
    scope = _scope(ctx)
    ctx.edge("calls", target, node, lambda: _type_cands(ctx, target, scope))
    return None


def _typed(ctx: Ctx, node: Node) -> bool | None:
    """Declarations whose `type` / `returns` field names types: parameters, variables, members."""
    tnode = node.child_by_field_name("type") or node.child_by_field_name("returns")
    if tnode is None:
        return None
    if node.type == "method_declaration":
        _method(ctx, node)  # the method itself is still a definition
    elif node.type == "parameter":
        declare(ctx, node.child_by_field_name("name"), tnode)
    elif node.type == "variable_declaration":
        for var in node.named_children:
            if var.type == "variable_declarator":
                value = var.named_children[-1] if var.named_child_count > 1 else None
                declare(ctx, var.child_by_field_name("name"), tnode, value)
    scope = _scope(ctx, None if ctx._pending is None else ctx._pending.qname)
    tparams = set().union(*(f.data.get("tparams", ()) for f in ctx.frames))
    if ctx._pending is not None:
        tparams |= ctx._pending.data.get("tparams", set())
    stack, budget = [tnode], 64
    while stack and budget:
        budget -= 1
        cur = stack.pop()
        if cur.type in ("identifier", "qualified_name"):
            target = ctx.flat(cur).replace(" ", "")
            if target not in tparams:
                ctx.edge(
                    "references",
                    target,
                    cur,
                    _types_or_drop(ctx, target, scope),
                    source=ctx._pending.sym if ctx._pending is not None else None,
                )
        elif cur.type in _TYPE_WRAPPERS:
            stack.extend(cur.named_children)
    return None


def _types_or_drop(ctx: Ctx, target: str, scope: _Scope) -> CandidateFn:
    """A type reference is only worth an edge when something names its target."""
    return lambda: _type_cands(ctx, target, scope) or None


def _declares(ctx: Ctx, node: Node) -> bool | None:
    """`foreach (JToken t in xs)` and `catch (JsonException e)`: the variable holds the type."""
    name = node.child_by_field_name("left" if node.type == "foreach_statement" else "name")
    declare(ctx, name, node.child_by_field_name("type"))
    return None


_HANDLERS: dict[str, Handler] = {
    "namespace_declaration": _namespace,
    "file_scoped_namespace_declaration": _namespace,
    **{t: _type for t in _TYPES},
    "base_list": _bases,
    "method_declaration": _typed,
    "constructor_declaration": _method,
    "local_function_statement": _method,
    "parameter": _typed,
    "variable_declaration": _typed,
    "property_declaration": _typed,
    "using_directive": _using,
    "invocation_expression": _invocation,
    "object_creation_expression": _new,
    "attribute_list": lambda ctx, node: SKIP,
    "foreach_statement": _declares,
    "catch_declaration": _declares,
}
