#!/usr/bin/env bash
# Benchmark of many small workspaces sharing one cluster (issue: summaries
# must not outgrow the raw rows of small workspaces, and their views must
# not be slower than asking the raw table), in one run on one throwaway
# cluster:
#   load   BENCH_TENANTS_EVENTS events (default 1,000,000) spread uniformly
#          over the last 30 days and shared by BENCH_TENANTS_WORKSPACES
#          workspaces (default 1,000), by direct SQL as superuser like
#          views.sh (one INSERT ... SELECT per chunk into opsmeter.events and
#          opsmeter.request_keys, each chunk one ingest batch).  Workspace
#          sizes are skewed (workspace k of n gets a share ~ sqrt(k/n) -
#          sqrt((k-1)/n): a few large ones, a long tail of small ones); per
#          workspace ~20 users (3% unknown), 3 tenants, 3 endpoints, 2 prompt
#          versions, 2-4 models (one of them taking ~55%), 95% real / 3%
#          test / 2% demo, 90% prod / 7% staging / 3% dev.  VACUUM ANALYZE.
#   (1) size   summary rows (tier 1 opsmeter.summary_quarters + tier 2
#          opsmeter.summaries) / raw rows after one rollup pass; target <= 1.0.
#   (2) pass   that one pass (SELECT opsmeter_run_retention(), worker off)
#          vs the plain aggregation it must at least do: INSERT INTO a table
#          with summary_quarters' columns and no index, SELECT ... GROUP BY
#          workspace, date_bin('15 minutes', ts, '2000-01-01 UTC'), data_mode,
#          environment, provider, model with the same sums and the same
#          latency histogram (work_mem 64MB and jit off, as the pass sets
#          them).  The baseline runs before and after the pass and the faster
#          counts, so the order cannot flatter the pass; its rows must equal
#          summary_quarters on the days the pass summarized, and its
#          requests per workspace-day opsmeter.rollup_days.  The pass
#          summarizes only the workspace-days of at least
#          opsmeter.summarize_day_rows rows and counts the others, which
#          retention summarizes before their raw rows leave: that deferred
#          work, and the eager fold of everything, are timed beside it.
#          Target: pass <= 1.5x the baseline's time.
#   (3) views  for a small workspace (the one with the median event count),
#          each view (overview, top_users, top_tenants, top_endpoints,
#          prompt_versions, top_models, and daily_users with
#          WHERE day >= current_date - 6) vs the same question asked of the
#          raw table, opsmeter.range '7d' and '30d'; each measurement in a
#          fresh session, best of BENCH_TENANTS_RUNS (5) after one warm-up,
#          timed on the server, repeated in BENCH_TENANTS_ROUNDS (5) pairs
#          of sessions, view and raw alternating: one session's best varies
#          by up to 2x from the next on this machine, so the median of the
#          rounds is judged and their range shown; exact: the rows are
#          equal as multisets.  Target: view time / raw time <= 1.0.
#   (4) fixed  the fresh-session cost of each view on an EMPTY workspace:
#          a new connection each time, the first execution of
#          SELECT * FROM opsmeter.<view> timed on the server (the second,
#          warm, one beside it), median of BENCH_TENANTS_SESSIONS (10)
#          sessions, opsmeter.range unset and '7d'; SELECT 1 as the floor.
#          Target: <= 2 ms.  For information, the same on the small
#          workspace of (3) with '7d', and a step-by-step breakdown of a
#          fresh session's first overview and top_users on both.
# Every time is wall time measured on the server (clock_timestamp() around a
# PL/pgSQL EXECUTE) with the server's CPU time of the same execution beside
# it (the backend's, plus its parallel workers': bench_timing_functions in
# lib.sh); targets are judged on wall time.
# Sizes: BENCH_TENANTS_EVENTS, BENCH_TENANTS_WORKSPACES, BENCH_TENANTS_CHUNK
# (250000 rows per load statement), BENCH_TENANTS_RUNS, BENCH_TENANTS_SESSIONS.
# BENCH_SKIP_INSTALL=1 uses the installed extension as it is (no build/install).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_TENANTS_EVENTS:-1000000}"
NWS="${BENCH_TENANTS_WORKSPACES:-1000}"
CHUNK="${BENCH_TENANTS_CHUNK:-250000}"
RUNS="${BENCH_TENANTS_RUNS:-5}"
ROUNDS="${BENCH_TENANTS_ROUNDS:-5}"
SESSIONS="${BENCH_TENANTS_SESSIONS:-10}"
RESULTS="${BENCH_TENANTS_RESULTS:-$REPO/bench-results/tenants.md}"
require_positive_ints N NWS CHUNK RUNS ROUNDS SESSIONS
if ((NWS > 9999)); then
	echo "bench: BENCH_TENANTS_WORKSPACES must be at most 9999" >&2
	exit 2
