------------------------------------------------------------------------------
-- Tenancy
------------------------------------------------------------------------------
CREATE TABLE opsmeter.workspaces (
    workspace_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL UNIQUE
                      CHECK (pg_catalog.length(name) OPERATOR(pg_catalog.<=) 100
                             AND name OPERATOR(pg_catalog.<>) ''),
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by        regrole NOT NULL,
    raw_retention     interval,      -- NULL: GUC opsmeter.raw_retention
    summary_retention interval,      -- NULL: GUC opsmeter.summary_retention
    -- budgets (opsmeter_set_budget); NULL: no budget for that period
    daily_budget_usd      numeric CHECK (daily_budget_usd OPERATOR(pg_catalog.>) 0),
    daily_warning_ratio   numeric NOT NULL DEFAULT 0.8
                          CHECK (daily_warning_ratio OPERATOR(pg_catalog.>) 0 AND daily_warning_ratio OPERATOR(pg_catalog.<=) 1),
    monthly_budget_usd    numeric CHECK (monthly_budget_usd OPERATOR(pg_catalog.>) 0),
    monthly_warning_ratio numeric NOT NULL DEFAULT 0.8
                          CHECK (monthly_warning_ratio OPERATOR(pg_catalog.>) 0 AND monthly_warning_ratio OPERATOR(pg_catalog.<=) 1)
);
COMMENT ON TABLE opsmeter.workspaces IS 'tenants; every stored row belongs to one';

CREATE TABLE opsmeter.workspace_members (
    workspace_id bigint NOT NULL REFERENCES opsmeter.workspaces ON DELETE CASCADE,
    member       regrole NOT NULL,
    role         opsmeter.workspace_role NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by   regrole NOT NULL,
    PRIMARY KEY (workspace_id, member)
);
CREATE INDEX workspace_members_member_idx ON opsmeter.workspace_members (member, workspace_id);
COMMENT ON TABLE opsmeter.workspace_members IS 'which PostgreSQL role holds which role in which workspace';

-- Identity primitives, in C so that they see the true caller (GetUserId())
-- and read membership without recursing through row-level security.
CREATE FUNCTION opsmeter.my_workspaces() RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_my_workspaces'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.my_workspaces() IS 'ids of the workspaces current_user is a member of';

CREATE FUNCTION opsmeter.my_role(workspace_id bigint) RETURNS opsmeter.workspace_role
    AS 'MODULE_PATHNAME', 'opsmeter_my_role'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.my_role(bigint) IS 'current_user''s role in a workspace, NULL when not a member';

CREATE FUNCTION opsmeter.active_workspace() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_active_workspace'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.active_workspace() IS
    'the workspace of this call: GUC opsmeter.workspace, else the caller''s only workspace';

-- The same resolution for an explicit caller; used by owner-only *_impl code.
CREATE FUNCTION opsmeter._resolve_workspace(caller regrole, workspace text,
                                            OUT workspace_id bigint, OUT role opsmeter.workspace_role)
    AS 'MODULE_PATHNAME', 'opsmeter_resolve_workspace_sql'
    LANGUAGE C STABLE;


-- Raises 42501 unless caller may manage the named workspace; locks the
-- workspace row so concurrent membership changes serialize (last-owner rule).
CREATE FUNCTION opsmeter._managed_workspace(caller regrole, workspace text,
                                            OUT workspace_id bigint, OUT caller_role opsmeter.workspace_role)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Resolve, lock the workspace row (membership changes serialize on it),
    -- then read the caller's role again as it is now.
    SELECT r.workspace_id INTO workspace_id FROM opsmeter._resolve_workspace(caller, workspace) AS r;
    PERFORM 1 FROM opsmeter.workspaces w WHERE w.workspace_id = _managed_workspace.workspace_id FOR UPDATE;
    SELECT r.role INTO caller_role FROM opsmeter._resolve_workspace(caller, workspace) AS r;
    IF caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'permission denied to manage workspace "%"',
                        (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = _managed_workspace.workspace_id)
            USING ERRCODE = '42501',
                  DETAIL = format('Role %s has role %s in this workspace.', caller, caller_role),
                  HINT = 'Only owners and admins of a workspace manage its members, budgets, prices and retention.';
    END IF;
END
$$;

