-- detail_sums: a list's detailed days summed in memory (src/README.md,
-- "A list's sums in memory").  opsmeter.detail_sums() sums the summary
-- rows, pending raw rows and pending adjustments of a model, user, tenant,
-- endpoint or prompt-version list per label in 128-bit integers, or, when
-- the labels outgrow the hash memory, by SQL.  Either way each label's
-- sums must be, as text (display scale included), what SQL's sum() gives
-- over the same rows, which this test computes its own way.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('sums_ws') IS NOT NULL AS created;
SELECT opsmeter_create_workspace('sums_other') IS NOT NULL AS created;

-- The window: hourly rows in [t0 + 3 h, t0 + 1 d) and [t0 + 2 d, t0 + 2 d
-- + 5 h), daily rows in [t0 + 1 d, t0 + 2 d); pending rows above batch 100
-- or in hole 50; raw rows from t0 + 1 d + 2 h on.
CREATE FUNCTION pg_temp.t0() RETURNS timestamptz LANGUAGE sql
RETURN date_trunc('day', now(), 'UTC') - interval '2 days';
CREATE FUNCTION pg_temp.ws(name text) RETURNS bigint LANGUAGE sql
RETURN (SELECT workspace_id FROM opsmeter.workspaces WHERE workspaces.name = ws.name);
SELECT opsmeter.ensure_partitions((pg_temp.t0() AT TIME ZONE 'UTC')::date, (pg_temp.t0() AT TIME ZONE 'UTC')::date + 3) >= 0 AS partitions;

CREATE FUNCTION pg_temp.summary(ws text, dim opsmeter.summary_dimension, grain opsmeter.summary_grain,
                                at interval, key text, requests bigint, tokens numeric, cost numeric,
                                mode opsmeter.data_mode DEFAULT 'real', env opsmeter.environment DEFAULT 'prod')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO opsmeter.summaries (workspace_id, dimension, grain, period_start, data_mode, environment,
                                    provider, model, key, requests, errors, input_tokens, output_tokens,
                                    total_tokens, cached_input_tokens, reasoning_tokens, cost_usd,
                                    unpriced_requests, unpriced_tokens, latency_count, latency_sum_ms)
    VALUES (pg_temp.ws(ws), dim, grain, pg_temp.t0() + at, mode, env,
            CASE WHEN dim = 'model' THEN 'openai' END, CASE WHEN dim = 'model' THEN key END,
            CASE WHEN dim <> 'model' THEN key END, requests, requests / 2,
            tokens, tokens + 1, 2 * tokens + 1, 0, 0, cost, requests / 3, tokens, requests, requests)
$$;
CREATE FUNCTION pg_temp.event(ws text, at interval, batch bigint, usr text, tokens bigint, cost numeric,
                              latency integer DEFAULT 120, mode opsmeter.data_mode DEFAULT 'real',
                              env opsmeter.environment DEFAULT 'prod', model text DEFAULT 'gpt-4o')
RETURNS void LANGUAGE sql AS $$
    INSERT INTO opsmeter.events (workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens,
                                 cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode,
                                 environment, pricing, ingested_by, ingested_at, external_request_id,
                                 provider, model, cost_usd, user_id)
    VALUES (pg_temp.ws(ws), pg_temp.t0() + at, batch, tokens, 7, tokens + 7, 0, 0, latency, tokens % 3 = 0,
            mode, env, CASE WHEN cost IS NULL THEN 'unpriced' ELSE 'caller' END::opsmeter.pricing_source,
            current_user::regrole, now(), 'sums-' || gen_random_uuid(), 'openai', model, cost, usr)
$$;
CREATE FUNCTION pg_temp.adjustment(ws text, at interval, batch bigint, usr text, requests integer, cost numeric)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO opsmeter.summary_adjustments (workspace_id, ingest_batch, ts, data_mode, environment, provider,
                                              model, user_id, requests, errors, input_tokens, output_tokens,
                                              total_tokens, cached_input_tokens, reasoning_tokens, cost_usd,
                                              unpriced_requests, unpriced_tokens, latency_count, latency_sum_ms)
    VALUES (pg_temp.ws(ws), batch, pg_temp.t0() + at, 'real', 'prod', 'openai', 'gpt-4o', usr, requests,
            least(requests, 0), 10 * requests, requests, 11 * requests, 0, 0, cost,
            CASE WHEN cost = 0 THEN requests ELSE 0 END, CASE WHEN cost = 0 THEN 11 * requests ELSE 0 END,
            requests, 90 * requests)
