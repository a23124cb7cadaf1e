/*
 * jsonc.h — glue between json-c and PostgreSQL for the price-file loader.
 */
#ifndef OPSMETER_JSONC_H
#define OPSMETER_JSONC_H

#include "postgres.h"

/*
 * fmgrprotos.h declares PostgreSQL's SQL function json_object(), which
 * collides with json-c's type of the same name: include PostgreSQL's
 * prototypes under another name first.  Include this header right after
 * postgres.h in every file that uses json-c.
 */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#undef json_object

#include "utils/jsonb.h"
#include "utils/numeric.h"

#include <json-c/json.h>

/* The PostgreSQL-free part: the tokener's depth and flags, parsing. */
#include "json_text.h"

/* A strict, UTF-8-validating tokener; free with json_tokener_free(). */
extern struct json_tokener *opsmeter_jsonc_new_tokener(void);

/* A JSON number as an exact numeric, from json-c's original text. */
extern Numeric opsmeter_jsonc_number(struct json_object *num);

#endif							/* OPSMETER_JSONC_H */
