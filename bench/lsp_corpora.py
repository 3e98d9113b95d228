"""Corpora and truth servers for bench/graph_lsp.py: pinned Go, TypeScript and JavaScript libraries, fetched once.

Go libraries come from Debian's `golang-*-dev` packages (`apt-get download` + `dpkg-deb -x`, so
nothing is installed system-wide); TypeScript and JavaScript libraries from npm (`npm pack`).
Each corpus is laid out as a module/project root the language's own server can load alone:

    bench/corpora/lsp/pkg/                 the downloaded .deb / .tgz files
    bench/corpora/lsp/src/<pkg>-<ver>/     their unpacked contents
    bench/corpora/lsp/roots/<corpus>/      the corpus: index it and point the server at it
    bench/corpora/tools/                   typescript + typescript-language-server (npm, local)

Go roots keep only go.mod's `module` and `go` lines (no machine here reaches the module proxy, and
a module whose requires cannot be downloaded still loads; calls into them come back as errors and
are dropped), no nested modules, and no file the go tool ignores on this platform (`_examples/`,
testdata, other GOOS build tags): pgcode indexes exactly the files gopls analyses. TypeScript and
JavaScript roots get a tsconfig.json / jsconfig.json naming their sources, so tsserver loads them as
one project, and keep the package's package.json (a package importing itself by its own name
resolves through its `exports`).

    python bench/lsp_corpora.py                  fetch every corpus and the servers, print roots
    python bench/lsp_corpora.py --corpus zerolog

bench/corpora/ is git-ignored. Held-out corpora (chi, rxjs, axios) are for reporting, never tuning.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import lsp_cfamily
from corpora import CACHE

LSP_CACHE = CACHE / "lsp"
TOOLS = CACHE / "tools"
# Pinned: typescript 7 ships no tsserver.js; typescript-language-server 6 needs node >= 22.
NPM_TOOLS = ("typescript@5.9.3", "typescript-language-server@5.1.3")
PHP_TOOLS = ("intelephense@1.18.5",)  # PHP's server; its free features answer references and definitions
GO_ENV = {
    "GOPROXY": "off",
    "GOTOOLCHAIN": "local",
    "GOFLAGS": "-mod=mod",
    "GO111MODULE": "on",
    "GONOSUMDB": "*",
    "GONOSUMCHECK": "1",
    "GOSUMDB": "off",
    "CGO_ENABLED": "0",
}

SOURCE_EXTENSIONS = {
    "go": (".go",),
    "typescript": (".ts", ".mts", ".cts"),
    "javascript": (".js", ".mjs", ".cjs"),
    "rust": (".rs",),  # bench/graph_rustc.py
    "java": (".java",),
    "php": (".php",),
}
# Java: Debian source packages (`apt-get source` through a private deb-src list, so the machine's
# apt configuration is untouched), attributed by javac against these jars (tests' JUnit 5), also
# from Debian (`apt-get download` + `dpkg-deb -x`).
DEB_SRC = (
    "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main"
)
JAVA_DEPS = (
    "junit5=5.9.2-1",
    "libopentest4j-java=1.2.0-4",
    "libapiguardian-java=1.1.2-1",
    "libjsr305-java=0.1~+svn49-11",
)
JAVA_JARS = (
    "junit-jupiter-api",
    "junit-jupiter-params",
    "opentest4j",
    "apiguardian-api",
    "junit-platform-commons",
    "jsr305",
)
# C and C++: translation units and headers alike (a C++ library's headers are `.h` too).
SOURCE_EXTENSIONS["c"] = lsp_cfamily.UNITS[:1] + lsp_cfamily.HEADERS[:1]
SOURCE_EXTENSIONS["cpp"] = lsp_cfamily.UNITS[1:] + lsp_cfamily.HEADERS


@dataclass(frozen=True, slots=True)
class LspCorpus:
    name: str
    language: str  # go | typescript | javascript (pgcode's language id of the sampled files)
    source: str  # deb | npm | debsrc (a Debian source package: Java)
    package: str  # Debian or npm package name
    version: str  # pinned
    include: tuple[str, ...] = ()  # npm: paths inside the package copied into the root (plus package.json)
    held_out: bool = False
    compiler_options: dict[str, object] = field(default_factory=dict)  # tsconfig/jsconfig extras

    @property
    def pinned(self) -> str:
        return (
            f"{self.package}={self.version}" if self.source in ("deb", "debsrc") else f"{self.package}@{self.version}"
        )

    @property
    def root(self) -> Path:
        return LSP_CACHE / "roots" / self.name


_TS_OPTIONS: dict[str, object] = {
    "target": "es2022",
    "module": "esnext",
    "moduleResolution": "bundler",
    "strict": True,
    "noEmit": True,
    "skipLibCheck": True,
    "lib": ["es2022", "dom"],
    "types": [],
}
_JS_OPTIONS: dict[str, object] = {
    "target": "es2022",
    "allowJs": True,
    "checkJs": False,
    "noEmit": True,
    "skipLibCheck": True,
    "lib": ["es2022", "dom"],
    "types": [],
}

CORPORA: dict[str, LspCorpus] = {
    c.name: c
    for c in (
        # Go: a logger, a CLI library, an HTTP router (held out).
        LspCorpus("zerolog", "go", "deb", "golang-github-rs-zerolog-dev", "1.26.1-2"),
        LspCorpus("cobra", "go", "deb", "golang-github-spf13-cobra-dev", "1.6.1-1"),
        LspCorpus("chi", "go", "deb", "golang-github-go-chi-chi-dev", "5.0.7-1", held_out=True),
        # TypeScript: a schema library (v3 sources; its tests import the package by name), a state
        # library, a reactive-streams library (held out).
        LspCorpus(
            "zod",
            "typescript",
            "npm",
            "zod",
            "3.25.76",
            ("src/v3",),
            compiler_options={"customConditions": ["@zod/source"]},
        ),
        LspCorpus("mobx", "typescript", "npm", "mobx", "6.13.5", ("src",)),
        LspCorpus("rxjs", "typescript", "npm", "rxjs", "7.8.1", ("src",), held_out=True),
        # JavaScript: CommonJS (a web framework) and ESM (an HTTP client, held out).
        LspCorpus("fastify", "javascript", "npm", "fastify", "4.28.1", ("fastify.js", "lib")),
        LspCorpus("axios", "javascript", "npm", "axios", "1.7.9", ("index.js", "lib"), held_out=True),
        # Java (truth: javac, bench/lsp_javac.py): an HTML parser and an I/O utility library, both
        # held out.
        LspCorpus("jsoup", "java", "debsrc", "jsoup", "1.15.3-1", ("src/main/java", "src/test/java"), held_out=True),
        LspCorpus(
            "commons-io", "java", "debsrc", "commons-io", "2.11.0-2", ("src/main/java", "src/test/java"), held_out=True
        ),
        # Java corpora to tune on (jsoup and commons-io stay held out): a streaming JSON parser, a
        # generic collections library and encoders (their JUnit 4 tests' own calls are left
        # unattributed by javac).
        LspCorpus(
            "jackson-core", "java", "debsrc", "jackson-core", "2.14.1-2~deb12u1", ("src/main/java", "src/test/java")
        ),
        LspCorpus(
            "commons-collections",
            "java",
            "debsrc",
            "libcommons-collections4-java",
            "4.2-1",
            ("src/main/java", "src/test/java"),
        ),
        LspCorpus(
            "commons-codec",
            "java",
            "debsrc",
            "libcommons-codec-java",
            "1.15-1",
            ("src/main/java", "src/test/java"),
        ),
        # C and C++ (Debian source packages, `apt-get source`; layouts in bench/lsp_cfamily.py): an
        # interpreter and a YAML library (held out) in C, a key-value store and a YAML library (held out) in C++.
        LspCorpus("lua", "c", "debsrc", "lua5.4", "5.4.4-3+deb12u1"),
        LspCorpus("libyaml", "c", "debsrc", "libyaml", "0.2.5-1", held_out=True),
        LspCorpus("leveldb", "cpp", "debsrc", "leveldb", "1.23-4"),
        LspCorpus("yaml-cpp", "cpp", "debsrc", "yaml-cpp", "0.7.0+dfsg-8", held_out=True),
        # PHP (Debian source packages, sources and tests; truth: intelephense): a logging library
        # and a Markdown parser (held out).
        LspCorpus("monolog", "php", "debsrc", "php-monolog", "2.9.1-1", ("src", "tests")),
        LspCorpus(
            "commonmark", "php", "debsrc", "php-league-commonmark", "2.3.9-1+deb12u1", ("src", "tests"), held_out=True
        ),
    )
}


def get(name: str) -> LspCorpus:
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise SystemExit(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}") from None


def selected(names: list[str] | None, languages: list[str] | None) -> list[LspCorpus]:
    chosen = [get(n) for n in names] if names else list(CORPORA.values())
    if languages:
        unknown = set(languages) - {c.language for c in CORPORA.values()} - {"rust", "java"}
        if unknown:
            raise SystemExit(
                f"unknown language {', '.join(sorted(unknown))}; choose from go, typescript, javascript, java, c, cpp, php"
            )
        chosen = [c for c in chosen if c.language in languages]
    return chosen


# --- fetching ----------------------------------------------------------------------------------------


def _unpacked(corpus: LspCorpus) -> Path:
    """The package's unpacked contents (downloaded once)."""
    target = LSP_CACHE / "src" / f"{corpus.package}-{corpus.version}"
    if (target / ".complete").exists():
        return target
    pkg_dir = LSP_CACHE / "pkg"
    pkg_dir.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    if corpus.source == "debsrc":
        _debian_source(corpus, target)
    elif corpus.source == "deb":
        found = _one(pkg_dir.glob(f"{corpus.package}_{corpus.version.replace(':', '%3a')}_*.deb"))
        if found is None:
            subprocess.run(["apt-get", "download", "-q", corpus.pinned], cwd=pkg_dir, check=True)
            found = _one(pkg_dir.glob(f"{corpus.package}_*.deb"))
        if found is None:
            raise RuntimeError(f"apt-get download {corpus.pinned} left no .deb in {pkg_dir}")
        subprocess.run(["dpkg-deb", "-x", str(found), str(target)], check=True)
    else:
        name = corpus.package.lstrip("@").replace("/", "-")
        found = pkg_dir / f"{name}-{corpus.version}.tgz"
        if not found.exists():
            subprocess.run(["npm", "pack", "-q", corpus.pinned], cwd=pkg_dir, check=True, stdout=subprocess.DEVNULL)
        with tarfile.open(found) as tar:
            tar.extractall(target, filter="data")
    (target / ".complete").write_text("ok\n")
    return target


