/*
 * ingest_otlp.c — opsmeter_ingest_otlp(jsonb): the body an OTLP/HTTP JSON
 * trace exporter sends (ExportTraceServiceRequest), one event per GenAI
 * span, through the same validator (event.c) and pipeline (ingest.c) as
 * opsmeter_ingest: same rules, pricing, dedup, budgets, all-or-nothing.
 *
 * A span is a GenAI model call when it names a model (gen_ai.request.model,
 * gen_ai.response.model or opsmeter.model); every other span (HTTP, database,
 * agent and tool spans) is skipped and counted.  Each event field comes from
 * the first attribute of its list in field_sources[] that the span carries,
 * then, for the fields a service sets once (user, tenant, endpoint, prompt
 * version, data mode, environment), from its resource's attributes.  The
 * README table "OpenTelemetry spans" is this table.  Values are converted
 * to what the JSON field would hold (an intValue "120" is the number 120)
 * and handed to opsmeter_event_set_field(), so a wrong type fails exactly
 * as it would in opsmeter_ingest, with the span's path in the message.
 */
#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "event.h"
#include "ingest.h"

PG_FUNCTION_INFO_V1(opsmeter_ingest_otlp);

/* The attributes opsmeter reads. */
typedef enum OtlpAttr
{
	A_OPS_EXTERNAL_REQUEST_ID,
	A_GENAI_RESPONSE_ID,
	A_OPS_PROVIDER,
	A_GENAI_PROVIDER_NAME,
	A_GENAI_SYSTEM,
	A_OPS_MODEL,
	A_GENAI_RESPONSE_MODEL,
	A_GENAI_REQUEST_MODEL,
	A_GENAI_INPUT_TOKENS,
	A_GENAI_PROMPT_TOKENS,
	A_GENAI_OUTPUT_TOKENS,
	A_GENAI_COMPLETION_TOKENS,
	A_GENAI_CACHE_READ,
	A_GENAI_CACHE_READ_OLD,
	A_OPS_REASONING_TOKENS,
	A_OPS_USER_ID,
	A_USER_ID,
	A_ENDUSER_ID,
	A_OPS_TENANT_ID,
	A_TENANT_ID,
	A_OPS_ENDPOINT_TAG,
	A_OPS_PROMPT_VERSION,
	A_OPS_DATA_MODE,
	A_OPS_ENVIRONMENT,
	A_DEPLOYMENT_ENVIRONMENT_NAME,
	A_DEPLOYMENT_ENVIRONMENT,
	A_OPS_COST_USD,
	A_ERROR_TYPE,
	A_GENAI_OPERATION,
	A_SERVICE_NAME,
	A_NUM
} OtlpAttr;

static const char *const attr_names[A_NUM] = {
	[A_OPS_EXTERNAL_REQUEST_ID] = "opsmeter.external_request_id",
	[A_GENAI_RESPONSE_ID] = "gen_ai.response.id",
	[A_OPS_PROVIDER] = "opsmeter.provider",
	[A_GENAI_PROVIDER_NAME] = "gen_ai.provider.name",
	[A_GENAI_SYSTEM] = "gen_ai.system",
	[A_OPS_MODEL] = "opsmeter.model",
	[A_GENAI_RESPONSE_MODEL] = "gen_ai.response.model",
	[A_GENAI_REQUEST_MODEL] = "gen_ai.request.model",
	[A_GENAI_INPUT_TOKENS] = "gen_ai.usage.input_tokens",
	[A_GENAI_PROMPT_TOKENS] = "gen_ai.usage.prompt_tokens",
	[A_GENAI_OUTPUT_TOKENS] = "gen_ai.usage.output_tokens",
	[A_GENAI_COMPLETION_TOKENS] = "gen_ai.usage.completion_tokens",
	[A_GENAI_CACHE_READ] = "gen_ai.usage.cache_read.input_tokens",
	[A_GENAI_CACHE_READ_OLD] = "gen_ai.usage.cache_read_input_tokens",
	[A_OPS_REASONING_TOKENS] = "opsmeter.reasoning_tokens",
	[A_OPS_USER_ID] = "opsmeter.user_id",
	[A_USER_ID] = "user.id",
	[A_ENDUSER_ID] = "enduser.id",
	[A_OPS_TENANT_ID] = "opsmeter.tenant_id",
	[A_TENANT_ID] = "tenant.id",
	[A_OPS_ENDPOINT_TAG] = "opsmeter.endpoint_tag",
	[A_OPS_PROMPT_VERSION] = "opsmeter.prompt_version",
	[A_OPS_DATA_MODE] = "opsmeter.data_mode",
	[A_OPS_ENVIRONMENT] = "opsmeter.environment",
	[A_DEPLOYMENT_ENVIRONMENT_NAME] = "deployment.environment.name",
	[A_DEPLOYMENT_ENVIRONMENT] = "deployment.environment",
	[A_OPS_COST_USD] = "opsmeter.cost_usd",
	[A_ERROR_TYPE] = "error.type",
	[A_GENAI_OPERATION] = "gen_ai.operation.name",
	[A_SERVICE_NAME] = "service.name",
};

