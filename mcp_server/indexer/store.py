"""Write files' symbols, edges and chunks: one file replaced per transaction, or new files in one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

import asyncpg

from ..db.vector_marks import forget_pending, hold_chunk_writes
from ..index.chunk import content_hash, embed_text
from ..index.discover import FoundFile
from ..index.prepare import Prepared
from ..index.records import Chunk, ParsedFile
from ..index.tokens import code_terms
from .precise import status as compiler_status

_SYMBOL_COLUMNS = (
    "id",
    "repository_id",
    "file_id",
    "parent_id",
    "kind",
    "name",
    "qualified_name",
    "signature",
    "docstring",
    "start_line",
    "end_line",
    "start_byte",
    "end_byte",
)
EDGE_COLUMNS = (
    "repository_id",
    "file_id",
    "source_id",
    "target_id",
    "kind",
    "target_name",
    "target_simple",
    "candidates",
    "candidate_conf",
    "alias",
    "line",
    "confidence",
)

_UPSERT_FILE = """
INSERT INTO files (repository_id, path, language, content_hash, size, mtime_ns, line_count, parse_errors,
                   secrets_redacted, indexed_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
ON CONFLICT (repository_id, path) DO UPDATE SET
    language = EXCLUDED.language, content_hash = EXCLUDED.content_hash, size = EXCLUDED.size,
    mtime_ns = EXCLUDED.mtime_ns, line_count = EXCLUDED.line_count,
    parse_errors = EXCLUDED.parse_errors, secrets_redacted = EXCLUDED.secrets_redacted, indexed_at = now()
RETURNING id
"""

_INSERT_CHUNK = """
INSERT INTO chunks (repository_id, file_id, symbol_id, start_line, end_line, content, header, content_hash, embed, tsv)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
    setweight(to_tsvector('english', $10) || to_tsvector('simple', $11), 'A')
    || setweight(to_tsvector('english', $12), 'B')
    || to_tsvector('english', $13) || to_tsvector('simple', $14))
"""


@dataclass(frozen=True, slots=True)
class FileState:
    id: int
    size: int
    mtime_ns: int
    content_hash: bytes


async def file_states(conn: asyncpg.Connection, repository_id: int) -> dict[str, FileState]:
    rows = await conn.fetch(
        "SELECT id, path, size, mtime_ns, content_hash FROM files WHERE repository_id = $1", repository_id
    )
    return {r["path"]: FileState(r["id"], r["size"], r["mtime_ns"], bytes(r["content_hash"])) for r in rows}


async def touch_file(conn: asyncpg.Connection, file_id: int, found: FoundFile) -> None:
    """Same content, new stat: remember the stat so the next pass skips the hash."""
    await conn.execute("UPDATE files SET size = $2, mtime_ns = $3 WHERE id = $1", file_id, found.size, found.mtime_ns)


async def delete_files(conn: asyncpg.Connection, repository_id: int, paths: list[str]) -> set[str]:
    """Remove files and everything derived from them; returns the symbol names they defined."""
    if not paths:
        return set()
    async with conn.transaction():
        names = await conn.fetch(
            "SELECT DISTINCT s.name FROM symbols s JOIN files f ON f.id = s.file_id"
            " WHERE f.repository_id = $1 AND f.path = ANY($2::text[])",
            repository_id,
            paths,
        )
        await conn.execute(
            "DELETE FROM files WHERE repository_id = $1 AND path = ANY($2::text[])", repository_id, paths
        )
    forget_pending()
    compiler_status.changed()
    return {r["name"] for r in names}


async def store_file(
    conn: asyncpg.Connection,
    repository_id: int,
    found: FoundFile,
    digest: bytes,
    line_count: int,
    parsed: ParsedFile | None,
    chunks: list[Chunk],
    *,
    replacing: bool = True,
    secrets_redacted: int = 0,
) -> set[str]:
    """Replace the file's rows atomically; returns the symbol names it defined before and after.
    `replacing=False` says the file is new to the index, which saves the clean-up queries."""
    async with conn.transaction():
        await hold_chunk_writes(conn, repository_id)
        file_id: int = await conn.fetchval(
            _UPSERT_FILE,
            repository_id,
            found.path,
            found.language,
            digest,
            found.size,
            found.mtime_ns,
            line_count,
            bool(parsed and parsed.has_errors),
            secrets_redacted,
        )
        names: set[str] = set()
        if replacing:
            before = await conn.fetch("SELECT DISTINCT name FROM symbols WHERE file_id = $1", file_id)
            await conn.execute("DELETE FROM chunks WHERE file_id = $1", file_id)
            await conn.execute("DELETE FROM edges WHERE file_id = $1", file_id)
            await conn.execute("DELETE FROM symbols WHERE file_id = $1", file_id)
            names = {r["name"] for r in before}
        ids: list[int] = []
        if parsed is not None and parsed.symbols:
            ids = await _insert_symbols(conn, repository_id, file_id, parsed)
            await _insert_edges(conn, repository_id, file_id, parsed, ids)
            names.update(s.name for s in parsed.symbols)
        await _insert_chunks(conn, repository_id, file_id, found.path, chunks, ids)
    forget_pending()
    compiler_status.changed()
    return names


_INSERT_FILES = """
INSERT INTO files (repository_id, path, language, content_hash, size, mtime_ns, line_count, parse_errors,
                   secrets_redacted, indexed_at)
