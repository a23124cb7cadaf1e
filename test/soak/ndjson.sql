-- The same as batch.sql through the NDJSON entry point (lines count from 1).
\set k random(1, :keyspace)
\set late random(0, 47)
WITH ev AS (SELECT i, soak.event((:k + i * 7919) % :keyspace + 1, :late) AS ev
              FROM generate_series(0, 49) i),
     r AS (SELECT opsmeter_ingest_ndjson(string_agg(ev::text, E'\n' ORDER BY i)) AS resp FROM ev)
INSERT INTO soak.truth
SELECT (soak.truth_row(ev, 'ndjson')).* FROM ev, r
 WHERE NOT (resp -> 'duplicateLines') @> to_jsonb(i + 1);
