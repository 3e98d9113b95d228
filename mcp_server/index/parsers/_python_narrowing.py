"""Readers of `isinstance` tests and unions: what a failed test leaves of a name's declared union."""

from __future__ import annotations

from typing import Final

from tree_sitter import Node

from ._python_nodes import text
from ._python_strings import string_value

# The annotation heads an `isinstance` class rules out: a `List[str]` member is a list.
_SPELLINGS: Final[dict[str, frozenset[str]]] = {
    "list": frozenset({"list", "List"}),
    "dict": frozenset({"dict", "Dict"}),
    "tuple": frozenset({"tuple", "Tuple"}),
    "set": frozenset({"set", "Set"}),
    "frozenset": frozenset({"frozenset", "FrozenSet"}),
    "type": frozenset({"type", "Type"}),
}
_UNIONS: Final[frozenset[str]] = frozenset({"Union", "Optional"})
# Unions wider than this are rare and never narrow to one member.
_MAX_MEMBERS: Final = 8
# Statements after which control never reaches the next one of their block (a `continue` or
# `break` sits in a loop that holds the block too).
_EXITS: Final[frozenset[str]] = frozenset(
    {"return_statement", "raise_statement", "continue_statement", "break_statement"}
)
# Scopes of their own: what they assign binds nothing in the function.
_OWN_SCOPES: Final[frozenset[str]] = frozenset({"function_definition", "class_definition", "lambda"})
# A function's statements scanned for assignments to a name before it is narrowed; beyond, give up.
_MAX_SCANNED: Final = 4000


def _subscript_parts(node: Node) -> tuple[Node | None, list[Node]]:
    """A generic annotation's head and type arguments: `Union[A, B]`, `t.Union[A, B]`."""
    if node.type == "subscript":
        return node.child_by_field_name("value"), list(node.children_by_field_name("subscript"))
    return node.named_children[0], [c for p in node.named_children[1:] for c in p.named_children]


def union_members(annotation: Node) -> list[Node] | None:
    """The members of a union annotation (`A | B`, `Union[A, B]`, `Optional[Union[A, B]]`), None
    left out; None when it is no union of two or more."""
    members: list[Node] = []
    work = [annotation]
    while work:
        node = work.pop()
        kind = node.type
        if kind == "type" and node.named_child_count == 1:
            work.append(node.named_children[0])
        elif kind == "binary_operator" and any(c.type == "|" for c in node.children):
            work.extend(c for c in (node.child_by_field_name("right"), node.child_by_field_name("left")) if c)
        elif kind in ("generic_type", "subscript") and node.named_child_count and head(node) in _UNIONS:
            work.extend(reversed(_subscript_parts(node)[1]))
        elif kind != "none":
            members.append(node)
        if len(members) + len(work) > _MAX_MEMBERS:
            return None
    return members if len(members) >= 2 else None


def head(node: Node) -> str | None:
    """The class name a member spells, without module or type arguments: `t.List[str]` -> List."""
    for _ in range(4):
        kind = node.type
        if kind == "type" and node.named_child_count == 1:
            node = node.named_children[0]
        elif kind in ("generic_type", "subscript") and node.named_child_count:
            found = _subscript_parts(node)[0]
            if found is None:
                return None
            node = found
        elif kind == "identifier":
            return text(node)
        elif kind == "attribute":
            attribute = node.child_by_field_name("attribute")
            return text(attribute) if attribute is not None else None
        elif kind == "string":
            value = string_value(node)
            return value.split("[", 1)[0].strip().rpartition(".")[2] or None if value else None
        else:
            return None
    return None


def isinstance_test(condition: Node) -> tuple[str, frozenset[str], Node | None, bool] | None:
    """`isinstance(x, T)` / `isinstance(x, (T, U))` as a whole condition, maybe under `not`:
    (x, the classes' names, T's node when it is one class, whether negated)."""
    negated = False
    node = condition
    for _ in range(4):
        if node.type == "parenthesized_expression" and node.named_child_count == 1:
            node = node.named_children[0]
        elif node.type == "not_operator" and not negated:
            argument = node.child_by_field_name("argument")
            if argument is None:
                return None
            node, negated = argument, True
        else:
            break
    if node.type != "call":
        return None
    function = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    args = arguments.named_children if arguments is not None else []
    if function is None or text(function) != "isinstance" or len(args) != 2 or args[0].type != "identifier":
        return None
    classes = args[1].named_children if args[1].type == "tuple" else [args[1]]
    names: set[str] = set()
    for cls in classes:
        if cls.type not in ("identifier", "attribute"):
            return None
        names.add(text(cls).rpartition(".")[2])
    single = args[1] if args[1].type in ("identifier", "attribute") else None
    return text(args[0]), frozenset(names), single, negated


def _spelled(classes: frozenset[str]) -> set[str]:
    spelled = set(classes)
    for name in classes:
        spelled |= _SPELLINGS.get(name, frozenset())
    return spelled


def remaining(members: list[Node], excluded: frozenset[str]) -> list[Node]:
    """The members a value can still be once it is known to be none of the `excluded` classes."""
    ruled_out = _spelled(excluded)
    return [m for m in members if head(m) not in ruled_out]


def matching(members: list[Node], cls: str) -> Node | None:
    """The one member an `isinstance(x, cls)` that passed says x is (`list[Foo]` for `list`)."""
    spelled = _spelled(frozenset({cls}))
    found = [m for m in members if head(m) in spelled]
    return found[0] if len(found) == 1 else None


def exits(block: Node | None) -> bool:
    """Whether a block's last statement leaves the statements after it (`return`, `raise`, `continue`)."""
    statements = [c for c in block.named_children if c.type != "comment"] if block is not None else []
    return bool(statements) and statements[-1].type in _EXITS


def assigns(nodes: list[Node], name: str) -> bool:
    """Whether any of the statements may bind `name` (an assignment, a loop or `with` target,
    `:=`, `del`, an import), nested functions and classes aside; True when too big to tell."""
    work = list(nodes)
    seen = 0
    while work:
        node = work.pop()
        seen += 1
        if seen > _MAX_SCANNED:
            return True
        kind = node.type
        if kind in _OWN_SCOPES:
            continue
        if kind == "identifier" and text(node) == name and _is_target(node):
            return True
        work.extend(node.named_children)
    return False


def _is_target(identifier: Node) -> bool:
    """Whether an identifier sits where it is bound rather than read."""
    node, parent = identifier, identifier.parent
    while parent is not None and parent.type in ("pattern_list", "tuple_pattern", "list_pattern", "list_splat_pattern"):
        node, parent = parent, parent.parent
    if parent is None:
        return False
    kind = parent.type
    if kind in ("assignment", "augmented_assignment", "for_statement", "for_in_clause"):
        return parent.child_by_field_name("left") == node
    if kind == "named_expression":
        return parent.child_by_field_name("name") == node
    return kind in ("as_pattern_target", "delete_statement", "aliased_import", "dotted_name", "global_statement")
