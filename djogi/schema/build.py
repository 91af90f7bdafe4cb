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
from djogi.schema.audit import audit_option
from djogi.schema.composition import check_composition
from djogi.schema.declare import declaration_problem, declared_specs
from djogi.schema.descriptors import FieldDescriptor, FieldKind, ModelDescriptor, ValueKind
from djogi.schema.exposure import ENCRYPTED_SQL_TYPE, exposure, protection
from djogi.schema.fields import (
    Check,
    CompositeForeignKey,
    Domain,
    FieldSpec,
    Index,
    IndexColumn,
    IndexMethod,
    Timestamp,
    TsVectorOf,
)
from djogi.schema.partitions import Partition, PartitionBy
from djogi.schema.registry import models, registered, waiting_preview
from djogi.schema.tsdocument import document_problem, document_sql
from djogi.schema.views import ViewDef, view_column_problem, view_option
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
_CHAR_TYPE = re.compile(r"\s*(?:CHAR|CHARACTER|BPCHAR)\s*(?:\(\s*(\d+)\s*\))?\s*", re.IGNORECASE)
_TIMESTAMP_TYPE = re.compile(r"\s*TIMESTAMP(?:\s+WITHOUT\s+TIME\s+ZONE)?\s*", re.IGNORECASE)


_NO_SPEC = FieldSpec()


class _Shape(msgspec.Struct, kw_only=True):
    python_type: Any
    nullable: bool = False
    spec: FieldSpec = _NO_SPEC
    sql_override: str | None = None
    jsonb: bool = False
    relation: RelationSpec | None = None
    domain: Domain | None = None


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
                elif isinstance(item, Domain):
                    shape.domain = item
                    shape.sql_override = item.base
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
        if _CHAR_TYPE.fullmatch(sql) or _TIMESTAMP_TYPE.fullmatch(sql):
            raise _fail(*where, f"arrays of {sql} are not supported (their elements would not read back as "
                                "written); use TEXT[] / TIMESTAMPTZ[]")  # fmt: skip
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


