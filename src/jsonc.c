/*
 * jsonc.c — json-c helpers that need PostgreSQL (the price-file loader):
 * a tokener that raises on out-of-memory, exact numbers.
 */
#include "postgres.h"

#include "jsonc.h"

#include "utils/builtins.h"
#include "utils/fmgrprotos.h"



struct json_tokener *
opsmeter_jsonc_new_tokener(void)
{
	struct json_tokener *tok = opsmeter_json_text_new_tokener();

	if (tok == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return tok;
}

Numeric
opsmeter_jsonc_number(struct json_object *num)
{
	const char *text = json_object_get_string(num);

	return DatumGetNumeric(DirectFunctionCall3(numeric_in, CStringGetDatum(text),
											   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
}
