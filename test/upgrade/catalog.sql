-- test/upgrade/catalog.sql — what the opsmeter extension is, as sorted text.
--
-- One line per fact about every object that belongs to the extension
-- (pg_depend deptype 'e'), found generically rather than from a hand list:
-- its identity, definition, owner, privileges, comment, and for relations
-- their columns (with statistics targets), constraints, indexes, triggers,
-- policies and security flags.  Then what the extension row, its dump
-- configuration, its default data, its daily partitions and its key generations look like.  No OIDs, no data that a
-- user wrote: two databases print the same text iff the extension in them
-- is the same.  Privileges are compared as in force: a NULL ACL is the
-- owner's default (pg_dump restores an ACL equal to the default as NULL).  test/upgrade/run.sh diffs this for an upgraded database
-- against a fresh install.
--
-- Run with: psql -X -A -t -q -f catalog.sql
\set ON_ERROR_STOP 1
SET search_path = pg_catalog;
SET TimeZone = 'UTC';

WITH ext AS (
    SELECT oid, extname FROM pg_extension WHERE extname = 'opsmeter'
),
members AS (
    SELECT d.classid, d.objid, d.objsubid, o.type, o.identity
      FROM pg_depend d
      JOIN ext ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
     CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, d.objsubid) o
     WHERE d.deptype = 'e'
),
member_rels AS (
    SELECT c.oid, m.identity, c.relkind
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
),
member_procs AS (
    SELECT p.oid, m.identity, p.prokind
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
),
member_types AS (
    SELECT t.oid, m.identity, t.typtype
      FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
),
facts(line) AS (
    -- the extension itself
    SELECT format('extension|version=%s relocatable=%s schema=%s owner=%s',
                  e.extversion, e.extrelocatable, e.extnamespace::regnamespace, e.extowner::regrole)
      FROM pg_extension e WHERE e.extname = 'opsmeter'
    UNION ALL
    -- tables whose rows pg_dump carries, with their filter
    SELECT format('dump-config|%s|%s', c.relid::regclass, c.cond)
      FROM pg_extension e,
           unnest(e.extconfig, e.extcondition) AS c(relid, cond)
     WHERE e.extname = 'opsmeter'
    UNION ALL
    -- every member object
    SELECT format('member|%s|%s', m.type, m.identity) FROM members m
    UNION ALL
    -- comments on members, their columns and the things on their tables
    SELECT format('comment|%s|%s', o.type || ' ' || o.identity, ds.description)
      FROM pg_description ds
     CROSS JOIN LATERAL pg_identify_object(ds.classoid, ds.objoid, ds.objsubid) o
     WHERE EXISTS (SELECT 1 FROM members m WHERE m.classid = ds.classoid AND m.objid = ds.objoid)
        OR (ds.classoid = 'pg_constraint'::regclass AND EXISTS (
               SELECT 1 FROM pg_constraint k JOIN member_rels r ON r.oid = k.conrelid WHERE k.oid = ds.objoid))
        OR (ds.classoid = 'pg_class'::regclass AND EXISTS (
               SELECT 1 FROM pg_index i JOIN member_rels r ON r.oid = i.indrelid WHERE i.indexrelid = ds.objoid))
        OR (ds.classoid = 'pg_trigger'::regclass AND EXISTS (
               SELECT 1 FROM pg_trigger t JOIN member_rels r ON r.oid = t.tgrelid WHERE t.oid = ds.objoid))
        OR (ds.classoid = 'pg_policy'::regclass AND EXISTS (
               SELECT 1 FROM pg_policy p JOIN member_rels r ON r.oid = p.polrelid WHERE p.oid = ds.objoid))
    UNION ALL
    -- schemas
    SELECT format('schema|%s|owner=%s acl=%s', m.identity, n.nspowner::regrole,
                  coalesce(n.nspacl, acldefault('n', n.nspowner)))
      FROM members m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
    UNION ALL
    -- relations: kind, owner, privileges, security flags, options, partition key
    SELECT format('relation|%s|kind=%s persistence=%s owner=%s acl=%s rls=%s force_rls=%s options=%s partkey=%s',
                  r.identity, c.relkind, c.relpersistence, c.relowner::regrole,
                  coalesce(c.relacl, acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char", c.relowner)),
                  c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
                  CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END)
      FROM member_rels r JOIN pg_class c ON c.oid = r.oid
    UNION ALL
    -- columns, numbered among the live ones (what SELECT * shows)
    SELECT format('column|%s|%s %s|%s notnull=%s default=%s identity=%s generated=%s collation=%s acl=%s stattarget=%s',
                  r.identity,
                  row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
                  CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT typcollation FROM pg_type WHERE oid = a.atttypid)
                       THEN a.attcollation::regcollation::text END,
                  a.attacl,
                  -- the per-column statistics target (NULL on 17+, -1 on 15: the default)
                  CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text ELSE 'default' END)
      FROM member_rels r
      JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
    UNION ALL
    SELECT format('constraint|%s|%s %s', r.identity, k.conname, pg_get_constraintdef(k.oid))
      FROM member_rels r JOIN pg_constraint k ON k.conrelid = r.oid
    UNION ALL
    SELECT format('index|%s|%s', r.identity, pg_get_indexdef(i.indexrelid))
      FROM member_rels r JOIN pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT format('trigger|%s|%s', r.identity, pg_get_triggerdef(t.oid))
      FROM member_rels r JOIN pg_trigger t ON t.tgrelid = r.oid AND NOT t.tgisinternal
    UNION ALL
    SELECT format('policy|%s|%s cmd=%s permissive=%s roles=%s using=%s check=%s',
                  r.identity, p.polname, p.polcmd, p.polpermissive,
                  (SELECT array_agg(CASE WHEN x = 0 THEN 'public' ELSE x::regrole::text END ORDER BY 1)
                     FROM unnest(p.polroles) x),
                  pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM member_rels r JOIN pg_policy p ON p.polrelid = r.oid
    UNION ALL
    SELECT format('view|%s|%s', r.identity, pg_get_viewdef(r.oid))
      FROM member_rels r WHERE r.relkind IN ('v', 'm')
    UNION ALL
    SELECT format('sequence|%s|type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s',
                  r.identity, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                  s.seqcache, s.seqcycle)
      FROM member_rels r JOIN pg_sequence s ON s.seqrelid = r.oid
    UNION ALL
    -- functions and procedures: the whole definition, as CREATE OR REPLACE prints it
    SELECT format('function|%s|owner=%s acl=%s|%s', f.identity, p.proowner::regrole,
                  coalesce(p.proacl, acldefault('f', p.proowner)),
                  pg_get_functiondef(p.oid))
      FROM member_procs f JOIN pg_proc p ON p.oid = f.oid
     WHERE f.prokind IN ('f', 'p', 'w')
    UNION ALL
    SELECT format('aggregate|%s|owner=%s acl=%s kind=%s trans=%s final=%s combine=%s serial=%s deserial=%s '
                  'stype=%s init=%s finalextra=%s finalmodify=%s sortop=%s',
                  f.identity, p.proowner::regrole, coalesce(p.proacl, acldefault('f', p.proowner)), a.aggkind, a.aggtransfn, a.aggfinalfn,
                  a.aggcombinefn, a.aggserialfn, a.aggdeserialfn, a.aggtranstype::regtype,
                  a.agginitval, a.aggfinalextra, a.aggfinalmodify, a.aggsortop)
      FROM member_procs f JOIN pg_proc p ON p.oid = f.oid
      JOIN pg_aggregate a ON a.aggfnoid = p.oid
    UNION ALL
    SELECT format('type|%s|typtype=%s owner=%s acl=%s labels=%s base=%s notnull=%s default=%s',
                  t.identity, t.typtype, ty.typowner::regrole, coalesce(ty.typacl, acldefault('T', ty.typowner)),
                  (SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid),
                  CASE WHEN t.typtype = 'd' THEN format_type(ty.typbasetype, ty.typtypmod) END,
                  ty.typnotnull, ty.typdefault)
      FROM member_types t JOIN pg_type ty ON ty.oid = t.oid
    UNION ALL
    SELECT format('domain-constraint|%s|%s %s', t.identity, k.conname, pg_get_constraintdef(k.oid))
      FROM member_types t JOIN pg_constraint k ON k.contypid = t.oid
    UNION ALL
    -- the price catalog the extension ships (rows a user loaded are data)
    SELECT format('default-prices|%s rows|md5 %s', count(*),
                  md5(string_agg(format('%s/%s@%s in=%s cached=%s out=%s', provider, model, effective_from,
                                        input_usd_per_mtok, cached_input_usd_per_mtok, output_usd_per_mtok),
                                 ';' ORDER BY provider, model, effective_from)))
      FROM opsmeter.prices WHERE source = 'opsmeter default catalog'
    UNION ALL
    -- statistics of columns whose target is 0 (tenants' values): none may
    -- survive, on the tables or their daily partitions (the planner would
    -- use a row collected before the target was set)
    SELECT format('closed-column-stats|%s rows', count(*))
      FROM pg_statistic s
      JOIN pg_attribute a ON a.attrelid = s.starelid AND a.attnum = s.staattnum
      JOIN pg_class c ON c.oid = s.starelid
     WHERE a.attnum > 0 AND a.attstattarget = 0 AND c.relnamespace = 'opsmeter'::regnamespace
    UNION ALL
    -- daily partitions and generations of dedup keys are not members
    -- (pg_dump keeps them with their rows), but each must have the shape a
    -- new one gets: compared with the day's or generation's name and bounds
    -- taken out, so every partition of a parent prints the same lines
    SELECT DISTINCT format('partition-shape|%s|%s', inh.inhparent::regclass,
                           regexp_replace(regexp_replace(x.line, '_p[0-9]{8}', '_pDAY', 'g'), '_g[0-9]{6}', '_gN', 'g'))
      FROM pg_inherits inh
      JOIN pg_class c ON c.oid = inh.inhrelid
      CROSS JOIN LATERAL (
          SELECT format('relation kind=%s owner=%s acl=%s rls=%s force_rls=%s options=%s',
                        c.relkind, c.relowner::regrole, coalesce(c.relacl, acldefault('r', c.relowner)),
                        c.relrowsecurity, c.relforcerowsecurity,
                        c.reloptions)
          UNION ALL
          SELECT format('index %s', pg_get_indexdef(i.indexrelid))
            FROM pg_index i WHERE i.indrelid = c.oid
          UNION ALL
          SELECT format('constraint %s %s', k.conname, pg_get_constraintdef(k.oid))
            FROM pg_constraint k WHERE k.conrelid = c.oid
          UNION ALL
          SELECT format('column %s stattarget=%s', a.attname,
                        CASE WHEN a.attstattarget >= 0 THEN a.attstattarget::text ELSE 'default' END)
            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
          UNION ALL
          SELECT format('policy %s', p.polname) FROM pg_policy p WHERE p.polrelid = c.oid
          UNION ALL
          SELECT format('trigger %s', pg_get_triggerdef(t.oid))
            FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal
      ) x(line)
     WHERE inh.inhparent IN ('opsmeter.events'::regclass, 'opsmeter.request_keys'::regclass)
)
SELECT line FROM facts ORDER BY line COLLATE "C";
