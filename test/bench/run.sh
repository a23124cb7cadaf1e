#!/usr/bin/env bash
# test/bench/run.sh — `make bench`: opsmeter's ingest benchmark (not part of the
# test suite).  Builds + installs opsmeter, starts a throwaway PostgreSQL 15
# cluster (shared_buffers = 1GB, max_wal_size = 8GB, checkpoint_timeout = 30min,
# fsync and synchronous_commit on, autovacuum off so no background vacuum lands
# inside one measurement and not another), and measures on that one cluster:
#
#   (a) COPY of N events (CSV) into bench.plain_events: an unpartitioned table
#       with the columns of opsmeter.events and the same keys.  The baseline:
#       the physical limit of storing these rows with a unique key.
#   (a2) the floor of opsmeter's own design: COPY of the same rows into
#       opsmeter.events (its daily partitions and their indexes) and of their
#       keys into the open generation of opsmeter.request_keys.
#   (b) opsmeter_ingest(jsonb), a JSON array of 1,000 events per call, one
#       transaction per call (psql -f of N/1000 SELECTs).
#   (c) opsmeter_ingest_ndjson(text), 1,000 lines per call.
#   (b) and (c) run twice: with the body as a bind parameter (send_bodies.c,
#       libpq: prepared once, executed per call; what psycopg, node-postgres
#       and JDBC do, README "Sending the body"), which is the figure held to
#       the targets, and as a SQL literal in a psql script (for information:
#       there psql scans each 330 kB literal for the statement's end and the
#       server's SQL lexer scans it again).
#   (d) bench_plpgsql_ingest(jsonb) (plpgsql_ingest.sql): the same rules
#       written by hand in PL/pgSQL, same batches.
#   (e) pgbench, 8 clients (-j 2), BENCH_SECONDS each: one event per
#       transaction through opsmeter_ingest vs a bare prepared INSERT of the same
#       row into bench.plain_events, in BENCH_E_ROUNDS alternating rounds (the
#       median round of each side is its figure).  Each round also times two
#       floors, for information: the row and its key written by one SQL
#       statement into opsmeter's own tables (pgbench_floor.sql), and the row
#       alone into a table whose unique index holds the key, the floor of a
#       design without a key row (pgbench_floor_key_in_row.sql).  Then, for
#       information, the same rounds with synchronous_commit = off in the
#       pgbench sessions only: with it on, both sides mostly wait for the WAL
#       flush and the ratio hides the CPU per call.
#   (f) one session ingesting BENCH_MEM_EVENTS single events (one transaction
#       each, pgbench -c 1 -M prepared); the backend's memory growth.
#
# Every timed run starts on empty tables (TRUNCATE + CHECKPOINT before it) and
# is timed by the wall clock around the client, so it includes the server's
# parsing of the input (CSV for COPY, JSON for the others) and the commits.
# Beside it, the server's CPU time of the run: the backends' user + system
# time, which the postmaster collects when they exit (this machine is noisy;
# CPU time is what a call costs the server, whatever else runs).
# All of (a)-(d) use the same synthetic events (gen.sql).
#
# Environment:
#   BENCH_EVENTS=500000      events for (a)-(d)
#   BENCH_SECONDS=20         duration of each pgbench run of (e)
#   BENCH_MEM_EVENTS=1000000 single-event calls for (f)
#   BENCH_BATCH=1000         events per call in (b)-(d)
#   BENCH_E_ROUNDS=3         alternating rounds of each (e) pair
#   BENCH_E_ASYNC=1          0 skips the informational synchronous_commit=off pair of (e)
#   BENCH_RESULTS=<repo>/bench-results/latest.md   where the table is saved
#
# Output: progress, the machine facts, then a markdown table with PASS/MISS
# per target; the same table (with the facts) is written to BENCH_RESULTS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$HERE/../lib/common.sh"
. "$HERE/lib.sh"

N="${BENCH_EVENTS:-500000}"
SECS="${BENCH_SECONDS:-20}"
MEM_EVENTS="${BENCH_MEM_EVENTS:-1000000}"
BATCH="${BENCH_BATCH:-1000}"
E_ROUNDS="${BENCH_E_ROUNDS:-3}"
RESULTS="${BENCH_RESULTS:-$REPO/bench-results/latest.md}"

require_positive_ints N SECS MEM_EVENTS BATCH E_ROUNDS
if ((MEM_EVENTS < 2000)); then
	echo "bench: BENCH_MEM_EVENTS must be at least 2000 (the first memory sample is taken after ~1000 events)" >&2
	exit 2
fi


# ---------------------------------------------------------------------------
opsmeter_require_packages
opsmeter_build_install
opsmeter_cluster_start bench \
	"shared_buffers = 1GB" \
	"max_wal_size = 8GB" \
	"checkpoint_timeout = 30min" \
	"fsync = on" \
	"synchronous_commit = on" \
	"autovacuum = off"

