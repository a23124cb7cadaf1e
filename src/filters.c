/*
 * filters.c — what the analytics views and functions count: the session
 * filters (opsmeter.data_mode, opsmeter.environment), the reporting window
 * (opsmeter.range) and the latency buckets that make p95 mergeable.
 *
 * The settings are defined in guc.c; their lists are parsed by labels.c,
 * the same parser for the GUC check hooks and for the explicit arguments
 * of the function forms, so a list is accepted or refused the same way
 * everywhere.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include <math.h>

#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "guc.h"
#include "histogram.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(opsmeter_data_mode_filter);
PG_FUNCTION_INFO_V1(opsmeter_environment_filter);
PG_FUNCTION_INFO_V1(opsmeter_guc_range);
PG_FUNCTION_INFO_V1(opsmeter_session_range);
PG_FUNCTION_INFO_V1(opsmeter_window_start);
PG_FUNCTION_INFO_V1(opsmeter_local_day_start);
PG_FUNCTION_INFO_V1(opsmeter_session_window_start);
PG_FUNCTION_INFO_V1(opsmeter_latency_bucket);
PG_FUNCTION_INFO_V1(opsmeter_histogram_count);
PG_FUNCTION_INFO_V1(opsmeter_histogram_merge);
PG_FUNCTION_INFO_V1(opsmeter_histogram_final);
PG_FUNCTION_INFO_V1(opsmeter_histogram_add);
PG_FUNCTION_INFO_V1(opsmeter_latency_percentile);

/* spec NULL means the session's GUC; the answer is an array of the enum. */
static Datum
label_filter(const LabelSet *set, const char *spec)
{
	uint32		bits;
	char	   *bad;
	Oid			typid = opsmeter_typid(set->enum_type);
	Datum		elems[8];
	int			n = 0;

	if (!opsmeter_parse_label_list(set, spec, &bits, &bad))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s filter: \"%s\"", set->param, bad),
				 errhint("%s", set->hint)));
	for (int i = 0; i < set->nlabels; i++)
		if (bits & (1u << i))
			elems[n++] = ObjectIdGetDatum(opsmeter_enum_value(typid, set->labels[i]));
	return PointerGetDatum(construct_array(elems, n, typid, sizeof(Oid), true, TYPALIGN_INT));
}