class Unresolved(Exception):
    """A relation names a model that is not declared yet (``name``): the declaration waits for it."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _relation_target(
    cls: type, own: Mapping[str, FieldDescriptor] | None, relation: RelationSpec, where: tuple[str, str],
    partial: bool = False,
) -> FieldDescriptor:  # fmt: skip
    """The field a relation references: the target's key, or its ``to_field`` (``own`` holds the model's
    own fields for a self-reference). A target waiting for another model is read from its preview (unless
    ``partial``: building a preview itself); ``Unresolved`` for a target not declared yet."""
    target = relation.target
    if target is cls or target == cls.__name__:
        assert own is not None
        fields, key, name = own, tuple(fd.name for fd in own.values() if fd.kind == "pk"), cls.__name__
    else:
        if isinstance(target, str):
            found = [d for d in models() if d.name == target]
            if len(found) > 1:
                raise _fail(*where, f"relation target {target!r} names {len(found)} models; pass the class")
            desc: ModelDescriptor | None = found[0] if found else None
        else:
            desc = registered(target) if isinstance(target, type) else None
        if desc is None and (isinstance(target, str) or _is_model_class(target)):
            desc = None if partial else waiting_preview(target)
            if desc is None:
                raise Unresolved(target if isinstance(target, str) else target.__name__)
        if desc is None:
            raise _fail(*where, f"relation target {target!r} is not a djogi model")
        fields, key, name = {fd.name: fd for fd in desc.fields}, desc.primary_key, desc.name
    if relation.to_field is None:
        if len(key) != 1:
            raise _fail(*where, f"{name} has a composite key {key}; reference one of its unique fields with "
                                "field(to_field=...)")  # fmt: skip
        return fields[key[0]]
    referenced = fields.get(relation.to_field)
    if referenced is None:
        raise _fail(*where, f"to_field={relation.to_field!r}: {name} has no such field")
    if not (referenced.unique or (referenced.kind == "pk" and len(key) == 1)):
        raise _fail(*where, f"to_field={relation.to_field!r}: {name}.{relation.to_field} is not unique "
                            "(a foreign key references a unique column)")  # fmt: skip
    return referenced


def _is_model_class(target: object) -> bool:
    """True for a class built by the model metaclass (declared, or waiting for a model it refers to)."""
    return isinstance(target, type) and hasattr(target, "__struct_fields__") and hasattr(target, "__djogi_model__")


_KEY_TYPES = {"SERIAL": "INTEGER", "BIGSERIAL": "BIGINT", "SMALLSERIAL": "SMALLINT"}


def _data_field(
    cls: type, own: Mapping[str, FieldDescriptor] | None, name: str, hint: Any, default: Any, default_factory: Any,
    partial: bool = False, *, view: bool = False,
) -> FieldDescriptor:  # fmt: skip
    model_name = cls.__name__
    where = (model_name, name)
    shape = _unwrap(hint)
    spec = shape.spec
    column = spec.column or name
    relation = shape.relation
    if relation is None and (spec.on_delete is not None or spec.deferrable or spec.initially_deferred):
        raise _fail(*where, "on_delete/deferrable apply to ForeignKey and OneToOne fields only")
    if relation is None and (spec.on_update is not None or spec.to_field is not None):
        raise _fail(*where, "on_update/to_field apply to ForeignKey and OneToOne fields only")
    if relation is None and spec.related_name is not None:
        raise _fail(*where, "related_name applies to ForeignKey and OneToOne fields only")
    if relation is not None:
        relation = msgspec.structs.replace(
            relation, on_delete=spec.on_delete or relation.on_delete, deferrable=spec.deferrable,
            initially_deferred=spec.initially_deferred, related_name=spec.related_name or relation.related_name,
            to_field=spec.to_field, on_update=spec.on_update,
        )  # fmt: skip
        if relation.on_delete == "set null" and not shape.nullable:
            raise _fail(*where, 'on_delete="set null" needs an optional field (ForeignKey[...] | None)')
    kind: FieldKind = "data"
    element_type = enum_type = None
    element_nullable = False
    if relation is not None:
        kind = "relation"
        column = spec.column or f"{name}_id"
        referenced = _relation_target(cls, own, relation, where, partial)
        value_kind: ValueKind = referenced.value_kind
        sql_type = _KEY_TYPES.get(referenced.sql_type.upper(), referenced.sql_type)
        python_type: Any = referenced.python_type
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
    problem = view_column_problem(column) if view else identifier_problem(column)
    if problem is not None:
        raise _fail(*where, f"column name {column!r} {problem}; pass field(column=...) to choose another column name")
    if value_kind == "datetime" and _TIMESTAMP_TYPE.fullmatch(sql_type):
        value_kind = "timestamp"  # a wall-clock datetime: naive values only
    max_length = _char_length(where, value_kind, sql_type, spec)
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
    if isinstance(default, dt.datetime) and (default.tzinfo is None) != (value_kind == "timestamp"):
        raise _fail(*where, "aware datetime default for a TIMESTAMP (without time zone) field; use a naive "
                            "datetime" if value_kind == "timestamp" else
                            "naive datetime default; use a timezone-aware datetime (e.g. tzinfo=UTC)")  # fmt: skip
    unique = spec.unique or spec.idempotency_key or (relation is not None and relation.kind == "o2o")
    # A foreign key is indexed unless the field says index=False (or a unique constraint indexes it), as
    # in Django: joins, prefetches and cascading deletes then find the referencing rows without a scan.
    wanted = spec.index if spec.index is not None else relation is not None and not unique
    index: IndexMethod | None = None
    if wanted:
        index = "btree" if wanted is True else wanted
    db_default = _generation(where, spec, value_kind, shape.nullable)
    if spec.timestamp is not None:
        if value_kind != "datetime" or (shape.nullable and spec.timestamp == "created"):
            raise _fail(*where, f"timestamp={spec.timestamp!r} needs a datetime field stored as TIMESTAMPTZ (not "
                                "optional for 'created')")  # fmt: skip
        db_default = db_default or "now()"
    exposed = exposure(where, spec, relation=relation is not None, key=spec.primary_key)
    protected = protection(where, spec, value_kind=value_kind, key=spec.primary_key, relation=relation is not None)
    if protected is not None and protected.encrypt:
        value_kind, sql_type = "encrypted", ENCRYPTED_SQL_TYPE
    if spec.generated is not None or spec.virtual:
        _check_generated(where, spec, value_kind, db_default, relation is not None, default)
    if shape.domain is not None:
        _check_domain(where, shape.domain, shape.nullable, relation is not None or spec.sql_type is not None)
    if spec.collation is not None:
        problem = identifier_problem(spec.collation) if isinstance(spec.collation, str) else "must be a str"
        if problem is None and value_kind != "str":
            problem = f"applies to str fields, not {python_type!r}"
        if problem is not None:
            raise _fail(*where, f"collation={spec.collation!r} {problem}")
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
        db_default=db_default,
        identity=spec.identity,
        auto=spec.timestamp,
        collation=spec.collation,
        domain=shape.domain,
        generated=spec.generated if isinstance(spec.generated, str) else None,  # a document: _documents()
        virtual=spec.virtual,
        unique=unique,
        index=index,
        max_length=max_length,
        check=spec.check,
        comment=spec.comment,
        renamed_from=spec.renamed_from,
        version=spec.version,
        element_type=element_type,
        element_nullable=element_nullable,
        enum_type=enum_type,
        relation=relation,
        outbox_exclude=spec.outbox_exclude,
        exposure=exposed,
        protected=protected,
        actor=spec.actor,
        sequence_within=spec.sequence_within,
        idempotency_key=spec.idempotency_key,
    )


def _check_generated(where: tuple[str, str], spec: FieldSpec, value_kind: ValueKind, db_default: str | None,
                     relation: bool, default: Any) -> None:  # fmt: skip
    """Refuse a generated column that cannot be created as declared, or whose field would be written."""
    if spec.generated is None:
        raise _fail(*where, "virtual=True applies to generated columns: field(generated=..., virtual=True)")
    if isinstance(spec.generated, TsVectorOf):
        problem = document_problem(spec.generated, value_kind)
    elif (problem := expression_problem(spec.generated)) is not None:
        problem = f"generated={spec.generated!r} {problem}"
    if problem is not None:
        raise _fail(*where, problem)
    taken = [o for o, v in (("db_default/sequence", db_default), ("identity", spec.identity),
                            ("timestamp", spec.timestamp)) if v is not None]  # fmt: skip
    if taken or spec.primary_key or spec.version or relation:
        raise _fail(*where, "a generated column is computed from its row: it cannot also be a key, a relation, a "
                            f"version or have {' / '.join(taken) or 'another filler'}")  # fmt: skip
    if default is not UNSET:
        raise _fail(*where, "a generated column is filled by the database: declare it "
                            "Field[T | msgspec.UnsetType] = field(generated=..., default=msgspec.UNSET)")


def _documents(model: str, ordered: list[FieldDescriptor], hints: Mapping[str, Any]) -> list[FieldDescriptor]:
    """``ordered`` with each ``generated=tsvector_of(...)`` field's generation expression, over the model's
    columns (``ModelDefinitionError`` for a name that is not one of its text fields)."""
    out = []
    for fd in ordered:
        doc = _unwrap(hints[fd.name]).spec.generated if fd.name in hints else None
        if isinstance(doc, TsVectorOf):
            fd = msgspec.structs.replace(fd, generated=document_sql(model, fd.name, doc, ordered))
        out.append(fd)
    return out


def _check_domain(where: tuple[str, str], domain: Domain, nullable: bool, retyped: bool) -> None:
    """Refuse a ``Domain`` that cannot be created as declared, or a field it cannot type."""
    problem = identifier_problem(domain.name) if isinstance(domain.name, str) else "must be a str"
    if problem is not None:
        raise _fail(*where, f"domain name {domain.name!r} {problem}")
    checks = [("base", domain.base, type_problem), ("default", domain.default, expression_problem)]
    checks += [(f"check {c.name}", c.expression, expression_problem) for c in domain.checks]
    for what, value, problem_of in checks:
        problem = None if value is None else problem_of(value)
        if problem is not None:
            raise _fail(*where, f"domain {domain.name}: {what}={value!r} {problem}")
    names = [c.name for c in domain.checks]
    for name in names:
        problem = identifier_problem(name) or ("is declared twice" if names.count(name) > 1 else None)
        if problem is not None:
            raise _fail(*where, f"domain {domain.name}: check name {name!r} {problem}")
    if domain.not_null and nullable:
        raise _fail(*where, f"domain {domain.name} is NOT NULL; the field cannot be optional")
    if retyped:
        raise _fail(*where, f"domain {domain.name} types the column; drop sql_type= (and a relation's column "
                            "takes its target's type)")  # fmt: skip


def _char_length(where: tuple[str, str], value_kind: ValueKind, sql_type: str, spec: FieldSpec) -> int | None:
    """The length limit of a ``str`` field: ``max_length``, or the ``n`` of a ``CHAR(n)`` column (whose values
    are checked to read back as written: PostgreSQL pads them with spaces, djogi strips the padding on read)."""
    fixed = _CHAR_TYPE.fullmatch(sql_type)
    if fixed is None:
        return spec.max_length
    if value_kind != "str":
        raise _fail(*where, f"a {sql_type} column holds str values")
    if fixed.group(1) is None or spec.max_length is not None:
        raise _fail(*where, "declare a fixed-length column with its length and no max_length: "
                            "field(sql_type='CHAR(n)')")  # fmt: skip
    return int(fixed.group(1))


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
    if not isinstance(spec.outbox_exclude, bool):
        raise _fail(*where, f"outbox_exclude must be True or False, not {spec.outbox_exclude!r}")
    if spec.renamed_from is not None and identifier_problem(str(spec.renamed_from)) is not None:
        raise _fail(*where, f"renamed_from={spec.renamed_from!r} {identifier_problem(str(spec.renamed_from))}")
    related = spec.related_name
    if related is not None and not (isinstance(related, str) and related.isidentifier()
                                    and not keyword.iskeyword(related)):  # fmt: skip
        raise _fail(*where, f"related_name={related!r} must be a Python identifier (it names an attribute)")


def _generation(where: tuple[str, str], spec: FieldSpec, value_kind: ValueKind, nullable: bool) -> str | None:
    """The column default of a field: ``db_default``, or ``nextval('<sequence>'::regclass)`` for
    ``sequence=``; ``ModelDefinitionError`` for key generation on a field that cannot hold it."""
    given = [o for o, v in (("identity", spec.identity), ("sequence", spec.sequence), ("db_default", spec.db_default))
             if v is not None]  # fmt: skip
    if len(given) > 1:
        raise _fail(*where, f"{' and '.join(given)} both fill the column; choose one")
    if spec.identity is not None and spec.identity not in ("by default", "always"):
        raise _fail(*where, f"identity={spec.identity!r}: use 'by default' or 'always'")
    if (spec.identity is not None or spec.sequence is not None) and (value_kind != "int" or nullable):
        raise _fail(*where, "identity/sequence fill a non-optional int field")
    if spec.sequence is None:
        return spec.db_default
    problem = identifier_problem(spec.sequence) if isinstance(spec.sequence, str) else "must be a str"
    if problem is not None:
        raise _fail(*where, f"sequence={spec.sequence!r} {problem}")
    return f"nextval('{spec.sequence}'::regclass)"


_STAMPS: tuple[tuple[str, Timestamp], ...] = (("created_at", "created"), ("updated_at", "updated"))


def _framework_fields(pk: PrimaryKey, names: tuple[str, ...]) -> tuple[FieldDescriptor, ...]:
    """The framework fields ``names`` (``id`` typed by ``pk``, the ``created_at``/``updated_at`` timestamps)."""
    pk_kind = "heerid" if pk.python_type in KEY_TYPES else _SCALARS[pk.python_type][0]
    key = FieldDescriptor(
        name="id", column="id", python_type=pk.python_type, value_kind=pk_kind, sql_type=pk.sql_type,
        nullable=False, kind="pk", has_default=True, default=UNSET, db_default=pk.default_sql,
        identity="by default" if pk.identity else None,
    )  # fmt: skip
    stamps = {
        name: FieldDescriptor(
            name=name, column=name, python_type=dt.datetime, value_kind="datetime", sql_type="TIMESTAMPTZ",
            nullable=False, kind="framework", has_default=True, default=UNSET, db_default="now()", auto=auto,
        )
        for name, auto in _STAMPS
    }
    return tuple(key if name == "id" else stamps[name] for name in names)


def field_specs(hint: Any) -> list[FieldSpec]:
    """The ``field(...)`` options found in an annotation's ``Annotated`` layers."""
    return [shape.spec] if (shape := _unwrap(hint)).spec is not _NO_SPEC else []


