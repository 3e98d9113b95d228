"""What the background indexer tells its subscribers (metrics, status) about queued paths and batches."""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol


class IndexerEvents(Protocol):
    """Called synchronously from the indexer's tasks: a subscriber must return at once and never raise."""

    def queued(self, repository_id: int, paths: Set[str]) -> None:
        """File changes under the repository's root were queued (relative paths; a path may repeat)."""

    def batch_started(self, repository_id: int, paths: Set[str]) -> None:
        """A batch took these queued paths (the whole queue) to index them."""

    def batch_done(self, repository_id: int, paths_done: Set[str], still_pending: Set[str]) -> None:
        """The batch ended, stored or not: `still_pending` is the queue now (re-queued and new edits)."""

    def dropped(self, repository_id: int) -> None:
        """The repository's queue was discarded: this process no longer indexes it."""


class NoEvents:
    """The subscriber when nobody listens."""

    def queued(self, repository_id: int, paths: Set[str]) -> None:
        pass

    def batch_started(self, repository_id: int, paths: Set[str]) -> None:
        pass

    def batch_done(self, repository_id: int, paths_done: Set[str], still_pending: Set[str]) -> None:
        pass

    def dropped(self, repository_id: int) -> None:
        pass
