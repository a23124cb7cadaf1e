-- lifecycle: renaming and dropping workspaces (issue #16).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
\set VERBOSITY default
CREATE ROLE life_dba NOSUPERUSER IN ROLE opsmeter_admin;
CREATE ROLE life_owner NOSUPERUSER;
CREATE ROLE life_admin NOSUPERUSER;
CREATE ROLE life_member NOSUPERUSER;
CREATE ROLE life_outsider NOSUPERUSER;
SELECT opsmeter_create_workspace('life_doomed', 'life_owner') > 0 AS created;
SELECT opsmeter_create_workspace('life_kept', 'life_outsider') > 0 AS created;
SELECT opsmeter_add_member('life_doomed', 'life_admin', 'admin');
SELECT opsmeter_add_member('life_doomed', 'life_member', 'member');

-- Names are unique regardless of case.
SELECT opsmeter_create_workspace('LIFE_DOOMED', 'life_owner');

-- Rename: its owners and opsmeter_admin; nobody else, and a stranger cannot
-- tell a workspace of others from one that does not exist.
SET ROLE life_admin;
SELECT opsmeter_rename_workspace('life_doomed', 'life_renamed');
SET ROLE life_member;
SELECT opsmeter_rename_workspace('life_doomed', 'life_renamed');
SET ROLE life_outsider;
SELECT opsmeter_rename_workspace('life_doomed', 'life_renamed');
SELECT opsmeter_rename_workspace('life_no_such', 'life_renamed');
SET ROLE life_owner;
SELECT opsmeter_rename_workspace('life_doomed', 'Life_Kept');       -- taken, in another case
SELECT opsmeter_rename_workspace('life_doomed', '');                -- no name
SELECT opsmeter_rename_workspace('life_doomed', 'Life Doomed');     -- ok
SET ROLE life_dba;
SELECT opsmeter_rename_workspace('Life Doomed', 'life_doomed');     -- ok: opsmeter_admin
SELECT opsmeter_rename_workspace('life_no_such', 'x');              -- opsmeter_admin sees it does not exist
SELECT action, acted_by, rows_erased FROM opsmeter.workspace_audit ORDER BY audit_id;
RESET ROLE;

-- Traffic in both workspaces, rolled up (both tiers: enough rows on one
-- day for the day to be summarized and detailed), then a late event
-- pending, a test cleanup (an audit row and a pending correction), a
-- budget (spend counters) and an invitation.
SET opsmeter.workspace = 'life_doomed';
SELECT opsmeter_set_budget('daily', 100);
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'doomed-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 100, 'outputTokens', 10, 'latencyMs', 100 + i,
         'userId', 'doomed-user-' || (i % 40), 'dataMode', CASE WHEN i % 10 = 0 THEN 'test' ELSE 'real' END,
         'timestamp', to_char(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day'
                              + (i % 1000) * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 3000) i;
SET opsmeter.workspace = 'life_kept';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'kept-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 100, 'outputTokens', 10, 'userId', 'kept-user-' || (i % 40),
         'timestamp', to_char(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 day'
                              + (i % 1000) * interval '1 minute', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 500) i;
RESET opsmeter.workspace;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SET opsmeter.workspace = 'life_doomed';
SELECT opsmeter_ingest('{"externalRequestId": "doomed-late", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1, "userId": "doomed-user-late"}') ->> 'ok' AS late_ok;
SELECT opsmeter_clear_test_data('workspace') AS cleared;
SET ROLE life_owner;
SELECT opsmeter_add_member('life_doomed', 'life_outsider', 'viewer');
RESET ROLE;
RESET opsmeter.workspace;
CREATE TEMP TABLE life_ids AS SELECT name, workspace_id FROM opsmeter.workspaces WHERE name LIKE 'life%';
ANALYZE opsmeter.summaries;
SELECT opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date - 1) AS doomed_day \gset
-- (in a DO block: \gexec would echo the partition's name, which has the date in it)
DO $$ BEGIN
    EXECUTE format('ANALYZE opsmeter.%I', opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date - 1));
END $$;

