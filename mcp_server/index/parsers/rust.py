"""Rust parser: items under their crate module path, impl/trait methods, `use` trees, calls, trait impls."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from tree_sitter import Node

from ..project import EMPTY_PROJECT, Project
from ..records import ARG_TYPE, CONF_EXACT, CONF_SCOPED, CONF_UNIQUE, NAME_FALLBACK, TYPE_OF, ParsedFile
from ._generic import CLASS_KINDS, SKIP, Candidates, Ctx, Frame, Handler, run, strip_nested
from ._rust_args import arg_type, token_arg_type
from ._rust_cfg import compiled, gated
from ._rust_macros import macro_calls
from ._rust_types import SLICE, bounds, field_type, is_slice, record_fields, returned, type_args, type_name

_COMMENTS = frozenset({"line_comment", "block_comment"})
_HEADERS = frozenset({"use_declaration", "attribute_item", "inner_attribute_item", "extern_crate_declaration"})
_ITEM_KINDS = {
    "struct_item": "struct",
    "enum_item": "enum",
    "union_item": "union",
    "trait_item": "trait",
    "type_item": "type",
}
_SKIP_CALLS = frozenset({"Some", "Ok", "Err"})  # enum variants, not functions
_MODULE_FRAMES = frozenset({"module", "function"})
# The standard library's types: a receiver known to be one of these has none of the crate's methods.
_TURBOFISH = re.compile(r"::<[^<>]*>")
_STD_CRATES = frozenset({"std", "core", "alloc"})  # a path's first segment naming the standard library
_STD_TYPES = frozenset(
    "Vec String Option Result Box Rc Arc Cell RefCell HashMap HashSet BTreeMap BTreeSet VecDeque str"
    " u8 u16 u32 u64 u128 usize i8 i16 i32 i64 i128 isize f32 f64 bool char".split()
)
HeldFn = Callable[[], Candidates]
# What follows a method's return type, which the crate may not declare (`-> impl Trait` elsewhere):
# the name alone, so that a chain the type edges cannot follow costs no more than no chain at all.
_FALLBACK: Candidates = ((NAME_FALLBACK, CONF_UNIQUE),)
USES_PROJECT = True  # Cargo.toml names the crate its own tests and examples `use`


def parse(source: bytes, path: str, module_name: str, language: str, project: Project = EMPTY_PROJECT) -> ParsedFile:
    return run(
        source,
        path,
        module_name,
        language,
        sep="::",
        comment_types=_COMMENTS,
        header_types=_HEADERS,
        handlers=_HANDLERS,
        root_prefix=_crate_path(module_name),
        setup=lambda ctx, root: _setup(ctx, root, project.rust_crate(path), _crate_root(module_name)),
    )


def _crate_root(module_name: str) -> str:
    """The path `crate::` names in a file: the library's, or a test's (tests/t.rs is a crate of its own,
    whose `mod util;` is tests/util/mod.rs, indexed as `crate::tests::util`)."""
    segs = module_name.split(".") if module_name else []
    if "src" not in segs and len(segs) > 1 and segs[0] in ("tests", "examples", "benches"):
        return f"crate::{segs[0]}"
    return "crate"


def _crate_path(module_name: str) -> str:
    """ "src.net.http" -> "crate::net::http"; lib.rs, main.rs and mod.rs name their directory."""
    segs = module_name.split(".") if module_name else []
    if "src" in segs:
        segs = segs[segs.index("src") + 1 :]
    if segs and segs[-1] in ("mod", "lib", "main"):
        segs = segs[:-1]
    return "::".join(["crate", *segs])


def _setup(ctx: Ctx, root: Node, crate: str | None, crate_root: str) -> None:
    ctx.data["crate"] = crate
    ctx.data["root"] = crate_root
    # `use inner::X` may name a module declared further down this file
    mods = [(c, c.child_by_field_name("name")) for c in root.named_children if c.type == "mod_item"]
    ctx.data["mods"] = {ctx.text(n) for c, n in mods if n is not None}
    # `mod util;` in a test crate's root file is tests/util/mod.rs, beside it
    ctx.data["file_mods"] = {ctx.text(n) for c, n in mods if n is not None and c.child_by_field_name("body") is None}


def _modpath(ctx: Ctx) -> str:
    for frame in reversed(ctx.frames):
        if frame.kind == "module":
            return frame.qname
    return ctx.frames[0].qname


class _Scope(NamedTuple):
    """What a deferred resolution needs to know about the site's scope."""

    chain: list[str]  # lexical scopes for a bare name: functions and modules (no implicit Self)
    modpath: str  # the module the site is in
    owner: str | None  # the type `Self` denotes


