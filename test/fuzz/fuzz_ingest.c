/*
 * fuzz_ingest.c — fuzz driver for opsmeter's ingest entry points,
 * opsmeter_ingest(jsonb), opsmeter_ingest_ndjson(text) and
 * opsmeter_ingest_otlp(jsonb), over libpq.
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
 * opsmeter_ingest_otlp (issue #17) gets a third of the cases: OTLP/JSON
 * trace exports built as trees (resources, scopes, GenAI spans carrying
 * the events above, skipped HTTP/database/tool spans), then broken like
 * the others -- containers of the wrong type, attributes without a string
 * key or an AnyValue, every AnyValue kind in every field, start and end
 * times in every form, huge and deep attribute lists, thousands of spans,
 * the batch and payload limits lowered for one call.  An oracle reads the
 * tree as README "OpenTelemetry spans" says (see otlp_expect()) and the
 * answer must match: received and skippedSpans, accepted, duplicates and
 * duplicateSpans exactly where it can know them, and always consistent;
 * every event of a clean export is read back field by field, metadata.otel
 * included; a refused call must have stored no key of the case's own ids.
 * The questions README leaves open are counted in the summary.
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

/* Uniform in [lo, hi] (computed unsigned: hi - lo may not fit an int64). */
static int64_t
rng_range(Rng *r, int64_t lo, int64_t hi)
{
	return (int64_t) ((uint64_t) lo + rng_below(r, (uint64_t) hi - (uint64_t) lo + 1));
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
	const unsigned char *p = (const unsigned char *) (raw ? raw : ""),
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
			/* integers beyond int64: metadata keeps them exactly on every path */
			buf_str(&fl->val, PICK(r, ((const char *[]) {"{\"n\":9223372036854775808}",
													   "{\"n\":-9223372036854775809}",
													   "{\"n\":[18446744073709551616]}",
													   "{\"n\":{\"m\":123456789012345678901234567890}}"})));
			fl->verdict = V_VALID;
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
	PATH_NDJSON,
	PATH_OTLP,
	NUM_PATHS
} Path;

static const char *const path_names[NUM_PATHS] = {"jsonb", "ndjson", "otlp"};

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
	struct OtlpCase *ot;		/* PATH_OTLP: the body as a tree, and what it must do */
} Case;

static void otlp_case_free(struct OtlpCase *ot);

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
	*path = (Path) rng_below(&r, NUM_PATHS);
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
	otlp_case_free(c->ot);
	c->ot = NULL;
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

/* ------------------------------------------------------------------------
 * OTLP bodies: opsmeter_ingest_otlp(jsonb) (issue #17).
 *
 * An ExportTraceServiceRequest is held as a tree (resources, scopes, spans,
 * attribute lists) in which any node may be replaced by raw JSON text, so
 * a mutation knows what it broke.  otlp_expect() reads the tree the way
 * README "OpenTelemetry spans" describes and says what the call must do:
 * the GenAI spans (those naming a model), the skipped ones, each event's
 * verdict by the rules of SPEC §4, the ids and so the duplicates.  Where
 * README leaves a reading open (duplicate attribute keys, an empty value
 * in a higher-priority attribute, a malformed AnyValue such as
 * {"intValue": true}) the tree is read every way (Interp), and only what
 * every reading agrees on is enforced; the rest is counted by reason in
 * the summary.
 */
enum
{
	OA_OPS_ID, OA_RESPONSE_ID,
	OA_OPS_PROVIDER, OA_PROVIDER_NAME, OA_SYSTEM,
	OA_OPS_MODEL, OA_REQUEST_MODEL, OA_RESPONSE_MODEL,
	OA_INPUT, OA_PROMPT, OA_OUTPUT, OA_COMPLETION, OA_CACHE_READ, OA_CACHE_READ_OLD, OA_REASONING,
	OA_OPS_USER, OA_USER, OA_ENDUSER, OA_OPS_TENANT, OA_TENANT, OA_ENDPOINT, OA_PROMPT_VERSION,
	OA_DATA_MODE, OA_OPS_ENV, OA_DEPLOY_ENV_NAME, OA_DEPLOY_ENV, OA_COST, OA_ERROR_TYPE,
	OA_OPERATION, OA_SERVICE,
	NUM_OA
};

static const char *const oa_names[NUM_OA] = {
	"opsmeter.external_request_id", "gen_ai.response.id",
	"opsmeter.provider", "gen_ai.provider.name", "gen_ai.system",
	"opsmeter.model", "gen_ai.request.model", "gen_ai.response.model",
	"gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "gen_ai.usage.output_tokens",
	"gen_ai.usage.completion_tokens", "gen_ai.usage.cache_read.input_tokens",
	"gen_ai.usage.cache_read_input_tokens", "opsmeter.reasoning_tokens",
	"opsmeter.user_id", "user.id", "enduser.id", "opsmeter.tenant_id", "tenant.id",
	"opsmeter.endpoint_tag", "opsmeter.prompt_version", "opsmeter.data_mode",
	"opsmeter.environment", "deployment.environment.name", "deployment.environment",
	"opsmeter.cost_usd", "error.type", "gen_ai.operation.name", "service.name",
};

/* README's table: each field from the first of its attributes, then the resource's. */
typedef struct OtSource
{
	int			field;
	bool		resource;
	int			n;
	int			attrs[3];
} OtSource;

static const OtSource ot_sources[] = {
	{F_ID, false, 2, {OA_OPS_ID, OA_RESPONSE_ID}},
	{F_PROVIDER, false, 3, {OA_OPS_PROVIDER, OA_PROVIDER_NAME, OA_SYSTEM}},
	{F_MODEL, false, 3, {OA_OPS_MODEL, OA_REQUEST_MODEL, OA_RESPONSE_MODEL}},
	{F_INPUT, false, 2, {OA_INPUT, OA_PROMPT}},
	{F_OUTPUT, false, 2, {OA_OUTPUT, OA_COMPLETION}},
	{F_CACHED, false, 2, {OA_CACHE_READ, OA_CACHE_READ_OLD}},
	{F_REASONING, false, 1, {OA_REASONING}},
	{F_COST, false, 1, {OA_COST}},
	{F_ERROR_CODE, false, 1, {OA_ERROR_TYPE}},
	{F_USER_ID, true, 3, {OA_OPS_USER, OA_USER, OA_ENDUSER}},
	{F_TENANT_ID, true, 2, {OA_OPS_TENANT, OA_TENANT}},
	{F_ENDPOINT_TAG, true, 1, {OA_ENDPOINT}},
	{F_PROMPT_VERSION, true, 1, {OA_PROMPT_VERSION}},
	{F_DATA_MODE, true, 1, {OA_DATA_MODE}},
	{F_ENVIRONMENT, true, 3, {OA_OPS_ENV, OA_DEPLOY_ENV_NAME, OA_DEPLOY_ENV}},
};

#define NUM_OT_SOURCES ((int) (sizeof(ot_sources) / sizeof(ot_sources[0])))

static const OtSource *
ot_source(int field)
{
	for (int i = 0; i < NUM_OT_SOURCES; i++)
		if (ot_sources[i].field == field)
			return &ot_sources[i];
	return NULL;
}

static int
oa_lookup(const char *s, size_t len)
{
	for (int a = 0; a < NUM_OA; a++)
		if (strlen(oa_names[a]) == len && memcmp(oa_names[a], s, len) == 0)
			return a;
	return -1;
}

/* What an attribute's "value" is, as far as the reading goes. */
typedef enum AvClass
{
	AVC_STRING,					/* {"stringValue": "..."}: s */
	AVC_BYTES,					/* {"bytesValue": "..."}: s, a string or not */
	AVC_INT,					/* {"intValue": "12"} or {"intValue": 12}: ival */
	AVC_INTSTR,					/* {"intValue": "abc"}: s, not an integer */
	AVC_NUM,					/* {"doubleValue": 1.5}, {"intValue": 1e3}: vt, vc */
	AVC_BOOL,
	AVC_ARRAY,
	AVC_KVLIST,
	AVC_EMPTY,					/* {}: no value */
	AVC_WEIRD,					/* {"intValue": true}, {"stringValue": 5}: malformed */
	AVC_MULTI,					/* several members: a broken oneof */
	AVC_JNULL,					/* "value": null */
	AVC_NONE,					/* no "value" member */
	AVC_NOT_OBJECT				/* "value": "x", 1, [], true */
} AvClass;

#define OK_UNKNOWN (-1)			/* a key opsmeter does not read */
#define OK_BAD_KEY (-2)			/* "key" missing or not a string */
#define OK_NOT_OBJECT (-3)		/* the element is not an object */

typedef struct OAttr
{
	int			known;			/* OA_* of the decoded key, or OK_* */
	Buf			key;			/* JSON text of "key"'s value (len 0: no "key") */
	Buf			val;			/* JSON text of "value"'s value (len 0: no "value") */
	Buf			raw;			/* OK_NOT_OBJECT: the element's JSON text */
	AvClass		cls;
	Buf			s;				/* AVC_STRING, AVC_BYTES, AVC_INTSTR: the string */
	int64_t		ival;			/* AVC_INT; AVC_NUM when vt is V_VALID */
	Verdict		vt,
				vc;				/* AVC_NUM: as a token count, as a costUsd */
} OAttr;

/* An array member (attributes, resourceSpans, scopeSpans, spans). */
typedef enum ListMode
{
	LM_ARRAY,
	LM_ABSENT,
	LM_NULL,
	LM_RAW						/* raw JSON text that is not an array */
} ListMode;

typedef struct AttrList
{
	ListMode	mode;
	Buf			raw;
	OAttr	   *a;
	int			n,
				cap;
	Buf			flood;			/* more elements: unknown keys, AnyValue objects */
	long		nflood;
} AttrList;

typedef enum TimeClass
{
	TC_ABSENT,					/* absent or null */
	TC_OK,						/* a positive int64: the *_ns value */
	TC_BAD,						/* not a start time by any reading */
	TC_ODD						/* a form README does not settle (12.0, "0", "abc" as an end) */
} TimeClass;

typedef struct OSpan
{
	Buf			raw;			/* len > 0: the element, not an object */
	Buf			pre;			/* members before the real ones (jsonb keeps the last) */
	Buf			trace_json,
				sid_json,
				name_json;		/* JSON text of the values; len 0: absent */
	bool		trace_str,
				sid_str,
				name_str;		/* ... that are strings: */
	Buf			trace,
				sid,
				name;			/* their text */
	Buf			start_json,
				end_json;
	TimeClass	start_cls,
				end_cls;
	int64_t		start_ns,
				end_ns;
	Buf			status_json;	/* len 0: absent */
	AttrList	attrs;
	Buf			extra;			/* members after the real ones, of other keys */
	int			ev;				/* clean: the event it carries, else -1 */
} OSpan;

typedef struct OScope
{
	Buf			raw;
	Buf			pre;
	Buf			scope_json;		/* "scope" member (len 0: absent) */
	ListMode	mode;			/* of "spans" */
	Buf			spans_raw;
	OSpan	   *sp;
	int			n,
				cap;
	Buf			flood;			/* more spans after these: minimal, not GenAI */
	long		nflood;
	Buf			extra;
} OScope;

typedef enum ResMode
{
	RM_OBJECT,
	RM_ABSENT,
	RM_NULL,
	RM_RAW
} ResMode;

typedef struct OResource
{
	Buf			raw;
	Buf			pre;
	ResMode		res_mode;		/* of "resource" */
	Buf			res_raw;
	AttrList	attrs;			/* resource.attributes */
	Buf			res_extra;		/* more members of "resource" */
	ListMode	mode;			/* of "scopeSpans" */
	Buf			scopes_raw;
	OScope	   *sc;
	int			n,
				cap;
	Buf			extra;
} OResource;

typedef struct OBody
{
	Buf			raw;			/* len > 0: the root, not an object */
	ListMode	mode;			/* of "resourceSpans" */
	Buf			rs_raw;
	OResource  *rs;
	int			n,
				cap;
	Buf			extra;
} OBody;

static void *
grow(void *p, int *cap, int need, size_t elem)
{
	if (need > *cap)
	{
		int			c = *cap ? *cap : 4;

		while (c < need)
			c *= 2;
		p = realloc(p, (size_t) c * elem);
		if (p == NULL)
		{
			fprintf(stderr, "fuzz_ingest: out of memory\n");
			exit(2);
		}
		memset((char *) p + (size_t) *cap * elem, 0, (size_t) (c - *cap) * elem);
		*cap = c;
	}
	return p;
}

static void
oattr_free(OAttr *o)
{
	buf_free(&o->key);
	buf_free(&o->val);
	buf_free(&o->raw);
	buf_free(&o->s);
}

static void
al_free(AttrList *l)
{
	for (int i = 0; i < l->n; i++)
		oattr_free(&l->a[i]);
	free(l->a);
	buf_free(&l->raw);
	buf_free(&l->flood);
	memset(l, 0, sizeof(*l));
}

static void
ospan_free(OSpan *s)
{
	Buf		   *bufs[] = {&s->raw, &s->pre, &s->trace_json, &s->sid_json, &s->name_json, &s->trace, &s->sid,
	&s->name, &s->start_json, &s->end_json, &s->status_json, &s->extra};

	for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
		buf_free(bufs[i]);
	al_free(&s->attrs);
}

static void
oscope_free(OScope *s)
{
	for (int i = 0; i < s->n; i++)
		ospan_free(&s->sp[i]);
	free(s->sp);
	buf_free(&s->raw);
	buf_free(&s->pre);
	buf_free(&s->scope_json);
	buf_free(&s->spans_raw);
	buf_free(&s->flood);
	buf_free(&s->extra);
}

static void
oresource_free(OResource *r)
{
	for (int i = 0; i < r->n; i++)
		oscope_free(&r->sc[i]);
	free(r->sc);
	buf_free(&r->raw);
	buf_free(&r->pre);
	buf_free(&r->res_raw);
	al_free(&r->attrs);
	buf_free(&r->res_extra);
	buf_free(&r->scopes_raw);
	buf_free(&r->extra);
}

static void
obody_free(OBody *b)
{
	for (int i = 0; i < b->n; i++)
		oresource_free(&b->rs[i]);
	free(b->rs);
	buf_free(&b->raw);
	buf_free(&b->rs_raw);
	buf_free(&b->extra);
	memset(b, 0, sizeof(*b));
}

static OAttr *
al_push(AttrList *l)
{
	OAttr	   *o;

	l->a = grow(l->a, &l->cap, l->n + 1, sizeof(OAttr));
	o = &l->a[l->n++];
	memset(o, 0, sizeof(*o));
	o->known = OK_UNKNOWN;
	o->cls = AVC_NONE;
	return o;
}

/* Inserts a fresh attribute at position "at". */
static OAttr *
al_insert(AttrList *l, int at)
{
	OAttr		t;

	al_push(l);
	t = l->a[l->n - 1];
	memmove(&l->a[at + 1], &l->a[at], sizeof(OAttr) * (size_t) (l->n - 1 - at));
	l->a[at] = t;
	return &l->a[at];
}

static OSpan *
scope_push(OScope *s)
{
	OSpan	   *sp;

	s->sp = grow(s->sp, &s->cap, s->n + 1, sizeof(OSpan));
	sp = &s->sp[s->n++];
	memset(sp, 0, sizeof(*sp));
	sp->ev = -1;
	sp->attrs.mode = LM_ARRAY;
	return sp;
}

static OScope *
resource_push(OResource *r)
{
	OScope	   *s;

	r->sc = grow(r->sc, &r->cap, r->n + 1, sizeof(OScope));
	s = &r->sc[r->n++];
	memset(s, 0, sizeof(*s));
	s->mode = LM_ARRAY;
	return s;
}

static OResource *
body_push(OBody *b)
{
	OResource  *r;

	b->rs = grow(b->rs, &b->cap, b->n + 1, sizeof(OResource));
	r = &b->rs[b->n++];
	memset(r, 0, sizeof(*r));
	r->res_mode = RM_OBJECT;
	r->attrs.mode = LM_ARRAY;
	r->mode = LM_ARRAY;
	return r;
}

/* Sets an attribute's key: a known name is sometimes written with \u escapes. */
static void
oattr_set_key(Rng *r, OAttr *o, const char *name, size_t len)
{
	int			a = oa_lookup(name, len);

	buf_reset(&o->key);
	if (a < 0 || rng_chance(r, 40))
		json_quote(r, &o->key, name, len);
	else
	{
		buf_char(&o->key, '"');
		buf_add(&o->key, name, len);
		buf_char(&o->key, '"');
	}
	o->known = a >= 0 ? a : OK_UNKNOWN;
}

static void
oattr_set_known(Rng *r, OAttr *o, int a)
{
	oattr_set_key(r, o, oa_names[a], strlen(oa_names[a]));
}

/* The value as {"stringValue": s} (or, for bytes, {"bytesValue": s}). */
static void
av_string(Rng *r, OAttr *o, const char *s, size_t len, bool bytes)
{
	buf_reset(&o->val);
	buf_str(&o->val, bytes ? "{\"bytesValue\":" : "{\"stringValue\":");
	json_quote(r, &o->val, s, len);
	buf_char(&o->val, '}');
	buf_reset(&o->s);
	buf_add(&o->s, s, len);
	o->cls = bytes ? AVC_BYTES : AVC_STRING;
}

/*
 * An integer as OTLP/JSON writes it (intValue as a decimal string), or as
 * a JSON number, or as an integral doubleValue (1200.0 is 1200, as in JSON).
 */
static void
av_int(Rng *r, OAttr *o, int64_t v)
{
	buf_reset(&o->val);
	switch (rng_below(r, 20))
	{
		case 0:
			buf_fmt(&o->val, "{\"doubleValue\":%" PRId64 "}", v);
			break;
		case 1:
			buf_fmt(&o->val, "{\"doubleValue\":%" PRId64 ".0}", v);
			break;
		case 2:
		case 3:
		case 4:
		case 5:
			buf_fmt(&o->val, "{\"intValue\":%" PRId64 "}", v);
			break;
		default:
			buf_fmt(&o->val, "{\"intValue\":\"%" PRId64 "\"}", v);
	}
	o->cls = AVC_INT;
	o->ival = v;
}

/* Number texts of num_cases[] that jsonb takes at all (not 1e100000). */
static int
num_case_pick(Rng *r)
{
	int			n = (int) (sizeof(num_cases) / sizeof(num_cases[0]));
	int			i;

	do
		i = (int) rng_below(r, (uint64_t) n);
	while (strstr(num_cases[i].text, "e100000") || strstr(num_cases[i].text, "e-100000"));
	return i;
}

static void
av_num(Rng *r, OAttr *o, int nc)
{
	buf_reset(&o->val);
	buf_fmt(&o->val, "{\"%s\":%s}", rng_chance(r, 500) ? "doubleValue" : "intValue", num_cases[nc].text);
	o->cls = AVC_NUM;
	o->vt = num_cases[nc].tokens;
	o->vc = num_cases[nc].cost;
	o->ival = o->vt == V_VALID ? (int64_t) strtod(num_cases[nc].text, NULL) : 0;
}

/* Parses an OTLP/JSON int64 string the way any decimal reading would. */
static bool
parse_decimal_int64(const char *s, size_t len, int64_t *out)
{
	size_t		i = 0;
	bool		neg = false;
	uint64_t	acc = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+'))
	{
		neg = s[0] == '-';
		i++;
	}
	if (i >= len)
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (acc > (UINT64_MAX - (uint64_t) (s[i] - '0')) / 10)
			return false;
		acc = acc * 10 + (uint64_t) (s[i] - '0');
	}
	if (neg ? acc > (uint64_t) INT64_MAX + 1 : acc > (uint64_t) INT64_MAX)
		return false;
	*out = neg ? (int64_t) (0 - acc) : (int64_t) acc;
	return true;
}

