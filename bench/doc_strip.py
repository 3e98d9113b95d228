"""Line-preserving removal of function doc comments (Go, Java, TypeScript/JavaScript, Rust), keeping each first sentence as a query.

bench/retrieval.py blanks Python docstrings with `ast`; this is the same for the languages whose
documentation sits in a comment above the definition, found with pgcode's tree-sitter grammars:

- Go: the `//` (or `/* */`) comment group right above a `func` (no blank line between), less
  `//go:`-style directive lines, which stay;
- Java: the `/** */` Javadoc right before a method or constructor (annotations come after it);
- TypeScript / JavaScript: the `/** */` JSDoc before a function, a method, an abstract method, or a
  `const f = () => ...` / `function` expression (exported or not); a TypeScript overload's
  signatures and its implementation are one function, documented by the implementation's JSDoc
  when it has a sentence, else by the first signature's;
- Rust: the outer doc comments (`///`, `/** */`) before a `fn`, attributes allowed between, at the
  top level, in `mod` blocks, `impl` blocks and traits (a trait's bodiless `fn` too).

Definitions are top-level functions and the methods of types at any depth (Java nested classes,
TypeScript namespaces, Rust modules); functions nested in function bodies are not taken. Every
character of a removed comment becomes a space and a line left blank becomes empty, so every line
keeps its number and the code still parses. The query is the doc's first sentence: comment
markers, `*` prefixes, block tags (`@param ...`), inline tags (`{@link X}` -> X), HTML and
markdown (code spans, links, emphasis) removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from mcp_server.index.languages import new_parser

LANGUAGES = ("go", "java", "typescript", "javascript", "rust")
_SENTENCE = re.compile(r"(.+?[.!?])(?:\s|$)")
_GO_DIRECTIVE = re.compile(rb"^//(go|line|export|extern|lint|nolint|\+build)\b|^//[a-z0-9]+:[a-z0-9]")


@dataclass(slots=True)
class DocFunction:
    name: str
    scope: str  # enclosing types/modules and the name, dotted ("Parser.parse")
    start: int  # first line of the definition (its first attribute or decorator), 1-based, the doc excluded
    def_line: int  # the line of the name
    end: int
    doc: str  # the doc comment's text, markers removed
    query: str | None  # its first sentence, or None when it has none


# --- the doc text ---------------------------------------------------------------------------------


def comment_text(raw: str) -> str:
    """A comment's text without its markers: `//`, `///`, `/** */` and each line's leading `*`."""
    raw = raw.rstrip("\n")
    if raw.startswith("/*"):
        body = raw[3:] if raw.startswith("/**") else raw[2:]
        body = body[:-2] if body.endswith("*/") else body
        lines = []
        for line in body.split("\n"):
            line = line.strip()
            if line.startswith("*"):
                line = line[1:]
            lines.append(line[1:] if line.startswith(" ") else line)
        return "\n".join(lines).strip("\n")
    body = raw.lstrip("/")
    body = body[1:] if body.startswith(("!",)) else body
    return body[1:] if body.startswith(" ") else body


_INLINE_TAG = re.compile(r"\{@(?:link|linkplain|code|literal|value)\s+([^}]*)\}")
_OTHER_TAG = re.compile(r"\{@\w+[^}]*\}")
_HTML = re.compile(r"</?[A-Za-z][^>]*>")
_MD_LINK = re.compile(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])?")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&", "&quot;": '"', "&#39;": "'", "&nbsp;": " "}


def _link_label(target: str) -> str:
    """`Foo#bar(int) the bar` -> `the bar`; `Foo#bar` -> `Foo.bar`."""
    target = target.strip()
    ref, _, label = target.partition(" ")
    if label.strip():
        return label.strip()
    return re.sub(r"\(.*\)$", "", ref).replace("#", ".").strip(".")


def first_sentence(doc: str) -> str | None:
    """The first sentence of the doc's first paragraph, as plain words (None when it opens with a tag)."""
    paragraph = re.split(r"\n\s*\n|<p>|<P>|\n\s*@\w", doc.strip(), maxsplit=1)[0]
    paragraph = " ".join(paragraph.split())
    # A tag, a heading, code, or a note to the maintainers is no description of the function.
    if not paragraph or paragraph.startswith(("@", "#", "```", "{@inheritDoc", "TODO", "FIXME", "XXX", "Deprecated:")):
        return None
    text = _INLINE_TAG.sub(lambda m: _link_label(m.group(1)), paragraph)
    text = _OTHER_TAG.sub("", text)
    text = _HTML.sub("", text)
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    text = _MD_LINK.sub(lambda m: m.group(1), text)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text)
    text = " ".join(text.replace("`", "").split())
    if not text:
        return None
    m = _SENTENCE.match(text)
    return (m.group(1) if m else text).strip()


