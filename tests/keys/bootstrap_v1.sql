-- The HeeRanjID install of djogi before the sequence clocks (bootstrap_sql(1) as of commit 7e14e09), kept
-- to prove that re-running the current bootstrap upgrades it.
CREATE TABLE IF NOT EXISTS heer_nodes (
    node_id       INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    description   TEXT,
    is_active     BOOLEAN DEFAULT true,
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_accessed TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS heer_config (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    epoch               TIMESTAMP NOT NULL,
    precision           VARCHAR(2) NOT NULL DEFAULT 'ns',
    ranj_epoch_offset   NUMERIC(30,0) NOT NULL DEFAULT 0,
    updated_at          TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
COMMENT ON COLUMN heer_config.ranj_epoch_offset IS
'Extra microseconds added to the RanjId timestamp to represent epochs beyond '
'the range of TIMESTAMP (e.g. the Big Bang). The unit is always microseconds, '
'regardless of the configured precision. When 0, the epoch TIMESTAMP is used '
'directly. When set, current_tick = (now - epoch) + ranj_epoch_offset_in_ticks.';
CREATE TABLE IF NOT EXISTS heer_node_state (
    node_id         INTEGER PRIMARY KEY
                    REFERENCES heer_nodes(node_id) ON DELETE CASCADE,
    last_id_time    BIGINT NOT NULL DEFAULT 0,
    last_sequence   SMALLINT NOT NULL DEFAULT 0,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
COMMENT ON TABLE heer_node_state IS
'Internal state for HeerId generator (one row per node). Do not modify manually.';
CREATE TABLE IF NOT EXISTS heer_ranj_node_state (
    node_id         INTEGER PRIMARY KEY
                    REFERENCES heer_nodes(node_id) ON DELETE CASCADE,
    last_id_time    NUMERIC(30,0) NOT NULL DEFAULT 0,
    last_sequence   INTEGER NOT NULL DEFAULT 0,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION set_heer_node_id(node_id INTEGER)
RETURNS void
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    validated_node_id INTEGER;
BEGIN
    IF node_id IS NULL THEN
        RAISE EXCEPTION 'node_id cannot be null';
    END IF;
IF node_id < 0 OR node_id > 511 THEN
        RAISE EXCEPTION 'node_id %% is out of range for HeerId', node_id;
    END IF;
SELECT n.node_id
    INTO validated_node_id
    FROM heer_nodes AS n
    WHERE n.node_id = set_heer_node_id.node_id
      AND n.is_active = true;
IF validated_node_id IS NULL THEN
        RAISE EXCEPTION 'node_id %% is not registered as an active Heer node', node_id;
    END IF;
PERFORM set_config('heer.node_id', node_id::text, false);
END;
$func$;
$sql$, _sch);
END;
$install$;
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION current_heer_node_id()
RETURNS INTEGER
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    configured_node_id TEXT;
    parsed_node_id INTEGER;
BEGIN
    configured_node_id := current_setting('heer.node_id', true);
IF configured_node_id IS NULL OR configured_node_id = '' THEN
        RAISE EXCEPTION 'heer.node_id is not set for this session';
    END IF;
parsed_node_id := configured_node_id::INTEGER;
    PERFORM set_heer_node_id(parsed_node_id);
    RETURN parsed_node_id;
END;
$func$;
$sql$, _sch);
END;
$install$;
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION set_heer_ranj_node_id(node_id INTEGER)
RETURNS void
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    validated_node_id INTEGER;
BEGIN
    IF node_id IS NULL THEN
        RAISE EXCEPTION 'node_id cannot be null';
    END IF;
IF node_id < 0 OR node_id > 32767 THEN
        RAISE EXCEPTION 'node_id %% is out of range for RanjId', node_id;
    END IF;
SELECT n.node_id
    INTO validated_node_id
    FROM heer_nodes AS n
    WHERE n.node_id = set_heer_ranj_node_id.node_id
      AND n.is_active = true;
IF validated_node_id IS NULL THEN
        RAISE EXCEPTION 'node_id %% is not registered as an active Heer node', node_id;
    END IF;
PERFORM set_config('heer.ranj_node_id', node_id::text, false);
END;
$func$;
$sql$, _sch);
END;
$install$;
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION current_heer_ranj_node_id()
RETURNS INTEGER
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    configured_node_id TEXT;
    parsed_node_id INTEGER;
BEGIN
    configured_node_id := current_setting('heer.ranj_node_id', true);
IF configured_node_id IS NULL OR configured_node_id = '' THEN
        RAISE EXCEPTION 'heer.ranj_node_id is not set for this session';
    END IF;
parsed_node_id := configured_node_id::INTEGER;
    PERFORM set_heer_ranj_node_id(parsed_node_id);
    RETURN parsed_node_id;
END;
$func$;
$sql$, _sch);
END;
$install$;
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION generate_ids(
    in_node_id INTEGER,
    requested_count INTEGER,
    allow_spanning BOOLEAN DEFAULT true
)
RETURNS TABLE(id BIGINT)
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    epoch_ms BIGINT;
    now_ms BIGINT;
    last_time BIGINT;
    last_sequence INTEGER;
    current_tick BIGINT;
    next_sequence INTEGER;
    remaining INTEGER;
    available_this_tick INTEGER;
    emit_count INTEGER;
    last_emitted_time BIGINT;
    last_emitted_sequence INTEGER;
    rollback_ms BIGINT;
