/*
 * libfuzzer_ndjson.c — libFuzzer harness over the JSON text code of the
 * NDJSON ingest path (src/json_text.c: opsmeter_json_text_strict_problem()
 * + opsmeter_json_text_parse(), over json-c), linked outside the server.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -Iinclude -Itest/fuzz test/fuzz/libfuzzer_ndjson.c src/json_text.c \
 *       -ljson-c -o fuzz_ndjson
 *   ./fuzz_ndjson -max_total_time=20 -dict=test/fuzz/ndjson.dict CORPUS_DIR
 * (test/fuzz/run.sh does this on a scratch copy of test/fuzz/corpus.)
 *
 * The input is an NDJSON body.  It is split into lines exactly as
 * opsmeter_ingest_ndjson() does (src/ingest_ndjson.c: split on '\n', skip
 * blank lines, drop trailing '\r', ' ' and '\t'); each line is copied into a
 * buffer of its exact length, so AddressSanitizer catches any read past the
 * line, as the server hands json-c a slice of a larger text.
 *
 * Invariants, against the independent RFC 8259 checker in rfc8259.h:
 *  - a line both checks pass must be JSON: RFC 8259, or one of the json-c
 *    leniencies already known (RFC_DEV_*); anything else aborts;
 *  - no \u0000 and no lone surrogate gets through, and nothing nested deeper
 *    than OPSMETER_JSON_MAX_DEPTH;
 *  - the parsed value has the type the text's first token says, and its
 *    json-c serialisation (what opsmeter_jsonc_to_jsonb() feeds jsonb_in) is
 *    JSON that parses back to an equal value, with no U+FFFD the text lacked;
 *  - valid JSON that jsonb accepts is never refused, unless it nests deeper
 *    than OPSMETER_JSON_MAX_DEPTH, and then as "too deep".
 *
 * Known gaps (see known_names) are counted and reported at exit instead of
 * aborting, so the harness keeps looking for new ones; FUZZ_STRICT=1 in the
 * environment makes them abort too (use it once they are fixed).
 */
#define _GNU_SOURCE				/* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json_text.h"
#include "rfc8259.h"

static bool strict_mode;

/*
 * Known gaps, each counted and shown once instead of aborting (unless
 * FUZZ_STRICT=1): the first two are RFC_DEV_* leniencies of json-c the
 * pre-scan lets through; then json-c 0.16 decoding the surrogate pairs of
 * U+xD800..U+xDFFF (x >= 1) as U+FFFD, because it tests the combined code
 * point's low 16 bits for "surrogate"; last, opsmeter_json_text_parse()
 * refusing a bare "null", because json-c returns NULL both for an error and
 * for JSON null.
 */
enum
{
	KNOWN_CONTROL_CHAR,
	KNOWN_NUMBER_FORM,
	KNOWN_SURROGATE_FFFD,
	KNOWN_BARE_NULL,
	NUM_KNOWN
};
static const char *const known_names[NUM_KNOWN] = {
	"accepted: raw control character inside a string",
	"accepted: number not in RFC 8259 form (00, -01, 1., -.5)",
	"decoded: a valid \\uD8xx\\uDCxx pair for U+xD800..U+xDFFF became U+FFFD",
	"refused: a bare null (valid JSON) reported as a parse error",
};
static unsigned long known_count[NUM_KNOWN];

