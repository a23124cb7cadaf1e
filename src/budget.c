/*
 * budget.c — the small counter behind budgets (SPEC §8).
 *
 * opsmeter.spend_counters holds, per workspace and UTC day, the spend of
 * the real rows stored so far, split into shards so that concurrent
 * ingests of one workspace never touch the same row: a backend always adds
 * to the shard of its PGPROC slot.  The spend of a day is the sum of its
 * shards.  Counters are written in the same transaction as the rows they
 * count, so they are exact: they commit or vanish together.  Budget flags
 * read at most 31 days x (backend slots) rows of this table, never the
 * raw rows.
 *
 * Only workspaces with a budget have counters: the others skip this work
 * on every call.  opsmeter_set_budget() seeds a workspace's first budget
 * from summaries and the raw tail (shard -1), behind a lock barrier that
 * in-flight ingests hold (opsmeter_budget_account), and removing the last budget
 * deletes them.
 *
 * Invariant: for every workspace with a budget and every UTC day since the
 * start of the previous month, sum(spend_usd) over the shards =
 * sum(cost_usd) of that day's real rows (opsmeter_reprice adds its deltas
 * the same way; retention keeps two months of counters).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "parser/parse_relation.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgroids.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "budget.h"
#include "catalog.h"
#include "compat.h"
#include "storage.h"
#include "tenancy.h"

static SPIPlanPtr flags_plan = NULL;

static SPIPlanPtr
keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	SPI_keepplan(plan);
	return plan;
}

/*
 * Adds spend to this backend's counter row for (workspace, day), with
 * direct heap and index access: no executor, no SPI, as cheap as a counter
 * can be on the single-event path.  The shard is this backend's PGPROC
 * slot, which no other live backend holds, so no concurrent transaction
 * ever updates the same row (a past holder of the slot has committed or
 * aborted).  opsmeter_reprice writes shard -1, serialized by its own lock.
 */
static void
add_spend(int64 workspace_id, int32 day, Numeric spend)
{
	Relation	rel = table_open(opsmeter_relid("spend_counters"), RowExclusiveLock);
	TupleDesc	desc = RelationGetDescr(rel);
	int16		shard = (int16) opsmeter_my_proc_number();
	ScanKeyData keys[3];
	SysScanDesc scan;
	HeapTuple	old;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(workspace_id));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_DATE_EQ, DateADTGetDatum((DateADT) day));
	ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(shard));
	/* SnapshotSelf: committed rows and this transaction's own, up to now */
	scan = systable_beginscan(rel, opsmeter_relid("spend_counters_pkey"), true, SnapshotSelf, 3, keys);
	old = systable_getnext(scan);

	values[0] = Int64GetDatum(workspace_id);
	values[1] = DateADTGetDatum((DateADT) day);
	values[2] = Int16GetDatum(shard);
	if (HeapTupleIsValid(old))
	{
		bool		isnull;
		Numeric		before = DatumGetNumeric(heap_getattr(old, 4, desc, &isnull));
		HeapTuple	updated;

		values[3] = NumericGetDatum(numeric_add_opt_error(before, spend, NULL));
		updated = heap_form_tuple(desc, values, nulls);
		CatalogTupleUpdate(rel, &old->t_self, updated);
	}
	else
	{
		values[3] = NumericGetDatum(spend);
		CatalogTupleInsert(rel, heap_form_tuple(desc, values, nulls));
	}
	systable_endscan(scan);
	table_close(rel, NoLock);
}

static void
read_flags(int64 workspace_id, BudgetFlags *flags)
{
	Datum		arg = Int64GetDatum(workspace_id);
	bool		isnull;

	if (flags_plan == NULL)
	{
		Oid			types[1] = {INT8OID};

		flags_plan = keep_plan(
			"SELECT coalesce(bool_or(b.is_warning), false), coalesce(bool_or(b.is_exceeded), false) "
			"FROM opsmeter.budget_state($1) b", 1, types);
	}
	/* not read-only: a fresh snapshot that sees this call's own increments */
	if (SPI_execute_plan(flags_plan, &arg, NULL, false, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "opsmeter: could not read the budget state");
	flags->warning = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	flags->exceeded = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * Whether the workspace has a budget, as committed now (SnapshotSelf), not
 * as of the statement's snapshot: see opsmeter_budget_account().  While the
 * version of the row the call resolved is still the latest committed one,
 * one heap fetch of it answers; otherwise the row is looked up by its key.
 */
static bool
budget_set_now(const WorkspaceRef *ws)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		set = false;

	if (opsmeter_workspace_row_current(ws, &set))
		return set;

	rel = table_open(opsmeter_relid("workspaces"), AccessShareLock);
	ScanKeyInit(&key, attnameAttNum(rel, "workspace_id", false), BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(ws->id));
	scan = systable_beginscan(rel, opsmeter_relid("workspaces_pkey"), true, SnapshotSelf, 1, &key);
	if ((tup = systable_getnext(scan)) != NULL)
		set = opsmeter_workspace_row_has_budget(rel, tup);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return set;
}

void
opsmeter_budget_account(WorkspaceRef *ws, const OpsEvent *events, int nevents, BudgetFlags *flags)
{
	int32	   *days = palloc(sizeof(int32) * nevents);
	Numeric    *spend = palloc(sizeof(Numeric) * nevents);
	int			ndays = 0;
	OwnerSwitch sw;

	/* Real, priced, stored events, summed per UTC day (a call rarely spans two). */
	for (int i = 0; i < nevents; i++)
	{
		const OpsEvent *ev = &events[i];
		int32		day;
		int			d;

		if (ev->duplicate || ev->data_mode != DM_REAL || ev->cost_usd == NULL)
			continue;
		day = opsmeter_utc_day(ev->ts);
		for (d = 0; d < ndays && days[d] != day; d++)
			;
		if (d == ndays)
		{
			days[ndays] = day;
			spend[ndays++] = ev->cost_usd;
		}
		else
			spend[d] = numeric_add_opt_error(spend[d], ev->cost_usd, NULL);
	}
	if (ndays == 0 && !ws->has_budget)
		return;

	/*
	 * Counters exist only for workspaces with a budget.  The lock is the
	 * barrier opsmeter_set_budget() takes in SHARE ROW EXCLUSIVE mode before
	 * it seeds a new budget's counters from the rows committed by then: a
	 * budget set before we hold it is visible to the fresh read below (we
	 * wait for it to commit), and one set after waits for this transaction,
	 * so its seed counts our rows.  Either way each row is counted once.
	 */
	LockRelationOid(opsmeter_relid("spend_counters"), RowExclusiveLock);
	ws->has_budget = budget_set_now(ws);
	if (!ws->has_budget)
		return;

	/*
	 * Calls earlier in this statement (SELECT opsmeter_ingest(x) FROM ...)
	 * share its command id; a new one lets us update what they wrote.
	 */
	if (ndays > 0)
		CommandCounterIncrement();
	for (int d = 0; d < ndays; d++)
		add_spend(ws->id, days[d], spend[d]);
	if (ws->has_budget)
	{
		/* the read sees the increments above: make them visible first */
		CommandCounterIncrement();
		opsmeter_become_owner(&sw);
		SPI_connect();
		read_flags(ws->id, flags);
		SPI_finish();
		opsmeter_restore_user(&sw);
	}
}
