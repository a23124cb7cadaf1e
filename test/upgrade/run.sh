#!/usr/bin/env bash
# test/upgrade/run.sh — every released version upgrades to the current one,
# keeping every row and answering every question the same.
#
# Runs against the cluster of test/run-tests.sh (PGHOST, PGPORT, PGUSER are
# set; the extension's current and released scripts are installed, and
# OPSMETER_PGBIN names the server's binaries, for pg_dump/pg_restore).  For
# each released version FROM, sql/opsmeter--FROM.sql (today: 0.1.0):
#
#   1. CREATE EXTENSION opsmeter VERSION 'FROM' with the current library, and
#      use every feature through FROM's own SQL (test/upgrade/populate.sql):
#      workspaces, members, retention settings, budgets, loaded and added
#      prices, events over several days, late events, rolled-up summaries,
#      re-pricing adjustments, cleanups and their audit rows, a pending tail.
#   2. Ask it everything (test/upgrade/answers.sql): every view, function
#      form, export, status, and the stored rows.
#   3. ALTER EXTENSION opsmeter UPDATE.
#   4. (a) The catalog (test/upgrade/catalog.sql: every extension member
#      with its definition, privileges, comment, policies, ...) equals that
#      of a fresh CREATE EXTENSION opsmeter in another database.
#      (b) The answers equal those of step 2.
#   5. The upgraded database still works: a duplicate of an old key is
#      refused, a new event is stored, a pass rolls up everything exactly,
#      and opsmeter_verify() finds no difference.
#   6. pg_dump of the upgraded database, pg_restore into a new one: its
#      catalog equals the fresh install's and its answers equal step 2's.
#   7. Another populated FROM database is upgraded while retention passes
#      run in a loop beside it (as the worker's would): no deadlock, every
#      pass ok, and the same catalog as a fresh install.
#   8. A FROM database with workspace names that differ only in case does
#      not upgrade (the error names them) until one is renamed.
#
# Prints "upgrade FROM -> TO: ok" per version; exits non-zero with a diff on
# the first difference.  Also checks that the released scripts are
# byte-identical to what was released (sql/updates/released.sha256).
set -euo pipefail

REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
HERE="$REPO/test/upgrade"
PGBIN="${OPSMETER_PGBIN:-$(dirname "$(command -v psql)")}"
TO="$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$REPO/opsmeter.control")"
PREFIX=opsmeter_upgrade

WORK="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-upgrade.XXXXXX")"
chmod 755 "$WORK"
drop_databases() {
	local db
	for db in "${PREFIX}_old" "${PREFIX}_fresh" "${PREFIX}_restored" "${PREFIX}_busy" "${PREFIX}_clash"; do
		"$PGBIN/psql" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
}
cleanup() {
	drop_databases
	if [[ -n "${OPSMETER_UPGRADE_KEEP:-}" ]]; then
		echo "upgrade: kept $WORK (catalogs, answers, dump)"
	else
		rm -rf -- "$WORK"
	fi
}
trap cleanup EXIT

fail() {
	echo "upgrade: FAILED: $*" >&2
	exit 1
}
psql_db() {
	local db="$1"
	shift
	PGOPTIONS="-c client_min_messages=warning" "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"
}
# Same text iff equal; on a difference show it and fail.
same() {
	local what="$1" expected="$2" actual="$3"
	if ! diff -u "$expected" "$actual" >"$WORK/diff"; then
		head -n 80 "$WORK/diff" >&2
		fail "$what differ ($(grep -c '^[-+][^-+]' "$WORK/diff") lines; diff above)"
	fi
}

# --- released scripts are frozen ------------------------------------------
(cd "$REPO/sql/updates" && sha256sum --quiet -c released.sha256) ||
	fail "a released install script was changed (see sql/updates/released.sha256)"

# --- roles (cluster-wide) and a price file the server can read -------------
psql_db postgres -c "DO \$\$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['upg_owner', 'upg_admin', 'upg_member', 'upg_viewer', 'upg_gone'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END \$\$"
cat >"$WORK/prices.json" <<'EOF'
{"format": "opsmeter-prices", "version": 1, "currency": "USD", "unit": "per_1m_tokens",
 "prices": [
   {"provider": "openai", "model": "gpt-4o-mini", "effective_from": "2025-01-01T00:00:00Z",
    "input": 0.17, "output": 0.61, "cached_input": 0.08},
   {"provider": "upgfile", "model": "upg-file-1", "effective_from": "2024-06-01T00:00:00Z",
    "input": 1.25, "output": 2.5}
 ]}
EOF
chmod 644 "$WORK/prices.json"

# The views' windows are whole UTC days: two runs of answers.sql on either
# side of midnight would ask different questions.  A version's run takes
# seconds, so never start within three minutes of midnight.
to_midnight=$((86400 - $(date -u +%s) % 86400))
if [[ $to_midnight -lt 180 ]]; then
	echo "upgrade: waiting ${to_midnight}s for UTC midnight to pass"
	sleep $((to_midnight + 1))
