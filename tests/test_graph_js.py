"""TypeScript / JavaScript calls resolved across files: re-exports, packages, CommonJS, receivers' types."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.symbols import goto_definition
from mcp_server.graph.walk import find_callees, find_references
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


async def _call_sites(db: Database, repo: str, qname: str) -> set[tuple[int, str, str | None]]:
    """Every call site of a definition: (line, as written, what it resolved to)."""
    rows = await db.pool.fetch(
        "SELECT e.line, e.target_name, t.qualified_name FROM edges e"
        " JOIN symbols s ON s.id = e.source_id JOIN repositories r ON r.id = e.repository_id"
        " LEFT JOIN symbols t ON t.id = e.target_id"
        " WHERE r.name = $1 AND s.qualified_name = $2 AND e.kind = 'calls'",
        repo,
        qname,
    )
    return {(r["line"], r["target_name"], r["qualified_name"]) for r in rows}


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


async def test_receivers_typed_by_parameters_fields_new_and_return_types_reach_their_methods(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-types",
        {
            "src/schema.ts": (
                "export class Base {\n"
                "  check(): boolean {\n"
                "    return true\n"
                "  }\n"
                "}\n"
                "export class Str extends Base {\n"
                "  static create(): Str {\n"
                "    return new Str()\n"
                "  }\n"
                "  min(n: number): this {\n"
                "    return this\n"
                "  }\n"
                "}\n"
                "export const string = Str.create\n"
            ),
            "src/use.ts": (
                'import { string, Str, Base } from "./schema"\n'
                "\n"
                "export class Form {\n"
                "  private field: Str\n"
                "  constructor(private readonly base: Base) {\n"
                "    this.field = new Str()\n"
                "  }\n"
                "  run(s: Str, names: string[]): void {\n"
                "    s.min(1)\n"
                "    this.field.check()\n"
                "    this.base.check()\n"
                "    const made = new Str()\n"
                "    made.min(2)\n"
                "    string().min(3).check()\n"
                "    names.map(String)\n"
                "  }\n"
                "}\n"
            ),
            "src/other.ts": "export class List {\n  map(): void {}\n}\n",
        },
    )
    # `names.map` is an array's, never the one `map` this repository defines.
    assert await _call_sites(db, repo, "src.use.Form.run") == {
        (9, "s.min", "src.schema.Str.min"),
        (10, "this.field.check", "src.schema.Base.check"),
        (11, "this.base.check", "src.schema.Base.check"),
        (12, "Str", "src.schema.Str"),
        (13, "made.min", "src.schema.Str.min"),
        (14, "string", "src.schema.string"),
        (14, "string().min", "src.schema.Str.min"),
        (14, "string().min(3).check", "src.schema.Base.check"),
        (15, "names.map", None),
    }


async def test_commonjs_module_exports_bind_what_require_returns(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-commonjs",
        {
            "lib/reply.js": (
                "function Reply () {}\n"
                "Reply.prototype.send = function () { return 1 }\n"
                "function helper () { return 2 }\n"
                "module.exports = Reply\n"
                "module.exports.build = helper\n"
            ),
            "lib/hooks.js": "function run () {}\nfunction other () {}\nmodule.exports = { run, hook: other }\n",
            "lib/util.js": "function done () {}\nmodule.exports = { done }\n",
            "index.js": (
                "const Reply = require('./lib/reply')\n"
                "const { run, hook } = require('./lib/hooks')\n"
                "function main (done) {\n"
                "  const r = new Reply()\n"
                "  Reply.build()\n"
                "  run()\n"
                "  hook()\n"
                "  done(r)\n"
                "}\n"
                "module.exports = main\n"
            ),
        },
    )
    # `done` is the parameter, not the one `done` another file defines.
    assert await _call_sites(db, repo, "index.main") == {
        (4, "Reply", "lib.reply.Reply"),
        (5, "Reply.build", "lib.reply.helper"),
        (6, "run", "lib.hooks.run"),
        (7, "hook", "lib.hooks.other"),
        (8, "done", None),
    }


async def test_a_bare_name_in_a_prototype_method_is_no_method_and_a_renamed_require_binds(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-bare-names",
        {
            "lib/reply.js": (
                "function serialize () {}\n"
                "function Reply () {}\n"
                "Reply.prototype.serialize = function () { return serialize() }\n"
                "module.exports = { Reply, serialize }\n"
                "function local () {\n"
                "  let serialize\n"
                "  return serialize()\n"
                "}\n"
            ),
            "index.js": (
                "const {\n"
                "  Reply: R,\n"
                "  serialize: ser\n"
                "} = require('./lib/reply')\n"
                "function main () {\n"
                "  ser()\n"
                "  new R()\n"
                "}\n"
                "module.exports = main\n"
            ),
        },
    )
    # A method is reached through a receiver, never by its bare name.
    assert await _call_sites(db, repo, "lib.reply.Reply.serialize") == {(3, "serialize", "lib.reply.serialize")}
    # nor the outer function where a local of the same name hides it
    assert await _call_sites(db, repo, "lib.reply.local") == {(7, "serialize", None)}
    assert await _call_sites(db, repo, "index.main") == {(6, "ser", "lib.reply.serialize"), (7, "R", "lib.reply.Reply")}
    refs = await find_references(db.pool, "lib.reply.serialize", repo)
    # the import is on the line that names it
    assert {(r.path, r.line, r.kind) for r in refs.references if r.path == "index.js"} == {
        ("index.js", 3, "imports"),
        ("index.js", 6, "calls"),
    }


async def test_module_exports_of_a_function_an_object_and_a_constant_object_bind_their_members(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-exported-values",
        {
            "lib/errors.js": (
                "const createError = require('@x/error')\n"
                "const codes = {\n"
                "  E_ONE: createError('E_ONE'),\n"
                "  E_TWO: createError('E_TWO')\n"
                "}\n"
                "module.exports = codes\n"
            ),
            "lib/override.js": "module.exports = function override (old) {\n  return old\n}\n",
            "lib/parsers.js": "module.exports = {\n  json: function (body) { return body },\n  limit: 10\n}\n",
            "lib/reply.js": "function Reply () {}\nReply.prototype.send = function () {}\nmodule.exports = Reply\n",
            "index.js": (
                "const { E_ONE } = require('./lib/errors')\n"
                "const override = require('./lib/override')\n"
                "const parsers = require('./lib/parsers')\n"
                "const Reply = require('./lib/reply')\n"
                "function main () {\n"
                "  override(new E_ONE())\n"
                "  parsers.json()\n"
                "  const reply = new Reply()\n"
                "  function inner (reply) {\n"
                "    reply.send()\n"
                "  }\n"
                "  reply.send()\n"
                "  return override.length + parsers.limit\n"
                "}\n"
                "module.exports = main\n"
            ),
        },
    )
    assert await _call_sites(db, repo, "index.main") == {
        (6, "override", "lib.override.override"),
        (6, "E_ONE", "lib.errors.codes.E_ONE"),
        (7, "parsers.json", "lib.parsers.json"),
        (8, "Reply", "lib.reply.Reply"),
        (12, "reply.send", "lib.reply.Reply.send"),
    }
    # the parameter hides the outer `reply`: its `send` is no guess
    assert await _call_sites(db, repo, "index.main.inner") == {(10, "reply.send", None)}
    refs = await find_references(db.pool, "lib.reply.Reply", repo)
    # `const Reply = require(...)` holds the function the module exports
    assert ("index.js", 4) in {(r.path, r.line) for r in refs.references}
    # and its name read as a value is that function
    refs = await find_references(db.pool, "lib.override.override", repo)
    assert ("index.js", 13) in {(r.path, r.line) for r in refs.references}


async def test_an_object_exported_as_default_binds_its_members(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-default-object",
        {
            "lib/utils.js": (
                "function isArray () {}\n"
                "const kindOf = () => 1\n"
                "const isFunction = kindOf('function')\n"
                "export default { isArray, kindOf, other: isArray, inline: function () {}, VERSION: 1, isFunction }\n"
            ),
            "app.js": (
                "import utils from './lib/utils.js'\n"
                "export function go () {\n"
                "  utils.isArray()\n"
                "  utils.kindOf()\n"
                "  utils.other()\n"
                "  utils.inline()\n"
                "  utils.missing()\n"
                "  utils.isFunction()\n"
                "}\n"
            ),
        },
    )
    assert await _call_sites(db, repo, "app.go") == {
        (3, "utils.isArray", "lib.utils.isArray"),
        (4, "utils.kindOf", "lib.utils.kindOf"),
        (5, "utils.other", "lib.utils.isArray"),
        (6, "utils.inline", "lib.utils.inline"),
        (7, "utils.missing", None),
        # the member holding a constant's value, not the constant (what is called is its value)
        (8, "utils.isFunction", "lib.utils.default.isFunction"),
    }


async def test_goto_a_member_of_a_default_exported_object_lands_where_tsserver_does(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """typescript-language-server 5.1 over TypeScript 5.9 answers `utils.isFunction()` with the
    object's member first, then the function the call runs: for a function member that function
    (pgcode: the function), for a constant holding a call's result the function that call made
    (pgcode: the member, then the constant it holds), never the constant itself."""
    repo = await _index(
        db,
        settings,
        tmp_path / "js-default-object-lines",
        {
            "lib/utils.js": (
                "const typeOfTest = type => thing => typeof thing === type\n"  # 1
                "const isFunction = typeOfTest('function')\n"  # 2
                "function forEach (obj, fn) {\n"  # 3
                "  if (isFunction(fn)) fn(obj)\n"  # 4
                "}\n"
                "const trim = (str) => str.trim()\n"  # 6
                "export default {\n"
                "  isFunction,\n"  # 8
                "  forEach,\n"  # 9
                "  trim,\n"  # 10
                "  isCallable: isFunction,\n"  # 11
                "  each: forEach\n"  # 12
                "}\n"
            ),
            "lib/use.js": (
                "import utils from './utils.js'\n"
                "export default function use (x) {\n"
                "  if (utils.isFunction(x)) utils.forEach(x, use)\n"  # 3
                "  utils.trim(x)\n"  # 4
                "  utils.isCallable(x)\n"  # 5
                "  utils.each(x, use)\n"  # 6
                "}\n"
            ),
        },
    )

    async def goto(line: int, name: str) -> list[tuple[str, int]]:
        found = await goto_definition(db.pool, "lib/use.js", line, name=name, repository=repo)
        return [(d.path, d.start_line) for d in found.definitions]

    assert await goto(3, "isFunction") == [("lib/utils.js", 8), ("lib/utils.js", 2)]  # tsserver: 8, then 1
    assert await goto(3, "forEach") == [("lib/utils.js", 3)]  # tsserver: 9, then 3
    assert await goto(4, "trim") == [("lib/utils.js", 6)]  # tsserver: 10, then 6
    assert await goto(5, "isCallable") == [("lib/utils.js", 11), ("lib/utils.js", 2)]  # tsserver: 11, then 1
    assert await goto(6, "each") == [("lib/utils.js", 3)]  # tsserver: 12, then 3
    constant = await find_references(db.pool, "lib.utils.isFunction", repo)
    # tsserver's too: its call, and the members holding it; `utils.isFunction()` is the member's
    assert {(r.path, r.line) for r in constant.references} == {
        ("lib/utils.js", 4),
        ("lib/utils.js", 8),
        ("lib/utils.js", 11),
    }


# Constants made by calling a helper that returns a function (an arrow, an arrow with a body, a
# function expression), constants bound to another function, listed one per line in a default
# export (so that no line holds two of them), and what typescript-language-server 5.1 over
# TypeScript 5.9 answers at each call (asked at the name's column, as bench/graph_lsp.py asks).
_HELPERS = {
    "lib/utils.js": (
        "const typeOfTest = type => thing => typeof thing === type\n"  # 1
        "const kindOfTest = (type) => {\n"
        "  type = type.toLowerCase()\n"
        "  return (thing) => typeof thing === type\n"  # 4
        "}\n"
        "function makeChecker (t) {\n"
        "  return function (x) { return typeof x === t }\n"  # 7
        "}\n"
        "const isFunction = typeOfTest('function')\n"  # 9
        "const isString = kindOfTest('string')\n"  # 10
        "const isNumber = makeChecker('number')\n"  # 11
        "function isObject (x) { return x !== null }\n"  # 12
        "const isPlain = isObject\n"  # 13
        "const isArrow = (x) => !!x\n"  # 14
        "const isArrowAlias = isArrow\n"  # 15
        "const {isArray} = Array\n"
        "export const isDate = typeOfTest('date')\n"  # 17
        "export function forEach (obj, fn) {\n"  # 18
        "  if (isFunction(fn)) fn(obj)\n"  # 19
        "  if (isPlain(obj)) isNumber(obj)\n"  # 20
        "}\n"
        "export default {\n"
        "  isFunction,\n"  # 23
        "  isString,\n"
        "  isNumber,\n"
        "  isObject,\n"
        "  isPlain,\n"  # 27
        "  isArrow,\n"
        "  isArrowAlias,\n"  # 29
        "  isArray,\n"  # 30
        "  isDate,\n"  # 31
        "  forEach,\n"
        "  isCallable: isFunction\n"  # 33
        "}\n"
    ),
    "lib/use.js": (
        "import utils from './utils.js'\n"
        "import { isDate, forEach } from './utils.js'\n"
        "export default function use (x) {\n"
        "  utils.isFunction(x)\n"  # 4
        "  utils.isString(x)\n"
        "  utils.isNumber(x)\n"
        "  utils.isObject(x)\n"
        "  utils.isPlain(x)\n"
        "  utils.isArrow(x)\n"
        "  utils.isArrowAlias(x)\n"
        "  utils.isArray(x)\n"
        "  utils.isDate(x)\n"
        "  isDate(x)\n"  # 13
        "  forEach(x, use)\n"
        "  utils.forEach(x, use)\n"
        "  utils.isCallable(x)\n"  # 16
        "}\n"
    ),
}
# (file, line, name) -> tsserver's answer, (file, line) in its order ("lib" for lib.es5.d.ts)
_TSSERVER = {
    ("lib/use.js", 4, "isFunction"): [("lib/utils.js", 23), ("lib/utils.js", 1)],
    ("lib/use.js", 5, "isString"): [("lib/utils.js", 24), ("lib/utils.js", 4)],
    ("lib/use.js", 6, "isNumber"): [("lib/utils.js", 25), ("lib/utils.js", 7)],
    ("lib/use.js", 7, "isObject"): [("lib/utils.js", 26), ("lib/utils.js", 12)],
    ("lib/use.js", 8, "isPlain"): [("lib/utils.js", 27), ("lib/utils.js", 12)],
    ("lib/use.js", 9, "isArrow"): [("lib/utils.js", 28), ("lib/utils.js", 14)],
    ("lib/use.js", 10, "isArrowAlias"): [("lib/utils.js", 29), ("lib/utils.js", 14)],
    ("lib/use.js", 11, "isArray"): [("lib/utils.js", 30), ("lib", 1520)],
    ("lib/use.js", 12, "isDate"): [("lib/utils.js", 31), ("lib/utils.js", 1)],
    ("lib/use.js", 13, "isDate"): [("lib/utils.js", 17), ("lib/utils.js", 1)],
    ("lib/use.js", 14, "forEach"): [("lib/utils.js", 18)],
    ("lib/use.js", 15, "forEach"): [("lib/utils.js", 32), ("lib/utils.js", 18)],
    ("lib/use.js", 16, "isCallable"): [("lib/utils.js", 33), ("lib/utils.js", 1)],
    ("lib/utils.js", 19, "isFunction"): [("lib/utils.js", 9), ("lib/utils.js", 1)],
    ("lib/utils.js", 20, "isPlain"): [("lib/utils.js", 13), ("lib/utils.js", 12)],
    ("lib/utils.js", 20, "isNumber"): [("lib/utils.js", 11), ("lib/utils.js", 7)],
}


async def test_goto_a_constant_a_helper_made_or_an_alias_lands_where_tsserver_does(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(db, settings, tmp_path / "js-helper-constants", _HELPERS)
    answers: dict[tuple[str, int, str], list[tuple[str, int]]] = {}
    for path, line, name in _TSSERVER:
        column = _HELPERS[path].splitlines()[line - 1].index(name) + 1
        found = await goto_definition(db.pool, path, line, column=column, name=name, repository=repo)
        answers[(path, line, name)] = [(d.path, d.start_line) for d in found.definitions]
    # pgcode's first answer is one of the server's, or there is none (`Array.isArray` is the standard
    # library's: the member alone would be half an answer)
    assert {k: v[0] in _TSSERVER[k] for k, v in answers.items() if v} == {
        k: True for k in _TSSERVER if k[2] != "isArray"
    }
    assert answers[("lib/use.js", 11, "isArray")] == []
    # a member holding a constant: the member (tsserver's first), then the constant, where tsserver
    # gives the function the helper returns
    assert answers[("lib/use.js", 4, "isFunction")] == [("lib/utils.js", 23), ("lib/utils.js", 9)]
    assert answers[("lib/use.js", 16, "isCallable")] == [("lib/utils.js", 33), ("lib/utils.js", 9)]
    assert answers[("lib/use.js", 8, "isPlain")] == [("lib/utils.js", 27), ("lib/utils.js", 13)]
    # a member holding a function or an arrow: that function, as tsserver's second answer
    assert answers[("lib/use.js", 7, "isObject")] == [("lib/utils.js", 12)]
    assert answers[("lib/use.js", 9, "isArrow")] == [("lib/utils.js", 14)]
    # a name imported or local: its constant, tsserver's first
    assert answers[("lib/use.js", 13, "isDate")] == [("lib/utils.js", 17)]
    assert answers[("lib/utils.js", 20, "isNumber")] == [("lib/utils.js", 11)]


async def test_methods_of_a_prototype_object_and_of_an_exported_object_are_defined(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-object-methods",
        {
            "lib/stack.js": (
                "function Stack () {}\n"
                "Stack.prototype = {\n"
                "  push (x) { return this.size() },\n"
                "  size: function () { return 0 }\n"
                "}\n"
                "module.exports = Stack\n"
            ),
            "lib/api.js": "module.exports = {\n  get (url) { return url }\n}\n",
            "index.js": (
                "const Stack = require('./lib/stack')\n"
                "const api = require('./lib/api')\n"
                "function main () {\n"
                "  const s = new Stack()\n"
                "  s.push(1)\n"
                "  api.get('/')\n"
                "}\n"
                "module.exports = main\n"
            ),
        },
    )
    assert await _call_sites(db, repo, "lib.stack.Stack.push") == {(3, "this.size", "lib.stack.Stack.size")}
    assert await _call_sites(db, repo, "index.main") == {
        (4, "Stack", "lib.stack.Stack"),
        (5, "s.push", "lib.stack.Stack.push"),
        (6, "api.get", "lib.api.get"),
    }


async def test_calling_a_local_that_holds_a_calls_result_has_no_definition_elsewhere(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-result-call",
        {
            "lib/s.js": (
                "function getSerializer () { return function () {} }\n"
                "function serialize (data) {\n"
                "  const fn = getSerializer()\n"
                "  return fn(data)\n"
                "}\n"
                "module.exports = { serialize }\n"
            ),
        },
    )
    async with db.pool.acquire() as conn:
        found = await goto_definition(conn, "lib/s.js", 4, name="fn", repository=repo)
    # what `fn` returns is not what getSerializer returns: no definition rather than a wrong one
    assert found.definitions == []


async def test_a_function_used_as_a_value_is_referenced_unless_a_parameter_shadows_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-values",
        {
            "lib/hooks.js": "function onReady () {}\nmodule.exports = { onReady }\n",
            "app.js": (
                "const { onReady } = require('./lib/hooks')\n"
                "function start (register) {\n"
                "  register(onReady)\n"
                "  return { onReady, start }\n"
                "}\n"
                "function later (onReady) {\n"
                "  return onReady\n"
                "}\n"
                "module.exports = later\n"
            ),
        },
    )
    rows = await db.pool.fetch(
        "SELECT e.line, s.qualified_name AS source, t.qualified_name AS target FROM edges e"
        " JOIN symbols s ON s.id = e.source_id JOIN repositories r ON r.id = e.repository_id"
        " JOIN symbols t ON t.id = e.target_id JOIN files f ON f.id = e.file_id"
        " WHERE r.name = $1 AND f.path = 'app.js' AND e.kind = 'references'",
        repo,
    )
    assert {(r["line"], r["source"], r["target"]) for r in rows} == {
        (3, "app.start", "lib.hooks.onReady"),
        (4, "app.start", "lib.hooks.onReady"),
        (4, "app.start", "app.start"),
        (9, "app", "app.later"),
    }


async def test_a_typed_field_of_a_class_in_another_file_types_its_uses(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-fields",
        {
            "src/atom.ts": "export class Atom {\n  report(): void {}\n}\n",
            "src/admin.ts": 'import { Atom } from "./atom"\nexport class Admin {\n  atom_: Atom\n}\n',
            "src/use.ts": (
                'import { Admin } from "./admin"\nexport function touch(adm: Admin): void {\n  adm.atom_.report()\n}\n'
            ),
        },
    )
    assert await _call_sites(db, repo, "src.use.touch") == {(3, "adm.atom_.report", "src.atom.Atom.report")}


async def test_what_an_unannotated_function_returns_types_its_calls(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-returns",
        {
            "src/str.ts": (
                "export class Str {\n"
                "  private add(): Str {\n"
                "    return new Str()\n"
                "  }\n"
                "  min() {\n"
                "    const pick = () => {\n"
                "      return 1\n"
                "    }\n"
                "    return this.add()\n"
                "  }\n"
                "  check(): boolean {\n"
                "    return true\n"
                "  }\n"
                "}\n"
                "export const make = () => new Str()\n"
                "export type AnyStr = Str\n"
            ),
            "src/use.ts": (
                'import { make, AnyStr } from "./str"\n'
                "export function run(s: AnyStr): void {\n"
                "  make().min().check()\n"
                "  s.check()\n"
                "}\n"
            ),
        },
    )
    # min returns this.add()'s Str (not its callback's 1); AnyStr is Str
    assert await _call_sites(db, repo, "src.use.run") == {
        (3, "make", "src.str.make"),
        (3, "make().min", "src.str.Str.min"),
        (3, "make().min().check", "src.str.Str.check"),
        (4, "s.check", "src.str.Str.check"),
    }


async def test_a_member_read_on_a_typed_receiver_is_a_reference(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-reads",
        {
            "src/err.ts": "export class Err {\n  get isEmpty(): boolean {\n    return true\n  }\n}\n",
            "src/use.ts": (
                'import { Err } from "./err"\n'
                "export function check(e: Err, n: number[]): boolean {\n"
                "  return e.isEmpty && n.length > 0\n"
                "}\n"
            ),
        },
    )
    rows = await db.pool.fetch(
        "SELECT e.line, e.target_name, t.qualified_name FROM edges e JOIN repositories r ON r.id = e.repository_id"
        " JOIN files f ON f.id = e.file_id LEFT JOIN symbols t ON t.id = e.target_id"
        " WHERE r.name = $1 AND f.path = 'src/use.ts' AND e.kind = 'references' AND e.line = 3",
        repo,
    )
    # `n.length` is an array's: no edge at all
    assert {(r["line"], r["target_name"], r["qualified_name"]) for r in rows} == {
        (3, "e.isEmpty", "src.err.Err.isEmpty")
    }


async def test_a_member_of_an_untyped_javascript_receiver_is_not_guessed_by_its_unique_name(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-untyped",
        {
            "lib/schemas.js": (
                "function Schemas () {}\nSchemas.prototype.addSchema = function (s) { return s }\nmodule.exports = Schemas\n"
            ),
            "index.js": (
                "const Schemas = require('./lib/schemas')\n"
                "function add (children, schema) {\n"
                "  children.forEach(child => child.addSchema(schema))\n"
                "  this.addSchema(schema)\n"
                "  return new Schemas()\n"
                "}\n"
                "module.exports = add\n"
            ),
        },
    )
    # `child` and `this` could hold anything: the one method named addSchema is not a guess worth making.
    assert await _call_sites(db, repo, "index.add") == {
        (3, "children.forEach", None),
        (3, "child.addSchema", None),
        (4, "this.addSchema", None),
        (5, "Schemas", "lib.schemas.Schemas"),
    }


async def test_a_value_holding_a_class_is_no_reference_of_it_where_its_name_is_not_written(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-held",
        {
            "lib/hooks.js": (
                "function Hooks () {}\n"
                "function buildHooks () {\n"
                "  const hooks = new Hooks()\n"
                "  return hooks\n"
                "}\n"
                "module.exports = { Hooks, buildHooks }\n"
            ),
        },
    )
    found = await find_references(db.pool, "lib.hooks.Hooks", repo)
    # `return hooks` only tells what buildHooks() returns
    assert {r.line for r in found.references} == {3, 6}


async def test_a_default_import_references_the_function_exported_as_default(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-default",
        {
            "lib/bind.js": "export default function bind (fn, self) {\n  return () => fn.call(self)\n}\n",
            "lib/plain.js": "export const one = 1\n",
            "lib/utils.js": (
                "import bind from './bind.js'\n"
                "import plain from './plain.js'\n"
                "export function extend (a, b) {\n"
                "  return bind(a, b) || plain\n"
                "}\n"
            ),
        },
    )
    found = await find_references(db.pool, "lib.bind.bind", repo)
    # `export default function bind` is its definition, not a use
    assert {(r.path, r.line) for r in found.references} == {
        ("lib/utils.js", 1),
        ("lib/utils.js", 4),
    }
    # a module with no default export: the import is of the module
    assert [(r.path, r.line) for r in (await find_references(db.pool, "lib.plain", repo)).references] == [
        ("lib/utils.js", 2)
    ]


async def test_a_column_tells_apart_two_calls_of_one_name_on_a_line(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "js-one-name-twice",
        {
            "lib/list.js": "export class List {\n  forEach (fn) { fn(this) }\n}\n",
            "lib/utils.js": "export function forEach (obj, fn) {\n  fn(obj)\n}\n",
            "lib/use.js": (
                "import { forEach } from './utils.js'\n"
                "import { List } from './list.js'\n"
                "export function use (f) {\n"
                "  const list = new List()\n"
                "  list.forEach(v => forEach(v, f))\n"  # 5
                "}\n"
            ),
        },
    )

    async def goto(column: int, name: str | None = None) -> list[tuple[str, int]]:
        found = await goto_definition(db.pool, "lib/use.js", 5, column=column, name=name, repository=repo)
        return [(d.path, d.start_line) for d in found.definitions]

    line = "  list.forEach(v => forEach(v, f))"
    method, function = line.index("forEach") + 1, line.rindex("forEach") + 1
    assert await goto(method) == [("lib/list.js", 2)]
    assert await goto(function) == [("lib/utils.js", 1)]
    assert await goto(function, "forEach") == [("lib/utils.js", 1)]  # the column decides, the name agrees
    by_name = await goto_definition(db.pool, "lib/use.js", 5, name="forEach", repository=repo)
    assert {(d.path, d.start_line) for d in by_name.definitions} == {("lib/list.js", 2), ("lib/utils.js", 1)}
