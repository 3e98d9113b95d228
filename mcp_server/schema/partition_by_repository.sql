-- Optional, applied by hand and never by pgcode's migrations: hash-partition symbols, edges and chunks by repository_id.
--
-- Why: with many repositories and millions of chunks, per-repository work (re-indexing, removing
-- a repository, autovacuum, index builds) touches one partition instead of one huge table.
-- Cost: a lookup by id alone probes each partition's primary key. Worth it from ~10M chunks
-- spread over many repositories; below that, leave the tables alone.
--
-- Apply it one way only, with pgcode (stop every writer first: `pgcode worker` and writable servers;
-- read-only servers may stay, they wait on the table locks for the few seconds to minutes the move takes):
--   pgcode --database-url postgresql://pgcode_writer:...@db/pgcode db partition --partitions 8
-- which runs this file and pg_temp.pgcode_partition_by_repository(N) in one transaction, refuses
-- tables already partitioned, then ANALYZEs them. As the tables' owner (pgcode_writer) or a
-- superuser; owner and privileges are kept. When and how many: deploy/README.md, "Partitioning".
--
-- What changes, and why:
-- * A partitioned table's primary key, like any unique index on it, must contain the partition
--   key: the primary keys become (repository_id, id). id is still unique on its own in practice:
--   it still comes from one sequence per table (a plain sequence owned by the column, because
--   identity columns on partitioned tables need PostgreSQL 17 and pgcode supports 15).
-- * So nothing unique is left on id alone, and foreign keys to symbols become composite:
--   (repository_id, parent_id / source_id / target_id / symbol_id) -> symbols (repository_id, id).
--   An edge, its symbols and a chunk's symbol are always in one repository, so they hold.
--   ON DELETE SET NULL becomes SET NULL (target_id): only the id is cleared (PostgreSQL >= 15).
-- * Foreign keys to files (not partitioned) are kept as they were. Every other index is created
--   again on the partitioned table (PostgreSQL builds one per partition).
-- * Later migrations keep working: ALTER TABLE and CREATE INDEX on a partitioned table reach every
--   partition (but CREATE INDEX CONCURRENTLY is refused on a partitioned table).
-- Undo: pg_dump --data-only this database and restore it into a freshly migrated one.

CREATE OR REPLACE FUNCTION pg_temp.pgcode_partition_by_repository(partitions integer) RETURNS void
LANGUAGE plpgsql AS $partition$
DECLARE
    names constant text[] := ARRAY['symbols', 'edges', 'chunks'];
    tables regclass[] := ARRAY['public.symbols', 'public.edges', 'public.chunks']::regclass[];
    t text;
    old_name text;
    owner_name text;
    pkey text;
    acl aclitem[];
    grant_row record;
    r record;
    last_id bigint;
    indexes text[] := '{}';
    foreign_keys text[] := '{}';
    stmt text;
    col text;
    ref_col text;
    on_delete text;
    i integer;