def _scope(ctx: Ctx) -> _Scope:
    owner = next((f.owner for f in reversed(ctx.frames) if f.owner), None)
    return _Scope([f.qname for f in reversed(ctx.frames) if f.kind in _MODULE_FRAMES], _modpath(ctx), owner)


def _absolute(ctx: Ctx, path: str, modpath: str) -> str | None:
    """Absolute path of a `crate::` / `self::` / `super::` / local-module path; None if external."""
    segs = path.split("::")
    if not segs or not segs[0]:
        return None
    head = segs[0]
    if head == "crate":
        return "::".join([ctx.data.get("root", "crate"), *segs[1:]])
    base = modpath.split("::")
    if head == "self":
        return "::".join(base + segs[1:])
    if head == "super":
        while segs and segs[0] == "super":
            if len(base) <= 1:
                return None
            base, segs = base[:-1], segs[1:]
        return "::".join(base + segs)
    root = ctx.data.get("root", "crate")
    top = root != "crate" and ctx.module_name.count(".") == 1 and modpath == _crate_path(ctx.module_name)
    if head in ctx.data.get("file_mods", ()) and top:
        return "::".join([root, *segs])
    if head in ctx.data.get("mods", ()):
        return "::".join(base + segs)
    if head == ctx.data.get("crate"):
        return "::".join(["crate", *segs[1:]])  # the crate's own name, as its tests and examples write it
    return None


def _resolve_path(ctx: Ctx, path: str, scope: _Scope, kinds: frozenset[str] | None = None) -> Candidates:
    """Candidates for a name or path as written, from the scope it is written in."""
    if "<" in path:
        return ()
    head, _, rest = path.partition("::")
    if head == "Self":
        return ctx.member(scope.owner, rest) if scope.owner and rest else ()
    absolute = _absolute(ctx, path, scope.modpath)
    if absolute is not None:
        return ((absolute, CONF_EXACT),)
    local = ctx.lookup(head, scope.chain, kinds if not rest else None)
    if local is not None:
        return ((local, CONF_EXACT),) if not rest else ctx.member(local, rest)
    imported = ctx.imports.get(head)
    if imported is not None:
        return ((f"{imported}::{rest}" if rest else imported, CONF_SCOPED),)
    if rest and kinds is None and head in _STD_TYPES:
        return ((path, CONF_SCOPED),)  # `Vec::from(b)`: the crate's impl for Vec, if the argument tells
    if rest and head in _STD_CRATES:
        # `core::slice::from_raw_parts_mut(..)`, `std::process::abort()`: the standard library's,
        # never a crate function of that name (only a crate's impl for a standard type, as above)
        return ((path, CONF_SCOPED),)
    globs = [g for m in (*scope.chain, scope.modpath) for g in ctx.data.get("globs", {}).get(m, ())]
    if globs and kinds is None:
        # `use crate::util::*` may bring the name in; else whatever the name alone finds
        return (*((f"{g}::{path}", CONF_SCOPED) for g in dict.fromkeys(globs)), *_FALLBACK)
    if globs and head not in _STD_TYPES:
        # a type: `let slab = Slab::new()` under a test's `use slab::*` (its crate's own name)
        return tuple((f"{g}::{path}", CONF_SCOPED) for g in dict.fromkeys(globs))
    return ()


# ---- definitions ------------------------------------------------------------------------


