-- hostile_statistics: a role in no workspace reads another workspace's
-- values from the planner's column statistics (issue #13, item 5).
--
-- Row-level security hides rows, but the planner estimates from the
-- statistics ANALYZE collected over every workspace's rows, and it lets
-- any caller's query use them with leakproof operators (= and < on text,
-- bigint and oid are).  So `EXPLAIN SELECT * FROM opsmeter.events WHERE
-- user_id = '...'` estimates many rows for a user id that exists in
-- another workspace and one row for an id that exists nowhere: a yes/no
-- oracle on every text value, token count and role, with no row visible.
--
-- opsmeter keeps no statistics on the columns whose values tenants write
-- (target 0, on the tables and on every daily partition), so the
-- estimates for a present and an absent value are equal.  What stays
-- visible to everyone (aggregates over all workspaces, and each workspace
-- id's share of a day) is shown at the end and listed in the README
-- ("Isolation").  Estimates are compared, never printed.
--
-- Creates its own roles stats_*; runs after install and setup.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;

DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['stats_victim', 'stats_nobody'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END $$;
SELECT opsmeter_create_workspace('stats_victim_ws', 'stats_victim') > 0 AS created;

-- The estimate of the planner's top node for a query, as the current role.
CREATE SCHEMA stats_probe;
GRANT USAGE ON SCHEMA stats_probe TO PUBLIC;
CREATE FUNCTION stats_probe.estimate(query text) RETURNS double precision
LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::double precision;
END $$;
-- 'ok', or the SQLSTATE a statement fails with.
CREATE FUNCTION stats_probe.sqlstate_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END $$;

------------------------------------------------------------------------------
-- The victim's traffic: 2000 events today, one in ten carrying its secrets
-- (a user, a tenant, an endpoint, a prompt version, an error code, a
-- fine-tuned model named after its customer, an unusual token count and
-- latency); the external request ids share a prefix.  Then rolled up
-- (summaries), and test rows cleared after the rollup (their -1
-- corrections wait in summary_adjustments).
------------------------------------------------------------------------------
SET ROLE stats_victim;
SET opsmeter.workspace = 'stats_victim_ws';
SELECT opsmeter_ingest(jsonb_agg(CASE WHEN i % 10 = 0 THEN jsonb_build_object(
           'externalRequestId', 'stats-secret-' || lpad(i::text, 5, '0'),
           'provider', 'stats-secret-provider', 'model', 'ft:stats-secret-corp-model',
           'inputTokens', 4242, 'outputTokens', 4243, 'latencyMs', 4244,
           'userId', 'stats-secret-user', 'tenantId', 'stats-secret-tenant',
           'endpointTag', 'stats.secret.endpoint', 'promptVersion', 'stats_secret_v1',
           'status', 'error', 'errorCode', 'stats_secret_error', 'metadata', '{"secret": true}'::jsonb)
       ELSE jsonb_build_object(
           'externalRequestId', 'stats-secret-' || lpad(i::text, 5, '0'),
           'provider', 'openai', 'model', 'gpt-4o-mini',
           'inputTokens', i, 'outputTokens', i % 7, 'latencyMs', i % 300,
           'userId', 'stats-user-' || (i % 97), 'tenantId', 'stats-tenant-' || (i % 13))
       END)) ->> 'accepted' AS accepted
  FROM generate_series(1, 2000) i;
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
           'externalRequestId', 'stats-test-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
           'inputTokens', 1, 'outputTokens', 1, 'userId', 'stats-secret-user', 'dataMode', 'test')))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 200) i;
RESET ROLE;
SELECT opsmeter_run_retention() ->> 'ok' AS rolled_up;
SET ROLE stats_victim;
SELECT opsmeter_clear_test_data('workspace') AS test_rows_cleared;
RESET ROLE;
RESET opsmeter.workspace;

