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
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "partitioning/partdesc.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "catalog.h"
#include "tenancy.h"

PG_FUNCTION_INFO_V1(opsmeter_workspace_has_rows);
PG_FUNCTION_INFO_V1(opsmeter_window_reader);

/* How a view reads a window: the values of opsmeter.window_reader(). */
typedef enum WindowReader
{
	READ_NOTHING = 0,			/* the workspace has no row to show */
	READ_RAW_ROWS = 1,			/* no day of the window is summarized */
	READ_FACTS = 2				/* through opsmeter.facts() */
} WindowReader;

/*
 * A valid, complete btree index of rel whose first column is attno, or
 * InvalidOid.  Each generation of request_keys has one, its unique
 * (workspace_id, external_request_id) index; an index a DBA added is used
 * only if it can answer the same probe.
 */
static Oid
index_led_by(Relation rel, AttrNumber attno)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), AccessShareLock);
		bool		leads = index->rd_rel->relam == BTREE_AM_OID &&
			index->rd_index->indisvalid &&
			heap_attisnull(index->rd_indextuple, Anum_pg_index_indpred, NULL) &&
			index->rd_index->indnatts > 0 &&
			index->rd_index->indkey.values[0] == attno;

		index_close(index, AccessShareLock);
		if (leads)
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
	Oid			index = index_led_by(rel, att_ws);
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
