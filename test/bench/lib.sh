# shellcheck shell=bash
# test/bench/lib.sh — small helpers shared by the benchmark scripts.
log() { printf 'bench: %s\n' "$*"; }
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
