"""Python import statements read into the names they bind and the modules they name (relative imports made absolute)."""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from ._python_nodes import dotted_text, line, text


@dataclass(frozen=True, slots=True)
class ImportName:
    """One name an import statement brings in, in source order."""

    line: int
    written: str  # the target as written: `..models.User`, `os.path`, `pkg.*`
    qualified: str  # the absolute dotted name it means ("" when a relative import climbs past the root)
    alias: str | None  # the name bound in the scope; None for a star import
    bound: str  # what the alias stands for: `import a.b` binds `a` to `a`


def import_names(node: Node) -> list[ImportName]:
    """`import a.b.c`, `import a.b as c`."""
    found: list[ImportName] = []
    for name_node in node.children_by_field_name("name"):
        if name_node.type == "aliased_import":
            dotted = name_node.child_by_field_name("name")
            alias_node = name_node.child_by_field_name("alias")
            if dotted is None or alias_node is None:
                continue
            full = dotted_text(dotted)
            alias = text(alias_node)
            bound = full
        else:
            full = dotted_text(name_node)
            alias = full.partition(".")[0]  # `import a.b.c` binds `a`
            bound = alias
        if full:
            found.append(ImportName(line(name_node), full, full, alias, bound))
    return found


def from_import_names(node: Node, module_name: str, is_package: bool) -> list[ImportName]:
    """`from x import a, b as c`, `from ..y import *` (star imports first, with alias None)."""
    module_node = node.child_by_field_name("module_name")
    if module_node is None:
        return []
    if module_node.type == "relative_import":
        level = 0
        rest = ""
        for child in module_node.named_children:
            if child.type == "import_prefix":
                level = text(child).count(".")
            elif child.type == "dotted_name":
                rest = dotted_text(child)
        written = "." * level + rest
        absolute = absolute_module(module_name, is_package, level, rest)
    else:
        written = absolute = dotted_text(module_node)
    joiner = "" if written.endswith(".") else "."
    found = [
        ImportName(line(child), f"{written}{joiner}*", absolute, None, absolute)
        for child in node.named_children
        if child.type == "wildcard_import"
    ]
    for name_node in node.children_by_field_name("name"):
        if name_node.type == "aliased_import":
            dotted = name_node.child_by_field_name("name")
            alias_node = name_node.child_by_field_name("alias")
            if dotted is None or alias_node is None:
                continue
            name = dotted_text(dotted)
            alias = text(alias_node)
        else:
            name = dotted_text(name_node)
            alias = name.rpartition(".")[2]
        if not name:
            continue
        qualified = f"{absolute}.{name}" if absolute else name
        found.append(ImportName(line(name_node), f"{written}{joiner}{name}", qualified, alias, qualified))
    return found


def future_names(node: Node) -> list[ImportName]:
    """`from __future__ import annotations`: recorded as imports, binding nothing that resolves."""
    found: list[ImportName] = []
    for name_node in node.children_by_field_name("name"):
        dotted = name_node.child_by_field_name("name") if name_node.type == "aliased_import" else name_node
        if dotted is None:
            continue
        name = dotted_text(dotted)
        found.append(ImportName(line(name_node), f"__future__.{name}", f"__future__.{name}", name, name))
    return found


def absolute_module(module_name: str, is_package: bool, level: int, rest: str) -> str:
    """`from ..x import y` in a module: the absolute dotted name the relative one means."""
    parts = module_name.split(".") if module_name else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: max(0, len(parts) - (level - 1))]
    if rest:
        parts.append(rest)
    return ".".join(parts)
