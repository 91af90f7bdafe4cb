"""The audit trail's SQL: the ``djogi_audit`` table, the capture trigger, and the operations of ``audit=`` (pure).

A table whose snapshot has ``audit`` gets one row trigger::

    CREATE TRIGGER "djogi_audit" AFTER INSERT OR UPDATE OR DELETE ON "t"
        FOR EACH ROW EXECUTE FUNCTION "djogi_audit_capture"('<tenant column or empty>', '<n key columns>',
                                                          '<key column>'..., '<excluded column>'...);

``djogi_audit_capture()`` writes one ``djogi_audit`` row per changed row: when (``now()``, the transaction's
time), the transaction id, the table, the row's key (its text, or a JSON array of a composite key's values),
the action, the actor (the transaction-local ``djogi.actor``, which the executor sets from the auth context;
NULL when unset), the row's tenant, the ``before`` and ``after`` images (``to_jsonb`` of the row, excluded
columns removed) and the ``diff``: ``{"column": [old, new]}`` of each column that differs. An update
that changes no recorded column is not recorded. The first audited table's migration creates the table
(row-level security: a tenant sees its tenants' rows and those of untenanted tables; the table owner, who
ships them, sees all) and the function; dropping ``audit=`` drops the trigger and keeps the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import msgspec

from djogi.auth import ACTOR_SETTING
from djogi.identifiers import quote_ident as q
from djogi.migrate.operations import Operation, Step
from djogi.migrate.snapshot import AuditSchema, TableSchema
from djogi.tenancy import TENANT_SETTING

__all__ = [
    "AUDIT_COLUMNS", "AUDIT_TABLE", "CAPTURE_FUNCTION", "TRIGGER_NAME", "audit_operations", "audit_table_sql",
    "drop_audit", "enable_audit", "live_audit", "renamed_audit", "trigger_args",
]  # fmt: skip

AUDIT_TABLE: Final = "djogi_audit"
"""The table audit rows are written to: the buffer in the main database, the log in ``crud_log``."""
TRIGGER_NAME: Final = "djogi_audit"
"""The name of the capture trigger on each audited table."""
CAPTURE_FUNCTION: Final = "djogi_audit_capture"
"""The trigger function every audited table shares."""
AUDIT_COLUMNS: Final = ("id", "at", "txid", "table_name", "row_key", "action", "actor", "tenant", "before", "after",
                        "diff")  # fmt: skip
"""The columns of an audit row, in table order."""

_BEFORE_COLUMNS = 1  # after renames, before column changes and drops
_AFTER_COLUMNS = 4  # after new tables and columns


def audit_table_sql(*, buffer: bool) -> str:
    """``CREATE TABLE IF NOT EXISTS "djogi_audit"`` and its per-row index. The ``buffer`` (main database)
    numbers its rows (``GENERATED ALWAYS AS IDENTITY``) and isolates tenants (row-level security, enabled
    but not forced: the owner reads every row); the log (``crud_log``) keeps the buffer's ids."""
    key = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY" if buffer else "BIGINT PRIMARY KEY"
    table = q(AUDIT_TABLE)
    out = (
        f"CREATE TABLE IF NOT EXISTS {table} (\n    \"id\" {key},\n    \"at\" TIMESTAMPTZ NOT NULL,\n"
        "    \"txid\" BIGINT NOT NULL,\n    \"table_name\" TEXT NOT NULL,\n    \"row_key\" TEXT NOT NULL,\n"
        "    \"action\" TEXT NOT NULL CHECK (\"action\" IN ('insert', 'update', 'delete')),\n    \"actor\" TEXT,\n"
        "    \"tenant\" TEXT,\n    \"before\" JSONB,\n    \"after\" JSONB,\n    \"diff\" JSONB NOT NULL\n);\n"
        f"CREATE INDEX IF NOT EXISTS {q(AUDIT_TABLE + '_row')} ON {table} (\"table_name\", \"row_key\", \"id\");"
    )
    if not buffer:
        return out
    visible = f"(\"tenant\" IS NULL OR \"tenant\" = current_setting('{TENANT_SETTING}', true))"
    return (
        f"{out}\nALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
        f"DROP POLICY IF EXISTS \"tenant_isolation\" ON {table};\n"
        f"CREATE POLICY \"tenant_isolation\" ON {table} USING {visible} WITH CHECK {visible};"
    )


_FUNCTION: Final = f"""CREATE OR REPLACE FUNCTION {q(CAPTURE_FUNCTION)}() RETURNS trigger LANGUAGE plpgsql AS $audit$
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
        changes := '{{}}';
    END IF;
    IF keys = 1 THEN
        row_key := image ->> TG_ARGV[2];
    ELSE
        SELECT jsonb_agg(image -> k ORDER BY o)::text INTO row_key
        FROM unnest(TG_ARGV[2:1 + keys]) WITH ORDINALITY u(k, o);
    END IF;
    INSERT INTO {q(AUDIT_TABLE)}
        ("at", "txid", "table_name", "row_key", "action", "actor", "tenant", "before", "after", "diff")
    VALUES (now(), pg_current_xact_id()::text::bigint, TG_TABLE_NAME, row_key, lower(TG_OP),
            nullif(current_setting('{ACTOR_SETTING}', true), ''), image ->> TG_ARGV[0], old_image, new_image, changes);
    RETURN NULL;
END
$audit$;"""


