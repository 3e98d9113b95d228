"""TypeScript receivers typed from declarations: `this` members, getters, generics' constraints and arguments, unions."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.symbols import goto_definition
from mcp_server.graph.walk import find_callers, find_references
from mcp_server.indexer.pipeline import index_repository


async def _index(db: Database, settings: Settings, root: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)
    return root.name


async def _sites(db: Database, repo: str, qname: str) -> set[tuple[str, int]]:
    found = await find_references(db.pool, qname, repo)
    return {(r.path, r.line) for r in found.references}


async def test_this_members_read_and_getters_read_are_uses_and_calls(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-this-reads",
        {
            "src/err.ts": (
                "export class Issue {\n"
                "  get message(): string {\n"
                '    return "x"\n'
                "  }\n"
                "  show(): string {\n"
                "    return this.message\n"  # 6
                "  }\n"
                "}\n"
                "export class Plain {\n"
                "  count = 0\n"
                "  bump(): void {\n"
                "    this.count = this.count + 1\n"  # 12: a plain field is no symbol: no edge
                "  }\n"
                "}\n"
            ),
            "src/use.ts": (
                'import { Issue } from "./err"\n'
                "export function text(i: Issue): string {\n"
                "  return i.message\n"  # 3
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.err.Issue.message") == {("src/err.ts", 6), ("src/use.ts", 3)}
    callers = await find_callers(db.pool, "src.err.Issue.message", repo)
    assert {n.qualified_name for n in callers.nodes if n.depth == 1} == {"src.err.Issue.show", "src.use.text"}
    edges = await db.pool.fetch(
        "SELECT e.line FROM edges e JOIN repositories r ON r.id = e.repository_id"
        " JOIN files f ON f.id = e.file_id WHERE r.name = $1 AND f.path = 'src/err.ts' AND e.line = 12",
        repo,
    )
    assert edges == []


async def test_generics_type_members_through_the_subclass_type_argument_or_the_constraint(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-generics",
        {
            "src/base.ts": (
                "export interface BaseDef {\n"
                "  label: string\n"
                "}\n"
                "export abstract class Schema<Out, Def extends BaseDef = BaseDef> {\n"
                "  readonly _def!: Def\n"
                "  parse(input: unknown): Out {\n"
                "    return input as Out\n"
                "  }\n"
                "}\n"
            ),
            "src/record.ts": (
                'import { BaseDef, Schema } from "./base"\n'
                "export interface RecordDef<Value extends Schema<unknown> = Schema<unknown>> extends BaseDef {\n"
                "  valueType: Value\n"
                "}\n"
                "export class RecordSchema<Value extends Schema<unknown>> extends Schema<number, RecordDef<Value>> {\n"
                "  check(data: unknown): void {\n"
                "    const valueType = this._def.valueType\n"  # 7: RecordDef's, through the type argument
                "    valueType.parse(data)\n"  # 8: Value's constraint
                "  }\n"
                "  first<T extends Schema<string>>(items: T[], one: T): string {\n"
                "    return one.parse(items)\n"  # 11: a function's own type parameter
                "  }\n"
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.record.RecordDef.valueType") == {("src/record.ts", 7)}
    assert await _sites(db, repo, "src.base.Schema.parse") == {("src/record.ts", 8), ("src/record.ts", 11)}
    # the type parameter's edge names no symbol: no use of anything
    assert await _sites(db, repo, "src.base.BaseDef") == {
        ("src/base.ts", 4),
        ("src/record.ts", 1),
        ("src/record.ts", 2),
    }


async def test_object_type_aliases_have_members_and_a_union_member_is_the_first_alternative_that_has_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-unions",
        {
            "src/result.ts": (
                "export class Failure {\n"
                "  format(): string {\n"
                '    return ""\n'
                "  }\n"
                "}\n"
                "export type Ok = { success: true; error?: never; extra: { format(): string } }\n"
                "export type Bad = { success: false; error: Failure }\n"
                "export type Result = Ok | Bad | null\n"
                "export type Checker = { run(input: unknown): Result }\n"
            ),
            "src/use.ts": (
                'import { Checker } from "./result"\n'
                "export function report(c: Checker): string {\n"
                "  const result = c.run(1)\n"  # 3
                '  return result?.error?.format() ?? ""\n'  # 4: Bad's error, Ok's is never
                "}\n"
                "export function finite(x: number): boolean {\n"
                "  return Number.isFinite(x)\n"  # 7: a global's, not a same-named method's
                "}\n"
                "export class Range {\n"
                "  get isFinite(): boolean {\n"
                "    return true\n"
                "  }\n"
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.result.Checker.run") == {("src/use.ts", 3)}
    assert await _sites(db, repo, "src.result.Failure.format") == {("src/use.ts", 4)}
    # a method of an object type inside a member's type is no member of the alias
    rows = await db.pool.fetch(
        "SELECT s.qualified_name FROM symbols s JOIN repositories r ON r.id = s.repository_id"
        " WHERE r.name = $1 AND s.name = 'format'",
        repo,
    )
    assert {r["qualified_name"] for r in rows} == {"src.result.Failure.format"}
    assert await _sites(db, repo, "src.use.Range.isFinite") == set()


async def test_array_elements_and_either_side_of_a_fallback_type_a_receiver(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-elements",
        {
            "src/obs.ts": (
                "export class Obs {\n"
                "  notify(): void {}\n"
                "}\n"
                "export function all(list: Obs[], more: ReadonlyArray<Obs>, a?: Obs, b?: Obs): void {\n"
                "  for (let i = 0; i < list.length; i++) {\n"
                "    const one = list[i]\n"
                "    one.notify()\n"  # 7
                "  }\n"
                "  for (const o of more) o.notify()\n"  # 9
                "  const either = a ?? b\n"
                "  either?.notify()\n"  # 11
                "  const names: string[] = []\n"
                "  for (const n of names) n.notify()\n"  # 13: a string's, no guess by name
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.obs.Obs.notify") == {("src/obs.ts", 7), ("src/obs.ts", 9), ("src/obs.ts", 11)}


async def test_a_function_declaring_this_types_its_this_members(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-this-param",
        {
            "src/annotation.ts": (
                "export class Outcome {\n"
                "  ok(): void {}\n"
                "}\n"
                "export type Annotation = { extend_(n: number): Outcome }\n"
                "export function make_(this: Annotation, n: number): void {\n"
                "  this.extend_(n).ok()\n"  # 6
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.annotation.Annotation.extend_") == {("src/annotation.ts", 6)}
    assert await _sites(db, repo, "src.annotation.Outcome.ok") == {("src/annotation.ts", 6)}


async def test_goto_definition_never_answers_a_call_with_the_call_made_on_its_result(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """Past the per-target site budget `lib.make` has no edge of its own on a line: the line's
    `lib.make(104).size` edge is size's, not make's."""
    calls = "".join(f"lib.make({i}).size()\n" for i in range(105))  # size's targets differ
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-goto-qualifier",
        {
            "src/lib.ts": (
                "export class Box {\n  size(): number {\n    return 1\n  }\n}\n"
                "export function make(n: number): Box {\n  return new Box()\n}\n"
            ),
            "src/use.ts": 'import * as lib from "./lib"\n' + calls,
        },
    )
    first = await goto_definition(db.pool, "src/use.ts", 2, name="make", repository=repo)
    assert [d.qualified_name for d in first.definitions] == ["src.lib.make"]
    last = await goto_definition(db.pool, "src/use.ts", 106, name="make", repository=repo)
    assert [d.qualified_name for d in last.definitions] == []
    sized = await goto_definition(db.pool, "src/use.ts", 106, name="size", repository=repo)
    assert [d.qualified_name for d in sized.definitions] == ["src.lib.Box.size"]


async def test_a_member_read_as_a_value_is_a_call_of_its_method_and_a_class_so_read_of_its_constructor(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    """As tsserver's call hierarchy counts them: `this.parse.bind(this)`, `Schema.create` and
    `instanceof lib.Failure` (a right side of a property access) are calls; a bare name passed on
    (`run(make)`) and a type written `lib.Failure` are not."""
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-member-reads",
        {
            "src/lib.ts": (
                "export class Failure {\n"
                "  constructor(readonly why: string) {}\n"
                "}\n"
                "export class Schema {\n"
                "  static create(): Schema {\n"
                "    return new Schema()\n"
                "  }\n"
                "  parse(x: number): number {\n"
                "    return x\n"
                "  }\n"
                "  bound(): (x: number) => number {\n"
                "    return this.parse.bind(this)\n"  # 12
                "  }\n"
                "}\n"
                "export function make(): Schema {\n"
                "  return new Schema()\n"
                "}\n"
            ),
            "src/use.ts": (
                'import * as lib from "./lib"\n'
                "export const factory = lib.Schema.create\n"  # 2
                "export function run(f: () => lib.Schema): lib.Schema {\n"
                "  return f()\n"
                "}\n"
                "export function later(): lib.Schema {\n"
                "  return run(lib.make)\n"  # 7: lib.make is read through the namespace
                "}\n"
                "export function bare(): lib.Schema {\n"
                "  const make = lib.make\n"  # 10
                "  return run(make)\n"  # 11: the local, not lib.make
                "}\n"
                "export function failed(e: unknown): boolean {\n"
                "  return e instanceof lib.Failure\n"  # 14
                "}\n"
                "export function typed(e: lib.Failure): string {\n"  # 16: a type, no call
                "  return e.why\n"
                "}\n"
            ),
        },
    )

    async def callers(qname: str) -> set[tuple[str, str, int]]:
        found = await find_callers(db.pool, qname, repo)
        return {(e.source, e.kind, e.line) for e in found.edges}

    assert await callers("src.lib.Schema.parse") == {("src.lib.Schema.bound", "references", 12)}
    assert await callers("src.lib.Schema.create") == {("src.use", "references", 2)}
    assert await callers("src.lib.make") == {("src.use.later", "references", 7), ("src.use.bare", "references", 10)}
    assert await callers("src.lib.Failure.constructor") == {("src.use.failed", "references", 14)}
    # references stay what they were: the constructor's are the sites that build the class
    assert await _sites(db, repo, "src.lib.Failure.constructor") == set()


async def test_a_value_typed_as_a_function_gives_what_the_function_returns_when_called(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-function-types",
        {
            "src/box.ts": (
                "export class Box {\n"
                "  size(): number {\n"
                "    return 1\n"
                "  }\n"
                "}\n"
                "export interface LazyDef<T extends Box> {\n"
                "  getter: () => T\n"
                "  make: (n: number) => Box\n"
                "}\n"
            ),
            "src/lazy.ts": (
                'import { Box, LazyDef } from "./box"\n'
                "export class Lazy {\n"
                "  constructor(private def: LazyDef<Box>) {}\n"
                "  measure(): number {\n"
                "    const inner = this.def.getter()\n"
                "    return inner.size() + this.def.make(1).size()\n"  # 6: through both fields
                "  }\n"
                "}\n"
                "export function later(cb: () => Box): number {\n"
                "  return cb().size()\n"  # 10: a parameter of a function type
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.box.Box.size") == {("src/lazy.ts", 6), ("src/lazy.ts", 10)}
    found = await goto_definition(db.pool, "src/lazy.ts", 10, name="size", repository=repo)
    assert [d.qualified_name for d in found.definitions] == ["src.box.Box.size"]


async def test_names_destructured_from_a_call_hold_the_members_of_its_declared_return_type(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-destructured",
        {
            "src/status.ts": (
                "export class Status {\n"
                "  abort(): void {}\n"
                "}\n"
                "export class Input {\n"
                "  read(): string {\n"
                '    return ""\n'
                "  }\n"
                "}\n"
            ),
            "src/schema.ts": (
                'import { Status, Input } from "./status"\n'
                "export class Schema {\n"
                "  params(): { status: Status; input: Input; count: number } {\n"
                "    return { status: new Status(), input: new Input(), count: 1 }\n"
                "  }\n"
                "}\n"
                "export class Strict extends Schema {\n"
                "  parse(): string {\n"
                "    const { status, input: source, count } = this.params()\n"
                "    status.abort()\n"  # 10
                "    this.params().status.abort()\n"  # 11
                "    return source.read() + count.toFixed()\n"  # 12: count is a number: no guess
                "  }\n"
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.status.Status.abort") == {("src/schema.ts", 10), ("src/schema.ts", 11)}
    assert await _sites(db, repo, "src.status.Input.read") == {("src/schema.ts", 12)}
    found = await goto_definition(db.pool, "src/schema.ts", 12, name="toFixed", repository=repo)
    assert found.definitions == []


async def test_a_function_passed_to_a_call_has_its_parameters_typed_by_the_callee_declaration(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    files = {
        "src/core.ts": (
            "export class Reaction {\n"
            "  dispose(): void {}\n"
            "}\n"
            "export class Subscriber<T> {\n"
            "  next(value: T): void {}\n"
            "}\n"
            "export class Observable<T> {\n"
            "  constructor(subscribe?: (this: Observable<T>, subscriber: Subscriber<T>) => void) {}\n"
            "}\n"
            "export function autorun(view: (name: string, r: Reaction) => void, delay?: number): void {}\n"
        ),
        "src/use.ts": (
            'import { autorun, Observable } from "./core"\n'
            "export function watch(): void {\n"
            "  autorun((name, r) => r.dispose())\n"  # 3
            "  autorun(function (name, r) {\n"
            "    r.dispose()\n"  # 5
            "  })\n"
            "  new Observable<number>((subscriber) => subscriber.next(1))\n"  # 7: `this` is no position
            "  new Observable<number>(s => s.next(2))\n"  # 8
            "}\n"
        ),
    }
    root = tmp_path / "ts-callbacks"
    repo = await _index(db, settings, root, files)
    assert await _sites(db, repo, "src.core.Reaction.dispose") == {("src/use.ts", 3), ("src/use.ts", 5)}
    assert await _sites(db, repo, "src.core.Subscriber.next") == {("src/use.ts", 7), ("src/use.ts", 8)}
    callers = await find_callers(db.pool, "src.core.Subscriber.next", repo)
    assert {n.qualified_name for n in callers.nodes if n.depth == 1} == {"src.use.watch"}

    # the user's file alone indexed again (resolved with tables loaded on demand): the same
    (root / "src/use.ts").write_text(files["src/use.ts"] + "// edited\n")
    await index_repository(db, settings, root, name=repo)
    assert await _sites(db, repo, "src.core.Reaction.dispose") == {("src/use.ts", 3), ("src/use.ts", 5)}
    assert await _sites(db, repo, "src.core.Subscriber.next") == {("src/use.ts", 7), ("src/use.ts", 8)}


async def test_a_type_guard_or_instanceof_types_its_subject_where_it_holds(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-guards",
        {
            "src/map.ts": (
                "export class Store {\n"
                "  set(k: string): void {}\n"
                "}\n"
                "export class Other {\n"
                "  set(k: string): void {}\n"
                "}\n"
                "export function isStore(x: any): x is Store {\n"
                "  return x instanceof Store\n"
                "}\n"
                "export const isOther = ((x: any) => true) as (x: any) => x is Other\n"
                "export function count(x: any): number {\n"
                "  return 1\n"
                "}\n"
            ),
            "src/use.ts": (
                'import { isStore, isOther, count, Store, Other } from "./map"\n'
                "export function put(x: unknown, k: string): void {\n"
                "  if (isStore(x)) {\n"
                "    x.set(k)\n"  # 4
                "  } else if (isOther(x)) {\n"
                "    x.set(k)\n"  # 6
                "  }\n"
                "  x instanceof Other && x.set(k)\n"  # 8
                "}\n"
                "export function keep(s: Store): void {\n"
                "  if (count(s)) s.set('a')\n"  # 11: no guard: s stays a Store
                "  return s instanceof Other\n"
                "    ? s.set('b')\n"  # 13: Other's
                "    : s.set('c')\n"  # 14: Store's again
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.map.Store.set") == {("src/use.ts", 4), ("src/use.ts", 11), ("src/use.ts", 14)}
    assert await _sites(db, repo, "src.map.Other.set") == {("src/use.ts", 6), ("src/use.ts", 8), ("src/use.ts", 13)}


async def test_a_value_of_a_union_type_has_the_members_of_the_first_alternative_that_has_them(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-union-fields",
        {
            "src/sinks.ts": (
                "export class Subscriber {\n"
                "  next(v: number): void {}\n"
                "  unsubscribe(): void {}\n"
                "}\n"
                "export class Observer {\n"
                "  next(v: number): void {}\n"
                "  complete(): void {}\n"
                "}\n"
                "export class Holder {\n"
                "  destination: Subscriber | Observer | undefined\n"
                "}\n"
            ),
            "src/use.ts": (
                'import { Holder, Observer, Subscriber } from "./sinks"\n'
                "export function push(h: Holder, sink: string | Observer): void {\n"
                "  h.destination.next(1)\n"  # 3: through the field, in another file
                "  h.destination.complete()\n"  # 4: the second alternative's
                "  sink.complete()\n"  # 5
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.sinks.Subscriber.next") == {("src/use.ts", 3)}
    assert await _sites(db, repo, "src.sinks.Observer.complete") == {("src/use.ts", 4), ("src/use.ts", 5)}


async def test_an_arrays_or_sets_callbacks_and_picks_hold_its_elements(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    repo = await _index(
        db,
        settings,
        tmp_path / "ts-collections",
        {
            "src/node.ts": (
                "export class Node {\n"
                "  stale(): void {}\n"
                "}\n"
                "export class Graph {\n"
                "  observers: Set<Node> | undefined\n"
                "  constructor(private pending: Array<Node>) {}\n"
                "  notify(extra: Node[]): void {\n"
                "    this.observers.forEach(d => d.stale())\n"  # 8
                "    this.pending.find(n => n !== undefined).stale()\n"  # 9
                "    extra.map(function (n) {\n"
                "      return n.stale()\n"  # 11
                "    })\n"
                "    extra.pop().stale()\n"  # 13
                "    for (const n of this.pending) n.stale()\n"  # 14
                "  }\n"
                "}\n"
            ),
        },
    )
    assert await _sites(db, repo, "src.node.Node.stale") == {("src/node.ts", n) for n in (8, 9, 11, 13, 14)}
