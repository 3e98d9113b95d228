"""PHP's declared types: base classes and traits, property and return types, and what a call's receiver is."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from tree_sitter import Node, Query, QueryCursor

from ..languages import grammar
from ..records import CONF_EXACT, TYPE_OF, Symbol
from ._generic import Ctx
from ._tags_imports import add_edge

_CLASSES = "[(class_declaration) (interface_declaration) (trait_declaration) (enum_declaration)] @class"
_SCALARS = frozenset(
    """array bool boolean callable double false float int integer iterable mixed never null object resource
    string true void""".split()
)
_SELF = frozenset({"self", "static", "$this"})
_FUNCTIONS = frozenset({"method_declaration", "function_definition", "anonymous_function", "arrow_function"})
_CALLS = frozenset({"member_call_expression", "nullsafe_member_call_expression"})
_ACCESS = frozenset({"member_access_expression", "nullsafe_member_access_expression"})
# Docblock tags: `@var Foo`, `@return Foo|null`, `@param HandlerInterface[] $handlers`.
_TAG = re.compile(r"@(var|return|param)\s+([^\s*]+)(?:\s+&?(?:\.\.\.)?\$(\w+))?")
# `Foo[]`, `array<Foo>`, `array<int, Foo>`, `list<Foo>`, `iterable<Foo>`: a container's elements.
_ELEMENTS = re.compile(
    r"^(?:([\w\\]+)\[\]|(?:array|list|iterable|non-empty-array|non-empty-list)<(?:[\w\\]+,\s*)?([\w\\]+)>)$"
)
_MAX_DEPTH = 8  # receivers nested in receivers (`$a->b()->c()->d()`), and locals assigned from locals


@dataclass(slots=True)
class _Class:
    qname: str
    index: int  # the class's symbol
    node: Node
    base: str | None = None
    props: dict[str, str] = field(default_factory=dict)  # property -> class it holds
    items: dict[str, str] = field(default_factory=dict)  # property -> class of its elements (`Foo[]`)
    returns: dict[str, str] = field(default_factory=dict)  # method -> class it returns
    declared: dict[str, Node] = field(default_factory=dict)  # property -> its declaration


@functools.cache
def _query() -> Query:
    return Query(grammar("php"), _CLASSES)


class PhpTypes:
    """The file's classes, read once; then the type of a receiver at any call site in the file."""

    def __init__(self, ctx: Ctx, root: Node, bound: dict[str, str], namespace: str) -> None:
        self.ctx = ctx
        self.bound = bound
        self.namespace = namespace
        self.classes: list[_Class] = []
        self._locals: dict[int, dict[str, list[Node | str | None]]] = {}
        by_start = {s.start_byte: i for i, s in enumerate(ctx.result.symbols) if s.kind in ("class", "interface")}
        for _, caps in QueryCursor(_query()).matches(root):
            for node in caps.get("class", ()):
                index = by_start.get(node.start_byte)
                if index is not None:
                    self._read_class(node, index, ctx.result.symbols[index])
        for cls in self.classes:
            self._add_fields(cls)

    # ---- names -----------------------------------------------------------------------------
    def qualify(self, written: str, at: int) -> str | None:
        """The class a type as written names (`?Foo`, `\\A\\B`, `self`), dotted; None for a scalar or
        a union of several classes."""
        names = [n for n in written.lstrip("?").split("|") if n.lower() not in _SCALARS]
        if len(names) != 1:
            return None
        name = names[0].strip().lstrip("?")
        if not name or not (name[0].isalpha() or name[0] in "\\_$") or any(c in name for c in "[]<>{}()"):
            return None  # a container (`Foo[]`, `array<Foo>`) or a shape is no class
        if name in _SELF:
            owner = self.owner(at)
            return owner.qname if owner else None
        if name == "parent":
            owner = self.owner(at)
            return owner.base if owner else None
        if name.startswith("\\"):
            return name.lstrip("\\").replace("\\", ".")
        head, _, rest = name.partition("\\")
        if head in self.bound:
            return ".".join(p for p in (self.bound[head], rest.replace("\\", ".")) if p)
        dotted = name.replace("\\", ".")
        return f"{self.namespace}.{dotted}" if self.namespace else dotted

    def _items(self, written: str, at: int) -> str | None:
        """The class of a container's elements, from a docblock type (`Foo[]`, `array<int, Foo>`)."""
        for part in written.lstrip("?").split("|"):
            m = _ELEMENTS.match(part.strip())
            if m:
                return self.qualify(m.group(1) or m.group(2), at)
        return None

    def owner(self, at: int) -> _Class | None:
        """The innermost class of this file holding the byte `at`."""
        found = None
        for cls in self.classes:
            if cls.node.start_byte <= at < cls.node.end_byte:
                found = cls
        return found

    # ---- classes ---------------------------------------------------------------------------
    def _read_class(self, node: Node, index: int, sym: Symbol) -> None:
        cls = _Class(sym.qualified_name, index, node)
        self.classes.append(cls)
        for clause in node.named_children:
            if clause.type in ("base_clause", "class_interface_clause"):
                for name in clause.named_children:
                    self._inherits(cls, name, primary=clause.type == "base_clause" and cls.base is None)
        body = node.child_by_field_name("body")
        for member in body.named_children if body is not None else ():
            if member.type == "use_declaration":  # traits: their methods are the class's own
                for name in member.named_children:
                    if name.type in ("name", "qualified_name"):
                        self._inherits(cls, name, primary=False)
            elif member.type == "property_declaration":
                self._property(cls, member)
            elif member.type == "method_declaration":
                self._method(cls, member)

    def _add_fields(self, cls: _Class) -> None:
        """Properties of a known class as symbols, each with its type edge (records.TYPE_OF): a
        subclass's `$this->handler->m()` reaches the base's `handler` through the inherits edges."""
        ctx = self.ctx
        for prop, held in cls.props.items():
            decl = cls.declared.get(prop)
            if decl is None:
                continue
            ctx.result.symbols.append(
                Symbol(
                    kind="field",
                    name=prop,
                    qualified_name=f"{cls.qname}.{prop}",
                    signature=ctx.signature(decl.start_byte, decl.end_byte),
                    docstring=None,
                    start_line=decl.start_point.row + 1,
                    end_line=decl.end_point.row + 1,
                    start_byte=decl.start_byte,
                    end_byte=decl.end_byte,
                    parent=cls.index,
                )
            )
            index = len(ctx.result.symbols) - 1
            add_edge(ctx, index, "references", held, decl.start_point.row + 1, ((held, CONF_EXACT),), TYPE_OF)

    def _inherits(self, cls: _Class, name: Node, primary: bool) -> None:
        written = self.ctx.text(name)
        qname = self.qualify(written, name.start_byte)
        if qname is None:
            return
        if primary:
            cls.base = qname
        add_edge(self.ctx, cls.index, "inherits", written, name.start_point.row + 1, ((qname, CONF_EXACT),))

    def _property(self, cls: _Class, decl: Node) -> None:
        type_node = decl.child_by_field_name("type")
        doc = _doc_tags(self.ctx, decl)
        written = self.ctx.text(type_node) if type_node is not None else doc.get("var", "")
        for element in decl.named_children:
            if element.type != "property_element":
                continue
            name = self.ctx.text(element.child_by_field_name("name") or element).lstrip("$")
            cls.declared.setdefault(name, decl)
            self._hold(cls, name, written, doc.get("var", ""), decl.start_byte)

    def _hold(self, cls: _Class, prop: str, written: str, documented: str, at: int) -> None:
        held = self.qualify(written, at) if written else None
        if held and prop not in cls.props:
            cls.props[prop] = held
        items = self._items(documented or written, at)
        if items and prop not in cls.items:
            cls.items[prop] = items

    def _method(self, cls: _Class, decl: Node) -> None:
        ctx = self.ctx
        name = ctx.text(decl.child_by_field_name("name") or decl)
        doc = _doc_tags(ctx, decl)
        returned = decl.child_by_field_name("return_type")
        written = ctx.text(returned) if returned is not None else doc.get("return", "")
        qname = self.qualify(written, decl.start_byte) if written else None
        if qname is not None:
            cls.returns[name] = qname
            method = next(
                (i for i, s in enumerate(ctx.result.symbols) if s.start_byte == decl.start_byte and s.kind == "method"),
                None,
            )
            if method is not None:  # `$x->getFormatter()->format()` from other files: records.TYPE_OF
                add_edge(ctx, method, "references", written, decl.start_point.row + 1, ((qname, CONF_EXACT),), TYPE_OF)
        params = decl.child_by_field_name("parameters")
        for param in params.named_children if params is not None and name == "__construct" else ():
            if param.type == "property_promotion_parameter":  # `private Foo $x` in the constructor
                prop = ctx.text(param.child_by_field_name("name") or param).lstrip("&$.")
                cls.declared.setdefault(prop, param)
                type_node = param.child_by_field_name("type")
                documented = doc.get(f"param ${prop}", "")
                self._hold(cls, prop, ctx.text(type_node) if type_node else documented, documented, param.start_byte)
        body = decl.child_by_field_name("body")
        if body is not None:
            self._assigned_properties(cls, decl, body)

    def _assigned_properties(self, cls: _Class, method: Node, body: Node) -> None:
        """`$this->x = $typed` and `$this->x = new Foo()`: what an untyped property holds."""
        stack = [body]
        while stack:
            node = stack.pop()
            if node.type in _FUNCTIONS and node is not method:
                continue
            if node.type == "assignment_expression":
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and right is not None and left.type == "member_access_expression":
                    obj, prop = left.child_by_field_name("object"), left.child_by_field_name("name")
                    if obj is not None and prop is not None and self.ctx.text(obj) == "$this":
                        name = self.ctx.text(prop)
                        held = self.type_of(right, 0)
                        if held and "." in held and name not in cls.props and not self._is_chain(held):
                            cls.props[name] = held
                        items = self._items_of(right)
                        if items and name not in cls.items:
                            cls.items[name] = items
            stack.extend(node.named_children)

    def _is_chain(self, path: str) -> bool:
        """A path through a method (`A.getB`) rather than a class: not what a property holds."""
        return any(path.startswith(c.qname + ".") for c in self.classes)

    # ---- receivers -------------------------------------------------------------------------
    def receiver(self, call: Node) -> str | None:
        """What a member call's object is: a class, or a method whose return type is its type
        (`App.Mailer.transport`, reached through the method's type edge)."""
        obj = call.child_by_field_name("object")
        return self.type_of(obj, 0) if obj is not None else None

    def scope(self, call: Node) -> str | None:
        """The class of a static call's scope (`parent::`, `Foo::`), when written as a class name."""
        scope = call.child_by_field_name("scope")
        if scope is None or scope.type not in ("name", "qualified_name", "relative_scope"):
            return None
        return self.qualify(self.ctx.text(scope), call.start_byte)

    def type_of(self, expr: Node, depth: int) -> str | None:
        if depth > _MAX_DEPTH:
            return None
        ctx = self.ctx
        kind = expr.type
        if kind == "variable_name" or kind in _ACCESS:
            narrowed = self._narrowed(expr)
            if narrowed is not None:
                return narrowed
        if kind == "parenthesized_expression" and expr.named_children:
            return self.type_of(expr.named_children[0], depth + 1)
        if kind == "object_creation_expression":
            name = next((c for c in expr.named_children if c.type in ("name", "qualified_name")), None)
            return self.qualify(ctx.text(name), expr.start_byte) if name is not None else None
        if kind == "variable_name":
            if ctx.text(expr) == "$this":
                owner = self.owner(expr.start_byte)
                return owner.qname if owner else None
            return self._local(expr, depth)
        if kind in _ACCESS:
            obj, prop = expr.child_by_field_name("object"), expr.child_by_field_name("name")
            if obj is None or prop is None:
                return None
            held = self._class(self.type_of(obj, depth + 1))
            if held is None:
                return None
            prop_name = ctx.text(prop)
            if prop_name in held.props:
                return held.props[prop_name]
            # Not a property this class declares: maybe a base's, found through its field
            # symbol's type edge (none where the base does not type it either).
            inherited = ctx.text(obj) == "$this" and prop_name not in held.declared
            return f"{held.qname}.{prop_name}" if inherited else None
        if kind in _CALLS or kind == "scoped_call_expression":
            name = expr.child_by_field_name("name")
            if name is None:
                return None
            if kind == "scoped_call_expression":
                on = self.scope(expr)
            else:
                obj = expr.child_by_field_name("object")
                on = self.type_of(obj, depth + 1) if obj is not None else None
            if on is None:
                return None
            cls = self._class(on)
            method = ctx.text(name)
            if cls is not None and method in cls.returns:
                return cls.returns[method]
            return f"{on}.{method}"
        return None

    def _class(self, qname: str | None) -> _Class | None:
        return next((c for c in self.classes if c.qname == qname), None) if qname else None

    def _items_of(self, expr: Node) -> str | None:
        """The class of the elements of a container: `$this->handlers` declared `HandlerInterface[]`."""
        if expr.type in _ACCESS:
            obj, prop = expr.child_by_field_name("object"), expr.child_by_field_name("name")
            held = self._class(self.type_of(obj, 1)) if obj is not None and prop is not None else None
            return held.items.get(self.ctx.text(prop)) if held is not None and prop is not None else None
        if expr.type == "variable_name":
            function = _enclosing_function(expr)
            if function is not None:
                documented = _doc_tags(self.ctx, function).get(f"param {self.ctx.text(expr)}", "")
                return self._items(documented, expr.start_byte) if documented else None
        return None

    def _narrowed(self, expr: Node) -> str | None:
        """`if ($this->h instanceof Resettable) { $this->h->reset(); }`: the class the branch checked."""
        written = self.ctx.text(expr)
        inner, at = expr, expr.parent
        while at is not None and at.type not in _FUNCTIONS:
            if at.type == "if_statement" and at.child_by_field_name("body") == inner:
                condition = at.child_by_field_name("condition")
                checked = self._instanceof(condition, written) if condition is not None else None
                if checked is not None:
                    return self.qualify(checked, at.start_byte)
            inner, at = at, at.parent
        return None

    def _instanceof(self, condition: Node, written: str) -> str | None:
        """The class a condition requires `written` to be an instance of (`&&` chains too)."""
        if condition.type == "parenthesized_expression" and condition.named_children:
            return self._instanceof(condition.named_children[0], written)
        if condition.type != "binary_expression":
            return None
        left, right = condition.child_by_field_name("left"), condition.child_by_field_name("right")
        operator = condition.child_by_field_name("operator")
        op = self.ctx.text(operator) if operator is not None else ""
        if left is None or right is None:
            return None
        if op == "instanceof":
            return self.ctx.text(right) if self.ctx.text(left) == written else None
        if op in ("&&", "and"):
            return self._instanceof(left, written) or self._instanceof(right, written)
        return None

    def _local(self, var: Node, depth: int) -> str | None:
        """A local's class: its parameter's declared type, `@var`, or what every assignment to it
        in the function gives (`new Foo()`, a typed call, a loop over a typed container); in a
        closure, what the enclosing function's local of that name is (`use ($x)`, `fn` captures)."""
        function = _enclosing_function(var)
        name = self.ctx.text(var)
        values: list[Node | str | None] = []
        for _ in range(_MAX_DEPTH):
            if function is None:
                return None
            values = self._function_locals(function).get(name, [])
            if values or not self._captures(function, name):
                break
            function = _enclosing_function(function)
        found: set[str] = set()
        for value in values:
            held = value if value is None or isinstance(value, str) else self._value_type(value, depth + 1)
            if held is None:
                return None  # one assignment of an unknown value: the local's type is not known
            found.add(held)
        return found.pop() if len(found) == 1 else None

    def _captures(self, function: Node, name: str) -> bool:
        """Whether a closure sees the enclosing function's variable `name`."""
        if function.type == "arrow_function":
            return True
        uses = next((c for c in function.named_children if c.type == "anonymous_function_use_clause"), None)
        return uses is not None and any(
            self.ctx.text(v) == name
            for c in uses.named_children
            for v in ([c] if c.type == "variable_name" else c.named_children)
        )

    def _value_type(self, value: Node, depth: int) -> str | None:
        if value.type == "foreach_statement":  # `foreach ($this->handlers as $handler)`
            container = value.named_children[0] if value.named_children else None
            return self._items_of(container) if container is not None else None
        return self.type_of(value, depth)

    def _function_locals(self, function: Node) -> dict[str, list[Node | str | None]]:
        """Variable -> what it is assigned in the function (a node to type, or a declared type)."""
        cached = self._locals.get(function.id)
        if cached is not None:
            return cached
        ctx = self.ctx
        out: dict[str, list[Node | str | None]] = {}
        doc = _doc_tags(ctx, function)
        params = function.child_by_field_name("parameters")
        for param in params.named_children if params is not None else ():
            name_node = param.child_by_field_name("name")
            if name_node is None:
                continue
            name = ctx.text(name_node)
            type_node = param.child_by_field_name("type")
            written = ctx.text(type_node) if type_node is not None else doc.get(f"param {name}", "")
            held = self.qualify(written, param.start_byte) if written else None
            out[name] = [held]  # None: a parameter of no known class
        stack: list[Node | None] = [function.child_by_field_name("body")]
        while stack:
            node = stack.pop()
            if node is None or (node.type in _FUNCTIONS and node is not function):
                continue
            if node.type == "assignment_expression":
                left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
                if left is not None and right is not None and left.type == "variable_name":
                    out.setdefault(ctx.text(left), []).append(right)
            elif node.type == "foreach_statement":
                bound = [c for c in node.named_children[1:] if c.type in ("variable_name", "pair")]
                target = (bound[0].named_children[-1] if bound[0].type == "pair" else bound[0]) if bound else None
                if target is not None and target.type == "variable_name":
                    out.setdefault(ctx.text(target), []).append(node)
            elif node.type == "comment":  # `/** @var Foo $x */` before a statement
                for tag, written, var in _TAG.findall(ctx.text(node)):
                    held = self.qualify(written, node.start_byte) if tag == "var" and var else None
                    if held:
                        out[f"${var}"] = [held]
            stack.extend(node.children)
        self._locals[function.id] = out
        return out


def _enclosing_function(node: Node) -> Node | None:
    at = node.parent
    while at is not None and at.type not in _FUNCTIONS:
        at = at.parent
    return at


def _doc_tags(ctx: Ctx, decl: Node) -> dict[str, str]:
    """The type tags of the docblock right before a declaration: "var", "return", "param $x"."""
    prev = decl.prev_named_sibling
    if prev is None or prev.type != "comment":
        return {}
    text = ctx.text(prev)
    if not text.startswith("/**"):
        return {}
    tags: dict[str, str] = {}
    for tag, written, var in _TAG.findall(text):
        key = f"param ${var}" if tag == "param" and var else tag
        tags.setdefault(key, written)
    return tags
