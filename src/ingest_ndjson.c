/*
 * ingest_ndjson.c — opsmeter_ingest_ndjson(text): one JSON event object per
 * line, parsed with json-c straight from the text (no jsonb on the way),
 * then the same validator and pipeline as opsmeter_ingest.
 */
#include "postgres.h"

#include "jsonc.h"

#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "event.h"
#include "ingest.h"

PG_FUNCTION_INFO_V1(opsmeter_ingest_ndjson);

static void
to_field_value(struct json_object *val, EventField field, int lineno, FieldValue *fv)
{
	memset(fv, 0, sizeof(FieldValue));
	switch (json_object_get_type(val))
	{
		case json_type_null:
			fv->kind = VK_NULL;
			break;
		case json_type_string:
			fv->kind = VK_STRING;
			fv->str = json_object_get_string(val);
			fv->len = json_object_get_string_len(val);
			break;
		case json_type_int:
			fv->kind = VK_NUMBER;
			if (opsmeter_jsonc_int_overflows(val))
				fv->beyond_int64 = true;	/* json-c lost its digits */
			else if (opsmeter_jsonc_int_above_int64(val))
				fv->num = opsmeter_jsonc_number(val);	/* exact text, out of range */
			else
			{
				fv->is_int = true;
				fv->ival = json_object_get_int64(val);
			}
			break;
		case json_type_double:
			fv->kind = VK_NUMBER;
			fv->num = opsmeter_jsonc_number(val);
			break;
		case json_type_boolean:
			fv->kind = VK_BOOL;
			break;
		case json_type_array:
			fv->kind = VK_ARRAY;
			break;
		case json_type_object:
			fv->kind = VK_OBJECT;
			if (field == F_METADATA)
			{
				if (opsmeter_jsonc_has_int_beyond_int64(val))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid field \"metadata\" on line %d: holds an integer beyond the 64-bit range", lineno),
							 errhint("In NDJSON bodies, metadata integers must lie between -9223372036854775807 and 18446744073709551614; send larger ones as strings or decimals.")));
				fv->object = opsmeter_jsonc_to_jsonb(val);
			}
			break;
	}
}

/*
 * Deepest nesting of containers in a json-c value (1 for {} or []).  The
 * tokener's depth limit bounds the recursion.
 */
static int
jsonc_depth(struct json_object *val)
{
	int			deepest = 0;

	if (json_object_is_type(val, json_type_object))
	{
		json_object_object_foreach(val, key, child)
		{
			int			d = jsonc_depth(child);	/* once: Max() evaluates twice */

			(void) key;
			deepest = Max(deepest, d);
		}
		return 1 + deepest;
	}
	if (json_object_is_type(val, json_type_array))
	{
		size_t		n = json_object_array_length(val);

		for (size_t i = 0; i < n; i++)
		{
			int			d = jsonc_depth(json_object_array_get_idx(val, i));

			deepest = Max(deepest, d);
		}
		return 1 + deepest;
	}
	return 0;
}

static void
parse_line(OpsEvent *ev, const char *line, size_t len, int lineno,
		   struct json_tokener *tok, struct json_object **current, const EventBounds *bounds)
{
	const char *problem;
	bool		too_deep;
	bool		nul;

	problem = opsmeter_json_text_strict_problem(line, len, &nul);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(nul ? ERRCODE_UNTRANSLATABLE_CHARACTER : ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid JSON on line %d: %s", lineno, problem),
				 nul ? errhint("PostgreSQL text and jsonb cannot hold NUL characters; remove them.")
				 : errhint("Each line must hold one JSON object (RFC 8259).")));
	*current = opsmeter_json_text_parse(tok, line, len, &problem, &too_deep);
	if (*current == NULL && problem == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid line %d: must be a JSON object, not null", lineno),
				 errhint("Each line holds one event object.")));
	if (*current == NULL)
		ereport(ERROR,
				(errcode(too_deep ? ERRCODE_PROGRAM_LIMIT_EXCEEDED : ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid JSON on line %d: %s", lineno, problem),
				 too_deep
				 ? errhint("An event and its metadata may nest at most %d levels.", OPSMETER_MAX_NESTING)
				 : errhint("Each line must hold one complete JSON object.")));
	if (!json_object_is_type(*current, json_type_object))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid line %d: must be a JSON object, not %s",
						lineno, opsmeter_jsonc_kind_name(*current)),
				 errhint("Each line holds one event object.")));

	opsmeter_event_init(ev, ORIGIN_LINE, lineno);
	{
		json_object_object_foreach(*current, key, val)
		{
			int			keylen = strlen(key);
			EventField	field = opsmeter_event_field_lookup(key, keylen);
			FieldValue	fv;

			if (field != F_METADATA && (json_object_is_type(val, json_type_object) ||
										json_object_is_type(val, json_type_array)))
				opsmeter_event_check_nesting(ev, key, keylen, jsonc_depth(val));
			if (field == F_UNKNOWN)
			{
				opsmeter_event_note_unknown_field(ev, key, keylen);
				continue;
			}
			to_field_value(val, field, lineno, &fv);
			opsmeter_event_set_field(ev, field, &fv);
		}
	}
	opsmeter_event_finish(ev, bounds);
	json_object_put(*current);
	*current = NULL;
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
	struct json_tokener *volatile tok = NULL;
	struct json_object *volatile current = NULL;
	int			nevents = 0;

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

	PG_TRY();
	{
		int			lineno = 0,
					i = 0;

		tok = opsmeter_jsonc_new_tokener();
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
			parse_line(&call.events[i++], line, trimmed_length(line, len), lineno, tok,
					   (struct json_object **) &current, &call.bounds);
		}
	}
	PG_FINALLY();
	{
		if (current != NULL)
			json_object_put(current);
		if (tok != NULL)
			json_tokener_free(tok);
	}
	PG_END_TRY();

	PG_RETURN_JSONB_P(opsmeter_ingest_finish(&call));
}