def _function(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    frame = ctx.frame
    name = ctx.text(name_node)
    in_type = frame.kind in ("impl", "trait")
    qname = ctx.join(frame.qname, name)
    body = node.child_by_field_name("body")
    vars_ = _param_types(ctx, node)
    first = ctx.defined.get(qname)
    if frame.kind == "impl" and not frame.data.get("trait") and first is not None and gated(node):
        # An inherent method has one definition per name: a second is its `#[cfg]` alternate
        # (`new` for loom builds), the same method, whose calls the first answers for.
        ctx.enter(Frame(first, qname, "function", frame.owner, {"vars": vars_}))
        return None
    idx = ctx.add_symbol(
        "method" if in_type else "function", name, qname, node, sig_end=body.start_byte if body is not None else None
    )
    ctx.enter(Frame(idx, qname, "function", frame.owner if in_type else None, {"vars": vars_}))
    _return_type(ctx, idx, node, frame.owner if in_type else None)
    return None


def _return_type(ctx: Ctx, source: int, node: Node, owner: str | None) -> None:
    """What a function returns as a type edge (records.TYPE_OF): `x.f().m()` is then found on that
    type, as a variable's. Also the plain reference to the type written there."""
    target = returned(node)
    if target is None:
        return
    generic = set(bounds(ctx, node)) | {
        ctx.text(p.child_by_field_name("name"))
        for p in (node.child_by_field_name("type_parameters") or node).named_children
        if p.type == "type_parameter"
    }
    if ctx.flat(target).split("::", 1)[0] not in generic:
        _type_of(ctx, source, target, owner)


def _type_of(ctx: Ctx, source: int, target: Node, owner: str | None) -> None:
    """A type edge (records.TYPE_OF) from `source` to the type named at `target`, unless a type parameter."""
    ctx.skip.add(target.id)
    text = ctx.flat(target)
    head = text.split("::", 1)[0]
    if any(head in f.data.get("tparams", ()) for f in ctx.frames):
        return
    if text == "Self":
        if owner:
            ctx.edge("references", text, target, ((owner, CONF_EXACT),), TYPE_OF, source)
        return
    scope = _scope(ctx)
    ctx.edge("references", text, target, lambda: _resolve_path(ctx, text, scope, CLASS_KINDS) or None, TYPE_OF, source)


def _param_types(ctx: Ctx, node: Node) -> dict[str, str]:
    """Parameter name -> the type (or, for a generic or `impl`/`dyn` one, the first trait) it is declared as,
    so that `src.advance()` on `src: B` with `B: Buf` names `Buf::advance`."""
    bound = bounds(ctx, node)
    found: dict[str, str] = {}
    for param in (node.child_by_field_name("parameters") or node).named_children:
        pattern = param.child_by_field_name("pattern")
        written: Node | None = param.child_by_field_name("type")
        if param.type != "parameter" or pattern is None or pattern.type != "identifier":
            continue
        if written is not None and written.type == "reference_type":
            written = written.child_by_field_name("type")
        if written is not None and written.type == "array_type" and written.child_by_field_name("length") is None:
            found[ctx.text(pattern)] = SLICE  # `buf: &[u8]`
            continue
        target = type_name(written)
        if target is not None:
            text = ctx.flat(target)
            found[ctx.text(pattern)] = bound.get(text, text)
    return found


def _let(ctx: Ctx, node: Node) -> bool | None:
    """`let b: T = ..`, `let b = T::new(..)`, `let b = T { .. }`: `b` holds a T from here on in its function
    (a constructor-shaped call is taken to return its type); `let b = x.f()`, what f returns; any other
    `let b` forgets what `b` held. `let (a, b) = (x, y)` (or `: (T, U)`) binds element by element;
    a tuple pattern of anything else forgets what each of its names held."""
    pattern = node.child_by_field_name("pattern")
    frame = next((f for f in reversed(ctx.frames) if f.kind == "function"), None)
    if pattern is None or frame is None:
        return None
    lets = frame.data.setdefault("lets", {})
    type_node, value = node.child_by_field_name("type"), node.child_by_field_name("value")
    if pattern.type == "identifier":
        # visible after the statement: `let rhs = rhs.as_str()` reads the parameter
        lets.setdefault(ctx.text(pattern), []).append((node.end_byte, _let_holds(ctx, type_node, value)))
    elif pattern.type == "tuple_pattern":
        names = pattern.named_children
        types = type_node.named_children if type_node is not None and type_node.type == "tuple_type" else None
        values = value.named_children if value is not None and value.type == "tuple_expression" else None
        for i, element in enumerate(names):
            held = None
            if element.type == "identifier" and (types or values):
                pair_type = types[i] if types is not None and len(types) == len(names) else None
                pair_value = values[i] if values is not None and len(values) == len(names) else None
                held = _let_holds(ctx, pair_type, pair_value) if pair_type or pair_value else None
            for ident in _pattern_names(element):
                lets.setdefault(ctx.text(ident), []).append((node.end_byte, held if ident is element else None))
    return None


def _pattern_names(node: Node) -> list[Node]:
    """The identifiers a pattern binds (`a`, `(a, mut b)`, `Some(c)`)."""
    if node.type == "identifier":
        return [node]
    return [n for c in node.named_children if c.type != "scoped_identifier" for n in _pattern_names(c)]


def _let_holds(ctx: Ctx, type_node: Node | None, value: Node | None) -> str | HeldFn | None:
    """What a name bound to `value` (declared of type `type_node`) holds: see _let."""
    written = type_name(type_node)
    if written is None and value is not None and value.type == "struct_expression":
        written = type_name(value.child_by_field_name("name"))
    text = ctx.flat(written) if written is not None else None
    if text is None and value is not None and value.type == "call_expression":
        fn = value.child_by_field_name("function")
        path = fn.child_by_field_name("path") if fn is not None and fn.type == "scoped_identifier" else None
        if path is not None and path.type == "generic_type":
            path = path.child_by_field_name("type")
        head = ctx.flat(path).rsplit("::", 1)[-1] if path is not None else ""
        if head[:1].isupper() and head != "Self":
            text = ctx.flat(path)
    if text is not None:
        return text
    return _receiver(ctx, value) if value is not None else None


def _held(ctx: Ctx, name: str, at: Node) -> str | HeldFn | None:
    """What the innermost function's parameter or local `name` holds at `at`: a type as written, or
    candidates for a value's type; None if the parser does not know."""
    frame = next((f for f in reversed(ctx.frames) if f.kind == "function"), None)
    if frame is None or not frame.data:
        return None
    bound = [h for start, h in frame.data.get("lets", {}).get(name, ()) if start <= at.start_byte]
    held: str | HeldFn | None = bound[-1] if bound else frame.data.get("vars", {}).get(name)
    return held


def _var_text(ctx: Ctx, name: str, at: Node) -> str | None:
    held = _held(ctx, name, at)
    return held if isinstance(held, str) else None


def _arg_hint(path: str, text: str | None) -> Candidates:
    """records.ARG_TYPE for a call of a type's function (`Bytes::from(v)`), which may be one of several."""
    owner = path.rsplit("::", 2)[-2] if path.count("::") else ""
    return ((f"{ARG_TYPE}{text}", 0.0),) if text and owner[:1].isupper() else ()


def _var(ctx: Ctx, name: str, at: Node) -> HeldFn | None:
    """What `name` holds at `at` as candidates for its type's path, if the parser knows."""
    held = _held(ctx, name, at)
    if held is None or callable(held):
        return held
    scope = _scope(ctx)
    return lambda: _typed(ctx, held, scope)


def _typed(ctx: Ctx, text: str | None, scope: _Scope) -> Candidates:
    """Candidates for the type written as `text`; a standard type's own path (naming nothing here,
    so that its methods are never guessed by name onto the crate's)."""
    if not text:
        return ()
    if text == "Self":
        return ((scope.owner, CONF_EXACT),) if scope.owner else ()
    if text == SLICE:
        return ((text, CONF_SCOPED),)
    found = _resolve_path(ctx, text, scope, CLASS_KINDS)
    if not found and text.rsplit("::", 1)[-1] in _STD_TYPES:
        return ((text, CONF_SCOPED),)
    return found


def _receiver(ctx: Ctx, node: Node | None) -> HeldFn | None:
    """The type an expression holds, as candidates for its path once the file is known (a method's
    path stands for what it returns: the resolver follows its type edge); None when unknown."""
    for _ in range(4):
        if node is not None and node.type in ("parenthesized_expression", "reference_expression"):
            node = node.child_by_field_name("value") or node.named_child(node.named_child_count - 1)
        elif node is not None and node.type in ("unsafe_block", "block"):  # `unsafe { f() }`: f's
            node = _tail(node)
    if node is None:
        return None
    scope = _scope(ctx)
    if is_slice(node):
        return lambda: _typed(ctx, SLICE, scope)
    if node.type == "self":
        return (lambda: _typed(ctx, "Self", scope)) if scope.owner else None
    if node.type == "identifier":
        return _var(ctx, ctx.text(node), node)
    if node.type == "struct_expression":
        text = ctx.flat(type_name(node.child_by_field_name("name")))
        return lambda: _typed(ctx, text, scope)
    if node.type == "field_expression":
        value, field = node.child_by_field_name("value"), node.child_by_field_name("field")
        if value is None or field is None:
            return None
        name = ctx.text(field)
        impl = next((f for f in reversed(ctx.frames) if f.kind == "impl"), None)
        if value.type == "self" and impl is not None and scope.owner:
            owner, data = scope.owner, impl.data
            # declared in this file: its type, through the impl's bounds; else the field's type edge
            return lambda: (
                _typed(ctx, field_type(ctx, owner, name, data), scope) or _members(((owner, CONF_SCOPED),), name)
            )
        inner = _receiver(ctx, value)
        return _member_later(inner, name) if inner is not None else None
    if node.type != "call_expression":
        return None
    fn = node.child_by_field_name("function")
    if fn is not None and fn.type == "generic_function":
        fn = fn.child_by_field_name("function")
    if fn is not None and fn.type in ("identifier", "scoped_identifier"):
        path = ctx.flat(fn)
        return lambda: _resolve_path(ctx, path, scope)
    if fn is None or fn.type != "field_expression" or (field := fn.child_by_field_name("field")) is None:
        return None
    inner = _receiver(ctx, fn.child_by_field_name("value"))
    name = ctx.text(field)
    return (lambda: _members(inner(), name)) if inner is not None else None


def _tail(block: Node) -> Node | None:
    """The value a block ends with, if it ends with one."""
    inner = block.named_child(block.named_child_count - 1) if block.named_child_count else None
    if inner is not None and inner.type == "block":
        return _tail(inner)
    return None if inner is None or inner.type.endswith(("_statement", "_declaration", "_item")) else inner


def _members(owners: Candidates, name: str) -> Candidates:
    return tuple((f"{q}::{name}", conf) for q, conf in owners)


def _item(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    if node.type == "trait_item" and compiled(node) is False:
        return SKIP  # see _compiled_out
    ctx.skip.add(name_node.id)
    kind = _ITEM_KINDS[node.type]
    name = ctx.text(name_node)
    qname = ctx.join(ctx.frame.qname, name)
    body = node.child_by_field_name("body")
    idx = ctx.add_symbol(
        kind, name, qname, node, sig_end=body.start_byte if body is not None and kind != "type" else None
    )
    tparams = {
        ctx.text(p.child_by_field_name("name"))
        for p in (node.child_by_field_name("type_parameters") or node).named_children
        if p.type == "type_parameter"
    }
    ctx.enter(Frame(idx, qname, kind, qname if kind == "trait" else None, {"tparams": tparams}))
    if kind == "struct":
        for decl, field, target in record_fields(ctx, qname, node):
            # a symbol with a type edge: `v.pre.is_empty()` in another file is found on pre's type
            _type_of(ctx, ctx.add_symbol("field", field, ctx.join(qname, field), decl), target, None)
    if kind == "trait":
        bounds = node.child_by_field_name("bounds")
        for bound in bounds.named_children if bounds is not None else ():
            target_node = type_name(bound)
            if target_node is not None:
                _inherit(ctx, target_node, idx)
                ctx.skip.add(bound.id)
    return None


def _inherit(ctx: Ctx, target_node: Node, source: int) -> None:
    target = ctx.text(target_node)
    scope = _scope(ctx)
    ctx.edge("inherits", target, target_node, lambda: _resolve_path(ctx, target, scope, CLASS_KINDS), source=source)


def _impl(ctx: Ctx, node: Node) -> bool | None:
    if compiled(node) is False:
        return SKIP  # see _compiled_out
    type_node = type_name(node.child_by_field_name("type"))
    if type_node is None:
        return None
    ctx.skip.add(type_node.id)
    written = ctx.flat(type_node)
    # `impl Prerelease` in src/impls.rs of the `crate::Prerelease` it imports: that type's methods
    path = _absolute(ctx, written, _modpath(ctx)) or ctx.imports.get(written, "")
    owner = path if path.startswith("crate") else ctx.join(_modpath(ctx), written.rsplit("::", 1)[-1])
    trait_node = type_name(node.child_by_field_name("trait"))
    if trait_node is not None:
        ctx.skip.add(trait_node.id)
        frame_sym = ctx.frame.sym
        target = ctx.text(trait_node)
        scope = _scope(ctx)

        def source() -> int:
            idx = ctx.defined.get(owner)
            return idx if idx is not None and ctx.result.symbols[idx].kind in CLASS_KINDS else frame_sym

        ctx.edge("inherits", target, trait_node, lambda: _resolve_path(ctx, target, scope, CLASS_KINDS), source=source)
    tparams = {
        ctx.text(p.child_by_field_name("name"))
        for p in (node.child_by_field_name("type_parameters") or node).named_children
        if p.type == "type_parameter"
    }
    data = {
        "tparams": tparams,
        "trait": trait_node is not None,
        "bounds": bounds(ctx, node),
        "args": type_args(ctx, node.child_by_field_name("type")),
    }
    ctx.enter(Frame(ctx.frame.sym, owner, "impl", owner, data))
    return None


# _compiled_out: an inline module, a trait or an impl under a `#[cfg]` no default build sets
# (`#[cfg(no_alloc_crate)] mod alloc { .. }`, a backport for old compilers) is none of the crate's
# items: paths and glob re-exports would bind to it what the build binds elsewhere (semver's
# `alloc(layout)` is the standard library's), so it adds no symbols and no edges.


def _mod(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or body is None:
        return None  # `mod x;` declares a file module, indexed from its own file
    if compiled(node) is False:
        return SKIP  # see _compiled_out
    name = ctx.text(name_node)
    qname = ctx.join(_modpath(ctx), name)
    idx = ctx.add_symbol("module", name, qname, node, sig_end=body.start_byte)
    ctx.enter(Frame(idx, qname, "module"))
    return None


def _value(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if ctx.frame.kind != "module" or name_node is None:
        return None
    name = ctx.text(name_node)
    value = node.child_by_field_name("value")
    ctx.add_symbol(
        "constant" if node.type == "const_item" else "variable",
        name,
        ctx.join(ctx.frame.qname, name),
        node,
        sig_end=value.start_byte if value is not None else None,
    )
    return None


# ---- use, calls, references -------------------------------------------------------------


def _use(ctx: Ctx, node: Node) -> bool | None:
    arg = node.child_by_field_name("argument")
    stack: list[tuple[str, Node]] = [("", arg)] if arg is not None else []
    budget = 500
    live = compiled(node) is not False  # `#[cfg(test_node_semver)] use node::req` binds nothing
    while stack and budget:
        budget -= 1
        prefix, cur = stack.pop()
        kind = cur.type
        if kind == "use_as_clause":
            path = _join_path(prefix, ctx.flat(cur.child_by_field_name("path")))
            _use_leaf(ctx, node, path, ctx.text(cur.child_by_field_name("alias")), live)
        elif kind == "scoped_use_list":
            path_node = cur.child_by_field_name("path")
            inner = _join_path(prefix, ctx.flat(path_node)) if path_node is not None else prefix
            lst = cur.child_by_field_name("list")
            if lst is not None:
                stack.extend((inner, c) for c in reversed(lst.named_children))
        elif kind == "use_list":
            stack.extend((prefix, c) for c in reversed(cur.named_children))
        elif kind == "use_wildcard":
            inner = _join_path(prefix, ctx.flat(cur.named_child(0))) if cur.named_child_count else prefix
            absolute = _absolute(ctx, inner, _modpath(ctx))
            if absolute and live:
                ctx.data.setdefault("globs", {}).setdefault(_modpath(ctx), []).append(absolute)
            ctx.edge("imports", f"{inner}::*", node, ((absolute, CONF_EXACT),) if absolute else ())
        elif kind in ("identifier", "scoped_identifier", "self", "crate", "super"):
            path = _join_path(prefix, ctx.flat(cur))
            if path.endswith("::self"):
                path = path[: -len("::self")]
            _use_leaf(ctx, node, path, path.rsplit("::", 1)[-1], live)
    return SKIP


def _join_path(prefix: str, rest: str) -> str:
    return f"{prefix}::{rest}" if prefix and rest else prefix or rest


def _use_leaf(ctx: Ctx, node: Node, path: str, alias: str, live: bool) -> None:
    absolute = _absolute(ctx, path, _modpath(ctx))
    if alias and alias != "_" and live:
        ctx.imports[alias] = absolute or path
    ctx.edge(
        "imports",
        path,
        node,
        ((absolute, CONF_EXACT),) if absolute else (),
        alias=alias if alias and alias != "_" else None,
    )


def _call(ctx: Ctx, node: Node) -> bool | None:
    fn = node.child_by_field_name("function")
    if fn is not None and fn.type == "generic_function":
        fn = fn.child_by_field_name("function")
    if fn is None:
        return None
    if fn.type in ("identifier", "scoped_identifier"):
        target = ctx.flat(fn)
        if target in _SKIP_CALLS:
            return None
        scope = _scope(ctx)
        args = node.child_by_field_name("arguments")
        hint = _arg_hint(target, arg_type(ctx, args, lambda n, at: _var_text(ctx, n, at)))
        ufcs = _ufcs(ctx, target, args)
        plain = strip_nested(_TURBOFISH, target)  # `Vec::<u8>::new()` is `Vec::new()`
        ctx.edge("calls", target, node, lambda: _with_ufcs(_resolve_path(ctx, plain, scope), ufcs) + hint)
    elif fn.type == "field_expression":
        value = fn.child_by_field_name("value")
        field = fn.child_by_field_name("field")
        if field is None:
            return None
        target = ctx.flat(fn)
        owner = ctx.frame.owner
        name = ctx.text(field)
        held = _receiver(ctx, value)
        if value is not None and value.type == "self" and owner:
            ctx.edge("calls", target, field, ctx.member_later(owner, name))
        elif held is not None:
            fallback = value is not None and value.type in ("call_expression", "field_expression")
            ctx.edge("calls", target, field, _members_or_name(held, name, fallback))
        else:
            ctx.edge("calls", target, field)
    return None


def _macro(ctx: Ctx, node: Node) -> bool | None:
    """Calls among a macro's arguments get the edges the same calls get outside one."""
    tree = next((c for c in node.children if c.type == "token_tree"), None)
    if tree is None:
        return SKIP
    scope = _scope(ctx)
    owner = ctx.frame.owner
    for call in macro_calls(tree, ctx.text):
        if call.path is not None:
            path = call.path
            if path in _SKIP_CALLS:
                continue
            hint = _arg_hint(path, token_arg_type(ctx, call.args, lambda n, at: _var_text(ctx, n, at)))
            ctx.edge("calls", path, call.node, _later(ctx, path, scope, hint))
        elif call.receiver == "self" and owner:
            ctx.edge("calls", f"self.{call.name}", call.node, ctx.member_later(owner, call.name))
        elif call.receiver and (held := _var(ctx, call.receiver, call.node)) is not None:
            ctx.edge("calls", f"{call.receiver}.{call.name}", call.node, _member_later(held, call.name))
        else:
            ctx.edge("calls", f"{call.receiver or '…'}.{call.name}", call.node)
    return SKIP


def _ufcs(ctx: Ctx, path: str, args: Node | None) -> HeldFn | None:
    """`Ord::cmp(self, rhs)`: a trait's method called on its first argument, which names it as
    `self.cmp(rhs)` would (a standard type's function, `Vec::from(self)`, is not one)."""
    trait, _, name = path.rpartition("::")
    first = args.named_child(0) if args is not None and args.named_child_count else None
    if "::" in trait or not trait[:1].isupper() or trait in _STD_TYPES or first is None:
        return None
    held = _receiver(ctx, first)
    return _member_later(held, name) if held is not None else None


def _with_ufcs(found: Candidates, ufcs: HeldFn | None) -> Candidates:
    """The path's own candidates, then the receiver's method (what a crate's trait of that name
    would not define: `Ord` is the standard one unless the crate defines its own)."""
    if ufcs is None:
        return found
    return (*(c for c in found if c[0] != NAME_FALLBACK), *ufcs())


def _members_or_name(held: HeldFn, name: str, fallback: bool) -> HeldFn:
    """The receiver's `name`, then (for a chain or a field the type edges may not follow) the name
    alone; not when the receiver is a standard type (`self.entries: Vec<_>`): its `get_unchecked`
    is the slice's, and only the crate's own impl for that type may stand for it (the resolver's)."""

    def later() -> Candidates:
        owners = held()
        standard = any(_standard(q) for q, _ in owners)
        return _members(owners, name) + _FALLBACK * (fallback and not standard)

    return later


def _standard(path: str) -> bool:
    """Whether a type's path is the standard library's (`alloc::vec::Vec`, `Vec`, a slice), or what
    a standard type's method returns (`Vec::as_mut_slice`: a slice, never the crate's type)."""
    head = path.split("::", 1)[0]
    return path == SLICE or head in _STD_TYPES or head in ("std", "core", "alloc", SLICE)


def _member_later(held: HeldFn, name: str) -> HeldFn:
    return lambda: _members(held(), name)


def _later(ctx: Ctx, path: str, scope: _Scope, hint: Candidates = ()) -> Callable[[], Candidates]:
    """`_resolve_path` once the whole file is known (the callee may be defined below)."""
    return lambda: _resolve_path(ctx, path, scope) + hint


def _type_ref(ctx: Ctx, node: Node) -> bool | None:
    name = ctx.flat(node)
    head = name.split("::", 1)[0]
    if head == "Self" or any(head in f.data.get("tparams", ()) for f in ctx.frames):
        return SKIP
    scope = _scope(ctx)
    ctx.edge("references", name, node, lambda: _resolve_path(ctx, name, scope, CLASS_KINDS) or None)
    return SKIP


_HANDLERS: dict[str, Handler] = {
    "function_item": _function,
    "function_signature_item": _function,
    **{t: _item for t in _ITEM_KINDS},
    "impl_item": _impl,
    "mod_item": _mod,
    "const_item": _value,
    "static_item": _value,
    "use_declaration": _use,
    "call_expression": _call,
    "let_declaration": _let,
    "type_identifier": _type_ref,
    "scoped_type_identifier": _type_ref,
    "macro_invocation": _macro,
    "macro_definition": lambda ctx, node: SKIP,
    "attribute_item": lambda ctx, node: SKIP,
    "inner_attribute_item": lambda ctx, node: SKIP,
}
