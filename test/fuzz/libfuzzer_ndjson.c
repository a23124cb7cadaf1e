/*
 * libfuzzer_ndjson.c — libFuzzer harness over the JSON scanner of the NDJSON
 * ingest path (src/json_scan.c: opsmeter_json_scan_begin(),
 * opsmeter_json_scan_next_member(), opsmeter_json_scan_unescape()), the very
 * code the server runs, linked outside the server.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
 *       -Wall -Wextra -Iinclude -Itest/fuzz test/fuzz/libfuzzer_ndjson.c \
 *       src/json_scan.c -o fuzz_ndjson
 *   ./fuzz_ndjson -max_total_time=20 -dict=test/fuzz/ndjson.dict CORPUS_DIR
 * (test/fuzz/run.sh does this on a scratch copy of test/fuzz/corpus.)
 *
 * The input is an NDJSON body.  It is split into lines exactly as
 * opsmeter_ingest_ndjson() does (src/ingest_ndjson.c: split on '\n', skip
 * blank lines, drop trailing '\r', ' ' and '\t'); each line is copied into a
 * heap buffer of its exact length, so AddressSanitizer catches any read past
 * the line, as the server hands the scanner a slice of a larger text.  Every
 * line is checked, not only up to the first bad one, and whatever its bytes:
 * the scanner must be exact on any input, not only on the valid UTF-8
 * without NUL bytes that PostgreSQL lets reach it.  The first valid line of
 * each input is also checked nested in arrays to exactly
 * OPSMETER_JSON_SCAN_MAX_DEPTH levels and to one more (check_at_depth()), as
 * the root or as a member's value, since mutation alone seldom builds valid
 * JSON right at the limit.
 *
 * Invariants, against the independent RFC 8259 checker in rfc8259.h (strict:
 * no RFC_DEV_* tolerance) and a reference string decoder written here:
 *  1. the scanner accepts a line (begin succeeds and, for an object root,
 *     every member scans and the final error is JSON_SCAN_OK) exactly when
 *     it is RFC 8259 JSON with no \u0000 escape, no lone surrogate escape
 *     and no nesting deeper than OPSMETER_JSON_SCAN_MAX_DEPTH.  A valid line
 *     it refuses is refused for its first problem in text order, with that
 *     problem's kind (\u0000: JSON_SCAN_NUL; lone surrogate: JSON_SCAN_SYNTAX;
 *     too deep: JSON_SCAN_TOO_DEEP) and at that problem's byte.  Any refusal
 *     has a message, an error_at within the line and no later than where
 *     the reference saw the first problem, and a NUL or TOO_DEEP error points
 *     at a \u0000 or at an opening bracket;
 *  2. on success, the root has the kind of the text's first token; the
 *     root's value, or the root object's keys and values, are slices of the
 *     line, in order, separated by nothing but whitespace and the expected
 *     ':' ',' '}'; each value slice alone is JSON of the reported kind (a
 *     string's slice with the quotes around it), a container's depth is the
 *     reference's, "integer" is true exactly for a number without '.', 'e' or
 *     'E', and "escaped" exactly for a string slice holding a backslash;
 *  3. opsmeter_json_scan_unescape() of every key and string value (strings
 *     nested in containers are not reported and not checked) equals the
 *     reference decoder's output, is no longer than its input, and is valid
 *     UTF-8 without a NUL byte.
 * Any violation prints the line, escaped, and aborts.  At exit a line of
 * counts (libfuzzer_ndjson: ...) shows what the run exercised.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_scan.h"
#include "rfc8259.h"

/* What the run exercised, printed at exit. */
static struct
{
	unsigned long lines;
	unsigned long at_limit;		/* of them built by check_at_depth() */
	unsigned long accepted;
	unsigned long refused_syntax;
	unsigned long refused_nul;
	unsigned long refused_too_deep;
	unsigned long valid_refused;	/* valid JSON refused, for a reason checked exactly */
	unsigned long members;
	unsigned long strings_escaped;
} stats;

static void
report_stats(void)
{
	fprintf(stderr,
			"libfuzzer_ndjson: %lu lines (%lu built at the depth limit): %lu accepted; "
			"refused %lu syntax, %lu \\u0000, %lu too deep (valid JSON among them: %lu); "
			"%lu members; %lu escaped strings decoded\n",
			stats.lines, stats.at_limit, stats.accepted, stats.refused_syntax, stats.refused_nul,
			stats.refused_too_deep, stats.valid_refused, stats.members, stats.strings_escaped);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void) argc;
	(void) argv;
	atexit(report_stats);
	return 0;
}

