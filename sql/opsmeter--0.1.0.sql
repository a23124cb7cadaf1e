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
        RAISE EXCEPTION 'permission denied to manage workspace "%"',
                        (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = _managed_workspace.workspace_id)
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
REVOKE ALL ON FUNCTION opsmeter._prices_changed() FROM PUBLIC;

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
REVOKE ALL ON FUNCTION opsmeter.ensure_partitions(date, date) FROM PUBLIC;

------------------------------------------------------------------------------
-- Summaries: hourly rollups of the raw rows (see src/README.md, "rollup")
------------------------------------------------------------------------------
-- One table, one row per (workspace, dimension, grain, period, dimension
-- value, data mode, environment).  Every dimension has hourly rows (UTC
-- hours: a reporting day in any whole-hour time zone is a sum of them);
-- the dimensions of the top lists also have daily rows (UTC days), which
-- answer the whole days of a long window with 24 times fewer rows.
-- "overview" and "model" rows are the coarse tier kept for the summary
-- retention; the detail dimensions live as long as raw rows.
CREATE TYPE opsmeter.summary_dimension AS ENUM
    ('overview', 'model', 'user', 'tenant', 'endpoint', 'prompt_version');
CREATE TYPE opsmeter.summary_grain AS ENUM ('hour', 'day');

