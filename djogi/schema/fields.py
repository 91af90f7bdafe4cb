"""What a field declaration says beyond its type: ``field(...)`` options, and the indexes a model declares."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from djogi.protect import Exposure, Protected
from djogi.types import OnDelete

__all__ = [
    "ActorStamp", "Check", "CompositeForeignKey", "Domain", "FieldSpec", "Identity", "Index", "IndexColumn",
    "IndexMethod", "StorageValue", "Timestamp", "TsVectorOf", "field", "storage_value", "tsvector_of",
]

IndexMethod = Literal["btree", "gin", "gist", "hash", "brin", "spgist", "hnsw", "ivfflat"]
StorageValue = int | float | str | bool
Identity = Literal["by default", "always"]
Timestamp = Literal["created", "updated"]
ActorStamp = Literal["created", "updated"]


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Column options given with ``Annotated[T, field(...)]``; see ``field`` for each option."""

    unique: bool = False
    index: bool | IndexMethod | None = None
    max_length: int | None = None
    precision: int | None = None
    scale: int | None = None
    db_default: str | None = None
    check: str | None = None
    comment: str | None = None
    renamed_from: str | None = None
    version: bool = False
    column: str | None = None
    sql_type: str | None = None
    on_delete: OnDelete | None = None
    deferrable: bool = False
    initially_deferred: bool = False
    related_name: str | None = None
    primary_key: bool = False
    identity: Identity | None = None
    sequence: str | None = None
    timestamp: Timestamp | None = None
    to_field: str | None = None
    on_update: OnDelete | None = None
    collation: str | None = None
    outbox_exclude: bool = False
    expose: tuple[Exposure, ...] = ()
    protected: Protected | None = None
    generated: str | TsVectorOf | None = None
    virtual: bool = False
    actor: ActorStamp | None = None
    sequence_within: str | None = None
    idempotency_key: bool = False


def field(
    *,
    unique: bool = False,
    index: bool | IndexMethod | None = None,
    max_length: int | None = None,
    precision: int | None = None,
    scale: int | None = None,
    db_default: str | None = None,
    check: str | None = None,
    comment: str | None = None,
    renamed_from: str | None = None,
    version: bool = False,
    column: str | None = None,
    sql_type: str | None = None,
    on_delete: OnDelete | None = None,
    deferrable: bool = False,
    initially_deferred: bool = False,
    related_name: str | None = None,
    primary_key: bool = False,
    identity: Identity | None = None,
    sequence: str | None = None,
    timestamp: Timestamp | None = None,
    to_field: str | None = None,
    on_update: OnDelete | None = None,
    collation: str | None = None,
    outbox_exclude: bool = False,
    expose: tuple[Exposure, ...] = (),
    protected: Protected | None = None,
    generated: str | TsVectorOf | None = None,
    virtual: bool = False,
    actor: ActorStamp | None = None,
    sequence_within: str | None = None,
    idempotency_key: bool = False,
) -> FieldSpec:
    """Column options for ``Annotated[T, field(...)]``.

    ``unique`` adds a UNIQUE constraint; ``index`` an index (``True`` for btree or a method name; a
    ``ForeignKey`` field is indexed by default, ``index=False`` opts out);
    ``max_length`` makes a ``str`` a ``VARCHAR(n)`` instead of TEXT; ``precision``/``scale`` make a
    ``Decimal`` a ``NUMERIC(p, s)``; ``db_default`` is a SQL expression the database fills when the
    value is omitted; ``check`` a SQL CHECK expression; ``renamed_from`` declares a column rename for
    migrations; ``version`` marks the optimistic-locking counter; ``column`` names the column explicitly;
    ``sql_type`` overrides the SQL type. On a ``ForeignKey``/``OneToOne`` field, ``on_delete`` chooses the
    ``ON DELETE`` action (``"restrict"`` by default; ``"set null"`` needs an optional field) and
    ``deferrable``/``initially_deferred`` make the constraint deferrable; ``related_name`` names the
    reverse accessor on the target (default: this model's table name, ``Author.books``), ``to_field`` the
    target's unique field it references (default: the target's key) and ``on_update`` the ``ON UPDATE``
    action (default: none, i.e. ``NO ACTION``). ``collation`` gives a text column its collation
    (``COLLATE "C"``). ``outbox_exclude=True`` leaves the column out of the event payloads of a model
    declared with ``outbox=True`` (``docs/events.md``).

    ``expose`` lists the audiences whose visage shows the field (``djogi.protect``; default: none, the field
    is internal); ``protected`` (``djogi.protect.protect(...)``) declares its sensitivity, redaction in
    visages and encryption at rest (``docs/visages.md``, ``docs/protected-fields.md``).

    Composition (``docs/composition.md``): ``actor="created"``/``"updated"`` fills the field with the acting
    user's id (``db.with_auth(ctx)``: ``ctx.user_id``) on create / on every write; ``sequence_within="parent"``
    numbers the rows 1, 2, 3 ... within each value of the field ``parent`` (a unique index on the pair);
    ``idempotency_key=True`` makes the field unique and the lookup of ``db.create_or_find``.

    ``primary_key=True`` makes the field the model's key (no ``id`` is added); the key is filled by
    ``identity="by default"``/``"always"`` (``GENERATED ... AS IDENTITY``), by ``sequence="name"``
    (``DEFAULT nextval('name')``, the sequence created by migrations and owned by the column), by
    ``db_default``, or else by the application (a value is required). ``timestamp="created"``/``"updated"``
    marks a ``datetime`` column the database fills with ``now()`` on insert (``"updated"``: djogi also sets
    it to ``now()`` on every update), for models declared with ``timestamps=False``.

    ``generated="expr"`` makes the column ``GENERATED ALWAYS AS (expr) STORED`` (``virtual=True``: ``VIRTUAL``,
    computed when read, PostgreSQL 18): the database fills it, so the field is declared
    ``Field[T | msgspec.UnsetType] = field(generated=..., default=msgspec.UNSET)`` and every write of a value
    to it is refused naming the field. ``generated=tsvector_of("english", "title", "body")`` declares a
    ``TsVector`` field's full-text document without SQL.
    """
    return FieldSpec(
        unique=unique, index=index, max_length=max_length, precision=precision, scale=scale,
        db_default=db_default, check=check, comment=comment, renamed_from=renamed_from,
        version=version, column=column, sql_type=sql_type, on_delete=on_delete, deferrable=deferrable,
        initially_deferred=initially_deferred, related_name=related_name, primary_key=primary_key,
        identity=identity, sequence=sequence, timestamp=timestamp, to_field=to_field, on_update=on_update,
        collation=collation, generated=generated, virtual=virtual, outbox_exclude=outbox_exclude, expose=expose,
        protected=protected, actor=actor, sequence_within=sequence_within, idempotency_key=idempotency_key,
    )  # fmt: skip


