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

/*
 * Latency histograms.  Below 128 ms every millisecond is its own bucket;
 * above, each power of two is cut into 32 buckets, so a bucket is at most
 * 3.2% wide.  A histogram is a one-dimensional bigint[] whose element i
 * counts the requests of bucket index i - 1; its lower bound need not be 1
 * (a histogram of one request of 5 s is '[365:365]={1}', one element), and
 * leading and trailing zeros are cut.  Counts add up, so a p95 read from
 * rolled-up quarters and from raw rows is the same number.  (0.1.0 wrote
 * the same arrays from bound 1; they read the same.)
 */
#define HIST_LINEAR 128
#define HIST_SUB 32
#define HIST_BUCKETS (HIST_LINEAR + 24 * HIST_SUB)	/* covers 0 .. 2^31 - 1 */

static int
bucket_index(int32 ms)
{
	int			shift = 0;

	if (ms < HIST_LINEAR)
		return Max(ms, 0);
	while ((ms >> shift) >= 2 * HIST_SUB)
		shift++;
	/* now 32 <= ms >> shift < 64, shift >= 2 */
	return HIST_LINEAR + (shift - 2) * HIST_SUB + ((ms >> shift) - HIST_SUB);
}

/* inclusive upper bound (ms) of a bucket */
static int32
bucket_upper(int index)
{
	int			shift;
	int64		upper;

	if (index < HIST_LINEAR)
		return index;
	shift = (index - HIST_LINEAR) / HIST_SUB + 2;
	upper = ((int64) ((index - HIST_LINEAR) % HIST_SUB + HIST_SUB + 1) << shift) - 1;
	return (int32) Min(upper, (int64) PG_INT32_MAX);
}

/* opsmeter.latency_bucket(ms int) -> int: upper bound of the bucket holding ms */
Datum
opsmeter_latency_bucket(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(bucket_upper(bucket_index(PG_GETARG_INT32(0))));
}

/*
 * The counts of buckets [lo, lo + n), in cxt: only the span of buckets seen
 * is allocated, so a rollup that makes a histogram for each of a million
 * small groups does not clear a full-size array for each.
 */
typedef struct Histogram
{
	MemoryContext cxt;
	int			lo;				/* bucket index of counts[0] */
	int			n;				/* buckets in use */
	int			cap;			/* buckets allocated */
	int64	   *counts;
} Histogram;

static Histogram *
histogram_new(MemoryContext cxt)
{
	Histogram  *h = MemoryContextAllocZero(cxt, sizeof(Histogram));

	h->cxt = cxt;
	return h;
}

/* adds count to bucket index i, growing the span to hold it */
static void
histogram_add(Histogram *h, int i, int64 count)
{
	int			lo,
				hi;

	if (h->n == 0)
	{
		lo = i;
		hi = i + 1;
	}
	else
	{
		lo = Min(h->lo, i);
		hi = Max(h->lo + h->n, i + 1);
	}
	if (h->n == 0 || lo != h->lo || hi - lo > h->n)
	{
		int			shift = h->n == 0 ? 0 : h->lo - lo;

		if (hi - lo > h->cap)
		{
			int			cap = Max(hi - lo, Max(8, 2 * h->cap));
			int64	   *counts = MemoryContextAllocZero(h->cxt, sizeof(int64) * Min(cap, HIST_BUCKETS));

			if (h->n > 0)
				memcpy(counts + shift, h->counts, sizeof(int64) * h->n);
			if (h->counts)
				pfree(h->counts);
			h->counts = counts;
			h->cap = Min(cap, HIST_BUCKETS);
		}
		else if (shift > 0)
		{
			memmove(h->counts + shift, h->counts, sizeof(int64) * h->n);
			memset(h->counts, 0, sizeof(int64) * shift);
		}
		h->lo = lo;
		h->n = hi - lo;
	}
	h->counts[i - h->lo] += count;
}

static Histogram *
histogram_state(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "opsmeter histogram aggregate called in a non-aggregate context");
	if (PG_ARGISNULL(0))
		return histogram_new(aggcxt);
	return (Histogram *) PG_GETARG_POINTER(0);
}

