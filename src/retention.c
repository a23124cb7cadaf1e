/*
 * retention.c — one retention pass: roll raw rows up into summaries, then
 * remove what is past retention, recorded in opsmeter.retention_runs.
 *
 * The SQL of both steps is in opsmeter._rollup() and
 * opsmeter._enforce_retention(); this file is the trusted entry point
 * (who may run a pass, as whom, in which isolation) and the rollup horizon.
 * The invariant is in src/README.md ("rollup").
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "postmaster/bgworker.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "retention.h"
#include "storage.h"

PG_FUNCTION_INFO_V1(opsmeter_wait_for_ingest_barrier);
PG_FUNCTION_INFO_V1(opsmeter_rollup_bounds);
PG_FUNCTION_INFO_V1(opsmeter_run_retention);
PG_FUNCTION_INFO_V1(opsmeter_guc_raw_retention);
PG_FUNCTION_INFO_V1(opsmeter_guc_max_raw_retention);
PG_FUNCTION_INFO_V1(opsmeter_guc_key_generation);
PG_FUNCTION_INFO_V1(opsmeter_guc_key_generation_size);
PG_FUNCTION_INFO_V1(opsmeter_guc_retention_runs_keep);
PG_FUNCTION_INFO_V1(opsmeter_guc_summary_retention);
PG_FUNCTION_INFO_V1(opsmeter_rollup_watermark);
PG_FUNCTION_INFO_V1(opsmeter_unmarked_pending_from);
PG_FUNCTION_INFO_V1(opsmeter_rollup_holes);

/*
 * Waits for every transaction that holds a lock on opsmeter.ingest_batch_seq,
 * i.e. every ingest that has drawn a batch number and not yet ended.  New
 * ingests are not blocked: this only waits for the current lockers, as
 * CREATE INDEX CONCURRENTLY does.  The rollup of 0.1.0 calls it; 0.2.0's
 * calls opsmeter._rollup_bounds() instead, which never waits.
 */
Datum
opsmeter_wait_for_ingest_barrier(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	SET_LOCKTAG_RELATION(tag, MyDatabaseId, opsmeter_relid("ingest_batch_seq"));
	WaitForLockers(tag, ShareLock, false);
	PG_RETURN_VOID();
}

/*
 * opsmeter._rollup_bounds(OUT upto bigint, OUT inflight bigint[]): upto is
 * the sequence's last value, inflight the batches of other transactions
 * still in flight; every transaction that drew a number <= upto and not in
 * inflight has ended, so no row of such a batch can still appear.  Never
 * waits for a transaction.  NULL when it cannot tell: some transaction is
 * between drawing its number and publishing it (a few instructions;
 * retried for up to about 50 ms), or drew one without publishing it.  The
 * caller then rolls nothing up this time.
 */