/*
 * Prints a text, escaped, for a report: all of it up to 400 bytes, else its
 * first 300 and last 100.
 */
static void
show_text(const char *what, const char *text, size_t len)
{
	fprintf(stderr, "%s (%zu bytes): ", what, len);
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) text[i];

		if (len > 400 && i == 300)
		{
			fprintf(stderr, "...");
			i = len - 100;
			c = (unsigned char) text[i];
		}
		if (c >= 0x20 && c < 0x7f && c != '\\')
			fputc(c, stderr);
		else
			fprintf(stderr, "\\x%02x", c);
	}
	fputc('\n', stderr);
}

/* The line being checked, and the input line it was made from, for fail(). */
static const char *cur_line;
static size_t cur_len;
static const char *cur_origin;
static size_t cur_origin_len;

static void fail(const char *fmt,...) __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt,...)
{
	va_list		ap;

	fprintf(stderr, "\nINVARIANT VIOLATED: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	show_text("line", cur_line, cur_len);
	if (cur_origin != NULL)
		show_text("made from the input line", cur_origin, cur_origin_len);
	abort();
}

static const char *
error_name(JsonScanError e)
{
	switch (e)
	{
		case JSON_SCAN_OK:
			return "OK";
		case JSON_SCAN_SYNTAX:
			return "SYNTAX";
		case JSON_SCAN_NUL:
			return "NUL";
		case JSON_SCAN_TOO_DEEP:
			return "TOO_DEEP";
	}
	return "?";
}

static const char *
kind_name(JsonScanKind k)
{
	switch (k)
	{
		case JSON_SCAN_NULL:
			return "null";
		case JSON_SCAN_FALSE:
			return "false";
		case JSON_SCAN_TRUE:
			return "true";
		case JSON_SCAN_NUMBER:
			return "number";
		case JSON_SCAN_STRING:
			return "string";
		case JSON_SCAN_ARRAY:
			return "array";
		case JSON_SCAN_OBJECT:
			return "object";
	}
	return "?";
}

/* The reference's root character for a scanned kind. */
static char
kind_root(JsonScanKind k)
{
	switch (k)
	{
		case JSON_SCAN_NULL:
			return 'n';
		case JSON_SCAN_FALSE:
			return 'f';
		case JSON_SCAN_TRUE:
			return 't';
		case JSON_SCAN_NUMBER:
			return '0';
		case JSON_SCAN_STRING:
			return '"';
		case JSON_SCAN_ARRAY:
			return '[';
		case JSON_SCAN_OBJECT:
			return '{';
	}
	return 0;
}

static bool
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---------------------------------------------------------------------------
 * The reference string decoder: the text between a string's quotes (which
 * the reference checker found valid) to UTF-8.  Written apart from
 * json_scan.c on purpose; returns the decoded length, or -1 on anything a
 * valid, accepted string cannot hold (a \u0000, a lone surrogate, a bad
 * escape), which is itself a violation.
 */
static int
ref_hex_digit(char c)
{
	static const char digits[] = "0123456789abcdef";
	const char *p;

	if (c >= 'A' && c <= 'F')
		c = (char) (c - 'A' + 'a');
	p = c != '\0' ? strchr(digits, c) : NULL;
	return p ? (int) (p - digits) : -1;
}

