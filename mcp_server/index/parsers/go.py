"""Go parser: functions, methods, types, package-level const/var, imports, calls, struct embedding."""

# Qualified names use the package name from the `package` clause, not the directory:
# "server.Handler.ServeHTTP" for method ServeHTTP on (*Handler) in `package server`. Calls through an
# imported package ("http.Get") are guessed as "<last element of the import path>.Get", which matches
# that qualification when the package lives in this repository.

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, CONF_UNIQUE, NAME_FALLBACK, TYPE_OF, ParsedFile
from ._generic import MAX_TARGET, SKIP, Candidates, Ctx, Frame, Handler, run
from ._go_types import ELEMENT_OF, Declared, declare, declared, element, named_type, written

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
_BUILTIN_VALUES = frozenset({"nil", "true", "false", "iota"})
# The prefix of values whose members are no repository method (builtin and unnamed types): a
# candidate under it never resolves, and so keeps the resolver from guessing by name.
_NO_MEMBERS = "<builtin>"
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
    idx = ctx.add_symbol(
        "method" if owner else "function", name, qname, node, sig_end=body.start_byte if body is not None else None
    )
    ctx.skip.add(name_node.id)
    ctx.enter(Frame(idx, qname, "function", owner, {"recv": recv_name, "tparams": tparams}))
    if receiver is not None:
        _declare_params(ctx, receiver, node, tparams)
    _declare_params(ctx, node.child_by_field_name("parameters"), node, tparams)
    result = node.child_by_field_name("result")
    _declare_params(ctx, result, node, tparams)
    _held_type_edge(ctx, idx, qname, _first_result(result), tparams)
    return None


def _declare_params(ctx: Ctx, plist: Node | None, fn: Node, tparams: set[str]) -> None:
    """Parameters, receivers and named results: typed over the whole function."""
    if plist is None or plist.type != "parameter_list":
        return
    for param in plist.named_children:
        if param.type not in ("parameter_declaration", "variadic_parameter_declaration"):
            continue
        tnode = param.child_by_field_name("type")
        variadic = param.type == "variadic_parameter_declaration"  # `xs ...T` holds a []T
        for ident in param.children_by_field_name("name"):
            declare(ctx, ctx.text(ident), tnode, param, scope=fn, tparams=tparams, elements=variadic)


def _held_type_edge(ctx: Ctx, source: int, qname: str, type_node: Node | None, tparams: set[str]) -> None:
    """`_type_edge` of what a field, variable or function holds; of an unnamed container, its
    elements' type, the name noted among this file's containers (`for _, h := range l.hooks`
    and `l.hooks[i]` are then found on it)."""
    held = element(type_node)
    if held is not None:
        ctx.data.setdefault("containers", set()).add(qname)
    _type_edge(ctx, source, type_node if held is None else held, tparams)


def _type_edge(ctx: Ctx, source: int, type_node: Node | None, tparams: set[str]) -> None:
    """What a function returns (a field, a variable holds) as a type edge (records.TYPE_OF): `F().M()`
    and `a.f.M()` are then found on that type. Also the plain reference to the type written there."""
    tnode = named_type(type_node)
    if tnode is None or tnode.type not in ("type_identifier", "qualified_type"):
        return
    text = ctx.text(tnode)
    if tnode.type == "type_identifier":
        if text in _BUILTIN_TYPES or text in tparams:
            return
        ctx.edge("references", text, tnode, lambda: _type_cands(ctx, text), TYPE_OF, source)
    else:
        ctx.edge("references", text, tnode, _qualified(ctx, tnode) or (), TYPE_OF, source)


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
    _held_type_edge(ctx, idx, qname, _first_result(node.child_by_field_name("result")), _all_tparams(ctx))
    return None


def _first_result(result: Node | None) -> Node | None:
    """The type of a function's first result: `x, err := f()` holds it in x."""
    if result is not None and result.type == "parameter_list":
        first = next((c for c in result.named_children if c.type == "parameter_declaration"), None)
        return first.child_by_field_name("type") if first is not None else None
    return result