$$;

-- Summary rows: in the window at each grain, and outside it (before, at
-- the end, the wrong grain for the hour, another dimension, mode,
-- environment or workspace).  Token sums past 64 bits and past 10^36 (the
-- numeric spill), costs of display scales 0 to 27 and of 10^13 dollars.
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '3 hours', 'alice', 5, 10, 0.10);
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '3 hours', 'scales', 1, 1, 1.5);
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '23 hours', NULL, 2, 3, 0.333);
SELECT pg_temp.summary('sums_ws', 'user', 'day', '1 day', 'alice', 1000, 123456789012345678901234567890, 12345678901234.5);
SELECT pg_temp.summary('sums_ws', 'user', 'day', '1 day', 'bob', 7, 1e40, 0.000000000000000000000000001);
SELECT pg_temp.summary('sums_ws', 'user', 'day', '1 day', 'scales', 1, 1, 2.000000000000000000000001);
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '2 days 4 hours', 'bob', 3, 9223372036854775807, 0.5);
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '2 days 4 hours', NULL, 1, 1, 0);
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '2 hours', 'alice', 100, 100, 100);            -- before
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '1 day 4 hours', 'alice', 100, 100, 100);      -- hour of a daily day
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '2 days 5 hours', 'alice', 100, 100, 100);     -- the end
SELECT pg_temp.summary('sums_ws', 'tenant', 'day', '1 day', 'alice', 100, 100, 100);
SELECT pg_temp.summary('sums_ws', 'user', 'day', '1 day', 'alice', 100, 100, 100, 'test');
SELECT pg_temp.summary('sums_ws', 'user', 'day', '1 day', 'carol', 100, 100, 100, 'real', 'staging');
SELECT pg_temp.summary('sums_other', 'user', 'day', '1 day', 'alice', 100, 100, 100);
-- The model list's rows: provider and model are its labels (key NULL).
SELECT pg_temp.summary('sums_ws', 'model', 'hour', '3 hours', 'gpt-4o', 5, 10, 0.10);
SELECT pg_temp.summary('sums_ws', 'model', 'day', '1 day', 'gpt-4o', 1000, 123456789012345678901234567890, 12345678901234.5);
SELECT pg_temp.summary('sums_ws', 'model', 'day', '1 day', 'gpt-4o-mini', 7, 1e40, 0.000000000000000000000000001);
SELECT pg_temp.summary('sums_ws', 'model', 'hour', '2 days 4 hours', 'o3', 3, 9223372036854775807, 0.5);
SELECT pg_temp.summary('sums_ws', 'model', 'hour', '2 hours', 'gpt-4o', 100, 100, 100);           -- before

-- Pending raw rows: unpriced, no latency, other modes and environments,
-- below the watermark but a hole, below it and not one, before
-- pending_from, another workspace.
SELECT pg_temp.event('sums_ws', '1 day 3 hours', 101, 'alice', 3, 0.25);
SELECT pg_temp.event('sums_ws', '1 day 3 hours', 101, 'alice', 4, NULL);
SELECT pg_temp.event('sums_ws', '1 day 5 hours', 102, NULL, 5, 0.1234567890123456789012, NULL);
SELECT pg_temp.event('sums_ws', '2 days 1 hour', 50, 'bob', 6, 1.00);
SELECT pg_temp.event('sums_ws', '2 days 1 hour', 103, 'dave', 9, 0.5, 10, 'test', 'dev');
SELECT pg_temp.event('sums_ws', '2 days 2 hours', 104, 'erin', 12, 0.75, 20, 'real', 'staging');
SELECT pg_temp.event('sums_ws', '2 days 2 hours', 104, 'erin', 13, NULL, 20, 'real', 'prod', 'gpt-4o-mini');
SELECT pg_temp.event('sums_ws', '2 days 3 hours', 104, NULL, 14, 0.000001, NULL, 'real', 'prod', 'o3');
SELECT pg_temp.event('sums_ws', '2 days 2 hours', 49, 'alice', 100, 100);          -- rolled up
SELECT pg_temp.event('sums_ws', '1 day 1 hour', 105, 'alice', 100, 100);           -- before pending_from
SELECT pg_temp.event('sums_other', '1 day 3 hours', 106, 'alice', 100, 100);
-- Pending adjustments (retractions: negative), on any day of the window.
SELECT pg_temp.adjustment('sums_ws', '4 hours', 107, 'alice', -1, -0.05);
SELECT pg_temp.adjustment('sums_ws', '2 days 3 hours', 50, 'bob', -2, -0.125);
SELECT pg_temp.adjustment('sums_ws', '2 days 4 hours', 108, 'bob', -1, 0);           -- an unpriced row retracted
SELECT pg_temp.adjustment('sums_ws', '2 days 3 hours', 40, 'bob', -100, -100);     -- rolled up

