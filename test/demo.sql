-- test/demo.sql — the `make demo` walkthrough (test/demo.sh feeds it to
-- `psql -X -v ON_ERROR_STOP=1` against a throwaway cluster).
\set ECHO queries
\pset pager off

\echo
\echo '== 1. install the extension and create a workspace'
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('acme');

\echo
\echo '== 2. ingest one event'
SELECT jsonb_pretty(opsmeter_ingest('{"externalRequestId":"req_2026_02_07_001","provider":"openai","model":"gpt-4o-mini","promptVersion":"summarizer_v3","endpointTag":"checkout.ai_summary","inputTokens":120,"outputTokens":45,"totalTokens":165,"latencyMs":820,"status":"success","dataMode":"real","environment":"prod"}'));

\echo
\echo '== 3. the same event again: deduplicated on externalRequestId ("duplicate": true)'
SELECT jsonb_pretty(opsmeter_ingest('{"externalRequestId":"req_2026_02_07_001","provider":"openai","model":"gpt-4o-mini","promptVersion":"summarizer_v3","endpointTag":"checkout.ai_summary","inputTokens":120,"outputTokens":45,"totalTokens":165,"latencyMs":820,"status":"success","dataMode":"real","environment":"prod"}'));

\echo
\echo '== 4. a batch of 50 events (one JSON array, all-or-nothing), incl. an unknown model'
SELECT jsonb_pretty(opsmeter_ingest(batch))
FROM (
    SELECT jsonb_agg(
               jsonb_build_object(
                   'externalRequestId', format('req_demo_batch_%s', lpad(g::text, 3, '0')),
                   'provider',          m.provider,
                   'model',             m.model,
                   'promptVersion',     (ARRAY['summarizer_v3', 'classifier_v1', 'chat_v7'])[1 + g % 3],
                   'endpointTag',       (ARRAY['checkout.ai_summary', 'support.triage', 'search.rerank', 'chat.reply'])[1 + g % 4],
                   'userId',            format('user_%s', 1 + g % 7),
                   'inputTokens',       in_tok,
                   'outputTokens',      out_tok,
                   'totalTokens',       in_tok + out_tok,
                   'latencyMs',         200 + (g * 37) % 1800,
                   'status',            'success',
                   'dataMode',          'real',
                   'environment',       CASE WHEN g % 10 = 0 THEN 'staging' ELSE 'prod' END)
               ORDER BY g) AS batch
    FROM generate_series(1, 50) AS g
    CROSS JOIN LATERAL (
        SELECT (ARRAY['openai', 'openai', 'anthropic', 'acme'])[1 + g % 4]             AS provider,
               (ARRAY['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet-20241022', 'acme-llm-9'])[1 + g % 4] AS model,
               100 + (g * 53) % 2400                                                   AS in_tok,
               20 + (g * 29) % 600                                                     AS out_tok
    ) AS m
) AS b;

\echo
\echo '== 5. two events as NDJSON (one JSON object per line)'
SELECT jsonb_pretty(opsmeter_ingest_ndjson(E'{"externalRequestId":"req_demo_ndjson_1","provider":"openai","model":"gpt-4o","endpointTag":"support.triage","userId":"user_1","inputTokens":900,"outputTokens":210,"totalTokens":1110,"latencyMs":1430,"status":"success","dataMode":"real","environment":"prod"}\n{"externalRequestId":"req_demo_ndjson_2","provider":"anthropic","model":"claude-3-5-sonnet-20241022","endpointTag":"chat.reply","userId":"user_2","inputTokens":1500,"outputTokens":380,"totalTokens":1880,"latencyMs":2210,"status":"success","dataMode":"real","environment":"prod"}'));

\echo
\echo '== 6. what was stored, and what it cost (unpriced = no price known for the model)'
SELECT provider, model, count(*) AS requests,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS cost_usd,
       count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
FROM opsmeter.events
GROUP BY 1, 2
ORDER BY cost_usd DESC NULLS LAST;

\echo
\echo '== 7. total'
SELECT count(*) AS requests,
       sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
       sum(cost_usd) AS total_cost_usd,
       count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced
FROM opsmeter.events;

\echo
\echo '== 8. the analytics views (real rows of every environment, last 7 days)'
SELECT * FROM opsmeter.overview;
SELECT user_id, requests, cost_usd, cost_per_request FROM opsmeter.top_users LIMIT 5;
SELECT * FROM opsmeter.unpriced_models;

\echo
\echo '== 9. demo traffic, seen only when asked for, then cleared'
SELECT opsmeter_ingest_demo(300) ->> 'accepted' AS demo_rows;
SELECT provider, model, requests, cost_usd FROM opsmeter_top_models('7 days', 'demo');
SELECT opsmeter_clear_demo_data('workspace') AS demo_rows_cleared;

\echo
\echo '== 10. a daily budget and what ingest answers once it is used up'
SELECT opsmeter_set_budget('daily', 0.01);
SELECT period, limit_usd, current_spend_usd, is_warning, is_exceeded FROM opsmeter.budget_signals;
SELECT opsmeter_ingest('{"externalRequestId":"req_demo_budget","provider":"openai","model":"gpt-4o","inputTokens":900,"outputTokens":200}')
       - 'warnings' AS response;
