"""What a tags-parsed file imports: names bound to qualified names, and whole modules it sees."""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from tree_sitter import Node, Query, QueryCursor

from ..languages import grammar
from ..modules import path_module
from ..records import CONF_EXACT, RawEdge
from ._generic import Ctx

# Import declarations, for the languages whose calls resolve through them: each match is one
# declaration (@import).
_QUERIES: dict[str, str] = {
    "php": "(namespace_use_clause) @import",
    "kotlin": "(import) @import",
    "scala": "(import_declaration) @import",
    "swift": "(import_declaration) @import",
    "bash": '(command name: (command_name) @cmd argument: (_) @path (#any-of? @cmd "source" ".")) @import',
}
LANGUAGES = frozenset(_QUERIES)
PATH_SPLIT = re.compile(r"::|->|\?\.|\.|:|\\")
# `import struct Foo.Bar` imports one declaration; a plain `import Foo`, the whole module.
_SWIFT_KINDS = frozenset({"typealias", "struct", "class", "enum", "protocol", "let", "var", "func"})
_WILDCARDS = frozenset({"*", "_"})
# Bash: what a sourced path's leading expansion most often stands for, the script's own folder
# (`$(dirname "$0")/lib.sh`, `"${BASH_SOURCE%/*}/lib.sh"`, `"$DIR/lib.sh"`).
_EXPANSIONS = frozenset({"expansion", "simple_expansion", "command_substitution"})


@dataclass(slots=True)
class Imports:
    bound: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    # Modules whose every name the file sees: Swift's `import Foo`, a sourced Bash file,
    # Kotlin's `import a.b.*`, Scala's `import a.b._`.
    modules: list[str] = field(default_factory=list)


def swift_module(path: str) -> str | None:
    """The SwiftPM target a file belongs to (`Sources/<Target>/...`, `Tests/<Target>/...`), or None."""
    parts = PurePosixPath(path).parts[:-1]
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in ("Sources", "Tests"):
            return parts[i + 1]
    return None


@functools.cache
def _query(language: str) -> Query:
    return Query(grammar(language), _QUERIES[language])


def read_imports(ctx: Ctx, root: Node) -> Imports:
    """The file's imports, with an imports edge for each declaration."""
    found = Imports()
    if ctx.language not in _QUERIES:
        return found
    for _, caps in QueryCursor(_query(ctx.language)).matches(root):
        for decl in caps.get("import", ()):
            if ctx.language == "bash":
                _sourced(ctx, decl, caps["path"][0], found)
                continue
            for path, local in _import_names(ctx, decl):
                qname = ".".join(p for p in PATH_SPLIT.split(path) if p)
                if not qname or local == "_":
                    continue
                if local == "*":  # the module itself
                    found.modules.append(qname.removesuffix(".*").removesuffix("._"))
                    local_alias = None
                else:
                    found.bound[local] = qname
                    local_alias = local
                add_edge(ctx, 0, "imports", path, decl.start_point.row + 1, ((qname, CONF_EXACT),), local_alias)
    return found


def add_edge(
    ctx: Ctx,
    source: int,
    kind: str,
    written: str,
    line: int,
    candidates: tuple[tuple[str, float], ...],
    alias: str | None = None,
) -> None:
    """Appends one edge of a tags-parsed file (which writes its edges as it finds them)."""
    ctx.result.edges.append(
        RawEdge(source=source, kind=kind, target_name=written, line=line, candidates=candidates, alias=alias)
    )


def _import_names(ctx: Ctx, decl: Node) -> list[tuple[str, str]]:
    """(imported path, local name) pairs of one declaration; the local name "*" for a whole module."""
    alias = decl.child_by_field_name("alias")
    if ctx.language == "scala":
        base = ".".join(ctx.text(c) for c in decl.children_by_field_name("path") if c.is_named)
        selectors = next((c for c in decl.named_children if c.type == "namespace_selectors"), None)
        if selectors is None:
            if any(c.type == "namespace_wildcard" for c in decl.named_children):
                return [(base, "*")]
            return [(base, base.rsplit(".", 1)[-1])]
        out = []
        for sel in selectors.named_children:
            if sel.type == "identifier":
                out.append((f"{base}.{ctx.text(sel)}", ctx.text(sel)))
            elif sel.type == "arrow_renamed_identifier":
                name, to = sel.child_by_field_name("name"), sel.child_by_field_name("alias")
                out.append((f"{base}.{ctx.text(name)}", ctx.text(to)))
            elif sel.type == "namespace_wildcard":
                out.append((base, "*"))
        return out
    named = [c for c in decl.named_children if c is not alias and c.type != "modifiers"]
    if not named:
        return []
    path = ctx.text(named[0]).lstrip("\\")
    if ctx.language == "swift":
        if any(c.type in _SWIFT_KINDS for c in decl.children):
            return [(path, path.rsplit(".", 1)[-1])]
        return [(path.split(".", 1)[0], "*")]  # `import Foo.Sub` is module Foo's
    if ctx.language == "kotlin" and ctx.text(decl).rstrip().endswith("*"):
        return [(path, "*")]
    if ctx.language == "kotlin" and len(named) > 1:  # `import a.b.c as d`
        alias = named[1]
    local = ctx.text(alias) if alias is not None else PATH_SPLIT.split(path)[-1]
    return [(path, local)]


def _sourced(ctx: Ctx, decl: Node, arg: Node, found: Imports) -> None:
    """`source lib.sh`, `. "$(dirname "$0")/lib.sh"`: the sourced file as the script's folder or the
    repository root would find it (Bash reads a relative path from the working directory, which
    scripts set to one of the two)."""
    parts = arg.children if arg.type in ("string", "concatenation") else [arg]
    last = max((i for i, c in enumerate(parts) if c.type in _EXPANSIONS), default=-1)
    rest = "".join(ctx.text(c) for c in parts[last + 1 :] if c.type not in ('"', "'")).strip("'\"")
    if last >= 0:
        if not rest.startswith("/"):
            return  # `source "$LIB"`: nothing a reader can follow
        rest = rest.lstrip("/")
    elif rest.startswith("/") or not rest:
        return  # a system file, outside the repository
    here = posixpath.dirname(ctx.path)
    modules: list[str] = []
    for joined in (posixpath.join(here, rest), rest):
        normal = posixpath.normpath(joined)
        if normal.startswith("..") or normal == ".":
            continue
        module = path_module(normal)
        if module not in modules:
            modules.append(module)
    if modules:
        found.modules.extend(modules)
        add_edge(ctx, 0, "imports", ctx.text(arg), decl.start_point.row + 1, tuple((m, CONF_EXACT) for m in modules))
