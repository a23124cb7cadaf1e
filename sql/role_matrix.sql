-- role_matrix: every user-facing function, every view and every internal
-- table, called or read by each kind of actor, against one workspace.
-- The matrix printed below is the one in the README ("Workspaces, roles and
-- isolation"): allow, or the SQLSTATE of the refusal.
--
-- Actors: owner, admin, member and viewer of workspace matrix_ws; other_ws
-- (owner of another workspace only); nobody (in no workspace);
-- opsmeter_admin (a member of the NOLOGIN role opsmeter_admin, in no
-- workspace); superuser (the session user).  nobody holds a pending
-- invitation to matrix_ws (accepted or declined only in the matrix), which
-- grants it nothing.  Every actor names matrix_ws (SET opsmeter.workspace =
-- 'matrix_ws'), so "other_ws" is a role naming a workspace it is not in.
-- Each action runs under SET ROLE in a subtransaction that is always rolled
-- back, so actions do not disturb each other.
--
-- Relies on setup: roles matrix_* (matrix_opsadmin is in opsmeter_admin) and
-- regress.write_server_file().
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
-- Every day is summarized by the pass that first sees it, so every
-- internal table holds rows of the workspace.
SET opsmeter.summarize_day_rows = 0;

-- Nobody else holds a role that widens its rights.
SELECT r.rolname, r.rolsuper, pg_has_role(r.oid, 'opsmeter_admin', 'MEMBER') AS opsmeter_admin,
       pg_has_role(r.oid, 'pg_read_server_files', 'MEMBER') AS pg_read_server_files
  FROM pg_roles r WHERE r.rolname LIKE 'matrix\_%' ORDER BY 1;

SELECT opsmeter_create_workspace('matrix_ws', 'matrix_owner') > 0 AS created;
SELECT opsmeter_create_workspace('matrix_other_ws', 'matrix_other') > 0 AS created;
SET ROLE matrix_owner;
SELECT opsmeter_add_member('matrix_ws', 'matrix_admin', 'admin');
SELECT opsmeter_add_member('matrix_ws', 'matrix_member', 'member');
SELECT opsmeter_add_member('matrix_ws', 'matrix_viewer', 'viewer');
SELECT opsmeter_add_member('matrix_ws', 'matrix_spare', 'viewer');   -- the target of set_member_role / remove_member
SELECT opsmeter_add_member('matrix_ws', 'matrix_nobody', 'viewer');  -- stays pending: accept / decline
RESET ROLE;
DO $$
DECLARE r name;
BEGIN
    FOREACH r IN ARRAY ARRAY['matrix_admin', 'matrix_member', 'matrix_viewer', 'matrix_spare'] LOOP
        EXECUTE format('SET ROLE %I', r);
        PERFORM opsmeter_accept_invitation('matrix_ws');
        RESET ROLE;
    END LOOP;
END $$;
SELECT member, role FROM opsmeter.workspace_members
 WHERE workspace_id = (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'matrix_ws') ORDER BY role, member;
SELECT invitee, role FROM opsmeter.workspace_invitations;
SET opsmeter.workspace = 'matrix_ws';

------------------------------------------------------------------------------
-- Data to read: real, test and demo rows (one timestamp, two hours ago, so
-- every window below holds all of them as one day), some rolled up, some
-- pending, a re-priced row (a correction in summary_adjustments), a budget,
-- a cleanup audit row and a retention run.
------------------------------------------------------------------------------
SELECT to_char((now() - interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS seed_ts \gset
CREATE FUNCTION pg_temp.ev(id text, provider text, model text, usr text, tenant text, mode text DEFAULT 'real')
RETURNS jsonb LANGUAGE sql
RETURN jsonb_build_object('externalRequestId', id, 'provider', provider, 'model', model,
                          'inputTokens', 1000, 'outputTokens', 100, 'latencyMs', 300,
                          'userId', usr, 'tenantId', tenant, 'endpointTag', 'ep-' || usr,
                          'promptVersion', 'pv-' || tenant, 'dataMode', mode,
                          'timestamp', :'seed_ts');

SET ROLE matrix_member;
SELECT opsmeter_ingest(jsonb_build_array(
    pg_temp.ev('m-real-1', 'openai', 'gpt-4o-mini', 'alice', 't1'),
    pg_temp.ev('m-real-2', 'openai', 'gpt-4o', 'bob', 't2'),
    pg_temp.ev('m-real-3', 'matrix', 'reprice-me', 'carol', 't1'),
    pg_temp.ev('m-real-4', 'matrix', 'never-priced', 'carol', 't2'),
    pg_temp.ev('m-test-1', 'openai', 'gpt-4o-mini', 'alice', 't1', 'test'),
    pg_temp.ev('m-test-2', 'openai', 'gpt-4o-mini', 'bob', 't1', 'test'),
    pg_temp.ev('m-demo-1', 'openai', 'gpt-4o-mini', 'alice', 't1', 'demo'),
    pg_temp.ev('m-demo-2', 'openai', 'gpt-4o-mini', 'bob', 't2', 'demo'))) ->> 'accepted' AS accepted;
RESET ROLE;
SET ROLE matrix_other;
SET opsmeter.workspace = 'matrix_other_ws';
SELECT opsmeter_ingest(pg_temp.ev('o-real-1', 'openai', 'gpt-4o', 'olga', 't9')) ->> 'ok' AS other_ws_ok;
SET opsmeter.workspace = 'matrix_ws';
RESET ROLE;

-- A pass rolls them up (and records a retention run).
SELECT opsmeter_run_retention() ->> 'ok' AS pass_ok;
SELECT max(run_id) AS matrix_run_id FROM opsmeter.retention_runs \gset

-- A price file for the unpriced model; the owner re-prices the rolled-up row.
\set prices_file '/tmp/opsmeter_regress_matrix_prices.json'
SELECT regress.write_server_file(:'prices_file', '{"format": "opsmeter-prices", "prices": [
  {"provider": "matrix", "model": "reprice-me", "effective_from": "2020-01-01T00:00:00Z", "input": 1.00, "output": 2.00}]}');
SELECT opsmeter_load_prices(:'prices_file') - 'path' AS load;
SET ROLE matrix_owner;
SELECT opsmeter_reprice(now() - interval '1 day', now() + interval '1 hour') AS reprice;
SELECT opsmeter_set_budget('daily', 1000);
RESET ROLE;
-- One pending raw row above the watermark, and a cleanup audit row.
SET ROLE matrix_member;
SELECT opsmeter_ingest(pg_temp.ev('m-real-5', 'openai', 'gpt-4o-mini', 'dave', 't3')) ->> 'ok' AS ok;
RESET ROLE;
SET ROLE matrix_viewer;
SELECT opsmeter_clear_test_data('mine') AS viewer_cleared;
RESET ROLE;

SELECT workspace_id AS matrix_ws_id FROM opsmeter.workspaces WHERE name = 'matrix_ws' \gset

------------------------------------------------------------------------------
-- The matrix
------------------------------------------------------------------------------
CREATE TEMP TABLE matrix_actors (pos integer, actor text, rolname name);
INSERT INTO matrix_actors VALUES
    (1, 'owner', 'matrix_owner'), (2, 'admin', 'matrix_admin'), (3, 'member', 'matrix_member'),
    (4, 'viewer', 'matrix_viewer'), (5, 'other_ws', 'matrix_other'), (6, 'nobody', 'matrix_nobody'),
    (7, 'opsmeter_admin', 'matrix_opsadmin'), (8, 'superuser', session_user);

-- kind: write (a function that changes state), read (a function form),
-- view, table (a plain SELECT on an internal table, counting matrix_ws rows).
CREATE TEMP TABLE matrix_actions (pos serial, kind text, action text, stmt text);
INSERT INTO matrix_actions (kind, action, stmt) VALUES
    ('write', 'opsmeter_create_workspace', $$SELECT opsmeter_create_workspace('matrix_new_ws')$$),
    ('write', 'opsmeter_add_member', $$SELECT opsmeter_add_member('matrix_ws', 'matrix_newbie', 'viewer')$$),
    ('write', 'opsmeter_set_member_role', $$SELECT opsmeter_set_member_role('matrix_ws', 'matrix_spare', 'member')$$),
    ('write', 'opsmeter_remove_member', $$SELECT opsmeter_remove_member('matrix_ws', 'matrix_spare')$$),
    ('write', 'opsmeter_accept_invitation', $$SELECT opsmeter_accept_invitation('matrix_ws')$$),
    ('write', 'opsmeter_decline_invitation', $$SELECT opsmeter_decline_invitation('matrix_ws')$$),
    ('write', 'opsmeter_leave_workspace', $$SELECT opsmeter_leave_workspace('matrix_ws')$$),
    ('write', 'opsmeter_ingest', $$SELECT opsmeter_ingest('{"externalRequestId": "m-act-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 10, "outputTokens": 1}')$$),
    ('write', 'opsmeter_ingest_ndjson', $$SELECT opsmeter_ingest_ndjson('{"externalRequestId": "m-act-2", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 10, "outputTokens": 1}')$$),
    ('write', 'opsmeter_ingest_demo', $$SELECT opsmeter_ingest_demo(5)$$),
    ('write', 'opsmeter_ingest_otlp', $$SELECT opsmeter_ingest_otlp(('{"resourceSpans": [{"scopeSpans": [{"spans": [{"spanId": "01", "traceId": "02", "startTimeUnixNano": "' || ((extract(epoch FROM now()) * 1000000)::bigint * 1000) || '", "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}}, {"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}')::jsonb)$$),
    ('write', 'opsmeter_load_prices', format('SELECT opsmeter_load_prices(%L)', :'prices_file')),
    ('write', 'opsmeter_run_retention', $$SELECT opsmeter_run_retention()$$),
    ('write', 'opsmeter_set_retention', $$SELECT opsmeter_set_retention('20 days', '200 days')$$),
    ('write', 'opsmeter_set_budget', $$SELECT opsmeter_set_budget('monthly', 100)$$),
    ('write', 'opsmeter_reprice', $$SELECT opsmeter_reprice(now() - interval '1 day', now() + interval '1 hour', false)$$),
    ('write', 'opsmeter_clear_demo_data(mine)', $$SELECT opsmeter_clear_demo_data('mine')$$),
    ('write', 'opsmeter_clear_demo_data(workspace)', $$SELECT opsmeter_clear_demo_data('workspace')$$),
    ('write', 'opsmeter_clear_test_data(mine)', $$SELECT opsmeter_clear_test_data('mine')$$),
    ('write', 'opsmeter_clear_test_data(workspace)', $$SELECT opsmeter_clear_test_data('workspace')$$),
    ('write', 'opsmeter_rename_workspace', $$SELECT opsmeter_rename_workspace('matrix_ws', 'matrix_renamed')$$),
    ('write', 'opsmeter_drop_workspace', $$SELECT opsmeter_drop_workspace('matrix_ws')$$),
    ('read', 'opsmeter_overview', $$SELECT * FROM opsmeter_overview()$$),
    ('read', 'opsmeter_top_users', $$SELECT * FROM opsmeter_top_users()$$),
    ('read', 'opsmeter_top_tenants', $$SELECT * FROM opsmeter_top_tenants()$$),
    ('read', 'opsmeter_top_endpoints', $$SELECT * FROM opsmeter_top_endpoints()$$),
    ('read', 'opsmeter_top_models', $$SELECT * FROM opsmeter_top_models()$$),
    ('read', 'opsmeter_prompt_versions', $$SELECT * FROM opsmeter_prompt_versions()$$),
    ('read', 'opsmeter_export', $$SELECT * FROM opsmeter_export(now() - interval '1 day', now() + interval '1 hour', 'all')$$),
    ('read', 'opsmeter_export_meta', $$SELECT * FROM opsmeter_export_meta(now() - interval '1 day', now() + interval '1 hour')$$),
    ('read', 'opsmeter_compare', $$SELECT * FROM opsmeter_compare('user')$$),
    ('read', 'opsmeter_workspace_status', $$SELECT opsmeter_workspace_status()$$),
    ('read', 'opsmeter_verify', $$SELECT * FROM opsmeter_verify(now() - interval '1 day', now() + interval '1 hour', 'matrix_ws')$$),
    ('view', 'opsmeter.overview', $$SELECT * FROM opsmeter.overview$$),
    ('view', 'opsmeter.top_users', $$SELECT * FROM opsmeter.top_users$$),
    ('view', 'opsmeter.top_tenants', $$SELECT * FROM opsmeter.top_tenants$$),
    ('view', 'opsmeter.top_endpoints', $$SELECT * FROM opsmeter.top_endpoints$$),
    ('view', 'opsmeter.top_models', $$SELECT * FROM opsmeter.top_models$$),
    ('view', 'opsmeter.prompt_versions', $$SELECT * FROM opsmeter.prompt_versions$$),
    ('view', 'opsmeter.daily_users', $$SELECT * FROM opsmeter.daily_users$$),
    ('view', 'opsmeter.daily_tenants', $$SELECT * FROM opsmeter.daily_tenants$$),
    ('view', 'opsmeter.daily_endpoints', $$SELECT * FROM opsmeter.daily_endpoints$$),
    ('view', 'opsmeter.daily_prompt_versions', $$SELECT * FROM opsmeter.daily_prompt_versions$$),
    ('view', 'opsmeter.daily_models', $$SELECT * FROM opsmeter.daily_models$$),
    ('view', 'opsmeter.budget_signals', $$SELECT * FROM opsmeter.budget_signals$$),
    ('view', 'opsmeter.unpriced_models', $$SELECT * FROM opsmeter.unpriced_models$$),
    ('view', 'opsmeter.export', $$SELECT * FROM opsmeter.export$$);
-- The helpers the README names for everyone.
INSERT INTO matrix_actions (kind, action, stmt) VALUES
    ('read', 'opsmeter.active_workspace()', $$SELECT opsmeter.active_workspace()$$),
    ('table', 'opsmeter.effective_retention()',
     format('SELECT * FROM opsmeter.effective_retention() WHERE workspace_id = %s', :matrix_ws_id));
INSERT INTO matrix_actions (kind, action, stmt)
SELECT 'table', 'opsmeter.' || t, format('SELECT * FROM opsmeter.%I WHERE workspace_id = %s', t, :matrix_ws_id)
  FROM unnest(ARRAY['events', 'request_keys', 'summaries', 'summary_quarters', 'rollup_days', 'summary_adjustments',
                    'late_arrivals', 'workspaces', 'workspace_members', 'workspace_invitations', 'cleanup_audit']) t;
INSERT INTO matrix_actions (kind, action, stmt) VALUES
    ('read', 'opsmeter.workspace_audit', $$SELECT * FROM opsmeter.workspace_audit$$);
INSERT INTO matrix_actions (kind, action, stmt) VALUES
    ('table', 'opsmeter.my_invitations', $$SELECT * FROM opsmeter.my_invitations WHERE workspace = 'matrix_ws'$$);
INSERT INTO matrix_actions (kind, action, stmt) VALUES
    -- Counter shards depend on the backend: count the UTC days instead.
    ('table', 'opsmeter.spend_counters',
     format('SELECT DISTINCT workspace_id, day FROM opsmeter.spend_counters WHERE workspace_id = %s', :matrix_ws_id)),
    -- No workspace column: the runs since this test's pass ...
    ('table', 'opsmeter.retention_runs', format('SELECT * FROM opsmeter.retention_runs WHERE run_id >= %s', :matrix_run_id)),
    -- ... the worker's status (one row of counts, no tenant's row) ...
    ('table', 'opsmeter.worker_status', $$SELECT * FROM opsmeter.worker_status$$),
    -- ... and the global catalog and watermark, readable by all.
    ('table', 'opsmeter.prices', $$SELECT * FROM opsmeter.prices WHERE provider = 'matrix'$$),
    ('table', 'opsmeter.rollup_state', $$SELECT * FROM opsmeter.rollup_state$$);

-- Runs one action as one actor in a subtransaction that is always rolled
-- back: 'allow' (and the rows it returned) or the SQLSTATE it failed with.
CREATE FUNCTION pg_temp.try_as(actor name, stmt text, OUT outcome text, OUT nrows bigint)
LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE format('SET ROLE %I', actor);
        EXECUTE stmt;
        GET DIAGNOSTICS nrows = ROW_COUNT;
        RAISE EXCEPTION 'roll back' USING ERRCODE = 'ZZ999';
    EXCEPTION
        WHEN SQLSTATE 'ZZ999' THEN
            outcome := 'allow';
        WHEN OTHERS THEN
            outcome := SQLSTATE;
            nrows := NULL;
    END;
END
$$;

CREATE TEMP TABLE matrix_results AS
SELECT a.pos AS apos, a.kind, a.action, x.pos AS xpos, x.actor, t.outcome, t.nrows
  FROM matrix_actions a CROSS JOIN matrix_actors x CROSS JOIN LATERAL pg_temp.try_as(x.rolname, a.stmt) t;
-- Every action ran as every actor, and nothing ran as anyone else afterwards.
SELECT count(*) AS cells, count(DISTINCT action) AS actions, count(DISTINCT actor) AS actors,
       current_user = session_user AS role_restored
  FROM matrix_results;

-- allow, or the SQLSTATE of the refusal.
SELECT r.action,
       max(r.outcome) FILTER (WHERE r.actor = 'owner') AS owner,
       max(r.outcome) FILTER (WHERE r.actor = 'admin') AS admin,
       max(r.outcome) FILTER (WHERE r.actor = 'member') AS member,
       max(r.outcome) FILTER (WHERE r.actor = 'viewer') AS viewer,
       max(r.outcome) FILTER (WHERE r.actor = 'other_ws') AS other_ws,
       max(r.outcome) FILTER (WHERE r.actor = 'nobody') AS nobody,
       max(r.outcome) FILTER (WHERE r.actor = 'opsmeter_admin') AS opsmeter_admin,
       max(r.outcome) FILTER (WHERE r.actor = 'superuser') AS superuser
  FROM matrix_results r GROUP BY r.apos, r.action ORDER BY r.apos;

-- Rows of matrix_ws each actor saw (the SQLSTATE when refused).  Non-members
-- see nothing of matrix_ws, not even through the internal tables.
SELECT r.action,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'owner') AS owner,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'admin') AS admin,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'member') AS member,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'viewer') AS viewer,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'other_ws') AS other_ws,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'nobody') AS nobody,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'opsmeter_admin') AS opsmeter_admin,
       max(coalesce(r.nrows::text, r.outcome)) FILTER (WHERE r.actor = 'superuser') AS superuser
  FROM matrix_results r WHERE r.kind <> 'write' GROUP BY r.apos, r.action ORDER BY r.apos;