def _value_spec(ctx: Ctx, node: Node) -> bool | None:
    names = node.children_by_field_name("name")
    type_node = node.child_by_field_name("type")
    value = node.child_by_field_name("value")
    values = value.named_children if value is not None and value.type == "expression_list" else [value]
    for ident in names:
        ctx.skip.add(ident.id)
    if ctx.frame.kind != "module":
        tparams = _all_tparams(ctx)
        for i, ident in enumerate(names):
            held = values[i] if len(values) == len(names) else (values[0] if i == 0 and values else None)
            declare(ctx, ctx.text(ident), type_node, node, value=held, tparams=tparams)
        return None
    kind = "constant" if node.type == "const_spec" else "variable"
    decl = ctx.parent
    if decl is not None and decl.type == "var_spec_list":
        decl = ctx.ancestor(2)
    single = decl is not None and decl.named_child_count == 1 and len(names) == 1
    for i, ident in enumerate(names):
        name = ctx.text(ident)
        span = decl if single and decl is not None else node
        head = ctx.signature(node.start_byte, value.start_byte if value is not None else node.end_byte)
        qname = ctx.join(_pkg(ctx), name)
        idx = ctx.add_symbol(
            kind,
            name,
            qname,
            node,
            span=span,
            doc_anchor=span,
            signature=f"{'const' if kind == 'constant' else 'var'} {head}",
        )
        if type_node is not None:
            _held_type_edge(ctx, idx, qname, type_node, set())
        elif len(values) == len(names) and (held := values[i]) is not None:
            _value_type_edge(ctx, idx, held)
    return None


def _value_type_edge(ctx: Ctx, source: int, value: Node) -> None:
    """`var std = New()`: std holds what New returns (the resolver follows New's type edge)."""

    def held() -> Candidates | None:
        prefixes, _ = _value(ctx, value)
        return tuple((p, CONF_SCOPED) for p in prefixes or () if not p.startswith(_NO_MEMBERS)) or None

    ctx.edge("references", ctx.flat(value), value, held, TYPE_OF, source)


def _field(ctx: Ctx, node: Node) -> bool | None:
    """A struct field, a symbol typed by a type edge (`a.f.M()` is then found on f's type); one
    without a name embeds its type: Go's inheritance (and is a field named after the type)."""
    frame = ctx.frame
    if frame.kind != "struct":
        return None
    type_node = node.child_by_field_name("type")
    names = [ctx.text(n) for n in node.children_by_field_name("name")]
    tparams = _all_tparams(ctx)
    embedded = not names
    if embedded:
        _embed(ctx, type_node)
        tnode = named_type(type_node)
        if tnode is not None and tnode.type in ("type_identifier", "qualified_type"):
            names = [ctx.text(tnode.child_by_field_name("name") if tnode.type == "qualified_type" else tnode)]
    for name in names:
        qname = ctx.join(frame.qname, name)
        idx = ctx.add_symbol("field", name, qname, node)
        _held_type_edge(ctx, idx, qname, type_node, tparams)
        if len(names) == 1 and not embedded:
            ctx.enter(Frame(idx, qname, "field", frame.owner))  # its type's references are the field's
    return SKIP if embedded else None


