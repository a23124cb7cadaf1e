------------------------------------------------------------------------------
-- Types
------------------------------------------------------------------------------
CREATE TYPE opsmeter.data_mode AS ENUM ('real', 'test', 'demo');
COMMENT ON TYPE opsmeter.data_mode IS 'what an event is: real traffic, test traffic or demo data (views default to real)';
CREATE TYPE opsmeter.environment AS ENUM ('prod', 'staging', 'dev');
COMMENT ON TYPE opsmeter.environment IS 'the deployment an event came from';
CREATE TYPE opsmeter.workspace_role AS ENUM ('owner', 'admin', 'member', 'viewer');
COMMENT ON TYPE opsmeter.workspace_role IS 'a member''s role in a workspace, most rights first';
CREATE TYPE opsmeter.pricing_source AS ENUM ('catalog', 'caller', 'unpriced');
COMMENT ON TYPE opsmeter.pricing_source IS 'where an event''s cost came from: the price catalog, the caller, or nowhere (unpriced)';
-- Summaries: one table holds six dimensions, at hourly and daily grain.
CREATE TYPE opsmeter.summary_dimension AS ENUM
    ('overview', 'model', 'user', 'tenant', 'endpoint', 'prompt_version');
COMMENT ON TYPE opsmeter.summary_dimension IS 'what a summary row is grouped by';
CREATE TYPE opsmeter.summary_grain AS ENUM ('hour', 'day');
COMMENT ON TYPE opsmeter.summary_grain IS 'the period a summary row covers: a UTC hour or a UTC day';
