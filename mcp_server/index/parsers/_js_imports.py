"""ES module and CommonJS imports of JavaScript / TypeScript files, as import edges and local bindings."""

from __future__ import annotations

from tree_sitter import Node

from ..records import CONF_EXACT
from ._generic import SKIP, Candidates, Ctx
from ._js_modules import EXTERNAL, bound_modules, modules

# The name `export default` / `module.exports = X` binds in a module.
DEFAULT = "default"

# ctx.imports maps each local name to (how, [qualified targets]): "named" binds one export,
# "ns" a whole module (`import * as ns`, `const ns = require(...)`), "default" a default export.


def mark_module(ctx: Ctx) -> None:
    """The file imports or exports: a name it neither defines nor imports is no other file's."""
    ctx.data["module"] = True


def string_value(ctx: Ctx, node: Node | None) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    return ctx.text(node)[1:-1]


def import_statement(ctx: Ctx, node: Node) -> bool | None:
    mark_module(ctx)
    source = node.child_by_field_name("source")
    if source is None:
        req = next((c for c in node.named_children if c.type == "import_require_clause"), None)
        source = req.child_by_field_name("source") if req is not None else None
    spec = string_value(ctx, source)
    if spec is None:
        return SKIP
    mods = modules(ctx, spec)
    bound = bound_modules(ctx, spec)
    mod_cands = tuple((m, CONF_EXACT) for m in mods)
    clause = next((c for c in node.named_children if c.type in ("import_clause", "import_require_clause")), None)
    if clause is None:
        ctx.edge("imports", spec, node, mod_cands)
        return SKIP
    items = clause.named_children if clause.type == "import_clause" else clause.named_children[:1]
    for item in items:
        if item.type == "identifier":
            local = ctx.text(item)
            default = clause.type == "import_clause"
            ctx.imports[local] = ("default" if default else "ns", bound)
            # `import bind from "./bind"` uses what the module exports as its default (the
            # function of `export default function bind`); the module itself when nothing says.
            cands = tuple((f"{m}.{DEFAULT}", CONF_EXACT) for m in mods) + mod_cands if default else mod_cands
            ctx.edge("imports", spec, node, cands, alias=local)
        elif item.type == "namespace_import":
            ident = next((c for c in item.named_children if c.type == "identifier"), None)
            ns_local = ctx.text(ident) if ident is not None else None
            if ns_local:
                ctx.imports[ns_local] = ("ns", bound)
            ctx.edge("imports", spec, node, mod_cands, alias=ns_local)
        elif item.type == "named_imports":
            for spec_node in item.named_children:
                if spec_node.type != "import_specifier":
                    continue
                name = ctx.text(spec_node.child_by_field_name("name")).strip("'\"")
                local = ctx.text(spec_node.child_by_field_name("alias")) or name
                ctx.imports[local] = ("named", [f"{m}.{name}" for m in bound])
                ctx.edge("imports", name, spec_node, tuple((f"{m}.{name}", CONF_EXACT) for m in mods), alias=local)
    return SKIP


def export_statement(ctx: Ctx, node: Node) -> bool | None:
    """Re-exports bind names in this module, which the resolver follows like imports:
    `export * from`, `export * as ns from`, `export { a as b } from`, and `export { a as b }` of a local."""
    mark_module(ctx)
    spec = string_value(ctx, node.child_by_field_name("source"))
    clause = next((c for c in node.named_children if c.type in ("export_clause", "namespace_export")), None)
    if spec is not None:
        mods = modules(ctx, spec)
        mod_cands = tuple((m, CONF_EXACT) for m in mods)
        if clause is None:  # `export * from "./x"`: a name ending in "*" is a star binding
            ctx.edge("imports", f"{spec} *", node, mod_cands)
        elif clause.type == "namespace_export":
            ident = next((c for c in clause.named_children if c.type in ("identifier", "string")), None)
            ctx.edge("imports", spec, node, mod_cands, alias=ctx.text(ident).strip("'\"") if ident else None)
        else:
            for name, alias, item in _specifiers(ctx, clause):
                ctx.edge("imports", name, item, tuple((f"{m}.{name}", CONF_EXACT) for m in mods), alias=alias)
        return SKIP
    if clause is not None and clause.type == "export_clause":
        for name, alias, item in _specifiers(ctx, clause):
            if alias != name or name in ctx.imports:
                _export_local(ctx, item, name, alias)
        return SKIP
    if any(c.type == "default" for c in node.children):
        decl = node.child_by_field_name("declaration")
        value = node.child_by_field_name("value")
        name_node = decl.child_by_field_name("name") if decl is not None else None
        if name_node is not None:  # `export default class Foo`: the module's default is its Foo
            name = ctx.text(name_node)
            ctx.edge("imports", name, node, ((ctx.join(ctx.frames[0].qname, name), CONF_EXACT),), alias=DEFAULT)
        elif value is not None and value.type == "identifier":
            _export_local(ctx, value, ctx.text(value), DEFAULT)
        elif value is not None and value.type == "object":
            # `export default { a, b: c }`: `m.default.a` is the module's a, which the object names
            _export_object(ctx, value)
            root = ctx.frames[0].qname
            ctx.edge("imports", root, node, ((root, CONF_EXACT),), alias=DEFAULT)
    return None


