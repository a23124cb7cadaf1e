------------------------------------------------------------------------------
-- Row-level security, policies and privileges, in one place.
--
-- Every table that holds workspace data has RLS with one read policy keyed
-- on opsmeter.my_workspaces(); nobody but the extension owner writes them.
-- Internal functions are revoked from PUBLIC: only the owner-switching C
-- trampolines reach them (see src/README.md, "identity").
------------------------------------------------------------------------------

-- schema roles
GRANT USAGE ON SCHEMA opsmeter TO PUBLIC;

-- tenancy
REVOKE ALL ON FUNCTION opsmeter._resolve_workspace(regrole, text) FROM PUBLIC;
ALTER TABLE opsmeter.workspaces ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspaces_read ON opsmeter.workspaces FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
ALTER TABLE opsmeter.workspace_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspace_members_read ON opsmeter.workspace_members FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.workspaces, opsmeter.workspace_members TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._managed_workspace(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._check_not_last_owner(bigint, regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_create_workspace_impl(regrole, text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_add_member_impl(regrole, text, regrole, opsmeter.workspace_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_member_role_impl(regrole, text, regrole, opsmeter.workspace_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_remove_member_impl(regrole, text, regrole) FROM PUBLIC;
-- workspace lifecycle: the audit names no tenant data, for opsmeter_admin
REVOKE ALL ON FUNCTION opsmeter._lifecycle_workspace(regrole, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_rename_workspace_impl(regrole, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_drop_workspace_impl(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._lock_workspace_for_drop(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._tenancy_changed() FROM PUBLIC;
GRANT SELECT ON opsmeter.workspace_audit TO opsmeter_admin;
-- verification (reads every tenant's rows: only through its trampoline)
REVOKE ALL ON FUNCTION opsmeter._verify(bigint[], timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_verify_impl(regrole, timestamptz, timestamptz, text) FROM PUBLIC;
-- invitations: the invitee sees its own (while it is the role invited),
-- owners and admins see their workspace's
REVOKE ALL ON FUNCTION opsmeter._role_is_live(regrole, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._purge_stale_members(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_accept_invitation_impl(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_decline_invitation_impl(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_leave_workspace_impl(regrole, text) FROM PUBLIC;
ALTER TABLE opsmeter.workspace_invitations ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspace_invitations_read ON opsmeter.workspace_invitations FOR SELECT
    USING ((invitee_name OPERATOR(pg_catalog.=) CURRENT_USER
            AND invitee::pg_catalog.oid OPERATOR(pg_catalog.=)
                (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER))
           OR (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[])
               AND opsmeter.my_role(workspace_id) OPERATOR(pg_catalog.=) ANY ('{owner,admin}'::opsmeter.workspace_role[])));
GRANT SELECT ON opsmeter.workspace_invitations, opsmeter.my_invitations TO PUBLIC;

-- pricing
GRANT SELECT ON opsmeter.prices TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._prices_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_generations_changed() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) TO pg_read_server_files;
REVOKE ALL ON FUNCTION opsmeter._load_default_prices() FROM PUBLIC;

-- events partitions
ALTER TABLE opsmeter.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read ON opsmeter.events FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.events TO PUBLIC;
ALTER TABLE opsmeter.request_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY request_keys_read ON opsmeter.request_keys FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.request_keys TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter.ensure_partitions(date, date) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._open_key_generation(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._create_key_generation_table(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._merge_key_generations(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_filter(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_filter_lacks(bytea, bigint, text) FROM PUBLIC;

-- summaries rollup
ALTER TABLE opsmeter.summaries ENABLE ROW LEVEL SECURITY;
CREATE POLICY summaries_read ON opsmeter.summaries FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summaries TO PUBLIC;
ALTER TABLE opsmeter.summary_quarters ENABLE ROW LEVEL SECURITY;
CREATE POLICY summary_quarters_read ON opsmeter.summary_quarters FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summary_quarters TO PUBLIC;
ALTER TABLE opsmeter.rollup_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY rollup_days_read ON opsmeter.rollup_days FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.rollup_days TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._histogram_count(internal, integer, bigint), opsmeter._histogram_merge(internal, bigint[]),
                       opsmeter._histogram_final(internal) FROM PUBLIC;
ALTER TABLE opsmeter.summary_adjustments ENABLE ROW LEVEL SECURITY;
CREATE POLICY summary_adjustments_read ON opsmeter.summary_adjustments FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summary_adjustments TO PUBLIC;
ALTER TABLE opsmeter.late_arrivals ENABLE ROW LEVEL SECURITY;
CREATE POLICY late_arrivals_read ON opsmeter.late_arrivals FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.late_arrivals TO PUBLIC;
GRANT SELECT ON opsmeter.rollup_state TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._wait_for_ingest_barrier() FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._rollup_bounds() FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._rollup() FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._fold_quarters(bigint, bigint, bigint[], bigint[], bigint[], date[], boolean, boolean),
                       opsmeter._pending_days(bigint, bigint, bigint[], bigint[]),
                       opsmeter._fold_detail(bigint, bigint, bigint[], bigint[], bigint[], date[], boolean, boolean, boolean),
                       opsmeter._judge_days(bigint[], date[], bigint, bigint[]),
                       opsmeter._group_pending(bigint, bigint, bigint[], bigint[]),
                       opsmeter._grouped_days(bigint, bigint, bigint[], bigint[]),
                       opsmeter._grouped_quarters(bigint, bigint, bigint[], bigint[], bigint[], date[]),
                       opsmeter._grouped_hours(bigint, bigint, bigint[], bigint[], bigint[], date[]) FROM PUBLIC;

-- retention
GRANT SELECT ON opsmeter.retention_runs TO opsmeter_admin;
GRANT SELECT ON opsmeter.worker_status TO opsmeter_admin;
REVOKE ALL ON FUNCTION opsmeter._enforce_retention() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.opsmeter_run_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.opsmeter_run_retention() TO opsmeter_admin;
REVOKE ALL ON PROCEDURE @extschema@.opsmeter_run_retention_job() FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE @extschema@.opsmeter_run_retention_job() TO opsmeter_admin;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_retention_impl(regrole, interval, interval) FROM PUBLIC;

-- budgets
ALTER TABLE opsmeter.spend_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY spend_counters_read ON opsmeter.spend_counters FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.spend_counters TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_budget_impl(regrole, text, numeric, numeric) FROM PUBLIC;
GRANT SELECT ON opsmeter.budget_signals TO PUBLIC;

-- analytics: the views are security_invoker, so a reader sees only its own
-- workspaces' rows through them
GRANT SELECT ON opsmeter.overview, opsmeter.top_users, opsmeter.top_tenants, opsmeter.top_endpoints,
                opsmeter.prompt_versions, opsmeter.top_models, opsmeter.unpriced_models TO PUBLIC;
GRANT SELECT ON opsmeter.daily_users, opsmeter.daily_tenants, opsmeter.daily_endpoints,
                opsmeter.daily_prompt_versions, opsmeter.daily_models TO PUBLIC;
GRANT SELECT ON opsmeter.export TO PUBLIC;

-- repricing
REVOKE ALL ON FUNCTION opsmeter._opsmeter_reprice_impl(regrole, timestamptz, timestamptz, boolean) FROM PUBLIC;

-- hygiene
ALTER TABLE opsmeter.cleanup_audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY cleanup_audit_read ON opsmeter.cleanup_audit FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[])
           AND opsmeter.my_role(workspace_id) OPERATOR(pg_catalog.=) ANY ('{owner,admin}'::opsmeter.workspace_role[]));
GRANT SELECT ON opsmeter.cleanup_audit TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._clear_rows(regrole, opsmeter.data_mode, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_clear_demo_data_impl(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_clear_test_data_impl(regrole, text) FROM PUBLIC;

-- planner statistics: the planner estimates from column statistics without
-- applying RLS (only operators marked leakproof may read them, and =, <
-- on text, bigint and oid are leakproof), so EXPLAIN by a role in no
-- workspace would show whether a value exists in another workspace.  The
-- columns whose values tenants write (names, ids, texts, JSON, token
-- counts, money, latency, budgets) and those naming the roles that act
-- collect none (target 0).  Kept: what places a row and plans depend on:
-- workspace_id, time, batch, key and enum columns.  Each daily partition
-- copies the targets of opsmeter.events (ensure_partitions).  See README,
-- "Isolation".
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
    ALTER COLUMN latency_sum_ms SET STATISTICS 0, ALTER COLUMN latency_counts SET STATISTICS 0;
ALTER TABLE opsmeter.summary_quarters
    ALTER COLUMN provider SET STATISTICS 0, ALTER COLUMN model SET STATISTICS 0,
    ALTER COLUMN requests SET STATISTICS 0,
    ALTER COLUMN errors SET STATISTICS 0, ALTER COLUMN input_tokens SET STATISTICS 0,
    ALTER COLUMN output_tokens SET STATISTICS 0, ALTER COLUMN total_tokens SET STATISTICS 0,
    ALTER COLUMN cached_input_tokens SET STATISTICS 0, ALTER COLUMN reasoning_tokens SET STATISTICS 0,
    ALTER COLUMN cost_usd SET STATISTICS 0, ALTER COLUMN unpriced_requests SET STATISTICS 0,
    ALTER COLUMN unpriced_tokens SET STATISTICS 0, ALTER COLUMN latency_count SET STATISTICS 0,
    ALTER COLUMN latency_sum_ms SET STATISTICS 0, ALTER COLUMN latency_counts SET STATISTICS 0;
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
    ALTER COLUMN member SET STATISTICS 0, ALTER COLUMN granted_by SET STATISTICS 0,
    ALTER COLUMN member_name SET STATISTICS 0;
ALTER TABLE opsmeter.workspace_invitations
    ALTER COLUMN invitee SET STATISTICS 0, ALTER COLUMN invitee_name SET STATISTICS 0,
    ALTER COLUMN invited_by SET STATISTICS 0;
