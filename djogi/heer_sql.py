"""The SQL that installs HeeRanjID into a database (pure: builds text, never connects).

``bootstrap_sql()`` is the heeranjid wheel's schema, session functions and seed, then djogi's
generators, which replace the wheel's: one sequence clock per kind (``heer_id_clock``,
``heer_ranj_clock``) behind the single-row ``*_next*()`` column defaults and the bulk ``generate_ids*`` /
``generate_ranjids*`` functions (same signatures and bit layout as the wheel's, linear in the ids
generated), the desc flips, and the database's fixed node (``heer_set_node(n)`` re-creates
``heer_id_node()`` / ``heer_ranj_node()``; the bootstrap fixes it once and keeps it on later runs).
When the server has the optional ``djogi_heer`` extension (``csrc/djogi_heer``), the four column
defaults call its C functions instead (same clocks and layout). ``heer_configure()`` is deliberately not
run, so RanjIds are emitted in microsecond precision. Every statement is idempotent, and running the
script over an older install upgrades it (``installed_sql()`` tells whether that is needed).
"""

from __future__ import annotations

import re

from heeranjid.sql.postgres import GENERATE_HEERID, GENERATE_RANJID, SCHEMA, SEED, SESSION

from djogi.errors import ValidationError
from djogi.identifiers import check_identifier, quote_ident

MAX_NODE_ID = 511  # a node id must fit both HeerId (9 bits) and RanjId (15 bits)
DEFAULT_NODE_ID = 1  # the node of a single-node setup (seeded by the bootstrap)

HEER_FLIP_MASK = 0x7FFFFFFFFFC01FFF
RANJ_FLIP_MASK = 0xFFFFFFFFFFFF0FFF0FFFFFFF8000FFFF


def _signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


_RANJ_MASK_HI = _signed64(RANJ_FLIP_MASK >> 64)
_RANJ_MASK_LO = _signed64(RANJ_FLIP_MASK & ((1 << 64) - 1))

HEER_CLOCK_BITS = 13  # HeerId: the clock counts (ms << 13) | sequence: 8192 ids a millisecond, as the layout has
RANJ_CLOCK_BITS = 10  # RanjId: the clock counts (us << 10) | sequence: 1024 ids a microsecond (2**53 us: 285 years)
HEER_LOCK_KEY = int.from_bytes(b"djogiHID", "big")  # the advisory lock serializing HeerId generation
RANJ_LOCK_KEY = int.from_bytes(b"djogiRID", "big")  # ... and RanjId generation
CLOCK_MARKER = "heer_set_node"  # the newest object the bootstrap creates: when present, the install is current


FIXED_NODE_SQL = "SELECT to_regprocedure('heer_id_node()') IS NOT NULL"  # has the database a fixed node?


def installed_sql() -> str:
    """A query returning one boolean: is the current HeeRanjID SQL installed in the database?"""
    return f"SELECT to_regprocedure('{CLOCK_MARKER}(integer)') IS NOT NULL"


def _pinned(function_sql: str) -> str:
    """``CREATE FUNCTION`` text (``{pin}`` where its options go) run through ``EXECUTE format``, so it is
    pinned to the install schema and ``pg_catalog``, as the wheel's plpgsql functions are."""
    body = function_sql.replace("%", "%%").replace("{pin}", "SET search_path = %I, pg_catalog")
    return (f"DO $install$\nBEGIN\n    EXECUTE format($sql$\n{body}\n$sql$, COALESCE(current_schema(), 'public'));\n"
            "END;\n$install$;\n")


