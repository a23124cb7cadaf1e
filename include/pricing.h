/*
 * pricing.h — the price catalog (pricing.c; price files are loaded by
 * price_loader.c).  Knows nothing of events: the ingest pipeline asks for
 * the cost of tokens and records the answer on its events.
 */
#ifndef OPSMETER_PRICING_H
#define OPSMETER_PRICING_H

#include "postgres.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

/* Registers the catalog cache's invalidation callback; from _PG_init. */
extern void opsmeter_pricing_init(void);

/*
 * The catalog cost of these tokens at ts, exact, or NULL with *reason set
 * ("unknown_model" or "no_price_in_effect").
 */
extern Numeric opsmeter_pricing_cost(const char *provider, const char *model, TimestampTz ts,
									 int64 input_tokens, int64 cached_input_tokens,
									 int64 output_tokens, const char **reason);

#endif							/* OPSMETER_PRICING_H */
