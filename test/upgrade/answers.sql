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
-- The views' window: 0.1.0's default; 0.2.0 has none unless set.
SET opsmeter.range = '7d';

-- Money and averages as values, not as text: 0.2.0 shows sums without
-- trailing zeros (0.0077750 is 0.007775), 0.1.0 with them.
CREATE FUNCTION pg_temp.norm(r anyelement) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(r::text, '(\.[0-9]*[1-9])0+(?![0-9])', '\1', 'g'), '\.0+(?![0-9])', '', 'g')
$$;

SET ROLE upg_member;
SET opsmeter.workspace = 'upg_acme';
\echo ==== as upg_member in upg_acme
SET opsmeter.data_mode = 'all';
SELECT pg_temp.norm(t) FROM opsmeter.overview t;
SELECT pg_temp.norm(t) FROM opsmeter.top_users t;
SELECT pg_temp.norm(t) FROM opsmeter.top_tenants t;
SELECT pg_temp.norm(t) FROM opsmeter.top_endpoints t;
SELECT pg_temp.norm(t) FROM opsmeter.prompt_versions t;
SELECT pg_temp.norm(t) FROM opsmeter.top_models t;
SELECT pg_temp.norm(t) FROM opsmeter.unpriced_models t;
SELECT pg_temp.norm(t) FROM opsmeter.budget_signals t;
-- (0.2.0's export view adds a day column: the columns of 0.1.0 are compared)
SELECT count(*), sum(cost_usd),
       md5(string_agg(row(e.ts, e.external_request_id, e.provider, e.model, e.input_tokens, e.output_tokens,
                          e.total_tokens, e.cached_input_tokens, e.reasoning_tokens, e.latency_ms, e.status,
                          e.error_code, e.prompt_version, e.endpoint_tag, e.user_id, e.tenant_id, e.data_mode,
                          e.environment, e.cost_usd, e.pricing, e.ingested_by, e.metadata)::text,
                      ';' ORDER BY e.ts, e.external_request_id))
  FROM opsmeter.export e;
RESET opsmeter.data_mode;
SELECT pg_temp.norm(t) FROM opsmeter_overview('7 days', 'all', 'all') t;
SELECT pg_temp.norm(t) FROM opsmeter_overview('30 days', 'real', 'prod') t;
SELECT pg_temp.norm(t) FROM opsmeter_top_users('7 days', 'real', 'all', 50) t;
SELECT pg_temp.norm(t) FROM opsmeter_top_tenants('30 days', 'all', 'all', 50) t;
SELECT pg_temp.norm(t) FROM opsmeter_top_endpoints('7 days', 'all', 'prod,staging', 50) t;
SELECT pg_temp.norm(t) FROM opsmeter_prompt_versions('7 days', 'real', 'all', 50) t;
SELECT pg_temp.norm(t) FROM opsmeter_top_models('7 days', 'all', 'all', 50) t;
SELECT pg_temp.norm(t) FROM opsmeter_compare('model', '3 days') t;
SELECT pg_temp.norm(t) FROM opsmeter_compare('user', '1 day') t;
SELECT retention_truncated, now() - retention_available_from_utc AS retained_for  -- relative: now() moves
  FROM opsmeter_export_meta(:'from', :'to');
SELECT pg_temp.norm(t) FROM opsmeter_export(:'from', :'to', 'all', 'all') t;
SELECT opsmeter_workspace_status();
SELECT opsmeter.active_workspace() IS NOT NULL AS has_active_workspace;

SET ROLE upg_owner;
\echo ==== as upg_owner in upg_acme (sees cleanup_audit)
SELECT cleared_by, scope, data_mode, rows_removed FROM opsmeter.cleanup_audit ORDER BY audit_id;
SET opsmeter.workspace = 'upg_globex';
\echo ==== as upg_owner in upg_globex
SELECT pg_temp.norm(t) FROM opsmeter_top_users('7 days', 'all', 'all', 50) t;
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
-- Everything rolled up, with the corrections not folded yet, whatever the
-- layout: 0.1.0's hourly overview rows and histograms, 0.2.0's tier 1
-- (opsmeter.summary_quarters); the upgrade folds the corrections.
SELECT to_regclass('opsmeter.summary_quarters') IS NOT NULL AS tiered \gset
\if :tiered
SELECT 'rolled up', sum(x.requests), sum(x.errors), sum(x.cost_usd), sum(x.total_tokens), sum(x.latency_sum_ms),
       opsmeter.latency_histogram_add(
           (SELECT opsmeter.latency_histogram_sum(q.latency_counts) FROM opsmeter.summary_quarters q),
           (SELECT opsmeter.latency_histogram_of(a.latency_bucket, a.latency_count::bigint)
              FROM opsmeter.summary_adjustments a))
  FROM (SELECT requests, errors, cost_usd, total_tokens, latency_sum_ms FROM opsmeter.summary_quarters
        UNION ALL
        SELECT requests, errors, cost_usd, total_tokens, latency_sum_ms FROM opsmeter.summary_adjustments) x;
\else
SELECT 'rolled up', sum(x.requests), sum(x.errors), sum(x.cost_usd), sum(x.total_tokens), sum(x.latency_sum_ms),
       opsmeter.latency_histogram_add(
           (SELECT opsmeter.latency_histogram_sum(h.counts) FROM opsmeter.latency_histogram h),
           (SELECT opsmeter.latency_histogram_of(a.latency_bucket, a.latency_count::bigint)
              FROM opsmeter.summary_adjustments a))
  FROM (SELECT requests, errors, cost_usd, total_tokens, latency_sum_ms FROM opsmeter.summaries
         WHERE dimension = 'overview' AND grain = 'hour'
        UNION ALL
        SELECT requests, errors, cost_usd, total_tokens, latency_sum_ms FROM opsmeter.summary_adjustments) x;
\endif
SELECT 'spend_counters', count(*), sum(spend_usd) FROM opsmeter.spend_counters;
SELECT 'prices', source, count(*) FROM opsmeter.prices GROUP BY source ORDER BY source;
SELECT 'watermark', opsmeter.rollup_watermark();
SELECT 'retention_runs', count(*), bool_and(ok), sum(rows_rolled_up), max(watermark) FROM opsmeter.retention_runs;
SELECT 'ingest_batch_seq', last_value FROM opsmeter.ingest_batch_seq;