_SET_NODE_SQL = _pinned(f"""CREATE OR REPLACE FUNCTION heer_set_node(node integer) RETURNS integer
LANGUAGE plpgsql {{pin}} AS $func$
BEGIN
    IF node IS NULL OR node < 0 OR node > {MAX_NODE_ID} THEN
        RAISE EXCEPTION 'HeeRanjID node % is out of range (0..{MAX_NODE_ID})', node USING ERRCODE = '22003';
    END IF;
    INSERT INTO heer_nodes (node_id, name, description, is_active)
    VALUES (node, 'node ' || node, 'Registered by heer_set_node', true) ON CONFLICT (node_id) DO NOTHING;
    EXECUTE format('CREATE OR REPLACE FUNCTION heer_id_node() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE '
                   'RETURN %s', node);
    EXECUTE format('CREATE OR REPLACE FUNCTION heer_ranj_node() RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE '
                   'RETURN %s', node);
    RETURN node;
END;
$func$;""")


def _fixed_node_sql(node_id: int) -> str:
    """Fix the database's node unless it is fixed already: the database's default ``heer.node_id`` (what the
    sessions of an older install used), else ``node_id``."""
    return f"""
DO $djogi_fixed_node$
BEGIN
    IF to_regprocedure('heer_id_node()') IS NULL THEN
        PERFORM heer_set_node(coalesce(nullif(current_setting('heer.node_id', true), ''), '{node_id}')::integer);
    END IF;
END
$djogi_fixed_node$;
"""


def _heerid_sql(first: str, again: str, node: str, descending: bool) -> str:
    """The HeerId of clock value ``first`` (evaluated first, once; ``again`` is the same value, read again)
    on ``node``: ``(ms << 22) | (node << 13) | sequence``, flipped for HeerIdDesc."""
    value = f"((({first}) >> 13) << 22) | (({again}) & 8191) | (({node})::bigint << 13)"
    return f"({value}) # {HEER_FLIP_MASK}::bigint" if descending else value


def _ranjid_sql(first: str, again: str, node: str, descending: bool) -> str:
    """The RanjId (UUIDv8, microsecond precision) of clock value ``first`` (evaluated first; ``again`` reads
    the same value) on ``node``, flipped for RanjIdDesc; ``heer_ranj_epoch_offset()`` is in microseconds."""
    bits = RANJ_CLOCK_BITS
    tick = f"((({{}}) >> {bits}) + heer_ranj_epoch_offset())"
    hi = f"(({tick.format(first)} >> 41) << 16) | 32768 | (({tick.format(again)} >> 29) & 4095)"
    lo = (f"(-9223372036854775808)::bigint | (({tick.format(again)} & 536870911) << 31) "
          f"| (({node})::bigint << 16) | (({again}) & {(1 << bits) - 1})")
    if descending:
        hi, lo = f"({hi}) # {_RANJ_MASK_HI}::bigint", f"({lo}) # {_RANJ_MASK_LO}::bigint"
    return f"(lpad(to_hex({hi}), 16, '0') || lpad(to_hex({lo}), 16, '0'))::uuid"


# The node is fixed per database: ``heer_set_node(n)`` (run by the bootstrap) re-creates these two IMMUTABLE
# functions returning it, so the planner folds the node into every statement as a constant.
_HEER_NODE = "heer_id_node()"
_RANJ_NODE = "heer_ranj_node()"

