/*
 * key_filter.c — split-block Bloom filters in front of the sealed
 * generations of dedup keys (src/README.md, "Key filters").
 *
 * A new key must be looked up in every sealed generation, one index
 * descent each (about 0.7 µs: with 12 sealed generations batch ingest took
 * three times as long as with none).  A sealed generation takes no new
 * keys, so a filter built once from its table answers "certainly not here"
 * for almost every key that is not, in one cache line of bits.
 *
 * Layout: each key sets one bit in each of the eight 32-bit words of one
 * 256-bit block (the block from the hash's high half, the bits from its low
 * half times eight odd constants), so a lookup reads one block.  About 12
 * bits per key.  Stored as bytea: magic, block count, key count, blocks.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "catalog.h"
#include "key_filter.h"

#define KEY_FILTER_MAGIC 0x4F4B4631 /* "OKF1": bump when the layout or hash changes */
#define KEY_FILTER_BITS_PER_KEY 12
#define KEY_FILTER_HEADER (2 * sizeof(uint32) + sizeof(uint64))
#define WORDS_PER_BLOCK 8
#define KEY_FILTER_MAX_BLOCKS ((uint64) 128 * 1024 * 1024 / (WORDS_PER_BLOCK * sizeof(uint32)))

static const uint32 block_salts[WORDS_PER_BLOCK] = {
	0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
	0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U
};

uint64
opsmeter_key_hash(int64 workspace_id, const char *key, Size len)
{
	return hash_bytes_extended((const unsigned char *) key, (int) len, (uint64) workspace_id);
}

static inline uint32
block_of(uint64 hash, uint32 nblocks)
{
	return (uint32) (((hash >> 32) * (uint64) nblocks) >> 32);
}

static inline uint32
bit_in_word(uint64 hash, int w)
{
	return UINT32_C(1) << (((uint32) hash * block_salts[w]) >> 27);
}

static void
filter_add(uint32 *words, uint32 nblocks, uint64 hash)
{
	uint32	   *block = words + (Size) block_of(hash, nblocks) * WORDS_PER_BLOCK;

	for (int w = 0; w < WORDS_PER_BLOCK; w++)
		block[w] |= bit_in_word(hash, w);
}

bool
opsmeter_key_filter_lacks(const KeyFilter *filter, uint64 hash)
{
	const uint32 *block = filter->words + (Size) block_of(hash, filter->nblocks) * WORDS_PER_BLOCK;

	for (int w = 0; w < WORDS_PER_BLOCK; w++)
		if ((block[w] & bit_in_word(hash, w)) == 0)
			return true;
	return false;
}

bool
opsmeter_key_filter_read(const bytea *stored, KeyFilter *filter)
{
	Size		len = VARSIZE_ANY_EXHDR(stored);
	const char *data = VARDATA_ANY(stored);
	uint32		magic,
				nblocks;

	/* the words are read as uint32: they are 4-byte aligned after a 4-byte header only */
	if (VARATT_IS_SHORT(stored) || len < KEY_FILTER_HEADER)
		return false;
	memcpy(&magic, data, sizeof(uint32));
	memcpy(&nblocks, data + sizeof(uint32), sizeof(uint32));
	if (magic != KEY_FILTER_MAGIC || nblocks == 0 ||
		len != KEY_FILTER_HEADER + (Size) nblocks * WORDS_PER_BLOCK * sizeof(uint32))
		return false;
	filter->nblocks = nblocks;
	filter->words = (const uint32 *) (data + KEY_FILTER_HEADER);
	return true;
}

/*
 * Every key tuple of a generation's table, dead and in-progress ones
 * included (SnapshotAny): the filter may only err towards "may hold".
 */
static uint64
scan_keys(Relation rel, AttrNumber ws_att, AttrNumber key_att, uint32 *words, uint32 nblocks)
{
	TableScanDesc scan = table_beginscan(rel, SnapshotAny, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	uint64		n = 0;

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		ws_null,
					key_null;
		Datum		ws = slot_getattr(slot, ws_att, &ws_null);
		Datum		key = slot_getattr(slot, key_att, &key_null);

		if (ws_null || key_null)
			continue;			/* NOT NULL columns: not a key */
		if (words != NULL)
		{
			text	   *t = DatumGetTextPP(key);

			filter_add(words, nblocks,
					   opsmeter_key_hash(DatumGetInt64(ws), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
			if ((Pointer) t != DatumGetPointer(key))
				pfree(t);
		}
		n++;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	return n;
}

static AttrNumber
key_column(Relation rel, const char *name, Oid type)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), name);

	if (att == InvalidAttrNumber || att > RelationGetDescr(rel)->natts ||
		TupleDescAttr(RelationGetDescr(rel), att - 1)->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a generation of dedup keys", RelationGetRelationName(rel)),
				 errdetail("It has no column %s of type %s.", name, format_type_be(type))));
	return att;
}

