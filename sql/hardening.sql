-- hardening: opsmeter code never runs objects a caller plants on its
-- search_path, and text is stored and returned verbatim.
--
-- 1. Every SECURITY DEFINER function pins search_path (there are none: the
--    functions that act as the extension owner are C trampolines that pin
--    it themselves, see opsmeter_become_owner()).
-- 2. An unprivileged role plants functions, aggregates and operators named
--    like the built-ins opsmeter uses, in a schema ahead of pg_catalog on
--    its search_path, and calls everything.  None of them ever runs.
-- 3. Quotes, backslashes, SQL fragments, format() directives, control
--    characters and non-ASCII text come back byte for byte.
--
-- Relies on setup: roles harden_* (harden_opsadmin is in opsmeter_admin) and
-- regress.write_server_file().
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS opsmeter;
RESET client_min_messages;

------------------------------------------------------------------------------
-- 1. search_path in the catalog
------------------------------------------------------------------------------
-- Every function of the extension, and any other in schema opsmeter.
CREATE TEMP VIEW harden_functions AS
SELECT p.oid, p.oid::regprocedure AS fn, p.prosecdef, l.lanname, p.prosqlbody IS NOT NULL AS sql_standard_body,
       (SELECT c FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%') AS search_path_setting
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'opsmeter'::regnamespace
    OR EXISTS (SELECT 1 FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
                  AND e.extname = 'opsmeter');
SELECT count(*) > 50 AS many_functions, count(*) FILTER (WHERE prosecdef) AS security_definer,
       count(*) FILTER (WHERE search_path_setting IS NOT NULL) > 30 AS many_pinned
  FROM harden_functions;
-- SECURITY DEFINER without a pinned search_path (none expected).
SELECT fn AS security_definer_without_search_path FROM harden_functions
 WHERE prosecdef AND search_path_setting IS NULL ORDER BY fn::text;
-- Every pin is the same one.
SELECT search_path_setting, count(*) AS functions FROM harden_functions
 WHERE search_path_setting IS NOT NULL GROUP BY 1;
-- The functions that pin it.
SELECT fn AS pins_search_path, lanname FROM harden_functions
 WHERE search_path_setting IS NOT NULL ORDER BY fn::text;
-- SQL and PL/pgSQL functions whose body is parsed at call time under the
-- caller's search_path (neither pinned nor a SQL-standard body).  Only
-- ever called, and inlined, from pinned callers; as a caller's own call
-- it runs with the caller's rights, not the owner's.  The procedure
-- opsmeter_run_retention_job() cannot pin it (a procedure with a SET clause
-- may not commit): every name in its body is schema-qualified instead.
SELECT fn AS unpinned_interpreted_body FROM harden_functions
 WHERE lanname IN ('sql', 'plpgsql') AND search_path_setting IS NULL AND NOT sql_standard_body
 ORDER BY fn::text;

------------------------------------------------------------------------------
-- 2. Planted shadows
------------------------------------------------------------------------------
SELECT opsmeter_create_workspace('harden_ws', 'harden_attacker') > 0 AS created;
SELECT opsmeter_create_workspace('harden_text_ws', 'harden_writer') > 0 AS created;

-- Fixed instants for the attack, computed before any shadow exists.
SELECT to_char((now() - interval '23 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS old_ts,
       now() - interval '30 days' AS range_start, now() + interval '1 hour' AS range_end \gset

-- A price file, loaded later by a superuser with the shadows on its path.
\set prices_file '/tmp/opsmeter_regress_harden_prices.json'
SELECT regress.write_server_file(:'prices_file', '{"format": "opsmeter-prices", "prices": [
  {"provider": "harden", "model": "late-priced", "effective_from": "2020-01-01T00:00:00Z", "input": 1.00, "output": 2.00}]}');

CREATE SCHEMA evil AUTHORIZATION harden_attacker;
SET ROLE harden_attacker;
GRANT USAGE ON SCHEMA evil TO PUBLIC;
-- Every call is counted by a sequence (not rolled back by an error), logged
-- in a table and announced by a WARNING right under the statement that ran it.
CREATE SEQUENCE evil.hits;
CREATE TABLE evil.calls (fn text, called_as name, query text);
GRANT USAGE, UPDATE ON SEQUENCE evil.hits TO PUBLIC;
GRANT SELECT, INSERT ON evil.calls TO PUBLIC;
CREATE FUNCTION evil.note(fn text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    PERFORM nextval('evil.hits');
    INSERT INTO evil.calls VALUES (fn, current_user, current_query());
    RAISE WARNING 'planted evil.% ran as %', fn, current_user;
END
$$;

-- Functions (each behaves like the built-in after noting the call).
CREATE FUNCTION evil.lower(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('lower(text)'); RETURN lower(t); END $$;
CREATE FUNCTION evil.upper(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('upper(text)'); RETURN upper(t); END $$;
CREATE FUNCTION evil.length(t text) RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('length(text)'); RETURN length(t); END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('now()'); RETURN now(); END $$;
CREATE FUNCTION evil.date_trunc(f text, t timestamptz) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('date_trunc(text,timestamptz)'); RETURN date_trunc(f, t); END $$;
CREATE FUNCTION evil.date_trunc(f text, t timestamptz, z text) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('date_trunc(text,timestamptz,text)'); RETURN date_trunc(f, t, z); END $$;
CREATE FUNCTION evil.date_trunc(f text, t timestamp) RETURNS timestamp LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('date_trunc(text,timestamp)'); RETURN date_trunc(f, t); END $$;
CREATE FUNCTION evil.date_trunc(f text, i interval) RETURNS interval LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('date_trunc(text,interval)'); RETURN date_trunc(f, i); END $$;
CREATE FUNCTION evil.to_char(t timestamp, f text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('to_char(timestamp,text)'); RETURN to_char(t, f); END $$;
CREATE FUNCTION evil.to_char(t timestamptz, f text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('to_char(timestamptz,text)'); RETURN to_char(t, f); END $$;
CREATE FUNCTION evil.format(f text, VARIADIC a text[]) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('format(text,variadic text[])'); RETURN format(f, VARIADIC a); END $$;
CREATE FUNCTION evil.quote_ident(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('quote_ident(text)'); RETURN quote_ident(t); END $$;
CREATE FUNCTION evil.quote_literal(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('quote_literal(text)'); RETURN quote_literal(t); END $$;
CREATE FUNCTION evil.jsonb_build_object(VARIADIC a text[]) RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('jsonb_build_object(variadic text[])'); RETURN jsonb_build_object(VARIADIC a); END $$;
CREATE FUNCTION evil.nextval(s regclass) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('nextval(regclass)'); RETURN nextval(s); END $$;
CREATE FUNCTION evil.random() RETURNS double precision LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('random()'); RETURN random(); END $$;
CREATE FUNCTION evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('gen_random_uuid()'); RETURN gen_random_uuid(); END $$;
CREATE FUNCTION evil.to_regclass(t text) RETURNS regclass LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('to_regclass(text)'); RETURN to_regclass(t); END $$;
CREATE FUNCTION evil.current_setting(t text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('current_setting(text)'); RETURN current_setting(t); END $$;
CREATE FUNCTION evil.pg_has_role(r regrole, g text, m text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('pg_has_role(regrole,text,text)'); RETURN pg_has_role(r::oid, g, m); END $$;
CREATE FUNCTION evil.round(n numeric, s integer) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('round(numeric,integer)'); RETURN round(n, s); END $$;
CREATE FUNCTION evil.abs(n numeric) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('abs(numeric)'); RETURN abs(n); END $$;

-- Aggregates.
CREATE FUNCTION evil.sum_numeric(s numeric, v numeric) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('sum(numeric)'); RETURN coalesce(s, 0) + v; END $$;
CREATE AGGREGATE evil.sum(numeric) (SFUNC = evil.sum_numeric, STYPE = numeric);
CREATE FUNCTION evil.sum_bigint(s numeric, v bigint) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('sum(bigint)'); RETURN coalesce(s, 0) + v; END $$;
CREATE AGGREGATE evil.sum(bigint) (SFUNC = evil.sum_bigint, STYPE = numeric);
CREATE FUNCTION evil.sum_integer(s bigint, v integer) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('sum(integer)'); RETURN coalesce(s, 0) + v; END $$;
CREATE AGGREGATE evil.sum(integer) (SFUNC = evil.sum_integer, STYPE = bigint);
CREATE FUNCTION evil.count_star(s bigint) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('count(*)'); RETURN s + 1; END $$;
CREATE AGGREGATE evil.count(*) (SFUNC = evil.count_star, STYPE = bigint, INITCOND = '0');
CREATE FUNCTION evil.max_bigint(s bigint, v bigint) RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('max(bigint)'); RETURN greatest(s, v); END $$;
CREATE AGGREGATE evil.max(bigint) (SFUNC = evil.max_bigint, STYPE = bigint);
CREATE FUNCTION evil.bool_or_step(s boolean, v boolean) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('bool_or(boolean)'); RETURN coalesce(s, false) OR v; END $$;
CREATE AGGREGATE evil.bool_or(boolean) (SFUNC = evil.bool_or_step, STYPE = boolean);
CREATE FUNCTION evil.jsonb_agg_step(s jsonb, v anyelement) RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('jsonb_agg(anyelement)'); RETURN coalesce(s, '[]') || to_jsonb(v); END $$;
CREATE AGGREGATE evil.jsonb_agg(anyelement) (SFUNC = evil.jsonb_agg_step, STYPE = jsonb);

-- Operators.
CREATE FUNCTION evil.text_eq(a text, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('=(text,text)'); RETURN a = b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_eq);
CREATE FUNCTION evil.text_ne(a text, b text) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('<>(text,text)'); RETURN a <> b; END $$;
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_ne);
CREATE FUNCTION evil.int8_eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('=(bigint,bigint)'); RETURN a = b; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8_eq);
CREATE FUNCTION evil.numeric_add(a numeric, b numeric) RETURNS numeric LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('+(numeric,numeric)'); RETURN a + b; END $$;
CREATE OPERATOR evil.+ (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = evil.numeric_add);
CREATE FUNCTION evil.numeric_gt(a numeric, b numeric) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('>(numeric,numeric)'); RETURN a > b; END $$;
CREATE OPERATOR evil.> (LEFTARG = numeric, RIGHTARG = numeric, FUNCTION = evil.numeric_gt);
CREATE FUNCTION evil.tstz_ge(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('>=(timestamptz,timestamptz)'); RETURN a >= b; END $$;
CREATE OPERATOR evil.>= (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tstz_ge);
CREATE FUNCTION evil.tstz_lt(a timestamptz, b timestamptz) RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('<(timestamptz,timestamptz)'); RETURN a < b; END $$;
CREATE OPERATOR evil.< (LEFTARG = timestamptz, RIGHTARG = timestamptz, FUNCTION = evil.tstz_lt);
CREATE FUNCTION evil.tstz_mi_interval(a timestamptz, b interval) RETURNS timestamptz LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('-(timestamptz,interval)'); RETURN a - b; END $$;
CREATE OPERATOR evil.- (LEFTARG = timestamptz, RIGHTARG = interval, FUNCTION = evil.tstz_mi_interval);
CREATE FUNCTION evil.text_concat(a text, b text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('||(text,text)'); RETURN a || b; END $$;
CREATE OPERATOR evil.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.text_concat);
CREATE FUNCTION evil.jsonb_field_text(a jsonb, b text) RETURNS text LANGUAGE plpgsql SET search_path = pg_catalog
AS $$ BEGIN PERFORM evil.note('->>(jsonb,text)'); RETURN a ->> b; END $$;
CREATE OPERATOR evil.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = evil.jsonb_field_text);
RESET ROLE;

SELECT count(*) AS planted_functions FROM pg_proc WHERE pronamespace = 'evil'::regnamespace;
SELECT count(*) AS planted_operators FROM pg_operator WHERE oprnamespace = 'evil'::regnamespace;

-- The shadows work: on a path that puts evil before pg_catalog, unqualified
-- names in a query resolve to them.
SET ROLE harden_attacker;
SET search_path = evil, public, pg_catalog;
SELECT lower('ABC') AS lower, 'a'::text = 'a'::text AS eq, 1::numeric + 1::numeric AS plus;
RESET search_path;
SELECT fn, called_as FROM evil.calls ORDER BY fn;
TRUNCATE evil.calls;
SELECT setval('evil.hits', 1, false) IS NOT NULL AS reset;
RESET ROLE;

-- The attack.  Every statement below names only opsmeter objects and
-- schema-qualified built-ins, so any evil.* call comes from opsmeter code.
SET search_path = evil, public, pg_catalog;
SET ROLE harden_attacker;
SET opsmeter.workspace = 'harden_ws';
-- Ingest, including a day that has no partition yet (created on demand).
SELECT opsmeter_ingest('{"externalRequestId": "h-1", "provider": "OpenAI", "model": "GPT-4o-mini", "inputTokens": 1000, "outputTokens": 100, "userId": "u1", "tenantId": "t1", "endpointTag": "e1", "promptVersion": "p1", "latencyMs": 250}');
SELECT opsmeter_ingest('[{"externalRequestId": "h-2", "provider": "harden", "model": "late-priced", "inputTokens": 1000, "outputTokens": 100, "userId": "u2"},
                         {"externalRequestId": "h-3", "provider": "openai", "model": "gpt-4o", "inputTokens": 10, "outputTokens": 1, "dataMode": "test", "status": "error", "errorCode": "boom"},
                         {"externalRequestId": "h-1", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "outputTokens": 1}]');
SELECT opsmeter_ingest(pg_catalog.format('{"externalRequestId": "h-old", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 5, "outputTokens": 5, "timestamp": "%s"}', :'old_ts')::jsonb) OPERATOR(pg_catalog.->>) 'ok' AS old_day_ok;
SELECT opsmeter_ingest_ndjson(E'{"externalRequestId": "h-4", "provider": "anthropic", "model": "claude-3-5-haiku-20241022", "inputTokens": 100, "outputTokens": 10, "userId": "u1"}\n{"externalRequestId": "h-5", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "outputTokens": 1, "dataMode": "test"}');
SELECT opsmeter_ingest_demo(5);
-- Members (invited, declined, invited again, accepted, leaving, invited
-- and withdrawn), retention, budgets.
SELECT opsmeter_add_member('harden_ws', 'harden_helper', 'viewer');
SET ROLE harden_helper;
SELECT workspace, role FROM opsmeter.my_invitations;
SELECT opsmeter_decline_invitation('harden_ws');
SET ROLE harden_attacker;
SELECT opsmeter_add_member('harden_ws', 'harden_helper', 'viewer');
SET ROLE harden_helper;
SELECT opsmeter_accept_invitation('harden_ws');
SET ROLE harden_attacker;
SELECT opsmeter_set_member_role('harden_ws', 'harden_helper', 'member');
SELECT opsmeter_remove_member('harden_ws', 'harden_helper');
SELECT opsmeter_add_member('harden_ws', 'harden_helper', 'viewer');
SET ROLE harden_helper;
SELECT opsmeter_accept_invitation('harden_ws');
SELECT opsmeter_leave_workspace('harden_ws');
SET ROLE harden_attacker;
SELECT opsmeter_add_member('harden_ws', 'harden_helper', 'viewer');
SELECT pg_catalog.count(*) AS pending_invitations FROM opsmeter.workspace_invitations;
SELECT opsmeter_remove_member('harden_ws', 'harden_helper');
SELECT opsmeter_set_retention('20 days', '200 days');
SELECT opsmeter_set_budget('daily', 0.0001);
SELECT opsmeter_ingest('{"externalRequestId": "h-6", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1000, "outputTokens": 100}');
-- Refused calls take their error paths.  A temp table named pg_roles that
-- calls everyone a superuser shadows pg_catalog.pg_roles on the caller's
-- path (pg_temp comes first), but not in opsmeter code (pg_catalog first).
CREATE TEMP TABLE pg_roles AS SELECT oid, rolname, true AS rolsuper FROM pg_catalog.pg_roles;
SELECT opsmeter_create_workspace('harden_nope');
DROP TABLE pg_temp.pg_roles;
SELECT opsmeter_run_retention();
SELECT opsmeter_load_prices(:'prices_file');
RESET ROLE;
-- opsmeter_admin creates a workspace.
SET ROLE harden_opsadmin;
SELECT opsmeter_create_workspace('harden_ws2') IS NOT NULL AS created;
RESET ROLE;
-- A superuser, with the same path, runs a pass (rollup + retention, which
-- deletes the 23-day-old row: the workspace keeps 20 days) and loads prices.
SELECT opsmeter_run_retention() OPERATOR(pg_catalog.->>) 'ok' AS pass_ok;
SELECT opsmeter_load_prices(:'prices_file') OPERATOR(pg_catalog.-) 'path' AS load;
-- Re-pricing and cleanup of rolled-up rows (corrections).
SET ROLE harden_attacker;
SELECT opsmeter_reprice(:'range_start'::timestamptz, :'range_end'::timestamptz) AS reprice;
SELECT opsmeter_clear_demo_data('mine') AS demo_cleared;
SELECT opsmeter_clear_test_data('workspace') AS test_cleared;
-- Every read.
SELECT pg_catalog.count(*) AS overview FROM opsmeter_overview();
SELECT pg_catalog.count(*) AS top_users FROM opsmeter_top_users();
SELECT pg_catalog.count(*) AS top_tenants FROM opsmeter_top_tenants();
SELECT pg_catalog.count(*) AS top_endpoints FROM opsmeter_top_endpoints();
SELECT pg_catalog.count(*) AS top_models FROM opsmeter_top_models();
SELECT pg_catalog.count(*) AS prompt_versions FROM opsmeter_prompt_versions();
SELECT pg_catalog.count(*) AS export FROM opsmeter_export(:'range_start'::timestamptz, :'range_end'::timestamptz, 'all');
SELECT retention_truncated FROM opsmeter_export_meta(:'range_start'::timestamptz, :'range_end'::timestamptz);
SELECT pg_catalog.count(*) AS compare_endpoint FROM opsmeter_compare('endpoint');
SELECT pg_catalog.count(*) AS compare_prompt_version FROM opsmeter_compare('prompt_version');
SELECT pg_catalog.count(*) AS compare_model FROM opsmeter_compare('model');
SELECT pg_catalog.count(*) AS compare_tenant FROM opsmeter_compare('tenant');
SELECT pg_catalog.count(*) AS compare_user FROM opsmeter_compare('user');
SELECT opsmeter_workspace_status() OPERATOR(pg_catalog.->>) 'severity' AS severity;
SELECT pg_catalog.count(*) AS overview FROM opsmeter.overview;
SELECT pg_catalog.count(*) AS top_users FROM opsmeter.top_users;
SELECT pg_catalog.count(*) AS top_tenants FROM opsmeter.top_tenants;
SELECT pg_catalog.count(*) AS top_endpoints FROM opsmeter.top_endpoints;
SELECT pg_catalog.count(*) AS top_models FROM opsmeter.top_models;
SELECT pg_catalog.count(*) AS prompt_versions FROM opsmeter.prompt_versions;
SELECT pg_catalog.count(*) AS budget_signals FROM opsmeter.budget_signals;
SELECT pg_catalog.count(*) AS unpriced_models FROM opsmeter.unpriced_models;
SELECT pg_catalog.count(*) AS export FROM opsmeter.export;
SELECT pg_catalog.count(*) AS effective_retention FROM opsmeter.effective_retention();
-- The unpinned helpers (inlined into their callers), called directly: they run with the caller's rights.
SELECT pg_catalog.count(*) AS pending FROM opsmeter.pending_contributions(0, 9223372036854775807, '{}', '{}');
RESET ROLE;
-- A second pass folds the corrections.
SELECT opsmeter_run_retention() OPERATOR(pg_catalog.->>) 'ok' AS pass_ok;
SET ROLE harden_attacker;
SELECT pg_catalog.count(*) AS top_models FROM opsmeter.top_models;
RESET ROLE;
RESET search_path;

-- Nothing planted ran.
SELECT count(*) AS planted_calls FROM evil.calls;
SELECT is_called AS planted_ever_called FROM evil.hits;
SELECT fn, called_as, query FROM evil.calls ORDER BY fn;

-- The same answers on a normal search_path.
SET ROLE harden_attacker;
SELECT provider, model, requests, cost_usd, unpriced_requests FROM opsmeter.top_models ORDER BY provider, model;
SELECT external_request_id, data_mode, status, error_code, cost_usd, pricing
  FROM opsmeter_export(:'range_start'::timestamptz, :'range_end'::timestamptz, 'all') ORDER BY external_request_id;
RESET ROLE;
RESET opsmeter.workspace;

------------------------------------------------------------------------------
-- 3. Text is stored and returned verbatim
------------------------------------------------------------------------------
CREATE TEMP TABLE weird (n integer, s text);
INSERT INTO weird VALUES
    (1, 'it''s'),
    (2, 'say "hi" and "bye"'),
    (3, 'back\slash \\ \n \u0041 \'),
    (4, '''); DROP TABLE opsmeter.events; --'),
    (5, '%s %I %L $1 %% ?'),
    (6, E'line1\nline2\r\nline3\ttab'),
    (7, 'é 日本語 😀 Ünïcödé'),
    (8, E' padded\t '),
    (9, 'null'),
    (10, '{"not": "json"}'),
    (11, '$$; SELECT 1; $tag$');
GRANT SELECT ON weird TO PUBLIC;

-- The same events through both entry points: j<n>:<s> as jsonb, n<n>:<s> as NDJSON.
CREATE FUNCTION pg_temp.weird_event(prefix text, n integer, s text) RETURNS jsonb LANGUAGE sql
RETURN jsonb_build_object('externalRequestId', prefix || n || ':' || s, 'provider', 'openai', 'model', 'gpt-4o-mini',
                          'inputTokens', 10, 'outputTokens', 1, 'status', 'error',
                          'userId', s, 'tenantId', s, 'endpointTag', s, 'promptVersion', s, 'errorCode', s,
                          'metadata', jsonb_build_object('note', s, s, s, 'list', jsonb_build_array(s, n)));
SET ROLE harden_writer;
SELECT opsmeter_ingest((SELECT jsonb_agg(pg_temp.weird_event('j', n, s) ORDER BY n) FROM weird))
       - 'warnings' AS jsonb_ingest;
SELECT opsmeter_ingest_ndjson((SELECT string_agg(pg_temp.weird_event('n', n, s)::text, E'\n' ORDER BY n) FROM weird))
       - 'warnings' AS ndjson_ingest;
-- JSON escapes in NDJSON decode to the characters they stand for.
SELECT opsmeter_ingest_ndjson('{"externalRequestId": "n-escapes", "provider": "openai", "model": "gpt-4o-mini", "inputTokens": 1, "outputTokens": 1, "userId": "caf\u00e9 \ud83d\ude00 \"q\" \\ \/ \t", "tenantId": "it''s"}')
       ->> 'accepted' AS accepted;

-- Read back from opsmeter.export: every field equals what was sent.
SELECT w.n, p.path,
       e.external_request_id = p.prefix || w.n || ':' || w.s AS id_ok,
       e.user_id = w.s AS user_ok, e.tenant_id = w.s AS tenant_ok, e.endpoint_tag = w.s AS endpoint_ok,
       e.prompt_version = w.s AS prompt_ok, e.error_code = w.s AS error_code_ok,
       e.metadata = jsonb_build_object('note', w.s, w.s, w.s, 'list', jsonb_build_array(w.s, w.n)) AS metadata_ok,
       octet_length(e.user_id) = octet_length(w.s) AS same_bytes
  FROM weird w
 CROSS JOIN (VALUES ('j', 'jsonb'), ('n', 'ndjson')) AS p(prefix, path)
  LEFT JOIN opsmeter.export e ON e.external_request_id = p.prefix || w.n || ':' || w.s
 ORDER BY w.n, p.path;
-- The values themselves, as returned.
SELECT w.n, e.user_id, e.metadata ->> 'note' AS metadata_note
  FROM weird w JOIN opsmeter.export e ON e.external_request_id = 'n' || w.n || ':' || w.s
 ORDER BY w.n;
SELECT user_id, user_id = E'caf\u00e9 \U0001F600 "q" \\ / \t' AS user_ok, tenant_id, tenant_id = 'it''s' AS tenant_ok
  FROM opsmeter.export WHERE external_request_id = 'n-escapes';

-- The ranked lists group by the exact text: one row per string, holding
-- the jsonb and the NDJSON event (tenant "it's" also holds n-escapes).
SELECT w.n, t.user_id = w.s AS user_ok, t.requests
  FROM weird w LEFT JOIN opsmeter.top_users t ON t.user_id = w.s ORDER BY w.n;
SELECT w.n, t.tenant_id = w.s AS tenant_ok, t.requests
  FROM weird w LEFT JOIN opsmeter.top_tenants t ON t.tenant_id = w.s ORDER BY w.n;
SELECT count(*) AS other_users FROM opsmeter.top_users t WHERE t.user_id NOT IN (SELECT s FROM weird);
RESET ROLE;
-- And nothing was executed.
SELECT to_regclass('opsmeter.events') IS NOT NULL AS events_still_there;