# --- finding the definitions ----------------------------------------------------------------------


def _last_row(node: Node) -> int:
    """0-based last row holding text of the node (a Rust line comment ends at column 0 of the next)."""
    row, col = node.end_point
    return row - 1 if col == 0 and row > node.start_point[0] else row


def _name(node: Node, source: bytes) -> str:
    name = node.child_by_field_name("name")
    return source[name.start_byte : name.end_byte].decode("utf-8", "replace") if name is not None else "?"


def _name_line(node: Node) -> int:
    name = node.child_by_field_name("name")
    return (name or node).start_point[0] + 1


@dataclass(slots=True)
class _Def:
    node: Node  # the statement to look above for the doc (an export statement, a Rust fn)
    name_node: Node  # the node bearing the name
    scope: list[str]
    docless_start: Node | None = None  # first overload signature, when the implementation follows them


def _is_doc(language: str, comment: Node, source: bytes) -> bool:
    text = source[comment.start_byte : comment.end_byte]
    if language == "rust":
        return any(c.type == "outer_doc_comment_marker" for c in comment.children)
    if language == "go":
        return not _GO_DIRECTIVE.match(text)
    return text.startswith(b"/**") and not text.startswith(b"/**/")


_COMMENTS = {
    "go": frozenset({"comment"}),
    "java": frozenset({"line_comment", "block_comment"}),
    "typescript": frozenset({"comment"}),
    "javascript": frozenset({"comment"}),
    "rust": frozenset({"line_comment", "block_comment"}),
}
_SKIPPED_ABOVE = {"rust": frozenset({"attribute_item"}), "typescript": frozenset({"decorator"})}
_SKIPPED_ABOVE["javascript"] = _SKIPPED_ABOVE["typescript"]


def _doc_comments(language: str, node: Node, source: bytes) -> tuple[list[Node], int]:
    """The doc comment nodes documenting `node` (in source order), and the row where the
    definition starts (its first attribute or decorator), 0-based."""
    comments = _COMMENTS[language]
    skipped = _SKIPPED_ABOVE.get(language, frozenset())
    start_row = node.start_point[0]
    found: list[Node] = []
    prev = node.prev_named_sibling
    below = node  # the node right under `prev`
    while prev is not None:
        if prev.type in skipped:
            if not found:
                start_row = prev.start_point[0]
        elif prev.type in comments:
            before = prev.prev_sibling
            if (
                before is not None
                and before.is_named
                and before.end_point[0] == prev.start_point[0]
                and before.type not in comments
                and before.type not in skipped
            ):
                break  # a trailing comment of the code before it
            if language == "go":
                # A Go doc is the comment group touching the func: no blank line inside or under it.
                if _last_row(prev) + 1 < below.start_point[0]:
                    break
                if _is_doc(language, prev, source):
                    found.append(prev)
            elif language == "rust":
                if _is_doc(language, prev, source):
                    found.append(prev)
            else:
                # Java and JSDoc: the closest comment, when it is a /** */ one.
                if _is_doc(language, prev, source):
                    found.append(prev)
                break
        else:
            break
        below = prev
        prev = prev.prev_named_sibling
    found.reverse()
    return found, start_row


