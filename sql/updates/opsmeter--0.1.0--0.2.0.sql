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

-- Planner statistics no longer show tenants' values to other workspaces
-- (issue #13; README, "Isolation").  The same targets as
-- 90_policies_grants.sql; without ONLY, ALTER TABLE opsmeter.events also
-- sets them on every existing daily partition.
ALTER TABLE opsmeter.events
    ALTER COLUMN input_tokens SET STATISTICS 0, ALTER COLUMN output_tokens SET STATISTICS 0,
    ALTER COLUMN total_tokens SET STATISTICS 0, ALTER COLUMN cached_input_tokens SET STATISTICS 0,
    ALTER COLUMN reasoning_tokens SET STATISTICS 0, ALTER COLUMN latency_ms SET STATISTICS 0,
    ALTER COLUMN ingested_by SET STATISTICS 0, ALTER COLUMN external_request_id SET STATISTICS 0,
    ALTER COLUMN provider SET STATISTICS 0, ALTER COLUMN model SET STATISTICS 0,
    ALTER COLUMN cost_usd SET STATISTICS 0, ALTER COLUMN error_code SET STATISTICS 0,
    ALTER COLUMN prompt_version SET STATISTICS 0, ALTER COLUMN endpoint_tag SET STATISTICS 0,
    ALTER COLUMN user_id SET STATISTICS 0, ALTER COLUMN tenant_id SET STATISTICS 0,
    ALTER COLUMN metadata SET STATISTICS 0;
ALTER TABLE opsmeter.request_keys
    ALTER COLUMN external_request_id SET STATISTICS 0;
ALTER TABLE opsmeter.summaries
    ALTER COLUMN provider SET STATISTICS 0, ALTER COLUMN model SET STATISTICS 0,
    ALTER COLUMN key SET STATISTICS 0, ALTER COLUMN requests SET STATISTICS 0,
    ALTER COLUMN errors SET STATISTICS 0, ALTER COLUMN input_tokens SET STATISTICS 0,
    ALTER COLUMN output_tokens SET STATISTICS 0, ALTER COLUMN total_tokens SET STATISTICS 0,
    ALTER COLUMN cached_input_tokens SET STATISTICS 0, ALTER COLUMN reasoning_tokens SET STATISTICS 0,
    ALTER COLUMN cost_usd SET STATISTICS 0, ALTER COLUMN unpriced_requests SET STATISTICS 0,
    ALTER COLUMN unpriced_tokens SET STATISTICS 0, ALTER COLUMN latency_count SET STATISTICS 0,
    ALTER COLUMN latency_sum_ms SET STATISTICS 0;
ALTER TABLE opsmeter.latency_histogram
    ALTER COLUMN counts SET STATISTICS 0;
ALTER TABLE opsmeter.summary_adjustments
    ALTER COLUMN provider SET STATISTICS 0, ALTER COLUMN model SET STATISTICS 0,
    ALTER COLUMN user_id SET STATISTICS 0, ALTER COLUMN tenant_id SET STATISTICS 0,
    ALTER COLUMN endpoint_tag SET STATISTICS 0, ALTER COLUMN prompt_version SET STATISTICS 0,
    ALTER COLUMN requests SET STATISTICS 0, ALTER COLUMN errors SET STATISTICS 0,
    ALTER COLUMN input_tokens SET STATISTICS 0, ALTER COLUMN output_tokens SET STATISTICS 0,
    ALTER COLUMN total_tokens SET STATISTICS 0, ALTER COLUMN cached_input_tokens SET STATISTICS 0,
    ALTER COLUMN reasoning_tokens SET STATISTICS 0, ALTER COLUMN cost_usd SET STATISTICS 0,
    ALTER COLUMN unpriced_requests SET STATISTICS 0, ALTER COLUMN unpriced_tokens SET STATISTICS 0,
    ALTER COLUMN latency_count SET STATISTICS 0, ALTER COLUMN latency_sum_ms SET STATISTICS 0,
    ALTER COLUMN latency_bucket SET STATISTICS 0;
ALTER TABLE opsmeter.spend_counters
    ALTER COLUMN spend_usd SET STATISTICS 0;
ALTER TABLE opsmeter.cleanup_audit
    ALTER COLUMN cleared_by SET STATISTICS 0, ALTER COLUMN rows_removed SET STATISTICS 0;
ALTER TABLE opsmeter.workspaces
    ALTER COLUMN name SET STATISTICS 0, ALTER COLUMN created_by SET STATISTICS 0,
    ALTER COLUMN raw_retention SET STATISTICS 0, ALTER COLUMN summary_retention SET STATISTICS 0,
    ALTER COLUMN daily_budget_usd SET STATISTICS 0, ALTER COLUMN daily_warning_ratio SET STATISTICS 0,
    ALTER COLUMN monthly_budget_usd SET STATISTICS 0, ALTER COLUMN monthly_warning_ratio SET STATISTICS 0;
ALTER TABLE opsmeter.workspace_members
    ALTER COLUMN member SET STATISTICS 0, ALTER COLUMN granted_by SET STATISTICS 0;
-- New days copy opsmeter.events' targets.
CREATE OR REPLACE FUNCTION opsmeter.ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    d date := first_day;
    created integer := 0;
    part text;
    targets text;
BEGIN
    IF first_day IS NULL OR last_day IS NULL OR last_day - first_day > 3660 THEN
        RAISE EXCEPTION 'invalid partition range % .. %', first_day, last_day
            USING ERRCODE = '22023', HINT = 'Give two dates at most ten years apart.';
    END IF;
    WHILE d <= last_day LOOP
        part := opsmeter.partition_name(d);
        IF to_regclass('opsmeter.' || quote_ident(part)) IS NULL THEN
            -- Creators take turns, holding this lock until they commit (the
            -- ATTACH below takes it anyway).  Without it, two sessions that
            -- each create several days deadlock: one holds it from an ATTACH
            -- and waits on the other's uncommitted table of the same name,
            -- which waits for this lock to ATTACH (found by test/fuzz).
            -- Ingests into existing days take ROW EXCLUSIVE and never wait.
            LOCK TABLE opsmeter.events IN SHARE UPDATE EXCLUSIVE MODE;
        END IF;
        IF to_regclass('opsmeter.' || quote_ident(part)) IS NULL THEN
            -- A concurrent creator of the same day wins; we then have nothing to
            -- do.  Depending on when it commits, we hit its table name
            -- (duplicate_table), its row type's name (duplicate_object, seen
            -- by test/fuzz) or a catalog index (unique_violation).
            BEGIN
                EXECUTE format('CREATE TABLE opsmeter.%I (LIKE opsmeter.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
                -- Keys lead with the workspace; rows arrive in batch order, so a
                -- BRIN finds the rows above the rollup watermark (the raw tail)
                -- for almost no write cost.
                EXECUTE format('CREATE INDEX %I ON opsmeter.%I (workspace_id, ts)', part || '_workspace_ts_idx', part);
                EXECUTE format('CREATE INDEX %I ON opsmeter.%I USING brin (ingest_batch) WITH (pages_per_range = 16)',
                               part || '_ingest_batch_brin', part);
                -- The parent's per-column statistics targets: neither LIKE nor
                -- ATTACH copies them, and ANALYZE of a day reads its own
                -- (tenants' values collect none; 90_policies_grants.sql).
                SELECT string_agg(format('ALTER COLUMN %I SET STATISTICS %s', a.attname, a.attstattarget),
                                  ', ' ORDER BY a.attnum)
                  INTO targets
                  FROM pg_attribute a
                 WHERE a.attrelid = 'opsmeter.events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attstattarget >= 0;
                IF targets IS NOT NULL THEN
                    EXECUTE format('ALTER TABLE opsmeter.%I ', part) || targets;
                END IF;
                EXECUTE format('ALTER TABLE opsmeter.events ATTACH PARTITION opsmeter.%I FOR VALUES FROM (%L) TO (%L)',
                               part, d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
                -- Rows are read through the parent only: deny direct reads even
                -- to roles that default privileges would grant them to.
                EXECUTE format('ALTER TABLE opsmeter.%I ENABLE ROW LEVEL SECURITY', part);
                EXECUTE format('REVOKE ALL ON opsmeter.%I FROM PUBLIC', part);
                created := created + 1;
            EXCEPTION WHEN duplicate_table OR duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END
$$;
-- Statistics already collected stay until deleted: ANALYZE skips a column
-- with target 0 but leaves its old row in pg_statistic, which the planner
-- would go on using.
DELETE FROM pg_catalog.pg_statistic s
 USING pg_catalog.pg_attribute a, pg_catalog.pg_class c
 WHERE a.attrelid OPERATOR(pg_catalog.=) s.starelid AND a.attnum OPERATOR(pg_catalog.=) s.staattnum
   AND a.attnum OPERATOR(pg_catalog.>) 0 AND a.attstattarget OPERATOR(pg_catalog.=) 0
   AND c.oid OPERATOR(pg_catalog.=) s.starelid
   AND c.relnamespace OPERATOR(pg_catalog.=) 'opsmeter'::regnamespace;
