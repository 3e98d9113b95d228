"""Which SCIP indexers pgcode runs, for which languages, and where each is found on this machine."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ...config import Settings


@dataclass(frozen=True, slots=True)
class Indexer:
    name: str  # the command, and the compiler_passes key
    package: str  # the npm package that installs it
    version: str  # the release pgcode is tested with
    languages: frozenset[str]  # pgcode's language names whose files it reads
    setting: str  # the Settings field naming its executable

    def install_hint(self) -> str:
        return (
            f"install {self.package} (npm install -g {self.package}@{self.version}) "
            f"or set {self.setting} to its {self.name} executable"
        )


SCIP_TYPESCRIPT = Indexer(
    "scip-typescript",
    "@sourcegraph/scip-typescript",
    "0.4.0",
    frozenset({"typescript", "tsx", "javascript"}),
    "scip_typescript",
)
SCIP_PYTHON = Indexer(
    "scip-python",
    "@sourcegraph/scip-python",
    "0.6.6",
    frozenset({"python"}),
    "scip_python",
)
INDEXERS = (SCIP_TYPESCRIPT, SCIP_PYTHON)
BY_NAME = {i.name: i for i in INDEXERS}


def for_languages(languages: set[str]) -> list[Indexer]:
    """The indexers that read any of these languages' files."""
    return [i for i in INDEXERS if i.languages & languages]


def locate(indexer: Indexer, settings: Settings) -> Path | None:
    """The indexer's executable: the setting naming it, else PATH, else a copy npm installed under
    the cache dir (`npm install --prefix CACHE_DIR/scip PACKAGE`). None when there is none."""
    named = str(getattr(settings, indexer.setting) or "")
    if named:
        path = Path(named).expanduser()
        return path if _runnable(path) else None
    found = shutil.which(indexer.name)
    if found:
        return Path(found)
    cached = settings.cache_dir / "scip" / "node_modules" / ".bin" / indexer.name
    return cached if _runnable(cached) else None


def _runnable(path: Path) -> bool:
    try:
        return path.is_file() and os.access(path, os.X_OK)
    except OSError:
        return False
