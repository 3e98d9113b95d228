"""Go declared types: what locals, parameters and receivers hold, so that `x.M()` names `T.M`."""

from __future__ import annotations

from tree_sitter import Node

from ._generic import Ctx
from ._java_types import Declared, declared

__all__ = ["ELEMENT_OF", "Declared", "declare", "declared", "element", "named_type", "written"]

# A Declared's type for a range variable: it holds an element of its `value` (the ranged container).
ELEMENT_OF = "[]="

# Where a local declared inside stops being visible: the end of the innermost of these.
_LOCAL_SCOPES = frozenset(
    {
        "block",
        "if_statement",
        "for_statement",
        "expression_switch_statement",
        "type_switch_statement",
        "select_statement",
        "communication_case",
        "expression_case",
        "type_case",
        "default_case",
        "func_literal",
        "function_declaration",
        "method_declaration",
    }
)
# Types with no methods of the repository's: a member of such a value is never a guess by name.
_UNNAMED = frozenset(
    {
        "slice_type",
        "array_type",
        "map_type",
        "channel_type",
        "function_type",
        "struct_type",
        "interface_type",
    }
)


def named_type(node: Node | None) -> Node | None:
    """The named type a type node denotes (`*T`, `T[K]`, `(T)` stripped); an unnamed type itself."""
    for _ in range(8):
        if node is None or node.type in ("type_identifier", "qualified_type") or node.type in _UNNAMED:
            return node
        if node.type == "generic_type":
            node = node.child_by_field_name("type")
        elif node.type in ("pointer_type", "parenthesized_type", "type_elem"):
            node = node.named_child(0)
        else:
            return None
    return None


def element(node: Node | None) -> Node | None:
    """The type of a container's elements (`[]T`, `[n]T`, `*[n]T`; a map's values); None for any
    other type. Unnamed containers have no methods: `xs.M()` is never written, `xs[i].M()` is T's."""
    for _ in range(8):
        if node is None:
            return None
        if node.type in ("slice_type", "array_type"):
            return node.child_by_field_name("element")
        if node.type == "map_type":
            return node.child_by_field_name("value")
        if node.type not in ("pointer_type", "parenthesized_type"):
            return None
        node = node.named_child(0)
    return None


def written(ctx: Ctx, type_node: Node | None, tparams: frozenset[str] | set[str]) -> str:
    """A type as a Declared records it: "T", "pkg.T", "" for an unnamed one (no methods), "?" unknown."""
    tnode = named_type(type_node)
    if tnode is None:
        return "?"
    if tnode.type in _UNNAMED:
        return ""
    text = ctx.flat(tnode).replace(" ", "")
    return "?" if text in tparams else text


def _scope_end(node: Node) -> int:
    cur = node.parent
    while cur is not None and cur.type not in _LOCAL_SCOPES:
        cur = cur.parent
    return cur.end_byte if cur is not None else node.end_byte


def declare(
    ctx: Ctx,
    name: str,
    type_node: Node | None,
    at: Node,
    *,
    value: Node | None = None,
    scope: Node | None = None,
    tparams: frozenset[str] | set[str] = frozenset(),
    ranged: bool = False,
    elements: bool = False,
) -> None:
    """Record that local `name` holds a `type_node` (or the type of `value`, found when a use asks)
    from `at` to the end of its block, or over `scope` (a parameter: its function). Untyped names
    are recorded too ("?"): a local shadows the package's names. The type is kept as written
    ("T", "pkg.T"), "" for an unnamed type (no methods), "=" for `value`'s, ELEMENT_OF for an
    element of `value` (`ranged`). A container (or with `elements`, a variadic parameter's
    `type_node`) keeps its elements' type, with `array` 1."""
    if name in ("_", ""):
        return
    start = at.start_byte if scope is None else scope.start_byte
    end = _scope_end(at) if scope is None else scope.end_byte
    held = type_node if elements else element(type_node)
    if ranged and value is not None:
        text = ELEMENT_OF
    elif type_node is None and value is not None:
        text = "="
    else:
        text = written(ctx, type_node if held is None else held, tparams)
    kept = value if text in ("=", ELEMENT_OF) else None
    entry = Declared(start, end, text, 0 if held is None else 1, (), False, kept)
    ctx.data.setdefault("vars", {}).setdefault(name, []).append(entry)
