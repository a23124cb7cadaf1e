/*
 * event.h — one validated telemetry event, and the single validator the
 * three parsers (jsonb in ingest_jsonb.c, JSON text in ingest_ndjson.c, OTLP
 * spans in ingest_otlp.c) feed.
 *
 * A parser walks its document and hands every key/value pair to
 * opsmeter_event_set_field() as a FieldValue; opsmeter_event_finish() then
 * applies required fields, defaults and cross-field rules.  Every rule of
 * SPEC §4 lives in event.c and nowhere else, so every entry point accepts
 * exactly the same events and raises exactly the same errors.  Builds on
 * labels.h only.
 */
#ifndef OPSMETER_EVENT_H
#define OPSMETER_EVENT_H

#include "postgres.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "labels.h"

typedef enum EventField
{
	F_EXTERNAL_REQUEST_ID = 0,
	F_PROVIDER,
	F_MODEL,
	F_INPUT_TOKENS,
	F_OUTPUT_TOKENS,
	F_TOTAL_TOKENS,
	F_CACHED_INPUT_TOKENS,
	F_REASONING_TOKENS,
	F_LATENCY_MS,
	F_STATUS,
	F_ERROR_CODE,
	F_PROMPT_VERSION,
	F_ENDPOINT_TAG,
	F_USER_ID,
	F_TENANT_ID,
	F_DATA_MODE,
	F_ENVIRONMENT,
	F_COST_USD,
	F_TIMESTAMP,
	F_METADATA,
	F_NUM_FIELDS,
	F_UNKNOWN = -1
} EventField;

typedef enum ValueKind
{
	VK_NULL,
	VK_STRING,
	VK_NUMBER,
	VK_BOOL,
	VK_OBJECT,
	VK_ARRAY
} ValueKind;

/* A parser's view of one JSON value, before any rule is applied. */
typedef struct FieldValue
{
	ValueKind	kind;
	const char *str;			/* VK_STRING: not NUL-terminated */
	int			len;
	bool		is_int;			/* VK_NUMBER: exact int64 in ival ... */
	int64		ival;
	Numeric		num;			/* ... else the exact decimal */
	Jsonb	   *object;			/* VK_OBJECT, built only for "metadata" */
} FieldValue;

/* Where an event came from, for error messages. */
typedef enum EventOrigin
{
	ORIGIN_SINGLE,				/* opsmeter_ingest('{...}') */
	ORIGIN_ELEMENT,				/* opsmeter_ingest('[...]'), 0-based index */
	ORIGIN_LINE,				/* opsmeter_ingest_ndjson, 1-based line */
	ORIGIN_SPAN					/* opsmeter_ingest_otlp, 0-based span index */
} EventOrigin;

typedef struct EventLocation
{
	EventOrigin origin;
	int			number;
	int			resource;		/* ORIGIN_SPAN: resourceSpans[resource] */
	int			scope;			/* ORIGIN_SPAN: .scopeSpans[scope].spans[number] */
} EventLocation;

typedef struct OpsEvent
{
	EventLocation loc;
	bool		seen[F_NUM_FIELDS];

	char	   *external_request_id;
	char	   *provider;
	char	   *model;
	int64		input_tokens;
	int64		output_tokens;
	int64		total_tokens;
	int64		cached_input_tokens;
	int64		reasoning_tokens;
	int32		latency_ms;		/* valid when seen[F_LATENCY_MS] */
	bool		is_error;
	char	   *error_code;		/* NULL when absent */
	char	   *prompt_version;
	char	   *endpoint_tag;
	char	   *user_id;
	char	   *tenant_id;
	DataMode	data_mode;
	Environment environment;
	TimestampTz ts;
	Jsonb	   *metadata;		/* NULL when absent */

	Numeric		cost_usd;		/* NULL when unpriced */
	PricingSource pricing;

	List	   *warnings;		/* of char *, machine-readable */
	bool		duplicate;		/* set by storage */
} OpsEvent;

/* Bounds every event of one call is checked against. */
typedef struct EventBounds
{
	TimestampTz now;			/* default timestamp */
	TimestampTz newest;			/* now + 5 minutes */
	TimestampTz oldest;			/* now - raw retention */
} EventBounds;

extern EventField opsmeter_event_field_lookup(const char *key, int len);
extern void opsmeter_event_init(OpsEvent *ev, EventOrigin origin, int number);
extern void opsmeter_event_set_field(OpsEvent *ev, EventField field, const FieldValue *v);

/* Deepest nesting of containers in a jsonb container (1 for {} or []). */
extern int	opsmeter_event_jsonb_depth(JsonbContainer *container);

/* 54000 when a container value (depth: 1 for {}) nests the event too deep. */
extern void opsmeter_event_check_nesting(const OpsEvent *ev, const char *key, int len, int depth);
extern void opsmeter_event_note_unknown_field(OpsEvent *ev, const char *key, int len);

/* A timestamp a parser computed itself (OTLP nanoseconds); checked by finish. */
extern void opsmeter_event_set_timestamp(OpsEvent *ev, TimestampTz ts);

/* "resourceSpans[r].scopeSpans[s].spans[n]" of an ORIGIN_SPAN event. */
extern char *opsmeter_event_span_path(const EventLocation *loc);
extern void opsmeter_event_finish(OpsEvent *ev, const EventBounds *bounds);

/* Limits (README "Limits"). */
#define OPSMETER_METADATA_MAX_BYTES 8192
#define OPSMETER_MAX_NESTING 64		/* levels, counting the event object */

#endif							/* OPSMETER_EVENT_H */
