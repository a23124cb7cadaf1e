/*
 * jsonc.c — json-c helpers: strict parsing, exact numbers, jsonb conversion.
 */
#include "postgres.h"

#include "jsonc.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"



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
	/* A bare number or literal only ends at a terminator: feed one. */
	if (obj == NULL && err == json_tokener_continue && json_tokener_get_parse_end(tok) == len)
	{
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		if (obj != NULL && err == json_tokener_success)
			return obj;
		if (obj != NULL)
			json_object_put(obj);
		*problem = "unexpected end of input";
		return NULL;
	}
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

/*
 * json-c keeps integers from INT64_MIN to UINT64_MAX exactly, but silently
 * clamps anything beyond to INT64_MIN or UINT64_MAX: treat those two values
 * as "digits lost".  (Both are outside every opsmeter range anyway.)
 */
bool
jsonc_int_overflows(struct json_object *num)
{
	return json_object_get_int64(num) == INT64_MIN ||
		json_object_get_uint64(num) == UINT64_MAX;
}

/* True for an int json-c holds as uint64 above INT64_MAX (exact). */
bool
jsonc_int_above_int64(struct json_object *num)
{
	return json_object_get_int64(num) == INT64_MAX &&
		json_object_get_uint64(num) > (uint64_t) INT64_MAX;
}

bool
jsonc_has_int_beyond_int64(struct json_object *obj)
{
	switch (json_object_get_type(obj))
	{
		case json_type_int:
			return jsonc_int_overflows(obj);
		case json_type_array:
			for (size_t i = 0; i < json_object_array_length(obj); i++)
				if (jsonc_has_int_beyond_int64(json_object_array_get_idx(obj, i)))
					return true;
			return false;
		case json_type_object:
			{
				json_object_object_foreach(obj, key, val)
				{
					(void) key;
					if (val != NULL && jsonc_has_int_beyond_int64(val))
						return true;
				}
				return false;
			}
		default:
			return false;
	}
}

static int
hex4(const char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		char		c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

const char *
jsonc_strict_problem(const char *text, size_t len, bool *nul)
{
	bool		in_string = false;
	char		prev = ' ';		/* last significant character outside strings */

	*nul = false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (in_string)
		{
			if (c == '"')
				in_string = false;
			else if (c == '\\' && i + 1 < len)
			{
				i++;
				if (text[i] == 'u' && i + 4 < len)
				{
					int			cp = hex4(text + i + 1);

					i += 4;
					if (cp == 0)
					{
						*nul = true;
						return "\\u0000 is not allowed";
					}
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return "lone Unicode low surrogate";
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			low = (i + 6 < len && text[i + 1] == '\\' && text[i + 2] == 'u')
							? hex4(text + i + 3) : -1;

						if (low < 0xDC00 || low > 0xDFFF)
							return "Unicode high surrogate must be followed by a low surrogate";
						i += 6;
					}
				}
			}
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '\'')
			return "single-quoted strings are not JSON";
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		{
			size_t		start = i;

			while (i + 1 < len && ((text[i + 1] >= 'a' && text[i + 1] <= 'z') ||
								   (text[i + 1] >= 'A' && text[i + 1] <= 'Z')))
				i++;
			/* an exponent inside a number: 1e5, 2.5E-3 */
			if (((prev >= '0' && prev <= '9') || prev == '.') &&
				i == start && (c == 'e' || c == 'E'))
				;
			else if (!((i - start + 1 == 4 && (strncmp(text + start, "true", 4) == 0 ||
											   strncmp(text + start, "null", 4) == 0)) ||
					   (i - start + 1 == 5 && strncmp(text + start, "false", 5) == 0)))
				return psprintf("unexpected token \"%.*s\"", (int) Min(i - start + 1, 20), text + start);
		}
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			prev = c;
	}
	return NULL;
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
