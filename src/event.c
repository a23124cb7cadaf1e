/*
 * event.c — the rules of one telemetry event (SPEC §4), shared by both
 * parsers.  Anything a caller can get wrong is reported here with SQLSTATE
 * 22023, the field's name, where the event sits in the payload, and a hint.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "compat.h"
#include "event.h"
#include "guc.h"

static const char *const field_names[F_NUM_FIELDS] = {
	[F_EXTERNAL_REQUEST_ID] = "externalRequestId",
	[F_PROVIDER] = "provider",
	[F_MODEL] = "model",
	[F_INPUT_TOKENS] = "inputTokens",
	[F_OUTPUT_TOKENS] = "outputTokens",
	[F_TOTAL_TOKENS] = "totalTokens",
	[F_CACHED_INPUT_TOKENS] = "cachedInputTokens",
	[F_REASONING_TOKENS] = "reasoningTokens",
	[F_LATENCY_MS] = "latencyMs",
	[F_STATUS] = "status",
	[F_ERROR_CODE] = "errorCode",
	[F_PROMPT_VERSION] = "promptVersion",
	[F_ENDPOINT_TAG] = "endpointTag",
	[F_USER_ID] = "userId",
	[F_TENANT_ID] = "tenantId",
	[F_DATA_MODE] = "dataMode",
	[F_ENVIRONMENT] = "environment",
	[F_COST_USD] = "costUsd",
	[F_TIMESTAMP] = "timestamp",
	[F_METADATA] = "metadata",
};

/* String fields: bounds in characters, and where the value goes. */
typedef struct StringRule
{
	int			min_chars;
	int			max_chars;
	size_t		offset;
} StringRule;

#define STRING_RULE(f, lo, hi, member) [f] = {lo, hi, offsetof(OpsEvent, member)}
static const StringRule string_rules[F_NUM_FIELDS] = {
	STRING_RULE(F_EXTERNAL_REQUEST_ID, 1, 128, external_request_id),
	STRING_RULE(F_PROVIDER, 1, 100, provider),
	STRING_RULE(F_MODEL, 1, 200, model),
	STRING_RULE(F_ERROR_CODE, 0, 128, error_code),
	STRING_RULE(F_PROMPT_VERSION, 0, 128, prompt_version),
	STRING_RULE(F_ENDPOINT_TAG, 0, 128, endpoint_tag),
	STRING_RULE(F_USER_ID, 0, 256, user_id),
	STRING_RULE(F_TENANT_ID, 0, 256, tenant_id),
};

/* Integer fields: upper bound and destination. */
typedef struct IntRule
{
	int64		max;
	size_t		offset;
} IntRule;

#define TOKENS_MAX INT64CONST(1000000000000000)	/* 10^15 tokens */
#define INT_RULE(f, hi, member) [f] = {hi, offsetof(OpsEvent, member)}
static const IntRule int_rules[F_NUM_FIELDS] = {
	INT_RULE(F_INPUT_TOKENS, TOKENS_MAX, input_tokens),
	INT_RULE(F_OUTPUT_TOKENS, TOKENS_MAX, output_tokens),
	INT_RULE(F_TOTAL_TOKENS, TOKENS_MAX, total_tokens),
	INT_RULE(F_CACHED_INPUT_TOKENS, TOKENS_MAX, cached_input_tokens),
	INT_RULE(F_REASONING_TOKENS, TOKENS_MAX, reasoning_tokens),
};

#define COST_USD_MAX "1000000000"	/* one billion dollars per request */

/*
 * Decimal places a caller-supplied cost may carry: a picodollar.  Without a
 * bound, one event with costUsd 1e-16383 makes every sum over its
 * workspace (views, budgets, exports) carry 16,383 decimals.
 */
#define COST_USD_MAX_SCALE 12
#define FUTURE_SKEW_USECS (5 * USECS_PER_MINUTE)

EventField
opsmeter_event_field_lookup(const char *key, int len)
{
	static uint8 lengths[F_NUM_FIELDS];

	if (lengths[0] == 0)
		for (int f = 0; f < F_NUM_FIELDS; f++)
			lengths[f] = (uint8) strlen(field_names[f]);
	for (int f = 0; f < F_NUM_FIELDS; f++)
		if (lengths[f] == len && field_names[f][0] == key[0] &&
			memcmp(field_names[f], key, len) == 0)
			return (EventField) f;
	return F_UNKNOWN;
}

