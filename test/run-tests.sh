#!/usr/bin/env bash
# test/run-tests.sh — opsmeter's whole test suite; `make test` runs it.
#
#   1. require Debian packages (installs them when run as root)
#   2. build + install the extension (compiler warnings are shown)
#   3. start a throwaway PostgreSQL 15 cluster (shared_preload_libraries = 'opsmeter')
#   4. `make installcheck` against it: pg_regress REGRESS tests + ISOLATION specs
#   5. TAP tests in test/t/*.pl with prove, if any (they make their own clusters)
#   6. every executable test/extra/*.sh, if any, with the cluster env
#      (PGHOST, PGPORT, PGUSER, PGDATABASE, REPO, OPSMETER_PGDATA_ROOT); each must exit 0
#   7. the reliability harness, short: test/fuzz/run.sh short, test/sanitize/run.sh,
#      test/soak/run.sh short
#
# All output goes to the console.  The last line is the summary `N passed, N failed`
# (pg_regress/isolation tests + TAP test files + extra scripts); the exit status is
# non-zero if anything failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

PG_LIBPGXS=/usr/lib/postgresql/15/lib/pgxs

PASSED=0
FAILED=0
FAILURES=()

WORK="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-run-tests.XXXXXX")"
opsmeter_defer "rm -rf -- $(printf '%q' "$WORK")"

section() { printf '\n==== %s ====\n' "$*"; }

