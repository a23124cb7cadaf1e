-- test/bench/setup.sql — objects the benchmark compares opsmeter against.
-- Run once per bench cluster by test/bench/run.sh (psql -v ON_ERROR_STOP=1).
--
--   bench.plain_events     (a) COPY and (e) bare INSERT target: the columns of
--                          opsmeter.events, unpartitioned, with the same keys
--                          opsmeter enforces: PRIMARY KEY (workspace_id,
--                          external_request_id) and an index on (workspace_id, ts).
--   bench.pl_events        (d) the PL/pgSQL baseline's own copy of
--                          opsmeter.events, partitioned by UTC day like it.
--   bench.pl_request_keys  (d) the PL/pgSQL baseline's own dedup keys.
--   bench_plpgsql_ingest() (d) see plpgsql_ingest.sql.

CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('bench');

CREATE SCHEMA bench;

CREATE TABLE bench.plain_events (LIKE opsmeter.events INCLUDING DEFAULTS);
ALTER TABLE bench.plain_events ADD PRIMARY KEY (workspace_id, external_request_id);
CREATE INDEX plain_events_workspace_ts_idx ON bench.plain_events (workspace_id, ts);

CREATE TABLE bench.pl_events (LIKE opsmeter.events INCLUDING DEFAULTS) PARTITION BY RANGE (ts);
CREATE INDEX pl_events_workspace_ts_idx ON bench.pl_events (workspace_id, ts);

CREATE TABLE bench.pl_request_keys (
    workspace_id        bigint NOT NULL,
    external_request_id text NOT NULL,
    event_day           date NOT NULL,
    PRIMARY KEY (workspace_id, external_request_id)
);

CREATE SEQUENCE bench.pl_batch_seq;

-- Daily partitions of bench.pl_events for [first_day, last_day] (UTC days),
-- the same bounds opsmeter.ensure_partitions() uses for opsmeter.events.
CREATE FUNCTION bench.ensure_pl_partitions(first_day date, last_day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    d date := first_day;
BEGIN
    WHILE d <= last_day LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS bench.%I PARTITION OF bench.pl_events FOR VALUES FROM (%L) TO (%L)',
                       'pl_events_p' || to_char(d, 'YYYYMMDD'),
                       d::text || ' 00:00:00+00', (d + 1)::text || ' 00:00:00+00');
        d := d + 1;
    END LOOP;
END
$$;
