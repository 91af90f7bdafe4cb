"""``ModelBase``: the schema's view of a model class, and the metaclass that builds and registers it.

``class Author(ModelBase, table="authors")`` reads the annotations once, builds the ``ModelDescriptor`` and
registers it. Users subclass ``djogi.Model`` (which adds class-level column references on top of this);
the algebra and the codecs know models only as ``ModelBase`` subclasses and through their descriptors.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Union

import msgspec
from msgspec import UNSET, UnsetType

from djogi.errors import ModelDefinitionError
from djogi.hooks import declared_hooks
from djogi.redact import conceal_repr
from djogi.schema.build import Unresolved, build_descriptor, field_specs
from djogi.schema.declare import check_declared_reverses, declared_reverses, key_option, take_specifiers
from djogi.schema.exposure import protected_fields
from djogi.schema.registry import models, register, wait_for
from djogi.types import HEERID_DESC_PK, resolve_pk
from djogi.vectorcall import inherit_vectorcall

__all__ = ["MODEL_OPTIONS", "ModelBase", "SchemaMeta"]

MODEL_OPTIONS = (
    "table", "app", "pk", "indexes", "unique_together", "database", "comment", "through", "renamed_from",
    "partition_by", "partitions",
    "primary_key", "timestamps", "managed", "tenant_key", "outbox", "audit", "checks", "foreign_keys", "soft_delete",
    "view", "materialized", "with_data",
)  # fmt: skip
"""The class keywords a model declaration takes besides msgspec's own."""


class SchemaMeta(msgspec.StructMeta):
    """Metaclass of ``ModelBase``: takes the model options, builds and registers the descriptor.

    Model options without ``table=`` raise ``ModelDefinitionError``. Classes are frozen, keyword-only and
    not tracked by the cyclic GC unless they say otherwise; ``= field(...)`` values, the ``Model[K]`` key
    kind and ``ClassVar[Reverse[...]]`` declarations are read here (``djogi.schema.declare``), the lifecycle
    hooks the class defines into ``__djogi_hooks__`` (``djogi.hooks``).
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
        framework: tuple[str, ...] = ()
        if "table" in options:
            framework = _add_framework_fields(namespace, bases, options)
        try:
            cls = super().__new__(mcls, name, bases, namespace, **kwargs)
        except TypeError as exc:  # msgspec's: an unknown class keyword, a bad Struct option
            raise ModelDefinitionError(f"{name}: {exc}") from None
        type.__setattr__(cls, "__djogi_hooks__", declared_hooks(cls))
        if "table" in options:
            type.__setattr__(cls, "__djogi_framework__", framework)
            register_model(cls, options, framework)
        elif options:
            raise ModelDefinitionError(f"{name}: model options {sorted(options)} need table=... as well")
        return cls


def register_model(cls: type, options: Mapping[str, Any], framework: tuple[str, ...]) -> None:
    """Build and register ``cls``'s descriptor; when a relation names a model not declared yet, register it
    as soon as that model is (``djogi.descriptor(cls)`` raises ``ModelDefinitionError`` until then)."""
    try:
        desc = build_descriptor(cls, options, framework)
    except Unresolved as missing:
        wait_for(cls, missing.name, lambda: register_model(cls, options, framework),
                 lambda: build_descriptor(cls, options, framework, partial=True))  # fmt: skip
        return
    check_declared_reverses(desc)
    conceal_repr(cls, protected_fields(desc.fields))
    register(desc)


def _add_framework_fields(
    namespace: dict[str, Any], bases: tuple[type, ...], options: Mapping[str, Any]
) -> tuple[str, ...]:
    """Declare the framework fields the model gets, first: ``id`` (typed as its key's value,
    ``HeerIdDesc | UnsetType``...) unless the model declares its own key (a field named ``id``, a field with
    ``field(primary_key=True)`` or the ``primary_key=`` option), and ``created_at``/``updated_at`` unless
    ``timestamps=False`` (none for a view model); a model derived from another model has that model's.
    Returns their names (an unresolvable ``pk=`` is reported by the descriptor)."""
    own: dict[str, Any] = namespace.get("__annotations__", {})
    if "view" in options:  # a view model's columns are the view's: none is added
        return ()
    for base in bases:  # a model derived from a model keeps its key and timestamps
        parent: tuple[str, ...] | None = getattr(base, "__djogi_framework__", None)
        if parent is not None:
            return parent
    inherited = {name for base in bases for name in getattr(base, "__struct_fields__", ())}
    added: dict[str, Any] = {}
    if not _declares_key(own, namespace, options) and "id" not in inherited:
        try:
            pk = resolve_pk(options.get("pk", HEERID_DESC_PK))
        except TypeError:
            pk = HEERID_DESC_PK
        added["id"] = Union[pk.python_type, UnsetType]  # noqa: UP007
    if options.get("timestamps", True) is not False:
        for stamp in ("created_at", "updated_at"):
            if stamp not in own and stamp not in inherited:
                added[stamp] = Union[dt.datetime, UnsetType]  # noqa: UP007
    namespace["__annotations__"] = {**added, **own}
    for name in added:
        namespace[name] = UNSET
    return tuple(added)


def _declares_key(annotations: Mapping[str, Any], namespace: Mapping[str, Any], options: Mapping[str, Any]) -> bool:
    """True when the class body declares its key: ``primary_key=``, a field ``id`` or ``field(primary_key=True)``
    (the ``= field(...)`` values ``take_specifiers`` recorded; in an ``Annotated`` annotation too, which the
    descriptor then refuses with the declaration to write: a string annotation is evaluated in the module's
    namespace, one that does not evaluate yet declares none)."""
    if "primary_key" in options or "id" in annotations:
        return True
    if any(spec.primary_key for spec in namespace.get("__djogi_specs__", {}).values()):
        return True
    module = sys.modules.get(str(namespace.get("__module__")))
    scope = {**(vars(module) if module is not None else {}), **{d.name: d.model for d in models()}}
    for hint in annotations.values():
        if isinstance(hint, str):
            try:
                hint = eval(hint, scope)  # the class's own annotation, as get_type_hints does
            except Exception:  # a name declared later: resolved with the class, never a key marker
                continue
        if any(getattr(spec, "primary_key", False) is True for spec in field_specs(hint)):
            return True
    return False


inherit_vectorcall(SchemaMeta, msgspec.StructMeta)  # 3x faster Book(...) on Python 3.11


class ModelBase(msgspec.Struct, metaclass=SchemaMeta):
    """The base every model class derives from (through ``djogi.Model``), as the schema layer sees it.

    Each model class gets the framework fields ``id``, ``created_at`` and ``updated_at`` it uses (see
    ``_add_framework_fields``); the database fills them and they are ``msgspec.UNSET`` on an instance that
    was never saved. Instances are not tracked by the cyclic garbage collector (``gc=False``: cheaper to
    create); a model instance must not be stored inside its own list field.
    """

    if TYPE_CHECKING:  # frozen at run time (SchemaMeta), hence hashable; type checkers see Model's fields

        def __hash__(self) -> int: ...
