"""Subqueries inside expressions and predicates: scalar subqueries, ``EXISTS``, ``IN (SELECT ...)``, and
``OuterRef`` for correlation.

- ``scalar(q)``: ``(SELECT ...)`` as a value; ``q`` projects exactly one column (``values(x)``); NULL when
  it returns no row (PostgreSQL raises 21000 when it returns several).
- ``exists(q)``: ``EXISTS (SELECT 1 FROM ...)``; ``~exists(q)`` is ``NOT EXISTS (...)``.
- ``in_query(x, q)``: ``x IN (SELECT ...)``; its complement ``~in_query(x, q)`` is
  ``(x IN (SELECT ...)) IS NOT TRUE`` (two-valued: rows where ``x`` is NULL, or is not found, are kept).
- ``outer(col)`` (``OuterRef``, declared with the expressions in ``djogi.algebra.expr``): a column of the
  enclosing query, rendered in that query's scope; nest it (``outer(outer(col))``) to reach two levels up.
  Columns of other tables need no ``outer``: every column is qualified by its table (or alias) name. When
  the subquery reads the same table as the enclosing query, give one of them an alias
  (``aliased``/``select_from``) so the names differ.

Errors (``ValidationError``): a scalar / IN subquery that does not project exactly one column, a type
mismatch with ``x``, ``outer()`` outside a subquery (at compile time). All are SQL-only in memory
(``NotPortable``).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from djogi.algebra.expr import Expr, OuterRef, ValueType, _compatible
from djogi.algebra.nested import Exists, InQuery, Subquery
from djogi.algebra.outputs import output_columns
from djogi.algebra.query import Select, simple
from djogi.algebra.setops import SetOp
from djogi.errors import ArgumentTypeError, ValidationError

__all__ = ["Exists", "InQuery", "OuterRef", "Subquery", "exists", "in_query", "outer", "scalar"]

T = TypeVar("T")


def _single(query: Any, what: str) -> ValueType:
    out = output_columns(query, named=False) if getattr(query, "projection", ()) is not None else None
    if out is None or len(out.types) != 1:
        raise ValidationError(f"{what}: the subquery must project exactly one column (use .values(x))")
    return out.types[0]


def scalar(query: Any) -> Subquery[Any]:
    """``(SELECT x FROM ...)`` as a value; ``query`` projects one column."""
    return Subquery(query, _single(query, "scalar()"))


def exists(query: Any) -> Exists:
    """``EXISTS (SELECT 1 FROM ... )``; an ordering that cannot change the answer is dropped."""
    if isinstance(query, Select) and simple(query):
        query = msgspec.structs.replace(query, projection=None, into=None, selected=None, ordering=())
    return Exists(query)


def is_query(x: object) -> bool:
    """Whether ``x`` is a query ``in_query`` takes (a ``Select`` or a set operation), not a list of values."""
    return isinstance(x, Select | SetOp)


def in_query(x: Expr[Any], query: Any) -> InQuery:
    """``x IN (SELECT y FROM ...)``; ``query`` projects one column comparable with ``x``."""
    t = _single(query, "in_query()")
    if not isinstance(x, Expr):
        raise ValidationError(f"in_query() tests an expression such as Book.id, not {x!r}")
    if not _compatible(x.type, t):
        raise ValidationError(f"in_query(): cannot compare {x.describe()} ({x.type.kind}) with a {t.kind} subquery")
    return InQuery(x, query)


def outer(x: Expr[T]) -> OuterRef[T]:
    """``x`` as seen by the enclosing query (for correlated subqueries)."""
    if not isinstance(x, Expr):
        raise ArgumentTypeError(f"outer() takes an expression such as Author.id, not {x!r}")
    return OuterRef(x)
