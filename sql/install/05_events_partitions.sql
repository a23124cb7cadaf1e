------------------------------------------------------------------------------
-- Raw events: daily range partitions on ts (UTC), keys lead with workspace
------------------------------------------------------------------------------
CREATE SEQUENCE opsmeter.ingest_batch_seq;
COMMENT ON SEQUENCE opsmeter.ingest_batch_seq IS 'one value per ingest transaction; rollup watermark';

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


-- Dedup: one row per (workspace, externalRequestId) for as long as the raw
-- row lives.  PostgreSQL has no index across partitions, so the keys live
-- here, in *generations*: one partition per span of ingest time
-- (opsmeter.key_generation, 7 days by default).  Ingest writes keys into
-- the open generation only, whose unique index settles concurrent retries,
-- and looks a key up in the sealed ones; retention drops a sealed
-- generation whole once no partition of opsmeter.events can still hold a
-- row of its keys.  So no key is ever deleted by retention, and a key lives
-- at least as long as its row, whatever timestamps its retries carry.
-- event_day names the partition of opsmeter.events holding the row.
CREATE TABLE opsmeter.request_keys (
    workspace_id        bigint NOT NULL,
    external_request_id text COLLATE "C" NOT NULL,
    event_day           date NOT NULL,
    generation          integer NOT NULL
) PARTITION BY LIST (generation);
COMMENT ON TABLE opsmeter.request_keys IS
    'dedup keys: one row per (workspace, externalRequestId) while its event is retained, one partition per key generation';

-- One row per generation of opsmeter.request_keys.  The open one
-- (sealed_at IS NULL) takes new keys; a sealed one is only read (and
-- deleted from by cleanups), and no row of its keys is later than
-- (sealed_at + 5 minutes)::date (ingest refuses timestamps more than 5
-- minutes ahead).  Every backend caches this list; its trigger tells them
-- it changed.
CREATE TABLE opsmeter.key_generations (
    generation integer PRIMARY KEY,
    opened_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sealed_at  timestamptz,
    -- 0 when sealed from the open one; a merge of eight of level n is n + 1
    level      integer NOT NULL DEFAULT 0,
    -- opsmeter._key_filter() of a sealed generation (src/key_filter.c); NULL:
    -- not built yet, ingest looks every key up in it
    key_filter bytea
);
COMMENT ON TABLE opsmeter.key_generations IS
    'generations of opsmeter.request_keys: the open one takes new keys, sealed ones are dropped whole by retention';
CREATE UNIQUE INDEX key_generations_one_open ON opsmeter.key_generations ((true)) WHERE sealed_at IS NULL;
CREATE FUNCTION opsmeter._key_generations_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_key_generations_changed' LANGUAGE C;
CREATE TRIGGER key_generations_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.key_generations
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._key_generations_changed();

CREATE FUNCTION opsmeter.key_generation_name(generation integer) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'request_keys_g' OPERATOR(pg_catalog.||)
       pg_catalog.lpad(generation::text, GREATEST(6, pg_catalog.length(generation::text)), '0');

-- The filter in front of a sealed generation (src/key_filter.c): built by
-- retention passes, read by ingest, which looks a new key up only in the
-- generations whose filter may hold it.
CREATE FUNCTION opsmeter._key_filter(generation regclass) RETURNS bytea
    AS 'MODULE_PATHNAME', 'opsmeter_key_filter_build' LANGUAGE C STRICT;