def _specifiers(ctx: Ctx, clause: Node) -> list[tuple[str, str, Node]]:
    """(name, exported-as, node) of each `a as b` in an export clause."""
    out: list[tuple[str, str, Node]] = []
    for item in clause.named_children:
        name_node = item.child_by_field_name("name") if item.type == "export_specifier" else None
        if name_node is None:
            continue
        name = ctx.text(name_node).strip("'\"")
        alias_node = item.child_by_field_name("alias")
        out.append((name, ctx.text(alias_node).strip("'\"") if alias_node is not None else name, item))
    return out


def _export_local(ctx: Ctx, node: Node, name: str, alias: str) -> None:
    """`export { a as b }`: `b` names here what `a` does (an import's targets, else this module's `a`)."""
    root = ctx.frames[0].qname

    def targets() -> Candidates:
        imp = ctx.imports.get(name)
        if imp is None:
            return ((ctx.join(root, name), CONF_EXACT),)
        how, found = imp
        if how == "default":
            return tuple((f"{t}.{DEFAULT}", CONF_EXACT) for t in found)
        return tuple((t, CONF_EXACT) for t in found if not t.startswith(EXTERNAL))

    ctx.edge("imports", name, node, targets, alias=alias)


def module_exports(ctx: Ctx, left: list[str], right: Node) -> None:
    """CommonJS exports as bindings: `module.exports = X` makes the module X (its default, and its
    members the module's), `module.exports = { a, b: c }` and `exports.a = b` bind names."""
    mark_module(ctx)
    if left == ["module", "exports"]:
        if right.type == "identifier":
            export_whole(ctx, right, ctx.text(right))
        elif right.type == "object":
            _export_object(ctx, right)
        return
    is_export = (len(left) == 2 and left[0] == "exports") or (len(left) == 3 and left[:2] == ["module", "exports"])
    if is_export and right.type == "identifier" and (ctx.text(right) != left[-1] or ctx.text(right) in ctx.imports):
        _export_local(ctx, right, ctx.text(right), left[-1])


def _export_object(ctx: Ctx, obj: Node) -> None:
    """The names an exported object literal holds (`{ a, b: c }`) as the module's."""
    for prop in obj.named_children:
        if prop.type == "shorthand_property_identifier":
            _export_local(ctx, prop, ctx.text(prop), ctx.text(prop))
        elif prop.type == "pair":
            key, value = prop.child_by_field_name("key"), prop.child_by_field_name("value")
            if key is not None and value is not None and value.type == "identifier":
                _export_local(ctx, value, ctx.text(value), ctx.text(key).strip("'\""))


def export_whole(ctx: Ctx, node: Node, name: str) -> None:
    """`module.exports = name`: the module's default is what `name` is here, and its members are the module's."""
    _export_local(ctx, node, name, DEFAULT)
    imp = ctx.imports.get(name)
    if imp is None:
        ctx.edge("imports", f"{name} *", node, ((ctx.join(ctx.frames[0].qname, name), CONF_EXACT),))
    elif imp[0] != "default":
        targets = tuple((t, CONF_EXACT) for t in imp[1] if not t.startswith(EXTERNAL))
        ctx.edge("imports", f"{name} *", node, targets)


def require(ctx: Ctx, node: Node, spec: str) -> None:
    mark_module(ctx)
    mods = modules(ctx, spec)
    bound = bound_modules(ctx, spec)
    holder = ctx.parent
    is_declarator = holder is not None and holder.type == "variable_declarator"
    pattern = holder.child_by_field_name("name") if holder is not None and is_declarator else None
    if pattern is not None and pattern.type == "object_pattern":
        for prop in pattern.named_children:
            named = _destructured(ctx, prop)
            if named is None:
                continue
            name, value = named
            as_name = ctx.text(value)
            ctx.imports[as_name] = ("named", [f"{m}.{name}" for m in bound])
            # at the name, not the call: `const {\n  a,\n  b\n} = require(...)` imports a and b on their lines
            ctx.edge("imports", name, value, tuple((f"{m}.{name}", CONF_EXACT) for m in mods), alias=as_name)
        return
    local = ctx.text(pattern) if pattern is not None and pattern.type == "identifier" else None
    if local:
        ctx.imports[local] = ("ns", bound)
        ctx.data.setdefault("required", set()).add(local)
    # `const X = require('./x')` holds what x exports as a whole (`module.exports = X`), else the module
    cands = tuple((f"{m}.{DEFAULT}", CONF_EXACT) for m in mods) if local else ()
    ctx.edge("imports", spec, node, cands + tuple((m, CONF_EXACT) for m in mods), alias=local)


def _destructured(ctx: Ctx, prop: Node) -> tuple[str, Node] | None:
    """(export name, the identifier binding it) of `{ a }` or `{ a: b }` in a require's pattern."""
    if prop.type == "shorthand_property_identifier_pattern":
        return ctx.text(prop), prop
    if prop.type != "pair_pattern":
        return None
    key, value = prop.child_by_field_name("key"), prop.child_by_field_name("value")
    if key is None or value is None or key.type != "property_identifier" or value.type != "identifier":
        return None
    return ctx.text(key), value


def is_require(ctx: Ctx, value: Node | None) -> bool:
    """`const x = require('m')` binds an import, not a constant."""
    while value is not None and value.type in ("member_expression", "await_expression"):
        value = value.child_by_field_name("object") or value.named_child(0)
    fn = value.child_by_field_name("function") if value is not None and value.type == "call_expression" else None
    return fn is not None and ctx.text(fn) == "require"
