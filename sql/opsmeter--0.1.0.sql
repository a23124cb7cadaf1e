-- opsmeter 0.1.0 — storage and query core of LLM cost telemetry.
--
-- Layout: internal tables, types and helpers live in schema "opsmeter";
-- user-facing functions are named opsmeter_* and live in the schema the
-- extension is installed into (@extschema@, "public" by default).
--
-- Identity model (see src/README.md): the caller is current_user.  A
-- SECURITY DEFINER function cannot see its caller, so every function that
-- changes shared state is a C "trampoline" (opsmeter_call_as_owner): it
-- records GetUserId() as the caller, switches to the extension owner and
-- calls the owner-only implementation opsmeter._NAME_impl(caller, ...).
-- Reads go through row-level security keyed on opsmeter.my_workspaces().

\echo Use "CREATE EXTENSION opsmeter" to load this file. \quit

CREATE SCHEMA opsmeter;
COMMENT ON SCHEMA opsmeter IS 'opsmeter internal tables, views and types';
GRANT USAGE ON SCHEMA opsmeter TO PUBLIC;

-- The NOLOGIN role whose members may create workspaces.  Roles are
-- cluster-wide, so another database may have created it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'opsmeter_admin') THEN
        CREATE ROLE opsmeter_admin NOLOGIN;
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Types
------------------------------------------------------------------------------
CREATE TYPE opsmeter.data_mode AS ENUM ('real', 'test', 'demo');
CREATE TYPE opsmeter.environment AS ENUM ('prod', 'staging', 'dev');
CREATE TYPE opsmeter.workspace_role AS ENUM ('owner', 'admin', 'member', 'viewer');
CREATE TYPE opsmeter.pricing_source AS ENUM ('catalog', 'caller', 'unpriced');

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
    summary_retention interval       -- NULL: GUC opsmeter.summary_retention
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
REVOKE ALL ON FUNCTION opsmeter._resolve_workspace(regrole, text) FROM PUBLIC;

ALTER TABLE opsmeter.workspaces ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspaces_read ON opsmeter.workspaces FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
ALTER TABLE opsmeter.workspace_members ENABLE ROW LEVEL SECURITY;
CREATE POLICY workspace_members_read ON opsmeter.workspace_members FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.workspaces, opsmeter.workspace_members TO PUBLIC;

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
        RAISE EXCEPTION 'permission denied to manage workspace "%"', workspace
            USING ERRCODE = '42501',
                  DETAIL = format('Role %s has role %s in this workspace.', caller, caller_role),
                  HINT = 'Only owners and admins of a workspace manage its members, budgets, prices and retention.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._managed_workspace(regrole, text) FROM PUBLIC;

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
REVOKE ALL ON FUNCTION opsmeter._check_not_last_owner(bigint, regrole, text) FROM PUBLIC;

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

