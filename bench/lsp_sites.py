"""Where names are in Go, TypeScript, JavaScript, Rust, Java, C/C++ and PHP source: call sites (tree-sitter), definition names, UTF-16 columns."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tree_sitter import Node

from mcp_server.index.languages import language_for, new_parser

# Call expressions and the child holding the called name, per grammar.
_CALLS: dict[str, dict[str, str]] = {
    "go": {"call_expression": "function"},
    "typescript": {"call_expression": "function", "new_expression": "constructor"},
    "tsx": {"call_expression": "function", "new_expression": "constructor"},
    "javascript": {"call_expression": "function", "new_expression": "constructor"},
    "rust": {"call_expression": "function"},
    "java": {"method_invocation": "name", "object_creation_expression": "type"},
    "c": {"call_expression": "function"},
    "cpp": {"call_expression": "function", "new_expression": "type"},
    "php": {
        "function_call_expression": "function",
        "member_call_expression": "name",
        "nullsafe_member_call_expression": "name",
        "scoped_call_expression": "name",
    },
}
_NAME_NODES = {
    "identifier",
    "field_identifier",
    "property_identifier",
    "private_property_identifier",
    "type_identifier",
    "name",  # PHP
}
_MEMBER_NODES = {
    "selector_expression": "field",
    "member_expression": "property",
    "field_expression": "field",  # rust x.m(), C/C++ `p->f()`, `s.f()`
    "scoped_identifier": "name",  # rust: Type::f()
    "qualified_identifier": "name",  # C++ `ns::f()`
    "template_function": "name",  # C++ `f<T>()`
}
_SKIP_NAMES = {"super", "import", "require"}


@dataclass(frozen=True, slots=True)
class CallSite:
    path: str  # repo-relative
    line: int  # 1-based
    column: int  # 0-based, in characters (Python str index)
    name: str  # the called name: `f` in f(), `m` in x.y.m()
    qualified: bool  # written with a receiver/qualifier (x.m) rather than bare (f)


def call_sites(root: Path, rel: str) -> list[CallSite]:
    """Every call (and `new`) in one file whose callee ends in a plain name, in source order.
    Found by the grammar, not by pgcode's parser: the sample is what the code calls, not what
    pgcode recorded."""
    language = language_for(rel)
    if language == "c" and rel.endswith(".h"):
        language = "cpp"  # a header may be C++; the C++ grammar reads C's calls alike
    kinds = _CALLS.get(language or "")
    if not kinds:
        return []
    data = (root / rel).read_bytes()
    tree = new_parser(language).parse(data)  # type: ignore[arg-type]
    lines = data.split(b"\n")
    out: list[CallSite] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        field = kinds.get(node.type)
        if field is not None:
            callee = node.child_by_field_name(field)
            if callee is not None and callee.type == "generic_function":  # rust: f::<T>()
                callee = callee.child_by_field_name("function")
            name_node, qualified = None, False
            if language == "php":
                qualified = node.type != "function_call_expression"
            if language == "java" and callee is not None:
                qualified = node.child_by_field_name("object") is not None
                callee = _java_type_name(callee)
            if callee is not None and callee.type in _NAME_NODES:
                name_node = callee
            elif callee is not None and callee.type in _MEMBER_NODES:
                name_node = callee.child_by_field_name(_MEMBER_NODES[callee.type])
                qualified = callee.type != "template_function"
                while name_node is not None and name_node.type in _MEMBER_NODES:  # a::b::f, a::f<T>
                    name_node = name_node.child_by_field_name(_MEMBER_NODES[name_node.type])
            if name_node is not None and name_node.type in _NAME_NODES:
                row, byte_col = name_node.start_point
                name = name_node.text.decode("utf-8", "replace") if name_node.text else ""
                if name and name not in _SKIP_NAMES:
                    column = len(lines[row][:byte_col].decode("utf-8", "replace"))
                    out.append(CallSite(rel, row + 1, column, name, qualified))
        stack.extend(reversed(node.children))
    out.sort(key=lambda s: (s.line, s.column))
    return out


def _java_type_name(node: Node) -> Node:
    """The class name a Java `new` writes: `Foo` in `new Foo<>()`, `Inner` in `new Outer.Inner()`."""
    if node.type == "generic_type" and node.named_children:
        node = node.named_children[0]
    if node.type == "scoped_type_identifier" and node.named_children:
        node = node.named_children[-1]
    return node


def definition_column(lines: list[str], start_line: int, end_line: int, name: str) -> tuple[int, int] | None:
    """(1-based line, 0-based column) of `name` where a definition spanning start..end writes it:
    the first whole-word occurrence followed by `(`, `<`, `=` or `:` (a parameter list, type
    parameters, `name = () =>`, `name: function`), else the first occurrence at all, in the first
    lines of the definition (decorators and doc comments may precede the name)."""
    word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
    fallback: tuple[int, int] | None = None
    for ln in range(start_line, min(end_line, start_line + 12) + 1):
        if not 1 <= ln <= len(lines):
            break
        text = lines[ln - 1]
        if ln == start_line and text.lstrip().startswith("func ("):
            # A Go method: skip the receiver, whose type may share the name's spelling.
            close = text.find(")")
            matches = [m for m in word.finditer(text) if m.start() > close]
        else:
            matches = list(word.finditer(text))
        for m in matches:
            after = text[m.end() :].lstrip()
            if after[:1] in ("(", "<", "=", ":", "?") and not after.startswith("::"):
                return ln, m.start()
            if fallback is None:
                fallback = (ln, m.start())
    return fallback


def utf16(text: str, column: int) -> int:
    """A Python column as LSP's default UTF-16 code units."""
    return len(text[:column].encode("utf-16-le")) // 2


def go_import_names(lines: list[str]) -> set[str]:
    """The names a Go file's imports bind (the alias, else the path's last element)."""
    names: set[str] = set()
    in_block = False
    for text in lines:
        s = text.strip()
        if s.startswith("import ("):
            in_block = True
            continue
        if in_block and s.startswith(")"):
            in_block = False
            continue
        spec = s[len("import ") :] if s.startswith("import ") else (s if in_block else "")
        m = re.match(r'(?:([\w.]+)\s+)?"([^"]+)"', spec)
        if m:
            alias, path = m.group(1), m.group(2)
            last = path.rsplit("/", 1)[-1]
            if re.fullmatch(r"v\d+", last) and "/" in path:
                last = path.rsplit("/", 2)[-2]
            names.add(alias or last.replace("-", "_").split(".")[0])
    return names
