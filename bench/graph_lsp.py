"""Graph precision and recall in Go, TypeScript and JavaScript, with each language's own server as truth.

Each corpus (bench/lsp_corpora.py: pinned Debian and npm packages) is indexed by the real pipeline
without embeddings, and pgcode's answers are read through the functions the MCP tools call
(graph.walk.find_references / find_callers, graph.symbols.goto_definition, the symbol passed by
id as a client may), against the language server spoken to over plain JSON-RPC on stdio
(gopls for Go; typescript-language-server over typescript 5's tsserver for TypeScript and JS):

 (a) references: for a fixed-seed sample of functions and methods, `textDocument/references`
     (includeDeclaration false) at the definition's name against find_references, both as
     (path, line) sets: micro and macro precision/recall, pgcode's precision split by the
     edge's confidence (1.0 / 0.9 / 0.5 / other).
 (b) callers: `prepareCallHierarchy` + `callHierarchy/incomingCalls` against find_callers
     (depth 1). Function level: each call site the server lists is mapped to the innermost
     function, method, class, namespace or module pgcode has around it; also at (path, line).
 (c) goto_definition: a fixed-seed sample of call sites found with tree-sitter (every call in
     the corpus, not only those pgcode recorded) answered by `textDocument/definition`, against
     pgcode's first definition. In-repo target: right when pgcode's first answer is that
     definition; target outside the repository (standard library, a dependency): right when
     pgcode gives none. Also: how often pgcode answers, how often an answer is wrong, and the
     share of in-repo sites it answers at confidence >= 0.9.

The server is the judge only where it answers: a sample it errors on or cannot place (a call into
a dependency that is not here, "no object found") is dropped and counted; a request that times
out or crashes the server restarts it and is counted as skipped. Every question is asked until
its answer holds (gopls 0.11 answers references of an interface method with nothing about half
the time, at random): twice when it is the same, up to six times when it is empty, and the union
of four when the answers differ, counted as unstable. Misses and
false positives keep examples (pgcode's file:line against the server's), grouped into kinds by
the shape of the site and what pgcode recorded there: the kinds tell what to fix next.
In Go, interface methods are scored apart (gopls 0.11's answers for them change from one asking
to the next) and left out of the headline figures. Declarations are not uses: the server's references that are another definition of the name (an
overriding or implementing method) and JSDoc `{@link}` mentions in comments are left out of both
sides and counted apart, and so are callers inside a function a macro defines (gtest's
`TEST_F(Fixture, Name) { ... }`), which clangd 14's call hierarchy never names. C functions one
name defines in several translation units (each program's `main`) are one symbol to clangd (one
USR, `c:@F@main`): its call hierarchy files their call sites under one of the files, so a site is
moved to the function of that name whose body holds the line and the callee's name (counted apart
as `callers: sites moved to their own program's function`), and such functions are not sampled. In JavaScript, a reference or caller pgcode gives at a site the
server's references omit is asked about once more, with the server's own definition there: when
that lands on the symbol (or on a site its references list, the `{ f }` of `module.exports = { f }`
that `const { f } = require(...)` is bound to), tsserver's references merely stopped at a CommonJS
export it follows everywhere else (plain JavaScript, no checkJs), and the site is left out of both
sides and counted apart (server_definition_only_excluded, with examples).

    python bench/graph_lsp.py                                  # every corpus
    python bench/graph_lsp.py --language go --samples 40 --sites 80
    python bench/graph_lsp.py --corpus zod --reuse-index

Rust (rust-analyzer) and Java have no installable server here: the output and JSON say so. Rust is
scored against the compiler instead by bench/graph_rustc.py, which reuses this scoring.
Writes bench/results/graph_lsp[-label]-<stamp>.json and graph_lsp-latest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import lsp_corpora
import lsp_javac
import lsp_php
from _common import (
    add_compiler_pass_argument,
    add_database_arguments,
    claim_repository,
    compiler_pass_summary,
    load,
    machine,
    settings_for,
    table,
    write_result,
)
from lsp_client import LanguageServer, LspCrashed, LspError, LspTimeout, uri_path
from lsp_sites import CallSite, call_sites, definition_column, go_import_names, utf16

from mcp_server.db.pool import open_database
from mcp_server.errors import InvalidArgument
from mcp_server.graph.symbols import goto_definition
from mcp_server.graph.walk import find_callers, find_references
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging

SEED = 1234
SAMPLED_KINDS = ("function", "method", "constructor")
# What a call site belongs to: pgcode's scopes (a constant holding an arrow function is not one).
SCOPE_KINDS = frozenset({"function", "method", "constructor", "class", "namespace", "module", "struct", "interface"})
BUCKETS = ("1.0", "0.9", "0.5", "other")
MAX_EXAMPLES = 60
STABLE_TRIES = 6  # questions asked at most per sample (see Truth.ask_stable)
_IMPORT_LINE = re.compile(r"^\s*(import\b|export\b.*\bfrom\b|.*\brequire\s*\()")


def bucket(confidence: float) -> str:
    c = round(confidence, 1)
    return f"{c:.1f}" if f"{c:.1f}" in BUCKETS else "other"


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b else None


def mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


@dataclass(slots=True)
class Sym:
    id: int
    path: str
    language: str | None
    kind: str
    name: str
    qualified_name: str
    start_line: int
    end_line: int
    parent_id: int | None


@dataclass(slots=True)
class EdgeRow:
    kind: str
    target_name: str
    alias: str | None
    target_id: int | None
    confidence: float


@dataclass(slots=True)
class Index:
    """The corpus as pgcode stored it: symbols, and edges by (path, line)."""

    repo: str
    syms: dict[int, Sym]
    files: set[str]
    edges_at: dict[tuple[str, int], list[EdgeRow]]
    scopes: dict[str, list[Sym]] = field(default_factory=dict)
    # Files and functions the truth never saw (bench/graph_rustc.py: a module or a method only a
    # feature left off compiles): pgcode's answers there are scored on neither side.
    no_truth: set[str] = field(default_factory=set)
    no_truth_syms: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        for s in self.syms.values():
            if s.kind in SCOPE_KINDS:
                self.scopes.setdefault(s.path, []).append(s)

    def innermost(self, path: str, line: int) -> Sym | None:
        around = [s for s in self.scopes.get(path, []) if s.start_line <= line <= s.end_line]
        return min(around, key=lambda s: (s.end_line - s.start_line, s.kind == "module", s.id)) if around else None

    def unscored(self, path: str, line: int) -> bool:
        """Whether a site lies where the truth has nothing to say (see no_truth)."""
        if path in self.no_truth:
            return True
        if not self.no_truth_syms:
            return False
        around = [s for s in self.scopes.get(path, []) if s.start_line <= line <= s.end_line]
        return any(s.id in self.no_truth_syms for s in around)

    def innermost_any(self, path: str, line: int) -> Sym | None:
        around = [s for s in self.syms.values() if s.path == path and s.start_line <= line <= s.end_line]
        return min(around, key=lambda s: (s.end_line - s.start_line, s.kind == "module", s.id)) if around else None


async def load_index(conn: Any, repo: str) -> Index:
    rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", repo)
    syms = {
        r["id"]: Sym(**dict(r))
        for r in await conn.fetch(
            """SELECT s.id, f.path, f.language, s.kind, s.name, s.qualified_name, s.start_line, s.end_line, s.parent_id
           FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.repository_id = $1""",
            rid,
        )
    }
    files = {r["path"] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", rid)}
    edges_at: dict[tuple[str, int], list[EdgeRow]] = defaultdict(list)
    for r in await conn.fetch(
        """SELECT f.path, e.line, e.kind, e.target_name, e.alias, e.target_id, e.confidence
               FROM edges e JOIN files f ON f.id = e.file_id WHERE e.repository_id = $1 AND e.kind <> 'contains'""",
        rid,
    ):
        edges_at[(r["path"], r["line"])].append(
            EdgeRow(r["kind"], r["target_name"], r["alias"], r["target_id"], r["confidence"])
        )
    return Index(repo, syms, files, edges_at)


# --- the truth server ------------------------------------------------------------------------------


@dataclass(slots=True)
class Truth:
    """The server for one corpus, with its counts of what it could not answer."""

    server: LanguageServer
    root: Path
    lines: dict[str, list[str]] = field(default_factory=dict)
    outcomes: Counter[str] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # The column (UTF-16, equal to characters on ASCII lines) of the last location seen per line.
    columns: dict[tuple[str, int], int] = field(default_factory=dict)

    def text(self, rel: str) -> list[str]:
        if rel not in self.lines:
            self.lines[rel] = (self.root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
        return self.lines[rel]

    def rel(self, uri: str) -> str | None:
        path = uri_path(uri)
        if path is None:
            return None
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def ask(
        self,
        what: str,
        method: str,
        rel: str | None,
        line: int,
        column: int,
        timeout: float,
        params: Any = None,
        **extra: Any,
    ) -> tuple[str, Any]:
        """("ok", result) or (timeout | crashed | error, None); counted under `what`."""
        started = time.perf_counter()
        try:
            if rel is None:
                result = self.server.request(method, params, timeout)
            else:
                text = self.text(rel)[line - 1] if 1 <= line <= len(self.text(rel)) else ""
                result = self.server.at(method, self.root / rel, line - 1, utf16(text, column), timeout, **extra)
            self.outcomes[f"{what}:ok"] += 1
            return "ok", result
        except LspTimeout:
            self.outcomes[f"{what}:timeout"] += 1
            return "timeout", None
        except LspCrashed as exc:
            self.outcomes[f"{what}:crashed"] += 1
            self.error_kinds[f"{what}: crashed: {str(exc)[:80]}"] += 1
            return "crashed", None
        except LspError as exc:
            self.outcomes[f"{what}:error"] += 1
            self.error_kinds[f"{what}: {re.sub(r'[0-9]+', 'N', str(exc))[:100]}"] += 1
            return "error", None
        finally:
            self.seconds += time.perf_counter() - started

    def ask_stable(
        self,
        what: str,
        method: str,
        rel: str | None,
        line: int,
        column: int,
        timeout: float,
        params: Any = None,
        **extra: Any,
    ) -> tuple[str, Any]:
        """`ask`, until the answer holds: gopls 0.11 answers references of an interface method
        with nothing about half the time, at random, and in full otherwise. Two equal non-empty
        answers settle it; an empty one is asked up to six times; differing answers are asked
        four times and their union kept (counted as unstable)."""
        answers: list[list[Any]] = []
        for attempt in range(STABLE_TRIES):
            status, result = self.ask(what, method, rel, line, column, timeout, params, **extra)
            if status != "ok":
                return status, None
            answers.append(result if isinstance(result, list) else ([result] if result else []))
            if attempt < 1:
                continue
            if all(_same_items(answers[0], a) for a in answers):
                if answers[0] or attempt == STABLE_TRIES - 1:
                    return "ok", answers[0]
            elif attempt >= 3:
                break
        self.outcomes[f"{what}:unstable"] += 1
        seen: dict[str, Any] = {}
        for items in answers:
            for item in items:
                seen.setdefault(json.dumps(item, sort_keys=True), item)
        return "ok", list(seen.values())

    def locations(self, result: Any) -> tuple[list[tuple[str, int]], int]:
        """In-repo (path, 1-based line) of an LSP Location / Location[] / LocationLink[] answer,
        and how many locations were outside the repository."""
        items = result if isinstance(result, list) else ([result] if result else [])
        inside: list[tuple[str, int]] = []
        outside = 0
        for item in items:
            uri = item.get("uri") or item.get("targetUri")
            rng = item.get("range") or item.get("targetSelectionRange") or item.get("targetRange")
            rel = self.rel(uri) if uri else None
            if rel is None or rng is None:
                outside += 1
                continue
            inside.append((rel, rng["start"]["line"] + 1))
            self.columns[(rel, rng["start"]["line"] + 1)] = rng["start"]["character"]
        return inside, outside


def _same_items(a: list[Any], b: list[Any]) -> bool:
    return sorted(json.dumps(x, sort_keys=True) for x in a) == sorted(json.dumps(x, sort_keys=True) for x in b)


# --- kinds of miss -----------------------------------------------------------------------------------


def site_shape(text: str, column: int, name: str, language: str, imports: set[str], previous: str = "") -> str:
    """How a name is written at a use: the syntax a resolver has to handle there (`previous` is
    the line before: a chain continued across lines, `x.\n  m()` or `x\n  .m()`)."""
    if _IMPORT_LINE.match(text):
        return "import/export/require line"
    before = text[:column].rstrip()
    if not before.strip() and previous.rstrip().endswith("."):
        before = previous.rstrip()
    after = text[column + len(name) :].lstrip()
    use = "call" if after.startswith("(") or (language != "go" and after.startswith("<")) else "value"
    if before.endswith("new"):
        use = "new"
    if before.endswith("?."):
        before = before[:-2] + "."
    if before.endswith("."):
        receiver = before[:-1].rstrip()
        m = re.search(r"([\w$]+)$", receiver)
        if receiver.endswith((")", "]")):
            how = "member of a call result / index"
        elif m and m.group(1) in ("this", "self"):
            how = "this.member"
        elif m and language == "go" and m.group(1) in imports:
            how = "package-qualified"
        elif m and re.search(r"[\w$]+\s*\.\s*[\w$]+$", receiver):
            how = "member of a field/chain (a.b.m)"
        else:
            how = "member of a variable/parameter"
        return f"{how} {use}"
    if before.endswith(("{", ",")) and after.startswith(("}", ",", ":")) and language != "go":
        return f"bare name in an object/destructuring {use}"
    return f"bare name {use}"


_SPECIFIER = re.compile(r"^\s*(type\s+)?[\w$]+(\s+as\s+[\w$]+)?\s*,?\s*(//.*)?$")
# `import {`, `import X, {`, `export {`, `export type {`: not `export default {` nor `export const
# x = {`, whose lines are an object's members (definitions tsserver answers with), not specifiers.
_BLOCK_OPEN = re.compile(r"^\s*(import\b[^}=]*|export(\s+type)?\s*)\{\s*$")


def in_import_block(lines: list[str], line: int) -> bool:
    """Whether line `line` is a specifier inside a multi-line `import {` / `export {` list."""
    if not 1 <= line <= len(lines) or not _SPECIFIER.match(lines[line - 1]):
        return False
    for ln in range(line - 1, max(0, line - 80), -1):
        text = lines[ln - 1]
        if _BLOCK_OPEN.match(text):
            return True
        if not _SPECIFIER.match(text) and text.strip():
            return False
    return False


def _is_import(lines: list[str], line: int) -> bool:
    return 1 <= line <= len(lines) and (bool(_IMPORT_LINE.match(lines[line - 1])) or in_import_block(lines, line))


def in_comment(lines: list[str], line: int, column: int | None) -> bool:
    """Whether a position is in a comment: a `//` before it on the line, or a block comment's line."""
    if not 1 <= line <= len(lines):
        return False
    text = lines[line - 1]
    stripped = text.lstrip()
    if stripped.startswith(("*", "/*", "//")):
        return True
    cut = text.find("//")
    return (
        column is not None
        and 0 <= cut < column
        and text.count('"', 0, cut) % 2 == 0
        and text.count("'", 0, cut) % 2 == 0
        and text.count("`", 0, cut) % 2 == 0
    )


