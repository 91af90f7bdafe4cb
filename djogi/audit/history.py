"""Reading the audit trail: the history of one row, and its state as of a time.

Entries are read from ``djogi_audit`` in the main database (the buffer; where rows stay when no ``crud_log``
database is configured) and, given ``log``, from the ``crud_log`` database the shipper moves them to; an
entry in both (shipped, its deletion from the buffer not yet committed) is read once. Under row-level
security a tenant reads its tenants' entries (and those of untenanted tables) from the buffer; the log has
no policy (its readers are trusted).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, TypeVar

import msgspec

from djogi.errors import ValidationError
from djogi.executor import Database
from djogi.identifiers import quote_ident
from djogi.migrate.audit import AUDIT_TABLE
from djogi.model import Model, descriptor
from djogi.schema import ModelDescriptor

__all__ = ["AuditEntry", "as_of", "history"]

M = TypeVar("M", bound=Model)
Action = Literal["insert", "update", "delete"]


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded write: its ``id`` (the order of the trail), ``at`` (the writing transaction's time),
    ``txid``, ``table_name``, ``row_key`` (the key's text; a JSON array for a composite key), ``action``,
    ``actor`` (``AuthContext.user_id`` as text, None when unset), ``tenant``, the row ``before`` and
    ``after`` (column -> JSON value, excluded columns left out; None before an insert / after a delete) and
    ``diff`` (column -> ``[old, new]`` of each column that changed)."""

    id: int
    at: dt.datetime
    txid: int
    table_name: str
    row_key: str
    action: Action
    actor: str | None
    tenant: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    diff: dict[str, list[Any]]


_COLUMNS = "id, at, txid, table_name, row_key, action, actor, tenant, before, after, diff"


def _audited(model: type[Model]) -> ModelDescriptor:
    desc = descriptor(model)
    if desc.audit is None:
        raise ValidationError(f"{desc.name} keeps no audit trail: declare it with audit=True (or audit=Audit(...)) "
                              "and apply the migration")  # fmt: skip
    return desc


def _key_params(desc: ModelDescriptor, key: object) -> tuple[str, list[object]]:
    """The SQL text of ``row_key`` for ``key`` (as the trigger writes it: the JSON text of the key value, a
    JSON array of a composite key's values) and its parameters, after ``$1`` (the table)."""
    fields = desc.key_fields
    values = list(key) if len(fields) > 1 and isinstance(key, tuple) else [key]
    if len(values) != len(fields):
        raise ValidationError(f"{desc.name} has the composite key ({', '.join(f.name for f in fields)}): pass a "
                              f"tuple of {len(fields)} values, not {key!r}")  # fmt: skip
    if any(v is None for v in values):
        raise ValidationError(f"{desc.name}: a key value cannot be None ({key!r})")
    parts = [f"to_jsonb(${n}::{fd.sql_type})" for n, fd in enumerate(fields, 2)]
    text = f"({parts[0]} #>> '{{}}')" if len(parts) == 1 else f"jsonb_build_array({', '.join(parts)})::text"
    return text, values


async def history(db: Database, model: type[Model], key: object, *, log: Database | None = None) -> list[AuditEntry]:
    """Every recorded write of the ``model`` row whose key is ``key`` (a tuple for a composite key), oldest
    first: ``SELECT ... FROM djogi_audit WHERE table_name = $1 AND row_key = <key> ORDER BY id`` on ``db``
    (the main database) and on ``log`` (the ``crud_log`` database, when given). ValidationError for a model
    without ``audit=`` or a key of the wrong shape; TenantRequired for a tenant-keyed model read on a ``db``
    with no tenant in force (row-level security would show no entries)."""
    desc = _audited(model)
    text, values = _key_params(desc, key)
    db.require_tenant(model)
    sql = f"SELECT {_COLUMNS} FROM {quote_ident(AUDIT_TABLE)} WHERE table_name = $1 AND row_key = {text} ORDER BY id"
    params = [desc.table, *values]
    entries = {e.id: e for e in await db.raw(sql, params, into=AuditEntry)}
    if log is not None:
        entries.update((e.id, e) for e in await log.raw(sql, params, into=AuditEntry))
    return [entries[i] for i in sorted(entries)]


async def as_of(
    db: Database, model: type[M], key: object, when: dt.datetime, *, log: Database | None = None
) -> M | None:
    """The ``model`` row whose key is ``key`` as it was at ``when`` (an aware datetime): the ``after`` image of
    its last entry written by a transaction that began at or before ``when``, decoded by PostgreSQL into the
    table's row type (``jsonb_populate_record``) and then into the model; None when the row did not exist
    then (no entry yet, or deleted). ValidationError for a model without ``audit=``, one whose audit trail
    leaves fields out (``Audit(exclude=...)``: their values were never recorded; read ``history()``), or a
    naive ``when``; TenantRequired as ``history()``."""
    desc = _audited(model)
    if desc.audit is not None and desc.audit.exclude:
        raise ValidationError(f"as_of({desc.name}): the audit trail leaves out {', '.join(desc.audit.exclude)}, so "
                              "no recorded state is a whole row; read history() instead")  # fmt: skip
    if when.tzinfo is None:
        raise ValidationError(f"as_of({desc.name}): when={when!r} is naive; pass an aware datetime")
    last = [e for e in await history(db, model, key, log=log) if e.at <= when]
    if not last or last[-1].after is None:
        return None
    image = msgspec.json.encode(last[-1].after).decode()
    rows = await db.raw(f"SELECT * FROM jsonb_populate_record(NULL::{quote_ident(desc.table)}, $1::jsonb)", [image],
                        into=model)  # fmt: skip
    return rows[0]