def _one(paths: object) -> Path | None:
    found = sorted(paths)  # type: ignore[call-overload]
    return found[-1] if found else None


def corpus_root(corpus: LspCorpus) -> Path:
    """The laid-out root of `corpus` (built once; delete it to rebuild)."""
    root = corpus.root
    if (root / ".complete").exists():
        return root
    if corpus.language in ("c", "cpp"):
        lsp_cfamily.lay_out(corpus.name, f"{corpus.package}={corpus.version}", root)
        (root / ".complete").write_text("ok\n")
        return root
    unpacked = _unpacked(corpus)
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    if corpus.source == "debsrc":
        _source_root(corpus, unpacked, root)
    elif corpus.source == "deb":
        _go_root(unpacked, root)
    else:
        _npm_root(corpus, unpacked / "package", root)
    (root / ".complete").write_text("ok\n")
    return root


def _go_root(unpacked: Path, root: Path) -> None:
    mods = sorted((unpacked / "usr/share/gocode/src").rglob("go.mod"), key=lambda p: len(p.parts))
    if not mods:
        raise RuntimeError(f"no go.mod under {unpacked}/usr/share/gocode/src")
    shutil.copytree(mods[0].parent, root, symlinks=False)
    for nested in sorted(root.rglob("go.mod")):
        if nested.parent != root and nested.parent.exists():
            shutil.rmtree(nested.parent)  # another module: outside the root module's view
    keep = [ln for ln in (root / "go.mod").read_text().splitlines() if ln.startswith(("module ", "go "))]
    (root / "go.mod").write_text("\n".join(keep) + "\n")
    (root / "go.sum").unlink(missing_ok=True)
    for ignored in _go_ignored(root):
        if ignored.is_dir():
            shutil.rmtree(ignored)
        else:
            ignored.unlink(missing_ok=True)