SELECT $1, * , now()
FROM unnest($2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::bigint[], $7::int[], $8::bool[], $9::int[])
RETURNING id, path
"""


async def store_new_files(conn: asyncpg.Connection, repository_id: int, files: Sequence[Prepared]) -> None:
    """Insert files the index has never held, all in one transaction: a cold index stores its
    files a worker batch at a time, one round trip per table instead of one per file and table.
    The caller holds the repository's lease, so no other writer can add these paths meanwhile;
    a path that exists after all fails the whole batch (unique key) rather than doubling rows."""
    if not files:
        return
    async with conn.transaction():
        await hold_chunk_writes(conn, repository_id)
        rows = await conn.fetch(
            _INSERT_FILES,
            repository_id,
            [f.found.path for f in files],
            [f.found.language for f in files],
            [f.digest for f in files],
            [f.found.size for f in files],
            [f.found.mtime_ns for f in files],
            [f.line_count for f in files],
            [bool(f.parsed and f.parsed.has_errors) for f in files],
            [f.secrets for f in files],
        )
        file_ids = {r["path"]: r["id"] for r in rows}
        total = sum(len(f.parsed.symbols) for f in files if f.parsed is not None)
        all_ids = await _next_symbol_ids(conn, total)
        symbols: list[tuple[object, ...]] = []
        edges: list[tuple[object, ...]] = []
        chunks: list[tuple[object, ...]] = []
        start = 0
        for f in files:
            file_id = file_ids[f.found.path]
            ids: list[int] = []
            if f.parsed is not None and f.parsed.symbols:
                ids = all_ids[start : start + len(f.parsed.symbols)]
                start += len(ids)
                symbols += _symbol_records(repository_id, file_id, f.parsed, ids)
                edges += _edge_records(repository_id, file_id, f.parsed, ids)
            chunks += _chunk_rows(repository_id, file_id, f.found.path, f.chunks, ids)
        if symbols:
            await conn.copy_records_to_table("symbols", records=symbols, columns=_SYMBOL_COLUMNS)
        if edges:
            await conn.copy_records_to_table("edges", records=edges, columns=EDGE_COLUMNS)
        if chunks:
            await conn.executemany(_INSERT_CHUNK, chunks)
    forget_pending()
    compiler_status.changed()


async def _next_symbol_ids(conn: asyncpg.Connection, count: int) -> list[int]:
    if count == 0:
        return []
    return [
        r[0]
        for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('symbols', 'id')) FROM generate_series(1, $1)", count
        )
    ]


async def _insert_symbols(conn: asyncpg.Connection, repository_id: int, file_id: int, parsed: ParsedFile) -> list[int]:
    ids = await _next_symbol_ids(conn, len(parsed.symbols))
    await conn.copy_records_to_table(
        "symbols", records=_symbol_records(repository_id, file_id, parsed, ids), columns=_SYMBOL_COLUMNS
    )
    return ids


def _symbol_records(repository_id: int, file_id: int, parsed: ParsedFile, ids: list[int]) -> list[tuple[object, ...]]:
    return [
        (
            ids[i],
            repository_id,
            file_id,
            ids[s.parent] if s.parent is not None else None,
            s.kind,
            s.name,
            s.qualified_name,
            s.signature,
            s.docstring,
            s.start_line,
            s.end_line,
            s.start_byte,
            s.end_byte,
        )
        for i, s in enumerate(parsed.symbols)
    ]


async def _insert_edges(
    conn: asyncpg.Connection, repository_id: int, file_id: int, parsed: ParsedFile, ids: list[int]
) -> None:
    records = _edge_records(repository_id, file_id, parsed, ids)
    if records:
        await conn.copy_records_to_table("edges", records=records, columns=EDGE_COLUMNS)


def _edge_records(repository_id: int, file_id: int, parsed: ParsedFile, ids: list[int]) -> list[tuple[object, ...]]:
    records: list[tuple[object, ...]] = []
    for i, s in enumerate(parsed.symbols):
        if s.parent is not None:
            # `contains` is structural and exact: it needs no resolution.
            records.append(
                (
                    repository_id,
                    file_id,
                    ids[s.parent],
                    ids[i],
                    "contains",
                    s.name,
                    s.name,
                    [],
                    [],
                    None,
                    s.start_line,
                    1.0,
                )
            )
    for e in parsed.edges:
        simple = _simple_name(e.target_name)
        records.append(
            (
                repository_id,
                file_id,
                ids[e.source],
                None,
                e.kind,
                e.target_name[:1000],
                simple[:200],
                [c for c, _ in e.candidates],
                [conf for _, conf in e.candidates],
                e.alias,
                e.line,
                0.0,
            )
        )
    return records


def _simple_name(target: str) -> str:
    """The last identifier of a dotted/scoped name: "os.path.join" -> "join", "Vec::new" -> "new"."""
    cleaned = target.rstrip("()").replace("::", ".").replace("#", ".").replace("->", ".")
    return cleaned.rsplit(".", 1)[-1].strip() or target


async def _insert_chunks(
    conn: asyncpg.Connection, repository_id: int, file_id: int, path: str, chunks: list[Chunk], ids: list[int]
) -> None:
    rows = _chunk_rows(repository_id, file_id, path, chunks, ids)
    if rows:
        await conn.executemany(_INSERT_CHUNK, rows)


def _chunk_rows(
    repository_id: int, file_id: int, path: str, chunks: list[Chunk], ids: list[int]
) -> list[tuple[object, ...]]:
    if not chunks:
        return []
    path_parts, _ = code_terms(str(PurePosixPath(path)))
    path_text = " ".join(path_parts)
    rows: list[tuple[object, ...]] = []
    for c in chunks:
        head_parts, head_idents = code_terms(c.header)
        parts, idents = code_terms(c.content)
        rows.append(
            (
                repository_id,
                file_id,
                ids[c.symbol] if (c.symbol is not None and ids) else None,
                c.start_line,
                c.end_line,
                c.content,
                c.header,
                content_hash(embed_text(c)),
                c.embed,
                " ".join(head_parts),
                " ".join(head_idents),
                path_text,
                " ".join(parts),
                " ".join(idents),
            )
        )
    return rows