void
opsmeter_event_init(OpsEvent *ev, EventOrigin origin, int number)
{
	memset(ev, 0, sizeof(OpsEvent));
	ev->loc.origin = origin;
	ev->loc.number = number;
	ev->data_mode = DM_REAL;
	ev->environment = ENV_PROD;
}

char *
opsmeter_event_span_path(const EventLocation *loc)
{
	return psprintf("resourceSpans[%d].scopeSpans[%d].spans[%d]", loc->resource, loc->scope, loc->number);
}

/* " in element 3", " on line 4", " in resourceSpans[0]..." or "" — for messages about an event. */
static const char *
event_location_text(const EventLocation *loc)
{
	switch (loc->origin)
	{
		case ORIGIN_ELEMENT:
			return psprintf(" in element %d", loc->number);
		case ORIGIN_LINE:
			return psprintf(" on line %d", loc->number);
		case ORIGIN_SPAN:
			return psprintf(" in %s", opsmeter_event_span_path(loc));
		default:
			return "";
	}
}

static const char *
kind_name(ValueKind kind)
{
	static const char *const names[] = {"null", "a string", "a number", "a boolean", "an object", "an array"};

	return names[kind];
}

/* Shortened copy of a caller's string for a message. */
static char *
quoted_excerpt(const char *s, int len)
{
	int			cut = pg_mbcliplen(s, len, 64);

	return psprintf("\"%.*s%s\"", cut, s, cut < len ? "..." : "");
}

/* What a field takes, for hints. */
static const char *
field_expectation(EventField f)
{
	switch (f)
	{
		case F_EXTERNAL_REQUEST_ID:
			return "Send externalRequestId as a JSON string of 1 to 128 characters, unique per request.";
		case F_PROVIDER:
			return "Send provider as a JSON string of 1 to 100 characters, e.g. \"openai\".";
		case F_MODEL:
			return "Send model as a JSON string of 1 to 200 characters, e.g. \"gpt-4o-mini\".";
		case F_INPUT_TOKENS:
		case F_OUTPUT_TOKENS:
		case F_TOTAL_TOKENS:
		case F_CACHED_INPUT_TOKENS:
		case F_REASONING_TOKENS:
			return "Token counts are JSON integers from 0 to 1000000000000000.";
		case F_LATENCY_MS:
			return "latencyMs is a JSON integer from 0 to 2147483647 (milliseconds).";
		case F_ERROR_CODE:
		case F_PROMPT_VERSION:
		case F_ENDPOINT_TAG:
			return "Send it as a JSON string of at most 128 characters, or omit it.";
		case F_USER_ID:
		case F_TENANT_ID:
			return "Send it as a JSON string of at most 256 characters, or omit it.";
		case F_COST_USD:
			return "costUsd is a JSON number of US dollars from 0 to 1000000000 with at most 12 decimal places, e.g. 0.0042.";
		case F_METADATA:
			return "metadata is a JSON object of at most 8192 bytes.";
		default:
			return NULL;
	}
}

pg_noreturn static void
field_error(const OpsEvent *ev, EventField f, const char *problem, const char *hint)
{
	if (hint == NULL)
		hint = field_expectation(f);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid field \"%s\"%s: %s", field_names[f],
					event_location_text(&ev->loc), problem),
			 hint ? errhint("%s", hint) : 0));
}

pg_noreturn static void
type_error(const OpsEvent *ev, EventField f, const char *expected, const FieldValue *v, const char *hint)
{
	field_error(ev, f, psprintf("must be %s, not %s", expected, kind_name(v->kind)), hint);
}

/* Text from a caller: valid in the database encoding, no NUL bytes. */
static void
check_text(const OpsEvent *ev, EventField f, const char *s, int len)
{
	if (memchr(s, '\0', len) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
				 errmsg("invalid field \"%s\"%s: must not contain \\u0000",
						field_names[f], event_location_text(&ev->loc)),
				 errhint("PostgreSQL text cannot hold NUL characters; remove them.")));
	if (!pg_verify_mbstr(GetDatabaseEncoding(), s, len, true))
		field_error(ev, f, psprintf("is not valid %s", GetDatabaseEncodingName()),
					"Send text as valid UTF-8.");
}

