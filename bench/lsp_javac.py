"""javac as the Java truth for bench/graph_lsp.py: what the compiler resolves each name to, answered like a language server.

No Java language server can be installed here (Eclipse JDT LS is not packaged), but javac 17 is.
bench/javac_truth/Truth.java (compiled at run time into the shared cache, never committed as a
binary) parses and attributes the whole corpus through the compiler API and lists every use of a
corpus declaration: method invocations, `new`, `this(...)`/`super(...)`, identifiers, member selects,
method references and imports. `JavacServer` answers the four questions graph_lsp.py asks a server
(references, prepareCallHierarchy, incomingCalls, definition) from that list, so the scoring is
the same code for every language.

Overloads are one symbol in pgcode (one qualified name, its twins): references and callers of a
method are those of every overload of that name in that class. Calls javac could not attribute (a
dependency that is not here) are no truth either way: they are listed, counted and left out of
both sides by the bench.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsp_client import LspError, path_uri

TRUTH_SOURCE = Path(__file__).resolve().parent / "javac_truth" / "Truth.java"
CALL, METHOD_REF, IMPORT = 1, 2, 4


@dataclass(frozen=True, slots=True)
class Decl:
    id: int
    kind: str
    path: str
    line: int
    column: int
    name: str
    enclosing: int | None
    qname: str


@dataclass(frozen=True, slots=True)
class Use:
    path: str
    line: int
    column: int
    decl: int
    flags: int
    enclosing: int | None


def compiled_truth(cache: Path) -> Path:
    """The directory holding Truth.class, compiled once per version of Truth.java."""
    digest = hashlib.sha256(TRUTH_SOURCE.read_bytes()).hexdigest()[:12]
    out = cache / "javac_truth" / digest
    if not (out / "Truth.class").exists():
        javac = shutil.which("javac")
        if javac is None:
            raise RuntimeError("javac is not installed (apt-get install openjdk-17-jdk-headless)")
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([javac, "-d", str(out), str(TRUTH_SOURCE)], check=True)
    return out


class JavacServer:
    """The javac truth of one corpus, spoken to like `lsp_client.LanguageServer` (`at`, `request`)."""

    def __init__(self, root: Path, sources: list[Path], classpath: list[Path], cache: Path, log: Path) -> None:
        self.root = root.resolve()
        self.sources = sources
        self.classpath = classpath
        self.cache = cache
        self.log = log
        self.restarts = 0
        self.load_seconds = 0.0
        self.decls: dict[int, Decl] = {}
        self.uses: list[Use] = []
        self.erroneous: list[tuple[str, int, int, str]] = []
        self.compile_errors = 0
        self._unattributed: set[tuple[str, int, int]] = set()
        self._decl_at: dict[tuple[str, int, int], int] = {}
        self._uses_at: dict[tuple[str, int, int], list[Use]] = defaultdict(list)
        self._uses_of: dict[str, list[Use]] = defaultdict(list)  # by qualified name: overloads are one

    # --- the LanguageServer surface graph_lsp.py uses ------------------------------------------------

    def start(self, ready: Callable[[JavacServer], None] | None = None) -> None:
        started = time.perf_counter()
        self._run()
        self.load_seconds = time.perf_counter() - started
        if ready is not None:
            ready(self)

    def wait_loaded(self, first: Path, timeout: float = 240.0) -> float:
        return self.load_seconds

    def stop(self) -> None:
        pass

    def at(self, method: str, path: Path, line0: int, char0: int, timeout: float, **extra: Any) -> Any:
        rel = path.resolve().relative_to(self.root).as_posix()
        key = (rel, line0 + 1, char0)
        if method == "textDocument/definition":
            uses = self._uses_at.get(key, [])
            if key in self._unattributed:
                raise LspError("javac: a call it could not attribute (a dependency missing)")
            if not uses:
                # Attributed, and not to a corpus declaration: the JDK or a dependency.
                return [{"uri": "javac:outside-the-corpus", "range": self._range(line0 + 1, char0)}]
            use = max(uses, key=lambda u: u.flags & CALL)  # `new Foo()`: the constructor, not the class
            return [self._location(self.decls[use.decl])]
        decl = self._decl_for(key)
        if decl is None:
            raise LspError("javac: no corpus declaration at this position")
        if method == "textDocument/references":
            return [self._location(u) for u in self._uses_of[decl.qname]]
        if method == "textDocument/prepareCallHierarchy":
            return [{"name": decl.name, "qname": decl.qname, **self._location(decl)}]
        raise LspError(f"javac truth answers no {method}")

    def request(self, method: str, params: Any, timeout: float = 20.0) -> Any:
        if method != "callHierarchy/incomingCalls":
            raise LspError(f"javac truth answers no {method}")
        by_caller: dict[tuple[str, int | None], list[dict[str, Any]]] = defaultdict(list)
        for u in self._uses_of[params["item"]["qname"]]:
            if u.flags & CALL:
                by_caller[(u.path, u.enclosing)].append(self._range(u.line, u.column))
        return [
            {"from": {"uri": path_uri(self.root / path), "name": str(enclosing)}, "fromRanges": ranges}
            for (path, enclosing), ranges in by_caller.items()
        ]

    # --- the truth ---------------------------------------------------------------------------------

    def _decl_for(self, key: tuple[str, int, int]) -> Decl | None:
        if key in self._decl_at:
            return self.decls[self._decl_at[key]]
        uses = self._uses_at.get(key, [])
        return self.decls[uses[0].decl] if uses else None

    def _range(self, line: int, column: int) -> dict[str, Any]:
        return {"start": {"line": line - 1, "character": column}, "end": {"line": line - 1, "character": column}}

    def _location(self, at: Decl | Use) -> dict[str, Any]:
        return {"uri": path_uri(self.root / at.path), "range": self._range(at.line, at.column)}

    def _run(self) -> None:
        classes = compiled_truth(self.cache)
        work = self.cache / "javac_truth" / "runs"
        work.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        listing, out = work / f"{name}.sources", work / f"{name}.json"
        listing.write_text("".join(f"{p.resolve()}\n" for p in self.sources))
        classpath = ":".join(str(p) for p in self.classpath)
        java = shutil.which("java") or "java"
        with open(self.log, "ab") as err:
            proc = subprocess.run(
                [java, "-Xss8m", "-cp", str(classes), "Truth", str(self.root), classpath, str(out), f"@{listing}"],
                stdout=subprocess.PIPE,
                stderr=err,
                check=True,
                timeout=1800,
            )
        print(f"  javac truth: {proc.stdout.decode().strip()}", flush=True)
        data = json.loads(out.read_text())
        files: list[str] = data["files"]
        self.compile_errors = data["compile_errors"]
        for i, kind, f, line, col, dname, enclosing, qname in data["decls"]:
            self.decls[i] = Decl(i, kind, files[f], line, col, dname, enclosing, qname)
            self._decl_at[(files[f], line, col)] = i
        for f, line, col, decl, flags, enclosing in data["uses"]:
            use = Use(files[f], line, col, decl, flags, enclosing)
            self.uses.append(use)
            self._uses_at[(use.path, line, col)].append(use)
            self._uses_of[self.decls[decl].qname].append(use)
        self.erroneous = [(files[f], line, col, ename) for f, line, col, ename in data["erroneous"]]
        self._unattributed = {(p, ln, col) for p, ln, col, _ in self.erroneous}

    def unattributed_lines(self) -> set[tuple[str, int]]:
        """(path, line) of the calls javac could not attribute: no truth there either way."""
        return {(p, ln) for p, ln, _, _ in self.erroneous}
