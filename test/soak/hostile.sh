#!/usr/bin/env bash
# test/soak/hostile.sh — a hostile tenant, run by test/soak/run.sh beside the
# load of workspace "soak" until killed.  As the owner of workspace
# "hostile" it does, over and over, every allowed thing that issue #13 found
# could hurt other tenants (a round lasts IDLE_SECONDS; each step runs in its
# own session, so a refusal stops nothing):
#
#   - asks for a raw retention of 100 years (refused: the ceiling),
#   - ingests events dated thousands of days back (refused: one partition
#     each of the shared table otherwise),
#   - ingests a cost of 1e-16383 (refused: money has a bounded scale),
#   - invites soak's writer into its workspace (planting a member),
#   - leaves an ingest transaction open and idle for IDLE_SECONDS (the pass
#     must not wait for it),
#   - holds a plain SELECT on opsmeter.events open for a few seconds (the
#     pass must not wait for it either, nor deadlock with it),
#   - probes planner estimates for other tenants' user ids.
#
# Everything it stores lands in workspace "hostile"; run.sh's checks of
# workspace "soak" must not see any of it, and every pass must complete.
# Output goes to the file named by $1.
set -uo pipefail
LOG="${1:?usage: hostile.sh LOGFILE}"
IDLE_SECONDS="${IDLE_SECONDS:-12}"
export PGOPTIONS="-c opsmeter.workspace=hostile"
as_hostile() { psql -X -q -A -t -U hostile_owner "$@" >>"$LOG" 2>&1; }

round=0
while :; do
	round=$((round + 1))
	as_hostile -c "SELECT opsmeter_set_retention('100 years', '100 years')"
	as_hostile -c "SELECT opsmeter_ingest(jsonb_agg(jsonb_build_object('externalRequestId', 'h-old-$round-' || d,
		'provider', 'openai', 'model', 'gpt-4o', 'inputTokens', 1, 'outputTokens', 1,
		'timestamp', to_char(now() AT TIME ZONE 'UTC' - make_interval(days => d), 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))))
		FROM generate_series(500, 5000, 50) d"
	as_hostile -c "SELECT opsmeter_ingest('{\"externalRequestId\": \"h-tiny-$round\", \"provider\": \"openai\",
		\"model\": \"gpt-4o\", \"inputTokens\": 1, \"outputTokens\": 1, \"costUsd\": 1e-16383}')"
	as_hostile -c "SELECT opsmeter_add_member('hostile', 'soak_app', 'viewer')"
	as_hostile -c "EXPLAIN SELECT * FROM opsmeter.events WHERE user_id = 'u7'"
	# An ingest left open: its batch number is drawn and held.
	as_hostile -c "BEGIN" -c "SELECT opsmeter_ingest('{\"externalRequestId\": \"h-idle-$round\",
		\"provider\": \"openai\", \"model\": \"gpt-4o\", \"inputTokens\": 5, \"outputTokens\": 5}')" \
		-c "SELECT pg_sleep($IDLE_SECONDS)" -c "COMMIT" &
	# A reader holding every partition of the shared table.
	as_hostile -c "BEGIN" -c "SELECT count(*) FROM opsmeter.events" -c "SELECT pg_sleep(4)" -c "COMMIT"
	wait
done