# The logical clocks. Each kind keeps one sequence holding the last id it handed out as a number
# ((ms << 13) | sequence for HeerId, (us << 10) | sequence for RanjId, from heer_config's epoch). The
# column defaults take one ``nextval`` per row; when that value is behind the *statement's* start
# (``statement_timestamp()``, read per row but fixed for the statement, so only a statement's first row can
# find the clock behind it) the sequence is first set forward (``setval``) to the wall clock. Nothing is
# updated per row, so a statement's cost is linear in its rows. The epoch is read once, here (re-run the
# bootstrap after changing heer_config).
#
# Why ids are unique and increasing (the argument, not a timing assumption): every ``nextval`` and every
# ``setval`` of a clock happens while holding the kind's transaction-scoped advisory lock (the column
# defaults take it before their ``nextval``: re-taking a lock already held is a local lookup), so one
# transaction at a time draws from a clock, from its first id until it commits or rolls back. Within
# that transaction ``setval`` only ever moves the sequence forward (to GREATEST(last value + 1, wall
# clock)), and ``nextval`` is atomic, so the values handed out are strictly increasing in generation order
# across all sessions: no two ids share a clock value, and a later transaction's ids are all above an
# earlier one's. A lock-free ``nextval`` would not be safe: a ``setval`` computed from a value read before
# a concurrent ``nextval`` can move the sequence back under it, however short the window. Older installs
# (djogi's previous clock functions) take the same locks on the same sequences, so both can run during an
# upgrade; the wheel's per-node state rows are read once by the bootstrap, which starts the clocks after
# them. The clock never goes back: a wall clock behind it (after a large batch, or a clock step back) is not
# an error, ids continue from the clock. A row reads its value a second time (for the bit packing) with
# ``lastval()``, which is that same sequence's value: nothing between the row's ``nextval`` and it draws
# from another sequence (the slow path only calls ``setval`` on the same one, which ``lastval()`` follows).
_CLOCK_SQL = f"""
CREATE SEQUENCE IF NOT EXISTS heer_id_clock AS bigint MINVALUE 0 MAXVALUE {(1 << (41 + HEER_CLOCK_BITS)) - 1};
CREATE SEQUENCE IF NOT EXISTS heer_ranj_clock AS bigint MINVALUE 0;
COMMENT ON SEQUENCE heer_id_clock IS
    'djogi: the last HeerId handed out, as (ms since the epoch) << 13 | sequence. Do not modify manually.';
COMMENT ON SEQUENCE heer_ranj_clock IS
    'djogi: the last RanjId handed out, as (us since the epoch) << 10 | sequence. Do not modify manually.';
DO $djogi_heer_clock$
DECLARE
    epoch_ms bigint;
    epoch_us bigint;
    offset_us bigint;
BEGIN
    SELECT floor(extract(epoch FROM c.epoch) * 1000)::bigint, floor(extract(epoch FROM c.epoch) * 1000000)::bigint,
           c.ranj_epoch_offset::bigint
    INTO epoch_ms, epoch_us, offset_us FROM heer_config AS c WHERE c.id = 1;
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_id_now() RETURNS bigint LANGUAGE sql VOLATILE
        RETURN (floor(date_part('epoch', clock_timestamp()) * 1000)::bigint - %s) << {HEER_CLOCK_BITS}$f$, epoch_ms);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_ranj_now() RETURNS bigint LANGUAGE sql VOLATILE
        RETURN (floor(date_part('epoch', clock_timestamp()) * 1000000)::bigint - %s) << {RANJ_CLOCK_BITS}$f$, epoch_us);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_id_statement() RETURNS bigint LANGUAGE sql STABLE
        RETURN (floor(date_part('epoch', statement_timestamp()) * 1000)::bigint - %s) << {HEER_CLOCK_BITS}$f$,
        epoch_ms);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_ranj_statement() RETURNS bigint LANGUAGE sql STABLE
        RETURN (floor(date_part('epoch', statement_timestamp()) * 1000000)::bigint - %s) << {RANJ_CLOCK_BITS}$f$,
        epoch_us);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_ranj_epoch_offset() RETURNS bigint LANGUAGE sql IMMUTABLE
        RETURN %s::bigint$f$, offset_us);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_id_epoch_ms() RETURNS bigint LANGUAGE sql IMMUTABLE
        RETURN %s::bigint$f$, epoch_ms);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heer_ranj_epoch_us() RETURNS bigint LANGUAGE sql IMMUTABLE
        RETURN %s::bigint$f$, epoch_us);
    -- Start a second after every id the wheel's generator handed out (its per-node state, read once
    -- its in-flight transactions commit: a session still running the old functions during an upgrade
    -- continues from that state, below the clock); never go back. The clocks' own lock keeps this
    -- from racing with generators already on them.
    PERFORM pg_advisory_xact_lock({HEER_LOCK_KEY});
    PERFORM pg_advisory_xact_lock({RANJ_LOCK_KEY});
    PERFORM 1 FROM heer_node_state FOR UPDATE;
    PERFORM 1 FROM heer_ranj_node_state FOR UPDATE;
    PERFORM setval('heer_id_clock', GREATEST(
        coalesce(pg_sequence_last_value('heer_id_clock'), 0), heer_id_now(),
        (SELECT max((s.last_id_time + 1000) << {HEER_CLOCK_BITS}) FROM heer_node_state AS s)));
    PERFORM setval('heer_ranj_clock', GREATEST(
        coalesce(pg_sequence_last_value('heer_ranj_clock'), 0), heer_ranj_now(),
        (SELECT (max(s.last_id_time)::bigint - offset_us + 1000000) << {RANJ_CLOCK_BITS}
         FROM heer_ranj_node_state AS s)));
END
$djogi_heer_clock$;
CREATE OR REPLACE FUNCTION heer_id_reserve(n bigint) RETURNS bigint LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT setval('heer_id_clock', GREATEST(coalesce(pg_sequence_last_value('heer_id_clock'), -1) + 1, heer_id_now())
                                   + n - 1) - n + 1
    FROM (SELECT pg_advisory_xact_lock({HEER_LOCK_KEY})) AS locked;
END;
CREATE OR REPLACE FUNCTION heer_ranj_reserve(n bigint) RETURNS bigint LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT setval('heer_ranj_clock', GREATEST(coalesce(pg_sequence_last_value('heer_ranj_clock'), -1) + 1,
                                              heer_ranj_now()) + n - 1) - n + 1
    FROM (SELECT pg_advisory_xact_lock({RANJ_LOCK_KEY})) AS locked;
END;
CREATE OR REPLACE FUNCTION heer_id_draw() RETURNS bigint LANGUAGE sql VOLATILE
    RETURN CASE WHEN pg_advisory_xact_lock({HEER_LOCK_KEY}) IS NULL THEN NULL
                WHEN nextval('heer_id_clock') < heer_id_statement() THEN heer_id_reserve(1)
                ELSE lastval() END;
CREATE OR REPLACE FUNCTION heer_ranj_draw() RETURNS bigint LANGUAGE sql VOLATILE
    RETURN CASE WHEN pg_advisory_xact_lock({RANJ_LOCK_KEY}) IS NULL THEN NULL
                WHEN nextval('heer_ranj_clock') < heer_ranj_statement() THEN heer_ranj_reserve(1)
                ELSE lastval() END;
""" + _pinned(f"""CREATE OR REPLACE FUNCTION heer_generate_ids(
    in_node_id INTEGER, requested_count INTEGER, allow_spanning BOOLEAN, descending BOOLEAN
) RETURNS TABLE(id BIGINT) LANGUAGE plpgsql {{pin}} AS $func$
DECLARE
    first_clock bigint;
BEGIN
    IF requested_count IS NULL OR requested_count <= 0 THEN
        RAISE EXCEPTION 'requested_count must be greater than zero';
    END IF;
    PERFORM set_heer_node_id(in_node_id);
    PERFORM pg_advisory_xact_lock({HEER_LOCK_KEY});
    first_clock := GREATEST(coalesce(pg_sequence_last_value('heer_id_clock'), -1) + 1, heer_id_now());
    IF NOT allow_spanning AND (first_clock & 8191) + requested_count > 8192 THEN
        RAISE EXCEPTION 'requested % IDs but only % remain in millisecond % for node %',
            requested_count, 8192 - (first_clock & 8191), first_clock >> 13, in_node_id;
    END IF;
    PERFORM setval('heer_id_clock', first_clock + requested_count - 1);
    IF descending THEN
        RETURN QUERY SELECT {_heerid_sql("c", "c", "in_node_id", True)}
                     FROM generate_series(first_clock, first_clock + requested_count - 1) AS c;
    ELSE
        RETURN QUERY SELECT {_heerid_sql("c", "c", "in_node_id", False)}
                     FROM generate_series(first_clock, first_clock + requested_count - 1) AS c;
    END IF;
END;
$func$;""") + _pinned(f"""CREATE OR REPLACE FUNCTION heer_generate_ranjids(
    in_node_id INTEGER, requested_count INTEGER, allow_spanning BOOLEAN, descending BOOLEAN
) RETURNS TABLE(id UUID) LANGUAGE plpgsql {{pin}} AS $func$
DECLARE
    first_clock bigint;
    per_tick constant integer := {1 << RANJ_CLOCK_BITS};
BEGIN
    IF requested_count IS NULL OR requested_count <= 0 THEN
        RAISE EXCEPTION 'requested_count must be greater than zero';
    END IF;
    IF in_node_id IS NULL OR in_node_id < 0 OR in_node_id > 32767 THEN
        RAISE EXCEPTION 'node_id % is out of range for RanjId (0..32767)', in_node_id;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM heer_nodes WHERE node_id = in_node_id AND is_active = true) THEN
        RAISE EXCEPTION 'node_id % is not registered as an active Heer node', in_node_id;
    END IF;
    PERFORM pg_advisory_xact_lock({RANJ_LOCK_KEY});
    first_clock := GREATEST(coalesce(pg_sequence_last_value('heer_ranj_clock'), -1) + 1, heer_ranj_now());
    IF NOT allow_spanning AND (first_clock % per_tick) + requested_count > per_tick THEN
        RAISE EXCEPTION 'requested % IDs but only % remain in microsecond % for ranj node %',
            requested_count, per_tick - (first_clock % per_tick), first_clock >> {RANJ_CLOCK_BITS}, in_node_id;
    END IF;
    PERFORM setval('heer_ranj_clock', first_clock + requested_count - 1);
    IF descending THEN
        RETURN QUERY SELECT {_ranjid_sql("c", "c", "in_node_id", True)}
                     FROM generate_series(first_clock, first_clock + requested_count - 1) AS c;
    ELSE
        RETURN QUERY SELECT {_ranjid_sql("c", "c", "in_node_id", False)}
                     FROM generate_series(first_clock, first_clock + requested_count - 1) AS c;
    END IF;
END;
$func$;""")

