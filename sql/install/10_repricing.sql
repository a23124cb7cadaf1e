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
CREATE FUNCTION @extschema@.opsmeter_reprice(range_start timestamptz, range_end timestamptz,
                                             only_unpriced boolean DEFAULT true)
RETURNS jsonb AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_reprice(timestamptz, timestamptz, boolean) IS
    'price the active workspace''s rows in a range with the current catalog (owner/admin); summaries and budgets follow';
