-- djogi_heer 1.0: djogi's bootstrap wraps these in heerid_next(), heerid_next_desc(), ranjid_next() and
-- ranjid_next_desc(), passing every argument as a constant (see djogi/heer_sql.py).
\echo Use "CREATE EXTENSION djogi_heer" to load this file. \quit

CREATE FUNCTION djogi_heerid_next(clock regclass, lock_key bigint, epoch_ms bigint, node integer,
                                  descending boolean)
RETURNS bigint AS 'MODULE_PATHNAME', 'djogi_heerid_next' LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION djogi_ranjid_next(clock regclass, lock_key bigint, epoch_us bigint, offset_us bigint,
                                  node integer, descending boolean)
RETURNS uuid AS 'MODULE_PATHNAME', 'djogi_ranjid_next' LANGUAGE C VOLATILE PARALLEL UNSAFE;
