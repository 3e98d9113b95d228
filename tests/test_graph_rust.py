"""Rust calls resolved across files: `pub use` re-exports, a crate used by its own name, same-path trait impls."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db import catalog
from mcp_server.db.pool import Database
from mcp_server.graph.symbols import goto_definition
from mcp_server.indexer.pipeline import index_paths, index_repository

_FILES = {
    "Cargo.toml": '[package]\nname = "my-bytes"\nversion = "0.1.0"\n',
    "src/lib.rs": "pub mod buf;\npub mod bytes;\npub mod bytes_mut;\npub use crate::bytes::Bytes;\npub fn abort() {}\n",
    "src/buf/mod.rs": "mod chain;\npub use self::chain::Chain;\n",
    "src/buf/chain.rs": "pub struct Chain;\nimpl Chain {\n    pub fn new() -> Chain { Chain }\n}\n",
    "src/bytes.rs": (
        "pub struct Bytes;\n"
        "impl From<String> for Bytes { fn from(s: String) -> Bytes { Bytes } }\n"
        "impl From<Vec<u8>> for Bytes { fn from(v: Vec<u8>) -> Bytes { Bytes } }\n"
        "impl Bytes { pub fn len(&self) -> usize { 0 } }\n"
    ),
    # `from` of Bytes under the re-export's path, `crate::Bytes::from`
    "src/bytes_mut.rs": (
        "use crate::Bytes;\npub struct BytesMut;\nimpl From<BytesMut> for Bytes { fn from(b: BytesMut) -> Bytes { Bytes } }\n"
    ),
    "tests/t.rs": (
        "use my_bytes::buf::Chain;\n"
        "use my_bytes::Bytes;\n"
        "fn check(b: &Bytes) {\n"
        "    Chain::new();\n"
        "    assert_eq!(b.len(), 0);\n"
        "    Bytes::from(String::new());\n"
        "    Bytes::from(make());\n"
        "    Bytes::from(BytesMut {});\n"
        "    std::process::abort();\n"
        "    my_bytes::abort();\n"
        "}\n"
        "use my_bytes::bytes_mut::BytesMut;\n"
    ),
}


async def _calls(db: Database, repo: str) -> dict[str, str | None]:
    """Each call of tests/t.rs (its line after `@` when several share a name) -> what it resolved to."""
    rows = await db.pool.fetch(
        "SELECT e.target_name, e.line, t.qualified_name, t.start_line FROM edges e JOIN files f ON f.id = e.file_id"
        " JOIN repositories r ON r.id = e.repository_id LEFT JOIN symbols t ON t.id = e.target_id"
        " WHERE r.name = $1 AND f.path = 'tests/t.rs' AND e.kind = 'calls'",
        repo,
    )
    shared = {r["target_name"] for r in rows if sum(o["target_name"] == r["target_name"] for o in rows) > 1}
    return {
        f"{r['target_name']}@{r['line']}" if r["target_name"] in shared else r["target_name"]: (
            f"{r['qualified_name']}@{r['start_line']}"
            if r["target_name"] in shared and r["qualified_name"]
            else r["qualified_name"]
        )
        for r in rows
    }


async def test_a_crates_tests_reach_its_items_through_re_exports_and_abstain_between_impls(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "rustrepo"
    for rel, text in _FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)
    expected = {
        "Chain::new": "crate::buf::chain::Chain::new",  # through `pub use self::chain::Chain`
        "b.len": "crate::bytes::Bytes::len",  # a parameter's declared type, inside a macro
        # two `from`s under one path: the argument's type decides (records.ARG_TYPE), else none
        "Bytes::from@6": "crate::bytes::Bytes::from@2",
        "Bytes::from@7": None,  # not the one named under `crate::Bytes` either
        "Bytes::from@8": "crate::Bytes::from@3",
        "std::process::abort": None,  # the standard library's, not the crate's `abort`
        "my_bytes::abort": "crate::abort",
    }
    assert {k: v for k, v in (await _calls(db, root.name)).items() if k in expected} == expected
    # An edit resolves on demand (only what the file needs is loaded) to the same targets.
    (root / "tests/t.rs").write_text(_FILES["tests/t.rs"] + "\n")
    async with db.pool.acquire() as conn:
        repo = await catalog.find(conn, root.name)
    await index_paths(db, settings, repo, ["tests/t.rs"])
    assert {k: v for k, v in (await _calls(db, root.name)).items() if k in expected} == expected


async def _indexed_calls(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> dict[str, str | None]:
    """`files` written under `root` and indexed: each call as written -> what it resolved to."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)
    rows = await db.pool.fetch(
        "SELECT e.target_name, t.qualified_name FROM edges e JOIN repositories r ON r.id = e.repository_id"
        " LEFT JOIN symbols t ON t.id = e.target_id WHERE r.name = $1 AND e.kind = 'calls'",
        root.name,
    )
    return {r["target_name"]: r["qualified_name"] for r in rows}


