"""Names and values of JavaScript / TypeScript expressions as candidates: imports, locals' and fields' types, call results."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from ..records import CONF_EXACT, CONF_SCOPED, SLOT_TYPE, TYPE_ARG, TYPE_OF, TYPE_PARAM
from ._generic import CLASS_KINDS, Candidates, Ctx
from ._js_modules import EXTERNAL

# What an expression's value is, computed once the whole file is known: candidates naming its
# class, or the function or method whose result it is (the resolver reaches a function's return
# type through its type edge, records.TYPE_OF, as it reaches a class's members through its bases).
ValueFn = Callable[[], Candidates]

DEFAULT = "default"
# The candidate of a bare name a module neither defines nor imports (a parameter, a local, a
# global): it names no symbol, so the resolver makes no guess by name.
UNBOUND = ":unbound:"
_UNWRAP = frozenset({"parenthesized_expression", "non_null_expression", "await_expression"})
_PROMISES = frozenset({"Promise", "PromiseLike"})
_NULLISH = frozenset({"null", "undefined"})
# A type whose members are the language's (string, number[], () => void, { a: 1 }): no guess by name.
_BUILTIN: Candidates = ((EXTERNAL + "builtin", CONF_SCOPED),)


def resolve(ctx: Ctx, dotted: str, chain: list[str], kinds: frozenset[str] | None = None) -> Candidates:
    """Candidates for a (possibly dotted) name as seen from a scope: local first, then imports."""
    head, _, rest = dotted.partition(".")
    local = _bare(ctx, head, chain, kinds if not rest else None)
    if local == _HIDDEN:
        return ()
    if local is not None:
        if not rest:
            return ((local, CONF_EXACT),)
        return ctx.member(local, rest)
    imp = ctx.imports.get(head)
    if imp is None:
        return ()
    how, targets = imp
    suffix = "." + rest if rest else ""
    if how == "named":
        return tuple((t + suffix, CONF_SCOPED) for t in targets)
    if how == "ns":
        # a module called or constructed is what it exports as a whole (`module.exports = f`)
        return tuple((t + (suffix or "." + DEFAULT), CONF_SCOPED) for t in targets)
    # a default export is usually declared under the name it is imported as, else it is what the
    # module binds to `default`
    return tuple((f"{t}.{name}{suffix}", CONF_SCOPED) for t in targets for name in (head, DEFAULT))


_HIDDEN = ""  # _bare: a parameter or local of no symbol hides every outer definition and import


def _bare(ctx: Ctx, name: str, chain: list[str], kinds: frozenset[str] | None) -> str | None:
    """What a bare name denotes in this file: never a method (`Reply.prototype.send = function`
    or a class's `send()`), which only a receiver reaches; the name is then an outer scope's,
    unless a scope in between declares it (`let serialize` in a function: _HIDDEN)."""
    shadow: set[tuple[str, str]] = ctx.data.get("shadow", set())
    for prefix in chain:
        found = ctx.lookup(name, [prefix], kinds)
        if found is not None and ctx.result.symbols[ctx.defined[found]].kind != "method":
            return found
        if (prefix, name) in shadow:
            return _HIDDEN
    return None


def _locals(ctx: Ctx) -> dict[str, dict[str, ValueFn]]:
    found: dict[str, dict[str, ValueFn]] = ctx.data.setdefault("locals", {})
    return found


def _fields(ctx: Ctx) -> dict[str, dict[str, ValueFn]]:
    found: dict[str, dict[str, ValueFn]] = ctx.data.setdefault("fields", {})
    return found


def bind_local(
    ctx: Ctx, name: str, value: ValueFn | None, result: bool = False, element: ValueFn | None = None
) -> None:
    """`name` holds `value` in the current scope from here on (None: a value of no known type);
    `result`: a call's result (`fn = make()`), whose own calls' results are not known; `element`:
    if it is an array, what its elements hold (kept as `name[]`: `list[i]`, `for (x of list)`)."""
    scope = _locals(ctx).setdefault(ctx.frame.qname, {})
    for key, held in ((name, value), (name + _ELEMENT, element)):
        if held is None:
            scope.pop(key, None)
        else:
            scope[key] = held
    results: set[tuple[str, str]] = ctx.data.setdefault("results", set())
    if result and value is not None:
        results.add((ctx.frame.qname, name))
    else:
        results.discard((ctx.frame.qname, name))


def _holds_result(ctx: Ctx, name: str, chain: list[str]) -> bool:
    env = _locals(ctx)
    for scope in chain:
        if name in env.get(scope, {}):
            return (scope, name) in ctx.data.get("results", set())
    return False


_ELEMENT = "[]"


_COLLECTIONS = frozenset({"Array", "ReadonlyArray", "Set", "ReadonlySet"})
# Methods of an array or set whose callback is given an element first (`list.forEach(x => x.m())`),
# and those whose result is an element (`list.find(..).m()`).
ELEMENT_CALLBACKS = frozenset({"forEach", "map", "filter", "find", "findIndex", "findLast", "some", "every", "flatMap"})
_ELEMENT_RESULTS = frozenset({"find", "findLast", "pop", "shift", "at"})


def element_value(ctx: Ctx, node: Node | None, chain: list[str]) -> ValueFn | None:
    """What an array's or a set's elements hold, from its annotation (`Foo[]`, `readonly Foo[]`,
    `Array<Foo>`, `Set<Foo>`; a union with null or undefined: the one collection)."""
    for _ in range(8):
        if node is None:
            return None
        if node.type in ("type_annotation", "parenthesized_type", "readonly_type"):
            node = _nth(node, 0)
        elif node.type == "union_type":
            members = [m for m in node.named_children if not _nullish(ctx, m)]
            node = members[0] if len(members) == 1 else None
        elif node.type == "array_type":
            return type_value(ctx, _nth(node, 0), chain)
        elif node.type == "generic_type":
            name, args = node.child_by_field_name("name"), node.child_by_field_name("type_arguments")
            if ctx.text(name) not in _COLLECTIONS or args is None or args.named_child_count != 1:
                return None
            return type_value(ctx, _nth(args, 0), chain)
        else:
            return None
    return None


def elements_of(ctx: Ctx, node: Node | None, chain: list[str]) -> ValueFn | None:
    """What the elements of a local, parameter or field (`this.list`) array hold (`for (const x of list)`)."""
    if node is not None and node.type == "identifier":
        return local_value(ctx, ctx.text(node) + _ELEMENT, chain)
    obj = node.child_by_field_name("object") if node is not None and node.type == "member_expression" else None
    prop = node.child_by_field_name("property") if node is not None else None
    owner = ctx.frame.owner
    if obj is None or obj.type != "this" or prop is None or not owner:
        return None
    fields = _fields(ctx)
    key = ctx.text(prop) + _ELEMENT
    return lambda: fields.get(owner, {}).get(key, _none)()


def bind_field_elements(ctx: Ctx, owner: str | None, name: str, element: ValueFn | None) -> None:
    """A field's elements hold `element` (`observers_: Set<IDerivation>`): `this.observers_.forEach(d => ..)`."""
    bind_field(ctx, owner, name + _ELEMENT, element)


def bind_field(ctx: Ctx, owner: str | None, name: str, value: ValueFn | None) -> None:
    if owner and value is not None:
        _fields(ctx).setdefault(owner, {}).setdefault(name, value)


def _params(ctx: Ctx) -> dict[str, dict[str, tuple[int, Node | None]]]:
    found: dict[str, dict[str, tuple[int, Node | None]]] = ctx.data.setdefault("type_params", {})
    return found


def bind_type_param(ctx: Ctx, node: Node) -> None:
    """`<T extends C>` of the enclosing class, interface, function or method: T's position and
    constraint. Those of a type alias that is no object type are its own (it has no scope): not bound."""
    name = node.child_by_field_name("name")
    if name is None or node.parent is None or ctx.frame.kind in ("module", "namespace"):
        return
    index = [c.id for c in node.parent.named_children if c.type == "type_parameter"].index(node.id)
    constraint = node.child_by_field_name("constraint")
    _params(ctx).setdefault(ctx.frame.qname, {})[ctx.text(name)] = (index, _nth(constraint, 0) if constraint else None)


def _type_param(ctx: Ctx, name: str, chain: list[str]) -> tuple[str, int, Node | None] | None:
    env = _params(ctx)
    for scope in chain:
        found = env.get(scope, {}).get(name)
        if found is not None:
            return scope, found[0], found[1]
    return None


def param_edge(ctx: Ctx, source: int, annotation: Node | None) -> None:
    """A member typed by its class's own type parameter (`_def: Def` of `class ZodType<O, Def>`)
    as records.TYPE_PARAM: a subclass's type argument (type_arguments) tells what it holds."""
    found = class_param(ctx, annotation)
    if found is not None:
        # written `<Def>`: one site with the constraint's type edge `Def`, which would merge with it
        ctx.edge("references", f"<{ctx.text(found[0])}>", found[0], (), alias=f"{TYPE_PARAM}{found[1]}", source=source)


def class_param(ctx: Ctx, annotation: Node | None) -> tuple[Node, int] | None:
    """The type an annotation names when it is a type parameter of the enclosing class, with its position."""
    node = type_node(ctx, annotation)
    owner = ctx.frame.owner
    if node is None or node.type != "type_identifier" or not owner:
        return None
    found = _type_param(ctx, ctx.text(node), ctx.scope_chain())
    return (node, found[1]) if found is not None and found[0] == owner else None


def type_arguments(ctx: Ctx, args: Node | None, chain: list[str]) -> None:
    """`extends ZodType<O, ZodStringDef>`: the superclass's type arguments (records.TYPE_ARG)."""
    for i, arg in enumerate(args.named_children if args is not None else ()):
        written = type_node(ctx, arg)
        value = type_value(ctx, arg, chain)
        if written is not None and value is not None:
            ctx.edge("references", ctx.flat(written), written, _in_repo(value), alias=f"{TYPE_ARG}{i}")


def narrow(ctx: Ctx, name: str, scope: Node, value: ValueFn) -> None:
    """Within `scope` (an `if`'s consequence, the right side of `&&`), `name` holds `value` (what a
    type guard or an `instanceof` says it is)."""
    ctx.data.setdefault("narrowed", {}).setdefault(name, []).append((scope.start_byte, scope.end_byte, value))


def _narrowed(ctx: Ctx, name: str) -> ValueFn | None:
    found: list[tuple[int, int, ValueFn]] = ctx.data.get("narrowed", {}).get(name, [])
    if not found or not ctx.nodes:
        return None
    at = ctx.nodes[-1].start_byte
    # the innermost: a range added later that holds the site lies within the earlier ones
    return next((value for start, end, value in reversed(found) if start <= at < end), None)


def local_value(ctx: Ctx, name: str, chain: list[str]) -> ValueFn | None:
    narrowed = _narrowed(ctx, name)
    if narrowed is not None:
        return narrowed
    env = _locals(ctx)
    shadow: set[tuple[str, str]] = ctx.data.get("shadow", set())
    for scope in chain:
        found = env.get(scope, {}).get(name)
        if found is not None:
            return found
        if (scope, name) in shadow:
            return None  # an untyped parameter or local hides the outer one
    return None


def type_node(ctx: Ctx, node: Node | None) -> Node | None:
    """The one type an annotation comes down to (`Foo<T>` -> Foo, `Foo | null` -> Foo, `Promise<Foo>` -> Foo,
    `() => Foo` -> Foo: what a function holds is what its calls give, as for a declared function, whose
    type edge is its return type)."""
    for _ in range(8):
        if node is None:
            return None
        kind = node.type
        if kind in ("type_annotation", "parenthesized_type"):
            node = _nth(node, 0)
        elif kind == "function_type":
            node = node.child_by_field_name("return_type")

        elif kind == "generic_type":
            name = node.child_by_field_name("name")
            args = node.child_by_field_name("type_arguments")
            if name is not None and ctx.text(name) in _PROMISES and args is not None and args.named_child_count:
                node = _nth(args, 0)
            else:
                node = name
        elif kind == "union_type":
            members = [m for m in node.named_children if not _nullish(ctx, m)]
            if len(members) != 1:
                return None
            node = members[0]
        else:
            return node
    return None


def alternatives(ctx: Ctx, node: Node | None) -> list[Node]:
    """The members of a union of several types (`A | B | null`: A and B), else none."""
    while node is not None and node.type in ("type_annotation", "parenthesized_type"):
        node = _nth(node, 0)
    if node is None or node.type != "union_type":
        return []
    found: list[Node] = []
    pending = [node]
    while pending and len(found) < 16:
        one = pending.pop(0)
        if one.type == "union_type":
            pending[:0] = list(one.named_children)
        elif not _nullish(ctx, one):
            found.append(one)
    return found if len(found) > 1 else []


def written_type(ctx: Ctx, annotation: Node | None) -> Node | None:
    """The type an annotation is written as: its one type (type_node), else a union's first alternative."""
    return type_node(ctx, annotation) or next(iter(alternatives(ctx, annotation)), None)


def type_value(ctx: Ctx, node: Node | None, chain: list[str], depth: int = 0) -> ValueFn | None:
    """The class a type annotation names (a type parameter's constraint: all its uses can count on);
    the language's own types bind to nothing. A union's members are its alternatives', in order:
    a member used compiles only if each has it, so the first that does tells."""
    several = alternatives(ctx, node) if depth < 8 else []
    if several:
        values = [v for v in (type_value(ctx, one, chain, depth + 1) for one in several) if v is not None]
        return (lambda: tuple(c for v in values for c in v())) if values else None
    node = type_node(ctx, node)
    kind = node.type if node is not None else ""
    if kind == "this_type":
        owner = ctx.frame.owner
        return (lambda: ((owner, CONF_EXACT),)) if owner else None
    if kind == "type_identifier" and (param := _type_param(ctx, ctx.text(node), chain)) is not None:
        return type_value(ctx, param[2], chain, depth + 1) if param[2] is not None and depth < 8 else None
    if kind in ("type_identifier", "nested_type_identifier", "identifier"):
        target = ctx.flat(node)
        return lambda: resolve(ctx, target, chain, CLASS_KINDS) or _BUILTIN
    if kind in ("predefined_type", "array_type", "tuple_type", "object_type", "literal_type"):
        return lambda: _BUILTIN
    return None


def _nth(node: Node, i: int) -> Node | None:
    return node.named_child(i) if i < node.named_child_count else None


def _nullish(ctx: Ctx, node: Node) -> bool:
    if node.type == "literal_type":
        return ctx.text(node) in _NULLISH
    return node.type == "predefined_type" and ctx.text(node) in ("undefined", "void", "null")


def callee(node: Node | None) -> Node | None:
    """The expression whose value (or whose call's result) `node` is: `a.b` of `await a.b(x)!`."""
    for _ in range(64):
        if node is None or node.type not in (*_UNWRAP, "call_expression", "new_expression"):
            return node
        if node.type == "call_expression":
            node = node.child_by_field_name("function")
        elif node.type == "new_expression":
            node = node.child_by_field_name("constructor")
        else:
            node = _nth(node, 0)
    return None


def value_of(ctx: Ctx, node: Node | None, chain: list[str]) -> ValueFn | None:
    """What an expression evaluates to, when a local's, field's or import's type or a callee says."""
    for _ in range(64):
        if node is None:
            return None
        kind = node.type
        if kind in _UNWRAP:
            node = _nth(node, 0)
        elif kind in ("as_expression", "satisfies_expression"):
            return type_value(ctx, _nth(node, 1), chain)
        elif kind == "call_expression":
            node = node.child_by_field_name("function")
            picked = _picked_element(ctx, node, chain)
            if picked is not None:
                return picked
            if (
                node is not None
                and node.type == "member_expression"
                and _is_this(node.child_by_field_name("object"))
                and ctx.frame.owner
            ):
                return _this_call(ctx, node)
            if node is not None and node.type == "identifier" and _holds_result(ctx, ctx.text(node), chain):
                return None  # `fn(x)` of a local `fn = make()`: the result of a result, not told
        elif kind == "new_expression":
            node = node.child_by_field_name("constructor")
        elif kind == "identifier":
            name = ctx.text(node)
            found = local_value(ctx, name, chain)
            if found is not None:
                return found
            shadow: set[tuple[str, str]] = ctx.data.get("shadow", set())
            if any((scope, name) in shadow for scope in chain):
                return None  # an untyped parameter or local
            if ctx.imports.get(name, ("",))[0] == "ns":
                targets = ctx.imports[name][1]
                return lambda: tuple((t, CONF_SCOPED) for t in targets)
            return lambda: resolve(ctx, name, chain)
        elif kind == "member_expression":
            return _member_value(ctx, node, chain)
        elif kind == "this":
            return this_value(ctx)
        elif kind == "subscript_expression":
            return elements_of(ctx, node.child_by_field_name("object"), chain)
        elif kind == "binary_expression" and ctx.text(node.child_by_field_name("operator")) in ("||", "??"):
            # the call that follows compiles only if both sides have the member: either one tells
            first = value_of(ctx, node.child_by_field_name("left"), chain)
            second = value_of(ctx, node.child_by_field_name("right"), chain)
            if first is None or second is None:
                return first or second
            return lambda: first() or second()
        else:
            return None
    return None


def _picked_element(ctx: Ctx, fn: Node | None, chain: list[str]) -> ValueFn | None:
    """`list.find(..)`, `list.pop()` of an array of known elements: one of them."""
    if fn is None or fn.type != "member_expression":
        return None
    prop = fn.child_by_field_name("property")
    if prop is None or ctx.text(prop) not in _ELEMENT_RESULTS:
        return None
    return elements_of(ctx, fn.child_by_field_name("object"), chain)


def _member_value(ctx: Ctx, node: Node, chain: list[str]) -> ValueFn | None:
    obj = node.child_by_field_name("object")
    prop = node.child_by_field_name("property")
    if obj is None or prop is None or prop.type not in ("property_identifier", "private_property_identifier"):
        return None
    name = ctx.text(prop)
    owner = ctx.frame.owner
    if obj.type == "this" and owner:
        fields = _fields(ctx)
        # fields are declared anywhere in the class: looked up once the file is read
        # a field this file's class does not bind may be a base's (`this._def` of a ZodType)
        inherited: Candidates = ((f"{owner}.{name}", CONF_SCOPED),)
        return lambda: fields.get(owner, {}).get(name, _none)() or (inherited if ctx.bases.get(owner) else ())
    base = value_of(ctx, obj, chain)
    return members(base, name) if base is not None else None


def this_value(ctx: Ctx) -> ValueFn | None:
    """What `this` is: the class of a method (or of an arrow inside one), or what a function
    declares it to be (`function make_(this: Annotation)`)."""
    declared: ValueFn | None = ctx.frame.data.get("this")
    owner = ctx.frame.owner
    if declared is None and owner:
        return lambda: ((owner, CONF_EXACT),)
    return declared


def _is_this(node: Node | None) -> bool:
    return node is not None and node.type == "this"


def _this_call(ctx: Ctx, fn: Node) -> ValueFn | None:
    """`this.m()`: what the class's (or a base's) method m returns, through its type edge."""
    owner = ctx.frame.owner
    prop = fn.child_by_field_name("property")
    if not owner or prop is None:
        return None
    name = ctx.text(prop)
    field = _member_value(ctx, fn, [])
    return lambda: (field() if field is not None else ()) or ((f"{owner}.{name}", CONF_SCOPED),)


def _none() -> Candidates:
    return ()


def members(base: ValueFn, name: str) -> ValueFn:
    """Candidates for `name` on whatever `base` evaluates to (inferred: never more than scoped)."""
    return lambda: tuple((f"{q}.{name}", min(conf, CONF_SCOPED)) for q, conf in base())


def type_edge(ctx: Ctx, source: int, written: str, node: Node, value: ValueFn | None) -> None:
    """The edge that tells the resolver what `source` (a variable, a function's result) holds."""
    if value is None or not written:
        return

    ctx.edge("references", written, node, _in_repo(value), alias=TYPE_OF, source=source)


def callback_slot(param: int, position: int) -> str:
    """The name segment of what a function's `param`-th parameter, itself a function, is given at
    `position` (records.SLOT_TYPE): "(0,1)"."""
    return f"({param},{position})"


def callback_types(ctx: Ctx, fn: Node, source: int) -> None:
    """`autorun(view: (r: Reaction) => void)`: the declared types of what a function's function-typed
    parameters are given, as records.SLOT_TYPE edges of the function `source`."""
    chain = ctx.scope_chain()
    for i, param in enumerate(_positional(fn.child_by_field_name("parameters"))):
        taken = function_type(param.child_by_field_name("type"))
        for j, inner in enumerate(_positional(taken.child_by_field_name("parameters") if taken else None)):
            written = type_node(ctx, inner.child_by_field_name("type"))
            value = type_value(ctx, written, chain) if written is not None else None
            if written is not None and value is not None:
                slot = callback_slot(i, j)
                ctx.edge(
                    "references", ctx.flat(written), written, _in_repo(value), alias=SLOT_TYPE + slot, source=source
                )


# The slot (records.SLOT_TYPE) of what a type guard's argument is where the guard holds.
GUARD_SLOT = "(is)"


def guard_edge(ctx: Ctx, source: int, returns: Node | None) -> None:
    """`isMap(x: any): x is Map` (a return annotation, or a function type's return type): the type its
    argument has where it holds, as the records.SLOT_TYPE edge "(is)" of the function `source`."""
    node = _nth(returns, 0) if returns is not None and returns.type == "type_annotation" else returns
    if node is not None and node.type == "type_predicate_annotation":
        node = _nth(node, 0)
    if node is None or node.type != "type_predicate":
        return
    written = type_node(ctx, node.child_by_field_name("type"))
    value = type_value(ctx, written, ctx.scope_chain()) if written is not None else None
    if written is not None and value is not None:
        ctx.edge("references", ctx.flat(written), written, _in_repo(value), alias=SLOT_TYPE + GUARD_SLOT, source=source)


def function_type(node: Node | None) -> Node | None:
    """The function type an annotation is (`(r: R) => void`, `((r: R) => void) | undefined`), if it is one."""
    for _ in range(8):
        if node is None or node.type == "function_type":
            return node
        if node.type in ("type_annotation", "parenthesized_type"):
            node = _nth(node, 0)
        elif node.type == "union_type":
            alternatives = [m for m in node.named_children if m.type not in ("literal_type", "predefined_type")]
            node = alternatives[0] if len(alternatives) == 1 else None
        else:
            return None
    return None


def _positional(params: Node | None) -> list[Node]:
    """A parameter list's parameters as calls pass them (a `this` parameter is none of them)."""
    found: list[Node] = []
    for p in params.named_children if params is not None else ():
        pattern = p.child_by_field_name("pattern")
        if p.type in ("required_parameter", "optional_parameter") and (pattern is None or pattern.type != "this"):
            found.append(p)
    return found


def _in_repo(value: ValueFn) -> Callable[[], Candidates | None]:
    return lambda: tuple(c for c in value() if not c[0].startswith(EXTERNAL)) or None
