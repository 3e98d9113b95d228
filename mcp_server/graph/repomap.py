"""The repo map: symbols ranked by PageRank over the resolved graph, rendered to fit a token budget."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg
import numpy as np

from ..db import catalog
from .models import RankedSymbol, RepoMap
from .scope import SYMBOL_COLUMNS, SYMBOL_FROM, Conn, check_int, check_text, symbol_ref

MIN_TOKENS = 64
MAX_TOKENS = 16384
DAMPING = 0.85
ITERATIONS = 20
_CHARS_PER_TOKEN = 4
# The fewest characters a shown symbol adds to the answer: its JSON with empty strings and one-digit
# numbers (138) plus about the shortest rendered line. Bounds how many symbols could fit.
_MIN_SYMBOL_CHARS = 150
_MAX_SIGNATURE = 100
_SEPARATOR = re.compile(r"::|[.#]")

# The graph travels as packed binary arrays (big-endian, as int8send/float4send write them):
# 200k edges as Python records or int lists would cost more than the ranking itself. Edges are
# not grouped by pair: bincount sums parallel edges, so several call sites (and surer ones)
# weigh more, exactly as a GROUP BY would, without the sort.
_NODES = """
SELECT coalesce(string_agg(int8send(id), ''::bytea), ''::bytea) AS ids,
       coalesce(string_agg(int8send(file_id), ''::bytea), ''::bytea) AS files,
       coalesce(string_agg(CASE WHEN kind = 'module' THEN '\\x01'::bytea ELSE '\\x00'::bytea END, ''::bytea),
                ''::bytea) AS modules
FROM symbols WHERE repository_id = $1"""
_EDGES = """
SELECT coalesce(string_agg(int8send(source_id), ''::bytea), ''::bytea) AS sources,
       coalesce(string_agg(int8send(target_id), ''::bytea), ''::bytea) AS targets,
       coalesce(string_agg(float4send(confidence), ''::bytea), ''::bytea) AS weights
FROM edges
WHERE repository_id = $1 AND target_id IS NOT NULL AND kind <> 'contains' AND source_id <> target_id"""
# `nesting`: enclosing definitions below the file's module, namespaces not counted.
_DETAILS = f"""
SELECT {SYMBOL_COLUMNS},
       (SELECT m.qualified_name FROM symbols m
         WHERE m.file_id = s.file_id AND m.parent_id IS NULL AND m.kind = 'module' LIMIT 1) AS module,
       (WITH RECURSIVE up(id, parent_id, kind, hops) AS (
          SELECT p.id, p.parent_id, p.kind, 1 FROM symbols p WHERE p.id = s.parent_id
          UNION ALL
          SELECT p.id, p.parent_id, p.kind, up.hops + 1 FROM symbols p JOIN up ON p.id = up.parent_id
          WHERE up.hops < 32)
        SELECT count(*) FROM up WHERE up.parent_id IS NOT NULL AND up.kind NOT IN ('namespace', 'package')
       ) AS nesting
FROM {SYMBOL_FROM} WHERE s.id = ANY($1::bigint[])"""


def pagerank(n: int, sources: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted PageRank by power iteration; rank of dangling nodes is spread evenly."""
    if n == 0:
        return np.zeros(0)
    out = np.bincount(sources, weights=weights, minlength=n)
    share = weights / out[sources] if len(sources) else weights
    dangling = out == 0
    rank = np.full(n, 1.0 / n)
    for _ in range(ITERATIONS):
        flow = np.bincount(targets, weights=rank[sources] * share, minlength=n)
        rank = (1.0 - DAMPING) / n + DAMPING * (flow + rank[dangling].sum() / n)
    return rank


