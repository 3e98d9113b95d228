"""Java declared types: what locals, parameters and fields hold, so that `x.m()` names `Foo.m`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from ._generic import Ctx

_PRIMITIVES = frozenset(
    {"integral_type", "floating_point_type", "boolean_type", "void_type", "unannotated_type_placeholder"}
)
_GENERIC_ARGS = re.compile(r"<[^<>]*>")
_LOCAL_SCOPES = frozenset(
    {
        "block",
        "constructor_body",
        "switch_block_statement_group",
        "switch_rule",
        "for_statement",
        "enhanced_for_statement",
        "try_with_resources_statement",
        "catch_clause",
        "lambda_expression",
    }
)


@dataclass(frozen=True, slots=True)
class Declared:
    """A variable's type as written (generics dropped), visible over [start, end) of the source."""

    start: int
    end: int
    type: str  # "Foo", "Outer.Inner", "a.b.Foo"; "" a primitive (no members), "?" a type variable, "=" `value`s
    array: int  # dimensions: `Foo[] xs` holds arrays, `xs[i]` a Foo
    chain: tuple[str, ...]  # scope chain where the type was written (nested classes resolve there)
    field: bool
    value: Node | None = None  # `var x = <value>`: x is of the value's type


def type_text(ctx: Ctx, node: Node | None) -> tuple[str, int] | None:
    """The class a type node names and its array dimensions; None when it names none (void, `var`)."""
    dims = 0
    while node is not None:
        kind = node.type
        if kind == "array_type":
            dims += ctx.text(node.child_by_field_name("dimensions")).count("[")
            node = node.child_by_field_name("element")
        elif kind == "generic_type":
            node = node.named_child(0)
        elif kind == "annotated_type":
            node = next((c for c in node.named_children if c.type not in ("marker_annotation", "annotation")), None)
        elif kind in _PRIMITIVES:
            return ("", dims) if dims or kind != "void_type" else None
        elif kind in ("type_identifier", "scoped_type_identifier"):
            text = ctx.flat(node).replace(" ", "")
            while "<" in text:
                stripped = _GENERIC_ARGS.sub("", text)
                if stripped == text:
                    break
                text = stripped
            if text == "var":
                return None
            return text, dims
        else:
            return None
    return None


def _scope_end(node: Node) -> int:
    """Where a local declared at `node` stops being visible: the end of its enclosing block."""
    cur = node.parent
    while cur is not None and cur.type not in _LOCAL_SCOPES and not cur.type.endswith("_declaration"):
        cur = cur.parent
    return cur.end_byte if cur is not None else node.end_byte


def declare(
    ctx: Ctx,
    name: str,
    type_node: Node | None,
    at: Node,
    *,
    field: bool = False,
    value: Node | None = None,
    extra_dims: int = 0,
) -> None:
    """Record that `name` holds a `type_node` from `at` on (a field: over its whole class body)."""
    written = type_text(ctx, type_node)
    inferred: Node | None = None
    if written is None and value is not None and value.type == "object_creation_expression":
        written = type_text(ctx, value.child_by_field_name("type"))  # `var x = new Foo()`
    elif written is None and value is not None and ctx.text(type_node) == "var":
        written, inferred = ("=", 0), value  # `var x = a.b()`: typed when a use asks
    if written is None:
        return
    if field:
        body = at.parent
        start, end = (body.start_byte, body.end_byte) if body is not None else (at.start_byte, at.end_byte)
    else:
        start, end = at.start_byte, _scope_end(at)
    tparams = set().union(*(f.data.get("tparams", ()) for f in ctx.frames))
    text, dims = written
    if text.split(".", 1)[0] in tparams:
        text = "?"  # a type variable: its members are its bound's, not known here
    dims += extra_dims
    chain = tuple(ctx.scope_chain())
    declared = Declared(start, end, text, dims, chain, field, inferred)
    ctx.data.setdefault("vars", {}).setdefault(name, []).append(declared)


def declared(ctx: Ctx, name: str, at: int, *, fields_only: bool = False) -> Declared | None:
    """The innermost declaration of `name` visible at byte `at`."""
    best: Declared | None = None
    for d in ctx.data.get("vars", {}).get(name, ()):
        if d.start <= at < d.end and (not fields_only or d.field) and (best is None or d.start >= best.start):
            best = d
    return best
