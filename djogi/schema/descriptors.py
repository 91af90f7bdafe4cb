"""The schema contract: one immutable ``ModelDescriptor`` per model, one ``FieldDescriptor`` per column.

Queries, codecs, migrations, docs and the CLI read models only through these values.
"""

from __future__ import annotations

import enum
from typing import Any, Literal

import msgspec

from djogi.errors import ValidationError
from djogi.protect import Audience, Protected, RelationForm
from djogi.schema.audit import Audit
from djogi.schema.fields import (
    ActorStamp,
    Check,
    CompositeForeignKey,
    Domain,
    Identity,
    Index,
    IndexMethod,
    Timestamp,
)
from djogi.schema.partitions import Partition, PartitionBy
from djogi.schema.views import ViewDef
from djogi.types import PrimaryKey, RelationSpec

__all__ = ["FieldDescriptor", "FieldKind", "ModelDescriptor", "ValueKind"]

FieldKind = Literal["pk", "framework", "data", "relation"]
ValueKind = Literal[
    "str", "int", "float", "bool", "decimal", "date", "datetime", "timestamp", "time", "timedelta", "uuid", "bytes",
    "json", "jsonb", "enum", "array", "heerid", "password", "tsvector", "vector", "encrypted",
]  # fmt: skip


class FieldDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """One column of a model, as derived from its annotation.

    ``python_type`` is the value type with ``Optional``/``Annotated`` stripped (for arrays, the element
    type is ``element_type``, and ``element_nullable`` says whether elements may be None); ``value_kind``
    says which codec handles it. When ``has_default``, the Python default is ``default`` or, for mutable
    defaults, ``default_factory()``. ``domain`` is the PostgreSQL domain the column is declared with
    (``sql_type`` is then its base type, which values are checked as). ``identity`` is the key's
    ``GENERATED ... AS IDENTITY`` kind, ``auto`` marks the creation/update timestamp the database fills
    (``created_at``/``updated_at`` by default). ``generated`` is the expression of a generated column
    (``virtual``: computed when read, else stored); such a field is read-only.
    """

    name: str
    column: str
    python_type: Any
    value_kind: ValueKind
    sql_type: str
    nullable: bool
    kind: FieldKind
    has_default: bool
    default: Any = None
    default_factory: Any = None
    db_default: str | None = None
    identity: Identity | None = None
    auto: Timestamp | None = None
    collation: str | None = None
    domain: Domain | None = None
    generated: str | None = None
    virtual: bool = False
    unique: bool = False
    index: IndexMethod | None = None
    max_length: int | None = None
    check: str | None = None
    comment: str | None = None
    renamed_from: str | None = None
    version: bool = False
    element_type: Any = None
    element_nullable: bool = False
    enum_type: Any = None
    relation: RelationSpec | None = None
    outbox_exclude: bool = False
    exposure: tuple[tuple[Audience, RelationForm], ...] = ()
    """The audiences whose visage shows the field, each with its form (``"id"``: the column's value, a
    relation's key; a relation may also take the target's visage of an audience, or ``"full"``)."""
    protected: Protected | None = None
    """The field's sensitivity, redaction and encryption (``djogi.protect``); an encrypted ``str`` field has
    value kind ``"encrypted"`` and a ``BYTEA`` column."""
    actor: ActorStamp | None = None
    """``"created"``/``"updated"``: the writes fill the field with the acting user's id
    (``djogi.executor.writes``)."""
    sequence_within: str | None = None
    """The field whose value scopes this field's numbering (1, 2, 3 ... per value of it)."""
    idempotency_key: bool = False
    """The field ``create_or_find`` looks rows up by (it is unique)."""

    @property
    def db_filled(self) -> bool:
        """True when the database fills the column if the value is left out (``UNSET``)."""
        return self.db_default is not None or self.identity is not None or self.generated is not None


class ModelDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """The schema contract of one model: table, ordered columns, keys, indexes, relations and enums.

    ``fields`` lists framework columns first (``id``, ``created_at``, ``updated_at``, those the model has),
    then the model's own fields in declaration order; that is also the canonical SELECT order.
    ``primary_key`` names the key's fields (more than one: a composite key); ``managed=False`` models are
    read and written but never migrated.
    """

    model: Any
    name: str
    table: str
    app: str | None
    database: str
    pk: PrimaryKey
    fields: tuple[FieldDescriptor, ...]
    indexes: tuple[Index, ...]
    comment: str | None = None
    through: tuple[Any, ...] | None = None
    renamed_from: str | None = None
    partition_by: PartitionBy | None = None
    partitions: tuple[Partition, ...] = ()
    primary_key: tuple[str, ...] = ("id",)
    managed: bool = True
    checks: tuple[Check, ...] = ()
    """Table CHECK constraints (``checks=``), sorted by name."""
    foreign_keys: tuple[CompositeForeignKey, ...] = ()
    """Foreign keys over several fields (``foreign_keys=``), each with its ``name`` filled in, sorted by name."""
    tenant_key: str | None = None
    """The field whose column holds the row's tenant (``tenant_key=`` option): row-level security isolates
    the table by it (``djogi.tenancy``)."""
    outbox: bool = False
    """Whether writes add event rows to the companion outbox table (``outbox=True`` option; ``djogi.events``)."""
    audit: Audit | None = None
    """The ``audit=`` option checked (fields left out, sorted), None when the model keeps no audit trail."""
    soft_delete: str | None = None
    """The optional datetime field ``db.delete`` sets instead of deleting the row (``soft_delete=`` option)."""
    view: ViewDef | None = None
    """Set for a view model (``view=`` option): ``table`` is then the view's name, and the model is read-only."""

    def check_writable(self, verb: str) -> None:
        """``ValidationError`` naming the model when it is a view model (``verb``: the write refused)."""
        if self.view is None:
            return
        kind = "a materialized view" if self.view.materialized else "a view"
        refresh = f" and refresh it (await db.refresh({self.name}))" if self.view.materialized else ""
        raise ValidationError(f"{self.name}: {verb} refused: {self.name} is {kind} ({self.table}), which is "
                              f"read-only; write to the tables it reads{refresh}")  # fmt: skip

    def refresh_problem(self, *, concurrently: bool) -> str | None:
        """Why ``REFRESH MATERIALIZED VIEW [CONCURRENTLY]`` cannot refresh this model, or None: it must be a
        materialized view, and CONCURRENTLY needs a unique index over plain columns without ``where=``."""
        if self.view is None or not self.view.materialized:
            return f"{self.name} is not a materialized view (declare view=..., materialized=True)"
        plain = [i for i in self.indexes if all(isinstance(k, str) or k.expression is None for k in i.columns)]
        if concurrently and not any(i.unique and i.where is None for i in plain):
            return (f"{self.name}: REFRESH MATERIALIZED VIEW CONCURRENTLY needs a unique index on the view over "
                    f"plain columns and without where=; declare indexes=(Index(columns=(...), unique=True),) "
                    "or refresh without concurrently=True")  # fmt: skip
        return None

    def field(self, name: str) -> FieldDescriptor:
        """The field called ``name``; ``KeyError`` listing the model's fields when there is none."""
        for fd in self.fields:
            if fd.name == name:
                return fd
        known = ", ".join(fd.name for fd in self.fields)
        raise KeyError(f"{self.name} has no field {name!r}; its fields are: {known}")

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names in canonical order."""
        return tuple(fd.column for fd in self.fields)

    def missing_required(self, columns: tuple[str, ...] | frozenset[str]) -> list[str]:
        """The fields without a default whose column is not in ``columns`` (an instance cannot be built)."""
        return [fd.name for fd in self.fields if fd.column not in columns and not fd.has_default]

    @property
    def key_fields(self) -> tuple[FieldDescriptor, ...]:
        """The primary key's fields, in key order."""
        return tuple(self.field(name) for name in self.primary_key)

    @property
    def pk_field(self) -> FieldDescriptor:
        """The first primary-key field (``id`` by default; the only one unless the key is composite);
        ``ValidationError`` for a view model declared without a key."""
        if not self.primary_key:
            raise ValidationError(f"{self.name} is a view model without a key; declare primary_key=... (the "
                                  "field(s) that identify a row) to look its rows up by key")  # fmt: skip
        return self.field(self.primary_key[0])

    @property
    def composite(self) -> bool:
        """True when the primary key has more than one field."""
        return len(self.primary_key) > 1

    @property
    def updated_field(self) -> FieldDescriptor | None:
        """The timestamp every update sets to ``now()`` (``updated_at`` by default), if the model has one."""
        return next((fd for fd in self.fields if fd.auto == "updated"), None)

    @property
    def version_field(self) -> FieldDescriptor | None:
        """The optimistic-locking counter, if the model has one."""
        return next((fd for fd in self.fields if fd.version), None)

    @property
    def composed(self) -> tuple[FieldDescriptor, ...]:
        """The fields a write fills itself: actor fields and numbered fields (``sequence_within``)."""
        return tuple(fd for fd in self.fields if fd.actor is not None or fd.sequence_within is not None)

    @property
    def relations(self) -> tuple[FieldDescriptor, ...]:
        """The to-one relation fields (``ForeignKey`` / ``OneToOne``)."""
        return tuple(fd for fd in self.fields if fd.relation is not None)

    @property
    def enums(self) -> tuple[type[enum.Enum], ...]:
        """The ``djogi.Enum`` types the model's columns use, without repeats."""
        return tuple(dict.fromkeys(fd.enum_type for fd in self.fields if fd.enum_type is not None))