/* {"intValue": "<text>"}: an integer, or a string that is not one. */
static void
av_int_text(Rng *r, OAttr *o, const char *text)
{
	int64_t		v;

	buf_reset(&o->val);
	buf_str(&o->val, "{\"intValue\":");
	json_quote(r, &o->val, text, strlen(text));
	buf_char(&o->val, '}');
	if (parse_decimal_int64(text, strlen(text), &v))
	{
		o->cls = AVC_INT;
		o->ival = v;
	}
	else
	{
		o->cls = AVC_INTSTR;
		buf_set(&o->s, text);
	}
}

/* A nested AnyValue "levels" deep, kvlistValue or arrayValue at each; the outermost's class. */
static AvClass
av_nested(Rng *r, Buf *out, int levels)
{
	Buf			close = {0};
	AvClass		outer = AVC_INT;

	for (int i = 0; i < levels; i++)
	{
		bool		kv = rng_chance(r, 500);

		if (i == 0)
			outer = kv ? AVC_KVLIST : AVC_ARRAY;
		if (kv)
		{
			buf_str(out, "{\"kvlistValue\":{\"values\":[{\"key\":\"k\",\"value\":");
			buf_str(&close, "}]}}");
		}
		else
		{
			buf_str(out, "{\"arrayValue\":{\"values\":[");
			buf_str(&close, " ]}}");	/* 4 bytes, as the other unit */
		}
	}
	buf_str(out, "{\"intValue\":\"1\"}");
	/* close in reverse, unit by unit (units are 4 bytes each) */
	for (size_t i = close.len; i >= 4; i -= 4)
		buf_add(out, close.p + i - 4, 4);
	buf_free(&close);
	return outer;
}

/*
 * A random AnyValue (or a "value" that is not one).  "field" (F_*, or -1)
 * leans the choice towards the forms that field could take; strings stay
 * below max_len characters.
 */
static void
av_random(Rng *r, OAttr *o, int field, int64_t max_len)
{
	bool		numeric = field >= 0 && (is_token_field(field) || field == F_COST);
	int			which = (int) rng_below(r, 16);

	if (numeric && which < 4)
		which = rng_chance(r, 500) ? 4 : 5;
	buf_reset(&o->val);
	switch (which)
	{
		case 0:
		case 1:
			{
				static const char *const texts[] = {"120", "", "abc", "gpt-4o", "openai", "prod", "production",
				"real", "test", "0", "-1", "true", "null", "{}", " 7", "STATUS_CODE_ERROR"};
				Buf			raw = {0};

				int64_t		n = PICK(r, ((const int64_t[]) {1, 20, 100, 129, 201, 257, 3000, 100000}));

				if (rng_chance(r, 600))
					buf_str(&raw, PICK(r, texts));
				else
					random_text(r, &raw, n < max_len ? n : max_len, rng_chance(r, 500) ? ALPHA_UNICODE : ALPHA_ANY);
				av_string(r, o, raw.p ? raw.p : "", raw.len, false);
				buf_free(&raw);
			}
			break;
		case 2:
			av_string(r, o, "b3BlbmFp", 8, true);
			break;
		case 3:
			o->cls = AVC_BOOL;
			buf_str(&o->val, rng_chance(r, 500) ? "{\"boolValue\":true}" : "{\"boolValue\":false}");
			break;
		case 4:
			{
				static const int64_t ints[] = {0, 1, 7, 120, 5000, 1000000000, 1000000000000000LL,
					1000000000000001LL, -1, INT64_MAX, INT64_MIN, 2147483647, 2147483648LL};

				av_int(r, o, PICK(r, ints));
			}
			break;
		case 5:
			av_num(r, o, num_case_pick(r));
			break;
		case 6:
			av_int_text(r, o, PICK(r, ((const char *[]) {"12.5", "abc", "", "1e3", " 7", "7 ", "0x10", "+7", "007",
														   "-0", "99999999999999999999", "9223372036854775808",
														   "-9223372036854775809", "1,000", "٣"})));
			break;
		case 7:
			o->cls = AVC_ARRAY;
			if (rng_chance(r, 200))
				o->cls = av_nested(r, &o->val, (int) PICK(r, ((const int64_t[]) {2, 10, 63, 64, 200})));
			else
				buf_str(&o->val, PICK(r, ((const char *[]) {"{\"arrayValue\":{\"values\":[{\"intValue\":\"5\"}]}}",
															  "{\"arrayValue\":{}}", "{\"arrayValue\":null}",
															  "{\"arrayValue\":{\"values\":[]}}"})));
			break;
		case 8:
			o->cls = AVC_KVLIST;
			buf_str(&o->val, PICK(r, ((const char *[]) {"{\"kvlistValue\":{\"values\":[{\"key\":\"a\",\"value\":{\"intValue\":\"5\"}}]}}",
														  "{\"kvlistValue\":{}}", "{\"kvlistValue\":[]}"})));
			break;
		case 9:
			o->cls = AVC_EMPTY;
			buf_str(&o->val, "{}");
			break;
		case 10:
		case 11:
			o->cls = AVC_WEIRD;
			buf_str(&o->val, PICK(r, ((const char *[]) {"{\"intValue\":true}", "{\"intValue\":null}", "{\"intValue\":[1]}",
														  "{\"intValue\":{\"v\":1}}", "{\"stringValue\":5}",
														  "{\"stringValue\":null}", "{\"stringValue\":[\"a\"]}",
														  "{\"doubleValue\":\"1.5\"}", "{\"doubleValue\":\"NaN\"}",
														  "{\"doubleValue\":true}", "{\"boolValue\":\"true\"}",
														  "{\"boolValue\":1}", "{\"bytesValue\":1}",
														  "{\"unknownValue\":1}", "{\"StringValue\":\"x\"}"})));
			break;
		case 12:
			o->cls = AVC_MULTI;
			buf_str(&o->val, PICK(r, ((const char *[]) {"{\"stringValue\":\"a\",\"intValue\":\"1\"}",
														  "{\"intValue\":\"1\",\"doubleValue\":2.5}",
														  "{\"boolValue\":true,\"stringValue\":\"x\"}",
														  "{\"intValue\":true,\"boolValue\":true}",
														  "{\"arrayValue\":{},\"kvlistValue\":{}}"})));
			break;
		case 13:
			o->cls = AVC_NOT_OBJECT;
			buf_str(&o->val, PICK(r, ((const char *[]) {"\"gpt-4o\"", "120", "[]", "true", "[{\"stringValue\":\"x\"}]",
														  "1.5", "\"\""})));
			break;
		case 14:
			o->cls = AVC_JNULL;
			buf_str(&o->val, "null");
			break;
		default:
			o->cls = AVC_NONE;	/* no "value" member */
			break;
	}
}

/* ------------------------------------------------------------------------
 * Serialising the tree.
 */
static void
oattr_serialize(const OAttr *o, Buf *out)
{
	if (o->known == OK_NOT_OBJECT)
	{
		buf_add(out, o->raw.p, o->raw.len);
		return;
	}
	buf_char(out, '{');
	if (o->key.len)
	{
		buf_str(out, "\"key\":");
		buf_add(out, o->key.p, o->key.len);
	}
	if (o->val.len)
	{
		if (o->key.len)
			buf_char(out, ',');
		buf_str(out, "\"value\":");
		buf_add(out, o->val.p, o->val.len);
	}
	buf_char(out, '}');
}

/* Appends ,"key":value (without the comma for the first member). */
static void
member_text(Buf *out, bool *first, const char *key, const char *val, size_t len)
{
	if (!*first)
		buf_char(out, ',');
	*first = false;
	buf_fmt(out, "\"%s\":", key);
	buf_add(out, val, len);
}

static void
list_member(Buf *out, bool *first, const char *key, ListMode mode, const Buf *raw)
{
	if (mode == LM_ABSENT)
		return;
	if (mode == LM_NULL)
		member_text(out, first, key, "null", 4);
	else if (mode == LM_RAW)
		member_text(out, first, key, raw->p, raw->len);
	else
		member_text(out, first, key, "[", 1);	/* the caller adds the elements and "]" */
}

static void
al_serialize(const AttrList *l, Buf *out, bool *first)
{
	list_member(out, first, "attributes", l->mode, &l->raw);
	if (l->mode != LM_ARRAY)
		return;
	for (int i = 0; i < l->n; i++)
	{
		if (i > 0)
			buf_char(out, ',');
		oattr_serialize(&l->a[i], out);
	}
	if (l->flood.len)
	{
		if (l->n > 0)
			buf_char(out, ',');
		buf_add(out, l->flood.p, l->flood.len);
	}
	buf_char(out, ']');
}

static void
extra_members(Buf *out, bool *first, const Buf *extra)
{
	if (extra->len == 0)
		return;
	if (!*first)
		buf_char(out, ',');
	*first = false;
	buf_add(out, extra->p, extra->len);
}

/*
 * A member written before the real one of the same key ("pre") is dropped
 * by jsonb, which keeps the last; it is written only when that real one is.
 */
static bool
pre_shadowed(const Buf *pre, const char *key, bool present)
{
	size_t		n = strlen(key);

	return pre->len > n + 2 && pre->p[0] == '"' && memcmp(pre->p + 1, key, n) == 0 && pre->p[n + 1] == '"' && present;
}

static void
ospan_serialize(const OSpan *s, Buf *out)
{
	bool		first = true;

	if (s->raw.len)
	{
		buf_add(out, s->raw.p, s->raw.len);
		return;
	}
	buf_char(out, '{');
	if (pre_shadowed(&s->pre, "attributes", s->attrs.mode != LM_ABSENT) ||
		pre_shadowed(&s->pre, "startTimeUnixNano", s->start_json.len > 0) ||
		pre_shadowed(&s->pre, "traceId", s->trace_json.len > 0) ||
		pre_shadowed(&s->pre, "spanId", s->sid_json.len > 0))
		extra_members(out, &first, &s->pre);
	if (s->trace_json.len)
		member_text(out, &first, "traceId", s->trace_json.p, s->trace_json.len);
	if (s->sid_json.len)
		member_text(out, &first, "spanId", s->sid_json.p, s->sid_json.len);
	if (s->name_json.len)
		member_text(out, &first, "name", s->name_json.p, s->name_json.len);
	if (s->start_json.len)
		member_text(out, &first, "startTimeUnixNano", s->start_json.p, s->start_json.len);
	if (s->end_json.len)
		member_text(out, &first, "endTimeUnixNano", s->end_json.p, s->end_json.len);
	if (s->status_json.len)
		member_text(out, &first, "status", s->status_json.p, s->status_json.len);
	al_serialize(&s->attrs, out, &first);
	extra_members(out, &first, &s->extra);
	buf_char(out, '}');
}

static void
oscope_serialize(const OScope *s, Buf *out)
{
	bool		first = true;

	if (s->raw.len)
	{
		buf_add(out, s->raw.p, s->raw.len);
		return;
	}
	buf_char(out, '{');
	if (pre_shadowed(&s->pre, "spans", s->mode != LM_ABSENT))
		extra_members(out, &first, &s->pre);
	if (s->scope_json.len)
		member_text(out, &first, "scope", s->scope_json.p, s->scope_json.len);
	list_member(out, &first, "spans", s->mode, &s->spans_raw);
	if (s->mode == LM_ARRAY)
	{
		for (int i = 0; i < s->n; i++)
		{
			if (i > 0)
				buf_char(out, ',');
			ospan_serialize(&s->sp[i], out);
		}
		if (s->flood.len)
		{
			if (s->n > 0)
				buf_char(out, ',');
			buf_add(out, s->flood.p, s->flood.len);
		}
		buf_char(out, ']');
	}
	extra_members(out, &first, &s->extra);
	buf_char(out, '}');
}

static void
oresource_serialize(const OResource *r, Buf *out)
{
	bool		first = true;

	if (r->raw.len)
	{
		buf_add(out, r->raw.p, r->raw.len);
		return;
	}
	buf_char(out, '{');
	if (pre_shadowed(&r->pre, "scopeSpans", r->mode != LM_ABSENT) ||
		pre_shadowed(&r->pre, "resource", r->res_mode != RM_ABSENT))
		extra_members(out, &first, &r->pre);
	if (r->res_mode == RM_NULL)
		member_text(out, &first, "resource", "null", 4);
	else if (r->res_mode == RM_RAW)
		member_text(out, &first, "resource", r->res_raw.p, r->res_raw.len);
	else if (r->res_mode == RM_OBJECT)
	{
		bool		rfirst = true;

		member_text(out, &first, "resource", "{", 1);
		al_serialize(&r->attrs, out, &rfirst);
		extra_members(out, &rfirst, &r->res_extra);
		buf_char(out, '}');
	}
	list_member(out, &first, "scopeSpans", r->mode, &r->scopes_raw);
	if (r->mode == LM_ARRAY)
	{
		for (int i = 0; i < r->n; i++)
		{
			if (i > 0)
				buf_char(out, ',');
			oscope_serialize(&r->sc[i], out);
		}
		buf_char(out, ']');
	}
	extra_members(out, &first, &r->extra);
	buf_char(out, '}');
}

static void
obody_serialize(const OBody *b, Buf *out)
{
	bool		first = true;

	buf_reset(out);
	if (b->raw.len)
	{
		buf_add(out, b->raw.p, b->raw.len);
		return;
	}
	buf_char(out, '{');
	list_member(out, &first, "resourceSpans", b->mode, &b->rs_raw);
	if (b->mode == LM_ARRAY)
	{
		for (int i = 0; i < b->n; i++)
		{
			if (i > 0)
				buf_str(out, i % 7 == 3 ? ",\n" : ",");
			oresource_serialize(&b->rs[i], out);
		}
		buf_char(out, ']');
	}
	extra_members(out, &first, &b->extra);
	buf_char(out, '}');
}

/* "resourceSpans[r].scopeSpans[s].spans[n]", as errors and duplicateSpans name a span. */
static void
span_path(Buf *out, int r, int s, int n)
{
	buf_fmt(out, "resourceSpans[%d].scopeSpans[%d].spans[%d]", r, s, n);
}

/* ------------------------------------------------------------------------
 * The oracle.
 */
typedef struct Interp
{
	bool		last_wins;		/* of duplicate attribute keys, the last counts */
	bool		skip_empty;		/* an empty value (null, {}, "") passes to the next source */
	bool		strict_types;	/* a malformed AnyValue is refused, not read as absent */
} Interp;

/* Why a verdict is unsure (for the summary). */
enum
{
	R_DUP_KEY, R_EMPTY, R_TYPES,	/* the three Interp axes */
	R_META, R_TIME_EDGE, R_TIME_FORM, R_END_FORM, R_ENV_CASE, R_NUMBER, R_ONEOF, R_LAX_SHAPE,
	R_TEXT, R_DEEP, R_LIMIT_ORDER,
	NUM_REASONS
};

#define RB(x) (1 << (x))

static const char *const reason_names[NUM_REASONS] = {
	"duplicate attribute keys: first or last wins",
	"an empty value (null, {}, \"\") in a higher-priority attribute",
	"a malformed AnyValue ({\"intValue\": true}, intValue \"abc\", bytesValue)",
	"metadata.otel over 8192 bytes (long traceId, spanId, service, operation, responseModel)",
	"startTimeUnixNano at an edge of the retention window",
	"startTimeUnixNano in a form README does not settle (12.0, \"+1\", \" 1\")",
	"endTimeUnixNano not a time (0, negative, garbage): ignored or refused",
	"an environment synonym in other letter case (PRODUCTION, Stage)",
	"a number at the edge of a field's rules",
	"an AnyValue with several members",
	"a non-object value where no field reads it",
	"a text mutation",
	"nesting deeper than the jsonb parser's stack",
	"the batch limit and another refusal in one body",
};

static bool
av_empty(const OAttr *o, const Interp *in, int field)
{
	switch (o->cls)
	{
		case AVC_JNULL:
		case AVC_EMPTY:
			return true;
		case AVC_WEIRD:
			return !in->strict_types;
		case AVC_STRING:
			return o->s.len == 0 && field >= 0 && is_string_field(field) && !is_required(field);
		default:
			return false;
	}
}

/* The occurrence of each known attribute that counts, under "in". */
static void
list_resolve(const AttrList *l, const Interp *in, const OAttr **res)
{
	for (int a = 0; a < NUM_OA; a++)
		res[a] = NULL;
	if (l->mode != LM_ARRAY)
		return;
	for (int i = 0; i < l->n; i++)
	{
		const OAttr *o = &l->a[i];

		if (o->known < 0 || o->cls == AVC_NONE)
			continue;
		if (res[o->known] == NULL || in->last_wins)
			res[o->known] = o;
	}
}

/*
 * The shape of an attribute list: *always, whatever reads it; *if_read,
 * when a GenAI span reads it (a known attribute's value not an object).
 */
static void
list_shape(const AttrList *l, const OAttr *const *res, Verdict *always, Verdict *if_read, int *why)
{
	*always = *if_read = V_VALID;
	if (l->mode == LM_RAW)
	{
		*always = V_INVALID;
		return;
	}
	if (l->mode != LM_ARRAY)
		return;
	for (int i = 0; i < l->n; i++)
	{
		const OAttr *o = &l->a[i];

		if (o->known == OK_NOT_OBJECT || o->known == OK_BAD_KEY)
			*always = V_INVALID;
		else if (o->cls == AVC_NOT_OBJECT)
		{
			if (o->known >= 0 && res[o->known] == o)
				*if_read = V_INVALID;
			else
			{
				*always = worse(*always, V_UNSURE);
				*why |= RB(R_LAX_SHAPE);
			}
		}
	}
}

static bool
span_is_genai(const OAttr *const *a, const Interp *in)
{
	static const int keys[] = {OA_OPS_MODEL, OA_REQUEST_MODEL, OA_RESPONSE_MODEL};

	for (int k = 0; k < 3; k++)
		if (a[keys[k]] && !(in->skip_empty && av_empty(a[keys[k]], in, F_MODEL)))
			return true;
	return false;
}

static const OAttr *
field_attr(int field, const OAttr *const *span, const OAttr *const *res, const Interp *in)
{
	const OtSource *src = ot_source(field);

	for (int pass = 0; pass < (src->resource ? 2 : 1); pass++)
		for (int k = 0; k < src->n; k++)
		{
			const OAttr *o = (pass ? res : span)[src->attrs[k]];

			if (o == NULL || (in->skip_empty && av_empty(o, in, field)))
				continue;
			return o;
		}
	return NULL;
}

typedef enum FvKind
{
	FV_ABSENT,
	FV_STRING,
	FV_NUMBER,
	FV_OTHER,					/* bool, array, object, or refused as malformed */
	FV_UNSURE
} FvKind;

static FvKind
field_value(const OAttr *o, const Interp *in, int *why)
{
	if (o == NULL)
		return FV_ABSENT;
	switch (o->cls)
	{
		case AVC_STRING:
			return FV_STRING;
		case AVC_BYTES:
		case AVC_INTSTR:
			return in->strict_types ? FV_OTHER : FV_STRING;
		case AVC_INT:
		case AVC_NUM:
			return FV_NUMBER;
		case AVC_EMPTY:
		case AVC_JNULL:
		case AVC_NONE:
			return FV_ABSENT;
		case AVC_WEIRD:
			return in->strict_types ? FV_OTHER : FV_ABSENT;
		case AVC_MULTI:
			*why |= RB(R_ONEOF);
			return FV_UNSURE;
		default:
			return FV_OTHER;
	}
}

/* A string field's verdict. */
static Verdict
check_string(const OAttr *o, int f, const Interp *in, int *why)
{
	switch (field_value(o, in, why))
	{
		case FV_ABSENT:
			return is_required(f) ? V_INVALID : V_VALID;
		case FV_STRING:
			{
				int64_t		n = utf8_chars(o->s.p ? o->s.p : "", o->s.len);

				if (n == 0)
					return is_required(f) ? V_INVALID : V_VALID;
				return n <= max_chars[f] ? V_VALID : V_INVALID;
			}
		case FV_UNSURE:
			return V_UNSURE;
		default:
			return V_INVALID;
	}
}