fi

# Fixed export bounds for every run of answers.sql in this test.
EXPORT_FROM="$(psql_db postgres -At -c "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') - interval '8 days'")"
EXPORT_TO="$(psql_db postgres -At -c "SELECT date_trunc('day', now() AT TIME ZONE 'UTC') + interval '1 day'")"
answers() {
	psql_db "$1" -v from="$EXPORT_FROM" -v to="$EXPORT_TO" -f "$HERE/answers.sql" >"$2" 2>&1 ||
		{ cat "$2" >&2; fail "answers.sql failed in $1"; }
}
catalog() {
	psql_db "$1" -A -t -f "$HERE/catalog.sql" >"$2" 2>&1 || { cat "$2" >&2; fail "catalog.sql failed in $1"; }
}

# --- the fresh install every upgrade must equal ----------------------------
drop_databases
psql_db postgres -c "CREATE DATABASE ${PREFIX}_fresh"
psql_db "${PREFIX}_fresh" -c "CREATE EXTENSION opsmeter" \
	-c "SELECT opsmeter.ensure_partitions(current_date, current_date)" \
	-c "SELECT opsmeter._open_key_generation(false)" >/dev/null
catalog "${PREFIX}_fresh" "$WORK/catalog.fresh"
grep -q "^extension|version=$TO " "$WORK/catalog.fresh" || fail "a fresh install is not version $TO"
echo "upgrade: fresh $TO install: $(grep -c '^member|' "$WORK/catalog.fresh") member objects," \
	"$(wc -l <"$WORK/catalog.fresh") catalog facts"

