-- rollup: summaries always equal the raw data, whatever has been rolled up.
-- Relies on setup: roles regress_ops (in opsmeter_admin) and regress_plain.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
-- Every day is summarized by the pass that first sees it, so the checks
-- below read tier 1 for every rolled-up row (the default, small days kept
-- in raw rows only, has its own part at the end).
SET opsmeter.summarize_day_rows = 0;
SELECT opsmeter_create_workspace('rollup_ws') IS NOT NULL AS created;
-- The passes of this story are the ones after this (earlier stories run
-- passes of their own, failing ones included).
SELECT coalesce(max(run_id), 0) AS rollup_runs_before FROM opsmeter.retention_runs \gset
SET opsmeter.workspace = 'rollup_ws';
SET TimeZone = 'UTC';

-- The check used throughout: per hour, dimension value, mode and environment,
-- summaries + raw rows above the watermark = all raw rows.  Returns the rows
-- where they differ (none, when exact).
CREATE FUNCTION pg_temp.mismatches() RETURNS TABLE (tier text, period timestamptz, dim text, k text, raw_requests bigint,
                                                    summed_requests numeric, raw_cost numeric, summed_cost numeric)
LANGUAGE sql AS $$
    WITH pending AS (
        SELECT e.* FROM opsmeter.events e
         WHERE e.workspace_id = opsmeter.active_workspace()
           AND (e.ingest_batch > opsmeter.rollup_watermark() OR e.ingest_batch = ANY (opsmeter.rollup_holes()))
    ), detailed AS (
        SELECT d.day FROM opsmeter.rollup_days d
         WHERE d.workspace_id = opsmeter.active_workspace() AND d.detail_rows IS NOT NULL
    ), mine AS (
        SELECT e.*, (e.ts AT TIME ZONE 'UTC')::date IN (SELECT day FROM detailed) AS on_detailed_day
          FROM opsmeter.events e WHERE e.workspace_id = opsmeter.active_workspace()
    ), raw AS (
        -- tier 1: every raw row, per quarter hour, mode, environment and model
        SELECT 'quarter' AS tier, date_bin('15 minutes', ts, timestamptz '2000-01-01 00:00+00') AS period, 'model' AS dim,
               data_mode || '/' || environment || '/' || provider || '/' || model AS k,
               count(*) AS requests, coalesce(sum(cost_usd), 0) AS cost
          FROM mine GROUP BY 1, 2, 3, 4
        UNION ALL
        -- tier 2: the raw rows of detailed days, per hour and dimension
        SELECT 'hour', date_trunc('hour', ts, 'UTC'), d.dim,
               CASE d.dim WHEN 'user' THEN coalesce(user_id, '?') WHEN 'tenant' THEN coalesce(tenant_id, '?')
                          WHEN 'model' THEN provider || '/' || model ELSE data_mode || '/' || environment END,
               count(*), coalesce(sum(cost_usd), 0)
          FROM mine, (VALUES ('user'), ('tenant'), ('model'), ('overview')) d(dim)
         WHERE on_detailed_day GROUP BY 1, 2, 3, 4
    ), summed AS (
        SELECT tier, period, dim, k, sum(requests) AS requests, sum(cost) AS cost FROM (
            SELECT 'quarter' AS tier, q.period_start AS period, 'model' AS dim,
                   q.data_mode || '/' || q.environment || '/' || q.provider || '/' || q.model AS k,
                   q.requests, q.cost_usd AS cost
              FROM opsmeter.summary_quarters q WHERE q.workspace_id = opsmeter.active_workspace()
            UNION ALL
            SELECT 'quarter', date_bin('15 minutes', p.ts, timestamptz '2000-01-01 00:00+00'), 'model',
                   p.data_mode || '/' || p.environment || '/' || p.provider || '/' || p.model, 1, coalesce(p.cost_usd, 0)
              FROM pending p
            UNION ALL
            SELECT 'hour', s.period_start, s.dimension::text,
                   CASE s.dimension WHEN 'user' THEN coalesce(s.key, '?') WHEN 'tenant' THEN coalesce(s.key, '?')
                                    WHEN 'model' THEN s.provider || '/' || s.model
                                    ELSE s.data_mode || '/' || s.environment END,
                   s.requests, s.cost_usd
              FROM opsmeter.summaries s
             WHERE s.workspace_id = opsmeter.active_workspace() AND s.dimension IN ('user', 'tenant', 'model', 'overview')
               AND s.grain = 'hour'
            UNION ALL
            SELECT 'hour', date_trunc('hour', p.ts, 'UTC'), d.dim,
                   CASE d.dim WHEN 'user' THEN coalesce(p.user_id, '?') WHEN 'tenant' THEN coalesce(p.tenant_id, '?')
                              WHEN 'model' THEN p.provider || '/' || p.model ELSE p.data_mode || '/' || p.environment END,
                   1, coalesce(p.cost_usd, 0)
              FROM pending p, (VALUES ('user'), ('tenant'), ('model'), ('overview')) d(dim)
             WHERE (p.ts AT TIME ZONE 'UTC')::date IN (SELECT day FROM detailed)
        ) x GROUP BY 1, 2, 3, 4
    ), day_rows AS (
        -- every daily row is the sum of its day's hourly rows
        SELECT 'day' AS tier, s.period_start AS period, s.dimension::text AS dim,
               concat_ws('/', s.data_mode, s.environment, s.provider, s.model, s.key) AS k,
               s.requests, s.cost_usd AS cost
          FROM opsmeter.summaries s WHERE s.workspace_id = opsmeter.active_workspace() AND s.grain = 'day'
    ), day_sums AS (
        SELECT 'day' AS tier, date_trunc('day', s.period_start, 'UTC') AS period, s.dimension::text AS dim,
               concat_ws('/', s.data_mode, s.environment, s.provider, s.model, s.key) AS k,
               sum(s.requests) AS requests, sum(s.cost_usd) AS cost
          FROM opsmeter.summaries s WHERE s.workspace_id = opsmeter.active_workspace() AND s.grain = 'hour'
         GROUP BY 1, 2, 3, 4
    )
    SELECT coalesce(r.tier, s.tier), coalesce(r.period, s.period), coalesce(r.dim, s.dim), coalesce(r.k, s.k),
           r.requests, s.requests, r.cost, s.cost
      FROM raw r FULL JOIN summed s USING (tier, period, dim, k)
     WHERE r.requests IS DISTINCT FROM s.requests::bigint OR r.cost IS DISTINCT FROM s.cost
    UNION ALL
    SELECT coalesce(r.tier, s.tier), coalesce(r.period, s.period), coalesce(r.dim, s.dim), coalesce(r.k, s.k),
           r.requests, s.requests, r.cost, s.cost
      FROM day_rows r FULL JOIN day_sums s USING (tier, period, dim, k)
     WHERE r.requests IS DISTINCT FROM s.requests OR r.cost IS DISTINCT FROM s.cost
