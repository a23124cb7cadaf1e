/*
 * storage.c — writes validated events: dedup keys, daily partitions, and
 * multi-row insertion of the raw rows.  See src/README.md ("dedup") for the
 * invariant: a row exists in opsmeter.events only if its key was inserted
 * into opsmeter.request_keys by the same transaction.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/heapam.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "compat.h"
#include "key_filter.h"
#include "storage.h"

/*
 * Tuples handed to table_multi_insert at once.  COPY buffers up to 1000;
 * fewer slots here keep each call's memory (slots are built per call) small
 * with no measurable loss per tuple.
 */
#define MULTI_INSERT_TUPLES 256

/* Columns of opsmeter.events this code writes, found by name per partition. */
typedef enum EventColumn
{
	COL_WORKSPACE_ID,
	COL_TS,
	COL_INGEST_BATCH,
	COL_INPUT_TOKENS,
	COL_OUTPUT_TOKENS,
	COL_TOTAL_TOKENS,
	COL_CACHED_INPUT_TOKENS,
	COL_REASONING_TOKENS,
	COL_LATENCY_MS,
	COL_IS_ERROR,
	COL_DATA_MODE,
	COL_ENVIRONMENT,
	COL_PRICING,
	COL_INGESTED_BY,
	COL_INGESTED_AT,
	COL_EXTERNAL_REQUEST_ID,
	COL_PROVIDER,
	COL_MODEL,
	COL_COST_USD,
	COL_ERROR_CODE,
	COL_PROMPT_VERSION,
	COL_ENDPOINT_TAG,
	COL_USER_ID,
	COL_TENANT_ID,
	COL_METADATA,
	NUM_EVENT_COLUMNS
} EventColumn;

static const char *const column_names[NUM_EVENT_COLUMNS] = {
	"workspace_id", "ts", "ingest_batch", "input_tokens", "output_tokens",
	"total_tokens", "cached_input_tokens", "reasoning_tokens", "latency_ms",
	"is_error", "data_mode", "environment", "pricing", "ingested_by",
	"ingested_at", "external_request_id", "provider", "model", "cost_usd",
	"error_code", "prompt_version", "endpoint_tag", "user_id", "tenant_id",
	"metadata",
};

/* Enum value OIDs of the opsmeter types, looked up once per call. */
typedef struct EnumValues
{
	Oid			data_mode[3];
	Oid			environment[3];
	Oid			pricing[3];
} EnumValues;

static SPIPlanPtr insert_keys_plan = NULL;	/* into insert_keys_table */
static Oid	insert_keys_table = InvalidOid;

struct StoragePlan
{
	int64		workspace_id;
	OpsEvent   *events;			/* the call's events; duplicates get marked */
	int			nevents;
	Oid			ingested_by;	/* set by opsmeter_storage_write() */
	TimestampTz ingested_at;
	int		   *order;			/* accepted events, by request id */
	int			accepted;
	int32	   *days;			/* per event: UTC day */
	Oid		   *relids;			/* per event: its locked partition */
};

/* See storage.h. */
int32
opsmeter_utc_day(TimestampTz ts)
{
	int64		day = ts / USECS_PER_DAY;

	if (ts < 0 && ts % USECS_PER_DAY != 0)
		day--;
	return (int32) day;
}

static void
partition_name(int32 day, char *buf, size_t len)
{
	int			y,
				m,
				d;

	j2date(day + POSTGRES_EPOCH_JDATE, &y, &m, &d);
	snprintf(buf, len, "events_p%04d%02d%02d", y, m, d);
}

/* Creates the partition for a day (as the owner; serialized in SQL). */
static void
create_partition(int32 day)
{
	OwnerSwitch sw;
	Oid			argtypes[1] = {DATEOID};
	Datum		args[1] = {DateADTGetDatum(day)};

	opsmeter_become_owner(&sw);
	SPI_connect();
	if (SPI_execute_with_args("SELECT opsmeter.ensure_partitions($1, $1)",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "opsmeter.ensure_partitions failed");
	SPI_finish();
	opsmeter_restore_user(&sw);
}

/*
 * The partition for a day, created if missing and locked RowExclusive, so
 * retention cannot drop it before this transaction ends.
 */
static Oid
lock_partition_for_day(int32 day)
{
	char		name[NAMEDATALEN];
	Oid			nsp = opsmeter_schema_oid();

	partition_name(day, name, sizeof(name));
	for (int attempt = 0; attempt < 3; attempt++)
	{
		Oid			relid = get_relname_relid(name, nsp);

		if (!OidIsValid(relid))
		{
			create_partition(day);
			continue;
		}
		LockRelationOid(relid, RowExclusiveLock);
		if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			return relid;
		UnlockRelationOid(relid, RowExclusiveLock);	/* dropped meanwhile */
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not find or create partition opsmeter.%s", name),
			 errhint("A retention pass may be dropping it; retry the call.")));
}

static int
compare_by_request_id(const void *a, const void *b, void *arg)
{
	const OpsEvent *events = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;
	int			c = strcmp(events[ia].external_request_id, events[ib].external_request_id);

	return c != 0 ? c : (ia > ib) - (ia < ib);
}

static int
compare_by_day(const void *a, const void *b, void *arg)
{
	const int32 *days = arg;
	int			ia = *(const int *) a,
				ib = *(const int *) b;

	if (days[ia] != days[ib])
		return days[ia] < days[ib] ? -1 : 1;
	return (ia > ib) - (ia < ib);
}

/*
 * Marks every repeat of an externalRequestId within the call as a
 * duplicate (the first occurrence wins); leaves the first occurrences in
 * order[0..return), sorted by request id.
 */
static int
drop_repeats_within_call(OpsEvent *events, int n, int *order)
{
	int			kept = 0;
	const char *prev = NULL;

	for (int i = 0; i < n; i++)
		order[i] = i;
	if (n > 1)
		qsort_arg(order, n, sizeof(int), compare_by_request_id, events);
	for (int k = 0; k < n; k++)
	{
		OpsEvent   *ev = &events[order[k]];

		if (prev != NULL && strcmp(prev, ev->external_request_id) == 0)
			ev->duplicate = true;
		else
			order[kept++] = order[k];
		prev = ev->external_request_id;
	}
	return kept;
}