/*
 * Where each event field comes from: the span's attributes in this order,
 * then (with_resource) the resource's, in the same order.
 */
#define MAX_SOURCES 3
typedef struct FieldSource
{
	EventField	field;
	bool		with_resource;
	OtlpAttr	attrs[MAX_SOURCES];
	int			nattrs;
} FieldSource;

static const FieldSource field_sources[] = {
	{F_EXTERNAL_REQUEST_ID, false, {A_OPS_EXTERNAL_REQUEST_ID, A_GENAI_RESPONSE_ID}, 2},
	{F_PROVIDER, false, {A_OPS_PROVIDER, A_GENAI_PROVIDER_NAME, A_GENAI_SYSTEM}, 3},
	/* the model asked for, as price lists name it (not the dated snapshot
	 * that answered, which metadata keeps) */
	{F_MODEL, false, {A_OPS_MODEL, A_GENAI_REQUEST_MODEL, A_GENAI_RESPONSE_MODEL}, 3},
	{F_INPUT_TOKENS, false, {A_GENAI_INPUT_TOKENS, A_GENAI_PROMPT_TOKENS}, 2},
	{F_OUTPUT_TOKENS, false, {A_GENAI_OUTPUT_TOKENS, A_GENAI_COMPLETION_TOKENS}, 2},
	{F_CACHED_INPUT_TOKENS, false, {A_GENAI_CACHE_READ, A_GENAI_CACHE_READ_OLD}, 2},
	{F_REASONING_TOKENS, false, {A_OPS_REASONING_TOKENS}, 1},
	{F_COST_USD, false, {A_OPS_COST_USD}, 1},
	{F_ERROR_CODE, false, {A_ERROR_TYPE}, 1},
	{F_USER_ID, true, {A_OPS_USER_ID, A_USER_ID, A_ENDUSER_ID}, 3},
	{F_TENANT_ID, true, {A_OPS_TENANT_ID, A_TENANT_ID}, 2},
	{F_ENDPOINT_TAG, true, {A_OPS_ENDPOINT_TAG}, 1},
	{F_PROMPT_VERSION, true, {A_OPS_PROMPT_VERSION}, 1},
	{F_DATA_MODE, true, {A_OPS_DATA_MODE}, 1},
	{F_ENVIRONMENT, true, {A_OPS_ENVIRONMENT, A_DEPLOYMENT_ENVIRONMENT_NAME, A_DEPLOYMENT_ENVIRONMENT}, 3},
};

/*
 * The value of each attribute opsmeter reads, or NULL (the first wins), and
 * its index in the list.  Its shape is checked only for GenAI spans
 * (check_values), so a skipped span is never refused for an attribute
 * opsmeter would read only if it were one.
 */
typedef struct AttrSet
{
	JsonbValue *value[A_NUM];
	int			index[A_NUM];
} AttrSet;

#define MAX_TEXT_BYTES 200		/* of each string metadata.otel keeps */

static void
shape_error(const char *path, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid OTLP body: %s %s", path, problem),
			 errhint("Send the body of an OTLP/HTTP JSON trace export: "
					 "{\"resourceSpans\": [{\"resource\": {\"attributes\": [...]}, "
					 "\"scopeSpans\": [{\"spans\": [{...}]}]}]}.")));
}

