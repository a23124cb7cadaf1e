-- hostile_limits: what an allowed call of one tenant may cost everyone else.
-- A workspace owner (an admin of the service's customer, careless or
-- hostile) tries the calls below; each is bounded by a setting only a
-- superuser controls, and refused with 22023 / 42501 naming the bound.
--   1. Bounded shared resources: raw retention, and so the number of daily
--      partitions of the shared events table, has a superuser ceiling
--      (opsmeter.max_raw_retention); ingest accepts nothing older.
--   2. Money has a bounded scale: a caller's costUsd carries at most 12
--      decimal places, so no tenant widens every sum of its workspace.
--   3. The shared price catalog: reading server files (pg_read_server_files)
--      is not enough to rewrite every tenant's prices; opsmeter_admin is
--      needed as well.
-- Relies on setup: regress.write_server_file().
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['limits_owner', 'limits_filer', 'limits_pricer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
END $$;
GRANT pg_read_server_files TO limits_filer, limits_pricer;
GRANT opsmeter_admin TO limits_pricer;
RESET client_min_messages;
SELECT opsmeter_create_workspace('limits_ws', 'limits_owner') IS NOT NULL AS created;
-- A refusal as SQLSTATE and hint: the messages of these name instants that
-- change from run to run.
CREATE FUNCTION pg_temp.refusal(call text, OUT code text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE call;
    code := 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
END $$;

------------------------------------------------------------------------------
-- 1. Bounded shared resources
------------------------------------------------------------------------------
-- The ceiling (default 400 days); a workspace may not ask for more.
SHOW opsmeter.max_raw_retention;
SET ROLE limits_owner;
SET opsmeter.workspace = 'limits_ws';
SELECT opsmeter_set_retention('100 years', '100 years');
SELECT opsmeter_set_retention('401 days', '2 years');
SELECT opsmeter_set_retention('400 days', '2 years');
RESET ROLE;
SELECT name, raw_retention, summary_retention FROM opsmeter.workspaces WHERE name = 'limits_ws';

-- Events dated on thousands of past days would each create a partition of
-- the shared table: refused before anything is created.
CREATE TEMP TABLE limits_partitions AS
    SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'opsmeter.events'::regclass;
SET ROLE limits_owner;
SELECT * FROM pg_temp.refusal(format('SELECT opsmeter_ingest(%L)', (
    SELECT jsonb_agg(jsonb_build_object(
               'externalRequestId', 'old-' || d, 'provider', 'openai', 'model', 'gpt-4o',
               'inputTokens', 1, 'outputTokens', 1,
               'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(days => d), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
      FROM generate_series(401, 5000, 100) d)));
SELECT * FROM pg_temp.refusal($$SELECT opsmeter_ingest_ndjson('{"externalRequestId": "old-nd", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "timestamp": "2014-01-01T00:00:00Z"}')$$);
-- Inside the ceiling it is stored as usual.
SELECT opsmeter_ingest(jsonb_build_object(
           'externalRequestId', 'within', 'provider', 'openai', 'model', 'gpt-4o',
           'inputTokens', 1, 'outputTokens', 1,
           'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '399 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) ->> 'ok' AS within_ceiling_ok;
RESET ROLE;
SELECT (SELECT count(*) FROM pg_inherits WHERE inhparent = 'opsmeter.events'::regclass) - n AS partitions_added
  FROM limits_partitions;

-- A setting stored before the ceiling was lowered (here written directly,
-- as a superuser could have) is capped, not trusted: by the retention pass
-- and by ingest alike.
UPDATE opsmeter.workspaces SET raw_retention = '100 years', summary_retention = '100 years' WHERE name = 'limits_ws';
SELECT justify_hours(r.raw) AS raw, r.summary
  FROM opsmeter.effective_retention() r JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'limits_ws';
SET ROLE limits_owner;
SELECT * FROM pg_temp.refusal($$SELECT opsmeter_ingest('{"externalRequestId": "old-capped", "provider": "openai",
    "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "timestamp": "2014-01-01T00:00:00Z"}')$$);
RESET ROLE;
-- The default raw retention is capped the same way.
SELECT opsmeter.guc_raw_retention() <= opsmeter.guc_max_raw_retention() AS default_within_ceiling;

------------------------------------------------------------------------------
-- 2. Money has a bounded scale
------------------------------------------------------------------------------
SET ROLE limits_owner;
SELECT opsmeter_ingest('{"externalRequestId": "tiny", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1, "costUsd": 1e-16383}');
SELECT opsmeter_ingest('{"externalRequestId": "tiny-13", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1, "costUsd": 0.0000000000001}');
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "tiny-nd", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "costUsd": 1.00000000000001}');
-- Twelve decimals are kept exactly; trailing zeros do not count and are not kept.
SELECT opsmeter_ingest('{"externalRequestId": "pico", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1, "costUsd": 0.000000000001}') ->> 'costUsd' AS pico;
SELECT opsmeter_ingest('{"externalRequestId": "zeros", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1, "costUsd": 0.50000000000000000000000000}') ->> 'costUsd' AS zeros;
RESET ROLE;
SELECT e.external_request_id, e.cost_usd, scale(e.cost_usd) FROM opsmeter.events e
  JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'limits_ws' AND e.external_request_id IN ('pico', 'zeros', 'tiny', 'tiny-13', 'tiny-nd') ORDER BY 1;
SELECT max(scale(cost_usd)) <= 12 AS every_sum_bounded FROM opsmeter.events e
  JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'limits_ws' AND e.pricing = 'caller';

------------------------------------------------------------------------------
-- 3. The shared price catalog
------------------------------------------------------------------------------
SELECT regress.write_server_file('/tmp/opsmeter_regress_limits_prices.json',
    '{"format": "opsmeter-prices", "version": 1, "prices": [{"provider": "limitsco", "model": "limits-1", "effective_from": "2025-01-01T00:00:00Z", "input": 99, "output": 99}]}');
-- Reading server files alone: refused, and the catalog is untouched.
SET ROLE limits_filer;
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_limits_prices.json');
RESET ROLE;
SELECT count(*) AS limitsco_prices FROM opsmeter.prices WHERE provider = 'limitsco';
-- opsmeter_admin without pg_read_server_files cannot read the file either.
REVOKE pg_read_server_files FROM limits_pricer;
SET ROLE limits_pricer;
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_limits_prices.json');
RESET ROLE;
-- Both rights: loaded.
GRANT pg_read_server_files TO limits_pricer;
SET ROLE limits_pricer;
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_limits_prices.json') - 'path' AS loaded;
RESET ROLE;
SELECT provider, model, input_usd_per_mtok, output_usd_per_mtok FROM opsmeter.prices WHERE provider = 'limitsco';
DELETE FROM opsmeter.prices WHERE provider = 'limitsco';
