/*
 * rollup_groups.c — a pass's pending contributions grouped in memory.
 *
 * A rollup pass (_rollup(), sql/install/06_summaries_rollup.sql) used to
 * read the contributions it rolls up three times, each time grouped by SQL:
 * per workspace-day (_pending_days), per tier-1 group (_fold_quarters) and
 * per tier-2 hourly group of six groupings (_fold_detail).  With the worker
 * every second that grouping was most of the CPU a pass took from ingest.
 * Here one read sums everything in hash tables:
 *
 *   - every contribution into its workspace-day;
 *   - a contribution of a day already summarized (rollup_days.quarter_rows
 *     not NULL) into its tier-1 group: quarter hour, mode, environment,
 *     provider and model, with its latency histogram;
 *   - a contribution of a day already detailed (detail_rows not NULL) into
 *     its six hourly groups: overview (with the histogram), model, user,
 *     tenant, endpoint and prompt version.
 *
 * The rows come straight from the executor (a DestReceiver: no copy of
 * each into an SPI tuple table).  Each goes first into one "fine group"
 * keyed by the labels its day's tiers need (one hash probe a row), and
 * the fine groups are spread into the tiers at the end; the status of the
 * days is read from rollup_days in a few statements for all of them (see
 * GroupingReceiver).  _group_pending() builds the sums and keeps them until the
 * transaction (or the subtransaction that built them) ends; _grouped_days(),
 * _grouped_quarters() and _grouped_hours() return them to the pass's SQL,
 * which upserts them exactly as it upserts its own grouping.
 *
 * Invariant (src/README.md, "In-memory grouping"): each sum is the one SQL's
 * sum() gives for the same contributions, value and numeric display scale
 * alike.  Token sums are 128-bit integers; costs are 128-bit integers in
 * units of 10^-24 dollars with the largest display scale seen.  When the
 * sums cannot be exact or would not fit in work_mem (a cost with more than
 * 24 decimal places, more groups than work_mem holds, a build without
 * 128-bit integers) _group_pending() returns false, keeps nothing, and the
 * pass groups in SQL as before.  Tests: sql/rollup_in_memory.sql compares
 * both paths on the same rows; every summaries-vs-raw check runs through
 * this path.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "exact_sums.h"
#include "histogram.h"
#include "label_keys.h"

PG_FUNCTION_INFO_V1(opsmeter_group_pending);
PG_FUNCTION_INFO_V1(opsmeter_grouped_days);
PG_FUNCTION_INFO_V1(opsmeter_grouped_quarters);
PG_FUNCTION_INFO_V1(opsmeter_grouped_hours);

/* the contributions of a pass, in the column order the code below reads */
#define CONTRIBUTIONS_SQL \
	"SELECT p.is_adjustment, p.workspace_id, p.ts, p.data_mode, p.environment, p.provider, p.model, " \
	"       p.user_id, p.tenant_id, p.endpoint_tag, p.prompt_version, p.requests, p.errors, " \
	"       p.input_tokens, p.output_tokens, p.total_tokens, p.cached_input_tokens, p.reasoning_tokens, " \
	"       p.cost_usd, p.unpriced_requests, p.unpriced_tokens, p.latency_count, p.latency_sum_ms, " \
	"       p.latency_bucket " \
	"  FROM opsmeter.pending_contributions($1, $2, $3, $4) p"
enum
{
	C_IS_ADJUSTMENT, C_WORKSPACE, C_TS, C_MODE, C_ENVIRONMENT, C_PROVIDER, C_MODEL,
	C_USER, C_TENANT, C_ENDPOINT, C_PROMPT_VERSION, C_REQUESTS, C_ERRORS,
	C_INPUT, C_OUTPUT, C_TOTAL, C_CACHED, C_REASONING,
	C_COST, C_UNPRICED_REQUESTS, C_UNPRICED_TOKENS, C_LATENCY_COUNT, C_LATENCY_SUM,
	C_LATENCY_BUCKET, C_COLUMNS
};

/* the status of the days first seen since the last read, read at once */
#define DAY_STATUS_SQL \
	"SELECT d.workspace_id, d.day, d.quarter_rows IS NOT NULL, d.detail_rows IS NOT NULL " \
	"  FROM unnest($1::bigint[], $2::date[]) s(workspace_id, day) " \
	"  JOIN opsmeter.rollup_days d ON d.workspace_id = s.workspace_id AND d.day = s.day"

#define QUARTER_USECS (INT64CONST(15) * USECS_PER_MINUTE)
#define COST_SCALE 24			/* costs are summed in units of 10^-24 */

/* tier-2 dimensions, in the order of the SQL grouping sets */
typedef enum Dimension
{
	DIM_OVERVIEW, DIM_MODEL, DIM_USER, DIM_TENANT, DIM_ENDPOINT, DIM_PROMPT_VERSION, DIM_COUNT
} Dimension;
static const char *const dimension_names[DIM_COUNT] = {
	"overview", "model", "user", "tenant", "endpoint", "prompt_version"
};

#ifdef HAVE_INT128

typedef struct Sums
{
	int64		requests,
				errors,
				unpriced_requests,
				latency_count;
	int128		input_tokens,
				output_tokens,
				total_tokens,
				cached_input_tokens,
				reasoning_tokens,
				unpriced_tokens,
				latency_sum_ms,
				cost_units;		/* 10^-COST_SCALE dollars */
	int			cost_scale;		/* the largest display scale summed */
} Sums;