WORK="$(mktemp -d "${OPSMETER_TMPDIR:-/tmp}/opsmeter-bench-work.XXXXXX")"
opsmeter_defer "rm -rf -- $(printf '%q' "$WORK")"
T_START="$(now_s)"
SO_SUM="$(sha256sum "$("$OPSMETER_PGBIN/pg_config" --pkglibdir)/opsmeter.so" | cut -c1-16)"
SRC_NEWEST="$(find "$REPO/src" "$REPO/include" "$REPO/sql" -type f \( -name '*.c' -o -name '*.h' -o -name '*.sql' \) -printf '%TY-%Tm-%Td %TH:%TM:%TS %p\n' 2>/dev/null | sort | tail -n 1 | sed "s|$REPO/||; s|\.[0-9]* | |")"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load average at start: $LOAD_START ($(nproc) CPUs)"

log "creating the extension, the workspace and the comparison tables (setup.sql, plpgsql_ingest.sql)"
psql -X -q -v ON_ERROR_STOP=1 -f "$HERE/setup.sql" >/dev/null
psql -X -q -v ON_ERROR_STOP=1 -f "$HERE/plpgsql_ingest.sql" >/dev/null
WS="$(q "SELECT workspace_id FROM opsmeter.workspaces WHERE name = 'bench'")"
# the open generation of dedup keys, as the first retention pass makes it
GEN="$(q "SELECT opsmeter._open_key_generation(false)")"

# ---------------------------------------------------------------------------
# the synthetic events and the client input files made from them
log "generating $N synthetic events (gen.sql)"
psql -X -q -v ON_ERROR_STOP=1 -v n="$N" -v batch="$BATCH" -f "$HERE/gen.sql" >/dev/null
read -r FIRST_DAY LAST_DAY < <(q "SELECT min((ts AT TIME ZONE 'UTC')::date), max((ts AT TIME ZONE 'UTC')::date) FROM bench.src" | tr '|' ' ')
# The daily partitions exist before any timed run (both opsmeter's and the
# PL/pgSQL baseline's), as they would in steady state.
q "SELECT opsmeter.ensure_partitions('$FIRST_DAY', '$LAST_DAY'); SELECT bench.ensure_pl_partitions('$FIRST_DAY', '$LAST_DAY');" >/dev/null
read -r EXP_COUNT EXP_COST EXP_UNPRICED < <(q "SELECT count(*), sum(cost_usd), count(*) FILTER (WHERE pricing = 'unpriced') FROM bench.src" | tr '|' ' ')

COLS="workspace_id, ts, ingest_batch, input_tokens, output_tokens, total_tokens, cached_input_tokens, reasoning_tokens, latency_ms, is_error, data_mode, environment, pricing, ingested_by, ingested_at, external_request_id, provider, model, cost_usd, error_code, prompt_version, endpoint_tag, user_id, tenant_id, metadata"

log "writing client input files into $WORK"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT $COLS FROM bench.src ORDER BY seq) TO '$WORK/events.csv' WITH (FORMAT csv)"
psql -X -q -v ON_ERROR_STOP=1 -c "\\copy (SELECT workspace_id, external_request_id, (ts AT TIME ZONE 'UTC')::date, $GEN FROM bench.src ORDER BY seq) TO '$WORK/keys.csv' WITH (FORMAT csv)"
# bench_bodies SEPARATOR-SQL-EXPR WRAP-OPEN WRAP-CLOSE FILE [FUNCTION]: the
# events in calls of BATCH, one body per call.  With FUNCTION, a psql script
# of one statement per line, SELECT FUNCTION('<literal>'); (the JSON holds
# no quote or backslash); without, the bodies alone for send_bodies, one per
# record, records separated by 0x1E.
bench_bodies() {
	local body="$2 || string_agg(doc, $1 ORDER BY seq) || $3" select="" record_separator=()
	if [[ -n "${5:-}" ]]; then
		select="format('SELECT %s(%L);', '$5', $body)"
	else
		select="$body"
		record_separator=(-R $'\x1e')
	fi
	psql -X -A -t -q -v ON_ERROR_STOP=1 "${record_separator[@]}" -o "$4" -c "
		SELECT $select FROM bench.src GROUP BY (seq - 1) / $BATCH ORDER BY (seq - 1) / $BATCH"
}
bench_bodies "','" "'['" "']'" "$WORK/ingest_batch.sql" opsmeter_ingest
bench_bodies "E'\\n'" "''" "''" "$WORK/ingest_ndjson.sql" opsmeter_ingest_ndjson
bench_bodies "','" "'['" "']'" "$WORK/plpgsql_batch.sql" bench_plpgsql_ingest
bench_bodies "','" "'['" "']'" "$WORK/bodies_batch.txt"
bench_bodies "E'\\n'" "''" "''" "$WORK/bodies_ndjson.txt"
cc -O2 -Wall -Wextra -I"$(pg_config --includedir)" -o "$WORK/send_bodies" "$HERE/send_bodies.c" \
	-L"$(pg_config --libdir)" -lpq
