# shellcheck shell=bash
# test/bench/lib.sh — small helpers shared by the benchmark scripts.
log() { printf 'bench: %s\n' "$*"; }
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$1"; }
# require_positive_ints VAR ...: exit 2 unless each named variable holds a
# positive integer (the scripts' size and duration knobs).
require_positive_ints() {
	local var
	for var in "$@"; do
		if ! [[ "${!var}" =~ ^[1-9][0-9]*$ ]]; then
			echo "bench: $var must be a positive integer, got '${!var}'" >&2
			exit 2
		fi
	done
}

# bench_timing_functions: create, in schema bench (which must exist), the
# server-side timers the view and rollup benchmarks share.  Needs a superuser
# session (pg_read_file of /proc).
#   bench.cpu_ms()   CPU time so far, in ms, of this backend (ns-resolution
#                    /proc/self/schedstat) plus that of the cluster's exited
#                    processes (the postmaster's cutime + cstime, in clock
#                    ticks): parallel workers are counted once they exit.
#                    The kernel brings a running task's schedstat up to date
#                    only at a scheduler tick or switch, so it first sleeps
#                    for 0.1 ms (a switch): the figure is then exact to a few
#                    microseconds instead of one tick.
#   bench.once(sql)  -> wall_ms, cpu_ms: one execution, timed on the server
#                    (clock_timestamp() around a PL/pgSQL EXECUTE: parse +
#                    plan + execute + all result rows, no connection set-up).
#                    It first waits (up to 2 s) until no other client
#                    backend or parallel worker is left, so that a previous
#                    session's backend exiting inside the measurement does
#                    not add its CPU time to this one's.
#   bench.best(sql, runs DEFAULT 3) -> wall_ms, cpu_ms: one warm-up, then the
#                    least wall time and the least CPU time of RUNS executions.
#   bench.try_once(sql) -> as bench.once, or NULLs (and a WARNING) when the
#                    statement fails: for breakdowns that call the extension's
#                    internal functions, whose signatures may change.
# Print with q "SELECT * FROM bench.best(...)" -> "wall|cpu".
bench_timing_functions() {
	local tck
	tck="$(getconf CLK_TCK 2>/dev/null || echo 100)"
	psql -X -q -v ON_ERROR_STOP=1 <<SQL
CREATE FUNCTION bench.cpu_ms(at_end boolean DEFAULT false) RETURNS numeric LANGUAGE plpgsql AS \$\$
DECLARE
    own numeric;
    exited numeric;
    pm text[];
BEGIN
    -- At the start the backend's own time is read last, at the end first,
    -- so that this function's own work stays out of the difference.
    IF at_end THEN
        PERFORM pg_sleep(0.0001);
        own := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::numeric / 1e6;
    END IF;
    -- the postmaster's stat: after "pid (comm) ", cutime and cstime are the 14th and 15th fields
    pm := string_to_array(substring(pg_read_file('/proc/' || split_part(pg_read_file('postmaster.pid'), E'\\n', 1) || '/stat')
                                    FROM '\) (.*)\$'), ' ');
    exited := (pm[14]::numeric + pm[15]::numeric) * 1000 / $tck;
    IF NOT at_end THEN
        PERFORM pg_sleep(0.0001);
        own := split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::numeric / 1e6;
    END IF;
    RETURN own + exited;
END
\$\$;
CREATE FUNCTION bench.once(sql text, OUT wall_ms numeric, OUT cpu_ms numeric) LANGUAGE plpgsql AS \$\$
DECLARE
    t0 timestamptz;
    c0 numeric;
BEGIN
    FOR i IN 1..400 LOOP
        EXIT WHEN NOT EXISTS (SELECT 1 FROM pg_stat_activity
                               WHERE backend_type IN ('client backend', 'parallel worker') AND pid <> pg_backend_pid());
        PERFORM pg_sleep(0.005);
    END LOOP;
    PERFORM pg_sleep(0.005);    -- and for the postmaster to reap it
    PERFORM bench.cpu_ms(true);  -- warm
    c0 := bench.cpu_ms();
    t0 := clock_timestamp();
    EXECUTE sql;
    wall_ms := round(extract(epoch FROM clock_timestamp() - t0) * 1000, 2);
    cpu_ms := round(bench.cpu_ms(true) - c0, 2);
END
\$\$;
CREATE FUNCTION bench.try_once(sql text, OUT wall_ms numeric, OUT cpu_ms numeric) LANGUAGE plpgsql AS \$\$
BEGIN
    SELECT * INTO wall_ms, cpu_ms FROM bench.once(sql);
EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'bench: % failed: %', sql, SQLERRM;
END
\$\$;
CREATE FUNCTION bench.best(sql text, runs int DEFAULT 3, OUT wall_ms numeric, OUT cpu_ms numeric) LANGUAGE plpgsql AS \$\$
DECLARE
    r record;
BEGIN
    EXECUTE sql;
    FOR i IN 1..runs LOOP
        r := bench.once(sql);
        wall_ms := least(wall_ms, r.wall_ms);
        cpu_ms := least(cpu_ms, r.cpu_ms);
    END LOOP;
END
\$\$;
SQL
}

