------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------
CREATE TABLE opsmeter.retention_runs (
    run_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at           timestamptz NOT NULL,
    finished_at          timestamptz NOT NULL,
    triggered_by         text NOT NULL CHECK (triggered_by IN ('worker', 'manual', 'cron')),
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
    error                text,
    partitions_skipped   text[]      -- due for drop, but locked by another session: left for the next pass
);
COMMENT ON TABLE opsmeter.retention_runs IS
    'one row per retention pass, by the worker or by hand; each pass deletes those older than opsmeter.retention_runs_keep';

CREATE FUNCTION opsmeter.guc_raw_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_raw_retention' LANGUAGE C STABLE PARALLEL SAFE;
CREATE FUNCTION opsmeter.guc_summary_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_summary_retention' LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION opsmeter.guc_key_generation() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_key_generation' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_key_generation() IS
    'opsmeter.key_generation: the age at which a retention pass seals the open generation of dedup keys';
CREATE FUNCTION opsmeter.guc_key_generation_size() RETURNS bigint
    AS 'MODULE_PATHNAME', 'opsmeter_guc_key_generation_size' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_key_generation_size() IS
    'opsmeter.key_generation_size in bytes: the size of the open generation''s key index at which a retention pass seals it (0: by age only)';

CREATE FUNCTION opsmeter.guc_retention_runs_keep() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_retention_runs_keep' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_retention_runs_keep() IS
    'opsmeter.retention_runs_keep: how long each pass''s record stays in opsmeter.retention_runs';

CREATE FUNCTION opsmeter.guc_max_raw_retention() RETURNS interval
    AS 'MODULE_PATHNAME', 'opsmeter_guc_max_raw_retention' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION opsmeter.guc_max_raw_retention() IS
    'opsmeter.max_raw_retention: the longest raw retention any workspace may have (superuser setting)';

-- The raw and summary retention of each workspace (its own, else the GUCs).
-- Raw retention is capped by opsmeter.max_raw_retention: it decides how many
-- daily partitions of the shared table exist, so no workspace goes past the
-- superuser's ceiling, even with a setting made before the ceiling was lowered.
-- (One formula, for a workspace's own settings: retention_of(); the
-- analytics horizon, opsmeter.retained_from(), applies the same one.)
CREATE FUNCTION opsmeter.retention_of(raw_setting interval, summary_setting interval,
                                      OUT raw interval, OUT summary interval)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT least(coalesce(raw_setting, opsmeter.guc_raw_retention()), opsmeter.guc_max_raw_retention()),
           coalesce(summary_setting, opsmeter.guc_summary_retention())
$$;
CREATE FUNCTION opsmeter.effective_retention(OUT workspace_id bigint, OUT raw interval, OUT summary interval)
RETURNS SETOF record
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT w.workspace_id, r.raw, r.summary
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
$$;

-- Merges the first run of eight adjacent sealed generations of one level
-- (lowest level first) whose ingest time spans at most
-- opsmeter.key_generation, into one generation of the next level under
-- the first one's number, with its key filter; returns how many left (0:
-- nothing to merge).  Sealing by size keeps the open generation small;
-- merging keeps the sealed ones few, each key rewritten once per level.
-- Cleanups delete keys through the parent, so it is held EXCLUSIVE from
-- the start: none deletes from a source after its keys were copied, nor
-- plans over the partitions as they were.  The sources are dropped under
-- the parent's ACCESS EXCLUSIVE lock (every ingest holds each sealed
-- generation ACCESS SHARE for its call, so this waits for them); a lock
-- not granted within the pass's lock_timeout raises lock_not_available.
CREATE FUNCTION opsmeter._merge_key_generations(nowait text) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    fan_in constant integer := 8;
    sources integer[];
    source_level integer;
    first_opened timestamptz;
    last_sealed timestamptz;
    part text;
    merged text;
    gen integer;
    filter bytea;