static int
find_by_request_id(const OpsEvent *events, const int *order, int n, const char *id)
{
	int			lo = 0,
				hi = n - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;
		int			c = strcmp(events[order[mid]].external_request_id, id);

		if (c == 0)
			return order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Multi-row insertion into one table, as COPY does: slots filled by the
 * caller go to table_multi_insert, then index entries per tuple.
 */
typedef struct BulkWriter
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	BulkInsertState bistate;	/* NULL for one row, as catalog inserts pass */
	CommandId	cid;
	TupleTableSlot **slots;
	int			nslots;
} BulkWriter;

static void
bulk_begin(BulkWriter *w, Relation rel, int rows)
{
	w->rel = rel;
	w->estate = CreateExecutorState();
	w->rri = makeNode(ResultRelInfo);
	/*
	 * A bulk-insert state keeps the target page pinned across tuples and sets
	 * up a 16 MB ring of buffers; for the single row of a one-event call it
	 * only costs its setup (1.3% of the ingest function's profile samples).
	 */
	w->bistate = rows > 1 ? GetBulkInsertState() : NULL;
	w->cid = GetCurrentCommandId(true);
	w->nslots = Min(rows, MULTI_INSERT_TUPLES);
	w->slots = palloc(sizeof(TupleTableSlot *) * w->nslots);
	InitResultRelInfo(w->rri, rel, 1, NULL, 0);
	ExecOpenIndices(w->rri, false);
	for (int s = 0; s < w->nslots; s++)
		w->slots[s] = MakeSingleTupleTableSlot(RelationGetDescr(rel), table_slot_callbacks(rel));
}

/*
 * Writes slots[0..m) and their index entries.  With partial_unique, a
 * unique index reports a possible conflict instead of waiting or raising:
 * conflicted[s] is set for those tuples (see claim_keys_directly).
 */
static void
bulk_write(BulkWriter *w, int m, bool partial_unique, bool *conflicted)
{
	table_multi_insert(w->rel, w->slots, m, w->cid, 0, w->bistate);
	for (int s = 0; s < m; s++)
	{
		List	   *conflicts;
		bool		spec_conflict = false;

		ResetPerTupleExprContext(w->estate);
		conflicts = opsmeter_insert_index_tuples(w->rri, w->slots[s], w->estate, partial_unique,
												 &spec_conflict);
		if (conflicted)
			conflicted[s] = (conflicts != NIL);
	}
}

static void
bulk_end(BulkWriter *w)
{
	for (int s = 0; s < w->nslots; s++)
		ExecDropSingleTupleTableSlot(w->slots[s]);
	if (w->bistate != NULL)
		FreeBulkInsertState(w->bistate);
	ExecCloseIndices(w->rri);
	FreeExecutorState(w->estate);
}

/*
 * Generations of dedup keys (src/README.md, "dedup"): the partitions of
 * opsmeter.request_keys, cached per backend, oldest first, the last one
 * open.  The cache is dropped when opsmeter.key_generations changes: its
 * statement trigger sends a relcache invalidation, which this backend
 * processes at latest when it next locks a generation it did not hold.
 */
typedef struct KeyGeneration
{
	int32		number;
	Oid			relid;
	Oid			index_relid;	/* its unique (workspace_id, external_request_id) */
	ItemPointerData row;		/* its row of opsmeter.key_generations */
	bytea	   *filter_copy;	/* its key filter as stored (TopMemoryContext), or NULL */
	KeyFilter	filter;			/* read from filter_copy */
} KeyGeneration;

static KeyGeneration *generations = NULL;	/* TopMemoryContext */
static int	ngenerations = 0;
static bool generations_open = false;	/* the last one takes new keys */
static bool generations_valid = false;
static bool generations_loading = false;	/* a load that raised leaves it set */
static bool generations_callback_registered = false;
static Oid	generations_table = InvalidOid;

static void
generations_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == generations_table)
		generations_valid = false;
}

/* Trigger on opsmeter.key_generations: every backend reloads the list. */
PG_FUNCTION_INFO_V1(opsmeter_key_generations_changed);
Datum
opsmeter_key_generations_changed(PG_FUNCTION_ARGS)
{
	return opsmeter_announce_table_change(fcinfo, "opsmeter_key_generations_changed");
}

static int
compare_generations(const void *a, const void *b)
{
	int32		x = ((const KeyGeneration *) a)->number,
				y = ((const KeyGeneration *) b)->number;

	return (x > y) - (x < y);
}

/* Frees the filters of a list that no entry of keep (may be NULL) shares. */
static void
free_filters(KeyGeneration *list, int n, const KeyGeneration *keep, int nkeep)
{
	for (int g = 0; g < n; g++)
	{
		bool		shared = false;

		if (list[g].filter_copy == NULL)
			continue;
		for (int k = 0; k < nkeep && !shared; k++)
			shared = keep[k].filter_copy == list[g].filter_copy;
		if (!shared)
			pfree(list[g].filter_copy);
	}
}

/*
 * Filters one backend keeps, in bytes: about 1.5 bytes per retained key.
 * Past it, a generation is looked up for every key, as without a filter
 * (src/README.md, "Key filters").
 */
#define KEY_FILTER_CACHE_BYTES (64 * 1024 * 1024)

/*
 * The filter of one listed generation: the cached one when the same row
 * version listed the same table before (building a filter or merging
 * updates the row; a merged generation is also a new table), else the
 * stored one, copied.
 */
