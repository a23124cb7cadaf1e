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
-- Names are unique regardless of case: with "Acme" beside "acme", a role in
-- both could never tell them apart by eye, and a typo would pick the other
-- tenant.  Lookups stay exact (workspaces_name_key).
CREATE UNIQUE INDEX workspaces_name_folded_key ON opsmeter.workspaces (pg_catalog.lower(name));

CREATE TABLE opsmeter.workspace_members (
    workspace_id bigint NOT NULL REFERENCES opsmeter.workspaces ON DELETE CASCADE,
    member       regrole NOT NULL,
    role         opsmeter.workspace_role NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    granted_by   regrole NOT NULL,
    -- the member's role name when it joined: a row counts only while the
    -- role with OID member still has this name (guards against OID reuse
    -- after DROP ROLE; see opsmeter._role_is_live)
    member_name  name NOT NULL,
    PRIMARY KEY (workspace_id, member)
);
CREATE INDEX workspace_members_member_idx ON opsmeter.workspace_members (member, workspace_id);
COMMENT ON TABLE opsmeter.workspace_members IS 'which PostgreSQL role holds which role in which workspace';
-- Each backend reuses its last resolution of a workspace and the caller's
-- role in it (src/tenancy.c) until one of these tables changes: every change
-- tells every backend to resolve again.
CREATE FUNCTION opsmeter._tenancy_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_tenancy_changed' LANGUAGE C;
CREATE TRIGGER workspaces_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._tenancy_changed();
CREATE TRIGGER workspace_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.workspace_members
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._tenancy_changed();

-- Invitations: opsmeter_add_member() by an owner or admin records one; the
-- invitee becomes a member only when it accepts (opsmeter_accept_invitation).
-- A pending invitation grants nothing: nothing but the functions below
-- reads this table, and the C identity code never does.
CREATE TABLE opsmeter.workspace_invitations (
    workspace_id bigint NOT NULL REFERENCES opsmeter.workspaces ON DELETE CASCADE,
    invitee      regrole NOT NULL,
    invitee_name name NOT NULL,      -- as workspace_members.member_name
    role         opsmeter.workspace_role NOT NULL,
    invited_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    invited_by   regrole NOT NULL,
    PRIMARY KEY (workspace_id, invitee)
);
COMMENT ON TABLE opsmeter.workspace_invitations IS
    'pending invitations: a role becomes a member of a workspace only by accepting one';

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

-- Whether role r still exists under the name it had when it was granted
-- membership or invited.  A dropped role's rows fail this; so do they when a
-- new role later receives the same OID (its name differs), and after ALTER
-- ROLE ... RENAME.
CREATE FUNCTION opsmeter._role_is_live(r regrole, rname name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles x
                    WHERE x.oid OPERATOR(pg_catalog.=) r AND x.rolname OPERATOR(pg_catalog.=) rname)
$$;

