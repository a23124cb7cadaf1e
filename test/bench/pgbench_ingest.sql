-- test/bench/pgbench_ingest.sql — (e) and (f): one event per transaction through
-- opsmeter_ingest(jsonb).  The payload is the example event of the README with
-- a unique externalRequestId (client id + random 63-bit number); the server
-- parses the JSON text (::jsonb) as it would a jsonb parameter.
\set r random(1, 9000000000000000000)
SELECT opsmeter_ingest(('{"externalRequestId":"pgb-' || :client_id || '-' || :r || '","provider":"openai","model":"gpt-4o-mini","inputTokens":120,"outputTokens":45,"latencyMs":820,"status":"success","promptVersion":"v3","endpointTag":"checkout.summary","userId":"u-17","tenantId":"t-3","dataMode":"real","environment":"prod"}')::jsonb);
