#!/usr/bin/env bash
# test/run-tests.sh — opsmeter's whole test suite; `make test` runs it.
#
#   1. require Debian packages (installs them when run as root)
#   2. the PostgreSQL of `pg_config` (Debian 12: 15), the whole suite:
#      a. build + install the extension (compiler warnings are shown; any is a failure),
#         then `make check-symbols` and `make check-layers`
#      b. start a throwaway cluster (shared_preload_libraries = 'opsmeter')
#      c. `make installcheck` against it: pg_regress REGRESS tests + ISOLATION specs
#      d. the upgrade test, test/upgrade/run.sh (every released version -> this one)
#      e. TAP tests in test/t/*.pl with prove, if any (they make their own clusters)
#      f. every executable test/extra/*.sh, if any, with the cluster env
#         (PGHOST, PGPORT, PGUSER, PGDATABASE, REPO, OPSMETER_PGDATA_ROOT); each must exit 0
#      g. the reliability harness, short: test/fuzz/run.sh short, test/sanitize/run.sh,
#         test/soak/run.sh short
#   3. PostgreSQL 17 and 18, built from Debian's source packages into a cache
#      (test/lib/postgres_source.sh; a later run reuses the build): steps a-d on
#      a copy of the sources.  When a version's sources cannot be had, one line
#      says so and the others run alone.
#
# OPSMETER_PG_VERSIONS="15 17 18" (the default) chooses the majors; the first
# major that is not the packaged one is built from source.
#
# All output goes to the console.  Before the last line, one line per version
# says what ran there; the last line is the summary `N passed, N failed`
# (pg_regress/isolation tests + upgrade tests + TAP test files + extra scripts +
# reliability steps + clean builds + symbol and layer checks); the exit status is non-zero if anything failed.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$HERE/lib/common.sh"

PASSED=0
FAILED=0
FAILURES=()
VERSION_LINES=()

WORK="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-run-tests.XXXXXX")"
opsmeter_defer "rm -rf -- $(printf '%q' "$WORK")"

section() { printf '\n==== %s ====\n' "$*"; }

