/*
 * detail_sums.c — a list's detailed days, summed in memory.
 *
 * A model, user, tenant, endpoint or prompt-version list (facts(),
 * sql/install/09_analytics.sql) reads the hourly and daily summary rows of
 * its detailed days and the rows not rolled up yet (the pending raw rows
 * and adjustments).  Summed by SQL, a week's user list of 10,500 summary
 * rows and 20,000 pending rows spent more time in HashAggregate and
 * numeric sum() than in reading the rows.  Here one hash table keyed by
 * the labels (provider and model, or the one key) takes every row straight
 * from the executor (a DestReceiver, no tuple table) and keeps counts in
 * 64-bit and token and cost sums in 128-bit integers (exact_sums.h), so
 * each label's sums are those SQL's sum() gives, display scale included.
 *
 * The statements are built here from fixed text (only the label columns
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
 * Invariant (src/README.md, "A list's sums in memory"): the rows returned,
 * summed per label, equal SQL's sums over the same rows, as text.  Test:
 * sql/detail_sums.sql, on rows that exercise NULL labels, unpriced rows,
 * negative adjustments, costs of many display scales and values too large
 * for 64 bits, for a key list and the model list, and with a hash memory
 * too small for the groups.
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
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"

#include "catalog.h"
#include "exact_sums.h"
#include "label_keys.h"
#include "labels.h"

PG_FUNCTION_INFO_V1(opsmeter_detail_sums);

#define COST_UNIT_SCALE 24		/* costs in units of 10^-24 dollars */

