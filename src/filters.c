/*
 * filters.c — what the analytics views and functions count: the session
 * filters (opsmeter.data_mode, opsmeter.environment), the reporting window
 * (opsmeter.range) and the latency buckets that make p95 mergeable.
 *
 * One parser serves both the GUC check hooks and the explicit arguments of
 * the function forms, so a list is accepted or refused the same way
 * everywhere.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include <math.h>

#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "opsmeter.h"
#include "event.h"

PG_FUNCTION_INFO_V1(opsmeter_data_mode_filter);
PG_FUNCTION_INFO_V1(opsmeter_environment_filter);
PG_FUNCTION_INFO_V1(opsmeter_guc_range);
PG_FUNCTION_INFO_V1(opsmeter_latency_bucket);
PG_FUNCTION_INFO_V1(opsmeter_histogram_count);
PG_FUNCTION_INFO_V1(opsmeter_histogram_merge);
PG_FUNCTION_INFO_V1(opsmeter_histogram_final);
PG_FUNCTION_INFO_V1(opsmeter_histogram_add);
PG_FUNCTION_INFO_V1(opsmeter_latency_percentile);

static char *data_mode_guc = NULL;
static char *environment_guc = NULL;
static int	range_guc_min = 7 * 24 * 60;

typedef struct LabelSet
{
	const char *param;			/* "data_mode" or "environment" */
	const char *enum_type;		/* opsmeter.<enum_type> */
	const char *const *labels;
	int			nlabels;
	const char *hint;
} LabelSet;

static const LabelSet data_modes = {
	"data_mode", "data_mode", data_mode_labels, 3,
	"Use all, or a comma-separated list of: real, test, demo (default real)."
};
static const LabelSet environments = {
	"environment", "environment", environment_labels, 3,
	"Use all, or a comma-separated list of: prod, staging, dev (default all)."
};

/*
 * Parses "all" or a comma-separated list of labels (case-insensitive,
 * blanks ignored) into a bit set.  Returns false with the offending token
 * in *bad when something is not a label.
 */
static bool
parse_label_list(const LabelSet *set, const char *spec, uint32 *bits, char **bad)
{
	char	   *copy = pstrdup(spec);
	char	   *tok;
	char	   *save = NULL;

	*bits = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;
		int			i;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (pg_strcasecmp(tok, "all") == 0)
		{
			*bits |= (1u << set->nlabels) - 1;
			continue;
		}
		for (i = 0; i < set->nlabels; i++)
			if (pg_strcasecmp(tok, set->labels[i]) == 0)
				break;
		if (i == set->nlabels)
		{
			*bad = pstrdup(tok);
			return false;
		}
		*bits |= 1u << i;
	}
	if (*bits == 0)
	{
		*bad = pstrdup(spec);
		return false;
	}
	return true;
}

static bool
check_label_guc(const LabelSet *set, char **newval)
{
	uint32		bits;
	char	   *bad;

	if (parse_label_list(set, *newval, &bits, &bad))
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errmsg("invalid value for opsmeter.%s: \"%s\"", set->param, bad);
	GUC_check_errhint("%s", set->hint);
	return false;
}

static bool
check_data_mode(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&data_modes, newval);
}

static bool
check_environment(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&environments, newval);
}

