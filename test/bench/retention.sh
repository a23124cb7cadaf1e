#!/usr/bin/env bash
# Benchmark of the rollup and retention (issue #3), in one run on one
# throwaway cluster, each next to its baseline:
#   (g) a rollup pass over N new rows      vs  INSERT ... SELECT ... GROUP BY of the same rows
#   (h) retention of one day of N raw rows vs  DELETE of the same rows from a plain table
#   (i) ingest throughput, worker every 1 s vs  worker off
# Sizes: BENCH_RETENTION_EVENTS (default 1000000), BENCH_SECONDS (default 30).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_RETENTION_EVENTS:-1000000}"
SECS="${BENCH_SECONDS:-30}"
RESULTS="${BENCH_RETENTION_RESULTS:-$REPO/bench-results/retention.md}"
timed() {	# timed SQL -> seconds
	local t0 t1
	t0=$(now_s)
	q "$1" >/dev/null
	t1=$(now_s)
	calc "%.3f" "$t1 - $t0"
}

opsmeter_require_packages
opsmeter_build_install
opsmeter_cluster_start bench-retention \
	"shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"fsync = on" "synchronous_commit = on" "autovacuum = on" \
	"opsmeter.database = 'postgres'" "opsmeter.worker_enabled = off" "opsmeter.worker_interval = '1s'"