summary_and_exit() {
	# Stop the cluster (printing its log tail if anything failed) before the
	# summary, so `N passed, N failed` is the last line printed.
	section "cleanup"
	opsmeter_cleanup_now "$FAILED"
	section "summary"
	if [[ ${#VERSION_LINES[@]} -gt 0 ]]; then
		printf '%s\n' "${VERSION_LINES[@]}"
	fi
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
# pg_regress + pg_isolation_regress (make installcheck)

# Count the result lines of pg_regress output.  Up to PostgreSQL 16:
#   test install                     ... ok           25 ms
#        install                     ... ok           25 ms
#   test ingest                      ... FAILED       31 ms
# From 17 on (TAP style):
#   ok 2         - setup                                      31 ms
#   not ok 1     - install                                   136 ms
count_regress_results() {
	local log="$1" ok bad
	ok="$(grep -cE '\.\.\. ok( |$)|^ok [0-9]+ +[-+] ' "$log" || true)"
	bad="$(grep -cE '\.\.\. (FAILED|failed)( |$)|^not ok [0-9]+ +[-+] ' "$log" || true)"
	echo "${ok:-0} ${bad:-0}"
}

# run_installcheck [DIR]: `make installcheck` in DIR (default $REPO) for the
# PostgreSQL under test; sets INSTALLCHECK_OK / INSTALLCHECK_BAD.
run_installcheck() {
	local dir="${1:-$REPO}"
	section "make installcheck (pg_regress + isolation)"
	local log="$WORK/installcheck.log" rc=0 ok bad
	# Start from clean outputs so stale diffs are not printed.
	rm -f "$dir/regression.diffs" "$dir/regression.out" \
		"$dir/output_iso/regression.diffs" "$dir/test/isolation/output_iso/regression.diffs"
	env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
		make -C "$dir" installcheck PG_CONFIG="$OPSMETER_PG_CONFIG" PGUSER=postgres 2>&1 | tee "$log" || rc=$?
	read -r ok bad < <(count_regress_results "$log")
	INSTALLCHECK_OK=$ok
	INSTALLCHECK_BAD=$bad
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
		for diffs in "$dir/regression.diffs" "$dir/output_iso/regression.diffs" \
			"$dir/test/isolation/output_iso/regression.diffs"; do
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
#     runuser -u postgres -- env PATH=$OPSMETER_PGBIN:$PATH \
#         PERL5LIB=<pgxs>/src/test/perl prove -v test/t/*.pl
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
	local log="$WORK/prove.log" rc=0 dir="$REPO" pgxs
	# .../lib/pgxs/src/makefiles/pgxs.mk -> .../lib/pgxs
	pgxs="$(dirname "$(dirname "$(dirname "$("$OPSMETER_PG_CONFIG" --pgxs)")")")"
	local -a tapenv=(env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGDATA
		"PATH=$OPSMETER_PGBIN:$PATH"
		"PERL5LIB=$pgxs/src/test/perl${PERL5LIB:+:$PERL5LIB}"
		"PG_REGRESS=$pgxs/src/test/regress/pg_regress")
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

# ---------------------------------------------------------------------------
# the upgrade test: every released version -> this one (test/upgrade/run.sh)
# run_upgrade_test [DIR]: sets UPGRADE_RESULT.
run_upgrade_test() {
	local dir="${1:-$REPO}" rc=0
	section "upgrade test (test/upgrade/run.sh)"
	(cd "$dir" && env PGHOST="$PGHOST" PGPORT="$PGPORT" PGUSER=postgres PGDATABASE=postgres \
		REPO="$dir" bash test/upgrade/run.sh) 2>&1 || rc=$?
	if [[ $rc -eq 0 ]]; then
		echo "upgrade ... ok"
		PASSED=$((PASSED + 1))
		UPGRADE_RESULT=ok
	else
		echo "upgrade ... FAILED (exit $rc)"
		fail_step "upgrade test ($(pg_major))"
		UPGRADE_RESULT=FAILED
	fi
}

pg_major() { "$OPSMETER_PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/'; }
pg_version() { "$OPSMETER_PG_CONFIG" --version | sed -E 's/^PostgreSQL ([^ ]+).*/\1/'; }

# build_or_fail DIR: build + install, a compiler warning counts as a failure.
build_or_fail() {
	local dir="$1"
	section "build + install for PostgreSQL $(pg_version)"
	if ! opsmeter_build_install "$dir"; then
		fail_step "build/install ($(pg_major))"
		return 1
	fi
	if [[ "$OPSMETER_BUILD_WARNINGS" -gt 0 ]]; then
		fail_step "$OPSMETER_BUILD_WARNINGS compiler warning(s) building for $(pg_major)"
	else
		PASSED=$((PASSED + 1))
	fi
	# The shape of the C code: exported names and include layers.
	local check
	for check in check-symbols check-layers; do
		if make -C "$dir" -s "$check" PG_CONFIG="$OPSMETER_PG_CONFIG"; then
			PASSED=$((PASSED + 1))
		else
			fail_step "make $check ($(pg_major))"
		fi
	done
}

# run_version DIR SCOPE: build DIR for the PostgreSQL under test, start a
# cluster, run the regress stories, isolation specs and upgrade test; with
# SCOPE "whole" also TAP, the extra scripts and the short reliability harness.
# Adds one line to VERSION_LINES saying what ran.
run_version() {
	local dir="$1" scope="$2" failed_before=$FAILED
	if ! build_or_fail "$dir"; then
		VERSION_LINES+=("PostgreSQL $(pg_version): build FAILED")
		return 0
	fi
	section "throwaway cluster ($(pg_version))"
	if ! opsmeter_cluster_start "tests$(pg_major)"; then
		fail_step "cluster start ($(pg_major))"
		VERSION_LINES+=("PostgreSQL $(pg_version): cluster start FAILED")
		return 0
	fi
	run_installcheck "$dir"
	run_upgrade_test "$dir"
	local ran="build ($OPSMETER_BUILD_WARNINGS warnings), symbols, layers,"
	ran+=" regress+isolation $INSTALLCHECK_OK ok/$INSTALLCHECK_BAD failed, upgrade $UPGRADE_RESULT"
	if [[ "$scope" == whole ]]; then
		run_tap_tests
		run_extra_scripts
		run_reliability_short
		ran+=", TAP, extra, reliability"
	fi
	opsmeter_cluster_stop "$((FAILED - failed_before))"
	VERSION_LINES+=("PostgreSQL $(pg_version): $ran; $((FAILED - failed_before)) failed")
}

# A major built from Debian's source package: build, regress + isolation, upgrade.
run_source_build() {
	local major="$1" out rc=0 pg_config copy
	section "PostgreSQL $major (from Debian's source package)"
	out="$(bash "$REPO/test/lib/postgres_source.sh" "$major" 2>&1)" || rc=$?
	echo "$out"
	if [[ $rc -eq 3 ]]; then
		VERSION_LINES+=("$(echo "$out" | grep -m1 'unavailable:') — ran the other versions alone")
		return 0
	elif [[ $rc -ne 0 ]]; then
		fail_step "PostgreSQL $major source build (exit $rc)"
		VERSION_LINES+=("PostgreSQL $major: source build FAILED")
		return 0
	fi
	pg_config="$(echo "$out" | tail -n 1)"
	opsmeter_use_postgres "$pg_config"
	# A copy of the sources, so this build's objects never mix with another major's.
	copy="$WORK/src-$major"
	mkdir -p "$copy"
	tar -C "$REPO" --exclude=./.git --exclude=./results --exclude=./output_iso --exclude=./tmp_check \
		--exclude=./build --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . | tar -C "$copy" -xf -
	run_version "$copy" core
}

# ---------------------------------------------------------------------------
section "packages"
opsmeter_require_packages
PACKAGED_CONFIG="$OPSMETER_PG_CONFIG"
PACKAGED_MAJOR="$(pg_major)"

for major in ${OPSMETER_PG_VERSIONS:-15 17 18}; do
	if [[ "$major" == "$PACKAGED_MAJOR" ]]; then
		opsmeter_use_postgres "$PACKAGED_CONFIG"
		run_version "$REPO" whole
	else
		run_source_build "$major"
	fi
done
summary_and_exit
