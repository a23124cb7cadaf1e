/*
 * ingest.c — the pipeline behind both ingest entry points:
 * caller and workspace -> (parser) -> price -> dedup + store -> response.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "budget.h"
#include "guc.h"
#include "ingest.h"
#include "pricing.h"
#include "storage.h"

#define FUTURE_SKEW_USECS (5 * USECS_PER_MINUTE)

/*
 * Everything that does not depend on the payload: read-only check, the
 * caller's workspace and right to write, and the timestamp window.
 */
void
opsmeter_ingest_begin(IngestCall *call, const char *funcname)
{
	TimestampTz statement_start;

	memset(call, 0, sizeof(IngestCall));

	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute %s() in a read-only transaction", funcname),
				 errhint("Ingest on the primary, outside a READ ONLY transaction.")));

	call->caller = GetUserId();
	opsmeter_resolve_workspace(call->caller, NULL, &call->ws);
	if (call->ws.role == WS_ROLE_VIEWER)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to ingest into workspace \"%s\"", call->ws.name),
				 errdetail("Role \"%s\" is a viewer of this workspace.", GetUserNameFromId(call->caller, false)),
				 errhint("Viewers read only; ask an owner or admin for the member role.")));
	opsmeter_hold_workspace(&call->ws);

	/* The default timestamp is now(); the window is measured from this statement. */
	statement_start = GetCurrentStatementStartTimestamp();
	call->bounds.now = GetCurrentTransactionStartTimestamp();
	call->bounds.newest = statement_start + FUTURE_SKEW_USECS;
	call->bounds.oldest = statement_start - call->ws.raw_retention_usecs;
}

void
opsmeter_ingest_check_batch_size(int nevents)
{
	if (nevents > opsmeter_max_batch_events)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("batch of %d events exceeds opsmeter.max_batch_events (%d)",
						nevents, opsmeter_max_batch_events),
				 errhint("Split the batch into calls of at most %d events.", opsmeter_max_batch_events)));
}

void
opsmeter_ingest_check_payload_size(size_t bytes)
{
	if (bytes > (size_t) opsmeter_max_payload_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("payload of %zu bytes exceeds opsmeter.max_payload_bytes (%d)",
						bytes, opsmeter_max_payload_bytes),
				 errhint("Split the events over several calls.")));
}

/* Small helpers over pushJsonbValue for building responses. */
static void
put_key(JsonbParseState **st, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &v);
}

static void
put_value(JsonbParseState **st, JsonbIteratorToken tok, JsonbValue *v)
{
	pushJsonbValue(st, tok, v);
}

static void
put_string(JsonbParseState **st, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	if (s == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvString;
		v.val.string.val = (char *) s;
		v.val.string.len = strlen(s);
	}
	put_value(st, tok, &v);
}

static void
put_bool(JsonbParseState **st, bool b)
{
	JsonbValue	v;

	v.type = jbvBool;
	v.val.boolean = b;
	put_value(st, WJB_VALUE, &v);
}

static void
put_numeric(JsonbParseState **st, JsonbIteratorToken tok, Numeric n)
{
	JsonbValue	v;

	if (n == NULL)
		v.type = jbvNull;
	else
	{
		v.type = jbvNumeric;
		v.val.numeric = n;
	}
	put_value(st, tok, &v);
}

static void
put_int(JsonbParseState **st, JsonbIteratorToken tok, int64 i)
{
	put_numeric(st, tok, int64_to_numeric(i));
}

static void
put_budget_flags(JsonbParseState **st, const IngestCall *call)
{
	put_key(st, "budgetWarning");
	put_bool(st, call->budget.warning);
	put_key(st, "budgetExceeded");
	put_bool(st, call->budget.exceeded);
}

