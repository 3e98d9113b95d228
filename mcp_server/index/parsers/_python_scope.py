"""Python scopes and name resolution: which fully-qualified definition a name at a site means."""

from __future__ import annotations

import builtins
from typing import Any, Final, TypeAlias

from ..records import CONF_EXACT, CONF_SCOPED, CONF_UNIQUE, FIXTURE_CANDIDATE, NAME_FALLBACK

BUILTIN_NAMES: Final[frozenset[str]] = frozenset(dir(builtins))

# Scope kinds.
MODULE: Final = 0
CLASS: Final = 1
FUNCTION: Final = 2
LAMBDA: Final = 3
COMPREHENSION: Final = 4
# The body of `if isinstance(x, Foo):` in a function: x is a Foo there. It binds only that; every
# other binding made in the block belongs to the enclosing scope.
NARROWED: Final = 5
# What follows `param = Foo(...)` at the top of a function's body (a test rebinding a fixture's
# name): the parameter is a Foo there, as for NARROWED, and no later assignment undoes that.
REBOUND: Final = 6
# Scopes that bind nothing of their own but the one name they narrow.
PASSING: Final = (NARROWED, REBOUND)

# Binding kinds: how a name got bound in a scope.
DEF: Final = 0  # (DEF, qualified name, is_class)
IMPORT: Final = 1  # (IMPORT, qualified name, None)
VAR: Final = 2  # (VAR, type hint or None, qualified name of the symbol emitted for it or None)
PARAM: Final = 3  # (PARAM, type hint or None, class scope when it is a method's self/cls)

# Type hint kinds: what a variable was assigned from, resolved lazily once every binding is known.
CTOR: Final = 0  # `x = Foo(...)`: an instance of Foo when Foo names a class
ANNOTATION: Final = 1  # `x: Foo`, `def f(x: Foo)`, `except Foo as x`
ALIAS: Final = 2  # `x = y`: whatever y is
NONE_VALUE: Final = 3  # `x = None`: says nothing about the type x has elsewhere
FIXTURE: Final = 4  # a test's parameter `client`: what the pytest fixture `client` gives
ENTER: Final = 5  # `with Foo(...) as x`: the chain is Foo's, then "__enter__" (or "__aenter__")
SELF_VALUE: Final = 6  # `return self`, `return cls(...)`, `-> Self`: the receiver the method is called on
ELEMENT: Final = 7  # `for x in xs`: an item of what the chain (CALLED last for a call) holds
# `a, b = f()`: the chain is (position, kind of the whole's hint, *the whole's chain); a part of a tuple type
PART: Final = 8

# A container's type is its items' type with a marker: "pkg.Tag.[]" for `list[Tag]`, `Iterable[Tag]`,
# "pkg.Tag.{}" for the values of `dict[str, Tag]`. It types loop variables, never a receiver.
ITEMS: Final = "[]"
VALUES: Final = "{}"
# "pkg.Tag.<>": what a holder gives back, `ContextVar[Tag]`, `Queue[Tag]`, `weakref.ref[Tag]` (never iterated).
HELD: Final = "<>"
# "pkg.A,pkg.B.(,)": a `tuple[A, B]` ("" for a part of no known class); an annotation chain
# (TUPLED, "A", "mod.B") spells one, each part dotted.
TUPLED: Final = "(,)"
_CONTAINERS: Final = ("." + ITEMS, "." + VALUES, "." + HELD, "." + TUPLED)
# Methods of a container that return one of what it holds (`d.get(k)` a value of `dict[str, Tag]`).
_GIVING: Final[dict[str, frozenset[str]]] = {
    ITEMS: frozenset({"pop", "popleft"}),
    VALUES: frozenset({"get", "pop", "setdefault"}),
    HELD: frozenset({"get", "get_nowait", "result", "()"}),  # "()": calling it (a weakref)
    TUPLED: frozenset(),
}
# An ELEMENT chain's head for `enumerate(xs)` (no name can be spelled so): pairs whose second is an item of xs.
ENUMERATED: Final = "*enumerate"

# Types are qualified names of classes, or paths the resolver finishes: "pkg.make()" is what
# pkg.make returns (its type edge, records.TYPE_OF; written without "()" in candidates), "~client"
# what the fixture `client` of a conftest.py gives (records.FIXTURE_CANDIDATE).
CALLED: Final = "()"