def _indexed(ids: np.ndarray, edges: Mapping[str, bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges as positions in the sorted `ids`; any edge to a symbol not listed is dropped."""
    raw_sources = np.frombuffer(edges["sources"], dtype=">i8")
    raw_targets = np.frombuffer(edges["targets"], dtype=">i8")
    weights = np.frombuffer(edges["weights"], dtype=">f4").astype(np.float64)
    if len(ids) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    sources = np.minimum(np.searchsorted(ids, raw_sources), len(ids) - 1)
    targets = np.minimum(np.searchsorted(ids, raw_targets), len(ids) - 1)
    # Rows written by a concurrent re-index may name symbols this snapshot lacks.
    known = (ids[sources] == raw_sources) & (ids[targets] == raw_targets)
    return sources[known], targets[known], weights[known]


@dataclass(frozen=True, slots=True)
class _Entry:
    ref: RankedSymbol
    file_score: float
    line: str


@dataclass(frozen=True, slots=True)
class MapAnswer:
    """A repo map as a client receives it: `text` to read and `data` for programs (sent as JSON).
    Both count against the budget: a client is handed the two together."""

    text: str
    data: RepoMap

    @property
    def chars(self) -> int:
        return len(self.text) + len(self.data.model_dump_json())


async def repo_map(
    conn: Conn, repository: str, max_tokens: int = 1024, notes: Mapping[str, str] | None = None
) -> MapAnswer:
    """The most central symbols of a repository, grouped by file; text and data within `max_tokens`.
    `notes` gives a sentence to show with the map of each repository that has one (its root folder is
    missing, ...): first in the text and in the data's notes, within the budget too."""
    max_tokens = check_int("max_tokens", max_tokens, MIN_TOKENS, MAX_TOKENS)
    repo = await catalog.find(conn, check_text("repository", repository))  # type: ignore[arg-type]
    nodes = await conn.fetchrow(_NODES, repo.id)
    edges = await conn.fetchrow(_EDGES, repo.id)
    unsorted = np.frombuffer(nodes["ids"], dtype=">i8")
    by_id = np.argsort(unsorted, kind="stable")
    ids = unsorted[by_id]
    file_ids = np.frombuffer(nodes["files"], dtype=">i8")[by_id]
    is_module = np.frombuffer(nodes["modules"], dtype=np.uint8)[by_id].astype(bool)
    sources, targets, weights = _indexed(ids, edges)
    # Modules stay in the graph (module-level code imports and calls: that is how a file
    # votes for what it uses) but are not listed: a file is shown through its definitions.
    rank = pagerank(len(ids), sources, targets, weights)
    candidates = np.flatnonzero(~is_module)
    order = candidates[np.argsort(-rank[candidates], kind="stable")]
    _, file_index = np.unique(file_ids, return_inverse=True)
    file_score = np.bincount(
        file_index[candidates], weights=rank[candidates], minlength=int(file_index.max(initial=0)) + 1
    )
    top = order[: max_tokens * _CHARS_PER_TOKEN // _MIN_SYMBOL_CHARS + 1]
    rows = {r["id"]: r for r in await conn.fetch(_DETAILS, ids[top].tolist())}
    best = float(rank[order[0]]) if len(order) else 1.0
    entries: list[_Entry] = []
    for position, index in enumerate(top):
        row = rows.get(int(ids[index]))
        if row is None:
            continue  # deleted by a concurrent re-index
        ref = RankedSymbol(**symbol_ref(row).model_dump(), rank=position + 1, score=round(float(rank[index]) / best, 4))
        entries.append(_Entry(ref, float(file_score[file_index[index]]), _line(row)))

    noted = [notes[repo.name]] if notes and repo.name in notes else []

    def answer(shown: int) -> MapAnswer:
        return _answer(repo.name, entries[:shown], len(candidates), len(weights), max_tokens, noted)

    # The largest prefix of the ranking whose answer fits: the answer grows with every entry.
    low, high = 0, len(entries)
    while low < high:
        mid = (low + high + 1) // 2
        if _tokens(answer(mid).chars) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return answer(low)


def _answer(
    repository: str, entries: list[_Entry], symbols_total: int, edges_total: int, max_tokens: int, notes: list[str]
) -> MapAnswer:
    hidden = symbols_total - len(entries)
    # A note is shown even when it alone outgrows a tiny budget: without it the map misleads.
    text = (
        "".join(f"note: {n}\n" for n in notes)
        + _render(entries)
        + (f"… {hidden:,} more definitions: raise max_tokens to see them\n" if hidden else "")
    )
    data = RepoMap(
        repository=repository,
        tokens=max_tokens,
        symbols=[e.ref for e in entries],
        symbols_total=symbols_total,
        edges_total=edges_total,
        truncated=hidden > 0,
        notes=notes,
    )
    # `tokens` counts its own digits: settle it (its first value has the most digits it can need).
    for _ in range(3):
        tokens = _tokens(MapAnswer(text, data).chars)
        if tokens == data.tokens:
            break
        data = data.model_copy(update={"tokens": tokens})
    return MapAnswer(text, data)


def _tokens(chars: int) -> int:
    return math.ceil(chars / _CHARS_PER_TOKEN)


def _render(entries: list[_Entry]) -> str:
    by_file: dict[str, list[_Entry]] = {}
    for e in entries:
        by_file.setdefault(e.ref.path, []).append(e)
    files = sorted(by_file.items(), key=lambda kv: (-kv[1][0].file_score, kv[0]))
    return "".join(f"{path}:\n" + "".join(f"  {e.line}\n" for e in group) for path, group in files)


def _line(row: asyncpg.Record) -> str:
    kind, name = row["kind"], row["name"]
    tail = _tail(row["qualified_name"], row["module"], row["nesting"] or 0)
    if not tail.endswith(name):
        tail = name  # a name with separators in it (C# namespace "Shop.Accounting")
    signature = " ".join((row["signature"] or "").split())
    if len(signature) > _MAX_SIGNATURE:
        signature = signature[: _MAX_SIGNATURE - 1] + "…"
    # "class Cart" says nothing the kind and name did not already say.
    show = signature and signature not in (name, f"{kind} {name}")
    return f"{kind} {tail}" + (f" | {signature}" if show else "") + f" ({row['start_line']})"


def _tail(qualified: str, module: str | None, nesting: int) -> str:
    """The name inside its file: "Cart.total" for "shop.cart.Cart.total" in module "shop.cart"."""
    parts = _SEPARATOR.split(qualified)
    seps = _SEPARATOR.findall(qualified) + [""]
    keep = max(len(parts) - nesting - 1, 0)
    if module:
        # The module's path inside the qualified name, as a prefix ("shop.cart.") or after a
        # crate root ("crate::lib::inventory::" for module "lib.inventory").
        module_parts = _SEPARATOR.split(module)
        for start in range(len(parts) - len(module_parts)):
            if parts[start : start + len(module_parts)] == module_parts:
                keep = start + len(module_parts)
                break
    # Otherwise the name is qualified by package or namespace rather than by file (Java, C#,
    # Go): one segment per enclosing definition is what locates it in the file.
    return "".join(p + s for p, s in zip(parts[keep:], seps[keep:], strict=True))