BEGIN
    IF partitions IS NULL OR partitions < 1 OR partitions > 1024 THEN
        RAISE EXCEPTION 'partitions must be between 1 and 1024, not %', partitions;
    END IF;
    IF EXISTS (SELECT FROM pg_class WHERE oid = ANY (tables) AND relkind = 'p') THEN
        RAISE EXCEPTION 'symbols, edges and chunks are partitioned already';
    END IF;
    -- files too: its rows are what the foreign keys are checked against while the others move.
    LOCK TABLE public.files, public.symbols, public.edges, public.chunks IN ACCESS EXCLUSIVE MODE;

    FOR r IN SELECT conname, conrelid::regclass AS source FROM pg_constraint
             WHERE contype = 'f' AND confrelid = ANY (tables) AND conrelid <> ALL (tables) LOOP
        RAISE EXCEPTION 'foreign key % on % points into a table to be partitioned; it cannot be kept', r.conname, r.source;
    END LOOP;
    FOR r IN SELECT ic.relname AS index_name FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid
             WHERE x.indrelid = ANY (tables) AND x.indisunique AND NOT x.indisprimary
               AND NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = x.indrelid
                               AND a.attname = 'repository_id' AND a.attnum = ANY (x.indkey)) LOOP
        RAISE EXCEPTION 'unique index % lacks repository_id: a partitioned table cannot enforce it', r.index_name;
    END LOOP;
    FOR r IN SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
             WHERE c.oid = ANY (tables) AND a.attname = 'id' AND a.attidentity = '' LOOP
        RAISE EXCEPTION '%.id is not an identity column: this script only knows pgcode''s own schema', r.relname;
    END LOOP;

    -- 1. Remember every index but the primary keys, and every foreign key, rewritten where it
    --    points at a table being partitioned; then drop the foreign keys (they are re-created last).
    FOR r IN SELECT pg_get_indexdef(x.indexrelid) AS def FROM pg_index x
             WHERE x.indrelid = ANY (tables) AND NOT x.indisprimary ORDER BY x.indexrelid LOOP
        indexes := indexes || r.def;
    END LOOP;
    FOR r IN SELECT c.conname, c.conrelid, c.confrelid, c.conkey, c.confkey, c.confdeltype, c.confupdtype,
                    src.relname AS source, dst.relname AS target, pg_get_constraintdef(c.oid) AS def
             FROM pg_constraint c
             JOIN pg_class src ON src.oid = c.conrelid
             JOIN pg_class dst ON dst.oid = c.confrelid
             WHERE c.contype = 'f' AND c.conrelid = ANY (tables)
             ORDER BY src.relname, c.conname LOOP
        IF r.confrelid = ANY (tables) THEN
            IF cardinality(r.conkey) <> 1 OR r.confupdtype <> 'a' THEN
                RAISE EXCEPTION 'foreign key % on % is not the single-column kind pgcode creates', r.conname, r.source;
            END IF;
            SELECT attname INTO col FROM pg_attribute WHERE attrelid = r.conrelid AND attnum = r.conkey[1];
            SELECT attname INTO ref_col FROM pg_attribute WHERE attrelid = r.confrelid AND attnum = r.confkey[1];
            on_delete := CASE r.confdeltype
                WHEN 'c' THEN ' ON DELETE CASCADE'
                WHEN 'n' THEN format(' ON DELETE SET NULL (%I)', col)
                WHEN 'd' THEN format(' ON DELETE SET DEFAULT (%I)', col)
                WHEN 'r' THEN ' ON DELETE RESTRICT'
                ELSE '' END;
            foreign_keys := foreign_keys || format(
                'ALTER TABLE public.%I ADD CONSTRAINT %I FOREIGN KEY (repository_id, %I) REFERENCES public.%I (repository_id, %I)%s',
                r.source, r.conname, col, r.target, ref_col, on_delete);
        ELSE
            foreign_keys := foreign_keys || format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', r.source, r.conname, r.def);
        END IF;
        EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT %I', r.source, r.conname);
    END LOOP;

    -- 2. Each table: move it aside, create the partitioned one, move the rows, drop the old one.
    FOREACH t IN ARRAY names LOOP
        old_name := t || '_unpartitioned';
        SELECT pg_get_userbyid(c.relowner), c.relacl INTO owner_name, acl FROM pg_class c WHERE c.oid = format('public.%I', t)::regclass;
        SELECT conname INTO pkey FROM pg_constraint WHERE conrelid = format('public.%I', t)::regclass AND contype = 'p';
        EXECUTE format('ALTER TABLE public.%I RENAME TO %I', t, old_name);
        IF pkey IS NOT NULL THEN
            EXECUTE format('ALTER TABLE public.%I RENAME CONSTRAINT %I TO %I', old_name, pkey, old_name || '_pkey');
        END IF;

        -- The identity's sequence goes with DROP IDENTITY; a plain one of the same name takes over
        -- where it stopped (store.py finds it with pg_get_serial_sequence, as before).
        EXECUTE format('SELECT last_value FROM %s', pg_get_serial_sequence(format('public.%I', old_name), 'id')) INTO last_id;
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN id DROP IDENTITY', old_name);
        EXECUTE format('CREATE SEQUENCE public.%I AS bigint', t || '_id_seq');
        EXECUTE format('SELECT setval(%L, GREATEST(%s, (SELECT coalesce(max(id), 0) FROM public.%I), 1))',
                       format('public.%I', t || '_id_seq'), last_id, old_name);

        EXECUTE format('CREATE TABLE public.%I (LIKE public.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE'
                       ' INCLUDING COMMENTS INCLUDING COMPRESSION INCLUDING GENERATED) PARTITION BY HASH (repository_id)',
                       t, old_name);
        EXECUTE format('ALTER TABLE public.%I ALTER COLUMN id SET DEFAULT nextval(%L::regclass)', t, format('public.%I', t || '_id_seq'));
        EXECUTE format('ALTER SEQUENCE public.%I OWNED BY public.%I.id', t || '_id_seq', t);
        EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I PRIMARY KEY (repository_id, id)', t, coalesce(pkey, t || '_pkey'));
        FOR i IN 0 .. partitions - 1 LOOP
            EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                           t || '_p' || i, t, partitions, i);
            EXECUTE format('ALTER TABLE public.%I OWNER TO %I', t || '_p' || i, owner_name);
        END LOOP;
        EXECUTE format('INSERT INTO public.%I SELECT * FROM public.%I', t, old_name);
        EXECUTE format('DROP TABLE public.%I', old_name);

        EXECUTE format('ALTER TABLE public.%I OWNER TO %I', t, owner_name);
        EXECUTE format('ALTER SEQUENCE public.%I OWNER TO %I', t || '_id_seq', owner_name);
        -- The privileges of the old table (pgcode_reader's SELECT, from roles.sql) carry over.
        -- (A NULL or empty ACL means the owner's default privileges only: nothing to copy.)
        IF cardinality(acl) > 0 THEN
            FOR grant_row IN SELECT a.grantee, a.privilege_type FROM aclexplode(acl) a
                             WHERE a.grantee <> (SELECT oid FROM pg_roles WHERE rolname = owner_name) LOOP
                IF grant_row.grantee = 0 THEN
                    EXECUTE format('GRANT %s ON public.%I TO PUBLIC', grant_row.privilege_type, t);
                ELSE
                    EXECUTE format('GRANT %s ON public.%I TO %I', grant_row.privilege_type, t,
                                   pg_get_userbyid(grant_row.grantee));
                END IF;
            END LOOP;
        END IF;
    END LOOP;

    -- 3. Indexes, then the foreign keys (validated against the moved rows).
    FOREACH stmt IN ARRAY indexes LOOP
        EXECUTE stmt;
    END LOOP;
    FOREACH stmt IN ARRAY foreign_keys LOOP
        EXECUTE stmt;
    END LOOP;
END
$partition$;
