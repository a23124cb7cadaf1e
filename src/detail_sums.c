/*
 * detail_sums.c — a key list's detailed days, summed in memory.
 *
 * A user, tenant, endpoint or prompt-version list over detailed days
 * (facts(), sql/install/09_analytics.sql) reads two things: the hourly and
 * daily summary rows of the window, and the rows not rolled up yet (the
 * pending raw rows and adjustments).  Summed by SQL, a week's user list of
 * 10,500 summary rows and 20,000 pending rows spent more time in
 * HashAggregate and numeric sum() than in reading the rows.  Here one
 * hash table keyed by the label takes every row straight from the executor
 * (a DestReceiver, no tuple table) and keeps counts in 64-bit and token
 * and cost sums in 128-bit integers (exact_sums.h), so each key's
 * sums are those SQL's sum() gives, display scale included.
 *
 * The statements are built here from fixed text (only the label column
 * and which filters apply vary) and run as the caller: row-level security
 * applies to them exactly as to facts()'s own statements, so the function
 * reads nothing its caller could not read.
 *
 * When the groups outgrow the hash memory limit (work_mem times
 * hash_mem_multiplier), the sums built so far are dropped and the same
 * statements run again grouped by SQL, whose HashAggregate spills to disk:
 * a tenant with a label per request makes its own list slower, never wrong,
 * and never holds more memory than a query of its own could.
 *
 * Invariant (src/README.md, "A key list's sums in memory"): the rows
 * returned, summed per key, equal the grouped SQL of the same statements.
 * Test: sql/detail_sums.sql compares both, as text, on rows that exercise
 * NULL labels, unpriced rows, negative adjustments, costs of many display
 * scales and values too large for 64 bits, and with a hash memory too small
 * for the groups.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "executor/spi.h"
#include "executor/tstoreReceiver.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "exact_sums.h"

PG_FUNCTION_INFO_V1(opsmeter_detail_sums);

#define COST_UNIT_SCALE 24		/* costs in units of 10^-24 dollars */

/* where a statement's rows come from, which fixes its columns */
typedef enum Source
{
	SRC_SUMMARIES,				/* key, requests, errors, 3 token sums, cost, latency count and sum */
	SRC_EVENTS,					/* key, is_error, 3 token counts, cost (NULL: unpriced), latency_ms */
	SRC_ADJUSTMENTS,			/* as summaries, counts in integer and tokens in bigint */
	SRC_COUNT
} Source;

/* the arguments, in the SQL function's order */
enum
{
	A_DIM, A_WORKSPACE, A_H_FROM, A_D_FROM, A_D_TO, A_H_TO, A_LO, A_HI, A_PENDING_FROM,
	A_AFTER_BATCH, A_HOLES, A_DAYS, A_MODES, A_ENVS, A_COUNT
};

/* the statements' parameters */
enum
{
	P_WORKSPACE, P_H_FROM, P_D_FROM, P_D_TO, P_H_TO, P_DIM, P_LO, P_HI, P_PENDING_FROM,
	P_AFTER_BATCH, P_HOLES, P_DAYS, P_MODES, P_ENVS, P_COUNT
};

#ifdef HAVE_INT128

typedef struct KeyGroup
{
	uint32		hash;			/* the hash table's key: hash and label */
	const text *key;			/* NULL: unknown */
	int64		requests,
				errors,
				latency_count,
				latency_sum_ms;
	ExactSum	input_tokens,
				output_tokens,
				total_tokens,
				cost_usd;
} KeyGroup;

typedef struct SumReceiver
{
	DestReceiver pub;
	Source		source;
	HTAB	   *groups;
	MemoryContext cxt;			/* the groups and their labels */
	Size		limit;
	bool		overflowed;		/* the groups outgrew limit: the sums are incomplete */
	uint64		received;
} SumReceiver;

static uint32
key_group_hash(const void *key, Size keysize)
{
	return ((const KeyGroup *) key)->hash;
}

static int
key_group_compare(const void *a, const void *b, Size keysize)
{
	const text *x = ((const KeyGroup *) a)->key;
	const text *y = ((const KeyGroup *) b)->key;

	if (((const KeyGroup *) a)->hash != ((const KeyGroup *) b)->hash)
		return 1;
	if (x == NULL || y == NULL)
		return x == y ? 0 : 1;
	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0 ? 0 : 1;
}