/* The value under key in an object, or NULL. */
static JsonbValue *
member(JsonbContainer *object, const char *key)
{
	JsonbValue *v = palloc(sizeof(JsonbValue));

	if (getKeyJsonValueFromContainer(object, key, strlen(key), v) == NULL)
	{
		pfree(v);
		return NULL;
	}
	return v;
}

static bool
is_object(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

static bool
is_array(const JsonbValue *v)
{
	return v != NULL && v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
}

/* The elements of an array member (NULL when the key is absent). */
static JsonbContainer *
array_member(JsonbContainer *object, const char *key, const char *path)
{
	JsonbValue *v = member(object, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (!is_array(v))
		shape_error(psprintf("%s.%s", path, key), "must be an array");
	return v->val.binary.data;
}

/* A decimal int64, optionally signed; false when s is not one. */
static bool
parse_int64(const char *s, int len, int64 *out)
{
	bool		negative = false;
	uint64		acc = 0;
	int			i = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+'))
	{
		negative = (s[0] == '-');
		i++;
	}
	if (i >= len)
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (acc > (PG_UINT64_MAX - (s[i] - '0')) / 10)
			return false;
		acc = acc * 10 + (s[i] - '0');
	}
	if (negative ? acc > (uint64) PG_INT64_MAX + 1 : acc > (uint64) PG_INT64_MAX)
		return false;
	*out = negative ? (int64) (0 - acc) : (int64) acc;
	return true;
}

/* An int64 given as a JSON number or as a decimal string (OTLP/JSON's int64). */
static bool
json_int64(const JsonbValue *v, int64 *out)
{
	if (v == NULL)
		return false;
	if (v->type == jbvString)
		return parse_int64(v->val.string.val, v->val.string.len, out);
	if (v->type == jbvNumeric)
	{
		/* its decimal text; an integral value may end in ".0" */
		char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
		char	   *point = strchr(text, '.');

		if (point != NULL)
		{
			if (strspn(point + 1, "0") != strlen(point + 1))
				return false;
			*point = '\0';
		}
		return parse_int64(text, strlen(text), out);
	}
	return false;
}

/*
 * An attribute's AnyValue ({"stringValue": ...}, {"intValue": ...}, ...)
 * as the FieldValue the same JSON field would give.  intValue holds an
 * int64 as a decimal string (OTLP/JSON) or a number; doubleValue a number,
 * or a decimal integer string (protobuf JSON); a string in intValue that is
 * not an integer stays a string, refused by numeric fields.  A member
 * holding another JSON type ({"boolValue": "true"}, {"stringValue": 5}) is
 * malformed: false, with *member naming it, so the caller refuses the body
 * rather than read it as absent or as zero.  No known member: absent.
 */
static bool
any_value_to_field(const JsonbValue *any, FieldValue *fv, const char **bad_member)
{
	static const char *const members[] = {"stringValue", "intValue", "doubleValue", "boolValue",
	"arrayValue", "kvlistValue", "bytesValue"};
	JsonbValue *v = NULL;
	int			m;

	memset(fv, 0, sizeof(FieldValue));
	fv->kind = VK_NULL;
	if (!is_object(any))
		return true;
	for (m = 0; m < (int) lengthof(members) && v == NULL; m++)
		v = member(any->val.binary.data, members[m]);
	if (v == NULL)
		return true;
	m--;						/* the member found */
	*bad_member = members[m];
	if (m == 4 || m == 5)		/* arrayValue, kvlistValue: a container, whatever it holds */
	{
		fv->kind = m == 4 ? VK_ARRAY : VK_OBJECT;
		return true;
	}
	if (v->type == jbvNull)
		return true;			/* {"stringValue": null}: absent */
	switch (m)
	{
		case 0:					/* stringValue */
		case 6:					/* bytesValue */
			if (v->type != jbvString)
				return false;
			fv->kind = VK_STRING;
			fv->str = v->val.string.val;
			fv->len = v->val.string.len;
			return true;
		case 1:					/* intValue */
		case 2:					/* doubleValue */
			if (v->type == jbvNumeric)
			{
				fv->kind = VK_NUMBER;
				fv->is_int = json_int64(v, &fv->ival);
				fv->num = v->val.numeric;
				return true;
			}
			if (v->type != jbvString)
				return false;
			if (parse_int64(v->val.string.val, v->val.string.len, &fv->ival))
			{
				fv->kind = VK_NUMBER;
				fv->is_int = true;
				return true;
			}
			if (m == 2)
				return false;
			fv->kind = VK_STRING;
			fv->str = v->val.string.val;
			fv->len = v->val.string.len;
			return true;
		case 3:					/* boolValue */
			if (v->type != jbvBool)
				return false;
			fv->kind = VK_BOOL;
			return true;
		default:
			return true;
	}
}

static OtlpAttr
attr_lookup(const char *key, int len)
{
	for (int a = 0; a < A_NUM; a++)
		if ((int) strlen(attr_names[a]) == len && memcmp(attr_names[a], key, len) == 0)
			return (OtlpAttr) a;
	return A_NUM;
}

/* Reads the attributes list at object.attributes into set. */
static void
read_attributes(JsonbContainer *object, const char *path, AttrSet *set)
{
	JsonbContainer *list = array_member(object, "attributes", path);
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			i = 0;

	memset(set, 0, sizeof(AttrSet));
	if (list == NULL)
		return;
	it = JsonbIteratorInit(list);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		JsonbValue *key;
		OtlpAttr	a;

		if (tok != WJB_ELEM)
			continue;
		if (!is_object(&elem))
			shape_error(psprintf("%s.attributes[%d]", path, i), "must be an object {\"key\": ..., \"value\": {...}}");
		key = member(elem.val.binary.data, "key");
		if (key == NULL || key->type != jbvString)
			shape_error(psprintf("%s.attributes[%d].key", path, i), "must be a string");
		a = attr_lookup(key->val.string.val, key->val.string.len);
		if (a != A_NUM && set->value[a] == NULL)
		{
			set->value[a] = member(elem.val.binary.data, "value");
			set->index[a] = i;
		}
		i++;
	}
}