# The four column defaults in SQL: a draw from the clock (``heer_id_draw()``), packed with the node. They stay
# when the djogi_heer extension is not available (``_C_NEXT_SQL`` replaces them when it is); running this
# over an install using the extension puts the database back on them.
SQL_NEXT_SQL = f"""
CREATE OR REPLACE FUNCTION heerid_next() RETURNS bigint LANGUAGE sql VOLATILE
    RETURN {_heerid_sql("heer_id_draw()", "lastval()", _HEER_NODE, False)};
CREATE OR REPLACE FUNCTION heerid_next_desc() RETURNS bigint LANGUAGE sql VOLATILE
    RETURN {_heerid_sql("heer_id_draw()", "lastval()", _HEER_NODE, True)};
CREATE OR REPLACE FUNCTION ranjid_next() RETURNS uuid LANGUAGE sql VOLATILE
    RETURN {_ranjid_sql("heer_ranj_draw()", "lastval()", _RANJ_NODE, False)};
CREATE OR REPLACE FUNCTION ranjid_next_desc() RETURNS uuid LANGUAGE sql VOLATILE
    RETURN {_ranjid_sql("heer_ranj_draw()", "lastval()", _RANJ_NODE, True)};
"""
EXTENSION = "djogi_heer"  # the optional C generators (csrc/djogi_heer)
_HEER_C_ARGS = f"'heer_id_clock'::regclass, {HEER_LOCK_KEY}, heer_id_epoch_ms(), {_HEER_NODE}"
_RANJ_C_ARGS = (f"'heer_ranj_clock'::regclass, {RANJ_LOCK_KEY}, heer_ranj_epoch_us(), heer_ranj_epoch_offset(), "
                f"{_RANJ_NODE}")