q "CREATE EXTENSION opsmeter"
q "SELECT opsmeter_create_workspace('bench')"
q "CREATE SCHEMA bench"
# One batch of events with random ids, for pgbench; day offset 0 = now.
q "CREATE FUNCTION bench.batch(n int, days_ago int DEFAULT 0) RETURNS jsonb LANGUAGE sql AS \$\$
    SELECT jsonb_agg(jsonb_build_object(
        'externalRequestId', md5(random()::text || clock_timestamp()::text || i),
        'provider', 'openai', 'model', (ARRAY['gpt-4o', 'gpt-4o-mini', 'o3-mini', 'acme-x'])[1 + i % 4],
        'inputTokens', 100 + i % 900, 'outputTokens', 10 + i % 300, 'latencyMs', 100 + i % 2000,
        'userId', 'user-' || (i % 500), 'tenantId', 'tenant-' || (i % 40),
        'endpointTag', 'ep-' || (i % 25), 'promptVersion', 'v' || (i % 6),
        'timestamp', to_char(CASE WHEN days_ago = 0
                                  THEN now() AT TIME ZONE 'UTC' - make_interval(secs => i % 3600)
                                  ELSE date_trunc('day', now() AT TIME ZONE 'UTC') - make_interval(days => days_ago)
                                       + make_interval(secs => (i * 86399.0 / n)) END,
                             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')))
      FROM generate_series(1, n) i
\$\$"

log "ingesting $N events dated two days ago (batches of 1000)"
t0=$(now_s)
psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
SET opsmeter.workspace = 'bench';
SELECT opsmeter_ingest(bench.batch(1000, 2)) FROM generate_series(1, $N / 1000);
SQL
log "  done in $(calc "%.1f" "$(now_s) - $t0") s; $(q "SELECT count(*) FROM opsmeter.events") rows"
q "CHECKPOINT"
q "SELECT count(*) FROM opsmeter.events" >/dev/null   # warm the cache for both sides

# (g) baseline: the same GROUPING SETS aggregation (hourly and daily rows, latency
# histograms) into empty copies of the summary tables.
q "CREATE TABLE bench.summaries_baseline (LIKE opsmeter.summaries INCLUDING ALL)"
q "CREATE TABLE bench.histogram_baseline (LIKE opsmeter.latency_histogram INCLUDING ALL)"
BASELINE_SQL="WITH s AS (INSERT INTO bench.summaries_baseline
  SELECT f.workspace_id,
         CASE WHEN GROUPING(f.provider, f.model) = 0 THEN 'model' WHEN GROUPING(f.user_id) = 0 THEN 'user'
              WHEN GROUPING(f.tenant_id) = 0 THEN 'tenant' WHEN GROUPING(f.endpoint_tag) = 0 THEN 'endpoint'
              WHEN GROUPING(f.prompt_version) = 0 THEN 'prompt_version' ELSE 'overview' END::opsmeter.summary_dimension,
         CASE WHEN GROUPING(date_trunc('hour', f.ts, 'UTC')) = 0 THEN 'hour' ELSE 'day' END::opsmeter.summary_grain,
         coalesce(date_trunc('hour', f.ts, 'UTC'), date_trunc('day', f.ts, 'UTC')),
         f.data_mode, f.environment, f.provider, f.model,
         CASE WHEN GROUPING(f.user_id) = 0 THEN f.user_id WHEN GROUPING(f.tenant_id) = 0 THEN f.tenant_id
              WHEN GROUPING(f.endpoint_tag) = 0 THEN f.endpoint_tag WHEN GROUPING(f.prompt_version) = 0 THEN f.prompt_version END,
         count(*), count(*) FILTER (WHERE f.is_error), sum(f.input_tokens), sum(f.output_tokens), sum(f.total_tokens),
         sum(f.cached_input_tokens), sum(f.reasoning_tokens), coalesce(sum(f.cost_usd), 0),
         count(*) FILTER (WHERE f.cost_usd IS NULL), coalesce(sum(f.total_tokens) FILTER (WHERE f.cost_usd IS NULL), 0),
         count(f.latency_ms), coalesce(sum(f.latency_ms), 0)
    FROM opsmeter.events f
   GROUP BY f.workspace_id, f.data_mode, f.environment,
            GROUPING SETS ((date_trunc('hour', f.ts, 'UTC')), (date_trunc('hour', f.ts, 'UTC'), f.provider, f.model),
                           (date_trunc('hour', f.ts, 'UTC'), f.user_id), (date_trunc('hour', f.ts, 'UTC'), f.tenant_id),
                           (date_trunc('hour', f.ts, 'UTC'), f.endpoint_tag), (date_trunc('hour', f.ts, 'UTC'), f.prompt_version),
                           (date_trunc('day', f.ts, 'UTC'), f.provider, f.model), (date_trunc('day', f.ts, 'UTC'), f.user_id),
                           (date_trunc('day', f.ts, 'UTC'), f.tenant_id), (date_trunc('day', f.ts, 'UTC'), f.endpoint_tag),
                           (date_trunc('day', f.ts, 'UTC'), f.prompt_version))
  RETURNING 1)
  INSERT INTO bench.histogram_baseline
  SELECT f.workspace_id, date_trunc('hour', f.ts, 'UTC'), f.data_mode, f.environment, opsmeter.latency_histogram_of(f.latency_ms, 1)
    FROM opsmeter.events f WHERE f.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4"
# The baseline runs before and after the pass; the faster of the two counts,
# so the order cannot flatter the pass.
G_BASE1=$(timed "$BASELINE_SQL")
q "TRUNCATE bench.summaries_baseline, bench.histogram_baseline"
G_PASS=$(timed "SELECT opsmeter_run_retention()")
G_BASE2=$(timed "$BASELINE_SQL")
G_BASE=$(awk "BEGIN { print ($G_BASE1 < $G_BASE2) ? $G_BASE1 : $G_BASE2 }")
G_ROWS=$(q "SELECT rows_rolled_up FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
G_SAME=$(q "SELECT count(*) = 0 FROM ((SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM opsmeter.summaries
                                        EXCEPT SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM bench.summaries_baseline)
                                       UNION ALL
                                       (SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM bench.summaries_baseline
                                        EXCEPT SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM opsmeter.summaries)) d")
log "(g) rollup pass ${G_PASS}s over $G_ROWS rows vs INSERT..SELECT GROUP BY ${G_BASE1}s / ${G_BASE2}s (same result: $G_SAME)"

# (h) baseline: the same rows in a plain table with the same keys, DELETEd.
q "CREATE TABLE bench.plain_day AS SELECT * FROM opsmeter.events"
q "ALTER TABLE bench.plain_day ADD PRIMARY KEY (workspace_id, external_request_id)"
q "CREATE INDEX ON bench.plain_day (workspace_id, ts)"
q "CHECKPOINT"
H_DELETE=$(timed "DELETE FROM bench.plain_day WHERE ts < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'")
q "ALTER SYSTEM SET opsmeter.raw_retention = '1d'"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
q "CHECKPOINT"
# What a DROP of the day alone costs, on a copy (the rest of a pass is the
# deletion of the day's dedup keys).
q "CREATE TABLE bench.drop_probe (LIKE opsmeter.events INCLUDING ALL)"
q "INSERT INTO bench.drop_probe SELECT * FROM opsmeter.events"
q "CHECKPOINT"
H_DROP_ONLY=$(timed "DROP TABLE bench.drop_probe")
H_PASS=$(timed "SELECT opsmeter_run_retention()")
H_FACTS=$(q "SELECT partitions_dropped || ' partition(s), ' || keys_purged || ' keys' FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
H_LEFT=$(q "SELECT count(*) FROM opsmeter.events")
log "(h) retention pass ${H_PASS}s ($H_FACTS dropped; $H_LEFT raw rows left) vs DELETE ${H_DELETE}s; a DROP alone takes ${H_DROP_ONLY}s"
q "ALTER SYSTEM RESET opsmeter.raw_retention"
q "SELECT pg_reload_conf()" >/dev/null

# (i) ingest throughput with the worker every second vs off.
cat >"$OPSMETER_PGDATA_ROOT/ingest.sql" <<'SQL'
SET opsmeter.workspace = 'bench';
SELECT opsmeter_ingest(bench.batch(100));
SQL
tps() {
	pgbench -n -c 4 -j 2 -T "$SECS" -f "$OPSMETER_PGDATA_ROOT/ingest.sql" postgres 2>/dev/null |
		sed -nE 's/^tps = ([0-9.]+).*/\1/p'
}
I_OFF=$(tps)
q "ALTER SYSTEM SET opsmeter.worker_enabled = on"
q "SELECT pg_reload_conf()" >/dev/null
sleep 2
RUNS0=$(q "SELECT count(*) FROM opsmeter.retention_runs WHERE triggered_by = 'worker'")
I_ON=$(tps)
RUNS1=$(q "SELECT count(*) FROM opsmeter.retention_runs WHERE triggered_by = 'worker'")
q "SELECT opsmeter_run_retention()" >/dev/null
I_EXACT=$(q "SELECT (SELECT count(*) FROM opsmeter.events WHERE ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
  = (SELECT sum(requests) FROM opsmeter.summaries WHERE dimension = 'overview'
     AND period_start >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')")
log "(i) ingest ${I_OFF} tps worker off vs ${I_ON} tps worker every 1 s ($((RUNS1 - RUNS0)) worker passes; exact after: $I_EXACT)"

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter rollup and retention benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $(q 'SELECT version()' | cut -d, -f1)"
	echo "- N = $N events over one UTC day; fsync, synchronous_commit and autovacuum on (a worker updates the same summary rows every second; production vacuums them); pgbench 4 clients x ${SECS}s, 100 events per call"
	echo
	echo "| measurement | opsmeter | baseline | ratio | target | result |"
	echo "| --- | ---: | ---: | --- | --- | --- |"
	echo "| (g) rollup pass over $G_ROWS new rows vs INSERT ... SELECT ... GROUP BY (faster of ${G_BASE1} s before / ${G_BASE2} s after; same summaries: $G_SAME) | ${G_PASS} s | ${G_BASE} s | $(calc "%.2f" "$G_PASS / $G_BASE")x the baseline's time | <= 1.5x | $(awk "BEGIN{print ($G_PASS <= 1.5 * $G_BASE) ? \"PASS\" : \"MISS\"}") |"
	echo "| (h) retention of one day of $N raw rows ($H_FACTS) vs DELETE of the same rows | ${H_PASS} s | ${H_DELETE} s | $(calc "%.1f" "$H_DELETE / $H_PASS")x faster | >= 50x | $(awk "BEGIN{print ($H_DELETE >= 50 * $H_PASS) ? \"PASS\" : \"MISS\"}") |"
	echo "| (h, info) DROP of the same day's partition alone, without its dedup keys | ${H_DROP_ONLY} s | ${H_DELETE} s | $(calc "%.0f" "$H_DELETE / $H_DROP_ONLY")x faster | info | - |"
	echo "| (i) ingest with the worker every 1 s ($((RUNS1 - RUNS0)) passes) vs worker off, events/s | $(calc "%.0f" "$I_ON * 100") | $(calc "%.0f" "$I_OFF * 100") | $(calc "%.2f" "$I_ON / $I_OFF") | >= 0.9 | $(awk "BEGIN{print ($I_ON >= 0.9 * $I_OFF) ? \"PASS\" : \"MISS\"}") |"
} | tee "$RESULTS"