_TYPED = {
    "Cargo.toml": '[package]\nname = "my-bytes"\nversion = "0.1.0"\n',
    "src/lib.rs": (
        "pub mod buf;\npub mod version;\npub use crate::buf::{BufMut, UninitSlice};\n"
        "pub struct Version { pub pre: Prerelease }\npub struct Prerelease;\n"
    ),
    "src/buf.rs": (
        "pub trait BufMut {\n"
        "    fn chunk_mut(&mut self) -> &mut UninitSlice;\n"
        "    fn put_u8(&mut self, n: u8) { self.chunk_mut().as_mut_ptr(); }\n"
        "}\n"
        "pub struct UninitSlice;\n"
        "impl UninitSlice {\n"
        "    pub fn as_mut_ptr(&mut self) -> *mut u8 { todo!() }\n"
        "    pub unsafe fn make() -> UninitSlice { UninitSlice }\n"
        "}\n"
        "impl BufMut for Vec<u8> {\n"
        "    fn chunk_mut(&mut self) -> &mut UninitSlice { todo!() }\n"
        "}\n"
        "impl BufMut for std::collections::VecDeque<u8> {\n"
        "    fn chunk_mut(&mut self) -> &mut UninitSlice { todo!() }\n"
        "}\n"
    ),
    "src/version.rs": (
        "use crate::{Prerelease, Version};\n"
        "impl Prerelease { pub fn is_empty(&self) -> bool { true } }\n"
        "fn check(v: &Version) -> bool { v.pre.is_empty() }\n"
    ),
    "tests/t.rs": (
        "use my_bytes::BufMut;\n"
        "fn check() {\n"
        "    let mut v = Vec::with_capacity(8);\n"
        "    v.put_u8(1);\n"
        "    v.chunk_mut();\n"
        "    v.len();\n"
        "    let mut s = &mut [0u8; 4][..];\n"
        "    s.put_u8(1);\n"
        "    let mut d: VecDeque<u8> = VecDeque::new();\n"
        "    d.chunk_mut();\n"
        "    let mut u = unsafe { my_bytes::UninitSlice::make() };\n"
        "    u.as_mut_ptr();\n"
        "}\n"
        "use std::collections::VecDeque;\n"
    ),
}


async def test_fields_return_types_and_a_standard_types_impls_type_method_calls(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    calls = await _indexed_calls(db, settings, tmp_path / "typedrepo", _TYPED)
    assert {k: calls.get(k) for k in ("v.pre.is_empty", "self.chunk_mut().as_mut_ptr", "v.put_u8")} == {
        "v.pre.is_empty": "crate::Prerelease::is_empty",  # the field's type (lib.rs), its impl in version.rs
        "self.chunk_mut().as_mut_ptr": "crate::buf::UninitSlice::as_mut_ptr",  # chunk_mut's return type
        "v.put_u8": "crate::buf::BufMut::put_u8",  # a Vec's: the trait's default, the crate's impl lacks it
    }
    assert calls["v.chunk_mut"] == "crate::buf::Vec::chunk_mut"  # the crate's impl for Vec
    assert calls["v.len"] is None  # the standard Vec's own method: never guessed onto the crate
    assert {k: calls.get(k) for k in ("s.put_u8", "d.chunk_mut", "u.as_mut_ptr")} == {
        "s.put_u8": "crate::buf::BufMut::put_u8",  # a slice's: the crate's trait gives slices methods
        "d.chunk_mut": "crate::buf::VecDeque::chunk_mut",  # a type imported from std: the crate's impl for it
        "u.as_mut_ptr": "crate::buf::UninitSlice::as_mut_ptr",  # what `unsafe { make() }` returns
    }


_GUESSES = {
    "Cargo.toml": '[package]\nname = "my-slab"\nversion = "0.1.0"\n',
    "src/lib.rs": (
        "pub struct Slab<T> { entries: Vec<T> }\n"
        "impl<T> Slab<T> {\n"
        "    pub fn new() -> Slab<T> { Slab { entries: Vec::new() } }\n"
        "    pub fn insert(&mut self, v: T) -> usize { 0 }\n"
        "    pub unsafe fn get_unchecked(&self, key: usize) -> &T {\n"
        "        self.entries.get_unchecked(key)\n"  # 6: the slice's, through the Vec
        "    }\n"
        "}\n"
        "pub enum Either<L, R> { Left(L), Right(R) }\n"
        "impl<L: Iterator, R: Iterator<Item = L::Item>> Iterator for Either<L, R> {\n"
        "    type Item = L::Item;\n"
        "    fn next(&mut self) -> Option<L::Item> { None }\n"
        "    fn size_hint(&self) -> (usize, Option<usize>) {\n"
        "        match *self { Either::Left(ref inner) => inner.size_hint(), Either::Right(ref inner) => inner.size_hint() }\n"
        "    }\n"
        "}\n"
        "pub fn len(v: &Vec<u8>) -> usize { v.len() }\n"  # 17: goto at the second `len` is no answer
    ),
    "tests/t.rs": (
        "use my_slab::*;\n"
        "fn check() {\n"
        "    let mut slab = Slab::new();\n"
        "    slab.insert(1);\n"  # 4: `Slab` through the glob of the crate's own name
        "}\n"
    ),
}


async def test_no_name_guess_onto_a_standard_types_or_traits_method_and_a_glob_import_types_a_local(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "guessrepo"
    calls = await _indexed_calls(db, settings, root, _GUESSES)
    assert {k: calls.get(k, "absent") for k in ("self.entries.get_unchecked", "inner.size_hint", "slab.insert")} == {
        "self.entries.get_unchecked": None,  # a Vec field: the slice's method, not Slab::get_unchecked
        "inner.size_hint": None,  # the Iterator of `L` or `R`, not Either's own impl of it
        "slab.insert": "crate::Slab::insert",
    }
    line = _GUESSES["src/lib.rs"].splitlines()[16]
    use, named = line.rindex("len"), line.index("len")
    at_use = await goto_definition(db.pool, "src/lib.rs", 17, column=use + 1, name="len", repository=root.name)
    at_name = await goto_definition(db.pool, "src/lib.rs", 17, column=named + 1, name="len", repository=root.name)
    assert (at_use.definitions, [d.qualified_name for d in at_name.definitions]) == ([], ["crate::len"])