#define N_LABELS (C_PROMPT_VERSION - C_PROVIDER + 1)	/* provider, model, user, tenant, endpoint, prompt version */

/*
 * One contribution's values, decoded once; or the sum of the contributions
 * of one workspace, quarter hour, mode, environment and all six labels (a
 * "fine group"), which goes into each of its groups of both tiers.
 */
typedef struct Contribution
{
	int64		workspace_id;
	TimestampTz ts;				/* a fine group: the start of its quarter */
	Datum		mode,
				environment;
	text	   *labels[N_LABELS];	/* NULL: none */
	uint32		label_hashes[N_LABELS];
	uint32		base_hash;		/* of workspace, mode and environment */
	Sums		sums;
	int64		raw_rows,		/* the raw rows and adjustments summed */
				adjustment_rows;
	int			latency_index;	/* one row: its histogram bucket; -1: none */
	Histogram  *histogram;		/* a fine group: its latencies; one row: NULL */
} Contribution;

/* A fine group's key: every field its groups of both tiers are keyed by. */
typedef struct FineKey
{
	uint32		hash;
	int64		workspace_id;
	TimestampTz quarter;
	Oid			mode,
				environment;
	const text *labels[N_LABELS];
} FineKey;

typedef struct FineGroup
{
	FineKey		key;
	Contribution sum;			/* its labels copied into the fine groups' memory */
} FineGroup;

typedef struct DayKey
{
	int64		workspace_id;
	DateADT		day;
} DayKey;

typedef struct DayEntry
{
	DayKey		key;
	int64		requests;
	int64		raw_rows;
	int64		adjustment_rows;
	bool		status_read;	/* the two below have been read from rollup_days */
	bool		summarized;		/* quarter_rows was not NULL before the pass */
	bool		detailed;		/* detail_rows was not NULL before the pass */
} DayEntry;

/*
 * A group's key.  The labels are those of the group (provider and model,
 * or the one label of a user, tenant, endpoint or prompt-version group;
 * NULL: none or unknown), compared by their bytes; hash combines the
 * fields' hashes, each label hashed once per contribution.
 */
typedef struct GroupKey
{
	uint32		hash;
	char		tier;			/* 'Q' tier 1, 'H' tier 2 */
	char		dimension;		/* Dimension, tier 2 */
	int64		workspace_id;
	TimestampTz period_start;
	Oid			mode,
				environment;
	const text *first,
			   *second;
} GroupKey;

typedef struct GroupEntry
{
	GroupKey	key;			/* its labels copied into the grouping's memory */
	Sums		sums;
	Histogram  *histogram;		/* tier 1 and tier-2 overview only */
} GroupEntry;

typedef struct PendingGroups
{
	MemoryContext cxt;
	int64		after_batch,
				upto_batch;
	int64	   *also,
			   *except;
	int			nalso,
				nexcept;
	HTAB	   *days;
	HTAB	   *quarters;
	HTAB	   *hours;
} PendingGroups;

/* The sums of the last build, until the (sub)transaction that built them ends. */
static PendingGroups *pending = NULL;

static void
forget_pending(void *arg)
{
	if (pending == (PendingGroups *) arg)
		pending = NULL;
}

static uint32
group_key_hash(const void *key, Size keysize)
{
	return ((const GroupKey *) key)->hash;
}

static int
group_key_compare(const void *a, const void *b, Size keysize)
{
	const GroupKey *x = a;
	const GroupKey *y = b;

	if (x->hash != y->hash || x->tier != y->tier || x->dimension != y->dimension ||
		x->workspace_id != y->workspace_id || x->period_start != y->period_start ||
		x->mode != y->mode || x->environment != y->environment)
		return 1;
	return opsmeter_label_equal(x->first, y->first) && opsmeter_label_equal(x->second, y->second) ? 0 : 1;
}

