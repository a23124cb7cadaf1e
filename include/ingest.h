/*
 * ingest.h — the pipeline every entry point (ingest_jsonb.c,
 * ingest_ndjson.c, ingest_otlp.c) shares:
 *   opsmeter_ingest_begin()   caller, workspace, rights, bounds  (before parsing)
 *   parser                    payload -> OpsEvent[] via event.h
 *   opsmeter_ingest_finish()  dedup -> price -> store -> budgets -> response
 * Builds on guc.h, tenancy.h, event.h, pricing.h, storage.h and budget.h.
 */
#ifndef OPSMETER_INGEST_H
#define OPSMETER_INGEST_H

#include "postgres.h"
#include "utils/jsonb.h"

#include "budget.h"
#include "event.h"
#include "tenancy.h"

typedef struct IngestCall
{
	Oid			caller;
	WorkspaceRef ws;
	EventBounds bounds;
	bool		batch;			/* respond with the batch shape */
	bool		by_line;		/* NDJSON: also answer with line numbers */
	bool		by_span;		/* OTLP: also answer with span paths ... */
	int			skipped_spans;	/* ... and the spans that were not GenAI calls */
	OpsEvent   *events;
	int			nevents;
	BudgetFlags budget;			/* set by opsmeter_budget_account() */
} IngestCall;

extern void opsmeter_ingest_begin(IngestCall *call, const char *funcname);
extern void opsmeter_ingest_check_batch_size(int nevents);
extern void opsmeter_ingest_check_payload_size(size_t bytes);
extern Jsonb *opsmeter_ingest_finish(IngestCall *call);

#endif							/* OPSMETER_INGEST_H */
