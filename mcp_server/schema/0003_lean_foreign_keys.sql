-- Drop foreign keys that only repeat what a cascade already guarantees: deleting a repository
-- deletes its files, a file its symbols and chunks, a symbol its edges. Each of these checks cost
-- an index probe per inserted row (four per edge), a large share of a cold index's store time.
ALTER TABLE symbols DROP CONSTRAINT IF EXISTS symbols_repository_id_fkey;
ALTER TABLE edges DROP CONSTRAINT IF EXISTS edges_repository_id_fkey;
ALTER TABLE edges DROP CONSTRAINT IF EXISTS edges_file_id_fkey;
ALTER TABLE chunks DROP CONSTRAINT IF EXISTS chunks_repository_id_fkey;
