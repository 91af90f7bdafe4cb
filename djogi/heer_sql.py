"""The SQL that installs HeeRanjID into a database (pure: builds text, never connects).

``bootstrap_sql()`` is the heeranjid wheel's schema, session functions, generators and seed, then
djogi's additions, which the wheel does not ship: the desc flips, the single-row ``*_next*()`` column
defaults and the bulk ``generate_*_desc`` functions. ``heer_configure()`` is deliberately not run, so
RanjIds are emitted in microsecond precision. Every statement is idempotent.
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

# SQL-standard bodies (RETURN / BEGIN ATOMIC) bind their references when created, so these work
# whatever the caller's search_path; the IMMUTABLE scalar ones stay inlinable.
_DESC_SQL = f"""
CREATE OR REPLACE FUNCTION heerid_flip_mask() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN {HEER_FLIP_MASK}::bigint;
CREATE OR REPLACE FUNCTION heerid_to_desc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # heerid_flip_mask();
CREATE OR REPLACE FUNCTION heerid_to_asc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # heerid_flip_mask();

CREATE OR REPLACE FUNCTION ranjid_to_desc(id uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 1, 16))::bit(64)::bigint
                        # {_RANJ_MASK_HI}::bigint), 16, '0')
            || lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 17, 16))::bit(64)::bigint
                           # {_RANJ_MASK_LO}::bigint), 16, '0'))::uuid;
CREATE OR REPLACE FUNCTION ranjid_to_asc(id uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN ranjid_to_desc(id);

CREATE OR REPLACE FUNCTION heerid_next() RETURNS bigint
    LANGUAGE sql VOLATILE RETURN (SELECT g.id FROM generate_ids(current_heer_node_id(), 1) AS g);
CREATE OR REPLACE FUNCTION ranjid_next() RETURNS uuid
    LANGUAGE sql VOLATILE RETURN (SELECT g.id FROM generate_ranjids(current_heer_ranj_node_id(), 1) AS g);
CREATE OR REPLACE FUNCTION heerid_next_desc() RETURNS bigint
    LANGUAGE sql VOLATILE RETURN heerid_to_desc(heerid_next());
CREATE OR REPLACE FUNCTION ranjid_next_desc() RETURNS uuid
    LANGUAGE sql VOLATILE RETURN ranjid_to_desc(ranjid_next());

CREATE OR REPLACE FUNCTION generate_ids_desc(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT heerid_to_desc(g.id) FROM generate_ids(in_node_id, requested_count, allow_spanning) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids_desc(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT heerid_to_desc(g.id)
    FROM generate_ids(current_heer_node_id(), requested_count, allow_spanning) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ids_desc(requested_count integer)
RETURNS TABLE(id bigint) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT heerid_to_desc(g.id) FROM generate_ids(current_heer_node_id(), requested_count, true) AS g;
END;

CREATE OR REPLACE FUNCTION generate_ranjids_desc(
    in_node_id integer, requested_count integer, allow_spanning boolean DEFAULT true
) RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT ranjid_to_desc(g.id) FROM generate_ranjids(in_node_id, requested_count, allow_spanning) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids_desc(requested_count integer, allow_spanning boolean)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT ranjid_to_desc(g.id)
    FROM generate_ranjids(current_heer_ranj_node_id(), requested_count, allow_spanning) AS g;
END;
CREATE OR REPLACE FUNCTION generate_ranjids_desc(requested_count integer)
RETURNS TABLE(id uuid) LANGUAGE sql VOLATILE
BEGIN ATOMIC
    SELECT ranjid_to_desc(g.id)
    FROM generate_ranjids(current_heer_ranj_node_id(), requested_count, true) AS g;
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
    script = "\n".join((SCHEMA, SESSION, GENERATE_HEERID, GENERATE_RANJID, SEED, _DESC_SQL, _seed_node_sql(node_id),
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