static KeyGroup *
group_of(SumReceiver *r, bool isnull, Datum label)
{
	KeyGroup	probe;
	KeyGroup   *g;
	bool		found;

	probe.key = isnull ? NULL : (const text *) DatumGetPointer(label);
	probe.hash = probe.key == NULL ? 0x9e3779b9 :
		hash_bytes((const unsigned char *) VARDATA_ANY(probe.key), VARSIZE_ANY_EXHDR(probe.key));
	g = hash_search_with_hash_value(r->groups, &probe, probe.hash, HASH_ENTER, &found);
	if (!found)
	{
		text	   *copy = NULL;

		if (probe.key != NULL)
		{
			Size		len = VARSIZE_ANY_EXHDR(probe.key);

			copy = MemoryContextAlloc(r->cxt, VARHDRSZ + len);
			SET_VARSIZE(copy, VARHDRSZ + len);
			memcpy(VARDATA(copy), VARDATA_ANY(probe.key), len);
		}
		memset(g, 0, sizeof(KeyGroup));
		g->hash = probe.hash;
		g->key = copy;
	}
	return g;
}

static void
add_count(int64 *sum, int64 value)
{
	if (pg_add_s64_overflow(*sum, value, sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
}

static void
add_tokens(ExactSum *sum, bool isnull, Datum value, bool is_numeric, MemoryContext cxt)
{
	if (isnull)
		return;
	if (is_numeric)
		opsmeter_exact_sum_add(sum, value, 0, cxt);
	else
		opsmeter_exact_sum_add_int64(sum, DatumGetInt64(value), cxt);
}

/*
 * Columns of a summaries or adjustments row: key, requests, errors, input,
 * output and total tokens, cost, latency count and sum (counts in bigint
 * and tokens in numeric for summaries, in integer and bigint for
 * adjustments).  Of an events row: key, is_error, input, output and total
 * tokens, cost (NULL: unpriced), latency_ms (NULL: none).
 */
static bool
receive_row(TupleTableSlot *slot, DestReceiver *self)
{
	SumReceiver *r = (SumReceiver *) self;
	Datum	   *v;
	bool	   *n;
	KeyGroup   *g;

	slot_getallattrs(slot);
	v = slot->tts_values;
	n = slot->tts_isnull;
	g = group_of(r, n[0], v[0]);
	if (r->source == SRC_EVENTS)
	{
		g->requests++;
		g->errors += DatumGetBool(v[1]) ? 1 : 0;
		add_tokens(&g->input_tokens, n[2], v[2], false, r->cxt);
		add_tokens(&g->output_tokens, n[3], v[3], false, r->cxt);
		add_tokens(&g->total_tokens, n[4], v[4], false, r->cxt);
		if (!n[5])
			opsmeter_exact_sum_add(&g->cost_usd, v[5], COST_UNIT_SCALE, r->cxt);
		if (!n[6])
		{
			g->latency_count++;
			add_count(&g->latency_sum_ms, DatumGetInt32(v[6]));
		}
	}
	else
	{
		bool		summaries = r->source == SRC_SUMMARIES;

		add_count(&g->requests, summaries ? DatumGetInt64(v[1]) : DatumGetInt32(v[1]));
		add_count(&g->errors, summaries ? DatumGetInt64(v[2]) : DatumGetInt32(v[2]));
		add_tokens(&g->input_tokens, n[3], v[3], summaries, r->cxt);
		add_tokens(&g->output_tokens, n[4], v[4], summaries, r->cxt);
		add_tokens(&g->total_tokens, n[5], v[5], summaries, r->cxt);
		opsmeter_exact_sum_add(&g->cost_usd, v[6], COST_UNIT_SCALE, r->cxt);
		add_count(&g->latency_count, summaries ? DatumGetInt64(v[7]) : DatumGetInt32(v[7]));
		add_count(&g->latency_sum_ms, DatumGetInt64(v[8]));
	}
	if ((++r->received & 1023) == 0 && MemoryContextMemAllocated(r->cxt, true) > r->limit)
	{
		r->overflowed = true;
		return false;			/* stop the read: the statements run again grouped by SQL */
	}
	return true;
}

static void
receiver_startup(DestReceiver *self, int operation, TupleDesc desc)
{
}

static void
receiver_nothing(DestReceiver *self)
{
}

#endif							/* HAVE_INT128 */

/* the label column of each key dimension, by its enum label */
static const struct
{
	const char *dimension;
	const char *column;
}			label_columns[] = {
	{"user", "user_id"}, {"tenant", "tenant_id"}, {"endpoint", "endpoint_tag"},
	{"prompt_version", "prompt_version"}
};

/* the filters of the pending rows, each only where it can drop a row */
static void
append_filters(StringInfo sql, char alias, bool one_mode, bool every_environment, bool day_test)
{
	if (one_mode)
		appendStringInfo(sql, " AND %c.data_mode = ($%d)[1]", alias, P_MODES + 1);
	else
		appendStringInfo(sql, " AND %c.data_mode = ANY ($%d)", alias, P_MODES + 1);
	if (!every_environment)
		appendStringInfo(sql, " AND %c.environment = ANY ($%d)", alias, P_ENVS + 1);
	if (day_test)
		appendStringInfo(sql, " AND (%c.ts AT TIME ZONE 'UTC')::date = ANY ($%d)", alias, P_DAYS + 1);
}

/*
 * The statement of one source: its rows (grouped = false) or its rows
 * grouped per label by SQL, in the function's result columns.
 */
static char *
statement(Source source, bool grouped, const char *label, bool one_mode, bool every_environment, bool day_test)
{
	StringInfoData sql;

	initStringInfo(&sql);
	switch (source)
	{
		case SRC_SUMMARIES:
			appendStringInfoString(&sql, grouped ?
								   "SELECT s.key, sum(s.requests)::bigint, sum(s.errors)::bigint, sum(s.input_tokens), "
								   "sum(s.output_tokens), sum(s.total_tokens), sum(s.cost_usd), "
								   "sum(s.latency_count)::bigint, sum(s.latency_sum_ms)::bigint" :
								   "SELECT s.key, s.requests, s.errors, s.input_tokens, s.output_tokens, s.total_tokens, "
								   "s.cost_usd, s.latency_count, s.latency_sum_ms");
			/* hourly rows at both ends, daily rows between: one range scan each */
			appendStringInfo(&sql,
							 " FROM (VALUES ('hour'::opsmeter.summary_grain, $%d, $%d), ('day', $%d, $%d),"
							 "              ('hour', $%d, $%d)) r(grain, lo, hi)"
							 " JOIN opsmeter.summaries s ON s.workspace_id = $%d AND s.dimension = $%d"
							 "  AND s.grain = r.grain AND s.data_mode = ANY ($%d) AND s.environment = ANY ($%d)"
							 "  AND s.period_start >= r.lo AND s.period_start < r.hi",
							 P_H_FROM + 1, P_D_FROM + 1, P_D_FROM + 1, P_D_TO + 1, P_D_TO + 1, P_H_TO + 1,
							 P_WORKSPACE + 1, P_DIM + 1, P_MODES + 1, P_ENVS + 1);
			if (grouped)
				appendStringInfoString(&sql, " GROUP BY s.key");
			break;
		case SRC_EVENTS:
			if (grouped)
				appendStringInfo(&sql,
								 "SELECT e.%s, count(*), count(*) FILTER (WHERE e.is_error), sum(e.input_tokens), "
								 "sum(e.output_tokens), sum(e.total_tokens), sum(coalesce(e.cost_usd, 0)), "
								 "count(e.latency_ms), coalesce(sum(e.latency_ms), 0)::bigint", label);
			else
				appendStringInfo(&sql,
								 "SELECT e.%s, e.is_error, e.input_tokens, e.output_tokens, e.total_tokens, "
								 "e.cost_usd, e.latency_ms", label);
			/* both lower bounds are constants of the plan: both prune partitions */
			appendStringInfo(&sql,
							 " FROM opsmeter.events e WHERE e.workspace_id = $%d"
							 " AND e.ts >= $%d AND e.ts >= $%d AND e.ts < $%d"
							 " AND (e.ingest_batch > $%d OR e.ingest_batch = ANY ($%d))",
							 P_WORKSPACE + 1, P_LO + 1, P_PENDING_FROM + 1, P_HI + 1,
							 P_AFTER_BATCH + 1, P_HOLES + 1);
			append_filters(&sql, 'e', one_mode, every_environment, day_test);
			if (grouped)
				appendStringInfoString(&sql, " GROUP BY 1");
			break;
		case SRC_ADJUSTMENTS:
			if (grouped)
				appendStringInfo(&sql,
								 "SELECT a.%s, sum(a.requests)::bigint, sum(a.errors)::bigint, sum(a.input_tokens), "
								 "sum(a.output_tokens), sum(a.total_tokens), sum(a.cost_usd), "
								 "sum(a.latency_count)::bigint, sum(a.latency_sum_ms)::bigint", label);
			else
				appendStringInfo(&sql,
								 "SELECT a.%s, a.requests, a.errors, a.input_tokens, a.output_tokens, a.total_tokens, "
								 "a.cost_usd, a.latency_count, a.latency_sum_ms", label);
			/* adjustments are on any day of the window (pending_from is for raw rows) */
			appendStringInfo(&sql,
							 " FROM opsmeter.summary_adjustments a WHERE a.workspace_id = $%d"
							 " AND a.ts >= $%d AND a.ts < $%d"
							 " AND (a.ingest_batch > $%d OR a.ingest_batch = ANY ($%d))",
							 P_WORKSPACE + 1, P_LO + 1, P_HI + 1, P_AFTER_BATCH + 1, P_HOLES + 1);
			append_filters(&sql, 'a', one_mode, every_environment, day_test);
			if (grouped)
				appendStringInfoString(&sql, " GROUP BY 1");
			break;
		case SRC_COUNT:
			break;
	}
	return sql.data;
}

static void
run_statement(const char *sql, Oid *types, ParamListInfo params, DestReceiver *dest)
{
	SPIPlanPtr	plan;
	SPIExecuteOptions options;

	plan = SPI_prepare(sql, P_COUNT, types);
	if (plan == NULL)
		elog(ERROR, "opsmeter: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = true;
	options.dest = dest;
	if (SPI_execute_plan_extended(plan, &options) < 0)
		elog(ERROR, "opsmeter: could not read the facts of a key list");
	SPI_freeplan(plan);
}

/* whether the list holds every label of its enum type */
static bool
every_enum_label(ArrayType *list)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			distinct = 0;
	CatCList   *labels;
	int			total;

	deconstruct_array(list, ARR_ELEMTYPE(list), sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		bool		seen = nulls[i];

		for (int j = 0; j < i && !seen; j++)
			seen = !nulls[j] && elems[j] == elems[i];
		if (!seen)
			distinct++;
	}
	labels = SearchSysCacheList1(ENUMTYPOIDNAME, ObjectIdGetDatum(ARR_ELEMTYPE(list)));
	total = labels->n_members;
	ReleaseSysCacheList(labels);
	return distinct == total;
}

#ifdef HAVE_INT128
static void
put_groups(HTAB *groups, Tuplestorestate *store, TupleDesc desc)
{
	HASH_SEQ_STATUS seq;
	KeyGroup   *g;
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "opsmeter key list row",
												  ALLOCSET_SMALL_SIZES);

	hash_seq_init(&seq, groups);
	while ((g = hash_seq_search(&seq)) != NULL)
	{
		Datum		v[9];
		bool		n[9] = {0};
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		v[0] = PointerGetDatum(g->key);
		n[0] = g->key == NULL;
		v[1] = Int64GetDatum(g->requests);
		v[2] = Int64GetDatum(g->errors);
		v[3] = opsmeter_exact_sum_result(&g->input_tokens, 0);
		v[4] = opsmeter_exact_sum_result(&g->output_tokens, 0);
		v[5] = opsmeter_exact_sum_result(&g->total_tokens, 0);
		v[6] = opsmeter_exact_sum_result(&g->cost_usd, COST_UNIT_SCALE);
		v[7] = Int64GetDatum(g->latency_count);
		v[8] = Int64GetDatum(g->latency_sum_ms);
		tuplestore_putvalues(store, desc, v, n);
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_cxt);
	}
	MemoryContextDelete(row_cxt);
}
#endif

