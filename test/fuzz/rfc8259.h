/*
 * rfc8259.h — a small, independent reference checker for JSON texts (RFC
 * 8259 grammar, UTF-8 as RFC 3629 defines it), shared by the fuzz driver and
 * the libFuzzer harness.  It is the oracle both hold opsmeter to: what it
 * calls invalid, PostgreSQL's jsonb input refuses too, so the NDJSON path
 * (json-c plus opsmeter's strict pre-scan) must refuse it as well.
 *
 * Header-only (static functions) so each tool compiles it in without a
 * library.  Iterative, with a heap stack of open containers, so inputs
 * nested tens of thousands of levels deep cannot overflow the C stack.
 *
 * The checker can also be asked to tolerate the constructs json-c is known
 * to let through (RFC_DEV_*).  Checking once strictly and once tolerantly
 * tells a known gap (counted, reported) from a new one (a failure), without
 * a known gap early in a line hiding an unknown one later.
 */
#ifndef OPSMETER_FUZZ_RFC8259_H
#define OPSMETER_FUZZ_RFC8259_H

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* Constructs json-c accepts in strict mode although RFC 8259 does not. */
#define RFC_DEV_CONTROL_CHAR	0x01	/* raw U+0000..U+001F inside a string */
#define RFC_DEV_NUMBER_FORM		0x02	/* 00, -01, 1., -.5, 0.e1 */
#define RFC_DEV_KNOWN			(RFC_DEV_CONTROL_CHAR | RFC_DEV_NUMBER_FORM)
#define RFC_DEV_UNKNOWN			0x80	/* not JSON even with the above tolerated */

typedef struct RfcResult
{
	bool		valid;			/* exactly one JSON value, nothing else but whitespace */
	bool		nul_escape;		/* a \u0000 escape (jsonb refuses it: 22P05) */
	bool		lone_surrogate; /* a \uD800-\uDFFF escape not in a valid pair (22P02) */
	int			deviations;		/* RFC_DEV_* bits that were tolerated */
	int			depth;			/* deepest nesting of objects and arrays */
	char		root;			/* '{', '[', '"', '0' (number), 't', 'f', 'n'; 0 if invalid */
	size_t		error_at;		/* offset of the first problem when !valid */
} RfcResult;

