------------------------------------------------------------------------------
-- Summaries: two tiers of rollups of the raw rows (see src/README.md, "rollup")
------------------------------------------------------------------------------
-- Tier 1, opsmeter.summary_quarters: every rolled-up raw row of the
-- summarized workspace-days (opsmeter.rollup_days), grouped by workspace,
-- UTC quarter hour, data mode, environment and model, with the latency
-- histogram of the group.  Every current time zone's offset is a multiple
-- of 15 minutes, so any local day or hour is a sum of quarters; and a
-- group holds at least one raw row, so this tier never has more rows than
-- the raw rows it counts.  It answers the overview and the model list for
-- the summarized days, and it is what outlives the raw rows.  A day with
-- few rows (opsmeter.summarize_day_rows) is summarized only just before
-- its raw rows leave: until then they answer every question about it, and
-- a pass only counts them.
--
-- Tier 2, opsmeter.summaries: hourly and daily rows of every dimension,
-- written only for "detailed" workspace-days (opsmeter.rollup_days): days
-- with enough traffic that both tiers together stay within the day's raw
-- rows.  A small workspace's days are not detailed: its user, tenant,
-- endpoint and prompt-version lists read its raw rows, which are few.
CREATE TABLE opsmeter.summaries (
    workspace_id        bigint NOT NULL,
    dimension           opsmeter.summary_dimension NOT NULL,
    grain               opsmeter.summary_grain NOT NULL,
    period_start        timestamptz NOT NULL,    -- start of the UTC hour or day
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text,        -- dimension "model"
    model               text,        -- dimension "model"
    key                 text,        -- user, tenant, endpoint or prompt version; NULL = unknown
    requests            bigint NOT NULL,
    errors              bigint NOT NULL,
    -- token sums are numeric: 10^15 tokens per event cannot overflow them
    input_tokens        numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    total_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    reasoning_tokens    numeric NOT NULL,
    cost_usd            numeric NOT NULL,    -- sum over priced requests
    unpriced_requests   bigint NOT NULL,
    unpriced_tokens     numeric NOT NULL,
    latency_count       bigint NOT NULL,
    latency_sum_ms      bigint NOT NULL,
    latency_counts      bigint[]             -- dimension "overview": the latency histogram
);
-- data_mode and environment come before period_start: views filter them
-- with "= ANY (list)", which a btree seeks once per value, so each seek
-- reads only the window's rows of that mode and environment instead of
-- walking every mode and environment of the window.
CREATE UNIQUE INDEX summaries_grain_idx ON opsmeter.summaries
    (workspace_id, dimension, grain, data_mode, environment, period_start, provider, model, key) NULLS NOT DISTINCT;
COMMENT ON TABLE opsmeter.summaries IS
    'hourly and daily rollups of every dimension, for detailed workspace-days (opsmeter.rollup_days)';

CREATE TABLE opsmeter.summary_quarters (
    workspace_id        bigint NOT NULL,
    period_start        timestamptz NOT NULL,    -- start of the UTC quarter hour
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    requests            bigint NOT NULL,
    errors              bigint NOT NULL,
    input_tokens        numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    total_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    reasoning_tokens    numeric NOT NULL,
    cost_usd            numeric NOT NULL,
    unpriced_requests   bigint NOT NULL,
    unpriced_tokens     numeric NOT NULL,
    latency_count       bigint NOT NULL,
    latency_sum_ms      bigint NOT NULL,
    latency_counts      bigint[] NOT NULL    -- requests per latency bucket (opsmeter.latency_bucket)
);
CREATE UNIQUE INDEX summary_quarters_idx ON opsmeter.summary_quarters
    (workspace_id, data_mode, environment, period_start, provider, model);
COMMENT ON TABLE opsmeter.summary_quarters IS
    'every rolled-up raw row, per workspace, UTC quarter hour, mode, environment and model: never more rows than the raw rows';

-- One row per workspace and UTC day the rollup has seen.  quarter_rows is
-- NULL while the day is not summarized: it has fewer rolled-up rows than
-- opsmeter.summarize_day_rows, none of them in summary_quarters, and its
-- raw rows answer for it; the rollup summarizes it once it has that many,
-- and retention just before any of its raw rows leave.  detail_rows is NULL
-- while the day is not detailed; otherwise an upper bound of its rows in
-- opsmeter.summaries.  The rollup details a summarized day once both tiers
-- fit in its raw rows, and undoes it when they no longer do.
CREATE TABLE opsmeter.rollup_days (
    workspace_id bigint NOT NULL,
    day          date NOT NULL,              -- UTC day
    requests     bigint NOT NULL,            -- rolled-up raw rows of the day
    quarter_rows bigint,                     -- upper bound of its rows in summary_quarters; NULL: not summarized
    detail_rows  bigint,                     -- upper bound of its rows in summaries; NULL: not detailed
    checked_at   bigint NOT NULL DEFAULT 0,  -- requests when it was last found not worth detailing
    -- set when the workspace's own raw retention (shorter than the longest)
    -- deleted raw rows of the day: none before it is left, whatever the
    -- retention is later set to.  Such a day is never detailed from its
    -- raw rows again, and opsmeter_verify() checks it only after this.
    raw_deleted_before timestamptz,
    PRIMARY KEY (workspace_id, day)
);
COMMENT ON TABLE opsmeter.rollup_days IS
    'per workspace and UTC day: rolled-up rows, whether tier-1 rows exist (summarized) and whether hourly/daily rows of every dimension exist (detailed)';

