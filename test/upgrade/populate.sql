-- test/upgrade/populate.sql — a database that has used every feature of the
-- version it was installed at.  Run as a superuser in a database where
-- CREATE EXTENSION opsmeter (at any version) has just run; the roles upg_*
-- exist (test/upgrade/run.sh makes them).  psql variable :price_file is a
-- price file the server can read.
--
-- Everything goes through the extension's own functions, as its users
-- would: the point is to leave behind every kind of row and setting a real
-- database has, so the upgrade has to carry all of them.
\set ON_ERROR_STOP 1
\set QUIET 1
SET client_min_messages = warning;

-- Tenancy: two workspaces, every workspace role, a role in both.
SELECT opsmeter_create_workspace('upg_acme', 'upg_owner');
SELECT opsmeter_create_workspace('upg_globex', 'upg_owner');
SET ROLE upg_owner;
SELECT opsmeter_add_member('upg_acme', 'upg_admin', 'admin');
SELECT opsmeter_add_member('upg_acme', 'upg_member', 'member');
SELECT opsmeter_add_member('upg_acme', 'upg_viewer', 'viewer');
SELECT opsmeter_add_member('upg_acme', 'upg_gone', 'member');
SELECT opsmeter_remove_member('upg_acme', 'upg_gone');
SELECT opsmeter_add_member('upg_globex', 'upg_member', 'admin');
SELECT opsmeter_set_member_role('upg_globex', 'upg_member', 'member');
RESET ROLE;

-- Prices: a file loaded on top of the shipped catalog, and a model the
-- catalog does not know yet (it is re-priced below).
SELECT opsmeter_load_prices(:'price_file');

-- Settings: per-workspace retention and both budgets.
SET ROLE upg_admin;
SET opsmeter.workspace = 'upg_acme';
SELECT opsmeter_set_retention('20 days', '200 days');
SELECT opsmeter_set_budget('daily', 5, 0.5);
SELECT opsmeter_set_budget('monthly', 100);

-- Events over the last six days, every dimension and mode, in one batch.
SET ROLE upg_member;
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
           'externalRequestId', 'upg-' || i,
           'provider', CASE WHEN i % 5 = 0 THEN 'upgco' ELSE 'openai' END,
           'model', CASE WHEN i % 5 = 0 THEN 'upg-model-1' WHEN i % 3 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
           'inputTokens', 1000 + i * 7, 'outputTokens', 100 + i,
           'cachedInputTokens', CASE WHEN i % 4 = 0 THEN 200 ELSE 0 END,
           'latencyMs', 50 + (i * 37) % 900,
           'status', CASE WHEN i % 11 = 0 THEN 'error' ELSE 'success' END,
           'errorCode', CASE WHEN i % 11 = 0 THEN 'rate_limited' END,
           'userId', 'user-' || (i % 7), 'tenantId', 'tenant-' || (i % 3),
           'endpointTag', 'ep.' || (i % 4), 'promptVersion', 'v' || (i % 2),
           'dataMode', CASE WHEN i % 13 = 0 THEN 'test' ELSE 'real' END,
           'environment', CASE WHEN i % 6 = 0 THEN 'staging' ELSE 'prod' END,
           'timestamp', to_char(date_trunc('hour', now()) AT TIME ZONE 'UTC' - make_interval(hours => 2 + i),
                                'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
  FROM generate_series(1, 140) i;
SELECT opsmeter_ingest_ndjson(string_agg(jsonb_build_object(
           'externalRequestId', 'upg-nd-' || i, 'provider', 'anthropic', 'model', 'claude-3-5-sonnet',
           'inputTokens', 300 + i, 'outputTokens', 40, 'userId', 'user-nd',
           'timestamp', to_char(date_trunc('hour', now()) AT TIME ZONE 'UTC' - make_interval(hours => 30 + i),
                                'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::text, E'\n'))
  FROM generate_series(1, 12) i;
SELECT opsmeter_ingest_demo(30);
SET opsmeter.workspace = 'upg_globex';
SELECT opsmeter_ingest('{"externalRequestId": "globex-1", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 5000, "outputTokens": 700, "userId": "g-user"}');
RESET opsmeter.workspace;
RESET ROLE;

-- Roll up: summaries, latency histograms, watermark, retention_runs rows.
SELECT opsmeter_run_retention();

-- Late events into hours already rolled up, and a fresh tail left pending.
SET ROLE upg_member;
SET opsmeter.workspace = 'upg_acme';
SELECT opsmeter_ingest(jsonb_build_array(
    jsonb_build_object('externalRequestId', 'upg-late-1', 'provider', 'openai', 'model', 'gpt-4o',
                       'inputTokens', 2222, 'outputTokens', 222, 'userId', 'user-late',
                       'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '3 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
    jsonb_build_object('externalRequestId', 'upg-late-2', 'provider', 'upgco', 'model', 'upg-model-1',
                       'inputTokens', 3333, 'outputTokens', 333, 'dataMode', 'test',
                       'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))));
-- A duplicate: refused, changes nothing.
SELECT opsmeter_ingest('{"externalRequestId": "upg-1", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1}');
RESET ROLE;
SELECT opsmeter_run_retention();

-- The catalog learns the unknown model; re-pricing writes -old/+new
-- adjustments for rolled-up rows and moves the budget counters.
INSERT INTO opsmeter.prices (provider, model, effective_from, input_usd_per_mtok, output_usd_per_mtok, source)
VALUES ('upgco', 'upg-model-1', '-infinity', 0.75, 3, 'upgrade test');
SET ROLE upg_admin;
SET opsmeter.workspace = 'upg_acme';
SELECT opsmeter_reprice(now() - interval '10 days', now() + interval '1 day', true);

-- Hygiene: test rows retracted (-1 adjustments) and audited.
SELECT opsmeter_clear_test_data('workspace');
SET ROLE upg_member;
SELECT opsmeter_clear_demo_data('mine');

-- The pending tail: rows above the watermark at upgrade time.
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
           'externalRequestId', 'upg-tail-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
           'inputTokens', 10 * i, 'outputTokens', i, 'userId', 'user-tail', 'endpointTag', 'ep.tail',
           'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(mins => 5 * i), 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
  FROM generate_series(1, 8) i;
RESET ROLE;
RESET opsmeter.workspace;

-- Statistics as autovacuum would have collected them on 0.1.0, on every
-- column: the upgrade must delete those of the columns that 0.2.0 keeps
-- out of the planner's statistics (catalog.sql, "closed-column-stats").
ANALYZE opsmeter.events, opsmeter.request_keys, opsmeter.summaries, opsmeter.latency_histogram,
        opsmeter.summary_adjustments, opsmeter.spend_counters, opsmeter.cleanup_audit,
        opsmeter.workspaces, opsmeter.workspace_members;
