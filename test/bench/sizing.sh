#!/usr/bin/env bash
# Production sizing: disk and WAL per event (README "Running it in
# production", "Sizing"), in one run on one throwaway cluster with the
# settings the README's figures were measured with (shared_buffers 1GB,
# max_wal_size 8GB, checkpoint_timeout 30min, fsync and synchronous_commit
# on, full_page_writes on, wal_compression off, autovacuum off, the
# background worker off: every pass is a SELECT opsmeter_run_retention()).
#
# The events: yesterday (UTC), in the shape of opsmeter_ingest_demo
# (sql/install/12_hygiene.sql) with dataMode real / environment prod: 6
# provider/models, all priced by the default catalog; 5 endpoints, 4 prompt
# versions, 1,000 distinct userId, 50 tenantId, a random 36-character uuid
# externalRequestId, 30% with cachedInputTokens 100, 4% errors
# (errorCode rate_limited), no metadata; timestamps ascend evenly over the
# day, as in a time-ordered stream.  They are generated in SQL (setseed:
# the same events on every run) into a psql script of one
# SELECT opsmeter_ingest('<JSON array of 1,000 events>') per line, sent
# with psql -f, one transaction per call, as test/bench/run.sh (b) does.
#
#   (1) database sizing, one workspace, SIZING_EVENTS events: bytes per event
#       and per 1M events/day of the day's events partition (heap, each
#       index, total) and of the open dedup key generation (heap, index,
#       total), measured after one rollup pass; then what that pass wrote
#       to summary_quarters, summaries and rollup_days (each net of its
#       size when empty); WAL bytes per event of the load (a CHECKPOINT
#       just before it, none during) and of the pass (a CHECKPOINT before).
#   (2) database sizing_ckpt, fresh: WAL per event of the same load with a
#       CHECKPOINT after every 3rd call (one per 3,000 events: about what
#       5-minute checkpoints give at 1M events a day, one per ~3,470), so
#       that the full-page images of the pages written again after each
#       checkpoint (most of them the dedup key index's) are in it.
#   (3) database sizing_small: SIZING_SMALL_WORKSPACES workspaces of
#       SIZING_SMALL_EVENTS events each, same day; one pass; summary_quarters,
#       summaries and rollup_days bytes per event next to the events
#       partition's (a small workspace-day costs more in summaries per event).
#   (4) pg_dump -Fc of database sizing (size, seconds), pg_restore
#       --exit-on-error into a fresh database, and a check: count(*) of
#       opsmeter.events and the rows of opsmeter.overview (workspace acme)
#       are the same in both (ok / FAILED).
#
# Units: 1 MB = 10^6 bytes; "per 1M events/day" is bytes per event x 10^6,
# i.e. what one day of 1,000,000 events of this shape takes (measured at
# SIZING_EVENTS; with fewer events it is an extrapolation).
# Sizes: SIZING_EVENTS (default 1000000), SIZING_SMALL_WORKSPACES (100),
# SIZING_SMALL_EVENTS (1000).  At the defaults the run needs ~2 GB of disk
# in the cluster's directory (OPSMETER_TMPDIR, default /tmp) plus up to
# max_wal_size (8 GB) of WAL, and takes a few minutes.
# The table is also saved to SIZING_RESULTS (default
# <repo>/bench-results/sizing.md).  Exit 1 when a check fails.
# BENCH_SKIP_INSTALL=1 uses the installed extension as it is (no build/install).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export REPO
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$HERE/../lib/common.sh"
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$HERE/lib.sh"

SIZING_EVENTS="${SIZING_EVENTS:-1000000}"
SIZING_SMALL_WORKSPACES="${SIZING_SMALL_WORKSPACES:-100}"
SIZING_SMALL_EVENTS="${SIZING_SMALL_EVENTS:-1000}"
require_positive_ints SIZING_EVENTS SIZING_SMALL_WORKSPACES SIZING_SMALL_EVENTS
N=$SIZING_EVENTS NWS=$SIZING_SMALL_WORKSPACES NSMALL=$SIZING_SMALL_EVENTS
RESULTS="${SIZING_RESULTS:-$REPO/bench-results/sizing.md}"
BATCH=1000      # events per ingest call
CKPT_EVERY=3    # (2): a CHECKPOINT after every CKPT_EVERY calls
SEED=0.20261129 # setseed() of the generator

