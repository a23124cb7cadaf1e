/*
 * tenancy.c — who is calling and in which workspace.
 *
 * Membership is read here with direct index scans, not SQL, for two
 * reasons: row-level security policies call my_workspaces(), so reading the
 * table through SQL would recurse into its own policy; and GetUserId() in C
 * is the true caller, which a SECURITY DEFINER function cannot observe.
 * opsmeter_call_as_owner() builds on that: it hands the trusted caller to an
 * owner-only implementation function.  See src/README.md.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_relation.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "guc.h"
#include "tenancy.h"

PG_FUNCTION_INFO_V1(opsmeter_my_workspaces);
PG_FUNCTION_INFO_V1(opsmeter_my_role);
PG_FUNCTION_INFO_V1(opsmeter_active_workspace);
PG_FUNCTION_INFO_V1(opsmeter_resolve_workspace_sql);
PG_FUNCTION_INFO_V1(opsmeter_call_as_owner);
PG_FUNCTION_INFO_V1(opsmeter_lock_workspace_for_drop);
PG_FUNCTION_INFO_V1(opsmeter_tenancy_changed);

typedef struct Membership
{
	int64		workspace_id;
	Oid			role_value;		/* opsmeter.workspace_role enum value */
} Membership;

static WorkspaceRole
role_from_enum(Oid enumval)
{
	static const char *const labels[] = {"owner", "admin", "member", "viewer"};
	HeapTuple	tup = SearchSysCache1(ENUMOID, ObjectIdGetDatum(enumval));
	WorkspaceRole role = WS_ROLE_NONE;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for enum value %u", enumval);
	for (int i = 0; i < (int) lengthof(labels); i++)
		if (strcmp(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel), labels[i]) == 0)
			role = (WorkspaceRole) i;
	ReleaseSysCache(tup);
	return role;
}

/*
 * Scans workspace_members through one of its indexes.  With workspace_id
 * valid: that workspace's row for member; else all of member's rows.
 *
 * A row counts only while the role still has the name recorded when it
 * joined (column member_name, since 0.2.0): a dropped role's rows, inherited
 * by a later role that receives the same OID, grant that role nothing.
 * Under 0.1.0's schema, which has no such column, every row counts.
 */
