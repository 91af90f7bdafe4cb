"""Models: frozen msgspec Structs that declare tables, and the descriptors derived from them.

``class Author(Model, table="authors")`` declares a table. At class creation djogi reads the annotations
once and builds an immutable ``ModelDescriptor`` (the schema contract read by queries, codecs,
migrations, docs and the CLI) and registers it. Bad declarations raise ``ModelDefinitionError`` naming
the model and field. At class level ``Author.name`` is a column reference for the algebra; on an
instance it is the value.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import inspect
import keyword
import sys
import types as pytypes
import typing
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeVar, Union, cast, get_args, get_origin

import msgspec
from msgspec import UNSET, UnsetType

from djogi.errors import ArgumentTypeError, ModelDefinitionError
from djogi.identifiers import check_identifier, derived_name, identifier_problem
from djogi.sqltext import expression_problem, label_problem, opclass_problem, type_problem

if TYPE_CHECKING:
    from djogi.algebra.query import Select

from djogi.types import (
    HEERID_DESC_PK,
    INT_RANGES,
    KEY_TYPES,
    JsonbMarker,
    OnDelete,
    PrimaryKey,
    RelationSpec,
    SqlType,
    resolve_pk,
)
from djogi.vectorcall import inherit_vectorcall

__all__ = [
    "FieldDescriptor",
    "FieldSpec",
    "Index",
    "IndexColumn",
    "Model",
    "ModelDescriptor",
    "descriptor",
    "field",
    "models",
    "registry_scope",
]

M = TypeVar("M", bound="Model")

IndexMethod = Literal["btree", "gin", "gist", "hash", "brin", "spgist"]
FieldKind = Literal["pk", "framework", "data", "relation"]
ValueKind = Literal[
    "str", "int", "float", "bool", "decimal", "date", "datetime", "time", "timedelta", "uuid", "bytes",
    "json", "jsonb", "enum", "array", "heerid",
]  # fmt: skip


class FieldSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Column options given with ``Annotated[T, field(...)]``; see ``field`` for each option."""

    unique: bool = False
    index: bool | IndexMethod = False
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


def field(
    *,
    unique: bool = False,
    index: bool | IndexMethod = False,
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
) -> FieldSpec:
    """Column options for ``Annotated[T, field(...)]``.

    ``unique`` adds a UNIQUE constraint; ``index`` an index (``True`` for btree or a method name);
    ``max_length`` makes a ``str`` a ``VARCHAR(n)`` instead of TEXT; ``precision``/``scale`` make a
    ``Decimal`` a ``NUMERIC(p, s)``; ``db_default`` is a SQL expression the database fills when the
    value is omitted; ``check`` a SQL CHECK expression; ``renamed_from`` declares a column rename for
    migrations; ``version`` marks the optimistic-locking counter; ``column`` names the column explicitly;
    ``sql_type`` overrides the SQL type. On a ``ForeignKey``/``OneToOne`` field, ``on_delete`` chooses the
    ``ON DELETE`` action (``"restrict"`` by default; ``"set null"`` needs an optional field) and
    ``deferrable``/``initially_deferred`` make the constraint deferrable; ``related_name`` names the
    reverse accessor on the target (default: this model's table name, ``Author.books``).
    """
    return FieldSpec(
        unique=unique, index=index, max_length=max_length, precision=precision, scale=scale,
        db_default=db_default, check=check, comment=comment, renamed_from=renamed_from,
        version=version, column=column, sql_type=sql_type, on_delete=on_delete, deferrable=deferrable,
        initially_deferred=initially_deferred, related_name=related_name,
    )  # fmt: skip


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
    SQL predicate making the index partial; ``include`` lists covered fields.
    """

    columns: tuple[str | IndexColumn, ...]
    name: str | None = None
    unique: bool = False
    method: IndexMethod = "btree"
    where: str | None = None
    include: tuple[str, ...] = ()
    nulls_not_distinct: bool = False


class FieldDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """One column of a model, as derived from its annotation.

    ``python_type`` is the value type with ``Optional``/``Annotated`` stripped (for arrays, the element
    type is ``element_type``, and ``element_nullable`` says whether elements may be None); ``value_kind``
    says which codec handles it. When ``has_default``, the Python default is ``default`` or, for mutable
    defaults, ``default_factory()``.
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
    identity: bool = False
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

    @property
    def db_filled(self) -> bool:
        """True when the database fills the column if the value is left out (``UNSET``)."""
        return self.kind in ("pk", "framework") or self.db_default is not None


