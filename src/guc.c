/*
 * guc.c — every opsmeter.* setting, defined in one place.  Names, defaults,
 * ranges, units and contexts are part of the interface (README
 * "Configuration"); the check hooks of the label lists live next to their
 * parser in labels.c.
 */
#include "postgres.h"

#include "utils/guc.h"
#include "utils/memutils.h"

#include "compat.h"
#include "guc.h"
#include "labels.h"

char	   *opsmeter_workspace_guc = NULL;
int			opsmeter_raw_retention_min = 30 * 24 * 60;
int			opsmeter_max_raw_retention_min = 400 * 24 * 60;
int			opsmeter_key_generation_min = 7 * 24 * 60;
int			opsmeter_key_generation_size_kb = 1024;
int			opsmeter_retention_runs_keep_min = 7 * 24 * 60;
int			opsmeter_summary_retention_min = 365 * 24 * 60;
int			opsmeter_max_batch_events = 10000;
int			opsmeter_max_payload_bytes = 64 * 1024 * 1024;
char	   *opsmeter_database = NULL;
char	   *opsmeter_worker_role = NULL;
bool		opsmeter_worker_enabled = true;
int			opsmeter_worker_interval_s = 60;
int			opsmeter_retention_lock_wait_ms = 200;
int			opsmeter_summarize_day_rows = 256;

/* Analytics session filters and window (filters.c reads them). */
char	   *opsmeter_data_mode_guc = NULL;
char	   *opsmeter_environment_guc = NULL;
char	   *opsmeter_range_guc = NULL;
OpsmeterRange opsmeter_range = {0, OPSMETER_RANGE_UNSET};

/*
 * opsmeter.range: "" (no window), or a count and a unit, "7d", "24h",
 * "90min", "7 days", "24 hours".  Days are calendar days, hours and minutes
 * are a rolling window (opsmeter.window_start()).  The value is kept as
 * typed, so SHOW gives back what was set.
 */
static bool
check_range(char **newval, void **extra, GucSource source)
{
	static const struct
	{
		const char *name;
		OpsmeterRangeUnit unit;
		int			factor;
	}			units[] = {
		{"d", OPSMETER_RANGE_DAYS, 1}, {"day", OPSMETER_RANGE_DAYS, 1}, {"days", OPSMETER_RANGE_DAYS, 1},
		{"w", OPSMETER_RANGE_DAYS, 7}, {"week", OPSMETER_RANGE_DAYS, 7}, {"weeks", OPSMETER_RANGE_DAYS, 7},
		{"h", OPSMETER_RANGE_HOURS, 1}, {"hour", OPSMETER_RANGE_HOURS, 1}, {"hours", OPSMETER_RANGE_HOURS, 1},
		{"min", OPSMETER_RANGE_MINUTES, 1}, {"mins", OPSMETER_RANGE_MINUTES, 1},
		{"minute", OPSMETER_RANGE_MINUTES, 1}, {"minutes", OPSMETER_RANGE_MINUTES, 1},
	};
	const char *p = *newval;
	int64		amount = 0;
	OpsmeterRange *parsed;

	while (*p == ' ')
		p++;
	if (*p != '\0')
	{
		const char *unit;
		size_t		len;
		size_t		i;

		if (*p < '0' || *p > '9')
			goto bad;
		while (*p >= '0' && *p <= '9' && amount <= 100 * 366 * 24 * 60)
			amount = amount * 10 + (*p++ - '0');
		while (*p == ' ')
			p++;
		unit = p;
		while (*p >= 'a' && *p <= 'z')
			p++;
		len = p - unit;
		while (*p == ' ')
			p++;
		if (*p != '\0' || amount <= 0)
			goto bad;
		for (i = 0; i < lengthof(units); i++)
			if (strlen(units[i].name) == len && strncmp(units[i].name, unit, len) == 0)
				break;
		if (i == lengthof(units))
			goto bad;
		amount *= units[i].factor;
		/* at most 100 years, as the function forms allow */
		if ((units[i].unit == OPSMETER_RANGE_DAYS && amount > 100 * 365) ||
			(units[i].unit == OPSMETER_RANGE_HOURS && amount > 100 * 365 * 24) ||
			(units[i].unit == OPSMETER_RANGE_MINUTES && amount > 100 * 365 * 24 * 60))
		{
			GUC_check_errdetail("opsmeter.range is at most 100 years.");
			return false;
		}
		parsed = opsmeter_guc_extra_alloc(sizeof(OpsmeterRange));
		if (parsed == NULL)
			return false;
		parsed->amount = (int32) amount;
		parsed->unit = units[i].unit;
		*extra = parsed;
		return true;
	}
	parsed = opsmeter_guc_extra_alloc(sizeof(OpsmeterRange));
	if (parsed == NULL)
		return false;
	parsed->amount = 0;
	parsed->unit = OPSMETER_RANGE_UNSET;
	*extra = parsed;
	return true;

bad:
	GUC_check_errdetail("opsmeter.range is empty (no window) or a count and a unit, such as 7d, 24h or 90min.");
	GUC_check_errhint("Units: d, day(s), w, week(s), h, hour(s), min, minute(s).");
	return false;
}