-- Deletes memberships and invitations of roles that are no longer live, in
-- one workspace (ws NULL: all).  They grant nothing already; this removes
-- them for good.  Called by every membership change and by each retention
-- pass.
CREATE FUNCTION opsmeter._purge_stale_members(ws bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    k bigint;
BEGIN
    DELETE FROM opsmeter.workspace_members wm
     WHERE (ws IS NULL OR wm.workspace_id = ws)
       AND NOT opsmeter._role_is_live(wm.member, wm.member_name);
    GET DIAGNOSTICS n = ROW_COUNT;
    DELETE FROM opsmeter.workspace_invitations i
     WHERE (ws IS NULL OR i.workspace_id = ws)
       AND NOT opsmeter._role_is_live(i.invitee, i.invitee_name);
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN n + k;
END
$$;

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
            USING ERRCODE = '42710', HINT = 'Workspace names are unique regardless of case; choose another name.';
    END;
    -- The initial owner is made directly: only superusers and opsmeter_admin
    -- members create workspaces (see README, "Membership by consent").
    INSERT INTO opsmeter.workspace_members (workspace_id, member, role, granted_by, member_name)
    VALUES (new_id, owner, 'owner', caller, (SELECT r.rolname FROM pg_roles r WHERE r.oid = owner));
    RETURN new_id;
END
$$;

-- Invites member (owners and admins; only an owner invites as owner).  The
-- role becomes a member only when it accepts.  A superuser's call, which
-- could act as that role anyway, makes the membership directly.
CREATE FUNCTION opsmeter._opsmeter_add_member_impl(caller regrole, workspace text, member regrole,
                                                   role opsmeter.workspace_role)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    invitee_name name;
BEGIN
    IF member IS NULL OR role IS NULL THEN
        RAISE EXCEPTION 'invalid % : NULL', CASE WHEN member IS NULL THEN 'member' ELSE 'role' END
            USING ERRCODE = '22023', HINT = 'Allowed roles: owner, admin, member, viewer.';
    END IF;
    m := opsmeter._managed_workspace(caller, workspace);
    SELECT r.rolname INTO invitee_name FROM pg_roles r WHERE r.oid = member;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role with OID % does not exist', member::oid
            USING ERRCODE = '42704', HINT = 'Name an existing role.';
    END IF;
    IF role = 'owner' AND m.caller_role <> 'owner' THEN
        RAISE EXCEPTION 'permission denied to grant role owner in workspace "%"', workspace
            USING ERRCODE = '42501', HINT = 'Only an owner grants or removes the owner role.';
    END IF;
    PERFORM opsmeter._purge_stale_members(m.workspace_id);
    IF EXISTS (SELECT 1 FROM opsmeter.workspace_members wm
                WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_add_member_impl.member) THEN
        RAISE EXCEPTION 'role % is already a member of workspace "%"', member, workspace
            USING ERRCODE = '42710', HINT = 'Use opsmeter_set_member_role() to change its role.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = caller AND r.rolsuper) THEN
        DELETE FROM opsmeter.workspace_invitations i
         WHERE i.workspace_id = m.workspace_id AND i.invitee = _opsmeter_add_member_impl.member;
        INSERT INTO opsmeter.workspace_members (workspace_id, member, role, granted_by, member_name)
        VALUES (m.workspace_id, member, role, caller, invitee_name);
        RETURN;
    END IF;
    -- Inviting again replaces the pending invitation.
    INSERT INTO opsmeter.workspace_invitations (workspace_id, invitee, invitee_name, role, invited_by)
    VALUES (m.workspace_id, member, invitee_name, role, caller)
    ON CONFLICT ON CONSTRAINT workspace_invitations_pkey DO UPDATE
       SET invitee_name = EXCLUDED.invitee_name, role = EXCLUDED.role,
           invited_at = EXCLUDED.invited_at, invited_by = EXCLUDED.invited_by;
    RAISE NOTICE 'invited role % to workspace "%" as %', member, workspace, role
        USING HINT = format('The role becomes a member when it runs SELECT opsmeter_accept_invitation(%L);', workspace);
END
$$;

-- Refuses to leave a workspace without an owner.
CREATE FUNCTION opsmeter._check_not_last_owner(ws bigint, leaving regrole, workspace text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    -- Only owners that still exist under their name count (a dropped
    -- role's row is no owner).
    IF NOT EXISTS (SELECT 1 FROM opsmeter.workspace_members wm
                    WHERE wm.workspace_id = ws AND wm.role = 'owner' AND wm.member <> leaving
                      AND opsmeter._role_is_live(wm.member, wm.member_name)) THEN
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
    PERFORM opsmeter._purge_stale_members(m.workspace_id);
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
    PERFORM opsmeter._purge_stale_members(m.workspace_id);
    SELECT wm.role INTO old_role FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = m.workspace_id AND wm.member = _opsmeter_remove_member_impl.member;
    IF NOT FOUND THEN
        -- Not a member: withdraw its pending invitation, if any.
        DELETE FROM opsmeter.workspace_invitations i
         WHERE i.workspace_id = m.workspace_id AND i.invitee = _opsmeter_remove_member_impl.member;
        IF FOUND THEN
            RETURN;
        END IF;
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

-- The invitee accepts: its pending invitation becomes a membership, with
-- the role it was invited as.  Only while the inviter may still grant that
-- role there (an admin removed since, or an owner demoted, invited nobody).
CREATE FUNCTION opsmeter._opsmeter_accept_invitation_impl(caller regrole, workspace text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint;
    inv record;
    inviter_role opsmeter.workspace_role;
BEGIN
    -- Lock the workspace row: membership changes serialize on it.
    SELECT w.workspace_id INTO ws FROM opsmeter.workspaces w WHERE w.name = workspace FOR UPDATE;
    SELECT i.role, i.invited_by, i.invitee_name INTO inv FROM opsmeter.workspace_invitations i
     WHERE i.workspace_id = ws AND i.invitee = caller AND opsmeter._role_is_live(i.invitee, i.invitee_name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % has no pending invitation to workspace "%"', caller, coalesce(workspace, 'NULL')
            USING ERRCODE = '42501',
                  HINT = 'An owner or admin of the workspace invites you with opsmeter_add_member(); opsmeter.my_invitations lists yours.';
    END IF;
    SELECT wm.role INTO inviter_role FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = ws AND wm.member = inv.invited_by AND opsmeter._role_is_live(wm.member, wm.member_name);
    IF inviter_role IS NULL OR inviter_role NOT IN ('owner', 'admin') OR (inv.role = 'owner' AND inviter_role <> 'owner') THEN
        RAISE EXCEPTION 'the invitation of role % to workspace "%" is no longer valid', caller, workspace
            USING ERRCODE = '42501',
                  DETAIL = format('Role %s, who invited it as %s, may no longer grant that role there.', inv.invited_by, inv.role),
                  HINT = 'Decline it with opsmeter_decline_invitation(), and ask a current owner or admin to invite you again.';
    END IF;
    DELETE FROM opsmeter.workspace_invitations i WHERE i.workspace_id = ws AND i.invitee = caller;
    PERFORM opsmeter._purge_stale_members(ws);
    INSERT INTO opsmeter.workspace_members (workspace_id, member, role, granted_by, member_name)
    VALUES (ws, caller, inv.role, inv.invited_by, inv.invitee_name)
    ON CONFLICT ON CONSTRAINT workspace_members_pkey DO NOTHING;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is already a member of workspace "%"', caller, workspace USING ERRCODE = '42710';
    END IF;
END
$$;

-- The invitee declines: its pending invitation is deleted.
CREATE FUNCTION opsmeter._opsmeter_decline_invitation_impl(caller regrole, workspace text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM opsmeter.workspace_invitations i
     USING opsmeter.workspaces w
     WHERE w.name = workspace AND i.workspace_id = w.workspace_id AND i.invitee = caller
       AND opsmeter._role_is_live(i.invitee, i.invitee_name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % has no pending invitation to workspace "%"', caller, coalesce(workspace, 'NULL')
            USING ERRCODE = '42501', HINT = 'opsmeter.my_invitations lists yours.';
    END IF;
END
$$;

-- A member leaves on its own; the last owner stays.
CREATE FUNCTION opsmeter._opsmeter_leave_workspace_impl(caller regrole, workspace text)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint;
    my_role opsmeter.workspace_role;
BEGIN
    -- Lock the workspace row: membership changes serialize on it.
    SELECT w.workspace_id INTO ws FROM opsmeter.workspaces w WHERE w.name = workspace FOR UPDATE;
    SELECT wm.role INTO my_role FROM opsmeter.workspace_members wm
     WHERE wm.workspace_id = ws AND wm.member = caller AND opsmeter._role_is_live(wm.member, wm.member_name);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is not a member of workspace "%"', caller, coalesce(workspace, 'NULL')
            USING ERRCODE = '42501';
    END IF;
    IF my_role = 'owner' THEN
        PERFORM opsmeter._check_not_last_owner(ws, caller, workspace);
    END IF;
    DELETE FROM opsmeter.workspace_members wm WHERE wm.workspace_id = ws AND wm.member = caller;
END
$$;

-- The caller's own pending invitations, with the workspace's name (which an
-- invitee may not read in opsmeter.workspaces).  Not security_invoker: it
-- reads as the owner, and security_barrier keeps its filter first.
CREATE VIEW opsmeter.my_invitations WITH (security_barrier = true) AS
    SELECT w.name AS workspace, i.role, i.invited_by, i.invited_at
      FROM opsmeter.workspace_invitations i
      JOIN opsmeter.workspaces w ON w.workspace_id OPERATOR(pg_catalog.=) i.workspace_id
      JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) i.invitee::pg_catalog.oid
                                AND r.rolname OPERATOR(pg_catalog.=) i.invitee_name
     WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER;
COMMENT ON VIEW opsmeter.my_invitations IS
    'the current role''s pending invitations (accept with opsmeter_accept_invitation, or decline)';


-- User-facing: trampolines into the *_impl functions above.
CREATE FUNCTION @extschema@.opsmeter_create_workspace(name text, owner regrole DEFAULT current_user::regrole)
RETURNS bigint AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_create_workspace(text, regrole) IS
    'create a workspace owned by owner (superusers and opsmeter_admin members)';

CREATE FUNCTION @extschema@.opsmeter_add_member(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_add_member(text, regrole, opsmeter.workspace_role) IS
    'invite a role to a workspace; it becomes a member when it accepts (owners and admins; only an owner invites as owner; a superuser adds directly)';
CREATE FUNCTION @extschema@.opsmeter_set_member_role(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_member_role(text, regrole, opsmeter.workspace_role) IS
    'change a member''s role (owners and admins; only an owner changes an owner; the last owner stays)';
CREATE FUNCTION @extschema@.opsmeter_remove_member(workspace text, member regrole)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_remove_member(text, regrole) IS
    'remove a member or withdraw its pending invitation (owners and admins; only an owner removes an owner; the last owner stays)';
CREATE FUNCTION @extschema@.opsmeter_accept_invitation(workspace text)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_accept_invitation(text) IS
    'accept your pending invitation to a workspace: you become a member with the invited role';
CREATE FUNCTION @extschema@.opsmeter_decline_invitation(workspace text)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_decline_invitation(text) IS
    'decline your pending invitation to a workspace';
CREATE FUNCTION @extschema@.opsmeter_leave_workspace(workspace text)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_leave_workspace(text) IS
    'leave a workspace you are a member of (anyone but its last owner)';
