#!/usr/bin/env bash
# Benchmark of the reporting views (issue: "each view's time vs the same
# question asked of the raw table, target >= 50x faster"), in one run on one
# throwaway cluster:
#   load  N events spread uniformly over the last 30 days, by direct SQL as
#         superuser (one INSERT ... SELECT per ~1M rows, oldest first, each chunk
#         one ingest batch, with its dedup keys); VACUUM ANALYZE; one
#         opsmeter_run_retention() pass rolls all of it into summaries; then a
#         tail of events from the last hour through opsmeter_ingest(), left un-
#         rolled-up, so every view has to combine summaries with raw rows.
#         The tail is what a dashboard sees in steady state: the events of two
#         default worker intervals (2 x 60 s) at the loaded rate, rounded up to
#         whole batches of 1,000 (1,000 for 10M events over 30 days).
#   stress then the tail is grown to BENCH_VIEWS_STRESS_TAIL events (a worker far
#         behind: 20,000 is 86 minutes of this rate) and every view is timed
#         and checked again; these rows are information, not the target.
#   views each view (opsmeter.range = '7d' and '30d', data_mode 'real',
#         environment 'all') vs the same question written by hand against
#         opsmeter.events; best of 3 runs after one warm-up each, timed on the
#         server (clock_timestamp() around a PL/pgSQL EXECUTE of the statement:
#         parse + plan + execute + all result rows, no connection set-up).
#   exact the view's rows equal the raw table's rows as multisets (EXCEPT ALL
#         both ways, one statement); the column lists compared are VIEW_COLS
#         below.  A DIFF prints the differing rows and makes the script exit 1
#         after the table.
# Sizes: BENCH_VIEWS_EVENTS (default 10000000), BENCH_VIEWS_CHUNK (1000000),
# BENCH_VIEWS_TAIL (default: the steady-state tail above), BENCH_VIEWS_STRESS_TAIL
# (20000; 0 skips the stress rows); tails are multiples of 1000.
# BENCH_VIEWS_LOAD_ONLY=1 stops after the load (and checks it);
# BENCH_SKIP_INSTALL=1 uses the installed extension as it is (no build/install).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_VIEWS_EVENTS:-10000000}"
CHUNK="${BENCH_VIEWS_CHUNK:-1000000}"
# Steady state: two default worker intervals (2 x 60 s) of the loaded rate
# (N events over 30 days), in whole batches of 1,000.
WORKER_INTERVAL_S=60
STEADY_TAIL=$(( (2 * WORKER_INTERVAL_S * N / (30 * 86400) / 1000 + 1) * 1000 ))
TAIL="${BENCH_VIEWS_TAIL:-$STEADY_TAIL}"
STRESS_TAIL="${BENCH_VIEWS_STRESS_TAIL:-20000}"
RESULTS="${BENCH_VIEWS_RESULTS:-$REPO/bench-results/views.md}"
# The windows: opsmeter.range is a GUC in minutes (it takes '7d', not
# '7 days'); the same window as an interval for the raw-table queries.
RANGE_GUC=("7d" "30d")
RANGE_SQL=("7 days" "30 days")
TARGET=50

require_positive_ints N CHUNK TAIL
if ! [[ "$STRESS_TAIL" =~ ^[0-9]+$ ]] || ((TAIL % 1000 != 0 || STRESS_TAIL % 1000 != 0)); then
	echo "bench: BENCH_VIEWS_TAIL ($TAIL) and BENCH_VIEWS_STRESS_TAIL ($STRESS_TAIL) must be multiples of 1000" >&2
	exit 2
fi
if ((STRESS_TAIL != 0 && STRESS_TAIL <= TAIL)); then
	echo "bench: BENCH_VIEWS_STRESS_TAIL ($STRESS_TAIL) must be 0 or more than the tail ($TAIL)" >&2
	exit 2
fi

# ---------------------------------------------------------------------------
# The views and the columns compared (all but p95_latency_ms, which the views
# compute from latency buckets).  Each view is timed in full (SELECT *).
VIEWS=(overview top_users top_tenants top_endpoints prompt_versions top_models)
MEASURES="requests, errors, input_tokens, output_tokens, total_tokens, cost_usd, avg_latency_ms, cost_per_request, tokens_per_request"
declare -A VIEW_COLS=(
	[overview]="day, requests, errors, input_tokens, output_tokens, total_tokens, cost_usd, unpriced_requests, avg_latency_ms"
	[top_users]="user_id, $MEASURES"
	[top_tenants]="tenant_id, $MEASURES"
	[top_endpoints]="endpoint_tag, $MEASURES"
	[prompt_versions]="prompt_version, $MEASURES"
	[top_models]="provider, model, unpriced_requests, $MEASURES"
)