/* s cut to at most MAX_TEXT_BYTES bytes, on a character boundary. */
static char *
clipped(const char *s, int len)
{
	return pnstrdup(s, len <= MAX_TEXT_BYTES ? len : pg_mbcliplen(s, len, MAX_TEXT_BYTES));
}

/* A {"stringValue": "..."} attribute's text, clipped, for metadata; else NULL. */
static char *
attr_text(const AttrSet *set, OtlpAttr a)
{
	const JsonbValue *any = set->value[a];
	JsonbValue *v;

	if (!is_object(any) || JsonContainerSize(any->val.binary.data) != 1 ||
		(v = member(any->val.binary.data, "stringValue")) == NULL || v->type != jbvString)
		return NULL;
	return clipped(v->val.string.val, v->val.string.len);
}

static char *
string_member(JsonbContainer *object, const char *key)
{
	JsonbValue *v = member(object, key);

	return v != NULL && v->type == jbvString ? pnstrdup(v->val.string.val, v->val.string.len) : NULL;
}

static void
set_string(OpsEvent *ev, EventField field, const char *s)
{
	FieldValue	fv;

	memset(&fv, 0, sizeof(FieldValue));
	fv.kind = VK_STRING;
	fv.str = s;
	fv.len = strlen(s);
	opsmeter_event_set_field(ev, field, &fv);
}

static void
set_int(OpsEvent *ev, EventField field, int64 n)
{
	FieldValue	fv;

	memset(&fv, 0, sizeof(FieldValue));
	fv.kind = VK_NUMBER;
	fv.is_int = true;
	fv.ival = n;
	opsmeter_event_set_field(ev, field, &fv);
}

/*
 * OpenTelemetry's environment names, as opsmeter's labels: compared in
 * lower case (deployment.environment.name is free text), synonyms mapped.
 */
static void
set_environment(OpsEvent *ev, const FieldValue *fv)
{
	static const char *const synonyms[][2] = {
		{"production", "prod"}, {"development", "dev"}, {"stage", "staging"},
	};
	FieldValue	lower = *fv;
	char	   *text;

	if (fv->kind != VK_STRING)
	{
		opsmeter_event_set_field(ev, F_ENVIRONMENT, fv);
		return;
	}
	text = pnstrdup(fv->str, fv->len);
	for (char *c = text; *c; c++)
		*c = pg_ascii_tolower((unsigned char) *c);
	lower.str = text;
	for (int i = 0; i < (int) lengthof(synonyms); i++)
		if (strcmp(text, synonyms[i][0]) == 0)
		{
			lower.str = synonyms[i][1];
			lower.len = strlen(synonyms[i][1]);
		}
	opsmeter_event_set_field(ev, F_ENVIRONMENT, &lower);
}