REVOKE ALL ON FUNCTION opsmeter._opsmeter_create_workspace_impl(regrole, text, regrole) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_add_member_impl(regrole, text, regrole, opsmeter.workspace_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_member_role_impl(regrole, text, regrole, opsmeter.workspace_role) FROM PUBLIC;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_remove_member_impl(regrole, text, regrole) FROM PUBLIC;

-- User-facing: trampolines into the *_impl functions above.
CREATE FUNCTION @extschema@.opsmeter_create_workspace(name text, owner regrole DEFAULT current_user::regrole)
RETURNS bigint AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_create_workspace(text, regrole) IS
    'create a workspace owned by owner (superusers and opsmeter_admin members)';

CREATE FUNCTION @extschema@.opsmeter_add_member(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@.opsmeter_set_member_role(workspace text, member regrole, role opsmeter.workspace_role)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
CREATE FUNCTION @extschema@.opsmeter_remove_member(workspace text, member regrole)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;

------------------------------------------------------------------------------
-- Price catalog
------------------------------------------------------------------------------
CREATE TABLE opsmeter.prices (
    provider                  text NOT NULL CHECK (provider OPERATOR(pg_catalog.=) pg_catalog.lower(provider)),
    model                     text NOT NULL CHECK (model OPERATOR(pg_catalog.=) pg_catalog.lower(model)),
    effective_from            timestamptz NOT NULL,
    input_usd_per_mtok        numeric NOT NULL CHECK (input_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    output_usd_per_mtok       numeric NOT NULL CHECK (output_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    cached_input_usd_per_mtok numeric CHECK (cached_input_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    source                    text NOT NULL,
    loaded_at                 timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (provider, model, effective_from)
);
COMMENT ON TABLE opsmeter.prices IS
    'effective-dated list prices, USD per 1M tokens; provider and model stored lower-case';
GRANT SELECT ON opsmeter.prices TO PUBLIC;

-- Every backend caches the catalog; this trigger tells them it changed.
CREATE FUNCTION opsmeter._prices_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_prices_changed' LANGUAGE C;
CREATE TRIGGER prices_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.prices
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._prices_changed();

CREATE FUNCTION @extschema@.opsmeter_load_prices(path text, effective_from timestamptz DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'opsmeter_load_prices' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) TO pg_read_server_files;
COMMENT ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) IS
    'load a price file (opsmeter or LiteLLM format) from the server; superusers and pg_read_server_files';

CREATE FUNCTION opsmeter._load_default_prices() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_load_default_prices' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION opsmeter._load_default_prices() FROM PUBLIC;

------------------------------------------------------------------------------
-- Raw events: daily range partitions on ts (UTC), keys lead with workspace
------------------------------------------------------------------------------
CREATE SEQUENCE opsmeter.ingest_batch_seq;
COMMENT ON SEQUENCE opsmeter.ingest_batch_seq IS 'one value per ingest call; rollup watermark';

CREATE TABLE opsmeter.events (
    workspace_id        bigint NOT NULL,
    ts                  timestamptz NOT NULL,
    ingest_batch        bigint NOT NULL,
    input_tokens        bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    latency_ms          integer,
    is_error            boolean NOT NULL,
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    pricing             opsmeter.pricing_source NOT NULL,
    ingested_by         regrole NOT NULL,
    ingested_at         timestamptz NOT NULL,
    external_request_id text NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    cost_usd            numeric,
    error_code          text,
    prompt_version      text,
    endpoint_tag        text,
    user_id             text,
    tenant_id           text,
    metadata            jsonb
) PARTITION BY RANGE (ts);
-- Indexes are created per partition by opsmeter.ensure_partitions(), not
-- on this parent: a parent index would be re-created on every partition
-- that pg_restore attaches, colliding with the partition's own dumped index.
COMMENT ON TABLE opsmeter.events IS
    'raw request rows, one partition per UTC day (opsmeter.events_pYYYYMMDD)';

ALTER TABLE opsmeter.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read ON opsmeter.events FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.events TO PUBLIC;

-- Dedup: one row per (workspace, externalRequestId) for as long as the raw
-- row lives.  PostgreSQL has no index across partitions, so the key lives
-- here; event_day names the partition holding the row (retention).
CREATE TABLE opsmeter.request_keys (
    workspace_id        bigint NOT NULL,
    external_request_id text NOT NULL,
    event_day           date NOT NULL,
    PRIMARY KEY (workspace_id, external_request_id)
);
CREATE INDEX request_keys_event_day_brin ON opsmeter.request_keys USING brin (event_day);
ALTER TABLE opsmeter.request_keys ENABLE ROW LEVEL SECURITY;
CREATE POLICY request_keys_read ON opsmeter.request_keys FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.request_keys TO PUBLIC;

CREATE FUNCTION opsmeter.partition_name(day date) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'events_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(day, 'YYYYMMDD');

-- Creates the missing daily partitions in [first_day, last_day]; returns how
-- many it created.  A new day is built as a table of its own and then
-- attached: ATTACH PARTITION takes only SHARE UPDATE EXCLUSIVE on
-- opsmeter.events, so neither readers nor other ingests wait for the
-- transaction that creates a day (CREATE TABLE ... PARTITION OF would take
-- ACCESS EXCLUSIVE until it commits).
CREATE FUNCTION opsmeter.ensure_partitions(first_day date, last_day date) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    d date := first_day;
    created integer := 0;
    part text;
BEGIN
    IF first_day IS NULL OR last_day IS NULL OR last_day - first_day > 3660 THEN
        RAISE EXCEPTION 'invalid partition range % .. %', first_day, last_day
            USING ERRCODE = '22023', HINT = 'Give two dates at most ten years apart.';
    END IF;
    WHILE d <= last_day LOOP
        part := opsmeter.partition_name(d);
        IF to_regclass('opsmeter.' || quote_ident(part)) IS NULL THEN
            -- A concurrent creator of the same day wins; we then have nothing to do.
            BEGIN
                EXECUTE format('CREATE TABLE opsmeter.%I (LIKE opsmeter.events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
                -- Keys lead with the workspace; rows arrive in batch order, so a
                -- BRIN finds the rows above the rollup watermark (the raw tail)
                -- for almost no write cost.
                EXECUTE format('CREATE INDEX %I ON opsmeter.%I (workspace_id, ts)', part || '_workspace_ts_idx', part);
                EXECUTE format('CREATE INDEX %I ON opsmeter.%I USING brin (ingest_batch) WITH (pages_per_range = 16)',
                               part || '_ingest_batch_brin', part);
                EXECUTE format('ALTER TABLE opsmeter.events ATTACH PARTITION opsmeter.%I FOR VALUES FROM (%L) TO (%L)',
                               part, d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
                -- Rows are read through the parent only: deny direct reads even
                -- to roles that default privileges would grant them to.
                EXECUTE format('ALTER TABLE opsmeter.%I ENABLE ROW LEVEL SECURITY', part);
                EXECUTE format('REVOKE ALL ON opsmeter.%I FROM PUBLIC', part);
                created := created + 1;
            EXCEPTION WHEN duplicate_table OR unique_violation THEN
                NULL;
            END;
        END IF;
        d := d + 1;
    END LOOP;
    RETURN created;
END
$$;
REVOKE ALL ON FUNCTION opsmeter.ensure_partitions(date, date) FROM PUBLIC;

------------------------------------------------------------------------------
-- Summaries: hourly rollups of the raw rows (see src/README.md, "rollup")
------------------------------------------------------------------------------
-- One table, one row per (workspace, UTC hour, dimension value, data mode,
-- environment).  "overview" and "model" rows are the coarse tier kept for
-- the summary retention; the detail dimensions live as long as raw rows.
CREATE TYPE opsmeter.summary_dimension AS ENUM
    ('overview', 'model', 'user', 'tenant', 'endpoint', 'prompt_version');

CREATE TABLE opsmeter.summaries (
    workspace_id        bigint NOT NULL,
    hour                timestamptz NOT NULL,
    dimension           opsmeter.summary_dimension NOT NULL,
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text,        -- dimension "model"
    model               text,        -- dimension "model"
    key                 text,        -- user, tenant, endpoint or prompt version; NULL = unknown
    requests            bigint NOT NULL,
    errors              bigint NOT NULL,
    -- token sums are numeric: 10^15 tokens per event cannot overflow them
    input_tokens        numeric NOT NULL,
    output_tokens       numeric NOT NULL,
    total_tokens        numeric NOT NULL,
    cached_input_tokens numeric NOT NULL,
    reasoning_tokens    numeric NOT NULL,
    cost_usd            numeric NOT NULL,    -- sum over priced requests
    unpriced_requests   bigint NOT NULL,
    unpriced_tokens     numeric NOT NULL,
    latency_count       bigint NOT NULL,
    latency_sum_ms      bigint NOT NULL
);
CREATE UNIQUE INDEX summaries_grain_idx ON opsmeter.summaries
    (workspace_id, dimension, hour, data_mode, environment, provider, model, key) NULLS NOT DISTINCT;
COMMENT ON TABLE opsmeter.summaries IS
    'hourly rollups of opsmeter.events; together with the rows above the watermark they equal the raw data';
ALTER TABLE opsmeter.summaries ENABLE ROW LEVEL SECURITY;
CREATE POLICY summaries_read ON opsmeter.summaries FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summaries TO PUBLIC;

-- Every raw row with ingest_batch <= watermark is counted in summaries,
-- every other raw row is not.  Advanced only in the transaction that adds
-- the rows it covers.
-- The row is created by the first pass (not by this script), so that
-- pg_dump can carry it into a restored database without a collision.
CREATE TABLE opsmeter.rollup_state (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    watermark    bigint NOT NULL DEFAULT 0,
    rolled_up_at timestamptz
);
GRANT SELECT ON opsmeter.rollup_state TO PUBLIC;

CREATE FUNCTION opsmeter.rollup_watermark() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(max(s.watermark), 0) FROM opsmeter.rollup_state s);
COMMENT ON FUNCTION opsmeter.rollup_watermark() IS
    'raw rows with ingest_batch above this are not in opsmeter.summaries yet';

-- Waits until every transaction that has drawn an ingest batch number so
-- far has ended (the rollup barrier; C, see src/rollup.c).
CREATE FUNCTION opsmeter._wait_for_ingest_barrier() RETURNS void
    AS 'MODULE_PATHNAME', 'opsmeter_wait_for_ingest_barrier' LANGUAGE C VOLATILE;
REVOKE ALL ON FUNCTION opsmeter._wait_for_ingest_barrier() FROM PUBLIC;

-- Rolls every raw row above the watermark into summaries; returns how many.
-- lock_timeout bounds the wait for in-flight ingests: a transaction left
-- idle after ingesting makes the pass fail (recorded) instead of hanging.
-- enable_seqscan is off because a fresh day's partition has no statistics
-- yet and the planner would read all of it each pass; the BRIN on
-- ingest_batch reads only the pages above the watermark.  work_mem lets
-- the six grouping sets sort in memory.
CREATE FUNCTION opsmeter._rollup(OUT rows_rolled_up bigint, OUT watermark bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '1min' SET enable_seqscan = off
    SET work_mem = '64MB' AS $$
DECLARE
    w_prev bigint;
    w_new  bigint;
BEGIN
    -- Serializes passes: a second pass waits here, then sees the new watermark.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark INTO w_prev FROM opsmeter.rollup_state s FOR UPDATE;
    SELECT CASE WHEN is_called THEN last_value ELSE 0 END INTO w_new FROM opsmeter.ingest_batch_seq;
    watermark := w_prev;
    rows_rolled_up := 0;
    IF w_new <= w_prev THEN
        RETURN;
    END IF;
    -- Every batch number <= w_new was drawn by a transaction holding a lock on
    -- the sequence; once those have ended, no row <= w_new can still appear.
    PERFORM opsmeter._wait_for_ingest_barrier();

    -- Summarize the BRIN ranges filled since the last pass, so that the scan
    -- below skips every range already rolled up and reads only new pages
    -- (unsummarized ranges always match; without this, each pass would read
    -- the whole current day again until a VACUUM).
    PERFORM pg_catalog.brin_summarize_new_values(i.indexrelid)
       FROM pg_catalog.pg_inherits p
       JOIN pg_catalog.pg_index i ON i.indrelid = p.inhrelid
       JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      WHERE p.inhparent = 'opsmeter.events'::regclass AND c.relam = (SELECT a.oid FROM pg_catalog.pg_am a WHERE a.amname = 'brin');

    -- Only the columns summaries need (not metadata): the set is
    -- materialized and sorted once per grouping set.
    WITH fresh AS MATERIALIZED (
        SELECT e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
               e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version, e.is_error,
               e.input_tokens, e.output_tokens, e.total_tokens, e.cached_input_tokens,
               e.reasoning_tokens, e.cost_usd, e.latency_ms
          FROM opsmeter.events e
         WHERE e.ingest_batch > w_prev AND e.ingest_batch <= w_new
    ), grouped AS (
        SELECT f.workspace_id,
               date_trunc('hour', f.ts, 'UTC') AS hour,
               CASE WHEN GROUPING(f.provider, f.model) = 0 THEN 'model'
                    WHEN GROUPING(f.user_id) = 0 THEN 'user'
                    WHEN GROUPING(f.tenant_id) = 0 THEN 'tenant'
                    WHEN GROUPING(f.endpoint_tag) = 0 THEN 'endpoint'
                    WHEN GROUPING(f.prompt_version) = 0 THEN 'prompt_version'
                    ELSE 'overview' END::opsmeter.summary_dimension AS dimension,
               f.data_mode, f.environment, f.provider, f.model,
               CASE WHEN GROUPING(f.user_id) = 0 THEN f.user_id
                    WHEN GROUPING(f.tenant_id) = 0 THEN f.tenant_id
                    WHEN GROUPING(f.endpoint_tag) = 0 THEN f.endpoint_tag
                    WHEN GROUPING(f.prompt_version) = 0 THEN f.prompt_version END AS key,
               count(*) AS requests,
               count(*) FILTER (WHERE f.is_error) AS errors,
               sum(f.input_tokens) AS input_tokens,
               sum(f.output_tokens) AS output_tokens,
               sum(f.total_tokens) AS total_tokens,
               sum(f.cached_input_tokens) AS cached_input_tokens,
               sum(f.reasoning_tokens) AS reasoning_tokens,
               coalesce(sum(f.cost_usd), 0) AS cost_usd,
               count(*) FILTER (WHERE f.cost_usd IS NULL) AS unpriced_requests,
               coalesce(sum(f.total_tokens) FILTER (WHERE f.cost_usd IS NULL), 0) AS unpriced_tokens,
               count(f.latency_ms) AS latency_count,
               coalesce(sum(f.latency_ms), 0) AS latency_sum_ms
          FROM fresh f
         GROUP BY f.workspace_id, date_trunc('hour', f.ts, 'UTC'), f.data_mode, f.environment,
                  GROUPING SETS ((), (f.provider, f.model), (f.user_id), (f.tenant_id),
                                 (f.endpoint_tag), (f.prompt_version))
    ), merged AS (
        INSERT INTO opsmeter.summaries AS s
        SELECT g.workspace_id, g.hour, g.dimension, g.data_mode, g.environment, g.provider, g.model, g.key,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests,
               g.unpriced_tokens, g.latency_count, g.latency_sum_ms
          FROM grouped g
        ON CONFLICT (workspace_id, dimension, hour, data_mode, environment, provider, model, key) DO UPDATE
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
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms
        RETURNING 1
    )
    SELECT count(*) INTO rows_rolled_up FROM fresh;

    UPDATE opsmeter.rollup_state SET watermark = w_new, rolled_up_at = now();
    watermark := w_new;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._rollup() FROM PUBLIC;

------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------
CREATE TABLE opsmeter.retention_runs (
    run_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz NOT NULL,
    triggered_by         text NOT NULL CHECK (triggered_by IN ('worker', 'manual')),
    run_by               regrole NOT NULL,
    ok                   boolean NOT NULL,
    rows_rolled_up       bigint,
    watermark            bigint,
    partitions_dropped   integer,
    partitions_created   integer,
    raw_rows_deleted     bigint,
    keys_purged          bigint,
    summary_rows_deleted bigint,
    duration_ms          numeric NOT NULL,
    error                text
);
COMMENT ON TABLE opsmeter.retention_runs IS 'one row per retention pass, by the worker or by hand';
GRANT SELECT ON opsmeter.retention_runs TO opsmeter_admin;

CREATE FUNCTION opsmeter.guc_raw_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_raw_retention' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.guc_summary_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_summary_retention' LANGUAGE C STABLE PARALLEL SAFE;

-- The raw and summary retention of each workspace (its own, else the GUCs).
CREATE FUNCTION opsmeter.effective_retention(OUT workspace_id bigint, OUT raw interval, OUT summary interval)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT w.workspace_id,
           coalesce(w.raw_retention, opsmeter.guc_raw_retention()),
           coalesce(w.summary_retention, opsmeter.guc_summary_retention())
      FROM opsmeter.workspaces w
$$;

-- Removes what is past retention.  Raw days past every workspace's raw
-- retention leave by DROP of their partition, and only when fully rolled
-- up; workspaces with a shorter retention lose their older (rolled-up)
-- rows by DELETE; summaries past retention are deleted.  Runs after
-- _rollup() in the same pass.
CREATE FUNCTION opsmeter._enforce_retention(OUT partitions_dropped integer, OUT partitions_created integer,
                                            OUT raw_rows_deleted bigint, OUT keys_purged bigint,
                                            OUT summary_rows_deleted bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    global_raw interval := opsmeter.guc_raw_retention();
    longest_raw interval;
    w bigint;
    part record;
    n bigint;
    busy boolean;
    today date := (now() AT TIME ZONE 'UTC')::date;
BEGIN
    partitions_dropped := 0;
    raw_rows_deleted := 0;
    keys_purged := 0;
    w := opsmeter.rollup_watermark();
    SELECT greatest(global_raw, max(r.raw)) INTO longest_raw FROM opsmeter.effective_retention() r;

    -- Whole days older than every workspace's raw retention.
    FOR part IN
        SELECT c.oid::regclass AS rel, to_date(substring(c.relname from '^events_p(\d{8})$'), 'YYYYMMDD') AS day
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'opsmeter.events'::regclass
           AND c.relname ~ '^events_p\d{8}$'
         ORDER BY 2
    LOOP
        EXIT WHEN (part.day + 1)::timestamp AT TIME ZONE 'UTC' > now() - longest_raw;
        BEGIN
            -- Lock first: an ingest still writing into this day must finish
            -- before we look, so its rows are either seen above the
            -- watermark (and the day kept) or rolled up already.
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', part.rel);
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE ingest_batch > $1)', part.rel) INTO STRICT busy USING w;
            IF busy THEN
                CONTINUE;           -- not rolled up yet: a later pass drops it
            END IF;
            EXECUTE format('DROP TABLE %s', part.rel);
            DELETE FROM opsmeter.request_keys k WHERE k.event_day = part.day;
            GET DIAGNOSTICS n = ROW_COUNT;
            keys_purged := keys_purged + n;
            partitions_dropped := partitions_dropped + 1;
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: partition % is busy; it will be dropped by a later pass', part.rel;
        END;
    END LOOP;

    -- Workspaces whose raw retention is shorter than the longest: their older
    -- rolled-up rows leave row by row, with their dedup keys.
    FOR part IN
        SELECT r.workspace_id, r.raw FROM opsmeter.effective_retention() r WHERE r.raw < longest_raw
    LOOP
        WITH gone AS (
            DELETE FROM opsmeter.events e
             WHERE e.workspace_id = part.workspace_id
               AND e.ts < now() - part.raw AND e.ingest_batch <= w
            RETURNING e.workspace_id, e.external_request_id
        ), keys AS (
            DELETE FROM opsmeter.request_keys k USING gone g
             WHERE k.workspace_id = g.workspace_id AND k.external_request_id = g.external_request_id
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone) INTO n;
        raw_rows_deleted := raw_rows_deleted + n;
    END LOOP;

    -- Summaries: the coarse tier for the summary retention, the detail
    -- dimensions for as long as the raw rows they describe.  An hour leaves
    -- only when all of it is past retention.
    DELETE FROM opsmeter.summaries s
     USING opsmeter.effective_retention() r
     WHERE s.workspace_id = r.workspace_id
       AND s.hour + interval '1 hour'
           <= now() - CASE WHEN s.dimension IN ('overview', 'model') THEN r.summary ELSE r.raw END;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := n;

    partitions_created := opsmeter.ensure_partitions(today, today + 7);
END
$$;
REVOKE ALL ON FUNCTION opsmeter._enforce_retention() FROM PUBLIC;

-- One retention pass (rollup, then retention), recorded in retention_runs.
CREATE FUNCTION @extschema@.opsmeter_run_retention() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_run_retention' LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION @extschema@.opsmeter_run_retention() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.opsmeter_run_retention() TO opsmeter_admin;
COMMENT ON FUNCTION @extschema@.opsmeter_run_retention() IS
    'run one rollup + retention pass now (superusers and opsmeter_admin); for pg_cron or by hand';

-- Per-workspace retention (owner/admin of the active workspace).
CREATE FUNCTION opsmeter._opsmeter_set_retention_impl(caller regrole, raw interval, summary interval)
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
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_retention_impl(regrole, interval, interval) FROM PUBLIC;
CREATE FUNCTION @extschema@.opsmeter_set_retention(raw interval, summary interval)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_retention(interval, interval) IS
    'set the active workspace''s raw and summary retention (owner/admin); NULL falls back to the GUCs';

------------------------------------------------------------------------------
-- Ingest (C, the hot path)
------------------------------------------------------------------------------
CREATE FUNCTION @extschema@.opsmeter_ingest(payload jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest(jsonb) IS
    'ingest one event object or an array of them (all-or-nothing) into the active workspace';

CREATE FUNCTION @extschema@.opsmeter_ingest_ndjson(body text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest_ndjson' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest_ndjson(text) IS
    'ingest newline-delimited JSON events (parsed with json-c), all-or-nothing';

------------------------------------------------------------------------------
-- Backups: what pg_dump must carry
------------------------------------------------------------------------------
-- Tables created by this script are extension members, whose rows pg_dump
-- skips unless registered here.  Daily partitions are never created by this
-- script (the first pass or ingest creates them), so they are ordinary
-- tables that pg_dump dumps with their rows.  Default prices come back with
-- CREATE EXTENSION; only prices loaded later are dumped.
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspaces', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspaces_workspace_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.workspace_members', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.prices', $$WHERE source <> 'opsmeter default catalog'$$);
SELECT pg_catalog.pg_extension_config_dump('opsmeter.request_keys', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.ingest_batch_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summaries', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.rollup_state', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs_run_id_seq', '');

------------------------------------------------------------------------------
-- Installation-time data
------------------------------------------------------------------------------
SELECT opsmeter._load_default_prices();