BEGIN
    IF requested_count IS NULL OR requested_count <= 0 THEN
        RAISE EXCEPTION 'requested_count must be greater than zero';
    END IF;
PERFORM set_heer_node_id(in_node_id);
SELECT FLOOR(EXTRACT(EPOCH FROM c.epoch) * 1000)::BIGINT
    INTO epoch_ms
    FROM heer_config AS c
    WHERE c.id = 1;
IF epoch_ms IS NULL THEN
        RAISE EXCEPTION 'heer_config row id=1 must exist before generating IDs';
    END IF;
INSERT INTO heer_node_state (node_id)
    VALUES (in_node_id)
    ON CONFLICT (node_id) DO NOTHING;
SELECT s.last_id_time, s.last_sequence
    INTO last_time, last_sequence
    FROM heer_node_state AS s
    WHERE s.node_id = in_node_id
    FOR UPDATE;
-- Calculate current time AFTER acquiring the lock to avoid false clock rollback
    -- under concurrency (another thread may have advanced last_id_time while we waited)
    now_ms := FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT - epoch_ms;
rollback_ms := last_time - now_ms;
    IF rollback_ms > 0 THEN
        IF rollback_ms < 2 THEN
            RAISE EXCEPTION 'logical future drift for node %% (%% ms) — likely batch-induced, check batch sizing', in_node_id, rollback_ms
                USING ERRCODE = '50021';
        ELSIF rollback_ms < 50 THEN
            RAISE EXCEPTION 'clock rollback detected for node %% (%% ms)', in_node_id, rollback_ms
                USING ERRCODE = '50020';
        ELSE
            RAISE EXCEPTION 'hard clock rollback detected for node %% (%% ms)', in_node_id, rollback_ms
                USING ERRCODE = '50022';
        END IF;
    END IF;
current_tick := GREATEST(now_ms, last_time);
    next_sequence := CASE
        WHEN current_tick = last_time THEN last_sequence + 1
        ELSE 0
    END;
available_this_tick := 8192 - next_sequence;
    IF NOT allow_spanning AND requested_count > available_this_tick THEN
        RAISE EXCEPTION
            'requested %% IDs but only %% remain in millisecond %% for node %%',
            requested_count,
            available_this_tick,
            current_tick,
            in_node_id;
    END IF;
remaining := requested_count;
WHILE remaining > 0 LOOP
        available_this_tick := 8192 - next_sequence;
        emit_count := LEAST(remaining, available_this_tick);
RETURN QUERY
        SELECT
            (
                (current_tick::BIGINT << 22)
                | (in_node_id::BIGINT << 13)
                | series.sequence::BIGINT
            ) AS id
        FROM generate_series(next_sequence, next_sequence + emit_count - 1) AS series(sequence);
last_emitted_time := current_tick;
        last_emitted_sequence := next_sequence + emit_count - 1;
        remaining := remaining - emit_count;
        current_tick := current_tick + 1;
        next_sequence := 0;
    END LOOP;
UPDATE heer_node_state
    SET last_id_time = last_emitted_time,
        last_sequence = last_emitted_sequence,
        updated_at = CURRENT_TIMESTAMP
    WHERE node_id = in_node_id;
END;
$func$;
$sql$, _sch);
END;
$install$;
CREATE OR REPLACE FUNCTION generate_ids(
    requested_count INTEGER,
    allow_spanning BOOLEAN
)
RETURNS TABLE(id BIGINT)
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ids(current_heer_node_id(), requested_count, allow_spanning);
$$;
CREATE OR REPLACE FUNCTION generate_ids(requested_count INTEGER)
RETURNS TABLE(id BIGINT)
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ids(current_heer_node_id(), requested_count, true);
$$;
CREATE OR REPLACE FUNCTION generate_id(in_node_id INTEGER)
RETURNS BIGINT
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ids(in_node_id, 1, true);
$$;
CREATE OR REPLACE FUNCTION generate_id()
RETURNS BIGINT
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ids(current_heer_node_id(), 1, true);
$$;
DO $install$
DECLARE
    _sch text := COALESCE(current_schema(), 'public');