-- What autovacuum does sooner or later, on every table and partition.
ANALYZE opsmeter.events, opsmeter.request_keys, opsmeter.summaries, opsmeter.summary_quarters, opsmeter.rollup_days,
        opsmeter.summary_adjustments, opsmeter.spend_counters, opsmeter.cleanup_audit,
        opsmeter.workspaces, opsmeter.workspace_members;

------------------------------------------------------------------------------
-- The threat is real on this server: a copy of the events' user ids under
-- opsmeter's own policy, with default statistics targets.
-- stats_nobody sees no row, yet the estimate tells present from absent.
------------------------------------------------------------------------------
CREATE TABLE stats_probe.control AS SELECT workspace_id, user_id FROM opsmeter.events;
ALTER TABLE stats_probe.control ENABLE ROW LEVEL SECURITY;
CREATE POLICY control_read ON stats_probe.control FOR SELECT
    USING (workspace_id = ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON stats_probe.control TO PUBLIC;
ANALYZE stats_probe.control;
SET ROLE stats_nobody;
SELECT count(*) AS rows_visible,
       stats_probe.estimate($$SELECT * FROM stats_probe.control WHERE user_id = 'stats-secret-user'$$) <>
       stats_probe.estimate($$SELECT * FROM stats_probe.control WHERE user_id = 'stats-absent-user'$$)
           AS control_estimates_differ
  FROM stats_probe.control;
RESET ROLE;

------------------------------------------------------------------------------
-- The attack on opsmeter: each probe asks for a value present only in the
-- victim's workspace and for one present nowhere.  stats_nobody sees none
-- of the victim's rows, and the estimates are equal.
------------------------------------------------------------------------------
CREATE TABLE stats_probe.probes (what text, present text, absent text);
INSERT INTO stats_probe.probes VALUES
    ('events.user_id',
     $$SELECT * FROM opsmeter.events WHERE user_id = 'stats-secret-user'$$,
     $$SELECT * FROM opsmeter.events WHERE user_id = 'stats-absent-user'$$),
    ('events.tenant_id',
     $$SELECT * FROM opsmeter.events WHERE tenant_id = 'stats-secret-tenant'$$,
     $$SELECT * FROM opsmeter.events WHERE tenant_id = 'stats-absent-tenant'$$),
    ('events.endpoint_tag',
     $$SELECT * FROM opsmeter.events WHERE endpoint_tag = 'stats.secret.endpoint'$$,
     $$SELECT * FROM opsmeter.events WHERE endpoint_tag = 'stats.absent.endpoint'$$),
    ('events.prompt_version',
     $$SELECT * FROM opsmeter.events WHERE prompt_version = 'stats_secret_v1'$$,
     $$SELECT * FROM opsmeter.events WHERE prompt_version = 'stats_absent_v1'$$),
    ('events.error_code',
     $$SELECT * FROM opsmeter.events WHERE error_code = 'stats_secret_error'$$,
     $$SELECT * FROM opsmeter.events WHERE error_code = 'stats_absent_error'$$),
    ('events.provider',
     $$SELECT * FROM opsmeter.events WHERE provider = 'stats-secret-provider'$$,
     $$SELECT * FROM opsmeter.events WHERE provider = 'stats-absent-provider'$$),
    ('events.model',
     $$SELECT * FROM opsmeter.events WHERE model = 'ft:stats-secret-corp-model'$$,
     $$SELECT * FROM opsmeter.events WHERE model = 'ft:stats-absent-corp-model'$$),
    ('events.external_request_id (range)',
     $$SELECT * FROM opsmeter.events WHERE external_request_id BETWEEN 'stats-secret-' AND 'stats-secret-~'$$,
     $$SELECT * FROM opsmeter.events WHERE external_request_id BETWEEN 'stats-absent-' AND 'stats-absent-~'$$),
    ('events.input_tokens',
     $$SELECT * FROM opsmeter.events WHERE input_tokens = 4242$$,
     $$SELECT * FROM opsmeter.events WHERE input_tokens = 4241$$),
    ('events.latency_ms',
     $$SELECT * FROM opsmeter.events WHERE latency_ms = 4244$$,
     $$SELECT * FROM opsmeter.events WHERE latency_ms = 4245$$),
    ('events.ingested_by',
     $$SELECT * FROM opsmeter.events WHERE ingested_by = 'stats_victim'::regrole$$,
     $$SELECT * FROM opsmeter.events WHERE ingested_by = 'stats_nobody'::regrole$$),
    ('request_keys.external_request_id (range)',
     $$SELECT * FROM opsmeter.request_keys WHERE external_request_id BETWEEN 'stats-secret-' AND 'stats-secret-~'$$,
     $$SELECT * FROM opsmeter.request_keys WHERE external_request_id BETWEEN 'stats-absent-' AND 'stats-absent-~'$$),
    ('summaries.key',
     $$SELECT * FROM opsmeter.summaries WHERE key = 'stats-secret-user'$$,
     $$SELECT * FROM opsmeter.summaries WHERE key = 'stats-absent-user'$$),
    ('summaries.model',
     $$SELECT * FROM opsmeter.summaries WHERE model = 'ft:stats-secret-corp-model'$$,
     $$SELECT * FROM opsmeter.summaries WHERE model = 'ft:stats-absent-corp-model'$$),
    ('summary_quarters.model',
     $$SELECT * FROM opsmeter.summary_quarters WHERE model = 'ft:stats-secret-corp-model'$$,
     $$SELECT * FROM opsmeter.summary_quarters WHERE model = 'ft:stats-absent-corp-model'$$),
    ('summary_adjustments.user_id',
     $$SELECT * FROM opsmeter.summary_adjustments WHERE user_id = 'stats-secret-user'$$,
     $$SELECT * FROM opsmeter.summary_adjustments WHERE user_id = 'stats-absent-user'$$);
GRANT SELECT ON stats_probe.probes TO PUBLIC;

SET ROLE stats_nobody;
SELECT (SELECT count(*) FROM opsmeter.events) AS events_visible,
       (SELECT count(*) FROM opsmeter.summaries) AS summaries_visible,
       (SELECT count(*) FROM opsmeter.request_keys) AS keys_visible;
SELECT what, stats_probe.estimate(present) = stats_probe.estimate(absent) AS estimates_equal
  FROM stats_probe.probes ORDER BY what;
RESET ROLE;

------------------------------------------------------------------------------
-- Why: the columns tenants write have no statistics, on every table that
-- holds workspace data, on opsmeter.events and on every daily partition
-- (which copies the parent's targets when it is created).  Statistics are
-- kept only for the columns below: workspace ids, times, batch numbers,
-- keys and enums, which plans depend on.  A column added later is kept
-- out of this list only by a deliberate target.
------------------------------------------------------------------------------
SELECT c.relname AS rls_table,
       string_agg(a.attname, ', ' ORDER BY a.attnum) FILTER (WHERE coalesce(a.attstattarget, -1) <> 0) AS statistics_kept_for
  FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'opsmeter'::regnamespace AND c.relrowsecurity AND NOT c.relispartition
 GROUP BY c.relname ORDER BY 1;
-- Every partition (those made by install, by earlier stories on demand, and
-- by the next pass) has the parent's targets, column for column.
SELECT count(*) > 7 AS partitions,
       bool_and(NOT EXISTS (
           SELECT 1 FROM pg_attribute p JOIN pg_attribute a ON a.attrelid = i.inhrelid AND a.attname = p.attname
            WHERE p.attrelid = i.inhparent AND p.attnum > 0 AND NOT p.attisdropped
              AND coalesce(a.attstattarget, -1) IS DISTINCT FROM coalesce(p.attstattarget, -1))) AS same_targets_as_parent
  FROM pg_inherits i WHERE i.inhparent = 'opsmeter.events'::regclass;
-- After ANALYZE of everything, no statistics exist for those columns, and
-- the extension defines no extended statistics.
SELECT count(*) AS statistics_of_closed_columns
  FROM pg_statistic s
  JOIN pg_attribute a ON a.attrelid = s.starelid AND a.attnum = s.staattnum
  JOIN pg_class c ON c.oid = s.starelid
 WHERE a.attnum > 0 AND a.attstattarget = 0 AND c.relnamespace = 'opsmeter'::regnamespace;
SELECT count(*) AS extended_statistics
  FROM pg_statistic_ext e JOIN pg_class c ON c.oid = e.stxrelid
 WHERE c.relnamespace = 'opsmeter'::regnamespace;

-- pg_stats shows the statistics that remain of tenants' tables (those with
-- row-level security) only to roles that bypass RLS (PostgreSQL hides the
-- rows of a table whose RLS applies to the reader, and those of tables it
-- cannot read, such as the partitions): not to a role in no workspace, and
-- not to a member either.  (The price catalog, readable by everyone and
-- holding no tenant's data, has no RLS: once autovacuum analyzes it, its
-- statistics show to everyone, as its rows do.)
SELECT count(*) > 0 AS superuser_sees_pg_stats
  FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = 'opsmeter'::regnamespace
 WHERE s.schemaname = 'opsmeter' AND c.relrowsecurity;
SET ROLE stats_nobody;
SELECT count(*) AS nobody_sees_pg_stats
  FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = 'opsmeter'::regnamespace
 WHERE s.schemaname = 'opsmeter' AND c.relrowsecurity;
RESET ROLE;
SET ROLE stats_victim;
SELECT count(*) AS member_sees_pg_stats
  FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename AND c.relnamespace = 'opsmeter'::regnamespace
 WHERE s.schemaname = 'opsmeter' AND c.relrowsecurity;
RESET ROLE;

-- A partition cannot be EXPLAINed (or read) directly: 42501.
SET ROLE stats_nobody;
SELECT stats_probe.sqlstate_of(format('EXPLAIN SELECT * FROM opsmeter.%I WHERE user_id = %L',
           opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date), 'stats-secret-user')) AS explain_partition;
