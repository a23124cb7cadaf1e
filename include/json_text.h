/*
 * json_text.h — strict JSON text checks and parsing over json-c, with no
 * PostgreSQL dependency, so that test/fuzz/libfuzzer_ndjson.c can link the
 * exact code the NDJSON ingest path runs.  jsonc.h includes this header;
 * server code keeps including jsonc.h.
 */
#ifndef OPSMETER_JSON_TEXT_H
#define OPSMETER_JSON_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

/*
 * Deepest nesting json-c itself accepts: a backstop only, as event.c
 * enforces the documented limit (OPSMETER_MAX_NESTING) on both paths.
 */
#define OPSMETER_JSON_MAX_DEPTH 128

/*
 * A strict, UTF-8-validating tokener, or NULL when out of memory; free with
 * json_tokener_free().  Server code calls opsmeter_jsonc_new_tokener(),
 * which raises an error instead of returning NULL.
 */
extern struct json_tokener *opsmeter_json_text_new_tokener(void);

/*
 * What json-c lets through but JSON (RFC 8259) and jsonb refuse: \u0000
 * (which json-c would also truncate inside keys), lone UTF-16 surrogates,
 * raw control characters in strings, single-quoted strings, NaN, Infinity
 * and numbers such as 00, 1. or -.5.  Also the escaped surrogate pairs
 * json-c 0.16 would turn into U+FFFD (code points ending in D800-DFFF).
 * Returns NULL when the text is clean, else a description; *nul is set for
 * \u0000.  Some descriptions live in a static buffer, valid until the next
 * call.
 */
extern const char *opsmeter_json_text_strict_problem(const char *text, size_t len, bool *nul);

/*
 * Parses exactly text[0..len) as one JSON document.  On failure returns NULL
 * and sets *problem to a description (and *too_deep for nesting errors).
 * The document null also returns NULL, with *problem set to NULL.
 */
extern struct json_object *opsmeter_json_text_parse(struct json_tokener *tok,
													const char *text, size_t len,
													const char **problem, bool *too_deep);

#endif							/* OPSMETER_JSON_TEXT_H */