$$;

-- Summary rows never outnumber raw rows, per workspace and UTC day.
CREATE FUNCTION pg_temp.over_budget_days() RETURNS bigint LANGUAGE sql AS $$
    WITH raw AS (
        SELECT (e.ts AT TIME ZONE 'UTC')::date AS day, count(*) AS n
          FROM opsmeter.events e WHERE e.workspace_id = opsmeter.active_workspace() GROUP BY 1
    ), summary AS (
        SELECT (q.period_start AT TIME ZONE 'UTC')::date AS day, count(*) AS n
          FROM opsmeter.summary_quarters q WHERE q.workspace_id = opsmeter.active_workspace() GROUP BY 1
        UNION ALL
        SELECT (s.period_start AT TIME ZONE 'UTC')::date, count(*)
          FROM opsmeter.summaries s WHERE s.workspace_id = opsmeter.active_workspace() GROUP BY 1
    )
    SELECT count(*) FROM (SELECT day, sum(n) AS n FROM summary GROUP BY 1) s
      LEFT JOIN raw r USING (day) WHERE s.n > coalesce(r.n, 0)
$$;

-- Traffic over the last few hours, several users, models, modes and errors.
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'r-' || i,
         'provider', CASE WHEN i % 5 = 0 THEN 'acme' ELSE 'openai' END,
         'model', CASE WHEN i % 5 = 0 THEN 'acme-1' WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
         'inputTokens', 100 + i, 'outputTokens', 10 + i % 7, 'latencyMs', 200 + i,
         'status', CASE WHEN i % 11 = 0 THEN 'error' ELSE 'success' END,
         'userId', CASE WHEN i % 4 = 0 THEN NULL ELSE 'user-' || (i % 4) END,
         'dataMode', CASE WHEN i % 9 = 0 THEN 'test' ELSE 'real' END,
         'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(mins => i * 7), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 60) i;