/* A token count's verdict; its value into *v when known. */
static Verdict
check_tokens(const OAttr *o, const Interp *in, int *why, bool *present, bool *known, int64_t *v)
{
	*present = false;
	*known = true;
	*v = 0;
	switch (field_value(o, in, why))
	{
		case FV_ABSENT:
			return V_VALID;
		case FV_NUMBER:
			*present = true;
			if (o->cls == AVC_INT)
			{
				*v = o->ival;
				return o->ival >= 0 && o->ival <= 1000000000000000LL ? V_VALID : V_INVALID;
			}
			if (o->vt == V_VALID)
			{
				*v = o->ival;
				return o->ival <= 1000000000000000LL ? V_VALID : V_INVALID;
			}
			*known = false;
			if (o->vt == V_UNSURE)
				*why |= RB(R_NUMBER);
			return o->vt;
		case FV_UNSURE:
			*present = true;
			*known = false;
			return V_UNSURE;
		default:
			return V_INVALID;
	}
}

static bool
ascii_caseeq(const char *a, size_t alen, const char *b)
{
	if (alen != strlen(b))
		return false;
	for (size_t i = 0; i < alen; i++)
	{
		char		x = a[i],
					y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char) (x - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

static bool
str_eq(const Buf *s, const char *lit)
{
	return s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

/* Byte length of s clipped to at most "limit" bytes on a character boundary. */
static size_t
utf8_clip(const char *s, size_t len, size_t limit)
{
	size_t		n;

	if (len <= limit)
		return len;
	n = limit;
	while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

/* A span's start must lie within the raw retention and at most 5 minutes ahead. */
static Verdict
check_window(int64_t ns, time_t now, int *why)
{
	int64_t		t = ns / 1000000000;
	int64_t		oldest = (int64_t) now - 30 * 86400;

	if (t >= oldest + 60 && t <= (int64_t) now + 240)
		return V_VALID;
	if (t < oldest - 60 || t > (int64_t) now + 360)
		return V_INVALID;
	*why |= RB(R_TIME_EDGE);
	return V_UNSURE;
}

typedef struct SpanOut
{
	bool		genai;
	Verdict		shape;			/* of the span, GenAI or not */
	Verdict		v;				/* GenAI: of the event */
	int			why;
	Buf			id;				/* GenAI, not invalid: its externalRequestId ... */
	bool		id_known;		/* ... when known */
} SpanOut;

static void
span_eval(const OSpan *sp, const OAttr *const *ra, const Interp *in, time_t now, SpanOut *out)
{
	const OAttr *a[NUM_OA];
	Verdict		always,
				if_read,
				v = V_VALID;
	int			why = 0;
	static const int strings[] = {F_PROVIDER, F_MODEL, F_ERROR_CODE, F_PROMPT_VERSION, F_ENDPOINT_TAG,
	F_USER_ID, F_TENANT_ID};
	static const int tokens[] = {F_INPUT, F_OUTPUT, F_CACHED, F_REASONING};
	bool		present[4],
				known[4];
	int64_t		val[4];

	out->genai = false;
	out->shape = V_VALID;
	out->v = V_VALID;
	out->why = 0;
	out->id_known = false;
	buf_reset(&out->id);
	if (sp->raw.len || sp->attrs.mode == LM_RAW)
	{
		out->shape = V_INVALID;
		return;
	}
	list_resolve(&sp->attrs, in, a);
	list_shape(&sp->attrs, a, &always, &if_read, &why);
	out->genai = span_is_genai(a, in);
	if (!out->genai)
	{
		/* a skipped span: README skips it, the code still checks its values' shape */
		if (if_read != V_VALID)
			why |= RB(R_LAX_SHAPE);
		out->shape = worse(always, if_read == V_VALID ? V_VALID : V_UNSURE);
		out->why = why;
		return;
	}
	out->shape = worse(always, if_read);

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		v = worse(v, check_string(field_attr(strings[i], a, ra, in), strings[i], in, &why));

	/* externalRequestId: an attribute, else <traceId>-<spanId> */
	{
		const OAttr *o = field_attr(F_ID, a, ra, in);

		switch (field_value(o, in, &why))
		{
			case FV_STRING:
				if (o->s.len == 0 || utf8_chars(o->s.p, o->s.len) > 128)
					v = V_INVALID;
				else
				{
					buf_add(&out->id, o->s.p, o->s.len);
					out->id_known = true;
				}
				break;
			case FV_ABSENT:
				if (sp->trace_str && sp->sid_str)
				{
					buf_add(&out->id, sp->trace.p ? sp->trace.p : "", sp->trace.len);
					buf_char(&out->id, '-');
					buf_add(&out->id, sp->sid.p ? sp->sid.p : "", sp->sid.len);
					if (utf8_chars(out->id.p, out->id.len) > 128)
						v = V_INVALID;
					else
						out->id_known = true;
				}
				else
					v = V_INVALID;
				break;
			case FV_UNSURE:
				v = worse(v, V_UNSURE);
				break;
			default:
				v = V_INVALID;
		}
	}

	for (int i = 0; i < 4; i++)
		v = worse(v, check_tokens(field_attr(tokens[i], a, ra, in), in, &why, &present[i], &known[i], &val[i]));
	for (int part = 2; part <= 3; part++)
	{
		int			whole = part - 2;

		if (!present[part])
			continue;
		if (known[part] && known[whole])
		{
			if (val[part] > val[whole])
				v = V_INVALID;
		}
		else
			v = worse(v, V_UNSURE);
	}

	/* costUsd */
	{
		const OAttr *o = field_attr(F_COST, a, ra, in);

		switch (field_value(o, in, &why))
		{
			case FV_ABSENT:
				break;
			case FV_NUMBER:
				if (o->cls == AVC_INT)
					v = worse(v, o->ival >= 0 && o->ival <= 1000000000 ? V_VALID : V_INVALID);
				else
				{
					if (o->vc == V_UNSURE)
						why |= RB(R_NUMBER);
					v = worse(v, o->vc);
				}
				break;
			case FV_UNSURE:
				v = worse(v, V_UNSURE);
				break;
			default:
				v = V_INVALID;
		}
	}

	/* dataMode and environment: labels (and, for environment, OpenTelemetry's names) */
	for (int k = 0; k < 2; k++)
	{
		int			f = k == 0 ? F_DATA_MODE : F_ENVIRONMENT;
		const OAttr *o = field_attr(f, a, ra, in);

		switch (field_value(o, in, &why))
		{
			case FV_ABSENT:
				break;
			case FV_STRING:
				if (f == F_DATA_MODE)
					v = worse(v, str_eq(&o->s, "real") || str_eq(&o->s, "test") || str_eq(&o->s, "demo")
							  ? V_VALID : V_INVALID);
				else if (ascii_caseeq(o->s.p, o->s.len, "prod") || ascii_caseeq(o->s.p, o->s.len, "staging") ||
						 ascii_caseeq(o->s.p, o->s.len, "dev") || ascii_caseeq(o->s.p, o->s.len, "production") ||
						 ascii_caseeq(o->s.p, o->s.len, "development") || ascii_caseeq(o->s.p, o->s.len, "stage"))
					;			/* compared in lower case */
				else
					v = V_INVALID;
				break;
			case FV_UNSURE:
				v = worse(v, V_UNSURE);
				break;
			default:
				v = V_INVALID;
		}
	}

	/* the start is the event's timestamp; the end gives latencyMs */
	switch (sp->start_cls)
	{
		case TC_OK:
			v = worse(v, check_window(sp->start_ns, now, &why));
			break;
		case TC_ODD:
			why |= RB(R_TIME_FORM);
			v = worse(v, V_UNSURE);
			break;
		default:
			v = V_INVALID;
	}
	if (sp->end_cls == TC_ODD)
	{
		why |= RB(R_END_FORM);
		v = worse(v, V_UNSURE);
	}
	else if (sp->end_cls == TC_OK && sp->start_cls == TC_OK)
	{
		if (sp->end_ns < sp->start_ns)
			v = V_INVALID;
		else
		{
			int64_t		took = sp->end_ns - sp->start_ns;
			int64_t		ms = took / 1000000 + (took % 1000000 >= 500000 ? 1 : 0);

			if (ms > 2147483647)
				v = V_INVALID;
		}
	}

	/* metadata.otel: ids, name, operation, responseModel, service, each cut to 200 bytes */
	{
		size_t		bytes = 0;
		const OAttr *op = a[OA_OPERATION],
				   *rm = a[OA_RESPONSE_MODEL],
				   *svc = ra[OA_SERVICE];
		int			ignore = 0;

		if (sp->trace_str)
			bytes += utf8_clip(sp->trace.p ? sp->trace.p : "", sp->trace.len, 200);
		if (sp->sid_str)
			bytes += utf8_clip(sp->sid.p ? sp->sid.p : "", sp->sid.len, 200);
		if (sp->name_str)
			bytes += utf8_clip(sp->name.p ? sp->name.p : "", sp->name.len, 200);
		if (op && field_value(op, in, &ignore) == FV_STRING)
			bytes += utf8_clip(op->s.p, op->s.len, 200);
		if (rm && field_value(rm, in, &ignore) == FV_STRING)
			bytes += utf8_clip(rm->s.p, rm->s.len, 200);
		if (svc && field_value(svc, in, &ignore) == FV_STRING)
			bytes += utf8_clip(svc->s.p, svc->s.len, 200);
		if (bytes > 7000)
		{
			why |= RB(R_META);
			v = worse(v, V_UNSURE);
		}
	}
	out->v = v;
	out->why = why;
}

/* A set of strings (ids within one call). */
typedef struct StrSet
{
	char	  **slot;
	size_t		cap,
				n;
} StrSet;

static uint64_t
fnv1a(const char *s, size_t len)
{
	uint64_t	h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char) s[i]) * 1099511628211ULL;
	return h;
}

/* Adds s; false when it was there already. */
static bool
strset_add(StrSet *set, const char *s, size_t len)
{
	size_t		i;

	if (set->n * 2 >= set->cap)
	{
		StrSet		bigger = {0};

		bigger.cap = set->cap ? set->cap * 2 : 64;
		bigger.slot = calloc(bigger.cap, sizeof(char *));
		if (bigger.slot == NULL)
			exit(2);
		for (size_t k = 0; k < set->cap; k++)
			if (set->slot[k])
			{
				i = fnv1a(set->slot[k], strlen(set->slot[k])) & (bigger.cap - 1);
				while (bigger.slot[i])
					i = (i + 1) & (bigger.cap - 1);
				bigger.slot[i] = set->slot[k];
				bigger.n++;
			}
		free(set->slot);
		*set = bigger;
	}
	i = fnv1a(s, len) & (set->cap - 1);
	while (set->slot[i])
	{
		if (strlen(set->slot[i]) == len && memcmp(set->slot[i], s, len) == 0)
			return false;
		i = (i + 1) & (set->cap - 1);
	}
	set->slot[i] = xmalloc(len + 1);
	memcpy(set->slot[i], s, len);
	set->slot[i][len] = '\0';
	set->n++;
	return true;
}

static void
strset_free(StrSet *set)
{
	for (size_t k = 0; k < set->cap; k++)
		free(set->slot[k]);
	free(set->slot);
	memset(set, 0, sizeof(*set));
}

typedef enum Outcome
{
	OUT_OK,
	OUT_FAIL,
	OUT_UNSURE
} Outcome;

typedef struct BodyOut
{
	Outcome		outcome;
	const char *sqlstate;		/* OUT_FAIL: the refusal, when determined */
	long		genai,
				skipped;
	int			why;
	bool		ids_known;		/* every GenAI span's id known and the case's own */
	long		dups;			/* ... then the duplicates inside the call */
	Buf			dup_paths;		/* jsonb text of duplicateSpans */
	Buf			all_paths;		/* the same for a resend: every GenAI span */
} BodyOut;

/* The prefixes the case's own ids begin with. */
typedef struct Tags
{
	char		id[48];			/* events' ids: "fz<seed>-<case>-" */
	char		trace[24];		/* traceIds, and so "<traceId>-<spanId>" ids */
} Tags;

static bool
has_tag(const Tags *t, const Buf *id)
{
	size_t		a = strlen(t->id),
				b = strlen(t->trace);

	return (id->len >= a && memcmp(id->p, t->id, a) == 0) || (id->len >= b && memcmp(id->p, t->trace, b) == 0);
}

static void
path_list_add(Buf *list, int r, int s, int n)
{
	buf_str(list, list->len > 1 ? ", \"" : "\"");
	span_path(list, r, s, n);
	buf_char(list, '"');
}

/* Reads the whole body under one interpretation, in the server's order. */
static void
body_eval(const OBody *b, const Interp *in, time_t now, int max_batch, const Tags *tags, BodyOut *o)
{
	bool		unsure = false;
	StrSet		ids = {0};
	SpanOut		so = {0};
	const OAttr *ra[NUM_OA];
	const OAttr *none[NUM_OA] = {0};

	o->outcome = OUT_OK;
	o->sqlstate = NULL;
	o->genai = o->skipped = o->dups = 0;
	o->why = 0;
	o->ids_known = true;
	buf_set(&o->dup_paths, "[");
	buf_set(&o->all_paths, "[");

#define FAIL(state) do { o->outcome = OUT_FAIL; o->sqlstate = unsure ? NULL : (state); goto done; } while (0)
	if (b->raw.len || b->mode == LM_RAW)
		FAIL("22023");
	if (b->mode != LM_ARRAY)
		goto done;
	for (int r = 0; r < b->n; r++)
	{
		const OResource *R = &b->rs[r];
		Verdict		always = V_VALID,
					if_read = V_VALID;
		bool		reads = false;

		if (R->raw.len || R->res_mode == RM_RAW)
			FAIL("22023");
		if (R->res_mode == RM_OBJECT)
		{
			if (R->attrs.mode == LM_RAW)
				FAIL("22023");
			list_resolve(&R->attrs, in, ra);
			list_shape(&R->attrs, ra, &always, &if_read, &o->why);
		}
		else
			memcpy(ra, none, sizeof(ra));
		/* does a GenAI span read this resource? */
		if (R->mode == LM_ARRAY)
			for (int s = 0; s < R->n && !reads; s++)
				if (!R->sc[s].raw.len && R->sc[s].mode == LM_ARRAY)
					for (int n = 0; n < R->sc[s].n && !reads; n++)
					{
						const OSpan *sp = &R->sc[s].sp[n];
						const OAttr *a[NUM_OA];

						if (sp->raw.len || sp->attrs.mode != LM_ARRAY)
							continue;
						list_resolve(&sp->attrs, in, a);
						reads = span_is_genai(a, in);
					}
		if (always == V_INVALID)
			FAIL("22023");
		if (always == V_UNSURE)
			unsure = true;
		if (if_read == V_INVALID)
		{
			if (reads)
				FAIL("22023");
			unsure = true;
			o->why |= RB(R_LAX_SHAPE);
		}
		if (R->mode == LM_RAW)
			FAIL("22023");
		if (R->mode != LM_ARRAY)
			continue;
		for (int s = 0; s < R->n; s++)
		{
			const OScope *S = &R->sc[s];

			if (S->raw.len || S->mode == LM_RAW)
				FAIL("22023");
			if (S->mode != LM_ARRAY)
				continue;
			for (int n = 0; n < S->n; n++)
			{
				span_eval(&S->sp[n], ra, in, now, &so);
				o->why |= so.why;
				if (so.shape == V_INVALID)
					FAIL("22023");
				if (so.shape == V_UNSURE)
					unsure = true;
				if (!so.genai)
				{
					o->skipped++;
					continue;
				}
				if (++o->genai > max_batch)
				{
					if (unsure)
						o->why |= RB(R_LIMIT_ORDER);
					FAIL("54000");
				}
				path_list_add(&o->all_paths, r, s, n);
				if (so.v == V_INVALID)
					FAIL("22023");
				if (so.v == V_UNSURE)
					unsure = true;
				if (!so.id_known || !has_tag(tags, &so.id))
					o->ids_known = false;
				else if (!strset_add(&ids, so.id.p, so.id.len))
				{
					o->dups++;
					path_list_add(&o->dup_paths, r, s, n);
				}
			}
			o->skipped += S->nflood;
		}
	}
done:
#undef FAIL
	if (o->outcome == OUT_OK && unsure)
		o->outcome = OUT_UNSURE;
	buf_char(&o->dup_paths, ']');
	buf_char(&o->all_paths, ']');
	buf_free(&so.id);
	strset_free(&ids);
}

/* Span objects in the body's arrays: received + skippedSpans of any success. */
static long
body_span_count(const OBody *b)
{
	long		n = 0;

	if (b->raw.len || b->mode != LM_ARRAY)
		return 0;
	for (int r = 0; r < b->n; r++)
		if (!b->rs[r].raw.len && b->rs[r].mode == LM_ARRAY)
			for (int s = 0; s < b->rs[r].n; s++)
				if (!b->rs[r].sc[s].raw.len && b->rs[r].sc[s].mode == LM_ARRAY)
					n += b->rs[r].sc[s].n + b->rs[r].sc[s].nflood;
	return n;
}

static bool
same_outcome(const BodyOut *x, const BodyOut *y)
{
	if (x->outcome != y->outcome)
		return false;
	if (x->outcome == OUT_FAIL)
		return (x->sqlstate == NULL) == (y->sqlstate == NULL) &&
			(x->sqlstate == NULL || strcmp(x->sqlstate, y->sqlstate) == 0);
	if (x->outcome == OUT_UNSURE)
		return true;
	return x->genai == y->genai && x->skipped == y->skipped && x->ids_known == y->ids_known &&
		(!x->ids_known || (x->dups == y->dups && strcmp(x->dup_paths.p, y->dup_paths.p) == 0));
}

/* What the server must do with the body, over every interpretation. */
typedef struct OtExpect
{
	Verdict		verdict;
	const char *sqlstate;		/* V_INVALID: the refusal, when determined */
	bool		counts_known;	/* V_VALID: received and skippedSpans are ... */
	long		genai,
				skipped;
	bool		ids_known;		/* ... and the duplicates too */
	long		dups;
	Buf			dup_paths,
				all_paths;
	int			why;			/* R_* behind an unsure verdict */
} OtExpect;

static void
otlp_expect(const OBody *b, time_t now, int max_batch, const Tags *tags, OtExpect *e)
{
	BodyOut		out[8];
	bool		all_same = true,
				all_fail = true,
				all_ok = true,
				same_counts = true;

	memset(out, 0, sizeof(out));
	for (int i = 0; i < 8; i++)
	{
		Interp		in = {(i & 1) != 0, (i & 2) != 0, (i & 4) != 0};

		body_eval(b, &in, now, max_batch, tags, &out[i]);
		e->why |= out[i].why;
		if (!same_outcome(&out[i], &out[0]))
			all_same = false;
		if (out[i].outcome != OUT_FAIL)
			all_fail = false;
		if (out[i].outcome != OUT_OK)
			all_ok = false;
		else if (out[i].genai != out[0].genai || out[i].skipped != out[0].skipped)
			same_counts = false;
	}
	/* an axis matters when flipping it alone changes the outcome */
	for (int axis = 0; axis < 3; axis++)
		for (int i = 0; i < 8; i++)
			if (!(i & (1 << axis)) && !same_outcome(&out[i], &out[i | (1 << axis)]))
				e->why |= RB(axis);
	e->sqlstate = NULL;
	e->counts_known = e->ids_known = false;
	buf_set(&e->dup_paths, "[]");
	buf_set(&e->all_paths, "[]");
	if (all_ok)
	{
		/* accepted whichever way it is read; the counts and ids where all agree */
		e->verdict = V_VALID;
		e->counts_known = same_counts;
		e->genai = out[0].genai;
		e->skipped = out[0].skipped;
		e->ids_known = all_same && out[0].ids_known;
		e->dups = out[0].dups;
		buf_set(&e->dup_paths, out[0].dup_paths.p);
		if (same_counts && all_same)
			buf_set(&e->all_paths, out[0].all_paths.p);
	}
	else if (all_fail)
	{
		e->verdict = V_INVALID;
		e->sqlstate = all_same ? out[0].sqlstate : NULL;
	}
	else
		e->verdict = V_UNSURE;
	for (int i = 0; i < 8; i++)
	{
		buf_free(&out[i].dup_paths);
		buf_free(&out[i].all_paths);
	}
}

/* ------------------------------------------------------------------------
 * OTLP cases.
 */
typedef struct OtlpCase
{
	OBody		body;
	Tags		tags;
	OtExpect	e;
	long		total_spans;	/* span objects: received + skippedSpans of any success; -1 unknown */
	long		gen_genai,		/* clean: what the generator built */
				gen_skipped,
				gen_dups;
	bool		tree_sent;		/* the payload is the tree as serialised (no text mutation) */
	bool		parser_unsure;	/* nesting the jsonb parser may refuse (54001) */
	Buf			setup;			/* SQL run before the call, in its transaction */
	int			payload_limit;	/* 1: opsmeter.max_payload_bytes one byte below the body's size; 2: at it */
	char		driver_error[160];	/* the oracle disagrees with the generator */
} OtlpCase;

static void
otlp_case_free(OtlpCase *ot)
{
	if (ot == NULL)
		return;
	obody_free(&ot->body);
	buf_free(&ot->e.dup_paths);
	buf_free(&ot->e.all_paths);
	buf_free(&ot->setup);
	free(ot);
}

static void
hex_text(Rng *r, Buf *out, int digits)
{
	for (int i = 0; i < digits; i++)
		buf_char(out, "0123456789abcdef"[rng_below(r, 16)]);
}

/* The UTC instant of Unix nanoseconds, as read_back() compares timestamps. */
static void
ns_utc(int64_t ns, Buf *out)
{
	time_t		t = (time_t) (ns / 1000000000);
	struct tm	tm;
	char		s[64];

	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S", &tm);
	buf_reset(out);
	buf_fmt(out, "%s.%06d+00", s, (int) ((ns % 1000000000) / 1000));
}

/* Unix nanoseconds as OTLP/JSON writes them (a string), or as a JSON number. */
static void
ns_json(Rng *r, Buf *out, int64_t ns)
{
	buf_reset(out);
	if (ns % 1000 == 0 && rng_chance(r, 50))
		buf_fmt(out, "%" PRId64 "e3", ns / 1000);
	else if (rng_chance(r, 200))
		buf_fmt(out, "%" PRId64, ns);
	else
		buf_fmt(out, "\"%" PRId64 "\"", ns);
}

/* A start well inside the window: 2 minutes to 29 days ago. */
static int64_t
valid_start_ns(Rng *r, const Ctx *ctx)
{
	int64_t		t = (int64_t) ctx->now - rng_range(r, 120, 29 * 86400);
	int64_t		frac = rng_range(r, 0, 999999999);

	if (rng_chance(r, 300))
		frac -= frac % 1000;	/* microseconds, as JavaScript exporters send */
	return t * 1000000000 + frac;
}

/* JSON text of a string, escaped plainly (for expected values sent to SQL). */
static void
json_plain(Buf *out, const char *s, size_t len)
{
	buf_char(out, '"');
	for (size_t i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c == '"' || c == '\\')
		{
			buf_char(out, '\\');
			buf_char(out, (char) c);
		}
		else if (c < 0x20)
			buf_fmt(out, "\\u%04x", c);
		else
			buf_char(out, (char) c);
	}
	buf_char(out, '"');
}

static void
attr_string(Rng *r, AttrList *l, int a, const char *s, size_t len)
{
	OAttr	   *o = al_push(l);

	oattr_set_known(r, o, a);
	av_string(r, o, s, len, false);
}

static void
attr_unknown(Rng *r, AttrList *l, const char *name, int kind)
{
	OAttr	   *o = al_push(l);

	oattr_set_key(r, o, name, strlen(name));
	switch (kind)
	{
		case 0:
			{
				Buf			raw = {0};

				random_text(r, &raw, rng_range(r, 1, 30), rng_chance(r, 700) ? ALPHA_IDENT : ALPHA_UNICODE);
				av_string(r, o, raw.p, raw.len, false);
				buf_free(&raw);
			}
			break;
		case 1:
			av_int(r, o, rng_range(r, 0, 100000));
			break;
		default:
			av_random(r, o, -1, 300);
			if (o->cls == AVC_NOT_OBJECT)
				av_int(r, o, 1);	/* README does not say what a non-object value of an unknown key does */
	}
}

/* A value of any AnyValue kind for an attribute no field will read. */
static void
attr_distractor(Rng *r, AttrList *l, int a)
{
	OAttr	   *o = al_push(l);

	oattr_set_known(r, o, a);
	do
		av_random(r, o, -1, 300);
	while (o->cls == AVC_NOT_OBJECT);
}

static void
shuffle_attrs(Rng *r, AttrList *l)
{
	for (int i = l->n - 1; i > 0; i--)
	{
		int			j = (int) rng_below(r, (uint64_t) i + 1);
		OAttr		t = l->a[i];

		l->a[i] = l->a[j];
		l->a[j] = t;
	}
}

static const char *const env_names[][2] = {{"prod", "production"}, {"staging", "stage"}, {"dev", "development"}};

/* An environment label as a span would say it: the label or OpenTelemetry's name. */
static const char *
env_text(Rng *r, const char *label)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(label, env_names[i][0]) == 0)
			return env_names[i][rng_chance(r, 500) ? 0 : 1];
	return label;
}

