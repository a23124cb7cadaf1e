-- After the run: opsmeter against the ground truth (soak.truth), after a
-- final cleanup of test data and a final retention pass.  Prints one line
-- per check: name | ok | detail.  Real events only in the truth totals:
-- test events are deleted by the cleanups that ran during the run.
\set ON_ERROR_STOP 1
SET TimeZone = 'UTC';
SET opsmeter.workspace = 'soak';
SET client_min_messages = warning;
SET ROLE soak_owner;
SELECT opsmeter_clear_test_data('workspace') IS NOT NULL AS final_cleanup \gset
RESET ROLE;
SELECT opsmeter_run_retention() IS NOT NULL AS final_pass \gset

CREATE TEMP TABLE checks (name text, ok boolean, detail text);

-- Workspace "soak" alone: the hostile tenant beside it (hostile.sh) stores
-- rows of its own, which must neither show up here nor change these.
SELECT workspace_id AS soak_ws FROM opsmeter.workspaces WHERE name = 'soak' \gset
CREATE TEMP VIEW soak_events AS SELECT * FROM opsmeter.events WHERE workspace_id = :soak_ws;
CREATE TEMP VIEW soak_keys AS SELECT * FROM opsmeter.request_keys WHERE workspace_id = :soak_ws;
CREATE TEMP VIEW soak_counters AS SELECT * FROM opsmeter.spend_counters WHERE workspace_id = :soak_ws;

-- The truth with the money the catalog gives gpt-4o-mini (0.15 / 0.60 per 1M).
CREATE TEMP VIEW truth_real AS
SELECT *, (input_tokens * 0.15 + output_tokens * 0.60) / 1000000 AS cost_usd
  FROM soak.truth WHERE mode = 'real';

INSERT INTO checks
SELECT 'opsmeter never answered "accepted" twice for one key',
       count(*) = count(DISTINCT xid), format('%s accepted real events, %s distinct keys', count(*), count(DISTINCT xid))
  FROM truth_real;

INSERT INTO checks
WITH raw AS (SELECT external_request_id AS xid, ts, user_id, input_tokens, output_tokens, latency_ms, is_error, cost_usd
               FROM soak_events WHERE data_mode = 'real'),
     t AS (SELECT xid, ts, user_id, input_tokens, output_tokens, latency_ms, is_error, cost_usd FROM truth_real),
     missing AS (SELECT * FROM t EXCEPT ALL SELECT * FROM raw),
     extra AS (SELECT * FROM raw EXCEPT ALL SELECT * FROM t)
SELECT 'raw real rows = accepted real events, field by field',
       (SELECT count(*) FROM missing) = 0 AND (SELECT count(*) FROM extra) = 0,
       format('%s raw real rows; %s accepted but missing, %s present but never accepted',
              (SELECT count(*) FROM raw), (SELECT count(*) FROM missing), (SELECT count(*) FROM extra));

INSERT INTO checks
SELECT 'no duplicate rows', count(*) = count(DISTINCT external_request_id),
       format('%s rows, %s distinct externalRequestIds', count(*), count(DISTINCT external_request_id))
  FROM soak_events;

INSERT INTO checks
SELECT 'test rows gone after the final cleanup', count(*) = 0, format('%s test rows left', count(*))
  FROM soak_events WHERE data_mode <> 'real';

INSERT INTO checks
WITH joined AS (SELECT count(*) AS n FROM soak_events e
                  JOIN soak_keys k USING (workspace_id, external_request_id)
                 WHERE k.event_day = (e.ts AT TIME ZONE 'UTC')::date)
SELECT 'one dedup key per row, naming its day',
       (SELECT count(*) FROM soak_keys) = (SELECT count(*) FROM soak_events)
       AND joined.n = (SELECT count(*) FROM soak_events),
       format('%s keys, %s rows, %s matched', (SELECT count(*) FROM soak_keys),
              (SELECT count(*) FROM soak_events), joined.n)
  FROM joined;

INSERT INTO checks
WITH parts AS (SELECT c.oid, c.relname, i.inhparent IS NOT NULL AS attached,
                      (SELECT count(*) FROM pg_index x WHERE x.indrelid = c.oid) AS indexes
                 FROM pg_class c
                 LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = 'opsmeter.events'::regclass
                WHERE c.relnamespace = 'opsmeter'::regnamespace AND c.relkind = 'r' AND c.relname LIKE 'events\_p%')
SELECT 'no orphaned partitions', bool_and(attached AND indexes = 2) AND
       NOT EXISTS (SELECT 1 FROM opsmeter.request_keys k
                    WHERE to_regclass('opsmeter.' || opsmeter.partition_name(k.event_day)) IS NULL),
       format('%s partitions, %s detached, %s without both indexes', count(*),
              count(*) FILTER (WHERE NOT attached), count(*) FILTER (WHERE indexes <> 2))
  FROM parts;

INSERT INTO checks
WITH v AS (SELECT day, requests, errors, input_tokens, output_tokens, cost_usd
             FROM opsmeter_overview('30 days', 'real', 'all')),
     t AS (SELECT (ts AT TIME ZONE 'UTC')::date AS day, count(*) AS requests, count(*) FILTER (WHERE is_error) AS errors,
                  sum(input_tokens)::numeric AS input_tokens, sum(output_tokens)::numeric AS output_tokens, sum(cost_usd) AS cost_usd
             FROM truth_real GROUP BY 1),
     diff AS ((SELECT * FROM v EXCEPT SELECT * FROM t) UNION ALL (SELECT * FROM t EXCEPT SELECT * FROM v))