-- Before any pass: everything is in the raw tail, and the check holds.
SELECT count(*) AS mismatches FROM pg_temp.mismatches();

-- A pass rolls every committed row up and reports what it did.
-- (rowsRolledUp counts every workspace's rows, earlier tests' too.)
SELECT r - 'durationMs' - 'watermark' - 'partitionsCreated' - 'rowsRolledUp' AS pass,
       (r ->> 'rowsRolledUp')::int >= 60 AS rolled_up_ours
  FROM opsmeter_run_retention() r;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
SELECT count(*) AS tail FROM opsmeter.events e WHERE e.ingest_batch > opsmeter.rollup_watermark();
-- Tier 1 holds every rolled-up row; this small workspace has no detailed
-- day yet (fewer than 256 rows a day), so tier 2 is empty.
SELECT sum(requests) AS requests, sum(errors) AS errors, sum(cost_usd) AS cost_usd,
       sum(unpriced_requests) AS unpriced, sum(latency_sum_ms) AS latency_sum
  FROM opsmeter.summary_quarters WHERE workspace_id = opsmeter.active_workspace();
SELECT count(*) AS tier2_rows FROM opsmeter.summaries WHERE workspace_id = opsmeter.active_workspace();
SELECT pg_temp.over_budget_days() AS over_budget_days;
SELECT count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors, sum(cost_usd) AS cost_usd,
       count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced, sum(latency_ms) AS latency_sum
  FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace();

