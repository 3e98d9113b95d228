"""Which names a C file sees declared through its `#include`s, transitively: the resolver's evidence for a call."""

# A C call of a function the file itself neither defines nor declares compiles only through a
# declaration some included header holds (or an implicit one, which C99 forbids). When such a
# header declares the name and the repository defines it once, the call is that definition as
# surely as through a scope (records.CONF_SCOPED), not only by a unique name (CONF_UNIQUE).

from __future__ import annotations

from dataclasses import dataclass, field

import asyncpg

from ..index.records import DECLARES

_MAX_FILES = 10_000  # files an include closure may hold: a safety net for generated trees

_INCLUDES = """
SELECT e.file_id, e.target_name, e.candidates FROM edges e
WHERE e.repository_id = $1 AND e.kind = 'imports' AND e.file_id = ANY($2::bigint[])
ORDER BY e.id"""
_MODULES = """
SELECT s.qualified_name, s.file_id, f.path FROM symbols s JOIN files f ON f.id = s.file_id
WHERE s.repository_id = $1 AND s.kind = 'module' AND s.qualified_name = ANY($2::text[])
  AND f.language = ANY('{c,cpp}'::text[])"""
_DECLARED = f"""
SELECT e.file_id, e.target_name FROM edges e
WHERE e.repository_id = $1 AND e.kind = 'references' AND e.alias = '{DECLARES}' AND e.file_id = ANY($2::bigint[])"""


@dataclass(slots=True)
class Includes:
    """The include graph of a repository's C and C++ files and the functions each header declares."""

    edges: dict[int, list[int]] = field(default_factory=dict)  # file id -> files it includes
    declares: dict[int, set[str]] = field(default_factory=dict)  # header file id -> names declared
    _closure: dict[int, frozenset[int]] = field(default_factory=dict)

    def seen(self, file_id: int) -> frozenset[int]:
        """The file and every file it includes, directly or through another."""
        known = self._closure.get(file_id)
        if known is not None:
            return known
        out = {file_id}
        todo = [file_id]
        while todo and len(out) < _MAX_FILES:
            for nxt in self.edges.get(todo.pop(), ()):
                if nxt not in out:
                    out.add(nxt)
                    todo.append(nxt)
        self._closure[file_id] = frozenset(out)
        return self._closure[file_id]

    def declared_to(self, file_id: int, name: str, holders: set[int]) -> bool:
        """Whether `file_id` includes a header declaring `name`, or one of `holders` (files defining it)."""
        seen = self.seen(file_id)
        return bool(seen & holders) or any(name in self.declares.get(f, ()) for f in seen)


async def load_includes(conn: asyncpg.Connection, repository_id: int, file_ids: set[int]) -> Includes:
    """The include graph reachable from `file_ids`, level by level (an edit loads what its files
    include, not the whole repository's), and what those headers declare. Each `#include` is bound
    to the file it names: of the modules its candidates name (a header and its `.c` share a module
    name), the one whose file name is the written one."""
    out = Includes()
    done: set[int] = set()
    todo = set(file_ids)
    while todo and len(done) < _MAX_FILES:
        done |= todo
        rows = await conn.fetch(_INCLUDES, repository_id, sorted(todo))
        wanted = sorted({c for r in rows for c in r["candidates"] or ()})
        modules: dict[str, list[tuple[int, str]]] = {}
        for m in await conn.fetch(_MODULES, repository_id, wanted) if wanted else ():
            modules.setdefault(m["qualified_name"], []).append((m["file_id"], m["path"]))
        for r in rows:
            base = "/" + r["target_name"].rsplit("/", 1)[-1]
            for cand in r["candidates"] or ():
                hit = [fid for fid, path in modules.get(cand, ()) if ("/" + path).endswith(base)]
                if hit:
                    out.edges.setdefault(r["file_id"], []).append(hit[0])
                    break
        todo = {f for r in rows for f in out.edges.get(r["file_id"], ())} - done
    for r in await conn.fetch(_DECLARED, repository_id, sorted(done)):
        out.declares.setdefault(r["file_id"], set()).add(r["target_name"])
    return out
