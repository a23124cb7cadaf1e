------------------------------------------------------------------------------
-- Analytics: summaries for what is rolled up, plus the pending rows
------------------------------------------------------------------------------
-- Filters: "all" or a list, from the argument, else the session GUC
-- (opsmeter.data_mode defaults to real, opsmeter.environment to all).
CREATE FUNCTION opsmeter.data_mode_filter(spec text DEFAULT NULL) RETURNS opsmeter.data_mode[]
    AS 'MODULE_PATHNAME', 'opsmeter_data_mode_filter' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.environment_filter(spec text DEFAULT NULL) RETURNS opsmeter.environment[]
    AS 'MODULE_PATHNAME', 'opsmeter_environment_filter' LANGUAGE C STABLE PARALLEL SAFE;
-- opsmeter.range as an interval (days, hours or minutes); NULL when empty.
CREATE FUNCTION opsmeter.session_range() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_session_range' LANGUAGE C STABLE PARALLEL SAFE;

-- Start of the reporting window of a range, in the session TimeZone.  Whole
-- days (or months): the last N calendar days, today included, from local
-- midnight.  Whole hours: the last N hours, the current one included, from
-- the local hour ('24 hours' is a rolling day, not "since midnight").
-- Anything finer: from the minute.  Every boundary is a local one, so in
-- Asia/Kathmandu an hourly window starts at :15 UTC.  C (src/filters.c):
-- every view computes it, and compiling it as PL/pgSQL cost a fresh
-- session 1.2 ms.
CREATE FUNCTION opsmeter.window_start(range interval) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_window_start' LANGUAGE C STABLE PARALLEL SAFE;

-- Start of the session window of the views: opsmeter.range if the session
-- set it, else -infinity (everything retained; a BI tool filters by day).
CREATE FUNCTION opsmeter.session_window_start() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_session_window_start' LANGUAGE C STABLE PARALLEL SAFE;

