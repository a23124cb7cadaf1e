-- test/bench/pgbench_floor.sql — (e, CPU-bound) the floor of opsmeter's
-- design for one event: the row pgbench_ingest.sql stores, written straight
-- into today's partition of opsmeter.events, and its dedup key into the open
-- generation, by one statement (what the call stores, in the same tables
-- and indexes, without its checks, lookups, pricing or answer).  run.sh
-- fills in @PART@, @DAY@ (that partition's UTC day), @GEN_TABLE@ and @GEN@;
-- run with -M prepared -D ws=<id>.  The row is stamped inside @DAY@ rather
-- than with now(), so a run that crosses midnight UTC stays in @PART@.
\set r random(1, 9000000000000000000)
WITH k AS (INSERT INTO @GEN_TABLE@ (workspace_id, external_request_id, event_day, generation) VALUES (:ws, 'pgb-' || :client_id || '-' || :r, '@DAY@'::date, @GEN@)) INSERT INTO @PART@ (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens, cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode, environment, pricing, ingested_by, ingested_at, external_request_id, provider, model, cost_usd, error_code, prompt_version, endpoint_tag, user_id, tenant_id, metadata) VALUES (:ws, '@DAY@ 12:00:00+00'::timestamptz, nextval('opsmeter.ingest_batch_seq'), 120, 45, 165, 0, 0, 820, false, 'real', 'prod', 'catalog', 'postgres', now(), 'pgb-' || :client_id || '-' || :r, 'openai', 'gpt-4o-mini', 0.000045, NULL, 'v3', 'checkout.summary', 'u-17', 't-3', NULL);
