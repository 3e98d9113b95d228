"""Rust `#[cfg(..)]` on an item, read three-valued: whether a default build (tests included) compiles it."""

from __future__ import annotations

import re

from tree_sitter import Node

_TOKEN = re.compile(r'\s*(?:([A-Za-z_][A-Za-z0-9_]*)|("(?:[^"\\]|\\.)*")|(.))')
# Set by the build itself: `test` and `debug_assertions` in a test build, the target's keys by the
# platform (unknown here). Any other name is a flag a default build does not pass (`loom`, `docsrs`).
_ON = frozenset({"test", "debug_assertions"})
_TARGET = frozenset({"unix", "windows", "feature", "panic", "overflow_checks"})


def gated(node: Node) -> bool:
    """Whether the item carries a `#[cfg(..)]` at all."""
    return any(True for _ in _cfgs(node))


def compiled(node: Node) -> bool | None:
    """False when the item's `#[cfg]`s hold only under a flag no default build sets; True when they
    hold in every test build (or there are none); None when a feature or the target decides."""
    result: bool | None = True
    for text in _cfgs(node):
        result = _and(result, _eval(_tokens(text), [0]))
    return result


def _cfgs(node: Node) -> list[str]:
    found: list[str] = []
    prev = node.prev_named_sibling
    while prev is not None and prev.type in ("attribute_item", "line_comment", "block_comment"):
        text = prev.text.decode("utf-8", "replace") if prev.text is not None else ""
        if prev.type == "attribute_item" and text.startswith("#[cfg(") and text.endswith(")]"):
            found.append(text[len("#[cfg(") : -len(")]")])
        prev = prev.prev_named_sibling
    return found


def _tokens(text: str) -> list[str]:
    return [m.group(0).strip() for m in _TOKEN.finditer(text) if m.group(0).strip()]


def _eval(toks: list[str], pos: list[int]) -> bool | None:
    """One predicate at toks[pos[0]] (`name`, `key = "value"`, `not(p)`, `all(..)`, `any(..)`)."""
    if pos[0] >= len(toks):
        return None
    name = toks[pos[0]]
    pos[0] += 1
    nxt = toks[pos[0]] if pos[0] < len(toks) else ""
    if nxt == "(" and name in ("not", "all", "any"):
        pos[0] += 1
        parts: list[bool | None] = []
        while pos[0] < len(toks) and toks[pos[0]] != ")":
            parts.append(_eval(toks, pos))
            if pos[0] < len(toks) and toks[pos[0]] == ",":
                pos[0] += 1
        pos[0] += 1
        if name == "not":
            return None if not parts or parts[0] is None else not parts[0]
        if name == "all":
            return False if False in parts else (None if None in parts else True)
        return True if True in parts else (None if None in parts else False)
    if nxt == "=":
        pos[0] += 2
        return None if name in _TARGET or name.startswith("target_") else False
    if name in _ON:
        return True
    return None if name in _TARGET or name.startswith("target_") else False


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return None if a is None or b is None else True