-- Oldest instant whose rows every answer still has, for a workspace:
-- detail (raw rows and detail summaries) and coarse (overview and model
-- summaries).  Windows are cut there, so an answer is the same before and
-- after a retention pass.  One primary-key lookup (effective_retention()
-- computes every workspace's), with the same formula: retention_of().
CREATE FUNCTION opsmeter.retained_from(ws bigint, OUT raw_from timestamptz, OUT summary_from timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - r.raw, now() - r.summary
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
     WHERE w.workspace_id = ws
$$;

-- Whether the active workspace has any row a view could show: a raw row
-- (each has its dedup key) or a rolled-up day.  Direct index probes in C
-- (src/reader.c), nothing planned; the views and lists test it first, so a
-- workspace with nothing costs no more than that (no PL/pgSQL, no
-- partition of opsmeter.events opened).
CREATE FUNCTION opsmeter.workspace_has_rows() RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_workspace_has_rows' LANGUAGE C STABLE PARALLEL SAFE;

-- ts rounded down / up to a multiple of step counted from a UTC midnight
-- (15 minutes, 1 hour, 1 day: UTC quarters, hours, days); infinities stay.
CREATE FUNCTION opsmeter.floor_to(ts timestamptz, step interval) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN pg_catalog.isfinite(ts) THEN pg_catalog.date_bin(step, ts, timestamptz '2000-01-01 00:00:00+00') ELSE ts END;
CREATE FUNCTION opsmeter.ceil_to(ts timestamptz, step interval) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN opsmeter.floor_to(ts, step) OPERATOR(pg_catalog.=) ts THEN ts
            ELSE opsmeter.floor_to(ts, step) OPERATOR(pg_catalog.+) step END;

-- The raw rows of the active workspace in [from_ts, to_ts), every batch,
-- summed per value of one dimension (per mode and environment for the
-- overview; NULL there for the lists, as facts() allows), as facts
-- (below), with its NULL unpriced sums for the dimensions other than
-- overview and model.  Inlined into facts(), whose plan then
-- prunes the partitions with its bounds; so it has no SET clause (that
-- would stop the inlining) and names every operator with its schema.
-- Two branches, one per kind of dimension; facts() plans each call with
-- its values, so the branch whose dim test is false is left out at plan
-- time.  Only the overview carries the latency histogram: its aggregate
-- has no combine function and an internal state the planner sizes at
-- 8 kB a group, so with it in every list a user list over a month of a
-- workspace of 6,700 events a day was sorted on disk, by one process
-- (a 16 MB spill; 225 ms where the same question asked by hand takes 60),
-- where without it the rows are grouped in a hash table by parallel
-- workers.
CREATE FUNCTION opsmeter.raw_facts(dim opsmeter.summary_dimension, ws bigint, from_ts timestamptz, to_ts timestamptz,
                                   modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint,
               latency_counts bigint[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT e.data_mode, e.environment, NULL::text, NULL::text, NULL::text,
           pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE e.is_error),
           pg_catalog.sum(e.input_tokens), pg_catalog.sum(e.output_tokens), pg_catalog.sum(e.total_tokens),
           coalesce(pg_catalog.sum(e.cost_usd), 0), pg_catalog.count(*) FILTER (WHERE e.cost_usd IS NULL),
           coalesce(pg_catalog.sum(e.total_tokens) FILTER (WHERE e.cost_usd IS NULL), 0),
           pg_catalog.count(e.latency_ms), coalesce(pg_catalog.sum(e.latency_ms), 0),
           opsmeter.latency_histogram_of(e.latency_ms, 1)
      FROM opsmeter.events e
     WHERE e.workspace_id OPERATOR(pg_catalog.=) ws
       AND e.ts OPERATOR(pg_catalog.>=) from_ts AND e.ts OPERATOR(pg_catalog.<) to_ts
       AND e.data_mode OPERATOR(pg_catalog.=) ANY (modes) AND e.environment OPERATOR(pg_catalog.=) ANY (envs)
       AND dim OPERATOR(pg_catalog.=) 'overview'
     GROUP BY 1, 2
    UNION ALL
    SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN e.provider END,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN e.model END,
           CASE dim WHEN 'user' THEN e.user_id WHEN 'tenant' THEN e.tenant_id
                    WHEN 'endpoint' THEN e.endpoint_tag WHEN 'prompt_version' THEN e.prompt_version END,
           pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE e.is_error),
           pg_catalog.sum(e.input_tokens), pg_catalog.sum(e.output_tokens), pg_catalog.sum(e.total_tokens),
           coalesce(pg_catalog.sum(e.cost_usd), 0),
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN pg_catalog.count(*) FILTER (WHERE e.cost_usd IS NULL) END,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model'
                THEN coalesce(pg_catalog.sum(e.total_tokens) FILTER (WHERE e.cost_usd IS NULL), 0) END,
           pg_catalog.count(e.latency_ms), coalesce(pg_catalog.sum(e.latency_ms), 0),
           NULL::bigint[]
      FROM opsmeter.events e
     WHERE e.workspace_id OPERATOR(pg_catalog.=) ws
       AND e.ts OPERATOR(pg_catalog.>=) from_ts AND e.ts OPERATOR(pg_catalog.<) to_ts
       AND e.data_mode OPERATOR(pg_catalog.=) ANY (modes) AND e.environment OPERATOR(pg_catalog.=) ANY (envs)
       AND dim OPERATOR(pg_catalog.<>) 'overview'
     GROUP BY 3, 4, 5
$$;

-- The sums per label of a model, user, tenant, endpoint or prompt-version
-- list (src/detail_sums.c): the summary rows of workspace ws, hourly in
-- [h_from, d_from) and [d_to, h_to) and daily in [d_from, d_to); the
-- pending raw rows in [greatest(lo, pending_from), hi) and the pending
-- adjustments in [lo, hi), of a batch above after_batch or in holes, on a
-- UTC day in days (NULL: any day); all of a mode in modes and an
-- environment in envs.  Summed in memory, or by SQL when the labels
-- outgrow the hash memory; several rows may carry one label.  It reads as
-- its caller, under the tables' row-level security, like facts().
CREATE FUNCTION opsmeter.detail_sums(dim opsmeter.summary_dimension, ws bigint,
                                     h_from timestamptz, d_from timestamptz, d_to timestamptz, h_to timestamptz,
                                     lo timestamptz, hi timestamptz, pending_from timestamptz,
                                     after_batch bigint, holes bigint[], days date[],
                                     modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint)
    AS 'MODULE_PATHNAME', 'opsmeter_detail_sums' LANGUAGE C STABLE;

-- The measures of one dimension in [from_ts, to_ts) for the active
-- workspace, filtered, as rows that callers add up: summary rows for what
-- is rolled up, plus the pending raw rows and adjustments, plus raw rows
-- where summaries cannot answer (those two summed per value as they are
-- read; for every list but the overview, summary rows and pending rows
-- are summed together by detail_sums()).  latency_counts is the histogram, for
-- the overview only; unpriced_requests and unpriced_tokens are for
-- overview and model only, NULL for the other dimensions, whose views do
-- not show them.  Every sum here is one more numeric addition per row
-- read: a week's user list reads 10,500 daily rows, and leaving out these
-- two sums and the cached and reasoning token sums that no caller read
-- took its facts() from 11.0 to 9.1-9.9 ms.
-- data_mode and environment are those of the rows a row sums, or NULL
-- where a row sums several (a list's raw rows, the rows of detailed
-- days): no caller reads them, both filters apply inside.  Exact
-- for any [from_ts, to_ts):
--   * a part finer than a quarter hour at either end comes from raw rows;
--   * overview and model: tier-1 quarters at both ends up to the UTC hour,
--     and over every day that is not detailed; tier-2 hourly rows, and
--     daily rows for whole UTC days, over the detailed days; raw rows, all
--     of them, on days not summarized yet (opsmeter.rollup_days);
--   * user, tenant, endpoint, prompt version: raw rows up to the UTC hour
--     at both ends and over every day that is not detailed; tier-2 rows
--     over the detailed days, as above.
-- A caller that groups by local day calls it once per local day: a UTC
-- hour (or day) row never straddles two local days inside one call's
-- window.  Rows are cut at the retention horizon of the dimension.
-- Seq scans are off for the BRIN reasons of _rollup(), and so is jit.
-- Sorts are off so that its groupings hash: the planner multiplies the
-- distinct values of each grouped column (mode x environment x provider x
-- model: 16,000 groups estimated for 36 real ones), sizes a hash table
-- past work_mem and sorts instead, on disk (a month of 6,000 events a day:
-- top_models 117 ms sorting, 52 ms hashing).  A hash table that does
-- outgrow work_mem spills to disk as a sort would.
-- Every call is planned with its values (plan_cache_mode), and every bound
-- is a plain variable: the planner then leaves out every partition outside
-- the window before opening or locking it.
CREATE FUNCTION opsmeter.facts(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                               modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint,
               latency_counts bigint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_sort = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();    -- same snapshot as w (a STABLE function)
    horizon record := opsmeter.retained_from(ws);
    coarse boolean := dim IN ('overview', 'model');
    -- No row is dated more than 5 minutes past the statement that wrote it.
    rows_end timestamptz := statement_timestamp() + interval '1 hour';
    q_from timestamptz;     -- [q_from, q_to): whole UTC quarter hours
    q_to timestamptz;
    h_from timestamptz;     -- [h_from, h_to): whole UTC hours
    h_to timestamptz;
    d_from timestamptz;     -- [d_from, d_to): whole UTC days read as daily rows
    d_to timestamptz;
    detailed date[];
    raw_only date[];        -- days not summarized yet: their raw rows answer every dimension
    lo timestamptz;
    hi timestamptz;
    raw boolean;
    every_day_here boolean;  -- every UTC day of [lo, hi) is one the pending part answers
    pending_from timestamptz;  -- no pending row is dated earlier
    every_env boolean := envs @> enum_range(NULL::opsmeter.environment);
BEGIN
    IF ws IS NULL THEN
        RETURN;
    END IF;
    from_ts := greatest(from_ts, CASE WHEN coarse THEN date_trunc('hour', horizon.summary_from, 'UTC')
                                      ELSE date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' END);
    -- A window that reaches past the newest possible row is open to now:
    -- it ends in the daily row of today, which each pass adds to as it adds
    -- to today's hours.
    IF to_ts >= rows_end THEN
        to_ts := 'infinity';
    END IF;
    IF from_ts >= to_ts THEN
        RETURN;
    END IF;
    q_from := opsmeter.ceil_to(from_ts, '15 minutes');
    q_to := greatest(q_from, opsmeter.floor_to(to_ts, '15 minutes'));
    h_from := least(opsmeter.ceil_to(q_from, '1 hour'), q_to);
    h_to := greatest(h_from, opsmeter.floor_to(q_to, '1 hour'));
    d_from := least(opsmeter.ceil_to(h_from, '1 day'), h_to);
    d_to := greatest(d_from, opsmeter.floor_to(h_to, '1 day'));
    SELECT coalesce(array_agg(r.day) FILTER (WHERE r.detail_rows IS NOT NULL), '{}'),
           coalesce(array_agg(r.day) FILTER (WHERE r.quarter_rows IS NULL), '{}')
      INTO detailed, raw_only
      FROM opsmeter.rollup_days r
     WHERE r.workspace_id = ws AND (r.detail_rows IS NOT NULL OR r.quarter_rows IS NULL)
       AND r.day >= (q_from AT TIME ZONE 'UTC')::date AND r.day <= (q_to AT TIME ZONE 'UTC')::date;

    -- No detailed day and every raw row of the window still retained (a
    -- small workspace, or a window of recent hours): the raw rows are the
    -- answer, in one range scan, as the same question asked by hand.
    IF detailed = '{}' AND from_ts >= date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' THEN
        hi := least(to_ts, rows_end);
        RETURN QUERY SELECT * FROM opsmeter.raw_facts(dim, ws, from_ts, hi, modes, envs);
        RETURN;
    END IF;

    -- The parts that raw rows or tier-1 quarters answer, each range once:
    -- the ends finer than summaries hold (raw rows); for overview and model
    -- the quarters at the ends; and the whole hours of days that are not
    -- detailed, one run of consecutive days of one kind at a time (for
    -- overview and model, quarters on summarized days; raw rows for the
    -- rest and on days not summarized yet).
    FOR lo, hi, raw IN
        SELECT r.lo, r.hi, r.raw OR (r.lo AT TIME ZONE 'UTC')::date = ANY (raw_only)
          FROM (VALUES (from_ts, CASE WHEN coarse THEN q_from ELSE h_from END, true),
                       (CASE WHEN coarse THEN q_to ELSE h_to END, to_ts, true),
                       (q_from, h_from, false),    -- both inside one UTC day
                       (h_to, q_to, false)) r(lo, hi, raw)
         WHERE r.raw OR coarse
        UNION ALL
        SELECT greatest(min(x.t), h_from), least(max(x.t) + interval '24 hours', h_to), x.raw
          FROM (SELECT t.t, k.raw,
                       t.t - (row_number() OVER (PARTITION BY k.raw ORDER BY t.t))::integer * interval '24 hours' AS run
                  FROM generate_series(opsmeter.floor_to(h_from, '1 day'),
                                       opsmeter.floor_to(least(h_to, rows_end) - interval '1 microsecond', '1 day'),
                                       interval '24 hours') t(t)
                 CROSS JOIN LATERAL (SELECT NOT coarse OR (t.t AT TIME ZONE 'UTC')::date = ANY (raw_only) AS raw) k
                 WHERE h_from < h_to AND (t.t AT TIME ZONE 'UTC')::date <> ALL (detailed)) x
         GROUP BY x.raw, x.run
    LOOP
        CONTINUE WHEN lo >= hi;
        IF raw THEN
            RETURN QUERY SELECT * FROM opsmeter.raw_facts(dim, ws, lo, hi, modes, envs);
        ELSE
            RETURN QUERY
            SELECT q.data_mode, q.environment,
                   CASE WHEN dim = 'model' THEN q.provider END, CASE WHEN dim = 'model' THEN q.model END, NULL::text,
                   q.requests, q.errors, q.input_tokens, q.output_tokens, q.total_tokens,
                   q.cost_usd, q.unpriced_requests, q.unpriced_tokens,
                   q.latency_count, q.latency_sum_ms, CASE WHEN dim = 'overview' THEN q.latency_counts END
              FROM opsmeter.summary_quarters q
             WHERE q.workspace_id = ws AND q.data_mode = ANY (modes) AND q.environment = ANY (envs)
               AND q.period_start >= lo AND q.period_start < hi;
        END IF;
    END LOOP;

    -- The pending rows where summaries answer: inside the quarters of
    -- summarized days (overview, model) or inside the hours of detailed
    -- days (the rest), summed per value (mode and environment NULL).  The
    -- test of each row's day is needed only where [lo, hi) holds a day of
    -- the other kind; in a big workspace's steady state it holds none, and
    -- the test cost 0.1 us a row (2 ms of a 7-day list over 20,000 pending
    -- rows).  Only the days that can hold pending rows are read (src/README.md,
    -- "Where pending rows can be"): in the steady state the current UTC
    -- day, not every day of the window, whose partitions each cost about
    -- 0.15 ms to plan and probe with none (10M-event cluster).
    lo := CASE WHEN coarse THEN q_from ELSE h_from END;
    hi := least(CASE WHEN coarse THEN q_to ELSE h_to END, rows_end);
    IF lo < hi AND (coarse OR detailed <> '{}') THEN
        SELECT least(opsmeter.unmarked_pending_from(), min(m.day)::timestamp AT TIME ZONE 'UTC')
          INTO pending_from
          FROM opsmeter.late_arrivals m
         WHERE m.workspace_id = ws AND m.day >= (lo AT TIME ZONE 'UTC')::date
           AND (m.ingest_batch > w OR m.ingest_batch = ANY (holes));
        every_day_here := CASE WHEN coarse THEN raw_only = '{}'
                               ELSE (SELECT count(*) FROM unnest(detailed) d
                                      WHERE d BETWEEN (lo AT TIME ZONE 'UTC')::date
                                                  AND ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date)
                                    = ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date
                                      - (lo AT TIME ZONE 'UTC')::date + 1 END;
    ELSE
        hi := lo;    -- no pending read
    END IF;

    -- The lists' summary rows of detailed days and their pending rows,
    -- summed per label in memory (src/detail_sums.c): a week's user list
    -- with 20,000 pending rows spent more of its time in SQL's hash
    -- aggregation and numeric sums than in reading the rows.  The days
    -- whose pending rows it reads: for the model list those summarized
    -- (quarters answer them), for the others those detailed.
    IF dim <> 'overview' THEN
        IF detailed <> '{}' OR lo < hi THEN
            RETURN QUERY
            SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, k.provider, k.model, k.key,
                   k.requests, k.errors, k.input_tokens, k.output_tokens, k.total_tokens, k.cost_usd,
                   CASE WHEN coarse THEN k.unpriced_requests END, CASE WHEN coarse THEN k.unpriced_tokens END,
                   k.latency_count, k.latency_sum_ms, NULL::bigint[]
              FROM opsmeter.detail_sums(dim, ws, h_from, d_from, d_to, h_to, lo, hi, pending_from, w, holes,
                                        CASE WHEN every_day_here OR lo >= hi THEN NULL
                                             WHEN NOT coarse THEN detailed
                                             ELSE ARRAY(SELECT (t.t AT TIME ZONE 'UTC')::date
                                                          FROM generate_series(date_trunc('day', lo, 'UTC'),
                                                                               hi - interval '1 microsecond',
                                                                               interval '24 hours') t(t)
                                                         WHERE (t.t AT TIME ZONE 'UTC')::date <> ALL (raw_only)) END,
                                        modes, envs) k;
        END IF;
        RETURN;
    END IF;

    -- The overview over detailed days: hourly rows at both ends,
    -- daily rows in between (only detailed days have any): one index range
    -- scan per (grain, from, to) of the VALUES list, no OR, summed here per
    -- value (data_mode and environment NULL).  Joined to the ranges, the
    -- scans hand their rows straight to the sum; as three UNION ALL
    -- branches they read a week in 5.4 ms instead of 5.0 (10M-event cluster).
    IF detailed <> '{}' THEN
        RETURN QUERY
        SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, s.provider, s.model, NULL::text,
               sum(s.requests)::bigint, sum(s.errors)::bigint, sum(s.input_tokens), sum(s.output_tokens),
               sum(s.total_tokens), sum(s.cost_usd), sum(s.unpriced_requests)::bigint, sum(s.unpriced_tokens),
               sum(s.latency_count)::bigint,
               sum(s.latency_sum_ms)::bigint,
               opsmeter.latency_histogram_sum(s.latency_counts)
          FROM (VALUES ('hour'::opsmeter.summary_grain, h_from, d_from), ('day', d_from, d_to),
                       ('hour', d_to, h_to)) r(grain, lo, hi)
          JOIN opsmeter.summaries s
            ON s.workspace_id = ws AND s.dimension = dim AND s.grain = r.grain
               AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
               AND s.period_start >= r.lo AND s.period_start < r.hi
         GROUP BY s.provider, s.model;    -- NULL in overview rows: one group, none when no row
    END IF;

    IF lo < hi THEN
        RETURN QUERY
        SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, NULL::text, NULL::text, NULL::text,
               sum(p.requests)::bigint, sum(p.errors)::bigint, sum(p.input_tokens), sum(p.output_tokens),
               sum(p.total_tokens), sum(p.cost_usd), sum(p.unpriced_requests)::bigint, sum(p.unpriced_tokens),
               sum(p.latency_count)::bigint,
               sum(p.latency_sum_ms)::bigint,
               opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count)
          FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
         WHERE p.workspace_id = ws
           AND p.ts >= lo AND p.ts < hi    -- partition pruning: plain variables
           AND (p.is_adjustment OR p.ts >= pending_from)    -- adjustments are on any day
           -- Filters the planner leaves out when they keep every row (every
           -- environment), or makes one comparison (one data mode, the
           -- default): "= ANY" of a list costs each row a loop over it,
           -- 0.4 ms of a 7-day list over 20,000 pending rows.  modes[1] is
           -- that one mode only in a 1-D list starting at 1 ('[2:2]={real}'
           -- and '{{real}}' hold one mode too).
           AND CASE WHEN cardinality(modes) = 1 AND array_ndims(modes) = 1 AND array_lower(modes, 1) = 1
                    THEN p.data_mode = modes[1] ELSE p.data_mode = ANY (modes) END
           AND (every_env OR p.environment = ANY (envs))
           AND (every_day_here    -- then the day test below is left out at plan time
                OR (p.ts AT TIME ZONE 'UTC')::date <> ALL (raw_only))
         GROUP BY 3;    -- a constant: one group, none when no row
    END IF;
END
$$;

-- The part of [from_ts, to_ts) that an answer about dim covers, as
-- facts() cuts it: from the hour of the summary horizon for overview and
-- model, from the hour after the raw horizon's for the other dimensions
-- (retained_from()), and up to now + 1 hour (no row is dated later).  One
-- row, or none when nothing is left (or there is no workspace).
CREATE FUNCTION opsmeter.retained_window(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (window_from timestamptz, window_to timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    horizon record := opsmeter.retained_from(ws);
BEGIN
    window_from := greatest(from_ts, CASE WHEN dim IN ('overview', 'model') THEN date_trunc('hour', horizon.summary_from, 'UTC')
                                          ELSE date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' END);
    window_to := least(to_ts, statement_timestamp() + interval '1 hour');
    IF ws IS NOT NULL AND window_from < window_to THEN
        RETURN NEXT;
    END IF;
END
$$;

-- The first instant of local day D in the session TimeZone: the earliest
-- instant whose local date is D.  D::timestamptz, except where midnight
-- happens twice (America/Havana's last day of summer time): then the
-- first of the two midnights, where PostgreSQL reads the second.  C
-- (src/filters.c), shared with window_start().
CREATE FUNCTION opsmeter.local_day_start(day date) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_local_day_start' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- The days of the session TimeZone in [from_ts, to_ts) (both finite),
-- oldest first, each with its part of the window [day_start, day_end): a
-- DST day is 23 or 25 hours long, a day whose midnight the clocks skip
-- (America/Santiago's first day of summer time) begins at 01:00, and one
-- whose midnight happens twice (America/Havana's last) at the first
-- (local_day_start()).  Counted in dates, each day from its own date:
-- adding '1 day' to the first day's start keeps its wall-clock time, so
-- after a skipped midnight every later day began at 01:00 and took the
-- next day's first hour (sql/analytics_zones.sql).  Inlined into its
-- callers: no SET clause, and every operator named with its schema.
CREATE FUNCTION opsmeter.local_days(from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.day, GREATEST(opsmeter.local_day_start(d.day), from_ts),
           LEAST(opsmeter.local_day_start(d.day OPERATOR(pg_catalog.+) 1), to_ts)
      FROM (SELECT from_ts::date OPERATOR(pg_catalog.+) i AS day
              FROM pg_catalog.generate_series(0, (to_ts OPERATOR(pg_catalog.-) interval '1 microsecond')::date
                                                 OPERATOR(pg_catalog.-) from_ts::date) i) d
$$;

-- The days of the session TimeZone in [from_ts, to_ts) that can hold rows
-- of the active workspace, oldest first, cut at the retention horizon of
-- the dimension: the days of its rolled-up rows (opsmeter.rollup_days) and
-- of its pending rows; every other day is empty and is left out.
-- day_start and day_end bound the day's part inside the window (a DST day
-- is 23 or 25 hours long).  The views with a "day" column are built on
-- these rows, so a BI tool's filter on day limits the days read.  Planned
-- with its values, like facts(): the pending rows' scan opens only the
-- partitions of the window.  (The ROWS estimates of it and of the per-day
-- functions keep the views' plans cheap enough that they never pay for
-- JIT compilation: with the default 1000 rows each, an empty overview
-- spent 10 ms compiling.)
CREATE FUNCTION opsmeter.report_days(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 31 SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();
    data_days date[];
BEGIN
    -- the horizon of facts(), so its first day holds what facts() keeps
    SELECT r.window_from, r.window_to INTO from_ts, to_ts FROM opsmeter.retained_window(dim, from_ts, to_ts) r;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(x.day), '{}') INTO data_days FROM (
        SELECT r.day FROM opsmeter.rollup_days r
         WHERE r.workspace_id = ws AND r.day >= (from_ts AT TIME ZONE 'UTC')::date
           AND r.day <= (to_ts AT TIME ZONE 'UTC')::date
        UNION
        SELECT (p.ts AT TIME ZONE 'UTC')::date
          FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
         WHERE p.workspace_id = ws AND p.ts >= from_ts AND p.ts < to_ts) x;
    RETURN QUERY
    SELECT d.day, d.day_start, d.day_end
      FROM opsmeter.local_days(from_ts, to_ts) d
     WHERE (d.day_start AT TIME ZONE 'UTC')::date = ANY (data_days)
        OR ((d.day_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date = ANY (data_days);
END
$$;

-- How a view reads the active workspace's window from from_ts on:
--   0: it has no row to show (as workspace_has_rows());
--   1: its raw rows alone answer it: no day of it is summarized
--      (opsmeter.rollup_days), so every rolled-up row of it is still a raw
--      row and no summary row describes it (the UTC day before from_ts
--      counts too: a local day can begin in it).  The views then read
--      the raw rows (workspace_rows(), in overview_of_day() and
--      ranked_rows_of_day()), by day or the whole window, instead of
--      calling facts(), so a small workspace's views cost less than its
--      raw question;
--   2: through facts() (also for a NULL from_ts).
-- window_days() and ranked_rows() evaluate it once and run only the part
-- it names.  Direct index probes in C (src/reader.c),
-- three at most plus one per key generation, nothing planned.
CREATE FUNCTION opsmeter.window_reader(from_ts timestamptz) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_window_reader' LANGUAGE C STABLE PARALLEL SAFE;

-- The active workspace's raw rows with from_ts <= ts < to_ts: the raw
-- path's reads (window_reader() 1).  C (src/reader.c): each partition the
-- window overlaps, by its (workspace_id, ts) index, with the query's
-- snapshot, and nothing planned: a scan of opsmeter.events planned every
-- partition of the window in every call, which for a small workspace cost
-- as much as reading its rows.  It shows what SELECT on opsmeter.events
-- shows the caller: that privilege is checked, and the rows are of the
-- workspace the caller acts in, which events_read lets it read.
CREATE FUNCTION opsmeter.workspace_rows(from_ts timestamptz, to_ts timestamptz) RETURNS SETOF opsmeter.events
    AS 'MODULE_PATHNAME', 'opsmeter_workspace_rows' LANGUAGE C STABLE STRICT ROWS 1000;

-- No row of opsmeter.events is older than this: the lower bound of its
-- oldest partition (-infinity with a default partition, infinity with
-- none).  C (src/reader.c), from the partition bounds.
CREATE FUNCTION opsmeter.events_lower_bound() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_events_lower_bound' LANGUAGE C STABLE PARALLEL SAFE;

-- The days of [from_ts, to_ts) for the views with a "day" column (the
-- overview, the daily_* views, overview_rows()), oldest first, each with
-- its part of the window [day_start, day_end), for the caller to read one
-- day at a time with overview_of_day() or ranked_rows_of_day():
--   * raw false: through facts(); the days of report_days(), those that
--     can hold a row;
--   * raw true, when the raw rows alone answer the window (window_reader()
--     1): from the raw rows (workspace_rows()); every local day of the
--     part retained_window() keeps, from the oldest partition on.
-- So a caller's filter on day applies to these rows before any day is
-- read, on either path: a BI tool's WHERE day >= ... reads those days only.
CREATE FUNCTION opsmeter.window_days(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz, raw boolean)
LANGUAGE plpgsql STABLE ROWS 31 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    how integer := opsmeter.window_reader(from_ts);
BEGIN
    IF how = 2 THEN
        RETURN QUERY SELECT d.day, d.day_start, d.day_end, false FROM opsmeter.report_days(dim, from_ts, to_ts) d;
    ELSIF how = 1 THEN
        -- from the oldest partition at the earliest: with no window set the
        -- overview's part reaches back to the summary horizon (a year by
        -- default), and a raw window has rows in partitions only
        RETURN QUERY SELECT d.day, d.day_start, d.day_end, true
                       FROM opsmeter.retained_window(dim, from_ts, to_ts) w,
                            LATERAL (SELECT greatest(w.window_from, opsmeter.events_lower_bound()) AS window_from) f,
                            LATERAL opsmeter.local_days(f.window_from, w.window_to) d
                      WHERE f.window_from < w.window_to;
    END IF;
END
$$;

-- The overview of one local day [day_start, day_end) of window_days():
-- through facts(), or, for a day whose raw rows alone answer it (raw),
-- from the rows of workspace_rows(); one row, or none if it has no rows.
-- One PL/pgSQL function for both: a view joins one per-day reader, which
-- a session compiles once and only when a view reads a day (so an empty
-- workspace's view plans neither query), and whose queries it prepares
-- once (a SQL function called per day was planned again in every call).
-- Generic plans: nothing in them depends on the values (the partitions
-- are workspace_rows()' business, facts() plans its own), and the planner
-- otherwise kept choosing a custom plan, planned again for every day
-- (60 and 175 us a day instead of 29 and 67, with the raw rows).
-- p95 is the upper bound of the latency bucket holding the 95th percentile
-- (nearest rank); money as in ranked_rows().
CREATE FUNCTION opsmeter.overview_of_day(day_start timestamptz, day_end timestamptz,
                                         modes opsmeter.data_mode[], envs opsmeter.environment[], raw boolean)
RETURNS TABLE (requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE plpgsql STABLE STRICT ROWS 1 SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF raw THEN
        RETURN QUERY
        SELECT count(*), count(*) FILTER (WHERE e.is_error),
               sum(e.input_tokens), sum(e.output_tokens), sum(e.total_tokens), trim_scale(coalesce(sum(e.cost_usd), 0)),
               count(*) FILTER (WHERE e.cost_usd IS NULL),
               round(sum(e.latency_ms)::numeric / nullif(count(e.latency_ms), 0), 2),
               opsmeter.latency_percentile(opsmeter.latency_histogram_of(e.latency_ms, 1), 0.95)
          FROM opsmeter.workspace_rows(day_start, day_end) e
         WHERE e.data_mode = ANY (modes) AND e.environment = ANY (envs)
        HAVING count(*) > 0;
    ELSE
        RETURN QUERY
        SELECT sum(f.requests)::bigint, sum(f.errors)::bigint,
               sum(f.input_tokens), sum(f.output_tokens), sum(f.total_tokens), trim_scale(sum(f.cost_usd)),
               sum(f.unpriced_requests)::bigint,
               round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
               opsmeter.latency_percentile(opsmeter.latency_histogram_sum(f.latency_counts), 0.95)
          FROM opsmeter.facts('overview', day_start, day_end, modes, envs) f
        HAVING sum(f.requests) <> 0;
    END IF;
END
$$;

-- Overview: one row per day of the session's TimeZone, each day read on
-- its own (window_days()): through facts(), or from its raw rows when
-- they alone answer.
CREATE FUNCTION opsmeter.overview_rows(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.day, o.requests, o.errors, o.input_tokens, o.output_tokens, o.total_tokens, o.cost_usd,
           o.unpriced_requests, o.avg_latency_ms, o.p95_latency_ms
      FROM opsmeter.window_days('overview', from_ts, to_ts) d
      CROSS JOIN LATERAL opsmeter.overview_of_day(d.day_start, d.day_end, modes, envs, d.raw) o
     WHERE opsmeter.workspace_has_rows()
     ORDER BY 1
$$;

-- A ranked list over one dimension.  Absent values group as 'unknown'.
-- Money is shown without trailing zeros (trim_scale), so a sum reads the
-- same whichever tier or raw rows it came from.  From facts(), or from one
-- grouped scan of the raw rows when they alone answer (window_reader()).
-- PL/pgSQL, so a session parses its two queries once: a SQL function's
-- body is parsed and planned again in every statement that calls it (1 ms
-- of a small workspace's 3.6 ms list, warm).
CREATE FUNCTION opsmeter.ranked_rows(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[], lim integer)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE plpgsql STABLE ROWS 100 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    how integer := opsmeter.window_reader(from_ts);
BEGIN
    IF how = 1 THEN
        RETURN QUERY
        SELECT r.provider, r.model, r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
               r.cost_usd, r.unpriced_requests, r.unpriced_tokens, r.avg_latency_ms, r.cost_per_request,
               r.tokens_per_request
          FROM opsmeter.retained_window(dim, from_ts, to_ts) w,
               LATERAL opsmeter.ranked_rows_of_day(dim, w.window_from, w.window_to, modes, envs, true) r
         ORDER BY r.cost_usd DESC, r.requests DESC, r.provider, r.model, r.key
         LIMIT lim;
    ELSIF how = 2 THEN
        RETURN QUERY
        SELECT x.* FROM (
            SELECT f.provider, f.model, coalesce(f.key, 'unknown') AS key,
                   sum(f.requests)::bigint AS requests, sum(f.errors)::bigint, sum(f.input_tokens),
                   sum(f.output_tokens), sum(f.total_tokens), trim_scale(sum(f.cost_usd)) AS cost_usd,
                   sum(f.unpriced_requests)::bigint, sum(f.unpriced_tokens),
                   round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
                   round(sum(f.cost_usd) / sum(f.requests), 6),
                   round(sum(f.total_tokens) / sum(f.requests), 2)
              FROM opsmeter.facts(dim, from_ts, to_ts, modes, envs) f
             GROUP BY f.provider, f.model, coalesce(f.key, 'unknown')
            HAVING sum(f.requests) <> 0) x
         ORDER BY x.cost_usd DESC, x.requests DESC, x.provider, x.model, x.key
         LIMIT lim;
    END IF;
END
$$;

-- ranked_rows() of [day_start, day_end): through facts() (ranked_rows()),
-- or, when the raw rows alone answer it (raw), from the rows of
-- workspace_rows(), grouped by value.  The daily_* views read one local
-- day of window_days() per call; ranked_rows() reads a whole window whose
-- raw rows answer it with one call.  PL/pgSQL, as overview_of_day().
CREATE FUNCTION opsmeter.ranked_rows_of_day(dim opsmeter.summary_dimension, day_start timestamptz, day_end timestamptz,
                                            modes opsmeter.data_mode[], envs opsmeter.environment[], raw boolean)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE plpgsql STABLE STRICT ROWS 100 SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF NOT raw THEN
        RETURN QUERY SELECT * FROM opsmeter.ranked_rows(dim, day_start, day_end, modes, envs, NULL);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT x.provider, x.model, x.key, count(*), count(*) FILTER (WHERE x.is_error),
           sum(x.input_tokens), sum(x.output_tokens), sum(x.total_tokens), trim_scale(coalesce(sum(x.cost_usd), 0)),
           CASE WHEN dim = 'model' THEN count(*) FILTER (WHERE x.cost_usd IS NULL) END,
           CASE WHEN dim = 'model' THEN coalesce(sum(x.total_tokens) FILTER (WHERE x.cost_usd IS NULL), 0) END,
           round(sum(x.latency_ms)::numeric / nullif(count(x.latency_ms), 0), 2),
           round(coalesce(sum(x.cost_usd), 0) / count(*), 6),
           round(sum(x.total_tokens) / count(*), 2)
      FROM (SELECT CASE WHEN dim = 'model' THEN e.provider END AS provider,
                   CASE WHEN dim = 'model' THEN e.model END AS model,
                   coalesce(CASE dim WHEN 'user' THEN e.user_id WHEN 'tenant' THEN e.tenant_id
                                     WHEN 'endpoint' THEN e.endpoint_tag WHEN 'prompt_version' THEN e.prompt_version END,
                            'unknown') AS key,
                   e.is_error, e.input_tokens, e.output_tokens, e.total_tokens, e.cost_usd, e.latency_ms
              FROM opsmeter.workspace_rows(day_start, day_end) e
             WHERE e.data_mode = ANY (modes) AND e.environment = ANY (envs)) x
     GROUP BY 1, 2, 3;
END
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

-- Views.  Session filters: opsmeter.data_mode (default real) and
-- opsmeter.environment (default all).  Window: opsmeter.range if the
-- session set it, else everything retained, so a BI tool that never heard
-- of opsmeter.range gets what its own WHERE asks for.  The views with a
-- "day" column are built per day of the session TimeZone (window_days()):
-- a filter on day limits which days are read at all, whether a day is read
-- through facts() or, when the raw rows alone answer the window
-- (window_reader(): no day of it summarized, as for a small workspace),
-- from its raw rows.  security_invoker: row level security applies to the
-- reader.
CREATE VIEW opsmeter.overview WITH (security_invoker = true) AS
    SELECT d.day, o.requests, o.errors, o.input_tokens, o.output_tokens, o.total_tokens, o.cost_usd,
           o.unpriced_requests, o.avg_latency_ms, o.p95_latency_ms
      FROM opsmeter.window_days('overview', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.overview_of_day(d.day_start, d.day_end,
                                                 opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) o
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.overview IS
    'per-day totals of the active workspace, one row per day of the session TimeZone (opsmeter.range, opsmeter.data_mode, opsmeter.environment)';
CREATE VIEW opsmeter.top_users WITH (security_invoker = true) AS
    SELECT r.key AS user_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('user', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_users IS 'users ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE VIEW opsmeter.top_tenants WITH (security_invoker = true) AS
    SELECT r.key AS tenant_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('tenant', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_tenants IS 'tenants ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE VIEW opsmeter.top_endpoints WITH (security_invoker = true) AS
    SELECT r.key AS endpoint_tag, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('endpoint', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_endpoints IS 'endpoint tags ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE VIEW opsmeter.prompt_versions WITH (security_invoker = true) AS
    SELECT r.key AS prompt_version, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('prompt_version', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.prompt_versions IS 'prompt versions ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE VIEW opsmeter.top_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('model', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_models IS 'provider/model pairs ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE VIEW opsmeter.daily_users WITH (security_invoker = true) AS
    SELECT d.day, r.key AS user_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('user', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('user', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_users IS 'users per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_tenants WITH (security_invoker = true) AS
    SELECT d.day, r.key AS tenant_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('tenant', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('tenant', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_tenants IS 'tenants per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_endpoints WITH (security_invoker = true) AS
    SELECT d.day, r.key AS endpoint_tag, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('endpoint', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('endpoint', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_endpoints IS 'endpoint tags per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_prompt_versions WITH (security_invoker = true) AS
    SELECT d.day, r.key AS prompt_version, r.requests, r.errors, r.input_tokens, r.output_tokens,
           r.total_tokens, r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('prompt_version', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('prompt_version', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_prompt_versions IS 'prompt versions per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_models WITH (security_invoker = true) AS
    SELECT d.day, r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('model', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('model', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_models IS 'provider/model pairs per day of the session TimeZone: filter and sum by day';
-- Models stored without a price in the window: what to add to the catalog.
CREATE VIEW opsmeter.unpriced_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.unpriced_requests AS requests, r.unpriced_tokens AS total_tokens
      FROM opsmeter.ranked_rows('model', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE r.unpriced_requests > 0 AND opsmeter.workspace_has_rows()
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
-- The export view, per day of the session TimeZone like the other "day"
-- views: a BI tool's filter on day limits the days read, and each day's
-- rows are planned with that day's bounds (opsmeter.export_rows()), so no
-- other partition is opened.  Cut at the session window (if set) and the
-- raw retention horizon; oldest first.
CREATE VIEW opsmeter.export WITH (security_invoker = true) AS
    SELECT x.ts, x.external_request_id, x.provider, x.model, x.input_tokens, x.output_tokens, x.total_tokens,
           x.cached_input_tokens, x.reasoning_tokens, x.latency_ms, x.status, x.error_code, x.prompt_version,
           x.endpoint_tag, x.user_id, x.tenant_id, x.data_mode, x.environment, x.cost_usd, x.pricing,
           x.ingested_by, x.metadata, d.day
      FROM opsmeter.report_days('user', opsmeter.session_window_start(), 'infinity') d
     CROSS JOIN LATERAL opsmeter.export_rows(d.day_start, least(d.day_end, statement_timestamp() + interval '1 hour'),
                                             opsmeter.data_mode_filter(), opsmeter.environment_filter()) x
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.export IS
    'request-level rows of the active workspace with their day in the session TimeZone (all retained rows unless opsmeter.range is set)';

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
