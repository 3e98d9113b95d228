-- Creates pgcode's roles in the current database: pgcode_writer (creates and owns the schema objects) and pgcode_reader (SELECT only).
--
-- The product ships no role SQL (mcp_server/schema/ holds only the table migrations), so this is it.
-- Docker: mounted into /docker-entrypoint-initdb.d, run once by the postgres image when the data
-- volume is first created, with the passwords from the container's environment.
-- Elsewhere, as a superuser connected to the pgcode database:
--   PGCODE_WRITER_PASSWORD=... PGCODE_READER_PASSWORD=... psql -d pgcode -f 01-roles.sql
-- Safe to re-run: roles are created if missing; passwords, settings and grants are re-applied
-- (re-running also repairs grants on tables created by another role).
--
-- pgcode_writer: `pgcode worker` / `pgcode index` connect as it, directly to PostgreSQL. It runs
--   the migrations, so it owns every table; it needs CREATE on schema public.
-- pgcode_reader: `pgcode serve --read-only` connects as it (through PgBouncer, or to a replica).
--   SELECT on everything the writer creates, read-only transactions by default.
-- Passwords are sent in ALTER ROLE and stored as SCRAM-SHA-256 hashes (password_encryption's
-- default); don't run this with log_statement = 'all'. Use hex passwords (openssl rand -hex 24)
-- so they can sit in a URL unescaped.

\set ON_ERROR_STOP on
\getenv writer_password PGCODE_WRITER_PASSWORD
\getenv reader_password PGCODE_READER_PASSWORD

\if :{?writer_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'set PGCODE_WRITER_PASSWORD in the environment of psql'; END $$;
\endif
\if :{?reader_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'set PGCODE_READER_PASSWORD in the environment of psql'; END $$;
\endif
SELECT length(:'writer_password') >= 8 AND length(:'reader_password') >= 8 AS passwords_ok \gset
\if :passwords_ok
\else
DO $$ BEGIN RAISE EXCEPTION 'PGCODE_WRITER_PASSWORD and PGCODE_READER_PASSWORD must have 8 characters or more'; END $$;
\endif

-- Extensions need a superuser (or a trusted extension); the migrations' own
-- CREATE EXTENSION IF NOT EXISTS then finds them and needs no privilege.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

SELECT 'CREATE ROLE pgcode_writer' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgcode_writer') \gexec
SELECT 'CREATE ROLE pgcode_reader' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pgcode_reader') \gexec

ALTER ROLE pgcode_writer WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'writer_password';
ALTER ROLE pgcode_reader WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'reader_password';

-- Nobody but the writer creates objects in public (already so on PostgreSQL >= 15).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Writer: connect, create the tables (it then owns them), temporary tables.
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO pgcode_writer', current_database()) \gexec
GRANT USAGE, CREATE ON SCHEMA public TO pgcode_writer;

-- Reader: connect and read what exists now and whatever the writer creates later.
SELECT format('GRANT CONNECT ON DATABASE %I TO pgcode_reader', current_database()) \gexec
GRANT USAGE ON SCHEMA public TO pgcode_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgcode_reader;
ALTER DEFAULT PRIVILEGES FOR ROLE pgcode_writer IN SCHEMA public GRANT SELECT ON TABLES TO pgcode_reader;

-- Tables created before this script ran (e.g. by a superuser): hand them to the writer.
SELECT format('ALTER TABLE public.%I OWNER TO pgcode_writer', c.relname)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND pg_get_userbyid(c.relowner) <> 'pgcode_writer'
  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') \gexec
GRANT SELECT ON ALL TABLES IN SCHEMA public TO pgcode_reader;

-- Settings PgBouncer cannot carry as startup parameters in transaction mode (see
-- deploy/pgbouncer/pgbouncer.ini): applied per role at login instead.
ALTER ROLE pgcode_reader SET default_transaction_read_only = on;
ALTER ROLE pgcode_reader SET statement_timeout = '30s';
ALTER ROLE pgcode_reader SET idle_in_transaction_session_timeout = '60s';
