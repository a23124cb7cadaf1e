-- hygiene: demo traffic and role-checked cleanup.  Real rows are never
-- touched; cleared rows leave no trace in views, summaries, exports or
-- budgets, also when they were already rolled up; every cleanup is audited.
-- Relies on setup: roles hygiene_*.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
-- Every day is summarized by the pass that first sees it: this story
-- checks that cleared rows leave tier 1 too.
SET opsmeter.summarize_day_rows = 0;
SELECT opsmeter_create_workspace('hygiene_ws', 'hygiene_owner') IS NOT NULL AS created;
SET ROLE hygiene_owner;
SELECT opsmeter_add_member('hygiene_ws', 'hygiene_member', 'member');
SELECT opsmeter_add_member('hygiene_ws', 'hygiene_viewer', 'viewer');
-- Each invitee accepts (a pending invitation grants nothing).
SET ROLE hygiene_member;
SELECT opsmeter_accept_invitation('hygiene_ws');
SET ROLE hygiene_viewer;
SELECT opsmeter_accept_invitation('hygiene_ws');
SET ROLE hygiene_owner;
SELECT opsmeter_set_budget('monthly', 1000);

-- Demo traffic: always demo / dev, spread over the last 7 days, several
-- providers, models, endpoints, prompt versions, users and some errors.
SELECT opsmeter_ingest_demo(400) - 'budgetWarning' - 'budgetExceeded' AS demo;
SELECT count(*) AS rows, count(DISTINCT provider) >= 3 AS providers, count(DISTINCT model) >= 4 AS models,
       count(DISTINCT endpoint_tag) >= 3 AS endpoints, count(DISTINCT prompt_version) >= 3 AS prompt_versions,
       count(DISTINCT user_id) >= 5 AS users, bool_or(is_error) AS some_errors,
       bool_and(data_mode = 'demo' AND environment = 'dev') AS all_demo_dev,
       bool_and(cost_usd IS NOT NULL) AS all_priced,
       min(ts) > now() - interval '7 days' AND max(ts) <= now() AS last_7_days
  FROM opsmeter.events;
-- Every demo row falls inside the default 7-day window (calendar days from
-- local midnight) of any zone, here one with a 45-minute offset.
SET TimeZone = 'Asia/Kathmandu';
SELECT sum(requests) AS in_default_window FROM opsmeter_overview(data_mode => 'demo');
RESET TimeZone;
-- Demo rows are not real: the default views and the budget do not count them.
SELECT count(*) AS real_overview_days FROM opsmeter.overview;
SELECT current_spend_usd FROM opsmeter.budget_signals;
\set ON_ERROR_STOP 0
SELECT opsmeter_ingest_demo(0);
SET ROLE hygiene_viewer;
SELECT opsmeter_ingest_demo(5);
\set ON_ERROR_STOP 1

-- Real and test rows from two roles.
CREATE FUNCTION pg_temp.event(id text, mode text) RETURNS jsonb LANGUAGE sql
RETURN jsonb_build_object('externalRequestId', id, 'provider', 'openai', 'model', 'gpt-4o-mini',
                          'inputTokens', 1000, 'outputTokens', 100, 'latencyMs', 300, 'userId', 'u-' || id,
                          'dataMode', mode, 'environment', CASE mode WHEN 'real' THEN 'prod' ELSE 'staging' END);
SET ROLE hygiene_member;
SELECT (opsmeter_ingest(jsonb_build_array(pg_temp.event('real-m', 'real'), pg_temp.event('test-m1', 'test'),
                                          pg_temp.event('test-m2', 'test'))) ->> 'accepted')::int AS member_rows;
SET ROLE hygiene_owner;
SELECT (opsmeter_ingest(jsonb_build_array(pg_temp.event('real-o', 'real'), pg_temp.event('test-o1', 'test'))) ->> 'accepted')::int AS owner_rows;
RESET ROLE;
-- Roll half of it up, so cleanup meets both rolled-up and pending rows.
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS rolled_up;
SET ROLE hygiene_owner;
SELECT (opsmeter_ingest(pg_temp.event('test-o2', 'test')) ->> 'duplicate')::boolean AS duplicate;