CREATE FUNCTION opsmeter._opsmeter_create_workspace_impl(caller regrole, name text, owner regrole)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    new_id bigint;
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM pg_roles WHERE oid = caller AND rolsuper)
            OR pg_has_role(caller, 'opsmeter_admin', 'MEMBER')) THEN
        RAISE EXCEPTION 'permission denied to create workspace "%"', name
            USING ERRCODE = '42501',
                  HINT = 'Only superusers and members of role opsmeter_admin create workspaces: GRANT opsmeter_admin TO ' || caller || ';';
    END IF;
    IF name IS NULL OR length(name) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'invalid workspace name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = '22023', HINT = 'A workspace name is 1 to 100 characters.';
    END IF;
    IF owner IS NULL OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = owner) THEN
        RAISE EXCEPTION 'invalid owner: %', coalesce(owner::oid::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Name an existing role, or omit owner to own it yourself.';
    END IF;
    BEGIN
        INSERT INTO opsmeter.workspaces (name, created_by) VALUES (name, caller)
        RETURNING workspace_id INTO new_id;
    EXCEPTION WHEN unique_violation THEN
        RAISE EXCEPTION 'workspace "%" already exists', name
            USING ERRCODE = '42710', HINT = 'Workspace names are unique; choose another name.';
    END;
    INSERT INTO opsmeter.workspace_members (workspace_id, member, role, granted_by)
    VALUES (new_id, owner, 'owner', caller);
    RETURN new_id;
END
$$;

CREATE FUNCTION opsmeter._opsmeter_add_member_impl(caller regrole, workspace text, member regrole,
                                                   role opsmeter.workspace_role)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
BEGIN
    IF member IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'invalid % : NULL', CASE WHEN member IS NULL THEN 'member' ELSE 'role' END
            USING ERRCODE = '22023', HINT = 'Allowed roles: owner, admin, member, viewer.';
    END IF;
    m := opsmeter._managed_workspace(caller, workspace);
    IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = member) THEN
        RAISE EXCEPTION 'role with OID % does not exist', member::oid
            USING ERRCODE = '42704', HINT = 'Name an existing role.';
    END IF;
    IF role = 'owner' AND m.caller_role <> 'owner' THEN
        RAISE EXCEPTION 'permission denied to grant role owner in workspace "%"', workspace
            USING ERRCODE = '42501', HINT = 'Only an owner grants or removes the owner role.';
    END IF;
    INSERT INTO opsmeter.workspace_members (workspace_id, member, role, granted_by)
    VALUES (m.workspace_id, member, role, caller)
    ON CONFLICT ON CONSTRAINT workspace_members_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is already a member of workspace "%"', member, workspace
            USING ERRCODE = '42710', HINT = 'Use opsmeter_set_member_role() to change its role.';
    END IF;
END
$$;

-- Refuses to leave a workspace without an owner.
CREATE FUNCTION opsmeter._check_not_last_owner(ws bigint, leaving regrole, workspace text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM opsmeter.workspace_members
                    WHERE workspace_id = ws AND role = 'owner' AND member <> leaving) THEN
        RAISE EXCEPTION 'role % is the last owner of workspace "%"', leaving, workspace
            USING ERRCODE = '55000', HINT = 'Grant the owner role to another member first.';
    END IF;
END
$$;

CREATE FUNCTION opsmeter._opsmeter_set_member_role_impl(caller regrole, workspace text, member regrole,
                                                        role opsmeter.workspace_role)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    old_role opsmeter.workspace_role;
BEGIN
    IF member IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'invalid % : NULL', CASE WHEN member IS NULL THEN 'member' ELSE 'role' END
            USING ERRCODE = '22023', HINT = 'Allowed roles: owner, admin, member, viewer.';
    END IF;
    m := opsmeter._managed_workspace(caller, workspace);
    SELECT wm.role INTO old_role FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_set_member_role_impl.member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is not a member of workspace "%"', member, workspace
            USING ERRCODE = '42704', HINT = 'Use opsmeter_add_member() to add it.';
    END IF;
    IF (role = 'owner' OR old_role = 'owner') AND m.caller_role <> 'owner' THEN
        RAISE EXCEPTION 'permission denied to change the owner role in workspace "%"', workspace
            USING ERRCODE = '42501', HINT = 'Only an owner grants or removes the owner role.';
    END IF;
    IF old_role = 'owner' AND role <> 'owner' THEN
        PERFORM opsmeter._check_not_last_owner(m.workspace_id, member, workspace);
    END IF;
    UPDATE opsmeter.workspace_members wm
       SET role = _opsmeter_set_member_role_impl.role, granted_at = now(), granted_by = caller
     WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_set_member_role_impl.member;
END
$$;

CREATE FUNCTION opsmeter._opsmeter_remove_member_impl(caller regrole, workspace text, member regrole)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    old_role opsmeter.workspace_role;
BEGIN
    m := opsmeter._managed_workspace(caller, workspace);
    SELECT wm.role INTO old_role FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_remove_member_impl.member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is not a member of workspace "%"', coalesce(member::text, 'NULL'), workspace
            USING ERRCODE = '42704';
    END IF;
    IF old_role = 'owner' THEN
        IF m.caller_role <> 'owner' THEN
            RAISE EXCEPTION 'permission denied to remove an owner of workspace "%"', workspace
                USING ERRCODE = '42501', HINT = 'Only an owner grants or removes the owner role.';
        END IF;
        PERFORM opsmeter._check_not_last_owner(m.workspace_id, member, workspace);
    END IF;
    DELETE FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_remove_member_impl.member;
END
$$;


-- User-facing: trampolines into the *_impl functions above.
CREATE FUNCTION @extschema@.opsmeter_create_workspace(name text, owner regrole DEFAULT current_user::regrole)
RETURNS bigint AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_create_workspace(text, regrole) IS
    'create a workspace owned by owner (superusers and opsmeter_admin members)';

CREATE FUNCTION @extschema@.opsmeter_add_member(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_add_member(text, regrole, opsmeter.workspace_role) IS
    'add a role to a workspace (owners and admins; only an owner grants owner)';
CREATE FUNCTION @extschema@.opsmeter_set_member_role(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_member_role(text, regrole, opsmeter.workspace_role) IS
    'change a member''s role (owners and admins; only an owner changes an owner; the last owner stays)';
CREATE FUNCTION @extschema@.opsmeter_remove_member(workspace text, member regrole)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_remove_member(text, regrole) IS
    'remove a member (owners and admins; only an owner removes an owner; the last owner stays)';
