-- opsmeter 0.1.0 -> 0.2.0 (ALTER EXTENSION opsmeter UPDATE TO '0.2.0').
--
-- Every schema change of 0.2.0 goes here AND into its part in sql/install/,
-- in the same words where possible.  test/upgrade/run.sh proves that a
-- populated 0.1.0 database upgraded by this script is, object for object,
-- a fresh 0.2.0 install, and that its data answers the same.  Append new
-- columns at the end of their table in both places: column order is part
-- of what SELECT * shows, and the test compares it.

\echo Use "ALTER EXTENSION opsmeter UPDATE TO '0.2.0'" to load this file. \quit

-- A retention pass (the worker's, pg_cron's, a DBA's) locks rollup_state
-- before any table this script alters.  Taking that lock first makes a
-- running pass and this upgrade wait for each other in turn instead of
-- deadlocking (seen: a pass holding opsmeter.events while this script held
-- workspace_members).  Ingest does not need it and only waits for the
-- ALTER TABLEs below, as with any schema change.
LOCK TABLE opsmeter.rollup_state IN ACCESS EXCLUSIVE MODE;

-- Dedup keys in generations (issue #15).  0.1.0 kept them in one table
-- whose rows retention deleted one by one; 0.2.0 partitions them by ingest
-- time, and retention drops a generation whole.  The keys of 0.1.0 become
-- the first generation, open, compared as the new column is (COLLATE "C";
-- equal keys are equal bytes under any deterministic collation, so no two
-- keys merge and none splits).  Done before anything below refers to the
-- table.  The old table leaves the extension before it is dropped, which
-- takes it out of the extension's dump configuration too.
ALTER TABLE opsmeter.request_keys RENAME TO request_keys_0_1_0;
ALTER EXTENSION opsmeter DROP TABLE opsmeter.request_keys_0_1_0;
-- PostgreSQL 18 names NOT NULL constraints after their table
-- (request_keys_workspace_id_not_null, ...); the new table's must get the
-- same names as in a fresh install, so the old ones step aside (before 18
-- there are none: NOT NULL is not a pg_constraint row).
DO $$
DECLARE
    c name;
BEGIN
    FOR c IN SELECT k.conname FROM pg_catalog.pg_constraint k
              WHERE k.conrelid = 'opsmeter.request_keys_0_1_0'::pg_catalog.regclass AND k.contype = 'n'
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE opsmeter.request_keys_0_1_0 RENAME CONSTRAINT %I TO %I',
                                  c, 'old_' || c);
    END LOOP;
END
$$;

-- Dedup: one row per (workspace, externalRequestId) for as long as the raw
-- row lives.  PostgreSQL has no index across partitions, so the keys live
-- here, in *generations*: one partition per span of ingest time
-- (opsmeter.key_generation, 7 days by default).  Ingest writes keys into
-- the open generation only, whose unique index settles concurrent retries,
-- and looks a key up in the sealed ones; retention drops a sealed
-- generation whole once no partition of opsmeter.events can still hold a
-- row of its keys.  So no key is ever deleted by retention, and a key lives
-- at least as long as its row, whatever timestamps its retries carry.
-- event_day names the partition of opsmeter.events holding the row.
CREATE TABLE opsmeter.request_keys (
    workspace_id        bigint NOT NULL,
    external_request_id text COLLATE "C" NOT NULL,
    event_day           date NOT NULL,
    generation          integer NOT NULL
) PARTITION BY LIST (generation);
COMMENT ON TABLE opsmeter.request_keys IS
    'dedup keys: one row per (workspace, externalRequestId) while its event is retained, one partition per key generation';

-- One row per generation of opsmeter.request_keys.  The open one
-- (sealed_at IS NULL) takes new keys; a sealed one is only read (and
-- deleted from by cleanups), and no row of its keys is later than
-- (sealed_at + 5 minutes)::date (ingest refuses timestamps more than 5
-- minutes ahead).  Every backend caches this list; its trigger tells them
-- it changed.
CREATE TABLE opsmeter.key_generations (
    generation integer PRIMARY KEY,
    opened_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sealed_at  timestamptz,
    -- 0 when sealed from the open one; a merge of eight of level n is n + 1
    level      integer NOT NULL DEFAULT 0,
    -- opsmeter._key_filter() of a sealed generation (src/key_filter.c); NULL:
    -- not built yet, ingest looks every key up in it
    key_filter bytea
);
COMMENT ON TABLE opsmeter.key_generations IS
    'generations of opsmeter.request_keys: the open one takes new keys, sealed ones are dropped whole by retention';
CREATE UNIQUE INDEX key_generations_one_open ON opsmeter.key_generations ((true)) WHERE sealed_at IS NULL;
CREATE FUNCTION opsmeter._key_generations_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_key_generations_changed' LANGUAGE C;
CREATE TRIGGER key_generations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.key_generations
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._key_generations_changed();

CREATE FUNCTION opsmeter.key_generation_name(generation integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'request_keys_g' OPERATOR(pg_catalog.||)
       pg_catalog.lpad(generation::text, GREATEST(6, pg_catalog.length(generation::text)), '0');

-- The filter in front of a sealed generation (src/key_filter.c): built by
-- retention passes, read by ingest, which looks a new key up only in the
-- generations whose filter may hold it.
CREATE FUNCTION opsmeter._key_filter(generation regclass) RETURNS bytea
    AS 'MODULE_PATHNAME', 'opsmeter_key_filter_build' LANGUAGE C STRICT;
CREATE FUNCTION opsmeter._key_filter_lacks(filter bytea, workspace_id bigint, key text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_key_filter_lacks_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A table for one generation's keys, not attached yet: its CHECK lets
-- ATTACH skip the scan of a merged one.  Like a day of opsmeter.events, it
-- has row-level security and no grants: read it through the parent.
CREATE FUNCTION opsmeter._create_key_generation_table(part text, generation integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
BEGIN
    EXECUTE format('CREATE TABLE opsmeter.%I (LIKE opsmeter.request_keys, CHECK (generation = %s))', part, generation);
    -- Tenants' keys collect no statistics (README, "Isolation").
    EXECUTE format('ALTER TABLE opsmeter.%I ALTER COLUMN external_request_id SET STATISTICS 0', part);
    EXECUTE format('ALTER TABLE opsmeter.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('REVOKE ALL ON opsmeter.%I FROM PUBLIC', part);
END
$$;

-- Opens a generation of keys when none is open, or, with seal, seals the
-- open one and opens the next; returns the open generation.  Openers take
-- turns (the lock is held to commit).  A sealer must hold the open
-- generation's partition in SHARE mode first (opsmeter._enforce_retention):
-- then no ingest is writing into it, and every later one waits for the
-- sealer's commit and then writes into the new generation.  The sealed
-- one's key filter is built by the next pass, outside that lock.
CREATE FUNCTION opsmeter._open_key_generation(seal boolean) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    open_gen integer;
    next_gen integer;
    part text;
BEGIN
    LOCK TABLE opsmeter.key_generations IN EXCLUSIVE MODE;
    SELECT g.generation INTO open_gen FROM opsmeter.key_generations g WHERE g.sealed_at IS NULL;
    IF open_gen IS NOT NULL AND NOT seal THEN
        RETURN open_gen;
    END IF;
    SELECT coalesce(max(g.generation), 0) + 1 INTO next_gen FROM opsmeter.key_generations g;
    part := opsmeter.key_generation_name(next_gen);
    PERFORM opsmeter._create_key_generation_table(part, next_gen);
    EXECUTE format('CREATE UNIQUE INDEX %I ON opsmeter.%I (workspace_id, external_request_id)', part || '_key', part);
    EXECUTE format('ALTER TABLE opsmeter.request_keys ATTACH PARTITION opsmeter.%I FOR VALUES IN (%s)', part, next_gen);
    -- The clock, not the transaction's start: every ingest into the sealed
    -- generation has ended by now (see above), so its keys' days are bounded.
    UPDATE opsmeter.key_generations g SET sealed_at = clock_timestamp() WHERE g.generation = open_gen;
    INSERT INTO opsmeter.key_generations (generation, opened_at) VALUES (next_gen, clock_timestamp());
    RETURN next_gen;
END
$$;

-- The first generation is created by this script, which would make it a
-- member of the extension; like every later one, it must be an ordinary
-- table that pg_dump dumps with its rows.
SELECT opsmeter._open_key_generation(false);
ALTER EXTENSION opsmeter DROP TABLE opsmeter.request_keys_g000001;
INSERT INTO opsmeter.request_keys_g000001 (workspace_id, external_request_id, event_day, generation)
SELECT k.workspace_id, k.external_request_id, k.event_day, 1 FROM opsmeter.request_keys_0_1_0 k;
DROP TABLE opsmeter.request_keys_0_1_0;
ALTER TABLE opsmeter.request_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY request_keys_read ON opsmeter.request_keys FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.request_keys TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._open_key_generation(boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._create_key_generation_table(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_filter(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_filter_lacks(bytea, bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._key_generations_changed() FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('opsmeter.key_generations', '');

-- The daily partitions of opsmeter.events and their UTC days (retention's
-- drops, the key generations' drops, opsmeter.worker_status).
CREATE FUNCTION opsmeter.event_partitions(OUT rel regclass, OUT day date) RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass,
           pg_catalog.to_date(pg_catalog.substring(c.relname, '^events_p(\d{8})$'), 'YYYYMMDD')
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
     WHERE i.inhparent OPERATOR(pg_catalog.=) 'opsmeter.events'::pg_catalog.regclass
       AND c.relname OPERATOR(pg_catalog.~) '^events_p\d{8}$';
END;

-- Every user-facing function, view and type, and every table, says what it is
-- (\df+, \dv+, \dT+ and BI tools show these).
COMMENT ON TYPE opsmeter.data_mode IS 'what an event is: real traffic, test traffic or demo data (views default to real)';
COMMENT ON TYPE opsmeter.environment IS 'the deployment an event came from';
COMMENT ON TYPE opsmeter.workspace_role IS 'a member''s role in a workspace, most rights first';
COMMENT ON TYPE opsmeter.pricing_source IS 'where an event''s cost came from: the price catalog, the caller, or nowhere (unpriced)';
COMMENT ON TYPE opsmeter.summary_dimension IS 'what a summary row is grouped by';
COMMENT ON TYPE opsmeter.summary_grain IS 'the period a summary row covers: a UTC hour or a UTC day';
COMMENT ON FUNCTION @extschema@.opsmeter_add_member(text, regrole, opsmeter.workspace_role) IS
    'invite a role to a workspace; it becomes a member when it accepts (owners and admins; only an owner invites as owner; a superuser adds directly)';
COMMENT ON FUNCTION @extschema@.opsmeter_set_member_role(text, regrole, opsmeter.workspace_role) IS
    'change a member''s role (owners and admins; only an owner changes an owner; the last owner stays)';
COMMENT ON FUNCTION @extschema@.opsmeter_remove_member(text, regrole) IS
    'remove a member or withdraw its pending invitation (owners and admins; only an owner removes an owner; the last owner stays)';
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
-- pg_cron (issue #16): passes it runs are recorded as 'cron', and a
-- procedure raises when a pass fails, after its record commits.
ALTER TABLE opsmeter.retention_runs DROP CONSTRAINT retention_runs_triggered_by_check,
    ADD CONSTRAINT retention_runs_triggered_by_check CHECK (triggered_by IN ('worker', 'manual', 'cron'));
-- The same pass for a scheduler (pg_cron): the pass and its record commit,
-- then a failed pass raises its error, so the scheduler marks the run
-- failed while retention_runs keeps the record.  A procedure, because only
-- a procedure may commit; and so without SET clauses (a procedure with one
-- may not commit): every name in it is schema-qualified instead.
CREATE PROCEDURE @extschema@.opsmeter_run_retention_job()
LANGUAGE plpgsql AS $$
DECLARE
    result pg_catalog.jsonb;
BEGIN
    result := @extschema@.opsmeter_run_retention();
    COMMIT;
    IF result OPERATOR(pg_catalog.->>) 'ok' OPERATOR(pg_catalog.=) 'false' THEN
        RAISE EXCEPTION 'opsmeter retention pass failed: %', result OPERATOR(pg_catalog.->>) 'error'
            USING ERRCODE = result OPERATOR(pg_catalog.->>) 'sqlstate',
                  HINT = 'The pass was rolled back and is recorded in opsmeter.retention_runs; the next run retries it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_run_retention() IS
    'run one rollup + retention pass now (superusers and opsmeter_admin); returns its figures, and ok false when it failed';
COMMENT ON PROCEDURE @extschema@.opsmeter_run_retention_job() IS
    'run one pass for a scheduler such as pg_cron (CALL, outside a transaction block): a failed pass is recorded, then raises';
REVOKE ALL ON PROCEDURE @extschema@.opsmeter_run_retention_job() FROM PUBLIC;
GRANT EXECUTE ON PROCEDURE @extschema@.opsmeter_run_retention_job() TO opsmeter_admin;

-- The records of passes are pruned by every pass (issue #16).
COMMENT ON TABLE opsmeter.retention_runs IS
    'one row per retention pass, by the worker or by hand; each pass deletes those older than opsmeter.retention_runs_keep';
CREATE FUNCTION opsmeter.guc_retention_runs_keep() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_retention_runs_keep' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_retention_runs_keep() IS
    'opsmeter.retention_runs_keep: how long each pass''s record stays in opsmeter.retention_runs';

CREATE FUNCTION opsmeter.guc_key_generation() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_key_generation' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_key_generation() IS
    'opsmeter.key_generation: the age at which a retention pass seals the open generation of dedup keys';
CREATE FUNCTION opsmeter.guc_key_generation_size() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_guc_key_generation_size' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_key_generation_size() IS
    'opsmeter.key_generation_size in bytes: the size of the open generation''s key index at which a retention pass seals it (0: by age only)';

CREATE FUNCTION opsmeter.guc_max_raw_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_max_raw_retention' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_max_raw_retention() IS
    'opsmeter.max_raw_retention: the longest raw retention any workspace may have (superuser setting)';

-- The raw and summary retention of each workspace (its own, else the GUCs).
-- Raw retention is capped by opsmeter.max_raw_retention: it decides how many
-- daily partitions of the shared table exist, so no workspace goes past the
-- superuser's ceiling, even with a setting made before the ceiling was lowered.
CREATE FUNCTION opsmeter.retention_of(raw_setting interval, summary_setting interval,
                                      OUT raw interval, OUT summary interval)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT least(coalesce(raw_setting, opsmeter.guc_raw_retention()), opsmeter.guc_max_raw_retention()),
           coalesce(summary_setting, opsmeter.guc_summary_retention())
$$;
CREATE OR REPLACE FUNCTION opsmeter.effective_retention(OUT workspace_id bigint, OUT raw interval, OUT summary interval)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT w.workspace_id, r.raw, r.summary
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
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
    -- Passes are locked out meanwhile, as for a re-pricing: a pass reads a
    -- workspace's retention in several statements (the days it summarizes
    -- before their raw rows leave, the rows it deletes, the partitions it
    -- drops), and must see one value from the first to the last.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    PERFORM 1 FROM opsmeter.rollup_state s FOR UPDATE;
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

------------------------------------------------------------------------------
-- Membership by consent (issue #13): opsmeter_add_member() by an owner or
-- admin records an invitation that the invitee accepts or declines; members
-- leave on their own; rows of dropped roles grant nothing and do not count
-- as owners.
------------------------------------------------------------------------------
-- Each membership records its role's name; rows of roles that no longer
-- exist (they could be inherited by a role that receives the same OID)
-- are deleted.
ALTER TABLE opsmeter.workspace_members ADD COLUMN member_name name;
UPDATE opsmeter.workspace_members wm SET member_name = r.rolname
  FROM pg_catalog.pg_roles r WHERE r.oid OPERATOR(pg_catalog.=) wm.member::pg_catalog.oid;
DELETE FROM opsmeter.workspace_members WHERE member_name IS NULL;
ALTER TABLE opsmeter.workspace_members ALTER COLUMN member_name SET NOT NULL;

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

CREATE OR REPLACE FUNCTION opsmeter._opsmeter_create_workspace_impl(caller regrole, name text, owner regrole)
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
CREATE OR REPLACE FUNCTION opsmeter._opsmeter_add_member_impl(caller regrole, workspace text, member regrole,
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

CREATE OR REPLACE FUNCTION opsmeter._check_not_last_owner(ws bigint, leaving regrole, workspace text)
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

CREATE OR REPLACE FUNCTION opsmeter._opsmeter_set_member_role_impl(caller regrole, workspace text, member regrole,
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

CREATE OR REPLACE FUNCTION opsmeter._opsmeter_remove_member_impl(caller regrole, workspace text, member regrole)
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

-- Each retention pass deletes memberships and invitations of dropped roles.
-- (_enforce_retention is replaced below, with the retention lock-order change.)

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
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_invitations', '');

-- Maintenance never waits on a tenant (issue #13): the rollup rolls up to
-- the horizon of ended batches instead of waiting for in-flight ones, and
-- retention skips (and records) partitions it cannot lock in time.
ALTER TABLE opsmeter.retention_runs ADD COLUMN partitions_skipped text[];
-- (The pass's bounds come from opsmeter._rollup_bounds(), and its holes
-- from rollup_state.holes, both created further down with the holes of
-- the watermark; plpgsql resolves them when the function first runs.)

DROP FUNCTION opsmeter._enforce_retention();
-- Merges the first run of eight adjacent sealed generations of one level
-- (lowest level first) whose ingest time spans at most
-- opsmeter.key_generation, into one generation of the next level under
-- the first one's number, with its key filter; returns how many left (0:
-- nothing to merge).  Sealing by size keeps the open generation small;
-- merging keeps the sealed ones few, each key rewritten once per level.
-- Cleanups delete keys through the parent, so it is held EXCLUSIVE from
-- the start: none deletes from a source after its keys were copied, nor
-- plans over the partitions as they were.  The sources are dropped under
-- the parent's ACCESS EXCLUSIVE lock (every ingest holds each sealed
-- generation ACCESS SHARE for its call, so this waits for them); a lock
-- not granted within the pass's lock_timeout raises lock_not_available.
CREATE FUNCTION opsmeter._merge_key_generations(nowait text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    fan_in constant integer := 8;
    sources integer[];
    source_level integer;
    first_opened timestamptz;
    last_sealed timestamptz;
    part text;
    merged text;
    gen integer;
    filter bytea;
BEGIN
    SELECT r.gens, r.level, r.first_opened, r.last_sealed INTO sources, source_level, first_opened, last_sealed
      FROM (SELECT g.level,
                   array_agg(g.generation) OVER w AS gens,
                   array_agg(g.level) OVER w AS levels,
                   min(g.opened_at) OVER w AS first_opened,
                   max(g.sealed_at) OVER w AS last_sealed
              FROM opsmeter.key_generations g
             WHERE g.sealed_at IS NOT NULL
            WINDOW w AS (ORDER BY g.generation ROWS BETWEEN CURRENT ROW AND 7 FOLLOWING)) r
     WHERE cardinality(r.gens) = fan_in
       AND r.level = ALL (r.levels)
       AND r.last_sealed - r.first_opened <= opsmeter.guc_key_generation()
     ORDER BY r.level, r.gens[1]
     LIMIT 1;
    IF sources IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN EXCLUSIVE MODE' || nowait;
    part := opsmeter.key_generation_name(sources[1]);
    merged := part || '_merged';
    PERFORM opsmeter._create_key_generation_table(merged, sources[1]);
    EXECUTE format('INSERT INTO opsmeter.%I (workspace_id, external_request_id, event_day, generation)
                    SELECT k.workspace_id, k.external_request_id, k.event_day, $1
                      FROM opsmeter.request_keys k WHERE k.generation = ANY ($2)', merged)
       USING sources[1], sources;
    -- Unique: no key is ever in two generations (src/README.md, "dedup").
    EXECUTE format('CREATE UNIQUE INDEX %I ON opsmeter.%I (workspace_id, external_request_id)', merged || '_key', merged);
    filter := opsmeter._key_filter(format('opsmeter.%I', merged)::regclass);
    EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN ACCESS EXCLUSIVE MODE' || nowait;
    FOREACH gen IN ARRAY sources LOOP
        EXECUTE format('LOCK TABLE opsmeter.%I IN ACCESS EXCLUSIVE MODE', opsmeter.key_generation_name(gen)) || nowait;
        EXECUTE format('DROP TABLE opsmeter.%I', opsmeter.key_generation_name(gen));
    END LOOP;
    EXECUTE format('ALTER TABLE opsmeter.%I RENAME TO %I', merged, part);
    EXECUTE format('ALTER INDEX opsmeter.%I RENAME TO %I', merged || '_key', part || '_key');
    EXECUTE format('ALTER TABLE opsmeter.request_keys ATTACH PARTITION opsmeter.%I FOR VALUES IN (%s)', part, sources[1]);
    DELETE FROM opsmeter.key_generations g WHERE g.generation = ANY (sources[2:]);
    UPDATE opsmeter.key_generations g
       SET level = source_level + 1, opened_at = first_opened, sealed_at = last_sealed, key_filter = filter
     WHERE g.generation = sources[1];
    RETURN fan_in;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._merge_key_generations(text) FROM PUBLIC;

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
    holes bigint[];
    part record;
    due_rels regclass[];
    due_ws bigint[];         -- workspace-days to summarize before their raw rows leave
    due_ws_days date[];
    n bigint;
    busy boolean;
    today date := (now() AT TIME ZONE 'UTC')::date;
    lock_wait text := current_setting('opsmeter.retention_lock_wait');
    nowait text;
    oldest_day date;
    gen integer;
    opened timestamptz;
    seal_size numeric;       -- NULL: never by size
    keys_gone bigint;
BEGIN
    partitions_dropped := 0;
    partitions_created := 0;
    raw_rows_deleted := 0;
    keys_purged := 0;
    partitions_skipped := '{}';
    -- 0 means NOWAIT (lock_timeout 0 would mean "forever").
    nowait := CASE WHEN lock_wait IN ('0', '0ms') THEN ' NOWAIT' ELSE '' END;
    w := opsmeter.rollup_watermark();
    holes := opsmeter.rollup_holes();
    SELECT greatest(global_raw, max(r.raw)) INTO longest_raw FROM opsmeter.effective_retention() r;

    -- Days still in raw rows only (opsmeter.rollup_days) get their tier-1
    -- rows before any of their raw rows leave: each day that begins before
    -- its workspace's raw horizon and ends inside its summary retention.
    -- (Both the row-by-row deletes and the partition drops below remove
    -- only rows before that horizon.)
    SELECT coalesce(array_agg(d.workspace_id), '{}'), coalesce(array_agg(d.day), '{}') INTO due_ws, due_ws_days
      FROM opsmeter.rollup_days d
      JOIN opsmeter.effective_retention() r USING (workspace_id)
     WHERE d.quarter_rows IS NULL
       AND d.day::timestamp AT TIME ZONE 'UTC' < now() - r.raw
       AND (d.day + 1)::timestamp AT TIME ZONE 'UTC' > now() - r.summary;
    IF due_ws <> '{}' THEN
        UPDATE opsmeter.rollup_days d SET quarter_rows = coalesce(f.groups, 0)
          FROM unnest(due_ws, due_ws_days) s(workspace_id, day)
          LEFT JOIN opsmeter._fold_quarters(0, w, '{}', holes, due_ws, due_ws_days, true, false) f USING (workspace_id, day)
         WHERE d.workspace_id = s.workspace_id AND d.day = s.day;
    END IF;

    -- Workspaces whose raw retention is shorter than the longest: their older
    -- rolled-up rows leave row by row, with their dedup keys (only theirs:
    -- every other workspace's rows and keys leave by whole partitions).
    FOR part IN
        SELECT r.workspace_id, r.raw FROM opsmeter.effective_retention() r WHERE r.raw < longest_raw
    LOOP
        WITH gone AS (
            DELETE FROM opsmeter.events e
             WHERE e.workspace_id = part.workspace_id
               AND e.ts < now() - part.raw AND e.ingest_batch <= w AND e.ingest_batch <> ALL (holes)
            RETURNING e.workspace_id, e.external_request_id, e.ts
        ), keys AS (
            DELETE FROM opsmeter.request_keys k USING gone g
             WHERE k.workspace_id = g.workspace_id AND k.external_request_id = g.external_request_id
            RETURNING 1
        ), trimmed AS (
            -- the days that lost raw rows remember it (rollup_days)
            UPDATE opsmeter.rollup_days d SET raw_deleted_before = greatest(d.raw_deleted_before, now() - part.raw)
              FROM (SELECT DISTINCT (g.ts AT TIME ZONE 'UTC')::date AS day FROM gone g) x
             WHERE d.workspace_id = part.workspace_id AND d.day = x.day
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM keys) INTO n, keys_gone;
        raw_rows_deleted := raw_rows_deleted + n;
        keys_purged := keys_purged + keys_gone;
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
    DELETE FROM opsmeter.summary_quarters q
     USING opsmeter.effective_retention() r
     WHERE q.workspace_id = r.workspace_id
       AND date_trunc('hour', q.period_start, 'UTC') + interval '1 hour' <= now() - r.summary;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := summary_rows_deleted + n;
    DELETE FROM opsmeter.rollup_days d
     USING opsmeter.effective_retention() r
     WHERE d.workspace_id = r.workspace_id
       AND (d.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - r.summary;

    -- The records of passes, one a minute at the default interval.
    DELETE FROM opsmeter.retention_runs r WHERE r.started_at < now() - opsmeter.guc_retention_runs_keep();

    -- Budgets look at the current UTC day and month only; keep two months.
    DELETE FROM opsmeter.spend_counters c
     WHERE c.day < (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date;

    -- Memberships and invitations of dropped (or renamed) roles: they grant
    -- nothing already; they leave for good.
    PERFORM opsmeter._purge_stale_members(NULL);

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

    <<drop_days>>
    BEGIN
        -- Whole days older than every workspace's raw retention.
        SELECT array_agg(x.rel ORDER BY x.day) INTO due_rels
          FROM opsmeter.event_partitions() x
         WHERE (x.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - longest_raw;
        IF due_rels IS NULL THEN
            EXIT drop_days;
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
            EXIT drop_days;
        END;
        FOR i IN 1 .. cardinality(due_rels) LOOP
            BEGIN
                -- An ingest still writing into this day holds it (ROW EXCLUSIVE)
                -- and makes us skip it; once we hold it, its rows are either
                -- seen above the watermark (and the day kept) or rolled up.
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', due_rels[i]) || nowait;
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE ingest_batch > $1 OR ingest_batch = ANY ($2))', due_rels[i])
                   INTO STRICT busy USING w, holes;
                IF busy THEN
                    CONTINUE;           -- not rolled up yet: a later pass drops it
                END IF;
                EXECUTE format('DROP TABLE %s', due_rels[i]);
                partitions_dropped := partitions_dropped + 1;
            EXCEPTION WHEN lock_not_available THEN
                partitions_skipped := partitions_skipped || due_rels[i]::text;
                RAISE WARNING 'opsmeter: partition % is busy; it will be dropped by a later pass', due_rels[i];
            END;
        END LOOP;
    END drop_days;

    -- Dedup keys (src/README.md, "dedup"): a sealed generation leaves whole,
    -- uncounted, once no day of opsmeter.events that could hold a row of its
    -- keys is left.  Its keys' days end at the seal's day (ingest refuses
    -- timestamps more than 5 minutes past its statement's start), and no
    -- later ingest writes into it.
    SELECT min(x.day) INTO oldest_day FROM opsmeter.event_partitions() x;
    FOR gen IN
        SELECT g.generation FROM opsmeter.key_generations g
         WHERE g.sealed_at IS NOT NULL
           AND (oldest_day IS NULL OR ((g.sealed_at + interval '5 minutes') AT TIME ZONE 'UTC')::date < oldest_day)
         ORDER BY g.generation
    LOOP
        BEGIN
            -- Dropping a partition locks its parent; then the generation,
            -- which every ingest reads for a moment.
            EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN ACCESS EXCLUSIVE MODE' || nowait;
            EXECUTE format('DROP TABLE IF EXISTS opsmeter.%I', opsmeter.key_generation_name(gen));
            DELETE FROM opsmeter.key_generations g WHERE g.generation = gen;
        EXCEPTION WHEN lock_not_available THEN
            partitions_skipped := partitions_skipped || ('opsmeter.' || opsmeter.key_generation_name(gen));
            RAISE WARNING 'opsmeter: dedup keys are in use; generation % will be dropped by a later pass', gen;
            EXIT;
        END;
    END LOOP;

    -- Key filters for the generations sealed since (src/key_filter.c): no
    -- ingest writes into them, so a filter built now misses no key.  Each
    -- on its own: one that fails (its table gone) stays without a filter,
    -- which only costs lookups, and the pass goes on.
    FOR gen IN
        SELECT g.generation FROM opsmeter.key_generations g
         WHERE g.sealed_at IS NOT NULL AND g.key_filter IS NULL
           AND to_regclass(format('opsmeter.%I', opsmeter.key_generation_name(g.generation))) IS NOT NULL
         ORDER BY g.generation
    LOOP
        BEGIN
            UPDATE opsmeter.key_generations g
               SET key_filter = opsmeter._key_filter(format('opsmeter.%I', opsmeter.key_generation_name(gen))::regclass)
             WHERE g.generation = gen;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'opsmeter: the key filter of generation % could not be built: %', gen, SQLERRM;
        END;
    END LOOP;

    -- Merge eight small sealed generations into one (at most one merge a
    -- pass: a merge rewrites their keys).  A merge that fails leaves the
    -- generations as they were, and the pass goes on: more generations cost
    -- ingest a filter check each, a failed pass would stop retention.
    BEGIN
        PERFORM opsmeter._merge_key_generations(nowait);
    EXCEPTION
        WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: dedup keys are in use; their generations will be merged by a later pass';
        WHEN OTHERS THEN
            RAISE WARNING 'opsmeter: merging generations of dedup keys failed: %', SQLERRM
                  USING HINT = 'The generations stay as they are; a later pass tries again.';
    END;

    -- Seal the open generation once it is older than opsmeter.key_generation
    -- or its key index has reached its seal size (or open the first).  A
    -- page of that index is written whole at most once per checkpoint
    -- interval, so full-page images add about (index bytes / keys written
    -- per interval) to each new key's WAL: the seal size keeps that under
    -- 350 bytes at the open generation's own rate of keys and
    -- checkpoint_timeout, and is never less than opsmeter.key_generation_size
    -- (0: by age only).  At high rates the open generation grows large, and
    -- there is less to merge.  Sealing waits, at most as long as any lock
    -- here, for the ingests writing into it; ingests that come meanwhile
    -- wait for this pass to commit, so it is the last step.
    SELECT g.generation, g.opened_at INTO gen, opened FROM opsmeter.key_generations g WHERE g.sealed_at IS NULL;
    IF gen IS NOT NULL AND opsmeter.guc_key_generation_size() > 0 THEN
        seal_size := greatest(opsmeter.guc_key_generation_size(),
                              350 * pg_stat_get_tuples_inserted(format('opsmeter.%I', opsmeter.key_generation_name(gen))::regclass)
                                  / greatest(1, extract(epoch FROM clock_timestamp() - opened))
                                  * extract(epoch FROM current_setting('checkpoint_timeout')::interval));
    END IF;
    IF gen IS NULL OR opened <= clock_timestamp() - opsmeter.guc_key_generation()
       OR pg_relation_size(format('opsmeter.%I', opsmeter.key_generation_name(gen) || '_key')::regclass) >= seal_size THEN
        BEGIN
            IF gen IS NOT NULL THEN
                EXECUTE format('LOCK TABLE opsmeter.%I IN SHARE MODE', opsmeter.key_generation_name(gen)) || nowait;
            END IF;
            PERFORM opsmeter._open_key_generation(true);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: dedup key generation % is being written; a later pass will seal it', gen;
        END;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._enforce_retention() FROM PUBLIC;

-- The rows of an export: the active workspace's raw rows in [from_ts,
-- to_ts), filtered, oldest first.  The ts bounds are plain parameters and
-- every call is planned with their values (plan_cache_mode), so the planner
-- keeps only the partitions of the range: see opsmeter.facts().  PL/pgSQL,
-- as a SQL function is planned without its arguments' values.
CREATE FUNCTION opsmeter.export_rows(from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (ts timestamptz, external_request_id text, provider text, model text,
               input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, latency_ms integer, status text,
               error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               cost_usd numeric, pricing opsmeter.pricing_source, ingested_by regrole, metadata jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
BEGIN
    RETURN QUERY
    SELECT e.ts, e.external_request_id, e.provider, e.model, e.input_tokens, e.output_tokens, e.total_tokens,
           e.cached_input_tokens, e.reasoning_tokens, e.latency_ms,
           CASE WHEN e.is_error THEN 'error' ELSE 'success' END, e.error_code,
           e.prompt_version, e.endpoint_tag, e.user_id, e.tenant_id, e.data_mode, e.environment,
           e.cost_usd, e.pricing, e.ingested_by, e.metadata
      FROM opsmeter.events e
     WHERE e.workspace_id = ws AND e.ts >= from_ts AND e.ts < to_ts
       AND e.data_mode = ANY (modes) AND e.environment = ANY (envs)
     ORDER BY e.ts, e.external_request_id;
END
$$;

-- No row is dated more than 5 minutes past the statement that stored it,
-- so the range ends an hour from now at the latest: an open end does not
-- reach into the partitions created ahead.
CREATE OR REPLACE FUNCTION @extschema@.opsmeter_export(range_start timestamptz, range_end timestamptz,
                                            data_mode text DEFAULT 'real', environment text DEFAULT 'all')
RETURNS TABLE (ts timestamptz, external_request_id text, provider text, model text,
               input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, latency_ms integer, status text,
               error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               cost_usd numeric, pricing opsmeter.pricing_source, ingested_by regrole, metadata jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.opsmeter_export_meta($1, $2);    -- validates the range first
    SELECT x.*
      FROM opsmeter.export_rows(greatest($1, (@extschema@.opsmeter_export_meta($1, $2)).retention_available_from_utc),
                                least($2, statement_timestamp() + interval '1 hour'),
                                opsmeter.data_mode_filter($3), opsmeter.environment_filter($4)) x
$$;

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

-- Rollup holes (issue #13): a pass no longer stops at the smallest batch in
-- flight.  Every ingest transaction stamps all its rows with one batch
-- number; a pass rolls up every batch that has ended, however far above an
-- idle ingest, and records the batches still in flight below the new
-- watermark as holes (src/README.md, "Rollup: the watermark").
COMMENT ON SEQUENCE opsmeter.ingest_batch_seq IS 'one value per ingest transaction; rollup watermark';
ALTER TABLE opsmeter.rollup_state ADD COLUMN holes bigint[] NOT NULL DEFAULT '{}';
-- Where the pending rows can be (src/README.md): unknown (NULL) until the
-- first pass of 0.2.0, so views read every day of their window until then.
ALTER TABLE opsmeter.rollup_state ADD COLUMN bounds_read_at timestamptz,
                                  ADD COLUMN holes_since timestamptz;
CREATE TABLE opsmeter.late_arrivals (
    workspace_id bigint NOT NULL,
    day          date NOT NULL,
    ingest_batch bigint NOT NULL,
    PRIMARY KEY (workspace_id, day, ingest_batch)
);
COMMENT ON TABLE opsmeter.late_arrivals IS
    'days before their batch''s draw that pending raw rows are on, per workspace; deleted when rolled up';
ALTER TABLE opsmeter.late_arrivals ENABLE ROW LEVEL SECURITY;
CREATE POLICY late_arrivals_read ON opsmeter.late_arrivals FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.late_arrivals TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('opsmeter.late_arrivals', '');
CREATE FUNCTION opsmeter.unmarked_pending_from() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_unmarked_pending_from' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.unmarked_pending_from() IS
    'no pending raw row is dated before this, except on the days opsmeter.late_arrivals names for its batch';
COMMENT ON TABLE opsmeter.rollup_state IS
    'the rollup watermark: raw rows with ingest_batch <= watermark and not in holes are counted in summaries';
CREATE OR REPLACE FUNCTION opsmeter.rollup_watermark() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_watermark' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.rollup_watermark() IS
    'raw rows with ingest_batch above this (or in opsmeter.rollup_holes()) are not in opsmeter.summaries yet';

CREATE FUNCTION opsmeter.rollup_holes() RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_holes' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.rollup_holes() IS
    'batches at or below the watermark that were in flight at the last pass: not in opsmeter.summaries yet';

DROP FUNCTION opsmeter.pending_contributions(bigint, bigint);

CREATE FUNCTION opsmeter.pending_contributions(after_batch bigint, upto_batch bigint,
                                               also_batches bigint[], except_batches bigint[])
RETURNS TABLE (is_adjustment boolean, workspace_id bigint, ts timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, user_id text, tenant_id text, endpoint_tag text, prompt_version text,
               requests integer, errors integer, input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, cost_usd numeric,
               unpriced_requests integer, unpriced_tokens bigint,
               latency_count integer, latency_sum_ms bigint, latency_bucket integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT c.is_adjustment, c.workspace_id, c.ts, c.data_mode, c.environment, c.provider, c.model,
           c.user_id, c.tenant_id, c.endpoint_tag, c.prompt_version, c.requests, c.errors,
           c.input_tokens, c.output_tokens, c.total_tokens, c.cached_input_tokens, c.reasoning_tokens,
           c.cost_usd, c.unpriced_requests, c.unpriced_tokens, c.latency_count, c.latency_sum_ms, c.latency_bucket
      FROM (SELECT false AS is_adjustment, e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
                   e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version,
                   1 AS requests, e.is_error::integer AS errors, e.input_tokens, e.output_tokens, e.total_tokens,
                   e.cached_input_tokens, e.reasoning_tokens, coalesce(e.cost_usd, 0) AS cost_usd,
                   (e.cost_usd IS NULL)::integer AS unpriced_requests,
                   CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END AS unpriced_tokens,
                   (e.latency_ms IS NOT NULL)::integer AS latency_count,
                   coalesce(e.latency_ms, 0)::bigint AS latency_sum_ms,
                   opsmeter.latency_bucket(e.latency_ms) AS latency_bucket, e.ingest_batch
              FROM opsmeter.events e
            UNION ALL
            SELECT true, a.workspace_id, a.ts, a.data_mode, a.environment, a.provider, a.model,
                   a.user_id, a.tenant_id, a.endpoint_tag, a.prompt_version,
                   a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens,
                   a.cached_input_tokens, a.reasoning_tokens, a.cost_usd,
                   a.unpriced_requests, a.unpriced_tokens, a.latency_count, a.latency_sum_ms, a.latency_bucket,
                   a.ingest_batch
              FROM opsmeter.summary_adjustments a) c
     WHERE ((c.ingest_batch OPERATOR(pg_catalog.>) after_batch AND c.ingest_batch OPERATOR(pg_catalog.<=) upto_batch)
            OR c.ingest_batch OPERATOR(pg_catalog.=) ANY (also_batches))
       AND c.ingest_batch OPERATOR(pg_catalog.<>) ALL (except_batches)
$$;

CREATE FUNCTION opsmeter._rollup_bounds(OUT upto bigint, OUT inflight bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_rollup_bounds' LANGUAGE C VOLATILE;

REVOKE ALL ON FUNCTION opsmeter._rollup_bounds() FROM PUBLIC;

CREATE OR REPLACE FUNCTION opsmeter._opsmeter_set_budget_impl(caller regrole, period text, limit_usd numeric,
                                                   warning_ratio numeric)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    had_budget boolean;
    has_budget boolean;
    seed_from timestamptz := date_trunc('month', now(), 'UTC') - interval '1 month';
BEGIN
    m := opsmeter._managed_workspace(caller, NULL);
    IF period IS NULL OR lower(period) NOT IN ('daily', 'monthly') THEN
        RAISE EXCEPTION 'invalid budget period %', coalesce(quote_literal(period), 'NULL')
            USING ERRCODE = '22023', HINT = 'Allowed periods: daily, monthly.';
    END IF;
    IF limit_usd IS NOT NULL AND NOT limit_usd > 0 THEN
        RAISE EXCEPTION 'invalid budget limit_usd %', limit_usd
            USING ERRCODE = '22023', HINT = 'A budget is a positive amount of USD; NULL removes it.';
    END IF;
    IF warning_ratio IS NULL OR NOT (warning_ratio > 0 AND warning_ratio <= 1) THEN
        RAISE EXCEPTION 'invalid budget warning_ratio %', coalesce(warning_ratio::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'The warning ratio is above 0 and at most 1 (default 0.8).';
    END IF;
    -- The barrier (src/budget.c): wait for in-flight ingests and re-pricings,
    -- and hold new ones until we commit, so the seed below counts every row
    -- that is not counted live.  The seed reads a snapshot taken after the
    -- lock, which only READ COMMITTED gives.
    LOCK TABLE opsmeter.spend_counters IN SHARE ROW EXCLUSIVE MODE;
    SELECT w.daily_budget_usd IS NOT NULL OR w.monthly_budget_usd IS NOT NULL INTO had_budget
      FROM opsmeter.workspaces w WHERE w.workspace_id = m.workspace_id FOR UPDATE;
    IF lower(period) = 'daily' THEN
        UPDATE opsmeter.workspaces w SET daily_budget_usd = limit_usd, daily_warning_ratio = warning_ratio
         WHERE w.workspace_id = m.workspace_id
        RETURNING w.daily_budget_usd IS NOT NULL OR w.monthly_budget_usd IS NOT NULL INTO has_budget;
    ELSE
        UPDATE opsmeter.workspaces w SET monthly_budget_usd = limit_usd, monthly_warning_ratio = warning_ratio
         WHERE w.workspace_id = m.workspace_id
        RETURNING w.daily_budget_usd IS NOT NULL OR w.monthly_budget_usd IS NOT NULL INTO has_budget;
    END IF;
    IF has_budget AND NOT had_budget THEN
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE EXCEPTION 'opsmeter_set_budget() must set a workspace''s first budget in a READ COMMITTED transaction'
                USING ERRCODE = '25001',
                      HINT = 'Its spend so far is counted from a snapshot taken after in-flight ingests finish.';
        END IF;
        -- The spend since the start of last month (what retention keeps of
        -- counters): tier-1 summaries, the raw rows of the days not
        -- summarized yet (opsmeter.rollup_days), and what is not rolled up
        -- yet on the other days.
        -- (One statement, so the days in raw rows and the rows it reads are
        -- of one snapshot.)
        DELETE FROM opsmeter.spend_counters c WHERE c.workspace_id = m.workspace_id;
        WITH raw AS MATERIALIZED (
            SELECT coalesce(array_agg(d.day), '{}') AS days
              FROM opsmeter.rollup_days d
             WHERE d.workspace_id = m.workspace_id AND d.quarter_rows IS NULL
               AND d.day >= (seed_from AT TIME ZONE 'UTC')::date)
        INSERT INTO opsmeter.spend_counters (workspace_id, day, shard, spend_usd)
        SELECT m.workspace_id, x.day, -1, sum(x.cost)    -- shard -1: no backend's
          FROM (SELECT (s.period_start AT TIME ZONE 'UTC')::date AS day, s.cost_usd AS cost
                  FROM opsmeter.summary_quarters s
                 WHERE s.workspace_id = m.workspace_id
                   AND s.data_mode = 'real' AND s.period_start >= seed_from
                UNION ALL
                SELECT (e.ts AT TIME ZONE 'UTC')::date, e.cost_usd
                  FROM raw CROSS JOIN unnest(raw.days) d(day)
                  JOIN opsmeter.events e
                    ON e.workspace_id = m.workspace_id
                   AND e.ts >= d.day::timestamp AT TIME ZONE 'UTC' AND e.ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                 WHERE e.data_mode = 'real' AND e.ts >= seed_from
                UNION ALL
                SELECT (p.ts AT TIME ZONE 'UTC')::date, p.cost_usd
                  FROM opsmeter.pending_contributions(
                           coalesce((SELECT r.watermark FROM opsmeter.rollup_state r), 0), 9223372036854775807,
                           coalesce((SELECT r.holes FROM opsmeter.rollup_state r), '{}'), '{}') p
                 WHERE p.workspace_id = m.workspace_id AND p.data_mode = 'real' AND p.ts >= seed_from
                   AND NOT EXISTS (SELECT 1 FROM raw WHERE (p.ts AT TIME ZONE 'UTC')::date = ANY (raw.days))) x
         GROUP BY x.day
        HAVING sum(x.cost) <> 0;
    ELSIF NOT has_budget THEN
        DELETE FROM opsmeter.spend_counters c WHERE c.workspace_id = m.workspace_id;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION opsmeter._opsmeter_reprice_impl(caller regrole, range_start timestamptz, range_end timestamptz,
                                                only_unpriced boolean)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    w bigint;
    holes bigint[];
    batch bigint;
    n_repriced bigint;
    n_priced bigint;
    delta numeric;
BEGIN
    m := opsmeter._managed_workspace(caller, NULL);
    IF range_start IS NULL OR range_end IS NULL OR range_start >= range_end OR only_unpriced IS NULL THEN
        RAISE EXCEPTION 'invalid reprice range % .. %', coalesce(range_start::text, 'NULL'), coalesce(range_end::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Give range_start < range_end and only_unpriced true or false.';
    END IF;
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark, s.holes INTO w, holes FROM opsmeter.rollup_state s FOR UPDATE;
    -- The budget barrier, as an ingest holds it (src/budget.c): taken before
    -- the statement below reads whether the workspace has a budget.
    LOCK TABLE opsmeter.spend_counters IN ROW EXCLUSIVE MODE;
    batch := nextval('opsmeter.ingest_batch_seq');

    WITH changed AS MATERIALIZED (
        SELECT e.*, opsmeter.catalog_cost(e.provider, e.model, e.ts, e.input_tokens,
                                          e.cached_input_tokens, e.output_tokens) AS new_cost
          FROM opsmeter.events e
         WHERE e.workspace_id = m.workspace_id AND e.ts >= range_start AND e.ts < range_end
           AND e.pricing <> 'caller' AND (e.pricing = 'unpriced' OR NOT only_unpriced)
    ), repriced AS (
        SELECT c.* FROM changed c WHERE c.new_cost IS DISTINCT FROM c.cost_usd
    ), updated AS (
        UPDATE opsmeter.events e
           SET cost_usd = r.new_cost,
               pricing = CASE WHEN r.new_cost IS NULL THEN 'unpriced' ELSE 'catalog' END::opsmeter.pricing_source
          FROM repriced r
         WHERE e.workspace_id = r.workspace_id AND e.ts = r.ts AND e.external_request_id = r.external_request_id
        RETURNING 1
    ), adjusted AS (
        INSERT INTO opsmeter.summary_adjustments
        SELECT r.workspace_id, batch, r.ts, r.data_mode, r.environment, r.provider, r.model,
               r.user_id, r.tenant_id, r.endpoint_tag, r.prompt_version,
               0, 0, 0, 0, 0, 0, 0,     -- requests, errors and tokens do not change
               v.sign * coalesce(v.cost, 0), v.sign * (v.cost IS NULL)::integer,
               v.sign * CASE WHEN v.cost IS NULL THEN r.total_tokens ELSE 0 END,
               0, 0, NULL
          FROM repriced r
         CROSS JOIN LATERAL (VALUES (-1, r.cost_usd), (1, r.new_cost)) AS v(sign, cost)
         WHERE r.ingest_batch <= w AND r.ingest_batch <> ALL (holes)   -- counted in summaries
        RETURNING 1
    ), spent AS (
        INSERT INTO opsmeter.spend_counters AS c (workspace_id, day, shard, spend_usd)
        SELECT r.workspace_id, (r.ts AT TIME ZONE 'UTC')::date, -1,   -- shard -1: no backend's (src/budget.c)
               sum(coalesce(r.new_cost, 0) - coalesce(r.cost_usd, 0))
          FROM repriced r
         WHERE r.data_mode = 'real'
           AND EXISTS (SELECT 1 FROM opsmeter.workspaces b     -- counters exist only under a budget
                        WHERE b.workspace_id = r.workspace_id
                          AND (b.daily_budget_usd IS NOT NULL OR b.monthly_budget_usd IS NOT NULL))
         GROUP BY 1, 2
        ON CONFLICT (workspace_id, day, shard) DO UPDATE SET spend_usd = c.spend_usd + excluded.spend_usd
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM repriced WHERE new_cost IS NOT NULL),
           (SELECT coalesce(sum(coalesce(new_cost, 0) - coalesce(cost_usd, 0)), 0) FROM repriced)
      INTO n_repriced, n_priced, delta;
    RETURN jsonb_build_object('repriced', n_repriced, 'nowPriced', n_priced,
                              'stillUnpriced', (SELECT count(*) FROM opsmeter.events e
                                                 WHERE e.workspace_id = m.workspace_id AND e.ts >= range_start
                                                   AND e.ts < range_end AND e.pricing = 'unpriced'),
                              'costDeltaUsd', delta);
END
$$;

CREATE OR REPLACE FUNCTION opsmeter._clear_rows(caller regrole, mode opsmeter.data_mode, scope text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint;
    caller_role opsmeter.workspace_role;
    w bigint;
    holes bigint[];
    batch bigint;
    removed bigint;
BEGIN
    SELECT r.workspace_id, r.role INTO ws, caller_role FROM opsmeter._resolve_workspace(caller, NULL) r;
    IF scope IS NULL OR scope NOT IN ('mine', 'workspace') THEN
        RAISE EXCEPTION 'invalid scope %', coalesce(quote_literal(scope), 'NULL')
            USING ERRCODE = '22023', HINT = 'Allowed scopes: mine (your own rows), workspace (owners and admins).';
    END IF;
    IF scope = 'workspace' AND caller_role NOT IN ('owner', 'admin') THEN
        RAISE EXCEPTION 'permission denied to clear the % data of workspace "%"', mode,
                        (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = ws)
            USING ERRCODE = '42501',
                  DETAIL = format('Role %s has role %s in this workspace.', caller, caller_role),
                  HINT = 'Only owners and admins clear workspace-wide; use scope => ''mine'' for your own rows.';
    END IF;
    -- A drop of the workspace in flight ends first; after one, nothing is
    -- left to clear, and no audit row may name the workspace again.
    PERFORM 1 FROM opsmeter.workspaces x WHERE x.workspace_id = ws FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workspace was dropped' USING ERRCODE = '42704',
            HINT = 'opsmeter_drop_workspace() erased it while this cleanup waited.';
    END IF;
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark, s.holes INTO w, holes FROM opsmeter.rollup_state s FOR UPDATE;
    batch := nextval('opsmeter.ingest_batch_seq');

    WITH gone AS (
        DELETE FROM opsmeter.events e
         WHERE e.workspace_id = ws AND e.data_mode = mode
           AND (scope = 'workspace' OR e.ingested_by = caller)
        RETURNING e.*
    ), retracted AS (
        INSERT INTO opsmeter.summary_adjustments
        SELECT g.workspace_id, batch, g.ts, g.data_mode, g.environment, g.provider, g.model,
               g.user_id, g.tenant_id, g.endpoint_tag, g.prompt_version,
               -1, -g.is_error::integer, -g.input_tokens, -g.output_tokens, -g.total_tokens,
               -g.cached_input_tokens, -g.reasoning_tokens, -coalesce(g.cost_usd, 0),
               -(g.cost_usd IS NULL)::integer, -CASE WHEN g.cost_usd IS NULL THEN g.total_tokens ELSE 0 END,
               -(g.latency_ms IS NOT NULL)::integer, -coalesce(g.latency_ms, 0), opsmeter.latency_bucket(g.latency_ms)
          FROM gone g
         WHERE g.ingest_batch <= w AND g.ingest_batch <> ALL (holes)   -- counted in summaries
        RETURNING 1
    ), keys AS (
        DELETE FROM opsmeter.request_keys k USING gone g
         WHERE k.workspace_id = g.workspace_id AND k.external_request_id = g.external_request_id
        RETURNING 1
    )
    SELECT count(*) INTO removed FROM gone;

    INSERT INTO opsmeter.cleanup_audit (workspace_id, cleared_by, scope, data_mode, rows_removed)
    VALUES (ws, caller, scope, mode, removed);
    RETURN removed;
END
$$;

------------------------------------------------------------------------------
-- Analytics v2 (issue #14): summaries in two tiers, exact in every zone
------------------------------------------------------------------------------
-- Tier 1, opsmeter.summary_quarters, counts every rolled-up raw row per UTC
-- quarter hour and model (any local day of a 15-minute-offset zone is a sum
-- of quarters; never more rows than raw rows).  Tier 2, opsmeter.summaries,
-- keeps hourly and daily rows only for detailed workspace-days
-- (opsmeter.rollup_days).  The hourly histograms move into the rows
-- (latency_counts).  The data of 0.1.0 is carried over at the end.
ALTER TABLE opsmeter.summaries ADD COLUMN latency_counts bigint[];
COMMENT ON TABLE opsmeter.summaries IS
    'hourly and daily rollups of every dimension, for detailed workspace-days (opsmeter.rollup_days)';
CREATE TABLE opsmeter.summary_quarters (
    workspace_id        bigint NOT NULL,
    period_start        timestamptz NOT NULL,    -- start of the UTC quarter hour
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    requests            bigint NOT NULL,
    errors              bigint NOT NULL,
    input_tokens        numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    total_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    reasoning_tokens    numeric NOT NULL,
    cost_usd            numeric NOT NULL,
    unpriced_requests   bigint NOT NULL,
    unpriced_tokens     numeric NOT NULL,
    latency_count       bigint NOT NULL,
    latency_sum_ms      bigint NOT NULL,
    latency_counts      bigint[] NOT NULL    -- requests per latency bucket (opsmeter.latency_bucket)
);
CREATE UNIQUE INDEX summary_quarters_idx ON opsmeter.summary_quarters
    (workspace_id, data_mode, environment, period_start, provider, model);
COMMENT ON TABLE opsmeter.summary_quarters IS
    'every rolled-up raw row, per workspace, UTC quarter hour, mode, environment and model: never more rows than the raw rows';
CREATE TABLE opsmeter.rollup_days (
    workspace_id bigint NOT NULL,
    day          date NOT NULL,              -- UTC day
    requests     bigint NOT NULL,            -- rolled-up raw rows of the day
    quarter_rows bigint,                     -- upper bound of its rows in summary_quarters; NULL: not summarized
    detail_rows  bigint,                     -- upper bound of its rows in summaries; NULL: not detailed
    checked_at   bigint NOT NULL DEFAULT 0,  -- requests when it was last found not worth detailing
    -- set when the workspace's own raw retention (shorter than the longest)
    -- deleted raw rows of the day: none before it is left, whatever the
    -- retention is later set to.  Such a day is never detailed from its
    -- raw rows again, and opsmeter_verify() checks it only after this.
    raw_deleted_before timestamptz,
    PRIMARY KEY (workspace_id, day)
);
COMMENT ON TABLE opsmeter.rollup_days IS
    'per workspace and UTC day: rolled-up rows, whether tier-1 rows exist (summarized) and whether hourly/daily rows of every dimension exist (detailed)';

CREATE FUNCTION opsmeter._group_pending(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_group_pending' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_days(after_batch bigint, upto_batch bigint,
                                       also_batches bigint[], except_batches bigint[])
RETURNS TABLE (workspace_id bigint, day date, requests bigint, raw_rows bigint, adjustment_rows bigint)
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_days' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_quarters(after_batch bigint, upto_batch bigint,
                                           also_batches bigint[], except_batches bigint[],
                                           ws_list bigint[], day_list date[])
RETURNS TABLE (workspace_id bigint, data_mode opsmeter.data_mode, environment opsmeter.environment,
               period_start timestamptz, provider text, model text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cached_input_tokens numeric,
               reasoning_tokens numeric, cost_usd numeric, unpriced_requests bigint, unpriced_tokens numeric,
               latency_count bigint, latency_sum_ms numeric, latency_counts bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_quarters' LANGUAGE C VOLATILE;
CREATE FUNCTION opsmeter._grouped_hours(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[],
                                        ws_list bigint[], day_list date[])
RETURNS TABLE (workspace_id bigint, dimension text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cached_input_tokens numeric,
               reasoning_tokens numeric, cost_usd numeric, unpriced_requests bigint, unpriced_tokens numeric,
               latency_count bigint, latency_sum_ms numeric, latency_counts bigint[])
    AS 'MODULE_PATHNAME', 'opsmeter_grouped_hours' LANGUAGE C VOLATILE;

CREATE FUNCTION opsmeter._pending_days(after_batch bigint, upto_batch bigint,
                                       also_batches bigint[], except_batches bigint[])
RETURNS TABLE (workspace_id bigint, day date, requests bigint, raw_rows bigint, adjustment_rows bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.workspace_id, (p.ts AT TIME ZONE 'UTC')::date, sum(p.requests)::bigint,
           count(*) FILTER (WHERE NOT p.is_adjustment), count(*) FILTER (WHERE p.is_adjustment)
      FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) p
     GROUP BY 1, 2
$$;

CREATE FUNCTION opsmeter._fold_quarters(after_batch bigint, upto_batch bigint,
                                        also_batches bigint[], except_batches bigint[],
                                        ws_list bigint[], day_list date[], from_raw boolean,
                                        in_memory boolean)
RETURNS TABLE (workspace_id bigint, day date, groups bigint)
LANGUAGE sql SET search_path = pg_catalog, pg_temp SET enable_nestloop = off AS $$
    WITH contributions AS (
        -- by batch alone (the BRIN on ingest_batch), then matched to the
        -- listed days by a hash join: OFFSET 0 keeps the planner from
        -- reading each listed day through (workspace_id, ts) instead
        SELECT p.*
          FROM (SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT from_raw AND NOT in_memory OFFSET 0) p
          JOIN unnest(ws_list, day_list) d(workspace_id, day)
            ON d.workspace_id = p.workspace_id AND d.day = (p.ts AT TIME ZONE 'UTC')::date
        UNION ALL
        SELECT r.*
          FROM unnest(ws_list, day_list) d(workspace_id, day)
         CROSS JOIN LATERAL (
                SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT c.is_adjustment AND c.workspace_id = d.workspace_id
                   AND c.ts >= d.day::timestamp AT TIME ZONE 'UTC'
                   AND c.ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                OFFSET 0) r    -- kept a subquery, so its scans take the day as a parameter
         WHERE from_raw
    ), grouped AS (
        SELECT g.*
          FROM opsmeter._grouped_quarters(after_batch, upto_batch, also_batches, except_batches, ws_list, day_list) g
         WHERE in_memory AND NOT from_raw
        UNION ALL
        SELECT p.workspace_id, p.data_mode, p.environment,
               date_bin('15 minutes', p.ts, timestamptz '2000-01-01 00:00:00+00') AS period_start,
               p.provider, p.model,
               sum(p.requests) AS requests, sum(p.errors) AS errors, sum(p.input_tokens) AS input_tokens,
               sum(p.output_tokens) AS output_tokens, sum(p.total_tokens) AS total_tokens,
               sum(p.cached_input_tokens) AS cached_input_tokens, sum(p.reasoning_tokens) AS reasoning_tokens,
               sum(p.cost_usd) AS cost_usd, sum(p.unpriced_requests) AS unpriced_requests,
               sum(p.unpriced_tokens) AS unpriced_tokens, sum(p.latency_count) AS latency_count,
               sum(p.latency_sum_ms) AS latency_sum_ms,
               coalesce(opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count), '{}') AS latency_counts
          FROM contributions p
         GROUP BY 1, 2, 3, 4, 5, 6
    ), folded AS (
        INSERT INTO opsmeter.summary_quarters AS s
        SELECT g.workspace_id, g.period_start, g.data_mode, g.environment, g.provider, g.model,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens, g.cached_input_tokens,
               g.reasoning_tokens, g.cost_usd, g.unpriced_requests, g.unpriced_tokens, g.latency_count,
               g.latency_sum_ms, g.latency_counts
          FROM grouped g
         ORDER BY g.workspace_id, g.data_mode, g.environment, g.period_start, g.provider, g.model
        ON CONFLICT (workspace_id, data_mode, environment, period_start, provider, model) DO UPDATE
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
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
               latency_counts = opsmeter.latency_histogram_add(s.latency_counts, excluded.latency_counts)
    )
    SELECT g.workspace_id, (g.period_start AT TIME ZONE 'UTC')::date, count(*)
      FROM grouped g
     GROUP BY 1, 2
$$;
CREATE FUNCTION opsmeter._fold_detail(after_batch bigint, upto_batch bigint,
                                      also_batches bigint[], except_batches bigint[],
                                      ws_list bigint[], day_list date[],
                                      with_adjustments boolean, count_only boolean, in_memory boolean)
RETURNS TABLE (workspace_id bigint, day date, new_rows bigint)
LANGUAGE sql SET search_path = pg_catalog, pg_temp SET enable_nestloop = off AS $$
    WITH contributions AS (
        -- a pass's new rows, by batch alone (the BRIN on ingest_batch, as
        -- tier 1 reads them).  No condition on workspace_id or ts here: with
        -- one, the planner reads the whole day of a busy workspace through
        -- (workspace_id, ts) to find its few new rows (350 ms for 50,000
        -- new rows among a million); "fresh" below keeps the listed days.
        SELECT p.*
          FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) p
         WHERE with_adjustments AND NOT in_memory
        UNION ALL
        -- a day's raw rows, by workspace and time (the btree on
        -- (workspace_id, ts) of the day's partition, one day at a time)
        -- (a lateral subquery: its scans take the day as a parameter)
        SELECT r.*
          FROM unnest(ws_list, day_list) d(workspace_id, day)
         CROSS JOIN LATERAL (
                SELECT c.* FROM opsmeter.pending_contributions(after_batch, upto_batch, also_batches, except_batches) c
                 WHERE NOT c.is_adjustment AND c.workspace_id = d.workspace_id
                   AND c.ts >= d.day::timestamp AT TIME ZONE 'UTC'
                   AND c.ts < (d.day + 1)::timestamp AT TIME ZONE 'UTC'
                OFFSET 0) r    -- kept a subquery, so it is not flattened into one hash join
         WHERE NOT with_adjustments
    ), fresh AS MATERIALIZED (
        SELECT c.*, date_trunc('hour', c.ts, 'UTC') AS hour
          FROM contributions c
          JOIN unnest(ws_list, day_list) d(workspace_id, day)
            ON d.workspace_id = c.workspace_id AND d.day = (c.ts AT TIME ZONE 'UTC')::date
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
    ), histograms AS (
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               opsmeter.latency_histogram_of(f.latency_bucket, f.latency_count) AS counts
          FROM fresh f
         GROUP BY 1, 2, 3, 4
    ), hourly_rows AS (
        SELECT g.workspace_id, g.dimension::opsmeter.summary_dimension, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key, g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests, g.unpriced_tokens,
               g.latency_count, g.latency_sum_ms, g.latency_counts
          FROM opsmeter._grouped_hours(after_batch, upto_batch, also_batches, except_batches, ws_list, day_list) g
         WHERE in_memory AND with_adjustments
        UNION ALL
        SELECT h.*, CASE WHEN h.dimension = 'overview' THEN coalesce(x.counts, '{}') END AS latency_counts
          FROM hourly h
          LEFT JOIN histograms x ON h.dimension = 'overview' AND x.workspace_id = h.workspace_id
                                AND x.hour = h.period_start AND x.data_mode = h.data_mode
                                AND x.environment = h.environment
    ), grouped AS (
        SELECT h.workspace_id, h.dimension, 'hour'::opsmeter.summary_grain AS grain, h.period_start,
               h.data_mode, h.environment, h.provider, h.model, h.key, h.requests, h.errors,
               h.input_tokens, h.output_tokens, h.total_tokens, h.cached_input_tokens, h.reasoning_tokens,
               h.cost_usd, h.unpriced_requests, h.unpriced_tokens, h.latency_count, h.latency_sum_ms,
               h.latency_counts
          FROM hourly_rows h
        UNION ALL
        SELECT h.workspace_id, h.dimension, 'day', date_trunc('day', h.period_start, 'UTC'),
               h.data_mode, h.environment, h.provider, h.model, h.key, sum(h.requests), sum(h.errors),
               sum(h.input_tokens), sum(h.output_tokens), sum(h.total_tokens), sum(h.cached_input_tokens),
               sum(h.reasoning_tokens), sum(h.cost_usd), sum(h.unpriced_requests), sum(h.unpriced_tokens),
               sum(h.latency_count), sum(h.latency_sum_ms), opsmeter.latency_histogram_sum(h.latency_counts)
          FROM hourly_rows h
         GROUP BY h.workspace_id, h.dimension, date_trunc('day', h.period_start, 'UTC'), h.data_mode, h.environment,
                  h.provider, h.model, h.key
    ), counted_groups AS (
        -- count_only: the groups alone, no sums.  A day judged for
        -- detailing (_judge_days) is counted, not written, and grouping its
        -- sums and histograms too cost twice as much: 1.77 s against 0.88 s
        -- for 150,000 rows with a different user on each.
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               GROUPING(f.provider, f.model, f.user_id, f.tenant_id, f.endpoint_tag, f.prompt_version) AS grouping_set,
               f.provider, f.model, coalesce(f.user_id, f.tenant_id, f.endpoint_tag, f.prompt_version) AS key
          FROM fresh f
         WHERE count_only
         GROUP BY f.workspace_id, f.hour, f.data_mode, f.environment,
                  GROUPING SETS ((), (f.provider, f.model), (f.user_id), (f.tenant_id),
                                 (f.endpoint_tag), (f.prompt_version))
    ), merged AS (
        INSERT INTO opsmeter.summaries AS s
        SELECT g.workspace_id, g.dimension, g.grain, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests,
               g.unpriced_tokens, g.latency_count, g.latency_sum_ms, g.latency_counts
          FROM grouped g
         WHERE NOT count_only
         -- in the unique index's order: a view reads a dimension's rows of
         -- a day by that index, and finds them on a few heap pages instead
         -- of one page per row (10,490 buffers for 10,364 day rows before)
         ORDER BY g.workspace_id, g.dimension, g.grain, g.data_mode, g.environment, g.period_start,
                  g.provider, g.model, g.key
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
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms,
               latency_counts = CASE WHEN s.dimension = 'overview'
                                     THEN opsmeter.latency_histogram_add(s.latency_counts, excluded.latency_counts) END
        RETURNING s.workspace_id, s.period_start, s.xmax = 0 AS inserted
    )
    SELECT m.workspace_id, (m.period_start AT TIME ZONE 'UTC')::date, count(*) FILTER (WHERE m.inserted)
      FROM merged m
     WHERE NOT count_only
     GROUP BY 1, 2
    UNION ALL
    -- the hourly rows, plus the daily rows: the distinct groups of a day
    SELECT c.workspace_id, c.day, sum(c.row_count)::bigint
      FROM (SELECT h.workspace_id, (h.hour AT TIME ZONE 'UTC')::date AS day, count(*) AS row_count
              FROM counted_groups h
             GROUP BY 1, 2
            UNION ALL
            SELECT d.workspace_id, d.day, count(*)
              FROM (SELECT DISTINCT h.workspace_id, (h.hour AT TIME ZONE 'UTC')::date AS day, h.grouping_set,
                           h.data_mode, h.environment, h.provider, h.model, h.key
                      FROM counted_groups h) d
             GROUP BY 1, 2) c
     WHERE count_only
     GROUP BY 1, 2
$$;
CREATE FUNCTION opsmeter._judge_days(ws_list bigint[], day_list date[], upto_batch bigint, except_batches bigint[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    d record;
    cand_ws bigint[];
    cand_day date[];
    fit_ws bigint[];
    fit_day date[];
    fit_rows bigint[];
    chunk record;
BEGIN
    -- Days to detail, maybe: summarized, not detailed, at least 256 rows,
    -- twice the rows of the last refusal, all raw rows still there (tier 2
    -- is built from them).  Judged in chunks of about 250,000 rows: one
    -- count for many small days, and no sort of a whole month's rows at
    -- once (which spills to disk) for a busy workspace.
    FOR chunk IN
        SELECT array_agg(c.workspace_id ORDER BY c.workspace_id, c.day) AS ws,
               array_agg(c.day ORDER BY c.workspace_id, c.day) AS days
          FROM (SELECT r.workspace_id, r.day,
                       (sum(r.requests) OVER (ORDER BY r.workspace_id, r.day) - r.requests) / 250000 AS n
                  FROM opsmeter.rollup_days r
                  JOIN unnest(ws_list, day_list) t(workspace_id, day) USING (workspace_id, day)
                 WHERE r.quarter_rows IS NOT NULL AND r.detail_rows IS NULL
                   AND r.requests >= 256 AND r.requests >= 2 * r.checked_at AND r.raw_deleted_before IS NULL
                   AND r.day::timestamp AT TIME ZONE 'UTC' >= (opsmeter.retained_from(r.workspace_id)).raw_from) c
         GROUP BY c.n
         ORDER BY c.n
    LOOP
        cand_ws := chunk.ws;
        cand_day := chunk.days;
        -- The counts are upper bounds (groups added to existing rows, and
        -- groups emptied by corrections): count exactly before deciding.
        UPDATE opsmeter.rollup_days r
           SET quarter_rows = (SELECT count(*) FROM opsmeter.summary_quarters q
                                WHERE q.workspace_id = r.workspace_id
                                  AND q.period_start >= r.day::timestamp AT TIME ZONE 'UTC'
                                  AND q.period_start < (r.day + 1)::timestamp AT TIME ZONE 'UTC')
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
         WHERE r.workspace_id = c.workspace_id AND r.day = c.day;
        SELECT coalesce(array_agg(r.workspace_id), '{}'), coalesce(array_agg(r.day), '{}'),
               coalesce(array_agg(coalesce(n.new_rows, 0)), '{}')
          INTO fit_ws, fit_day, fit_rows
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
          JOIN opsmeter.rollup_days r USING (workspace_id, day)
          LEFT JOIN opsmeter._fold_detail(0, upto_batch, '{}', except_batches, cand_ws, cand_day, false, true, false) n
                 USING (workspace_id, day)
         WHERE r.quarter_rows + coalesce(n.new_rows, 0) <= r.requests;
        IF fit_ws <> '{}' THEN
            PERFORM opsmeter._fold_detail(0, upto_batch, '{}', except_batches, fit_ws, fit_day, false, false, false);
            UPDATE opsmeter.rollup_days r SET detail_rows = f.new_rows
              FROM unnest(fit_ws, fit_day, fit_rows) f(workspace_id, day, new_rows)
             WHERE r.workspace_id = f.workspace_id AND r.day = f.day;
        END IF;
        UPDATE opsmeter.rollup_days r SET checked_at = r.requests
          FROM unnest(cand_ws, cand_day) c(workspace_id, day)
         WHERE r.workspace_id = c.workspace_id AND r.day = c.day AND r.detail_rows IS NULL;
    END LOOP;

    -- Detailed days that no longer fit by the counts: counted exactly, and
    -- undetailed if they still do not fit (rare: a day whose new rows are
    -- mostly new groups).
    FOR d IN SELECT r.* FROM opsmeter.rollup_days r
               JOIN unnest(ws_list, day_list) t(workspace_id, day) USING (workspace_id, day)
              WHERE r.detail_rows IS NOT NULL AND r.quarter_rows + r.detail_rows > r.requests
              ORDER BY r.workspace_id, r.day LOOP
        UPDATE opsmeter.rollup_days r
           SET quarter_rows = (SELECT count(*) FROM opsmeter.summary_quarters q
                                WHERE q.workspace_id = d.workspace_id
                                  AND q.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
                                  AND q.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC'),
               detail_rows = (SELECT count(*) FROM opsmeter.summaries s
                               WHERE s.workspace_id = d.workspace_id
                                 AND s.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
                                 AND s.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC')
         WHERE r.workspace_id = d.workspace_id AND r.day = d.day
        RETURNING r.* INTO d;
        IF d.quarter_rows + d.detail_rows > d.requests THEN
            DELETE FROM opsmeter.summaries s
             WHERE s.workspace_id = d.workspace_id
               AND s.period_start >= d.day::timestamp AT TIME ZONE 'UTC'
               AND s.period_start < (d.day + 1)::timestamp AT TIME ZONE 'UTC';
            UPDATE opsmeter.rollup_days r SET detail_rows = NULL, checked_at = d.requests
             WHERE r.workspace_id = d.workspace_id AND r.day = d.day;
        END IF;
    END LOOP;
END
$$;
CREATE OR REPLACE FUNCTION opsmeter._rollup(OUT rows_rolled_up bigint, OUT watermark bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '1min' SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    w_prev bigint;
    w_new  bigint;
    read_at_prev timestamptz;
    read_at timestamptz;
    holes_since_prev timestamptz;
    holes_prev bigint[];
    holes_new bigint[];
    inflight bigint[];
    adjustments bigint;
    min_rows bigint := coalesce(nullif(current_setting('opsmeter.summarize_day_rows', true), ''), '256')::bigint;
    touched_ws bigint[];
    touched_day date[];
    touched_requests bigint[];
    folded_ws bigint[];          -- summarized before this pass: its contributions are folded
    folded_day date[];
    new_ws bigint[];             -- summarized by this pass, from its raw rows
    new_day date[];
    groups_ws bigint[] := '{}';
    groups_day date[] := '{}';
    groups_n bigint[] := '{}';
    detail_ws bigint[];
    detail_day date[];
    detail_new bigint[] := '{}';
    in_memory boolean;           -- grouped by _group_pending(), not by SQL
BEGIN
    -- Serializes passes: a second pass waits here, then sees the new watermark.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark, s.holes, s.bounds_read_at, s.holes_since
      INTO w_prev, holes_prev, read_at_prev, holes_since_prev
      FROM opsmeter.rollup_state s FOR UPDATE;
    -- Every transaction that drew a batch number <= w_new and not in
    -- inflight has ended, so no row of those batches can still appear, and
    -- the statements below (each with a snapshot taken after this call) see
    -- all of them.  NULL: a number is being drawn right now; the next pass
    -- rolls up.  Every number > w_new is drawn after read_at.
    read_at := clock_timestamp();
    SELECT b.upto, b.inflight INTO w_new, inflight FROM opsmeter._rollup_bounds() b;
    watermark := w_prev;
    rows_rolled_up := 0;
    IF w_new IS NULL THEN
        RETURN;
    END IF;
    w_new := greatest(w_new, w_prev);
    -- The batches <= w_new still in flight stay pending: the old holes and
    -- the new range, minus what has ended.
    SELECT coalesce(array_agg(b ORDER BY b), '{}') INTO holes_new
      FROM (SELECT unnest(holes_prev) UNION SELECT unnest(inflight)) x(b)
     WHERE b = ANY (inflight) AND b <= w_new AND (b > w_prev OR b = ANY (holes_prev));
    IF w_new = w_prev AND holes_new = holes_prev THEN
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

    -- What this pass rolls up, per workspace-day, grouped in memory in one
    -- read (src/rollup_groups.c) for the per-day counts and the incremental
    -- folds of both tiers below; when that cannot be exact within work_mem,
    -- each of them groups in SQL instead.
    in_memory := opsmeter._group_pending(w_prev, w_new, holes_prev, inflight);
    SELECT coalesce(array_agg(q.workspace_id), '{}'), coalesce(array_agg(q.day), '{}'),
           coalesce(array_agg(q.requests), '{}'), coalesce(sum(q.raw_rows), 0), coalesce(sum(q.adjustment_rows), 0)
      INTO touched_ws, touched_day, touched_requests, rows_rolled_up, adjustments
      FROM (SELECT * FROM opsmeter._grouped_days(w_prev, w_new, holes_prev, inflight) WHERE in_memory
            UNION ALL
            SELECT * FROM opsmeter._pending_days(w_prev, w_new, holes_prev, inflight) WHERE NOT in_memory) q;
    -- Tier 1.  A summarized day takes this pass's contributions.  A day not
    -- summarized yet gets its tier-1 rows once it has min_rows rolled-up
    -- rows, from its raw rows (they carry every correction, so this pass's
    -- adjustments of it are not added again); until then the pass only
    -- counts its rows.
    SELECT coalesce(array_agg(t.workspace_id) FILTER (WHERE r.quarter_rows IS NOT NULL), '{}'),
           coalesce(array_agg(t.day) FILTER (WHERE r.quarter_rows IS NOT NULL), '{}'),
           coalesce(array_agg(t.workspace_id) FILTER (WHERE r.quarter_rows IS NULL
                                                       AND coalesce(r.requests, 0) + t.requests >= min_rows), '{}'),
           coalesce(array_agg(t.day) FILTER (WHERE r.quarter_rows IS NULL
                                              AND coalesce(r.requests, 0) + t.requests >= min_rows), '{}')
      INTO folded_ws, folded_day, new_ws, new_day
      FROM unnest(touched_ws, touched_day, touched_requests) t(workspace_id, day, requests)
      LEFT JOIN opsmeter.rollup_days r USING (workspace_id, day);
    SELECT coalesce(array_agg(g.workspace_id), '{}'), coalesce(array_agg(g.day), '{}'), coalesce(array_agg(g.groups), '{}')
      INTO groups_ws, groups_day, groups_n
      FROM (SELECT * FROM opsmeter._fold_quarters(w_prev, w_new, holes_prev, inflight, folded_ws, folded_day, false,
                                                   in_memory)
             WHERE folded_ws <> '{}'
            UNION ALL
            SELECT * FROM opsmeter._fold_quarters(0, w_new, '{}', holes_new, new_ws, new_day, true, false)
             WHERE new_ws <> '{}') g;
    -- Tier 2: the same contributions, for the touched days that were
    -- detailed before this pass (a day detailed below is built from its raw
    -- rows, which already hold this pass's rows).
    SELECT coalesce(array_agg(r.workspace_id), '{}'), coalesce(array_agg(r.day), '{}')
      INTO detail_ws, detail_day
      FROM opsmeter.rollup_days r
      JOIN unnest(folded_ws, folded_day) t(workspace_id, day) USING (workspace_id, day)
     WHERE r.detail_rows IS NOT NULL;
    IF detail_ws <> '{}' THEN
        SELECT coalesce(array_agg(x.workspace_id), '{}'), coalesce(array_agg(x.day), '{}'),
               coalesce(array_agg(x.new_rows), '{}')
          INTO detail_ws, detail_day, detail_new
          FROM opsmeter._fold_detail(w_prev, w_new, holes_prev, inflight, detail_ws, detail_day, true, false,
                                     in_memory) x;
    END IF;
    -- quarter_rows: NULL for a day still in raw rows only; what this pass
    -- folded (0 if nothing) for the others, added to what was there.
    INSERT INTO opsmeter.rollup_days AS r (workspace_id, day, requests, quarter_rows)
    SELECT t.workspace_id, t.day, t.requests,
           CASE WHEN s.quarter_rows IS NOT NULL OR (t.workspace_id, t.day) IN (SELECT * FROM unnest(new_ws, new_day))
                THEN coalesce(g.groups, 0) END
      FROM unnest(touched_ws, touched_day, touched_requests) t(workspace_id, day, requests)
      LEFT JOIN opsmeter.rollup_days s USING (workspace_id, day)
      LEFT JOIN unnest(groups_ws, groups_day, groups_n) g(workspace_id, day, groups) USING (workspace_id, day)
    ON CONFLICT (workspace_id, day) DO UPDATE
       SET requests = r.requests + excluded.requests,
           quarter_rows = coalesce(r.quarter_rows, 0) + excluded.quarter_rows;
    UPDATE opsmeter.rollup_days r SET detail_rows = r.detail_rows + x.new_rows
      FROM unnest(detail_ws, detail_day, detail_new) x(workspace_id, day, new_rows)
     WHERE r.workspace_id = x.workspace_id AND r.day = x.day;

    IF adjustments > 0 THEN
        -- Folded corrections leave (those of days in raw rows only are
        -- already in their raw rows); groups they emptied leave too, so no
        -- view shows a trace of rows that were removed.
        DELETE FROM opsmeter.summary_adjustments a
         WHERE a.ingest_batch <= w_new AND a.ingest_batch <> ALL (holes_new);
        DELETE FROM opsmeter.summaries s WHERE s.requests = 0;
        DELETE FROM opsmeter.summary_quarters q WHERE q.requests = 0;
    END IF;

    PERFORM opsmeter._judge_days(folded_ws || new_ws, folded_day || new_day, w_new, holes_new);

    -- Where the pending rows can be: a new hole was drawn after the last
    -- pass's read, an old one after the old holes' bound (NULL: unknown).
    -- The late arrivals of the batches rolled up leave.
    UPDATE opsmeter.rollup_state
       SET watermark = w_new, holes = holes_new, rolled_up_at = now(), bounds_read_at = read_at,
           holes_since = (SELECT least(min(coalesce(read_at_prev, '-infinity')) FILTER (WHERE h.b > w_prev),
                                       min(coalesce(holes_since_prev, '-infinity')) FILTER (WHERE h.b <= w_prev))
                            FROM unnest(holes_new) h(b));
    DELETE FROM opsmeter.late_arrivals m WHERE m.ingest_batch <= w_new AND m.ingest_batch <> ALL (holes_new);
    watermark := w_new;
END
$$;

CREATE OR REPLACE FUNCTION opsmeter.window_start(range interval) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_window_start' LANGUAGE C STABLE PARALLEL SAFE;
CREATE OR REPLACE FUNCTION opsmeter.retained_from(ws bigint, OUT raw_from timestamptz, OUT summary_from timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - r.raw, now() - r.summary
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
     WHERE w.workspace_id = ws
$$;

-- How a view reads the active workspace's window from from_ts on:
--   0: it has no row to show (as workspace_has_rows());
--   1: its raw rows alone answer it: no day of it is summarized
--      (opsmeter.rollup_days), so every rolled-up row of it is still a raw
--      row and no summary row describes it (the UTC day before from_ts
--      counts too: a local day can begin in it).  The views then read
--      the raw rows (workspace_rows(), in overview_of_day() and
--      ranked_rows_of_day()), by day or the whole window, instead of
--      calling facts(), so a small workspace's views cost less than its
--      raw question;
--   2: through facts().
-- window_days() and ranked_rows() evaluate it once and run only the part
-- it names.  Direct index probes in C (src/reader.c),
-- three at most plus one per key generation, nothing planned.
CREATE FUNCTION opsmeter.window_reader(from_ts timestamptz) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_window_reader' LANGUAGE C STABLE PARALLEL SAFE;

-- The active workspace's raw rows with from_ts <= ts < to_ts: the raw
-- path's reads (window_reader() 1).  C (src/reader.c): each partition the
-- window overlaps, by its (workspace_id, ts) index, with the query's
-- snapshot, and nothing planned: a scan of opsmeter.events planned every
-- partition of the window in every call, which for a small workspace cost
-- as much as reading its rows.  It shows what SELECT on opsmeter.events
-- shows the caller: that privilege is checked, and the rows are of the
-- workspace the caller acts in, which events_read lets it read.
CREATE FUNCTION opsmeter.workspace_rows(from_ts timestamptz, to_ts timestamptz) RETURNS SETOF opsmeter.events
    AS 'MODULE_PATHNAME', 'opsmeter_workspace_rows' LANGUAGE C STABLE STRICT ROWS 1000;

-- No row of opsmeter.events is older than this: the lower bound of its
-- oldest partition (-infinity with a default partition, infinity with
-- none).  C (src/reader.c), from the partition bounds.
CREATE FUNCTION opsmeter.events_lower_bound() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_events_lower_bound' LANGUAGE C STABLE PARALLEL SAFE;

-- The days of [from_ts, to_ts) for the views with a "day" column (the
-- overview, the daily_* views, overview_rows()), oldest first, each with
-- its part of the window [day_start, day_end), for the caller to read one
-- day at a time with overview_of_day() or ranked_rows_of_day():
--   * raw false: through facts(); the days of report_days(), those that
--     can hold a row;
--   * raw true, when the raw rows alone answer the window (window_reader()
--     1): from the raw rows (workspace_rows()); every local day of the
--     part retained_window() keeps, from the oldest partition on.
-- So a caller's filter on day applies to these rows before any day is
-- read, on either path: a BI tool's WHERE day >= ... reads those days only.
CREATE FUNCTION opsmeter.window_days(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz, raw boolean)
LANGUAGE plpgsql STABLE ROWS 31 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    how integer := opsmeter.window_reader(from_ts);
BEGIN
    IF how = 2 THEN
        RETURN QUERY SELECT d.day, d.day_start, d.day_end, false FROM opsmeter.report_days(dim, from_ts, to_ts) d;
    ELSIF how = 1 THEN
        -- from the oldest partition at the earliest: with no window set the
        -- overview's part reaches back to the summary horizon (a year by
        -- default), and a raw window has rows in partitions only
        RETURN QUERY SELECT d.day, d.day_start, d.day_end, true
                       FROM opsmeter.retained_window(dim, from_ts, to_ts) w,
                            LATERAL (SELECT greatest(w.window_from, opsmeter.events_lower_bound()) AS window_from) f,
                            LATERAL opsmeter.local_days(f.window_from, w.window_to) d
                      WHERE f.window_from < w.window_to;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION opsmeter.ranked_rows(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[], lim integer)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE plpgsql STABLE ROWS 100 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    how integer := opsmeter.window_reader(from_ts);
BEGIN
    IF how = 1 THEN
        RETURN QUERY
        SELECT r.provider, r.model, r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
               r.cost_usd, r.unpriced_requests, r.unpriced_tokens, r.avg_latency_ms, r.cost_per_request,
               r.tokens_per_request
          FROM opsmeter.retained_window(dim, from_ts, to_ts) w,
               LATERAL opsmeter.ranked_rows_of_day(dim, w.window_from, w.window_to, modes, envs, true) r
         ORDER BY r.cost_usd DESC, r.requests DESC, r.provider, r.model, r.key
         LIMIT lim;
    ELSIF how = 2 THEN
        RETURN QUERY
        SELECT x.* FROM (
            SELECT f.provider, f.model, coalesce(f.key, 'unknown') AS key,
                   sum(f.requests)::bigint AS requests, sum(f.errors)::bigint, sum(f.input_tokens),
                   sum(f.output_tokens), sum(f.total_tokens), trim_scale(sum(f.cost_usd)) AS cost_usd,
                   sum(f.unpriced_requests)::bigint, sum(f.unpriced_tokens),
                   round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
                   round(sum(f.cost_usd) / sum(f.requests), 6),
                   round(sum(f.total_tokens) / sum(f.requests), 2)
              FROM opsmeter.facts(dim, from_ts, to_ts, modes, envs) f
             GROUP BY f.provider, f.model, coalesce(f.key, 'unknown')
            HAVING sum(f.requests) <> 0) x
         ORDER BY x.cost_usd DESC, x.requests DESC, x.provider, x.model, x.key
         LIMIT lim;
    END IF;
END
$$;

-- ranked_rows() of [day_start, day_end): through facts() (ranked_rows()),
-- or, when the raw rows alone answer it (raw), from the rows of
-- workspace_rows(), grouped by value.  The daily_* views read one local
-- day of window_days() per call; ranked_rows() reads a whole window whose
-- raw rows answer it with one call.  PL/pgSQL, as overview_of_day().
CREATE FUNCTION opsmeter.ranked_rows_of_day(dim opsmeter.summary_dimension, day_start timestamptz, day_end timestamptz,
                                            modes opsmeter.data_mode[], envs opsmeter.environment[], raw boolean)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE plpgsql STABLE STRICT ROWS 100 SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF NOT raw THEN
        RETURN QUERY SELECT * FROM opsmeter.ranked_rows(dim, day_start, day_end, modes, envs, NULL);
        RETURN;
    END IF;
    RETURN QUERY
    SELECT x.provider, x.model, x.key, count(*), count(*) FILTER (WHERE x.is_error),
           sum(x.input_tokens), sum(x.output_tokens), sum(x.total_tokens), trim_scale(coalesce(sum(x.cost_usd), 0)),
           CASE WHEN dim = 'model' THEN count(*) FILTER (WHERE x.cost_usd IS NULL) END,
           CASE WHEN dim = 'model' THEN coalesce(sum(x.total_tokens) FILTER (WHERE x.cost_usd IS NULL), 0) END,
           round(sum(x.latency_ms)::numeric / nullif(count(x.latency_ms), 0), 2),
           round(coalesce(sum(x.cost_usd), 0) / count(*), 6),
           round(sum(x.total_tokens) / count(*), 2)
      FROM (SELECT CASE WHEN dim = 'model' THEN e.provider END AS provider,
                   CASE WHEN dim = 'model' THEN e.model END AS model,
                   coalesce(CASE dim WHEN 'user' THEN e.user_id WHEN 'tenant' THEN e.tenant_id
                                     WHEN 'endpoint' THEN e.endpoint_tag WHEN 'prompt_version' THEN e.prompt_version END,
                            'unknown') AS key,
                   e.is_error, e.input_tokens, e.output_tokens, e.total_tokens, e.cost_usd, e.latency_ms
              FROM opsmeter.workspace_rows(day_start, day_end) e
             WHERE e.data_mode = ANY (modes) AND e.environment = ANY (envs)) x
     GROUP BY 1, 2, 3;
END
$$;
CREATE FUNCTION opsmeter.session_range() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_session_range' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.workspace_has_rows() RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_workspace_has_rows' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.session_window_start() RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_session_window_start' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.floor_to(ts timestamptz, step interval) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN pg_catalog.isfinite(ts) THEN pg_catalog.date_bin(step, ts, timestamptz '2000-01-01 00:00:00+00') ELSE ts END;
CREATE FUNCTION opsmeter.ceil_to(ts timestamptz, step interval) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN opsmeter.floor_to(ts, step) OPERATOR(pg_catalog.=) ts THEN ts
            ELSE opsmeter.floor_to(ts, step) OPERATOR(pg_catalog.+) step END;
CREATE FUNCTION opsmeter.raw_facts(dim opsmeter.summary_dimension, ws bigint, from_ts timestamptz, to_ts timestamptz,
                                   modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint,
               latency_counts bigint[])
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT e.data_mode, e.environment, NULL::text, NULL::text, NULL::text,
           pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE e.is_error),
           pg_catalog.sum(e.input_tokens), pg_catalog.sum(e.output_tokens), pg_catalog.sum(e.total_tokens),
           coalesce(pg_catalog.sum(e.cost_usd), 0), pg_catalog.count(*) FILTER (WHERE e.cost_usd IS NULL),
           coalesce(pg_catalog.sum(e.total_tokens) FILTER (WHERE e.cost_usd IS NULL), 0),
           pg_catalog.count(e.latency_ms), coalesce(pg_catalog.sum(e.latency_ms), 0),
           opsmeter.latency_histogram_of(e.latency_ms, 1)
      FROM opsmeter.events e
     WHERE e.workspace_id OPERATOR(pg_catalog.=) ws
       AND e.ts OPERATOR(pg_catalog.>=) from_ts AND e.ts OPERATOR(pg_catalog.<) to_ts
       AND e.data_mode OPERATOR(pg_catalog.=) ANY (modes) AND e.environment OPERATOR(pg_catalog.=) ANY (envs)
       AND dim OPERATOR(pg_catalog.=) 'overview'
     GROUP BY 1, 2
    UNION ALL
    SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN e.provider END,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN e.model END,
           CASE dim WHEN 'user' THEN e.user_id WHEN 'tenant' THEN e.tenant_id
                    WHEN 'endpoint' THEN e.endpoint_tag WHEN 'prompt_version' THEN e.prompt_version END,
           pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE e.is_error),
           pg_catalog.sum(e.input_tokens), pg_catalog.sum(e.output_tokens), pg_catalog.sum(e.total_tokens),
           coalesce(pg_catalog.sum(e.cost_usd), 0),
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model' THEN pg_catalog.count(*) FILTER (WHERE e.cost_usd IS NULL) END,
           CASE WHEN dim OPERATOR(pg_catalog.=) 'model'
                THEN coalesce(pg_catalog.sum(e.total_tokens) FILTER (WHERE e.cost_usd IS NULL), 0) END,
           pg_catalog.count(e.latency_ms), coalesce(pg_catalog.sum(e.latency_ms), 0),
           NULL::bigint[]
      FROM opsmeter.events e
     WHERE e.workspace_id OPERATOR(pg_catalog.=) ws
       AND e.ts OPERATOR(pg_catalog.>=) from_ts AND e.ts OPERATOR(pg_catalog.<) to_ts
       AND e.data_mode OPERATOR(pg_catalog.=) ANY (modes) AND e.environment OPERATOR(pg_catalog.=) ANY (envs)
       AND dim OPERATOR(pg_catalog.<>) 'overview'
     GROUP BY 3, 4, 5
$$;
DROP FUNCTION opsmeter.latency_facts(timestamptz, timestamptz, opsmeter.data_mode[], opsmeter.environment[]);
-- The sums per label of a model, user, tenant, endpoint or prompt-version
-- list (src/detail_sums.c): the summary rows of workspace ws, hourly in
-- [h_from, d_from) and [d_to, h_to) and daily in [d_from, d_to); the
-- pending raw rows in [greatest(lo, pending_from), hi) and the pending
-- adjustments in [lo, hi), of a batch above after_batch or in holes, on a
-- UTC day in days (NULL: any day); all of a mode in modes and an
-- environment in envs.  Summed in memory, or by SQL when the labels
-- outgrow the hash memory; several rows may carry one label.  It reads as
-- its caller, under the tables' row-level security, like facts().
CREATE FUNCTION opsmeter.detail_sums(dim opsmeter.summary_dimension, ws bigint,
                                     h_from timestamptz, d_from timestamptz, d_to timestamptz, h_to timestamptz,
                                     lo timestamptz, hi timestamptz, pending_from timestamptz,
                                     after_batch bigint, holes bigint[], days date[],
                                     modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint)
    AS 'MODULE_PATHNAME', 'opsmeter_detail_sums' LANGUAGE C STABLE;

DROP FUNCTION opsmeter.facts(opsmeter.summary_dimension, timestamptz, timestamptz, opsmeter.data_mode[], opsmeter.environment[]);
CREATE FUNCTION opsmeter.facts(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                               modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint,
               latency_counts bigint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET enable_sort = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();    -- same snapshot as w (a STABLE function)
    horizon record := opsmeter.retained_from(ws);
    coarse boolean := dim IN ('overview', 'model');
    -- No row is dated more than 5 minutes past the statement that wrote it.
    rows_end timestamptz := statement_timestamp() + interval '1 hour';
    q_from timestamptz;     -- [q_from, q_to): whole UTC quarter hours
    q_to timestamptz;
    h_from timestamptz;     -- [h_from, h_to): whole UTC hours
    h_to timestamptz;
    d_from timestamptz;     -- [d_from, d_to): whole UTC days read as daily rows
    d_to timestamptz;
    detailed date[];
    raw_only date[];        -- days not summarized yet: their raw rows answer every dimension
    lo timestamptz;
    hi timestamptz;
    raw boolean;
    every_day_here boolean;  -- every UTC day of [lo, hi) is one the pending part answers
    pending_from timestamptz;  -- no pending row is dated earlier
    every_env boolean := envs @> enum_range(NULL::opsmeter.environment);
BEGIN
    IF ws IS NULL THEN
        RETURN;
    END IF;
    from_ts := greatest(from_ts, CASE WHEN coarse THEN date_trunc('hour', horizon.summary_from, 'UTC')
                                      ELSE date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' END);
    -- A window that reaches past the newest possible row is open to now:
    -- it ends in the daily row of today, which each pass adds to as it adds
    -- to today's hours.
    IF to_ts >= rows_end THEN
        to_ts := 'infinity';
    END IF;
    IF from_ts >= to_ts THEN
        RETURN;
    END IF;
    q_from := opsmeter.ceil_to(from_ts, '15 minutes');
    q_to := greatest(q_from, opsmeter.floor_to(to_ts, '15 minutes'));
    h_from := least(opsmeter.ceil_to(q_from, '1 hour'), q_to);
    h_to := greatest(h_from, opsmeter.floor_to(q_to, '1 hour'));
    d_from := least(opsmeter.ceil_to(h_from, '1 day'), h_to);
    d_to := greatest(d_from, opsmeter.floor_to(h_to, '1 day'));
    SELECT coalesce(array_agg(r.day) FILTER (WHERE r.detail_rows IS NOT NULL), '{}'),
           coalesce(array_agg(r.day) FILTER (WHERE r.quarter_rows IS NULL), '{}')
      INTO detailed, raw_only
      FROM opsmeter.rollup_days r
     WHERE r.workspace_id = ws AND (r.detail_rows IS NOT NULL OR r.quarter_rows IS NULL)
       AND r.day >= (q_from AT TIME ZONE 'UTC')::date AND r.day <= (q_to AT TIME ZONE 'UTC')::date;

    -- No detailed day and every raw row of the window still retained (a
    -- small workspace, or a window of recent hours): the raw rows are the
    -- answer, in one range scan, as the same question asked by hand.
    IF detailed = '{}' AND from_ts >= date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' THEN
        hi := least(to_ts, rows_end);
        RETURN QUERY SELECT * FROM opsmeter.raw_facts(dim, ws, from_ts, hi, modes, envs);
        RETURN;
    END IF;

    -- The parts that raw rows or tier-1 quarters answer, each range once:
    -- the ends finer than summaries hold (raw rows); for overview and model
    -- the quarters at the ends; and the whole hours of days that are not
    -- detailed, one run of consecutive days of one kind at a time (for
    -- overview and model, quarters on summarized days; raw rows for the
    -- rest and on days not summarized yet).
    FOR lo, hi, raw IN
        SELECT r.lo, r.hi, r.raw OR (r.lo AT TIME ZONE 'UTC')::date = ANY (raw_only)
          FROM (VALUES (from_ts, CASE WHEN coarse THEN q_from ELSE h_from END, true),
                       (CASE WHEN coarse THEN q_to ELSE h_to END, to_ts, true),
                       (q_from, h_from, false),    -- both inside one UTC day
                       (h_to, q_to, false)) r(lo, hi, raw)
         WHERE r.raw OR coarse
        UNION ALL
        SELECT greatest(min(x.t), h_from), least(max(x.t) + interval '24 hours', h_to), x.raw
          FROM (SELECT t.t, k.raw,
                       t.t - (row_number() OVER (PARTITION BY k.raw ORDER BY t.t))::integer * interval '24 hours' AS run
                  FROM generate_series(opsmeter.floor_to(h_from, '1 day'),
                                       opsmeter.floor_to(least(h_to, rows_end) - interval '1 microsecond', '1 day'),
                                       interval '24 hours') t(t)
                 CROSS JOIN LATERAL (SELECT NOT coarse OR (t.t AT TIME ZONE 'UTC')::date = ANY (raw_only) AS raw) k
                 WHERE h_from < h_to AND (t.t AT TIME ZONE 'UTC')::date <> ALL (detailed)) x
         GROUP BY x.raw, x.run
    LOOP
        CONTINUE WHEN lo >= hi;
        IF raw THEN
            RETURN QUERY SELECT * FROM opsmeter.raw_facts(dim, ws, lo, hi, modes, envs);
        ELSE
            RETURN QUERY
            SELECT q.data_mode, q.environment,
                   CASE WHEN dim = 'model' THEN q.provider END, CASE WHEN dim = 'model' THEN q.model END, NULL::text,
                   q.requests, q.errors, q.input_tokens, q.output_tokens, q.total_tokens,
                   q.cost_usd, q.unpriced_requests, q.unpriced_tokens,
                   q.latency_count, q.latency_sum_ms, CASE WHEN dim = 'overview' THEN q.latency_counts END
              FROM opsmeter.summary_quarters q
             WHERE q.workspace_id = ws AND q.data_mode = ANY (modes) AND q.environment = ANY (envs)
               AND q.period_start >= lo AND q.period_start < hi;
        END IF;
    END LOOP;

    -- The pending rows where summaries answer: inside the quarters of
    -- summarized days (overview, model) or inside the hours of detailed
    -- days (the rest), summed per value (mode and environment NULL).  The
    -- test of each row's day is needed only where [lo, hi) holds a day of
    -- the other kind; in a big workspace's steady state it holds none, and
    -- the test cost 0.1 us a row (2 ms of a 7-day list over 20,000 pending
    -- rows).  Only the days that can hold pending rows are read (src/README.md,
    -- "Where pending rows can be"): in the steady state the current UTC
    -- day, not every day of the window, whose partitions each cost about
    -- 0.15 ms to plan and probe with none (10M-event cluster).
    lo := CASE WHEN coarse THEN q_from ELSE h_from END;
    hi := least(CASE WHEN coarse THEN q_to ELSE h_to END, rows_end);
    IF lo < hi AND (coarse OR detailed <> '{}') THEN
        SELECT least(opsmeter.unmarked_pending_from(), min(m.day)::timestamp AT TIME ZONE 'UTC')
          INTO pending_from
          FROM opsmeter.late_arrivals m
         WHERE m.workspace_id = ws AND m.day >= (lo AT TIME ZONE 'UTC')::date
           AND (m.ingest_batch > w OR m.ingest_batch = ANY (holes));
        every_day_here := CASE WHEN coarse THEN raw_only = '{}'
                               ELSE (SELECT count(*) FROM unnest(detailed) d
                                      WHERE d BETWEEN (lo AT TIME ZONE 'UTC')::date
                                                  AND ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date)
                                    = ((hi - interval '1 microsecond') AT TIME ZONE 'UTC')::date
                                      - (lo AT TIME ZONE 'UTC')::date + 1 END;
    ELSE
        hi := lo;    -- no pending read
    END IF;

    -- The lists' summary rows of detailed days and their pending rows,
    -- summed per label in memory (src/detail_sums.c): a week's user list
    -- with 20,000 pending rows spent more of its time in SQL's hash
    -- aggregation and numeric sums than in reading the rows.  The days
    -- whose pending rows it reads: for the model list those summarized
    -- (quarters answer them), for the others those detailed.
    IF dim <> 'overview' THEN
        IF detailed <> '{}' OR lo < hi THEN
            RETURN QUERY
            SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, k.provider, k.model, k.key,
                   k.requests, k.errors, k.input_tokens, k.output_tokens, k.total_tokens, k.cost_usd,
                   CASE WHEN coarse THEN k.unpriced_requests END, CASE WHEN coarse THEN k.unpriced_tokens END,
                   k.latency_count, k.latency_sum_ms, NULL::bigint[]
              FROM opsmeter.detail_sums(dim, ws, h_from, d_from, d_to, h_to, lo, hi, pending_from, w, holes,
                                        CASE WHEN every_day_here OR lo >= hi THEN NULL
                                             WHEN NOT coarse THEN detailed
                                             ELSE ARRAY(SELECT (t.t AT TIME ZONE 'UTC')::date
                                                          FROM generate_series(date_trunc('day', lo, 'UTC'),
                                                                               hi - interval '1 microsecond',
                                                                               interval '24 hours') t(t)
                                                         WHERE (t.t AT TIME ZONE 'UTC')::date <> ALL (raw_only)) END,
                                        modes, envs) k;
        END IF;
        RETURN;
    END IF;

    -- The overview over detailed days: hourly rows at both ends,
    -- daily rows in between (only detailed days have any): one index range
    -- scan per (grain, from, to) of the VALUES list, no OR, summed here per
    -- value (data_mode and environment NULL).  Joined to the ranges, the
    -- scans hand their rows straight to the sum; as three UNION ALL
    -- branches they read a week in 5.4 ms instead of 5.0 (10M-event cluster).
    IF detailed <> '{}' THEN
        RETURN QUERY
        SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, s.provider, s.model, NULL::text,
               sum(s.requests)::bigint, sum(s.errors)::bigint, sum(s.input_tokens), sum(s.output_tokens),
               sum(s.total_tokens), sum(s.cost_usd), sum(s.unpriced_requests)::bigint, sum(s.unpriced_tokens),
               sum(s.latency_count)::bigint,
               sum(s.latency_sum_ms)::bigint,
               opsmeter.latency_histogram_sum(s.latency_counts)
          FROM (VALUES ('hour'::opsmeter.summary_grain, h_from, d_from), ('day', d_from, d_to),
                       ('hour', d_to, h_to)) r(grain, lo, hi)
          JOIN opsmeter.summaries s
            ON s.workspace_id = ws AND s.dimension = dim AND s.grain = r.grain
               AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
               AND s.period_start >= r.lo AND s.period_start < r.hi
         GROUP BY s.provider, s.model;    -- NULL in overview rows: one group, none when no row
    END IF;

    IF lo < hi THEN
        RETURN QUERY
        SELECT NULL::opsmeter.data_mode, NULL::opsmeter.environment, NULL::text, NULL::text, NULL::text,
               sum(p.requests)::bigint, sum(p.errors)::bigint, sum(p.input_tokens), sum(p.output_tokens),
               sum(p.total_tokens), sum(p.cost_usd), sum(p.unpriced_requests)::bigint, sum(p.unpriced_tokens),
               sum(p.latency_count)::bigint,
               sum(p.latency_sum_ms)::bigint,
               opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count)
          FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
         WHERE p.workspace_id = ws
           AND p.ts >= lo AND p.ts < hi    -- partition pruning: plain variables
           AND (p.is_adjustment OR p.ts >= pending_from)    -- adjustments are on any day
           -- Filters the planner leaves out when they keep every row (every
           -- environment), or makes one comparison (one data mode, the
           -- default): "= ANY" of a list costs each row a loop over it,
           -- 0.4 ms of a 7-day list over 20,000 pending rows.  modes[1] is
           -- that one mode only in a 1-D list starting at 1 ('[2:2]={real}'
           -- and '{{real}}' hold one mode too).
           AND CASE WHEN cardinality(modes) = 1 AND array_ndims(modes) = 1 AND array_lower(modes, 1) = 1
                    THEN p.data_mode = modes[1] ELSE p.data_mode = ANY (modes) END
           AND (every_env OR p.environment = ANY (envs))
           AND (every_day_here    -- then the day test below is left out at plan time
                OR (p.ts AT TIME ZONE 'UTC')::date <> ALL (raw_only))
         GROUP BY 3;    -- a constant: one group, none when no row
    END IF;
END
$$;
-- The part of [from_ts, to_ts) that an answer about dim covers, as
-- facts() cuts it: from the hour of the summary horizon for overview and
-- model, from the hour after the raw horizon's for the other dimensions
-- (retained_from()), and up to now + 1 hour (no row is dated later).  One
-- row, or none when nothing is left (or there is no workspace).
CREATE FUNCTION opsmeter.retained_window(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (window_from timestamptz, window_to timestamptz)
LANGUAGE plpgsql STABLE ROWS 1 SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    horizon record := opsmeter.retained_from(ws);
BEGIN
    window_from := greatest(from_ts, CASE WHEN dim IN ('overview', 'model') THEN date_trunc('hour', horizon.summary_from, 'UTC')
                                          ELSE date_trunc('hour', horizon.raw_from, 'UTC') + interval '1 hour' END);
    window_to := least(to_ts, statement_timestamp() + interval '1 hour');
    IF ws IS NOT NULL AND window_from < window_to THEN
        RETURN NEXT;
    END IF;
END
$$;

-- The first instant of local day D in the session TimeZone: the earliest
-- instant whose local date is D.  D::timestamptz, except where midnight
-- happens twice (America/Havana's last day of summer time): then the
-- first of the two midnights, where PostgreSQL reads the second.  C
-- (src/filters.c), shared with window_start().
CREATE FUNCTION opsmeter.local_day_start(day date) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'opsmeter_local_day_start' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- The days of the session TimeZone in [from_ts, to_ts) (both finite),
-- oldest first, each with its part of the window [day_start, day_end): a
-- DST day is 23 or 25 hours long, a day whose midnight the clocks skip
-- (America/Santiago's first day of summer time) begins at 01:00, and one
-- whose midnight happens twice (America/Havana's last) at the first
-- (local_day_start()).  Counted in dates, each day from its own date:
-- adding '1 day' to the first day's start keeps its wall-clock time, so
-- after a skipped midnight every later day began at 01:00 and took the
-- next day's first hour (sql/analytics_zones.sql).  Inlined into its
-- callers: no SET clause, and every operator named with its schema.
CREATE FUNCTION opsmeter.local_days(from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.day, GREATEST(opsmeter.local_day_start(d.day), from_ts),
           LEAST(opsmeter.local_day_start(d.day OPERATOR(pg_catalog.+) 1), to_ts)
      FROM (SELECT from_ts::date OPERATOR(pg_catalog.+) i AS day
              FROM pg_catalog.generate_series(0, (to_ts OPERATOR(pg_catalog.-) interval '1 microsecond')::date
                                                 OPERATOR(pg_catalog.-) from_ts::date) i) d
$$;

CREATE FUNCTION opsmeter.report_days(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz)
RETURNS TABLE (day date, day_start timestamptz, day_end timestamptz)
LANGUAGE plpgsql STABLE ROWS 31 SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    holes bigint[] := opsmeter.rollup_holes();
    data_days date[];
BEGIN
    -- the horizon of facts(), so its first day holds what facts() keeps
    SELECT r.window_from, r.window_to INTO from_ts, to_ts FROM opsmeter.retained_window(dim, from_ts, to_ts) r;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT coalesce(array_agg(x.day), '{}') INTO data_days FROM (
        SELECT r.day FROM opsmeter.rollup_days r
         WHERE r.workspace_id = ws AND r.day >= (from_ts AT TIME ZONE 'UTC')::date
           AND r.day <= (to_ts AT TIME ZONE 'UTC')::date
        UNION
        SELECT (p.ts AT TIME ZONE 'UTC')::date
          FROM opsmeter.pending_contributions(w, 9223372036854775807, holes, '{}') p
         WHERE p.workspace_id = ws AND p.ts >= from_ts AND p.ts < to_ts) x;
    RETURN QUERY
    SELECT d.day, d.day_start, d.day_end
      FROM opsmeter.local_days(from_ts, to_ts) d
     WHERE (d.day_start AT TIME ZONE 'UTC')::date = ANY (data_days)
        OR ((d.day_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date = ANY (data_days);
END
$$;

-- The overview of one local day [day_start, day_end) of window_days():
-- through facts(), or, for a day whose raw rows alone answer it (raw),
-- from the rows of workspace_rows(); one row, or none if it has no rows.
-- One PL/pgSQL function for both: a view joins one per-day reader, which
-- a session compiles once and only when a view reads a day (so an empty
-- workspace's view plans neither query), and whose queries it prepares
-- once (a SQL function called per day was planned again in every call).
-- Generic plans: nothing in them depends on the values (the partitions
-- are workspace_rows()' business, facts() plans its own), and the planner
-- otherwise kept choosing a custom plan, planned again for every day
-- (60 and 175 us a day instead of 29 and 67, with the raw rows).
-- p95 is the upper bound of the latency bucket holding the 95th percentile
-- (nearest rank); money as in ranked_rows().
CREATE FUNCTION opsmeter.overview_of_day(day_start timestamptz, day_end timestamptz,
                                         modes opsmeter.data_mode[], envs opsmeter.environment[], raw boolean)
RETURNS TABLE (requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE plpgsql STABLE STRICT ROWS 1 SET search_path = pg_catalog, pg_temp
    SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF raw THEN
        RETURN QUERY
        SELECT count(*), count(*) FILTER (WHERE e.is_error),
               sum(e.input_tokens), sum(e.output_tokens), sum(e.total_tokens), trim_scale(coalesce(sum(e.cost_usd), 0)),
               count(*) FILTER (WHERE e.cost_usd IS NULL),
               round(sum(e.latency_ms)::numeric / nullif(count(e.latency_ms), 0), 2),
               opsmeter.latency_percentile(opsmeter.latency_histogram_of(e.latency_ms, 1), 0.95)
          FROM opsmeter.workspace_rows(day_start, day_end) e
         WHERE e.data_mode = ANY (modes) AND e.environment = ANY (envs)
        HAVING count(*) > 0;
    ELSE
        RETURN QUERY
        SELECT sum(f.requests)::bigint, sum(f.errors)::bigint,
               sum(f.input_tokens), sum(f.output_tokens), sum(f.total_tokens), trim_scale(sum(f.cost_usd)),
               sum(f.unpriced_requests)::bigint,
               round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
               opsmeter.latency_percentile(opsmeter.latency_histogram_sum(f.latency_counts), 0.95)
          FROM opsmeter.facts('overview', day_start, day_end, modes, envs) f
        HAVING sum(f.requests) <> 0;
    END IF;
END
$$;
CREATE OR REPLACE FUNCTION opsmeter.overview_rows(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT d.day, o.requests, o.errors, o.input_tokens, o.output_tokens, o.total_tokens, o.cost_usd,
           o.unpriced_requests, o.avg_latency_ms, o.p95_latency_ms
      FROM opsmeter.window_days('overview', from_ts, to_ts) d
      CROSS JOIN LATERAL opsmeter.overview_of_day(d.day_start, d.day_end, modes, envs, d.raw) o
     WHERE opsmeter.workspace_has_rows()
     ORDER BY 1
$$;
CREATE OR REPLACE VIEW opsmeter.overview WITH (security_invoker = true) AS
    SELECT d.day, o.requests, o.errors, o.input_tokens, o.output_tokens, o.total_tokens, o.cost_usd,
           o.unpriced_requests, o.avg_latency_ms, o.p95_latency_ms
      FROM opsmeter.window_days('overview', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.overview_of_day(d.day_start, d.day_end,
                                                 opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) o
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.overview IS
    'per-day totals of the active workspace, one row per day of the session TimeZone (opsmeter.range, opsmeter.data_mode, opsmeter.environment)';
CREATE OR REPLACE VIEW opsmeter.top_users WITH (security_invoker = true) AS
    SELECT r.key AS user_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('user', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_users IS 'users ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE OR REPLACE VIEW opsmeter.top_tenants WITH (security_invoker = true) AS
    SELECT r.key AS tenant_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('tenant', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_tenants IS 'tenants ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE OR REPLACE VIEW opsmeter.top_endpoints WITH (security_invoker = true) AS
    SELECT r.key AS endpoint_tag, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('endpoint', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_endpoints IS 'endpoint tags ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE OR REPLACE VIEW opsmeter.prompt_versions WITH (security_invoker = true) AS
    SELECT r.key AS prompt_version, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('prompt_version', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.prompt_versions IS 'prompt versions ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE OR REPLACE VIEW opsmeter.top_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('model', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.top_models IS 'provider/model pairs ranked by cost over the session window (all retained days unless opsmeter.range is set)';
CREATE OR REPLACE VIEW opsmeter.unpriced_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.unpriced_requests AS requests, r.unpriced_tokens AS total_tokens
      FROM opsmeter.ranked_rows('model', opsmeter.session_window_start(), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE r.unpriced_requests > 0 AND opsmeter.workspace_has_rows()
     ORDER BY r.unpriced_requests DESC, r.provider, r.model;
COMMENT ON VIEW opsmeter.unpriced_models IS
    'models stored without a price in the session window: what to add to the catalog';
CREATE OR REPLACE VIEW opsmeter.export WITH (security_invoker = true) AS
    SELECT x.ts, x.external_request_id, x.provider, x.model, x.input_tokens, x.output_tokens, x.total_tokens,
           x.cached_input_tokens, x.reasoning_tokens, x.latency_ms, x.status, x.error_code, x.prompt_version,
           x.endpoint_tag, x.user_id, x.tenant_id, x.data_mode, x.environment, x.cost_usd, x.pricing,
           x.ingested_by, x.metadata, d.day
      FROM opsmeter.report_days('user', opsmeter.session_window_start(), 'infinity') d
     CROSS JOIN LATERAL opsmeter.export_rows(d.day_start, least(d.day_end, statement_timestamp() + interval '1 hour'),
                                             opsmeter.data_mode_filter(), opsmeter.environment_filter()) x
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.export IS
    'request-level rows of the active workspace with their day in the session TimeZone (all retained rows unless opsmeter.range is set)';
CREATE VIEW opsmeter.daily_users WITH (security_invoker = true) AS
    SELECT d.day, r.key AS user_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('user', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('user', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_users IS 'users per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_tenants WITH (security_invoker = true) AS
    SELECT d.day, r.key AS tenant_id, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('tenant', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('tenant', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_tenants IS 'tenants per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_endpoints WITH (security_invoker = true) AS
    SELECT d.day, r.key AS endpoint_tag, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('endpoint', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('endpoint', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_endpoints IS 'endpoint tags per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_prompt_versions WITH (security_invoker = true) AS
    SELECT d.day, r.key AS prompt_version, r.requests, r.errors, r.input_tokens, r.output_tokens,
           r.total_tokens, r.cost_usd, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('prompt_version', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('prompt_version', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_prompt_versions IS 'prompt versions per day of the session TimeZone: filter and sum by day';
CREATE VIEW opsmeter.daily_models WITH (security_invoker = true) AS
    SELECT d.day, r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.window_days('model', opsmeter.session_window_start(), 'infinity') d
      CROSS JOIN LATERAL opsmeter.ranked_rows_of_day('model', d.day_start, d.day_end,
                                                    opsmeter.data_mode_filter(), opsmeter.environment_filter(), d.raw) r
     WHERE opsmeter.workspace_has_rows();
COMMENT ON VIEW opsmeter.daily_models IS 'provider/model pairs per day of the session TimeZone: filter and sum by day';
-- 0.1.0's views read opsmeter.guc_range() (7 days when opsmeter.range is
-- empty); none does now.
DROP FUNCTION opsmeter.guc_range();

CREATE OR REPLACE FUNCTION @extschema@.opsmeter_ingest_demo(events integer DEFAULT 200) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    span interval;
    chunk integer;
    done integer := 0;
    accepted bigint := 0;
    duplicates bigint := 0;
    r jsonb;
BEGIN
    IF events IS NULL OR events < 1 OR events > 100000 THEN
        RAISE EXCEPTION 'invalid events %', coalesce(events::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Ask for 1 to 100000 demo events (default 200).';
    END IF;
    -- The last 6 days: inside the default window of the function forms
    -- ('7 days', from local midnight six days ago) in every time zone, and
    -- an hour clear of the oldest timestamp ingest accepts.
    SELECT least(interval '6 days', (now() - h.raw_from) - interval '1 hour') INTO span
      FROM opsmeter.retained_from(ws) h;
    span := greatest(span, interval '1 minute');
    WHILE done < events LOOP
        chunk := least(events - done, 1000);
        r := @extschema@.opsmeter_ingest((
            SELECT jsonb_agg(jsonb_build_object(
                'externalRequestId', 'demo-' || gen_random_uuid(),
                'provider', (ARRAY['openai', 'openai', 'anthropic', 'anthropic', 'google', 'mistral'])[g.k],
                'model', (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku-20241022', 'claude-sonnet-4-20250514',
                                'gemini-2.0-flash', 'mistral-small-latest'])[g.k],
                'inputTokens', 200 + (random() * 3800)::int,
                'outputTokens', 20 + (random() * 900)::int,
                'cachedInputTokens', CASE WHEN random() < 0.3 THEN 100 ELSE 0 END,
                'latencyMs', (150 + random() * random() * 6000)::int,
                'status', CASE WHEN g.failed THEN 'error' ELSE 'success' END,
                'errorCode', CASE WHEN g.failed THEN 'rate_limited' END,
                'endpointTag', (ARRAY['checkout.ai_summary', 'support.reply_draft', 'search.rerank',
                                      'onboarding.welcome', 'reports.weekly_digest'])[1 + floor(random() * 5)::int],
                'promptVersion', (ARRAY['summarizer_v3', 'summarizer_v4', 'reply_v1', 'rerank_v2'])[1 + floor(random() * 4)::int],
                'userId', 'demo-user-' || (1 + floor(random() * 12)::int),
                'tenantId', 'demo-tenant-' || (1 + floor(random() * 5)::int),
                'dataMode', 'demo', 'environment', 'dev',
                'timestamp', to_char((now() - random() * span) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))
              FROM (SELECT 1 + floor(random() * 6)::int AS k, random() < 0.04 AS failed
                      FROM generate_series(1, chunk)) g));
        accepted := accepted + (r ->> 'accepted')::bigint;
        duplicates := duplicates + (r ->> 'duplicates')::bigint;
        done := done + chunk;
    END LOOP;
    RETURN jsonb_build_object('ok', true, 'accepted', accepted, 'duplicates', duplicates,
                              'dataMode', 'demo', 'environment', 'dev',
                              'budgetWarning', r -> 'budgetWarning', 'budgetExceeded', r -> 'budgetExceeded');
END
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest_demo(integer) IS
    'write realistic sample traffic (dataMode demo, environment dev, inside the default 7-day window) into the active workspace';

ALTER TABLE opsmeter.summary_quarters ENABLE ROW LEVEL SECURITY;
CREATE POLICY summary_quarters_read ON opsmeter.summary_quarters FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summary_quarters TO PUBLIC;
ALTER TABLE opsmeter.rollup_days ENABLE ROW LEVEL SECURITY;
CREATE POLICY rollup_days_read ON opsmeter.rollup_days FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.rollup_days TO PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._fold_quarters(bigint, bigint, bigint[], bigint[], bigint[], date[], boolean, boolean),
                       opsmeter._pending_days(bigint, bigint, bigint[], bigint[]),
                       opsmeter._fold_detail(bigint, bigint, bigint[], bigint[], bigint[], date[], boolean, boolean, boolean),
                       opsmeter._judge_days(bigint[], date[], bigint, bigint[]),
                       opsmeter._group_pending(bigint, bigint, bigint[], bigint[]),
                       opsmeter._grouped_days(bigint, bigint, bigint[], bigint[]),
                       opsmeter._grouped_quarters(bigint, bigint, bigint[], bigint[], bigint[], date[]),
                       opsmeter._grouped_hours(bigint, bigint, bigint[], bigint[], bigint[], date[]) FROM PUBLIC;
ALTER TABLE opsmeter.summaries ALTER COLUMN latency_counts SET STATISTICS 0;
ALTER TABLE opsmeter.summary_quarters
    ALTER COLUMN provider SET STATISTICS 0, ALTER COLUMN model SET STATISTICS 0,
    ALTER COLUMN requests SET STATISTICS 0,
    ALTER COLUMN errors SET STATISTICS 0, ALTER COLUMN input_tokens SET STATISTICS 0,
    ALTER COLUMN output_tokens SET STATISTICS 0, ALTER COLUMN total_tokens SET STATISTICS 0,
    ALTER COLUMN cached_input_tokens SET STATISTICS 0, ALTER COLUMN reasoning_tokens SET STATISTICS 0,
    ALTER COLUMN cost_usd SET STATISTICS 0, ALTER COLUMN unpriced_requests SET STATISTICS 0,
    ALTER COLUMN unpriced_tokens SET STATISTICS 0, ALTER COLUMN latency_count SET STATISTICS 0,
    ALTER COLUMN latency_sum_ms SET STATISTICS 0, ALTER COLUMN latency_counts SET STATISTICS 0;
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summary_quarters', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.rollup_days', '');

-- The data of 0.1.0.  The watermark and holes stay; what is pending stays
-- pending.
-- 1. Tier 1 from the rolled-up raw rows.
SELECT count(*) AS quarter_groups
  FROM (SELECT coalesce(array_agg(p.workspace_id), '{}') AS ws, coalesce(array_agg(p.day), '{}') AS days
          FROM opsmeter._pending_days(0, opsmeter.rollup_watermark(), '{}', opsmeter.rollup_holes()) p) d,
       opsmeter._fold_quarters(0, opsmeter.rollup_watermark(), '{}', opsmeter.rollup_holes(), d.ws, d.days, false, false) q;
-- 2. What 0.1.0's hourly model rows, with the corrections not yet folded
--    into them (summary_adjustments), count beyond the raw rows still
--    there: rows that retention removed after they were rolled up.  Kept at
--    the start of their hour, so the overview and models keep every request
--    they had (exact in whole-hour zones: those raw rows are gone and
--    cannot be split into quarters).  The corrections are then folded: the
--    rebuilt tier 1 already holds the corrected raw rows.
WITH old AS (
    SELECT s.workspace_id, s.period_start AS hour, s.data_mode, s.environment, s.provider, s.model,
           s.requests, s.errors, s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens,
           s.reasoning_tokens, s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.dimension = 'model' AND s.grain = 'hour'
    UNION ALL
    SELECT a.workspace_id, date_trunc('hour', a.ts, 'UTC'), a.data_mode, a.environment, a.provider, a.model,
           a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens, a.cached_input_tokens,
           a.reasoning_tokens, a.cost_usd, a.unpriced_requests, a.unpriced_tokens, a.latency_count, a.latency_sum_ms
      FROM opsmeter.summary_adjustments a
    UNION ALL
    SELECT q.workspace_id, date_trunc('hour', q.period_start, 'UTC'), q.data_mode, q.environment, q.provider, q.model,
           -q.requests, -q.errors, -q.input_tokens, -q.output_tokens, -q.total_tokens, -q.cached_input_tokens,
           -q.reasoning_tokens, -q.cost_usd, -q.unpriced_requests, -q.unpriced_tokens, -q.latency_count,
           -q.latency_sum_ms
      FROM opsmeter.summary_quarters q
), remainder AS (
    SELECT o.workspace_id, o.hour AS period_start, o.data_mode, o.environment, o.provider, o.model,
           sum(o.requests) AS requests, sum(o.errors) AS errors, sum(o.input_tokens) AS input_tokens,
           sum(o.output_tokens) AS output_tokens, sum(o.total_tokens) AS total_tokens,
           sum(o.cached_input_tokens) AS cached_input_tokens, sum(o.reasoning_tokens) AS reasoning_tokens,
           sum(o.cost_usd) AS cost_usd, sum(o.unpriced_requests) AS unpriced_requests,
           sum(o.unpriced_tokens) AS unpriced_tokens, sum(o.latency_count) AS latency_count,
           sum(o.latency_sum_ms) AS latency_sum_ms
      FROM old o GROUP BY 1, 2, 3, 4, 5, 6
), old_histograms AS (
    SELECT h.workspace_id, h.hour, h.data_mode, h.environment, i AS bucket, h.counts[i] AS n
      FROM opsmeter.latency_histogram h, generate_subscripts(h.counts, 1) i
    UNION ALL
    SELECT a.workspace_id, a.hour, a.data_mode, a.environment, i, a.counts[i]
      FROM (SELECT a.workspace_id, date_trunc('hour', a.ts, 'UTC') AS hour, a.data_mode, a.environment,
                   opsmeter.latency_histogram_of(a.latency_bucket, a.latency_count::bigint) AS counts
              FROM opsmeter.summary_adjustments a GROUP BY 1, 2, 3, 4) a, generate_subscripts(a.counts, 1) i
    UNION ALL
    SELECT q.workspace_id, date_trunc('hour', q.period_start, 'UTC'), q.data_mode, q.environment, i, -q.latency_counts[i]
      FROM opsmeter.summary_quarters q, generate_subscripts(q.latency_counts, 1) i
), histogram_remainder AS (
    SELECT x.workspace_id, x.hour, x.data_mode, x.environment,
           array_agg(coalesce(x.n, 0)::bigint ORDER BY x.bucket) AS counts
      FROM (SELECT o.workspace_id, o.hour, o.data_mode, o.environment, b.bucket, sum(o.n) AS n
              FROM (SELECT DISTINCT workspace_id, hour, data_mode, environment FROM old_histograms) k
              CROSS JOIN LATERAL generate_series(1, (SELECT max(bucket) FROM old_histograms z
                                                      WHERE z.workspace_id = k.workspace_id AND z.hour = k.hour
                                                        AND z.data_mode = k.data_mode
                                                        AND z.environment = k.environment)) b(bucket)
              LEFT JOIN old_histograms o ON o.workspace_id = k.workspace_id AND o.hour = k.hour
                                        AND o.data_mode = k.data_mode AND o.environment = k.environment
                                        AND o.bucket = b.bucket
             GROUP BY 1, 2, 3, 4, 5) x
     GROUP BY 1, 2, 3, 4
    HAVING bool_or(coalesce(x.n, 0) <> 0)
), kept AS (
    SELECT r.*, row_number() OVER (PARTITION BY r.workspace_id, r.period_start, r.data_mode, r.environment
                                   ORDER BY r.provider, r.model) AS nth
      FROM remainder r
     WHERE r.requests <> 0 OR r.errors <> 0 OR r.input_tokens <> 0 OR r.output_tokens <> 0 OR r.total_tokens <> 0
        OR r.cached_input_tokens <> 0 OR r.reasoning_tokens <> 0 OR r.cost_usd <> 0 OR r.unpriced_requests <> 0
        OR r.unpriced_tokens <> 0 OR r.latency_count <> 0 OR r.latency_sum_ms <> 0
)
INSERT INTO opsmeter.summary_quarters AS q
SELECT k.workspace_id, k.period_start, k.data_mode, k.environment, k.provider, k.model, k.requests, k.errors,
       k.input_tokens, k.output_tokens, k.total_tokens, k.cached_input_tokens, k.reasoning_tokens, k.cost_usd,
       k.unpriced_requests, k.unpriced_tokens, k.latency_count, k.latency_sum_ms,
       -- the hour's histogram remainder goes with its first model
       CASE WHEN k.nth = 1 THEN coalesce(opsmeter.latency_histogram_add(x.counts, NULL), '{}') ELSE '{}' END
  FROM kept k
  LEFT JOIN histogram_remainder x
    ON x.workspace_id = k.workspace_id AND x.hour = k.period_start AND x.data_mode = k.data_mode
   AND x.environment = k.environment
ON CONFLICT (workspace_id, data_mode, environment, period_start, provider, model) DO UPDATE
   SET requests = q.requests + excluded.requests,
       errors = q.errors + excluded.errors,
       input_tokens = q.input_tokens + excluded.input_tokens,
       output_tokens = q.output_tokens + excluded.output_tokens,
       total_tokens = q.total_tokens + excluded.total_tokens,
       cached_input_tokens = q.cached_input_tokens + excluded.cached_input_tokens,
       reasoning_tokens = q.reasoning_tokens + excluded.reasoning_tokens,
       cost_usd = q.cost_usd + excluded.cost_usd,
       unpriced_requests = q.unpriced_requests + excluded.unpriced_requests,
       unpriced_tokens = q.unpriced_tokens + excluded.unpriced_tokens,
       latency_count = q.latency_count + excluded.latency_count,
       latency_sum_ms = q.latency_sum_ms + excluded.latency_sum_ms,
       latency_counts = opsmeter.latency_histogram_add(q.latency_counts, excluded.latency_counts);
DELETE FROM opsmeter.summary_adjustments;
-- 3. The days the rollup has seen; 0.1.0's tier-2 rows and histograms go;
--    every day whose raw rows are all there is judged for tier 2.
INSERT INTO opsmeter.rollup_days (workspace_id, day, requests, quarter_rows)
SELECT q.workspace_id, (q.period_start AT TIME ZONE 'UTC')::date, sum(q.requests), count(*)
  FROM opsmeter.summary_quarters q GROUP BY 1, 2;
DELETE FROM opsmeter.summaries;
-- (Leaving the extension first also takes it out of the tables pg_dump dumps.)
ALTER EXTENSION opsmeter DROP TABLE opsmeter.latency_histogram;
DROP TABLE opsmeter.latency_histogram;
SELECT opsmeter._judge_days(array_agg(d.workspace_id), array_agg(d.day), opsmeter.rollup_watermark(), opsmeter.rollup_holes())
  FROM opsmeter.rollup_days d;

-- What a DBA watches (issue #16): the worker, the last passes, what is
-- pending, what retention has left to do.  Counts and times only, no
-- tenant's row: readable by opsmeter_admin, reading as the view's owner
-- (so row-level security does not hide the pending rows from it).
CREATE VIEW opsmeter.worker_status AS
WITH runs AS (
    SELECT r.run_id, r.started_at, r.finished_at, r.triggered_by, r.ok, r.error, r.duration_ms, r.partitions_skipped
      FROM opsmeter.retention_runs r
), last_run AS (
    SELECT * FROM runs ORDER BY run_id DESC LIMIT 1
), last_ok AS (
    SELECT max(started_at) AS started_at, max(run_id) AS run_id FROM runs WHERE ok
), pending AS (
    SELECT count(*) AS pending_rows, min(e.ingested_at) AS oldest_pending_at
      FROM opsmeter.events e
     WHERE e.ingest_batch > opsmeter.rollup_watermark() OR e.ingest_batch = ANY (opsmeter.rollup_holes())
), days AS (
    SELECT x.day FROM opsmeter.event_partitions() x
), longest AS (
    -- every workspace's, read as the view's owner (effective_retention()
    -- would show the caller only the workspaces it belongs to)
    SELECT greatest(opsmeter.guc_raw_retention(), max(r.raw)) AS raw
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
), worker AS (
    SELECT a.pid, a.state, a.backend_start
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'opsmeter worker' AND a.datid = (SELECT d.oid FROM pg_catalog.pg_database d
                                                             WHERE d.datname = pg_catalog.current_database())
)
SELECT (SELECT w.pid FROM worker w LIMIT 1) AS worker_pid,
       (SELECT coalesce(w.state, 'running') FROM worker w LIMIT 1) AS worker_state,
       current_setting('opsmeter.worker_enabled', true)::boolean AS worker_enabled,
       current_setting('opsmeter.worker_interval', true)::interval AS worker_interval,
       l.started_at AS last_pass_at,
       l.triggered_by AS last_pass_by,
       l.duration_ms AS last_pass_duration_ms,
       l.ok AS last_pass_ok,
       l.error AS last_pass_error,
       ok.started_at AS last_ok_pass_at,
       (SELECT count(*) FROM runs f WHERE NOT f.ok AND f.run_id > coalesce(ok.run_id, 0)) AS failed_passes_since_ok,
       CASE WHEN current_setting('opsmeter.worker_enabled', true)::boolean AND EXISTS (SELECT 1 FROM worker)
            THEN coalesce((SELECT max(f.finished_at) FROM runs f WHERE f.triggered_by = 'worker'),
                          (SELECT w.backend_start FROM worker w LIMIT 1))
                 + current_setting('opsmeter.worker_interval', true)::interval
       END AS next_pass_due,
       p.pending_rows,
       p.oldest_pending_at,
       now() - p.oldest_pending_at AS oldest_pending_age,
       (SELECT count(*) FROM days) AS partitions,
       (SELECT count(*) FROM days d, longest g
         WHERE (d.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - g.raw) AS partitions_due_for_drop,
       coalesce(l.partitions_skipped, '{}') AS last_pass_skipped,
       (SELECT count(*) FROM opsmeter.key_generations) AS key_generations
  FROM pending p
  LEFT JOIN last_run l ON true
  LEFT JOIN last_ok ok ON true;
COMMENT ON VIEW opsmeter.worker_status IS
    'the retention worker and passes at a glance, for monitoring (opsmeter_admin): last passes, pending rows, partitions due';

GRANT SELECT ON opsmeter.worker_status TO opsmeter_admin;

-- The per-day views are for every member, as the other views: they are
-- security_invoker, so a reader sees only its own workspaces' rows.
GRANT SELECT ON opsmeter.daily_users, opsmeter.daily_tenants, opsmeter.daily_endpoints,
                opsmeter.daily_prompt_versions, opsmeter.daily_models TO PUBLIC;

------------------------------------------------------------------------------
-- Workspace names unique regardless of case (issue #16).  A 0.1.0 database
-- may hold two names that differ only in case; the index cannot be built
-- then, and the DBA chooses which to rename (this script will not guess
-- which name clients use).
------------------------------------------------------------------------------
DO $$
DECLARE
    clash text;
BEGIN
    SELECT string_agg(format('%L', w.name), ', ' ORDER BY w.name) INTO clash
      FROM opsmeter.workspaces w
     WHERE pg_catalog.lower(w.name) IN (SELECT pg_catalog.lower(x.name) FROM opsmeter.workspaces x
                                         GROUP BY 1 HAVING count(*) > 1);
    IF clash IS NOT NULL THEN
        RAISE EXCEPTION 'workspace names differ only in case: %', clash
            USING ERRCODE = '23505',
                  HINT = 'opsmeter 0.2.0 keeps names unique regardless of case.  Rename all but one of each, as a superuser: '
                         'UPDATE opsmeter.workspaces SET name = ''<new name>'' WHERE name = ''<old name>''; then update again.';
    END IF;
END
$$;
-- Names are unique regardless of case: with "Acme" beside "acme", a role in
-- both could never tell them apart by eye, and a typo would pick the other
-- tenant.  Lookups stay exact (workspaces_name_key).
CREATE UNIQUE INDEX workspaces_name_folded_key ON opsmeter.workspaces (pg_catalog.lower(name));

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

------------------------------------------------------------------------------
-- Verification: what the summaries claim, recomputed from the raw rows
-- (issue #16; SPEC: "rollups provably equal the raw data")
------------------------------------------------------------------------------
-- Every difference between what the rollup claims and what the raw rows
-- say, one number per row, for the workspaces listed, over the periods that
-- lie wholly in [range_start, range_end) and after the workspace's raw
-- retention (older summaries have no raw rows left to check them against).
-- A claim is what the views add up: stored summary rows plus the pending
-- contributions (raw rows above the watermark or in its holes, and
-- corrections not folded yet).  Checked:
--   tier 'rollup_days', grain day: requests (the day's rolled-up rows, net
--     of corrections) + the day's pending requests = its raw rows;
--   tier 'summary_quarters', grain quarter (UTC quarter hours), per mode,
--     environment and model: every sum and every latency-histogram bucket,
--     on summarized days (rollup_days.quarter_rows set); any tier-1 row of
--     a day not summarized is a difference too;
--   tier 'summaries', grains hour and day, per dimension and key: the
--     same on detailed days (rollup_days.detail_rows set), and any tier-2
--     row of a day not detailed is a difference.
-- One statement, so one snapshot: a pass committing meanwhile moves rows
-- from pending to stored, never into both or neither.  Reads every raw row
-- of the range once (materialized), so it costs about a scan and a sort
-- of the range: verify a big workspace a few days at a time.
CREATE FUNCTION opsmeter._verify(ws_list bigint[], range_start timestamptz, range_end timestamptz)
RETURNS TABLE (workspace_id bigint, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET jit = off AS $$
    WITH state AS (
        SELECT coalesce(max(s.watermark), 0) AS watermark, coalesce(max(s.holes), '{}') AS holes
          FROM opsmeter.rollup_state s
    ), bounds AS (
        -- what can be checked: after the raw retention and the oldest
        -- partition of raw rows, before tomorrow
        SELECT w.workspace_id,
               greatest(range_start, (opsmeter.retained_from(w.workspace_id)).raw_from,
                        (SELECT coalesce(min(p.day)::timestamp AT TIME ZONE 'UTC', 'infinity')
                           FROM opsmeter.event_partitions() p)) AS lo,
               least(range_end, now() + interval '1 day') AS hi
          FROM unnest(ws_list) w(workspace_id)
    ), days AS (
        -- lo: a day whose raw rows the workspace's own retention trimmed is
        -- checked only after the trim
        SELECT b.workspace_id, greatest(b.lo, r.raw_deleted_before) AS lo, b.hi, d.day::date AS day,
               d.day AT TIME ZONE 'UTC' AS day_start, (d.day + interval '1 day') AT TIME ZONE 'UTC' AS day_end,
               r.requests AS rolled_up, coalesce(r.quarter_rows IS NOT NULL, false) AS summarized,
               coalesce(r.detail_rows IS NOT NULL, false) AS detailed
          FROM bounds b
         CROSS JOIN LATERAL generate_series((b.lo AT TIME ZONE 'UTC')::date::timestamp,
                                            (b.hi AT TIME ZONE 'UTC')::date::timestamp, interval '1 day') d(day)
          LEFT JOIN opsmeter.rollup_days r ON r.workspace_id = b.workspace_id AND r.day = d.day::date
         WHERE b.lo < b.hi
    ), contributions AS MATERIALIZED (
        -- the raw rows of the range (is_raw), and the pending corrections;
        -- pending: counted by the views on top of the stored summaries
        SELECT true AS is_raw, (e.ingest_batch > st.watermark OR e.ingest_batch = ANY (st.holes)) AS pending,
               d.summarized, d.detailed, e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
               e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version,
               1 AS requests, e.is_error::integer AS errors, e.input_tokens, e.output_tokens, e.total_tokens,
               e.cached_input_tokens, e.reasoning_tokens, coalesce(e.cost_usd, 0) AS cost_usd,
               (e.cost_usd IS NULL)::integer AS unpriced_requests,
               CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END AS unpriced_tokens,
               (e.latency_ms IS NOT NULL)::integer AS latency_count, coalesce(e.latency_ms, 0)::bigint AS latency_sum_ms,
               opsmeter.latency_bucket(e.latency_ms) AS latency_bucket
          FROM days d CROSS JOIN state st
          JOIN opsmeter.events e ON e.workspace_id = d.workspace_id
                                AND e.ts >= greatest(d.day_start, d.lo) AND e.ts < least(d.day_end, d.hi)
        UNION ALL
        SELECT false, true, d.summarized, d.detailed, a.workspace_id, a.ts, a.data_mode, a.environment,
               a.provider, a.model, a.user_id, a.tenant_id, a.endpoint_tag, a.prompt_version,
               a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens, a.cached_input_tokens,
               a.reasoning_tokens, a.cost_usd, a.unpriced_requests, a.unpriced_tokens, a.latency_count,
               a.latency_sum_ms, a.latency_bucket
          FROM days d CROSS JOIN state st
          JOIN opsmeter.summary_adjustments a ON a.workspace_id = d.workspace_id
                                             AND a.ts >= greatest(d.day_start, d.lo) AND a.ts < least(d.day_end, d.hi)
         WHERE a.ingest_batch > st.watermark OR a.ingest_batch = ANY (st.holes)
    ), sides AS (
        -- +1: what the rollup claims; -1: what the raw rows say
        SELECT 1 AS sign, r.* FROM contributions r WHERE r.pending
        UNION ALL
        SELECT -1, r.* FROM contributions r WHERE r.is_raw
    ), grouped AS (
        -- tier 1, from the rows of summarized days
        SELECT 'summary_quarters' AS tier, 'model' AS dimension, 'quarter' AS grain, s.sign, s.workspace_id,
               date_bin('15 minutes', s.ts, timestamptz '2000-01-01 00:00:00+00') AS period_start,
               s.data_mode, s.environment, s.provider, s.model, NULL::text AS key,
               sum(s.requests)::numeric AS requests, sum(s.errors)::numeric AS errors,
               sum(s.input_tokens)::numeric AS input_tokens, sum(s.output_tokens)::numeric AS output_tokens,
               sum(s.total_tokens)::numeric AS total_tokens, sum(s.cached_input_tokens)::numeric AS cached_input_tokens,
               sum(s.reasoning_tokens)::numeric AS reasoning_tokens, sum(s.cost_usd) AS cost_usd,
               sum(s.unpriced_requests)::numeric AS unpriced_requests, sum(s.unpriced_tokens)::numeric AS unpriced_tokens,
               sum(s.latency_count)::numeric AS latency_count, sum(s.latency_sum_ms)::numeric AS latency_sum_ms,
               opsmeter.latency_histogram_of(s.latency_bucket, s.latency_count) AS latency_counts
          FROM sides s
         WHERE s.summarized
         GROUP BY s.sign, s.workspace_id, 6, s.data_mode, s.environment, s.provider, s.model
        UNION ALL
        SELECT 'summary_quarters', 'model', 'quarter', 1, q.workspace_id, q.period_start, q.data_mode, q.environment,
               q.provider, q.model, NULL, q.requests, q.errors, q.input_tokens, q.output_tokens, q.total_tokens,
               q.cached_input_tokens, q.reasoning_tokens, q.cost_usd, q.unpriced_requests, q.unpriced_tokens,
               q.latency_count, q.latency_sum_ms, q.latency_counts
          FROM bounds b
          JOIN opsmeter.summary_quarters q ON q.workspace_id = b.workspace_id
                                          AND q.period_start >= b.lo AND q.period_start < b.hi
        UNION ALL
        -- tier 2, from the rows of detailed days: hourly rows, grouped as
        -- opsmeter._fold_detail() groups them, and daily rows
        SELECT 'summaries', dim.dimension, g.grain, s.sign, s.workspace_id,
               CASE g.grain WHEN 'hour' THEN date_trunc('hour', s.ts, 'UTC') ELSE date_trunc('day', s.ts, 'UTC') END,
               s.data_mode, s.environment,
               CASE WHEN dim.dimension = 'model' THEN s.provider END, CASE WHEN dim.dimension = 'model' THEN s.model END,
               CASE dim.dimension WHEN 'user' THEN s.user_id WHEN 'tenant' THEN s.tenant_id
                                  WHEN 'endpoint' THEN s.endpoint_tag WHEN 'prompt_version' THEN s.prompt_version END,
               sum(s.requests), sum(s.errors), sum(s.input_tokens), sum(s.output_tokens), sum(s.total_tokens),
               sum(s.cached_input_tokens), sum(s.reasoning_tokens), sum(s.cost_usd), sum(s.unpriced_requests),
               sum(s.unpriced_tokens), sum(s.latency_count), sum(s.latency_sum_ms),
               CASE WHEN dim.dimension = 'overview' THEN opsmeter.latency_histogram_of(s.latency_bucket, s.latency_count) END
          FROM sides s
         CROSS JOIN (VALUES ('overview'), ('model'), ('user'), ('tenant'), ('endpoint'), ('prompt_version')) dim(dimension)
         CROSS JOIN (VALUES ('hour'), ('day')) g(grain)
         WHERE s.detailed
         GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
        UNION ALL
        SELECT 'summaries', t.dimension::text, t.grain::text, 1, t.workspace_id, t.period_start, t.data_mode, t.environment,
               t.provider, t.model, t.key, t.requests, t.errors, t.input_tokens, t.output_tokens, t.total_tokens,
               t.cached_input_tokens, t.reasoning_tokens, t.cost_usd, t.unpriced_requests, t.unpriced_tokens,
               t.latency_count, t.latency_sum_ms, t.latency_counts
          FROM bounds b
          JOIN opsmeter.summaries t ON t.workspace_id = b.workspace_id
                                   AND t.period_start >= b.lo AND t.period_start < b.hi
    ), numbers AS (
        -- one row per number, for the periods wholly inside the bounds
        SELECT g.tier, g.dimension, g.grain, g.sign, g.workspace_id, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key, m.measure, m.value
          FROM grouped g
          JOIN days b ON b.workspace_id = g.workspace_id AND b.day = (g.period_start AT TIME ZONE 'UTC')::date
         CROSS JOIN LATERAL (
                SELECT v.measure, v.value
                  FROM (VALUES ('requests', g.requests), ('errors', g.errors), ('input_tokens', g.input_tokens),
                               ('output_tokens', g.output_tokens), ('total_tokens', g.total_tokens),
                               ('cached_input_tokens', g.cached_input_tokens), ('reasoning_tokens', g.reasoning_tokens),
                               ('cost_usd', g.cost_usd), ('unpriced_requests', g.unpriced_requests),
                               ('unpriced_tokens', g.unpriced_tokens), ('latency_count', g.latency_count),
                               ('latency_sum_ms', g.latency_sum_ms)) v(measure, value)
                UNION ALL
                SELECT 'latency_counts[' || i || ']', g.latency_counts[i]::numeric
                  FROM generate_subscripts(g.latency_counts, 1) i) m
         WHERE g.period_start >= b.lo
           AND g.period_start + CASE g.grain WHEN 'quarter' THEN interval '15 minutes' WHEN 'hour' THEN interval '1 hour'
                                             ELSE interval '1 day' END <= b.hi
        UNION ALL
        -- the rolled-up rows of each day
        SELECT 'rollup_days', NULL, 'day', 1, d.workspace_id, d.day_start, NULL, NULL, NULL, NULL, NULL,
               'requests', coalesce(d.rolled_up, 0)::numeric
          FROM days d
         WHERE d.day_start >= d.lo AND d.day_end <= d.hi
        UNION ALL
        SELECT 'rollup_days', NULL, 'day', s.sign, s.workspace_id, d.day_start, NULL, NULL, NULL, NULL, NULL,
               'requests', s.requests::numeric
          FROM sides s
          JOIN days d ON d.workspace_id = s.workspace_id AND s.ts >= d.day_start AND s.ts < d.day_end
         WHERE d.day_start >= d.lo AND d.day_end <= d.hi
    )
    SELECT n.workspace_id, n.tier, n.dimension, n.grain, n.period_start, n.data_mode, n.environment,
           n.provider, n.model, n.key, n.measure,
           coalesce(sum(n.value) FILTER (WHERE n.sign = 1), 0), coalesce(sum(n.value) FILTER (WHERE n.sign = -1), 0)
      FROM numbers n
     GROUP BY n.workspace_id, n.tier, n.dimension, n.grain, n.period_start, n.data_mode, n.environment,
              n.provider, n.model, n.key, n.measure
    HAVING coalesce(sum(n.value) FILTER (WHERE n.sign = 1), 0) <> coalesce(sum(n.value) FILTER (WHERE n.sign = -1), 0)
     ORDER BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
$$;

-- Who may verify what: superusers and members of opsmeter_admin every
-- workspace (workspace NULL) or the one named; anyone else a workspace
-- they own or administer (the named one, else the active one).
CREATE FUNCTION opsmeter._opsmeter_verify_impl(caller regrole, range_start timestamptz, range_end timestamptz,
                                               workspace text)
RETURNS TABLE (workspace_name text, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws_list bigint[];
    r record;
BEGIN
    IF range_start IS NULL OR range_end IS NULL OR NOT range_start < range_end THEN
        RAISE EXCEPTION 'invalid range: range_start must be earlier than range_end, and neither NULL'
            USING ERRCODE = '22023',
                  HINT = 'Give range_start < range_end, e.g. opsmeter_verify(now() - interval ''7 days'', now()).';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles x WHERE x.oid = caller AND x.rolsuper)
       OR pg_has_role(caller, 'opsmeter_admin', 'MEMBER') THEN
        SELECT array_agg(w.workspace_id) INTO ws_list FROM opsmeter.workspaces w
         WHERE _opsmeter_verify_impl.workspace IS NULL OR w.name = _opsmeter_verify_impl.workspace;
        IF ws_list IS NULL AND _opsmeter_verify_impl.workspace IS NOT NULL THEN
            RAISE EXCEPTION 'workspace "%" does not exist', _opsmeter_verify_impl.workspace USING ERRCODE = '42704';
        END IF;
    ELSE
        SELECT x.workspace_id, x.role INTO r FROM opsmeter._resolve_workspace(caller, _opsmeter_verify_impl.workspace) x;
        IF r.role NOT IN ('owner', 'admin') THEN
            RAISE EXCEPTION 'permission denied to verify workspace "%"',
                            (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = r.workspace_id)
                USING ERRCODE = '42501',
                      DETAIL = format('Role %s has role %s in this workspace.', caller, r.role),
                      HINT = 'Owners and admins of a workspace verify it; members of opsmeter_admin verify any.';
        END IF;
        ws_list := ARRAY[r.workspace_id];
    END IF;
    RETURN QUERY
        SELECT w.name, v.tier, v.dimension, v.grain, v.period_start, v.data_mode, v.environment,
               v.provider, v.model, v.key, v.measure, v.summarized, v.raw
          FROM opsmeter._verify(coalesce(ws_list, '{}'), range_start, range_end) v
          JOIN opsmeter.workspaces w ON w.workspace_id = v.workspace_id;
END
$$;

CREATE FUNCTION @extschema@.opsmeter_verify(range_start timestamptz, range_end timestamptz, workspace text DEFAULT NULL)
RETURNS TABLE (workspace_name text, tier text, dimension text, grain text, period_start timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, measure text, summarized numeric, raw numeric)
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C STABLE;
COMMENT ON FUNCTION @extschema@.opsmeter_verify(timestamptz, timestamptz, text) IS
    'every difference between the summaries (with pending rows) and the raw rows in a range; no row means exact (owners and admins of a workspace; opsmeter_admin for all)';

REVOKE ALL ON FUNCTION opsmeter._lifecycle_workspace(regrole, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_rename_workspace_impl(regrole, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_drop_workspace_impl(regrole, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._lock_workspace_for_drop(bigint) FROM PUBLIC;
GRANT SELECT ON opsmeter.workspace_audit TO opsmeter_admin;
REVOKE ALL ON FUNCTION opsmeter._verify(bigint[], timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_verify_impl(regrole, timestamptz, timestamptz, text) FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_audit', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_audit_audit_id_seq', '');

------------------------------------------------------------------------------
-- OpenTelemetry GenAI spans (issue #17)
------------------------------------------------------------------------------
CREATE FUNCTION @extschema@.opsmeter_ingest_otlp(body jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest_otlp' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest_otlp(jsonb) IS
    'ingest an OTLP/JSON trace export: every GenAI span as one event (all-or-nothing), other spans skipped';

------------------------------------------------------------------------------
-- Reused workspace resolutions (issue #15: repeated work per call)
------------------------------------------------------------------------------
-- Each backend reuses its last resolution of a workspace and the caller's
-- role in it (src/tenancy.c) until one of these tables changes: every change
-- tells every backend to resolve again.
CREATE FUNCTION opsmeter._tenancy_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_tenancy_changed' LANGUAGE C;
CREATE TRIGGER workspaces_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.workspaces
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._tenancy_changed();
CREATE TRIGGER workspace_members_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.workspace_members
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._tenancy_changed();
REVOKE ALL ON FUNCTION opsmeter._tenancy_changed() FROM PUBLIC;
