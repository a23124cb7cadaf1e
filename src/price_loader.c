/*
 * price_loader.c — loads price files into opsmeter.prices with json-c.
 *
 * Two formats:
 *  - opsmeter's own (data/opsmeter_prices.json): {"format": "opsmeter-prices",
 *    "prices": [{provider, model, effective_from, input, output,
 *    cached_input}]}, USD per 1M tokens;
 *  - LiteLLM's model_prices_and_context_window.json: an object keyed by
 *    model, per-token USD costs and a litellm_provider field.
 * Prices are read from the JSON text as exact decimals, never as floats.
 * Loading only ever adds (provider, model, effective_from) rows or corrects
 * one with the same key; it never changes the cost already stored with an
 * event (costs are a snapshot taken at ingest).
 */
#include "postgres.h"

#include "jsonc.h"

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"

#include <sys/stat.h>

PG_FUNCTION_INFO_V1(opsmeter_load_prices);
PG_FUNCTION_INFO_V1(opsmeter_load_default_prices);

#define PRICE_FILE_MAX_BYTES (64 * 1024 * 1024)

typedef struct PriceLoad
{
	const char *path;
	const char *format;
	const char *source;
	bool		have_effective_from;	/* the caller's effective_from */
	TimestampTz effective_from;
	int			inserted;
	int			updated;
	int			unchanged;
	int			skipped;
	SPIPlanPtr	upsert;
	SPIPlanPtr	latest;
} PriceLoad;

typedef struct PriceRow
{
	char	   *provider;
	char	   *model;
	TimestampTz effective_from;
	Numeric		input;
	Numeric		output;
	Numeric		cached_input;	/* NULL when the provider has no cached rate */
} PriceRow;

pg_noreturn static void
file_error(const PriceLoad *load, const char *where, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid price file \"%s\"%s: %s", load->path, where, problem),
			 errhint("Expected the opsmeter format ({\"format\": \"opsmeter-prices\", \"prices\": [...]}) "
					 "or LiteLLM's model_prices_and_context_window.json.")));
}

static char *
read_price_file(const char *path, size_t *len)
{
	FILE	   *f = AllocateFile(path, PG_BINARY_R);
	struct stat st;
	char	   *buf;

	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open price file \"%s\": %m", path)));
	if (fstat(fileno(f), &st) != 0)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not stat price file \"%s\": %m", path)));
	if (st.st_size > PRICE_FILE_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("price file \"%s\" is larger than %d MB", path, PRICE_FILE_MAX_BYTES / (1024 * 1024))));
	buf = palloc(st.st_size + 1);
	*len = fread(buf, 1, st.st_size, f);
	if (ferror(f))
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not read price file \"%s\": %m", path)));
	FreeFile(f);
	buf[*len] = '\0';
	return buf;
}

/* "^[+-]?(digits[.digits]|.digits)([eE][+-]?digits)?$" */
static bool
looks_numeric(const char *s)
{
	bool		digits = false;

	if (*s == '+' || *s == '-')
		s++;
	for (; *s >= '0' && *s <= '9'; s++)
		digits = true;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			digits = true;
	if (!digits)
		return false;
	if (*s == 'e' || *s == 'E')
	{
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/*
 * A non-negative price from a JSON number or numeric string; NULL when the
 * key is absent or null; *bad when present but not a price.
 */
static Numeric
price_value(struct json_object *parent, const char *key, bool *bad)
{
	struct json_object *v;
	Numeric		n;

	*bad = false;
	if (!json_object_object_get_ex(parent, key, &v) || v == NULL)
		return NULL;
	if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double))
		n = opsmeter_jsonc_number(v);
	else if (json_object_is_type(v, json_type_string) && looks_numeric(json_object_get_string(v)))
		n = DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(json_object_get_string(v)),
												ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
	else
	{
		*bad = true;
		return NULL;
	}
	if (DatumGetInt32(DirectFunctionCall2(numeric_cmp, NumericGetDatum(n),
										  NumericGetDatum(int64_to_numeric(0)))) < 0)
	{
		*bad = true;
		return NULL;
	}
	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(n)));
}