static void
set_string(OpsEvent *ev, EventField f, const FieldValue *v)
{
	const StringRule *rule = &string_rules[f];
	int			nchars;

	if (v->kind != VK_STRING)
		type_error(ev, f, "a string", v, NULL);
	check_text(ev, f, v->str, v->len);
	nchars = v->len <= rule->max_chars ? v->len : pg_mbstrlen_with_len(v->str, v->len);
	if (nchars > rule->max_chars)
		field_error(ev, f, psprintf("must be at most %d characters, got %d", rule->max_chars, nchars),
					NULL);
	if (v->len == 0)
	{
		if (rule->min_chars > 0)
			field_error(ev, f, "must not be empty", NULL);
		return;					/* an empty optional string means absent */
	}
	*(char **) ((char *) ev + rule->offset) = pnstrdup(v->str, v->len);
	ev->seen[f] = true;
}

static int
numeric_compare(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(a), NumericGetDatum(b)));
}

typedef enum Int64Conversion
{
	INT64_EXACT,
	INT64_OUT_OF_RANGE,
	INT64_FRACTION
} Int64Conversion;

/*
 * Converts a numeric to int64 exactly, or says why it cannot.  Inside the
 * bounds numeric_int8 is exact for integral values; a zero display scale
 * (what "120" parses to) proves integral without another comparison.  The
 * bounds are built once per backend.
 */
static Int64Conversion
numeric_to_int64(Numeric num, int64 *out)
{
	static Numeric lo = NULL,
				hi = NULL;

	if (hi == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		lo = int64_to_numeric(PG_INT64_MIN);
		hi = int64_to_numeric(PG_INT64_MAX);
		MemoryContextSwitchTo(old);
	}
	if (numeric_is_nan(num) || numeric_is_inf(num) ||
		numeric_compare(num, hi) > 0 || numeric_compare(num, lo) < 0)
		return INT64_OUT_OF_RANGE;
	*out = DatumGetInt64(DirectFunctionCall1(numeric_int8, NumericGetDatum(num)));
	if (DatumGetInt32(DirectFunctionCall1(numeric_scale, NumericGetDatum(num))) == 0 ||
		numeric_compare(num, int64_to_numeric(*out)) == 0)
		return INT64_EXACT;
	return INT64_FRACTION;
}

static void
set_integer(OpsEvent *ev, EventField f, const FieldValue *v, int64 max)
{
	int64		val;

	if (v->kind != VK_NUMBER)
		type_error(ev, f, "a non-negative integer", v, NULL);
	if (v->is_int)
		val = v->ival;
	else
	{
		Int64Conversion conv = numeric_to_int64(v->num, &val);

		if (conv != INT64_EXACT)
		{
			char	   *text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->num)));

			if (conv == INT64_OUT_OF_RANGE)
				field_error(ev, f, psprintf("is out of range: %s", quoted_excerpt(text, strlen(text))),
							psprintf("Use an integer from 0 to " INT64_FORMAT ".", max));
			field_error(ev, f, psprintf("must be an integer, not %s", text), NULL);
		}
	}
	if (val < 0)
		field_error(ev, f, psprintf("must be >= 0, got " INT64_FORMAT, val), NULL);
	if (val > max)
		field_error(ev, f, psprintf("is out of range: " INT64_FORMAT, val),
					psprintf("Use an integer from 0 to " INT64_FORMAT ".", max));
	if (f == F_LATENCY_MS)
		ev->latency_ms = (int32) val;
	else
		*(int64 *) ((char *) ev + int_rules[f].offset) = val;
	ev->seen[f] = true;
}

/* "Allowed values: a, b, c." — built only when an error needs it. */
static char *
allowed_hint(const char *const *labels, int nlabels)
{
	StringInfoData allowed;

	initStringInfo(&allowed);
	appendStringInfoString(&allowed, "Allowed values: ");
	for (int i = 0; i < nlabels; i++)
		appendStringInfo(&allowed, "%s%s", i ? ", " : "", labels[i]);
	appendStringInfoChar(&allowed, '.');
	return allowed.data;
}

/* Matches a string against labels; returns its position or errors with a hint. */
static int
set_label(OpsEvent *ev, EventField f, const FieldValue *v, const char *const *labels, int nlabels)
{
	if (v->kind != VK_STRING)
		type_error(ev, f, "a string", v, allowed_hint(labels, nlabels));
	for (int i = 0; i < nlabels; i++)
		if ((int) strlen(labels[i]) == v->len && memcmp(labels[i], v->str, v->len) == 0)
		{
			ev->seen[f] = true;
			return i;
		}
	check_text(ev, f, v->str, v->len);
	field_error(ev, f, psprintf("unknown value %s", quoted_excerpt(v->str, v->len)),
				allowed_hint(labels, nlabels));
}

