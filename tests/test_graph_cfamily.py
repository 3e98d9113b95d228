"""C and C++ calls resolved across files: file-local functions, inherited members, enclosing namespaces, declared types."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db import catalog
from mcp_server.db.pool import Database
from mcp_server.graph.walk import find_callers, find_references
from mcp_server.indexer.pipeline import index_paths
from tests.test_graph import _index_tree

_FILES = {
    "include/kv/env.h": (
        "namespace kv {\n"
        "class Env {\n"
        " public:\n"
        "  virtual int NewFile(int n);\n"
        "  static Env* Default();\n"
        "  int Depth() const { return 0; }\n"
        "};\n"
        "class Slice {\n"
        " public:\n"
        "  Slice() {}\n"
        "  Slice(const char* d, int n, int flags = 0);\n"
        "};\n"
        "int LogName(int n);\n"
        "}\n"
    ),
    "src/env.cc": (
        '#include "kv/env.h"\n'
        "namespace kv {\n"
        "Env* Env::Default() { static Env e; return &e; }\n"
        "int Env::NewFile(int n) { return n; }\n"
        "int LogName(int n) { return n + 1; }\n"
        "Slice::Slice(const char* d, int n, int flags) {}\n"
        "}\n"
    ),
    "src/db.cc": (
        '#include "kv/env.h"\n'
        "namespace kv {\n"
        "static int Between(int v) { return v; }\n"
        "class Base {\n"
        " public:\n"
        "  int Size() { return 0; }\n"
        "};\n"
        "class DBImpl : public Base {\n"
        " public:\n"
        "  DBImpl(int n) {}\n"
        "  int Run(const Env& e);\n"
        "};\n"
        "int DBImpl::Run(const Env& e) {\n"
        "  Env* env = Env::Default();\n"
        "  env->NewFile(1);\n"
        "  e.NewFile(2);\n"
        "  e.Depth();\n"
        "  Between(3);\n"
        "  LogName(4);\n"
        '  Slice("ab", 2);\n'
        "  return Size();\n"
        "}\n"
        "DBImpl* Make() { return new DBImpl(1); }\n"
        "class MemEnv : public Env {\n"
        " public:\n"
        "  int NewFile(int n) override { return 0; }\n"
        "};\n"
        "}\n"
    ),
    "src/other.cc": (
        "namespace kv {\nstatic int Between(int v) { return -v; }\nint Use() { return Between(1); }\n"
        "namespace detail {\nclass Env {};\n}\n}\n"  # another Env: MemEnv's base is still kv::Env
    ),
    # a field declared in the header, used by a method defined in the .cc
    "include/kv/holder.h": "namespace kv {\nclass Env;\nclass Holder {\n public:\n  void Go();\n private:\n  Env* env_;\n};\n}\n",
    "src/holder.cc": (
        '#include "kv/holder.h"\n'
        "namespace kv {\nvoid Holder::Go() {\n  env_->NewFile(5);\n  Env::Default()->Depth();\n  Slice();\n}\n}\n"
    ),
    # a function-like macro is what a call of its name goes to
    "include/kv/check.h": "#define KV_CHECK(x) ((void)(x))\n#define KV_LOG(x) kv_log(x)\n",
    "src/m.c": '#include "kv/check.h"\nint g(int v) { KV_CHECK(v); KV_LOG(v); return v; }\n',
    "src/log.c": "void kv_log(int v) {}\n",
    # tree-sitter reads an exported prototype it cannot parse as `EXPORT kv_t; *kv_create(void);`
    "include/kv/c.h": "EXPORT kv_t* kv_create(void);\n",
    "src/c.cc": "kv_t* kv_create(void) { return 0; }\n",
}


_CALLS = (
    "SELECT e.target_name, t.qualified_name, tf.path AS target_path, e.confidence FROM edges e"
    " JOIN files f ON f.id = e.file_id JOIN repositories r ON r.id = e.repository_id"
    " LEFT JOIN symbols t ON t.id = e.target_id LEFT JOIN files tf ON tf.id = t.file_id"
    " WHERE r.name = $1 AND f.path = $2 AND e.kind = 'calls'"
)


async def _indexed(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> Path:
    await _index_tree(db, settings, root, files)
    return root


async def _calls(db: Database, repo: str, path: str) -> dict[str, tuple[str, str] | None]:
    rows = await db.pool.fetch(_CALLS, repo, path)
    return {r["target_name"]: (r["qualified_name"], r["target_path"]) if r["qualified_name"] else None for r in rows}


async def test_cpp_calls_reach_their_definitions_through_scopes_bases_and_declared_types(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = await _indexed(db, settings, tmp_path / "kvrepo", _FILES)
    expected = {
        "Env::Default": ("kv::Env::Default", "src/env.cc"),  # the definition, not the header's declaration
        "env.NewFile": ("kv::Env::NewFile", "src/env.cc"),  # a local's declared type
        "e.NewFile": ("kv::Env::NewFile", "src/env.cc"),  # a parameter's
        "e.Depth": ("kv::Env::Depth", "include/kv/env.h"),  # a C++ library's .h is read as C++
        "Between": ("src/db.cc::kv::Between", "src/db.cc"),  # this file's static, not other.cc's
        "LogName": ("kv::LogName", "src/env.cc"),  # a function of the enclosing namespace
        "Size": ("kv::Base::Size", "src/db.cc"),  # this->Size() of a base class
        "DBImpl": ("kv::DBImpl::DBImpl", "src/db.cc"),  # `new DBImpl(1)`: its constructor
        "Slice": ("kv::Slice::Slice", "src/env.cc"),  # the constructor taking two (or three) arguments
    }
    db_calls = await _calls(db, root.name, "src/db.cc")
    assert {k: v for k, v in db_calls.items() if k in expected} == expected
    assert (await _calls(db, root.name, "src/other.cc"))["Between"] == ("src/other.cc::kv::Between", "src/other.cc")
    assert await _calls(db, root.name, "include/kv/c.h") == {}  # a prototype is no call
    assert (await _calls(db, root.name, "src/m.c"))["KV_CHECK"] == ("KV_CHECK", "include/kv/check.h")
    # a use of a macro is a use of what its body calls
    async with db.pool.acquire() as conn:
        log_refs = await find_references(conn, "kv_log", root.name)
        log_callers = await find_callers(conn, "kv_log", root.name)
    assert {(r.path, r.line) for r in log_refs.references} == {("src/m.c", 2)}  # not the #define's body
    assert "g" in {n.qualified_name for n in log_callers.nodes if n.depth == 1}
    assert await _calls(db, root.name, "src/holder.cc") == {
        "env_.NewFile": ("kv::Env::NewFile", "src/env.cc"),  # the field's type, from the header
        "Env::Default": ("kv::Env::Default", "src/env.cc"),
        "Env::Default().Depth": ("kv::Env::Depth", "include/kv/env.h"),  # what Default returns
        "Slice": ("kv::Slice::Slice", "include/kv/env.h"),  # of two constructors, the one taking none
    }
    # A call through the base (`env->NewFile(1)` on an Env*) may run the override: it is one of its references.
    async with db.pool.acquire() as conn:
        refs = await find_references(conn, "kv::MemEnv::NewFile", root.name)
    assert {(r.path, r.line) for r in refs.references} >= {("src/db.cc", 15), ("src/db.cc", 16), ("src/holder.cc", 4)}
    # An edit resolves on demand (only what the file needs is loaded) to the same targets.
    (root / "src/db.cc").write_text(_FILES["src/db.cc"] + "\n")
    async with db.pool.acquire() as conn:
        repo = await catalog.find(conn, root.name)
    await index_paths(db, settings, repo, ["src/db.cc"])
    db_calls = await _calls(db, root.name, "src/db.cc")
    assert {k: v for k, v in db_calls.items() if k in expected} == expected


_C_FILES = {
    # lua's style: an export macro and a parenthesised name (`LUA_API int (lua_gettop) (lua_State *L);`)
    "include/kv/api.h": (
        "KV_API int kv_open(int n);\nKV_API int (kv_close) (int n);\nstatic int kv_local(int n);\n"
        "#define kv_open2 kv_open\n#define kv_inline inline\n"  # another name for a function; a keyword
    ),
    "src/alias.c": '#include "kv/api.h"\nkv_inline int al(void) { return kv_open2(5); }\n',
    "src/api.c": '#include "kv/api.h"\nint kv_open(int n) { return n; }\nint kv_close(int n) { return -n; }\n',
    "src/inner.h": '#include "kv/api.h"\n',
    "src/user.c": '#include "inner.h"\nint use(void) { kv_open(1); return kv_close(2); }\n',  # through two headers
    "src/bare.c": "int bare(void) { return kv_open(3); }\n",  # includes nothing: a unique name only
    # two programs, each with its own `usage` and `main`: a call is its own program's
    "tests/run_a.c": "int usage(void) { return 1; }\nint main(void) { return usage(); }\n",
    "tests/run_b.c": "int usage(void) { return 2; }\nint main(void) { return usage() + 1; }\n",
    "src/stray.c": "int stray(void) { return usage(); }\n",  # defines none of them: no guess
    # a macro two headers define: the one the file includes
    "src/limits.h": "#define kv_assert(c) check_that_it_holds((c), __FILE__, __LINE__)\n",
    "include/kv/aux.h": "#define kv_assert(c) ((void)0)\n",
    "src/aux_user.c": '#include "kv/aux.h"\nint aux(int v) { kv_assert(v); return v; }\n',
}


async def _c_calls(db: Database, repo: str, path: str) -> dict[str, tuple[str, float] | None]:
    rows = await db.pool.fetch(_CALLS, repo, path)
    return {r["target_name"]: (r["target_path"], round(r["confidence"], 2)) if r["target_path"] else None for r in rows}


async def test_c_calls_through_included_declarations_and_each_programs_own_functions(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = await _indexed(db, settings, tmp_path / "ckv", _C_FILES)
    # declared by a header the file includes (through another header): surer than a unique name
    assert await _c_calls(db, root.name, "src/user.c") == {
        "kv_open": ("src/api.c", 0.9),
        "kv_close": ("src/api.c", 0.9),
    }
    assert await _c_calls(db, root.name, "src/bare.c") == {"kv_open": ("src/api.c", 0.5)}
    assert await _c_calls(db, root.name, "src/alias.c") == {"kv_open2": ("include/kv/api.h", 0.9)}
    assert await _c_calls(db, root.name, "tests/run_a.c") == {"usage": ("tests/run_a.c", 1.0)}
    assert await _c_calls(db, root.name, "tests/run_b.c") == {"usage": ("tests/run_b.c", 1.0)}
    assert await _c_calls(db, root.name, "src/stray.c") == {"usage": None}
    assert await _c_calls(db, root.name, "src/aux_user.c") == {"kv_assert": ("include/kv/aux.h", 0.9)}
    async with db.pool.acquire() as conn:
        usage_b = await conn.fetchval(
            "SELECT s.id FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = 'tests/run_b.c'"
            " AND s.name = 'usage'"
        )
        callers = await find_callers(conn, str(usage_b), root.name)
        refs = await find_references(conn, "kv_open", root.name)
    assert {(n.path, n.qualified_name) for n in callers.nodes if n.depth == 1} == {("tests/run_b.c", "main")}
    # a header's declaration is no use of the function
    assert {(r.path, r.line) for r in refs.references} == {("src/user.c", 2), ("src/bare.c", 1), ("src/alias.c", 2)}
    # an edit of one program resolves on demand to the same targets
    (root / "tests/run_a.c").write_text(_C_FILES["tests/run_a.c"] + "\n")
    async with db.pool.acquire() as conn:
        repo = await catalog.find(conn, root.name)
    await index_paths(db, settings, repo, ["tests/run_a.c", "src/user.c"])
    assert await _c_calls(db, root.name, "tests/run_a.c") == {"usage": ("tests/run_a.c", 1.0)}
    assert await _c_calls(db, root.name, "src/user.c") == {
        "kv_open": ("src/api.c", 0.9),
        "kv_close": ("src/api.c", 0.9),
    }
