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

CREATE FUNCTION opsmeter._opsmeter_clear_demo_data_impl(caller regrole, scope text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN opsmeter._clear_rows(caller, 'demo', scope);
CREATE FUNCTION opsmeter._opsmeter_clear_test_data_impl(caller regrole, scope text) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp
RETURN opsmeter._clear_rows(caller, 'test', scope);

CREATE FUNCTION @extschema@.opsmeter_clear_demo_data(scope text DEFAULT 'mine') RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_clear_demo_data(text) IS
    'delete demo rows of the active workspace: your own (mine) or all (workspace, owner/admin); returns how many';
CREATE FUNCTION @extschema@.opsmeter_clear_test_data(scope text DEFAULT 'mine') RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_clear_test_data(text) IS
    'delete test rows of the active workspace: your own (mine) or all (workspace, owner/admin); returns how many';