/* The fields a service sets once, which may come from the resource. */
static const int resource_fields[] = {F_USER_ID, F_TENANT_ID, F_ENDPOINT_TAG, F_PROMPT_VERSION, F_DATA_MODE,
F_ENVIRONMENT};

#define NUM_RESOURCE_FIELDS ((int) (sizeof(resource_fields) / sizeof(resource_fields[0])))

typedef struct ResVals
{
	bool		set[NUM_KNOWN_FIELDS];
	Buf			v[NUM_KNOWN_FIELDS];	/* as stored (environment: the label) */
} ResVals;

/* A valid value of field f, as stored, into raw. */
static void
resource_value(Rng *r, int f, Buf *raw)
{
	if (f == F_DATA_MODE)
		buf_set(raw, PICK(r, data_modes));
	else if (f == F_ENVIRONMENT)
		buf_set(raw, PICK(r, environments));
	else
		valid_string(r, f, raw);
}

/* Adds field f's value under one of its attribute names, sometimes with a lower-priority decoy. */
static void
emit_string_field(Rng *r, AttrList *l, int f, const char *raw, size_t len, bool lean)
{
	const OtSource *src = ot_source(f);
	int			k = (int) rng_below(r, (uint64_t) src->n);

	if (f == F_ENVIRONMENT)
		raw = env_text(r, raw), len = strlen(raw);
	attr_string(r, l, src->attrs[k], raw, len);
	if (!lean && k + 1 < src->n && rng_chance(r, 150))
		attr_distractor(r, l, src->attrs[k + 1 + (int) rng_below(r, (uint64_t) (src->n - k - 1))]);
}

static void
emit_int_field(Rng *r, AttrList *l, int f, int64_t v, bool lean)
{
	const OtSource *src = ot_source(f);
	int			k = (int) rng_below(r, (uint64_t) src->n);
	OAttr	   *o = al_push(l);

	oattr_set_known(r, o, src->attrs[k]);
	av_int(r, o, v);
	if (!lean && k + 1 < src->n && rng_chance(r, 150))
		attr_distractor(r, l, src->attrs[k + 1]);
}

static void
resource_build(Rng *r, OResource *R, ResVals *rv, bool lean)
{
	static const char *const services[] = {"checkout", "support-bot", "search", "agent-runner", "billing"};

	memset(rv, 0, sizeof(*rv));
	switch (rng_below(r, 25))
	{
		case 0:
			R->res_mode = RM_ABSENT;
			return;
		case 1:
			R->res_mode = RM_NULL;
			return;
		case 2:
			R->attrs.mode = PICK(r, ((const ListMode[]) {LM_ABSENT, LM_NULL, LM_ARRAY}));
			return;
		default:
			break;
	}
	if (rng_chance(r, 750))
	{
		Buf			svc = {0};

		if (rng_chance(r, 700))
			buf_str(&svc, PICK(r, services));
		else
			random_text(r, &svc, rng_chance(r, 100) ? rng_range(r, 200, 1500) : rng_range(r, 1, 30), ALPHA_UNICODE);
		attr_string(r, &R->attrs, OA_SERVICE, svc.p, svc.len);
		buf_free(&svc);
	}
	if (!lean && rng_chance(r, 500))
		attr_unknown(r, &R->attrs, PICK(r, ((const char *[]) {"telemetry.sdk.language", "telemetry.sdk.name",
															   "host.name", "process.pid", "service.version"})),
					 (int) rng_below(r, 3));
	for (int i = 0; i < NUM_RESOURCE_FIELDS; i++)
	{
		int			f = resource_fields[i];

		if (!rng_chance(r, 300))
			continue;
		rv->set[f] = true;
		resource_value(r, f, &rv->v[f]);
		emit_string_field(r, &R->attrs, f, rv->v[f].p, rv->v[f].len, lean);
	}
	/* attributes only a span's own list is read for: ignored on a resource */
	if (!lean && rng_chance(r, 100))
		attr_distractor(r, &R->attrs, PICK(r, ((const int[]) {OA_REQUEST_MODEL, OA_INPUT, OA_COST, OA_ERROR_TYPE,
															   OA_OPS_ID, OA_SYSTEM})));
	shuffle_attrs(r, &R->attrs);
	if (rng_chance(r, 100))
		buf_str(&R->res_extra, "\"droppedAttributesCount\":0");
}

/* A span that is not a model call: HTTP, database, an agent's tool. */
static void
nongenai_span(Rng *r, const Ctx *ctx, OSpan *sp, const Buf *trace, bool lean)
{
	int			kind = (int) rng_below(r, 5);
	int64_t		start = valid_start_ns(r, ctx);

	json_quote(r, &sp->trace_json, trace->p, trace->len);
	hex_text(r, &sp->sid, 16);
	buf_fmt(&sp->sid_json, "\"%s\"", sp->sid.p);
	sp->trace_str = sp->sid_str = true;
	buf_set(&sp->trace, trace->p);
	buf_set(&sp->name, PICK(r, ((const char *[]) {"POST /v1/chat/completions", "SELECT orders", "execute_tool lookup",
												   "invoke_agent planner", "GET /health"})));
	sp->name_str = true;
	json_quote(r, &sp->name_json, sp->name.p, sp->name.len);
	/* times are read for GenAI spans only */
	switch (rng_below(r, 12))
	{
		case 0:
			sp->start_cls = TC_ABSENT;
			break;
		case 1:
			sp->start_cls = TC_BAD;
			buf_set(&sp->start_json, PICK(r, ((const char *[]) {"\"soon\"", "-1", "0", "1.5", "true", "{}"})));
			break;
		default:
			sp->start_cls = TC_OK;
			sp->start_ns = start;
			ns_json(r, &sp->start_json, start);
	}
	if (rng_chance(r, 600))
	{
		sp->end_cls = TC_OK;
		sp->end_ns = start + rng_range(r, 0, 5000000000LL);
		ns_json(r, &sp->end_json, sp->end_ns);
	}
	if (kind == 0 || kind == 4)
	{
		attr_unknown(r, &sp->attrs, "http.request.method", 0);
		if (!lean)
			attr_unknown(r, &sp->attrs, "http.response.status_code", 1);
	}
	else if (kind == 1)
		attr_unknown(r, &sp->attrs, "db.system.name", 0);
	else
	{
		attr_string(r, &sp->attrs, OA_OPERATION, kind == 2 ? "execute_tool" : "invoke_agent", 12);
		attr_unknown(r, &sp->attrs, kind == 2 ? "gen_ai.tool.name" : "gen_ai.agent.name", 0);
		/* known attributes with any AnyValue: a skipped span's values are not read */
		if (!lean && rng_chance(r, 300))
			attr_distractor(r, &sp->attrs, PICK(r, ((const int[]) {OA_INPUT, OA_SYSTEM, OA_ERROR_TYPE, OA_COST,
																	OA_OPS_ID, OA_DATA_MODE, OA_OPS_ENV})));
		if (!lean && rng_chance(r, 200))
			attr_string(r, &sp->attrs, OA_PROVIDER_NAME, "openai", 6);
	}
	if (rng_chance(r, 300))
		buf_str(&sp->status_json, PICK(r, ((const char *[]) {"{}", "{\"code\":2}", "{\"code\":1}", "{\"code\":\"STATUS_CODE_ERROR\"}"})));
	shuffle_attrs(r, &sp->attrs);
}

/* The expected metadata.otel of a GenAI span, as the code builds it. */
static void
expected_metadata(const OSpan *sp, const AttrList *res, Buf *out)
{
	const Interp in = {false, false, false};
	const OAttr *a[NUM_OA],
			   *ra[NUM_OA];
	bool		first = true;

	list_resolve(&sp->attrs, &in, a);
	if (res)
		list_resolve(res, &in, ra);
	else
		memset(ra, 0, sizeof(ra));
	buf_reset(out);
	buf_str(out, "{\"otel\": {");
#define META(key, cond, s, n) do { if (cond) { buf_str(out, first ? "" : ", "); first = false; \
			buf_str(out, "\"" key "\": "); json_plain(out, (s), (n)); } } while (0)
	/* every string is cut to 200 bytes, on a character boundary */
	META("traceId", sp->trace_str, sp->trace.p ? sp->trace.p : "", utf8_clip(sp->trace.p ? sp->trace.p : "", sp->trace.len, 200));
	META("spanId", sp->sid_str, sp->sid.p ? sp->sid.p : "", utf8_clip(sp->sid.p ? sp->sid.p : "", sp->sid.len, 200));
	META("name", sp->name_str, sp->name.p ? sp->name.p : "", utf8_clip(sp->name.p ? sp->name.p : "", sp->name.len, 200));
	META("operation", a[OA_OPERATION] && a[OA_OPERATION]->cls == AVC_STRING, a[OA_OPERATION]->s.p,
		 utf8_clip(a[OA_OPERATION]->s.p, a[OA_OPERATION]->s.len, 200));
	META("responseModel", a[OA_RESPONSE_MODEL] && a[OA_RESPONSE_MODEL]->cls == AVC_STRING,
		 a[OA_RESPONSE_MODEL]->s.p, utf8_clip(a[OA_RESPONSE_MODEL]->s.p, a[OA_RESPONSE_MODEL]->s.len, 200));
	META("service", ra[OA_SERVICE] && ra[OA_SERVICE]->cls == AVC_STRING, ra[OA_SERVICE]->s.p,
		 utf8_clip(ra[OA_SERVICE]->s.p, ra[OA_SERVICE]->s.len, 200));
#undef META
	buf_str(out, "}}");
}


/* Where a span sits, by indices (arrays move as they grow). */
typedef struct SpanAt
{
	int			r,
				s,
				n;
} SpanAt;

static OSpan *
span_at(OBody *b, SpanAt at)
{
	return &b->rs[at.r].sc[at.s].sp[at.n];
}

/*
 * A GenAI span carrying event ev, whose expected row is adjusted to what
 * the span makes of it.  "dup" is the span of an earlier event whose id
 * this one repeats (the first write wins): its response id again, or, when
 * it had none, its traceId and spanId again (an exporter's retry).
 */
static void
genai_span(Rng *r, const Ctx *ctx, OSpan *sp, Event *ev, int evi, const Buf *trace, const ResVals *rv,
		   const OSpan *dup, bool dup_fallback, const Buf *dup_id, bool *fallback_out, bool lean)
{
	Expect	   *x = &ev->exp;
	AttrList   *l = &sp->attrs;
	bool		fallback = dup ? dup_fallback : rng_chance(r, 250);
	bool		has_error_code = x->set[F_ERROR_CODE] && x->s[F_ERROR_CODE].len > 0;
	bool		failed = x->set[F_STATUS] && x->s[F_STATUS].p && strcmp(x->s[F_STATUS].p, "true") == 0;
	int64_t		in = x->s[F_INPUT].p ? strtoll(x->s[F_INPUT].p, NULL, 10) : 0;
	int64_t		out = x->s[F_OUTPUT].p ? strtoll(x->s[F_OUTPUT].p, NULL, 10) : 0;
	int64_t		start;

	sp->ev = evi;
	*fallback_out = fallback;
	if (dup && fallback)
	{
		buf_set(&sp->trace, dup->trace.p);
		buf_set(&sp->sid, dup->sid.p);
	}
	else
	{
		buf_set(&sp->trace, trace->p);
		hex_text(r, &sp->sid, 16);
	}
	sp->trace_str = sp->sid_str = true;
	json_quote(r, &sp->trace_json, sp->trace.p, sp->trace.len);
	json_quote(r, &sp->sid_json, sp->sid.p, sp->sid.len);
	if (dup)
	{
		buf_reset(&ev->id);
		buf_add(&ev->id, dup_id->p, dup_id->len);
		x->set[F_ID] = false;	/* not stored: not read back */
	}
	else if (fallback)
	{
		buf_reset(&ev->id);
		buf_fmt(&ev->id, "%s-%s", sp->trace.p, sp->sid.p);
	}
	if (!fallback)
	{
		int			k = (int) rng_below(r, 2);

		attr_string(r, l, k == 0 ? OA_OPS_ID : OA_RESPONSE_ID, ev->id.p, ev->id.len);
		if (k == 0 && !lean && rng_chance(r, 200))
		{
			Buf			other = {0};

			buf_str(&other, "chatcmpl-");
			hex_text(r, &other, 12);
			attr_string(r, l, OA_RESPONSE_ID, other.p, other.len);
			buf_free(&other);
		}
	}

	/* name: often "chat <model>", sometimes long (metadata keeps 200 bytes) */
	switch (rng_below(r, 10))
	{
		case 0:
		case 1:
		case 2:
		case 3:
		case 4:
			buf_fmt(&sp->name, "chat %s", x->s[F_MODEL].p);
			break;
		case 5:
		case 6:
			random_text(r, &sp->name, rng_range(r, 1, 40), ALPHA_UNICODE);
			break;
		case 7:
			random_text(r, &sp->name, rng_range(r, 150, 400), ALPHA_UNICODE);
			break;
		case 8:
			buf_set(&sp->name, "text_completion");
			break;
		default:
			break;				/* no name */
	}
	if (sp->name.len || rng_chance(r, 100))
	{
		sp->name_str = true;
		json_quote(r, &sp->name_json, sp->name.p ? sp->name.p : "", sp->name.len);
	}

	emit_string_field(r, l, F_PROVIDER, x->s[F_PROVIDER].p, x->s[F_PROVIDER].len, lean);
	/* the model asked for; the one that answered is metadata */
	{
		int			k = (int) rng_below(r, 3);
		static const int names[] = {OA_OPS_MODEL, OA_REQUEST_MODEL, OA_RESPONSE_MODEL};

		attr_string(r, l, names[k], x->s[F_MODEL].p, x->s[F_MODEL].len);
		if (k < 2 && !lean && rng_chance(r, 400))
		{
			Buf			dated = {0};

			buf_fmt(&dated, "%s-2024-08-06", x->s[F_MODEL].p);
			attr_string(r, l, OA_RESPONSE_MODEL, dated.p, dated.len);
			buf_free(&dated);
		}
		if (k == 0 && !lean && rng_chance(r, 200))
		{
			const char *m = PICK(r, models);

			attr_string(r, l, OA_REQUEST_MODEL, m, strlen(m));
		}
	}

	/* usage: absent counts are 0 */
	if (in != 0 || rng_chance(r, 700))
		emit_int_field(r, l, F_INPUT, in, lean);
	if (out != 0 || rng_chance(r, 700))
		emit_int_field(r, l, F_OUTPUT, out, lean);
	if (x->set[F_CACHED] && x->s[F_CACHED].len)
		emit_int_field(r, l, F_CACHED, strtoll(x->s[F_CACHED].p, NULL, 10), lean);
	if (x->set[F_REASONING] && x->s[F_REASONING].len)
		emit_int_field(r, l, F_REASONING, strtoll(x->s[F_REASONING].p, NULL, 10), lean);
	/* no attribute gives totalTokens: it is always input + output */
	buf_reset(&x->s[F_TOTAL]);
	buf_fmt(&x->s[F_TOTAL], "%" PRId64, in + out);
	x->set[F_TOTAL] = true;

	if (x->set[F_COST] && x->s[F_COST].len)
	{
		int			at = event_find_last(ev, F_COST);
		const Buf  *json = &ev->f[at].val;
		const char *raw = x->s[F_COST].p;
		const char *dot = strchr(raw, '.');
		OAttr	   *o = al_push(l);
		int64_t		iv;

		oattr_set_known(r, o, OA_COST);
		if (parse_decimal_int64(json->p, json->len, &iv) && rng_chance(r, 500))
			av_int(r, o, iv);
		else
		{
			buf_reset(&o->val);
			buf_fmt(&o->val, "{\"doubleValue\":%s}", json->p);
			o->cls = AVC_NUM;
			o->vc = V_VALID;
			/* as a token count: valid when integral */
			o->vt = V_VALID;
			for (const char *p = dot ? dot + 1 : ""; *p; p++)
				if (*p != '0')
					o->vt = V_INVALID;
			o->ival = strtoll(raw, NULL, 10);
		}
	}

	if (has_error_code)
		attr_string(r, l, OA_ERROR_TYPE, x->s[F_ERROR_CODE].p, x->s[F_ERROR_CODE].len);
	if (failed)
		buf_set(&sp->status_json, PICK(r, ((const char *[]) {"{\"code\":2}", "{\"code\":\"STATUS_CODE_ERROR\"}",
															   "{\"code\":2,\"message\":\"429 Too Many Requests\"}"})));
	else
	{
		const char *st = PICK(r, ((const char *[]) {"", "{}", "{\"code\":0}", "{\"code\":1}", "{\"code\":\"STATUS_CODE_OK\"}",
												  "{\"code\":\"STATUS_CODE_UNSET\"}", "{\"message\":\"fine\"}"}));

		buf_set(&sp->status_json, st);
	}
	/* error.type or status code 2: an error */
	buf_set(&x->s[F_STATUS], failed || has_error_code ? "true" : "false");
	x->set[F_STATUS] = true;

	/* what a service sets once: the span's own value, else its resource's */
	for (int i = 0; i < NUM_RESOURCE_FIELDS; i++)
	{
		int			f = resource_fields[i];

		if (x->set[f] && x->s[f].len > 0)
			emit_string_field(r, l, f, x->s[f].p, x->s[f].len, lean);
		else if (rv->set[f])
		{
			buf_set(&x->s[f], rv->v[f].p);
			x->set[f] = true;
		}
		else if (is_string_field(f) && !lean && rng_chance(r, 60))
			attr_string(r, l, ot_source(f)->attrs[0], "", 0);	/* empty: absent */
	}

	/* the start is the event's time; the end gives latencyMs */
	start = valid_start_ns(r, ctx);
	sp->start_cls = TC_OK;
	sp->start_ns = start;
	ns_json(r, &sp->start_json, start);
	ns_utc(start, &x->s[F_TIMESTAMP]);
	x->set[F_TIMESTAMP] = true;
	if (x->set[F_LATENCY] && x->s[F_LATENCY].len)
	{
		int64_t		ms = strtoll(x->s[F_LATENCY].p, NULL, 10);
		int64_t		d = ms == 0 ? rng_range(r, 0, 499999) : rng_range(r, -500000, 499999);

		sp->end_cls = TC_OK;
		sp->end_ns = start + ms * 1000000 + d;
		ns_json(r, &sp->end_json, sp->end_ns);
	}
	else if (rng_chance(r, 200))
		buf_set(&sp->end_json, "null");

	if (!lean && rng_chance(r, 700))
	{
		const char *op = PICK(r, ((const char *[]) {"chat", "text_completion", "embeddings", "generate_content"}));

		attr_string(r, l, OA_OPERATION, op, strlen(op));
	}
	for (int64_t k = lean ? 0 : rng_small(r, 4); k > 0; k--)
		attr_unknown(r, l, PICK(r, ((const char *[]) {"gen_ai.request.temperature", "gen_ai.request.max_tokens",
													   "gen_ai.response.finish_reasons", "server.address",
													   "gen_ai.usage.total_tokens", "gen_ai.openai.response.service_tier",
													   "gen_ai.conversation.id"})), (int) rng_below(r, 3));
	shuffle_attrs(r, l);
	if (!lean && rng_chance(r, 500))
	{
		buf_str(&sp->extra, "\"kind\":3,\"parentSpanId\":\"");
		hex_text(r, &sp->extra, 16);
		buf_str(&sp->extra, "\",\"flags\":257,\"events\":[],\"links\":[],\"droppedAttributesCount\":0");
	}
	/* the same member twice: jsonb keeps the last */
	if (!lean && rng_chance(r, 50))
		buf_str(&sp->pre, PICK(r, ((const char *[]) {"\"attributes\":7", "\"startTimeUnixNano\":\"soon\"",
													   "\"traceId\":null", "\"attributes\":[{\"key\":1}]"})));
}

