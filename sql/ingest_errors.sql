--
-- ingest_errors — everything a caller can get wrong with opsmeter_ingest(jsonb),
-- and what opsmeter accepts with a warning instead of an error (SPEC §4).
--
-- Rules of the story:
--   * Every invalid payload raises an ERROR whose message names the field and,
--     in a batch, the element index (0-based); a HINT says what is allowed.
--   * The SQLSTATE is printed after each failing call:
--       22023 invalid_parameter_value   (bad field values)
--       22P02 invalid_text_representation (the JSON itself is broken)
--       54000 program_limit_exceeded    (batch too large)
--       25006 read_only_sql_transaction (ingest in a READ ONLY transaction)
--   * Nothing of a failing call is written: a batch is all-or-nothing.
--
-- Relies on setup: regress.try_set().
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('errors_ws') IS NOT NULL AS created;
-- The superuser may be a member of several workspaces: name the one to use.
SET opsmeter.workspace = 'errors_ws';
SET TimeZone = 'UTC';
\set VERBOSITY default

-- A valid event; most cases below change one field of it with jsonb || or -.
\set ev '{"externalRequestId": "err-0", "provider": "openai", "model": "gpt-4o", "inputTokens": 100, "outputTokens": 20}'

------------------------------------------------------------------------------
-- 1. The shape of the payload
------------------------------------------------------------------------------
-- A scalar is neither an event nor a batch.
SELECT opsmeter_ingest('42');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest('"event"');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A batch holds objects only; the message gives the element's index.
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb, 42));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(jsonb_build_array(jsonb_build_array(:'ev'::jsonb)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Broken JSON never reaches opsmeter: PostgreSQL's jsonb input refuses it.
SELECT opsmeter_ingest('{"externalRequestId": "err-x",');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- An empty batch is not an error: nothing to do.
SELECT opsmeter_ingest('[]') ->> 'accepted' AS accepted;

------------------------------------------------------------------------------
-- 2. Required fields: externalRequestId, provider, model, inputTokens, outputTokens
------------------------------------------------------------------------------
-- Alone, a missing field is named without a location ...
SELECT opsmeter_ingest(:'ev'::jsonb - 'externalRequestId');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... and in a batch with the index of the element (counted from 0).
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb, :'ev'::jsonb - 'provider'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb, :'ev'::jsonb, :'ev'::jsonb - 'model'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb - 'inputTokens'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb, :'ev'::jsonb - 'outputTokens'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- null means absent, so a required field sent as null is missing.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"model": null}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 3. Wrong JSON types
------------------------------------------------------------------------------
-- Every error carries a HINT with the form the field expects.
-- A string where a number belongs (a common client bug: numbers as text).
SELECT opsmeter_ingest(:'ev'::jsonb || '{"inputTokens": "100"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"outputTokens": true}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A number where a string belongs.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": 12345}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- An object where a string belongs.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"provider": {"name": "openai"}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- metadata must be an object: not an array, not a string.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"metadata": ["a", "b"]}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"metadata": "{\"a\": 1}"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- An enum field given a non-string still lists the allowed values.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"status": 500}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- timestamp is an ISO-8601 string, not epoch milliseconds.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": 1767225600000}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 4. String lengths (counted in characters, not bytes)
------------------------------------------------------------------------------
SELECT opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": ""}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('externalRequestId', repeat('r', 129)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('provider', repeat('p', 101)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('model', repeat('m', 201)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('promptVersion', repeat('v', 129)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('userId', repeat('u', 257)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- At the limit is fine, and a limit counts characters: 100 x 'é' is 200 bytes.
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object(
           'externalRequestId', repeat('r', 128), 'provider', repeat('é', 100),
           'model', repeat('m', 200), 'promptVersion', repeat('v', 128),
           'userId', repeat('u', 256))) ->> 'ok' AS ok;

------------------------------------------------------------------------------
-- 5. Integers: tokens are 0 .. 10^15, latencyMs 0 .. 2147483647
------------------------------------------------------------------------------
SELECT opsmeter_ingest(:'ev'::jsonb || '{"inputTokens": -1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"outputTokens": 1.5}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"inputTokens": 1e20}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Out-of-range values are quoted exactly as sent.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"inputTokens": 99999999999999999999}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"inputTokens": 1000000000000001}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A number with an integral value is an integer, whatever its notation.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": "err-int", "inputTokens": 1000000000000000, "outputTokens": 2.0e1}') ->> 'ok' AS ok;
SELECT input_tokens, output_tokens, total_tokens FROM opsmeter.events WHERE external_request_id = 'err-int';
SELECT opsmeter_ingest(:'ev'::jsonb || '{"latencyMs": 2147483648}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 6. Enumerated values: the HINT lists what is allowed
------------------------------------------------------------------------------
SELECT opsmeter_ingest(:'ev'::jsonb || '{"dataMode": "production"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"environment": "prd"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"status": "failed"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Values are case-sensitive.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"dataMode": "Real"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 7. Rules across fields
------------------------------------------------------------------------------
SELECT opsmeter_ingest(:'ev'::jsonb || '{"cachedInputTokens": 101}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"reasoningTokens": 21}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 8. costUsd: a JSON number of US dollars, 0 .. 1000000000
------------------------------------------------------------------------------
-- The message quotes the value, like the token errors.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"costUsd": -0.01}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"costUsd": "0.0042"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"costUsd": 1000000000.01}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 9. timestamp: ISO-8601 with a zone, at most 5 minutes ahead, within raw retention
------------------------------------------------------------------------------
-- Without a zone the instant would depend on the server's TimeZone: refused.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": "2026-01-15T10:00:00"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": "yesterday"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": "15/01/2026 10:00 +01:00"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A day that does not exist.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": "2026-02-30T10:00:00Z"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Far in the future (a client clock gone wrong).
SELECT opsmeter_ingest(:'ev'::jsonb || '{"timestamp": "2999-01-01T00:00:00Z"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- The next errors quote timestamps that depend on when the test runs.  This
-- helper makes the call and shows the error with those timestamps replaced
-- by what they stand for: the timestamp sent, and now() - raw retention
-- (opsmeter.raw_retention defaults to 30 days = 720 hours).
CREATE FUNCTION pg_temp.iso(t timestamptz) RETURNS text LANGUAGE sql AS
$$ SELECT regexp_replace(to_char(t, 'YYYY-MM-DD HH24:MI:SS.US'), '\.?0+$', '') || to_char(t, 'OF') $$;
CREATE FUNCTION pg_temp.ingest_error(payload jsonb, OUT code text, OUT message text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM opsmeter_ingest(payload);
    RAISE EXCEPTION 'no error';
EXCEPTION WHEN others THEN
    GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    message := replace(message, pg_temp.iso((payload ->> 'timestamp')::timestamptz), '<timestamp sent>');
    message := replace(message, pg_temp.iso(now() - interval '720 hours'), '<now() - 30 days>');
END $$;
\x on
-- 10 minutes ahead: refused.
SELECT * FROM pg_temp.ingest_error(:'ev'::jsonb || jsonb_build_object('timestamp', now() + interval '10 minutes'));
-- 31 days ago: older than the raw retention, refused.
-- The message shows the timestamp sent and the oldest one accepted (now() - 30 days).
SELECT * FROM pg_temp.ingest_error(:'ev'::jsonb || jsonb_build_object('timestamp', now() - interval '31 days'));
\x off
-- Within the window is fine: 4 minutes ahead, 29 days ago, any zone offset.
SELECT opsmeter_ingest(jsonb_build_array(
           :'ev'::jsonb || jsonb_build_object('externalRequestId', 'err-ts-1', 'timestamp', now() + interval '4 minutes'),
           :'ev'::jsonb || jsonb_build_object('externalRequestId', 'err-ts-2', 'timestamp', now() - interval '29 days'),
           :'ev'::jsonb || jsonb_build_object('externalRequestId', 'err-ts-3', 'timestamp',
                                              to_char(now() AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD"T"HH24:MI:SS.US"+05:30"'))))
       ->> 'accepted' AS accepted;
SELECT external_request_id, ts - ingested_at AS event_time_minus_ingest_time
FROM opsmeter.events WHERE external_request_id LIKE 'err-ts-%' ORDER BY 1;

------------------------------------------------------------------------------
-- 10. metadata: an object of at most 8 KB
------------------------------------------------------------------------------
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('metadata', jsonb_build_object('prompt', repeat('x', 9000))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 11. Batch size: opsmeter.max_batch_events (superuser setting, default 10000)
------------------------------------------------------------------------------
SET opsmeter.max_batch_events = 2;
SELECT opsmeter_ingest(jsonb_build_array(:'ev'::jsonb, :'ev'::jsonb, :'ev'::jsonb));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET opsmeter.max_batch_events;
SHOW opsmeter.max_batch_events;

-- Payload size: opsmeter.max_payload_bytes (superuser setting, default 64MB),
-- checked before any event is read, on both entry points.
SHOW opsmeter.max_payload_bytes;
SET opsmeter.max_payload_bytes = '2kB';
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('metadata', jsonb_build_object('note', repeat('x', 3000))));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(repeat(:'ev' || E'\n', 20));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Below its minimum of 1kB: 22023, the GUC's range error (whose wording
-- depends on the PostgreSQL version: see setup).
SELECT * FROM regress.try_set('opsmeter.max_payload_bytes', '100');
RESET opsmeter.max_payload_bytes;

------------------------------------------------------------------------------
-- 12. Ingest writes; a read-only transaction cannot
------------------------------------------------------------------------------
BEGIN READ ONLY;
SELECT opsmeter_ingest(:'ev'::jsonb);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;

------------------------------------------------------------------------------
-- 13. All-or-nothing: one bad element and nothing of the batch is written
------------------------------------------------------------------------------
CREATE TEMP VIEW errors_ws_rows AS
SELECT (SELECT count(*) FROM opsmeter.events e WHERE e.workspace_id = w.workspace_id) AS events,
       (SELECT count(*) FROM opsmeter.request_keys k WHERE k.workspace_id = w.workspace_id) AS request_keys
FROM opsmeter.workspaces w WHERE w.name = 'errors_ws';
SELECT * FROM errors_ws_rows;
-- Elements 0 and 1 are valid, element 2 has negative tokens.
SELECT opsmeter_ingest(jsonb_build_array(
           :'ev'::jsonb || '{"externalRequestId": "aon-1"}',
           :'ev'::jsonb || '{"externalRequestId": "aon-2"}',
           :'ev'::jsonb || '{"externalRequestId": "aon-3", "outputTokens": -5}'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Nothing was written: no rows, no idempotency keys.
SELECT * FROM errors_ws_rows;
SELECT count(*) AS aon_rows FROM opsmeter.events WHERE external_request_id LIKE 'aon-%';
-- So re-sending the valid elements stores them: they are not duplicates.
SELECT opsmeter_ingest(jsonb_build_array(
           :'ev'::jsonb || '{"externalRequestId": "aon-1"}',
           :'ev'::jsonb || '{"externalRequestId": "aon-2"}'))
       - 'warnings' - 'budgetWarning' - 'budgetExceeded' AS response;
SELECT * FROM errors_ws_rows;

------------------------------------------------------------------------------
-- 14. Accepted, with warnings
------------------------------------------------------------------------------
-- Unknown keys are ignored and named (unknown_field:NAME); a totalTokens that
-- is not inputTokens + outputTokens is kept as sent and warned.
SELECT jsonb_pretty(opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": "warn-1",
           "totalTokens": 999, "costUsd": 0.0042, "requestId": "abc", "tokens": 120}'));
SELECT input_tokens, output_tokens, total_tokens, cost_usd, pricing
FROM opsmeter.events WHERE external_request_id = 'warn-1';

-- In a batch, each warning carries the index of its element.
SELECT jsonb_pretty(opsmeter_ingest(jsonb_build_array(
           :'ev'::jsonb || '{"externalRequestId": "warn-2"}',
           :'ev'::jsonb || '{"externalRequestId": "warn-3", "extra": true}'))
       -> 'warnings');

-- null for an optional field means the field is absent: default or NULL.
-- Here costUsd null lets the price catalog price the event.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": "null-1", "costUsd": null,
           "promptVersion": null, "userId": null, "latencyMs": null, "dataMode": null,
           "environment": null, "status": null, "timestamp": null, "metadata": null}')
       - 'budgetWarning' - 'budgetExceeded' - 'costUsd' AS response;
-- An empty optional string also means absent.
SELECT opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": "empty-1", "promptVersion": "",
           "endpointTag": "", "userId": "", "tenantId": "", "errorCode": ""}') ->> 'ok' AS ok;
SELECT external_request_id, prompt_version, endpoint_tag, user_id, tenant_id, error_code,
       latency_ms, data_mode, environment, is_error, metadata, ts = ingested_at AS ts_defaulted
FROM opsmeter.events WHERE external_request_id IN ('null-1', 'empty-1') ORDER BY 1;

-- A model the price catalog does not know is stored unpriced, never as $0.
SELECT jsonb_pretty(opsmeter_ingest(:'ev'::jsonb || '{"externalRequestId": "unpriced-1",
           "provider": "acme", "model": "acme-large-2"}'));
SELECT provider, model, cost_usd, pricing FROM opsmeter.events WHERE external_request_id = 'unpriced-1';

-- The nesting limit covers fields opsmeter ignores: 64 levels, the event
-- object being level 1.
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('extra', format('%s1%s', repeat('[', 64), repeat(']', 64))::jsonb));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest(:'ev'::jsonb || jsonb_build_object('externalRequestId', 'deep-63', 'extra',
                                                          format('%s1%s', repeat('[', 63), repeat(']', 63))::jsonb)) ->> 'ok' AS ok;

SELECT * FROM errors_ws_rows;
