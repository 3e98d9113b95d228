"""ES module and CommonJS imports of JavaScript / TypeScript files, as import edges and local bindings."""

from __future__ import annotations

from tree_sitter import Node

from ..records import CONF_EXACT
from ._generic import SKIP, Ctx, relative_module

_EXTS = (".d.ts", ".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")

# ctx.imports maps each local name to (how, [qualified targets]): "named" binds one export,
# "ns" a whole module (`import * as ns`, `const ns = require(...)`), "default" a default export.


def modules(ctx: Ctx, spec: str) -> list[str]:
    """Module names an import specifier may denote; only relative specifiers are resolvable."""
    if not spec.startswith("."):
        return []
    mod = relative_module(ctx.path, spec, _EXTS)
    if mod is None:
        return []
    return [mod] if mod.endswith(".index") else [mod, mod + ".index"]


def string_value(ctx: Ctx, node: Node | None) -> str | None:
    if node is None or node.type not in ("string", "template_string"):
        return None
    return ctx.text(node)[1:-1]


def import_statement(ctx: Ctx, node: Node) -> bool | None:
    source = node.child_by_field_name("source")
    if source is None:
        req = next((c for c in node.named_children if c.type == "import_require_clause"), None)
        source = req.child_by_field_name("source") if req is not None else None
    spec = string_value(ctx, source)
    if spec is None:
        return SKIP
    mods = modules(ctx, spec)
    mod_cands = tuple((m, CONF_EXACT) for m in mods)
    clause = next((c for c in node.named_children if c.type in ("import_clause", "import_require_clause")), None)
    if clause is None:
        ctx.edge("imports", spec, node, mod_cands)
        return SKIP
    items = clause.named_children if clause.type == "import_clause" else clause.named_children[:1]
    for item in items:
        if item.type == "identifier":
            local = ctx.text(item)
            ctx.imports[local] = ("default", mods)
            ctx.edge("imports", spec, node, mod_cands, alias=local)
        elif item.type == "namespace_import":
            ident = next((c for c in item.named_children if c.type == "identifier"), None)
            ns_local = ctx.text(ident) if ident is not None else None
            if ns_local:
                ctx.imports[ns_local] = ("ns", mods)
            ctx.edge("imports", spec, node, mod_cands, alias=ns_local)
        elif item.type == "named_imports":
            for spec_node in item.named_children:
                if spec_node.type != "import_specifier":
                    continue
                name = ctx.text(spec_node.child_by_field_name("name")).strip("'\"")
                local = ctx.text(spec_node.child_by_field_name("alias")) or name
                targets = [f"{m}.{name}" for m in mods]
                ctx.imports[local] = ("named", targets)
                ctx.edge("imports", name, spec_node, tuple((t, CONF_EXACT) for t in targets), alias=local)
    return SKIP


def export_statement(ctx: Ctx, node: Node) -> bool | None:
    spec = string_value(ctx, node.child_by_field_name("source"))
    if spec is not None:  # a re-export depends on the module it re-exports from
        ctx.edge("imports", spec, node, tuple((m, CONF_EXACT) for m in modules(ctx, spec)))
        return SKIP
    return None


def require(ctx: Ctx, node: Node, spec: str) -> None:
    mods = modules(ctx, spec)
    holder = ctx.parent
    is_declarator = holder is not None and holder.type == "variable_declarator"
    pattern = holder.child_by_field_name("name") if holder is not None and is_declarator else None
    if pattern is not None and pattern.type == "object_pattern":
        for prop in pattern.named_children:
            if prop.type == "shorthand_property_identifier_pattern":
                name = ctx.text(prop)
                targets = [f"{m}.{name}" for m in mods]
                ctx.imports[name] = ("named", targets)
                ctx.edge("imports", name, node, tuple((t, CONF_EXACT) for t in targets), alias=name)
        return
    local = ctx.text(pattern) if pattern is not None and pattern.type == "identifier" else None
    if local:
        ctx.imports[local] = ("ns", mods)
    ctx.edge("imports", spec, node, tuple((m, CONF_EXACT) for m in mods), alias=local)


def is_require(ctx: Ctx, value: Node | None) -> bool:
    """`const x = require('m')` binds an import, not a constant."""
    while value is not None and value.type in ("member_expression", "await_expression"):
        value = value.child_by_field_name("object") or value.named_child(0)
    fn = value.child_by_field_name("function") if value is not None and value.type == "call_expression" else None
    return fn is not None and ctx.text(fn) == "require"