Chain: TypeAlias = tuple[str, ...]
# (hint kind, dotted name, scope the name is looked up in; None only for NONE_VALUE)
Hint: TypeAlias = "tuple[int, Chain, Scope | None]"
# (binding kind, then the two fields documented with the kinds above)
Binding: TypeAlias = tuple[int, Any, Any]
Candidates: TypeAlias = tuple[tuple[str, float], ...]

NONE_HINT: Final[Hint] = (NONE_VALUE, (), None)

# Inference through aliases and attribute types stops here; deeper chains are rare and could cycle.
_MAX_TYPE_DEPTH: Final = 6

# Type caches hold None (not computed yet), "" (no single type), _PENDING (being computed: a
# cycle such as `a = b; b = a`, which has no type) or the class's qualified name.
_PENDING: Final = "\0pending"


class Resolved:
    """What one name means in the scope that binds it."""

    __slots__ = ("qnames", "receiver", "hints", "symbol", "type_cache")

    def __init__(self, bindings: list[Binding]) -> None:
        # (qualified name, True = class / False = function / None = imported, kind unknown)
        self.qnames: list[tuple[str, bool | None]] = []
        self.receiver: Scope | None = None
        self.hints: list[Hint | None] = []
        self.symbol: str | None = None
        self.type_cache: str | None = None
        seen: set[str] = set()
        for kind, a, b in bindings:
            if kind in (DEF, IMPORT):
                if a not in seen:
                    seen.add(a)
                    self.qnames.append((a, b if kind == DEF else None))
            elif kind == PARAM and b is not None:
                self.receiver = b
            else:
                self.hints.append(a)
                if kind == VAR and b is not None and self.symbol is None:
                    self.symbol = b


