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

typedef struct IngestCall
{
	Oid			caller;
	WorkspaceRef ws;
	EventBounds bounds;
	bool		batch;			/* respond with the batch shape */
	OpsEvent   *events;
	int			nevents;
} IngestCall;

extern void ingest_begin(IngestCall *call, const char *funcname);
extern void ingest_check_batch_size(int nevents);
extern Jsonb *ingest_finish(IngestCall *call);

/* pricing.c */
extern void pricing_apply(OpsEvent *ev);

/* storage.c: marks duplicates, writes the rest; returns rows written. */
extern int	storage_write_events(IngestCall *call);

#endif							/* OPSMETER_INGEST_H */
