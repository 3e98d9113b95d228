"""JavaScript / TypeScript / TSX parser: classes, functions, TS types, ES and CommonJS imports, calls."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from tree_sitter import Node

from ..project import EMPTY_PROJECT, Project
from ..records import CONF_EXACT, CONF_SCOPED, MEMBER_READ, ParsedFile
from ._generic import CLASS_KINDS, SKIP, CandidateFn, Candidates, Ctx, Frame, Handler, run
from ._js_imports import (
    DEFAULT,
    export_statement,
    export_whole,
    import_statement,
    is_require,
    mark_module,
    module_exports,
    require,
    string_value,
)
from ._js_modules import EXTERNAL, modules
from ._js_types import (
    ELEMENT_CALLBACKS,
    GUARD_SLOT,
    UNBOUND,
    ValueFn,
    alternatives,
    bind_field,
    bind_field_elements,
    bind_local,
    bind_type_param,
    callback_slot,
    callback_types,
    callee,
    class_param,
    element_value,
    elements_of,
    function_type,
    guard_edge,
    local_value,
    members,
    narrow,
    param_edge,
    type_arguments,
    type_edge,
    type_node,
    type_value,
    value_of,
    written_type,
)
from ._js_types import resolve as _resolve

_COMMENTS = frozenset({"comment", "html_comment"})
_HEADERS = frozenset({"import_statement", "expression_statement"})
_FUNCTIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_signature",
        "function_expression",
        "function",
        "generator_function",
        "arrow_function",
    }
)
_DECLARATIONS = frozenset({"function_declaration", "generator_function_declaration", "function_signature"})
_CLASS_LIKE = frozenset({"class", "interface"})
_WRAPPERS = frozenset({"export_statement", "ambient_declaration"})


@dataclass(slots=True)
class _Hint:
    """Name given to an anonymous function/class by the declaration or assignment holding it."""

    name: str
    decl: Node
    qname: str | None = None
    kind: str | None = None
    owner: str | None = None


USES_PROJECT = True


def parse(source: bytes, path: str, module_name: str, language: str, project: Project = EMPTY_PROJECT) -> ParsedFile:
    return run(
        source,
        path,
        module_name,
        language,
        sep=".",
        comment_types=_COMMENTS,
        header_types=_HEADERS,
        handlers=_HANDLERS,
        setup=partial(_setup, project),
    )


def _setup(project: Project, ctx: Ctx, root: Node) -> None:
    ctx.data["hints"] = {}
    ctx.data["project"] = project


# ---- name resolution --------------------------------------------------------------------


def _base_member(ctx: Ctx, owner: str | None, name: str) -> Candidates:
    for base in ctx.bases.get(owner or "", [])[:1]:
        return tuple((f"{q}.{name}", CONF_SCOPED) for q, _ in (base() or ()))
    return ()


def _doc_anchor(ctx: Ctx, span: Node) -> Node:
    for i in range(len(ctx.nodes) - 1, 0, -1):
        if ctx.nodes[i].id == span.id:
            parent = ctx.nodes[i - 1]
            return parent if parent.type in _WRAPPERS else span
    return span


def _sig_start(node: Node) -> int:
    for child in node.children:
        if child.type != "decorator":
            return child.start_byte
    return node.start_byte


# ---- definitions ------------------------------------------------------------------------


def _function(ctx: Ctx, node: Node) -> bool | None:
    hint: _Hint | None = ctx.data["hints"].pop(node.id, None)
    frame = ctx.frame
    lone = node.child_by_field_name("parameter")  # `r => r.dispose()`: no formal_parameters
    given = _given(ctx, node, 0)
    if lone is not None and lone.type == "identifier" and given is not None:
        bind_local(ctx, ctx.text(lone), given)
    name_node = node.child_by_field_name("name")
    if hint is not None:
        name, span = hint.name, hint.decl
    elif name_node is not None and node.type in _DECLARATIONS:
        name, span = ctx.text(name_node), node
    else:
        return None  # an anonymous callback: its calls belong to the enclosing symbol
    kind = hint.kind if hint and hint.kind else ("method" if frame.kind in _CLASS_LIKE else "function")
    qname = hint.qname if hint and hint.qname else ctx.join(frame.qname, name)
    owner: str | None
    if hint and hint.owner:
        owner = hint.owner
    elif kind == "method" or node.type == "arrow_function":
        owner = frame.owner  # arrows keep `this`
    else:
        owner = None
    body = node.child_by_field_name("body")
    # Two callbacks' same-named locals: one name for two functions (overloads are one function).
    signatures: set[str] = ctx.data.setdefault("signatures", set())
    if node.type == "function_signature":
        signatures.add(qname)
    elif qname in ctx.defined and qname not in signatures:
        ctx.data.setdefault("twice", set()).add(qname)
    idx = ctx.add_symbol(
        kind,
        name,
        qname,
        node,
        span=span,
        sig_start=_sig_start(span),
        sig_end=body.start_byte if body is not None else None,
        doc_anchor=_doc_anchor(ctx, span),
    )
    ctx.enter(Frame(idx, qname, "function", owner))
    _returns(ctx, node, idx)
    callback_types(ctx, node, idx)
    return None


def _returns(ctx: Ctx, node: Node, idx: int) -> None:
    """What calls of the function evaluate to (`f().m()` is `R.m`): its declared return type, else
    what it returns: an arrow's expression body, or the first `return` that tells (_return)."""
    annotation = node.child_by_field_name("return_type")
    if annotation is not None:
        guard_edge(ctx, idx, annotation)
        param_edge(ctx, idx, annotation)
        found = written_type(ctx, annotation)
        if found is not None and found.type == "object_type":
            _returned_members(ctx, found, idx)
        elif found is not None:
            _declared_type(ctx, idx, annotation, found, type_value(ctx, found, ctx.scope_chain()))
        return
    body = node.child_by_field_name("body")
    if body is None:
        return
    if body.type != "statement_block":
        written = callee(body)
        if written is not None:
            type_edge(ctx, idx, ctx.flat(written), written, value_of(ctx, body, ctx.scope_chain()))
        return
    ctx.data.setdefault("returns", {})[idx] = node.id


