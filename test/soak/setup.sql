-- Soak/crash setup: one workspace owned by soak_owner, written by soak_app
-- (a plain member, as a backend service would be), with a daily budget so
-- every ingest also moves the spend counters and computes budget flags.
SET client_min_messages = warning;
CREATE EXTENSION opsmeter;
CREATE ROLE soak_owner LOGIN;
CREATE ROLE soak_app LOGIN;
SELECT opsmeter_create_workspace('soak', 'soak_owner');
SELECT opsmeter_add_member('soak', 'soak_app', 'member');
SET ROLE soak_owner;
SET opsmeter.workspace = 'soak';
SELECT opsmeter_set_budget('daily', 1000000);
RESET ROLE;

-- A hostile tenant beside it (test/soak/hostile.sh): the owner of another
-- workspace, doing every allowed thing that could hurt "soak".
CREATE ROLE hostile_owner LOGIN;
SELECT opsmeter_create_workspace('hostile', 'hostile_owner');

-- When each phase ran, for the checks on the passes made meanwhile.
CREATE SCHEMA IF NOT EXISTS soak;
CREATE TABLE soak.phases (name text PRIMARY KEY, started_at timestamptz NOT NULL, ended_at timestamptz);

-- The ground truth.  Each workload statement inserts here, in the same
-- transaction as its opsmeter_ingest call, the events opsmeter answered as
-- accepted (not duplicate).  So whatever committed in opsmeter committed
-- here, and nothing else did, whichever process is killed when.
CREATE TABLE soak.truth (
    xid           text NOT NULL,
    via           text NOT NULL,
    mode          text NOT NULL,
    ts            timestamptz NOT NULL,
    user_id       text NOT NULL,
    input_tokens  bigint NOT NULL,
    output_tokens bigint NOT NULL,
    latency_ms    integer NOT NULL,
    is_error      boolean NOT NULL
);
GRANT USAGE ON SCHEMA soak TO soak_app;
GRANT INSERT ON soak.truth TO soak_app;

-- Every workload derives an event from its key k alone, so a retry of the
-- same externalRequestId is the same event.  The timestamp is the exception:
-- it is "now minus k's lateness", so late events land in hours the worker
-- has already rolled up.
CREATE FUNCTION soak.event(k bigint, late_hours int) RETURNS jsonb
LANGUAGE sql STABLE RETURN jsonb_build_object(
    'externalRequestId', 'k-' || k,
    'provider', 'openai', 'model', 'gpt-4o-mini',
    'inputTokens', k % 1000 + 1, 'outputTokens', k % 97,
    'latencyMs', k % 4000,
    'status', CASE WHEN k % 23 = 0 THEN 'error' ELSE 'success' END,
    'dataMode', CASE WHEN k % 10 = 0 THEN 'test' ELSE 'real' END,
    'userId', 'u' || k % 40,
    'endpointTag', 'e' || k % 7,
    'timestamp', date_trunc('second', statement_timestamp()) - late_hours * interval '1 hour');
GRANT EXECUTE ON FUNCTION soak.event(bigint, int) TO soak_app;

-- The truth row of an event built by soak.event().
CREATE FUNCTION soak.truth_row(ev jsonb, via text) RETURNS soak.truth
LANGUAGE sql STABLE RETURN ROW(
    ev ->> 'externalRequestId', via, ev ->> 'dataMode', (ev ->> 'timestamp')::timestamptz,
    ev ->> 'userId', (ev ->> 'inputTokens')::bigint, (ev ->> 'outputTokens')::bigint,
    (ev ->> 'latencyMs')::integer, ev ->> 'status' = 'error')::soak.truth;
GRANT EXECUTE ON FUNCTION soak.truth_row(jsonb, text) TO soak_app;