def pgcode_at(index: Index, path: str, line: int, name: str, wanted: set[int]) -> str:
    """What pgcode recorded for `name` on that line."""
    rows = [
        e
        for e in index.edges_at.get((path, line), [])
        if name in (e.alias, re.findall(r"[\w$]+", e.target_name)[-1:] and re.findall(r"[\w$]+", e.target_name)[-1])
    ]
    if not rows:
        rows = [e for e in index.edges_at.get((path, line), []) if name in re.findall(r"[\w$]+", e.target_name)]
        if not rows:
            return "no edge recorded"
    if any(e.target_id in wanted for e in rows):
        return "recorded and resolved here"
    if all(e.target_id is None for e in rows):
        return "recorded, unresolved"
    return "resolved to another symbol"


def _keep(examples: dict[str, list[dict[str, Any]]], key: str, item: dict[str, Any]) -> None:
    if len(examples[key]) < MAX_EXAMPLES:
        examples[key].append(item)


def top_kinds(counter: Counter[str], examples: dict[str, dict[str, Any]], n: int = 8) -> list[dict[str, Any]]:
    return [{"kind": k, "count": c, "example": examples.get(k)} for k, c in counter.most_common(n)]


# --- one corpus ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    truth: int = 0
    pgcode: int = 0
    both: int = 0
    precisions: list[float] = field(default_factory=list)
    recalls: list[float] = field(default_factory=list)

    def add(self, truth: set[Any], got: set[Any]) -> None:
        tp = len(truth & got)
        self.truth += len(truth)
        self.pgcode += len(got)
        self.both += tp
        if got:
            self.precisions.append(tp / len(got))
        if truth:
            self.recalls.append(tp / len(truth))

    def summary(self) -> dict[str, Any]:
        return {
            "truth": self.truth,
            "pgcode": self.pgcode,
            "both": self.both,
            "precision": ratio(self.both, self.pgcode),
            "recall": ratio(self.both, self.truth),
            "macro_precision": mean(self.precisions),
            "macro_recall": mean(self.recalls),
            "samples_with_truth": len(self.recalls),
            "samples_with_answer": len(self.precisions),
        }


