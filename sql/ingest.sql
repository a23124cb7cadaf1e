-- ingest: opsmeter_ingest(jsonb) stores one event or a batch, exactly once.
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS opsmeter;
SELECT opsmeter_create_workspace('ingest_ws') > 0 AS created;
SET opsmeter.workspace = 'ingest_ws';

-- The seed's example payload.  Response: ok, duplicate, externalRequestId,
-- dataMode, environment, costUsd (exact), pricing, warnings, budget flags, reason.
SELECT jsonb_pretty(opsmeter_ingest('{
  "externalRequestId": "req_2026_02_07_001",
  "provider": "openai",
  "model": "gpt-4o-mini",
  "promptVersion": "summarizer_v3",
  "endpointTag": "checkout.ai_summary",
  "inputTokens": 120,
  "outputTokens": 45,
  "totalTokens": 165,
  "latencyMs": 820,
  "status": "success",
  "dataMode": "real",
  "environment": "prod"
}'));

-- 120 * $0.15/1M + 45 * $0.60/1M = $0.000045, stored as numeric.
SELECT external_request_id, provider, model, prompt_version, endpoint_tag, input_tokens, output_tokens,
       total_tokens, latency_ms, is_error, data_mode, environment, cost_usd, pricing,
       pg_typeof(cost_usd) AS cost_type, ingested_by
  FROM opsmeter.events WHERE external_request_id = 'req_2026_02_07_001';

-- The same externalRequestId again: no second row, answered as a duplicate.
SELECT opsmeter_ingest('{"externalRequestId": "req_2026_02_07_001", "provider": "openai",
                         "model": "gpt-4o", "inputTokens": 9999, "outputTokens": 9999}')
       - 'environment' - 'dataMode' AS repeat;
SELECT count(*), sum(input_tokens) FROM opsmeter.events WHERE external_request_id = 'req_2026_02_07_001';

-- Defaults: dataMode real, environment prod, status success, totalTokens =
-- input + output, timestamp now(); absent dimensions are NULL (shown as
-- "unknown" by the views).
SELECT opsmeter_ingest('{"externalRequestId": "minimal", "provider": "anthropic",
                         "model": "claude-3-5-haiku-20241022", "inputTokens": 2000, "outputTokens": 300}')->'costUsd' AS cost;
SELECT data_mode, environment, is_error, total_tokens, ts = now() AS ts_is_now, prompt_version, user_id, tenant_id
  FROM opsmeter.events WHERE external_request_id = 'minimal';

-- Every optional field, including the ones beyond the seed.
SELECT jsonb_pretty(opsmeter_ingest(jsonb_build_object(
  'externalRequestId', 'full',
  'provider', 'OpenAI',
  'model', 'GPT-4o',
  'inputTokens', 10000,
  'outputTokens', 2000,
  'cachedInputTokens', 8000,
  'reasoningTokens', 500,
  'latencyMs', 1234,
  'status', 'error',
  'errorCode', 'rate_limited',
  'promptVersion', 'v9',
  'endpointTag', 'search.rerank',
  'userId', 'user-42',
  'tenantId', 'tenant-7',
  'dataMode', 'test',
  'environment', 'staging',
  'timestamp', to_char(now() AT TIME ZONE 'UTC' - interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  'metadata', jsonb_build_object('region', 'eu-west-1', 'attempt', 2, 'tags', jsonb_build_array('a', 'b'))
)));
-- Cached input tokens at the cached rate: (2000 * 2.50 + 8000 * 1.25 + 2000 * 10.00) / 1M.
SELECT cost_usd, cost_usd = (2000 * 2.50 + 8000 * 1.25 + 2000 * 10.00) / 1000000 AS exact,
       cached_input_tokens, reasoning_tokens, error_code, is_error, data_mode, environment,
       now() - ts BETWEEN interval '59 minutes' AND interval '61 minutes' AS ts_kept, metadata
  FROM opsmeter.events WHERE external_request_id = 'full';

-- A caller-supplied costUsd wins over the catalog, kept exactly.
SELECT opsmeter_ingest('{"externalRequestId": "caller-cost", "provider": "openai", "model": "gpt-4o",
                         "inputTokens": 1, "outputTokens": 1, "costUsd": 0.123456789012}')
       -> 'costUsd' AS cost;
SELECT cost_usd, pricing FROM opsmeter.events WHERE external_request_id = 'caller-cost';

-- An unknown model is stored unpriced (NULL, never $0) and warned.
SELECT opsmeter_ingest('{"externalRequestId": "mystery", "provider": "acme", "model": "acme-llm-9",
                         "inputTokens": 500, "outputTokens": 50}') - 'environment' - 'dataMode' AS unpriced;
SELECT cost_usd IS NULL AS cost_is_null, pricing FROM opsmeter.events WHERE external_request_id = 'mystery';

-- A batch is an array: one response with counts, per-index warnings and the
-- indexes of duplicates (within the batch and against stored rows).
SELECT jsonb_pretty(opsmeter_ingest('[
  {"externalRequestId": "b-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 100},
  {"externalRequestId": "b-2", "provider": "google", "model": "gemini-2.0-flash", "inputTokens": 1000, "outputTokens": 100, "colour": "blue"},
  {"externalRequestId": "b-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "outputTokens": 1},
  {"externalRequestId": "minimal", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "outputTokens": 1},
  {"externalRequestId": "b-3", "provider": "mistral", "model": "mistral-large-latest", "inputTokens": 1000, "outputTokens": 100, "totalTokens": 999}
]'));
-- The first occurrence in a batch wins.
SELECT external_request_id, input_tokens FROM opsmeter.events WHERE external_request_id LIKE 'b-%' ORDER BY 1;

-- An empty batch is fine and writes nothing.
SELECT opsmeter_ingest('[]') ->> 'accepted' AS accepted;

-- Sums are exact: the same numbers whichever way they are added.
SELECT sum(cost_usd) AS total_usd, count(*) AS requests, count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
  FROM opsmeter.events e JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'ingest_ws';

-- Ingest is refused in read-only transactions.
BEGIN READ ONLY;
SELECT opsmeter_ingest('{"externalRequestId": "ro", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
ROLLBACK;

-- Text is stored verbatim: quotes, backslashes, SQL fragments, non-ASCII.
SELECT opsmeter_ingest(jsonb_build_object('externalRequestId', $$it's "quoted" \ ; DROP TABLE x; --$$,
                                          'provider', 'openai', 'model', 'gpt-4o-mini',
                                          'userId', 'Zoë 東京 🚀', 'inputTokens', 1, 'outputTokens', 1)) ->> 'ok' AS ok;
SELECT external_request_id, user_id FROM opsmeter.events WHERE user_id LIKE 'Zo%';
RESET opsmeter.workspace;
