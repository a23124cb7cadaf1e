/*
 * catalog.h — the bottom layer: where the extension's objects are (schema
 * "opsmeter", its relations, types and enum values) and who owns them.
 * Includes no other opsmeter header.
 */
#ifndef OPSMETER_CATALOG_H
#define OPSMETER_CATALOG_H

#include "postgres.h"
#include "fmgr.h"

/*
 * The snapshot for a direct scan of an opsmeter table from a function
 * called inside a query: the query's (active) snapshot, so a C read agrees
 * with the SQL around it; NULL (a catalog snapshot) outside any query.
 */
extern struct SnapshotData *opsmeter_scan_snapshot(void);

/*
 * A number that changes whenever a schema, type or enum label may have been
 * created, renamed or dropped (a syscache invalidation of pg_namespace,
 * pg_type or pg_enum): an OID looked up by name under one epoch may be
 * reused while the epoch stays the same.
 */
extern uint64 opsmeter_catalog_names_epoch(void);

/* Schema "opsmeter" and objects inside it; errors when missing. */
extern Oid	opsmeter_schema_oid(void);
extern Oid	opsmeter_relid(const char *relname);
extern Oid	opsmeter_typid(const char *typname);
extern Oid	opsmeter_enum_value(Oid enumtypid, const char *label);

/*
 * The extension owner runs every write on behalf of callers, after the C
 * code has checked the caller (see src/README.md, "identity").
 */
typedef struct OwnerSwitch
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;	/* search_path pinned to pg_catalog, pg_temp */
} OwnerSwitch;

extern Oid	opsmeter_owner(void);
extern void opsmeter_become_owner(OwnerSwitch *sw);
extern void opsmeter_restore_user(const OwnerSwitch *sw);

/*
 * The body of a statement trigger on a table whose rows backends cache
 * (prices, key generations, workspaces, memberships): a relcache
 * invalidation of the table, sent to every backend at commit and seen by
 * this one at its next command; each cache listens with
 * CacheRegisterRelcacheCallback.  trigger_name is for the error when called
 * other than as a trigger.
 */
extern Datum opsmeter_announce_table_change(FunctionCallInfo fcinfo, const char *trigger_name);

#endif							/* OPSMETER_CATALOG_H */
