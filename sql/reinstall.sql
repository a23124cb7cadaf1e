-- reinstall: DROP and CREATE EXTENSION in one session, inside one
-- transaction.  A backend memorizes what it looks up by name (the schema,
-- the enum types and their labels, the relations: src/README.md,
-- "Memorized names") and keeps per-table caches (resolutions, key
-- generations, prices); after the objects are created again under new
-- OIDs, the next call must use the new ones.  With stale enum OIDs the
-- rows would be written with labels of types that no longer exist, and
-- reading them back would fail.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('reinstall_ws') > 0 AS created;
SET opsmeter.workspace = 'reinstall_ws';

-- Every per-backend answer is filled by this call.
SELECT opsmeter_ingest('{"externalRequestId": "before", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1000, "outputTokens": 100, "environment": "staging",
                         "dataMode": "test"}')->>'costUsd' AS cost;

BEGIN;
SELECT t.oid AS old_environment_type FROM pg_type t
 WHERE t.typname = 'environment' AND t.typnamespace = 'opsmeter'::regnamespace \gset
SET LOCAL client_min_messages = warning;
DROP EXTENSION opsmeter CASCADE;
CREATE EXTENSION opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('reinstall_ws') > 0 AS created;
SELECT opsmeter_ingest('{"externalRequestId": "after", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1000, "outputTokens": 100, "environment": "staging",
                         "dataMode": "test"}')->>'costUsd' AS cost;
-- The row's labels are those of the new types (a stale OID fails here).
SELECT external_request_id, data_mode, environment, pricing, cost_usd FROM opsmeter.events;
SELECT e.environment::text = 'staging' AND pg_typeof(e.environment)::oid <> :old_environment_type
       AS new_type_and_label
  FROM opsmeter.events e;
-- The same id again is a duplicate in the new key tables.
SELECT opsmeter_ingest('{"externalRequestId": "after", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}')->>'duplicate' AS duplicate;
ROLLBACK;

-- The rollback brings the first installation back, and the session goes on
-- with it: its names are looked up again after the rollback.
SELECT opsmeter_ingest('{"externalRequestId": "after rollback", "provider": "openai",
                         "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 100,
                         "environment": "dev", "dataMode": "demo"}')->>'costUsd' AS cost;
SELECT external_request_id, data_mode, environment, pricing FROM opsmeter.events e
  JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'reinstall_ws' ORDER BY external_request_id;

-- A relation rebuilt under its own name while the schema stays (as an
-- extension update may do): relation OIDs are memorized too, under their
-- own epoch, and the next call must use the new one.  With a stale OID the
-- budget's counter lookup would open the dropped index and fail.
SELECT opsmeter_set_budget('daily', 1000) IS NOT NULL AS budget_set;
SELECT opsmeter_ingest('{"externalRequestId": "counted-1", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1000, "outputTokens": 100}')->>'costUsd' AS cost;
BEGIN;
ALTER TABLE opsmeter.spend_counters DROP CONSTRAINT spend_counters_pkey;
ALTER TABLE opsmeter.spend_counters ADD CONSTRAINT spend_counters_pkey PRIMARY KEY (workspace_id, day, shard);
SELECT opsmeter_ingest('{"externalRequestId": "counted-2", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1000, "outputTokens": 100}')->>'costUsd' AS cost;
SELECT sum(c.spend_usd) AS counted_spend FROM opsmeter.spend_counters c
  JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'reinstall_ws';
ROLLBACK;
