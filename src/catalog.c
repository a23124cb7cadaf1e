/*
 * catalog.c — where the extension's objects are (schema, relations, types,
 * enum values) and the switch to their owner, which every write on behalf
 * of a caller goes through.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"

Snapshot
opsmeter_scan_snapshot(void)
{
	return ActiveSnapshotSet() ? GetActiveSnapshot() : NULL;
}

/*
 * The name lookups every ingest call makes (the schema, the enum types and
 * their labels) are answered from this backend's memory between changes to
 * the catalogs they come from.  Any invalidation of the syscaches that
 * resolve those names (pg_namespace, pg_type, pg_enum by name) bumps
 * names_epoch, in the same moment the syscache drops its own entries; a
 * memorized answer counts only while the epoch it was read under is the
 * current one.  So a memorized answer is the one the syscache would give:
 * after DROP and CREATE EXTENSION in one session, or a renamed schema, the
 * next call looks the names up again (test: sql/reinstall.sql).
 */
static uint64 names_epoch = 1;

static void
names_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	names_epoch++;
}

uint64
opsmeter_catalog_names_epoch(void)
{
	static bool watching = false;

	if (!watching)
	{
		CacheRegisterSyscacheCallback(NAMESPACENAME, names_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(TYPENAMENSP, names_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(ENUMTYPOIDNAME, names_changed, (Datum) 0);
		watching = true;
	}
	return names_epoch;
}

Oid
opsmeter_schema_oid(void)
{
	static Oid	memorized = InvalidOid;
	static uint64 memorized_epoch = 0;

	/* read before the lookup: an invalidation taken during it voids the answer */
	uint64		epoch = opsmeter_catalog_names_epoch();
	Oid			nsp;

	if (memorized_epoch == epoch)
		return memorized;
	nsp = get_namespace_oid("opsmeter", true);
	if (!OidIsValid(nsp))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema \"opsmeter\" does not exist"),
				 errhint("Run CREATE EXTENSION opsmeter in this database.")));
	memorized = nsp;
	memorized_epoch = epoch;
	return nsp;
}

/*
 * Relations by name, memorized the same way under their own epoch, which
 * every invalidation of pg_class or pg_namespace by name bumps: partitions
 * and key generations come and go all day, and each such change must not
 * make every ingest look up the schema and enum labels again.  About a
 * dozen fixed names are asked for, so the memory is a short list.
 */
#define MEMORIZED_RELATIONS 32

typedef struct MemorizedRelation
{
	char		name[NAMEDATALEN];
	Oid			relid;
} MemorizedRelation;

static MemorizedRelation memorized_relations[MEMORIZED_RELATIONS];
static int	nmemorized_relations = 0;
static uint64 relations_epoch = 1;
static uint64 memorized_relations_epoch = 0;

static void
relation_names_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	relations_epoch++;
}

static Oid
memorized_relid(const char *relname, uint64 epoch)
{
	if (memorized_relations_epoch != epoch)
	{
		nmemorized_relations = 0;
		memorized_relations_epoch = epoch;
		return InvalidOid;
	}
	for (int i = 0; i < nmemorized_relations; i++)
		if (strcmp(memorized_relations[i].name, relname) == 0)
			return memorized_relations[i].relid;
	return InvalidOid;
}

Oid
opsmeter_relid(const char *relname)
{
	static bool watching = false;
	uint64		epoch;
	Oid			relid;

	if (!watching)
	{
		CacheRegisterSyscacheCallback(RELNAMENSP, relation_names_changed, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACENAME, relation_names_changed, (Datum) 0);
		watching = true;
	}
	/* read before the lookup: an invalidation taken during it voids the answer */
	epoch = relations_epoch;
	relid = memorized_relid(relname, epoch);
	if (OidIsValid(relid))
		return relid;
	relid = get_relname_relid(relname, opsmeter_schema_oid());
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"opsmeter.%s\" does not exist", relname),
				 errhint("The opsmeter extension is damaged; reinstall it.")));
	if (memorized_relations_epoch == epoch && nmemorized_relations < MEMORIZED_RELATIONS &&
		strlen(relname) < NAMEDATALEN)
	{
		strlcpy(memorized_relations[nmemorized_relations].name, relname, NAMEDATALEN);
		memorized_relations[nmemorized_relations].relid = relid;
		nmemorized_relations++;
	}
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

Datum
opsmeter_announce_table_change(FunctionCallInfo fcinfo, const char *trigger_name)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "%s: not called as a trigger", trigger_name);
	CacheInvalidateRelcache(((TriggerData *) fcinfo->context)->tg_relation);
	return PointerGetDatum(NULL);
}
