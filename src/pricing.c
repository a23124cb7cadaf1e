/*
 * pricing.c — cost of an event from the effective-dated price catalog.
 *
 * Each backend caches opsmeter.prices (small: one row per model and price
 * change).  A statement trigger on the table sends a relcache invalidation
 * for it, so every backend drops its copy when the catalog changes.  Money
 * is numeric end to end: tokens * USD-per-1M * 0.000001, never a float.
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "catalog.h"
#include "pricing.h"

PG_FUNCTION_INFO_V1(opsmeter_prices_changed);
PG_FUNCTION_INFO_V1(opsmeter_catalog_cost);

#define PRICE_KEY_BYTES 320		/* provider + 0x1F + model, lower-cased */

typedef struct PricePoint
{
	TimestampTz effective_from;
	Numeric		input;			/* USD per 1M tokens */
	Numeric		output;
	Numeric		cached_input;	/* NULL: cached tokens cost the input rate */
} PricePoint;

typedef struct PriceEntry
{
	char		key[PRICE_KEY_BYTES];
	int			npoints;
	PricePoint *points;			/* ascending effective_from */
} PriceEntry;

static MemoryContext price_cxt = NULL;
static HTAB *price_cache = NULL;
static bool price_cache_valid = false;
static uint64 price_invalidations = 0;	/* bumped by every relevant invalidation */
static Numeric per_token = NULL;	/* 0.000001, in price_cxt */
static Oid	price_relid = InvalidOid;	/* opsmeter.prices when loaded */

/* InvalidOid means "all relations" (e.g. after a cache overflow). */
static void
price_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == price_relid)
	{
		price_cache_valid = false;
		price_invalidations++;
	}
}

void
opsmeter_pricing_init(void)
{
	CacheRegisterRelcacheCallback(price_relcache_callback, (Datum) 0);
}

/* Trigger on opsmeter.prices: tell every backend to reload the catalog. */
Datum
opsmeter_prices_changed(PG_FUNCTION_ARGS)
{
	return opsmeter_announce_table_change(fcinfo, "opsmeter_prices_changed");
}

/*
 * Writes "<length of provider>:<provider><model>" lower-cased (ASCII): the
 * length prefix keeps every (provider, model) pair distinct whatever
 * characters they hold.  False when too long to be in the catalog.
 */
static bool
make_key(const char *provider, const char *model, char *key)
{
	size_t		lp = strlen(provider),
				lm = strlen(model);
	int			head;

	if (lp + lm + 8 > PRICE_KEY_BYTES)
		return false;
	head = snprintf(key, 8, "%zu:", lp);
	for (size_t i = 0; i < lp; i++)
		key[head + i] = pg_ascii_tolower((unsigned char) provider[i]);
	for (size_t i = 0; i < lm; i++)
		key[head + lp + i] = pg_ascii_tolower((unsigned char) model[i]);
	key[head + lp + lm] = '\0';
	return true;
}

static Numeric
copy_numeric(Datum d)
{
	return DatumGetNumericCopy(d);
}