def sample_functions(index: Index, language: str, n: int, rng: random.Random) -> list[Sym]:
    """One symbol per qualified name (overload signatures and the implementation are one), the
    widest; sorted before sampling so the seed alone decides."""
    groups: dict[str, list[Sym]] = defaultdict(list)
    for s in index.syms.values():
        if s.kind in SAMPLED_KINDS and s.language == language:
            groups[s.qualified_name].append(s)
    pool = sorted(
        (max(g, key=lambda s: (s.end_line - s.start_line, -s.id)) for g in groups.values()),
        key=lambda s: (s.path, s.start_line, s.qualified_name),
    )
    return rng.sample(pool, n) if len(pool) > n else pool


C_UNITS = (".c", ".cc", ".cpp", ".cxx", ".c++")


def programs_apart(index: Index) -> dict[str, list[Sym]]:
    """C/C++ functions a name defines in several translation units, by name: programs apart,
    which clangd merges into one symbol (their USR is the name alone)."""
    by_name: dict[str, list[Sym]] = defaultdict(list)
    for s in index.syms.values():
        if s.kind == "function" and "::" not in s.qualified_name and s.path.endswith(C_UNITS):
            by_name[s.name].append(s)
    return {n: group for n, group in by_name.items() if len({s.path for s in group}) > 1}


