"""Retrieval corpora beyond Python: the graph benches' Go, TypeScript, Java and Rust libraries, library sources only, doc comments stripped.

Each corpus is one of bench/lsp_corpora.py's or bench/graph_rustc.py's pinned packages (fetched
and laid out by them, cached under PGCODE_BENCH_CORPORA), less its tests, benchmarks and examples,
as the Python corpora are package folders only. bench/retrieval.py indexes the stripped copy
(bench/doc_strip.py) and queries each removed doc comment's first sentence.

    go          zerolog, cobra, chi (held out), logrus (held out)
    typescript  mongodb (the Node driver), mobx, rxjs (held out), trpc (the server package, held out)
    java        jsoup, commons-io (held out), commons-lang3 (held out)
    rust        bytes, itertools, smallvec (held out), arrayvec (held out)

Held-out corpora (the graph benches' held-out chi, rxjs, commons-io and smallvec, and logrus, trpc,
commons-lang3 and arrayvec, which no bench used before they were added) are for reporting, never
tuning. The graph benches' zod and semver are not here: their sources document
two and four functions. Rust crates are Debian's `librust-*-dev` packages, unpacked here (the
graph bench's copies are cut down to what builds without dependencies; itertools needs one).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import doc_strip
from corpora import CACHE

EXTENSIONS = {
    "go": (".go",),
    "typescript": (".ts", ".mts", ".cts"),
    "javascript": (".js", ".mjs", ".cjs"),
    "java": (".java",),
    "rust": (".rs",),
}


@dataclass(frozen=True, slots=True)
class LangCorpus:
    name: str
    language: str
    requirement: str  # the pinned package it comes from
    sources: tuple[str, ...]  # folders (or files) inside the laid-out root that are the library
    exclude: str = r"$^"  # regex on the root-relative POSIX path of files left out
    held_out: bool = False

    def root(self) -> Path:
        """The laid-out package (fetched once)."""
        if self.language == "rust":
            return _crate_root(self)
        import lsp_corpora

        known = lsp_corpora.CORPORA.get(self.name)
        if known is None:  # a package the graph bench does not use, fetched and laid out the same way
            if "@" in self.requirement[1:]:
                package, _, version = self.requirement.rpartition("@")
                known = lsp_corpora.LspCorpus(self.name, self.language, "npm", package, version, self.sources)
            else:
                package, _, version = self.requirement.partition("=")
                source = "deb" if self.language == "go" else "debsrc"
                known = lsp_corpora.LspCorpus(self.name, self.language, source, package, version, self.sources)
        return lsp_corpora.corpus_root(known)

    def files(self, root: Path) -> list[Path]:
        """The library's source files of its language, sorted."""
        exts = EXTENSIONS[self.language]
        skip = re.compile(self.exclude)
        out: list[Path] = []
        for rel in self.sources:
            top = root / rel
            candidates = [top] if top.is_file() else top.rglob("*")
            out.extend(
                p
                for p in candidates
                if p.is_file()
                and p.name.endswith(exts)
                and not p.name.endswith(".d.ts")
                and not skip.search(p.relative_to(root).as_posix())
            )
        return sorted(set(out))


_GO_TESTS = r"_test\.go$"
_RUST_TESTS = r"(^|/)tests?(\.rs$|/)"  # a crate's `mod tests` file or folder
_TS_TESTS = r"(^|/)(tests?|__tests__|benchmarks?)/|\.(test|spec)\.[cm]?ts$"

