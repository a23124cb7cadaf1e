/*
 * jsonc.h — glue between json-c and PostgreSQL, shared by the NDJSON
 * ingest parser and the price-file loader.
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

/*
 * The PostgreSQL-free part (strict pre-scan, parsing, the tokener's depth
 * and flags) lives in json_text.h, so the fuzzer links it standalone.
 */
#include "json_text.h"

/* A strict, UTF-8-validating tokener; free with json_tokener_free(). */
extern struct json_tokener *opsmeter_jsonc_new_tokener(void);

/* A JSON number as an exact numeric, from json-c's original text. */
extern Numeric opsmeter_jsonc_number(struct json_object *num);

/* True when json-c clamped an int (its digits are lost). */
extern bool opsmeter_jsonc_int_overflows(struct json_object *num);

/* True for an exact int above INT64_MAX (json-c holds it as uint64). */
extern bool opsmeter_jsonc_int_above_int64(struct json_object *num);

/* True when an integer anywhere inside does not fit int64. */
extern bool opsmeter_jsonc_has_int_beyond_int64(struct json_object *obj);

/* Converts an object to jsonb (the caller checked it holds no NUL). */
extern Jsonb *opsmeter_jsonc_to_jsonb(struct json_object *obj);

extern const char *opsmeter_jsonc_kind_name(struct json_object *obj);

#endif							/* OPSMETER_JSONC_H */
