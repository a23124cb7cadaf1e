/*
 * worker.c — the background worker that keeps summaries current and
 * enforces retention: every opsmeter.worker_interval it runs one pass
 * (retention.c) in its own transaction, in database opsmeter.database.
 *
 * Skeleton as PostgreSQL's worker_spi: SIGHUP reloads the configuration,
 * SIGTERM ends the process (die), the latch wait exits on postmaster death.
 * An error in a pass is logged, the transaction aborted, and the loop goes
 * on; the pass is retried at the next interval.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "guc.h"
#include "retention.h"
#include "worker.h"

PGDLLEXPORT void opsmeter_worker_main(Datum main_arg);


void
opsmeter_worker_init(void)
{
	BackgroundWorker worker;

	if (!process_shared_preload_libraries_in_progress)
		return;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 10;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "opsmeter");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "opsmeter_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "opsmeter worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "opsmeter worker");
	RegisterBackgroundWorker(&worker);
}

/* True when the extension exists in this database (checked every pass). */
static bool
extension_installed(void)
{
	return OidIsValid(get_extension_oid("opsmeter", true));
}

/*
 * One pass in its own transaction.  Returns false (after logging) when the
 * pass could not run at all; failures inside a pass are recorded by
 * opsmeter_retention_pass() itself.
 */
static void
run_pass(bool *warned_missing)
{
	MemoryContext pass_cxt = CurrentMemoryContext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "opsmeter: retention pass");
	PG_TRY();
	{
		if (extension_installed())
		{
			*warned_missing = false;
			(void) opsmeter_retention_pass("worker");
		}
		else if (!*warned_missing)
		{
			ereport(LOG,
					(errmsg("opsmeter worker: extension \"opsmeter\" is not installed in database \"%s\"",
							opsmeter_database),
					 errhint("Run CREATE EXTENSION opsmeter there, or set opsmeter.database.")));
			*warned_missing = true;
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(pass_cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
	}
	PG_END_TRY();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}

void
opsmeter_worker_main(Datum main_arg)
{
	MemoryContext loop_cxt;
	bool		warned_missing = false;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(opsmeter_database,
										 opsmeter_worker_role[0] ? opsmeter_worker_role : NULL, 0);

	/*
	 * A pass acknowledges nothing to a client, and its summaries and watermark
	 * commit together: a pass lost in a crash is simply done again.  So its
	 * commits need not wait for the WAL flush that ingest commits compete for.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_USERSET, PGC_S_OVERRIDE);
	ereport(LOG,
			(errmsg("opsmeter worker started in database \"%s\", every %d s",
					opsmeter_database, opsmeter_worker_interval_s)));

	loop_cxt = AllocSetContextCreate(TopMemoryContext, "opsmeter worker pass", ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 (long) opsmeter_worker_interval_s * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ereport(LOG,
					(errmsg("opsmeter worker reloaded its configuration: enabled=%s, every %d s",
							opsmeter_worker_enabled ? "on" : "off", opsmeter_worker_interval_s)));
		}
		if (!opsmeter_worker_enabled)
			continue;

		MemoryContextSwitchTo(loop_cxt);
		run_pass(&warned_missing);
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(loop_cxt);
	}
}
