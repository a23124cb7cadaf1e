# shellcheck shell=bash
# test/bench/lib.sh — small helpers shared by the benchmark scripts.
log() { printf 'bench: %s\n' "$*"; }
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
# require_positive_ints VAR ...: exit 2 unless each named variable holds a
# positive integer (the scripts' size and duration knobs).
require_positive_ints() {
	local var
	for var in "$@"; do
		if ! [[ "${!var}" =~ ^[1-9][0-9]*$ ]]; then
			echo "bench: $var must be a positive integer, got '${!var}'" >&2
			exit 2
		fi
	done
}