class Scope:
    """One Python namespace: the module, a class body, a function, a lambda or a comprehension."""

    __slots__ = (
        "kind",
        "parent",
        "qname",
        "symbol",
        "index",
        "module",
        "bindings",
        "globals",
        "nonlocals",
        "owner",
        "bases",
        "attr_hints",
        "star_imports",
        "declared",
        "returns",
        "_summaries",
        "_lookups",
        "_attr_types",
        "fixtures",
        "manager",
        "returned",
        "properties",
        "gives",
        "yields",
        "_result",
    )

    def __init__(self, kind: int, parent: Scope | None, qname: str, symbol: int, index: int = 0) -> None:
        # Huge files make tens of thousands of scopes: containers most never use start as None
        # (fewer allocations, and far less for the cyclic garbage collector to traverse).
        self.kind = kind
        self.parent = parent
        self.qname = qname  # qualified name of the module/class/function owning it
        self.symbol = symbol  # index of the innermost enclosing symbol: the edge source
        self.index = index  # position in the file's list of scopes
        self.module: Scope = parent.module if parent is not None else self
        self.bindings: dict[str, list[Binding]] = {}
        self.globals: set[str] | None = None
        self.nonlocals: set[str] | None = None
        self.owner: Scope | None = None  # functions: the class whose method this is
        self.bases: list[tuple[Chain, Scope]] | None = None  # classes: base chains, where to resolve
        self.attr_hints: dict[str, list[Hint | None]] | None = None  # classes: `self.x = ...`
        self.star_imports: list[str] | None = None  # module: modules imported with `*`
        # module: every function's scope, by the function's qualified name
        self.returns: dict[str, Scope] | None = None
        # module: the scopes of the pytest fixtures defined here, by qualified name
        self.fixtures: dict[str, Scope] | None = None
        # functions: a @contextmanager, whose value to `with ... as x` is what it yields
        self.manager = False
        # functions: the return annotation, and the values of `return` / `yield` statements
        self.returned: Hint | None = None
        self.properties: set[str] | None = None  # classes: names whose getter is a @property
        self.gives: list[Hint | None] | None = None
        self.yields: list[Hint | None] | None = None
        self._result: str | None = None  # type cache, as Resolved.type_cache
        # module/class: names that already have a symbol here -> the variable symbol's qualified
        # name, or None for a def/class (so a name gets at most one variable symbol per scope)
        self.declared: dict[str, str | None] | None = None
        self._summaries: dict[str, Resolved] | None = None
        self._lookups: dict[str, Resolved | None] | None = None
        self._attr_types: dict[str, str] | None = None

    def bind(self, name: str, binding: Binding) -> None:
        target: Scope = self
        while target.kind in PASSING and target.parent is not None:
            if target.kind == NARROWED:
                target.bindings.pop(name, None)  # assigned in the block: isinstance() no longer tells
            target = target.parent
        if target.kind != MODULE:
            if target.globals is not None and name in target.globals:
                target = self.module
            elif target.nonlocals is not None and name in target.nonlocals:
                return  # the enclosing function's binding already covers it
        bindings = target.bindings.get(name)
        if bindings is None:
            target.bindings[name] = [binding]
        else:
            bindings.append(binding)

    def declare(self, name: str, qname: str | None) -> str | None:
        """Record that `name` has a symbol here; returns the first one's variable qname if any."""
        if self.declared is None:
            self.declared = {}
        return self.declared.setdefault(name, qname)

    def add_attr_hint(self, attr: str, hint: Hint | None) -> None:
        if self.attr_hints is None:
            self.attr_hints = {}
        self.attr_hints.setdefault(attr, []).append(hint)

    def add_base(self, chain: Chain, scope: Scope) -> None:
        if self.bases is None:
            self.bases = []
        self.bases.append((chain, scope))

    def add_function(self, function: str, inner: Scope, fixture: bool) -> None:
        module = self.module
        if module.returns is None:
            module.returns = {}
        module.returns[function] = inner
        if fixture:
            if module.fixtures is None:
                module.fixtures = {}
            module.fixtures[function] = inner

    def give(self, hint: Hint | None, yielded: bool) -> None:
        """A `return` / `yield` of this function (or of code nested in it that is no function)."""
        scope: Scope | None = self
        while scope is not None and scope.kind in (COMPREHENSION, *PASSING):
            scope = scope.parent
        if scope is None or scope.kind != FUNCTION:
            return
        if yielded:
            if scope.yields is None:
                scope.yields = []
            scope.yields.append(hint)
        else:
            if scope.gives is None:
                scope.gives = []
            scope.gives.append(hint)

    def add_star_import(self, module: str) -> None:
        if self.star_imports is None:
            self.star_imports = []
        self.star_imports.append(module)

    def narrow(self, name: str, hint: Hint) -> None:
        """A PASSING scope's one binding: what `name` is known to be in it."""
        self.bindings[name] = [(VAR, hint, None)]

    def declare_outer(self, name: str, is_global: bool) -> None:
        if self.kind in PASSING and self.parent is not None:
            self.parent.declare_outer(name, is_global)
            return
        if is_global:
            if self.globals is None:
                self.globals = set()
            self.globals.add(name)
        else:
            if self.nonlocals is None:
                self.nonlocals = set()
            self.nonlocals.add(name)

    def binds_receiver(self, name: str) -> Scope | None:
        """During the walk: the class `name` refers to when it is a method's self/cls here."""
        scope: Scope | None = self
        first = True
        while scope is not None:
            if scope.kind != CLASS or first:
                bindings = scope.bindings.get(name)
                if bindings is not None:
                    for kind, _, b in bindings:
                        if kind == PARAM and b is not None:
                            receiver: Scope = b
                            return receiver
                    return None
            first = False
            scope = scope.parent
        return None


def lookup(scope: Scope, name: str) -> Resolved | None:
    """Python's LEGB lookup of `name` from `scope`, once every binding of the file is known.

    Class bodies are visible only to code directly in them, not to their methods, lambdas or
    comprehensions, which is why they are skipped past the first scope.
    """
    cache = scope._lookups
    if cache is None:
        cache = scope._lookups = {}
    elif name in cache:
        return cache[name]
    found: Resolved | None = None
    current: Scope | None = scope
    first = True
    while current is not None:
        if current.kind != CLASS or first:
            if current.globals is not None and name in current.globals and current.kind != MODULE:
                current = current.module
                first = False
                continue
            if current.nonlocals is None or name not in current.nonlocals:
                bindings = current.bindings.get(name)
                if bindings is not None:
                    summaries = current._summaries
                    if summaries is None:
                        summaries = current._summaries = {}
                    found = summaries.get(name)
                    if found is None:
                        found = summaries[name] = Resolved(bindings)
                    break
        first = False
        current = current.parent
    cache[name] = found
    return found


