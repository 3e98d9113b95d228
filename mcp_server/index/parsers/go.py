"""Go parser: functions, methods, types, package-level const/var, imports, calls, struct embedding."""

# Qualified names use the package name from the `package` clause, not the directory:
# "server.Handler.ServeHTTP" for method ServeHTTP on (*Handler) in `package server`. Calls through an
# imported package ("http.Get") are guessed as "<last element of the import path>.Get", which matches
# that qualification when the package lives in this repository.

from __future__ import annotations

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, ParsedFile
from ._generic import SKIP, Candidates, Ctx, Frame, Handler, run

_COMMENTS = frozenset({"comment"})
_HEADERS = frozenset({"package_clause"})
_BUILTIN_FUNCS = frozenset(
    {
        "append",
        "cap",
        "clear",
        "close",
        "complex",
        "copy",
        "delete",
        "imag",
        "len",
        "make",
        "max",
        "min",
        "new",
        "panic",
        "print",
        "println",
        "real",
        "recover",
    }
)
_BUILTIN_TYPES = frozenset(
    {
        "any",
        "bool",
        "byte",
        "comparable",
        "complex64",
        "complex128",
        "error",
        "float32",
        "float64",
        "int",
        "int8",
        "int16",
        "int32",
        "int64",
        "rune",
        "string",
        "uint",
        "uint8",
        "uint16",
        "uint32",
        "uint64",
        "uintptr",
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
        if child.type == "package_clause":
            ident = child.named_child(0)
            return ctx.text(ident) if ident is not None else ""
        if child.type not in _COMMENTS:
            break
    # no package clause (a fragment): fall back to the directory name like `go` would
    parts = ctx.module_name.split(".")
    return parts[-2] if len(parts) > 1 else parts[0]


def _package_of(import_path: str) -> str:
    """Conventional package name of an import path: its last element minus a major-version suffix."""
    parts = [p for p in import_path.split("/") if p]
    if not parts:
        return import_path
    last = parts[-1]
    if len(parts) > 1 and last[:1] == "v" and last[1:].isdigit():
        last = parts[-2]
    if last.startswith("go-"):
        last = last[3:]
    return last.split(".")[0].replace("-", "_")


def _pkg(ctx: Ctx) -> str:
    return ctx.frames[0].qname


def _type_cands(ctx: Ctx, name: str) -> Candidates:
    """An unqualified type: this file's definition, else the same package's (Go has no other)."""
    q = ctx.join(_pkg(ctx), name)
    return ((q, CONF_EXACT if q in ctx.defined else CONF_SCOPED),)


def _tparams(ctx: Ctx, node: Node | None) -> set[str]:
    names: set[str] = set()
    if node is None:
        return names
    for decl in node.named_children:
        for ident in decl.children_by_field_name("name"):
            names.add(ctx.text(ident))
    return names


def _in_tparams(ctx: Ctx, name: str) -> bool:
    return any(name in f.data.get("tparams", ()) for f in ctx.frames)


# ---- definitions ------------------------------------------------------------------------


def _function(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    name = ctx.text(name_node)
    owner: str | None = None
    recv_name: str | None = None
    tparams = _tparams(ctx, node.child_by_field_name("type_parameters"))
    receiver = node.child_by_field_name("receiver")
    if receiver is not None:
        param = next((c for c in receiver.named_children if c.type == "parameter_declaration"), None)
        if param is not None:
            ident = param.child_by_field_name("name")
            recv_name = ctx.text(ident) if ident is not None else None
            rtype = param.child_by_field_name("type")
            for _ in range(4):  # *T, T[K, V], (*T)
                if rtype is None or rtype.type == "type_identifier":
                    break
                if rtype.type == "generic_type":
                    args = rtype.child_by_field_name("type_arguments")
                    tparams |= {ctx.text(a) for a in args.named_children} if args is not None else set()
                    rtype = rtype.child_by_field_name("type")
                else:
                    rtype = rtype.named_child(0)
            if rtype is not None:
                owner = ctx.join(_pkg(ctx), ctx.text(rtype))
    qname = ctx.join(owner or _pkg(ctx), name)
    body = node.child_by_field_name("body")
    params = _param_types(ctx, node.child_by_field_name("parameters"), tparams)
    idx = ctx.add_symbol(
        "method" if owner else "function", name, qname, node, sig_end=body.start_byte if body is not None else None
    )
    ctx.enter(Frame(idx, qname, "function", owner, {"recv": recv_name, "tparams": tparams, "params": params}))
    return None


def _param_types(ctx: Ctx, plist: Node | None, tparams: set[str]) -> dict[str, Node]:
    """Parameter name -> its named type node (`*T` and `T[K]` stripped): `p.M()` is then `T.M`."""
    out: dict[str, Node] = {}
    if plist is None:
        return out
    for param in plist.named_children:
        if param.type != "parameter_declaration":
            continue
        tnode = param.child_by_field_name("type")
        for _ in range(4):
            if tnode is None or tnode.type in ("type_identifier", "qualified_type"):
                break
            if tnode.type not in ("pointer_type", "generic_type"):
                tnode = None
                break
            tnode = tnode.child_by_field_name("type") if tnode.type == "generic_type" else tnode.named_child(0)
        if tnode is None or (tnode.type == "type_identifier" and ctx.text(tnode) in tparams):
            continue
        for ident in param.children_by_field_name("name"):
            out[ctx.text(ident)] = tnode
    return out


def _param_member(ctx: Ctx, base: str, name: str) -> Candidates | None:
    """Candidates for `base.name` when `base` is a parameter of the enclosing function with a named type."""
    for frame in reversed(ctx.frames):
        tnode = frame.data.get("params", {}).get(base) if frame.kind == "function" else None
        if tnode is None:
            continue
        if tnode.type == "type_identifier":
            tname = ctx.text(tnode)
            if tname in _BUILTIN_TYPES:
                return ((f"<builtin>.{tname}.{name}", CONF_SCOPED),)  # outside: no guess
            return ((ctx.join(ctx.join(_pkg(ctx), tname), name), CONF_SCOPED),)
        cands = _qualified(ctx, tnode)
        return tuple((f"{q}.{name}", c) for q, c in cands) or None
    return None


def _type_spec(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    ctx.skip.add(name_node.id)
    name = ctx.text(name_node)
    body_type = node.child_by_field_name("type")
    kind = {"struct_type": "struct", "interface_type": "interface"}.get(
        body_type.type if body_type is not None else "", "type"
    )
    decl = ctx.parent
    single = decl is not None and decl.type == "type_declaration" and decl.named_child_count == 1
    span = decl if single and decl is not None else node
    sig_end = None
    if kind == "struct" and body_type is not None:
        fields = body_type.named_child(0)
        sig_end = fields.start_byte if fields is not None else None
    elif kind == "interface" and body_type is not None:
        brace = next((c for c in body_type.children if c.type == "{"), None)
        sig_end = brace.start_byte if brace is not None else None
    qname = ctx.join(_pkg(ctx), name)
    idx = ctx.add_symbol(kind, name, qname, node, span=span, sig_end=sig_end)
    tparams = _tparams(ctx, node.child_by_field_name("type_parameters"))
    ctx.enter(Frame(idx, qname, kind, qname, {"tparams": tparams}))
    return None


def _method_elem(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    name_node = node.child_by_field_name("name")
    if frame.kind != "interface" or name_node is None:
        return None
    name = ctx.text(name_node)
    qname = ctx.join(frame.qname, name)
    idx = ctx.add_symbol("method", name, qname, node)
    ctx.enter(Frame(idx, qname, "function", frame.qname))
    return None


def _value_spec(ctx: Ctx, node: Node) -> bool | None:
    if ctx.frame.kind != "module":
        return None  # locals are not indexed
    kind = "constant" if node.type == "const_spec" else "variable"
    names = node.children_by_field_name("name")
    decl = ctx.parent
    if decl is not None and decl.type == "var_spec_list":
        decl = ctx.ancestor(2)
    single = decl is not None and decl.named_child_count == 1 and len(names) == 1
    value = node.child_by_field_name("value")
    for ident in names:
        name = ctx.text(ident)
        span = decl if single and decl is not None else node
        head = ctx.signature(node.start_byte, value.start_byte if value is not None else node.end_byte)
        ctx.add_symbol(
            kind,
            name,
            ctx.join(_pkg(ctx), name),
            node,
            span=span,
            doc_anchor=span,
            signature=f"{'const' if kind == 'constant' else 'var'} {head}",
        )
    return None


def _field(ctx: Ctx, node: Node) -> bool | None:
    """A struct field without a name embeds its type: Go's inheritance."""
    if ctx.frame.kind != "struct" or node.child_by_field_name("name") is not None:
        return None
    _embed(ctx, node.child_by_field_name("type"))
    return SKIP


def _type_elem(ctx: Ctx, node: Node) -> bool | None:
    parent = ctx.parent
    if ctx.frame.kind != "interface" or parent is None or parent.type != "interface_type":
        return None
    if node.named_child_count == 1:
        _embed(ctx, node.named_child(0))
        return SKIP
    return None


def _embed(ctx: Ctx, tnode: Node | None) -> None:
    for _ in range(4):
        if tnode is None or tnode.type in ("type_identifier", "qualified_type"):
            break
        tnode = tnode.child_by_field_name("type") if tnode.type == "generic_type" else tnode.named_child(0)
    if tnode is None:
        return
    target = ctx.text(tnode)
    if tnode.type == "type_identifier":
        if target not in _BUILTIN_TYPES:
            ctx.edge("inherits", target, tnode, lambda: _type_cands(ctx, target))
    else:
        ctx.edge("inherits", target, tnode, _qualified(ctx, tnode))


def _qualified(ctx: Ctx, node: Node) -> Candidates:
    pkg = ctx.text(node.child_by_field_name("package"))
    name = ctx.text(node.child_by_field_name("name"))
    imported = ctx.imports.get(pkg)
    return ((f"{imported}.{name}", CONF_SCOPED),) if imported else ()


# ---- imports, calls, references ---------------------------------------------------------


def _import_spec(ctx: Ctx, node: Node) -> bool | None:
    path_node = node.child_by_field_name("path")
    if path_node is None:
        return SKIP
    path = ctx.text(path_node).strip("\"`")
    alias_node = node.child_by_field_name("name")
    alias = ctx.text(alias_node) if alias_node is not None else _package_of(path)
    if alias in ("_", "."):
        alias_out = None
    else:
        alias_out = alias
        ctx.imports[alias] = _package_of(path)
    ctx.edge("imports", path, node, (), alias=alias_out)
    return SKIP


def _call(ctx: Ctx, node: Node) -> bool | None:
    fn = node.child_by_field_name("function")
    if fn is None:
        return None
    if fn.type == "identifier":
        name = ctx.text(fn)
        if name in _BUILTIN_FUNCS or name in _BUILTIN_TYPES:
            return None
        q = ctx.join(_pkg(ctx), name)
        ctx.edge("calls", name, node, lambda: ((q, CONF_EXACT if q in ctx.defined else CONF_SCOPED),))
    elif fn.type == "selector_expression":
        operand = fn.child_by_field_name("operand")
        field = fn.child_by_field_name("field")
        if operand is None or field is None:
            return None
        name = ctx.text(field)
        target = ctx.flat(fn)
        cands: Candidates = ()
        if operand.type == "identifier":
            base = ctx.text(operand)
            recv = next((f for f in reversed(ctx.frames) if f.data.get("recv")), None)
            if recv is not None and recv.data["recv"] == base and recv.owner:
                owner = recv.owner
                ctx.edge("calls", target, field, lambda: ctx.member(owner, name))
                return None
            typed = _param_member(ctx, base, name)
            if typed is not None:
                cands = typed
            elif base in ctx.imports:
                cands = ((f"{ctx.imports[base]}.{name}", CONF_SCOPED),)
        ctx.edge("calls", target, field, cands)
    elif fn.type not in ("func_literal", "parenthesized_expression"):
        ctx.edge("calls", ctx.flat(fn), node)
    return None


def _type_ref(ctx: Ctx, node: Node) -> bool | None:
    name = ctx.text(node)
    if name in _BUILTIN_TYPES or _in_tparams(ctx, name):
        return SKIP
    ctx.edge("references", name, node, lambda: _type_cands(ctx, name))
    return SKIP


def _qualified_ref(ctx: Ctx, node: Node) -> bool | None:
    cands = _qualified(ctx, node)
    if cands:
        ctx.edge("references", ctx.text(node), node, cands)
    return SKIP


_HANDLERS: dict[str, Handler] = {
    "function_declaration": _function,
    "method_declaration": _function,
    "type_spec": _type_spec,
    "type_alias": _type_spec,
    "method_elem": _method_elem,
    "const_spec": _value_spec,
    "var_spec": _value_spec,
    "field_declaration": _field,
    "type_elem": _type_elem,
    "import_spec": _import_spec,
    "call_expression": _call,
    "type_identifier": _type_ref,
    "qualified_type": _qualified_ref,
    "package_clause": lambda ctx, node: SKIP,
}