static HTAB *
group_table(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(GroupKey);
	ctl.entrysize = sizeof(GroupEntry);
	ctl.hash = group_key_hash;
	ctl.match = group_key_compare;
	ctl.hcxt = cxt;
	return hash_create(name, 1024, &ctl, HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/* the key of one of a contribution's groups, its hash included */
static GroupKey
group_key(char tier, Dimension dim, const Contribution *c, TimestampTz period_start, int first, int second)
{
	GroupKey	key;
	uint32		h;

	memset(&key, 0, sizeof(key));
	key.tier = tier;
	key.dimension = (char) dim;
	key.workspace_id = c->workspace_id;
	key.period_start = period_start;
	key.mode = DatumGetObjectId(c->mode);
	key.environment = DatumGetObjectId(c->environment);
	key.first = first < 0 ? NULL : c->labels[first];
	key.second = second < 0 ? NULL : c->labels[second];
	h = hash_combine(c->base_hash, ((uint32) tier << 8) | (uint32) dim);
	h = hash_combine(h, hash_bytes_uint32((uint32) (period_start / USECS_PER_MINUTE)));
	h = hash_combine(h, first < 0 ? 0 : c->label_hashes[first]);
	h = hash_combine(h, second < 0 ? 0 : c->label_hashes[second]);
	key.hash = h;
	return key;
}

/*
 * Adds from's sums to to's; false when a 128-bit sum would overflow: a
 * cost is below 10^36 units, but 170 costs near it (or 170,000 of the
 * largest costUsd a caller may send, 10^9 dollars) do not fit, and the
 * pass must then group in SQL, in numeric.  The counts are 64-bit: 2^63
 * rows are not read in a pass.
 */
static bool
sums_add(Sums *to, const Sums *from)
{
	to->requests += from->requests;
	to->errors += from->errors;
	to->unpriced_requests += from->unpriced_requests;
	to->latency_count += from->latency_count;
	to->cost_scale = Max(to->cost_scale, from->cost_scale);
	return opsmeter_int128_add(&to->input_tokens, from->input_tokens) &&
		opsmeter_int128_add(&to->output_tokens, from->output_tokens) &&
		opsmeter_int128_add(&to->total_tokens, from->total_tokens) &&
		opsmeter_int128_add(&to->cached_input_tokens, from->cached_input_tokens) &&
		opsmeter_int128_add(&to->reasoning_tokens, from->reasoning_tokens) &&
		opsmeter_int128_add(&to->unpriced_tokens, from->unpriced_tokens) &&
		opsmeter_int128_add(&to->latency_sum_ms, from->latency_sum_ms) &&
		opsmeter_int128_add(&to->cost_units, from->cost_units);
}

/* Finds or makes the group of this key, and adds c to it; false: a sum overflowed. */
static bool
add_to_group(HTAB *table, MemoryContext cxt, const GroupKey *key, const Contribution *c, bool with_histogram)
{
	GroupEntry *g;
	bool		found;

	g = hash_search_with_hash_value(table, key, key->hash, HASH_ENTER, &found);
	if (!found)
	{
		g->key.first = opsmeter_label_copy(cxt, key->first);
		g->key.second = opsmeter_label_copy(cxt, key->second);
		memset(&g->sums, 0, sizeof(Sums));
		g->histogram = with_histogram ? opsmeter_histogram_new(cxt) : NULL;
	}
	if (!sums_add(&g->sums, &c->sums))
		return false;
	if (g->histogram != NULL && c->histogram != NULL)
		opsmeter_histogram_add_histogram(g->histogram, c->histogram);
	else if (g->histogram != NULL && c->latency_index >= 0 && c->sums.latency_count != 0)
		opsmeter_histogram_add_count(g->histogram, c->latency_index, c->sums.latency_count);
	return true;
}

static int128
int128_of(bool isnull, Datum bigint_value)
{
	return isnull ? 0 : (int128) DatumGetInt64(bigint_value);
}

/*
 * Decodes one contribution from its columns; false when its cost cannot be
 * summed exactly.  The labels point into the row (or are detoasted in the
 * current memory context).
 */
static bool
decode_contribution(const Datum *v, const bool *n, Contribution *c)
{
	if (n[C_WORKSPACE] || n[C_TS] || TIMESTAMP_NOT_FINITE(DatumGetTimestampTz(v[C_TS])))
		return false;
	c->adjustment_rows = !n[C_IS_ADJUSTMENT] && DatumGetBool(v[C_IS_ADJUSTMENT]) ? 1 : 0;
	c->raw_rows = 1 - c->adjustment_rows;
	c->histogram = NULL;
	c->workspace_id = DatumGetInt64(v[C_WORKSPACE]);
	c->ts = DatumGetTimestampTz(v[C_TS]);
	c->mode = v[C_MODE];
	c->environment = v[C_ENVIRONMENT];
	for (int i = 0; i < N_LABELS; i++)
		c->labels[i] = n[C_PROVIDER + i] ? NULL :
			(text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v[C_PROVIDER + i]));
	if (c->labels[0] == NULL || c->labels[1] == NULL)
		return false;			/* provider and model are never NULL in the tables */
	for (int i = 0; i < N_LABELS; i++)
		c->label_hashes[i] = opsmeter_label_hash(c->labels[i]);
	c->base_hash = hash_combine(hash_bytes_uint32((uint32) c->workspace_id),
								hash_bytes_uint32((uint32) (c->workspace_id >> 32)));
	c->base_hash = hash_combine(c->base_hash, hash_bytes_uint32(DatumGetObjectId(c->mode) ^
																 (DatumGetObjectId(c->environment) << 16)));
	c->sums.requests = n[C_REQUESTS] ? 0 : DatumGetInt32(v[C_REQUESTS]);
	c->sums.errors = n[C_ERRORS] ? 0 : DatumGetInt32(v[C_ERRORS]);
	c->sums.unpriced_requests = n[C_UNPRICED_REQUESTS] ? 0 : DatumGetInt32(v[C_UNPRICED_REQUESTS]);
	c->sums.latency_count = n[C_LATENCY_COUNT] ? 0 : DatumGetInt32(v[C_LATENCY_COUNT]);
	c->sums.input_tokens = int128_of(n[C_INPUT], v[C_INPUT]);
	c->sums.output_tokens = int128_of(n[C_OUTPUT], v[C_OUTPUT]);
	c->sums.total_tokens = int128_of(n[C_TOTAL], v[C_TOTAL]);
	c->sums.cached_input_tokens = int128_of(n[C_CACHED], v[C_CACHED]);
	c->sums.reasoning_tokens = int128_of(n[C_REASONING], v[C_REASONING]);
	c->sums.unpriced_tokens = int128_of(n[C_UNPRICED_TOKENS], v[C_UNPRICED_TOKENS]);
	c->sums.latency_sum_ms = int128_of(n[C_LATENCY_SUM], v[C_LATENCY_SUM]);
	c->sums.cost_units = 0;
	c->sums.cost_scale = 0;
	if (!n[C_COST] && !opsmeter_numeric_units(v[C_COST], COST_SCALE, &c->sums.cost_units, &c->sums.cost_scale))
		return false;
	c->latency_index = n[C_LATENCY_BUCKET] ? -1 : opsmeter_latency_bucket_index(DatumGetInt32(v[C_LATENCY_BUCKET]));
	return true;
}

static TimestampTz
floor_to(TimestampTz ts, int64 usecs)
{
	int64		r = ts % usecs;

	return r < 0 ? ts - r - usecs : ts - r;
}

/* The day's entry; a day not seen before is added to *fresh, its status unread. */
static DayEntry *
day_of(PendingGroups *groups, const Contribution *c, List **fresh)
{
	DayKey		key;
	DayEntry   *d;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.workspace_id = c->workspace_id;
	key.day = (DateADT) (floor_to(c->ts, USECS_PER_DAY) / USECS_PER_DAY);
	d = hash_search(groups->days, &key, HASH_ENTER, &found);
	if (!found)
	{
		d->requests = d->raw_rows = d->adjustment_rows = 0;
		d->status_read = d->summarized = d->detailed = false;
		*fresh = lappend(*fresh, d);
	}
	return d;
}

/*
 * Reads from rollup_days whether each fresh day was summarized and
 * detailed before this pass (a day without a row is neither): one
 * statement for all of them (one per day cost 30,000 statements on a first
 * pass over a month of 1,000 workspaces).
 */
static void
read_day_status(PendingGroups *groups, List *fresh)
{
	int			n = list_length(fresh);
	Datum	   *ws = palloc(sizeof(Datum) * n);
	Datum	   *days = palloc(sizeof(Datum) * n);
	Datum		args[2];
	ListCell   *lc;
	int			i = 0;

	foreach(lc, fresh)
	{
		DayEntry   *d = lfirst(lc);

		ws[i] = Int64GetDatum(d->key.workspace_id);
		days[i] = DateADTGetDatum(d->key.day);
		d->status_read = true;
		i++;
	}
	args[0] = PointerGetDatum(construct_array(ws, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(days, n, DATEOID, 4, true, TYPALIGN_INT));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "opsmeter: SPI_connect failed");
	if (SPI_execute_with_args(DAY_STATUS_SQL, 2, (Oid[]) {INT8ARRAYOID, DATEARRAYOID}, args, NULL, true, 0)
		!= SPI_OK_SELECT)
		elog(ERROR, "opsmeter: could not read the rollup status of the pending days");
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		HeapTuple	row = SPI_tuptable->vals[r];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DayKey		key;
		DayEntry   *d;
		bool		isnull;

		memset(&key, 0, sizeof(key));
		key.workspace_id = DatumGetInt64(SPI_getbinval(row, desc, 1, &isnull));
		key.day = DatumGetDateADT(SPI_getbinval(row, desc, 2, &isnull));
		d = hash_search(groups->days, &key, HASH_FIND, NULL);
		if (d == NULL)
			continue;
		d->summarized = DatumGetBool(SPI_getbinval(row, desc, 3, &isnull));
		d->detailed = d->summarized && DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));
	}
	SPI_finish();
	pfree(ws);
	pfree(days);
}

