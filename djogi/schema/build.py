"""Building a model's descriptor from its class: annotations, defaults and options in, ``ModelDescriptor`` out.

Pure: reads the class and the registry (for relation targets and forward references), changes nothing.
Every declaration djogi cannot store exactly raises ``ModelDefinitionError`` naming the model and field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import inspect
import keyword
import math
import re
import sys
import types as pytypes
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec
from msgspec import UNSET, UnsetType

from djogi.errors import ModelDefinitionError
from djogi.identifiers import check_identifier, derived_name, identifier_problem
from djogi.passwords import PasswordHash
from djogi.schema.declare import declaration_problem, declared_specs
from djogi.schema.descriptors import FieldDescriptor, FieldKind, ModelDescriptor, ValueKind
from djogi.schema.fields import FieldSpec, Index, IndexColumn, IndexMethod
from djogi.schema.partitions import Partition, PartitionBy
from djogi.schema.registry import models, registered
from djogi.sqltext import expression_problem, label_problem, opclass_problem, type_problem
from djogi.tenancy import key_types
from djogi.types import (
    HEERID_DESC_PK,
    INT_RANGES,
    KEY_TYPES,
    JsonbMarker,
    PrimaryKey,
    RelationSpec,
    SqlType,
    TsVector,
    Vector,
    resolve_pk,
)
from djogi.types import Enum as DjogiEnum

__all__ = ["FRAMEWORK_FIELDS", "build_descriptor"]

FRAMEWORK_FIELDS = ("id", "created_at", "updated_at")
"""The columns every model has, first and in this order; the database fills them."""

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
    PasswordHash: ("password", "TEXT"),
    TsVector: ("tsvector", "TSVECTOR"),
    Vector: ("vector", "VECTOR"),
}
_JSON_TYPES = (dict, list, Any)
_PARAMETER_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_PARAMETER_WORD = re.compile(r"[A-Za-z0-9_.]+")
_VECTOR_TYPE = re.compile(r"VECTOR\(\s*[1-9][0-9]{0,4}\s*\)", re.IGNORECASE)
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
        "timedelta, UUID, bytes, list[...], dict/Any (JSON), Jsonb[Struct], djogi.Enum, ForeignKey[...], "
        "TsVector, Annotated[Vector, SqlType('VECTOR(n)')]",
    )


def _storage_parameter_ok(pair: object) -> bool:
    """Whether an index storage parameter can be written into ``WITH (name = value)`` as it is."""
    if not isinstance(pair, tuple) or len(pair) != 2 or not isinstance(pair[0], str):
        return False
    name, value = pair
    if not _PARAMETER_NAME.fullmatch(name):
        return False
    if isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and _PARAMETER_WORD.fullmatch(value) is not None


def _relation_target(cls: type, pk: PrimaryKey, relation: RelationSpec, where: tuple[str, str]) -> PrimaryKey:
    """The primary key of a relation's target (the model itself for a self-reference)."""
    target = relation.target
    if target is cls or target == cls.__name__:
        return pk
    if isinstance(target, str):
        found = [d for d in models() if d.name == target]
        if len(found) != 1:
            raise _fail(*where, f"relation target {target!r} is not a registered model; declare it first")
        return found[0].pk
    desc = registered(target) if isinstance(target, type) else None
    if desc is None:
        raise _fail(*where, f"relation target {target!r} is not a djogi model")
    return desc.pk


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
    if value_kind == "vector" and _VECTOR_TYPE.fullmatch(sql_type) is None:
        raise _fail(*where, f"a Vector field declares its dimensions: Annotated[Vector, SqlType('VECTOR(384)')], "
                            f"not {sql_type}")  # fmt: skip
    if spec.version and (python_type is not int or shape.nullable):
        raise _fail(*where, "a version field must be a non-optional int")
    if isinstance(default, dt.datetime) and default.tzinfo is None:
        raise _fail(*where, "naive datetime default; use a timezone-aware datetime (e.g. tzinfo=UTC)")
    unique = spec.unique or (relation is not None and relation.kind == "o2o")
    # A foreign key is indexed unless the field says index=False (or a unique constraint indexes it), as
    # in Django: joins, prefetches and cascading deletes then find the referencing rows without a scan.
    wanted = spec.index if spec.index is not None else relation is not None and not unique
    index: IndexMethod | None = None
    if wanted:
        index = "btree" if wanted is True else wanted
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
        unique=unique,
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
    """The resolved annotations of the class's struct fields (``ClassVar`` declarations are left alone: a
    ``ClassVar[Reverse[Book]]`` may name a model declared later). Besides each declaring module's globals, a
    string annotation may name the model itself or any registered model the module does not shadow (models
    declared inside functions)."""
    fields = set(getattr(cls, "__struct_fields__", ()))
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        own = {k: v for k, v in inspect.get_annotations(klass).items() if k in fields}
        if not own:
            continue
        module = sys.modules.get(klass.__module__)
        shadowed = vars(module) if module is not None else {}
        localns: dict[str, Any] = {d.name: d.model for d in models() if d.name not in shadowed}
        localns[cls.__name__] = cls
        holder = type(klass.__name__, (), {"__annotations__": own, "__module__": klass.__module__})
        try:
            hints.update(typing.get_type_hints(holder, localns=localns, include_extras=True))
        except NameError as exc:
            raise ModelDefinitionError(
                f"{cls.__name__}: cannot resolve annotation ({exc}); quote forward references to models "
                "declared later, e.g. ForeignKey['Author']"
            ) from None
    return hints


