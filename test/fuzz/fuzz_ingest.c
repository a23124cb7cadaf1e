/*
 * fuzz_ingest.c — fuzz driver for opsmeter's two ingest entry points,
 * opsmeter_ingest(jsonb) and opsmeter_ingest_ndjson(text), over libpq.
 *
 * Every case starts from valid events (SPEC §4) and is then, most of the
 * time, broken on purpose: field types swapped, fields dropped, duplicated
 * or invented, numbers at and beyond every bound, strings at and beyond
 * every length, bad enums and timestamps, metadata too big or too deep,
 * escapes jsonb refuses, and, for some cases, the text itself (truncated,
 * bytes flipped, broken UTF-8, json-c-isms).  Each case is generated from
 * its own PRNG stream (seed, case number), so "-s SEED --only N" rebuilds
 * case N exactly.
 *
 * What is checked, per case:
 *  - the connection survives (a crashed backend is a failure);
 *  - every error has an SQLSTATE of class 22 or 54 (a timeout, an internal
 *    error or anything else is a failure);
 *  - a case the generator knows is valid is accepted, one it knows is
 *    invalid is refused (each event's verdict comes from the last
 *    occurrence of every field, as both parsers keep the last duplicate);
 *  - untouched valid cases are accepted with the exact accepted/duplicate
 *    counts, a resent one answers duplicate for every event, and for a
 *    sample the stored row is read back and compared field by field;
 *  - where the refusal is fully determined (batch over the limit, metadata
 *    one level too deep, a lone field), it has that exact SQLSTATE;
 *  - what an entry point accepted is JSON (rfc8259.h); json-c leniencies
 *    already known are counted as "known gaps" (failures with --strict),
 *    as are nesting beyond the documented 64 levels and the other gaps the
 *    summary lists;
 *  - for a sample of single objects, the NDJSON path's verdict on the same
 *    text (in a rolled-back transaction) is compared with the jsonb path's
 *    (informational: README documents some differences).
 * At the end, SQL over opsmeter.events checks that the rows equal the
 * accepted count and that every stored row obeys SPEC §4 / README Limits.
 *
 * Build: gcc -O2 -Wall -Wextra -I$(pg_config --includedir) fuzz_ingest.c -lpq
 * Run:   PGHOST=... PGPORT=... PGDATABASE=db ./fuzz_ingest -s 42 -n 5000
 * The database needs CREATE EXTENSION opsmeter and a superuser connection
 * (the driver creates its own workspace).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "rfc8259.h"

/* ------------------------------------------------------------------------
 * Growable byte buffer: payloads may hold any byte, NUL included.
 */
typedef struct Buf
{
	char	   *p;
	size_t		len;
	size_t		cap;
} Buf;

static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "fuzz_ingest: out of memory\n");
		exit(2);
	}
	return p;
}

static void
buf_reserve(Buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 64;

		while (b->len + extra + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (b->p == NULL)
		{
			fprintf(stderr, "fuzz_ingest: out of memory\n");
			exit(2);
		}
		b->cap = cap;
	}
}