BEGIN
    EXECUTE format($sql$
CREATE OR REPLACE FUNCTION generate_ranjids(
    in_node_id INTEGER,
    requested_count INTEGER,
    allow_spanning BOOLEAN DEFAULT true
)
RETURNS TABLE(id UUID)
LANGUAGE plpgsql
SET search_path = %I, pg_catalog
AS $func$
DECLARE
    epoch_us NUMERIC(30,0);
    epoch_offset NUMERIC(30,0);
    now_us NUMERIC(30,0);
    last_time NUMERIC(30,0);
    last_seq INTEGER;
    current_tick NUMERIC(30,0);
    next_seq INTEGER;
    remaining INTEGER;
    available_this_tick INTEGER;
    emit_count INTEGER;
    last_emitted_time NUMERIC(30,0);
    last_emitted_seq INTEGER;
    rollback_us NUMERIC(30,0);
ts_high BIGINT;
    ts_mid BIGINT;
    ts_low BIGINT;
    hi BIGINT;
    lo BIGINT;
    precision_bits INTEGER := 0; -- microseconds (default)
BEGIN
    IF requested_count IS NULL OR requested_count <= 0 THEN
        RAISE EXCEPTION 'requested_count must be greater than zero';
    END IF;
IF in_node_id IS NULL OR in_node_id < 0 OR in_node_id > 32767 THEN
        RAISE EXCEPTION 'node_id %% is out of range for RanjId (0..32767)', in_node_id;
    END IF;
IF NOT EXISTS (
        SELECT 1 FROM heer_nodes WHERE node_id = in_node_id AND is_active = true
    ) THEN
        RAISE EXCEPTION 'node_id %% is not registered as an active Heer node', in_node_id;
    END IF;
SELECT FLOOR(EXTRACT(EPOCH FROM c.epoch) * 1000000)::NUMERIC(30,0),
           c.ranj_epoch_offset
    INTO epoch_us, epoch_offset
    FROM heer_config AS c
    WHERE c.id = 1;
IF epoch_us IS NULL THEN
        RAISE EXCEPTION 'heer_config row id=1 must exist before generating IDs';
    END IF;
INSERT INTO heer_ranj_node_state (node_id)
    VALUES (in_node_id)
    ON CONFLICT (node_id) DO NOTHING;
SELECT s.last_id_time, s.last_sequence
    INTO last_time, last_seq
    FROM heer_ranj_node_state AS s
    WHERE s.node_id = in_node_id
    FOR UPDATE;
-- Calculate current time AFTER acquiring the lock to avoid false clock rollback
    -- under concurrency (another thread may have advanced last_id_time while we waited)
    -- current_tick = (now - epoch_timestamp) + ranj_epoch_offset
    -- The offset extends the epoch beyond TIMESTAMP range (e.g. Big Bang).
    -- When offset is 0 (default), this reduces to simple (now - epoch).
    now_us := FLOOR(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::NUMERIC(30,0)
              - epoch_us
              + epoch_offset;
rollback_us := last_time - now_us;
    IF rollback_us > 0 THEN
        IF rollback_us < 2000 THEN
            RAISE EXCEPTION 'logical future drift for ranj node %% (%% us) — likely batch-induced, check batch sizing', in_node_id, rollback_us
                USING ERRCODE = '50021';
        ELSIF rollback_us < 50000 THEN
            RAISE EXCEPTION 'clock rollback detected for ranj node %% (%% us)', in_node_id, rollback_us
                USING ERRCODE = '50020';
        ELSE
            RAISE EXCEPTION 'hard clock rollback detected for ranj node %% (%% us)', in_node_id, rollback_us
                USING ERRCODE = '50022';
        END IF;
    END IF;
current_tick := GREATEST(now_us, last_time);
    next_seq := CASE
        WHEN current_tick = last_time THEN last_seq + 1
        ELSE 0
    END;
available_this_tick := 65536 - next_seq;
    IF NOT allow_spanning AND requested_count > available_this_tick THEN
        RAISE EXCEPTION
            'requested %% IDs but only %% remain in microsecond %% for ranj node %%',
            requested_count,
            available_this_tick,
            current_tick,
            in_node_id;
    END IF;
remaining := requested_count;
WHILE remaining > 0 LOOP
        available_this_tick := 65536 - next_seq;
        emit_count := LEAST(remaining, available_this_tick);
IF current_tick > (2::NUMERIC ^ 89) - 1 THEN
            RAISE EXCEPTION 'RanjId timestamp %% exceeds 89-bit range (2^89 - 1)', current_tick
                USING ERRCODE = '50030';
        END IF;
-- Decompose the 89-bit NUMERIC timestamp using division/modulo
        -- so we never truncate at BIGINT's 2^63 limit. Each component
        -- fits safely in a BIGINT after extraction.
        -- Full range: 2^89 microseconds ≈ 19.62 trillion years.
        ts_high := (floor(current_tick / (2::NUMERIC ^ 41)) %% (2::NUMERIC ^ 48))::BIGINT;
        ts_mid  := (floor(current_tick / (2::NUMERIC ^ 29)) %% (2::NUMERIC ^ 12))::BIGINT;
        ts_low  := (current_tick %% (2::NUMERIC ^ 29))::BIGINT;
hi := (ts_high << 16)
            | (8::BIGINT << 12)
            | ts_mid;
RETURN QUERY
        SELECT (
            lpad(to_hex(hi), 16, '0')
            || lpad(to_hex(
                ((-9223372036854775808)::BIGINT  -- 0x8000000000000000 (sets variant bit 1)
                | (precision_bits::BIGINT << 60)
                | (ts_low << 31)
                | (in_node_id::BIGINT << 16)
                | seq.s::BIGINT)
            ), 16, '0')
        )::UUID AS id
        FROM generate_series(next_seq, next_seq + emit_count - 1) AS seq(s);
last_emitted_time := current_tick;
        last_emitted_seq := next_seq + emit_count - 1;
        remaining := remaining - emit_count;
        current_tick := current_tick + 1;
        next_seq := 0;
    END LOOP;
UPDATE heer_ranj_node_state
    SET last_id_time = last_emitted_time,
        last_sequence = last_emitted_seq,
        updated_at = CURRENT_TIMESTAMP
    WHERE node_id = in_node_id;
END;
$func$;
$sql$, _sch);
END;
$install$;
CREATE OR REPLACE FUNCTION generate_ranjids(
    requested_count INTEGER,
    allow_spanning BOOLEAN
)
RETURNS TABLE(id UUID)
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ranjids(current_heer_ranj_node_id(), requested_count, allow_spanning);
$$;
CREATE OR REPLACE FUNCTION generate_ranjids(requested_count INTEGER)
RETURNS TABLE(id UUID)
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ranjids(current_heer_ranj_node_id(), requested_count, true);
$$;
CREATE OR REPLACE FUNCTION generate_ranjid(in_node_id INTEGER)
RETURNS UUID
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ranjids(in_node_id, 1, true);
$$;
CREATE OR REPLACE FUNCTION generate_ranjid()
RETURNS UUID
LANGUAGE sql
AS $$
    SELECT id
    FROM generate_ranjids(current_heer_ranj_node_id(), 1, true);
$$;
-- Default seed data for single-node deployments.
-- Safe to run multiple times (uses ON CONFLICT).
INSERT INTO heer_config (id, epoch, precision)
VALUES (1, '2026-01-01T00:00:00', 'ns')
ON CONFLICT (id) DO NOTHING;
INSERT INTO heer_nodes (node_id, name, description, is_active)
VALUES (1, 'default', 'Default single-node instance', true)
ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_node_state (node_id)
VALUES (1)
ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_ranj_node_state (node_id)
VALUES (1)
ON CONFLICT (node_id) DO NOTHING;
CREATE OR REPLACE FUNCTION heerid_flip_mask() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN 9223372036850589695::bigint;
CREATE OR REPLACE FUNCTION heerid_to_desc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # heerid_flip_mask();
CREATE OR REPLACE FUNCTION heerid_to_asc(bits bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE RETURN bits # heerid_flip_mask();
CREATE OR REPLACE FUNCTION ranjid_to_desc(id uuid) RETURNS uuid
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 1, 16))::bit(64)::bigint
                        # -61441::bigint), 16, '0')
            || lpad(to_hex(('x' || substr(replace(id::text, '-', ''), 17, 16))::bit(64)::bigint
                           # 1152921502459428863::bigint), 16, '0'))::uuid;
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
INSERT INTO heer_nodes (node_id, name, description, is_active)
VALUES (1, 'node 1', 'Seeded by djogi', true) ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_node_state (node_id) VALUES (1) ON CONFLICT (node_id) DO NOTHING;
INSERT INTO heer_ranj_node_state (node_id) VALUES (1) ON CONFLICT (node_id) DO NOTHING;
DO $djogi_default_node$
BEGIN
    IF coalesce(current_setting('heer.node_id', true), '') = '' THEN
        EXECUTE format('ALTER DATABASE %I SET heer.node_id = %L', current_database(), '1');
    END IF;
    IF coalesce(current_setting('heer.ranj_node_id', true), '') = '' THEN
        EXECUTE format('ALTER DATABASE %I SET heer.ranj_node_id = %L', current_database(), '1');
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'djogi: could not set the default HeeRanjID node of database %: run ALTER DATABASE % SET '
        'heer.node_id = ''1'' and SET heer.ranj_node_id = ''1'' as its owner',
        current_database(), quote_ident(current_database());
END
$djogi_default_node$;

