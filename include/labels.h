/*
 * labels.h — the labels of opsmeter's SQL enums data_mode, environment and
 * pricing_source, in enum order, and the one parser of label lists
 * ("all", or "real, test") that the session filters use, both as GUCs
 * (the check hooks below, installed by guc.c) and as function arguments
 * (filters.c).  Includes no other opsmeter header.
 */
#ifndef OPSMETER_LABELS_H
#define OPSMETER_LABELS_H

#include "postgres.h"
#include "utils/guc.h"

/* Enum positions, in the order of the SQL enums. */
typedef enum DataMode { DM_REAL, DM_TEST, DM_DEMO } DataMode;
typedef enum Environment { ENV_PROD, ENV_STAGING, ENV_DEV } Environment;
typedef enum PricingSource { PRICING_CATALOG, PRICING_CALLER, PRICING_UNPRICED } PricingSource;

/* Labels, for responses, errors and enum lookups. */
extern const char *const opsmeter_data_mode_labels[];
extern const char *const opsmeter_environment_labels[];
extern const char *const opsmeter_pricing_labels[];

/* A filterable enum: its labels and how to talk about it in messages. */
typedef struct LabelSet
{
	const char *param;			/* "data_mode" or "environment" */
	const char *enum_type;		/* opsmeter.<enum_type> */
	const char *const *labels;
	int			nlabels;
	const char *hint;
} LabelSet;

extern const LabelSet opsmeter_data_mode_set;
extern const LabelSet opsmeter_environment_set;

/*
 * Parses "all" or a comma-separated list of labels (case-insensitive,
 * blanks ignored) into a bit set (bit i: labels[i]).  Returns false with
 * the offending token in *bad when something is not a label.
 */
extern bool opsmeter_parse_label_list(const LabelSet *set, const char *spec, uint32 *bits, char **bad);

/* GUC check hooks of opsmeter.data_mode and opsmeter.environment. */
extern bool opsmeter_check_data_mode_guc(char **newval, void **extra, GucSource source);
extern bool opsmeter_check_environment_guc(char **newval, void **extra, GucSource source);

#endif							/* OPSMETER_LABELS_H */
