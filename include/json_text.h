/*
 * json_text.h — parsing one whole JSON document with json-c, with no
 * PostgreSQL dependency (the price-file loader uses it through jsonc.h).
 * Ingest reads JSON text with json_scan.h instead.
 */
#ifndef OPSMETER_JSON_TEXT_H
#define OPSMETER_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/*
 * Deepest nesting json-c accepts in a price file.
 */
#define OPSMETER_JSON_MAX_DEPTH 128

/*
 * A strict, UTF-8-validating tokener, or NULL when out of memory; free with
 * json_tokener_free().  Server code calls opsmeter_jsonc_new_tokener(),
 * which raises an error instead of returning NULL.
 */
extern struct json_tokener *opsmeter_json_text_new_tokener(void);

/*
 * Parses exactly text[0..len) as one JSON document.  On failure returns NULL
 * and sets *problem to a description (and *too_deep for nesting errors).
 * The document null also returns NULL, with *problem set to NULL.
 */
extern struct json_object *opsmeter_json_text_parse(struct json_tokener *tok,
													const char *text, size_t len,
													const char **problem, bool *too_deep);

#endif							/* OPSMETER_JSON_TEXT_H */
