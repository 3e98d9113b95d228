"""Hostile repositories: huge, endless, minified, deeply nested, binary, looping, vanishing, swapped
and unreadable files are indexed or skipped with a counted reason; the run never crashes or blocks."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import anyio
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.index.chunk import MAX_LINE_CHARS, chunk_file
from mcp_server.index.parse import MAX_NAME_BYTES, parse_source
from mcp_server.index.records import MAX_FILE_EDGES, MAX_SITES_PER_TARGET
from mcp_server.indexer.pipeline import index_repository

HUNDRED_MB = 100 * 1024 * 1024

# Deep nesting in every parsed language: what a hostile or generated file can throw at the
# tree-sitter walkers, the scope tracking and the chunker.
DEEP: dict[str, str] = {
    "deep/parens.py": "x = " + "(\n" * 3000 + "1" + "\n)" * 3000 + "\n",
    "deep/defs.py": "".join(" " * i + f"def f{i}():\n" for i in range(400)) + " " * 400 + "pass\n",
    "deep/arrays.js": "var x = " + "[" * 5000 + "]" * 5000 + ";\n",
    "deep/calls.js": "f(" * 2000
    + ")" * 2000
    + ";\n"
    + "".join("function g%d() {\n" % i for i in range(1500))
    + "}\n" * 1500,
    "deep/classes.ts": "".join("class C%d { m() {\n" % i for i in range(1500)) + "}}\n" * 1500,
    "deep/blocks.go": "package p\nfunc f() {\n" + "{\n" * 3000 + "}\n" * 3000 + "}\n",
    "deep/blocks.rs": "fn f() {\n" + "{\n" * 3000 + "}\n" * 3000 + "}\n",
    "deep/blocks.c": "int f(void) {\n" + "{\n" * 3000 + "}\n" * 3000 + "}\n",
    "deep/spaces.cpp": "".join("namespace n%d {\n" % i for i in range(2000)) + "}\n" * 2000,
    "deep/Nest.java": "class Nest {\n" + "".join("class N%d {\n" % i for i in range(1500)) + "}\n" * 1501,
    "deep/Nest.cs": "class Nest { void F() {\n" + "{\n" * 3000 + "}\n" * 3000 + "}}\n",
    "deep/mods.rb": "".join(f"module M{i}\n" for i in range(1500)) + "end\n" * 1500,
}


def _write_hostile_repo(root: Path) -> None:
    root.mkdir()
    (root / "ok.py").write_text("def kept_function(x):\n    return x + 1\n")
    with open(root / "huge.py", "wb") as fh:  # 100 MB, sparse: skipped by its size, never read
        fh.truncate(HUNDRED_MB)
    (root / "lines.py").write_text("\n" * 1_000_000)  # a million lines, exactly at the byte limit
    (root / "bundle.js").write_text("var a=function(b){return b+1};" * 8000)  # minified: one 250 kB line
    (root / "blob.js").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64)
    (root / "late_nul.py").write_text("x = 1\n" * 2000 + "y = '\x00'\n")  # NUL past the sniffed head
    (root / "latin1.py").write_bytes("name = 'caf\xe9'\n".encode("latin-1"))
    words = " ".join(f"w{random.Random(i).randrange(10**8):08d}" for i in range(90_000))
    # One 900 kB line among short ones: not minified, but more distinct words than a tsvector holds.
    (root / "long_line.py").write_text(f"TEXT = '{words}'\n" + "x = 1\n" * 2000 + "def after_long_line():\n    pass\n")
    name = "".join(random.Random(5).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4000))
    (root / "long_name.py").write_text(f"def {name}():\n    return 1\n\n\ndef short_name():\n    return {name}()\n")
    for rel, text in DEEP.items():
        (root / rel).parent.mkdir(exist_ok=True)
        (root / rel).write_text(text)
    far = root / "far"
    for i in range(30):  # a path whose module name is too long to index
        far = far / f"level{i:02d}_{'x' * 34}"
    far.mkdir(parents=True)
    (far / "leaf.js").write_text("function leaf() { return 1; }\n")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "deep" / "up").symlink_to("..")
    os.mkfifo(root / "pipe.py")
    with open(os.path.join(os.fsencode(root), b"bad\xffname.py"), "w") as fh:
        fh.write("x = 1\n")
    # Changed by the test between discovery and reading:
    for name in ("vanishes.py", "changes.py", "grows.py", "to_fifo.py", "to_link.py", "to_dir.py"):
        (root / name).write_text(f"BEFORE = '{name}'\n")


def _change_after_discovery(root: Path) -> None:
    """What other processes do to a working tree while it is being indexed."""
    (root / "vanishes.py").unlink()
    (root / "changes.py").write_text("AFTER = 'the edited text, longer than before'\n")
    with open(root / "grows.py", "ab") as fh:
        fh.truncate(HUNDRED_MB)
    (root / "to_fifo.py").unlink()
    os.mkfifo(root / "to_fifo.py")
    (root / "to_link.py").unlink()
    (root / "to_link.py").symlink_to("/etc/passwd")
    (root / "to_dir.py").unlink()
    (root / "to_dir.py").mkdir()


def _unblock_fifos_later(root: Path, seconds: float) -> threading.Timer:
    """A reader blocked on a FIFO would hang the run: after `seconds`, open the write end (possible
    only when someone is waiting) so such a regression fails instead of hanging the suite."""

    def release() -> None:
        for name in ("pipe.py", "to_fifo.py"):
            try:
                os.close(os.open(root / name, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass

    timer = threading.Timer(seconds, release)
    timer.daemon = True
    timer.start()
    return timer


async def test_a_hostile_repository_is_indexed_with_a_counted_reason_for_everything_left_out(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "hostile"
    _write_hostile_repo(root)

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "discover":
            _change_after_discovery(root)

    timer = _unblock_fifos_later(root, 90)
    started = time.monotonic()
    try:
        with anyio.fail_after(120):
            report = await index_repository(db, settings, root, name="hostile-repo", progress=progress)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - started

    assert dict(report.skipped) == {
        "too_large": 2,  # huge.py by its size; grows.py, 100 MB by the time it was read
        "minified": 1,  # bundle.js
        "binary": 2,  # blob.js, late_nul.py
        "invalid_utf8": 1,  # latin1.py
        "symlink": 4,  # loop_a, loop_b, deep/up; to_link.py, swapped in after discovery
        "not_a_file": 3,  # pipe.py; to_fifo.py and to_dir.py, swapped in after discovery
        "vanished": 1,  # vanishes.py
        "invalid_path": 1,  # bad\xffname.py
        "name_too_long": 1,  # far/.../leaf.js
    }, report.skipped
    assert elapsed < 90, elapsed  # the FIFOs never blocked (the release timer fires at 90 s)

    async with db.pool.acquire() as conn:
        repo_id = await conn.fetchval("SELECT id FROM repositories WHERE name = 'hostile-repo'")
        files = {
            r["path"]: r["line_count"]
            for r in await conn.fetch("SELECT path, line_count FROM files WHERE repository_id = $1", repo_id)
        }
        longest = await conn.fetchrow(
            """SELECT max(octet_length(qualified_name)) AS qname, max(octet_length(name)) AS name
               FROM symbols WHERE repository_id = $1""",
            repo_id,
        )
        widest = await conn.fetchval(
            """SELECT max(length(l)) FROM chunks c, unnest(string_to_array(c.content, E'\\n')) l
               WHERE c.repository_id = $1""",
            repo_id,
        )
        names = {
            r[0]
            for r in await conn.fetch(
                "SELECT qualified_name FROM symbols WHERE repository_id = $1 AND kind <> 'module'", repo_id
            )
        }
        changed = await conn.fetchval(
            """SELECT string_agg(c.content, '') FROM chunks c JOIN files f ON f.id = c.file_id
               WHERE f.repository_id = $1 AND f.path = 'changes.py'""",
            repo_id,
        )
    assert set(files) == {"ok.py", "lines.py", "long_line.py", "long_name.py", "changes.py", *DEEP}
    assert files["lines.py"] == 1_000_000
    assert {"ok.kept_function", "long_line.after_long_line", "long_name.short_name", "deep.classes.C0"} <= names
    assert longest["qname"] <= MAX_NAME_BYTES and longest["name"] <= MAX_NAME_BYTES
    assert widest <= MAX_LINE_CHARS
    assert "AFTER" in changed  # what was read is what is stored...

    again = await index_repository(db, settings, root, name="hostile-repo")
    # ...and the next pass sees the same bytes: nothing re-indexed, nothing lost.
    assert again.files_indexed == 0 and again.files_deleted == 0 and again.files_unchanged == len(files)


def test_a_definition_whose_name_cannot_be_indexed_is_dropped_with_its_insides() -> None:
    long = "m" * (MAX_NAME_BYTES + 200)
    source = (
        f"class Keep:\n    def {long}(self):\n        def inner():\n            helper()\n"
        "        return inner()\n\n    def fine(self):\n        return helper()\n"
    ).encode()
    parsed = parse_source(source, "k.py", "python", "k")
    assert [(s.qualified_name, s.parent) for s in parsed.symbols] == [("k", None), ("k.Keep", 0), ("k.Keep.fine", 1)]
    # Its calls stay in the graph, made by the nearest definition that is kept.
    calls = {(parsed.symbols[e.source].qualified_name, e.target_name) for e in parsed.edges if e.kind == "calls"}
    assert calls == {("k.Keep", "helper"), ("k.Keep", "inner"), ("k.Keep.fine", "helper")}


@pytest.mark.parametrize(
    ("language", "path", "opening", "closing"),
    [
        ("javascript", "d.js", "function g{i}() {{\n", "}\n"),
        ("ruby", "d.rb", "module M{i}\n", "end\n"),
        ("cpp", "d.cpp", "namespace n{i} {{\n", "}\n"),
    ],
)
def test_twenty_thousand_nested_definitions_cost_memory_in_proportion_to_the_file(
    language: str, path: str, opening: str, closing: str
) -> None:
    # Every scope's qualified name repeats its ancestors': unbounded, this file (under 1 MB) took
    # 1.2-1.8 GB and up to 140 s per language.
    source = ("".join(opening.format(i=i) for i in range(20_000)) + closing * 20_000)[:1_000_000]
    tracemalloc.start()
    try:
        parsed = parse_source(source.encode(), path, language, "d")
        chunks = chunk_file(source, parsed)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150 * 1024 * 1024, peak
    assert len(parsed.symbols) > 50 and chunks  # the outer definitions are indexed


@pytest.mark.parametrize(
    ("language", "path", "source"),
    [
        (
            "python",
            "n.py",
            "x = " + "f(\n" * 50_000 + "1" + "\n)" * 50_000 + "\n\n\ndef g():\n    return (h(1) +\n            h(2))\n",
        ),
        (
            "javascript",
            "n.js",
            "var x = " + "f(\n" * 50_000 + "1" + ")\n" * 50_000 + ";\nfunction g() {\n  return h(1) +\n    h(2);\n}\n",
        ),
    ],
)
def test_a_call_nested_fifty_thousand_deep_keeps_who_calls_what_not_every_site(
    language: str, path: str, source: str
) -> None:
    # One call nested a million deep (a generated 5 MB expression) made a million edges: their one
    # COPY outran the statement timeout and failed the whole index pass.
    parsed = parse_source(source.encode(), path, language, "n")
    sites = Counter((parsed.symbols[e.source].qualified_name, e.kind, e.target_name) for e in parsed.edges)
    assert sites == {("n", "calls", "f"): MAX_SITES_PER_TARGET, ("n.g", "calls", "h"): 2}
    assert sorted(e.line for e in parsed.edges if e.target_name == "f") == list(range(1, MAX_SITES_PER_TARGET + 1))
    assert parsed.edges_dropped == 50_000 - MAX_SITES_PER_TARGET


@pytest.mark.parametrize(
    ("language", "path", "line"), [("python", "flood.py", "g{i}()\n"), ("javascript", "flood.js", "g{i}();\n")]
)
def test_a_flood_of_distinct_calls_stops_at_the_file_limit(language: str, path: str, line: str) -> None:
    source = "".join(line.format(i=i) for i in range(MAX_FILE_EDGES + 50))
    parsed = parse_source(source.encode(), path, language, "flood")
    assert [e.target_name for e in parsed.edges] == [f"g{i}" for i in range(MAX_FILE_EDGES)]  # the first ones


# ---- unreadable files: permissions bind root too once its override is dropped --------------------

_CHILD = """
import asyncio, ctypes, json, os, sys
from pathlib import Path


