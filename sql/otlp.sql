-- otlp: opsmeter_ingest_otlp() takes an OTLP/JSON trace export and stores
-- every GenAI span as one event, through the same rules as opsmeter_ingest
-- (issue #17).  The spans here are built by hand to reach every rule; the
-- test in test/otel runs real instrumentation.
\set SHOW_CONTEXT errors
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
\set VERBOSITY default
SELECT opsmeter_create_workspace('otlp_ws') > 0 AS created;
SET opsmeter.workspace = 'otlp_ws';

-- OTLP/JSON pieces: attributes are {"key", "value": AnyValue}; int64 values
-- and times (Unix nanoseconds) are decimal strings.
CREATE FUNCTION pg_temp.attr(k text, v text) RETURNS jsonb LANGUAGE sql
    RETURN jsonb_build_object('key', k, 'value', jsonb_build_object('stringValue', v));
CREATE FUNCTION pg_temp.int_attr(k text, v bigint) RETURNS jsonb LANGUAGE sql
    RETURN jsonb_build_object('key', k, 'value', jsonb_build_object('intValue', v::text));
CREATE FUNCTION pg_temp.nanos(t timestamptz) RETURNS text LANGUAGE sql
    RETURN ((extract(epoch FROM t) * 1000000)::bigint * 1000)::text;
-- a span that started `ago` before now and took ms milliseconds
CREATE FUNCTION pg_temp.span(span_id text, ago interval, ms integer, attrs jsonb,
                             status jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql
    RETURN jsonb_build_object('traceId', '5b8efff798038103d269b633813fc60c', 'spanId', span_id,
                              'name', 'chat', 'kind', 3,
                              'startTimeUnixNano', pg_temp.nanos(now() - ago),
                              'endTimeUnixNano', pg_temp.nanos(now() - ago + ms * interval '1 ms'),
                              'attributes', attrs, 'status', status);
CREATE FUNCTION pg_temp.body(resource_attrs jsonb, spans jsonb) RETURNS jsonb LANGUAGE sql
    RETURN jsonb_build_object('resourceSpans', jsonb_build_array(jsonb_build_object(
               'resource', jsonb_build_object('attributes', resource_attrs),
               'scopeSpans', jsonb_build_array(jsonb_build_object(
                   'scope', jsonb_build_object('name', '@opentelemetry/instrumentation-openai'),
                   'spans', spans)))));

CREATE TEMP TABLE sent AS
SELECT pg_temp.body(
    jsonb_build_array(pg_temp.attr('service.name', 'checkout'),
                      pg_temp.attr('deployment.environment.name', 'production'),
                      pg_temp.attr('opsmeter.tenant_id', 'tenant-from-resource'),
                      pg_temp.attr('user.id', 'user-from-resource')),
    jsonb_build_array(
        -- 0: today's attribute names, usage with a cache read
        pg_temp.span('00f067aa0ba902b7', '2 hours', 1234, jsonb_build_array(
            pg_temp.attr('gen_ai.operation.name', 'chat'),
            pg_temp.attr('gen_ai.provider.name', 'openai'),
            pg_temp.attr('gen_ai.request.model', 'gpt-4o-mini'),
            pg_temp.attr('gen_ai.response.model', 'gpt-4o-mini'),
            pg_temp.attr('gen_ai.response.id', 'chatcmpl-A1'),
            pg_temp.int_attr('gen_ai.usage.input_tokens', 1200),
            pg_temp.int_attr('gen_ai.usage.output_tokens', 300),
            pg_temp.int_attr('gen_ai.usage.cache_read.input_tokens', 1000),
            pg_temp.attr('user.id', 'user-from-span'),
            pg_temp.attr('opsmeter.endpoint_tag', 'checkout.summary'),
            pg_temp.attr('opsmeter.prompt_version', 'summary_v2'))),
        -- 1: an HTTP span: skipped
        jsonb_build_object('traceId', '5b8efff798038103d269b633813fc60c', 'spanId', '10f067aa0ba902b7',
                           'name', 'POST /v1/chat/completions', 'startTimeUnixNano', pg_temp.nanos(now()),
                           'attributes', jsonb_build_array(pg_temp.attr('http.request.method', 'POST'))),
        -- 2: older names still emitted by common instrumentation, numbers
        -- as JSON numbers, no response id (the span's ids are the key)
        pg_temp.span('20f067aa0ba902b7', '1 hour', 80, jsonb_build_array(
            pg_temp.attr('gen_ai.system', 'anthropic'),
            pg_temp.attr('gen_ai.request.model', 'claude-3-5-haiku-20241022'),
            jsonb_build_object('key', 'gen_ai.usage.prompt_tokens', 'value', jsonb_build_object('intValue', 50)),
            jsonb_build_object('key', 'gen_ai.usage.completion_tokens', 'value', jsonb_build_object('intValue', 5)),
            jsonb_build_object('key', 'gen_ai.usage.cache_read_input_tokens', 'value', jsonb_build_object('intValue', '10')),
            pg_temp.attr('opsmeter.data_mode', 'test'))),
        -- 3: a failed call (error.type, status ERROR), no usage at all
        pg_temp.span('30f067aa0ba902b7', '30 minutes', 45, jsonb_build_array(
            pg_temp.attr('gen_ai.provider.name', 'openai'),
            pg_temp.attr('gen_ai.request.model', 'gpt-4o'),
            pg_temp.attr('error.type', 'rate_limit_exceeded')),
            '{"code": 2, "message": "429 Too Many Requests"}'),
        -- 4: a tool span of an agent: GenAI attributes but no model, skipped
        pg_temp.span('40f067aa0ba902b7', '10 minutes', 3, jsonb_build_array(
            pg_temp.attr('gen_ai.operation.name', 'execute_tool'),
            pg_temp.attr('gen_ai.tool.name', 'lookup_order'))),
        -- 5: status as a string, opsmeter's own names win, caller's price
        pg_temp.span('50f067aa0ba902b7', '5 minutes', 2500, jsonb_build_array(
            pg_temp.attr('gen_ai.provider.name', 'openai'),
            pg_temp.attr('gen_ai.request.model', 'gpt-4o'),
            pg_temp.attr('gen_ai.response.model', 'gpt-4o-2024-08-06'),
            pg_temp.attr('gen_ai.response.id', 'chatcmpl-A5'),
            pg_temp.attr('opsmeter.external_request_id', 'req-5'),
            pg_temp.attr('opsmeter.user_id', 'user-opsmeter'),
            pg_temp.int_attr('gen_ai.usage.input_tokens', 10),
            pg_temp.int_attr('gen_ai.usage.output_tokens', 20),
            pg_temp.int_attr('opsmeter.reasoning_tokens', 15),
            jsonb_build_object('key', 'opsmeter.cost_usd', 'value', jsonb_build_object('doubleValue', 0.25)),
            pg_temp.attr('opsmeter.environment', 'staging')),
            '{"code": "STATUS_CODE_ERROR"}')
    )) AS body;

SELECT opsmeter_ingest_otlp(body) FROM sent;
SELECT external_request_id, provider, model, input_tokens, output_tokens, cached_input_tokens, reasoning_tokens,
       latency_ms, is_error, error_code, user_id, tenant_id, endpoint_tag, prompt_version, data_mode, environment,
       pricing, cost_usd, metadata,
       -- the event's time is the span's start, to the microsecond
       pg_temp.nanos(e.ts) = (SELECT sp ->> 'startTimeUnixNano'
                                FROM sent, jsonb_array_elements(body #> '{resourceSpans,0,scopeSpans,0,spans}') sp
                               WHERE sp ->> 'spanId' = e.metadata #>> '{otel,spanId}') AS at_span_start
  FROM opsmeter.events e WHERE workspace_id = opsmeter.active_workspace() ORDER BY ts;

-- The same body again (an exporter's retry): every span a duplicate.
SELECT opsmeter_ingest_otlp(body) ->> 'duplicates' AS duplicates,
       opsmeter_ingest_otlp(body) -> 'duplicateSpans' AS duplicate_spans FROM sent;
SELECT count(*) AS stored FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace();

-- All or nothing: one bad span refuses the body, naming the span and the
-- attribute; the good span beside it is not stored either.
SELECT opsmeter_ingest_otlp(pg_temp.body('[]', jsonb_build_array(
    pg_temp.span('60f067aa0ba902b7', '1 minute', 1, jsonb_build_array(
        pg_temp.attr('gen_ai.request.model', 'gpt-4o'), pg_temp.attr('gen_ai.system', 'openai'),
        pg_temp.int_attr('gen_ai.usage.input_tokens', 1))),
    pg_temp.span('70f067aa0ba902b7', '1 minute', 1, jsonb_build_array(
        pg_temp.attr('gen_ai.request.model', 'gpt-4o'), pg_temp.attr('gen_ai.system', 'openai'),
        pg_temp.int_attr('gen_ai.usage.input_tokens', 1),
        pg_temp.attr('gen_ai.usage.output_tokens', 'lots'))))));
SELECT opsmeter_ingest_otlp(pg_temp.body(jsonb_build_array(pg_temp.attr('deployment.environment.name', 'qa')),
    jsonb_build_array(pg_temp.span('80f067aa0ba902b7', '1 minute', 1, jsonb_build_array(
        pg_temp.attr('gen_ai.request.model', 'gpt-4o'), pg_temp.attr('gen_ai.system', 'openai'))))));
-- (the message names the timestamps, which change: SQLSTATE and where)
CREATE FUNCTION pg_temp.refusal(b jsonb) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM opsmeter_ingest_otlp(b);
    RETURN 'stored';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ' ' || split_part(SQLERRM, ': ', 1);
END
$$;
SELECT pg_temp.refusal(pg_temp.body('[]', jsonb_build_array(pg_temp.span('90f067aa0ba902b7', '400 days', 1,
    jsonb_build_array(pg_temp.attr('gen_ai.request.model', 'gpt-4o'), pg_temp.attr('gen_ai.system', 'openai'))))));
SELECT count(*) AS stored FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace();

-- Shapes that are not an OTLP export: 22023, naming where.
SELECT opsmeter_ingest_otlp('[]');
SELECT opsmeter_ingest_otlp('{"resourceSpans": {}}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [1]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": ["x"]}]}]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": {"a": 1}}]}]}]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": 7}]}]}]}]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "gen_ai.request.model", "value": "gpt-4o"}]}]}]}]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": [{"attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}, {"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}');
SELECT opsmeter_ingest_otlp('{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "2", "endTimeUnixNano": "1", "attributes": [{"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}}, {"key": "gen_ai.system", "value": {"stringValue": "openai"}}]}]}]}]}');
-- Empty exports are fine.
SELECT opsmeter_ingest_otlp('{}') ->> 'received' AS received, opsmeter_ingest_otlp('{"resourceSpans": []}') ->> 'skippedSpans' AS skipped;

-- What the fuzz driver found (each was wrong before): a value of the wrong
-- type is refused, never taken for 0 (a member holding the wrong JSON type
-- is a malformed body); an attribute without a value lets the next source
-- through; a decimal string is a number in doubleValue too;
-- a skipped span is never refused for an attribute opsmeter does not read
-- from it; metadata.otel keeps at most 200 bytes of each string; an
-- unreadable end time is refused; environment names in any case.
CREATE FUNCTION pg_temp.one(span_id text, attrs jsonb, resource_attrs jsonb DEFAULT '[]',
                            extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql
    RETURN pg_temp.body(resource_attrs, jsonb_build_array(pg_temp.span(span_id, '1 minute', 7,
        jsonb_build_array(pg_temp.attr('gen_ai.system', 'openai'), pg_temp.attr('gen_ai.request.model', 'gpt-4o-mini'))
        || attrs) || extra));
SELECT pg_temp.refusal(pg_temp.one('a100000000000001', jsonb_build_array(
           jsonb_build_object('key', 'gen_ai.usage.input_tokens', 'value', jsonb_build_object('intValue', true))))) AS bool_tokens,
       pg_temp.refusal(pg_temp.one('a100000000000002', jsonb_build_array(
           jsonb_build_object('key', 'opsmeter.cost_usd', 'value', jsonb_build_object('doubleValue', 'cheap'))))) AS text_cost;
SELECT opsmeter_ingest_otlp(pg_temp.one('a100000000000003', jsonb_build_array(
           jsonb_build_object('key', 'gen_ai.usage.input_tokens', 'value', jsonb_build_object('doubleValue', '1200')),
           jsonb_build_object('key', 'gen_ai.usage.output_tokens', 'value', jsonb_build_object('intValue', NULL)),
           pg_temp.int_attr('gen_ai.usage.completion_tokens', 50),
           jsonb_build_object('key', 'opsmeter.model', 'value', '{}'::jsonb)),
           jsonb_build_array(pg_temp.attr('service.name', repeat('s', 9000)),
                             pg_temp.attr('deployment.environment.name', 'Staging')),
           jsonb_build_object('endTimeUnixNano', '0'))) ->> 'accepted' AS accepted;
SELECT model, input_tokens, output_tokens, latency_ms, environment, length(metadata #>> '{otel,service}') AS service_bytes
  FROM opsmeter.events WHERE external_request_id LIKE '%-a100000000000003';
SELECT opsmeter_ingest_otlp(pg_temp.body('[]', jsonb_build_array(jsonb_build_object(
           'spanId', 'a100000000000004', 'name', 'GET /', 'startTimeUnixNano', pg_temp.nanos(now()),
           'attributes', jsonb_build_array(jsonb_build_object('key', 'error.type', 'value', '500')))))) ->> 'skippedSpans' AS skipped;
SELECT pg_temp.refusal(pg_temp.one('a100000000000005', '[]', '[]', jsonb_build_object('endTimeUnixNano', 'soon'))) AS garbage_end;
SELECT opsmeter_ingest_otlp(pg_temp.one('a100000000000006', '[]', '[]',
           jsonb_build_object('startTimeUnixNano', (pg_temp.nanos(now() - interval '1 minute') || '.000')::numeric,
                              'endTimeUnixNano', (pg_temp.nanos(now()) || '.0')::numeric))) ->> 'accepted' AS integral_decimal_times;

-- Limits of opsmeter_ingest apply: GenAI spans count against the batch limit.
SET opsmeter.max_batch_events = 2;
SELECT opsmeter_ingest_otlp(pg_temp.body('[]', (SELECT jsonb_agg(pg_temp.span(lpad(i::text, 16, '0'), '1 minute', 1,
    jsonb_build_array(pg_temp.attr('gen_ai.request.model', 'gpt-4o'), pg_temp.attr('gen_ai.system', 'openai'))))
    FROM generate_series(1, 3) i)));
RESET opsmeter.max_batch_events;

-- Viewers may not ingest, as with opsmeter_ingest.
CREATE ROLE otlp_viewer;
SELECT opsmeter_add_member('otlp_ws', 'otlp_viewer', 'viewer');
SET ROLE otlp_viewer;
SELECT opsmeter_ingest_otlp('{}');
RESET ROLE;
RESET opsmeter.workspace;
SELECT opsmeter_drop_workspace('otlp_ws') ->> 'ok' AS dropped;
DROP ROLE otlp_viewer;
