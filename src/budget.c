/*
 * budget.c — the small counter behind budgets (SPEC §8).
 *
 * opsmeter.spend_counters holds, per workspace and UTC day, the spend of
 * the real rows stored so far, split into a few shards so that concurrent
 * ingests of one workspace do not queue on one row: a backend always adds
 * to the shard of its PGPROC slot.  The spend of a day is the sum of its
 * shards.  Counters are written in the same transaction as the rows they
 * count, so they are exact: they commit or vanish together.  Budget flags
 * read at most 31 days x 8 shards of this table, never the raw rows.
 *
 * Invariant: for every workspace and UTC day, sum(spend_usd) over the
 * shards = sum(cost_usd) of that day's stored rows with data_mode = real
 * (opsmeter_reprice adds its deltas the same way).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/numeric.h"

#include "ingest.h"

#define SPEND_SHARDS 8

static SPIPlanPtr add_spend_plan = NULL;
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

static void
add_spend(int64 workspace_id, int32 day, Numeric spend)
{
	Datum		args[4];

	if (add_spend_plan == NULL)
	{
		Oid			types[4] = {INT8OID, DATEOID, INT2OID, NUMERICOID};

		add_spend_plan = keep_plan(
			"INSERT INTO opsmeter.spend_counters AS c (workspace_id, day, shard, spend_usd) "
			"VALUES ($1, $2, $3, $4) "
			"ON CONFLICT (workspace_id, day, shard) "
			"DO UPDATE SET spend_usd = c.spend_usd OPERATOR(pg_catalog.+) excluded.spend_usd",
			4, types);
	}
	args[0] = Int64GetDatum(workspace_id);
	args[1] = DateADTGetDatum((DateADT) day);
	args[2] = Int16GetDatum((int16) (MyProc->pgprocno % SPEND_SHARDS));
	args[3] = NumericGetDatum(spend);
	if (SPI_execute_plan(add_spend_plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "opsmeter: could not add to the spend counter");
}

static void
read_flags(IngestCall *call)
{
	Datum		arg = Int64GetDatum(call->ws.id);
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
	call->budget_warning = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	call->budget_exceeded = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
}

void
budget_account(IngestCall *call)
{
	int32	   *days = palloc(sizeof(int32) * call->nevents);
	Numeric    *spend = palloc(sizeof(Numeric) * call->nevents);
	int			ndays = 0;
	OwnerSwitch sw;

	/* Real, priced, stored events, summed per UTC day (a call rarely spans two). */
	for (int i = 0; i < call->nevents; i++)
	{
		const OpsEvent *ev = &call->events[i];
		int32		day;
		int			d;

		if (ev->duplicate || ev->data_mode != DM_REAL || ev->cost_usd == NULL)
			continue;
		day = utc_day(ev->ts);
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
	if (ndays == 0 && !call->ws.has_budget)
		return;

	opsmeter_become_owner(&sw);
	SPI_connect();
	for (int d = 0; d < ndays; d++)
		add_spend(call->ws.id, days[d], spend[d]);
	if (call->ws.has_budget)
		read_flags(call);
	SPI_finish();
	opsmeter_restore_user(&sw);
}
