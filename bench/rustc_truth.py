"""Rust truth from the compiler: rustc's HIR and THIR dumps turned into definitions and resolved uses.

rust-analyzer cannot be installed here, but stable rustc prints its own resolution with
`RUSTC_BOOTSTRAP=1 ... -Zunpretty=hir-tree` (every item, impl item and trait item with its DefId and
span, and each impl's trait and self type) and `-Zunpretty=thir-tree` (every body after type
checking: each call's callee as a `FnDef(DefId(..), [generic args])` with the callee expression's
span, and every function named as a value). Each compiled target of a crate (the library with its
unit tests, each integration test that builds without dependencies) is dumped through cargo,
offline, and read here into:

- definitions: def path (crate hash stripped, `semver::display::{impl#0}::fmt`) -> file, line, name;
- uses: (file, line, column, name) -> the def path rustc resolved there, and whether it is a call.

A call through a trait method (`a.cmp(&b)`, `x.fmt(f)`) is resolved by rustc to the trait's method;
where the receiver's type is a concrete type of this crate with an `impl Trait for Type` here, the
use is attributed to that impl's method, as rust-analyzer's goto-definition does. Spans produced by
macro expansion or desugaring (syntax context other than #0) are not uses written in the source, nor
are calls the compiler inserts (a deref coercion, an operator): a use is kept only where the name
written at its span is the callee's name.

    python bench/rustc_truth.py /path/to/crate [target-dir]   # prints a summary
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

_HASH = re.compile(r"\[[0-9a-f]{4}\]")
_DEFID = re.compile(r"DefId\((\d+):(\d+) ~ ([^)]*)\)")
_SPAN = re.compile(r"span: ([^\s:]+\.rs):(\d+):(\d+): (\d+):(\d+) \(#(\d+)\)")
_OWNER_NODE = re.compile(r"^\s*node: (Item|ImplItem|TraitItem|ForeignItem)\($")
_BODY = re.compile(r"^DefId\((\d+):(\d+) ~ (.*)\):$")
# Bumped when extraction changes what it reads, so that a cached truth of an older reading is not reused.
TRUTH_VERSION = 3


def defpath(raw: str) -> str:
    return _HASH.sub("", raw.strip())


@dataclass(slots=True)
class Definition:
    path: str  # def path, `semver::parse::{impl#2}::from_str`
    file: str  # relative to the crate root
    line: int  # 1-based start of the item (after its attributes)
    name: str
    node: str  # Item | ImplItem | TraitItem | ForeignItem


@dataclass(slots=True)
class Use:
    file: str
    line: int  # 1-based
    column: int  # 0-based, characters
    name: str  # the name written there
    target: str  # def path
    call: bool  # a call (else the function named as a value)
    caller: str  # def path of the body it is in


@dataclass(slots=True)
class CrateTruth:
    root: str
    targets: list[str] = field(default_factory=list)
    failed_targets: dict[str, str] = field(default_factory=dict)
    definitions: dict[str, Definition] = field(default_factory=dict)
    uses: list[Use] = field(default_factory=list)
    trait_calls_to_impl: int = 0  # trait-method calls attributed to a concrete impl's method

    def to_json(self) -> dict[str, object]:
        return {
            "root": self.root,
            "targets": self.targets,
            "failed_targets": self.failed_targets,
            "trait_calls_to_impl": self.trait_calls_to_impl,
            "definitions": {k: asdict(v) for k, v in self.definitions.items()},
            "uses": [asdict(u) for u in self.uses],
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> CrateTruth:
        t = cls(str(data["root"]))
        t.targets = list(data["targets"])  # type: ignore[call-overload]
        t.failed_targets = dict(data["failed_targets"])  # type: ignore[call-overload]
        t.trait_calls_to_impl = int(data["trait_calls_to_impl"])  # type: ignore[call-overload]
        t.definitions = {k: Definition(**v) for k, v in data["definitions"].items()}  # type: ignore[attr-defined]
        t.uses = [Use(**u) for u in data["uses"]]  # type: ignore[attr-defined]
        return t


def _dump(root: Path, target: list[str], what: str, target_dir: Path) -> str:
    env = {**os.environ, "RUSTC_BOOTSTRAP": "1", "CARGO_TARGET_DIR": str(target_dir)}
    proc = subprocess.run(
        ["cargo", "rustc", "--offline", "-q", "--profile", "test", *target, "--", f"-Zunpretty={what}"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}")
    return proc.stdout


@dataclass(slots=True)
class _Impl:
    trait: str | None
    self_ty: str | None
    items: dict[str, str] = field(default_factory=dict)  # name -> def path
    trait_arg: str | None = None  # last segment of the trait's first type argument (`From<Bytes>`: "Bytes")


def _read_hir(text: str, truth: CrateTruth, impls: dict[str, _Impl], source_files: set[str]) -> None:
    lines = text.split("\n")
    i = 0
    n = len(lines)
    while i < n:
        m = _OWNER_NODE.match(lines[i])
        if not m:
            i += 1
            continue
        node = m.group(1)
        # the owner's fields are indented one step below `Item {`
        j = i + 1
        body_indent = None
        path = None
        while j < n and j < i + 6:
            d = _DEFID.search(lines[j]) if "owner_id:" in lines[j] else None
            if d:
                path = defpath(d.group(3))
                body_indent = len(lines[j]) - len(lines[j].lstrip())
                break
            j += 1
        if path is None or body_indent is None:
            i += 1
            continue
        prefix = " " * body_indent
        k = j + 1
        span = None
        impl: _Impl | None = None
        mode = None
        while k < n:
            line = lines[k]
            if line.startswith(prefix + "kind: Impl("):
                impl = _Impl(None, None)
            elif line.startswith(prefix + "span: "):
                span = _SPAN.search(line)
                break
            elif impl is not None:
                stripped = line.strip()
                if stripped.startswith("trait_ref:"):
                    mode = "trait"
                elif stripped.startswith("self_ty:"):
                    mode = "self"
                elif stripped.startswith("items: ["):
                    mode = "items"
                elif mode == "trait_args" and impl.trait_arg is None and stripped in ("kind: Slice(", "Str,"):
                    impl.trait_arg = "[]" if stripped.startswith("kind") else "str"  # `From<&[u8]>`, `From<&str>`
                elif mode in ("trait", "trait_args", "self") and "DefId(" in stripped and "~" in stripped:
                    d = _DEFID.search(stripped)
                    if d and "HirId" not in stripped:
                        found = defpath(d.group(3))
                        if mode == "trait":
                            impl.trait, mode = found, "trait_args"
                        elif mode == "trait_args":
                            if found != impl.trait and "{impl#" not in found and impl.trait_arg is None:
                                impl.trait_arg = found.rsplit("::", 1)[-1]
                        else:
                            impl.self_ty = found
                            mode = None
                elif mode == "items" and "owner_id:" in stripped:
                    d = _DEFID.search(stripped)
                    if d:
                        item = defpath(d.group(3))
                        impl.items[item.rsplit("::", 1)[-1]] = item
            k += 1
        if impl is not None:
            impls[path] = impl
        name = path.rsplit("::", 1)[-1]
        if span is not None and span.group(6) == "0" and not name.startswith("{") and span.group(1) in source_files:
            truth.definitions.setdefault(path, Definition(path, span.group(1), int(span.group(2)), name, node))
        i = k + 1


def _generic_names(generics: str) -> list[str]:
    """The last path segment of each generic argument (the first is a trait method's Self type,
    the second the trait's first type parameter): `[Vec<u8, Global>, bytes::Bytes])` -> Vec, Bytes."""
    inner = generics.strip().removesuffix(")")  # the FnDef's own closing parenthesis
    if not inner.startswith("[") or not inner.endswith("]"):
        return []
    args, depth, cur = [], 0, ""
    for ch in inner[1:-1]:
        depth += {"<": 1, "(": 1, "[": 1, ">": -1, ")": -1, "]": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            args.append(cur)
            cur = ""
        else:
            cur += ch
    args.append(cur)
    names = []
    for arg in args:
        arg = re.sub(r"^(&('\S+ )?(mut )?)+", "", arg.strip()).split("<", 1)[0]
        names.append("[]" if arg.startswith("[") else arg.rsplit("::", 1)[-1])
    return names


def _read_thir(text: str, truth: CrateTruth, source_lines: dict[str, list[str]]) -> list[tuple[Use, list[str]]]:
    """Uses in bodies, each with the generic arguments' names of the callee (a trait method's Self
    type first, to find its impl)."""
    out: list[tuple[Use, list[str]]] = []
    caller = ""
    last_ty: tuple[str, str] | None = None  # (def path, generics) of the last FnDef type seen
    last_span: re.Match[str] | None = None
    fun_spans: set[tuple[str, int, int]] = set()
    pending_fun = False
    literals: list[tuple[str, str, re.Match[str], str]] = []
    for line in text.split("\n"):
        if line.startswith("DefId("):
            b = _BODY.match(line)
            if b:
                caller = defpath(b.group(3))
            continue
        s = line.lstrip()
        if s.startswith("ty: "):
            if s.startswith("ty: FnDef("):
                d = _DEFID.search(s)
                last_ty = (defpath(d.group(3)), s[d.end() :].lstrip(", ")) if d else None
            else:
                last_ty = None
        elif s.startswith("span: "):
            last_span = _SPAN.match(s)
            if pending_fun and last_span is not None:
                fun_spans.add((last_span.group(1), int(last_span.group(4)), int(last_span.group(5))))
                pending_fun = False
        elif s == "fun:":
            pending_fun = True
        elif s.startswith("ZstLiteral") and last_ty is not None and last_span is not None:
            literals.append((last_ty[0], last_ty[1], last_span, caller))
    for target, generics, span, body in literals:
        file = span.group(1)
        if span.group(6) != "0" or file not in source_lines:
            continue
        line_no, end_col = int(span.group(4)), int(span.group(5)) - 1
        text_line = source_lines[file][line_no - 1] if line_no <= len(source_lines[file]) else ""
        m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*(::\s*<[^()]*>)?\s*$", text_line[:end_col])
        if not m:
            continue
        name = m.group(1)
        target = re.sub(r"::\{constructor#\d+\}$", "", target)
        if name != target.rsplit("::", 1)[-1]:
            continue  # a call the compiler inserted: `&*self` as Deref::deref, `a + b` as Add::add
        call = (file, line_no, end_col + 1) in fun_spans
        out.append((Use(file, line_no, m.start(1), name, target, call, body), _generic_names(generics)))
    return out


def extract(root: Path, target_dir: Path) -> CrateTruth:
    """Dump every buildable target of the crate at `root` (built under `target_dir`) and read them."""
    root = root.resolve()
    truth = CrateTruth(str(root))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.rs") if "target" not in p.parts)
    source_lines = {f: (root / f).read_text(encoding="utf-8", errors="replace").split("\n") for f in files}
    targets: list[tuple[str, list[str]]] = [("lib", ["--lib"])]
    for test in sorted((root / "tests").glob("*.rs")) if (root / "tests").is_dir() else []:
        targets.append((f"test:{test.stem}", ["--test", test.stem]))
    impls: dict[str, _Impl] = {}
    pending: list[tuple[Use, list[str]]] = []
    for label, target in targets:
        try:
            hir = _dump(root, target, "hir-tree", target_dir)
            thir = _dump(root, target, "thir-tree", target_dir)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            truth.failed_targets[label] = str(exc)[:200]
            continue
        truth.targets.append(label)
        _read_hir(hir, truth, impls, set(files))
        pending.extend(_read_thir(thir, truth, source_lines))
    # `Trait::method` called on a concrete type with an impl here: that impl's method.
    # Several impls of one generic trait for one type (`From<Bytes> for Vec<u8>`, `From<BytesMut> for
    # Vec<u8>`) are told apart by the trait's type argument; one that cannot be told is not attributed.
    by_trait_self: dict[tuple[str, str], list[_Impl]] = {}
    for impl in impls.values():
        if impl.trait and impl.self_ty:
            by_trait_self.setdefault((impl.trait, impl.self_ty.rsplit("::", 1)[-1]), []).append(impl)
    # One definition compiled into several targets (tests/util/mod.rs in each test crate) is one
    # place: every def path is replaced by the first one naming that place.
    canonical: dict[tuple[str, int, str], str] = {}
    for d in truth.definitions.values():
        canonical.setdefault((d.file, d.line, d.name), d.path)
    alias = {p: canonical[(d.file, d.line, d.name)] for p, d in truth.definitions.items()}
    truth.definitions = {p: d for p, d in truth.definitions.items() if alias[p] == p}
    seen: set[tuple[str, int, int, str]] = set()
    for use, names in pending:
        trait, _, method = use.target.rpartition("::")
        found = by_trait_self.get((trait, names[0]), []) if names and names[0] else []
        if len(found) > 1:
            found = [i for i in found if len(names) > 1 and i.trait_arg == names[1]]
        impl = found[0] if len(found) == 1 else None
        if impl is not None and method in impl.items:
            use.target = impl.items[method]
            truth.trait_calls_to_impl += 1
        use.target = alias.get(use.target, use.target)
        use.caller = alias.get(use.caller, use.caller)
        key = (use.file, use.line, use.column, use.target)
        if key not in seen:
            seen.add(key)
            truth.uses.append(use)
    return truth


def load_truth(root: Path, cached: Path, target_dir: Path) -> CrateTruth:
    """The crate's truth, extracted once and kept in `cached` (outside the indexed root)."""
    if cached.exists():
        return CrateTruth.from_json(json.loads(cached.read_text()))
    truth = extract(root, target_dir)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(truth.to_json()))
    return truth


def main() -> None:
    root = Path(sys.argv[1])
    truth = extract(root, Path(sys.argv[2]) if len(sys.argv) > 2 else root / "target")
    inside = sum(u.target in truth.definitions for u in truth.uses)
    print(
        f"{root}: targets {truth.targets}, failed {truth.failed_targets}; {len(truth.definitions)} definitions, "
        f"{len(truth.uses)} uses ({sum(u.call for u in truth.uses)} calls), {inside} into the crate, "
        f"{truth.trait_calls_to_impl} trait calls attributed to an impl"
    )


if __name__ == "__main__":
    main()
