"""Graph precision and recall against jedi (static inference) as the reference.

Each corpus is indexed without embeddings. A fixed-seed sample of functions/methods (plus classes
for `inherits` and modules for module-level imports) is checked three ways:

 (a) edges: every edge the index records out of a sampled symbol (calls, references, imports,
     inherits) is looked up with jedi `goto(follow_imports=True)` at the written name's position,
     and the index's resolved target is compared with jedi's definition (same file, same
     definition line / name). Precision = correct / index-resolved where jedi resolved inside the
     corpus; strict precision also counts, as wrong, index targets where jedi resolved to code
     outside the corpus (stdlib, builtins). Recall = correct / jedi-resolved-inside-corpus, over
     the recorded edges and, for calls, over every call site in the sampled functions' bodies
     (found with `ast`, so sites the parser never recorded count as misses). Broken down by edge
     kind and by confidence.
 (b) callers: jedi `get_references` on each sampled function, restricted to call sites, against
     the index's incoming `calls` edges -> precision / recall / F1 (callers jedi can neither
     confirm nor contradict are counted apart; a site get_references misses but jedi's goto at
     that site confirms counts as found by both).
 (c) goto_definition: pgcode's `goto_definition(path, line, name=...)` at call sites jedi resolves
     inside the corpus, against jedi's definition.

jedi's answers are only as good as its inference: "jedi none/local" (a parameter, a local value,
dynamic code) makes an edge undecidable, and undecidable edges are reported, never scored.

    python bench/graph_precision.py                            # all corpora
    python bench/graph_precision.py --corpus requests --functions 200 --max-seconds 600

Writes bench/results/graph_precision-<stamp>.json (with mismatch examples) and prints tables.
"""

from __future__ import annotations

import argparse
import ast
import io
import random
import re
import signal
import sys
import sysconfig
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import corpora
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

from mcp_server.db.pool import open_database
from mcp_server.graph.symbols import goto_definition
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging

try:
    import jedi
except ImportError:  # pragma: no cover - a dev dependency
    raise SystemExit("graph_precision needs jedi: pip install jedi") from None

SEED = 1234
KINDS = ("calls", "references", "imports", "inherits")
BUCKETS = ("1.0", "0.9", "0.7", "0.5", "0.3", "0")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Methods of builtin containers, strings and files: `x.get()`, `x.append()` on an unknown receiver
# is far more often one of these than a method of the corpus with the same name.
BUILTIN_METHODS = frozenset(
    n
    for t in (dict, list, str, set, bytes, tuple, frozenset, io.IOBase, io.TextIOBase)
    for n in dir(t)
    if not n.startswith("__")
)
_IMPORT_LINE = re.compile(r"^\s*(from\s+\S+\s+)?import\b")
_MAX_EXAMPLES = 60


# --- jedi ------------------------------------------------------------------------------------------