/* Four hex digits at s[i..i+4) within len, or -1. */
static long
ref_hex4(const char *s, size_t len, size_t i)
{
	long		v = 0;

	if (i + 4 > len)
		return -1;
	for (size_t k = 0; k < 4; k++)
	{
		int			d = ref_hex_digit(s[i + k]);

		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

static size_t
ref_put_utf8(unsigned char *out, unsigned long cp)
{
	if (cp <= 0x7F)
	{
		out[0] = (unsigned char) cp;
		return 1;
	}
	if (cp <= 0x7FF)
	{
		out[0] = (unsigned char) (0xC0 + cp / 64);
		out[1] = (unsigned char) (0x80 + cp % 64);
		return 2;
	}
	if (cp <= 0xFFFF)
	{
		out[0] = (unsigned char) (0xE0 + cp / 4096);
		out[1] = (unsigned char) (0x80 + cp / 64 % 64);
		out[2] = (unsigned char) (0x80 + cp % 64);
		return 3;
	}
	out[0] = (unsigned char) (0xF0 + cp / 262144);
	out[1] = (unsigned char) (0x80 + cp / 4096 % 64);
	out[2] = (unsigned char) (0x80 + cp / 64 % 64);
	out[3] = (unsigned char) (0x80 + cp % 64);
	return 4;
}

/* out must have room for 4 * len bytes (more than ever needed). */
static long
ref_decode(const char *s, size_t len, unsigned char *out)
{
	size_t		o = 0;
	size_t		i = 0;

	while (i < len)
	{
		long		cp,
					lo;

		if (s[i] != '\\')
		{
			out[o++] = (unsigned char) s[i++];
			continue;
		}
		if (i + 1 >= len)
			return -1;
		switch (s[i + 1])
		{
			case '"':
				out[o++] = '"';
				i += 2;
				continue;
			case '\\':
				out[o++] = '\\';
				i += 2;
				continue;
			case '/':
				out[o++] = '/';
				i += 2;
				continue;
			case 'b':
				out[o++] = 0x08;
				i += 2;
				continue;
			case 'f':
				out[o++] = 0x0C;
				i += 2;
				continue;
			case 'n':
				out[o++] = 0x0A;
				i += 2;
				continue;
			case 'r':
				out[o++] = 0x0D;
				i += 2;
				continue;
			case 't':
				out[o++] = 0x09;
				i += 2;
				continue;
			case 'u':
				break;
			default:
				return -1;
		}
		cp = ref_hex4(s, len, i + 2);
		if (cp <= 0)			/* bad digits, or \u0000 */
			return -1;
		i += 6;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			return -1;			/* a low surrogate first */
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			if (i + 2 > len || s[i] != '\\' || s[i + 1] != 'u')
				return -1;
			lo = ref_hex4(s, len, i + 2);
			if (lo < 0xDC00 || lo > 0xDFFF)
				return -1;
			i += 6;
			cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00);
		}
		o += ref_put_utf8(out + o, (unsigned long) cp);
	}
	return (long) o;
}

/* Invariant 3 for one scanned string (a key, a string value or root). */
static void
check_unescape(const JsonScanValue *v, const char *what)
{
	size_t		len = v->len;
	char	   *out = malloc(len > 0 ? len : 1);	/* exactly the room promised */
	unsigned char *ref = malloc(4 * len + 4);
	size_t		n;
	long		rn;

	if (out == NULL || ref == NULL)
		abort();
	if (v->escaped)
		stats.strings_escaped++;
	n = opsmeter_json_scan_unescape(v->text, len, out);
	rn = ref_decode(v->text, len, ref);
	if (rn < 0)
		fail("%s: the reference decoder refuses an accepted string", what);
	if (n > len)
		fail("%s: unescape lengthened a string (%zu bytes to %zu)", what, len, n);
	if (n != (size_t) rn || memcmp(out, ref, n) != 0)
	{
		show_text("unescape ", out, n);
		show_text("reference", (const char *) ref, (size_t) rn);
		fail("%s: unescape differs from the reference decoder", what);
	}
	if (!rfc8259_pg_text_ok(out, n))
	{
		show_text("decoded", out, n);
		fail("%s: a decoded string is not valid UTF-8 or holds a NUL byte", what);
	}
	free(ref);
	free(out);
}

/* ---------------------------------------------------------------------------
 * Invariant 2 for one value slice (a member's value, or a non-object root):
 * returns the end of the value's text (after a string's closing quote).
 */