#define L_PROVIDER 0
#define L_MODEL 1
#define L_FIRST_KEYED (C_USER - C_PROVIDER)	/* user, tenant, endpoint, prompt version */

/* Adds c to its day and to its groups of both tiers; false: a sum overflowed. */
static bool
add_contribution(PendingGroups *groups, DayEntry *day, const Contribution *c)
{
	GroupKey	key;

	day->requests += c->sums.requests;
	day->raw_rows += c->raw_rows;
	day->adjustment_rows += c->adjustment_rows;
	if (day->summarized)
	{
		key = group_key('Q', DIM_OVERVIEW, c, floor_to(c->ts, QUARTER_USECS), L_PROVIDER, L_MODEL);
		if (!add_to_group(groups->quarters, groups->cxt, &key, c, true))
			return false;
	}
	if (day->detailed)
	{
		TimestampTz hour = floor_to(c->ts, USECS_PER_HOUR);

		key = group_key('H', DIM_OVERVIEW, c, hour, -1, -1);
		if (!add_to_group(groups->hours, groups->cxt, &key, c, true))
			return false;
		key = group_key('H', DIM_MODEL, c, hour, L_PROVIDER, L_MODEL);
		if (!add_to_group(groups->hours, groups->cxt, &key, c, false))
			return false;
		for (Dimension dim = DIM_USER; dim <= DIM_PROMPT_VERSION; dim++)
		{
			key = group_key('H', dim, c, hour, L_FIRST_KEYED + (dim - DIM_USER), -1);
			if (!add_to_group(groups->hours, groups->cxt, &key, c, false))
				return false;
		}
	}
	return true;
}

#endif							/* HAVE_INT128 */

static int64 *
int8_array_values(ArrayType *arr, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int64	   *values;

	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, n);
	values = palloc(sizeof(int64) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("batch lists of the rollup cannot hold NULL")));
		values[i] = DatumGetInt64(elems[i]);
	}
	return values;
}