static void
buf_add(Buf *b, const void *data, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(Buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_char(Buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void __attribute__((format(printf, 2, 3)))
buf_fmt(Buf *b, const char *fmt,...)
{
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	buf_reserve(b, (size_t) n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t) n;
}

static void
buf_reset(Buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static void
buf_free(Buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static void
buf_set(Buf *b, const char *s)
{
	buf_reset(b);
	buf_str(b, s);
}

/* Inserts n bytes at offset "at". */
static void
buf_insert(Buf *b, size_t at, const void *data, size_t n)
{
	buf_reserve(b, n);
	memmove(b->p + at + n, b->p + at, b->len - at);
	memcpy(b->p + at, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* ------------------------------------------------------------------------
 * PRNG: xoshiro256** seeded through splitmix64.  One stream per case, so a
 * case does not depend on how many numbers earlier cases drew.
 */
typedef struct Rng
{
	uint64_t	s[4];
} Rng;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void
rng_seed(Rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t	x = seed ^ (stream * 0xD1B54A32D192ED03ULL);

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(Rng *r)
{
	uint64_t   *s = r->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n). */
static uint64_t
rng_below(Rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

/* Uniform in [lo, hi]. */
static int64_t
rng_range(Rng *r, int64_t lo, int64_t hi)
{
	return lo + (int64_t) rng_below(r, (uint64_t) (hi - lo) + 1);
}

/* True with probability per_mille / 1000. */
static bool
rng_chance(Rng *r, int per_mille)
{
	return (int) rng_below(r, 1000) < per_mille;
}

#define PICK(r, arr) ((arr)[rng_below((r), sizeof(arr) / sizeof((arr)[0]))])

/* A count skewed towards small values: mostly 0..7, sometimes up to max. */
static int64_t
rng_small(Rng *r, int64_t max)
{
	switch (rng_below(r, 4))
	{
		case 0:
		case 1:
			return rng_range(r, 0, max < 7 ? max : 7);
		case 2:
			return rng_range(r, 0, max < 100 ? max : 100);
		default:
			return rng_range(r, 0, max);
	}
}

/* ------------------------------------------------------------------------
 * Text generation: raw UTF-8 strings, and their JSON encodings.
 */

/* Appends one code point as UTF-8. */
static void
put_utf8(Buf *b, uint32_t cp)
{
	char		u[4];

	if (cp < 0x80)
		buf_char(b, (char) cp);
	else if (cp < 0x800)
	{
		u[0] = (char) (0xC0 | (cp >> 6));
		u[1] = (char) (0x80 | (cp & 0x3F));
		buf_add(b, u, 2);
	}
	else if (cp < 0x10000)
	{
		u[0] = (char) (0xE0 | (cp >> 12));
		u[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char) (0x80 | (cp & 0x3F));
		buf_add(b, u, 3);
	}
	else
	{
		u[0] = (char) (0xF0 | (cp >> 18));
		u[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char) (0x80 | (cp & 0x3F));
		buf_add(b, u, 4);
	}
}

/* Decodes the (valid) UTF-8 code point at *p, advancing it. */
static uint32_t
get_utf8(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t	cp;

	if (s[0] < 0x80)
	{
		*p += 1;
		return s[0];
	}
	if (s[0] < 0xE0)
	{
		cp = ((uint32_t) (s[0] & 0x1F) << 6) | (s[1] & 0x3F);
		*p += 2;
	}
	else if (s[0] < 0xF0)
	{
		cp = ((uint32_t) (s[0] & 0x0F) << 12) | ((uint32_t) (s[1] & 0x3F) << 6) | (s[2] & 0x3F);
		*p += 3;
	}
	else
	{
		cp = ((uint32_t) (s[0] & 0x07) << 18) | ((uint32_t) (s[1] & 0x3F) << 12) |
			((uint32_t) (s[2] & 0x3F) << 6) | (s[3] & 0x3F);
		*p += 4;
	}
	return cp;
}

typedef enum Alphabet
{
	ALPHA_IDENT,				/* [a-z0-9_.-] */
	ALPHA_ASCII,				/* printable ASCII, quotes and backslashes included */
	ALPHA_UNICODE,				/* 1- to 4-byte UTF-8, no control characters */
	ALPHA_ANY					/* the above plus U+0001..U+001F */
} Alphabet;

/* One random code point (never U+0000, never a surrogate). */
static uint32_t
random_cp(Rng *r, Alphabet a)
{
	static const char ident[] = "abcdefghijklmnopqrstuvwxyz0123456789_.-";

	switch (a)
	{
		case ALPHA_IDENT:
			return (uint32_t) ident[rng_below(r, sizeof(ident) - 1)];
		case ALPHA_ASCII:
			return (uint32_t) rng_range(r, 0x20, 0x7E);
		case ALPHA_ANY:
			if (rng_chance(r, 100))
				return (uint32_t) rng_range(r, 0x01, 0x1F);
			/* FALLTHROUGH */
		case ALPHA_UNICODE:
			switch (rng_below(r, 6))
			{
				case 0:
				case 1:
					return (uint32_t) rng_range(r, 0x20, 0x7E);
				case 2:
					return (uint32_t) rng_range(r, 0xA0, 0x7FF);	/* 2 bytes */
				case 3:
					return (uint32_t) rng_range(r, 0x800, 0xD7FF); /* 3 bytes */
				case 4:
					return (uint32_t) rng_range(r, 0xE000, 0xFFFD);
				default:
					return (uint32_t) rng_range(r, 0x10000, 0x10FFFF);	/* 4 bytes */
			}
	}
	return 'x';
}

/* Appends nchars random characters. */
static void
random_text(Rng *r, Buf *b, int64_t nchars, Alphabet a)
{
	/* long strings repeat a short random unit: cheap and still multibyte */
	if (nchars > 4096)
	{
		Buf			unit = {0};
		int64_t		done = 0;

		random_text(r, &unit, 61, a);
		while (done + 61 <= nchars)
		{
			buf_add(b, unit.p, unit.len);
			done += 61;
		}
		random_text(r, b, nchars - done, a);
		buf_free(&unit);
		return;
	}
	for (int64_t i = 0; i < nchars; i++)
		put_utf8(b, random_cp(r, a));
}

/*
 * Appends raw[0..len) (valid UTF-8) as a JSON string literal, choosing
 * among the equivalent escapes at random (\u escapes, surrogate pairs,
 * "\/"), so both parsers' unescaping is exercised by valid input.
 */
static void
json_quote(Rng *r, Buf *out, const char *raw, size_t len)
{
	const unsigned char *p = (const unsigned char *) raw,
			   *end = p + len;
	/* escapes multiply a string's size up to 12 times: keep huge ones plain */
	int			escape_rate = len < 100000 && rng_below(r, 4) == 0 ? (int) rng_below(r, 500) : 0;

	buf_char(out, '"');
	while (p < end)
	{
		uint32_t	cp = get_utf8(&p);
		bool		esc = escape_rate > 0 && rng_chance(r, escape_rate);

		if (cp == '"' || cp == '\\')
		{
			if (esc)
				buf_fmt(out, "\\u%04X", cp);
			else
			{
				buf_char(out, '\\');
				buf_char(out, (char) cp);
			}
		}
		else if (cp < 0x20)
		{
			const char *shortform = cp == '\n' ? "\\n" : cp == '\t' ? "\\t" : cp == '\r' ? "\\r" :
				cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : NULL;

			if (shortform && !esc)
				buf_str(out, shortform);
			else
				buf_fmt(out, rng_chance(r, 500) ? "\\u%04x" : "\\u%04X", cp);
		}
		else if (cp == '/' && esc)
			buf_str(out, "\\/");
		else if (esc && cp >= 0x10000 && (cp & 0xF800) == 0xD800)
		{
			/*
			 * The NDJSON path refuses the escapes of code points whose low
			 * 16 bits lie in D800-DFFF (json-c 0.16 would read U+FFFD), so
			 * cases that must pass send them as UTF-8.
			 */
			put_utf8(out, cp);
		}
		else if (esc && cp >= 0x10000)
		{
			uint32_t	v = cp - 0x10000;

			buf_fmt(out, "\\u%04X\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
		}
		else if (esc)
			buf_fmt(out, "\\u%04x", cp);
		else
			put_utf8(out, cp);
	}
	buf_char(out, '"');
}

/* Characters in a valid UTF-8 string. */
static int64_t
utf8_chars(const char *s, size_t len)
{
	int64_t		n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			n++;
	return n;
}

/* ------------------------------------------------------------------------
 * Events as ordered lists of fields, each with what the generator knows
 * about its validity.
 */
enum
{
	F_ID, F_PROVIDER, F_MODEL, F_INPUT, F_OUTPUT, F_TOTAL, F_CACHED, F_REASONING,
	F_LATENCY, F_STATUS, F_ERROR_CODE, F_PROMPT_VERSION, F_ENDPOINT_TAG, F_USER_ID,
	F_TENANT_ID, F_DATA_MODE, F_ENVIRONMENT, F_COST, F_TIMESTAMP, F_METADATA,
	NUM_KNOWN_FIELDS
};

static const char *const field_names[NUM_KNOWN_FIELDS] = {
	"externalRequestId", "provider", "model", "inputTokens", "outputTokens", "totalTokens",
	"cachedInputTokens", "reasoningTokens", "latencyMs", "status", "errorCode",
	"promptVersion", "endpointTag", "userId", "tenantId", "dataMode", "environment",
	"costUsd", "timestamp", "metadata",
};

/* Character limits of the string fields (0: not a free string field). */
static const int max_chars[NUM_KNOWN_FIELDS] = {
	[F_ID] = 128, [F_PROVIDER] = 100, [F_MODEL] = 200, [F_ERROR_CODE] = 128,
	[F_PROMPT_VERSION] = 128, [F_ENDPOINT_TAG] = 128, [F_USER_ID] = 256, [F_TENANT_ID] = 256,
};

static bool
is_required(int f)
{
	return f == F_ID || f == F_PROVIDER || f == F_MODEL || f == F_INPUT || f == F_OUTPUT;
}

static bool
is_token_field(int f)
{
	return f == F_INPUT || f == F_OUTPUT || f == F_TOTAL || f == F_CACHED || f == F_REASONING;
}

static bool
is_string_field(int f)
{
	return max_chars[f] > 0;
}

/* What the generator knows about a value, or about a whole event or case. */
typedef enum Verdict
{
	V_VALID,					/* must be accepted */
	V_UNSURE,					/* either outcome is fine */
	V_INVALID					/* must be refused */
} Verdict;

static Verdict
worse(Verdict a, Verdict b)
{
	return a > b ? a : b;
}

typedef struct Field
{
	Buf			key;			/* JSON text of the key, quotes included */
	int			known;			/* F_* the key decodes to, or -1 */
	Buf			val;			/* JSON text of the value */
	Verdict		verdict;		/* of this value for this key */
	Verdict		doc;			/* of the document holding it, even if a later
								 * duplicate key overrides it (\u0000, depth) */
	bool		is_null;		/* the value is JSON null (= absent) */
} Field;

/* What an untouched event must look like once stored (NULL: not compared). */
typedef struct Expect
{
	Buf			s[NUM_KNOWN_FIELDS];	/* raw text of each field, as stored */
	bool		set[NUM_KNOWN_FIELDS];
} Expect;

#define MAX_FIELDS 48

typedef struct Event
{
	Field		f[MAX_FIELDS];
	int			n;
	Verdict		cross;			/* cross-field rules (cached <= input, ...) */
	bool		cross_locked;	/* a cross-field mutation was made: no more edits */
	Buf			id;				/* raw externalRequestId of the clean event */
	Expect		exp;
	Buf			extra;			/* raw JSON members appended as they are (floods) */
} Event;

static void
event_free(Event *ev)
{
	for (int i = 0; i < ev->n; i++)
	{
		buf_free(&ev->f[i].key);
		buf_free(&ev->f[i].val);
	}
	for (int i = 0; i < NUM_KNOWN_FIELDS; i++)
		buf_free(&ev->exp.s[i]);
	buf_free(&ev->id);
	buf_free(&ev->extra);
	memset(ev, 0, sizeof(*ev));
}

/* Adds a field (known key written plainly or, sometimes, with \u escapes). */
static Field *
event_add(Rng *r, Event *ev, int known, const char *name)
{
	Field	   *f;

	if (ev->n >= MAX_FIELDS)
		return NULL;
	f = &ev->f[ev->n++];
	memset(f, 0, sizeof(*f));
	f->known = known;
	if (known >= 0 && rng_chance(r, 20))
		json_quote(r, &f->key, name, strlen(name));
	else
	{
		buf_char(&f->key, '"');
		buf_str(&f->key, name);
		buf_char(&f->key, '"');
	}
	return f;
}

static int
event_find_last(const Event *ev, int known)
{
	for (int i = ev->n - 1; i >= 0; i--)
		if (ev->f[i].known == known)
			return i;
	return -1;
}

/* Verdict of an event: the last occurrence of every field counts. */
static Verdict
event_verdict(const Event *ev)
{
	Verdict		v = ev->cross;

	for (int i = 0; i < ev->n; i++)
	{
		v = worse(v, ev->f[i].doc);
		/*
		 * Unknown fields are ignored, but the nesting limit covers them too
		 * (README "Limits"): a deep value there decides the case as well.
		 */
		if (ev->f[i].known < 0)
			v = worse(v, ev->f[i].verdict);
	}
	for (int k = 0; k < NUM_KNOWN_FIELDS; k++)
	{
		int			i = event_find_last(ev, k);

		if (i < 0 || ev->f[i].is_null)
		{
			if (is_required(k))
				return V_INVALID;
			continue;
		}
		v = worse(v, ev->f[i].verdict);
	}
	return v;
}

/* Serialises an event as one JSON object; "ndjson" keeps it on one line. */
static void
event_serialize(Rng *r, const Event *ev, Buf *out, bool ndjson)
{
	static const char *const ws_json[] = {" ", "\t", "\n", "\r\n", "  "};
	static const char *const ws_line[] = {" ", "\t", "\r", "  "};
	bool		spaced = rng_chance(r, 150);

#define WS() do { if (spaced && rng_chance(r, 300)) buf_str(out, ndjson ? PICK(r, ws_line) : PICK(r, ws_json)); } while (0)
	buf_char(out, '{');
	for (int i = 0; i < ev->n; i++)
	{
		if (i > 0)
			buf_char(out, ',');
		WS();
		buf_add(out, ev->f[i].key.p, ev->f[i].key.len);
		WS();
		buf_char(out, ':');
		WS();
		buf_add(out, ev->f[i].val.p, ev->f[i].val.len);
		WS();
	}
	if (ev->extra.len > 0)
	{
		if (ev->n > 0)
			buf_char(out, ',');
		buf_add(out, ev->extra.p, ev->extra.len);
	}
	buf_char(out, '}');
#undef WS
}

/* ------------------------------------------------------------------------
 * Valid values for every field, with the raw text they must be stored as.
 */
typedef struct Ctx
{
	uint64_t	seed;
	long		case_no;
	time_t		now;			/* when the case was generated */
	int			max_batch;		/* opsmeter.max_batch_events */
} Ctx;

static const char *const providers[] = {"openai", "anthropic", "google", "mistral", "OpenAI", "Anthropic"};
static const char *const models[] = {"gpt-4o-mini", "gpt-4o", "claude-3-5-sonnet-20241022",
"gemini-1.5-pro", "mistral-large-latest", "GPT-4o-mini", "o1-mini"};
static const char *const data_modes[] = {"real", "test", "demo"};
static const char *const environments[] = {"prod", "staging", "dev"};

/* A valid string of the field's own kind; raw text into *raw. */
static void
valid_string(Rng *r, int f, Buf *raw)
{
	int			max = max_chars[f];
	int64_t		n;

	buf_reset(raw);
	if (f == F_PROVIDER && rng_chance(r, 600))
	{
		buf_str(raw, PICK(r, providers));
		return;
	}
	if (f == F_MODEL && rng_chance(r, 600))
	{
		buf_str(raw, PICK(r, models));
		return;
	}
	switch (rng_below(r, 5))
	{
		case 0:
			n = max;			/* exactly at the limit */
			break;
		case 1:
			n = 1;
			break;
		default:
			n = rng_range(r, 1, max < 24 ? max : 24);
			break;
	}
	random_text(r, raw, n, rng_chance(r, 500) ? ALPHA_IDENT : (rng_chance(r, 500) ? ALPHA_UNICODE : ALPHA_ANY));
}

/* A valid token count, maybe written as 1.0, 1e3, -0; its value in *v. */
static void
valid_count(Rng *r, int64_t max, int64_t *v, Buf *json)
{
	int64_t		x;

	switch (rng_below(r, 6))
	{
		case 0:
			x = 0;
			break;
		case 1:
			x = max;
			break;
		case 2:
			x = rng_range(r, 0, max);
			break;
		default:
			x = rng_range(r, 0, 5000);
			break;
	}
	*v = x;
	buf_reset(json);
	if (x == 0 && rng_chance(r, 100))
		buf_str(json, PICK(r, ((const char *[]) {"-0", "0.0", "0e5", "-0.0", "0E-3"})));
	else if (rng_chance(r, 60))
		buf_fmt(json, "%" PRId64 ".%s", x, rng_chance(r, 500) ? "0" : "000");
	else if (x > 0 && x % 1000 == 0 && rng_chance(r, 300))
		buf_fmt(json, "%" PRId64 "e3", x / 1000);
	else if (x > 0 && x % 1000 == 0 && rng_chance(r, 300))
		buf_fmt(json, "%" PRId64 "000E-3", x);
	else
		buf_fmt(json, "%" PRId64, x);
}

/* A valid costUsd: decimal text; canonical numeric text into *raw. */
static void
valid_cost(Rng *r, Buf *json, Buf *raw)
{
	buf_reset(json);
	buf_reset(raw);
	switch (rng_below(r, 7))
	{
		case 0:
			buf_str(json, "0");
			buf_str(raw, "0");
			break;
		case 1:
			buf_str(json, "1000000000");
			buf_str(raw, "1000000000");
			break;
		case 2:
			buf_str(json, "999999999.999999999999");
			buf_str(raw, "999999999.999999999999");
			break;
		case 3:
			buf_str(json, "1e-5");
			buf_str(raw, "0.00001");
			break;
		case 4:
			buf_str(json, "4.2E-3");
			buf_str(raw, "0.0042");
			break;
		default:
			{
				int64_t		whole = rng_range(r, 0, 999);
				int			scale = (int) rng_range(r, 1, 12);
				Buf			frac = {0};

				for (int i = 0; i < scale; i++)
					buf_char(&frac, (char) ('0' + rng_below(r, 10)));
				buf_fmt(json, "%" PRId64 ".%s", whole, frac.p);
				buf_fmt(raw, "%" PRId64 ".%s", whole, frac.p);
				buf_free(&frac);
			}
	}
}

/*
 * A valid timestamp between 29 days and 2 minutes ago, in one of the forms
 * opsmeter documents; the UTC instant it denotes into *utc.
 */
static void
valid_timestamp(Rng *r, const Ctx *ctx, Buf *json, Buf *utc)
{
	time_t		t = ctx->now - (time_t) rng_range(r, 120, 29 * 86400);
	int			usec = rng_chance(r, 500) ? 0 : (int) rng_range(r, 0, 999999);
	int			offset_min = 0;
	int			form = (int) rng_below(r, 6);
	time_t		local;
	struct tm	tm;
	char		date[64];
	char		sep = PICK(r, ((const char[]) {'T', 'T', 't', ' '}));

	if (form >= 2)
		offset_min = (int) rng_range(r, -(15 * 60 + 59), 15 * 60 + 59);
	local = t + offset_min * 60;
	gmtime_r(&local, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	buf_reset(json);
	buf_fmt(json, "\"%s%c%02d:%02d", date, sep, tm.tm_hour, tm.tm_min);
	if (usec != 0 || rng_chance(r, 700))
	{
		buf_fmt(json, ":%02d", tm.tm_sec);
		if (usec != 0)
		{
			int			digits = (int) rng_range(r, 1, 6);
			int			v = usec;

			for (int i = 6; i > digits; i--)
				v /= 10;
			usec = v;
			for (int i = digits; i < 6; i++)
				usec *= 10;
			buf_fmt(json, "%c%0*d", rng_chance(r, 900) ? '.' : ',', digits, v);
		}
	}
	else
	{
		/* HH:MM without seconds: the instant drops its seconds */
		t -= tm.tm_sec;
		usec = 0;
	}
	{
		int			a = offset_min < 0 ? -offset_min : offset_min;

		switch (form)
		{
			case 0:
				buf_char(json, 'Z');
				break;
			case 1:
				buf_char(json, 'z');
				break;
			case 2:
			case 3:
				buf_fmt(json, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
				break;
			case 4:
				buf_fmt(json, "%c%02d%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
				break;
			default:
				if (a % 60 != 0)
					buf_fmt(json, "%c%02d:%02d", offset_min < 0 ? '-' : '+', a / 60, a % 60);
				else
					buf_fmt(json, "%c%02d", offset_min < 0 ? '-' : '+', a / 60);
		}
	}
	buf_char(json, '"');
	gmtime_r(&t, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	buf_reset(utc);
	buf_fmt(utc, "%s.%06d+00", date, usec);
}

/* A random JSON value: the building block of metadata and type swaps. */
static void random_value(Rng *r, Buf *out, int depth, int *budget);

static void
random_object(Rng *r, Buf *out, int depth, int *budget)
{
	int			n = (int) rng_small(r, 6);
	Buf			key = {0};

	buf_char(out, '{');
	for (int i = 0; i < n && *budget > 0; i++)
	{
		if (i > 0)
			buf_char(out, ',');
		buf_reset(&key);
		random_text(r, &key, rng_range(r, 0, 8), rng_chance(r, 700) ? ALPHA_IDENT : ALPHA_ANY);
		json_quote(r, out, key.p, key.len);
		buf_char(out, ':');
		random_value(r, out, depth - 1, budget);
	}
	buf_char(out, '}');
	buf_free(&key);
}

/*
 * Appends a random value nesting at most "depth" more levels.  *budget
 * bounds the number of leaves so metadata stays far below 8192 bytes.
 * Integers stay within int64: the NDJSON path refuses larger ones inside
 * metadata (README "Ingest"), which bad_metadata() covers on its own.
 */
static void
random_value(Rng *r, Buf *out, int depth, int *budget)
{
	int			kind = (int) rng_below(r, depth > 0 ? 8 : 6);

	(*budget)--;
	switch (kind)
	{
		case 0:
			buf_str(out, "null");
			break;
		case 1:
			buf_str(out, rng_chance(r, 500) ? "true" : "false");
			break;
		case 2:
			buf_fmt(out, "%" PRId64, rng_range(r, INT64_MIN + 1, INT64_MAX));
			break;
		case 3:
			buf_str(out, PICK(r, ((const char *[]) {"0", "-0", "1.5", "-2.25e-7", "1E+300", "123456789.000000001",
													"-0.0", "9223372036854775807", "1e400", "6.02e23"})));
			break;
		case 4:
		case 5:
			{
				Buf			raw = {0};

				random_text(r, &raw, rng_small(r, 20), ALPHA_ANY);
				json_quote(r, out, raw.p, raw.len);
				buf_free(&raw);
			}
			break;
		case 6:
			{
				int			n = (int) rng_small(r, 5);

				buf_char(out, '[');
				for (int i = 0; i < n && *budget > 0; i++)
				{
					if (i > 0)
						buf_char(out, ',');
					random_value(r, out, depth - 1, budget);
				}
				buf_char(out, ']');
			}
			break;
		default:
			random_object(r, out, depth, budget);
	}
}

/* Nested containers "levels" deep around a leaf: [[{"a":[...]}]]. */
static void
nested(Rng *r, Buf *out, int levels, bool objects_only)
{
	Buf			close = {0};

	for (int i = 0; i < levels; i++)
	{
		if (objects_only || rng_chance(r, 500))
		{
			buf_str(out, "{\"k\":");
			buf_char(&close, '}');
		}
		else
		{
			buf_char(out, '[');
			buf_char(&close, ']');
		}
	}
	buf_str(out, "1");
	for (size_t i = close.len; i > 0; i--)
		buf_char(out, close.p[i - 1]);
	buf_free(&close);
}

/* Valid metadata: an object of at most "levels" levels (the object itself counts). */
static void
valid_metadata(Rng *r, Buf *json, int levels)
{
	int			budget = 20;

	buf_reset(json);
	if (levels >= 2 && rng_chance(r, 100))
	{
		/* exactly "levels" deep: with the event, at the documented limit when 63 */
		buf_str(json, "{\"deep\":");
		nested(r, json, levels - 1, false);
		buf_char(json, '}');
		return;
	}
	random_object(r, json, levels - 1 < 4 ? levels - 1 : 4, &budget);
	if (rng_chance(r, 100) && json->len > 2)
	{
		/* a duplicate key: the last one wins, on both paths */
		json->len--;
		buf_str(json, ",\"dup\":1,\"dup\":[2]}");
	}
}

/* Sets field f of a clean event to a fresh valid value and records it. */
static void
set_valid(Rng *r, const Ctx *ctx, Event *ev, Field *fl, int f, int64_t *ints)
{
	Buf		   *exp = &ev->exp.s[f];

	buf_reset(&fl->val);
	fl->verdict = fl->doc = V_VALID;
	fl->is_null = false;
	ev->exp.set[f] = true;
	buf_reset(exp);
	switch (f)
	{
		case F_ID:
			json_quote(r, &fl->val, ev->id.p, ev->id.len);
			buf_add(exp, ev->id.p, ev->id.len);
			break;
		case F_PROVIDER:
		case F_MODEL:
		case F_ERROR_CODE:
		case F_PROMPT_VERSION:
		case F_ENDPOINT_TAG:
		case F_USER_ID:
		case F_TENANT_ID:
			valid_string(r, f, exp);
			json_quote(r, &fl->val, exp->p, exp->len);
			break;
		case F_INPUT:
		case F_OUTPUT:
		case F_TOTAL:
			valid_count(r, 1000000000000000LL, &ints[f], &fl->val);
			if (rng_chance(r, 950) && f != F_TOTAL)
			{
				/* mostly realistic sizes, so totals stay sensible */
				ints[f] = rng_range(r, 0, 100000);
				buf_reset(&fl->val);
				buf_fmt(&fl->val, "%" PRId64, ints[f]);
			}
			buf_fmt(exp, "%" PRId64, ints[f]);
			break;
		case F_CACHED:
		case F_REASONING:
			{
				int64_t		cap = ints[f == F_CACHED ? F_INPUT : F_OUTPUT];

				ints[f] = rng_chance(r, 200) ? cap : rng_range(r, 0, cap);
				buf_fmt(&fl->val, "%" PRId64, ints[f]);
				buf_fmt(exp, "%" PRId64, ints[f]);
			}
			break;
		case F_LATENCY:
			valid_count(r, 2147483647, &ints[f], &fl->val);
			buf_fmt(exp, "%" PRId64, ints[f]);
			break;
		case F_STATUS:
			{
				bool		err = rng_chance(r, 300);

				buf_str(&fl->val, err ? "\"error\"" : "\"success\"");
				buf_str(exp, err ? "true" : "false");
			}
			break;
		case F_DATA_MODE:
		case F_ENVIRONMENT:
			{
				const char *v = f == F_DATA_MODE ? PICK(r, data_modes) : PICK(r, environments);

				buf_fmt(&fl->val, "\"%s\"", v);
				buf_str(exp, v);
			}
			break;
		case F_COST:
			valid_cost(r, &fl->val, exp);
			break;
		case F_TIMESTAMP:
			valid_timestamp(r, ctx, &fl->val, exp);
			break;
		case F_METADATA:
			valid_metadata(r, &fl->val, (int) rng_range(r, 1, 63));
			buf_add(exp, fl->val.p, fl->val.len);
			break;
	}
}

/*
 * A valid event: required fields plus a random choice of optional ones, in
 * random order.  Its id is unique to (seed, case, index), with a random
 * tail so no mutation of another case can guess it.
 */
static void
clean_event(Rng *r, const Ctx *ctx, int index, Event *ev, bool lean)
{
	int			order[NUM_KNOWN_FIELDS];
	int64_t		ints[NUM_KNOWN_FIELDS] = {0};
	int			nfields = 0;

	memset(ev, 0, sizeof(*ev));
	buf_fmt(&ev->id, "fz%" PRIx64 "-%ld-%d-%08" PRIx64, ctx->seed, ctx->case_no, index,
			rng_next(r) & 0xFFFFFFFF);
	if (rng_chance(r, 50))
	{
		/* pad to exactly 128 characters, some of them multibyte */
		int64_t		have = utf8_chars(ev->id.p, ev->id.len);

		random_text(r, &ev->id, 128 - have, ALPHA_UNICODE);
	}

	/* required fields first in the value logic (caps for cached/reasoning) */
	for (int f = 0; f < NUM_KNOWN_FIELDS; f++)
		if (is_required(f) || (!lean && rng_chance(r, f == F_CACHED || f == F_REASONING ? 200 : 350)))
			order[nfields++] = f;
	for (int i = 0; i < nfields; i++)
	{
		Field	   *fl = event_add(r, ev, order[i], field_names[order[i]]);

		set_valid(r, ctx, ev, fl, order[i], ints);
	}
	/* optional fields sent as null or "" mean absent */
	if (rng_chance(r, 100))
	{
		static const int optional[] = {F_ERROR_CODE, F_PROMPT_VERSION, F_ENDPOINT_TAG, F_USER_ID, F_TENANT_ID,
		F_STATUS, F_COST, F_TIMESTAMP, F_METADATA, F_LATENCY, F_DATA_MODE, F_ENVIRONMENT, F_TOTAL};
		int			f = PICK(r, optional);
		int			i = event_find_last(ev, f);
		bool		empty = is_string_field(f) && rng_chance(r, 500);
		Field	   *fl = i >= 0 ? &ev->f[i] : event_add(r, ev, f, field_names[f]);

		buf_set(&fl->val, empty ? "\"\"" : "null");
		fl->is_null = true;
		fl->verdict = V_VALID;
		ev->exp.set[f] = true;
		buf_reset(&ev->exp.s[f]);	/* empty expected = stored as NULL */
	}
	/* shuffle: field order must not matter */
	for (int i = ev->n - 1; i > 0; i--)
	{
		int			j = (int) rng_below(r, (uint64_t) i + 1);
		Field		t = ev->f[i];

		ev->f[i] = ev->f[j];
		ev->f[j] = t;
	}
	/* what cannot be compared exactly: derived totals, catalog prices */
	if (!ev->exp.set[F_TOTAL])
	{
		ev->exp.set[F_TOTAL] = true;
		buf_fmt(&ev->exp.s[F_TOTAL], "%" PRId64, ints[F_INPUT] + ints[F_OUTPUT]);
	}
	/* a clean event never breaks a cross-field rule */
	ev->cross = V_VALID;
}

/* ------------------------------------------------------------------------
 * Structural mutations of one event.
 */

/*
 * Verdict for a value not made for field f, from its JSON type alone: a
 * wrong type is refused, a right type may or may not pass its range rules.
 */
static Verdict
verdict_by_type(int f, const Buf *val)
{
	char		c = val->len ? val->p[0] : ' ';
	bool		numeric_field = is_token_field(f) || f == F_LATENCY || f == F_COST;

	if (f < 0 || (c == 'n' && strcmp(val->p, "null") == 0))
		return V_VALID;			/* unknown fields take anything; null is absent */
	if (c == '"')
		return numeric_field || f == F_METADATA ? V_INVALID : V_UNSURE;
	if (c == '-' || (c >= '0' && c <= '9'))
		return numeric_field ? V_UNSURE : V_INVALID;
	if (c == '{')
		return f == F_METADATA ? V_UNSURE : V_INVALID;
	return V_INVALID;			/* true, false, arrays */
}

/* Values of any type but the field's own, for type swaps. */
static void
swap_type(Rng *r, Event *ev, Field *fl)
{
	int			budget = 6;
	int			f = fl->known;

	buf_reset(&fl->val);
	fl->is_null = false;
	fl->doc = V_VALID;
	switch (rng_below(r, 6))
	{
		case 0:
			buf_str(&fl->val, "null");
			fl->is_null = true;
			break;
		case 1:
			buf_str(&fl->val, rng_chance(r, 500) ? "true" : "false");
			break;
		case 2:
			buf_str(&fl->val, PICK(r, ((const char *[]) {"0", "1", "42", "-1", "1.5", "1e3"})));
			break;
		case 3:
			buf_str(&fl->val, PICK(r, ((const char *[]) {"\"1\"", "\"\"", "\"abc\"", "\"2001-01-01T00:00:00Z\"",
															 "\"real\"", "\"null\"", "\"{}\""})));
			break;
		case 4:
			buf_str(&fl->val, PICK(r, ((const char *[]) {"[]", "[1]", "[\"a\"]", "[{}]", "[null]"})));
			break;
		default:
			random_object(r, &fl->val, 2, &budget);
	}
	/* null: absent (required ones fail in event_verdict) */
	fl->verdict = verdict_by_type(f, &fl->val);
	ev->cross = worse(ev->cross, V_UNSURE);
}

/* Numbers at and beyond the bounds, with their verdict per field class. */
typedef struct NumCase
{
	const char *text;
	Verdict		tokens;			/* 0 .. 10^15 integers */
	Verdict		latency;		/* 0 .. 2^31-1 integers */
	Verdict		cost;			/* 0 .. 10^9 numbers, at most 12 decimal places */
} NumCase;

static const NumCase num_cases[] = {
	{"0", V_VALID, V_VALID, V_VALID},
	{"-0", V_VALID, V_VALID, V_VALID},
	{"-0.0", V_VALID, V_VALID, V_VALID},
	{"0.000", V_VALID, V_VALID, V_VALID},
	{"-1", V_INVALID, V_INVALID, V_INVALID},
	{"-0.5", V_INVALID, V_INVALID, V_INVALID},
	{"-1e-400", V_INVALID, V_INVALID, V_INVALID},
	{"1e-400", V_INVALID, V_INVALID, V_INVALID},
	{"0.5", V_INVALID, V_INVALID, V_VALID},
	{"1.5", V_INVALID, V_INVALID, V_VALID},
	{"7.0", V_VALID, V_VALID, V_VALID},
	{"1E+2", V_VALID, V_VALID, V_VALID},
	{"1e2", V_VALID, V_VALID, V_VALID},
	{"12.5e1", V_VALID, V_VALID, V_VALID},
	{"1000000000000000", V_VALID, V_INVALID, V_INVALID},
	{"1e15", V_VALID, V_INVALID, V_INVALID},
	{"1000000000000000.0", V_VALID, V_INVALID, V_INVALID},
	{"1000000000000001", V_INVALID, V_INVALID, V_INVALID},
	{"1e16", V_INVALID, V_INVALID, V_INVALID},
	{"999999999999999.9", V_INVALID, V_INVALID, V_INVALID},
	{"2147483647", V_VALID, V_VALID, V_INVALID},
	{"2147483648", V_VALID, V_INVALID, V_INVALID},
	{"1000000000", V_VALID, V_VALID, V_VALID},
	{"1e9", V_VALID, V_VALID, V_VALID},
	{"1000000000.0000000001", V_INVALID, V_INVALID, V_INVALID},
	{"1000000000.000000000", V_VALID, V_VALID, V_VALID},
	{"9223372036854775807", V_INVALID, V_INVALID, V_INVALID},
	{"9223372036854775808", V_INVALID, V_INVALID, V_INVALID},
	{"-9223372036854775808", V_INVALID, V_INVALID, V_INVALID},
	{"-9223372036854775809", V_INVALID, V_INVALID, V_INVALID},
	{"18446744073709551615", V_INVALID, V_INVALID, V_INVALID},
	{"18446744073709551616", V_INVALID, V_INVALID, V_INVALID},
	{"99999999999999999999999999999999999999", V_INVALID, V_INVALID, V_INVALID},
	{"1e308", V_INVALID, V_INVALID, V_INVALID},
	{"-1e308", V_INVALID, V_INVALID, V_INVALID},
	{"1.7976931348623157e308", V_INVALID, V_INVALID, V_INVALID},
	{"1e309", V_INVALID, V_INVALID, V_INVALID},
	{"4.9e-324", V_INVALID, V_INVALID, V_INVALID},
	{"123.456789012345678901234567890", V_INVALID, V_INVALID, V_INVALID},
	{"123.4567890123456", V_INVALID, V_INVALID, V_INVALID},
	{"123.456789012345", V_INVALID, V_INVALID, V_VALID},
	{"0.000000000001", V_INVALID, V_INVALID, V_VALID},
	{"0.0000000000001", V_INVALID, V_INVALID, V_INVALID},
	{"1e-12", V_INVALID, V_INVALID, V_VALID},
	{"1e-13", V_INVALID, V_INVALID, V_INVALID},
	{"0.500000000000000000000", V_INVALID, V_INVALID, V_VALID},
	{"0.1e1", V_VALID, V_VALID, V_VALID},
	{"100e-2", V_VALID, V_VALID, V_VALID},
	{"1e-1000", V_INVALID, V_INVALID, V_INVALID},
	{"1e1000", V_INVALID, V_INVALID, V_INVALID},
	{"1e100000", V_UNSURE, V_UNSURE, V_UNSURE},
	{"1e-100000", V_UNSURE, V_UNSURE, V_UNSURE},
};

static void
numeric_extreme(Rng *r, Event *ev, Field *fl)
{
	const NumCase *nc = &num_cases[rng_below(r, sizeof(num_cases) / sizeof(num_cases[0]))];
	int			f = fl->known;

	buf_set(&fl->val, nc->text);
	fl->is_null = false;
	/* beyond numeric's range anywhere in a jsonb document: 22003 either way */
	fl->doc = strstr(nc->text, "e100000") || strstr(nc->text, "e-100000") ? V_UNSURE : V_VALID;
	if (is_token_field(f))
		fl->verdict = nc->tokens;
	else if (f == F_LATENCY)
		fl->verdict = nc->latency;
	else if (f == F_COST)
		fl->verdict = nc->cost;
	else
		fl->verdict = f < 0 ? V_VALID : V_INVALID;
	/* a different token count may break cached <= input: let it be */
	if (is_token_field(f))
		ev->cross = worse(ev->cross, V_UNSURE);
}

/* Strings at, just beyond and far beyond the field's character limit. */
static void
string_length(Rng *r, Field *fl)
{
	int			f = fl->known;
	int			max = f >= 0 && is_string_field(f) ? max_chars[f] : 128;
	int64_t		n;
	Buf			raw = {0};

	switch (rng_below(r, 6))
	{
		case 0:
			n = max;
			break;
		case 1:
			n = max + 1;
			break;
		case 2:
			n = 0;
			break;
		case 3:
			n = max + (int64_t) rng_range(r, 2, 5000);
			break;
		case 4:
			n = (int64_t) rng_range(r, 100000, 250000); /* up to ~1 MB */
			break;
		default:
			n = rng_range(r, 1, max);
	}
	random_text(r, &raw, n, rng_chance(r, 500) ? ALPHA_UNICODE : ALPHA_ASCII);
	buf_reset(&fl->val);
	json_quote(r, &fl->val, raw.p, raw.len);
	fl->is_null = false;
	fl->doc = V_VALID;
	if (f < 0)
		fl->verdict = V_VALID;
	else if (!is_string_field(f))
		fl->verdict = (f == F_STATUS || f == F_DATA_MODE || f == F_ENVIRONMENT || f == F_TIMESTAMP)
			? (n == 0 ? V_UNSURE : V_INVALID) : V_INVALID;
	else if (n == 0)
	{
		/* an empty optional string means absent */
		fl->verdict = is_required(f) ? V_INVALID : V_VALID;
		fl->is_null = !is_required(f);
	}
	else
		fl->verdict = n <= max ? V_VALID : V_INVALID;
	buf_free(&raw);
}

static void
bad_enum(Rng *r, Field *fl)
{
	static const char *const bad[] = {"\"Real\"", "\"prodd\"", "\"PROD\"", "\" real\"", "\"real \"",
		"\"succes\"", "\"Success\"", "\"errors\"", "\"demo\\u0000\"", "\"d\\u00e9mo\"", "\"stagin\"",
	"\"reaL\"", "\"t\\u0065st\"", "\"\\u0070rod\""};
	const char *v = PICK(r, bad);
	int			f = fl->known;

	buf_set(&fl->val, v);
	fl->is_null = false;
	fl->doc = V_VALID;
	if (strstr(v, "\\u0000"))
		fl->verdict = fl->doc = V_INVALID;	/* jsonb refuses it anywhere */
	else if (f < 0 || is_string_field(f))
		fl->verdict = V_VALID;	/* short, non-empty strings */
	else if (f == F_DATA_MODE)
		fl->verdict = strcmp(v, "\"t\\u0065st\"") == 0 ? V_VALID : V_INVALID;	/* "test" */
	else if (f == F_ENVIRONMENT)
		fl->verdict = strcmp(v, "\"\\u0070rod\"") == 0 ? V_VALID : V_INVALID; /* "prod" */
	else
		fl->verdict = V_INVALID;
}

/* Timestamps out of range, malformed, or at the edges. */
static void
bad_timestamp(Rng *r, const Ctx *ctx, Field *fl)
{
	static const char *const garbage[] = {
		"\"\"", "\"now\"", "\"2001-02-07\"", "\"2001-02-07T12:34:56\"", "\"2001-02-07 12:34:56\"",
		"\"2001-13-01T00:00:00Z\"", "\"2001-02-30T00:00:00Z\"", "\"2025-02-29T00:00:00Z\"",
		"\"2001-01-01T24:00:00Z\"", "\"2001-01-01T23:59:60Z\"", "\"2001-01-01T23:60:00Z\"",
		"\"0000-01-01T00:00:00Z\"", "\"9999-12-31T23:59:59Z\"", "\"294277-01-01T00:00:00Z\"",
		"\"-4713-01-01T00:00:00Z\"", "\"2001-01-01T00:00:00+16:00\"", "\"2001-01-01T00:00:00+15:60\"",
		"\"2001-01-01T00:00:00+1\"", "\"2001-01-01T00:00:00.Z\"", "\"2001-01-01T00:00:00Z \"",
		"\" 2026-01-01T00:00:00Z\"", "\"2001-1-1T0:0:0Z\"", "\"20260101T000000Z\"",
		"\"2001-01-01T00:00:00UTC\"", "\"2001-01-01T00:00:00 Z\"", "\"1970-01-01T00:00:00Z\"",
		"\"2001-01-01T00:00:00.1234567890123456789012345Z\"", "\"infinity\"", "\"-infinity\"",
		"\"epoch\"", "\"2001-01-01T00:00:00\\u0000Z\"", "1735689600", "\"\\u0032001-01-01T00:00:00Z\"",
		"\"2001-01-01T00:00:00+00:00:00\"", "\"2001-01-01T00:00:00z\"", "\"2001-01-01t00:00Z\"",
	};
	time_t		t;
	struct tm	tm;
	char		s[80];

	fl->is_null = false;
	fl->doc = V_VALID;
	switch (rng_below(r, 4))
	{
		case 0:
			t = ctx->now - (time_t) rng_range(r, 31 * 86400, 3650LL * 86400);	/* too old */
			fl->verdict = V_INVALID;
			break;
		case 1:
			t = ctx->now + (time_t) rng_range(r, 10 * 60, 3650LL * 86400);	/* too far ahead */
			fl->verdict = V_INVALID;
			break;
		case 2:
			/* near an edge of the window: either outcome is right */
			t = rng_chance(r, 500) ? ctx->now - 30 * 86400 + (time_t) rng_range(r, -90, 90)
				: ctx->now + 300 + (time_t) rng_range(r, -90, 90);
			fl->verdict = V_UNSURE;
			break;
		default:
			buf_set(&fl->val, PICK(r, garbage));
			/* the epoch and the two far-future ones are out of range anyway */
			fl->verdict = fl->val.p[0] == '"' && fl->val.len == 2 ? V_UNSURE : V_INVALID;
			if (strstr(fl->val.p, "\\u0032001"))
				fl->verdict = V_UNSURE;	/* \u0032 is "2": a valid timestamp text, too old */
			if (fl->known != F_TIMESTAMP)
				fl->verdict = fl->known < 0 ? V_VALID : V_UNSURE;
			if (strstr(fl->val.p, "\\u0000"))
				fl->verdict = fl->doc = V_INVALID;
			return;
	}
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "\"%Y-%m-%dT%H:%M:%SZ\"", &tm);
	buf_set(&fl->val, s);
	if (fl->known != F_TIMESTAMP)
		fl->verdict = fl->known < 0 ? V_VALID : (is_string_field(fl->known) ? V_VALID : V_INVALID);
}

/*
 * Metadata that is too deep, too big, an array, or has 64-bit edge cases.
 * The event itself is level 1, so metadata may hold 63 levels.
 */
static void
bad_metadata(Rng *r, Field *fl)
{
	fl->is_null = false;
	fl->doc = V_VALID;
	buf_reset(&fl->val);
	switch (rng_below(r, 8))
	{
		case 0:
			{
				int			levels = (int) rng_range(r, 62, 66);	/* around the limit */

				buf_str(&fl->val, "{\"d\":");
				nested(r, &fl->val, levels - 1, false);
				buf_char(&fl->val, '}');
				fl->verdict = levels <= 63 ? V_VALID : V_INVALID;
			}
			break;
		case 1:
			{
				/* far too deep: refused, by the validator or by the parsers */
				int			levels = (int) rng_range(r, 100, 20000);

				buf_str(&fl->val, "{\"d\":");
				nested(r, &fl->val, levels, rng_chance(r, 300));
				buf_char(&fl->val, '}');
				fl->verdict = V_INVALID;
			}
			break;
		case 2:
			{
				/* a big string: under, near and over 8192 bytes as jsonb */
				int64_t		n = PICK(r, ((const int64_t[]) {1000, 8000, 8150, 8200, 9000, 100000, 1000000}));
				Buf			raw = {0};

				random_text(r, &raw, n, ALPHA_IDENT);
				buf_str(&fl->val, "{\"blob\":");
				json_quote(r, &fl->val, raw.p, raw.len);
				buf_char(&fl->val, '}');
				fl->verdict = n <= 8000 ? V_VALID : (n >= 8200 ? V_INVALID : V_UNSURE);
				buf_free(&raw);
			}
			break;
		case 3:
			{
				/* many keys */
				int			n = (int) PICK(r, ((const int64_t[]) {10, 300, 1000, 20000, 60000}));

				buf_char(&fl->val, '{');
				for (int i = 0; i < n; i++)
					buf_fmt(&fl->val, "%s\"k%d\":%d", i ? "," : "", i, i);
				buf_char(&fl->val, '}');
				fl->verdict = n <= 300 ? V_VALID : V_INVALID;
			}
			break;
		case 4:
			buf_str(&fl->val, PICK(r, ((const char *[]) {"[]", "[{}]", "\"{}\"", "1", "true"})));
			fl->verdict = V_INVALID;
			break;
		case 5:
			/* integers beyond int64: jsonb keeps them, the NDJSON path refuses them */
			buf_str(&fl->val, PICK(r, ((const char *[]) {"{\"n\":9223372036854775808}",
													   "{\"n\":-9223372036854775809}",
													   "{\"n\":[18446744073709551616]}",
													   "{\"n\":{\"m\":123456789012345678901234567890}}"})));
			fl->verdict = V_UNSURE;
			break;
		case 6:
			buf_str(&fl->val, PICK(r, ((const char *[]) {"{\"n\":9223372036854775807}",
													   "{\"n\":-9223372036854775807}",
													   "{\"n\":18446744073709551614}",
													   "{\"\":{\"\":[]}}", "{}",
													   "{\"a\":1,\"a\":{\"b\":2}}",
													   "{\"\\u00e9\\ud83d\\ude00\":\"\\u2028\\u2029\"}"})));
			fl->verdict = V_VALID;
			break;
		default:
			{
				int			budget = 40;

				random_object(r, &fl->val, 4, &budget);
				fl->verdict = V_VALID;
			}
	}
	if (fl->known < 0)
		fl->verdict = V_UNSURE; /* deep ones meet the parsers' limits */
	else if (fl->known != F_METADATA)
		fl->verdict = verdict_by_type(fl->known, &fl->val);
}

/* Escapes jsonb refuses anywhere in a document: \u0000 and lone surrogates. */
static void
bad_escape(Rng *r, Field *fl)
{
	static const char *const bad[] = {"\"a\\u0000b\"", "\"\\u0000\"", "\"\\ud800\"", "\"x\\udc00\"",
	"\"\\ud83d\\u0041\"", "\"\\uDBFF\"", "\"\\ud800\\ud800\"", "\"\\udfff\\ud800\""};

	buf_set(&fl->val, PICK(r, bad));
	fl->is_null = false;
	fl->verdict = fl->doc = V_INVALID;	/* jsonb refuses these anywhere */
}

/* An unknown key: near-misses of real names, odd characters, escapes. */
static void
unknown_key(Rng *r, Buf *name)
{
	static const char *const names[] = {"InputTokens", "input_tokens", "externalRequestID", "model ", " model",
		"Model", "meta", "metaData", "timeStamp", "costUSD", "cost_usd", "", "x", "__proto__", "constructor",
	"tokens", "inputTokens2", "\xC3\xA9", "\xF0\x9F\x98\x80", "a\"b", "a\\b", "\x01", "dataMode\t"};

	buf_reset(name);
	if (rng_chance(r, 700))
		buf_str(name, PICK(r, names));
	else
		random_text(r, name, rng_range(r, 1, 40), ALPHA_ANY);
}

static bool
decodes_to_known(const Buf *raw)
{
	for (int k = 0; k < NUM_KNOWN_FIELDS; k++)
		if (strlen(field_names[k]) == raw->len && memcmp(field_names[k], raw->p, raw->len) == 0)
			return true;
	return false;
}

/* Adds an unknown field with any value; deep ones go beyond the limit. */
static void
add_unknown(Rng *r, Event *ev)
{
	Buf			name = {0};
	Field	   *fl;
	int			budget = 10;

	unknown_key(r, &name);
	if (decodes_to_known(&name))
		buf_char(&name, '_');
	fl = event_add(r, ev, -1, "");
	if (fl == NULL)
	{
		buf_free(&name);
		return;
	}
	buf_reset(&fl->key);
	json_quote(r, &fl->key, name.p, name.len);
	fl->verdict = V_VALID;
	switch (rng_below(r, 5))
	{
		case 0:
			{
				/* nested deeper than the documented 64 levels */
				int			levels = (int) PICK(r, ((const int64_t[]) {62, 63, 64, 65, 100, 127, 128, 129, 1000, 30000}));

				nested(r, &fl->val, levels, false);
				/* event (1) + levels: beyond 64 is a documented-limit question */
				if (levels + 1 > 64)
					fl->verdict = fl->doc = V_UNSURE;
			}
			break;
		case 1:
			{
				Buf			raw = {0};

				random_text(r, &raw, PICK(r, ((const int64_t[]) {0, 300, 7000, 70000})), ALPHA_UNICODE);
				json_quote(r, &fl->val, raw.p, raw.len);
				buf_free(&raw);
			}
			break;
		default:
			random_value(r, &fl->val, 3, &budget);
	}
	buf_free(&name);
}

/* Thousands of unknown keys on one event: each one is a warning. */
static void
flood_unknown(Rng *r, Event *ev)
{
	int			n = (int) PICK(r, ((const int64_t[]) {100, 2000, 20000}));

	for (int i = 0; i < n; i++)
		buf_fmt(&ev->extra, "%s\"u%d_%x\":%d", i ? "," : "", i, (unsigned) (rng_next(r) & 0xfff), i);
}

/* Breaks cached <= input or reasoning <= output, then freezes the event. */
static void
break_cross(Rng *r, Event *ev)
{
	bool		cached = rng_chance(r, 500);
	int			part = cached ? F_CACHED : F_REASONING;
	int			whole = cached ? F_INPUT : F_OUTPUT;
	int			iw = event_find_last(ev, whole);
	int			ip = event_find_last(ev, part);
	int64_t		w = rng_range(r, 0, 1000);
	int64_t		p = w + rng_range(r, 1, 1000);
	Field	   *fw,
			   *fp;

	if (iw < 0 && (fw = event_add(r, ev, whole, field_names[whole])) == NULL)
		return;
	fw = iw >= 0 ? &ev->f[iw] : &ev->f[ev->n - 1];
	buf_reset(&fw->val);
	buf_fmt(&fw->val, "%" PRId64, w);
	fw->verdict = fw->doc = V_VALID;
	fw->is_null = false;
	if (ip < 0 && event_add(r, ev, part, field_names[part]) == NULL)
		return;
	fp = ip >= 0 ? &ev->f[ip] : &ev->f[ev->n - 1];
	buf_reset(&fp->val);
	buf_fmt(&fp->val, "%" PRId64, p);
	fp->verdict = fp->doc = V_VALID;
	fp->is_null = false;
	/* only the last occurrences count: drop earlier ones of both fields */
	for (int i = 0; i < ev->n; i++)
		if ((ev->f[i].known == part || ev->f[i].known == whole) && &ev->f[i] != fw && &ev->f[i] != fp)
			ev->f[i].known = -2;	/* serialised, but ignored (earlier duplicate) */
	ev->cross = V_INVALID;
	ev->cross_locked = true;
}

/* Applies one random structural mutation; returns its name for stats. */
static const char *
mutate_event(Rng *r, const Ctx *ctx, Event *ev)
{
	int			which = (int) rng_below(r, 13);
	int			i;
	Field	   *fl;

	if (ev->cross_locked)
		which = 5;				/* only unknown fields after a cross-field break */
	if (ev->n == 0)
		which = 5;
	i = (int) rng_below(r, (uint64_t) (ev->n ? ev->n : 1));
	fl = &ev->f[i];
	switch (which)
	{
		case 0:
			swap_type(r, ev, fl);
			return "type_swap";
		case 1:
			{
				/* drop a field (its earlier duplicates, if any, come back) */
				Field		gone = ev->f[i];

				memmove(&ev->f[i], &ev->f[i + 1], sizeof(Field) * (size_t) (ev->n - i - 1));
				ev->n--;
				buf_free(&gone.key);
				buf_free(&gone.val);
				ev->cross = worse(ev->cross, V_UNSURE);
				return "drop_field";
			}
		case 2:
			{
				/* the same key again with another value: the last one wins */
				int			k = (int) rng_below(r, NUM_KNOWN_FIELDS);
				Field	   *dup = event_add(r, ev, k, field_names[k]);
				int64_t		ints[NUM_KNOWN_FIELDS] = {0};

				if (dup == NULL)
					return "dup_field";
				if (rng_chance(r, 500))
					set_valid(r, ctx, ev, dup, k, ints);	/* caps of 0: cached/reasoning 0 */
				else
					swap_type(r, ev, dup);
				/* move it before or after the original at random */
				if (rng_chance(r, 500))
				{
					Field		t = ev->f[ev->n - 1];
					int			at = (int) rng_below(r, (uint64_t) ev->n);

					memmove(&ev->f[at + 1], &ev->f[at], sizeof(Field) * (size_t) (ev->n - 1 - at));
					ev->f[at] = t;
				}
				ev->cross = worse(ev->cross, V_UNSURE);
				return "dup_field";
			}
		case 3:
			numeric_extreme(r, ev, fl);
			return "numeric_extreme";
		case 4:
			string_length(r, fl);
			return "string_length";
		case 5:
			add_unknown(r, ev);
			return "unknown_field";
		case 6:
			bad_enum(r, fl);
			return "bad_enum";
		case 7:
			bad_timestamp(r, ctx, fl);
			return "bad_timestamp";
		case 8:
			bad_metadata(r, fl);
			return "bad_metadata";
		case 9:
			bad_escape(r, fl);
			return "bad_escape";
		case 10:
			{
				/* point an existing value at another known key */
				int			k = (int) rng_below(r, NUM_KNOWN_FIELDS);

				buf_reset(&fl->key);
				buf_fmt(&fl->key, "\"%s\"", field_names[k]);
				fl->known = k;
				if (!fl->is_null)
					fl->verdict = V_UNSURE;
				ev->cross = worse(ev->cross, V_UNSURE);
				return "rename_field";
			}
		case 11:
			{
				/* a numeric field of an optional kind, sometimes missing-in-action */
				int			k = PICK(r, ((const int[]) {F_INPUT, F_OUTPUT, F_TOTAL, F_CACHED, F_REASONING, F_LATENCY, F_COST}));
				int			at = event_find_last(ev, k);
				Field	   *nf = at >= 0 ? &ev->f[at] : event_add(r, ev, k, field_names[k]);

				if (nf != NULL)
					numeric_extreme(r, ev, nf);
				return "numeric_extreme";
			}
		default:
			break_cross(r, ev);
			return "cross_field";
	}
}

/* ------------------------------------------------------------------------
 * Text mutations (the result is usually not JSON any more).
 */
static const char *
mutate_text(Rng *r, Buf *b, bool ndjson)
{
	size_t		at = b->len ? (size_t) rng_below(r, b->len) : 0;

	switch (rng_below(r, ndjson ? 11 : 9))
	{
		case 0:
			if (b->len > 1)
			{
				b->len = (size_t) rng_range(r, 0, (int64_t) b->len - 1);
				b->p[b->len] = '\0';
			}
			return "truncate";
		case 1:
			for (int n = (int) rng_range(r, 1, 8); n > 0 && b->len; n--)
				b->p[rng_below(r, b->len)] ^= (char) (1 << rng_below(r, 8));
			return "bit_flip";
		case 2:
			{
				static const char *const bad_utf8[] = {"\xFF", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
				"\x80", "\xE2\x82", "\xF8\x88\x80\x80\x80", "\xC3"};
				const char *s = PICK(r, bad_utf8);

				buf_insert(b, at, s, strlen(s));
				return "broken_utf8";
			}
		case 3:
			{
				/* a raw control character right after a quote: inside a string, often */
				char		c = (char) rng_range(r, 1, 0x1F);
				char	   *q = b->len ? memchr(b->p + at, '"', b->len - at) : NULL;

				if (ndjson && c == '\n')
					c = '\t';
				buf_insert(b, q ? (size_t) (q - b->p) + 1 : at, &c, 1);
				return "raw_control_char";
			}
		case 4:
			{
				static const char *const isms[] = {"NaN", "Infinity", "-Infinity", "'x'", "01", "1.", "-.5",
				"0x1F", "+1", ".5", "1e", "tru", "nul", "/*c*/", "//c", ",", ",]", ",}", "}", "]", "{", "["};
				const char *s = PICK(r, isms);
				char	   *colon = b->len ? memchr(b->p + at, ':', b->len - at) : NULL;

				buf_insert(b, colon ? (size_t) (colon - b->p) + 1 : at, s, strlen(s));
				return "json_c_ism";
			}
		case 5:
			{
				char		nul = '\0';

				buf_insert(b, at, &nul, 1);
				return "nul_byte";
			}
		case 6:
			{
				static const char *const odd_ws[] = {"\f", "\v", "\xC2\xA0", "\xE2\x80\x8B", "\xEF\xBB\xBF"};
				const char *s = PICK(r, odd_ws);

				buf_insert(b, at, s, strlen(s));
				return "odd_whitespace";
			}
		case 7:
			if (b->len > 2)
			{
				size_t		from = (size_t) rng_below(r, b->len),
							n = (size_t) rng_range(r, 1, (int64_t) (b->len - from));

				if (rng_chance(r, 500))
				{
					memmove(b->p + from, b->p + from + n, b->len - from - n);
					b->len -= n;
					b->p[b->len] = '\0';
				}
				else
				{
					Buf			slice = {0};

					if (n > 4096)
						n = 4096;
					buf_add(&slice, b->p + from, n);
					buf_insert(b, at, slice.p, slice.len);
					buf_free(&slice);
				}
			}
			return "splice";
		case 8:
			{
				static const char *const escapes[] = {"\\u0000", "\\ud800", "\\udfff", "\\u12", "\\x41", "\\"};
				const char *s = PICK(r, escapes);
				char	   *q = b->len ? memchr(b->p + at, '"', b->len - at) : NULL;

				buf_insert(b, q ? (size_t) (q - b->p) + 1 : at, s, strlen(s));
				return "bad_escape_text";
			}
		case 9:
			buf_insert(b, at, "\n", 1);	/* NDJSON: splits a line in two */
			return "line_split";
		default:
			{
				static const char *const lines[] = {"\nnull", "\n[]", "\n{}", "\n\"x\"", "\n1", "\n[{}]",
				"\n\r\n", "\n \t \r", "\n{\"a\":1}", "\n{\"externalRequestId\":\"x\"}"};
				const char *s = PICK(r, lines);

				buf_str(b, s);
				return "odd_line";
			}
	}
}

/* ------------------------------------------------------------------------
 * Cases.
 */
typedef enum Path
{
	PATH_JSONB,
	PATH_NDJSON
} Path;

typedef enum Kind
{
	KIND_CLEAN,					/* valid events, exact counts checked */
	KIND_DUP,					/* an earlier clean case again: all duplicates */
	KIND_MUTATED,				/* clean events, then structural mutations */
	KIND_TEXT,					/* ... and then text mutations */
	KIND_SPECIAL,				/* hand-shaped edge cases */
	NUM_KINDS
} Kind;

static const char *const kind_names[NUM_KINDS] = {"clean", "dup", "mutated", "text", "special"};

typedef struct Case
{
	long		no;
	Kind		kind;
	Path		path;
	Buf			payload;
	Verdict		verdict;		/* of the whole call */
	int			nevents;		/* events sent (clean: with duplicates inside) */
	int			expect_new;		/* clean: events that must be stored */
	int			expect_dups;	/* clean: duplicates inside the call */
	long		dup_of;			/* KIND_DUP: the clean case resent */
	bool		exact_counts;	/* expect_new/expect_dups must match the response */
	bool		single;			/* jsonb path, one object (not an array) */
	const char *what;			/* short description for reports */
	const char *expect_sqlstate;	/* the exact refusal, when it is known */
	const char *gap_sqlstate;	/* ... or this one, a known gap */
	const char *gap_name;
	Event	   *events;			/* clean: for read-back checks */
	int			nev;
} Case;

static Kind
pick_kind(Rng *r)
{
	int			x = (int) rng_below(r, 1000);

	if (x < 200)
		return KIND_CLEAN;
	if (x < 240)
		return KIND_DUP;
	if (x < 710)
		return KIND_MUTATED;
	if (x < 850)
		return KIND_TEXT;
	return KIND_SPECIAL;
}

/* The kind and path of case "no", as its own stream decides. */
static void
case_kind(uint64_t seed, long no, Kind *kind, Path *path)
{
	Rng			r;

	rng_seed(&r, seed, (uint64_t) no);
	*kind = pick_kind(&r);
	*path = rng_chance(&r, 500) ? PATH_JSONB : PATH_NDJSON;
}

/* Batch size: mostly small, sometimes at the limit or one beyond. */
static int
batch_size(Rng *r, int max_batch, bool allow_huge)
{
	if (allow_huge && rng_chance(r, 4))
		return max_batch - (int) rng_below(r, 2);	/* max or max - 1 */
	return (int) rng_range(r, 0, 1) + (int) rng_small(r, 40);
}

/* Joins serialised events into the payload: object, array, or lines. */
static void
assemble(Rng *r, Case *c, Event *evs, int n, bool as_array)
{
	bool		crlf = rng_chance(r, 200);
	bool		blanks = rng_chance(r, 200);

	buf_reset(&c->payload);
	if (c->path == PATH_JSONB)
	{
		if (!as_array)
			event_serialize(r, &evs[0], &c->payload, false);
		else
		{
			buf_char(&c->payload, '[');
			for (int i = 0; i < n; i++)
			{
				if (i > 0)
					buf_str(&c->payload, rng_chance(r, 100) ? ",\n" : ",");
				event_serialize(r, &evs[i], &c->payload, false);
			}
			buf_char(&c->payload, ']');
		}
		return;
	}
	for (int i = 0; i < n; i++)
	{
		if (blanks && rng_chance(r, 300))
			buf_str(&c->payload, PICK(r, ((const char *[]) {"\n", " \n", "\t\r\n", "\r\n"})));
		if (rng_chance(r, 30))
			buf_str(&c->payload, PICK(r, ((const char *[]) {" ", "\t", "  \t"})));
		event_serialize(r, &evs[i], &c->payload, true);
		if (rng_chance(r, 30))
			buf_str(&c->payload, PICK(r, ((const char *[]) {" ", "\t", "\r", " \t "})));
		if (i + 1 < n || rng_chance(r, 500))
			buf_str(&c->payload, crlf ? "\r\n" : "\n");
	}
}

static void
case_free_events(Case *c)
{
	for (int i = 0; i < c->nev; i++)
		event_free(&c->events[i]);
	free(c->events);
	c->events = NULL;
	c->nev = 0;
}

/* Clean case: valid events, sometimes with duplicate ids inside the call. */
static void
gen_clean(Rng *r, const Ctx *ctx, Case *c)
{
	bool		as_array = c->path == PATH_NDJSON || rng_chance(r, 450);
	int			n = as_array ? batch_size(r, ctx->max_batch, true) : 1;
	Event	   *evs = xmalloc(sizeof(Event) * (size_t) (n ? n : 1));
	int			dups = 0;

	for (int i = 0; i < n; i++)
	{
		clean_event(r, ctx, i, &evs[i], n > 1000);
		if (i > 0 && rng_chance(r, 40))
		{
			/* the id of an earlier event: the first write wins */
			int			j = (int) rng_below(r, (uint64_t) i);
			int			at = event_find_last(&evs[i], F_ID);

			buf_reset(&evs[i].id);
			buf_add(&evs[i].id, evs[j].id.p, evs[j].id.len);
			buf_reset(&evs[i].f[at].val);
			json_quote(r, &evs[i].f[at].val, evs[j].id.p, evs[j].id.len);
			evs[i].exp.set[F_ID] = false;	/* not compared: not stored */
			dups++;
		}
	}
	c->single = !as_array;
	c->nevents = n;
	c->exact_counts = true;
	c->expect_dups = dups;
	c->expect_new = n - dups;
	c->verdict = V_VALID;
	assemble(r, c, evs, n, as_array);
	c->events = evs;
	c->nev = n;
	c->what = as_array ? (c->path == PATH_JSONB ? "clean batch" : "clean ndjson") : "clean single";
}

/* Mutated case: clean events, then 1..4 structural mutations on some. */
static void
gen_mutated(Rng *r, const Ctx *ctx, Case *c, Buf *notes)
{
	bool		as_array = c->path == PATH_NDJSON || rng_chance(r, 400);
	int			n = as_array ? (int) rng_range(r, 1, 1) + (int) rng_small(r, 12) : 1;
	Event	   *evs = xmalloc(sizeof(Event) * (size_t) n);
	Verdict		v = V_VALID;
	bool		any_invalid = false;

	for (int i = 0; i < n; i++)
		clean_event(r, ctx, i, &evs[i], false);
	for (int m = (int) rng_range(r, 1, 4); m > 0; m--)
	{
		Event	   *ev = &evs[rng_below(r, (uint64_t) n)];
		const char *what = mutate_event(r, ctx, ev);

		if (notes->len < 200)
			buf_fmt(notes, "%s%s", notes->len ? "," : "", what);
	}
	if (rng_chance(r, 20))
		flood_unknown(r, &evs[rng_below(r, (uint64_t) n)]);
	for (int i = 0; i < n; i++)
	{
		Verdict		ev = event_verdict(&evs[i]);

		if (ev == V_INVALID)
			any_invalid = true;
		v = worse(v, ev);
	}
	/* one invalid event fails the whole call; duplicates inside do not matter */
	c->verdict = any_invalid ? V_INVALID : v;
	c->single = !as_array;
	c->nevents = n;
	assemble(r, c, evs, n, as_array);
	for (int i = 0; i < n; i++)
		event_free(&evs[i]);
	free(evs);
}

/* Hand-shaped cases: roots that are not objects, limits, floods, garbage. */
static void
gen_special(Rng *r, const Ctx *ctx, Case *c)
{
	int			which = (int) rng_below(r, 11);

	buf_reset(&c->payload);
	c->verdict = V_UNSURE;
	switch (which)
	{
		case 0:
			{
				/* one event beyond the batch limit: 54000 before any parsing */
				int			n = ctx->max_batch + 1;

				if (!rng_chance(r, 50))
					n = (int) rng_range(r, ctx->max_batch + 1, ctx->max_batch + 3);
				if (c->path == PATH_JSONB)
					buf_char(&c->payload, '[');
				for (int i = 0; i < n; i++)
				{
					if (i > 0)
						buf_str(&c->payload, c->path == PATH_JSONB ? "," : "\n");
					buf_fmt(&c->payload, "{\"externalRequestId\":\"over-%ld-%d\",\"provider\":\"p\","
							"\"model\":\"m\",\"inputTokens\":1,\"outputTokens\":1}", c->no, i);
				}
				if (c->path == PATH_JSONB)
					buf_char(&c->payload, ']');
				else if (rng_chance(r, 500))
					buf_str(&c->payload, "\n\n \r\n");	/* blank lines do not count */
				c->verdict = V_INVALID;
				c->expect_sqlstate = "54000";
				c->what = "batch over the limit";
			}
			break;
		case 1:
			buf_str(&c->payload, PICK(r, ((const char *[]) {"null", "1", "\"x\"", "true", "[1]", "[[]]", "[null]",
															   "[{}, 1]", "[[{}]]", "{}", "[{}]", "[]", "", " ", "\n",
															   "\r\n\r\n", "[\"{}\"]", "{\"a\":{}}"})));
			c->verdict = V_UNSURE;
			c->what = "odd root";
			break;
		case 2:
			{
				/* random bytes, sometimes valid UTF-8 noise */
				int64_t		n = rng_range(r, 0, 3000);

				if (rng_chance(r, 500))
					for (int64_t i = 0; i < n; i++)
						buf_char(&c->payload, (char) rng_below(r, 256));
				else
					random_text(r, &c->payload, n, ALPHA_ANY);
				c->what = "garbage";
			}
			break;
		case 3:
			{
				/* the whole document nested very deep (no event inside) */
				int			levels = (int) PICK(r, ((const int64_t[]) {64, 65, 128, 129, 5000, 100000}));

				if (c->path == PATH_JSONB && rng_chance(r, 500))
				{
					buf_char(&c->payload, '[');
					nested(r, &c->payload, levels, true);
					buf_char(&c->payload, ']');
				}
				else
					nested(r, &c->payload, levels, true);
				c->verdict = V_INVALID;	/* no valid event in there */
				c->what = "deep document";
			}
			break;
		case 4:
			{
				/* one valid event with a huge unknown string or key count */
				Event		ev;

				clean_event(r, ctx, 0, &ev, false);
				if (rng_chance(r, 500))
					flood_unknown(r, &ev);
				else
				{
					Buf			raw = {0};

					random_text(r, &raw, rng_range(r, 100000, 300000), ALPHA_UNICODE);
					buf_str(&ev.extra, "\"huge\":");
					json_quote(r, &ev.extra, raw.p, raw.len);
					buf_free(&raw);
				}
				assemble(r, c, &ev, 1, c->path == PATH_NDJSON);
				c->verdict = V_VALID;
				c->single = c->path == PATH_JSONB;
				c->what = "huge unknown content";
				event_free(&ev);
			}
			break;
		case 5:
			{
				/* many tiny lines, blank lines among them */
				int			n = (int) rng_range(r, 1, 400);

				for (int i = 0; i < n; i++)
					buf_str(&c->payload, PICK(r, ((const char *[]) {"\n", "\r\n", " \n", "{}\n", "[]\n", "1\n"})));
				c->what = "tiny lines";
				c->verdict = V_UNSURE;
			}
			break;
		case 6:
			{
				/* metadata exactly at 63 levels (valid) or 64 (54000) */
				Event		ev;
				int			at;
				bool		ok = rng_chance(r, 500);

				clean_event(r, ctx, 0, &ev, false);
				at = event_find_last(&ev, F_METADATA);
				if (at < 0)
				{
					event_add(r, &ev, F_METADATA, "metadata");
					at = ev.n - 1;
				}
				buf_reset(&ev.f[at].val);
				buf_str(&ev.f[at].val, "{\"d\":");
				nested(r, &ev.f[at].val, ok ? 62 : 63, false);
				buf_char(&ev.f[at].val, '}');
				ev.f[at].verdict = ok ? V_VALID : V_INVALID;
				ev.f[at].is_null = false;
				c->verdict = event_verdict(&ev);
				assemble(r, c, &ev, 1, c->path == PATH_NDJSON || rng_chance(r, 300));
				c->single = c->payload.p[0] == '{';
				c->what = ok ? "metadata at 63 levels" : "metadata at 64 levels";
				if (!ok && c->verdict == V_INVALID)
					c->expect_sqlstate = "54000";
				event_free(&ev);
			}
			break;
		case 9:
			{
				/*
				 * A valid event made non-JSON in a way json-c lets through:
				 * jsonb must refuse it (22P02); the NDJSON path accepting it
				 * is a known gap, counted by check_accepted_text().
				 */
				Event		ev;
				int			at;
				bool		ctl = rng_chance(r, 500);

				clean_event(r, ctx, 0, &ev, false);
				at = event_find_last(&ev, ctl ? F_MODEL : F_LATENCY);
				if (at < 0)
				{
					event_add(r, &ev, F_LATENCY, field_names[F_LATENCY]);
					at = ev.n - 1;
				}
				buf_reset(&ev.f[at].val);
				if (ctl)
					buf_fmt(&ev.f[at].val, "\"gpt%c4o\"", (char) PICK(r, ((const char[]) {'\t', 0x01, 0x1f, '\b'})));
				else
					buf_str(&ev.f[at].val, PICK(r, ((const char *[]) {"0", "01", "007", "1.", "-0.", "0.e1", "-.0"})));
				ev.f[at].verdict = V_VALID;
				assemble(r, c, &ev, 1, c->path == PATH_NDJSON);
				if (c->path == PATH_JSONB)
				{
					c->single = true;
					c->verdict = strcmp(ev.f[at].val.p, "0") == 0 ? V_VALID : V_INVALID;
					if (c->verdict == V_INVALID)
						c->expect_sqlstate = "22P02";
				}
				c->what = ctl ? "raw control character in a string" : "lenient number";
				event_free(&ev);
			}
			break;
		case 10:
			{
				/* a line that is valid JSON but not an object: 22023 */
				const char *v = PICK(r, ((const char *[]) {"null", "true", "1", "\"x\"", "[]", "[{}]"}));

				buf_str(&c->payload, v);
				c->verdict = V_INVALID;
				c->expect_sqlstate = "22023";
				if (c->path == PATH_NDJSON && strcmp(v, "null") == 0)
				{
					c->gap_sqlstate = "22P02";
					c->gap_name = "ndjson reports a bare null line as broken JSON (22P02, not 22023)";
				}
				if (c->path == PATH_JSONB && v[0] == '[')
				{
					c->verdict = strcmp(v, "[]") == 0 ? V_VALID : V_INVALID;
					c->expect_sqlstate = c->verdict == V_VALID ? NULL : "22023";
				}
				c->what = "valid JSON, not an object";
			}
			break;
		case 7:
			{
				/* an event with every field missing but one, or empty */
				int			k = (int) rng_below(r, NUM_KNOWN_FIELDS);

				buf_fmt(&c->payload, "{\"%s\":1}", field_names[k]);
				c->verdict = V_INVALID;
				c->expect_sqlstate = "22023";
				c->what = "lone field";
			}
			break;
		default:
			{
				/* the same valid event many times: one stored, the rest duplicates */
				Event		ev;
				int			n = (int) rng_range(r, 2, 50);
				Event	   *evs = xmalloc(sizeof(Event) * (size_t) n);

				clean_event(r, ctx, 0, &ev, false);
				for (int i = 0; i < n; i++)
					evs[i] = ev;	/* shallow: serialised only */
				assemble(r, c, evs, n, true);
				c->verdict = V_VALID;
				c->expect_new = 1;
				c->expect_dups = n - 1;
				c->nevents = n;
				c->what = "same event repeated";
				free(evs);
				event_free(&ev);
				c->exact_counts = true;
			}
	}
}

/* Builds case "no" from its own stream. */
static void
gen_case(const Ctx *base, long no, Case *c, Buf *notes)
{
	Rng			r;
	Ctx			ctx = *base;
	Kind		kind;
	Path		path;

	ctx.case_no = no;
	rng_seed(&r, base->seed, (uint64_t) no);
	kind = pick_kind(&r);
	path = rng_chance(&r, 500) ? PATH_JSONB : PATH_NDJSON;
	memset(c, 0, sizeof(*c));
	c->no = no;
	c->kind = kind;
	c->path = path;
	c->dup_of = -1;
	buf_reset(notes);
	switch (kind)
	{
		case KIND_CLEAN:
			gen_clean(&r, &ctx, c);
			break;
		case KIND_DUP:
			{
				/* resend the nearest earlier clean case (regenerated, same bytes) */
				long		k = no - 1 - (long) rng_below(&r, 40);

				for (; k >= 0; k--)
				{
					Kind		kk;
					Path		pk;

					case_kind(base->seed, k, &kk, &pk);
					if (kk == KIND_CLEAN)
						break;
				}
				if (k < 0)
				{
					c->kind = KIND_CLEAN;
					gen_clean(&r, &ctx, c);
					break;
				}
				gen_case(base, k, c, notes);
				c->no = no;
				c->kind = KIND_DUP;
				c->dup_of = k;
				c->what = "resent clean case";
				buf_reset(notes);
				buf_fmt(notes, "resend of case %ld", k);
			}
			break;
		case KIND_MUTATED:
			gen_mutated(&r, &ctx, c, notes);
			c->what = "mutated";
			break;
		case KIND_TEXT:
			{
				int			m = (int) rng_range(&r, 1, 3);

				gen_mutated(&r, &ctx, c, notes);
				/* keep broken JSON a minority on the jsonb path */
				if (path == PATH_JSONB && !rng_chance(&r, 350))
					m = 0;
				for (int i = 0; i < m; i++)
				{
					const char *what = mutate_text(&r, &c->payload, path == PATH_NDJSON);

					buf_fmt(notes, "%s%s", notes->len ? "," : "", what);
				}
				if (m > 0)
					c->verdict = V_UNSURE;
				c->what = m > 0 ? "text-mutated" : "mutated";
			}
			break;
		default:
			gen_special(&r, &ctx, c);
			break;
	}
}

/* ------------------------------------------------------------------------
 * Reading responses.
 */

/*
 * The text right after top-level key "key" in a JSON object text, or NULL.
 * Walks the text with string awareness, so a warning that mentions the key
 * cannot be mistaken for it.
 */
static const char *
top_level_value(const char *json, const char *key)
{
	size_t		klen = strlen(key);
	int			depth = 0;

	for (const char *p = json; *p; p++)
	{
		if (*p == '"')
		{
			const char *start = p + 1;

			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return NULL;
			if (depth == 1 && (size_t) (p - start) == klen && memcmp(start, key, klen) == 0)
			{
				const char *v = p + 1;

				while (*v == ' ')
					v++;
				if (*v != ':')
					continue;	/* a value that spells the key, not the key */
				for (v++; *v == ' '; v++)
					;
				return v;
			}
		}
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			depth--;
	}
	return NULL;
}

static long
top_level_long(const char *json, const char *key)
{
	const char *v = top_level_value(json, key);

	return v ? strtol(v, NULL, 10) : -1;
}

static int
top_level_bool(const char *json, const char *key)
{
	const char *v = top_level_value(json, key);

	if (v == NULL)
		return -1;
	return strncmp(v, "true", 4) == 0 ? 1 : (strncmp(v, "false", 5) == 0 ? 0 : -1);
}

/* ------------------------------------------------------------------------
 * Statistics and failures.
 */
#define MAX_STATES 64

typedef struct Counter
{
	char		name[128];
	long		n;
	char		example[160];
} Counter;

typedef struct Stats
{
	long		cases;
	long		by_path[2];
	long		by_kind[NUM_KINDS];
	long		calls_ok;
	long		accepted;		/* rows the responses said were stored */
	long		duplicates;
	long		rejected;
	Counter		sqlstates[MAX_STATES];
	int			nsqlstates;
	Counter		gaps[MAX_STATES];
	int			ngaps;
	Counter		diffs[MAX_STATES];
	int			ndiffs;
	long		diff_compared;
	long		readbacks;
	long		must_pass,
				must_fail;
	long		failures;
	double		slowest;
	long		slowest_case;
	size_t		bytes_sent;
	size_t		largest;
} Stats;

static void
count(Counter *tab, int *n, const char *name, const char *example)
{
	for (int i = 0; i < *n; i++)
		if (strncmp(tab[i].name, name, sizeof(tab[i].name) - 1) == 0)
		{
			tab[i].n++;
			return;
		}
	if (*n < MAX_STATES)
	{
		snprintf(tab[*n].name, sizeof(tab[*n].name), "%s", name);
		snprintf(tab[*n].example, sizeof(tab[*n].example), "%s", example ? example : "");
		tab[*n].n = 1;
		(*n)++;
	}
}

static int
counter_cmp(const void *a, const void *b)
{
	const Counter *x = a,
			   *y = b;

	return x->n < y->n ? 1 : (x->n > y->n ? -1 : strcmp(x->name, y->name));
}

typedef struct Options
{
	uint64_t	seed;
	long		cases;
	long		only;			/* -1: all */
	const char *outdir;
	const char *workspace;
	int			path_mask;		/* 1 jsonb, 2 ndjson */
	bool		strict;
	bool		verbose;
	bool		print_only;		/* --print: write the --only case to stdout */
	int			max_batch;		/* --print: opsmeter.max_batch_events to assume */
	int			diff_per_mille;
	int			readback_per_mille;
} Options;

static Options opt;
static Stats st;
static char workspace_id[32];	/* of the run's workspace */

/* Writes the case and why it failed; prints how to reproduce it. */
static void
report_failure(const Case *c, const char *why, const char *detail, const Buf *notes)
{
	char		path[1024];
	FILE	   *f;

	st.failures++;
	fprintf(stderr, "FAIL case %ld (%s, %s path, %s): %s\n", c->no, kind_names[c->kind],
			c->path == PATH_JSONB ? "jsonb" : "ndjson", c->what ? c->what : "", why);
	if (detail && *detail)
		fprintf(stderr, "     %s\n", detail);
	snprintf(path, sizeof(path), "%s/fuzz-fail-%" PRIu64 "-%ld.%s", opt.outdir, opt.seed, c->no,
			 c->path == PATH_JSONB ? "json" : "ndjson");
	f = fopen(path, "wb");
	if (f)
	{
		fwrite(c->payload.p, 1, c->payload.len, f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/fuzz-fail-%" PRIu64 "-%ld.txt", opt.outdir, opt.seed, c->no);
	f = fopen(path, "w");
	if (f)
	{
		fprintf(f, "seed %" PRIu64 " case %ld kind %s path %s (%s)\nmutations: %s\nfailure: %s\n%s\n"
				"reproduce: fuzz_ingest -s %" PRIu64 " --only %ld\n",
				opt.seed, c->no, kind_names[c->kind], c->path == PATH_JSONB ? "jsonb" : "ndjson",
				c->what ? c->what : "", notes && notes->p ? notes->p : "", why, detail ? detail : "",
				opt.seed, c->no);
		fclose(f);
	}
	fprintf(stderr, "     payload (%zu bytes) saved as %s/fuzz-fail-%" PRIu64 "-%ld.*; reproduce: "
			"fuzz_ingest -s %" PRIu64 " --only %ld\n", c->payload.len, opt.outdir, opt.seed, c->no,
			opt.seed, c->no);
}

/* A known gap: counted (and a failure only with --strict). */
static void
gap(const Case *c, const char *name, const Buf *notes)
{
	char		ex[64];

	snprintf(ex, sizeof(ex), "case %ld", c->no);
	count(st.gaps, &st.ngaps, name, ex);
	if (opt.strict)
		report_failure(c, name, "known gap (--strict)", notes);
}

/* ------------------------------------------------------------------------
 * Talking to the server.
 */
static PGconn *conn;

static double
now_sec(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static PGresult *
exec_ok(const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "fuzz_ingest: %s failed: %s", sql, PQerrorMessage(conn));
		exit(2);
	}
	return res;
}

/*
 * Sends one payload as a text parameter in binary format, so its exact
 * bytes (NUL and broken UTF-8 included) reach the server, which then
 * validates them as it validates any text.
 */
static PGresult *
send_payload(Path path, const Buf *payload)
{
	static const Oid types[1] = {25};	/* text */
	const char *values[1] = {payload->p ? payload->p : ""};
	int			lengths[1] = {(int) payload->len};
	int			formats[1] = {1};

	return PQexecParams(conn, path == PATH_JSONB ? "SELECT opsmeter_ingest($1::jsonb)"
						: "SELECT opsmeter_ingest_ndjson($1)",
						1, types, values, lengths, formats, 0);
}

/*
 * The nesting depth of the jsonb value the server builds from a payload
 * (containers counted, the outermost one as 1).  jsonb keeps only the
 * last of duplicate keys, so a deep value under a key given twice never
 * reaches the entry point: the depth of the text overstates what it saw.
 */
static int
server_jsonb_depth(const Buf *payload)
{
	static const Oid types[1] = {25};	/* text */
	const char *values[1] = {payload->p ? payload->p : ""};
	int			lengths[1] = {(int) payload->len};
	int			formats[1] = {1};
	PGresult   *res;
	int			depth;

	res = PQexecParams(conn,
					   "WITH RECURSIVE t(v, d) AS ("
					   " SELECT $1::jsonb, 1"
					   " UNION ALL"
					   " SELECT c.v, t.d + 1 FROM t CROSS JOIN LATERAL ("
					   "  SELECT e.value FROM jsonb_each(CASE WHEN jsonb_typeof(t.v) = 'object' THEN t.v END) e"
					   "  UNION ALL"
					   "  SELECT a.value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(t.v) = 'array' THEN t.v END) a) c(v)"
					   " WHERE jsonb_typeof(c.v) IN ('object', 'array'))"
					   " SELECT max(d) FROM t",
					   1, types, values, lengths, formats, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "fuzz_ingest: measuring the depth of an accepted payload failed: %s", PQerrorMessage(conn));
		exit(2);
	}
	depth = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return depth;
}

/* Did the server go away?  Then nothing else can be checked. */
static bool
connection_lost(PGresult *res)
{
	return PQstatus(conn) != CONNECTION_OK ||
		(PQresultStatus(res) == PGRES_FATAL_ERROR && PQresultErrorField(res, PG_DIAG_SQLSTATE) == NULL);
}

/* Outcome as a short text: "ok" or the SQLSTATE. */
static void
outcome_text(PGresult *res, char *out, size_t size)
{
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
		snprintf(out, size, "ok");
	else
	{
		const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		snprintf(out, size, "%s", s ? s : "lost");
	}
}

/* Lines of an NDJSON body as the server splits them (non-blank, trimmed). */
typedef void (*LineFn) (const char *line, size_t len, void *arg);

static void
for_each_line(const Buf *body, LineFn fn, void *arg)
{
	for (size_t start = 0; start < body->len;)
	{
		const char *nl = memchr(body->p + start, '\n', body->len - start);
		size_t		end = nl ? (size_t) (nl - body->p) : body->len;
		const char *line = body->p + start;
		size_t		len = end - start;
		bool		blank = true;

		start = end + 1;
		for (size_t i = 0; i < len; i++)
			if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
				blank = false;
		if (blank)
			continue;
		while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
			len--;
		fn(line, len, arg);
	}
}

typedef struct LineCheck
{
	int			deviations;		/* RFC_DEV_* over all lines */
	int			deepest;
	bool		bad_escape;
} LineCheck;

static void
check_one_line(const char *line, size_t len, void *arg)
{
	LineCheck  *lc = arg;
	RfcResult	r;
	int			dev = rfc8259_deviations(line, len, &r);

	lc->deviations |= dev;
	if (r.depth > lc->deepest)
		lc->deepest = r.depth;
	if (r.nul_escape || r.lone_surrogate)
		lc->bad_escape = true;
}

/*
 * What an entry point accepted must be JSON; known json-c leniencies and
 * nesting beyond the documented 64 levels are counted as gaps.
 */
static void
check_accepted_text(const Case *c, const Buf *notes)
{
	LineCheck	lc = {0};
	int			around;

	if (c->path == PATH_NDJSON)
		for_each_line(&c->payload, check_one_line, &lc);
	else
		check_one_line(c->payload.p, c->payload.len, &lc);
	if (lc.deviations & RFC_DEV_UNKNOWN)
		report_failure(c, "accepted a payload that is not JSON", NULL, notes);
	if (lc.bad_escape)
		report_failure(c, "accepted \\u0000 or a lone surrogate", NULL, notes);
	if (c->path == PATH_JSONB && lc.deviations != 0)
		report_failure(c, "the jsonb path accepted what RFC 8259 refuses", NULL, notes);
	if (lc.deviations & RFC_DEV_CONTROL_CHAR)
		gap(c, "ndjson accepts a raw control character inside a string", notes);
	if (lc.deviations & RFC_DEV_NUMBER_FORM)
		gap(c, "ndjson accepts numbers not in RFC 8259 form (01, 1., -.5)", notes);
	/* a batch array adds one level around its events */
	around = (c->path == PATH_JSONB && c->payload.len && !c->single && c->payload.p[0] == '[') ? 1 : 0;
	if (lc.deepest - around > 64 &&
		(c->path != PATH_JSONB || server_jsonb_depth(&c->payload) - around > 64))
		gap(c, c->path == PATH_JSONB ? "jsonb path accepts an event nested deeper than 64 levels"
			: "ndjson accepts an event nested deeper than 64 levels", notes);
}

/*
 * Reads one stored row back and compares it with what a clean event sent.
 * [sent_from, sent_to] is when the call ran (client clock, seconds): an
 * event without a timestamp is stored at the call's transaction start.
 */
static void
read_back(const Case *c, const Event *ev, const Buf *notes, double sent_from, double sent_to)
{
	static const char *sql =
		"SELECT provider = $2, model = $3, input_tokens::text = $4, output_tokens::text = $5,"
		" total_tokens::text = coalesce($6, total_tokens::text),"
		" cached_input_tokens::text = coalesce($7, '0'), reasoning_tokens::text = coalesce($8, '0'),"
		" latency_ms::text IS NOT DISTINCT FROM $9, is_error::text = coalesce($10, 'false'),"
		" error_code IS NOT DISTINCT FROM $11, prompt_version IS NOT DISTINCT FROM $12,"
		" endpoint_tag IS NOT DISTINCT FROM $13, user_id IS NOT DISTINCT FROM $14,"
		" tenant_id IS NOT DISTINCT FROM $15, data_mode::text = coalesce($16, 'real'),"
		" environment::text = coalesce($17, 'prod'),"
		" ($18::text IS NULL OR (cost_usd::text = trim_scale($18::numeric)::text AND pricing = 'caller')),"
		" ($19::text IS NULL OR ts = $19::timestamptz),"
		" metadata IS NOT DISTINCT FROM $20::jsonb"
		" FROM opsmeter.events WHERE workspace_id = $21::bigint AND external_request_id = $1"
	/*
	 * Events are indexed by (workspace, ts) only: look in a narrow window,
	 * the sent timestamp or else the seconds around the call.
	 */
		" AND ts BETWEEN coalesce($19::timestamptz, to_timestamp($22::float8))"
		" AND coalesce($19::timestamptz, to_timestamp($23::float8))";
	static const char *const labels[] = {"provider", "model", "input_tokens", "output_tokens",
		"total_tokens", "cached_input_tokens", "reasoning_tokens", "latency_ms", "is_error", "error_code",
		"prompt_version", "endpoint_tag", "user_id", "tenant_id", "data_mode", "environment", "cost_usd",
	"ts", "metadata"};
	static const int fields[] = {F_PROVIDER, F_MODEL, F_INPUT, F_OUTPUT, F_TOTAL, F_CACHED, F_REASONING,
		F_LATENCY, F_STATUS, F_ERROR_CODE, F_PROMPT_VERSION, F_ENDPOINT_TAG, F_USER_ID, F_TENANT_ID,
	F_DATA_MODE, F_ENVIRONMENT, F_COST, F_TIMESTAMP, F_METADATA};
	const char *values[23];
	char		from[32],
				to[32];
	PGresult   *res;
	Buf			detail = {0};

	values[0] = ev->id.p;
	for (int i = 0; i < 19; i++)
	{
		int			f = fields[i];

		/* absent or explicitly absent (null, "") compares as NULL */
		values[i + 1] = ev->exp.set[f] && ev->exp.s[f].len > 0 ? ev->exp.s[f].p : NULL;
	}
	values[20] = workspace_id;
	snprintf(from, sizeof(from), "%.6f", sent_from - 5.0);
	snprintf(to, sizeof(to), "%.6f", sent_to + 5.0);
	values[21] = from;
	values[22] = to;
	res = PQexecParams(conn, sql, 23, NULL, values, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 0 && values[18] == NULL)
	{
		/* not in the window (a server on another clock?): look everywhere */
		PQclear(res);
		values[21] = "-infinity";
		values[22] = "infinity";
		res = PQexecParams(conn, sql, 23, NULL, values, NULL, NULL, 0);
	}
	st.readbacks++;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		report_failure(c, "reading a stored row back failed", PQresultErrorMessage(res), notes);
	else if (PQntuples(res) != 1)
		report_failure(c, "an accepted clean event has no row", ev->id.p, notes);
	else
		for (int i = 0; i < 19; i++)
			if (strcmp(PQgetvalue(res, 0, i), "t") != 0)
			{
				buf_fmt(&detail, "%s%s (sent %s)", detail.len ? "; " : "", labels[i],
						values[i + 1] ? values[i + 1] : "nothing");
			}
	if (detail.len)
		report_failure(c, "a stored row differs from the event sent", detail.p, notes);
	buf_free(&detail);
	PQclear(res);
}

/*
 * The same single object through the NDJSON path, in a transaction that is
 * rolled back: both paths share one validator, so their verdicts should
 * agree; disagreements are counted (README documents some).
 */
static void
differential(const Case *c, PGresult *jsonb_res)
{
	PGresult   *res;
	char		a[16],
				b[16],
				pair[64];

	if (memchr(c->payload.p, '\n', c->payload.len) != NULL)
		return;
	PQclear(exec_ok("BEGIN"));
	res = send_payload(PATH_NDJSON, &c->payload);
	if (connection_lost(res))
	{
		report_failure(c, "connection lost (server crash?) in the NDJSON differential", PQerrorMessage(conn), NULL);
		return;
	}
	outcome_text(jsonb_res, a, sizeof(a));
	outcome_text(res, b, sizeof(b));
	PQclear(res);
	PQclear(exec_ok("ROLLBACK"));
	st.diff_compared++;
	if (strcmp(a, b) != 0)
	{
		char		ex[64];

		snprintf(pair, sizeof(pair), "jsonb %s / ndjson %s", a, b);
		snprintf(ex, sizeof(ex), "case %ld", c->no);
		count(st.diffs, &st.ndiffs, pair, ex);
	}
}

/* Runs one case and applies every per-case rule. */
static void
run_case(Case *c, const Buf *notes, Rng *side)
{
	double		t0 = now_sec(),
				dt;
	PGresult   *res = send_payload(c->path, &c->payload);
	const char *sqlstate;

	dt = now_sec() - t0;
	if (dt > st.slowest)
	{
		st.slowest = dt;
		st.slowest_case = c->no;
	}
	st.cases++;
	st.by_path[c->path]++;
	st.by_kind[c->kind]++;
	st.bytes_sent += c->payload.len;
	if (c->payload.len > st.largest)
		st.largest = c->payload.len;
	if (opt.verbose)
		fprintf(stderr, "case %ld %s %s %zu bytes: %s %.3fs\n", c->no, kind_names[c->kind],
				c->path == PATH_JSONB ? "jsonb" : "ndjson", c->payload.len,
				PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0) : PQresultErrorMessage(res), dt);

	if (connection_lost(res))
	{
		report_failure(c, "connection lost (server crash?)", PQerrorMessage(conn), notes);
		PQclear(res);
		return;
	}
	if (c->verdict == V_VALID)
		st.must_pass++;
	else if (c->verdict == V_INVALID)
		st.must_fail++;

	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		const char *resp = PQgetvalue(res, 0, 0);
		long		accepted,
					dups;

		st.calls_ok++;
		if (top_level_bool(resp, "ok") != 1)
			report_failure(c, "response without \"ok\": true", resp, notes);
		if (top_level_value(resp, "accepted") != NULL)
		{
			accepted = top_level_long(resp, "accepted");
			dups = top_level_long(resp, "duplicates");
		}
		else
		{
			int			d = top_level_bool(resp, "duplicate");

			if (d < 0)
				report_failure(c, "response has neither \"accepted\" nor \"duplicate\"", resp, notes);
			accepted = d == 0 ? 1 : 0;
			dups = d == 1 ? 1 : 0;
		}
		st.accepted += accepted;
		st.duplicates += dups;
		if (c->verdict == V_INVALID)
			report_failure(c, "an invalid case was accepted", resp, notes);
		if (c->exact_counts && c->kind != KIND_DUP)
		{
			if (accepted != c->expect_new || dups != c->expect_dups)
			{
				char		d[128];

				snprintf(d, sizeof(d), "expected accepted=%d duplicates=%d, got %ld and %ld",
						 c->expect_new, c->expect_dups, accepted, dups);
				report_failure(c, "wrong accepted/duplicate counts for a clean case", d, notes);
			}
			else if (c->events && rng_chance(side, opt.readback_per_mille))
			{
				int			checked = 0;

				for (int i = 0; i < c->nev && checked < 3; i++)
					if (c->events[i].exp.set[F_ID])
					{
						read_back(c, &c->events[i], notes, t0, t0 + dt);
						checked++;
					}
			}
		}
		if (c->kind == KIND_DUP && (accepted != 0 || dups != c->nevents))
		{
			char		d[160];

			snprintf(d, sizeof(d), "resent case %ld: expected 0 accepted and %d duplicates, got %ld and %ld",
					 c->dup_of, c->nevents, accepted, dups);
			report_failure(c, "a resent clean case was not all duplicates", d, notes);
		}
		check_accepted_text(c, notes);
	}
	else
	{
		sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		st.rejected++;
		count(st.sqlstates, &st.nsqlstates, sqlstate, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
		if (strncmp(sqlstate, "22", 2) != 0 && strncmp(sqlstate, "54", 2) != 0)
			report_failure(c, "error outside SQLSTATE classes 22 and 54", PQresultErrorMessage(res), notes);
		else if (c->verdict == V_VALID || c->kind == KIND_DUP)
			report_failure(c, "a valid case was refused", PQresultErrorMessage(res), notes);
		else if (c->gap_sqlstate && strcmp(sqlstate, c->gap_sqlstate) == 0)
			gap(c, c->gap_name, notes);
		else if (c->expect_sqlstate && strcmp(sqlstate, c->expect_sqlstate) != 0)
		{
			char		d[64];

			snprintf(d, sizeof(d), "expected SQLSTATE %s, got %s", c->expect_sqlstate, sqlstate);
			report_failure(c, "refused with the wrong SQLSTATE", d, notes);
		}
	}
	if (c->path == PATH_JSONB && c->single && c->kind != KIND_DUP && rng_chance(side, opt.diff_per_mille))
		differential(c, res);
	PQclear(res);
}

/* ------------------------------------------------------------------------
 * The final check: every stored row obeys the rules.
 */
static const char *const row_rules[][2] = {
	{"externalRequestId is 1..128 characters", "char_length(external_request_id) NOT BETWEEN 1 AND 128"},
	{"provider is 1..100 characters", "char_length(provider) NOT BETWEEN 1 AND 100"},
	{"model is 1..200 characters", "char_length(model) NOT BETWEEN 1 AND 200"},
	{"errorCode is NULL or 1..128 characters", "char_length(error_code) NOT BETWEEN 1 AND 128"},
	{"promptVersion is NULL or 1..128 characters", "char_length(prompt_version) NOT BETWEEN 1 AND 128"},
	{"endpointTag is NULL or 1..128 characters", "char_length(endpoint_tag) NOT BETWEEN 1 AND 128"},
	{"userId is NULL or 1..256 characters", "char_length(user_id) NOT BETWEEN 1 AND 256"},
	{"tenantId is NULL or 1..256 characters", "char_length(tenant_id) NOT BETWEEN 1 AND 256"},
	{"token counts are 0..10^15",
		"LEAST(input_tokens, output_tokens, total_tokens, cached_input_tokens, reasoning_tokens) < 0"
	" OR GREATEST(input_tokens, output_tokens, cached_input_tokens, reasoning_tokens) > 1000000000000000"},
	{"a derived totalTokens is at most input + output", "total_tokens > 2000000000000000"},
	{"cachedInputTokens <= inputTokens", "cached_input_tokens > input_tokens"},
	{"reasoningTokens <= outputTokens", "reasoning_tokens > output_tokens"},
	{"latencyMs is NULL or >= 0", "latency_ms < 0"},
	{"costUsd is NULL or >= 0, and at most 10^9 when the caller sent it",
	"cost_usd < 0 OR cost_usd = 'NaN' OR (pricing = 'caller' AND cost_usd > 1000000000)"},
	{"cost is NULL exactly when unpriced", "(cost_usd IS NULL) <> (pricing = 'unpriced')"},
	{"a caller's cost carries at most 12 decimal places, no trailing zeros",
	"pricing = 'caller' AND (scale(cost_usd) > 12 OR scale(cost_usd) <> min_scale(cost_usd))"},
	{"dataMode is real, test or demo", "data_mode::text NOT IN ('real', 'test', 'demo')"},
	{"environment is prod, staging or dev", "environment::text NOT IN ('prod', 'staging', 'dev')"},
	{"metadata is NULL or an object", "jsonb_typeof(metadata) <> 'object'"},
	{"metadata is at most 8192 bytes as jsonb", "pg_column_size(metadata::text::jsonb) > 8192"},
	/* the exact depth only where the text has enough brackets to be deep */
	{"metadata nests at most 63 levels (64 with the event)",
		"CASE WHEN length(metadata::text) - length(translate(metadata::text, '{[', '')) > 63"
	" THEN pg_temp.opsmeter_fuzz_depth(metadata) > 63 ELSE false END"},
	{"timestamp within the raw retention and 5 minutes ahead",
	"ts < ingested_at - interval '30 days' - interval '1 minute' OR ts > ingested_at + interval '6 minutes'"},
	{"ingested by the fuzzing role", "ingested_by <> current_user::regrole"},
};

#define NUM_ROW_RULES ((int) (sizeof(row_rules) / sizeof(row_rules[0])))

/*
 * Checks every stored row of the workspace in one pass (a full run stores
 * about a million); returns the number of problems.
 */
static long
verify_rows(void)
{
	PGresult   *res;
	long		rows,
				distinct_ids,
				problems = 0;
	Buf			sql = {0};
	const char *ws = workspace_id;

	PQclear(exec_ok("SET statement_timeout = 0"));

	/* nesting depth of a jsonb value, containers only (pg_temp: gone at disconnect) */
	PQclear(exec_ok(
					"CREATE FUNCTION pg_temp.opsmeter_fuzz_depth(j jsonb) RETURNS int LANGUAGE sql IMMUTABLE AS $$"
					" WITH RECURSIVE walk(v, d) AS ("
					"   SELECT j, 1 WHERE jsonb_typeof(j) IN ('object', 'array')"
					"   UNION ALL"
					"   SELECT c.value, w.d + 1 FROM walk w,"
					"     LATERAL (SELECT value FROM jsonb_each(CASE WHEN jsonb_typeof(w.v) = 'object' THEN w.v END)"
					"              UNION ALL"
					"              SELECT value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.v) = 'array' THEN w.v END)) c"
					"   WHERE jsonb_typeof(c.value) IN ('object', 'array'))"
					" SELECT coalesce(max(d), 0) FROM walk $$"));

	/* a derived totalTokens (input + output) may reach 2 x 10^15: README, Limits */
	buf_str(&sql, "SELECT count(*), count(DISTINCT external_request_id), NULL, NULL");
	for (int i = 0; i < NUM_ROW_RULES; i++)
		buf_fmt(&sql, ", count(*) FILTER (WHERE %s), min(external_request_id) FILTER (WHERE %s)",
				row_rules[i][1], row_rules[i][1]);
	buf_fmt(&sql, " FROM opsmeter.events e WHERE workspace_id = %s", ws);
	res = exec_ok(sql.p);
	rows = atol(PQgetvalue(res, 0, 0));
	distinct_ids = atol(PQgetvalue(res, 0, 1));
	printf("verify: %ld rows stored, %ld accepted by the responses, %ld distinct ids\n",
		   rows, st.accepted, distinct_ids);
	if (rows != st.accepted)
	{
		fprintf(stderr, "FAIL verify: %ld rows stored but responses accepted %ld\n", rows, st.accepted);
		problems++;
	}
	if (rows != distinct_ids)
	{
		fprintf(stderr, "FAIL verify: %ld rows but %ld distinct externalRequestIds\n", rows, distinct_ids);
		problems++;
	}
	for (int i = 0; i < NUM_ROW_RULES; i++)
	{
		long		n = atol(PQgetvalue(res, 0, 4 + 2 * i));

		if (n > 0)
		{
			fprintf(stderr, "FAIL verify: %ld rows break \"%s\" (e.g. externalRequestId %s)\n", n,
					row_rules[i][0], PQgetvalue(res, 0, 5 + 2 * i));
			problems++;
		}
	}

	PQclear(res);

	/* every row has its dedup key */
	buf_reset(&sql);
	buf_fmt(&sql, "SELECT count(*), min(e.external_request_id) FROM opsmeter.events e"
			" LEFT JOIN opsmeter.request_keys k ON k.workspace_id = e.workspace_id"
			" AND k.external_request_id = e.external_request_id"
			" WHERE e.workspace_id = %s AND k.external_request_id IS NULL", ws);
	res = exec_ok(sql.p);
	if (atol(PQgetvalue(res, 0, 0)) > 0)
	{
		fprintf(stderr, "FAIL verify: %s rows have no dedup key in opsmeter.request_keys (e.g. %s)\n",
				PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
		problems++;
	}
	PQclear(res);
	printf("verify: %d row rules and the dedup keys checked over every stored row: %s\n",
		   NUM_ROW_RULES + 1, problems ? "VIOLATIONS" : "all hold");
	buf_free(&sql);
	return problems;
}

/* ------------------------------------------------------------------------
 * main
 */
static void
usage(void)
{
	fprintf(stderr,
			"usage: fuzz_ingest [-s SEED] [-n CASES] [--only CASE [--print [MAX_BATCH]]]\n"
			"                   [-p both|jsonb|ndjson] [-w WORKSPACE] [-o FAILDIR] [--strict] [-v]\n"
			"  connects with the usual PG* environment variables\n"
			"  -s SEED       PRNG seed (default: from the clock); printed for reproduction\n"
			"  -n CASES      number of cases (default 5000)\n"
			"  --only CASE   run just that case of that seed (and the case it resends, if any)\n"
			"  --print       with --only: write the case's payload to stdout, send nothing\n"
			"                (MAX_BATCH: the opsmeter.max_batch_events to assume, default 10000)\n"
			"  -p PATH       entry points to fuzz (default both)\n"
			"  -w WORKSPACE  workspace to create and fill (default fuzz_<seed>_<pid>)\n"
			"  -o FAILDIR    where failing cases are written (default .)\n"
			"  --strict      known gaps (see the summary) count as failures\n"
			"  -v            print every case\n");
	exit(2);
}

static void
parse_args(int argc, char **argv)
{
	opt.seed = (uint64_t) time(NULL) * 2654435761u ^ (uint64_t) getpid();
	opt.seed %= 1000000000;
	opt.cases = 5000;
	opt.only = -1;
	opt.outdir = ".";
	opt.path_mask = 3;
	opt.diff_per_mille = 150;
	opt.readback_per_mille = 250;
	opt.max_batch = 10000;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "-s") == 0 && v)
			opt.seed = strtoull(v, NULL, 10), i++;
		else if (strcmp(a, "-n") == 0 && v)
			opt.cases = atol(v), i++;
		else if (strcmp(a, "--only") == 0 && v)
			opt.only = atol(v), i++;
		else if (strcmp(a, "-w") == 0 && v)
			opt.workspace = v, i++;
		else if (strcmp(a, "-o") == 0 && v)
			opt.outdir = v, i++;
		else if (strcmp(a, "-p") == 0 && v)
		{
			opt.path_mask = strcmp(v, "jsonb") == 0 ? 1 : strcmp(v, "ndjson") == 0 ? 2 : 3;
			i++;
		}
		else if (strcmp(a, "--strict") == 0)
			opt.strict = true;
		else if (strcmp(a, "--print") == 0)
		{
			opt.print_only = true;
			if (v && v[0] >= '0' && v[0] <= '9')
				opt.max_batch = atoi(v), i++;
		}
		else if (strcmp(a, "-v") == 0)
			opt.verbose = true;
		else
			usage();
	}
}

/* Creates the run's own workspace and makes it the session's. */
static void
setup_session(Ctx *ctx)
{
	PGresult   *res;
	char		name[128];
	const char *params[1];

	if (opt.workspace)
		snprintf(name, sizeof(name), "%s", opt.workspace);
	else
		snprintf(name, sizeof(name), "fuzz_%" PRIu64 "_%d", opt.seed, (int) getpid());
	params[0] = name;
	PQclear(exec_ok("SET client_min_messages = warning"));
	PQclear(exec_ok("SET client_encoding = 'UTF8'"));
	/* a hang is a finding too: it shows up as 57014, outside classes 22/54 */
	PQclear(exec_ok("SET statement_timeout = '60s'"));
	res = PQexecParams(conn, "SELECT opsmeter_create_workspace($1)", 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "fuzz_ingest: cannot create workspace %s: %s", name, PQerrorMessage(conn));
		exit(2);
	}
	PQclear(res);
	res = PQexecParams(conn, "SELECT set_config('opsmeter.workspace', $1, false)", 1, NULL, params, NULL, NULL, 0);
	PQclear(res);
	res = exec_ok("SELECT opsmeter.active_workspace()");
	snprintf(workspace_id, sizeof(workspace_id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	res = exec_ok("SHOW opsmeter.max_batch_events");
	ctx->max_batch = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	printf("fuzz_ingest: seed %" PRIu64 ", %ld cases, workspace %s, opsmeter.max_batch_events %d%s\n",
		   opt.seed, opt.only >= 0 ? 1L : opt.cases, name, ctx->max_batch, opt.strict ? ", strict" : "");
}

static void
print_summary(double elapsed)
{
	printf("\nfuzz_ingest summary (seed %" PRIu64 ")\n", opt.seed);
	printf("  cases: %ld (jsonb %ld, ndjson %ld; clean %ld, resent %ld, mutated %ld, text-mutated %ld, special %ld)\n",
		   st.cases, st.by_path[PATH_JSONB], st.by_path[PATH_NDJSON], st.by_kind[KIND_CLEAN],
		   st.by_kind[KIND_DUP], st.by_kind[KIND_MUTATED], st.by_kind[KIND_TEXT], st.by_kind[KIND_SPECIAL]);
	printf("  calls accepted: %ld, storing %ld events (%ld duplicates answered); calls rejected: %ld\n",
		   st.calls_ok, st.accepted, st.duplicates, st.rejected);
	printf("  oracles: %ld cases had to pass, %ld had to fail; %ld rows read back; %ld differential pairs\n",
		   st.must_pass, st.must_fail, st.readbacks, st.diff_compared);
	printf("  rejections by SQLSTATE:\n");
	qsort(st.sqlstates, (size_t) st.nsqlstates, sizeof(Counter), counter_cmp);
	for (int i = 0; i < st.nsqlstates; i++)
		printf("    %-6s %7ld  e.g. %.100s\n", st.sqlstates[i].name, st.sqlstates[i].n, st.sqlstates[i].example);
	if (st.ngaps)
	{
		printf("  known gaps (accepted, contrary to README; failures with --strict):\n");
		qsort(st.gaps, (size_t) st.ngaps, sizeof(Counter), counter_cmp);
		for (int i = 0; i < st.ngaps; i++)
			printf("    %7ld  %s (first: %s)\n", st.gaps[i].n, st.gaps[i].name, st.gaps[i].example);
	}
	if (st.ndiffs)
	{
		printf("  jsonb vs ndjson disagreements on the same object (informational):\n");
		qsort(st.diffs, (size_t) st.ndiffs, sizeof(Counter), counter_cmp);
		for (int i = 0; i < st.ndiffs; i++)
			printf("    %7ld  %s (first: %s)\n", st.diffs[i].n, st.diffs[i].name, st.diffs[i].example);
	}
	printf("  bytes sent: %.1f MB, largest case %.2f MB, slowest case %ld (%.2f s)\n",
		   (double) st.bytes_sent / 1e6, (double) st.largest / 1e6, st.slowest_case, st.slowest);
	printf("  elapsed %.1f s, %.0f cases/s\n", elapsed, elapsed > 0 ? (double) st.cases / elapsed : 0.0);
}

int
main(int argc, char **argv)
{
	Ctx			ctx = {0};
	Buf			notes = {0};
	Rng			side;
	double		t0;
	long		problems;

	parse_args(argc, argv);
	if (opt.print_only)
	{
		Case		c;

		if (opt.only < 0)
			usage();
		ctx.seed = opt.seed;
		ctx.max_batch = opt.max_batch;
		ctx.now = time(NULL);
		gen_case(&ctx, opt.only, &c, &notes);
		fwrite(c.payload.p ? c.payload.p : "", 1, c.payload.len, stdout);
		fprintf(stderr, "case %ld: %s, %s path, %s; mutations: %s\n", c.no, kind_names[c.kind],
				c.path == PATH_JSONB ? "jsonb" : "ndjson", c.what ? c.what : "", notes.p ? notes.p : "");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	conn = PQconnectdb("");
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "fuzz_ingest: cannot connect: %s", PQerrorMessage(conn));
		return 2;
	}
	ctx.seed = opt.seed;
	setup_session(&ctx);
	t0 = now_sec();
	for (long no = opt.only >= 0 ? opt.only : 0; no < (opt.only >= 0 ? opt.only + 1 : opt.cases); no++)
	{
		Case		c;

		ctx.now = time(NULL);
		gen_case(&ctx, no, &c, &notes);
		/* side decisions (read-backs, differentials): a stream of their own */
		rng_seed(&side, opt.seed, (uint64_t) no | (1ULL << 63));
		if (!(opt.path_mask & (1 << c.path)))
		{
			buf_free(&c.payload);
			case_free_events(&c);
			continue;
		}
		if (opt.only >= 0 && c.kind == KIND_DUP)
		{
			/* the case it resends must be stored first */
			Case		first;
			Buf			n2 = {0};

			gen_case(&ctx, c.dup_of, &first, &n2);
			run_case(&first, &n2, &side);
			buf_free(&first.payload);
			case_free_events(&first);
			buf_free(&n2);
		}
		run_case(&c, &notes, &side);
		buf_free(&c.payload);
		case_free_events(&c);
		if (PQstatus(conn) != CONNECTION_OK)
		{
			fprintf(stderr, "fuzz_ingest: the connection is gone; stopping after case %ld\n", no);
			print_summary(now_sec() - t0);
			return 1;
		}
		if (opt.only < 0 && (no + 1) % 1000 == 0)
			printf("  ... %ld cases, %ld events stored, %ld failures, %.0f cases/s\n", no + 1, st.accepted,
				   st.failures, (double) (no + 1) / (now_sec() - t0));
	}
	print_summary(now_sec() - t0);
	problems = verify_rows();
	buf_free(&notes);
	PQfinish(conn);
	if (st.failures || problems)
	{
		printf("RESULT: FAIL (%ld case failures, %ld row-check failures; seed %" PRIu64 ")\n",
			   st.failures, problems, opt.seed);
		return 1;
	}
	printf("RESULT: PASS\n");
	return 0;
}
