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
CREATE FUNCTION @extschema@.opsmeter_set_budget(period text, limit_usd numeric, warning_ratio numeric DEFAULT 0.8)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_budget(text, numeric, numeric) IS
    'set (or, with a NULL limit, remove) the active workspace''s daily or monthly USD budget (owner/admin)';

CREATE VIEW opsmeter.budget_signals WITH (security_invoker = true) AS
    SELECT b.period, b.limit_usd, b.warning_ratio, b.current_spend_usd, b.utilization_ratio,
           b.is_warning, b.is_exceeded, b.period_start, b.period_end
      FROM opsmeter.budget_state(opsmeter.active_workspace()) b;
COMMENT ON VIEW opsmeter.budget_signals IS 'the active workspace''s budgets: spend of real rows in the current UTC day / month';

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
