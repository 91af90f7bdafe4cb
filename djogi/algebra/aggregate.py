"""Aggregate expressions: ``count``, ``sum_``, ``avg``, ``min_``, ``max_``, ``bool_and``, ``bool_or``,
``array_agg``, ``string_agg``, ``jsonb_agg``.

An ``Agg`` renders ``name([DISTINCT] args [ORDER BY ...]) [FILTER (WHERE ...)]`` and is an ordinary
expression: compare it in ``having()``, sort by it, project it with ``values()`` / ``annotate()``, or turn
it into a window function with ``.over(...)``. Result types follow PostgreSQL:

- ``count(...)``: BIGINT, never NULL (``int``);
- ``sum_``: over SMALLINT/INTEGER columns BIGINT, over BIGINT and NUMERIC NUMERIC (``Decimal``), over
  DOUBLE PRECISION ``float``, over INTERVAL ``timedelta``; ``avg``: NUMERIC (``Decimal``), or ``float``
  over DOUBLE PRECISION;
- ``sum_``/``avg``/``min_``/``max_``/``bool_*``/``*_agg`` are NULL over an empty set (``T | None``).

Errors (``ValidationError``, at build time): an aggregate inside an aggregate, ``count()`` (the star form)
with ``distinct`` or ``order_by``, ``distinct`` with ORDER BY keys that are not arguments, wrong argument
types (``sum_`` of text ...).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from djogi.algebra.conditional import case
from djogi.algebra.expr import TEXT, Column, Expr, Func, OrderBy, Param, ValueType, coerce, expression
from djogi.algebra.predicate import TRUE, Pred, and_
from djogi.algebra.traverse import find, same
from djogi.algebra.window import INT, Over, Windowable, over
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.schema import descriptor

__all__ = [
    "Agg",
    "array_agg",
    "avg",
    "bool_and",
    "bool_or",
    "count",
    "grouping",
    "jsonb_agg",
    "max_",
    "min_",
    "string_agg",
    "sum_",
]

T = TypeVar("T")
NUMERIC = ValueType("decimal", "numeric")


class Agg(Windowable[T], frozen=True, eq=False):
    """``name([DISTINCT] args [ORDER BY order]) [FILTER (WHERE where)]``; ``star`` renders ``count(*)``."""

    __children__ = ("args", "order", "where")

    name: str
    args: tuple[Expr[Any], ...]
    distinct: bool
    order: tuple[OrderBy, ...]
    where: Pred
    vtype: ValueType
    star: bool = False

    @property
    def type(self) -> ValueType:
        return self.vtype

    def _describe(self) -> str:
        inner = "*" if self.star else ", ".join(a.describe() for a in self.args)
        return f"{self.name}({'DISTINCT ' if self.distinct else ''}{inner})"

    def filter(self, *predicates: Pred) -> Agg[T]:
        """``... FILTER (WHERE p1 AND p2 ...)`` (ANDed with an earlier filter)."""
        for pred in predicates:
            _no_nested(pred, self.name)
        return msgspec.structs.replace(self, where=and_(self.where, *predicates))

    def order_by(self, *keys: Expr[Any] | OrderBy) -> Agg[T]:
        """``name(args ORDER BY keys)`` (the order values are aggregated in; appends)."""
        if self.star:
            raise ValidationError("count(*) cannot take ORDER BY")
        order = self.order + tuple(k if isinstance(k, OrderBy) else OrderBy(k, False) for k in keys)
        return _checked(msgspec.structs.replace(self, order=order))

    def distinct_(self) -> Agg[T]:
        """``name(DISTINCT args)``."""
        if self.star:
            raise ValidationError("count(DISTINCT *) does not exist; count a column: count(x, distinct=True)")
        return _checked(msgspec.structs.replace(self, distinct=True))

    def over(self, partition_by: Any = (), order_by: Any = (), frame: Any = None) -> Any:
        """This aggregate as a window function; see ``djogi.algebra.window.over``."""
        return over(self, partition_by=partition_by, order_by=order_by, frame=frame)


def _no_nested(node: object, name: str) -> None:
    inner = find(node, (Agg, Over))
    if inner is not None:
        raise ValidationError(f"{name}(): aggregate and window calls cannot be nested ({inner.describe()})")


def _checked(agg: Agg[T]) -> Agg[T]:
    if agg.distinct and agg.order:
        for key in agg.order:
            if not any(same(key.expr, a) for a in agg.args):
                raise ValidationError(
                    f"{agg.name}(DISTINCT ...): ORDER BY {key.expr.describe()} must be one of the arguments"
                )
    return agg


def _agg(name: str, args: tuple[Expr[Any], ...], vtype: ValueType, distinct: bool = False) -> Agg[Any]:
    for a in args:
        if not isinstance(a, Expr):
            raise ArgumentTypeError(f"{name}() takes expressions such as Book.price, not {a!r}")
        _no_nested(a, name)
    return _checked(Agg(name, args, distinct, (), TRUE, vtype))


def _kind(x: Expr[Any], name: str, kinds: tuple[str | None, ...]) -> str | None:
    if not isinstance(x, Expr):
        raise ArgumentTypeError(f"{name}() takes an expression such as Book.price, not {x!r}")
    if x.type.kind not in kinds:
        raise ValidationError(
            f"{name}({x.describe()}): applies to {', '.join(map(str, kinds[:-1]))}, not {x.type.kind}"
        )
    return x.type.kind


def _is_bigint(x: Expr[Any]) -> bool:
    """Whether an integer expression is BIGINT (a narrower column sums to BIGINT, a BIGINT to NUMERIC)."""
    if isinstance(x, Column):
        model = getattr(x.model, "model", x.model)
        try:
            sql = descriptor(model).field(x.name).sql_type.upper()
        except (TypeError, KeyError):
            return True
        return not sql.startswith(("INT", "SMALLINT", "SERIAL", "SMALLSERIAL"))
    return True


def count(x: Expr[Any] | None = None, *, distinct: bool = False) -> Agg[int]:
    """``count(*)`` (no argument) or ``count([DISTINCT] x)`` (non-NULL values of ``x``): BIGINT, never NULL."""
    if x is None:
        if distinct:
            raise ValidationError("count(DISTINCT *) does not exist; count a column: count(x, distinct=True)")
        return Agg("count", (), False, (), TRUE, INT, star=True)
    return _agg("count", (x,), INT, distinct)


def sum_(x: Expr[Any], *, distinct: bool = False) -> Agg[Any]:
    """``sum([DISTINCT] x)``: NUMERIC over BIGINT/NUMERIC, BIGINT over narrower ints, else ``x``'s type."""
    kind = _kind(x, "sum", ("int", "decimal", "float", "timedelta", None))
    vtype = (NUMERIC if _is_bigint(x) else INT) if kind == "int" else x.type
    return _agg("sum", (x,), vtype, distinct)


