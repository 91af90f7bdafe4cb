"""The run-time side of a field declaration: ``Field[T]``'s marker, ``= field(...)``, ``Model[K]`` and
``ClassVar[Reverse[...]]``.

``title: Field[str] = field(max_length=200, default="")`` reaches the metaclass as an annotation
``Annotated[str, FIELD]`` and a ``FieldSpecifier`` value. ``take_specifiers`` takes the specifiers out of the
class namespace before msgspec sees it (msgspec gets the plain default back) and records their options;
``declaration_problem`` refuses a field annotated any other way, so that every field is typed for type
checkers; ``key_option`` turns ``class Counter(Model[Serial], ...)`` into the model's ``pk``; reverse
declarations are recorded and checked against the relations that really point at the model.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, ForwardRef, get_args, get_origin

import msgspec

from djogi.errors import ModelDefinitionError
from djogi.schema.descriptors import ModelDescriptor
from djogi.schema.fields import FieldSpec
from djogi.schema.fields import field as field_spec
from djogi.schema.registry import models
from djogi.types import HEERANJID_TYPES, KEY_TYPES, PrimaryKey, RelationSpec, Serial

__all__ = [
    "FIELD",
    "FieldMarker",
    "FieldSpecifier",
    "check_declared_reverses",
    "declaration_problem",
    "declared_reverses",
    "declared_specs",
    "key_option",
    "specifier",
    "take_specifiers",
]


class FieldMarker(msgspec.Struct, frozen=True):
    """``Annotated`` metadata of ``Field[T]``, ``ForeignKey[...]`` and ``OneToOne[...]`` (msgspec ignores it)."""


FIELD = FieldMarker()


class FieldSpecifier(msgspec.Struct, frozen=True):
    """What ``= field(...)`` puts in a class body: the column options and the Python default."""

    spec: FieldSpec
    default: Any = msgspec.NODEFAULT
    default_factory: Any = msgspec.NODEFAULT


def specifier(default: Any, default_factory: Any, options: Mapping[str, Any]) -> FieldSpecifier:
    """The value of ``field(default=..., default_factory=..., **options)``; ``ModelDefinitionError`` for an
    unknown option or both defaults."""
    if default is not msgspec.NODEFAULT and default_factory is not msgspec.NODEFAULT:
        raise ModelDefinitionError("field(): give default= or default_factory=, not both")
    try:
        spec = field_spec(**options)
    except TypeError as exc:
        raise ModelDefinitionError(f"field(): {exc}") from None
    return FieldSpecifier(spec, default, default_factory)


def take_specifiers(model: str, namespace: dict[str, Any]) -> None:
    """Replace each ``field(...)`` value in a class namespace by its plain default (or none), and record the
    options in ``__djogi_specs__``. ``ModelDefinitionError`` for a ``field(...)`` without an annotation."""
    annotations = namespace.get("__annotations__", {})
    specs: dict[str, FieldSpec] = {}
    for attr, value in list(namespace.items()):
        if isinstance(value, FieldSpec):
            raise ModelDefinitionError(
                f"{model}.{attr}: = djogi.schema.field(...) makes column options only; declare the field with "
                "djogi.field(...) (from djogi import field)"
            )
        if not isinstance(value, FieldSpecifier):
            continue
        if attr not in annotations:
            raise ModelDefinitionError(
                f"{model}.{attr}: field(...) needs an annotation: {attr}: Field[...] = field(...)"
            )
        specs[attr] = value.spec
        if value.default_factory is not msgspec.NODEFAULT:
            namespace[attr] = msgspec.field(default_factory=value.default_factory)
        elif value.default is not msgspec.NODEFAULT:
            namespace[attr] = value.default
        else:
            del namespace[attr]
    namespace["__djogi_specs__"] = specs


def declared_specs(cls: type) -> dict[str, FieldSpec]:
    """The ``field(...)`` options of every field of ``cls``, its bases' included."""
    specs: dict[str, FieldSpec] = {}
    for klass in reversed(cls.__mro__):
        specs.update(vars(klass).get("__djogi_specs__", {}))
    return specs


def _metadata(hint: Any) -> list[Any]:
    found: list[Any] = []
    while get_origin(hint) is Annotated:
        found.extend(hint.__metadata__)
        hint = get_args(hint)[0]
    return found


