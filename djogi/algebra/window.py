"""Window functions: ``row_number``, ``rank``, ``dense_rank``, ``percent_rank``, ``cume_dist``, ``ntile``,
``lag``, ``lead``, ``first_value``, ``last_value``, ``nth_value``, and any aggregate, each ``.over(...)``.

``row_number().over(partition_by=Book.author, order_by=Book.price.desc(), frame=rows(-2, 0))`` renders
``row_number() OVER (PARTITION BY "books"."author_id" ORDER BY "books"."price" DESC ROWS BETWEEN $1::bigint
PRECEDING AND CURRENT ROW)``. Frame bounds: ``None`` is UNBOUNDED, ``0`` CURRENT ROW, a negative number
``n PRECEDING``, a positive one ``n FOLLOWING`` (``preceding(x)`` / ``following(x)`` for any offset value,
e.g. an interval under RANGE); offsets are bound parameters.

Errors (``ValidationError``): a window function used without ``.over()`` (checked by the query combinators),
windows nested in windows or aggregates, a frame whose start is after its end, RANGE/GROUPS offsets
without ORDER BY.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Sequence
from typing import Any, Literal, TypeVar

import msgspec

from djogi.algebra.expr import Expr, OrderBy, Param, ValueType, _python_value_type, coerce, expression
from djogi.algebra.traverse import find
from djogi.errors import ArgumentTypeError, ValidationError

__all__ = [
    "Bound",
    "Frame",
    "Over",
    "WindowFunc",
    "Windowable",
    "cume_dist",
    "dense_rank",
    "first_value",
    "following",
    "groups",
    "lag",
    "last_value",
    "lead",
    "nth_value",
    "ntile",
    "over",
    "percent_rank",
    "preceding",
    "range_",
    "rank",
    "row_number",
    "rows",
]

T = TypeVar("T")
INT = ValueType("int", "bigint")
FLOAT = ValueType("float", "double precision")
BoundKind = Literal["UNBOUNDED PRECEDING", "PRECEDING", "CURRENT ROW", "FOLLOWING", "UNBOUNDED FOLLOWING"]
_RANK = {"UNBOUNDED PRECEDING": 0, "PRECEDING": 1, "CURRENT ROW": 2, "FOLLOWING": 3, "UNBOUNDED FOLLOWING": 4}


class Windowable(Expr[T], frozen=True, eq=False):
    """A call ``over()`` accepts: a window function (``WindowFunc``) or an aggregate (``aggregate.Agg``)."""


class WindowFunc(Windowable[T], frozen=True, eq=False):
    """A window-only function call ``name(args)``; meaningful only under ``.over(...)``."""

    __children__ = ("args",)

    name: str
    args: tuple[Expr[Any], ...]
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"{self.name}({', '.join(a.describe() for a in self.args)})"

    def over(self, partition_by: Any = (), order_by: Any = (), frame: Frame | None = None) -> Over[T]:
        """This function over a window; see ``over``."""
        return over(self, partition_by=partition_by, order_by=order_by, frame=frame)


class Bound(msgspec.Struct, frozen=True, gc=False):
    """A frame bound: ``kind`` with an ``offset`` for ``PRECEDING`` / ``FOLLOWING``."""

    __children__ = ("offset",)

    kind: BoundKind
    offset: Expr[Any] | None = None


class Frame(msgspec.Struct, frozen=True, gc=False):
    """``ROWS|RANGE|GROUPS BETWEEN start AND end [EXCLUDE ...]``."""

    __children__ = ("start", "end")

    mode: Literal["ROWS", "RANGE", "GROUPS"]
    start: Bound
    end: Bound
    exclude: Literal["CURRENT ROW", "GROUP", "TIES", "NO OTHERS"] | None = None


class Over(Expr[T], frozen=True, eq=False):
    """``func OVER ([PARTITION BY ...] [ORDER BY ...] [frame])`` for an aggregate or a ``WindowFunc``."""

    __children__ = ("func", "partition", "order", "frame")

    func: Expr[Any]
    partition: tuple[Expr[Any], ...]
    order: tuple[OrderBy, ...]
    frame: Frame | None
    vtype: ValueType

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        return f"{self.func.describe()} OVER (...)"


def _negative(value: int | float | decimal.Decimal | dt.timedelta) -> bool:
    return value < dt.timedelta(0) if isinstance(value, dt.timedelta) else value < 0


def _nan(value: object) -> bool:
    """Whether ``value`` is a float or Decimal NaN or infinity (no frame offset)."""
    return isinstance(value, float | decimal.Decimal) and not (
        value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
    )


def _offset(value: object) -> Expr[Any]:
    if isinstance(value, Expr):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | decimal.Decimal | dt.timedelta) or _nan(value):
        raise ValidationError(f"a frame offset is a number or a timedelta, not {value!r}")
    if _negative(value):
        raise ValidationError(f"a frame offset must not be negative: {value!r} (use preceding(x) / following(x))")
    t = _python_value_type(value)
    return Param(coerce(t, value, "frame offset"), t)


def preceding(value: object) -> Bound:
    """``<value> PRECEDING`` (``None``: ``UNBOUNDED PRECEDING``)."""
    return Bound("UNBOUNDED PRECEDING") if value is None else Bound("PRECEDING", _offset(value))


def following(value: object) -> Bound:
    """``<value> FOLLOWING`` (``None``: ``UNBOUNDED FOLLOWING``)."""
    return Bound("UNBOUNDED FOLLOWING") if value is None else Bound("FOLLOWING", _offset(value))


def _bound(value: object, start: bool) -> Bound:
    if isinstance(value, Bound):
        return value
    if value is None:
        return Bound("UNBOUNDED PRECEDING" if start else "UNBOUNDED FOLLOWING")
    if _nan(value):
        raise ValidationError(f"a frame bound is a finite number, not {value!r}")
    if value == 0 and not isinstance(value, bool):
        return Bound("CURRENT ROW")
    if isinstance(value, int | float | decimal.Decimal | dt.timedelta) and not isinstance(value, bool):
        return preceding(-value) if _negative(value) else following(value)
    raise ValidationError(f"a frame bound is None, 0, a signed number, preceding(x) or following(x), not {value!r}")


def _frame(mode: Literal["ROWS", "RANGE", "GROUPS"], start: object, end: object, exclude: Any) -> Frame:
    s, e = _bound(start, True), _bound(end, False)
    if s.kind == "UNBOUNDED FOLLOWING" or e.kind == "UNBOUNDED PRECEDING" or _RANK[s.kind] > _RANK[e.kind]:
        raise ValidationError(f"{mode} frame: the start ({s.kind}) must not come after the end ({e.kind})")
    if exclude is not None and exclude not in ("CURRENT ROW", "GROUP", "TIES", "NO OTHERS"):
        raise ValidationError(f"frame exclude must be 'CURRENT ROW', 'GROUP', 'TIES' or 'NO OTHERS', not {exclude!r}")
    return Frame(mode, s, e, exclude)


def rows(start: object = None, end: object = 0, *, exclude: Any = None) -> Frame:
    """``ROWS BETWEEN start AND end`` (default: from the partition start to the current row)."""
    return _frame("ROWS", start, end, exclude)


def range_(start: object = None, end: object = 0, *, exclude: Any = None) -> Frame:
    """``RANGE BETWEEN start AND end`` (offsets compare with the single ORDER BY key's values)."""
    return _frame("RANGE", start, end, exclude)


def groups(start: object = None, end: object = 0, *, exclude: Any = None) -> Frame:
    """``GROUPS BETWEEN start AND end`` (offsets count peer groups)."""
    return _frame("GROUPS", start, end, exclude)


def _many(value: Any) -> tuple[Any, ...]:
    if isinstance(value, tuple | list):
        return tuple(value)
    return (value,)


def over(func: Expr[T], partition_by: Any = (), order_by: Any = (), frame: Frame | None = None) -> Over[T]:
    """``func OVER (PARTITION BY partition_by ORDER BY order_by frame)``; each of ``partition_by`` and
    ``order_by`` is one item or a sequence. ``ValidationError`` for nested windows/aggregates, a function
    that is not an aggregate or window function, or an offset frame without ordering."""
    if not isinstance(func, Windowable):
        what = func.describe() if isinstance(func, Expr) else repr(func)
        raise ValidationError(f"over(): {what} is not an aggregate or window function")
    partition = _many(partition_by)
    order = tuple(k if isinstance(k, OrderBy) else OrderBy(k, False) for k in _many(order_by))
    for item in (*partition, *(key.expr for key in order)):
        if not isinstance(item, Expr):
            raise ArgumentTypeError(f"over(): partition and order keys are expressions (Book.price), not {item!r}")
        inner = find(item, (Windowable, Over))
        if inner is not None:
            raise ValidationError(f"over(): {inner.describe()} cannot appear in a window definition")
    if frame is not None and frame.mode != "ROWS" and not order:
        offsets = frame.start.offset is not None or frame.end.offset is not None
        if offsets or frame.mode == "GROUPS":
            raise ValidationError(f"{frame.mode} frames with offsets need order_by=")
    if frame is not None and frame.mode == "RANGE":
        frame = _range_typed(frame, order)
    return Over(func, partition, order, frame, func.type)


_RANGE_OFFSET = {"datetime": "timedelta", "date": "timedelta", "time": "timedelta"}


def _range_typed(frame: Frame, order: tuple[OrderBy, ...]) -> Frame:
    """A RANGE frame with its offsets typed like the single ORDER BY key (PostgreSQL matches them:
    a NUMERIC key takes a NUMERIC offset, a timestamp an INTERVAL)."""
    if frame.start.offset is None and frame.end.offset is None:
        return frame
    if len(order) != 1:
        raise ValidationError("RANGE frames with offsets need exactly one order_by= key")
    key = order[0].expr.type
    kind = _RANGE_OFFSET.get(key.kind or "", key.kind)
    target = ValueType(kind, {"timedelta": "interval"}.get(kind or "", key.sql))
    bounds = []
    for b in (frame.start, frame.end):
        if isinstance(b.offset, Param):
            b = Bound(b.kind, Param(coerce(target, b.offset.value, "RANGE offset"), target))
        bounds.append(b)
    return Frame(frame.mode, bounds[0], bounds[1], frame.exclude)


def row_number() -> WindowFunc[int]:
    """``row_number()``: 1, 2, 3 ... within the partition (BIGINT)."""
    return WindowFunc("row_number", (), INT)


def rank() -> WindowFunc[int]:
    """``rank()``: rank with gaps (BIGINT)."""
    return WindowFunc("rank", (), INT)


def dense_rank() -> WindowFunc[int]:
    """``dense_rank()``: rank without gaps (BIGINT)."""
    return WindowFunc("dense_rank", (), INT)


def percent_rank() -> WindowFunc[float]:
    """``percent_rank()``: ``(rank - 1) / (rows - 1)`` (DOUBLE PRECISION)."""
    return WindowFunc("percent_rank", (), FLOAT)


def cume_dist() -> WindowFunc[float]:
    """``cume_dist()``: fraction of rows up to the current peer group (DOUBLE PRECISION)."""
    return WindowFunc("cume_dist", (), FLOAT)


def ntile(n: int) -> WindowFunc[int]:
    """``ntile($n::integer)``: bucket number 1..n; ``ValidationError`` unless ``n`` is a positive int."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 2**31:
        raise ValidationError(f"ntile() takes a positive int, not {n!r}")
    return WindowFunc("ntile", (Param(n, ValueType("int", "integer")),), ValueType("int", "integer"))


def _shifted(name: str, x: Expr[T], offset: int, default: object) -> WindowFunc[T]:
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset < 2**31:
        raise ValidationError(f"{name}(): offset must be a non-negative int, not {offset!r}")
    expression(x, f"{name}()")
    args: tuple[Expr[Any], ...] = (x, Param(offset, ValueType("int", "integer")))
    if default is not None:
        args += (x.operand(default),)
    return WindowFunc(name, args, x.type)


def lag(x: Expr[T], offset: int = 1, default: object = None) -> WindowFunc[T]:
    """``lag(x, $n::integer[, default])``: ``x`` from ``offset`` rows before (NULL or ``default`` if none)."""
    return _shifted("lag", x, offset, default)


def lead(x: Expr[T], offset: int = 1, default: object = None) -> WindowFunc[T]:
    """``lead(x, $n::integer[, default])``: ``x`` from ``offset`` rows after."""
    return _shifted("lead", x, offset, default)


def first_value(x: Expr[T]) -> WindowFunc[T]:
    """``first_value(x)``: ``x`` at the first row of the frame."""
    return WindowFunc("first_value", (x,), x.type)


def last_value(x: Expr[T]) -> WindowFunc[T]:
    """``last_value(x)``: ``x`` at the last row of the frame (mind the default frame ends at the current row)."""
    return WindowFunc("last_value", (x,), x.type)


def nth_value(x: Expr[T], n: int) -> WindowFunc[T]:
    """``nth_value(x, $n::integer)``: ``x`` at the ``n``-th row of the frame (1-based)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n < 2**31:
        raise ValidationError(f"nth_value() takes a positive int, not {n!r}")
    return WindowFunc("nth_value", (x, Param(n, ValueType("int", "integer"))), x.type)


def window_errors(nodes: Sequence[object]) -> WindowFunc[Any] | None:
    """The first ``WindowFunc`` among ``nodes`` that is not under an ``Over`` (``None`` if all are)."""
    found: WindowFunc[Any] | None = find(tuple(nodes), (WindowFunc,), stop=(Over,))
    return found
