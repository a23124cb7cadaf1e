-- hostile_membership: a role becomes a member of a workspace only with its
-- own consent (issue #13).  Told as the attack:
--
-- 1. The owner of workspace A "adds" a victim that has its own workspace.
--    That records only an invitation: the victim's "only workspace" still
--    resolves, rows planted in A never show in its raw-table reads, and
--    naming A grants it nothing.  The victim sees the invitation and
--    declines it; an invitation is accepted only by the invitee, and only
--    while its inviter may still grant that role.
-- 2. Any member leaves on its own; the last owner cannot.
-- 3. DROP ROLE of an owner leaves a row that counts for nothing: the other
--    owner still cannot leave the workspace ownerless, and a role that
--    later holds the dropped role's OID (OID reuse, simulated by pointing
--    the rows at it: a real wrap-around cannot be provoked) gains nothing.
--    The retention pass deletes such rows.
--
-- Makes its own roles hm_* (dropped first, so the story can run again).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
DROP ROLE IF EXISTS hm_attacker, hm_victim, hm_owner, hm_coowner, hm_admin, hm_friend, hm_late,
                    hm_doomed, hm_reuse, hm_direct;
CREATE ROLE hm_attacker LOGIN;
CREATE ROLE hm_victim LOGIN;
CREATE ROLE hm_owner LOGIN;
CREATE ROLE hm_coowner LOGIN;
CREATE ROLE hm_admin LOGIN;
CREATE ROLE hm_friend LOGIN;
CREATE ROLE hm_late LOGIN;
CREATE ROLE hm_doomed LOGIN;
CREATE ROLE hm_reuse LOGIN;
CREATE ROLE hm_direct LOGIN;
RESET client_min_messages;
-- Every day is summarized by the pass that first sees it, so tier 1
-- holds rows to be kept apart.
SET opsmeter.summarize_day_rows = 0;
\set VERBOSITY default

SELECT opsmeter_create_workspace('hm_victim_ws', 'hm_victim') > 0 AS created;
SELECT opsmeter_create_workspace('hm_attack_ws', 'hm_attacker') > 0 AS created;
SELECT opsmeter_create_workspace('hm_team_ws', 'hm_owner') > 0 AS created;
CREATE FUNCTION pg_temp.ev(id text) RETURNS jsonb LANGUAGE sql
RETURN jsonb_build_object('externalRequestId', id, 'provider', 'openai', 'model', 'gpt-4o',
                          'inputTokens', 1000000, 'outputTokens', 0, 'userId', 'u-' || id);
SET ROLE hm_victim;
SELECT opsmeter_ingest(pg_temp.ev('victim-1')) ->> 'ok' AS victim_ok;
RESET ROLE;

------------------------------------------------------------------------------
-- 1. Planting a member without its consent
------------------------------------------------------------------------------
-- The attacker plants an expensive row in its workspace and "adds" the
-- victim, first as viewer, then (inviting again replaces it) as owner.
SET ROLE hm_attacker;
SELECT opsmeter_ingest(pg_temp.ev('planted-1')) ->> 'ok' AS planted_ok;
SELECT opsmeter_add_member('hm_attack_ws', 'hm_victim', 'viewer');
SELECT opsmeter_add_member('hm_attack_ws', 'hm_victim', 'owner');
-- It is an invitation, not a membership.
SELECT invitee, invitee_name, role, invited_by FROM opsmeter.workspace_invitations;
SELECT member, role FROM opsmeter.workspace_members ORDER BY member;
RESET ROLE;

-- A pass rolls everything up, so summaries are populated too.
SELECT opsmeter_run_retention() ->> 'ok' AS pass_ok;

-- The victim is unaffected: its only workspace still resolves without
-- opsmeter.workspace, and plain SQL on the raw tables shows only its rows.
SET ROLE hm_victim;
SELECT name AS active FROM opsmeter.workspaces WHERE workspace_id = opsmeter.active_workspace();
SELECT opsmeter_ingest(pg_temp.ev('victim-2')) ->> 'ok' AS victim_ok;
SELECT array_length(opsmeter.my_workspaces(), 1) AS my_workspaces;
SELECT name FROM opsmeter.workspaces ORDER BY 1;
SELECT external_request_id, user_id FROM opsmeter.events ORDER BY 1;
SELECT external_request_id FROM opsmeter.request_keys ORDER BY 1;
SELECT count(*) AS summary_rows_of_others FROM opsmeter.summaries
 WHERE workspace_id <> opsmeter.active_workspace();
SELECT sum(requests) AS overview_requests, sum(cost_usd) AS overview_cost
  FROM opsmeter.summary_quarters;
