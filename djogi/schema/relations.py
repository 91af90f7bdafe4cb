"""The relation markers ``ForeignKey[Target]`` and ``OneToOne[Target]``.

Each is ``Annotated[<key type>, RelationSpec(...)]``: msgspec sees the target's primary-key type, looked up
in the registry when the target is already declared, and the schema build reads the ``RelationSpec``.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union

from djogi.schema.registry import descriptor, models
from djogi.types import RelationSpec

__all__ = ["ForeignKey", "OneToOne"]

T = TypeVar("T")


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


if TYPE_CHECKING:
    # For type checkers a relation field holds the target's primary-key value.
    ForeignKey = Annotated[Union[Any, T], "ForeignKey"]  # noqa: UP007
    OneToOne = Annotated[Union[Any, T], "OneToOne"]  # noqa: UP007
else:

    class ForeignKey:
        """``author: ForeignKey[Author]``: column ``author_id`` holding the target's primary key.

        ``ON DELETE`` and deferrability come from ``field(on_delete=..., deferrable=...)``.
        """

        def __class_getitem__(cls, target: object) -> object:
            return Annotated[_key_value_type(target), RelationSpec(target, "fk")]

    class OneToOne:
        """Like ``ForeignKey`` with a UNIQUE column: at most one row points at each target row."""

        def __class_getitem__(cls, target: object) -> object:
            return Annotated[_key_value_type(target), RelationSpec(target, "o2o")]
