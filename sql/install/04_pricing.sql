------------------------------------------------------------------------------
-- Price catalog
------------------------------------------------------------------------------
CREATE TABLE opsmeter.prices (
    provider                  text NOT NULL CHECK (provider OPERATOR(pg_catalog.=) pg_catalog.lower(provider)),
    model                     text NOT NULL CHECK (model OPERATOR(pg_catalog.=) pg_catalog.lower(model)),
    effective_from            timestamptz NOT NULL,
    input_usd_per_mtok        numeric NOT NULL CHECK (input_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    output_usd_per_mtok       numeric NOT NULL CHECK (output_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    cached_input_usd_per_mtok numeric CHECK (cached_input_usd_per_mtok OPERATOR(pg_catalog.>=) 0),
    source                    text NOT NULL,
    loaded_at                 timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (provider, model, effective_from)
);
COMMENT ON TABLE opsmeter.prices IS
    'effective-dated list prices, USD per 1M tokens; provider and model stored lower-case';

-- Every backend caches the catalog; this trigger tells them it changed.
CREATE FUNCTION opsmeter._prices_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'opsmeter_prices_changed' LANGUAGE C;
CREATE TRIGGER prices_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON opsmeter.prices
    FOR EACH STATEMENT EXECUTE FUNCTION opsmeter._prices_changed();

CREATE FUNCTION @extschema@.opsmeter_load_prices(path text, effective_from timestamptz DEFAULT NULL)
RETURNS jsonb AS 'MODULE_PATHNAME', 'opsmeter_load_prices' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.opsmeter_load_prices(text, timestamptz) IS
    'load a price file (opsmeter or LiteLLM format) from the server; superusers, and members of both pg_read_server_files and opsmeter_admin';

CREATE FUNCTION opsmeter._load_default_prices() RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_load_default_prices' LANGUAGE C VOLATILE;
