/*
 * filters.c — what the analytics views and functions count: the session
 * filters (opsmeter.data_mode, opsmeter.environment), the reporting window
 * (opsmeter.range) and the latency buckets that make p95 mergeable.
 *
 * One parser serves both the GUC check hooks and the explicit arguments of
 * the function forms, so a list is accepted or refused the same way
 * everywhere.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "opsmeter.h"
#include "event.h"

PG_FUNCTION_INFO_V1(opsmeter_data_mode_filter);
PG_FUNCTION_INFO_V1(opsmeter_environment_filter);
PG_FUNCTION_INFO_V1(opsmeter_guc_range);
PG_FUNCTION_INFO_V1(opsmeter_latency_bucket);

static char *data_mode_guc = NULL;
static char *environment_guc = NULL;
static int	range_guc_min = 7 * 24 * 60;

typedef struct LabelSet
{
	const char *param;			/* "data_mode" or "environment" */
	const char *enum_type;		/* opsmeter.<enum_type> */
	const char *const *labels;
	int			nlabels;
	const char *hint;
} LabelSet;

static const LabelSet data_modes = {
	"data_mode", "data_mode", data_mode_labels, 3,
	"Use all, or a comma-separated list of: real, test, demo (default real)."
};
static const LabelSet environments = {
	"environment", "environment", environment_labels, 3,
	"Use all, or a comma-separated list of: prod, staging, dev (default all)."
};

/*
 * Parses "all" or a comma-separated list of labels (case-insensitive,
 * blanks ignored) into a bit set.  Returns false with the offending token
 * in *bad when something is not a label.
 */
static bool
parse_label_list(const LabelSet *set, const char *spec, uint32 *bits, char **bad)
{
	char	   *copy = pstrdup(spec);
	char	   *tok;
	char	   *save = NULL;

	*bits = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
	{
		char	   *end;
		int			i;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (pg_strcasecmp(tok, "all") == 0)
		{
			*bits |= (1u << set->nlabels) - 1;
			continue;
		}
		for (i = 0; i < set->nlabels; i++)
			if (pg_strcasecmp(tok, set->labels[i]) == 0)
				break;
		if (i == set->nlabels)
		{
			*bad = pstrdup(tok);
			return false;
		}
		*bits |= 1u << i;
	}
	if (*bits == 0)
	{
		*bad = pstrdup(spec);
		return false;
	}
	return true;
}

static bool
check_label_guc(const LabelSet *set, char **newval)
{
	uint32		bits;
	char	   *bad;

	if (parse_label_list(set, *newval, &bits, &bad))
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errmsg("invalid value for opsmeter.%s: \"%s\"", set->param, bad);
	GUC_check_errhint("%s", set->hint);
	return false;
}

static bool
check_data_mode(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&data_modes, newval);
}

static bool
check_environment(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&environments, newval);
}

void
filters_define_gucs(void)
{
	DefineCustomStringVariable("opsmeter.data_mode",
							   "Data modes the analytics views count: all, or a list of real, test, demo.",
							   "Views, exports and budget signals are real-only by default.",
							   &data_mode_guc,
							   "real",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_data_mode, NULL, NULL);

	DefineCustomStringVariable("opsmeter.environment",
							   "Environments the analytics views count: all, or a list of prod, staging, dev.",
							   NULL,
							   &environment_guc,
							   "all",
							   PGC_USERSET, GUC_LIST_INPUT,
							   check_environment, NULL, NULL);

	DefineCustomIntVariable("opsmeter.range",
							"Reporting window of the analytics views.",
							"Whole days mean the last N calendar days in the session time zone, today included; "
							"otherwise the last whole hours.",
							&range_guc_min,
							7 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_USERSET, GUC_UNIT_MIN,
							NULL, NULL, NULL);
}

/* spec NULL means the session's GUC; the answer is an array of the enum. */
static Datum
label_filter(const LabelSet *set, const char *spec)
{
	uint32		bits;
	char	   *bad;
	Oid			typid = opsmeter_typid(set->enum_type);
	Datum		elems[8];
	int			n = 0;

	if (!parse_label_list(set, spec, &bits, &bad))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s filter: \"%s\"", set->param, bad),
				 errhint("%s", set->hint)));
	for (int i = 0; i < set->nlabels; i++)
		if (bits & (1u << i))
			elems[n++] = ObjectIdGetDatum(opsmeter_enum_value(typid, set->labels[i]));
	return PointerGetDatum(construct_array(elems, n, typid, sizeof(Oid), true, TYPALIGN_INT));
}

/* opsmeter.data_mode_filter(spec text DEFAULT NULL) -> opsmeter.data_mode[] */
Datum
opsmeter_data_mode_filter(PG_FUNCTION_ARGS)
{
	return label_filter(&data_modes,
						PG_ARGISNULL(0) ? data_mode_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.environment_filter(spec text DEFAULT NULL) -> opsmeter.environment[] */
Datum
opsmeter_environment_filter(PG_FUNCTION_ARGS)
{
	return label_filter(&environments,
						PG_ARGISNULL(0) ? environment_guc : text_to_cstring(PG_GETARG_TEXT_PP(0)));
}

/* opsmeter.guc_range() -> interval: whole days as days, else minutes. */
Datum
opsmeter_guc_range(PG_FUNCTION_ARGS)
{
	Interval   *iv = palloc0(sizeof(Interval));

	if (range_guc_min % (24 * 60) == 0)
		iv->day = range_guc_min / (24 * 60);
	else
		iv->time = (int64) range_guc_min * USECS_PER_MINUTE;
	PG_RETURN_INTERVAL_P(iv);
}

/*
 * opsmeter.latency_bucket(ms int) -> int: the inclusive upper bound of the
 * histogram bucket holding ms.  Below 128 ms every millisecond is its own
 * bucket; above, each power of two is cut into 32 buckets, so a bucket is
 * at most 3.2% wide.  Summaries keep counts per bucket; a p95 read from
 * them is the same whether the rows are raw or rolled up.
 */
Datum
opsmeter_latency_bucket(PG_FUNCTION_ARGS)
{
	int32		ms = PG_GETARG_INT32(0);
	int			shift;
	int64		upper;

	if (ms < 128)
		PG_RETURN_INT32(ms);
	shift = 0;
	while ((ms >> shift) >= 64)
		shift++;
	/* now 32 <= ms >> shift < 64: 32 buckets of width 2^shift per octave */
	upper = ((((int64) ms >> shift) + 1) << shift) - 1;
	PG_RETURN_INT32((int32) Min(upper, (int64) PG_INT32_MAX));
}
