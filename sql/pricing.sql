-- pricing: exact cost from an effective-dated catalog; our price file
-- format and LiteLLM's community price map; unpriced is NULL, never $0.
-- Relies on setup: role regress_pricer and regress.write_server_file(), with
-- which the tests write price files on the server.
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS opsmeter;
\set VERBOSITY default
SELECT opsmeter_create_workspace('pricing_ws') > 0 AS created;
SET opsmeter.workspace = 'pricing_ws';

-- Published list prices per 1M tokens, for each provider in the default catalog.
SELECT e->>'model' AS model,
       (opsmeter_ingest(e) ->> 'costUsd')::numeric AS cost_usd
  FROM jsonb_array_elements('[
    {"externalRequestId": "p-openai",    "provider": "openai",    "model": "gpt-4o-mini",                "inputTokens": 1000000, "outputTokens": 1000000},
    {"externalRequestId": "p-openai2",   "provider": "openai",    "model": "gpt-4o",                     "inputTokens": 1000000, "outputTokens": 1000000},
    {"externalRequestId": "p-anthropic", "provider": "anthropic", "model": "claude-3-5-sonnet-20241022", "inputTokens": 1000000, "outputTokens": 1000000},
    {"externalRequestId": "p-google",    "provider": "google",    "model": "gemini-2.0-flash",           "inputTokens": 1000000, "outputTokens": 1000000},
    {"externalRequestId": "p-mistral",   "provider": "mistral",   "model": "mistral-large-latest",       "inputTokens": 1000000, "outputTokens": 1000000}
  ]') AS e;
-- Each equals input + output price of the catalog row in effect, exactly.
SELECT e.model, e.cost_usd = p.input_usd_per_mtok + p.output_usd_per_mtok AS matches_catalog
  FROM opsmeter.events e
  JOIN LATERAL (SELECT * FROM opsmeter.prices p
                 WHERE p.provider = lower(e.provider) AND p.model = lower(e.model) AND p.effective_from <= e.ts
                 ORDER BY p.effective_from DESC LIMIT 1) p ON true
 WHERE e.external_request_id LIKE 'p-%' ORDER BY 1;

-- Tiny calls are not rounded away: 1 token of gpt-4o-mini output.
SELECT opsmeter_ingest('{"externalRequestId": "tiny", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 0, "outputTokens": 1}') -> 'costUsd' AS cost;
-- Many small costs sum exactly (a float sum would drift).
SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'sum-' || i, 'provider', 'openai',
                                                    'model', 'gpt-4o-mini', 'inputTokens', 7, 'outputTokens', 3)))
       ->> 'accepted' AS accepted
  FROM generate_series(1, 1000) i;
SELECT sum(cost_usd) AS total, sum(cost_usd) = 1000 * (7 * 0.15 + 3 * 0.60) / 1000000 AS exact
  FROM opsmeter.events WHERE external_request_id LIKE 'sum-%';

-- Our own price file format.  Effective dating: a price applies from its
-- effective_from on; appending a new one never rewrites stored costs.
\set prices_file '/tmp/opsmeter_regress_prices.json'
SELECT format('{"format": "opsmeter-prices", "version": 1, "prices": [
  {"provider": "regress", "model": "dated-model", "effective_from": "%s", "input": 1.00, "output": 2.00},
  {"provider": "regress", "model": "dated-model", "effective_from": "%s", "input": 3.00, "output": 4.00, "cached_input": 0.5}
]}', now() - interval '10 days', now() - interval '2 days') AS prices_json \gset
SELECT regress.write_server_file(:'prices_file', :'prices_json');
SELECT opsmeter_load_prices(:'prices_file') - 'path' AS load;
SELECT opsmeter_load_prices(:'prices_file') - 'path' AS load_again;   -- idempotent

SELECT e.id, opsmeter_ingest(jsonb_build_object('externalRequestId', e.id, 'provider', 'regress', 'model', 'Dated-Model',
         'inputTokens', 1000000, 'outputTokens', 1000000,
         'timestamp', to_char((now() - e.age) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')))
         - 'externalRequestId' - 'dataMode' - 'environment' - 'budgetWarning' - 'budgetExceeded' AS response
  FROM (VALUES ('dated-20d', interval '20 days'), ('dated-5d', interval '5 days'), ('dated-1d', interval '1 day')) AS e(id, age)
 ORDER BY 1;

-- Caller errors in price files are clear.
SELECT regress.write_server_file('/tmp/opsmeter_regress_bad.json', '{"format": "opsmeter-prices", "prices": [{"provider": "x", "model": "y", "effective_from": "2025-01-01T00:00:00Z", "input": -1, "output": 1}]}');
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_bad.json');
SELECT regress.write_server_file('/tmp/opsmeter_regress_bad.json', '{"format": "opsmeter-prices", "prices": [');
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_bad.json');
SELECT regress.write_server_file('/tmp/opsmeter_regress_bad.json', '{"format": "someone-elses"}');
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_bad.json');
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_no_such_file.json');

-- LiteLLM's model_prices_and_context_window.json: per-token costs keyed by
-- model, with litellm_provider.  Per-token floats in the file become exact
-- per-1M prices; the sample_spec entry and non-token pricing are skipped;
-- provider prefixes are stripped and "gemini" is filed under "google".
\getenv abs_srcdir PG_ABS_SRCDIR
\set litellm `cat "$PG_ABS_SRCDIR/test/fixtures/litellm_sample.json"`
SELECT regress.write_server_file('/tmp/opsmeter_regress_litellm.json', :'litellm');
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_litellm.json') - 'path' AS litellm_load;
SELECT provider, model,
       CASE WHEN effective_from = '-infinity' THEN 'always' WHEN effective_from = now() THEN 'from now on' END AS effective,
       input_usd_per_mtok, output_usd_per_mtok, cached_input_usd_per_mtok, source
  FROM opsmeter.prices WHERE source LIKE 'file:/tmp/opsmeter_regress_litellm%' ORDER BY 1, 2;
-- The backend's catalog cache saw the new model at once.
SELECT opsmeter_ingest('{"externalRequestId": "acme-chat", "provider": "openai", "model": "acme-chat-1", "inputTokens": 1000000, "outputTokens": 1000000}') -> 'costUsd' AS cost;
-- Loading the same LiteLLM file again changes nothing.
SELECT opsmeter_load_prices('/tmp/opsmeter_regress_litellm.json') - 'path' AS litellm_again;

-- Reading server files is for superusers and pg_read_server_files only.
SET ROLE regress_pricer;
SELECT opsmeter_load_prices('/etc/passwd');
RESET ROLE;
RESET opsmeter.workspace;