def avg(x: Expr[Any], *, distinct: bool = False) -> Agg[Any]:
    """``avg([DISTINCT] x)``: NUMERIC (DOUBLE PRECISION over floats, INTERVAL over intervals)."""
    kind = _kind(x, "avg", ("int", "decimal", "float", "timedelta", None))
    return _agg("avg", (x,), NUMERIC if kind in ("int", "decimal") else x.type, distinct)


def min_(x: Expr[T]) -> Agg[T]:
    """``min(x)``: ``x``'s type, NULL over an empty set."""
    return _agg("min", (x,), expression(x, "min()").type)


def max_(x: Expr[T]) -> Agg[T]:
    """``max(x)``: ``x``'s type, NULL over an empty set."""
    return _agg("max", (x,), expression(x, "max()").type)


def _boolean(x: Expr[bool] | Pred, name: str) -> Expr[Any]:
    """A boolean expression; a predicate becomes ``CASE WHEN p THEN TRUE ELSE FALSE END`` (two-valued)."""
    if isinstance(x, Pred):
        return case(x, True).otherwise(False)
    _kind(x, name, ("bool", None))
    return x


def bool_and(x: Expr[bool] | Pred) -> Agg[bool]:
    """``bool_and(x)``: true when every non-NULL value is true (``x`` a boolean expression or a predicate)."""
    return _agg("bool_and", (_boolean(x, "bool_and"),), ValueType("bool", "boolean"))


def bool_or(x: Expr[bool] | Pred) -> Agg[bool]:
    """``bool_or(x)``: true when some value is true (``x`` a boolean expression or a predicate)."""
    return _agg("bool_or", (_boolean(x, "bool_or"),), ValueType("bool", "boolean"))


def array_agg(x: Expr[Any], *, distinct: bool = False) -> Agg[list[Any]]:
    """``array_agg([DISTINCT] x)`` (order it with ``.order_by(...)``): an array of ``x``'s type."""
    t = expression(x, "array_agg()").type
    if t.kind == "array":
        raise ValidationError(f"array_agg({x.describe()}): arrays of arrays are not supported")
    vtype = ValueType("array", None if t.sql is None else t.sql + "[]", enum=t.enum, element=t.kind)
    return _agg("array_agg", (x,), vtype, distinct)


def string_agg(x: Expr[str], separator: str, *, distinct: bool = False) -> Agg[str]:
    """``string_agg([DISTINCT] x, $n::text)``: the values joined by ``separator`` (bound as a parameter)."""
    _kind(x, "string_agg", ("str", None))
    sep: Param[str] = Param(
        coerce(TEXT, separator, "string_agg separator"), TEXT
    )
    return _agg("string_agg", (x, sep), TEXT, distinct)


def grouping(*keys: Expr[Any]) -> Func[int]:
    """``grouping(keys)``: a bit mask telling which of the group keys a ROLLUP / CUBE / GROUPING SETS row
    leaves out (1 = aggregated over, e.g. the subtotal row); INTEGER, never NULL."""
    if not keys or not all(isinstance(k, Expr) for k in keys):
        raise ValidationError("grouping() takes one or more group key expressions")
    return Func("grouping", tuple(keys), ValueType("int", "integer"))


def jsonb_agg(x: Expr[Any], *, distinct: bool = False) -> Agg[Any]:
    """``jsonb_agg([DISTINCT] x)``: a JSONB array of the values."""
    return _agg("jsonb_agg", (x,), ValueType("jsonb", "jsonb"), distinct)