class ModelDescriptor(msgspec.Struct, frozen=True, kw_only=True):
    """The schema contract of one model: table, ordered columns, keys, indexes, relations and enums.

    ``fields`` lists framework columns first (``id``, ``created_at``, ``updated_at``), then the model's
    own fields in declaration order; that is also the canonical SELECT order.
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
    def pk_field(self) -> FieldDescriptor:
        """The primary-key field (``id``)."""
        return self.fields[0]

    @property
    def version_field(self) -> FieldDescriptor | None:
        """The optimistic-locking counter, if the model has one."""
        return next((fd for fd in self.fields if fd.version), None)

    @property
    def relations(self) -> tuple[FieldDescriptor, ...]:
        """The to-one relation fields (``ForeignKey`` / ``OneToOne``)."""
        return tuple(fd for fd in self.fields if fd.relation is not None)

    @property
    def enums(self) -> tuple[type[enum.Enum], ...]:
        """The ``djogi.Enum`` types the model's columns use, without repeats."""
        return tuple(dict.fromkeys(fd.enum_type for fd in self.fields if fd.enum_type is not None))


# ---------------------------------------------------------------------------------------------- registry

_registry: dict[type, ModelDescriptor] = {}


def models() -> tuple[ModelDescriptor, ...]:
    """Every registered model's descriptor, in registration order."""
    return tuple(_registry.values())


def descriptor(model: type[Model]) -> ModelDescriptor:
    """The descriptor of a model class; ``ArgumentTypeError`` for anything that is not a registered model."""
    try:
        return _registry[model]
    except (KeyError, TypeError):  # TypeError: an unhashable argument
        raise ArgumentTypeError(f"{model!r} is not a djogi model (subclass Model with table=...)") from None


@contextmanager
def registry_scope(*, isolated: bool = False) -> Iterator[None]:
    """Register models declared inside the block only until it exits (for tests and generated models).

    With ``isolated=True`` the block also starts from an empty registry, so ``models()`` lists only the
    models declared inside it (what a migration projection of "just these models" needs).
    """
    saved = dict(_registry)
    if isolated:
        _registry.clear()
    try:
        yield
    finally:
        _registry.clear()
        _registry.update(saved)


def _register(desc: ModelDescriptor) -> None:
    model = desc.model
    for other_model, other in list(_registry.items()):
        same_class = (other_model.__module__, other_model.__qualname__) == (model.__module__, model.__qualname__)
        if same_class:
            del _registry[other_model]
        elif other.database == desc.database and other.table == desc.table:
            raise ModelDefinitionError(
                f"{desc.name}: table {desc.table!r} is already declared by {other.name} "
                f"({other_model.__module__}) in database {desc.database!r}; choose another table name"
            )
    _check_reverse_names(desc)
    _registry[model] = desc


def _reverse_names(desc: ModelDescriptor) -> list[tuple[ModelDescriptor, str, str, bool]]:
    """``(target, accessor, field, explicit)`` for each relation of ``desc``: the reverse accessor it adds
    to its target, and whether ``related_name`` chose it."""
    out = []
    for fd in desc.relations:
        assert fd.relation is not None
        target = fd.relation.target
        if target is desc.model or target == desc.name:
            found: ModelDescriptor | None = desc
        elif isinstance(target, str):
            found = next((d for d in _registry.values() if d.name == target), None)
        else:
            found = _registry.get(target)
        if found is not None:
            explicit = fd.relation.related_name is not None
            out.append((found, fd.relation.related_name or desc.table, fd.name, explicit))
    return out


def _check_reverse_names(desc: ModelDescriptor) -> None:
    """``ModelDefinitionError`` when a reverse accessor of ``desc`` clashes with a field of its target, or
    when a ``related_name`` repeats another relation's accessor on that target. (Two relations left on the
    default name, ``Pet.owner`` and ``Pet.keeper``, share it: the attribute ``Owner.pets`` is then
    ambiguous and refused on use; ``reverse(Pet.owner)`` still works.)"""
    taken = {
        (target.model, name): (f"{other.name}.{field_name}", explicit)
        for other in _registry.values()
        if (other.model.__module__, other.model.__qualname__) != (desc.model.__module__, desc.model.__qualname__)
        for target, name, field_name, explicit in _reverse_names(other)
    }
    for target, name, field_name, explicit in _reverse_names(desc):
        where = f"{desc.name}.{field_name}"
        if any(fd.name == name for fd in target.fields):
            raise ModelDefinitionError(
                f"{where}: its reverse accessor {target.name}.{name} clashes with the field {target.name}.{name}; "
                "choose another with field(related_name=...)"
            )
        other = taken.get((target.model, name))
        if other is not None and (explicit or other[1]):
            raise ModelDefinitionError(
                f"{where}: its reverse accessor {target.name}.{name} is already used by {other[0]}; "
                "choose another with field(related_name=...)"
            )
        taken[target.model, name] = (where, explicit)


