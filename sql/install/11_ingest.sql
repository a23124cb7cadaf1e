------------------------------------------------------------------------------
-- Ingest (C, the hot path)
------------------------------------------------------------------------------
CREATE FUNCTION @extschema@.opsmeter_ingest(payload jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest(jsonb) IS
    'ingest one event object or an array of them (all-or-nothing) into the active workspace';

CREATE FUNCTION @extschema@.opsmeter_ingest_ndjson(body text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest_ndjson' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest_ndjson(text) IS
    'ingest newline-delimited JSON events (parsed with json-c), all-or-nothing';

CREATE FUNCTION @extschema@.opsmeter_ingest_otlp(body jsonb) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'opsmeter_ingest_otlp' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.opsmeter_ingest_otlp(jsonb) IS
    'ingest an OTLP/JSON trace export: every GenAI span as one event (all-or-nothing), other spans skipped';