/* Prints at most the first 200 bytes of a line, escaped, for a report. */
static void
show_line(const char *what, const char *line, size_t len)
{
	fprintf(stderr, "%s (%zu bytes): ", what, len);
	for (size_t i = 0; i < len && i < 200; i++)
	{
		unsigned char c = (unsigned char) line[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fprintf(stderr, "%s\n", len > 200 ? "..." : "");
}

static void
fail(const char *why, const char *line, size_t len)
{
	fprintf(stderr, "\nINVARIANT VIOLATED: %s\n", why);
	show_line("line", line, len);
	abort();
}

/* A known gap: abort in strict mode, else count it and show its first line. */
static void
known(int which, const char *line, size_t len)
{
	if (strict_mode)
		fail(known_names[which], line, len);
	if (known_count[which]++ == 0)
	{
		fprintf(stderr, "libfuzzer_ndjson: KNOWN GAP (%s), first seen on:\n", known_names[which]);
		show_line("  line", line, len);
	}
}

static void
report_known(void)
{
	for (int k = 0; k < NUM_KNOWN; k++)
		if (known_count[k] > 0)
			fprintf(stderr, "libfuzzer_ndjson: KNOWN GAP on %lu lines: %s\n",
					known_count[k], known_names[k]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *s = getenv("FUZZ_STRICT");

	(void) argc;
	(void) argv;
	strict_mode = s == NULL || strcmp(s, "0") != 0;	/* FUZZ_STRICT=0 only counts known gaps */
	atexit(report_known);
	return 0;
}

/* Does the json-c value have the type the text's first token announces? */
static bool
type_matches(struct json_object *obj, char root)
{
	switch (json_object_get_type(obj))
	{
		case json_type_object:
			return root == '{';
		case json_type_array:
			return root == '[';
		case json_type_string:
			return root == '"';
		case json_type_int:
		case json_type_double:
			return root == '0';
		case json_type_boolean:
			return root == 't' || root == 'f';
		case json_type_null:
			return root == 'n';
	}
	return false;
}

/* U+FFFD in a text: raw (EF BF BD) or escaped (\uFFFD, any case). */
static int
count_fffd(const char *s, size_t len)
{
	int			n = 0;

	for (size_t i = 0; i + 2 < len; i++)
		if ((unsigned char) s[i] == 0xEF && (unsigned char) s[i + 1] == 0xBF &&
			(unsigned char) s[i + 2] == 0xBD)
			n++;
		else if (s[i] == '\\' && s[i + 1] == 'u' && i + 5 < len && strncasecmp(s + i + 2, "fffd", 4) == 0)
			n++;
	return n;
}

/*
 * Does the text escape a pair json-c 0.16 decodes wrongly: a high surrogate
 * whose pair lands on U+xD800..U+xDFFF, i.e. (high & 0x3F) is 0x36 or 0x37?
 */
static bool
has_misdecoded_pair(const char *s, size_t len)
{
	for (size_t i = 0; i + 11 < len; i++)
		if (s[i] == '\\' && s[i + 1] == 'u' && s[i + 6] == '\\' && s[i + 7] == 'u')
		{
			int			hi = rfc_hex4((const unsigned char *) s + i + 2);
			int			lo = rfc_hex4((const unsigned char *) s + i + 8);

			if (hi >= 0xD800 && hi <= 0xDBFF && lo >= 0xDC00 && lo <= 0xDFFF &&
				((hi & 0x3F) == 0x36 || (hi & 0x3F) == 0x37))
				return true;
		}
	return false;
}

/* A line json-c accepted: it must be JSON, and survive a round trip. */
static void
check_accepted(struct json_tokener *tok, struct json_object *obj, const char *line, size_t len)
{
	RfcResult	r;
	int			dev = rfc8259_deviations(line, len, &r);
	const char *out;
	size_t		outlen;
	RfcResult	ro;
	int			outdev;
	struct json_object *again;
	const char *problem;
	bool		too_deep;

	if (dev & RFC_DEV_UNKNOWN)
		fail("the NDJSON parser accepted a line that is not JSON", line, len);
	if (dev & RFC_DEV_CONTROL_CHAR)
		known(KNOWN_CONTROL_CHAR, line, len);
	if (dev & RFC_DEV_NUMBER_FORM)
		known(KNOWN_NUMBER_FORM, line, len);
	if (r.nul_escape)
		fail("a \\u0000 escape got past the strict pre-scan", line, len);
	if (r.lone_surrogate)
		fail("a lone surrogate escape got past the strict pre-scan", line, len);
	if (r.depth > OPSMETER_JSON_MAX_DEPTH)
		fail("a line nested deeper than OPSMETER_JSON_MAX_DEPTH was accepted", line, len);
	if (!type_matches(obj, r.root))
		fail("the parsed value's type differs from the text's", line, len);

	/* opsmeter_jsonc_to_jsonb() hands exactly this text to jsonb_in. */
	out = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN, &outlen);
	if (out == NULL)
		fail("json-c could not serialise an accepted value", line, len);
	/* json-c must not invent replacement characters (it writes UTF-8 raw) */
	if (count_fffd(out, outlen) > count_fffd(line, len))
	{
		if (!has_misdecoded_pair(line, len))
			fail("json-c decoded valid text as U+FFFD", line, len);
		known(KNOWN_SURROGATE_FFFD, line, len);
	}

	/* json-c keeps a double's original text, so a known leniency may survive */
	outdev = rfc8259_deviations(out, outlen, &ro);
	if ((outdev & ~dev) != 0 || ro.nul_escape || ro.lone_surrogate)
		fail("json-c serialised an accepted value as something jsonb refuses", out, outlen);

	/* Serialising must not change the value: parse it back and compare. */
	{
		char	   *copy = malloc(outlen ? outlen : 1);

		memcpy(copy, out, outlen);
		again = opsmeter_json_text_parse(tok, copy, outlen, &problem, &too_deep);
		if (again == NULL)
			fail("json-c refused its own serialisation", copy, outlen);
		if (!json_object_equal(obj, again))
			fail("a parse/serialise/parse round trip changed the value", copy, outlen);
		json_object_put(again);
		free(copy);
	}
}

/*
 * One non-blank, trimmed line, as parse_line() in ingest_ndjson.c sees it.
 * Returns false when the server would stop the call here (an error).
 */
static bool
check_line(struct json_tokener *tok, const char *data, size_t len)
{
	char	   *line = malloc(len);
	bool		ok = false;
	bool		nul = false;
	const char *strict;
	RfcResult	r;
	bool		receivable = rfc8259_pg_text_ok(data, len);

	memcpy(line, data, len);
	strict = opsmeter_json_text_strict_problem(line, len, &nul);
	rfc8259_check(line, len, &r);

	/*
	 * The server only ever sees valid UTF-8 without NUL bytes (PostgreSQL
	 * refuses anything else as text): run the code on other lines for memory
	 * safety only.  (json-c's own UTF-8 check lets through, e.g., F4 90-BF
	 * sequences beyond U+10FFFF.)
	 */
	if (strict != NULL)
	{
		/* the one refusal of valid JSON by design: see json_text.h */
		if (receivable && rfc8259_jsonb_accepts(&r) && !has_misdecoded_pair(line, len))
			fail("the strict pre-scan refused valid JSON", line, len);
		if (nul && memmem(line, len, "\\u", 2) == NULL)
			fail("the pre-scan reported \\u0000 in a line without \\u", line, len);
	}
	else
	{
		const char *problem = NULL;
		bool		too_deep = false;
		struct json_object *obj = opsmeter_json_text_parse(tok, line, len, &problem, &too_deep);

		if (obj != NULL)
		{
			if (receivable)
				check_accepted(tok, obj, line, len);
			json_object_put(obj);
			ok = true;
		}
		else
		{
			if (problem == NULL && !(rfc8259_jsonb_accepts(&r) && r.root == 'n'))
				fail("opsmeter_json_text_parse returned no value and no problem, "
					 "but the line is not null", line, len);
			if (problem == NULL)
				ok = true;		/* the document null: the server refuses it as not an object */
			else if (receivable && rfc8259_jsonb_accepts(&r) && r.depth <= OPSMETER_JSON_MAX_DEPTH)
				fail("the NDJSON parser refused valid JSON", line, len);
			if (receivable && rfc8259_jsonb_accepts(&r) && r.depth > OPSMETER_JSON_MAX_DEPTH &&
				!too_deep)
				fail("JSON nested too deep was refused for another reason", line, len);
		}
	}
	free(line);
	return ok;
}

static bool
is_blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	struct json_tokener *tok = opsmeter_json_text_new_tokener();

	if (tok == NULL)
		abort();
	/* The body is split and trimmed as in opsmeter_ingest_ndjson(). */
	for (size_t start = 0; start < size;)
	{
		const char *nl = memchr(text + start, '\n', size - start);
		size_t		end = nl ? (size_t) (nl - text) : size;
		const char *line = text + start;
		size_t		len = end - start;

		start = end + 1;
		if (is_blank(line, len))
			continue;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;

		/*
		 * The server ends the call at the first bad line, so later lines
		 * never meet a tokener an error left behind (json-c 0.16 keeps a
		 * pending surrogate across json_tokener_reset()): carry on, as a
		 * new call would, with a fresh one.
		 */
		if (!check_line(tok, line, len))
		{
			json_tokener_free(tok);
			tok = opsmeter_json_text_new_tokener();
			if (tok == NULL)
				abort();
		}
	}
	json_tokener_free(tok);
	return 0;
}