static Jsonb *
single_response(const IngestCall *call)
{
	const OpsEvent *ev = &call->events[0];
	JsonbParseState *st = NULL;
	ListCell   *lc;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_key(&st, "ok");
	put_bool(&st, true);
	put_key(&st, "duplicate");
	put_bool(&st, ev->duplicate);
	put_key(&st, "externalRequestId");
	put_string(&st, WJB_VALUE, ev->external_request_id);
	put_key(&st, "dataMode");
	put_string(&st, WJB_VALUE, opsmeter_data_mode_labels[ev->data_mode]);
	put_key(&st, "environment");
	put_string(&st, WJB_VALUE, opsmeter_environment_labels[ev->environment]);
	put_key(&st, "costUsd");
	put_numeric(&st, WJB_VALUE, ev->duplicate ? NULL : ev->cost_usd);
	put_key(&st, "pricing");
	put_string(&st, WJB_VALUE, ev->duplicate ? NULL : opsmeter_pricing_labels[ev->pricing]);
	put_key(&st, "warnings");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	foreach(lc, ev->warnings)
		put_string(&st, WJB_ELEM, lfirst(lc));
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	put_budget_flags(&st, call);
	put_key(&st, "reason");
	put_string(&st, WJB_VALUE, ev->duplicate ? "duplicate" : NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

static Jsonb *
batch_response(const IngestCall *call, int accepted)
{
	JsonbParseState *st = NULL;
	int			duplicates = 0,
				unpriced = 0;
	bool		by_line = call->by_line;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	put_key(&st, "ok");
	put_bool(&st, true);
	put_key(&st, "received");
	put_int(&st, WJB_VALUE, call->nevents);
	put_key(&st, "accepted");
	put_int(&st, WJB_VALUE, accepted);

	put_key(&st, "duplicateIndexes");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < call->nevents; i++)
	{
		if (call->events[i].duplicate)
		{
			put_int(&st, WJB_ELEM, i);
			duplicates++;
		}
		else if (call->events[i].pricing == PRICING_UNPRICED)
			unpriced++;
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	if (by_line)
	{
		/* NDJSON: the same, as the line numbers errors use */
		put_key(&st, "duplicateLines");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < call->nevents; i++)
			if (call->events[i].duplicate)
				put_int(&st, WJB_ELEM, call->events[i].loc.number);
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	}
	if (call->by_span)
	{
		/* OTLP: the same, as the span paths errors use */
		put_key(&st, "duplicateSpans");
		pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
		for (int i = 0; i < call->nevents; i++)
			if (call->events[i].duplicate)
				put_string(&st, WJB_ELEM, opsmeter_event_span_path(&call->events[i].loc));
		pushJsonbValue(&st, WJB_END_ARRAY, NULL);
		put_key(&st, "skippedSpans");
		put_int(&st, WJB_VALUE, call->skipped_spans);
	}
	put_key(&st, "duplicates");
	put_int(&st, WJB_VALUE, duplicates);
	put_key(&st, "unpriced");
	put_int(&st, WJB_VALUE, unpriced);

	put_key(&st, "warnings");
	pushJsonbValue(&st, WJB_BEGIN_ARRAY, NULL);
	for (int i = 0; i < call->nevents; i++)
	{
		ListCell   *lc;

		foreach(lc, call->events[i].warnings)
		{
			pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
			put_key(&st, "index");
			put_int(&st, WJB_VALUE, i);
			if (by_line)
			{
				put_key(&st, "line");
				put_int(&st, WJB_VALUE, call->events[i].loc.number);
			}
			if (call->by_span)
			{
				put_key(&st, "span");
				put_string(&st, WJB_VALUE, opsmeter_event_span_path(&call->events[i].loc));
			}
			put_key(&st, "warning");
			put_string(&st, WJB_VALUE, lfirst(lc));
			pushJsonbValue(&st, WJB_END_OBJECT, NULL);
		}
	}
	pushJsonbValue(&st, WJB_END_ARRAY, NULL);
	put_budget_flags(&st, call);
	put_key(&st, "reason");
	put_string(&st, WJB_VALUE, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/*
 * Sets cost_usd and pricing.  Caller-supplied cost wins; otherwise the
 * catalog price in effect at the event's timestamp; otherwise NULL with a
 * warning, never $0.
 */
static void
price_event(OpsEvent *ev)
{
	const char *reason = NULL;

	if (ev->pricing == PRICING_CALLER)
		return;
	ev->cost_usd = opsmeter_pricing_cost(ev->provider, ev->model, ev->ts, ev->input_tokens,
										 ev->cached_input_tokens, ev->output_tokens, &reason);
	if (ev->cost_usd == NULL)
	{
		ev->pricing = PRICING_UNPRICED;
		ev->warnings = lappend(ev->warnings, (char *) reason);
		return;
	}
	ev->pricing = PRICING_CATALOG;
}

/*
 * Dedups, prices and stores the validated events of a call, counts their
 * spend against the workspace's budgets, and answers.
 * Duplicates are found first so that only what is stored is priced.
 */
Jsonb *
opsmeter_ingest_finish(IngestCall *call)
{
	StoragePlan *plan;
	int			accepted;

	plan = opsmeter_storage_claim(call->ws.id, call->events, call->nevents);
	for (int i = 0; i < call->nevents; i++)
		if (!call->events[i].duplicate)
			price_event(&call->events[i]);
	accepted = opsmeter_storage_write(plan, call->caller, call->bounds.now);
	opsmeter_budget_account(&call->ws, call->events, call->nevents, &call->budget);

	return call->batch ? batch_response(call, accepted) : single_response(call);
}