def drop_override() -> None:
    # Root reads any file whatever its mode through two capabilities (DAC_OVERRIDE = 1,
    # DAC_READ_SEARCH = 2). Without them this process is still root: the interpreter and the venv,
    # root's own files, load as before (even from a root-only home), but mode 000 binds.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):
        # Out of the bounding set too, so a spawned parse worker does not regain them on exec;
        # refused without CAP_SETPCAP, and then this process's own reads still prove the point.
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    sets = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable of caps 0-31, then 32-63
    if libc.capget(header, sets) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    for i in range(3):
        sets[i] &= ~0b110 & 0xFFFFFFFF
    if libc.capset(header, sets) != 0:
        raise OSError(ctypes.get_errno(), "capset")


if os.geteuid() == 0:
    drop_override()  # before any thread starts: capabilities belong to threads, which inherit them

from mcp_server.config import Settings
from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository


async def main() -> None:
    settings = Settings.load({"database_url": sys.argv[1], "data_dir": sys.argv[3]}, env={})
    async with open_database(settings) as db:
        report = await index_repository(db, settings, Path(sys.argv[2]), name="hostile-perms")
    print(json.dumps({"indexed": report.files_indexed, "skipped": report.skipped}))

asyncio.run(main())
"""


def _dsn_through(dsn: str, door: Path) -> str:
    """`dsn` reached through a hard link to its Unix socket in `door`: the embedded server's socket
    lies in its own private folder, which root without its override cannot enter."""
    query = parse_qs(urlparse(dsn).query)
    socket_dir = query.get("host", [""])[0]
    if os.geteuid() != 0 or not socket_dir.startswith("/"):
        return dsn  # TCP, or a user whose rights do not change in the child
    door.mkdir()
    try:
        for sock in Path(socket_dir).glob(".s.PGSQL.*[0-9]"):
            os.link(sock, door / sock.name)
    except OSError:  # another filesystem: a server outside the test run, reachable as it is
        return dsn
    return urlparse(dsn)._replace(query=urlencode({**query, "host": [str(door)]}, doseq=True)).geturl()


def test_unreadable_files_and_folders_are_counted_not_fatal(pg_dsn: str, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "locked_dir").mkdir(parents=True)
    (root / "open.py").write_text("def readable():\n    return 1\n")
    (root / "locked.py").write_text("SECRET = 1\n")
    (root / "locked_dir" / "inside.py").write_text("HIDDEN = 2\n")
    (root / ".gitignore").write_text("*.log\n")
    locked = [root / "locked.py", root / "locked_dir", root / ".gitignore"]  # unreadable ignore rules: nothing ignored
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PGCODE_LOG_LEVEL": "warning",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    dsn = _dsn_through(pg_dsn, tmp_path / "db")
    for path in locked:
        path.chmod(0)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, dsn, str(root), str(tmp_path / "data")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
    finally:
        for path in locked:
            path.chmod(0o700)  # removable again when the temp folder is cleaned up
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["indexed"] == 1  # open.py
    # locked.py and locked_dir/ unreadable; .gitignore is no source file (and its rules unreadable)
    assert result["skipped"] == {"unreadable": 2, "unsupported_type": 1}, result
