/*
 * reader.c — how the analytics views read the active workspace: whether it
 * has any row to show (opsmeter.workspace_has_rows()) and whether its raw
 * rows alone answer a window (opsmeter.window_reader()).
 *
 * Every view and list asks one of these first, in every call.  As SQL they
 * were EXISTS subqueries, so every call planned them anew: the planner
 * opened every generation of opsmeter.request_keys with its row-security
 * policy, estimated selectivities and built plans, for an answer of one
 * bit (about 1 ms of a fresh session's 2).  Here they are direct index
 * probes, made with the query's snapshot, of the active workspace only:
 * the caller learns nothing of another workspace, and row-level security,
 * which lets every member read these rows of its workspace, has nothing to
 * hide.  Same answers as the SQL they replace (sql/analytics.sql checks
 * every branch against the tables).
 *
 * It also reads the raw rows of a window for the views' raw path
 * (opsmeter.workspace_rows()): the partitions the window overlaps, found
 * from the parent's partition bounds, each through its (workspace_id, ts)
 * index.  A SQL scan of opsmeter.events planned every partition of the
 * window for every call (1 ms of a small workspace's 30-day list, as much
 * as reading its rows); this plans nothing.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/tupconvert.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/partcache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "tenancy.h"

PG_FUNCTION_INFO_V1(opsmeter_workspace_has_rows);
PG_FUNCTION_INFO_V1(opsmeter_window_reader);
PG_FUNCTION_INFO_V1(opsmeter_workspace_rows);
PG_FUNCTION_INFO_V1(opsmeter_events_lower_bound);

/* How a view reads a window: the values of opsmeter.window_reader(). */
typedef enum WindowReader
{
	READ_NOTHING = 0,			/* the workspace has no row to show */
	READ_RAW_ROWS = 1,			/* no day of the window is summarized */
	READ_FACTS = 2				/* through opsmeter.facts() */
} WindowReader;

/*
 * A btree index of rel whose key begins with the columns first and then
 * second (InvalidAttrNumber: first alone), that the query's snapshot may
 * use, or InvalidOid.  Each generation of request_keys has one on
 * (workspace_id, external_request_id), rollup_days on (workspace_id, day)
 * and each daily partition of events on (workspace_id, ts); an index a DBA
 * added is used only if it can answer the same probe: valid, complete (no
 * predicate), and not too new for this snapshot (indcheckxmin, after a
 * CREATE INDEX that skipped HOT chains), as the planner decides.  The
 * index stays locked to the end of the transaction, as a query's do.
 */
static Oid
btree_index_on(Relation rel, AttrNumber first, AttrNumber second)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		Form_pg_index form = index->rd_index;
		bool		fits = index->rd_rel->relam == BTREE_AM_OID &&
			form->indisvalid &&
			(!form->indcheckxmin ||
			 TransactionIdPrecedes(HeapTupleHeaderGetXmin(index->rd_indextuple->t_data), TransactionXmin)) &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			form->indnkeyatts >= (second == InvalidAttrNumber ? 1 : 2) &&
			form->indkey.values[0] == first &&
			(second == InvalidAttrNumber || form->indkey.values[1] == second);

		index_close(index, NoLock);
		if (fits)
		{
			found = lfirst_oid(lc);
			break;
		}
	}
	list_free(indexes);
	return found;
}

/*
 * Whether rel has a row with workspace_id = ws visible to the snapshot,
 * through its index led by workspace_id (a scan of the table without one).
 */
static bool
table_has_workspace_row(Relation rel, int64 ws)
{
	AttrNumber	att_ws = attnameAttNum(rel, "workspace_id", false);
	Oid			index = btree_index_on(rel, att_ws, InvalidAttrNumber);
	ScanKeyData key;
	SysScanDesc scan;
	bool		found;

	ScanKeyInit(&key, att_ws, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(ws));
	scan = systable_beginscan(rel, index, OidIsValid(index), opsmeter_scan_snapshot(), 1, &key);
	found = HeapTupleIsValid(systable_getnext(scan));
	systable_endscan(scan);
	return found;
}