static void
set_cost(OpsEvent *ev, const FieldValue *v)
{
	Numeric		cost;

	if (v->kind != VK_NUMBER)
		type_error(ev, F_COST_USD, "a number", v, NULL);
	cost = v->is_int ? int64_to_numeric(v->ival) : v->num;
	if (numeric_is_nan(cost) || numeric_is_inf(cost))
		field_error(ev, F_COST_USD, "must be a finite number", NULL);
	if (numeric_compare(cost, int64_to_numeric(0)) < 0)
		field_error(ev, F_COST_USD,
					psprintf("must be >= 0, got %s",
							 DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(cost)))),
					NULL);
	if (numeric_compare(cost, DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(COST_USD_MAX),
																   ObjectIdGetDatum(InvalidOid),
																   Int32GetDatum(-1)))) > 0)
		field_error(ev, F_COST_USD, "must be at most " COST_USD_MAX, NULL);
	if (DatumGetInt32(DirectFunctionCall1(numeric_min_scale, NumericGetDatum(cost))) > COST_USD_MAX_SCALE)
		field_error(ev, F_COST_USD,
					psprintf("has more than %d decimal places", COST_USD_MAX_SCALE), NULL);
	/* Trailing zeros would widen every sum just the same: 0.50000 is 0.5. */
	ev->cost_usd = DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(cost)));
	ev->pricing = PRICING_CALLER;
	ev->seen[F_COST_USD] = true;
}

/* Reads exactly "ndigits" decimal digits; false when any is not a digit. */
static bool
read_digits(const char **p, const char *end, int ndigits, int *out)
{
	int			val = 0;

	if (end - *p < ndigits)
		return false;
	for (int i = 0; i < ndigits; i++, (*p)++)
	{
		if (**p < '0' || **p > '9')
			return false;
		val = val * 10 + (**p - '0');
	}
	*out = val;
	return true;
}

/*
 * Strict ISO-8601 / RFC 3339 with a zone:
 *   YYYY-MM-DD(T| )HH:MM[:SS[.fraction]](Z|+HH:MM|-HH:MM|+HHMM|+HH)
 * A timestamp without a zone is refused: its meaning would depend on the
 * server's TimeZone.  Fractions beyond microseconds are truncated.
 */
