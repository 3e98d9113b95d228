"""TypeScript / JavaScript calls resolved across files: re-exports, packages, CommonJS, receivers' types."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.walk import find_callees
from mcp_server.indexer.pipeline import index_repository


async def _index(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)
    return root.name


async def _callees(db: Database, repo: str, qname: str) -> set[tuple[str, int]]:
    found = await find_callees(db.pool, qname, repo)
    return {(e.target, e.line) for e in found.edges if e.target}


async def test_re_exports_lead_through_an_index_file_to_the_definition(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-reexports",
        {
            "src/lib/index.ts": 'export * from "./atom"\nexport { make as build } from "./factory.js"\n',
            "src/lib/atom/index.ts": "export function autorun(): void {}\n",
            "src/lib/factory.ts": "export function make(): number {\n  return 1\n}\n",
            "src/app.ts": (
                'import { autorun, build } from "./lib"\n\nexport function main(): void {\n  autorun()\n  build()\n}\n'
            ),
        },
    )
    assert await _callees(db, repo, "src.app.main") == {("src.lib.atom.index.autorun", 4), ("src.lib.factory.make", 5)}


async def test_a_package_imported_by_its_own_name_resolves_and_a_dependency_is_not_guessed(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-self-import",
        {
            "package.json": (
                '{"name": "schema", "main": "./dist/index.js",'
                ' "exports": {"./v3": {"types": "./v3/index.d.ts", "source": "./src/v3/index.ts"}}}\n'
            ),
            "src/v3/index.ts": 'import * as s from "./types.js"\nexport { s }\nexport default s\n',
            "src/v3/types.ts": "export function number(): number {\n  return 1\n}\n",
            "src/index.ts": "export function version(): string {\n  return '3'\n}\n",
            "tests/use.test.ts": (
                'import * as z from "schema/v3"\n'
                'import { version } from "schema"\n'
                'import { expect } from "vitest"\n'
                'import * as lib from "other-lib"\n'
                "\n"
                "export function check(): void {\n"
                "  z.s.number()\n"
                "  version()\n"
                "  expect(1)\n"
                "  lib.number()\n"
                "}\n"
            ),
        },
    )
    # "schema/v3" is the source file its `exports` name, "schema" its main file's source (dist ->
    # src); `lib.number()` is another package's, not the one `number` this repository defines.
    assert await _callees(db, repo, "tests.use.test.check") == {
        ("src.v3.types.number", 7),
        ("src.index.version", 8),
    }
