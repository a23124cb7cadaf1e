/*
 * opsmeter.c — the module's entry point and nothing else: the magic block
 * and _PG_init, which hands each module its chance to set itself up.  The
 * layers and what each one may include are in src/README.md.
 */
#include "postgres.h"

#include "fmgr.h"

#include "guc.h"
#include "pricing.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Runs once per process when the library loads. */
void
_PG_init(void)
{
	opsmeter_guc_init();
	opsmeter_pricing_init();
	opsmeter_worker_init();
}
