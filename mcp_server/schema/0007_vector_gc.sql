-- Vectors no chunk uses, and since when (as first seen by the collector, indexer/vector_gc.py).
-- A vector is deleted once that is longer ago than vector_gc_grace_seconds, so an edit reverted
-- soon after still finds its old vectors; a row whose text is used again is forgotten.
-- Kept apart from embeddings: marking a vector there would write a new row version, and so a new
-- entry in the HNSW index, for every vector that goes out of use and for every one that comes back.
CREATE TABLE vector_orphans (
    model         text NOT NULL,
    content_hash  bytea NOT NULL,
    since         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, content_hash)
);
CREATE INDEX vector_orphans_since ON vector_orphans (since);
