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

/* Deepest nesting json-c accepts in a line or price file (README "Limits"). */
#define OPSMETER_JSON_MAX_DEPTH 64

/* A strict, UTF-8-validating tokener; free with json_tokener_free(). */
extern struct json_tokener *jsonc_new_tokener(void);

/*
 * Parses exactly text[0..len) as one JSON document.  On failure returns NULL
 * and sets *problem to a description (and *too_deep for nesting errors).
 */
extern struct json_object *jsonc_parse(struct json_tokener *tok, const char *text, size_t len,
									   const char **problem, bool *too_deep);

/* A JSON number as an exact numeric, from json-c's original text. */
extern Numeric jsonc_number(struct json_object *num);

/* True when an int does not fit int64 (json-c clamps it silently). */
extern bool jsonc_int_overflows(struct json_object *num);

/* True when a string anywhere inside (keys too) holds a NUL byte. */
extern bool jsonc_contains_nul(struct json_object *obj);

/* Converts an object to jsonb (the caller checked it holds no NUL). */
extern Jsonb *jsonc_to_jsonb(struct json_object *obj);

extern const char *jsonc_kind_name(struct json_object *obj);

#endif							/* OPSMETER_JSONC_H */