-- The same question asked by hand: the rows of each source, as in the
-- comment of opsmeter.detail_sums(), summed by SQL per label (provider
-- and model for the model list, the key for the others).
CREATE FUNCTION pg_temp.by_hand(dim opsmeter.summary_dimension, modes opsmeter.data_mode[],
                                envs opsmeter.environment[], days date[])
RETURNS TABLE (provider text, model text, key text, requests numeric, errors numeric, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests numeric,
               unpriced_tokens numeric, latency_count numeric, latency_sum_ms numeric)
LANGUAGE sql AS $$
    SELECT r.provider, r.model, r.key, sum(r.requests), sum(r.errors), sum(r.input_tokens), sum(r.output_tokens),
           sum(r.total_tokens), sum(r.cost_usd), sum(r.unpriced_requests), sum(r.unpriced_tokens),
           sum(r.latency_count), sum(r.latency_sum_ms)
      FROM (SELECT s.provider, s.model, s.key, s.requests, s.errors, s.input_tokens, s.output_tokens,
                   s.total_tokens, s.cost_usd, s.unpriced_requests, s.unpriced_tokens, s.latency_count,
                   s.latency_sum_ms
              FROM opsmeter.summaries s
             WHERE s.workspace_id = pg_temp.ws('sums_ws') AND s.dimension = dim
               AND s.data_mode = ANY (modes) AND s.environment = ANY (envs)
               AND CASE s.grain WHEN 'day' THEN s.period_start >= pg_temp.t0() + interval '1 day'
                                             AND s.period_start < pg_temp.t0() + interval '2 days'
                    ELSE (s.period_start >= pg_temp.t0() + interval '3 hours' AND s.period_start < pg_temp.t0() + interval '1 day')
                      OR (s.period_start >= pg_temp.t0() + interval '2 days' AND s.period_start < pg_temp.t0() + interval '2 days 5 hours') END
            UNION ALL
            SELECT CASE WHEN dim = 'model' THEN e.provider END, CASE WHEN dim = 'model' THEN e.model END,
                   CASE WHEN dim = 'user' THEN e.user_id END, 1, e.is_error::int, e.input_tokens,
                   e.output_tokens, e.total_tokens, coalesce(e.cost_usd, 0), (e.cost_usd IS NULL)::int,
                   CASE WHEN e.cost_usd IS NULL THEN e.total_tokens ELSE 0 END,
                   (e.latency_ms IS NOT NULL)::int, coalesce(e.latency_ms, 0)
              FROM opsmeter.events e
             WHERE e.workspace_id = pg_temp.ws('sums_ws') AND (e.ingest_batch > 100 OR e.ingest_batch = 50)
               AND e.ts >= pg_temp.t0() + interval '1 day 2 hours' AND e.ts < pg_temp.t0() + interval '2 days 5 hours'
               AND e.data_mode = ANY (modes) AND e.environment = ANY (envs)
               AND (days IS NULL OR (e.ts AT TIME ZONE 'UTC')::date = ANY (days))
            UNION ALL
            SELECT CASE WHEN dim = 'model' THEN a.provider END, CASE WHEN dim = 'model' THEN a.model END,
                   CASE WHEN dim = 'user' THEN a.user_id END, a.requests, a.errors, a.input_tokens,
                   a.output_tokens, a.total_tokens, a.cost_usd, a.unpriced_requests, a.unpriced_tokens,
                   a.latency_count, a.latency_sum_ms
              FROM opsmeter.summary_adjustments a
             WHERE a.workspace_id = pg_temp.ws('sums_ws') AND (a.ingest_batch > 100 OR a.ingest_batch = 50)
               AND a.ts >= pg_temp.t0() + interval '3 hours' AND a.ts < pg_temp.t0() + interval '2 days 5 hours'
               AND a.data_mode = ANY (modes) AND a.environment = ANY (envs)
               AND (days IS NULL OR (a.ts AT TIME ZONE 'UTC')::date = ANY (days))) r
     GROUP BY r.provider, r.model, r.key