# With the djogi_heer extension available on the server (csrc/djogi_heer, built and installed where a C
# compiler is), the bootstrap creates it and re-defines the four column defaults as calls of its C
# functions, which do per call what the SQL draw and packing do (the same lock, clock, set-forward and
# layout: the ids are interchangeable and both can run at once) without evaluating a SQL expression per
# part. Every argument is a constant once a statement is planned (the clock's OID, the lock key, and the
# epochs and node from IMMUTABLE functions). Without the extension, or without the privilege to create it
# (a WARNING says so), the SQL definitions stay.
_C_NEXT_SQL = f"""
DO $djogi_heer_c$
DECLARE
    ext text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_available_extensions WHERE name = '{EXTENSION}') THEN
        RETURN;
    END IF;
    BEGIN
        CREATE EXTENSION IF NOT EXISTS {EXTENSION};
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE WARNING 'djogi: the {EXTENSION} extension was not created (%): HeeRanjID column defaults stay in '
            'SQL; run CREATE EXTENSION {EXTENSION} as a superuser, then the bootstrap again', SQLERRM;
        RETURN;
    END;
    SELECT e.extnamespace::regnamespace::text INTO ext FROM pg_extension AS e WHERE e.extname = '{EXTENSION}';
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heerid_next() RETURNS bigint LANGUAGE sql VOLATILE
        RETURN %s.djogi_heerid_next({_HEER_C_ARGS}, false)$f$, ext);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION heerid_next_desc() RETURNS bigint LANGUAGE sql VOLATILE
        RETURN %s.djogi_heerid_next({_HEER_C_ARGS}, true)$f$, ext);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION ranjid_next() RETURNS uuid LANGUAGE sql VOLATILE
        RETURN %s.djogi_ranjid_next({_RANJ_C_ARGS}, false)$f$, ext);
    EXECUTE format($f$CREATE OR REPLACE FUNCTION ranjid_next_desc() RETURNS uuid LANGUAGE sql VOLATILE
        RETURN %s.djogi_ranjid_next({_RANJ_C_ARGS}, true)$f$, ext);
END
$djogi_heer_c$;
"""

