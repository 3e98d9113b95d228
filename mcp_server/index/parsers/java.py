"""Java parser: package-qualified types, methods, constructors, imports, calls, inheritance, type references."""

from __future__ import annotations

from functools import partial

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, ParsedFile
from ._generic import CLASS_KINDS, SKIP, Candidates, Ctx, Frame, Handler, run

_COMMENTS = frozenset({"line_comment", "block_comment"})
_HEADERS = frozenset({"package_declaration", "import_declaration"})
_CLASSES = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
}
_ANNOTATIONS = frozenset({"marker_annotation", "annotation"})
# java.lang types need no import; guessing them into the file's package would only add noise
_IMPLICIT = frozenset(
    {
        "String",
        "Object",
        "Integer",
        "Long",
        "Short",
        "Byte",
        "Double",
        "Float",
        "Boolean",
        "Character",
        "Number",
        "Void",
        "Class",
        "Enum",
        "Record",
        "Iterable",
        "Comparable",
        "Runnable",
        "Thread",
        "Exception",
        "RuntimeException",
        "Error",
        "Throwable",
        "IllegalArgumentException",
        "IllegalStateException",
        "NullPointerException",
        "UnsupportedOperationException",
        "IndexOutOfBoundsException",
        "InterruptedException",
        "CloneNotSupportedException",
        "AutoCloseable",
        "Cloneable",
        "CharSequence",
        "StringBuilder",
        "StringBuffer",
        "Math",
        "System",
        "Override",
        "Deprecated",
        "SuppressWarnings",
        "FunctionalInterface",
        "SafeVarargs",
        "var",
    }
)


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    return run(
        source,
        path,
        module_name,
        language,
        sep=".",
        comment_types=_COMMENTS,
        header_types=_HEADERS,
        handlers=_HANDLERS,
        root_prefix=_package,
    )


def _package(ctx: Ctx, root: Node) -> str:
    for child in root.named_children:
        if child.type == "package_declaration":
            name = next((c for c in child.named_children if c.type in ("scoped_identifier", "identifier")), None)
            return ctx.flat(name).replace(" ", "")
        if child.type not in _COMMENTS:
            break
    return ""  # the default package: Java names are then bare


def _owners(ctx: Ctx) -> list[str]:
    """Enclosing classes, innermost first: Java resolves a bare method call through all of them."""
    owners: list[str] = []
    for frame in reversed(ctx.frames):
        if frame.kind == "class" and frame.owner and frame.owner not in owners:
            owners.append(frame.owner)
    return owners


def _type_cands(ctx: Ctx, text: str, chain: list[str]) -> Candidates:
    """A type name as written: nested/local class, single-type import, or a same-package class."""
    head, _, rest = text.partition(".")
    suffix = "." + rest if rest else ""
    local = ctx.lookup(head, chain, CLASS_KINDS)
    if local is not None:
        return ((local + suffix, CONF_EXACT),)
    imported = ctx.imports.get(head)
    if imported is not None:
        return ((imported + suffix, CONF_SCOPED),)
    if head[:1].islower() and rest:
        return ((text, CONF_SCOPED),)  # already fully qualified
    if not head[:1].isupper() or head in _IMPLICIT:
        return ()
    packages = [ctx.frames[0].qname] if ctx.frames[0].qname else []
    packages += ctx.data.get("wildcards", [])  # `import a.b.*`
    return tuple((f"{p}.{text}", CONF_SCOPED) for p in packages)


def _signature(ctx: Ctx, node: Node, end: int) -> str:
    """Header without annotations: "public static int add(int a, int b)"."""
    mods = node.child(0) if node.child_count else None
    if mods is None or mods.type != "modifiers":
        return ctx.signature(node.start_byte, end)
    kept = " ".join(ctx.text(c) for c in mods.children if c.type not in _ANNOTATIONS)
    return f"{kept} {ctx.signature(mods.end_byte, end)}".strip()


def _tparams(ctx: Ctx, node: Node) -> set[str]:
    tps = node.child_by_field_name("type_parameters")
    names: set[str] = set()
    for tp in tps.named_children if tps is not None else ():
        ident = next((c for c in tp.named_children if c.type in ("type_identifier", "identifier")), None)
        if ident is not None:
            names.add(ctx.text(ident))
    return names


# ---- definitions ------------------------------------------------------------------------


