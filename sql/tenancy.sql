-- tenancy: workspaces, members and what each role may do.
-- Relies on setup: roles regress_* (regress_creator is in opsmeter_admin).
\set SHOW_CONTEXT never
CREATE EXTENSION IF NOT EXISTS opsmeter;
\set VERBOSITY default

-- Only superusers and members of opsmeter_admin create workspaces.
SET ROLE regress_nobody;
SELECT opsmeter_create_workspace('nope');
RESET ROLE;

SET ROLE regress_creator;
SELECT opsmeter_create_workspace('acme', 'regress_owner') > 0 AS created;
SELECT opsmeter_create_workspace('globex', 'regress_outsider') > 0 AS created;
SELECT opsmeter_create_workspace('acme', 'regress_owner');          -- duplicate name
SELECT opsmeter_create_workspace('', 'regress_owner');              -- empty name
RESET ROLE;

-- The owner invites members (the role names come from the PostgreSQL
-- catalog); each becomes a member when it accepts.
SET ROLE regress_owner;
SELECT opsmeter_add_member('acme', 'regress_admin', 'admin');
SELECT opsmeter_add_member('acme', 'regress_member', 'member');
SELECT opsmeter_add_member('acme', 'regress_viewer', 'viewer');
SELECT opsmeter_add_member('acme', 'regress_multi', 'member');
RESET ROLE;
SET ROLE regress_admin;
SELECT opsmeter_accept_invitation('acme');
SET ROLE regress_member;
SELECT opsmeter_accept_invitation('acme');
SET ROLE regress_viewer;
SELECT opsmeter_accept_invitation('acme');
SET ROLE regress_multi;
SELECT opsmeter_accept_invitation('acme');
SET ROLE regress_owner;
SELECT opsmeter_add_member('acme', 'regress_member', 'viewer');     -- already a member
SELECT member, role FROM opsmeter.workspace_members ORDER BY role, member;
RESET ROLE;

-- An admin manages members but cannot grant, change or remove owners.
SET ROLE regress_admin;
SELECT opsmeter_add_member('acme', 'regress_nobody', 'owner');
SELECT opsmeter_set_member_role('acme', 'regress_owner', 'admin');
SELECT opsmeter_remove_member('acme', 'regress_owner');
SELECT opsmeter_set_member_role('acme', 'regress_viewer', 'member');
SELECT opsmeter_set_member_role('acme', 'regress_viewer', 'viewer');
SELECT opsmeter_set_member_role('acme', 'regress_nobody', 'viewer'); -- not a member
RESET ROLE;

-- Members and viewers cannot manage; outsiders cannot even see the workspace.
SET ROLE regress_member;
SELECT opsmeter_add_member('acme', 'regress_nobody', 'viewer');
RESET ROLE;
SET ROLE regress_outsider;
SELECT opsmeter_add_member('acme', 'regress_nobody', 'viewer');
RESET ROLE;

-- The last owner can be neither removed nor demoted.
SET ROLE regress_owner;
SELECT opsmeter_remove_member('acme', 'regress_owner');
SELECT opsmeter_set_member_role('acme', 'regress_owner', 'admin');
-- With a second owner, the first may step down.
SELECT opsmeter_add_member('acme', 'regress_creator', 'owner');
SET ROLE regress_creator;
SELECT opsmeter_accept_invitation('acme');
SET ROLE regress_owner;
SELECT opsmeter_set_member_role('acme', 'regress_owner', 'admin');
RESET ROLE;
SET ROLE regress_creator;
SELECT opsmeter_set_member_role('acme', 'regress_owner', 'owner');
SELECT opsmeter_remove_member('acme', 'regress_creator');
RESET ROLE;