# ---------------------------------------------------------------------------------------------- the base

_MODEL_OPTIONS = (
    "table", "app", "pk", "indexes", "unique_together", "database", "comment", "through", "renamed_from",
)


class ModelMeta(msgspec.StructMeta):
    """Metaclass of ``Model``: takes the model options, builds and registers the descriptor.

    At class level, a field name resolves to a column reference and ``objects`` to ``select(Model)``.
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> ModelMeta:
        options = {key: kwargs.pop(key) for key in _MODEL_OPTIONS if key in kwargs}
        kwargs.setdefault("kw_only", True)
        if "table" in options:
            _type_the_key(namespace, options)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        type.__setattr__(cls, "__djogi_columns__", {})
        if "table" in options:
            desc = _build_descriptor(cls, options)
            _register(desc)
        elif options:
            raise ModelDefinitionError(f"{name}: model options {sorted(options)} need table=... as well")
        return cls

    def __getattribute__(cls, name: str) -> Any:
        if name[0] != "_":
            columns = type.__getattribute__(cls, "__djogi_columns__")
            found = columns.get(name)
            if found is not None:
                return found
            if name == "objects" and cls in _registry:
                from djogi.algebra.query import select

                model = cast("type[Model]", cls)
                everything = columns[name] = select(model)  # an immutable value: built once per model
                return everything
            if cls in _registry and name in {fd.name for fd in _registry[cls].fields}:
                from djogi.algebra.expr import column_ref

                ref = column_ref(cast("type[Model]", cls), _registry[cls].field(name))
                columns[name] = ref
                return ref
        try:
            return type.__getattribute__(cls, name)
        except AttributeError:
            if name[0] == "_" or cls not in _registry:
                raise
            from djogi.algebra.relations import reverse_accessor

            found = reverse_accessor(cls, name)  # Author.books: the reverse of Book.author
            if found is None:
                raise
            return found


def _type_the_key(namespace: dict[str, Any], options: Mapping[str, Any]) -> None:
    """Declare the model's ``id`` with its key's value type (``HeerIdDesc | UnsetType`` ...), so that
    msgspec decodes and converts it (an unresolvable ``pk=`` is reported by the descriptor)."""
    try:
        pk = resolve_pk(options.get("pk", HEERID_DESC_PK))
    except TypeError:
        return
    if "id" not in namespace.get("__annotations__", {}):
        namespace.setdefault("__annotations__", {})["id"] = Union[pk.python_type, UnsetType]  # noqa: UP007
        namespace["id"] = UNSET


inherit_vectorcall(ModelMeta, msgspec.StructMeta)  # 3x faster Book(...) on Python 3.11


class Model(msgspec.Struct, frozen=True, kw_only=True, gc=False, metaclass=ModelMeta):
    """Base of every model. Subclass with ``table=`` (and optionally ``app``, ``pk``, ``indexes``,
    ``unique_together``, ``database``, ``comment``, ``through``, ``renamed_from`` (the table's previous
    name, so migrations rename it instead of dropping and recreating it)).

    ``id``, ``created_at`` and ``updated_at`` are filled by the database and are ``msgspec.UNSET`` on
    an instance that was never saved. Instances are not tracked by the cyclic garbage collector
    (``gc=False``: cheaper to create); a model instance must not be stored inside its own list field.
    """

    id: Any = UNSET
    created_at: dt.datetime | UnsetType = UNSET
    updated_at: dt.datetime | UnsetType = UNSET

    __djogi_columns__: ClassVar[dict[str, Any]]
    if TYPE_CHECKING:
        objects: ClassVar[Select[Any]]
        """``select(Model)``; the mypy plugin types ``Book.objects`` as ``Select[Book]``."""


FRAMEWORK_FIELDS = ("id", "created_at", "updated_at")


# ---------------------------------------------------------------------------------------------- building

_SCALARS: dict[Any, tuple[ValueKind, str]] = {
    str: ("str", "TEXT"),
    int: ("int", "BIGINT"),
    float: ("float", "DOUBLE PRECISION"),
    bool: ("bool", "BOOLEAN"),
    decimal.Decimal: ("decimal", "NUMERIC"),
    dt.date: ("date", "DATE"),
    dt.datetime: ("datetime", "TIMESTAMPTZ"),
    dt.time: ("time", "TIME"),
    dt.timedelta: ("timedelta", "INTERVAL"),
    uuid.UUID: ("uuid", "UUID"),
    bytes: ("bytes", "BYTEA"),
}
_JSON_TYPES = (dict, list, Any)
_ARRAY_ELEMENT_KINDS = ("str", "int", "float", "bool", "decimal", "date", "datetime", "uuid", "enum", "time")


class _Shape(msgspec.Struct, kw_only=True):
    python_type: Any
    nullable: bool = False
    spec: FieldSpec = FieldSpec()
    sql_override: str | None = None
    jsonb: bool = False
    relation: RelationSpec | None = None


def _fail(model: str, field_name: str, message: str) -> ModelDefinitionError:
    return ModelDefinitionError(f"{model}.{field_name}: {message}")


def _unwrap(tp: Any) -> _Shape:
    """Strip ``Annotated`` and ``Optional`` layers, collecting djogi metadata on the way."""
    shape = _Shape(python_type=tp)
    while True:
        tp = shape.python_type
        origin = get_origin(tp)
        if origin is Annotated:
            base, *meta = get_args(tp)
            shape.python_type = base
            for item in meta:
                if isinstance(item, FieldSpec):
                    shape.spec = item
                elif isinstance(item, SqlType):
                    shape.sql_override = item.name
                elif isinstance(item, JsonbMarker):
                    shape.jsonb = True
                elif isinstance(item, RelationSpec):
                    shape.relation = item
            continue
        if origin in (Union, pytypes.UnionType):
            members = [a for a in get_args(tp) if a is not type(None) and a is not UnsetType]
            if len(members) != len(get_args(tp)):
                shape.nullable = shape.nullable or type(None) in get_args(tp)
            if len(members) == 1:
                shape.python_type = members[0]
                continue
        return shape


def _classify(tp: Any, where: tuple[str, str]) -> tuple[ValueKind, str, Any, Any]:
    """Map a value type to (value kind, SQL type, array element type, enum type)."""
    from djogi.types import Enum as DjogiEnum

    if tp in _SCALARS:
        kind, sql = _SCALARS[tp]
        return kind, sql, None, None
    if isinstance(tp, type) and issubclass(tp, DjogiEnum):
        try:
            check_identifier(tp.pg_name(), f"enum type name of {tp.__name__}")
        except ValueError as exc:
            raise _fail(*where, str(exc)) from None
        for member in tp:
            if not isinstance(member.value, str) or not 0 < len(member.value.encode()) <= 63:
                raise _fail(*where, f"enum {tp.__name__}.{member.name}: a label is a str of 1-63 bytes "
                                    f"(PostgreSQL's limit), not {member.value!r}")  # fmt: skip
        return "enum", tp.pg_name(), None, tp
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        raise _fail(*where, f"{tp.__name__} is a plain enum.Enum; subclass djogi.Enum to map it to a native type")
    origin = get_origin(tp)
    if origin is list:
        (element,) = get_args(tp) or (Any,)
        element_shape = _unwrap(element)
        if element_shape.python_type in _JSON_TYPES:
            return "json", "JSONB", None, None
        ekind, esql, _, etype = _classify(element_shape.python_type, where)
        if ekind not in _ARRAY_ELEMENT_KINDS:
            raise _fail(*where, f"list of {element!r} cannot be a PostgreSQL array; use Jsonb[...] instead")
        sql = element_shape.sql_override or esql
        return "array", f"{sql}[]", element_shape.python_type, etype
    if tp is Any or origin is dict or tp is dict:
        return "json", "JSONB", None, None
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        raise _fail(*where, f"{tp.__name__} is a Struct; declare the field as Jsonb[{tp.__name__}] to store JSONB")
    raise _fail(
        *where,
        f"unsupported annotation {tp!r}; supported: str, int, float, bool, Decimal, date, datetime, time, "
        "timedelta, UUID, bytes, list[...], dict/Any (JSON), Jsonb[Struct], djogi.Enum, ForeignKey[...]",
    )


def _relation_target(cls: type, pk: PrimaryKey, relation: RelationSpec, where: tuple[str, str]) -> PrimaryKey:
    """The primary key of a relation's target (the model itself for a self-reference)."""
    target = relation.target
    if target is cls or target == cls.__name__:
        return pk
    if isinstance(target, str):
        found = [d for d in _registry.values() if d.name == target]
        if len(found) != 1:
            raise _fail(*where, f"relation target {target!r} is not a registered model; declare it first")
        return found[0].pk
    if not (isinstance(target, type) and target in _registry):
        raise _fail(*where, f"relation target {target!r} is not a djogi model")
    return _registry[target].pk