def trigger_args(table: TableSchema) -> tuple[str, ...] | None:
    """The capture trigger's arguments for ``table`` (None when it keeps no audit trail): the tenant column
    (``''`` for none), the number of key columns, the key columns, the excluded columns."""
    if table.audit is None:
        return None
    keys = table.primary_key.columns
    return (table.tenant_key or "", str(len(keys)), *keys, *table.audit.exclude)


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _trigger_sql(table: str, args: Sequence[str]) -> str:
    return (f"CREATE TRIGGER {q(TRIGGER_NAME)} AFTER INSERT OR UPDATE OR DELETE ON {q(table)} FOR EACH ROW "
            f"EXECUTE FUNCTION {q(CAPTURE_FUNCTION)}({', '.join(_lit(a) for a in args)});")  # fmt: skip


def _drop_trigger_sql(table: str) -> str:
    return f"DROP TRIGGER {q(TRIGGER_NAME)} ON {q(table)};"


def enable_audit(table: str, args: Sequence[str]) -> Operation:
    """``EnableAudit``: the ``djogi_audit`` table and the capture function (when missing), then the trigger.
    Its down drops the trigger only: the recorded rows are kept."""
    label = f"EnableAudit {table}"
    up = f"{audit_table_sql(buffer=True)}\n{_FUNCTION}\n{_trigger_sql(table, args)}"
    return Operation(kind="EnableAudit", label=label, phase=_AFTER_COLUMNS,
                     steps=(Step(label=label, up=up, down=_drop_trigger_sql(table)),))  # fmt: skip


def drop_audit(table: str, args: Sequence[str], phase: int = _BEFORE_COLUMNS) -> Operation:
    """``DisableAudit``: drop the capture trigger (the recorded rows are kept); its down creates it again."""
    label = f"DisableAudit {table}"
    step = Step(label=label, up=_drop_trigger_sql(table), down=_trigger_sql(table, args))
    return Operation(kind="DisableAudit", label=label, phase=phase, effect="reversible", steps=(step,))


def audit_operations(table: str, old: TableSchema | None, new: TableSchema | None) -> list[Operation]:
    """The operations taking ``table``'s capture trigger from ``old`` to ``new`` (None: no table). A changed
    key, tenant column or exclusion list drops the trigger before the columns change and creates it anew
    afterwards; a dropped table's trigger is dropped first, so that rolling the drop back restores it."""
    before = trigger_args(old) if old is not None else None
    after = trigger_args(new) if new is not None else None
    if before == after:
        return []
    out = [] if before is None else [drop_audit(table, before)]
    return out if after is None else [*out, enable_audit(table, after)]


def live_audit(triggers: Sequence[tuple[str, int, str, Sequence[str]]], table: TableSchema) -> AuditSchema | None:
    """The audit trail of a live ``table`` (its ``audit`` unset) from its triggers (name, ``tgtype``,
    ``tgenabled``, arguments): the exclusion list of a trigger exactly as a migration creates it (named
    ``djogi_audit``, after each row insert, update and delete, enabled, its key and tenant arguments those
    of the table); None when there is none or it differs."""
    for name, kind, enabled, args in triggers:
        if (name, kind, enabled) != (TRIGGER_NAME, _ROW_AFTER_IUD, "O"):
            continue
        keys = table.primary_key.columns
        head = (table.tenant_key or "", str(len(keys)), *keys)
        if tuple(args[: len(head)]) == head:
            exclude = tuple(args[len(head):])
            if list(exclude) == sorted(set(exclude)):
                return AuditSchema(exclude=exclude)
    return None


_ROW_AFTER_IUD: Final = 1 | 4 | 8 | 16  # pg_trigger.tgtype: ROW, INSERT, DELETE, UPDATE (not BEFORE, not INSTEAD)


def renamed_audit(table: TableSchema, columns: dict[str, str]) -> tuple[TableSchema, list[Operation]]:
    """``table`` (before its columns are renamed by ``columns``, old -> new) with its audit trail carried over:
    when a renamed column is one of the trigger's arguments, the trigger is dropped before the renames
    (phase 0, with its old arguments) and the table returned without ``audit``, so it is created anew."""
    args = trigger_args(table)
    if args is None or not {args[0], *args[2:]} & set(columns):
        return table, []
    return msgspec.structs.replace(table, audit=None), [drop_audit(table.table, args, phase=0)]
