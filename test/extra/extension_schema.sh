#!/usr/bin/env bash
# opsmeter installed into a schema of the DBA's choosing (issue #13, item 8).
#
# CREATE EXTENSION opsmeter SCHEMA opsmeter_api puts the opsmeter_* functions
# there, and the views of schema opsmeter call them.  A schema other than
# public grants nobody USAGE, and the extension does not change that (README,
# "Install"): until the DBA runs the README's one grant, every call of an
# opsmeter_* function fails with 42501 for every role but a superuser (the
# views of schema opsmeter, opsmeter.export included, need no grant: they
# call only functions of schema opsmeter).  After
#
#     GRANT USAGE ON SCHEMA opsmeter_api TO PUBLIC;
#
# every call the README's "Who may do what" allows works for the roles it
# allows it to: owner, admin, member, viewer (who accepts an invitation), a
# member of opsmeter_admin, and a member of both opsmeter_admin and
# pg_read_server_files (who loads prices).  Runs against the cluster of
# test/run-tests.sh, in a database of its own.
set -euo pipefail
DB=opsmeter_extschema
SCHEMA=opsmeter_api
ROLES=(schx_owner schx_admin schx_member schx_viewer schx_creator schx_loader)
cleanup() {
	psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
	for r in "${ROLES[@]}"; do
		psql -X -q -d postgres -c "SET client_min_messages = warning" -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }
cleanup
psql -X -q -d postgres -c "CREATE DATABASE $DB"
for r in "${ROLES[@]}"; do
	psql -X -q -d postgres -c "CREATE ROLE $r"
done
q "CREATE SCHEMA $SCHEMA"
q "CREATE EXTENSION opsmeter SCHEMA $SCHEMA"
# After CREATE EXTENSION, which makes opsmeter_admin on a new cluster.
# Loading prices needs both pg_read_server_files and opsmeter_admin.
q "GRANT opsmeter_admin TO schx_creator, schx_loader"
q "GRANT pg_read_server_files TO schx_loader"
q "SELECT $SCHEMA.opsmeter_create_workspace('schx_ws', 'schx_owner')" >/dev/null
q "SELECT $SCHEMA.opsmeter_add_member('schx_ws', 'schx_admin', 'admin'),
          $SCHEMA.opsmeter_add_member('schx_ws', 'schx_member', 'member'),
          $SCHEMA.opsmeter_add_member('schx_ws', 'schx_viewer', 'viewer')" >/dev/null
q "SET opsmeter.workspace = 'schx_ws'; SELECT $SCHEMA.opsmeter_ingest_demo(50)" >/dev/null
q "SELECT $SCHEMA.opsmeter_run_retention()" >/dev/null
PRICES="$(q "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")/extension/opsmeter_prices.json"
[[ -n "$(q "SELECT 1 FROM pg_stat_file('$PRICES', true) WHERE size > 0")" ]] ||
	{ echo "extension_schema: FAILED: no price file at $PRICES" >&2; exit 1; }