-- Latency histograms: a bigint[] of request counts per bucket of
-- opsmeter.latency_bucket() (element i counts bucket index i - 1; leading
-- and trailing zeros are cut, so one request is one element, '[365:365]={1}').
-- Counts add up, so a p95 read from rolled-up quarters and from raw rows is
-- the same number.
CREATE FUNCTION opsmeter.latency_bucket(ms integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_latency_bucket' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.latency_bucket(integer) IS
    'upper bound (ms, inclusive) of the histogram bucket holding ms: exact below 128 ms, then at most 3.2% wide';
CREATE FUNCTION opsmeter._histogram_count(internal, integer, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_count' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter._histogram_merge(internal, bigint[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter._histogram_final(internal) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- (Aggregates run their support functions with the aggregate owner's rights.)
-- histogram of latencies (ms), each counted n times (n may be -1: a retraction)
CREATE AGGREGATE opsmeter.latency_histogram_of(latency_ms integer, n bigint) (
    SFUNC = opsmeter._histogram_count, STYPE = internal, FINALFUNC = opsmeter._histogram_final);
-- element-wise sum of histograms
CREATE AGGREGATE opsmeter.latency_histogram_sum(bigint[]) (
    SFUNC = opsmeter._histogram_merge, STYPE = internal, FINALFUNC = opsmeter._histogram_final);
CREATE FUNCTION opsmeter.latency_histogram_add(bigint[], bigint[]) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.latency_percentile(histogram bigint[], fraction double precision) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_latency_percentile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.latency_percentile(bigint[], double precision) IS
    'upper bound (ms) of the bucket holding the nearest-rank percentile of a latency histogram';

-- Corrections to rows that are already rolled up (opsmeter_reprice, the
-- cleanups): signed contributions (-1 for the old version of a row, +1 for
-- the new one), stamped with a batch number like raw rows.  The next pass
-- folds them into summaries and deletes them; until then the views add
-- them like raw rows above the watermark.
CREATE TABLE opsmeter.summary_adjustments (
    workspace_id        bigint NOT NULL,
    ingest_batch        bigint NOT NULL,
    ts                  timestamptz NOT NULL,
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    user_id             text,
    tenant_id           text,
    endpoint_tag        text,
    prompt_version      text,
    requests            integer NOT NULL,
    errors              integer NOT NULL,
    input_tokens        bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    cost_usd            numeric NOT NULL,
    unpriced_requests   integer NOT NULL,
    unpriced_tokens     bigint NOT NULL,
    latency_count       integer NOT NULL,
    latency_sum_ms      bigint NOT NULL,
    latency_bucket      integer
);
CREATE INDEX summary_adjustments_batch_idx ON opsmeter.summary_adjustments (ingest_batch);
COMMENT ON TABLE opsmeter.summary_adjustments IS
    'signed corrections to rolled-up rows, folded into summaries by the next pass';

-- Everything with a batch number in (after_batch, upto_batch] or in
-- also_batches, and not in except_batches, that is not in summaries yet,
-- one signed contribution per row: the raw rows, and the adjustments.  The
-- rollup folds exactly this set; the views add it to the summaries, with
-- the watermark's holes as also_batches.  The BRIN on ingest_batch finds
-- both the range and the listed batches.  (Inlined into its callers, so
-- their filters reach the scans.)  The batch test sits above the UNION
-- ALL, not in its branches, and every branch column has the column's
-- type: the planner then flattens the branches into one append of plain
-- table scans, each computing only the columns its caller reads.  With
-- the test inside, each branch stayed a subquery that computed all 24
-- columns of every row (the latency bucket too): a 7-day endpoint list
-- over 20,000 pending rows read them in 12.0 ms, and in 8.9 ms flattened
-- (its pending read alone, without the histogram, on a 10M-event cluster).
CREATE FUNCTION opsmeter.pending_contributions(after_batch bigint, upto_batch bigint,
                                               also_batches bigint[], except_batches bigint[])
RETURNS TABLE (is_adjustment boolean, workspace_id bigint, ts timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, user_id text, tenant_id text, endpoint_tag text, prompt_version text,
               requests integer, errors integer, input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, cost_usd numeric,
               unpriced_requests integer, unpriced_tokens bigint,
               latency_count integer, latency_sum_ms bigint, latency_bucket integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.is_adjustment, c.workspace_id, c.ts, c.data_mode, c.environment, c.provider, c.model,
           c.user_id, c.tenant_id, c.endpoint_tag, c.prompt_version, c.requests, c.errors,
           c.input_tokens, c.output_tokens, c.total_tokens, c.cached_input_tokens, c.reasoning_tokens,
           c.cost_usd, c.unpriced_requests, c.unpriced_tokens, c.latency_count, c.latency_sum_ms, c.latency_bucket
      FROM (SELECT false AS is_adjustment, e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
                   e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version,
                   1 AS requests, e.is_error::integer AS errors, e.input_tokens, e.output_tokens, e.total_tokens,
                   e.cached_input_tokens, e.reasoning_tokens, coalesce(e.cost_usd, 0) AS cost_usd,
                   (e.cost_usd IS NULL)::integer AS unpriced_requests,
                   CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END AS unpriced_tokens,
                   (e.latency_ms IS NOT NULL)::integer AS latency_count,
                   coalesce(e.latency_ms, 0)::bigint AS latency_sum_ms,
                   opsmeter.latency_bucket(e.latency_ms) AS latency_bucket, e.ingest_batch
              FROM opsmeter.events e
            UNION ALL
            SELECT true, a.workspace_id, a.ts, a.data_mode, a.environment, a.provider, a.model,
                   a.user_id, a.tenant_id, a.endpoint_tag, a.prompt_version,
                   a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens,
                   a.cached_input_tokens, a.reasoning_tokens, a.cost_usd,
                   a.unpriced_requests, a.unpriced_tokens, a.latency_count, a.latency_sum_ms, a.latency_bucket,
                   a.ingest_batch
              FROM opsmeter.summary_adjustments a) c
     WHERE ((c.ingest_batch OPERATOR(pg_catalog.>) after_batch AND c.ingest_batch OPERATOR(pg_catalog.<=) upto_batch)
            OR c.ingest_batch OPERATOR(pg_catalog.=) ANY (also_batches))
       AND c.ingest_batch OPERATOR(pg_catalog.<>) ALL (except_batches)
$$;

-- Every raw row (and adjustment) with ingest_batch <= watermark and not in
-- holes is counted in summaries exactly once, every other row is not
-- counted at all.  holes: the batches <= watermark that were in flight at
-- the last pass.  Both change only in the transaction that adds the rows
-- they cover.
-- bounds_read_at and holes_since say where the other rows can be
-- (opsmeter.late_arrivals below); NULL: not known yet.
-- The row is created by the first pass (not by this script), so that
-- pg_dump can carry it into a restored database without a collision.
CREATE TABLE opsmeter.rollup_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark    bigint NOT NULL DEFAULT 0,
    rolled_up_at timestamptz,
    holes        bigint[] NOT NULL DEFAULT '{}',
    bounds_read_at timestamptz,    -- every batch above the watermark was drawn after this
    holes_since  timestamptz       -- every batch in holes was drawn after this
);
COMMENT ON TABLE opsmeter.rollup_state IS
    'the rollup watermark: raw rows with ingest_batch <= watermark and not in holes are counted in summaries';

-- Where the pending rows can be (src/README.md): a batch writes no row
-- dated before the UTC day of its draw less an hour without naming that
-- day here, in the same transaction (src/storage.c); the pass deletes the
-- rows of the batches it rolls up.  So a view reads the pending rows of
-- the days from opsmeter.unmarked_pending_from() on, and of the days named
-- here, instead of every day of its window.
CREATE TABLE opsmeter.late_arrivals (
    workspace_id bigint NOT NULL,
    day          date NOT NULL,
    ingest_batch bigint NOT NULL,
    PRIMARY KEY (workspace_id, day, ingest_batch)
);
COMMENT ON TABLE opsmeter.late_arrivals IS
    'days before their batch''s draw that pending raw rows are on, per workspace; deleted when rolled up';

-- The watermark and the holes: C (src/retention.c), one read of the
-- singleton row with the query's snapshot (as SQL functions, every call
-- was planned again; the views read them once or more per day of a
-- window).
CREATE FUNCTION opsmeter.rollup_watermark() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_watermark' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.rollup_watermark() IS
    'raw rows with ingest_batch above this (or in opsmeter.rollup_holes()) are not in opsmeter.summaries yet';

