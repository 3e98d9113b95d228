"""Structured results of the search and index tools (what the assistant receives as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    repository: str
    path: str = Field(description="repo-relative, POSIX")
    start_line: int = Field(description="1-based, inclusive")
    end_line: int
    symbol: str | None = Field(description="qualified name of the enclosing definition")
    kind: str | None
    language: str | None
    score: float
    snippet: str
    snippet_line: int = Field(description="the file line the snippet starts at")


class Freshness(BaseModel):
    vectors_complete: bool = Field(description="every matching chunk has a vector: semantic ranking saw everything")
    vectors_pending: int
    files_pending: int = Field(description="changed files waiting to be re-indexed")
    last_indexed_at: str | None
    notes: list[str] = []


class SearchResponse(BaseModel):
    results: list[SearchHit]
    mode: str
    freshness: Freshness


class GrepHit(BaseModel):
    repository: str
    path: str
    line: int
    text: str
    language: str | None


class GrepResponse(BaseModel):
    matches: list[GrepHit]
    truncated: bool
    freshness: Freshness


class CompilerPassInfo(BaseModel):
    """One SCIP indexer's pass over the repository (see the README's compiler pass)."""

    indexer: str
    state: str = Field(description="current | running | stale | unavailable | failed | off | pending")
    note: str = Field(description="the state in a sentence: what to install, the error, the files edited since")
    version: str | None = None
    finished_at: str | None = None
    stale_files: int = 0
    edges_confirmed: int = 0
    edges_corrected: int = 0
    edges_added: int = 0
    edges_dropped: int = 0
    seconds: float | None = None
    peak_rss_mb: float | None = None


class RepositoryInfo(BaseModel):
    repository: str
    root: str
    state: str
    indexed_at: str | None
    last_error: str | None
    files: int
    symbols: int
    edges: int
    edges_resolved: int
    chunks: int
    vectors: int
    vectors_pending: int
    skipped: dict[str, int]
    redacted: dict[str, int] = Field(
        default_factory=dict, description="files stored with secrets redacted, and secrets redacted in all"
    )
    watcher: str | None = Field(
        default=None,
        description="watching | catching_up | indexing | paused | owned_elsewhere | root_missing | stopped",
    )
    files_pending: int = 0
    paused: str | None = Field(
        default=None,
        description="why indexing or embedding waits (the database is unreachable "
        "or refuses writes) and how often it is retried; searches keep working meanwhile",
    )
    compiler: list[CompilerPassInfo] = Field(default_factory=list)


class RepositoryList(BaseModel):
    repositories: list[RepositoryInfo]
    replica_lag_seconds: float | None = Field(
        default=None,
        description="on a read-only server whose database is a streaming replica: how far it is behind "
        "its primary (0 when caught up); null on a primary",
    )
    notes: list[str] = []


class IndexResult(BaseModel):
    repository: str
    root: str
    files_seen: int
    files_indexed: int
    files_unchanged: int
    files_deleted: int
    skipped: dict[str, int]
    symbols: int
    edges: int
    chunks: int
    vectors_pending: int
    seconds: dict[str, float]
    note: str


class Removed(BaseModel):
    repository: str
    removed: bool
