/*
 * ingest.h — the pipeline both entry points share:
 *   ingest_begin()   caller, workspace, rights, bounds       (before parsing)
 *   parser           payload -> OpsEvent[] via event.h
 *   ingest_finish()  price -> dedup + store -> response      (after parsing)
 */
#ifndef OPSMETER_INGEST_H
#define OPSMETER_INGEST_H

#include "opsmeter.h"
#include "event.h"

typedef struct StoragePlan StoragePlan;	/* storage.c's state between claim and write */

typedef struct IngestCall
{
	Oid			caller;
	WorkspaceRef ws;
	EventBounds bounds;
	bool		batch;			/* respond with the batch shape */
	bool		by_line;		/* NDJSON: also answer with line numbers */
	OpsEvent   *events;
	int			nevents;
	StoragePlan *storage;
	bool		budget_warning; /* set by budget_account() */
	bool		budget_exceeded;
} IngestCall;

extern void ingest_begin(IngestCall *call, const char *funcname);
extern void ingest_check_batch_size(int nevents);
extern void ingest_check_payload_size(size_t bytes);
extern Jsonb *ingest_finish(IngestCall *call);

/* pricing.c */
extern void pricing_apply(OpsEvent *ev);

/*
 * storage.c: storage_claim() marks every duplicate (within the call and
 * against stored rows) and locks the partitions; storage_write() then
 * writes the other events and returns how many.
 */
extern void storage_claim(IngestCall *call);
extern int32 utc_day(TimestampTz ts);
extern int	storage_write(IngestCall *call);

/*
 * budget.c: adds the stored events' real spend to the workspace's spend
 * counters and, when the workspace has a budget, sets the budget flags.
 */
extern void budget_account(IngestCall *call);

#endif							/* OPSMETER_INGEST_H */