$$;
CREATE FUNCTION pg_temp.summed(dim opsmeter.summary_dimension, ws bigint, modes opsmeter.data_mode[],
                               envs opsmeter.environment[], days date[])
RETURNS TABLE (provider text, model text, key text, requests numeric, errors numeric, input_tokens numeric,
               output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests numeric,
               unpriced_tokens numeric, latency_count numeric, latency_sum_ms numeric)
LANGUAGE sql AS $$
    SELECT k.provider, k.model, k.key, sum(k.requests), sum(k.errors), sum(k.input_tokens), sum(k.output_tokens),
           sum(k.total_tokens), sum(k.cost_usd), sum(k.unpriced_requests), sum(k.unpriced_tokens),
           sum(k.latency_count), sum(k.latency_sum_ms)
      FROM opsmeter.detail_sums(dim, ws, pg_temp.t0() + interval '3 hours', pg_temp.t0() + interval '1 day',
                                pg_temp.t0() + interval '2 days', pg_temp.t0() + interval '2 days 5 hours',
                                pg_temp.t0() + interval '3 hours', pg_temp.t0() + interval '2 days 5 hours',
                                pg_temp.t0() + interval '1 day 2 hours', 100, '{50}', days, modes, envs) k
     GROUP BY k.provider, k.model, k.key
$$;
-- Rows of one side not on the other, as text (0 rows: equal, scales too).
CREATE FUNCTION pg_temp.differences(dim opsmeter.summary_dimension, modes opsmeter.data_mode[],
                                    envs opsmeter.environment[], days date[])
RETURNS TABLE (side text, row_text text) LANGUAGE sql AS $$
    (SELECT 'in memory', s::text FROM pg_temp.summed(dim, pg_temp.ws('sums_ws'), modes, envs, days) s
     EXCEPT SELECT 'in memory', h::text FROM pg_temp.by_hand(dim, modes, envs, days) h)
    UNION ALL
    (SELECT 'by hand', h::text FROM pg_temp.by_hand(dim, modes, envs, days) h
     EXCEPT SELECT 'by hand', s::text FROM pg_temp.summed(dim, pg_temp.ws('sums_ws'), modes, envs, days) s)
$$;

-- The default filters (one mode, every environment, every day): the
-- labels and their sums, then the check against the hand-made answer.
SELECT * FROM pg_temp.summed('user', pg_temp.ws('sums_ws'), '{real}', enum_range(NULL::opsmeter.environment), NULL)
 ORDER BY key NULLS FIRST;
SELECT * FROM pg_temp.differences('user', '{real}', enum_range(NULL::opsmeter.environment), NULL);
-- Two modes, some environments, one day of the window's pending rows.
SELECT * FROM pg_temp.differences('user', '{real,test}', '{prod,dev}', ARRAY[(pg_temp.t0() AT TIME ZONE 'UTC')::date + 2]);
SELECT * FROM pg_temp.differences('user', '{test}', '{staging,dev}', NULL);
SELECT * FROM pg_temp.differences('user', '{real}', '{}', NULL);
-- A list of one mode that does not start at 1 is still "= ANY".
SELECT * FROM pg_temp.differences('user', '[2:2]={real}', '{prod,prod,staging,dev}', NULL);
-- The model list: provider and model are its labels; its unpriced sums too.
SELECT provider, model, requests, cost_usd, unpriced_requests, unpriced_tokens
  FROM pg_temp.summed('model', pg_temp.ws('sums_ws'), '{real}', enum_range(NULL::opsmeter.environment), NULL)
 ORDER BY provider, model;
