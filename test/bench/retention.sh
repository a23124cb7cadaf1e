#!/usr/bin/env bash
# Benchmark of the rollup and retention (issue #3), in one run on one
# throwaway cluster, each next to its baseline:
#   (g) a rollup pass over N new rows      vs  INSERT ... SELECT ... GROUP BY of the same rows
#   (h) retention of one day of N raw rows, with HISTORY_DAYS younger days
#       kept                               vs  DELETE of the same rows from a
#       plain table holding the same days, with the same keys, + its VACUUM
#   (i) ingest throughput, worker every 1 s vs  worker off
#   (j) WAL bytes per single-event call with the history loaded vs on the
#       empty database (each right after a CHECKPOINT), the open generation
#       just under opsmeter.key_generation_size; (j2) the WAL of merging
#       generations, per key, added once per merge level
#   (k) batch ingest of new keys with the history's sealed generations,
#       behind their key filters vs without them (info)
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
# The N rows of (g) are dated HISTORY_DAYS + 1 days back, the oldest day;
# the history (HISTORY_ROWS rows a day, copies of the day's rows with other
# ids) is written straight into the tables, its keys into weekly generations
# sealed as ingest would have sealed them, and counts as rolled up.
# Sizes: BENCH_RETENTION_EVENTS (default 1000000), BENCH_SECONDS (default 30),
# BENCH_HISTORY_DAYS (default 30), BENCH_HISTORY_ROWS (default N / 4),
# BENCH_WAL_CALLS (default 2000).
# BENCH_SKIP_INSTALL=1 uses the installed extension as it is (no build/install).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_RETENTION_EVENTS:-1000000}"
SECS="${BENCH_SECONDS:-30}"
HISTORY_DAYS="${BENCH_HISTORY_DAYS:-30}"
HISTORY_ROWS="${BENCH_HISTORY_ROWS:-$((N / 4))}"
WAL_CALLS="${BENCH_WAL_CALLS:-2000}"
OLD_DAY=$((HISTORY_DAYS + 1))   # days back of the N rows: the day retention drops
RESULTS="${BENCH_RETENTION_RESULTS:-$REPO/bench-results/retention.md}"
# timed SQL: run SQL once, timed on the server; sets T_S and T_CPU (seconds)
timed() {
	local ms cpu
	IFS='|' read -r ms cpu < <(q "SELECT * FROM bench.once(\$bench\$$1\$bench\$)")
	T_S=$(calc "%.3f" "$ms / 1000")
	T_CPU=$(calc "%.3f" "$cpu / 1000")
}
# timed_utility SQL: the same for a statement that cannot run in a function
# (VACUUM): clock and CPU read in the same session around it.
timed_utility() {
	local out c0 t0 c1 t1
	out="$(psql -X -A -t -q -v ON_ERROR_STOP=1 -c "SELECT bench.cpu_ms() || '|' || extract(epoch FROM clock_timestamp())" \
		-c "$1" -c "SELECT bench.cpu_ms(true) || '|' || extract(epoch FROM clock_timestamp())")"
	IFS='|' read -r c0 t0 < <(echo "$out" | head -n 1)
	IFS='|' read -r c1 t1 < <(echo "$out" | tail -n 1)
	T_S=$(calc "%.3f" "$t1 - $t0")
	T_CPU=$(calc "%.3f" "($c1 - $c0) / 1000")
}
# wal_per_call: WAL bytes per single-event ingest call (one client, prepared),
# WAL_CALLS calls right after a CHECKPOINT; sets W_BYTES and W_FPI (full-page
# images per call, from pg_stat_wal).
wal_per_call() {
	local lsn0 fpi0 lsn1 fpi1
	q "CHECKPOINT"
	IFS='|' read -r lsn0 fpi0 < <(q "SELECT pg_current_wal_insert_lsn(), wal_fpi FROM pg_stat_wal")
	pgbench -n -M prepared -c 1 -t "$WAL_CALLS" -f "$OPSMETER_PGDATA_ROOT/single.sql" postgres >/dev/null 2>&1 ||
		{ echo "bench: pgbench for (j) failed" >&2; exit 1; }
	q "SELECT pg_stat_force_next_flush()" >/dev/null
	sleep 0.5
	IFS='|' read -r lsn1 fpi1 < <(q "SELECT pg_current_wal_insert_lsn(), wal_fpi FROM pg_stat_wal")
	W_BYTES=$(q "SELECT round(pg_wal_lsn_diff('$lsn1', '$lsn0') / $WAL_CALLS)")
	W_FPI=$(calc "%.2f" "($fpi1 - $fpi0) / $WAL_CALLS")
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
# Generations by age only until (j): the history below is written in weekly
# generations, sealed as the passes of those days would have sealed them.
q "ALTER SYSTEM SET opsmeter.key_generation_size = 0"
q "SELECT pg_reload_conf()" >/dev/null
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

# (j) on the empty database: single events with random ids, stamped now.
cat >"$OPSMETER_PGDATA_ROOT/single.sql" <<'SQL'
SET opsmeter.workspace = 'bench';
SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', md5(random()::text || clock_timestamp()::text),
         'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 100, 'outputTokens', 10, 'userId', 'u1'));
SQL
wal_per_call
J_EMPTY=$W_BYTES J_EMPTY_FPI=$W_FPI
log "(j) empty database: $J_EMPTY WAL bytes per single-event call ($J_EMPTY_FPI full-page images)"
# Its rows and keys leave again (never rolled up: the worker is off), so
# that the first generation holds the oldest day's keys only.
q "TRUNCATE opsmeter.events, opsmeter.request_keys"

# The oldest day must be accepted by ingest.
q "ALTER SYSTEM SET opsmeter.raw_retention = '$((OLD_DAY + 2))d'"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
log "ingesting $N events dated $OLD_DAY days ago (batches of 1000)"
t0=$(now_s)
psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
SET opsmeter.workspace = 'bench';
SELECT opsmeter_ingest(bench.batch(1000, $OLD_DAY)) FROM generate_series(1, $N / 1000);
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

# History: HISTORY_DAYS younger days of HISTORY_ROWS rows each, copies of
# the oldest day's rows under other ids, counted as rolled up (batch 0).
# Their keys go into generations of 7 days, sealed at the end of their last
# day as the passes of those days would have sealed them; the oldest day's
# keys (generation 1) are sealed at the end of that day.
day_start() { q "SELECT (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '$1 days') AT TIME ZONE 'UTC'"; }
seal_at_end_of() {	# seal the open generation as of the end of the day $1 days back
	q "SELECT opsmeter._open_key_generation(true)" >/dev/null
	# ten minutes before the day ends, so that its keys' rows are bounded by
	# that day (ingest accepts timestamps up to 5 minutes ahead); opened
	# when the one before was sealed (the first: at the start of its day),
	# and the new open one opened then too, so that every span is what the
	# passes of those days would have recorded (a merge looks at spans)
	q "UPDATE opsmeter.key_generations g
	      SET sealed_at = '$(day_start "$(($1 - 1))")'::timestamptz - interval '10 minutes',
	          opened_at = coalesce((SELECT max(p.sealed_at) FROM opsmeter.key_generations p WHERE p.generation < g.generation),
	                               '$(day_start "$1")'::timestamptz)
	    WHERE generation = (SELECT max(generation) - 1 FROM opsmeter.key_generations);
	   UPDATE opsmeter.key_generations SET opened_at = '$(day_start "$(($1 - 1))")'::timestamptz - interval '10 minutes'
	    WHERE sealed_at IS NULL"
}
log "writing $HISTORY_DAYS days of history, $HISTORY_ROWS rows a day"
t0=$(now_s)
q "SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date - $HISTORY_DAYS, (now() AT TIME ZONE 'UTC')::date + 7)" >/dev/null
seal_at_end_of "$OLD_DAY"
OLD_START="$(day_start "$OLD_DAY")"
for ((d = HISTORY_DAYS; d >= 1; d--)); do
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO opsmeter.events
SELECT e.workspace_id, e.ts + interval '$((OLD_DAY - d)) days', 0, e.input_tokens, e.output_tokens, e.total_tokens,
       e.cached_input_tokens, e.reasoning_tokens, e.latency_ms, e.is_error, e.data_mode, e.environment, e.pricing,
       e.ingested_by, e.ingested_at, e.external_request_id || '-h$d', e.provider, e.model, e.cost_usd, e.error_code,
       e.prompt_version, e.endpoint_tag, e.user_id, e.tenant_id, e.metadata
  FROM opsmeter.events e
 WHERE e.ts >= '$OLD_START' AND e.ts < '$OLD_START'::timestamptz + interval '1 day'
 LIMIT $HISTORY_ROWS;
INSERT INTO opsmeter.request_keys (workspace_id, external_request_id, event_day, generation)
SELECT e.workspace_id, e.external_request_id, (e.ts AT TIME ZONE 'UTC')::date,
       (SELECT generation FROM opsmeter.key_generations WHERE sealed_at IS NULL)
  FROM opsmeter.events e
 WHERE e.ts >= '$(day_start "$d")' AND e.ts < '$(day_start "$d")'::timestamptz + interval '1 day';
SQL
	# weekly generations, counted from the oldest history day; the last stays open
	if (((HISTORY_DAYS - d + 1) % 7 == 0 && d > 1)); then
		seal_at_end_of "$d"
	fi
done
q "VACUUM ANALYZE opsmeter.events"
q "VACUUM ANALYZE opsmeter.request_keys"
H_HIST_ROWS=$(q "SELECT count(*) FROM opsmeter.events")
H_GENS=$(q "SELECT count(*) || ' generations, the open one with ' ||
              (SELECT count(*) FROM opsmeter.request_keys k JOIN opsmeter.key_generations g USING (generation) WHERE g.sealed_at IS NULL)
              || ' keys' FROM opsmeter.key_generations")
log "  done in $(calc "%.1f" "$(now_s) - $t0") s: $H_HIST_ROWS rows and keys over $((HISTORY_DAYS + 1)) days; $H_GENS"

# (j) with the history, in the steady state of sealing by size: the open
# generation is sealed (as a pass seals one past its seal size), then
# (j, info) is measured with it empty, then it is filled by ingest to just
# under opsmeter.key_generation_size, the worst case between two passes,
# and (j) is measured.  The seal size is that GUC when few keys arrive
# between two checkpoints, which a CHECKPOINT every WAL_CALLS calls stands
# for (with more, a pass lets the index grow as far as 350 bytes per key
# expected between two checkpoints, so full-page images stay as cheap).
q "ALTER SYSTEM RESET opsmeter.key_generation_size"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
q "SELECT opsmeter._open_key_generation(true)" >/dev/null
J_SIZE=$(q "SELECT opsmeter.guc_key_generation_size()")
wal_per_call
J_SEALED=$W_BYTES J_SEALED_FPI=$W_FPI
log "(j, info) right after a seal: $J_SEALED WAL bytes per single-event call ($J_SEALED_FPI full-page images)"
open_index_size() {
	q "SELECT pg_relation_size(format('opsmeter.%I', opsmeter.key_generation_name(generation) || '_key')::regclass)
	     FROM opsmeter.key_generations WHERE sealed_at IS NULL"
}
# Each call of single.sql adds one key, so stop WAL_CALLS keys short of it.
while (($(open_index_size) + WAL_CALLS * 100 < J_SIZE)); do
	q "SET opsmeter.workspace = 'bench'; SELECT opsmeter_ingest(bench.batch(500))" >/dev/null
done
J_FILL=$(q "SELECT count(*) || ' keys, index ' || pg_size_pretty($(open_index_size)::bigint) FROM opsmeter.request_keys k
             JOIN opsmeter.key_generations g USING (generation) WHERE g.sealed_at IS NULL")
H_GENS=$(q "SELECT count(*) || ' generations; the open one with $J_FILL of ' || pg_size_pretty($J_SIZE::bigint) FROM opsmeter.key_generations")
wal_per_call
J_HIST=$W_BYTES J_HIST_FPI=$W_FPI
log "(j) with $H_HIST_ROWS keys ($H_GENS): $J_HIST WAL bytes per single-event call ($J_HIST_FPI full-page images); empty: $J_EMPTY"

# (k) batch ingest of new keys with the history's sealed generations, each
# behind its key filter, vs the same with the filters taken away (every key
# looked up in every sealed generation): what the filters save.  Each side
# in a session of its own, alternating, best of 3; 20,000 events a run.
q "UPDATE opsmeter.key_generations g SET key_filter = opsmeter._key_filter(format('opsmeter.%I', opsmeter.key_generation_name(g.generation))::regclass)
    WHERE g.sealed_at IS NOT NULL AND g.key_filter IS NULL"
q "CREATE TABLE bench.filter_bodies AS SELECT r, b, (SELECT string_agg(e::text, E'\n') FROM jsonb_array_elements(bench.batch(1000 + 0 * (r + b))) e) AS body
     FROM generate_series(1, 6) r, generate_series(1, 20) b"   # correlated: a new batch per row
q "CREATE TABLE bench.saved_filters AS SELECT generation, key_filter FROM opsmeter.key_generations"
K_GENS=$(q "SELECT count(*) FROM opsmeter.key_generations WHERE sealed_at IS NOT NULL")
k_run() {	# k_run ROUND -> "wall_ms|cpu_ms"
	q "SET opsmeter.workspace = 'bench'; SELECT * FROM bench.once(\$k\$DO \$d\$ DECLARE t text; BEGIN
	     FOR t IN SELECT body FROM bench.filter_bodies WHERE r = $1 ORDER BY b LOOP PERFORM opsmeter_ingest_ndjson(t); END LOOP; END \$d\$\$k\$)"
}
K_ON_MS=999999 K_OFF_MS=999999
for round in 1 2 3; do
	q "UPDATE opsmeter.key_generations g SET key_filter = s.key_filter FROM bench.saved_filters s WHERE s.generation = g.generation"
	IFS='|' read -r ms cpu < <(k_run $((2 * round - 1)))
	if (($(calc "%.0f" "$ms") < $(calc "%.0f" "$K_ON_MS"))); then K_ON_MS=$ms K_ON_CPU=$cpu; fi
	q "UPDATE opsmeter.key_generations SET key_filter = NULL"
	IFS='|' read -r ms cpu < <(k_run $((2 * round)))
	if (($(calc "%.0f" "$ms") < $(calc "%.0f" "$K_OFF_MS"))); then K_OFF_MS=$ms K_OFF_CPU=$cpu; fi
done
q "UPDATE opsmeter.key_generations g SET key_filter = s.key_filter FROM bench.saved_filters s WHERE s.generation = g.generation"
log "(k) 20,000 new events in NDJSON batches of 1,000 with $K_GENS sealed generations: ${K_ON_MS} ms (CPU ${K_ON_CPU} ms) with their key filters, ${K_OFF_MS} ms (CPU ${K_OFF_CPU} ms) without"
# (h) times retention only: roll up what (j) and (k) wrote first, and
# vacuum what that rollup left (its upserts), so that the VACUUM after (h)
# cleans what retention left and nothing else.
q "SELECT opsmeter_run_retention()" >/dev/null
q "VACUUM opsmeter.events, opsmeter.request_keys, opsmeter.summaries, opsmeter.summary_quarters, opsmeter.rollup_days"

# (h) baseline: the same days in a plain table with the same keys; the
# oldest day DELETEd, then the VACUUM that must follow.
q "CREATE TABLE bench.plain_days AS SELECT * FROM opsmeter.events"
q "ALTER TABLE bench.plain_days ADD PRIMARY KEY (workspace_id, external_request_id)"
q "CREATE INDEX ON bench.plain_days (workspace_id, ts)"
q "VACUUM ANALYZE bench.plain_days"
q "CHECKPOINT"
timed "DELETE FROM bench.plain_days WHERE ts < '$OLD_START'::timestamptz + interval '1 day'"
H_DELETE=$T_S H_DELETE_CPU=$T_CPU
timed_utility "VACUUM bench.plain_days"
H_VACUUM=$T_S H_VACUUM_CPU=$T_CPU
H_BASE=$(calc "%.3f" "$H_DELETE + $H_VACUUM") H_BASE_CPU=$(calc "%.3f" "$H_DELETE_CPU + $H_VACUUM_CPU")
log "(h) baseline: DELETE ${H_DELETE}s (CPU ${H_DELETE_CPU}s) + VACUUM ${H_VACUUM}s (CPU ${H_VACUUM_CPU}s)"
# HISTORY_DAYS of raw retention: the oldest day is past it, the others not
q "ALTER SYSTEM SET opsmeter.raw_retention = '${HISTORY_DAYS}d'"
q "SELECT pg_reload_conf()" >/dev/null
sleep 1
q "CHECKPOINT"
H_BEFORE=$(q "SELECT count(*) FROM opsmeter.events")
H_GENS_BEFORE=$(q "SELECT count(*) FROM opsmeter.key_generations")
timed "SELECT opsmeter_run_retention()"
H_PASS=$T_S H_PASS_CPU=$T_CPU
# What is left for VACUUM: the tables the pass could have deleted from.
timed_utility "VACUUM opsmeter.events, opsmeter.request_keys, opsmeter.summaries, opsmeter.summary_quarters, opsmeter.rollup_days"
H_PVAC=$T_S H_PVAC_CPU=$T_CPU
H_OPS=$(calc "%.3f" "$H_PASS + $H_PVAC") H_OPS_CPU=$(calc "%.3f" "$H_PASS_CPU + $H_PVAC_CPU")
H_FACTS=$(q "SELECT partitions_dropped || ' partition(s), ' || raw_rows_deleted || ' rows and ' || keys_purged || ' keys deleted' FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
H_GENS_AFTER=$(q "SELECT count(*) FROM opsmeter.key_generations")
H_LEFT=$(q "SELECT count(*) || ' rows, ' || (SELECT count(*) FROM opsmeter.request_keys) || ' keys' FROM opsmeter.events")
H_OK=$(q "SELECT (SELECT count(*) FROM opsmeter.events) = $H_BEFORE - $N AND (SELECT count(*) FROM opsmeter.request_keys) = $H_BEFORE - $N")
log "(h) retention pass ${H_PASS}s (CPU ${H_PASS_CPU}s; $H_FACTS; generations $H_GENS_BEFORE -> $H_GENS_AFTER; left $H_LEFT; exact: $H_OK) + VACUUM ${H_PVAC}s (CPU ${H_PVAC_CPU}s)"
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
# Off, on, off: each run starts with nothing pending (a pass by hand
# first), so the worker's passes roll up what comes in during its own run,
# not the million rows of the run before; the two runs with the worker off
# bracket the one with it on, so drift (growing tables) lands on both sides.
q "SELECT opsmeter_run_retention()" >/dev/null
I_OFF1=$(tps)
q "SELECT opsmeter_run_retention()" >/dev/null
q "ALTER SYSTEM SET opsmeter.worker_enabled = on"
q "SELECT pg_reload_conf()" >/dev/null
sleep 2
RUNS0=$(q "SELECT count(*) FROM opsmeter.retention_runs WHERE triggered_by = 'worker'")
I_ON=$(tps)
RUNS1=$(q "SELECT count(*) FROM opsmeter.retention_runs WHERE triggered_by = 'worker'")
I_PASS_MS=$(q "SELECT round(avg(duration_ms)) || ' ms (max ' || round(max(duration_ms)) || ')' FROM (SELECT duration_ms FROM opsmeter.retention_runs WHERE triggered_by = 'worker' ORDER BY run_id DESC LIMIT $((RUNS1 - RUNS0))) r")
q "ALTER SYSTEM SET opsmeter.worker_enabled = off"
q "SELECT pg_reload_conf()" >/dev/null
sleep 2
q "SELECT opsmeter_run_retention()" >/dev/null
I_OFF2=$(tps)
I_OFF=$(calc "%.1f" "($I_OFF1 + $I_OFF2) / 2")
q "SELECT opsmeter_run_retention()" >/dev/null
# Tier 1 counts every rolled-up row (tier 2 only detailed days).
I_EXACT=$(q "SELECT (SELECT count(*) FROM opsmeter.events WHERE ts >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
  = (SELECT sum(requests) FROM opsmeter.summary_quarters
     WHERE period_start >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')")
log "(i) ingest ${I_OFF} tps worker off (${I_OFF1}, ${I_OFF2}) vs ${I_ON} tps worker every 1 s ($((RUNS1 - RUNS0)) worker passes of $I_PASS_MS; exact after: $I_EXACT)"

# (j2) the WAL of a merge, in a database of its own: eight generations
# sealed at opsmeter.key_generation_size, merged into one.  Levels: how
# many merges a key of this history goes through (8^n generations of the
# sealed size fit in opsmeter.key_generation of $HISTORY_ROWS keys a day).
q "CREATE DATABASE bench_merge"
psql -X -q -v ON_ERROR_STOP=1 -d bench_merge >/dev/null <<SQL
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('m');
SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date - 1, (now() AT TIME ZONE 'UTC')::date + 1);
SET opsmeter.workspace = 'm';
DO \$\$
BEGIN
    FOR g IN 1 .. 8 LOOP
        WHILE coalesce((SELECT pg_relation_size(format('opsmeter.%I', opsmeter.key_generation_name(generation) || '_key')::regclass)
                          FROM opsmeter.key_generations WHERE sealed_at IS NULL), 0) < opsmeter.guc_key_generation_size() LOOP
            PERFORM opsmeter_ingest((SELECT jsonb_agg(jsonb_build_object('externalRequestId', md5(random()::text || clock_timestamp()::text || i),
                      'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 1, 'outputTokens', 1)) FROM generate_series(1, 500) i));
        END LOOP;
        PERFORM opsmeter._open_key_generation(true);
    END LOOP;
END
\$\$;
SQL
M_KEYS=$(psql -X -A -t -q -d bench_merge -c "SELECT count(*) FROM opsmeter.request_keys k JOIN opsmeter.key_generations g USING (generation) WHERE g.sealed_at IS NOT NULL")
psql -X -q -d bench_merge -c "CHECKPOINT"
M_LSN0=$(psql -X -A -t -q -d bench_merge -c "SELECT pg_current_wal_insert_lsn()")
M_MERGED=$(psql -X -A -t -q -d bench_merge -c "SELECT opsmeter._merge_key_generations('')")
M_LSN1=$(psql -X -A -t -q -d bench_merge -c "SELECT pg_current_wal_insert_lsn()")
M_PER_KEY=$(q "SELECT round(pg_wal_lsn_diff('$M_LSN1', '$M_LSN0') / $M_KEYS)")
M_LEVELS=$(q "SELECT n FROM generate_series(0, 10) n
               WHERE ($M_KEYS / 8.0) * 8 ^ (n + 1) > $HISTORY_ROWS * extract(epoch FROM opsmeter.guc_key_generation()) / 86400
               ORDER BY n LIMIT 1")
log "(j2) merging $M_MERGED generations of $M_KEYS keys wrote $M_PER_KEY WAL bytes per key; $M_LEVELS merge level(s) at $HISTORY_ROWS keys a day"
q "DROP DATABASE bench_merge"

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter rollup and retention benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $(q 'SELECT version()' | cut -d, -f1); $FINGERPRINT"
	echo "- times: wall time measured on the server (bench.once: clock_timestamp() around a PL/pgSQL EXECUTE), CPU: the server's CPU time of the same execution (backend + exited children of the postmaster: parallel and autovacuum workers)"
	echo "- N = $N events over one UTC day, $HISTORY_DAYS younger days of $HISTORY_ROWS rows each; fsync, synchronous_commit and autovacuum on (a worker updates the same summary rows every second; production vacuums them); pgbench 4 clients x ${SECS}s, 100 events per call"
	echo
	echo "| measurement | opsmeter | baseline | ratio | CPU: opsmeter / baseline | target | result |"
	echo "| --- | ---: | ---: | --- | --- | --- | --- |"
	echo "| (g) rollup pass over $G_ROWS new rows ($G_DETAILED workspace-days detailed; $G_TIERS) vs INSERT ... SELECT ... GROUP BY of tier 1 + tier 2 (faster of ${G_BASE1} s before / ${G_BASE2} s after; same summaries: $G_SAME) | ${G_PASS} s | ${G_BASE} s | $(calc "%.2f" "$G_PASS / $G_BASE")x the baseline's time | ${G_PASS_CPU} s / ${G_BASE_CPU} s | <= 1.5x | $(awk "BEGIN{print ($G_PASS <= 1.5 * $G_BASE) ? \"PASS\" : \"MISS\"}") |"
	echo "| (h) retention of the oldest of $((HISTORY_DAYS + 1)) days ($N of $H_HIST_ROWS rows; $H_FACTS) + VACUUM vs DELETE + VACUUM of the same rows in a plain table with the same days and keys | ${H_OPS} s (pass ${H_PASS} + VACUUM ${H_PVAC}) | ${H_BASE} s (DELETE ${H_DELETE} + VACUUM ${H_VACUUM}) | $(calc "%.1f" "$H_BASE / $H_OPS")x cheaper | ${H_OPS_CPU} s / ${H_BASE_CPU} s | >= 20x | $(awk "BEGIN{print ($H_BASE >= 20 * $H_OPS && \"$H_OK\" == \"t\") ? \"PASS\" : \"MISS\"}") |"
	echo "| (i) ingest with the worker every 1 s ($((RUNS1 - RUNS0)) passes of $I_PASS_MS) vs worker off (mean of a run before and one after: $(calc "%.0f" "$I_OFF1 * 100"), $(calc "%.0f" "$I_OFF2 * 100")), events/s | $(calc "%.0f" "$I_ON * 100") | $(calc "%.0f" "$I_OFF * 100") | $(calc "%.2f" "$I_ON / $I_OFF") | - | >= 0.9 | $(awk "BEGIN{print ($I_ON >= 0.9 * $I_OFF) ? \"PASS\" : \"MISS\"}") |"
	echo "| (j) WAL bytes per single-event call with $H_HIST_ROWS keys ($H_GENS) vs the empty database, $WAL_CALLS calls after a CHECKPOINT | $J_HIST ($J_HIST_FPI FPI/call) | $J_EMPTY ($J_EMPTY_FPI FPI/call) | $(calc "%.2f" "$J_HIST / $J_EMPTY")x | - | <= 2x | $(awk "BEGIN{print ($J_HIST <= 2 * $J_EMPTY) ? \"PASS\" : \"MISS\"}") |"
	echo "| (j, info) the same, right after the open generation was sealed | $J_SEALED ($J_SEALED_FPI FPI/call) | $J_EMPTY ($J_EMPTY_FPI FPI/call) | $(calc "%.2f" "$J_SEALED / $J_EMPTY")x | - | info | - |"
	echo "| (j2) WAL of merging 8 generations sealed at $(q "SELECT pg_size_pretty($J_SIZE::bigint)") ($M_KEYS keys), per key: each key is rewritten once per merge level; with those levels, (j) + the merges per event vs the empty database | $M_PER_KEY B/key; $M_LEVELS level(s) here: $(calc "%.0f" "$J_HIST + $M_LEVELS * $M_PER_KEY") | $J_EMPTY | $(calc "%.2f" "($J_HIST + $M_LEVELS * $M_PER_KEY) / $J_EMPTY")x | - | <= 2x | $(awk "BEGIN{print ($J_HIST + $M_LEVELS * $M_PER_KEY <= 2 * $J_EMPTY) ? \"PASS\" : \"MISS\"}") |"
	echo "| (k) 20,000 new events in NDJSON batches of 1,000 with $K_GENS sealed generations behind key filters vs the same without filters (best of 3 each) | ${K_ON_MS} ms | ${K_OFF_MS} ms | $(calc "%.2f" "$K_OFF_MS / $K_ON_MS")x faster | ${K_ON_CPU} ms / ${K_OFF_CPU} ms | info | - |"
} | tee "$RESULTS"
