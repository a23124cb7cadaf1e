------------------------------------------------------------------------------
-- Backups: what pg_dump must carry
------------------------------------------------------------------------------
-- Tables created by this script are extension members, whose rows pg_dump
-- skips unless registered here.  Daily partitions are never created by this
-- script (the first pass or ingest creates them), so they are ordinary
-- tables that pg_dump dumps with their rows; so are the generations of
-- dedup keys (opsmeter.request_keys_gNNNNNN, listed in key_generations).
-- Default prices come back with CREATE EXTENSION; only prices loaded later
-- are dumped.
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspaces', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspaces_workspace_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_members', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.prices', $$WHERE source <> 'opsmeter default catalog'$$);
SELECT pg_catalog.pg_extension_config_dump('opsmeter.key_generations', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.ingest_batch_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summaries', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summary_quarters', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.rollup_days', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summary_adjustments', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.late_arrivals', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.spend_counters', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.cleanup_audit', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.cleanup_audit_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.rollup_state', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_invitations', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_audit', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_audit_audit_id_seq', '');
