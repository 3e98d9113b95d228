"""What a repository's manifests say about naming its modules (go.mod, package.json, tsconfig, Cargo.toml), for the parsers."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import tomllib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# A change to one of these changes what other files' imports mean: the pipeline re-reads the
# whole repository (only files of the languages the manifest speaks for are parsed again).
MANIFEST_NAMES = frozenset({"go.mod", "package.json", "tsconfig.json", "jsconfig.json", "Cargo.toml"})
_MAX_MANIFEST_BYTES = 512 * 1024
_MAX_EXTENDS = 8
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_GO_MODULE = re.compile(r"^\s*module\s+\"?([^\s\"/][^\s\"]*)\"?\s*(?://.*)?$", re.MULTILINE)
_FAMILIES = {"go": "go", "javascript": "js", "typescript": "js", "tsx": "js", "rust": "rust"}


@dataclass(frozen=True, slots=True)
class JsPackage:
    """One package.json: its name and entry points, paths normalised to be repository-relative."""

    dir: str  # the folder holding package.json, "" for the repository root
    name: str  # "zod", "@scope/pkg"; "" when unnamed
    main: str | None = None  # "main", "module" or "types", first present, repo-relative
    # package.json "exports" flattened: (subpath as written ("." / "./v3" / "./*"), condition chain
    # joined with "/" ("import/types", "" for a plain string), repo-relative target).
    exports: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class TsConfig:
    """One tsconfig.json / jsconfig.json with its relative `extends` chain merged in."""

    dir: str
    base_url: str | None = None  # repo-relative; None when not set
    paths: tuple[tuple[str, tuple[str, ...]], ...] = ()  # pattern -> repo-relative targets, `*` kept
    root_dir: str | None = None
    out_dir: str | None = None


@dataclass(frozen=True, slots=True)
class Project:
    """Every manifest of one repository; empty for a repository without any."""

    go_modules: tuple[tuple[str, str], ...] = ()  # (folder of go.mod, module path), deepest folder first
    js_packages: tuple[JsPackage, ...] = ()
    ts_configs: tuple[TsConfig, ...] = ()
    rust_crates: tuple[tuple[str, str], ...] = ()  # (folder of Cargo.toml, library crate name), deepest first
    _keys: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def go_module(self, path: str) -> tuple[str, str] | None:
        """(folder, module path) of the go.mod that owns a repo-relative file, if any."""
        for folder, module in self.go_modules:
            if not folder or path.startswith(folder + "/"):
                return folder, module
        return None

    def rust_crate(self, path: str) -> str | None:
        """The library crate name of the Cargo.toml that owns a repo-relative file, if any."""
        for folder, name in self.rust_crates:
            if not folder or path.startswith(folder + "/"):
                return name
        return None

    def ts_config(self, path: str) -> TsConfig | None:
        """The nearest tsconfig/jsconfig above a repo-relative file."""
        best: TsConfig | None = None
        for config in self.ts_configs:
            if (not config.dir or path.startswith(config.dir + "/")) and (
                best is None or len(config.dir) > len(best.dir)
            ):
                best = config
        return best

    def key(self, language: str) -> str:
        """A digest of what this project tells the parser of `language`; "" when it tells nothing."""
        family = _FAMILIES.get(language)
        if family is None:
            return ""
        cached = self._keys.get(family)
        if cached is None:
            part: Any = {
                "go": self.go_modules,
                "rust": self.rust_crates,
            }.get(family, [self.js_packages, self.ts_configs])
            empty = not (part if family in ("go", "rust") else (self.js_packages or self.ts_configs))
            cached = "" if empty else hashlib.blake2b(_dump(part).encode(), digest_size=8).hexdigest()
            self._keys[family] = cached
        return cached

    def to_json(self) -> str:
        return _dump(
            {
                "go_modules": self.go_modules,
                "js_packages": self.js_packages,
                "ts_configs": self.ts_configs,
                "rust_crates": self.rust_crates,
            }
        )

    @classmethod
    def from_json(cls, text: str | None) -> Project:
        if not text:
            return EMPTY_PROJECT
        try:
            raw = json.loads(text)
            return cls(
                go_modules=tuple((str(a), str(b)) for a, b in raw.get("go_modules", ())),
                js_packages=tuple(
                    JsPackage(
                        dir=p["dir"],
                        name=p["name"],
                        main=p.get("main"),
                        exports=tuple((str(s), str(c), str(t)) for s, c, t in p.get("exports", ())),
                    )
                    for p in raw.get("js_packages", ())
                ),
                ts_configs=tuple(
                    TsConfig(
                        dir=c["dir"],
                        base_url=c.get("base_url"),
                        paths=tuple((str(k), tuple(str(t) for t in v)) for k, v in c.get("paths", ())),
                        root_dir=c.get("root_dir"),
                        out_dir=c.get("out_dir"),
                    )
                    for c in raw.get("ts_configs", ())
                ),
                rust_crates=tuple((str(a), str(b)) for a, b in raw.get("rust_crates", ())),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return EMPTY_PROJECT  # a record from another version: the next full pass writes it anew


EMPTY_PROJECT = Project()


def _dump(value: Any) -> str:
    def plain(v: Any) -> Any:
        if hasattr(v, "__dataclass_fields__"):
            return {k: plain(x) for k, x in asdict(v).items()}
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        return v

    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"))


def is_manifest(path: str) -> bool:
    return posixpath.basename(path) in MANIFEST_NAMES


def read_project(root: Path, paths: Iterable[str]) -> Project:
    """The manifests among a repository's discovered files (repo-relative POSIX paths), read.

    Only files discovery admitted are read (ignore rules, symlinks and the read boundary apply);
    a manifest that cannot be read or parsed is left out, never an error.
    """
    go: list[tuple[str, str]] = []
    packages: list[JsPackage] = []
    configs: list[TsConfig] = []
    crates: list[tuple[str, str]] = []
    for path in sorted(p for p in paths if is_manifest(p) and "node_modules/" not in p):
        folder = posixpath.dirname(path)
        name = posixpath.basename(path)
        text = _read(root, path)
        if text is None:
            continue
        if name == "go.mod":
            match = _GO_MODULE.search(text)
            if match:
                go.append((folder, match.group(1)))
        elif name == "Cargo.toml":
            crate = _crate_name(text)
            if crate:
                crates.append((folder, crate))
        elif name == "package.json":
            package = _package(folder, text)
            if package is not None:
                packages.append(package)
        else:
            config = _ts_config(root, path)
            if config is not None:
                configs.append(config)
    go.sort(key=lambda item: -len(item[0]))
    crates.sort(key=lambda item: -len(item[0]))
    return Project(tuple(go), tuple(packages), tuple(configs), tuple(crates))


def _crate_name(text: str) -> str | None:
    """The name a crate's tests and examples `use` it by: [lib] name, else [package] name with `-` as `_`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    for table in ("lib", "package"):
        section = raw.get(table)
        name = section.get("name") if isinstance(section, dict) else None
        if isinstance(name, str) and name:
            return name.replace("-", "_")
    return None