# qd DB SQL: q in database DB
qd() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
# per_event BYTES EVENTS: bytes per event, two decimals
per_event() { calc "%.2f" "$1 / $2"; }
# mb BYTES EVENTS: MB (10^6 B) per 1M events (= bytes per event)
mb() { calc "%.2f MB" "$1 / $2"; }
# num N: N with thousands separators
num() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
# rows N: "1 row", "26,650 rows"
rows() { if [[ "$1" == 1 ]]; then echo "1 row"; else echo "$(num "$1") rows"; fi; }
CHECK_NOTES=()
fail() {
	log "CHECK FAILED: $*"
	CHECK_NOTES+=("$*")
}
ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); } # step, part, bytes/event, per 1M/day, notes

# ---------------------------------------------------------------------------
opsmeter_require_packages
if [[ "${BENCH_SKIP_INSTALL:-0}" == "1" ]]; then
	log "BENCH_SKIP_INSTALL=1: using the installed extension, no build/install"
else
	opsmeter_build_install "$REPO"
fi
opsmeter_cluster_start bench-sizing \
	"shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
	"fsync = on" "synchronous_commit = on" "autovacuum = off" \
	"wal_level = replica" "full_page_writes = on" "wal_compression = off" "timezone = 'UTC'" \
	"opsmeter.database = 'postgres'" "opsmeter.worker_enabled = off"
WORK="$OPSMETER_PGDATA_ROOT/work"
mkdir -p "$WORK"
T_START="$(now_s)"

VERSION="$(q "SELECT version()")"
FINGERPRINT="$(bench_installed_fingerprint)"
SETTINGS="$(q "SELECT string_agg(name || ' = ' || current_setting(name), ', ' ORDER BY ord)
    FROM unnest(ARRAY['shared_buffers', 'max_wal_size', 'checkpoint_timeout', 'autovacuum', 'fsync',
         'synchronous_commit', 'wal_level', 'full_page_writes', 'wal_compression', 'wal_log_hints', 'data_checksums',
         'block_size', 'shared_preload_libraries', 'opsmeter.worker_enabled', 'opsmeter.database',
         'opsmeter.summarize_day_rows', 'opsmeter.key_generation', 'opsmeter.raw_retention']) WITH ORDINALITY AS s(name, ord)")"
DAY="$(q "SELECT ((now() AT TIME ZONE 'UTC')::date - 1)::text")"
log "server: $VERSION"
log "$FINGERPRINT"
log "settings: $SETTINGS"
log "sizes: SIZING_EVENTS=$N, SIZING_SMALL_WORKSPACES=$NWS, SIZING_SMALL_EVENTS=$NSMALL; day $DAY (yesterday, UTC); $BATCH events per call; load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# Checkpoints so far (pg_stat_checkpointer from 17 on, pg_stat_bgwriter before).
if (($(q "SELECT current_setting('server_version_num')::int") >= 170000)); then
	CKPT_SQL="SELECT num_timed + num_requested FROM pg_stat_checkpointer"
else
	CKPT_SQL="SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
fi
# wal_mark DB: "insert LSN|full-page images|WAL records|checkpoints" now.
wal_mark() { qd "$1" "SELECT pg_current_wal_insert_lsn(), w.wal_fpi, w.wal_records, ($CKPT_SQL) FROM pg_stat_wal w"; }
# wal_since DB MARK: sets W_BYTES, W_FPI, W_RECORDS, W_CKPTS since MARK.
# The sleep lets the ended psql sessions' backends exit and flush their
# WAL statistics, and the checkpointer report its last checkpoint.
wal_since() {
	local lsn0 fpi0 rec0 ck0 lsn1 fpi1 rec1 ck1
	sleep 1
	IFS='|' read -r lsn0 fpi0 rec0 ck0 <<<"$2"
	IFS='|' read -r lsn1 fpi1 rec1 ck1 <<<"$(wal_mark "$1")"
	W_BYTES=$(qd "$1" "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')::bigint")
	W_FPI=$((fpi1 - fpi0))
	W_RECORDS=$((rec1 - rec0))
	W_CKPTS=$((ck1 - ck0))
}