/* where a statement's rows come from, which fixes its columns */
typedef enum Source
{
	SRC_SUMMARIES,				/* counts in bigint, token sums in numeric */
	SRC_EVENTS,					/* one raw row: is_error, token counts, cost (NULL: unpriced), latency_ms */
	SRC_ADJUSTMENTS,			/* counts in integer, token sums in bigint */
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

/*
 * The labels of each dimension read here: the summary columns and the raw
 * columns, first and second (NULL: none).  A model group has two labels,
 * the others one.
 */
typedef struct Labels
{
	const char *dimension;
	const char *summary_first,
			   *summary_second,
			   *raw_first,
			   *raw_second;
} Labels;

static const Labels dimension_labels[] = {
	{"model", "provider", "model", "provider", "model"},
	{"user", "key", NULL, "user_id", NULL},
	{"tenant", "key", NULL, "tenant_id", NULL},
	{"endpoint", "key", NULL, "endpoint_tag", NULL},
	{"prompt_version", "key", NULL, "prompt_version", NULL},
};

/* result columns */
enum
{
	R_PROVIDER, R_MODEL, R_KEY, R_REQUESTS, R_ERRORS, R_INPUT, R_OUTPUT, R_TOTAL, R_COST,
	R_UNPRICED_REQUESTS, R_UNPRICED_TOKENS, R_LATENCY_COUNT, R_LATENCY_SUM, R_COUNT
};

#ifdef HAVE_INT128

typedef struct KeyGroup
{
	uint32		hash;			/* the hash table's key: hash and labels */
	const text *labels[2];		/* NULL: unknown, or none */
	int64		requests,
				errors,
				unpriced_requests,
				latency_count,
				latency_sum_ms;
	ExactSum	input_tokens,
				output_tokens,
				total_tokens,
				unpriced_tokens,
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
	const KeyGroup *x = a;
	const KeyGroup *y = b;

	return x->hash == y->hash && opsmeter_label_equal(x->labels[0], y->labels[0]) &&
		opsmeter_label_equal(x->labels[1], y->labels[1]) ? 0 : 1;
}

/* the group of the row's two label columns (v[0], v[1]), made if new */
static KeyGroup *
group_of(SumReceiver *r, const Datum *v, const bool *n)
{
	KeyGroup	probe;
	KeyGroup   *g;
	bool		found;

	for (int i = 0; i < 2; i++)		/* a label stored compressed is compared by its text */
		probe.labels[i] = n[i] ? NULL : (const text *) pg_detoast_datum_packed((struct varlena *) DatumGetPointer(v[i]));
	probe.hash = hash_combine(opsmeter_label_hash(probe.labels[0]), opsmeter_label_hash(probe.labels[1]));
	g = hash_search_with_hash_value(r->groups, &probe, probe.hash, HASH_ENTER, &found);
	if (!found)
	{
		memset(g, 0, sizeof(KeyGroup));
		g->hash = probe.hash;
		g->labels[0] = opsmeter_label_copy(r->cxt, probe.labels[0]);
		g->labels[1] = opsmeter_label_copy(r->cxt, probe.labels[1]);
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
 * The columns of every statement start with the two labels.  Then, of a
 * summaries or adjustments row: requests, errors, input, output and total
 * tokens, cost, unpriced requests and tokens, latency count and sum
 * (counts in bigint and tokens in numeric for summaries, in integer and
 * bigint for adjustments).  Of a raw row: is_error, input, output and
 * total tokens, cost (NULL: unpriced), latency_ms (NULL: none).
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
	g = group_of(r, v, n);
	if (r->source == SRC_EVENTS)
	{
		g->requests++;
		g->errors += DatumGetBool(v[2]) ? 1 : 0;
		add_tokens(&g->input_tokens, n[3], v[3], false, r->cxt);
		add_tokens(&g->output_tokens, n[4], v[4], false, r->cxt);
		add_tokens(&g->total_tokens, n[5], v[5], false, r->cxt);
		if (!n[6])
			opsmeter_exact_sum_add(&g->cost_usd, v[6], COST_UNIT_SCALE, r->cxt);
		else
		{
			g->unpriced_requests++;
			add_tokens(&g->unpriced_tokens, n[5], v[5], false, r->cxt);
		}
		if (!n[7])
		{
			g->latency_count++;
			add_count(&g->latency_sum_ms, DatumGetInt32(v[7]));
		}
	}
	else
	{
		bool		summaries = r->source == SRC_SUMMARIES;

		add_count(&g->requests, summaries ? DatumGetInt64(v[2]) : DatumGetInt32(v[2]));
		add_count(&g->errors, summaries ? DatumGetInt64(v[3]) : DatumGetInt32(v[3]));
		add_tokens(&g->input_tokens, n[4], v[4], summaries, r->cxt);
		add_tokens(&g->output_tokens, n[5], v[5], summaries, r->cxt);
		add_tokens(&g->total_tokens, n[6], v[6], summaries, r->cxt);
		opsmeter_exact_sum_add(&g->cost_usd, v[7], COST_UNIT_SCALE, r->cxt);
		add_count(&g->unpriced_requests, summaries ? DatumGetInt64(v[8]) : DatumGetInt32(v[8]));
		add_tokens(&g->unpriced_tokens, n[9], v[9], summaries, r->cxt);
		add_count(&g->latency_count, summaries ? DatumGetInt64(v[10]) : DatumGetInt32(v[10]));
		add_count(&g->latency_sum_ms, DatumGetInt64(v[11]));
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
 * The labels a statement starts with: "x.first, x.second" for the sums in
 * memory (NULL::text where there is no second label); the result's
 * provider, model and key for the grouped SQL.
 */
static void
append_labels(StringInfo sql, bool grouped, char alias, const char *first, const char *second)
{
	if (!grouped)
		appendStringInfo(sql, "SELECT %c.%s, ", alias, first);
	else if (second == NULL)
		appendStringInfoString(sql, "SELECT NULL::text, NULL::text, ");
	else
		appendStringInfo(sql, "SELECT %c.%s, ", alias, first);
	if (second != NULL)
		appendStringInfo(sql, "%c.%s, ", alias, second);
	else if (!grouped)
		appendStringInfoString(sql, "NULL::text, ");
	else
		appendStringInfo(sql, "%c.%s, ", alias, first);
	if (grouped && second != NULL)
		appendStringInfoString(sql, "NULL::text, ");
}

/*
 * The sums of a summary or adjustment row (both tables have these columns),
 * in the order the receiver reads them: the columns themselves, or their
 * sums in the result's types for the grouped SQL.
 */
static void
append_summed_columns(StringInfo sql, bool grouped, char alias)
{
	static const struct
	{
		const char *name;
		bool		is_count;	/* summed as bigint, like the result's column */
	}			columns[] = {
		{"requests", true}, {"errors", true}, {"input_tokens", false},
		{"output_tokens", false}, {"total_tokens", false}, {"cost_usd", false},
		{"unpriced_requests", true}, {"unpriced_tokens", false},
		{"latency_count", true}, {"latency_sum_ms", true},
	};

	for (size_t c = 0; c < lengthof(columns); c++)
	{
		if (c > 0)
			appendStringInfoString(sql, ", ");
		if (grouped)
			appendStringInfo(sql, "sum(%c.%s)%s", alias, columns[c].name,
							 columns[c].is_count ? "::bigint" : "");
		else
			appendStringInfo(sql, "%c.%s", alias, columns[c].name);
	}
}

/*
 * The statement of one source: its rows (grouped = false), or its rows
 * grouped per label by SQL in the result's columns from requests on.
 */
static char *
statement(Source source, bool grouped, const Labels *labels, bool one_mode, bool every_environment,
		  bool day_test)
{
	StringInfoData sql;

	initStringInfo(&sql);
	switch (source)
	{
		case SRC_SUMMARIES:
			append_labels(&sql, grouped, 's', labels->summary_first, labels->summary_second);
			append_summed_columns(&sql, grouped, 's');
			/* hourly rows at both ends, daily rows between: one range scan each */
			appendStringInfo(&sql,
							 " FROM (VALUES ('hour'::opsmeter.summary_grain, $%d, $%d), ('day', $%d, $%d),"
							 "              ('hour', $%d, $%d)) r(grain, lo, hi)"
							 " JOIN opsmeter.summaries s ON s.workspace_id = $%d AND s.dimension = $%d"
							 "  AND s.grain = r.grain AND s.data_mode = ANY ($%d) AND s.environment = ANY ($%d)"
							 "  AND s.period_start >= r.lo AND s.period_start < r.hi",
							 P_H_FROM + 1, P_D_FROM + 1, P_D_FROM + 1, P_D_TO + 1, P_D_TO + 1, P_H_TO + 1,
							 P_WORKSPACE + 1, P_DIM + 1, P_MODES + 1, P_ENVS + 1);
			break;
		case SRC_EVENTS:
			append_labels(&sql, grouped, 'e', labels->raw_first, labels->raw_second);
			appendStringInfoString(&sql, grouped ?
								   "count(*), count(*) FILTER (WHERE e.is_error), sum(e.input_tokens), "
								   "sum(e.output_tokens), sum(e.total_tokens), sum(coalesce(e.cost_usd, 0)), "
								   "count(*) FILTER (WHERE e.cost_usd IS NULL), "
								   "coalesce(sum(e.total_tokens) FILTER (WHERE e.cost_usd IS NULL), 0), "
								   "count(e.latency_ms), coalesce(sum(e.latency_ms), 0)::bigint" :
								   "e.is_error, e.input_tokens, e.output_tokens, e.total_tokens, e.cost_usd, "
								   "e.latency_ms");
			/* both lower bounds are constants of the plan: both prune partitions */
			appendStringInfo(&sql,
							 " FROM opsmeter.events e WHERE e.workspace_id = $%d"
							 " AND e.ts >= $%d AND e.ts >= $%d AND e.ts < $%d"
							 " AND (e.ingest_batch > $%d OR e.ingest_batch = ANY ($%d))",
							 P_WORKSPACE + 1, P_LO + 1, P_PENDING_FROM + 1, P_HI + 1,
							 P_AFTER_BATCH + 1, P_HOLES + 1);
			append_filters(&sql, 'e', one_mode, every_environment, day_test);
			break;
		case SRC_ADJUSTMENTS:
			append_labels(&sql, grouped, 'a', labels->raw_first, labels->raw_second);
			append_summed_columns(&sql, grouped, 'a');
			/* adjustments are on any day of the window (pending_from is for raw rows) */
			appendStringInfo(&sql,
							 " FROM opsmeter.summary_adjustments a WHERE a.workspace_id = $%d"
							 " AND a.ts >= $%d AND a.ts < $%d"
							 " AND (a.ingest_batch > $%d OR a.ingest_batch = ANY ($%d))",
							 P_WORKSPACE + 1, P_LO + 1, P_HI + 1, P_AFTER_BATCH + 1, P_HOLES + 1);
			append_filters(&sql, 'a', one_mode, every_environment, day_test);
			break;
		case SRC_COUNT:
			break;
	}
	if (grouped)
		appendStringInfoString(&sql, " GROUP BY 1, 2, 3");
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
		elog(ERROR, "opsmeter: could not read the facts of a list");
	SPI_freeplan(plan);
}

/* whether the list holds every environment (labels.h: the enum's labels) */
static bool
every_environment_listed(ArrayType *list)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			distinct = 0;

	deconstruct_array(list, ARR_ELEMTYPE(list), sizeof(Oid), true, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		bool		seen = nulls[i];

		for (int j = 0; j < i && !seen; j++)
			seen = !nulls[j] && elems[j] == elems[i];
		if (!seen)
			distinct++;
	}
	return distinct == opsmeter_environment_set.nlabels;
}

#ifdef HAVE_INT128
static void
put_groups(HTAB *groups, bool two_labels, Tuplestorestate *store, TupleDesc desc)
{
	HASH_SEQ_STATUS seq;
	KeyGroup   *g;
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "opsmeter list row",
												  ALLOCSET_SMALL_SIZES);

	hash_seq_init(&seq, groups);
	while ((g = hash_seq_search(&seq)) != NULL)
	{
		Datum		v[R_COUNT];
		bool		n[R_COUNT] = {0};
		MemoryContext old = MemoryContextSwitchTo(row_cxt);

		/* two labels: provider and model; one: the key */
		for (int c = R_PROVIDER; c <= R_KEY; c++)
		{
			const text *label = c == R_KEY ? (two_labels ? NULL : g->labels[0])
				: (two_labels ? g->labels[c - R_PROVIDER] : NULL);

			v[c] = PointerGetDatum(label);
			n[c] = label == NULL;
		}
		v[R_REQUESTS] = Int64GetDatum(g->requests);
		v[R_ERRORS] = Int64GetDatum(g->errors);
		v[R_INPUT] = opsmeter_exact_sum_result(&g->input_tokens, 0);
		v[R_OUTPUT] = opsmeter_exact_sum_result(&g->output_tokens, 0);
		v[R_TOTAL] = opsmeter_exact_sum_result(&g->total_tokens, 0);
		v[R_COST] = opsmeter_exact_sum_result(&g->cost_usd, COST_UNIT_SCALE);
		v[R_UNPRICED_REQUESTS] = Int64GetDatum(g->unpriced_requests);
		v[R_UNPRICED_TOKENS] = opsmeter_exact_sum_result(&g->unpriced_tokens, 0);
		v[R_LATENCY_COUNT] = Int64GetDatum(g->latency_count);
		v[R_LATENCY_SUM] = Int64GetDatum(g->latency_sum_ms);
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
	const Labels *labels = NULL;
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

		for (size_t i = 0; i < lengthof(dimension_labels); i++)
			if (PG_GETARG_OID(A_DIM) == opsmeter_enum_value(dimension_type, dimension_labels[i].dimension))
				labels = &dimension_labels[i];
		if (labels == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("detail_sums() sums a model, user, tenant, endpoint or prompt-version list"),
					 errhint("The overview, which has a latency histogram, is read by facts() alone.")));
	}
	{
		ArrayType  *modes = PG_GETARG_ARRAYTYPE_P(A_MODES);

		/* "= ($n)[1]" is "= ANY ($n)" only for a list of one */
		one_mode = ARR_NDIM(modes) == 1 && ARR_DIMS(modes)[0] == 1 && ARR_LBOUND(modes)[0] == 1;
	}
	every_environment = every_environment_listed(PG_GETARG_ARRAYTYPE_P(A_ENVS));

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
											 "opsmeter list sums", ALLOCSET_DEFAULT_SIZES);
		ctl.keysize = sizeof(KeyGroup);
		ctl.entrysize = sizeof(KeyGroup);
		ctl.hash = key_group_hash;
		ctl.match = key_group_compare;
		ctl.hcxt = receiver.cxt;
		receiver.groups = hash_create("opsmeter list sums", 1024, &ctl,
									  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
		for (Source s = 0; s < SRC_COUNT && !receiver.overflowed; s++)
		{
			receiver.source = s;
			run_statement(statement(s, false, labels, one_mode, every_environment, day_test),
						  types, params, &receiver.pub);
		}
		in_memory = !receiver.overflowed;
		if (in_memory)
			put_groups(receiver.groups, labels->raw_second != NULL, rsinfo->setResult, rsinfo->setDesc);
		MemoryContextDelete(receiver.cxt);
	}
#endif
	if (!in_memory)
	{
		DestReceiver *store = CreateDestReceiver(DestTuplestore);

		elog(DEBUG1, "opsmeter: the sums of a list outgrew the hash memory (%zu kB): grouped by SQL",
			 get_hash_memory_limit() / 1024);

		SetTuplestoreDestReceiverParams(store, rsinfo->setResult, rsinfo->econtext->ecxt_per_query_memory,
										false, NULL, NULL);
		for (Source s = 0; s < SRC_COUNT; s++)
			run_statement(statement(s, true, labels, one_mode, every_environment, day_test),
						  types, params, store);
		store->rDestroy(store);
	}
	SPI_finish();
	PG_RETURN_NULL();
}
