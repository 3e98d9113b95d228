"""Progress bars on stderr for the command line, one per indexing stage."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

_LABELS = {"discover": "discover", "parse": "parse+store", "resolve": "resolve", "embed": "embed"}


class ProgressBars:
    def __init__(self) -> None:
        self._bars: dict[str, tqdm] = {}

    def update(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None:
            bar = tqdm(total=total, desc=_LABELS.get(stage, stage), unit="file" if stage != "embed" else "chunk",
                       file=sys.stderr, dynamic_ncols=True, leave=True)
            self._bars[stage] = bar
        if bar.total != total:
            bar.total = total
        bar.n = done
        bar.refresh()

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for bar in self._bars.values():
            bar.close()