-- A late event (its hour is already rolled up) and a new one: they wait in
-- the tail, the check still holds, and the next pass adds them exactly once.
SELECT opsmeter_ingest(jsonb_build_array(
  jsonb_build_object('externalRequestId', 'late-1', 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 1000, 'outputTokens', 100,
                     'userId', 'user-1', 'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '5 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
  jsonb_build_object('externalRequestId', 'new-1', 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 1000, 'outputTokens', 100,
                     'userId', 'user-9'))) ->> 'accepted' AS accepted;
SELECT count(*) AS tail FROM opsmeter.events e WHERE e.ingest_batch > opsmeter.rollup_watermark();
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up_again;   -- nothing twice
SELECT count(*) AS mismatches FROM pg_temp.mismatches();

-- A busy day: 400 rows (in the first minute of the hour that began 3 to 4
-- hours ago: one UTC day and one hour whatever the time of the run) with
-- few distinct users, tenants and models.
-- The pass details the day (tier 2: hourly and daily rows of every
-- dimension) because both tiers together stay within its raw rows.
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'busy-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 10 + i, 'outputTokens', 5, 'latencyMs', 100 + i % 50,
         'userId', 'user-' || (i % 2), 'tenantId', 'tenant-' || (i % 3), 'endpointTag', 'ep',
         'timestamp', to_char(date_trunc('hour', now() AT TIME ZONE 'UTC' - interval '3 hours') + (i % 60) * interval '1 second',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 400) i;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT count(*) AS detailed_days FROM opsmeter.rollup_days
 WHERE workspace_id = opsmeter.active_workspace() AND detail_rows IS NOT NULL;
SELECT count(*) > 0 AS has_tier2 FROM opsmeter.summaries WHERE workspace_id = opsmeter.active_workspace();
-- The count a day is judged by (_fold_detail with count_only, which groups
-- the keys alone) is the number of rows that detailing it wrote.
SELECT n.new_rows >= 18 AS counted_all_groups,  -- 9 groups of the busy hour, 9 of the day
       n.new_rows = (SELECT count(*) FROM opsmeter.summaries s
                      WHERE s.workspace_id = n.workspace_id
                        AND (s.period_start AT TIME ZONE 'UTC')::date = n.day) AS counted_equals_written
  FROM opsmeter._fold_detail(0, opsmeter.rollup_watermark(), '{}', opsmeter.rollup_holes(),
                             ARRAY[opsmeter.active_workspace()],
                             ARRAY[(date_trunc('hour', now() AT TIME ZONE 'UTC' - interval '3 hours'))::date],
                             false, true, false) n;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
SELECT pg_temp.over_budget_days() AS over_budget_days;

-- Another day (two days ago) is busy too and gets detailed; then it gets
-- 400 rows that are all different (a user, tenant, endpoint and prompt
-- version each): tier 2 would outgrow the day's raw rows, so the pass takes
-- that day's tier-2 rows away again.  Still exact, still within budget.
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'busy2-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 10 + i, 'outputTokens', 5, 'userId', 'user-' || (i % 2), 'tenantId', 'tenant-' || (i % 3),
         'endpointTag', 'ep',
         'timestamp', to_char(date_trunc('day', now() - interval '2 days', 'UTC') AT TIME ZONE 'UTC'
                              + interval '12 hours' + (i % 60) * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 400) i;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT count(*) AS detailed_days FROM opsmeter.rollup_days
 WHERE workspace_id = opsmeter.active_workspace() AND detail_rows IS NOT NULL;
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'scattered-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 10, 'outputTokens', 5, 'userId', 'su-' || i, 'tenantId', 'st-' || i,
         'endpointTag', 'se-' || i, 'promptVersion', 'sp-' || i,
         'timestamp', to_char(date_trunc('day', now() - interval '2 days', 'UTC') AT TIME ZONE 'UTC'
                              + interval '12 hours' + (i % 60) * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 400) i;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT count(*) AS detailed_days FROM opsmeter.rollup_days
 WHERE workspace_id = opsmeter.active_workspace() AND detail_rows IS NOT NULL;
SELECT count(*) AS tier2_rows_two_days_ago FROM opsmeter.summaries
 WHERE workspace_id = opsmeter.active_workspace()
   AND date_trunc('day', period_start, 'UTC') = date_trunc('day', now() - interval '2 days', 'UTC');
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
SELECT pg_temp.over_budget_days() AS over_budget_days;

-- A pass inside a transaction that has just ingested sees its own rows.
BEGIN;
SELECT opsmeter_ingest('{"externalRequestId": "same-tx", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}') ->> 'ok' AS ok;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
COMMIT;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();

-- Every pass is recorded.
SELECT triggered_by, run_by, ok, error, count(*) >= 4 AS passes_recorded, sum(rows_rolled_up) >= 63 AS rolled_ours
  FROM opsmeter.retention_runs WHERE run_id > :rollup_runs_before GROUP BY 1, 2, 3, 4;

-- A failing pass is rolled back, reported as a WARNING, recorded, and the
-- next pass catches up: nothing is lost or counted twice.
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'summaries are read-only today'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON opsmeter.summary_quarters FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
SELECT opsmeter_ingest('{"externalRequestId": "during-failure", "provider": "openai", "model": "gpt-4o", "inputTokens": 7, "outputTokens": 7}') ->> 'ok' AS ok;
SELECT r ->> 'ok' AS ok, r ->> 'error' AS error FROM opsmeter_run_retention() r;
SELECT ok, error FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
DROP TRIGGER refuse ON opsmeter.summary_quarters;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up_after_fix;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();

-- Who may run a pass, and how.
SET ROLE regress_plain;
SELECT opsmeter_run_retention();
RESET ROLE;
SET ROLE regress_ops;
SELECT opsmeter_run_retention() ->> 'ok' AS ok;
RESET ROLE;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT opsmeter_run_retention();
ROLLBACK;

-- Per-workspace retention: owners and admins set it, NULL falls back to the
-- GUCs, summaries must outlive raw rows.
SELECT opsmeter_set_retention('30 minutes', NULL);
SELECT opsmeter_set_retention('2 days', '1 day');
SELECT opsmeter_set_retention('2 hours', '30 days');
SELECT name, raw_retention, summary_retention FROM opsmeter.workspaces WHERE name = 'rollup_ws';
SELECT w.name, r.raw, r.summary FROM opsmeter.effective_retention() r JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'rollup_ws';

-- A retention shorter than the global one removes this workspace's older
-- raw rows (and their dedup keys) row by row; overview and model summaries
-- keep the history, detail summaries follow the raw rows.
SELECT count(*) AS raw_older_than_2h FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND ts < now() - interval '2 hours';
SELECT (r ->> 'rawRowsDeleted')::int > 0 AS deleted_rows, (r ->> 'summaryRowsDeleted')::int > 0 AS deleted_detail_summaries
  FROM opsmeter_run_retention() r;
SELECT count(*) AS raw_older_than_2h FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND ts < now() - interval '2 hours';
SELECT count(*) AS orphan_keys FROM opsmeter.request_keys k
 WHERE k.workspace_id = opsmeter.active_workspace()
   AND NOT EXISTS (SELECT 1 FROM opsmeter.events e WHERE e.workspace_id = k.workspace_id AND e.external_request_id = k.external_request_id);
-- Tier 1 keeps the history of every row; the busy day's tier-2 rows left
-- with its raw rows (by whole hours, so detail rows cover at least the raw
-- rows still kept).
SELECT (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()) AS raw_requests,
       (SELECT sum(requests) FROM opsmeter.summary_quarters WHERE workspace_id = opsmeter.active_workspace()) AS tier1_requests,
       coalesce(sum(requests) FILTER (WHERE dimension = 'user'), 0)
         >= (SELECT count(*) FROM opsmeter.events e JOIN opsmeter.rollup_days d
                 ON d.workspace_id = e.workspace_id AND d.day = (e.ts AT TIME ZONE 'UTC')::date AND d.detail_rows IS NOT NULL
              WHERE e.workspace_id = opsmeter.active_workspace()) AS detail_covers_raw,
       coalesce(sum(requests) FILTER (WHERE dimension = 'user'), 0) < 400 AS detail_expired_some
  FROM opsmeter.summaries WHERE workspace_id = opsmeter.active_workspace() AND grain = 'hour';
-- The ingest window follows the workspace's retention.
DO $$
BEGIN
    PERFORM opsmeter_ingest(jsonb_build_object('externalRequestId', 'too-old', 'provider', 'openai', 'model', 'gpt-4o',
              'inputTokens', 1, 'outputTokens', 1,
              'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '3 hours', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')));
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE NOTICE 'refused (%): %', SQLSTATE, regexp_replace(SQLERRM, '\d{4}-\d\d-\d\d [0-9:.+]+', '<time>', 'g');
END $$;
SELECT opsmeter_set_retention(NULL, NULL);
RESET opsmeter.workspace;