CREATE FUNCTION opsmeter.rollup_holes() RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_holes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.rollup_holes() IS
    'batches at or below the watermark that were in flight at the last pass: not in opsmeter.summaries yet';

CREATE FUNCTION opsmeter.unmarked_pending_from() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_unmarked_pending_from' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.unmarked_pending_from() IS
    'no pending raw row is dated before this, except on the days opsmeter.late_arrivals names for its batch';

-- Waits until every transaction that has drawn an ingest batch number so
-- far has ended (the rollup barrier of 0.1.0; C, see src/retention.c).
CREATE FUNCTION opsmeter._wait_for_ingest_barrier() RETURNS void
    AS 'MODULE_PATHNAME', 'opsmeter_wait_for_ingest_barrier' LANGUAGE C VOLATILE;

-- The rollup bounds: upto, the sequence's last value, and inflight, the
-- batches of other transactions still in flight: every transaction that
-- drew a number <= upto and not in inflight has ended.  Never waits; NULL
-- when it cannot tell right now (C, see src/storage.c).
CREATE FUNCTION opsmeter._rollup_bounds(OUT upto bigint, OUT inflight bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_bounds' LANGUAGE C VOLATILE;

-- The in-memory grouping of a pass's contributions (src/rollup_groups.c,
-- src/README.md "In-memory grouping"): _group_pending() reads
-- pending_contributions() once and keeps, until the transaction ends, the
-- sums per workspace-day, per tier-1 group of the days already summarized
-- and per tier-2 hourly group of the days already detailed; it returns
-- false, keeping nothing, when the sums could not be exact within work_mem.
-- The readers return the kept sums of the same arguments (an error for any
-- other), in the columns of the SQL grouping they stand in for.
CREATE FUNCTION opsmeter._group_pending(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_group_pending' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_days(after_batch bigint, upto_batch bigint,
                                       also_batches bigint[], except_batches bigint[])
RETURNS TABLE (workspace_id bigint, day date, requests bigint, raw_rows bigint, adjustment_rows bigint)
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_days' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_quarters(after_batch bigint, upto_batch bigint,
                                           also_batches bigint[], except_batches bigint[],
                                           ws_list bigint[], day_list date[])
RETURNS TABLE (workspace_id bigint, data_mode opsmeter.data_mode, environment opsmeter.environment,
               period_start timestamptz, provider text, model text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cached_input_tokens numeric,
               reasoning_tokens numeric, cost_usd numeric, unpriced_requests bigint, unpriced_tokens numeric,
               latency_count bigint, latency_sum_ms numeric, latency_counts bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_quarters' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_hours(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[],
                                        ws_list bigint[], day_list date[])
