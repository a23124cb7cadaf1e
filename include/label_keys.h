/*
 * label_keys.h — text labels (provider, model, user, tenant, endpoint,
 * prompt version) as parts of an in-memory grouping's hash key: compared
 * and hashed by their bytes, NULL (none, or unknown) a value of its own,
 * copied into the grouping's memory when a group is made.  Shared by the
 * pass's grouping (rollup_groups.c) and the views' (detail_sums.c), so both
 * group labels as SQL's GROUP BY does for a deterministic collation.
 */
#ifndef OPSMETER_LABEL_KEYS_H
#define OPSMETER_LABEL_KEYS_H

#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "compat.h"

static inline bool
opsmeter_label_equal(const text *x, const text *y)
{
	if (x == NULL || y == NULL)
		return x == y;
	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

static inline uint32
opsmeter_label_hash(const text *t)
{
	return t == NULL ? 0x9e3779b9 : hash_bytes((const unsigned char *) VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

/* a copy with a 4-byte header in cxt; NULL stays NULL */
static inline text *
opsmeter_label_copy(MemoryContext cxt, const text *t)
{
	text	   *copy;
	Size		len;

	if (t == NULL)
		return NULL;
	len = VARSIZE_ANY_EXHDR(t);
	copy = MemoryContextAlloc(cxt, VARHDRSZ + len);
	SET_VARSIZE(copy, VARHDRSZ + len);
	memcpy(VARDATA(copy), VARDATA_ANY(t), len);
	return copy;
}

#endif							/* OPSMETER_LABEL_KEYS_H */
