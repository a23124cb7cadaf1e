-- analytics: the views and their function forms read summaries plus the
-- pending rows, answer the same before and after rollup and retention,
-- count real rows only by default, and follow the session's TimeZone.
-- Relies on setup: regress.try_set().
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('analytics_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'analytics_ws';
SET TimeZone = 'UTC';

-- 72 hours of traffic ending at the last UTC midnight: three whole UTC days,
-- so the top lists read daily summary rows once they are rolled up.
-- Mostly real; some test and demo rows; one unpriced model.
CREATE FUNCTION pg_temp.base() RETURNS timestamptz LANGUAGE sql STABLE
    RETURN date_trunc('day', now(), 'UTC');
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'a-' || i,
         'provider', CASE WHEN i % 7 = 0 THEN 'acme' ELSE 'openai' END,
         'model', CASE WHEN i % 7 = 0 THEN 'acme-1' WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
         'inputTokens', 1000 + 10 * i, 'outputTokens', 100 + i % 50, 'latencyMs', 40 + (i * 37) % 3000,
         'status', CASE WHEN i % 13 = 0 THEN 'error' ELSE 'success' END,
         'userId', CASE WHEN i % 6 = 0 THEN NULL ELSE 'user-' || (i % 5) END,
         'tenantId', 'tenant-' || (i % 3),
         'endpointTag', CASE WHEN i % 4 = 0 THEN NULL ELSE 'ep-' || (i % 2) END,
         'promptVersion', 'v' || (i % 3),
         'dataMode', CASE WHEN i % 10 = 0 THEN 'test' WHEN i % 10 = 1 THEN 'demo' ELSE 'real' END,
         'environment', CASE WHEN i % 8 = 0 THEN 'staging' WHEN i % 8 = 1 THEN 'dev' ELSE 'prod' END,
         'timestamp', to_char((pg_temp.base() - make_interval(mins => 17 * i)) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted') AS accepted
  FROM generate_series(1, 254) i;

-- Every answer, as rows of jsonb, to compare snapshots.
CREATE FUNCTION pg_temp.answers() RETURNS TABLE (source text, answer jsonb) LANGUAGE sql AS $$
    SELECT 'overview', to_jsonb(v) FROM opsmeter.overview v
    UNION ALL SELECT 'top_users', to_jsonb(v) FROM opsmeter.top_users v
    UNION ALL SELECT 'top_tenants', to_jsonb(v) FROM opsmeter.top_tenants v
    UNION ALL SELECT 'top_endpoints', to_jsonb(v) FROM opsmeter.top_endpoints v
    UNION ALL SELECT 'top_models', to_jsonb(v) FROM opsmeter.top_models v
    UNION ALL SELECT 'prompt_versions', to_jsonb(v) FROM opsmeter.prompt_versions v
    UNION ALL SELECT 'unpriced_models', to_jsonb(v) FROM opsmeter.unpriced_models v
    UNION ALL SELECT 'budget_signals', to_jsonb(v) FROM opsmeter.budget_signals v
    UNION ALL SELECT 'export', to_jsonb(v) FROM opsmeter.export v
    UNION ALL SELECT 'overview(all)', to_jsonb(v) FROM opsmeter_overview('7 days', 'all', 'all') v
    UNION ALL SELECT 'top_users(test,staging)', to_jsonb(v) FROM opsmeter_top_users('7 days', 'test', 'staging') v
    UNION ALL SELECT 'top_models(36 hours)', to_jsonb(v) FROM opsmeter_top_models('36 hours') v
    UNION ALL SELECT 'compare(user, 2 days)', to_jsonb(v) FROM opsmeter_compare('user', '2 days') v
    UNION ALL SELECT 'compare(model, 1 day)', to_jsonb(v) FROM opsmeter_compare('model', '1 day') v
$$;
CREATE TEMP TABLE raw_answers AS SELECT * FROM pg_temp.answers();
SELECT source, count(*) > 0 AS answered FROM raw_answers GROUP BY 1 ORDER BY 1;

-- Nothing is rolled up yet: every answer came from raw rows.  The views
-- count real rows of every environment by default.
SELECT count(*) AS rolled_up FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND ingest_batch <= opsmeter.rollup_watermark();
SELECT sum(requests) AS real_requests, sum(cost_usd) AS real_cost FROM opsmeter.overview;
SELECT count(*) AS raw_real_requests, sum(cost_usd) AS raw_real_cost
  FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real';

-- The top users, checked against the same question asked of the raw table.
SELECT * FROM opsmeter.top_users;
SELECT coalesce(user_id, 'unknown') AS user_id, count(*) AS requests, sum(cost_usd) AS cost_usd,
       round(avg(latency_ms), 2) AS avg_latency_ms
  FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real'
 GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1;

-- The overview: one row per day of the session's TimeZone.
SELECT day - (pg_temp.base() - interval '1 day')::date AS day_offset, requests, errors, total_tokens, cost_usd,
       unpriced_requests, avg_latency_ms, p95_latency_ms
  FROM opsmeter.overview ORDER BY day;
-- p95 is the upper bound of the latency bucket holding the 95th percentile
-- (nearest rank); buckets are exact below 128 ms and at most 3.2% wide.
SELECT d AS day_offset, bool_and(p95_ok) AS p95_within_bucket FROM (
    SELECT (e.ts::date - (pg_temp.base() - interval '1 day')::date) AS d,
           percentile_disc(0.95) WITHIN GROUP (ORDER BY e.latency_ms) AS exact_p95
      FROM opsmeter.events e
     WHERE e.workspace_id = opsmeter.active_workspace() AND e.data_mode = 'real'
     GROUP BY 1) x
  JOIN LATERAL (SELECT o.p95_latency_ms BETWEEN x.exact_p95 AND x.exact_p95 * 1.032 AS p95_ok
                  FROM opsmeter.overview o
                 WHERE o.day - (pg_temp.base() - interval '1 day')::date = x.d) y ON true
 GROUP BY 1 ORDER BY 1;
SELECT opsmeter.latency_bucket(0) AS b0, opsmeter.latency_bucket(127) AS b127, opsmeter.latency_bucket(128) AS b128,
       opsmeter.latency_bucket(1000) AS b1000, opsmeter.latency_bucket(2147483647) AS bmax;

-- In New York the same rows fall on other days; nothing is lost or counted twice.
SET TimeZone = 'America/New_York';
SELECT day - (pg_temp.base() - interval '1 day')::date AS day_offset, requests, cost_usd
  FROM opsmeter_overview('7 days', 'all', 'all') ORDER BY day;
SELECT sum(requests) AS all_requests, sum(cost_usd) AS all_cost FROM opsmeter_overview('7 days', 'all', 'all');
-- The same days asked of the raw table, grouped by New York calendar day.
SELECT count(*) AS differences_vs_raw FROM (
    SELECT day, requests, cost_usd FROM opsmeter_overview('7 days', 'all', 'all')
    EXCEPT ALL
    SELECT ts::date, count(*), sum(cost_usd) FROM opsmeter.events
     WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1) d;
RESET TimeZone;
SET TimeZone = 'UTC';

-- Filters: GUCs for the views, arguments for the function forms.
SET opsmeter.data_mode = 'all';
SELECT sum(requests) AS all_modes FROM opsmeter.overview;
SET opsmeter.data_mode = 'test, demo';
SET opsmeter.environment = 'staging';
SELECT sum(requests) AS test_demo_staging FROM opsmeter.overview;
SELECT count(*) AS raw_test_demo_staging FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND data_mode IN ('test', 'demo') AND environment = 'staging';
RESET opsmeter.data_mode;
RESET opsmeter.environment;
SHOW opsmeter.data_mode;
SHOW opsmeter.environment;
-- opsmeter.range is empty by default: no window, every retained day (a BI
-- tool filters by day itself).  SHOW gives back what was set.
SHOW opsmeter.range;
SELECT count(*) AS days_without_window FROM opsmeter.overview;
SET opsmeter.range = '2d';
SHOW opsmeter.range;
SELECT count(*) AS days_in_2d_window FROM opsmeter.overview;
-- '48h' is the last 48 hours (from the hour), as '48 hours' is in the
-- function forms; '2d' above is two calendar days.
SET opsmeter.range = '48h';
SHOW opsmeter.range;
SELECT (SELECT sum(requests) FROM opsmeter.top_models) = (SELECT sum(requests) FROM opsmeter_top_models('48 hours'))
       AS same_as_function_form,
       (SELECT sum(requests) FROM opsmeter.top_models)
     = (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real'
           AND ts >= date_trunc('hour', now()) - interval '47 hours') AS last_48_hours;
RESET opsmeter.range;
-- window_start() (C) is date_trunc(unit, now() - range + '1 unit'), the
-- unit the range is whole in, in the session TimeZone; session_window_start()
-- is that of opsmeter.range, or -infinity when it is empty.
SELECT count(*) AS window_starts, count(DISTINCT current_setting('TimeZone')) AS zones,
       count(*) FILTER (WHERE opsmeter.window_start(r) IS DISTINCT FROM
           CASE WHEN date_trunc('day', r) = r THEN date_trunc('day', now() - r + interval '1 day')
                WHEN date_trunc('hour', r) = r THEN date_trunc('hour', now() - r + interval '1 hour')
                ELSE date_trunc('minute', now() - r + interval '1 minute') END) AS differing
  FROM unnest(ARRAY['Asia/Kathmandu', 'Pacific/Chatham', 'America/St_Johns', 'Australia/Lord_Howe', 'UTC']) z,
       LATERAL (SELECT set_config('TimeZone', z, true)) s,
       unnest(ARRAY['1 day', '7 days', '30 days', '1 mon', '1 year', '24 hours', '36 hours', '1 hour', '90 minutes',
                    '1 minute', '45 seconds', '1 day 2 hours', '100 years']::interval[]) r;
SELECT opsmeter.session_window_start() AS no_window;
SET opsmeter.range = '90min';
SELECT opsmeter.session_window_start() = date_trunc('minute', now() - interval '89 minutes') AS minute_window;
RESET opsmeter.range;
SELECT user_id, requests FROM opsmeter_top_users('7 days', 'real', 'all', 2);
SELECT provider, model, requests, unpriced_requests FROM opsmeter_top_models(lim => 10);
SELECT * FROM opsmeter.unpriced_models;

-- Bad filters and ranges: 22023 with the allowed values.
\set ON_ERROR_STOP 0
SET opsmeter.data_mode = 'real,prod';
SET opsmeter.environment = 'production';
SELECT * FROM opsmeter_top_users('7 days', 'everything');
SELECT * FROM opsmeter_top_tenants('7 days', 'real', 'moon');
SELECT * FROM opsmeter_overview('-1 day');
SELECT * FROM opsmeter_overview(NULL);
SELECT opsmeter.window_start('100 years 1 day');
SELECT opsmeter.window_start('-5 minutes');
SELECT * FROM opsmeter_compare('color');
SELECT * FROM opsmeter_export('2026-01-02 00:00+00', '2026-01-01 00:00+00');
\set ON_ERROR_STOP 1
-- opsmeter.range: a count and a unit, at most 100 years; refused otherwise
-- (the setting stays as it was).
SELECT * FROM regress.try_set('opsmeter.range', '0d');
SELECT * FROM regress.try_set('opsmeter.range', '7 parsecs');
SELECT * FROM regress.try_set('opsmeter.range', '36501 days');
SELECT * FROM regress.try_set('opsmeter.range', '90min');
RESET opsmeter.range;

-- Export: request-level rows; the meta says when raw retention cut the range.
SELECT count(*) AS exported, count(DISTINCT external_request_id) AS distinct_ids, sum(cost_usd) AS cost_usd
  FROM opsmeter_export(pg_temp.base() - interval '4 days', pg_temp.base());
SELECT external_request_id, provider, model, status, user_id, data_mode, environment, cost_usd, pricing
  FROM opsmeter_export(pg_temp.base() - interval '4 days', pg_temp.base(), 'all', 'all')
 ORDER BY ts DESC LIMIT 3;
SELECT retention_truncated, retention_available_from_utc > now() - interval '31 days' AS from_about_30_days_ago
  FROM opsmeter_export_meta(now() - interval '60 days', now());
SELECT retention_truncated FROM opsmeter_export_meta(now() - interval '1 day', now());

-- Compare: current window against the previous one of equal length.
SELECT value, current_requests, previous_requests, requests_delta, cost_delta_usd = current_cost_usd - previous_cost_usd AS delta_ok
  FROM opsmeter_compare('endpoint', '2 days');

-- How the views read a window (opsmeter.window_reader(), C index probes):
-- the same answer as the question asked of the tables, for windows from
-- every hour of the last five days and the open ends.  0: nothing to show;
-- 1: no day of the window (or the UTC day before it) summarized, the raw
-- rows answer; 2: through facts().
CREATE FUNCTION pg_temp.reader_checked() RETURNS TABLE (read_0_1_2 bigint[], mismatches bigint) LANGUAGE sql AS $$
    SELECT ARRAY[count(*) FILTER (WHERE c.how = 0), count(*) FILTER (WHERE c.how = 1), count(*) FILTER (WHERE c.how = 2)],
           count(*) FILTER (WHERE c.how IS DISTINCT FROM t.how OR c.has_rows IS DISTINCT FROM (t.how <> 0))
      FROM (SELECT NULL::timestamptz UNION ALL SELECT '-infinity' UNION ALL SELECT 'infinity'
            UNION ALL SELECT pg_temp.base() + make_interval(hours => h) FROM generate_series(-120, 24) h) f(from_ts),
           LATERAL (SELECT opsmeter.window_reader(f.from_ts) AS how, opsmeter.workspace_has_rows() AS has_rows) c,
           LATERAL (SELECT CASE WHEN NOT (EXISTS (SELECT FROM opsmeter.request_keys k WHERE k.workspace_id = opsmeter.active_workspace())
                                          OR EXISTS (SELECT FROM opsmeter.rollup_days d WHERE d.workspace_id = opsmeter.active_workspace()))
                                THEN 0
                                WHEN f.from_ts IS NOT NULL
                                     AND NOT EXISTS (SELECT FROM opsmeter.rollup_days r
                                                      WHERE r.workspace_id = opsmeter.active_workspace()
                                                        AND r.quarter_rows IS NOT NULL
                                                        AND r.day + 1 >= (f.from_ts AT TIME ZONE 'UTC')::date)
                                THEN 1 ELSE 2 END AS how) t
$$;
SELECT * FROM pg_temp.reader_checked();

-- workspace_rows(from, to), the raw path's reader (C, src/reader.c: the
-- window's partitions, each by its index), against the same rows read by
-- SQL: windows starting every 7 hours of the last five days, of 1 hour to
-- 3 days, the open ends, and empty and inverted windows.  Every column of
-- every row must match.
CREATE FUNCTION pg_temp.rows_checked() RETURNS TABLE (windows bigint, rows_read bigint, mismatches bigint)
LANGUAGE sql AS $$
    SELECT count(DISTINCT (w.from_ts, w.to_ts)), sum(c.n), sum(c.bad)
      FROM (SELECT pg_temp.base() + make_interval(hours => h), pg_temp.base() + make_interval(hours => h + len)
              FROM generate_series(-120, 24, 7) h, unnest(ARRAY[0, 1, 24, 72]) len
            UNION ALL VALUES ('-infinity'::timestamptz, 'infinity'::timestamptz),
                             ('-infinity', pg_temp.base() - interval '1 day'),
                             (pg_temp.base() - interval '1 day', 'infinity'),
                             (pg_temp.base(), pg_temp.base() - interval '1 hour')) w(from_ts, to_ts),
           LATERAL (SELECT (SELECT count(*) FROM opsmeter.workspace_rows(w.from_ts, w.to_ts)) AS n,
                           (SELECT count(*) FROM (
                               (SELECT * FROM opsmeter.workspace_rows(w.from_ts, w.to_ts)
                                EXCEPT ALL
                                SELECT * FROM opsmeter.events e
                                 WHERE e.workspace_id = opsmeter.active_workspace()
                                   AND e.ts >= w.from_ts AND e.ts < w.to_ts)
                               UNION ALL
                               (SELECT * FROM opsmeter.events e
                                 WHERE e.workspace_id = opsmeter.active_workspace()
                                   AND e.ts >= w.from_ts AND e.ts < w.to_ts
                                EXCEPT ALL
                                SELECT * FROM opsmeter.workspace_rows(w.from_ts, w.to_ts))) d) AS bad) c
$$;
SELECT * FROM pg_temp.rows_checked();
-- Copies n rows of this workspace to 2001-01-01 12:00 UTC with new ids,
-- into whatever partition a test attached for that day.
CREATE FUNCTION pg_temp.copy_rows_to_2001(n integer) RETURNS bigint LANGUAGE sql AS $$
    WITH copied AS (
        INSERT INTO opsmeter.events
        SELECT workspace_id, '2001-01-01 12:00+00', ingest_batch, input_tokens, output_tokens, total_tokens,
               cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode, environment, pricing,
               ingested_by, ingested_at, 'by-hand-' || external_request_id, provider, model, cost_usd, error_code,
               prompt_version, endpoint_tag, user_id, tenant_id, metadata
          FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() LIMIT n
        RETURNING 1)
    SELECT count(*) FROM copied
$$;
-- A partition a DBA attached by hand, with another column layout (a
-- dropped column first) and no index: its rows come back in the parent's
-- row type, found by a scan of the partition.
BEGIN;
CREATE TABLE opsmeter.events_by_hand (dropped_first int, LIKE opsmeter.events);
ALTER TABLE opsmeter.events_by_hand DROP COLUMN dropped_first;
ALTER TABLE opsmeter.events ATTACH PARTITION opsmeter.events_by_hand
    FOR VALUES FROM ('2001-01-01 00:00+00') TO ('2001-01-02 00:00+00');
SELECT pg_temp.copy_rows_to_2001(3) AS copied;
SELECT count(*) AS by_hand_rows, count(*) FILTER (WHERE external_request_id LIKE 'by-hand-%') AS by_hand_ids
  FROM opsmeter.workspace_rows('2000-12-31 00:00+00', '2001-01-05 00:00+00');
SELECT * FROM pg_temp.rows_checked();
ROLLBACK;
-- A partition partitioned in turn is read through its own partitions; a
-- foreign table (here of a wrapper with no handler) is refused by name,
-- and nothing is read as if it were a heap.
BEGIN;
CREATE TABLE opsmeter.events_by_hand (LIKE opsmeter.events) PARTITION BY RANGE (ts);
CREATE TABLE opsmeter.events_by_hand_1 PARTITION OF opsmeter.events_by_hand
    FOR VALUES FROM ('2001-01-01 00:00+00') TO ('2001-01-02 00:00+00');
ALTER TABLE opsmeter.events ATTACH PARTITION opsmeter.events_by_hand
    FOR VALUES FROM ('2001-01-01 00:00+00') TO ('2001-01-03 00:00+00');
SELECT pg_temp.copy_rows_to_2001(2) AS copied;
SELECT count(*) AS sub_partitioned_rows FROM opsmeter.workspace_rows('2000-12-31 00:00+00', '2001-01-05 00:00+00');
CREATE FOREIGN DATA WRAPPER analytics_no_handler;
CREATE SERVER analytics_nowhere FOREIGN DATA WRAPPER analytics_no_handler;
CREATE FOREIGN TABLE opsmeter.events_elsewhere PARTITION OF opsmeter.events
    FOR VALUES FROM ('2001-01-03 00:00+00') TO ('2001-01-04 00:00+00') SERVER analytics_nowhere;
\set ON_ERROR_STOP 0
SELECT count(*) FROM opsmeter.workspace_rows('2000-12-31 00:00+00', '2001-01-05 00:00+00');
\set ON_ERROR_STOP 1
ROLLBACK;
-- With no window set the overview reaches back to the summary horizon (a
-- year); read from raw rows, it lists days from the oldest partition on
-- only (events_lower_bound()), one overview_of_day() call each, not 366.
BEGIN;
SET LOCAL track_functions = 'all';
SELECT count(*) > 0 AS overview_days FROM opsmeter.overview;
SELECT f.calls <= (now() + interval '1 hour')::date - opsmeter.events_lower_bound()::date + 1 AS from_oldest_partition,
       f.calls < 300 AS not_a_year_of_days,
       opsmeter.events_lower_bound() <= (SELECT min(ts) FROM opsmeter.events) AS below_every_row
  FROM pg_stat_xact_user_functions f WHERE f.schemaname = 'opsmeter' AND f.funcname = 'overview_of_day';
ROLLBACK;
-- It needs SELECT on opsmeter.events, as the SQL it replaces did.
BEGIN;
REVOKE SELECT ON opsmeter.events FROM PUBLIC;
CREATE ROLE analytics_no_select;
SELECT opsmeter_add_member('analytics_ws', 'analytics_no_select', 'viewer') IS NOT NULL AS added;
SET LOCAL ROLE analytics_no_select;
\set ON_ERROR_STOP 0
SELECT count(*) FROM opsmeter.workspace_rows('-infinity', 'infinity');
\set ON_ERROR_STOP 1
ROLLBACK;

-- Roll everything up: every answer is the same.
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT count(*) AS pending FROM opsmeter.events e WHERE e.ingest_batch > opsmeter.rollup_watermark();
-- 85 rows a day is a small workspace: no day is detailed (tier 2 would
-- outnumber the raw rows), so its lists read its raw rows and its
-- overview and models read tier-1 quarters.
SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) AS detailed_days, sum(requests) AS rolled_up_requests
  FROM opsmeter.rollup_days WHERE workspace_id = opsmeter.active_workspace();
SELECT * FROM pg_temp.reader_checked();
-- These days stay raw (fewer than opsmeter.summarize_day_rows rows).  With
-- one of them marked summarized, windows that begin on it or the UTC day
-- after it (a local day can begin in the day before) read through facts(),
-- and so do earlier ones; later ones are still raw-answered.
BEGIN;
UPDATE opsmeter.rollup_days SET quarter_rows = 0
 WHERE workspace_id = opsmeter.active_workspace() AND day = (pg_temp.base() AT TIME ZONE 'UTC')::date - 2;
SELECT * FROM pg_temp.reader_checked();
ROLLBACK;
CREATE TEMP TABLE rolled_answers AS SELECT * FROM pg_temp.answers();
SELECT count(*) AS differences FROM (
    (SELECT * FROM raw_answers EXCEPT ALL SELECT * FROM rolled_answers)
    UNION ALL
    (SELECT * FROM rolled_answers EXCEPT ALL SELECT * FROM raw_answers)) d;

-- Late events for hours already rolled up, and a repeat: same answers as raw.
SELECT (opsmeter_ingest(jsonb_build_array(
    jsonb_build_object('externalRequestId', 'late-1', 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 500,
                       'outputTokens', 50, 'latencyMs', 900, 'userId', 'user-1',
                       'timestamp', to_char((pg_temp.base() - interval '30 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
    jsonb_build_object('externalRequestId', 'a-2', 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 1, 'outputTokens', 1)))
  - 'warnings') AS late_batch;
SELECT count(*) AS differences_vs_raw FROM (
    (SELECT user_id, requests, cost_usd FROM opsmeter.top_users
     EXCEPT ALL
     SELECT coalesce(user_id, 'unknown'), count(*), sum(cost_usd)
       FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real' GROUP BY 1)) d;

-- Only a workspace with a budget has spend counters; its first budget seeds
-- them from the summaries and the raw tail (both exist here).
SELECT count(*) AS counters_before_a_budget FROM opsmeter.spend_counters WHERE workspace_id = opsmeter.active_workspace();
SELECT opsmeter_set_budget('monthly', 1000000);
CREATE FUNCTION pg_temp.counters_match_raw() RETURNS boolean LANGUAGE sql AS $$
    SELECT (SELECT sum(spend_usd) FROM opsmeter.spend_counters WHERE workspace_id = opsmeter.active_workspace())
         = (SELECT sum(cost_usd) FROM opsmeter.events
             WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real'
               AND ts >= date_trunc('month', now(), 'UTC') - interval '1 month')
$$;
SELECT pg_temp.counters_match_raw() AS seeded_counters_match_raw;

-- Re-pricing: the catalog gains acme-1; rolled-up rows get adjustments,
-- views and budgets follow at once, and again after the next pass.
INSERT INTO opsmeter.prices (provider, model, effective_from, input_usd_per_mtok, output_usd_per_mtok, source)
VALUES ('acme', 'acme-1', '2020-01-01', 1.00, 2.00, 'analytics test');
SELECT opsmeter_reprice(pg_temp.base() - interval '4 days', pg_temp.base()) AS reprice;
SELECT count(*) AS adjustments FROM opsmeter.summary_adjustments WHERE workspace_id = opsmeter.active_workspace();
SELECT * FROM opsmeter.unpriced_models;
CREATE TEMP TABLE repriced_answers AS SELECT * FROM pg_temp.answers();
SELECT sum(cost_usd) AS view_cost FROM opsmeter.overview;
SELECT sum(cost_usd) AS raw_cost FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real';
SELECT pg_temp.counters_match_raw() AS repriced_counters_match_raw;
SELECT opsmeter_reprice(pg_temp.base() - interval '4 days', pg_temp.base()) ->> 'repriced' AS second_reprice;
SELECT (opsmeter_run_retention() ->> 'ok') AS pass_ok;
SELECT count(*) AS adjustments_left FROM opsmeter.summary_adjustments;
CREATE TEMP TABLE folded_answers AS SELECT * FROM pg_temp.answers();
SELECT count(*) AS differences FROM (
    (SELECT * FROM repriced_answers EXCEPT ALL SELECT * FROM folded_answers)
    UNION ALL
    (SELECT * FROM folded_answers EXCEPT ALL SELECT * FROM repriced_answers)) d;

-- A shorter raw retention for this workspace: the detail lists and the
-- export are cut at the new horizon at once, and the retention pass that
-- deletes the older raw rows changes no answer.
SELECT opsmeter_set_retention('2 days', NULL);
CREATE TEMP TABLE before_retention AS SELECT * FROM pg_temp.answers();
SELECT (r ->> 'rawRowsDeleted')::int > 0 AS deleted_raw_rows, (r ->> 'summaryRowsDeleted')::int > 0 AS deleted_summaries
  FROM opsmeter_run_retention() r;
CREATE TEMP TABLE after_retention AS SELECT * FROM pg_temp.answers();
SELECT count(*) AS differences FROM (
    (SELECT * FROM before_retention EXCEPT ALL SELECT * FROM after_retention)
    UNION ALL
    (SELECT * FROM after_retention EXCEPT ALL SELECT * FROM before_retention)) d;
-- The overview keeps the history the detail lists lost.
SELECT (SELECT sum(requests) FROM opsmeter.overview) AS overview_requests,
       (SELECT sum(requests) FROM opsmeter.top_users) < (SELECT sum(requests) FROM opsmeter.overview) AS detail_lists_cut;
SELECT opsmeter_set_retention(NULL, NULL);

-- A workspace's views never show another workspace's rows.
SELECT opsmeter_create_workspace('analytics_other') IS NOT NULL AS created;
SET opsmeter.workspace = 'analytics_other';
SELECT count(*) AS other_overview, (SELECT count(*) FROM opsmeter.export) AS other_export FROM opsmeter.overview;
SELECT * FROM pg_temp.reader_checked();
RESET opsmeter.workspace;
