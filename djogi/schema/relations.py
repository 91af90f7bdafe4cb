"""The relation markers ``ForeignKey[Target]`` and ``OneToOne[Target]``.

Each is ``Annotated[<key type>, RelationSpec(...), FIELD]``: msgspec sees the target's primary-key type, looked up
in the registry when the target is already declared, and the schema build reads the ``RelationSpec``.
"""

from __future__ import annotations

import uuid
from types import UnionType
from typing import Annotated, Any, ForwardRef, Literal, Optional, Union, get_args, get_origin

from djogi.errors import ModelDefinitionError
from djogi.schema.declare import FIELD
from djogi.schema.registry import descriptor, models
from djogi.types import RelationSpec

__all__ = ["ForeignKey", "OneToOne"]

def _key_value_type(target: object) -> Any:
    """The type msgspec sees for a relation to ``target``: its primary key's type when the target model is
    known (a class, or the name of a registered model), else ``int | uuid.UUID``."""
    try:
        if isinstance(target, str):
            found = [d for d in models() if d.name == target]
            if len(found) == 1:
                return found[0].pk.python_type
        elif isinstance(target, type):
            return descriptor(target).pk.python_type
    except (TypeError, KeyError):
        pass
    return Union[int, uuid.UUID]  # noqa: UP007


def _relation(target: object, kind: Literal["fk", "o2o"]) -> object:
    """``Annotated[<key type>, RelationSpec, FIELD]``, made optional for ``Target | None`` (also written
    ``Optional[Target]`` or, quoted, ``"Target | None"``)."""
    if isinstance(target, str) and target.replace(" ", "").endswith("|None"):
        target = Optional[ForwardRef(target.rsplit("|", 1)[0].strip())]  # noqa: UP045
    args = get_args(target)
    if type(None) in args and get_origin(target) in (Union, UnionType):
        (inner, *more) = [a for a in args if a is not type(None)]
        if more:
            raise ModelDefinitionError(f"a relation has one target model, not {target!r}")
        inner = inner.__forward_arg__ if isinstance(inner, ForwardRef) else inner
        return Annotated[Optional[Annotated[_key_value_type(inner), RelationSpec(inner, kind)]], FIELD]  # noqa: UP045
    return Annotated[_key_value_type(target), RelationSpec(target, kind), FIELD]


class ForeignKey:
    """``author: ForeignKey[Author]``: column ``author_id`` holding the target's primary key;
    ``ForeignKey[Author | None]`` is optional.

    ``ON DELETE`` and deferrability come from ``= field(on_delete=..., deferrable=...)``.
    """

    def __class_getitem__(cls, target: object) -> object:
        return _relation(target, "fk")


class OneToOne:
    """Like ``ForeignKey`` with a UNIQUE column: at most one row points at each target row."""

    def __class_getitem__(cls, target: object) -> object:
        return _relation(target, "o2o")
