-- A jsonb batch of 50 distinct keys (k + i * 7919 modulo a keyspace that is
-- not a multiple of 7919), overlapping the single-event keys.
\set k random(1, :keyspace)
\set late random(0, 47)
WITH ev AS (SELECT i, soak.event((:k + i * 7919) % :keyspace + 1, :late) AS ev
              FROM generate_series(0, 49) i),
     r AS (SELECT opsmeter_ingest(jsonb_agg(ev ORDER BY i)) AS resp FROM ev)
INSERT INTO soak.truth
SELECT (soak.truth_row(ev, 'batch')).* FROM ev, r
 WHERE NOT (resp -> 'duplicateIndexes') @> to_jsonb(i);