def _go_defs(root: Node, source: bytes) -> Iterator[_Def]:
    for child in root.named_children:
        if child.type == "function_declaration":
            yield _Def(child, child, [_name(child, source)])
        elif child.type == "method_declaration":
            receiver = child.child_by_field_name("receiver")
            owner = ""
            if receiver is not None:
                names = [n for n in _walk(receiver) if n.type == "type_identifier"]
                owner = source[names[0].start_byte : names[0].end_byte].decode() if names else ""
            yield _Def(child, child, [p for p in (owner, _name(child, source)) if p])


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.named_children:
        yield from _walk(child)


_JAVA_TYPES = frozenset(
    {
        "class_declaration",
        "interface_declaration",
        "enum_declaration",
        "record_declaration",
        "annotation_type_declaration",
    }
)
_JAVA_BODIES = frozenset(
    {"class_body", "interface_body", "enum_body", "enum_body_declarations", "annotation_type_body"}
)
_JAVA_METHODS = frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"})


def _java_defs(container: Node, source: bytes, scope: list[str]) -> Iterator[_Def]:
    for child in container.named_children:
        if child.type in _JAVA_METHODS:
            yield _Def(child, child, scope + [_name(child, source)])
        elif child.type in _JAVA_TYPES:
            body = child.child_by_field_name("body")
            if body is not None:
                yield from _java_defs(body, source, scope + [_name(child, source)])
        elif child.type in _JAVA_BODIES:
            yield from _java_defs(child, source, scope)


_TS_FUNCTIONS = frozenset({"function_declaration", "generator_function_declaration"})
_TS_CLASSES = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_TS_METHODS = frozenset({"method_definition", "abstract_method_signature"})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})


def _ts_defs(container: Node, source: bytes, scope: list[str]) -> Iterator[_Def]:
    """Statements of a program, namespace body or class body that define functions; overload
    signatures are carried to the implementation that follows them."""
    overloads: dict[str, Node] = {}  # name -> the statement of its first signature
    for child in container.named_children:
        decl = child
        if child.type == "export_statement":
            decl = child.child_by_field_name("declaration") or child
            if decl is child:
                for inner in child.named_children:
                    if inner.type in _TS_FUNCTIONS | _TS_CLASSES | {"lexical_declaration", "function_signature"}:
                        decl = inner  # `export default function ...`
                        break
        elif child.type == "expression_statement" and child.named_child_count == 1:
            decl = child.named_children[0]
        if decl.type in ("function_signature", "method_signature") and container.type != "interface_body":
            overloads.setdefault(_name(decl, source), child)
            continue
        if decl.type in _TS_FUNCTIONS or decl.type in _TS_METHODS:
            name = _name(decl, source)
            yield _Def(child, decl, scope + [name], overloads.pop(name, None))
        elif decl.type in ("lexical_declaration", "variable_declaration"):
            declarators = [d for d in decl.named_children if d.type == "variable_declarator"]
            value = declarators[0].child_by_field_name("value") if len(declarators) == 1 else None
            if value is not None and value.type in _FUNCTION_VALUES:
                yield _Def(child, declarators[0], scope + [_name(declarators[0], source)])
        elif decl.type in _TS_CLASSES:
            body = decl.child_by_field_name("body")
            if body is not None:
                yield from _ts_defs(body, source, scope + [_name(decl, source)])
        elif decl.type in ("internal_module", "module"):
            body = decl.child_by_field_name("body")
            if body is not None:
                yield from _ts_defs(body, source, scope + [_name(decl, source)])
        if decl.type not in ("comment", "decorator"):
            overloads.clear()  # signatures not followed by their implementation document nothing