def _all_tparams(ctx: Ctx) -> set[str]:
    return set().union(*(f.data.get("tparams", ()) for f in ctx.frames))


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
        ctx.skip.add(fn.id)
        name = ctx.text(fn)
        if name in _BUILTIN_FUNCS or name in _BUILTIN_TYPES or declared(ctx, name, fn.start_byte) is not None:
            return None  # a builtin, or a local holding a function: no package function
        q = ctx.join(_pkg(ctx), name)
        ctx.edge("calls", name, node, lambda: ((q, CONF_EXACT if q in ctx.defined else CONF_SCOPED),))
    elif fn.type == "selector_expression":
        operand = fn.child_by_field_name("operand")
        field = fn.child_by_field_name("field")
        if operand is None or field is None:
            return None
        if operand.type == "identifier":
            ctx.skip.add(fn.id)  # nothing inside but the receiver's name
        else:
            ctx.data.setdefault("called", set()).add(fn.id)  # no reference besides this call
        name = ctx.text(field)
        # The receiver elided, never the name: a builder chain runs to thousands of characters.
        target = f"{ctx.flat(operand, MAX_TARGET - len(name) - 1)}.{name}"
        if operand.type == "identifier":
            base = ctx.text(operand)
            recv = next((f for f in reversed(ctx.frames) if f.data.get("recv")), None)
            if recv is not None and recv.data["recv"] == base and recv.owner:
                owner = recv.owner
                ctx.edge("calls", target, field, lambda: ctx.member(owner, name))
                return None
        ctx.edge("calls", target, field, _member_cands(ctx, operand, name, fallback=True))
    elif fn.type not in ("func_literal", "parenthesized_expression"):
        ctx.edge("calls", ctx.flat(fn), node)
    return None


def _member_cands(ctx: Ctx, operand: Node, name: str, *, fallback: bool) -> Callable[[], Candidates | None]:
    """`x.name`: name on the type of x's value, at 0.9; with `fallback`, when that type is only
    guessed (x is no name of this file) or unknown, else by name alone. Without, no edge then."""

    def cands() -> Candidates | None:
        prefixes, guessed = _value(ctx, operand)
        out = tuple((f"{p}.{name}", CONF_SCOPED) for p in prefixes or ())
        if not fallback:
            return out or None
        if out and guessed:
            out += ((NAME_FALLBACK, CONF_UNIQUE),)
        return out

    return cands


def _value(ctx: Ctx, node: Node | None, depth: int = 0) -> tuple[list[str] | None, bool]:
    """Qualified names the value of an expression is a member of (its type; for a call's result the
    function, whose return type edge the resolver follows), and whether that was only guessed;
    (None, False) when not known here."""
    if node is None or depth > _MAX_CHAIN:
        return None, False
    kind = node.type
    if kind == "identifier":
        name = ctx.text(node)
        d = declared(ctx, name, node.start_byte)
        if d is not None and d.value is not None and d.value.start_byte <= node.start_byte < d.value.end_byte:
            d = _outer(ctx, name, d)  # `l := l.With()`: the l declared before
        if d is not None:
            if d.type == "=":
                return _value(ctx, d.value, depth + 1)
            if d.type == ELEMENT_OF:
                return _elements(ctx, d.value, depth + 1), False
            if d.array:
                return [_NO_MEMBERS], False  # a slice or map: no methods
            return _written_prefixes(ctx, d.type), False
        if name in ctx.imports:
            return [ctx.imports[name]], False
        if name in _BUILTIN_VALUES or name in _BUILTIN_FUNCS:
            return None, False
        q = ctx.join(_pkg(ctx), name)  # a package-level name: its type edge says what it holds
        return [q], q not in ctx.defined
    if kind == "selector_expression":
        inner, guessed = _value(ctx, node.child_by_field_name("operand"), depth + 1)
        field = ctx.text(node.child_by_field_name("field"))
        return ([f"{p}.{field}" for p in inner] if inner else None), guessed
    if kind == "call_expression":
        fn = node.child_by_field_name("function")
        if fn is not None and fn.type == "identifier":
            name = ctx.text(fn)
            if name == "new":
                args = node.child_by_field_name("arguments")
                return _type_prefixes(ctx, args.named_child(0) if args is not None else None), False
            if name in _BUILTIN_FUNCS:
                return None, False
            if name in _BUILTIN_TYPES:
                return [f"{_NO_MEMBERS}.{name}"], False
        return _value(ctx, fn, depth)  # the call and its selector: one link of a chain
    if kind == "index_expression":
        return _elements(ctx, node.child_by_field_name("operand"), depth + 1), False
    if kind == "composite_literal":
        return _type_prefixes(ctx, node.child_by_field_name("type")), False
    if kind == "type_assertion_expression":
        return _type_prefixes(ctx, node.child_by_field_name("type")), False
    if kind == "unary_expression":
        op = node.child_by_field_name("operator")
        if op is not None and ctx.text(op) in ("&", "*"):
            return _value(ctx, node.child_by_field_name("operand"), depth + 1)
        return None, False
    if kind == "parenthesized_expression":
        return _value(ctx, node.named_child(0), depth + 1)
    if kind in _LITERALS:
        return [_NO_MEMBERS], False
    return None, False