ev() { printf '{"externalRequestId": "%s", "provider": "openai", "model": "gpt-4o", "inputTokens": 1, "outputTokens": 1, "dataMode": "%s"}' "$1" "${2:-real}"; }
S=$SCHEMA
# role|statement: every call and read the README allows that role (in
# workspace schx_ws), in an order where each one leaves the next possible.
CALLS=(
	"schx_creator|SELECT $S.opsmeter_create_workspace('schx_ws2')"
	"schx_creator|SELECT $S.opsmeter_run_retention()"
	"schx_loader|SELECT $S.opsmeter_load_prices('$PRICES')"
	"schx_owner|SELECT $S.opsmeter_set_member_role('schx_ws', 'schx_viewer', 'member')"
	"schx_admin|SELECT $S.opsmeter_set_member_role('schx_ws', 'schx_viewer', 'viewer')"
	"schx_owner|SELECT $S.opsmeter_remove_member('schx_ws', 'schx_viewer')"
	"schx_admin|SELECT $S.opsmeter_add_member('schx_ws', 'schx_viewer', 'viewer')"
	"schx_viewer|SELECT $S.opsmeter_accept_invitation('schx_ws')"
	"schx_member|SELECT $S.opsmeter_ingest('$(ev schx-m-1)')"
	"schx_member|SELECT $S.opsmeter_ingest_ndjson('$(ev schx-m-2 test)')"
	"schx_member|SELECT $S.opsmeter_ingest_demo(5)"
	"schx_member|SELECT $S.opsmeter_clear_demo_data('mine')"
	"schx_member|SELECT $S.opsmeter_clear_test_data('mine')"
	"schx_admin|SELECT $S.opsmeter_ingest('$(ev schx-a-1 test)')"
	"schx_admin|SELECT $S.opsmeter_clear_test_data('workspace')"
	"schx_owner|SELECT $S.opsmeter_clear_demo_data('workspace')"
	"schx_owner|SELECT $S.opsmeter_set_retention('20 days', '200 days')"
	"schx_admin|SELECT $S.opsmeter_set_budget('daily', 100)"
	"schx_owner|SELECT $S.opsmeter_reprice(now() - interval '1 day', now() + interval '1 hour')"
	"schx_viewer|SELECT $S.opsmeter_workspace_status()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_overview()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_top_users()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_top_tenants()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_top_endpoints()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_top_models()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_prompt_versions()"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_export(now() - interval '7 days', now() + interval '1 hour')"
	"schx_viewer|SELECT * FROM $S.opsmeter_export_meta(now() - interval '7 days', now())"
	"schx_viewer|SELECT count(*) FROM $S.opsmeter_compare('model')"
	"schx_viewer|SELECT * FROM opsmeter.overview"
	"schx_viewer|SELECT * FROM opsmeter.top_users"
	"schx_viewer|SELECT * FROM opsmeter.top_tenants"
	"schx_viewer|SELECT * FROM opsmeter.top_endpoints"
	"schx_viewer|SELECT * FROM opsmeter.top_models"
	"schx_viewer|SELECT * FROM opsmeter.prompt_versions"
	"schx_viewer|SELECT * FROM opsmeter.unpriced_models"
	"schx_viewer|SELECT * FROM opsmeter.budget_signals"
	"schx_viewer|SELECT * FROM opsmeter.export"
)
# 'ok', or the SQLSTATE of the error the statement raised as ROLE.
as_role() {
	local role="$1" sql="$2" err
	if err="$(psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DB" -c '\set VERBOSITY sqlstate' \
		-c "SET ROLE $role" -c "SET opsmeter.workspace = 'schx_ws'" -c "$sql" 2>&1 >/dev/null)"; then
		echo ok
	else
		sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' <<<"$err" | head -n 1
		[[ "$err" == *ERROR:* ]] || echo "?$err"
	fi
}
# run_all granted|not-granted: each call gives what it must, else say which.
run_all() {
	local grant="$1" bad=0 entry role sql got expect
	for entry in "${CALLS[@]}"; do
		role="${entry%%|*}"
		sql="${entry#*|}"
		# Without the grant, a name in the schema cannot be looked up: every
		# call of an opsmeter_* function.  The views work.
		expect=ok
		if [[ "$grant" == not-granted && "$sql" == *"$S."* ]]; then
			expect=42501
		fi
		got="$(as_role "$role" "$sql")"
		if [[ "$got" != "$expect" ]]; then
			echo "extension_schema: expected $expect, got $got: $role: $sql" >&2
			bad=$((bad + 1))
		fi
	done
	return "$bad"
}

# Without the grant: refused on the schema (42501).
run_all not-granted || { echo "extension_schema: FAILED without the grant" >&2; exit 1; }
refused=0
for entry in "${CALLS[@]}"; do
	[[ "${entry#*|}" == *"$S."* || "${entry#*|}" == *opsmeter.export ]] && refused=$((refused + 1))
done
echo "extension_schema: without USAGE on $SCHEMA: $refused of ${#CALLS[@]} calls refused with 42501" \
	"(every opsmeter_* call and opsmeter.export); the other views work"

# The README's grant, exactly.
q "GRANT USAGE ON SCHEMA $SCHEMA TO PUBLIC"
run_all granted || { echo "extension_schema: FAILED with the README's grant" >&2; exit 1; }
echo "extension_schema: after GRANT USAGE ON SCHEMA $SCHEMA TO PUBLIC: all ${#CALLS[@]} calls work for the roles the README allows"

# The extension left the DBA's schema as it was: only the grant above is on it.
acl="$(q "SELECT nspacl FROM pg_namespace WHERE nspname = '$SCHEMA'")"
[[ "$(q "SELECT array_to_string(nspacl, ',') = format('%1\$s=UC/%1\$s,=U/%1\$s', nspowner::regrole)
           FROM pg_namespace WHERE nspname = '$SCHEMA'")" == t ]] ||
	{ echo "extension_schema: FAILED: unexpected privileges on $SCHEMA: $acl" >&2; exit 1; }
echo "extension_schema: ok"