NCALLS="$(q "SELECT count(DISTINCT (seq - 1) / $BATCH) FROM bench.src")"
log "$(du -sh "$WORK/events.csv" | cut -f1) CSV, $(du -sh "$WORK/ingest_batch.sql" | cut -f1) per JSON script, $NCALLS calls of $BATCH events; days $FIRST_DAY .. $LAST_DAY (UTC)"
log "a sample event: $(q "SELECT doc FROM bench.src ORDER BY seq LIMIT 1")"

# ---------------------------------------------------------------------------
# helpers for the timed runs

reset_tables() {
	q "TRUNCATE opsmeter.events, opsmeter.request_keys, bench.plain_events, bench.pl_events, bench.pl_request_keys" >/dev/null
	if [[ -n "${KEY_IN_ROW:-}" ]]; then q "TRUNCATE $KEY_IN_ROW" >/dev/null; fi
	q "CHECKPOINT" >/dev/null
}

# server_cpu_s: CPU seconds (user + system) of the postmaster's exited
# children: every backend's, once it has ended and been reaped.
server_cpu_s() {
	local pm
	pm="$(head -n 1 "$OPSMETER_PGDATA_ROOT/data/postmaster.pid")"
	awk -v tck="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); split($0, f, " "); printf "%.3f", (f[14] + f[15]) / tck }' "/proc/$pm/stat"
}

# timed LABEL CMD...: runs CMD (whose sessions end with it), sets ELAPSED and
# CPU (the server's CPU seconds for it)
timed() {
	local label="$1" t0 t1 c0 c1
	shift
	log "run $label"
	c0="$(server_cpu_s)"
	t0="$(now_s)"
	"$@"
	t1="$(now_s)"
	sleep 0.3		# the postmaster reaps the ended backend
	c1="$(server_cpu_s)"
	ELAPSED="$(calc '%.3f' "$t1 - $t0")"
	CPU="$(calc '%.3f' "$c1 - $c0")"
	log "  $label: ${ELAPSED}s (server CPU ${CPU}s)"
}

# check_table LABEL TABLE: the stored rows match bench.src (count, total cost, unpriced)
CHECK_NOTES=()
check_table() {
	local label="$1" table="$2" count cost unpriced
	read -r count cost unpriced < <(q "SELECT count(*), sum(cost_usd), count(*) FILTER (WHERE pricing = 'unpriced') FROM $table" | tr '|' ' ')
	if [[ "$count" == "$EXP_COUNT" && "$cost" == "$EXP_COST" && "$unpriced" == "$EXP_UNPRICED" ]]; then
		log "  $label stored $count rows, total cost \$$cost, $unpriced unpriced: matches the generated events"
	else
		log "  WARNING: $label stored $count rows, cost \$$cost, $unpriced unpriced; expected $EXP_COUNT, \$$EXP_COST, $EXP_UNPRICED"
		CHECK_NOTES+=("$label: stored $count rows / \$$cost / $unpriced unpriced, expected $EXP_COUNT / \$$EXP_COST / $EXP_UNPRICED")
	fi
}

run_psql_file() { psql -X -q -v ON_ERROR_STOP=1 -f "$1" >/dev/null; }

# pgbench_tps LOGFILE: the tps line (without initial connection time)
pgbench_field() {
	case "$2" in
		tps) sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$1" ;;
		txns) sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$1" ;;
		failed) sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$1" ;;
	esac
}

# ---------------------------------------------------------------------------
# (a) COPY
reset_tables
timed "(a) COPY $N rows into bench.plain_events" \
	psql -X -q -v ON_ERROR_STOP=1 -c "\\copy bench.plain_events ($COLS) FROM '$WORK/events.csv' WITH (FORMAT csv)"
A_SECS="$ELAPSED" A_CPU="$CPU"
check_table "(a)" bench.plain_events

# (a2) the floor of this design: the same rows into opsmeter's own tables and
# indexes, by COPY (keys into the open generation)
reset_tables
timed "(a2) COPY $N rows into opsmeter.events and their keys into opsmeter.request_keys" \
	psql -X -q -v ON_ERROR_STOP=1 -c "\\copy opsmeter.events ($COLS) FROM '$WORK/events.csv' WITH (FORMAT csv)" \
	-c "\\copy opsmeter.request_keys (workspace_id, external_request_id, event_day, generation) FROM '$WORK/keys.csv' WITH (FORMAT csv)"
A2_SECS="$ELAPSED" A2_CPU="$CPU"
check_table "(a2)" opsmeter.events

# (b) opsmeter_ingest, JSON arrays: bound, then as literals
reset_tables
timed "(b) opsmeter_ingest, $NCALLS calls of $BATCH events, body bound" \
	"$WORK/send_bodies" 'SELECT opsmeter_ingest($1::jsonb)' "$WORK/bodies_batch.txt"
B_SECS="$ELAPSED" B_CPU="$CPU"
check_table "(b)" opsmeter.events
if [[ "$(q "SELECT count(*) FROM opsmeter.request_keys")" != "$EXP_COUNT" ]]; then
	CHECK_NOTES+=("(b): opsmeter.request_keys does not hold $EXP_COUNT keys")
