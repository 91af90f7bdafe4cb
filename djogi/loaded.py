"""``Loaded[M]``: a model instance together with the relations a query loaded for it.

Terminals return ``Loaded`` rows for queries with ``prefetch(...)``. ``loaded.books`` is the loaded list
(``loaded[Author.books]`` is the typed spelling), ``loaded.author`` the related row of a prefetched
``ForeignKey`` (``None`` when the key is NULL), and every other attribute is the instance's. Reading a
relation that was not loaded raises ``RelationNotLoaded`` naming the ``prefetch(...)`` to add: a value never
runs a query behind your back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from djogi.algebra.relations import reverse_accessor
from djogi.errors import DjogiError
from djogi.schema import ModelBase

if TYPE_CHECKING:
    from djogi.algebra.expr import ForeignColumn
    from djogi.algebra.relations import Related

__all__ = ["Loaded", "RelationNotLoaded"]

M = TypeVar("M")
B = TypeVar("B", bound=ModelBase)
T = TypeVar("T")


class RelationNotLoaded(DjogiError, AttributeError):
    """A relation was read from a ``Loaded`` value whose query did not load it."""


class Loaded(Generic[M]):
    """``instance`` plus ``relations`` (name -> loaded value); ``extra`` holds the other parts of a joined
    row (``select_related`` / ``annotate``) when the query returned tuples."""

    __slots__ = ("extra", "instance", "relations")

    def __init__(self, instance: M, relations: Mapping[str, Any], extra: tuple[Any, ...] = ()) -> None:
        self.instance = instance
        self.relations = dict(relations)
        self.extra = extra

    def __getattr__(self, name: str) -> Any:
        relations = object.__getattribute__(self, "relations")
        if name in relations:
            return relations[name]
        instance = object.__getattribute__(self, "instance")
        model = type(instance)
        if not name.startswith("_") and reverse_accessor(model, name) is not None:
            raise RelationNotLoaded(
                f"{model.__name__}.{name} was not loaded; add .prefetch({model.__name__}.{name}) to the query"
            )
        return getattr(instance, name)

    @overload
    def __getitem__(self, relation: Related[Any, B]) -> list[B]: ...
    @overload
    def __getitem__(self, relation: ForeignColumn[Any, Any, T]) -> T: ...

    def __getitem__(self, relation: Any) -> Any:
        """The loaded value of ``relation`` (``loaded[Author.books]`` -> ``list[Book]``)."""
        name = relation.name
        if name not in self.relations:
            owner = type(self.instance).__name__
            raise RelationNotLoaded(f"{owner}.{name} was not loaded; add .prefetch({relation.describe()}) to the query")
        return self.relations[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Loaded) and (self.instance, self.relations, self.extra) == (
            other.instance,
            other.relations,
            other.extra,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        loaded = ", ".join(f"{k}={v!r}" for k, v in self.relations.items())
        return f"Loaded({self.instance!r}, {loaded})"
