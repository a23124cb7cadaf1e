#!/usr/bin/env bash
# Fuzzing for opsmeter's ingest (issue #6).
#
#   bash test/fuzz/run.sh [short|full]
#
#   short  5,000 cases through the three entry points, then libFuzzer for
#          20 s (under a minute; fit for every test run)
#   full   100,000 cases (two drivers with consecutive seeds, 50,000 each,
#          in parallel), then libFuzzer for 5 minutes
#
# fuzz_ingest.c drives opsmeter_ingest(jsonb), opsmeter_ingest_ndjson(text) and
# opsmeter_ingest_otlp(jsonb) (a third of the cases each) over libpq with
# generated and mutated payloads and checks every answer and, at the end,
# every stored row; libfuzzer_ndjson.c runs the NDJSON path's JSON scanner
# (src/json_scan.c, the very code the server runs) under libFuzzer with ASan
# and UBSan, against the independent RFC 8259 checker in rfc8259.h and a
# reference string decoder; it has no known gaps, so any finding fails the
# run.  Both are built into test/fuzz/build/ (git-ignored), where failing
# cases land too.
#
# With PGHOST/PGPORT set (as test/run-tests.sh does for test/extra/*.sh) it
# uses that cluster, in a database of its own that it drops afterwards;
# otherwise it builds and installs opsmeter and starts a throwaway cluster
# (test/lib/common.sh).
#
# Environment: FUZZ_SEED=N reproduces a run (the seed is printed);
# FUZZ_STRICT=0 makes fuzz_ingest only count its known-gap checks (the bugs
# they watch for were fixed; by default they fail the run like any other
# check);
# OPSMETER_SKIP_BUILD=1 uses the installed opsmeter as it is.
# Exits non-zero on any failure.
set -euo pipefail

MODE="${1:-short}"
case "$MODE" in
	short) CASES=5000 DRIVERS=1 LIBFUZZER_SECONDS=20 ;;
	full) CASES=50000 DRIVERS=2 LIBFUZZER_SECONDS=300 ;;
	*)
		echo "usage: bash test/fuzz/run.sh [short|full]" >&2
		exit 2
		;;
esac

# shellcheck source=../lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
FUZZ_DIR="$REPO/test/fuzz"
BUILD="$FUZZ_DIR/build"
SEED="${FUZZ_SEED:-$(((RANDOM << 15 | RANDOM) % 1000000000))}"
STRICT_ARGS=()
if [[ "${FUZZ_STRICT:-1}" == "1" ]]; then
	STRICT_ARGS=(--strict)
fi

log() { printf 'fuzz: %s\n' "$*"; }

# The project's packages, plus clang and its libFuzzer runtime.
opsmeter_require_packages
FUZZ_PACKAGES=(clang libclang-rt-14-dev)
missing=()
for pkg in "${FUZZ_PACKAGES[@]}"; do
	if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
		missing+=("$pkg")
	fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
	if ! opsmeter_is_root; then
		echo "fuzz: missing Debian packages: ${missing[*]}" >&2
		echo "run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	log "installing missing Debian packages: ${missing[*]}"
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# ---------------------------------------------------------------------------
# build (warnings are shown, never hidden)
mkdir -p "$BUILD"
FAILURES="$BUILD/failures-$SEED"
mkdir -p "$FAILURES"
log "building $BUILD/fuzz_ingest"
gcc -O2 -Wall -Wextra -I"$("$OPSMETER_PGBIN/pg_config" --includedir)" \
	"$FUZZ_DIR/fuzz_ingest.c" -o "$BUILD/fuzz_ingest" -lpq
log "building $BUILD/libfuzzer_ndjson"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Wall -Wextra \
	-I"$REPO/include" -I"$FUZZ_DIR" "$FUZZ_DIR/libfuzzer_ndjson.c" "$REPO/src/json_scan.c" \
	-o "$BUILD/libfuzzer_ndjson"

