/*
 * tenancy.h — who is calling, in which workspace, with what role
 * (tenancy.c).  Builds on catalog.h and guc.h only.
 */
#ifndef OPSMETER_TENANCY_H
#define OPSMETER_TENANCY_H

#include "postgres.h"
#include "access/htup.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

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
	int64		raw_retention_usecs;	/* workspace setting, else the GUC; at most
										 * opsmeter.max_raw_retention */
	bool		has_budget;		/* a daily or monthly budget is set */
	ItemPointerData row;		/* the version of its opsmeter.workspaces row read */
} WorkspaceRef;

/*
 * Resolve the workspace of a call for "caller": the named one when name is
 * not NULL, else opsmeter.workspace, else the caller's only workspace.
 * Raises 42501 for non-members, 22023 when the choice is ambiguous.
 */
extern void opsmeter_resolve_workspace(Oid caller, const char *name, WorkspaceRef *out);

/*
 * Holds the workspace against opsmeter_drop_workspace() until the end of
 * the transaction, before a call writes any row of it; raises 42704 when it
 * was dropped since it was resolved.  See tenancy.c.
 */
extern void opsmeter_hold_workspace(WorkspaceRef *ws);

/*
 * Whether the version of the workspace's row ws was read from is still the
 * latest committed one (SnapshotSelf); if so and has_budget is not NULL,
 * whether that version sets a budget.  See tenancy.c.
 */
extern bool opsmeter_workspace_row_current(const WorkspaceRef *ws, bool *has_budget);

/* Whether a row of opsmeter.workspaces has a daily or monthly budget. */
extern bool opsmeter_workspace_row_has_budget(Relation workspaces, HeapTuple tup);

#endif							/* OPSMETER_TENANCY_H */
