-- operations: what a DBA watches (issue #16).
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS opsmeter;
SELECT opsmeter_create_workspace('ops_ws') > 0 AS created;
CREATE ROLE ops_dba LOGIN NOSUPERUSER IN ROLE opsmeter_admin;
SET opsmeter.workspace = 'ops_ws';
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'ops-' || i, 'provider', 'openai',
         'model', 'gpt-4o-mini', 'inputTokens', 10, 'outputTokens', 1)))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 5) i;
RESET opsmeter.workspace;

-- A member of opsmeter_admin who is no superuser reads no tenant's row
-- (row-level security) ...
SET ROLE ops_dba;
SELECT count(*) AS events_visible FROM opsmeter.events;
-- ... but sees the worker's lag in opsmeter.worker_status.
SELECT pending_rows >= 5 AS pending_counted, oldest_pending_age >= interval '0' AS pending_aged,
       partitions > 0 AS has_partitions, key_generations >= 1 AS has_key_generations
  FROM opsmeter.worker_status;
RESET ROLE;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SET ROLE ops_dba;
SELECT pending_rows, oldest_pending_at, last_pass_ok, last_pass_by, last_pass_error,
       last_ok_pass_at = last_pass_at AS last_ok_is_last, failed_passes_since_ok,
       partitions_due_for_drop, last_pass_skipped
  FROM opsmeter.worker_status;
RESET ROLE;

-- Failed passes are counted until one succeeds.
CREATE FUNCTION public.operations_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom for the test';
END
$$;
CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON opsmeter.rollup_days
    FOR EACH STATEMENT EXECUTE FUNCTION public.operations_boom();
SET opsmeter.workspace = 'ops_ws';
SELECT opsmeter_ingest('{"externalRequestId": "ops-late", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}') ->> 'duplicate' AS late_duplicate;
RESET opsmeter.workspace;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS failing_pass_ok;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS failing_pass_ok;
SET ROLE ops_dba;
SELECT last_pass_ok, last_pass_error, failed_passes_since_ok, pending_rows >= 1 AS still_pending,
       last_ok_pass_at < last_pass_at AS last_ok_is_older
  FROM opsmeter.worker_status;
-- The alerting query of README ("Running it in production"): pending rows
-- older than five worker intervals, or the last two passes failed.
SELECT coalesce(s.oldest_pending_age > 5 * coalesce(s.worker_interval, interval '1 minute'), false)
         AS lagging,
       s.failed_passes_since_ok >= 2 AS failing
  FROM opsmeter.worker_status s;
RESET ROLE;
DROP TRIGGER boom ON opsmeter.rollup_days;
DROP FUNCTION public.operations_boom();
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok_again;
SELECT failed_passes_since_ok, pending_rows FROM opsmeter.worker_status;

-- Not for tenants: PUBLIC may not read it.
SELECT has_table_privilege('public', 'opsmeter.worker_status', 'SELECT') AS public_reads_status;
DROP ROLE ops_dba;
