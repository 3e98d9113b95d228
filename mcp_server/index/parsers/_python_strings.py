"""Python string literals read as Python reads them: prefixes, escapes, implicit concatenation, docstrings."""

from __future__ import annotations

import inspect
import re
import unicodedata
from typing import Final

from tree_sitter import Node

from ._python_nodes import text as node_text

STRINGS: Final[frozenset[str]] = frozenset({"string", "concatenated_string"})
_ESCAPE: Final = re.compile(
    r"\\(\n|\\|'|\"|[abfnrtv]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3})"
)
_SIMPLE_ESCAPES: Final[dict[str, str]] = {
    "\n": "",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
}


def unescape(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        body = match.group(1)
        simple = _SIMPLE_ESCAPES.get(body)
        if simple is not None:
            return simple
        try:
            if body[0] in "xuU":
                return chr(int(body[1:], 16))
            if body[0] == "N":
                return unicodedata.lookup(body[2:-1])
            return chr(int(body, 8))
        except (ValueError, KeyError, OverflowError):
            return match.group(0)

    return _ESCAPE.sub(replace, text)


def string_prefix(string: Node) -> str:
    first = string.child(0)
    if first is None or first.type != "string_start":
        return ""
    return node_text(first).rstrip("'\"").lower()


def string_value(node: Node) -> str | None:
    """The value of a plain (non-f, non-bytes) string or implicit concatenation of them."""
    parts = node.named_children if node.type == "concatenated_string" else [node]
    out: list[str] = []
    for part in parts:
        if part.type != "string":
            return None
        prefix = string_prefix(part)
        if "f" in prefix or "b" in prefix or "t" in prefix:
            return None
        content = "".join(node_text(c) for c in part.named_children if c.type in ("string_content", "escape_sequence"))
        out.append(content if "r" in prefix else unescape(content))
    return "".join(out)


def body_docstring(body: Node | None) -> str | None:
    """The first statement of a module/class/function body, when it is a string literal."""
    if body is None:
        return None
    for statement in body.named_children:
        if statement.type == "comment":
            continue
        if statement.type != "expression_statement" or statement.named_child_count != 1:
            return None
        value = statement.named_children[0]
        if value.type not in STRINGS:
            return None
        text = string_value(value)
        return clean_doc(text) if text is not None else None
    return None


def clean_doc(text: str) -> str | None:
    # Python reads source with universal newlines, so a CRLF file's docstrings hold plain \n.
    cleaned = inspect.cleandoc(text.replace("\r\n", "\n").replace("\r", "\n")).strip()
    return cleaned or None