-- The same, as the README states it: who is allowed each action; everyone
-- else gets 42501, but the last owner leaving gets 55000.  Any difference
-- is listed here (none expected).
CREATE TEMP TABLE matrix_expected (action text, allowed text[], refused jsonb DEFAULT '{}');
INSERT INTO matrix_expected (action, allowed)
SELECT a.action,
       CASE WHEN a.action IN ('opsmeter_create_workspace', 'opsmeter_run_retention', 'opsmeter.workspace_audit')
                 THEN '{opsmeter_admin,superuser}'
            WHEN a.action IN ('opsmeter_rename_workspace', 'opsmeter_drop_workspace') THEN '{owner,opsmeter_admin,superuser}'
            WHEN a.action = 'opsmeter_verify' THEN '{owner,admin,opsmeter_admin,superuser}'
            WHEN a.action IN ('opsmeter_accept_invitation', 'opsmeter_decline_invitation') THEN '{nobody}'
            WHEN a.action = 'opsmeter_leave_workspace' THEN '{admin,member,viewer}'
            WHEN a.action = 'opsmeter_load_prices' THEN '{superuser}'
            WHEN a.action IN ('opsmeter_add_member', 'opsmeter_set_member_role', 'opsmeter_remove_member',
                              'opsmeter_set_retention', 'opsmeter_set_budget', 'opsmeter_reprice',
                              'opsmeter_clear_demo_data(workspace)', 'opsmeter_clear_test_data(workspace)')
                 THEN '{owner,admin,superuser}'
            WHEN a.action IN ('opsmeter_ingest', 'opsmeter_ingest_ndjson', 'opsmeter_ingest_demo', 'opsmeter_ingest_otlp')
                 THEN '{owner,admin,member,superuser}'
            WHEN a.action IN ('opsmeter.retention_runs', 'opsmeter.worker_status') THEN '{opsmeter_admin,superuser}'
            WHEN a.kind = 'table' THEN '{owner,admin,member,viewer,other_ws,nobody,opsmeter_admin,superuser}'
            ELSE '{owner,admin,member,viewer,superuser}' END::text[]
  FROM matrix_actions a;
