-- test/bench/pgbench_floor_key_in_row.sql — (e), for information: the floor
-- of a design this extension does not have, in which an event's dedup key is
-- its row's own entry in a unique (workspace_id, external_request_id) index
-- of its day's partition, with no key row.  The row of pgbench_floor.sql,
-- with its ingest_batch, into bench.key_in_row: a copy of today's partition
-- with the same indexes plus that unique one.  PostgreSQL enforces such an
-- index per partition only, so alone it does not keep one row per key across
-- days (docs/performance.md, "Sixth round").  run.sh fills in @DAY@; run
-- with -M prepared -D ws=<id>.
\set r random(1, 9000000000000000000)
INSERT INTO bench.key_in_row (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens, cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode, environment, pricing, ingested_by, ingested_at, external_request_id, provider, model, cost_usd, error_code, prompt_version, endpoint_tag, user_id, tenant_id, metadata) VALUES (:ws, '@DAY@ 12:00:00+00'::timestamptz, nextval('opsmeter.ingest_batch_seq'), 120, 45, 165, 0, 0, 820, false, 'real', 'prod', 'catalog', 'postgres', now(), 'pgb-' || :client_id || '-' || :r, 'openai', 'gpt-4o-mini', 0.000045, NULL, 'v3', 'checkout.summary', 'u-17', 't-3', NULL);