static List *
scan_memberships(Oid member, int64 workspace_id, bool by_workspace)
{
	Relation	rel = table_open(opsmeter_relid("workspace_members"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	att_ws = attnameAttNum(rel, "workspace_id", false);
	AttrNumber	att_member = attnameAttNum(rel, "member", false);
	AttrNumber	att_role = attnameAttNum(rel, "role", false);
	AttrNumber	att_name = attnameAttNum(rel, "member_name", false);
	char	   *current_name = NULL;
	ScanKeyData keys[2];
	int			nkeys = 0;
	Oid			index;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *result = NIL;

	if (att_name != InvalidAttrNumber)
	{
		current_name = GetUserNameFromId(member, true);
		if (current_name == NULL)
		{
			/* no such role: no live memberships */
			table_close(rel, AccessShareLock);
			return NIL;
		}
	}

	if (by_workspace)
	{
		index = opsmeter_relid("workspace_members_pkey");
		ScanKeyInit(&keys[nkeys++], att_ws, BTEqualStrategyNumber, F_INT8EQ,
					Int64GetDatum(workspace_id));
	}
	else
		index = opsmeter_relid("workspace_members_member_idx");
	ScanKeyInit(&keys[nkeys++], att_member, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(member));

	scan = systable_beginscan(rel, index, true, opsmeter_scan_snapshot(), nkeys, keys);
	while ((tup = systable_getnext(scan)) != NULL)
	{
		Membership *m;
		bool		isnull;

		if (current_name != NULL)
		{
			Datum		recorded = heap_getattr(tup, att_name, desc, &isnull);

			if (isnull || strcmp(NameStr(*DatumGetName(recorded)), current_name) != 0)
				continue;
		}
		m = palloc(sizeof(Membership));
		m->workspace_id = DatumGetInt64(heap_getattr(tup, att_ws, desc, &isnull));
		m->role_value = DatumGetObjectId(heap_getattr(tup, att_role, desc, &isnull));
		result = lappend(result, m);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

static Membership *
membership_in(int64 workspace_id, Oid member)
{
	List	   *rows = scan_memberships(member, workspace_id, true);

	return rows == NIL ? NULL : linitial(rows);
}

/*
 * Looks a workspace up by name (name != NULL) or by id; fills id, name and
 * raw retention.  Returns false when there is no such workspace.
 */
bool
opsmeter_workspace_row_has_budget(Relation workspaces, HeapTuple tup)
{
	TupleDesc	desc = RelationGetDescr(workspaces);
	bool		no_daily;
	bool		no_monthly;

	(void) heap_getattr(tup, attnameAttNum(workspaces, "daily_budget_usd", false), desc, &no_daily);
	(void) heap_getattr(tup, attnameAttNum(workspaces, "monthly_budget_usd", false), desc, &no_monthly);
	return !no_daily || !no_monthly;
}

static bool
lookup_workspace(const char *name, int64 id, WorkspaceRef *out)
{
	Relation	rel = table_open(opsmeter_relid("workspaces"), AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	AttrNumber	att_id = attnameAttNum(rel, "workspace_id", false);
	AttrNumber	att_name = attnameAttNum(rel, "name", false);
	AttrNumber	att_raw = attnameAttNum(rel, "raw_retention", false);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	if (name != NULL)
	{
		ScanKeyInit(&key, att_name, BTEqualStrategyNumber, F_TEXTEQ,
					CStringGetTextDatum(name));
		key.sk_collation = DEFAULT_COLLATION_OID;
		scan = systable_beginscan(rel, opsmeter_relid("workspaces_name_key"), true,
								  opsmeter_scan_snapshot(), 1, &key);
	}
	else
	{
		ScanKeyInit(&key, att_id, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
		scan = systable_beginscan(rel, opsmeter_relid("workspaces_pkey"), true,
								  opsmeter_scan_snapshot(), 1, &key);
	}

	if ((tup = systable_getnext(scan)) != NULL)
	{
		bool		isnull;
		Datum		raw;

		found = true;
		out->row = tup->t_self;
		out->id = DatumGetInt64(heap_getattr(tup, att_id, desc, &isnull));
		out->name = TextDatumGetCString(heap_getattr(tup, att_name, desc, &isnull));
		raw = heap_getattr(tup, att_raw, desc, &isnull);
		if (isnull)
			out->raw_retention_usecs = (int64) opsmeter_raw_retention_min * USECS_PER_MINUTE;
		else
		{
			Interval   *iv = DatumGetIntervalP(raw);

			out->raw_retention_usecs = iv->time + (int64) iv->day * USECS_PER_DAY
				+ (int64) iv->month * DAYS_PER_MONTH * USECS_PER_DAY;
		}
		/* A setting made before the ceiling was lowered is capped, not trusted. */
		out->raw_retention_usecs = Min(out->raw_retention_usecs,
									   (int64) opsmeter_max_raw_retention_min * USECS_PER_MINUTE);
		out->has_budget = opsmeter_workspace_row_has_budget(rel, tup);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * The names of the workspaces of memberships, for a hint: the first
 * HINT_NAMES of them, then how many more.  A role can belong to thousands
 * of workspaces; the hint stays one line, and costs that many lookups at
 * most.
 */
#define HINT_NAMES 10

static char *
workspace_names(List *memberships)
{
	StringInfoData buf;
	ListCell   *lc;
	int			listed = 0;

	initStringInfo(&buf);
	foreach(lc, memberships)
	{
		WorkspaceRef ws;

		if (listed == HINT_NAMES)
		{
			appendStringInfo(&buf, " and %d more (SELECT name FROM opsmeter.workspaces lists them)",
							 list_length(memberships) - listed);
			break;
		}
		if (lookup_workspace(NULL, ((Membership *) lfirst(lc))->workspace_id, &ws))
		{
			appendStringInfo(&buf, "%s%s", listed > 0 ? ", " : "", quote_literal_cstr(ws.name));
			listed++;
		}
	}
	return buf.data;
}

static void
resolve_uncached(Oid caller, const char *name, WorkspaceRef *out)
{
	const char *rolname = GetUserNameFromId(caller, true);

	if (rolname == NULL)
		rolname = "(dropped role)";

	if (name != NULL)
	{
		Membership *m = NULL;
		bool		found = lookup_workspace(name, 0, out);

		if (found)
			m = membership_in(out->id, caller);
		if (m != NULL)
			out->role = role_from_enum(m->role_value);
		else if (found && superuser_arg(caller))
			out->role = WS_ROLE_OWNER;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for workspace \"%s\"", name),
					 errdetail("Role \"%s\" is not a member of a workspace of that name.", rolname),
					 errhint("Set opsmeter.workspace to one of your workspaces, or ask an owner of \"%s\" to run opsmeter_add_member().", name)));
		return;
	}
	else
	{
		List	   *rows = scan_memberships(caller, 0, false);

		if (rows == NIL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("role \"%s\" is not a member of any workspace", rolname),
					 errhint("Ask a workspace owner or admin to run opsmeter_add_member(), or set opsmeter.workspace.")));
		if (list_length(rows) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("opsmeter.workspace is not set and role \"%s\" belongs to %d workspaces",
							rolname, list_length(rows)),
					 errhint("Choose one: SET opsmeter.workspace = <name>; its workspaces are %s.",
							 workspace_names(rows))));
		if (!lookup_workspace(NULL, ((Membership *) linitial(rows))->workspace_id, out))
			elog(ERROR, "workspace " INT64_FORMAT " vanished", ((Membership *) linitial(rows))->workspace_id);
		out->role = role_from_enum(((Membership *) linitial(rows))->role_value);
	}
}

/*
 * The last resolution this backend made, reused while nothing it was read
 * from has changed: resolving costs two index scans (the workspace by name,
 * the caller's membership), about a tenth of a single-event ingest call.
 *
 * Invariant: a reused answer is what resolve_uncached() would return now,
 * as of the last invalidation this backend has processed.  Every change to
 * opsmeter.workspaces or opsmeter.workspace_members sends a relcache
 * invalidation (statement trigger opsmeter._tenancy_changed, to every
 * backend at commit and to this one at its next command), every change to a
 * role (rename, drop, superuser) a pg_authid one; each empties the cache.
 * The entry also records the request (caller, name) and the settings the
 * answer depends on.  Invalidations are accepted before each lookup, so a
 * change committed before a call began is seen by it, inside a long
 * transaction too.  Errors are never cached.  Tested by
 * test/isolation/specs/resolution_cache.spec.
 */
static struct
{
	bool		valid;
	Oid			caller;
	char	   *name;			/* the name asked for; NULL: the caller's only workspace */
	int			raw_retention_min;
	int			max_raw_retention_min;
	Oid			workspaces_relid;
	Oid			members_relid;
	WorkspaceRef ref;
}			resolved;
static bool resolved_callbacks_registered = false;

static void
forget_resolved(void)
{
	resolved.valid = false;
	if (resolved.name != NULL)
		pfree(resolved.name);
	resolved.name = NULL;
	if (resolved.ref.name != NULL)
		pfree(resolved.ref.name);
	resolved.ref.name = NULL;
}

static void
resolved_relcache_callback(Datum arg, Oid relid)
{
	if (resolved.valid && (relid == InvalidOid || relid == resolved.workspaces_relid ||
						   relid == resolved.members_relid))
		resolved.valid = false; /* no pfree in a callback: freed when replaced */
}

static void
resolved_authid_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	resolved.valid = false;
}

/* Trigger on opsmeter.workspaces and workspace_members: every backend forgets. */
Datum
opsmeter_tenancy_changed(PG_FUNCTION_ARGS)
{
	return opsmeter_announce_table_change(fcinfo, "opsmeter_tenancy_changed");
}

/*
 * Whether both tables carry the trigger: under 0.1.0's schema (before
 * ALTER EXTENSION opsmeter UPDATE) they do not, and nothing is cached.
 */
static bool
tables_announce_changes(void)
{
	oidvector  *no_args = buildoidvector(NULL, 0);

	return OidIsValid(GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid,
									  CStringGetDatum("_tenancy_changed"),
									  PointerGetDatum(no_args),
									  ObjectIdGetDatum(opsmeter_schema_oid())));
}

void
opsmeter_resolve_workspace(Oid caller, const char *name, WorkspaceRef *out)
{
	if (name == NULL || name[0] == '\0')
		name = (opsmeter_workspace_guc && opsmeter_workspace_guc[0]) ? opsmeter_workspace_guc : NULL;

	AcceptInvalidationMessages();
	if (resolved.valid && resolved.caller == caller &&
		(name == NULL ? resolved.name == NULL
		 : (resolved.name != NULL && strcmp(name, resolved.name) == 0)) &&
		resolved.raw_retention_min == opsmeter_raw_retention_min &&
		resolved.max_raw_retention_min == opsmeter_max_raw_retention_min)
	{
		*out = resolved.ref;
		out->name = pstrdup(resolved.ref.name);
		return;
	}

	resolve_uncached(caller, name, out);

	if (!tables_announce_changes())
		return;
	if (!resolved_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(resolved_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, resolved_authid_callback, (Datum) 0);
		resolved_callbacks_registered = true;
	}
	forget_resolved();
	resolved.caller = caller;
	resolved.name = name ? MemoryContextStrdup(TopMemoryContext, name) : NULL;
	resolved.raw_retention_min = opsmeter_raw_retention_min;
	resolved.max_raw_retention_min = opsmeter_max_raw_retention_min;
	resolved.workspaces_relid = opsmeter_relid("workspaces");
	resolved.members_relid = opsmeter_relid("workspace_members");
	resolved.ref = *out;
	resolved.ref.name = MemoryContextStrdup(TopMemoryContext, out->name);
	resolved.valid = true;
}

/*
 * The drop barrier.  A call that writes a workspace's rows holds this lock
 * on the workspace in AccessShareLock mode until it ends;
 * opsmeter_drop_workspace() deletes the workspace's row and then takes the
 * lock in AccessExclusiveLock mode, so it erases only after every write in
 * flight has ended, and every later one waits for it.  A heavyweight lock
 * on an object no SQL command can name (class: opsmeter.workspaces), so no
 * tenant can take it to stall another, and a drop waits for that
 * workspace's calls alone.
 */
static void
set_workspace_locktag(LOCKTAG *tag, int64 workspace_id)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId, opsmeter_relid("workspaces"),
					   (uint32) workspace_id, (uint16) ((uint64) workspace_id >> 32));
}

