"""Derive each file's module name (the prefix of its qualified names) from its path."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath


def module_names(paths: Iterable[str], languages: dict[str, str]) -> dict[str, str]:
    """Module name per path: Python follows its package chain (directories holding __init__.py),
    so "django/db/models/base.py" -> "django.db.models.base" whatever lies above "django/";
    other languages use the path without extension, "src/util/fmt.ts" -> "src.util.fmt"."""
    paths = list(paths)
    packages = {str(PurePosixPath(p).parent) for p in paths if PurePosixPath(p).name == "__init__.py"}
    packages |= _namespace_portions(paths, packages, languages)
    result: dict[str, str] = {}
    for path in paths:
        result[path] = _python_module(path, packages) if languages.get(path) == "python" else path_module(path)
    return result


def _namespace_portions(paths: list[str], packages: set[str], languages: dict[str, str]) -> set[str]:
    """Folders without __init__.py inside a package ("flask/sansio/"): Python imports them as
    namespace packages, so "flask/sansio/app.py" is "flask.sansio.app", not a top-level "app"."""
    found: set[str] = set()
    for path in paths:
        if languages.get(path) != "python":
            continue
        below: list[str] = []
        parent = PurePosixPath(path).parent
        while str(parent) != "." and str(parent) not in packages:
            below.append(str(parent))
            parent = parent.parent
        if str(parent) != "." and below:
            found.update(below)
    return found


def _python_module(path: str, packages: set[str]) -> str:
    pure = PurePosixPath(path)
    parts: list[str] = [] if pure.stem == "__init__" else [pure.stem]
    parent = pure.parent
    while str(parent) in packages and str(parent) != ".":
        parts.append(parent.name)
        parent = parent.parent
    if not parts:  # a top-level __init__.py: the repository root is itself the package
        parts.append(pure.parent.name or "__init__")
    return ".".join(reversed(parts))


def path_module(path: str) -> str:
    pure = PurePosixPath(path)
    return ".".join((*pure.parent.parts, pure.stem)) if pure.parent.parts else pure.stem