RETURNS TABLE (workspace_id bigint, dimension text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cached_input_tokens numeric,
               reasoning_tokens numeric, cost_usd numeric, unpriced_requests bigint, unpriced_tokens numeric,
               latency_count bigint, latency_sum_ms numeric, latency_counts bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_hours' LANGUAGE C VOLATILE;

-- What a pass rolls up, per workspace and UTC day: the sum of the
-- contributions' requests (a correction that removes a row counts -1), and
-- how many raw rows and adjustments were read.  One hash aggregate over
-- the contributions; it writes nothing.
CREATE FUNCTION opsmeter._pending_days(after_batch bigint, upto_batch bigint,
                                       also_batches bigint[], except_batches bigint[])
RETURNS TABLE (workspace_id bigint, day date, requests bigint, raw_rows bigint, adjustment_rows bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.workspace_id, (p.ts AT TIME ZONE 'UTC')::date, sum(p.requests)::bigint,
           count(*) FILTER (WHERE NOT p.is_adjustment), count(*) FILTER (WHERE p.is_adjustment)
      FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) p
     GROUP BY 1, 2
$$;

-- Folds into tier 1 (opsmeter.summary_quarters), for the workspace-days
-- listed (ws_list[i], day_list[i]) only:
--   not from_raw: the contributions pending_contributions(after_batch,
--     upto_batch, also_batches, except_batches) of those days (a pass's
--     incremental fold of summarized days), grouped in memory by
--     _group_pending() when in_memory, else grouped here;
--   from_raw, (0, upto, '{}', except): all the rolled-up raw rows of days
--     being summarized (the raw rows already carry every correction), read
--     one day at a time by (workspace_id, ts).
-- Returns, per workspace and UTC day, how many groups it folded: an upper
-- bound of the quarter rows it created, as some groups add to existing
-- rows.  The groups go in in the order of the table's unique index, so the
-- upsert walks the index instead of jumping about it (a million groups in
-- random order took four times as long).  No nested loops: the planner,
-- which cannot see how many rows a batch range holds, would otherwise
-- rescan the list of days once per contribution (minutes for 30,000 days);
-- the reads of raw rows by day stay a nested loop, as nothing else can do
-- them.
CREATE FUNCTION opsmeter._fold_quarters(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[],
                                        ws_list bigint[], day_list date[], from_raw boolean,
                                        in_memory boolean)
RETURNS TABLE (workspace_id bigint, day date, groups bigint)
LANGUAGE sql SET search_path = pg_catalog, pg_temp SET enable_nestloop = off AS $$
    WITH contributions AS (
        -- by batch alone (the BRIN on ingest_batch), then matched to the
        -- listed days by a hash join: OFFSET 0 keeps the planner from
        -- reading each listed day through (workspace_id, ts) instead
        SELECT p.*
          FROM (SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT from_raw AND NOT in_memory OFFSET 0) p
          JOIN unnest(ws_list, day_list) d(workspace_id, day)
            ON d.workspace_id = p.workspace_id AND d.day = (p.ts AT TIME ZONE 'UTC')::date
        UNION ALL
        SELECT r.*
          FROM unnest(ws_list, day_list) d(workspace_id, day)
         CROSS JOIN LATERAL (
                SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT c.is_adjustment AND c.workspace_id = d.workspace_id
                   AND c.ts >= d.day::timestamp AT TIME ZONE 'UTC'
                   AND c.ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                OFFSET 0) r    -- kept a subquery, so its scans take the day as a parameter
         WHERE from_raw
    ), grouped AS (
        SELECT g.*
          FROM opsmeter._grouped_quarters(after_batch, upto_batch, also_batches, except_batches, ws_list, day_list) g
         WHERE in_memory AND NOT from_raw
        UNION ALL
        SELECT p.workspace_id, p.data_mode, p.environment,
               date_bin('15 minutes', p.ts, timestamptz '2000-01-01 00:00:00+00') AS period_start,
               p.provider, p.model,
               sum(p.requests) AS requests, sum(p.errors) AS errors, sum(p.input_tokens) AS input_tokens,
               sum(p.output_tokens) AS output_tokens, sum(p.total_tokens) AS total_tokens,
               sum(p.cached_input_tokens) AS cached_input_tokens, sum(p.reasoning_tokens) AS reasoning_tokens,
               sum(p.cost_usd) AS cost_usd, sum(p.unpriced_requests) AS unpriced_requests,
               sum(p.unpriced_tokens) AS unpriced_tokens, sum(p.latency_count) AS latency_count,
               sum(p.latency_sum_ms) AS latency_sum_ms,
               coalesce(opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count), '{}') AS latency_counts
          FROM contributions p
         GROUP BY 1, 2, 3, 4, 5, 6
    ), folded AS (
        INSERT INTO opsmeter.summary_quarters AS s
        SELECT g.workspace_id, g.period_start, g.data_mode, g.environment, g.provider, g.model,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens, g.cached_input_tokens,
               g.reasoning_tokens, g.cost_usd, g.unpriced_requests, g.unpriced_tokens, g.latency_count,
               g.latency_sum_ms, g.latency_counts
          FROM grouped g
         ORDER BY g.workspace_id, g.data_mode, g.environment, g.period_start, g.provider, g.model
        ON CONFLICT (workspace_id, data_mode, environment, period_start, provider, model) DO UPDATE
           SET requests = s.requests + excluded.requests,
               errors = s.errors + excluded.errors,
               input_tokens = s.input_tokens + excluded.input_tokens,
               output_tokens = s.output_tokens + excluded.output_tokens,
               total_tokens = s.total_tokens + excluded.total_tokens,
               cached_input_tokens = s.cached_input_tokens + excluded.cached_input_tokens,
               reasoning_tokens = s.reasoning_tokens + excluded.reasoning_tokens,
               cost_usd = s.cost_usd + excluded.cost_usd,
               unpriced_requests = s.unpriced_requests + excluded.unpriced_requests,
               unpriced_tokens = s.unpriced_tokens + excluded.unpriced_tokens,
               latency_count = s.latency_count + excluded.latency_count,
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
               latency_counts = opsmeter.latency_histogram_add(s.latency_counts, excluded.latency_counts)
    )
    SELECT g.workspace_id, (g.period_start AT TIME ZONE 'UTC')::date, count(*)
      FROM grouped g
     GROUP BY 1, 2
$$;

-- Folds contributions into tier 2 (opsmeter.summaries): hourly rows of
-- every dimension, and daily rows summed from them, for the workspace-days
-- listed (ws_list[i], day_list[i]) only.  Two uses:
--   with_adjustments: the contributions of a pass, for the days already
--     detailed (the incremental fold), their hourly rows grouped in memory
--     by _group_pending() when in_memory, else grouped here;
--   not with_adjustments, (0, upto, '{}', except): all the raw rows of a day
--     being detailed (the raw rows already carry every correction).
-- With count_only, it writes nothing and only counts the rows it would
-- create, grouping the keys alone.  Returns, per workspace and UTC day,
-- how many rows it created.
-- The contributions are read once, by batch (the BRIN on ingest_batch),
-- and matched to the list of days by a hash join (no nested loops, as in
-- _fold_quarters()).
CREATE FUNCTION opsmeter._fold_detail(after_batch bigint, upto_batch bigint,
                                      also_batches bigint[], except_batches bigint[],
                                      ws_list bigint[], day_list date[],
                                      with_adjustments boolean, count_only boolean, in_memory boolean)