-- Every table that holds the workspace, before: each has rows of it.
CREATE TEMP VIEW life_traces AS
SELECT i.name,
       (SELECT count(*) FROM opsmeter.workspaces t WHERE t.workspace_id = i.workspace_id) AS workspaces,
       (SELECT count(*) FROM opsmeter.workspace_members t WHERE t.workspace_id = i.workspace_id) AS members,
       (SELECT count(*) FROM opsmeter.workspace_invitations t WHERE t.workspace_id = i.workspace_id) AS invitations,
       (SELECT count(*) FROM opsmeter.events t WHERE t.workspace_id = i.workspace_id) AS events,
       (SELECT count(*) FROM opsmeter.request_keys t WHERE t.workspace_id = i.workspace_id) AS keys,
       (SELECT count(*) FROM opsmeter.summary_quarters t WHERE t.workspace_id = i.workspace_id) AS quarters,
       (SELECT count(*) FROM opsmeter.summaries t WHERE t.workspace_id = i.workspace_id) AS details,
       (SELECT count(*) FROM opsmeter.rollup_days t WHERE t.workspace_id = i.workspace_id) AS days,
       (SELECT count(*) FROM opsmeter.summary_adjustments t WHERE t.workspace_id = i.workspace_id) AS adjustments,
       (SELECT count(*) FROM opsmeter.spend_counters t WHERE t.workspace_id = i.workspace_id) AS counters,
       (SELECT count(*) FROM opsmeter.cleanup_audit t WHERE t.workspace_id = i.workspace_id) AS cleanups
  FROM life_ids i ORDER BY i.name;
SELECT * FROM life_traces;
-- the planner's statistics sample its id (tenants' values collect none)
CREATE TEMP VIEW doomed_stats AS
SELECT s.tablename = :'doomed_day' AS day_partition,
       s.most_common_vals::text::bigint[] @> ARRAY[i.workspace_id] AS doomed_id_in_stats
  FROM pg_stats s, life_ids i
 WHERE s.schemaname = 'opsmeter' AND s.tablename IN (:'doomed_day', 'summaries') AND s.attname = 'workspace_id'
   AND i.name = 'life_doomed'
 ORDER BY 1;
SELECT * FROM doomed_stats;
SET opsmeter.workspace = 'life_kept';
CREATE TEMP TABLE kept_before AS SELECT * FROM opsmeter_overview('30 days', 'real', 'all');
RESET opsmeter.workspace;

-- Drop: its admin and members may not; its owner may.
SET ROLE life_admin;
SELECT opsmeter_drop_workspace('life_doomed');
SET ROLE life_outsider;
SELECT opsmeter_drop_workspace('life_doomed');
SELECT opsmeter_drop_workspace(NULL);
SET ROLE life_owner;
SELECT opsmeter_drop_workspace('life_doomed') -> 'rowsErased' AS erased;
RESET ROLE;

-- After: nothing of it anywhere; the other workspace as it was.
SELECT * FROM life_traces;
SELECT * FROM doomed_stats;
SET opsmeter.workspace = 'life_kept';
SELECT count(*) AS kept_rows_changed
  FROM ((SELECT * FROM opsmeter_overview('30 days', 'real', 'all') EXCEPT ALL SELECT * FROM kept_before)
        UNION ALL (SELECT * FROM kept_before EXCEPT ALL SELECT * FROM opsmeter_overview('30 days', 'real', 'all'))) d;
-- The audit names neither the workspace nor any of its data.
SET ROLE life_dba;
SELECT a.action, a.acted_by, a.rows_erased::text LIKE '%doomed%' AS names_data
  FROM opsmeter.workspace_audit a ORDER BY a.audit_id;
RESET ROLE;
-- Its callers get a clear error, and a pass runs on.
SET opsmeter.workspace = 'life_doomed';
SELECT opsmeter_ingest('{"externalRequestId": "doomed-after", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}');
RESET opsmeter.workspace;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
-- The name is free again, for a new workspace with a new id.
SELECT opsmeter_create_workspace('life_doomed') > (SELECT workspace_id FROM life_ids WHERE name = 'life_doomed') AS new_id;
-- The audit is for opsmeter_admin only.
SET ROLE life_owner;
SELECT count(*) FROM opsmeter.workspace_audit;
RESET ROLE;

SELECT opsmeter_drop_workspace('life_doomed') ->> 'ok' AS dropped;
SELECT opsmeter_drop_workspace('life_kept') ->> 'ok' AS dropped;
DROP ROLE life_dba, life_owner, life_admin, life_member, life_outsider;
