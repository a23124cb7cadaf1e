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

-- opsmeter.max_raw_retention caps every workspace's raw retention (and so
-- the number of daily partitions a tenant can make everyone pay for).
CREATE FUNCTION opsmeter.guc_max_raw_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_max_raw_retention' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_max_raw_retention() IS
    'opsmeter.max_raw_retention: the longest raw retention any workspace may have (superuser setting)';

-- The raw and summary retention of each workspace (its own, else the GUCs).
-- Raw retention is capped by opsmeter.max_raw_retention: it decides how many
-- daily partitions of the shared table exist, so no workspace goes past the
-- superuser's ceiling, even with a setting made before the ceiling was lowered.
CREATE OR REPLACE FUNCTION opsmeter.effective_retention(OUT workspace_id bigint, OUT raw interval, OUT summary interval)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT w.workspace_id,
           least(coalesce(w.raw_retention, opsmeter.guc_raw_retention()), opsmeter.guc_max_raw_retention()),
           coalesce(w.summary_retention, opsmeter.guc_summary_retention())
      FROM opsmeter.workspaces w
$$;
CREATE OR REPLACE FUNCTION opsmeter._opsmeter_set_retention_impl(caller regrole, raw interval, summary interval)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    eff_raw interval;
    eff_summary interval;
BEGIN
    m := opsmeter._managed_workspace(caller, NULL);
    IF raw > interval '100 years' OR summary > interval '100 years' THEN
        RAISE EXCEPTION 'invalid retention: more than 100 years'
            USING ERRCODE = '22023', HINT = 'Retention is at most 100 years.';
    END IF;
    IF raw > opsmeter.guc_max_raw_retention() THEN
        RAISE EXCEPTION 'invalid raw retention %: longer than opsmeter.max_raw_retention', raw
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Raw retention is at most %s here (opsmeter.max_raw_retention, set by a superuser).',
                                           pg_catalog.justify_hours(opsmeter.guc_max_raw_retention()));
    END IF;
    IF raw IS NOT NULL AND raw < interval '1 hour' THEN
        RAISE EXCEPTION 'invalid raw retention %', raw
            USING ERRCODE = '22023', HINT = 'Raw retention is at least 1 hour; NULL falls back to opsmeter.raw_retention.';
    END IF;
    IF summary IS NOT NULL AND summary < interval '1 hour' THEN
        RAISE EXCEPTION 'invalid summary retention %', summary
            USING ERRCODE = '22023', HINT = 'Summary retention is at least 1 hour; NULL falls back to opsmeter.summary_retention.';
    END IF;
    eff_raw := coalesce(raw, opsmeter.guc_raw_retention());
    eff_summary := coalesce(summary, opsmeter.guc_summary_retention());
    IF eff_summary < eff_raw THEN
        RAISE EXCEPTION 'summary retention % is shorter than raw retention %', eff_summary, eff_raw
            USING ERRCODE = '22023', HINT = 'Summaries must outlive the raw rows they summarize.';
    END IF;
    UPDATE opsmeter.workspaces w
       SET raw_retention = _opsmeter_set_retention_impl.raw,
           summary_retention = _opsmeter_set_retention_impl.summary
     WHERE w.workspace_id = m.workspace_id;
END
$$;

-- Changing the catalog every workspace is billed from needs opsmeter_admin
-- as well as pg_read_server_files (checked in C; the comment says so).
COMMENT ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) IS
    'load a price file (opsmeter or LiteLLM format) from the server; superusers, and members of both pg_read_server_files and opsmeter_admin';