fi
reset_tables
timed "(b, literal) opsmeter_ingest, $NCALLS calls of $BATCH events, psql script" run_psql_file "$WORK/ingest_batch.sql"
BL_SECS="$ELAPSED" BL_CPU="$CPU"
check_table "(b, literal)" opsmeter.events

# (c) opsmeter_ingest_ndjson: bound, then as literals
reset_tables
timed "(c) opsmeter_ingest_ndjson, $NCALLS calls of $BATCH lines, body bound" \
	"$WORK/send_bodies" 'SELECT opsmeter_ingest_ndjson($1)' "$WORK/bodies_ndjson.txt"
C_SECS="$ELAPSED" C_CPU="$CPU"
check_table "(c)" opsmeter.events
reset_tables
timed "(c, literal) opsmeter_ingest_ndjson, $NCALLS calls of $BATCH lines, psql script" run_psql_file "$WORK/ingest_ndjson.sql"
CL_SECS="$ELAPSED" CL_CPU="$CPU"
check_table "(c, literal)" opsmeter.events

# (d) PL/pgSQL baseline
reset_tables
timed "(d) bench_plpgsql_ingest, $NCALLS calls of $BATCH events" run_psql_file "$WORK/plpgsql_batch.sql"
D_SECS="$ELAPSED" D_CPU="$CPU"
check_table "(d)" bench.pl_events

# ---------------------------------------------------------------------------
# (e) pgbench: single-event transactions, 8 clients.  The two sides run in
# E_ROUNDS alternating rounds (INSERT, ingest, INSERT, ingest, ...), each on
# empty tables after a CHECKPOINT, and each side's figure is its median
# round: drift over the run (WAL recycling, the disk's own background work)
# then lands on both sides instead of on whichever ran second.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The floor of this design for one event (the single-event (a2)): the row
# that opsmeter_ingest stores, written by one prepared statement straight
# into today's partition of opsmeter.events, and its key into the open
# generation, in the same statement (a data-modifying WITH): the same
# tables and indexes, none of the call's checks, lookups or pricing.
E_DAY="$(q "SELECT (now() AT TIME ZONE 'UTC')::date")"
E_PART="opsmeter.$(q "SELECT opsmeter.partition_name(date '$E_DAY')")"
E_GEN_TABLE="$(q "SELECT 'opsmeter.' || opsmeter.key_generation_name($GEN)")"
sed -e "s/@PART@/$E_PART/" -e "s/@DAY@/$E_DAY/g" -e "s/@GEN_TABLE@/$E_GEN_TABLE/" -e "s/@GEN@/$GEN/" \
	"$HERE/pgbench_floor.sql" >"$WORK/pgbench_floor.sql"

# For information, the floor of a design without a key row: the same row
# into a copy of today's partition (its indexes) that also has a unique
# (workspace_id, external_request_id) index (pgbench_floor_key_in_row.sql).
q "CREATE TABLE bench.key_in_row (LIKE $E_PART INCLUDING DEFAULTS INCLUDING INDEXES);
   CREATE UNIQUE INDEX key_in_row_key ON bench.key_in_row (workspace_id, external_request_id)" >/dev/null
KEY_IN_ROW=bench.key_in_row
sed -e "s/@DAY@/$E_DAY/g" "$HERE/pgbench_floor_key_in_row.sql" >"$WORK/pgbench_floor_key_in_row.sql"

# pgbench_round MESSAGE PGOPTIONS SCRIPT [pgbench options]: one 8-client
# run of SCRIPT on empty tables; sets RUN_TPS, RUN_TXNS and RUN_CPU_US (the
# server's CPU per committed transaction).
pgbench_round() {
	local message="$1" opts="$2" script="$3" out="$WORK/e_round.log" c0
	shift 3
	reset_tables
	log "run $message, 8 clients, ${SECS}s"
	c0="$(server_cpu_s)"
	PGOPTIONS="$opts" pgbench -n -M prepared -c 8 -j 2 -T "$SECS" "$@" -f "$script" >"$out" 2>&1 ||
		{ cat "$out" >&2; exit 1; }
	RUN_TPS="$(pgbench_field "$out" tps)"
	RUN_TXNS="$(pgbench_field "$out" txns)"
	sleep 0.3
	RUN_CPU_US="$(calc '%.1f' "($(server_cpu_s) - $c0) * 1e6 / $RUN_TXNS")"
}