CREATE TABLE opsmeter.summaries (
    workspace_id        bigint NOT NULL,
    dimension           opsmeter.summary_dimension NOT NULL,
    grain               opsmeter.summary_grain NOT NULL,
    period_start        timestamptz NOT NULL,    -- start of the UTC hour or day
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
-- data_mode and environment come before period_start: views filter them
-- with "= ANY (list)", which a btree seeks once per value, so each seek
-- reads only the window's rows of that mode and environment instead of
-- walking every mode and environment of the window.
CREATE UNIQUE INDEX summaries_grain_idx ON opsmeter.summaries
    (workspace_id, dimension, grain, data_mode, environment, period_start, provider, model, key) NULLS NOT DISTINCT;
COMMENT ON TABLE opsmeter.summaries IS
    'hourly and daily rollups of opsmeter.events; together with the pending rows above the watermark they equal the raw data';
ALTER TABLE opsmeter.summaries ENABLE ROW LEVEL SECURITY;
CREATE POLICY summaries_read ON opsmeter.summaries FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summaries TO PUBLIC;

-- Latency histograms per hour (the overview's p95): one bigint[] of
-- request counts per bucket of opsmeter.latency_bucket() (element i counts
-- bucket index i - 1).  Counts add up, so a p95 read from rolled-up hours
-- and from raw rows is the same number.
CREATE TABLE opsmeter.latency_histogram (
    workspace_id bigint NOT NULL,
    hour         timestamptz NOT NULL,
    data_mode    opsmeter.data_mode NOT NULL,
    environment  opsmeter.environment NOT NULL,
    counts       bigint[] NOT NULL,
    PRIMARY KEY (workspace_id, hour, data_mode, environment)
);
COMMENT ON TABLE opsmeter.latency_histogram IS 'hourly latency histograms (requests per bucket), for p95';
ALTER TABLE opsmeter.latency_histogram ENABLE ROW LEVEL SECURITY;
CREATE POLICY latency_histogram_read ON opsmeter.latency_histogram FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.latency_histogram TO PUBLIC;

CREATE FUNCTION opsmeter.latency_bucket(ms integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_latency_bucket' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.latency_bucket(integer) IS
    'upper bound (ms, inclusive) of the histogram bucket holding ms: exact below 128 ms, then at most 3.2% wide';
CREATE FUNCTION opsmeter._histogram_count(internal, integer, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_count' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter._histogram_merge(internal, bigint[]) RETURNS internal
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_merge' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter._histogram_final(internal) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
-- (Aggregates run their support functions with the aggregate owner's rights.)
REVOKE ALL ON FUNCTION opsmeter._histogram_count(internal, integer, bigint), opsmeter._histogram_merge(internal, bigint[]),
                       opsmeter._histogram_final(internal) FROM PUBLIC;
-- histogram of latencies (ms), each counted n times (n may be -1: a retraction)
CREATE AGGREGATE opsmeter.latency_histogram_of(latency_ms integer, n bigint) (
    SFUNC = opsmeter._histogram_count, STYPE = internal, FINALFUNC = opsmeter._histogram_final);
-- element-wise sum of histograms
CREATE AGGREGATE opsmeter.latency_histogram_sum(bigint[]) (
    SFUNC = opsmeter._histogram_merge, STYPE = internal, FINALFUNC = opsmeter._histogram_final);
CREATE FUNCTION opsmeter.latency_histogram_add(bigint[], bigint[]) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'opsmeter_histogram_add' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.latency_percentile(histogram bigint[], fraction double precision) RETURNS integer
    AS 'MODULE_PATHNAME', 'opsmeter_latency_percentile' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.latency_percentile(bigint[], double precision) IS
    'upper bound (ms) of the bucket holding the nearest-rank percentile of a latency histogram';

-- Corrections to rows that are already rolled up (opsmeter_reprice, the
-- cleanups): signed contributions (-1 for the old version of a row, +1 for
-- the new one), stamped with a batch number like raw rows.  The next pass
-- folds them into summaries and deletes them; until then the views add
-- them like raw rows above the watermark.
CREATE TABLE opsmeter.summary_adjustments (
    workspace_id        bigint NOT NULL,
    ingest_batch        bigint NOT NULL,
    ts                  timestamptz NOT NULL,
    data_mode           opsmeter.data_mode NOT NULL,
    environment         opsmeter.environment NOT NULL,
    provider            text NOT NULL,
    model               text NOT NULL,
    user_id             text,
    tenant_id           text,
    endpoint_tag        text,
    prompt_version      text,
    requests            integer NOT NULL,
    errors              integer NOT NULL,
    input_tokens        bigint NOT NULL,
    output_tokens       bigint NOT NULL,
    total_tokens        bigint NOT NULL,
    cached_input_tokens bigint NOT NULL,
    reasoning_tokens    bigint NOT NULL,
    cost_usd            numeric NOT NULL,
    unpriced_requests   integer NOT NULL,
    unpriced_tokens     bigint NOT NULL,
    latency_count       integer NOT NULL,
    latency_sum_ms      bigint NOT NULL,
    latency_bucket      integer
);
CREATE INDEX summary_adjustments_batch_idx ON opsmeter.summary_adjustments (ingest_batch);
COMMENT ON TABLE opsmeter.summary_adjustments IS
    'signed corrections to rolled-up rows, folded into summaries by the next pass';
ALTER TABLE opsmeter.summary_adjustments ENABLE ROW LEVEL SECURITY;
CREATE POLICY summary_adjustments_read ON opsmeter.summary_adjustments FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.summary_adjustments TO PUBLIC;

-- Everything with a batch number in (after_batch, upto_batch] that is not
-- in summaries yet, one signed contribution per row: the raw rows, and the
-- adjustments.  The rollup folds exactly this set; the views add it to the
-- summaries.  (Inlined into its callers, so their filters reach the scans.)
CREATE FUNCTION opsmeter.pending_contributions(after_batch bigint, upto_batch bigint)
RETURNS TABLE (is_adjustment boolean, workspace_id bigint, ts timestamptz,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, user_id text, tenant_id text, endpoint_tag text, prompt_version text,
               requests integer, errors integer, input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, cost_usd numeric,
               unpriced_requests integer, unpriced_tokens bigint,
               latency_count integer, latency_sum_ms bigint, latency_bucket integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT false, e.workspace_id, e.ts, e.data_mode, e.environment, e.provider, e.model,
           e.user_id, e.tenant_id, e.endpoint_tag, e.prompt_version,
           1, e.is_error::integer, e.input_tokens, e.output_tokens, e.total_tokens,
           e.cached_input_tokens, e.reasoning_tokens, coalesce(e.cost_usd, 0),
           (e.cost_usd IS NULL)::integer, CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END,
           (e.latency_ms IS NOT NULL)::integer, coalesce(e.latency_ms, 0), opsmeter.latency_bucket(e.latency_ms)
      FROM opsmeter.events e
     WHERE e.ingest_batch OPERATOR(pg_catalog.>) after_batch AND e.ingest_batch OPERATOR(pg_catalog.<=) upto_batch
    UNION ALL
    SELECT true, a.workspace_id, a.ts, a.data_mode, a.environment, a.provider, a.model,
           a.user_id, a.tenant_id, a.endpoint_tag, a.prompt_version,
           a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens,
           a.cached_input_tokens, a.reasoning_tokens, a.cost_usd,
           a.unpriced_requests, a.unpriced_tokens, a.latency_count, a.latency_sum_ms, a.latency_bucket
      FROM opsmeter.summary_adjustments a
     WHERE a.ingest_batch OPERATOR(pg_catalog.>) after_batch AND a.ingest_batch OPERATOR(pg_catalog.<=) upto_batch
$$;

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
-- ingest_batch reads only the pages above the watermark.  jit is off:
-- disabled seq scans price every small lookup at 1e10, which would make
-- each of them pay for JIT compilation.  work_mem lets the six grouping
-- sets sort in memory.
CREATE FUNCTION opsmeter._rollup(OUT rows_rolled_up bigint, OUT watermark bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '1min' SET enable_seqscan = off SET jit = off
    SET work_mem = '64MB' AS $$
DECLARE
    w_prev bigint;
    w_new  bigint;
    adjustments bigint;
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
    -- materialized once and sorted once per grouping set.  Daily rows are
    -- sums of the (far fewer) hourly rows just computed.
    WITH fresh AS MATERIALIZED (
        SELECT p.*, date_trunc('hour', p.ts, 'UTC') AS hour
          FROM opsmeter.pending_contributions(w_prev, w_new) p
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
    ), grouped AS (
        SELECT h.workspace_id, h.dimension, 'hour'::opsmeter.summary_grain AS grain, h.period_start,
               h.data_mode, h.environment, h.provider, h.model, h.key, h.requests, h.errors,
               h.input_tokens, h.output_tokens, h.total_tokens, h.cached_input_tokens, h.reasoning_tokens,
               h.cost_usd, h.unpriced_requests, h.unpriced_tokens, h.latency_count, h.latency_sum_ms
          FROM hourly h
        UNION ALL
        SELECT h.workspace_id, h.dimension, 'day', date_trunc('day', h.period_start, 'UTC'),
               h.data_mode, h.environment, h.provider, h.model, h.key, sum(h.requests), sum(h.errors),
               sum(h.input_tokens), sum(h.output_tokens), sum(h.total_tokens), sum(h.cached_input_tokens),
               sum(h.reasoning_tokens), sum(h.cost_usd), sum(h.unpriced_requests), sum(h.unpriced_tokens),
               sum(h.latency_count), sum(h.latency_sum_ms)
          FROM hourly h
         WHERE h.dimension <> 'overview'
         GROUP BY h.workspace_id, h.dimension, date_trunc('day', h.period_start, 'UTC'), h.data_mode, h.environment,
                  h.provider, h.model, h.key
    ), merged AS (
        INSERT INTO opsmeter.summaries AS s
        SELECT g.workspace_id, g.dimension, g.grain, g.period_start, g.data_mode, g.environment,
               g.provider, g.model, g.key,
               g.requests, g.errors, g.input_tokens, g.output_tokens, g.total_tokens,
               g.cached_input_tokens, g.reasoning_tokens, g.cost_usd, g.unpriced_requests,
               g.unpriced_tokens, g.latency_count, g.latency_sum_ms
          FROM grouped g
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
               latency_sum_ms = s.latency_sum_ms + excluded.latency_sum_ms
        RETURNING 1
    ), histogram AS (
        INSERT INTO opsmeter.latency_histogram AS h
        SELECT f.workspace_id, f.hour, f.data_mode, f.environment,
               opsmeter.latency_histogram_of(f.latency_bucket, f.latency_count)
          FROM fresh f
         WHERE f.latency_bucket IS NOT NULL
         GROUP BY f.workspace_id, f.hour, f.data_mode, f.environment
        ON CONFLICT (workspace_id, hour, data_mode, environment) DO UPDATE
           SET counts = opsmeter.latency_histogram_add(h.counts, excluded.counts)
        RETURNING 1
    )
    SELECT count(*) FILTER (WHERE NOT f.is_adjustment), count(*) FILTER (WHERE f.is_adjustment)
      INTO rows_rolled_up, adjustments
      FROM fresh f;

    IF adjustments > 0 THEN
        -- Folded corrections leave; groups they emptied leave too, so no
        -- view shows a trace of rows that were removed.
        DELETE FROM opsmeter.summary_adjustments a WHERE a.ingest_batch <= w_new;
        DELETE FROM opsmeter.summaries s WHERE s.requests = 0;
        DELETE FROM opsmeter.latency_histogram h WHERE h.counts = '{}';
    END IF;

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
       AND s.period_start + CASE s.grain WHEN 'hour' THEN interval '1 hour' ELSE interval '1 day' END
           <= now() - CASE WHEN s.dimension IN ('overview', 'model') THEN r.summary ELSE r.raw END;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := n;
    DELETE FROM opsmeter.latency_histogram h
     USING opsmeter.effective_retention() r
     WHERE h.workspace_id = r.workspace_id AND h.hour + interval '1 hour' <= now() - r.summary;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := summary_rows_deleted + n;

    -- Budgets look at the current UTC day and month only; keep two months.
    DELETE FROM opsmeter.spend_counters c
     WHERE c.day < (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date;

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
-- Budgets: a small counter, never a raw scan (see src/budget.c)
------------------------------------------------------------------------------
-- Spend of real rows per workspace and UTC day, in shards: ingest adds to
-- the shard of its backend's PGPROC slot, so concurrent ingests never
-- touch the same row; opsmeter_reprice adds to shard -1.  Written in the
-- transaction of the rows it counts.
CREATE TABLE opsmeter.spend_counters (
    workspace_id bigint NOT NULL,
    day          date NOT NULL,       -- UTC day of the events
    shard        smallint NOT NULL,
    spend_usd    numeric NOT NULL,
    PRIMARY KEY (workspace_id, day, shard)
);
COMMENT ON TABLE opsmeter.spend_counters IS
    'spend of real rows per workspace and UTC day (sum the shards); read by budget checks';
ALTER TABLE opsmeter.spend_counters ENABLE ROW LEVEL SECURITY;
CREATE POLICY spend_counters_read ON opsmeter.spend_counters FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[]));
GRANT SELECT ON opsmeter.spend_counters TO PUBLIC;

-- The budget windows of a workspace now: one row per budget that is set.
-- Windows are the current UTC day and UTC calendar month.  A budget warns
-- once spend reaches warning_ratio x limit and is exceeded once spend is
-- above the limit.
CREATE FUNCTION opsmeter.budget_state(ws bigint)
RETURNS TABLE (period text, limit_usd numeric, warning_ratio numeric, current_spend_usd numeric,
               utilization_ratio numeric, is_warning boolean, is_exceeded boolean,
               period_start timestamptz, period_end timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.period, p.limit_usd, p.ratio, s.spend,
           round(s.spend / p.limit_usd, 6),
           s.spend >= p.ratio * p.limit_usd,
           s.spend > p.limit_usd,
           p.period_start, p.period_end
      FROM opsmeter.workspaces w
     CROSS JOIN LATERAL (VALUES
            ('daily', w.daily_budget_usd, w.daily_warning_ratio,
             date_trunc('day', now(), 'UTC'), date_trunc('day', now(), 'UTC') + interval '1 day'),
            ('monthly', w.monthly_budget_usd, w.monthly_warning_ratio,
             date_trunc('month', now(), 'UTC'), date_trunc('month', now(), 'UTC') + interval '1 month'))
            AS p(period, limit_usd, ratio, period_start, period_end)
     CROSS JOIN LATERAL (
            SELECT coalesce(sum(c.spend_usd), 0) AS spend
              FROM opsmeter.spend_counters c
             WHERE c.workspace_id = w.workspace_id
               AND c.day >= (p.period_start AT TIME ZONE 'UTC')::date
               AND c.day < (p.period_end AT TIME ZONE 'UTC')::date) s
     WHERE w.workspace_id = ws AND p.limit_usd IS NOT NULL
     ORDER BY p.period
$$;

CREATE FUNCTION opsmeter._opsmeter_set_budget_impl(caller regrole, period text, limit_usd numeric,
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
        -- counters): hourly overview summaries plus what is not rolled up yet.
        DELETE FROM opsmeter.spend_counters c WHERE c.workspace_id = m.workspace_id;
        INSERT INTO opsmeter.spend_counters (workspace_id, day, shard, spend_usd)
        SELECT m.workspace_id, x.day, -1, sum(x.cost)    -- shard -1: no backend's
          FROM (SELECT (s.period_start AT TIME ZONE 'UTC')::date AS day, s.cost_usd AS cost
                  FROM opsmeter.summaries s
                 WHERE s.workspace_id = m.workspace_id AND s.dimension = 'overview' AND s.grain = 'hour'
                   AND s.data_mode = 'real' AND s.period_start >= seed_from
                UNION ALL
                SELECT (p.ts AT TIME ZONE 'UTC')::date, p.cost_usd
                  FROM opsmeter.pending_contributions(
                           coalesce((SELECT r.watermark FROM opsmeter.rollup_state r), 0), 9223372036854775807) p
                 WHERE p.workspace_id = m.workspace_id AND p.data_mode = 'real' AND p.ts >= seed_from) x
         GROUP BY x.day
        HAVING sum(x.cost) <> 0;
    ELSIF NOT has_budget THEN
        DELETE FROM opsmeter.spend_counters c WHERE c.workspace_id = m.workspace_id;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION opsmeter._opsmeter_set_budget_impl(regrole, text, numeric, numeric) FROM PUBLIC;
CREATE FUNCTION @extschema@.opsmeter_set_budget(period text, limit_usd numeric, warning_ratio numeric DEFAULT 0.8)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_budget(text, numeric, numeric) IS
    'set (or, with a NULL limit, remove) the active workspace''s daily or monthly USD budget (owner/admin)';

CREATE VIEW opsmeter.budget_signals WITH (security_invoker = true) AS
    SELECT b.period, b.limit_usd, b.warning_ratio, b.current_spend_usd, b.utilization_ratio,
           b.is_warning, b.is_exceeded, b.period_start, b.period_end
      FROM opsmeter.budget_state(opsmeter.active_workspace()) b;
COMMENT ON VIEW opsmeter.budget_signals IS 'the active workspace''s budgets: spend of real rows in the current UTC day / month';
GRANT SELECT ON opsmeter.budget_signals TO PUBLIC;

CREATE FUNCTION @extschema@.opsmeter_workspace_status() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH b AS (
        SELECT s.*, CASE WHEN s.is_exceeded THEN 'critical' WHEN s.is_warning THEN 'warning' ELSE 'normal' END AS severity
          FROM opsmeter.budget_state(opsmeter.active_workspace()) s
    )
    SELECT jsonb_build_object(
        'workspace', (SELECT w.name FROM opsmeter.workspaces w WHERE w.workspace_id = opsmeter.active_workspace()),
        'severity', coalesce((SELECT CASE max(CASE b.severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END)
                                     WHEN 2 THEN 'critical' WHEN 1 THEN 'warning' ELSE 'normal' END FROM b), 'normal'),
        'budgets', coalesce((SELECT jsonb_agg(jsonb_build_object(
                        'period', b.period,
                        'limitUsd', b.limit_usd,
                        'warningRatio', b.warning_ratio,
                        'currentSpendUsd', b.current_spend_usd,
                        'utilizationRatio', b.utilization_ratio,
                        'isWarning', b.is_warning,
                        'isExceeded', b.is_exceeded,
                        'severity', b.severity,
                        'periodStartUtc', to_char(b.period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                        'periodEndUtc', to_char(b.period_end AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                        ORDER BY b.period) FROM b), '[]'::jsonb))
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_workspace_status() IS
    'the active workspace''s budget windows and overall severity (normal, warning, critical)';

------------------------------------------------------------------------------
-- Analytics: summaries for what is rolled up, plus the pending rows
------------------------------------------------------------------------------
-- Filters: "all" or a list, from the argument, else the session GUC
-- (opsmeter.data_mode defaults to real, opsmeter.environment to all).
CREATE FUNCTION opsmeter.data_mode_filter(spec text DEFAULT NULL) RETURNS opsmeter.data_mode[]
    AS 'MODULE_PATHNAME', 'opsmeter_data_mode_filter' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.environment_filter(spec text DEFAULT NULL) RETURNS opsmeter.environment[]
    AS 'MODULE_PATHNAME', 'opsmeter_environment_filter' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.guc_range() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_range' LANGUAGE C STABLE PARALLEL SAFE;

-- Start of the reporting window of a range.  Whole days (or months): the
-- last N calendar days in the session TimeZone, today included.  Anything
-- with hours: the last whole hours, the current one included.  Windows
-- start on an hour, so hourly summaries answer them exactly.
CREATE FUNCTION opsmeter.window_start(range interval) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF range IS NULL OR range <= interval '0' OR range > interval '100 years' THEN
        RAISE EXCEPTION 'invalid range %', coalesce(range::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'A range is a positive interval of at most 100 years, such as ''7 days'' or ''12 hours''.';
    END IF;
    IF date_trunc('day', range) = range THEN
        RETURN date_trunc('day', now() - range + interval '1 day');
    END IF;
    RETURN date_trunc('hour', now() - range + interval '1 hour');
END
$$;

-- Oldest instant whose rows every answer still has, for a workspace:
-- detail (raw rows and detail summaries) and coarse (overview and model
-- summaries).  Windows are cut there, so an answer is the same before and
-- after a retention pass.
CREATE FUNCTION opsmeter.retained_from(ws bigint, OUT raw_from timestamptz, OUT summary_from timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT now() - r.raw, now() - r.summary FROM opsmeter.effective_retention() r WHERE r.workspace_id = ws
$$;

-- The measures of one dimension in [from_ts, to_ts) for the active
-- workspace, filtered: summary rows for what is rolled up plus one row per
-- pending raw row or adjustment.  Callers aggregate.  Hourly rows cover
-- the partial days at both ends of the window; whole UTC days in between
-- come from daily rows (except for "overview", whose callers group by the
-- session's days).  A window open to the future ends in whole days too:
-- each pass adds to today's daily row as it adds to today's hours, so the
-- daily row holds every rolled-up row of the day.  Rows are cut at the
-- retention horizon of the dimension.  Three range scans, one per grain
-- and part, rather than one OR: each is a plain index range, no recheck.
-- Seq scans are off for the BRIN reasons of _rollup(), and so is jit.
CREATE FUNCTION opsmeter.facts(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                               modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (period_start timestamptz, data_mode opsmeter.data_mode, environment opsmeter.environment,
               provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric,
               cached_input_tokens numeric, reasoning_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric, latency_count bigint, latency_sum_ms bigint)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    horizon record := opsmeter.retained_from(ws);
    first_day timestamptz;
    last_day timestamptz;
    -- None of the pending rows is dated more than 5 minutes past the
    -- statement that wrote it.  A variable, not an expression, so that each
    -- plan prunes the partitions created ahead as well as the older ones.
    pending_to timestamptz := least(to_ts, statement_timestamp() + interval '1 hour');
BEGIN
    from_ts := greatest(from_ts, date_trunc('hour', CASE WHEN dim IN ('overview', 'model')
                                                        THEN horizon.summary_from ELSE horizon.raw_from END, 'UTC'));
    -- [first_day, last_day): whole UTC days inside the window, read as daily rows
    first_day := date_trunc('day', from_ts + interval '1 day' - interval '1 microsecond', 'UTC');
    last_day := date_trunc('day', to_ts, 'UTC');
    IF dim = 'overview' OR first_day >= last_day THEN
        first_day := to_ts;
        last_day := to_ts;
    END IF;

    RETURN QUERY
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'hour'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= from_ts AND s.period_start < first_day
    UNION ALL
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'day'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= first_day AND s.period_start < last_day
    UNION ALL
    SELECT s.period_start, s.data_mode, s.environment, s.provider, s.model, s.key, s.requests, s.errors,
           s.input_tokens, s.output_tokens, s.total_tokens, s.cached_input_tokens, s.reasoning_tokens,
           s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count, s.latency_sum_ms
      FROM opsmeter.summaries s
     WHERE s.workspace_id = ws AND s.dimension = dim AND s.grain = 'hour'
       AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
       AND s.period_start >= last_day AND s.period_start < to_ts
    UNION ALL
    -- The pending rows.
    SELECT date_trunc('hour', p.ts, 'UTC'), p.data_mode, p.environment,
           CASE WHEN dim = 'model' THEN p.provider END, CASE WHEN dim = 'model' THEN p.model END,
           CASE dim WHEN 'user' THEN p.user_id WHEN 'tenant' THEN p.tenant_id
                    WHEN 'endpoint' THEN p.endpoint_tag WHEN 'prompt_version' THEN p.prompt_version END,
           p.requests, p.errors, p.input_tokens, p.output_tokens, p.total_tokens,
           p.cached_input_tokens, p.reasoning_tokens, p.cost_usd, p.unpriced_requests, p.unpriced_tokens,
           p.latency_count, p.latency_sum_ms
      FROM opsmeter.pending_contributions(w, 9223372036854775807) p
     WHERE p.workspace_id = ws
       AND p.ts >= from_ts - interval '1 hour' AND p.ts < pending_to   -- partition pruning
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs);
END
$$;

-- Latency histograms for the same window (overview's p95), one per hour
-- and mode / environment, plus the pending rows' (one per hour).
CREATE FUNCTION opsmeter.latency_facts(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (hour timestamptz, counts bigint[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off AS $$
DECLARE
    ws bigint := opsmeter.active_workspace();
    w bigint := opsmeter.rollup_watermark();
    pending_to timestamptz := least(to_ts, statement_timestamp() + interval '1 hour');   -- as in facts()
BEGIN
    from_ts := greatest(from_ts, date_trunc('hour', (opsmeter.retained_from(ws)).summary_from, 'UTC'));
    RETURN QUERY
    SELECT h.hour, h.counts
      FROM opsmeter.latency_histogram h
     WHERE h.workspace_id = ws AND h.hour >= from_ts AND h.hour < to_ts
       AND h.data_mode = ANY (modes) AND h.environment = ANY (envs)
    UNION ALL
    SELECT date_trunc('hour', p.ts, 'UTC'), opsmeter.latency_histogram_of(p.latency_bucket, p.latency_count)
      FROM opsmeter.pending_contributions(w, 9223372036854775807) p
     WHERE p.workspace_id = ws AND p.latency_bucket IS NOT NULL
       AND p.ts >= from_ts - interval '1 hour' AND p.ts < pending_to
       AND date_trunc('hour', p.ts, 'UTC') >= from_ts AND date_trunc('hour', p.ts, 'UTC') < to_ts
       AND p.data_mode = ANY (modes) AND p.environment = ANY (envs)
     GROUP BY 1;
END
$$;

-- Overview: one row per day of the session's TimeZone.  p95 is the upper
-- bound of the latency bucket holding the 95th percentile (nearest rank).
CREATE FUNCTION opsmeter.overview_rows(from_ts timestamptz, to_ts timestamptz,
                                       modes opsmeter.data_mode[], envs opsmeter.environment[])
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH totals AS (
        SELECT f.period_start::date AS day, sum(f.requests)::bigint AS requests, sum(f.errors)::bigint AS errors,
               sum(f.input_tokens) AS input_tokens, sum(f.output_tokens) AS output_tokens,
               sum(f.total_tokens) AS total_tokens, sum(f.cost_usd) AS cost_usd,
               sum(f.unpriced_requests)::bigint AS unpriced_requests,
               round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2) AS avg_latency_ms
          FROM opsmeter.facts('overview', from_ts, to_ts, modes, envs) f
         GROUP BY 1
        HAVING sum(f.requests) <> 0
    ), p95 AS (
        SELECT h.hour::date AS day,
               opsmeter.latency_percentile(opsmeter.latency_histogram_sum(h.counts), 0.95) AS p95
          FROM opsmeter.latency_facts(from_ts, to_ts, modes, envs) h
         GROUP BY 1
    )
    SELECT t.day, t.requests, t.errors, t.input_tokens, t.output_tokens, t.total_tokens, t.cost_usd,
           t.unpriced_requests, t.avg_latency_ms, p.p95
      FROM totals t LEFT JOIN p95 p USING (day)
     ORDER BY t.day
$$;

-- A ranked list over one dimension.  Absent values group as 'unknown'.
CREATE FUNCTION opsmeter.ranked_rows(dim opsmeter.summary_dimension, from_ts timestamptz, to_ts timestamptz,
                                     modes opsmeter.data_mode[], envs opsmeter.environment[], lim integer)
RETURNS TABLE (provider text, model text, key text, requests bigint, errors bigint,
               input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric,
               unpriced_requests bigint, unpriced_tokens numeric,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT f.provider, f.model, coalesce(f.key, 'unknown'),
           sum(f.requests)::bigint, sum(f.errors)::bigint, sum(f.input_tokens), sum(f.output_tokens),
           sum(f.total_tokens), sum(f.cost_usd), sum(f.unpriced_requests)::bigint, sum(f.unpriced_tokens),
           round(sum(f.latency_sum_ms) / nullif(sum(f.latency_count), 0), 2),
           round(sum(f.cost_usd) / sum(f.requests), 6),
           round(sum(f.total_tokens) / sum(f.requests), 2)
      FROM opsmeter.facts(dim, from_ts, to_ts, modes, envs) f
     GROUP BY f.provider, f.model, coalesce(f.key, 'unknown')
    HAVING sum(f.requests) <> 0
     ORDER BY sum(f.cost_usd) DESC, sum(f.requests) DESC, f.provider, f.model, coalesce(f.key, 'unknown')
     LIMIT lim
$$;

-- Function forms (the HTTP API's range / dataMode / environment / limit).
CREATE FUNCTION @extschema@.opsmeter_overview(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                              environment text DEFAULT 'all')
RETURNS TABLE (day date, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM opsmeter.overview_rows(opsmeter.window_start($1), 'infinity',
                                         opsmeter.data_mode_filter($2), opsmeter.environment_filter($3))
$$;

CREATE FUNCTION @extschema@.opsmeter_top_users(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                               environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (user_id text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('user', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;

CREATE FUNCTION @extschema@.opsmeter_top_tenants(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                 environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (tenant_id text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('tenant', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;

CREATE FUNCTION @extschema@.opsmeter_top_endpoints(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                   environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (endpoint_tag text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('endpoint', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;

CREATE FUNCTION @extschema@.opsmeter_prompt_versions(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                     environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (prompt_version text, requests bigint, errors bigint, input_tokens numeric, output_tokens numeric,
               total_tokens numeric, cost_usd numeric, avg_latency_ms numeric,
               cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.key, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens, r.cost_usd,
           r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('prompt_version', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;

CREATE FUNCTION @extschema@.opsmeter_top_models(range interval DEFAULT '7 days', data_mode text DEFAULT 'real',
                                                environment text DEFAULT 'all', lim integer DEFAULT 10)
RETURNS TABLE (provider text, model text, requests bigint, errors bigint, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
               avg_latency_ms numeric, cost_per_request numeric, tokens_per_request numeric)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT r.provider, r.model, r.requests, r.errors, r.input_tokens, r.output_tokens, r.total_tokens,
           r.cost_usd, r.unpriced_requests, r.avg_latency_ms, r.cost_per_request, r.tokens_per_request
      FROM opsmeter.ranked_rows('model', opsmeter.window_start($1), 'infinity',
                                opsmeter.data_mode_filter($2), opsmeter.environment_filter($3), $4) r
$$;

-- Views: the function forms for BI tools, over the window opsmeter.range
-- (default 7 days) with the session filters opsmeter.data_mode (default
-- real) and opsmeter.environment (default all).  security_invoker: row
-- level security applies to the reader.
CREATE VIEW opsmeter.overview WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_overview(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                pg_catalog.current_setting('opsmeter.environment'));
CREATE VIEW opsmeter.top_users WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_users(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                 pg_catalog.current_setting('opsmeter.environment'), NULL);
CREATE VIEW opsmeter.top_tenants WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_tenants(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                   pg_catalog.current_setting('opsmeter.environment'), NULL);
CREATE VIEW opsmeter.top_endpoints WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_endpoints(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                     pg_catalog.current_setting('opsmeter.environment'), NULL);
CREATE VIEW opsmeter.prompt_versions WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_prompt_versions(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                       pg_catalog.current_setting('opsmeter.environment'), NULL);
CREATE VIEW opsmeter.top_models WITH (security_invoker = true) AS
    SELECT * FROM @extschema@.opsmeter_top_models(opsmeter.guc_range(), pg_catalog.current_setting('opsmeter.data_mode'),
                                                  pg_catalog.current_setting('opsmeter.environment'), NULL);
-- Models stored without a price in the window: what to add to the catalog.
CREATE VIEW opsmeter.unpriced_models WITH (security_invoker = true) AS
    SELECT r.provider, r.model, r.unpriced_requests AS requests, r.unpriced_tokens AS total_tokens
      FROM opsmeter.ranked_rows('model', opsmeter.window_start(opsmeter.guc_range()), 'infinity',
                                opsmeter.data_mode_filter(), opsmeter.environment_filter(), NULL) r
     WHERE r.unpriced_requests > 0
     ORDER BY r.unpriced_requests DESC, r.provider, r.model;

-- Views are security_invoker: a reader sees only its own workspaces' rows.
GRANT SELECT ON opsmeter.overview, opsmeter.top_users, opsmeter.top_tenants, opsmeter.top_endpoints,
                opsmeter.prompt_versions, opsmeter.top_models, opsmeter.unpriced_models TO PUBLIC;

-- Export: request-level rows, cut at the raw retention horizon.
CREATE FUNCTION @extschema@.opsmeter_export_meta(range_start timestamptz, range_end timestamptz,
                                                 OUT retention_truncated boolean,
                                                 OUT retention_available_from_utc timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF range_start IS NULL OR range_end IS NULL OR range_start > range_end THEN
        RAISE EXCEPTION 'invalid export range % .. %', coalesce(range_start::text, 'NULL'), coalesce(range_end::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'Give range_start <= range_end; the range includes range_start, excludes range_end.';
    END IF;
    retention_available_from_utc := (opsmeter.retained_from(opsmeter.active_workspace())).raw_from;
    retention_truncated := range_start < retention_available_from_utc;
END
$$;

CREATE FUNCTION @extschema@.opsmeter_export(range_start timestamptz, range_end timestamptz,
                                            data_mode text DEFAULT 'real', environment text DEFAULT 'all')
RETURNS TABLE (ts timestamptz, external_request_id text, provider text, model text,
               input_tokens bigint, output_tokens bigint, total_tokens bigint,
               cached_input_tokens bigint, reasoning_tokens bigint, latency_ms integer, status text,
               error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,
               data_mode opsmeter.data_mode, environment opsmeter.environment,
               cost_usd numeric, pricing opsmeter.pricing_source, ingested_by regrole, metadata jsonb)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT @extschema@.opsmeter_export_meta($1, $2);    -- validates the range first
    SELECT e.ts, e.external_request_id, e.provider, e.model, e.input_tokens, e.output_tokens, e.total_tokens,
           e.cached_input_tokens, e.reasoning_tokens, e.latency_ms,
           CASE WHEN e.is_error THEN 'error' ELSE 'success' END, e.error_code,
           e.prompt_version, e.endpoint_tag, e.user_id, e.tenant_id, e.data_mode, e.environment,
           e.cost_usd, e.pricing, e.ingested_by, e.metadata
      FROM opsmeter.events e
     WHERE e.workspace_id = opsmeter.active_workspace()
       AND e.ts >= greatest($1, (@extschema@.opsmeter_export_meta($1, $2)).retention_available_from_utc)
       AND e.ts < $2
       AND e.data_mode = ANY (opsmeter.data_mode_filter($3))
       AND e.environment = ANY (opsmeter.environment_filter($4))
     ORDER BY e.ts, e.external_request_id
$$;
CREATE VIEW opsmeter.export WITH (security_invoker = true) AS
    SELECT x.* FROM @extschema@.opsmeter_export(opsmeter.window_start(opsmeter.guc_range()), 'infinity',
                                                pg_catalog.current_setting('opsmeter.data_mode'),
                                                pg_catalog.current_setting('opsmeter.environment')) x;
GRANT SELECT ON opsmeter.export TO PUBLIC;

-- Compare: the current window against the previous window of equal length.
CREATE FUNCTION @extschema@.opsmeter_compare(dimension text, range interval DEFAULT '7 days')
RETURNS TABLE (value text, current_cost_usd numeric, previous_cost_usd numeric, cost_delta_usd numeric,
               current_requests bigint, previous_requests bigint, requests_delta bigint,
               current_cost_per_request numeric, previous_cost_per_request numeric, cost_per_request_delta numeric,
               current_tokens_per_request numeric, previous_tokens_per_request numeric,
               tokens_per_request_delta numeric)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    dim opsmeter.summary_dimension;
    cur_start timestamptz := opsmeter.window_start(range);
    prev_start timestamptz := cur_start - range;
    modes opsmeter.data_mode[] := opsmeter.data_mode_filter();
    envs opsmeter.environment[] := opsmeter.environment_filter();
BEGIN
    dim := CASE lower(dimension) WHEN 'endpoint' THEN 'endpoint' WHEN 'prompt_version' THEN 'prompt_version'
                                 WHEN 'model' THEN 'model' WHEN 'tenant' THEN 'tenant' WHEN 'user' THEN 'user' END;
    IF dim IS NULL THEN
        RAISE EXCEPTION 'invalid compare dimension %', coalesce(quote_literal(dimension), 'NULL')
            USING ERRCODE = '22023', HINT = 'Allowed dimensions: endpoint, prompt_version, model, tenant, user.';
    END IF;
    RETURN QUERY
    WITH cur AS (SELECT * FROM opsmeter.ranked_rows(dim, cur_start, 'infinity', modes, envs, NULL)),
         prev AS (SELECT * FROM opsmeter.ranked_rows(dim, prev_start, cur_start, modes, envs, NULL))
    SELECT CASE WHEN dim = 'model' THEN coalesce(c.provider, p.provider) || '/' || coalesce(c.model, p.model)
                ELSE coalesce(c.key, p.key) END,
           coalesce(c.cost_usd, 0), coalesce(p.cost_usd, 0), coalesce(c.cost_usd, 0) - coalesce(p.cost_usd, 0),
           coalesce(c.requests, 0), coalesce(p.requests, 0), coalesce(c.requests, 0) - coalesce(p.requests, 0),
           c.cost_per_request, p.cost_per_request, c.cost_per_request - p.cost_per_request,
           c.tokens_per_request, p.tokens_per_request, c.tokens_per_request - p.tokens_per_request
      FROM cur c
      FULL JOIN prev p ON c.provider IS NOT DISTINCT FROM p.provider AND c.model IS NOT DISTINCT FROM p.model
                      AND c.key = p.key
     ORDER BY abs(coalesce(c.cost_usd, 0) - coalesce(p.cost_usd, 0)) DESC,
              abs(coalesce(c.requests, 0) - coalesce(p.requests, 0)) DESC, 1;
END
$$;

------------------------------------------------------------------------------
-- Re-pricing after the catalog changed
------------------------------------------------------------------------------
CREATE FUNCTION opsmeter.catalog_cost(provider text, model text, ts timestamptz, input_tokens bigint,
                                      cached_input_tokens bigint, output_tokens bigint) RETURNS numeric
    AS 'MODULE_PATHNAME', 'opsmeter_catalog_cost' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.catalog_cost(text, text, timestamptz, bigint, bigint, bigint) IS
    'catalog cost of these tokens at ts (NULL when unpriced), as ingest computes it';

-- Rows already rolled up get a -1 contribution of their old version and a
-- +1 of the new one (summary_adjustments); the next pass folds both.
-- Passes are locked out meanwhile, so "rolled up" cannot change under us.
CREATE FUNCTION opsmeter._opsmeter_reprice_impl(caller regrole, range_start timestamptz, range_end timestamptz,
                                                only_unpriced boolean)
RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    m record;
    w bigint;
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
    SELECT s.watermark INTO w FROM opsmeter.rollup_state s FOR UPDATE;
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
         WHERE r.ingest_batch <= w
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
REVOKE ALL ON FUNCTION opsmeter._opsmeter_reprice_impl(regrole, timestamptz, timestamptz, boolean) FROM PUBLIC;
CREATE FUNCTION @extschema@.opsmeter_reprice(range_start timestamptz, range_end timestamptz,
                                             only_unpriced boolean DEFAULT true)
RETURNS jsonb AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_reprice(timestamptz, timestamptz, boolean) IS
    'price the active workspace''s rows in a range with the current catalog (owner/admin); summaries and budgets follow';

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
-- Data hygiene: demo traffic and role-checked cleanup (SPEC §6)
------------------------------------------------------------------------------
-- Sample traffic for walkthroughs: always demo / dev, spread over the last
-- 7 days (or the workspace's raw retention when shorter).  It goes through
-- opsmeter_ingest, so it obeys every ingest rule and right: viewers get
-- 42501 like any ingest.
CREATE FUNCTION @extschema@.opsmeter_ingest_demo(events integer DEFAULT 200) RETURNS jsonb
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
    -- Leave an hour of margin before the oldest timestamp ingest accepts.
    SELECT least(interval '7 days', r.raw - interval '1 hour') INTO span
      FROM opsmeter.effective_retention() r WHERE r.workspace_id = ws;
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
    'write realistic sample traffic (dataMode demo, environment dev, last 7 days) into the active workspace';

-- Who cleared what: one row per cleanup, readable by owners and admins.
CREATE TABLE opsmeter.cleanup_audit (
    audit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL,
    cleared_at   timestamptz NOT NULL DEFAULT pg_catalog.now(),
    cleared_by   regrole NOT NULL,
    scope        text NOT NULL CHECK (scope IN ('mine', 'workspace')),
    data_mode    opsmeter.data_mode NOT NULL CHECK (data_mode OPERATOR(pg_catalog.<>) 'real'),
    rows_removed bigint NOT NULL
);
CREATE INDEX cleanup_audit_workspace_idx ON opsmeter.cleanup_audit (workspace_id, cleared_at);
COMMENT ON TABLE opsmeter.cleanup_audit IS 'every demo/test cleanup: who, when, scope, mode, rows removed';
ALTER TABLE opsmeter.cleanup_audit ENABLE ROW LEVEL SECURITY;
CREATE POLICY cleanup_audit_read ON opsmeter.cleanup_audit FOR SELECT
    USING (workspace_id OPERATOR(pg_catalog.=) ANY ((SELECT opsmeter.my_workspaces())::bigint[])
           AND opsmeter.my_role(workspace_id) OPERATOR(pg_catalog.=) ANY ('{owner,admin}'::opsmeter.workspace_role[]));
GRANT SELECT ON opsmeter.cleanup_audit TO PUBLIC;

-- Deletes the active workspace's rows of one non-real mode: the caller's
-- own ("mine") or everyone's ("workspace", owner/admin).  Rows already
-- rolled up leave summaries through -1 contributions (summary_adjustments),
-- so no view shows a trace of them, before or after the next pass.  Their
-- dedup keys leave with them.  Passes are locked out meanwhile.
CREATE FUNCTION opsmeter._clear_rows(caller regrole, mode opsmeter.data_mode, scope text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ws bigint;
    caller_role opsmeter.workspace_role;
    w bigint;
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
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    SELECT s.watermark INTO w FROM opsmeter.rollup_state s FOR UPDATE;
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
         WHERE g.ingest_batch <= w
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
REVOKE ALL ON FUNCTION opsmeter._clear_rows(regrole, opsmeter.data_mode, text) FROM PUBLIC;

CREATE FUNCTION opsmeter._opsmeter_clear_demo_data_impl(caller regrole, scope text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN opsmeter._clear_rows(caller, 'demo', scope);
REVOKE ALL ON FUNCTION opsmeter._opsmeter_clear_demo_data_impl(regrole, text) FROM PUBLIC;
CREATE FUNCTION opsmeter._opsmeter_clear_test_data_impl(caller regrole, scope text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN opsmeter._clear_rows(caller, 'test', scope);
REVOKE ALL ON FUNCTION opsmeter._opsmeter_clear_test_data_impl(regrole, text) FROM PUBLIC;

CREATE FUNCTION @extschema@.opsmeter_clear_demo_data(scope text DEFAULT 'mine') RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_clear_demo_data(text) IS
    'delete demo rows of the active workspace: your own (mine) or all (workspace, owner/admin); returns how many';
CREATE FUNCTION @extschema@.opsmeter_clear_test_data(scope text DEFAULT 'mine') RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_clear_test_data(text) IS
    'delete test rows of the active workspace: your own (mine) or all (workspace, owner/admin); returns how many';

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
SELECT pg_catalog.pg_extension_config_dump('opsmeter.latency_histogram', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.summary_adjustments', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.spend_counters', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.cleanup_audit', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.cleanup_audit_audit_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.rollup_state', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs', '');
SELECT pg_catalog.pg_extension_config_dump('opsmeter.retention_runs_run_id_seq', '');

------------------------------------------------------------------------------
-- Installation-time data
------------------------------------------------------------------------------
SELECT opsmeter._load_default_prices();
