/*
 * histogram.c — latency histograms (include/histogram.h): the bucket of a
 * latency, and the counts of a span of buckets, read from and written as
 * bigint[].  Used by the analytics aggregates (filters.c) and by the
 * rollup's in-memory grouping (rollup_groups.c), so both write the same
 * arrays.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"

#include "histogram.h"

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
int
opsmeter_latency_bucket_index(int32 ms)
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
int32
opsmeter_latency_bucket_upper(int index)
{
	int			shift;
	int64		upper;

	if (index < HIST_LINEAR)
		return index;
	shift = (index - HIST_LINEAR) / HIST_SUB + 2;
	upper = ((int64) ((index - HIST_LINEAR) % HIST_SUB + HIST_SUB + 1) << shift) - 1;
	return (int32) Min(upper, (int64) PG_INT32_MAX);
}

/*
 * The counts of buckets [lo, lo + n), in cxt: only the span of buckets seen
 * is allocated, so a rollup that makes a histogram for each of a million
 * small groups does not clear a full-size array for each.
 */
Histogram *
opsmeter_histogram_new(MemoryContext cxt)
{
	Histogram  *h = MemoryContextAllocZero(cxt, sizeof(Histogram));

	h->cxt = cxt;
	return h;
}

/* adds count to bucket index i, growing the span to hold it */
void
opsmeter_histogram_add_count(Histogram *h, int i, int64 count)
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

/* adds the counts of another histogram */
void
opsmeter_histogram_add_histogram(Histogram *h, const Histogram *other)
{
	for (int i = 0; i < other->n; i++)
		if (other->counts[i] != 0)
			opsmeter_histogram_add_count(h, other->lo + i, other->counts[i]);
}

void
opsmeter_histogram_add_array(Histogram *h, ArrayType *arr)
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
			opsmeter_histogram_add_count(h, first + i, DatumGetInt64(elems[i]));
}

/* the counts as bigint[], leading and trailing zeros cut (empty: '{}') */
Datum
opsmeter_histogram_result(const Histogram *h)
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
