"""Progress bars on stderr for the command line, one per indexing stage, shown in turn."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm

_LABELS = {"discover": "discover", "parse": "parse+store", "resolve": "resolve", "embed": "embed"}
_UNITS = {"discover": "file", "parse": "file", "resolve": "step", "embed": "chunk"}


class ProgressBars:
    def __init__(self) -> None:
        self._stage: str | None = None
        self._bar: tqdm | None = None

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(
                total=total,
                desc=_LABELS.get(stage, stage),
                unit=_UNITS.get(stage, "item"),
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
        assert self._bar is not None
        if self._bar.total != total:
            self._bar.total = total
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
