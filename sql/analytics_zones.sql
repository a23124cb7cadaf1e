-- analytics_zones: in any session TimeZone every view and function form
-- gives exactly what the same question asked of the raw rows gives: before
-- rollup, after rollup (days with and without tier 2), and, for what the
-- summaries keep (overview, models), after the raw rows have left.  Zones
-- with a 30- or 45-minute offset and zones whose offset changes (DST) are
-- the hard cases, America/Santiago among them: its clocks skip from 00:00
-- to 01:00, so its first day of summer time begins at 01:00.  The traffic
-- sits on the days around every offset change of these zones in the last
-- 400 days, so each run covers a DST change whatever the date.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;
SELECT opsmeter_create_workspace('zones_ws') IS NOT NULL AS created;
SET opsmeter.workspace = 'zones_ws';
SELECT opsmeter_set_retention('400 days', '400 days');

CREATE TEMP TABLE zones (tz text PRIMARY KEY);
INSERT INTO zones VALUES ('UTC'), ('America/New_York'), ('Asia/Kolkata'), ('Asia/Kathmandu'),
    ('Australia/Lord_Howe'), ('Pacific/Chatham'), ('America/St_Johns'), ('America/Santiago'),
    ('America/Havana');

-- Every change of a zone's UTC offset in the last 395 days (hourly steps).
CREATE TEMP TABLE offset_changes AS
SELECT z.tz, t AS changed_at
  FROM zones z, generate_series(date_trunc('hour', now()) - interval '395 days', now(), interval '1 hour') t
 WHERE (t AT TIME ZONE z.tz) - (t AT TIME ZONE 'UTC')
    <> ((t - interval '1 hour') AT TIME ZONE z.tz) - ((t - interval '1 hour') AT TIME ZONE 'UTC');
SELECT tz, count(*) > 0 AS offset_changes_covered FROM zones LEFT JOIN offset_changes USING (tz)
 WHERE tz IN ('America/New_York', 'Australia/Lord_Howe', 'Pacific/Chatham', 'America/St_Johns', 'America/Santiago',
              'America/Havana')
 GROUP BY 1 ORDER BY 1;

-- local_day_start(D), the first instant of local day D, against a search:
-- the earliest quarter hour around D::timestamptz whose local date is D
-- (every offset in use is a multiple of 15 minutes), for every day of the
-- last 400 days in every zone.  In America/Havana midnight happens twice
-- once a year (its clocks go back from 01:00 to 00:00); PostgreSQL reads
-- D::timestamptz as the second, an hour late.
CREATE FUNCTION pg_temp.day_starts(zone text, OUT wrong bigint, OUT some_midnight_twice boolean)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('TimeZone', zone, true);
    SELECT count(*) FILTER (WHERE opsmeter.local_day_start(d.day) IS DISTINCT FROM
                                  (SELECT min(t) FROM generate_series(d.day::timestamptz - interval '3 hours',
                                                                      d.day::timestamptz + interval '3 hours',
                                                                      interval '15 minutes') t
                                    WHERE t::date = d.day)),
           bool_or(opsmeter.local_day_start(d.day) <> d.day::timestamptz)
      INTO wrong, some_midnight_twice
      FROM (SELECT current_date - i AS day FROM generate_series(0, 400) i) d;
    PERFORM set_config('TimeZone', 'UTC', true);
END
$$;
SELECT z.tz, s.* FROM zones z, pg_temp.day_starts(z.tz) s ORDER BY 1;

-- Traffic: the UTC days around each change, and the last two days.  Dense
-- days (every 47 seconds, few users and models: they get detailed) and
-- sparse ones (every 23 minutes: they stay on tier 1 and raw rows)
-- alternate.  Some test and staging rows, one unpriced model.
CREATE TEMP TABLE traffic_days AS
SELECT DISTINCT d::date AS day
  FROM (SELECT (changed_at AT TIME ZONE 'UTC')::date + k AS d FROM offset_changes, generate_series(-1, 1) k
        UNION SELECT (now() AT TIME ZONE 'UTC')::date - k FROM generate_series(0, 1) k) x;
