/*
 * ingest_ndjson.c — opsmeter_ingest_ndjson(text): one JSON event object per
 * line, read straight from the text into the event (json_scan.c: no tree,
 * no jsonb on the way, strings not copied unless escaped), then the same
 * validator and pipeline as opsmeter_ingest.
 */
#include "postgres.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

#include "event.h"
#include "ingest.h"
#include "json_scan.h"

PG_FUNCTION_INFO_V1(opsmeter_ingest_ndjson);

/* One member of a line's object, its key decoded. */
typedef struct LineMember
{
	const char *name;
	int			name_len;
	int			order;			/* position on the line */
	JsonScanValue value;
} LineMember;

/* The members of the line being read; the array is reused line after line. */
typedef struct LineMembers
{
	LineMember *items;
	int			count;
	int			capacity;
} LineMembers;

/*
 * jsonb's order of object keys: shorter first, then bytewise, and of two
 * equal keys the later first, so that keeping the first of each run keeps
 * the last one written.  Reading members in this order makes a line behave
 * exactly as the same object sent to opsmeter_ingest(jsonb): the same value
 * wins, the same error is reported first, warnings come in the same order.
 */
static int
member_order(const LineMember *a, const LineMember *b)
{
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	if (a->name_len > 0)
	{
		int			c = memcmp(a->name, b->name, a->name_len);

		if (c != 0)
			return c;
	}
	return a->order > b->order ? -1 : (a->order < b->order ? 1 : 0);
}

#define ST_SORT sort_line_members
#define ST_ELEMENT_TYPE LineMember
#define ST_COMPARE(a, b) member_order(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static void
report_scan_error(const JsonScanner *scan, int lineno)
{
	switch (scan->error)
	{
		case JSON_SCAN_NUL:
			ereport(ERROR,
					(errcode(ERRCODE_UNTRANSLATABLE_CHARACTER),
					 errmsg("invalid JSON on line %d: %s", lineno, scan->message),
					 errdetail("At byte %zu of the line.", scan->error_at + 1),
					 errhint("PostgreSQL text and jsonb cannot hold NUL characters; remove them.")));
			break;
		case JSON_SCAN_TOO_DEEP:
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("invalid JSON on line %d: %s", lineno, scan->message),
					 errdetail("At byte %zu of the line.", scan->error_at + 1),
					 errhint("An event and its metadata may nest at most %d levels.", OPSMETER_MAX_NESTING)));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid JSON on line %d: %s", lineno, scan->message),
					 errdetail("At byte %zu of the line.", scan->error_at + 1),
					 errhint("Each line must hold one JSON object (RFC 8259).")));
	}
}

static const char *
kind_name(JsonScanKind kind)
{
	switch (kind)
	{
		case JSON_SCAN_NULL:
			return "null";
		case JSON_SCAN_FALSE:
		case JSON_SCAN_TRUE:
			return "a boolean";
		case JSON_SCAN_NUMBER:
			return "a number";
		case JSON_SCAN_STRING:
			return "a string";
		case JSON_SCAN_ARRAY:
			return "an array";
		case JSON_SCAN_OBJECT:
			break;
	}
	return "an object";
}

/* A scanned string, decoded only when it holds an escape. */
static const char *
string_text(const JsonScanValue *v, int *len)
{
	char	   *decoded;

	if (!v->escaped)
	{
		*len = (int) v->len;
		return v->text;
	}
	decoded = palloc(v->len + 1);
	*len = (int) opsmeter_json_scan_unescape(v->text, v->len, decoded);
	decoded[*len] = '\0';
	return decoded;
}

/*
 * A number: an integer that fits int64 is read here (most token counts);
 * anything else becomes an exact numeric, and event.c judges it.
 */
static void
read_number(const JsonScanValue *v, FieldValue *fv)
{
	fv->kind = VK_NUMBER;
	if (v->integer && v->len <= 20)
	{
		const char *p = v->text;
		const char *end = v->text + v->len;
		bool		negative = (*p == '-');
		uint64		magnitude = 0;
		bool		overflow = false;

		if (negative)
			p++;
		for (; p < end; p++)
		{
			unsigned	digit = (unsigned) (*p - '0');

			if (magnitude > (PG_UINT64_MAX - digit) / 10)
			{
				overflow = true;
				break;
			}
			magnitude = magnitude * 10 + digit;
		}
		if (!overflow && (negative ? magnitude <= (uint64) PG_INT64_MAX + 1 : magnitude <= (uint64) PG_INT64_MAX))
		{
			fv->is_int = true;
			fv->ival = negative ? (int64) (0 - magnitude) : (int64) magnitude;
			return;
		}
	}
	fv->num = DatumGetNumeric(DirectFunctionCall3(numeric_in,
												  CStringGetDatum(pnstrdup(v->text, v->len)),
												  ObjectIdGetDatum(InvalidOid),
												  Int32GetDatum(-1)));
}

