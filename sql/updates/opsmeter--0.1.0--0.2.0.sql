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

-- Maintenance never waits on a tenant (issue #13): the rollup rolls up to
-- the horizon of ended batches instead of waiting for in-flight ones, and
-- retention skips (and records) partitions it cannot lock in time.
ALTER TABLE opsmeter.retention_runs ADD COLUMN partitions_skipped text[];
-- The rollup horizon: the largest batch number H such that every
-- transaction that drew a number <= H has ended (the smallest batch still
-- in flight minus one, else the sequence's last value).  Never waits; NULL
-- when it cannot tell right now (C, see src/storage.c).
CREATE FUNCTION opsmeter._rollup_horizon() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_horizon' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION opsmeter._rollup_horizon() FROM PUBLIC;

-- Rolls the raw rows above the watermark into summaries, up to the
-- horizon: every row of a batch that has ended, none of a batch still in
-- flight; returns how many.  It never waits for an ingest: a batch in flight
-- (even one left idle for hours) stops the watermark below it, and the
-- committed batches above it wait in the raw tail for a later pass.
-- lock_timeout bounds the wait for another pass, a re-pricing or a cleanup
-- (they hold the rollup_state row until they end).
-- enable_seqscan is off because a fresh day's partition has no statistics
-- yet and the planner would read all of it each pass; the BRIN on
-- ingest_batch reads only the pages above the watermark.  jit is off:
-- disabled seq scans price every small lookup at 1e10, which would make
-- each of them pay for JIT compilation.  work_mem lets the six grouping
-- sets sort in memory.
CREATE OR REPLACE FUNCTION opsmeter._rollup(OUT rows_rolled_up bigint, OUT watermark bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '1min' SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' AS $$
DECLARE
    w_prev bigint;
    w_new  bigint;
    adjustments bigint;
BEGIN
    -- Serializes passes: a second pass waits here, then sees the new watermark.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark INTO w_prev FROM opsmeter.rollup_state s FOR UPDATE;
    -- Every transaction that drew a batch number <= w_new has ended, so no
    -- row <= w_new can still appear, and the statements below (each with a
    -- snapshot taken after this call) see all of them.  NULL: a number is
    -- being drawn right now; the next pass rolls up.
    w_new := opsmeter._rollup_horizon();
    watermark := w_prev;
    rows_rolled_up := 0;
    IF w_new IS NULL OR w_new <= w_prev THEN
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

    -- Only the columns summaries need (not metadata): the set is
    -- materialized once and sorted once per grouping set.  Daily rows are
    -- sums of the (far fewer) hourly rows just computed.
    WITH fresh AS MATERIALIZED (
        SELECT p.*, date_trunc('hour', p.ts, 'UTC') AS hour
          FROM opsmeter.pending_contributions(w_prev, w_new) p
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
    ), grouped AS (
        SELECT h.workspace_id, h.dimension, 'hour'::opsmeter.summary_grain AS grain, h.period_start,
               h.data_mode, h.environment, h.provider, h.model, h.key, h.requests, h.errors,
               h.input_tokens, h.output_tokens, h.total_tokens, h.cached_input_tokens, h.reasoning_tokens,
               h.cost_usd, h.unpriced_requests, h.unpriced_tokens, h.latency_count, h.latency_sum_ms
          FROM hourly h
        UNION ALL
        SELECT h.workspace_id, h.dimension, 'day', date_trunc('day', h.period_start, 'UTC'),
               h.data_mode, h.environment, h.provider, h.model, h.key, sum(h.requests), sum(h.errors),
               sum(h.input_tokens), sum(h.output_tokens), sum(h.total_tokens), sum(h.cached_input_tokens),
               sum(h.reasoning_tokens), sum(h.cost_usd), sum(h.unpriced_requests), sum(h.unpriced_tokens),
               sum(h.latency_count), sum(h.latency_sum_ms)
          FROM hourly h
         WHERE h.dimension <> 'overview'
         GROUP BY h.workspace_id, h.dimension, date_trunc('day', h.period_start, 'UTC'), h.data_mode, h.environment,
                  h.provider, h.model, h.key
    ), merged AS (
        INSERT INTO opsmeter.summaries AS s
        SELECT g.workspace_id, g.dimension, g.grain, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests,
               g.unpriced_tokens, g.latency_count, g.latency_sum_ms
          FROM grouped g
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
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms
        RETURNING 1
    ), histogram AS (
        INSERT INTO opsmeter.latency_histogram AS h
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               opsmeter.latency_histogram_of(f.latency_bucket, f.latency_count)
          FROM fresh f
         WHERE f.latency_bucket IS NOT NULL
         GROUP BY f.workspace_id, f.hour, f.data_mode, f.environment
        ON CONFLICT (workspace_id, hour, data_mode, environment) DO UPDATE
           SET counts = opsmeter.latency_histogram_add(h.counts, excluded.counts)
        RETURNING 1
    )
    SELECT count(*) FILTER (WHERE NOT f.is_adjustment), count(*) FILTER (WHERE f.is_adjustment)
      INTO rows_rolled_up, adjustments
      FROM fresh f;

    IF adjustments > 0 THEN
        -- Folded corrections leave; groups they emptied leave too, so no
        -- view shows a trace of rows that were removed.
        DELETE FROM opsmeter.summary_adjustments a WHERE a.ingest_batch <= w_new;
        DELETE FROM opsmeter.summaries s WHERE s.requests = 0;
        DELETE FROM opsmeter.latency_histogram h WHERE h.counts = '{}';
    END IF;

    UPDATE opsmeter.rollup_state SET watermark = w_new, rolled_up_at = now();
    watermark := w_new;
END
$$;

-- A new OUT column (partitions_skipped): the function is replaced.
DROP FUNCTION opsmeter._enforce_retention();
-- Removes what is past retention.  Raw days past every workspace's raw
-- retention leave by DROP of their partition, and only when fully rolled
-- up; workspaces with a shorter retention lose their older (rolled-up)
-- rows by DELETE; summaries past retention are deleted.  Runs after
-- _rollup() in the same pass.
--
-- It never waits on another session for more than
-- opsmeter.retention_lock_wait (0: not at all): a partition it cannot lock
-- in time is skipped, named in partitions_skipped, and dropped by a later
-- pass.  Lock order, the same as a reader's: the parent opsmeter.events
-- first, then its partitions.  The parent's ACCESS EXCLUSIVE lock (which a
-- DROP of a partition needs) is taken last, after everything else, and
-- held to the end of the pass: the drops and their key purges are all that
-- runs under it.
CREATE FUNCTION opsmeter._enforce_retention(OUT partitions_dropped integer, OUT partitions_created integer,
                                            OUT raw_rows_deleted bigint, OUT keys_purged bigint,
                                            OUT summary_rows_deleted bigint, OUT partitions_skipped text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    global_raw interval := opsmeter.guc_raw_retention();
    longest_raw interval;
    w bigint;
    part record;
    due_rels regclass[];
    due_days date[];
    n bigint;
    busy boolean;
    today date := (now() AT TIME ZONE 'UTC')::date;
    lock_wait text := current_setting('opsmeter.retention_lock_wait');
    nowait text;
BEGIN
    partitions_dropped := 0;
    partitions_created := 0;
    raw_rows_deleted := 0;
    keys_purged := 0;
    partitions_skipped := '{}';
    -- 0 means NOWAIT (lock_timeout 0 would mean "forever").
    nowait := CASE WHEN lock_wait IN ('0', '0ms') THEN ' NOWAIT' ELSE '' END;
    w := opsmeter.rollup_watermark();
    SELECT greatest(global_raw, max(r.raw)) INTO longest_raw FROM opsmeter.effective_retention() r;

    -- Workspaces whose raw retention is shorter than the longest: their older
    -- rolled-up rows leave row by row, with their dedup keys.
    FOR part IN
        SELECT r.workspace_id, r.raw FROM opsmeter.effective_retention() r WHERE r.raw < longest_raw
    LOOP
        WITH gone AS (
            DELETE FROM opsmeter.events e
             WHERE e.workspace_id = part.workspace_id
               AND e.ts < now() - part.raw AND e.ingest_batch <= w
            RETURNING e.workspace_id, e.external_request_id
        ), keys AS (
            DELETE FROM opsmeter.request_keys k USING gone g
             WHERE k.workspace_id = g.workspace_id AND k.external_request_id = g.external_request_id
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone) INTO n;
        raw_rows_deleted := raw_rows_deleted + n;
    END LOOP;

    -- Summaries: the coarse tier for the summary retention, the detail
    -- dimensions for as long as the raw rows they describe.  An hour leaves
    -- only when all of it is past retention.
    DELETE FROM opsmeter.summaries s
     USING opsmeter.effective_retention() r
     WHERE s.workspace_id = r.workspace_id
       AND s.period_start + CASE s.grain WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END
           <= now() - CASE WHEN s.dimension IN ('overview', 'model') THEN r.summary ELSE r.raw END;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := n;
    DELETE FROM opsmeter.latency_histogram h
     USING opsmeter.effective_retention() r
     WHERE h.workspace_id = r.workspace_id AND h.hour + interval '1 hour' <= now() - r.summary;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := summary_rows_deleted + n;

    -- Budgets look at the current UTC day and month only; keep two months.
    DELETE FROM opsmeter.spend_counters c
     WHERE c.day < (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date;

    -- From here on no lock is waited for longer than opsmeter.retention_lock_wait.
    IF nowait = '' THEN
        PERFORM set_config('lock_timeout', lock_wait, true);
    END IF;

    -- The coming week.  Creating a day takes SHARE UPDATE EXCLUSIVE on the
    -- parent, which an ingest creating a day holds until it commits: taken
    -- here first, within the bound, and a busy parent leaves the week to
    -- the next pass (ingest creates a missing day on demand anyway).
    IF EXISTS (SELECT 1 FROM generate_series(today, today + 7, interval '1 day') d
                WHERE to_regclass('opsmeter.' || quote_ident(opsmeter.partition_name(d::date))) IS NULL) THEN
        BEGIN
            EXECUTE 'LOCK TABLE ONLY opsmeter.events IN SHARE UPDATE EXCLUSIVE MODE' || nowait;
            partitions_created := opsmeter.ensure_partitions(today, today + 7);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: opsmeter.events is locked by another session; the coming days will be created by a later pass';
        END;
    END IF;

    -- Whole days older than every workspace's raw retention.
    SELECT array_agg(x.rel ORDER BY x.day), array_agg(x.day ORDER BY x.day) INTO due_rels, due_days
      FROM (SELECT c.oid::regclass AS rel, to_date(substring(c.relname from '^events_p(\d{8})$'), 'YYYYMMDD') AS day
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'opsmeter.events'::regclass
               AND c.relname ~ '^events_p\d{8}$') x
     WHERE (x.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - longest_raw;
    IF due_rels IS NULL THEN
        RETURN;
    END IF;
    -- The parent first, as every reader locks it before its partitions: a
    -- reader holding it makes us give up instead of waiting, and one that
    -- comes after waits for us at most until the pass commits.
    BEGIN
        EXECUTE 'LOCK TABLE ONLY opsmeter.events IN ACCESS EXCLUSIVE MODE' || nowait;
    EXCEPTION WHEN lock_not_available THEN
        partitions_skipped := due_rels::text[];
        RAISE WARNING 'opsmeter: opsmeter.events is in use; % partition(s) due for drop are left for a later pass',
                      cardinality(partitions_skipped);
        RETURN;
    END;
    FOR i IN 1 .. cardinality(due_rels) LOOP
        BEGIN
            -- An ingest still writing into this day holds it (ROW EXCLUSIVE)
            -- and makes us skip it; once we hold it, its rows are either
            -- seen above the watermark (and the day kept) or rolled up.
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', due_rels[i]) || nowait;
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE ingest_batch > $1)', due_rels[i]) INTO STRICT busy USING w;
            IF busy THEN
                CONTINUE;           -- not rolled up yet: a later pass drops it
            END IF;
            EXECUTE format('DROP TABLE %s', due_rels[i]);
            DELETE FROM opsmeter.request_keys k WHERE k.event_day = due_days[i];
            GET DIAGNOSTICS n = ROW_COUNT;
            keys_purged := keys_purged + n;
            partitions_dropped := partitions_dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            partitions_skipped := partitions_skipped || due_rels[i]::text;
            RAISE WARNING 'opsmeter: partition % is busy; it will be dropped by a later pass', due_rels[i];
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._enforce_retention() FROM PUBLIC;