def _go_ignored(root: Path) -> list[Path]:
    """Files and folders the go tool leaves out on this platform (build tags, `_x/`, testdata)."""
    out: list[Path] = [
        p for p in root.rglob("*") if p.is_dir() and (p.name.startswith(("_", ".")) or p.name == "testdata")
    ]
    proc = subprocess.run(
        ["go", "list", "-e", "-json", "./..."],
        cwd=root,
        capture_output=True,
        text=True,
        env={**os.environ, **GO_ENV, "GOPATH": str(LSP_CACHE / "gopath")},
        timeout=300,
    )
    decoder = json.JSONDecoder()
    text, at = proc.stdout, 0
    while at < len(text):
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            break
        pkg, at = decoder.raw_decode(text, at)
        for name in pkg.get("IgnoredGoFiles") or []:
            out.append(Path(pkg["Dir"]) / name)
    return out


def _apt_options() -> list[str]:
    """apt options reading a private deb-src list (fetched once) instead of the machine's sources."""
    apt = LSP_CACHE / "apt"
    lists = apt / "lists"
    options = [
        "-o",
        f"Dir::Etc::SourceList={apt / 'sources.list'}",
        "-o",
        "Dir::Etc::SourceParts=/dev/null",
        "-o",
        f"Dir::State::Lists={lists}",
    ]
    if not any(lists.glob("*Sources*")):
        (lists / "partial").mkdir(parents=True, exist_ok=True)
        (apt / "sources.list").write_text(DEB_SRC + "\n")
        subprocess.run(["apt-get", "-q", *options, "update"], check=True, stdout=subprocess.DEVNULL)
    return options


