-- test/bench/pgbench_insert.sql — (e) baseline: the same event as
-- pgbench_ingest.sql, as a bare INSERT of its final row (cost precomputed:
-- 120 * 0.15 + 45 * 0.60 USD per 1M tokens) into bench.plain_events, whose
-- primary key and (workspace_id, ts) index match opsmeter's keys.
-- Run with -M prepared and -D ws=<workspace id>.
\set r random(1, 9000000000000000000)
INSERT INTO bench.plain_events (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens, cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode, environment, pricing, ingested_by, ingested_at, external_request_id, provider, model, cost_usd, error_code, prompt_version, endpoint_tag, user_id, tenant_id, metadata) VALUES (:ws, now(), 0, 120, 45, 165, 0, 0, 820, false, 'real', 'prod', 'catalog', 'postgres', now(), 'pgb-' || :client_id || '-' || :r, 'openai', 'gpt-4o-mini', 0.000045, NULL, 'v3', 'checkout.summary', 'u-17', 't-3', NULL);
