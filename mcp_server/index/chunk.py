"""Turn a parsed file into search chunks: a definition each, windows of large ones, a parent's own lines joined."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from .records import Chunk, ParsedFile

# Budget per chunk in non-whitespace characters: about the model's 256-token window for code
# (WordPiece ignores indentation; code averages ~2.7 non-blank characters per token).
MAX_COST = 700
MAX_LINES = 80
# Kinds that never stand alone as chunks: they stay in their container's text.
INLINE_KINDS = frozenset({"variable", "attribute", "constant", "field", "property"})
_MAX_DEPTH = 40
# A chunk's text is kept whole except for lines past this length (a data blob in a source file),
# which are cut: PostgreSQL refuses a tsvector over 1 MB, and nobody reads such a line in a snippet.
MAX_LINE_CHARS = 10_000


@dataclass(slots=True)
class _Piece:
    start: int  # 0-based line index, inclusive
    end: int  # exclusive
    symbol: int | None
    holds_child: bool = False  # a parent's piece that has taken in one of its children already


def chunk_file(text: str, parsed: ParsedFile | None) -> list[Chunk]:
    """Chunks covering the file's non-blank lines; each carries the header embedded with it."""
    lines = text.splitlines()
    if not lines:
        return []
    costs = [len("".join(line.split())) for line in lines]
    prefix = [0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    cutter = _Cutter(costs, prefix)
    if parsed is None or not parsed.symbols:
        pieces = cutter.windows(0, len(lines), None)
    else:
        children: dict[int, list[int]] = {}
        for i, sym in enumerate(parsed.symbols):
            if sym.parent is not None and sym.kind not in INLINE_KINDS:
                children.setdefault(sym.parent, []).append(i)
        cutter.children = children
        cutter.spans = [
            (_doc_start(lines, s.start_line - 1) if i else 0, min(s.end_line, len(lines)))
            for i, s in enumerate(parsed.symbols)
        ]
        pieces = cutter.split(0, 0, len(lines), 0)
    chunks = [_to_chunk(p, lines, parsed) for p in pieces if prefix[p.end] - prefix[p.start] > 0]
    if parsed is None:
        return chunks
    imports = {e.line for e in parsed.edges if e.kind == "imports"}
    return [c if worth_a_vector(c, parsed, imports) else dataclasses.replace(c, embed=False) for c in chunks]


# What is left of a module-level chunk besides its import lines, at most, for it to be only an
# import preamble: a `package` clause and the brackets of an import block, not a docstring.
_PREAMBLE_REST = 40


def worth_a_vector(chunk: Chunk, parsed: ParsedFile, import_lines: set[int]) -> bool:
    """Whether the model reads this chunk (the rest stay searched by keyword).

    Not a later window of a definition: its first window (doc comment, signature, start of the
    body) stands for it. Not an import preamble: module names are keyword evidence. On Django the
    two are a sixth of the texts and a fifth of the model's time, and leaving them out raised strict
    MRR@10 a little on every tuned corpus (bench/embed_cost.py, bench/retrieval.py)."""
    if chunk.symbol is not None and chunk.symbol != 0:
        sym = parsed.symbols[chunk.symbol]
        return chunk.start_line <= sym.start_line
    if not import_lines:
        return True
    rest = 0
    for number, line in enumerate(chunk.content.split("\n"), chunk.start_line):
        if number not in import_lines:
            rest += len("".join(line.split()))
    return rest > _PREAMBLE_REST


_COMMENT_STARTS = ("//", "/*", "*", "#", "--", "%", ";;")


def _doc_start(lines: list[str], start: int) -> int:
    """Move a definition's first line up over the comment block right above it: in most
    languages the doc comment precedes the definition, and it belongs in the same chunk."""
    while start > 0 and start <= len(lines):
        above = lines[start - 1].lstrip()
        if not above or not above.startswith(_COMMENT_STARTS) or above.startswith("#!"):
            break
        start -= 1
    return start


class _Cutter:
    def __init__(self, costs: list[int], prefix: list[int]) -> None:
        self.costs = costs
        self.prefix = prefix
        self.children: dict[int, list[int]] = {}
        self.spans: list[tuple[int, int]] = []

    def cost(self, start: int, end: int) -> int:
        return self.prefix[end] - self.prefix[start]

    def fits(self, start: int, end: int) -> bool:
        return self.cost(start, end) <= MAX_COST and end - start <= MAX_LINES

    def split(self, symbol: int, start: int, end: int, depth: int) -> list[_Piece]:
        # A whole small file would be one chunk named after the module; top-level definitions
        # get chunks of their own so a hit names the function or class it found.
        if depth > 0 and self.fits(start, end):
            return [_Piece(start, end, symbol)]
        kids = sorted(self.children.get(symbol, ()), key=lambda k: self.spans[k][0])
        if not kids or depth >= _MAX_DEPTH:
            return self.windows(start, end, symbol)
        pieces: list[_Piece] = []
        cursor = start
        for kid in kids:
            k_start, k_end = self.spans[kid]
            k_start, k_end = max(k_start, cursor), min(k_end, end)
            if k_end <= k_start:
                continue  # overlapping or out-of-range spans from a confused parse
            if k_start > cursor:
                pieces.extend(self.windows(cursor, k_start, symbol))
            pieces.extend(self.split(kid, k_start, k_end, depth + 1))
            cursor = k_end
        if cursor < end:
            pieces.extend(self.windows(cursor, end, symbol))
        return self.merge(pieces, symbol, siblings=depth > 0)

    def windows(self, start: int, end: int, symbol: int | None) -> list[_Piece]:
        """Consecutive line windows within budget (a single over-long line stands alone)."""
        pieces: list[_Piece] = []
        cursor = start
        while cursor < end:
            stop = cursor + 1
            while stop < end and self.fits(cursor, stop + 1):
                stop += 1
            pieces.append(_Piece(cursor, stop, symbol))
            cursor = stop
        return pieces

    def merge(self, pieces: list[_Piece], parent: int, siblings: bool) -> list[_Piece]:
        """Join neighbours while the union still fits, but never two definitions: one chunk of
        several small methods embeds as a blur of them all, and measured on docstring-to-code
        retrieval it cost the vector leg a sixth to a quarter of its MRR (requests .574 apart,
        .485 merged; werkzeug .479 and .347). A parent's own lines (a class header, decorators,
        attributes) join each other and the child beside them, which the union then belongs to
        unless the parent's lines are the larger part. At module level (`siblings` false) only the module's own
        lines join: a hit on a top-level definition starts where it (or its doc comment) starts."""
        merged: list[_Piece] = []
        for piece in pieces:
            if self.cost(piece.start, piece.end) == 0:
                continue
            last = merged[-1] if merged else None
            if last is None or not self.fits(last.start, piece.end):
                merged.append(piece)
            elif last.symbol == parent and piece.symbol == parent:
                merged[-1] = _Piece(last.start, piece.end, parent, last.holds_child)
            elif not siblings or (last.symbol != parent and piece.symbol != parent) or last.holds_child:
                merged.append(piece)  # two definitions, or a definition and module-level lines
            elif piece.symbol == parent:
                merged[-1] = _Piece(last.start, piece.end, last.symbol, last.holds_child)
            elif self.cost(piece.start, piece.end) >= self.cost(last.start, last.end):
                merged[-1] = _Piece(last.start, piece.end, piece.symbol)
            else:
                merged[-1] = _Piece(last.start, piece.end, parent, holds_child=True)
        return merged


def _to_chunk(piece: _Piece, lines: list[str], parsed: ParsedFile | None) -> Chunk:
    start, end = piece.start, piece.end
    # Trim blank lines at the edges so spans point at code.
    while start < end - 1 and not lines[start].strip():
        start += 1
    while end - 1 > start and not lines[end - 1].strip():
        end -= 1
    content = "\n".join(line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] for line in lines[start:end])
    header = _header(parsed, piece.symbol, start) if parsed is not None else ""
    return Chunk(symbol=piece.symbol, start_line=start + 1, end_line=end, content=content, header=header)


def _header(parsed: ParsedFile, symbol: int | None, start: int) -> str:
    """The scope chain inside the file, plus the signature when the chunk starts mid-symbol.

    The path is left out on purpose: a renamed file keeps its vectors.
    """
    if symbol is None or symbol == 0:
        return ""
    chain: list[str] = []
    cursor: int | None = symbol
    while cursor is not None and cursor != 0 and len(chain) < _MAX_DEPTH:
        chain.append(parsed.symbols[cursor].name)
        cursor = parsed.symbols[cursor].parent
    sym = parsed.symbols[symbol]
    header = f"{sym.kind} {'.'.join(reversed(chain))}"
    if start + 1 > sym.start_line and sym.signature:
        header += f" | {sym.signature}"
    return header


def embed_text(chunk: Chunk) -> str:
    """What the model sees for a chunk."""
    return f"{chunk.header}\n{chunk.content}" if chunk.header else chunk.content


def content_hash(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