static void
attach_filter(KeyGeneration *entry, TupleTableSlot *slot, AttrNumber filter_att, Size *cached_bytes)
{
	bool		isnull;
	Datum		stored;
	bytea	   *copy;
	MemoryContext old_context;

	entry->filter_copy = NULL;
	entry->row = slot->tts_tid;
	for (int g = 0; g < ngenerations; g++)
		if (generations[g].relid == entry->relid && generations[g].filter_copy != NULL &&
			ItemPointerEquals(&generations[g].row, &entry->row))
		{
			entry->filter_copy = generations[g].filter_copy;
			entry->filter = generations[g].filter;
			*cached_bytes += VARSIZE(entry->filter_copy);
			return;
		}
	if (filter_att == InvalidAttrNumber)
		return;
	stored = slot_getattr(slot, filter_att, &isnull);
	if (isnull || *cached_bytes + toast_raw_datum_size(stored) > KEY_FILTER_CACHE_BYTES)
		return;
	old_context = MemoryContextSwitchTo(TopMemoryContext);
	copy = (bytea *) pg_detoast_datum_copy((struct varlena *) DatumGetPointer(stored));	/* 4-byte header */
	MemoryContextSwitchTo(old_context);
	if (opsmeter_key_filter_read(copy, &entry->filter))
	{
		entry->filter_copy = copy;
		*cached_bytes += VARSIZE(copy);
	}
	else
		pfree(copy);			/* not one this build wrote: look the keys up */
}

/*
 * The table of generation number (as opsmeter.key_generation_name() names
 * it), with suffix appended ("" or "_key", its unique index).
 */
static void
generation_relname(char *name, int32 number, const char *suffix)
{
	snprintf(name, NAMEDATALEN, "request_keys_g%06d%s", number, suffix);
}

/* Replaces the cached list (list allocated in TopMemoryContext). */
static void
set_generations(KeyGeneration *list, int n, bool open)
{
	if (generations != NULL)
	{
		free_filters(generations, ngenerations, list, n);
		pfree(generations);
	}
	generations = list;
	ngenerations = n;
	generations_open = open;
}

/*
 * Reads opsmeter.key_generations with the latest snapshot, not the
 * transaction's: under REPEATABLE READ a generation sealed after the
 * transaction began must not look open to it.
 */
static void
load_generations(void)
{
	Oid			nsp = opsmeter_schema_oid();
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	Snapshot	snap;
	int			n = 0,
				cap = 8;
	KeyGeneration *list;
	int32		open_number = -1;
	int			missing = -1;
	AttrNumber	filter_att;
	Size		cached_bytes = 0;

	if (!generations_callback_registered)
	{
		CacheRegisterRelcacheCallback(generations_relcache_callback, (Datum) 0);
		generations_callback_registered = true;
	}
	generations_loading = true;
	generations_valid = false;
	generations_table = get_relname_relid("key_generations", nsp);
	if (!OidIsValid(generations_table))
	{
		/*
		 * The 0.1.0 schema, until ALTER EXTENSION UPDATE: one table of keys,
		 * written like an open generation (number 0, no generation column).
		 * Its rename by the update invalidates this.
		 */
		Oid			table = opsmeter_relid("request_keys");
		Oid			index = opsmeter_relid("request_keys_pkey");

		list = MemoryContextAllocZero(TopMemoryContext, sizeof(KeyGeneration));
		list[0].number = 0;
		list[0].relid = table;
		list[0].index_relid = index;
		set_generations(list, 1, true);
		generations_table = table;
		generations_valid = true;
		generations_loading = false;
		return;
	}

	/* Valid from here on: an invalidation while we read marks it stale again. */
	generations_valid = true;
	list = MemoryContextAlloc(TopMemoryContext, sizeof(KeyGeneration) * cap);
	filter_att = get_attnum(generations_table, "key_filter");
	rel = table_open(generations_table, AccessShareLock);
	snap = RegisterSnapshot(GetLatestSnapshot());
	scan = table_beginscan(rel, snap, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		int32		number = DatumGetInt32(slot_getattr(slot, 1, &isnull));
		char		name[NAMEDATALEN];

		(void) slot_getattr(slot, 3, &isnull);	/* sealed_at */
		if (isnull)
			open_number = number;
		if (n == cap)
		{
			cap *= 2;
			list = repalloc(list, sizeof(KeyGeneration) * cap);
		}
		list[n].number = number;
		generation_relname(name, number, "");
		list[n].relid = get_relname_relid(name, nsp);
		generation_relname(name, number, "_key");
		list[n].index_relid = get_relname_relid(name, nsp);
		if (missing < 0 && (!OidIsValid(list[n].relid) || !OidIsValid(list[n].index_relid)))
			missing = number;
		attach_filter(&list[n], slot, number == open_number ? InvalidAttrNumber : filter_att, &cached_bytes);
		n++;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snap);
	table_close(rel, AccessShareLock);
	qsort(list, n, sizeof(KeyGeneration), compare_generations);
	if (missing >= 0 || (open_number >= 0 && list[n - 1].number != open_number))
	{
		generations_valid = false;
		free_filters(list, n, generations, ngenerations);
		pfree(list);
		if (missing >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("dedup key generation %d has no table opsmeter.request_keys_g%06d with its unique index",
							missing, missing),
					 errhint("opsmeter.key_generations lists a generation whose table is gone; "
							 "restore it, or delete the generation's row if its keys are no longer needed.")));
		/* opsmeter._open_key_generation() opens only the newest */
		elog(ERROR, "dedup key generation %d is open but not the newest", open_number);
	}
	set_generations(list, n, open_number >= 0);
	generations_loading = false;
}

/*
 * Opens the first generation of keys (as the owner), when no retention pass
 * has yet.  Openers take turns on the lock, which they hold to commit; the
 * list is read again under it with the latest snapshot, so a REPEATABLE
 * READ transaction sees a generation another opener committed meanwhile.
 */
static void
open_first_generation(void)
{
	OwnerSwitch sw;

	LockRelationOid(opsmeter_relid("key_generations"), ExclusiveLock);
	load_generations();
	if (generations_open)
		return;
	opsmeter_become_owner(&sw);
	SPI_connect();
	if (SPI_execute("SELECT opsmeter._open_key_generation(false)", false, 0) != SPI_OK_SELECT)
		elog(ERROR, "opsmeter._open_key_generation failed");
	SPI_finish();
	opsmeter_restore_user(&sw);
	generations_valid = false;	/* our own change: read it back */
}

/*
 * Locks the generations for this transaction: the open one ROW EXCLUSIVE
 * (a retention pass seals it only after taking it in SHARE mode, so it
 * stays open until we commit), the sealed ones ACCESS SHARE (none is
 * dropped under us).  Taking a lock we did not hold processes pending
 * invalidations, so a list that survives its locks is current.  Returns
 * the open generation.
 */
