#!/usr/bin/env bash
# Backups: pg_dump a database using opsmeter (workspaces, members, raw rows in
# several daily partitions, dedup keys, both tiers of summaries and the days
# they cover, watermark, a loaded price), restore it into a fresh database,
# and check that everything came back and still works: same totals,
# duplicates still refused, the next pass exact in both tiers.
# Runs against the cluster of test/run-tests.sh.
set -euo pipefail
SRC=opsmeter_dump_src
DST=opsmeter_dump_dst
DUMP="$(mktemp)"
cleanup() {
	rm -f "$DUMP"
	psql -X -q -d postgres -c "SET client_min_messages = warning" \
		-c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" >/dev/null 2>&1 || true
}
trap cleanup EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
cleanup
psql -X -q -d postgres -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST"

q $SRC "CREATE EXTENSION opsmeter"
q $SRC "SELECT opsmeter_create_workspace('backup')" >/dev/null
q $SRC "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dump_member') THEN CREATE ROLE dump_member; END IF; END \$\$"
q $SRC "SELECT opsmeter_add_member('backup', 'dump_member', 'viewer')" >/dev/null
q $SRC "INSERT INTO opsmeter.prices (provider, model, effective_from, input_usd_per_mtok, output_usd_per_mtok, source)
        VALUES ('acme', 'acme-1', '-infinity', 1, 2, 'file:/tmp/acme.json')"
q $SRC "SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'd-' || i, 'provider',
          CASE WHEN i % 2 = 0 THEN 'acme' ELSE 'openai' END, 'model', CASE WHEN i % 2 = 0 THEN 'acme-1' ELSE 'gpt-4o' END,
          'inputTokens', 1000 + i, 'outputTokens', 100,
          'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(hours => i), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))))
        FROM generate_series(1, 60) i" >/dev/null
# A busy day (yesterday, UTC): enough rows, few users, so that the pass
# details it and tier 2 (opsmeter.summaries) has rows to dump.
q $SRC "SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'busy-' || i, 'provider', 'openai',
          'model', 'gpt-4o', 'inputTokens', 100 + i, 'outputTokens', 10, 'userId', 'u' || (i % 2),
          'timestamp', to_char(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '12 hours' + i * interval '1 second',
                               'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))))
        FROM generate_series(1, 400) i" >/dev/null
q $SRC "SELECT opsmeter_run_retention()" >/dev/null
q $SRC "SELECT opsmeter_ingest('{\"externalRequestId\": \"tail-1\", \"provider\": \"openai\", \"model\": \"gpt-4o\", \"inputTokens\": 5, \"outputTokens\": 5}')" >/dev/null

facts="SELECT (SELECT count(*) FROM opsmeter.events) || ' rows, ' ||
  (SELECT count(DISTINCT tableoid) FROM opsmeter.events) || ' partitions, ' ||
  (SELECT count(*) FROM opsmeter.request_keys) || ' keys, ' ||
  (SELECT sum(cost_usd) FROM opsmeter.events) || ' usd, ' ||
  (SELECT sum(requests) FROM opsmeter.summary_quarters) || ' summarized, ' ||
  (SELECT count(*) FROM opsmeter.summaries) || ' tier-2 rows, ' ||
  (SELECT count(*) FROM opsmeter.rollup_days) || ' days (' ||
  (SELECT count(*) FROM opsmeter.rollup_days WHERE detail_rows IS NOT NULL) || ' detailed), watermark ' ||
  (opsmeter.rollup_watermark() > 0) || ', ' ||
  (SELECT count(*) FROM opsmeter.workspace_members) || ' members, ' ||
  (SELECT count(*) FROM opsmeter.prices WHERE provider = 'acme') || ' acme price, ' ||
  (SELECT count(*) FROM opsmeter.retention_runs) || ' runs'"
before=$(q $SRC "$facts")
[[ "$(q $SRC "SELECT count(*) > 0 FROM opsmeter.summaries")" == t ]] ||
	{ echo "dump_restore: FAILED: no detailed day before the dump ($before)" >&2; exit 1; }
pg_dump -Fc -d $SRC -f "$DUMP"
pg_restore -d $DST --exit-on-error "$DUMP"
after=$(q $DST "$facts")
echo "dump_restore: before: $before"
echo "dump_restore: after:  $after"
[[ "$before" == "$after" ]] || { echo "dump_restore: FAILED: restored database differs" >&2; exit 1; }

dup=$(q $DST "SELECT opsmeter_ingest('{\"externalRequestId\": \"d-7\", \"provider\": \"openai\", \"model\": \"gpt-4o\", \"inputTokens\": 1, \"outputTokens\": 1}') ->> 'duplicate'")
new=$(q $DST "SELECT opsmeter_ingest('{\"externalRequestId\": \"after-restore\", \"provider\": \"acme\", \"model\": \"acme-1\", \"inputTokens\": 1000000, \"outputTokens\": 0}') ->> 'costUsd'")
q $DST "SELECT opsmeter_run_retention()" >/dev/null
# opsmeter.rollup_days counts every row; tier 1 every row of the summarized
# days (the busy one; the small days stay in raw rows only); tier 2's hourly
# overview rows every row of the detailed days.
exact=$(q $DST "SELECT (SELECT count(*) FROM opsmeter.events) = (SELECT sum(requests) FROM opsmeter.rollup_days)
  AND (SELECT count(*) FROM opsmeter.events e JOIN opsmeter.rollup_days d
         ON d.workspace_id = e.workspace_id AND d.day = (e.ts AT TIME ZONE 'UTC')::date AND d.quarter_rows IS NOT NULL)
      = (SELECT sum(requests) FROM opsmeter.summary_quarters)
  AND (SELECT count(*) FROM opsmeter.events e JOIN opsmeter.rollup_days d
         ON d.workspace_id = e.workspace_id AND d.day = (e.ts AT TIME ZONE 'UTC')::date AND d.detail_rows IS NOT NULL)
      = (SELECT sum(requests) FROM opsmeter.summaries WHERE dimension = 'overview' AND grain = 'hour')")
echo "dump_restore: duplicate after restore: $dup; restored price used: \$$new; summaries exact after a pass: $exact"
[[ "$dup" == "true" && "$new" == "1" && "$exact" == "t" ]] || { echo "dump_restore: FAILED" >&2; exit 1; }
echo "dump_restore: ok"
