/*
 * json_scan.h — a strict JSON scanner that reads an NDJSON line straight
 * into its members, with no tree in between.  Plain C (no PostgreSQL), so
 * test/fuzz/libfuzzer_ndjson.c runs this very code under libFuzzer.
 *
 * Strict means RFC 8259 and what jsonb's input accepts, nothing more: UTF-8
 * checked byte by byte (RFC 3629), no raw control characters in strings, no
 * lone surrogate escapes, numbers only in JSON's form.  \u0000 is refused
 * as its own kind of error, because jsonb and text cannot hold it.
 *
 * The scanner never builds anything: a value is a slice of the input (a
 * string's slice is what lies between its quotes, escapes undecoded), so a
 * caller copies only what it keeps.  Containers are walked iteratively with
 * a fixed stack of OPSMETER_JSON_SCAN_MAX_DEPTH levels; deeper input is
 * refused as too deep, never recursed into.
 */
#ifndef OPSMETER_JSON_SCAN_H
#define OPSMETER_JSON_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Deepest nesting scanned, counting the root: a backstop only, as event.c
 * enforces the documented limit (OPSMETER_MAX_NESTING, 64) on every field
 * and names the field.
 */
#define OPSMETER_JSON_SCAN_MAX_DEPTH 128

typedef enum JsonScanKind
{
	JSON_SCAN_NULL,
	JSON_SCAN_FALSE,
	JSON_SCAN_TRUE,
	JSON_SCAN_NUMBER,
	JSON_SCAN_STRING,
	JSON_SCAN_ARRAY,
	JSON_SCAN_OBJECT
} JsonScanKind;

typedef struct JsonScanValue
{
	JsonScanKind kind;
	const char *text;			/* strings: between the quotes; else the whole value */
	size_t		len;
	bool		escaped;		/* string with a backslash escape: see opsmeter_json_scan_unescape */
	bool		integer;		/* number with no fraction and no exponent */
	int			depth;			/* containers: deepest nesting inside, 1 for {} or [] */
} JsonScanValue;

typedef enum JsonScanError
{
	JSON_SCAN_OK = 0,
	JSON_SCAN_SYNTAX,			/* not JSON (jsonb: 22P02) */
	JSON_SCAN_NUL,				/* a \u0000 escape (jsonb: 22P05) */
	JSON_SCAN_TOO_DEEP			/* nested deeper than OPSMETER_JSON_SCAN_MAX_DEPTH */
} JsonScanError;

typedef struct JsonScanner
{
	const char *text;
	size_t		len;
	size_t		pos;
	bool		in_root_object; /* members of the root object are next */
	bool		first_member;
	JsonScanError error;
	size_t		error_at;		/* byte offset of the problem */
	const char *message;		/* what is wrong; may point into message_buf */
	char		message_buf[96];
} JsonScanner;

/*
 * Starts scanning text[0..len) as one JSON document and describes its root.
 * A root object is only opened: its members come from
 * opsmeter_json_scan_next_member(), which also checks what follows it.  Any other root
 * is scanned whole, including the end of the text.  False on an error
 * (s->error, s->message).
 */
extern bool opsmeter_json_scan_begin(JsonScanner *s, const char *text, size_t len, JsonScanValue *root);

/*
 * The next member of the root object.  False when there is none left (then
 * s->error is JSON_SCAN_OK and the rest of the text was whitespace) or on an
 * error.  The key is a JSON_SCAN_STRING.
 */
extern bool opsmeter_json_scan_next_member(JsonScanner *s, JsonScanValue *key, JsonScanValue *value);

/*
 * Decodes a scanned string's text (between its quotes) into out, which must
 * have room for len bytes (decoding never lengthens); returns the decoded
 * length.  The input must be a slice json_scan_* accepted.
 */
extern size_t opsmeter_json_scan_unescape(const char *text, size_t len, char *out);

#endif							/* OPSMETER_JSON_SCAN_H */
