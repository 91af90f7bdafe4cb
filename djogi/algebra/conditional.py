"""``CASE WHEN ... THEN ... [ELSE ...] END`` as an expression.

``case(Book.price > 20, "dear").when(Book.price > 5, "fair").otherwise("cheap")`` renders
``CASE WHEN "books"."price" > $1::numeric THEN $2::text WHEN ... ELSE $5::text END``. It is an ordinary
expression: project it, compare it (``case(...) == "dear"``), order by it, or assign it in ``update()``.
Conditions are two-valued predicates (a NULL comparison is false, so that arm is skipped).

The first result fixes the type; later results must fit it (``ValidationError`` otherwise), ``None`` is
``NULL``. Without ``otherwise`` the value is NULL when no condition holds. ``when`` after ``otherwise`` is
refused.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from djogi.algebra.expr import Const, Expr, Param, ValueType, _python_value_type, coerce
from djogi.algebra.predicate import Pred
from djogi.errors import ValidationError

__all__ = ["Case", "When", "case"]

T = TypeVar("T")


class When(msgspec.Struct, frozen=True, gc=False):
    """One ``WHEN cond THEN then`` arm."""

    __children__ = ("cond", "then")

    cond: Pred
    then: Expr[Any]


class Case(Expr[T], frozen=True, eq=False):
    """``CASE WHEN .. THEN .. ... [ELSE default] END``; ``closed`` once ``otherwise`` was given."""

    __children__ = ("whens", "default")

    whens: tuple[When, ...]
    default: Expr[Any] | None
    vtype: ValueType
    closed: bool = False

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return "CASE"

    def when(self, cond: Pred, then: object) -> Case[T]:
        """Another ``WHEN cond THEN then`` arm (``then`` must fit the first result's type)."""
        if self.closed:
            raise ValidationError("case(): when() after otherwise(); give every arm before the default")
        return msgspec.structs.replace(self, whens=(*self.whens, When(_cond(cond), self._result(then))))

    def otherwise(self, value: object) -> Case[T]:
        """``ELSE value`` (closes the expression)."""
        if self.closed:
            raise ValidationError("case(): otherwise() given twice")
        return msgspec.structs.replace(self, default=self._result(value), closed=True)

    def _result(self, value: object) -> Expr[Any]:
        if value is None:
            return Const(None)
        if self.vtype.kind is None and not isinstance(value, Expr):
            return _first(value)
        return self.whens[0].then.operand(value)  # type-checks against the first result


def _cond(cond: object) -> Pred:
    if not isinstance(cond, Pred):
        raise ValidationError(f"case(): a condition is a predicate such as Book.price > 5, not {cond!r}")
    return cond


def _first(value: object) -> Expr[Any]:
    if isinstance(value, Expr):
        return value
    t = _python_value_type(value)
    return Param(coerce(t, value, "case() result"), t)


def case(cond: Pred, then: object) -> Case[Any]:
    """``CASE WHEN cond THEN then ... END``; add arms with ``.when()`` and a default with ``.otherwise()``.

    ``then`` fixes the result type (a plain value: its Python type; ``None`` is refused here because it
    has none).
    """
    if then is None:
        raise ValidationError("case(): the first result fixes the type and cannot be None; reorder the arms")
    first = _first(then)
    return Case((When(_cond(cond), first),), None, first.type)