static void
load_price_cache(void)
{
	HASHCTL		ctl;
	MemoryContext old;
	uint64		invalidations_at_start = price_invalidations;

	if (price_cxt == NULL)
		price_cxt = AllocSetContextCreate(CacheMemoryContext, "opsmeter price catalog",
										  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(price_cxt);
	price_cache = NULL;

	price_relid = opsmeter_relid("prices");
	price_cache_valid = false;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = PRICE_KEY_BYTES;
	ctl.entrysize = sizeof(PriceEntry);
	ctl.hcxt = price_cxt;
	price_cache = hash_create("opsmeter prices", 256, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	SPI_connect();
	if (SPI_execute("SELECT provider, model, effective_from, input_usd_per_mtok, "
					"output_usd_per_mtok, cached_input_usd_per_mtok "
					"FROM opsmeter.prices ORDER BY provider, model, effective_from",
					true, 0) != SPI_OK_SELECT)
		elog(ERROR, "reading opsmeter.prices failed");

	old = MemoryContextSwitchTo(price_cxt);
	per_token = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum("0.000001"),
													ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	tup = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		char		key[PRICE_KEY_BYTES];
		PriceEntry *entry;
		PricePoint *pt;
		bool		found;

		if (!make_key(SPI_getvalue(tup, desc, 1), SPI_getvalue(tup, desc, 2), key))
			continue;			/* too long to be asked for */
		entry = hash_search(price_cache, key, HASH_ENTER, &found);
		if (!found)
		{
			entry->npoints = 0;
			entry->points = NULL;
		}
		entry->points = entry->points == NULL
			? palloc(sizeof(PricePoint))
			: repalloc(entry->points, sizeof(PricePoint) * (entry->npoints + 1));
		pt = &entry->points[entry->npoints++];
		pt->effective_from = DatumGetTimestampTz(SPI_getbinval(tup, desc, 3, &isnull));
		pt->input = copy_numeric(SPI_getbinval(tup, desc, 4, &isnull));
		pt->output = copy_numeric(SPI_getbinval(tup, desc, 5, &isnull));
		pt->cached_input = NULL;
		{
			Datum		cached = SPI_getbinval(tup, desc, 6, &isnull);

			if (!isnull)
				pt->cached_input = copy_numeric(cached);
		}
	}
	MemoryContextSwitchTo(old);
	SPI_finish();

	/*
	 * Valid only when complete (an error above leaves it invalid) and no
	 * invalidation arrived while we read: then the next call reloads.
	 */
	price_cache_valid = (price_invalidations == invalidations_at_start);
}

static Numeric
mul(Numeric a, Numeric b)
{
	return numeric_mul_opt_error(a, b, NULL);
}

static Numeric
add(Numeric a, Numeric b)
{
	return numeric_add_opt_error(a, b, NULL);
}

/* The price point in effect at ts, or NULL. */
static const PricePoint *
point_at(const PriceEntry *entry, TimestampTz ts)
{
	const PricePoint *found = NULL;

	for (int i = 0; i < entry->npoints && entry->points[i].effective_from <= ts; i++)
		found = &entry->points[i];
	return found;
}

/* The catalog cost of tokens at ts: see pricing.h. */
Numeric
opsmeter_pricing_cost(const char *provider, const char *model, TimestampTz ts,
					  int64 input_tokens, int64 cached_input_tokens, int64 output_tokens,
					  const char **reason)
{
	char		key[PRICE_KEY_BYTES];
	PriceEntry *entry = NULL;
	const PricePoint *pt;
	Numeric		uncached,
				cached,
				cached_rate,
				sum;

	if (!price_cache_valid || price_cache == NULL)
		load_price_cache();

	if (make_key(provider, model, key))
		entry = hash_search(price_cache, key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		*reason = "unknown_model";
		return NULL;
	}
	pt = point_at(entry, ts);
	if (pt == NULL)
	{
		*reason = "no_price_in_effect";
		return NULL;
	}

	uncached = int64_to_numeric(input_tokens - cached_input_tokens);
	cached = int64_to_numeric(cached_input_tokens);
	cached_rate = pt->cached_input != NULL ? pt->cached_input : pt->input;
	sum = add(add(mul(uncached, pt->input), mul(cached, cached_rate)),
			  mul(int64_to_numeric(output_tokens), pt->output));
	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale,
											   NumericGetDatum(mul(sum, per_token))));
}

/*
 * opsmeter.catalog_cost(provider, model, ts, input_tokens,
 * cached_input_tokens, output_tokens) -> numeric: what ingest would charge
 * now for these tokens at ts; NULL when the catalog has no price.  Used by
 * opsmeter_reprice().
 */
Datum
opsmeter_catalog_cost(PG_FUNCTION_ARGS)
{
	const char *reason;
	Numeric		cost;

	cost = opsmeter_pricing_cost(text_to_cstring(PG_GETARG_TEXT_PP(0)),
								 text_to_cstring(PG_GETARG_TEXT_PP(1)),
								 PG_GETARG_TIMESTAMPTZ(2), PG_GETARG_INT64(3), PG_GETARG_INT64(4),
								 PG_GETARG_INT64(5), &reason);
	if (cost == NULL)
		PG_RETURN_NULL();
	PG_RETURN_NUMERIC(cost);
}