#ifdef HAVE_INT128

/*
 * Receives the contributions straight from the executor (no copy of each
 * row into an SPI tuple table) and sums each into its fine group: one hash
 * probe a row.  A fine group is keyed by the labels its day's tiers need:
 * all six on a detailed day, provider and model on a summarized one, so a
 * label per event on a day that is not detailed does not make a group per
 * event; a row of a day only counted goes to its day alone.  A row of a day whose status
 * is not read yet is held, its labels copied, until the status of all such
 * days is read in one statement: after 64 held rows, then after twice as
 * many as the time before, up to HOLD_ROWS (so a pass of one day holds 64
 * rows, and one of 30,000 days reads their status in a few statements),
 * and at the end.  The fine groups are spread into the days and the groups of both
 * tiers at the end (spread_fine_groups()).  It stops the read as soon as
 * the sums cannot be exact or outgrow work_mem.
 */
#define HOLD_ROWS 10000

typedef struct GroupingReceiver
{
	DestReceiver pub;
	PendingGroups *groups;
	Size		limit;			/* bytes the sums may take (work_mem) */
	bool		exact;
	uint64		received;
	MemoryContext row_cxt;		/* what decoding a row allocates; reset often */
	MemoryContext fine_cxt;		/* the fine groups */
	HTAB	   *fine;
	MemoryContext held_cxt;		/* the held rows' labels and the fresh days' list */
	Contribution *held;
	DayEntry  **held_days;
	int			nheld;
	int			hold_limit;		/* rows held before the next status read */
	List	   *fresh;			/* days first seen since the last status read */
} GroupingReceiver;

static uint32
fine_key_hash(const void *key, Size keysize)
{
	return ((const FineKey *) key)->hash;
}

static int
fine_key_compare(const void *a, const void *b, Size keysize)
{
	const FineKey *x = a;
	const FineKey *y = b;

	if (x->hash != y->hash || x->workspace_id != y->workspace_id || x->quarter != y->quarter ||
		x->mode != y->mode || x->environment != y->environment)
		return 1;
	for (int i = 0; i < N_LABELS; i++)
		if (!opsmeter_label_equal(x->labels[i], y->labels[i]))
			return 1;
	return 0;
}

/*
 * Adds one decoded contribution of a day whose status is read to its fine
 * group; on a day only counted (not summarized), to the day alone: a group
 * per quarter there would make a group per event for small workspaces.
 */
static void
add_to_fine_group(GroupingReceiver *r, const Contribution *c, DayEntry *day)
{
	FineKey		key;
	FineGroup  *f;
	bool		found;
	uint32		h;

	if (!day->summarized)
	{
		add_contribution(r->groups, day, c);
		return;
	}
	memset(&key, 0, sizeof(key));
	key.workspace_id = c->workspace_id;
	key.quarter = floor_to(c->ts, QUARTER_USECS);
	key.mode = DatumGetObjectId(c->mode);
	key.environment = DatumGetObjectId(c->environment);
	h = hash_combine(c->base_hash, hash_bytes_uint32((uint32) (key.quarter / USECS_PER_MINUTE)));
	for (int i = 0; i < N_LABELS; i++)
	{
		bool		needed = i < L_FIRST_KEYED || day->detailed;

		key.labels[i] = needed ? c->labels[i] : NULL;
		h = hash_combine(h, needed ? c->label_hashes[i] : 0);
	}
	key.hash = h;
	f = hash_search_with_hash_value(r->fine, &key, h, HASH_ENTER, &found);
	if (!found)
	{
		f->sum = *c;
		f->sum.ts = key.quarter;
		for (int i = 0; i < N_LABELS; i++)
			f->key.labels[i] = f->sum.labels[i] = opsmeter_label_copy(r->fine_cxt, key.labels[i]);
		f->sum.latency_index = -1;
		f->sum.histogram = opsmeter_histogram_new(r->fine_cxt);
	}
	else
	{
		if (!sums_add(&f->sum.sums, &c->sums))
			r->exact = false;
		f->sum.raw_rows += c->raw_rows;
		f->sum.adjustment_rows += c->adjustment_rows;
	}
	if (c->latency_index >= 0 && c->sums.latency_count != 0)
		opsmeter_histogram_add_count(f->sum.histogram, c->latency_index, c->sums.latency_count);
}

/*
 * Spreads the fine groups into their days and into the groups of the tiers
 * their day has (every day's status has been read by now).
 */
static void
spread_fine_groups(GroupingReceiver *r)
{
	HASH_SEQ_STATUS seq;
	FineGroup  *f;
	List	   *fresh = NIL;

	hash_seq_init(&seq, r->fine);
	while ((f = hash_seq_search(&seq)) != NULL)
		if (!add_contribution(r->groups, day_of(r->groups, &f->sum, &fresh), &f->sum))
			r->exact = false;
	Assert(fresh == NIL);		/* every day was seen, and its status read */
}

/* Reads the status of the days seen since the last read, then sums the rows held for it. */
static void
add_held_rows(GroupingReceiver *r)
{
	if (r->fresh != NIL)
		read_day_status(r->groups, r->fresh);
	for (int i = 0; i < r->nheld; i++)
		add_to_fine_group(r, &r->held[i], r->held_days[i]);
	MemoryContextReset(r->held_cxt);
	r->fresh = NIL;
	r->nheld = 0;
}