def _declared_type(ctx: Ctx, idx: int, annotation: Node | None, written: Node, held: ValueFn | None) -> None:
    """The type edge of a symbol declared `written` (holding `held`); of a union, one per
    alternative, tried in order as a type alias's are."""
    several = alternatives(ctx, annotation)
    if not several:
        type_edge(ctx, idx, ctx.flat(written), written, held)
    chain = ctx.scope_chain()
    for one in several:
        found = type_node(ctx, one)
        if found is not None:
            type_edge(ctx, idx, ctx.flat(found), found, type_value(ctx, found, chain))


def _returned_members(ctx: Ctx, object_type: Node, idx: int) -> None:
    """`params(): { status: Status; ctx: Context }`: the typed members of what the function returns,
    as attributes of the function (its type edge is that of a class's field), so that
    `this.params().status.m()` and a `status` destructured from it reach `Status.m`."""
    chain = ctx.scope_chain()
    for member in object_type.named_children:
        name_node = member.child_by_field_name("name")
        annotation = member.child_by_field_name("type")
        if member.type != "property_signature" or name_node is None or name_node.type != "property_identifier":
            continue
        written = written_type(ctx, annotation)
        held = type_value(ctx, annotation, chain)
        if written is not None and (held is not None or class_param(ctx, annotation) is not None):
            _attribute(ctx, member, ctx.text(name_node), written, held, annotation, idx)


def _return(ctx: Ctx, node: Node) -> bool | None:
    pending: dict[int, int] = ctx.data.get("returns", {})
    sym = ctx.frame.sym
    if sym not in pending or not node.named_child_count:
        return None
    enclosing = next(
        (n for n in reversed(ctx.nodes[:-1]) if n.type in _FUNCTIONS or n.type == "method_definition"), None
    )
    if enclosing is None or enclosing.id != pending[sym]:
        return None  # a callback's return, not the function's
    expr = node.named_child(0)
    written = callee(expr)
    value = value_of(ctx, expr, ctx.scope_chain())
    if written is not None and value is not None:
        del pending[sym]
        type_edge(ctx, sym, ctx.flat(written), written, value)
    return None


def _class(ctx: Ctx, node: Node) -> bool | None:
    hint: _Hint | None = ctx.data["hints"].pop(node.id, None)
    name_node = node.child_by_field_name("name")
    if name_node is not None:
        ctx.skip.add(name_node.id)
    if hint is not None:
        name, span = hint.name, hint.decl
    elif name_node is not None:
        name, span = ctx.text(name_node), node
    else:
        return None
    qname = ctx.join(ctx.frame.qname, name)
    body = node.child_by_field_name("body")
    idx = ctx.add_symbol(
        "class",
        name,
        qname,
        node,
        span=span,
        sig_start=_sig_start(span),
        sig_end=body.start_byte if body is not None else None,
        doc_anchor=_doc_anchor(ctx, span),
    )
    ctx.enter(Frame(idx, qname, "class", qname))
    return None


def _typedecl(kind: str, frame_kind: str | None) -> Handler:
    def handle(ctx: Ctx, node: Node) -> bool | None:
        name_node = node.child_by_field_name("name")
        if name_node is None:
            return None
        ctx.skip.add(name_node.id)
        name = ctx.text(name_node).strip("'\"")
        qname = ctx.join(ctx.frame.qname, name)
        body = node.child_by_field_name("body")
        sig_end = body.start_byte if body is not None and kind != "type" else None
        idx = ctx.add_symbol(kind, name, qname, node, sig_end=sig_end, doc_anchor=_doc_anchor(ctx, node))
        value = node.child_by_field_name("value")
        if kind == "type":  # `type Any = Base<any>`: members of an Any are Base's
            # `A | B`: a member of the union is the first of theirs that has it (the resolver's
            # bases are tried in order), as in `result.error` of a success | failure result
            for one in _alternatives(value):
                found = type_node(ctx, one)
                if found is not None:
                    type_edge(ctx, idx, ctx.flat(found), found, type_value(ctx, found, ctx.scope_chain()))
        # `type A = { m(): R }`: its members are an interface's
        scope = "interface" if kind == "type" and value is not None and value.type == "object_type" else frame_kind
        if scope is not None:
            ctx.enter(Frame(idx, qname, scope, qname if scope in _CLASS_LIKE else None))
        return None

    return handle