# e_pair LABEL PGOPTIONS: E_ROUNDS rounds of the bare INSERT, opsmeter_ingest,
# the floor (pgbench_floor.sql) and the key-in-row floor; sets INS_TPS /
# ING_TPS / FLOOR_TPS / KIR_TPS and INS_CPU / ING_CPU / FLOOR_CPU / KIR_CPU
# (medians), INS_TXNS / ING_TXNS (totals over the rounds) and PAIR_RATIOS
# (each round's ratio).
e_pair() {
	local label="$1" opts="$2" r ins ing rows
	local -a ins_tps=() ing_tps=() floor_tps=() kir_tps=() ins_cpu=() ing_cpu=() floor_cpu=() kir_cpu=()
	INS_TXNS=0
	ING_TXNS=0
	PAIR_RATIOS=""
	for ((r = 1; r <= E_ROUNDS; r++)); do
		pgbench_round "($label) round $r/$E_ROUNDS: pgbench bare INSERT" "$opts" "$HERE/pgbench_insert.sql" -D ws="$WS"
		ins="$RUN_TPS"
		ins_cpu+=("$RUN_CPU_US")
		INS_TXNS=$((INS_TXNS + RUN_TXNS))
		pgbench_round "($label) round $r/$E_ROUNDS: pgbench opsmeter_ingest single event" "$opts" "$HERE/pgbench_ingest.sql"
		ing="$RUN_TPS"
		ing_cpu+=("$RUN_CPU_US")
		rows="$(q "SELECT count(*) FROM opsmeter.events")"
		if [[ "$rows" != "$RUN_TXNS" ]]; then
			CHECK_NOTES+=("($label) round $r: pgbench committed $RUN_TXNS ingest calls but opsmeter.events holds $rows rows")
		fi
		ING_TXNS=$((ING_TXNS + rows))
		pgbench_round "($label) round $r/$E_ROUNDS: pgbench floor (row + key, one statement)" "$opts" "$WORK/pgbench_floor.sql" -D ws="$WS"
		floor_tps+=("$RUN_TPS")
		floor_cpu+=("$RUN_CPU_US")
		pgbench_round "($label) round $r/$E_ROUNDS: pgbench key-in-row floor (row alone, unique key in its table)" "$opts" "$WORK/pgbench_floor_key_in_row.sql" -D ws="$WS"
		kir_tps+=("$RUN_TPS")
		kir_cpu+=("$RUN_CPU_US")
		ins_tps+=("$ins")
		ing_tps+=("$ing")
		PAIR_RATIOS="$PAIR_RATIOS${PAIR_RATIOS:+, }$(calc '%.2f' "$ing / $ins")"
		log "  round $r: bare INSERT $ins tps, opsmeter_ingest $ing tps ($rows rows stored): $(calc '%.2f' "$ing / $ins")"
	done
	INS_TPS="$(median "${ins_tps[@]}")"
	ING_TPS="$(median "${ing_tps[@]}")"
	FLOOR_TPS="$(median "${floor_tps[@]}")"
	INS_CPU="$(median "${ins_cpu[@]}")"
	ING_CPU="$(median "${ing_cpu[@]}")"
	FLOOR_CPU="$(median "${floor_cpu[@]}")"
	KIR_TPS="$(median "${kir_tps[@]}")"
	KIR_CPU="$(median "${kir_cpu[@]}")"
}

e_pair e ""
E_INS_TPS="$INS_TPS" E_ING_TPS="$ING_TPS" E_INS_TXNS="$INS_TXNS" E_ING_TXNS="$ING_TXNS" E_ROUND_RATIOS="$PAIR_RATIOS"
E_INS_CPU="$INS_CPU" E_ING_CPU="$ING_CPU" E_FLOOR_TPS="$FLOOR_TPS" E_FLOOR_CPU="$FLOOR_CPU" E_KIR_TPS="$KIR_TPS" E_KIR_CPU="$KIR_CPU"

# Informational: the same pair with synchronous_commit = off in the pgbench
# sessions (PGOPTIONS), so the ratio shows the CPU cost per call rather than
# the WAL flush both pay.  BENCH_E_ASYNC=0 skips it.
E_ASYNC="${BENCH_E_ASYNC:-1}"
if [[ "$E_ASYNC" == 1 ]]; then
	e_pair "e, info" "-c synchronous_commit=off"
	E2_INS_TPS="$INS_TPS" E2_ING_TPS="$ING_TPS" E2_INS_TXNS="$INS_TXNS" E2_ING_TXNS="$ING_TXNS" E2_ROUND_RATIOS="$PAIR_RATIOS"
	E2_INS_CPU="$INS_CPU" E2_ING_CPU="$ING_CPU" E2_FLOOR_TPS="$FLOOR_TPS" E2_FLOOR_CPU="$FLOOR_CPU" E2_KIR_TPS="$KIR_TPS" E2_KIR_CPU="$KIR_CPU"
fi

# ---------------------------------------------------------------------------
# (f) memory of one backend over MEM_EVENTS single-event calls
reset_tables
log "run (f) pgbench -c 1 -t $MEM_EVENTS -M prepared opsmeter_ingest (memory)"
SEQ0="$(q "SELECT last_value FROM opsmeter.ingest_batch_seq")"
F_T0="$(now_s)"
pgbench -n -M prepared -c 1 -t "$MEM_EVENTS" -f "$HERE/pgbench_ingest.sql" >"$WORK/f.log" 2>&1 &
PGB_PID=$!
# (evaluated at exit: only while pgbench has not been waited for, so never a reused pid)
opsmeter_defer 'if [[ -n "${PGB_PID:-}" ]]; then kill "$PGB_PID" 2>/dev/null || true; fi'


