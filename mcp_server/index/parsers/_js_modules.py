"""Which modules a JavaScript / TypeScript import specifier names: relative paths, tsconfig paths, own packages."""

from __future__ import annotations

import posixpath

from ..project import EMPTY_PROJECT, JsPackage, Project
from ._generic import Ctx, relative_module

EXTS = (".d.ts", ".d.mts", ".d.cts", ".ts", ".tsx", ".mts", ".cts", ".js", ".jsx", ".mjs", ".cjs")
_SOURCE_EXTS = (".ts", ".tsx", ".mts", ".cts")
_DECLARATION_EXTS = (".d.ts", ".d.mts", ".d.cts")
_BUILT_DIRS = frozenset({"dist", "lib", "build", "out", "esm", "cjs", "es", "types"})
_MAX_PATHS = 3
# A bare specifier this repository does not hold (a dependency, `node:fs`) binds its names to a
# module no file has: calls through it then resolve to nothing instead of to a same-named guess.
EXTERNAL = ":ext:"


def modules(ctx: Ctx, spec: str) -> list[str]:
    """Module names an import specifier may denote, likeliest first; [] when none is in the repository."""
    cache: dict[str, list[str]] = ctx.data.setdefault("modules", {})
    found = cache.get(spec)
    if found is None:
        found = cache[spec] = _modules(ctx, spec)
    return found


def bound_modules(ctx: Ctx, spec: str) -> list[str]:
    """`modules`, or the one EXTERNAL name when the specifier names nothing here."""
    return modules(ctx, spec) or [EXTERNAL + spec]


def _modules(ctx: Ctx, spec: str) -> list[str]:
    if spec.startswith("."):
        mod = relative_module(ctx.path, spec, EXTS)
        if mod is None:
            return []
        return [mod] if mod.endswith(".index") or spec.endswith(EXTS) else [mod, mod + ".index"]
    project: Project = ctx.data.get("project", EMPTY_PROJECT)
    paths: list[str] = []
    config = project.ts_config(ctx.path)
    if config is not None:
        for pattern, targets in config.paths:
            star = _match(pattern, spec)
            if star is not None:
                paths.extend(target.replace("*", star, 1) for target in targets)
    package = _package(project, spec)
    if package is not None:
        paths.extend(_package_paths(package, spec))
    if not paths and config is not None and config.base_url is not None:
        paths.append(posixpath.join(config.base_url, spec) if config.base_url else spec)
    out: list[str] = []
    for path in paths[:_MAX_PATHS]:
        out.extend(_file_modules(path))
    return list(dict.fromkeys(out))


def _match(pattern: str, spec: str) -> str | None:
    """What `*` stands for when `spec` matches a tsconfig `paths` / `exports` pattern ("" when exact)."""
    if "*" not in pattern:
        return "" if pattern == spec else None
    head, _, tail = pattern.partition("*")
    if spec.startswith(head) and spec.endswith(tail) and len(spec) >= len(head) + len(tail):
        return spec[len(head) : len(spec) - len(tail)]
    return None


def _package(project: Project, spec: str) -> JsPackage | None:
    """The repository's own package a bare specifier names (the longest matching name)."""
    best: JsPackage | None = None
    for package in project.js_packages:
        name = package.name
        if name and (spec == name or spec.startswith(name + "/")) and (best is None or len(name) > len(best.name)):
            best = package
    return best


def _package_paths(package: JsPackage, spec: str) -> list[str]:
    """Files a package imported by its own name leads to: its `exports` entry for the subpath (a
    source file before a built one before declarations), else the subpath or its main file, each
    built path followed by the source path it was likely built from."""
    rest = spec[len(package.name) :].lstrip("/")
    subpath = "./" + rest if rest else "."
    hits: list[tuple[int, str]] = []
    for pattern, _conditions, target in package.exports:
        star = _match(pattern, subpath)
        if star is not None:
            resolved = target.replace("*", star, 1)
            hits.append((_rank(resolved), resolved))
    if hits:
        written = [p for _, p in sorted(hits, key=lambda h: h[0])]
    elif rest:
        written = [posixpath.join(package.dir, rest)]
    else:
        written = [package.main or posixpath.join(package.dir, "index")]
    out: list[str] = []
    for path in dict.fromkeys(written):
        if _rank(path) == 0:
            out.append(path)
        else:
            out.extend(_sources_of(path))
    return list(dict.fromkeys(out))


def _rank(path: str) -> int:
    if path.endswith(_DECLARATION_EXTS):
        return 2
    return 0 if path.endswith(_SOURCE_EXTS) else 1


def _sources_of(path: str) -> list[str]:
    """A built file's likely source (dist/x -> src/x, x -> src/x), then the file itself."""
    parts = _strip_ext(path).split("/")
    for i, part in enumerate(parts[:-1]):
        if part in _BUILT_DIRS:
            return ["/".join([*parts[:i], "src", *parts[i + 1 :]]), path]
    return ["/".join([*parts[:-1], "src", parts[-1]]), path]


def _strip_ext(path: str) -> str:
    for ext in EXTS:
        if path.endswith(ext):
            return path[: -len(ext)]
    return path


def _file_modules(path: str) -> list[str]:
    stem = _strip_ext(posixpath.normpath(path))
    if stem in (".", "") or stem.startswith(".."):
        return []
    mod = stem.replace("/", ".")
    return [mod] if mod == "index" or mod.endswith(".index") or path.endswith(EXTS) else [mod, mod + ".index"]
