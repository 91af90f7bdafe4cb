CREATE OR REPLACE FUNCTION "djogi_audit_capture"() RETURNS trigger LANGUAGE plpgsql AS $audit$
DECLARE
    keys int := TG_ARGV[1]::int;
    excluded text[] := TG_ARGV[2 + keys:];
    old_image jsonb;
    new_image jsonb;
    image jsonb;
    changes jsonb;
    row_key text;
BEGIN
    IF TG_OP <> 'INSERT' THEN old_image := to_jsonb(OLD) - excluded; END IF;
    IF TG_OP <> 'DELETE' THEN new_image := to_jsonb(NEW) - excluded; END IF;
    image := coalesce(new_image, old_image);
    SELECT jsonb_object_agg(key, jsonb_build_array(o.value, n.value) ORDER BY key) INTO changes
    FROM jsonb_each(new_image) n FULL JOIN jsonb_each(old_image) o USING (key)
    WHERE n.value IS DISTINCT FROM o.value;
    IF changes IS NULL THEN
        IF TG_OP = 'UPDATE' THEN RETURN NULL; END IF;
        changes := '{}';
    END IF;
    IF keys = 1 THEN
        row_key := image ->> TG_ARGV[2];
    ELSE
        SELECT jsonb_agg(image -> k ORDER BY o)::text INTO row_key
        FROM unnest(TG_ARGV[2:1 + keys]) WITH ORDINALITY u(k, o);
    END IF;
    INSERT INTO "djogi_audit"
        ("at", "txid", "table_name", "row_key", "action", "actor", "tenant", "before", "after", "diff")
    VALUES (now(), pg_current_xact_id()::text::bigint, TG_TABLE_NAME, row_key, lower(TG_OP),
            nullif(current_setting('djogi.actor', true), ''), image ->> TG_ARGV[0], old_image, new_image, changes);
    RETURN NULL;
END
$audit$;