------------------------------------------------------------------------------
-- The default: a workspace-day with fewer than opsmeter.summarize_day_rows
-- rolled-up rows stays in raw rows only.  A pass counts its rows
-- (opsmeter.rollup_days) and writes nothing else; its raw rows answer every
-- view; it is summarized from its raw rows once it reaches the threshold,
-- or by retention just before any of its raw rows leave.
RESET opsmeter.summarize_day_rows;
SHOW opsmeter.summarize_day_rows;
SELECT opsmeter_create_workspace('rollup_lazy_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'rollup_lazy_ws';
-- n events of day_start + 1 hour + i minutes, i = 1..n, ids prefix-i.
CREATE FUNCTION pg_temp.day_batch(prefix text, day_start timestamptz, n integer, mode text DEFAULT 'real') RETURNS jsonb
LANGUAGE sql RETURN (
    SELECT jsonb_agg(jsonb_build_object('externalRequestId', prefix || i, 'provider', 'openai',
                     'model', CASE WHEN i % 3 = 0 THEN 'gpt-4o-mini' ELSE 'gpt-4o' END,
                     'inputTokens', 1000 + i, 'outputTokens', 10 * i, 'latencyMs', 100 + i, 'userId', 'u' || i % 7,
                     'dataMode', mode,
                     'timestamp', to_char((day_start + interval '1 hour' + i * interval '1 minute') AT TIME ZONE 'UTC',
                                          'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
      FROM generate_series(1, n) i);
-- The overview and the model list of the last 3 days against the raw rows
-- (data_mode all): the rows where they differ.
CREATE FUNCTION pg_temp.view_diffs() RETURNS bigint
LANGUAGE sql AS $$
    WITH v AS (SELECT day, requests, cost_usd, avg_latency_ms FROM opsmeter_overview('3 days', 'all')),
         r AS (SELECT ts::date AS day, count(*) AS requests, trim_scale(sum(cost_usd)) AS cost_usd,
                      round(avg(latency_ms), 2) AS avg_latency_ms
                 FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()
                  AND ts >= date_trunc('day', now()) - interval '2 days' GROUP BY 1),
         vm AS (SELECT model, requests, cost_usd FROM opsmeter_top_models('3 days', 'all')),
         rm AS (SELECT model, count(*) AS requests, trim_scale(sum(cost_usd)) AS cost_usd
                  FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()
                   AND ts >= date_trunc('day', now()) - interval '2 days' GROUP BY 1)
    SELECT (SELECT count(*) FROM ((TABLE v EXCEPT TABLE r) UNION ALL (TABLE r EXCEPT TABLE v)) d)
         + (SELECT count(*) FROM ((TABLE vm EXCEPT TABLE rm) UNION ALL (TABLE rm EXCEPT TABLE vm)) d)
$$;
CREATE FUNCTION pg_temp.lazy_days() RETURNS TABLE (day_index integer, requests bigint, summarized boolean, tier1_requests numeric)
LANGUAGE sql AS $$
    SELECT (current_date - d.day)::integer, d.requests, d.quarter_rows IS NOT NULL,
           (SELECT sum(q.requests) FROM opsmeter.summary_quarters q
             WHERE q.workspace_id = d.workspace_id AND (q.period_start AT TIME ZONE 'UTC')::date = d.day)
      FROM opsmeter.rollup_days d WHERE d.workspace_id = opsmeter.active_workspace() ORDER BY d.day
$$;
-- Two days ago (day 2): 50 rows; yesterday (day 1): 100 rows and 10 test rows.
SELECT opsmeter_ingest(pg_temp.day_batch('lz-a-', date_trunc('day', now()) - interval '2 days', 50)) ->> 'accepted' AS accepted;
SELECT opsmeter_ingest(pg_temp.day_batch('lz-b-', date_trunc('day', now()) - interval '1 day', 100)) ->> 'accepted' AS accepted;
SELECT opsmeter_ingest(pg_temp.day_batch('lz-t-', date_trunc('day', now()) - interval '1 day', 10, 'test')) ->> 'accepted' AS accepted;
SELECT pg_temp.view_diffs() AS diffs_before_the_pass;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT * FROM pg_temp.lazy_days();
SELECT pg_temp.view_diffs() AS diffs_after_the_pass;
-- A cleanup of rolled-up rows of a day in raw rows only: its -1
-- corrections are counted (requests) and folded nowhere.
SELECT opsmeter_clear_test_data() AS cleared;
SELECT pg_temp.view_diffs() AS diffs_after_the_cleanup;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT * FROM pg_temp.lazy_days();
SELECT count(*) AS adjustments_left FROM opsmeter.summary_adjustments;
SELECT pg_temp.view_diffs() AS diffs;
-- 200 more rows make yesterday 300: summarized from its raw rows, every
-- quarter equal to them, and (a day of 300 rows, few distinct values) detailed.
SELECT opsmeter_ingest(pg_temp.day_batch('lz-c-', date_trunc('day', now()) - interval '1 day', 200)) ->> 'accepted' AS accepted;
SELECT pg_temp.view_diffs() AS diffs_before_the_pass;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT * FROM pg_temp.lazy_days();
SELECT count(*) AS mismatches FROM pg_temp.mismatches() m
 WHERE m.period >= date_trunc('day', now()) - interval '1 day' AND m.period < date_trunc('day', now());
SELECT detail_rows IS NOT NULL AS detailed FROM opsmeter.rollup_days
 WHERE workspace_id = opsmeter.active_workspace() AND day = current_date - 1;
SELECT pg_temp.view_diffs() AS diffs_after_the_pass;
-- Raw retention of 36 hours: every raw row of two days ago is due (and,
-- after noon, yesterday's).  The pass summarizes that day first, then
-- deletes them; the answers stay.
CREATE TEMP TABLE lazy_before AS SELECT day, requests, cost_usd FROM opsmeter_overview('3 days', 'all');
SELECT opsmeter_set_retention('36 hours', NULL);
SELECT (r ->> 'rawRowsDeleted')::int >= 50 AS raw_rows_deleted FROM opsmeter_run_retention() r;
SELECT * FROM pg_temp.lazy_days();
SELECT count(*) AS raw_rows_of_day_2 FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND ts::date = current_date - 2;
SELECT count(*) AS overview_changes
  FROM ((TABLE lazy_before EXCEPT SELECT day, requests, cost_usd FROM opsmeter_overview('3 days', 'all'))
        UNION ALL (SELECT day, requests, cost_usd FROM opsmeter_overview('3 days', 'all') EXCEPT TABLE lazy_before)) d;
SELECT opsmeter_set_retention(NULL, NULL);
RESET opsmeter.workspace;