void
filters_define_gucs(void)
{
	DefineCustomStringVariable("opsmeter.data_mode",
							   "Data modes the analytics views count: all, or a list of real, test, demo.",
							   "Views, exports and budget signals are real-only by default.",
							   &data_mode_guc,
							   "real",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_data_mode, NULL, NULL);

	DefineCustomStringVariable("opsmeter.environment",
							   "Environments the analytics views count: all, or a list of prod, staging, dev.",
							   NULL,
							   &environment_guc,
							   "all",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_environment, NULL, NULL);

	DefineCustomIntVariable("opsmeter.range",
							"Reporting window of the analytics views.",
							"Whole days mean the last N calendar days in the session time zone, today included; "
							"otherwise the last whole hours.",
							&range_guc_min,
							7 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/* spec NULL means the session's GUC; the answer is an array of the enum. */
static Datum
label_filter(const LabelSet *set, const char *spec)
{
	uint32		bits;
	char	   *bad;
	Oid			typid = opsmeter_typid(set->enum_type);
	Datum		elems[8];
	int			n = 0;

	if (!parse_label_list(set, spec, &bits, &bad))
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
	return label_filter(&data_modes,
						PG_ARGISNULL(0) ? data_mode_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.environment_filter(spec text DEFAULT NULL) -> opsmeter.environment[] */
Datum
opsmeter_environment_filter(PG_FUNCTION_ARGS)
{
	return label_filter(&environments,
						PG_ARGISNULL(0) ? environment_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.guc_range() -> interval: whole days as days, else minutes. */
Datum
opsmeter_guc_range(PG_FUNCTION_ARGS)
{
	Interval   *iv = palloc0(sizeof(Interval));

	if (range_guc_min % (24 * 60) == 0)
		iv->day = range_guc_min / (24 * 60);
	else
		iv->time = (int64) range_guc_min * USECS_PER_MINUTE;
	PG_RETURN_INTERVAL_P(iv);
}

/*
 * Latency histograms.  Below 128 ms every millisecond is its own bucket;
 * above, each power of two is cut into 32 buckets, so a bucket is at most
 * 3.2% wide.  Bucket i of a histogram (a bigint[] indexed from 1) counts
 * the requests of bucket index i - 1.  Counts add up, so a p95 read from
 * rolled-up hours and from raw rows is the same number.
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

typedef struct Histogram
{
	int			used;			/* highest bucket index with a count, + 1 */
	int64		counts[HIST_BUCKETS];
} Histogram;

static Histogram *
histogram_state(FunctionCallInfo fcinfo)
{
	MemoryContext aggcxt;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		elog(ERROR, "opsmeter histogram aggregate called in a non-aggregate context");
	if (PG_ARGISNULL(0))
		return MemoryContextAllocZero(aggcxt, sizeof(Histogram));
	return (Histogram *) PG_GETARG_POINTER(0);
}

static void
histogram_add_array(Histogram *h, ArrayType *arr)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1 || ARR_ELEMTYPE(arr) != INT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid latency histogram"),
				 errhint("A histogram is a one-dimensional bigint[] of at most %d counts.", HIST_BUCKETS)));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	if (n > HIST_BUCKETS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid latency histogram: %d buckets", n),
				 errhint("A histogram is a one-dimensional bigint[] of at most %d counts.", HIST_BUCKETS)));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
			h->counts[i] += DatumGetInt64(elems[i]);
	h->used = Max(h->used, n);
}

static Datum
histogram_result(const Histogram *h)
{
	Datum	   *elems;
	int			n = h->used;

	while (n > 0 && h->counts[n - 1] == 0)
		n--;
	elems = palloc(sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(h->counts[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* transition of opsmeter.latency_histogram_of(latency_ms int, requests bigint) */
Datum
opsmeter_histogram_count(PG_FUNCTION_ARGS)
{
	Histogram  *h = histogram_state(fcinfo);

	if (!PG_ARGISNULL(1) && !PG_ARGISNULL(2))
	{
		int			i = bucket_index(PG_GETARG_INT32(1));

		h->counts[i] += PG_GETARG_INT64(2);
		h->used = Max(h->used, i + 1);
	}
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
	Histogram  *h = palloc0(sizeof(Histogram));

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
	Histogram  *h = palloc0(sizeof(Histogram));
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
	for (int i = 0; i < h->used; i++)
		total += h->counts[i];
	if (total <= 0)
		PG_RETURN_NULL();
	rank = (int64) ceil(fraction * (float8) total);
	for (int i = 0; i < h->used; i++)
	{
		below += h->counts[i];
		if (below >= rank)
			PG_RETURN_INT32(bucket_upper(i));
	}
	PG_RETURN_NULL();
}
