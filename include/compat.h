/*
 * compat.h — the PostgreSQL server APIs that differ between the releases
 * opsmeter builds against (15 to 18).  Every PG_VERSION_NUM test of the
 * extension lives here, each naming the release that changed the API, so
 * the rest of the code is written once, against the names below.
 *
 * It includes no other opsmeter header: any layer may include it.
 */
#ifndef OPSMETER_COMPAT_H
#define OPSMETER_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "executor/executor.h"
#include "storage/lock.h"
#include "storage/proc.h"

#if PG_VERSION_NUM < 150000
#error "opsmeter needs PostgreSQL 15 or later"
#endif

/*
 * PostgreSQL 16 moved the varlena macros (VARDATA_ANY, VARSIZE_ANY_EXHDR,
 * ...) out of postgres.h into varatt.h.
 */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/*
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after the
 * declarator, with pg_noreturn, a specifier written before the declaration
 * (C11 _Noreturn).  GCC and Clang accept the noreturn attribute in that
 * place too, so older releases get pg_noreturn spelled as the attribute.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

/*
 * This backend's PGPROC slot number (0 .. MaxBackends + auxiliaries - 1),
 * which no other live process holds.  PostgreSQL 17 removed
 * PGPROC.pgprocno in favour of the MyProcNumber global.
 */
static inline int
opsmeter_my_proc_number(void)
{
#if PG_VERSION_NUM >= 170000
	return MyProcNumber;
#else
	return MyProc->pgprocno;
#endif
}

/*
 * index_beginscan() without instrumentation.  PostgreSQL 18 added the
 * IndexScanInstrumentation argument (NULL: nothing is counted).
 */
static inline IndexScanDesc
opsmeter_index_beginscan(Relation heap, Relation index, Snapshot snapshot,
						 int nkeys, int norderbys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, norderbys);
#else
	return index_beginscan(heap, index, snapshot, nkeys, norderbys);
#endif
}

/*
 * Index entries for one new heap tuple, as an INSERT makes them (not an
 * UPDATE; every index, not only summarizing ones).  With no_dup_err a
 * unique index reports a conflicting key in the returned list instead of
 * raising.  PostgreSQL 16 added the onlySummarizing argument.
 */
static inline List *
opsmeter_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate,
							 bool no_dup_err, bool *spec_conflict)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, false, no_dup_err, spec_conflict, NIL, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, no_dup_err, spec_conflict, NIL);
#endif
}

/*
 * Whether this transaction holds the lock (in exactly this mode).
 * PostgreSQL 17 added the orstronger argument.
 */
static inline bool
opsmeter_lock_held_by_me(const LOCKTAG *tag, LOCKMODE mode)
{
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
}

/*
 * The virtual transaction holding (or awaiting) one lock of
 * GetLockStatusData().  PostgreSQL 17 replaced the backend and lxid fields
 * with one VirtualTransactionId.
 */
static inline VirtualTransactionId
opsmeter_lock_instance_vxid(const LockInstanceData *instance)
{
#if PG_VERSION_NUM >= 170000
	return instance->vxid;
#else
	VirtualTransactionId vxid;

	vxid.backendId = instance->backend;
	vxid.localTransactionId = instance->lxid;
	return vxid;
#endif
}

/*
 * A GUC check hook's "extra": PostgreSQL 16 frees it with guc_free() and
 * wants it from guc_malloc(); 15 frees it with free().
 */
#if PG_VERSION_NUM >= 160000
#include "utils/guc.h"
#define opsmeter_guc_extra_alloc(size) guc_malloc(LOG, (size))
#else
#define opsmeter_guc_extra_alloc(size) malloc(size)
#endif

#endif							/* OPSMETER_COMPAT_H */
