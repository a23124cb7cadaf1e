-- rollup: summaries always equal the raw data, whatever has been rolled up.
-- Relies on setup: roles regress_ops (in opsmeter_admin) and regress_plain.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('rollup_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'rollup_ws';
SET TimeZone = 'UTC';

-- The check used throughout: per hour, dimension value, mode and environment,
-- summaries + raw rows above the watermark = all raw rows.  Returns the rows
-- where they differ (none, when exact).
CREATE FUNCTION pg_temp.mismatches() RETURNS TABLE (hour timestamptz, dim text, k text, raw_requests bigint, summed_requests numeric, raw_cost numeric, summed_cost numeric)
LANGUAGE sql AS $$
    WITH w AS (SELECT opsmeter.rollup_watermark() AS watermark),
    raw AS (
        SELECT date_trunc('hour', ts, 'UTC') AS hour, 'user' AS dim, coalesce(user_id, '?') AS k,
               count(*) AS requests, coalesce(sum(cost_usd), 0) AS cost
          FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1, 2, 3
        UNION ALL
        SELECT date_trunc('hour', ts, 'UTC'), 'model', provider || '/' || model, count(*), coalesce(sum(cost_usd), 0)
          FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1, 2, 3
        UNION ALL
        SELECT date_trunc('hour', ts, 'UTC'), 'overview', data_mode || '/' || environment, count(*), coalesce(sum(cost_usd), 0)
          FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1, 2, 3
    ),
    summed AS (
        SELECT hour, dim, k, sum(requests) AS requests, sum(cost) AS cost FROM (
            SELECT s.period_start AS hour, s.dimension::text AS dim,
                   CASE s.dimension WHEN 'user' THEN coalesce(s.key, '?')
                                    WHEN 'model' THEN s.provider || '/' || s.model
                                    ELSE s.data_mode || '/' || s.environment END AS k,
                   s.requests, s.cost_usd AS cost
              FROM opsmeter.summaries s
             WHERE s.workspace_id = opsmeter.active_workspace() AND s.dimension IN ('user', 'model', 'overview')
               AND s.grain = 'hour'
            UNION ALL
            SELECT date_trunc('hour', e.ts, 'UTC'), d.dim,
                   CASE d.dim WHEN 'user' THEN coalesce(e.user_id, '?')
                              WHEN 'model' THEN e.provider || '/' || e.model
                              ELSE e.data_mode || '/' || e.environment END,
                   1, coalesce(e.cost_usd, 0)
              FROM opsmeter.events e, w, (VALUES ('user'), ('model'), ('overview')) d(dim)
             WHERE e.workspace_id = opsmeter.active_workspace() AND e.ingest_batch > w.watermark
        ) x GROUP BY 1, 2, 3
    )
    SELECT coalesce(r.hour, s.hour), coalesce(r.dim, s.dim), coalesce(r.k, s.k), r.requests, s.requests, r.cost, s.cost
      FROM raw r FULL JOIN summed s USING (hour, dim, k)
     WHERE r.requests IS DISTINCT FROM s.requests::bigint OR r.cost IS DISTINCT FROM s.cost
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
SELECT dimension, sum(requests) AS requests, sum(errors) AS errors, sum(cost_usd) AS cost_usd,
       sum(unpriced_requests) AS unpriced, sum(latency_sum_ms) AS latency_sum
  FROM opsmeter.summaries WHERE workspace_id = opsmeter.active_workspace() AND grain = 'hour'
 GROUP BY 1 ORDER BY 1;
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

-- A pass inside a transaction that has just ingested sees its own rows.
BEGIN;
SELECT opsmeter_ingest('{"externalRequestId": "same-tx", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}') ->> 'ok' AS ok;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
COMMIT;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();

-- Every pass is recorded.
SELECT triggered_by, run_by, ok, error, count(*) >= 4 AS passes_recorded, sum(rows_rolled_up) >= 63 AS rolled_ours
  FROM opsmeter.retention_runs GROUP BY 1, 2, 3, 4;

-- A failing pass is rolled back, reported as a WARNING, recorded, and the
-- next pass catches up: nothing is lost or counted twice.
CREATE FUNCTION pg_temp.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'summaries are read-only today'; END $$;
CREATE TRIGGER refuse BEFORE INSERT ON opsmeter.summaries FOR EACH ROW EXECUTE FUNCTION pg_temp.refuse();
SELECT opsmeter_ingest('{"externalRequestId": "during-failure", "provider": "openai", "model": "gpt-4o", "inputTokens": 7, "outputTokens": 7}') ->> 'ok' AS ok;
SELECT r ->> 'ok' AS ok, r ->> 'error' AS error FROM opsmeter_run_retention() r;
SELECT ok, error FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1;
SELECT count(*) AS mismatches FROM pg_temp.mismatches();
DROP TRIGGER refuse ON opsmeter.summaries;
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
-- (Detail summaries leave by whole hours, so they cover at least the raw
-- rows still kept: a user's row in a partly expired hour stays counted.)
SELECT (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()) AS raw_requests,
       sum(requests) FILTER (WHERE dimension = 'overview') AS overview_requests,
       sum(requests) FILTER (WHERE dimension = 'user')
         >= (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()) AS detail_covers_raw,
       sum(requests) FILTER (WHERE dimension = 'user') < 64 AS detail_expired_some
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
