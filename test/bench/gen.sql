-- test/bench/gen.sql — the synthetic events every measurement uses.
-- psql variables: n (number of events), batch (events per ingest call).
--
-- bench.src holds one row per event, in the shape of opsmeter.events (what
-- opsmeter stores for it, cost included, computed here independently from
-- opsmeter.prices) plus "doc": the event as a compact JSON object, as a client
-- would send it.  Deterministic (setseed) apart from the timestamps, which
-- ascend over the 46 hours before now, like a time-ordered stream.
--
-- Mix: 6 models (one not in the price catalog), 12 endpoints, 5000 users,
-- 200 tenants, 3% errors, 30% with cached input tokens, reasoning tokens on
-- o3-mini, 10% with metadata, mostly real/prod.

SET client_min_messages = warning;
SELECT setseed(0.4242);

DROP TABLE IF EXISTS bench.src;
CREATE TABLE bench.src AS
WITH r AS (
    SELECT g AS seq,
           random() AS r_model, random() AS r_in, random() AS r_out, random() AS r_cache,
           random() AS r_cached, random() AS r_lat, random() AS r_err, random() AS r_code,
           random() AS r_prompt, random() AS r_ep, random() AS r_user, random() AS r_tenant,
           random() AS r_mode, random() AS r_env, random() AS r_meta
      FROM generate_series(1, :n) AS g
), e AS (
    SELECT seq,
           (SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'bench') AS workspace_id,
           date_trunc('milliseconds', now() - interval '46 hours 30 minutes'
                                     + (seq::float8 / :n) * interval '46 hours') AS ts,
           'bench-' || lpad(seq::text, 10, '0') AS external_request_id,
           m.provider, m.model,
           (40 + floor(r_in * 4000))::bigint AS input_tokens,
           (5 + floor(r_out * 900))::bigint AS output_tokens,
           r_cache, r_cached,
           (150 + floor(r_lat * 6000))::integer AS latency_ms,
           r_err < 0.03 AS is_error,
           CASE WHEN r_err < 0.03 THEN (ARRAY['rate_limit', 'timeout', 'server_error', 'context_length'])[1 + floor(r_code * 4)::int] END AS error_code,
           'v' || (1 + floor(r_prompt * 5)::int) AS prompt_version,
           (ARRAY['checkout.summary', 'checkout.fraud', 'search.rerank', 'search.answer', 'support.reply',
                  'support.triage', 'docs.qa', 'mail.draft', 'mail.classify', 'code.review', 'code.explain',
                  'agent.plan'])[1 + floor(r_ep * 12)::int] AS endpoint_tag,
           'u-' || (1 + floor(r_user * 5000)::int) AS user_id,
           't-' || (1 + floor(r_tenant * 200)::int) AS tenant_id,
           (CASE WHEN r_mode < 0.95 THEN 'real' WHEN r_mode < 0.99 THEN 'test' ELSE 'demo' END)::opsmeter.data_mode AS data_mode,
           (CASE WHEN r_env < 0.90 THEN 'prod' WHEN r_env < 0.97 THEN 'staging' ELSE 'dev' END)::opsmeter.environment AS environment,
           CASE WHEN r_meta < 0.10 THEN jsonb_build_object('region', 'eu-west-1', 'retry', floor(r_meta * 30)::int) END AS metadata
      FROM r
     CROSS JOIN LATERAL (
        SELECT * FROM (VALUES
            (0.00, 'openai', 'gpt-4o-mini'),
            (0.35, 'openai', 'gpt-4o'),
            (0.55, 'anthropic', 'claude-3-5-sonnet-20241022'),
            (0.72, 'google', 'gemini-2.0-flash'),
            (0.85, 'openai', 'o3-mini'),
            (0.96, 'acme', 'acme-llm-internal-v2')   -- not in the price catalog
        ) AS mm(lo, provider, model)
         WHERE mm.lo <= r.r_model
         ORDER BY mm.lo DESC
         LIMIT 1) AS m
), t AS (
    SELECT e.*,
           CASE WHEN r_cache < 0.30 THEN floor(input_tokens * 0.8 * r_cached)::bigint ELSE 0 END AS cached_input_tokens,
           CASE WHEN model = 'o3-mini' THEN output_tokens / 2 ELSE 0 END AS reasoning_tokens
      FROM e
)
SELECT t.seq,
       t.workspace_id, t.ts, ((t.seq - 1) / :batch + 1)::bigint AS ingest_batch,
       t.input_tokens, t.output_tokens, t.input_tokens + t.output_tokens AS total_tokens,
       t.cached_input_tokens, t.reasoning_tokens, t.latency_ms, t.is_error, t.data_mode, t.environment,
       (CASE WHEN p.input_usd_per_mtok IS NULL THEN 'unpriced' ELSE 'catalog' END)::opsmeter.pricing_source AS pricing,
       current_user::text::regrole AS ingested_by,
       now() AS ingested_at,
       t.external_request_id, t.provider, t.model,
       trim_scale(((t.input_tokens - t.cached_input_tokens) * p.input_usd_per_mtok
                   + t.cached_input_tokens * coalesce(p.cached_input_usd_per_mtok, p.input_usd_per_mtok)
                   + t.output_tokens * p.output_usd_per_mtok) * 0.000001) AS cost_usd,
       t.error_code, t.prompt_version, t.endpoint_tag, t.user_id, t.tenant_id, t.metadata,
       json_strip_nulls(json_build_object(
           'externalRequestId', t.external_request_id,
           'timestamp', to_char(t.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'provider', t.provider,
           'model', t.model,
           'inputTokens', t.input_tokens,
           'outputTokens', t.output_tokens,
           'cachedInputTokens', nullif(t.cached_input_tokens, 0),
           'reasoningTokens', nullif(t.reasoning_tokens, 0),
           'latencyMs', t.latency_ms,
           'status', CASE WHEN t.is_error THEN 'error' ELSE 'success' END,
           'errorCode', t.error_code,
           'promptVersion', t.prompt_version,
           'endpointTag', t.endpoint_tag,
           'userId', t.user_id,
           'tenantId', t.tenant_id,
           'dataMode', t.data_mode,
           'environment', t.environment,
           'metadata', t.metadata))::text AS doc
  FROM t
  LEFT JOIN LATERAL (
        SELECT pr.input_usd_per_mtok, pr.output_usd_per_mtok, pr.cached_input_usd_per_mtok
          FROM opsmeter.prices pr
         WHERE pr.provider = t.provider AND pr.model = t.model AND pr.effective_from <= t.ts
         ORDER BY pr.effective_from DESC
         LIMIT 1) AS p ON true;

ALTER TABLE bench.src ADD PRIMARY KEY (seq);
ANALYZE bench.src;
