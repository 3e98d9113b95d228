"""Java parser: package-qualified types, methods, constructors, imports, calls, inheritance, type references."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tree_sitter import Node

from ..records import (
    ARITY,
    CONF_EXACT,
    CONF_SCOPED,
    CONF_UNIQUE,
    NAME_FALLBACK,
    TYPE_ARG,
    TYPE_OF,
    TYPE_PARAM,
    ParsedFile,
)
from ._generic import CLASS_KINDS, SKIP, Candidates, Ctx, Frame, Handler, run
from ._java_types import Declared, declare, declared, type_text

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
        after=_add_fields,
    )


@dataclass(frozen=True, slots=True)
class _Field:
    kind: str  # field | constant (an enum constant)
    name: str
    qname: str
    span: Node
    type_node: Node | None
    type_text: str | None  # an enum constant's type: its enum
    parent: int
    chain: list[str]
    tparams: frozenset[str]
    class_params: tuple[str, ...] = ()


def _add_fields(ctx: Ctx) -> None:
    """Fields and enum constants as symbols, each with its type edge (`a.f.m()` is then found on
    f's class), added after the walk: a field sharing its name with a method of its class (`size`
    and `size()`) is left out, so that the method keeps the qualified name."""
    pending: list[_Field] = ctx.data.get("fields", [])
    for f in pending:
        if f.qname in ctx.defined:
            continue
        idx = ctx.add_symbol(
            f.kind, f.name, f.qname, f.span, parent=f.parent, signature=_signature(ctx, f.span, f.span.end_byte)
        )
        if f.type_text is not None:
            ctx.edge("references", f.type_text, f.span, ((f.type_text, CONF_EXACT),), TYPE_OF, idx)
        else:
            _type_edge(ctx, idx, f.type_node, f.tparams, f.chain, f.class_params)


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


def _tparams(ctx: Ctx, node: Node) -> list[str]:
    """Type parameters declared by a class or method, in order."""
    tps = node.child_by_field_name("type_parameters")
    names: list[str] = []
    for tp in tps.named_children if tps is not None else ():
        ident = next((c for c in tp.named_children if c.type in ("type_identifier", "identifier")), None)
        if ident is not None:
            names.append(ctx.text(ident))
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
    params = _tparams(ctx, node)
    ctx.enter(Frame(idx, qname, "class", qname, {"tparams": set(params), "params": params}))
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
        if t.type == "generic_type" and node.type == "superclass":
            _type_arguments(ctx, t, chain)
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


def _type_arguments(ctx: Ctx, generic: Node, chain: list[str]) -> None:
    """`extends Box<Apple>`: Apple as the superclass's first type argument (records.TYPE_ARG)."""
    args = next((c for c in generic.named_children if c.type == "type_arguments"), None)
    tparams = frozenset(t for f in ctx.frames for t in f.data.get("tparams", ()))
    for i, arg in enumerate(args.named_children if args is not None else ()):
        written = type_text(ctx, arg)
        if written is None or not written[0] or written[1] or written[0].split(".", 1)[0] in tparams:
            continue
        ctx.edge("references", written[0], arg, _later_type(ctx, written[0], chain), f"{TYPE_ARG}{i}")


def _later_type(ctx: Ctx, text: str, chain: list[str]) -> Callable[[], Candidates | None]:
    return lambda: _type_cands(ctx, text, chain) or None


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
    site = _here(ctx)
    own = _tparams(ctx, node)
    tparams = site.tparams | set(own)
    ctx.enter(Frame(idx, qname, "function", frame.owner, {"tparams": tparams}))
    class_params = [p if p not in own else "" for p in frame.data.get("params", ())]
    _type_edge(ctx, idx, node.child_by_field_name("type"), tparams, site.chain, class_params)
    return None


def _type_edge(
    ctx: Ctx,
    source: int,
    type_node: Node | None,
    tparams: frozenset[str],
    chain: list[str],
    class_params: list[str] | tuple[str, ...] = (),
) -> None:
    """What a method returns (a field holds) as a type edge: `a.b().c()` and `a.f.c()` are then
    found on that class (records.TYPE_OF), or, for a type parameter of its class, which one
    (records.TYPE_PARAM). Also the plain reference to the type written there."""
    written = type_text(ctx, type_node)
    if type_node is None or written is None or not written[0] or written[1]:
        return
    text = written[0]
    if text in class_params:
        ctx.edge("references", text, type_node, (), f"{TYPE_PARAM}{list(class_params).index(text)}", source)
        return
    if text.split(".", 1)[0] in tparams:
        return
    ctx.edge("references", text, type_node, lambda: _type_cands(ctx, text, chain) or None, TYPE_OF, source)