static const char *
check_value(const JsonScanValue *v, const char *line, size_t len, const char *what)
{
	const char *end = line + len;
	const char *start,
			   *stop;
	RfcResult	r;

	if (v->text == NULL)
		fail("%s: a %s without text", what, kind_name(v->kind));
	start = v->kind == JSON_SCAN_STRING ? v->text - 1 : v->text;
	stop = v->kind == JSON_SCAN_STRING ? v->text + v->len + 1 : v->text + v->len;
	if (start < line || stop > end || stop <= start)
		fail("%s: the value's slice (%s) is not inside the line", what, kind_name(v->kind));
	if (is_ws(*start) || is_ws(stop[-1]))
		fail("%s: the value's slice has whitespace at an end", what);

	/* alone, the slice is JSON of the reported kind */
	{
		size_t		n = (size_t) (stop - start);
		char	   *copy = malloc(n);

		if (copy == NULL)
			abort();
		memcpy(copy, start, n);
		rfc8259_check(copy, n, &r);
		free(copy);
	}
	if (!r.valid || r.nul_escape || r.lone_surrogate)
	{
		show_text("slice", start, (size_t) (stop - start));
		fail("%s: the value's slice is not clean JSON on its own (valid %d, nul %d, lone %d)",
			 what, r.valid, r.nul_escape, r.lone_surrogate);
	}
	if (r.root != kind_root(v->kind))
	{
		show_text("slice", start, (size_t) (stop - start));
		fail("%s: reported as %s, but the slice's root is '%c'", what, kind_name(v->kind), r.root);
	}

	switch (v->kind)
	{
		case JSON_SCAN_NUMBER:
			{
				bool		integer = memchr(v->text, '.', v->len) == NULL &&
					memchr(v->text, 'e', v->len) == NULL &&
					memchr(v->text, 'E', v->len) == NULL;

				if (v->integer != integer)
					fail("%s: integer is %d for the number \"%.*s\"", what, v->integer,
						 (int) (v->len < 40 ? v->len : 40), v->text);
			}
			break;
		case JSON_SCAN_STRING:
			if (v->escaped != (memchr(v->text, '\\', v->len) != NULL))
				fail("%s: escaped is %d, but the slice %s a backslash", what, v->escaped,
					 v->escaped ? "lacks" : "holds");
			check_unescape(v, what);
			break;
		case JSON_SCAN_ARRAY:
		case JSON_SCAN_OBJECT:
			if (v->depth != r.depth)
				fail("%s: depth %d, the reference says %d", what, v->depth, r.depth);
			break;
		case JSON_SCAN_NULL:
		case JSON_SCAN_FALSE:
		case JSON_SCAN_TRUE:
			break;
	}
	return stop;
}

/*
 * Between two slices, only whitespace and (when sep is not 0) exactly one
 * sep: what separates a member's parts.
 */
static void
check_gap(const char *from, const char *to, char sep, const char *what)
{
	bool		seen = sep == 0;

	if (to < from)
		fail("%s: slices overlap or go backwards", what);
	for (const char *p = from; p < to; p++)
	{
		if (is_ws(*p))
			continue;
		if (*p == sep && !seen)
		{
			seen = true;
			continue;
		}
		fail("%s: unexpected byte 0x%02x between slices (expected only whitespace%s%c%s)",
			 what, (unsigned char) *p, sep ? " and '" : "", sep ? sep : ' ', sep ? "'" : "");
	}
	if (!seen)
		fail("%s: no '%c' between slices", what, sep);
}

/* ---------------------------------------------------------------------------
 * The first reason a valid JSON text is refused, in text order: a \u0000
 * escape, a lone surrogate escape, or an opening bracket deeper than
 * OPSMETER_JSON_SCAN_MAX_DEPTH.  Only for texts the reference found valid,
 * so the walk needs no error handling.  False when there is none.
 */
static bool
first_problem(const char *s, size_t len, JsonScanError *error, size_t *at)
{
	int			depth = 0;

	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c == '{' || c == '[')
		{
			if (++depth > OPSMETER_JSON_SCAN_MAX_DEPTH)
			{
				*error = JSON_SCAN_TOO_DEEP;
				*at = i;
				return true;
			}
		}
		else if (c == '}' || c == ']')
			depth--;
		else if (c == '"')
		{
			for (i++; s[i] != '"'; i++)
			{
				long		cp,
							lo;

				if (s[i] != '\\')
					continue;
				if (s[i + 1] != 'u')
				{
					i++;
					continue;
				}
				cp = ref_hex4(s, len, i + 2);
				*at = i;
				if (cp == 0)
				{
					*error = JSON_SCAN_NUL;
					return true;
				}
				if (cp >= 0xDC00 && cp <= 0xDFFF)
				{
					*error = JSON_SCAN_SYNTAX;
					return true;
				}
				if (cp >= 0xD800 && cp <= 0xDBFF)
				{
					lo = (s[i + 6] == '\\' && s[i + 7] == 'u') ? ref_hex4(s, len, i + 8) : -1;
					if (lo < 0xDC00 || lo > 0xDFFF)
					{
						*error = JSON_SCAN_SYNTAX;
						return true;
					}
					i += 6;
				}
				i += 5;
			}
		}
	}
	return false;
}