CREATE TEMP TABLE traffic AS
SELECT row_number() OVER (ORDER BY ts) AS i, ts, dense
  FROM (SELECT d.day, (d.day - date '2000-01-01') % 2 = 0 AS dense FROM traffic_days d) d,
       LATERAL generate_series(d.day::timestamp AT TIME ZONE 'UTC',
                               least(d.day::timestamp AT TIME ZONE 'UTC' + interval '1 day' - interval '1 second',
                                     now() - interval '1 minute'),
                               CASE WHEN d.dense THEN interval '47 seconds' ELSE interval '23 minutes' END) ts;
SELECT count(*) > 0 AS ingested
  FROM (SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object(
                 'externalRequestId', 'z-' || i,
                 'provider', CASE WHEN i % 11 = 0 THEN 'acme' ELSE 'openai' END,
                 'model', CASE WHEN i % 11 = 0 THEN 'acme-1' WHEN i % 2 = 0 THEN 'gpt-4o' ELSE 'gpt-4o-mini' END,
                 'inputTokens', 100 + i % 900, 'outputTokens', 10 + i % 90, 'latencyMs', 50 + (i * 37) % 4000,
                 'status', CASE WHEN i % 17 = 0 THEN 'error' ELSE 'success' END,
                 'userId', CASE WHEN i % 9 = 0 THEN NULL ELSE 'user-' || (i % 3) END,
                 'tenantId', 'tenant-' || (i % 2), 'endpointTag', 'ep-' || (i % 2), 'promptVersion', 'v1',
                 'dataMode', CASE WHEN i % 29 = 0 THEN 'test' ELSE 'real' END,
                 'environment', CASE WHEN i % 31 = 0 THEN 'staging' ELSE 'prod' END,
                 'timestamp', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
          FROM traffic GROUP BY i / 5000) b;
SELECT (SELECT count(*) FROM traffic) = (SELECT count(*) FROM opsmeter.events WHERE workspace_id = opsmeter.active_workspace())
       AS all_stored;

-- The raw questions.  A local day is ts::date in the session TimeZone.
CREATE FUNCTION pg_temp.raw_overview(from_ts timestamptz) RETURNS TABLE (day date, requests bigint, errors bigint,
    input_tokens numeric, output_tokens numeric, total_tokens numeric, cost_usd numeric, unpriced_requests bigint,
    avg_latency_ms numeric, p95_latency_ms integer)
LANGUAGE sql AS $$
    SELECT e.ts::date, count(*), count(*) FILTER (WHERE e.is_error), sum(e.input_tokens), sum(e.output_tokens),
           sum(e.total_tokens), coalesce(sum(e.cost_usd), 0), count(*) FILTER (WHERE e.cost_usd IS NULL),
           round(avg(e.latency_ms), 2),
           opsmeter.latency_percentile(opsmeter.latency_histogram_of(e.latency_ms, 1), 0.95)
      FROM opsmeter.events e
     WHERE e.workspace_id = opsmeter.active_workspace() AND e.data_mode = 'real' AND e.ts >= from_ts
     GROUP BY 1
$$;
CREATE FUNCTION pg_temp.raw_ranked(dim text, from_ts timestamptz, to_ts timestamptz DEFAULT 'infinity')
RETURNS TABLE (day date, k text, requests bigint, cost_usd numeric, total_tokens numeric)
LANGUAGE sql AS $$
    SELECT NULL::date, CASE dim WHEN 'user' THEN coalesce(e.user_id, 'unknown')
                                WHEN 'tenant' THEN coalesce(e.tenant_id, 'unknown')
                                ELSE e.provider || '/' || e.model END,
           count(*), coalesce(sum(e.cost_usd), 0), sum(e.total_tokens)
      FROM opsmeter.events e
     WHERE e.workspace_id = opsmeter.active_workspace() AND e.data_mode = 'real' AND e.ts >= from_ts AND e.ts < to_ts
     GROUP BY 2
$$;
CREATE FUNCTION pg_temp.raw_daily(dim text) RETURNS TABLE (day date, k text, requests bigint, cost_usd numeric, total_tokens numeric)
LANGUAGE sql AS $$
    SELECT e.ts::date, CASE dim WHEN 'user' THEN coalesce(e.user_id, 'unknown')
                                ELSE e.provider || '/' || e.model END,
           count(*), coalesce(sum(e.cost_usd), 0), sum(e.total_tokens)
      FROM opsmeter.events e
     WHERE e.workspace_id = opsmeter.active_workspace() AND e.data_mode = 'real'
     GROUP BY 1, 2
$$;

-- Each question as (question, row as jsonb): opsmeter's answer, then the
-- raw one.  Windows: no window (everything retained), calendar days, a
-- rolling 24 hours, and 90 minutes (from the minute).
CREATE FUNCTION pg_temp.opsmeter_answers() RETURNS TABLE (q text, a jsonb) LANGUAGE sql AS $$
    SELECT 'overview', to_jsonb(v) FROM opsmeter.overview v
    UNION ALL SELECT 'overview(3 days)', to_jsonb(v) FROM opsmeter_overview('3 days') v
    UNION ALL SELECT 'overview(24 hours)', to_jsonb(v) FROM opsmeter_overview('24 hours') v
    UNION ALL SELECT 'users', to_jsonb(x) FROM (SELECT NULL::date AS day, user_id AS k, requests, cost_usd, total_tokens
                                                  FROM opsmeter.top_users) x
    UNION ALL SELECT 'users(24 hours)', to_jsonb(x) FROM (SELECT NULL::date AS day, user_id AS k, requests, cost_usd, total_tokens
                                                            FROM opsmeter_top_users('24 hours', lim => 100)) x
    UNION ALL SELECT 'tenants(2 days)', to_jsonb(x) FROM (SELECT NULL::date AS day, tenant_id AS k, requests, cost_usd, total_tokens
                                                            FROM opsmeter_top_tenants('2 days', lim => 100)) x
    UNION ALL SELECT 'models', to_jsonb(x) FROM (SELECT NULL::date AS day, provider || '/' || model AS k, requests, cost_usd,
                                                        total_tokens FROM opsmeter.top_models) x
    UNION ALL SELECT 'models(90 minutes)', to_jsonb(x) FROM (SELECT NULL::date AS day, provider || '/' || model AS k, requests,
                                                                   cost_usd, total_tokens FROM opsmeter_top_models('90 minutes')) x
    UNION ALL SELECT 'daily users', to_jsonb(x) FROM (SELECT day, user_id AS k, requests, cost_usd, total_tokens
                                                        FROM opsmeter.daily_users) x
    UNION ALL SELECT 'daily models', to_jsonb(x) FROM (SELECT day, provider || '/' || model AS k, requests, cost_usd, total_tokens
                                                         FROM opsmeter.daily_models) x
    UNION ALL SELECT 'compare(user, 2 days)', to_jsonb(x)
      FROM (SELECT value, current_requests, previous_requests, current_cost_usd, previous_cost_usd
              FROM opsmeter_compare('user', '2 days')) x
    UNION ALL SELECT 'export', to_jsonb(x) FROM (SELECT count(*) AS n, sum(cost_usd) AS cost FROM opsmeter.export) x
$$;
CREATE FUNCTION pg_temp.raw_answers() RETURNS TABLE (q text, a jsonb) LANGUAGE sql AS $$
    SELECT 'overview', to_jsonb(v) FROM pg_temp.raw_overview('-infinity') v
    UNION ALL SELECT 'overview(3 days)', to_jsonb(v) FROM pg_temp.raw_overview(opsmeter.window_start('3 days')) v
    UNION ALL SELECT 'overview(24 hours)', to_jsonb(v) FROM pg_temp.raw_overview(opsmeter.window_start('24 hours')) v
    UNION ALL SELECT 'users', to_jsonb(x) FROM pg_temp.raw_ranked('user', '-infinity') x
    UNION ALL SELECT 'users(24 hours)', to_jsonb(x) FROM pg_temp.raw_ranked('user', opsmeter.window_start('24 hours')) x
    UNION ALL SELECT 'tenants(2 days)', to_jsonb(x) FROM pg_temp.raw_ranked('tenant', opsmeter.window_start('2 days')) x
    UNION ALL SELECT 'models', to_jsonb(x) FROM pg_temp.raw_ranked('model', '-infinity') x
    UNION ALL SELECT 'models(90 minutes)', to_jsonb(x) FROM pg_temp.raw_ranked('model', opsmeter.window_start('90 minutes')) x
    UNION ALL SELECT 'daily users', to_jsonb(x) FROM pg_temp.raw_daily('user') x
    UNION ALL SELECT 'daily models', to_jsonb(x) FROM pg_temp.raw_daily('model') x
    UNION ALL SELECT 'compare(user, 2 days)', to_jsonb(x)
      FROM (SELECT coalesce(c.k, p.k) AS value, coalesce(c.requests, 0) AS current_requests,
                   coalesce(p.requests, 0) AS previous_requests, coalesce(c.cost_usd, 0) AS current_cost_usd,
                   coalesce(p.cost_usd, 0) AS previous_cost_usd
              FROM pg_temp.raw_ranked('user', opsmeter.window_start('2 days')) c
              FULL JOIN pg_temp.raw_ranked('user', opsmeter.window_start('2 days') - interval '2 days',
                                           opsmeter.window_start('2 days')) p USING (k)) x
    UNION ALL SELECT 'export', to_jsonb(x)
      FROM (SELECT count(*) AS n, sum(cost_usd) AS cost FROM opsmeter.events
             WHERE workspace_id = opsmeter.active_workspace() AND data_mode = 'real') x
$$;
-- Per zone: how many answer rows differ between opsmeter and the raw
-- rows (0 when exact), over every question.
CREATE FUNCTION pg_temp.differences(zone text) RETURNS TABLE (question text, differing_rows bigint)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('TimeZone', zone, true);
    RETURN QUERY
    SELECT d.q, count(*) FROM (
        (SELECT * FROM pg_temp.opsmeter_answers() EXCEPT ALL SELECT * FROM pg_temp.raw_answers())
        UNION ALL
        (SELECT * FROM pg_temp.raw_answers() EXCEPT ALL SELECT * FROM pg_temp.opsmeter_answers())) d
     GROUP BY 1;
END
$$;
CREATE FUNCTION pg_temp.all_differences() RETURNS TABLE (tz text, question text, differing_rows bigint)
LANGUAGE plpgsql AS $$
DECLARE
    z text;
BEGIN
    FOR z IN SELECT zones.tz FROM zones ORDER BY 1 LOOP
        BEGIN
            RETURN QUERY SELECT z, d.* FROM pg_temp.differences(z) d;
        END;
        PERFORM set_config('TimeZone', 'UTC', true);
    END LOOP;
END
$$;

-- Before any rollup: every answer comes from raw rows.
SELECT * FROM pg_temp.all_differences();

-- After rollup: dense days are detailed, sparse ones are not, and every
-- answer is still exact in every zone.
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS rolled_up;
SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) > 0 AS some_days_detailed,
       count(*) FILTER (WHERE detail_rows IS NULL) > 0 AS some_days_not
  FROM opsmeter.rollup_days WHERE workspace_id = opsmeter.active_workspace();
