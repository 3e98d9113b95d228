-- How far each model's embedding has reached in each repository: every chunk of the repository
-- with an id at or below through_chunk had a vector for the model when it was recorded. Counting
-- the chunk texts still waiting for a vector (asked by every search, for freshness) then reads only
-- the chunks above it, not the whole repository: seconds at a million chunks otherwise.
-- Chunk ids only grow and a chunk's text never changes (a re-stored file gets new rows), so the
-- mark stays true until vectors are deleted; whoever deletes vectors deletes the mark with them.
CREATE TABLE vector_progress (
    model          text NOT NULL,
    repository_id  integer NOT NULL REFERENCES repositories ON DELETE CASCADE,
    through_chunk  bigint NOT NULL,
    PRIMARY KEY (model, repository_id)
);
-- The chunks above the mark, and the embedder's pages, are ranges of (repository, id); the
-- (repository, content hash) index served the whole-repository count this replaces.
CREATE INDEX IF NOT EXISTS chunks_repo_id ON chunks (repository_id, id);
DROP INDEX IF EXISTS chunks_repo_hash;