/* Whether ws has a dedup key in any generation: a raw row (each has one). */
static bool
has_dedup_key(int64 ws)
{
	Relation	parent = table_open(opsmeter_relid("request_keys"), AccessShareLock);
	PartitionDesc generations = RelationGetPartitionDesc(parent, true);
	bool		found = false;

	for (int i = 0; i < generations->nparts && !found; i++)
	{
		Relation	generation = table_open(generations->oids[i], AccessShareLock);

		found = table_has_workspace_row(generation, ws);
		table_close(generation, AccessShareLock);
	}
	table_close(parent, AccessShareLock);
	return found;
}

/* Whether ws has a row of opsmeter.rollup_days: a rolled-up day. */
static bool
has_rollup_day(int64 ws)
{
	Relation	rel = table_open(opsmeter_relid("rollup_days"), AccessShareLock);
	bool		found = table_has_workspace_row(rel, ws);

	table_close(rel, AccessShareLock);
	return found;
}

/*
 * Whether ws has a summarized day (rollup_days.quarter_rows set) of UTC
 * day from or later.
 */
static bool
has_summarized_day(int64 ws, DateADT from)
{
	Relation	rel = table_open(opsmeter_relid("rollup_days"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	att_quarters = attnameAttNum(rel, "quarter_rows", false);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&keys[0], attnameAttNum(rel, "workspace_id", false), BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(ws));
	ScanKeyInit(&keys[1], attnameAttNum(rel, "day", false), BTGreaterEqualStrategyNumber, F_DATE_GE,
				DateADTGetDatum(from));
	scan = systable_beginscan(rel, opsmeter_relid("rollup_days_pkey"), true, opsmeter_scan_snapshot(), 2, keys);
	while (!found && (tup = systable_getnext(scan)) != NULL)
		found = !heap_attisnull(tup, att_quarters, desc);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The active workspace, or false when it has no row to show: no rolled-up
 * day and no raw row.  rollup_days first: one small index, and a workspace
 * with a rolled-up day needs no look at its keys.
 */
static bool
active_workspace_with_rows(int64 *ws)
{
	WorkspaceRef ref;

	opsmeter_resolve_workspace(GetUserId(), NULL, &ref);
	*ws = ref.id;
	return has_rollup_day(ref.id) || has_dedup_key(ref.id);
}

/* opsmeter.workspace_has_rows() -> boolean */
Datum
opsmeter_workspace_has_rows(PG_FUNCTION_ARGS)
{
	int64		ws;

	PG_RETURN_BOOL(active_workspace_with_rows(&ws));
}

/*
 * opsmeter.window_reader(from_ts timestamptz) -> integer: READ_NOTHING,
 * READ_RAW_ROWS when no day of the window from from_ts on is summarized
 * (nor the UTC day before from_ts: a local day can begin in it), else
 * READ_FACTS (also for a NULL from_ts).
 */
Datum
opsmeter_window_reader(PG_FUNCTION_ARGS)
{
	int64		ws;
	DateADT		summarized_from;

	if (!active_workspace_with_rows(&ws))
		PG_RETURN_INT32(READ_NOTHING);
	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(READ_FACTS);

	/*
	 * (from_ts AT TIME ZONE 'UTC')::date, less one: timestamp_date() of the
	 * value, which is UTC already.
	 */
	summarized_from = DatumGetDateADT(DirectFunctionCall1(timestamp_date, PG_GETARG_DATUM(0)));
	if (DATE_IS_NOEND(summarized_from))
		PG_RETURN_INT32(READ_RAW_ROWS);		/* an empty window */
	if (!DATE_IS_NOBEGIN(summarized_from))
		summarized_from--;
	PG_RETURN_INT32(has_summarized_day(ws, summarized_from) ? READ_FACTS : READ_RAW_ROWS);
}

/*
 * Appends to store the rows of one partition with workspace_id = ws and
 * from_ts <= ts < to_ts, visible to the query's snapshot, in the parent's
 * row type.  The partition stays locked (AccessShareLock) to the end of
 * the transaction, as a query's partitions do.  A partition a DBA made
 * partitioned in turn is read through all of its own partitions.  Heap
 * tables only otherwise: the scan below reads heap tuples, and a foreign
 * table or another table access method gets an error naming it (read as
 * heap, it would crash the server).
 */
static void
read_partition(Oid relid, TupleDesc parent_desc, Tuplestorestate *store, int64 ws,
			   TimestampTz from_ts, TimestampTz to_ts)
{
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	att_ws;
	AttrNumber	att_ts;
	Oid			index;
	TupleConversionMap *map;
	ScanKeyData keys[3];
	SysScanDesc scan;
	HeapTuple	tup;

	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		PartitionDesc parts = RelationGetPartitionDesc(rel, true);

		for (int i = 0; i < parts->nparts; i++)
			read_partition(parts->oids[i], parent_desc, store, ws, from_ts, to_ts);
		table_close(rel, NoLock);
		return;
	}
	if (rel->rd_rel->relkind != RELKIND_RELATION || rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot read partition \"%s\" of opsmeter.events", RelationGetRelationName(rel)),
				 errdetail("The analytics views read the partitions of opsmeter.events directly; they read heap tables and partitioned tables only."),
				 errhint("Detach that partition, or attach a heap table holding its rows in its place.")));

	att_ws = attnameAttNum(rel, "workspace_id", false);
	att_ts = attnameAttNum(rel, "ts", false);
	index = btree_index_on(rel, att_ws, att_ts);
	map = convert_tuples_by_name(RelationGetDescr(rel), parent_desc);
	ScanKeyInit(&keys[0], att_ws, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(ws));
	ScanKeyInit(&keys[1], att_ts, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE, TimestampTzGetDatum(from_ts));
	ScanKeyInit(&keys[2], att_ts, BTLessStrategyNumber, F_TIMESTAMPTZ_LT, TimestampTzGetDatum(to_ts));
	scan = systable_beginscan(rel, index, OidIsValid(index), opsmeter_scan_snapshot(), 3, keys);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		if (map == NULL)
			tuplestore_puttuple(store, tup);
		else
		{
			HeapTuple	converted = execute_attr_map_tuple(tup, map);

			tuplestore_puttuple(store, converted);
			heap_freetuple(converted);
		}
	}
	systable_endscan(scan);
	if (map != NULL)
		free_conversion_map(map);
	table_close(rel, NoLock);
}

