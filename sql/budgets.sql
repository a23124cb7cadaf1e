-- budgets: owners and admins set daily and monthly budgets; spend of real
-- rows is counted at ingest in a small counter; responses, budget_signals
-- and opsmeter_workspace_status() read it.
-- Relies on setup: roles budget_*.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('budget_ws', 'budget_owner') IS NOT NULL AS created;
SET ROLE budget_owner;
SELECT opsmeter_add_member('budget_ws', 'budget_admin', 'admin');
SELECT opsmeter_add_member('budget_ws', 'budget_member', 'member');
SELECT opsmeter_add_member('budget_ws', 'budget_viewer', 'viewer');
-- Each invitee accepts (a pending invitation grants nothing).
SET ROLE budget_admin;
SELECT opsmeter_accept_invitation('budget_ws');
SET ROLE budget_member;
SELECT opsmeter_accept_invitation('budget_ws');
SET ROLE budget_viewer;
SELECT opsmeter_accept_invitation('budget_ws');
RESET ROLE;

-- 1,000,000 input tokens of gpt-4o cost exactly $2.50.
CREATE FUNCTION pg_temp.event(id text, mode text DEFAULT 'real', env text DEFAULT 'prod') RETURNS jsonb
LANGUAGE sql RETURN jsonb_build_object('externalRequestId', id, 'provider', 'openai', 'model', 'gpt-4o',
                                       'inputTokens', 1000000, 'outputTokens', 0, 'dataMode', mode, 'environment', env);

-- No budget: both flags false, no signal, severity normal.
SET ROLE budget_member;
SELECT r ->> 'costUsd' AS cost, r -> 'budgetWarning' AS warning, r -> 'budgetExceeded' AS exceeded
  FROM opsmeter_ingest(pg_temp.event('b-1')) r;
SELECT count(*) AS signals FROM opsmeter.budget_signals;
SELECT opsmeter_workspace_status();
-- ... and no spend counter: only workspaces with a budget pay for one.
SELECT count(*) AS counter_rows_without_a_budget FROM opsmeter.spend_counters;

-- Members and viewers may not set budgets; owners and admins may.
SELECT opsmeter_set_budget('daily', 10);
SET ROLE budget_viewer;
SELECT opsmeter_set_budget('daily', 10);
SET ROLE budget_outsider;
SELECT opsmeter_set_budget('daily', 10);
SELECT * FROM opsmeter.budget_signals;
SET ROLE budget_admin;
SELECT opsmeter_set_budget('daily', 10);
SET ROLE budget_owner;
SELECT opsmeter_set_budget('monthly', 100, 0.5);
-- Bad values: 22023 with what is allowed.
SELECT opsmeter_set_budget('weekly', 10);
SELECT opsmeter_set_budget(NULL, 10);
SELECT opsmeter_set_budget('daily', 0);
SELECT opsmeter_set_budget('daily', 10, 0);
SELECT opsmeter_set_budget('daily', 10, 1.01);
SELECT opsmeter_set_budget('daily', 10, NULL);

SET ROLE budget_viewer;
SELECT period, limit_usd, warning_ratio, current_spend_usd, utilization_ratio, is_warning, is_exceeded,
       period_end > period_start AND now() >= period_start AND now() < period_end AS current_window
  FROM opsmeter.budget_signals;

-- Spend climbs: $2.50 a call against a daily budget of $10 (warning at $8).
SET ROLE budget_member;
SELECT i AS call, r -> 'budgetWarning' AS warning, r -> 'budgetExceeded' AS exceeded
  FROM generate_series(2, 5) i, opsmeter_ingest(pg_temp.event('b-' || i)) r;
SELECT opsmeter_workspace_status() #- '{budgets,0,periodStartUtc}' #- '{budgets,0,periodEndUtc}'
                                   #- '{budgets,1,periodStartUtc}' #- '{budgets,1,periodEndUtc}' AS status;
-- Test and demo rows, duplicates and failed batches do not count.
SELECT r -> 'budgetExceeded' AS exceeded, r -> 'duplicate' AS duplicate
  FROM opsmeter_ingest(pg_temp.event('b-5')) r;
SELECT (r ->> 'accepted')::int AS accepted
  FROM opsmeter_ingest(jsonb_build_array(pg_temp.event('t-1', 'test', 'staging'), pg_temp.event('d-1', 'demo', 'dev'))) r;