fi
RANGE_GUC=("7d" "30d")
RANGE_SQL=("7 days" "30 days")
SMALL_VIEWS=(overview top_users top_tenants top_endpoints prompt_versions top_models daily_users)
FRESH_VIEWS=(overview top_users top_tenants top_endpoints prompt_versions top_models unpriced_models
	daily_users daily_tenants daily_endpoints daily_prompt_versions daily_models export)

# ratio A B: A / B as "1.23x", or n/a unless both are positive numbers
ratio() {
	if [[ "$1" =~ ^[0-9.]+$ && "$2" =~ ^[0-9.]+$ ]] && awk "BEGIN { exit !($2 > 0) }"; then
		calc "%.2fx" "$1 / $2"
	else
		echo "n/a"
	fi
}
# median of the numbers on stdin (n/a when there are none)
median() {
	{ grep -E '^[0-9.]+$' || true; } | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# rounds_summary "ms|cpu" ...: the median wall ms, the median CPU ms, and
# the range of the wall ms (min-max) of the rounds given
rounds_summary() {
	printf '%s %s %s\n' "$(printf '%s\n' "$@" | cut -d'|' -f1 | median)" \
		"$(printf '%s\n' "$@" | cut -d'|' -f2 | median)" \
		"$(printf '%s\n' "$@" | cut -d'|' -f1 | sort -g | sed -n '1p;$p' | paste -sd'-')"
}

# ---------------------------------------------------------------------------
opsmeter_require_packages
if [[ "${BENCH_SKIP_INSTALL:-0}" == "1" ]]; then
	log "BENCH_SKIP_INSTALL=1: using the installed extension, no build/install"
else
	opsmeter_build_install
fi
# As views.sh: raw_retention 32d keeps the oldest loaded hour through the
# pass; the worker is off, so the one pass is the one we run.
opsmeter_cluster_start bench-tenants \
	"shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"synchronous_commit = off" "autovacuum = off" "timezone = 'UTC'" \
	"opsmeter.database = 'postgres'" "opsmeter.worker_enabled = off" "opsmeter.raw_retention = '32d'"
export PGOPTIONS="-c TimeZone=UTC"
FINGERPRINT="$(bench_installed_fingerprint)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "$FINGERPRINT; load average $LOAD_START"

q "CREATE EXTENSION opsmeter"
q "CREATE SCHEMA bench"
bench_timing_functions
log "creating $NWS workspaces and one empty one"
t0=$(now_s)
q "SELECT count(opsmeter_create_workspace('ws-' || lpad(i::text, 4, '0'))) FROM generate_series(1, $NWS) i" >/dev/null
q "SELECT opsmeter_create_workspace('empty')" >/dev/null
q "CREATE TABLE bench.ws AS SELECT row_number() OVER (ORDER BY name) AS idx, workspace_id, name
     FROM opsmeter.workspaces WHERE name LIKE 'ws-%'"
log "  done in $(calc "%.1f" "$(now_s) - $t0") s"

# ---------------------------------------------------------------------------
# Load: events i = 1..N at T0 + (i - 1) * STEP, T0 = now - 30 days + 1 hour,
# the last one at now - 10 minutes (as views.sh).
T0=$(q "SELECT now() - interval '30 days' + interval '1 hour'")
STEP=$(calc "%.9f" "(30 * 86400 - 3600 - 600) / $N")
log "loading $N events for $NWS workspaces over the last 30 days (from $T0), chunks of $CHUNK rows"
q "SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date - 31, (now() AT TIME ZONE 'UTC')::date + 1)" >/dev/null
# The catalog of views.sh: provider, model, USD per 1M input / output tokens
# (acme-x unpriced).  Workspace k uses 2 + k % 3 of them: slots 0..3 map to
# models 1 + (5k + 3 slot) % 12, slot 0 taking ~55% of the requests.
PROVIDERS="ARRAY['openai','openai','anthropic','anthropic','google','openai','google','mistral','mistral','anthropic','openai','openai']"
MODELS="ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4','claude-3-5-haiku','gemini-2.0-flash','o3-mini','gemini-1.5-pro','mistral-large','mistral-small','claude-opus-4','gpt-4.1','acme-x']"
PRICE_IN="ARRAY[2.5,0.15,3,0.8,0.1,1.1,1.25,2,0.2,15,2,NULL]::numeric[]"
PRICE_OUT="ARRAY[10,0.6,15,4,0.4,4.4,5,6,0.6,75,8,NULL]::numeric[]"
# the open generation of dedup keys, as the first retention pass makes it
# (opening it attaches a partition, which no statement on request_keys may do)
GEN="$(q "SELECT opsmeter._open_key_generation(false)")"
LOAD_T0=$(now_s)
for ((lo = 1; lo <= N; lo += CHUNK)); do
	hi=$((lo + CHUNK - 1))
	((hi > N)) && hi=$N
	t0=$(now_s)
	psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
WITH b AS MATERIALIZED (SELECT nextval('opsmeter.ingest_batch_seq') AS batch),
     w AS MATERIALIZED (SELECT array_agg(workspace_id ORDER BY idx) AS ids FROM bench.ws),
     ins AS (
INSERT INTO opsmeter.events (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens,
                             cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode,
                             environment, pricing, ingested_by, ingested_at, external_request_id,
                             provider, model, cost_usd, error_code, prompt_version, endpoint_tag,
                             user_id, tenant_id, metadata)
SELECT w.ids[v.k], v.ts, b.batch, v.inp, v.outp, v.inp + v.outp,
       CASE WHEN h.h5 % 4 = 0 THEN v.inp * ((h.h5 / 4) % 90) / 100 ELSE 0 END, 0,
       CASE WHEN h.h6 % 100 < 5 THEN NULL
            ELSE 80 + ((h.h6 / 100) % 1000) * ((h.h6 / 100) % 1000) * 5920 / 998001 END,
       h.h7 % 100 < 2,
       CASE WHEN h.h8 % 100 < 95 THEN 'real' WHEN h.h8 % 100 < 98 THEN 'test' ELSE 'demo' END::opsmeter.data_mode,
       CASE WHEN h.h9 % 100 < 90 THEN 'prod' WHEN h.h9 % 100 < 97 THEN 'staging' ELSE 'dev' END::opsmeter.environment,
       CASE WHEN m.m = 12 THEN 'unpriced' ELSE 'catalog' END::opsmeter.pricing_source,
       'postgres'::regrole, v.ts, 'bench-' || lpad(i::text, 9, '0'),
       ($PROVIDERS)[m.m], ($MODELS)[m.m],
       (v.inp * ($PRICE_IN)[m.m] + v.outp * ($PRICE_OUT)[m.m]) / 1000000,
       CASE WHEN h.h7 % 100 < 2 THEN 'rate_limit' END,
       CASE WHEN h.h10 % 10 < 7 THEN 'v1' ELSE 'v2' END,
       'ep-' || CASE WHEN h.h11 % 10 < 5 THEN 0 WHEN h.h11 % 10 < 8 THEN 1 ELSE 2 END,
       CASE WHEN h.h12 % 100 < 3 THEN NULL ELSE 'user-' || ((h.h12 / 100) % 1000) * ((h.h12 / 100) % 1000) / 50000 END,
       CASE WHEN h.h13 % 100 < 2 THEN NULL
            ELSE 'tenant-' || CASE WHEN (h.h13 / 100) % 10 < 5 THEN 0 WHEN (h.h13 / 100) % 10 < 8 THEN 1 ELSE 2 END END,
       NULL
  FROM b, w, generate_series($lo, $hi) i,
       LATERAL (SELECT hashint8extended(i, 1) & 2147483647 AS h1, hashint8extended(i, 2) & 2147483647 AS h2,
                       hashint8extended(i, 3) & 2147483647 AS h3, hashint8extended(i, 4) & 2147483647 AS h4,
                       hashint8extended(i, 5) & 2147483647 AS h5, hashint8extended(i, 6) & 2147483647 AS h6,
                       hashint8extended(i, 7) & 2147483647 AS h7, hashint8extended(i, 8) & 2147483647 AS h8,
                       hashint8extended(i, 9) & 2147483647 AS h9, hashint8extended(i, 10) & 2147483647 AS h10,
                       hashint8extended(i, 11) & 2147483647 AS h11, hashint8extended(i, 12) & 2147483647 AS h12,
                       hashint8extended(i, 13) & 2147483647 AS h13
                OFFSET 0) h,
       LATERAL (SELECT timestamptz '$T0' + make_interval(secs => (i - 1) * $STEP::float8) AS ts,
                       least($NWS, 1 + floor($NWS * power(h.h1 / 2147483648.0, 2))::integer) AS k,
                       50 + (h.h3 % 1000) * (h.h3 % 1000) * 3950 / 998001 AS inp,
                       10 + (h.h4 % 1000) * (h.h4 % 1000) * 1490 / 998001 AS outp
                OFFSET 0) v,
       LATERAL (SELECT 1 + (5 * v.k + 3 * CASE WHEN h.h2 % 100 < 55 THEN 0
                                               ELSE 1 + (h.h2 / 100) % (1 + v.k % 3) END) % 12 AS m
                OFFSET 0) m
RETURNING workspace_id, external_request_id, ts)
INSERT INTO opsmeter.request_keys (workspace_id, external_request_id, event_day, generation)
SELECT workspace_id, external_request_id, (ts AT TIME ZONE 'UTC')::date, $GEN FROM ins;
SQL
	t1=$(now_s)
	log "  rows $lo..$hi: $(calc "%.1f" "$t1 - $t0") s ($(calc "%.0f" "($hi - $lo + 1) / ($t1 - $t0)") rows/s)"
done
LOAD_S=$(calc "%.1f" "$(now_s) - $LOAD_T0")
log "  loaded $N events in $LOAD_S s"
q "VACUUM ANALYZE opsmeter.events"
q "VACUUM ANALYZE opsmeter.request_keys"
RAW_ROWS=$(q "SELECT count(*) FROM opsmeter.events")
if [[ "$RAW_ROWS" != "$N" ]]; then
	echo "bench: $RAW_ROWS raw rows, $N expected" >&2
	exit 1
fi
# Workspace sizes: events per workspace (min / 10% / median / 90% / max),
# and how many workspaces reach 256 rows on an average day.
WS_SIZES=$(q "SELECT format('%s workspaces with events; events per workspace: min %s, p10 %s, median %s, p90 %s, max %s; %s with >= 256 events/day on average',
                            count(*), min(n), percentile_disc(0.1) WITHIN GROUP (ORDER BY n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n),
                            percentile_disc(0.9) WITHIN GROUP (ORDER BY n), max(n), count(*) FILTER (WHERE n >= 256 * 30))
                FROM (SELECT workspace_id, count(*) AS n FROM opsmeter.events GROUP BY 1) x")
log "  $WS_SIZES"
q "SELECT 'median workspace: ' || count(DISTINCT user_id) || ' users, ' || count(DISTINCT tenant_id) || ' tenants, '
          || count(DISTINCT endpoint_tag) || ' endpoints, ' || count(DISTINCT prompt_version) || ' prompt versions, '
          || count(DISTINCT model) || ' models, ' || round(100.0 * count(*) FILTER (WHERE data_mode = 'real') / count(*)) || '% real, '
          || round(100.0 * count(*) FILTER (WHERE environment = 'prod') / count(*)) || '% prod'
     FROM opsmeter.events
    WHERE workspace_id = (SELECT workspace_id FROM opsmeter.events GROUP BY 1 ORDER BY count(*), 1 LIMIT 1 OFFSET $NWS / 2)" |
	sed 's/^/bench:   /'

# ---------------------------------------------------------------------------
# (2) the pass vs the plain aggregation; (1) the rows it wrote.
q "CREATE TABLE bench.quarters_plain (LIKE opsmeter.summary_quarters)"
BASELINE_SQL="INSERT INTO bench.quarters_plain
SELECT workspace_id, date_bin('15 minutes', ts, timestamptz '2000-01-01 00:00:00+00'), data_mode, environment, provider, model,
       count(*), count(*) FILTER (WHERE is_error), sum(input_tokens), sum(output_tokens), sum(total_tokens),
       sum(cached_input_tokens), sum(reasoning_tokens), coalesce(sum(cost_usd), 0),
       count(*) FILTER (WHERE cost_usd IS NULL), coalesce(sum(total_tokens) FILTER (WHERE cost_usd IS NULL), 0),
       count(latency_ms), coalesce(sum(latency_ms), 0),
       coalesce(opsmeter.latency_histogram_of(opsmeter.latency_bucket(latency_ms), (latency_ms IS NOT NULL)::integer), '{}')
  FROM opsmeter.events
 GROUP BY 1, 2, 3, 4, 5, 6"
baseline() {	# -> "wall|cpu"
	q "CHECKPOINT"
	q "SET work_mem = '64MB'; SET jit = off; SELECT * FROM bench.once(\$bench\$$BASELINE_SQL\$bench\$)"
}
q "SELECT count(*) FROM opsmeter.events" >/dev/null	# warm the cache for both sides
log "(2) baseline (before the pass): INSERT ... SELECT ... GROUP BY into a plain table"
IFS='|' read -r B1_MS B1_CPU < <(baseline)
log "  $B1_MS ms (CPU $B1_CPU ms)"
q "TRUNCATE bench.quarters_plain"
q "CHECKPOINT"
log "(2) the rollup pass: SELECT opsmeter_run_retention()"
IFS='|' read -r P_MS P_CPU < <(q "SELECT * FROM bench.once('SELECT opsmeter_run_retention()')")
PASS_FACTS=$(q "SELECT format('ok %s, %s rows rolled up, %s partitions dropped%s', ok, rows_rolled_up, partitions_dropped, ': ' || error)
                  FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
ROLLED_UP=$(q "SELECT rows_rolled_up FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
log "  $P_MS ms (CPU $P_CPU ms): $PASS_FACTS"
if [[ "$ROLLED_UP" != "$N" ]]; then
	echo "bench: the pass rolled up $ROLLED_UP rows, $N expected" >&2
	exit 1
fi
log "(2) baseline (after the pass)"
q "TRUNCATE bench.quarters_plain"
IFS='|' read -r B2_MS B2_CPU < <(baseline)
log "  $B2_MS ms (CPU $B2_CPU ms)"
read -r B_MS B_CPU < <(awk "BEGIN { print ($B1_MS < $B2_MS) ? \"$B1_MS $B1_CPU\" : \"$B2_MS $B2_CPU\" }")
# The pass writes tier-1 rows only for the summarized workspace-days (at
# least opsmeter.summarize_day_rows rows); it counts the others in
# opsmeter.rollup_days.  Both must match the baseline: tier 1 its rows of
# the summarized days, rollup_days its requests of every day.
SAME=$(q "WITH summarized AS (SELECT b.* FROM bench.quarters_plain b JOIN opsmeter.rollup_days d
                                ON d.workspace_id = b.workspace_id AND d.day = (b.period_start AT TIME ZONE 'UTC')::date
                               AND d.quarter_rows IS NOT NULL),
               counted AS (SELECT b.workspace_id, (b.period_start AT TIME ZONE 'UTC')::date AS day, sum(b.requests) AS requests
                             FROM bench.quarters_plain b GROUP BY 1, 2)
          SELECT (SELECT count(*) FROM ((TABLE opsmeter.summary_quarters EXCEPT ALL TABLE summarized)
                                        UNION ALL (TABLE summarized EXCEPT ALL TABLE opsmeter.summary_quarters)) d)
               + (SELECT count(*) FROM ((SELECT workspace_id, day, requests FROM opsmeter.rollup_days EXCEPT ALL TABLE counted)
                                        UNION ALL (TABLE counted EXCEPT ALL SELECT workspace_id, day, requests FROM opsmeter.rollup_days)) d)")
SAME=$([[ "$SAME" == "0" ]] && echo "yes" || echo "NO, $SAME rows differ")
read -r QUARTER_ROWS DETAIL_ROWS DETAILED_DAYS ROLLUP_DAYS SUMMARIZED_DAYS < <(q "SELECT (SELECT count(*) FROM opsmeter.summary_quarters),
    (SELECT count(*) FROM opsmeter.summaries), (SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) FROM opsmeter.rollup_days),
    (SELECT count(*) FROM opsmeter.rollup_days), (SELECT count(*) FILTER (WHERE quarter_rows IS NOT NULL) FROM opsmeter.rollup_days)" | tr '|' ' ')
SUMMARY_ROWS=$((QUARTER_ROWS + DETAIL_ROWS))
RATIO=$(calc "%.4f" "$SUMMARY_ROWS / $N")
log "(1) $SUMMARY_ROWS summary rows ($QUARTER_ROWS in summary_quarters + $DETAIL_ROWS in summaries; $SUMMARIZED_DAYS of $ROLLUP_DAYS workspace-days summarized, $DETAILED_DAYS detailed) = $RATIO x the $N raw rows; equal to the baseline's rows (tier 1 on summarized days, requests per day in rollup_days): $SAME"
# What the pass left for later, and what it saved (information), each in a
# transaction that is rolled back, with the settings _rollup() gives
# itself:
#   deferred  the tier-1 rows of every workspace-day the pass kept in raw
#             rows only, from their raw rows: what retention does, one day
#             at a time, before their raw rows leave (at steady state 1/30
#             of it in each daily pass, with 30 days of raw retention);
#   eager     the tier-1 fold of every rolled-up row into emptied tiers, as
#             with opsmeter.summarize_day_rows = 0.
LAZY_DAYS=$(q "SELECT count(*) FROM opsmeter.rollup_days WHERE quarter_rows IS NULL")
LAZY_ROWS=$(q "SELECT coalesce(sum(requests), 0) FROM opsmeter.rollup_days WHERE quarter_rows IS NULL")
WATERMARK=$(q "SELECT watermark FROM opsmeter.rollup_state")
BREAKDOWN=$(psql -X -A -t -q -v ON_ERROR_STOP=1 <<SQL
SET enable_seqscan = off; SET jit = off; SET work_mem = '64MB';
CREATE TEMP TABLE lazy AS SELECT array_agg(workspace_id) AS ws, array_agg(day) AS days
  FROM opsmeter.rollup_days WHERE quarter_rows IS NULL;
CREATE TEMP TABLE every_day AS SELECT array_agg(workspace_id) AS ws, array_agg(day) AS days FROM opsmeter.rollup_days;
BEGIN;
SELECT coalesce(wall_ms::text, 'n/a'), coalesce(cpu_ms::text, 'n/a')
  FROM bench.try_once(\$bench\$SELECT count(*) FROM lazy, opsmeter._fold_quarters(0, $WATERMARK, '{}', '{}', lazy.ws, lazy.days, true, false)\$bench\$);
ROLLBACK;
BEGIN;
TRUNCATE opsmeter.summary_quarters, opsmeter.summaries;
SELECT coalesce(wall_ms::text, 'n/a'), coalesce(cpu_ms::text, 'n/a')
  FROM bench.try_once(\$bench\$SELECT count(*) FROM every_day, opsmeter._fold_quarters(0, $WATERMARK, '{}', '{}', every_day.ws, every_day.days, false, false)\$bench\$);
ROLLBACK;
SQL
)
IFS='|' read -r DEFER_MS DEFER_CPU < <(sed -n 1p <<<"$BREAKDOWN")
IFS='|' read -r FOLD_MS FOLD_CPU < <(sed -n 2p <<<"$BREAKDOWN")
log "(2, info) deferred: summarizing the $LAZY_DAYS workspace-days ($LAZY_ROWS rows) kept in raw rows only: $DEFER_MS ms (CPU $DEFER_CPU); eager: every row folded into tier 1 at once: $FOLD_MS ms (CPU $FOLD_CPU)"

# What the pass wrote gets its statistics, as autovacuum would give them.
q "SELECT format('VACUUM ANALYZE %s;', c.oid::regclass) FROM pg_class c
    WHERE c.relnamespace = 'opsmeter'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
      AND c.relname !~ '^request_keys'" | psql -X -q -v ON_ERROR_STOP=1
read -r SUMMARY_BYTES RAW_BYTES QROW_BYTES < <(bench_summary_bytes)
BYTES_RATIO=$(calc "%.2f" "$SUMMARY_BYTES / $RAW_BYTES")
log "(1, info) on disk: summaries $(calc "%.1f" "$SUMMARY_BYTES / 1048576") MB vs raw events $(calc "%.1f" "$RAW_BYTES / 1048576") MB (heap + indexes) = ${BYTES_RATIO}x; $QROW_BYTES bytes per summary_quarters row"

# ---------------------------------------------------------------------------
# (3) a small workspace's views vs the raw table, each in a fresh session.
read -r SMALL_WS SMALL_NAME SMALL_N < <(q "SELECT e.workspace_id, w.name, e.n
    FROM (SELECT workspace_id, count(*) AS n FROM opsmeter.events GROUP BY 1 ORDER BY count(*), 1 LIMIT 1 OFFSET $NWS / 2) e
    JOIN opsmeter.workspaces w USING (workspace_id)" | tr '|' ' ')
SMALL_DETAILED=$(q "SELECT count(*) FROM opsmeter.rollup_days WHERE workspace_id = $SMALL_WS AND detail_rows IS NOT NULL")
log "(3) small workspace $SMALL_NAME (id $SMALL_WS): $SMALL_N events over 30 days (the median workspace), $SMALL_DETAILED detailed days"
VROWS=()
DIFFS=0
for ((ri = 0; ri < ${#RANGE_GUC[@]}; ri++)); do
	set_sql="SET opsmeter.workspace = '$SMALL_NAME'; SET opsmeter.range = '${RANGE_GUC[$ri]}';
	         SET opsmeter.data_mode = 'real'; SET opsmeter.environment = 'all';"
	for view in "${SMALL_VIEWS[@]}"; do
		view_sql="SELECT * FROM opsmeter.$view"
		label="$view"
		if [[ "$view" == daily_users ]]; then
			view_sql="$view_sql WHERE day >= current_date - 6"
			label="daily_users, day >= current_date - 6"
		fi
		raw="$(bench_raw_sql "$view" "${RANGE_SQL[$ri]}" "$SMALL_WS")"
		cols="${BENCH_VIEW_COLS[$view]}"
		v_all=() r_all=()
		for ((round = 0; round < ROUNDS; round++)); do
			v_all+=("$(q "$set_sql SELECT * FROM bench.best(\$bench\$$view_sql\$bench\$, $RUNS)")")
			r_all+=("$(q "$set_sql SELECT * FROM bench.best(\$bench\$$raw\$bench\$, $RUNS)")")
		done
		read -r v_ms v_cpu v_range < <(rounds_summary "${v_all[@]}")
		read -r r_ms r_cpu r_range < <(rounds_summary "${r_all[@]}")
		IFS='|' read -r diff v_rows < <(q "$set_sql
		    WITH v AS MATERIALIZED (SELECT $cols FROM ($view_sql) v), r AS MATERIALIZED (SELECT $cols FROM ($raw) r)
		    SELECT (SELECT count(*) FROM ((TABLE v EXCEPT ALL TABLE r) UNION ALL (TABLE r EXCEPT ALL TABLE v)) d),
		           (SELECT count(*) FROM v)")
		if [[ "$diff" == "0" ]]; then
			exact="OK ($v_rows rows)"
		else
			exact="DIFF ($diff rows differ)"
			DIFFS=$((DIFFS + 1))
		fi
		ratio=$(calc "%.2f" "$v_ms / ($r_ms > 0 ? $r_ms : 0.01)")
		cpu_ratio=$(calc "%.2f" "$v_cpu / ($r_cpu > 0 ? $r_cpu : 0.01)")
		result=$(awk "BEGIN { print ($v_ms <= $r_ms) ? \"PASS\" : \"MISS\" }")
		log "  $label (${RANGE_GUC[$ri]}): view $v_ms ms (CPU $v_cpu; rounds $v_range), raw $r_ms ms (CPU $r_cpu; rounds $r_range): ${ratio}x (CPU ${cpu_ratio}x) $result, $exact"
		VROWS+=("| $label | ${RANGE_GUC[$ri]} | $v_ms ($v_range) | $v_cpu | $r_ms ($r_range) | $r_cpu | ${ratio}x | ${cpu_ratio}x | <= 1.0x | $result | $exact |")
	done
done

# ---------------------------------------------------------------------------
# (4) fresh-session cost on an empty workspace: the first execution in a new
# connection, and the second (warm) one in the same session.
FROWS=()
# The empty workspace is the target; the small workspace of (3) with '7d'
# is information: what a fresh session pays before its first answer when
# the workspace has rows.
for case in "empty|" "empty|7d" "$SMALL_NAME|7d"; do
	ws="${case%|*}"
	range="${case#*|}"
	opts="-c TimeZone=UTC -c opsmeter.workspace=$ws"
	[[ -n "$range" ]] && opts="$opts -c opsmeter.range=$range"
	for view in "SELECT 1" "${FRESH_VIEWS[@]}"; do
		sql="$view"
		[[ "$view" != "SELECT 1" ]] && sql="SELECT * FROM opsmeter.$view"
		samples=$(for ((s = 1; s <= SESSIONS; s++)); do
			PGOPTIONS="$opts" psql -X -A -t -q -v ON_ERROR_STOP=1 \
				-c "SELECT * FROM bench.once(\$bench\$$sql\$bench\$)" -c "SELECT * FROM bench.once(\$bench\$$sql\$bench\$)" |
				paste -sd'|'
		done)
		first=$(cut -d'|' -f1 <<<"$samples" | median)
		first_cpu=$(cut -d'|' -f2 <<<"$samples" | median)
		warm=$(cut -d'|' -f3 <<<"$samples" | median)
		warm_cpu=$(cut -d'|' -f4 <<<"$samples" | median)
		if [[ "$view" == "SELECT 1" ]]; then
			result="floor"
			target="-"
		elif [[ "$ws" != "empty" ]]; then
			result="info"
			target="-"
		else
			result=$(awk "BEGIN { print ($first <= 2) ? \"PASS\" : \"MISS\" }")
			target="<= 2 ms"
		fi
		log "(4) $view, workspace $ws, range '${range}': first execution in a fresh session $first ms (CPU $first_cpu), warm $warm ms (CPU $warm_cpu): $result"
		FROWS+=("| $view | $ws | '${range}' | $first | $first_cpu | $warm | $warm_cpu | $target | $result |")
	done
done

# Where a fresh session's time goes (information), for overview and
# top_users with opsmeter.range '7d', on the empty workspace and on the
# small one of (3): in one new session, the first execution of each
# building block in the order the view uses them, each after the ones
# before it (so each figure is what that block adds), then the view
# itself; median of the sessions.  (On the empty workspace the views
# themselves may skip blocks that this sequence runs.)
# The internal opsmeter.facts() is called with the installed signature; a
# step that fails (another signature) shows as n/a.
declare -A STEPS=(
	[overview]="SELECT opsmeter.active_workspace()
SELECT opsmeter.data_mode_filter(), opsmeter.environment_filter(), opsmeter.session_window_start()
SELECT * FROM opsmeter.facts('overview', date_trunc('day', now()), 'infinity', opsmeter.data_mode_filter(), opsmeter.environment_filter())
SELECT * FROM opsmeter_overview('1 day')
SELECT * FROM opsmeter_overview('7 days')
SELECT * FROM opsmeter.overview"
	[top_users]="SELECT opsmeter.active_workspace()
SELECT opsmeter.data_mode_filter(), opsmeter.environment_filter(), opsmeter.session_window_start()
SELECT * FROM opsmeter.facts('user', date_trunc('day', now()), 'infinity', opsmeter.data_mode_filter(), opsmeter.environment_filter())
SELECT * FROM opsmeter_top_users('1 day')
SELECT * FROM opsmeter_top_users('7 days')
SELECT * FROM opsmeter.top_users"
)
BROWS=()
for case in "empty overview" "empty top_users" "$SMALL_NAME overview" "$SMALL_NAME top_users"; do
	ws="${case% *}"
	view="${case#* }"
	mapfile -t steps <<<"${STEPS[$view]}"
	args=()
	for step in "${steps[@]}"; do
		args+=(-c "SELECT coalesce(wall_ms::text, 'n/a'), coalesce(cpu_ms::text, 'n/a') FROM bench.try_once(\$bench\$$step\$bench\$)")
	done
	samples=$(for ((s = 1; s <= SESSIONS; s++)); do
		PGOPTIONS="-c TimeZone=UTC -c opsmeter.workspace=$ws -c opsmeter.range=7d" \
			psql -X -A -t -q -v ON_ERROR_STOP=1 "${args[@]}" 2>/dev/null | paste -sd'|'
	done)
	for ((k = 0; k < ${#steps[@]}; k++)); do
		ms=$(cut -d'|' -f$((2 * k + 1)) <<<"$samples" | median)
		cpu=$(cut -d'|' -f$((2 * k + 2)) <<<"$samples" | median)
		log "(4, info) $view, workspace $ws, step $((k + 1)): ${steps[$k]}: $ms ms (CPU $cpu)"
		BROWS+=("| $view | $ws | $((k + 1)) | \`${steps[$k]}\` | $ms | $cpu |")
	done
done

# ---------------------------------------------------------------------------
mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter many-workspaces benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); load average at start $LOAD_START; $(q 'SELECT version()' | cut -d, -f1); $FINGERPRINT; shared_buffers 1GB, autovacuum off (VACUUM ANALYZE after the load and after the pass)"
	echo "- $N events over the last 30 days shared by $NWS workspaces (direct SQL, $LOAD_S s); $WS_SIZES"
	echo "- times: wall time measured on the server (clock_timestamp() around a PL/pgSQL EXECUTE: parse + plan + execute + all rows) with the server's CPU time of the same execution (backend + parallel workers, /proc); targets judged on wall time"
	echo
	echo "## (1) summary size and (2) the rollup pass"
	echo
	echo "| measurement | opsmeter | baseline | ratio | target | result |"
	echo "| --- | ---: | ---: | ---: | --- | --- |"
	echo "| (1) summary rows / raw rows after one pass: $QUARTER_ROWS summary_quarters + $DETAIL_ROWS summaries rows ($SUMMARIZED_DAYS of $ROLLUP_DAYS workspace-days summarized, $DETAILED_DAYS detailed) for $N raw rows | $SUMMARY_ROWS rows | $N rows | $RATIO | <= 1.0 | $(awk "BEGIN { print ($RATIO <= 1.0) ? \"PASS\" : \"MISS\" }") |"
	echo "| (1, info) the same in bytes on disk (heap, TOAST, indexes): summary_quarters + summaries vs the events partitions; a summary_quarters row averages $QROW_BYTES bytes | $(calc "%.1f" "$SUMMARY_BYTES / 1048576") MB | $(calc "%.1f" "$RAW_BYTES / 1048576") MB | $BYTES_RATIO | info | - |"
	echo "| (2) rollup pass over $ROLLED_UP rows (SELECT opsmeter_run_retention()) vs INSERT ... SELECT ... GROUP BY of tier 1's grouping into a plain table (faster of $B1_MS ms before / $B2_MS ms after; the pass wrote the same rows for the summarized days and counted the same requests per day: $SAME), wall ms | $P_MS | $B_MS | $(calc "%.2f" "$P_MS / $B_MS")x | <= 1.5x | $(awk "BEGIN { print ($P_MS <= 1.5 * $B_MS) ? \"PASS\" : \"MISS\" }") |"
	echo "| (2, info) the same, server CPU ms (baseline: the CPU of the faster run; before $B1_CPU / after $B2_CPU) | $P_CPU | $B_CPU | $(calc "%.2f" "$P_CPU / $B_CPU")x | info | - |"
	echo "| (2, info) deferred: the tier-1 rows of the $LAZY_DAYS workspace-days ($LAZY_ROWS rows) the pass kept in raw rows only, from their raw rows, as retention writes them before the raw rows leave (rolled back), wall ms (CPU) | $DEFER_MS ($DEFER_CPU) | $B_MS ($B_CPU) | $(ratio "$DEFER_MS" "$B_MS") | info | - |"
	echo "| (2, info) eager: every rolled-up row folded into emptied tiers at once, as with opsmeter.summarize_day_rows = 0 (rolled back), wall ms (CPU) | $FOLD_MS ($FOLD_CPU) | $B_MS ($B_CPU) | $(ratio "$FOLD_MS" "$B_MS") | info | - |"
	echo
	echo "## (3) views of a small workspace vs the raw table"
	echo
	echo "Workspace $SMALL_NAME: $SMALL_N events over 30 days (the median workspace; $SMALL_DETAILED detailed days); data_mode 'real', environment 'all'; each measurement in a fresh session, best of $RUNS after one warm-up, in $ROUNDS pairs of sessions (view, raw, alternating): the median of the rounds, their range in parentheses; exact: the view's rows equal the raw question's as multisets (all columns but p95_latency_ms)."
	echo
	echo "| view | opsmeter.range | view ms | view CPU ms | raw ms | raw CPU ms | view / raw | CPU view / raw | target | result | exact |"
	echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"
	printf '%s\n' "${VROWS[@]}"
	echo
	echo "## (4) fresh-session cost on an empty workspace"
	echo
	echo "A new connection per sample; first: the first execution of the statement in that session; warm: the second, right after it; median of $SESSIONS sessions.  The target applies to the empty workspace; the rows of $SMALL_NAME (the small workspace of (3)) are information."
	echo
	echo "| statement | workspace | opsmeter.range | first ms | first CPU ms | warm ms | warm CPU ms | target | result |"
	echo "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |"
	printf '%s\n' "${FROWS[@]}"
	echo
	echo "Where a fresh session's time goes (opsmeter.range '7d'): in one new session, the first execution of each step in order, each after the ones above it, so each figure is what that step adds; median of $SESSIONS sessions.  On the empty workspace the views may skip blocks this sequence runs."
	echo
	echo "| view | workspace | step | statement | ms | CPU ms |"
	echo "| --- | --- | ---: | --- | ---: | ---: |"
	printf '%s\n' "${BROWS[@]}"
} | tee "$RESULTS"

if ((DIFFS > 0)); then
	opsmeter_cleanup_now 0
	echo "bench: $DIFFS view/range pair(s) of $SMALL_NAME differ from the raw table" >&2
	exit 1
fi