Datum
opsmeter_rollup_bounds(PG_FUNCTION_ARGS)
{
	int64		last_value = 0;
	int64	   *inflight = NULL;
	int			ninflight = 0;
	bool		known = false;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	Datum	   *elems;
	MemoryContext outer = CurrentMemoryContext;
	MemoryContext spi_cxt;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "opsmeter._rollup_bounds() must return a record");
	SPI_connect();
	spi_cxt = CurrentMemoryContext;
	for (int attempt = 0; attempt < 50 && !known; attempt++)
	{
		bool		isnull;

		if (attempt > 0)
		{
			pg_usleep(1000L);
			CHECK_FOR_INTERRUPTS();
		}
		/* The sequence first, the lock table after (see opsmeter_batches_in_flight). */
		if (SPI_execute("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM opsmeter.ingest_batch_seq",
						true, 1) != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "reading opsmeter.ingest_batch_seq failed");
		last_value = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		/* (allocated outside SPI: the answer outlives SPI_finish) */
		MemoryContextSwitchTo(outer);
		known = opsmeter_batches_in_flight(&inflight, &ninflight);
		MemoryContextSwitchTo(spi_cxt);
	}
	SPI_finish();
	if (!known)
		PG_RETURN_NULL();
	elems = palloc(sizeof(Datum) * Max(ninflight, 1));
	for (int i = 0; i < ninflight; i++)
		elems[i] = Int64GetDatum(inflight[i]);
	values[0] = Int64GetDatum(last_value);
	values[1] = PointerGetDatum(construct_array(elems, ninflight, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	tupdesc = BlessTupleDesc(tupdesc);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

static Datum
minutes_interval(int minutes)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = (int64) minutes * USECS_PER_MINUTE;
	return IntervalPGetDatum(iv);
}

/*
 * opsmeter.guc_raw_retention(): the default raw retention as an interval,
 * capped by opsmeter.max_raw_retention like every workspace's own.
 */
Datum
opsmeter_guc_raw_retention(PG_FUNCTION_ARGS)
{
	return minutes_interval(Min(opsmeter_raw_retention_min, opsmeter_max_raw_retention_min));
}

/* opsmeter.guc_max_raw_retention(): the ceiling of every raw retention. */
Datum
opsmeter_guc_max_raw_retention(PG_FUNCTION_ARGS)
{
	return minutes_interval(opsmeter_max_raw_retention_min);
}

/* opsmeter.guc_retention_runs_keep(): how long a pass's record is kept. */
Datum
opsmeter_guc_retention_runs_keep(PG_FUNCTION_ARGS)
{
	return minutes_interval(opsmeter_retention_runs_keep_min);
}

/* opsmeter.guc_key_generation(): the age at which the open key generation is sealed. */
Datum
opsmeter_guc_key_generation(PG_FUNCTION_ARGS)
{
	return minutes_interval(opsmeter_key_generation_min);
}

/* opsmeter.guc_key_generation_size(): bytes of key index at which it is sealed (0: never by size). */
Datum
opsmeter_guc_key_generation_size(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64((int64) opsmeter_key_generation_size_kb * 1024);
}

Datum
opsmeter_guc_summary_retention(PG_FUNCTION_ARGS)
{
	return minutes_interval(opsmeter_summary_retention_min);
}

/*
 * Columns of the opsmeter.rollup_state row (a singleton) as the query's
 * snapshot sees it, in one read, copied into the caller's context; NULL
 * when there is no row yet (or no such column).  Read directly: every
 * analytics call reads the watermark and the holes, and as SQL functions
 * each read was planned again, about 0.1 ms a read (a 30-day overview
 * makes 60).
 */
static void
rollup_state_columns(int ncolumns, const char *const *columns, Datum *values, bool *isnull)
{
	Relation	rel = table_open(opsmeter_relid("rollup_state"), AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, opsmeter_scan_snapshot(), 0, NULL);
	HeapTuple	tup = systable_getnext(scan);

	for (int i = 0; i < ncolumns; i++)
	{
		AttrNumber	attno = attnameAttNum(rel, columns[i], true);

		values[i] = (Datum) 0;
		isnull[i] = true;
		if (HeapTupleIsValid(tup) && attno != InvalidAttrNumber)
		{
			Form_pg_attribute att = TupleDescAttr(RelationGetDescr(rel), attno - 1);

			values[i] = heap_getattr(tup, attno, RelationGetDescr(rel), &isnull[i]);
			if (!isnull[i])
				values[i] = datumCopy(values[i], att->attbyval, att->attlen);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

static Datum
rollup_state_column(const char *column, bool *isnull)
{
	Datum		value;

	rollup_state_columns(1, &column, &value, isnull);
	return value;
}

/*
 * opsmeter.rollup_watermark() -> bigint: raw rows with a batch above it (or
 * in rollup_holes()) are not in the summaries yet; 0 before any pass.
 */
Datum
opsmeter_rollup_watermark(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		watermark = rollup_state_column("watermark", &isnull);

	PG_RETURN_INT64(isnull ? 0 : DatumGetInt64(watermark));
}

/*
 * opsmeter.rollup_holes() -> bigint[]: the batches at or below the
 * watermark that were in flight at the last pass; '{}' before any pass.
 */
Datum
opsmeter_rollup_holes(PG_FUNCTION_ARGS)
{
	bool		isnull;
	Datum		holes = rollup_state_column("holes", &isnull);

	if (isnull)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(INT8OID));
	PG_RETURN_DATUM(holes);
}

/*
 * opsmeter.unmarked_pending_from() -> timestamptz: no row above the
 * watermark or in its holes is dated before this, except on the days that
 * opsmeter.late_arrivals names for its batch (src/README.md, "Where
 * pending rows can be").  Every batch above the watermark was drawn after
 * bounds_read_at, every hole after holes_since, and a batch writes no row
 * dated before opsmeter_late_cutoff_day() of its draw without naming the
 * day; one more margin covers a clock set back between the pass's read and
 * a draw.  A UTC midnight; -infinity while either bound is unknown (before
 * the first pass since install or upgrade).
 */
Datum
opsmeter_unmarked_pending_from(PG_FUNCTION_ARGS)
{
	static const char *const columns[3] = {"bounds_read_at", "holes", "holes_since"};
	Datum		values[3];		/* read_at, holes, since */
	bool		isnull[3];
	ArrayType  *holes_array = NULL;
	TimestampTz bound;

	rollup_state_columns(3, columns, values, isnull);
	if (isnull[0])
		PG_RETURN_TIMESTAMPTZ(DT_NOBEGIN);
	bound = DatumGetTimestampTz(values[0]);
	if (!isnull[1])
		holes_array = DatumGetArrayTypeP(values[1]);
	if (holes_array != NULL && ArrayGetNItems(ARR_NDIM(holes_array), ARR_DIMS(holes_array)) > 0)
	{
		if (isnull[2])
			PG_RETURN_TIMESTAMPTZ(DT_NOBEGIN);
		bound = Min(bound, DatumGetTimestampTz(values[2]));
	}
	if (TIMESTAMP_NOT_FINITE(bound))
		PG_RETURN_TIMESTAMPTZ(bound);
	PG_RETURN_TIMESTAMPTZ((TimestampTz) opsmeter_late_cutoff_day(bound - OPSMETER_LATE_MARGIN) * USECS_PER_DAY);
}

/* The figures of one pass, for retention_runs and the answer. */
typedef struct PassResult
{
	bool		ok;
	char	   *error;
	int64		rows_rolled_up;
	int64		watermark;
	int64		partitions_dropped;
	int64		partitions_created;
	int64		raw_rows_deleted;
	int64		keys_purged;
	int64		summary_rows_deleted;
	char	   *partitions_skipped;	/* JSON array of names, or NULL */
	double		duration_ms;
	int			sqlerrcode;		/* of a failed pass's error */
} PassResult;

static int64
int8_column(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	if (isnull)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT4OID:
			return DatumGetInt32(d);
		default:
			return DatumGetInt64(d);
	}
}

static void
run_steps(PassResult *r, MemoryContext keep)
{
	if (SPI_execute("SELECT rows_rolled_up, watermark FROM opsmeter._rollup()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "opsmeter._rollup() failed");
	r->rows_rolled_up = int8_column(1);
	r->watermark = int8_column(2);
	/*
	 * By name: the 0.1.0 function has no partitions_skipped (this library
	 * serves both versions' SQL).
	 */
	if (SPI_execute("SELECT * FROM opsmeter._enforce_retention()", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "opsmeter._enforce_retention() failed");
	r->partitions_dropped = int8_column(SPI_fnumber(SPI_tuptable->tupdesc, "partitions_dropped"));
	r->partitions_created = int8_column(SPI_fnumber(SPI_tuptable->tupdesc, "partitions_created"));
	r->raw_rows_deleted = int8_column(SPI_fnumber(SPI_tuptable->tupdesc, "raw_rows_deleted"));
	r->keys_purged = int8_column(SPI_fnumber(SPI_tuptable->tupdesc, "keys_purged"));
	r->summary_rows_deleted = int8_column(SPI_fnumber(SPI_tuptable->tupdesc, "summary_rows_deleted"));
	r->partitions_skipped = MemoryContextStrdup(keep, "[]");
	if (SPI_fnumber(SPI_tuptable->tupdesc, "partitions_skipped") > 0)
	{
		char	   *names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
										 SPI_fnumber(SPI_tuptable->tupdesc, "partitions_skipped"));

		if (names != NULL && SPI_execute_with_args("SELECT to_jsonb($1::text[])::text", 1, (Oid[]) {TEXTOID},
												   (Datum[]) {CStringGetTextDatum(names)}, NULL, true, 1) == SPI_OK_SELECT)
			r->partitions_skipped = MemoryContextStrdup(keep, SPI_getvalue(SPI_tuptable->vals[0],
																		   SPI_tuptable->tupdesc, 1));
	}
}

static void
record_run(const PassResult *r, const char *trigger, Oid run_by, TimestampTz started)
{
	Oid			types[14] = {TIMESTAMPTZOID, TEXTOID, OIDOID, BOOLOID, INT8OID, INT8OID, INT8OID,
	INT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID, TEXTOID, TEXTOID};
	Datum		values[14];
	char		nulls[14];

	/* 0.1.0's table has no partitions_skipped column. */
	bool		has_skipped = get_attnum(opsmeter_relid("retention_runs"), "partitions_skipped") != InvalidAttrNumber;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(started);
	values[1] = CStringGetTextDatum(trigger);
	values[2] = ObjectIdGetDatum(run_by);
	values[3] = BoolGetDatum(r->ok);
	values[4] = Int64GetDatum(r->rows_rolled_up);
	values[5] = Int64GetDatum(r->watermark);
	values[6] = Int64GetDatum(r->partitions_dropped);
	values[7] = Int64GetDatum(r->partitions_created);
	values[8] = Int64GetDatum(r->raw_rows_deleted);
	values[9] = Int64GetDatum(r->keys_purged);
	values[10] = Int64GetDatum(r->summary_rows_deleted);
	values[11] = Float8GetDatum(r->duration_ms);
	values[12] = r->error ? CStringGetTextDatum(r->error) : (Datum) 0;
	if (!r->ok)
		for (int i = 4; i <= 10; i++)
			nulls[i] = 'n';
	if (r->error == NULL)
		nulls[12] = 'n';
	values[13] = r->partitions_skipped ? CStringGetTextDatum(r->partitions_skipped) : (Datum) 0;
	nulls[13] = r->partitions_skipped ? ' ' : 'n';
	if (SPI_execute_with_args(has_skipped ?
							  "INSERT INTO opsmeter.retention_runs (started_at, finished_at, triggered_by, run_by, ok, "
							  "  rows_rolled_up, watermark, partitions_dropped, partitions_created, raw_rows_deleted, "
							  "  keys_purged, summary_rows_deleted, duration_ms, error, partitions_skipped) "
							  "VALUES ($1, clock_timestamp(), $2, $3::regrole, $4, $5, $6, $7::int, $8::int, $9, $10, "
							  "        $11, round($12::numeric, 3), $13, "
							  "        ARRAY(SELECT jsonb_array_elements_text($14::jsonb)))" :
							  "INSERT INTO opsmeter.retention_runs (started_at, finished_at, triggered_by, run_by, ok, "
							  "  rows_rolled_up, watermark, partitions_dropped, partitions_created, raw_rows_deleted, "
							  "  keys_purged, summary_rows_deleted, duration_ms, error) "
							  "VALUES ($1, clock_timestamp(), $2, $3::regrole, $4, $5, $6, $7::int, $8::int, $9, $10, "
							  "        $11, round($12::numeric, 3), $13)",
							  has_skipped ? 14 : 13, types, values, nulls, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "recording the retention pass failed");
}

static Jsonb *
pass_result_jsonb(const PassResult *r)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"ok\": %s, \"rowsRolledUp\": " INT64_FORMAT ", \"watermark\": " INT64_FORMAT
					 ", \"partitionsDropped\": " INT64_FORMAT ", \"partitionsSkipped\": %s, \"partitionsCreated\": " INT64_FORMAT
					 ", \"rawRowsDeleted\": " INT64_FORMAT ", \"keysPurged\": " INT64_FORMAT
					 ", \"summaryRowsDeleted\": " INT64_FORMAT ", \"durationMs\": %.3f, \"error\": ",
					 r->ok ? "true" : "false", r->rows_rolled_up, r->watermark, r->partitions_dropped,
					 r->partitions_skipped ? r->partitions_skipped : "null", r->partitions_created, r->raw_rows_deleted, r->keys_purged, r->summary_rows_deleted,
					 r->duration_ms);
	if (r->error)
	{
		escape_json(&buf, r->error);
		appendStringInfo(&buf, ", \"sqlstate\": \"%s\"", unpack_sql_state(r->sqlerrcode));
	}
	else
		appendStringInfoString(&buf, "null, \"sqlstate\": null");
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * One pass, in the caller's transaction.  A failing step is rolled back to
 * a subtransaction, reported as a WARNING and recorded with its error, so
 * the record survives the failure; a pass never half-applies.
 */
Jsonb *
opsmeter_retention_pass(const char *trigger)
{
	Oid			caller = GetUserId();
	Oid			admin = get_role_oid("opsmeter_admin", true);
	TimestampTz started = GetCurrentTimestamp();
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	PassResult	r = {0};
	OwnerSwitch sw;

	if (!superuser() && !(OidIsValid(admin) && has_privs_of_role(caller, admin)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to run a retention pass"),
				 errhint("Only superusers and members of opsmeter_admin run opsmeter_run_retention().")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("opsmeter_run_retention() must run in a READ COMMITTED transaction"),
				 errhint("The rollup must see rows committed while it waits for in-flight ingests.")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot run a retention pass in a read-only transaction")));

	opsmeter_become_owner(&sw);
	SPI_connect();
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		run_steps(&r, cxt);
		r.ok = true;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		memset(&r, 0, sizeof(r));
		r.ok = false;
		r.error = edata->message;
		r.sqlerrcode = edata->sqlerrcode;
		ereport(WARNING,
				(errcode(edata->sqlerrcode),
				 errmsg("opsmeter retention pass failed: %s", edata->message),
				 errhint("The pass was rolled back and recorded in opsmeter.retention_runs; the next pass retries.")));
	}
	PG_END_TRY();

	r.duration_ms = (double) (GetCurrentTimestamp() - started) / 1000.0;
	record_run(&r, trigger, caller, started);
	SPI_finish();
	opsmeter_restore_user(&sw);
	return pass_result_jsonb(&r);
}

/*
 * Whether pg_cron runs this session: its background workers (the
 * cron.use_background_workers mode) have backend type "pg_cron", and its
 * libpq connections application_name "pg_cron".
 */
static bool
run_by_pg_cron(void)
{
	if (MyBgworkerEntry != NULL && strcmp(MyBgworkerEntry->bgw_type, "pg_cron") == 0)
		return true;
	return application_name != NULL && strcmp(application_name, "pg_cron") == 0;
}

/*
 * opsmeter_run_retention() RETURNS jsonb — one pass now, by hand or by a
 * scheduler (CALL opsmeter_run_retention_job() raises when it fails).
 * 0.1.0's retention_runs accepts "worker" and "manual" only: until the
 * extension is updated (key_generations is new in 0.2.0), pg_cron's passes
 * are recorded as manual.
 */
Datum
opsmeter_run_retention(PG_FUNCTION_ARGS)
{
	bool		cron = run_by_pg_cron() &&
		OidIsValid(get_relname_relid("key_generations", opsmeter_schema_oid()));

	PG_RETURN_JSONB_P(opsmeter_retention_pass(cron ? "cron" : "manual"));
}
