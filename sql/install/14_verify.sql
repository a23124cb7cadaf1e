------------------------------------------------------------------------------
-- Verification: what the summaries claim, recomputed from the raw rows
-- (issue #16; SPEC: "rollups provably equal the raw data")
------------------------------------------------------------------------------
-- Every difference between what the rollup claims and what the raw rows
-- say, one number per row, for the workspaces listed, over the periods that
-- lie wholly in [range_start, range_end) and after the workspace's raw
-- retention (older summaries have no raw rows left to check them against).
-- A claim is what the views add up: stored summary rows plus the pending
-- contributions (raw rows above the watermark or in its holes, and
-- corrections not folded yet).  Checked:
--   tier 'rollup_days', grain day: requests (the day's rolled-up rows, net
--     of corrections) + the day's pending requests = its raw rows;
--   tier 'summary_quarters', grain quarter (UTC quarter hours), per mode,
--     environment and model: every sum and every latency-histogram bucket,
--     on summarized days (rollup_days.quarter_rows set); any tier-1 row of
--     a day not summarized is a difference too;
--   tier 'summaries', grains hour and day, per dimension and key: the
--     same on detailed days (rollup_days.detail_rows set), and any tier-2
--     row of a day not detailed is a difference.
-- One statement, so one snapshot: a pass committing meanwhile moves rows
-- from pending to stored, never into both or neither.  Reads every raw row
-- of the range once (materialized), so it costs about a scan and a sort
-- of the range: verify a big workspace a few days at a time.
CREATE FUNCTION opsmeter._verify(ws_list bigint[], range_start timestamptz, range_end timestamptz)
RETURNS TABLE (workspace_id bigint, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
    WITH state AS (
        SELECT coalesce(max(s.watermark), 0) AS watermark, coalesce(max(s.holes), '{}') AS holes
          FROM opsmeter.rollup_state s
    ), bounds AS (
        -- what can be checked: after the raw retention and the oldest
        -- partition of raw rows, before tomorrow
        SELECT w.workspace_id,
               greatest(range_start, (opsmeter.retained_from(w.workspace_id)).raw_from,
                        (SELECT coalesce(min(p.day)::timestamp AT TIME ZONE 'UTC', 'infinity')
                           FROM opsmeter.event_partitions() p)) AS lo,
               least(range_end, now() + interval '1 day') AS hi
          FROM unnest(ws_list) w(workspace_id)
    ), days AS (
        -- lo: a day whose raw rows the workspace's own retention trimmed is
        -- checked only after the trim
        SELECT b.workspace_id, greatest(b.lo, r.raw_deleted_before) AS lo, b.hi, d.day::date AS day,
               d.day AT TIME ZONE 'UTC' AS day_start, (d.day + interval '1 day') AT TIME ZONE 'UTC' AS day_end,
               r.requests AS rolled_up, coalesce(r.quarter_rows IS NOT NULL, false) AS summarized,
               coalesce(r.detail_rows IS NOT NULL, false) AS detailed
          FROM bounds b
         CROSS JOIN LATERAL generate_series((b.lo AT TIME ZONE 'UTC')::date::timestamp,
                                            (b.hi AT TIME ZONE 'UTC')::date::timestamp, interval '1 day') d(day)
          LEFT JOIN opsmeter.rollup_days r ON r.workspace_id = b.workspace_id AND r.day = d.day::date
         WHERE b.lo < b.hi
    ), contributions AS MATERIALIZED (
        -- the raw rows of the range (is_raw), and the pending corrections;
        -- pending: counted by the views on top of the stored summaries
        SELECT true AS is_raw, (e.ingest_batch > st.watermark OR e.ingest_batch = ANY (st.holes)) AS pending,
               d.summarized, d.detailed, e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
               e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version,
               1 AS requests, e.is_error::integer AS errors, e.input_tokens, e.output_tokens, e.total_tokens,
               e.cached_input_tokens, e.reasoning_tokens, coalesce(e.cost_usd, 0) AS cost_usd,
               (e.cost_usd IS NULL)::integer AS unpriced_requests,
               CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END AS unpriced_tokens,
               (e.latency_ms IS NOT NULL)::integer AS latency_count, coalesce(e.latency_ms, 0)::bigint AS latency_sum_ms,
               opsmeter.latency_bucket(e.latency_ms) AS latency_bucket
          FROM days d CROSS JOIN state st
          JOIN opsmeter.events e ON e.workspace_id = d.workspace_id
                                AND e.ts >= greatest(d.day_start, d.lo) AND e.ts < least(d.day_end, d.hi)
        UNION ALL
        SELECT false, true, d.summarized, d.detailed, a.workspace_id, a.ts, a.data_mode, a.environment,
               a.provider, a.model, a.user_id, a.tenant_id, a.endpoint_tag, a.prompt_version,
               a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens, a.cached_input_tokens,
               a.reasoning_tokens, a.cost_usd, a.unpriced_requests, a.unpriced_tokens, a.latency_count,
               a.latency_sum_ms, a.latency_bucket
          FROM days d CROSS JOIN state st
          JOIN opsmeter.summary_adjustments a ON a.workspace_id = d.workspace_id
                                             AND a.ts >= greatest(d.day_start, d.lo) AND a.ts < least(d.day_end, d.hi)
         WHERE a.ingest_batch > st.watermark OR a.ingest_batch = ANY (st.holes)
    ), sides AS (
        -- +1: what the rollup claims; -1: what the raw rows say
        SELECT 1 AS sign, r.* FROM contributions r WHERE r.pending
        UNION ALL
        SELECT -1, r.* FROM contributions r WHERE r.is_raw
    ), grouped AS (
        -- tier 1, from the rows of summarized days
        SELECT 'summary_quarters' AS tier, 'model' AS dimension, 'quarter' AS grain, s.sign, s.workspace_id,
               date_bin('15 minutes', s.ts, timestamptz '2000-01-01 00:00:00+00') AS period_start,
               s.data_mode, s.environment, s.provider, s.model, NULL::text AS key,
               sum(s.requests)::numeric AS requests, sum(s.errors)::numeric AS errors,
               sum(s.input_tokens)::numeric AS input_tokens, sum(s.output_tokens)::numeric AS output_tokens,
               sum(s.total_tokens)::numeric AS total_tokens, sum(s.cached_input_tokens)::numeric AS cached_input_tokens,
               sum(s.reasoning_tokens)::numeric AS reasoning_tokens, sum(s.cost_usd) AS cost_usd,
               sum(s.unpriced_requests)::numeric AS unpriced_requests, sum(s.unpriced_tokens)::numeric AS unpriced_tokens,
               sum(s.latency_count)::numeric AS latency_count, sum(s.latency_sum_ms)::numeric AS latency_sum_ms,
               opsmeter.latency_histogram_of(s.latency_bucket, s.latency_count) AS latency_counts
          FROM sides s
         WHERE s.summarized
         GROUP BY s.sign, s.workspace_id, 6, s.data_mode, s.environment, s.provider, s.model
        UNION ALL
        SELECT 'summary_quarters', 'model', 'quarter', 1, q.workspace_id, q.period_start, q.data_mode, q.environment,
               q.provider, q.model, NULL, q.requests, q.errors, q.input_tokens, q.output_tokens, q.total_tokens,
               q.cached_input_tokens, q.reasoning_tokens, q.cost_usd, q.unpriced_requests, q.unpriced_tokens,
               q.latency_count, q.latency_sum_ms, q.latency_counts
          FROM bounds b
          JOIN opsmeter.summary_quarters q ON q.workspace_id = b.workspace_id
                                          AND q.period_start >= b.lo AND q.period_start < b.hi
        UNION ALL
        -- tier 2, from the rows of detailed days: hourly rows, grouped as
        -- opsmeter._fold_detail() groups them, and daily rows
        SELECT 'summaries', dim.dimension, g.grain, s.sign, s.workspace_id,
               CASE g.grain WHEN 'hour' THEN date_trunc('hour', s.ts, 'UTC') ELSE date_trunc('day', s.ts, 'UTC') END,
               s.data_mode, s.environment,
               CASE WHEN dim.dimension = 'model' THEN s.provider END, CASE WHEN dim.dimension = 'model' THEN s.model END,
               CASE dim.dimension WHEN 'user' THEN s.user_id WHEN 'tenant' THEN s.tenant_id
                                  WHEN 'endpoint' THEN s.endpoint_tag WHEN 'prompt_version' THEN s.prompt_version END,
               sum(s.requests), sum(s.errors), sum(s.input_tokens), sum(s.output_tokens), sum(s.total_tokens),
               sum(s.cached_input_tokens), sum(s.reasoning_tokens), sum(s.cost_usd), sum(s.unpriced_requests),
               sum(s.unpriced_tokens), sum(s.latency_count), sum(s.latency_sum_ms),
               CASE WHEN dim.dimension = 'overview' THEN opsmeter.latency_histogram_of(s.latency_bucket, s.latency_count) END
          FROM sides s
         CROSS JOIN (VALUES ('overview'), ('model'), ('user'), ('tenant'), ('endpoint'), ('prompt_version')) dim(dimension)
         CROSS JOIN (VALUES ('hour'), ('day')) g(grain)
         WHERE s.detailed
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
        UNION ALL
        SELECT 'summaries', t.dimension::text, t.grain::text, 1, t.workspace_id, t.period_start, t.data_mode, t.environment,
               t.provider, t.model, t.key, t.requests, t.errors, t.input_tokens, t.output_tokens, t.total_tokens,
               t.cached_input_tokens, t.reasoning_tokens, t.cost_usd, t.unpriced_requests, t.unpriced_tokens,
               t.latency_count, t.latency_sum_ms, t.latency_counts
          FROM bounds b
          JOIN opsmeter.summaries t ON t.workspace_id = b.workspace_id
                                   AND t.period_start >= b.lo AND t.period_start < b.hi
    ), numbers AS (
        -- one row per number, for the periods wholly inside the bounds
        SELECT g.tier, g.dimension, g.grain, g.sign, g.workspace_id, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key, m.measure, m.value
          FROM grouped g
          JOIN days b ON b.workspace_id = g.workspace_id AND b.day = (g.period_start AT TIME ZONE 'UTC')::date
         CROSS JOIN LATERAL (
                SELECT v.measure, v.value
                  FROM (VALUES ('requests', g.requests), ('errors', g.errors), ('input_tokens', g.input_tokens),
                               ('output_tokens', g.output_tokens), ('total_tokens', g.total_tokens),
                               ('cached_input_tokens', g.cached_input_tokens), ('reasoning_tokens', g.reasoning_tokens),
                               ('cost_usd', g.cost_usd), ('unpriced_requests', g.unpriced_requests),
                               ('unpriced_tokens', g.unpriced_tokens), ('latency_count', g.latency_count),
                               ('latency_sum_ms', g.latency_sum_ms)) v(measure, value)
                UNION ALL
                SELECT 'latency_counts[' || i || ']', g.latency_counts[i]::numeric
                  FROM generate_subscripts(g.latency_counts, 1) i) m
         WHERE g.period_start >= b.lo
           AND g.period_start + CASE g.grain WHEN 'quarter' THEN interval '15 minutes' WHEN 'hour' THEN interval '1 hour'
                                             ELSE interval '1 day' END <= b.hi
        UNION ALL
        -- the rolled-up rows of each day
        SELECT 'rollup_days', NULL, 'day', 1, d.workspace_id, d.day_start, NULL, NULL, NULL, NULL, NULL,
               'requests', coalesce(d.rolled_up, 0)::numeric
          FROM days d
         WHERE d.day_start >= d.lo AND d.day_end <= d.hi
        UNION ALL
        SELECT 'rollup_days', NULL, 'day', s.sign, s.workspace_id, d.day_start, NULL, NULL, NULL, NULL, NULL,
               'requests', s.requests::numeric
          FROM sides s
          JOIN days d ON d.workspace_id = s.workspace_id AND s.ts >= d.day_start AND s.ts < d.day_end
         WHERE d.day_start >= d.lo AND d.day_end <= d.hi
    )
    SELECT n.workspace_id, n.tier, n.dimension, n.grain, n.period_start, n.data_mode, n.environment,
           n.provider, n.model, n.key, n.measure,
           coalesce(sum(n.value) FILTER (WHERE n.sign = 1), 0), coalesce(sum(n.value) FILTER (WHERE n.sign = -1), 0)
      FROM numbers n
     GROUP BY n.workspace_id, n.tier, n.dimension, n.grain, n.period_start, n.data_mode, n.environment,
              n.provider, n.model, n.key, n.measure
    HAVING coalesce(sum(n.value) FILTER (WHERE n.sign = 1), 0) <> coalesce(sum(n.value) FILTER (WHERE n.sign = -1), 0)
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
$$;

-- Who may verify what: superusers and members of opsmeter_admin every
-- workspace (workspace NULL) or the one named; anyone else a workspace
-- they own or administer (the named one, else the active one).
CREATE FUNCTION opsmeter._opsmeter_verify_impl(caller regrole, range_start timestamptz, range_end timestamptz,
                                               workspace text)
RETURNS TABLE (workspace_name text, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws_list bigint[];
    r record;
BEGIN
    IF range_start IS NULL OR range_end IS NULL OR NOT range_start < range_end THEN
        RAISE EXCEPTION 'invalid range: range_start must be earlier than range_end, and neither NULL'
            USING ERRCODE = '22023',
                  HINT = 'Give range_start < range_end, e.g. opsmeter_verify(now() - interval ''7 days'', now()).';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles x WHERE x.oid = caller AND x.rolsuper)
       OR pg_has_role(caller, 'opsmeter_admin', 'MEMBER') THEN
        SELECT array_agg(w.workspace_id) INTO ws_list FROM opsmeter.workspaces w
         WHERE _opsmeter_verify_impl.workspace IS NULL OR w.name = _opsmeter_verify_impl.workspace;
        IF ws_list IS NULL AND _opsmeter_verify_impl.workspace IS NOT NULL THEN
            RAISE EXCEPTION 'workspace "%" does not exist', _opsmeter_verify_impl.workspace USING ERRCODE = '42704';
        END IF;
    ELSE
        SELECT x.workspace_id, x.role INTO r FROM opsmeter._resolve_workspace(caller, _opsmeter_verify_impl.workspace) x;
        IF r.role NOT IN ('owner', 'admin') THEN
            RAISE EXCEPTION 'permission denied to verify workspace "%"',
                            (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = r.workspace_id)
                USING ERRCODE = '42501',
                      DETAIL = format('Role %s has role %s in this workspace.', caller, r.role),
                      HINT = 'Owners and admins of a workspace verify it; members of opsmeter_admin verify any.';
        END IF;
        ws_list := ARRAY[r.workspace_id];
    END IF;
    RETURN QUERY
        SELECT w.name, v.tier, v.dimension, v.grain, v.period_start, v.data_mode, v.environment,
               v.provider, v.model, v.key, v.measure, v.summarized, v.raw
          FROM opsmeter._verify(coalesce(ws_list, '{}'), range_start, range_end) v
          JOIN opsmeter.workspaces w ON w.workspace_id = v.workspace_id;
END
$$;

CREATE FUNCTION @extschema@.opsmeter_verify(range_start timestamptz, range_end timestamptz, workspace text DEFAULT NULL)
RETURNS TABLE (workspace_name text, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.opsmeter_verify(timestamptz, timestamptz, text) IS
    'every difference between the summaries (with pending rows) and the raw rows in a range; no row means exact (owners and admins of a workspace; opsmeter_admin for all)';