BPID=""
for _ in $(seq 1 600); do
	BPID="$(q "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND backend_type = 'client backend' LIMIT 1")"
	[[ -n "$BPID" ]] && break
	kill -0 "$PGB_PID" 2>/dev/null || break
	sleep 0.05
done
if [[ -z "$BPID" ]]; then
	cat "$WORK/f.log" >&2
	echo "bench: could not find the pgbench backend" >&2
	exit 1
fi
# status_kb PID FIELD: a field of /proc/PID/status in kB (empty once it is gone)
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || true; }
# wait for ~1000 events (each call draws one ingest_batch_seq value)
while kill -0 "$PGB_PID" 2>/dev/null; do
	cur="$(q "SELECT last_value FROM opsmeter.ingest_batch_seq")"
	((cur - SEQ0 >= 1000)) && break
	sleep 0.05
done
F_EVENTS_AT_FIRST="$(($(q "SELECT last_value FROM opsmeter.ingest_batch_seq") - SEQ0))"
RSS_FIRST="$(status_kb "$BPID" VmRSS)"
ANON_FIRST="$(status_kb "$BPID" RssAnon)"
SHMEM_FIRST="$(status_kb "$BPID" RssShmem)"
RSS_LAST="$RSS_FIRST" ANON_LAST="$ANON_FIRST" SHMEM_LAST="$SHMEM_FIRST" ANON_MAX="$ANON_FIRST" HWM=""
log "  backend pid $BPID after $F_EVENTS_AT_FIRST events: VmRSS ${RSS_FIRST} kB (RssAnon ${ANON_FIRST} kB, RssShmem ${SHMEM_FIRST} kB)"
NSAMPLES=1
LAST_REPORT="$(now_s)"
while kill -0 "$PGB_PID" 2>/dev/null; do
	r="$(status_kb "$BPID" VmRSS)"
	a="$(status_kb "$BPID" RssAnon)"
	s="$(status_kb "$BPID" RssShmem)"
	h="$(status_kb "$BPID" VmHWM)"
	if [[ -n "$r" && -n "$a" ]]; then
		RSS_LAST="$r" ANON_LAST="$a" SHMEM_LAST="$s" HWM="$h"
		((a > ANON_MAX)) && ANON_MAX="$a"
		NSAMPLES=$((NSAMPLES + 1))
	fi
	if [[ "$(calc '%d' "$(now_s) - $LAST_REPORT >= 30")" == 1 ]]; then
		LAST_REPORT="$(now_s)"
		log "  ... VmRSS ${RSS_LAST} kB, RssAnon ${ANON_LAST} kB ($(($(q "SELECT last_value FROM opsmeter.ingest_batch_seq") - SEQ0)) events)"
	fi
	sleep 1
done
F_RC=0
wait "$PGB_PID" || F_RC=$?
PGB_PID=""
F_T1="$(now_s)"
if [[ "$F_RC" -ne 0 ]]; then
	cat "$WORK/f.log" >&2
	echo "bench: pgbench for (f) failed" >&2
	exit 1
fi
F_SECS="$(calc '%.3f' "$F_T1 - $F_T0")"
F_TPS="$(pgbench_field "$WORK/f.log" tps)"
F_TXNS="$(pgbench_field "$WORK/f.log" txns)"
F_ANON_MB="$(calc '%.1f' "($ANON_LAST - $ANON_FIRST) / 1024")"
F_ANON_MAX_MB="$(calc '%.1f' "($ANON_MAX - $ANON_FIRST) / 1024")"
F_RSS_MB="$(calc '%.1f' "($RSS_LAST - $RSS_FIRST) / 1024")"
F_SHMEM_MB="$(calc '%.1f' "($SHMEM_LAST - $SHMEM_FIRST) / 1024")"
log "  $F_TXNS calls in ${F_SECS}s ($F_TPS tps); $NSAMPLES samples; last: VmRSS ${RSS_LAST} kB, RssAnon ${ANON_LAST} kB, RssShmem ${SHMEM_LAST} kB, VmHWM ${HWM} kB"
T_END="$(now_s)"

# ---------------------------------------------------------------------------
# the table

rate() { calc '%.0f' "$1 / $2"; }
pass() { if [[ "$(calc '%d' "$1")" == 1 ]]; then echo PASS; else echo MISS; fi; }

A_RATE="$(rate "$N" "$A_SECS")"
B_RATE="$(rate "$N" "$B_SECS")"
C_RATE="$(rate "$N" "$C_SECS")"
D_RATE="$(rate "$N" "$D_SECS")"
B_RATIO="$(calc '%.2f' "$A_SECS / $B_SECS")"
C_RATIO="$(calc '%.2f' "$A_SECS / $C_SECS")"
D_RATIO="$(calc '%.2f' "$A_SECS / $D_SECS")"
BD_RATIO="$(calc '%.2f' "$D_SECS / $B_SECS")"
CD_RATIO="$(calc '%.2f' "$D_SECS / $C_SECS")"
E_RATIO="$(calc '%.2f' "$E_ING_TPS / $E_INS_TPS")"
E_INS_TPS_R="$(calc '%.0f' "$E_INS_TPS")"
E_ING_TPS_R="$(calc '%.0f' "$E_ING_TPS")"
F_TPS_R="$(calc '%.0f' "$F_TPS")"