/* Unix nanoseconds (OTLP's fixed64, a string in OTLP/JSON) as a timestamptz. */
static TimestampTz
unix_nanos_to_timestamptz(int64 nanos)
{
	return (TimestampTz) (nanos / 1000)
		- (TimestampTz) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY;
}

static Jsonb *
span_metadata(const char *trace_id, const char *span_id, const char *name,
			  const char *operation, const char *response_model, const char *service)
{
	JsonbParseState *st = NULL;
	const char *keys[] = {"traceId", "spanId", "name", "operation", "responseModel", "service"};
	const char *values[] = {trace_id, span_id, name, operation, response_model, service};
	JsonbValue	v;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	v.type = jbvString;
	v.val.string.val = "otel";
	v.val.string.len = 4;
	pushJsonbValue(&st, WJB_KEY, &v);
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < (int) lengthof(keys); i++)
	{
		if (values[i] == NULL)
			continue;
		v.type = jbvString;
		v.val.string.val = (char *) keys[i];
		v.val.string.len = strlen(keys[i]);
		pushJsonbValue(&st, WJB_KEY, &v);
		v.val.string.val = (char *) values[i];
		v.val.string.len = strlen(values[i]);
		pushJsonbValue(&st, WJB_VALUE, &v);
	}
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

/* Whether the span's status says it failed (code 2, STATUS_CODE_ERROR). */
static bool
status_is_error(JsonbContainer *span)
{
	JsonbValue *status = member(span, "status");
	JsonbValue *code;
	int64		n;

	if (!is_object(status) || (code = member(status->val.binary.data, "code")) == NULL)
		return false;
	if (code->type == jbvString && code->val.string.len == 17 &&
		memcmp(code->val.string.val, "STATUS_CODE_ERROR", 17) == 0)
		return true;
	return json_int64(code, &n) && n == 2;
}

/*
 * Whether a span names a model, which makes it a GenAI call: one of the
 * model attributes has a value (a malformed one counts, and is refused
 * when it is read).
 */
static bool
names_a_model(const AttrSet *attrs)
{
	static const OtlpAttr model_attrs[] = {A_OPS_MODEL, A_GENAI_REQUEST_MODEL, A_GENAI_RESPONSE_MODEL};

	for (int i = 0; i < (int) lengthof(model_attrs); i++)
	{
		const JsonbValue *v = attrs->value[model_attrs[i]];
		FieldValue	fv;
		const char *bad;

		if (v == NULL || v->type == jbvNull)
			continue;
		if (!is_object(v) || !any_value_to_field(v, &fv, &bad) || fv.kind != VK_NULL)
			return true;
	}
	return false;
}

/* 22023 unless every attribute opsmeter reads holds an AnyValue object (or null). */
static void
check_values(const AttrSet *set, const char *path)
{
	for (int a = 0; a < A_NUM; a++)
	{
		const JsonbValue *v = set->value[a];

		if (v != NULL && v->type != jbvNull && !is_object(v))
			shape_error(psprintf("%s.attributes[%d].value", path, set->index[a]),
						"must be an AnyValue object such as {\"stringValue\": ...}");
	}
}

/* Names the attribute being read in a field error's CONTEXT line. */
typedef struct AttrContext
{
	const char *attr;
	bool		from_resource;
} AttrContext;

static void
attribute_context(void *arg)
{
	AttrContext *ctx = arg;

	if (ctx->attr != NULL)
		errcontext("OTLP attribute \"%s\" of the span%s", ctx->attr,
				   ctx->from_resource ? "'s resource" : "");
}

