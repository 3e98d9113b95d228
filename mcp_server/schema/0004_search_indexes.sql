-- Indexes for the search hot path.
-- Vectors pending for a repository (asked on every search, for freshness) becomes an index-only
-- scan of (repository, content hash) instead of a sequential read of every chunk's text; the
-- same index serves every lookup by repository, so the old one goes.
CREATE INDEX IF NOT EXISTS chunks_repo_hash ON chunks (repository_id, content_hash);
DROP INDEX IF EXISTS chunks_repo;
-- Symbol names are matched case-insensitively; the trigram index cannot serve `= ANY(...)`.
CREATE INDEX IF NOT EXISTS symbols_lower_name ON symbols (lower(name));
