"""Calls written inside Rust macro arguments (`assert_eq!(b.len(), f(x))`), read from the token tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

from tree_sitter import Node

_OPEN_CALL = "("


class MacroCall(NamedTuple):
    """One call found among a macro's tokens."""

    path: str | None  # `a::b` for a path call, None for a method call
    receiver: str | None  # `self`, an identifier, or None when it is an expression
    name: str  # the called name (a path's last segment, or the method)
    node: Node  # where the call is written
    args: Node | None = None  # the token group of its arguments


def macro_calls(tree: Node, text: Callable[[Node], str], budget: int = 2000) -> Iterator[MacroCall]:
    """Path calls (`a::b(..)`) and method calls (`x.m(..)`) among `tree`'s tokens, nested groups included.
    Tree-sitter leaves a macro's arguments unparsed, so the call shapes are matched token by token;
    a name followed by `!` is a nested macro, whose own group is read the same way."""
    stack = [tree]
    while stack and budget > 0:
        group = stack.pop()
        toks = group.children
        for i, tok in enumerate(toks):
            budget -= 1
            if tok.type == "token_tree":
                stack.append(tok)
                continue
            args = _opens_call(toks, i + 1)
            if tok.type != "identifier" or args is None:
                continue
            prev = toks[i - 1].type if i > 0 else ""
            if prev == ".":
                recv = toks[i - 2] if i > 1 else None
                simple = recv is not None and recv.type in ("identifier", "self") and _starts_operand(toks, i - 2)
                yield MacroCall(None, text(recv) if simple and recv is not None else None, text(tok), tok)
                continue
            start = i
            while (
                start >= 2
                and toks[start - 1].type == "::"
                and toks[start - 2].type in ("identifier", "self", "crate", "super")
            ):
                start -= 2
            if start > 0 and toks[start - 1].type in ("::", "."):
                continue  # `<T as X>::f(` or `x.a::b(`: not a plain path
            path = "::".join(text(toks[j]) for j in range(start, i + 1, 2))
            yield MacroCall(path, None, text(tok), toks[start], args)


def _opens_call(toks: list[Node], j: int) -> Node | None:
    """The argument group of `name(..)` or `name::<T>(..)` at token j, if there is one."""
    if j < len(toks) and toks[j].type == "::" and j + 1 < len(toks) and toks[j + 1].type == "<":
        depth = 0
        for k in range(j + 1, len(toks)):
            depth += {"<": 1, ">": -1}.get(toks[k].type, 0)
            if depth == 0:
                j = k + 1
                break
        else:
            return None
    opens = j < len(toks) and toks[j].type == "token_tree" and toks[j].child_count > 0
    return toks[j] if opens and toks[j].children[0].type == _OPEN_CALL else None


def _starts_operand(toks: list[Node], j: int) -> bool:
    """The receiver at j is a whole operand (not the tail of `a.b` or `a::b`)."""
    return j == 0 or toks[j - 1].type not in (".", "::")