static bool
parse_iso8601(const char *s, int len, TimestampTz *result)
{
	const char *p = s,
			   *end = s + len;
	struct pg_tm tm = {0};
	fsec_t		fsec = 0;
	int			tz_hours = 0,
				tz_minutes = 0,
				sign = 1,
				offset;
	Timestamp	ts;

	if (!read_digits(&p, end, 4, &tm.tm_year) || p >= end || *p++ != '-' ||
		!read_digits(&p, end, 2, &tm.tm_mon) || p >= end || *p++ != '-' ||
		!read_digits(&p, end, 2, &tm.tm_mday) || p >= end ||
		(*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	if (!read_digits(&p, end, 2, &tm.tm_hour) || p >= end || *p++ != ':' ||
		!read_digits(&p, end, 2, &tm.tm_min))
		return false;
	if (p < end && *p == ':')
	{
		p++;
		if (!read_digits(&p, end, 2, &tm.tm_sec))
			return false;
		if (p < end && (*p == '.' || *p == ','))
		{
			int			scale = 100000;

			p++;
			if (p >= end || *p < '0' || *p > '9')
				return false;
			for (; p < end && *p >= '0' && *p <= '9'; p++, scale /= 10)
				fsec += (*p - '0') * scale;
		}
	}
	if (p >= end)
		return false;			/* no zone */
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-')
	{
		sign = (*p++ == '-') ? -1 : 1;
		if (!read_digits(&p, end, 2, &tz_hours))
			return false;
		if (p < end && *p == ':')
			p++;
		if (p < end && !read_digits(&p, end, 2, &tz_minutes))
			return false;
	}
	else
		return false;
	if (p != end)
		return false;

	if (tm.tm_year < 1 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] ||
		tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59 ||
		tz_hours > 15 || tz_minutes > 59)
		return false;

	/* PostgreSQL counts zones in seconds west of Greenwich. */
	offset = -sign * (tz_hours * SECS_PER_HOUR + tz_minutes * SECS_PER_MINUTE);
	if (tm2timestamp(&tm, fsec, &offset, &ts) != 0 || !IS_VALID_TIMESTAMP(ts))
		return false;
	*result = ts;
	return true;
}

static void
set_timestamp(OpsEvent *ev, const FieldValue *v)
{
	if (v->kind != VK_STRING)
		type_error(ev, F_TIMESTAMP, "an ISO-8601 string", v,
				   "Example: \"2026-02-07T12:34:56Z\" or \"2026-02-07T13:34:56.250+01:00\".");
	check_text(ev, F_TIMESTAMP, v->str, v->len);
	if (!parse_iso8601(v->str, v->len, &ev->ts))
		field_error(ev, F_TIMESTAMP,
					psprintf("%s is not an ISO-8601 timestamp with a time zone",
							 quoted_excerpt(v->str, v->len)),
					"Example: \"2026-02-07T12:34:56Z\" or \"2026-02-07T13:34:56.250+01:00\".");
	ev->seen[F_TIMESTAMP] = true;
}

/* Deepest nesting of containers inside a jsonb container (1 for {}). */
int
opsmeter_event_jsonb_depth(JsonbContainer *container)
{
	JsonbIterator *it = JsonbIteratorInit(container);
	JsonbValue	v;
	JsonbIteratorToken tok;
	int			depth = 0,
				deepest = 0;

	while ((tok = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (tok == WJB_BEGIN_OBJECT || tok == WJB_BEGIN_ARRAY)
		{
			depth++;
			deepest = Max(deepest, depth);
		}
		else if (tok == WJB_END_OBJECT || tok == WJB_END_ARRAY)
			depth--;
	}
	return deepest;
}

static void
set_metadata(OpsEvent *ev, const FieldValue *v)
{
	if (v->kind != VK_OBJECT || v->object == NULL)
		type_error(ev, F_METADATA, "a JSON object", v, NULL);
	if (1 + opsmeter_event_jsonb_depth(&v->object->root) > OPSMETER_MAX_NESTING)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid field \"metadata\"%s: nested deeper than %d levels",
						event_location_text(&ev->loc), OPSMETER_MAX_NESTING),
				 errhint("An event and its metadata may nest at most %d levels of objects and arrays.",
						 OPSMETER_MAX_NESTING)));
	if (VARSIZE(v->object) > OPSMETER_METADATA_MAX_BYTES)
		field_error(ev, F_METADATA,
					psprintf("is %d bytes, more than the limit of %d",
							 (int) VARSIZE(v->object), OPSMETER_METADATA_MAX_BYTES),
					"Keep metadata small; store large payloads elsewhere and reference them.");
	ev->metadata = v->object;
	ev->seen[F_METADATA] = true;
}

void
opsmeter_event_set_field(OpsEvent *ev, EventField f, const FieldValue *v)
{
	static const char *const status_labels[] = {"success", "error"};

	if (v->kind == VK_NULL)
	{
		ev->seen[f] = false;	/* null means absent; required ones fail later */
		return;
	}
	switch (f)
	{
		case F_EXTERNAL_REQUEST_ID:
		case F_PROVIDER:
		case F_MODEL:
		case F_ERROR_CODE:
		case F_PROMPT_VERSION:
		case F_ENDPOINT_TAG:
		case F_USER_ID:
		case F_TENANT_ID:
			set_string(ev, f, v);
			break;
		case F_INPUT_TOKENS:
		case F_OUTPUT_TOKENS:
		case F_TOTAL_TOKENS:
		case F_CACHED_INPUT_TOKENS:
		case F_REASONING_TOKENS:
			set_integer(ev, f, v, int_rules[f].max);
			break;
		case F_LATENCY_MS:
			set_integer(ev, f, v, PG_INT32_MAX);
			break;
		case F_STATUS:
			ev->is_error = set_label(ev, f, v, status_labels, 2) == 1;
			break;
		case F_DATA_MODE:
			ev->data_mode = (DataMode) set_label(ev, f, v, opsmeter_data_mode_labels, 3);
			break;
		case F_ENVIRONMENT:
			ev->environment = (Environment) set_label(ev, f, v, opsmeter_environment_labels, 3);
			break;
		case F_COST_USD:
			set_cost(ev, v);
			break;
		case F_TIMESTAMP:
			set_timestamp(ev, v);
			break;
		case F_METADATA:
			set_metadata(ev, v);
			break;
		default:
			elog(ERROR, "unexpected event field %d", f);
	}
}

