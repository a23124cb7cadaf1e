-- verify: opsmeter_verify() recomputes what the summaries claim from the
-- raw rows (issue #16).  Empty when exact, through every stage of a row's
-- life; every tampering shows up as the numbers it changed.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
\set VERBOSITY default
SET TimeZone = 'UTC';
CREATE ROLE verify_dba NOSUPERUSER IN ROLE opsmeter_admin;
CREATE ROLE verify_owner NOSUPERUSER;
CREATE ROLE verify_member NOSUPERUSER;
SELECT opsmeter_create_workspace('verify_big', 'verify_owner') > 0 AS created;
SELECT opsmeter_create_workspace('verify_small', 'verify_owner') > 0 AS created;
SELECT opsmeter_add_member('verify_big', 'verify_member', 'member');
SELECT (now() AT TIME ZONE 'UTC')::date - 1 AS day1 \gset
CREATE TEMP VIEW verify_all AS
SELECT workspace_name, tier, dimension, grain, period_start, data_mode, environment, provider, model, key,
       measure, summarized, raw
  FROM opsmeter_verify(now() - interval '3 days', now() + interval '1 hour')
 WHERE workspace_name LIKE 'verify\_%';

-- Two workspaces: verify_big's day 1 has enough rows to be summarized and
-- detailed (both tiers); verify_small's stays in raw rows.  Latencies,
-- errors, an unpriced model, users, tenants, endpoints and prompt versions
-- fill every column; test rows are cleared later (a correction).
SET opsmeter.workspace = 'verify_big';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'big-' || i, 'provider', 'openai',
         'model', CASE WHEN i % 7 = 0 THEN 'no-such-model' ELSE 'gpt-4o-mini' END,
         'inputTokens', 100 + i, 'outputTokens', 10 + i % 13, 'cachedInputTokens', i % 5,
         'latencyMs', CASE WHEN i % 11 = 0 THEN NULL ELSE 50 + (i * 37) % 4000 END,
         'status', CASE WHEN i % 17 = 0 THEN 'error' ELSE 'success' END,
         'userId', 'u' || i % 9, 'tenantId', 't' || i % 4, 'endpointTag', 'e' || i % 3,
         'promptVersion', CASE WHEN i % 2 = 0 THEN 'p1' END,
         'dataMode', CASE WHEN i % 10 = 0 THEN 'test' ELSE 'real' END,
         'timestamp', to_char(:'day1'::date + (i % 1440) * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 3000) i;
SET opsmeter.workspace = 'verify_small';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'small-' || i, 'provider', 'anthropic', 'model', 'claude-3-5-haiku-20241022',
         'inputTokens', 10, 'outputTokens', 1, 'latencyMs', 100 + i, 'userId', 'su' || i % 2,
         'timestamp', to_char(:'day1'::date + i * interval '7 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 40) i;
RESET opsmeter.workspace;

-- 1. Nothing rolled up yet: everything is pending, and exact.
SELECT count(*) AS differences FROM verify_all;

-- 2. After a pass: verify_big's day is in both tiers, verify_small's not.
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SELECT w.name, d.quarter_rows IS NOT NULL AS summarized, d.detail_rows IS NOT NULL AS detailed
  FROM opsmeter.rollup_days d JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name LIKE 'verify\_%' ORDER BY 1;
SELECT count(*) AS differences FROM verify_all;

-- 3. Late rows (pending on a summarized day) and a cleanup (pending
-- corrections: -1 for each cleared row), then the pass that folds them.
SET opsmeter.workspace = 'verify_big';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'late-' || i, 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 7, 'outputTokens', 3,
         'latencyMs', 5000 + i, 'userId', 'late-user',
         'timestamp', to_char(:'day1'::date + i * interval '13 minutes', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS late_accepted
  FROM generate_series(1, 50) i;
SELECT opsmeter_clear_test_data('workspace') AS cleared;
RESET opsmeter.workspace;
SELECT count(*) AS differences FROM verify_all;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SELECT count(*) AS differences FROM verify_all;

-- 4. Tampering: each change to a stored number is reported, as the
-- numbers it changed (summarized vs raw), and nothing else.
BEGIN;
UPDATE opsmeter.summary_quarters q SET requests = q.requests + 1, cost_usd = q.cost_usd + 0.5
 WHERE (q.workspace_id, q.period_start, q.model) = (SELECT q2.workspace_id, q2.period_start, q2.model
                                                      FROM opsmeter.summary_quarters q2 WHERE q2.model = 'gpt-4o'
                                                       AND q2.workspace_id = (SELECT workspace_id FROM opsmeter.workspaces
                                                                               WHERE name = 'verify_big')
                                                     ORDER BY q2.period_start LIMIT 1);
SELECT workspace_name, tier, grain, period_start - :'day1'::date AS at, model, measure, summarized - raw AS off_by
  FROM verify_all;
ROLLBACK;
BEGIN;
-- a raw row deleted behind the rollup's back
DELETE FROM opsmeter.events e WHERE e.external_request_id = 'big-1';
SELECT tier, dimension, grain, period_start - :'day1'::date AS at, coalesce(model, key) AS what, measure,
       summarized - raw AS off_by
  FROM verify_all WHERE measure IN ('requests', 'input_tokens') ORDER BY 1, 2, 3, 5, 6;
ROLLBACK;
BEGIN;
-- a tier-2 row on a day that is not detailed, and a latency bucket moved
INSERT INTO opsmeter.summaries (workspace_id, dimension, grain, period_start, data_mode, environment,
                                requests, errors, input_tokens, output_tokens, total_tokens, cached_input_tokens,
                                reasoning_tokens, cost_usd, unpriced_requests, unpriced_tokens, latency_count,
                                latency_sum_ms)
SELECT workspace_id, 'user', 'hour', :'day1'::date + interval '1 hour', 'real', 'prod', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
  FROM opsmeter.workspaces WHERE name = 'verify_small';
UPDATE opsmeter.summaries s SET latency_counts = s.latency_counts || ARRAY[1::bigint]
 WHERE s.dimension = 'overview' AND s.grain = 'day'
   AND s.workspace_id = (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'verify_big')
   AND s.data_mode = 'real';
SELECT workspace_name, tier, dimension, grain, measure LIKE 'latency_counts[%' AS histogram_bucket,
       summarized, raw
  FROM verify_all WHERE summarized <> 0 AND raw = 0 ORDER BY 1, 2, 3, 4;
ROLLBACK;

-- 5. Only what is inside the range and the raw retention is checked: a
-- range in the future, or before the raw rows' retention, has nothing.
SELECT count(*) AS differences FROM opsmeter_verify(now() + interval '1 day', now() + interval '2 days');
SELECT count(*) AS differences FROM opsmeter_verify(now() - interval '400 days', now() - interval '399 days');

-- 6. Who may verify what.  An owner (or admin) their own workspace; a
-- member may not; opsmeter_admin any, or all at once.
SET ROLE verify_owner;
SET opsmeter.workspace = 'verify_big';
SELECT count(*) AS owner_differences FROM opsmeter_verify(now() - interval '3 days', now());
SELECT count(*) FROM opsmeter_verify(now() - interval '3 days', now(), 'verify_nope');
RESET opsmeter.workspace;
SET ROLE verify_member;
SELECT count(*) FROM opsmeter_verify(now() - interval '3 days', now(), 'verify_big');
SET ROLE verify_dba;
SELECT count(*) AS admin_differences FROM opsmeter_verify(now() - interval '3 days', now(), 'verify_big');
SELECT count(*) FROM opsmeter_verify(now(), now() - interval '1 day');
SELECT count(*) FROM opsmeter_verify(NULL, now());
RESET ROLE;

-- 7. Every workspace this database holds, over all it retains: when the
-- whole suite runs, that is every story's data before this one (rollups,
-- late rows, re-pricings, cleanups, retention with shorter and longer
-- settings, faults in passes): no difference anywhere.
SELECT count(*) AS differences FROM opsmeter_verify(now() - interval '400 days', now() + interval '1 day');

SELECT opsmeter_drop_workspace('verify_big') ->> 'ok' AS dropped;
SELECT opsmeter_drop_workspace('verify_small') ->> 'ok' AS dropped;
DROP ROLE verify_dba, verify_owner, verify_member;