def _data_field(
    cls: type, pk: PrimaryKey, name: str, hint: Any, default: Any, default_factory: Any
) -> FieldDescriptor:
    model_name = cls.__name__
    where = (model_name, name)
    shape = _unwrap(hint)
    spec = shape.spec
    column = spec.column or name
    relation = shape.relation
    if relation is None and (spec.on_delete is not None or spec.deferrable or spec.initially_deferred):
        raise _fail(*where, "on_delete/deferrable apply to ForeignKey and OneToOne fields only")
    if relation is None and spec.related_name is not None:
        raise _fail(*where, "related_name applies to ForeignKey and OneToOne fields only")
    if relation is not None:
        relation = msgspec.structs.replace(
            relation, on_delete=spec.on_delete or relation.on_delete, deferrable=spec.deferrable,
            initially_deferred=spec.initially_deferred, related_name=spec.related_name or relation.related_name,
        )  # fmt: skip
        if relation.on_delete == "set null" and not shape.nullable:
            raise _fail(*where, 'on_delete="set null" needs an optional field (ForeignKey[...] | None)')
    kind: FieldKind = "data"
    element_type = enum_type = None
    element_nullable = False
    if relation is not None:
        kind = "relation"
        column = spec.column or f"{name}_id"
        target_pk = _relation_target(cls, pk, relation, where)
        value_kind: ValueKind = _framework_fields(target_pk)[0].value_kind
        sql_type = target_pk.sql_type
        python_type: Any = target_pk.python_type
    elif shape.jsonb:
        value_kind, sql_type, python_type = "jsonb", "JSONB", shape.python_type
    else:
        python_type = shape.python_type
        value_kind, sql_type, element_type, enum_type = _classify(python_type, where)
        element_nullable = value_kind == "array" and _unwrap((get_args(python_type) or (Any,))[0]).nullable
    if shape.sql_override is not None:
        sql_type = shape.sql_override
    if spec.sql_type is not None:
        sql_type = spec.sql_type
    _check_declared_sql(where, spec, sql_type if spec.sql_type is not None or shape.sql_override else None)
    try:
        check_identifier(column, "column name")
    except ValueError as exc:
        raise _fail(*where, f"{exc}; pass field(column=...) to choose another column name") from None
    if spec.max_length is not None:
        if python_type is not str:
            raise _fail(*where, f"max_length applies to str fields, not {python_type!r}")
        if spec.max_length < 1:
            raise _fail(*where, "max_length must be at least 1")
        sql_type = f"VARCHAR({spec.max_length})"
    if spec.precision is not None or spec.scale is not None:
        if python_type is not decimal.Decimal:
            raise _fail(*where, "precision/scale apply to Decimal fields only")
        sql_type = f"NUMERIC({spec.precision or 38}, {spec.scale or 0})"
    if value_kind == "int" and sql_type not in INT_RANGES and spec.sql_type is None:
        raise _fail(*where, f"int fields are SMALLINT, INTEGER or BIGINT, not {sql_type}")
    if spec.version and (python_type is not int or shape.nullable):
        raise _fail(*where, "a version field must be a non-optional int")
    if isinstance(default, dt.datetime) and default.tzinfo is None:
        raise _fail(*where, "naive datetime default; use a timezone-aware datetime (e.g. tzinfo=UTC)")
    index: IndexMethod | None = None
    if spec.index:
        index = "btree" if spec.index is True else spec.index
    return FieldDescriptor(
        name=name,
        column=column,
        python_type=python_type,
        value_kind=value_kind,
        sql_type=sql_type,
        nullable=shape.nullable,
        kind=kind,
        has_default=default is not msgspec.NODEFAULT or default_factory is not msgspec.NODEFAULT,
        default=None if default is msgspec.NODEFAULT else default,
        default_factory=None if default_factory is msgspec.NODEFAULT else default_factory,
        db_default=spec.db_default,
        unique=spec.unique or (relation is not None and relation.kind == "o2o"),
        index=index,
        max_length=spec.max_length,
        check=spec.check,
        comment=spec.comment,
        renamed_from=spec.renamed_from,
        version=spec.version,
        element_type=element_type,
        element_nullable=element_nullable,
        enum_type=enum_type,
        relation=relation,
    )