RESET ROLE;

------------------------------------------------------------------------------
-- What stays visible to everyone, by design (README, "Isolation"):
-- aggregates over all workspaces, and each workspace id's share of a day.
------------------------------------------------------------------------------
SELECT workspace_id AS victim_ws FROM opsmeter.workspaces WHERE name = 'stats_victim_ws' \gset
SET ROLE stats_nobody;
SELECT
    -- the daily partitions' names (which days exist) and sizes (rows of all workspaces together)
    (SELECT count(*) > 0 FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
      WHERE i.inhparent = 'opsmeter.events'::regclass AND c.reltuples > 0) AS partition_sizes,
    -- activity counters of every table and partition
    (SELECT count(*) > 7 FROM pg_stat_user_tables WHERE schemaname = 'opsmeter' AND relname LIKE 'events\_p%') AS activity_counters,
    -- the global batch counter, as of the last pass (the sequence itself is not readable)
    (SELECT count(*) = 1 FROM opsmeter.rollup_state) AS watermark,
    has_sequence_privilege('opsmeter.ingest_batch_seq', 'SELECT') AS batch_sequence,
    -- how many rows a workspace id has in a day, roughly: workspace_id keeps its statistics
    stats_probe.estimate(format('SELECT * FROM opsmeter.events WHERE workspace_id = %s', :victim_ws)) <>
    stats_probe.estimate('SELECT * FROM opsmeter.events WHERE workspace_id = -1') AS workspace_share;
SELECT last_value FROM opsmeter.ingest_batch_seq;
RESET ROLE;

DROP SCHEMA stats_probe CASCADE;
