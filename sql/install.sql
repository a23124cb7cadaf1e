-- install: what CREATE EXTENSION opsmeter puts in place.
\set SHOW_CONTEXT never
CREATE EXTENSION opsmeter;

-- Internal objects live in schema opsmeter; user-facing functions in the
-- extension's schema (public), named opsmeter_*.
SELECT n.nspname, p.proname
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE p.proname LIKE 'opsmeter\_%'
 ORDER BY 1, 2;

-- The three enums of the contract.
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) AS labels
  FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid
 WHERE t.typnamespace = 'opsmeter'::regnamespace
 GROUP BY 1 ORDER BY 1;

-- The NOLOGIN role whose members create workspaces.
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname = 'opsmeter_admin';

-- Every table holding workspace data has row-level security.
SELECT relname, relrowsecurity
  FROM pg_class
 WHERE relnamespace = 'opsmeter'::regnamespace AND relkind IN ('r', 'p')
   AND relname NOT LIKE 'events\_p%'
 ORDER BY 1;

-- Raw events are range-partitioned by UTC day.  The partitions are not part
-- of the extension (so pg_dump keeps them with their rows): the first
-- retention pass creates the coming week, and ingest creates any other day
-- on demand.
SELECT count(*) AS partitions_at_install FROM pg_inherits WHERE inhparent = 'opsmeter.events'::regclass;
SELECT (opsmeter_run_retention() ->> 'partitionsCreated')::int AS created_by_first_pass;
SELECT to_regclass('opsmeter.' || opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date)) IS NOT NULL AS today_exists,
       to_regclass('opsmeter.' || opsmeter.partition_name((now() AT TIME ZONE 'UTC')::date + 7)) IS NOT NULL AS next_week_exists;
-- Partitions carry row-level security and no grants: rows are read through
-- the parent only.
SELECT bool_and(c.relrowsecurity) AS rls, bool_and(c.relacl IS NULL OR NOT c.relacl::text LIKE '%=r%') AS no_public_read
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'opsmeter.events'::regclass;
-- What pg_dump carries besides the partitions.
SELECT c::regclass::text AS dumped FROM pg_extension, unnest(extconfig) AS c WHERE extname = 'opsmeter' ORDER BY 1;

-- The default price catalog was loaded from the JSON file shipped with the
-- extension: list prices in USD per 1M tokens.
SELECT count(*) > 30 AS has_catalog, count(DISTINCT provider) AS providers FROM opsmeter.prices;
SELECT provider, model, (effective_from AT TIME ZONE 'UTC')::date AS effective_from, input_usd_per_mtok, output_usd_per_mtok, cached_input_usd_per_mtok
  FROM opsmeter.prices
 WHERE model IN ('gpt-4o-mini', 'gpt-4o')
 ORDER BY model, effective_from;

-- Functions that read server files are not for PUBLIC.
SELECT has_function_privilege('public', 'opsmeter_load_prices(text, timestamptz)', 'EXECUTE') AS public_can_load_prices,
       has_function_privilege('pg_read_server_files', 'opsmeter_load_prices(text, timestamptz)', 'EXECUTE') AS file_readers_can;

-- Every user-facing object says what it is (\df+, \dv+, \dT+ and BI tools
-- show these comments): the functions named opsmeter_*, and every view,
-- type and table of schema opsmeter.  None may be missing.  The row types
-- of tables and views and the implicit array types are not counted: they
-- are documented by their relation or element (PostgreSQL 17 and later
-- record them as extension members too).
SELECT o.type, o.identity AS missing_comment
  FROM pg_depend d
  CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) o
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'opsmeter')
   AND d.deptype = 'e'
   AND (o.type IN ('view', 'table', 'type', 'schema')
        OR (o.type = 'function' AND o.identity LIKE '%.opsmeter\_%'))
   AND obj_description(d.objid, d.classid::regclass::name) IS NULL
   AND NOT EXISTS (SELECT 1 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid
                    WHERE d.classid = 'pg_type'::regclass AND t.oid = d.objid
                      AND (t.typcategory = 'A' OR c.relkind IN ('r', 'p', 'v', 'm', 'f')))
 ORDER BY 1, 2;
