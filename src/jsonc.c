/*
 * jsonc.c — json-c helpers that need PostgreSQL: exact numbers, jsonb
 * conversion.  Strict parsing is in json_text.c.
 */
#include "postgres.h"

#include "jsonc.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"



struct json_tokener *
opsmeter_jsonc_new_tokener(void)
{
	struct json_tokener *tok = opsmeter_json_text_new_tokener();

	if (tok == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return tok;
}

Numeric
opsmeter_jsonc_number(struct json_object *num)
{
	const char *text = json_object_get_string(num);

	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}

/*
 * json-c keeps integers from INT64_MIN to UINT64_MAX exactly, but silently
 * clamps anything beyond to INT64_MIN or UINT64_MAX: treat those two values
 * as "digits lost".  (Both are outside every opsmeter range anyway.)
 */
bool
opsmeter_jsonc_int_overflows(struct json_object *num)
{
	return json_object_get_int64(num) == INT64_MIN ||
		json_object_get_uint64(num) == UINT64_MAX;
}

/* True for an int json-c holds as uint64 above INT64_MAX (exact). */
bool
opsmeter_jsonc_int_above_int64(struct json_object *num)
{
	return json_object_get_int64(num) == INT64_MAX &&
		json_object_get_uint64(num) > (uint64_t) INT64_MAX;
}

bool
opsmeter_jsonc_has_int_beyond_int64(struct json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_int:
			return opsmeter_jsonc_int_overflows(obj);
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(obj); i++)
				if (opsmeter_jsonc_has_int_beyond_int64(json_object_array_get_idx(obj, i)))
					return true;
			return false;
		case json_type_object:
			{
				json_object_object_foreach(obj, key, val)
				{
					(void) key;
					if (val != NULL && opsmeter_jsonc_has_int_beyond_int64(val))
						return true;
				}
				return false;
			}
		default:
			return false;
	}
}

Jsonb *
opsmeter_jsonc_to_jsonb(struct json_object *obj)
{
	const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

const char *
opsmeter_jsonc_kind_name(struct json_object *obj)
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