def _class(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = ctx.text(name_node)
    qname = ctx.join(ctx.frame.qname, name)
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    idx = ctx.add_symbol(_CLASSES[node.type], name, qname, node, signature=_signature(ctx, node, end))
    ctx.enter(Frame(idx, qname, "class", qname, {"tparams": _tparams(ctx, node)}))
    return None


def _heritage(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    if frame.kind != "class":
        return SKIP
    chain = ctx.scope_chain(ctx.frames[-2].qname if len(ctx.frames) > 1 else None)
    types = node.named_children
    if len(types) == 1 and types[0].type == "type_list":
        types = types[0].named_children
    for t in types:
        if t.type == "generic_type":
            t = next((c for c in t.named_children if c.type in ("type_identifier", "scoped_type_identifier")), t)
        if t.type not in ("type_identifier", "scoped_type_identifier"):
            continue
        target = ctx.flat(t)
        fn = partial(_type_cands, ctx, target, chain)
        ctx.edge("inherits", target, t, fn)
        if node.type == "superclass":
            ctx.bases.setdefault(frame.qname, []).append(fn)
    return SKIP


def _method(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    name_node = node.child_by_field_name("name")
    if frame.kind != "class" or name_node is None:
        return None  # methods of anonymous classes belong to the enclosing method
    name = ctx.text(name_node)
    qname = ctx.join(frame.qname, name)
    body = node.child_by_field_name("body")
    end = body.start_byte if body is not None else node.end_byte
    kind = "method" if node.type == "method_declaration" else "constructor"
    idx = ctx.add_symbol(kind, name, qname, node, signature=_signature(ctx, node, end))
    ctx.enter(Frame(idx, qname, "function", frame.owner, {"tparams": _tparams(ctx, node)}))
    return None


# ---- imports, calls, references ---------------------------------------------------------


def _import(ctx: Ctx, node: Node) -> bool | None:
    name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
    if name is None:
        return SKIP
    path = ctx.flat(name).replace(" ", "")
    if any(c.type == "asterisk" for c in node.named_children):
        ctx.data.setdefault("wildcards", []).append(path)
        ctx.edge("imports", f"{path}.*", node)
        return SKIP
    local = path.rsplit(".", 1)[-1]
    ctx.imports[local] = path
    ctx.edge("imports", path, node, ((path, CONF_EXACT),), alias=local)
    return SKIP


def _invocation(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = ctx.text(name_node)
    obj = node.child_by_field_name("object")
    owners = _owners(ctx)
    if obj is None:

        def bare() -> Candidates:
            for owner in owners:
                if f"{owner}.{name}" in ctx.defined:
                    return ((f"{owner}.{name}", CONF_EXACT),)
            if name in ctx.imports:  # a static import
                return ((ctx.imports[name], CONF_SCOPED),)
            return ((f"{owners[0]}.{name}", CONF_SCOPED),) if owners else ()

        ctx.edge("calls", name, node, bare)
        return None
    target = f"{ctx.flat(obj)}.{name}"
    if obj.type == "this" and owners:
        ctx.edge("calls", target, name_node, ctx.member_later(owners[0], name))
    elif obj.type == "super" and owners:
        owner = owners[0]
        ctx.edge("calls", target, name_node, lambda: _base_member(ctx, owner, name))
    elif obj.type in ("identifier", "field_access") and _dotted_type(ctx, obj):
        chain = ctx.scope_chain()
        text = ctx.flat(obj).replace(" ", "")
        ctx.edge(
            "calls",
            target,
            name_node,
            lambda: tuple(c for q, _ in _type_cands(ctx, text, chain) for c in ctx.member(q, name)),
        )
    else:
        ctx.edge("calls", target, name_node)
    return None


def _dotted_type(ctx: Ctx, node: Node) -> bool:
    """`Foo.bar()` / `Outer.Inner.bar()` call through a type, by Java's naming convention."""
    text = ctx.flat(node)
    last = text.rsplit(".", 1)[-1]
    return last[:1].isupper() and not last.isupper() and all(p.isidentifier() for p in text.split("."))


def _base_member(ctx: Ctx, owner: str, name: str) -> Candidates:
    for base in ctx.bases.get(owner, [])[:1]:
        return tuple((f"{q}.{name}", CONF_SCOPED) for q, _ in base())
    return ()


def _constructor_call(ctx: Ctx, node: Node) -> bool | None:
    ctor = node.child_by_field_name("constructor")
    owners = _owners(ctx)
    if ctor is None or not owners:
        return None
    owner = owners[0]
    simple = owner.rsplit(".", 1)[-1]
    if ctor.type == "this":
        ctx.edge("calls", "this", node, ctx.member_later(owner, simple))
    elif ctor.type == "super":

        def base_ctor() -> Candidates:
            for base in ctx.bases.get(owner, [])[:1]:
                return tuple((f"{q}.{q.rsplit('.', 1)[-1]}", CONF_SCOPED) for q, _ in base())
            return ()

        ctx.edge("calls", "super", node, base_ctor)
    return None


def _new(ctx: Ctx, node: Node) -> bool | None:
    tnode = node.child_by_field_name("type")
    if tnode is not None and tnode.type == "generic_type":
        tnode = tnode.named_child(0)
    if tnode is None or tnode.type not in ("type_identifier", "scoped_type_identifier"):
        return None
    ctx.skip.add(tnode.id)
    target = ctx.flat(tnode).replace(" ", "")
    chain = ctx.scope_chain()
    ctx.edge("calls", target, node, lambda: _type_cands(ctx, target, chain))
    return None


def _type_ref(ctx: Ctx, node: Node) -> bool | None:
    target = ctx.flat(node).replace(" ", "")
    if any(target in f.data.get("tparams", ()) for f in ctx.frames):
        return SKIP
    chain = ctx.scope_chain()
    ctx.edge("references", target, node, lambda: _type_cands(ctx, target, chain) or None)
    return SKIP


_HANDLERS: dict[str, Handler] = {
    **{t: _class for t in _CLASSES},
    "superclass": _heritage,
    "super_interfaces": _heritage,
    "extends_interfaces": _heritage,
    "method_declaration": _method,
    "constructor_declaration": _method,
    "compact_constructor_declaration": _method,
    "import_declaration": _import,
    "package_declaration": lambda ctx, node: SKIP,
    "method_invocation": _invocation,
    "explicit_constructor_invocation": _constructor_call,
    "object_creation_expression": _new,
    "type_identifier": _type_ref,
    "scoped_type_identifier": _type_ref,
    "type_parameters": lambda ctx, node: SKIP,
    "marker_annotation": lambda ctx, node: SKIP,
    "annotation": lambda ctx, node: SKIP,
}