/* Invariant 1 on a refusal. */
static void
check_refusal(const JsonScanner *scan, const RfcResult *r, const char *line, size_t len)
{
	JsonScanError expected = JSON_SCAN_OK;
	size_t		expected_at = 0;

	switch (scan->error)
	{
		case JSON_SCAN_OK:
			fail("a refusal with error JSON_SCAN_OK");
		case JSON_SCAN_SYNTAX:
			stats.refused_syntax++;
			break;
		case JSON_SCAN_NUL:
			stats.refused_nul++;
			break;
		case JSON_SCAN_TOO_DEEP:
			stats.refused_too_deep++;
			break;
		default:
			fail("unknown scanner error %d", (int) scan->error);
	}
	if (scan->message == NULL || scan->message[0] == '\0')
		fail("a refusal (%s) without a message", error_name(scan->error));
	if (scan->error_at > len)
		fail("error_at %zu is past the line's end (%zu)", scan->error_at, len);
	if (scan->error == JSON_SCAN_NUL &&
		(scan->error_at + 6 > len || memcmp(line + scan->error_at, "\\u0000", 6) != 0))
		fail("a NUL error at byte %zu, where there is no \\u0000 (%s)", scan->error_at, scan->message);
	if (scan->error == JSON_SCAN_TOO_DEEP &&
		(scan->error_at >= len || (line[scan->error_at] != '{' && line[scan->error_at] != '[')))
		fail("a TOO_DEEP error at byte %zu, where there is no bracket (%s)",
			 scan->error_at, scan->message);

	if (!r->valid)
	{
		/* the reference stops at the first byte no JSON text can go on with */
		if (scan->error_at > r->error_at)
			fail("refused at byte %zu (%s: %s), but the first problem is at byte %zu",
				 scan->error_at, error_name(scan->error), scan->message, r->error_at);
		return;
	}

	/* valid JSON: refused for its first problem, and there */
	if (!first_problem(line, len, &expected, &expected_at))
		fail("valid JSON (depth %d) refused: %s at byte %zu: %s", r->depth,
			 error_name(scan->error), scan->error_at, scan->message);
	stats.valid_refused++;
	if (scan->error != expected || scan->error_at != expected_at)
		fail("valid JSON refused as %s at byte %zu (%s), expected %s at byte %zu",
			 error_name(scan->error), scan->error_at, scan->message,
			 error_name(expected), expected_at);
}

/* One non-blank, trimmed line, in a buffer of its exact length. */
static void
check_line(const char *line, size_t len, RfcResult *out)
{
	JsonScanner scan;
	JsonScanValue root,
				key,
				value;
	RfcResult	r;
	bool		accepted;
	bool		expected;
	int			members = 0;
	int			deepest_member = 0;
	const char *prev = NULL;

	cur_line = line;
	cur_len = len;
	stats.lines++;
	rfc8259_check(line, len, &r);
	if (out != NULL)
		*out = r;
	expected = r.valid && !r.nul_escape && !r.lone_surrogate &&
		r.depth <= OPSMETER_JSON_SCAN_MAX_DEPTH;

	accepted = opsmeter_json_scan_begin(&scan, line, len, &root);
	if (accepted && root.kind == JSON_SCAN_OBJECT)
	{
		if (root.text == NULL || root.text < line || root.text >= line + len || *root.text != '{')
			fail("the root object's text does not point at its '{'");
		check_gap(line, root.text, 0, "before the root object");
		prev = root.text + 1;
		while (opsmeter_json_scan_next_member(&scan, &key, &value))
		{
			char		what[64];
			const char *key_start,
					   *key_stop,
					   *value_start;

			members++;
			stats.members++;
			snprintf(what, sizeof(what), "member %d", members);
			if (scan.error != JSON_SCAN_OK)
				fail("%s: a member returned with error %s", what, error_name(scan.error));
			if (key.kind != JSON_SCAN_STRING)
				fail("%s: the key is a %s, not a string", what, kind_name(key.kind));
			if (key.text == NULL || value.text == NULL)
				fail("%s: a key or value without text", what);
			key_start = key.text - 1;
			key_stop = key.text + key.len + 1;
			if (key_start < line || key_stop > line + len)
				fail("%s: the key's slice is not inside the line", what);
			if (*key_start != '"' || key_stop[-1] != '"')
				fail("%s: the key's slice is not between quotes", what);
			check_gap(prev, key_start, members == 1 ? 0 : ',', what);
			(void) check_value(&key, line, len, what);	/* a key is a string value too */
			value_start = value.kind == JSON_SCAN_STRING ? value.text - 1 : value.text;
			if (value_start < key_stop)
				fail("%s: the value's slice does not follow the key's", what);
			check_gap(key_stop, value_start, ':', what);
			prev = check_value(&value, line, len, what);
			if ((value.kind == JSON_SCAN_OBJECT || value.kind == JSON_SCAN_ARRAY) &&
				value.depth > deepest_member)
				deepest_member = value.depth;
		}
		accepted = scan.error == JSON_SCAN_OK;

		/* no member is left: asking again changes nothing */
		{
			JsonScanError before = scan.error;

			if (opsmeter_json_scan_next_member(&scan, &key, &value) || scan.error != before)
				fail("next_member after the end returned a member or changed the error");
		}
	}

	if (accepted != expected)
	{
		if (accepted)
			fail("accepted, but the reference says valid %d, \\u0000 %d, lone surrogate %d, "
				 "depth %d (first problem at byte %zu)", r.valid, r.nul_escape, r.lone_surrogate,
				 r.depth, r.error_at);
		check_refusal(&scan, &r, line, len);
		fail("valid JSON refused: %s at byte %zu: %s", error_name(scan.error),
			 scan.error_at, scan.message);
	}
	if (!accepted)
	{
		check_refusal(&scan, &r, line, len);
		return;
	}

	/* accepted */
	stats.accepted++;
	if (scan.error != JSON_SCAN_OK)
		fail("accepted with error %s", error_name(scan.error));
	if (kind_root(root.kind) != r.root)
		fail("the root is a %s, but the text's root is '%c'", kind_name(root.kind), r.root);
	if (root.kind == JSON_SCAN_OBJECT)
	{
		check_gap(prev, line + len, '}', "after the last member");
		if (r.depth != 1 + deepest_member)
			fail("the line nests %d levels, its members %d", r.depth, deepest_member);
	}
	else
	{
		const char *stop = check_value(&root, line, len, "the root");	/* text checked */
		const char *start = root.kind == JSON_SCAN_STRING ? root.text - 1 : root.text;

		check_gap(line, start, 0, "before the root");
		check_gap(stop, line + len, 0, "after the root");
	}
}

