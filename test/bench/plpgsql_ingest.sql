-- test/bench/plpgsql_ingest.sql — (d) the PL/pgSQL baseline.
--
-- What a careful user would write by hand instead of opsmeter: the same main
-- rules as src/event.c (required fields, JSON types, non-negative integers
-- with the same bounds, enums, string lengths, cross-field checks, strict
-- ISO-8601 timestamps with a zone inside [now - 30 days, now + 5 minutes]),
-- the effective-dated price from opsmeter.prices (numeric, never float),
-- dedup with INSERT ... ON CONFLICT DO NOTHING into its own key table, then one
-- INSERT per event into its own copy of opsmeter.events partitioned by UTC day.
-- All-or-nothing per call, like opsmeter_ingest().
--
-- Written for speed the way a careful user would: one pass, checks inline (no
-- helper function calls per field), only simple expressions, the price lookup
-- through the primary key of opsmeter.prices.  Not implemented (opsmeter does
-- them): warnings for unknown fields, the detailed response, per-workspace
-- retention settings.

CREATE OR REPLACE FUNCTION bench_plpgsql_ingest(payload jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $fn$
DECLARE
    v_ws        bigint := opsmeter.active_workspace();
    v_now       timestamptz := now();
    v_newest    timestamptz := now() + interval '5 minutes';
    v_oldest    timestamptz := now() - interval '30 days';
    v_caller    regrole := to_regrole(current_user);
    v_batch     bigint;
    v_events    jsonb;
    e           jsonb;
    v           jsonb;
    n           numeric;
    idx         integer := -1;
    accepted    integer := 0;
    dups        integer := 0;
    v_ext_id    text;
    v_provider  text;
    v_model     text;
    v_in        bigint;
    v_out       bigint;
    v_total     bigint;
    v_cached    bigint;
    v_reasoning bigint;
    v_latency   integer;
    v_is_error  boolean;
    v_err_code  text;
    v_prompt    text;
    v_endpoint  text;
    v_user      text;
    v_tenant    text;
    v_mode      opsmeter.data_mode;
    v_env       opsmeter.environment;
    v_ts        timestamptz;
    v_cost      numeric;
    v_pricing   opsmeter.pricing_source;
    v_meta      jsonb;
    v_s         text;
    p_in        numeric;
    p_out       numeric;
    p_cached    numeric;
BEGIN
    IF v_ws IS NULL THEN
        RAISE EXCEPTION 'no active workspace' USING ERRCODE = '22023';
    END IF;
    CASE jsonb_typeof(payload)
        WHEN 'array' THEN v_events := payload;
        WHEN 'object' THEN v_events := jsonb_build_array(payload);
        ELSE RAISE EXCEPTION 'invalid payload: must be a JSON object or an array of objects' USING ERRCODE = '22023';
    END CASE;
    IF jsonb_array_length(v_events) > 10000 THEN
        RAISE EXCEPTION 'batch of % events exceeds 10000', jsonb_array_length(v_events) USING ERRCODE = '54000';
    END IF;
    v_batch := nextval('bench.pl_batch_seq');

    FOR e IN SELECT value FROM jsonb_array_elements(v_events) LOOP
        idx := idx + 1;
        IF jsonb_typeof(e) <> 'object' THEN
            RAISE EXCEPTION 'invalid element %: must be a JSON object', idx USING ERRCODE = '22023';
        END IF;

        -- required strings
        v := e -> 'externalRequestId';
        IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
            RAISE EXCEPTION 'missing required field "externalRequestId" in element %', idx USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'invalid field "externalRequestId" in element %: must be a string', idx USING ERRCODE = '22023';
        END IF;
        v_ext_id := v #>> '{}';
        IF length(v_ext_id) NOT BETWEEN 1 AND 128 THEN
            RAISE EXCEPTION 'invalid field "externalRequestId" in element %: must be 1 to 128 characters', idx USING ERRCODE = '22023';
        END IF;

        v := e -> 'provider';
        IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
            RAISE EXCEPTION 'missing required field "provider" in element %', idx USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'invalid field "provider" in element %: must be a string', idx USING ERRCODE = '22023';
        END IF;
        v_provider := v #>> '{}';
        IF length(v_provider) NOT BETWEEN 1 AND 100 THEN
            RAISE EXCEPTION 'invalid field "provider" in element %: must be 1 to 100 characters', idx USING ERRCODE = '22023';
        END IF;

        v := e -> 'model';
        IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
            RAISE EXCEPTION 'missing required field "model" in element %', idx USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v) <> 'string' THEN
            RAISE EXCEPTION 'invalid field "model" in element %: must be a string', idx USING ERRCODE = '22023';
        END IF;
        v_model := v #>> '{}';
        IF length(v_model) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'invalid field "model" in element %: must be 1 to 200 characters', idx USING ERRCODE = '22023';
        END IF;

        -- required non-negative integers (<= 10^15)
        v := e -> 'inputTokens';
        IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
            RAISE EXCEPTION 'missing required field "inputTokens" in element %', idx USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v) <> 'number' THEN
            RAISE EXCEPTION 'invalid field "inputTokens" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
        END IF;
        n := v::numeric;
        IF n < 0 OR n > 1000000000000000 OR n <> trunc(n) THEN
            RAISE EXCEPTION 'invalid field "inputTokens" in element %: % is not an integer from 0 to 10^15', idx, n USING ERRCODE = '22023';
        END IF;
        v_in := n;

        v := e -> 'outputTokens';
        IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
            RAISE EXCEPTION 'missing required field "outputTokens" in element %', idx USING ERRCODE = '22023';
        ELSIF jsonb_typeof(v) <> 'number' THEN
            RAISE EXCEPTION 'invalid field "outputTokens" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
        END IF;
        n := v::numeric;
        IF n < 0 OR n > 1000000000000000 OR n <> trunc(n) THEN
            RAISE EXCEPTION 'invalid field "outputTokens" in element %: % is not an integer from 0 to 10^15', idx, n USING ERRCODE = '22023';
        END IF;
        v_out := n;

        -- optional integers
        v_total := v_in + v_out;
        v := e -> 'totalTokens';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'invalid field "totalTokens" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
            END IF;
            n := v::numeric;
            IF n < 0 OR n > 1000000000000000 OR n <> trunc(n) THEN
                RAISE EXCEPTION 'invalid field "totalTokens" in element %: % is not an integer from 0 to 10^15', idx, n USING ERRCODE = '22023';
            END IF;
            v_total := n;
        END IF;

        v_cached := 0;
        v := e -> 'cachedInputTokens';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'invalid field "cachedInputTokens" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
            END IF;
            n := v::numeric;
            IF n < 0 OR n > v_in OR n <> trunc(n) THEN
                RAISE EXCEPTION 'invalid field "cachedInputTokens" in element %: % is not an integer from 0 to inputTokens', idx, n USING ERRCODE = '22023';
            END IF;
            v_cached := n;
        END IF;

        v_reasoning := 0;
        v := e -> 'reasoningTokens';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'invalid field "reasoningTokens" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
            END IF;
            n := v::numeric;
            IF n < 0 OR n > v_out OR n <> trunc(n) THEN
                RAISE EXCEPTION 'invalid field "reasoningTokens" in element %: % is not an integer from 0 to outputTokens', idx, n USING ERRCODE = '22023';
            END IF;
            v_reasoning := n;
        END IF;

        v_latency := NULL;
        v := e -> 'latencyMs';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'invalid field "latencyMs" in element %: must be a non-negative integer', idx USING ERRCODE = '22023';
            END IF;
            n := v::numeric;
            IF n < 0 OR n > 2147483647 OR n <> trunc(n) THEN
                RAISE EXCEPTION 'invalid field "latencyMs" in element %: % is not an integer from 0 to 2147483647', idx, n USING ERRCODE = '22023';
            END IF;
            v_latency := n;
        END IF;

        -- enums
        v_is_error := false;
        v := e -> 'status';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            v_s := v #>> '{}';
            IF jsonb_typeof(v) <> 'string' OR v_s NOT IN ('success', 'error') THEN
                RAISE EXCEPTION 'invalid field "status" in element %', idx USING ERRCODE = '22023', HINT = 'Allowed values: success, error.';
            END IF;
            v_is_error := v_s = 'error';
        END IF;

        v_mode := 'real';
        v := e -> 'dataMode';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            v_s := v #>> '{}';
            IF jsonb_typeof(v) <> 'string' OR v_s NOT IN ('real', 'test', 'demo') THEN
                RAISE EXCEPTION 'invalid field "dataMode" in element %', idx USING ERRCODE = '22023', HINT = 'Allowed values: real, test, demo.';
            END IF;
            v_mode := v_s;
        END IF;

        v_env := 'prod';
        v := e -> 'environment';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            v_s := v #>> '{}';
            IF jsonb_typeof(v) <> 'string' OR v_s NOT IN ('prod', 'staging', 'dev') THEN
                RAISE EXCEPTION 'invalid field "environment" in element %', idx USING ERRCODE = '22023', HINT = 'Allowed values: prod, staging, dev.';
            END IF;
            v_env := v_s;
        END IF;

        -- optional strings ('' means absent)
        v_err_code := NULL;
        v := e -> 'errorCode';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid field "errorCode" in element %: must be a string', idx USING ERRCODE = '22023';
            END IF;
            v_err_code := nullif(v #>> '{}', '');
            IF length(v_err_code) > 128 THEN
                RAISE EXCEPTION 'invalid field "errorCode" in element %: must be at most 128 characters', idx USING ERRCODE = '22023';
            END IF;
        END IF;

        v_prompt := NULL;
        v := e -> 'promptVersion';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid field "promptVersion" in element %: must be a string', idx USING ERRCODE = '22023';
            END IF;
            v_prompt := nullif(v #>> '{}', '');
            IF length(v_prompt) > 128 THEN
                RAISE EXCEPTION 'invalid field "promptVersion" in element %: must be at most 128 characters', idx USING ERRCODE = '22023';
            END IF;
        END IF;

        v_endpoint := NULL;
        v := e -> 'endpointTag';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid field "endpointTag" in element %: must be a string', idx USING ERRCODE = '22023';
            END IF;
            v_endpoint := nullif(v #>> '{}', '');
            IF length(v_endpoint) > 128 THEN
                RAISE EXCEPTION 'invalid field "endpointTag" in element %: must be at most 128 characters', idx USING ERRCODE = '22023';
            END IF;
        END IF;

        v_user := NULL;
        v := e -> 'userId';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid field "userId" in element %: must be a string', idx USING ERRCODE = '22023';
            END IF;
            v_user := nullif(v #>> '{}', '');
            IF length(v_user) > 256 THEN
                RAISE EXCEPTION 'invalid field "userId" in element %: must be at most 256 characters', idx USING ERRCODE = '22023';
            END IF;
        END IF;

        v_tenant := NULL;
        v := e -> 'tenantId';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'string' THEN
                RAISE EXCEPTION 'invalid field "tenantId" in element %: must be a string', idx USING ERRCODE = '22023';
            END IF;
            v_tenant := nullif(v #>> '{}', '');
            IF length(v_tenant) > 256 THEN
                RAISE EXCEPTION 'invalid field "tenantId" in element %: must be at most 256 characters', idx USING ERRCODE = '22023';
            END IF;
        END IF;

        -- timestamp: strict ISO-8601 with a zone, not in the future, within retention
        v_ts := v_now;
        v := e -> 'timestamp';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            v_s := v #>> '{}';
            IF jsonb_typeof(v) <> 'string'
               OR v_s !~ '^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)$' THEN
                RAISE EXCEPTION 'invalid field "timestamp" in element %: not an ISO-8601 timestamp with a time zone', idx USING ERRCODE = '22023';
            END IF;
            v_ts := v_s::timestamptz;
            IF v_ts > v_newest OR v_ts < v_oldest THEN
                RAISE EXCEPTION 'invalid field "timestamp" in element %: % is outside [now - 30 days, now + 5 minutes]', idx, v_ts USING ERRCODE = '22023';
            END IF;
        END IF;

        v_meta := NULL;
        v := e -> 'metadata';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'object' THEN
                RAISE EXCEPTION 'invalid field "metadata" in element %: must be a JSON object', idx USING ERRCODE = '22023';
            ELSIF pg_column_size(v) > 8192 THEN
                RAISE EXCEPTION 'invalid field "metadata" in element %: more than 8192 bytes', idx USING ERRCODE = '22023';
            END IF;
            v_meta := v;
        END IF;

        -- cost: the caller's, else the catalog price in effect at the event's time
        v_cost := NULL;
        v := e -> 'costUsd';
        IF v IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
            IF jsonb_typeof(v) <> 'number' THEN
                RAISE EXCEPTION 'invalid field "costUsd" in element %: must be a number', idx USING ERRCODE = '22023';
            END IF;
            v_cost := v::numeric;
            IF v_cost < 0 OR v_cost > 1000000000 THEN
                RAISE EXCEPTION 'invalid field "costUsd" in element %: must be from 0 to 1000000000', idx USING ERRCODE = '22023';
            END IF;
            v_pricing := 'caller';
        ELSE
            SELECT p.input_usd_per_mtok, p.output_usd_per_mtok, p.cached_input_usd_per_mtok
              INTO p_in, p_out, p_cached
              FROM opsmeter.prices p
             WHERE p.provider = lower(v_provider) AND p.model = lower(v_model)
               AND p.effective_from <= v_ts
             ORDER BY p.effective_from DESC
             LIMIT 1;
            IF FOUND THEN
                v_cost := trim_scale(((v_in - v_cached) * p_in + v_cached * coalesce(p_cached, p_in)
                                      + v_out * p_out) * 0.000001);
                v_pricing := 'catalog';
            ELSE
                v_pricing := 'unpriced';
            END IF;
        END IF;

        -- dedup, then the row
        INSERT INTO bench.pl_request_keys (workspace_id, external_request_id, event_day)
        VALUES (v_ws, v_ext_id, (v_ts AT TIME ZONE 'UTC')::date)
        ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            dups := dups + 1;
            CONTINUE;
        END IF;

        INSERT INTO bench.pl_events (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens,
                                     cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode,
                                     environment, pricing, ingested_by, ingested_at, external_request_id,
                                     provider, model, cost_usd, error_code, prompt_version, endpoint_tag,
                                     user_id, tenant_id, metadata)
        VALUES (v_ws, v_ts, v_batch, v_in, v_out, v_total,
                v_cached, v_reasoning, v_latency, v_is_error, v_mode,
                v_env, v_pricing, v_caller, v_now, v_ext_id,
                v_provider, v_model, v_cost, v_err_code, v_prompt, v_endpoint,
                v_user, v_tenant, v_meta);
        accepted := accepted + 1;
    END LOOP;

    RETURN jsonb_build_object('ok', true, 'received', idx + 1, 'accepted', accepted, 'duplicates', dups);
END
$fn$;