def _elements(ctx: Ctx, node: Node | None, depth: int) -> list[str] | None:
    """Qualified names an element of the container `node` is a member of; None unless `node` is
    known to be an unnamed container (a named one, `type Hooks []Hook`, may have methods of the
    element's names): a local or parameter declared as one, or one of this file's containers."""
    if node is None or depth > _MAX_CHAIN:
        return None
    kind = node.type
    if kind == "identifier":
        name = ctx.text(node)
        d = declared(ctx, name, node.start_byte)
        if d is not None and d.value is not None and d.value.start_byte <= node.start_byte < d.value.end_byte:
            d = _outer(ctx, name, d)
        if d is not None:
            if d.type == "=":
                return _elements(ctx, d.value, depth + 1)
            return _written_prefixes(ctx, d.type) if d.array and d.type != ELEMENT_OF else None
        return _contained(ctx, [ctx.join(_pkg(ctx), name)])
    if kind == "selector_expression":
        inner, _ = _value(ctx, node.child_by_field_name("operand"), depth + 1)
        field = ctx.text(node.child_by_field_name("field"))
        return _contained(ctx, [f"{p}.{field}" for p in inner or ()])
    if kind == "call_expression":
        return _elements(ctx, node.child_by_field_name("function"), depth + 1)
    if kind == "composite_literal":
        held = element(node.child_by_field_name("type"))
        return _type_prefixes(ctx, held) if held is not None else None
    if kind == "parenthesized_expression":
        return _elements(ctx, node.named_child(0), depth + 1)
    return None


def _contained(ctx: Ctx, names: list[str]) -> list[str] | None:
    """Those of `names` this file declares as unnamed containers (their type edges name the elements')."""
    known = ctx.data.get("containers", ())
    return [n for n in names if n in known] or None


def _outer(ctx: Ctx, name: str, inner: Declared) -> Declared | None:
    best: Declared | None = None
    for d in ctx.data.get("vars", {}).get(name, ()):
        if d is not inner and d.start <= inner.start < d.end and d.start < inner.start:
            if best is None or d.start >= best.start:
                best = d
    return best


_MAX_CHAIN = 48  # a test's builder chain may call forty methods in a row
_LITERALS = frozenset(
    {"interpreted_string_literal", "raw_string_literal", "int_literal", "float_literal", "rune_literal"}
)


def _type_prefixes(ctx: Ctx, type_node: Node | None) -> list[str] | None:
    return _written_prefixes(ctx, written(ctx, type_node, _all_tparams(ctx)))


def _written_prefixes(ctx: Ctx, text: str) -> list[str] | None:
    """The qualified names a type written "T" / "pkg.T" stands for; a sentinel for a builtin or
    unnamed type (no repository methods); None when unknown."""
    if text == "?":
        return None
    if not text or text in _BUILTIN_TYPES:
        return [f"{_NO_MEMBERS}.{text}"]
    alias, dot, name = text.partition(".")
    if dot:
        imported = ctx.imports.get(alias)
        return [f"{imported}.{name}"] if imported else None
    return [ctx.join(_pkg(ctx), text)]


