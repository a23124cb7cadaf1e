/*
 * guc.h — every opsmeter.* setting.  guc.c is the one file that defines
 * them (DefineCustom*Variable); the others read the variables below.
 * Includes only labels.h, whose check hooks it installs.
 */
#ifndef OPSMETER_GUC_H
#define OPSMETER_GUC_H

#include "postgres.h"

/* Workspace, retention and ingest limits. */
extern char *opsmeter_workspace_guc;
extern int	opsmeter_raw_retention_min;
extern int	opsmeter_max_raw_retention_min;	/* ceiling of every raw retention */
extern int	opsmeter_key_generation_min;	/* age at which the open key generation is sealed */
extern int	opsmeter_key_generation_size_kb;	/* its index size at which it is sealed (0: age only) */
extern int	opsmeter_retention_runs_keep_min;	/* age at which a pass's record is deleted */
extern int	opsmeter_summary_retention_min;
extern int	opsmeter_max_batch_events;
extern int	opsmeter_max_payload_bytes;

/* The background worker. */
extern char *opsmeter_database;
extern char *opsmeter_worker_role;
extern bool opsmeter_worker_enabled;
extern int	opsmeter_worker_interval_s;
extern int	opsmeter_retention_lock_wait_ms;
extern int	opsmeter_summarize_day_rows;

/* Analytics: session filters (label lists, see labels.h) and the window. */
extern char *opsmeter_data_mode_guc;
extern char *opsmeter_environment_guc;
/* opsmeter.range, parsed (filters.c turns it into an interval) */
typedef enum OpsmeterRangeUnit
{
	OPSMETER_RANGE_UNSET,
	OPSMETER_RANGE_DAYS,
	OPSMETER_RANGE_HOURS,
	OPSMETER_RANGE_MINUTES
} OpsmeterRangeUnit;

typedef struct OpsmeterRange
{
	int32		amount;
	OpsmeterRangeUnit unit;
} OpsmeterRange;

extern char *opsmeter_range_guc;
extern OpsmeterRange opsmeter_range;

/* Defines every opsmeter.* setting and reserves the prefix; from _PG_init. */
extern void opsmeter_guc_init(void);

#endif							/* OPSMETER_GUC_H */
