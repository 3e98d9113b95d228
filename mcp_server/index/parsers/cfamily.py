"""C and C++ parser: functions, records, typedefs, namespaces, out-of-line members, includes, calls."""

# C has one global namespace, so C names are bare ("parse_args", "Point"). C++ names follow
# namespaces and classes with "::" ("geo::Point::norm"), out-of-line definitions included.
# What only its own file sees (a `static` function, an anonymous namespace's contents) is named
# after the file ("db/log_test.cc::leveldb::log::BigString"): two files' `static Between` are two
# symbols, and a call reaches the one of its own file.

from __future__ import annotations

import re
from functools import partial

from tree_sitter import Node

from ..records import (
    ARITY,
    CONF_EXACT,
    CONF_SCOPED,
    CONF_UNIQUE,
    DECLARES,
    NAME_FALLBACK,
    NO_GUESS,
    TYPE_OF,
    ParsedFile,
)
from ._cpp_types import receiver_type, record, type_name, variable
from ._generic import (
    CLASS_KINDS,
    SKIP,
    CandidateFn,
    Candidates,
    Ctx,
    Frame,
    Handler,
    relative_module,
    run,
    strip_nested,
)

_COMMENTS = frozenset({"comment"})
_HEADERS = frozenset({"preproc_include", "preproc_ifdef", "preproc_def", "preproc_call", "preproc_if"})
_RECORDS = {
    "class_specifier": "class",
    "struct_specifier": "struct",
    "union_specifier": "union",
    "enum_specifier": "enum",
}
_DECLARATOR_WRAPPERS = frozenset(
    {"pointer_declarator", "reference_declarator", "parenthesized_declarator", "attributed_declarator"}
)
_SCOPES = CLASS_KINDS | {"namespace"}
_TEMPLATE_ARGS = re.compile(r"<[^<>]*>")
_HEADER_EXTS = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inl", ".ipp", ".c", ".cc", ".cpp", ".cxx")
_C_HEADERS = _HEADER_EXTS[:7]
_MACRO_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_ALIAS = re.compile(r"[a-z_][a-z0-9_]*")
_C_WORDS = frozenset(
    "auto bool break case char const continue default do double else enum extern float for goto if inline int"
    " long register restrict return short signed sizeof static struct switch typedef union unsigned void"
    " volatile while __inline __inline__ __restrict __attribute__ _bool".split()
)
# gtest's `TEST_F(Fixture, Name) { ... }` is a method of a subclass of Fixture.
_FIXTURE_MACROS = frozenset({"TEST_F", "TEST_P", "TYPED_TEST", "TYPED_TEST_P"})
# Where an expression statement cannot stand: tree-sitter's reading of a line it could not parse
# (`EXPORT T* f(void);` in C is `EXPORT T; *f(void);`), not a call.
_NO_STATEMENTS = frozenset(
    {
        "translation_unit",
        "declaration_list",
        "field_declaration_list",
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "linkage_specification",
    }
)
_CALLABLE = frozenset({"function", "method", "constructor"})
_CALLED = re.compile(r"(?<![\w.>#])([A-Za-z_]\w*)\s*\(")
_KEYWORDS = frozenset(
    {"if", "while", "for", "switch", "return", "sizeof", "defined", "do", "case", "alignof", "typeof", "__typeof__"}
)
_EXPORT_CLASS = re.compile(rb"(\b(?:class|struct|union)[ \t]+)([A-Z][A-Z0-9_]+)(?=[ \t]+[A-Za-z_])")
_EXPORT_DECL = re.compile(
    rb"^([ \t]*)([A-Z][A-Z0-9_]+)(?=[ \t]+(?:(?:const|unsigned|struct|static|inline|extern)[ \t]+)*"
    rb"[A-Za-z_][\w:]*[ \t*&]+\(?[A-Za-z_]\w*\)?[ \t]*\()",
    re.MULTILINE,
)
# What no C header holds: a namespace, a template, an access specifier, a class with a body or bases.
_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:namespace\s+[\w:]+\s*\{|template\s*<|(?:public|private|protected)\s*:|class\s+\w+[^;(]*[{:])",
    re.MULTILINE,
)


def parse(source: bytes, path: str, module_name: str, language: str) -> ParsedFile:
    if language == "c" and path.endswith(".h") and _CPP_HEADER.search(source):
        language = "cpp"  # foo.h of a C++ library: its classes and namespaces name what foo.cc defines
    parsed = run(
        _without_export_macros(source),
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
    parsed.language = "c" if path.endswith(".h") else parsed.language
    return parsed


def _blank(match: re.Match[bytes]) -> bytes:
    return match.group(1) + b" " * len(match.group(2))


def _without_export_macros(source: bytes) -> bytes:
    """The source with export macros blanked, byte for byte (`class LEVELDB_EXPORT Slice {`,
    `LUA_API int lua_gettop (lua_State *L)`): the grammar knows no such macro and misreads the
    whole declaration (a class read as a run of functions)."""
    return _EXPORT_DECL.sub(_blank, _EXPORT_CLASS.sub(_blank, source))


def _setup(ctx: Ctx, root: Node) -> None:
    ctx.data["cpp"] = ctx.language == "cpp"
    ctx.data["hints"] = {}
    ctx.data["tparams"] = set()
    ctx.data["declared"] = set()  # prototypes: functions defined in another file


def _qualify(ctx: Ctx, name: str) -> str:
    return ctx.join(ctx.frame.qname, name) if ctx.data["cpp"] else name


def _file_local(ctx: Ctx, qname: str) -> str:
    """`qname` as named when only this file sees it."""
    if not qname:
        return ctx.path
    return qname if qname.startswith(ctx.path + "::") or qname == ctx.path else ctx.join(ctx.path, qname)


def _plain(ctx: Ctx, qname: str) -> str:
    """`qname` without this file's prefix: what the code itself writes."""
    if qname == ctx.path:
        return ""
    return qname.removeprefix(ctx.path + "::")


def _lookup(ctx: Ctx, name: str, chain: list[str], kinds: frozenset[str] | None = None) -> str | None:
    """ctx.lookup that also sees this file's own (static, anonymous-namespace) definitions."""
    for prefix in chain:
        plain = ctx.join(_plain(ctx, prefix), name)
        for q in (plain, ctx.join(ctx.path, plain)):
            idx = ctx.defined.get(q)
            if idx is not None and (kinds is None or ctx.result.symbols[idx].kind in kinds):
                return q
    return None


def _namespaces(ctx: Ctx, chain: list[str]) -> list[str]:
    """The scopes of `chain` a name may be declared in (not functions), without this file's prefix."""
    out: list[str] = []
    for prefix in chain:
        idx = ctx.defined.get(prefix)
        if idx is not None and ctx.result.symbols[idx].kind in _CALLABLE:
            continue
        plain = _plain(ctx, prefix)
        if plain not in out:
            out.append(plain)
    return out


def _strip_templates(text: str) -> str:
    return strip_nested(_TEMPLATE_ARGS, text).replace(" ", "").lstrip(":")


def _doc(ctx: Ctx, node: Node) -> str | None:
    """Doc comment of a definition; a template's comment sits above the `template <...>` line."""
    for i in range(len(ctx.nodes) - 1, 0, -1):
        if ctx.nodes[i].id == node.id:
            if ctx.nodes[i - 1].type == "template_declaration":
                return ctx.doc_comment(ctx.nodes[i - 1])
            break
    return ctx.doc_comment(node)


def _function_declarator(node: Node) -> Node | None:
    decl = node.child_by_field_name("declarator")
    for _ in range(16):
        if decl is None or decl.type == "function_declarator":
            return decl
        if decl.type not in _DECLARATOR_WRAPPERS:
            return None
        decl = decl.child_by_field_name("declarator") or (decl.named_children[-1] if decl.named_child_count else None)
    return None


def _declared_name(ctx: Ctx, fdecl: Node) -> str | None:
    name = fdecl.child_by_field_name("declarator")
    if name is None:
        return None
    if name.type == "template_function":
        name = name.child_by_field_name("name") or name
    if name.type == "parenthesized_declarator" and name.named_child_count == 1:
        name = name.named_children[0]  # `int (lua_gettop) (lua_State *L)`: kept from macro expansion
    if name.type in (
        "identifier",
        "field_identifier",
        "qualified_identifier",
        "destructor_name",
        "operator_name",
        "type_identifier",
        "operator_cast",
    ):
        return _strip_templates(ctx.flat(name)) or None
    return None


# ---- definitions ------------------------------------------------------------------------


def _function(ctx: Ctx, node: Node) -> bool | None:
    fdecl = _function_declarator(node)
    written = _declared_name(ctx, fdecl) if fdecl is not None else None
    if written is None or ctx.frame.kind == "function":
        return None  # no function is defined inside another: `vmdispatch (GET_OPCODE(i)) {` is a misread macro
    frame = ctx.frame
    name = written.rsplit("::", 1)[-1]
    owner: str | None = None
    static = _static(ctx, node)
    if node.child_by_field_name("type") is None and _MACRO_NAME.fullmatch(written) and fdecl is not None:
        # `TEST_F(DBTest, Empty) { ... }`: a macro defines it; its written form tells it apart
        name = written = ctx.flat(fdecl).replace(" ", "")
        qname, kind = ctx.join(frame.qname, name), "function"
        owner = _fixture(ctx, fdecl)
    elif not ctx.data["cpp"]:
        qname, kind = (_file_local(ctx, name) if static else name), "function"
    elif "::" in written:  # out-of-line definition: `double Point::norm() const { ... }`
        qname = ctx.join(frame.qname, written)
        scope = qname.rsplit("::", 1)[0]
        if scope not in ctx.defined and _file_local(ctx, scope) in ctx.defined:
            scope = _file_local(ctx, scope)  # a member of a class of an anonymous namespace
            qname = ctx.join(scope, name)
        scope_idx = ctx.defined.get(scope)
        if scope_idx is not None:
            is_type = ctx.result.symbols[scope_idx].kind in CLASS_KINDS
        else:  # by convention types are capitalised, namespaces are not
            is_type = scope.rsplit("::", 1)[-1][:1].isupper()
        owner = scope if is_type else None
        kind = "method" if is_type else "function"
    else:
        qname = ctx.join(frame.qname, name)
        owner = frame.owner if frame.kind == "class" else None
        kind = "method" if owner else "function"
        if static and not owner:
            qname = _file_local(ctx, qname)
    if owner and kind != "function" and name == owner.rsplit("::", 1)[-1]:
        kind = "constructor"
    body = node.child_by_field_name("body")
    sig_end = body.start_byte if body is not None else None
    idx = ctx.add_symbol(kind, name, qname, node, sig_end=sig_end, doc=_doc(ctx, node))
    if ctx.data["cpp"]:
        _type_edge(ctx, idx, node.child_by_field_name("type"))
    if body is not None:
        ctx.enter(Frame(idx, qname, "function", owner))
    return None


def _static(ctx: Ctx, node: Node) -> bool:
    return any(c.type == "storage_class_specifier" and ctx.text(c) == "static" for c in node.children)


def _fixture(ctx: Ctx, fdecl: Node) -> str | None:
    """The class whose members a gtest `TEST_F(Fixture, Name)` body calls bare."""
    macro = fdecl.child_by_field_name("declarator")
    params = fdecl.child_by_field_name("parameters")
    if macro is None or params is None or ctx.text(macro) not in _FIXTURE_MACROS or not params.named_child_count:
        return None
    fixture = _strip_templates(ctx.flat(params.named_children[0]))
    chain = ctx.scope_chain()
    found = _lookup(ctx, fixture, chain, _SCOPES)
    return found or ctx.join(_plain(ctx, ctx.frame.qname), fixture)


def _member_declaration(ctx: Ctx, node: Node) -> bool | None:
    """A method declared in a class body (defined elsewhere, or pure virtual); other prototypes
    are remembered so that calls to them get the right qualified name."""
    frame = ctx.frame
    parent = ctx.parent
    if ctx.data["cpp"]:
        record(ctx, node)
    fdecl = _function_declarator(node)
    if fdecl is None and ctx.data["cpp"] and node.type == "field_declaration" and frame.kind == "class":
        _fields(ctx, node)
        return None
    name = _declared_name(ctx, fdecl) if fdecl is not None else None
    if name is None or _MACRO_NAME.fullmatch(name):
        return None  # `int seed_ GUARDED_BY(mutex_);`: a macro after a field, no method
    in_class = (
        frame.kind == "class"
        and parent is not None
        and parent.type in ("field_declaration_list", "template_declaration")
    )
    if not ctx.data["cpp"] or not in_class or "::" in name:
        if frame.kind != "class":
            ctx.data["declared"].add(_qualify(ctx, name))
        if frame.kind == "module" and not ctx.data["cpp"] and ctx.path.endswith(_C_HEADERS) and not _static(ctx, node):
            # what a file including this header sees declared (indexer.c_includes)
            ctx.edge("references", name, node, ((NO_GUESS, CONF_SCOPED),), alias=DECLARES)
        return None
    owner = frame.owner or frame.qname
    kind = "constructor" if name == owner.rsplit("::", 1)[-1] else "method"
    idx = ctx.add_symbol(kind, name, ctx.join(frame.qname, name), node, doc=_doc(ctx, node))
    _type_edge(ctx, idx, node.child_by_field_name("type"))
    return None


def _record(ctx: Ctx, node: Node) -> bool | None:
    body = node.child_by_field_name("body")
    if body is None:
        return None  # `struct point *p`: a reference, handled through its type_identifier
    name_node = node.child_by_field_name("name")
    hint: tuple[str, Node] | None = ctx.data["hints"].pop(node.id, None)
    if name_node is not None:
        ctx.skip.add(name_node.id)
        name = _strip_templates(ctx.flat(name_node)).rsplit("::", 1)[-1]
        span, signature = node, None
    elif hint is not None:
        name, span = hint
        signature = f"{ctx.signature(span.start_byte, body.start_byte)} {name}"
    else:
        return None  # an anonymous member struct/union
    kind = _RECORDS[node.type]
    qname = _qualify(ctx, name)
    parent = ctx.parent
    # `/* doc */ typedef struct node {...} node_t;` documents the struct too
    doc_node = parent if parent is not None and parent.type == "type_definition" else span
    idx = ctx.add_symbol(
        kind,
        name,
        qname,
        node,
        span=span,
        sig_start=span.start_byte,
        sig_end=body.start_byte,
        signature=signature,
        doc=_doc(ctx, doc_node),
    )
    ctx.enter(
        Frame(
            idx,
            qname if ctx.data["cpp"] else "",
            "class" if kind != "enum" else "enum",
            qname if kind in ("class", "struct", "union") else None,
        )
    )
    return None


def _typedef(ctx: Ctx, node: Node) -> bool | None:
    tnode = node.child_by_field_name("type")
    names: list[Node] = []
    for first in node.children_by_field_name("declarator"):
        decl: Node | None = first
        for _ in range(8):
            if decl is None or decl.type in ("type_identifier", "primitive_type"):
                break
            decl = decl.child_by_field_name("declarator")
        if decl is not None and decl.type == "type_identifier":
            names.append(decl)
    anonymous_body = (
        tnode is not None
        and tnode.type in _RECORDS
        and tnode.child_by_field_name("name") is None
        and tnode.child_by_field_name("body") is not None
    )
    for i, name_node in enumerate(names):
        ctx.skip.add(name_node.id)
        name = ctx.text(name_node)
        if i == 0 and anonymous_body and tnode is not None:
            ctx.data["hints"][tnode.id] = (name, node)  # `typedef struct {...} Point;` names the struct
            continue
        body = tnode.child_by_field_name("body") if tnode is not None and tnode.type in _RECORDS else None
        signature = (
            f"typedef {ctx.signature(tnode.start_byte, body.start_byte)} {name}"
            if body is not None and tnode is not None
            else None
        )
        ctx.add_symbol("type", name, _qualify(ctx, name), node, signature=signature, doc=_doc(ctx, node))
    return None


def _alias(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    if name_node is not None:
        ctx.skip.add(name_node.id)
        name = ctx.text(name_node)
        ctx.add_symbol("type", name, _qualify(ctx, name), node, doc=_doc(ctx, node))
    return None


def _namespace(ctx: Ctx, node: Node) -> bool | None:
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if body is None:
        return None
    if name_node is None:  # what an anonymous namespace holds only its file sees
        ctx.enter(Frame(ctx.frame.sym, _file_local(ctx, ctx.frame.qname), "namespace"))
        return None
    name = ctx.flat(name_node).replace(" ", "")
    qname = ctx.join(ctx.frame.qname, name)
    idx = ctx.add_symbol(
        "namespace", name.rsplit("::", 1)[-1], qname, node, sig_end=body.start_byte, doc=_doc(ctx, node)
    )
    ctx.enter(Frame(idx, qname, "namespace"))
    return None


def _bases(ctx: Ctx, node: Node) -> bool | None:
    frame = ctx.frame
    chain = ctx.scope_chain(ctx.frames[-2].qname if len(ctx.frames) > 1 else None)
    for t in node.named_children:
        if t.type not in ("type_identifier", "qualified_identifier", "template_type"):
            continue
        target = _strip_templates(ctx.flat(t))
        fn = partial(_base_cands, ctx, target, chain)
        ctx.edge("inherits", target, t, fn)
        ctx.bases.setdefault(frame.qname, []).append(fn)
    return SKIP


def _template_params(ctx: Ctx, node: Node) -> bool | None:
    for param in node.named_children:
        for ident in param.named_children:
            if ident.type == "type_identifier":
                ctx.data["tparams"].add(ctx.text(ident))
    return SKIP


# ---- includes, calls, references --------------------------------------------------------


def _macro(ctx: Ctx, node: Node) -> bool | None:
    """`#define check(L, e) ...`: what a call `check(L, x)` goes to. One defined outside a header
    is its file's own (its name is no other file's)."""
    name_node = node.child_by_field_name("name")
    if name_node is None:
        return SKIP
    name = ctx.text(name_node)
    idx = _macro_symbol(ctx, node, name)
    # What its body calls, a use of the macro calls too (graph.walk follows them): the
    # parameters and keywords aside, every `name(` of the body
    params_node = node.child_by_field_name("parameters")
    params = {ctx.text(p) for p in params_node.named_children} if params_node is not None else set()
    body = node.child_by_field_name("value")
    line = node.start_point.row + 1
    for called in dict.fromkeys(_CALLED.findall(ctx.text(body))):
        if called in params or called in _KEYWORDS or called == name:
            continue
        ctx.edge("calls", called, line, partial(_c_cands, ctx, called), source=idx)
    return SKIP


def _macro_symbol(ctx: Ctx, node: Node, name: str) -> int:
    own = not ctx.path.endswith(_C_HEADERS)
    return ctx.add_symbol("macro", name, ctx.join(ctx.path, name) if own else name, node, parent=0)


def _macro_alias(ctx: Ctx, node: Node) -> bool | None:
    """`#define setsvalue2n setsvalue`: another name for a function or a function-like macro (both
    written as C writes functions, in lower case), which a call of it reaches through what it names."""
    name_node = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    if name_node is None or value is None:
        return SKIP
    name, target = ctx.text(name_node), ctx.text(value).strip()
    if not (_ALIAS.fullmatch(name) and _ALIAS.fullmatch(target)) or target in _C_WORDS or target.endswith("_t"):
        return SKIP  # a constant, a type or a keyword (`#define l_inline inline`)
    idx = _macro_symbol(ctx, node, name)
    ctx.edge("calls", target, node.start_point.row + 1, partial(_c_cands, ctx, target), source=idx)
    return SKIP


def _c_cands(ctx: Ctx, target: str) -> Candidates:
    """A C function or macro called by name: this file's own, this file's prototype, else by name."""
    for q in (ctx.join(ctx.path, target), target):
        if q in ctx.defined:
            return ((q, CONF_EXACT),)
    return ((target, CONF_SCOPED),) if target in ctx.data["declared"] else ()


def _include(ctx: Ctx, node: Node) -> bool | None:
    path_node = node.child_by_field_name("path")
    if path_node is None:
        return SKIP
    raw = ctx.text(path_node).strip()
    header = raw[1:-1] if raw[:1] in "<\"" else raw
    cands: list[tuple[str, float]] = []
    if raw.startswith('"'):
        # the including file's directory first, then each directory above it (include roots)
        base = ctx.path
        for _ in range(6):
            module = relative_module(base, header, _HEADER_EXTS)
            if module and module != ctx.module_name:  # foo.c including foo.h shares its module name
                cands.append((module, CONF_EXACT))
            if "/" not in base:
                break
            base = base.rsplit("/", 1)[0]
        if not header.startswith("."):
            cands.append(("include." + header.rsplit(".", 1)[0].replace("/", "."), CONF_SCOPED))
    ctx.edge("imports", header, node, tuple(cands[:6]))
    return SKIP


def _type_cands(ctx: Ctx, target: str, chain: list[str]) -> Candidates:
    if target.startswith("std::"):
        return ()
    local = _lookup(ctx, target, chain, _SCOPES)  # the class, not its same-named constructor
    if local is not None:
        return ((local, CONF_EXACT),)
    return ((target, CONF_SCOPED),) if "::" in target else ()


def _base_cands(ctx: Ctx, target: str, chain: list[str]) -> Candidates:
    """A base class: this file's, else one of an enclosing namespace (`Iterator` in leveldb is
    `leveldb::Iterator`, not a nested `SkipList::Iterator`), else one by its name alone."""
    if target.startswith("std::"):
        return ()
    return _class_paths(ctx, target, chain) + ((NAME_FALLBACK, CONF_UNIQUE),)


def _constructed(ctx: Ctx, target: str, chain: list[str]) -> Candidates:
    """`new T(...)`, `T(...)`: T's constructor where it declares one, else T."""
    if target.startswith("std::"):
        return ()
    name = target.rsplit("::", 1)[-1]
    local = _lookup(ctx, target, chain, _SCOPES)
    if local is not None:
        return ((ctx.join(local, name), CONF_EXACT), (local, CONF_EXACT))
    out: list[tuple[str, float]] = []
    for prefix in _namespaces(ctx, chain):
        q = ctx.join(prefix, target)
        out += [(ctx.join(q, name), CONF_SCOPED), (q, CONF_SCOPED)]
    return tuple(out)


def _arity(call: Node) -> Candidates:
    """The records.ARITY candidate of a call or `new`: overloads share a qualified name."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return ((f"{ARITY}0", 0.0),) if call.type == "new_expression" else ()
    n = sum(1 for c in args.named_children if c.type != "comment")
    return ((f"{ARITY}{n}", 0.0),)


def _statement_context(ctx: Ctx) -> bool:
    """Whether the node being handled can be an expression at all (see _NO_STATEMENTS)."""
    for i in range(len(ctx.nodes) - 2, 0, -1):
        if ctx.nodes[i].type == "expression_statement":
            return ctx.nodes[i - 1].type not in _NO_STATEMENTS
    return True


def _call(ctx: Ctx, node: Node) -> bool | None:
    fn = node.child_by_field_name("function")
    if fn is None or not _statement_context(ctx):
        return None
    if fn.type == "template_function":
        fn = fn.child_by_field_name("name") or fn
    if fn.type in ("identifier", "qualified_identifier"):
        target = _strip_templates(ctx.flat(fn))
        if target in ctx.data["tparams"]:
            return None  # `T()` constructs a template parameter
        chain = ctx.scope_chain()
        owner = ctx.frame.owner
        if ctx.data["cpp"]:

            def cands() -> Candidates:
                return _bare_cands(ctx, target, chain, owner) + _arity(node)
        else:
            cands = partial(_c_cands, ctx, target)

        ctx.edge("calls", target, node, cands)
    elif fn.type == "field_expression":
        field = fn.child_by_field_name("field")
        arg = fn.child_by_field_name("argument")
        if field is None:
            return None
        target = ctx.flat(fn).replace("->", ".")
        owner = ctx.frame.owner
        if arg is not None and arg.type == "this" and owner:
            method = ctx.text(field)
            ctx.edge("calls", target, field, lambda: ctx.member(owner, method) + _arity(node))
        elif arg is not None and ctx.data["cpp"]:
            found = _receiver_later(ctx, arg, ctx.text(field), ctx.scope_chain(), owner)
            ctx.edge("calls", target, field, lambda: tuple(found() or ()) + _arity(node))
        else:
            ctx.edge("calls", target, field)
    return None


def _bare_cands(ctx: Ctx, target: str, chain: list[str], owner: str | None) -> Candidates:
    """What a call of a plain or qualified name (`f()`, `Env::Default()`) may mean, surest first."""
    if target.startswith("std::"):
        return ()
    local = _lookup(ctx, target, chain)
    if local is not None:
        if ctx.result.symbols[ctx.defined[local]].kind in _SCOPES:
            return _constructed(ctx, target, chain)  # `Slice(key)`: a temporary
        return ((local, CONF_EXACT),)
    for prefix in chain:
        q = ctx.join(prefix, target)
        if q in ctx.data["declared"]:
            return ((q, CONF_SCOPED),)
    if "::" in target:
        head, _, rest = target.partition("::")
        scope = _lookup(ctx, head, chain, _SCOPES)  # `Base::method()` with Base defined here
        if scope:
            return ctx.member(scope, rest)
    # `this->f()` of the class or a base first, then a function of an enclosing namespace
    # (`Env::Default()` from inside namespace leveldb is `leveldb::Env::Default`)
    out = list(ctx.member(owner, target)) if owner and "::" not in target else []
    for prefix in _namespaces(ctx, chain):
        q = ctx.join(prefix, target)
        if q.rsplit("::", 1)[-1][:1].isupper():
            out.append((ctx.join(q, q.rsplit("::", 1)[-1]), CONF_SCOPED))
        out.append((q, CONF_SCOPED))
    if (not owner or _MACRO_NAME.fullmatch(target)) and "::" not in target:
        out.append((NAME_FALLBACK, CONF_UNIQUE))  # a `using` may have brought it in, or a macro
    return tuple(out)


def _class_paths(ctx: Ctx, written: str, chain: list[str]) -> Candidates:
    """Where a type written in scope `chain` may be defined: this file's, else each enclosing namespace's."""
    local = _lookup(ctx, written, chain, _SCOPES)
    if local is not None:
        return ((local, CONF_EXACT),)
    return tuple((ctx.join(p, written), CONF_SCOPED) for p in _namespaces(ctx, chain))


def _receiver_paths(ctx: Ctx, node: Node, chain: list[str], owner: str | None, depth: int = 0) -> Candidates | None:
    """The qualified names a receiver expression may stand for, its members being found under them
    (a field or function there reaches its type through its type edge, records.TYPE_OF); () for
    a library type (no guess), None when unknown."""
    if depth > 4:
        return None
    kind = node.type
    if kind == "this":
        return ((owner, CONF_EXACT),) if owner else None
    if kind == "parenthesized_expression" and node.named_child_count == 1:
        return _receiver_paths(ctx, node.named_children[0], chain, owner, depth + 1)
    if kind == "pointer_expression":  # `(*it).m()`
        arg = node.child_by_field_name("argument")
        return _receiver_paths(ctx, arg, chain, owner, depth + 1) if arg is not None else None
    if kind == "identifier":
        held = receiver_type(ctx, node, owner)
        if held is not None:
            written, at = held
            if not written or written == "?" or written.startswith("std::"):
                return ()
            return _class_paths(ctx, written, list(at))
        return ((ctx.join(owner, ctx.text(node)), CONF_SCOPED),) if owner else None  # a field declared elsewhere
    if kind == "field_expression":
        arg, field = node.child_by_field_name("argument"), node.child_by_field_name("field")
        if arg is None or field is None:
            return None
        if arg.type == "this":
            held = receiver_type(ctx, node, owner)
            if held is not None:
                written, at = held
                if not written or written == "?" or written.startswith("std::"):
                    return ()
                return _class_paths(ctx, written, list(at))
        inner = _receiver_paths(ctx, arg, chain, owner, depth + 1)
        if not inner:
            return inner
        return tuple((ctx.join(q, ctx.text(field)), min(c, CONF_SCOPED)) for q, c in inner)
    if kind == "call_expression":
        fn = node.child_by_field_name("function")
        if fn is None or fn.type not in ("identifier", "qualified_identifier"):
            return None
        found = tuple(
            (q, c) for q, c in _bare_cands(ctx, _strip_templates(ctx.flat(fn)), chain, owner) if q != NAME_FALLBACK
        )
        return found or None
    return None


def _receiver_later(ctx: Ctx, receiver: Node, method: str, chain: list[str], owner: str | None) -> CandidateFn:
    """`x.m()`, `p->m()`, `a.b->m()`, `f().m()`: the method under what the receiver stands for."""

    def cands() -> Candidates:
        paths = _receiver_paths(ctx, receiver, chain, owner)
        if paths is None:
            return ()  # the name alone, as before
        if not paths:
            return ((f"?::{method}", CONF_SCOPED),)  # a library type's: no guess
        out = [(ctx.join(q, method), c) for q, c in paths]
        if receiver.type == "identifier" and receiver_type(ctx, receiver, owner) is None:
            out.append((NAME_FALLBACK, CONF_UNIQUE))  # perhaps no field at all
        return tuple(out)

    return cands


def _type_edge(ctx: Ctx, source: int, type_node: Node | None) -> None:
    """What a field holds or a function returns, as a type edge (records.TYPE_OF): `f().m()` and
    `x_->m()` are found on that type. It is also the plain reference to the type written there."""
    written = type_name(ctx, type_node)
    if type_node is None or not written or written.startswith("std::"):
        return
    if written.split("::", 1)[0] in ctx.data["tparams"]:
        return
    chain = ctx.scope_chain()
    ctx.skip.add(type_node.id)
    ctx.edge("references", written, type_node, lambda: _class_paths(ctx, written, chain), TYPE_OF, source)


def _fields(ctx: Ctx, node: Node) -> None:
    """`Env* const env_;` in a class body: a field, typed by its type edge."""
    frame = ctx.frame
    for decl in node.children_by_field_name("declarator"):
        name, _ = variable(decl)
        if name is None:
            continue
        text = ctx.text(name)
        idx = ctx.add_symbol("field", text, ctx.join(frame.qname, text), node)
        _type_edge(ctx, idx, node.child_by_field_name("type"))


def _parameter(ctx: Ctx, node: Node) -> bool | None:
    if ctx.data["cpp"]:
        record(ctx, node)
    return None


def _new(ctx: Ctx, node: Node) -> bool | None:
    tnode = node.child_by_field_name("type")
    if tnode is None or tnode.type not in ("type_identifier", "qualified_identifier", "template_type"):
        return None
    ctx.skip.add(tnode.id)
    target = _strip_templates(ctx.flat(tnode))
    chain = ctx.scope_chain()
    ctx.edge("calls", target, node, lambda: _constructed(ctx, target, chain) + _arity(node))
    return None


def _type_ref(ctx: Ctx, node: Node) -> bool | None:
    # climb to the whole `a::b::Type` when the name is qualified
    top = len(ctx.nodes) - 1
    while top > 0 and ctx.nodes[top - 1].type in ("qualified_identifier", "template_type"):
        top -= 1
    target = _strip_templates(ctx.flat(ctx.nodes[top])) if top < len(ctx.nodes) - 1 else ctx.text(node)
    if target in ctx.data["tparams"] or not target or not _statement_context(ctx):
        return SKIP
    chain = ctx.scope_chain()
    ctx.edge(
        "references",
        target,
        node,
        lambda: (
            tuple(
                c
                for c in _type_cands(ctx, target, chain)
                if c[1] == CONF_EXACT and ctx.result.symbols[ctx.defined[c[0]]].kind in CLASS_KINDS
            )
            or None
        ),
    )
    return SKIP


_HANDLERS: dict[str, Handler] = {
    "function_definition": _function,
    "field_declaration": _member_declaration,
    "declaration": _member_declaration,
    **{t: _record for t in _RECORDS},
    "type_definition": _typedef,
    "alias_declaration": _alias,
    "namespace_definition": _namespace,
    "base_class_clause": _bases,
    "template_parameter_list": _template_params,
    "preproc_include": _include,
    "preproc_function_def": _macro,
    "preproc_def": _macro_alias,
    "call_expression": _call,
    "new_expression": _new,
    "parameter_declaration": _parameter,
    "optional_parameter_declaration": _parameter,
    "for_range_loop": _parameter,
    "type_identifier": _type_ref,
}