/*
 * A range bound of the partition key ts: -infinity for MINVALUE, infinity
 * for MAXVALUE.
 */
static TimestampTz
range_bound(PartitionBoundInfo bounds, int i)
{
	switch (bounds->kind[i][0])
	{
		case PARTITION_RANGE_DATUM_MINVALUE:
			return DT_NOBEGIN;
		case PARTITION_RANGE_DATUM_MAXVALUE:
			return DT_NOEND;
		default:
			return DatumGetTimestampTz(bounds->datums[i][0]);
	}
}

/*
 * The lower bound of the partition whose upper bound is bound i
 * (bounds->indexes[i]): the bound before it, or -infinity for the first.
 */
static TimestampTz
partition_lower_bound(PartitionBoundInfo bounds, int i)
{
	return i == 0 ? DT_NOBEGIN : range_bound(bounds, i - 1);
}

/* The partitions of opsmeter.events (parent open), checked to be by range of ts. */
static PartitionDesc
events_partitions(Relation parent)
{
	PartitionKey key = RelationGetPartitionKey(parent);

	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE || key->partnatts != 1 ||
		key->partattrs[0] != attnameAttNum(parent, "ts", false))
		elog(ERROR, "opsmeter.events is not partitioned by range of ts");
	return RelationGetPartitionDesc(parent, true);
}

