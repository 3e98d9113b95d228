"""Chunking: one chunk per small symbol, windows for large ones, never two definitions in one chunk of a large parent, headers."""

from __future__ import annotations

from mcp_server.index.chunk import MAX_COST, MAX_LINES, chunk_file
from mcp_server.index.parse import parse_source


def _chunks(source: str, module: str = "pkg.mod"):  # type: ignore[no-untyped-def]
    parsed = parse_source(source.encode(), "pkg/mod.py", "python", module)
    return parsed, chunk_file(source, parsed)


def test_top_level_definitions_get_a_chunk_each_starting_at_their_comment() -> None:
    parsed, chunks = _chunks("import os\n\n\n# The first.\ndef a():\n    return 1\n\n\ndef b():\n    return 2\n")
    assert [(c.start_line, c.end_line) for c in chunks] == [(1, 1), (4, 6), (9, 10)]
    assert [parsed.symbols[c.symbol].name for c in chunks if c.symbol] == ["a", "b"]


def test_a_small_class_stays_whole() -> None:
    parsed, chunks = _chunks("class A:\n    def x(self):\n        return 1\n\n    def y(self):\n        return 2\n")
    assert len(chunks) == 1 and parsed.symbols[chunks[0].symbol].name == "A"


def test_a_large_function_is_cut_into_windows_that_carry_its_signature() -> None:
    body = "".join(f"    value_{i} = compute_something_long(value_{i - 1}, factor={i})\n" for i in range(1, 120))
    source = "def big(x):\n    value_0 = x\n" + body + "    return value_119\n"
    parsed, chunks = _chunks(source)
    assert len(chunks) > 3
    assert all(len("".join(c.content.split())) <= MAX_COST or c.start_line == c.end_line for c in chunks)
    assert all(c.end_line - c.start_line + 1 <= MAX_LINES for c in chunks)
    later = chunks[1]
    assert later.header.startswith("function big") and "def big(x)" in later.header
    # Windows tile the function without gaps or overlaps.
    assert [c.start_line for c in chunks[1:]] == [c.end_line + 1 for c in chunks[:-1]]


def test_methods_of_a_large_class_become_their_own_chunks() -> None:
    methods = "".join(
        f"    def method_{i}(self, argument):\n"
        + "".join(f"        result = self.helper_{j}(argument) + {j}\n" for j in range(12))
        + "        return result\n\n"
        for i in range(8)
    )
    source = "class Service:\n    \"\"\"Does things.\"\"\"\n\n" + methods
    parsed, chunks = _chunks(source)
    names = {parsed.symbols[c.symbol].name for c in chunks if c.symbol is not None}
    assert {"method_0", "method_7"} <= names
    method_chunk = next(c for c in chunks if c.symbol is not None and parsed.symbols[c.symbol].name == "method_3")
    assert method_chunk.header == "method Service.method_3"


def test_small_methods_of_a_large_class_are_never_merged_with_each_other() -> None:
    small = "".join(f"    def get_{i}(self):\n        return self._value_{i}\n\n" for i in range(40))
    attributes = "".join(f"    FIELD_{i} = 'a default value for field number {i}'\n" for i in range(12))
    source = "class Record:\n" + attributes + "\n    def only(self):\n        return 0\n\n" + small
    parsed, chunks = _chunks(source)
    for c in chunks:
        inside = [s.name for s in parsed.symbols if s.kind == "method" and c.start_line <= s.start_line <= c.end_line]
        assert len(inside) <= 1, (c.start_line, c.end_line, inside)
    by_method = {
        parsed.symbols[c.symbol].name: c for c in chunks if c.symbol and parsed.symbols[c.symbol].kind == "method"
    }
    assert {f"get_{i}" for i in range(40)} <= set(by_method)
    # The class's own lines (its header and attributes) stay one chunk, named after the class.
    head = chunks[0]
    assert parsed.symbols[head.symbol].name == "Record" and head.start_line == 1


def test_plain_text_is_windowed_without_symbols() -> None:
    text = "\n".join(f"Paragraph {i}: customers fill a cart and pay at checkout." for i in range(200))
    chunks = chunk_file(text, None)
    assert len(chunks) > 1 and all(c.symbol is None and c.header == "" for c in chunks)


def test_an_empty_file_has_no_chunks() -> None:
    assert chunk_file("", None) == []


def test_only_the_first_window_of_a_long_definition_is_embedded() -> None:
    body = "".join(f"    value_{i} = compute_something_long(value_{i - 1}, factor={i})\n" for i in range(1, 120))
    source = "def small():\n    return 1\n\n\n# Big.\ndef big(x):\n    value_0 = x\n" + body + "    return value_119\n"
    parsed, chunks = _chunks(source)
    windows = [c for c in chunks if c.symbol is not None and parsed.symbols[c.symbol].name == "big"]
    assert len(windows) > 2
    assert [c.embed for c in windows] == [True] + [False] * (len(windows) - 1)
    assert windows[0].start_line == 5  # the comment above it, the signature and the body's start
    small = next(c for c in chunks if c.symbol is not None and parsed.symbols[c.symbol].name == "small")
    assert small.embed  # a one-line definition is a target like any other


def test_an_import_preamble_is_not_embedded_but_a_module_docstring_with_it_is() -> None:
    imports = "import os\nfrom typing import (\n    Any,\n    Callable,\n)\nfrom .pricing import total as price_total\n"
    _, chunks = _chunks(imports + "\n\ndef a():\n    return os.sep\n")
    assert [(c.start_line, c.embed) for c in chunks] == [(1, False), (9, True)]
    doc = '"""Shopping carts: what a customer is about to buy, kept between requests."""\n'
    _, chunks = _chunks(doc + imports + "\n\ndef a():\n    return os.sep\n")
    assert chunks[0].start_line == 1 and chunks[0].embed
    go = "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() {\n\tfmt.Println(os.Args)\n}\n"
    parsed = parse_source(go.encode(), "main.go", "go", "main")
    assert [c.embed for c in chunk_file(go, parsed)] == [False, True]
