/*
 * labels.c — the labels of the SQL enums, and the parser of label lists
 * shared by the GUC check hooks and the explicit filter arguments, so a
 * list is accepted or refused the same way everywhere.
 */
#include "postgres.h"

#include "utils/guc.h"

#include "labels.h"

const char *const opsmeter_data_mode_labels[] = {"real", "test", "demo"};
const char *const opsmeter_environment_labels[] = {"prod", "staging", "dev"};
const char *const opsmeter_pricing_labels[] = {"catalog", "caller", "unpriced"};

const LabelSet opsmeter_data_mode_set = {
	"data_mode", "data_mode", opsmeter_data_mode_labels, 3,
	"Use all, or a comma-separated list of: real, test, demo (default real)."
};
const LabelSet opsmeter_environment_set = {
	"environment", "environment", opsmeter_environment_labels, 3,
	"Use all, or a comma-separated list of: prod, staging, dev (default all)."
};

bool
opsmeter_parse_label_list(const LabelSet *set, const char *spec, uint32 *bits, char **bad)
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

	if (opsmeter_parse_label_list(set, *newval, &bits, &bad))
		return true;
	GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
	GUC_check_errmsg("invalid value for opsmeter.%s: \"%s\"", set->param, bad);
	GUC_check_errhint("%s", set->hint);
	return false;
}

bool
opsmeter_check_data_mode_guc(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&opsmeter_data_mode_set, newval);
}

bool
opsmeter_check_environment_guc(char **newval, void **extra, GucSource source)
{
	return check_label_guc(&opsmeter_environment_set, newval);
}