/*
 * After the lock, the workspace's row as it was resolved must still be the
 * latest committed version: one read of that version (SnapshotSelf), no
 * index scan.  A drop that held the lock before us has ended by now
 * (committed: the version is deleted, we refuse; rolled back: it is live);
 * a drop that deleted the row but waits for our lock sees the version as
 * still live here, and erases what we write after we commit.  Any other
 * committed change to the row (a rename, a budget) also makes that version
 * stale: then the workspace is looked up again, by id, as it is now.
 */
void
opsmeter_hold_workspace(WorkspaceRef *ws)
{
	LOCKTAG		tag;

	set_workspace_locktag(&tag, ws->id);
	(void) LockAcquire(&tag, AccessShareLock, false, false);

	if (!opsmeter_workspace_row_current(ws, NULL))
	{
		WorkspaceRole role = ws->role;
		bool		found;

		PushActiveSnapshot(GetLatestSnapshot());
		found = lookup_workspace(NULL, ws->id, ws);
		PopActiveSnapshot();
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("workspace \"%s\" was dropped", ws->name),
					 errdetail("opsmeter_drop_workspace() erased it while this call waited to write."),
					 errhint("Nothing of this call was stored.")));
		ws->role = role;
	}
}

/*
 * Whether the version of the workspace's row that ws was read from is still
 * the latest committed one: one heap fetch with SnapshotSelf, under which a
 * version is gone only once its deleter (or updater) has committed, and at
 * most one version of a row is visible.  It must also still be that
 * workspace's row: a resolution reused across transactions could point at a
 * version since vacuumed away and its slot taken by another row.  When it
 * is current and has_budget is not NULL, *has_budget is read from it.
 */
