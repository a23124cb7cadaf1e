/*
 * json_scan.c — the strict JSON scanner of json_scan.h.  Plain C (no
 * postgres.h) so the libFuzzer harness in test/fuzz/ runs this very code.
 *
 * One pass over the bytes: every string is checked (escapes, surrogate
 * pairs, control characters, UTF-8) and every number matched against JSON's
 * grammar as it is crossed; containers inside a member are walked with an
 * explicit stack, never by recursion.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "json_scan.h"

static bool
fail(JsonScanner *s, JsonScanError error, size_t at, const char *message)
{
	s->error = error;
	s->error_at = at;
	s->message = message;
	return false;
}

/* A description naming the byte at s->pos (or the end of the input). */
static bool
fail_unexpected(JsonScanner *s, const char *expected)
{
	unsigned char c;

	if (s->pos >= s->len)
		return fail(s, JSON_SCAN_SYNTAX, s->pos, "unexpected end of input");
	c = (unsigned char) s->text[s->pos];
	if (c == '\'')
		return fail(s, JSON_SCAN_SYNTAX, s->pos, "single-quoted strings are not JSON");
	if (c > 0x20 && c < 0x7f)
		snprintf(s->message_buf, sizeof(s->message_buf), "unexpected character \"%c\"%s%s",
				 c, expected ? ", expected " : "", expected ? expected : "");
	else
		snprintf(s->message_buf, sizeof(s->message_buf), "unexpected byte 0x%02X%s%s",
				 c, expected ? ", expected " : "", expected ? expected : "");
	return fail(s, JSON_SCAN_SYNTAX, s->pos, s->message_buf);
}