def own_program_site(
    apart: dict[str, list[Sym]], text: Callable[[str], list[str]], caller: str, callee: str, rel: str, line: int
) -> tuple[str, int] | None:
    """Where a call clangd files under `rel` is, when its caller is one of several same-named
    functions: the one whose body holds the line and (of several) writes the callee's name there."""
    if caller not in apart:
        return rel, line
    around = [s for s in apart[caller] if s.start_line <= line <= s.end_line]
    written = re.compile(rf"\b{re.escape(callee)}\b")
    writes = [s for s in around if line <= len(text(s.path)) and written.search(text(s.path)[line - 1])]
    found = writes or around
    return (found[0].path, line) if len(found) == 1 else None


def twins(index: Index, sym: Sym) -> set[int]:
    return {s.id for s in index.syms.values() if s.qualified_name == sym.qualified_name}


async def run_corpus(db: Any, settings: Any, corpus: lsp_corpora.LspCorpus, args: argparse.Namespace) -> dict[str, Any]:
    load_before = load()
    started = time.perf_counter()
    root = lsp_corpora.corpus_root(corpus).resolve()
    repo = f"bench-lsp-{corpus.name}"
    await claim_repository(db, repo, root, fresh=not args.reuse_index)
    report = await index_repository(db, settings, root, name=repo)
    index_seconds = time.perf_counter() - started
    compiler = await compiler_pass_summary(db, settings, repo) if args.compiler_pass else None
    async with db.pool.acquire() as conn:
        index = await load_index(conn, repo)
    print(
        f"[{corpus.name}] indexed {len(index.files)} files in {index_seconds:.1f}s; starting the server ...", flush=True
    )

    command = lsp_corpora.server_command(corpus.language)
    if isinstance(command, str):
        return {"corpus": corpus.name, "language": corpus.language, "unavailable": command}
    argv, env, init = command
    log = lsp_corpora.LSP_CACHE / f"{corpus.name}-server.log"
    log.write_bytes(b"")
    sources = lsp_corpora.source_files(corpus, root)
    server: Any
    if corpus.language == "java":  # javac's own resolution, answered like a server
        server = lsp_javac.JavacServer(root, sources, lsp_corpora.java_classpath(), lsp_corpora.LSP_CACHE, log)
    elif corpus.language == "php":  # no call hierarchy: callers from references at call sites
        server = lsp_php.CallsFromReferences(LanguageServer(argv, root, corpus.language, env, init, stderr_log=log))
    else:
        server = LanguageServer(argv, root, corpus.language, env, init, stderr_log=log)
    first = next((p for p in sources if "test" not in p.name), sources[0])
    truth = Truth(server, root)
    load_seconds: list[float] = []
    server.start(lambda srv: load_seconds.append(srv.wait_loaded(first, timeout=args.load_timeout)))
    try:
        result = await _score(db, corpus, index, truth, args)
    finally:
        server.stop()
    result.update(
        {
            "corpus": corpus.name,
            "language": corpus.language,
            "package": corpus.pinned,
            "held_out": corpus.held_out,
            "files": len(index.files),
            "lines": sum((root / p).read_bytes().count(b"\n") for p in index.files if (root / p).is_file()),
            "index_seconds": round(index_seconds, 1),
            "index_stages": {k: round(v, 2) for k, v in report.seconds.items()},
            "compiler_pass": compiler,
            "server": {
                "argv": [Path(argv[0]).name, *argv[1:]],
                "load_seconds": [round(s, 1) for s in load_seconds],
                "restarts": server.restarts,
                "requests": dict(truth.outcomes),
                "error_kinds": dict(truth.error_kinds.most_common(10)),
                "seconds": round(truth.seconds, 1),
            },
            "seconds": round(time.perf_counter() - started, 1),
            "load_before": load_before,
            "load_after": load(),
        }
    )
    return result


