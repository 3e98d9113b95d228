"""Benchmark corpora: pinned sdists from PyPI, downloaded with pip and unpacked once (cached).

Each corpus is one library's package folder only (no tests, docs or examples), copied into a root
folder of its own so its files keep their package paths (`requests/api.py` is module
`requests.api`, and absolute imports inside the package resolve):

    bench/corpora/<sdist>.tar.gz           what pip downloaded
    bench/corpora/src/<sdist folder>/      the unpacked sdist
    bench/corpora/roots/<corpus>/<pkg>/    the corpus: index bench/corpora/roots/<corpus>
    bench/corpora/<purpose>/<corpus>/      a benchmark's own hard-linked copy (private_root)

    python bench/corpora.py                 fetch every corpus, print roots and file counts
    python bench/corpora.py --corpus rich   just one

bench/corpora/ is git-ignored. Rich, httpx, click, starlette, itsdangerous and marshmallow are held out: report on them, never tune on them.
Corpora marked whole_tree are the whole sdist (tests, conftest.py, examples), indexed as a user would.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# PGCODE_BENCH_CORPORA lets several checkouts share one download cache.
CACHE = Path(os.environ.get("PGCODE_BENCH_CORPORA") or BENCH / "corpora").resolve()
RESULTS = BENCH / "results"
DEFAULT_DATA_DIR = BENCH / ".data"  # the benchmarks' own embedded PostgreSQL (never the user's index)


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str  # short name used on the command line and in results
    requirement: str  # pip requirement, pinned
    sdist_dir: str  # the top folder inside the sdist
    package: str  # the package folder inside the sdist, relative to sdist_dir
    held_out: bool = False
    # Index the whole sdist as a user would (tests, conftest.py fixtures, examples), not only the
    # package folder: the package alone left out test-style code, where most graph misses are.
    whole_tree: bool = False

    @property
    def package_name(self) -> str:
        return Path(self.package).name

    @property
    def version(self) -> str:
        return self.requirement.split("==", 1)[1]


# Pinned versions (all exist as sdists on PyPI). Rich is held out: the team must not tune on it.
CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus("requests", "requests==2.32.3", "requests-2.32.3", "src/requests"),
        Corpus("werkzeug", "Werkzeug==3.1.3", "werkzeug-3.1.3", "src/werkzeug"),
        Corpus("jinja2", "Jinja2==3.1.6", "jinja2-3.1.6", "src/jinja2"),
        Corpus("rich", "rich==13.9.4", "rich-13.9.4", "rich", held_out=True),
        Corpus("django", "Django==5.1.4", "Django-5.1.4", "django"),
        # Whole sdists with their test suites (issue 18). flask and attrs may be tuned on; httpx, click,
        # starlette and itsdangerous are held out: report on them, never tune on them.
        Corpus("httpx", "httpx==0.28.1", "httpx-0.28.1", "httpx", held_out=True, whole_tree=True),
        Corpus("flask", "flask==3.1.0", "flask-3.1.0", "src/flask", whole_tree=True),
        Corpus("attrs", "attrs==24.3.0", "attrs-24.3.0", "src/attr", whole_tree=True),
        Corpus("click", "click==8.1.8", "click-8.1.8", "src/click", held_out=True, whole_tree=True),
        Corpus("starlette", "starlette==0.41.3", "starlette-0.41.3", "starlette", held_out=True, whole_tree=True),
        Corpus(
            "itsdangerous",
            "itsdangerous==2.2.0",
            "itsdangerous-2.2.0",
            "src/itsdangerous",
            held_out=True,
            whole_tree=True,
        ),
        # Added later, held out from the start: never tuned on.
        Corpus(
            "marshmallow",
            "marshmallow==3.23.1",
            "marshmallow-3.23.1",
            "src/marshmallow",
            held_out=True,
            whole_tree=True,
        ),
    )
}
SMALL = ["requests", "werkzeug", "jinja2", "rich"]  # run first; Django last, alone

# The package folder as shipped (django/test/ is library code, not tests): only bytecode is left out.
_EXCLUDED_DIRS = {"__pycache__"}


def _sdist_archive(corpus: Corpus) -> Path | None:
    for candidate in CACHE.glob("*.tar.gz"):
        if candidate.name.lower() == f"{corpus.sdist_dir.lower()}.tar.gz":
            return candidate
    return None


def download(corpus: Corpus) -> Path:
    """The sdist archive, downloaded with pip unless already cached."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = _sdist_archive(corpus)
    if found is not None:
        return found
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "-q",
            corpus.requirement,
            "-d",
            str(CACHE),
        ],
        check=True,
    )
    found = _sdist_archive(corpus)
    if found is None:
        raise RuntimeError(f"pip downloaded no {corpus.sdist_dir}.tar.gz for {corpus.requirement} into {CACHE}")
    return found


