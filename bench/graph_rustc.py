"""Graph precision and recall in Rust, with rustc's own name and method resolution as truth.

rust-analyzer cannot be installed here (no Debian package; rustup has no component to give), so
the truth is the compiler: bench/rustc_truth.py reads `-Zunpretty=hir-tree` / `thir-tree` dumps of
each buildable target (stable rustc with RUSTC_BOOTSTRAP=1, through cargo, offline). That truth
answers the same four questions bench/graph_lsp.py asks a language server (references at a
definition, call hierarchy, incoming calls, definition at a call site) through a stand-in with the
server's interface, so the scoring, sampling, seeds and JSON are graph_lsp's own (`_score`).

Corpora: crates from Debian's `librust-*-dev` packages (sources under /usr/share/cargo/registry),
pinned, laid out as a crate root with its dependencies stripped from Cargo.toml (those used are
all optional), benches and examples removed, and integration tests kept where they build without
dev-dependencies (those that do not are removed too: no truth, no scoring there), and no build.rs. Truth limits,
said in the JSON: code compiled out by `cfg` has no truth (a file no target compiles and a
function rustc defines nowhere are scored on neither side; pgcode's edges in other compiled-out code
count against it); calls written inside macro arguments are in the truth (their tokens keep their spans).

    python bench/graph_rustc.py                          # every Rust corpus
    python bench/graph_rustc.py --corpus semver --samples 60 --sites 120
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import graph_lsp
from _common import add_database_arguments, claim_repository, load, machine, settings_for, write_result
from corpora import CACHE
from lsp_client import LspError, path_uri
from rustc_truth import TRUTH_VERSION, CrateTruth, Definition, Use, load_truth

from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging

RUST_CACHE = CACHE / "rust"
OUTSIDE_URI = "file:///outside-the-crate/lib.rs"


@dataclass(frozen=True, slots=True)
class RustCorpus:
    name: str
    package: str  # Debian package
    version: str  # pinned
    crate: str  # directory under /usr/share/cargo/registry
    held_out: bool = False
    language: str = "rust"

    @property
    def pinned(self) -> str:
        return f"{self.package}={self.version}"

    @property
    def root(self) -> Path:
        return RUST_CACHE / "roots" / self.name


CORPORA: dict[str, RustCorpus] = {
    c.name: c
    for c in (
        RustCorpus("semver", "librust-semver-dev", "1.0.14-1", "semver-1.0.14"),
        RustCorpus("bytes", "librust-bytes-dev", "1.2.1-1", "bytes-1.2.1"),
        RustCorpus("slab", "librust-slab-dev", "0.4.4-1+b1", "slab-0.4.4"),
        RustCorpus("either", "librust-either-dev", "1.6.1-1", "either-1.6.1"),
        RustCorpus("tinyvec", "librust-tinyvec-dev", "1.6.0-2", "tinyvec-1.6.0"),
        RustCorpus("smallvec", "librust-smallvec-dev", "1.9.0-1", "smallvec-1.9.0", held_out=True),
    )
}


def corpus_root(corpus: RustCorpus) -> Path:
    """The crate laid out for indexing and compiling (built once; delete it to rebuild)."""
    root = corpus.root
    if (root / ".complete").exists():
        return root
    unpacked = RUST_CACHE / "src" / f"{corpus.package}_{corpus.version}"
    if not (unpacked / ".complete").exists():
        pkg_dir = RUST_CACHE / "pkg"
        pkg_dir.mkdir(parents=True, exist_ok=True)
        found = sorted(pkg_dir.glob(f"{corpus.package}_{corpus.version}_*.deb"))
        if not found:
            subprocess.run(["apt-get", "download", "-q", corpus.pinned], cwd=pkg_dir, check=True)
            found = sorted(pkg_dir.glob(f"{corpus.package}_{corpus.version}_*.deb"))
        shutil.rmtree(unpacked, ignore_errors=True)
        unpacked.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(unpacked)], check=True)
        (unpacked / ".complete").write_text("ok\n")
    shutil.rmtree(root, ignore_errors=True)
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(unpacked / "usr/share/cargo/registry" / corpus.crate, root)
    # build.rs is a crate of its own that no target dump covers: without truth, it is left out.
    for extra in (
        "build.rs",
        "benches",
        "examples",
        "debian",
        ".cargo_vcs_info.json",
        "Cargo.toml.orig",
        ".cargo-checksum.json",
    ):
        target = root / extra
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    (root / "Cargo.toml").write_text(_strip_dependencies((root / "Cargo.toml").read_text()))
    for test in sorted((root / "tests").glob("*.rs")) if (root / "tests").is_dir() else []:
        if not _builds(root, ["--test", test.stem]):
            test.unlink()
    if not _builds(root, ["--lib"]):
        raise RuntimeError(f"{corpus.name}: the library does not build offline without its dependencies")
    (root / ".complete").write_text("ok\n")
    return root


_SECTION = re.compile(r"^\[([^\]]+)\]\s*$")


def _strip_dependencies(toml: str) -> str:
    """Cargo.toml without dependency sections and [[bench]] / [[example]] / [[test]] targets; features keep
    their names (the default ones stay on) but lose what named a dependency."""
    out: list[str] = []
    deps: set[str] = set()
    drop = False
    section = ""
    for line in toml.splitlines():
        m = _SECTION.match(line) or (re.match(r"^\[\[([^\]]+)\]\]\s*$", line))
        if m:
            section = m.group(1)
            head, _, dep = section.partition(".")
            # a `[[test]]` target names a file that may be left out below (tinyvec's needs `alloc`):
            # the tests/ files are found without it
            drop = head in ("dependencies", "dev-dependencies", "build-dependencies", "bench", "example", "test") or (
                head == "target"
            )
            if head in ("dependencies", "dev-dependencies", "build-dependencies") and dep:
                deps.add(dep)
        if not drop and not re.match(r"^build\s*=", line):
            out.append(line)
    kept: list[str] = []
    section = ""
    for line in out:
        m = _SECTION.match(line)
        if m:
            section = m.group(1)
        feature = re.match(r"^([\w-]+)\s*=\s*\[(.*)\]\s*$", line) if section == "features" else None
        if feature:
            items = [i.strip().strip('"') for i in feature.group(2).split(",") if i.strip()]
            items = [i for i in items if re.split(r"[:/?]", i.removeprefix("dep:"))[0] not in deps]
            if feature.group(1) in deps:
                continue
            line = f"{feature.group(1)} = [{', '.join(json.dumps(i) for i in items)}]"
        kept.append(line)
    return "\n".join(kept) + "\n"


def _builds(root: Path, target: list[str]) -> bool:
    proc = subprocess.run(
        ["cargo", "check", "--offline", "-q", "--profile", "test", *target],
        cwd=root,
        env={**os.environ, "CARGO_TARGET_DIR": str(RUST_CACHE / "target" / root.name)},
        capture_output=True,
        timeout=900,
    )
    return proc.returncode == 0


class CompilerTruth:
    """The few LSP requests graph_lsp._score asks, answered from rustc's resolution."""

    def __init__(self, root: Path, truth: CrateTruth) -> None:
        self.root = root
        self.truth = truth
        self.restarts = 0
        self.defs_in: dict[str, list[Definition]] = defaultdict(list)
        for d in truth.definitions.values():
            self.defs_in[d.file].append(d)
        self.uses_of: dict[str, list[Use]] = defaultdict(list)
        self.uses_at: dict[tuple[str, int], list[Use]] = defaultdict(list)
        for u in truth.uses:
            self.uses_of[u.target].append(u)
            self.uses_at[(u.file, u.line)].append(u)
        self.lines: dict[str, list[str]] = {}

    # the LanguageServer interface graph_lsp uses
    def start(self, ready: Any = None) -> None:
        if ready is not None:
            ready(self)

    def stop(self) -> None:
        pass

    def wait_loaded(self, first: Path, timeout: float = 0.0) -> float:
        return 0.0

    def _word(self, rel: str, line0: int, char0: int) -> str:
        if rel not in self.lines:
            self.lines[rel] = (self.root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
        text = self.lines[rel][line0] if 0 <= line0 < len(self.lines[rel]) else ""
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[char0:])
        return m.group(0) if m else ""

    def _definition_at(self, rel: str, line0: int, char0: int) -> Definition | None:
        name = self._word(rel, line0, char0)
        near = [d for d in self.defs_in.get(rel, []) if d.name == name and d.line <= line0 + 1 <= d.line + 12]
        return max(near, key=lambda d: d.line) if near else None

    def _location(self, rel: str, line: int, column: int, length: int) -> dict[str, Any]:
        return {
            "uri": path_uri(self.root / rel),
            "range": {
                "start": {"line": line - 1, "character": column},
                "end": {"line": line - 1, "character": column + length},
            },
        }

    def _def_location(self, d: Definition) -> dict[str, Any]:
        text = (self.root / d.file).read_text(encoding="utf-8", errors="replace").split("\n")
        for ln in range(d.line, min(d.line + 12, len(text)) + 1):
            m = re.search(rf"\b{re.escape(d.name)}\b", text[ln - 1])
            if m:
                return self._location(d.file, ln, m.start(), len(d.name))
        return self._location(d.file, d.line, 0, len(d.name))

    def at(self, method: str, path: Path, line0: int, char0: int, timeout: float, **extra: Any) -> Any:
        rel = path.resolve().relative_to(self.root).as_posix()
        if method == "textDocument/references":
            d = self._definition_at(rel, line0, char0)
            if d is None:  # compiled out by cfg (a twin of another definition, a feature left off)
                raise LspError("no definition compiled here")
            return [self._location(u.file, u.line, u.column, len(u.name)) for u in self.uses_of.get(d.path, [])]
        if method == "textDocument/prepareCallHierarchy":
            d = self._definition_at(rel, line0, char0)
            return [{"name": d.name, "data": d.path}] if d is not None else []
        if method == "textDocument/definition":
            name = self._word(rel, line0, char0)
            here = [u for u in self.uses_at.get((rel, line0 + 1), []) if u.name == name]
            exact = [u for u in here if u.column == char0] or here
            if not exact:
                return []
            target = self.truth.definitions.get(exact[0].target)
            if target is None:
                return [
                    {
                        "uri": OUTSIDE_URI,
                        "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                    }
                ]
            return [self._def_location(target)]
        raise ValueError(method)

    def request(self, method: str, params: Any, timeout: float = 0.0, restart: bool = True) -> Any:
        if method != "callHierarchy/incomingCalls":
            raise ValueError(method)
        by_caller: dict[tuple[str, str], list[Use]] = defaultdict(list)
        for u in self.uses_of.get(params["item"]["data"], []):
            if u.call:
                by_caller[(u.caller, u.file)].append(u)
        return [
            {
                "from": {"uri": path_uri(self.root / file), "name": caller},
                "fromRanges": [self._location(u.file, u.line, u.column, len(u.name))["range"] for u in uses],
            }
            for (caller, file), uses in sorted(by_caller.items())
        ]


def compiled_out(index: graph_lsp.Index, truth: CrateTruth) -> tuple[set[str], set[int]]:
    """The files no target compiles, and the functions and methods of compiled files that rustc
    defines nowhere (`#[cfg(feature = "serde")] fn serialize`): where the truth is silent."""
    seen = {d.file for d in truth.definitions.values()} | {u.file for u in truth.uses}
    files = {p for p in index.files if p.endswith(".rs") and p not in seen}
    defined: dict[tuple[str, str], list[int]] = defaultdict(list)
    for d in truth.definitions.values():
        defined[(d.file, d.name.split("#", 1)[0])].append(d.line)  # `insert_get_many#1`: a test crate's
    syms = {
        s.id
        for s in index.syms.values()
        if s.kind in ("function", "method")
        and s.path in seen
        and not any(s.start_line - 12 <= ln <= s.end_line for ln in defined.get((s.path, s.name), ()))
    }
    return files, syms


async def run_corpus(db: Any, settings: Any, corpus: RustCorpus, args: argparse.Namespace) -> dict[str, Any]:
    load_before = load()
    started = time.perf_counter()
    root = corpus_root(corpus).resolve()
    truth_started = time.perf_counter()
    truth = load_truth(
        root, RUST_CACHE / "truth" / f"{corpus.name}-v{TRUTH_VERSION}.json", RUST_CACHE / "target" / corpus.name
    )
    truth_seconds = time.perf_counter() - truth_started
    repo = f"bench-rustc-{corpus.name}"
    await claim_repository(db, repo, root, fresh=not args.reuse_index)
    index_started = time.perf_counter()
    report = await index_repository(db, settings, root, name=repo)
    index_seconds = time.perf_counter() - index_started
    async with db.pool.acquire() as conn:
        index = await graph_lsp.load_index(conn, repo)
    index.no_truth, index.no_truth_syms = compiled_out(index, truth)
    print(f"[{corpus.name}] indexed {len(index.files)} files in {index_seconds:.1f}s", flush=True)
    server = CompilerTruth(root, truth)
    scorer = graph_lsp.Truth(server, root)  # type: ignore[arg-type]
    result = await graph_lsp._score(db, corpus, index, scorer, args)  # type: ignore[arg-type]
    result.update(
        {
            "corpus": corpus.name,
            "language": "rust",
            "package": corpus.pinned,
            "held_out": corpus.held_out,
            "files": len(index.files),
            "compiled_out_unscored": {
                "why": "no target compiles them (a feature left off: `#[cfg(feature = ..)]`), so rustc "
                "gives no truth there: pgcode's references and callers there are scored on neither side",
                "files": sorted(index.no_truth),
                "functions": len(index.no_truth_syms),
            },
            "lines": sum((root / p).read_bytes().count(b"\n") for p in index.files if (root / p).is_file()),
            "index_seconds": round(index_seconds, 1),
            "index_stages": {k: round(v, 2) for k, v in report.seconds.items()},
            "server": {
                "argv": ["rustc -Zunpretty=hir-tree,thir-tree (RUSTC_BOOTSTRAP=1), via bench/rustc_truth.py"],
                "targets": truth.targets,
                "failed_targets": truth.failed_targets,
                "definitions": len(truth.definitions),
                "uses": len(truth.uses),
                "uses_into_crate": sum(u.target in truth.definitions for u in truth.uses),
                "trait_calls_attributed_to_impl": truth.trait_calls_to_impl,
                "extract_seconds": round(truth_seconds, 1),
                "restarts": 0,
                "requests": dict(scorer.outcomes),
                "error_kinds": dict(scorer.error_kinds.most_common(10)),
                "seconds": round(scorer.seconds, 1),
            },
            "seconds": round(time.perf_counter() - started, 1),
            "load_before": load_before,
            "load_after": load(),
        }
    )
    return result


async def _run(args: argparse.Namespace) -> None:
    settings = settings_for(args.data_dir, args.database_url)
    chosen = [CORPORA[n] for n in args.corpus] if args.corpus else list(CORPORA.values())
    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    async with open_database(settings) as db:
        for corpus in chosen:
            results.append(await run_corpus(db, settings, corpus, args))
    languages = graph_lsp.per_language(results)
    graph_lsp.print_tables(results, languages, {})
    payload = {
        "benchmark": "graph_rustc",
        "command": " ".join(sys.argv),
        "seed": args.seed,
        "machine": machine(),
        "seconds": round(time.perf_counter() - started, 1),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "pgcode_queried_through": "mcp_server.graph.walk.find_references/find_callers and "
        "mcp_server.graph.symbols.goto_definition (the functions the MCP tools call)",
        "truth_servers": {
            "rust": "rustc "
            + subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
            + " -Zunpretty=hir-tree/thir-tree (bench/rustc_truth.py); rust-analyzer is not installable here"
        },
        "per_language": languages,
        "corpora": results,
    }
    label = "-".join(c.name for c in chosen) if args.corpus else ""
    path = write_result("graph_rustc", payload, label)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus", action="append", help=f"corpus name, repeatable (default all: {', '.join(CORPORA)})"
    )
    parser.add_argument("--samples", type=int, default=150, help="functions/methods sampled per corpus (default 150)")
    parser.add_argument("--sites", type=int, default=300, help="call sites checked with goto_definition (default 300)")
    parser.add_argument("--seed", type=int, default=graph_lsp.SEED, help=f"sampling seed (default {graph_lsp.SEED})")
    parser.add_argument("--timeout", type=float, default=30.0, help=argparse.SUPPRESS)
    parser.add_argument("--max-seconds", type=float, default=600.0, help="time budget per corpus, as graph_lsp")
    parser.add_argument("--reuse-index", action="store_true", help="keep the corpus's index from an earlier run")
    add_database_arguments(parser)
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":
    main()