def declaration_problem(model: str, attr: str, hint: Any, written: object) -> str | None:
    """Why the resolved annotation ``hint`` (written as ``written``) is not a field declaration, or None.

    A field is declared ``Field[T]``, ``ForeignKey[Target]``, ``ForeignKey[Target | None]`` or
    ``OneToOne[...]``; options and the default go in ``= field(...)``.
    """
    metadata = _metadata(hint)
    if FIELD in metadata and not any(isinstance(m, (FieldSpecifier, FieldSpec)) for m in _all_metadata(hint)):
        return None
    shown = written if isinstance(written, str) else getattr(written, "__name__", repr(written))
    relation = next((m for m in _all_metadata(hint) if isinstance(m, RelationSpec)), None)
    if relation is not None:
        target = relation.target if isinstance(relation.target, str) else relation.target.__name__
        kind = "OneToOne" if relation.kind == "o2o" else "ForeignKey"
        example = (f'{attr}: {kind}["{target} | None"] = field(..., default=None)' if _nullable(hint)
                   else f"{attr}: {kind}[{target}] = field(...)")  # fmt: skip
    elif isinstance(shown, str) and "Annotated" not in shown and "field(" not in shown and "Field[" not in shown:
        example = f"{attr}: Field[{shown}]"
    else:
        example = f"{attr}: Field[<type>] = field(<options>, default=<default>)"
    return (
        f"{model}.{attr}: {shown!s} is not a field declaration; declare it as {example} (every field is Field[T], "
        "ForeignKey[Target], ForeignKey[Target | None] or OneToOne[Target], with its options and default in "
        "= field(...)), so that type checkers see its column"
    )


def _all_metadata(hint: Any) -> list[Any]:
    """The ``Annotated`` metadata anywhere in ``hint`` (inside unions and type arguments too)."""
    if get_origin(hint) is Annotated:
        return [*hint.__metadata__, *_all_metadata(get_args(hint)[0])]
    return [m for arg in get_args(hint) if not isinstance(arg, (str, int)) for m in _all_metadata(arg)]


def _nullable(hint: Any) -> bool:
    return type(None) in get_args(hint)


# ------------------------------------------------------------------------------------------ Model[K]


def _declared_key(bases: tuple[type, ...], namespace: Mapping[str, Any]) -> object | None:
    """The ``K`` of a ``Model[K]`` base, else the key inherited from a keyed base, else None."""
    for base in namespace.get("__orig_bases__", ()):
        args = get_args(base)
        origin = get_origin(base)
        struct = isinstance(origin, type) and issubclass(origin, msgspec.Struct)
        if struct and len(args) == 1 and not isinstance(args[0], typing.TypeVar):
            kind: object = args[0]
            return kind
    for base in bases:
        inherited: object = getattr(base, "__djogi_key__", None)
        if inherited is not None:
            return inherited
    return None


def _kind_name(kind: object) -> str:
    return getattr(kind, "__name__", None) or repr(kind)


def key_option(model: str, bases: tuple[type, ...], namespace: dict[str, Any], options: dict[str, Any]) -> None:
    """Set ``options["pk"]`` from the model's ``Model[K]`` base (recorded as ``__djogi_key__`` for subclasses).

    ``Model[HeerIdDesc]`` (the default), ``Model[HeerId]``, ``Model[RanjId]``, ``Model[RanjIdDesc]``,
    ``Model[Serial]`` (or ``Model[int]`` without ``pk=``); any other ``K`` needs ``pk=custom_pk(K, ...)``.
    ``ModelDefinitionError`` for ``pk=`` with a built-in kind, or a ``custom_pk`` whose type is not ``K``.
    """
    kind = _declared_key(bases, namespace)
    if kind is not None:
        namespace["__djogi_key__"] = kind
    if "table" not in options and "pk" not in options:
        return  # an abstract base: its key kind is checked on the models that declare a table
    if "pk" in options and not isinstance(options["pk"], PrimaryKey):
        pk = options["pk"]
        raise ModelDefinitionError(
            f"{model}: pk={_kind_name(pk)} is declared as the model's key type: "
            f"class {model}(Model[{_kind_name(pk)}], ...) (pk= takes only custom_pk(...))"
        )
    if kind is None or kind in KEY_TYPES or kind in HEERANJID_TYPES:
        if "pk" in options:
            shown = _kind_name(options["pk"].python_type)
            raise ModelDefinitionError(
                f"{model}: pk=custom_pk({shown}, ...) needs the key type as the model's type argument: "
                f"class {model}(Model[{shown}], pk=custom_pk({shown}, ...))"
            )
        if kind is not None:
            options["pk"] = kind
        return
    if kind is Serial or (kind is int and "pk" not in options):
        if "pk" in options:
            raise ModelDefinitionError(f"{model}: Model[Serial] is the key kind; drop pk=")
        options["pk"] = Serial
        return
    pk = options.get("pk")
    if pk is None or pk.python_type is not kind:
        raise ModelDefinitionError(
            f"{model}: Model[{_kind_name(kind)}] is not a built-in key kind (HeerIdDesc, HeerId, RanjId, RanjIdDesc, "
            f"Serial); add pk=custom_pk({_kind_name(kind)}, sql_type, default_sql)"
        )