/*
 * The nesting limit for a container value of any field but metadata (which
 * set_metadata checks): ignored fields count too, or a payload could nest
 * without bound in a field nobody reads.  depth is 1 for {} or [].
 */
void
opsmeter_event_check_nesting(const OpsEvent *ev, const char *key, int len, int depth)
{
	if (1 + depth > OPSMETER_MAX_NESTING)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("invalid field %s%s: nested deeper than %d levels",
						quoted_excerpt(key, len), event_location_text(&ev->loc), OPSMETER_MAX_NESTING),
				 errhint("An event and its metadata may nest at most %d levels of objects and arrays.",
						 OPSMETER_MAX_NESTING)));
}

void
opsmeter_event_set_timestamp(OpsEvent *ev, TimestampTz ts)
{
	ev->ts = ts;
	ev->seen[F_TIMESTAMP] = true;
}

void
opsmeter_event_note_unknown_field(OpsEvent *ev, const char *key, int len)
{
	int			cut = pg_mbcliplen(key, len, 64);

	ev->warnings = lappend(ev->warnings, psprintf("unknown_field:%.*s", cut, key));
}

static void
require(const OpsEvent *ev, EventField f)
{
	if (!ev->seen[f])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("missing required field \"%s\"%s", field_names[f], event_location_text(&ev->loc)),
				 errhint("Required fields: externalRequestId, provider, model, inputTokens, outputTokens.")));
}

void
opsmeter_event_finish(OpsEvent *ev, const EventBounds *bounds)
{
	int64		sum;

	require(ev, F_EXTERNAL_REQUEST_ID);
	require(ev, F_PROVIDER);
	require(ev, F_MODEL);
	require(ev, F_INPUT_TOKENS);
	require(ev, F_OUTPUT_TOKENS);

	if (ev->seen[F_CACHED_INPUT_TOKENS] && ev->cached_input_tokens > ev->input_tokens)
		field_error(ev, F_CACHED_INPUT_TOKENS,
					psprintf("must not exceed inputTokens (" INT64_FORMAT " > " INT64_FORMAT ")",
							 ev->cached_input_tokens, ev->input_tokens),
					"cachedInputTokens counts the part of inputTokens served from the prompt cache.");
	if (ev->seen[F_REASONING_TOKENS] && ev->reasoning_tokens > ev->output_tokens)
		field_error(ev, F_REASONING_TOKENS,
					psprintf("must not exceed outputTokens (" INT64_FORMAT " > " INT64_FORMAT ")",
							 ev->reasoning_tokens, ev->output_tokens),
					"reasoningTokens counts the part of outputTokens spent on reasoning.");

	sum = ev->input_tokens + ev->output_tokens;	/* both <= 10^15: no overflow */
	if (!ev->seen[F_TOTAL_TOKENS])
		ev->total_tokens = sum;
	else if (ev->total_tokens != sum)
		ev->warnings = lappend(ev->warnings, "total_tokens_mismatch");

	if (!ev->seen[F_TIMESTAMP])
		ev->ts = bounds->now;
	else if (ev->ts > bounds->newest)
		field_error(ev, F_TIMESTAMP,
					psprintf("%s is more than 5 minutes in the future",
							 timestamptz_to_str(ev->ts)),
					"Check the client's clock; omit timestamp to use the server's time.");
	else if (ev->ts < bounds->oldest)
	{
		/* timestamptz_to_str() returns a static buffer: copy each result. */
		char	   *sent = pstrdup(timestamptz_to_str(ev->ts));
		char	   *oldest = pstrdup(timestamptz_to_str(bounds->oldest));

		field_error(ev, F_TIMESTAMP,
					psprintf("%s is older than the raw retention (oldest accepted: %s)", sent, oldest),
					psprintf("Raw retention is set by opsmeter.raw_retention or per workspace, and is at most "
							 "opsmeter.max_raw_retention (%s); older events cannot be stored.",
							 GetConfigOptionByName("opsmeter.max_raw_retention", NULL, false)));
	}

	if (!ev->seen[F_COST_USD])
		ev->pricing = PRICING_UNPRICED;	/* ingest.c prices it */
}