/*
 * A valid body of n GenAI spans carrying evs[], among skipped spans, over
 * a few resources and scopes; each event's expected row adjusted to it.
 * "same" makes every event after the first a resend of the first.
 */
static void
otlp_build(Rng *r, const Ctx *ctx, OtlpCase *ot, Event *evs, int n, bool lean, bool same)
{
	OBody	   *b = &ot->body;
	int			nres,
				nbuckets = 0,
				next = 0;
	int		   *counts;
	ResVals    *rv;
	SpanAt	   *at = xmalloc(sizeof(SpanAt) * (size_t) (n ? n : 1));
	bool	   *fallback = xmalloc(sizeof(bool) * (size_t) (n ? n : 1));

	ot->gen_genai = n;
	ot->gen_skipped = ot->gen_dups = 0;
	b->mode = LM_ARRAY;
	if (n == 0 && rng_chance(r, 150))
	{
		b->mode = PICK(r, ((const ListMode[]) {LM_ABSENT, LM_NULL, LM_ARRAY}));
		free(at);
		free(fallback);
		return;
	}
	nres = lean ? (int) rng_range(r, 1, 3) : (int) rng_range(r, 1, 3) + (rng_chance(r, 100) ? (int) rng_range(r, 1, 5) : 0);
	rv = xmalloc(sizeof(ResVals) * (size_t) nres);
	for (int i = 0; i < nres; i++)
	{
		OResource  *R = body_push(b);
		int			nsc = rng_chance(r, 30) ? 0 : (int) rng_range(r, 1, 3);

		resource_build(r, R, &rv[i], lean);
		if (nsc == 0)
			R->mode = PICK(r, ((const ListMode[]) {LM_ABSENT, LM_NULL, LM_ARRAY}));
		for (int s = 0; s < nsc; s++)
		{
			OScope	   *S = resource_push(R);

			if (rng_chance(r, 700))
				buf_str(&S->scope_json, PICK(r, ((const char *[]) {
					"{\"name\":\"@opentelemetry/instrumentation-openai\",\"version\":\"0.21.0\"}",
					"{\"name\":\"opentelemetry.instrumentation.openai_v2\"}", "{}",
				"{\"name\":\"manual\",\"attributes\":[{\"key\":\"gen_ai.system\",\"value\":\"x\"}]}"})));
			if (rng_chance(r, 100))
				buf_str(&S->extra, "\"schemaUrl\":\"https://opentelemetry.io/schemas/1.30.0\"");
			nbuckets++;
		}
		if (rng_chance(r, 50))
			buf_str(&R->extra, "\"schemaUrl\":\"\"");
	}
	/* events go to scopes in order, so the body's order is the events' order */
	counts = calloc((size_t) (nbuckets ? nbuckets : 1), sizeof(int));
	if (nbuckets == 0 && n > 0)
	{
		/* somewhere to put them */
		resource_push(&b->rs[0]);
		b->rs[0].mode = LM_ARRAY;
		nbuckets = 1;
		counts = realloc(counts, sizeof(int));
		counts[0] = 0;
	}
	for (int i = 0; i < n; i++)
		counts[rng_below(r, (uint64_t) nbuckets)]++;
	for (int ri = 0, bucket = 0; ri < b->n; ri++)
		for (int si = 0; si < b->rs[ri].n; si++, bucket++)
		{
			OResource  *R = &b->rs[ri];
			int			k = counts[bucket];
			int			m = (int) (lean ? rng_small(r, 2) : rng_small(r, 6));
			Buf			trace = {0};
			bool		one_trace = rng_chance(r, 700);

			buf_str(&trace, ot->tags.trace);
			hex_text(r, &trace, 16);
			while (k > 0 || m > 0)
			{
				OScope	   *S = &R->sc[si];
				OSpan	   *sp = scope_push(S);
				bool		genai = k > 0 && (int) rng_below(r, (uint64_t) (k + m)) < k;

				if (!one_trace)
				{
					buf_set(&trace, ot->tags.trace);
					hex_text(r, &trace, 16);
				}
				if (!genai)
				{
					nongenai_span(r, ctx, sp, &trace, lean);
					m--;
					ot->gen_skipped++;
					continue;
				}
				{
					int			i = next++;
					int			j = -1;
					OSpan	   *dup = NULL;

					if (i > 0 && (same || rng_chance(r, 40)))
						j = same ? 0 : (int) rng_below(r, (uint64_t) i);
					at[i] = (SpanAt) {ri, si, S->n - 1};
					if (j >= 0)
					{
						dup = span_at(b, at[j]);
						ot->gen_dups++;
					}
					genai_span(r, ctx, sp, &evs[i], i, &trace, &rv[ri], dup, j >= 0 && fallback[j],
							   j >= 0 ? &evs[j].id : NULL, &fallback[i], lean);
					k--;
				}
			}
			buf_free(&trace);
		}
	/* metadata.otel needs the finished span and its resource */
	for (int i = 0; i < n; i++)
	{
		OResource  *R = &b->rs[at[i].r];

		expected_metadata(span_at(b, at[i]), R->res_mode == RM_OBJECT ? &R->attrs : NULL, &evs[i].exp.s[F_METADATA]);
		evs[i].exp.set[F_METADATA] = true;
	}
	for (int i = 0; i < nres; i++)
		for (int f = 0; f < NUM_KNOWN_FIELDS; f++)
			buf_free(&rv[i].v[f]);
	free(rv);
	free(counts);
	free(at);
	free(fallback);
}

static OtlpCase *
otlp_case_new(const Ctx *ctx)
{
	OtlpCase   *ot = xmalloc(sizeof(OtlpCase));

	memset(ot, 0, sizeof(*ot));
	snprintf(ot->tags.id, sizeof(ot->tags.id), "fz%" PRIx64 "-%ld-", ctx->seed, ctx->case_no);
	snprintf(ot->tags.trace, sizeof(ot->tags.trace), "%08x%08x", (unsigned) (ctx->seed & 0xFFFFFFFF),
			 (unsigned) ctx->case_no);
	ot->tree_sent = true;
	ot->total_spans = -1;
	return ot;
}

/* Serialises the tree into the payload and asks the oracle about it. */
static void
otlp_finish(const Ctx *ctx, Case *c, int max_batch)
{
	OtlpCase   *ot = c->ot;

	obody_serialize(&ot->body, &c->payload);
	ot->total_spans = body_span_count(&ot->body);
	otlp_expect(&ot->body, ctx->now, max_batch, &ot->tags, &ot->e);
	c->verdict = ot->e.verdict;
	c->expect_sqlstate = ot->e.sqlstate;
	if (ot->e.verdict == V_VALID && ot->e.ids_known)
	{
		c->exact_counts = true;
		c->nevents = (int) ot->e.genai;
		c->expect_dups = (int) ot->e.dups;
		c->expect_new = (int) (ot->e.genai - ot->e.dups);
	}
	else if (ot->e.counts_known)
		c->nevents = (int) ot->e.genai;
	if (ot->parser_unsure)
	{
		/* the jsonb parser may refuse the nesting (54001) before anything else */
		ot->e.why |= RB(R_DEEP);
		c->expect_sqlstate = NULL;
		if (c->verdict == V_VALID)
			c->verdict = V_UNSURE;
		c->exact_counts = false;
	}
}

/* The generator's own count must be the oracle's: else the driver is wrong. */
static void
otlp_self_check(Case *c)
{
	OtlpCase   *ot = c->ot;
	OtExpect   *e = &ot->e;

	if (e->verdict != V_VALID || !e->counts_known || !e->ids_known || e->genai != ot->gen_genai ||
		e->skipped != ot->gen_skipped || e->dups != ot->gen_dups)
		snprintf(ot->driver_error, sizeof(ot->driver_error),
				 "generator built %ld GenAI spans (%ld duplicates), %ld skipped; oracle says verdict %d, "
				 "%ld GenAI (%ld duplicates), %ld skipped, why %#x",
				 ot->gen_genai, ot->gen_dups, ot->gen_skipped, (int) e->verdict, e->genai, e->dups, e->skipped,
				 (unsigned) e->why);
}

static void
gen_otlp_clean(Rng *r, const Ctx *ctx, Case *c)
{
	int			n = batch_size(r, ctx->max_batch, true);
	Event	   *evs = xmalloc(sizeof(Event) * (size_t) (n ? n : 1));

	c->ot = otlp_case_new(ctx);
	for (int i = 0; i < n; i++)
		clean_event(r, ctx, i, &evs[i], n > 1000);
	otlp_build(r, ctx, c->ot, evs, n, n > 1000, false);
	c->events = evs;
	c->nev = n;
	otlp_finish(ctx, c, ctx->max_batch);
	otlp_self_check(c);
	c->what = "clean export";
}

/* ------------------------------------------------------------------------
 * Mutations of an OTLP tree.
 */
static int
span_count(OBody *b, bool genai_only)
{
	int			k = 0;

	if (b->raw.len || b->mode != LM_ARRAY)
		return 0;
	for (int r = 0; r < b->n; r++)
		if (!b->rs[r].raw.len && b->rs[r].mode == LM_ARRAY)
			for (int s = 0; s < b->rs[r].n; s++)
				if (!b->rs[r].sc[s].raw.len && b->rs[r].sc[s].mode == LM_ARRAY)
					for (int n = 0; n < b->rs[r].sc[s].n; n++)
						if (!b->rs[r].sc[s].sp[n].raw.len && (!genai_only || b->rs[r].sc[s].sp[n].ev >= 0))
							k++;
	return k;
}

/* A span object of the body (mostly a GenAI one when asked), or NULL. */
static OSpan *
pick_span(Rng *r, OBody *b, bool prefer_genai)
{
	bool		genai_only = prefer_genai && span_count(b, true) > 0 && rng_chance(r, 800);
	int			total = span_count(b, genai_only);
	int			k;

	if (total == 0)
		return NULL;
	k = (int) rng_below(r, (uint64_t) total);
	for (int ri = 0; ri < b->n; ri++)
		if (!b->rs[ri].raw.len && b->rs[ri].mode == LM_ARRAY)
			for (int s = 0; s < b->rs[ri].n; s++)
				if (!b->rs[ri].sc[s].raw.len && b->rs[ri].sc[s].mode == LM_ARRAY)
					for (int n = 0; n < b->rs[ri].sc[s].n; n++)
					{
						OSpan	   *sp = &b->rs[ri].sc[s].sp[n];

						if (!sp->raw.len && (!genai_only || sp->ev >= 0) && k-- == 0)
							return sp;
					}
	return NULL;
}

static OResource *
pick_resource(Rng *r, OBody *b)
{
	int			k;

	if (b->raw.len || b->mode != LM_ARRAY || b->n == 0)
		return NULL;
	k = (int) rng_below(r, (uint64_t) b->n);
	return b->rs[k].raw.len ? NULL : &b->rs[k];
}

static OScope *
pick_scope(Rng *r, OBody *b)
{
	OResource  *R = pick_resource(r, b);
	int			k;

	if (R == NULL || R->mode != LM_ARRAY || R->n == 0)
		return NULL;
	k = (int) rng_below(r, (uint64_t) R->n);
	return R->sc[k].raw.len ? NULL : &R->sc[k];
}

/* An attribute list: a span's, mostly, or a resource's. */
static AttrList *
pick_list(Rng *r, OBody *b)
{
	if (rng_chance(r, 200))
	{
		OResource  *R = pick_resource(r, b);

		if (R && R->res_mode == RM_OBJECT && R->attrs.mode == LM_ARRAY)
			return &R->attrs;
	}
	{
		OSpan	   *sp = pick_span(r, b, true);

		if (sp && sp->attrs.mode != LM_ARRAY)
			sp->attrs.mode = LM_ARRAY;	/* an absent list becomes an empty one */
		return sp ? &sp->attrs : NULL;
	}
}

/* The event field an attribute feeds, or -1. */
static int
oa_field(int a)
{
	for (int i = 0; i < NUM_OT_SOURCES; i++)
		for (int k = 0; k < ot_sources[i].n; k++)
			if (ot_sources[i].attrs[k] == a)
				return ot_sources[i].field;
	return -1;
}

/* The first attribute of field f's sources in l, or a new one. */
static OAttr *
field_slot(Rng *r, AttrList *l, int f)
{
	const OtSource *src = ot_source(f);

	for (int i = 0; i < l->n; i++)
		for (int k = 0; k < src->n; k++)
			if (l->a[i].known == src->attrs[k])
				return &l->a[i];
	{
		OAttr	   *o = al_insert(l, (int) rng_below(r, (uint64_t) l->n + 1));

		oattr_set_known(r, o, src->attrs[rng_below(r, (uint64_t) src->n)]);
		return o;
	}
}

/* An attribute element that may have been made a non-object: make it an object again. */
static void
oattr_reset_element(Rng *r, OAttr *o)
{
	if (o->known == OK_NOT_OBJECT || o->known == OK_BAD_KEY)
	{
		buf_reset(&o->raw);
		oattr_set_key(r, o, "x.restored", 10);
	}
}

