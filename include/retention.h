/*
 * retention.h — one rollup + retention pass (retention.c), for the worker
 * and opsmeter_run_retention().
 */
#ifndef OPSMETER_RETENTION_H
#define OPSMETER_RETENTION_H

#include "postgres.h"
#include "utils/jsonb.h"

/* One pass in the caller's transaction, recorded; returns its figures. */
extern Jsonb *opsmeter_retention_pass(const char *trigger);

#endif							/* OPSMETER_RETENTION_H */