def is_class_like(name: str) -> bool:
    # Calling a capitalised name is, by overwhelming convention, constructing a class.
    stripped = name.lstrip("_")
    return bool(stripped) and stripped[0].isupper()


def _single(found: set[str]) -> str | None:
    return next(iter(found)) if len(found) == 1 else None


def is_path(type_: str) -> bool:
    """Whether a type is a path the resolver finishes (it may name nothing) rather than a class."""
    return CALLED in type_ or type_.startswith(FIXTURE_CANDIDATE)


def candidate(type_: str, member: str) -> str:
    """The candidate for `member` of a value of this type."""
    return f"{type_}.{member}".replace(CALLED, "")


def hint_type(hint: Hint, depth: int = 0) -> str | None:
    """The type (see CALLED) of the value a hint describes, when it is certain."""
    kind, chain, scope = hint
    if scope is None or kind == NONE_VALUE or depth > _MAX_TYPE_DEPTH or not chain:
        return None
    if kind == ELEMENT:
        return _element(scope, chain, depth)
    if kind == PART:
        return _part(scope, chain, depth)
    if kind == ANNOTATION and chain[0] == TUPLED:
        return _tuple_type(scope, chain, depth)
    if kind == ENTER or (kind == CTOR and CALLED in chain):
        # `make().copy()`: a method of what the inner call made; `with make() as x`: its __enter__
        cut = len(chain) - 1 if kind == ENTER else len(chain) - 1 - chain[::-1].index(CALLED)
        made = hint_type((CTOR, chain[:cut], scope), depth + 1)
        methods = chain[cut:] if kind == ENTER else chain[cut + 1 :]
        return _member_result(scope, made, methods[0], depth) if made is not None and len(methods) == 1 else None
    res = lookup(scope, chain[0])
    if kind == FIXTURE:
        return _fixture_type(scope, res, chain[0], depth)
    if res is None:
        return None
    if kind == SELF_VALUE:
        return res.receiver.qname if res.receiver is not None else None
    rest = chain[1:]
    suffix = "." + ".".join(rest) if rest else ""
    if kind == ALIAS:
        if res.qnames:
            return None  # `x = Foo` makes x the class itself, not an instance
        if res.receiver is not None:
            return res.receiver.qname
        return variable_type(res, depth + 1, items=True)  # (a container's callers take its items)
    if res.qnames:
        types: set[str] = set()
        for qname, is_class in res.qnames:
            if rest:
                ok = kind == ANNOTATION or is_class_like(rest[-1])
            elif is_class is None:
                ok = kind == ANNOTATION or is_class_like(qname.rpartition(".")[2])
            else:
                ok = is_class
            if ok:
                types.add(qname + suffix)
                continue
            if kind != CTOR:
                return None
            # A function's value: what it returns, known here for a function of this file, else
            # through its type edge.
            returned = _returned(scope, qname + suffix, depth)
            if returned is None:
                return None
            types.add(returned)
        return _single(types)
    if kind != CTOR:
        return None
    if res.receiver is not None:
        cls = res.receiver
        if not rest and chain[0] == "cls":
            return cls.qname
        if len(rest) == 1:  # `self.make()`: what the method returns; `self.ref()`: what a holder gives
            held = attribute_type(cls, rest[0], depth + 1, items=True) if _assigns(cls, rest[0]) else None
            if held is not None and is_container(held):
                return _member_result(scope, held, CALLED, depth)
            return _member_result(scope, cls.qname, rest[0], depth)
        if len(rest) == 2:  # `self.app.make()`
            attr_class = attribute_type(cls, rest[0], depth + 1, items=True)
            if attr_class is not None:
                return _member_result(scope, attr_class, rest[1], depth)
            if not _assigns(cls, rest[0]):
                return f"{cls.qname}.{rest[0]}.{rest[1]}{CALLED}"  # an inherited attribute's method
        return None
    if len(rest) == 1:  # `client.get()` on a variable of known type
        var_class = variable_type(res, depth + 1, items=True)
        return _member_result(scope, var_class, rest[0], depth) if var_class is not None else None
    if not rest:  # `ref()` of a `weakref.ref[Foo]`
        held = variable_type(res, depth + 1, items=True)
        return _member_result(scope, held, CALLED, depth) if held is not None and is_container(held) else None
    return None