# checkpoint: a CHECKPOINT; the pause lets the checkpointer report it to
# the statistics (it does so after waking the waiting backend).
checkpoint() {
	q "CHECKPOINT"
	sleep 0.5
}
# new_db DB: a database with the extension, after a first (empty) pass,
# which opens the first generation of dedup keys and creates the coming
# week's partitions, as on a running installation.
new_db() {
	q "CREATE DATABASE $1"
	qd "$1" "CREATE EXTENSION opsmeter"
	run_pass "$1"
}
# run_pass DB: one retention pass, which must succeed; sets PASS_S (wall
# seconds) and PASS_ROWS (rowsRolledUp).
run_pass() {
	local t0 ok r
	t0=$(now_s)
	IFS='|' read -r ok PASS_ROWS r < <(qd "$1" "SELECT r ->> 'ok', r ->> 'rowsRolledUp', r::text FROM (SELECT opsmeter_run_retention() AS r) s")
	PASS_S=$(calc "%.1f" "$(now_s) - $t0")
	if [[ "$ok" != "true" ]]; then
		echo "bench: opsmeter_run_retention() in $1 failed: $r" >&2
		exit 1
	fi
}
# summary_sizes DB: "summary_quarters|summaries|rollup_days" total sizes.
summary_sizes() {
	qd "$1" "SELECT pg_total_relation_size('opsmeter.summary_quarters'), pg_total_relation_size('opsmeter.summaries'),
	                pg_total_relation_size('opsmeter.rollup_days')"
}
# rel_parts DB TABLE: lines "part|bytes": total (pg_total_relation_size:
# every fork, the indexes, the TOAST table), heap (main fork), each index
# (all its forks).
rel_parts() {
	qd "$1" "SELECT part, bytes FROM (
	    SELECT 1 AS o, 'heap' AS part, pg_relation_size('$2'::regclass) AS bytes
	    UNION ALL
	    SELECT 2, 'index ' || ic.relname || ' (' || am.amname || ')', pg_total_relation_size(ic.oid)
	      FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
	     WHERE i.indrelid = '$2'::regclass
	    UNION ALL
	    SELECT 0, 'total', pg_total_relation_size('$2'::regclass)) s ORDER BY o, part"
}
# rel_rows STEP DB TABLE EVENTS LABEL NOTE: table rows for TABLE's parts.
rel_rows() {
	local part bytes
	while IFS='|' read -r part bytes; do
		if [[ "$part" == total ]]; then
			row "$1" "**$5** \`$3\`, total" "$(per_event "$bytes" "$4")" "$(mb "$bytes" "$4")" "$(num "$bytes") B; $6"
		else
			row "$1" "– $part" "$(per_event "$bytes" "$4")" "$(mb "$bytes" "$4")" "$(num "$bytes") B"
		fi
	done < <(rel_parts "$2" "$3")
}