/*
 * opsmeter.detail_sums(dim, ws, h_from, d_from, d_to, h_to, lo, hi,
 * pending_from, after_batch, holes, days, modes, envs): the sums per label
 * of dim (user, tenant, endpoint or prompt_version) of
 *   - the summary rows of workspace ws: hourly in [h_from, d_from) and
 *     [d_to, h_to), daily in [d_from, d_to);
 *   - the pending raw rows of ws in [greatest(lo, pending_from), hi) and the
 *     pending adjustments in [lo, hi): batch above after_batch or in holes,
 *     on a UTC day of days (NULL: on any day);
 * all of a data mode in modes and an environment in envs.  Several rows
 * may carry one label (the caller sums them).
 */
Datum
opsmeter_detail_sums(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *label = NULL;
	Oid			types[P_COUNT];
	ParamListInfo params;
	bool		one_mode;
	bool		every_environment;
	bool		day_test = !PG_ARGISNULL(A_DAYS);
	static const int param_of_arg[A_COUNT] = {
		[A_DIM] = P_DIM, [A_WORKSPACE] = P_WORKSPACE, [A_H_FROM] = P_H_FROM, [A_D_FROM] = P_D_FROM,
		[A_D_TO] = P_D_TO, [A_H_TO] = P_H_TO, [A_LO] = P_LO, [A_HI] = P_HI,
		[A_PENDING_FROM] = P_PENDING_FROM, [A_AFTER_BATCH] = P_AFTER_BATCH, [A_HOLES] = P_HOLES,
		[A_DAYS] = P_DAYS, [A_MODES] = P_MODES, [A_ENVS] = P_ENVS
	};
	bool		in_memory;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(A_DIM) || PG_ARGISNULL(A_MODES) || PG_ARGISNULL(A_ENVS))
		PG_RETURN_NULL();		/* no row has a NULL dimension, mode or environment */
	{
		Oid			dimension_type = opsmeter_typid("summary_dimension");

		for (size_t i = 0; i < lengthof(label_columns); i++)
			if (PG_GETARG_OID(A_DIM) == opsmeter_enum_value(dimension_type, label_columns[i].dimension))
				label = label_columns[i].column;
		if (label == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("detail_sums() sums a user, tenant, endpoint or prompt-version list"),
					 errhint("The overview and the model list are read by facts() alone.")));
	}
	one_mode = ArrayGetNItems(ARR_NDIM(PG_GETARG_ARRAYTYPE_P(A_MODES)),
							  ARR_DIMS(PG_GETARG_ARRAYTYPE_P(A_MODES))) == 1;
	every_environment = every_enum_label(PG_GETARG_ARRAYTYPE_P(A_ENVS));

	params = makeParamList(P_COUNT);
	params->numParams = P_COUNT;
	for (int a = 0; a < A_COUNT; a++)
	{
		ParamExternData *p = &params->params[param_of_arg[a]];

		p->value = PG_GETARG_DATUM(a);
		p->isnull = PG_ARGISNULL(a);
		p->pflags = PARAM_FLAG_CONST;	/* planned as constants: partitions pruned at plan time */
		p->ptype = get_fn_expr_argtype(fcinfo->flinfo, a);
		if (!OidIsValid(p->ptype))
			elog(ERROR, "opsmeter: detail_sums() needs its argument types");
		types[param_of_arg[a]] = p->ptype;
	}

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "opsmeter: SPI_connect failed");
	in_memory = false;