def _debian_source(corpus: LspCorpus, target: Path) -> None:
    """`apt-get source` (unpacked by dpkg-source) into `target`."""
    work = LSP_CACHE / "pkg" / "debsrc"
    work.mkdir(parents=True, exist_ok=True)
    upstream = corpus.version.split("-")[0].split(":")[-1]
    unpacked = work / f"{corpus.package}-{upstream}"
    if not unpacked.is_dir():
        subprocess.run(["apt-get", "-q", *_apt_options(), "source", corpus.pinned], cwd=work, check=True)
    shutil.rmtree(target)
    shutil.copytree(unpacked, target, symlinks=False)


def _source_root(corpus: LspCorpus, unpacked: Path, root: Path) -> None:
    """The sources only (no resources, no Java module-info), under their source folders."""
    for rel in corpus.include:
        for src in sorted((unpacked / rel).rglob("*")):
            if not src.name.endswith(SOURCE_EXTENSIONS[corpus.language]) or src.name == "module-info.java":
                continue
            target = root / src.relative_to(unpacked)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)


def java_classpath() -> list[Path]:
    """The jars javac attributes the corpora's tests against (Debian packages, unpacked once)."""
    deps = LSP_CACHE / "javadeps"
    jars = deps / "usr/share/java"
    if not (deps / ".complete").exists() or (deps / ".complete").read_text().strip() != " ".join(JAVA_DEPS):
        pkg_dir = LSP_CACHE / "pkg"
        pkg_dir.mkdir(parents=True, exist_ok=True)
        for pinned in JAVA_DEPS:
            name, version = pinned.split("=")
            found = _one(pkg_dir.glob(f"{name}_{version.replace(':', '%3a')}_*.deb"))
            if found is None:
                subprocess.run(["apt-get", "download", "-q", pinned], cwd=pkg_dir, check=True)
                found = _one(pkg_dir.glob(f"{name}_*.deb"))
            if found is None:
                raise RuntimeError(f"apt-get download {pinned} left no .deb in {pkg_dir}")
            subprocess.run(["dpkg-deb", "-x", str(found), str(deps)], check=True)
        (deps / ".complete").write_text(" ".join(JAVA_DEPS) + "\n")
    return [jars / f"{name}.jar" for name in JAVA_JARS if (jars / f"{name}.jar").exists()]


def _npm_root(corpus: LspCorpus, package: Path, root: Path) -> None:
    root.mkdir(parents=True)
    for rel in corpus.include:
        src = package / rel
        if src.is_dir():
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns("*.d.ts", "*.map", "tsconfig*.json"))
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / rel)
    shutil.copy2(package / "package.json", root / "package.json")
    base = _TS_OPTIONS if corpus.language == "typescript" else _JS_OPTIONS
    config = {"compilerOptions": {**base, **corpus.compiler_options}, "include": list(corpus.include)}
    if corpus.language == "typescript":
        # Ambient declarations the package ships beside its sources (mobx's global.d.ts: __DEV__).
        for dts in sorted((package / rel for rel in corpus.include), key=str):
            for p in dts.rglob("global*.d.ts") if dts.is_dir() else []:
                target = root / p.relative_to(package)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(p, target)
    name = "tsconfig.json" if corpus.language == "typescript" else "jsconfig.json"
    (root / name).write_text(json.dumps(config, indent=2) + "\n")


