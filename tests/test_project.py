"""Manifests that name modules (go.mod, package.json, tsconfig, Cargo.toml): read, and a change to one re-parses what it names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db import catalog
from mcp_server.db.pool import Database
from mcp_server.index.project import EMPTY_PROJECT, Project, read_project
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_paths, index_repository


def _write(root: Path, rel: str, text: str) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return rel


def test_go_modules_are_read_nearest_folder_first(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, "go.mod", "// the root module\nmodule github.com/acme/shop // trailing\n\ngo 1.21\n"),
        _write(tmp_path, "tools/go.mod", 'module "github.com/acme/shop/tools"\n'),
        _write(tmp_path, "broken/go.mod", "go 1.21\n"),  # no module line: not a module
    ]
    project = read_project(tmp_path, paths)
    assert project.go_modules == (("tools", "github.com/acme/shop/tools"), ("", "github.com/acme/shop"))
    assert project.go_module("tools/gen/main.go") == ("tools", "github.com/acme/shop/tools")
    assert project.go_module("toolsx/a.go") == ("", "github.com/acme/shop")
    assert project.key("go") and project.key("python") == ""


def test_cargo_crates_are_named_as_their_tests_use_them(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, "Cargo.toml", '[package]\nname = "my-lib"\nversion = "1.0.0"\n'),
        _write(tmp_path, "macros/Cargo.toml", '[package]\nname = "my-macros"\n[lib]\nname = "mm"\n'),
        _write(tmp_path, "broken/Cargo.toml", "[package\nname ="),  # unparsable: left out
        _write(tmp_path, "ws/Cargo.toml", '[workspace]\nmembers = ["a"]\n'),  # names no crate
    ]
    project = read_project(tmp_path, paths)
    assert project.rust_crates == (("macros", "mm"), ("", "my_lib"))
    assert project.rust_crate("macros/tests/t.rs") == "mm" and project.rust_crate("tests/t.rs") == "my_lib"
    assert project.key("rust") and project.key("rust") != EMPTY_PROJECT.key("rust")


def test_package_exports_are_flattened_with_their_conditions(tmp_path: Path) -> None:
    manifest = {
        "name": "@acme/schema",
        "main": "./lib/index.js",
        "exports": {
            ".": {"types": "./index.d.ts", "import": {"types": "./lib/index.d.mts", "default": "./lib/index.mjs"}},
            "./v3": "./v3/index.js",
            "./escape": "../../../outside.js",
        },
    }
    paths = [_write(tmp_path, "packages/schema/package.json", json.dumps(manifest))]
    (package,) = read_project(tmp_path, paths).js_packages
    assert package.dir == "packages/schema" and package.name == "@acme/schema"
    assert package.main == "packages/schema/lib/index.js"
    assert set(package.exports) == {
        (".", "types", "packages/schema/index.d.ts"),
        (".", "import/types", "packages/schema/lib/index.d.mts"),
        (".", "import/default", "packages/schema/lib/index.mjs"),
        ("./v3", "", "packages/schema/v3/index.js"),
    }  # a target outside the repository is left out


def test_tsconfig_with_comments_trailing_commas_and_a_relative_extends(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "tsconfig.base.json",
        '{\n  // shared\n  "compilerOptions": {"baseUrl": "src", "paths": {"@/*": ["./*", "gen/*"],}, /* x */ "outDir": "dist"},\n}',
    )
    paths = [
        _write(tmp_path, "app/tsconfig.json", '{"extends": "../tsconfig.base", "compilerOptions": {"rootDir": "src"}}'),
        _write(tmp_path, "node_modules/x/tsconfig.json", '{"compilerOptions": {"baseUrl": "."}}'),
    ]
    project = read_project(tmp_path, paths)
    (config,) = project.ts_configs
    assert config.dir == "app" and config.root_dir == "app/src"
    # Inherited options stay relative to the file that set them.
    assert config.base_url == "src" and config.out_dir == "dist"
    assert config.paths == (("@/*", ("src/*", "src/gen/*")),)
    assert project.ts_config("app/src/main.ts") == config and project.ts_config("lib/x.ts") is None


def test_a_symlinked_or_unparsable_manifest_is_left_out(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "package.json").write_text('{"name": "secret"}')
    repo = tmp_path / "repo"
    repo.mkdir()
    os.symlink(outside / "package.json", repo / "package.json")
    paths = ["package.json", _write(repo, "web/package.json", "{not json"), _write(repo, "go/go.mod", "\x00\x01")]
    assert read_project(repo, paths) == EMPTY_PROJECT


def test_the_record_round_trips_and_a_foreign_one_reads_as_empty(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, "go.mod", "module example.com/m\n"),
        _write(tmp_path, "package.json", '{"name": "m", "exports": "./index.js"}'),
        _write(tmp_path, "tsconfig.json", '{"compilerOptions": {"baseUrl": "."}}'),
        _write(tmp_path, "Cargo.toml", '[package]\nname = "m"\n'),
    ]
    project = read_project(tmp_path, paths)
    assert project.rust_crates == (("", "m"),)
    assert Project.from_json(project.to_json()) == project
    assert Project.from_json('{"go_modules": 3}') == EMPTY_PROJECT and Project.from_json(None) == EMPTY_PROJECT


@pytest.mark.parametrize("changed", ["go.mod", "package.json"])
async def test_a_changed_manifest_parses_again_the_files_of_its_language_only(
    db: Database, settings: Settings, tmp_path: Path, changed: str
) -> None:
    root = tmp_path / "repo"
    _write(root, "go.mod", "module example.com/old\n")
    _write(root, "package.json", '{"name": "old"}')
    _write(root, "main.go", 'package main\n\nimport "example.com/old/util"\n\nfunc main() { util.Run() }\n')
    _write(root, "util/run.go", "package util\n\nfunc Run() {}\n")
    _write(root, "web/app.ts", "export function start(): void {}\n")
    _write(root, "tool.py", "def tool():\n    return 1\n")
    name = f"manifests-{changed}"
    await index_repository(db, settings, root, name=name)

    async def hashes() -> dict[str, bytes]:
        async with db.pool.acquire() as conn:
            repo_id = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", name)
            rows = await conn.fetch("SELECT path, content_hash FROM files WHERE repository_id = $1", repo_id)
            return {r["path"]: r["content_hash"] for r in rows}

    before = await hashes()
    if changed == "go.mod":
        (root / "go.mod").write_text("module example.com/new\n")
    else:
        (root / "package.json").write_text('{"name": "new", "exports": "./web/app.ts"}')
    async with db.pool.acquire() as conn:
        repo = await catalog.find(conn, name)
    report = await index_paths(db, settings, repo, [changed])
    after = await hashes()
    reparsed = {path for path in after if after[path] != before[path]}
    language_files = {"main.go", "util/run.go"} if changed == "go.mod" else {"web/app.ts"}
    assert reparsed == {changed} | language_files
    assert report.files_indexed == len(reparsed)
    async with db.pool.acquire() as conn:
        recorded = Project.from_json(await repositories.project_manifests(conn, repo.id))
    if changed == "go.mod":
        assert recorded.go_modules == (("", "example.com/new"),)
    else:
        assert recorded.js_packages[0].name == "new"
    # Nothing changed since: a whole pass re-reads nothing.
    again = await index_repository(db, settings, root, name=name)
    assert again.files_indexed == 0