static const KeyGeneration *
lock_generations(void)
{
	for (int attempt = 0; attempt < 5; attempt++)
	{
		if (!generations_valid || generations_loading)
			load_generations();
		if (!generations_open)
		{
			open_first_generation();
			continue;
		}
		for (int g = 0; g < ngenerations; g++)
			LockRelationOid(generations[g].relid,
							g == ngenerations - 1 ? RowExclusiveLock : AccessShareLock);
		if (generations_valid)
			return &generations[ngenerations - 1];
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("could not lock the generations of opsmeter.request_keys"),
			 errhint("Retention passes kept changing them; retry the call.")));
}

/* Probes one unique key index with a dirty snapshot (sees in-progress rows). */
static bool
probe_key(IndexScanDesc scan, Relation index, TupleTableSlot *found, int64 workspace_id,
		  Datum key, ItemPointer skip)
{
	ScanKeyData skey[2];

	ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(workspace_id));
	ScanKeyInit(&skey[1], 2, BTEqualStrategyNumber, F_TEXTEQ, key);
	skey[1].sk_collation = index->rd_indcollation[1];
	index_rescan(scan, skey, 2, NULL, 0);
	while (index_getnext_slot(scan, ForwardScanDirection, found))
		if (skip == NULL || !ItemPointerEquals(skip, &found->tts_tid))
			return true;
	return false;
}

/*
 * Marks the candidates whose key a sealed generation holds as duplicates.
 * No ingest writes into a sealed generation; a cleanup may be deleting a
 * key right now, and then we wait for it and look again.  A generation's
 * key filter (key_filter.c) rules out almost every key it does not hold,
 * so a new key is looked up only where it may be.
 */
