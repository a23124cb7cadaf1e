-- hostile_partitions: a workspace with a long retention and many partitions
-- must not make another tenant's 7-day dashboard open every partition.
-- opsmeter.events is one table for every tenant, one partition per UTC day;
-- a workspace that keeps a year of raw rows keeps a year of partitions.  A
-- view, function form or export of another workspace plans (and locks)
-- only the partitions of its own window: the UTC days from the window's
-- start to now + 1 hour (the pending rows' bound; no row is dated later).
-- Needs superuser (creates partitions and the prune_* roles).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SET TimeZone = 'UTC';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prune_hoarder') THEN
        CREATE ROLE prune_hoarder NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prune_victim') THEN
        CREATE ROLE prune_victim NOLOGIN;
    END IF;
END $$;
SELECT opsmeter_create_workspace('prune_hoarder_ws', 'prune_hoarder') IS NOT NULL AS hoarder_created,
       opsmeter_create_workspace('prune_victim_ws', 'prune_victim') IS NOT NULL AS victim_created;

-- Partitions of opsmeter.events locked by this transaction after running q
-- `times` times (PL/pgSQL may switch a statement to a generic plan after
-- five calls, and a generic plan locks every partition): how many, how many
-- lie outside the UTC days of [window_from, window_to), window_to (NULL:
-- open) being at most now + 1 hour, and how many of those days were not opened.  The
-- bounds are SQL expressions, evaluated in the same transaction as q.
CREATE FUNCTION pg_temp.partitions_opened(q text, window_from text, window_to text DEFAULT NULL,
                                          times integer DEFAULT 10,
                                          OUT opened bigint, OUT outside_window bigint, OUT window_days_missed bigint)
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    lo date;
    hi date;
    upto timestamptz;
BEGIN
    FOR i IN 1 .. times LOOP
        FOR r IN EXECUTE q LOOP
        END LOOP;
    END LOOP;
    EXECUTE 'SELECT ((' || window_from || ') AT TIME ZONE ''UTC'')::date' INTO lo;
    EXECUTE 'SELECT least(' || coalesce(window_to, '''infinity''::timestamptz') || ', statement_timestamp() + interval ''1 hour'')'
        INTO upto;
    hi := ((upto - interval '1 microsecond') AT TIME ZONE 'UTC')::date;
    WITH opened_days AS (
        SELECT to_date(substr(c.relname, 9), 'YYYYMMDD') AS day
          FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
          JOIN pg_inherits i ON i.inhrelid = l.relation
         WHERE i.inhparent = 'opsmeter.events'::regclass AND l.pid = pg_backend_pid()
    )
    SELECT (SELECT count(*) FROM opened_days),
           (SELECT count(*) FROM opened_days WHERE day < lo OR day > hi),
           (SELECT count(*) FROM generate_series(lo, hi, interval '1 day') d
             WHERE d::date NOT IN (SELECT day FROM opened_days))
      INTO opened, outside_window, window_days_missed;
END $$;

-- The hoarder keeps a year of raw rows and has traffic on each of the last
-- 60 days; every one of those days is a partition (and the coming week).
SELECT opsmeter.ensure_partitions((now() AT TIME ZONE 'UTC')::date - 60, (now() AT TIME ZONE 'UTC')::date + 7) >= 0 AS ensured;
SET ROLE prune_hoarder;
SET opsmeter.workspace = 'prune_hoarder_ws';
SELECT opsmeter_set_retention('365 days', '365 days');
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'h-' || i, 'provider', 'openai', 'model', 'gpt-4o-mini',
         'inputTokens', 1000, 'outputTokens', 100, 'latencyMs', 50 + i,
         'userId', 'hoarder-user-' || (i % 3),
         'timestamp', to_char((now() - make_interval(hours => 6 * i)) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted') AS hoarder_accepted
  FROM generate_series(1, 240) i;
RESET ROLE;
SELECT count(*) >= 68 AS many_partitions FROM pg_inherits WHERE inhparent = 'opsmeter.events'::regclass;

-- The victim: three days of traffic, rolled up, then a pending tail.
SET ROLE prune_victim;
SET opsmeter.workspace = 'prune_victim_ws';
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'v-' || i, 'provider', 'openai', 'model', CASE WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
         'inputTokens', 500 + i, 'outputTokens', 50, 'latencyMs', 30 + i,
         'userId', 'victim-user-' || (i % 4),
         'timestamp', to_char((now() - make_interval(mins => 45 * i)) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted') AS victim_accepted
  FROM generate_series(1, 96) i;
RESET ROLE;
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS rolled_up;
SET ROLE prune_victim;
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
         'externalRequestId', 'vt-' || i, 'provider', 'openai', 'model', 'gpt-4o',
         'inputTokens', 700, 'outputTokens', 70, 'latencyMs', 90,
         'userId', 'victim-user-' || (i % 4),
         'timestamp', to_char((now() - make_interval(mins => 5 * i)) AT TIME ZONE 'UTC',
                              'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted') AS victim_pending
  FROM generate_series(1, 10) i;
SELECT count(*) AS pending FROM opsmeter.events
 WHERE workspace_id = opsmeter.active_workspace() AND ingest_batch > opsmeter.rollup_watermark();
RESET ROLE;

-- The victim's 7-day dashboard, every form of it, each run ten times in its
-- own transaction: only the window's partitions are opened, and all of them
-- (0 outside, 0 missed).  The compare form's window is two ranges long.
CREATE TEMP TABLE victim_forms (form text, q text, window_from text, window_to text);
INSERT INTO victim_forms VALUES
    ('top_users view', 'SELECT * FROM opsmeter.top_users', $$opsmeter.window_start('7 days')$$),
    ('top_tenants view', 'SELECT * FROM opsmeter.top_tenants', $$opsmeter.window_start('7 days')$$),
    ('top_endpoints view', 'SELECT * FROM opsmeter.top_endpoints', $$opsmeter.window_start('7 days')$$),
    ('prompt_versions view', 'SELECT * FROM opsmeter.prompt_versions', $$opsmeter.window_start('7 days')$$),
    ('top_models view', 'SELECT * FROM opsmeter.top_models', $$opsmeter.window_start('7 days')$$),
    ('unpriced_models view', 'SELECT * FROM opsmeter.unpriced_models', $$opsmeter.window_start('7 days')$$),
    ('overview view', 'SELECT * FROM opsmeter.overview', $$opsmeter.window_start('7 days')$$),
    ('export view', 'SELECT * FROM opsmeter.export', $$opsmeter.window_start('7 days')$$),
    ('opsmeter_top_users(7 days)', $$SELECT * FROM opsmeter_top_users('7 days', 'all', 'all')$$,
     $$opsmeter.window_start('7 days')$$),
    ('opsmeter_overview(7 days)', $$SELECT * FROM opsmeter_overview('7 days', 'all')$$,
     $$opsmeter.window_start('7 days')$$),
    ('opsmeter_top_models(36 hours)', $$SELECT * FROM opsmeter_top_models('36 hours')$$,
     $$opsmeter.window_start('36 hours')$$),
    ('opsmeter_compare(user, 7 days)', $$SELECT * FROM opsmeter_compare('user', '7 days')$$,
     $$opsmeter.window_start('7 days') - interval '7 days'$$);
INSERT INTO victim_forms VALUES
    ('opsmeter_export(2 days)', $$SELECT * FROM opsmeter_export(now() - interval '2 days', now())$$,
     $$now() - interval '2 days'$$, 'now()');
CREATE TEMP TABLE victim_opened (form text, opened bigint, outside_window bigint, window_days_missed bigint);
GRANT SELECT ON victim_forms TO prune_victim;
GRANT INSERT ON victim_opened TO prune_victim;
SET ROLE prune_victim;
SET opsmeter.range = '7d';    -- the dashboard's window (the views have none by default)
SELECT format('INSERT INTO victim_opened SELECT f.form, o.* FROM victim_forms f, '
              'pg_temp.partitions_opened(f.q, f.window_from, f.window_to) o WHERE f.form = %L', form)
  FROM victim_forms ORDER BY form \gexec
RESET ROLE;
SELECT form, outside_window, window_days_missed,
       opened <= CASE WHEN form LIKE 'opsmeter_compare%' THEN 15 ELSE 8 END AS at_most_window_days,
       opened < (SELECT count(*) FROM pg_inherits WHERE inhparent = 'opsmeter.events'::regclass) AS fewer_than_all
  FROM victim_opened ORDER BY form;

SET ROLE prune_victim;
-- A window in another TimeZone starts at its local midnight, inside a UTC
-- day: that day's partition is opened too, and no other.
SET TimeZone = 'America/New_York';
SELECT o.outside_window, o.window_days_missed, o.opened <= 9 AS at_most_9
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.top_users', $$opsmeter.window_start('7 days')$$) o;
SET TimeZone = 'UTC';
RESET opsmeter.range;

-- A window longer than the raw retention (30 days by default) is cut there:
-- a 60-day user list opens the retained days only (from the first whole
-- hour inside raw retention).
SET opsmeter.range = '60d';
SELECT o.outside_window, o.window_days_missed, o.opened <= 32 AS at_most_32
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.top_users',
         $$date_trunc('hour', (opsmeter.retained_from(opsmeter.active_workspace())).raw_from, 'UTC') + interval '1 hour'$$) o;
RESET opsmeter.range;

-- With no window set, a view reads what this workspace retains (30 days of
-- raw rows), never the hoarder's year of partitions.
-- (Days without rows of this workspace are skipped, so some retained days
-- may not be opened at all.)
SELECT o.outside_window, o.opened <= 32 AS at_most_32
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.top_users',
         $$date_trunc('hour', (opsmeter.retained_from(opsmeter.active_workspace())).raw_from, 'UTC')$$) o;
SELECT o.outside_window, o.opened <= 32 AS at_most_32
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.export',
         $$(opsmeter.retained_from(opsmeter.active_workspace())).raw_from$$, NULL, 1) o;

-- A BI tool sets no window and filters on day itself: only the days it
-- asks for are opened, whether they are read through facts() or, as this
-- small workspace's are, from the raw rows alone.
SELECT opsmeter.window_reader(opsmeter.session_window_start()) = 1 AS read_from_raw_rows;
SELECT o.outside_window, o.window_days_missed, o.opened <= 3 AS at_most_3
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.daily_users WHERE day >= current_date - 1',
                                 $$(current_date - 1)::timestamptz$$) o;
SELECT o.outside_window, o.window_days_missed, o.opened <= 3 AS at_most_3
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.overview WHERE day >= current_date - 1',
                                 $$(current_date - 1)::timestamptz$$) o;

-- The answers are whole: the views and the export agree with the raw table.
SELECT (SELECT sum(requests) FROM opsmeter.top_users) AS view_requests,
       (SELECT count(*) FROM opsmeter.export) AS export_rows,
       (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace()) AS raw_rows;
SELECT u.user_id, u.requests, u.cost_usd, r.requests AS raw_requests, r.cost_usd AS raw_cost_usd
  FROM opsmeter.top_users u
  FULL JOIN (SELECT user_id, count(*) AS requests, sum(cost_usd) AS cost_usd FROM opsmeter.events
              WHERE workspace_id = opsmeter.active_workspace() GROUP BY 1) r USING (user_id)
 ORDER BY 1;
RESET ROLE;

-- The hoarder's own long window opens the days it asks for (the limit of
-- the guarantee: a window costs its own length), and answers in full.
SET ROLE prune_hoarder;
SET opsmeter.workspace = 'prune_hoarder_ws';
SET opsmeter.range = '60d';
SELECT o.outside_window, o.window_days_missed, o.opened >= 60 AS at_least_60
  FROM pg_temp.partitions_opened('SELECT * FROM opsmeter.top_users', $$opsmeter.window_start('60 days')$$) o;
SELECT (SELECT sum(requests) FROM opsmeter.top_users)
     = (SELECT count(*) FROM opsmeter.events
         WHERE workspace_id = opsmeter.active_workspace() AND ts >= opsmeter.window_start('60 days')) AS hoarder_answer_whole;
RESET opsmeter.range;
RESET ROLE;
RESET opsmeter.workspace;
