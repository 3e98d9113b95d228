"""Small readers of tree-sitter nodes shared by the Python parser's modules."""

from __future__ import annotations

from tree_sitter import Node


def text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "replace") if raw is not None else ""


def line(node: Node) -> int:
    return node.start_point.row + 1


def dotted_text(node: Node) -> str:
    if node.type == "identifier":
        return text(node)
    return ".".join(text(c) for c in node.named_children if c.type == "identifier")
