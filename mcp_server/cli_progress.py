"""Progress on stderr for the command line: a bar per indexing stage on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO

from tqdm import tqdm

_LABELS = {"discover": "discover", "parse": "parse+store", "resolve": "resolve", "embed": "embed"}
_UNITS = {"discover": "file", "parse": "file", "resolve": "step", "embed": "chunk"}
# Discovery reports once, when it is done: a rate over that instant means nothing.
_NO_RATE = "{desc}: {n_fmt} {unit}s"
_LINE_SECONDS = 10.0  # in a log, a long stage says how far it got this often
LEXICAL_READY = (
    "keyword search and the graph work now; vectors follow for semantic search "
    "(Ctrl-C is safe: what is embedded is kept, and `pgcode index` again resumes)"
)


class ProgressBars:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._lines = not self._stream.isatty()
        self._stage: str | None = None
        self._bar: tqdm | None = None
        self._last_line = 0.0
        self._done = 0
        self._total = 0

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._last_line = time.monotonic()
            if stage == "embed":
                print(LEXICAL_READY, file=self._stream, flush=True)
            if not self._lines:
                self._bar = tqdm(
                    total=total,
                    desc=_LABELS.get(stage, stage),
                    unit=_UNITS.get(stage, "item"),
                    file=self._stream,
                    dynamic_ncols=True,
                    leave=True,
                    bar_format=_NO_RATE if stage == "discover" else None,
                )
        self._done, self._total = done, total
        if self._bar is not None:
            if self._bar.total != total:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        elif time.monotonic() - self._last_line >= _LINE_SECONDS and done < total:
            self._last_line = time.monotonic()
            self._line()

    def _line(self) -> None:
        stage = self._stage or ""
        unit = _UNITS.get(stage, "item")
        of = f" of {self._total:,}" if self._total and stage != "discover" else ""
        print(f"{_LABELS.get(stage, stage)}: {self._done:,}{of} {unit}s", file=self._stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._stage is not None:
            self._line()  # each stage ends on one line saying how much it did
        self._stage = None

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