SELECT 'overview per day = truth (requests, errors, tokens, cost)', count(*) = 0,
       format('%s day rows differ; truth: %s requests, $%s', count(*),
              (SELECT count(*) FROM truth_real), (SELECT sum(cost_usd) FROM truth_real))
  FROM diff;

INSERT INTO checks
WITH v AS (SELECT user_id, requests, input_tokens, output_tokens, cost_usd
             FROM opsmeter_top_users('30 days', 'real', 'all', 1000)),
     t AS (SELECT user_id, count(*) AS requests, sum(input_tokens)::numeric, sum(output_tokens)::numeric, sum(cost_usd)
             FROM truth_real GROUP BY 1),
     diff AS ((SELECT * FROM v EXCEPT SELECT * FROM t) UNION ALL (SELECT * FROM t EXCEPT SELECT * FROM v))
SELECT 'top_users = truth', count(*) = 0, format('%s user rows differ', count(*)) FROM diff;

INSERT INTO checks
SELECT 'nothing left to roll up after the final pass', count(*) = 0, format('%s pending contributions', count(*))
  FROM opsmeter.rollup_state r,
       opsmeter.pending_contributions(r.watermark, 9223372036854775807, r.holes, '{}');

-- The SPEC's promise, by its own tool: every summary number of every
-- workspace (soak and the hostile tenant) recomputed from the raw rows.
INSERT INTO checks
SELECT 'opsmeter_verify(): summaries = raw rows, every workspace', count(*) = 0,
       format('%s differences%s', count(*),
              coalesce(' (' || string_agg(DISTINCT v.workspace_name || ' ' || v.tier || '.' || v.measure, ', ') || ')', ''))
  FROM opsmeter_verify(now() - interval '400 days', now() + interval '1 day') v;

INSERT INTO checks
WITH c AS (SELECT day, sum(spend_usd) AS spend FROM soak_counters GROUP BY 1 HAVING sum(spend_usd) <> 0),
     t AS (SELECT (ts AT TIME ZONE 'UTC')::date AS day, sum(cost_usd) AS spend FROM truth_real GROUP BY 1),
     diff AS ((SELECT * FROM c EXCEPT SELECT * FROM t) UNION ALL (SELECT * FROM t EXCEPT SELECT * FROM c))
SELECT 'budget spend counters = truth per UTC day', count(*) = 0, format('%s days differ', count(*)) FROM diff;

INSERT INTO checks
SELECT 'retention passes recorded', count(*) FILTER (WHERE ok) > 0,
       format('%s passes, %s ok, %s failed (%s)', count(*), count(*) FILTER (WHERE ok), count(*) FILTER (WHERE NOT ok),
              coalesce(string_agg(DISTINCT left(error, 60), '; ') FILTER (WHERE NOT ok), 'no errors'))
  FROM opsmeter.retention_runs;

-- While the hostile tenant ran (phase "hostile", no faults), the worker's pass
-- (every second) kept completing: none failed, none waited long on it.
INSERT INTO checks
WITH p AS (SELECT r.started_at, r.finished_at, r.ok,
                  r.started_at - lag(r.finished_at) OVER (ORDER BY r.started_at) AS gap
             FROM opsmeter.retention_runs r, soak.phases ph
            WHERE ph.name = 'hostile' AND r.started_at BETWEEN ph.started_at AND ph.ended_at
              AND r.triggered_by = 'worker')
SELECT 'every pass completed promptly beside the hostile tenant',
       count(*) > 0 AND bool_and(ok) AND coalesce(max(finished_at - started_at), '0') < interval '5 s'
       AND coalesce(max(gap), '0') < interval '5 s',
       format('%s passes, %s failed, longest %s ms, longest gap %s ms', count(*), count(*) FILTER (WHERE NOT ok),
              round(extract(epoch FROM max(finished_at - started_at)) * 1000),
              round(extract(epoch FROM max(gap)) * 1000))
  FROM p;

-- What the hostile tenant tried left nothing behind that reaches others.
INSERT INTO checks
WITH h AS (SELECT e.* FROM opsmeter.events e JOIN opsmeter.workspaces w USING (workspace_id) WHERE w.name = 'hostile')
SELECT 'the hostile tenant stored only what the bounds allow',
       count(*) > 0 AND coalesce(max(scale(cost_usd)), 0) <= 12
       AND coalesce(min(ts), now()) >= now() - (SELECT opsmeter.guc_max_raw_retention())
       AND NOT EXISTS (SELECT 1 FROM opsmeter.workspace_members m JOIN opsmeter.workspaces w USING (workspace_id)
                        WHERE w.name = 'hostile' AND m.member = 'soak_app'::regrole)
       AND (SELECT raw_retention IS DISTINCT FROM '100 years' FROM opsmeter.workspaces WHERE name = 'hostile'),
       format('%s hostile rows, widest cost scale %s, oldest %s, soak_app planted: %s', count(*),
              coalesce(max(scale(cost_usd)), 0), min(ts)::date,
              EXISTS (SELECT 1 FROM opsmeter.workspace_members m JOIN opsmeter.workspaces w USING (workspace_id)
                       WHERE w.name = 'hostile' AND m.member = 'soak_app'::regrole))
  FROM h;

SELECT name, ok, detail FROM checks;