static const char *
string_value(struct json_object *parent, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(parent, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static char *
ascii_lower(const char *s)
{
	char	   *r = pstrdup(s);

	for (char *p = r; *p; p++)
		*p = pg_ascii_tolower((unsigned char) *p);
	return r;
}

static Numeric
per_million(Numeric per_token)
{
	Numeric		n = numeric_mul_opt_error(per_token, int64_to_numeric(1000000), NULL);

	return DatumGetNumeric(DirectFunctionCall1(numeric_trim_scale, NumericGetDatum(n)));
}

static void
prepare_plans(PriceLoad *load)
{
	Oid			upsert_types[7] = {TEXTOID, TEXTOID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID, NUMERICOID, TEXTOID};
	Oid			latest_types[2] = {TEXTOID, TEXTOID};

	/* search_path is pg_catalog here (opsmeter_become_owner pins it). */
	load->upsert = SPI_prepare(
							   "INSERT INTO opsmeter.prices AS p (provider, model, effective_from, input_usd_per_mtok, "
							   "  output_usd_per_mtok, cached_input_usd_per_mtok, source) "
							   "VALUES ($1, $2, $3, $4, $5, $6, $7) "
							   "ON CONFLICT (provider, model, effective_from) DO UPDATE "
							   "  SET input_usd_per_mtok = excluded.input_usd_per_mtok, "
							   "      output_usd_per_mtok = excluded.output_usd_per_mtok, "
							   "      cached_input_usd_per_mtok = excluded.cached_input_usd_per_mtok, "
							   "      source = excluded.source, loaded_at = now() "
							   "  WHERE (p.input_usd_per_mtok, p.output_usd_per_mtok, p.cached_input_usd_per_mtok) "
							   "        IS DISTINCT FROM (excluded.input_usd_per_mtok, excluded.output_usd_per_mtok, "
							   "                          excluded.cached_input_usd_per_mtok) "
							   "RETURNING p.xmax = '0'::xid",
							   7, upsert_types);
	load->latest = SPI_prepare(
							   "SELECT input_usd_per_mtok, output_usd_per_mtok, cached_input_usd_per_mtok "
							   "FROM opsmeter.prices WHERE provider = $1 AND model = $2 "
							   "ORDER BY effective_from DESC LIMIT 1",
							   2, latest_types);
	if (load->upsert == NULL || load->latest == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
}

static void
write_price(PriceLoad *load, const PriceRow *row)
{
	Datum		args[7];
	char		nulls[7] = "       ";
	bool		isnull;

	args[0] = CStringGetTextDatum(row->provider);
	args[1] = CStringGetTextDatum(row->model);
	args[2] = TimestampTzGetDatum(row->effective_from);
	args[3] = NumericGetDatum(row->input);
	args[4] = NumericGetDatum(row->output);
	args[5] = row->cached_input ? NumericGetDatum(row->cached_input) : (Datum) 0;
	nulls[5] = row->cached_input ? ' ' : 'n';
	args[6] = CStringGetTextDatum(load->source);
	if (SPI_execute_plan(load->upsert, args, nulls, false, 0) != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "writing price failed");
	if (SPI_processed == 0)
		load->unchanged++;
	else if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
		load->inserted++;
	else
		load->updated++;
}

static bool
numeric_same(Numeric a, Numeric b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(a), NumericGetDatum(b)));
}

/*
 * LiteLLM files carry no dates.  Unless the caller gave effective_from: a
 * model new to the catalog is priced for all time (-infinity); a model
 * whose latest price differs gets a new row from now on; an equal price
 * is left alone.  History is never rewritten.
 */
static bool
litellm_effective_from(PriceLoad *load, PriceRow *row)
{
	Datum		args[2] = {CStringGetTextDatum(row->provider), CStringGetTextDatum(row->model)};
	bool		isnull;

	if (load->have_effective_from)
	{
		row->effective_from = load->effective_from;
		return true;
	}
	if (SPI_execute_plan(load->latest, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "reading prices failed");
	if (SPI_processed == 0)
	{
		TIMESTAMP_NOBEGIN(row->effective_from);
		return true;
	}
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Numeric		in = DatumGetNumeric(SPI_getbinval(tup, desc, 1, &isnull));
		Numeric		out = DatumGetNumeric(SPI_getbinval(tup, desc, 2, &isnull));
		Datum		cached = SPI_getbinval(tup, desc, 3, &isnull);

		if (numeric_same(in, row->input) && numeric_same(out, row->output) &&
			numeric_same(isnull ? NULL : DatumGetNumeric(cached), row->cached_input))
			return false;
	}
	row->effective_from = GetCurrentTransactionStartTimestamp();
	return true;
}

/* LiteLLM providers under the names callers send. */
static const char *
litellm_provider_name(const char *litellm_provider)
{
	char	   *p = ascii_lower(litellm_provider);

	if (strcmp(p, "gemini") == 0 || strncmp(p, "vertex_ai", 9) == 0)
		return "google";
	if (strcmp(p, "text-completion-openai") == 0)
		return "openai";
	if (strcmp(p, "codestral") == 0 || strcmp(p, "text-completion-codestral") == 0)
		return "mistral";
	return p;
}

static void
load_litellm(PriceLoad *load, struct json_object *root)
{
	json_object_object_foreach(root, key, entry)
	{
		PriceRow	row;
		const char *litellm_provider;
		bool		bad_in,
					bad_out,
					bad_cached;
		char	   *model;
		size_t		plen;

		if (strcmp(key, "sample_spec") == 0 || entry == NULL ||
			!json_object_is_type(entry, json_type_object) ||
			(litellm_provider = string_value(entry, "litellm_provider")) == NULL)
		{
			load->skipped++;
			continue;
		}
		row.input = price_value(entry, "input_cost_per_token", &bad_in);
		row.output = price_value(entry, "output_cost_per_token", &bad_out);
		row.cached_input = price_value(entry, "cache_read_input_token_cost", &bad_cached);
		if (row.input == NULL || row.output == NULL || bad_in || bad_out || bad_cached)
		{
			load->skipped++;	/* per-image, per-second or malformed pricing */
			continue;
		}
		row.input = per_million(row.input);
		row.output = per_million(row.output);
		if (row.cached_input)
			row.cached_input = per_million(row.cached_input);

		/* "anthropic/claude-3-5-haiku" -> "claude-3-5-haiku" */
		model = ascii_lower(key);
		plen = strlen(litellm_provider);
		if (pg_strncasecmp(model, litellm_provider, plen) == 0 && model[plen] == '/')
			model += plen + 1;
		row.provider = (char *) litellm_provider_name(litellm_provider);
		row.model = model;
		if (strlen(row.model) == 0 || strlen(row.model) > 200 || strlen(row.provider) > 100)
		{
			load->skipped++;
			continue;
		}
		if (!litellm_effective_from(load, &row))
		{
			load->unchanged++;
			continue;
		}
		write_price(load, &row);
	}
}

static void
load_opsmeter_format(PriceLoad *load, struct json_object *root)
{
	struct json_object *prices;
	const char *file_from = string_value(root, "effective_from");

	if (!json_object_object_get_ex(root, "prices", &prices) || !json_object_is_type(prices, json_type_array))
		file_error(load, "", "\"prices\" must be an array");

	for (size_t i = 0; i < json_object_array_length(prices); i++)
	{
		struct json_object *entry = json_object_array_get_idx(prices, i);
		const char *where = psprintf(" entry %zu", i);
		const char *provider,
				   *model,
				   *from;
		PriceRow	row;
		bool		bad_in,
					bad_out,
					bad_cached;

		if (entry == NULL || !json_object_is_type(entry, json_type_object))
			file_error(load, where, "must be an object");
		provider = string_value(entry, "provider");
		model = string_value(entry, "model");
		if (provider == NULL || provider[0] == '\0' || strlen(provider) > 100)
			file_error(load, where, "\"provider\" must be a string of 1 to 100 characters");
		if (model == NULL || model[0] == '\0' || strlen(model) > 200)
			file_error(load, where, "\"model\" must be a string of 1 to 200 characters");
		row.provider = ascii_lower(provider);
		row.model = ascii_lower(model);
		row.input = price_value(entry, "input", &bad_in);
		row.output = price_value(entry, "output", &bad_out);
		row.cached_input = price_value(entry, "cached_input", &bad_cached);
		if (row.input == NULL || bad_in)
			file_error(load, where, "\"input\" must be a non-negative number (USD per 1M tokens)");
		if (row.output == NULL || bad_out)
			file_error(load, where, "\"output\" must be a non-negative number (USD per 1M tokens)");
		if (bad_cached)
			file_error(load, where, "\"cached_input\" must be a non-negative number (USD per 1M tokens)");

		from = string_value(entry, "effective_from");
		if (from == NULL)
			from = file_from;
		if (from != NULL)
			row.effective_from = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(from),
																		 ObjectIdGetDatum(InvalidOid),
																		 Int32GetDatum(-1)));
		else if (load->have_effective_from)
			row.effective_from = load->effective_from;
		else
			file_error(load, where, "\"effective_from\" is missing");
		write_price(load, &row);
	}
}

