"""Proxy models: a model's table read through a default filter and order that cannot be dropped.

``ActiveBooks = proxy(Book, where=Book.active == True, order_by=(Book.price.desc(),))`` is a value over
``Book``'s table: no class, no table, no migration of its own, rows decoded as ``Book``.
``ActiveBooks.objects`` is ``SELECT ... FROM "books" WHERE "books"."active" = $1 ORDER BY "books"."price"
DESC``; ``filter`` / ``exclude`` add conditions after the default one (``WHERE (default) AND ...``) and
``order_by`` appends keys after the default order, and no query method removes a condition or an ordering,
so every query built from a proxy keeps both. Bulk ``update`` / ``delete`` through the proxy are scoped by
the default filter too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from djogi.algebra.dml import Delete, Update
from djogi.algebra.expr import Expr, OrderBy
from djogi.algebra.predicate import TRUE, Pred
from djogi.algebra.query import Select, select
from djogi.errors import ArgumentTypeError
from djogi.schema import ModelBase, registered

__all__ = ["Proxy", "proxy"]

M = TypeVar("M", bound=ModelBase)


class Proxy(Generic[M]):
    """``model``'s table through the default filter ``where`` and order ``ordering`` (see the module)."""

    __slots__ = ("model", "objects", "ordering", "where")

    def __init__(self, model: type[M], where: Pred, ordering: tuple[Expr[Any] | OrderBy, ...]) -> None:
        self.model = model
        self.where = where
        self.ordering = ordering
        self.objects: Select[M] = select(model).where(where).order_by(*ordering)
        """Every row the default filter keeps, in the default order."""

    def filter(self, *predicates: Pred) -> Select[M]:
        """``objects`` with ``predicates`` added after the default filter."""
        return self.objects.filter(*predicates)

    def exclude(self, *predicates: Pred) -> Select[M]:
        """``objects`` without the rows matching ``predicates``."""
        return self.objects.exclude(*predicates)

    def update(self, *predicates: Pred, **changes: object) -> Update[M]:
        """Bulk ``UPDATE "t" SET ... WHERE <default filter> AND <predicates>`` (see ``djogi.algebra.update``)."""
        return select(self.model).where(self.where, *predicates).update(**changes)

    def delete(self, *predicates: Pred) -> Delete[M]:
        """Bulk ``DELETE FROM "t" WHERE <default filter> AND <predicates>``."""
        return select(self.model).where(self.where, *predicates).delete()

    def matches(self, instance: M) -> bool:
        """Whether ``instance`` passes the default filter, evaluated in memory with the SQL's meaning
        (``NotPortable`` for a filter that is SQL-only)."""
        return self.where.matches(instance)

    def __repr__(self) -> str:
        return f"proxy({self.model.__name__}, where={self.where!r}, order_by={self.ordering!r})"


def proxy(model: type[M], *, where: Pred = TRUE, order_by: Sequence[Expr[Any] | OrderBy] = ()) -> Proxy[M]:
    """A proxy of ``model``: its rows through the default filter ``where`` and order ``order_by``. Both are
    checked now, as ``select(model).where(where).order_by(*order_by)`` checks them (``ValidationError`` for a
    column of another model, an aggregate ...); ``ArgumentTypeError`` for a ``model`` that is not a model."""
    if not isinstance(model, type) or registered(model) is None:
        raise ArgumentTypeError(f"proxy() takes a model class, not {model!r}")
    if isinstance(order_by, str | bytes) or not isinstance(order_by, Sequence):
        raise ArgumentTypeError(f"proxy(order_by=) takes a sequence of keys such as (Book.price.desc(),), not "
                                f"{order_by!r}")  # fmt: skip
    return Proxy(model, where, tuple(order_by))
