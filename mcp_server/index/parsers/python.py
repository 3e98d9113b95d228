"""Python parser: a tree-sitter tree into symbols and graph edges resolved by Python's scoping rules."""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable
from typing import Any, Final, TypeAlias, TypeGuard

import structlog
from tree_sitter import Node, Parser, Tree

from ..languages import new_parser
from ..records import (
    CONF_EXACT,
    FIXTURE_CANDIDATE,
    RETURNS_SELF,
    SLOT_TYPE,
    TYPE_OF,
    EdgeBudget,
    ParsedFile,
    RawEdge,
    Symbol,
)
from ._python_imports import ImportName, from_import_names, future_names, import_names
from ._python_narrowing import assigns, exits, isinstance_test, matching, remaining, union_members
from ._python_nodes import line as _line
from ._python_nodes import text as _text
from ._python_scope import (
    ALIAS,
    ANNOTATION,
    CALLED,
    CLASS,
    COMPREHENSION,
    CTOR,
    DEF,
    ELEMENT,
    ENTER,
    ENUMERATED,
    FIXTURE,
    FUNCTION,
    HELD,
    IMPORT,
    ITEMS,
    LAMBDA,
    MODULE,
    NARROWED,
    NONE_HINT,
    NONE_VALUE,
    PARAM,
    PART,
    PASSING,
    REBOUND,
    SELF_VALUE,
    TUPLED,
    VALUES,
    VAR,
    Chain,
    Hint,
    Scope,
    attribute_type,
    candidate,
    function_result,
    giving_methods,
    is_class_like,
    is_container,
    lookup,
    made_references,
    member_references,
    resolve_call,
    resolve_instance_method,
    resolve_reference,
    resolve_super,
    returns_self,
    variable_type,
)
from ._python_strings import STRINGS, body_docstring, clean_doc, string_prefix, string_value

log = structlog.get_logger(__name__)

_local = threading.local()

# Node types that can hold neither a definition, a call nor a name use.
_SKIP: Final[frozenset[str]] = frozenset(
    {
        "comment",
        "integer",
        "float",
        "true",
        "false",
        "none",
        "ellipsis",
        "escape_sequence",
        "pass_statement",
        "break_statement",
        "continue_statement",
        "line_continuation",
        "string_start",
        "string_content",
        "string_end",
        "import_prefix",
        "wildcard_import",
        "keyword_separator",
        "positional_separator",
        "type_conversion",
        "escape_interpolation",
    }
)
_COMPREHENSIONS: Final[frozenset[str]] = frozenset(
    {
        "list_comprehension",
        "set_comprehension",
        "dictionary_comprehension",
        "generator_expression",
    }
)
_UNPACKING: Final[frozenset[str]] = frozenset(
    {
        "pattern_list",
        "tuple_pattern",
        "list_pattern",
        "tuple",
        "list",
        "parenthesized_expression",
        "list_splat_pattern",
        "list_splat",
        "expression_list",
    }
)
# Targets that unpack a tuple by position, and the parts that break positions.
_TUPLE_TARGETS: Final[frozenset[str]] = frozenset({"pattern_list", "tuple_pattern", "tuple", "expression_list"})
_SPLATS: Final[frozenset[str]] = frozenset({"list_splat_pattern", "list_splat"})
# Rebound parameters followed per function body (each adds a scope every later lookup climbs).
_MAX_REBINDINGS: Final = 64
_CLAUSES: Final[frozenset[str]] = frozenset({"elif_clause", "else_clause"})
# Statements after which a name may be known to be of one class (see _FileParser._guard).
_GUARDS: Final[frozenset[str]] = frozenset({"if_statement", "assert_statement"})
# Wrappers whose first argument is the type an annotated variable really has.
_TYPE_WRAPPERS: Final[frozenset[str]] = frozenset({"Optional", "Annotated", "ClassVar", "Final"})
# Containers whose (first) type argument is what iterating them gives, and mappings whose second is.
_ITEM_CONTAINERS: Final[frozenset[str]] = frozenset(
    {
        "list", "List", "Sequence", "MutableSequence", "Iterable", "Iterator", "Collection",
        "set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet", "deque", "Deque",
        "Generator", "AsyncIterator", "AsyncIterable", "AsyncGenerator",
    }
)  # fmt: skip
_MAPPINGS: Final[frozenset[str]] = frozenset(
    {"dict", "Dict", "Mapping", "MutableMapping", "defaultdict", "DefaultDict", "OrderedDict"}
)
# Generic classes whose `get()` (`result()`, a call) gives back their type argument.
_HOLDERS: Final[frozenset[str]] = frozenset(
    {"ContextVar", "Queue", "SimpleQueue", "LifoQueue", "PriorityQueue", "ref", "ReferenceType", "Future"}
)
# Subscripted typing forms that are no generic class of whose instance the value is (`Type[Foo]`
# is the class itself, `Callable[..., Foo]` a function).
_SPECIAL_FORMS: Final[frozenset[str]] = frozenset(
    {
        "Type", "Callable", "Literal", "Union", "Tuple", "Awaitable", "Coroutine", "Generic", "Protocol", "TypeGuard", "TypeIs", "Required",
        "NotRequired", "ReadOnly", "Unpack", "Concatenate", "ContextManager", "AsyncContextManager",
        "Reversible", "Container",
    }
)  # fmt: skip
# Builtin classes that may be a type argument in an expression (`header_property[str](...)`).
_BUILTIN_TYPES: Final[frozenset[str]] = frozenset(
    {"str", "bytes", "int", "float", "bool", "complex", "object", "type", "list", "dict", "set", "frozenset", "tuple"}
)
# Annotations that promise no particular class (a method of `Any` is nobody's method).
_UNTYPED: Final[frozenset[str]] = frozenset({"Any", "Self", "object", "NoReturn", "Never"})
_DOTTED: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
# Chained names and rendered targets beyond these sizes are pathological; cap them.
_MAX_RENDER_DEPTH: Final = 8
_MAX_TARGET_CHARS: Final = 300
_MAX_SIGNATURE_CHARS: Final = 400
_PAUSE_GC_BYTES: Final = 1 << 20

# Pending sites, resolved once every binding of the file is known (Python scoping is not
# order-dependent: a function body may call a name imported at the bottom of the module).
# A site is (kind, source symbol, line, target name, scope index, payload); the payload is:
_IMPORT: Final = 0  # (candidates, alias): already final
_CALL: Final = 1  # the callee's dotted name
_SUPER: Final = 2  # the method called on super()
_CTOR_CALL: Final = 3  # (constructor's dotted name, method): `Foo(...).method()`
_OPAQUE_CALL: Final = 4  # None: a callee nothing can be said about, `handlers[0]()`
_INHERITS: Final = 5  # the base's dotted name
_REFERENCE: Final = 6  # (dotted name, line of each part); target and line are unused
_NAME: Final = 7  # None: a bare name read, the target
_MADE_REFERENCE: Final = 9  # (callee's dotted name, attribute names, their lines): `Foo(...).a.b` read
_RECEIVER: Final = 8  # as _REFERENCE: the receiver of a call, `self.headers` of `self.headers.items()`

Site: TypeAlias = tuple[int, int, int, str, int, Any]
Frame: TypeAlias = tuple[Node, int, int]  # node, scope index, source symbol index
Handler: TypeAlias = Callable[[Node, Scope, int, list[Frame]], None]


def _parser() -> Parser:
    parser: Parser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = new_parser("python")
    return parser


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    """Symbols (module first) and unresolved edges of one Python file; never raises."""
    # On big files CPython's cyclic collector re-traverses the growing heap of scopes and
    # bindings again and again (half the time of a million-line file); the walk makes no garbage
    # cycles worth collecting early. Only ever re-enabled by the call that disabled it.
    pause_gc = len(source) > _PAUSE_GC_BYTES and gc.isenabled()
    if pause_gc:
        gc.disable()
    try:
        tree = _parser().parse(source)
        return _FileParser(source, path, module_name, language).run(tree)
    except Exception:  # one pathological file must not stop a repository's indexing
        log.exception("python parse failed", path=path)
        out = ParsedFile(language=language, has_errors=True)
        out.symbols.append(_module_symbol(source, module_name, None))
        return out
    finally:
        if pause_gc:
            gc.enable()


def _line_count(source: bytes) -> int:
    if not source:
        return 1
    return source.count(b"\n") + (0 if source.endswith(b"\n") else 1)