UPDATE matrix_expected SET refused = '{"owner": "55000"}' WHERE action = 'opsmeter_leave_workspace';
SELECT r.action, r.actor, r.outcome,
       CASE WHEN r.actor = ANY (e.allowed) THEN 'allow' ELSE coalesce(e.refused ->> r.actor, '42501') END AS expected
  FROM matrix_results r JOIN matrix_expected e USING (action)
 WHERE r.outcome IS DISTINCT FROM
       CASE WHEN r.actor = ANY (e.allowed) THEN 'allow' ELSE coalesce(e.refused ->> r.actor, '42501') END
 ORDER BY r.apos, r.xpos;

-- Members see matrix_ws's rows; non-members never see one (nobody sees
-- only its own invitation, counted apart).
SELECT r.actor,
       count(*) FILTER (WHERE r.kind IN ('read', 'view') AND r.nrows > 0) AS reads_with_rows,
       count(*) FILTER (WHERE r.kind IN ('read', 'view') AND r.outcome = '42501') AS reads_refused,
       sum(r.nrows) FILTER (WHERE r.kind = 'table'
                              AND r.action NOT IN ('opsmeter.retention_runs', 'opsmeter.worker_status', 'opsmeter.prices', 'opsmeter.rollup_state',
                                                   'opsmeter.workspace_invitations', 'opsmeter.my_invitations'))
           AS table_rows_of_matrix_ws,
       sum(r.nrows) FILTER (WHERE r.action IN ('opsmeter.workspace_invitations', 'opsmeter.my_invitations'))
           AS invitation_rows
  FROM matrix_results r GROUP BY r.xpos, r.actor ORDER BY r.xpos;