static Jsonb *
load_result(const PriceLoad *load)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"path\": ");
	escape_json(&buf, load->path);
	appendStringInfo(&buf, ", \"format\": \"%s\", \"inserted\": %d, \"updated\": %d, "
					 "\"unchanged\": %d, \"skipped\": %d}",
					 load->format, load->inserted, load->updated, load->unchanged, load->skipped);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

static Jsonb *
load_price_file(PriceLoad *load)
{
	size_t		len;
	char	   *text = read_price_file(load->path, &len);
	struct json_tokener *volatile tok = NULL;
	struct json_object *volatile root = NULL;
	OwnerSwitch sw;

	opsmeter_become_owner(&sw);
	SPI_connect();
	PG_TRY();
	{
		const char *problem;
		bool		too_deep;
		const char *format;

		tok = opsmeter_jsonc_new_tokener();
		root = opsmeter_json_text_parse(tok, text, len, &problem, &too_deep);
		if (root == NULL && problem == NULL)
			file_error(load, "", "the top level must be an object");
		if (root == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid JSON in price file \"%s\": %s", load->path, problem)));
		if (!json_object_is_type(root, json_type_object))
			file_error(load, "", "the top level must be an object");
		prepare_plans(load);
		format = string_value(root, "format");
		if (format != NULL && strcmp(format, "opsmeter-prices") == 0)
		{
			load->format = "opsmeter";
			load_opsmeter_format(load, root);
		}
		else if (format != NULL)
			file_error(load, "", psprintf("unknown format \"%s\"", format));
		else
		{
			load->format = "litellm";
			load_litellm(load, root);
		}
	}
	PG_FINALLY();
	{
		if (root != NULL)
			json_object_put(root);
		if (tok != NULL)
			json_tokener_free(tok);
	}
	PG_END_TRY();
	SPI_finish();
	opsmeter_restore_user(&sw);
	return load_result(load);
}

