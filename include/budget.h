/*
 * budget.h — the spend counters behind budgets (budget.c, SPEC §8).
 * Builds on catalog.h, tenancy.h, event.h and storage.h.
 */
#ifndef OPSMETER_BUDGET_H
#define OPSMETER_BUDGET_H

#include "postgres.h"

#include "event.h"
#include "tenancy.h"

/* The budget flags an ingest call answers with. */
typedef struct BudgetFlags
{
	bool		warning;
	bool		exceeded;
} BudgetFlags;

/*
 * Adds the stored events' real spend to the workspace's spend counters
 * and, when the workspace has a budget, sets the flags.  ws->has_budget is
 * refreshed to the budget as committed now.
 */
extern void opsmeter_budget_account(WorkspaceRef *ws, const OpsEvent *events, int nevents,
									BudgetFlags *flags);

#endif							/* OPSMETER_BUDGET_H */