/*
 * opsmeter._key_filter(generation regclass) RETURNS bytea: the filter of a
 * generation's table.  Called by retention passes for sealed generations
 * (no ingest writes into them any more) and for a merged generation before
 * it is attached; a key inserted after the scan would be missed, so never
 * call it on the open generation.
 */
PG_FUNCTION_INFO_V1(opsmeter_key_filter_build);
Datum
opsmeter_key_filter_build(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = table_open(relid, AccessShareLock);
	AttrNumber	ws_att,
				key_att;
	uint64		nkeys;
	uint64		nblocks64;
	uint32		nblocks;
	uint32		magic = KEY_FILTER_MAGIC;
	Size		len;
	bytea	   *out;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relnamespace != opsmeter_schema_oid() ||
		strncmp(RelationGetRelationName(rel), "request_keys_", strlen("request_keys_")) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a generation of dedup keys", RelationGetRelationName(rel)),
				 errhint("Pass a partition of opsmeter.request_keys.")));
	ws_att = key_column(rel, "workspace_id", INT8OID);
	key_att = key_column(rel, "external_request_id", TEXTOID);

	nkeys = scan_keys(rel, ws_att, key_att, NULL, 0);
	nblocks64 = (nkeys * KEY_FILTER_BITS_PER_KEY + 255) / 256;
	/*
	 * At most 128 MB (90M keys at 12 bits): a generation with more keys
	 * gets fewer bits per key, so more absent keys are looked up, but none
	 * is ruled out wrongly.
	 */
	nblocks64 = Max(nblocks64, 1);
	nblocks64 = Min(nblocks64, KEY_FILTER_MAX_BLOCKS);
	nblocks = (uint32) nblocks64;
	len = KEY_FILTER_HEADER + (Size) nblocks * WORDS_PER_BLOCK * sizeof(uint32);
	out = (bytea *) palloc0(VARHDRSZ + len);
	SET_VARSIZE(out, VARHDRSZ + len);
	memcpy(VARDATA(out), &magic, sizeof(uint32));
	memcpy(VARDATA(out) + sizeof(uint32), &nblocks, sizeof(uint32));
	memcpy(VARDATA(out) + 2 * sizeof(uint32), &nkeys, sizeof(uint64));
	/*
	 * The second scan sets the bits.  A key added between the scans (none
	 * is: the generation is sealed, or not attached yet) would only raise
	 * the rate of false "may hold" answers.
	 */
	(void) scan_keys(rel, ws_att, key_att, (uint32 *) (VARDATA(out) + KEY_FILTER_HEADER), nblocks);
	table_close(rel, AccessShareLock);
	PG_RETURN_BYTEA_P(out);
}

/*
 * opsmeter._key_filter_lacks(filter bytea, workspace_id bigint, key text)
 * RETURNS boolean: the filter's answer for one key (tests check that no
 * stored key is ever "lacking"); NULL when the filter is not readable.
 */
PG_FUNCTION_INFO_V1(opsmeter_key_filter_lacks_sql);
Datum
opsmeter_key_filter_lacks_sql(PG_FUNCTION_ARGS)
{
	bytea	   *stored = PG_GETARG_BYTEA_P(0);	/* a 4-byte header: see the read */
	int64		workspace_id = PG_GETARG_INT64(1);
	text	   *key = PG_GETARG_TEXT_PP(2);
	KeyFilter	filter;

	if (!opsmeter_key_filter_read(stored, &filter))
		PG_RETURN_NULL();
	PG_RETURN_BOOL(opsmeter_key_filter_lacks(&filter,
											 opsmeter_key_hash(workspace_id, VARDATA_ANY(key),
															   VARSIZE_ANY_EXHDR(key))));
}