# ---------------------------------------------------------------------------
# a cluster and a database of our own
if [[ -n "${PGHOST:-}" && -n "${PGPORT:-}" ]]; then
	DB="opsmeter_fuzz_$$"
	log "using the cluster at PGHOST=$PGHOST PGPORT=$PGPORT, database $DB"
	opsmeter_defer "psql -X -q -d postgres -c 'DROP DATABASE IF EXISTS $DB' >/dev/null 2>&1"
else
	if [[ "${OPSMETER_SKIP_BUILD:-0}" != "1" ]]; then
		opsmeter_build_install
	fi
	opsmeter_cluster_start fuzz
	DB=opsmeter_fuzz
fi
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "SET client_min_messages = warning" \
	-c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
psql -X -q -v ON_ERROR_STOP=1 -d "$DB" -c "CREATE EXTENSION opsmeter"

# ---------------------------------------------------------------------------
# the driver(s)
log "mode $MODE: $((CASES * DRIVERS)) cases with seed $SEED (reproduce: FUZZ_SEED=$SEED bash test/fuzz/run.sh $MODE)"
driver_rc=0
if [[ "$DRIVERS" -eq 1 ]]; then
	PGDATABASE="$DB" "$BUILD/fuzz_ingest" -s "$SEED" -n "$CASES" -o "$FAILURES" "${STRICT_ARGS[@]}" || driver_rc=$?
else
	pids=()
	for ((i = 0; i < DRIVERS; i++)); do
		PGDATABASE="$DB" "$BUILD/fuzz_ingest" -s $((SEED + i)) -n "$CASES" -o "$FAILURES" "${STRICT_ARGS[@]}" \
			>"$BUILD/fuzz_ingest-$((SEED + i)).log" 2>&1 &
		pids+=($!)
	done
	for ((i = 0; i < DRIVERS; i++)); do
		rc=0
		wait "${pids[$i]}" || rc=$?
		[[ $rc -eq 0 ]] || driver_rc=$rc
		echo "---- fuzz_ingest -s $((SEED + i)) (log: $BUILD/fuzz_ingest-$((SEED + i)).log) ----"
		grep -v '^  \.\.\. ' "$BUILD/fuzz_ingest-$((SEED + i)).log" || true
	done
fi

# ---------------------------------------------------------------------------
# libFuzzer, on a scratch copy of the seed corpus (new inputs stay out of git)
WORK_CORPUS="$(mktemp -d "${TMPDIR:-/tmp}/opsmeter-fuzz-corpus.XXXXXX")"
opsmeter_defer "rm -rf '$WORK_CORPUS'"
cp "$FUZZ_DIR"/corpus/* "$WORK_CORPUS"/
LIBFUZZER_LOG="$BUILD/libfuzzer_ndjson-$SEED.log"
log "libFuzzer for ${LIBFUZZER_SECONDS}s (log: $LIBFUZZER_LOG)"
libfuzzer_rc=0
"$BUILD/libfuzzer_ndjson" -seed="$SEED" -max_total_time="$LIBFUZZER_SECONDS" \
	-max_len=16384 -dict="$FUZZ_DIR/ndjson.dict" -print_final_stats=1 \
	-artifact_prefix="$FAILURES/" "$WORK_CORPUS" >"$LIBFUZZER_LOG" 2>&1 || libfuzzer_rc=$?
grep -E '^(libfuzzer_ndjson:|INVARIANT|SUMMARY|Done |stat::number_of_executed_units|stat::average_exec_per_sec)' \
	"$LIBFUZZER_LOG" || true
if [[ $libfuzzer_rc -ne 0 ]]; then
	grep -A2 -E 'INVARIANT|ERROR: AddressSanitizer|runtime error|ERROR: libFuzzer' "$LIBFUZZER_LOG" | head -20 || true
fi

# ---------------------------------------------------------------------------
if [[ $driver_rc -ne 0 || $libfuzzer_rc -ne 0 ]]; then
	log "FAILED (driver exit $driver_rc, libFuzzer exit $libfuzzer_rc); failing cases in $FAILURES"
	exit 1
fi
rmdir "$FAILURES" 2>/dev/null || true
log "ok: mode $MODE, seed $SEED, driver and libFuzzer found nothing new"