def _read(root: Path, rel: str) -> str | None:
    try:
        fd = os.open(root / rel, os.O_RDONLY | _NOFOLLOW)
    except OSError:
        return None
    try:
        data = os.read(fd, _MAX_MANIFEST_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > _MAX_MANIFEST_BYTES:
        return None
    return data.decode("utf-8", errors="replace")


def _inside(folder: str, target: str) -> str | None:
    """`target` (relative to `folder`) as a repo-relative path, None when it leaves the repository."""
    joined = posixpath.normpath(posixpath.join(folder, target))
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return "" if joined == "." else joined


def _package(folder: str, text: str) -> JsPackage | None:
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    raw_name = raw.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    main = None
    for key in ("main", "module", "types", "typings"):
        value = raw.get(key)
        if isinstance(value, str) and (target := _inside(folder, value)) is not None:
            main = target
            break
    exports: list[tuple[str, str, str]] = []
    _flatten_exports(folder, raw.get("exports"), ".", "", exports, 0)
    return JsPackage(folder, name, main, tuple(exports))


def _flatten_exports(
    folder: str, value: Any, subpath: str, conditions: str, out: list[tuple[str, str, str]], depth: int
) -> None:
    if depth > 6 or len(out) > 2000:
        return
    if isinstance(value, str):
        target = _inside(folder, value)
        if target is not None:
            out.append((subpath, conditions, target))
    elif isinstance(value, list):
        for item in value:
            _flatten_exports(folder, item, subpath, conditions, out, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                continue
            if key.startswith("."):  # a subpath (only at the top of "exports")
                _flatten_exports(folder, item, key, conditions, out, depth + 1)
            else:  # a condition: import, require, types, default, node, ...
                _flatten_exports(folder, item, subpath, f"{conditions}/{key}" if conditions else key, out, depth + 1)


def _ts_config(root: Path, path: str) -> TsConfig | None:
    """A tsconfig with the compiler options its relative `extends` chain gives it (nearest wins)."""
    merged: dict[str, tuple[str, Any]] = {}  # option -> (folder of the file that set it, value)
    current: str | None = path
    seen: set[str] = set()
    while current is not None and current not in seen and len(seen) < _MAX_EXTENDS:
        seen.add(current)
        text = _read(root, current)
        if text is None:
            break
        raw = _jsonc(text)
        if not isinstance(raw, dict):
            break
        options = raw.get("compilerOptions")
        folder = posixpath.dirname(current)
        if isinstance(options, dict):
            for key in ("baseUrl", "paths", "rootDir", "outDir"):
                if key in options and key not in merged:
                    merged[key] = (folder, options[key])
        base = raw.get("extends")
        current = None
        if isinstance(base, str) and base.startswith("."):
            target = _inside(folder, base if base.endswith(".json") else base + ".json")
            current = target
    if not seen or _read(root, path) is None:
        return None
    folder = posixpath.dirname(path)

    def rel(option: str) -> str | None:
        if option not in merged or not isinstance(merged[option][1], str):
            return None
        return _inside(merged[option][0], merged[option][1])

    base_url = rel("baseUrl")
    paths: list[tuple[str, tuple[str, ...]]] = []
    if "paths" in merged and isinstance(merged["paths"][1], dict):
        # `paths` targets are relative to baseUrl when set, else to the file that sets `paths`.
        anchor = base_url if base_url is not None else merged["paths"][0]
        for pattern, targets in merged["paths"][1].items():
            if isinstance(pattern, str) and isinstance(targets, list):
                resolved = tuple(t2 for t in targets if isinstance(t, str) and (t2 := _inside(anchor, t)) is not None)
                if resolved:
                    paths.append((pattern, resolved))
    return TsConfig(folder, base_url, tuple(paths), rel("rootDir"), rel("outDir"))


_JSONC_TOKENS = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _jsonc(text: str) -> Any:
    """JSON with comments and trailing commas, as tsconfig files are written."""
    stripped = _JSONC_TOKENS.sub(lambda m: m.group(0) if m.group(0).startswith('"') else "", text)
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", stripped))
    except ValueError:
        return None
