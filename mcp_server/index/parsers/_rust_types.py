"""Rust declared types: struct fields, generic bounds, return types, so that `self.a.m()` names `T::m`."""

from __future__ import annotations

from tree_sitter import Node

from ._generic import Ctx

# Wrappers whose own methods (`unwrap`, `as_ref`, `borrow`) a value of them is called with: what a
# function returns inside one is not a receiver of the crate's methods.
_WRAPPERS = frozenset({"Option", "Result", "Box", "Rc", "Arc", "Cell", "RefCell", "Vec", "Pin"})


# A slice's type as a receiver's: the crate's traits give slices methods (`impl Buf for &[u8]`).
SLICE = "[]"


def is_slice(node: Node) -> bool:
    """`b"abc"[..]`, `v[1..]`: a range index makes a slice."""
    index = node.named_child(1) if node.type == "index_expression" else None
    return index is not None and index.type == "range_expression"


def type_name(node: Node | None) -> Node | None:
    """The named type a type node denotes (`&mut T`, `*const T`, `T<A>`, `impl Tr`, `dyn Tr` stripped)."""
    for _ in range(6):
        if node is None or node.type in ("type_identifier", "scoped_type_identifier"):
            return node
        if node.type in ("generic_type", "reference_type", "pointer_type"):
            node = node.child_by_field_name("type")
        elif node.type in ("abstract_type", "dynamic_type"):
            node = node.child_by_field_name("trait")
        else:
            return None
    return node


def bounds(ctx: Ctx, node: Node) -> dict[str, str]:
    """Type parameter -> its first trait bound as written, from `<T: Buf>` and `where T: Buf`."""
    found: dict[str, str] = {}
    for tp in (node.child_by_field_name("type_parameters") or node).named_children:
        name, tb = tp.child_by_field_name("name"), tp.child_by_field_name("bounds")
        first = _first_bound(tb)
        target = type_name(first) if tp.type == "type_parameter" and first is not None else None
        if name is not None and target is not None:
            found[ctx.text(name)] = ctx.flat(target)
    where = next((c for c in node.named_children if c.type == "where_clause"), None)
    for pred in where.named_children if where is not None else ():
        left, tb = pred.child_by_field_name("left"), pred.child_by_field_name("bounds")
        first = _first_bound(tb)
        target = type_name(first) if left is not None and left.type == "type_identifier" else None
        if left is not None and target is not None:
            found.setdefault(ctx.text(left), ctx.flat(target))
    return found


def _first_bound(node: Node | None) -> Node | None:
    """The first trait of `?Sized + Buf + 'a`."""
    return next((b for b in node.named_children if type_name(b) is not None), None) if node is not None else None


def type_args(ctx: Ctx, written: Node | None) -> list[str]:
    """The type arguments of `Chain<T, U>` as written (["T", "U"]); [] for a type without any."""
    while written is not None and written.type in ("reference_type", "pointer_type"):
        written = written.child_by_field_name("type")
    args = written.child_by_field_name("type_arguments") if written is not None else None
    return [ctx.flat(a) for a in args.named_children] if args is not None else []


def record_fields(ctx: Ctx, qname: str, node: Node) -> list[tuple[Node, str, Node]]:
    """A struct's field -> declared type (as written, or "<i>" for its i-th type parameter); returns
    the named fields of a named type not wrapped (`Option<T>`): (declaration, name, type node)."""
    body = node.child_by_field_name("body")
    if body is None:
        return []
    tparams = [
        ctx.text(p.child_by_field_name("name"))
        for p in (node.child_by_field_name("type_parameters") or node).named_children
        if p.type == "type_parameter"
    ]
    fields: dict[str, str] = {}
    named: list[tuple[Node, str, Node]] = []
    if body.type == "field_declaration_list":
        typed = [(f, f.child_by_field_name("name"), f.child_by_field_name("type")) for f in body.named_children]
        pairs = [(f, ctx.text(n), t) for f, n, t in typed if n is not None]
    else:  # a tuple struct: `self.0`
        pairs = [(t, str(i), t) for i, t in enumerate(body.children_by_field_name("type"))]
    for decl, name, written in pairs:
        target = type_name(written)
        if target is None:
            continue
        text = ctx.flat(target)
        fields[name] = f"<{tparams.index(text)}>" if text in tparams else text
        if text not in tparams and not _wrapped(target) and decl.type == "field_declaration":
            named.append((decl, name, target))
    ctx.data.setdefault("fields", {})[qname] = fields
    return named


def field_type(ctx: Ctx, owner: str, field: str, impl: dict[str, object]) -> str | None:
    """The type `self.field` holds in an impl of `owner` (its frame data: the self type's "args", the
    "bounds" and "tparams" of its parameters): a field of a type parameter is its bound's
    (`impl<T: Buf> Buf for Take<T>`: `self.inner` is a Buf); of an unbounded one, unknown."""
    text = ctx.data.get("fields", {}).get(owner, {}).get(field)
    if text is None or not text.startswith("<"):
        return text
    args: list[str] = impl.get("args", [])  # type: ignore[assignment]
    bound: dict[str, str] = impl.get("bounds", {})  # type: ignore[assignment]
    i = int(text[1:-1])
    arg = args[i] if i < len(args) else None
    if arg is None or arg in bound:
        return bound.get(arg) if arg else None
    return None if arg in impl.get("tparams", ()) else arg  # type: ignore[operator]


def returned(node: Node) -> Node | None:
    """The type node a function's return type names, unless it is wrapped (`Option<T>`) or absent."""
    target = type_name(node.child_by_field_name("return_type"))
    return None if target is None or _wrapped(target) else target


def _wrapped(target: Node) -> bool:
    parent = target.parent
    text = target.text.decode("utf-8", "replace") if target.text is not None else ""
    return parent is not None and parent.type == "generic_type" and text.rsplit("::", 1)[-1] in _WRAPPERS