-- What every view shows with all modes, before cleanup.
SET opsmeter.data_mode = 'all';
CREATE TEMP TABLE before_clear AS
SELECT (SELECT sum(requests) FROM opsmeter.overview) AS overview_requests,
       (SELECT count(*) FROM opsmeter.export) AS exported,
       (SELECT sum(requests) FROM opsmeter.top_users WHERE user_id LIKE 'u-test%') AS test_users;
SELECT overview_requests > 6 AS views_show_rows, overview_requests = exported AS export_agrees, test_users FROM before_clear;

-- Scopes: mine for every role, workspace for owners and admins, nothing else.
\set ON_ERROR_STOP 0
SELECT opsmeter_clear_test_data('everything');
SELECT opsmeter_clear_test_data(NULL);
SET ROLE hygiene_member;
SELECT opsmeter_clear_test_data('workspace');
SET ROLE hygiene_viewer;
SELECT opsmeter_clear_demo_data('workspace');
\set ON_ERROR_STOP 1
-- A viewer clears its own test rows (it has none).
SELECT opsmeter_clear_test_data() AS viewer_cleared;
-- The member clears only its own test rows.
SET ROLE hygiene_member;
SELECT opsmeter_clear_test_data('mine') AS member_cleared;
RESET ROLE;
SELECT external_request_id, data_mode, ingested_by FROM opsmeter.events
 WHERE data_mode <> 'demo' AND workspace_id = (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'hygiene_ws')
 ORDER BY 1;
-- The owner clears the rest of the workspace's test rows, then the demo rows.
SET ROLE hygiene_owner;
SELECT opsmeter_clear_test_data('workspace') AS owner_cleared_test;
SELECT opsmeter_clear_demo_data('workspace') AS owner_cleared_demo;
SELECT opsmeter_clear_demo_data('workspace') AS nothing_left;

-- No trace: views, export, summaries (after the next pass too), budget.
SET opsmeter.data_mode = 'all';
SELECT (SELECT sum(requests) FROM opsmeter.overview) AS overview_requests,
       (SELECT count(*) FROM opsmeter.export) AS exported,
       (SELECT count(*) FROM opsmeter.top_users WHERE user_id LIKE 'u-test%') AS test_users,
       (SELECT count(*) FROM opsmeter.top_models) AS models;
SELECT mode, count(*) FROM (SELECT data_mode AS mode FROM opsmeter.events) e GROUP BY 1;
RESET ROLE;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SELECT data_mode, sum(requests) AS requests, sum(cost_usd) AS cost_usd
  FROM opsmeter.summary_quarters s JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'hygiene_ws' GROUP BY 1;
SELECT count(*) AS summary_rows_not_real FROM opsmeter.summaries s JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'hygiene_ws' AND s.data_mode <> 'real';
SELECT count(*) AS adjustments_left FROM opsmeter.summary_adjustments;
SET ROLE hygiene_owner;
SELECT current_spend_usd FROM opsmeter.budget_signals;
SELECT sum(cost_usd) AS real_cost FROM opsmeter.events;
-- A cleared id is free again (its dedup key left with the row).
SELECT (opsmeter_ingest(pg_temp.event('test-m1', 'test')) ->> 'duplicate')::boolean AS duplicate;

-- The audit: who, when, scope, mode, rows removed; owners and admins read it.
SELECT cleared_by, scope, data_mode, rows_removed, cleared_at <= now() AS stamped
  FROM opsmeter.cleanup_audit ORDER BY audit_id;
SET ROLE hygiene_member;
SELECT count(*) AS audit_rows_a_member_sees FROM opsmeter.cleanup_audit;
RESET ROLE;
