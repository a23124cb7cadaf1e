#!/usr/bin/env bash
# Benchmark of the rollup and retention (issue #3), in one run on one
# throwaway cluster, each next to its baseline:
#   (g) a rollup pass over N new rows      vs  INSERT ... SELECT ... GROUP BY of the same rows
#   (h) retention of one day of N raw rows vs  DELETE of the same rows from a plain table
#   (i) ingest throughput, worker every 1 s vs  worker off
# The N rows of (g) are one workspace's in one UTC day: far more than 256,
# and both tiers fit in them, so the pass writes tier 1
# (opsmeter.summary_quarters) and details the day (tier 2,
# opsmeter.summaries: hourly and daily rows of every dimension, built from
# the day's raw rows).  The baseline writes the same two tiers with plain
# INSERT ... SELECT ... GROUP BY: tier 1's grouping with its histograms,
# and tier 2's grouping sets with the hourly latency histograms in a table
# of their own; the report says whether the day was detailed.
# Times are wall times measured on the server (bench.once in lib.sh), with
# the server's CPU time beside them (backend + exited children of the
# postmaster: parallel workers, and autovacuum workers, which are on here).
# Sizes: BENCH_RETENTION_EVENTS (default 1000000), BENCH_SECONDS (default 30).
# BENCH_SKIP_INSTALL=1 uses the installed extension as it is (no build/install).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_RETENTION_EVENTS:-1000000}"
SECS="${BENCH_SECONDS:-30}"
RESULTS="${BENCH_RETENTION_RESULTS:-$REPO/bench-results/retention.md}"
# timed SQL: run SQL once, timed on the server; sets T_S and T_CPU (seconds)
timed() {
	local ms cpu
	IFS='|' read -r ms cpu < <(q "SELECT * FROM bench.once(\$bench\$$1\$bench\$)")
	T_S=$(calc "%.3f" "$ms / 1000")
	T_CPU=$(calc "%.3f" "$cpu / 1000")
}

opsmeter_require_packages
if [[ "${BENCH_SKIP_INSTALL:-0}" == "1" ]]; then
	log "BENCH_SKIP_INSTALL=1: using the installed extension, no build/install"
else
	opsmeter_build_install
fi
opsmeter_cluster_start bench-retention \
	"shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"fsync = on" "synchronous_commit = on" "autovacuum = on" \
	"opsmeter.database = 'postgres'" "opsmeter.worker_enabled = off" "opsmeter.worker_interval = '1s'"

q "CREATE EXTENSION opsmeter"
q "SELECT opsmeter_create_workspace('bench')"
q "CREATE SCHEMA bench"
bench_timing_functions
FINGERPRINT="$(bench_installed_fingerprint)"
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

# (g) baseline: the two tiers the pass writes for a detailed day, by plain
# INSERT ... SELECT ... GROUP BY into empty tables without indexes: tier 1
# (per quarter hour, mode, environment and model, with latency histograms),
# tier 2 (hourly and daily rows of every dimension), and tier 2's hourly
# latency histograms (the pass keeps them on the overview rows).
q "CREATE TABLE bench.quarters_baseline (LIKE opsmeter.summary_quarters)"
q "CREATE TABLE bench.summaries_baseline (LIKE opsmeter.summaries)"
q "CREATE TABLE bench.histogram_baseline (workspace_id bigint, period_start timestamptz, data_mode opsmeter.data_mode,
                                          environment opsmeter.environment, latency_counts bigint[])"