static void
assign_range(const char *newval, void *extra)
{
	opsmeter_range = *(OpsmeterRange *) extra;
}

void
opsmeter_guc_init(void)
{
	DefineCustomStringVariable("opsmeter.workspace",
							   "Name of the active workspace for opsmeter calls.",
							   "Empty means the caller's only workspace.",
							   &opsmeter_workspace_guc,
							   "",
							   PGC_USERSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("opsmeter.raw_retention",
							"How long raw request rows are kept.",
							"A workspace's own setting (opsmeter_set_retention) overrides it.",
							&opsmeter_raw_retention_min,
							30 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	/*
	 * Raw retention decides how many daily partitions of the shared events
	 * table exist, and every tenant's pass and views pay for each: no
	 * workspace may raise it past what the superuser configured.
	 */
	DefineCustomIntVariable("opsmeter.max_raw_retention",
							"Longest raw retention any workspace may have.",
							"Caps opsmeter.raw_retention and every workspace's own setting, and so the oldest event ingest accepts and the number of daily partitions.",
							&opsmeter_max_raw_retention_min,
							400 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("opsmeter.summary_retention",
							"How long summaries are kept.",
							"A workspace's own setting (opsmeter_set_retention) overrides it.",
							&opsmeter_summary_retention_min,
							365 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("opsmeter.max_batch_events",
							"Largest number of events one ingest call accepts.",
							NULL,
							&opsmeter_max_batch_events,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	/*
	 * Bounds the memory and time one call can take before any parsing; the
	 * batch limit alone does not, since events can be fat.
	 */
	DefineCustomIntVariable("opsmeter.max_payload_bytes",
							"Largest payload one ingest call accepts, in bytes.",
							"Measured as the jsonb argument's size or the NDJSON body's length.",
							&opsmeter_max_payload_bytes,
							64 * 1024 * 1024, 1024, (int) MaxAllocSize,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomStringVariable("opsmeter.database",
							   "Database the opsmeter background worker works in.",
							   NULL,
							   &opsmeter_database,
							   "postgres",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	DefineCustomStringVariable("opsmeter.worker_role",
							   "Role the opsmeter background worker connects as.",
							   "Empty means the bootstrap superuser; prefer a LOGIN role that is a member of opsmeter_admin.",
							   &opsmeter_worker_role,
							   "",
							   PGC_POSTMASTER, 0,
							   NULL, NULL, NULL);

	DefineCustomBoolVariable("opsmeter.worker_enabled",
							 "Whether the opsmeter background worker runs retention passes.",
							 NULL,
							 &opsmeter_worker_enabled,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("opsmeter.worker_interval",
							"Time between two passes of the opsmeter background worker.",
							NULL,
							&opsmeter_worker_interval_s,
							60, 1, 24 * 60 * 60,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);

	/*
	 * Dedup keys live in generations (src/README.md, "dedup"): ingest looks a
	 * new key up once per sealed generation, and a sealed one is dropped
	 * whole once its rows are gone.  Longer generations mean fewer lookups
	 * per event; shorter ones, a smaller index to write into and keys that
	 * outlive their rows by less.
	 */
	DefineCustomIntVariable("opsmeter.key_generation",
							"How long the open generation of dedup keys takes new keys before a retention pass seals it.",
							"Each sealed generation costs every new key one index lookup; a sealed generation is dropped whole once no retained day can hold its rows.",
							&opsmeter_key_generation_min,
							7 * 24 * 60, 1, 366 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	/*
	 * The open generation's unique index takes each new key on a random
	 * leaf page, and after a checkpoint the first write to a page logs it
	 * whole; so the WAL per call grows with that index's pages (src/README.md,
	 * "Generations by size").  Sealing it by size bounds them; retention
	 * passes merge the small sealed generations again.
	 */
	DefineCustomIntVariable("opsmeter.key_generation_size",
							"Size of the open generation's key index at which a retention pass seals it (0: by age only).",
							"Smaller keeps the WAL of each new key near an empty database's; retention passes merge the sealed generations eight at a time.",
							&opsmeter_key_generation_size_kb,
							1024, 0, INT_MAX / 1024,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/* opsmeter.retention_runs: one row per pass, 1,440 a day at the default interval */
	DefineCustomIntVariable("opsmeter.retention_runs_keep",
							"How long the record of each retention pass is kept in opsmeter.retention_runs.",
							"Every pass deletes the records older than this.",
							&opsmeter_retention_runs_keep_min,
							7 * 24 * 60, 60, 100 * 365 * 24 * 60,
							PGC_SIGHUP, GUC_UNIT_MIN,
							NULL, NULL, NULL);

	DefineCustomIntVariable("opsmeter.retention_lock_wait",
							"Longest wait of a retention pass for a table lock before it skips that step.",
							"A partition it cannot lock in time is left for the next pass; 0 means do not wait at all.",
							&opsmeter_retention_lock_wait_ms,
							200, 0, 60 * 1000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Read by the rollup (opsmeter._rollup(), in SQL): a workspace-day below
	 * it stays in raw rows only until its raw rows are about to leave.  0
	 * summarizes every day in the pass that first sees it.
	 */
	DefineCustomIntVariable("opsmeter.summarize_day_rows",
							"Rolled-up rows a workspace-day needs before the rollup writes its summary rows.",
							"A smaller day is answered from its raw rows, and summarized just before they leave retention; 0 summarizes every day at once.",
							&opsmeter_summarize_day_rows,
							256, 0, 1000000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("opsmeter.data_mode",
							   "Data modes the analytics views count: all, or a list of real, test, demo.",
							   "Views, exports and budget signals are real-only by default.",
							   &opsmeter_data_mode_guc,
							   "real",
							   PGC_USERSET, GUC_LIST_INPUT,
							   opsmeter_check_data_mode_guc, NULL, NULL);

	DefineCustomStringVariable("opsmeter.environment",
							   "Environments the analytics views count: all, or a list of prod, staging, dev.",
							   NULL,
							   &opsmeter_environment_guc,
							   "all",
							   PGC_USERSET, GUC_LIST_INPUT,
							   opsmeter_check_environment_guc, NULL, NULL);

	DefineCustomStringVariable("opsmeter.range",
							   "Reporting window of the analytics views: empty (everything retained) or e.g. 7d, 24h, 90min.",
							   "Days are calendar days in the session time zone, today included; "
							   "hours and minutes are a rolling window from the local hour or minute.",
							   &opsmeter_range_guc,
							   "",
							   PGC_USERSET, 0,
							   check_range, assign_range, NULL);

	MarkGUCPrefixReserved("opsmeter");
}
