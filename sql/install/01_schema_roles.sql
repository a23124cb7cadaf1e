------------------------------------------------------------------------------
-- Schema "opsmeter" and the opsmeter_admin role
------------------------------------------------------------------------------
CREATE SCHEMA opsmeter;
COMMENT ON SCHEMA opsmeter IS 'opsmeter internal tables, views and types';

-- The NOLOGIN role whose members may create workspaces.  Roles are
-- cluster-wide, so another database may have created it already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) 'opsmeter_admin') THEN
        CREATE ROLE opsmeter_admin NOLOGIN;
    END IF;
END
$$;