RETURNS TABLE (workspace_id bigint, day date, new_rows bigint)
LANGUAGE sql SET search_path = pg_catalog, pg_temp SET enable_nestloop = off AS $$
    WITH contributions AS (
        -- a pass's new rows, by batch alone (the BRIN on ingest_batch, as
        -- tier 1 reads them).  No condition on workspace_id or ts here: with
        -- one, the planner reads the whole day of a busy workspace through
        -- (workspace_id, ts) to find its few new rows (350 ms for 50,000
        -- new rows among a million); "fresh" below keeps the listed days.
        SELECT p.*
          FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) p
         WHERE with_adjustments AND NOT in_memory
        UNION ALL
        -- a day's raw rows, by workspace and time (the btree on
        -- (workspace_id, ts) of the day's partition, one day at a time)
        -- (a lateral subquery: its scans take the day as a parameter)
        SELECT r.*
          FROM unnest(ws_list, day_list) d(workspace_id, day)
         CROSS JOIN LATERAL (
                SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT c.is_adjustment AND c.workspace_id = d.workspace_id
                   AND c.ts >= d.day::timestamp AT TIME ZONE 'UTC'
                   AND c.ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                OFFSET 0) r    -- kept a subquery, so it is not flattened into one hash join
         WHERE NOT with_adjustments
    ), fresh AS MATERIALIZED (
        SELECT c.*, date_trunc('hour', c.ts, 'UTC') AS hour
          FROM contributions c
          JOIN unnest(ws_list, day_list) d(workspace_id, day)
            ON d.workspace_id = c.workspace_id AND d.day = (c.ts AT TIME ZONE 'UTC')::date
    ), hourly AS (
        SELECT f.workspace_id,
               CASE WHEN GROUPING(f.provider, f.model) = 0 THEN 'model'
                    WHEN GROUPING(f.user_id) = 0 THEN 'user'
                    WHEN GROUPING(f.tenant_id) = 0 THEN 'tenant'
                    WHEN GROUPING(f.endpoint_tag) = 0 THEN 'endpoint'
                    WHEN GROUPING(f.prompt_version) = 0 THEN 'prompt_version'
                    ELSE 'overview' END::opsmeter.summary_dimension AS dimension,
               f.hour AS period_start,
               f.data_mode, f.environment, f.provider, f.model,
               CASE WHEN GROUPING(f.user_id) = 0 THEN f.user_id
                    WHEN GROUPING(f.tenant_id) = 0 THEN f.tenant_id
                    WHEN GROUPING(f.endpoint_tag) = 0 THEN f.endpoint_tag
                    WHEN GROUPING(f.prompt_version) = 0 THEN f.prompt_version END AS key,
               sum(f.requests) AS requests,
               sum(f.errors) AS errors,
               sum(f.input_tokens) AS input_tokens,
               sum(f.output_tokens) AS output_tokens,
               sum(f.total_tokens) AS total_tokens,
               sum(f.cached_input_tokens) AS cached_input_tokens,
               sum(f.reasoning_tokens) AS reasoning_tokens,
               sum(f.cost_usd) AS cost_usd,
               sum(f.unpriced_requests) AS unpriced_requests,
               sum(f.unpriced_tokens) AS unpriced_tokens,
               sum(f.latency_count) AS latency_count,
               sum(f.latency_sum_ms) AS latency_sum_ms
          FROM fresh f
         GROUP BY f.workspace_id, f.hour, f.data_mode, f.environment,
                  GROUPING SETS ((), (f.provider, f.model), (f.user_id), (f.tenant_id),
                                 (f.endpoint_tag), (f.prompt_version))
    ), histograms AS (
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               opsmeter.latency_histogram_of(f.latency_bucket, f.latency_count) AS counts
          FROM fresh f
         GROUP BY 1, 2, 3, 4
    ), hourly_rows AS (
        SELECT g.workspace_id, g.dimension::opsmeter.summary_dimension, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key, g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests, g.unpriced_tokens,
               g.latency_count, g.latency_sum_ms, g.latency_counts
          FROM opsmeter._grouped_hours(after_batch, upto_batch, also_batches, except_batches, ws_list, day_list) g
         WHERE in_memory AND with_adjustments
        UNION ALL
        SELECT h.*, CASE WHEN h.dimension = 'overview' THEN coalesce(x.counts, '{}') END AS latency_counts
          FROM hourly h
          LEFT JOIN histograms x ON h.dimension = 'overview' AND x.workspace_id = h.workspace_id
                                AND x.hour = h.period_start AND x.data_mode = h.data_mode
                                AND x.environment = h.environment
    ), grouped AS (
        SELECT h.workspace_id, h.dimension, 'hour'::opsmeter.summary_grain AS grain, h.period_start,
               h.data_mode, h.environment, h.provider, h.model, h.key, h.requests, h.errors,
               h.input_tokens, h.output_tokens, h.total_tokens, h.cached_input_tokens, h.reasoning_tokens,
               h.cost_usd, h.unpriced_requests, h.unpriced_tokens, h.latency_count, h.latency_sum_ms,
               h.latency_counts
          FROM hourly_rows h
        UNION ALL
        SELECT h.workspace_id, h.dimension, 'day', date_trunc('day', h.period_start, 'UTC'),
               h.data_mode, h.environment, h.provider, h.model, h.key, sum(h.requests), sum(h.errors),
               sum(h.input_tokens), sum(h.output_tokens), sum(h.total_tokens), sum(h.cached_input_tokens),
               sum(h.reasoning_tokens), sum(h.cost_usd), sum(h.unpriced_requests), sum(h.unpriced_tokens),
               sum(h.latency_count), sum(h.latency_sum_ms), opsmeter.latency_histogram_sum(h.latency_counts)
          FROM hourly_rows h
         GROUP BY h.workspace_id, h.dimension, date_trunc('day', h.period_start, 'UTC'), h.data_mode, h.environment,
                  h.provider, h.model, h.key
    ), counted_groups AS (
        -- count_only: the groups alone, no sums.  A day judged for
        -- detailing (_judge_days) is counted, not written, and grouping its
        -- sums and histograms too cost twice as much: 1.77 s against 0.88 s
        -- for 150,000 rows with a different user on each.
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               GROUPING(f.provider, f.model, f.user_id, f.tenant_id, f.endpoint_tag, f.prompt_version) AS grouping_set,
               f.provider, f.model, coalesce(f.user_id, f.tenant_id, f.endpoint_tag, f.prompt_version) AS key
          FROM fresh f
         WHERE count_only
         GROUP BY f.workspace_id, f.hour, f.data_mode, f.environment,
                  GROUPING SETS ((), (f.provider, f.model), (f.user_id), (f.tenant_id),
                                 (f.endpoint_tag), (f.prompt_version))
    ), merged AS (
        INSERT INTO opsmeter.summaries AS s
        SELECT g.workspace_id, g.dimension, g.grain, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests,
               g.unpriced_tokens, g.latency_count, g.latency_sum_ms, g.latency_counts
          FROM grouped g
         WHERE NOT count_only
         -- in the unique index's order: a view reads a dimension's rows of
         -- a day by that index, and finds them on a few heap pages instead
         -- of one page per row (10,490 buffers for 10,364 day rows before)
         ORDER BY g.workspace_id, g.dimension, g.grain, g.data_mode, g.environment, g.period_start,
                  g.provider, g.model, g.key
        ON CONFLICT (workspace_id, dimension, grain, period_start, data_mode, environment, provider, model, key) DO UPDATE
           SET requests = s.requests + excluded.requests,
               errors = s.errors + excluded.errors,
               input_tokens = s.input_tokens + excluded.input_tokens,
               output_tokens = s.output_tokens + excluded.output_tokens,
               total_tokens = s.total_tokens + excluded.total_tokens,
               cached_input_tokens = s.cached_input_tokens + excluded.cached_input_tokens,
               reasoning_tokens = s.reasoning_tokens + excluded.reasoning_tokens,
               cost_usd = s.cost_usd + excluded.cost_usd,
               unpriced_requests = s.unpriced_requests + excluded.unpriced_requests,
               unpriced_tokens = s.unpriced_tokens + excluded.unpriced_tokens,
               latency_count = s.latency_count + excluded.latency_count,
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
               latency_counts = CASE WHEN s.dimension = 'overview'
                                     THEN opsmeter.latency_histogram_add(s.latency_counts, excluded.latency_counts) END
        RETURNING s.workspace_id, s.period_start, s.xmax = 0 AS inserted
    )
    SELECT m.workspace_id, (m.period_start AT TIME ZONE 'UTC')::date, count(*) FILTER (WHERE m.inserted)
      FROM merged m
     WHERE NOT count_only
     GROUP BY 1, 2
    UNION ALL
    -- the hourly rows, plus the daily rows: the distinct groups of a day
    SELECT c.workspace_id, c.day, sum(c.row_count)::bigint
      FROM (SELECT h.workspace_id, (h.hour AT TIME ZONE 'UTC')::date AS day, count(*) AS row_count
              FROM counted_groups h
             GROUP BY 1, 2
            UNION ALL
            SELECT d.workspace_id, d.day, count(*)
              FROM (SELECT DISTINCT h.workspace_id, (h.hour AT TIME ZONE 'UTC')::date AS day, h.grouping_set,
                           h.data_mode, h.environment, h.provider, h.model, h.key
                      FROM counted_groups h) d
             GROUP BY 1, 2) c
     WHERE count_only
     GROUP BY 1, 2