/* opsmeter.data_mode_filter(spec text DEFAULT NULL) -> opsmeter.data_mode[] */
Datum
opsmeter_data_mode_filter(PG_FUNCTION_ARGS)
{
	return label_filter(&opsmeter_data_mode_set,
						PG_ARGISNULL(0) ? opsmeter_data_mode_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.environment_filter(spec text DEFAULT NULL) -> opsmeter.environment[] */
Datum
opsmeter_environment_filter(PG_FUNCTION_ARGS)
{
	return label_filter(&opsmeter_environment_set,
						PG_ARGISNULL(0) ? opsmeter_environment_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.range as an interval of days, hours or minutes; NULL when empty */
static Interval *
range_interval(void)
{
	Interval   *iv;

	if (opsmeter_range.unit == OPSMETER_RANGE_UNSET)
		return NULL;
	iv = palloc0(sizeof(Interval));
	if (opsmeter_range.unit == OPSMETER_RANGE_DAYS)
		iv->day = opsmeter_range.amount;
	else if (opsmeter_range.unit == OPSMETER_RANGE_HOURS)
		iv->time = (int64) opsmeter_range.amount * USECS_PER_HOUR;
	else
		iv->time = (int64) opsmeter_range.amount * USECS_PER_MINUTE;
	return iv;
}

/*
 * opsmeter.session_range() -> interval: the session window opsmeter.range
 * as days, hours or minutes (so window_start() tells calendar days from a
 * rolling window); NULL when it is empty (no window).
 */
Datum
opsmeter_session_range(PG_FUNCTION_ARGS)
{
	Interval   *iv = range_interval();

	if (iv == NULL)
		PG_RETURN_NULL();
	PG_RETURN_INTERVAL_P(iv);
}

/* date_trunc(unit, range) = range, by interval_eq(): equal spans (1 day = 24 hours) */
static bool
interval_whole(const char *unit, Interval *range)
{
	Datum		truncated = DirectFunctionCall2(interval_trunc, CStringGetTextDatum(unit),
												IntervalPGetDatum(range));

	return DatumGetBool(DirectFunctionCall2(interval_eq, truncated, IntervalPGetDatum(range)));
}

/* The session TimeZone's UTC offset at t, in microseconds (local - UTC). */
static int64
local_offset(TimestampTz t)
{
	return DatumGetTimestamp(DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(t))) - t;
}

/*
 * The first instant of local day `day` in the session TimeZone: the
 * earliest instant whose local date is `day`.  day::timestamptz is that
 * instant, except where midnight happens twice: when the clocks go back
 * to 00:00 (America/Havana, at 01:00 on its last day of summer time),
 * PostgreSQL reads 00:00 as the second one, and the hour before it,
 * already `day`, would belong to the day before.  Going back by the
 * offset change at that instant finds the first.  (Where midnight never
 * happens, America/Santiago's first day of summer time, day::timestamptz
 * is 01:00, the day's first instant.)
 */
static TimestampTz
local_day_start(DateADT day)
{
	TimestampTz start = DatumGetTimestampTz(DirectFunctionCall1(date_timestamptz, DateADTGetDatum(day)));
	int64		shift;

	if (TIMESTAMP_NOT_FINITE(start))
		return start;
	shift = local_offset(start - 1) - local_offset(start);
	return shift > 0 ? start - shift : start;
}

/* opsmeter.local_day_start(day date) -> timestamptz */
Datum
opsmeter_local_day_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(local_day_start(PG_GETARG_DATEADT(0)));
}

/*
 * Start of the reporting window of a range, in the session TimeZone.
 * Whole days (or months): the last N calendar days, today included, from
 * local midnight.  Whole hours: the last N hours, the current one
 * included, from the local hour ('24 hours' is a rolling day, not "since
 * midnight").  Anything finer: from the minute.  Every boundary is a local
 * one, so in Asia/Kathmandu an hourly window starts at :15 UTC.  That is:
 * date_trunc(unit, now() - range + '1 unit'), except that a window in days
 * starts at local_day_start() of its first day (date_trunc('day') gives
 * the second of two midnights).  C, not PL/pgSQL, because every view
 * computes it: a fresh session paid 1.2 ms to compile it.
 */
static TimestampTz
window_start_of(Interval *range)
{
	Interval	zero = {0};
	Interval	limit = {0};
	Interval	step = {0};
	const char *unit;
	Datum		start;

	limit.month = 100 * MONTHS_PER_YEAR;
	if (range == NULL ||
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(range), IntervalPGetDatum(&zero))) <= 0 ||
		DatumGetInt32(DirectFunctionCall2(interval_cmp, IntervalPGetDatum(range), IntervalPGetDatum(&limit))) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid range %s",
						range ? DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(range))) : "NULL"),
				 errhint("A range is a positive interval of at most 100 years, such as '7 days' or '12 hours'.")));
	if (interval_whole("day", range))
	{
		unit = "day";
		step.day = 1;
	}
	else if (interval_whole("hour", range))
	{
		unit = "hour";
		step.time = USECS_PER_HOUR;
	}
	else
	{
		unit = "minute";
		step.time = USECS_PER_MINUTE;
	}
	start = DirectFunctionCall2(timestamptz_mi_interval,
								TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
								IntervalPGetDatum(range));
	start = DirectFunctionCall2(timestamptz_pl_interval, start, IntervalPGetDatum(&step));
	if (step.day == 1)
		return local_day_start(DatumGetDateADT(DirectFunctionCall1(timestamptz_date, start)));
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_trunc, CStringGetTextDatum(unit), start));
}

/* opsmeter.window_start(range interval) -> timestamptz */
Datum
opsmeter_window_start(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMPTZ(window_start_of(PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0)));
}