SELECT * FROM pg_temp.all_differences();

-- Late rows for days already rolled up (pending beside summaries).
SELECT (opsmeter_ingest(jsonb_agg(jsonb_build_object(
          'externalRequestId', 'late-' || i, 'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 7, 'outputTokens', 7,
          'userId', 'user-late', 'latencyMs', 77,
          'timestamp', to_char((SELECT min(ts) FROM traffic) AT TIME ZONE 'UTC' + make_interval(mins => 13 * i),
                               'YYYY-MM-DD"T"HH24:MI:SS"Z"'))))
       ->> 'accepted')::int AS late_accepted
  FROM generate_series(1, 200) i;
SELECT * FROM pg_temp.all_differences();
SELECT (opsmeter_run_retention() ->> 'ok')::boolean AS rolled_up;
SELECT * FROM pg_temp.all_differences();

-- Summary rows never outnumber the raw rows of any day.
SELECT count(*) AS days_over_budget
  FROM (SELECT d.day, d.requests,
               (SELECT count(*) FROM opsmeter.summary_quarters q
                 WHERE q.workspace_id = d.workspace_id AND (q.period_start AT TIME ZONE 'UTC')::date = d.day)
             + (SELECT count(*) FROM opsmeter.summaries s
                 WHERE s.workspace_id = d.workspace_id AND (s.period_start AT TIME ZONE 'UTC')::date = d.day) AS rows
          FROM opsmeter.rollup_days d WHERE d.workspace_id = opsmeter.active_workspace()) x
 WHERE x.rows > x.requests;