# The same questions asked of the raw table, written the way a user would
# (session TimeZone is UTC, so a UTC day is a calendar day):
#   raw_sql VIEW RANGE
raw_sql() {
	local view="$1" range="$2" where
	where="workspace_id = $WS AND data_mode = 'real'
	   AND ts >= date_trunc('day', now() - interval '$range' + interval '1 day')"
	local measures="count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors,
	       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
	       sum(total_tokens) AS total_tokens, coalesce(sum(cost_usd), 0) AS cost_usd,
	       round(avg(latency_ms), 2) AS avg_latency_ms,
	       round(coalesce(sum(cost_usd), 0) / count(*), 6) AS cost_per_request,
	       round(sum(total_tokens) / count(*), 2) AS tokens_per_request"
	case "$view" in
	overview)
		echo "SELECT ts::date AS day, count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors,
	       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
	       sum(total_tokens) AS total_tokens, coalesce(sum(cost_usd), 0) AS cost_usd,
	       count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_requests,
	       round(avg(latency_ms), 2) AS avg_latency_ms,
	       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms
	  FROM opsmeter.events WHERE $where
	 GROUP BY 1 ORDER BY 1" ;;
	top_users) raw_top "coalesce(user_id, 'unknown') AS user_id" "$where" "$measures" "user_id" ;;
	top_tenants) raw_top "coalesce(tenant_id, 'unknown') AS tenant_id" "$where" "$measures" "tenant_id" ;;
	top_endpoints) raw_top "coalesce(endpoint_tag, 'unknown') AS endpoint_tag" "$where" "$measures" "endpoint_tag" ;;
	prompt_versions) raw_top "coalesce(prompt_version, 'unknown') AS prompt_version" "$where" "$measures" "prompt_version" ;;
	top_models)
		echo "SELECT provider, model, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_requests, $measures
	  FROM opsmeter.events WHERE $where
	 GROUP BY provider, model ORDER BY cost_usd DESC, requests DESC, provider, model" ;;
	*) echo "bench: no raw query for view $view" >&2; return 1 ;;
	esac
}
raw_top() {	# raw_top KEY_EXPR WHERE MEASURES KEY_NAME
	echo "SELECT $1, $3
	  FROM opsmeter.events WHERE $2
	 GROUP BY 1 ORDER BY cost_usd DESC, requests DESC, $4"
}

# ---------------------------------------------------------------------------
opsmeter_require_packages
if [[ "${BENCH_SKIP_INSTALL:-0}" == "1" ]]; then
	log "BENCH_SKIP_INSTALL=1: using the installed extension, no build/install"
else
	opsmeter_build_install
fi
# raw_retention 32d: the oldest loaded hour is 30 days - 1 hour old, and a
# long load must not let it age out before the rollup pass.  The worker is
# off so that the raw tail stays un-rolled-up while the views are timed.
opsmeter_cluster_start bench-views \
	"shared_buffers = 2GB" "max_wal_size = 16GB" "checkpoint_timeout = 30min" \
	"synchronous_commit = off" "autovacuum = off" "timezone = 'UTC'" \
	"opsmeter.database = 'postgres'" "opsmeter.worker_enabled = off" "opsmeter.raw_retention = '32d'"
export PGOPTIONS="-c opsmeter.workspace=bench -c TimeZone=UTC"

q "CREATE EXTENSION opsmeter"
q "SELECT opsmeter_create_workspace('bench')" >/dev/null
WS=$(q "SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'bench'")
q "CREATE SCHEMA bench"

# Best time in ms of RUNS executions of a statement, after one warm-up.
q "CREATE FUNCTION bench.best_ms(sql text, runs int DEFAULT 3) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz;
    best numeric;