/*
 * opsmeter.events_lower_bound() -> timestamptz: no row of opsmeter.events
 * is older than this, the lower bound of its oldest partition; -infinity
 * with a default partition (or one from MINVALUE), infinity with none.
 * The raw path of the views lists days from here at the earliest: with
 * no window set, the overview's window reaches back to the summary
 * horizon (a year by default), where a small workspace's raw rows are
 * the last few weeks of partitions.
 */
Datum
opsmeter_events_lower_bound(PG_FUNCTION_ARGS)
{
	Relation	parent = table_open(opsmeter_relid("events"), AccessShareLock);
	PartitionBoundInfo bounds = events_partitions(parent)->boundinfo;
	TimestampTz lower = DT_NOEND;

	if (bounds != NULL && partition_bound_has_default(bounds))
		lower = DT_NOBEGIN;
	else
	{
		for (int i = 0; bounds != NULL && i < bounds->ndatums; i++)
		{
			if (bounds->indexes[i] >= 0)
			{
				lower = partition_lower_bound(bounds, i);
				break;
			}
		}
	}
	table_close(parent, NoLock);
	PG_RETURN_TIMESTAMPTZ(lower);
}

/*
 * opsmeter.workspace_rows(from_ts timestamptz, to_ts timestamptz) -> SETOF
 * opsmeter.events: the active workspace's raw rows with from_ts <= ts <
 * to_ts, read from the partitions of opsmeter.events whose range overlaps
 * the window (and a default partition, if a DBA attached one), each by its
 * (workspace_id, ts) index.
 *
 * Who sees what is what a SELECT on opsmeter.events shows: the caller
 * needs SELECT on the table, and gets rows of the workspace it acts in,
 * which the table's policy (events_read: the caller's workspaces) shows
 * it.  The parent is locked first, then the partitions, in the order a
 * query locks them, so a retention pass waiting to drop a day waits for
 * this statement as it waits for a SELECT.
 */
Datum
opsmeter_workspace_rows(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz from_ts = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz to_ts = PG_GETARG_TIMESTAMPTZ(1);
	Oid			parent_id = opsmeter_relid("events");
	WorkspaceRef ws;
	AclResult	acl;
	Relation	parent;
	TupleDesc	desc;
	PartitionDesc parts;
	PartitionBoundInfo bounds;
	MemoryContext per_query;
	MemoryContext old;
	Tuplestorestate *store;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	acl = pg_class_aclcheck(parent_id, GetUserId(), ACL_SELECT);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_TABLE, "events");
	opsmeter_resolve_workspace(GetUserId(), NULL, &ws);

	per_query = rsinfo->econtext->ecxt_per_query_memory;
	old = MemoryContextSwitchTo(per_query);
	parent = table_open(parent_id, AccessShareLock);
	desc = CreateTupleDescCopy(RelationGetDescr(parent));
	store = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0, false, work_mem);
	MemoryContextSwitchTo(old);

	parts = events_partitions(parent);
	bounds = parts->boundinfo;

	/*
	 * Partition indexes[i] holds [datums[i-1], datums[i]); an entry of -1
	 * is a gap.  A window that begins past the last bound reads nothing.
	 */
	for (int i = 0; bounds != NULL && i < bounds->ndatums && from_ts < to_ts; i++)
	{
		if (bounds->indexes[i] >= 0 &&
			range_bound(bounds, i) > from_ts && partition_lower_bound(bounds, i) < to_ts)
			read_partition(parts->oids[bounds->indexes[i]], desc, store, ws.id, from_ts, to_ts);
	}
	if (bounds != NULL && partition_bound_has_default(bounds) && from_ts < to_ts)
		read_partition(parts->oids[bounds->default_index], desc, store, ws.id, from_ts, to_ts);
	table_close(parent, NoLock);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	return (Datum) 0;
}