def _module_symbol(source: bytes, module_name: str, docstring: str | None) -> Symbol:
    return Symbol(
        kind="module",
        name=module_name.rpartition(".")[2],
        qualified_name=module_name,
        signature="",
        docstring=docstring,
        start_line=1,
        end_line=_line_count(source),
        start_byte=0,
        end_byte=len(source),
        parent=None,
    )


def _typing(hint: Hint | None) -> TypeGuard[Hint]:
    """Whether an assigned value may give the target a type (a call, an annotation, a name)."""
    return hint is not None and hint[0] != NONE_VALUE


def _written_type(hint: Hint) -> Chain:
    # A constructor or annotation names the class; an alias (`self.env = env`) names a variable.
    return hint[1] if hint[0] in (CTOR, ANNOTATION) else ()


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _flatten(node: Node) -> tuple[Node, list[Node]]:
    """`a.b(x).c.d` -> (the `a.b(x)` root, [c, d] attribute name nodes)."""
    attrs: list[Node] = []
    while node.type == "attribute":
        obj = node.child_by_field_name("object")
        attr = node.child_by_field_name("attribute")
        if obj is None or attr is None:
            break
        attrs.append(attr)
        node = obj
    attrs.reverse()
    return node, attrs


def _chain(node: Node) -> Chain | None:
    """The dotted name an identifier / attribute chain spells, or None if rooted elsewhere."""
    root, attrs = _flatten(node)
    if root.type != "identifier":
        return None
    return (_text(root), *(_text(a) for a in attrs))


def _call_chain(node: Node, depth: int = 0) -> Chain | None:
    """The dotted name of a callee, through calls: `a.b(x).c` -> ("a", "b", "()", "c")."""
    root, attrs = _flatten(node)
    names = tuple(_text(a) for a in attrs)
    if root.type == "identifier":
        return (_text(root), *names)
    function = root.child_by_field_name("function") if root.type == "call" else None
    inner = _call_chain(function, depth + 1) if function is not None and depth < _MAX_RENDER_DEPTH else None
    return (*inner, CALLED, *names) if inner is not None else None


def _render(node: Node, depth: int = 0) -> str:
    """A short, argument-free spelling of a callee: `foo().bar`, `x[].y`, `"".join`."""
    root, attrs = _flatten(node)
    kind = root.type
    if kind == "identifier":
        head = _text(root)
    elif depth >= _MAX_RENDER_DEPTH:
        head = "(...)"
    elif kind == "call":
        function = root.child_by_field_name("function")
        head = (_render(function, depth + 1) if function is not None else "(...)") + "()"
    elif kind == "subscript":
        value = root.child_by_field_name("value")
        head = (_render(value, depth + 1) if value is not None else "(...)") + "[]"
    elif kind in STRINGS:
        head = '""'
    else:
        head = "(...)"
    rendered = ".".join([head, *(_text(a) for a in attrs)])
    return rendered[:_MAX_TARGET_CHARS]


def _annotation_chain(node: Node | None) -> Chain | None:
    """The class an annotation promises: `Foo`, `a.Foo`, `"Foo"`, `Optional[Foo]`, `Foo | None`."""
    for _ in range(8):
        if node is None:
            return None
        kind = node.type
        if kind == "type":
            node = node.named_children[0] if node.named_child_count else None
        elif kind in ("identifier", "attribute"):
            chain = _chain(node)
            return None if chain is None or chain[-1] in _UNTYPED else chain
        elif kind == "string":
            value = string_value(node)
            if value is None or not _DOTTED.fullmatch(value.strip()):
                return None
            chain = tuple(value.strip().split("."))
            return None if chain[-1] in _UNTYPED else chain
        elif kind in ("generic_type", "subscript"):
            head = node.child_by_field_name("value") if kind == "subscript" else node.named_children[0]
            head_chain = _chain(head) if head is not None else None
            if head_chain is None:
                return None
            args = (
                [c for c in node.children_by_field_name("subscript")]
                if kind == "subscript"
                else [c for p in node.named_children[1:] for c in p.named_children]
            )
            items = _items_chain(head_chain[-1], args) or _tuple_chain(head_chain[-1], args)
            if items is not None:
                return items
            wrapped = head_chain[-1] in _TYPE_WRAPPERS and args
            optional = head_chain[-1] == "Union" and len(args) == 2 and _is_none(args[1])
            if not (wrapped or optional):
                # `MultiDict[str, str]`: an instance of the generic class, whatever its arguments.
                generic = is_class_like(head_chain[-1]) and head_chain[-1] not in _SPECIAL_FORMS
                return head_chain if generic else None
            node = args[0]
        elif kind == "binary_operator":
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if right is not None and _is_none(right):
                node = left
            elif left is not None and _is_none(left):
                node = right
            else:
                return None
        else:
            return None
    return None


def _items_chain(head: str, args: list[Node]) -> Chain | None:
    """`list[Foo]` -> ("Foo", ITEMS), `dict[str, Foo]` -> ("Foo", VALUES), `tuple[Foo, ...]`: a
    container of one class (see _python_scope.ITEMS)."""
    if head in _ITEM_CONTAINERS and args:
        item, marker = args[0], ITEMS
    elif head in ("tuple", "Tuple") and len(args) == 2 and _text(args[1]) == "...":
        item, marker = args[0], ITEMS
    elif head in _MAPPINGS and len(args) == 2:
        item, marker = args[1], VALUES
    elif head in _HOLDERS and len(args) == 1:
        item, marker = args[0], HELD
    else:
        return None
    chain = _annotation_chain(item)
    return None if chain is None or chain[-1] in (ITEMS, VALUES, HELD) else (*chain, marker)


def _type_arguments(subscript: Node) -> bool:
    """Whether every index of `x[...]` spells a type (`header_property[str]`, `box[Foo | None]`): then
    calling it makes an instance of the generic x, where `handlers[0]()` calls an item."""
    args = subscript.children_by_field_name("subscript")
    return bool(args) and all(_is_type_expression(a, 0) for a in args)


def _is_type_expression(node: Node, depth: int) -> bool:
    kind = node.type
    if depth > _MAX_RENDER_DEPTH:
        return False
    if kind == "none":
        return True
    if kind in ("identifier", "attribute"):
        chain = _chain(node)
        return chain is not None and (is_class_like(chain[-1]) or (len(chain) == 1 and chain[0] in _BUILTIN_TYPES))
    if kind in ("generic_type", "subscript"):
        head = node.child_by_field_name("value") if kind == "subscript" else node.named_children[0]
        return head is not None and _is_type_expression(head, depth + 1)
    if kind == "binary_operator":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        return left is not None and right is not None and all(_is_type_expression(n, depth + 1) for n in (left, right))
    return False


def _tuple_chain(head: str, args: list[Node]) -> Chain | None:
    """`tuple[A, b.B]` -> (TUPLED, "A", "b.B"): each part's class, "" where it has none."""
    if head not in ("tuple", "Tuple") or len(args) < 2 or any(_text(a) == "..." for a in args):
        return None
    parts = []
    for arg in args:
        chain = _annotation_chain(arg)
        parts.append(".".join(chain) if chain is not None and chain[0] != TUPLED else "")
    return (TUPLED, *parts) if any(parts) else None


def _is_none(node: Node) -> bool:
    if node.type == "type" and node.named_child_count == 1:
        node = node.named_children[0]
    return node.type == "none"


