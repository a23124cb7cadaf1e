/*
 * key_filter.h — the filter in front of each sealed generation of dedup
 * keys (key_filter.c): a split-block Bloom filter built from every key the
 * generation's table holds, so that ingest looks a new key up only in the
 * generations that may hold it.  Invariant (src/README.md, "Key filters"):
 * a filter never says "lacks" of a key its generation holds.
 */
#ifndef OPSMETER_KEY_FILTER_H
#define OPSMETER_KEY_FILTER_H

#include "postgres.h"

/* A filter as ingest keeps it: the blocks of bits, nothing else. */
typedef struct KeyFilter
{
	uint32		nblocks;
	const uint32 *words;		/* nblocks * 8 words of 32 bits */
} KeyFilter;

/* The 64-bit hash of one key of one workspace, as filters use it. */
extern uint64 opsmeter_key_hash(int64 workspace_id, const char *key, Size len);

/*
 * Reads a stored filter (opsmeter.key_generations.key_filter), detoasted
 * with a 4-byte header (pg_detoast_datum_copy(), PG_GETARG_BYTEA_P());
 * false, with *filter untouched, when it is not one this build wrote or
 * has a short header.  *filter points into stored.
 */
extern bool opsmeter_key_filter_read(const bytea *stored, KeyFilter *filter);

/* True only when the key is certainly not in the filter's generation. */
extern bool opsmeter_key_filter_lacks(const KeyFilter *filter, uint64 hash);

#endif							/* OPSMETER_KEY_FILTER_H */