# SQL-standard bodies (RETURN / BEGIN ATOMIC) bind their references when created, so these work
# whatever the caller's search_path; the IMMUTABLE scalar ones stay inlinable.
_DESC_SQL = f"""
CREATE OR REPLACE FUNCTION heerid_flip_mask() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN {HEER_FLIP_MASK}::bigint;
CREATE OR REPLACE FUNCTION heerid_to_desc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # {HEER_FLIP_MASK}::bigint;
CREATE OR REPLACE FUNCTION heerid_to_asc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # {HEER_FLIP_MASK}::bigint;

CREATE OR REPLACE FUNCTION ranjid_to_desc(id uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 1, 16))::bit(64)::bigint
                        # {_RANJ_MASK_HI}::bigint), 16, '0')
            || lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 17, 16))::bit(64)::bigint
                           # {_RANJ_MASK_LO}::bigint), 16, '0'))::uuid;
CREATE OR REPLACE FUNCTION ranjid_to_asc(id uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN ranjid_to_desc(id);

CREATE OR REPLACE FUNCTION generate_ids(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(in_node_id, requested_count, allow_spanning, false) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(heer_id_node(), requested_count, allow_spanning, false) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids(requested_count integer)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(heer_id_node(), requested_count, true, false) AS g;
END;

CREATE OR REPLACE FUNCTION generate_ids_desc(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(in_node_id, requested_count, allow_spanning, true) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids_desc(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(heer_id_node(), requested_count, allow_spanning, true) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids_desc(requested_count integer)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ids(heer_id_node(), requested_count, true, true) AS g;
END;

CREATE OR REPLACE FUNCTION generate_ranjids(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(in_node_id, requested_count, allow_spanning, false) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(heer_ranj_node(), requested_count, allow_spanning, false) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids(requested_count integer)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(heer_ranj_node(), requested_count, true, false) AS g;
END;

CREATE OR REPLACE FUNCTION generate_ranjids_desc(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(in_node_id, requested_count, allow_spanning, true) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids_desc(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(heer_ranj_node(), requested_count, allow_spanning, true) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids_desc(requested_count integer)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT g.id FROM heer_generate_ranjids(heer_ranj_node(), requested_count, true, true) AS g;
END;
"""