static inline bool
rfc_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool
rfc_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int
rfc_hex4(const unsigned char *p)
{
	int			v = 0;

	for (int i = 0; i < 4; i++)
	{
		unsigned char c = p[i];

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
 * Length of the well-formed UTF-8 sequence at s[0..avail), or 0.  Refuses
 * overlong forms, UTF-16 surrogates encoded as UTF-8, and code points above
 * U+10FFFF, as PostgreSQL's UTF-8 verifier does.
 */
static inline size_t
rfc_utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0];
	size_t		n;
	unsigned int cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2, cp = c & 0x1F;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3, cp = c & 0x0F;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		(cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
		return 0;
	return n;
}

/*
 * Could PostgreSQL hold this as text in a UTF8 database?  Valid UTF-8 and no
 * NUL byte: anything else is refused (22021) before opsmeter sees it.
 */
static inline bool
rfc8259_pg_text_ok(const char *text, size_t len)
{
	const unsigned char *s = (const unsigned char *) text;

	for (size_t i = 0; i < len;)
	{
		size_t		n = s[i] == 0 ? 0 : rfc_utf8_len(s + i, len - i);

		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

/* Scans the string starting at s[*i] == '"'; leaves *i after its closing quote. */
static inline bool
rfc_string(const unsigned char *s, size_t len, size_t *i, int tolerate, RfcResult *r)
{
	size_t		p = *i + 1;

	while (p < len)
	{
		unsigned char c = s[p];

		if (c == '"')
		{
			*i = p + 1;
			return true;
		}
		if (c < 0x20)
		{
			if (!(tolerate & RFC_DEV_CONTROL_CHAR))
				break;			/* raw control characters must be escaped */
			r->deviations |= RFC_DEV_CONTROL_CHAR;
			p++;
			continue;
		}
		if (c == '\\')
		{
			int			cp;

			if (p + 1 >= len)
				break;
			c = s[p + 1];
			if (c != 'u')
			{
				if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' &&
					c != 'n' && c != 'r' && c != 't')
					break;
				p += 2;
				continue;
			}
			if (p + 6 > len || (cp = rfc_hex4(s + p + 2)) < 0)
				break;
			p += 6;
			if (cp == 0)
				r->nul_escape = true;
			else if (cp >= 0xDC00 && cp <= 0xDFFF)
				r->lone_surrogate = true;
			else if (cp >= 0xD800 && cp <= 0xDBFF)
			{
				int			low = (p + 6 <= len && s[p] == '\\' && s[p + 1] == 'u')
					? rfc_hex4(s + p + 2) : -1;

				if (low >= 0xDC00 && low <= 0xDFFF)
					p += 6;
				else
					r->lone_surrogate = true;
			}
			continue;
		}
		{
			size_t		n = rfc_utf8_len(s + p, len - p);

			if (n == 0)
				break;
			p += n;
		}
	}
	*i = p;
	return false;
}

/*
 * number = [ minus ] int [ frac ] [ exp ].  Tolerating RFC_DEV_NUMBER_FORM,
 * int and frac may be any digit strings (leading zeros, "1.", "-.5") as long
 * as one of them has a digit; the exponent stays strict.
 */
static inline bool
rfc_number(const unsigned char *s, size_t len, size_t *i, int tolerate, RfcResult *r)
{
	size_t		p = *i;
	size_t		int_digits = 0,
				frac_digits = 0;
	bool		dot = false;

	if (p < len && s[p] == '-')
		p++;
	while (p < len && rfc_is_digit(s[p]))
		p++, int_digits++;
	if (p < len && s[p] == '.')
	{
		dot = true;
		p++;
		while (p < len && rfc_is_digit(s[p]))
			p++, frac_digits++;
	}
	if (int_digits + frac_digits == 0)
		goto fail;
	if (int_digits == 0 || (int_digits > 1 && s[p - int_digits - frac_digits - dot] == '0') ||
		(dot && frac_digits == 0))
	{
		if (!(tolerate & RFC_DEV_NUMBER_FORM))
			goto fail;
		r->deviations |= RFC_DEV_NUMBER_FORM;
	}
	if (p < len && (s[p] == 'e' || s[p] == 'E'))
	{
		p++;
		if (p < len && (s[p] == '+' || s[p] == '-'))
			p++;
		if (p >= len || !rfc_is_digit(s[p]))
			goto fail;
		while (p < len && rfc_is_digit(s[p]))
			p++;
	}
	*i = p;
	return true;
fail:
	*i = p;
	return false;
}

static inline bool
rfc_literal(const unsigned char *s, size_t len, size_t *i, const char *word, size_t wlen)
{
	for (size_t k = 0; k < wlen; k++)
		if (*i + k >= len || s[*i + k] != (unsigned char) word[k])
		{
			*i += k;
			return false;
		}
	*i += wlen;
	return true;
}

/*
 * Checks text[0..len) as one JSON document, tolerating the RFC_DEV_* bits in
 * "tolerate" (0 for plain RFC 8259); fills *r and returns r->valid.
 */
static inline bool
rfc8259_scan(const char *text, size_t len, int tolerate, RfcResult *r)
{
	const unsigned char *s = (const unsigned char *) text;
	size_t		i = 0,
				top = 0,
				cap = 64;
	char	   *stack = malloc(cap);

	r->valid = false;
	r->nul_escape = r->lone_surrogate = false;
	r->deviations = 0;
	r->depth = 0;
	r->root = 0;
	r->error_at = 0;
	if (stack == NULL)
		abort();

value:
	while (i < len && rfc_is_ws(s[i]))
		i++;
	if (i >= len)
		goto fail;
	switch (s[i])
	{
		case '{':
		case '[':
			if (top == cap)
			{
				cap *= 2;
				stack = realloc(stack, cap);
				if (stack == NULL)
					abort();
			}
			if (top == 0)
				r->root = (char) s[i];
			stack[top++] = (char) s[i];
			if ((int) top > r->depth)
				r->depth = (int) top;
			i++;
			while (i < len && rfc_is_ws(s[i]))
				i++;
			if (i < len && s[i] == (stack[top - 1] == '{' ? '}' : ']'))
			{
				top--;
				i++;
				goto after;
			}
			if (stack[top - 1] == '{')
				goto key;
			goto value;
		case '"':
			if (top == 0)
				r->root = '"';
			if (!rfc_string(s, len, &i, tolerate, r))
				goto fail;
			goto after;
		case 't':
			if (top == 0)
				r->root = 't';
			if (!rfc_literal(s, len, &i, "true", 4))
				goto fail;
			goto after;
		case 'f':
			if (top == 0)
				r->root = 'f';
			if (!rfc_literal(s, len, &i, "false", 5))
				goto fail;
			goto after;
		case 'n':
			if (top == 0)
				r->root = 'n';
			if (!rfc_literal(s, len, &i, "null", 4))
				goto fail;
			goto after;
		default:
			if (top == 0)
				r->root = '0';
			if (!rfc_number(s, len, &i, tolerate, r))
				goto fail;
			goto after;
	}

key:
	while (i < len && rfc_is_ws(s[i]))
		i++;
	if (i >= len || s[i] != '"' || !rfc_string(s, len, &i, tolerate, r))
		goto fail;
	while (i < len && rfc_is_ws(s[i]))
		i++;
	if (i >= len || s[i] != ':')
		goto fail;
	i++;
	goto value;

after:
	while (i < len && rfc_is_ws(s[i]))
		i++;
	if (top == 0)
	{
		if (i != len)
			goto fail;
		free(stack);
		r->valid = true;
		return true;
	}
	if (i >= len)
		goto fail;
	if (s[i] == ',')
	{
		i++;
		if (stack[top - 1] == '{')
			goto key;
		goto value;
	}
	if (s[i] == (stack[top - 1] == '{' ? '}' : ']'))
	{
		top--;
		i++;
		goto after;
	}

fail:
	free(stack);
	r->valid = false;
	r->root = 0;
	r->error_at = i;
	return false;
}

/* Plain RFC 8259. */
static inline bool
rfc8259_check(const char *text, size_t len, RfcResult *r)
{
	return rfc8259_scan(text, len, 0, r);
}

/*
 * Why text is not RFC 8259 JSON: 0 when it is, else the RFC_DEV_* bits of
 * the known json-c leniencies it uses, or RFC_DEV_UNKNOWN when it is not
 * JSON even with those tolerated.  *r describes the tolerant scan.
 */
static inline int
rfc8259_deviations(const char *text, size_t len, RfcResult *r)
{
	if (rfc8259_scan(text, len, 0, r))
		return 0;
	if (rfc8259_scan(text, len, RFC_DEV_KNOWN, r))
		return r->deviations;
	return RFC_DEV_UNKNOWN;
}

/* What PostgreSQL's jsonb input accepts (invalid UTF-8 never gets that far). */
static inline bool
rfc8259_jsonb_accepts(const RfcResult *r)
{
	return r->valid && r->deviations == 0 && !r->nul_escape && !r->lone_surrogate;
}

static inline const char *
rfc8259_deviation_name(int bit)
{
	switch (bit)
	{
		case RFC_DEV_CONTROL_CHAR:
			return "raw control character inside a string";
		case RFC_DEV_NUMBER_FORM:
			return "number not in RFC 8259 form (leading zero, no digit before or after the dot)";
		default:
			return "not JSON in any known way";
	}
}

#endif							/* OPSMETER_FUZZ_RFC8259_H */
