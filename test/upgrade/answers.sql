-- test/upgrade/answers.sql — everything a user can ask a populated
-- database, as text: every view, function form, export and status, as the
-- workspace's member and owner; then the stored rows themselves, as a
-- superuser.  test/upgrade/run.sh runs it before and after an upgrade (and
-- after a dump/restore) and requires the same text.
--
-- psql variables: :from and :to bound the export (fixed instants, so two
-- runs a few seconds apart ask the same question).
\set ON_ERROR_STOP 1
\pset footer off
SET client_min_messages = warning;
SET TimeZone = 'UTC';
SET extra_float_digits = 0;

SET ROLE upg_member;
SET opsmeter.workspace = 'upg_acme';
\echo ==== as upg_member in upg_acme
SET opsmeter.data_mode = 'all';
SELECT * FROM opsmeter.overview;
SELECT * FROM opsmeter.top_users;
SELECT * FROM opsmeter.top_tenants;
SELECT * FROM opsmeter.top_endpoints;
SELECT * FROM opsmeter.prompt_versions;
SELECT * FROM opsmeter.top_models;
SELECT * FROM opsmeter.unpriced_models;
SELECT * FROM opsmeter.budget_signals;
SELECT count(*), sum(cost_usd), md5(string_agg(e::text, ';' ORDER BY e.ts, e.external_request_id))
  FROM opsmeter.export e;
RESET opsmeter.data_mode;
SELECT * FROM opsmeter_overview('7 days', 'all', 'all');
SELECT * FROM opsmeter_overview('30 days', 'real', 'prod');
SELECT * FROM opsmeter_top_users('7 days', 'real', 'all', 50);
SELECT * FROM opsmeter_top_tenants('30 days', 'all', 'all', 50);
SELECT * FROM opsmeter_top_endpoints('7 days', 'all', 'prod,staging', 50);
SELECT * FROM opsmeter_prompt_versions('7 days', 'real', 'all', 50);
SELECT * FROM opsmeter_top_models('7 days', 'all', 'all', 50);
SELECT * FROM opsmeter_compare('model', '3 days');
SELECT * FROM opsmeter_compare('user', '1 day');
SELECT retention_truncated, now() - retention_available_from_utc AS retained_for  -- relative: now() moves
  FROM opsmeter_export_meta(:'from', :'to');
SELECT * FROM opsmeter_export(:'from', :'to', 'all', 'all');
SELECT opsmeter_workspace_status();
SELECT opsmeter.active_workspace() IS NOT NULL AS has_active_workspace;

SET ROLE upg_owner;
\echo ==== as upg_owner in upg_acme (sees cleanup_audit)
SELECT cleared_by, scope, data_mode, rows_removed FROM opsmeter.cleanup_audit ORDER BY audit_id;
SET opsmeter.workspace = 'upg_globex';
\echo ==== as upg_owner in upg_globex
SELECT * FROM opsmeter_top_users('7 days', 'all', 'all', 50);
RESET opsmeter.workspace;
RESET ROLE;

\echo ==== stored rows (superuser)
SELECT w.name, w.created_by, w.raw_retention, w.summary_retention, w.daily_budget_usd,
       w.daily_warning_ratio, w.monthly_budget_usd, w.monthly_warning_ratio
  FROM opsmeter.workspaces w ORDER BY w.name;
SELECT w.name, m.member, m.role, m.granted_by FROM opsmeter.workspace_members m
  JOIN opsmeter.workspaces w USING (workspace_id) ORDER BY 1, 2;
SELECT 'events', count(*), md5(string_agg(format('%s|%s|%s|%s|%s|%s|%s|%s', w.name, e.external_request_id, e.ts,
                                                  e.cost_usd, e.pricing, e.data_mode, e.user_id, e.ingest_batch),
                                           ';' ORDER BY w.name, e.external_request_id))
  FROM opsmeter.events e JOIN opsmeter.workspaces w USING (workspace_id);
SELECT 'partitions', count(DISTINCT tableoid) FROM opsmeter.events;
SELECT 'request_keys', count(*), md5(string_agg(format('%s|%s', k.external_request_id, k.event_day), ';'
                                                 ORDER BY k.external_request_id))
  FROM opsmeter.request_keys k;
SELECT 'summaries', count(*), sum(requests), sum(cost_usd) FROM opsmeter.summaries;
SELECT 'latency_histogram', count(*) FROM opsmeter.latency_histogram;
SELECT 'summary_adjustments', count(*), sum(requests) FROM opsmeter.summary_adjustments;
SELECT 'spend_counters', count(*), sum(spend_usd) FROM opsmeter.spend_counters;
SELECT 'prices', source, count(*) FROM opsmeter.prices GROUP BY source ORDER BY source;
SELECT 'watermark', opsmeter.rollup_watermark();
SELECT 'retention_runs', count(*), bool_and(ok), sum(rows_rolled_up), max(watermark) FROM opsmeter.retention_runs;
SELECT 'ingest_batch_seq', last_value FROM opsmeter.ingest_batch_seq;