for released in "$REPO"/sql/opsmeter--*.sql; do
	FROM="$(basename "$released" .sql)"
	FROM="${FROM#opsmeter--}"
	[[ "$FROM" != "$TO" ]] || continue
	old="${PREFIX}_old"
	psql_db postgres -c "DROP DATABASE IF EXISTS $old" -c "CREATE DATABASE $old" >/dev/null

	# 1-2: a database that used every feature of FROM, and what it answers
	psql_db "$old" -c "CREATE EXTENSION opsmeter VERSION '$FROM'"
	psql_db "$old" -v price_file="$WORK/prices.json" -f "$HERE/populate.sql" >"$WORK/populate.out" 2>&1 ||
		{ cat "$WORK/populate.out" >&2; fail "populating a $FROM database"; }
	answers "$old" "$WORK/answers.before"
	rows="$(psql_db "$old" -At -c "SELECT count(*) || ' events in ' || count(DISTINCT tableoid) || ' partitions, ' ||
		(SELECT count(*) FROM opsmeter.summaries) || ' summary rows, ' ||
		(SELECT count(*) FROM opsmeter.summary_adjustments) || ' adjustments, ' ||
		(SELECT count(*) FROM opsmeter.events WHERE ingest_batch > opsmeter.rollup_watermark()) || ' pending'
		FROM opsmeter.events")"
	echo "upgrade: $FROM database populated: $rows"

	# 3: the upgrade
	psql_db "$old" -c "ALTER EXTENSION opsmeter UPDATE TO '$TO'"

	# 4: (a) catalog = fresh install, (b) same answers
	catalog "$old" "$WORK/catalog.upgraded"
	same "catalog of $FROM upgraded to $TO vs fresh $TO" "$WORK/catalog.fresh" "$WORK/catalog.upgraded"
	answers "$old" "$WORK/answers.after"
	same "answers before vs after the upgrade" "$WORK/answers.before" "$WORK/answers.after"

	# 6 (before 5, which writes): dump/restore of the upgraded database
	restored="${PREFIX}_restored"
	psql_db postgres -c "DROP DATABASE IF EXISTS $restored" -c "CREATE DATABASE $restored" >/dev/null
	"$PGBIN/pg_dump" -Fc -d "$old" -f "$WORK/upgraded.dump" || fail "pg_dump of the upgraded database"
	"$PGBIN/pg_restore" --exit-on-error -d "$restored" "$WORK/upgraded.dump" ||
		fail "pg_restore of the upgraded database"
	catalog "$restored" "$WORK/catalog.restored"
	same "catalog of the restored upgraded database vs fresh $TO" "$WORK/catalog.fresh" "$WORK/catalog.restored"
	answers "$restored" "$WORK/answers.restored"
	same "answers before the upgrade vs after dump/restore" "$WORK/answers.before" "$WORK/answers.restored"

	# 5: it still works
	for db in "$old" "$restored"; do
		works="$(psql_db "$db" -At -c "SET ROLE upg_member" -c "SET opsmeter.workspace = 'upg_acme'" -c "
			SELECT (opsmeter_ingest('{\"externalRequestId\": \"upg-1\", \"provider\": \"openai\", \"model\": \"gpt-4o\",
			                          \"inputTokens\": 1, \"outputTokens\": 1}') ->> 'duplicate') || ' ' ||
			       (opsmeter_ingest('{\"externalRequestId\": \"upg-after\", \"provider\": \"openai\", \"model\": \"gpt-4o\",
			                          \"inputTokens\": 1000000, \"outputTokens\": 0}') ->> 'duplicate')" \
			-c "RESET ROLE" -c "SELECT (opsmeter_run_retention() ->> 'ok')" -c "
			SELECT (SELECT count(*) FROM opsmeter.events) = (SELECT sum(requests) FROM opsmeter.rollup_days)
			   AND (SELECT count(*) FROM opsmeter.events e JOIN opsmeter.rollup_days d
			          ON d.workspace_id = e.workspace_id AND d.day = (e.ts AT TIME ZONE 'UTC')::date
			         AND d.quarter_rows IS NOT NULL) =
			       (SELECT sum(requests) FROM opsmeter.summary_quarters)" -c "
			SELECT count(*) FROM opsmeter_verify(now() - interval '400 days', now() + interval '1 day')")"
		[[ "$(echo "$works" | tr '\n' ' ')" == "true false true t 0 " ]] ||
			fail "after the upgrade ($db): duplicate/new/pass/exact/verify differences = $(echo "$works" | tr '\n' ' ')"
	done

	# 7: the upgrade while retention passes run beside it, as the worker's
	# or pg_cron's would: it must neither deadlock nor fail, and end equal.
	busy="${PREFIX}_busy"
	psql_db postgres -c "DROP DATABASE IF EXISTS $busy" -c "CREATE DATABASE $busy" >/dev/null
	psql_db "$busy" -c "CREATE EXTENSION opsmeter VERSION '$FROM'"
	psql_db "$busy" -v price_file="$WORK/prices.json" -f "$HERE/populate.sql" >"$WORK/populate-busy.out" 2>&1 ||
		{ cat "$WORK/populate-busy.out" >&2; fail "populating a second $FROM database"; }
	(
		end=$((SECONDS + 6))
		while ((SECONDS < end)); do
			psql_db "$busy" -At -c "SELECT opsmeter_run_retention() ->> 'ok'" || exit 1
		done
	) >"$WORK/passes-busy.out" 2>&1 &
	passes=$!
	sleep 0.5
	upgrade_rc=0
	psql_db "$busy" -c "ALTER EXTENSION opsmeter UPDATE TO '$TO'" 2>"$WORK/upgrade-busy.err" || upgrade_rc=$?
	wait "$passes" || { cat "$WORK/passes-busy.out" >&2; fail "a retention pass failed beside the upgrade"; }
	[[ $upgrade_rc -eq 0 ]] || { cat "$WORK/upgrade-busy.err" >&2; fail "the upgrade failed beside retention passes"; }
	grep -qv '^true$' "$WORK/passes-busy.out" && { cat "$WORK/passes-busy.out" >&2; fail "a pass beside the upgrade did not answer ok"; }
	catalog "$busy" "$WORK/catalog.busy"
	same "catalog of $FROM upgraded beside passes vs fresh $TO" "$WORK/catalog.fresh" "$WORK/catalog.busy"

	# 8: names that differ only in case (allowed before 0.2.0) stop the
	# upgrade with the names and the fix; after a rename it goes through.
	clash="${PREFIX}_clash"
	psql_db postgres -c "DROP DATABASE IF EXISTS $clash" -c "CREATE DATABASE $clash" >/dev/null
	psql_db "$clash" -c "CREATE EXTENSION opsmeter VERSION '$FROM'" \
		-c "SELECT opsmeter_create_workspace('Clash'), opsmeter_create_workspace('clash')" >/dev/null
	psql_db "$clash" -c "ALTER EXTENSION opsmeter UPDATE TO '$TO'" >/dev/null 2>"$WORK/clash.err" &&
		fail "the upgrade went through with workspaces 'Clash' and 'clash'"
	grep -q "workspace names differ only in case: 'Clash', 'clash'" "$WORK/clash.err" ||
		{ cat "$WORK/clash.err" >&2; fail "the case clash was not named"; }
	psql_db "$clash" -c "UPDATE opsmeter.workspaces SET name = 'clash 2' WHERE name = 'clash'" \
		-c "ALTER EXTENSION opsmeter UPDATE TO '$TO'" >/dev/null || fail "the upgrade after the rename"

	echo "upgrade $FROM -> $TO: ok (catalog: $(wc -l <"$WORK/catalog.upgraded") facts equal;" \
		"answers: $(wc -l <"$WORK/answers.after") lines equal; dump/restore equal; still ingests and rolls up;" \
		"upgraded beside $(wc -l <"$WORK/passes-busy.out") passes)"
done
