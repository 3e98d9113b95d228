"""The type of a Rust call's first argument, where the text shows it (records.ARG_TYPE)."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from ._generic import Ctx

# What these standard methods return, whatever they are called on.
_RETURNS = {"to_vec": "Vec", "into_bytes": "Vec", "into_vec": "Vec", "to_string": "String", "into_boxed_slice": "Box"}
_MACROS = {"vec": "Vec", "format": "String"}
VarType = Callable[[str, Node], "str | None"]  # a local's or parameter's type as written, at a site


def head(text: str | None) -> str | None:
    """ "crate::Bytes" -> "Bytes" (a type as the resolver compares it)."""
    return text.split("<", 1)[0].rsplit("::", 1)[-1] or None if text else None


def arg_type(ctx: Ctx, args: Node | None, var: VarType) -> str | None:
    """The type of the first of `args` (an `arguments` node): a literal's, a local's, a constructor's."""
    node = args.named_child(0) if args is not None and args.named_child_count else None
    for _ in range(4):
        if node is not None and node.type in ("reference_expression", "parenthesized_expression"):
            node = node.child_by_field_name("value") or node.named_child(0)
    if node is None:
        return None
    kind = node.type
    if kind in ("string_literal", "raw_string_literal"):
        return None if ctx.text(node).startswith("b") else "str"
    if kind == "index_expression":  # `&b"abc"[..]`
        value = node.named_child(0)
        return "[u8]" if value is not None and ctx.text(value).startswith('b"') else None
    if kind == "macro_invocation":
        return _MACROS.get(ctx.text(node.child_by_field_name("macro")))
    if kind == "identifier":
        return head(var(ctx.text(node), node))
    if kind == "struct_expression":
        return head(ctx.flat(node.child_by_field_name("name")))
    if kind != "call_expression":
        return None
    fn = node.child_by_field_name("function")
    if fn is not None and fn.type == "scoped_identifier":
        path = fn.child_by_field_name("path")
        owner = head(ctx.flat(path)) if path is not None else None
        return owner if owner and owner[:1].isupper() and owner != "Self" else None  # `Bytes::from(..)`
    if fn is not None and fn.type == "field_expression":
        name = ctx.text(fn.child_by_field_name("field"))
        if name == "clone":
            return arg_type(ctx, fn, var)  # `v.clone()`: v's (fn's named child 0 is the receiver)
        return _RETURNS.get(name)
    return None


def token_arg_type(ctx: Ctx, tree: Node | None, var: VarType) -> str | None:
    """The same, read from a macro's tokens: `(b1)`, `(&b"x"[..])`, `(vec![..])`, `(v.clone())`."""
    toks = tree.children[1:-1] if tree is not None else []
    end = next((i for i, t in enumerate(toks) if t.type == ","), len(toks))
    toks = toks[1:end] if toks and toks[0].type == "&" else toks[:end]
    kinds = [t.type for t in toks]
    if kinds == ["identifier"]:
        return head(var(ctx.text(toks[0]), toks[0]))
    if kinds == ["identifier", ".", "identifier", "token_tree"] and ctx.text(toks[2]) == "clone":
        return head(var(ctx.text(toks[0]), toks[0]))
    if kinds == ["string_literal"]:
        return None if ctx.text(toks[0]).startswith("b") else "str"
    if kinds == ["string_literal", "token_tree"] and ctx.text(toks[0]).startswith('b"'):
        return "[u8]"
    if kinds == ["identifier", "!", "token_tree"]:
        return _MACROS.get(ctx.text(toks[0]))
    return None