CORPORA: dict[str, LangCorpus] = {
    c.name: c
    for c in (
        LangCorpus("zerolog", "go", "golang-github-rs-zerolog-dev=1.26.1-2", (".",), _GO_TESTS),
        LangCorpus("cobra", "go", "golang-github-spf13-cobra-dev=1.6.1-1", (".",), _GO_TESTS),
        LangCorpus("chi", "go", "golang-github-go-chi-chi-dev=5.0.7-1", (".",), _GO_TESTS, held_out=True),
        LangCorpus("logrus", "go", "golang-github-sirupsen-logrus-dev=1.9.0-1", (".",), _GO_TESTS, held_out=True),
        LangCorpus("mongodb", "typescript", "mongodb@6.12.0", ("src",), _TS_TESTS),
        LangCorpus("mobx", "typescript", "mobx@6.13.5", ("src",), _TS_TESTS),
        LangCorpus("rxjs", "typescript", "rxjs@7.8.1", ("src",), _TS_TESTS, held_out=True),
        LangCorpus("trpc", "typescript", "@trpc/server@11.0.0", ("src",), _TS_TESTS, held_out=True),
        LangCorpus("jsoup", "java", "jsoup=1.15.3-1", ("src/main/java",)),
        LangCorpus("commons-io", "java", "commons-io=2.11.0-2", ("src/main/java",), held_out=True),
        LangCorpus(
            "commons-lang3", "java", "libcommons-lang3-java=3.12.0-2+deb12u1", ("src/main/java",), held_out=True
        ),
        LangCorpus("bytes", "rust", "librust-bytes-dev=1.2.1-1", ("src",), _RUST_TESTS),
        LangCorpus("itertools", "rust", "librust-itertools-dev=0.10.3-1", ("src",), _RUST_TESTS),
        LangCorpus("smallvec", "rust", "librust-smallvec-dev=1.9.0-1", ("src",), _RUST_TESTS, held_out=True),
        LangCorpus("arrayvec", "rust", "librust-arrayvec-dev=0.7.2-2", ("src",), _RUST_TESTS, held_out=True),
    )
}
BY_LANGUAGE: dict[str, list[str]] = {}
for _c in CORPORA.values():
    BY_LANGUAGE.setdefault(_c.language, []).append(_c.name)
assert all(c.language in doc_strip.LANGUAGES for c in CORPORA.values())


def _crate_root(corpus: LangCorpus) -> Path:
    """CACHE/retrieval-crates/<corpus>: the crate as Debian ships it (`apt-get download` + `dpkg-deb -x`)."""
    root = CACHE / "retrieval-crates" / corpus.name
    if (root / ".complete").exists():
        return root
    pkg_dir = CACHE / "rust" / "pkg"
    pkg_dir.mkdir(parents=True, exist_ok=True)
    package, _, version = corpus.requirement.partition("=")
    pattern = f"{package}_{version}_*.deb"
    if not sorted(pkg_dir.glob(pattern)):
        subprocess.run(["apt-get", "download", "-q", corpus.requirement], cwd=pkg_dir, check=True)
    found = sorted(pkg_dir.glob(pattern))
    if not found:
        raise RuntimeError(f"apt-get download {corpus.requirement} left no .deb in {pkg_dir}")
    unpacked = root.with_name(root.name + ".unpacked")
    root.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(unpacked, ignore_errors=True)
    subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(unpacked)], check=True)
    crates = sorted((unpacked / "usr/share/cargo/registry").iterdir())
    if len(crates) != 1:
        raise RuntimeError(f"{found[-1].name} holds {len(crates)} crates, not one")
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(crates[0], root)
    shutil.rmtree(unpacked)
    (root / ".complete").write_text("ok\n")
    return root


def strip_tree(
    corpus: LangCorpus, dst_root: Path, on_file: Callable[[str, list[doc_strip.DocFunction] | None], None]
) -> None:
    """Write the corpus's library files, doc comments stripped, under dst_root (a file is rewritten
    only when its bytes change, so a re-run re-embeds nothing; stale files are removed). on_file gets
    each file's root-relative path and its functions, or None when it was left as it is because
    stripping would break its parse."""
    src_root = corpus.root()
    wanted: set[Path] = set()
    for src in corpus.files(src_root):
        rel = src.relative_to(src_root).as_posix()
        data = src.read_bytes()
        try:
            data, found = doc_strip.strip_source(data, corpus.language)
        except ValueError:
            on_file(rel, None)
        else:
            on_file(rel, found)
        dst = dst_root / rel
        wanted.add(dst)
        if not dst.exists() or dst.read_bytes() != data:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(data)
    for stale in [p for p in dst_root.rglob("*") if p.is_file() and p not in wanted]:
        stale.unlink()
