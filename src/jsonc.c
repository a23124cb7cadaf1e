/*
 * jsonc.c — json-c helpers: strict parsing, exact numbers, jsonb conversion.
 */
#include "postgres.h"

#include "jsonc.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"


#include <errno.h>

struct json_tokener *
jsonc_new_tokener(void)
{
	struct json_tokener *tok = json_tokener_new_ex(OPSMETER_JSON_MAX_DEPTH);

	if (tok == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

struct json_object *
jsonc_parse(struct json_tokener *tok, const char *text, size_t len,
			const char **problem, bool *too_deep)
{
	struct json_object *obj;
	enum json_tokener_error err;

	*too_deep = false;
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	if (obj != NULL && err == json_tokener_success && json_tokener_get_parse_end(tok) == len)
		return obj;
	if (obj != NULL)
		json_object_put(obj);
	if (err == json_tokener_continue)
		*problem = "unexpected end of input";
	else if (err == json_tokener_success)
		*problem = "unexpected text after the JSON value";
	else
		*problem = json_tokener_error_desc(err);
	*too_deep = (err == json_tokener_error_depth);
	return NULL;
}

Numeric
jsonc_number(struct json_object *num)
{
	const char *text = json_object_get_string(num);

	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

bool
jsonc_int_overflows(struct json_object *num)
{
	int64_t		v;

	errno = 0;
	v = json_object_get_int64(num);
	return (v == INT64_MAX && json_object_get_uint64(num) > (uint64_t) INT64_MAX) ||
		errno == ERANGE;
}

bool
jsonc_contains_nul(struct json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_string:
			return strlen(json_object_get_string(obj)) != (size_t) json_object_get_string_len(obj);
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(obj); i++)
				if (jsonc_contains_nul(json_object_array_get_idx(obj, i)))
					return true;
			return false;
		case json_type_object:
			{
				json_object_object_foreach(obj, key, val)
				{
					(void) key;
					if (val != NULL && jsonc_contains_nul(val))
						return true;
				}
				return false;
			}
		default:
			return false;
	}
}

Jsonb *
jsonc_to_jsonb(struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

const char *
jsonc_kind_name(struct json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_null:
			return "null";
		case json_type_boolean:
			return "a boolean";
		case json_type_double:
		case json_type_int:
			return "a number";
		case json_type_object:
			return "an object";
		case json_type_array:
			return "an array";
		case json_type_string:
			return "a string";
	}
	return "a value";
}