static void
find_keys_in_sealed_generations(StoragePlan *plan, const int *order, int ncand, const Datum *key_text)
{
	uint64	   *hashes = NULL;
	bool	   *maybe = palloc(sizeof(bool) * plan->nevents);

	for (int g = ngenerations - 2; g >= 0; g--)
	{
		const KeyGeneration *gen = &generations[g];
		Relation	heap;
		Relation	index;
		TupleTableSlot *found;
		SnapshotData dirty;
		IndexScanDesc scan;
		int			nmaybe = 0;

		if (gen->filter_copy != NULL && hashes == NULL)
		{
			/* each key hashed once, for every filter */
			hashes = palloc(sizeof(uint64) * plan->nevents);
			for (int k = 0; k < ncand; k++)
			{
				const char *id = plan->events[order[k]].external_request_id;

				hashes[order[k]] = opsmeter_key_hash(plan->workspace_id, id, strlen(id));
			}
		}
		for (int k = 0; k < ncand; k++)
		{
			int			i = order[k];

			maybe[i] = !plan->events[i].duplicate &&
				(gen->filter_copy == NULL || !opsmeter_key_filter_lacks(&gen->filter, hashes[i]));
			nmaybe += maybe[i];
		}
		if (nmaybe == 0)
			continue;			/* its filter rules every key out: not even opened */

		heap = table_open(gen->relid, NoLock);	/* locked */
		index = index_open(gen->index_relid, AccessShareLock);
		found = table_slot_create(heap, NULL);
		InitDirtySnapshot(dirty);
		scan = opsmeter_index_beginscan(heap, index, &dirty, 2, 0);
		for (int k = 0; k < ncand; k++)
		{
			int			i = order[k];

			if (!maybe[i])
				continue;
			while (probe_key(scan, index, found, plan->workspace_id, key_text[i], NULL))
			{
				TransactionId xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;

				if (!TransactionIdIsValid(xwait))
				{
					plan->events[i].duplicate = true;	/* committed, or ours */
					break;
				}
				XactLockTableWait(xwait, heap, &found->tts_tid, XLTW_InsertIndex);
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(found);
		index_close(index, AccessShareLock);
		table_close(heap, NoLock);
	}
}

/*
 * The common case of claiming keys in the open generation, without SQL and
 * without a lookup first: the keys go in with multi-row insertion, and the
 * unique index reports (UNIQUE_CHECK_PARTIAL) each key it may already
 * hold.  Only those are looked up: held by a committed row, or by an
 * earlier call of this transaction, the new key is a duplicate and its
 * tuple is deleted again; held by a transaction still in progress, the
 * call is contended.  It is all or nothing: a contended call keeps none of
 * its own new keys and returns false, and claim_keys_waiting() claims every
 * candidate in request-id order.  Holding keys of our own while waiting for
 * another transaction's could close a wait cycle; taking them all in one
 * global order cannot.
 */
static bool
claim_keys_directly(StoragePlan *plan, const KeyGeneration *open, const int *order, int ncand,
					const int32 *days, const Datum *key_text, bool *claimed)
{
	OpsEvent   *events = plan->events;
	Relation	keys = table_open(open->relid, NoLock);	/* locked by lock_generations */
	int		   *fresh = palloc(sizeof(int) * Max(ncand, 1));
	int			nfresh = 0;
	bool		contended = false;
	BulkWriter	w;
	bool	   *conflicted;
	ItemPointerData *written;
	int		   *suspects;
	int			nsuspects = 0;

	int			natts = RelationGetDescr(keys)->natts;

	/* 4 columns; 3 (no generation) in 0.1.0's table */
	if (natts != (open->number == 0 ? 3 : 4))
		elog(ERROR, "opsmeter.%s does not have the columns of opsmeter.request_keys",
			 RelationGetRelationName(keys));
	for (int k = 0; k < ncand; k++)
		if (!events[order[k]].duplicate)
			fresh[nfresh++] = order[k];
	if (nfresh == 0)
	{
		table_close(keys, NoLock);
		return true;
	}

	bulk_begin(&w, keys, nfresh);
	conflicted = palloc(sizeof(bool) * w.nslots);
	written = palloc(sizeof(ItemPointerData) * nfresh);
	suspects = palloc(sizeof(int) * nfresh);
	for (int start = 0; start < nfresh; start += w.nslots)
	{
		int			m = Min(w.nslots, nfresh - start);

		for (int s = 0; s < m; s++)
		{
			TupleTableSlot *slot = w.slots[s];
			int			i = fresh[start + s];

			ExecClearTuple(slot);
			slot->tts_values[0] = Int64GetDatum(plan->workspace_id);
			slot->tts_values[1] = key_text[i];
			slot->tts_values[2] = DateADTGetDatum(days[i]);
			if (natts == 4)
				slot->tts_values[3] = Int32GetDatum(open->number);
			memset(slot->tts_isnull, false, sizeof(bool) * natts);
			ExecStoreVirtualTuple(slot);
		}
		bulk_write(&w, m, true, conflicted);
		for (int s = 0; s < m; s++)
		{
			written[start + s] = w.slots[s]->tts_tid;
			claimed[fresh[start + s]] = true;
			if (conflicted[s])
				suspects[nsuspects++] = start + s;
		}
	}
	bulk_end(&w);

	if (nsuspects > 0)
	{
		Relation	index = index_open(open->index_relid, NoLock);	/* locked by bulk_begin */
		TupleTableSlot *found = table_slot_create(keys, NULL);
		SnapshotData dirty;
		IndexScanDesc scan;

		CommandCounterIncrement();	/* our own new tuples become visible and deletable */
		InitDirtySnapshot(dirty);
		scan = opsmeter_index_beginscan(keys, index, &dirty, 2, 0);
		for (int t = 0; t < nsuspects && !contended; t++)
		{
			int			f = suspects[t];
			int			i = fresh[f];

			if (!probe_key(scan, index, found, plan->workspace_id, key_text[i], &written[f]))
				continue;		/* its other inserter aborted: the key is ours */
			if (TransactionIdIsValid(dirty.xmin) || TransactionIdIsValid(dirty.xmax))
				contended = true;	/* being inserted or deleted right now */
			else
			{
				/* committed, or written by this transaction before: a duplicate */
				simple_heap_delete(keys, &written[f]);
				ItemPointerSetInvalid(&written[f]);
				claimed[i] = false;
				events[i].duplicate = true;
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(found);
		index_close(index, NoLock);
		if (contended)
		{
			/* Give back every key this call wrote; the waiting path decides. */
			for (int f = 0; f < nfresh; f++)
				if (ItemPointerIsValid(&written[f]))
					simple_heap_delete(keys, &written[f]);
			for (int f = 0; f < nfresh; f++)
			{
				claimed[fresh[f]] = false;
				events[fresh[f]].duplicate = false;
			}
		}
	}
	table_close(keys, NoLock);
	return !contended;
}

/*
 * Claims contended keys with INSERT ... ON CONFLICT DO NOTHING into the
 * open generation, which waits for a concurrent inserter of the same key
 * and then sees its outcome: the first committed write wins, the repeat
 * becomes a duplicate.  order[] must be sorted by request id; candidates
 * already marked duplicate (held by a sealed generation) are skipped.
 */
static void
claim_keys_waiting(StoragePlan *plan, const KeyGeneration *open, const int *order, int ncand,
				   const int32 *days, const Datum *key_text, bool *claimed)
{
	OpsEvent   *events = plan->events;
	Datum	   *ids = palloc(sizeof(Datum) * ncand);
	Datum	   *dates = palloc(sizeof(Datum) * ncand);
	int			n = 0;
	Datum		args[4];
	OwnerSwitch sw;

	for (int k = 0; k < ncand; k++)
		if (!events[order[k]].duplicate)
		{
			ids[n] = key_text[order[k]];
			dates[n++] = DateADTGetDatum(days[order[k]]);
		}
	if (n == 0)
		return;
	args[0] = Int64GetDatum(plan->workspace_id);
	args[1] = PointerGetDatum(construct_array(ids, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(dates, n, DATEOID, sizeof(DateADT), true, TYPALIGN_INT));
	args[3] = Int32GetDatum(open->number);

	opsmeter_become_owner(&sw);
	SPI_connect();
	if (open->number == 0)
	{
		/* 0.1.0's table, until ALTER EXTENSION UPDATE (rare: not kept) */
		if (SPI_execute_with_args("INSERT INTO opsmeter.request_keys AS k (workspace_id, external_request_id, event_day) "
								  "SELECT $1, u.id, u.day "
								  "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.date[])) AS u(id, day) "
								  "ON CONFLICT DO NOTHING "
								  "RETURNING k.external_request_id",
								  3, (Oid[]) {INT8OID, TEXTARRAYOID, DATEARRAYOID}, args, NULL, false, 0)
			!= SPI_OK_INSERT_RETURNING)
			elog(ERROR, "inserting request keys failed");
	}
	else
	{
		/*
		 * Straight into the open generation, not through the parent: a merge
		 * holds the parent EXCLUSIVE while it copies (and wants the sealed
		 * generations this call holds), so going through it would wait for
		 * the merge and close a lock cycle with it.
		 */
		if (insert_keys_plan == NULL || insert_keys_table != open->relid)
		{
			Oid			argtypes[4] = {INT8OID, TEXTARRAYOID, DATEARRAYOID, INT4OID};
			char		sql[512];
			char		name[NAMEDATALEN];
			SPIPlanPtr	prepared;

			generation_relname(name, open->number, "");
			snprintf(sql, sizeof(sql),
					 "INSERT INTO opsmeter.%s AS k (workspace_id, external_request_id, event_day, generation) "
					 "SELECT $1, u.id, u.day, $4 "
					 "FROM ROWS FROM (pg_catalog.unnest($2::pg_catalog.text[]), pg_catalog.unnest($3::pg_catalog.date[])) AS u(id, day) "
					 "ON CONFLICT DO NOTHING "
					 "RETURNING k.external_request_id",
					 quote_identifier(name));
			prepared = SPI_prepare(sql, 4, argtypes);
			if (prepared == NULL)
				elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
			SPI_keepplan(prepared);
			if (insert_keys_plan != NULL)
				SPI_freeplan(insert_keys_plan);
			insert_keys_plan = prepared;
			insert_keys_table = open->relid;
		}
		if (SPI_execute_plan(insert_keys_plan, args, NULL, false, 0) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "inserting request keys failed");
	}
	for (uint64 r = 0; r < SPI_processed; r++)
	{
		bool		isnull;
		char	   *id = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[r],
														   SPI_tuptable->tupdesc, 1, &isnull));
		int			i = find_by_request_id(events, order, ncand, id);

		if (i < 0)
			elog(ERROR, "request key \"%s\" returned but not sent", id);
		claimed[i] = true;
	}
	SPI_finish();
	opsmeter_restore_user(&sw);
}

/*
 * The direct claim in a subtransaction of its own, so that giving its keys
 * back (contended) is a rollback, which every other transaction sees at
 * once.  A key deleted by a transaction still in progress looks "being
 * inserted" to everyone else (a dirty snapshot reads only its xmin), so
 * two calls that each gave their keys back and then waited in
 * claim_keys_waiting() for the other's waited for each other: a deadlock
 * error for one of them (8 clients inserting the same new ids at once: 16
 * in 8 s).  One new key needs none: the call waits only on the key it
 * gave back, at the same place in the request-id order in which the
 * waiting claims take their keys, so it closes no cycle (and a single
 * event stays about 9% cheaper in CPU-bound pgbench).  A transaction keeps
 * at most 64 subtransaction ids in shared memory before every snapshot
 * must look them up in pg_subtrans, so past 32 (a client making many calls
 * in one transaction) the claim runs without one, as before.
 */
static bool
claim_keys_directly_in_subtransaction(StoragePlan *plan, const KeyGeneration *open, const int *order,
									  int ncand, const int32 *days, const Datum *key_text, bool *claimed)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	bool		uncontended;
	int			nfresh = 0;

	for (int k = 0; k < ncand; k++)
		nfresh += !plan->events[order[k]].duplicate;
	if (nfresh < 2 || MyProc->subxidStatus.overflowed || MyProc->subxidStatus.count >= 32)
		return claim_keys_directly(plan, open, order, ncand, days, key_text, claimed);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		uncontended = claim_keys_directly(plan, open, order, ncand, days, key_text, claimed);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ReThrowError(edata);
	}
	PG_END_TRY();
	if (uncontended)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(oldcontext);
	CurrentResourceOwner = oldowner;
	return uncontended;
}

/*
 * Claims the candidates' keys: the first committed write of a key wins,
 * every other is a duplicate.  Leaves the accepted candidates in
 * order[0..return), still sorted by request id.
 */
static int
claim_request_keys(StoragePlan *plan, int *order, int ncand, const int32 *days)
{
	bool	   *claimed = palloc0(sizeof(bool) * plan->nevents);
	Datum	   *key_text = palloc(sizeof(Datum) * plan->nevents);
	const KeyGeneration *open = lock_generations();
	int			accepted = 0;

	/* Each key as text once: the lookups, the insert and the fallback share it. */
	for (int k = 0; k < ncand; k++)
		key_text[order[k]] = CStringGetTextDatum(plan->events[order[k]].external_request_id);
	find_keys_in_sealed_generations(plan, order, ncand, key_text);
	if (!claim_keys_directly_in_subtransaction(plan, open, order, ncand, days, key_text, claimed))
		claim_keys_waiting(plan, open, order, ncand, days, key_text, claimed);

	for (int k = 0; k < ncand; k++)
	{
		int			i = order[k];

		if (claimed[i])
			order[accepted++] = i;
		else
			plan->events[i].duplicate = true;
	}
	return accepted;
}

static void
map_columns(TupleDesc desc, int *pos)
{
	for (int c = 0; c < NUM_EVENT_COLUMNS; c++)
	{
		pos[c] = -1;
		for (int a = 0; a < desc->natts; a++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, a);

			if (!att->attisdropped && strcmp(NameStr(att->attname), column_names[c]) == 0)
			{
				pos[c] = a;
				break;
			}
		}
		if (pos[c] < 0)
			elog(ERROR, "opsmeter.events has no column \"%s\"", column_names[c]);
	}
}