static const char *
mutate_attr_list(Rng *r, AttrList *l)
{
	int			i = l->n ? (int) rng_below(r, (uint64_t) l->n) : -1;

	switch (i < 0 ? 1 : (int) rng_below(r, 8))
	{
		case 0:
			{
				OAttr	   *o = &l->a[i];

				oattr_reset_element(r, o);
				av_random(r, o, oa_field(o->known), 100000);
				return "attr_value";
			}
		case 1:
			{
				OAttr	   *o = al_insert(l, l->n ? (int) rng_below(r, (uint64_t) l->n + 1) : 0);

				if (rng_chance(r, 800))
					oattr_set_known(r, o, (int) rng_below(r, NUM_OA));
				else
				{
					Buf			name = {0};

					unknown_key(r, &name);
					oattr_set_key(r, o, name.p ? name.p : "", name.len);
					buf_free(&name);
				}
				av_random(r, o, o->known >= 0 ? oa_field(o->known) : -1, 3000);
				return "attr_add";
			}
		case 2:
			oattr_free(&l->a[i]);
			memmove(&l->a[i], &l->a[i + 1], sizeof(OAttr) * (size_t) (l->n - i - 1));
			l->n--;
			return "attr_drop";
		case 3:
			{
				OAttr	   *o = &l->a[i];

				if (o->known == OK_NOT_OBJECT)
					return "attr_rename (skipped)";
				switch (rng_below(r, 4))
				{
					case 0:
					case 1:
						oattr_set_known(r, o, (int) rng_below(r, NUM_OA));
						break;
					case 2:
						{
							/* a near miss: not an attribute opsmeter reads */
							static const char *const near[] = {"gen_ai.request.Model", "gen_ai.usage.input_tokens ",
								" gen_ai.system", "gen_ai.usage.inputTokens", "GEN_AI.SYSTEM", "opsmeter.model.",
							"gen_ai.request_model", "", "opsmeter.externalRequestId", "deployment.env"};
							const char *k = PICK(r, near);

							oattr_set_key(r, o, k, strlen(k));
						}
						break;
					default:
						{
							/* the same name with its first letter escaped: the same key */
							int			a = o->known >= 0 ? o->known : (int) rng_below(r, NUM_OA);

							buf_reset(&o->key);
							buf_fmt(&o->key, "\"\\u%04x%s\"", (unsigned) oa_names[a][0], oa_names[a] + 1);
							o->known = a;
						}
				}
				return "attr_rename";
			}
		case 4:
			{
				OAttr	   *o = &l->a[i];

				if (rng_chance(r, 500))
				{
					o->known = OK_NOT_OBJECT;
					buf_set(&o->raw, PICK(r, ((const char *[]) {"1", "\"x\"", "[]", "null", "true", "0.5",
																  "[{\"key\":\"gen_ai.system\",\"value\":{\"stringValue\":\"x\"}}]"})));
				}
				else
				{
					o->known = OK_BAD_KEY;
					buf_set(&o->key, PICK(r, ((const char *[]) {"", "7", "null", "true", "{}", "[\"gen_ai.system\"]"})));
				}
				return "attr_element";
			}
		case 5:
			{
				/* the same known key again, before or after: first or last wins */
				OAttr	   *src = &l->a[i];
				int			a = src->known >= 0 ? src->known : (int) rng_below(r, NUM_OA);
				OAttr	   *o = al_insert(l, (int) rng_below(r, (uint64_t) l->n + 1));

				oattr_set_known(r, o, a);
				av_random(r, o, oa_field(a), 300);
				return "attr_duplicate_key";
			}
		case 6:
			{
				/* a value that is no AnyValue: not an object, null, or none at all */
				OAttr	   *o = &l->a[i];

				for (int k = 0; k < l->n && o->known < 0; k++)
					if (l->a[k].known >= 0)
						o = &l->a[k];	/* mostly an attribute opsmeter reads */
				oattr_reset_element(r, o);
				buf_reset(&o->val);
				switch (rng_below(r, 5))
				{
					case 0:
						o->cls = AVC_JNULL;
						buf_str(&o->val, "null");
						break;
					case 1:
						o->cls = AVC_NONE;
						break;
					default:
						o->cls = AVC_NOT_OBJECT;
						buf_str(&o->val, PICK(r, ((const char *[]) {"\"gpt-4o\"", "120", "\"120\"", "[]", "true", "false",
																	  "[{\"stringValue\":\"x\"}]", "1.5", "\"\""})));
				}
				return "attr_value_not_anyvalue";
			}
		default:
			l->mode = PICK(r, ((const ListMode[]) {LM_RAW, LM_NULL, LM_ABSENT}));
			buf_set(&l->raw, PICK(r, ((const char *[]) {"{}", "1", "\"x\"", "true",
														  "{\"key\":\"gen_ai.system\",\"value\":{\"stringValue\":\"openai\"}}"})));
			return "attributes_not_array";
	}
}

/* A token count or cost at and beyond its bounds, in every AnyValue form. */
static const char *
mutate_number(Rng *r, AttrList *l)
{
	int			f = PICK(r, ((const int[]) {F_INPUT, F_OUTPUT, F_CACHED, F_REASONING, F_COST}));
	OAttr	   *o = field_slot(r, l, f);

	oattr_reset_element(r, o);
	switch (rng_below(r, 4))
	{
		case 0:
		case 1:
			av_num(r, o, num_case_pick(r));
			break;
		case 2:
			av_int(r, o, PICK(r, ((const int64_t[]) {0, 1, 999, 1000000000, 1000000001, 1000000000000000LL,
													   1000000000000001LL, -1, INT64_MAX, INT64_MIN})));
			break;
		default:
			av_random(r, o, f, 300);
	}
	return "number_value";
}

static void
set_time(Rng *r, const Ctx *ctx, Buf *json, TimeClass *cls, int64_t *ns, bool is_end, int64_t start)
{
	int64_t		now_ns = (int64_t) ctx->now * 1000000000;

	buf_reset(json);
	switch (rng_below(r, is_end ? 8 : 10))
	{
		case 0:
			*cls = TC_OK;
			*ns = is_end ? start : valid_start_ns(r, ctx);
			ns_json(r, json, *ns);
			break;
		case 1:
			/* too old, or too far ahead (as an end: before the start, or a long call) */
			*cls = TC_OK;
			if (is_end)
				*ns = rng_chance(r, 500) ? start - rng_range(r, 1, 1000000000000LL)
					: start + (rng_chance(r, 500) ? 2147483647LL * 1000000 + rng_range(r, 0, 999999)
							   : rng_range(r, 2147483648LL, 3000000000LL) * 1000000);
			else
			{
				/* just beyond the window, or far */
				int64_t		far = rng_chance(r, 500) ? 3650 * 86400LL : 86400;

				*ns = rng_chance(r, 500) ? now_ns - rng_range(r, 30 * 86400LL + 600, 30 * 86400LL + far) * 1000000000
					: now_ns + rng_range(r, 600, far) * 1000000000;
			}
			ns_json(r, json, *ns);
			break;
		case 2:
			/* at the edges of the window */
			*cls = TC_OK;
			*ns = is_end ? start + rng_range(r, 0, 1000000) :
				(rng_chance(r, 500) ? now_ns - 30 * 86400LL * 1000000000 : now_ns + 300LL * 1000000000)
				+ rng_range(r, -120, 120) * 1000000000;
			ns_json(r, json, *ns);
			break;
		case 3:
			*cls = TC_ABSENT;
			if (rng_chance(r, 500))
				buf_str(json, "null");
			break;
		case 4:
		case 5:
			/* not a time by any reading (an end: ignored, or refused) */
			*cls = is_end ? TC_ODD : TC_BAD;
			buf_str(json, PICK(r, ((const char *[]) {"\"\"", "\"abc\"", "\"-5\"", "-5", "\"0\"", "0", "true", "[]", "{}",
													   "\"1.5\"", "1.5", "\"1e18\"", "\"0x10\"", "\"9223372036854775808\"",
													   "9223372036854775808", "1e400", "-9223372036854775808",
													   "\"-9223372036854775809\""})));
			break;
		case 6:
			/* forms README does not settle */
			*cls = TC_ODD;
			*ns = is_end ? start : valid_start_ns(r, ctx);
			buf_fmt(json, PICK(r, ((const char *[]) {"\"+%" PRId64 "\"", "\" %" PRId64 "\"", "\"%" PRId64 " \"",
													   "%" PRId64 ".0", "\"%" PRId64 ".000\""})), *ns);
			break;
		case 7:
			*cls = TC_OK;
			*ns = is_end ? start : valid_start_ns(r, ctx);
			buf_fmt(json, "\"000%" PRId64 "\"", *ns);	/* leading zeros: the same number */
			break;
		case 8:
			*cls = TC_OK;
			*ns = rng_chance(r, 500) ? 1 : INT64_MAX;	/* 1970, 2262 */
			ns_json(r, json, *ns);
			break;
		default:
			/* a fraction of a nanosecond is no int64 */
			*cls = TC_BAD;
			buf_fmt(json, "%" PRId64 ".5", valid_start_ns(r, ctx));
	}
	/* an end at or before the epoch is no end at all to the reader */
	if (is_end && *cls == TC_OK && *ns <= 0)
		*cls = TC_ODD;
}

static const char *
mutate_span(Rng *r, const Ctx *ctx, OSpan *sp)
{
	switch (rng_below(r, 9))
	{
		case 0:
		case 1:
			set_time(r, ctx, &sp->start_json, &sp->start_cls, &sp->start_ns, false, 0);
			return "start_time";
		case 2:
		case 3:
			set_time(r, ctx, &sp->end_json, &sp->end_cls, &sp->end_ns, true,
					 sp->start_cls == TC_OK && sp->start_ns < 4000000000000000000LL ? sp->start_ns
					 : valid_start_ns(r, ctx));
			return "end_time";
		case 4:
			/* status never makes a span invalid */
			buf_set(&sp->status_json, PICK(r, ((const char *[]) {"{\"code\":\"2\"}", "{\"code\":2.0}", "{\"code\":true}",
																  "{\"code\":null}", "{\"code\":{}}", "\"ERROR\"", "2", "[]",
																  "{\"code\":\"STATUS_CODE_ERROR \"}", "{\"code\":-1}",
																  "{\"code\":9223372036854775808}", "null", "{\"code\":2e0}",
																  "{\"code\":\"status_code_error\"}"})));
			return "status";
		case 5:
		case 6:
			{
				/* traceId, spanId, name: absent, not strings, empty, long */
				int			which = (int) rng_below(r, 3);
				Buf		   *json = which == 0 ? &sp->trace_json : which == 1 ? &sp->sid_json : &sp->name_json;
				Buf		   *raw = which == 0 ? &sp->trace : which == 1 ? &sp->sid : &sp->name;
				bool	   *is_str = which == 0 ? &sp->trace_str : which == 1 ? &sp->sid_str : &sp->name_str;
				int			form = (int) rng_below(r, 6);

				buf_reset(json);
				buf_reset(raw);
				*is_str = form >= 3;
				if (form == 1)
					buf_str(json, "null");
				else if (form == 2)
					buf_str(json, PICK(r, ((const char *[]) {"7", "{}", "[]", "true"})));
				else if (form >= 3)
				{
					random_text(r, raw, form == 3 ? 0 : form == 4 ? rng_range(r, 1, 200)
								: PICK(r, ((const int64_t[]) {300, 5000, 100000, 1000000})), ALPHA_UNICODE);
					json_quote(r, json, raw->p ? raw->p : "", raw->len);
				}
				return "span_ids";
			}
		case 7:
			{
				/* the same member twice: jsonb keeps the last (only where a last one follows) */
				const char *k = PICK(r, ((const char *[]) {"attributes", "startTimeUnixNano", "traceId", "spanId"}));
				bool		present = strcmp(k, "attributes") == 0 ? sp->attrs.mode != LM_ABSENT
					: strcmp(k, "startTimeUnixNano") == 0 ? sp->start_json.len > 0
					: strcmp(k, "traceId") == 0 ? sp->trace_json.len > 0 : sp->sid_json.len > 0;

				if (!present)
					return "duplicate_member (skipped)";
				buf_reset(&sp->pre);
				buf_fmt(&sp->pre, "\"%s\":%s", k, PICK(r, ((const char *[]) {"null", "7", "\"x\"", "[1]", "{}"})));
				return "duplicate_member";
			}
		default:
			{
				/* a GenAI span no more, or a skipped span naming a model now */
				static const int model_keys[] = {OA_OPS_MODEL, OA_REQUEST_MODEL, OA_RESPONSE_MODEL};
				bool		had = false;

				for (int i = sp->attrs.n - 1; i >= 0; i--)
					if (sp->attrs.a[i].known == OA_OPS_MODEL || sp->attrs.a[i].known == OA_REQUEST_MODEL ||
						sp->attrs.a[i].known == OA_RESPONSE_MODEL)
					{
						oattr_free(&sp->attrs.a[i]);
						memmove(&sp->attrs.a[i], &sp->attrs.a[i + 1], sizeof(OAttr) * (size_t) (sp->attrs.n - i - 1));
						sp->attrs.n--;
						had = true;
					}
				if (!had)
				{
					if (sp->attrs.mode != LM_ARRAY)
						sp->attrs.mode = LM_ARRAY;
					attr_string(r, &sp->attrs, PICK(r, model_keys), "gpt-4o", 6);
				}
				return had ? "model_dropped" : "model_added";
			}
	}
}

/* Environment names, labels and neither. */
static const char *
mutate_environment(Rng *r, AttrList *l)
{
	const char *v = PICK(r, ((const char *[]) {"production", "Production", "PRODUCTION", "stage", "Stage", "STAGE",
												"development", "Development", "DEV", "Prod", "prod", "staging", "dev",
												"qa", "test", "", "prod ", "producci\xC3\xB3n", "Staging", "local"}));
	OAttr	   *o = field_slot(r, l, F_ENVIRONMENT);

	oattr_reset_element(r, o);
	av_string(r, o, v, strlen(v), false);
	return "environment";
}

/* cachedInputTokens above inputTokens, or reasoningTokens above outputTokens. */
static const char *
mutate_cross(Rng *r, AttrList *l)
{
	bool		cached = rng_chance(r, 500);
	int64_t		w = rng_range(r, 0, 1000);
	OAttr	   *whole = field_slot(r, l, cached ? F_INPUT : F_OUTPUT);
	OAttr	   *part;

	oattr_reset_element(r, whole);
	av_int(r, whole, w);
	part = field_slot(r, l, cached ? F_CACHED : F_REASONING);
	oattr_reset_element(r, part);
	av_int(r, part, w + rng_range(r, rng_chance(r, 200) ? 0 : 1, 1000));
	return "cross_field";
}

/* Thousands of attributes: unknown ones, or one known key over and over. */
static const char *
flood_attrs(Rng *r, AttrList *l)
{
	if (rng_chance(r, 650))
	{
		long		n = (long) PICK(r, ((const int64_t[]) {1000, 5000, 20000}));

		for (long i = 0; i < n; i++)
			buf_fmt(&l->flood, "%s{\"key\":\"x.flood.%ld\",\"value\":{\"intValue\":\"%ld\"}}",
					l->flood.len ? "," : "", i, i);
		l->nflood += n;
		return "attr_flood";
	}
	else
	{
		int			a = (int) rng_below(r, NUM_OA);
		int			n = (int) PICK(r, ((const int64_t[]) {100, 1000, 3000}));

		for (int i = 0; i < n; i++)
		{
			OAttr	   *o = al_push(l);

			oattr_set_known(r, o, a);
			if (rng_chance(r, 900))
				av_int(r, o, i);
			else
				av_random(r, o, oa_field(a), 20);
		}
		return "known_key_flood";
	}
}

/* Huge keys, values and names. */
static const char *
huge_content(Rng *r, OBody *b, AttrList *l)
{
	Buf			raw = {0};
	const char *what;

	switch (rng_below(r, 5))
	{
		case 0:
			{
				OAttr	   *o = al_push(l);

				random_text(r, &raw, rng_range(r, 50000, 150000), ALPHA_UNICODE);
				oattr_set_key(r, o, raw.p, raw.len);
				if (o->known < 0)
					o->known = OK_UNKNOWN;
				av_int(r, o, 1);
				what = "huge_key";
			}
			break;
		case 1:
			{
				OAttr	   *o = al_push(l);

				oattr_set_key(r, o, "x.huge", 6);
				random_text(r, &raw, rng_range(r, 100000, 400000), ALPHA_UNICODE);
				av_string(r, o, raw.p, raw.len, false);
				what = "huge_unknown_value";
			}
			break;
		case 2:
			{
				int			f = PICK(r, ((const int[]) {F_PROVIDER, F_MODEL, F_USER_ID, F_ID, F_ERROR_CODE, F_ENDPOINT_TAG}));
				OAttr	   *o = field_slot(r, l, f);

				oattr_reset_element(r, o);
				random_text(r, &raw, PICK(r, ((const int64_t[]) {129, 201, 257, 5000, 200000})), ALPHA_UNICODE);
				av_string(r, o, raw.p, raw.len, false);
				what = "huge_field_value";
			}
			break;
		case 3:
			{
				/* metadata.otel: every string is cut to 200 bytes */
				int			a = PICK(r, ((const int[]) {OA_OPERATION, OA_RESPONSE_MODEL, OA_SERVICE}));
				OAttr	   *o = NULL;

				for (int i = 0; i < l->n && o == NULL; i++)
					if (l->a[i].known == a)
						o = &l->a[i];
				if (o == NULL)
				{
					o = al_push(l);
					oattr_set_known(r, o, a);
				}
				random_text(r, &raw, PICK(r, ((const int64_t[]) {6000, 9000, 20000})), ALPHA_IDENT);
				av_string(r, o, raw.p, raw.len, false);
				what = "long_metadata_source";
			}
			break;
		default:
			{
				OSpan	   *sp = pick_span(r, b, true);

				if (sp == NULL)
					return "huge_name (skipped)";
				buf_reset(&sp->name);
				random_text(r, &sp->name, rng_range(r, 50000, 150000), ALPHA_UNICODE);
				buf_reset(&sp->name_json);
				json_quote(r, &sp->name_json, sp->name.p, sp->name.len);
				sp->name_str = true;
				what = "huge_name";
			}
	}
	buf_free(&raw);
	return what;
}

/* A deeply nested kvlistValue / arrayValue. */
static const char *
deep_value(Rng *r, OtlpCase *ot, AttrList *l)
{
	int			levels = (int) PICK(r, ((const int64_t[]) {2, 10, 64, 65, 200, 1000, 3000, 30000}));
	OAttr	   *o = al_insert(l, (int) rng_below(r, (uint64_t) l->n + 1));

	if (rng_chance(r, 300))
		oattr_set_known(r, o, (int) rng_below(r, NUM_OA));
	else
		oattr_set_key(r, o, "x.deep", 6);
	buf_reset(&o->val);
	o->cls = av_nested(r, &o->val, levels);
	/* about 3.5 JSON levels each; the parser's stack gives out somewhere past 10,000 */
	if (levels >= 2000)
		ot->parser_unsure = true;
	return "deep_value";
}

/* Thousands of skipped spans in one scope. */
static const char *
many_spans(Rng *r, OScope *S)
{
	long		n = (long) PICK(r, ((const int64_t[]) {1000, 3000, 10000}));

	if (S->mode != LM_ARRAY)
		S->mode = LM_ARRAY;
	for (long i = 0; i < n; i++)
		buf_fmt(&S->flood, "%s{\"traceId\":\"00\",\"spanId\":\"%06lx\",\"name\":\"GET /\",\"attributes\":"
				"[{\"key\":\"http.request.method\",\"value\":{\"stringValue\":\"GET\"}}]}",
				S->flood.len ? "," : "", i);
	S->nflood += n;
	return "many_skipped_spans";
}

/* Containers replaced by what OTLP does not allow there. */
static const char *
break_container(Rng *r, OBody *b)
{
	static const char *const scalars[] = {"1", "\"x\"", "[]", "null", "true", "[{}]", "0.5"};

	switch (rng_below(r, 8))
	{
		case 0:
			if (rng_chance(r, 300))
			{
				Buf			inner = {0};

				obody_serialize(b, &inner);
				buf_reset(&b->raw);
				buf_fmt(&b->raw, "[%s]", inner.p);
				buf_free(&inner);
			}
			else
				buf_set(&b->raw, PICK(r, ((const char *[]) {"[]", "1", "\"x\"", "null", "true", "[{\"resourceSpans\":[]}]"})));
			return "root_not_object";
		case 1:
			b->mode = PICK(r, ((const ListMode[]) {LM_RAW, LM_RAW, LM_NULL, LM_ABSENT}));
			buf_set(&b->rs_raw, PICK(r, ((const char *[]) {"{}", "1", "\"x\"", "true", "{\"0\":{}}"})));
			return "resourceSpans_not_array";
		case 2:
			{
				OResource  *R = pick_resource(r, b);

				if (R == NULL)
					return "resource_element (skipped)";
				buf_set(&R->raw, PICK(r, scalars));
				return "resource_element";
			}
		case 3:
			{
				OResource  *R = pick_resource(r, b);

				if (R == NULL)
					return "resource_member (skipped)";
				R->res_mode = PICK(r, ((const ResMode[]) {RM_RAW, RM_RAW, RM_NULL, RM_ABSENT}));
				buf_set(&R->res_raw, PICK(r, ((const char *[]) {"[]", "1", "\"x\"", "true", "[{\"attributes\":[]}]"})));
				return "resource_member";
			}
		case 4:
			{
				OResource  *R = pick_resource(r, b);

				if (R == NULL)
					return "scopeSpans (skipped)";
				R->mode = PICK(r, ((const ListMode[]) {LM_RAW, LM_RAW, LM_NULL, LM_ABSENT}));
				buf_set(&R->scopes_raw, PICK(r, ((const char *[]) {"{}", "1", "\"x\"", "true", "{\"spans\":[]}"})));
				return "scopeSpans_not_array";
			}
		case 5:
			{
				OScope	   *S = pick_scope(r, b);

				if (S == NULL)
					return "scope_element (skipped)";
				buf_set(&S->raw, PICK(r, scalars));
				return "scope_element";
			}
		case 6:
			{
				OScope	   *S = pick_scope(r, b);

				if (S == NULL)
					return "spans (skipped)";
				S->mode = PICK(r, ((const ListMode[]) {LM_RAW, LM_RAW, LM_NULL, LM_ABSENT}));
				buf_set(&S->spans_raw, PICK(r, ((const char *[]) {"{}", "1", "\"x\"", "true", "{\"traceId\":\"a\"}"})));
				return "spans_not_array";
			}
		default:
			{
				OSpan	   *sp = pick_span(r, b, false);

				if (sp == NULL)
					return "span_element (skipped)";
				buf_set(&sp->raw, PICK(r, scalars));
				return "span_element";
			}
	}
}

