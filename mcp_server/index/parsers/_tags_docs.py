"""Doc strings written as code rather than comments: Elixir's `@doc`/`@moduledoc`, Julia's docstrings."""

from __future__ import annotations

import inspect

from tree_sitter import Node

from ._generic import Ctx

LANGUAGES = frozenset({"elixir", "julia"})
_MODULES = frozenset({"defmodule", "defprotocol"})
_MAX_ATTRIBUTES = 50  # `@spec`, `@impl`, ... between a `@doc` and its `def`


def code_doc(ctx: Ctx, node: Node) -> str | None:
    """The doc string of the definition at `node`, in a language that writes it as code."""
    if ctx.language == "elixir":
        return _elixir_doc(ctx, node)
    if ctx.language == "julia":
        return _julia_doc(ctx, node)
    return None


def _elixir_doc(ctx: Ctx, node: Node) -> str | None:
    target = node.child_by_field_name("target")
    if target is not None and ctx.text(target) in _MODULES:
        # `@moduledoc` sits inside the module's body, anywhere before its first definition.
        body = next((c for c in node.named_children if c.type == "do_block"), None)
        for child in body.named_children if body is not None else ():
            if _attribute(ctx, child) == "moduledoc":
                return _elixir_string(ctx, child)
        return None
    prev = node.prev_named_sibling
    for _ in range(_MAX_ATTRIBUTES):
        if prev is None:
            return None
        name = _attribute(ctx, prev)
        if name == "doc":
            return _elixir_string(ctx, prev)
        if name is None and prev.type != "comment":
            return None  # another definition: the `@doc` above it is its own
        prev = prev.prev_named_sibling
    return None


def _attribute(ctx: Ctx, node: Node) -> str | None:
    """The name of a module attribute (`@doc "..."` -> "doc"), or None."""
    if node.type != "unary_operator" or ctx.text(node).lstrip()[:1] != "@":
        return None
    operand = node.child_by_field_name("operand")
    target = operand.child_by_field_name("target") if operand is not None and operand.type == "call" else None
    return ctx.text(target) if target is not None else None


def _elixir_string(ctx: Ctx, attribute: Node) -> str | None:
    """The text of `@doc "..."`, a heredoc or a `~S` sigil; None for `@doc false`."""
    operand = attribute.child_by_field_name("operand")
    args = next((c for c in operand.named_children if c.type == "arguments"), None) if operand else None
    value = args.named_children[0] if args is not None and args.named_children else None
    if value is None or value.type not in ("string", "sigil"):
        return None
    text = "".join(ctx.text(c) for c in value.named_children if c.type == "quoted_content")
    return inspect.cleandoc(text) or None


def _julia_doc(ctx: Ctx, node: Node) -> str | None:
    prev = node.prev_sibling
    if prev is None or prev.type != "string_literal" or prev.end_point.row < node.start_point.row - 1:
        return None
    text = "".join(ctx.text(c) for c in prev.named_children if c.type == "content")
    return inspect.cleandoc(text) or None