/* Validates one GenAI span into ev. */
static void
parse_span(OpsEvent *ev, JsonbContainer *span, const AttrSet *attrs, const AttrSet *resource,
		   const char *path, const char *resource_path, const EventBounds *bounds)
{
	int64		start_ns,
				end_ns = 0;
	JsonbValue *end;
	char	   *trace_id = string_member(span, "traceId");
	char	   *span_id = string_member(span, "spanId");
	char	   *name = string_member(span, "name");
	bool		failed;
	FieldValue	fv;
	AttrContext ctx = {NULL, false};
	ErrorContextCallback callback;

	check_values(attrs, path);
	check_values(resource, resource_path);

	callback.callback = attribute_context;
	callback.arg = &ctx;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	for (int i = 0; i < (int) lengthof(field_sources); i++)
	{
		const FieldSource *src = &field_sources[i];
		bool		found = false;

		/*
		 * The span's attributes first, then (for some fields) its
		 * resource's; an attribute without a value (null, {} or a null
		 * member) is absent, and the next one is read.
		 */
		for (int pass = 0; pass < (src->with_resource ? 2 : 1) && !found; pass++)
			for (int k = 0; k < src->nattrs && !found; k++)
			{
				const AttrSet *set = pass == 0 ? attrs : resource;
				OtlpAttr	a = src->attrs[k];
				const JsonbValue *value = set->value[a];
				const char *bad = NULL;

				if (value == NULL || value->type == jbvNull)
					continue;
				if (!any_value_to_field(value, &fv, &bad))
					shape_error(psprintf("%s.attributes[%d].value.%s", pass == 0 ? path : resource_path,
										 set->index[a], bad),
								"holds the wrong JSON type for that member");
				found = (fv.kind != VK_NULL);
				ctx.attr = attr_names[a];
				ctx.from_resource = (pass == 1);
			}
		if (!found)
			continue;
		if (src->field == F_ENVIRONMENT)
			set_environment(ev, &fv);
		else
			opsmeter_event_set_field(ev, src->field, &fv);
	}
	ctx.attr = NULL;
	error_context_stack = callback.previous;

	/* no response id: the span's own identity, as retries resend it */
	if (!ev->seen[F_EXTERNAL_REQUEST_ID] && trace_id != NULL && span_id != NULL)
		set_string(ev, F_EXTERNAL_REQUEST_ID, psprintf("%s-%s", trace_id, span_id));
	/* a call that failed before any usage came back used none */
	if (!ev->seen[F_INPUT_TOKENS])
		set_int(ev, F_INPUT_TOKENS, 0);
	if (!ev->seen[F_OUTPUT_TOKENS])
		set_int(ev, F_OUTPUT_TOKENS, 0);

	failed = attrs->value[A_ERROR_TYPE] != NULL || status_is_error(span);
	set_string(ev, F_STATUS, failed ? "error" : "success");

	if (!json_int64(member(span, "startTimeUnixNano"), &start_ns) || start_ns <= 0)
		shape_error(psprintf("%s.startTimeUnixNano", path),
					"must be the span's start in Unix nanoseconds (a decimal string or number)");
	opsmeter_event_set_timestamp(ev, unix_nanos_to_timestamptz(start_ns));
	end = member(span, "endTimeUnixNano");
	if (end != NULL && end->type != jbvNull && (!json_int64(end, &end_ns) || end_ns < 0))
		shape_error(psprintf("%s.endTimeUnixNano", path),
					"must be the span's end in Unix nanoseconds (a decimal string or number; 0 or absent: unknown)");
	if (end != NULL && end->type != jbvNull && end_ns > 0)
	{
		int64		took;

		if (end_ns < start_ns)
			shape_error(psprintf("%s.endTimeUnixNano", path), "must not be before startTimeUnixNano");
		took = end_ns - start_ns;	/* both positive: no overflow */
		set_int(ev, F_LATENCY_MS, took / 1000000 + (took % 1000000 >= 500000 ? 1 : 0));
	}

	memset(&fv, 0, sizeof(FieldValue));
	fv.kind = VK_OBJECT;
	fv.object = span_metadata(trace_id ? clipped(trace_id, strlen(trace_id)) : NULL,
							  span_id ? clipped(span_id, strlen(span_id)) : NULL,
							  name ? clipped(name, strlen(name)) : NULL, attr_text(attrs, A_GENAI_OPERATION),
							  attr_text(attrs, A_GENAI_RESPONSE_MODEL), attr_text(resource, A_SERVICE_NAME));
	opsmeter_event_set_field(ev, F_METADATA, &fv);

	opsmeter_event_finish(ev, bounds);
}

