-- Since when a repository's root folder has been missing (deleted, moved, unmounted), as noticed by
-- the watcher that indexes it; NULL while it is there. Every server reads it (read-only ones have no
-- watcher and often no access to the folders) to say that answers about it come from the last index.
ALTER TABLE repositories ADD COLUMN IF NOT EXISTS root_missing_since timestamptz;
-- A changed path's stale rows are the rows at it and under it: `path >= 'p/' AND path < 'p0'` in
-- byte order, an index range per path instead of a prefix test of every file of the repository
-- per path (seconds for a burst of 200 paths in a repository of 100,000 files).
CREATE INDEX IF NOT EXISTS files_repo_path_bytes ON files (repository_id, path COLLATE "C");