bool
opsmeter_workspace_row_current(const WorkspaceRef *ws, bool *has_budget)
{
	Relation	rel = table_open(opsmeter_relid("workspaces"), AccessShareLock);
	HeapTupleData tuple;
	Buffer		buf;
	bool		current = false;

	tuple.t_self = ws->row;
	if (ItemPointerIsValid(&ws->row) && heap_fetch(rel, SnapshotSelf, &tuple, &buf, false))
	{
		bool		isnull;

		current = DatumGetInt64(heap_getattr(&tuple, attnameAttNum(rel, "workspace_id", false),
											 RelationGetDescr(rel), &isnull)) == ws->id;
		if (current && has_budget != NULL)
			*has_budget = opsmeter_workspace_row_has_budget(rel, &tuple);
		ReleaseBuffer(buf);
	}
	table_close(rel, AccessShareLock);
	return current;
}

/* opsmeter._lock_workspace_for_drop(workspace_id): the other side of it. */
Datum
opsmeter_lock_workspace_for_drop(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	set_workspace_locktag(&tag, PG_GETARG_INT64(0));
	(void) LockAcquire(&tag, AccessExclusiveLock, false, false);
	PG_RETURN_VOID();
}

/* opsmeter.my_workspaces(): ids of current_user's workspaces (RLS key). */
Datum
opsmeter_my_workspaces(PG_FUNCTION_ARGS)
{
	List	   *rows = scan_memberships(GetUserId(), 0, false);
	Datum	   *ids = palloc(sizeof(Datum) * Max(list_length(rows), 1));
	int			n = 0;
	ListCell   *lc;

	foreach(lc, rows)
		ids[n++] = Int64GetDatum(((Membership *) lfirst(lc))->workspace_id);
	PG_RETURN_ARRAYTYPE_P(construct_array(ids, n, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* opsmeter.my_role(workspace_id): current_user's role there, or NULL. */
Datum
opsmeter_my_role(PG_FUNCTION_ARGS)
{
	Membership *m = membership_in(PG_GETARG_INT64(0), GetUserId());

	if (m == NULL)
		PG_RETURN_NULL();
	PG_RETURN_OID(m->role_value);
}

/* opsmeter.active_workspace(): the workspace a call of current_user acts in. */
Datum
opsmeter_active_workspace(PG_FUNCTION_ARGS)
{
	WorkspaceRef ws;

	opsmeter_resolve_workspace(GetUserId(), NULL, &ws);
	PG_RETURN_INT64(ws.id);
}

/* opsmeter._resolve_workspace(caller, name): for owner-only *_impl code. */
Datum
opsmeter_resolve_workspace_sql(PG_FUNCTION_ARGS)
{
	WorkspaceRef ws;
	TupleDesc	desc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	static const char *const labels[] = {"owner", "admin", "member", "viewer"};

	if (PG_ARGISNULL(0))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("caller must not be NULL")));
	opsmeter_resolve_workspace(PG_GETARG_OID(0),
							   PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1)),
							   &ws);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	values[0] = Int64GetDatum(ws.id);
	values[1] = ObjectIdGetDatum(opsmeter_enum_value(opsmeter_typid("workspace_role"), labels[ws.role]));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * The trampoline behind opsmeter_create_workspace, opsmeter_add_member, ...:
 * calls opsmeter._<name>_impl(caller, <same arguments>) as the extension
 * owner, with caller = the role that called us.  The impl functions are not
 * executable by PUBLIC, so the caller argument cannot be forged.
 */