# ---- imports, calls, references ---------------------------------------------------------


def _import(ctx: Ctx, node: Node) -> bool | None:
    name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
    if name is None:
        return SKIP
    path = ctx.flat(name).replace(" ", "")
    if any(c.type == "asterisk" for c in node.named_children):
        ctx.data.setdefault("wildcards", []).append(path)
        if any(c.type == "static" for c in node.children):
            ctx.data.setdefault("static_wildcards", []).append(path)  # `import static a.B.*`: B's members
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
    site = _here(ctx)
    owners = site.owners
    arity = _arity(node)
    if obj is None:
        ctx.edge("calls", name, node, lambda: _bare_call(ctx, owners, name) + arity)
        return None
    target = f"{ctx.flat(obj)}.{name}"
    if obj.type == "this" and owners:
        owner = owners[0]
        ctx.edge("calls", target, name_node, lambda: ctx.member(owner, name) + arity)
    elif obj.type == "super" and owners:
        owner = owners[0]
        ctx.edge("calls", target, name_node, lambda: _base_member(ctx, owner, name) + arity)
    else:

        def typed() -> Candidates:
            prefixes = _receiver(ctx, obj, site)
            out = tuple((f"{p}.{name}", CONF_SCOPED) for p in prefixes or ())
            if out and _guessed(ctx, obj, site.owners):
                out += ((NAME_FALLBACK, CONF_UNIQUE),)  # else, as before, a method by its name alone
            return out + arity if out else out

        ctx.edge("calls", target, name_node, typed)
    return None