-- The raw rows leave (raw retention 1 day): the overview and the model
-- lists keep every day, in every zone, exactly as the raw rows said.
CREATE TEMP TABLE kept_answers (tz text, q text, a jsonb);
DO $$
DECLARE
    z text;
BEGIN
    FOR z IN SELECT zones.tz FROM zones LOOP
        PERFORM set_config('TimeZone', z, true);
        INSERT INTO kept_answers SELECT z, r.* FROM pg_temp.raw_answers() r
         WHERE r.q IN ('overview', 'models', 'daily models');
    END LOOP;
END
$$;
RESET TimeZone;
SELECT opsmeter_set_retention('1 day', '400 days');
SELECT (r ->> 'rawRowsDeleted')::int > 0 AS raw_rows_deleted FROM opsmeter_run_retention() r;
CREATE FUNCTION pg_temp.kept_differences() RETURNS TABLE (tz text, differing_rows bigint) LANGUAGE plpgsql AS $$
DECLARE
    z text;
BEGIN
    FOR z IN SELECT zones.tz FROM zones ORDER BY 1 LOOP
        PERFORM set_config('TimeZone', z, true);
        RETURN QUERY SELECT z, count(*) FROM (
            (SELECT q, a FROM pg_temp.opsmeter_answers() WHERE q IN ('overview', 'models', 'daily models')
             EXCEPT ALL SELECT q, a FROM kept_answers k WHERE k.tz = z)
            UNION ALL
            (SELECT q, a FROM kept_answers k WHERE k.tz = z
             EXCEPT ALL SELECT q, a FROM pg_temp.opsmeter_answers() WHERE q IN ('overview', 'models', 'daily models'))) d;
    END LOOP;