static void
fill_slot(TupleTableSlot *slot, const int *pos, const StoragePlan *plan, const OpsEvent *ev,
		  int64 batch, const EnumValues *enums)
{
	Datum	   *v = slot->tts_values;
	bool	   *isnull = slot->tts_isnull;

#define SET(col, datum) (v[pos[col]] = (datum), isnull[pos[col]] = false)
#define SET_TEXT(col, s) do { if ((s) != NULL) SET(col, CStringGetTextDatum(s)); } while (0)

	ExecClearTuple(slot);
	memset(isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
	SET(COL_WORKSPACE_ID, Int64GetDatum(plan->workspace_id));
	SET(COL_TS, TimestampTzGetDatum(ev->ts));
	SET(COL_INGEST_BATCH, Int64GetDatum(batch));
	SET(COL_INPUT_TOKENS, Int64GetDatum(ev->input_tokens));
	SET(COL_OUTPUT_TOKENS, Int64GetDatum(ev->output_tokens));
	SET(COL_TOTAL_TOKENS, Int64GetDatum(ev->total_tokens));
	SET(COL_CACHED_INPUT_TOKENS, Int64GetDatum(ev->cached_input_tokens));
	SET(COL_REASONING_TOKENS, Int64GetDatum(ev->reasoning_tokens));
	if (ev->seen[F_LATENCY_MS])
		SET(COL_LATENCY_MS, Int32GetDatum(ev->latency_ms));
	SET(COL_IS_ERROR, BoolGetDatum(ev->is_error));
	SET(COL_DATA_MODE, ObjectIdGetDatum(enums->data_mode[ev->data_mode]));
	SET(COL_ENVIRONMENT, ObjectIdGetDatum(enums->environment[ev->environment]));
	SET(COL_PRICING, ObjectIdGetDatum(enums->pricing[ev->pricing]));
	SET(COL_INGESTED_BY, ObjectIdGetDatum(plan->ingested_by));
	SET(COL_INGESTED_AT, TimestampTzGetDatum(plan->ingested_at));
	SET_TEXT(COL_EXTERNAL_REQUEST_ID, ev->external_request_id);
	SET_TEXT(COL_PROVIDER, ev->provider);
	SET_TEXT(COL_MODEL, ev->model);
	if (ev->cost_usd != NULL)
		SET(COL_COST_USD, NumericGetDatum(ev->cost_usd));
	SET_TEXT(COL_ERROR_CODE, ev->error_code);
	SET_TEXT(COL_PROMPT_VERSION, ev->prompt_version);
	SET_TEXT(COL_ENDPOINT_TAG, ev->endpoint_tag);
	SET_TEXT(COL_USER_ID, ev->user_id);
	SET_TEXT(COL_TENANT_ID, ev->tenant_id);
	if (ev->metadata != NULL)
		SET(COL_METADATA, JsonbPGetDatum(ev->metadata));
	ExecStoreVirtualTuple(slot);
#undef SET
#undef SET_TEXT
}

/*
 * Multi-row insertion into one partition, as COPY does: buffered slots to
 * table_multi_insert, then index entries per tuple.
 */
static void
insert_into_partition(Oid relid, const StoragePlan *plan, const int *idx, int count,
					  int64 batch, const EnumValues *enums)
{
	Relation	rel = table_open(relid, NoLock);	/* locked by lock_partition_for_day */
	int			pos[NUM_EVENT_COLUMNS];
	BulkWriter	w;

	map_columns(RelationGetDescr(rel), pos);
	bulk_begin(&w, rel, count);
	for (int start = 0; start < count; start += w.nslots)
	{
		int			m = Min(w.nslots, count - start);

		for (int s = 0; s < m; s++)
			fill_slot(w.slots[s], pos, plan, &plan->events[idx[start + s]], batch, enums);
		bulk_write(&w, m, false, NULL);
	}
	bulk_end(&w);
	table_close(rel, NoLock);
}

/*
 * The OIDs of the enum labels a row is written with: twelve syscache
 * lookups, so memorized while the catalog's names stay as they were
 * (opsmeter_catalog_names_epoch()).
 */
static void
load_enum_values(EnumValues *enums)
{
	static EnumValues memorized;
	static uint64 memorized_epoch = 0;
	uint64		epoch = opsmeter_catalog_names_epoch();
	Oid			dm,
				env,
				pr;

	if (memorized_epoch == epoch)
	{
		*enums = memorized;
		return;
	}
	dm = opsmeter_typid("data_mode");
	env = opsmeter_typid("environment");
	pr = opsmeter_typid("pricing_source");
	for (int i = 0; i < 3; i++)
	{
		enums->data_mode[i] = opsmeter_enum_value(dm, opsmeter_data_mode_labels[i]);
		enums->environment[i] = opsmeter_enum_value(env, opsmeter_environment_labels[i]);
		enums->pricing[i] = opsmeter_enum_value(pr, opsmeter_pricing_labels[i]);
	}
	memorized = *enums;
	memorized_epoch = epoch;
}

/*
 * In-flight batches (src/README.md, "rollup").  A transaction draws one
 * batch number, on its first ingest call that writes rows, and stamps every
 * row it ingests with it; it holds, until it ends, a transaction-level
 * advisory lock keyed on that number: pg_locks shows it as an advisory lock
 * whose objsubid is BATCH_LOCK_KIND (no pg_advisory_* call uses that kind,
 * so no user lock collides with it).  So the published batches of the
 * other transactions are exactly the batches in flight, one lock each.
 */
#define BATCH_LOCK_KIND 0x4F50	/* "OP" */

static LOCKTAG published_tag;
static bool published_valid = false;
static int32 published_cutoff_day;	/* opsmeter_late_cutoff_day() of its draw */

static void
batch_locktag(LOCKTAG *tag, int64 batch)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (((uint64) batch) >> 32), (uint32) batch,
						 BATCH_LOCK_KIND);
}