SELECT member, role FROM opsmeter.workspace_members ORDER BY member;
SELECT user_id, requests FROM opsmeter_top_users() ORDER BY 1;
-- Naming the attacker's workspace grants nothing.
SET opsmeter.workspace = 'hm_attack_ws';
SELECT opsmeter.active_workspace();
SELECT count(*) FILTER (WHERE external_request_id LIKE 'planted%') AS planted_rows_seen FROM opsmeter.events;
SELECT opsmeter_ingest(pg_temp.ev('victim-3'));
RESET opsmeter.workspace;
-- The victim sees the invitation addressed to it (with the workspace's
-- name, which it may not read in opsmeter.workspaces), and declines.
SELECT workspace, role, invited_by FROM opsmeter.my_invitations;
SELECT invitee, role FROM opsmeter.workspace_invitations;
SELECT opsmeter_decline_invitation('hm_attack_ws');
SELECT opsmeter_accept_invitation('hm_attack_ws');                -- nothing left to accept
SELECT count(*) AS my_invitations FROM opsmeter.my_invitations;
RESET ROLE;

-- Nobody else can accept for the victim, and outsiders see no invitation.
SET ROLE hm_attacker;
SELECT opsmeter_add_member('hm_attack_ws', 'hm_victim', 'viewer');
SELECT opsmeter_accept_invitation('hm_attack_ws');                -- the attacker has none
SELECT opsmeter._opsmeter_accept_invitation_impl('hm_victim', 'hm_attack_ws');
RESET ROLE;
SET ROLE hm_friend;
SELECT count(*) AS invitations_seen FROM opsmeter.workspace_invitations;
SELECT count(*) AS my_invitations FROM opsmeter.my_invitations;
RESET ROLE;
-- Withdrawn by the attacker (remove_member of a role that only has an
-- invitation), the victim has none left.
SET ROLE hm_attacker;
SELECT opsmeter_remove_member('hm_attack_ws', 'hm_victim');
RESET ROLE;
SET ROLE hm_victim;
SELECT count(*) AS my_invitations FROM opsmeter.my_invitations;
RESET ROLE;

-- Consent: the owner of hm_team_ws invites an admin and a friend; each
-- accepts and becomes a member with the invited role.
SET ROLE hm_owner;
SELECT opsmeter_add_member('hm_team_ws', 'hm_admin', 'admin');
SELECT opsmeter_add_member('hm_team_ws', 'hm_friend', 'member');
RESET ROLE;
SET ROLE hm_admin;
SELECT opsmeter_accept_invitation('hm_team_ws');
-- An admin's invitation holds only while it is an admin.
SELECT opsmeter_add_member('hm_team_ws', 'hm_late', 'viewer');
RESET ROLE;
SET ROLE hm_friend;
SELECT workspace, role, invited_by FROM opsmeter.my_invitations;
SELECT opsmeter_accept_invitation('hm_team_ws');
SELECT name AS active FROM opsmeter.workspaces WHERE workspace_id = opsmeter.active_workspace();
SELECT opsmeter_accept_invitation('hm_team_ws');                  -- accepted already
RESET ROLE;
SET ROLE hm_owner;
SELECT member, role, granted_by FROM opsmeter.workspace_members ORDER BY member;
SELECT opsmeter_remove_member('hm_team_ws', 'hm_admin');
RESET ROLE;
SET ROLE hm_late;
SELECT opsmeter_accept_invitation('hm_team_ws');                  -- its inviter is no admin any more
SELECT opsmeter_decline_invitation('hm_team_ws');
RESET ROLE;

-- A superuser, who can act as any role anyway, adds members directly.
SELECT opsmeter_add_member('hm_team_ws', 'hm_direct', 'viewer');
SELECT count(*) AS direct_is_member FROM opsmeter.workspace_members m JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'hm_team_ws' AND m.member = 'hm_direct'::regrole;

------------------------------------------------------------------------------
-- 2. Leaving
------------------------------------------------------------------------------
SET ROLE hm_friend;
SELECT opsmeter_leave_workspace('hm_team_ws');
SELECT opsmeter.active_workspace();                               -- in no workspace now
SELECT opsmeter_leave_workspace('hm_team_ws');                    -- not a member any more
SELECT opsmeter_leave_workspace('hm_victim_ws');                  -- never was
RESET ROLE;
SET ROLE hm_direct;
SELECT opsmeter_leave_workspace('hm_team_ws');
RESET ROLE;
-- The last owner stays.
SET ROLE hm_owner;
SELECT opsmeter_leave_workspace('hm_team_ws');
RESET ROLE;
SET ROLE hm_victim;
SELECT opsmeter_leave_workspace('hm_victim_ws');
RESET ROLE;

------------------------------------------------------------------------------
-- 3. DROP ROLE and OID reuse
------------------------------------------------------------------------------
-- hm_coowner becomes a second owner of hm_team_ws; hm_doomed is invited.
SET ROLE hm_owner;
SELECT opsmeter_add_member('hm_team_ws', 'hm_coowner', 'owner');
SELECT opsmeter_add_member('hm_team_ws', 'hm_doomed', 'viewer');
RESET ROLE;
SET ROLE hm_coowner;
SELECT opsmeter_accept_invitation('hm_team_ws');
RESET ROLE;
SELECT 'hm_coowner'::regrole::oid AS coowner_oid, 'hm_doomed'::regrole::oid AS doomed_oid \gset
DROP ROLE hm_coowner;
DROP ROLE hm_doomed;
-- Their rows are still there (DROP ROLE cannot touch them) ...
SELECT m.member_name, m.role, opsmeter._role_is_live(m.member, m.member_name) AS live
  FROM opsmeter.workspace_members m JOIN opsmeter.workspaces w USING (workspace_id)
 WHERE w.name = 'hm_team_ws' ORDER BY 1;
