/*
 * djogi_heer: the per-row HeeRanjID column defaults of djogi in C (optional: without this extension the
 * same functions run in SQL, see djogi/heer_sql.py).
 *
 * Each call does what the SQL draw does, on the same sequence clock and under the same advisory lock, so
 * ids from C and SQL are interchangeable and both can run at once (during an upgrade):
 *   1. take the kind's transaction-scoped advisory lock (re-taking a held lock is a local lookup);
 *   2. nextval of the clock sequence (its value counts (ms << 13) | sequence for HeerId,
 *      (us << 10) | sequence for RanjId, from heer_config's epoch);
 *   3. when that value is behind the statement's start, set the clock forward to the wall clock
 *      (setval, as heer_id_reserve(1) does) and use the new value;
 *   4. pack the value and the node into the id (the layout and flip masks of djogi/heer_sql.py).
 * The argument that ids are unique and increasing is in djogi/heer_sql.py: every nextval and setval of a
 * clock happens under its lock, and setval only moves it forward.
 *
 * The SQL wrappers pass every argument as a constant (the clock as a regclass, the lock key, the epoch,
 * the node from the IMMUTABLE heer_id_node()), so a call reads no catalog and no setting.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/sequence.h"
#include "common/int.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#ifdef PG_MODULE_MAGIC_EXT
PG_MODULE_MAGIC_EXT(.name = "djogi_heer", .version = "1.0");
#else
PG_MODULE_MAGIC;				/* before PostgreSQL 18 */
#endif

#define HEER_CLOCK_BITS 13		/* HeerId clock: (ms << 13) | sequence */
#define RANJ_CLOCK_BITS 10		/* RanjId clock: (us << 10) | sequence */
#define HEER_MAX_NODE 511		/* 9 node bits */
#define RANJ_MAX_NODE 32767		/* 15 node bits */
#define HEER_FLIP_MASK UINT64CONST(0x7FFFFFFFFFC01FFF)
#define RANJ_FLIP_MASK_HI UINT64CONST(0xFFFFFFFFFFFF0FFF)
#define RANJ_FLIP_MASK_LO UINT64CONST(0x0FFFFFFF8000FFFF)
/* microseconds from the Unix epoch to PostgreSQL's (2000-01-01), the origin of TimestampTz */
#define UNIX_TO_PG_US ((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* Raise unless every argument of the call is given (the functions are not STRICT: a NULL key is an error). */
static void
require_args(FunctionCallInfo fcinfo)
{
	for (int i = 0; i < PG_NARGS(); i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("djogi_heer: argument %d must not be null", i + 1)));
}

static int32
checked_node(int32 node, int32 max_node)
{
	if (node < 0 || node > max_node)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("HeeRanjID node %d is out of range (0..%d)", node, max_node)));
	return node;
}

/*
 * The clock value of timestamp ts: (floor(unix time / unit_us) - epoch) << bits, as heer_id_statement()
 * and heer_id_now() compute it in SQL (unit_us is 1000 for milliseconds, 1 for microseconds); -1 before
 * the epoch (behind every clock value, which are >= 0, as the SQL's negative value is).
 */
static int64
clock_at(TimestampTz ts, int64 epoch, int64 unit_us, int bits)
{
	int64		unix_us = ts + UNIX_TO_PG_US;
	int64		units = unix_us / unit_us - (unix_us % unit_us < 0 ? 1 : 0);	/* floor */
	int64		since;

	if (pg_sub_s64_overflow(units, epoch, &since) || since > (PG_INT64_MAX >> bits))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("HeeRanjID clock out of range for epoch " INT64_FORMAT, epoch)));
	return since < 0 ? -1 : since << bits;
}

/*
 * The next value of the clock sequence relid under advisory lock key: nextval, set forward to the wall
 * clock (GREATEST(value + 1, now), as heer_id_reserve(1)) when behind the statement's start.
 */
