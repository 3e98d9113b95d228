"""One repository as the background indexer sees it: its state, its status, and the database trouble it waits out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import anyio
import structlog

from ..db.catalog import Repository
from ..db.refusals import write_refusal
from ..errors import DatabaseUnavailable
from .lease import CONNECTION_ERRORS

log = structlog.get_logger(__name__)

STATES = ("watching", "catching_up", "indexing", "paused", "owned_elsewhere", "root_missing", "stopped")

MAX_BACKOFF = 30.0
# A paused repository is retried at most this far apart: once the database takes writes again, the
# queued edits should not wait long, and a retry costs one failed write.
MAX_PAUSE = 15.0
DB_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, DatabaseUnavailable)


@dataclass(frozen=True, slots=True)
class WatchStatus:
    repository_id: int
    state: str  # one of STATES
    owner: str | None  # hostname:pid of the process that indexes it, if known
    files_pending: int  # changed paths queued or being indexed, not yet stored
    last_event_at: datetime | None  # last file change seen by this process
    last_indexed_at: datetime | None  # end of this process's last successful batch or pass
    vectors_pending: int | None  # chunk texts without a vector, as of the last embedding run
    errors: str | None  # the last error met while indexing it (it did not stop the watcher)
    error_at: datetime | None
    skipped: dict[str, int] = field(default_factory=dict)  # files it could not index, by reason
    paused: str | None = None  # why indexing or embedding waits, and how often it is retried


@dataclass(frozen=True, slots=True)
class Trouble:
    """A state of the database worth waiting out: `kind` tells states apart for logging (once per
    change, not per retry whose message differs); `sentence` is what the status shows."""

    kind: str
    sentence: str


@dataclass(slots=True)
class Watched:
    """One repository as this process sees it."""

    repo: Repository
    root: Path
    state: str = "stopped"
    owner: str | None = None
    owned: bool = False
    pending: set[str] = field(default_factory=set)
    in_flight: int = 0
    full_pass: bool = False  # a whole incremental pass is due: catch-up, ignore rules changed, a burst
    wake: anyio.Event = field(default_factory=anyio.Event)
    covered: anyio.Event = field(default_factory=anyio.Event)  # set once a file watch includes the root
    worker: anyio.CancelScope | None = None
    last_event_at: datetime | None = None
    last_indexed_at: datetime | None = None
    vectors_pending: int | None = None
    error: str | None = None
    error_at: datetime | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    held_off: Trouble | None = None  # why indexing waits: the database is unreachable or refuses writes
    held_off_since: datetime | None = None
    retry_in: float = 0.0
    embed_held_off: Trouble | None = None  # the same for vectors
    root_missing_recorded: bool = False  # the repositories table says its root is missing

    def status(self) -> WatchStatus:
        return WatchStatus(
            self.repo.id,
            self.state,
            self.owner,
            len(self.pending) + self.in_flight,
            self.last_event_at,
            self.last_indexed_at,
            self.vectors_pending,
            self.error,
            self.error_at,
            dict(self.skipped),
            self.paused_note(),
        )

    def paused_note(self) -> str | None:
        if self.held_off is not None:
            since = f" since {self.held_off_since:%H:%M:%S} UTC" if self.held_off_since else ""
            return (
                f"indexing paused{since}: {self.held_off.sentence}; retrying every {self.retry_in:g} s; "
                "searches keep answering from the index as it was"
            )
        if self.embed_held_off is not None:
            return (
                f"vectors paused: {self.embed_held_off.sentence}; retrying with backoff; "
                "keyword and graph search are current"
            )
        return None

    def record_error(self, message: str) -> None:
        self.error = message
        self.error_at = utc_now()

    def hold_off(self, why: Trouble, retry_in: float) -> None:
        """Indexing waits for the database; logged when the kind of trouble changes, not on every retry."""
        if self.held_off is None or why.kind != self.held_off.kind:
            log.warning("indexing_paused", repository=self.repo.name, reason=why.sentence, retry_in=retry_in)
            if self.held_off is None:
                self.held_off_since = utc_now()
        self.held_off, self.retry_in = why, retry_in
        self.record_error(why.sentence)

    def resume(self) -> None:
        if self.held_off is not None:
            log.warning("indexing_resumed", repository=self.repo.name, after=self.held_off.sentence)
        self.held_off = self.held_off_since = None
        self.retry_in = 0.0


def held_off_by(exc: BaseException) -> Trouble | None:
    """Why a failure is one to wait out (the database is unreachable, or refuses writes for now);
    None for any other failure."""
    if isinstance(exc, DB_ERRORS):
        return Trouble("unreachable", f"the database is not reachable ({type(exc).__name__}: {exc})")
    refusal = write_refusal(exc)
    return None if refusal is None else Trouble(refusal.sqlstate, str(refusal))


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def utc_now() -> datetime:
    return datetime.now(UTC)
