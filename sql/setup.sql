-- setup: the shared test set-up, made once, right after install (which
-- creates the extension and its NOLOGIN role opsmeter_admin).  The stories
-- run in order in one database, so what is made here is visible to every
-- later one; roles are cluster-wide.  A story that uses something made here
-- says so at its top.  This story needs superuser; it can be run again on a
-- cluster that kept the roles of an earlier run.
--
-- 1. The roles the stories act as.  Only opsmeter_admin membership is granted
--    here; workspace membership is what the stories themselves test.
-- 2. regress.write_server_file(path, content): writes a file on the server
--    (price files for opsmeter_load_prices), superuser only.
--    regress.try_set(parameter, value): SETs a parameter and reports a
--    refusal in words that do not depend on the PostgreSQL major version.

------------------------------------------------------------------------------
-- 1. Roles
------------------------------------------------------------------------------
CREATE TEMP TABLE setup_roles (story text, rolname name, login boolean, opsmeter_admin boolean);
INSERT INTO setup_roles VALUES
    ('tenancy', 'regress_creator', true, true),
    ('tenancy', 'regress_owner', true, false),
    ('tenancy', 'regress_admin', true, false),
    ('tenancy', 'regress_member', true, false),
    ('tenancy', 'regress_viewer', true, false),
    ('tenancy', 'regress_outsider', true, false),
    ('tenancy', 'regress_nobody', true, false),
    ('tenancy', 'regress_multi', true, false),
    ('pricing', 'regress_pricer', false, false),
    ('rollup', 'regress_ops', false, true),
    ('rollup', 'regress_plain', false, false),
    ('budgets', 'budget_owner', true, false),
    ('budgets', 'budget_admin', true, false),
    ('budgets', 'budget_member', true, false),
    ('budgets', 'budget_viewer', true, false),
    ('budgets', 'budget_outsider', true, false),
    ('hygiene', 'hygiene_owner', true, false),
    ('hygiene', 'hygiene_member', true, false),
    ('hygiene', 'hygiene_viewer', true, false),
    ('role_matrix', 'matrix_owner', true, false),
    ('role_matrix', 'matrix_admin', true, false),
    ('role_matrix', 'matrix_member', true, false),
    ('role_matrix', 'matrix_viewer', true, false),
    ('role_matrix', 'matrix_other', true, false),
    ('role_matrix', 'matrix_nobody', true, false),
    ('role_matrix', 'matrix_opsadmin', true, true),
    ('role_matrix', 'matrix_spare', true, false),
    ('role_matrix', 'matrix_newbie', true, false),
    ('hardening', 'harden_attacker', true, false),
    ('hardening', 'harden_opsadmin', true, true),
    ('hardening', 'harden_helper', true, false),
    ('hardening', 'harden_writer', true, false);

DO $$
DECLARE r record;
BEGIN
    FOR r IN SELECT * FROM setup_roles ORDER BY rolname LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.rolname) THEN
            EXECUTE format('CREATE ROLE %I %s', r.rolname, CASE WHEN r.login THEN 'LOGIN' ELSE 'NOLOGIN' END);
        END IF;
        IF r.opsmeter_admin AND NOT pg_has_role(r.rolname, 'opsmeter_admin', 'MEMBER') THEN
            EXECUTE format('GRANT opsmeter_admin TO %I', r.rolname);
        END IF;
    END LOOP;
END $$;

-- Every role exists as listed, none is a superuser, and only the three meant
-- to are members of opsmeter_admin (none expected below).
SELECT s.story, s.rolname, r.rolname IS NOT NULL AS exists, r.rolcanlogin, r.rolsuper,
       pg_has_role(r.oid, 'opsmeter_admin', 'MEMBER') AS opsmeter_admin
  FROM setup_roles s LEFT JOIN pg_roles r USING (rolname)
 WHERE r.rolname IS NULL OR r.rolcanlogin IS DISTINCT FROM s.login OR r.rolsuper
    OR pg_has_role(r.oid, 'opsmeter_admin', 'MEMBER') IS DISTINCT FROM s.opsmeter_admin
 ORDER BY 1, 2;
SELECT story, count(*) AS roles, count(*) FILTER (WHERE opsmeter_admin) AS in_opsmeter_admin,
       string_agg(rolname, ', ' ORDER BY rolname) AS names
  FROM setup_roles GROUP BY story ORDER BY story;

------------------------------------------------------------------------------
-- 2. Helpers
------------------------------------------------------------------------------
CREATE SCHEMA regress;
-- Writes content to a file on the server, as the server's OS user; the
-- stories write price files with it.
CREATE FUNCTION regress.write_server_file(path text, content text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE lo oid;
BEGIN
    lo := lo_from_bytea(0, convert_to(content, 'UTF8'));
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
END $$;
REVOKE EXECUTE ON FUNCTION regress.write_server_file(text, text) FROM PUBLIC;
SELECT regress.write_server_file('/tmp/opsmeter_regress_setup.txt', E'it''s set up\n');
SELECT pg_read_file('/tmp/opsmeter_regress_setup.txt') = E'it''s set up\n' AS reads_back;
SELECT has_function_privilege('public', 'regress.write_server_file(text, text)', 'EXECUTE') AS public_can_write_files;

-- set_config(parameter, value) in a subtransaction: 'ok' or the SQLSTATE of
-- the refusal, whether it was the "is outside the valid range for
-- parameter <parameter>" error, the setting afterwards, and the valid range
-- as pg_settings gives it.  The error message itself is not shown: it
-- depends on the major version (15 prints the unit with the value only,
-- "10 min is outside ... (60 .. 52560000)"; 17 and 18 with the bounds too,
-- "(60 min .. 52560000 min)").
CREATE FUNCTION regress.try_set(parameter text, value text,
                                OUT outcome text, OUT out_of_range boolean, OUT setting text, OUT valid_range text)
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
BEGIN
    BEGIN
        PERFORM set_config(parameter, value, false);
        outcome := 'ok';
        out_of_range := false;
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE;
        out_of_range := strpos(SQLERRM, ' is outside the valid range for parameter "' || parameter || '" (') > 0;
    END;
    setting := current_setting(parameter);
    SELECT s.min_val || ' .. ' || s.max_val || coalesce(' ' || s.unit, '') INTO valid_range
      FROM pg_settings s WHERE s.name = parameter;
END $$;
-- Refused below the minimum (the setting stays); refused as no number;
-- accepted.
SELECT * FROM regress.try_set('statement_timeout', '-1');
SELECT * FROM regress.try_set('statement_timeout', 'soon');
SELECT * FROM regress.try_set('statement_timeout', '5s');
RESET statement_timeout;
