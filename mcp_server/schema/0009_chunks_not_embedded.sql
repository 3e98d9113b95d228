-- Chunks the model does not read, on purpose (a later window of a long definition, an import
-- preamble: see index/chunk.py worth_a_vector). They stay searched by keyword and are never
-- counted as waiting for a vector. A constant default: no table rewrite.
ALTER TABLE chunks ADD COLUMN embed boolean NOT NULL DEFAULT true;
