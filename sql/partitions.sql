-- partitions: one raw partition per UTC day, created ahead and on demand.
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS opsmeter;
SELECT opsmeter_create_workspace('partitions_ws') > 0 AS created;
SET opsmeter.workspace = 'partitions_ws';

-- An event 20 days back lands in a partition created on demand.
SELECT to_regclass('opsmeter.' || opsmeter.partition_name(((now() - interval '25 days') AT TIME ZONE 'UTC')::date)) IS NULL AS missing_before;
SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', 'old-1', 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 10, 'outputTokens', 1,
         'timestamp', to_char((now() - interval '25 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) ->> 'ok' AS ok;
SELECT tableoid::regclass::text = 'opsmeter.' || opsmeter.partition_name(((now() - interval '25 days') AT TIME ZONE 'UTC')::date) AS in_its_day
  FROM opsmeter.events WHERE external_request_id = 'old-1';

-- A batch spanning days is split across partitions; event_day in the key
-- table names each row's partition.
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'span-' || d, 'provider', 'openai',
         'model', 'gpt-4o-mini', 'inputTokens', 10, 'outputTokens', 1,
         'timestamp', to_char((now() - make_interval(days => d)) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted' AS accepted
  FROM generate_series(0, 3) d;
SELECT count(DISTINCT e.tableoid) AS partitions_used,
       bool_and(k.event_day = (e.ts AT TIME ZONE 'UTC')::date) AS key_day_matches
  FROM opsmeter.events e JOIN opsmeter.request_keys k USING (workspace_id, external_request_id)
 WHERE e.external_request_id LIKE 'span-%';

-- Partition boundaries are UTC midnights: 23:59:59.999999 and 00:00 fall on
-- different days whatever the session TimeZone.
SET TimeZone = 'America/New_York';
SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', 'edge-' || x.n, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 1, 'outputTokens', 1, 'timestamp', x.ts)) ->> 'ok' AS ok
  FROM (VALUES (1, to_char(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 microsecond', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')),
               (2, to_char(date_trunc('day', now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'))) AS x(n, ts)
 ORDER BY x.n;
SELECT external_request_id,
       substring(tableoid::regclass::text from 'events_p(\d+)')::date
         - (now() AT TIME ZONE 'UTC')::date AS partition_day_offset
  FROM opsmeter.events WHERE external_request_id LIKE 'edge-%' ORDER BY 1;
RESET TimeZone;

-- ensure_partitions is idempotent and owner-only.
SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date, (now() AT TIME ZONE 'UTC')::date + 7) AS created_again;
SELECT has_function_privilege('public', 'opsmeter.ensure_partitions(date, date)', 'EXECUTE') AS public_may_create;

-- Dedup keys live in generations of ingest time (src/README.md, "dedup"):
-- the open one takes new keys, sealed ones are only looked up.  A retry is
-- a duplicate whatever timestamp it carries, before and after a seal.
SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', 'late-night', 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 10, 'outputTokens', 1,
         'timestamp', to_char(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
       ->> 'duplicate' AS duplicate_yesterday;
-- Replayed by a client that lets the server stamp it: now, on another day.
SELECT opsmeter_ingest('{"externalRequestId": "late-night", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 10, "outputTokens": 1}') ->> 'duplicate' AS duplicate_today;
SELECT count(*) AS generations, count(*) FILTER (WHERE sealed_at IS NULL) AS open FROM opsmeter.key_generations;
-- Test traffic, to be cleared after the seal below.
SELECT opsmeter_ingest('{"externalRequestId": "test-1", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1, "dataMode": "test"}') ->> 'duplicate' AS test_duplicate;
-- Time passes: the open generation is older than opsmeter.key_generation,
-- and the next pass seals it and opens the next.
UPDATE opsmeter.key_generations SET opened_at = now() - interval '8 days' WHERE sealed_at IS NULL;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SELECT count(*) AS generations, count(*) FILTER (WHERE sealed_at IS NULL) AS open,
       (SELECT generation FROM opsmeter.request_keys WHERE external_request_id = 'late-night')
         < max(generation) AS key_in_sealed_generation
  FROM opsmeter.key_generations;
-- Replays after the seal: stamped by the server, with yet another
-- timestamp, and inside a batch with a new key; only the new key is stored.
SELECT opsmeter_ingest('{"externalRequestId": "late-night", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 10, "outputTokens": 1}') ->> 'duplicate' AS duplicate_after_seal;
SELECT r ->> 'accepted' AS accepted, r ->> 'duplicates' AS duplicates
  FROM opsmeter_ingest(jsonb_build_array(
         jsonb_build_object('externalRequestId', 'late-night', 'provider', 'openai', 'model', 'gpt-4o-mini',
           'inputTokens', 10, 'outputTokens', 1,
           'timestamp', to_char((now() - interval '2 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')),
         jsonb_build_object('externalRequestId', 'after-seal', 'provider', 'openai', 'model', 'gpt-4o-mini',
           'inputTokens', 10, 'outputTokens', 1))) r;
SELECT count(*) AS late_night_rows FROM opsmeter.events WHERE external_request_id = 'late-night';
SELECT k.generation = (SELECT generation FROM opsmeter.key_generations WHERE sealed_at IS NULL) AS new_key_in_open_generation
  FROM opsmeter.request_keys k WHERE k.external_request_id = 'after-seal';
-- A cleanup deletes rows and their keys from a sealed generation too: the
-- id is free again, and its new key goes into the open generation.
SELECT opsmeter_clear_test_data('workspace') AS test_rows_cleared;
SELECT count(*) AS test_keys_left FROM opsmeter.request_keys WHERE external_request_id = 'test-1';
SELECT opsmeter_ingest('{"externalRequestId": "test-1", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1, "dataMode": "test"}') ->> 'duplicate' AS test_again_duplicate;
SELECT k.generation = (SELECT generation FROM opsmeter.key_generations WHERE sealed_at IS NULL) AS test_key_in_open_generation
  FROM opsmeter.request_keys k WHERE k.external_request_id = 'test-1';
-- A retry inside the transaction that stored the key is a duplicate too.
BEGIN;
SELECT opsmeter_ingest('{"externalRequestId": "same-txn", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}') ->> 'duplicate' AS first;
SELECT opsmeter_ingest('{"externalRequestId": "same-txn", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}') ->> 'duplicate' AS again;
COMMIT;
SELECT count(*) AS same_txn_rows FROM opsmeter.events WHERE external_request_id = 'same-txn';
-- Generations are the owner's: no direct reads, no way to open one.
SELECT has_table_privilege('public', 'opsmeter.' || opsmeter.key_generation_name(generation), 'SELECT') AS public_reads_generation
  FROM opsmeter.key_generations ORDER BY generation LIMIT 1;
SELECT has_function_privilege('public', 'opsmeter._open_key_generation(boolean)', 'EXECUTE') AS public_may_open;

-- Every pass deletes the records of passes older than
-- opsmeter.retention_runs_keep (7 days), so the table does not grow with
-- every minute of the worker.
INSERT INTO opsmeter.retention_runs (started_at, finished_at, triggered_by, run_by, ok, duration_ms)
VALUES (now() - interval '8 days', now() - interval '8 days', 'manual', 'postgres', true, 1),
       (now() - interval '6 days', now() - interval '6 days', 'manual', 'postgres', true, 1);
SHOW opsmeter.retention_runs_keep;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS pass_ok;
SELECT count(*) FILTER (WHERE started_at < now() - interval '7 days') AS older_than_kept,
       count(*) FILTER (WHERE started_at BETWEEN now() - interval '7 days' AND now() - interval '1 day') AS six_days_old,
       count(*) FILTER (WHERE started_at >= now() - interval '1 hour') > 0 AS recent_kept
  FROM opsmeter.retention_runs;

-- For a scheduler such as pg_cron: CALL opsmeter_run_retention_job() runs
-- the same pass; a failing pass is recorded, committed, and then raises
-- its error (with its SQLSTATE), so the scheduler records a failed run.
CALL opsmeter_run_retention_job();
SELECT triggered_by, ok FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1;
CREATE FUNCTION public.partitions_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'boom for the test' USING ERRCODE = '22012';
END
$$;
CREATE TRIGGER boom BEFORE INSERT OR UPDATE ON opsmeter.rollup_days
    FOR EACH STATEMENT EXECUTE FUNCTION public.partitions_boom();
SELECT opsmeter_ingest('{"externalRequestId": "job-1", "provider": "openai", "model": "gpt-4o-mini",
                         "inputTokens": 1, "outputTokens": 1}') ->> 'duplicate' AS job_event_duplicate;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS function_form_does_not_raise;
CALL opsmeter_run_retention_job();
\echo :LAST_ERROR_SQLSTATE
SELECT triggered_by, ok, error FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1;
-- It commits, so not inside a transaction block.
BEGIN;
CALL opsmeter_run_retention_job();
ROLLBACK;
DROP TRIGGER boom ON opsmeter.rollup_days;
DROP FUNCTION public.partitions_boom();
CALL opsmeter_run_retention_job();
SELECT ok, (SELECT count(*) FROM opsmeter.events WHERE external_request_id = 'job-1') AS job_rows
  FROM opsmeter.retention_runs ORDER BY run_id DESC LIMIT 1;
RESET opsmeter.workspace;