BEGIN
    EXECUTE sql;
    FOR r IN 1..runs LOOP
        t0 := clock_timestamp();
        EXECUTE sql;
        best := least(best, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
    RETURN round(best, 2);
END
\$\$"

# Tail events for opsmeter_ingest: N events from the last hour, deterministic
# from (seed, i), with the same kinds of values as the bulk load.
q "CREATE FUNCTION bench.batch(n int, seed int) RETURNS jsonb LANGUAGE sql AS \$\$
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
        'externalRequestId', 'tail-' || seed || '-' || i,
        'provider', (ARRAY['openai', 'openai', 'anthropic', 'openai'])[1 + h % 4],
        'model', (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-sonnet-4', 'acme-x'])[1 + h % 4],
        'inputTokens', 50 + (h / 4) % 3951, 'outputTokens', 10 + (h / 16384) % 1491,
        'latencyMs', CASE WHEN (h / 7) % 20 = 0 THEN NULL ELSE 80 + (h / 140) % 5921 END,
        'userId', CASE WHEN (h / 3) % 33 = 0 THEN NULL ELSE 'user-' || (h / 99) % 500 END,
        'tenantId', CASE WHEN (h / 5) % 20 = 0 THEN NULL ELSE 'tenant-' || (h / 100) % 40 END,
        'endpointTag', 'ep-' || (h / 11) % 25,
        'promptVersion', CASE WHEN (h / 13) % 10 = 0 THEN NULL ELSE 'v' || 1 + (h / 130) % 8 END,
        'dataMode', CASE WHEN (h / 17) % 100 < 90 THEN 'real' WHEN (h / 17) % 100 < 96 THEN 'test' ELSE 'demo' END,
        'environment', CASE WHEN (h / 19) % 100 < 85 THEN 'prod' WHEN (h / 19) % 100 < 95 THEN 'staging' ELSE 'dev' END,
        'status', CASE WHEN (h / 23) % 50 = 0 THEN 'error' ELSE 'success' END,
        'errorCode', CASE WHEN (h / 23) % 50 = 0 THEN 'rate_limit' END,
        'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(secs => 1 + (h / 29) % 3500),
                             'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))))
      FROM generate_series(1, n) i, LATERAL (SELECT hashint8extended(i, seed) & 2147483647 AS h) x
\$\$"

# ---------------------------------------------------------------------------
# Load: events i = 1..N at T0 + (i - 1) * STEP, T0 = now - 30 days + 1 hour,
# the last one at now - 10 minutes.
T0=$(q "SELECT now() - interval '30 days' + interval '1 hour'")
STEP=$(calc "%.9f" "(30 * 86400 - 3600 - 600) / $N")
TS_EXPR="(timestamptz '$T0' + make_interval(secs => (i - 1) * $STEP::float8))"
log "loading $N events over the last 30 days (from $T0, one every ${STEP}s), chunks of $CHUNK rows"

t0=$(now_s)
q "SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date - 31, (now() AT TIME ZONE 'UTC')::date + 1)" >/dev/null
log "  partitions: $(calc "%.1f" "$(now_s) - $t0") s"

# Models: provider, name, USD per 1M input / output tokens (acme-x unpriced),
# chosen by weight (the index array).
MODEL_IDX="ARRAY[1,1,1,1,2,2,2,2,2,3,3,3,4,4,5,5,5,6,7,8,9,10,11,11,12]"
PROVIDERS="ARRAY['openai','openai','anthropic','anthropic','google','openai','google','mistral','mistral','anthropic','openai','openai']"
MODELS="ARRAY['gpt-4o','gpt-4o-mini','claude-sonnet-4','claude-3-5-haiku','gemini-2.0-flash','o3-mini','gemini-1.5-pro','mistral-large','mistral-small','claude-opus-4','gpt-4.1','acme-x']"
PRICE_IN="ARRAY[2.5,0.15,3,0.8,0.1,1.1,1.25,2,0.2,15,2,NULL]::numeric[]"
PRICE_OUT="ARRAY[10,0.6,15,4,0.4,4.4,5,6,0.6,75,8,NULL]::numeric[]"
LOAD_T0=$(now_s)
for ((lo = 1; lo <= N; lo += CHUNK)); do
	hi=$((lo + CHUNK - 1))
	((hi > N)) && hi=$N
	t0=$(now_s)
	psql -X -q -v ON_ERROR_STOP=1 -o /dev/null <<SQL
BEGIN;
WITH b AS MATERIALIZED (SELECT nextval('opsmeter.ingest_batch_seq') AS batch)
INSERT INTO opsmeter.events (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens,
                             cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode,
                             environment, pricing, ingested_by, ingested_at, external_request_id,
                             provider, model, cost_usd, error_code, prompt_version, endpoint_tag,
                             user_id, tenant_id, metadata)
SELECT $WS, v.ts, b.batch, v.inp, v.outp, v.inp + v.outp,
       CASE WHEN h.h4 % 4 = 0 THEN v.inp * ((h.h4 / 4) % 90) / 100 ELSE 0 END, 0,
       CASE WHEN h.h5 % 100 < 5 THEN NULL
            ELSE 80 + ((h.h5 / 100) % 1000) * ((h.h5 / 100) % 1000) * 5920 / 998001 END,
       h.h6 % 100 < 2,
       CASE WHEN h.h7 % 100 < 90 THEN 'real' WHEN h.h7 % 100 < 96 THEN 'test' ELSE 'demo' END::opsmeter.data_mode,
       CASE WHEN h.h8 % 100 < 85 THEN 'prod' WHEN h.h8 % 100 < 95 THEN 'staging' ELSE 'dev' END::opsmeter.environment,
       CASE WHEN v.m = 12 THEN 'unpriced' ELSE 'catalog' END::opsmeter.pricing_source,
       'postgres'::regrole, v.ts, 'bench-' || lpad(i::text, 9, '0'),
       ($PROVIDERS)[v.m], ($MODELS)[v.m],
       (v.inp * ($PRICE_IN)[v.m] + v.outp * ($PRICE_OUT)[v.m]) / 1000000,
       CASE WHEN h.h6 % 100 < 2 THEN 'rate_limit' END,
       CASE WHEN h.h9 % 100 < 10 THEN NULL ELSE 'v' || 1 + (h.h9 / 100) % 8 END,
       'ep-' || (h.h10 / 100) % 25,
       CASE WHEN h.h10 % 100 < 3 THEN NULL
            ELSE 'user-' || ((h.h11 % 1000) * (h.h11 % 1000)) / 1998 END,
       CASE WHEN h.h12 % 100 < 5 THEN NULL ELSE 'tenant-' || (h.h12 / 100) % 40 END,
       NULL
  FROM b, generate_series($lo, $hi) i,
       LATERAL (SELECT hashint8extended(i, 1) & 2147483647 AS h1, hashint8extended(i, 2) & 2147483647 AS h2,
                       hashint8extended(i, 3) & 2147483647 AS h3, hashint8extended(i, 4) & 2147483647 AS h4,
                       hashint8extended(i, 5) & 2147483647 AS h5, hashint8extended(i, 6) & 2147483647 AS h6,
                       hashint8extended(i, 7) & 2147483647 AS h7, hashint8extended(i, 8) & 2147483647 AS h8,
                       hashint8extended(i, 9) & 2147483647 AS h9, hashint8extended(i, 10) & 2147483647 AS h10,
                       hashint8extended(i, 11) & 2147483647 AS h11, hashint8extended(i, 12) & 2147483647 AS h12
                OFFSET 0) h,
       LATERAL (SELECT $TS_EXPR AS ts, ($MODEL_IDX)[1 + h.h1 % 25] AS m,
                       50 + (h.h2 % 1000) * (h.h2 % 1000) * 3950 / 998001 AS inp,
                       10 + (h.h3 % 1000) * (h.h3 % 1000) * 1490 / 998001 AS outp
                OFFSET 0) v;
INSERT INTO opsmeter.request_keys (workspace_id, external_request_id, event_day)
SELECT $WS, 'bench-' || lpad(i::text, 9, '0'), ($TS_EXPR AT TIME ZONE 'UTC')::date
  FROM generate_series($lo, $hi) i;
COMMIT;
SQL
	t1=$(now_s)
	log "  rows $lo..$hi: $(calc "%.1f" "$t1 - $t0") s ($(calc "%.0f" "($hi - $lo + 1) / ($t1 - $t0)") rows/s)"
done
LOAD_S=$(calc "%.1f" "$(now_s) - $LOAD_T0")
log "  loaded $N events in $LOAD_S s ($(calc "%.0f" "$N / $LOAD_S") rows/s)"

t0=$(now_s)
q "VACUUM ANALYZE opsmeter.events"
q "VACUUM ANALYZE opsmeter.request_keys"
VACUUM_S=$(calc "%.1f" "$(now_s) - $t0")
log "  VACUUM ANALYZE: $VACUUM_S s"

t0=$(now_s)
q "SELECT opsmeter_run_retention()" >/dev/null
ROLLUP_S=$(calc "%.1f" "$(now_s) - $t0")
ROLLED_UP=$(q "SELECT rows_rolled_up FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
ROLLUP_FACTS=$(q "SELECT format('ok %s, %s rows rolled up, %s partitions dropped%s', ok, rows_rolled_up, partitions_dropped,
                                ': ' || error) FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1")
log "  opsmeter_run_retention(): $ROLLUP_S s ($ROLLUP_FACTS)"
# Everything the pass wrote (summaries, histograms, state, ...) gets its
# statistics too, as autovacuum would give them in production.
q "SELECT format('VACUUM ANALYZE %s;', c.oid::regclass) FROM pg_class c
    WHERE c.relnamespace = 'opsmeter'::regnamespace AND c.relkind = 'r' AND NOT c.relispartition
      AND c.relname NOT IN ('request_keys')" | psql -X -q -v ON_ERROR_STOP=1
SUMMARY_ROWS=$(q "SELECT count(*) FROM opsmeter.summaries")
log "  $SUMMARY_ROWS summary rows"

# grow_tail TO: ingest tail events (batches of 1,000, seeds continuing) until
# TO are pending, then check the raw table holds exactly N + TO rows, TO of
# them above the watermark.  Sets TAIL_S and RAW_ROWS.
PENDING=0
grow_tail() {
	local to="$1" k t0 above
	log "ingesting the tail up to $to events from the last hour through opsmeter_ingest (batches of 1000)"
	t0=$(now_s)
	for ((k = PENDING / 1000 + 1; k <= to / 1000; k++)); do
		echo "SELECT opsmeter_ingest(bench.batch(1000, $k));"
	done | psql -X -q -v ON_ERROR_STOP=1 -o /dev/null
	TAIL_S=$(calc "%.1f" "$(now_s) - $t0")
	log "  done in $TAIL_S s"
	q "ANALYZE opsmeter.events"
	PENDING=$to
	RAW_ROWS=$(q "SELECT count(*) FROM opsmeter.events")
	above=$(q "SELECT count(*) FROM opsmeter.events WHERE ingest_batch > opsmeter.rollup_watermark()")
	log "  $RAW_ROWS raw rows, $ROLLED_UP rolled up, $above above the rollup watermark"
	if [[ "$RAW_ROWS" != "$((N + to))" || "$ROLLED_UP" != "$N" || "$above" != "$to" ]]; then
		echo "bench: the load is not as expected: $RAW_ROWS raw rows ($((N + to)) expected), $ROLLED_UP rolled up ($N), $above in the tail ($to)" >&2
		exit 1
	fi
}
grow_tail "$TAIL"
q "SELECT data_mode, environment, count(*), count(DISTINCT user_id) AS users, count(DISTINCT tenant_id) AS tenants,
          count(DISTINCT model) AS models, round(avg(latency_ms)) AS avg_latency, sum(cost_usd)::numeric(14,2) AS cost
     FROM opsmeter.events GROUP BY 1, 2 ORDER BY 1, 2" | sed 's/^/bench:   /'
if [[ "${BENCH_VIEWS_LOAD_ONLY:-0}" == "1" ]]; then
	log "BENCH_VIEWS_LOAD_ONLY=1: stopping after the load"
	exit 0
fi

# ---------------------------------------------------------------------------
# Views vs raw table: measure_views KIND appends a table row per view and
# range; KIND "target" judges each against the target, "stress" is shown as
# information.
ROWS=()
DIFFS=0
measure_views() {
	local kind="$1" ri range set_sql view raw cols view_ms raw_ms counts view_rows raw_rows diff exact speedup result target
	for ((ri = 0; ri < ${#RANGE_GUC[@]}; ri++)); do
		range="${RANGE_SQL[$ri]}"
		set_sql="SET opsmeter.range = '${RANGE_GUC[$ri]}'; SET opsmeter.data_mode = 'real'; SET opsmeter.environment = 'all';"
		for view in "${VIEWS[@]}"; do
			raw="$(raw_sql "$view" "$range")"
			cols="${VIEW_COLS[$view]}"
			view_ms=$(q "$set_sql SELECT bench.best_ms(\$bench\$SELECT * FROM opsmeter.$view\$bench\$)")
			raw_ms=$(q "$set_sql SELECT bench.best_ms(\$bench\$$raw\$bench\$)")
			counts=$(q "$set_sql SELECT (SELECT count(*) FROM opsmeter.$view) || ' ' || (SELECT count(*) FROM ($raw) r)")
			view_rows=${counts% *}
			raw_rows=${counts#* }
			diff=$(q "$set_sql SELECT count(*) FROM (
			            (SELECT $cols FROM opsmeter.$view EXCEPT ALL SELECT $cols FROM ($raw) r)
			            UNION ALL
			            (SELECT $cols FROM ($raw) r EXCEPT ALL SELECT $cols FROM opsmeter.$view)) d")
			if [[ "$diff" == "0" ]]; then
				exact="OK ($view_rows rows)"
			else
				exact="DIFF ($diff rows differ; view $view_rows rows, raw $raw_rows)"
				DIFFS=$((DIFFS + 1))
				echo "bench: DIFF in opsmeter.$view (range '$range'), compared columns: $cols" >&2
				echo "bench: raw-table query: $raw" >&2
				psql -X -q -P pager=off -v ON_ERROR_STOP=1 -c "$set_sql
				    SELECT 'view only' AS side, v.* FROM (SELECT $cols FROM opsmeter.$view EXCEPT ALL SELECT $cols FROM ($raw) r) v
				    UNION ALL
				    SELECT 'raw only', r.* FROM (SELECT $cols FROM ($raw) r EXCEPT ALL SELECT $cols FROM opsmeter.$view) r
				    ORDER BY 2, 1 LIMIT 60" >&2
			fi
			speedup=$(calc "%.1f" "$raw_ms / ($view_ms > 0 ? $view_ms : 0.01)")
			if [[ "$kind" == "target" ]]; then
				result=$(awk "BEGIN { print ($raw_ms >= $TARGET * $view_ms) ? \"PASS\" : \"MISS\" }")
				target=">= ${TARGET}x"
			else
				result="info"
				target="(stress)"
			fi
			log "$view ($range, $PENDING pending): view $view_ms ms, raw table $raw_ms ms, ${speedup}x, $result, $exact"
			ROWS+=("| $view ($range) | $PENDING | $view_ms | $raw_ms | ${speedup}x | $target | $result | $exact |")
		done
	done
}
measure_views target
STEADY_TAIL_S=$TAIL_S
if ((STRESS_TAIL > 0)); then
	grow_tail "$STRESS_TAIL"
	measure_views stress
fi

mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter reporting views benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $(q 'SELECT version()' | cut -d, -f1); shared_buffers 2GB, autovacuum off (VACUUM ANALYZE after the load)"
	echo "- $N events loaded over the last 30 days (direct SQL, $LOAD_S s; VACUUM ANALYZE $VACUUM_S s), rolled up by one opsmeter_run_retention() pass ($ROLLUP_S s; $SUMMARY_ROWS summary rows), plus $TAIL events from the last hour through opsmeter_ingest() left un-rolled-up ($STEADY_TAIL_S s): the steady-state tail, two default worker intervals (2 x ${WORKER_INTERVAL_S} s) of the loaded rate in whole batches of 1,000; stress rows: the tail grown to $STRESS_TAIL pending events"
	echo "- each view with opsmeter.range = '7d' / '30d' (the last 7 / 30 calendar days, UTC, today included), data_mode 'real', environment 'all', vs the same question written by hand against opsmeter.events (workspace, ts >= start of the window, data_mode = 'real', GROUP BY, ORDER BY; the overview's p95 as percentile_disc)"
	echo "- times: server-side, best of 3 after one warm-up (clock_timestamp() around a PL/pgSQL EXECUTE: plan + execute + all rows); exact: the view's rows equal the raw table's as multisets, all columns but p95_latency_ms"
	echo
	echo "| view | pending rows | view ms | raw-table ms | speedup | target | result | exact |"
	echo "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |"
	printf '%s\n' "${ROWS[@]}"
} | tee "$RESULTS"

if ((DIFFS > 0)); then
	opsmeter_cleanup_now 0	# the server log has nothing to say about a DIFF
	echo "bench: $DIFFS view/range pair(s) differ from the raw table (see DIFF above)" >&2
	exit 1
fi