# gen_script FILE WORKSPACES EVENTS_PER_WORKSPACE WORKSPACE_NAME: the psql
# script of the load.  WORKSPACE_NAME is a format() string given the
# workspace's number (1..WORKSPACES): 'acme', 'ws%s'.  One line per call:
# the first call of each workspace is preceded by its SET
# opsmeter.workspace.  Event i (0-based) of a workspace's n is stamped
# DAY 00:00 UTC + floor(i * 86400 s / n), microseconds.  No JSON string
# holds a quote or a backslash, so COPY's text format writes it verbatim.
gen_script() {
	local nb=$((($3 + BATCH - 1) / BATCH))
	psql -X -q -v ON_ERROR_STOP=1 -v nws="$2" -v per_ws="$3" -v nb="$nb" -v batch="$BATCH" -v wsname="$4" \
		-v day="$DAY" -v seed="$SEED" >"$1" <<'SQL'
SELECT setseed(:seed) \g /dev/null
COPY (
SELECT CASE WHEN g % :nb = 0 THEN format('SET opsmeter.workspace = %L; ', format(:'wsname', g / :nb + 1)) ELSE '' END
       || format('SELECT opsmeter_ingest(%L) ->> ''accepted'';', b.doc)
  FROM generate_series(0, :nws * :nb - 1) AS g
 CROSS JOIN LATERAL (
    SELECT json_agg(json_strip_nulls(json_build_object(
               'externalRequestId', e.rid,
               'provider', (ARRAY['openai', 'openai', 'anthropic', 'anthropic', 'google', 'mistral'])[e.k],
               'model', (ARRAY['gpt-4o-mini', 'gpt-4o', 'claude-3-5-haiku-20241022', 'claude-sonnet-4-20250514',
                               'gemini-2.0-flash', 'mistral-small-latest'])[e.k],
               'inputTokens', e.input_tokens,
               'outputTokens', e.output_tokens,
               'cachedInputTokens', e.cached,
               'latencyMs', e.latency_ms,
               'status', CASE WHEN e.failed THEN 'error' ELSE 'success' END,
               'endpointTag', (ARRAY['checkout.ai_summary', 'support.reply_draft', 'search.rerank',
                                     'onboarding.welcome', 'reports.weekly_digest'])[e.ep],
               'promptVersion', (ARRAY['summarizer_v3', 'summarizer_v4', 'reply_v1', 'rerank_v2'])[e.pv],
               'userId', 'user-' || e.usr,
               'tenantId', 'tenant-' || e.tenant,
               'dataMode', 'real',
               'environment', 'prod',
               'timestamp', to_char(:'day'::timestamp + (e.i * 86400000000::bigint / :per_ws) * interval '1 microsecond',
                                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'errorCode', CASE WHEN e.failed THEN 'rate_limited' END)) ORDER BY e.i)::text AS doc
      FROM (SELECT i,
                   md5(random()::text || ':' || i)::uuid::text AS rid,
                   1 + floor(random() * 6)::int AS k,
                   random() < 0.04 AS failed,
                   200 + round(random() * 3800)::int AS input_tokens,
                   20 + round(random() * 900)::int AS output_tokens,
                   CASE WHEN random() < 0.3 THEN 100 ELSE 0 END AS cached,
                   floor(150 + random() * random() * 6000)::int AS latency_ms,
                   1 + floor(random() * 5)::int AS ep,
                   1 + floor(random() * 4)::int AS pv,
                   1 + floor(random() * 1000)::int AS usr,
                   1 + floor(random() * 50)::int AS tenant
              FROM generate_series((g % :nb) * :batch, least((g % :nb + 1) * :batch, :per_ws) - 1) AS i
            OFFSET 0) AS e) AS b
) TO STDOUT;
SQL
}
# load DB FILE [CHECKPOINT_EVERY]: send the script (with a CHECKPOINT after
# every CHECKPOINT_EVERY calls when given); sets LOAD_S (wall seconds) and
# ACCEPTED (the sum of the calls' "accepted").
load() {
	local t0 out="$WORK/load.out"
	t0=$(now_s)
	if [[ -n "${3:-}" ]]; then
		awk -v every="$3" '{ print } NR % every == 0 { print "CHECKPOINT;" }' "$2" |
			psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -f - >"$out"
	else
		psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" >"$out"
	fi
	LOAD_S=$(calc "%.1f" "$(now_s) - $t0")
	ACCEPTED=$(awk '/^[0-9]+$/ { s += $1 } END { print s + 0 }' "$out")
}
# check_load DB EXPECTED LABEL: every event accepted, priced, in one partition.
check_load() {
	local count parts unpriced pairs
	IFS='|' read -r count parts unpriced pairs < <(qd "$1" "SELECT count(*), count(DISTINCT tableoid),
	    count(*) FILTER (WHERE pricing = 'unpriced'), count(DISTINCT (provider, model)) FROM opsmeter.events")
	log "  $3: accepted $ACCEPTED; stored $count rows in $parts partition(s), $unpriced unpriced, $pairs provider/models"
	if [[ "$ACCEPTED" != "$2" || "$count" != "$2" || "$parts" != 1 || "$unpriced" != 0 || "$pairs" != 6 ]]; then
		fail "$3: accepted $ACCEPTED, stored $count rows in $parts partition(s), $unpriced unpriced, $pairs provider/models; expected $2 rows, 1 partition, 0 unpriced, 6 provider/models"
	fi
}

# ---------------------------------------------------------------------------
log "generating the events: $N for one workspace, $NWS x $NSMALL for the small workspaces"
t0=$(now_s)
gen_script "$WORK/big.sql" 1 "$N" acme
gen_script "$WORK/small.sql" "$NWS" "$NSMALL" 'ws%s'
NCALLS=$(wc -l <"$WORK/big.sql")
log "  done in $(calc "%.1f" "$(now_s) - $t0") s: $NCALLS calls, $(num "$(stat -c %s "$WORK/big.sql")") B; $(wc -l <"$WORK/small.sql") calls, $(num "$(stat -c %s "$WORK/small.sql")") B"
log "  a sample event: $(head -c 1000 "$WORK/big.sql" | sed -n "s/^.*opsmeter_ingest('\[\({[^}]*}\).*/\1/p")"

# ---------------------------------------------------------------------------
# (1) one workspace
DB=sizing
log "(1) database $DB: one workspace, $N events"
new_db $DB
qd $DB "SELECT opsmeter_create_workspace('acme')" >/dev/null
IFS='|' read -r SQ0 SU0 RD0 < <(summary_sizes $DB)
checkpoint
M0="$(wal_mark $DB)"
load $DB "$WORK/big.sql"
wal_since $DB "$M0"
L_BYTES=$W_BYTES L_FPI=$W_FPI L_REC=$W_RECORDS L_S=$LOAD_S
log "  load: $NCALLS calls in $L_S s ($(calc "%.0f" "$N / $L_S") events/s); WAL $(num "$L_BYTES") B = $(per_event "$L_BYTES" "$N") B/event, $(num "$L_FPI") full-page images, $(num "$L_REC") records, $W_CKPTS checkpoints during"
if ((W_CKPTS != 0)); then
	fail "(1) $W_CKPTS checkpoint(s) ran during the load: its WAL includes their full-page images"
fi
check_load $DB "$N" "(1) load"
PART="$(qd $DB "SELECT min(tableoid::regclass::text) FROM opsmeter.events")"
KEYS="$(qd $DB "SELECT min(tableoid::regclass::text) FROM opsmeter.request_keys")"
KEYPARTS="$(qd $DB "SELECT count(DISTINCT tableoid) || ' generation(s), ' || count(*) || ' keys' FROM opsmeter.request_keys")"
PART_LOAD="$(qd $DB "SELECT pg_total_relation_size('$PART')")"
log "  $PART: $(num "$PART_LOAD") B right after the load; $KEYS: $KEYPARTS"

checkpoint
M0="$(wal_mark $DB)"
run_pass $DB
P_S=$PASS_S P_ROWS=$PASS_ROWS
wal_since $DB "$M0"
P_BYTES=$W_BYTES P_FPI=$W_FPI
log "  pass: $P_S s, $P_ROWS rows rolled up; WAL $(num "$P_BYTES") B = $(per_event "$P_BYTES" "$N") B/event, $(num "$P_FPI") full-page images"
if [[ "$P_ROWS" != "$N" ]]; then
	fail "(1) the pass rolled up $P_ROWS rows, not $N"
fi
IFS='|' read -r SQ1 SU1 RD1 < <(summary_sizes $DB)
IFS='|' read -r QROWS SROWS RROWS DETAILED QROW_B < <(qd $DB "SELECT (SELECT count(*) FROM opsmeter.summary_quarters),
    (SELECT count(*) FROM opsmeter.summaries), (SELECT count(*) FROM opsmeter.rollup_days),
    (SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) FROM opsmeter.rollup_days),
    (SELECT coalesce(round(avg(pg_column_size(s.*))), 0) FROM opsmeter.summary_quarters s)")
log "  after the pass: summary_quarters $QROWS rows (+$(num $((SQ1 - SQ0))) B), summaries $SROWS rows (+$(num $((SU1 - SU0))) B), rollup_days $RROWS rows (+$(num $((RD1 - RD0))) B), $DETAILED detailed"

rel_rows 1 $DB "$PART" "$N" "events day partition" "after the pass; $(num "$PART_LOAD") B right after the load"
rel_rows 1 $DB "$KEYS" "$N" "dedup keys, open generation" "$KEYPARTS"
row 1 "**summary_quarters** (tier 1)" "$(per_event $((SQ1 - SQ0)) "$N")" "$(mb $((SQ1 - SQ0)) "$N")" "$(rows "$QROWS"), $QROW_B B per row; $(num $((SQ1 - SQ0))) B net of the empty table's $(num "$SQ0") B"
row 1 "**summaries** (tier 2)" "$(per_event $((SU1 - SU0)) "$N")" "$(mb $((SU1 - SU0)) "$N")" "$(rows "$SROWS") ($DETAILED of $RROWS workspace-days detailed); $(num $((SU1 - SU0))) B net of $(num "$SU0") B"
row 1 "**rollup_days**" "$(per_event $((RD1 - RD0)) "$N")" "$(mb $((RD1 - RD0)) "$N")" "$(rows "$RROWS"); $(num $((RD1 - RD0))) B net of $(num "$RD0") B"
row 1 "WAL of the load (CHECKPOINT just before, none during)" "$(per_event "$L_BYTES" "$N")" "-" "$(num "$L_BYTES") B, $(num "$L_FPI") full-page images, $(num "$L_REC") records; $NCALLS calls in $L_S s ($(calc "%.0f" "$N / $L_S") events/s)"
row 1 "WAL of the rollup pass (CHECKPOINT just before)" "$(per_event "$P_BYTES" "$N")" "-" "$(num "$P_BYTES") B, $(num "$P_FPI") full-page images; $P_S s"

# ---------------------------------------------------------------------------
# (2) the same load, a CHECKPOINT after every CKPT_EVERY calls
DB2=sizing_ckpt
log "(2) database $DB2: the same $N events, a CHECKPOINT after every $CKPT_EVERY calls"
new_db $DB2
qd $DB2 "SELECT opsmeter_create_workspace('acme')" >/dev/null
checkpoint
M0="$(wal_mark $DB2)"
load $DB2 "$WORK/big.sql" "$CKPT_EVERY"
wal_since $DB2 "$M0"
C_EXPECT=$((NCALLS / CKPT_EVERY))
log "  load: $LOAD_S s with $W_CKPTS checkpoints; WAL $(num "$W_BYTES") B = $(per_event "$W_BYTES" "$N") B/event, $(num "$W_FPI") full-page images ($(calc "%.2f" "$W_FPI / $N") per event), $(num "$W_RECORDS") records"
check_load $DB2 "$N" "(2) load"
if ((W_CKPTS < C_EXPECT)); then
	fail "(2) $W_CKPTS checkpoints during the load, expected at least $C_EXPECT"
fi
C_KEYIDX="$(qd $DB2 "SELECT pg_indexes_size(min(tableoid)) FROM opsmeter.request_keys")"
row 2 "WAL of the load, a CHECKPOINT after every $CKPT_EVERY calls ($(num $((CKPT_EVERY * BATCH))) events)" "$(per_event "$W_BYTES" "$N")" "-" "$(num "$W_BYTES") B, $(num "$W_FPI") full-page images ($(calc "%.2f" "$W_FPI / $N") per event), $(num "$W_RECORDS") records, $W_CKPTS checkpoints; $LOAD_S s; empty open key generation at the start ($(num "$C_KEYIDX") B of key index at the end)"
q "DROP DATABASE $DB2"

# ---------------------------------------------------------------------------
# (3) many small workspaces
DB3=sizing_small
NS=$((NWS * NSMALL))
log "(3) database $DB3: $NWS workspaces x $NSMALL events"
new_db $DB3
qd $DB3 "SELECT count(opsmeter_create_workspace('ws' || i)) FROM generate_series(1, $NWS) i" >/dev/null
IFS='|' read -r SQ0 SU0 RD0 < <(summary_sizes $DB3)
checkpoint
M0="$(wal_mark $DB3)"
load $DB3 "$WORK/small.sql"
wal_since $DB3 "$M0"
S_LBYTES=$W_BYTES S_LS=$LOAD_S
check_load $DB3 "$NS" "(3) load"
S_WS="$(qd $DB3 "SELECT count(DISTINCT workspace_id) FROM opsmeter.events")"
if [[ "$S_WS" != "$NWS" ]]; then
	fail "(3) the events are in $S_WS workspaces, not $NWS"
fi
checkpoint
M0="$(wal_mark $DB3)"
run_pass $DB3
S_PS=$PASS_S S_ROWS=$PASS_ROWS
wal_since $DB3 "$M0"
S_PBYTES=$W_BYTES
if [[ "$S_ROWS" != "$NS" ]]; then
	fail "(3) the pass rolled up $S_ROWS rows, not $NS"
fi
IFS='|' read -r SQ1 SU1 RD1 < <(summary_sizes $DB3)
IFS='|' read -r QROWS SROWS RROWS SUMMARIZED DETAILED QROW_B < <(qd $DB3 "SELECT (SELECT count(*) FROM opsmeter.summary_quarters),
    (SELECT count(*) FROM opsmeter.summaries), (SELECT count(*) FROM opsmeter.rollup_days),
    (SELECT count(*) FILTER (WHERE quarter_rows IS NOT NULL) FROM opsmeter.rollup_days),
    (SELECT count(*) FILTER (WHERE detail_rows IS NOT NULL) FROM opsmeter.rollup_days),
    (SELECT coalesce(round(avg(pg_column_size(s.*))), 0) FROM opsmeter.summary_quarters s)")
S_PART="$(qd $DB3 "SELECT min(tableoid::regclass::text) FROM opsmeter.events")"
S_KEYS="$(qd $DB3 "SELECT min(tableoid::regclass::text) FROM opsmeter.request_keys")"
S_PART_B="$(qd $DB3 "SELECT pg_total_relation_size('$S_PART')")"
S_KEYS_B="$(qd $DB3 "SELECT pg_total_relation_size('$S_KEYS')")"
log "  load $S_LS s, WAL $(per_event "$S_LBYTES" "$NS") B/event; pass $S_PS s, WAL $(per_event "$S_PBYTES" "$NS") B/event; summary_quarters $QROWS rows ($SUMMARIZED of $RROWS workspace-days summarized), summaries $SROWS rows ($DETAILED detailed)"
SMALL="$NWS workspaces x $NSMALL"
row 3 "**summary_quarters** (tier 1), $SMALL" "$(per_event $((SQ1 - SQ0)) "$NS")" "$(mb $((SQ1 - SQ0)) "$NS")" "$(rows "$QROWS") ($(calc "%.2f" "$QROWS / $NS") per event), $QROW_B B per row, $SUMMARIZED of $RROWS workspace-days summarized; $(num $((SQ1 - SQ0))) B net of $(num "$SQ0") B"
row 3 "**summaries** (tier 2), $SMALL" "$(per_event $((SU1 - SU0)) "$NS")" "$(mb $((SU1 - SU0)) "$NS")" "$(rows "$SROWS"), $DETAILED workspace-days detailed; $(num $((SU1 - SU0))) B net of $(num "$SU0") B"
row 3 "**rollup_days**, $SMALL" "$(per_event $((RD1 - RD0)) "$NS")" "$(mb $((RD1 - RD0)) "$NS")" "$(rows "$RROWS"); $(num $((RD1 - RD0))) B net of $(num "$RD0") B"
row 3 "for comparison: events partition \`$S_PART\`, total" "$(per_event "$S_PART_B" "$NS")" "$(mb "$S_PART_B" "$NS")" "$(num "$S_PART_B") B"
row 3 "for comparison: dedup keys \`$S_KEYS\`, total" "$(per_event "$S_KEYS_B" "$NS")" "$(mb "$S_KEYS_B" "$NS")" "$(num "$S_KEYS_B") B"
row 3 "WAL of the load / of the pass (each after a CHECKPOINT)" "$(per_event "$S_LBYTES" "$NS") / $(per_event "$S_PBYTES" "$NS")" "-" "$(num "$S_LBYTES") B in $S_LS s / $(num "$S_PBYTES") B in $S_PS s"

# ---------------------------------------------------------------------------
# (4) pg_dump -Fc of database sizing, pg_restore into a fresh database
DB4=sizing_restore
log "(4) pg_dump -Fc of $DB, pg_restore --exit-on-error into $DB4 ($(pg_dump --version))"
DUMP="$WORK/$DB.dump"
t0=$(now_s)
pg_dump -Fc -d $DB -f "$DUMP"
D_S=$(calc "%.1f" "$(now_s) - $t0")
D_B=$(stat -c %s "$DUMP")
q "CREATE DATABASE $DB4"
t0=$(now_s)
R_RC=0
pg_restore -d $DB4 --exit-on-error "$DUMP" || R_RC=$?
R_S=$(calc "%.1f" "$(now_s) - $t0")
log "  dump $(num "$D_B") B in $D_S s; restore exit $R_RC in $R_S s"
RESTORE="FAILED"
if ((R_RC == 0)); then
	C_SRC="$(qd $DB "SELECT count(*) FROM opsmeter.events")"
	C_DST="$(qd $DB4 "SELECT count(*) FROM opsmeter.events")"
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d $DB -c "SET opsmeter.workspace = 'acme'" \
		-c "SELECT * FROM opsmeter.overview ORDER BY 1" >"$WORK/overview_src.txt"
	psql -X -A -t -q -v ON_ERROR_STOP=1 -d $DB4 -c "SET opsmeter.workspace = 'acme'" \
		-c "SELECT * FROM opsmeter.overview ORDER BY 1" >"$WORK/overview_dst.txt"
	log "  count(*) of opsmeter.events: $C_SRC in $DB, $C_DST in $DB4"
	log "  opsmeter.overview in $DB: $(paste -sd';' "$WORK/overview_src.txt")"
	if [[ "$C_SRC" == "$N" && "$C_DST" == "$C_SRC" && -s "$WORK/overview_src.txt" ]] &&
		cmp -s "$WORK/overview_src.txt" "$WORK/overview_dst.txt"; then
		RESTORE="ok"
	else
		log "  opsmeter.overview in $DB4: $(paste -sd';' "$WORK/overview_dst.txt")"
		fail "(4) after pg_restore: $C_DST events (source $C_SRC), overview $(cmp -s "$WORK/overview_src.txt" "$WORK/overview_dst.txt" && echo identical || echo DIFFERENT)"
	fi
	R_KEYS="$(qd $DB4 "SELECT min(tableoid::regclass::text) FROM opsmeter.request_keys")"
	R_KEYIDX="$(qd $DB4 "SELECT pg_indexes_size('$R_KEYS')")"
	S_KEYIDX="$(qd $DB "SELECT pg_indexes_size('$KEYS')")"
	RESTORE_NOTE="events $C_DST = $C_SRC, opsmeter.overview rows $(cmp -s "$WORK/overview_src.txt" "$WORK/overview_dst.txt" && echo identical || echo DIFFERENT); the restore rebuilt the key index at $(num "$R_KEYIDX") B ($(per_event "$R_KEYIDX" "$N") B/event; $(num "$S_KEYIDX") B in $DB); database $(num "$(qd $DB4 "SELECT pg_database_size(current_database())")") B (source $(num "$(qd $DB "SELECT pg_database_size(current_database())")") B)"
else
	fail "(4) pg_restore --exit-on-error exited $R_RC"
	RESTORE_NOTE="pg_restore exited $R_RC"
fi
row 4 "pg_dump -Fc of \`$DB\` (after the pass)" "$(per_event "$D_B" "$N")" "$(mb "$D_B" "$N")" "$(num "$D_B") B in $D_S s"
row 4 "pg_restore --exit-on-error into a fresh database: **$RESTORE**" "-" "-" "$R_S s; $RESTORE_NOTE"

# ---------------------------------------------------------------------------
TOTAL_S=$(calc "%.0f" "$(now_s) - $T_START")
mkdir -p "$(dirname "$RESULTS")"
{
	echo "# opsmeter production sizing benchmark"
	echo
	echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); nproc $(nproc); $VERSION"
	echo "- $FINGERPRINT"
	echo "- settings: $SETTINGS; passes by hand (SELECT opsmeter_run_retention())"
	echo "- events: day $DAY (UTC), $BATCH per opsmeter_ingest call (psql -f, one transaction per call); (1) and (2): $N events, one workspace; (3): $NWS workspaces x $NSMALL events; $TOTAL_S s in all"
	echo "- sizes: pg_relation_size (heap: main fork), pg_total_relation_size (each index, every total; all forks and the TOAST table); summary tables net of their empty size; WAL: pg_current_wal_insert_lsn() difference, full-page images and records from pg_stat_wal; 1 MB = 10^6 B; per 1M events/day = bytes per event x 10^6"
	echo
	echo "| step | part | bytes per event | per 1M events/day | notes |"
	echo "| --- | --- | ---: | ---: | --- |"
	printf '%s\n' "${ROWS[@]}"
	if ((${#CHECK_NOTES[@]} > 0)); then
		echo
		for note in "${CHECK_NOTES[@]}"; do
			echo "- CHECK FAILED: $note"
		done
	fi
} >"$WORK/table.md"
cp "$WORK/table.md" "$RESULTS"
opsmeter_cleanup_now 0
echo
cat "$RESULTS"
echo
log "saved to $RESULTS"
if ((${#CHECK_NOTES[@]} > 0)); then
	exit 1
fi
