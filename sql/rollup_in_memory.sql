-- rollup_in_memory: a pass groups its contributions in memory
-- (src/rollup_groups.c) and writes exactly what grouping them in SQL
-- writes: the same rows of both tiers, the same numeric display scales,
-- the same histograms.  The same pass runs twice on the same rows (the
-- second after ROLLBACK TO the savepoint before the first), once in memory
-- and once with work_mem too small for it, which makes it group in SQL;
-- the two results must be equal to the byte.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SET opsmeter.summarize_day_rows = 0;
SELECT opsmeter_create_workspace('in_memory_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'in_memory_ws';
SET TimeZone = 'UTC';

-- Events of the last 6 hours: three models (one unpriced), costs given
-- with up to 12 decimal places or priced, users left out, no latency, an
-- error now and then, test and staging rows among them.
CREATE FUNCTION pg_temp.batch(prefix text, n int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'externalRequestId', prefix || i,
               'provider', CASE WHEN i % 7 = 0 THEN 'acme' ELSE 'openai' END,
               'model', CASE WHEN i % 7 = 0 THEN 'acme-x' ELSE (ARRAY['gpt-4o', 'gpt-4o-mini'])[1 + i % 2] END,
               'inputTokens', 100 + i * 37 % 900, 'outputTokens', i % 300,
               'costUsd', CASE WHEN i % 3 = 0 THEN (i * 0.000000012347)::numeric(20, 12) END,
               'latencyMs', CASE WHEN i % 5 <> 0 THEN 40 + i * 13 % 3000 END,
               'userId', CASE WHEN i % 11 <> 0 THEN 'u' || i % 6 END,
               'tenantId', 't' || i % 5, 'endpointTag', 'ep' || i % 4, 'promptVersion', 'v' || i % 3,
               'status', CASE WHEN i % 13 = 0 THEN 'error' ELSE 'success' END,
               'dataMode', CASE WHEN i % 9 = 0 THEN 'test' ELSE 'real' END,
               'environment', CASE WHEN i % 6 = 0 THEN 'staging' ELSE 'prod' END,
               'timestamp', to_char((now() - make_interval(secs => i * 7 % 21600)) AT TIME ZONE 'UTC',
                                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))))
      FROM generate_series(1, n) i
$$;
SELECT opsmeter_ingest(pg_temp.batch('im-a-', 3000)) ->> 'accepted' AS accepted;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
-- Its days are summarized and detailed, so the next pass folds into both tiers.
SELECT count(*) FILTER (WHERE quarter_rows IS NOT NULL) > 0 AS summarized,
       count(*) FILTER (WHERE detail_rows IS NOT NULL) > 0 AS detailed
  FROM opsmeter.rollup_days WHERE workspace_id = opsmeter.active_workspace();

-- What the next pass folds: new rows, and corrections (the cleanup of the
-- rolled-up test rows leaves -1 contributions).
SELECT opsmeter_ingest(pg_temp.batch('im-b-', 1500)) ->> 'accepted' AS accepted;
SELECT opsmeter_clear_test_data() > 0 AS cleared;
SELECT count(*) > 0 AS corrections_pending FROM opsmeter.summary_adjustments;

-- Both tiers, every column, as text (so display scales count).
CREATE FUNCTION pg_temp.summary_digest() RETURNS TABLE (summary_rows bigint, digest text) LANGUAGE sql AS $$
    SELECT count(*), md5(string_agg(r, E'\n' ORDER BY r))
      FROM (SELECT 'q' || q::text AS r FROM opsmeter.summary_quarters q
            UNION ALL
            SELECT 's' || s::text FROM opsmeter.summaries s
            UNION ALL
            SELECT 'd' || (d.workspace_id, d.day, d.requests, d.quarter_rows, d.detail_rows)::text
              FROM opsmeter.rollup_days d) x
$$;
CREATE FUNCTION pg_temp.calls(f text) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions WHERE schemaname = 'opsmeter' AND funcname = f
$$;

SET track_functions = 'all';
BEGIN;
SAVEPOINT before_the_pass;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up_in_memory;
SELECT pg_temp.calls('_grouped_hours') AS in_memory_hours_read, pg_temp.calls('_grouped_quarters') AS in_memory_quarters_read,
       pg_temp.calls('_pending_days') AS sql_day_groupings \gset
SELECT :in_memory_hours_read > 0 AS hours_grouped_in_memory, :in_memory_quarters_read > 0 AS quarters_grouped_in_memory,
       :sql_day_groupings = 0 AS not_grouped_in_sql;
SELECT summary_rows AS in_memory_rows, digest AS in_memory_digest FROM pg_temp.summary_digest() \gset
SELECT count(*) AS differences_from_raw
  FROM opsmeter_verify(now() - interval '3 days', now() + interval '1 day', 'in_memory_ws');
ROLLBACK TO before_the_pass;
-- The same pass, grouped in SQL: 64 kB cannot hold the in-memory groups.
ALTER FUNCTION opsmeter._rollup() SET work_mem = '64kB';
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up_in_sql;
SELECT pg_temp.calls('_pending_days') > :sql_day_groupings AS grouped_in_sql,
       pg_temp.calls('_grouped_hours') = :in_memory_hours_read AS not_read_from_memory;
SELECT summary_rows = :in_memory_rows AS same_rows, digest = :'in_memory_digest' AS same_bytes,
       summary_rows > 500 AS many_rows
  FROM pg_temp.summary_digest();
ROLLBACK;
RESET track_functions;

-- Sums that do not fit in 128 bits: 200 contributions of one quarter-hour
-- group, each costing 999,999,999,999 dollars (10^36 units less one unit
-- of the 24th decimal each: each fits, their sum does not).  A caller's
-- costUsd stops at 10^9, so 170,000 such events would do the same.  The
-- pass must see it and group in SQL, in numeric: the group's cost is then
-- exact.  (Written as adjustments, which carry any cost, so that the test
-- needs 200 rows, not 170,000.)
SET track_functions = 'all';
BEGIN;
SELECT pg_temp.calls('_pending_days') AS sql_day_groupings \gset
INSERT INTO opsmeter.summary_adjustments
SELECT opsmeter.active_workspace(), nextval('opsmeter.ingest_batch_seq'), date_trunc('hour', now()), 'real', 'prod',
       'overflow', 'm', NULL, NULL, NULL, NULL, 1, 0, 1, 1, 2, 0, 0, 999999999999, 0, 0, 0, 0, NULL
  FROM generate_series(1, 200);
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int >= 200 AS rolled_up;
SELECT pg_temp.calls('_pending_days') > :sql_day_groupings AS grouped_in_sql;
SELECT requests, cost_usd, cost_usd = 200 * 999999999999::numeric AS exact
  FROM opsmeter.summary_quarters
 WHERE workspace_id = opsmeter.active_workspace() AND provider = 'overflow';
ROLLBACK;
RESET track_functions;

-- The readers answer only for the arguments of the last grouping.
SELECT * FROM opsmeter._grouped_days(-1, -1, '{}', '{}');
-- and the grouping is not open to tenants.
SELECT has_function_privilege('regress_plain', 'opsmeter._group_pending(bigint, bigint, bigint[], bigint[])', 'EXECUTE')
    AS plain_may_group;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int > 0 AS rolled_up;
RESET opsmeter.workspace;
RESET opsmeter.summarize_day_rows;
RESET TimeZone;