def _tuple_type(scope: Scope, chain: Chain, depth: int) -> str | None:
    """The type an annotation chain (TUPLED, ...) spells, a container's marker kept last."""
    marker = chain[-1] if chain[-1] in (ITEMS, VALUES, HELD) else None
    parts: list[str] = []
    for part in chain[1:-1] if marker is not None else chain[1:]:
        found = hint_type((ANNOTATION, tuple(part.split(".")), scope), depth + 1) if part else None
        parts.append(found if found is not None and "," not in found and not found.endswith(TUPLED) else "")
    if not any(parts):
        return None
    return ",".join(parts) + "." + TUPLED + ("." + marker if marker is not None else "")


def _part(scope: Scope, chain: Chain, depth: int) -> str | None:
    """A name unpacked from a tuple value: its position's class when the whole is a known tuple."""
    whole = hint_type((int(chain[1]), chain[2:], scope), depth + 1)
    if whole is None or not whole.endswith("." + TUPLED):
        return None
    parts = whole[: -len(TUPLED) - 1].split(",")
    position = int(chain[0])
    return (parts[position] or None) if position < len(parts) else None


def _member_result(scope: Scope, type_: str, method: str, depth: int) -> str | None:
    """What `method` of a value of type `type_` returns (of a container, see _GIVING)."""
    if is_container(type_):
        base, _, marker = type_.rpartition(".")
        return base if method in _GIVING[marker] else None
    return _returned(scope, f"{type_}.{method}", depth)


def is_container(type_: str) -> bool:
    return type_.endswith(_CONTAINERS)


def giving_methods(type_: str) -> tuple[str, frozenset[str]] | None:
    """A container type's element class and the methods that give one back (see _GIVING)."""
    base, _, marker = type_.rpartition(".")
    methods = _GIVING.get(marker) if is_container(type_) else None
    if not methods or not base or is_container(base) or is_path(base) or "," in base:
        return None
    return base, methods - {CALLED}


def _element(scope: Scope, chain: Chain, depth: int) -> str | None:
    """The type of the items `for` takes from the value `chain` spells: a `list[X]`'s, or the
    values of a mapping through `.values()` (`.items()` pairs: the parser gives their second)."""
    marker = "." + ITEMS
    if chain[0] == ENUMERATED:
        if lookup(scope, "enumerate") is not None or len(chain) < 2:
            return None  # a local `enumerate` is no builtin
        chain = chain[1:]
    if len(chain) > 2 and chain[-1] == CALLED and chain[-2] in ("values", "items"):
        chain, marker = chain[:-2], "." + VALUES
    found: str | None = None
    if chain[-1] == CALLED:
        found = hint_type((CTOR, chain[:-1], scope), depth + 1)
    else:
        res = lookup(scope, chain[0])
        if res is None or res.qnames:
            return None
        if len(chain) == 1:
            found = variable_type(res, depth + 1, items=True)
        elif len(chain) == 2 and res.receiver is not None:
            found = attribute_type(res.receiver, chain[1], depth + 1, items=True)
    return found[: -len(marker)] if found is not None and found.endswith(marker) else None


def _returned(scope: Scope, function: str, depth: int) -> str | None:
    """What a call of `function` returns: known here when this file defines it (None when it
    says nothing), else a path through its type edge."""
    returns = scope.module.returns
    inner = returns.get(function) if returns is not None else None
    if inner is None:
        return function + CALLED
    return function_result(inner, depth + 1)


def function_result(fn: Scope, depth: int = 0, fixture: bool = False) -> str | None:
    """The type a function returns (a fixture gives), from its annotation or else from every
    `return` (a fixture's `yield`) agreeing on one. A generator returns a generator; a
    @contextmanager's type is what it yields (so `with f() as x` makes x one, see resolver)."""
    if fn.manager and fn.returned is not None:
        found = hint_type(fn.returned, depth + 1)
        return found[: -len(ITEMS) - 1] if found is not None and found.endswith("." + ITEMS) else None
    fixture = fixture or fn.manager
    if fn.returned is not None:
        return hint_type(fn.returned, depth + 1)
    gives = fn.yields if fixture and fn.yields else (None if fn.yields else fn.gives)
    if not gives:
        return None
    if fn._result is not None:
        return fn._result if fn._result and fn._result != _PENDING else None
    fn._result = _PENDING
    found = _combine(gives, depth + 1)
    fn._result = found or ""
    return found


