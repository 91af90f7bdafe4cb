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

    Each model class declaring a table gets its own metaclass (a subclass of this one) holding a
    ``property`` per field name and ``objects``: a metaclass data descriptor is found before the class's own
    field descriptor, so ``Book.title`` costs one C-level dict lookup once cached (see ``_ClassAttribute``; a
    Python ``__getattribute__`` on the metaclass cost a Python call per class attribute read, 3x slower).
    An abstract base keeps the metaclass it is created with, so several of them combine as bases, as
    before; two table models still cannot (their layouts conflict in msgspec; Python now says so first, as
    a metaclass conflict). Type checkers see the model's fields through their descriptor types
    (``djogi.fields``) instead, so an unknown class attribute is an error.
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
            tabled = "table" in kwargs  # an abstract base (a mixin of fields or hooks) keeps the metaclass called
            own = _own_metaclass(name, (mcls, *map(type, bases)), namespace.get("__module__")) if tabled else mcls
            cls = super().__new__(own, name, bases, namespace, **kwargs)
            if tabled:
                for attribute in (*cls.__struct_fields__, "objects"):
                    if attribute[0] != "_":
                        setattr(own, attribute, property(_ClassAttribute(attribute).__getitem__))
            return cls

        def __getattr__(cls, name):
            if name[0] == "_" or registered(cls) is None:
                raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")
            found = reverse_accessor(cls, name)  # Author.books: the reverse of Book.author
            if found is not None:
                return found
            declared = type.__getattribute__(cls, "__djogi_reverses__").get(name)
            if declared is not None:
                raise ModelDefinitionError(
                    f"{cls.__name__}.{name}: declared ClassVar[Reverse[{declared}]], but {declared} is not a "
                    f"declared model with a relation to {cls.__name__} whose reverse accessor is {name!r}"
                )
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


def _own_metaclass(name: str, metas: tuple[type, ...], module: str | None) -> type:
    """A new metaclass for the model class ``name``, deriving from the most derived of ``metas`` (the
    metaclass called and its bases' metaclasses; several when bases are sibling models), as Python's own
    choice of a class's metaclass would."""
    ours = [m for m in dict.fromkeys(metas) if issubclass(m, ModelMeta)]
    leaves = tuple(m for m in ours if not any(o is not m and issubclass(o, m) for o in ours))
    own = type(f"{name}Meta", leaves, {"__module__": module or ModelMeta.__module__})
    inherit_vectorcall(own, msgspec.StructMeta)
    return own


class _ClassAttribute(dict[Any, Any]):
    """``cls.<name>`` by class, for a field name or ``objects``: the fast path of the ``property`` over its
    ``__getitem__`` on a model's own metaclass (see ``ModelMeta``), a C-level lookup once cached. A miss
    (the first read, or a class sharing the metaclass: a subclass declaring no table) resolves in Python:
    the column reference or ``select(cls)`` of a registered model, cached; else what the class itself holds
    (msgspec's field descriptor), not cached, as the class may be registered later."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, cls: Any) -> Any:
        name = self.name
        desc = registered(cls)
        if desc is not None and (name == "objects" or any(fd.name == name for fd in desc.fields)):
            found = self[cls] = select(cls) if name == "objects" else column_ref(cls, desc.field(name))
            return found
        for klass in cls.__mro__:
            if name in vars(klass):
                held = vars(klass)[name]
                get = getattr(type(held), "__get__", None)
                return held if get is None else get(held, None, cls)
        raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")


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

    __djogi_model__: ClassVar[bool] = True  # what the schema layer recognizes a model class by
    if TYPE_CHECKING:
        id: Key = _UNSET
        created_at: Stamp = _UNSET
        updated_at: Stamp = _UNSET
        objects: ClassVar[Objects]
        """``select(Model)``: ``Book.objects`` is a ``Select[Book]``."""
