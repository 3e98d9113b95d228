#!/usr/bin/env bash
# Restores a pgcode dump (from backup.sh) into a target database, creating it if missing, then verifies the result.
set -euo pipefail

readonly EXIT_USAGE=2 EXIT_TOOLS=3 EXIT_RESTORE=4 EXIT_VERIFY=5

usage() {
  cat <<'EOF'
Usage: restore.sh [-a ADMIN_URL] [-j JOBS] DUMP_FILE [TARGET_URL]

Restore DUMP_FILE (pg_dump -Fc, e.g. from backup.sh) into the database TARGET_URL names:
create that database if it does not exist, replace the objects the dump contains
(pg_restore --clean --if-exists --no-owner --no-privileges), then verify: the migrations
table is there, every HNSW index pgcode recorded exists and is valid, and the row counts of
repositories/files/symbols/edges/chunks/embeddings are printed on stdout.

  TARGET_URL    the database to restore into (default: $PGCODE_DATABASE_URL); a libpq URI
                or key=value string, e.g. postgresql://postgres:PASSWORD@db:5432/pgcode or
                postgresql://postgres:@/pgcode_restored?host=/tmp/socket-dir (Unix socket)
  -a ADMIN_URL  where to run CREATE DATABASE (default: TARGET_URL with the database name
                replaced by "postgres")
  -j JOBS       restore with JOBS parallel jobs (faster for big dumps, but not in a single
                transaction: a failure can leave a partial restore). Default: one
                transaction, so a failed restore leaves the target as it was.
  -h            show this help

Connect as a superuser (the dump creates the vector and pg_trgm extensions). Objects end up
owned by the restoring role and without grants: afterwards run
deploy/postgres/init/01-roles.sql against the target to give the tables to pgcode_writer and
SELECT to pgcode_reader. Restoring rebuilds the HNSW index: give the session memory for it,
e.g. PGOPTIONS='-c maintenance_work_mem=4GB' (see deploy/postgres/postgresql-*.conf).

Environment:
  PG_BIN        directory holding pg_restore/psql (default: whatever is on PATH), of the
                server's major version or newer
  PGPASSWORD, PGOPTIONS, PGSSLMODE, ...  any libpq variable

Exit codes: 0 restored and verified; 2 usage error; 3 pg_restore/psql missing or the server
unreachable; 4 restore failed; 5 restored but verification failed.
EOF
}

log() { printf 'restore: %s\n' "$*" >&2; }
die() { local code=$1; shift; log "error: $*"; exit "$code"; }
redact() { sed -E 's#(://[^:/@?]*):[^@/?]*@#\1:***@#; s#(password=)[^ ]*#\1***#' <<<"$1"; }

admin_url=""
jobs=""
while getopts ":a:j:h" opt; do
  case $opt in
    a) admin_url=$OPTARG ;;
    j) jobs=$OPTARG ;;
    h) usage; exit 0 ;;
    :) usage >&2; die "$EXIT_USAGE" "option -$OPTARG needs a value" ;;
    *) usage >&2; die "$EXIT_USAGE" "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -ge 1 && $# -le 2 ]] || { usage >&2; die "$EXIT_USAGE" "expected DUMP_FILE [TARGET_URL]"; }
dump=$1
target=${2:-${PGCODE_DATABASE_URL:-}}
[[ -f $dump && -r $dump ]] || die "$EXIT_USAGE" "dump file $dump does not exist or is not readable"
[[ -n $target ]] || { usage >&2; die "$EXIT_USAGE" "no target: pass TARGET_URL or set PGCODE_DATABASE_URL"; }
if [[ -n $jobs && ! $jobs =~ ^[1-9][0-9]*$ ]]; then
  die "$EXIT_USAGE" "-j expects a positive number of jobs, got '$jobs'"
fi

tool() {
  local found
  if [[ -n ${PG_BIN:-} ]]; then
    found=$PG_BIN/$1
    [[ -x $found ]] || die "$EXIT_TOOLS" "$1 not found in PG_BIN=$PG_BIN"
  else
    found=$(command -v "$1") || die "$EXIT_TOOLS" "$1 not on PATH: install the PostgreSQL client or set PG_BIN"
  fi
  printf '%s\n' "$found"
}
pg_restore=$(tool pg_restore)
psql=$(tool psql)