def _type_hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of the class's struct fields (``ClassVar`` declarations are left alone: a
    ``ClassVar[Reverse[Book]]`` may name a model declared later). Besides each declaring module's globals, a
    string annotation may name the model itself or any registered model the module does not shadow (models
    declared inside functions); ``Unresolved`` for a name not declared yet (a model further down the module)."""
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
        except NameError as exc:  # a model declared further down the module: wait for it
            if exc.name is None:
                raise ModelDefinitionError(f"{cls.__name__}: cannot resolve annotation ({exc})") from None
            raise Unresolved(exc.name) from None
    return hints


def _written(cls: type, attr: str) -> object:
    """The annotation of ``attr`` as the class body wrote it."""
    for klass in cls.__mro__:
        found = inspect.get_annotations(klass)
        if attr in found:
            return found[attr]
    return None


def build_descriptor(
    cls: type, options: Mapping[str, Any], framework: tuple[str, ...] = FRAMEWORK_FIELDS, *, partial: bool = False
) -> ModelDescriptor:
    """The descriptor of the model class ``cls`` declared with ``options`` (``table=`` and the rest), with
    the framework fields ``framework`` added to it; ``ModelDefinitionError`` naming the model and field for
    a declaration djogi cannot store exactly, ``Unresolved`` when a relation's target is not declared yet.
    ``partial``: leave out the relations whose target is not declared yet (a preview for references)."""
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
    for option in ("timestamps", "managed"):
        if not isinstance(options.get(option, True), bool):
            raise ModelDefinitionError(f"{name}: {option} must be True or False, not {options[option]!r}")
    if "pk" in options and "id" not in framework:
        raise ModelDefinitionError(
            f"{name}: the key kind (Model[K], pk=) chooses the kind of the generated id, but the model declares its "
            f"own key; declare it class {name}(Model, ...) and fill a "
            "declared key with field(identity=...), field(sequence=...) or field(db_default=...)"
        )
    view = view_option(name, dict(options))
    hints = _type_hints(cls)
    defaults = _struct_defaults(cls)
    own_order = [n for n in _declaration_order(cls) if n in defaults and n not in framework]
    specs = declared_specs(cls)
    for field_name in own_order:
        problem = declaration_problem(name, field_name, hints[field_name], _written(cls, field_name))
        if problem is not None:
            raise ModelDefinitionError(problem)
        if field_name in specs:
            hints[field_name] = Annotated[hints[field_name], specs[field_name]]
    fields = {fd.name: fd for fd in _framework_fields(pk, framework)}
    later = []
    for field_name in own_order:
        relation = _unwrap(hints[field_name]).relation
        if relation is not None and (relation.target is cls or relation.target == name):
            later.append(field_name)  # a self-reference: built once the key is known
        else:
            try:
                fields[field_name] = _data_field(cls, None, field_name, hints[field_name], *defaults[field_name],
                                                 partial=partial, view=view is not None)  # fmt: skip
            except Unresolved:
                if not partial:
                    raise
                own_order.remove(field_name)
    key = _key_names(name, options, hints, own_order, fields, view=view is not None)
    fields.update({k: msgspec.structs.replace(fields[k], kind="pk") for k in key if k in fields})
    for field_name in later:
        fields[field_name] = _data_field(cls, fields, field_name, hints[field_name], *defaults[field_name],
                                         view=view is not None)  # fmt: skip
    if key and key[0] in later:
        fields[key[0]] = msgspec.structs.replace(fields[key[0]], kind="pk")
    ordered = _documents(name, [fields[n] for n in (*framework, *own_order)], hints)
    for fd in ordered:
        if fd.index is not None or fd.unique:
            _indexable(name, fd)
    _check_key(name, [fields[k] for k in key])
    seen: dict[str, str] = {}
    for fd in ordered:
        if fd.column in seen:
            raise _fail(name, fd.name, f"column {fd.column!r} is also used by field {seen[fd.column]!r}")
        seen[fd.column] = fd.name
    if sum(fd.version for fd in ordered) > 1:
        raise ModelDefinitionError(f"{name}: at most one field may be marked version=True")
    if sum(fd.auto == "updated" for fd in ordered) > 1 or sum(fd.auto == "created" for fd in ordered) > 1:
        raise ModelDefinitionError(f"{name}: at most one field each may be timestamp='created' / 'updated'")
    indexes = tuple(_normalise_index(name, table, idx, ordered) for idx in options.get("indexes", ()))
    indexes += tuple(
        _normalise_index(name, table, Index(columns=tuple(cols), unique=True), ordered)
        for cols in options.get("unique_together", ())
    )
    tenant_key = _tenant_key(name, options.get("tenant_key"), ordered)
    checks = _checks(name, options.get("checks", ()))
    foreign_keys = _foreign_keys(name, table, options.get("foreign_keys", ()), ordered)
    soft_delete, numbering = check_composition(name, ordered, options.get("soft_delete"))
    indexes += tuple(_normalise_index(name, table, idx, ordered) for idx in numbering)
    through = options.get("through")
    if through is not None and sum(fd.relation is not None for fd in ordered) < 2:
        raise ModelDefinitionError(f"{name}: a through model needs at least two ForeignKey fields")
    partition_by, partitions = _partitioning(name, options.get("partition_by"), options.get("partitions", ()),
                                             ordered, [fields[k] for k in key], indexes)  # fmt: skip
    if view is not None:
        ordered = _check_view(name, view, options["view"].output, ordered, indexes)
    return ModelDescriptor(
        model=cls,
        name=name,
        table=table,
        app=options.get("app"),
        database=options.get("database", "main"),
        pk=pk if key == ("id",) and "id" in framework else _declared_pk(fields, key),
        fields=tuple(ordered),
        indexes=indexes,
        comment=options.get("comment"),
        through=tuple(through) if through is not None else None,
        renamed_from=options.get("renamed_from"),
        partition_by=partition_by,
        partitions=partitions,
        primary_key=key,
        managed=options.get("managed", True),
        checks=checks,
        foreign_keys=foreign_keys,
        tenant_key=tenant_key,
        outbox=_outbox(name, options, key, ordered),
        audit=audit_option(name, options.get("audit"), ordered, key, tenant_key),
        soft_delete=soft_delete,
        view=view,
    )


def _checks(model: str, given: Any) -> tuple[Check, ...]:
    """The ``checks=`` option checked: ``Check`` values with distinct names and one SQL expression each."""
    if not isinstance(given, tuple | list) or not all(isinstance(c, Check) for c in given):
        raise ModelDefinitionError(f"{model}: checks must be a tuple of Check(name=..., expression=...) values")
    seen: set[str] = set()
    for check in given:
        problem = identifier_problem(check.name) if isinstance(check.name, str) else "must be a str"
        problem = problem or ("is declared twice" if check.name in seen else None)
        if problem is not None:
            raise ModelDefinitionError(f"{model}: check name {check.name!r} {problem}")
        seen.add(check.name)
        problem = expression_problem(check.expression)
        if problem is not None:
            raise ModelDefinitionError(f"{model}: check {check.name}: expression={check.expression!r} {problem}")
    return tuple(sorted(given, key=lambda c: c.name))


_ACTIONS = ("cascade", "restrict", "set null", "set default", "no action")


def _foreign_keys(model: str, table: str, given: Any, fields: list[FieldDescriptor]) -> tuple[CompositeForeignKey, ...]:
    """The ``foreign_keys=`` option checked: each over two or more distinct fields of the model, as many
    ``to_fields`` (names of the target's fields, checked when migrations project the target), valid actions
    (``"set null"`` needs optional fields), and a distinct constraint name (derived when not given)."""
    if not isinstance(given, tuple | list) or not all(isinstance(f, CompositeForeignKey) for f in given):
        raise ModelDefinitionError(f"{model}: foreign_keys must be a tuple of CompositeForeignKey(...) values")
    by_name = {fd.name: fd for fd in fields}
    out: dict[str, CompositeForeignKey] = {}
    for fk in given:
        own, to = tuple(fk.fields), tuple(fk.to_fields)
        where = f"{model}: foreign key over {own!r}"
        if len(own) < 2 or len(set(own)) != len(own) or not all(isinstance(f, str) and f in by_name for f in own):
            raise ModelDefinitionError(f"{where}: fields must name two or more distinct fields of the model (one "
                                       "field: declare it ForeignKey[...])")  # fmt: skip
        if len(to) != len(own) or not all(isinstance(f, str) for f in to):
            raise ModelDefinitionError(f"{where}: to_fields must name as many fields of the target, not {to!r}")
        if fk.on_delete not in _ACTIONS or fk.on_update not in (None, *_ACTIONS):
            raise ModelDefinitionError(f"{where}: on_delete/on_update take one of {_ACTIONS}")
        if "set null" in (fk.on_delete, fk.on_update) and not all(by_name[f].nullable for f in own):
            raise ModelDefinitionError(f'{where}: "set null" needs every field optional')
        name = fk.name or derived_name(table, tuple(by_name[f].column for f in own), "fkey")
        problem = identifier_problem(name) if isinstance(name, str) else "must be a str"
        problem = problem or ("is used twice" if name in out else None)
        if problem is not None:
            raise ModelDefinitionError(f"{where}: constraint name {name!r} {problem}")
        out[name] = msgspec.structs.replace(fk, fields=own, to_fields=to, name=name)
    return tuple(out[n] for n in sorted(out))


def _partitioning(
    model: str, by: Any, partitions: Any, fields: list[FieldDescriptor], key_fields: list[FieldDescriptor],
    indexes: tuple[Index, ...],
) -> tuple[PartitionBy | None, tuple[Partition, ...]]:
    """``partition_by=`` with its key fields as columns, and ``partitions=`` checked against it.

    PostgreSQL requires the primary key and every unique index of a partitioned table to contain the
    partition key, so the key fields must be the primary key's (``id``), ``field(unique=True)`` is
    refused (its constraint would not contain the key) and a unique ``Index`` must name the key fields.
    ``key_fields`` are the primary key's."""
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
    pk_names = tuple(fd.name for fd in key_fields)
    if not set(key) <= {fd.column for fd in key_fields}:
        raise ModelDefinitionError(
            f"{model}: partition_by={by.method}{by.fields}: the partition key must be part of the primary key "
            f"{pk_names}, since PostgreSQL requires the primary key to contain it"
        )  # fmt: skip
    if by.method == "list" and len(key) != 1:
        raise ModelDefinitionError(f"{model}: a list partition key has one field")
    for fd in fields:
        if fd.unique:
            raise ModelDefinitionError(f"{model}.{fd.name}: unique=True on a partitioned table: its constraint "
                                       "would not contain the partition key; declare Index(columns="
                                       f"({', '.join(map(repr, (*pk_names, fd.name)))}), unique=True) "
                                       "instead")  # fmt: skip
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


def _key_names(
    model: str, options: Mapping[str, Any], hints: Mapping[str, Any], own: list[str],
    fields: Mapping[str, FieldDescriptor], *, view: bool = False,
) -> tuple[str, ...]:  # fmt: skip
    """The key's field names: the ``primary_key=`` option (a name or a tuple of names), else the field
    declared ``field(primary_key=True)``, else ``id`` (none for a view model)."""
    flagged = [n for n in own if _unwrap(hints[n]).spec.primary_key]
    if "primary_key" not in options:
        if len(flagged) > 1:
            raise ModelDefinitionError(
                f"{model}: fields {flagged} are each marked primary_key=True; declare a composite key with the "
                f"model option primary_key={tuple(flagged)!r}"
            )
        return (flagged[0],) if flagged else () if view else ("id",)
    given = options["primary_key"]
    key = (given,) if isinstance(given, str) else given
    if not isinstance(key, tuple | list) or not key or not all(isinstance(k, str) for k in key):
        raise ModelDefinitionError(f"{model}: primary_key must be a field name or a tuple of them, not {given!r}")
    key = tuple(key)
    unknown = [k for k in key if k not in own]
    if unknown or len(set(key)) != len(key):
        raise ModelDefinitionError(f"{model}: primary_key={key!r} must name distinct fields of the model "
                                   f"(unknown: {unknown})")  # fmt: skip
    stray = [n for n in flagged if n not in key]
    if stray:
        raise ModelDefinitionError(f"{model}: fields {stray} are marked primary_key=True but primary_key={key!r}")
    return key


def _check_key(model: str, key: list[FieldDescriptor]) -> None:
    """Refuse key fields that cannot be a primary key (optional, JSON, arrays)."""
    for fd in key:
        if fd.nullable:
            raise _fail(model, fd.name, "a primary-key field cannot be optional")
        if fd.value_kind in ("json", "jsonb", "array"):
            raise _fail(model, fd.name, f"a {fd.sql_type} field cannot be a primary key")


def _declared_pk(fields: Mapping[str, FieldDescriptor], key: tuple[str, ...]) -> PrimaryKey:
    """The ``PrimaryKey`` summary of a declared key: ``Serial`` (identity), ``Custom`` (a default),
    ``Assigned`` (the application supplies it) or ``Composite``."""
    if len(key) != 1:
        return PrimaryKey("Composite" if key else "None", tuple, ", ".join(fields[k].sql_type for k in key))
    fd = fields[key[0]]
    kind = "Serial" if fd.identity else "Custom" if fd.db_default is not None else "Assigned"
    return PrimaryKey(kind, fd.python_type, fd.sql_type, fd.db_default, identity=fd.identity is not None)


def _plain(python_type: Any) -> Any:
    """A type without ``NewType`` and ``Annotated`` wrappers (a ``HeerIdDesc`` column reads as ``int``)."""
    while True:
        if hasattr(python_type, "__supertype__"):
            python_type = python_type.__supertype__
        elif get_origin(python_type) is Annotated:
            python_type = get_args(python_type)[0]
        else:
            return python_type


_TABLE_ONLY_FIELD = ("unique", "index", "check", "db_default", "identity", "generated", "auto", "version", "actor",
                     "sequence_within", "idempotency_key", "renamed_from", "comment", "domain")  # fmt: skip


def _check_view(model: str, view: ViewDef, output: tuple[tuple[str, Any, bool], ...], fields: list[FieldDescriptor],
                indexes: tuple[Index, ...]) -> list[FieldDescriptor]:  # fmt: skip
    """A view model's fields declare columns of the view, not of a table: column options that only a table
    can have are refused; a view compiled from a query value must have the query's output columns, with
    the same types (``output``; empty for ``djogi.sql``, whose columns verify compares with the catalog).
    Returns the fields, a relation's own index (a table's foreign key gets one) dropped."""
    fields = [msgspec.structs.replace(fd, index=None) if fd.relation is not None else fd for fd in fields]
    for fd in fields:
        declared = next((o for o in _TABLE_ONLY_FIELD if getattr(fd, o) not in (None, False)), None)
        if declared is not None:
            raise _fail(model, fd.name, f"field({declared}=...) declares a table column; a view model's columns "
                                        "come from its query")  # fmt: skip
    if indexes and not view.materialized:
        raise ModelDefinitionError(f"{model}: indexes= applies to a materialized view (materialized=True)")
    if not output:
        return fields
    have = [(fd.column, fd.python_type, fd.nullable) for fd in fields]
    want = [(name, python_type, nullable) for name, python_type, nullable in output]
    if [c for c, _, _ in have] != [c for c, _, _ in want]:
        raise ModelDefinitionError(
            f"{model}: the view's query returns the columns {[c for c, _, _ in want]}, but the model declares "
            f"{[c for c, _, _ in have]}; declare one field per output column, in that order"
        )
    for (column, python_type, nullable), (_, got, got_nullable) in zip(have, want, strict=True):
        if _plain(got) is not _plain(python_type) and got is not Any:
            shown = getattr(got, "__name__", repr(got))
            raise _fail(model, column, f"the view's query returns {shown} for it, but the field is "
                                       f"{getattr(python_type, '__name__', python_type)}")  # fmt: skip
        if got_nullable and not nullable:
            raise _fail(model, column, "the view's query may return NULL for it; declare it optional (| None)")
    return fields


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


def _outbox(model: str, options: Mapping[str, Any], key: tuple[str, ...], fields: list[FieldDescriptor]) -> bool:
    """The ``outbox=`` option checked: a bool, on a migrated model with a one-column key; a field's
    ``outbox_exclude=True`` needs it (an exclusion from no payload would be silently ignored)."""
    outbox = options.get("outbox", False)
    if not isinstance(outbox, bool):
        raise ModelDefinitionError(f"{model}: outbox must be True or False, not {outbox!r}")
    excluded = [fd.name for fd in fields if fd.outbox_exclude]
    if not outbox:
        if excluded:
            raise ModelDefinitionError(f"{model}.{excluded[0]}: outbox_exclude=True needs the model option "
                                       "outbox=True (there are no event payloads to leave it out of)")  # fmt: skip
        return False
    if len(key) != 1:
        raise ModelDefinitionError(f"{model}: outbox=True needs a one-column primary key (event rows name the row "
                                   f"by it), not {key or 'none'}")  # fmt: skip
    if not options.get("managed", True):
        raise ModelDefinitionError(f"{model}: outbox=True needs a migrated model (managed=False): the events "
                                   "come from a trigger that migrations create")  # fmt: skip
    return True


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


def _indexable(model: str, fd: FieldDescriptor) -> None:
    """Refuse an index over a VIRTUAL generated column (PostgreSQL 18 cannot index one)."""
    if fd.virtual:
        raise _fail(model, fd.name, "PostgreSQL cannot index a VIRTUAL generated column; drop virtual=True (a "
                                    "STORED generated column can be indexed)")  # fmt: skip


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
            _indexable(model, by_name[key.name])
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
        _indexable(model, by_name[covered])
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
