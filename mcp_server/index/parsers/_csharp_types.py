"""C# declared types: what parameters, locals and fields hold, so that `x.M()` names `Foo.M`."""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from ._generic import Ctx

# where a local stops being visible: the end of the first of these around its declaration
_LOCAL_SCOPES = frozenset(
    {"block", "switch_section", "for_statement", "foreach_statement", "using_statement", "catch_clause"}
)
_MEMBERS = frozenset(
    {"method_declaration", "constructor_declaration", "local_function_statement", "operator_declaration"}
)


@dataclass(frozen=True, slots=True)
class Declared:
    """A variable's type as written (generic arguments dropped), visible over [start, end)."""

    start: int
    end: int
    type: str  # "Foo", "a.b.Foo"; "" when its members are no repository type's (arrays, `int`, `string`)


def type_text(ctx: Ctx, node: Node | None) -> str | None:
    """The type a type node names: "" for arrays and predefined types, None when unknown (`var`)."""
    while node is not None and node.type == "nullable_type":
        node = node.child_by_field_name("type")
    if node is None:
        return None
    if node.type in ("array_type", "predefined_type"):
        return ""
    if node.type == "generic_name":
        return ctx.text(node.named_child(0))
    if node.type in ("identifier", "qualified_name"):
        return ctx.flat(node).replace(" ", "")
    return None


def declare(ctx: Ctx, name: Node | None, type_node: Node | None, value: Node | None = None) -> None:
    """Record that `name` holds a `type_node` (`var x = new Foo()`: a Foo) from its declaration on: a
    field over its class body, a parameter over its member, a local to the end of its block."""
    if name is None or name.type != "identifier":
        return
    written = type_text(ctx, type_node)
    if written is None and value is not None and value.type == "object_creation_expression":
        written = type_text(ctx, value.child_by_field_name("type"))
    if written is None:
        return
    tparams = set().union(*(f.data.get("tparams", ()) for f in ctx.frames))
    if ctx._pending is not None:
        tparams |= ctx._pending.data.get("tparams", set())
    if written.split(".", 1)[0] in tparams:
        return  # a type parameter: its members are its constraint's, not known here
    start, end = _scope(name)
    ctx.data.setdefault("vars", {}).setdefault(ctx.text(name), []).append(Declared(start, end, written))


def _scope(name: Node) -> tuple[int, int]:
    cur = name.parent
    while cur is not None:
        if cur.type in ("field_declaration", "event_field_declaration"):
            body = cur.parent or cur  # a field is visible in its whole class, above it too
            return body.start_byte, body.end_byte
        if cur.type == "parameter":
            member = cur.parent.parent if cur.parent is not None and cur.parent.parent is not None else cur
            return member.start_byte, member.end_byte
        if cur.type in _LOCAL_SCOPES or cur.type in _MEMBERS:
            return name.start_byte, cur.end_byte
        cur = cur.parent
    return name.start_byte, name.end_byte


def declared(ctx: Ctx, name: str, at: int) -> Declared | None:
    """The innermost declaration of `name` visible at byte `at`."""
    best: Declared | None = None
    for d in ctx.data.get("vars", {}).get(name, ()):
        if d.start <= at < d.end and (best is None or d.start >= best.start):  # the innermost
            best = d
    return best