BEGIN
    SELECT r.gens, r.level, r.first_opened, r.last_sealed INTO sources, source_level, first_opened, last_sealed
      FROM (SELECT g.level,
                   array_agg(g.generation) OVER w AS gens,
                   array_agg(g.level) OVER w AS levels,
                   min(g.opened_at) OVER w AS first_opened,
                   max(g.sealed_at) OVER w AS last_sealed
              FROM opsmeter.key_generations g
             WHERE g.sealed_at IS NOT NULL
            WINDOW w AS (ORDER BY g.generation ROWS BETWEEN CURRENT ROW AND 7 FOLLOWING)) r
     WHERE cardinality(r.gens) = fan_in
       AND r.level = ALL (r.levels)
       AND r.last_sealed - r.first_opened <= opsmeter.guc_key_generation()
     ORDER BY r.level, r.gens[1]
     LIMIT 1;
    IF sources IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN EXCLUSIVE MODE' || nowait;
    part := opsmeter.key_generation_name(sources[1]);
    merged := part || '_merged';
    PERFORM opsmeter._create_key_generation_table(merged, sources[1]);
    EXECUTE format('INSERT INTO opsmeter.%I (workspace_id, external_request_id, event_day, generation)
                    SELECT k.workspace_id, k.external_request_id, k.event_day, $1
                      FROM opsmeter.request_keys k WHERE k.generation = ANY ($2)', merged)
       USING sources[1], sources;
    -- Unique: no key is ever in two generations (src/README.md, "dedup").
    EXECUTE format('CREATE UNIQUE INDEX %I ON opsmeter.%I (workspace_id, external_request_id)', merged || '_key', merged);
    filter := opsmeter._key_filter(format('opsmeter.%I', merged)::regclass);
    EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN ACCESS EXCLUSIVE MODE' || nowait;
    FOREACH gen IN ARRAY sources LOOP
        EXECUTE format('LOCK TABLE opsmeter.%I IN ACCESS EXCLUSIVE MODE', opsmeter.key_generation_name(gen)) || nowait;
        EXECUTE format('DROP TABLE opsmeter.%I', opsmeter.key_generation_name(gen));
    END LOOP;
    EXECUTE format('ALTER TABLE opsmeter.%I RENAME TO %I', merged, part);
    EXECUTE format('ALTER INDEX opsmeter.%I RENAME TO %I', merged || '_key', part || '_key');
    EXECUTE format('ALTER TABLE opsmeter.request_keys ATTACH PARTITION opsmeter.%I FOR VALUES IN (%s)', part, sources[1]);
    DELETE FROM opsmeter.key_generations g WHERE g.generation = ANY (sources[2:]);
    UPDATE opsmeter.key_generations g
       SET level = source_level + 1, opened_at = first_opened, sealed_at = last_sealed, key_filter = filter
     WHERE g.generation = sources[1];
    RETURN fan_in;
END
$$;

-- Removes what is past retention.  Raw days past every workspace's raw
-- retention leave by DROP of their partition, and only when fully rolled
-- up; workspaces with a shorter retention lose their older (rolled-up)
-- rows by DELETE; summaries past retention are deleted.  Runs after
-- _rollup() in the same pass.
--
-- It never waits on another session for more than
-- opsmeter.retention_lock_wait (0: not at all): a partition it cannot lock
-- in time is skipped, named in partitions_skipped, and dropped by a later
-- pass.  Lock order, the same as a reader's: the parent opsmeter.events
-- first, then its partitions.  The parent's ACCESS EXCLUSIVE lock (which a
-- DROP of a partition needs) is taken last, after everything else, and
-- held to the end of the pass: the drops and their key purges are all that
-- runs under it.
CREATE FUNCTION opsmeter._enforce_retention(OUT partitions_dropped integer, OUT partitions_created integer,
                                            OUT raw_rows_deleted bigint, OUT keys_purged bigint,
                                            OUT summary_rows_deleted bigint, OUT partitions_skipped text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '5s' AS $$
DECLARE
    global_raw interval := opsmeter.guc_raw_retention();
    longest_raw interval;
    w bigint;
    holes bigint[];
    part record;
    due_rels regclass[];
    due_ws bigint[];         -- workspace-days to summarize before their raw rows leave
    due_ws_days date[];
    n bigint;
    busy boolean;
    today date := (now() AT TIME ZONE 'UTC')::date;
    lock_wait text := current_setting('opsmeter.retention_lock_wait');
    nowait text;
    oldest_day date;
    gen integer;
    opened timestamptz;
    seal_size numeric;       -- NULL: never by size
    keys_gone bigint;
BEGIN
    partitions_dropped := 0;
    partitions_created := 0;
    raw_rows_deleted := 0;
    keys_purged := 0;
    partitions_skipped := '{}';
    -- 0 means NOWAIT (lock_timeout 0 would mean "forever").
    nowait := CASE WHEN lock_wait IN ('0', '0ms') THEN ' NOWAIT' ELSE '' END;
    w := opsmeter.rollup_watermark();
    holes := opsmeter.rollup_holes();
    SELECT greatest(global_raw, max(r.raw)) INTO longest_raw FROM opsmeter.effective_retention() r;

    -- Days still in raw rows only (opsmeter.rollup_days) get their tier-1
    -- rows before any of their raw rows leave: each day that begins before
    -- its workspace's raw horizon and ends inside its summary retention.
    -- (Both the row-by-row deletes and the partition drops below remove
    -- only rows before that horizon.)
    SELECT coalesce(array_agg(d.workspace_id), '{}'), coalesce(array_agg(d.day), '{}') INTO due_ws, due_ws_days
      FROM opsmeter.rollup_days d
      JOIN opsmeter.effective_retention() r USING (workspace_id)
     WHERE d.quarter_rows IS NULL
       AND d.day::timestamp AT TIME ZONE 'UTC' < now() - r.raw
       AND (d.day + 1)::timestamp AT TIME ZONE 'UTC' > now() - r.summary;
    IF due_ws <> '{}' THEN
        UPDATE opsmeter.rollup_days d SET quarter_rows = coalesce(f.groups, 0)
          FROM unnest(due_ws, due_ws_days) s(workspace_id, day)
          LEFT JOIN opsmeter._fold_quarters(0, w, '{}', holes, due_ws, due_ws_days, true, false) f USING (workspace_id, day)
         WHERE d.workspace_id = s.workspace_id AND d.day = s.day;
    END IF;

    -- Workspaces whose raw retention is shorter than the longest: their older
    -- rolled-up rows leave row by row, with their dedup keys (only theirs:
    -- every other workspace's rows and keys leave by whole partitions).
    FOR part IN
        SELECT r.workspace_id, r.raw FROM opsmeter.effective_retention() r WHERE r.raw < longest_raw
    LOOP
        WITH gone AS (
            DELETE FROM opsmeter.events e
             WHERE e.workspace_id = part.workspace_id
               AND e.ts < now() - part.raw AND e.ingest_batch <= w AND e.ingest_batch <> ALL (holes)
            RETURNING e.workspace_id, e.external_request_id, e.ts
        ), keys AS (
            DELETE FROM opsmeter.request_keys k USING gone g
             WHERE k.workspace_id = g.workspace_id AND k.external_request_id = g.external_request_id
            RETURNING 1
        ), trimmed AS (
            -- the days that lost raw rows remember it (rollup_days)
            UPDATE opsmeter.rollup_days d SET raw_deleted_before = greatest(d.raw_deleted_before, now() - part.raw)
              FROM (SELECT DISTINCT (g.ts AT TIME ZONE 'UTC')::date AS day FROM gone g) x
             WHERE d.workspace_id = part.workspace_id AND d.day = x.day
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM keys) INTO n, keys_gone;
        raw_rows_deleted := raw_rows_deleted + n;
        keys_purged := keys_purged + keys_gone;
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
    DELETE FROM opsmeter.summary_quarters q
     USING opsmeter.effective_retention() r
     WHERE q.workspace_id = r.workspace_id
       AND date_trunc('hour', q.period_start, 'UTC') + interval '1 hour' <= now() - r.summary;
    GET DIAGNOSTICS n = ROW_COUNT;
    summary_rows_deleted := summary_rows_deleted + n;
    DELETE FROM opsmeter.rollup_days d
     USING opsmeter.effective_retention() r
     WHERE d.workspace_id = r.workspace_id
       AND (d.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - r.summary;

    -- The records of passes, one a minute at the default interval.
    DELETE FROM opsmeter.retention_runs r WHERE r.started_at < now() - opsmeter.guc_retention_runs_keep();

    -- Budgets look at the current UTC day and month only; keep two months.
    DELETE FROM opsmeter.spend_counters c
     WHERE c.day < (date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month')::date;

    -- Memberships and invitations of dropped (or renamed) roles: they grant
    -- nothing already; they leave for good.
    PERFORM opsmeter._purge_stale_members(NULL);

    -- From here on no lock is waited for longer than opsmeter.retention_lock_wait.
    IF nowait = '' THEN
        PERFORM set_config('lock_timeout', lock_wait, true);
    END IF;

    -- The coming week.  Creating a day takes SHARE UPDATE EXCLUSIVE on the
    -- parent, which an ingest creating a day holds until it commits: taken
    -- here first, within the bound, and a busy parent leaves the week to
    -- the next pass (ingest creates a missing day on demand anyway).
    IF EXISTS (SELECT 1 FROM generate_series(today, today + 7, interval '1 day') d
                WHERE to_regclass('opsmeter.' || quote_ident(opsmeter.partition_name(d::date))) IS NULL) THEN
        BEGIN
            EXECUTE 'LOCK TABLE ONLY opsmeter.events IN SHARE UPDATE EXCLUSIVE MODE' || nowait;
            partitions_created := opsmeter.ensure_partitions(today, today + 7);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: opsmeter.events is locked by another session; the coming days will be created by a later pass';
        END;
    END IF;

    <<drop_days>>
    BEGIN
        -- Whole days older than every workspace's raw retention.
        SELECT array_agg(x.rel ORDER BY x.day) INTO due_rels
          FROM opsmeter.event_partitions() x
         WHERE (x.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - longest_raw;
        IF due_rels IS NULL THEN
            EXIT drop_days;
        END IF;
        -- The parent first, as every reader locks it before its partitions: a
        -- reader holding it makes us give up instead of waiting, and one that
        -- comes after waits for us at most until the pass commits.
        BEGIN
            EXECUTE 'LOCK TABLE ONLY opsmeter.events IN ACCESS EXCLUSIVE MODE' || nowait;
        EXCEPTION WHEN lock_not_available THEN
            partitions_skipped := due_rels::text[];
            RAISE WARNING 'opsmeter: opsmeter.events is in use; % partition(s) due for drop are left for a later pass',
                          cardinality(partitions_skipped);
            EXIT drop_days;
        END;
        FOR i IN 1 .. cardinality(due_rels) LOOP
            BEGIN
                -- An ingest still writing into this day holds it (ROW EXCLUSIVE)
                -- and makes us skip it; once we hold it, its rows are either
                -- seen above the watermark (and the day kept) or rolled up.
                EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', due_rels[i]) || nowait;
                EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE ingest_batch > $1 OR ingest_batch = ANY ($2))', due_rels[i])
                   INTO STRICT busy USING w, holes;
                IF busy THEN
                    CONTINUE;           -- not rolled up yet: a later pass drops it
                END IF;
                EXECUTE format('DROP TABLE %s', due_rels[i]);
                partitions_dropped := partitions_dropped + 1;
            EXCEPTION WHEN lock_not_available THEN
                partitions_skipped := partitions_skipped || due_rels[i]::text;
                RAISE WARNING 'opsmeter: partition % is busy; it will be dropped by a later pass', due_rels[i];
            END;
        END LOOP;
    END drop_days;

    -- Dedup keys (src/README.md, "dedup"): a sealed generation leaves whole,
    -- uncounted, once no day of opsmeter.events that could hold a row of its
    -- keys is left.  Its keys' days end at the seal's day (ingest refuses
    -- timestamps more than 5 minutes past its statement's start), and no
    -- later ingest writes into it.
    SELECT min(x.day) INTO oldest_day FROM opsmeter.event_partitions() x;
    FOR gen IN
        SELECT g.generation FROM opsmeter.key_generations g
         WHERE g.sealed_at IS NOT NULL
           AND (oldest_day IS NULL OR ((g.sealed_at + interval '5 minutes') AT TIME ZONE 'UTC')::date < oldest_day)
         ORDER BY g.generation
    LOOP
        BEGIN
            -- Dropping a partition locks its parent; then the generation,
            -- which every ingest reads for a moment.
            EXECUTE 'LOCK TABLE ONLY opsmeter.request_keys IN ACCESS EXCLUSIVE MODE' || nowait;
            EXECUTE format('DROP TABLE IF EXISTS opsmeter.%I', opsmeter.key_generation_name(gen));
            DELETE FROM opsmeter.key_generations g WHERE g.generation = gen;
        EXCEPTION WHEN lock_not_available THEN
            partitions_skipped := partitions_skipped || ('opsmeter.' || opsmeter.key_generation_name(gen));
            RAISE WARNING 'opsmeter: dedup keys are in use; generation % will be dropped by a later pass', gen;
            EXIT;
        END;
    END LOOP;

    -- Key filters for the generations sealed since (src/key_filter.c): no
    -- ingest writes into them, so a filter built now misses no key.  Each
    -- on its own: one that fails (its table gone) stays without a filter,
    -- which only costs lookups, and the pass goes on.
    FOR gen IN
        SELECT g.generation FROM opsmeter.key_generations g
         WHERE g.sealed_at IS NOT NULL AND g.key_filter IS NULL
           AND to_regclass(format('opsmeter.%I', opsmeter.key_generation_name(g.generation))) IS NOT NULL
         ORDER BY g.generation
    LOOP
        BEGIN
            UPDATE opsmeter.key_generations g
               SET key_filter = opsmeter._key_filter(format('opsmeter.%I', opsmeter.key_generation_name(gen))::regclass)
             WHERE g.generation = gen;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'opsmeter: the key filter of generation % could not be built: %', gen, SQLERRM;
        END;
    END LOOP;

    -- Merge eight small sealed generations into one (at most one merge a
    -- pass: a merge rewrites their keys).  A merge that fails leaves the
    -- generations as they were, and the pass goes on: more generations cost
    -- ingest a filter check each, a failed pass would stop retention.
    BEGIN
        PERFORM opsmeter._merge_key_generations(nowait);
    EXCEPTION
        WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: dedup keys are in use; their generations will be merged by a later pass';
        WHEN OTHERS THEN
            RAISE WARNING 'opsmeter: merging generations of dedup keys failed: %', SQLERRM
                  USING HINT = 'The generations stay as they are; a later pass tries again.';
    END;

    -- Seal the open generation once it is older than opsmeter.key_generation
    -- or its key index has reached its seal size (or open the first).  A
    -- page of that index is written whole at most once per checkpoint
    -- interval, so full-page images add about (index bytes / keys written
    -- per interval) to each new key's WAL: the seal size keeps that under
    -- 350 bytes at the open generation's own rate of keys and
    -- checkpoint_timeout, and is never less than opsmeter.key_generation_size
    -- (0: by age only).  At high rates the open generation grows large, and
    -- there is less to merge.  Sealing waits, at most as long as any lock
    -- here, for the ingests writing into it; ingests that come meanwhile
    -- wait for this pass to commit, so it is the last step.
    SELECT g.generation, g.opened_at INTO gen, opened FROM opsmeter.key_generations g WHERE g.sealed_at IS NULL;
    IF gen IS NOT NULL AND opsmeter.guc_key_generation_size() > 0 THEN
        seal_size := greatest(opsmeter.guc_key_generation_size(),
                              350 * pg_stat_get_tuples_inserted(format('opsmeter.%I', opsmeter.key_generation_name(gen))::regclass)
                                  / greatest(1, extract(epoch FROM clock_timestamp() - opened))
                                  * extract(epoch FROM current_setting('checkpoint_timeout')::interval));
    END IF;
    IF gen IS NULL OR opened <= clock_timestamp() - opsmeter.guc_key_generation()
       OR pg_relation_size(format('opsmeter.%I', opsmeter.key_generation_name(gen) || '_key')::regclass) >= seal_size THEN
        BEGIN
            IF gen IS NOT NULL THEN
                EXECUTE format('LOCK TABLE opsmeter.%I IN SHARE MODE', opsmeter.key_generation_name(gen)) || nowait;
            END IF;
            PERFORM opsmeter._open_key_generation(true);
        EXCEPTION WHEN lock_not_available THEN
            RAISE WARNING 'opsmeter: dedup key generation % is being written; a later pass will seal it', gen;
        END;
    END IF;
END
$$;

-- One retention pass (rollup, then retention), recorded in retention_runs.
CREATE FUNCTION @extschema@.opsmeter_run_retention() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_run_retention' LANGUAGE C VOLATILE PARALLEL UNSAFE;

-- The same pass for a scheduler (pg_cron): the pass and its record commit,
-- then a failed pass raises its error, so the scheduler marks the run
-- failed while retention_runs keeps the record.  A procedure, because only
-- a procedure may commit; and so without SET clauses (a procedure with one
-- may not commit): every name in it is schema-qualified instead.
CREATE PROCEDURE @extschema@.opsmeter_run_retention_job()
LANGUAGE plpgsql AS $$
DECLARE
    result pg_catalog.jsonb;
BEGIN
    result := @extschema@.opsmeter_run_retention();
    COMMIT;
    IF result OPERATOR(pg_catalog.->>) 'ok' OPERATOR(pg_catalog.=) 'false' THEN
        RAISE EXCEPTION 'opsmeter retention pass failed: %', result OPERATOR(pg_catalog.->>) 'error'
            USING ERRCODE = result OPERATOR(pg_catalog.->>) 'sqlstate',
                  HINT = 'The pass was rolled back and is recorded in opsmeter.retention_runs; the next run retries it.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@.opsmeter_run_retention() IS
    'run one rollup + retention pass now (superusers and opsmeter_admin); returns its figures, and ok false when it failed';
COMMENT ON PROCEDURE @extschema@.opsmeter_run_retention_job() IS
    'run one pass for a scheduler such as pg_cron (CALL, outside a transaction block): a failed pass is recorded, then raises';

-- What a DBA watches (issue #16): the worker, the last passes, what is
-- pending, what retention has left to do.  Counts and times only, no
-- tenant's row: readable by opsmeter_admin, reading as the view's owner
-- (so row-level security does not hide the pending rows from it).
CREATE VIEW opsmeter.worker_status AS
WITH runs AS (
    SELECT r.run_id, r.started_at, r.finished_at, r.triggered_by, r.ok, r.error, r.duration_ms, r.partitions_skipped
      FROM opsmeter.retention_runs r
), last_run AS (
    SELECT * FROM runs ORDER BY run_id DESC LIMIT 1
), last_ok AS (
    SELECT max(started_at) AS started_at, max(run_id) AS run_id FROM runs WHERE ok
), pending AS (
    SELECT count(*) AS pending_rows, min(e.ingested_at) AS oldest_pending_at
      FROM opsmeter.events e
     WHERE e.ingest_batch > opsmeter.rollup_watermark() OR e.ingest_batch = ANY (opsmeter.rollup_holes())
), days AS (
    SELECT x.day FROM opsmeter.event_partitions() x
), longest AS (
    -- every workspace's, read as the view's owner (effective_retention()
    -- would show the caller only the workspaces it belongs to)
    SELECT greatest(opsmeter.guc_raw_retention(), max(r.raw)) AS raw
      FROM opsmeter.workspaces w, opsmeter.retention_of(w.raw_retention, w.summary_retention) r
), worker AS (
    SELECT a.pid, a.state, a.backend_start
      FROM pg_catalog.pg_stat_activity a
     WHERE a.backend_type = 'opsmeter worker' AND a.datid = (SELECT d.oid FROM pg_catalog.pg_database d
                                                             WHERE d.datname = pg_catalog.current_database())
)
SELECT (SELECT w.pid FROM worker w LIMIT 1) AS worker_pid,
       (SELECT coalesce(w.state, 'running') FROM worker w LIMIT 1) AS worker_state,
       current_setting('opsmeter.worker_enabled', true)::boolean AS worker_enabled,
       current_setting('opsmeter.worker_interval', true)::interval AS worker_interval,
       l.started_at AS last_pass_at,
       l.triggered_by AS last_pass_by,
       l.duration_ms AS last_pass_duration_ms,
       l.ok AS last_pass_ok,
       l.error AS last_pass_error,
       ok.started_at AS last_ok_pass_at,
       (SELECT count(*) FROM runs f WHERE NOT f.ok AND f.run_id > coalesce(ok.run_id, 0)) AS failed_passes_since_ok,
       CASE WHEN current_setting('opsmeter.worker_enabled', true)::boolean AND EXISTS (SELECT 1 FROM worker)
            THEN coalesce((SELECT max(f.finished_at) FROM runs f WHERE f.triggered_by = 'worker'),
                          (SELECT w.backend_start FROM worker w LIMIT 1))
                 + current_setting('opsmeter.worker_interval', true)::interval
       END AS next_pass_due,
       p.pending_rows,
       p.oldest_pending_at,
       now() - p.oldest_pending_at AS oldest_pending_age,
       (SELECT count(*) FROM days) AS partitions,
       (SELECT count(*) FROM days d, longest g
         WHERE (d.day + 1)::timestamp AT TIME ZONE 'UTC' <= now() - g.raw) AS partitions_due_for_drop,
       coalesce(l.partitions_skipped, '{}') AS last_pass_skipped,
       (SELECT count(*) FROM opsmeter.key_generations) AS key_generations
  FROM pending p
  LEFT JOIN last_run l ON true
  LEFT JOIN last_ok ok ON true;
COMMENT ON VIEW opsmeter.worker_status IS
    'the retention worker and passes at a glance, for monitoring (opsmeter_admin): last passes, pending rows, partitions due';

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
    IF raw > opsmeter.guc_max_raw_retention() THEN
        RAISE EXCEPTION 'invalid raw retention %: longer than opsmeter.max_raw_retention', raw
            USING ERRCODE = '22023',
                  HINT = pg_catalog.format('Raw retention is at most %s here (opsmeter.max_raw_retention, set by a superuser).',
                                           pg_catalog.justify_hours(opsmeter.guc_max_raw_retention()));
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
    -- Passes are locked out meanwhile, as for a re-pricing: a pass reads a
    -- workspace's retention in several statements (the days it summarizes
    -- before their raw rows leave, the rows it deletes, the partitions it
    -- drops), and must see one value from the first to the last.
    INSERT INTO opsmeter.rollup_state DEFAULT VALUES ON CONFLICT DO NOTHING;
    PERFORM 1 FROM opsmeter.rollup_state s FOR UPDATE;
    UPDATE opsmeter.workspaces w
       SET raw_retention = _opsmeter_set_retention_impl.raw,
           summary_retention = _opsmeter_set_retention_impl.summary
     WHERE w.workspace_id = m.workspace_id;
END
$$;
CREATE FUNCTION @extschema@.opsmeter_set_retention(raw interval, summary interval)
RETURNS void AS 'MODULE_PATHNAME', 'opsmeter_call_as_owner' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_set_retention(interval, interval) IS
    'set the active workspace''s raw and summary retention (owner/admin); NULL falls back to the GUCs';