def source_files(corpus: LspCorpus, root: Path) -> list[Path]:
    exts = SOURCE_EXTENSIONS[corpus.language]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(exts) and not p.name.endswith(".d.ts"))


# --- truth servers ---------------------------------------------------------------------------------


def npm_tools(tools: tuple[str, ...] = NPM_TOOLS, where: Path = TOOLS) -> Path:
    """`where` with the pinned npm `tools` installed (once, locally): by default typescript 5 and
    typescript-language-server."""
    marker = where / ".complete"
    if marker.exists() and marker.read_text().strip() == " ".join(tools):
        return where
    where.mkdir(parents=True, exist_ok=True)
    (where / "package.json").write_text(json.dumps({"name": "pgcode-bench-tools", "private": True}) + "\n")
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "-q", *tools],
        cwd=where,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    marker.write_text(" ".join(tools) + "\n")
    return where


def server_command(language: str) -> tuple[list[str], dict[str, str], dict[str, object]] | str:
    """(argv, extra environment, initializationOptions) of the truth server for `language`, or why
    there is none on this machine."""
    if language == "go":
        gopls = shutil.which("gopls")
        if gopls is None or shutil.which("go") is None:
            return "gopls or go not installed: apt-get install golang-go gopls"
        return [gopls, "serve"], {**GO_ENV, "GOPATH": str(LSP_CACHE / "gopath")}, {}
    if language in ("typescript", "javascript"):
        tools = npm_tools()
        server = tools / "node_modules/.bin/typescript-language-server"
        tsserver = tools / "node_modules/typescript/lib/tsserver.js"
        if not server.exists() or not tsserver.exists():
            return f"typescript-language-server or tsserver.js missing under {tools}"
        return (
            [str(server), "--stdio"],
            {},
            {"tsserver": {"path": str(tsserver)}, "preferences": {"includeCompletionsForModuleExports": False}},
        )
    if language == "java":
        javac = shutil.which("javac")
        if javac is None or shutil.which("java") is None:
            return "javac/java not installed: apt-get install openjdk-17-jdk-headless"
        return [javac], {}, {}  # bench/lsp_javac.py: javac's attribution, answered like a server
    if language == "php":
        server = npm_tools(PHP_TOOLS, TOOLS / "php") / "node_modules/.bin/intelephense"
        if not server.exists():
            return f"intelephense missing under {server.parent}"
        store = LSP_CACHE / "intelephense"
        return [str(server), "--stdio"], {}, {"storagePath": str(store), "globalStoragePath": str(store)}
    if language in ("c", "cpp"):
        clangd = lsp_cfamily.clangd_command()
        return clangd if isinstance(clangd, str) else (clangd, {}, {})
    return f"no truth server for {language}"


def unavailable_servers() -> dict[str, str]:
    """The languages issue 18 names whose server cannot be had here, with what was checked."""
    out: dict[str, str] = {}
    policy = subprocess.run(["apt-cache", "policy", "rust-analyzer"], capture_output=True, text=True).stdout
    if "Candidate: (none)" in policy or not policy.strip():
        out["rust"] = (
            "rust-analyzer: no Debian package on this release (apt-cache policy rust-analyzer: no "
            "candidate); the project's own builds are downloads from outside the package registries"
        )
    elif shutil.which("rust-analyzer") is None:
        out["rust"] = "rust-analyzer has a Debian candidate but is not installed (apt-get install rust-analyzer)"
    if shutil.which("javac") is None or shutil.which("java") is None:
        # No Java language server is packaged here (Debian ships Eclipse JDT's libraries, not JDT
        # LS): the truth is javac itself (bench/lsp_javac.py).
        out["java"] = "javac/java not installed: apt-get install openjdk-17-jdk-headless (the Java truth is javac)"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", help="a corpus name (repeatable); default all")
    parser.add_argument("--language", action="append", help="go, typescript or javascript (repeatable)")
    args = parser.parse_args()
    for corpus in selected(args.corpus, args.language):
        root = corpus_root(corpus)
        files = source_files(corpus, root)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        held = "  (held out)" if corpus.held_out else ""
        print(
            f"{corpus.name:<8} {corpus.language:<10} {corpus.pinned:<42} {len(files):>4} files {lines:>6} lines  {root}{held}"
        )


if __name__ == "__main__":
    main()
