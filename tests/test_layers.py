"""The package's layers import only downwards: the read side never reaches into the write side, db into nothing above it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "mcp_server"

# Each layer and the layers of ours it may import (besides itself). config, errors and logs sit
# under everything; server and the CLI wire the rest together and may import anything.
BASE = {"config", "errors", "logs"}
ALLOWED: dict[str, set[str]] = {
    "config": {"errors"},
    "errors": set(),
    "logs": set(),
    "db": BASE,
    "index": BASE,
    "embed": BASE,
    "search": BASE | {"db", "index", "embed"},
    "graph": BASE | {"db", "index", "embed"},
    "indexer": BASE | {"db", "index", "embed"},
    "context": BASE | {"db", "index", "embed", "search", "graph"},
}


def _layer(module: str) -> str:
    """mcp_server.search.hybrid -> search; mcp_server.cli -> cli."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module of ours that `path` imports (at any depth of the file), absolute."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.startswith("mcp_server")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("mcp_server")]
    return found


def test_no_module_imports_a_layer_above_its_own() -> None:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if own not in ALLOWED:
            continue  # server, cli, __main__: the wiring
        for line, target in _imports(path):
            layer = _layer(target)
            if layer and layer != own and layer not in ALLOWED[own]:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} ({own}) imports {target} ({layer})")
    assert not problems, "imports that run up the layers:\n" + "\n".join(problems)


def test_the_check_sees_relative_and_nested_imports(tmp_path: Path) -> None:
    # The check itself must not go blind: a lazy import inside a function counts as much as one at the top.
    module = PACKAGE / "graph" / "walk.py"
    targets = {t for _, t in _imports(module)}
    assert any(t.startswith("mcp_server.errors") for t in targets), targets
    assert _layer("mcp_server.indexer.lease") == "indexer" and _layer("mcp_server.cli") == "cli"
