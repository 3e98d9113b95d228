-- Half-precision vectors (pgvector halfvec, 2 bytes a dimension instead of 4), chosen per model
-- when its HNSW index is first made (settings.vector_type, db/vectors.py). A model's vectors live
-- in embedding or in embedding_half, never both. A nullable column and a NOT VALID check: no
-- table rewrite and no scan of the existing rows (they all have embedding).
ALTER TABLE vector_indexes ADD COLUMN vector_type text NOT NULL DEFAULT 'vector'
    CHECK (vector_type IN ('vector', 'halfvec'));
ALTER TABLE embeddings ALTER COLUMN embedding DROP NOT NULL;
ALTER TABLE embeddings ADD COLUMN embedding_half halfvec;
ALTER TABLE embeddings ADD CONSTRAINT embeddings_one_vector
    CHECK ((embedding IS NULL) <> (embedding_half IS NULL)) NOT VALID;
