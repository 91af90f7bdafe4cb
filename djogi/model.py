"""Models: frozen msgspec Structs that declare tables; at class level their fields are column references.

``class Author(Model, table="authors")`` declares a table: the schema layer (``djogi.schema``) reads the
annotations once, builds an immutable ``ModelDescriptor`` (the schema contract read by queries, codecs,
migrations, docs and the CLI) and registers it. Bad declarations raise ``ModelDefinitionError`` naming the
model and field. ``Model`` adds the query side on top: at class level ``Author.name`` is a column reference
for the algebra (on an instance it is the value), ``Author.objects`` is ``select(Author)`` and an unknown
name may be a reverse accessor (``Author.books``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, cast

import msgspec

from djogi.algebra.expr import column_ref
from djogi.algebra.query import Select, select
from djogi.algebra.relations import reverse_accessor
from djogi.schema import (
    FieldDescriptor,
    FieldSpec,
    Index,
    IndexColumn,
    ModelBase,
    ModelDescriptor,
    descriptor,
    field,
    models,
    registered,
    registry_scope,
)
from djogi.schema.base import SchemaMeta
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


class ModelMeta(SchemaMeta):
    """Metaclass of ``Model``: the schema's metaclass plus class-level access to the algebra.

    At class level, a field name resolves to a column reference (cached per class), ``objects`` to one
    cached ``select(Model)`` and an unknown name to the reverse accessor a relation declares, if any.
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> ModelMeta:
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        type.__setattr__(cls, "__djogi_columns__", {})
        return cast("ModelMeta", cls)

    def __getattribute__(cls, name: str) -> Any:
        if name[0] != "_":
            columns = type.__getattribute__(cls, "__djogi_columns__")
            found = columns.get(name)
            if found is not None:
                return found
            desc = registered(cls)
            if name == "objects" and desc is not None:
                everything = columns[name] = select(cast("type[Model]", cls))  # immutable: built once per model
                return everything
            if desc is not None and name in {fd.name for fd in desc.fields}:
                ref = columns[name] = column_ref(cast("type[Model]", cls), desc.field(name))
                return ref
        try:
            return type.__getattribute__(cls, name)
        except AttributeError:
            if name[0] == "_" or registered(cls) is None:
                raise
            found = reverse_accessor(cls, name)  # Author.books: the reverse of Book.author
            if found is None:
                raise
            return found


inherit_vectorcall(ModelMeta, msgspec.StructMeta)  # 3x faster Book(...) on Python 3.11


class Model(ModelBase, frozen=True, kw_only=True, gc=False, metaclass=ModelMeta):
    """Base of every model. Subclass with ``table=`` (and optionally ``app``, ``pk``, ``indexes``,
    ``unique_together``, ``database``, ``comment``, ``through``, ``renamed_from`` (the table's previous
    name, so migrations rename it instead of dropping and recreating it)).

    The framework fields ``id``, ``created_at`` and ``updated_at`` and the instance layout come from
    ``djogi.schema.ModelBase``.
    """

    __djogi_columns__: ClassVar[dict[str, Any]]
    if TYPE_CHECKING:
        objects: ClassVar[Select[Any]]
        """``select(Model)``; the mypy plugin types ``Book.objects`` as ``Select[Book]``."""