static int64
draw(Oid relid, int64 key, int64 epoch, int64 unit_us, int bits)
{
	LOCKTAG		tag;
	int64		value;

	/* the tag pg_advisory_xact_lock(bigint) takes: this database, the key's two halves, 1 for int8 keys */
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (key >> 32), (uint32) key, 1);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	value = nextval_internal(relid, true);
	if (value < clock_at(GetCurrentStatementStartTimestamp(), epoch, unit_us, bits))
	{
		int64		now = clock_at(GetCurrentTimestamp(), epoch, unit_us, bits);

		value = DatumGetInt64(DirectFunctionCall2(setval_oid, ObjectIdGetDatum(relid),
												  Int64GetDatum(Max(value + 1, now))));
	}
	return value;
}

PG_FUNCTION_INFO_V1(djogi_heerid_next);

/*
 * djogi_heerid_next(clock regclass, lock_key bigint, epoch_ms bigint, node integer, descending boolean)
 * RETURNS bigint: (ms << 22) | (node << 13) | sequence, flipped by the HeerIdDesc mask when descending.
 */
Datum
djogi_heerid_next(PG_FUNCTION_ARGS)
{
	uint64		value;
	uint64		id;
	int32		node;

	require_args(fcinfo);
	node = checked_node(PG_GETARG_INT32(3), HEER_MAX_NODE);
	value = (uint64) draw(PG_GETARG_OID(0), PG_GETARG_INT64(1), PG_GETARG_INT64(2), 1000, HEER_CLOCK_BITS);
	id = ((value >> HEER_CLOCK_BITS) << 22) | ((uint64) node << HEER_CLOCK_BITS) | (value & 8191);
	if (PG_GETARG_BOOL(4))
		id ^= HEER_FLIP_MASK;
	PG_RETURN_INT64((int64) id);
}

PG_FUNCTION_INFO_V1(djogi_ranjid_next);

/*
 * djogi_ranjid_next(clock regclass, lock_key bigint, epoch_us bigint, offset_us bigint, node integer,
 * descending boolean) RETURNS uuid: the RanjId (UUIDv8, microsecond precision) of tick = clock >> 10
 * plus the RanjId epoch offset:
 *   high 64 bits: (tick >> 41) << 16 | version 8 (0x8000) | bits 40..29 of tick
 *   low 64 bits:  variant 1 (top bit) | bits 28..0 of tick << 31 | node << 16 | sequence (10 bits)
 * each half flipped by the RanjIdDesc mask when descending, stored big-endian.
 */
Datum
djogi_ranjid_next(PG_FUNCTION_ARGS)
{
	int64		value;
	int64		tick;
	uint64		hi;
	uint64		lo;
	int32		node;
	pg_uuid_t  *uuid;

	require_args(fcinfo);
	node = checked_node(PG_GETARG_INT32(4), RANJ_MAX_NODE);
	value = draw(PG_GETARG_OID(0), PG_GETARG_INT64(1), PG_GETARG_INT64(2), 1, RANJ_CLOCK_BITS);
	if (pg_add_s64_overflow(value >> RANJ_CLOCK_BITS, PG_GETARG_INT64(3), &tick) || tick < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("RanjId time out of range")));
	hi = (((uint64) tick >> 41) << 16) | 0x8000 | (((uint64) tick >> 29) & 4095);
	lo = (UINT64CONST(1) << 63) | (((uint64) tick & 0x1FFFFFFF) << 31) | ((uint64) node << 16)
		| ((uint64) value & 1023);
	if (PG_GETARG_BOOL(5))
	{
		hi ^= RANJ_FLIP_MASK_HI;
		lo ^= RANJ_FLIP_MASK_LO;
	}
	uuid = (pg_uuid_t *) palloc(UUID_LEN);
	for (int i = 0; i < 8; i++)
	{
		uuid->data[i] = (unsigned char) (hi >> (56 - 8 * i));
		uuid->data[8 + i] = (unsigned char) (lo >> (56 - 8 * i));
	}
	PG_RETURN_UUID_P(uuid);
}
