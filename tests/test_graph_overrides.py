"""Uses of a method through the method it overrides, and of a constructor through its class, in find_references / find_callers."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.graph.walk import find_callers, find_references
from mcp_server.indexer.pipeline import index_repository

_FILES = {
    "src/shapes.ts": (
        "export abstract class Shape {\n"  # 1
        "  abstract area(): number\n"
        "  describe(): string {\n"
        "    return String(this.area())\n"  # 4
        "  }\n"
        "}\n"
        "export class Square extends Shape {\n"  # 7
        "  constructor(private side: number) {\n"
        "    super()\n"
        "  }\n"
        "  area(): number {\n"  # 11
        "    return this.side * this.side\n"
        "  }\n"
        "}\n"
        "export class Circle extends Shape {\n"  # 15
        "  area(): number {\n"
        "    return 3\n"
        "  }\n"
        "}\n"
    ),
    "src/use.ts": (
        'import { Shape, Square, Circle } from "./shapes"\n'
        "export function measure(s: Shape): number {\n"
        "  return s.area()\n"  # 3
        "}\n"
        "export function make(): Square {\n"  # 5
        "  return new Square(2)\n"  # 6
        "}\n"
        "export function round(c: Circle): number {\n"
        "  return c.area()\n"  # 9
        "}\n"
    ),
}


async def test_an_override_is_used_where_its_base_method_is_and_a_constructor_where_its_class_is_built(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "ts-overrides"
    for rel, text in _FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    await index_repository(db, settings, root, name=root.name)
    repo = root.name

    refs = await find_references(db.pool, "src.shapes.Square.area", repo)
    got = {(r.path, r.line, r.via, r.confidence) for r in refs.references}
    # through Shape.area (a call there may run Square's), never through a sibling's override
    assert got == {
        ("src/shapes.ts", 4, "src.shapes.Shape.area", 0.5),
        ("src/use.ts", 3, "src.shapes.Shape.area", 0.5),
    }
    callers = await find_callers(db.pool, "src.shapes.Square.area", repo)
    assert {n.qualified_name for n in callers.nodes if n.depth == 1} == {"src.shapes.Shape.describe", "src.use.measure"}
    # reported as edges to the override asked about
    assert {(e.target, e.line) for e in callers.edges} == {("src.shapes.Square.area", 4), ("src.shapes.Square.area", 3)}

    # the base method's own uses stay its own: an override's calls are not a base's
    base = await find_references(db.pool, "src.shapes.Shape.area", repo)
    assert {(r.path, r.line, r.via) for r in base.references} == {("src/shapes.ts", 4, None), ("src/use.ts", 3, None)}

    # `new Square(2)` runs the constructor; the return type `Square` names the class only
    ctor = await find_references(db.pool, "src.shapes.Square.constructor", repo)
    assert {(r.path, r.line, r.kind, r.via) for r in ctor.references} == {
        ("src/use.ts", 6, "calls", "src.shapes.Square")
    }
    made = await find_callers(db.pool, "src.shapes.Square.constructor", repo)
    assert {n.qualified_name for n in made.nodes if n.depth == 1} == {"src.use.make"}