def _short_var(ctx: Ctx, node: Node) -> bool | None:
    """`a, b := f(), g()`: each holds its value; `x, err := f()`: x holds f's (first) result."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    names = left.named_children if left is not None else []
    values = right.named_children if right is not None and right.type == "expression_list" else [right]
    tparams = _all_tparams(ctx)
    for i, ident in enumerate(names):
        if ident.type != "identifier":
            continue
        ctx.skip.add(ident.id)
        held = values[i] if len(values) == len(names) else (values[0] if i == 0 else None)
        if held is None:
            declare(ctx, ctx.text(ident), None, node, tparams=tparams)
        else:
            declare(ctx, ctx.text(ident), None, node, value=held, tparams=tparams)
    return None


def _untyped_locals(ctx: Ctx, node: Node) -> bool | None:
    """Range variables, a type switch's alias, `case v := <-ch`: locals whose type is not
    followed, but for the element a range over a known slice or map holds."""
    field = {"range_clause": "left", "type_switch_statement": "alias", "receive_statement": "left"}[node.type]
    if node.type == "range_clause" or node.type == "receive_statement":
        if not any(c.type == ":=" for c in node.children):
            return None  # `for k = range m`: assigns existing names
    left = node.child_by_field_name(field)
    scope = (node.parent if node.type != "type_switch_statement" else node) or node
    # `for i, v := range xs`: v is an element of xs (i an index or a map's key, not followed)
    ranged = node.child_by_field_name("right") if node.type == "range_clause" else None
    for i, ident in enumerate(left.named_children if left is not None else []):
        if ident.type == "identifier":
            ctx.skip.add(ident.id)
            held = ranged if i == 1 else None
            declare(ctx, ctx.text(ident), None, node, scope=scope, value=held, ranged=held is not None)
    return None


def _func_literal(ctx: Ctx, node: Node) -> bool | None:
    tparams = _all_tparams(ctx)
    _declare_params(ctx, node.child_by_field_name("parameters"), node, tparams)
    _declare_params(ctx, node.child_by_field_name("result"), node, tparams)
    return None


def _selector_value(ctx: Ctx, node: Node) -> bool | None:
    """`x.M` not called (a method value, a field read, a package's function passed on): a reference,
    on the type of x's value; never a guess by name."""
    if node.id in ctx.data.get("called", ()):
        return None
    operand, field = node.child_by_field_name("operand"), node.child_by_field_name("field")
    if operand is None or field is None:
        return None
    name = ctx.text(field)
    ctx.edge("references", ctx.flat(node), field, _member_cands(ctx, operand, name, fallback=False))
    return SKIP if operand.type == "identifier" else None


def _identifier(ctx: Ctx, node: Node) -> bool | None:
    """A bare name used as a value (`Use(handler)`, `"gt": Gt`): a package-level definition unless a
    local or a builtin."""
    name = ctx.text(node)
    parent = ctx.parent
    if name in _BUILTIN_VALUES or name in _BUILTIN_FUNCS or name in ctx.imports or name == "_":
        return SKIP
    if parent is not None and parent.type == "literal_element":
        keyed = ctx.ancestor(2)
        if keyed is not None and keyed.type == "keyed_element" and keyed.named_child(0) == parent:
            return SKIP  # `T{Name: v}`: a field's name
    if parent is not None and parent.type in _DECLARING or declared(ctx, name, node.start_byte) is not None:
        return SKIP
    q = ctx.join(_pkg(ctx), name)
    ctx.edge("references", name, node, lambda: ((q, CONF_EXACT if q in ctx.defined else CONF_SCOPED),))
    return SKIP


# Parents whose identifier children are declared names, not uses.
_DECLARING = frozenset(
    {
        "function_declaration",
        "parameter_declaration",
        "variadic_parameter_declaration",
        "var_spec",
        "const_spec",
        "labeled_statement",
        "import_spec",
        "type_parameter_declaration",
    }
)


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
    "short_var_declaration": _short_var,
    "range_clause": _untyped_locals,
    "type_switch_statement": _untyped_locals,
    "receive_statement": _untyped_locals,
    "func_literal": _func_literal,
    "selector_expression": _selector_value,
    "identifier": _identifier,
    "type_identifier": _type_ref,
    "qualified_type": _qualified_ref,
    "package_clause": lambda ctx, node: SKIP,
}