def _check_declared_sql(where: tuple[str, str], spec: Any, sql_type: str | None) -> None:
    """Refuse declared SQL that is not exactly one type / one expression, and names that are not names."""
    checks: list[tuple[str, object, Callable[[object], str | None]]] = [
        ("sql_type", sql_type, type_problem), ("check", spec.check, expression_problem),
        ("db_default", spec.db_default, expression_problem),
    ]
    for what, value, problem_of in checks:
        problem = None if value is None else problem_of(value)
        if problem is not None:
            raise _fail(*where, f"{what}={value!r} {problem}")
    if spec.comment is not None and not isinstance(spec.comment, str):
        raise _fail(*where, f"comment must be a str, not {type(spec.comment).__name__}")
    if spec.renamed_from is not None and identifier_problem(str(spec.renamed_from)) is not None:
        raise _fail(*where, f"renamed_from={spec.renamed_from!r} {identifier_problem(str(spec.renamed_from))}")
    related = spec.related_name
    if related is not None and not (isinstance(related, str) and related.isidentifier()
                                    and not keyword.iskeyword(related)):  # fmt: skip
        raise _fail(*where, f"related_name={related!r} must be a Python identifier (it names an attribute)")


def _framework_fields(pk: PrimaryKey) -> tuple[FieldDescriptor, ...]:
    pk_kind = "heerid" if pk.python_type in KEY_TYPES else _SCALARS[pk.python_type][0]
    return (
        FieldDescriptor(
            name="id", column="id", python_type=pk.python_type, value_kind=pk_kind, sql_type=pk.sql_type,
            nullable=False, kind="pk", has_default=True, default=UNSET, db_default=pk.default_sql,
            identity=pk.identity,
        ),
        *(
            FieldDescriptor(
                name=name, column=name, python_type=dt.datetime, value_kind="datetime",
                sql_type="TIMESTAMPTZ", nullable=False, kind="framework", has_default=True, default=UNSET,
                db_default="now()",
            )
            for name in ("created_at", "updated_at")
        ),
    )  # fmt: skip