-- ... but the dropped co-owner is no owner: the remaining one can neither
-- leave nor step down.
SET ROLE hm_owner;
SELECT opsmeter_leave_workspace('hm_team_ws');
SELECT opsmeter_set_member_role('hm_team_ws', 'hm_owner', 'admin');
RESET ROLE;

-- OID reuse: a new role that receives a dropped role's OID must inherit
-- nothing.  Simulated by pointing the dropped roles' rows at hm_reuse's
-- OID, which is what a reused OID looks like (the recorded name differs).
UPDATE opsmeter.workspace_members SET member = 'hm_reuse'::regrole WHERE member = :coowner_oid::regrole;
UPDATE opsmeter.workspace_invitations SET invitee = 'hm_reuse'::regrole WHERE invitee = :doomed_oid::regrole;
SELECT m.member = 'hm_reuse'::regrole AS reused, m.member_name, m.role
  FROM opsmeter.workspace_members m WHERE m.member_name = 'hm_coowner';
SET ROLE hm_reuse;
SELECT opsmeter.my_workspaces() AS my_workspaces;
SELECT opsmeter.active_workspace();
SET opsmeter.workspace = 'hm_team_ws';
SELECT opsmeter_ingest(pg_temp.ev('reuse-1'));
SELECT count(*) AS events_seen FROM opsmeter.events;
SELECT count(*) AS members_seen FROM opsmeter.workspace_members;
SELECT opsmeter_add_member('hm_team_ws', 'hm_attacker', 'owner');
RESET opsmeter.workspace;
SELECT count(*) AS my_invitations FROM opsmeter.my_invitations;
SELECT opsmeter_accept_invitation('hm_team_ws');
SELECT opsmeter_leave_workspace('hm_team_ws');
RESET ROLE;
-- The remaining owner still cannot leave the workspace ownerless.
SET ROLE hm_owner;
SELECT opsmeter_leave_workspace('hm_team_ws');
RESET ROLE;

-- An owner may still invite the role that now has the OID: the stale rows
-- go first.
SET ROLE hm_owner;
SELECT opsmeter_add_member('hm_team_ws', 'hm_reuse', 'viewer');
SELECT member, member_name, role FROM opsmeter.workspace_members ORDER BY member_name;
SELECT invitee, invitee_name, role FROM opsmeter.workspace_invitations ORDER BY invitee_name;
SELECT opsmeter_remove_member('hm_team_ws', 'hm_reuse');
RESET ROLE;

-- The retention pass deletes rows of roles that no longer exist anywhere.
SELECT opsmeter_add_member('hm_victim_ws', 'hm_friend', 'viewer');
DROP ROLE hm_friend;
SELECT count(*) AS stale_rows_before FROM opsmeter.workspace_members m
 WHERE NOT opsmeter._role_is_live(m.member, m.member_name);
SELECT opsmeter_run_retention() ->> 'ok' AS pass_ok;
SELECT (SELECT count(*) FROM opsmeter.workspace_members m WHERE NOT opsmeter._role_is_live(m.member, m.member_name))
     + (SELECT count(*) FROM opsmeter.workspace_invitations i WHERE NOT opsmeter._role_is_live(i.invitee, i.invitee_name))
       AS stale_rows_after;

-- Renaming a role voids its memberships the same way (documented limit);
-- renaming it back before a pass restores them.
ALTER ROLE hm_victim RENAME TO hm_victim_renamed;
SET ROLE hm_victim_renamed;
SELECT opsmeter.my_workspaces() AS my_workspaces;
RESET ROLE;
ALTER ROLE hm_victim_renamed RENAME TO hm_victim;
SET ROLE hm_victim;
SELECT name AS active FROM opsmeter.workspaces WHERE workspace_id = opsmeter.active_workspace();
RESET ROLE;

-- The new internal functions are closed to PUBLIC like the others.
SELECT p.oid::regprocedure AS function, has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'opsmeter'::regnamespace
   AND p.proname IN ('_role_is_live', '_purge_stale_members', '_opsmeter_accept_invitation_impl',
                     '_opsmeter_decline_invitation_impl', '_opsmeter_leave_workspace_impl')
 ORDER BY 1::text;

-- Clean up: nothing here is used by later stories.
SET client_min_messages = warning;
DROP ROLE hm_attacker, hm_victim, hm_owner, hm_admin, hm_late, hm_reuse, hm_direct;
RESET client_min_messages;