PG_VERSION="$(q "SELECT version()")"
SETTINGS="$(q "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
              WHERE name IN ('shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'fsync', 'synchronous_commit',
                             'wal_level', 'wal_sync_method', 'full_page_writes', 'autovacuum', 'jit', 'wal_buffers',
                             'work_mem', 'max_connections', 'opsmeter.max_batch_events')")"
CPU="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
MEMTOTAL="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)"
TOTAL_SECS="$(calc '%.0f' "$T_END - $T_START")"

{
	echo "# opsmeter ingest benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), total run ${TOTAL_SECS}s (after build)"
	echo "- machine: nproc $(nproc), $CPU, $MEMTOTAL RAM, $(uname -sr)"
	echo "- server: $PG_VERSION"
	echo "- opsmeter: $(q "SELECT extversion FROM pg_extension WHERE extname = 'opsmeter'"), opsmeter.so sha256 $SO_SUM (installed at the start of this run; the source newest change $SRC_NEWEST)"
	echo "- settings: $SETTINGS"
	echo "- load average (1/5/15 min) at start: $LOAD_START; at end: $(cut -d' ' -f1-3 /proc/loadavg) (anything else running on the machine shows here and skews the numbers)"
	echo "- sizes: BENCH_EVENTS=$N BENCH_BATCH=$BATCH BENCH_SECONDS=$SECS BENCH_MEM_EVENTS=$MEM_EVENTS"
	echo
	echo "| measurement | events | seconds | server CPU | events/s | ratio vs baseline | target | result |"
	echo "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |"
	echo "| (a) COPY CSV into plain table with the same key (baseline) | $N | $A_SECS | $A_CPU s | $A_RATE | 1.00 | baseline | - |"
	echo "| (a2) the floor: COPY into opsmeter.events (daily partitions, their indexes) + keys into the open generation | $N | $A2_SECS | $A2_CPU s | $(rate "$N" "$A2_SECS") | $(calc '%.2f' "$A_SECS / $A2_SECS") (a2/a); CPU (a)/(a2) $(calc '%.2f' "$A_CPU / $A2_CPU") | info | - |"
	echo "| (b) opsmeter_ingest, batches of $BATCH, body bound | $N | $B_SECS | $B_CPU s | $B_RATE | $B_RATIO (b/a); $(calc '%.2f' "$A2_SECS / $B_SECS") of the floor; CPU (a2)/(b) $(calc '%.2f' "$A2_CPU / $B_CPU") | >= 0.4 | $(pass "$B_RATIO >= 0.4") |"
	echo "| (b, literal) the same bodies as SQL literals in a psql script | $N | $BL_SECS | $BL_CPU s | $(rate "$N" "$BL_SECS") | $(calc '%.2f' "$A_SECS / $BL_SECS") (b, literal/a) | info | - |"
	echo "| (c) opsmeter_ingest_ndjson, $BATCH lines, body bound | $N | $C_SECS | $C_CPU s | $C_RATE | $C_RATIO (c/a); $(calc '%.2f' "$A2_SECS / $C_SECS") of the floor; CPU (a2)/(c) $(calc '%.2f' "$A2_CPU / $C_CPU") | >= 0.5 | $(pass "$C_RATIO >= 0.5") |"
	echo "| (c, literal) the same bodies as SQL literals in a psql script | $N | $CL_SECS | $CL_CPU s | $(rate "$N" "$CL_SECS") | $(calc '%.2f' "$A_SECS / $CL_SECS") (c, literal/a) | info | - |"
	echo "| (d) PL/pgSQL bench_plpgsql_ingest, batches of $BATCH | $N | $D_SECS | $D_CPU s | $D_RATE | $D_RATIO (d/a); b/d = $BD_RATIO, c/d = $CD_RATIO | b/d >= 3 | $(pass "$BD_RATIO >= 3") |"
	echo "| (e) pgbench bare prepared INSERT, 8 clients (baseline; median of $E_ROUNDS rounds) | $E_INS_TXNS | $E_ROUNDS x $SECS | ${E_INS_CPU} µs/call | $E_INS_TPS_R | 1.00 | baseline | - |"
	echo "| (e) the floor: the same row into today's partition + its key into the open generation, one prepared statement | - | $E_ROUNDS x $SECS | ${E_FLOOR_CPU} µs/call | $(calc '%.0f' "$E_FLOOR_TPS") | $(calc '%.2f' "$E_FLOOR_TPS / $E_INS_TPS") (floor/bare INSERT) | info | - |"
	echo "| (e) a design without a key row (not opsmeter's): the same row into a copy of today's partition with a unique key index | - | $E_ROUNDS x $SECS | ${E_KIR_CPU} µs/call | $(calc '%.0f' "$E_KIR_TPS") | $(calc '%.2f' "$E_KIR_TPS / $E_INS_TPS") (key-in-row floor/bare INSERT) | info | - |"
	echo "| (e) pgbench opsmeter_ingest 1 event/txn, 8 clients (median of $E_ROUNDS rounds, alternating) | $E_ING_TXNS | $E_ROUNDS x $SECS | ${E_ING_CPU} µs/call | $E_ING_TPS_R | $E_RATIO (vs bare INSERT; rounds: $E_ROUND_RATIOS); $(calc '%.2f' "$E_ING_TPS / $E_FLOOR_TPS") of the floor | >= 0.9 | $(pass "$E_RATIO >= 0.9") |"
	if [[ "$E_ASYNC" == 1 ]]; then
		echo "| (e, CPU-bound) bare INSERT, synchronous_commit=off in the session | $E2_INS_TXNS | $E_ROUNDS x $SECS | ${E2_INS_CPU} µs/call | $(calc '%.0f' "$E2_INS_TPS") | 1.00 | baseline | - |"
		echo "| (e, CPU-bound) the floor: the same row into today's partition + its key into the open generation, one prepared statement | - | $E_ROUNDS x $SECS | ${E2_FLOOR_CPU} µs/call | $(calc '%.0f' "$E2_FLOOR_TPS") | $(calc '%.2f' "$E2_FLOOR_TPS / $E2_INS_TPS") (floor/bare INSERT) | info | - |"
		echo "| (e, CPU-bound) a design without a key row (not opsmeter's): the same row into a copy of today's partition with a unique key index | - | $E_ROUNDS x $SECS | ${E2_KIR_CPU} µs/call | $(calc '%.0f' "$E2_KIR_TPS") | $(calc '%.2f' "$E2_KIR_TPS / $E2_INS_TPS") (key-in-row floor/bare INSERT) | info | - |"
		echo "| (e, CPU-bound) opsmeter_ingest, synchronous_commit=off in the session | $E2_ING_TXNS | $E_ROUNDS x $SECS | ${E2_ING_CPU} µs/call | $(calc '%.0f' "$E2_ING_TPS") | $(calc '%.2f' "$E2_ING_TPS / $E2_INS_TPS") (vs bare INSERT; rounds: $E2_ROUND_RATIOS); $(calc '%.2f' "$E2_ING_TPS / $E2_FLOOR_TPS") of the floor | >= 0.8 | $(pass "$E2_ING_TPS >= 0.8 * $E2_INS_TPS") |"
	fi
	echo "| (f) memory: 1 session, single-event calls | $F_TXNS | $F_SECS | - | $F_TPS_R | +$F_ANON_MB MB private/RssAnon (max +$F_ANON_MAX_MB); VmRSS +$F_RSS_MB MB | < 10 MB | $(pass "$F_ANON_MB < 10") |"
	echo
	echo "Notes:"
	echo "- ratios are events/s over the baseline's events/s; every run starts on empty tables after a CHECKPOINT; times are wall clock around the client and include the server parsing the CSV/JSON and every commit. Server CPU: user + system time of the run's backends (collected by the postmaster when they exit); for (e), per committed call, median round."
	echo "- (e): with synchronous_commit = on every transaction waits for a WAL flush (fdatasync), so both sides are mostly bound by the disk and by group commit, and short runs are noisy.$([[ "$E_ASYNC" == 1 ]] && echo " The (e, info) rows repeat the pair with synchronous_commit = off in the pgbench sessions only, which shows the CPU cost per call.")"
	echo "- (f): the first sample is taken after $F_EVENTS_AT_FIRST events, the last about a second before the session ends ($NSAMPLES samples, every second). \"private\" is RssAnon (the backend's own heap: palloc/malloc), which is what a leak grows; VmRSS also counts the shared_buffers pages the backend has touched (RssShmem +$F_SHMEM_MB MB here), which is bounded by shared_buffers and not a leak. VmRSS: ${RSS_FIRST} -> ${RSS_LAST} kB, RssAnon: ${ANON_FIRST} -> ${ANON_LAST} kB, VmHWM at the end ${HWM} kB."
	if [[ ${#CHECK_NOTES[@]} -gt 0 ]]; then
		for note in "${CHECK_NOTES[@]}"; do
			echo "- CHECK FAILED: $note"
		done
	else
		echo "- checks: (a)-(d) each stored all $EXP_COUNT events with the same total cost (\$$EXP_COST, $EXP_UNPRICED unpriced) as computed independently in gen.sql; (e) stored one row per committed call."
	fi
} >"$WORK/table.md"

mkdir -p "$(dirname "$RESULTS")"
cp "$WORK/table.md" "$RESULTS"

opsmeter_cleanup_now 0
echo
cat "$RESULTS"
echo
log "saved to $RESULTS"