class TsVectorOf(msgspec.Struct, frozen=True):
    """The generation expression of a ``TsVector`` field: the document made of the text ``fields`` (field
    names of the same model) under the text search configuration ``config``; see ``tsvector_of``."""

    config: str
    fields: tuple[str, ...]


def tsvector_of(config: str, *fields: str) -> TsVectorOf:
    """``field(generated=tsvector_of("english", "title", "body"))``: a STORED ``TsVector`` column
    ``GENERATED ALWAYS AS (to_tsvector('english'::regconfig, "title" || ' ' || COALESCE("body", '')))``, the
    fields' texts joined by spaces (an optional field is ``COALESCE``d to ``''``, so a NULL does not blank the
    document). The model refuses (``ModelDefinitionError``) a field that is not one of its own text fields, a
    generated one, or a configuration that is not a name."""
    return TsVectorOf(config, fields)


class IndexColumn(msgspec.Struct, frozen=True):
    """One key of an index: a column (or a SQL expression) with its order, nulls placement and opclass."""

    name: str | None = None
    expression: str | None = None
    order: Literal["asc", "desc"] = "asc"
    nulls: Literal["default", "first", "last"] = "default"
    opclass: str | None = None


class Index(msgspec.Struct, frozen=True, kw_only=True):
    """A multi-column, partial, covering, expression or non-btree index declared on a model.

    ``columns`` are field names (``"-price"`` for descending) or ``IndexColumn`` values; ``where`` is a
    SQL predicate making the index partial; ``include`` lists covered fields. ``method`` may be an extension's
    access method (``"hnsw"``/``"ivfflat"`` of pgvector); ``storage_parameters`` are the index's ``WITH (name =
    value)`` options as pairs, e.g. ``(("m", 16), ("ef_construction", 64))`` for HNSW, ``(("lists", 100),)`` for
    IVFFlat.
    """

    columns: tuple[str | IndexColumn, ...]
    name: str | None = None
    unique: bool = False
    method: IndexMethod = "btree"
    where: str | None = None
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False
    storage_parameters: tuple[tuple[str, StorageValue], ...] = ()


def storage_value(value: StorageValue) -> str:
    """A storage parameter's value as PostgreSQL lists it in ``pg_class.reloptions`` (``on``/``off`` for
    booleans)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)



class Check(msgspec.Struct, frozen=True, kw_only=True):
    """A table CHECK constraint declared on a model (``checks=(Check(name=..., expression=...),)``): one SQL
    boolean expression over the table's columns, created by migrations as ``CONSTRAINT name CHECK (...)``."""

    name: str
    expression: str


class CompositeForeignKey(msgspec.Struct, frozen=True, kw_only=True):
    """A foreign key over several fields (``foreign_keys=(CompositeForeignKey(...),)``): ``fields`` of this
    model reference ``to_fields`` of ``target`` (a model class or its name), which must be the target's
    composite primary key or a unique index over exactly those fields. ``name`` defaults to
    ``<table>_<columns>_fkey``; the actions and deferrability are those of ``field()`` on a ``ForeignKey``."""

    fields: tuple[str, ...]
    target: Any
    to_fields: tuple[str, ...]
    name: str | None = None
    on_delete: OnDelete = "restrict"
    on_update: OnDelete | None = None
    deferrable: bool = False
    initially_deferred: bool = False


class Domain(msgspec.Struct, frozen=True, kw_only=True):
    """``Annotated`` metadata making a field's column a PostgreSQL domain (created by migrations):
    ``Year: TypeAlias = Annotated[int, Domain(name="year", base="INTEGER", checks=(Check(...),))]``.

    ``base`` is the domain's underlying SQL type (values are checked as for it), ``checks`` its CHECK
    constraints (over ``VALUE``), ``not_null`` and ``default`` (a SQL expression) its own NOT NULL and
    default."""

    name: str
    base: str
    checks: tuple[Check, ...] = ()
    not_null: bool = False
    default: str | None = None