def _type_hints(cls: type) -> dict[str, Any]:
    """The class's resolved annotations. Besides the module's globals, a string annotation may name the
    model itself or any registered model the module does not shadow (models declared inside functions)."""
    module = sys.modules.get(cls.__module__)
    shadowed = vars(module) if module is not None else {}
    localns = {d.name: d.model for d in _registry.values() if d.name not in shadowed}
    localns[cls.__name__] = cls
    try:
        return typing.get_type_hints(cls, localns=localns, include_extras=True)
    except NameError as exc:
        raise ModelDefinitionError(
            f"{cls.__name__}: cannot resolve annotation ({exc}); quote forward references to models "
            "declared later, e.g. ForeignKey['Author']"
        ) from None


def _build_descriptor(cls: type, options: Mapping[str, Any]) -> ModelDescriptor:
    name = cls.__name__
    table = options["table"]
    try:
        check_identifier(table, "table name")
        if options.get("renamed_from") is not None:
            check_identifier(options["renamed_from"], "renamed_from")
        pk = resolve_pk(options.get("pk", HEERID_DESC_PK))
    except (ValueError, TypeError) as exc:
        raise ModelDefinitionError(f"{name}: {exc}") from None
    for option in ("app", "database"):
        problem = None if options.get(option) is None else label_problem(options[option])
        if problem is not None:
            raise ModelDefinitionError(f"{name}: {option}={options[option]!r} {problem} (it names a folder under "
                                       "migrations/)")  # fmt: skip
    if options.get("comment") is not None and not isinstance(options["comment"], str):
        raise ModelDefinitionError(f"{name}: comment must be a str, not {type(options['comment']).__name__}")
    hints = _type_hints(cls)
    defaults = _struct_defaults(cls)
    declared = [name for name in defaults if name not in FRAMEWORK_FIELDS]
    own_order = [n for n in _declaration_order(cls) if n in declared]
    fields = list(_framework_fields(pk))
    for field_name in own_order:
        fields.append(_data_field(cls, pk, field_name, hints[field_name], *defaults[field_name]))
    seen: dict[str, str] = {}
    for fd in fields:
        if fd.column in seen:
            raise _fail(name, fd.name, f"column {fd.column!r} is also used by field {seen[fd.column]!r}")
        seen[fd.column] = fd.name
    if sum(fd.version for fd in fields) > 1:
        raise ModelDefinitionError(f"{name}: at most one field may be marked version=True")
    indexes = tuple(_normalise_index(name, table, idx, fields) for idx in options.get("indexes", ()))
    indexes += tuple(
        _normalise_index(name, table, Index(columns=tuple(cols), unique=True), fields)
        for cols in options.get("unique_together", ())
    )
    through = options.get("through")
    if through is not None and sum(fd.relation is not None for fd in fields) < 2:
        raise ModelDefinitionError(f"{name}: a through model needs at least two ForeignKey fields")
    return ModelDescriptor(
        model=cls,
        name=name,
        table=table,
        app=options.get("app"),
        database=options.get("database", "main"),
        pk=pk,
        fields=tuple(fields),
        indexes=indexes,
        comment=options.get("comment"),
        through=tuple(through) if through is not None else None,
        renamed_from=options.get("renamed_from"),
    )