/*
 * A valid line nested inside enough arrays to reach exactly "target" levels
 * (OPSMETER_JSON_SCAN_MAX_DEPTH, or one more), then checked like any line.
 * Mutation alone seldom builds valid JSON exactly at the limit, where an off
 * by one in either direction shows; this puts fuzzed valid text there, with
 * its escapes (so that a \u0000 before or after the level too many tests the
 * order of the two errors).  With member_path the arrays go in the value of
 * a root object's member, which opsmeter_json_scan_next_member() scans one
 * level down; else they are the root, which opsmeter_json_scan_begin()
 * scans.
 */
static void
check_at_depth(const char *line, size_t len, int depth, int target, bool member_path)
{
	static const char member[] = "{\"\":";
	size_t		head = member_path ? sizeof(member) - 1 : 0;
	int			arrays = target - depth - (member_path ? 1 : 0);
	size_t		total;
	char	   *text;

	if (arrays < 0)
		return;
	total = head + 2 * (size_t) arrays + len + (member_path ? 1 : 0);
	text = malloc(total);
	if (text == NULL)
		abort();
	memcpy(text, member, head);
	memset(text + head, '[', arrays);
	memcpy(text + head + arrays, line, len);
	memset(text + head + arrays + len, ']', arrays);
	if (member_path)
		text[total - 1] = '}';
	cur_origin = line;
	cur_origin_len = len;
	stats.at_limit++;
	check_line(text, total, NULL);
	cur_origin = NULL;
	free(text);
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
	bool		at_limit_done = false;	/* once per input keeps the pace */

	/* The body is split and trimmed as in opsmeter_ingest_ndjson(). */
	for (size_t start = 0; start < size;)
	{
		const char *nl = memchr(text + start, '\n', size - start);
		size_t		end = nl ? (size_t) (nl - text) : size;
		const char *line = text + start;
		size_t		len = end - start;
		char	   *copy;
		RfcResult	r;

		start = end + 1;
		if (is_blank(line, len))
			continue;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;

		copy = malloc(len);
		if (copy == NULL)
			abort();
		memcpy(copy, line, len);
		check_line(copy, len, &r);
		if (!at_limit_done && r.valid && r.depth <= OPSMETER_JSON_SCAN_MAX_DEPTH)
		{
			/* the depth limit, both ways in, alternately */
			bool		member_path = len % 2 == 0;

			at_limit_done = true;
			check_at_depth(copy, len, r.depth, OPSMETER_JSON_SCAN_MAX_DEPTH, member_path);
			check_at_depth(copy, len, r.depth, OPSMETER_JSON_SCAN_MAX_DEPTH + 1, member_path);
		}
		free(copy);
	}
	return 0;
}