def returns_self(fn: Scope) -> bool:
    """Whether a method returns the instance (or class) it is called on, whatever subclass that is."""
    if fn.returned is not None:
        return fn.returned[0] == SELF_VALUE
    if fn.yields or not fn.gives:
        return False
    kinds = {h[0] if h is not None else None for h in fn.gives} - {NONE_VALUE}
    return kinds == {SELF_VALUE}


def _fixture_type(scope: Scope, res: Resolved | None, name: str, depth: int) -> str | None:
    """The type a test's parameter holds: what the fixture of that name gives, defined in this
    file or else in a conftest.py up the folders (the resolver finds it)."""
    if res is None or (not res.qnames and res.receiver is None):
        return FIXTURE_CANDIDATE + name
    fixtures = scope.module.fixtures
    if fixtures is None or len(res.qnames) != 1:
        return None
    qname, is_class = res.qnames[0]
    fn = fixtures.get(qname)
    if fn is not None:
        return function_result(fn, depth + 1, fixture=True)
    # A function of this file that is no fixture: pytest looks further (a conftest.py).
    return FIXTURE_CANDIDATE + name if is_class is False else None


def _declared(hints: list[Hint | None]) -> list[Hint | None]:
    """A variable's or attribute's annotations, where it has any: its declared type is the one
    every value assigned to it has (`headers: Headers` in the class body, whatever `__init__`
    assigns from an untyped parameter)."""
    annotated: list[Hint | None] = [h for h in hints if h is not None and h[0] == ANNOTATION]
    return annotated or hints


def _combine(hints: list[Hint | None], depth: int) -> str | None:
    # Every assignment must agree on one type; a single unknown one makes the type unknown.
    types: set[str] = set()
    for hint in hints:
        if hint is None:
            return None
        if hint[0] == NONE_VALUE:
            continue
        found = hint_type(hint, depth)
        if found is None:
            return None
        types.add(found)
    return _single(types)


def _known(type_: str | None, items: bool) -> str | None:
    # A container type (is_container) only where the caller takes items from it.
    if not type_ or type_ == _PENDING or (not items and is_container(type_)):
        return None
    return type_


def variable_type(res: Resolved, depth: int = 0, items: bool = False) -> str | None:
    """The single class every assignment of a variable agrees on, or None."""
    if res.type_cache is not None:
        return _known(res.type_cache, items)
    res.type_cache = _PENDING
    found = _combine(_declared(res.hints), depth) if res.hints else None
    res.type_cache = found or ""
    return _known(found, items)


def attribute_type(cls: Scope, attr: str, depth: int = 0, items: bool = False) -> str | None:
    """The class of instance attribute `attr` of class scope `cls`, from its assignments."""
    if cls._attr_types is None:
        cls._attr_types = {}
    cached = cls._attr_types.get(attr)
    if cached is not None:
        return _known(cached, items)
    cls._attr_types[attr] = _PENDING
    if cls.properties is not None and attr in cls.properties:
        found = _returned(cls, f"{cls.qname}.{attr}", depth)  # what the getter returns
        cls._attr_types[attr] = found or ""
        return _known(found, items)
    hints: list[Hint | None] = []
    ok = True
    for kind, a, _ in cls.bindings.get(attr, ()):
        if kind != VAR:
            ok = False  # a method or nested class, not a typed attribute
            break
        hint: Hint | None = a
        # A class-body `x = Field(...)` is often a descriptor (Django model fields, properties):
        # instances then hold something else, so only annotations type the attribute.
        if hint is not None and hint[0] not in (ANNOTATION, NONE_VALUE):
            hint = None
        hints.append(hint)
    if cls.attr_hints is not None:
        hints.extend(cls.attr_hints.get(attr, ()))
    found = _combine(_declared(hints), depth + 1) if ok and hints else None
    cls._attr_types[attr] = found or ""
    return _known(found, items)


