"""The model registry: every declared model's descriptor, in declaration order.

``ModelBase``'s metaclass registers each model it builds; everything else reads the registry through
``descriptor(model)``, ``models()`` and ``registered(model)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from djogi.errors import ArgumentTypeError, ModelDefinitionError
from djogi.schema.descriptors import ModelDescriptor

__all__ = [
    "descriptor", "models", "pending", "register", "registered", "registry_scope", "wait_for", "waiting_preview",
]  # fmt: skip

_registry: dict[type, ModelDescriptor] = {}
_waiting: dict[type, tuple[str, Callable[[], None], Callable[[], ModelDescriptor]]] = {}
"""Models whose relation names a model not declared yet: the name, how to declare them once it is, and
their descriptor without the relations that wait (enough to reference their key)."""


def models() -> tuple[ModelDescriptor, ...]:
    """Every registered model's descriptor, in registration order."""
    return tuple(_registry.values())


def descriptor(model: type) -> ModelDescriptor:
    """The descriptor of a model class; ``ArgumentTypeError`` for anything that is not a registered model."""
    try:
        return _registry[model]
    except (KeyError, TypeError):  # TypeError: an unhashable argument
        waiting = _waiting.get(model) if isinstance(model, type) else None
        if waiting is not None:
            raise ModelDefinitionError(pending_message(model, waiting[0])) from None
        raise ArgumentTypeError(f"{model!r} is not a djogi model (subclass Model with table=...)") from None


def pending_message(model: type, name: str) -> str:
    """Why ``model`` is not usable yet: it refers to ``name``, which is not declared."""
    return f"{model.__name__}: refers to model {name!r}, which is not declared (yet); declare it or fix the name"


def pending() -> tuple[str, ...]:
    """The messages of models still waiting for a model they refer to (empty once every model is declared)."""
    return tuple(pending_message(model, entry[0]) for model, entry in _waiting.items())


def wait_for(model: type, name: str, declare: Callable[[], None], preview: Callable[[], ModelDescriptor]) -> None:
    """Declare ``model`` (by calling ``declare``) once a model called ``name`` is registered; until then
    ``preview()`` gives its descriptor without the waiting relations (for models referring to it)."""
    _waiting[model] = (name, declare, preview)


def waiting_preview(target: object) -> ModelDescriptor | None:
    """The preview descriptor of the waiting model ``target`` (a class, or its name when unique), else None."""
    found = [model for model in _waiting if model is target or model.__name__ == target]
    return _waiting[found[0]][2]() if len(found) == 1 else None


def registered(model: Any) -> ModelDescriptor | None:
    """The descriptor of ``model`` when it is a registered model class, else None."""
    try:
        return _registry.get(model)
    except TypeError:  # an unhashable argument
        return None


@contextmanager
def registry_scope(*, isolated: bool = False) -> Iterator[None]:
    """Register models declared inside the block only until it exits (for tests and generated models).

    With ``isolated=True`` the block also starts from an empty registry, so ``models()`` lists only the
    models declared inside it (what a migration projection of "just these models" needs).
    """
    saved, saved_waiting = dict(_registry), dict(_waiting)
    if isolated:
        _registry.clear()
        _waiting.clear()
    try:
        yield
    finally:
        _registry.clear()
        _registry.update(saved)
        _waiting.clear()
        _waiting.update(saved_waiting)


def register(desc: ModelDescriptor) -> None:
    """Add ``desc``; ``ModelDefinitionError`` when its table is taken or a reverse accessor clashes."""
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
    _waiting.pop(model, None)
    for waiting, (name, declare, _) in list(_waiting.items()):
        if name == desc.name and waiting in _waiting:
            del _waiting[waiting]
            declare()


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

