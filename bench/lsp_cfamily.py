"""C and C++ corpora for bench/graph_lsp.py: Debian source packages laid out for clangd, with a compile_commands.json.

Sources come from `apt-get source` against a private deb-src list (bookworm main) kept in the
download cache, so the machine's own apt configuration is left alone; test-only headers
(googletest) from `apt-get download` + `dpkg-deb -x`. Each corpus root keeps the library's own
sources, headers and tests (files for other platforms, benchmarks needing libraries that are not
here, and examples of headers that would be a second definition of the same classes are left
out), plus the configuration header its build would generate, and a compile_commands.json with
one entry per translation unit: clangd analyses exactly the files pgcode indexes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from corpora import CACHE

LSP_CACHE = CACHE / "lsp"
APT_DIR = LSP_CACHE / "apt-cfamily"
DEBSRC = LSP_CACHE / "debsrc-cfamily"
_SOURCES = (
    "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main\n"
)
UNITS = (".c", ".cc", ".cpp", ".cxx")
HEADERS = (".h", ".hh", ".hpp", ".hxx")


@dataclass(frozen=True, slots=True)
class Layout:
    """How one source package becomes a corpus root."""

    unpacked: str  # the folder `apt-get source` makes
    keep: tuple[str, ...]  # folders (or files) of the package copied into the root
    drop: tuple[str, ...] = ()  # globs under the root removed after copying
    flags: tuple[str, ...] = ()  # compiler flags of every unit (include dirs relative to the root)
    write: dict[str, str] = field(default_factory=dict)  # generated files: root-relative path -> text
    test_headers: tuple[str, ...] = ()  # Debian packages whose /usr/include the tests need (apt-get download)


LAYOUTS: dict[str, Layout] = {
    # Lua's interpreter and libraries: one folder, everything `static` or `luaX_` prefixed, macros.
    "lua": Layout(
        "lua5.4-5.4.4",
        ("src",),
        flags=("-std=gnu99", "-DLUA_COMPAT_5_3", "-DLUA_USE_LINUX"),
        # Debian's patch includes a header its build generates.
        write={"src/lua5.4-deb-multiarch.h": '#define DEB_HOST_MULTIARCH "x86_64-linux-gnu"\n'},
    ),
    # libyaml: a public header under include/, a private one beside the sources, test programs.
    "libyaml": Layout(
        "libyaml-0.2.5",
        ("include", "src", "tests"),
        flags=(
            "-std=c99",
            "-Iinclude",
            "-Isrc",
            "-DYAML_VERSION_MAJOR=0",
            "-DYAML_VERSION_MINOR=2",
            "-DYAML_VERSION_PATCH=5",
            '-DYAML_VERSION_STRING="0.2.5"',
        ),
    ),
    # LevelDB: namespaces, classes with out-of-line members, `#include "leveldb/x.h"` and
    # `"db/x.h"` through the include path; gtest-based tests beside the code.
    "leveldb": Layout(
        "leveldb-1.23",
        ("db", "table", "util", "include", "port", "helpers"),
        drop=("util/env_windows*", "util/windows_logger.h", "port/port_example.h", "port/port_config.h.in"),
        flags=("-std=c++17", "-I.", "-Iinclude", "-DLEVELDB_PLATFORM_POSIX=1", "-DLEVELDB_IS_BIG_ENDIAN=0"),
        write={
            "port/port_config.h": "#ifndef STORAGE_LEVELDB_PORT_PORT_CONFIG_H_\n"
            "#define STORAGE_LEVELDB_PORT_PORT_CONFIG_H_\n"
            "#define HAVE_FDATASYNC 1\n#define HAVE_FULLFSYNC 0\n#define HAVE_O_CLOEXEC 1\n"
            "#define HAVE_CRC32C 0\n#define HAVE_SNAPPY 0\n#define HAVE_ZSTD 0\n"
            "#endif\n"
        },
        test_headers=("libgtest-dev=1.12.1-0.2", "libgmock-dev=1.12.1-0.2"),
    ),
    # yaml-cpp: a YAML library in C++ (namespaces, templates, node/detail headers), gtest tests.
    "yaml-cpp": Layout(
        "yaml-cpp-0.7.0+dfsg",
        ("include", "src", "test", "util"),
        flags=("-std=c++17", "-Iinclude", "-Isrc", "-Itest"),
        test_headers=("libgtest-dev=1.12.1-0.2", "libgmock-dev=1.12.1-0.2"),
    ),
}


def _apt(*args: str, cwd: Path | None = None) -> None:
    options = [
        f"-oDir::Etc::SourceList={APT_DIR / 'sources.list'}",
        "-oDir::Etc::SourceParts=/nonexistent",
        f"-oDir::State::Lists={APT_DIR / 'lists'}",
        "-oDebug::NoLocking=1",
    ]
    subprocess.run(["apt-get", "-q", *options, *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def apt_source(pinned: str, unpacked: str) -> Path:
    """`apt-get source <pinned>` into the cache (once), with a private deb-src list."""
    target = DEBSRC / unpacked
    if (DEBSRC / f".{unpacked}.complete").exists():
        return target
    (APT_DIR / "lists/partial").mkdir(parents=True, exist_ok=True)
    (APT_DIR / "sources.list").write_text(_SOURCES)
    if not any((APT_DIR / "lists").glob("*Sources*")):
        _apt("update")
    DEBSRC.mkdir(parents=True, exist_ok=True)
    if target.exists():
        shutil.rmtree(target)
    _apt("source", pinned, cwd=DEBSRC)
    if not target.is_dir():
        raise RuntimeError(f"apt-get source {pinned} made no {target}")
    (DEBSRC / f".{unpacked}.complete").write_text("ok\n")
    return target


def deb_include(pinned: str) -> Path:
    """/usr/include of a Debian package (apt-get download + dpkg-deb -x, once)."""
    name, _, version = pinned.partition("=")
    target = LSP_CACHE / "src" / f"{name}-{version}"
    if not (target / ".complete").exists():
        pkg_dir = LSP_CACHE / "pkg"
        pkg_dir.mkdir(parents=True, exist_ok=True)
        found = sorted(pkg_dir.glob(f"{name}_{version}_*.deb"))
        if not found:
            subprocess.run(["apt-get", "download", "-q", pinned], cwd=pkg_dir, check=True, stdout=subprocess.DEVNULL)
            found = sorted(pkg_dir.glob(f"{name}_{version}_*.deb"))
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(found[-1]), str(target)], check=True)
        (target / ".complete").write_text("ok\n")
    return target / "usr/include"


def lay_out(name: str, pinned: str, root: Path) -> None:
    """Build the corpus root `root` of C/C++ corpus `name` (the caller marks it complete)."""
    layout = LAYOUTS[name]
    unpacked = apt_source(pinned, layout.unpacked)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for rel in layout.keep:
        src = unpacked / rel
        if src.is_dir():
            shutil.copytree(src, root / rel, ignore=shutil.ignore_patterns("Makefile*", "CMakeLists.txt", "*.bazel"))
        else:
            shutil.copy2(src, root / rel)
    for pattern in layout.drop:
        for p in sorted(root.glob(pattern)):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for rel, text in layout.write.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    system = [f"-isystem{deb_include(p)}" for p in layout.test_headers]
    write_compile_commands(root, [*layout.flags, *system])


def write_compile_commands(root: Path, flags: list[str]) -> None:
    """compile_commands.json: every unit under `root` compiled from the root with `flags`."""
    entries = []
    for unit in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix in UNITS):
        compiler = "clang" if unit.suffix == ".c" else "clang++"
        std = [f for f in flags if not f.startswith("-std=")] if unit.suffix == ".c" else list(flags)
        if unit.suffix == ".c" and not any(f.startswith("-std=") for f in std):
            std.insert(0, "-std=gnu11")
        rel = unit.relative_to(root).as_posix()
        entries.append({"directory": str(root), "file": rel, "arguments": [compiler, *std, "-c", rel]})
    (root / "compile_commands.json").write_text(json.dumps(entries, indent=1) + "\n")


def clangd_command() -> list[str] | str:
    """clangd's argv (background index on, two threads: the machine is shared), or why there is none."""
    clangd = shutil.which("clangd")
    if clangd is None:
        return "clangd not installed: apt-get install clangd (Debian 12: clangd 14)"
    return [clangd, "--background-index", "-j=2", "--log=error", "--pch-storage=memory", "--header-insertion=never"]
