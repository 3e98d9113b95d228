#!/usr/bin/env bash
# Writes the compose stack's bearer tokens: secrets/tokens.txt (accepted by pgcode) and secrets/metrics_token.txt (Prometheus' own).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: make-tokens.sh [-n CLIENT_TOKENS] [-f]

Create deploy/secrets/metrics_token.txt (one token, for Prometheus) and deploy/secrets/tokens.txt
(CLIENT_TOKENS client tokens, default 1, plus the metrics token), mode 0600. Refuses to
overwrite existing files unless -f is given. Prints the client tokens on stdout.
USAGE
}

count=1
force=0
while getopts ":n:fh" opt; do
  case $opt in
    n) count=$OPTARG ;;
    f) force=1 ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ $count =~ ^[1-9][0-9]*$ ]] || { echo "make-tokens: -n expects a positive number" >&2; exit 2; }

dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
tokens=$dir/tokens.txt
metrics=$dir/metrics_token.txt
if [[ $force -eq 0 && ( -e $tokens || -e $metrics ) ]]; then
  echo "make-tokens: $tokens or $metrics exists; pass -f to replace them" >&2
  exit 1
fi

token() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }

umask 077
token > "$metrics"
{
  echo "# pgcode bearer tokens, one per line (generated $(date -u +%Y-%m-%dT%H:%M:%SZ))"
  for _ in $(seq "$count"); do token; done
  echo "# Prometheus (same as metrics_token.txt)"
  cat "$metrics"
} > "$tokens"
# The containers read these as uid 10001 (pgcode) and 65534 (prometheus): docker compose
# bind-mounts file secrets with the host file's mode, so they must be world-readable there.
chmod 0644 "$tokens" "$metrics"
grep -v '^#' "$tokens" | head -n "$count"
echo "make-tokens: wrote $tokens and $metrics" >&2