static bool
receive_contribution(TupleTableSlot *slot, DestReceiver *self)
{
	GroupingReceiver *r = (GroupingReceiver *) self;
	MemoryContext old;
	Contribution c;
	DayEntry   *day;

	if ((++r->received & 1023) == 0)
	{
		MemoryContextReset(r->row_cxt);
		if (MemoryContextMemAllocated(r->fine_cxt, true) > r->limit)
			r->exact = false;
	}
	if (!r->exact)
		return false;
	slot_getallattrs(slot);
	old = MemoryContextSwitchTo(r->row_cxt);
	if (!decode_contribution(slot->tts_values, slot->tts_isnull, &c))
		r->exact = false;
	MemoryContextSwitchTo(old);
	if (!r->exact)
		return false;
	old = MemoryContextSwitchTo(r->held_cxt);
	day = day_of(r->groups, &c, &r->fresh);
	MemoryContextSwitchTo(old);
	if (day->status_read)
	{
		add_to_fine_group(r, &c, day);
		return true;
	}
	for (int i = 0; i < N_LABELS; i++)
		c.labels[i] = opsmeter_label_copy(r->held_cxt, c.labels[i]);
	r->held[r->nheld] = c;
	r->held_days[r->nheld] = day;
	if (++r->nheld >= r->hold_limit)
	{
		add_held_rows(r);
		r->hold_limit = Min(2 * r->hold_limit, HOLD_ROWS);
	}
	return true;
}

static void
receiver_startup(DestReceiver *self, int operation, TupleDesc desc)
{
	if (desc->natts != C_COLUMNS)
		elog(ERROR, "opsmeter: pending_contributions() has %d columns, expected %d", desc->natts, C_COLUMNS);
}

static void
receiver_nothing(DestReceiver *self)
{
}

#endif							/* HAVE_INT128 */

/*
 * opsmeter._group_pending(after_batch, upto_batch, also_batches,
 * except_batches) -> boolean: groups the contributions
 * pending_contributions() gives for these arguments (see the file comment);
 * false when the sums could not be kept exact within work_mem, and nothing
 * is kept.
 */