BASELINE_SQL="WITH q AS (INSERT INTO bench.quarters_baseline
  SELECT f.workspace_id, date_bin('15 minutes', f.ts, timestamptz '2000-01-01 00:00:00+00'), f.data_mode, f.environment,
         f.provider, f.model, count(*), count(*) FILTER (WHERE f.is_error), sum(f.input_tokens), sum(f.output_tokens),
         sum(f.total_tokens), sum(f.cached_input_tokens), sum(f.reasoning_tokens), coalesce(sum(f.cost_usd), 0),
         count(*) FILTER (WHERE f.cost_usd IS NULL), coalesce(sum(f.total_tokens) FILTER (WHERE f.cost_usd IS NULL), 0),
         count(f.latency_ms), coalesce(sum(f.latency_ms), 0),
         coalesce(opsmeter.latency_histogram_of(opsmeter.latency_bucket(f.latency_ms), (f.latency_ms IS NOT NULL)::integer), '{}')
    FROM opsmeter.events f
   GROUP BY 1, 2, 3, 4, 5, 6
  RETURNING 1), s AS (INSERT INTO bench.summaries_baseline
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
         count(f.latency_ms), coalesce(sum(f.latency_ms), 0), NULL
    FROM opsmeter.events f
   GROUP BY f.workspace_id, f.data_mode, f.environment,
            GROUPING SETS ((date_trunc('hour', f.ts, 'UTC')), (date_trunc('hour', f.ts, 'UTC'), f.provider, f.model),
                           (date_trunc('hour', f.ts, 'UTC'), f.user_id), (date_trunc('hour', f.ts, 'UTC'), f.tenant_id),
                           (date_trunc('hour', f.ts, 'UTC'), f.endpoint_tag), (date_trunc('hour', f.ts, 'UTC'), f.prompt_version),
                           (date_trunc('day', f.ts, 'UTC')),
                           (date_trunc('day', f.ts, 'UTC'), f.provider, f.model), (date_trunc('day', f.ts, 'UTC'), f.user_id),
                           (date_trunc('day', f.ts, 'UTC'), f.tenant_id), (date_trunc('day', f.ts, 'UTC'), f.endpoint_tag),
                           (date_trunc('day', f.ts, 'UTC'), f.prompt_version))
  RETURNING 1)
  INSERT INTO bench.histogram_baseline
  SELECT f.workspace_id, date_trunc('hour', f.ts, 'UTC'), f.data_mode, f.environment,
         opsmeter.latency_histogram_of(opsmeter.latency_bucket(f.latency_ms), 1)
    FROM opsmeter.events f WHERE f.latency_ms IS NOT NULL GROUP BY 1, 2, 3, 4"
# The baseline runs before and after the pass; the faster of the two counts,
# so the order cannot flatter the pass.
timed "$BASELINE_SQL"
G_BASE1=$T_S G_BASE1_CPU=$T_CPU
q "TRUNCATE bench.quarters_baseline, bench.summaries_baseline, bench.histogram_baseline"
timed "SELECT opsmeter_run_retention()"
G_PASS=$T_S G_PASS_CPU=$T_CPU
q "TRUNCATE bench.quarters_baseline, bench.summaries_baseline, bench.histogram_baseline"
timed "$BASELINE_SQL"
G_BASE2=$T_S G_BASE2_CPU=$T_CPU
read -r G_BASE G_BASE_CPU < <(awk "BEGIN { print ($G_BASE1 < $G_BASE2) ? \"$G_BASE1 $G_BASE1_CPU\" : \"$G_BASE2 $G_BASE2_CPU\" }")
G_ROWS=$(q "SELECT rows_rolled_up FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
G_DETAILED=$(q "SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) || ' of ' || count(*) FROM opsmeter.rollup_days")
# Same result: tier 1 row for row; tier 2 on its keys, requests and cost.
G_SAME=$(q "SELECT (SELECT count(*) FROM ((TABLE opsmeter.summary_quarters EXCEPT ALL TABLE bench.quarters_baseline)
                                          UNION ALL (TABLE bench.quarters_baseline EXCEPT ALL TABLE opsmeter.summary_quarters)) d) = 0
               AND (SELECT count(*) FROM ((SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM opsmeter.summaries
                                           EXCEPT SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM bench.summaries_baseline)
                                          UNION ALL
                                          (SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM bench.summaries_baseline
                                           EXCEPT SELECT dimension, grain, period_start, provider, model, key, requests, cost_usd FROM opsmeter.summaries)) d) = 0")
G_TIERS=$(q "SELECT (SELECT count(*) FROM opsmeter.summary_quarters) || ' tier-1 + ' || (SELECT count(*) FROM opsmeter.summaries) || ' tier-2 rows'")
log "(g) rollup pass ${G_PASS}s (CPU ${G_PASS_CPU}s) over $G_ROWS rows ($G_DETAILED workspace-days detailed; $G_TIERS) vs INSERT..SELECT GROUP BY ${G_BASE1}s / ${G_BASE2}s (CPU ${G_BASE1_CPU}s / ${G_BASE2_CPU}s; same result: $G_SAME)"

