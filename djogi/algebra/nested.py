"""The nodes that nest a query inside an expression or a predicate: plain data, below the query modules.

``Subquery`` (``(<query>)`` as a value), ``Exists``, ``InQuery`` and ``RelatedCount`` are built (and checked)
by ``djogi.algebra.subquery`` (``scalar``, ``exists``, ``in_query``) and ``djogi.algebra.relations``
(``Related.count()``); declaring them here lets the modules that dispatch on node types (nullability,
evaluation) sit below ``djogi.algebra.query``.
"""

from __future__ import annotations

from typing import Any, TypeVar

from djogi.algebra.expr import Expr, ValueType
from djogi.algebra.predicate import Pred

__all__ = ["Exists", "InQuery", "RelatedCount", "Subquery"]

T = TypeVar("T")


class Subquery(Expr[T], frozen=True, eq=False):
    """``(<query>)`` as a scalar value of type ``vtype``."""

    __scopes__ = ("query",)

    query: Any
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return "scalar(subquery)"


class Exists(Pred, frozen=True):
    """``EXISTS (<query>)`` (complement: ``NOT EXISTS``)."""

    __scopes__ = ("query",)

    query: Any


class InQuery(Pred, frozen=True):
    """``expr IN (<query>)`` (complement: ``(expr IN (<query>)) IS NOT TRUE``)."""

    __children__ = ("expr",)
    __scopes__ = ("query",)

    expr: Expr[Any]
    query: Any


class RelatedCount(Subquery[int], frozen=True, eq=False):
    """``(SELECT count(*) FROM ...)`` over related rows: an ``int``, never NULL."""

    __children__ = ()

    def _describe(self) -> str:
        return "count(related)"