# The reporting views' questions asked of the raw table, written the way a
# user would, in the session TimeZone, for one workspace:
#   bench_raw_sql VIEW RANGE WS [nop95] [AND_WHERE]
# VIEW: overview, top_users, top_tenants, top_endpoints, prompt_versions,
# top_models, daily_users (the last 7 days of the window: what
# "SELECT * FROM opsmeter.daily_users WHERE day >= current_date - 6" asks);
# RANGE: the window as an interval ('7 days': the last 7 calendar days,
# today included); nop95: the overview without its p95, which the
# exactness checks do not compare (the views compute it from latency
# buckets); AND_WHERE: more conditions for the WHERE clause, starting with
# AND (views.sh's pending rows alone).  BENCH_VIEW_COLS: the columns
# compared between a view and its raw question (all but p95_latency_ms).
BENCH_MEASURES="requests, errors, input_tokens, output_tokens, total_tokens, cost_usd, avg_latency_ms, cost_per_request, tokens_per_request"
declare -A BENCH_VIEW_COLS=(
	[overview]="day, requests, errors, input_tokens, output_tokens, total_tokens, cost_usd, unpriced_requests, avg_latency_ms"
	[top_users]="user_id, $BENCH_MEASURES"
	[top_tenants]="tenant_id, $BENCH_MEASURES"
	[top_endpoints]="endpoint_tag, $BENCH_MEASURES"
	[prompt_versions]="prompt_version, $BENCH_MEASURES"
	[top_models]="provider, model, unpriced_requests, $BENCH_MEASURES"
	[daily_users]="day, user_id, $BENCH_MEASURES"
)
bench_raw_sql() {
	local view="$1" range="$2" ws="$3" where measures p95=",
	       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95_latency_ms"
	if [[ "${4:-}" == "nop95" ]]; then
		p95=""
	fi
	where="workspace_id = $ws AND data_mode = 'real'
	   AND ts >= date_trunc('day', now() - interval '$range' + interval '1 day') ${5:-}"
	measures="count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors,
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
	       round(avg(latency_ms), 2) AS avg_latency_ms$p95
	  FROM opsmeter.events WHERE $where
	 GROUP BY 1 ORDER BY 1" ;;
	top_users) bench__raw_top "coalesce(user_id, 'unknown') AS user_id" "$where" "$measures" "user_id" ;;
	top_tenants) bench__raw_top "coalesce(tenant_id, 'unknown') AS tenant_id" "$where" "$measures" "tenant_id" ;;
	top_endpoints) bench__raw_top "coalesce(endpoint_tag, 'unknown') AS endpoint_tag" "$where" "$measures" "endpoint_tag" ;;
	prompt_versions) bench__raw_top "coalesce(prompt_version, 'unknown') AS prompt_version" "$where" "$measures" "prompt_version" ;;
	top_models)
		echo "SELECT provider, model, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_requests, $measures
	  FROM opsmeter.events WHERE $where
	 GROUP BY provider, model ORDER BY cost_usd DESC, requests DESC, provider, model" ;;
	daily_users)
		echo "SELECT ts::date AS day, coalesce(user_id, 'unknown') AS user_id, $measures
	  FROM opsmeter.events WHERE $where AND ts >= (current_date - 6)::timestamptz
	 GROUP BY 1, 2 ORDER BY 1, cost_usd DESC, requests DESC, 2" ;;
	*) echo "bench: no raw query for view $view" >&2; return 1 ;;
	esac
}
bench__raw_top() {	# bench__raw_top KEY_EXPR WHERE MEASURES KEY_NAME
	echo "SELECT $1, $3
	  FROM opsmeter.events WHERE $2
	 GROUP BY 1 ORDER BY cost_usd DESC, requests DESC, $4"
}

# bench_installed_fingerprint: which build of the extension a run measured
# (the installed files can change between runs): the first 12 hex digits of
# the sha256 of the installed install script and module, and their mtime.
bench_installed_fingerprint() {
	local share lib ver
	share="$("$OPSMETER_PG_CONFIG" --sharedir)/extension"
	lib="$("$OPSMETER_PG_CONFIG" --pkglibdir)/opsmeter.so"
	ver="$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$share/opsmeter.control")"
	printf 'installed opsmeter %s: opsmeter--%s.sql %s, opsmeter.so %s (installed %s)' "$ver" "$ver" \
		"$(sha256sum "$share/opsmeter--$ver.sql" | cut -c1-12)" "$(sha256sum "$lib" | cut -c1-12)" \
		"$(date -u -r "$lib" '+%Y-%m-%d %H:%M UTC')"
}

# bench_summary_bytes: "SUMMARY_BYTES RAW_BYTES QUARTER_ROW_BYTES": the
# on-disk size (heap, TOAST and indexes) of both summary tiers, of the raw
# events' partitions, and the average size of a summary_quarters row (most
# of it its latency histogram).  Row counts are the issue's target; bytes
# say what the rows weigh.
bench_summary_bytes() {
	q "SELECT (SELECT pg_total_relation_size('opsmeter.summary_quarters') + pg_total_relation_size('opsmeter.summaries')),
	          (SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) FROM pg_inherits i
	            WHERE i.inhparent = 'opsmeter.events'::regclass),
	          (SELECT coalesce(round(avg(pg_column_size(s.*))), 0) FROM opsmeter.summary_quarters s)" | tr '|' ' '
}