SELECT * FROM pg_temp.differences('model', '{real}', enum_range(NULL::opsmeter.environment), NULL);
SELECT * FROM pg_temp.differences('model', '{real,test}', '{prod,dev}', ARRAY[(pg_temp.t0() AT TIME ZONE 'UTC')::date + 2]);

-- More labels than the hash memory holds: the same statements grouped by
-- SQL (the DEBUG line says so), and still the same answer.
DO $$ BEGIN PERFORM pg_temp.event('sums_ws', '2 days 4 hours', 200, 'many-' || i, i, i / 1000.0, 120, 'real', 'prod', 'm-' || i) FROM generate_series(1, 3000) i; END $$;
SELECT count(*) AS labels FROM pg_temp.summed('user', pg_temp.ws('sums_ws'), '{real}', enum_range(NULL::opsmeter.environment), NULL);
SELECT * FROM pg_temp.differences('user', '{real}', enum_range(NULL::opsmeter.environment), NULL);
SET work_mem = '64kB';
SET client_min_messages = debug1;
SELECT count(*) AS labels FROM pg_temp.summed('user', pg_temp.ws('sums_ws'), '{real}', enum_range(NULL::opsmeter.environment), NULL);
RESET client_min_messages;
SELECT * FROM pg_temp.differences('user', '{real}', enum_range(NULL::opsmeter.environment), NULL);
SELECT * FROM pg_temp.differences('user', '{real,test}', '{prod,dev}', ARRAY[(pg_temp.t0() AT TIME ZONE 'UTC')::date + 2]);
SELECT * FROM pg_temp.differences('model', '{real}', enum_range(NULL::opsmeter.environment), NULL);
RESET work_mem;
SELECT * FROM pg_temp.differences('model', '{real}', enum_range(NULL::opsmeter.environment), NULL);

-- A count past bigint fails as SQL's sum()::bigint does, in both paths.
BEGIN;
SELECT pg_temp.summary('sums_ws', 'user', 'hour', '22 hours', 'alice', 9223372036854775807, 1, 0);
SAVEPOINT in_memory;
SELECT count(*) FROM pg_temp.summed('user', pg_temp.ws('sums_ws'), '{real}', '{prod}', NULL);
ROLLBACK TO in_memory;
SET LOCAL work_mem = '64kB';
SELECT count(*) FROM pg_temp.summed('user', pg_temp.ws('sums_ws'), '{real}', '{prod}', NULL);
ROLLBACK;

-- Not the overview; an outsider reads nothing of another workspace (the
-- statements run as the caller, under row-level security).
SELECT count(*) FROM pg_temp.summed('overview', pg_temp.ws('sums_ws'), '{real}', '{prod}', NULL);
SELECT count(*) AS labels FROM pg_temp.summed('user', NULL, '{real}', '{prod}', NULL);
SELECT pg_temp.ws('sums_ws') AS sums_ws \gset
SET ROLE regress_outsider;
SELECT count(*) AS outsider_labels
  FROM opsmeter.detail_sums('user', :sums_ws, '-infinity', '-infinity', 'infinity', 'infinity',
                            '-infinity', 'infinity', '-infinity', 0, '{}', NULL, '{real,test,demo}',
                            enum_range(NULL::opsmeter.environment));
RESET ROLE;