static void
to_field_value(const JsonScanValue *v, EventField field, FieldValue *fv)
{
	memset(fv, 0, sizeof(FieldValue));
	switch (v->kind)
	{
		case JSON_SCAN_NULL:
			fv->kind = VK_NULL;
			break;
		case JSON_SCAN_FALSE:
		case JSON_SCAN_TRUE:
			fv->kind = VK_BOOL;
			break;
		case JSON_SCAN_NUMBER:
			read_number(v, fv);
			break;
		case JSON_SCAN_STRING:
			fv->kind = VK_STRING;
			fv->str = string_text(v, &fv->len);
			break;
		case JSON_SCAN_ARRAY:
			fv->kind = VK_ARRAY;
			break;
		case JSON_SCAN_OBJECT:
			fv->kind = VK_OBJECT;

			/*
			 * Only metadata is kept as a document.  The scanner has checked
			 * it is JSON that jsonb accepts, and jsonb's own input builds it
			 * exactly as opsmeter_ingest(jsonb) would have.
			 */
			if (field == F_METADATA)
				fv->object = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
																CStringGetDatum(pnstrdup(v->text, v->len))));
			break;
	}
}

static void
parse_line(OpsEvent *ev, const char *line, size_t len, int lineno,
		   LineMembers *members, const EventBounds *bounds)
{
	JsonScanner scan;
	JsonScanValue root,
				key,
				value;

	if (!opsmeter_json_scan_begin(&scan, line, len, &root))
		report_scan_error(&scan, lineno);
	if (root.kind != JSON_SCAN_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid line %d: must be a JSON object, not %s", lineno, kind_name(root.kind)),
				 errhint("Each line holds one event object.")));

	/* The whole line is read before any rule applies: bad JSON comes first. */
	members->count = 0;
	while (opsmeter_json_scan_next_member(&scan, &key, &value))
	{
		LineMember *m;

		if (members->count == members->capacity)
		{
			members->capacity *= 2;
			members->items = repalloc(members->items, sizeof(LineMember) * members->capacity);
		}
		m = &members->items[members->count];
		m->name = string_text(&key, &m->name_len);
		m->order = members->count++;
		m->value = value;
	}
	if (scan.error != JSON_SCAN_OK)
		report_scan_error(&scan, lineno);
	sort_line_members(members->items, members->count);

	opsmeter_event_init(ev, ORIGIN_LINE, lineno);
	for (int i = 0; i < members->count; i++)
	{
		const LineMember *m = &members->items[i];
		EventField	field;
		FieldValue	fv;

		/* of equal keys the last written sorts first: skip the others */
		if (i > 0 && m->name_len == m[-1].name_len &&
			memcmp(m->name, m[-1].name, m->name_len) == 0)
			continue;
		field = opsmeter_event_field_lookup(m->name, m->name_len);
		if (field != F_METADATA &&
			(m->value.kind == JSON_SCAN_OBJECT || m->value.kind == JSON_SCAN_ARRAY))
			opsmeter_event_check_nesting(ev, m->name, m->name_len, m->value.depth);
		if (field == F_UNKNOWN)
		{
			opsmeter_event_note_unknown_field(ev, m->name, m->name_len);
			continue;
		}
		to_field_value(&m->value, field, &fv);
		opsmeter_event_set_field(ev, field, &fv);
	}
	opsmeter_event_finish(ev, bounds);
}

/* Length of a line without its trailing "\r" and blanks. */
static size_t
trimmed_length(const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	return len;
}

static bool
is_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

/*
 * opsmeter_ingest_ndjson(body text) RETURNS jsonb — newline-delimited
 * events; blank lines are skipped; all-or-nothing like a batch.
 */
Datum
opsmeter_ingest_ndjson(PG_FUNCTION_ARGS)
{
	text	   *body = PG_GETARG_TEXT_PP(0);
	const char *data = VARDATA_ANY(body);
	size_t		size = VARSIZE_ANY_EXHDR(body);
	IngestCall	call;
	LineMembers members;
	int			nevents = 0,
				lineno = 0,
				i = 0;

	opsmeter_ingest_begin(&call, "opsmeter_ingest_ndjson");
	if (GetDatabaseEncoding() != PG_UTF8)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("opsmeter_ingest_ndjson() requires a UTF8 database"),
				 errhint("Use opsmeter_ingest(jsonb) in databases of other encodings.")));
	opsmeter_ingest_check_payload_size(size);

	/* Count the events first: the batch limit applies before any parsing. */
	for (size_t start = 0; start < size;)
	{
		const char *nl = memchr(data + start, '\n', size - start);
		size_t		end = nl ? (size_t) (nl - data) : size;

		if (!is_blank(data + start, end - start))
			nevents++;
		start = end + 1;
	}
	opsmeter_ingest_check_batch_size(nevents);

	call.batch = true;
	call.by_line = true;
	call.nevents = nevents;
	call.events = palloc(sizeof(OpsEvent) * Max(nevents, 1));

	members.capacity = 32;
	members.count = 0;
	members.items = palloc(sizeof(LineMember) * members.capacity);
	for (size_t start = 0; start < size;)
	{
		const char *nl = memchr(data + start, '\n', size - start);
		size_t		end = nl ? (size_t) (nl - data) : size;
		const char *line = data + start;
		size_t		len = end - start;

		lineno++;
		start = end + 1;
		if (is_blank(line, len))
			continue;
		parse_line(&call.events[i++], line, trimmed_length(line, len), lineno,
				   &members, &call.bounds);
	}

	PG_RETURN_JSONB_P(opsmeter_ingest_finish(&call));
}
