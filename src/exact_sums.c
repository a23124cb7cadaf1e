/*
 * exact_sums.c — numeric sums in 128-bit integers (include/exact_sums.h).
 *
 * Reading a numeric's digits through numeric_out() and a string costs
 * about as much as PostgreSQL's own sum(numeric) step, which is what an
 * in-memory sum is meant to beat; so a value is read from its stored form
 * instead.  That form (a varlena of a 16-bit header word, a 16-bit weight
 * in the long form, then base-10000 digits, most significant first, with
 * no leading or trailing zero digits) is private to numeric.c but is the
 * on-disk format, which pg_upgrade carries unchanged across majors; every
 * release opsmeter builds for (15 to 18) stores it the same way.  Whatever
 * this code does not recognize goes to the numeric spill, so an unknown
 * form could make a sum slower, never wrong.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/numeric.h"

#include "compat.h"
#include "exact_sums.h"

#ifdef HAVE_INT128

/* header word of the stored form */
#define NUM_FLAG_MASK		0xC000
#define NUM_NEGATIVE		0x4000
#define NUM_SHORT			0x8000
#define NUM_SPECIAL			0xC000	/* NaN, +/-Infinity */
#define NUM_SHORT_NEGATIVE	0x2000
#define NUM_SHORT_SCALE_MASK 0x1F80
#define NUM_SHORT_SCALE_SHIFT 7
#define NUM_SHORT_WEIGHT_NEGATIVE 0x0040
#define NUM_SHORT_WEIGHT_MASK 0x003F
#define NUM_LONG_SCALE_MASK 0x3FFF
#define NUM_BASE			10000
#define NUM_BASE_DIGITS		4	/* decimal digits per base-10000 digit */
#define MAX_UNIT_DIGITS		36	/* |units| < 10^36 leaves room for 170 such sums */

static const int128 ten_to[] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	INT64CONST(10000000000), INT64CONST(100000000000), INT64CONST(1000000000000),
	INT64CONST(10000000000000), INT64CONST(100000000000000), INT64CONST(1000000000000000),
	INT64CONST(10000000000000000), INT64CONST(100000000000000000), INT64CONST(1000000000000000000)
};

static int128
pow10_128(int n)
{
	int128		r = 1;

	while (n >= 18)
	{
		r *= ten_to[18];
		n -= 18;
	}
	return r * ten_to[n];
}

bool
opsmeter_numeric_units(Datum numeric, int unit_scale, int128 *units, int *scale)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(numeric);
	const char *p;
	Size		len;
	uint16		header;
	int			weight;
	int			ndigits;
	bool		negative;
	int			exponent;		/* of ten, applied to the digits read as one integer */
	int128		value = 0;

	if (VARATT_IS_EXTENDED(v) && !VARATT_IS_SHORT(v))
		return false;			/* compressed or external: never a cost or a count */
	p = VARDATA_ANY(v);
	len = VARSIZE_ANY_EXHDR(v);
	if (len < sizeof(uint16))
		return false;
	memcpy(&header, p, sizeof(uint16));
	if ((header & NUM_FLAG_MASK) == NUM_SPECIAL)
		return false;
	if ((header & NUM_FLAG_MASK) == NUM_SHORT)
	{
		negative = (header & NUM_SHORT_NEGATIVE) != 0;
		*scale = (header & NUM_SHORT_SCALE_MASK) >> NUM_SHORT_SCALE_SHIFT;
		weight = (header & NUM_SHORT_WEIGHT_MASK) -
			((header & NUM_SHORT_WEIGHT_NEGATIVE) ? NUM_SHORT_WEIGHT_MASK + 1 : 0);
		p += sizeof(uint16);
		len -= sizeof(uint16);
	}
	else
	{
		int16		long_weight;

		if (len < 2 * sizeof(uint16))
			return false;
		negative = (header & NUM_FLAG_MASK) == NUM_NEGATIVE;
		*scale = header & NUM_LONG_SCALE_MASK;
		memcpy(&long_weight, p + sizeof(uint16), sizeof(int16));
		weight = long_weight;
		p += 2 * sizeof(uint16);
		len -= 2 * sizeof(uint16);
	}
	ndigits = len / sizeof(int16);
	if (*scale > unit_scale)
		return false;
	if (ndigits == 0)
	{
		*units = 0;
		return true;
	}
	/* |value| < 10000^(weight + 1), so |units| < 10^(4 (weight + 1) + unit_scale) */
	if (NUM_BASE_DIGITS * (weight + 1) + unit_scale > MAX_UNIT_DIGITS || ndigits > MAX_UNIT_DIGITS / NUM_BASE_DIGITS)
		return false;
	for (int i = 0; i < ndigits; i++)
	{
		int16		digit;

		memcpy(&digit, p + i * sizeof(int16), sizeof(int16));
		if (digit < 0 || digit >= NUM_BASE)
			return false;
		value = value * NUM_BASE + digit;
	}
	/* the last digit read is worth 10000^(weight - ndigits + 1) */
	exponent = NUM_BASE_DIGITS * (weight - ndigits + 1) + unit_scale;
	if (exponent >= 0)
		value *= pow10_128(exponent);
	else
	{
		/* a last digit finer than a unit can only hold its zeros there */
		if (-exponent >= NUM_BASE_DIGITS || value % ten_to[-exponent] != 0)
			return false;
		value /= ten_to[-exponent];
	}
	*units = negative ? -value : value;
	return true;
}