def unpacked(corpus: Corpus) -> Path:
    """The unpacked sdist folder."""
    target = CACHE / "src" / corpus.sdist_dir
    if (target / ".complete").exists():
        return target
    archive = download(corpus)
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(target.parent, filter="data")
    (target / ".complete").write_text("ok\n")
    return target


def corpus_root(name: str) -> Path:
    """The folder to index for corpus `name`: it holds only the package folder (a copy)."""
    corpus = get(name)
    root = CACHE / "roots" / corpus.name
    if (root / ".complete").exists():
        return root
    source = unpacked(corpus) / corpus.package
    if not (source / "__init__.py").exists():
        raise RuntimeError(f"{source} is not a package folder; fix the Corpus entry for {name}")
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    ignore = lambda _dir, names: [n for n in names if n in _EXCLUDED_DIRS or n.endswith(".pyc")]  # noqa: E731
    if corpus.whole_tree:
        shutil.copytree(unpacked(corpus), root, ignore=ignore, dirs_exist_ok=True)
        (root / ".complete").unlink(missing_ok=True)  # the unpacked sdist's own marker
    else:
        shutil.copytree(source, root / corpus.package_name, ignore=ignore)
    (root / ".complete").write_text("ok\n")
    return root


def private_root(name: str, purpose: str) -> Path:
    """A benchmark's own copy of corpus `name` (hard links, so no extra space):
    bench/corpora/<purpose>/<corpus>. pgcode registers a folder under one repository name only,
    so benchmarks sharing a database each index their own copy."""
    root = CACHE / purpose / get(name).name
    if (root / ".complete").exists():
        return root
    source = corpus_root(name)
    if root.exists():
        shutil.rmtree(root)
    root.parent.mkdir(parents=True, exist_ok=True)

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, root, copy_function=link)
    return root


def import_roots(name: str, root: Path) -> list[Path]:
    """Where the corpus's packages import from: `src/` for a src-layout sdist, else the root."""
    corpus = get(name)
    parent = Path(corpus.package).parent
    return [root / parent] if corpus.whole_tree and str(parent) != "." else [root]


def python_files(root: Path) -> list[Path]:
    """The corpus's Python files, sorted (repo-relative order is stable across runs)."""
    return sorted(p for p in root.rglob("*.py") if p.is_file())


def get(name: str) -> Corpus:
    try:
        return CORPORA[name.lower()]
    except KeyError:
        raise SystemExit(f"unknown corpus {name!r}; choose from {', '.join(CORPORA)}") from None


def selected(names: list[str] | None, default: list[str] | None = None) -> list[Corpus]:
    return [get(n) for n in (names or default or list(CORPORA))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", help="a corpus name (repeatable); default all")
    args = parser.parse_args()
    for corpus in selected(args.corpus):
        root = corpus_root(corpus.name)
        files = python_files(root)
        lines = sum(p.read_bytes().count(b"\n") for p in files)
        held = "  (held out)" if corpus.held_out else ""
        print(f"{corpus.name:<10} {corpus.requirement:<18} {len(files):>5} .py files {lines:>8} lines  {root}{held}")


if __name__ == "__main__":
    main()
