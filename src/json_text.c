/*
 * json_text.c — parsing a whole JSON document with json-c (the price-file
 * loader).  Plain C (no postgres.h); jsonc.c holds the parts that need
 * PostgreSQL.  Ingest does not use json-c: see json_scan.c.
 */
#include <string.h>

#include "json_text.h"

struct json_tokener *
opsmeter_json_text_new_tokener(void)
{
	struct json_tokener *tok = json_tokener_new_ex(OPSMETER_JSON_MAX_DEPTH);

	if (tok != NULL)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

struct json_object *
opsmeter_json_text_parse(struct json_tokener *tok, const char *text, size_t len,
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
		if (err == json_tokener_success)
		{
			*problem = NULL;	/* NULL with no problem: the document is null */
			return obj;
		}
		if (obj != NULL)
			json_object_put(obj);
		*problem = "unexpected end of input";
		return NULL;
	}
	if (err == json_tokener_success && json_tokener_get_parse_end(tok) == len)
	{
		*problem = NULL;
		return obj;
	}
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
