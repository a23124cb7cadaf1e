------------------------------------------------------------------------------
-- Workspace lifecycle: rename, and drop with every trace (issue #16)
------------------------------------------------------------------------------
-- One row per rename or drop.  It names no data of the workspace, not even
-- its name: a drop's record must not keep what the drop erased (a customer
-- name, in a contract-end or GDPR erasure).  Read by opsmeter_admin.
CREATE TABLE opsmeter.workspace_audit (
    audit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL,
    action       text NOT NULL CHECK (action IN ('renamed', 'dropped')),
    acted_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    acted_by     regrole NOT NULL,
    rows_erased  jsonb         -- dropped: how many rows left each table
);
COMMENT ON TABLE opsmeter.workspace_audit IS
    'every rename and drop of a workspace: which id, who, when, rows erased; never a name or any erased value';

-- The workspace a rename or drop acts on, its row locked FOR UPDATE (so
-- membership changes, budgets, retention settings and other renames or
-- drops of it wait, and then find it changed).  Superusers and members of
-- opsmeter_admin act on any workspace; anyone else on a workspace they own.
-- A non-member learns nothing: an unknown name and a workspace of others
-- give the same 42501.
CREATE FUNCTION opsmeter._lifecycle_workspace(caller regrole, workspace text, action text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint;
    caller_role opsmeter.workspace_role;
BEGIN
    IF workspace IS NULL THEN
        RAISE EXCEPTION 'workspace must not be NULL'
            USING ERRCODE = '22004', HINT = format('Name the workspace to %s.', action);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = caller AND r.rolsuper)
       OR pg_has_role(caller, 'opsmeter_admin', 'MEMBER') THEN
        SELECT w.workspace_id INTO ws FROM opsmeter.workspaces w WHERE w.name = workspace FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'workspace "%" does not exist', workspace USING ERRCODE = '42704';
        END IF;
        RETURN ws;
    END IF;
    SELECT r.workspace_id INTO ws FROM opsmeter._resolve_workspace(caller, workspace) r;
    PERFORM 1 FROM opsmeter.workspaces w WHERE w.workspace_id = ws FOR UPDATE;
    -- the role as it is now that the row is ours
    SELECT r.role INTO caller_role FROM opsmeter._resolve_workspace(caller, workspace) r;
    IF caller_role <> 'owner' THEN
        RAISE EXCEPTION 'permission denied to % workspace "%"', action, workspace
            USING ERRCODE = '42501',
                  DETAIL = format('Role %s has role %s in this workspace.', caller, caller_role),
                  HINT = 'Only its owners, members of opsmeter_admin and superusers rename or drop a workspace.';
    END IF;
    RETURN ws;
END
$$;

CREATE FUNCTION opsmeter._opsmeter_rename_workspace_impl(caller regrole, workspace text, new_name text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint := opsmeter._lifecycle_workspace(caller, workspace, 'rename');
BEGIN
    IF new_name IS NULL OR length(new_name) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'invalid new_name %', coalesce(quote_literal(new_name), 'NULL')
            USING ERRCODE = '22023', HINT = 'A workspace name is 1 to 100 characters.';
    END IF;
    BEGIN
        UPDATE opsmeter.workspaces w SET name = new_name WHERE w.workspace_id = ws;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'workspace "%" already exists', new_name
            USING ERRCODE = '42710', HINT = 'Workspace names are unique regardless of case; choose another name.';
    END;
    INSERT INTO opsmeter.workspace_audit (workspace_id, action, acted_by) VALUES (ws, 'renamed', caller);
END
$$;

-- Erases a workspace: its row, memberships and invitations, raw rows, dedup
-- keys, both summary tiers, rollup days, pending corrections, spend
-- counters and cleanup records; the statistics of the tables that held its
-- rows are gathered again, so not even its id stays in pg_statistic.
-- Order matters (src/README.md, "workspace lifecycle"):
--   1. its row is deleted first, so every ingest resolving it from now on
--      sees the deletion when it takes the drop barrier (src/tenancy.c);
--   2. the drop barrier: waits for every write in flight into it (and only
--      into it), and keeps later ones waiting until this commits, when
--      they fail with 42704 and store nothing;
--   3. the rollup lock: a pass in flight ends first (it may be folding the
--      workspace's rows), and none starts until this commits;
--   4. every table, then one audit row without any name.
-- What stays: the deleted row versions until VACUUM, and WAL and backups
-- until they expire (README, "Dropping a workspace").
CREATE FUNCTION opsmeter._opsmeter_drop_workspace_impl(caller regrole, workspace text)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint := opsmeter._lifecycle_workspace(caller, workspace, 'drop');
    erased jsonb := '{}';
    n bigint;
    parts regclass[];
    held regclass[] := '{}';
    rel regclass;
BEGIN
    DELETE FROM opsmeter.workspace_invitations i WHERE i.workspace_id = ws;
    GET DIAGNOSTICS n = ROW_COUNT;
    erased := erased || jsonb_build_object('workspace_invitations', n);
    DELETE FROM opsmeter.workspace_members m WHERE m.workspace_id = ws;
    GET DIAGNOSTICS n = ROW_COUNT;
    erased := erased || jsonb_build_object('workspace_members', n);
    DELETE FROM opsmeter.workspaces w WHERE w.workspace_id = ws;

    PERFORM opsmeter._lock_workspace_for_drop(ws);

    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    PERFORM 1 FROM opsmeter.rollup_state s FOR UPDATE;

    -- every other table that holds rows of a workspace; held: the tables
    -- (for events and keys, the partitions) that had some
    FOREACH rel IN ARRAY ARRAY['opsmeter.events', 'opsmeter.request_keys', 'opsmeter.summary_quarters',
                               'opsmeter.summaries', 'opsmeter.rollup_days', 'opsmeter.summary_adjustments',
                               'opsmeter.late_arrivals', 'opsmeter.spend_counters',
                               'opsmeter.cleanup_audit']::regclass[] LOOP
        EXECUTE format('WITH gone AS (DELETE FROM %s WHERE workspace_id = $1 RETURNING tableoid)
                        SELECT count(*), coalesce(array_agg(DISTINCT tableoid::regclass), ''{}'') FROM gone', rel)
           INTO n, parts USING ws;
        erased := erased || jsonb_build_object((SELECT c.relname FROM pg_class c WHERE c.oid = rel), n);
        held := held || parts;
    END LOOP;

    -- The workspace's id and its rows' times leave the samples in
    -- pg_statistic (tenants' values collect none): ANALYZE sees this
    -- transaction's deletions.
    FOREACH rel IN ARRAY held LOOP
        EXECUTE format('ANALYZE %s', rel);
    END LOOP;

    INSERT INTO opsmeter.workspace_audit (workspace_id, action, acted_by, rows_erased)
    VALUES (ws, 'dropped', caller, erased);
    RETURN jsonb_build_object('ok', true, 'workspace', workspace, 'rowsErased', erased);
END
$$;

CREATE FUNCTION opsmeter._lock_workspace_for_drop(workspace_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'opsmeter_lock_workspace_for_drop' LANGUAGE C VOLATILE STRICT;

CREATE FUNCTION @extschema@.opsmeter_rename_workspace(workspace text, new_name text)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_rename_workspace(text, text) IS
    'rename a workspace (its owners, opsmeter_admin); names are unique regardless of case';
CREATE FUNCTION @extschema@.opsmeter_drop_workspace(workspace text)
RETURNS jsonb AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_drop_workspace(text) IS
    'erase a workspace and every row of it from every table (its owners, opsmeter_admin); waits for its ingests in flight';