class _FileParser:
    """One file's walk: symbols are emitted in source order, edges resolved after the walk."""

    def __init__(self, source: bytes, path: str, module_name: str, language: str) -> None:
        self.source = source
        self.path = path
        self.module_name = module_name
        self.is_package = path.endswith(("__init__.py", "__init__.pyi"))
        self.out = ParsedFile(language=language)
        # Frames and sites name scopes by index: tuples of nodes, ints and strings only are
        # untracked by CPython's cyclic GC, which otherwise re-traverses millions of them.
        self.scopes: list[Scope] = []
        self.sites: list[Site] = []
        # Module-level variable symbols assigned something that may have a type: qualified name
        # -> (name, line, the class as written there or ()), and each variable symbol's index.
        # Those whose type turns out certain get a type edge (records.TYPE_OF).
        self.typed_vars: dict[str, tuple[str, int, Chain]] = {}
        self.variable_index: dict[str, int] = {}
        # `self.x = Foo()` (or a typed parameter) in a method: (class scope index, x) -> (line,
        # class as written or (), statement). Those whose type is certain get an attribute symbol
        # (if the class body lacks one) and a type edge, so that subclasses elsewhere reach
        # `Foo.m` through `self.x.m()`.
        self.typed_attrs: dict[tuple[int, str], tuple[int, Chain, Node]] = {}
        # A parameter annotated with a union of classes: (function scope index, name) -> its members.
        self.unions: dict[tuple[int, str], list[Node]] = {}
        self.handlers: dict[str, Handler] = {
            "function_definition": self._function,
            "class_definition": self._class,
            "decorated_definition": self._decorated,
            "lambda": self._lambda,
            "call": self._call,
            "attribute": self._attribute,
            "identifier": self._identifier,
            "keyword_argument": self._keyword_argument,
            "assignment": self._assignment,
            "augmented_assignment": self._augmented_assignment,
            "for_statement": self._for,
            "if_statement": self._if,
            "block": self._block,
            "for_in_clause": self._for,
            "except_clause": self._except_clause,
            "as_pattern": self._as_pattern,
            "named_expression": self._named_expression,
            "return_statement": self._return,
            "yield": self._yield,
            "global_statement": self._global,
            "nonlocal_statement": self._global,
            "import_statement": self._import,
            "import_from_statement": self._import_from,
            "future_import_statement": self._import_future,
            "string": self._string,
            "type": self._type,
            "type_alias_statement": self._type_alias,
            "class_pattern": self._class_pattern,
            "dotted_name": self._pattern_name,
            "keyword_pattern": self._keyword_pattern,
            "splat_pattern": self._splat_pattern,
        }
        for kind in _COMPREHENSIONS:
            self.handlers[kind] = self._comprehension

    # ---- driver ---------------------------------------------------------------------------

    def run(self, tree: Tree) -> ParsedFile:
        root = tree.root_node
        out = self.out
        out.has_errors = root.has_error
        out.symbols.append(_module_symbol(self.source, self.module_name, body_docstring(root)))
        module = self._scope(MODULE, None, self.module_name, 0)
        self._walk([(root, module.index, 0)])
        self._resolve()
        return out

    def _scope(self, kind: int, parent: Scope | None, qname: str, symbol: int) -> Scope:
        scope = Scope(kind, parent, qname, symbol, len(self.scopes))
        self.scopes.append(scope)
        return scope

    def _walk(self, stack: list[Frame]) -> None:
        # An explicit stack: nesting depth in the source must never become Python recursion.
        handlers = self.handlers
        skip = _SKIP
        scopes = self.scopes
        while stack:
            node, scope_index, source = stack.pop()
            scope = scopes[scope_index]
            kind = node.type
            if kind in skip:
                continue
            handler = handlers.get(kind)
            if handler is not None:
                handler(node, scope, source, stack)
            else:
                children = node.named_children
                if children:
                    stack.extend([(c, scope_index, source) for c in reversed(children)])

    def _resolve(self) -> None:
        edges = self.out.edges
        scopes = self.scopes
        budget = EdgeBudget()
        for kind, source, line, target, scope_index, payload in self.sites:
            scope = scopes[scope_index]
            if kind == _NAME:
                candidates, _ = resolve_reference(scope, (target,))
                if candidates and budget.admit(source, "references", target):
                    edges.append(RawEdge(source, "references", target, line, candidates))
            elif kind == _REFERENCE or kind == _RECEIVER:
                chain, lines = payload
                for used, candidates in member_references(scope, chain, kind == _RECEIVER):
                    written = ".".join(chain[:used])
                    if budget.admit(source, "references", written):
                        edges.append(RawEdge(source, "references", written, lines[used - 1], candidates))
            elif kind == _MADE_REFERENCE:
                ctor, names, lines = payload
                for used, candidates in made_references(scope, ctor, names):
                    written = ".".join((target, *names[:used]))
                    if budget.admit(source, "references", written):
                        edges.append(RawEdge(source, "references", written, lines[used - 1], candidates))
            elif kind == _IMPORT:
                candidates, alias = payload
                if budget.admit(source, "imports", target):
                    edges.append(RawEdge(source, "imports", target, line, candidates, alias))
            elif kind == _INHERITS:
                if budget.admit(source, "inherits", target):
                    edges.append(RawEdge(source, "inherits", target, line, resolve_call(scope, payload)))
            elif budget.admit(source, "calls", target):
                if kind == _CALL:
                    candidates = resolve_call(scope, payload)
                elif kind == _SUPER:
                    candidates = resolve_super(scope, payload)
                elif kind == _CTOR_CALL:
                    candidates = resolve_instance_method(scope, *payload)
                else:
                    candidates = ()
                edges.append(RawEdge(source, "calls", target, line, candidates))
        self.out.edges_dropped = budget.dropped
        module = scopes[0]
        for qname, (name, line, var_type) in self.typed_vars.items():
            res = lookup(module, name)
            cls = variable_type(res, items=True) if res is not None and res.symbol == qname else None
            if cls is not None and is_container(cls):
                _held_types(edges, self.variable_index[qname], var_type, line, cls)
            elif cls is not None and not cls.startswith(FIXTURE_CANDIDATE):
                cls = candidate(cls, "")[:-1]
                edges.append(
                    RawEdge(
                        self.variable_index[qname],
                        "references",
                        ".".join(var_type) or cls.rpartition(".")[2],
                        line,
                        ((cls, CONF_EXACT),),
                        TYPE_OF,
                    )
                )
        for (scope_index, attr), (attr_line, attr_type, statement) in self.typed_attrs.items():
            owner = scopes[scope_index]
            cls = attribute_type(owner, attr, items=True)
            if cls is None or cls.startswith(FIXTURE_CANDIDATE):
                continue
            attr_symbol = self._variable_symbol(attr, owner, statement)
            index = self.variable_index.get(attr_symbol) if attr_symbol is not None else None
            if index is not None and is_container(cls):
                _held_types(edges, index, attr_type, attr_line, cls)
            elif index is not None:
                cls = candidate(cls, "")[:-1]
                edges.append(
                    RawEdge(
                        index,
                        "references",
                        ".".join(attr_type) or cls.rpartition(".")[2],
                        attr_line,
                        ((cls, CONF_EXACT),),
                        TYPE_OF,
                    )
                )
        self._function_types(edges)

    def _function_types(self, edges: list[RawEdge]) -> None:
        """What each function returns, as a type edge (records.TYPE_OF, RETURNS_SELF): a call of
        it in another file (`c = make_client(); c.get()`) reaches the type's methods."""
        module = self.scopes[0]
        fixtures = module.fixtures or {}
        for qname, fn in (module.returns or {}).items():
            if fn.owner is not None and returns_self(fn):
                edges.append(
                    RawEdge(fn.symbol, "references", "self()", self.out.symbols[fn.symbol].start_line, (), RETURNS_SELF)
                )
                continue
            found = function_result(fn, fixture=qname in fixtures)
            if found is None or found.startswith(FIXTURE_CANDIDATE) or is_container(found):
                continue
            target = candidate(found, "")[:-1]
            written = tuple(n for n in fn.returned[1] if n != ITEMS) if fn.returned is not None else ()
            line = self.out.symbols[fn.symbol].start_line
            # Written as a call ("Client()"): the annotation's own reference edge is the mention.
            edges.append(
                RawEdge(
                    fn.symbol,
                    "references",
                    (".".join(written) or target.rpartition(".")[2]) + "()",
                    line,
                    ((target, CONF_EXACT),),
                    TYPE_OF,
                )
            )

    # ---- symbols ----------------------------------------------------------------------------

    def _add_symbol(
        self, kind: str, name: str, qname: str, signature: str, docstring: str | None, span: Node, parent: int
    ) -> int:
        symbols = self.out.symbols
        symbols.append(
            Symbol(
                kind=kind,
                name=name,
                qualified_name=qname,
                signature=signature,
                docstring=docstring,
                start_line=span.start_point.row + 1,
                end_line=span.end_point.row + 1,
                start_byte=span.start_byte,
                end_byte=span.end_byte,
                parent=parent,
            )
        )
        return len(symbols) - 1

    def _header(self, node: Node, body: Node | None) -> str:
        """`async def f(x: int) -> str` / `class A(B)`: the declaration without its body."""
        start = node.start_byte
        end = node.end_byte
        for child in node.children:
            if body is not None and child.start_byte >= body.start_byte:
                break
            if child.type == ":":
                end = child.start_byte
        raw = self.source[start:end]
        multi_line = b"\n" in raw
        cuts: list[tuple[int, int]] = []
        if b"#" in raw:
            cuts.extend(self._comment_spans(node, end))
        if multi_line:
            # A formatter's trailing comma after the last parameter or base is layout, not API.
            for field in ("parameters", "superclasses"):
                group = node.child_by_field_name(field)
                children = group.children if group is not None else []
                if len(children) >= 2 and children[-1].type == ")" and children[-2].type == ",":
                    cuts.append((children[-2].start_byte, children[-2].end_byte))
        for begin, stop in sorted(cuts, reverse=True):
            raw = raw[: begin - start] + raw[stop - start :]
        text = " ".join(raw.decode("utf-8", "replace").split())
        if multi_line:
            text = text.replace("( ", "(").replace(" )", ")").replace("[ ", "[").replace(" ]", "]")
        return text[:_MAX_SIGNATURE_CHARS]

    def _comment_spans(self, node: Node, end: int) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        stack = [c for c in node.children if c.end_byte <= end]
        while stack:
            current = stack.pop()
            if current.type == "comment":
                spans.append((current.start_byte, current.end_byte))
            elif current.type not in STRINGS:
                stack.extend(current.children)
        return spans

    def _variable_symbol(self, name: str, scope: Scope, statement: Node) -> str | None:
        """A variable/attribute symbol for a module- or class-level assignment worth finding."""
        if _is_dunder(name) and (scope.kind != MODULE or name == "__all__"):
            return None  # `__slots__`, `__all__`: machinery; `__version__` is worth finding
        if scope.kind == CLASS:
            kind = "attribute"
        elif scope.kind == MODULE:
            # Every module-level name is importable, and jedi and readers treat its assignment as
            # its definition (`gettext_lazy = lazy(...)`, `register = registry.register`).
            kind = "variable"
        else:
            return None
        if scope.declared is not None and name in scope.declared:
            return scope.declared[name]
        qname = f"{scope.qname}.{name}"
        scope.declare(name, qname)
        start, stop = statement.start_byte, statement.end_byte
        newline = self.source.find(b"\n", start, stop)
        first_line = self.source[start : newline if newline >= 0 else stop]
        signature = " ".join(first_line.decode("utf-8", "replace").split())[:_MAX_SIGNATURE_CHARS]
        docstring = None
        following = statement.next_named_sibling
        if (
            following is not None
            and following.type == "expression_statement"
            and following.named_child_count == 1
            and following.named_children[0].type in STRINGS
        ):
            value = string_value(following.named_children[0])
            docstring = clean_doc(value) if value is not None else None
        self.variable_index[qname] = self._add_symbol(kind, name, qname, signature, docstring, statement, scope.symbol)
        return qname

    # ---- definitions ------------------------------------------------------------------------

    def _decorated(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        definition = node.child_by_field_name("definition")
        decorators = [c for c in node.named_children if c.type == "decorator"]
        if definition is not None and definition.type == "function_definition":
            self._function(definition, scope, source, stack, node, decorators)
        elif definition is not None and definition.type == "class_definition":
            self._class(definition, scope, source, stack, node, decorators)
        else:
            stack.extend([(c, scope.index, source) for c in reversed(node.named_children)])

    def _push_decorators(self, decorators: list[Node], scope: Scope, index: int, stack: list[Frame]) -> None:
        # Decorators are evaluated in the enclosing scope but attributed to what they decorate.
        for decorator in reversed(decorators):
            stack.extend([(c, scope.index, index) for c in reversed(decorator.named_children)])

    def _function(
        self,
        node: Node,
        scope: Scope,
        source: int,
        stack: list[Frame],
        outer: Node | None = None,
        decorators: list[Node] | None = None,
    ) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            stack.extend([(c, scope.index, source) for c in reversed(node.named_children)])
            return
        name = _text(name_node)
        body = node.child_by_field_name("body")
        decorators = decorators or []
        in_class = scope.kind == CLASS
        qname = f"{scope.qname}.{name}"
        index = self._add_symbol(
            "method" if in_class else "function",
            name,
            qname,
            self._header(node, body),
            body_docstring(body),
            outer or node,
            scope.symbol,
        )
        scope.bind(name, (DEF, qname, False))
        scope.declare(name, None)
        inner = self._scope(FUNCTION, scope, qname, index)
        receiver: Scope | None = None
        if in_class and not any(_decorator_name(d) == "staticmethod" for d in decorators):
            receiver = scope
            inner.owner = scope
        header: list[Frame] = []
        fixture = any(_is_fixture(d) for d in decorators)
        decorated = {_decorator_name(d) for d in decorators}
        inner.manager = bool(decorated & {"contextmanager", "asynccontextmanager"})
        if not decorated & {"setter", "deleter"}:
            scope.add_function(qname, inner, fixture)  # a property's type is its getter's
        if in_class and decorated & {"property", "cached_property"}:
            if scope.properties is None:
                scope.properties = set()
            scope.properties.add(name)
        # pytest passes fixtures to tests and to other fixtures by parameter name.
        takes_fixtures = fixture or name.startswith("test")
        parameters = node.child_by_field_name("parameters")
        receiver_param: tuple[str, Chain | None] | None = None
        if parameters is not None:
            receiver_param = self._parameters(parameters, inner, scope, index, receiver, header, takes_fixtures)
        type_parameters = node.child_by_field_name("type_parameters")
        if type_parameters is not None:
            self._type_parameters(type_parameters, inner)
        if body is not None:
            self._body(body, inner, index, stack)
        return_type = node.child_by_field_name("return_type")
        if return_type is not None:
            stack.append((return_type, scope.index, index))
            returned = _annotation_chain(return_type)
            self_chain = receiver_param[1] if receiver_param is not None else None
            if receiver_param is not None and (_is_self_type(return_type) or (returned and returned == self_chain)):
                # `-> Self`, or `def __enter__(self: T) -> T`: the instance it is called on
                inner.returned = (SELF_VALUE, (receiver_param[0],), inner)
            elif returned is not None:
                inner.returned = (ANNOTATION, returned, scope)
            else:
                inner.returned = NONE_HINT  # an annotation that promises no class we can name
        stack.extend(reversed(header))
        self._push_decorators(decorators, scope, index, stack)

    def _body(self, body: Node, inner: Scope, index: int, stack: list[Frame]) -> None:
        """A function's statements; those after `param = Foo(...)` at its top see param as a Foo."""
        frames: list[Frame] = []
        current = inner
        scopes = 0
        statements = body.named_children
        guarded: str | None = None  # the name the innermost scope narrowed after an `if`
        for position, statement in enumerate(statements):
            current, guarded = _unguarded(statement, current, guarded)
            frames.append((statement, current.index, index))
            if statement.type in _GUARDS:
                narrowed = self._guard(statement, current, statements[:position]) if scopes < _MAX_REBINDINGS else None
                if narrowed is not None:
                    current, guarded = narrowed
                    scopes += 1
                continue
            rebound = _rebinding(statement) if scopes < _MAX_REBINDINGS else None
            if rebound is None:
                continue
            name, value = rebound
            bindings = inner.bindings.get(name) or ()
            hint = self._value_hint(value, current)
            if hint is None or hint[0] != CTOR or not any(k == PARAM and b is None for k, _, b in bindings):
                continue
            current = self._scope(REBOUND, current, inner.qname, inner.symbol)
            current.narrow(name, hint)
            guarded = None
            scopes += 1
        stack.extend(reversed(frames))

    def _parameters(
        self,
        parameters: Node,
        inner: Scope,
        outer: Scope,
        index: int,
        receiver: Scope | None,
        header: list[Frame],
        takes_fixtures: bool = False,
    ) -> tuple[str, Chain | None] | None:
        """Bind parameters in the function's scope; defaults and annotations belong outside.
        Returns the receiver's (self's) name and annotation, for a method."""
        first = True
        receiver_param: tuple[str, Chain | None] | None = None
        for param in parameters.named_children:
            kind = param.type
            name_node: Node | None = None
            annotation: Node | None = None
            default: Node | None = None
            positional = True
            if kind == "identifier":
                name_node = param
            elif kind in ("default_parameter", "typed_default_parameter"):
                name_node = param.child_by_field_name("name")
                annotation = param.child_by_field_name("type")
                default = param.child_by_field_name("value")
            elif kind == "typed_parameter":
                annotation = param.child_by_field_name("type")
                for child in param.named_children:
                    if child.type == "identifier":
                        name_node = child
                        break
                    if child.type in ("list_splat_pattern", "dictionary_splat_pattern"):
                        name_node = _first_identifier(child)
                        positional = False
                        break
            elif kind in ("list_splat_pattern", "dictionary_splat_pattern"):
                name_node = _first_identifier(param)
                positional = False
            elif kind in ("keyword_separator", "positional_separator", "comment"):
                continue
            elif kind == "tuple_pattern":  # Python 2 tuple parameters
                self._bind_targets(param, inner, None, None, [], index)
                first = False
                continue
            else:
                header.append((param, outer.index, index))
                continue
            if annotation is not None:
                header.append((annotation, outer.index, index))
            if default is not None:
                header.append((default, outer.index, index))
            if name_node is None or name_node.type != "identifier":
                first = False
                continue
            is_receiver = first and positional and receiver is not None
            chain = _annotation_chain(annotation) if annotation is not None else None
            name = _text(name_node)
            hint: Hint | None = (ANNOTATION, chain, outer) if chain is not None else None
            members = union_members(annotation) if annotation is not None and chain is None else None
            if members is not None:
                self.unions[(inner.index, _text(name_node))] = members
            if hint is None and takes_fixtures and not is_receiver and positional:
                hint = (FIXTURE, (name,), outer)
            inner.bind(name, (PARAM, hint, receiver if is_receiver else None))
            if is_receiver:
                receiver_param = (name, chain)
            first = False
        return receiver_param

    def _type_parameters(self, node: Node, inner: Scope) -> None:
        for child in node.named_children:
            name = _first_identifier(child)
            if name is not None:
                inner.bind(_text(name), (VAR, None, None))

    def _class(
        self,
        node: Node,
        scope: Scope,
        source: int,
        stack: list[Frame],
        outer: Node | None = None,
        decorators: list[Node] | None = None,
    ) -> None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            stack.extend([(c, scope.index, source) for c in reversed(node.named_children)])
            return
        name = _text(name_node)
        body = node.child_by_field_name("body")
        qname = f"{scope.qname}.{name}"
        index = self._add_symbol(
            "class", name, qname, self._header(node, body), body_docstring(body), outer or node, scope.symbol
        )
        scope.bind(name, (DEF, qname, True))
        scope.declare(name, None)
        inner = self._scope(CLASS, scope, qname, index)
        type_parameters = node.child_by_field_name("type_parameters")
        if type_parameters is not None:
            self._type_parameters(type_parameters, inner)
        if body is not None:
            stack.append((body, inner.index, index))
        superclasses = node.child_by_field_name("superclasses")
        if superclasses is not None:
            header: list[Frame] = []
            for base in superclasses.named_children:
                self._base(base, scope, inner, index, header)
            stack.extend(reversed(header))
        self._push_decorators(decorators or [], scope, index, stack)

    def _base(self, base: Node, scope: Scope, cls: Scope, index: int, header: list[Frame]) -> None:
        kind = base.type
        if kind == "keyword_argument":  # metaclass=..., or __init_subclass__ arguments
            value = base.child_by_field_name("value")
            if value is not None:
                header.append((value, scope.index, index))
            return
        written = base
        if kind == "subscript":  # Generic[T], Base[int]: the base is the subscripted name
            value = base.child_by_field_name("value")
            if value is None:
                header.append((base, scope.index, index))
                return
            written = value
            header.extend((c, scope.index, index) for c in base.children_by_field_name("subscript"))
        chain = _chain(written) if written.type in ("identifier", "attribute") else None
        if chain is None:
            header.append((base, scope.index, index))
            return
        if chain == ("object",):
            return
        root, attrs = _flatten(written)
        line = _line(attrs[-1]) if attrs else _line(root)
        cls.add_base(chain, scope)
        self.sites.append((_INHERITS, index, line, ".".join(chain), scope.index, chain))

    def _lambda(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        inner = self._scope(LAMBDA, scope, scope.qname, source)
        body = node.child_by_field_name("body")
        if body is not None:
            stack.append((body, inner.index, source))
        parameters = node.child_by_field_name("parameters")
        if parameters is not None:
            header: list[Frame] = []
            self._parameters(parameters, inner, scope, source, None, header)
            stack.extend(reversed(header))

    def _comprehension(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        inner = self._scope(COMPREHENSION, scope, scope.qname, source)
        children = node.named_children
        first = next((c for c in children if c.type == "for_in_clause"), None)
        stack.extend([(c, inner.index, source) for c in reversed(children) if c != first])
        if first is not None:
            # The first iterable is evaluated in the enclosing scope (it can see class bodies).
            right = first.child_by_field_name("right")
            if right is not None:
                stack.append((right, scope.index, source))
            left = first.child_by_field_name("left")
            if left is not None:
                self._bind_loop_targets(left, right, inner, stack, source, scope)

    # ---- uses -------------------------------------------------------------------------------

    def _call(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        arguments = node.child_by_field_name("arguments")
        if arguments is not None:
            stack.append((arguments, scope.index, source))
        function = node.child_by_field_name("function")
        if function is None:
            return
        root, attrs = _flatten(function)
        line = _line(attrs[-1]) if attrs else _line(root)
        root_kind = root.type
        if root_kind == "identifier":
            chain = (_text(root), *(_text(a) for a in attrs))
            self.sites.append((_CALL, source, line, ".".join(chain)[:_MAX_TARGET_CHARS], scope.index, chain))
            if len(attrs) >= 2:
                # `self.headers.items()` reads `headers` (a property, an attribute) before calling.
                lines = (_line(root), *(_line(a) for a in attrs[:-1]))
                self.sites.append((_RECEIVER, source, 0, "", scope.index, (chain[:-1], lines)))
            return
        if root_kind == "subscript" and not attrs:
            # `ConfigAttribute[bool]("TESTING")`: a generic class made with type arguments
            value = root.child_by_field_name("value")
            generic = _chain(value) if value is not None else None
            if generic is not None and (is_class_like(generic[-1]) or _type_arguments(root)):
                stack.extend([(c, scope.index, source) for c in reversed(root.children_by_field_name("subscript"))])
                self.sites.append((_CALL, source, line, ".".join(generic)[:_MAX_TARGET_CHARS], scope.index, generic))
                return
        target = _render(function)
        stack.append((root, scope.index, source))
        if root_kind == "call" and len(attrs) == 1:
            callee = root.child_by_field_name("function")
            method = _text(attrs[0])
            if callee is not None and callee.type == "identifier" and _text(callee) == "super":
                self.sites.append((_SUPER, source, line, f"super().{method}", scope.index, method))
                return
            ctor = _call_chain(callee) if callee is not None else None
            if ctor is not None:
                self.sites.append((_CTOR_CALL, source, line, target, scope.index, (ctor, method)))
                return
        self.sites.append((_OPAQUE_CALL, source, line, target, scope.index, None))

    def _attribute(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        root, attrs = _flatten(node)
        if root.type != "identifier":
            stack.append((root, scope.index, source))
            function = root.child_by_field_name("function") if root.type == "call" else None
            ctor = _call_chain(function) if function is not None else None
            if ctor is not None and attrs:
                names = tuple(_text(a) for a in attrs)
                payload = (ctor, names, tuple(_line(a) for a in attrs))
                self.sites.append((_MADE_REFERENCE, source, 0, _render(root), scope.index, payload))
            return
        chain = (_text(root), *(_text(a) for a in attrs))
        lines = (_line(root), *(_line(a) for a in attrs))
        self.sites.append((_REFERENCE, source, 0, "", scope.index, (chain, lines)))

    def _identifier(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        self.sites.append((_NAME, source, node.start_point.row + 1, _text(node), scope.index, None))

    def _keyword_argument(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        value = node.child_by_field_name("value")
        if value is not None:
            stack.append((value, scope.index, source))

    def _string(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        # Only f-strings (and t-strings) hold code; plain strings are the bulk of string nodes.
        prefix = string_prefix(node)
        if "f" in prefix or "t" in prefix:
            stack.extend([(c, scope.index, source) for c in reversed(node.named_children) if c.type == "interpolation"])

    def _type(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        if node.named_child_count != 1:
            stack.extend([(c, scope.index, source) for c in reversed(node.named_children)])
            return
        inner = node.named_children[0]
        if inner.type != "string":
            stack.append((inner, scope.index, source))
            return
        value = string_value(inner)  # a forward reference: `def f(x: "Foo")`
        if value is not None and _DOTTED.fullmatch(value.strip()):
            chain = tuple(value.strip().split("."))
            lines = (_line(inner),) * len(chain)
            self.sites.append((_REFERENCE, source, 0, "", scope.index, (chain, lines)))

    # ---- bindings ---------------------------------------------------------------------------

    def _value_hint(self, value: Node | None, scope: Scope) -> Hint | None:
        if value is None:
            return None
        kind = value.type
        if kind == "await" and value.named_child_count == 1 and value.named_children[0].type == "call":
            # `await f()`: an `async def`'s annotation (and its `return`s) say what awaiting it gives.
            value = value.named_children[0]
            kind = "call"
        if kind == "call":
            function = value.child_by_field_name("function")
            if function is not None and function.type == "subscript" and _type_arguments(function):
                function = function.child_by_field_name("value")  # `Foo[int]()` makes a Foo
            chain = _call_chain(function) if function is not None else None
            return (CTOR, chain, scope) if chain is not None else None
        if kind == "identifier":
            return (ALIAS, (_text(value),), scope)
        if kind == "none":
            return NONE_HINT
        return None

    def _bind_targets(
        self, target: Node, scope: Scope, hint: Hint | None, statement: Node | None, stack: list[Frame], source: int
    ) -> None:
        """Bind the names an assignment target introduces; its other parts are reads."""
        work: list[tuple[Node, Hint | None]] = [(target, hint)]
        while work:
            node, node_hint = work.pop()
            kind = node.type
            if kind == "identifier":
                name = _text(node)
                symbol: str | None = None
                if statement is not None and scope.kind in (MODULE, CLASS):
                    symbol = self._variable_symbol(name, scope, statement)
                    if symbol is not None and scope.kind == MODULE and _typing(node_hint):
                        self.typed_vars.setdefault(symbol, (name, _line(node), _written_type(node_hint)))
                    elif symbol is not None and node_hint is not None and node_hint[0] == ANNOTATION:
                        # `headers: Headers` in a class body declares what instances hold.
                        self.typed_attrs.setdefault((scope.index, name), (_line(node), node_hint[1], statement))
                scope.bind(name, (VAR, node_hint, symbol))
            elif kind in _UNPACKING:
                parts = [c for c in node.named_children if c.type != "comment"]
                if _typing(node_hint) and kind in _TUPLE_TARGETS and all(c.type not in _SPLATS for c in parts):
                    # `a, b = f()`: each name is the part of the tuple at its position
                    whole = (str(node_hint[0]), *node_hint[1])
                    work.extend((c, (PART, (str(i), *whole), node_hint[2])) for i, c in enumerate(parts))
                else:
                    work.extend((c, None) for c in parts)
            elif kind == "as_pattern_target":
                work.extend((c, node_hint) for c in node.named_children)
            elif kind == "attribute":
                obj = node.child_by_field_name("object")
                attr = node.child_by_field_name("attribute")
                if obj is None or attr is None:
                    continue
                if obj.type == "identifier":
                    cls = scope.binds_receiver(_text(obj))
                    if cls is not None:  # `self.x = ...`: remember what x holds
                        name = _text(attr)
                        cls.add_attr_hint(name, node_hint)
                        if statement is not None and _typing(node_hint):
                            self.typed_attrs.setdefault(
                                (cls.index, name), (_line(attr), _written_type(node_hint), statement)
                            )
                stack.append((obj, scope.index, source))
            elif kind != "comment":
                stack.append((node, scope.index, source))

    def _assignment(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        targets: list[Node] = []
        annotation: Node | None = None
        current = node
        value: Node | None = None
        while True:  # `a = b = value` nests assignments on the right
            left = current.child_by_field_name("left")
            if left is not None:
                targets.append(left)
            if annotation is None:
                annotation = current.child_by_field_name("type")
            value = current.child_by_field_name("right")
            if value is not None and value.type == "assignment":
                current = value
                continue
            break
        chain = _annotation_chain(annotation) if annotation is not None else None
        hint = (ANNOTATION, chain, scope) if chain is not None else self._value_hint(value, scope)
        parent = node.parent
        statement = parent if parent is not None and parent.type == "expression_statement" else node
        if value is not None:
            stack.append((value, scope.index, source))
        if annotation is not None:
            stack.append((annotation, scope.index, source))
        for target in targets:
            self._bind_targets(target, scope, hint, statement, stack, source)

    def _augmented_assignment(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        value = node.child_by_field_name("right")
        if value is not None:
            stack.append((value, scope.index, source))
        left = node.child_by_field_name("left")
        if left is None:
            return
        if left.type == "identifier":
            scope.bind(_text(left), (VAR, None, None))
        else:
            stack.append((left, scope.index, source))

    def _for(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        left = node.child_by_field_name("left")
        stack.extend([(c, scope.index, source) for c in reversed(node.named_children) if c != left])
        if left is not None:
            self._bind_loop_targets(left, node.child_by_field_name("right"), scope, stack, source, scope)

    def _bind_loop_targets(
        self, left: Node, iterable: Node | None, scope: Scope, stack: list[Frame], source: int, where: Scope
    ) -> None:
        """`for x in xs` (xs read in `where`): x is an item of xs; `for k, v in d.items()`,
        `for i, x in enumerate(xs)`: the pair's second name is a value of d, an item of xs."""
        chain = _iterated(iterable) if iterable is not None else None
        hint: Hint | None = (ELEMENT, chain, where) if chain is not None else None
        if chain is not None and (chain[-2:] == ("items", CALLED) or chain[0] == ENUMERATED):
            pair = left.named_children if left.type in ("pattern_list", "tuple_pattern") else []
            if len(pair) == 2:
                self._bind_targets(pair[0], scope, None, None, stack, source)
                self._bind_targets(pair[1], scope, hint, None, stack, source)
                return
            hint = None
        self._bind_targets(left, scope, hint, None, stack, source)

    def _as_pattern(self, node: Node, scope: Scope, source: int, stack: list[Frame], hint: Hint | None = None) -> None:
        alias = node.child_by_field_name("alias")
        parent = node.parent
        if hint is None and parent is not None and parent.type == "with_item" and node.named_child_count:
            hint = _entered(node.named_children[0], parent, scope)
        for child in reversed(node.named_children):
            if child != alias:
                stack.append((child, scope.index, source))
        if alias is not None:
            self._bind_targets(alias, scope, hint, None, stack, source)

    def _if(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        """`if` / `elif` blocks whose condition is `isinstance(x, Foo)` (alone or among `and`s)
        see x as a Foo; the condition itself and the `else` block see what x was."""
        clauses = [node, *(c for c in node.children_by_field_name("alternative"))]
        failed = self._failed_tests(clauses, scope)[0] if scope.kind in (FUNCTION, *PASSING) else None
        for position in range(len(clauses) - 1, -1, -1):
            clause = clauses[position]
            condition = clause.child_by_field_name("condition")
            body = clause.child_by_field_name("consequence" if condition is not None else "body")
            narrowed = failed[position] if failed else {}
            if body is None or (condition is None and (clause.type != "else_clause" or not narrowed)):
                # `else:` that narrows nothing, or a clause broken by a syntax error
                if clause is not node:
                    stack.append((clause, scope.index, source))
                else:
                    parts = [c for c in node.named_children if c.type not in _CLAUSES]
                    stack.extend([(c, scope.index, source) for c in reversed(parts)])
                continue
            block = scope
            tests = _isinstance_tests(condition) if condition is not None else []
            own = {name for name, _ in tests}
            for name, chain in [*tests, *((n, c) for n, c in narrowed.items() if n not in own)]:
                chain = self._member_passing(scope, name, chain) if name in own else chain
                if block is scope:
                    if scope.kind not in (FUNCTION, *PASSING) or not _is_local(scope, name):
                        continue
                    block = self._scope(NARROWED, scope, scope.qname, scope.symbol)
                block.narrow(name, (ANNOTATION, chain, scope))
            stack.append((body, block.index, source))
            if condition is not None:
                stack.append((condition, scope.index, source))

    def _failed_tests(self, clauses: list[Node], scope: Scope) -> tuple[list[dict[str, Chain]], dict[str, Chain]]:
        """What a parameter typed by a union is in each clause of an `if` because the bare
        `isinstance` tests before it failed (`x: Foo | list[Foo]`; `if isinstance(x, list): ...
        else:` x is a Foo), and after the last clause when there is no `else`."""
        per_clause: list[dict[str, Chain]] = [{} for _ in clauses]
        after: dict[str, Chain] = {}
        tests = [isinstance_test(c) if (c := clause.child_by_field_name("condition")) else None for clause in clauses]
        for name in {t[0] for t in tests if t is not None}:
            members = self._union_of(scope, name)
            if members is None:
                continue
            excluded: frozenset[str] = frozenset()
            for position, test in enumerate(tests):
                own = test is not None and test[0] == name
                if test is not None and own and not test[3]:
                    excluded |= test[1]
                    continue
                left = remaining(members, excluded | test[1] if test is not None and own else excluded)
                chain = _annotation_chain(left[0]) if len(left) == 1 else None
                if chain is not None:
                    per_clause[position][name] = chain
                if own:
                    break  # `not isinstance(x, T)`: the clauses after see a T
            else:
                left = remaining(members, excluded)
                chain = _annotation_chain(left[0]) if len(left) == 1 and excluded else None
                if chain is not None and clauses[-1].type != "else_clause":
                    after[name] = chain
        return per_clause, after

    def _block(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        """A block nested in a function: its statements after an `if` that leaves a parameter one
        class see it so (see _after_if), as a function's own statements do."""
        statements = node.named_children
        frames: list[Frame] = []
        current = scope
        guarded: str | None = None
        scopes = 0
        narrowing = scope.kind in (FUNCTION, *PASSING)
        for position, statement in enumerate(statements):
            current, guarded = _unguarded(statement, current, guarded)
            frames.append((statement, current.index, source))
            if narrowing and statement.type in _GUARDS and scopes < _MAX_REBINDINGS:
                narrowed = self._guard(statement, current, statements[:position])
                if narrowed is not None:
                    current, guarded = narrowed
                    scopes += 1
        stack.extend(reversed(frames))

    def _guard(self, statement: Node, scope: Scope, earlier: list[Node]) -> tuple[Scope, str] | None:
        """The scope of the statements after an `if` that leaves a parameter one class, or an
        `assert isinstance(x, Foo)` (among `and`s too), and the name they narrow."""
        known: tuple[str, Hint] | None = None
        if statement.type == "if_statement":
            known = self._after_if(statement, scope, earlier)
        elif statement.named_child_count:
            for name, chain in _isinstance_tests(statement.named_children[0]):
                if self._is_local_here(scope, name, earlier):
                    known = name, (ANNOTATION, self._member_passing(scope, name, chain), scope)
                    break
        if known is None:
            return None
        narrowed = self._scope(NARROWED, scope, scope.qname, scope.symbol)
        narrowed.narrow(*known)
        return narrowed, known[0]

    def _after_if(self, node: Node, scope: Scope, earlier: list[Node]) -> tuple[str, Hint] | None:
        """What a local is after an `if`, when every clause that falls through leaves it one
        class: narrowed by its test or (a parameter's declared union) by the tests that failed,
        or rebound to a new instance (`if not isinstance(x, Foo): raise`; `if not isinstance(x,
        Foo): x = Foo(x)`; `if isinstance(x, str): x = Foo(x)` for `x: str | Foo`)."""
        clauses = [node, *(c for c in node.children_by_field_name("alternative"))]
        conditions = [c.child_by_field_name("condition") for c in clauses]
        tests = [isinstance_test(c) if c is not None else None for c in conditions]
        names = {t[0] for t in tests if t is not None}
        if not names:
            return None
        guard = tests[0] if len(clauses) == 1 else None
        if guard is not None and guard[3] and guard[2] is not None and exits(node.child_by_field_name("consequence")):
            # `if not isinstance(x, Foo): raise`: whatever x was before, it is a Foo after.
            cls = _chain(guard[2])
            if cls is not None and self._is_local_here(scope, guard[0], earlier):
                return guard[0], (ANNOTATION, self._member_passing(scope, guard[0], cls), scope)
        per_clause, after = self._failed_tests(clauses, scope)
        for name in names:
            if not self._is_local_here(scope, name, earlier):
                continue
            # What failed tests leave of a declared union holds while nothing rebound the parameter.
            declared = _plain_parameter_scope(scope, name) is not None and not assigns(earlier, name)
            failed = per_clause if declared else [{} for _ in clauses]
            outcomes: set[Chain | None] = set()
            for position, clause in enumerate(clauses):
                condition = conditions[position]
                block = clause.child_by_field_name("consequence" if condition is not None else "body")
                if exits(block):
                    continue
                assigned, chain = self._rebound_in(block, name, scope)
                if not assigned:
                    positive = dict(_isinstance_tests(condition)) if condition is not None else {}
                    chain = positive.get(name) or failed[position].get(name)
                outcomes.add(chain)
            if clauses[-1].type != "else_clause":
                negated = [t for t in tests if t is not None and t[0] == name and t[3] and t[2] is not None]
                outcomes.add(
                    _chain(negated[0][2]) if negated and negated[0][2] else after.get(name) if declared else None
                )
            only = outcomes.pop() if len(outcomes) == 1 else None
            if only is not None:
                return name, (ANNOTATION, only, scope)
        return None

    def _is_local_here(self, scope: Scope, name: str, earlier: list[Node]) -> bool:
        """Whether `name` is the function's own (a parameter, or bound by an earlier statement of
        the block, walked or not yet), not its self/cls."""
        return scope.kind in (FUNCTION, *PASSING) and (_is_local(scope, name) or assigns(earlier, name))

    def _rebound_in(self, block: Node | None, name: str, scope: Scope) -> tuple[bool, Chain | None]:
        """Whether a block may bind `name`, and the class it surely leaves it then (its last
        statement that binds it is `name = Foo(...)`)."""
        statements = [c for c in block.named_children if c.type != "comment"] if block is not None else []
        if not assigns(statements, name):
            return False, None
        for position in range(len(statements) - 1, -1, -1):
            rebound = _rebinding(statements[position])
            if rebound is None or rebound[0] != name:
                continue
            if assigns(statements[position + 1 :], name):
                break
            hint = self._value_hint(rebound[1], scope)
            chain = hint[1] if hint is not None and hint[0] == CTOR else None
            if chain and CALLED not in chain and is_class_like(chain[-1]):
                return True, chain
            break
        return True, None

    def _member_passing(self, scope: Scope, name: str, cls: Chain) -> Chain:
        """What a union-typed parameter is where `isinstance(name, cls)` holds: the member that
        spells the class with its arguments (`list[Foo]` for `list`), else the class."""
        members = self._union_of(scope, name)
        member = matching(members, cls[-1]) if members is not None else None
        spelled = _annotation_chain(member) if member is not None else None
        return spelled if spelled is not None else cls

    def _union_of(self, scope: Scope, name: str) -> list[Node] | None:
        """The union a parameter's annotation declares, while nothing has rebound or narrowed it."""
        function = _plain_parameter_scope(scope, name)
        return self.unions.get((function.index, name)) if function is not None else None

    def _except_clause(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        for child in reversed(node.named_children):
            if child.type == "as_pattern":
                caught = child.named_children[0] if child.named_child_count else None
                chain = _chain(caught) if caught is not None and caught.type in ("identifier", "attribute") else None
                hint = (ANNOTATION, chain, scope) if chain is not None else None
                self._as_pattern(child, scope, source, stack, hint)
            else:
                stack.append((child, scope.index, source))

    def _named_expression(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        value = node.child_by_field_name("value")
        if value is not None:
            stack.append((value, scope.index, source))
        name = node.child_by_field_name("name")
        target = scope
        while target.kind == COMPREHENSION and target.parent is not None:
            target = target.parent  # `:=` in a comprehension binds in the enclosing function
        if name is not None and name.type == "identifier":
            target.bind(_text(name), (VAR, self._value_hint(value, scope), None))

    def _return(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        value = node.named_children[0] if node.named_child_count else None
        scope.give(self._given(value, scope) if value is not None else NONE_HINT, False)
        if value is not None:
            stack.append((value, scope.index, source))

    def _yield(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        children = node.named_children
        delegated = any(c.type == "from" for c in node.children)
        value = children[0] if children and not delegated else None
        scope.give(self._given(value, scope) if value is not None else None, True)
        stack.extend([(c, scope.index, source) for c in reversed(children)])

    def _given(self, value: Node, scope: Scope) -> Hint | None:
        """What a `return` / `yield` gives: `self` and `cls(...)` are the receiver, whatever subclass."""
        callee = value.child_by_field_name("function") if value.type == "call" else value
        if callee is not None and callee.type == "identifier":
            name = _text(callee)
            if (value.type != "call" or name == "cls") and _own_receiver(scope, name):
                return (SELF_VALUE, (name,), scope)
        return self._value_hint(value, scope)

    def _global(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        is_global = node.type == "global_statement"
        for child in node.named_children:
            if child.type == "identifier":
                scope.declare_outer(_text(child), is_global)

    def _type_alias(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        value = node.child_by_field_name("right")
        if value is not None:
            stack.append((value, scope.index, source))
        left = node.child_by_field_name("left")
        name = _first_identifier(left) if left is not None else None
        if name is None:
            return
        text = _text(name)
        # `type X = ...` declares a type alias whatever its spelling.
        symbol = self._variable_symbol(text, scope, node) if scope.kind in (MODULE, CLASS) else None
        scope.bind(text, (VAR, None, symbol))

    # ---- match statements -------------------------------------------------------------------

    def _class_pattern(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        children = node.named_children
        if children and children[0].type == "dotted_name":
            names = [c for c in children[0].named_children if c.type == "identifier"]
            if names:
                chain = tuple(_text(n) for n in names)
                lines = tuple(_line(n) for n in names)
                self.sites.append((_REFERENCE, source, 0, "", scope.index, (chain, lines)))
            children = children[1:]
        stack.extend([(c, scope.index, source) for c in reversed(children)])

    def _pattern_name(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        # In a case pattern a bare name captures, a dotted one is a value to compare with.
        names = [c for c in node.named_children if c.type == "identifier"]
        if len(names) == 1:
            if _text(names[0]) != "_":
                scope.bind(_text(names[0]), (VAR, None, None))
        elif names:
            chain = tuple(_text(n) for n in names)
            lines = tuple(_line(n) for n in names)
            self.sites.append((_REFERENCE, source, 0, "", scope.index, (chain, lines)))

    def _keyword_pattern(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        stack.extend([(c, scope.index, source) for c in reversed(node.named_children[1:])])

    def _splat_pattern(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        name = _first_identifier(node)
        if name is not None:
            scope.bind(_text(name), (VAR, None, None))

    # ---- imports ----------------------------------------------------------------------------

    def _import_edge(self, source: int, found: ImportName) -> None:
        candidates = ((found.qualified, CONF_EXACT),) if found.qualified else ()
        # Import edges need no resolution; scope 0 (the module) is only a placeholder.
        self.sites.append((_IMPORT, source, found.line, found.written, 0, (candidates, found.alias)))

    def _import(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        for found in import_names(node):
            self._import_edge(source, found)
            if found.alias is not None:
                scope.bind(found.alias, (IMPORT, found.bound, None))

    def _import_from(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        for found in from_import_names(node, self.module_name, self.is_package):
            self._import_edge(source, found)
            if found.alias is not None:
                scope.bind(found.alias, (IMPORT, found.bound, None))
            elif scope.kind == MODULE and found.qualified:
                scope.add_star_import(found.qualified)

    def _import_future(self, node: Node, scope: Scope, source: int, stack: list[Frame]) -> None:
        for found in future_names(node):
            self._import_edge(source, found)


def _held_types(edges: list[RawEdge], source: int, written: Chain, line: int, type_: str) -> None:
    """A container variable's or attribute's element class, as the type (records.SLOT_TYPE) of each
    method giving one back: `_cv_app.get().app`, in another file, is `app` of what `_cv_app` holds."""
    found = giving_methods(type_)
    if found is None:
        return
    element, methods = found
    target = ".".join(n for n in written if n not in (ITEMS, VALUES, HELD)) or element.rpartition(".")[2]
    for method in sorted(methods):
        edges.append(RawEdge(source, "references", target, line, ((element, CONF_EXACT),), SLOT_TYPE + method))


def _decorator_name(decorator: Node) -> str:
    for child in decorator.named_children:
        if child.type in ("identifier", "attribute"):
            chain = _chain(child)
            return chain[-1] if chain else ""
    return ""


def _is_fixture(decorator: Node) -> bool:
    """`@pytest.fixture`, `@pytest.fixture(scope=...)`, `@fixture`."""
    for child in decorator.named_children:
        if child.type == "call":
            child = child.child_by_field_name("function") or child
        if child.type in ("identifier", "attribute"):
            chain = _chain(child)
            return chain is not None and chain[-1] == "fixture"
    return False


def _own_receiver(scope: Scope, name: str) -> bool:
    """Whether `name` is this very function's self/cls parameter (not an enclosing method's)."""
    while scope.kind in PASSING and scope.parent is not None:
        scope = scope.parent
    return any(kind == PARAM and b is not None for kind, _, b in scope.bindings.get(name, ()))


def _rebinding(statement: Node) -> tuple[str, Node] | None:
    """`name = value` as a whole statement (no annotation, no unpacking, no chain): (name, value)."""
    if statement.type != "expression_statement" or statement.named_child_count != 1:
        return None
    assignment = statement.named_children[0]
    if assignment.type != "assignment" or assignment.child_by_field_name("type") is not None:
        return None
    left = assignment.child_by_field_name("left")
    right = assignment.child_by_field_name("right")
    if left is None or right is None or left.type != "identifier" or right.type == "assignment":
        return None
    return _text(left), right


def _isinstance_tests(condition: Node) -> list[tuple[str, Chain]]:
    """The `isinstance(x, Foo)` a condition asserts (itself, or each operand of `and`): (x, Foo)."""
    found: list[tuple[str, Chain]] = []
    work = [condition]
    while work and len(found) < 4:
        node = work.pop()
        if node.type == "parenthesized_expression" and node.named_child_count == 1:
            work.append(node.named_children[0])
        elif node.type == "boolean_operator" and any(c.type == "and" for c in node.children):
            work.extend(
                c for c in (node.child_by_field_name("right"), node.child_by_field_name("left")) if c is not None
            )
        elif node.type == "call":
            function = node.child_by_field_name("function")
            arguments = node.child_by_field_name("arguments")
            args = arguments.named_children if arguments is not None else []
            if function is None or _text(function) != "isinstance" or len(args) != 2:
                continue
            cls = _chain(args[1]) if args[1].type in ("identifier", "attribute") else None
            if args[0].type == "identifier" and cls is not None:
                found.append((_text(args[0]), cls))
    return found


def _unguarded(statement: Node, current: Scope, guarded: str | None) -> tuple[Scope, str | None]:
    """Where a statement goes when it may rebind the name an `if` before narrowed (`guarded`):
    out of the narrowed scope, so the statements before it still see the name narrowed."""
    if guarded is not None and current.parent is not None and assigns([statement], guarded):
        return current.parent, None
    return current, guarded


def _plain_parameter_scope(scope: Scope, name: str) -> Scope | None:
    """The function whose parameter `name` is, bound nowhere else so far (nor narrowed), or None."""
    while scope.kind in PASSING and scope.parent is not None:
        if name in scope.bindings:
            return None
        scope = scope.parent
    bindings = scope.bindings.get(name)
    if scope.kind != FUNCTION or not bindings or len(bindings) != 1:
        return None
    kind, _, receiver = bindings[0]
    return scope if kind == PARAM and receiver is None else None


def _is_local(scope: Scope, name: str) -> bool:
    """Whether `name` is a parameter or local of the function (bound so far), not its self/cls."""
    while scope.kind in PASSING and scope.parent is not None:
        if name in scope.bindings:
            return True
        scope = scope.parent
    bindings = scope.bindings.get(name)
    return bool(bindings) and not any(kind == PARAM and b is not None for kind, _, b in bindings or ())


def _is_self_type(annotation: Node) -> bool:
    node = annotation.named_children[0] if annotation.type == "type" and annotation.named_child_count else annotation
    if node.type == "string":
        value = string_value(node)
        return value is not None and value.strip() in ("Self", "typing.Self", "typing_extensions.Self")
    chain = _chain(node) if node.type in ("identifier", "attribute") else None
    return chain is not None and chain[-1] == "Self"


def _entered(value: Node, item: Node, scope: Scope) -> Hint | None:
    """`with Foo(...) as x`: x is what Foo's `__enter__` returns (`__aenter__` under `async with`)."""
    if value.type != "call":
        return None
    function = value.child_by_field_name("function")
    chain = _call_chain(function) if function is not None else None
    if chain is None:
        return None
    statement = item.parent.parent if item.parent is not None else None
    is_async = statement is not None and any(c.type == "async" for c in statement.children)
    return (ENTER, (*chain, "__aenter__" if is_async else "__enter__"), scope)


def _iterated(node: Node) -> Chain | None:
    """The value a loop iterates as a chain (CALLED last for a call): `self.tags`, `d.items()`;
    `enumerate(xs)` is (ENUMERATED, *xs's chain)."""
    if node.type in ("identifier", "attribute"):
        return _chain(node)
    if node.type != "call":
        return None
    function = node.child_by_field_name("function")
    arguments = node.child_by_field_name("arguments")
    if function is None or arguments is None:
        return None
    if function.type == "identifier" and _text(function) == "enumerate":
        args = arguments.named_children
        inner = _iterated(args[0]) if len(args) == 1 else None
        return (ENUMERATED, *inner) if inner is not None else None
    if arguments.named_child_count:
        return None
    callee = _call_chain(function)
    return (*callee, CALLED) if callee is not None else None


def _first_identifier(node: Node) -> Node | None:
    if node.type == "identifier":
        return node
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "identifier":
            return current
        stack.extend(reversed(current.named_children))
    return None