/* One random mutation of the tree; its name for the notes. */
static const char *
mutate_otlp(Rng *r, const Ctx *ctx, OtlpCase *ot)
{
	OBody	   *b = &ot->body;
	AttrList   *l = pick_list(r, b);
	int			which = (int) rng_below(r, 20);

	if (l == NULL && which < 12)
		which = 12 + (int) rng_below(r, 8);
	switch (which)
	{
		case 0:
		case 1:
		case 2:
		case 3:
			return mutate_attr_list(r, l);
		case 4:
		case 5:
			return mutate_number(r, l);
		case 6:
			return mutate_environment(r, l);
		case 7:
			return mutate_cross(r, l);
		case 8:
			return flood_attrs(r, l);
		case 9:
			return huge_content(r, b, l);
		case 10:
			return deep_value(r, ot, l);
		case 11:
			{
				OSpan	   *sp = pick_span(r, b, true);

				return sp ? mutate_span(r, ctx, sp) : "span (skipped)";
			}
		case 12:
		case 13:
		case 14:
			{
				OSpan	   *sp = pick_span(r, b, true);

				return sp ? mutate_span(r, ctx, sp) : "span (skipped)";
			}
		case 15:
			{
				OScope	   *S = pick_scope(r, b);

				return S ? many_spans(r, S) : "many_skipped_spans (skipped)";
			}
		case 16:
			if (rng_chance(r, 500))
			{
				OResource  *R = pick_resource(r, b);

				if (R && R->mode != LM_ABSENT)
				{
					buf_set(&R->pre, PICK(r, ((const char *[]) {"\"scopeSpans\":1", "\"scopeSpans\":[1]"})));
					return "duplicate_member";
				}
			}
			buf_set(&b->extra, PICK(r, ((const char *[]) {"\"resourceLogs\":[]", "\"partialSuccess\":{}", "\"x\":[1,{}]"})));
			return "unknown_member";
		default:
			return break_container(r, b);
	}
}

/* Mutated case: a small valid export, then 1..4 mutations of its tree. */
static void
gen_otlp_mutated(Rng *r, const Ctx *ctx, Case *c, Buf *notes)
{
	int			n = (int) rng_range(r, 0, 1) + (int) rng_small(r, 12);
	Event	   *evs = xmalloc(sizeof(Event) * (size_t) (n ? n : 1));

	c->ot = otlp_case_new(ctx);
	for (int i = 0; i < n; i++)
		clean_event(r, ctx, i, &evs[i], false);
	otlp_build(r, ctx, c->ot, evs, n, false, false);
	for (int i = 0; i < n; i++)
		event_free(&evs[i]);
	free(evs);
	for (int m = (int) rng_range(r, 1, 4); m > 0; m--)
	{
		const char *what = mutate_otlp(r, ctx, c->ot);

		if (notes->len < 200)
			buf_fmt(notes, "%s%s", notes->len ? "," : "", what);
	}
	otlp_finish(ctx, c, ctx->max_batch);
}

/* Hand-shaped OTLP bodies with known answers. */
typedef struct OddBody
{
	const char *text;
	Verdict		verdict;
	long		genai,
				skipped;		/* V_VALID: the counts */
} OddBody;

static const OddBody odd_bodies[] = {
	{"null", V_INVALID, 0, 0}, {"1", V_INVALID, 0, 0}, {"\"x\"", V_INVALID, 0, 0}, {"true", V_INVALID, 0, 0}, {"[]", V_INVALID, 0, 0},
	{"[{}]", V_INVALID, 0, 0}, {"[{\"resourceSpans\":[]}]", V_INVALID, 0, 0},
	{"{}", V_VALID, 0, 0}, {"{\"resourceSpans\":null}", V_VALID, 0, 0}, {"{\"resourceSpans\":[]}", V_VALID, 0, 0},
	{"{\"resourceSpans\":[{}]}", V_VALID, 0, 0}, {"{\"resourceSpans\":[{\"scopeSpans\":[{}]}]}", V_VALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[]}]}]}", V_VALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{}]}]}]}", V_VALID, 0, 1},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{},{\"attributes\":[]},{\"attributes\":null}]}]}]}", V_VALID, 0, 3},
	{"{\"resourceSpans\":[{\"resource\":null,\"scopeSpans\":null}]}", V_VALID, 0, 0},
	{"{\"resourceSpans\":[{\"resource\":{},\"scopeSpans\":[]}],\"resourceSpans2\":1}", V_VALID, 0, 0},
	{"{\"resourceSpans\":{}}", V_INVALID, 0, 0}, {"{\"resourceSpans\":1}", V_INVALID, 0, 0}, {"{\"resourceSpans\":[1]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[[]]}", V_INVALID, 0, 0}, {"{\"resourceSpans\":[null]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":{}}]}", V_INVALID, 0, 0}, {"{\"resourceSpans\":[{\"scopeSpans\":[1]}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":{}}]}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[\"x\"]}]}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"resource\":[]}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"resource\":{\"attributes\":{}}}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"resource\":{\"attributes\":[1]}}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":1}]}}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"value\":{}}]}]}]}]}", V_INVALID, 0, 0},
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"gen_ai.request.model\",\"value\":\"gpt-4o\"}]}]}]}]}", V_INVALID, 0, 0},
	/* a GenAI span without start, provider or ids */
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"gen_ai.request.model\",\"value\":{\"stringValue\":\"m\"}}]}]}]}]}", V_INVALID, 0, 0},
	/* a model attribute without a value names no model */
	{"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"attributes\":[{\"key\":\"gen_ai.request.model\"}]}]}]}]}", V_VALID, 0, 1},
};

static void
gen_otlp_special(Rng *r, const Ctx *ctx, Case *c, Buf *notes)
{
	int			which = (int) rng_below(r, 9);

	c->verdict = V_UNSURE;
	switch (which)
	{
		case 0:
		case 1:
			{
				/*
				 * The batch limit, lowered for the call (skipped spans do not
				 * count): at it, or beyond it; now and then the real one.
				 */
				bool		real = rng_chance(r, 30);
				int			n = real ? ctx->max_batch + 1 : (int) rng_range(r, 1, 25);
				int			limit = real ? ctx->max_batch : rng_chance(r, 500) ? n
					: (int) rng_range(r, rng_chance(r, 500) ? n - 1 : 1, n - 1);
				Event	   *evs = xmalloc(sizeof(Event) * (size_t) n);

				if (limit < 1)
					limit = 1;
				c->ot = otlp_case_new(ctx);
				for (int i = 0; i < n; i++)
					clean_event(r, ctx, i, &evs[i], real);
				otlp_build(r, ctx, c->ot, evs, n, real, false);
				if (!real)
					buf_fmt(&c->ot->setup, "SET LOCAL opsmeter.max_batch_events = %d", limit);
				c->events = evs;
				c->nev = n;
				otlp_finish(ctx, c, limit);
				buf_fmt(notes, "max_batch_events %d for %d GenAI spans", limit, n);
				c->what = limit >= n ? "batch at the limit" : "batch over the limit";
			}
			break;
		case 2:
			{
				/* the payload limit, set at the body's jsonb size or one byte below it */
				int			n = (int) rng_range(r, 1, 12);
				Event	   *evs = xmalloc(sizeof(Event) * (size_t) n);

				c->ot = otlp_case_new(ctx);
				for (int i = 0; i < n; i++)
					clean_event(r, ctx, i, &evs[i], false);
				otlp_build(r, ctx, c->ot, evs, n, false, false);
				c->events = evs;
				c->nev = n;
				otlp_finish(ctx, c, ctx->max_batch);
				c->ot->payload_limit = rng_chance(r, 500) ? 1 : 2;
				if (c->ot->payload_limit == 1)
				{
					c->verdict = V_INVALID;
					c->expect_sqlstate = "54000";
					c->exact_counts = false;
				}
				c->what = c->ot->payload_limit == 1 ? "payload one byte over the limit" : "payload at the limit";
			}
			break;
		case 3:
			{
				const OddBody *ob = &odd_bodies[rng_below(r, sizeof(odd_bodies) / sizeof(odd_bodies[0]))];

				c->ot = otlp_case_new(ctx);
				c->ot->tree_sent = false;
				buf_set(&c->payload, ob->text);
				c->verdict = ob->verdict;
				if (ob->verdict == V_INVALID)
					c->expect_sqlstate = "22023";
				else
				{
					c->ot->e.counts_known = c->ot->e.ids_known = true;
					c->ot->e.genai = ob->genai;
					c->ot->e.skipped = ob->skipped;
					c->ot->total_spans = ob->genai + ob->skipped;
					buf_set(&c->ot->e.dup_paths, "[]");
					buf_set(&c->ot->e.all_paths, "[]");
					c->exact_counts = true;
				}
				c->what = "odd body";
			}
			break;
		case 4:
		case 5:
			{
				/* thousands of skipped spans, or of attributes, around a few GenAI spans */
				int			n = (int) rng_range(r, 0, 5);
				Event	   *evs = xmalloc(sizeof(Event) * (size_t) (n ? n : 1));

				c->ot = otlp_case_new(ctx);
				for (int i = 0; i < n; i++)
					clean_event(r, ctx, i, &evs[i], false);
				otlp_build(r, ctx, c->ot, evs, n, false, false);
				if (which == 4)
				{
					OScope	   *S = pick_scope(r, &c->ot->body);
					long		k = rng_range(r, 2000, 20000);

					if (S == NULL)
					{
						OResource  *R;

						c->ot->body.mode = LM_ARRAY;
						R = body_push(&c->ot->body);
						S = resource_push(R);
					}
					for (long i = 0; i < k; i++)
						buf_fmt(&S->flood, "%s{\"spanId\":\"%lx\",\"name\":\"db\",\"startTimeUnixNano\":\"%ld\"}",
								S->flood.len ? "," : "", i, i);
					S->nflood += k;
					c->ot->gen_skipped += k;
					c->what = "thousands of skipped spans";
				}
				else
				{
					for (int k = (int) rng_range(r, 1, 3); k > 0; k--)
					{
						AttrList   *l = pick_list(r, &c->ot->body);
						long		m = rng_range(r, 2000, 20000);

						if (l == NULL)
							break;
						for (long i = 0; i < m; i++)
							buf_fmt(&l->flood, "%s{\"key\":\"k%ld\",\"value\":{\"stringValue\":\"v\"}}",
									l->flood.len ? "," : "", i);
						l->nflood += m;
					}
					c->what = "thousands of attributes";
				}
				c->events = evs;
				c->nev = n;
				otlp_finish(ctx, c, ctx->max_batch);
				otlp_self_check(c);
			}
			break;
		case 6:
			{
				/* one GenAI span sent many times in one body: one stored */
				int			n = (int) rng_range(r, 2, 40);
				Event	   *evs = xmalloc(sizeof(Event) * (size_t) n);

				c->ot = otlp_case_new(ctx);
				for (int i = 0; i < n; i++)
					clean_event(r, ctx, i, &evs[i], false);
				otlp_build(r, ctx, c->ot, evs, n, false, true);
				c->events = evs;
				c->nev = n;
				otlp_finish(ctx, c, ctx->max_batch);
				otlp_self_check(c);
				c->what = "one span resent within the body";
			}
			break;
		case 7:
			{
				/* garbage, or random JSON */
				c->ot = otlp_case_new(ctx);
				c->ot->tree_sent = false;
				if (rng_chance(r, 500))
					random_text(r, &c->payload, rng_range(r, 0, 2000), ALPHA_ANY);
				else
				{
					int			budget = 40;

					random_value(r, &c->payload, 5, &budget);
				}
				c->what = "garbage";
			}
			break;
		default:
			{
				/* the document itself nested very deep */
				int			levels = (int) PICK(r, ((const int64_t[]) {64, 1000, 5000, 50000}));

				c->ot = otlp_case_new(ctx);
				c->ot->tree_sent = false;
				buf_str(&c->payload, "{\"resourceSpans\":[[");
				nested(r, &c->payload, levels, false);
				buf_str(&c->payload, "]]}");
				c->verdict = V_INVALID;
				c->what = "deep document";
			}
	}
}

/* An OTLP case of c->kind (not a resend). */
static void
gen_otlp_case(Rng *r, const Ctx *ctx, Case *c, Buf *notes)
{
	switch (c->kind)
	{
		case KIND_CLEAN:
			gen_otlp_clean(r, ctx, c);
			break;
		case KIND_MUTATED:
			gen_otlp_mutated(r, ctx, c, notes);
			c->what = "mutated export";
			break;
		case KIND_TEXT:
			{
				int			m = (int) rng_range(r, 1, 3);

				gen_otlp_mutated(r, ctx, c, notes);
				/* keep broken JSON a minority, as on the jsonb path */
				if (!rng_chance(r, 350))
					m = 0;
				for (int i = 0; i < m; i++)
				{
					const char *what = mutate_text(r, &c->payload, false);

					buf_fmt(notes, "%s%s", notes->len ? "," : "", what);
				}
				if (m > 0)
				{
					RfcResult	rr;
					bool		json = rfc8259_pg_text_ok(c->payload.p ? c->payload.p : "", c->payload.len) &&
						rfc8259_check(c->payload.p ? c->payload.p : "", c->payload.len, &rr) &&
						rfc8259_jsonb_accepts(&rr);

					/* the tree no longer says what was sent: only JSON or not */
					c->ot->tree_sent = false;
					c->ot->total_spans = -1;
					c->ot->e.counts_known = c->ot->e.ids_known = false;
					c->ot->e.why |= RB(R_TEXT);
					c->exact_counts = false;
					c->expect_sqlstate = NULL;
					c->verdict = json ? V_UNSURE : V_INVALID;
				}
				c->what = m > 0 ? "text-mutated export" : "mutated export";
			}
			break;
		default:
			gen_otlp_special(r, ctx, c, notes);
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
	path = (Path) rng_below(&r, NUM_PATHS);
	memset(c, 0, sizeof(*c));
	c->no = no;
	c->kind = kind;
	c->path = path;
	c->dup_of = -1;
	buf_reset(notes);
	if (path == PATH_OTLP && kind != KIND_DUP)
	{
		gen_otlp_case(&r, &ctx, c, notes);
		return;
	}
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
					if (path == PATH_OTLP)
						gen_otlp_case(&r, &ctx, c, notes);
					else
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
	long		by_path[NUM_PATHS];
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
	double		gen_seconds,	/* building cases (and the OTLP oracle) */
				call_seconds,	/* in the entry points */
				check_seconds;	/* in the per-case checks */
	/* OTLP */
	long		otlp_received,	/* GenAI spans answered */
				otlp_skipped,	/* skipped spans answered */
				otlp_accepted,	/* rows stored */
				otlp_readbacks,
				otlp_refusals_checked,
				otlp_driver_errors;
	long		reason_ok[NUM_REASONS],	/* unsure cases with one reason: accepted ... */
				reason_refused[NUM_REASONS];	/* ... and refused */
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
	int			path_mask;		/* 1 jsonb, 2 ndjson, 4 otlp */
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
			path_names[c->path], c->what ? c->what : "", why);
	if (detail && *detail)
		fprintf(stderr, "     %s\n", detail);
	snprintf(path, sizeof(path), "%s/fuzz-fail-%" PRIu64 "-%ld.%s", opt.outdir, opt.seed, c->no,
			 c->path == PATH_JSONB ? "json" : c->path == PATH_OTLP ? "otlp.json" : "ndjson");
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
				opt.seed, c->no, kind_names[c->kind], path_names[c->path],
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
						: path == PATH_OTLP ? "SELECT opsmeter_ingest_otlp($1::jsonb)"
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
	if (c->path != PATH_NDJSON && lc.deviations != 0)
		report_failure(c, "a jsonb entry point accepted what RFC 8259 refuses", NULL, notes);
	if (lc.deviations & RFC_DEV_CONTROL_CHAR)
		gap(c, "ndjson accepts a raw control character inside a string", notes);
	if (lc.deviations & RFC_DEV_NUMBER_FORM)
		gap(c, "ndjson accepts numbers not in RFC 8259 form (01, 1., -.5)", notes);
	if (c->path == PATH_OTLP)
		return;					/* README sets no nesting limit for an OTLP body */
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

/* ------------------------------------------------------------------------
 * OTLP answers and rows.
 */

/* Elements of the JSON array text at v (-1 when v is not an array). */
static long
json_array_length(const char *v)
{
	int			depth = 0;
	long		commas = 0;
	const char *p = v;

	if (v == NULL || *v != '[')
		return -1;
	for (p++; *p == ' '; p++)
		;
	if (*p == ']')
		return 0;
	for (p = v; *p; p++)
	{
		if (*p == '"')
		{
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				return -1;
		}
		else if (*p == '[' || *p == '{')
			depth++;
		else if (*p == ']' || *p == '}')
		{
			if (--depth == 0)
				return commas + 1;
		}
		else if (*p == ',' && depth == 1)
			commas++;
	}
	return -1;
}

/* Length of the JSON array or object text at v. */
static size_t
json_container_len(const char *v)
{
	int			depth = 0;

	for (const char *p = v; *p; p++)
	{
		if (*p == '"')
		{
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\' && p[1])
					p++;
			if (!*p)
				break;
		}
		else if (*p == '[' || *p == '{')
			depth++;
		else if ((*p == ']' || *p == '}') && --depth == 0)
			return (size_t) (p - v) + 1;
	}
	return strlen(v);
}

/* The bound just after every string that begins with prefix (ids sort as "C"). */
static void
prefix_end(const char *prefix, char *out, size_t size)
{
	size_t		n;

	snprintf(out, size, "%s", prefix);
	n = strlen(out);
	out[n - 1]++;				/* ASCII: '-' or a hex digit */
}

/* Rows of the workspace whose key is one of the case's own ids. */
static long
otlp_rows_with_tags(const OtlpCase *ot)
{
	static bool prepared = false;
	char		id_end[64],
				trace_end[32];
	const char *values[5] = {workspace_id, ot->tags.id, id_end, ot->tags.trace, trace_end};
	PGresult   *res;
	long		n;

	if (!prepared)
	{
		/*
		 * Two key ranges, each its own index range scan: keys collect no
		 * statistics, and an OR of them (or a LIKE) may end up a filter over
		 * every key of the workspace.
		 */
		res = PQprepare(conn, "otlp_rows_with_tags",
						"SELECT (SELECT count(*) FROM opsmeter.request_keys WHERE workspace_id = $1::bigint"
						" AND external_request_id >= $2 AND external_request_id < $3)"
						" + (SELECT count(*) FROM opsmeter.request_keys WHERE workspace_id = $1::bigint"
						" AND external_request_id >= $4 AND external_request_id < $5)", 5, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "fuzz_ingest: preparing a query failed: %s", PQerrorMessage(conn));
			exit(2);
		}
		PQclear(res);
		prepared = true;
	}
	prefix_end(ot->tags.id, id_end, sizeof(id_end));
	prefix_end(ot->tags.trace, trace_end, sizeof(trace_end));
	res = PQexecPrepared(conn, "otlp_rows_with_tags", 5, values, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "fuzz_ingest: counting a case's rows failed: %s", PQerrorMessage(conn));
		exit(2);
	}
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	return n;
}

/* A refused call stored nothing: no key of the case's own ids. */
static void
otlp_check_refused(const Case *c, const Buf *notes)
{
	long		n;

	if (c->kind == KIND_DUP)
		return;					/* its ids were stored by the case it resends */
	n = otlp_rows_with_tags(c->ot);
	st.otlp_refusals_checked++;
	if (n != 0)
	{
		char		d[192];

		snprintf(d, sizeof(d), "%ld rows with the case's ids (%s..., %s...)", n, c->ot->tags.id, c->ot->tags.trace);
		report_failure(c, "a refused OTLP call left rows behind (half-written)", d, notes);
	}
}

