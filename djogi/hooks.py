"""Lifecycle hooks: ``async def before_create(self, db)`` and its five siblings, declared on the model.

A model declares a hook by defining the method; ``declared_hooks`` reads them once, when the class is
created, and refuses what it could not call exactly: a ``before_*`` / ``after_*`` method that is not one of
the six (a misspelt hook would never run), a hook that is not ``async def`` or does not take ``(self, db)``.
The executor's row verbs run them (``djogi.executor.writes``) in this order, inside one transaction (a
savepoint inside an open ``atomic()``)::

    actor fields filled -> before_* -> INSERT/UPDATE/DELETE ... RETURNING -> after_* -> COMMIT

``before_create`` / ``before_save`` return the instance to write (models are frozen: return
``msgspec.structs.replace(self, ...)`` or ``self``); ``after_*`` and ``before_delete`` return ``None``. An
exception in any hook rolls the write back (and whatever the hooks wrote) and propagates unchanged.
"""

from __future__ import annotations

import inspect
from typing import Literal

from djogi.errors import ModelDefinitionError, ValidationError

__all__ = ["HOOKS", "HookName", "checked_result", "declared_hooks"]

HookName = Literal["before_create", "after_create", "before_save", "after_save", "before_delete", "after_delete"]
HOOKS: tuple[HookName, ...] = (
    "before_create", "after_create", "before_save", "after_save", "before_delete", "after_delete",
)  # fmt: skip
"""The lifecycle hooks, in the order a create / save / delete runs its pair."""


def declared_hooks(cls: type) -> frozenset[HookName]:
    """The hooks ``cls`` (or a base) defines; ``ModelDefinitionError`` naming the method for a ``before_*`` /
    ``after_*`` method that is not a hook, a hook that is not ``async def``, or one not taking ``(self, db)``."""
    found: set[HookName] = set()
    for klass in cls.__mro__:
        for attr, value in vars(klass).items():
            if not attr.startswith(("before_", "after_")) or not callable(value):
                continue
            where = f"{cls.__name__}.{attr}"
            hook = next((h for h in HOOKS if h == attr), None)
            if hook is None:
                raise ModelDefinitionError(f"{where}: not a lifecycle hook; the hooks are {', '.join(HOOKS)}")
            if not inspect.iscoroutinefunction(value):
                raise ModelDefinitionError(f"{where}: a hook is a coroutine: `async def {attr}(self, db): ...`")
            params = list(inspect.signature(value).parameters.values())
            positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            required = [p for p in params if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            if len(positional) < 2 or len(required) > 2:
                raise ModelDefinitionError(f"{where}: a hook takes (self, db): `async def {attr}(self, db): ...`")
            found.add(hook)
    return frozenset(found)


def checked_result(hook: HookName, instance: object, result: object) -> object:
    """What a hook returned, checked: a ``before_create`` / ``before_save`` returns an instance of the
    instance's model (the value to write), the others ``None``; ``ValidationError`` naming the hook
    otherwise (nothing is written)."""
    model = type(instance)
    if hook in ("before_create", "before_save"):
        if type(result) is not model:
            raise ValidationError(
                f"{model.__name__}.{hook} returned {result!r}; it returns the {model.__name__} to write "
                "(`return self`, or msgspec.structs.replace(self, ...))"
            )
        return result
    if result is not None:
        raise ValidationError(f"{model.__name__}.{hook} returned {result!r}; it returns None")
    return instance
