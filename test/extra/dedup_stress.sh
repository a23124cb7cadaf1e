#!/usr/bin/env bash
# Concurrency stress for dedup: 8 clients ingest batches drawn from a small
# key space, 3,000 new ids every second, so the same externalRequestId races
# between transactions all the time, most often while none has committed it
# yet (both the direct claim and its waiting fallback run).  No client may
# fail: two claims that both gave their keys back used to wait for each
# other (16 deadlock errors in 8 s before the direct claim got its own
# subtransaction).  Beside
# them a writer of new keys and retention passes make the key
# generations turn over: the passes (every 0.1 s or so) seal the open generation by size
# (16 kB here), build key filters and merge sealed generations while the
# racing clients look their keys up in them.  Afterwards every key must
# have exactly one row and one dedup key, the rollup must equal the raw
# data (tier 1, opsmeter.summary_quarters, counts every rolled-up row once:
# the pass summarizes every day it sees), every pass must have succeeded,
# and some generations must have been merged.  Runs against the cluster of
# test/run-tests.sh.
set -euo pipefail
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
DB=opsmeter_stress
psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
q "CREATE EXTENSION opsmeter"
q "SELECT opsmeter_create_workspace('stress')" >/dev/null
SCRIPT="$(mktemp)"
PASSES="$(mktemp)"
reset_size() {
	psql -X -q -d postgres -c "ALTER SYSTEM RESET opsmeter.key_generation_size" -c "SELECT pg_reload_conf()" >/dev/null 2>&1 || true
}
trap 'rm -f "$SCRIPT" "$PASSES"; reset_size; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS '$DB'" >/dev/null 2>&1 || true' EXIT
psql -X -q -d postgres -c "ALTER SYSTEM SET opsmeter.key_generation_size = '16kB'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
q "SELECT opsmeter_run_retention()" >/dev/null	# opens the first generation
cat >"$SCRIPT" <<'SQL'
\set k random(1, 3000)
SET opsmeter.workspace = 'stress';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'k-' || extract(epoch FROM date_trunc('second', now()))::bigint || '-' || ((:k + i * 97) % 3000),
         'provider', 'openai', 'model', 'gpt-4o-mini', 'inputTokens', 100, 'outputTokens', 10)))
  FROM generate_series(1, 20) i;
SQL
# New keys (never raced) and a pass every 0.1 s or so; the open generation is
# made to look an hour old before each pass, so that its 16 kB (not its
# rate of keys) decides when it is sealed.
(
	end=$((SECONDS + ${STRESS_SECONDS:-8}))
	n=0
	while ((SECONDS < end)); do
		n=$((n + 1))
		q "SET opsmeter.workspace = 'stress';
		   SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'new-$n-' || i,
		     'provider', 'openai', 'model', 'gpt-4o-mini', 'inputTokens', 1, 'outputTokens', 1))) ->> 'ok'
		     FROM generate_series(1, 300) i" >/dev/null
		q "UPDATE opsmeter.key_generations SET opened_at = now() - interval '1 hour' WHERE sealed_at IS NULL;
		   SELECT opsmeter_run_retention() ->> 'ok'" >>"$PASSES" 2>/dev/null || echo error >>"$PASSES"
		sleep 0.1
	done
) &
turnover=$!
bench_out="$(pgbench -n -c 8 -j 2 -T "${STRESS_SECONDS:-8}" -f "$SCRIPT" "$DB")"
echo "$bench_out" | grep -E "^(number of transactions actually processed|number of failed|tps)"
wait "$turnover"
if ! echo "$bench_out" | grep -qE "^number of failed transactions: 0 "; then
	echo "stress: FAILED (a client's call failed: a deadlock or serialization error)" >&2
	exit 1
fi
passes_ok=$(grep -c '^true$' "$PASSES" || true)
passes_all=$(wc -l <"$PASSES")
turned=$(q "SELECT count(*) FILTER (WHERE level > 0) || ' merged, ' || count(*) FILTER (WHERE sealed_at IS NOT NULL) || ' sealed, '
             || count(*) FILTER (WHERE key_filter IS NOT NULL) || ' with filters' FROM opsmeter.key_generations")
echo "stress: $passes_ok of $passes_all passes beside the clients ok; key generations now: $turned"
if [[ "$passes_ok" -lt 3 || "$passes_ok" != "$passes_all" || "$(q "SELECT count(*) FROM opsmeter.key_generations WHERE level > 0")" == 0 ]]; then
	echo "stress: FAILED (a pass failed, or no key generation was merged)" >&2
	exit 1
fi
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
