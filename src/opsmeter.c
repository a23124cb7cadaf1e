/*
 * opsmeter.c — module entry: GUCs and the small catalog helpers every other
 * file uses (schema, relations, enum values, the extension owner).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "opsmeter.h"

PG_MODULE_MAGIC;

char	   *opsmeter_workspace_guc = NULL;
int			opsmeter_raw_retention_min = 30 * 24 * 60;
int			opsmeter_summary_retention_min = 365 * 24 * 60;
int			opsmeter_max_batch_events = 10000;
int			opsmeter_max_payload_bytes = 64 * 1024 * 1024;
char	   *opsmeter_database = NULL;
char	   *opsmeter_worker_role = NULL;
bool		opsmeter_worker_enabled = true;
int			opsmeter_worker_interval_s = 60;

void		_PG_init(void);

/* Defines the GUCs; runs once per backend when the library loads. */
void
_PG_init(void)
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

	filters_define_gucs();

	MarkGUCPrefixReserved("opsmeter");

	pricing_register_invalidation();
	if (process_shared_preload_libraries_in_progress)
		opsmeter_register_worker();
}

Oid
opsmeter_schema_oid(void)
{
	Oid			nsp = get_namespace_oid("opsmeter", true);

	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"opsmeter\" does not exist"),
				 errhint("Run CREATE EXTENSION opsmeter in this database.")));
	return nsp;
}

Oid
opsmeter_relid(const char *relname)
{
	Oid			relid = get_relname_relid(relname, opsmeter_schema_oid());

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"opsmeter.%s\" does not exist", relname),
				 errhint("The opsmeter extension is damaged; reinstall it.")));
	return relid;
}

Oid
opsmeter_typid(const char *typname)
{
	Oid			typid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										CStringGetDatum(typname),
										ObjectIdGetDatum(opsmeter_schema_oid()));

	if (!OidIsValid(typid))
		elog(ERROR, "type opsmeter.%s does not exist", typname);
	return typid;
}

Oid
opsmeter_enum_value(Oid enumtypid, const char *label)
{
	Oid			val = GetSysCacheOid2(ENUMTYPOIDNAME, Anum_pg_enum_oid,
									  ObjectIdGetDatum(enumtypid),
									  CStringGetDatum(label));

	if (!OidIsValid(val))
		elog(ERROR, "enum %u has no label \"%s\"", enumtypid, label);
	return val;
}

/* The owner of the extension's tables, who performs all writes. */
Oid
opsmeter_owner(void)
{
	Oid			relid = opsmeter_relid("workspaces");
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Runs what follows as the extension owner with search_path pinned, so that
 * objects a caller plants on its search_path never run with the owner's
 * rights.  On error, (sub)transaction abort restores both, as it does for
 * SECURITY DEFINER functions.
 */
void
opsmeter_become_owner(OwnerSwitch *sw)
{
	Oid			owner = opsmeter_owner();

	GetUserIdAndSecContext(&sw->saved_userid, &sw->saved_sec_context);
	SetUserIdAndSecContext(owner, sw->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	sw->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

void
opsmeter_restore_user(const OwnerSwitch *sw)
{
	AtEOXact_GUC(true, sw->guc_nest_level);
	SetUserIdAndSecContext(sw->saved_userid, sw->saved_sec_context);
}
