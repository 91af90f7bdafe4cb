"""Models: frozen msgspec Structs that declare tables; at class level their fields are column references.

``class Author(Model, table="authors")`` declares a table: the schema layer (``djogi.schema``) reads the
annotations once, builds an immutable ``ModelDescriptor`` (the schema contract read by queries, codecs,
migrations, docs and the CLI) and registers it. Bad declarations raise ``ModelDefinitionError`` naming the
model and field. ``Model`` adds the query side on top: at class level ``Author.name`` is a column reference
for the algebra (on an instance it is the value), ``Author.objects`` is ``select(Author)`` and an unknown
name may be a reverse accessor (``Author.books``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, dataclass_transform

import msgspec

from djogi.algebra.expr import column_ref
from djogi.algebra.query import select
from djogi.algebra.relations import reverse_accessor
from djogi.errors import ModelDefinitionError
from djogi.fields import K, Keyed, field
from djogi.schema import (
    Audit,
    Check,
    CompositeForeignKey,
    Domain,
    FieldDescriptor,
    FieldSpec,
    Index,
    IndexColumn,
    ModelBase,
    ModelDescriptor,
    descriptor,
    models,
    registered,
    registry_scope,
)
from djogi.schema.base import SchemaMeta
from djogi.schema.views import ViewSql, sql
from djogi.vectorcall import inherit_vectorcall
from djogi.viewquery import view_sql

if TYPE_CHECKING:
    from djogi.algebra.query import Select
    from djogi.algebra.setops import SetOp
    from djogi.fields import Key, Objects, Stamp
    from djogi.schema import Partition, PartitionBy
    from djogi.types import PrimaryKey

    _MM = TypeVar("_MM", bound="ModelMeta")
    _UNSET: Any = msgspec.UNSET

__all__ = [
    "Audit",
    "Check",
    "CompositeForeignKey",
    "Domain",
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
    "sql",
]


@dataclass_transform(kw_only_default=True, frozen_default=False, eq_default=False, field_specifiers=(field,))
class ModelMeta(SchemaMeta):
    """Metaclass of ``Model``: the schema's metaclass plus class-level access to the algebra.

    At class level, a field name resolves to a column reference (cached per class), ``objects`` to one
    cached ``select(Model)`` and an unknown name to the reverse accessor a relation declares, if any (a
    declared ``ClassVar[Reverse[...]]`` that no relation provides raises ``ModelDefinitionError``).
    Type checkers see the model's fields through their descriptor types (``djogi.fields``) instead: no
    ``__getattribute__`` is visible to them, so an unknown class attribute is an error.
    """

    if TYPE_CHECKING:

        def __new__(
            mcls: type[_MM], name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, *,
            table: str = ..., app: str = ..., pk: PrimaryKey = ..., indexes: tuple[Index, ...] = ...,
            unique_together: tuple[tuple[str, ...], ...] = ..., database: str = ..., comment: str = ...,
            through: tuple[type[Any], type[Any]] = ..., renamed_from: str = ..., tenant_key: str = ...,
            partition_by: PartitionBy = ..., partitions: tuple[Partition, ...] = ...,
            primary_key: str | tuple[str, ...] = ..., timestamps: bool = ..., managed: bool = ..., outbox: bool = ...,
            audit: bool | Audit = ..., checks: tuple[Check, ...] = ...,
            foreign_keys: tuple[CompositeForeignKey, ...] = ..., soft_delete: str = ...,
            view: ViewSql | Select[Any] | SetOp[Any] = ..., materialized: bool = ..., with_data: bool = ...,
            frozen: bool = ..., kw_only: bool = ..., eq: bool = ..., gc: bool = ...,
        ) -> _MM: ...  # fmt: skip

    else:

        def __new__(mcls, name, bases, namespace, **kwargs):
            if "view" in kwargs:
                kwargs["view"] = view_sql(name, kwargs["view"])
            cls = super().__new__(mcls, name, bases, namespace, **kwargs)
            type.__setattr__(cls, "__djogi_columns__", {})
            return cls

        def __getattribute__(cls, name):
            if name[0] != "_":
                columns = type.__getattribute__(cls, "__djogi_columns__")
                found = columns.get(name)
                if found is not None:
                    return found
                desc = registered(cls)
                if name == "objects" and desc is not None:
                    everything = columns[name] = select(cls)  # immutable: built once per model
                    return everything
                if desc is not None and name in {fd.name for fd in desc.fields}:
                    ref = columns[name] = column_ref(cls, desc.field(name))
                    return ref
            try:
                return type.__getattribute__(cls, name)
            except AttributeError:
                if name[0] == "_" or registered(cls) is None:
                    raise
                found = reverse_accessor(cls, name)  # Author.books: the reverse of Book.author
                if found is not None:
                    return found
                declared = type.__getattribute__(cls, "__djogi_reverses__").get(name)
                if declared is not None:
                    raise ModelDefinitionError(
                        f"{cls.__name__}.{name}: declared ClassVar[Reverse[{declared}]], but {declared} is not a "
                        f"declared model with a relation to {cls.__name__} whose reverse accessor is {name!r}"
                    ) from None
                raise


inherit_vectorcall(ModelMeta, msgspec.StructMeta)  # 3x faster Book(...) on Python 3.11


@dataclass_transform(kw_only_default=True, frozen_default=False, eq_default=False, field_specifiers=(field,))
class Model(ModelBase, Keyed[K], metaclass=ModelMeta):
    """Base of every model. Subclass with ``table=`` (and optionally ``app``, ``pk`` (a ``custom_pk``),
    ``indexes``, ``unique_together``, ``database``, ``comment``, ``through``, ``renamed_from`` (the table's
    previous name, so migrations rename it instead of dropping and recreating it)).

    The key kind is the type argument: ``Model`` (``Model[HeerIdDesc]``), ``Model[HeerId]``,
    ``Model[RanjId]``, ``Model[RanjIdDesc]``, ``Model[Serial]``, or ``Model[T]`` with ``pk=custom_pk(T, ...)``.
    Code that takes any model writes ``Model[Any]``. The framework fields ``id``, ``created_at`` and
    ``updated_at`` and the instance layout come from ``djogi.schema.ModelBase``; instances are frozen.
    """

    __djogi_columns__: ClassVar[dict[str, Any]]
    if TYPE_CHECKING:
        id: Key = _UNSET
        created_at: Stamp = _UNSET
        updated_at: Stamp = _UNSET
        objects: ClassVar[Objects]
        """``select(Model)``: ``Book.objects`` is a ``Select[Book]``."""