def _arity(call: Node) -> Candidates:
    """The records.ARITY candidate of a call: how many arguments it passes."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return ()
    n = args.named_child_count
    if n and args.start_point.row != args.end_point.row:  # comments may sit between the lines
        n = sum(1 for c in args.named_children if c.type not in _COMMENTS)
    return ((f"{ARITY}{n}", 0.0),)


def _guessed(ctx: Ctx, obj: Node, owners: list[str]) -> bool:
    """Whether a receiver's type was only guessed: its chain starts at a name this file does not
    declare (an inherited field, which may be of a class outside the repository)."""
    while obj.type in ("field_access", "method_invocation", "parenthesized_expression"):
        inner = obj.child_by_field_name("object") if obj.type != "parenthesized_expression" else obj.named_child(0)
        if inner is None:  # `m().x()`: m may be inherited from outside
            name = ctx.text(obj.child_by_field_name("name"))
            return obj.type == "method_invocation" and not any(f"{o}.{name}" in ctx.defined for o in owners)
        if inner.type == "this" and obj.type == "field_access":
            field = obj.child_by_field_name("field")
            return field is not None and declared(ctx, ctx.text(field), obj.start_byte, fields_only=True) is None
        obj = inner
    return (
        obj.type == "identifier" and declared(ctx, ctx.text(obj), obj.start_byte) is None and not _dotted_type(ctx, obj)
    )


def _bare_call(ctx: Ctx, owners: list[str], name: str) -> Candidates:
    """`m()`: a method of an enclosing class or of its bases, or a static import."""
    for owner in owners:
        if f"{owner}.{name}" in ctx.defined:
            return ((f"{owner}.{name}", CONF_EXACT),)
    # A single static import names the method outright; else the enclosing classes (through their
    # bases, innermost first), then `import static a.B.*`.
    out = [(ctx.imports[name], CONF_SCOPED)] if name in ctx.imports else []
    out += [(f"{owner}.{name}", CONF_SCOPED) for owner in owners]
    out += [(f"{w}.{name}", CONF_SCOPED) for w in ctx.data.get("static_wildcards", ())]
    return tuple(out)


# The sentinel class of values whose members are no repository method (primitives, arrays): a
# candidate under it never resolves, and so keeps the resolver from guessing by name.
_NO_MEMBERS = "java.lang.Object"


def _declared_prefixes(ctx: Ctx, d: Declared) -> list[str] | None:
    if d.type == "?":
        return None  # a type variable
    if not d.type or d.array:
        return [_NO_MEMBERS]
    head = d.type.split(".", 1)[0]
    if head in _IMPLICIT:
        return [f"java.lang.{d.type}"]
    return [q for q, _ in _type_cands(ctx, d.type, list(d.chain))] or None


def _written_prefixes(ctx: Ctx, type_node: Node | None, site: _At) -> list[str] | None:
    written = type_text(ctx, type_node)
    if written is None:
        return None
    text, dims = written
    if text.split(".", 1)[0] in site.tparams:
        return None
    return _declared_prefixes(ctx, Declared(0, 0, text, dims, tuple(site.chain), False))


@dataclass(frozen=True, slots=True)
class _At:
    """Where an expression is: enclosing classes (innermost first), scope chain, type variables."""

    owners: list[str]
    chain: list[str]
    tparams: frozenset[str]


def _here(ctx: Ctx) -> _At:
    # The same for every site of a scope: computed once, kept on the scope's frame.
    data = ctx.frame.data
    at: _At | None = data.get("at")
    if at is None:
        tparams = frozenset(t for f in ctx.frames for t in f.data.get("tparams", ()))
        at = data["at"] = _At(_owners(ctx), ctx.scope_chain(), tparams)
    return at


def _receiver(ctx: Ctx, obj: Node | None, site: _At, depth: int = 0) -> list[str] | None:
    """Qualified names the value of `obj` is a member of: its class, or for a call's result the
    method (the resolver follows the method's return type edge); None when not known here."""
    if obj is None or depth > 8:
        return None
    kind = obj.type
    if kind == "identifier":
        d = declared(ctx, ctx.text(obj), obj.start_byte)
        if d is not None and d.value is not None:
            return _receiver(ctx, d.value, site, depth + 1)
        if d is not None:
            return _declared_prefixes(ctx, d)
        text = ctx.text(obj)
        types = [q for q, _ in _type_cands(ctx, text, site.chain)]
        if not types and text in _IMPLICIT and text[:1].isupper():
            return [f"java.lang.{text}"]  # `String.valueOf(i)`: never a repository method guessed by name
        if _dotted_type(ctx, obj):
            return types or None
        # Not declared in this file: a field inherited by an enclosing class, found through its
        # bases; an all-capitals name may also be a class (`B64.salt()`), which a field obscures.
        fields = [f"{o}.{text}" for o in site.owners]
        return fields + (types if text.isupper() else []) or None
    if kind == "this":
        return site.owners[:1] or None
    if kind == "field_access":
        inner, field = obj.child_by_field_name("object"), obj.child_by_field_name("field")
        if inner is None or field is None:
            return None
        if field.type == "this":  # `Outer.this`
            outer = ctx.text(inner)
            return [o for o in site.owners if o.rsplit(".", 1)[-1] == outer][:1] or None
        if inner.type == "this":
            d = declared(ctx, ctx.text(field), obj.start_byte, fields_only=True)
            if d is not None:
                return _declared_prefixes(ctx, d)
            return [f"{site.owners[0]}.{ctx.text(field)}"] if site.owners else None
        if _dotted_type(ctx, obj):
            return [q for q, _ in _type_cands(ctx, ctx.flat(obj).replace(" ", ""), site.chain)] or None
        # `a.f`, `Type.CONSTANT`: f on a's class, through f's type edge.
        return [f"{p}.{ctx.text(field)}" for p in _receiver(ctx, inner, site, depth + 1) or ()] or None
    if kind == "parenthesized_expression":
        return _receiver(ctx, obj.named_child(0), site, depth + 1)
    if kind == "cast_expression":
        return _written_prefixes(ctx, obj.child_by_field_name("type"), site)
    if kind == "object_creation_expression":
        if any(c.type == "class_body" for c in obj.named_children):
            return None  # an anonymous class: its own methods are no symbols here
        return _written_prefixes(ctx, obj.child_by_field_name("type"), site)
    if kind == "method_invocation":
        # `a.b().c()`: `A.b.c`, which the resolver reaches through the return type edge of A.b.
        name = ctx.text(obj.child_by_field_name("name"))
        inner = obj.child_by_field_name("object")
        if inner is None:
            methods = [q for q, _ in _bare_call(ctx, site.owners, name)]
        elif inner.type == "super":
            return None
        else:
            methods = [f"{p}.{name}" for p in _receiver(ctx, inner, site, depth + 1) or ()]
        return methods or None
    if kind == "string_literal":
        return ["java.lang.String"]
    if kind == "array_access":
        array = obj.child_by_field_name("array")
        if array is not None and array.type == "identifier":
            d = declared(ctx, ctx.text(array), array.start_byte)
            if d is not None and d.array == 1:
                return _declared_prefixes(ctx, Declared(d.start, d.end, d.type, 0, d.chain, d.field))
        return None
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

    def constructor() -> Candidates:
        # The constructor when the class declares one, else the class (its default constructor).
        out: list[tuple[str, float]] = []
        for q, conf in _type_cands(ctx, target, chain):
            out += [(f"{q}.{q.rsplit('.', 1)[-1]}", conf), (q, conf)]
        return tuple(out)

    ctx.edge("calls", target, node, constructor)
    return None


def _method_ref(ctx: Ctx, node: Node) -> bool | None:
    """`Foo::bar`, `foo::bar`, `this::bar`, `Foo::new`: a reference to the method (no call here)."""
    named = node.named_children
    if not named:
        return None
    recv = named[0]
    site = _here(ctx)
    if node.children[-1].type == "new":
        written = ctx.flat(recv).replace(" ", "")
        chain = site.chain

        def constructor() -> Candidates | None:
            out: list[tuple[str, float]] = []
            for q, conf in _type_cands(ctx, written, chain):
                out += [(f"{q}.{q.rsplit('.', 1)[-1]}", conf), (q, conf)]
            return tuple(out) or None

        ctx.edge("references", written, node, constructor)
        return None
    if len(named) < 2 or named[-1].type != "identifier":
        return None
    name = ctx.text(named[-1])

    def method() -> Candidates | None:
        if recv.type == "super":
            return _base_member(ctx, site.owners[0], name) or None if site.owners else None
        prefixes = _receiver(ctx, recv, site)
        return tuple((f"{p}.{name}", CONF_SCOPED) for p in prefixes or ()) or None

    ctx.edge("references", f"{ctx.flat(recv)}.{name}", named[-1], method)
    return None


def _variables(ctx: Ctx, node: Node) -> bool | None:
    """Fields and locals: `Foo a, b = ...;` declares a and b as Foos."""
    kind = node.type
    type_node = node.child_by_field_name("type")
    field = kind != "local_variable_declaration"
    site = _here(ctx) if field and ctx.frame.kind == "class" else None
    for d in node.children_by_field_name("declarator"):
        name = d.child_by_field_name("name")
        if name is None:
            continue
        dims = ctx.text(d.child_by_field_name("dimensions")).count("[")
        declare(
            ctx, ctx.text(name), type_node, node, field=field, value=d.child_by_field_name("value"), extra_dims=dims
        )
        if site is not None and not dims:
            qname = ctx.join(ctx.frame.qname, ctx.text(name))
            fields = ctx.data.setdefault("fields", [])
            fields.append(
                _Field(
                    "field",
                    ctx.text(name),
                    qname,
                    node,
                    type_node,
                    None,
                    ctx.frame.sym,
                    site.chain,
                    site.tparams,
                    tuple(ctx.frame.data.get("params", ())),
                )
            )
    return None


def _enum_constant(ctx: Ctx, node: Node) -> bool | None:
    """`RED` in `enum Color { RED }`: a constant of type Color (its body's methods are not symbols)."""
    name = node.child_by_field_name("name")
    frame = ctx.frame
    if name is not None and frame.kind == "class":
        qname = ctx.join(frame.qname, ctx.text(name))
        enum = frame.qname
        ctx.data.setdefault("fields", []).append(
            _Field("constant", ctx.text(name), qname, node, None, enum, frame.sym, [], frozenset())
        )
    return None


def _parameter(ctx: Ctx, node: Node) -> bool | None:
    """Parameters (method, lambda, catch, for-each, resource, pattern): typed from their position on."""
    kind = node.type
    if kind == "spread_parameter":
        type_node = node.named_child(0)
        decl = next((c for c in node.named_children if c.type == "variable_declarator"), None)
        name = decl.child_by_field_name("name") if decl is not None else None
        if name is not None:
            declare(ctx, ctx.text(name), type_node, node, extra_dims=1)
        return None
    name = node.child_by_field_name("name")
    if name is None:
        return None
    if kind == "catch_formal_parameter":
        types = next((c for c in node.named_children if c.type == "catch_type"), None)
        alternatives = types.named_children if types is not None else []
        if len(alternatives) == 1:  # `catch (A | B e)`: their common supertype, not known here
            declare(ctx, ctx.text(name), alternatives[0], node)
        return None
    written = node.child_by_field_name("right" if kind == "instanceof_expression" else "type")
    at = name if kind in ("enhanced_for_statement", "instanceof_expression") else node
    declare(ctx, ctx.text(name), written, at, value=node.child_by_field_name("value"))
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
    "method_reference": _method_ref,
    "field_declaration": _variables,
    "enum_constant": _enum_constant,
    "constant_declaration": _variables,
    "local_variable_declaration": _variables,
    "formal_parameter": _parameter,
    "spread_parameter": _parameter,
    "catch_formal_parameter": _parameter,
    "enhanced_for_statement": _parameter,
    "resource": _parameter,
    "instanceof_expression": _parameter,
    "type_identifier": _type_ref,
    "scoped_type_identifier": _type_ref,
    "type_parameters": lambda ctx, node: SKIP,
    "marker_annotation": lambda ctx, node: SKIP,
    "annotation": lambda ctx, node: SKIP,
}