def _assigns(cls: Scope, attr: str) -> bool:
    """Whether the class itself binds `attr`: in its body or as `self.attr = ...` in a method."""
    return attr in cls.bindings or (cls.attr_hints is not None and attr in cls.attr_hints)


def is_member(cls: Scope, name: str) -> bool:
    """Whether the class body itself defines `name` (a method, nested class or attribute)."""
    return any(kind == DEF or (kind == VAR and b is not None) for kind, _, b in cls.bindings.get(name, ()))


def _star_candidates(scope: Scope, chain: Chain) -> Candidates:
    # An unbound name may come from a `from m import *`; builtins and module dunders never do.
    name = chain[0]
    if name in BUILTIN_NAMES or (name.startswith("__") and name.endswith("__")):
        return ()
    stars = scope.module.star_imports
    if not stars:
        return ()
    dotted = ".".join(chain)
    return tuple((f"{module}.{dotted}", CONF_SCOPED) for module in stars)


def _assigned_too(res: Resolved, rest: Chain) -> Candidates:
    """A name both imported (or defined) and assigned, `except ImportError: x = None`: the
    assignment's symbol, for when the import leads outside the repository."""
    return ((res.symbol, CONF_SCOPED),) if res.symbol is not None and not rest else ()


def resolve_call(scope: Scope, chain: Chain) -> Candidates:
    """Candidates for a call of the dotted name `chain` made in `scope`."""
    res = lookup(scope, chain[0])
    if res is None:
        return _star_candidates(scope, chain)
    rest = chain[1:]
    if res.qnames:
        suffix = "." + ".".join(rest) if rest else ""
        return tuple((qname + suffix, CONF_EXACT) for qname, _ in res.qnames) + _assigned_too(res, rest)
    if res.receiver is not None:
        cls = res.receiver
        if len(rest) == 1:
            return ((f"{cls.qname}.{rest[0]}", CONF_EXACT),)
        if len(rest) == 2:
            attr_class = attribute_type(cls, rest[0])
            if attr_class is not None:
                return _typed(attr_class, rest[1])
            if not _assigns(cls, rest[0]):
                # Inherited: the resolver looks `x` up through the bases, where an assignment
                # `self.x = Foo()` left a typed attribute (records.TYPE_OF).
                return ((f"{cls.qname}.{rest[0]}.{rest[1]}", CONF_SCOPED), (NAME_FALLBACK, CONF_UNIQUE))
        if len(rest) == 3:
            # `self.app.json.dumps()`: the resolver follows each attribute's type edge, or abstains.
            attr_class = attribute_type(cls, rest[0])
            if attr_class is not None:
                return ((candidate(attr_class, f"{rest[1]}.{rest[2]}"), CONF_SCOPED),)
            if not _assigns(cls, rest[0]):
                return ((f"{cls.qname}.{'.'.join(rest)}", CONF_SCOPED),)
        return ()
    if 1 <= len(rest) <= 3:
        var_class = variable_type(res)
        if var_class is not None and len(rest) == 1:
            return _typed(var_class, rest[0])
        if var_class is not None and len(rest) == 3:
            return ((candidate(var_class, ".".join(rest)), CONF_SCOPED),)
        if var_class is not None:
            # `ctx.env.get()`: found if the class's `env` has a type edge (records.TYPE_OF).
            return ((candidate(var_class, f"{rest[0]}.{rest[1]}"), CONF_SCOPED), (NAME_FALLBACK, CONF_UNIQUE))
        return ()
    if not rest and res.symbol is not None:
        return ((res.symbol, CONF_EXACT),)
    return ()