def _rust_defs(container: Node, source: bytes, scope: list[str]) -> Iterator[_Def]:
    for child in container.named_children:
        if child.type in ("function_item", "function_signature_item"):
            yield _Def(child, child, scope + [_name(child, source)])
        elif child.type in ("impl_item", "trait_item", "mod_item"):
            body = child.child_by_field_name("body")
            if body is None:
                continue
            field = "type" if child.type == "impl_item" else "name"
            named = child.child_by_field_name(field)
            label = ""
            if named is not None:
                idents = [n for n in _walk(named) if n.type in ("type_identifier", "identifier")]
                target = idents[0] if idents else named
                label = source[target.start_byte : target.end_byte].decode("utf-8", "replace")
            yield from _rust_defs(body, source, scope + ([label] if label else []))


def _definitions(language: str, root: Node, source: bytes) -> Iterator[_Def]:
    if language == "go":
        return _go_defs(root, source)
    if language == "java":
        return _java_defs(root, source, [])
    if language in ("typescript", "javascript"):
        return _ts_defs(root, source, [])
    if language == "rust":
        return _rust_defs(root, source, [])
    raise ValueError(f"no doc-comment stripper for {language!r}")


# --- stripping ------------------------------------------------------------------------------------


def _blank(source: bytes, spans: list[tuple[int, int]]) -> bytes:
    """Every byte of the spans but line ends becomes a space; lines touched are right-stripped, so a
    line that held only the comment becomes empty."""
    out = bytearray(source)
    touched: set[int] = set()
    for start, end in spans:
        for i in range(start, end):
            if out[i] not in (0x0A, 0x0D):
                out[i] = 0x20
        first = source.count(b"\n", 0, start)
        touched.update(range(first, first + source.count(b"\n", start, end) + 1))
    lines = bytes(out).split(b"\n")
    for i in touched:
        if i < len(lines):
            lines[i] = lines[i].rstrip(b" \t")
    return b"\n".join(lines)


def strip_source(source: bytes, language: str) -> tuple[bytes, list[DocFunction]]:
    """The source with the doc comments of its functions and methods blanked (line numbers kept),
    and those functions, each with its doc. Raises ValueError when the stripped file no longer
    parses as cleanly as the original did."""
    parser = new_parser(language)
    tree = parser.parse(source)
    spans: list[tuple[int, int]] = []
    found: list[DocFunction] = []
    for d in _definitions(language, tree.root_node, source):
        docs, start_row = _doc_comments(language, d.node, source)
        texts = [comment_text(source[c.start_byte : c.end_byte].decode("utf-8", "replace")) for c in docs]
        doc = "\n".join(texts)
        sentence = first_sentence(doc) if docs else None
        if d.docless_start is not None:
            signature_docs, signature_row = _doc_comments(language, d.docless_start, source)
            start_row = signature_row
            if sentence is None and signature_docs:
                doc = "\n".join(
                    comment_text(source[c.start_byte : c.end_byte].decode("utf-8", "replace")) for c in signature_docs
                )
                sentence = first_sentence(doc)
            docs = signature_docs + docs
            # Docs of the signatures in between are the function's too.
            node = d.docless_start.next_named_sibling
            while node is not None and node.start_byte < d.node.start_byte:
                if node.type in _COMMENTS[language] and _is_doc(language, node, source):
                    docs.append(node)
                node = node.next_named_sibling
        if not docs:
            continue
        spans.extend((c.start_byte, c.end_byte) for c in docs)
        found.append(
            DocFunction(
                name=d.scope[-1],
                scope=".".join(d.scope),
                start=start_row + 1,
                def_line=_name_line(d.name_node),
                end=_last_row(d.node) + 1,
                doc=doc,
                query=sentence,
            )
        )
    stripped = _blank(source, sorted(set(spans)))
    if stripped.count(b"\n") != source.count(b"\n"):
        raise ValueError("line count changed")
    if parser.parse(stripped).root_node.has_error and not tree.root_node.has_error:
        raise ValueError("the stripped source no longer parses")
    return stripped, found