/*
 * Whether the caller may rewrite the price catalog every tenant is billed
 * from.  Reading a server file needs pg_read_server_files; that a role may
 * read files is no reason to let it set everyone's prices, so it also needs
 * opsmeter's own administrative role.
 */
static bool
may_load_prices(Oid caller)
{
	Oid			opsmeter_admin;

	if (superuser_arg(caller))
		return true;
	opsmeter_admin = get_role_oid("opsmeter_admin", true);
	return has_privs_of_role(caller, ROLE_PG_READ_SERVER_FILES) &&
		OidIsValid(opsmeter_admin) && has_privs_of_role(caller, opsmeter_admin);
}

/*
 * opsmeter_load_prices(path, effective_from) — reads a server file into the
 * shared price catalog: superusers, and members of both pg_read_server_files
 * and opsmeter_admin.
 */
Datum
opsmeter_load_prices(PG_FUNCTION_ARGS)
{
	PriceLoad	load = {0};

	if (!may_load_prices(GetUserId()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to load prices from a server file"),
				 errhint("Only superusers, and roles that are members of both pg_read_server_files and "
						 "opsmeter_admin, may change the price catalog every workspace is billed from.")));
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid path: NULL"),
				 errhint("Give the server-side path of a price file.")));
	load.path = text_to_cstring(PG_GETARG_TEXT_PP(0));
	load.source = psprintf("file:%s", load.path);
	load.have_effective_from = !PG_ARGISNULL(1);
	if (load.have_effective_from)
		load.effective_from = PG_GETARG_TIMESTAMPTZ(1);
	PG_RETURN_JSONB_P(load_price_file(&load));
}

/* The catalog shipped with the extension, loaded by CREATE EXTENSION. */
Datum
opsmeter_load_default_prices(PG_FUNCTION_ARGS)
{
	PriceLoad	load = {0};
	char		sharepath[MAXPGPATH];

	get_share_path(my_exec_path, sharepath);
	load.path = psprintf("%s/extension/opsmeter_prices.json", sharepath);
	load.source = "opsmeter default catalog";
	PG_RETURN_JSONB_P(load_price_file(&load));
}
