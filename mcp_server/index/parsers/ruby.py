"""Ruby parser: modules, classes, instance (#) and singleton (.) methods, requires, mixins, calls."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, ParsedFile
from ._generic import SKIP, Candidates, Ctx, Frame, Handler, relative_module, run

_COMMENTS = frozenset({"comment"})
_HEADERS = frozenset({"call"})
_NAMESPACES = frozenset({"class", "module"})
_MIXINS = frozenset({"include", "extend", "prepend"})
_REQUIRES = frozenset({"require", "require_relative", "load"})
_ATTRIBUTES = {"attr_reader": ("",), "attr_writer": ("=",), "attr_accessor": ("", "="), "attr": ("",)}
# Kernel and class-body DSL calls: never methods of this repository worth an edge
_IGNORED = frozenset(
    {
        "puts",
        "print",
        "p",
        "pp",
        "raise",
        "fail",
        "attr_reader",
        "attr_writer",
        "attr_accessor",
        "private",
        "public",
        "protected",
        "module_function",
        "private_constant",
        "lambda",
        "proc",
        "loop",
        "catch",
        "throw",
        "sleep",
        "format",
        "sprintf",
        "rand",
        "block_given?",
        "binding",
        "freeze",
        "private_class_method",
        "public_class_method",
        "alias_method",
        "define_method",
        "instance_variable_get",
        "instance_variable_set",
        "respond_to?",
        "is_a?",
        "kind_of?",
        "nil?",
        "send",
        "public_send",
        "tap",
        "then",
        "yield_self",
        "warn",
        "exit",
        "abort",
        "at_exit",
        "caller",
        "gets",
        "open",
        "system",
    }
)
_MAGIC = re.compile(r"^\s*-?\*?-?\s*(frozen_string_literal|encoding|coding|warn_indent|typed)\s*:", re.I)


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    return run(
        source,
        path,
        module_name,
        language,
        sep="::",
        comment_types=_COMMENTS,
        header_types=_HEADERS,
        handlers=_HANDLERS,
        root_prefix="",
        setup=_setup,
    )


def _setup(ctx: Ctx, root: Node) -> None:
    module = ctx.result.symbols[0]
    if module.docstring:  # magic comments (`# frozen_string_literal: true`) are not documentation
        lines = [line for line in module.docstring.splitlines() if not _MAGIC.match(line)]
        ctx.result.symbols[0] = replace(module, docstring="\n".join(lines).strip() or None)


def _ns(ctx: Ctx) -> str:
    """The class/module `self` is lexically inside ("" at top level)."""
    for frame in reversed(ctx.frames):
        if frame.kind in ("class", "singleton"):
            return frame.qname
    return ""


def _method_frame(ctx: Ctx) -> Frame | None:
    for frame in reversed(ctx.frames):
        if frame.kind == "function":
            return frame
        if frame.kind in ("class", "singleton"):
            return None
    return None


def _doc(ctx: Ctx, node: Node) -> str | None:
    # tree-sitter-ruby hangs a comment above the first statement of a body on the enclosing node
    parent = ctx.parent
    anchor = parent if parent is not None and parent.type == "body_statement" and node.prev_sibling is None else node
    return ctx.doc_comment(anchor)


def _const_cands(ctx: Ctx, text: str, nesting: str) -> Candidates:
    """Ruby constant lookup: lexical scopes innermost first, then top level."""
    if text.startswith("::"):
        text = text[2:]
        return ((text, CONF_EXACT if text in ctx.defined else CONF_SCOPED),)
    prefixes: list[str] = []
    ns = nesting
    while ns:
        prefixes.append(ns)
        ns = ns.rpartition("::")[0]
    prefixes.append("")
    for prefix in prefixes:
        q = ctx.join(prefix, text)
        if q in ctx.defined:
            return ((q, CONF_EXACT),)
    guesses = prefixes[:3] + ([""] if len(prefixes) > 3 else [])
    return tuple((ctx.join(p, text), CONF_SCOPED) for p in guesses)


def _const_later(ctx: Ctx, text: str, nesting: str) -> Callable[[], Candidates]:
    return lambda: _const_cands(ctx, text, nesting)


# ---- definitions ------------------------------------------------------------------------


def _namespace(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    ctx.skip.add(name_node.id)
    written = ctx.flat(name_node).replace(" ", "")
    outer = _ns(ctx)
    qname = written[2:] if written.startswith("::") else ctx.join(outer, written)
    superclass = node.child_by_field_name("superclass")
    head_end = superclass.end_byte if superclass is not None else name_node.end_byte
    kind = "class" if node.type == "class" else "module"
    idx = ctx.add_symbol(
        kind,
        written.rsplit("::", 1)[-1],
        qname,
        node,
        signature=ctx.signature(node.start_byte, head_end),
        doc=_doc(ctx, node),
    )
    ctx.enter(Frame(idx, qname, "class", qname))
    if superclass is not None:
        base = superclass.named_child(0)
        if base is not None and base.type in ("constant", "scope_resolution"):
            target = ctx.flat(base).replace(" ", "")
            fn = _const_later(ctx, target, outer)
            ctx.edge("inherits", target, base, fn, source=idx)
            ctx.bases.setdefault(qname, []).append(fn)
        ctx.skip.add(superclass.id)
    return None


def _singleton_class(ctx: Ctx, node: Node) -> bool | None:
    ns = _ns(ctx)
    ctx.enter(Frame(ctx.frame.sym, ns, "singleton", ns))
    return None


def _method(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return None
    ctx.skip.add(name_node.id)
    name = ctx.text(name_node)
    ns = _ns(ctx)
    frame = ctx.frame
    singleton = node.type == "singleton_method" or frame.kind == "singleton"
    obj = node.child_by_field_name("object")
    if obj is not None and obj.type in ("constant", "scope_resolution"):
        ns = ctx.join(ns, ctx.text(obj))
    if ns:
        qname, kind = f"{ns}{'.' if singleton else '#'}{name}", "method"
    else:
        qname, kind = name, "function"
    params = node.child_by_field_name("parameters")
    head_end = params.end_byte if params is not None else name_node.end_byte
    idx = ctx.add_symbol(
        kind, name, qname, node, signature=ctx.signature(node.start_byte, head_end), doc=_doc(ctx, node)
    )
    ctx.enter(Frame(idx, qname, "function", ns or None, {"singleton": singleton, "locals": set(), "name": name}))
    return None


def _params(ctx: Ctx, node: Node) -> bool | None:
    frame = _method_frame(ctx)
    local_names: set[str] = frame.data["locals"] if frame is not None else set()
    for param in node.named_children:
        ident = param if param.type == "identifier" else param.child_by_field_name("name")
        if ident is not None:
            local_names.add(ctx.text(ident))
    return None


def _assignment(ctx: Ctx, node: Node) -> bool | None:
    frame = _method_frame(ctx)
    left = node.child_by_field_name("left")
    if frame is None or left is None:
        return None
    targets = left.named_children if left.type == "left_assignment_list" else [left]
    for target in targets:
        if target.type == "identifier":
            frame.data["locals"].add(ctx.text(target))
    return None


# ---- calls, requires, mixins ------------------------------------------------------------


def _self_call(ctx: Ctx, name: str) -> Callable[[], Candidates]:
    """Candidates for a call on (implicit) self, from the scope of the call site."""
    frame = _method_frame(ctx)
    ns = _ns(ctx)
    if frame is not None and frame.owner:
        if name == "new" and frame.data.get("singleton"):
            owner = frame.owner  # `new` in a class method instantiates the class
            return lambda: ((owner, CONF_EXACT),)
        q = f"{frame.owner}{'.' if frame.data.get('singleton') else '#'}{name}"
        return lambda: ((q, CONF_EXACT if q in ctx.defined else CONF_SCOPED),)
    if ns:  # class body: self is the class
        q = f"{ns}.{name}"
        return lambda: ((q, CONF_EXACT),) if q in ctx.defined else ()
    return lambda: ((name, CONF_EXACT),) if name in ctx.defined else ()


def _call(ctx: Ctx, node: Node) -> bool | None:
    method = node.child_by_field_name("method")
    if method is None:
        return None
    ctx.skip.add(method.id)
    name = ctx.text(method)
    receiver = node.child_by_field_name("receiver")
    if receiver is None:
        if name in _REQUIRES:
            _require(ctx, node, name)
            return SKIP
        if name in _MIXINS and _method_frame(ctx) is None:
            _mixins(ctx, node)
            return SKIP
        if name in _ATTRIBUTES and _method_frame(ctx) is None and _ns(ctx):
            _attributes(ctx, node, _ATTRIBUTES[name])
            return SKIP
        if name in _IGNORED:
            return None
        ctx.edge("calls", name, method, _self_call(ctx, name))
        return None
    target = f"{ctx.flat(receiver)}.{name}"
    if receiver.type == "self":
        ctx.edge("calls", target, method, _self_call(ctx, name))
    elif receiver.type in ("constant", "scope_resolution"):
        const = ctx.flat(receiver).replace(" ", "")
        nesting = _ns(ctx)
        ctx.skip.add(receiver.id)

        def cands() -> Candidates:
            classes = _const_cands(ctx, const, nesting)
            if name == "new":
                return classes
            out: list[tuple[str, float]] = []
            for q, _ in classes:
                member = f"{q}.{name}"
                out.append((member, CONF_EXACT if member in ctx.defined else CONF_SCOPED))
            # `Utils.parse_query` where Utils says `module_function` (or `extend self`): its instance
            # method, callable on the module too
            return (*out, *((f"{q}#{name}", CONF_SCOPED) for q, _ in classes))

        ctx.edge("calls", target, method, cands)
    else:
        ctx.edge("calls", target, method)
    return None


def _require(ctx: Ctx, node: Node, how: str) -> None:
    args = node.child_by_field_name("arguments")
    arg = args.named_child(0) if args is not None and args.named_child_count else None
    if arg is None or arg.type != "string":
        return
    spec = ctx.text(arg)[1:-1]
    cands: Candidates = ()
    if how == "require_relative":
        module = relative_module(ctx.path, spec, (".rb",))
        cands = ((module, CONF_EXACT),) if module else ()
    elif "/" in spec or spec.isidentifier():
        # gems and apps put their requirable files under lib/
        dotted = spec.removesuffix(".rb").replace("/", ".")
        cands = ((f"lib.{dotted}", CONF_EXACT), (dotted, CONF_SCOPED))
    ctx.edge("imports", spec, node, cands)


def _attributes(ctx: Ctx, node: Node, suffixes: tuple[str, ...]) -> None:
    """`attr_reader :path` defines the method `path` (`attr_writer`: `path=`; `attr_accessor`: both)."""
    args = node.child_by_field_name("arguments")
    owner = _ns(ctx)
    singleton = ctx.frame.kind == "singleton"
    for arg in args.named_children if args is not None else ():
        if arg.type != "simple_symbol":
            continue
        for suffix in suffixes:
            name = ctx.text(arg)[1:] + suffix
            ctx.add_symbol(
                "method",
                name,
                f"{owner}{'.' if singleton else '#'}{name}",
                arg,
                signature=ctx.signature(node.start_byte, node.end_byte),
                doc=_doc(ctx, node),
            )


def _mixins(ctx: Ctx, node: Node) -> None:
    args = node.child_by_field_name("arguments")
    nesting = _ns(ctx)
    for arg in args.named_children if args is not None else ():
        if arg.type in ("constant", "scope_resolution"):
            target = ctx.flat(arg).replace(" ", "")
            fn = _const_later(ctx, target, nesting)
            ctx.edge("inherits", target, arg, fn)
            if nesting:
                ctx.bases.setdefault(nesting, []).append(fn)


def _identifier(ctx: Ctx, node: Node) -> bool | None:
    """A bare identifier is a call when it is not a local and names a method of the class."""
    frame = _method_frame(ctx)
    if frame is None:
        return None
    name = ctx.text(node)
    if name in frame.data["locals"]:
        return None
    owner = frame.owner
    singleton = frame.data.get("singleton")
    locals_ = frame.data["locals"]

    def cands() -> Candidates | None:
        if name in locals_:  # assigned after this use, e.g. in a loop
            return None
        q = f"{owner}{'.' if singleton else '#'}{name}" if owner else name
        if q in ctx.defined:
            return ((q, CONF_EXACT),)
        # a method its superclass or an included module defines (the resolver follows the bases)
        return ((q, CONF_SCOPED),) if owner in ctx.bases else None

    ctx.edge("calls", name, node, cands)
    return None


def _super(ctx: Ctx, node: Node) -> bool | None:
    frame = _method_frame(ctx)
    if frame is None or not frame.owner:
        return None
    owner, name = frame.owner, frame.data.get("name", "")
    sep = "." if frame.data.get("singleton") else "#"

    def cands() -> Candidates:
        for base in ctx.bases.get(owner, [])[:1]:
            return tuple((f"{q}{sep}{name}", CONF_SCOPED) for q, conf in base() if conf == CONF_EXACT)
        return ()

    ctx.edge("calls", "super", node, cands)
    return None


_HANDLERS: dict[str, Handler] = {
    "class": _namespace,
    "module": _namespace,
    "singleton_class": _singleton_class,
    "method": _method,
    "singleton_method": _method,
    "method_parameters": _params,
    "lambda_parameters": _params,
    "block_parameters": _params,
    "assignment": _assignment,
    "operator_assignment": _assignment,
    "call": _call,
    "identifier": _identifier,
    "super": _super,
}