/*
 * opsmeter.session_window_start() -> timestamptz: the start of the views'
 * session window, window_start(opsmeter.range) if the session set it, else
 * -infinity (everything retained; a BI tool filters by day).
 */
Datum
opsmeter_session_window_start(PG_FUNCTION_ARGS)
{
	Interval   *range = range_interval();
	TimestampTz start;

	if (range == NULL)
		TIMESTAMP_NOBEGIN(start);
	else
		start = window_start_of(range);
	PG_RETURN_TIMESTAMPTZ(start);
}

/*
 * opsmeter.guc_range() -> interval, the SQL of 0.1.0 (a database not yet
 * updated to 0.2.0 still calls it): its views had a 7-day window by
 * default, so an empty opsmeter.range is 7 days here.
 */
Datum
opsmeter_guc_range(PG_FUNCTION_ARGS)
{
	Interval   *iv = range_interval();

	if (iv == NULL)
	{
		iv = palloc0(sizeof(Interval));
		iv->day = 7;
	}
	PG_RETURN_INTERVAL_P(iv);
}

/* opsmeter.latency_bucket(ms int) -> int: upper bound of the bucket holding ms */
Datum
opsmeter_latency_bucket(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(opsmeter_latency_bucket_upper(opsmeter_latency_bucket_index(PG_GETARG_INT32(0))));
}

/* the state of the histogram aggregates, in the aggregate's context */
static Histogram *
histogram_state(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "opsmeter histogram aggregate called in a non-aggregate context");
	if (PG_ARGISNULL(0))
		return opsmeter_histogram_new(aggcxt);
	return (Histogram *) PG_GETARG_POINTER(0);
}

/* transition of opsmeter.latency_histogram_of(latency_ms int, requests bigint) */
Datum
opsmeter_histogram_count(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_state(fcinfo);

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) && PG_GETARG_INT64(2) != 0)
		opsmeter_histogram_add_count(h, opsmeter_latency_bucket_index(PG_GETARG_INT32(1)), PG_GETARG_INT64(2));
	PG_RETURN_POINTER(h);
}

/* transition of opsmeter.latency_histogram_sum(bigint[]) */
Datum
opsmeter_histogram_merge(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_state(fcinfo);

	if (!PG_ARGISNULL(1))
		opsmeter_histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(1));
	PG_RETURN_POINTER(h);
}

/* final function of both aggregates: the counts as bigint[], trailing zeros cut */
Datum
opsmeter_histogram_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return opsmeter_histogram_result((Histogram *) PG_GETARG_POINTER(0));
}

/* opsmeter.latency_histogram_add(a bigint[], b bigint[]) -> bigint[] */
Datum
opsmeter_histogram_add(PG_FUNCTION_ARGS)
{
	Histogram  *h = opsmeter_histogram_new(CurrentMemoryContext);

	if (!PG_ARGISNULL(0))
		opsmeter_histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(0));
	if (!PG_ARGISNULL(1))
		opsmeter_histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(1));
	return opsmeter_histogram_result(h);
}

/*
 * opsmeter.latency_percentile(histogram bigint[], fraction float8) -> int:
 * the upper bound of the bucket holding the nearest-rank percentile; NULL
 * for an empty histogram.
 */
Datum
opsmeter_latency_percentile(PG_FUNCTION_ARGS)
{
	Histogram  *h = opsmeter_histogram_new(CurrentMemoryContext);
	float8		fraction = PG_GETARG_FLOAT8(1);
	int64		total = 0,
				rank,
				below = 0;

	if (!(fraction > 0 && fraction <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid percentile fraction %g", fraction),
				 errhint("Give a fraction above 0 and at most 1, such as 0.95.")));
	opsmeter_histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(0));
	for (int i = 0; i < h->n; i++)
		total += h->counts[i];
	if (total <= 0)
		PG_RETURN_NULL();
	rank = (int64) ceil(fraction * (float8) total);
	for (int i = 0; i < h->n; i++)
	{
		below += h->counts[i];
		if (below >= rank)
			PG_RETURN_INT32(opsmeter_latency_bucket_upper(h->lo + i));
	}
	PG_RETURN_NULL();
}