#ifdef HAVE_INT128
	{
		SumReceiver receiver;
		HASHCTL		ctl;

		memset(&receiver, 0, sizeof(receiver));
		receiver.pub.receiveSlot = receive_row;
		receiver.pub.rStartup = receiver_startup;
		receiver.pub.rShutdown = receiver_nothing;
		receiver.pub.rDestroy = receiver_nothing;
		receiver.pub.mydest = DestNone;
		receiver.limit = get_hash_memory_limit();
		receiver.cxt = AllocSetContextCreate(rsinfo->econtext->ecxt_per_query_memory,
											 "opsmeter key list sums", ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(KeyGroup);
		ctl.entrysize = sizeof(KeyGroup);
		ctl.hash = key_group_hash;
		ctl.match = key_group_compare;
		ctl.hcxt = receiver.cxt;
		receiver.groups = hash_create("opsmeter key list sums", 1024, &ctl,
									  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		for (Source s = 0; s < SRC_COUNT && !receiver.overflowed; s++)
		{
			receiver.source = s;
			run_statement(statement(s, false, label, one_mode, every_environment, day_test),
						  types, params, &receiver.pub);
		}
		in_memory = !receiver.overflowed;
		if (in_memory)
			put_groups(receiver.groups, rsinfo->setResult, rsinfo->setDesc);
		MemoryContextDelete(receiver.cxt);
	}
#endif
	if (!in_memory)
	{
		DestReceiver *store = CreateDestReceiver(DestTuplestore);

		elog(DEBUG1, "opsmeter: the sums of a key list outgrew the hash memory (%zu kB): grouped by SQL",
			 get_hash_memory_limit() / 1024);

		SetTuplestoreDestReceiverParams(store, rsinfo->setResult, rsinfo->econtext->ecxt_per_query_memory,
										false, NULL, NULL);
		for (Source s = 0; s < SRC_COUNT; s++)
			run_statement(statement(s, true, label, one_mode, every_environment, day_test),
						  types, params, store);
		store->rDestroy(store);
	}
	SPI_finish();
	PG_RETURN_NULL();
}
