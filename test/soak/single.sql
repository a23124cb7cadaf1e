-- One event per call; keys drawn from :keyspace, so retries (duplicates) grow
-- more common as the run goes on.
\set k random(1, :keyspace)
\set late random(0, 47)
WITH ev AS (SELECT soak.event(:k, :late) AS ev),
     r AS (SELECT ev, opsmeter_ingest(ev) AS resp FROM ev)
INSERT INTO soak.truth
SELECT (soak.truth_row(ev, 'single')).* FROM r WHERE NOT (resp ->> 'duplicate')::boolean;