Datum
opsmeter_group_pending(PG_FUNCTION_ARGS)
{
#ifdef HAVE_INT128
	Oid			argtypes[4] = {INT8OID, INT8OID, INT8ARRAYOID, INT8ARRAYOID};
	MemoryContext cxt;
	MemoryContextCallback *forget;
	PendingGroups *groups;
	HASHCTL		ctl;
	SPIPlanPtr	plan;
	ParamListInfo params;
	GroupingReceiver receiver;
	SPIExecuteOptions options;

	for (int i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the batch bounds of the rollup cannot be NULL")));
	if (pending != NULL)
		MemoryContextDelete(pending->cxt);	/* its callback forgets it */

	/* Under the current (sub)transaction: an error frees it. */
	cxt = AllocSetContextCreate(CurTransactionContext, "opsmeter pending groups", ALLOCSET_DEFAULT_SIZES);
	groups = MemoryContextAllocZero(cxt, sizeof(PendingGroups));
	groups->cxt = cxt;
	groups->after_batch = PG_GETARG_INT64(0);
	groups->upto_batch = PG_GETARG_INT64(1);
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		groups->also = int8_array_values(PG_GETARG_ARRAYTYPE_P(2), &groups->nalso);
		groups->except = int8_array_values(PG_GETARG_ARRAYTYPE_P(3), &groups->nexcept);
		MemoryContextSwitchTo(old);
	}
	ctl.keysize = sizeof(DayKey);
	ctl.entrysize = sizeof(DayEntry);
	ctl.hcxt = cxt;
	groups->days = hash_create("opsmeter pending days", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	groups->quarters = group_table("opsmeter pending quarters", cxt);
	groups->hours = group_table("opsmeter pending hours", cxt);

	memset(&receiver, 0, sizeof(receiver));
	receiver.pub.receiveSlot = receive_contribution;
	receiver.pub.rStartup = receiver_startup;
	receiver.pub.rShutdown = receiver_nothing;
	receiver.pub.rDestroy = receiver_nothing;
	receiver.pub.mydest = DestNone;
	receiver.groups = groups;
	receiver.limit = (Size) work_mem * 1024;
	receiver.exact = true;
	receiver.row_cxt = AllocSetContextCreate(CurrentMemoryContext, "opsmeter contribution", ALLOCSET_SMALL_SIZES);
	receiver.fine_cxt = AllocSetContextCreate(CurrentMemoryContext, "opsmeter fine groups", ALLOCSET_DEFAULT_SIZES);
	{
		HASHCTL		fine_ctl;

		fine_ctl.keysize = sizeof(FineKey);
		fine_ctl.entrysize = sizeof(FineGroup);
		fine_ctl.hash = fine_key_hash;
		fine_ctl.match = fine_key_compare;
		fine_ctl.hcxt = receiver.fine_cxt;
		receiver.fine = hash_create("opsmeter fine groups", 1024, &fine_ctl,
									HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	}
	receiver.held_cxt = AllocSetContextCreate(CurrentMemoryContext, "opsmeter held contributions",
											  ALLOCSET_DEFAULT_SIZES);
	receiver.held = palloc(sizeof(Contribution) * HOLD_ROWS);
	receiver.hold_limit = 64;
	receiver.held_days = palloc(sizeof(DayEntry *) * HOLD_ROWS);

	params = makeParamList(4);
	params->numParams = 4;
	for (int i = 0; i < 4; i++)
	{
		params->params[i].value = PG_GETARG_DATUM(i);
		params->params[i].isnull = false;
		params->params[i].pflags = PARAM_FLAG_CONST;
		params->params[i].ptype = argtypes[i];
	}
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = &receiver.pub;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "opsmeter: SPI_connect failed");
	plan = SPI_prepare(CONTRIBUTIONS_SQL, 4, argtypes);
	if (plan == NULL)
		elog(ERROR, "opsmeter: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	if (SPI_execute_plan_extended(plan, &options) < 0)
		elog(ERROR, "opsmeter: could not read the pending contributions");
	SPI_finish();
	MemoryContextDelete(receiver.row_cxt);
	if (receiver.exact)
	{
		add_held_rows(&receiver);
		spread_fine_groups(&receiver);
	}
	MemoryContextDelete(receiver.held_cxt);
	MemoryContextDelete(receiver.fine_cxt);
	if (!receiver.exact || MemoryContextMemAllocated(cxt, true) > receiver.limit)
	{
		MemoryContextDelete(cxt);
		PG_RETURN_BOOL(false);
	}
	forget = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	forget->func = forget_pending;
	forget->arg = groups;
	MemoryContextRegisterResetCallback(cxt, forget);
	pending = groups;
	PG_RETURN_BOOL(true);
#else
	PG_RETURN_BOOL(false);		/* no exact 128-bit sums: SQL groups */
#endif
}

#ifdef HAVE_INT128

/* The kept sums, which must be those of these arguments. */
static PendingGroups *
pending_for(FunctionCallInfo fcinfo)
{
	int			nalso,
				nexcept;
	int64	   *also,
			   *except;

	if (pending == NULL || PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3) ||
		pending->after_batch != PG_GETARG_INT64(0) || pending->upto_batch != PG_GETARG_INT64(1))
		elog(ERROR, "opsmeter: no in-memory grouping of these batches (call opsmeter._group_pending() first)");
	also = int8_array_values(PG_GETARG_ARRAYTYPE_P(2), &nalso);
	except = int8_array_values(PG_GETARG_ARRAYTYPE_P(3), &nexcept);
	if (nalso != pending->nalso || nexcept != pending->nexcept ||
		memcmp(also, pending->also, sizeof(int64) * nalso) != 0 ||
		memcmp(except, pending->except, sizeof(int64) * nexcept) != 0)
		elog(ERROR, "opsmeter: no in-memory grouping of these batches (call opsmeter._group_pending() first)");
	return pending;
}

/*
 * The listed workspace-days (ws_list[i], day_list[i]), as a table of
 * DayKey -> DayEntry of the kept sums; each must be a day the build
 * grouped for the tier asked for, or the pass would miss its rows.
 */
static HTAB *
listed_days(PendingGroups *groups, ArrayType *ws_list, ArrayType *day_list, bool detailed)
{
	Datum	   *ws,
			   *days;
	bool	   *ws_nulls,
			   *day_nulls;
	int			nws,
				ndays;
	HASHCTL		ctl;
	HTAB	   *listed;

	deconstruct_array(ws_list, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &ws, &ws_nulls, &nws);
	deconstruct_array(day_list, DATEOID, 4, true, TYPALIGN_INT, &days, &day_nulls, &ndays);
	if (nws != ndays)
		elog(ERROR, "opsmeter: workspace and day lists differ in length");
	ctl.keysize = sizeof(DayKey);
	ctl.entrysize = sizeof(DayKey);
	ctl.hcxt = CurrentMemoryContext;
	listed = hash_create("opsmeter listed days", Max(nws, 16), &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (int i = 0; i < nws; i++)
	{
		DayKey		key;
		DayEntry   *d;

		if (ws_nulls[i] || day_nulls[i])
			continue;
		memset(&key, 0, sizeof(key));
		key.workspace_id = DatumGetInt64(ws[i]);
		key.day = DatumGetDateADT(days[i]);
		d = hash_search(groups->days, &key, HASH_FIND, NULL);
		if (d == NULL || !d->summarized || (detailed && !d->detailed))
			elog(ERROR, "opsmeter: workspace %lld, day %d was not grouped in memory as %s",
				 (long long) key.workspace_id, (int) key.day, detailed ? "detailed" : "summarized");
		hash_search(listed, &key, HASH_ENTER, NULL);
	}
	return listed;
}

/* the sums as the SQL grouping's columns, from requests to latency_sum_ms */
static int
put_sums(const Sums *s, Datum *v)
{
	int			i = 0;

	v[i++] = Int64GetDatum(s->requests);
	v[i++] = Int64GetDatum(s->errors);
	v[i++] = opsmeter_numeric_of_units(s->input_tokens, 0, 0);
	v[i++] = opsmeter_numeric_of_units(s->output_tokens, 0, 0);
	v[i++] = opsmeter_numeric_of_units(s->total_tokens, 0, 0);
	v[i++] = opsmeter_numeric_of_units(s->cached_input_tokens, 0, 0);
	v[i++] = opsmeter_numeric_of_units(s->reasoning_tokens, 0, 0);
	v[i++] = opsmeter_numeric_of_units(s->cost_units, COST_SCALE, s->cost_scale);
	v[i++] = Int64GetDatum(s->unpriced_requests);
	v[i++] = opsmeter_numeric_of_units(s->unpriced_tokens, 0, 0);
	v[i++] = Int64GetDatum(s->latency_count);
	v[i++] = opsmeter_numeric_of_units(s->latency_sum_ms, 0, 0);
	return i;
}

static bool
group_listed(HTAB *listed, const GroupEntry *g)
{
	DayKey		key;

	memset(&key, 0, sizeof(key));
	key.workspace_id = g->key.workspace_id;
	key.day = (DateADT) (floor_to(g->key.period_start, USECS_PER_DAY) / USECS_PER_DAY);
	return hash_search(listed, &key, HASH_FIND, NULL) != NULL;
}

#endif							/* HAVE_INT128 */

/*
 * opsmeter._grouped_days(after_batch, upto_batch, also_batches,
 * except_batches): what _pending_days() gives, from the kept sums.
 */
Datum
opsmeter_grouped_days(PG_FUNCTION_ARGS)
{
#ifdef HAVE_INT128
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PendingGroups *groups = pending_for(fcinfo);
	HASH_SEQ_STATUS seq;
	DayEntry   *d;

	InitMaterializedSRF(fcinfo, 0);
	hash_seq_init(&seq, groups->days);
	while ((d = hash_seq_search(&seq)) != NULL)
	{
		Datum		v[5] = {Int64GetDatum(d->key.workspace_id), DateADTGetDatum(d->key.day),
		Int64GetDatum(d->requests), Int64GetDatum(d->raw_rows), Int64GetDatum(d->adjustment_rows)};
		bool		n[5] = {false, false, false, false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
#else
	elog(ERROR, "opsmeter: no in-memory grouping without 128-bit integers");
#endif
}

#ifdef HAVE_INT128

/*
 * Returns the kept groups of one tier for the listed days (arguments 4 and
 * 5), in the columns of the SQL grouping they stand in for: tier 1
 * (_fold_quarters()) workspace, mode, environment, quarter, provider,
 * model; tier 2 (_fold_detail()'s hourly rows) workspace, dimension, hour,
 * mode, environment, provider, model, key; then the sums and, where the
 * group has one, the histogram.
 */
static Datum
return_groups(FunctionCallInfo fcinfo, bool hours)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PendingGroups *groups = pending_for(fcinfo);
	HTAB	   *listed = listed_days(groups, PG_GETARG_ARRAYTYPE_P(4), PG_GETARG_ARRAYTYPE_P(5), hours);
	HASH_SEQ_STATUS seq;
	GroupEntry *g;

	InitMaterializedSRF(fcinfo, 0);
	hash_seq_init(&seq, hours ? groups->hours : groups->quarters);
	while ((g = hash_seq_search(&seq)) != NULL)
	{
		Datum		v[21];
		bool		n[21];
		int			i = 0;
		bool		keyed = hours && g->key.dimension >= DIM_USER;	/* one label, the key */
		const text *provider = keyed ? NULL : g->key.first;
		const text *model = keyed ? NULL : g->key.second;
		const text *label = keyed ? g->key.first : NULL;

		if (!group_listed(listed, g))
			continue;
		memset(n, 0, sizeof(n));
		v[i++] = Int64GetDatum(g->key.workspace_id);
		if (hours)
		{
			v[i++] = CStringGetTextDatum(dimension_names[(int) g->key.dimension]);
			v[i++] = TimestampTzGetDatum(g->key.period_start);
		}
		v[i++] = ObjectIdGetDatum(g->key.mode);
		v[i++] = ObjectIdGetDatum(g->key.environment);
		if (!hours)
			v[i++] = TimestampTzGetDatum(g->key.period_start);
		n[i] = provider == NULL;
		v[i++] = PointerGetDatum(provider);
		n[i] = model == NULL;
		v[i++] = PointerGetDatum(model);
		if (hours)
		{
			n[i] = label == NULL;
			v[i++] = PointerGetDatum(label);
		}
		i += put_sums(&g->sums, v + i);
		n[i] = g->histogram == NULL;
		v[i++] = g->histogram ? opsmeter_histogram_result(g->histogram) : (Datum) 0;
		Assert(i == (hours ? 21 : 19));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, v, n);
	}
	return (Datum) 0;
}

#endif							/* HAVE_INT128 */

/*
 * opsmeter._grouped_quarters(after_batch, upto_batch, also_batches,
 * except_batches, ws_list, day_list): the tier-1 groups of the listed days.
 */
Datum
opsmeter_grouped_quarters(PG_FUNCTION_ARGS)
{
#ifdef HAVE_INT128
	return return_groups(fcinfo, false);
#else
	elog(ERROR, "opsmeter: no in-memory grouping without 128-bit integers");
#endif
}

/*
 * opsmeter._grouped_hours(after_batch, upto_batch, also_batches,
 * except_batches, ws_list, day_list): the tier-2 hourly groups of the
 * listed days.
 */
Datum
opsmeter_grouped_hours(PG_FUNCTION_ARGS)
{
#ifdef HAVE_INT128
	return return_groups(fcinfo, true);
#else
	elog(ERROR, "opsmeter: no in-memory grouping without 128-bit integers");
#endif
}