static inline void
skip_whitespace(JsonScanner *s)
{
	while (s->pos < s->len)
	{
		char		c = s->text[s->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->pos++;
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

/*
 * Length of the UTF-8 sequence at p (RFC 3629: shortest form, no
 * surrogates, at most U+10FFFF), or 0 when it is not one.
 */
static size_t
utf8_sequence_length(const unsigned char *p, size_t avail)
{
	unsigned char lo = 0x80,
				hi = 0xBF;
	size_t		n;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
	{
		n = 3;
		if (p[0] == 0xE0)
			lo = 0xA0;
		else if (p[0] == 0xED)
			hi = 0x9F;
	}
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
	{
		n = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	if (avail < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

/* The string at s->pos (its opening quote); v may be NULL (a key or skipped). */
static bool
scan_string(JsonScanner *s, JsonScanValue *v)
{
	const unsigned char *text = (const unsigned char *) s->text;
	size_t		start = ++s->pos;
	bool		escaped = false;

	for (;;)
	{
		unsigned char c;

		/* the common case first: plain ASCII */
		while (s->pos < s->len && (c = text[s->pos]) >= 0x20 && c < 0x80 && c != '"' && c != '\\')
			s->pos++;
		if (s->pos >= s->len)
			return fail(s, JSON_SCAN_SYNTAX, s->pos, "unexpected end of input inside a string");
		c = text[s->pos];
		if (c == '"')
			break;
		if (c < 0x20)
		{
			snprintf(s->message_buf, sizeof(s->message_buf),
					 "control character 0x%02X in a string must be escaped", c);
			return fail(s, JSON_SCAN_SYNTAX, s->pos, s->message_buf);
		}
		if (c >= 0x80)
		{
			size_t		n = utf8_sequence_length(text + s->pos, s->len - s->pos);

			if (n == 0)
			{
				snprintf(s->message_buf, sizeof(s->message_buf),
						 "invalid UTF-8 byte 0x%02X in a string", c);
				return fail(s, JSON_SCAN_SYNTAX, s->pos, s->message_buf);
			}
			s->pos += n;
			continue;
		}
		/* a backslash escape */
		escaped = true;
		if (s->pos + 1 >= s->len)
			return fail(s, JSON_SCAN_SYNTAX, s->pos, "unexpected end of input inside a string");
		c = text[s->pos + 1];
		if (c == 'u')
		{
			int			cp = s->pos + 6 <= s->len ? hex4(s->text + s->pos + 2) : -1;

			if (cp < 0)
				return fail(s, JSON_SCAN_SYNTAX, s->pos, "\\u must be followed by four hexadecimal digits");
			if (cp == 0)
				return fail(s, JSON_SCAN_NUL, s->pos, "\\u0000 is not allowed");
			if (cp >= 0xDC00 && cp <= 0xDFFF)
				return fail(s, JSON_SCAN_SYNTAX, s->pos, "lone Unicode low surrogate");
			if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				int			low = (s->pos + 12 <= s->len && text[s->pos + 6] == '\\' &&
								   text[s->pos + 7] == 'u') ? hex4(s->text + s->pos + 8) : -1;

				if (low < 0xDC00 || low > 0xDFFF)
					return fail(s, JSON_SCAN_SYNTAX, s->pos,
								"Unicode high surrogate must be followed by a low surrogate");
				s->pos += 6;
			}
			s->pos += 6;
		}
		else if (c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' ||
				 c == 'n' || c == 'r' || c == 't')
			s->pos += 2;
		else
		{
			if (c >= 0x20 && c < 0x7f)
				snprintf(s->message_buf, sizeof(s->message_buf), "invalid escape \"\\%c\"", c);
			else
				snprintf(s->message_buf, sizeof(s->message_buf), "invalid escape: byte 0x%02X after \\", c);
			return fail(s, JSON_SCAN_SYNTAX, s->pos, s->message_buf);
		}
	}
	if (v != NULL)
	{
		v->kind = JSON_SCAN_STRING;
		v->text = s->text + start;
		v->len = s->pos - start;
		v->escaped = escaped;
	}
	s->pos++;					/* the closing quote */
	return true;
}

/*
 * The number at s->pos: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?,
 * not running on into more digits, dots, signs or exponents ("01", "1.5.2").
 */
static bool
scan_number(JsonScanner *s, JsonScanValue *v)
{
	const char *text = s->text;
	size_t		len = s->len;
	size_t		start = s->pos,
				i = s->pos;
	bool		integer = true;

#define DIGIT_AT(k) ((k) < len && text[k] >= '0' && text[k] <= '9')
	if (text[i] == '-')
		i++;
	if (!DIGIT_AT(i))
		goto invalid;
	if (text[i] == '0')
		i++;
	else
		while (DIGIT_AT(i))
			i++;
	if (i < len && text[i] == '.')
	{
		integer = false;
		i++;
		if (!DIGIT_AT(i))
			goto invalid;
		while (DIGIT_AT(i))
			i++;
	}
	if (i < len && (text[i] == 'e' || text[i] == 'E'))
	{
		integer = false;
		i++;
		if (i < len && (text[i] == '+' || text[i] == '-'))
			i++;
		if (!DIGIT_AT(i))
			goto invalid;
		while (DIGIT_AT(i))
			i++;
	}
	if (DIGIT_AT(i) || (i < len && (text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
									  text[i] == '+' || text[i] == '-')))
		goto invalid;
#undef DIGIT_AT
	s->pos = i;
	if (v != NULL)
	{
		v->kind = JSON_SCAN_NUMBER;
		v->text = text + start;
		v->len = i - start;
		v->integer = integer;
	}
	return true;

invalid:
	{
		size_t		shown = 0;

		while (start + shown < len && shown < 20 && strchr("+-.0123456789eE", text[start + shown]) != NULL)
			shown++;
		snprintf(s->message_buf, sizeof(s->message_buf), "invalid number \"%.*s\"",
				 (int) (shown > 0 ? shown : 1), text + start);
		return fail(s, JSON_SCAN_SYNTAX, start, s->message_buf);
	}
}

/* true, false or null at s->pos; a run of letters that is none of them is refused whole. */
static bool
scan_literal(JsonScanner *s, JsonScanValue *v)
{
	size_t		start = s->pos,
				n = 0;
	const char *p = s->text + start;

	while (start + n < s->len && ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z')))
		n++;
	if (n == 4 && memcmp(p, "true", 4) == 0)
		v->kind = JSON_SCAN_TRUE;
	else if (n == 5 && memcmp(p, "false", 5) == 0)
		v->kind = JSON_SCAN_FALSE;
	else if (n == 4 && memcmp(p, "null", 4) == 0)
		v->kind = JSON_SCAN_NULL;
	else
	{
		snprintf(s->message_buf, sizeof(s->message_buf), "unexpected token \"%.*s\"",
				 (int) (n < 20 ? n : 20), p);
		return fail(s, JSON_SCAN_SYNTAX, start, s->message_buf);
	}
	v->text = p;
	v->len = n;
	s->pos += n;
	return true;
}

/*
 * The object or array at s->pos, nested inside outer_depth levels; sets
 * v->depth to its own deepest nesting.
 */
static bool
scan_container(JsonScanner *s, int outer_depth, JsonScanValue *v)
{
	char		closers[OPSMETER_JSON_SCAN_MAX_DEPTH];
	int			depth = 0,
				deepest = 0;
	size_t		start = s->pos;
	enum
	{
		AT_OPENING, AT_ELEMENT, AFTER_ELEMENT
	}			state = AT_OPENING;

	for (;;)
	{
		switch (state)
		{
			case AT_OPENING:
				if (outer_depth + depth + 1 > OPSMETER_JSON_SCAN_MAX_DEPTH)
				{
					snprintf(s->message_buf, sizeof(s->message_buf),
							 "nested deeper than %d levels", OPSMETER_JSON_SCAN_MAX_DEPTH);
					return fail(s, JSON_SCAN_TOO_DEEP, s->pos, s->message_buf);
				}
				closers[depth++] = s->text[s->pos] == '{' ? '}' : ']';
				if (depth > deepest)
					deepest = depth;
				s->pos++;
				skip_whitespace(s);
				if (s->pos < s->len && s->text[s->pos] == closers[depth - 1])
				{
					s->pos++;
					if (--depth == 0)
						goto done;
					state = AFTER_ELEMENT;
				}
				else
					state = AT_ELEMENT;
				break;

			case AT_ELEMENT:
				if (closers[depth - 1] == '}')
				{
					if (s->pos >= s->len || s->text[s->pos] != '"')
						return fail_unexpected(s, "a member name (a string)");
					if (!scan_string(s, NULL))
						return false;
					skip_whitespace(s);
					if (s->pos >= s->len || s->text[s->pos] != ':')
						return fail_unexpected(s, "\":\"");
					s->pos++;
					skip_whitespace(s);
				}
				if (s->pos < s->len && (s->text[s->pos] == '{' || s->text[s->pos] == '['))
					state = AT_OPENING;
				else
				{
					JsonScanValue scalar;
					char		c = s->pos < s->len ? s->text[s->pos] : '\0';

					if (c == '"')
					{
						if (!scan_string(s, NULL))
							return false;
					}
					else if (c == '-' || (c >= '0' && c <= '9'))
					{
						if (!scan_number(s, NULL))
							return false;
					}
					else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
					{
						if (!scan_literal(s, &scalar))
							return false;
					}
					else
						return fail_unexpected(s, NULL);
					state = AFTER_ELEMENT;
				}
				break;

			case AFTER_ELEMENT:
				skip_whitespace(s);
				if (s->pos < s->len && s->text[s->pos] == ',')
				{
					s->pos++;
					skip_whitespace(s);
					state = AT_ELEMENT;
				}
				else if (s->pos < s->len && s->text[s->pos] == closers[depth - 1])
				{
					s->pos++;
					if (--depth == 0)
						goto done;
				}
				else
					return fail_unexpected(s, closers[depth - 1] == '}' ? "\",\" or \"}\"" : "\",\" or \"]\"");
				break;
		}
	}

done:
	v->kind = s->text[start] == '{' ? JSON_SCAN_OBJECT : JSON_SCAN_ARRAY;
	v->text = s->text + start;
	v->len = s->pos - start;
	v->depth = deepest;
	return true;
}

/* Any value at s->pos (after whitespace), nested inside outer_depth levels. */
static bool
scan_value(JsonScanner *s, int outer_depth, JsonScanValue *v)
{
	char		c;

	memset(v, 0, sizeof(*v));
	skip_whitespace(s);
	if (s->pos >= s->len)
		return fail_unexpected(s, NULL);
	c = s->text[s->pos];
	if (c == '"')
		return scan_string(s, v);
	if (c == '-' || (c >= '0' && c <= '9'))
		return scan_number(s, v);
	if (c == '{' || c == '[')
		return scan_container(s, outer_depth, v);
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return scan_literal(s, v);
	return fail_unexpected(s, NULL);
}

static bool
at_end(JsonScanner *s)
{
	skip_whitespace(s);
	if (s->pos < s->len)
		return fail(s, JSON_SCAN_SYNTAX, s->pos, "unexpected text after the JSON value");
	return true;
}

bool
opsmeter_json_scan_begin(JsonScanner *s, const char *text, size_t len, JsonScanValue *root)
{
	memset(s, 0, sizeof(*s));
	s->text = text;
	s->len = len;
	skip_whitespace(s);
	if (s->pos < len && text[s->pos] == '{')
	{
		memset(root, 0, sizeof(*root));
		root->kind = JSON_SCAN_OBJECT;
		root->text = text + s->pos;
		s->pos++;
		s->in_root_object = true;
		s->first_member = true;
		return true;
	}
	return scan_value(s, 0, root) && at_end(s);
}

/* The root object's closing brace: nothing but whitespace may follow. */
static bool
close_root_object(JsonScanner *s)
{
	s->pos++;
	s->in_root_object = false;
	(void) at_end(s);			/* sets the error if text follows */
	return false;				/* no member either way */
}

bool
opsmeter_json_scan_next_member(JsonScanner *s, JsonScanValue *key, JsonScanValue *value)
{
	if (!s->in_root_object || s->error != JSON_SCAN_OK)
		return false;
	skip_whitespace(s);
	if (s->first_member)
	{
		s->first_member = false;
		if (s->pos < s->len && s->text[s->pos] == '}')
			return close_root_object(s);
	}
	else if (s->pos < s->len && s->text[s->pos] == '}')
		return close_root_object(s);
	else if (s->pos < s->len && s->text[s->pos] == ',')
	{
		s->pos++;
		skip_whitespace(s);
	}
	else
		return fail_unexpected(s, "\",\" or \"}\"");

	if (s->pos >= s->len || s->text[s->pos] != '"')
		return fail_unexpected(s, "a member name (a string)");
	memset(key, 0, sizeof(*key));
	if (!scan_string(s, key))
		return false;
	skip_whitespace(s);
	if (s->pos >= s->len || s->text[s->pos] != ':')
		return fail_unexpected(s, "\":\"");
	s->pos++;
	return scan_value(s, 1, value);
}

size_t
opsmeter_json_scan_unescape(const char *text, size_t len, char *out)
{
	size_t		o = 0;

	for (size_t i = 0; i < len; i++)
	{
		uint32_t	cp;

		if (text[i] != '\\')
		{
			out[o++] = text[i];
			continue;
		}
		i++;
		switch (text[i])
		{
			case 'b':
				out[o++] = '\b';
				continue;
			case 'f':
				out[o++] = '\f';
				continue;
			case 'n':
				out[o++] = '\n';
				continue;
			case 'r':
				out[o++] = '\r';
				continue;
			case 't':
				out[o++] = '\t';
				continue;
			case 'u':
				break;
			default:			/* " \ / */
				out[o++] = text[i];
				continue;
		}
		cp = (uint32_t) hex4(text + i + 1);
		i += 4;
		if (cp >= 0xD800 && cp <= 0xDBFF)
		{
			/* the scanner checked that a low surrogate follows */
			cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t) hex4(text + i + 3) - 0xDC00);
			i += 6;
		}
		if (cp < 0x80)
			out[o++] = (char) cp;
		else if (cp < 0x800)
		{
			out[o++] = (char) (0xC0 | (cp >> 6));
			out[o++] = (char) (0x80 | (cp & 0x3F));
		}
		else if (cp < 0x10000)
		{
			out[o++] = (char) (0xE0 | (cp >> 12));
			out[o++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char) (0x80 | (cp & 0x3F));
		}
		else
		{
			out[o++] = (char) (0xF0 | (cp >> 18));
			out[o++] = (char) (0x80 | ((cp >> 12) & 0x3F));
			out[o++] = (char) (0x80 | ((cp >> 6) & 0x3F));
			out[o++] = (char) (0x80 | (cp & 0x3F));
		}
	}
	return o;
}