# (h) baseline: the same rows in a plain table with the same keys, DELETEd.
q "CREATE TABLE bench.plain_day AS SELECT * FROM opsmeter.events"
q "ALTER TABLE bench.plain_day ADD PRIMARY KEY (workspace_id, external_request_id)"
q "CREATE INDEX ON bench.plain_day (workspace_id, ts)"
q "CHECKPOINT"
timed "DELETE FROM bench.plain_day WHERE ts < date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '1 day'"
H_DELETE=$T_S H_DELETE_CPU=$T_CPU
q "ALTER SYSTEM SET opsmeter.raw_retention = '1d'"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
q "CHECKPOINT"
# What a DROP of the day alone costs, on a copy (the rest of a pass is the
# deletion of the day's dedup keys).
q "CREATE TABLE bench.drop_probe (LIKE opsmeter.events INCLUDING ALL)"
q "INSERT INTO bench.drop_probe SELECT * FROM opsmeter.events"
q "CHECKPOINT"
timed "DROP TABLE bench.drop_probe"
H_DROP_ONLY=$T_S H_DROP_ONLY_CPU=$T_CPU
timed "SELECT opsmeter_run_retention()"
H_PASS=$T_S H_PASS_CPU=$T_CPU
H_FACTS=$(q "SELECT partitions_dropped || ' partition(s), ' || keys_purged || ' keys' FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
H_LEFT=$(q "SELECT count(*) FROM opsmeter.events")
log "(h) retention pass ${H_PASS}s (CPU ${H_PASS_CPU}s; $H_FACTS dropped; $H_LEFT raw rows left) vs DELETE ${H_DELETE}s (CPU ${H_DELETE_CPU}s); a DROP alone takes ${H_DROP_ONLY}s (CPU ${H_DROP_ONLY_CPU}s)"
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
# Tier 1 counts every rolled-up row (tier 2 only detailed days).
I_EXACT=$(q "SELECT (SELECT count(*) FROM opsmeter.events WHERE ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
  = (SELECT sum(requests) FROM opsmeter.summary_quarters
     WHERE period_start >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')")
log "(i) ingest ${I_OFF} tps worker off vs ${I_ON} tps worker every 1 s ($((RUNS1 - RUNS0)) worker passes; exact after: $I_EXACT)"

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter rollup and retention benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $(q 'SELECT version()' | cut -d, -f1); $FINGERPRINT"
	echo "- times: wall time measured on the server (bench.once: clock_timestamp() around a PL/pgSQL EXECUTE), CPU: the server's CPU time of the same execution (backend + exited children of the postmaster: parallel and autovacuum workers)"
	echo "- N = $N events over one UTC day; fsync, synchronous_commit and autovacuum on (a worker updates the same summary rows every second; production vacuums them); pgbench 4 clients x ${SECS}s, 100 events per call"
	echo
	echo "| measurement | opsmeter | baseline | ratio | CPU: opsmeter / baseline | target | result |"
	echo "| --- | ---: | ---: | --- | --- | --- | --- |"
	echo "| (g) rollup pass over $G_ROWS new rows ($G_DETAILED workspace-days detailed; $G_TIERS) vs INSERT ... SELECT ... GROUP BY of tier 1 + tier 2 (faster of ${G_BASE1} s before / ${G_BASE2} s after; same summaries: $G_SAME) | ${G_PASS} s | ${G_BASE} s | $(calc "%.2f" "$G_PASS / $G_BASE")x the baseline's time | ${G_PASS_CPU} s / ${G_BASE_CPU} s | <= 1.5x | $(awk "BEGIN{print ($G_PASS <= 1.5 * $G_BASE) ? \"PASS\" : \"MISS\"}") |"
	echo "| (h) retention of one day of $N raw rows ($H_FACTS) vs DELETE of the same rows | ${H_PASS} s | ${H_DELETE} s | $(calc "%.1f" "$H_DELETE / $H_PASS")x faster | ${H_PASS_CPU} s / ${H_DELETE_CPU} s | >= 50x | $(awk "BEGIN{print ($H_DELETE >= 50 * $H_PASS) ? \"PASS\" : \"MISS\"}") |"
	echo "| (h, info) DROP of the same day's partition alone, without its dedup keys | ${H_DROP_ONLY} s | ${H_DELETE} s | $(calc "%.0f" "$H_DELETE / $H_DROP_ONLY")x faster | ${H_DROP_ONLY_CPU} s / ${H_DELETE_CPU} s | info | - |"
	echo "| (i) ingest with the worker every 1 s ($((RUNS1 - RUNS0)) passes) vs worker off, events/s | $(calc "%.0f" "$I_ON * 100") | $(calc "%.0f" "$I_OFF * 100") | $(calc "%.2f" "$I_ON / $I_OFF") | - | >= 0.9 | $(awk "BEGIN{print ($I_ON >= 0.9 * $I_OFF) ? \"PASS\" : \"MISS\"}") |"
} | tee "$RESULTS"