# ------------------------------------------------------------------------------------------ reverse declarations

_REVERSE = re.compile(
    r"^\s*(?:typing\.)?ClassVar\[\s*(?:djogi\.)?Reverse\[\s*(?P<q>['\"]?)(?P<target>[\w.]+)(?P=q)\s*\]\s*\]\s*$"
)


def declared_reverses(model: str, namespace: Mapping[str, Any]) -> dict[str, str]:
    """``{accessor: source model name}`` for each ``name: ClassVar[Reverse[Source]]`` in a class body;
    ``ModelDefinitionError`` for a ``Reverse[...]`` declared any other way."""
    found: dict[str, str] = {}
    for attr, ann in namespace.get("__annotations__", {}).items():
        target: object = None
        if isinstance(ann, str):
            match = _REVERSE.match(ann)
            target = None if match is None else match.group("target").rsplit(".", 1)[-1]
            mentioned = re.search(r"\bReverse\[", ann) is not None
        else:
            inner = get_args(ann)[0] if get_origin(ann) is ClassVar and get_args(ann) else None
            if _is_reverse(inner):
                (target,) = get_args(inner)
                target = target.__forward_arg__ if isinstance(target, ForwardRef) else target
                target = target if isinstance(target, str) else getattr(target, "__name__", repr(target))
            mentioned = _is_reverse(ann) or _is_reverse(inner)
        if target is not None:
            found[attr] = str(target)
        elif mentioned:
            raise ModelDefinitionError(f"{model}.{attr}: declare a reverse accessor as {attr}: ClassVar[Reverse[...]]")
    return found


def _is_reverse(ann: object) -> bool:
    return getattr(get_origin(ann), "__name__", "") == "Reverse"


def _target_name(desc: ModelDescriptor, relation: RelationSpec) -> str:
    target = relation.target
    return target if isinstance(target, str) else (desc.name if target is desc.model else target.__name__)


def check_declared_reverses(desc: ModelDescriptor) -> None:
    """``ModelDefinitionError`` when a ``ClassVar[Reverse[Source]]`` declaration disagrees with the relations
    (checked once both the declaring model and ``Source`` are declared, whichever comes second): ``Source``
    must have a relation to the declaring model whose reverse accessor has the declared name."""
    known = {d.name: d for d in models()} | {desc.name: desc}
    for owner in known.values():
        for accessor, source_name in vars(owner.model).get("__djogi_reverses__", {}).items():
            source = known.get(source_name)
            if source is None or desc not in (owner, source):
                continue
            to_owner = [
                (fd.name, fd.relation.related_name or source.table)
                for fd in source.relations
                if fd.relation is not None and _target_name(source, fd.relation) == owner.name
            ]
            if any(name == accessor for _, name in to_owner):
                continue
            found = ", ".join(f"{source.name}.{f} gives {owner.name}.{n}" for f, n in to_owner) or (
                f"{source.name} has no ForeignKey/OneToOne to {owner.name}")
            raise ModelDefinitionError(
                f"{owner.name}.{accessor}: declared ClassVar[Reverse[{source_name}]], but no relation of {source_name} "
                f"has the reverse accessor {accessor!r} ({found}); name the relation's accessor with "
                f"field(related_name={accessor!r}) or fix the declaration"
            )