/* Every event of a clean case, read back in one query and compared field by field. */
static void
otlp_read_back(const Case *c, const Buf *notes)
{
	static const char *sql =
		"WITH x AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(id text, provider text, model text,"
		" input text, output text, total text, cached text, reasoning text, latency text, is_error text,"
		" error_code text, prompt_version text, endpoint_tag text, user_id text, tenant_id text,"
		" data_mode text, environment text, cost text, ts text, metadata jsonb))"
		" SELECT x.id, concat_ws(', ',"
		"  CASE WHEN e.external_request_id IS NULL THEN 'no row at the span''s start' END,"
		"  CASE WHEN e.provider IS DISTINCT FROM x.provider THEN 'provider' END,"
		"  CASE WHEN e.model IS DISTINCT FROM x.model THEN 'model' END,"
		"  CASE WHEN e.input_tokens::text IS DISTINCT FROM x.input THEN 'input_tokens' END,"
		"  CASE WHEN e.output_tokens::text IS DISTINCT FROM x.output THEN 'output_tokens' END,"
		"  CASE WHEN e.total_tokens::text IS DISTINCT FROM x.total THEN 'total_tokens' END,"
		"  CASE WHEN e.cached_input_tokens::text IS DISTINCT FROM coalesce(x.cached, '0') THEN 'cached_input_tokens' END,"
		"  CASE WHEN e.reasoning_tokens::text IS DISTINCT FROM coalesce(x.reasoning, '0') THEN 'reasoning_tokens' END,"
		"  CASE WHEN e.latency_ms::text IS DISTINCT FROM x.latency THEN 'latency_ms' END,"
		"  CASE WHEN e.is_error::text IS DISTINCT FROM coalesce(x.is_error, 'false') THEN 'is_error' END,"
		"  CASE WHEN e.error_code IS DISTINCT FROM x.error_code THEN 'error_code' END,"
		"  CASE WHEN e.prompt_version IS DISTINCT FROM x.prompt_version THEN 'prompt_version' END,"
		"  CASE WHEN e.endpoint_tag IS DISTINCT FROM x.endpoint_tag THEN 'endpoint_tag' END,"
		"  CASE WHEN e.user_id IS DISTINCT FROM x.user_id THEN 'user_id' END,"
		"  CASE WHEN e.tenant_id IS DISTINCT FROM x.tenant_id THEN 'tenant_id' END,"
		"  CASE WHEN e.data_mode::text IS DISTINCT FROM coalesce(x.data_mode, 'real') THEN 'data_mode' END,"
		"  CASE WHEN e.environment::text IS DISTINCT FROM coalesce(x.environment, 'prod') THEN 'environment' END,"
		"  CASE WHEN NOT (CASE WHEN x.cost IS NULL THEN e.pricing <> 'caller'"
		"   ELSE e.pricing = 'caller' AND e.cost_usd::text = trim_scale(x.cost::numeric)::text END) THEN 'cost_usd' END,"
		"  CASE WHEN e.metadata IS DISTINCT FROM x.metadata THEN 'metadata' END,"
		"  CASE WHEN (SELECT count(*) FROM opsmeter.request_keys k WHERE k.workspace_id = $2::bigint"
		"   AND k.external_request_id = x.id) <> 1 THEN 'dedup key' END) AS problems"
	/* one index probe per span, in its day's partition (else the planner hashes the workspace) */
		" FROM x LEFT JOIN LATERAL (SELECT * FROM opsmeter.events e WHERE e.workspace_id = $2::bigint"
		"  AND e.ts = x.ts::timestamptz AND e.external_request_id = x.id OFFSET 0) e ON true"
		" ORDER BY x.id";
	static const int fields[] = {F_PROVIDER, F_MODEL, F_INPUT, F_OUTPUT, F_TOTAL, F_CACHED, F_REASONING,
		F_LATENCY, F_STATUS, F_ERROR_CODE, F_PROMPT_VERSION, F_ENDPOINT_TAG, F_USER_ID, F_TENANT_ID,
	F_DATA_MODE, F_ENVIRONMENT, F_COST, F_TIMESTAMP};
	static const char *const names[] = {"provider", "model", "input", "output", "total", "cached", "reasoning",
		"latency", "is_error", "error_code", "prompt_version", "endpoint_tag", "user_id", "tenant_id",
	"data_mode", "environment", "cost", "ts"};
	Buf			rows = {0},
				detail = {0};
	const char *values[2];
	PGresult   *res;
	int			n = 0;

	buf_char(&rows, '[');
	for (int i = 0; i < c->nev; i++)
	{
		const Event *ev = &c->events[i];

		if (!ev->exp.set[F_ID])
			continue;			/* a duplicate inside the call: not stored */
		buf_str(&rows, n++ ? ",{\"id\":" : "{\"id\":");
		json_plain(&rows, ev->id.p, ev->id.len);
		for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
		{
			int			f = fields[k];

			buf_fmt(&rows, ",\"%s\":", names[k]);
			if (ev->exp.set[f] && ev->exp.s[f].len > 0)
				json_plain(&rows, ev->exp.s[f].p, ev->exp.s[f].len);
			else
				buf_str(&rows, "null");
		}
		buf_str(&rows, ",\"metadata\":");
		buf_add(&rows, ev->exp.s[F_METADATA].p, ev->exp.s[F_METADATA].len);
		buf_char(&rows, '}');
	}
	buf_char(&rows, ']');
	if (n == 0)
	{
		buf_free(&rows);
		return;
	}
	values[0] = rows.p;
	values[1] = workspace_id;
	/*
	 * Without statistics on keys the planner prices this far above
	 * jit_above_cost once the workspace is large, and JIT compiling it
	 * costs seconds: not for this query.
	 */
	PQclear(exec_ok("BEGIN"));
	PQclear(exec_ok("SET LOCAL jit = off"));
	res = PQexecParams(conn, sql, 2, NULL, values, NULL, NULL, 0);
	PQclear(exec_ok(PQresultStatus(res) == PGRES_TUPLES_OK ? "COMMIT" : "ROLLBACK"));
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		report_failure(c, "reading OTLP rows back failed", PQresultErrorMessage(res), notes);
	else
	{
		st.readbacks += PQntuples(res);
		st.otlp_readbacks += PQntuples(res);
		for (int i = 0; i < PQntuples(res); i++)
			if (PQgetvalue(res, i, 1)[0] != '\0' && detail.len < 600)
				buf_fmt(&detail, "%s%s: %s", detail.len ? "; " : "", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
		if (detail.len)
			report_failure(c, "a stored row differs from the GenAI span sent", detail.p, notes);
	}
	PQclear(res);
	buf_free(&rows);
	buf_free(&detail);
}

/* The answer of an accepted OTLP call: its own keys, consistent, and as expected. */
static void
otlp_check_answer(const Case *c, const char *resp, long accepted, long dups, const Buf *notes)
{
	const OtlpCase *ot = c->ot;
	long		received = top_level_long(resp, "received"),
				skipped = top_level_long(resp, "skippedSpans"),
				unpriced = top_level_long(resp, "unpriced");
	const char *spans = top_level_value(resp, "duplicateSpans");
	const char *indexes = top_level_value(resp, "duplicateIndexes");
	const char *warnings = top_level_value(resp, "warnings");
	char		d[512];

	if (received < 0 || skipped < 0 || unpriced < 0 || spans == NULL || indexes == NULL || warnings == NULL)
	{
		report_failure(c, "an OTLP answer lacks received, skippedSpans, unpriced, duplicateSpans, "
					   "duplicateIndexes or warnings", resp, notes);
		return;
	}
	st.otlp_received += received;
	st.otlp_skipped += skipped;
	st.otlp_accepted += accepted;
	if (received != accepted + dups || json_array_length(spans) != dups || json_array_length(indexes) != dups)
	{
		snprintf(d, sizeof(d), "received %ld, accepted %ld, duplicates %ld, %ld duplicateSpans, %ld duplicateIndexes",
				 received, accepted, dups, json_array_length(spans), json_array_length(indexes));
		report_failure(c, "an OTLP answer does not add up", d, notes);
	}
	{
		/* each warning names its span; each unpriced event has one, and nothing else warns */
		long		nw = json_array_length(warnings);
		size_t		wlen = json_container_len(warnings);
		long		named = 0;

		for (const char *p = warnings; (p = strstr(p, "{\"span\": \"resourceSpans[")) != NULL && p < warnings + wlen; p++)
			named++;
		if (nw != named || nw != unpriced)
		{
			snprintf(d, sizeof(d), "%ld warnings, %ld naming a span, %ld unpriced", nw, named, unpriced);
			report_failure(c, "an OTLP answer's warnings do not match its spans", d, notes);
		}
	}
	if (ot->total_spans >= 0 && received + skipped != ot->total_spans)
	{
		snprintf(d, sizeof(d), "received %ld + skippedSpans %ld, but the body has %ld spans",
				 received, skipped, ot->total_spans);
		report_failure(c, "an OTLP answer lost or invented spans", d, notes);
	}
	if (ot->e.counts_known && (received != ot->e.genai || skipped != ot->e.skipped))
	{
		snprintf(d, sizeof(d), "expected received %ld and skippedSpans %ld, got %ld and %ld",
				 ot->e.genai, ot->e.skipped, received, skipped);
		report_failure(c, "wrong GenAI/skipped span counts", d, notes);
	}
	if (c->kind == KIND_DUP)
	{
		size_t		n = strlen(ot->e.all_paths.p);

		if (ot->e.counts_known && ot->e.ids_known && (strncmp(spans, ot->e.all_paths.p, n) != 0 || unpriced != 0))
		{
			snprintf(d, sizeof(d), "expected duplicateSpans %.200s and unpriced 0, got %.200s and %ld",
					 ot->e.all_paths.p, spans, unpriced);
			report_failure(c, "a resent export did not name every GenAI span a duplicate", d, notes);
		}
	}
	else if (c->exact_counts && accepted == c->expect_new && dups == c->expect_dups)
	{
		size_t		n = strlen(ot->e.dup_paths.p);

		if (ot->e.ids_known && strncmp(spans, ot->e.dup_paths.p, n) != 0)
		{
			snprintf(d, sizeof(d), "expected duplicateSpans %.200s, got %.200s", ot->e.dup_paths.p, spans);
			report_failure(c, "wrong duplicateSpans", d, notes);
		}
	}
	/* what the answer says was stored is what the case's ids have in the table */
	if (ot->e.ids_known && c->exact_counts)
	{
		long		rows = otlp_rows_with_tags(ot);

		if (rows != c->expect_new)
		{
			snprintf(d, sizeof(d), "%ld rows carry the case's ids, the answer accepted %ld (expected %d)",
					 rows, accepted, c->expect_new);
			report_failure(c, "the rows stored are not the events accepted", d, notes);
		}
	}
	if (c->kind != KIND_DUP && c->exact_counts && c->events && accepted == c->expect_new)
		otlp_read_back(c, notes);
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

/* opsmeter.max_payload_bytes at the body's jsonb size, or one byte below it. */
static void
otlp_payload_limit(Case *c)
{
	static const Oid types[1] = {25};	/* text */
	const char *values[1] = {c->payload.p ? c->payload.p : ""};
	int			lengths[1] = {(int) c->payload.len};
	int			formats[1] = {1};
	PGresult   *res = PQexecParams(conn, "SELECT pg_column_size($1::jsonb)", 1, types, values, lengths, formats, 0);
	long		size,
				limit;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "fuzz_ingest: measuring a body failed: %s", PQerrorMessage(conn));
		exit(2);
	}
	size = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	limit = c->ot->payload_limit == 1 ? size - 1 : size;
	if (limit < 1024)
	{
		/* the setting's minimum: no boundary to test */
		limit = 1024;
		c->verdict = V_UNSURE;
		c->expect_sqlstate = NULL;
		c->exact_counts = false;
	}
	buf_reset(&c->ot->setup);
	buf_fmt(&c->ot->setup, "SET LOCAL opsmeter.max_payload_bytes = %ld", limit);
}

/* Runs one case and applies every per-case rule. */
static void
run_case(Case *c, const Buf *notes, Rng *side)
{
	double		t0,
				dt;
	PGresult   *res;
	const char *sqlstate;
	bool		in_xact = c->path == PATH_OTLP && (c->ot->setup.len || c->ot->payload_limit);
	double		t_start = now_sec();

	if (c->path == PATH_OTLP && c->ot->driver_error[0])
	{
		st.otlp_driver_errors++;
		report_failure(c, "the driver's OTLP oracle disagrees with its own generator", c->ot->driver_error, notes);
	}
	if (in_xact)
	{
		/* a lowered limit, for this call only */
		PQclear(exec_ok("BEGIN"));
		if (c->ot->payload_limit)
			otlp_payload_limit(c);
		PQclear(exec_ok(c->ot->setup.p));
	}
	t0 = now_sec();
	res = send_payload(c->path, &c->payload);
	dt = now_sec() - t0;
	if (in_xact && !connection_lost(res))
		PQclear(exec_ok(PQresultStatus(res) == PGRES_TUPLES_OK ? "COMMIT" : "ROLLBACK"));
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
				path_names[c->path], c->payload.len,
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
			else if (c->path != PATH_OTLP && c->events && rng_chance(side, opt.readback_per_mille))
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
		if (c->path == PATH_OTLP)
			otlp_check_answer(c, resp, accepted, dups, notes);
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
		if (c->path == PATH_OTLP)
			otlp_check_refused(c, notes);
	}
	if (c->path == PATH_OTLP && c->verdict == V_UNSURE)
	{
		/* what the server made of an open question, when there was just one */
		int			why = c->ot->e.why;

		for (int k = 0; k < NUM_REASONS; k++)
			if (why == RB(k))
			{
				if (PQresultStatus(res) == PGRES_TUPLES_OK)
					st.reason_ok[k]++;
				else
					st.reason_refused[k]++;
			}
	}
	if (c->path == PATH_JSONB && c->single && c->kind != KIND_DUP && rng_chance(side, opt.diff_per_mille))
		differential(c, res);
	PQclear(res);
	st.call_seconds += dt;
	st.check_seconds += now_sec() - t_start - dt;
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

/* The rows of GenAI spans, told apart by their metadata: {"otel": {...}} and nothing else. */
#define OTLP_ROW "jsonb_typeof(metadata -> 'otel') = 'object' AND metadata - 'otel' = '{}'::jsonb" \
	" AND (metadata -> 'otel') - '{traceId,spanId,name,operation,responseModel,service}'::text[] = '{}'::jsonb"

static const char *const otlp_row_rules[][2] = {
	{"an OTLP row's totalTokens is inputTokens + outputTokens (no attribute gives it)",
	"total_tokens <> input_tokens + output_tokens"},
	{"an OTLP row's metadata.otel.name is at most 200 bytes", "octet_length(metadata #>> '{otel,name}') > 200"},
	{"an OTLP row's metadata.otel holds strings only",
	"EXISTS (SELECT 1 FROM jsonb_each(metadata -> 'otel') j WHERE jsonb_typeof(j.value) <> 'string')"},
	{"an OTLP row's metadata.otel has an id or a name",
	"NOT (metadata -> 'otel' ?| '{traceId,spanId,name,operation,responseModel,service}'::text[])"
	" AND external_request_id IS NULL"},
};

#define NUM_OTLP_ROW_RULES ((int) (sizeof(otlp_row_rules) / sizeof(otlp_row_rules[0])))

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

	/* the rows opsmeter_ingest_otlp stored: as many as its answers accepted */
	buf_reset(&sql);
	buf_str(&sql, "SELECT count(*)");
	for (int i = 0; i < NUM_OTLP_ROW_RULES; i++)
		buf_fmt(&sql, ", count(*) FILTER (WHERE %s), min(external_request_id) FILTER (WHERE %s)",
				otlp_row_rules[i][1], otlp_row_rules[i][1]);
	buf_fmt(&sql, " FROM opsmeter.events WHERE workspace_id = %s AND " OTLP_ROW, ws);
	res = exec_ok(sql.p);
	rows = atol(PQgetvalue(res, 0, 0));
	printf("verify: %ld rows of GenAI spans (metadata.otel), %ld accepted by the OTLP answers\n",
		   rows, st.otlp_accepted);
	if (rows != st.otlp_accepted)
	{
		fprintf(stderr, "FAIL verify: %ld rows of GenAI spans but the OTLP answers accepted %ld\n",
				rows, st.otlp_accepted);
		problems++;
	}
	for (int i = 0; i < NUM_OTLP_ROW_RULES; i++)
	{
		long		n = atol(PQgetvalue(res, 0, 1 + 2 * i));

		if (n > 0)
		{
			fprintf(stderr, "FAIL verify: %ld rows break \"%s\" (e.g. externalRequestId %s)\n", n,
					otlp_row_rules[i][0], PQgetvalue(res, 0, 2 + 2 * i));
			problems++;
		}
	}
	PQclear(res);
	printf("verify: %d OTLP row rules checked over those rows: %s\n", NUM_OTLP_ROW_RULES,
		   problems ? "VIOLATIONS" : "all hold");
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
			"                   [-p all|jsonb|ndjson|otlp] [-w WORKSPACE] [-o FAILDIR] [--strict] [-v]\n"
			"  connects with the usual PG* environment variables\n"
			"  -s SEED       PRNG seed (default: from the clock); printed for reproduction\n"
			"  -n CASES      number of cases (default 5000)\n"
			"  --only CASE   run just that case of that seed (and the case it resends, if any)\n"
			"  --print       with --only: write the case's payload to stdout, send nothing\n"
			"                (MAX_BATCH: the opsmeter.max_batch_events to assume, default 10000)\n"
			"  -p PATH       entry point to fuzz (default all: opsmeter_ingest, _ndjson, _otlp)\n"
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
	opt.path_mask = 7;
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
			opt.path_mask = strcmp(v, "jsonb") == 0 ? 1 : strcmp(v, "ndjson") == 0 ? 2
				: strcmp(v, "otlp") == 0 ? 4 : 7;
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
	printf("  cases: %ld (jsonb %ld, ndjson %ld, otlp %ld; clean %ld, resent %ld, mutated %ld, text-mutated %ld, special %ld)\n",
		   st.cases, st.by_path[PATH_JSONB], st.by_path[PATH_NDJSON], st.by_path[PATH_OTLP], st.by_kind[KIND_CLEAN],
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
	printf("  otlp: %ld GenAI spans answered (%ld stored), %ld skipped; %ld rows read back; "
		   "%ld refusals checked to have stored nothing\n",
		   st.otlp_received, st.otlp_accepted, st.otlp_skipped, st.otlp_readbacks, st.otlp_refusals_checked);
	{
		bool		any = false;

		for (int k = 0; k < NUM_REASONS; k++)
			if (st.reason_ok[k] || st.reason_refused[k])
			{
				if (!any)
					printf("  otlp questions README leaves open (cases with that one question: accepted / refused):\n");
				any = true;
				printf("    %6ld / %-6ld %s\n", st.reason_ok[k], st.reason_refused[k], reason_names[k]);
			}
	}
	printf("  bytes sent: %.1f MB, largest case %.2f MB, slowest case %ld (%.2f s)\n",
		   (double) st.bytes_sent / 1e6, (double) st.largest / 1e6, st.slowest_case, st.slowest);
	printf("  elapsed %.1f s, %.0f cases/s (building cases %.1f s, in the entry points %.1f s, checking %.1f s)\n",
		   elapsed, elapsed > 0 ? (double) st.cases / elapsed : 0.0, st.gen_seconds, st.call_seconds, st.check_seconds);
}

int
main(int argc, char **argv)
{
	Ctx			ctx = {0};
	Buf			notes = {0};
	Rng			side;
	double		t0,
				t_gen;
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
				path_names[c.path], c.what ? c.what : "", notes.p ? notes.p : "");
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
		t_gen = now_sec();
		gen_case(&ctx, no, &c, &notes);
		st.gen_seconds += now_sec() - t_gen;
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