def _written(cls: type, attr: str) -> object:
    """The annotation of ``attr`` as the class body wrote it."""
    for klass in cls.__mro__:
        found = inspect.get_annotations(klass)
        if attr in found:
            return found[attr]
    return None


def build_descriptor(cls: type, options: Mapping[str, Any]) -> ModelDescriptor:
    """The descriptor of the model class ``cls`` declared with ``options`` (``table=`` and the rest);
    ``ModelDefinitionError`` naming the model and field for a declaration djogi cannot store exactly."""
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
    specs = declared_specs(cls)
    for field_name in own_order:
        problem = declaration_problem(name, field_name, hints[field_name], _written(cls, field_name))
        if problem is not None:
            raise ModelDefinitionError(problem)
        hint = hints[field_name]
        if field_name in specs:
            hint = Annotated[hint, specs[field_name]]
        fields.append(_data_field(cls, pk, field_name, hint, *defaults[field_name]))
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
    tenant_key = _tenant_key(name, options.get("tenant_key"), fields)
    through = options.get("through")
    if through is not None and sum(fd.relation is not None for fd in fields) < 2:
        raise ModelDefinitionError(f"{name}: a through model needs at least two ForeignKey fields")
    partition_by, partitions = _partitioning(name, options.get("partition_by"), options.get("partitions", ()),
                                             fields, indexes)  # fmt: skip
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
        partition_by=partition_by,
        partitions=partitions,
        tenant_key=tenant_key,
    )


