/*
 * histogram.h — latency histograms (histogram.c): the buckets that make a
 * p95 mergeable, and the counts of a span of them.  A histogram is stored
 * as a one-dimensional bigint[] whose element i counts the requests of
 * bucket index i - 1; leading and trailing zeros are cut ('[365:365]={1}'
 * is one request of 5 s; an empty histogram is '{}').  The analytics
 * aggregates (filters.c) and the rollup's in-memory grouping
 * (rollup_groups.c) build the same arrays through these functions.
 */
#ifndef OPSMETER_HISTOGRAM_H
#define OPSMETER_HISTOGRAM_H

#include "postgres.h"

#include "utils/array.h"

/* Below 128 ms every millisecond is its own bucket; above, each power of
 * two is cut into 32 buckets, so a bucket is at most 3.2% wide. */
#define HIST_LINEAR 128
#define HIST_SUB 32
#define HIST_BUCKETS (HIST_LINEAR + 24 * HIST_SUB)	/* covers 0 .. 2^31 - 1 */

/* The counts of buckets [lo, lo + n), allocated in cxt. */
typedef struct Histogram
{
	MemoryContext cxt;
	int			lo;				/* bucket index of counts[0] */
	int			n;				/* buckets in use */
	int			cap;			/* buckets allocated */
	int64	   *counts;
} Histogram;

/* the bucket index of a latency, and the inclusive upper bound of a bucket */
extern int	opsmeter_latency_bucket_index(int32 ms);
extern int32 opsmeter_latency_bucket_upper(int index);

extern Histogram *opsmeter_histogram_new(MemoryContext cxt);
extern void opsmeter_histogram_add_count(Histogram *h, int index, int64 count);
/* adds the counts of another histogram */
extern void opsmeter_histogram_add_histogram(Histogram *h, const Histogram *other);
/* adds a stored histogram; a malformed one is an ERROR (22023) */
extern void opsmeter_histogram_add_array(Histogram *h, ArrayType *arr);
/* the counts as a bigint[] in CurrentMemoryContext, zeros cut */
extern Datum opsmeter_histogram_result(const Histogram *h);

#endif