def _check_node_id(node_id: int) -> int:
    if not 0 <= node_id <= MAX_NODE_ID:
        raise ValidationError(f"node_id {node_id} is out of range (0..{MAX_NODE_ID})")
    return node_id


def _seed_node_sql(node_id: int) -> str:
    return f"""
INSERT INTO heer_nodes (node_id, name, description, is_active)
VALUES ({node_id}, 'node {node_id}', 'Seeded by djogi', true) ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_node_state (node_id) VALUES ({node_id}) ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_ranj_node_state (node_id) VALUES ({node_id}) ON CONFLICT (node_id) DO NOTHING;
"""


def _default_node_sql(node_id: int) -> str:
    """Make ``node_id`` the database's default node (``ALTER DATABASE ... SET``) unless one is set, so any
    session (``psql``, another client) can fill a default key; a role that does not own the database gets a
    WARNING naming the statement to run instead of a failed bootstrap."""
    return f"""
DO $djogi_default_node$
BEGIN
    IF coalesce(current_setting('heer.node_id', true), '') = '' THEN
        EXECUTE format('ALTER DATABASE %I SET heer.node_id = %L', current_database(), '{node_id}');
    END IF;
    IF coalesce(current_setting('heer.ranj_node_id', true), '') = '' THEN
        EXECUTE format('ALTER DATABASE %I SET heer.ranj_node_id = %L', current_database(), '{node_id}');
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'djogi: could not set the default HeeRanjID node of database %: run ALTER DATABASE % SET '
        'heer.node_id = ''{node_id}'' and SET heer.ranj_node_id = ''{node_id}'' as its owner',
        current_database(), quote_ident(current_database());
END
$djogi_default_node$;
"""


def bootstrap_sql(node_id: int = 1) -> str:
    """The idempotent script installing HeeRanjID, registering ``node_id`` (the seed always adds 1) and
    making it the database's default node when none is set (sessions that never bind a node, such as
    ``djogi db psql``, then fill default keys too).

    Raises ValidationError when ``node_id`` is outside 0..511.
    """
    _check_node_id(node_id)
    script = "\n".join((SCHEMA, SESSION, GENERATE_HEERID, GENERATE_RANJID, SEED, _seed_node_sql(node_id),
                        _SET_NODE_SQL, _fixed_node_sql(node_id), _CLOCK_SQL, SQL_NEXT_SQL, _C_NEXT_SQL, _DESC_SQL,
                        _default_node_sql(node_id)))
    # No blank lines, even inside the wheel's function bodies: blank lines delimit migration fragments.
    return re.sub(r"\n[ \t]*(?:\n[ \t]*)+", "\n", script)


def bind_node_sql(node_id: int) -> str:
    """The statement binding this session's HeeRanjID node (``heer.node_id`` and ``heer.ranj_node_id``).

    Every session djogi opens runs it before generating ids. Raises ValidationError for a node outside 0..511.
    """
    _check_node_id(node_id)
    return (f"SELECT set_config('heer.node_id', '{node_id}', false), "
            f"set_config('heer.ranj_node_id', '{node_id}', false)")


def node_settings_sql(database: str, node_id: int) -> str:
    """``ALTER DATABASE`` statements making ``node_id`` the default node of every session in ``database``.

    Raises ValidationError when ``database`` is not a valid identifier or ``node_id`` is out of range.
    """
    _check_node_id(node_id)
    try:
        name = quote_ident(check_identifier(database, "database"))
    except ValueError as e:
        raise ValidationError(str(e)) from e
    return (f"ALTER DATABASE {name} SET heer.node_id = '{node_id}';\n"
            f"ALTER DATABASE {name} SET heer.ranj_node_id = '{node_id}';\n")