async def _score(
    db: Any, corpus: lsp_corpora.LspCorpus, index: Index, truth: Truth, args: argparse.Namespace
) -> dict[str, Any]:
    lang = corpus.language
    rng = random.Random(args.seed)
    functions = sample_functions(index, lang, args.samples, rng)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    miss_kinds: dict[str, Counter[str]] = defaultdict(Counter)
    kind_example: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    imports_of: dict[str, set[str]] = {}
    dropped: Counter[str] = Counter()

    def imports(rel: str) -> set[str]:
        if rel not in imports_of:
            imports_of[rel] = go_import_names(truth.text(rel)) if lang == "go" else set()
        return imports_of[rel]

    def classify(
        group: str, rel: str, line: int, column: int | None, name: str, wanted: set[int], item: dict[str, Any]
    ) -> None:
        text = truth.text(rel)[line - 1] if rel in index.files and 1 <= line <= len(truth.text(rel)) else ""
        if column is None:
            found = list(re.finditer(rf"(?<![\w$]){re.escape(name)}(?![\w$])", text))
            called = [m for m in found if text[m.end() :].lstrip().startswith("(")]
            column = (called or found)[0].start() if found else 0
        previous = truth.text(rel)[line - 2] if text and line >= 2 else ""
        shape = (
            "import/export/require line"
            if in_import_block(truth.text(rel), line) and text
            else site_shape(text, column, name, lang, imports(rel), previous)
        )
        kind = f"{shape} · {pgcode_at(index, rel, line, name, wanted)}"
        miss_kinds[group][kind] += 1
        item = {**item, "at": f"{rel}:{line}", "kind": kind, "text": text.strip()[:160]}
        kind_example[group].setdefault(kind, item)
        _keep(examples, group, item)

    declarations: dict[tuple[str, str], set[tuple[int, int]]] = {}

    def declaration_at(rel: str, line: int, column: int | None, name: str) -> bool:
        """Whether the server's location is where a definition of `name` writes its name (the
        line and column of a symbol of that name): a declaration, not a use."""
        if (rel, name) not in declarations:
            text = truth.text(rel) if rel in index.files else []
            found = set()
            for s in index.syms.values():
                if s.path == rel and s.name == name:
                    at = definition_column(text, s.start_line, s.end_line, name)
                    if at is not None:
                        found.add((at[0], utf16(text[at[0] - 1], at[1])))
            declarations[(rel, name)] = found
        return (line, column) in declarations[(rel, name)]

    def server_defines(rel: str, line: int, names: set[str], targets: set[tuple[str, int]]) -> bool:
        """Whether the server's own definition of `name` at a line pgcode lists and its references
        do not lands on the symbol's definition or on one of those references (the `{ f }` of
        `module.exports = { f }`, which `const { f } = require(...)` is bound to). tsserver's
        references stop at CommonJS exports in a plain JavaScript file (no checkJs) while its
        definition follows them: such a site is the server's answer too, scored on neither side."""
        text = truth.text(rel)[line - 1] if rel in index.files and 1 <= line <= len(truth.text(rel)) else ""
        written = "|".join(re.escape(n) for n in sorted(names))
        for m in re.finditer(rf"(?<![\w$])(?:{written})(?![\w$])", text):
            status, answer = truth.ask_stable(
                "definition", "textDocument/definition", rel, line, m.start(), args.timeout
            )
            columns = dict(truth.columns)
            inside, _ = truth.locations(answer or []) if status == "ok" else ([], 0)
            truth.columns = columns  # the references' columns, not the definition's
            if any(loc in targets for loc in inside):
                return True
        return False

    apart = programs_apart(index)
    declarations_excluded = 0
    comments_excluded = 0
    server_definition_only = {"references": 0, "callers": 0}
    refs = Tally()
    samples: list[dict[str, Any]] = []
    refs_by_conf: dict[str, Counter[str]] = defaultdict(Counter)
    callers_fn = Tally()
    callers_site = Tally()
    # gopls 0.11's answers for interface methods change from one asking to the next (subsets of
    # the references, or none): scored apart, never in the headline figures.
    unsure_refs, unsure_callers = Tally(), Tally()
    print(f"[{corpus.name}] (a)+(b) {len(functions)} functions ...", flush=True)
    deadline = time.perf_counter() + args.max_seconds
    for sym in sorted(functions, key=lambda s: (s.path, s.start_line)):
        if time.perf_counter() > deadline:
            dropped["functions: time budget"] += 1
            continue
        lines = truth.text(sym.path)
        pos = definition_column(lines, sym.start_line, sym.end_line, sym.name)
        if pos is None:
            dropped["functions: name not found in its definition"] += 1
            continue
        if sym.name in apart and sym in apart[sym.name]:
            dropped["functions: defined by several programs (clangd merges them)"] += 1
            continue
        wanted = twins(index, sym)
        where = f"{sym.path}:{pos[0]}"
        parent = index.syms.get(sym.parent_id) if sym.parent_id is not None else None
        unsure = lang == "go" and parent is not None and parent.kind == "interface"
        targets = {(sym.path, pos[0])}  # where the server's definition of a use of sym may land
        # (a) references
        status, answer = truth.ask_stable(
            "references",
            "textDocument/references",
            sym.path,
            pos[0],
            pos[1],
            args.timeout,
            context={"includeDeclaration": False},
        )
        if status != "ok":
            dropped[f"references: server {status}"] += 1
        else:
            inside, _ = truth.locations(answer or [])
            # A declaration is not a use: tsserver lists overriding methods' declarations, gopls
            # implementing methods'; both sides are scored without them (counted apart).
            declared = {loc for loc in inside if declaration_at(loc[0], loc[1], truth.columns.get(loc), sym.name)}
            declarations_excluded += len(declared - {(sym.path, pos[0])})
            t_set = {loc for loc in inside if loc[0] in index.files} - declared - {(sym.path, pos[0])}
            # tsserver also lists JSDoc `{@link name}` mentions: comments are not code, and pgcode
            # records no edges in them (counted apart).
            commented = {loc for loc in t_set if in_comment(truth.text(loc[0]), loc[1], truth.columns.get(loc))}
            comments_excluded += len(commented)
            t_set -= commented
            async with db.pool.acquire() as conn:
                got = await find_references(conn, str(sym.id), index.repo, 0.0, 1000)
            conf: dict[tuple[str, int], float] = {}
            kinds_at: dict[tuple[str, int], str] = {}
            names_at: dict[tuple[str, int], set[str]] = defaultdict(lambda name=sym.name: {name})
            for r in got.references:
                key = (r.path, r.line)
                names_at[key].add(r.target_name.rpartition(".")[2])
                if r.confidence >= conf.get(key, -1.0):
                    conf[key], kinds_at[key] = r.confidence, r.kind
            g_set = {loc for loc in conf if not index.unscored(*loc)} - declared
            if lang == "javascript":
                targets |= set(inside)
                confirmed = {loc for loc in g_set - t_set if server_defines(loc[0], loc[1], names_at[loc], targets)}
                server_definition_only["references"] += len(confirmed)
                g_set -= confirmed
                for p, ln in sorted(confirmed):
                    classify(
                        "references:server_definition_only",
                        p,
                        ln,
                        None,
                        sym.name,
                        wanted,
                        {"symbol": sym.qualified_name, "defined": where, "pgcode": f"{p}:{ln}"},
                    )
            (unsure_refs if unsure else refs).add(t_set, g_set)
            samples.append(
                {
                    "symbol": sym.qualified_name,
                    "kind": sym.kind,
                    "defined": where,
                    "server": len(t_set),
                    "pgcode": len(g_set),
                    "both": len(t_set & g_set),
                    "scored": not unsure,
                }
            )
            for key, confidence in ({} if unsure else conf).items():
                if key not in g_set:
                    continue
                b = bucket(confidence)
                refs_by_conf[b]["pgcode"] += 1
                refs_by_conf[b]["correct"] += key in t_set
            for p, ln in sorted(set() if unsure else t_set - g_set):
                classify(
                    "references:missed",
                    p,
                    ln,
                    truth.columns.get((p, ln)),
                    sym.name,
                    wanted,
                    {"symbol": sym.qualified_name, "defined": where, "server": f"{p}:{ln}", "pgcode": None},
                )
            for p, ln in sorted(set() if unsure else g_set - t_set):
                classify(
                    "references:false_positive",
                    p,
                    ln,
                    None,
                    sym.name,
                    wanted,
                    {
                        "symbol": sym.qualified_name,
                        "defined": where,
                        "pgcode": f"{p}:{ln}",
                        "edge": f"{kinds_at[(p, ln)]} @{conf[(p, ln)]}",
                        "server": None,
                    },
                )
        # (b) callers
        status, items = truth.ask_stable(
            "prepareCallHierarchy", "textDocument/prepareCallHierarchy", sym.path, pos[0], pos[1], args.timeout
        )
        if status != "ok" or not items:
            dropped["callers: no call-hierarchy item" if status == "ok" else f"callers: server {status}"] += 1
            continue
        sites: set[tuple[str, int]] = set()
        failed = None
        for item in items[:3]:
            status, calls = truth.ask_stable(
                "incomingCalls", "callHierarchy/incomingCalls", None, 0, 0, args.timeout, params={"item": item}
            )
            if status != "ok":
                failed = status
                break
            for call in calls or []:
                rel = truth.rel(call["from"]["uri"])
                if rel is None or rel not in index.files:
                    continue
                for rng_ in call.get("fromRanges") or []:
                    line = rng_["start"]["line"] + 1
                    site = own_program_site(apart, truth.text, call["from"].get("name", ""), sym.name, rel, line)
                    if site is None:
                        dropped["callers: sites of a function several programs define, placed nowhere"] += 1
                    elif site != (rel, line):
                        dropped["callers: sites moved to their own program's function"] += 1
                    if site is not None:
                        sites.add(site)
        if failed is not None:
            dropped[f"callers: server {failed}"] += 1
            continue
        t_fns = {s.id for s in (index.innermost(p, ln) for p, ln in sites) if s is not None}
        async with db.pool.acquire() as conn:
            graph = await find_callers(conn, str(sym.id), index.repo, 1, 0.0, 1000)
        # depth 1: every edge enters the symbol (a recursive function is its own caller)
        g_fns = {n.id for n in graph.nodes if n.depth == 1} | {e.source_id for e in graph.edges}
        g_fns = {
            f for f in g_fns if f not in index.syms or not index.unscored(index.syms[f].path, index.syms[f].start_line)
        }
        g_sites = {
            (e.path, e.line) for e in graph.edges if e.target_id in wanted and not index.unscored(e.path, e.line)
        }
        # clangd 14's call hierarchy names no caller inside a function a macro defines (gtest's
        # `TEST_F(Fixture, Name) { ... }`) though its references list those sites: such callers
        # (pgcode names them by the macro call, "TEST_F(DBTest,Empty)") are left out of both sides.
        in_macros = {f for f in g_fns if f in index.syms and "(" in index.syms[f].name}
        if in_macros:
            dropped["callers: callers in macro-defined functions (clangd names none)"] += len(in_macros)
            g_fns -= in_macros
            t_fns -= in_macros
            g_sites = {(e.path, e.line) for e in graph.edges if e.target_id in wanted and e.source_id not in in_macros}
            sites = {(p, ln) for p, ln in sites if (c := index.innermost(p, ln)) is None or c.id not in in_macros}
        if lang == "javascript":
            confirmed = {at for at in g_sites - sites if server_defines(at[0], at[1], {sym.name}, targets)}
            g_sites -= confirmed
            # a caller whose every site the server's definition confirms (see server_defines)
            only = {
                fid
                for fid in g_fns - t_fns
                if (mine := {(e.path, e.line) for e in graph.edges if e.source_id == fid and e.target_id in wanted})
                and mine <= confirmed
            }
            server_definition_only["callers"] += len(only)
            g_fns -= only
        if unsure:
            unsure_callers.add(t_fns, g_fns)
            continue
        callers_fn.add(t_fns, g_fns)
        callers_site.add(sites, g_sites)
        for p, ln in sorted(sites - g_sites):
            caller = index.innermost(p, ln)
            if caller is not None and caller.id in g_fns:
                continue  # the caller is found through another of its sites: a site-level miss only
            classify(
                "callers:missed",
                p,
                ln,
                None,
                sym.name,
                wanted,
                {
                    "function": sym.qualified_name,
                    "server_site": f"{p}:{ln}",
                    "caller": caller.qualified_name if caller else None,
                },
            )
        for fid in sorted(g_fns - t_fns):
            s = index.syms.get(fid)
            at = next(((e.path, e.line) for e in graph.edges if e.source_id == fid and e.target_id in wanted), None)
            if s is not None and at is not None:
                classify(
                    "callers:false_positive",
                    at[0],
                    at[1],
                    None,
                    sym.name,
                    wanted,
                    {
                        "function": sym.qualified_name,
                        "pgcode_caller": s.qualified_name,
                        "pgcode_site": f"{at[0]}:{at[1]}",
                    },
                )

    # (c) goto_definition
    all_sites: list[CallSite] = []
    for rel in sorted(p for p in index.files if p.endswith(lsp_corpora.SOURCE_EXTENSIONS[lang])):
        all_sites.extend(call_sites(truth.root, rel))
    chosen = rng.sample(all_sites, args.sites) if len(all_sites) > args.sites else list(all_sites)
    print(f"[{corpus.name}] (c) {len(chosen)} of {len(all_sites)} call sites ...", flush=True)
    goto: Counter[str] = Counter()
    goto_by_conf: dict[str, Counter[str]] = defaultdict(Counter)
    for site in sorted(chosen, key=lambda s: (s.path, s.line, s.column)):
        if time.perf_counter() > deadline + args.max_seconds:
            dropped["sites: time budget"] += 1
            continue
        status, answer = truth.ask_stable(
            "definition", "textDocument/definition", site.path, site.line, site.column, args.timeout
        )
        if status != "ok":
            dropped[f"sites: server {status}"] += 1
            continue
        inside, outside = truth.locations(answer)
        # tsserver stops at the import of a module it cannot find (`import { expect } from
        # "vitest"` with no vitest here): that name is defined outside the repository.
        unresolved_imports = [loc for loc in inside if lang != "go" and _is_import(truth.text(loc[0]), loc[1])]
        outside += len(unresolved_imports)
        inside = [loc for loc in inside if loc[0] in index.files and loc not in unresolved_imports]
        if not inside and not outside:
            dropped["sites: server has no definition"] += 1
            continue
        if inside and inside[0] == (site.path, site.line) and len(inside) == 1 and not outside:
            dropped["sites: server answers the site itself"] += 1
            continue
        async with db.pool.acquire() as conn:
            try:
                result = await goto_definition(
                    conn, site.path, site.line, column=site.column + 1, name=site.name, repository=index.repo
                )
                defs = result.definitions
            except InvalidArgument:
                defs = []
        top = defs[0] if defs else None
        where = f"{site.path}:{site.line}:{site.column + 1}"
        pg = f"{top.qualified_name} {top.path}:{top.start_line} @{top.confidence}" if top else None
        if not inside:
            goto["outside"] += 1
            goto["outside_right"] += top is None
            if top is not None:
                goto["answered"] += 1
                goto["answered_wrong"] += 1
                goto_by_conf[bucket(top.confidence)]["answered"] += 1
                classify(
                    "goto:answer_for_outside_target",
                    site.path,
                    site.line,
                    site.column,
                    site.name,
                    set(),
                    {"site": where, "name": site.name, "pgcode": pg, "server": "outside the repository"},
                )
            continue
        goto["inside"] += 1
        ok = top is not None and any(_same(index, top, p, ln, site.name) for p, ln in inside)
        goto["inside_right"] += ok
        server = ", ".join(f"{p}:{ln}" for p, ln in inside[:3])
        wanted = {s.id for p, ln in inside for s in [index.innermost_any(p, ln)] if s is not None}
        if top is not None:
            goto["answered"] += 1
            goto["answered_wrong"] += not ok
            goto["inside_answered"] += 1
            goto["inside_conf_0.9"] += top.confidence >= 0.9
            goto["inside_right_conf_0.9"] += ok and top.confidence >= 0.9
            goto_by_conf[bucket(top.confidence)]["answered"] += 1
            goto_by_conf[bucket(top.confidence)]["right"] += ok
            if not ok:
                classify(
                    "goto:wrong",
                    site.path,
                    site.line,
                    site.column,
                    site.name,
                    wanted,
                    {"site": where, "name": site.name, "pgcode": pg, "server": server},
                )
        else:
            classify(
                "goto:no_answer",
                site.path,
                site.line,
                site.column,
                site.name,
                wanted,
                {"site": where, "name": site.name, "pgcode": None, "server": server},
            )

    scored = goto["inside"] + goto["outside"]
    return {
        "sampled_functions": len(functions),
        "call_sites_in_corpus": len(all_sites),
        "sampled_sites": len(chosen),
        "references": refs.summary(),
        "references_precision_by_confidence": {
            b: {
                "pgcode": refs_by_conf[b]["pgcode"],
                "correct": refs_by_conf[b]["correct"],
                "precision": ratio(refs_by_conf[b]["correct"], refs_by_conf[b]["pgcode"]),
            }
            for b in BUCKETS
            if refs_by_conf[b]["pgcode"]
        },
        "callers": callers_fn.summary(),
        "callers_sites": callers_site.summary(),
        "interface_methods_scored_apart": {
            "why": "gopls 0.11 answers references and incoming calls of interface methods differently "
            "from one asking to the next",
            "references": unsure_refs.summary(),
            "callers": unsure_callers.summary(),
        }
        if lang == "go"
        else None,
        "goto_definition": {
            "sites": scored,
            "inside": goto["inside"],
            "outside": goto["outside"],
            "right": goto["inside_right"] + goto["outside_right"],
            "inside_resolved_conf_0.9_count": goto["inside_conf_0.9"],
            "acc_at_1": ratio(goto["inside_right"] + goto["outside_right"], scored),
            "acc_at_1_inside": ratio(goto["inside_right"], goto["inside"]),
            "right_when_outside": ratio(goto["outside_right"], goto["outside"]),
            "answered": ratio(goto["answered"], scored),
            "wrong_when_answering": ratio(goto["answered_wrong"], goto["answered"]),
            "inside_answered": ratio(goto["inside_answered"], goto["inside"]),
            "inside_resolved_conf_0.9": ratio(goto["inside_conf_0.9"], goto["inside"]),
            "inside_right_conf_0.9": ratio(goto["inside_right_conf_0.9"], goto["inside"]),
            "by_confidence": {
                b: {"answered": c["answered"], "right": c["right"], "precision": ratio(c["right"], c["answered"])}
                for b in BUCKETS
                if (c := goto_by_conf[b])["answered"]
            },
        },
        "dropped": dict(dropped),
        "reference_samples": samples,
        "references_declarations_excluded": declarations_excluded,
        "references_in_comments_excluded": comments_excluded,
        "server_definition_only_excluded": {
            "why": "JavaScript: pgcode's reference or caller at a site the server's references omit "
            "but its own definition there resolves to the symbol (CommonJS exports, which tsserver's "
            "references do not follow in plain JavaScript); scored on neither side",
            **server_definition_only,
        }
        if lang == "javascript"
        else None,
        "miss_kinds": {g: top_kinds(c, kind_example[g]) for g, c in miss_kinds.items()},
        "examples": dict(examples),
    }