def _partitioning(
    model: str, by: Any, partitions: Any, fields: list[FieldDescriptor], indexes: tuple[Index, ...]
) -> tuple[PartitionBy | None, tuple[Partition, ...]]:
    """``partition_by=`` with its key fields as columns, and ``partitions=`` checked against it.

    PostgreSQL requires the primary key and every unique index of a partitioned table to contain the
    partition key, so the key fields must be the primary key's (``id``), ``field(unique=True)`` is
    refused (its constraint would not contain the key) and a unique ``Index`` must name the key fields."""
    if by is None:
        if partitions:
            raise ModelDefinitionError(f"{model}: partitions= needs partition_by= as well")
        return None, ()
    if not isinstance(by, PartitionBy):
        raise ModelDefinitionError(f"{model}: partition_by must be PartitionBy.range/list/hash(...), not {by!r}")
    by_name = {fd.name: fd for fd in fields}
    unknown = [f for f in by.fields if f not in by_name]
    if not by.fields or unknown:
        raise ModelDefinitionError(f"{model}: partition_by needs the fields of the key; unknown: {unknown}")
    key = tuple(by_name[f].column for f in by.fields)
    pk = fields[0].column
    if key != (pk,):
        raise ModelDefinitionError(
            f"{model}: partition_by={by.method}{by.fields}: the partition key must be the primary key "
            f"({fields[0].name!r}), since PostgreSQL requires the primary key to contain it"
        )  # fmt: skip
    if by.method == "list" and len(key) != 1:
        raise ModelDefinitionError(f"{model}: a list partition key has one field")
    for fd in fields:
        if fd.unique:
            raise ModelDefinitionError(f"{model}.{fd.name}: unique=True on a partitioned table: its constraint "
                                       "would not contain the partition key; declare Index(columns="
                                       f"({fields[0].name!r}, {fd.name!r}), unique=True) instead")  # fmt: skip
    for idx in indexes:
        if idx.unique and not set(key) <= {k.name for k in idx.columns if isinstance(k, IndexColumn)}:
            raise ModelDefinitionError(f"{model}: unique index {idx.name} must contain the partition key {key}")
    if not isinstance(partitions, tuple | list) or not all(isinstance(p, Partition) for p in partitions):
        raise ModelDefinitionError(f"{model}: partitions must be a tuple of Partition values")
    seen: set[str] = set()
    for part in partitions:
        problem = identifier_problem(part.name)
        if problem is not None:
            raise ModelDefinitionError(f"{model}: partition name {part.name!r} {problem}")
        if part.name in seen:
            raise ModelDefinitionError(f"{model}: partition {part.name} is declared twice")
        seen.add(part.name)
        fits = part.method == by.method or (part.method == "default" and by.method != "hash")
        if not fits:
            raise ModelDefinitionError(f"{model}: partition {part.name} is a {part.method} partition of a table "
                                       f"partitioned by {by.method}")  # fmt: skip
        if part.method == "range" and part.values != len(key):
            raise ModelDefinitionError(f"{model}: partition {part.name} bounds {part.values} value(s) per side; "
                                       f"the key has {len(key)}")  # fmt: skip
    return PartitionBy(by.method, key), tuple(partitions)


def _tenant_key(model: str, key: object, fields: list[FieldDescriptor]) -> str | None:
    """The ``tenant_key=`` option checked: the name of a NOT NULL data or relation field of the model."""
    if key is None:
        return None
    names = ", ".join(fd.name for fd in fields if fd.kind in ("data", "relation"))
    if not isinstance(key, str):
        raise ModelDefinitionError(f"{model}: tenant_key must be a field name (a str), not {type(key).__name__}")
    fd = next((fd for fd in fields if fd.name == key), None)
    if fd is None or fd.kind not in ("data", "relation"):
        raise ModelDefinitionError(f"{model}: tenant_key={key!r} names no field of the model; declare the tenant "
                                   f"column as a field and name it (fields: {names or 'none'})")  # fmt: skip
    if fd.nullable:
        raise ModelDefinitionError(f"{model}.{key}: the tenant key cannot be optional (a row without a tenant "
                                   "would be invisible to every tenant); declare it without None")  # fmt: skip
    if fd.sql_type.upper() not in key_types():
        raise ModelDefinitionError(f"{model}.{key}: a tenant key column has one of the types {', '.join(key_types())} "
                                   f"(the tenant setting is text cast to it), not {fd.sql_type}")  # fmt: skip
    return key


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
    for pair in idx.storage_parameters:
        if not _storage_parameter_ok(pair):
            raise ModelDefinitionError(
                f"{model}: index {name}: storage parameter {pair!r} is not a (name, value) pair of a lower-case "
                "name and an int, finite float, bool or plain word, e.g. ('m', 16)"
            )
    return msgspec.structs.replace(
        idx, columns=tuple(keys), name=name, include=tuple(by_name[c].column for c in idx.include)
    )
