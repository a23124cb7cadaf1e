--
-- ndjson — opsmeter_ingest_ndjson(body text): newline-delimited JSON events,
-- as log shippers and files produce them (SPEC §4).  Each line is parsed with
-- json-c (not through jsonb) and then checked by the same rules as
-- opsmeter_ingest(jsonb); errors name the line ("on line N", counted from 1,
-- blank lines included).  A body is one batch: all-or-nothing, batch response.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('ndjson_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'ndjson_ws';
SET TimeZone = 'UTC';
\set VERBOSITY default

-- One valid line; format() fills in the externalRequestId.
\set line '{"externalRequestId": "%s", "provider": "openai", "model": "gpt-4o", "inputTokens": 100, "outputTokens": 20}'

CREATE TEMP VIEW ndjson_ws_rows AS
SELECT (SELECT count(*) FROM opsmeter.events e WHERE e.workspace_id = w.workspace_id) AS events,
       (SELECT count(*) FROM opsmeter.request_keys k WHERE k.workspace_id = w.workspace_id) AS request_keys
FROM opsmeter.workspaces w WHERE w.name = 'ndjson_ws';

------------------------------------------------------------------------------
-- 1. A body: lines separated by LF or CRLF, blank lines skipped
------------------------------------------------------------------------------
SELECT jsonb_pretty(opsmeter_ingest_ndjson(
           format(:'line', 'nd-1') || E'\r\n' ||
           E'\r\n' ||
           E'   \n' ||
           format(:'line', 'nd-2') || E'\r\n'));
SELECT external_request_id, provider, model, input_tokens, output_tokens, pricing
FROM opsmeter.events WHERE external_request_id LIKE 'nd-%' ORDER BY 1;
-- Even one line answers with the batch shape; an empty body is an empty batch.
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-3')) ->> 'received' AS received;
SELECT opsmeter_ingest_ndjson('') - 'budgetWarning' - 'budgetExceeded' AS response;
SELECT opsmeter_ingest_ndjson(E'\n\r\n  \n') ->> 'received' AS received;

------------------------------------------------------------------------------
-- 2. The same field rules as opsmeter_ingest, located "on line N"
------------------------------------------------------------------------------
-- Line 3 (after a blank line 2) misses provider.
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-e1') || E'\n\n' ||
           '{"externalRequestId": "nd-e2", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-e1') || E'\n' ||
           '{"externalRequestId": "nd-e2", "provider": "openai", "model": "gpt-4o", "inputTokens": "12", "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(E'\r\n\r\n\r\n' ||
           '{"externalRequestId": "nd-e3", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "dataMode": "prod"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(
           '{"externalRequestId": "nd-e4", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "timestamp": "2026-01-15 10:00:00"}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(
           '{"externalRequestId": "nd-e5", "provider": "openai", "model": "gpt-4o", "inputTokens": 5, "outputTokens": 1, "cachedInputTokens": 6}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 3. Lines that are not JSON: 22P02