def resolve_reference(scope: Scope, chain: Chain) -> tuple[Candidates, int]:
    """Candidates for a non-call use of `chain`, and how many leading names they account for.

    A reference names only what can be a symbol: `self.x` when the class body defines x,
    `func.attr` only as far as `func`. Local variables yield nothing.
    """
    res = lookup(scope, chain[0])
    if res is None:
        return _star_candidates(scope, chain[:1]), 1
    rest = chain[1:]
    if res.qnames:
        if rest and any(is_class is False for _, is_class in res.qnames):
            return tuple((qname, CONF_EXACT) for qname, _ in res.qnames), 1
        suffix = "." + ".".join(rest) if rest else ""
        return (tuple((qname + suffix, CONF_EXACT) for qname, _ in res.qnames) + _assigned_too(res, rest), len(chain))
    if res.receiver is not None:
        if not rest:
            return (), 0
        cls = res.receiver
        if len(rest) >= 2 and (cls.properties is None or rest[0] not in cls.properties):
            # (a property read is a use of the property; a typed attribute's, of what it holds)
            attr_class = attribute_type(cls, rest[0])
            if attr_class is not None:
                return ((candidate(attr_class, rest[1]), CONF_SCOPED),), 3
        if is_member(cls, rest[0]):
            return ((f"{cls.qname}.{rest[0]}", CONF_EXACT),), 2
        if cls.bases is not None and not _assigns(cls, rest[0]):
            # A property or method of a base (`self.has_static_folder`), found through the bases.
            return ((f"{cls.qname}.{rest[0]}", CONF_SCOPED),), 2
        return (), 0
    if rest:
        var_class = variable_type(res)
        if var_class is not None:
            return ((candidate(var_class, rest[0]), CONF_SCOPED),), 2
    if res.symbol is not None:
        return ((res.symbol, CONF_EXACT),), 1
    return (), 0


def member_references(scope: Scope, chain: Chain, receiver_only: bool = False) -> list[tuple[int, Candidates]]:
    """Every use a non-call `chain` makes, as (names accounted for, candidates): the longest one
    resolve_reference finds, and on a receiver or a variable also each shorter attribute
    (`self.app` of `self.app.json`) and each further one through the type edges (`response.url.path`:
    `path` of what the property `url` returns). With receiver_only, nothing rooted elsewhere (the
    receiver `self.headers` of a call `self.headers.items()`: a module's attribute is the call's)."""
    res = lookup(scope, chain[0])
    on_member = res is not None and not res.qnames
    if receiver_only and not on_member:
        return []
    candidates, used = resolve_reference(scope, chain)
    out: list[tuple[int, Candidates]] = []
    if on_member:
        for size in range(2, used):
            shorter, found = resolve_reference(scope, chain[:size])
            if shorter and found == size:
                out.append((size, shorter))
    if candidates:
        out.append((used, candidates))
    if on_member and candidates and used >= 2:
        for size in range(used + 1, len(chain) + 1):
            further = ".".join(chain[used:size])
            out.append((size, tuple((f"{qname}.{further}", CONF_SCOPED) for qname, _ in candidates)))
    return out


def made_references(scope: Scope, ctor: Chain, names: Chain) -> list[tuple[int, Candidates]]:
    """`Foo(...).a.b`, `make().a`: each attribute read of what the call makes, as (names, candidates)."""
    made = hint_type((CTOR, ctor, scope))
    if made is None or is_container(made):
        return []
    return [(size, ((candidate(made, ".".join(names[:size])), CONF_SCOPED),)) for size in range(1, len(names) + 1)]


def resolve_instance_method(scope: Scope, ctor: Chain, method: str) -> Candidates:
    """`Foo(...).method()`, `make().method()`: the method of what the call makes."""
    made = hint_type((CTOR, ctor, scope))
    return _typed(made, method) if made is not None else ()


def _typed(type_: str, method: str) -> Candidates:
    """A method of a value of this type; a path the resolver may not finish leaves the name to try."""
    if is_container(type_):
        return ()
    found = ((candidate(type_, method), CONF_SCOPED),)
    return found + ((NAME_FALLBACK, CONF_UNIQUE),) if is_path(type_) else found


def enclosing_class(scope: Scope) -> Scope | None:
    """The class whose method (or code nested in one) `scope` is."""
    current: Scope | None = scope
    while current is not None:
        if current.owner is not None:
            return current.owner
        current = current.parent
    return None


def resolve_super(scope: Scope, method: str) -> Candidates:
    """`super().method`: that method on each base of the enclosing class, in declaration order."""
    cls = enclosing_class(scope)
    if cls is None or cls.bases is None:
        return ()
    out: dict[str, float] = {}
    for chain, base_scope in cls.bases:
        for qname, _ in resolve_call(base_scope, chain):
            out.setdefault(f"{qname}.{method}", CONF_SCOPED)
    return tuple(out.items())
