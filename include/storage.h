/*
 * storage.h — writes validated events (storage.c): dedup keys, daily
 * partitions, multi-row insertion.  The invariant is in src/README.md
 * ("dedup").  Builds on catalog.h and event.h.
 */
#ifndef OPSMETER_STORAGE_H
#define OPSMETER_STORAGE_H

#include "postgres.h"
#include "utils/timestamp.h"

#include "event.h"

/* What the claim decided, for the write that follows it. */
typedef struct StoragePlan StoragePlan;

/* UTC day of a timestamp, as a date (days since 2000-01-01): its partition's day. */
extern int32 opsmeter_utc_day(TimestampTz ts);

/*
 * Where pending rows can be (src/README.md): a batch drawn at drawn_at
 * records in opsmeter.late_arrivals every day before this one that it
 * writes rows on.  The margin spares the rows of the last hour before a
 * UTC midnight, which arrive a little after it, from being late.
 */
#define OPSMETER_LATE_MARGIN USECS_PER_HOUR
extern int32 opsmeter_late_cutoff_day(TimestampTz drawn_at);

/*
 * Marks every duplicate among the events (within the call and against
 * stored rows of the workspace), and locks the partitions of the others
 * until commit.  The events must stay alive until the write.
 */
extern StoragePlan *opsmeter_storage_claim(int64 workspace_id, OpsEvent *events, int nevents);

/*
 * Writes the events the claim accepted, under one batch number, and
 * returns how many.
 */
extern int	opsmeter_storage_write(StoragePlan *plan, Oid ingested_by, TimestampTz ingested_at);

/*
 * The batches in flight: the published batch of every other transaction
 * (false: cannot tell right now).  Every batch <= the sequence's last value
 * read before the call that is not listed has ended.
 */
extern bool opsmeter_batches_in_flight(int64 **inflight, int *ninflight);

#endif							/* OPSMETER_STORAGE_H */
