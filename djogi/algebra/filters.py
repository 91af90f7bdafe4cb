"""Programmatic filters: ``(field, op, value)`` triples (from an HTTP query string, a config file, a shell)
turned into a predicate, with string values parsed into the field's type.

``predicate_from_filters(Book, [("price", "lt", "30"), ("genre", "in", "fiction,science")])`` is
``(Book.price < Decimal("30")) & Book.genre.in_([...])``. Unknown fields, unknown operators and values that
do not parse raise ``djogi.errors.ValidationError`` saying what is allowed.
"""

from __future__ import annotations

import datetime as dt
import decimal
import difflib
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from djogi.algebra.expr import Column, Expr
from djogi.algebra.predicate import Pred, and_
from djogi.errors import ValidationError
from djogi.schema import descriptor

__all__ = ["OPS", "predicate_from_filters"]

_TRUE = frozenset({"true", "t", "1", "yes", "y", "on"})
_FALSE = frozenset({"false", "f", "0", "no", "n", "off"})


def _parse_bool(s: str) -> bool:
    low = s.strip().lower()
    if low in _TRUE or low in _FALSE:
        return low in _TRUE
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")


_PARSERS: dict[str, Callable[[str], object]] = {
    "int": int,
    "float": float,
    "decimal": decimal.Decimal,
    "bool": _parse_bool,
    "date": dt.date.fromisoformat,
    "datetime": dt.datetime.fromisoformat,
    "time": dt.time.fromisoformat,
    "uuid": uuid.UUID,
}


def _parse(col: Column[Any, Any], kind: str | None, value: object) -> object:
    """A string value parsed for a column of ``kind`` (other values are left to the column's type check)."""
    if not isinstance(value, str) or (kind not in _PARSERS and kind != "heerid"):
        return value
    if kind == "heerid":
        kind = "uuid" if col.vtype.sql == "uuid" else "int"
    try:
        return _PARSERS[kind](value.strip())
    except (ValueError, ArithmeticError) as exc:
        # decimal.InvalidOperation carries no message (its args are condition classes): say what was expected.
        why = "" if isinstance(exc, decimal.InvalidOperation) else f" ({exc})"
        raise ValidationError(f"{col.describe()}: cannot read {value!r} as {kind}{why}") from None


def _list(col: Column[Any, Any], kind: str | None, value: object) -> list[object]:
    """A comma-separated string or a list / tuple, each item parsed; ``ValidationError`` for anything else."""
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise ValidationError(
            f"{col.describe()}: expected a comma-separated string or a list of values, not {value!r}"
        )
    return [_parse(col, kind, v) for v in items]


def _between(col: Column[Any, Any], value: object) -> Pred:
    bounds = _list(col, col.vtype.kind, value)
    if len(bounds) != 2:
        raise ValidationError(f"{col.describe()}: between takes two values (low,high), not {value!r}")
    return col.between(bounds[0], bounds[1])


def _null(col: Column[Any, Any], value: object) -> Pred:
    flag = _parse(col, "bool", value)
    if not isinstance(flag, bool):
        raise ValidationError(f"{col.describe()}: is_null takes true or false, not {value!r}")
    return col.is_null() if flag else col.is_not_null()


def _one(method: str) -> Callable[[Column[Any, Any], object], Pred]:
    def build(col: Column[Any, Any], value: object) -> Pred:
        kind = col.vtype.kind
        if kind == "array":
            element = col.vtype.element
            return getattr(col, method)(_list(col, element, value))  # type: ignore[no-any-return]
        parsed = value if method in _TEXT_OPS else _parse(col, kind, value)
        return getattr(col, method)(parsed)  # type: ignore[no-any-return]

    return build


def _many(method: str) -> Callable[[Column[Any, Any], object], Pred]:
    def build(col: Column[Any, Any], value: object) -> Pred:
        return getattr(col, method)(_list(col, col.vtype.kind, value))  # type: ignore[no-any-return]

    return build


_TEXT_OPS = frozenset(
    {"contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact", "regex", "iregex"}
)
OPS: dict[str, Callable[[Column[Any, Any], object], Pred]] = {
    "eq": _one("__eq__"),
    "ne": _one("__ne__"),
    "lt": _one("__lt__"),
    "le": _one("__le__"),
    "gt": _one("__gt__"),
    "ge": _one("__ge__"),
    "in": _many("in_"),
    "not_in": _many("not_in"),
    "between": _between,
    "is_null": _null,
    **{op: _one(op) for op in sorted(_TEXT_OPS)},
    "contained_by": _one("contained_by"),
    "overlap": _one("overlap"),
}
"""The operators ``predicate_from_filters`` accepts, by name."""


def predicate_from_filters(model: type, filters: Iterable[tuple[str, str, object]]) -> Pred:
    """The conjunction of ``(field_name, op, value)`` filters on ``model`` (``TRUE`` for none).

    ``op`` is a key of ``OPS``. String values are parsed into the field's type (``in``/``not_in``/``between``
    and array operators split them on commas; ``is_null`` takes true/false). Raises ``ValidationError``
    for unknown fields or operators (listing the allowed ones) and for values that do not fit the field.
    """
    desc = descriptor(model)
    names = [fd.name for fd in desc.fields]
    preds: list[Pred] = []
    if isinstance(filters, str | bytes) or not isinstance(filters, Iterable):
        raise ValidationError(f"filters are (field, op, value) triples, not {filters!r}")
    for triple in filters:
        if not isinstance(triple, tuple | list) or len(triple) != 3:
            raise ValidationError(f"a filter is a (field, op, value) triple, not {triple!r}")
        name, op, value = triple
        if not isinstance(name, str) or not isinstance(op, str):
            raise ValidationError(f"a filter is a (field, op, value) triple with str field and op, not {triple!r}")
        if name not in names:
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValidationError(f"{desc.name} has no field {name!r}; {hint}filterable fields: {', '.join(names)}")
        build = OPS.get(op)
        if build is None:
            raise ValidationError(f"unknown filter operator {op!r} for {desc.name}.{name}; allowed: {', '.join(OPS)}")
        col = getattr(model, name)
        assert isinstance(col, Expr)
        preds.append(build(col, value))  # type: ignore[arg-type]
    return and_(*preds)