def _same(index: Index, top: Any, path: str, line: int, name: str) -> bool:
    """pgcode's definition `top` is the one the server points at (path, line)."""
    if top.path != path:
        return False
    if top.start_line == line or (top.start_line <= line <= top.end_line and top.name == name):
        return True
    there = index.innermost_any(path, line)
    if there is None:
        return False
    if there.id == top.id or there.qualified_name == top.qualified_name:
        return True  # the same definition, or a twin (an overload signature and its implementation)
    # `new Foo()`: the server points at the class, pgcode at its constructor.
    mine = index.syms.get(top.id)
    return mine is not None and mine.parent_id == there.id and there.name == name


# --- output ------------------------------------------------------------------------------------------


def per_language(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Micro totals over each language's corpora."""
    out: dict[str, dict[str, Any]] = {}
    for lang in sorted({r["language"] for r in results if "references" in r}):
        rs = [r for r in results if r["language"] == lang and "references" in r]

        def total(section: str, key: str, rs: list[dict[str, Any]] = rs) -> int:
            return sum(r[section][key] for r in rs)

        g = [r["goto_definition"] for r in rs]
        sites = sum(x["sites"] for x in g)
        inside = sum(x["inside"] for x in g)
        right = sum(x["right"] for x in g)
        conf9 = sum(x["inside_resolved_conf_0.9_count"] for x in g)
        out[lang] = {
            "corpora": [r["corpus"] for r in rs],
            "references": {
                "precision": ratio(total("references", "both"), total("references", "pgcode")),
                "recall": ratio(total("references", "both"), total("references", "truth")),
            },
            "callers": {
                "precision": ratio(total("callers", "both"), total("callers", "pgcode")),
                "recall": ratio(total("callers", "both"), total("callers", "truth")),
            },
            "goto_acc_at_1": ratio(right, sites),
            "inside_resolved_conf_0.9": ratio(conf9, inside),
        }
        apart = [r["interface_methods_scored_apart"] for r in rs if r.get("interface_methods_scored_apart")]
        if apart:
            out[lang]["interface_methods_scored_apart"] = {
                what: {
                    "precision": ratio(sum(a[what]["both"] for a in apart), sum(a[what]["pgcode"] for a in apart)),
                    "recall": ratio(sum(a[what]["both"] for a in apart), sum(a[what]["truth"] for a in apart)),
                }
                for what in ("references", "callers")
            }
    return out


def print_tables(results: list[dict[str, Any]], languages: dict[str, dict[str, Any]], missing: dict[str, str]) -> None:
    rs = [r for r in results if "references" in r]
    print()
    print(
        table(
            [
                "corpus",
                "lang",
                "held",
                "fns",
                "refs P",
                "refs R",
                "macro P",
                "macro R",
                "callers P",
                "callers R",
                "site P",
                "site R",
                "goto sites",
                "acc@1",
                "acc in",
                "wrong/ans",
                ">=0.9 in",
                "s",
            ],
            [
                [
                    r["corpus"],
                    r["language"],
                    "yes" if r["held_out"] else "",
                    r["references"]["samples_with_truth"],
                    r["references"]["precision"],
                    r["references"]["recall"],
                    r["references"]["macro_precision"],
                    r["references"]["macro_recall"],
                    r["callers"]["precision"],
                    r["callers"]["recall"],
                    r["callers_sites"]["precision"],
                    r["callers_sites"]["recall"],
                    r["goto_definition"]["sites"],
                    r["goto_definition"]["acc_at_1"],
                    r["goto_definition"]["acc_at_1_inside"],
                    r["goto_definition"]["wrong_when_answering"],
                    r["goto_definition"]["inside_resolved_conf_0.9"],
                    r["seconds"],
                ]
                for r in rs
            ],
            title="per corpus (truth: the language's own server)",
        )
    )
    print()
    print(
        table(
            ["corpus", "conf", "pgcode refs", "correct", "precision"],
            [
                [r["corpus"], b, s["pgcode"], s["correct"], s["precision"]]
                for r in rs
                for b, s in r["references_precision_by_confidence"].items()
            ],
            title="(a) references: pgcode's precision by edge confidence",
        )
    )
    print()
    rows = [
        [
            lang,
            ", ".join(s["corpora"]),
            s["references"]["precision"],
            s["references"]["recall"],
            s["callers"]["precision"],
            s["callers"]["recall"],
            s["goto_acc_at_1"],
            s["inside_resolved_conf_0.9"],
        ]
        for lang, s in languages.items()
    ]
    rows += [
        [lang, f"no truth server: {why[:70]}", None, None, None, None, None, None] for lang, why in missing.items()
    ]
    print(
        table(
            ["language", "corpora", "refs P", "refs R", "callers P", "callers R", "goto acc@1", ">=0.9 in-repo"],
            rows,
            title="per language (micro over its corpora)",
        )
    )
    for lang, s in languages.items():
        if apart := s.get("interface_methods_scored_apart"):
            a, c = apart["references"], apart["callers"]
            print(
                f"{lang} interface methods, scored apart (micro): references P {a['precision']} R {a['recall']}, "
                f"callers P {c['precision']} R {c['recall']}"
            )
    for r in rs:
        print(
            f"\n[{r['corpus']}] dropped: {r['dropped']}; server restarts {r['server']['restarts']}, "
            f"requests {r['server']['requests']}"
        )
        apart = r.get("interface_methods_scored_apart")
        if apart:
            a, c = apart["references"], apart["callers"]
            print(
                f"  interface methods, scored apart ({a['samples_with_truth']} with references): references "
                f"P {a['precision']} R {a['recall']}, callers P {c['precision']} R {c['recall']}"
            )
        for group, kinds in r["miss_kinds"].items():
            print(f"  {group}:")
            for k in kinds[:5]:
                ex = k["example"] or {}
                print(f"    {k['count']:>4}  {k['kind']}   e.g. {ex.get('at')}  {ex.get('text', '')[:90]}")


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    chosen = lsp_corpora.selected(args.corpus, args.language)
    missing = {k: v for k, v in lsp_corpora.unavailable_servers().items() if not args.language or k in args.language}
    for lang, why in missing.items():
        print(f"{lang}: not measured: {why}", flush=True)
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    async with open_database(settings) as db:
        for corpus in chosen:
            results.append(await run_corpus(db, settings, corpus, args))
    languages = per_language(results)
    print_tables(results, languages, missing)
    payload = {
        "benchmark": "graph_lsp",
        "command": " ".join(sys.argv),
        "seed": args.seed,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "pgcode_queried_through": "mcp_server.graph.walk.find_references/find_callers and "
        "mcp_server.graph.symbols.goto_definition (the functions the MCP tools call)",
        "truth_servers": {
            "go": "gopls (Debian package gopls) with go (golang-go), GOPROXY=off",
            "typescript": f"typescript-language-server over tsserver: {' '.join(lsp_corpora.NPM_TOOLS)}",
            "javascript": f"typescript-language-server over tsserver: {' '.join(lsp_corpora.NPM_TOOLS)}",
            "java": "javac 17's attribution (com.sun.source JavacTask.analyze + Trees), bench/javac_truth/Truth.java",
        },
        "not_measured": missing,
        "per_language": languages,
        "corpora": results,
    }
    label = "-".join(c.name for c in chosen) if (args.corpus or args.language) else ""
    if args.compiler_pass:  # beside the tree-sitter figures, never over them
        label = f"{label}-compiler" if label else "compiler"
    path = write_result("graph_lsp", payload, label)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", action="append", help=f"corpus name, repeatable (default all: {', '.join(lsp_corpora.CORPORA)})"
    )
    parser.add_argument("--language", action="append", help="go, typescript or javascript, repeatable")
    parser.add_argument("--samples", type=int, default=150, help="functions/methods sampled per corpus (default 150)")
    parser.add_argument("--sites", type=int, default=300, help="call sites checked with goto_definition (default 300)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default {SEED})")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per server request (default 30)")
    parser.add_argument("--load-timeout", type=float, default=300.0, help="seconds for a server to load its workspace")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=600.0,
        help="time budget per corpus for (a)+(b), and again for (c) (default 600)",
    )
    parser.add_argument(
        "--reuse-index", action="store_true", help="keep the corpus's index from an earlier run (default: index afresh)"
    )
    add_compiler_pass_argument(parser)
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
