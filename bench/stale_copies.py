"""File-search corpora with an older copy of the library planted beside the live one (--stale-copies).

Repositories often carry a second, older copy of their own code: a `legacy/` or `old/` folder, a
copy kept as a backup, a pinned earlier release vendored under its own name. The
question is about the live code, and a search that ranks the old copy first (or fills its page
with both) sends the reader to code that no longer runs. Each plant below is a real earlier
release of the same library from PyPI (or, for the backup, the same release), unpacked under a
folder of the corpus; the annotations are unchanged, so every hit on the copy scores nothing.

    python bench/file_search.py --stale-copies --corpus requests --corpus click
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import corpora


@dataclass(frozen=True, slots=True)
class Plant:
    requirement: str  # the release copied in ("" = the corpus's own files, copied as they are)
    sdist_dir: str
    package: str  # the package folder inside the sdist (or, for "", inside the corpus)
    destination: str  # where the copy goes, relative to the corpus root


# One archive marker per corpus, and one copy with no marker at all (click7/: only which copy the
# rest of the repository imports can tell it from the live one). Werkzeug is held out.
PLANTS: dict[str, Plant] = {
    "requests": Plant("requests==2.25.1", "requests-2.25.1", "requests", "legacy/requests"),
    "click": Plant("click==7.1.2", "click-7.1.2", "src/click", "click7/click"),
    "httpx": Plant("", "", "httpx", "backup/httpx"),
    "werkzeug": Plant("Werkzeug==2.2.3", "Werkzeug-2.2.3", "src/werkzeug", "deprecated/werkzeug"),
}


def link_tree(src: Path, dst: Path, skip: tuple[str, ...] = (), suffixes: tuple[str, ...] = ()) -> None:
    """Hard-link (else copy) the files under src into dst, leaving out folders named in `skip`
    and files ending in one of `suffixes`."""
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for f in filenames:
            if f.endswith(suffixes) and suffixes:
                continue
            rel = Path(dirpath, f).relative_to(src)
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(Path(dirpath, f), dst / rel)
            except OSError:
                shutil.copy2(Path(dirpath, f), dst / rel)


def planted_root(name: str, live_root: Path) -> Path:
    """CACHE/file-search-stale/<name>: the live corpus hard-linked, with its plant's copy added."""
    plant = PLANTS[name]
    dst = corpora.CACHE / "file-search-stale" / name
    if (dst / ".complete").exists():
        return dst
    if dst.exists():
        shutil.rmtree(dst)
    link_tree(live_root, dst)
    if plant.requirement:
        old = corpora.Corpus(f"{name}-old", plant.requirement, plant.sdist_dir, plant.package)
        source = corpora.unpacked(old) / plant.package
    else:
        source = live_root / plant.package
    if not source.is_dir():
        raise SystemExit(f"{name}: no {source} to plant")
    link_tree(source, dst / plant.destination)
    (dst / ".complete").unlink(missing_ok=True)
    (dst / ".complete").write_text("ok\n")
    return dst