END
$$;
SELECT * FROM pg_temp.kept_differences();
RESET TimeZone;

-- A BI tool's own filter on day: exactly the days asked for, and only
-- those days are read.  "Exactly": the filtered view gives the same rows
-- as the whole view filtered afterwards (OFFSET 0 keeps the filter out of
-- it); the whole view was proved equal to the raw answers above.  (It was
-- compared with the raw events, which raw retention has cut to the last
-- 24 hours: at 18:04 UTC no raw row was left of yesterday in Kathmandu.)
-- "Only": one per-day read (overview_of_day()) for each day shown, plus
-- at most one more: the local day after today, listed while it overlaps
-- the last UTC day that holds rows (read and found empty: 3 reads for 2
-- days at 17:30 UTC).  Each read is one call of opsmeter.facts() (a
-- summarized day) or of opsmeter.workspace_rows() (a day still in raw
-- rows); no other day is read.
SET TimeZone = 'Asia/Kathmandu';
SET track_functions = 'all';
BEGIN;
CREATE TEMP TABLE bi_answer AS SELECT * FROM opsmeter.overview WHERE day >= current_date - 1;
SELECT (SELECT sum(calls) FROM pg_stat_xact_user_functions
         WHERE schemaname = 'opsmeter' AND funcname = 'overview_of_day')
       BETWEEN (SELECT count(*) FROM bi_answer) AND (SELECT count(*) FROM bi_answer) + 1 AS days_read,
       (SELECT sum(calls) FROM pg_stat_xact_user_functions
         WHERE schemaname = 'opsmeter' AND funcname IN ('facts', 'workspace_rows'))
     = (SELECT sum(calls) FROM pg_stat_xact_user_functions
         WHERE schemaname = 'opsmeter' AND funcname = 'overview_of_day') AS one_read_per_day;
COMMIT;
RESET track_functions;
CREATE TEMP TABLE whole_view_filtered AS
SELECT * FROM (SELECT * FROM opsmeter.overview OFFSET 0) whole WHERE day >= current_date - 1;
SELECT (SELECT count(*) FROM bi_answer) BETWEEN 1 AND 2 AS one_or_two_days,
       NOT EXISTS (TABLE bi_answer EXCEPT ALL TABLE whole_view_filtered)
   AND NOT EXISTS (TABLE whole_view_filtered EXCEPT ALL TABLE bi_answer) AS days_asked_for;
RESET TimeZone;
SELECT opsmeter_set_retention(NULL, NULL);
RESET opsmeter.workspace;