\set ON_ERROR_STOP 0
SELECT opsmeter_ingest(jsonb_build_array(pg_temp.event('x-1'), pg_temp.event('x-2') - 'model'));
\set ON_ERROR_STOP 1
SELECT current_spend_usd FROM opsmeter.budget_signals WHERE period = 'daily';
-- A rolled-back call takes its spend with it.
BEGIN;
SELECT r -> 'budgetExceeded' AS exceeded FROM opsmeter_ingest(pg_temp.event('b-6')) r;
ROLLBACK;
SELECT current_spend_usd FROM opsmeter.budget_signals WHERE period = 'daily';

-- The counter equals the raw rows it counts (real rows, per UTC day); a
-- batch spanning two days is split between them.
SELECT (opsmeter_ingest(jsonb_build_array(
          pg_temp.event('y-1') || jsonb_build_object('timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '1 day', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
          pg_temp.event('y-2'))) ->> 'accepted')::int AS accepted;
RESET ROLE;
SELECT count(*) AS days_that_differ FROM (
    SELECT day, sum(spend_usd) AS spend FROM opsmeter.spend_counters
     WHERE workspace_id = (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'budget_ws') GROUP BY 1
    EXCEPT ALL
    SELECT (ts AT TIME ZONE 'UTC')::date, sum(cost_usd) FROM opsmeter.events
     WHERE workspace_id = (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'budget_ws') AND data_mode = 'real'
     GROUP BY 1) d;
SET ROLE budget_outsider;
SELECT count(*) AS counter_rows_an_outsider_sees FROM opsmeter.spend_counters;

-- Removing a budget: NULL limit.
SET ROLE budget_owner;
SELECT opsmeter_set_budget('daily', NULL);
SELECT period, is_warning, is_exceeded FROM opsmeter.budget_signals;
SELECT opsmeter_set_budget('monthly', NULL);
SELECT r -> 'budgetWarning' AS warning, r -> 'budgetExceeded' AS exceeded
  FROM opsmeter_ingest(pg_temp.event('b-7')) r;
SELECT opsmeter_workspace_status() ->> 'severity' AS severity;
SELECT count(*) AS counter_rows_after_removal FROM opsmeter.spend_counters;

-- A first budget counts the spend so far (b-7 included) from a snapshot
-- taken after in-flight ingests finish: READ COMMITTED only.
-- Whether the counters a first budget seeds hold the real spend of the raw
-- rows since the start of last month.
CREATE FUNCTION pg_temp.seeded_counters_match_raw() RETURNS boolean LANGUAGE sql AS $$
    SELECT (SELECT sum(spend_usd) FROM opsmeter.spend_counters)
         = (SELECT sum(cost_usd) FROM opsmeter.events WHERE data_mode = 'real'
              AND ts >= date_trunc('month', now(), 'UTC') - interval '1 month')
$$;
\set ON_ERROR_STOP 0
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT opsmeter_set_budget('daily', 10);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
\set ON_ERROR_STOP 1
SELECT opsmeter_set_budget('daily', 10);
SELECT pg_temp.seeded_counters_match_raw();
SELECT opsmeter_set_budget('daily', NULL);
RESET ROLE;

-- The same after passes: the spend of rolled-up rows is read from tier 1
-- on summarized days and from the raw rows on days not summarized yet
-- (opsmeter.summarize_day_rows); both kinds here: today stays in raw rows
-- (a handful of rows), yesterday is summarized at once (the setting 0).
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SET ROLE budget_member;
SELECT opsmeter_ingest(pg_temp.event('b-yesterday') || jsonb_build_object('timestamp', now() - interval '1 day')) ->> 'ok' AS ok;
RESET ROLE;
SET opsmeter.summarize_day_rows = 0;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
RESET opsmeter.summarize_day_rows;
SELECT count(*) FILTER (WHERE d.quarter_rows IS NULL) AS days_in_raw_rows,
       count(*) FILTER (WHERE d.quarter_rows IS NOT NULL) AS days_summarized
  FROM opsmeter.rollup_days d JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'budget_ws';
SET ROLE budget_owner;
SELECT opsmeter_set_budget('daily', 10);
SELECT pg_temp.seeded_counters_match_raw();
SELECT opsmeter_set_budget('daily', NULL);
RESET ROLE;