class JediTimeout(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt a jedi call that takes longer than `seconds` (jedi is pure Python: SIGALRM works)."""

    def handler(signum: int, frame: Any) -> None:
        raise JediTimeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass(frozen=True, slots=True)
class JediDef:
    path: str | None  # repo-relative when inside the corpus, else None
    line: int | None
    name: str
    type: str
    full_name: str | None
    where: str  # "inside", "outside", "local"


@dataclass(slots=True)
class JediAnswer:
    status: str  # inside | outside | local | none | timeout | error | no_position
    defs: list[JediDef] = field(default_factory=list)

    @property
    def inside(self) -> list[JediDef]:
        return [d for d in self.defs if d.where == "inside"]

    def describe(self) -> str:
        if not self.defs:
            return self.status
        d = (self.inside or self.defs)[0]
        place = f"{d.path}:{d.line}" if d.path else (d.full_name or d.name)
        return f"{d.full_name or d.name} ({d.type}) {place}" + ("" if d.where == "inside" else f" [{d.where}]")


class Jedi:
    """jedi over one corpus: the corpus first on sys.path, then only the standard library (so the
    corpus's own package never resolves to a copy installed in the venv), Scripts cached per file."""

    def __init__(self, root: Path, timeout: float, cache_size: int = 24, imports: list[Path] | None = None) -> None:
        self.root = root.resolve()
        stdlib = [sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")]
        dynload = [p for p in sys.path if p.endswith("lib-dynload")]
        # A src-layout sdist imports its package from src/ (corpora.import_roots).
        own = [str(p.resolve()) for p in imports or []]
        sys_path = list(dict.fromkeys([*own, str(self.root), *stdlib, *dynload]))
        # parso drops parsed modules from its cache past ~600 files, under Scripts that still use
        # them (KeyError deep in jedi on Django-sized corpora): keep them all for the run.
        import parso.cache

        if hasattr(parso.cache, "_CACHED_SIZE_TRIGGER"):
            parso.cache._CACHED_SIZE_TRIGGER = max(parso.cache._CACHED_SIZE_TRIGGER, 20000)
        self.project = jedi.Project(self.root, sys_path=sys_path, smart_sys_path=False)
        self.environment = jedi.InterpreterEnvironment()
        self.timeout = timeout
        self.scripts: OrderedDict[str, Any] = OrderedDict()
        self.cache_size = cache_size
        self.texts: dict[str, list[str]] = {}
        self.calls = 0
        self.seconds = 0.0
        self.timeouts = 0
        self.errors = 0
        self.error_kinds: Counter[str] = Counter()

    def lines(self, rel: str) -> list[str]:
        if rel not in self.texts:
            self.texts[rel] = (self.root / rel).read_text(encoding="utf-8", errors="replace").splitlines()
        return self.texts[rel]

    def script(self, rel: str) -> Any:
        if rel in self.scripts:
            self.scripts.move_to_end(rel)
            return self.scripts[rel]
        path = self.root / rel
        s = jedi.Script(
            path.read_text(encoding="utf-8", errors="replace"),
            path=path,
            project=self.project,
            environment=self.environment,
        )
        self.scripts[rel] = s
        while len(self.scripts) > self.cache_size:
            self.scripts.popitem(last=False)
        return s

    def rel(self, module_path: Any) -> str | None:
        if module_path is None:
            return None
        try:
            return Path(module_path).resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None

    def _call(self, rel: str, fn: str, *args: Any, **kwargs: Any) -> tuple[str, Any]:
        started = time.perf_counter()
        self.calls += 1
        try:
            for attempt in (1, 2):
                try:
                    with time_limit(self.timeout):
                        return "ok", getattr(self.script(rel), fn)(*args, **kwargs)
                except JediTimeout:
                    self.timeouts += 1
                    self.scripts.pop(rel, None)  # its inference state may be half-built
                    return "timeout", None
                except Exception as exc:  # jedi raises on odd code now and then
                    # A long-lived Script can hold modules parso's cache has since dropped (KeyError
                    # on a path): a fresh Script once, then give up.
                    self.scripts.pop(rel, None)
                    if attempt == 2:
                        self.errors += 1
                        self.error_kinds[f"{fn}: {type(exc).__name__}: {str(exc)[:120]}"] += 1
            return "error", None
        finally:
            self.seconds += time.perf_counter() - started

    def goto(self, rel: str, line: int, column: int) -> JediAnswer:
        status, names = self._call(rel, "goto", line, column, follow_imports=True)
        if status != "ok":
            return JediAnswer(status)
        defs = [self._def(n) for n in self._through_imports(names)]
        if not defs:
            return JediAnswer("none")
        for where in ("inside", "outside", "local"):
            if any(d.where == where for d in defs):
                return JediAnswer(where, defs)
        return JediAnswer("none", defs)

    def _through_imports(self, names: list[Any]) -> list[Any]:
        """jedi sometimes stops at a package's re-export (`from .base import Storage` in
        __init__.py): follow such a name once more to the definition itself."""
        out = []
        for n in names:
            rel = self.rel(n.module_path)
            if rel is not None and n.line and n.type in ("class", "function", "statement"):
                text = self.lines(rel)[n.line - 1] if n.line <= len(self.lines(rel)) else ""
                if _IMPORT_LINE.match(text) or (text.strip().endswith(",") and n.type != "statement"):
                    try:
                        with time_limit(self.timeout):
                            further = n.goto(follow_imports=True)
                    except Exception:
                        further = []
                    further = [f for f in further if (f.module_path, f.line) != (n.module_path, n.line)]
                    if further:
                        out.extend(further)
                        continue
            out.append(n)
        return out

    def _def(self, name: Any) -> JediDef:
        rel = self.rel(name.module_path)
        line = name.line
        if rel is None:
            # jedi ships stubs for some libraries (django-stubs): a definition in a stub of the
            # corpus's own package is the corpus's definition; find it in the real file.
            rel, line = self._from_stub(name)
        where = "inside" if rel is not None else "outside"
        kind = name.type
        if where == "inside" and kind in ("param", "statement", "instance"):
            try:
                parent = name.parent()
                if kind == "param" or (parent is not None and parent.type == "function"):
                    where = "local"  # a parameter or a local variable: jedi could not go further
            except Exception:
                where = "local"
        return JediDef(rel, line, name.name, kind, name.full_name, where)

    def _from_stub(self, name: Any) -> tuple[str | None, int | None]:
        path = Path(str(name.module_path or ""))
        if path.suffix != ".pyi":
            return None, None
        parts = path.parts
        stub_dirs = [i for i, p in enumerate(parts) if p.endswith("-stubs")]
        if not stub_dirs:
            return None, None
        i = stub_dirs[-1]
        package = parts[i].removesuffix("-stubs")
        inner = list(parts[i + 1 :])
        inner[-1] = inner[-1].removesuffix(".pyi") + ".py"
        rel = "/".join([package, *inner])
        if not (self.root / rel).is_file():
            return None, None
        if name.type == "module":
            return rel, 1
        module = ".".join([package, *inner[:-1]] + ([] if inner[-1] == "__init__.py" else [inner[-1][:-3]]))
        full = name.full_name or ""
        if not full.startswith(module + "."):
            return None, None
        line = _locate(self.root / rel, full[len(module) + 1 :].split("."))
        return (rel, line) if line is not None else (None, None)

    def references(self, rel: str, line: int, column: int) -> tuple[str, list[Any]]:
        status, refs = self._call(rel, "get_references", line, column, include_builtins=False)
        return status, (refs or [])


def _locate(path: Path, dotted: list[str]) -> int | None:
    """Line of the definition `A.b` (classes, functions, assignments) in a Python file."""
    try:
        body = ast.parse(path.read_bytes()).body
    except (SyntaxError, ValueError, OSError):
        return None
    found: int | None = None
    for depth, part in enumerate(dotted):
        found, nxt = None, None
        for node in _flat(body):
            names = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names = [node.target.id]
            if part in names:
                found = node.lineno
                nxt = getattr(node, "body", None) if isinstance(node, ast.ClassDef) else None
        if found is None or (depth < len(dotted) - 1 and nxt is None):
            return None
        body = nxt or []
    return found


def _flat(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Statements of a block, looking inside if/try/with (conditional definitions)."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.Try, ast.With)):
            for part in ("body", "orelse", "finalbody"):
                yield from _flat(getattr(node, part, []) or [])
            for handler in getattr(node, "handlers", []) or []:
                yield from _flat(handler.body)


# --- the index -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Sym:
    id: int
    path: str
    kind: str
    name: str
    qualified_name: str
    start_line: int
    end_line: int
    parent_id: int | None


@dataclass(slots=True)
class Edge:
    id: int
    kind: str
    source_id: int
    target_id: int | None
    target_name: str
    alias: str | None
    line: int
    confidence: float
    path: str


def bucket(confidence: float) -> str:
    c = round(confidence, 1)
    return "0" if c <= 0 else f"{c:.1f}"


def last_identifier(written: str) -> str | None:
    found = _IDENT.findall(written)
    return found[-1] if found else None


def find_column(lines: list[str], line: int, edge: Edge) -> tuple[int, int] | None:
    """(line, 0-based column) of the written name's last segment at or just after the edge's line."""
    name = last_identifier(edge.target_name)
    if name is None:
        return None
    pattern = re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")
    for ln in range(line, min(line + 6, len(lines) + 1)):
        text = lines[ln - 1]
        start = 0
        if edge.kind == "imports":
            m = re.search(r"\bimport\b", text)
            start = m.end() if m and ln == line else 0
            literal = text.find(edge.target_name.lstrip("."))
            if literal >= 0 and "." in edge.target_name.lstrip(".") and text.lstrip().startswith("import"):
                return ln, literal + len(edge.target_name.lstrip(".")) - len(name)
        elif "(" not in edge.target_name and '"' not in edge.target_name and "'" not in edge.target_name:
            literal = _find_word(text, edge.target_name)
            if literal >= 0:
                return ln, literal + len(edge.target_name) - len(name)
        matches = [m for m in pattern.finditer(text, start)]
        if edge.kind == "calls":
            called = [m for m in matches if text[m.end() :].lstrip().startswith("(")]
            matches = called or matches
        if matches:
            return ln, matches[0].start()
    return None


def _find_word(text: str, written: str) -> int:
    for m in re.finditer(re.escape(written), text):
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return m.start()
    return -1


def match_kind(target: Sym, d: JediDef, syms: dict[int, Sym]) -> str | None:
    """How the index's target is the definition jedi found: "exact", "twin" (another definition
    with the same qualified name: an `@overload` stub for the implementation, a conditional
    redefinition) or None (a different definition)."""
    if d.path is None or d.path != target.path:
        return None
    if d.type == "module" or target.kind == "module":
        return "exact" if d.type == "module" and target.kind == "module" else None
    if d.line == target.start_line:
        return "exact"
    if d.line is not None and target.start_line <= d.line <= target.end_line and d.name == target.name:
        return "exact"
    # A call of a class resolved to its constructor: the same definition for our purposes.
    if target.name == "__init__" and d.type == "class" and target.parent_id in syms:
        parent = syms[target.parent_id]
        if parent.name == d.name and parent.start_line <= (d.line or 0) <= parent.end_line:
            return "exact"
    if d.full_name is not None and d.full_name == target.qualified_name:
        return "twin"
    return None


def matches(target: Sym, d: JediDef, syms: dict[int, Sym]) -> bool:
    return match_kind(target, d, syms) is not None


# --- call sites from the source ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Site:
    line: int
    column: int  # 0-based, in characters
    name: str


# What an attribute read can name that the index has a symbol for (jedi's Name.type).
_READ_TYPES = frozenset({"function", "property", "class"})


def call_sites(source: str, fn: Sym, reads: bool = False) -> list[Site] | None:
    """Every `name(...)` / `x.name(...)` call in the function's own body (not in nested defs or
    classes; lambdas and comprehensions count as the function). None if the def is not found.
    With `reads`, instead every attribute read that is not called (`url.path`, `self.reason`):
    property reads and attribute uses, which only sampling by site (not by recorded edge) sees."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    found = [
        n
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        and n.name == fn.name
        and fn.start_line <= n.lineno <= fn.end_line
    ]
    node = min(found, key=lambda n: n.lineno) if found else None
    if node is None:
        return None
    lines = source.splitlines()
    sites: list[Site] = []
    called: set[int] = set()

    def col(line: int, byte_offset: int) -> int:
        return len(lines[line - 1].encode("utf-8")[:byte_offset].decode("utf-8", "replace"))

    def visit(n: ast.AST) -> None:
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if reads:
                if (
                    isinstance(child, ast.Attribute)
                    and isinstance(child.ctx, ast.Load)
                    and id(child) not in called
                    and child.end_lineno is not None
                    and child.end_col_offset is not None
                ):
                    end = col(child.end_lineno, child.end_col_offset)
                    sites.append(Site(child.end_lineno, end - len(child.attr), child.attr))
                if isinstance(child, ast.Call):
                    called.add(id(child.func))
            elif isinstance(child, ast.Call):
                f = child.func
                if isinstance(f, ast.Name):
                    sites.append(Site(f.lineno, col(f.lineno, f.col_offset), f.id))
                elif isinstance(f, ast.Attribute) and f.end_lineno is not None and f.end_col_offset is not None:
                    end = col(f.end_lineno, f.end_col_offset)
                    sites.append(Site(f.end_lineno, end - len(f.attr), f.attr))
            visit(child)

    for stmt in node.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        wrapper = ast.Module(body=[stmt], type_ignores=[])
        visit(wrapper)
    return sites


# --- tallies ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Tally:
    edges: int = 0
    resolved: int = 0  # index has a target
    jedi: Counter[str] = field(default_factory=Counter)  # jedi status over all edges
    resolved_jedi_inside: int = 0
    resolved_jedi_outside: int = 0
    resolved_jedi_undecided: int = 0  # local / none / timeout / error / no position
    correct: int = 0
    jedi_inside: int = 0  # recorded edges jedi resolves inside the corpus

    def add(self, edge: Edge, answer: JediAnswer, ok: bool) -> None:
        self.edges += 1
        self.jedi[answer.status] += 1
        inside = answer.status == "inside"
        self.jedi_inside += inside
        if edge.target_id is not None:
            self.resolved += 1
            if inside:
                self.resolved_jedi_inside += 1
                self.correct += ok
            elif answer.status == "outside":
                self.resolved_jedi_outside += 1
            else:
                self.resolved_jedi_undecided += 1

    def summary(self) -> dict[str, Any]:
        decided = self.resolved_jedi_inside + self.resolved_jedi_outside
        return {
            "edges": self.edges,
            "index_resolved": self.resolved,
            "jedi_inside": self.jedi_inside,
            "resolved_and_jedi_inside": self.resolved_jedi_inside,
            "resolved_but_jedi_outside": self.resolved_jedi_outside,
            "resolved_jedi_undecided": self.resolved_jedi_undecided,
            "correct": self.correct,
            "precision": _ratio(self.correct, self.resolved_jedi_inside),
            "strict_precision": _ratio(self.correct, decided),
            "recall": _ratio(self.correct, self.jedi_inside),
            "jedi_status": dict(self.jedi),
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _f1(p: float | None, r: float | None) -> float | None:
    return round(2 * p * r / (p + r), 4) if p and r else None


# --- one corpus ------------------------------------------------------------------------------------


async def run_corpus(db: Any, settings: Any, corpus: corpora.Corpus, args: argparse.Namespace) -> dict[str, Any]:
    load_before = load()
    started = time.perf_counter()
    root = corpora.private_root(corpus.name, "graph")
    repo_name = f"bench-graph-{corpus.name}"
    await claim_repository(db, repo_name, root, fresh=not args.reuse_index)
    report = await index_repository(db, settings, root, name=repo_name)
    index_seconds = time.perf_counter() - started
    compiler = await compiler_pass_summary(db, settings, repo_name) if args.compiler_pass else None
    print(f"[{corpus.name}] indexed in {index_seconds:.1f}s; loading the graph ...", flush=True)

    async with db.pool.acquire() as conn:
        rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", repo_name)
        syms = {
            r["id"]: Sym(**dict(r))
            for r in await conn.fetch(
                """SELECT s.id, f.path, s.kind, s.name, s.qualified_name, s.start_line, s.end_line, s.parent_id
               FROM symbols s JOIN files f ON f.id = s.file_id
               WHERE s.repository_id = $1 AND f.language = 'python'""",
                rid,
            )
        }
        overall = [
            dict(r)
            for r in await conn.fetch(
                """SELECT kind, round(confidence::numeric, 1)::float8 AS confidence, count(*) AS n FROM edges
               WHERE repository_id = $1 AND kind <> 'contains' GROUP BY 1, 2 ORDER BY 1, 2 DESC""",
                rid,
            )
        ]

        rng = random.Random(args.seed)

        # One symbol per qualified name (`@overload` stubs + implementation, conditional
        # redefinitions are twins): the one with the largest span, as pgcode's own lookups pick.
        # Stubs (`.pyi`) have no bodies to check and declare what the code beside them defines.
        twins: dict[str, list[Sym]] = defaultdict(list)
        for s in syms.values():
            if not s.path.endswith(".pyi"):
                twins[s.qualified_name].append(s)

        def pick(kinds: tuple[str, ...], n: int) -> list[Sym]:
            pool = sorted(
                (
                    max(group, key=lambda s: (s.end_line - s.start_line, -s.id))
                    for group in twins.values()
                    if group[0].kind in kinds
                ),
                key=lambda s: (s.path, s.start_line, s.qualified_name),
            )
            return rng.sample(pool, n) if len(pool) > n else pool

        functions = pick(("function", "method"), args.functions)
        classes = pick(("class",), args.classes)
        modules = pick(("module",), args.modules)
        sampled_ids = [s.id for s in functions + classes + modules]
        edges = [
            Edge(**dict(r))
            for r in await conn.fetch(
                """SELECT e.id, e.kind, e.source_id, e.target_id, e.target_name, e.alias, e.line, e.confidence, f.path
               FROM edges e JOIN files f ON f.id = e.file_id
               WHERE e.source_id = ANY($1::bigint[]) AND e.kind = ANY($2::text[])
               ORDER BY f.path, e.line, e.id""",
                sampled_ids,
                list(KINDS),
            )
        ]
        # Incoming calls of a sampled function: edges to it or to any of its twins.
        twin_of = {t.id: fn.id for fn in functions for t in twins[fn.qualified_name]}
        incoming: dict[int, list[tuple[str, int, int]]] = defaultdict(list)
        for r in await conn.fetch(
            """SELECT e.target_id, f.path, e.line, e.source_id FROM edges e JOIN files f ON f.id = e.file_id
                   WHERE e.target_id = ANY($1::bigint[]) AND e.kind = 'calls'""",
            list(twin_of),
        ):
            incoming[twin_of[r["target_id"]]].append((r["path"], r["line"], r["source_id"]))

    jd = Jedi(root, args.jedi_timeout, imports=corpora.import_roots(corpus.name, root))
    deadline_a = started + args.max_seconds * 0.55
    deadline = started + args.max_seconds
    answers: dict[tuple[str, int, int], JediAnswer] = {}

    def ask(rel: str, line: int, column: int) -> JediAnswer:
        key = (rel, line, column)
        if key not in answers:
            answers[key] = jd.goto(rel, line, column)
        return answers[key]

    # (a) edges ------------------------------------------------------------------------------------
    by_kind: dict[str, Tally] = defaultdict(Tally)
    by_conf: dict[tuple[str, str], Tally] = defaultdict(Tally)
    examples: dict[str, list[dict[str, Any]]] = defaultdict(list)
    by_source: dict[int, list[Edge]] = defaultdict(list)
    for e in edges:
        by_source[e.source_id].append(e)
    site_recall = Counter()
    twin_targets = Counter()
    fallback: dict[str, Tally] = defaultdict(Tally)
    fallback_self = Counter()
    checked_sources: list[Sym] = []
    goto_sites: list[tuple[str, Site, JediAnswer]] = []
    order = sorted(functions + classes + modules, key=lambda s: (s.path, s.start_line))
    for sym in order:
        if time.perf_counter() > deadline_a:
            break
        checked_sources.append(sym)
        lines = jd.lines(sym.path)
        own = by_source.get(sym.id, [])
        sites: list[Site] | None = None
        if sym.kind in ("function", "method"):
            sites = call_sites("\n".join(lines) + "\n", sym)
        site_by_key: dict[tuple[int, str], list[Site]] = defaultdict(list)
        for s in sites or []:
            site_by_key[(s.line, s.name)].append(s)
        covered: set[Site] = set()
        read_covered: set[tuple[int, str]] = set()
        for e in own:
            if e.kind == "references":
                read_covered.add((e.line, last_identifier(e.target_name) or ""))
            pos: tuple[int, int] | None = None
            if e.kind == "calls":
                name = last_identifier(e.target_name)
                cands = [s for s in site_by_key.get((e.line, name or ""), []) if s not in covered]
                if cands:
                    covered.add(cands[0])
                    pos = (cands[0].line, cands[0].column)
            if pos is None:
                pos = find_column(lines, e.line, e)
            answer = ask(sym.path, *pos) if pos else JediAnswer("no_position")
            target = syms.get(e.target_id) if e.target_id is not None else None
            kinds = {match_kind(target, d, syms) for d in answer.inside} if target is not None else set()
            ok = bool(kinds - {None})
            if ok and "exact" not in kinds:
                twin_targets[e.kind] += 1  # right name, but an @overload stub (or other twin) of it
            by_kind[e.kind].add(e, answer, ok)
            if e.kind == "calls" and 0 < e.confidence < 0.85:
                # Name-only fallbacks (0.7 same file, 0.5 unique, 0.3 nearest), split by whether the
                # called name is also a builtin container/str/file method.
                simple = last_identifier(e.target_name) or ""
                group = (
                    "super()"
                    if e.target_name.startswith("super()")
                    else ("builtin-method name" if simple in BUILTIN_METHODS else "other name")
                )
                fallback[group].add(e, answer, ok)
                self_loop = e.target_id == e.source_id
                fallback_self[group] += self_loop
            by_conf[(e.kind, bucket(e.confidence))].add(e, answer, ok)
            if e.kind == "calls" and answer.status == "inside" and pos is not None:
                goto_sites.append((sym.path, Site(pos[0], pos[1], last_identifier(e.target_name) or ""), answer))
            _example(examples, e, answer, target, ok, syms)
        # call sites the parser never recorded
        if sites is not None:
            for s in sites:
                if s in covered:
                    continue
                answer = ask(sym.path, s.line, s.column)
                site_recall["unrecorded_sites"] += 1
                if answer.status == "inside":
                    site_recall["unrecorded_jedi_inside"] += 1
                    goto_sites.append((sym.path, s, answer))
                    if len(examples["calls:site_not_recorded"]) < _MAX_EXAMPLES:
                        examples["calls:site_not_recorded"].append(
                            {
                                "site": f"{sym.path}:{s.line}:{s.column + 1}",
                                "name": s.name,
                                "in": sym.qualified_name,
                                "jedi": answer.describe(),
                            }
                        )
        # attribute reads the parser never recorded as references, where jedi finds a definition
        # (a property, method or class) inside the corpus
        reads = call_sites("\n".join(lines) + "\n", sym, reads=True) if sym.kind in ("function", "method") else None
        for s in reads or []:
            if (s.line, s.name) in read_covered:
                continue
            answer = ask(sym.path, s.line, s.column)
            site_recall["unrecorded_reads"] += 1
            if any(d.type in _READ_TYPES for d in answer.inside):
                site_recall["unrecorded_reads_jedi_inside"] += 1
                if len(examples["references:read_not_recorded"]) < _MAX_EXAMPLES:
                    examples["references:read_not_recorded"].append(
                        {
                            "site": f"{sym.path}:{s.line}:{s.column + 1}",
                            "name": s.name,
                            "in": sym.qualified_name,
                            "jedi": answer.describe(),
                        }
                    )
    calls = by_kind["calls"]
    refs = by_kind["references"]
    read_recall_all = _ratio(refs.correct, refs.jedi_inside + site_recall["unrecorded_reads_jedi_inside"])
    site_recall_all = _ratio(calls.correct, calls.jedi_inside + site_recall["unrecorded_jedi_inside"])
    a_seconds = time.perf_counter() - started
    print(
        f"[{corpus.name}] (a) {len(checked_sources)}/{len(order)} sources, {len(answers)} jedi lookups "
        f"in {a_seconds - index_seconds:.0f}s; (b) callers ...",
        flush=True,
    )

    # (b) callers ----------------------------------------------------------------------------------
    callers = Counter()
    callers_checked = 0
    callers_timeouts = 0
    for fn in sorted(functions, key=lambda s: (s.path, s.start_line)):
        if time.perf_counter() > deadline:
            break
        lines = jd.lines(fn.path)
        pos = _def_position(lines, fn)
        if pos is None:
            continue
        status, refs = jd.references(fn.path, *pos)
        if status != "ok":
            callers_timeouts += 1
            continue
        callers_checked += 1
        jedi_calls: set[tuple[str, int]] = set()
        for r in refs:
            rel = jd.rel(r.module_path)
            if rel is None or r.is_definition() or r.line is None:
                continue
            text = jd.lines(rel)[r.line - 1] if rel.endswith(".py") else ""
            if text[r.column + len(r.name) :].lstrip().startswith("("):
                jedi_calls.add((rel, r.line))
        index_calls = {(p, ln) for p, ln, _ in incoming.get(fn.id, [])}
        tp = index_calls & jedi_calls
        callers["jedi"] += len(jedi_calls)
        callers["index"] += len(index_calls)
        callers["tp"] += len(tp)
        for p, ln in sorted(index_calls - jedi_calls):
            # jedi did not list it: does jedi say that site calls something else, or nothing it knows?
            col = _find_name(jd.lines(p), ln, fn.name)
            answer = ask(p, ln, col) if col is not None else JediAnswer("no_position")
            if any(matches(fn, d, syms) for d in answer.inside):
                # get_references missed a site that jedi's own goto says calls this function:
                # jedi agrees with the index there, so it is a caller both found.
                callers["confirmed_by_goto"] += 1
                callers["jedi"] += 1
                callers["tp"] += 1
                continue
            verdict = "contradicted" if answer.status in ("inside", "outside") else "unconfirmed"
            callers[f"index_only_{verdict}"] += 1
            key = f"callers:{verdict}"
            if len(examples[key]) < _MAX_EXAMPLES:
                conf = next((e for e in incoming[fn.id] if (e[0], e[1]) == (p, ln)), None)
                examples[key].append(
                    {
                        "site": f"{p}:{ln}",
                        "function": fn.qualified_name,
                        "source": syms[conf[2]].qualified_name if conf and conf[2] in syms else None,
                        "jedi_at_site": answer.describe(),
                    }
                )
        for p, ln in sorted(jedi_calls - index_calls):
            callers["jedi_only"] += 1
            if len(examples["callers:missed"]) < _MAX_EXAMPLES:
                examples["callers:missed"].append(
                    {"site": f"{p}:{ln}", "function": fn.qualified_name, "line": jd.lines(p)[ln - 1].strip()[:160]}
                )
    cp = _ratio(callers["tp"], callers["index"])
    cr = _ratio(callers["tp"], callers["jedi"])
    decided = callers["index"] - callers["index_only_unconfirmed"]
    b_seconds = time.perf_counter() - started - a_seconds
    print(f"[{corpus.name}] (b) {callers_checked} functions in {b_seconds:.0f}s; (c) goto_definition ...", flush=True)

    # (c) goto_definition ----------------------------------------------------------------------------
    rng_c = random.Random(args.seed)
    chosen = rng_c.sample(goto_sites, args.goto_sites) if len(goto_sites) > args.goto_sites else goto_sites
    goto = Counter()
    async with db.pool.acquire() as conn:
        for rel, site, answer in chosen:
            result = await goto_definition(conn, rel, site.line, name=site.name, repository=repo_name)
            goto["sites"] += 1
            defs = result.definitions
            if not defs:
                goto["no_answer"] += 1
                continue
            tops = [syms.get(d.id) for d in defs]
            first_ok = tops[0] is not None and any(matches(tops[0], j, syms) for j in answer.inside)
            any_ok = any(t is not None and any(matches(t, j, syms) for j in answer.inside) for t in tops)
            goto["top1"] += first_ok
            goto["any"] += any_ok
            if not any_ok and len(examples["goto:wrong"]) < _MAX_EXAMPLES:
                d = defs[0]
                examples["goto:wrong"].append(
                    {
                        "site": f"{rel}:{site.line}",
                        "name": site.name,
                        "pgcode": f"{d.qualified_name} {d.path}:{d.start_line} ({d.confidence})",
                        "jedi": answer.describe(),
                    }
                )

    out = {
        "corpus": corpus.name,
        "requirement": corpus.requirement,
        "held_out": corpus.held_out,
        "index_seconds": round(index_seconds, 1),
        "compiler_pass": compiler,
        "index_stages": {k: round(v, 2) for k, v in report.seconds.items()},
        "symbols_python": len(syms),
        "overall_edges": overall,
        "sampled": {"functions": len(functions), "classes": len(classes), "modules": len(modules)},
        "checked_sources": len(checked_sources),
        "checked_functions": sum(s.kind in ("function", "method") for s in checked_sources),
        "edges": {k: by_kind[k].summary() for k in KINDS if k in by_kind},
        "by_confidence": {f"{k}@{b}": by_conf[(k, b)].summary() for k in KINDS for b in BUCKETS if (k, b) in by_conf},
        "correct_via_twin": dict(twin_targets),
        "calls_fallback_by_name": {g: {**t.summary(), "self_loops": fallback_self[g]} for g, t in fallback.items()},
        "references_site_recall": {
            "recall_over_recorded_and_attribute_reads": read_recall_all,
            "unrecorded_reads": site_recall["unrecorded_reads"],
            "unrecorded_reads_jedi_inside": site_recall["unrecorded_reads_jedi_inside"],
        },
        "calls_site_recall": {
            "recall_over_all_call_sites": site_recall_all,
            "unrecorded_sites": site_recall["unrecorded_sites"],
            "unrecorded_jedi_inside": site_recall["unrecorded_jedi_inside"],
        },
        "callers": {
            "functions": callers_checked,
            "jedi_timeouts": callers_timeouts,
            "jedi_call_sites": callers["jedi"],
            "index_call_sites": callers["index"],
            "both": callers["tp"],
            "index_only_contradicted": callers["index_only_contradicted"],
            "index_only_unconfirmed": callers["index_only_unconfirmed"],
            "jedi_only": callers["jedi_only"],
            "confirmed_by_goto": callers["confirmed_by_goto"],
            "precision": cp,
            "recall": cr,
            "f1": _f1(cp, cr),
            "precision_decided": _ratio(callers["tp"], decided),
        },
        "goto_definition": {
            "sites": goto["sites"],
            "top1": _ratio(goto["top1"], goto["sites"]),
            "any": _ratio(goto["any"], goto["sites"]),
            "no_answer": _ratio(goto["no_answer"], goto["sites"]),
        },
        "jedi": {
            "calls": jd.calls,
            "seconds": round(jd.seconds, 1),
            "timeouts": jd.timeouts,
            "errors": jd.errors,
            "error_kinds": dict(jd.error_kinds.most_common(8)),
        },
        "seconds": round(time.perf_counter() - started, 1),
        "load_before": load_before,
        "load_after": load(),
        "examples": dict(examples),
    }
    return out


def _example(
    examples: dict[str, list[dict[str, Any]]],
    e: Edge,
    answer: JediAnswer,
    target: Sym | None,
    ok: bool,
    syms: dict[int, Sym],
) -> None:
    """Keep a few of each kind of disagreement."""
    if target is not None and answer.status == "inside" and not ok:
        key = f"{e.kind}:wrong_target"
    elif target is not None and answer.status == "outside":
        key = f"{e.kind}:resolved_but_jedi_outside"
    elif target is None and answer.status == "inside":
        key = f"{e.kind}:missed"
    else:
        return
    if len(examples[key]) < _MAX_EXAMPLES:
        examples[key].append(
            {
                "site": f"{e.path}:{e.line}",
                "written": e.target_name,
                "confidence": round(e.confidence, 2),
                "in": syms[e.source_id].qualified_name if e.source_id in syms else None,
                "pgcode": f"{target.qualified_name} {target.path}:{target.start_line}" if target else None,
                "jedi": answer.describe(),
            }
        )


def _def_position(lines: list[str], fn: Sym) -> tuple[int, int] | None:
    for ln in range(fn.start_line, min(fn.end_line, fn.start_line + 40) + 1):
        m = re.search(rf"\bdef\s+({re.escape(fn.name)})\b", lines[ln - 1])
        if m:
            return ln, m.start(1)
    return None


def _find_name(lines: list[str], line: int, name: str) -> int | None:
    if not 1 <= line <= len(lines):
        return None
    m = re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", lines[line - 1])
    return m.start() if m else None


# --- output ----------------------------------------------------------------------------------------


def print_tables(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        for kind, s in r["edges"].items():
            rows.append(
                [
                    r["corpus"],
                    kind,
                    s["edges"],
                    s["index_resolved"],
                    s["jedi_inside"],
                    s["resolved_and_jedi_inside"],
                    s["resolved_but_jedi_outside"],
                    s["precision"],
                    s["strict_precision"],
                    s["recall"],
                    r["calls_site_recall"]["recall_over_all_call_sites"]
                    if kind == "calls"
                    else r["references_site_recall"]["recall_over_recorded_and_attribute_reads"]
                    if kind == "references"
                    else None,
                ]
            )
    print()
    print(
        table(
            [
                "corpus",
                "kind",
                "edges",
                "resolved",
                "jedi in",
                "both",
                "res/jedi out",
                "precision",
                "strict P",
                "recall",
                "site recall",
            ],
            rows,
            title="(a) edges vs jedi goto (sampled sources)",
        )
    )
    rows = []
    for r in results:
        for group, s in sorted(r.get("calls_fallback_by_name", {}).items()):
            rows.append(
                [
                    r["corpus"],
                    group,
                    s["edges"],
                    s["index_resolved"],
                    s["resolved_and_jedi_inside"],
                    s["correct"],
                    s["resolved_but_jedi_outside"],
                    s["self_loops"],
                    s["precision"],
                    s["strict_precision"],
                ]
            )
    print()
    print(
        table(
            [
                "corpus",
                "called name",
                "edges",
                "resolved",
                "res+jedi in",
                "correct",
                "res/jedi out",
                "self-loops",
                "precision",
                "strict P",
            ],
            rows,
            title="(a) name-only call fallbacks (confidence 0.3-0.7)",
        )
    )
    rows = []
    for r in results:
        for key, s in r["by_confidence"].items():
            kind, b = key.split("@")
            rows.append(
                [
                    r["corpus"],
                    kind,
                    b,
                    s["edges"],
                    s["resolved_and_jedi_inside"],
                    s["correct"],
                    s["resolved_but_jedi_outside"],
                    s["precision"],
                    s["strict_precision"],
                ]
            )
    print()
    print(
        table(
            ["corpus", "kind", "conf", "edges", "res+jedi in", "correct", "res/jedi out", "precision", "strict P"],
            rows,
            title="(a) by confidence",
        )
    )
    print()
    print(
        table(
            [
                "corpus",
                "functions",
                "jedi sites",
                "index sites",
                "both",
                "contradicted",
                "unconfirmed",
                "precision",
                "P decided",
                "recall",
                "F1",
            ],
            [
                [
                    r["corpus"],
                    r["callers"]["functions"],
                    r["callers"]["jedi_call_sites"],
                    r["callers"]["index_call_sites"],
                    r["callers"]["both"],
                    r["callers"]["index_only_contradicted"],
                    r["callers"]["index_only_unconfirmed"],
                    r["callers"]["precision"],
                    r["callers"]["precision_decided"],
                    r["callers"]["recall"],
                    r["callers"]["f1"],
                ]
                for r in results
            ],
            title="(b) callers vs jedi get_references (call sites)",
        )
    )
    print()
    print(
        table(
            [
                "corpus",
                "sites",
                "top1",
                "any",
                "no answer",
                "jedi calls",
                "jedi s",
                "timeouts",
                "total s",
                "load1 before",
                "load1 after",
            ],
            [
                [
                    r["corpus"],
                    r["goto_definition"]["sites"],
                    r["goto_definition"]["top1"],
                    r["goto_definition"]["any"],
                    r["goto_definition"]["no_answer"],
                    r["jedi"]["calls"],
                    r["jedi"]["seconds"],
                    r["jedi"]["timeouts"],
                    r["seconds"],
                    r["load_before"]["load1"],
                    r["load_after"]["load1"],
                ]
                for r in results
            ],
            title="(c) goto_definition vs jedi goto (call sites jedi resolves inside the corpus)",
        )
    )


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    selected = corpora.selected(args.corpus)
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    async with open_database(settings) as db:
        for corpus in selected:
            results.append(await run_corpus(db, settings, corpus, args))
    print_tables(results)
    payload = {
        "benchmark": "graph_precision",
        "command": " ".join(sys.argv),
        "seed": args.seed,
        "jedi_version": jedi.__version__,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "corpora": results,
    }
    label = "-".join(c.name for c in selected) if args.corpus else ""
    if args.compiler_pass:  # beside the tree-sitter figures, never over them
        label = f"{label}-compiler" if label else "compiler"
    path = write_result("graph_precision", payload, label)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", action="append", help=f"corpus name, repeatable (default: all: {', '.join(corpora.CORPORA)})"
    )
    parser.add_argument("--functions", type=int, default=200, help="functions/methods sampled per corpus (default 200)")
    parser.add_argument(
        "--classes", type=int, default=100, help="classes sampled per corpus, for inherits (default 100)"
    )
    parser.add_argument("--modules", type=int, default=40, help="modules sampled per corpus, for imports (default 40)")
    parser.add_argument(
        "--goto-sites", type=int, default=400, help="call sites checked with goto_definition (default 400)"
    )
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default {SEED})")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=900,
        help="time budget per corpus, indexing included (default 900); (a) gets 55%%, (b) the rest",
    )
    parser.add_argument("--jedi-timeout", type=float, default=20, help="seconds per jedi call (default 20)")
    parser.add_argument(
        "--reuse-index",
        action="store_true",
        help="keep the corpus's index from an earlier run (default: index afresh, so the figures "
        "measure the current code; vectors are reused either way)",
    )
    add_compiler_pass_argument(parser)
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