typedef struct TrampolineTarget
{
	FmgrInfo	impl;
} TrampolineTarget;

Datum
opsmeter_call_as_owner(PG_FUNCTION_ARGS)
{
	TrampolineTarget *target = fcinfo->flinfo->fn_extra;
	LOCAL_FCINFO(implfc, FUNC_MAX_ARGS);
	OwnerSwitch sw;
	Oid			caller = GetUserId();
	Datum		result;
	int			nargs = PG_NARGS();

	if (nargs + 1 > FUNC_MAX_ARGS)
		elog(ERROR, "too many arguments for opsmeter_call_as_owner");
	if (target == NULL)
	{
		Oid			fn_oid = fcinfo->flinfo->fn_oid;
		Oid		   *argtypes;
		int			sig_nargs;
		Oid			impl_argtypes[FUNC_MAX_ARGS];
		char	   *impl_name;
		Oid			impl_oid;

		get_func_signature(fn_oid, &argtypes, &sig_nargs);
		impl_argtypes[0] = REGROLEOID;
		memcpy(impl_argtypes + 1, argtypes, sizeof(Oid) * sig_nargs);
		impl_name = psprintf("_%s_impl", get_func_name(fn_oid));
		impl_oid = LookupFuncName(list_make2(makeString("opsmeter"), makeString(impl_name)),
								  sig_nargs + 1, impl_argtypes, false);
		target = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(TrampolineTarget));
		fmgr_info_cxt(impl_oid, &target->impl, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = target;
	}

	/* a set-returning impl fills our caller's ReturnSetInfo (materialize mode) */
	InitFunctionCallInfoData(*implfc, &target->impl, nargs + 1, fcinfo->fncollation, NULL,
							 fcinfo->resultinfo);
	implfc->args[0].value = ObjectIdGetDatum(caller);
	implfc->args[0].isnull = false;
	for (int i = 0; i < nargs; i++)
		implfc->args[i + 1] = fcinfo->args[i];

	opsmeter_become_owner(&sw);
	result = FunctionCallInvoke(implfc);
	opsmeter_restore_user(&sw);

	if (implfc->isnull)
		PG_RETURN_NULL();
	return result;
}
