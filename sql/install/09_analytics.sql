------------------------------------------------------------------------------
-- Analytics: summaries for what is rolled up, plus the pending rows
------------------------------------------------------------------------------
-- Filters: "all" or a list, from the argument, else the session GUC
-- (opsmeter.data_mode defaults to real, opsmeter.environment to all).
CREATE FUNCTION opsmeter.data_mode_filter(spec text DEFAULT NULL) RETURNS opsmeter.data_mode[]
    AS 'MODULE_PATHNAME', 'opsmeter_data_mode_filter' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.environment_filter(spec text DEFAULT NULL) RETURNS opsmeter.environment[]
    AS 'MODULE_PATHNAME', 'opsmeter_environment_filter' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.guc_range() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_range' LANGUAGE C STABLE PARALLEL SAFE;

-- Start of the reporting window of a range.  Whole days (or months): the
-- last N calendar days in the session TimeZone, today included.  Anything
-- with hours: the last whole hours, the current one included.  Windows
-- start on an hour, so hourly summaries answer them exactly.
CREATE FUNCTION opsmeter.window_start(range interval) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF range IS NULL OR range <= interval '0' OR range > interval '100 years' THEN
        RAISE EXCEPTION 'invalid range %', coalesce(range::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A range is a positive interval of at most 100 years, such as ''7 days'' or ''12 hours''.';
    END IF;
    IF date_trunc('day', range) = range THEN
        RETURN date_trunc('day', now() - range + interval '1 day');
    END IF;
    RETURN date_trunc('hour', now() - range + interval '1 hour');
END
$$;

-- Oldest instant whose rows every answer still has, for a workspace:
-- detail (raw rows and detail summaries) and coarse (overview and model
-- summaries).  Windows are cut there, so an answer is the same before and
-- after a retention pass.
CREATE FUNCTION opsmeter.retained_from(ws bigint, OUT raw_from timestamptz, OUT summary_from timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - r.raw, now() - r.summary FROM opsmeter.effective_retention() r WHERE r.workspace_id = ws
$$;

-- The measures of one dimension in [from_ts, to_ts) for the active
-- workspace, filtered: summary rows for what is rolled up plus one row per
-- pending raw row or adjustment.  Callers aggregate.  Hourly rows cover
-- the partial days at both ends of the window; whole UTC days in between
-- come from daily rows (except for "overview", whose callers group by the
-- session's days).  A window open to the future ends in whole days too:
-- each pass adds to today's daily row as it adds to today's hours, so the
-- daily row holds every rolled-up row of the day.  Rows are cut at the
-- retention horizon of the dimension.  Three range scans, one per grain
-- and part, rather than one OR: each is a plain index range, no recheck.
-- Seq scans are off for the BRIN reasons of _rollup(), and so is jit.
-- Every call is planned with its values (plan_cache_mode), and the pending
-- rows are bounded on ts by plain variables: the planner then leaves out
-- every partition outside the window before opening or locking it.  A
-- generic plan, or a bound the planner cannot fold to a constant, would
-- lock every partition of opsmeter.events, however many retention keeps.
CREATE FUNCTION opsmeter.facts(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                               modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (period_start timestamptz, data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric,
               cached_input_tokens numeric, reasoning_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();    -- same snapshot as w (a STABLE function)
    horizon record := opsmeter.retained_from(ws);
    first_day timestamptz;
    last_day timestamptz;
    -- None of the pending rows is dated more than 5 minutes past the
    -- statement that wrote it.  A variable, not an expression, so that each
    -- plan prunes the partitions created ahead as well as the older ones.
    pending_to timestamptz := least(to_ts, statement_timestamp() + interval '1 hour');
BEGIN
    from_ts := greatest(from_ts, date_trunc('hour', CASE WHEN dim IN ('overview', 'model')
                                                        THEN horizon.summary_from ELSE horizon.raw_from END, 'UTC'));
    -- [first_day, last_day): whole UTC days inside the window, read as daily rows
    first_day := date_trunc('day', from_ts + interval '1 day' - interval '1 microsecond', 'UTC');
    last_day := date_trunc('day', to_ts, 'UTC');
    IF dim = 'overview' OR first_day >= last_day THEN
        first_day := to_ts;
        last_day := to_ts;
    END IF;

    RETURN QUERY
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'hour'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= from_ts AND s.period_start < first_day
    UNION ALL
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'day'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= first_day AND s.period_start < last_day
    UNION ALL
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'hour'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= last_day AND s.period_start < to_ts
    UNION ALL
    -- The pending rows.
    SELECT date_trunc('hour', p.ts, 'UTC'), p.data_mode, p.environment,
           CASE WHEN dim = 'model' THEN p.provider END, CASE WHEN dim = 'model' THEN p.model END,
           CASE dim WHEN 'user' THEN p.user_id WHEN 'tenant' THEN p.tenant_id
                    WHEN 'endpoint' THEN p.endpoint_tag WHEN 'prompt_version' THEN p.prompt_version END,
           p.requests, p.errors, p.input_tokens, p.output_tokens, p.total_tokens,
           p.cached_input_tokens, p.reasoning_tokens, p.cost_usd, p.unpriced_requests, p.unpriced_tokens,
           p.latency_count, p.latency_sum_ms
      FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
     WHERE p.workspace_id = ws
       AND p.ts >= from_ts AND p.ts < pending_to   -- partition pruning: no expressions
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs);
END
$$;

-- Latency histograms for the same window (overview's p95), one per hour
-- and mode / environment, plus the pending rows' (one per hour).
CREATE FUNCTION opsmeter.latency_facts(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (hour timestamptz, counts bigint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();    -- same snapshot as w (a STABLE function)
    pending_to timestamptz := least(to_ts, statement_timestamp() + interval '1 hour');   -- as in facts()
BEGIN
    from_ts := greatest(from_ts, date_trunc('hour', (opsmeter.retained_from(ws)).summary_from, 'UTC'));
    RETURN QUERY
    SELECT h.hour, h.counts
      FROM opsmeter.latency_histogram h
     WHERE h.workspace_id = ws AND h.hour >= from_ts AND h.hour < to_ts
       AND h.data_mode = ANY (modes) AND h.environment = ANY (envs)
    UNION ALL
    SELECT date_trunc('hour', p.ts, 'UTC'), opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count)
      FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
     WHERE p.workspace_id = ws AND p.latency_bucket IS NOT NULL
       AND p.ts >= from_ts AND p.ts < pending_to
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs)
     GROUP BY 1;
END
$$;

-- Overview: one row per day of the session's TimeZone.  p95 is the upper
-- bound of the latency bucket holding the 95th percentile (nearest rank).
CREATE FUNCTION opsmeter.overview_rows(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH totals AS (
        SELECT f.period_start::date AS day, sum(f.requests)::bigint AS requests, sum(f.errors)::bigint AS errors,
               sum(f.input_tokens) AS input_tokens, sum(f.output_tokens) AS output_tokens,
               sum(f.total_tokens) AS total_tokens, sum(f.cost_usd) AS cost_usd,
               sum(f.unpriced_requests)::bigint AS unpriced_requests,
               round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2) AS avg_latency_ms
          FROM opsmeter.facts('overview', from_ts, to_ts, modes, envs) f
         GROUP BY 1
        HAVING sum(f.requests) <> 0
    ), p95 AS (
        SELECT h.hour::date AS day,
               opsmeter.latency_percentile(opsmeter.latency_histogram_sum(h.counts), 0.95) AS p95
          FROM opsmeter.latency_facts(from_ts, to_ts, modes, envs) h
         GROUP BY 1
    )
    SELECT t.day, t.requests, t.errors, t.input_tokens, t.output_tokens, t.total_tokens, t.cost_usd,
           t.unpriced_requests, t.avg_latency_ms, p.p95
      FROM totals t LEFT JOIN p95 p USING (day)
     ORDER BY t.day
$$;

-- A ranked list over one dimension.  Absent values group as 'unknown'.
CREATE FUNCTION opsmeter.ranked_rows(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[], lim integer)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT f.provider, f.model, coalesce(f.key, 'unknown'),
           sum(f.requests)::bigint, sum(f.errors)::bigint, sum(f.input_tokens), sum(f.output_tokens),
           sum(f.total_tokens), sum(f.cost_usd), sum(f.unpriced_requests)::bigint, sum(f.unpriced_tokens),
           round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
           round(sum(f.cost_usd) / sum(f.requests), 6),
           round(sum(f.total_tokens) / sum(f.requests), 2)
      FROM opsmeter.facts(dim, from_ts, to_ts, modes, envs) f
     GROUP BY f.provider, f.model, coalesce(f.key, 'unknown')
    HAVING sum(f.requests) <> 0
     ORDER BY sum(f.cost_usd) DESC, sum(f.requests) DESC, f.provider, f.model, coalesce(f.key, 'unknown')
     LIMIT lim
$$;

-- Function forms (the HTTP API's range / dataMode / environment / limit).
CREATE FUNCTION @extschema@.opsmeter_overview(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                              environment text DEFAULT 'all')
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM opsmeter.overview_rows(opsmeter.window_start($1), 'infinity',
                                         opsmeter.data_mode_filter($2), opsmeter.environment_filter($3))
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_overview(interval, text, text) IS
    'per-day totals of the active workspace over a range (the function form of opsmeter.overview)';

CREATE FUNCTION @extschema@.opsmeter_top_users(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                               environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (user_id text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('user', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_top_users(interval, text, text, integer) IS
    'users ranked by cost over a range (the function form of opsmeter.top_users)';

CREATE FUNCTION @extschema@.opsmeter_top_tenants(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                 environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (tenant_id text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('tenant', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_top_tenants(interval, text, text, integer) IS
    'tenants ranked by cost over a range (the function form of opsmeter.top_tenants)';

CREATE FUNCTION @extschema@.opsmeter_top_endpoints(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                   environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (endpoint_tag text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('endpoint', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_top_endpoints(interval, text, text, integer) IS
    'endpoint tags ranked by cost over a range (the function form of opsmeter.top_endpoints)';

CREATE FUNCTION @extschema@.opsmeter_prompt_versions(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                     environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (prompt_version text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('prompt_version', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_prompt_versions(interval, text, text, integer) IS
    'prompt versions ranked by cost over a range (the function form of opsmeter.prompt_versions)';

CREATE FUNCTION @extschema@.opsmeter_top_models(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (provider text, model text, requests bigint, errors bigint, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('model', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_top_models(interval, text, text, integer) IS
    'provider/model pairs ranked by cost over a range (the function form of opsmeter.top_models)';

-- Views: the function forms for BI tools, over the window opsmeter.range
-- (default 7 days) with the session filters opsmeter.data_mode (default
-- real) and opsmeter.environment (default all).  security_invoker: row
-- level security applies to the reader.
CREATE VIEW opsmeter.overview WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_overview(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                pg_catalog.current_setting('opsmeter.environment'));
COMMENT ON VIEW opsmeter.overview IS
    'per-day totals of the active workspace over the session window (opsmeter.range, opsmeter.data_mode, opsmeter.environment)';
CREATE VIEW opsmeter.top_users WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_users(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                 pg_catalog.current_setting('opsmeter.environment'), NULL);
COMMENT ON VIEW opsmeter.top_users IS 'users ranked by cost over the session window';
CREATE VIEW opsmeter.top_tenants WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_tenants(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                   pg_catalog.current_setting('opsmeter.environment'), NULL);
COMMENT ON VIEW opsmeter.top_tenants IS 'tenants ranked by cost over the session window';
CREATE VIEW opsmeter.top_endpoints WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_endpoints(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                     pg_catalog.current_setting('opsmeter.environment'), NULL);
COMMENT ON VIEW opsmeter.top_endpoints IS 'endpoint tags ranked by cost over the session window';
CREATE VIEW opsmeter.prompt_versions WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_prompt_versions(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                       pg_catalog.current_setting('opsmeter.environment'), NULL);
COMMENT ON VIEW opsmeter.prompt_versions IS 'prompt versions ranked by cost over the session window';
CREATE VIEW opsmeter.top_models WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_models(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                  pg_catalog.current_setting('opsmeter.environment'), NULL);
COMMENT ON VIEW opsmeter.top_models IS 'provider/model pairs ranked by cost over the session window';
-- Models stored without a price in the window: what to add to the catalog.
CREATE VIEW opsmeter.unpriced_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.unpriced_requests AS requests, r.unpriced_tokens AS total_tokens
      FROM opsmeter.ranked_rows('model', opsmeter.window_start(opsmeter.guc_range()), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE r.unpriced_requests > 0
     ORDER BY r.unpriced_requests DESC, r.provider, r.model;
COMMENT ON VIEW opsmeter.unpriced_models IS
    'models stored without a price in the session window: what to add to the catalog';

-- Export: request-level rows, cut at the raw retention horizon.
CREATE FUNCTION @extschema@.opsmeter_export_meta(range_start timestamptz, range_end timestamptz,
                                                 OUT retention_truncated boolean,
                                                 OUT retention_available_from_utc timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF range_start IS NULL OR range_end IS NULL OR range_start > range_end THEN
        RAISE EXCEPTION 'invalid export range % .. %', coalesce(range_start::text, 'NULL'), coalesce(range_end::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Give range_start <= range_end; the range includes range_start, excludes range_end.';
    END IF;
    retention_available_from_utc := (opsmeter.retained_from(opsmeter.active_workspace())).raw_from;
    retention_truncated := range_start < retention_available_from_utc;
END
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_export_meta(timestamptz, timestamptz) IS
    'whether raw retention cuts an export of [range_start, range_end), and from when rows are kept';

-- The rows of an export: the active workspace's raw rows in [from_ts,
-- to_ts), filtered, oldest first.  The ts bounds are plain parameters and
-- every call is planned with their values (plan_cache_mode), so the planner
-- keeps only the partitions of the range: see opsmeter.facts().  PL/pgSQL,
-- as a SQL function is planned without its arguments' values.
CREATE FUNCTION opsmeter.export_rows(from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (ts timestamptz, external_request_id text, provider text, model text,
               input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, latency_ms integer, status text,
               error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               cost_usd numeric, pricing opsmeter.pricing_source, ingested_by regrole, metadata jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
BEGIN
    RETURN QUERY
    SELECT e.ts, e.external_request_id, e.provider, e.model, e.input_tokens, e.output_tokens, e.total_tokens,
           e.cached_input_tokens, e.reasoning_tokens, e.latency_ms,
           CASE WHEN e.is_error THEN 'error' ELSE 'success' END, e.error_code,
           e.prompt_version, e.endpoint_tag, e.user_id, e.tenant_id, e.data_mode, e.environment,
           e.cost_usd, e.pricing, e.ingested_by, e.metadata
      FROM opsmeter.events e
     WHERE e.workspace_id = ws AND e.ts >= from_ts AND e.ts < to_ts
       AND e.data_mode = ANY (modes) AND e.environment = ANY (envs)
     ORDER BY e.ts, e.external_request_id;
END
$$;

-- No row is dated more than 5 minutes past the statement that stored it,
-- so the range ends an hour from now at the latest: an open end does not
-- reach into the partitions created ahead.
CREATE FUNCTION @extschema@.opsmeter_export(range_start timestamptz, range_end timestamptz,
                                            data_mode text DEFAULT 'real', environment text DEFAULT 'all')
RETURNS TABLE (ts timestamptz, external_request_id text, provider text, model text,
               input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, latency_ms integer, status text,
               error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               cost_usd numeric, pricing opsmeter.pricing_source, ingested_by regrole, metadata jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.opsmeter_export_meta($1, $2);    -- validates the range first
    SELECT x.*
      FROM opsmeter.export_rows(greatest($1, (@extschema@.opsmeter_export_meta($1, $2)).retention_available_from_utc),
                                least($2, statement_timestamp() + interval '1 hour'),
                                opsmeter.data_mode_filter($3), opsmeter.environment_filter($4)) x
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_export(timestamptz, timestamptz, text, text) IS
    'request-level rows of the active workspace in [range_start, range_end), cut at the raw retention horizon';
CREATE VIEW opsmeter.export WITH (security_invoker = true) AS
    SELECT x.* FROM @extschema@.opsmeter_export(opsmeter.window_start(opsmeter.guc_range()), 'infinity',
                                                pg_catalog.current_setting('opsmeter.data_mode'),
                                                pg_catalog.current_setting('opsmeter.environment')) x;
COMMENT ON VIEW opsmeter.export IS
    'request-level rows of the active workspace in the session window, cut at the raw retention horizon';

-- Compare: the current window against the previous window of equal length.
CREATE FUNCTION @extschema@.opsmeter_compare(dimension text, range interval DEFAULT '7 days')
RETURNS TABLE (value text, current_cost_usd numeric, previous_cost_usd numeric, cost_delta_usd numeric,
               current_requests bigint, previous_requests bigint, requests_delta bigint,
               current_cost_per_request numeric, previous_cost_per_request numeric, cost_per_request_delta numeric,
               current_tokens_per_request numeric, previous_tokens_per_request numeric,
               tokens_per_request_delta numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dim opsmeter.summary_dimension;
    cur_start timestamptz := opsmeter.window_start(range);
    prev_start timestamptz := cur_start - range;
    modes opsmeter.data_mode[] := opsmeter.data_mode_filter();
    envs opsmeter.environment[] := opsmeter.environment_filter();
BEGIN
    dim := CASE lower(dimension) WHEN 'endpoint' THEN 'endpoint' WHEN 'prompt_version' THEN 'prompt_version'
                                 WHEN 'model' THEN 'model' WHEN 'tenant' THEN 'tenant' WHEN 'user' THEN 'user' END;
    IF dim IS NULL THEN
        RAISE EXCEPTION 'invalid compare dimension %', coalesce(quote_literal(dimension), 'NULL')
            USING ERRCODE = '22023', HINT = 'Allowed dimensions: endpoint, prompt_version, model, tenant, user.';
    END IF;
    RETURN QUERY
    WITH cur AS (SELECT * FROM opsmeter.ranked_rows(dim, cur_start, 'infinity', modes, envs, NULL)),
         prev AS (SELECT * FROM opsmeter.ranked_rows(dim, prev_start, cur_start, modes, envs, NULL))
    SELECT CASE WHEN dim = 'model' THEN coalesce(c.provider, p.provider) || '/' || coalesce(c.model, p.model)
                ELSE coalesce(c.key, p.key) END,
           coalesce(c.cost_usd, 0), coalesce(p.cost_usd, 0), coalesce(c.cost_usd, 0) - coalesce(p.cost_usd, 0),
           coalesce(c.requests, 0), coalesce(p.requests, 0), coalesce(c.requests, 0) - coalesce(p.requests, 0),
           c.cost_per_request, p.cost_per_request, c.cost_per_request - p.cost_per_request,
           c.tokens_per_request, p.tokens_per_request, c.tokens_per_request - p.tokens_per_request
      FROM cur c
      FULL JOIN prev p ON c.provider IS NOT DISTINCT FROM p.provider AND c.model IS NOT DISTINCT FROM p.model
                      AND c.key = p.key
     ORDER BY abs(coalesce(c.cost_usd, 0) - coalesce(p.cost_usd, 0)) DESC,
              abs(coalesce(c.requests, 0) - coalesce(p.requests, 0)) DESC, 1;
END
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_compare(text, interval) IS
    'cost and requests per value of a dimension: this window against the previous one of equal length';