/*
 * opsmeter_ingest_otlp(body jsonb) RETURNS jsonb — an OTLP/JSON
 * ExportTraceServiceRequest; its GenAI spans are stored all-or-nothing.
 */
Datum
opsmeter_ingest_otlp(PG_FUNCTION_ARGS)
{
	Jsonb	   *body = PG_GETARG_JSONB_P(0);
	IngestCall	call;
	JsonbContainer *resource_spans;
	JsonbIterator *rit;
	JsonbValue	relem;
	JsonbIteratorToken tok;
	int			capacity = 16;
	int			r = 0;

	opsmeter_ingest_begin(&call, "opsmeter_ingest_otlp");
	opsmeter_ingest_check_payload_size(VARSIZE(body));
	if (!JB_ROOT_IS_OBJECT(body))
		shape_error("body", "must be a JSON object (an ExportTraceServiceRequest)");

	call.batch = true;
	call.by_span = true;
	call.events = palloc(sizeof(OpsEvent) * capacity);
	resource_spans = array_member(&body->root, "resourceSpans", "body");
	if (resource_spans == NULL)
		PG_RETURN_JSONB_P(opsmeter_ingest_finish(&call));

	rit = JsonbIteratorInit(resource_spans);
	while ((tok = JsonbIteratorNext(&rit, &relem, true)) != WJB_DONE)
	{
		char	   *rpath;
		JsonbValue *resource_obj;
		AttrSet		resource;
		JsonbContainer *scope_spans;
		JsonbIterator *sit;
		JsonbValue	selem;
		int			s = 0;

		if (tok != WJB_ELEM)
			continue;
		rpath = psprintf("resourceSpans[%d]", r);
		if (!is_object(&relem))
			shape_error(rpath, "must be an object");
		resource_obj = member(relem.val.binary.data, "resource");
		if (resource_obj != NULL && resource_obj->type != jbvNull && !is_object(resource_obj))
			shape_error(psprintf("%s.resource", rpath), "must be an object");
		if (is_object(resource_obj))
			read_attributes(resource_obj->val.binary.data, psprintf("%s.resource", rpath), &resource);
		else
			memset(&resource, 0, sizeof(AttrSet));

		scope_spans = array_member(relem.val.binary.data, "scopeSpans", rpath);
		if (scope_spans != NULL)
		{
			sit = JsonbIteratorInit(scope_spans);
			while ((tok = JsonbIteratorNext(&sit, &selem, true)) != WJB_DONE)
			{
				char	   *spath;
				JsonbContainer *spans;
				JsonbIterator *pit;
				JsonbValue	pelem;
				int			n = 0;

				if (tok != WJB_ELEM)
					continue;
				spath = psprintf("%s.scopeSpans[%d]", rpath, s);
				if (!is_object(&selem))
					shape_error(spath, "must be an object");
				spans = array_member(selem.val.binary.data, "spans", spath);
				if (spans != NULL)
				{
					pit = JsonbIteratorInit(spans);
					while ((tok = JsonbIteratorNext(&pit, &pelem, true)) != WJB_DONE)
					{
						char	   *ppath;
						AttrSet		attrs;
						OpsEvent   *ev;

						if (tok != WJB_ELEM)
							continue;
						ppath = psprintf("%s.spans[%d]", spath, n);
						if (!is_object(&pelem))
							shape_error(ppath, "must be an object");
						read_attributes(pelem.val.binary.data, ppath, &attrs);
						if (!names_a_model(&attrs))
						{
							call.skipped_spans++;
							n++;
							continue;
						}
						opsmeter_ingest_check_batch_size(call.nevents + 1);
						if (call.nevents == capacity)
						{
							capacity *= 2;
							call.events = repalloc(call.events, sizeof(OpsEvent) * capacity);
						}
						ev = &call.events[call.nevents++];
						opsmeter_event_init(ev, ORIGIN_SPAN, n);
						ev->loc.resource = r;
						ev->loc.scope = s;
						parse_span(ev, pelem.val.binary.data, &attrs, &resource, ppath,
								   psprintf("%s.resource", rpath), &call.bounds);
						n++;
					}
				}
				s++;
			}
		}
		r++;
	}

	PG_RETURN_JSONB_P(opsmeter_ingest_finish(&call));
}