------------------------------------------------------------------------------
-- Nothing that reads server files, runs passes or writes as the extension
-- owner is executable by PUBLIC.
------------------------------------------------------------------------------
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute,
       has_function_privilege('opsmeter_admin', p.oid, 'EXECUTE') AS opsmeter_admin_can_execute,
       has_function_privilege('pg_read_server_files', p.oid, 'EXECUTE') AS pg_read_server_files_can_execute
  FROM pg_proc p
 WHERE p.oid IN ('opsmeter_load_prices(text, timestamptz)'::regprocedure, 'opsmeter_run_retention()'::regprocedure)
 ORDER BY 1::text;
-- Internal opsmeter._* functions PUBLIC may execute: only the price trigger,
-- which cannot be called except as a trigger.
SELECT p.oid::regprocedure AS public_executable_internal_function, p.prorettype::regtype AS returns
  FROM pg_proc p
 WHERE p.pronamespace = 'opsmeter'::regnamespace AND p.proname LIKE '\_%'
   AND has_function_privilege('public', p.oid, 'EXECUTE')
 ORDER BY 1::text;
SELECT count(*) AS internal_functions_closed_to_public
  FROM pg_proc p
 WHERE p.pronamespace = 'opsmeter'::regnamespace AND p.proname LIKE '\_%'
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE');
-- Calling one directly, with a forged caller, is refused.
SET ROLE matrix_nobody;
SELECT opsmeter._opsmeter_create_workspace_impl('matrix_opsadmin', 'forged', 'matrix_nobody');
SELECT opsmeter._opsmeter_add_member_impl('matrix_owner', 'matrix_ws', 'matrix_nobody', 'owner');
SELECT opsmeter._clear_rows('matrix_owner', 'demo', 'workspace');
SELECT opsmeter._rollup();
SELECT opsmeter._prices_changed();
RESET ROLE;

RESET opsmeter.workspace;