static int64
locktag_batch(const LOCKTAG *tag)
{
	return (int64) (((uint64) tag->locktag_field2 << 32) | tag->locktag_field3);
}

/*
 * This transaction's batch number: the one it published already, else a
 * new one, drawn and published now.  The published lock is still held by
 * this transaction exactly when its number is ours to reuse: a lock taken
 * in a subtransaction that aborted is gone, and so are the rows written
 * with its number (they were written in that subtransaction or a child of
 * it); a lock left from an earlier transaction is gone too.  nextval locks
 * the sequence (ROW EXCLUSIVE) before it hands out the number and keeps
 * the lock as long as the batch lock (same subtransaction): the 0.1.0
 * rollup waits on it, and a pass that sees it without a batch lock knows
 * a number is being drawn.
 */
static int64
transaction_batch(void)
{
	int64		batch;

	if (published_valid && opsmeter_lock_held_by_me(&published_tag, ExclusiveLock))
		return locktag_batch(&published_tag);
	published_valid = false;
	batch = nextval_internal(opsmeter_relid("ingest_batch_seq"), false);
	/*
	 * Read after the draw, so later than the sequence read of any pass that
	 * did not see this number (src/README.md, "Where pending rows can be").
	 */
	published_cutoff_day = opsmeter_late_cutoff_day(GetCurrentTimestamp());
	batch_locktag(&published_tag, batch);
	(void) LockAcquire(&published_tag, ExclusiveLock, false, false);
	published_valid = true;
	return batch;
}

/* See storage.h. */
int32
opsmeter_late_cutoff_day(TimestampTz drawn_at)
{
	return opsmeter_utc_day(drawn_at - OPSMETER_LATE_MARGIN);
}

/*
 * Late arrivals (src/README.md, "Where pending rows can be"): this
 * transaction's batch writes the workspace's rows on a day before its
 * cutoff, so a view could not find them by the pass's clock alone; one row
 * of opsmeter.late_arrivals per (workspace, day, batch) names the day, in
 * the same transaction as the rows.  Looked up every time (SnapshotSelf: our
 * own rows, up to now), not remembered: a marker written in a
 * subtransaction that rolled back is gone while the batch may live on.
 * Direct heap and index access, as add_spend() in budget.c: no permission
 * on the table is needed and no executor is started.
 */