def _struct_defaults(cls: Any) -> dict[str, tuple[Any, Any]]:
    """``{field: (default, default_factory)}`` read off the Struct without evaluating annotations.

    (``msgspec.structs.fields`` evaluates them, which fails for a model referring to itself.)
    """
    names: tuple[str, ...] = cls.__struct_fields__
    values: tuple[Any, ...] = cls.__struct_defaults__
    padded = (msgspec.NODEFAULT,) * (len(names) - len(values)) + values
    return {
        name: (msgspec.NODEFAULT, value.factory) if type(value).__name__ == "Factory" else (value, msgspec.NODEFAULT)
        for name, value in zip(names, padded, strict=True)
    }


def _declaration_order(cls: type) -> list[str]:
    """Field names from the base-most model down, each class in source order."""
    order: list[str] = []
    for klass in reversed(cls.__mro__):
        for attr in inspect.get_annotations(klass):
            if attr not in order:
                order.append(attr)
    return order


def _normalise_index(
    model: str, table: str, idx: Index, fields: list[FieldDescriptor]
) -> Index:
    by_name = {fd.name: fd for fd in fields}
    keys: list[IndexColumn] = []
    for key in idx.columns:
        if isinstance(key, str):
            desc = key.startswith("-")
            key = IndexColumn(name=key.lstrip("-"), order="desc" if desc else "asc")
        if key.name is not None:
            if key.name not in by_name:
                raise ModelDefinitionError(f"{model}: index refers to unknown field {key.name!r}")
            key = msgspec.structs.replace(key, name=by_name[key.name].column)
        elif key.expression is None:
            raise ModelDefinitionError(f"{model}: an IndexColumn needs a field name or an expression")
        problem = (None if key.expression is None else expression_problem(key.expression)) or (
            None if key.opclass is None else opclass_problem(key.opclass))
        if problem is not None:
            raise ModelDefinitionError(f"{model}: index key {key.name or key.expression!r}: {problem}")
        keys.append(key)
    for covered in idx.include:
        if covered not in by_name:
            raise ModelDefinitionError(f"{model}: index includes unknown field {covered!r}")
    parts = tuple(k.name or "expr" for k in keys)
    name = idx.name or derived_name(table, parts, "key" if idx.unique else "idx")
    problem = identifier_problem(name) if isinstance(name, str) else "must be a str"
    if problem is not None:  # checked as written: PostgreSQL would silently truncate a longer name
        raise ModelDefinitionError(f"{model}: index name {name!r} {problem}")
    where = None if idx.where is None else expression_problem(idx.where)
    if where is not None:
        raise ModelDefinitionError(f"{model}: index {name}: where={idx.where!r} {where}")
    return msgspec.structs.replace(
        idx, columns=tuple(keys), name=name, include=tuple(by_name[c].column for c in idx.include)
    )
