"""bench/doc_strip.py: doc comments go, every line keeps its number, and the query is the doc's first sentence."""

from __future__ import annotations

import pytest

from bench import doc_strip
from mcp_server.index.languages import new_parser

GO = b"""package demo

// Package-level comment, separated by a blank line: no doc.

// Parse reads the `input` and returns its tree.
// It never panics.
//
//go:noinline
func Parse(input string) *Tree {
	// not a doc: inside the body
	return nil
}

// Close releases the [Parser] and its buffers.
func (p *Parser) Close() error { return nil } // trailing, kept

// floating comment

func Undocumented() {}
"""

JAVA = b"""package demo;

/** The parser class is documented too, but it is no function. */
public class Parser {
    /**
     * Parses the {@code input} into a {@link Tree tree}.
     * <p>More detail here.
     * @param input the text
     */
    @Override
    public Tree parse(String input) {
        return null;
    }

    // a line comment: no Javadoc
    void helper() {}

    /** Creates a parser with the default <b>options</b> set. */
    Parser() {}

    static class Inner {
        /** Resets the inner state to its start. */
        void reset() {}
    }
}
"""

TS = b"""import { x } from './x';

/**
 * Parses the given `source` into a [syntax tree](https://example.org/tree).
 *
 * @param source - the text
 */
export function parse(source: string): Tree {
  /** Nested functions are not taken. */
  function inner() {}
  return inner();
}

/** Formats the tree as **indented** text. */
export const format = (tree: Tree): string => '';

export class Printer {
  /**
   * Prints one node and its children.
   */
  @logged
  print(node: Node): void {}
}

export function over(a: string): void;
/** @deprecated */
export function over(a: number): void;
/** Handles both kinds of argument at once. */
export function over(a: any): void {}
"""

JS = b"""/** Adds two numbers together here. */
function add(a, b) { return a + b }
class K {
  /** Runs the thing right now. */
  run() {}
}
/* a plain block comment, no JSDoc */
const f = () => 1;
"""

RUST = b"""//! Crate docs stay: they document no function.

/// Creates a new, empty `Buffer` with room for [`capacity`] bytes.
///
/// # Examples
#[inline]
pub fn with_capacity(capacity: usize) -> Buffer {
    Buffer { len: 0 }
}

impl Buffer {
    /** Appends the bytes to the end of the buffer. */
    // an ordinary comment between, kept
    pub fn push(&mut self, bytes: &[u8]) {}
}

pub trait Read {
    /// Reads bytes into the buffer until it is full.
    fn read(&mut self, buf: &mut [u8]) -> usize;
}
"""

# language -> (source, {scope: (start, def_line, end, query)}, lines of doc comment blanked (1-based))
CASES = {
    "go": (
        GO,
        {
            "Parse": (9, 9, 12, "Parse reads the input and returns its tree."),
            "Parser.Close": (15, 15, 15, "Close releases the Parser and its buffers."),
        },
        [5, 6, 7, 14],
    ),
    "java": (
        JAVA,
        {
            "Parser.parse": (10, 11, 13, "Parses the input into a tree."),
            "Parser.Parser": (19, 19, 19, "Creates a parser with the default options set."),
            "Parser.Inner.reset": (23, 23, 23, "Resets the inner state to its start."),
        },
        [5, 6, 7, 8, 9, 18, 22],
    ),
    "typescript": (
        TS,
        {
            "parse": (8, 8, 12, "Parses the given source into a syntax tree."),
            "format": (15, 15, 15, "Formats the tree as indented text."),
            "Printer.print": (21, 22, 22, "Prints one node and its children."),
            "over": (25, 29, 29, "Handles both kinds of argument at once."),
        },
        [3, 4, 5, 6, 7, 14, 18, 19, 20, 26, 28],
    ),
    "javascript": (
        JS,
        {
            "add": (2, 2, 2, "Adds two numbers together here."),
            "K.run": (5, 5, 5, "Runs the thing right now."),
        },
        [1, 4],
    ),
    "rust": (
        RUST,
        {
            "with_capacity": (6, 7, 9, "Creates a new, empty Buffer with room for capacity bytes."),
            "Buffer.push": (14, 14, 14, "Appends the bytes to the end of the buffer."),
            "Read.read": (19, 19, 19, "Reads bytes into the buffer until it is full."),
        },
        [3, 4, 5, 12, 18],
    ),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_doc_comments_are_blanked_in_place(language: str) -> None:
    source, expected, doc_lines = CASES[language]
    stripped, found = doc_strip.strip_source(source, language)
    before, after = source.split(b"\n"), stripped.split(b"\n")
    assert len(after) == len(before)
    for number, (old, new) in enumerate(zip(before, after, strict=True), 1):
        if number in doc_lines:
            assert new == b"", f"line {number} still holds {new!r}"
        else:
            assert new == old, f"line {number} changed: {old!r} -> {new!r}"
    assert not new_parser(language).parse(stripped).root_node.has_error
    assert {f.scope: (f.start, f.def_line, f.end, f.query) for f in found} == expected


def test_a_comment_in_a_line_of_code_leaves_the_code() -> None:
    source = b"trait T { /// Reads one thing from it.\n fn r(&self); }\n"
    stripped, found = doc_strip.strip_source(source, "rust")
    assert stripped == b"trait T {\n fn r(&self); }\n"
    assert [(f.scope, f.start, f.query) for f in found] == [("T.r", 2, "Reads one thing from it.")]


@pytest.mark.parametrize(
    ("doc", "sentence"),
    [
        ("Returns the {@link Foo#bar(int) bar} of it. More.", "Returns the bar of it."),
        ("Returns {@link Foo#bar} for <code>x</code> &amp; y.", "Returns Foo.bar for x & y."),
        ("Writes to `out`, see [`Write`] and [docs][ref].\n\nSecond paragraph.", "Writes to out, see Write and docs."),
        ("@param x the x\nSomething else.", None),
        ("TODO: document this function properly", None),
        ("Summary on\ntwo lines\n@return it", "Summary on two lines"),
    ],
)
def test_first_sentence_is_plain_words(doc: str, sentence: str | None) -> None:
    assert doc_strip.first_sentence(doc) == sentence


def test_comment_markers_are_removed() -> None:
    assert doc_strip.comment_text("/**\n * One.\n *   indented\n */") == "One.\n  indented"
    assert doc_strip.comment_text("/// Rust doc\n") == "Rust doc"
    assert doc_strip.comment_text("// Go doc") == "Go doc"
