/*
 * worker.h — the background worker that runs retention passes (worker.c).
 */
#ifndef OPSMETER_WORKER_H
#define OPSMETER_WORKER_H

#include "postgres.h"

/*
 * Registers the worker when the library loads through
 * shared_preload_libraries (a worker can be registered only then); does
 * nothing otherwise.
 */
extern void opsmeter_worker_init(void);

#endif							/* OPSMETER_WORKER_H */