static void
histogram_add_array(Histogram *h, ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			first;

	if (ARR_NDIM(arr) == 0)
		return;
	first = ARR_LBOUND(arr)[0] - 1;
	if (ARR_NDIM(arr) > 1 || ARR_ELEMTYPE(arr) != INT8OID || first < 0 || first > HIST_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid latency histogram"),
				 errhint("A histogram is a one-dimensional bigint[] of at most %d counts.", HIST_BUCKETS)));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n > HIST_BUCKETS - first)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid latency histogram: %d buckets from bucket %d", n, first + 1),
				 errhint("A histogram is a one-dimensional bigint[] of at most %d counts.", HIST_BUCKETS)));
	for (int i = 0; i < n; i++)
		if (!nulls[i] && DatumGetInt64(elems[i]) != 0)
			histogram_add(h, first + i, DatumGetInt64(elems[i]));
}

/* the counts as bigint[], leading and trailing zeros cut (empty: '{}') */
static Datum
histogram_result(const Histogram *h)
{
	int			from = 0,
				to = h->n;
	Datum	   *elems;
	int			dims[1];
	int			lbs[1];

	while (from < to && h->counts[from] == 0)
		from++;
	while (to > from && h->counts[to - 1] == 0)
		to--;
	if (from == to)
		return PointerGetDatum(construct_empty_array(INT8OID));
	elems = palloc(sizeof(Datum) * (to - from));
	for (int i = from; i < to; i++)
		elems[i - from] = Int64GetDatum(h->counts[i]);
	dims[0] = to - from;
	lbs[0] = h->lo + from + 1;
	return PointerGetDatum(construct_md_array(elems, NULL, 1, dims, lbs, INT8OID, 8, FLOAT8PASSBYVAL,
											  TYPALIGN_DOUBLE));
}

/* transition of opsmeter.latency_histogram_of(latency_ms int, requests bigint) */
Datum
opsmeter_histogram_count(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_state(fcinfo);

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2) && PG_GETARG_INT64(2) != 0)
		histogram_add(h, bucket_index(PG_GETARG_INT32(1)), PG_GETARG_INT64(2));
	PG_RETURN_POINTER(h);
}

/* transition of opsmeter.latency_histogram_sum(bigint[]) */
Datum
opsmeter_histogram_merge(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_state(fcinfo);

	if (!PG_ARGISNULL(1))
		histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(1));
	PG_RETURN_POINTER(h);
}

/* final function of both aggregates: the counts as bigint[], trailing zeros cut */
Datum
opsmeter_histogram_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return histogram_result((Histogram *) PG_GETARG_POINTER(0));
}

/* opsmeter.latency_histogram_add(a bigint[], b bigint[]) -> bigint[] */
Datum
opsmeter_histogram_add(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_new(CurrentMemoryContext);

	if (!PG_ARGISNULL(0))
		histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(0));
	if (!PG_ARGISNULL(1))
		histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(1));
	return histogram_result(h);
}

/*
 * opsmeter.latency_percentile(histogram bigint[], fraction float8) -> int:
 * the upper bound of the bucket holding the nearest-rank percentile; NULL
 * for an empty histogram.
 */
Datum
opsmeter_latency_percentile(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_new(CurrentMemoryContext);
	float8		fraction = PG_GETARG_FLOAT8(1);
	int64		total = 0,
				rank,
				below = 0;

	if (!(fraction > 0 && fraction <= 1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid percentile fraction %g", fraction),
				 errhint("Give a fraction above 0 and at most 1, such as 0.95.")));
	histogram_add_array(h, PG_GETARG_ARRAYTYPE_P(0));
	for (int i = 0; i < h->n; i++)
		total += h->counts[i];
	if (total <= 0)
		PG_RETURN_NULL();
	rank = (int64) ceil(fraction * (float8) total);
	for (int i = 0; i < h->n; i++)
	{
		below += h->counts[i];
		if (below >= rank)
			PG_RETURN_INT32(bucket_upper(h->lo + i));
	}
	PG_RETURN_NULL();
}