$$;

-- Judges workspace-days (opsmeter.rollup_days), given as two arrays, with
-- the raw rows of batches <= upto_batch and not in except_batches rolled
-- up: a summarized day that is not detailed, once it has at least 256
-- rolled-up rows and twice as many as when last judged, and all its raw
-- rows are still retained, is detailed from its raw rows if both tiers
-- then fit in its raw rows; a detailed day whose rows no longer fit loses
-- its tier-2 rows.  Either way summary rows never outnumber the raw rows
-- of a day.  Called by _rollup() for the days a pass touched.  The
-- candidates are counted, and detailed, a chunk of days per statement:
-- one count per day cost a plan per day (15-20 ms) on a first pass over a
-- month of many workspaces.
CREATE FUNCTION opsmeter._judge_days(ws_list bigint[], day_list date[], upto_batch bigint, except_batches bigint[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    d record;
    cand_ws bigint[];
    cand_day date[];
    fit_ws bigint[];
    fit_day date[];
    fit_rows bigint[];
    chunk record;
BEGIN
    -- Days to detail, maybe: summarized, not detailed, at least 256 rows,
    -- twice the rows of the last refusal, all raw rows still there (tier 2
    -- is built from them).  Judged in chunks of about 250,000 rows: one
    -- count for many small days, and no sort of a whole month's rows at
    -- once (which spills to disk) for a busy workspace.
    FOR chunk IN
        SELECT array_agg(c.workspace_id ORDER BY c.workspace_id, c.day) AS ws,
               array_agg(c.day ORDER BY c.workspace_id, c.day) AS days
          FROM (SELECT r.workspace_id, r.day,
                       (sum(r.requests) OVER (ORDER BY r.workspace_id, r.day) - r.requests) / 250000 AS n
                  FROM opsmeter.rollup_days r
                  JOIN unnest(ws_list, day_list) t(workspace_id, day) USING (workspace_id, day)
                 WHERE r.quarter_rows IS NOT NULL AND r.detail_rows IS NULL
                   AND r.requests >= 256 AND r.requests >= 2 * r.checked_at AND r.raw_deleted_before IS NULL
                   AND r.day::timestamp AT TIME ZONE 'UTC' >= (opsmeter.retained_from(r.workspace_id)).raw_from) c
         GROUP BY c.n
         ORDER BY c.n
    LOOP
        cand_ws := chunk.ws;
        cand_day := chunk.days;
        -- The counts are upper bounds (groups added to existing rows, and
        -- groups emptied by corrections): count exactly before deciding.
        UPDATE opsmeter.rollup_days r
           SET quarter_rows = (SELECT count(*) FROM opsmeter.summary_quarters q
                                WHERE q.workspace_id = r.workspace_id
                                  AND q.period_start >= r.day::timestamp AT TIME ZONE 'UTC'
                                  AND q.period_start < (r.day + 1)::timestamp AT TIME ZONE 'UTC')
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
         WHERE r.workspace_id = c.workspace_id AND r.day = c.day;
        SELECT coalesce(array_agg(r.workspace_id), '{}'), coalesce(array_agg(r.day), '{}'),
               coalesce(array_agg(coalesce(n.new_rows, 0)), '{}')
          INTO fit_ws, fit_day, fit_rows
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
          JOIN opsmeter.rollup_days r USING (workspace_id, day)
          LEFT JOIN opsmeter._fold_detail(0, upto_batch, '{}', except_batches, cand_ws, cand_day, false, true, false) n
                 USING (workspace_id, day)
         WHERE r.quarter_rows + coalesce(n.new_rows, 0) <= r.requests;
        IF fit_ws <> '{}' THEN
            PERFORM opsmeter._fold_detail(0, upto_batch, '{}', except_batches, fit_ws, fit_day, false, false, false);
            UPDATE opsmeter.rollup_days r SET detail_rows = f.new_rows
              FROM unnest(fit_ws, fit_day, fit_rows) f(workspace_id, day, new_rows)
             WHERE r.workspace_id = f.workspace_id AND r.day = f.day;
        END IF;
        UPDATE opsmeter.rollup_days r SET checked_at = r.requests
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
         WHERE r.workspace_id = c.workspace_id AND r.day = c.day AND r.detail_rows IS NULL;
    END LOOP;

    -- Detailed days that no longer fit by the counts: counted exactly, and
    -- undetailed if they still do not fit (rare: a day whose new rows are
    -- mostly new groups).
    FOR d IN SELECT r.* FROM opsmeter.rollup_days r
               JOIN unnest(ws_list, day_list) t(workspace_id, day) USING (workspace_id, day)
              WHERE r.detail_rows IS NOT NULL AND r.quarter_rows + r.detail_rows > r.requests
              ORDER BY r.workspace_id, r.day LOOP
        UPDATE opsmeter.rollup_days r
           SET quarter_rows = (SELECT count(*) FROM opsmeter.summary_quarters q
                                WHERE q.workspace_id = d.workspace_id
                                  AND q.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
                                  AND q.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC'),
               detail_rows = (SELECT count(*) FROM opsmeter.summaries s
                               WHERE s.workspace_id = d.workspace_id
                                 AND s.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
                                 AND s.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC')
         WHERE r.workspace_id = d.workspace_id AND r.day = d.day
        RETURNING r.* INTO d;
        IF d.quarter_rows + d.detail_rows > d.requests THEN
            DELETE FROM opsmeter.summaries s
             WHERE s.workspace_id = d.workspace_id
               AND s.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
               AND s.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC';
            UPDATE opsmeter.rollup_days r SET detail_rows = NULL, checked_at = d.requests
             WHERE r.workspace_id = d.workspace_id AND r.day = d.day;
        END IF;
    END LOOP;
END
$$;

-- Rolls the pending rows into summaries: every row of a batch that has
-- ended, none of a batch still in flight; returns how many.  It never waits
-- for an ingest: a batch in flight (even one left idle for hours) becomes a
-- hole below the new watermark, and the next pass after it ends folds it.
-- lock_timeout bounds the wait for another pass, a re-pricing or a cleanup
-- (they hold the rollup_state row until they end).
-- enable_seqscan is off because a fresh day's partition has no statistics
-- yet and the planner would read all of it each pass; the BRIN on
-- ingest_batch reads only the pages above the watermark.  jit is off:
-- disabled seq scans price every small lookup at 1e10, which would make
-- each of them pay for JIT compilation.  work_mem lets the grouping sets
-- sort in memory.  Each statement is planned with its values, so that
-- detailing one day reads only that day's partition.
CREATE FUNCTION opsmeter._rollup(OUT rows_rolled_up bigint, OUT watermark bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '1min' SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    w_prev bigint;
    w_new  bigint;
    read_at_prev timestamptz;
    read_at timestamptz;
    holes_since_prev timestamptz;
    holes_prev bigint[];
    holes_new bigint[];
    inflight bigint[];
    adjustments bigint;
    min_rows bigint := coalesce(nullif(current_setting('opsmeter.summarize_day_rows', true), ''), '256')::bigint;
    touched_ws bigint[];
    touched_day date[];
    touched_requests bigint[];
    folded_ws bigint[];          -- summarized before this pass: its contributions are folded
    folded_day date[];
    new_ws bigint[];             -- summarized by this pass, from its raw rows
    new_day date[];
    groups_ws bigint[] := '{}';
    groups_day date[] := '{}';
    groups_n bigint[] := '{}';
    detail_ws bigint[];
    detail_day date[];
    detail_new bigint[] := '{}';
    in_memory boolean;           -- grouped by _group_pending(), not by SQL
BEGIN
    -- Serializes passes: a second pass waits here, then sees the new watermark.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark, s.holes, s.bounds_read_at, s.holes_since
      INTO w_prev, holes_prev, read_at_prev, holes_since_prev
      FROM opsmeter.rollup_state s FOR UPDATE;
    -- Every transaction that drew a batch number <= w_new and not in
    -- inflight has ended, so no row of those batches can still appear, and
    -- the statements below (each with a snapshot taken after this call) see
    -- all of them.  NULL: a number is being drawn right now; the next pass
    -- rolls up.  Every number > w_new is drawn after read_at.
    read_at := clock_timestamp();
    SELECT b.upto, b.inflight INTO w_new, inflight FROM opsmeter._rollup_bounds() b;
    watermark := w_prev;
    rows_rolled_up := 0;
    IF w_new IS NULL THEN
        RETURN;
    END IF;
    w_new := greatest(w_new, w_prev);
    -- The batches <= w_new still in flight stay pending: the old holes and
    -- the new range, minus what has ended.
    SELECT coalesce(array_agg(b ORDER BY b), '{}') INTO holes_new
      FROM (SELECT unnest(holes_prev) UNION SELECT unnest(inflight)) x(b)
     WHERE b = ANY (inflight) AND b <= w_new AND (b > w_prev OR b = ANY (holes_prev));
    IF w_new = w_prev AND holes_new = holes_prev THEN
        RETURN;
    END IF;

    -- Summarize the BRIN ranges filled since the last pass, so that the scan
    -- below skips every range already rolled up and reads only new pages
    -- (unsummarized ranges always match; without this, each pass would read
    -- the whole current day again until a VACUUM).
    PERFORM pg_catalog.brin_summarize_new_values(i.indexrelid)
       FROM pg_catalog.pg_inherits p
       JOIN pg_catalog.pg_index i ON i.indrelid = p.inhrelid
       JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      WHERE p.inhparent = 'opsmeter.events'::regclass AND c.relam = (SELECT a.oid FROM pg_catalog.pg_am a WHERE a.amname = 'brin');

    -- What this pass rolls up, per workspace-day, grouped in memory in one
    -- read (src/rollup_groups.c) for the per-day counts and the incremental
    -- folds of both tiers below; when that cannot be exact within work_mem,
    -- each of them groups in SQL instead.
    in_memory := opsmeter._group_pending(w_prev, w_new, holes_prev, inflight);
    SELECT coalesce(array_agg(q.workspace_id), '{}'), coalesce(array_agg(q.day), '{}'),
           coalesce(array_agg(q.requests), '{}'), coalesce(sum(q.raw_rows), 0), coalesce(sum(q.adjustment_rows), 0)
      INTO touched_ws, touched_day, touched_requests, rows_rolled_up, adjustments
      FROM (SELECT * FROM opsmeter._grouped_days(w_prev, w_new, holes_prev, inflight) WHERE in_memory
            UNION ALL
            SELECT * FROM opsmeter._pending_days(w_prev, w_new, holes_prev, inflight) WHERE NOT in_memory) q;
    -- Tier 1.  A summarized day takes this pass's contributions.  A day not
    -- summarized yet gets its tier-1 rows once it has min_rows rolled-up
    -- rows, from its raw rows (they carry every correction, so this pass's
    -- adjustments of it are not added again); until then the pass only
    -- counts its rows.
    SELECT coalesce(array_agg(t.workspace_id) FILTER (WHERE r.quarter_rows IS NOT NULL), '{}'),
           coalesce(array_agg(t.day) FILTER (WHERE r.quarter_rows IS NOT NULL), '{}'),
           coalesce(array_agg(t.workspace_id) FILTER (WHERE r.quarter_rows IS NULL
                                                       AND coalesce(r.requests, 0) + t.requests >= min_rows), '{}'),
           coalesce(array_agg(t.day) FILTER (WHERE r.quarter_rows IS NULL
                                              AND coalesce(r.requests, 0) + t.requests >= min_rows), '{}')
      INTO folded_ws, folded_day, new_ws, new_day
      FROM unnest(touched_ws, touched_day, touched_requests) t(workspace_id, day, requests)
      LEFT JOIN opsmeter.rollup_days r USING (workspace_id, day);
    SELECT coalesce(array_agg(g.workspace_id), '{}'), coalesce(array_agg(g.day), '{}'), coalesce(array_agg(g.groups), '{}')
      INTO groups_ws, groups_day, groups_n
      FROM (SELECT * FROM opsmeter._fold_quarters(w_prev, w_new, holes_prev, inflight, folded_ws, folded_day, false,
                                                   in_memory)
             WHERE folded_ws <> '{}'
            UNION ALL
            SELECT * FROM opsmeter._fold_quarters(0, w_new, '{}', holes_new, new_ws, new_day, true, false)
             WHERE new_ws <> '{}') g;
    -- Tier 2: the same contributions, for the touched days that were
    -- detailed before this pass (a day detailed below is built from its raw
    -- rows, which already hold this pass's rows).
    SELECT coalesce(array_agg(r.workspace_id), '{}'), coalesce(array_agg(r.day), '{}')
      INTO detail_ws, detail_day
      FROM opsmeter.rollup_days r
      JOIN unnest(folded_ws, folded_day) t(workspace_id, day) USING (workspace_id, day)
     WHERE r.detail_rows IS NOT NULL;
    IF detail_ws <> '{}' THEN
        SELECT coalesce(array_agg(x.workspace_id), '{}'), coalesce(array_agg(x.day), '{}'),
               coalesce(array_agg(x.new_rows), '{}')
          INTO detail_ws, detail_day, detail_new
          FROM opsmeter._fold_detail(w_prev, w_new, holes_prev, inflight, detail_ws, detail_day, true, false,
                                     in_memory) x;
    END IF;
    -- quarter_rows: NULL for a day still in raw rows only; what this pass
    -- folded (0 if nothing) for the others, added to what was there.
    INSERT INTO opsmeter.rollup_days AS r (workspace_id, day, requests, quarter_rows)
    SELECT t.workspace_id, t.day, t.requests,
           CASE WHEN s.quarter_rows IS NOT NULL OR (t.workspace_id, t.day) IN (SELECT * FROM unnest(new_ws, new_day))
                THEN coalesce(g.groups, 0) END
      FROM unnest(touched_ws, touched_day, touched_requests) t(workspace_id, day, requests)
      LEFT JOIN opsmeter.rollup_days s USING (workspace_id, day)
      LEFT JOIN unnest(groups_ws, groups_day, groups_n) g(workspace_id, day, groups) USING (workspace_id, day)
    ON CONFLICT (workspace_id, day) DO UPDATE
       SET requests = r.requests + excluded.requests,
           quarter_rows = coalesce(r.quarter_rows, 0) + excluded.quarter_rows;
    UPDATE opsmeter.rollup_days r SET detail_rows = r.detail_rows + x.new_rows
      FROM unnest(detail_ws, detail_day, detail_new) x(workspace_id, day, new_rows)
     WHERE r.workspace_id = x.workspace_id AND r.day = x.day;

    IF adjustments > 0 THEN
        -- Folded corrections leave (those of days in raw rows only are
        -- already in their raw rows); groups they emptied leave too, so no
        -- view shows a trace of rows that were removed.
        DELETE FROM opsmeter.summary_adjustments a
         WHERE a.ingest_batch <= w_new AND a.ingest_batch <> ALL (holes_new);
        DELETE FROM opsmeter.summaries s WHERE s.requests = 0;
        DELETE FROM opsmeter.summary_quarters q WHERE q.requests = 0;
    END IF;

    PERFORM opsmeter._judge_days(folded_ws || new_ws, folded_day || new_day, w_new, holes_new);

    -- Where the pending rows can be: a new hole was drawn after the last
    -- pass's read, an old one after the old holes' bound (NULL: unknown).
    -- The late arrivals of the batches rolled up leave.
    UPDATE opsmeter.rollup_state
       SET watermark = w_new, holes = holes_new, rolled_up_at = now(), bounds_read_at = read_at,
           holes_since = (SELECT least(min(coalesce(read_at_prev, '-infinity')) FILTER (WHERE h.b > w_prev),
                                       min(coalesce(holes_since_prev, '-infinity')) FILTER (WHERE h.b <= w_prev))
                            FROM unnest(holes_new) h(b));
    DELETE FROM opsmeter.late_arrivals m WHERE m.ingest_batch <= w_new AND m.ingest_batch <> ALL (holes_new);
    watermark := w_new;
END
$$;