Datum
opsmeter_numeric_of_units(int128 units, int unit_scale, int scale)
{
	int128		value;
	char		digits[48];
	char		out[64];
	int			n = 0;
	int			p = 0;
	uint128		u;

	Assert(scale >= 0 && scale <= unit_scale);
	value = units / pow10_128(unit_scale - scale);	/* exact: no summand had more decimals */
	if (value >= PG_INT64_MIN && value <= PG_INT64_MAX)
		return NumericGetDatum(int64_div_fast_to_numeric((int64) value, scale));
	u = value < 0 ? -(uint128) value : (uint128) value;
	do
	{
		digits[n++] = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0);
	while (n <= scale)
		digits[n++] = '0';
	if (value < 0)
		out[p++] = '-';
	for (int i = n - 1; i >= 0; i--)
	{
		out[p++] = digits[i];
		if (i == scale && scale > 0)
			out[p++] = '.';
	}
	out[p] = '\0';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(out), ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

void
opsmeter_exact_sum_add(ExactSum *sum, Datum numeric, int unit_scale, MemoryContext spill_cxt)
{
	int128		units;
	int			scale;
	MemoryContext old;

	if (opsmeter_numeric_units(numeric, unit_scale, &units, &scale) &&
		opsmeter_int128_add(&sum->units, units))
	{
		sum->scale = Max(sum->scale, scale);
		return;
	}
	old = MemoryContextSwitchTo(spill_cxt);
	sum->spill = sum->spill == (Datum) 0 ? PointerGetDatum(PG_DETOAST_DATUM_COPY(numeric))
		: DirectFunctionCall2(numeric_add, sum->spill, numeric);
	MemoryContextSwitchTo(old);
}

void
opsmeter_exact_sum_add_int64(ExactSum *sum, int64 value, MemoryContext spill_cxt)
{
	MemoryContext old;
	Datum		numeric;

	if (opsmeter_int128_add(&sum->units, value))
		return;
	old = MemoryContextSwitchTo(spill_cxt);
	numeric = NumericGetDatum(int64_to_numeric(value));
	sum->spill = sum->spill == (Datum) 0 ? numeric : DirectFunctionCall2(numeric_add, sum->spill, numeric);
	MemoryContextSwitchTo(old);
}

Datum
opsmeter_exact_sum_result(const ExactSum *sum, int unit_scale)
{
	Datum		held = opsmeter_numeric_of_units(sum->units, unit_scale, sum->scale);

	return sum->spill == (Datum) 0 ? held : DirectFunctionCall2(numeric_add, held, sum->spill);
}

#endif							/* HAVE_INT128 */