def _in_body(ctx: Ctx) -> bool:
    """Whether the member being handled is one of a class's, an interface's or an object type
    alias's (`type A = { make_(): R }`), not of an object type nested in one."""
    parent, grand = ctx.parent, ctx.ancestor(2)
    if parent is None or ctx.frame.kind not in _CLASS_LIKE:
        return False
    return parent.type in ("class_body", "interface_body") or (
        parent.type == "object_type" and grand is not None and grand.type == "type_alias_declaration"
    )


def _alternatives(node: Node | None) -> list[Node | None]:
    """The members of a union type (`A | B | null` nests as `(A | B) | null`), else the type itself."""
    if node is None or node.type != "union_type":
        return [node]
    return [one for child in node.named_children for one in _alternatives(child)]


def _method(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    name_node = node.child_by_field_name("name")
    hint: _Hint | None = ctx.data["hints"].pop(node.id, None)
    if hint is not None:  # a method of an exported or prototype object (_members)
        name, qname, kind, owner = hint.name, hint.qname or hint.name, hint.kind or "function", hint.owner
    elif frame.kind not in _CLASS_LIKE or name_node is None:
        return None  # other object literals' methods are not indexed
    elif node.type == "method_signature" and not _in_body(ctx):
        return None  # a method of an object type nested in a member's type
    else:
        name = ctx.text(name_node)
        qname, kind, owner = ctx.join(frame.qname, name), "method", frame.owner
    body = node.child_by_field_name("body")
    idx = ctx.add_symbol(
        kind, name, qname, node, sig_start=_sig_start(node), sig_end=body.start_byte if body is not None else None
    )
    ctx.enter(Frame(idx, qname, "function", owner))
    _returns(ctx, node, idx)
    callback_types(ctx, node, idx)
    return None


def _field(ctx: Ctx, node: Node) -> bool | None:
    value = node.child_by_field_name("value")
    name_node = node.child_by_field_name("name") or node.child_by_field_name("property")
    if value is not None and name_node is not None and value.type in _FUNCTIONS:
        ctx.data["hints"][value.id] = _Hint(ctx.text(name_node), node)
    elif name_node is not None and name_node.type == "property_identifier" and _in_body(ctx):
        chain = ctx.scope_chain()
        name = ctx.text(name_node)
        annotation = node.child_by_field_name("type")
        typed = type_value(ctx, annotation, chain)
        held = typed or value_of(ctx, value, chain)
        bind_field(ctx, ctx.frame.owner, name, held)
        bind_field_elements(ctx, ctx.frame.owner, name, element_value(ctx, annotation, chain))
        typed_here = annotation is not None and (typed is not None or class_param(ctx, annotation) is not None)
        written = written_type(ctx, annotation) if typed_here else callee(value)
        if written is not None and (typed_here or (held is not None and value is not None and value.type in _REFS)):
            _attribute(ctx, node, name, written, held, annotation)
    return None


_REFS = frozenset({"identifier", "member_expression", "new_expression"})


def _attribute(
    ctx: Ctx,
    node: Node,
    name: str,
    written: Node,
    held: ValueFn | None,
    annotation: Node | None,
    parent: int | None = None,
) -> None:
    """A typed field (`atom_: IAtom`, `static create = createEnum`) as a symbol with a type edge, so
    that other files reach `x.atom_.m()`. Not a name the class's code sees bare: kept out of lookups.
    `parent`: the symbol it is a member of, if not the current scope's (a function's returned object)."""
    within = ctx.frame.qname if parent is None else ctx.result.symbols[parent].qualified_name
    qname = ctx.join(within, name)
    known = qname in ctx.defined
    idx = ctx.add_symbol("attribute", name, qname, node, doc_anchor=_doc_anchor(ctx, node), parent=parent)
    if not known:
        del ctx.defined[qname]
    param_edge(ctx, idx, annotation)  # before the constraint's type edge: a type argument is surer
    _declared_type(ctx, idx, annotation, written, held)


def _params(ctx: Ctx, node: Node) -> bool | None:
    """Typed parameters type their uses (`x: Foo` then `x.m()`); `private x: Foo` is a field too."""
    chain = ctx.scope_chain()
    position = 0
    for param in node.named_children:
        if param.type not in ("required_parameter", "optional_parameter"):
            continue
        pattern = param.child_by_field_name("pattern")
        if pattern is not None and pattern.type == "this":
            # `function make_(this: Annotation)`: what `this` is in a function of no class
            declared = type_value(ctx, param.child_by_field_name("type"), chain)
            if declared is not None and not ctx.frame.owner:
                ctx.frame.data["this"] = declared
            continue
        position += 1
        if pattern is None or pattern.type != "identifier":
            continue
        name = ctx.text(pattern)
        annotation = param.child_by_field_name("type")
        typed = type_value(ctx, annotation, chain)
        if annotation is None and ctx.parent is not None:
            typed = _given(ctx, ctx.parent, position - 1)
        bind_local(ctx, name, typed, element=element_value(ctx, annotation, chain))
        if any(c.type in ("accessibility_modifier", "readonly") for c in param.children):
            bind_field(ctx, ctx.frame.owner, name, typed)
            bind_field_elements(ctx, ctx.frame.owner, name, element_value(ctx, annotation, chain))
    return None


def _variables(ctx: Ctx, node: Node) -> bool | None:
    parent = ctx.parent
    grand = ctx.ancestor(2)
    top = parent is not None and (
        parent.type in ("program", "export_statement")
        or (parent.type == "statement_block" and grand is not None and grand.type in ("internal_module", "module"))
    )
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    keyword = node.child(0).type if node.child_count else ""
    for decl in declarators:
        name_node = decl.child_by_field_name("name")
        if name_node is not None and name_node.type == "object_pattern":
            _destructured(ctx, name_node, decl)
        if name_node is None or name_node.type != "identifier":
            continue  # destructuring patterns bind no single definition
        name = ctx.text(name_node)
        value = decl.child_by_field_name("value")
        span = node if len(declarators) == 1 else decl
        if value is not None and (value.type in _FUNCTIONS or value.type == "class"):
            ctx.data["hints"][value.id] = _Hint(name, span)
            continue
        if is_require(ctx, value):
            continue
        if top and value is not None and value.type == "object":
            ctx.data.setdefault("objects", {})[name] = value  # its members, should the module export it
        chain = ctx.scope_chain()
        annotation = decl.child_by_field_name("type")
        held = type_value(ctx, annotation, chain) if annotation is not None else value_of(ctx, value, chain)
        bind_local(ctx, name, held, annotation is None and _is_call(value), element_value(ctx, annotation, chain))
        if top:
            head = ctx.signature(decl.start_byte, value.start_byte if value is not None else decl.end_byte)
            idx = ctx.add_symbol(
                "constant" if keyword == "const" else "variable",
                name,
                ctx.join(ctx.frame.qname, name),
                decl,
                span=span,
                doc_anchor=_doc_anchor(ctx, span),
                signature=f"{keyword} {head.rstrip(' =')}",
            )
            written = written_type(ctx, annotation) if annotation is not None else callee(value)
            if written is not None:
                _declared_type(ctx, idx, annotation, written, held)
            # `export const isMap = make() as (x: any) => x is Map`: a type guard
            cast = value.child_by_field_name("type") if value is not None and value.type == "as_expression" else None
            if cast is None and value is not None and value.type == "as_expression" and value.named_child_count > 1:
                cast = value.named_child(1)
            taken = function_type(annotation or cast)
            if taken is not None:
                guard_edge(ctx, idx, taken.child_by_field_name("return_type"))
    return None


def _destructured(ctx: Ctx, pattern: Node, decl: Node) -> None:
    """`const { status, ctx: c } = this.params()`: each local holds that member of the value (of
    what the call returns: a member of its declared return type, _returned_members)."""
    value = decl.child_by_field_name("value")
    annotation = decl.child_by_field_name("type")
    if is_require(ctx, value):
        return
    chain = ctx.scope_chain()
    held = type_value(ctx, annotation, chain) if annotation is not None else value_of(ctx, value, chain)
    if held is None:
        return
    for part in pattern.named_children:
        if part.type == "object_assignment_pattern":  # `{ d = 1 }`
            part = part.child_by_field_name("left") or part
        key: Node | None
        local: Node | None
        if part.type == "shorthand_property_identifier_pattern":
            key, local = part, part
        elif part.type == "pair_pattern":
            key, local = part.child_by_field_name("key"), part.child_by_field_name("value")
        else:
            continue
        if key is not None and local is not None and key.type in ("property_identifier", part.type):
            if local.type in ("identifier", "shorthand_property_identifier_pattern"):
                bind_local(ctx, ctx.text(local), members(held, ctx.text(key)))


def _is_call(node: Node | None) -> bool:
    while node is not None and node.type in ("await_expression", "parenthesized_expression"):
        node = node.named_child(0)
    return node is not None and node.type == "call_expression"


def _assignment(ctx: Ctx, node: Node) -> bool | None:
    """`X.prototype.m = function` and `exports.f = function` define methods / functions."""
    right = node.child_by_field_name("right")
    left = node.child_by_field_name("left")
    if (
        right is not None
        and left is not None
        and left.type == "member_expression"
        and (obj := left.child_by_field_name("object")) is not None
        and obj.type == "this"
        and (prop := left.child_by_field_name("property")) is not None
        and right.type not in _FUNCTIONS
    ):
        bind_field(ctx, ctx.frame.owner, ctx.text(prop), value_of(ctx, right, ctx.scope_chain()))
        return None
    if ctx.frame.kind != "module" or right is None:
        return None
    parts = ctx.flat(left).split(".")
    decl = ctx.parent if ctx.parent is not None and ctx.parent.type == "expression_statement" else node
    root = ctx.frame.qname
    if len(parts) == 2 and parts[1] == "prototype" and right.type == "object":
        owner = ctx.join(root, parts[0])  # `X.prototype = { m () {}, n: function () {} }`
        _members(ctx, owner, right, method_of=owner)
    if parts[0] in ("module", "exports"):
        mark_module(ctx)
        if right.type not in _FUNCTIONS:
            module_exports(ctx, parts, right)
        if parts == ["module", "exports"]:
            _exported_value(ctx, right, decl)
    if right.type not in _FUNCTIONS:
        return None
    if len(parts) == 3 and parts[1] == "prototype":
        owner = ctx.join(root, parts[0])
        ctx.data["hints"][right.id] = _Hint(parts[2], decl, f"{owner}.{parts[2]}", "method", owner)
    elif (len(parts) == 2 and parts[0] == "exports") or (len(parts) == 3 and parts[:2] == ["module", "exports"]):
        ctx.data["hints"][right.id] = _Hint(parts[-1], decl, ctx.join(root, parts[-1]), "function")
    return None


def _exported_value(ctx: Ctx, right: Node, decl: Node) -> None:
    """What `module.exports = ...` defines: a named function or class is the module's default
    (`module.exports = function override () {}`); the members of an object it exports, written
    in place or as a constant of this file (`const codes = { E: createError() }`), are attributes
    that `const { E } = require(...)` reaches."""
    root = ctx.frame.qname
    named = right.child_by_field_name("name") if right.type in _FUNCTIONS or right.type == "class" else None
    if named is not None:
        name = ctx.text(named)
        if right.type in _FUNCTIONS:
            ctx.data["hints"][right.id] = _Hint(name, decl, ctx.join(root, name), "function")
        export_whole(ctx, right, name)
    elif right.type == "object":
        _members(ctx, root, right)
    elif right.type == "identifier":
        held: Node | None = ctx.data.get("objects", {}).get(ctx.text(right))
        owner = ctx.join(root, ctx.text(right))
        if held is not None and owner in ctx.defined:
            _members(ctx, owner, held, ctx.defined[owner])


def _export(ctx: Ctx, node: Node) -> bool | None:
    """An export; `export default { k: v }` defines its members like `module.exports = { k: v }`."""
    value = node.child_by_field_name("value")
    if value is not None and value.type == "object" and any(c.type == "default" for c in node.children):
        _members(ctx, ctx.frame.qname, value)
        _held_values(ctx, value)
    return export_statement(ctx, node)


def _held_values(ctx: Ctx, obj: Node) -> None:
    """`export default { isFunction }` of `const isFunction = typeOfTest('function')`: what
    `utils.isFunction` names is the object's member (as tsserver answers), not the constant, whose
    value is the function called: an attribute `default.isFunction` there. A function member
    stays the function itself."""
    root = ctx.frame.qname
    for prop in obj.named_children:
        written = prop if prop.type == "shorthand_property_identifier" else prop.child_by_field_name("value")
        key = prop if prop.type == "shorthand_property_identifier" else prop.child_by_field_name("key")
        if written is None or key is None or written.type not in ("identifier", "shorthand_property_identifier"):
            continue
        held = ctx.defined.get(ctx.join(root, ctx.text(written)))
        if held is not None and ctx.result.symbols[held].kind in ("constant", "variable"):
            name = ctx.text(key).strip("'\"")
            qname = ctx.join(ctx.join(root, DEFAULT), name)
            ctx.add_symbol("attribute", name, qname, prop, doc_anchor=prop)
            del ctx.defined[qname]


def _members(ctx: Ctx, owner: str, obj: Node, parent: int | None = None, method_of: str | None = None) -> None:
    """An exported object's `key: value` members as attributes under `owner` (not names the
    module sees bare); a function value not walked yet is a function of that name (a method of
    `method_of`, for `X.prototype = { ... }`), a name value an export already (module_exports)."""
    kind = "method" if method_of else "function"
    for pair in obj.named_children:
        if pair.type == "method_definition" and parent is None:
            key = pair.child_by_field_name("name")
            if key is not None and key.type == "property_identifier":
                name = ctx.text(key)
                ctx.data["hints"][pair.id] = _Hint(name, pair, ctx.join(owner, name), kind, method_of)
            continue
        key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
        if pair.type != "pair" or key is None or value is None or key.type not in ("property_identifier", "string"):
            continue
        name = ctx.text(key).strip("'\"")
        qname = ctx.join(owner, name)
        if value.type in _FUNCTIONS and parent is None:
            ctx.data["hints"][value.id] = _Hint(name, pair, qname, kind, method_of)
        elif value.type != "identifier" and qname not in ctx.defined and method_of is None:
            ctx.add_symbol("attribute", name, qname, pair, doc_anchor=pair, parent=parent)
            del ctx.defined[qname]


def _for_of(ctx: Ctx, node: Node) -> bool | None:
    """`for (const x of list)`: x is an element of list."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    operator = node.child_by_field_name("operator")
    if left is not None and left.type == "identifier" and operator is not None and operator.type == "of":
        bind_local(ctx, ctx.text(left), elements_of(ctx, right, ctx.scope_chain()))
    return None


def _guarded(ctx: Ctx, node: Node) -> bool | None:
    """`if (isMap(x)) x.set()`, `x instanceof Foo && x.m()`, `isMap(x) ? x.get() : ..`: within the
    part the test guards, x is what the guard's predicate (`x is Map`) or the class says, before
    what it held (a guard that is no predicate names no members)."""
    if node.type == "binary_expression":
        if _operator(node) != "&&":
            return None
        test, scope = node.child_by_field_name("left"), node.child_by_field_name("right")
    else:
        test, scope = node.child_by_field_name("condition"), node.child_by_field_name("consequence")
    if test is None or scope is None:
        return None
    chain = ctx.scope_chain()
    for part in _conjuncts(test):
        subject, guard = None, None
        if part.type == "call_expression":
            args = part.child_by_field_name("arguments")
            first = next((a for a in args.named_children if a.type not in _COMMENTS), None) if args else None
            fn = value_of(ctx, part.child_by_field_name("function"), chain)
            subject, guard = first, members(fn, GUARD_SLOT) if fn is not None else None
        elif part.type == "binary_expression" and _operator(part) == "instanceof":
            subject, guard = part.child_by_field_name("left"), value_of(ctx, part.child_by_field_name("right"), chain)
        if subject is None or subject.type != "identifier" or guard is None:
            continue
        before = value_of(ctx, subject, chain)
        narrow(ctx, ctx.text(subject), scope, _either(guard, before))
    return None


def _conjuncts(node: Node) -> list[Node]:
    """The tests of `a && b && c` (parentheses dropped), else the test itself."""
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_child(0) or node
    if node.type == "binary_expression" and _operator(node) == "&&":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        return [*(_conjuncts(left) if left else []), *(_conjuncts(right) if right else [])]
    return [node]


def _operator(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return op.type if op is not None else ""


def _either(first: ValueFn, then: ValueFn | None) -> ValueFn:
    return (lambda: (*first(), *then())) if then is not None else first


def _heritage(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    if frame.kind not in _CLASS_LIKE:
        return None
    types: list[tuple[Node, bool]] = []  # (type, is the superclass)
    if node.type == "extends_type_clause":
        types = [(t, False) for t in node.named_children]
    for child in node.named_children if node.type == "class_heritage" else ():
        if child.type == "extends_clause":
            types.extend((t, True) for t in child.children_by_field_name("value") or child.named_children[:1])
            type_arguments(ctx, child.child_by_field_name("type_arguments"), ctx.scope_chain())
        elif child.type == "implements_clause":
            types.extend((t, False) for t in child.named_children)
        else:
            types.append((child, True))  # plain JS: `extends <expression>`
    chain = ctx.scope_chain(ctx.frames[-2].qname if len(ctx.frames) > 1 else None)
    for t, is_base in types:
        if t.type == "generic_type":
            t = t.child_by_field_name("name") or t
        if t.type not in ("identifier", "type_identifier", "member_expression", "nested_type_identifier"):
            continue
        ctx.skip.add(t.id)
        target = ctx.flat(t)
        fn = partial(_resolve, ctx, target, chain, CLASS_KINDS)
        ctx.edge("inherits", target, t, fn)
        if is_base:
            ctx.bases.setdefault(frame.qname, []).append(fn)
    return None


# ---- calls and references ---------------------------------------------------------------


def _callbacks(ctx: Ctx, node: Node, callee: CandidateFn, member: str | None = None) -> None:
    """The functions a call passes (`autorun(r => r.dispose())`, `new Observable(s => s.next(1))`):
    their untyped parameters hold what the callee's declaration says it gives them (callback_types);
    `member`: the callee's member that takes them (a class's constructor)."""
    args = node.child_by_field_name("arguments")
    if args is None:
        return
    base: ValueFn = lambda: tuple(callee() or ())  # noqa: E731
    held = members(base, member) if member else base
    pending: dict[int, tuple[ValueFn, int]] = ctx.data.setdefault("callbacks", {})
    for i, arg in enumerate(a for a in args.named_children if a.type not in _COMMENTS):
        if arg.type == "spread_element":
            return  # positions past a spread are not the parameters'
        if arg.type in ("arrow_function", "function_expression", "function"):
            pending[arg.id] = (held, i)


def _each(ctx: Ctx, node: Node, element: ValueFn) -> None:
    """`list.forEach(x => x.m())` of an array or set of known elements: the callback's first
    parameter is one of them."""
    args = node.child_by_field_name("arguments")
    first = next((a for a in args.named_children if a.type not in _COMMENTS), None) if args is not None else None
    if first is not None and first.type in ("arrow_function", "function_expression", "function"):
        ctx.data.setdefault("elements", {})[first.id] = element


def _given(ctx: Ctx, fn: Node, position: int) -> ValueFn | None:
    """What a function passed to a call (_callbacks, _each) is given as its parameter at `position`."""
    element: ValueFn | None = ctx.data.get("elements", {}).get(fn.id)
    if element is not None:
        return element if position == 0 else None
    found: tuple[ValueFn, int] | None = ctx.data.get("callbacks", {}).get(fn.id)
    return members(found[0], callback_slot(found[1], position)) if found is not None else None


def _call(ctx: Ctx, node: Node) -> bool | None:
    fn = node.child_by_field_name("function")
    if fn is None:
        return None
    kind = fn.type
    if kind == "identifier":
        name = ctx.text(fn)
        if name == "require":
            args = node.child_by_field_name("arguments")
            spec = string_value(ctx, args.named_child(0)) if args is not None and args.named_child_count else None
            if spec is not None:
                require(ctx, node, spec)
                return SKIP
        chain = ctx.scope_chain()
        named = _named(ctx, name, chain)
        ctx.edge("calls", name, node, named)
        _callbacks(ctx, node, named)
    elif kind == "import":
        args = node.child_by_field_name("arguments")
        spec = string_value(ctx, args.named_child(0)) if args is not None and args.named_child_count else None
        if spec is not None:
            ctx.edge("imports", spec, node, tuple((m, CONF_EXACT) for m in modules(ctx, spec)))
    elif kind == "member_expression":
        obj = fn.child_by_field_name("object")
        prop = fn.child_by_field_name("property")
        if obj is None or prop is None:
            return None
        name = ctx.text(prop)
        owner = ctx.frame.owner
        target = ctx.flat(fn)
        if obj.type == "this" and owner:
            method = ctx.member_later(owner, name)
            ctx.edge("calls", target, prop, method)
            _callbacks(ctx, node, method)
        elif obj.type == "super":
            ctx.edge("calls", target, prop, lambda: _base_member(ctx, owner, name))
        else:
            chain = ctx.scope_chain()
            dotted = obj.type == "identifier" or (obj.type == "member_expression" and _simple(obj))
            written = "".join(target.split()).replace("?.", ".")  # `z\n  ?.number()` is z.number
            if dotted and local_value(ctx, written.partition(".")[0], chain) is None:
                # a name this file defines or imports: as written (`ns.f`, `Cls.static`); in a
                # module, any other is a global's (`Number.isFinite`), never a same-named method
                named = _named(ctx, written, chain)
                ctx.edge("calls", target, prop, named)
                _callbacks(ctx, node, named)
                return None
            base = value_of(ctx, obj, chain)
            ctx.edge("calls", target, prop, members(base, name) if base is not None else ())
            element = elements_of(ctx, obj, chain) if name in ELEMENT_CALLBACKS else None
            if element is not None:
                _each(ctx, node, element)
            elif base is not None:
                _callbacks(ctx, node, members(base, name))
    elif kind == "super":
        owner = ctx.frame.owner
        ctx.edge("calls", "super", node, lambda: _base_member(ctx, owner, "constructor"))
    return None


def _named(ctx: Ctx, target: str, chain: list[str]) -> CandidateFn:
    """A name as written: what this file defines or imports under it. In a module, a name (or a
    dotted name's head) that is neither is a parameter, a local or a global, never another file's
    same-named function or method."""

    def candidates() -> Candidates:
        found = _resolve(ctx, target, chain)
        if found or not ctx.data.get("module"):
            return found
        return ((UNBOUND + target, CONF_SCOPED),)

    return candidates


def _simple(node: Node) -> bool:
    """A plain dotted name (a.b.c), as opposed to calls, indexing or `this` chains."""
    cur: Node | None = node
    for _ in range(32):
        if cur is None:
            return False
        if cur.type == "identifier":
            return True
        if cur.type != "member_expression":
            return False
        cur = cur.child_by_field_name("object")
    return False


def _new(ctx: Ctx, node: Node) -> bool | None:
    ctor = node.child_by_field_name("constructor")
    if ctor is not None and (ctor.type == "identifier" or (ctor.type == "member_expression" and _simple(ctor))):
        target = ctx.flat(ctor)
        chain = ctx.scope_chain()
        named = _named(ctx, target, chain)
        ctx.edge("calls", target, node, named)
        _callbacks(ctx, node, named, "constructor")
    return None


def _jsx(ctx: Ctx, node: Node) -> bool | None:
    name = node.child_by_field_name("name")
    if name is None or name.type not in ("identifier", "member_expression", "nested_identifier"):
        return None
    target = ctx.flat(name)
    if target[:1].isupper():  # lower-case tags are DOM elements, not components
        chain = ctx.scope_chain()
        ctx.edge("calls", target, node, _named(ctx, target, chain))
    return None


# Where an identifier declares a name rather than uses one: (parent type, field; "" for any child).
_DECLARING: dict[str, str] = {
    "formal_parameters": "",
    "rest_pattern": "",
    "array_pattern": "",
    "object_pattern": "",
    "assignment_pattern": "left",
    "pair_pattern": "value",
    "variable_declarator": "name",
    "arrow_function": "parameter",
    "catch_clause": "parameter",
    "for_in_statement": "left",
    "required_parameter": "pattern",
    "optional_parameter": "pattern",
    "function_declaration": "name",
    "generator_function_declaration": "name",
    "function_signature": "name",
    "enum_declaration": "name",
    "internal_module": "name",
    "module": "name",
    "abstract_class_declaration": "name",
    "function_expression": "name",
    "function": "name",
    "generator_function": "name",
    "class_declaration": "name",
    "class": "name",
}
# Those of _DECLARING that name a definition (visited inside its own scope), never a local.
_DEFINITIONS = frozenset(
    {
        "function_declaration",
        "generator_function_declaration",
        "function_signature",
        "function_expression",
        "function",
        "generator_function",
        "class_declaration",
        "abstract_class_declaration",
        "class",
        "enum_declaration",
        "internal_module",
        "module",
    }
)
# Where an identifier already is a call's edge.
_CALLED = {"call_expression": "function", "new_expression": "constructor"}


def _value_ref(ctx: Ctx, node: Node) -> bool | None:
    """A name used as a value (`module.exports = f`, `run(f)`, `{ f }`, `f.call(x)`): a reference to
    what this file defines or imports under it; a local or parameter shadowing it is not."""
    parent = ctx.parent
    if parent is None:
        return None
    name = ctx.text(node)
    field = _DECLARING.get(parent.type)
    if field is not None and (not field or _is_field(parent, field, node)):
        value = parent.child_by_field_name("value") if parent.type == "variable_declarator" else None
        holder = ctx.ancestor(3) if parent.type == "pair_pattern" else None
        defines = (
            parent.type in _DEFINITIONS
            or (value is not None and value.id in ctx.data["hints"])
            or is_require(ctx, value)  # `const X = require(...)`: the import's name
            or (  # `const { a: X } = require(...)`
                holder is not None
                and holder.type == "variable_declarator"
                and is_require(ctx, holder.child_by_field_name("value"))
            )
        )
        if not defines and ctx.join(ctx.frame.qname, name) not in ctx.defined:
            ctx.data.setdefault("shadow", set()).add((ctx.frame.qname, name))
        return None
    called = _CALLED.get(parent.type)
    if called is not None and _is_field(parent, called, node):
        return None
    imp = ctx.imports.get(name)
    if imp is not None and imp[0] == "ns":
        if name not in ctx.data.get("required", ()):
            return None  # the module itself: its members are what is referenced
    chain = ctx.scope_chain()
    shadow: set[tuple[str, str]] = ctx.data.get("shadow", set())
    if any((scope, name) in shadow for scope in chain):
        return None
    sym = ctx.frame.sym

    def candidates() -> Candidates | None:
        local = ctx.lookup(name, chain)
        if local is None and imp is not None and imp[0] == "ns":
            # `const v = require('./v')` holds what v exports as a whole, if it does (`module.exports = f`)
            return tuple((f"{t}.{DEFAULT}", CONF_SCOPED) for t in imp[1] if not t.startswith(EXTERNAL)) or None
        if (local is None and imp is None) or local in ctx.data.get("twice", ()):
            return None  # nothing, or one of two same-named functions: which one, the name cannot say
        return _resolve(ctx, name, chain) or None

    # the source is given late so that a name naming nothing costs none of the file's edge budget
    ctx.edge("references", name, node, candidates, source=lambda: sym)
    return None


def _member_read(ctx: Ctx, node: Node) -> bool | None:
    """`x.prop` read or written, not called, on a receiver of known value (`err.isEmpty`, a getter;
    `z.ZodError` of a namespace): a reference to that member. TypeScript only: a JavaScript
    receiver's value is known from names alone, and its members read are mostly plain data."""
    if ctx.language == "javascript":
        return None
    parent = ctx.parent
    if parent is not None and parent.type == "call_expression" and _is_field(parent, "function", node):
        return None  # the call's edge
    obj = node.child_by_field_name("object")
    prop = node.child_by_field_name("property")
    if obj is None or prop is None or prop.type != "property_identifier" or obj.type == "super":
        return None
    if obj.type == "this" and ctx.frame.owner:
        _this_read(ctx, node, ctx.text(prop))
        return None
    chain = ctx.scope_chain()
    base = value_of(ctx, obj, chain)
    if base is None:
        return None
    found = members(base, ctx.text(prop))
    sym = ctx.frame.sym

    def candidates() -> Candidates | None:
        return tuple(c for c in found() if not c[0].startswith((EXTERNAL, UNBOUND))) or None

    ctx.edge("references", ctx.flat(node), prop, candidates, alias=MEMBER_READ, source=lambda: sym)
    return None


def _this_read(ctx: Ctx, node: Node, name: str) -> None:
    """`this.x` read or written: the class's member x, or a base's (a plain field is no symbol)."""
    owner = ctx.frame.owner
    if not owner:
        return
    sym = ctx.frame.sym

    def candidates() -> Candidates | None:
        found = ctx.member(owner, name)
        return found if found[0][1] == CONF_EXACT or ctx.bases.get(owner) else None

    prop = node.child_by_field_name("property") or node
    ctx.edge("references", ctx.flat(node), prop, candidates, alias=MEMBER_READ, source=lambda: sym)


def _is_field(parent: Node, field: str, node: Node) -> bool:
    child = parent.child_by_field_name(field)
    return child is not None and child.id == node.id


def _type_ref(ctx: Ctx, node: Node) -> bool | None:
    target = ctx.flat(node)
    chain = ctx.scope_chain()
    ctx.edge("references", target, node, lambda: _resolve(ctx, target, chain, CLASS_KINDS) or None)
    return SKIP


def _type_param(ctx: Ctx, node: Node) -> bool | None:
    name = node.child_by_field_name("name")
    if name is not None:
        ctx.skip.add(name.id)
    bind_type_param(ctx, node)
    return None


_HANDLERS: dict[str, Handler] = {
    **{t: _function for t in _FUNCTIONS},
    "class_declaration": _class,
    "abstract_class_declaration": _class,
    "class": _class,
    "interface_declaration": _typedecl("interface", "interface"),
    "type_alias_declaration": _typedecl("type", None),
    "enum_declaration": _typedecl("enum", "enum"),
    "internal_module": _typedecl("namespace", "namespace"),
    "module": _typedecl("namespace", "namespace"),
    "method_definition": _method,
    "method_signature": _method,
    "abstract_method_signature": _method,
    "public_field_definition": _field,
    "property_signature": _field,
    "field_definition": _field,
    "lexical_declaration": _variables,
    "variable_declaration": _variables,
    "assignment_expression": _assignment,
    "for_in_statement": _for_of,
    "if_statement": _guarded,
    "ternary_expression": _guarded,
    "binary_expression": _guarded,
    "class_heritage": _heritage,
    "extends_type_clause": _heritage,
    "import_statement": import_statement,
    "export_statement": _export,
    "call_expression": _call,
    "new_expression": _new,
    "jsx_opening_element": _jsx,
    "jsx_self_closing_element": _jsx,
    "type_identifier": _type_ref,
    "nested_type_identifier": _type_ref,
    "type_parameter": _type_param,
    "formal_parameters": _params,
    "return_statement": _return,
    "identifier": _value_ref,
    "member_expression": _member_read,
    "shorthand_property_identifier": _value_ref,
}