# The target database's name, and an admin URL on the same server: the URI's path (or the
# dbname= keyword) names the database; percent-escapes are decoded.
uri_re='^(postgres(ql)?://[^/?]*)(/([^?]*))?(\?.*)?$'
if [[ $target =~ $uri_re ]]; then
  db_name=${BASH_REMATCH[4]}
  default_admin="${BASH_REMATCH[1]}/postgres${BASH_REMATCH[5]}"
elif [[ $target =~ (^|[[:space:]])dbname=([^[:space:]]+) ]]; then
  db_name=${BASH_REMATCH[2]}
  default_admin=$(sed -E 's/(^|[[:space:]])dbname=[^[:space:]]+/\1dbname=postgres/' <<<"$target")
else
  die "$EXIT_USAGE" "cannot find the database name in $(redact "$target"): give a URI with /DBNAME or dbname=DBNAME"
fi
db_name=$(printf '%b' "${db_name//%/\\x}")
[[ -n $db_name ]] || die "$EXIT_USAGE" "TARGET_URL names no database: $(redact "$target")"
admin_url=${admin_url:-$default_admin}

# psql with the database name as a variable, so no quoting of it is ever spliced into SQL.
sql() { local url=$1; shift; "$psql" --no-psqlrc --no-password --quiet --tuples-only --no-align \
          -v ON_ERROR_STOP=1 -v db_name="$db_name" --dbname="$url" "$@"; }

log "target database \"$db_name\" at $(redact "$target")"
exists=$(sql "$admin_url" <<<"SELECT 1 FROM pg_database WHERE datname = :'db_name';") \
  || die "$EXIT_TOOLS" "cannot connect to $(redact "$admin_url") (set -a ADMIN_URL to a database you may connect to)"
if [[ $exists != 1 ]]; then
  log "creating database \"$db_name\""
  sql "$admin_url" <<<"CREATE DATABASE :\"db_name\" TEMPLATE template0 ENCODING 'UTF8';" \
    || die "$EXIT_RESTORE" "CREATE DATABASE \"$db_name\" failed"
fi

restore_args=(--dbname="$target" --clean --if-exists --no-owner --no-privileges --no-password --exit-on-error)
if [[ -n $jobs ]]; then
  restore_args+=(--jobs="$jobs")
else
  restore_args+=(--single-transaction)
fi
log "restoring $dump with $("$pg_restore" --version)"
started=$SECONDS
"$pg_restore" "${restore_args[@]}" "$dump" || die "$EXIT_RESTORE" "pg_restore failed (see above)"
log "restored in $((SECONDS - started)) s; verifying"

verify_sql=$(cat <<'EOF'
SELECT 'migrations ' || count(*) || ' (latest ' || coalesce(max(version)::text, 'none') || ')' FROM pgcode_migrations;
SELECT 1 FROM pgcode_migrations LIMIT 1;
SELECT 'repositories ' || count(*) FROM repositories;
SELECT 'files ' || count(*) FROM files;
SELECT 'symbols ' || count(*) FROM symbols;
SELECT 'edges ' || count(*) FROM edges;
SELECT 'chunks ' || count(*) FROM chunks;
SELECT 'embeddings ' || count(*) FROM embeddings;
SELECT 'missing_vector_indexes ' || count(*)
FROM vector_indexes v
LEFT JOIN pg_class c ON c.relname = v.index_name AND c.relkind = 'i'
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE i.indisvalid IS NOT TRUE;
EOF
)
report=$(sql "$target" <<<"$verify_sql") || die "$EXIT_VERIFY" "verification queries failed: the dump is not a pgcode database, or the restore is incomplete"
migrations=$(sed -n 's/^migrations \([0-9]*\).*/\1/p' <<<"$report")
missing=$(sed -n 's/^missing_vector_indexes //p' <<<"$report")
grep -v -e '^1$' -e '^missing_vector_indexes ' <<<"$report" || true
[[ ${migrations:-0} -ge 1 ]] || die "$EXIT_VERIFY" "pgcode_migrations is empty"
[[ ${missing:-1} -eq 0 ]] || die "$EXIT_VERIFY" "$missing HNSW index(es) listed in vector_indexes are missing or invalid"
log "ok: \"$db_name\" verified; now run deploy/postgres/init/01-roles.sql against it if pgcode's roles will use it"