static void
mark_late_arrival(int64 workspace_id, int32 day, int64 batch)
{
	Oid			relid = get_relname_relid("late_arrivals", opsmeter_schema_oid());
	Relation	rel;
	ScanKeyData keys[3];
	SysScanDesc scan;

	/*
	 * The 0.1.0 schema (this library before ALTER EXTENSION UPDATE) has no
	 * such table: its readers read every day, and so do 0.2.0's until the
	 * first pass after the update, whose read is after every batch drawn
	 * before it (src/README.md).
	 */
	if (!OidIsValid(relid))
		return;
	rel = table_open(relid, RowExclusiveLock);

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(workspace_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_DATE_EQ, DateADTGetDatum((DateADT) day));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(batch));
	scan = systable_beginscan(rel, opsmeter_relid("late_arrivals_pkey"), true, SnapshotSelf, 3, keys);
	if (!HeapTupleIsValid(systable_getnext(scan)))
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = Int64GetDatum(workspace_id);
		values[1] = DateADTGetDatum((DateADT) day);
		values[2] = Int64GetDatum(batch);
		CatalogTupleInsert(rel, heap_form_tuple(RelationGetDescr(rel), values, nulls));
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
}

/*
 * The batches in flight: fills *inflight (palloc'd, *ninflight entries)
 * with the published batch of every other transaction.  last_value must be
 * the sequence's last value read *before* this call.  Returns false when it
 * cannot tell: some other transaction holds the sequence's ROW EXCLUSIVE
 * lock (it drew a number) and no batch lock, because it is between nextval
 * and publishing right now, or drew with a plain nextval().
 *
 * Why it is race-free: nextval locks the sequence before it hands out a
 * number, so a transaction that drew a number <= last_value holds that
 * lock by the time we read the lock table, unless it has ended; if it
 * holds a batch lock too, that lock is on the one number all its rows
 * carry.  So every batch <= last_value that is not listed has ended.
 * This transaction's own number does not count: its rows are visible to
 * it and commit or abort with the pass.
 */
bool
opsmeter_batches_in_flight(int64 **inflight, int *ninflight)
{
	Oid			seqid = opsmeter_relid("ingest_batch_seq");
	VirtualTransactionId me;
	LockData   *locks;
	VirtualTransactionId *publishers;
	int64	   *batches;
	int			npublishers = 0;

	GET_VXID_FROM_PGPROC(me, *MyProc);
	locks = GetLockStatusData();
	publishers = palloc(sizeof(VirtualTransactionId) * Max(locks->nelements, 1));
	batches = palloc(sizeof(int64) * Max(locks->nelements, 1));
	for (int i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *l = &locks->locks[i];
		VirtualTransactionId vxid = opsmeter_lock_instance_vxid(l);

		if (l->holdMask == 0 || VirtualTransactionIdEquals(vxid, me))
			continue;
		if (l->locktag.locktag_type == LOCKTAG_ADVISORY && l->locktag.locktag_field1 == MyDatabaseId &&
			l->locktag.locktag_field4 == BATCH_LOCK_KIND)
		{
			batches[npublishers] = locktag_batch(&l->locktag);
			publishers[npublishers++] = vxid;
		}
	}
	for (int i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *l = &locks->locks[i];
		VirtualTransactionId vxid = opsmeter_lock_instance_vxid(l);
		bool		published = false;

		if (!(l->holdMask & LOCKBIT_ON(RowExclusiveLock)) || VirtualTransactionIdEquals(vxid, me) ||
			l->locktag.locktag_type != LOCKTAG_RELATION || l->locktag.locktag_field1 != MyDatabaseId ||
			l->locktag.locktag_field2 != seqid)
			continue;
		for (int j = 0; j < npublishers && !published; j++)
			published = VirtualTransactionIdEquals(vxid, publishers[j]);
		if (!published)
			return false;
	}
	*inflight = batches;
	*ninflight = npublishers;
	return true;
}

StoragePlan *
opsmeter_storage_claim(int64 workspace_id, OpsEvent *events, int nevents)
{
	int			n = nevents;
	StoragePlan *plan = palloc0(sizeof(StoragePlan));
	int		   *order = palloc(sizeof(int) * Max(n, 1));
	int32	   *days = palloc(sizeof(int32) * Max(n, 1));
	Oid		   *relids = palloc(sizeof(Oid) * Max(n, 1));
	int			ncand;

	plan->workspace_id = workspace_id;
	plan->events = events;
	plan->nevents = nevents;
	plan->order = order;
	plan->days = days;
	plan->relids = relids;
	if (n == 0)
		return plan;

	ncand = drop_repeats_within_call(plan->events, n, order);

	/*
	 * Partitions first, locked until commit: a retention pass can then never
	 * remove the home of a key this call is about to claim.
	 */
	for (int k = 0; k < ncand; k++)
		days[order[k]] = opsmeter_utc_day(plan->events[order[k]].ts);
	for (int k = 0; k < ncand; k++)
	{
		int			i = order[k];
		int			j;

		for (j = 0; j < k; j++)
			if (days[order[j]] == days[i])
				break;
		relids[i] = j < k ? relids[order[j]] : lock_partition_for_day(days[i]);
	}

	plan->accepted = claim_request_keys(plan, order, ncand, days);
	return plan;
}

int
opsmeter_storage_write(StoragePlan *plan, Oid ingested_by, TimestampTz ingested_at)
{
	int		   *order = plan->order;
	int32	   *days = plan->days;
	int			accepted = plan->accepted;
	int64		batch;
	EnumValues	enums;

	if (accepted == 0)
		return 0;
	plan->ingested_by = ingested_by;
	plan->ingested_at = ingested_at;

	/*
	 * One batch number per transaction, drawn (on its first call that writes
	 * rows) after the keys; see transaction_batch().
	 */
	batch = transaction_batch();
	load_enum_values(&enums);

	qsort_arg(order, accepted, sizeof(int), compare_by_day, days);
	for (int start = 0; start < accepted;)
	{
		int			end = start + 1;

		while (end < accepted && days[order[end]] == days[order[start]])
			end++;
		if (days[order[start]] < published_cutoff_day)
			mark_late_arrival(plan->workspace_id, days[order[start]], batch);
		insert_into_partition(plan->relids[order[start]], plan, order + start, end - start,
							  batch, &enums);
		start = end;
	}
	return accepted;
}
