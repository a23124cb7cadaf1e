/*
 * json_text.c — strict JSON text checks and parsing over json-c.  Plain C
 * (no postgres.h) so the libFuzzer harness in test/fuzz/ runs this very code
 * outside the server; jsonc.c holds the parts that need PostgreSQL.
 */
#include <stdio.h>
#include <string.h>

#include "json_text.h"

struct json_tokener *
opsmeter_json_text_new_tokener(void)
{
	struct json_tokener *tok = json_tokener_new_ex(OPSMETER_JSON_MAX_DEPTH);

	if (tok != NULL)
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	return tok;
}

struct json_object *
opsmeter_json_text_parse(struct json_tokener *tok, const char *text, size_t len,
						 const char **problem, bool *too_deep)
{
	struct json_object *obj;
	enum json_tokener_error err;

	*too_deep = false;
	json_tokener_reset(tok);
	obj = json_tokener_parse_ex(tok, text, (int) len);
	err = json_tokener_get_error(tok);
	/* A bare number or literal only ends at a terminator: feed one. */
	if (obj == NULL && err == json_tokener_continue && json_tokener_get_parse_end(tok) == len)
	{
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		if (err == json_tokener_success)
		{
			*problem = NULL;	/* NULL with no problem: the document is null */
			return obj;
		}
		if (obj != NULL)
			json_object_put(obj);
		*problem = "unexpected end of input";
		return NULL;
	}
	if (err == json_tokener_success && json_tokener_get_parse_end(tok) == len)
	{
		*problem = NULL;
		return obj;
	}
	if (obj != NULL)
		json_object_put(obj);
	if (err == json_tokener_continue)
		*problem = "unexpected end of input";
	else if (err == json_tokener_success)
		*problem = "unexpected text after the JSON value";
	else
		*problem = json_tokener_error_desc(err);
	*too_deep = (err == json_tokener_error_depth);
	return NULL;
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
 * Length of the JSON number (RFC 8259: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?)
 * at text[0..len), or 0 when it is not one.  json-c's strict mode lets
 * "00", "1.", "-.5" and "0.e1" through.
 */
static size_t
json_number_length(const char *text, size_t len)
{
	size_t		i = 0;

#define DIGIT_AT(k) ((k) < len && text[k] >= '0' && text[k] <= '9')
	if (i < len && text[i] == '-')
		i++;
	if (!DIGIT_AT(i))
		return 0;
	if (text[i] == '0')
		i++;
	else
		while (DIGIT_AT(i))
			i++;
	if (i < len && text[i] == '.')
	{
		i++;
		if (!DIGIT_AT(i))
			return 0;
		while (DIGIT_AT(i))
			i++;
	}
	if (i < len && (text[i] == 'e' || text[i] == 'E'))
	{
		i++;
		if (i < len && (text[i] == '+' || text[i] == '-'))
			i++;
		if (!DIGIT_AT(i))
			return 0;
		while (DIGIT_AT(i))
			i++;
	}
	/* "01", "1.5.2", "1e5e": the number may not run on */
	if (DIGIT_AT(i) || (i < len && (text[i] == '.' || text[i] == 'e' || text[i] == 'E' ||
									  text[i] == '+' || text[i] == '-')))
		return 0;
#undef DIGIT_AT
	return i;
}

const char *
opsmeter_json_text_strict_problem(const char *text, size_t len, bool *nul)
{
	static char token_problem[128];
	bool		in_string = false;

	*nul = false;
	for (size_t i = 0; i < len; i++)
	{
		char		c = text[i];

		if (in_string)
		{
			if ((unsigned char) c < 0x20)
			{
				snprintf(token_problem, sizeof(token_problem),
						 "control character 0x%02X in a string must be escaped", (unsigned char) c);
				return token_problem;
			}
			if (c == '"')
				in_string = false;
			else if (c == '\\' && i + 1 < len)
			{
				i++;
				if (text[i] == 'u' && i + 4 < len)
				{
					int			cp = hex4(text + i + 1);

					i += 4;
					if (cp == 0)
					{
						*nul = true;
						return "\\u0000 is not allowed";
					}
					if (cp >= 0xDC00 && cp <= 0xDFFF)
						return "lone Unicode low surrogate";
					if (cp >= 0xD800 && cp <= 0xDBFF)
					{
						int			low = (i + 6 < len && text[i + 1] == '\\' && text[i + 2] == 'u')
							? hex4(text + i + 3) : -1;

						if (low < 0xDC00 || low > 0xDFFF)
							return "Unicode high surrogate must be followed by a low surrogate";
						i += 6;

						/*
						 * json-c 0.16 turns a pair whose code point ends in
						 * D800-DFFF (U+1D800-1DFFF, U+2D800-2DFFF, ...) into
						 * U+FFFD: refuse rather than store another string.
						 */
						cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
						if ((cp & 0xF800) == 0xD800)
						{
							snprintf(token_problem, sizeof(token_problem),
									 "the escape of U+%X is not read exactly; send the character as UTF-8", cp);
							return token_problem;
						}
					}
				}
			}
			continue;
		}
		if (c == '"')
			in_string = true;
		else if (c == '\'')
			return "single-quoted strings are not JSON";
		else if (c == '-' || (c >= '0' && c <= '9'))
		{
			size_t		n = json_number_length(text + i, len - i);

			if (n == 0)
			{
				size_t		shown = 0;

				while (i + shown < len && shown < 20 && strchr("+-.0123456789eE", text[i + shown]) != NULL)
					shown++;
				snprintf(token_problem, sizeof(token_problem), "invalid number \"%.*s\"",
						 (int) (shown > 0 ? shown : 1), text + i);
				return token_problem;
			}
			i += n - 1;
			c = text[i];
		}
		else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		{
			size_t		start = i;

			while (i + 1 < len && ((text[i + 1] >= 'a' && text[i + 1] <= 'z') ||
								   (text[i + 1] >= 'A' && text[i + 1] <= 'Z')))
				i++;
			if (!((i - start + 1 == 4 && (strncmp(text + start, "true", 4) == 0 ||
											   strncmp(text + start, "null", 4) == 0)) ||
					   (i - start + 1 == 5 && strncmp(text + start, "false", 5) == 0)))
			{
				size_t		shown = i - start + 1 < 20 ? i - start + 1 : 20;

				snprintf(token_problem, sizeof(token_problem), "unexpected token \"%.*s\"",
						 (int) shown, text + start);
				return token_problem;
			}
		}
	}
	return NULL;
}
