#!/usr/bin/env bash
# opsmeter_ingest_otlp against real instrumentation (issue #17): the official
# `openai` npm client calls a fake OpenAI server on 127.0.0.1, instrumented by
# @opentelemetry/instrumentation-openai; the finished spans, serialised by
# @opentelemetry/otlp-transformer's JSON serializer, are ingested as they are
# (test/otel/generate.mjs; versions pinned in test/otel/package-lock.json).
# Every stored event is checked field by field against the numbers the fake
# server answered, the non-GenAI span must be skipped, and the body sent
# again must be all duplicates.  Skips, with one line, when node is missing.
# Runs against the cluster of test/run-tests.sh.
set -euo pipefail
REPO="${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
DB=opsmeter_otel

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "otel_instrumentation: skipped: node and npm are not installed"
	exit 0
fi
if (($(node -p 'process.versions.node.split(".")[0]') < 20)); then
	echo "otel_instrumentation: skipped: node $(node --version) is older than the pinned instrumentation needs (20.6)"
	exit 0
fi

WORK="$(mktemp -d)"
chmod 755 "$WORK"
cleanup() {
	rm -rf "$WORK"
	psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The pinned packages (npm ci installs exactly the lockfile).
npm ci --prefix "$REPO/test/otel" --no-audit --no-fund --loglevel=error >"$WORK/npm.log" 2>&1 ||
	{ cat "$WORK/npm.log" >&2; echo "otel_instrumentation: npm ci failed" >&2; exit 1; }
node "$REPO/test/otel/generate.mjs" "$WORK/body.json" "$WORK/expected.json"

psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
out="$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" \
	-v body="$(cat "$WORK/body.json")" -v expected="$(cat "$WORK/expected.json")" <<'SQL'
CREATE EXTENSION opsmeter;
SELECT opsmeter_create_workspace('otel') > 0 AS created \gset
SET opsmeter.workspace = 'otel';
CREATE TEMP TABLE expected AS
SELECT c.n, c.call FROM jsonb_array_elements(:'expected'::jsonb) WITH ORDINALITY c(call, n);
CREATE TEMP TABLE first_answer AS SELECT opsmeter_ingest_otlp(:'body'::jsonb) AS r;
CREATE TEMP TABLE second_answer AS SELECT opsmeter_ingest_otlp(:'body'::jsonb) AS r;
CREATE TEMP TABLE checks (name text, ok boolean, detail text);

INSERT INTO checks
SELECT 'first answer: every GenAI call accepted, the other span skipped',
       (r ->> 'received')::int = (SELECT count(*) FROM expected) AND (r ->> 'accepted')::int = (SELECT count(*) FROM expected)
       AND (r ->> 'skippedSpans')::int = 1 AND (r ->> 'duplicates')::int = 0,
       r::text
  FROM first_answer;
INSERT INTO checks
SELECT 'the same body again: all duplicates, nothing stored twice',
       (r ->> 'accepted')::int = 0 AND (r ->> 'duplicates')::int = (SELECT count(*) FROM expected)
       AND (SELECT count(*) FROM opsmeter.events) = (SELECT count(*) FROM expected),
       r::text
  FROM second_answer;

-- Each call the fake server answered, and the event stored for it: by the
-- response id it answered with; a call without one (the failed call, the
-- embeddings) by its span's identity, model and outcome.
CREATE TEMP TABLE matched AS
SELECT x.n, x.call, e.*
  FROM expected x
  LEFT JOIN LATERAL (
        SELECT e.* FROM opsmeter.events e
         WHERE CASE WHEN x.call ->> 'responseId' IS NOT NULL THEN e.external_request_id = x.call ->> 'responseId'
                    ELSE e.external_request_id = (e.metadata #>> '{otel,traceId}') || '-' || (e.metadata #>> '{otel,spanId}')
                         AND e.model = x.call ->> 'requestModel' AND e.is_error = (x.call ->> 'failed')::boolean END) e ON true;
INSERT INTO checks
SELECT format('call %s (%s %s%s)', m.n, m.call ->> 'api', m.call ->> 'requestModel',
              CASE WHEN (m.call ->> 'failed')::boolean THEN ', failed' ELSE '' END),
       m.external_request_id IS NOT NULL
       AND m.provider = 'openai'
       AND m.model = m.call ->> 'requestModel'
       AND m.metadata #>> '{otel,responseModel}' IS NOT DISTINCT FROM m.call ->> 'responseModel'
       AND m.metadata #>> '{otel,operation}' = m.call ->> 'operation'
       AND m.metadata #>> '{otel,service}' = 'otel-test'
       AND m.input_tokens = coalesce((m.call ->> 'inputTokens')::bigint, 0)
       AND m.output_tokens = coalesce((m.call ->> 'outputTokens')::bigint, 0)
       AND m.total_tokens = m.input_tokens + m.output_tokens
       AND m.is_error = (m.call ->> 'failed')::boolean
       AND m.error_code IS NOT DISTINCT FROM m.call ->> 'errorType'
       AND m.environment = 'prod'          -- deployment.environment.name "production"
       AND m.data_mode = 'real'
       AND m.latency_ms IS NOT NULL AND m.latency_ms >= 0
       AND m.ts BETWEEN now() - interval '10 minutes' AND now(),
       format('stored: id=%s model=%s in=%s out=%s cached=%s error=%s/%s latency=%s env=%s pricing=%s cost=%s meta=%s',
              m.external_request_id, m.model, m.input_tokens, m.output_tokens, m.cached_input_tokens, m.is_error,
              m.error_code, m.latency_ms, m.environment, m.pricing, m.cost_usd, m.metadata)
  FROM matched m;
INSERT INTO checks
SELECT 'every stored event is one of the calls', count(*) = (SELECT count(DISTINCT external_request_id) FROM matched),
       format('%s events', count(*))
  FROM opsmeter.events;
-- Priced from the catalog where it lists the model asked for.
INSERT INTO checks
SELECT 'gpt-4o-mini calls priced from the catalog',
       bool_and(pricing = 'catalog' AND cost_usd IS NOT NULL),
       string_agg(external_request_id || ': ' || coalesce(cost_usd::text, 'unpriced'), ', ')
  FROM opsmeter.events WHERE model = 'gpt-4o-mini' AND NOT is_error;

SELECT (CASE WHEN ok THEN 'ok     ' ELSE 'FAILED ' END) || name || CASE WHEN ok THEN '' ELSE ' -- ' || detail END
  FROM checks;
SQL
)"
echo "$out" | sed 's/^/otel_instrumentation: /'
if grep -q '^FAILED' <<<"$out" || ! grep -q '^ok' <<<"$out"; then
	exit 1
fi