------------------------------------------------------------------------------
-- Truncated (a log line cut short).
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-j1') || E'\n' ||
           '{"externalRequestId": "nd-j2", "provider": "openai", "model": "gpt-4o", "inputTok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Trailing garbage after the object, or two objects on one line.
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-j3') || ' ok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-j4') || format(:'line', 'nd-j5'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A trailing comma.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-j6", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1,}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A JSON document pretty-printed over several lines is not NDJSON.
SELECT opsmeter_ingest_ndjson(E'{\n  "externalRequestId": "nd-j7"\n}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- Single-quoted strings are not JSON either.
SELECT opsmeter_ingest_ndjson($${"externalRequestId": 'nd-j8', "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}$$);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... and so are single-quoted keys (json-c would let them through; a strict
-- pre-scan refuses them, 22P02, as jsonb does).
SELECT opsmeter_ingest_ndjson($${'externalRequestId': "nd-j8", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": {'k': 1}}$$)
       ->> 'accepted' AS accepted;
SELECT external_request_id, metadata FROM opsmeter.events WHERE external_request_id = 'nd-j8';
-- NaN and Infinity are not JSON: refused as broken JSON (22P02) with the line
-- number, as a field value and inside metadata alike.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-j9", "provider": "openai", "model": "gpt-4o", "inputTokens": NaN, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-j10", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": {"score": NaN}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 4. Lines that are JSON but not an event object: 22023
------------------------------------------------------------------------------
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-k1') || E'\n' || '[' || format(:'line', 'nd-k2') || ']');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('"nd-k3"');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- A number, true or null on a line is valid JSON but not an event: 22023.
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-k4') || E'\n42');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('null');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

------------------------------------------------------------------------------
-- 5. Text PostgreSQL cannot store: \u0000, lone surrogates
------------------------------------------------------------------------------
-- \u0000 in a string field: a clean error naming field and line.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u1\u0000", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- \u0000 inside metadata: refused too (22P05, as PostgreSQL's jsonb does;
-- note the string-field case above answers 22023).
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u2", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": {"note": "a\u0000b"}}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- \u0000 anywhere in a line is refused (22P05, as jsonb does), keys
-- included: json-c keys are C strings and would be cut at the NUL.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u3", "provider\u0000x": "openai", "provider": "acme", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": {"note\u0000x": "b"}}')
       ->> 'accepted' AS accepted;
SELECT provider, metadata FROM opsmeter.events WHERE external_request_id = 'nd-u3';
-- A lone surrogate escape.  opsmeter_ingest(jsonb) never gets it: jsonb input
-- refuses it.
\set SHOW_CONTEXT never
SELECT opsmeter_ingest('{"externalRequestId": "nd-u4\ud800", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
\set SHOW_CONTEXT errors
-- Refused (22P02, like jsonb), naming the byte: storing U+FFFD instead would
-- file the event under an id the caller never sent.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u4\ud800", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
       ->> 'accepted' AS accepted;
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u4\udbff", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
       ->> 'duplicates' AS duplicates;
SELECT external_request_id, convert_to(external_request_id, 'UTF8') AS bytes
FROM opsmeter.events WHERE external_request_id LIKE 'nd-u4%';
-- A proper surrogate pair is one character.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-u5-\ud83d\ude00", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
       ->> 'accepted' AS accepted;
SELECT external_request_id, length(external_request_id) FROM opsmeter.events WHERE external_request_id LIKE 'nd-u5%';

------------------------------------------------------------------------------
-- 6. Nesting: at most 64 levels (the event object is level 1)
------------------------------------------------------------------------------
-- metadata with 64 nested objects: 65 levels, refused (54000).
SELECT opsmeter_ingest_ndjson(format('{"externalRequestId": "nd-d65", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": %s1%s}',
                                     repeat('{"a": ', 64), repeat('}', 64)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- 64 levels are accepted (the limit is the same for opsmeter_ingest(jsonb)).
SELECT opsmeter_ingest_ndjson(format('{"externalRequestId": "nd-d64", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": %s1%s}',
                                     repeat('{"a": ', 63), repeat('}', 63)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson(format('{"externalRequestId": "nd-d63", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "metadata": %s1%s}',
                                     repeat('{"a": ', 62), repeat('}', 62))) ->> 'accepted' AS accepted;
SELECT jsonb_path_query(metadata, 'strict $.**{61}') AS deepest_object
FROM opsmeter.events WHERE external_request_id = 'nd-d63';

------------------------------------------------------------------------------
-- 7. Numbers are exact: no floating point between the text and the table
------------------------------------------------------------------------------
SELECT opsmeter_ingest_ndjson(
           '{"externalRequestId": "nd-c1", "provider": "acme", "model": "m", "inputTokens": 1, "outputTokens": 1, "costUsd": 0.1}' || E'\n' ||
           '{"externalRequestId": "nd-c2", "provider": "acme", "model": "m", "inputTokens": 1, "outputTokens": 1, "costUsd": 0.2}' || E'\n' ||
           '{"externalRequestId": "nd-c3", "provider": "acme", "model": "m", "inputTokens": 1, "outputTokens": 1, "costUsd": 0.123456789012}' || E'\n' ||
           '{"externalRequestId": "nd-c4", "provider": "acme", "model": "m", "inputTokens": 1, "outputTokens": 1, "costUsd": 4.2e-7,'
           ' "metadata": {"ratio": 0.1000000000000000000001, "count": 12345678901234567890}}')
       ->> 'accepted' AS accepted;
SELECT external_request_id, cost_usd, pricing, metadata
FROM opsmeter.events WHERE external_request_id LIKE 'nd-c%' ORDER BY 1;
SELECT sum(cost_usd) AS sum_of_0_1_and_0_2, sum(cost_usd) = 0.3 AS exact
FROM opsmeter.events WHERE external_request_id IN ('nd-c1', 'nd-c2');
-- Metadata is kept exactly as opsmeter_ingest(jsonb) keeps it, integers
-- beyond 64 bits included (before 0.2.0 this path refused them: json-c would
-- have clamped 99999999999999999999 to 18446744073709551615).
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-c5", "provider": "acme", "model": "m", "inputTokens": 1, "outputTokens": 1, "metadata": {"big": 99999999999999999999, "small": -99999999999999999999}}')
       ->> 'accepted' AS accepted;
SELECT metadata FROM opsmeter.events WHERE external_request_id = 'nd-c5';
-- Too large for tokens: out of range, 22023, quoting the number.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-c6", "provider": "acme", "model": "m", "inputTokens": 99999999999999999999, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- A key written twice: the last one counts, as in jsonb, also when one of
-- them is escaped; unknown keys are warned about in jsonb's order.  The same
-- object through opsmeter_ingest(jsonb) answers the same.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-k1", "provider": "openai", "model": "nope", "inputTokens": 1, "outputTokens": 1, "mod\u0065l": "gpt-4o", "zeta": 1, "b": 2, "alpha": 3, "b": 4}')
       -> 'warnings' AS ndjson_warnings;
SELECT opsmeter_ingest('{"externalRequestId": "nd-k2", "provider": "openai", "model": "nope", "inputTokens": 1, "outputTokens": 1, "mod\u0065l": "gpt-4o", "zeta": 1, "b": 2, "alpha": 3, "b": 4}')
       -> 'warnings' AS jsonb_warnings;
SELECT external_request_id, model FROM opsmeter.events
WHERE external_request_id IN ('nd-k1', 'nd-k2') ORDER BY 1;

------------------------------------------------------------------------------
-- 8. Duplicates: within one body and against rows stored earlier
------------------------------------------------------------------------------
-- nd-1 was stored in section 1; nd-f1 appears twice.  The first write wins.
-- duplicateIndexes and warnings[].index count events from 0, skipping blank
-- lines, as in a jsonb batch; duplicateLines and warnings[].line give the
-- same as line numbers (from 1, blank lines counted), as errors do.
SELECT jsonb_pretty(opsmeter_ingest_ndjson(
           format(:'line', 'nd-f1') || E'\n' ||
           E'\n' ||
           format(:'line', 'nd-1') || E'\n' ||
           format(:'line', 'nd-f1') || E'\n'));
SELECT external_request_id, count(*) FROM opsmeter.events
WHERE external_request_id IN ('nd-1', 'nd-f1') GROUP BY 1 ORDER BY 1;

------------------------------------------------------------------------------
-- 9. All-or-nothing: an error on line 3 writes nothing of lines 1 and 2
------------------------------------------------------------------------------
SELECT * FROM ndjson_ws_rows;
SELECT opsmeter_ingest_ndjson(
           format(:'line', 'nd-g1') || E'\n' ||
           format(:'line', 'nd-g2') || E'\n' ||
           '{"externalRequestId": "nd-g3", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": -1}' || E'\n' ||
           format(:'line', 'nd-g4'));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM ndjson_ws_rows;
-- Sending lines 1 and 2 again stores them: they were never written.
SELECT opsmeter_ingest_ndjson(format(:'line', 'nd-g1') || E'\n' || format(:'line', 'nd-g2'))
       - 'budgetWarning' - 'budgetExceeded' AS response;
SELECT * FROM ndjson_ws_rows;

------------------------------------------------------------------------------
-- 10. Strict JSON where json-c is lenient (all found by test/fuzz)
------------------------------------------------------------------------------
-- Raw control characters in strings, and numbers JSON does not allow: 22P02.
SELECT opsmeter_ingest_ndjson(E'{"externalRequestId": "nd-s1\tx", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s2", "provider": "openai", "model": "gpt-4o", "inputTokens": 00, "outputTokens": 1}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s3", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "costUsd": 1.}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s4", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "costUsd": -.5}');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- What JSON allows still passes: -0, fractions, exponents.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s5", "provider": "openai", "model": "gpt-4o", "inputTokens": 1e2, "outputTokens": 0, "costUsd": 2.5E-3, "x": [-0, 0.5, -1e-7]}')
       ->> 'accepted' AS accepted;
SELECT input_tokens, cost_usd FROM opsmeter.events WHERE external_request_id = 'nd-s5';
-- An escaped surrogate pair is decoded exactly, whatever its code point
-- (json-c 0.16, which this path used before 0.2.0, read U+1D800 as U+FFFD):
-- the same character sent as UTF-8 is the same id, so a duplicate.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s6-\ud836\udc00", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
       ->> 'accepted' AS accepted;
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "nd-s6-' || chr(120832) || '", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}')
       ->> 'duplicates' AS duplicates;
SELECT external_request_id = 'nd-s6-' || chr(120832) AS exact FROM opsmeter.events WHERE external_request_id LIKE 'nd-s6-%';
-- A null line is not an event (22023, as on the jsonb path).
SELECT opsmeter_ingest_ndjson('null');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- The nesting limit covers fields opsmeter ignores too (54000).
SELECT opsmeter_ingest_ndjson(format('{"externalRequestId": "nd-s7", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "extra": %s1%s}',
                                     repeat('[', 64), repeat(']', 64)));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
