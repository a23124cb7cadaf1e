/*
 * opsmeter.h — what every room of the extension shares: GUCs, catalog
 * lookups, the extension owner, and the caller's workspace.
 */
#ifndef OPSMETER_H
#define OPSMETER_H

#include "postgres.h"
#include "access/htup.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"
#include "utils/timestamp.h"

/* GUCs (src/opsmeter.c) */
extern char *opsmeter_workspace_guc;
extern int	opsmeter_raw_retention_min;
extern int	opsmeter_summary_retention_min;
extern int	opsmeter_max_batch_events;
extern int	opsmeter_max_payload_bytes;
extern char *opsmeter_database;
extern char *opsmeter_worker_role;
extern bool opsmeter_worker_enabled;
extern int	opsmeter_worker_interval_s;

/* The background worker (src/worker.c). */
extern void opsmeter_register_worker(void);

/* One rollup + retention pass, recorded (src/retention.c); returns jsonb. */
extern Jsonb *opsmeter_retention_pass(const char *trigger);

/* Analytics filters and window GUCs (src/filters.c). */
extern void filters_define_gucs(void);

/* Registers the price catalog's cache invalidation (src/pricing.c). */
extern void pricing_register_invalidation(void);

/* Schema "opsmeter" and relations inside it; errors when missing. */
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

/* Workspace roles, in enum order of opsmeter.workspace_role. */
typedef enum WorkspaceRole
{
	WS_ROLE_NONE = -1,
	WS_ROLE_OWNER = 0,
	WS_ROLE_ADMIN,
	WS_ROLE_MEMBER,
	WS_ROLE_VIEWER
} WorkspaceRole;

typedef struct WorkspaceRef
{
	int64		id;
	char	   *name;
	WorkspaceRole role;			/* superusers act as owner */
	int64		raw_retention_usecs;	/* workspace setting, else the GUC */
	bool		has_budget;		/* a daily or monthly budget is set */
} WorkspaceRef;

/*
 * Resolve the workspace of a call for "caller": the named one when name is
 * not NULL, else opsmeter.workspace, else the caller's only workspace.
 * Raises 42501 for non-members, 22023 when the choice is ambiguous.
 */
extern void opsmeter_resolve_workspace(Oid caller, const char *name, WorkspaceRef *out);

/* Whether a row of opsmeter.workspaces has a daily or monthly budget. */
extern bool opsmeter_workspace_row_has_budget(Relation workspaces, HeapTuple tup);

#endif							/* OPSMETER_H */
