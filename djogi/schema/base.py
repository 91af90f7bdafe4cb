"""``ModelBase``: the schema's view of a model class, and the metaclass that builds and registers it.

``class Author(ModelBase, table="authors")`` reads the annotations once, builds the ``ModelDescriptor`` and
registers it. Users subclass ``djogi.Model`` (which adds class-level column references on top of this);
the algebra and the codecs know models only as ``ModelBase`` subclasses and through their descriptors.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

import msgspec
from msgspec import UNSET, UnsetType

from djogi.errors import ModelDefinitionError
from djogi.schema.build import build_descriptor
from djogi.schema.declare import check_declared_reverses, declared_reverses, key_option, take_specifiers
from djogi.schema.registry import register
from djogi.types import HEERID_DESC_PK, resolve_pk
from djogi.vectorcall import inherit_vectorcall

__all__ = ["MODEL_OPTIONS", "ModelBase", "SchemaMeta"]

MODEL_OPTIONS = (
    "table", "app", "pk", "indexes", "unique_together", "database", "comment", "through", "renamed_from",
    "partition_by", "partitions",
    "tenant_key",
)  # fmt: skip
"""The class keywords a model declaration takes besides msgspec's own."""


class SchemaMeta(msgspec.StructMeta):
    """Metaclass of ``ModelBase``: takes the model options, builds and registers the descriptor.

    Model options without ``table=`` raise ``ModelDefinitionError``. Classes are frozen, keyword-only and
    not tracked by the cyclic GC unless they say otherwise; ``= field(...)`` values, the ``Model[K]`` key
    kind and ``ClassVar[Reverse[...]]`` declarations are read here (``djogi.schema.declare``).
    """

    def __new__(
        mcls,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        **kwargs: Any,
    ) -> SchemaMeta:
        options = {key: kwargs.pop(key) for key in MODEL_OPTIONS if key in kwargs}
        for option, value in (("kw_only", True), ("frozen", True), ("gc", False)):
            kwargs.setdefault(option, value)
        take_specifiers(name, namespace)
        key_option(name, bases, namespace, options)
        namespace["__djogi_reverses__"] = declared_reverses(name, namespace)
        if "table" in options:
            _type_the_key(namespace, options)
        cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        if "table" in options:
            desc = build_descriptor(cls, options)
            check_declared_reverses(desc)
            register(desc)
        elif options:
            raise ModelDefinitionError(f"{name}: model options {sorted(options)} need table=... as well")
        return cls


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


inherit_vectorcall(SchemaMeta, msgspec.StructMeta)  # 3x faster Book(...) on Python 3.11


class ModelBase(msgspec.Struct, metaclass=SchemaMeta):
    """The base every model class derives from (through ``djogi.Model``), as the schema layer sees it.

    ``id``, ``created_at`` and ``updated_at`` are filled by the database and are ``msgspec.UNSET`` on
    an instance that was never saved. Instances are not tracked by the cyclic garbage collector
    (``gc=False``: cheaper to create); a model instance must not be stored inside its own list field.
    """

    if TYPE_CHECKING:  # frozen at run time (SchemaMeta), hence hashable; type checkers see Model's fields

        def __hash__(self) -> int: ...

    else:
        id: Any = UNSET
        created_at: dt.datetime | UnsetType = UNSET
        updated_at: dt.datetime | UnsetType = UNSET
