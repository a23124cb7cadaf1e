#!/usr/bin/env bash
# Concurrency stress for dedup: 8 clients ingest batches drawn from a small
# key space, so the same externalRequestId races between transactions all
# the time (both the direct claim and its waiting fallback run).  Afterwards
# every key must have exactly one row and one dedup key, and the rollup must
# equal the raw data (tier 1, opsmeter.summary_quarters, counts every
# rolled-up row once: the pass summarizes every day it sees).  Runs against the cluster of test/run-tests.sh.
set -euo pipefail
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
DB=opsmeter_stress
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q "CREATE EXTENSION opsmeter"
q "SELECT opsmeter_create_workspace('stress')" >/dev/null
SCRIPT="$(mktemp)"
trap 'rm -f "$SCRIPT"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS '$DB'" >/dev/null 2>&1 || true' EXIT
cat >"$SCRIPT" <<'SQL'
\set k random(1, 3000)
SET opsmeter.workspace = 'stress';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'k-' || ((:k + i * 97) % 3000),
         'provider', 'openai', 'model', 'gpt-4o-mini', 'inputTokens', 100, 'outputTokens', 10)))
  FROM generate_series(1, 20) i;
SQL
pgbench -n -c 8 -j 2 -T "${STRESS_SECONDS:-8}" -f "$SCRIPT" "$DB" | grep -E "^(number of transactions actually processed|tps)"
q "SET opsmeter.summarize_day_rows = 0; SELECT opsmeter_run_retention()" >/dev/null
rows=$(q "SELECT count(*) FROM opsmeter.events")
ids=$(q "SELECT count(DISTINCT external_request_id) FROM opsmeter.events")
keys=$(q "SELECT count(*) FROM opsmeter.request_keys")
joined=$(q "SELECT count(*) FROM opsmeter.events e JOIN opsmeter.request_keys k USING (workspace_id, external_request_id)")
summed=$(q "SELECT sum(requests) FROM opsmeter.summary_quarters")
undone=$(q "SELECT pg_stat_force_next_flush(); SELECT coalesce(sum(n_tup_del), 0) FROM pg_stat_user_tables WHERE relname ~ '^request_keys_g'" | tail -n 1)
echo "stress: $rows rows, $ids distinct ids, $keys keys, $joined matched, $summed summarized, $undone key tuples undone (repeats the unique index reported)"
if [[ "$rows" -gt 0 && "$rows" == "$ids" && "$rows" == "$keys" && "$rows" == "$joined" && "$rows" == "$summed" ]]; then
	echo "stress: ok — one row and one key per externalRequestId, summaries exact"
else
	echo "stress: FAILED" >&2
	exit 1
fi
