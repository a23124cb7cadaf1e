/*
 * ingest_jsonb.c — opsmeter_ingest(jsonb): walks the jsonb payload once per
 * event object, handing each key/value to the shared validator (event.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/jsonb.h"

#include "event.h"
#include "ingest.h"

PG_FUNCTION_INFO_V1(opsmeter_ingest);

static const char *
jsonb_kind_name(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return "null";
		case jbvString:
			return "a string";
		case jbvNumeric:
			return "a number";
		case jbvBool:
			return "a boolean";
		case jbvBinary:
			return JsonContainerIsArray(v->val.binary.data) ? "an array" : "an object";
		default:
			return "a value";
	}
}

static void
to_field_value(JsonbValue *v, EventField field, FieldValue *fv)
{
	memset(fv, 0, sizeof(FieldValue));
	switch (v->type)
	{
		case jbvNull:
			fv->kind = VK_NULL;
			break;
		case jbvString:
			fv->kind = VK_STRING;
			fv->str = v->val.string.val;
			fv->len = v->val.string.len;
			break;
		case jbvNumeric:
			fv->kind = VK_NUMBER;
			fv->num = v->val.numeric;
			break;
		case jbvBool:
			fv->kind = VK_BOOL;
			break;
		case jbvBinary:
			if (JsonContainerIsArray(v->val.binary.data))
				fv->kind = VK_ARRAY;
			else
			{
				fv->kind = VK_OBJECT;
				if (field == F_METADATA)
					fv->object = JsonbValueToJsonb(v);
			}
			break;
		default:
			elog(ERROR, "unexpected jsonb value type %d", v->type);
	}
}

/* Validates one event object into ev. */
static void
parse_event(OpsEvent *ev, JsonbContainer *object, const EventBounds *bounds)
{
	JsonbIterator *it = JsonbIteratorInit(object);
	JsonbValue	key,
				val;
	JsonbIteratorToken tok;

	while ((tok = JsonbIteratorNext(&it, &key, true)) != WJB_DONE)
	{
		EventField field;
		FieldValue fv;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &val, true);
		Assert(tok == WJB_VALUE);
		field = opsmeter_event_field_lookup(key.val.string.val, key.val.string.len);
		if (val.type == jbvBinary && field != F_METADATA)
			opsmeter_event_check_nesting(ev, key.val.string.val, key.val.string.len,
								opsmeter_event_jsonb_depth(val.val.binary.data));
		if (field == F_UNKNOWN)
		{
			opsmeter_event_note_unknown_field(ev, key.val.string.val, key.val.string.len);
			continue;
		}
		to_field_value(&val, field, &fv);
		opsmeter_event_set_field(ev, field, &fv);
	}
	opsmeter_event_finish(ev, bounds);
}

/*
 * opsmeter_ingest(payload jsonb) RETURNS jsonb — one event object, or an
 * array of them written all-or-nothing.
 */
Datum
opsmeter_ingest(PG_FUNCTION_ARGS)
{
	Jsonb	   *payload = PG_GETARG_JSONB_P(0);
	IngestCall	call;

	opsmeter_ingest_begin(&call, "opsmeter_ingest");
	opsmeter_ingest_check_payload_size(VARSIZE(payload));

	if (JB_ROOT_IS_SCALAR(payload))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid payload: must be a JSON object or an array of objects"),
				 errhint("Send one event as {\"externalRequestId\": ..., ...} or a batch as [{...}, {...}].")));

	if (JB_ROOT_IS_OBJECT(payload))
	{
		call.batch = false;
		call.nevents = 1;
		call.events = palloc(sizeof(OpsEvent));
		opsmeter_event_init(&call.events[0], ORIGIN_SINGLE, 0);
		parse_event(&call.events[0], &payload->root, &call.bounds);
	}
	else
	{
		JsonbIterator *it = JsonbIteratorInit(&payload->root);
		JsonbValue	elem;
		JsonbIteratorToken tok;
		int			i = 0;

		call.batch = true;
		call.nevents = JB_ROOT_COUNT(payload);
		opsmeter_ingest_check_batch_size(call.nevents);
		call.events = palloc(sizeof(OpsEvent) * Max(call.nevents, 1));
		while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
		{
			if (tok != WJB_ELEM)
				continue;
			if (elem.type != jbvBinary || !JsonContainerIsObject(elem.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid element %d: must be a JSON object, not %s",
								i, jsonb_kind_name(&elem)),
						 errhint("A batch is an array of event objects.")));
			opsmeter_event_init(&call.events[i], ORIGIN_ELEMENT, i);
			parse_event(&call.events[i], elem.val.binary.data, &call.bounds);
			i++;
		}
	}

	PG_RETURN_JSONB_P(opsmeter_ingest_finish(&call));
}