CREATE FUNCTION opsmeter._key_filter_lacks(filter bytea, workspace_id bigint, key text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'opsmeter_key_filter_lacks_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- A table for one generation's keys, not attached yet: its CHECK lets
-- ATTACH skip the scan of a merged one.  Like a day of opsmeter.events, it
-- has row-level security and no grants: read it through the parent.
CREATE FUNCTION opsmeter._create_key_generation_table(part text, generation integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
BEGIN
    EXECUTE format('CREATE TABLE opsmeter.%I (LIKE opsmeter.request_keys, CHECK (generation = %s))', part, generation);
    -- Tenants' keys collect no statistics (README, "Isolation").
    EXECUTE format('ALTER TABLE opsmeter.%I ALTER COLUMN external_request_id SET STATISTICS 0', part);
    EXECUTE format('ALTER TABLE opsmeter.%I ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('REVOKE ALL ON opsmeter.%I FROM PUBLIC', part);
END
$$;

-- Opens a generation of keys when none is open, or, with seal, seals the
-- open one and opens the next; returns the open generation.  Openers take
-- turns (the lock is held to commit).  A sealer must hold the open
-- generation's partition in SHARE mode first (opsmeter._enforce_retention):
-- then no ingest is writing into it, and every later one waits for the
-- sealer's commit and then writes into the new generation.  The sealed
-- one's key filter is built by the next pass, outside that lock.
CREATE FUNCTION opsmeter._open_key_generation(seal boolean) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET default_tablespace = '' AS $$
DECLARE
    open_gen integer;
    next_gen integer;
    part text;
BEGIN
    LOCK TABLE opsmeter.key_generations IN EXCLUSIVE MODE;
    SELECT g.generation INTO open_gen FROM opsmeter.key_generations g WHERE g.sealed_at IS NULL;
    IF open_gen IS NOT NULL AND NOT seal THEN
        RETURN open_gen;
    END IF;
    SELECT coalesce(max(g.generation), 0) + 1 INTO next_gen FROM opsmeter.key_generations g;
    part := opsmeter.key_generation_name(next_gen);
    PERFORM opsmeter._create_key_generation_table(part, next_gen);
    EXECUTE format('CREATE UNIQUE INDEX %I ON opsmeter.%I (workspace_id, external_request_id)', part || '_key', part);
    EXECUTE format('ALTER TABLE opsmeter.request_keys ATTACH PARTITION opsmeter.%I FOR VALUES IN (%s)', part, next_gen);
    -- The clock, not the transaction's start: every ingest into the sealed
    -- generation has ended by now (see above), so its keys' days are bounded.
    UPDATE opsmeter.key_generations g SET sealed_at = clock_timestamp() WHERE g.generation = open_gen;
    INSERT INTO opsmeter.key_generations (generation, opened_at) VALUES (next_gen, clock_timestamp());
    RETURN next_gen;
END
$$;

CREATE FUNCTION opsmeter.partition_name(day date) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'events_p' OPERATOR(pg_catalog.||) pg_catalog.to_char(day, 'YYYYMMDD');

-- The daily partitions of opsmeter.events and their UTC days (retention's
-- drops, the key generations' drops, opsmeter.worker_status).
CREATE FUNCTION opsmeter.event_partitions(OUT rel regclass, OUT day date) RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE
BEGIN ATOMIC
    SELECT c.oid::pg_catalog.regclass,
           pg_catalog.to_date(pg_catalog.substring(c.relname, '^events_p(\d{8})$'), 'YYYYMMDD')
      FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid
     WHERE i.inhparent OPERATOR(pg_catalog.=) 'opsmeter.events'::pg_catalog.regclass
       AND c.relname OPERATOR(pg_catalog.~) '^events_p\d{8}$';
END;

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
    targets text;
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
                -- The parent's per-column statistics targets: neither LIKE nor
                -- ATTACH copies them, and ANALYZE of a day reads its own
                -- (tenants' values collect none; 90_policies_grants.sql).
                SELECT string_agg(format('ALTER COLUMN %I SET STATISTICS %s', a.attname, a.attstattarget),
                                  ', ' ORDER BY a.attnum)
                  INTO targets
                  FROM pg_attribute a
                 WHERE a.attrelid = 'opsmeter.events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
                   AND a.attstattarget >= 0;
                IF targets IS NOT NULL THEN
                    EXECUTE format('ALTER TABLE opsmeter.%I ', part) || targets;
                END IF;
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
