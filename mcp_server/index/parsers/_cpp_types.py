"""C++ declared types: what locals, parameters and fields hold, so that `x.m()` and `p->m()` name `Foo::m`."""

from __future__ import annotations

import re

from tree_sitter import Node

from ._generic import Ctx
from ._java_types import Declared, declared

_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_NAMED = frozenset({"type_identifier", "qualified_identifier", "template_type"})
_NO_MEMBERS = frozenset({"primitive_type", "sized_type_specifier"})
_WRAPPERS = frozenset(
    {"pointer_declarator", "reference_declarator", "init_declarator", "array_declarator", "attributed_declarator"}
)
_LOCAL_SCOPES = frozenset(
    {"compound_statement", "for_statement", "for_range_loop", "if_statement", "while_statement", "catch_clause"}
)
_VARIABLES = frozenset({"declaration", "field_declaration", "parameter_declaration", "optional_parameter_declaration"})


def type_name(ctx: Ctx, node: Node | None) -> str | None:
    """The class a type node names ("Foo", "ns::Foo"), "" for one without members, None when unknown (`auto`)."""
    if node is None:
        return None
    if node.type in _NO_MEMBERS:
        return ""
    if node.type in ("struct_specifier", "class_specifier", "union_specifier"):
        node = node.child_by_field_name("name")
        if node is None:
            return None
    if node.type not in _NAMED:
        return None
    text = ctx.flat(node).replace(" ", "")
    for _ in range(8):
        stripped = _TEMPLATE_ARGS.sub("", text)
        if stripped == text:
            break
        text = stripped
    return text.lstrip(":") or None


def variable(decl: Node | None) -> tuple[Node | None, Node | None]:
    """The name a declarator declares and the value it is initialised with."""
    value: Node | None = None
    for _ in range(16):
        if decl is None or decl.type in ("identifier", "field_identifier"):
            return decl, value
        if decl.type not in _WRAPPERS:
            return None, None  # a function declarator: not a variable
        if decl.type == "init_declarator":
            value = decl.child_by_field_name("value")
        decl = decl.child_by_field_name("declarator") or (decl.named_children[-1] if decl.named_child_count else None)
    return None, None


def _scope_end(node: Node) -> int:
    cur = node.parent
    while cur is not None and cur.type not in _LOCAL_SCOPES and cur.type != "function_definition":
        cur = cur.parent
    return cur.end_byte if cur is not None else node.end_byte


def record(ctx: Ctx, node: Node) -> None:
    """Note the variables a declaration, field or parameter declares, with the type each holds."""
    if node.type not in _VARIABLES and node.type != "for_range_loop":
        return
    written = type_name(ctx, node.child_by_field_name("type"))
    tparams: set[str] = ctx.data["tparams"]
    field = node.type == "field_declaration"
    chain = tuple(ctx.scope_chain())
    for decl in node.children_by_field_name("declarator"):
        name, value = variable(decl)
        if name is None:
            continue
        held = written
        if held is None and value is not None and value.type == "new_expression":
            held = type_name(ctx, value.child_by_field_name("type"))  # `auto* x = new Foo(...)`
        if held is None:
            continue
        if held.split("::", 1)[0] in tparams:
            held = "?"  # a template parameter: its members are unknown here
        if field:
            owner = ctx.frame.owner
            if owner:
                ctx.data.setdefault("fields", {}).setdefault(owner, {})[ctx.text(name)] = (held, chain)
            continue
        end = _scope_end(node)
        d = Declared(node.start_byte, end, held, 0, chain, False)
        ctx.data.setdefault("vars", {}).setdefault(ctx.text(name), []).append(d)


def receiver_type(ctx: Ctx, receiver: Node, owner: str | None) -> tuple[str, tuple[str, ...]] | None:
    """The type a receiver (`x`, `this->x`, a field `x_`) holds and the scopes it was written in."""
    if receiver.type == "field_expression":
        arg = receiver.child_by_field_name("argument")
        field = receiver.child_by_field_name("field")
        if arg is None or field is None or arg.type != "this":
            return None
        name = ctx.text(field)
    elif receiver.type == "identifier":
        name = ctx.text(receiver)
        d = declared(ctx, name, receiver.start_byte)
        if d is not None:
            return d.type, d.chain
    else:
        return None
    if owner is None:
        return None
    found: tuple[str, tuple[str, ...]] | None = ctx.data.get("fields", {}).get(owner, {}).get(name)
    return found
