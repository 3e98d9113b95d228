"""The file watch over every owned root: raw events filtered, debounced and queued per repository."""

from __future__ import annotations

import os
import stat
from contextlib import aclosing
from functools import partial
from pathlib import Path

import anyio
import structlog
from anyio.abc import TaskStatus
from watchfiles import Change, awatch

from ..index.discover import BUILTIN_IGNORES, file_language, is_ignore_rules_file
from .core import IndexerCore
from .watched import utc_now

log = structlog.get_logger(__name__)

# Folder names `discover` always skips (built-in ignores without wildcards): their churn
# (npm install, a build) is dropped before it is even queued.
_SKIPPED_DIRS = frozenset(
    p.rstrip("/") for p in BUILTIN_IGNORES if p.endswith("/") and "*" not in p and "/" not in p.rstrip("/")
)
# Editors' swap, backup and lock files: never indexable, and written on every save.
_EDITOR_DEBRIS = (".swp", ".swx", ".swo", "~", ".tmp", ".orig")
# After replacing the file watch: time for the new one to be set up before the catch-up pass.
_SWITCH_SETTLE_SECONDS = 0.5


class FileEvents(IndexerCore):
    """Replaces the watch when the owned roots change, without a gap, and queues what it sees."""

    async def _watch_loop(self) -> None:
        """One file watch over every owned root, replaced whenever that set changes. The new watch is
        running before the old one stops, so no event falls between them."""
        live: set[anyio.Event] = set()
        async with anyio.create_task_group() as tg:
            tg.start_soon(_stop_on_cancel, live)
            current: tuple[Path, ...] = ()
            stop_current: anyio.Event | None = None
            while True:
                self._roots_changed = anyio.Event()
                roots = tuple(sorted({w.root for w in self._repos.values() if w.owned}))
                if roots != current or self._watch_failed:
                    if self._watch_failed:
                        self._watch_failed = False
                        await anyio.sleep(min(self.lease_retry_seconds, 5.0))
                    stop_next = anyio.Event()
                    if roots:
                        live.add(stop_next)
                        await tg.start(self._watch, roots, stop_next, live)
                    if stop_current is not None:
                        stop_current.set()
                        # A change can still slip between the watches: the old one drops what it
                        # was debouncing when stopped, and the new one sees nothing until its
                        # first wait sets it up. Once it surely runs, a pass over the kept roots
                        # (a stat per file) picks up whatever slipped through.
                        kept = set(current) & set(roots)
                        if kept:
                            tg.start_soon(self._catch_up_after_switch, kept)
                    current, stop_current = roots, stop_next
                for w in self._repos.values():
                    if w.owned and w.root in current:
                        w.covered.set()
                await self._roots_changed.wait()

    async def _catch_up_after_switch(self, roots: set[Path]) -> None:
        await anyio.sleep(_SWITCH_SETTLE_SECONDS)
        for w in self._repos.values():
            if w.owned and w.root in roots:
                w.full_pass = True
                w.wake.set()

    async def _watch(
        self,
        roots: tuple[Path, ...],
        stop: anyio.Event,
        live: set[anyio.Event],
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        started = False
        prefixes = tuple(str(root) + os.sep for root in roots)
        try:
            stream = awatch(
                *roots,
                watch_filter=partial(_worth_a_look, prefixes),
                debounce=self.debounce_ms,
                step=self.step_ms,
                stop_event=stop,
                rust_timeout=2_000,
                recursive=True,
                ignore_permission_denied=True,
            )
            async with aclosing(stream):
                # The watch is set up synchronously when the stream is first awaited, before this
                # task yields; so once `start` has returned, the new watch sees every change.
                task_status.started()
                started = True
                async for changes in stream:
                    self._dispatch(changes)
        except Exception as exc:
            log.warning("file_watch_failed", roots=[str(r) for r in roots], error=str(exc))
            for w in self._repos.values():
                if w.owned and w.root in roots:
                    w.record_error(f"watching files failed: {exc}")
            self._watch_failed = True
            self._roots_changed.set()
        finally:
            live.discard(stop)
            if not started:
                task_status.started()

    def _dispatch(self, changes: set[tuple[Change, str]]) -> None:
        now = utc_now()
        owned = [(w, str(w.root) + os.sep) for w in self._repos.values() if w.owned]
        queued: dict[int, set[str]] = {}
        for _change, path in changes:
            for w, prefix in owned:
                if not path.startswith(prefix):
                    continue
                rel = path[len(prefix) :].replace(os.sep, "/")
                if is_ignore_rules_file(rel):
                    w.full_pass = True  # which files are indexed may have changed anywhere
                else:
                    w.pending.add(rel)
                    queued.setdefault(w.repo.id, set()).add(rel)
                w.last_event_at = now
                w.wake.set()
        for repository_id, paths in queued.items():
            self.events.queued(repository_id, paths)


def _worth_a_look(prefixes: tuple[str, ...], change: Change, path: str) -> bool:
    """A cheap first filter, run for every raw event: the ignore rules proper are applied later, only
    to what passes. A deletion always passes: it may be a folder of indexed files."""
    rel = next((path[len(p) :] for p in prefixes if path.startswith(p)), None)
    if not rel:
        return False
    parts = rel.split(os.sep)
    name = parts[-1]
    if parts[0] == ".git":
        return rel == os.path.join(".git", "info", "exclude")
    if any(p in _SKIPPED_DIRS for p in parts[:-1]) or name.endswith(_EDITOR_DEBRIS):
        return False
    if change == Change.deleted:
        return True
    if file_language(name) is not None or is_ignore_rules_file(name):
        return True
    if change != Change.added:
        return False
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)  # a new folder: its files may predate its watch
    except OSError:
        return False


async def _stop_on_cancel(live: set[anyio.Event]) -> None:
    # awatch waits in a worker thread that a cancellation cannot interrupt; setting the stop events
    # makes that thread return within one step instead of at its timeout.
    try:
        await anyio.sleep_forever()
    finally:
        for stop in list(live):
            stop.set()
