/*
 * exact_sums.h — sums of numeric values in 128-bit integers, exact to the
 * value and to the display scale SQL's sum(numeric) gives (exact_sums.c).
 *
 * A value is held as an integer of units of 10^-unit_scale (unit_scale 0
 * for token counts, 24 for dollars) together with the largest display scale
 * summed, as sum(numeric) keeps it.  A value that cannot be held that way
 * (more decimal places than unit_scale, a magnitude near 10^36 units, NaN
 * or infinity, a sum that would overflow) is added to a numeric "spill"
 * with numeric_add instead, so a sum is never inexact, only slower.
 *
 * Used by the rollup's in-memory grouping (rollup_groups.c) and by the
 * views' in-memory sums of a list's detailed days (detail_sums.c).
 * Test: sql/rollup_in_memory.sql and sql/detail_sums.sql compare both with
 * SQL's sum() as text, display scale included.
 */
#ifndef OPSMETER_EXACT_SUMS_H
#define OPSMETER_EXACT_SUMS_H

#include "postgres.h"

#ifdef HAVE_INT128

typedef struct ExactSum
{
	int128		units;			/* 10^-unit_scale each */
	int			scale;			/* the largest display scale summed */
	Datum		spill;			/* numeric, (Datum) 0: none */
} ExactSum;

/*
 * *to += value; false, and *to unchanged, when the sum does not fit (the
 * builtin stores the wrapped sum even then, so it goes through a local).
 */
static inline bool
opsmeter_int128_add(int128 *to, int128 value)
{
	int128		sum;

	if (__builtin_add_overflow(*to, value, &sum))
		return false;
	*to = sum;
	return true;
}

/*
 * A numeric as units of 10^-unit_scale and its display scale, read from the
 * value's stored digits; false when it has more decimal places than
 * unit_scale, is NaN or infinite, or reaches 10^36 units.
 */
extern bool opsmeter_numeric_units(Datum numeric, int unit_scale, int128 *units, int *scale);

/* the numeric of units of 10^-unit_scale, shown with scale decimals (scale <= unit_scale) */
extern Datum opsmeter_numeric_of_units(int128 units, int unit_scale, int scale);

/* adds a numeric (the spill, when it is allocated, lives in spill_cxt) */
extern void opsmeter_exact_sum_add(ExactSum *sum, Datum numeric, int unit_scale, MemoryContext spill_cxt);

/* adds an integer (a sum of unit_scale 0) */
extern void opsmeter_exact_sum_add_int64(ExactSum *sum, int64 value, MemoryContext spill_cxt);

/* the sum as a numeric, in the current memory context */
extern Datum opsmeter_exact_sum_result(const ExactSum *sum, int unit_scale);

#endif							/* HAVE_INT128 */

#endif							/* OPSMETER_EXACT_SUMS_H */
