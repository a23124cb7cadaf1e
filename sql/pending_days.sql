-- pending_days: where the pending rows can be (src/README.md, "Where
-- pending rows can be").  A view reads the rows above the rollup watermark
-- only on the days that can hold them: from opsmeter.unmarked_pending_from()
-- on, and the days opsmeter.late_arrivals names.  An ingest that writes a
-- row on a day before its batch's cutoff (the UTC day of its draw less an
-- hour) names that day in the same transaction; the pass deletes the names
-- of the batches it rolls up.  Every answer stays the raw rows' answer.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('late_ws') IS NOT NULL AS created;
SELECT opsmeter_create_workspace('late_other') IS NOT NULL AS created;
SET opsmeter.workspace = 'late_ws';
SET opsmeter.summarize_day_rows = 0;

-- at: a time relative to now, or to this UTC day's midnight (so that two
-- rows share their UTC day at any hour the test runs).
CREATE FUNCTION pg_temp.midnight() RETURNS timestamptz LANGUAGE sql RETURN date_trunc('day', now(), 'UTC');
CREATE FUNCTION pg_temp.event(id text, at timestamptz, usr text DEFAULT 'u1') RETURNS jsonb
LANGUAGE sql RETURN jsonb_build_object('externalRequestId', id, 'provider', 'openai', 'model', 'gpt-4o',
                                       'inputTokens', 1000, 'outputTokens', 10, 'userId', usr,
                                       'timestamp', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
-- This test's names (earlier tests may leave others).
CREATE FUNCTION pg_temp.named() RETURNS SETOF opsmeter.late_arrivals LANGUAGE sql AS $$
    SELECT m.* FROM opsmeter.late_arrivals m JOIN opsmeter.workspaces w USING (workspace_id)
     WHERE w.name IN ('late_ws', 'late_other')
$$;
-- facts() against the raw rows over the last 6 UTC days, per dimension:
-- requests and input tokens that differ (0 rows: every answer exact).
CREATE FUNCTION pg_temp.differences() RETURNS TABLE (dim opsmeter.summary_dimension, facts_requests numeric,
                                                     raw_requests bigint, facts_tokens numeric, raw_tokens numeric)
LANGUAGE sql AS $$
    SELECT d.dim, f.requests, r.requests, f.tokens, r.tokens
      FROM unnest('{overview,user,model}'::opsmeter.summary_dimension[]) d(dim)
      CROSS JOIN LATERAL (SELECT coalesce(sum(x.requests), 0) AS requests, coalesce(sum(x.input_tokens), 0) AS tokens
                            FROM opsmeter.facts(d.dim, date_trunc('day', now() - interval '6 days', 'UTC'), 'infinity',
                                                '{real}', enum_range(NULL::opsmeter.environment)) x) f
      CROSS JOIN LATERAL (SELECT count(*) AS requests, coalesce(sum(e.input_tokens), 0) AS tokens
                            FROM opsmeter.events e
                           WHERE e.workspace_id = opsmeter.active_workspace()
                             AND e.ts >= date_trunc('day', now() - interval '6 days', 'UTC')) r
     WHERE f.requests <> r.requests OR f.tokens <> r.tokens
$$;

-- Unknown bounds (before the first pass since install or the update from
-- 0.1.0, NULL in rollup_state) read every day of a window: no pass read
-- yet, or holes whose bound is not known.
BEGIN;
INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
UPDATE opsmeter.rollup_state SET bounds_read_at = NULL, holes = '{}', holes_since = NULL;
SELECT opsmeter.unmarked_pending_from() AS no_pass_read_yet;
UPDATE opsmeter.rollup_state SET bounds_read_at = now(), holes = '{1}', holes_since = NULL;
SELECT opsmeter.unmarked_pending_from() AS holes_of_unknown_age;
UPDATE opsmeter.rollup_state SET holes_since = now() - interval '3 days';
SELECT opsmeter.unmarked_pending_from() = date_trunc('day', now() - interval '3 days 2 hours', 'UTC') AS from_the_holes_bound;
ROLLBACK;
-- Each day of the window detailed and empty, so that its pending rows are
-- read by the pending part of facts() (a workspace this small would
-- otherwise be answered from its raw rows alone).
INSERT INTO opsmeter.rollup_days (workspace_id, day, requests, quarter_rows, detail_rows)
SELECT opsmeter.active_workspace(), d::date, 0, 0, 0
  FROM generate_series(current_date - 8, current_date + 1, interval '1 day') d;
SELECT (opsmeter_ingest(pg_temp.event('now-1', now() - interval '1 minute')) ->> 'ok')::boolean AS ok;
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
-- Known now: the UTC midnight of the pass's read of the sequence less two
-- hours (a row of the last hour before midnight may arrive after it; one
-- more hour for a clock set back).
SELECT opsmeter.unmarked_pending_from() = date_trunc('day', bounds_read_at - interval '2 hours', 'UTC') AS bound_from_the_pass,
       holes_since IS NULL AS no_holes
  FROM opsmeter.rollup_state;

-- A batch with a row 3 days old and one of now: the old day is named, the
-- current one is not; a second call of the same transaction on the same
-- day names it once.
BEGIN;
SELECT (opsmeter_ingest(jsonb_build_array(pg_temp.event('late-1', pg_temp.midnight() - interval '3 days' + interval '1 hour'), pg_temp.event('now-2', now() - interval '2 minutes'))) ->> 'accepted')::int AS accepted;
SELECT (opsmeter_ingest(pg_temp.event('late-2', pg_temp.midnight() - interval '3 days' + interval '2 hours', 'u2')) ->> 'ok')::boolean AS ok;
COMMIT;
SELECT m.day = (pg_temp.midnight() AT TIME ZONE 'UTC')::date - 3 AS three_days_ago,
       m.ingest_batch > opsmeter.rollup_watermark() AS pending_batch
  FROM pg_temp.named() m;
-- The pending part reads today's partition and the named day, and the
-- answer is the raw rows' (the late rows are not on a day the bound keeps).
SELECT opsmeter.unmarked_pending_from() > now() - interval '3 days' AS bound_after_the_late_day;
SELECT * FROM pg_temp.differences();
-- A day named in a savepoint that rolls back is gone with its rows; the
-- batch lives on, and names the day again with the next late row.
BEGIN;
SELECT (opsmeter_ingest(pg_temp.event('now-3', now() - interval '3 minutes')) ->> 'ok')::boolean AS ok;
SAVEPOINT s;
SELECT (opsmeter_ingest(pg_temp.event('late-sp', pg_temp.midnight() - interval '4 days' + interval '1 hour')) ->> 'ok')::boolean AS ok;
ROLLBACK TO SAVEPOINT s;
SELECT (opsmeter_ingest(pg_temp.event('late-3', pg_temp.midnight() - interval '4 days' + interval '3 hours')) ->> 'ok')::boolean AS ok;
COMMIT;
SELECT count(*) AS named_days, count(DISTINCT ingest_batch) AS batches FROM pg_temp.named();
SELECT * FROM pg_temp.differences();
-- Another workspace's late rows name its own days only: this workspace's
-- views do not read them (and cannot see them).
SET opsmeter.workspace = 'late_other';
SELECT (opsmeter_ingest(pg_temp.event('other-late', pg_temp.midnight() - interval '5 days')) ->> 'ok')::boolean AS ok;
SET opsmeter.workspace = 'late_ws';
SELECT count(DISTINCT workspace_id) AS workspaces_named FROM pg_temp.named();
BEGIN;
CREATE ROLE late_viewer;
SELECT opsmeter_add_member('late_ws', 'late_viewer', 'viewer') IS NOT NULL AS invited;
SET LOCAL ROLE late_viewer;
SELECT count(*) AS named_days_a_viewer_sees FROM opsmeter.late_arrivals;
SELECT * FROM pg_temp.differences();
RESET ROLE;
CREATE ROLE late_outsider;
SET LOCAL ROLE late_outsider;
SELECT count(*) AS named_days_an_outsider_sees FROM opsmeter.late_arrivals;
ROLLBACK;

-- The pass rolls the late rows up and deletes their names; the answers
-- stay exact.
SELECT (opsmeter_run_retention() ->> 'rowsRolledUp')::int AS rolled_up;
SELECT count(*) AS named_days_left FROM pg_temp.named();
SELECT * FROM pg_temp.differences();

-- Without the bound the answers would miss the late rows: prove the test
-- can fail by reading them as if no day had been named.
BEGIN;
SELECT (opsmeter_ingest(pg_temp.event('late-4', pg_temp.midnight() - interval '2 days' + interval '1 hour', 'u3')) ->> 'ok')::boolean AS ok;
DELETE FROM opsmeter.late_arrivals;
SELECT dim, facts_requests, raw_requests FROM pg_temp.differences();
ROLLBACK;

-- The pending part's filters: pending rows of every data mode and
-- environment, read through the combinations a view asks for (one mode,
-- several; every environment, some), against the raw rows with the same
-- filter.  (With every environment the filter is left out, and one mode
-- is one comparison: these are what keep that exact.)
SELECT (opsmeter_ingest(jsonb_agg(pg_temp.event('mix-' || m || '-' || e, now() - interval '5 minutes')
                                  || jsonb_build_object('dataMode', m, 'environment', e))) ->> 'accepted')::int AS accepted
  FROM unnest('{real,test,demo}'::text[]) m, unnest('{prod,staging,dev}'::text[]) e;
SELECT d.dim, f.modes, f.envs, x.facts_requests, x.raw_requests, x.facts_requests = x.raw_requests AS exact
  FROM unnest('{overview,user}'::opsmeter.summary_dimension[]) d(dim),
       (VALUES ('{real}'::opsmeter.data_mode[], '{prod,staging,dev}'::opsmeter.environment[]),
               ('{real,test}', '{prod}'), ('{test}', '{staging,dev}'), ('{real,test,demo}', '{dev,prod}'),
               ('{demo}', '{prod,staging,dev}')) f(modes, envs)
  CROSS JOIN LATERAL (
      SELECT (SELECT coalesce(sum(x.requests), 0)
                FROM opsmeter.facts(d.dim, date_trunc('day', now() - interval '6 days', 'UTC'), 'infinity',
                                    f.modes, f.envs) x) AS facts_requests,
             (SELECT count(*) FROM opsmeter.events e
               WHERE e.workspace_id = opsmeter.active_workspace()
                 AND e.ts >= date_trunc('day', now() - interval '6 days', 'UTC')
                 AND e.data_mode = ANY (f.modes) AND e.environment = ANY (f.envs)) AS raw_requests) x
 ORDER BY 1, 2, 3;

-- Dropping a workspace erases its names with its rows.
SET opsmeter.workspace = 'late_other';
SELECT (opsmeter_ingest(pg_temp.event('other-late-2', pg_temp.midnight() - interval '5 days')) ->> 'ok')::boolean AS ok;
RESET opsmeter.workspace;
SELECT (opsmeter_drop_workspace('late_other') -> 'rowsErased' ->> 'late_arrivals')::int AS names_erased;
SELECT count(*) AS names_left FROM pg_temp.named();

RESET opsmeter.summarize_day_rows;
