"""Visages: the shape of a model one audience may see, as a frozen msgspec Struct derived from the model.

``visage(Book, "public")`` is the Struct type ``BookPublic``: the model's keys and timestamps, then each
field whose ``field(expose=...)`` names the audience, in declaration order; every other field is internal
and absent. A relation appears as its key, as the target's visage of another audience, or as the whole
target model, as the field's exposure says. A protected field is presented as its redaction says
(``djogi.protect``): ``mask`` reads ``"[REDACTED]"``, ``drop`` leaves the field out, ``hash_id`` gives a keyed
hash (``djogi.visages.presentation``). Visages encode straight to JSON (``msgspec.json.encode``) and give their JSON
Schema (``msgspec.json.schema``).

A class may declare a visage for type checkers, ``class BookPublic(Visage[Book], audience="public")`` with
the fields written out; djogi checks the declaration against the model (``ModelDefinitionError`` on any
difference) and ``visage(Book, "public")`` returns it. A declared visage may add derived fields
(``djogi.visages.derived``).

``visage_query(BookPublic)`` is a ``Select[BookPublic]`` over the visage's columns only; ``to_visage(row,
BookPublic)`` converts a model instance (or a ``Loaded`` row, for nested relations) in memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast, dataclass_transform, get_args, get_origin

import msgspec

from djogi.algebra.conditional import case
from djogi.algebra.expr import Expr, Param, ValueType, column_ref, resolve_target
from djogi.algebra.query import Select, select
from djogi.errors import ModelDefinitionError, VisageError
from djogi.loaded import Loaded
from djogi.protect import AUDIENCES, MASK, Audience
from djogi.redact import conceal_repr
from djogi.schema import FieldDescriptor, ModelBase, descriptor
from djogi.schema.exposure import protected_fields
from djogi.visages.derived import Derived, derived_python
from djogi.visages.presentation import hash_id, hash_id_sql

__all__ = ["Visage", "to_visage", "visage", "visage_fields", "visage_query"]

M = TypeVar("M", bound=ModelBase)
V = TypeVar("V", bound="Visage[Any]")
_MASK_TYPE = ValueType("str", "text")


class VisageField(msgspec.Struct, frozen=True):
    """One field of a visage: its ``name``, Python ``type`` and where its value comes from: ``source`` is
    ``"value"`` (the column as stored), ``"mask"``, ``"hash_id"``, ``"visage"`` (the related row's visage
    ``nested``), ``"full"`` (the related model instance) or ``"derived"`` (``derived``)."""

    name: str
    type: Any
    source: str
    field: FieldDescriptor | None = None
    nested: Any = None
    derived: Derived | None = None


@dataclass_transform(frozen_default=True)
class VisageMeta(msgspec.StructMeta):
    """Metaclass of ``Visage``: takes the ``audience=`` class keyword and checks a declared visage against
    its model. Declared visages are frozen (``dataclass_transform`` says so to type checkers)."""

    if TYPE_CHECKING:

        def __new__(
            mcls: type[Any], name: str, bases: tuple[type, ...], namespace: dict[str, Any], /, *,
            audience: Audience = ..., frozen: bool = ..., kw_only: bool = ..., eq: bool = ..., gc: bool = ...,
        ) -> Any: ...  # fmt: skip

    else:

        def __new__(mcls, name, bases, namespace, audience=None, **kwargs):
            declared = [b for b in namespace.get("__orig_bases__", ()) if isinstance(get_origin(b), VisageMeta)]
            derived = {n: d for n, d in namespace.items() if isinstance(d, Derived)}
            if audience is None:
                if declared:
                    raise ModelDefinitionError(f"{name}: a visage declares its audience: class {name}("
                                               f"Visage[Model], audience='public')")  # fmt: skip
                return super().__new__(mcls, name, bases, namespace, **kwargs)
            if not declared:
                raise ModelDefinitionError(f"{name}: a visage subclasses Visage[Model] with the model as argument")
            model = get_args(declared[0])[0]
            namespace = {n: d for n, d in namespace.items() if n not in derived}
            namespace["__visage_derived__"] = derived
            kwargs.setdefault("frozen", True)
            cls = super().__new__(mcls, name, bases, namespace, **kwargs)
            _declare(cls, model, audience)
            return cls


class Visage(msgspec.Struct, Generic[M], frozen=True, metaclass=VisageMeta):
    """Base of every visage: a frozen Struct of what one audience sees of model ``M``."""

    __visage_model__: ClassVar[Any]
    __visage_audience__: ClassVar[str]
    __visage_fields__: ClassVar[tuple[VisageField, ...]]


_VISAGES: dict[tuple[type, str], type[Visage[Any]]] = {}


def _optional(tp: Any, nullable: bool) -> Any:
    return tp | None if nullable else tp


def _audience(audience: object, where: str) -> Audience:
    for known in AUDIENCES:
        if audience == known:
            return known
    raise VisageError(f"{where}: {audience!r} is not an audience; the audiences are {AUDIENCES}")


def visage_fields(model: type[ModelBase], audience: Audience) -> tuple[VisageField, ...]:
    """The fields ``audience`` sees of ``model``, in model order (keys and timestamps always; the others as
    their ``expose`` and redaction say). ``VisageError`` for an unknown audience or a model that is not
    declared."""
    desc = descriptor(model)
    _audience(audience, f"{desc.name} visage")
    out: list[VisageField] = []
    for fd in desc.fields:
        if fd.kind in ("pk", "framework") or fd.name in desc.primary_key:
            out.append(VisageField(fd.name, fd.python_type, "value", fd))
            continue
        form = next((f for a, f in fd.exposure if a == audience), None)
        if form is None:
            continue
        redaction = fd.protected.redaction_for(audience) if fd.protected is not None else "none"
        if redaction == "drop":
            continue
        if redaction in ("mask", "hash_id"):
            out.append(VisageField(fd.name, _optional(str, fd.nullable), redaction, fd))
        elif form == "id":
            out.append(VisageField(fd.name, _optional(fd.python_type, fd.nullable), "value", fd))
        elif form == "full":
            target = resolve_target(model, fd)
            out.append(VisageField(fd.name, _optional(target, fd.nullable), "full", fd, target))
        else:
            nested = visage(resolve_target(model, fd), _audience(form, f"{desc.name}.{fd.name}"))
            out.append(VisageField(fd.name, _optional(nested, fd.nullable), "visage", fd, nested))
    return tuple(out)


def visage(model: type[M], audience: Audience) -> type[Visage[M]]:
    """The visage of ``model`` for ``audience``: the declared one, else a Struct type ``<Model><Audience>``
    generated once and reused. ``VisageError`` for an unknown audience."""
    key = (model, audience)
    found = _VISAGES.get(key)
    if found is not None:
        return found
    fields = visage_fields(model, audience)
    name = f"{model.__name__}{audience.capitalize()}"
    namespace = {"__annotations__": {f.name: f.type for f in fields}, "__module__": model.__module__}
    made: type[Visage[M]] = VisageMeta(name, (Visage,), namespace, frozen=True)
    _finish(made, model, audience, fields)
    _VISAGES[key] = made
    return made


def _finish(cls: type[Visage[Any]], model: type, audience: str, fields: tuple[VisageField, ...]) -> None:
    type.__setattr__(cls, "__visage_model__", model)
    type.__setattr__(cls, "__visage_audience__", audience)
    type.__setattr__(cls, "__visage_fields__", fields)
    conceal_repr(cls, frozenset(f.name for f in fields if f.source == "value" and f.field is not None
                                and f.name in protected_fields((f.field,))))  # fmt: skip


def _declare(cls: type[Visage[Any]], model: Any, audience: object) -> None:
    """Check a declared visage against what ``model`` exposes to ``audience`` and register it."""
    name = cls.__name__
    if not (isinstance(model, type) and issubclass(model, ModelBase)):
        raise ModelDefinitionError(f"{name}: Visage[...] takes a model class, not {model!r}")
    try:
        audience = _audience(audience, name)
    except VisageError as exc:
        raise ModelDefinitionError(str(exc)) from None
    if (model, audience) in _VISAGES:
        raise ModelDefinitionError(
            f"{name}: {model.__name__} already has a {audience} visage ({_VISAGES[(model, audience)].__name__}); "
            "declare a visage before anything asks for it"
        )
    own = {f.name: f.type for f in msgspec.structs.fields(cls)}
    extra: dict[str, Derived] = vars(cls)["__visage_derived__"]
    expected = list(visage_fields(model, audience))
    derived = [VisageField(n, _derived_type(name, n, own.get(n), d), "derived", derived=d) for n, d in extra.items()]
    want = {f.name: f.type for f in [*expected, *derived]}
    if list(own) != list(want) or any(own[n] != want[n] for n in own):
        lines = "\n".join(f"    {n}: {_spell(t)}" for n, t in want.items())
        raise ModelDefinitionError(
            f"{name}: a {audience} visage of {model.__name__} has exactly these fields, in this order:\n{lines}"
        )
    if any(cls.__struct_defaults__):
        raise ModelDefinitionError(f"{name}: a visage's fields take no defaults")
    _finish(cls, model, audience, (*expected, *derived))
    _VISAGES[(model, audience)] = cls


def _derived_type(visage_name: str, name: str, declared: Any, d: Derived) -> Any:
    if declared is None:
        raise ModelDefinitionError(f"{visage_name}.{name}: a derived field is annotated: {name}: T = derived(...)")
    return declared


def _spell(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp).replace("typing.", "")


# ------------------------------------------------------------------------------------------- queries


def _column(model: type, f: VisageField) -> Expr[Any]:
    assert f.field is not None
    col: Expr[Any] = column_ref(cast("type[ModelBase]", model), f.field)
    if f.source == "value":
        return col
    if f.source == "mask":
        masked: Expr[Any] = Param(MASK, _MASK_TYPE)
        return case(col != None, masked) if f.field.nullable else masked  # noqa: E711  (IS NOT NULL)
    if f.source == "hash_id":
        return hash_id_sql(col, f.field.nullable)
    raise VisageError(
        f"{model.__name__}.{f.name}: this visage nests the related row ({_spell(f.type)}), which one SELECT "
        f"cannot return; load it with .prefetch({model.__name__}.{f.name}) and convert with to_visage()"
    )


def visage_query(v: type[V]) -> Select[V]:
    """``SELECT`` of exactly the visage's columns (masked and hashed fields computed by PostgreSQL, so the
    value never leaves the database), decoded into ``v``; narrow it with ``filter`` / ``order_by`` /
    ``limit`` like any query. ``VisageError`` for a visage that nests related rows (prefetch and
    ``to_visage`` those)."""
    model = _model_of(v)
    exprs = [f.derived.sql if f.derived is not None else _column(model, f) for f in v.__visage_fields__]
    return select(model).values(*exprs, into=v)


def _model_of(v: Any) -> type[ModelBase]:
    model = getattr(v, "__visage_model__", None)
    if model is None:
        raise VisageError(f"{v!r} is not a visage; build one with visage(Model, audience)")
    return cast("type[ModelBase]", model)


def to_visage(row: ModelBase | Loaded[Any], v: type[V]) -> V:
    """``row`` (a model instance, or a ``Loaded`` row carrying the relations the visage nests) as visage
    ``v``, redacted as the model declares. ``VisageError`` naming the field when a nested relation was not
    loaded, when ``row`` is not a saved instance of ``v``'s model, or when a derived field cannot be
    evaluated in memory."""
    model = _model_of(v)
    instance = row.instance if isinstance(row, Loaded) else row
    if not isinstance(instance, model):
        raise VisageError(f"to_visage(): {v.__name__} presents {model.__name__} rows, not {type(row).__name__}")
    values = [_value(row, instance, f, model) for f in v.__visage_fields__]
    return v(*values)


def _value(row: Any, instance: Any, f: VisageField, model: type) -> Any:
    if f.source == "derived":
        assert f.derived is not None
        return derived_python(f.derived, instance, f"{model.__name__}.{f.name}")
    value = getattr(instance, f.name)
    if value is msgspec.UNSET:
        raise VisageError(f"{model.__name__}.{f.name} is not set; save the row before presenting it")
    if f.source == "value" or value is None:
        return value
    if f.source == "mask":
        return MASK
    if f.source == "hash_id":
        return hash_id(value)
    related = row.relations.get(f.name, msgspec.UNSET) if isinstance(row, Loaded) else msgspec.UNSET
    if related is msgspec.UNSET:
        raise VisageError(
            f"{model.__name__}.{f.name} was not loaded, and the visage nests it; add "
            f".prefetch({model.__name__}.{f.name}) to the query"
        )
    return related if f.source == "full" else to_visage(related, f.nested)

