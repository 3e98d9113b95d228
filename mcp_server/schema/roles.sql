-- pgcode's database roles (an administrator's script, not a migration): pgcode_writer creates and owns the schema, pgcode_reader may only read.
--
-- Run as a superuser connected to the pgcode database, before the first migration:
--   pgcode --database-url postgresql://postgres@db/pgcode db roles      (passwords from
--       PGCODE_WRITER_PASSWORD / PGCODE_READER_PASSWORD if set)
--   psql -X -v ON_ERROR_STOP=1 -d pgcode -f roles.sql                   (then ALTER ROLE ... PASSWORD)
-- deploy/postgres/init/01-roles.sql carries this file verbatim, plus the passwords.
-- Safe to re-run: roles are created if missing; settings and grants are applied again (which
-- also repairs grants on tables created by another role, e.g. after a restore).
--
-- pgcode_writer: `pgcode worker` / `pgcode index` connect as it, directly to PostgreSQL (the
--   indexing leases are session-level advisory locks: never through transaction pooling). It runs
--   the migrations, so it owns every table; it needs CREATE on schema public.
-- pgcode_reader: `pgcode serve --read-only` connects as it (through PgBouncer or to a replica):
--   SELECT on every table, now and later; read-only transactions; statement_timeout per role,
--   because PgBouncer in transaction mode cannot pass it as a startup parameter.

-- Extensions need a superuser (or a trusted extension); the migrations' own
-- CREATE EXTENSION IF NOT EXISTS then finds them and needs no privilege.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgcode_writer') THEN
        CREATE ROLE pgcode_writer;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgcode_reader') THEN
        CREATE ROLE pgcode_reader;
    END IF;
END
$roles$;

ALTER ROLE pgcode_writer WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
ALTER ROLE pgcode_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;

-- Nobody but the writer creates objects in public (already so on PostgreSQL >= 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

DO $grants$
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO pgcode_writer', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO pgcode_reader', current_database());
END
$grants$;
GRANT USAGE, CREATE ON SCHEMA public TO pgcode_writer;
GRANT USAGE ON SCHEMA public TO pgcode_reader;

-- Tables created before this script ran (e.g. migrated by a superuser): hand them to the writer
-- (their sequences follow), so it can migrate them later.
DO $owners$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
               AND pg_get_userbyid(c.relowner) <> 'pgcode_writer'
               AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO pgcode_writer', r.relname);
    END LOOP;
END
$owners$;

-- Reader: read what exists now and whatever the writer creates later; nothing else.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgcode_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE pgcode_writer IN SCHEMA public GRANT SELECT ON TABLES TO pgcode_reader;
ALTER ROLE pgcode_reader SET default_transaction_read_only = on;
ALTER ROLE pgcode_reader SET statement_timeout = '30s';
ALTER ROLE pgcode_reader SET idle_in_transaction_session_timeout = '60s';