-- Through facts(): two detailed days and today not summarized yet (its
-- rows are read raw), with pending rows on all three.  The lists read the
-- pending rows of the detailed days only (the model list: of the days
-- summarized), so today's are counted once, by the raw read; with the
-- day list left out they would be counted twice.
SELECT opsmeter_create_workspace('sums_facts') IS NOT NULL AS created;
SET opsmeter.workspace = 'sums_facts';
CREATE FUNCTION pg_temp.midnight() RETURNS timestamptz LANGUAGE sql RETURN date_trunc('day', now(), 'UTC');
INSERT INTO opsmeter.rollup_days (workspace_id, day, requests, quarter_rows, detail_rows)
SELECT opsmeter.active_workspace(), (pg_temp.midnight() AT TIME ZONE 'UTC')::date - d,
       0, CASE WHEN d > 0 THEN 0 END, CASE WHEN d > 0 THEN 0 END
  FROM generate_series(0, 2) d;
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
            'externalRequestId', 'facts-' || i, 'provider', 'openai', 'model', CASE WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'o3' END,
            'inputTokens', i, 'outputTokens', 1, 'userId', 'u' || i % 3, 'costUsd', i / 100.0,
            'timestamp', to_char((pg_temp.midnight() - (i % 3) * interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
        ->> 'accepted')::int AS accepted
  FROM generate_series(1, 12) i;
SELECT d.dim, f.requests AS facts_requests, r.requests AS raw_requests, f.cost = r.cost AS same_cost
  FROM unnest('{model,user}'::opsmeter.summary_dimension[]) d(dim)
  CROSS JOIN LATERAL (SELECT sum(x.requests) AS requests, sum(x.cost_usd) AS cost
                        FROM opsmeter.facts(d.dim, pg_temp.midnight() - interval '2 days', 'infinity', '{real}',
                                            enum_range(NULL::opsmeter.environment)) x) f
  CROSS JOIN LATERAL (SELECT count(*) AS requests, sum(e.cost_usd) AS cost FROM opsmeter.events e
                       WHERE e.workspace_id = opsmeter.active_workspace()) r
 ORDER BY d.dim;
SELECT count(*) AS models_differing
  FROM ((SELECT provider, model, sum(requests) AS requests, sum(cost_usd) AS cost
           FROM opsmeter.facts('model', pg_temp.midnight() - interval '2 days', 'infinity', '{real}',
                               enum_range(NULL::opsmeter.environment))
          GROUP BY 1, 2
         EXCEPT
         SELECT provider, model, count(*), sum(cost_usd) FROM opsmeter.events
          WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1, 2)
        UNION ALL
        (SELECT provider, model, count(*), sum(cost_usd) FROM opsmeter.events
          WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1, 2
         EXCEPT
         SELECT provider, model, sum(requests), sum(cost_usd)
           FROM opsmeter.facts('model', pg_temp.midnight() - interval '2 days', 'infinity', '{real}',
                               enum_range(NULL::opsmeter.environment))
          GROUP BY 1, 2)) x;
-- The overview's pending read compares with modes[1] only when the list
-- is 1-D and starts at 1: one mode given as '[2:2]={real}' or '{{real}}'
-- counts the same 12 rows (modes[1] is NULL there).
SELECT m.modes, sum(x.requests) AS overview_requests
  FROM unnest('{"{real}", "[2:2]={real}", "{{real}}"}'::text[]) m(modes)
  CROSS JOIN LATERAL opsmeter.facts('overview', pg_temp.midnight() - interval '2 days', 'infinity',
                                    m.modes::opsmeter.data_mode[], enum_range(NULL::opsmeter.environment)) x
 GROUP BY m.modes ORDER BY m.modes;
DELETE FROM opsmeter.rollup_days WHERE workspace_id = opsmeter.active_workspace();
RESET opsmeter.workspace;
SELECT opsmeter_drop_workspace('sums_facts') IS NOT NULL AS dropped;

-- Clean up: this test's workspaces and rows.
DELETE FROM opsmeter.summaries WHERE workspace_id IN (pg_temp.ws('sums_ws'), pg_temp.ws('sums_other'));
DELETE FROM opsmeter.summary_adjustments WHERE workspace_id IN (pg_temp.ws('sums_ws'), pg_temp.ws('sums_other'));
DELETE FROM opsmeter.events WHERE workspace_id IN (pg_temp.ws('sums_ws'), pg_temp.ws('sums_other'));
SELECT opsmeter_drop_workspace('sums_ws') IS NOT NULL AS dropped, opsmeter_drop_workspace('sums_other') IS NOT NULL AS dropped;