-- The active workspace: the caller's only workspace ...
SET ROLE regress_member;
SELECT name FROM opsmeter.workspaces WHERE workspace_id = opsmeter.active_workspace();
RESET ROLE;
-- ... an error for roles in several workspaces until opsmeter.workspace is set ...
SET ROLE regress_outsider;
SELECT opsmeter_add_member('globex', 'regress_multi', 'member');
RESET ROLE;
SET ROLE regress_multi;
SELECT opsmeter_accept_invitation('globex');
SELECT opsmeter.active_workspace();
SET opsmeter.workspace = 'globex';
SELECT name FROM opsmeter.workspaces WHERE workspace_id = opsmeter.active_workspace();
RESET opsmeter.workspace;
RESET ROLE;
-- A role in many workspaces gets a hint of one line: ten names and a count
-- (in a transaction rolled back, so no later story sees these workspaces).
BEGIN;
SELECT count(opsmeter_create_workspace('many_' || lpad(i::text, 2, '0'))) AS created FROM generate_series(1, 12) i;
SELECT count(opsmeter_add_member('many_' || lpad(i::text, 2, '0'), 'regress_multi', 'viewer')) AS added
  FROM generate_series(1, 12) i;
SET LOCAL ROLE regress_multi;
SELECT opsmeter.active_workspace();
ROLLBACK;
-- ... and 42501 for roles in none, or naming a workspace they are not in.
SET ROLE regress_nobody;
SELECT opsmeter.active_workspace();
SET opsmeter.workspace = 'acme';
SELECT opsmeter.active_workspace();
SELECT opsmeter_ingest('{"externalRequestId": "x", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
RESET opsmeter.workspace;
RESET ROLE;

-- Viewers read only: ingest is refused.
SET ROLE regress_viewer;
SELECT opsmeter_ingest('{"externalRequestId": "v-1", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
RESET ROLE;

-- Row-level security: every member sees its own workspace's rows and nothing
-- else, by any route, including plain SELECTs on the internal tables.
SET ROLE regress_member;
SELECT opsmeter_ingest('{"externalRequestId": "acme-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 100, "outputTokens": 10}')->>'ok' AS ok;
RESET ROLE;
SET ROLE regress_outsider;
SELECT opsmeter_ingest('{"externalRequestId": "globex-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 100, "outputTokens": 10}')->>'ok' AS ok;
RESET ROLE;

SET ROLE regress_member;
SELECT w.name, e.external_request_id, e.ingested_by
  FROM opsmeter.events e JOIN opsmeter.workspaces w USING (workspace_id) ORDER BY 2;
SELECT external_request_id FROM opsmeter.request_keys ORDER BY 1;
SELECT name FROM opsmeter.workspaces ORDER BY 1;
SELECT count(*) AS globex_member_rows_visible FROM opsmeter.workspace_members m
  JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'globex';
-- Partitions are not readable directly: only through the RLS-protected parent.
DO $$
BEGIN
    EXECUTE format('SELECT count(*) FROM opsmeter.%I', opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date));
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'today''s partition: % (%)', SQLERRM ~ 'permission denied', SQLSTATE;
END $$;
-- Nor writable.
INSERT INTO opsmeter.events (workspace_id, ts) VALUES (1, now());
DELETE FROM opsmeter.request_keys;
UPDATE opsmeter.workspace_members SET role = 'owner';
RESET ROLE;

SET ROLE regress_outsider;
SELECT w.name, e.external_request_id FROM opsmeter.events e JOIN opsmeter.workspaces w USING (workspace_id) ORDER BY 2;
-- Naming a workspace one is not in grants nothing.
SET opsmeter.workspace = 'acme';
SELECT count(*) FROM opsmeter.events;
SELECT opsmeter_ingest('{"externalRequestId": "sneak", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1}');
RESET opsmeter.workspace;
RESET ROLE;

-- The internal implementation functions cannot be called directly to forge
-- a caller.
SET ROLE regress_nobody;
SELECT opsmeter._opsmeter_add_member_impl('regress_owner', 'acme', 'regress_nobody', 'owner');
SELECT * FROM opsmeter._resolve_workspace('regress_owner', 'acme');
RESET ROLE;
