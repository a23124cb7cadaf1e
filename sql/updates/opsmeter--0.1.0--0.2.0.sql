-- opsmeter 0.1.0 -> 0.2.0 (ALTER EXTENSION opsmeter UPDATE TO '0.2.0').
--
-- Every schema change of 0.2.0 goes here AND into its part in sql/install/,
-- in the same words where possible.  test/upgrade/run.sh proves that a
-- populated 0.1.0 database upgraded by this script is, object for object,
-- a fresh 0.2.0 install, and that its data answers the same.  Append new
-- columns at the end of their table in both places: column order is part
-- of what SELECT * shows, and the test compares it.

\echo Use "ALTER EXTENSION opsmeter UPDATE TO '0.2.0'" to load this file. \quit

-- Every user-facing function, view and type, and every table, says what it is
-- (\df+, \dv+, \dT+ and BI tools show these).
COMMENT ON TYPE opsmeter.data_mode IS 'what an event is: real traffic, test traffic or demo data (views default to real)';
COMMENT ON TYPE opsmeter.environment IS 'the deployment an event came from';
COMMENT ON TYPE opsmeter.workspace_role IS 'a member''s role in a workspace, most rights first';
COMMENT ON TYPE opsmeter.pricing_source IS 'where an event''s cost came from: the price catalog, the caller, or nowhere (unpriced)';
COMMENT ON TYPE opsmeter.summary_dimension IS 'what a summary row is grouped by';
COMMENT ON TYPE opsmeter.summary_grain IS 'the period a summary row covers: a UTC hour or a UTC day';
COMMENT ON FUNCTION @extschema@.opsmeter_add_member(text, regrole, opsmeter.workspace_role) IS
    'add a role to a workspace (owners and admins; only an owner grants owner)';
COMMENT ON FUNCTION @extschema@.opsmeter_set_member_role(text, regrole, opsmeter.workspace_role) IS
    'change a member''s role (owners and admins; only an owner changes an owner; the last owner stays)';
COMMENT ON FUNCTION @extschema@.opsmeter_remove_member(text, regrole) IS
    'remove a member (owners and admins; only an owner removes an owner; the last owner stays)';
COMMENT ON TABLE opsmeter.request_keys IS
    'dedup keys: one row per (workspace, externalRequestId) while its event is retained';
COMMENT ON TABLE opsmeter.rollup_state IS
    'the rollup watermark: raw rows with ingest_batch <= watermark are counted in summaries';
COMMENT ON FUNCTION @extschema@.opsmeter_overview(interval, text, text) IS
    'per-day totals of the active workspace over a range (the function form of opsmeter.overview)';
COMMENT ON FUNCTION @extschema@.opsmeter_top_users(interval, text, text, integer) IS
    'users ranked by cost over a range (the function form of opsmeter.top_users)';
COMMENT ON FUNCTION @extschema@.opsmeter_top_tenants(interval, text, text, integer) IS
    'tenants ranked by cost over a range (the function form of opsmeter.top_tenants)';
COMMENT ON FUNCTION @extschema@.opsmeter_top_endpoints(interval, text, text, integer) IS
    'endpoint tags ranked by cost over a range (the function form of opsmeter.top_endpoints)';
COMMENT ON FUNCTION @extschema@.opsmeter_prompt_versions(interval, text, text, integer) IS
    'prompt versions ranked by cost over a range (the function form of opsmeter.prompt_versions)';
COMMENT ON FUNCTION @extschema@.opsmeter_top_models(interval, text, text, integer) IS
    'provider/model pairs ranked by cost over a range (the function form of opsmeter.top_models)';
COMMENT ON VIEW opsmeter.overview IS
    'per-day totals of the active workspace over the session window (opsmeter.range, opsmeter.data_mode, opsmeter.environment)';
COMMENT ON VIEW opsmeter.top_users IS 'users ranked by cost over the session window';
COMMENT ON VIEW opsmeter.top_tenants IS 'tenants ranked by cost over the session window';
COMMENT ON VIEW opsmeter.top_endpoints IS 'endpoint tags ranked by cost over the session window';
COMMENT ON VIEW opsmeter.prompt_versions IS 'prompt versions ranked by cost over the session window';
COMMENT ON VIEW opsmeter.top_models IS 'provider/model pairs ranked by cost over the session window';
COMMENT ON VIEW opsmeter.unpriced_models IS
    'models stored without a price in the session window: what to add to the catalog';
COMMENT ON FUNCTION @extschema@.opsmeter_export_meta(timestamptz, timestamptz) IS
    'whether raw retention cuts an export of [range_start, range_end), and from when rows are kept';
COMMENT ON FUNCTION @extschema@.opsmeter_export(timestamptz, timestamptz, text, text) IS
    'request-level rows of the active workspace in [range_start, range_end), cut at the raw retention horizon';
COMMENT ON VIEW opsmeter.export IS
    'request-level rows of the active workspace in the session window, cut at the raw retention horizon';
COMMENT ON FUNCTION @extschema@.opsmeter_compare(text, interval) IS
    'cost and requests per value of a dimension: this window against the previous one of equal length';

-- Queries touch only their window's partitions (issue #13): the analytics
-- read opsmeter.events with ts bounds the planner folds to constants, on a
-- plan made for every call, so PostgreSQL 15 leaves out the other
-- partitions at plan time instead of locking every one of them.
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
CREATE OR REPLACE FUNCTION opsmeter.facts(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
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
      FROM opsmeter.pending_contributions(w, 9223372036854775807) p
     WHERE p.workspace_id = ws
       AND p.ts >= from_ts AND p.ts < pending_to   -- partition pruning: no expressions
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs);
END
$$;

-- Latency histograms for the same window (overview's p95), one per hour
-- and mode / environment, plus the pending rows' (one per hour).
CREATE OR REPLACE FUNCTION opsmeter.latency_facts(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (hour timestamptz, counts bigint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
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
      FROM opsmeter.pending_contributions(w, 9223372036854775807) p
     WHERE p.workspace_id = ws AND p.latency_bucket IS NOT NULL
       AND p.ts >= from_ts AND p.ts < pending_to
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs)
     GROUP BY 1;
END
$$;

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
CREATE OR REPLACE FUNCTION @extschema@.opsmeter_export(range_start timestamptz, range_end timestamptz,
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