summary_and_exit() {
	# Stop the cluster (printing its log tail if anything failed) before the
	# summary, so `N passed, N failed` is the last line printed.
	section "cleanup"
	opsmeter_cleanup_now "$FAILED"
	section "summary"
	if [[ ${#FAILURES[@]} -gt 0 ]]; then
		printf 'failed: %s\n' "${FAILURES[@]}"
	fi
	echo "$PASSED passed, $FAILED failed"
	if [[ $FAILED -gt 0 ]]; then
		exit 1
	fi
	exit 0
}

fail_step() {
	FAILED=$((FAILED + 1))
	FAILURES+=("$1")
}

# ---------------------------------------------------------------------------
section "packages"
opsmeter_require_packages

section "build + install"
if ! opsmeter_build_install; then
	fail_step "build/install"
	summary_and_exit
fi

section "throwaway cluster"
if ! opsmeter_cluster_start tests; then
	fail_step "cluster start"
	summary_and_exit
fi

# ---------------------------------------------------------------------------
# pg_regress + pg_isolation_regress (make installcheck)

# Count `... ok` / `... FAILED` / `... failed` result lines in pg_regress output, e.g.
#   test install                     ... ok           25 ms
#        install                     ... ok           25 ms
#   test ingest                      ... FAILED       31 ms
count_regress_results() {
	local log="$1" ok bad
	ok="$(grep -cE '\.\.\. ok( |$)' "$log" || true)"
	bad="$(grep -cE '\.\.\. (FAILED|failed)( |$)' "$log" || true)"
	echo "${ok:-0} ${bad:-0}"
}

run_installcheck() {
	section "make installcheck (pg_regress + isolation)"
	local log="$WORK/installcheck.log" rc=0 ok bad
	# Start from clean outputs so stale diffs are not printed.
	rm -f "$REPO/regression.diffs" "$REPO/regression.out" \
		"$REPO/output_iso/regression.diffs" "$REPO/test/isolation/output_iso/regression.diffs"
	env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
		make -C "$REPO" installcheck PGUSER=postgres 2>&1 | tee "$log" || rc=$?
	read -r ok bad < <(count_regress_results "$log")
	PASSED=$((PASSED + ok))
	FAILED=$((FAILED + bad))
	if [[ $bad -gt 0 ]]; then
		FAILURES+=("$bad pg_regress/isolation test(s)")
	fi
	if [[ $rc -ne 0 && $bad -eq 0 ]]; then
		# make failed but no test reported FAILED (setup error, crash, missing file...)
		fail_step "make installcheck (exit $rc)"
	fi
	if [[ $rc -ne 0 ]]; then
		local diffs
		for diffs in "$REPO/regression.diffs" "$REPO/output_iso/regression.diffs" \
			"$REPO/test/isolation/output_iso/regression.diffs"; do
			if [[ -s "$diffs" ]]; then
				section "$diffs"
				cat "$diffs"
			fi
		done
	fi
}

# ---------------------------------------------------------------------------
# TAP tests ----------------------------------------------------------------
# run_tap_tests: runs test/t/*.pl with prove, if there are any.
#   As root: copies the repo to a temp dir owned by `postgres` (PostgreSQL refuses
#   to run as root, and postgres may not be able to read the repo) and runs
#     runuser -u postgres -- env PATH=/usr/lib/postgresql/15/bin:$PATH \
#         PERL5LIB=/usr/lib/postgresql/15/lib/pgxs/src/test/perl prove -v test/t/*.pl
#   there (the files are named explicitly: given a bare directory, prove only
#   picks up *.t files).  Not root: runs the same prove in the repo as the current user.
#   PG_REGRESS points at PGXS's pg_regress (PostgreSQL::Test::Cluster needs it).
#   Tests make their own clusters with PostgreSQL::Test::Cluster; our cluster's
#   PGHOST/PGPORT are removed from their environment.
#   Counts TAP test files from prove's summary (Files=N, Failed X/Y test programs).
run_tap_tests() {
	shopt -s nullglob
	local tests=("$REPO"/test/t/*.pl)
	shopt -u nullglob
	if [[ ${#tests[@]} -eq 0 ]]; then
		echo "opsmeter: no TAP tests in test/t — skipped"
		return 0
	fi
	section "TAP tests (prove test/t/*.pl)"
	local -a rel=()
	local t
	for t in "${tests[@]}"; do
		rel+=("test/t/$(basename "$t")")
	done
	local log="$WORK/prove.log" rc=0 dir="$REPO"
	local -a tapenv=(env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGDATA
		"PATH=$OPSMETER_PGBIN:$PATH"
		"PERL5LIB=$PG_LIBPGXS/src/test/perl${PERL5LIB:+:$PERL5LIB}"
		"PG_REGRESS=$PG_LIBPGXS/src/test/regress/pg_regress")
	if opsmeter_is_root; then
		dir="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-tap.XXXXXX")"
		opsmeter_defer "rm -rf -- $(printf '%q' "$dir")"
		tar -C "$REPO" --exclude=./.git --exclude=./results --exclude=./output_iso \
			--exclude=./tmp_check -cf - . | tar -C "$dir" -xf -
		chown -R postgres:postgres "$dir"
		chmod 755 "$dir"
		(cd "$dir" && runuser -u postgres -- "${tapenv[@]}" prove -v "${rel[@]}") 2>&1 |
			tee "$log" || rc=$?
	else
		(cd "$dir" && "${tapenv[@]}" prove -v "${rel[@]}") 2>&1 | tee "$log" || rc=$?
	fi

	local files=0 bad=0
	files="$(sed -nE 's/^Files=([0-9]+),.*/\1/p' "$log" | tail -n 1)"
	bad="$(sed -nE 's/^Failed ([0-9]+)\/([0-9]+) test programs.*/\1/p' "$log" | tail -n 1)"
	files="${files:-0}"
	bad="${bad:-0}"
	if [[ $rc -ne 0 && $bad -eq 0 ]]; then
		bad=1
		[[ $files -eq 0 ]] && files=1
	fi
	PASSED=$((PASSED + files - bad))
	FAILED=$((FAILED + bad))
	if [[ $bad -gt 0 ]]; then
		FAILURES+=("$bad TAP test file(s)")
		# Show the detailed log of each failed test file (prove's "Test Summary Report").
		local name f
		while read -r name; do
			f="$dir/tmp_check/log/regress_log_$(basename "$name" .pl)"
			[[ -f "$f" ]] || continue
			section "tail of $f"
			tail -n 80 "$f"
		done < <(sed -nE 's/^(test\/t\/[^ ]+\.pl) \(Wstat.*/\1/p' "$log")
	fi
}

# ---------------------------------------------------------------------------
# extra scripts: every executable test/extra/*.sh, with the cluster env
run_extra_scripts() {
	[[ -d "$REPO/test/extra" ]] || return 0
	local f rc
	shopt -s nullglob
	local scripts=("$REPO"/test/extra/*.sh)
	shopt -u nullglob
	for f in "${scripts[@]}"; do
		if [[ ! -x "$f" ]]; then
			echo "opsmeter: skipping $f (not executable)"
			continue
		fi
		section "extra: ${f#"$REPO"/}"
		rc=0
		(cd "$REPO" && env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres \
			PGDATABASE=postgres REPO="$REPO" OPSMETER_PGDATA_ROOT="$OPSMETER_PGDATA_ROOT" \
			"$f") 2>&1 || rc=$?
		if [[ $rc -eq 0 ]]; then
			echo "extra ${f#"$REPO"/} ... ok"
			PASSED=$((PASSED + 1))
		else
			echo "extra ${f#"$REPO"/} ... FAILED (exit $rc)"
			fail_step "${f#"$REPO"/}"
		fi
	done
}

# ---------------------------------------------------------------------------
# reliability harness, short versions (`make reliability` runs the full ones):
# the fuzz driver against this cluster, the suite under ASan/UBSan, and the
# soak with kill -9s (both on clusters of their own).
run_reliability_short() {
	local step rc
	local -a steps=(
		"fuzz: test/fuzz/run.sh short"
		"sanitize: test/sanitize/run.sh"
		"soak: test/soak/run.sh short"
	)
	for step in "${steps[@]}"; do
		section "reliability ${step%%:*} (${step#*: })"
		rc=0
		# shellcheck disable=SC2086  # the step is a script path and its argument
		(cd "$REPO" && env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
			REPO="$REPO" OPSMETER_SKIP_BUILD=1 bash ${step#*: }) 2>&1 || rc=$?
		if [[ $rc -eq 0 ]]; then
			echo "reliability ${step%%:*} ... ok"
			PASSED=$((PASSED + 1))
		else
			echo "reliability ${step%%:*} ... FAILED (exit $rc)"
			fail_step "reliability ${step%%:*}"
		fi
	done
}

run_installcheck
run_tap_tests
run_extra_scripts
run_reliability_short
summary_and_exit
