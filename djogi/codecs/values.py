"""Validation of values bound for a column, before any SQL is sent."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import uuid
from typing import Any

import msgspec
from psycopg.types.json import Jsonb

from djogi.errors import ValidationError
from djogi.model import FieldDescriptor
from djogi.types import HEERANJID_TYPES, INT_RANGES, KEY_TYPES

__all__ = ["encode_value"]

_NAN = decimal.Decimal("NaN")
# NUMERIC holds at most 131072 digits before the decimal point and 16383 after it.
_NUMERIC_MAX_INT_DIGITS = 131072
_NUMERIC_MAX_SCALE = 16383
_SCALAR_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "float": (float, int),
    "bool": bool,
    "decimal": (decimal.Decimal, int),
    "date": dt.date,
    "datetime": dt.datetime,
    "time": dt.time,
    "timedelta": dt.timedelta,
    "uuid": uuid.UUID,
    "bytes": (bytes, bytearray, memoryview),
}


def _where(fd: FieldDescriptor, model: str | None) -> str:
    return f"{model}.{fd.name}" if model else fd.name


def _reject(fd: FieldDescriptor, model: str | None, problem: str, fix: str) -> ValidationError:
    return ValidationError(f"{_where(fd, model)} ({fd.sql_type}): {problem}; {fix}")


def _check_int(value: Any, sql_type: str) -> str | None:
    if type(value) is bool or not isinstance(value, int):
        return f"expected int, got {type(value).__name__}"
    low, high = INT_RANGES.get(sql_type, INT_RANGES["BIGINT"])
    if not low <= value <= high:
        return f"{value} is outside the {sql_type if sql_type in INT_RANGES else 'BIGINT'} range {low}..{high}"
    return None


def _check_scalar(kind: str, given: object, fd: FieldDescriptor) -> str | None:
    """Why ``value`` does not fit a column of value kind ``kind``, or None when it does."""
    value: Any = given
    if kind == "int":
        return _check_int(value, fd.sql_type.upper())
    if kind == "enum":
        enum_type = fd.enum_type
        if isinstance(value, enum_type):
            return None
        if isinstance(value, str) and value in enum_type._value2member_map_:
            return None
        return f"expected a {enum_type.__name__} member, got {value!r}"
    expected = _SCALAR_TYPES.get(kind)
    if expected is None:
        return None
    if not isinstance(given, expected) or (kind == "date" and isinstance(given, dt.datetime)):
        return f"expected {kind}, got {type(value).__name__}"
    if kind == "float" and type(value) is bool:
        return "expected float, got bool"
    if kind == "str":
        if "\x00" in value:
            return "text cannot contain NUL (\\x00) characters in PostgreSQL"
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return "text contains unpaired surrogates, which UTF-8 cannot encode"
    elif kind == "datetime":
        if value.tzinfo is None or value.utcoffset() is None:
            return "naive datetime (no timezone)"
    elif kind == "time":
        if value.tzinfo is not None:
            return "time with a timezone; TIME stores local times"
    elif kind == "decimal" and isinstance(value, decimal.Decimal) and value.is_snan():
        return "signaling NaN; PostgreSQL NUMERIC has only a quiet NaN"
    elif kind == "decimal" and isinstance(value, decimal.Decimal) and value.is_finite():
        sign_digits_exp = value.as_tuple()
        exponent = int(sign_digits_exp.exponent)
        digits = len(sign_digits_exp.digits)
        if exponent < -_NUMERIC_MAX_SCALE or digits + exponent > _NUMERIC_MAX_INT_DIGITS:
            return f"{value} is outside PostgreSQL NUMERIC's range"
    return None


_FIXES: dict[str, str] = {
    "int": "pass an int within the column's range, or declare a wider type (BigInt)",
    "datetime": "attach a timezone, e.g. value.replace(tzinfo=datetime.UTC)",
    "time": "pass a naive datetime.time",
    "str": "remove the offending characters",
}


def _check_heerid(fd: FieldDescriptor, value: Any) -> str | None:
    """A key value of a HeeRanjID key type (its plain int / UUID, or a ``heeranjid`` object)."""
    tp = fd.python_type
    if tp not in KEY_TYPES or isinstance(value, (tp, HEERANJID_TYPES)):
        return None
    return f"expected {tp.__name__}, got {type(value).__name__} {value!r}"


def _check_json(fd: FieldDescriptor, value: Any) -> str | None:
    if fd.value_kind == "jsonb" and isinstance(fd.python_type, type) and not isinstance(value, fd.python_type):
        return f"expected {fd.python_type.__name__}, got {type(value).__name__}"
    try:
        msgspec.json.encode(value, enc_hook=_json_probe)
    except (TypeError, ValueError) as exc:
        return f"not JSON-encodable: {exc}"
    return _json_content_problem(value)


def _json_content_problem(value: Any) -> str | None:
    """JSONB cannot hold NUL in strings, and JSON has no NaN/Infinity (msgspec would write null)."""
    if isinstance(value, str):
        return "JSONB text cannot contain NUL (\\u0000)" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"JSON has no {value!r}; store null or a finite number"
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        items = value
    elif isinstance(value, msgspec.Struct):
        items = msgspec.structs.astuple(value)
    else:
        return None
    for item in items:
        problem = _json_content_problem(item)
        if problem is not None:
            return problem
    return None


def _json_probe(obj: Any) -> Any:
    if isinstance(obj, HEERANJID_TYPES):
        return str(obj)
    raise TypeError(f"cannot encode {type(obj).__name__}")


def encode_value(fd: FieldDescriptor, value: object, *, model: str | None = None) -> object:
    """Validate ``value`` for column ``fd`` and return the value to bind.

    JSON/JSONB values come back wrapped for psycopg (``psycopg.types.json.Jsonb``); every other value
    is returned as is. ``model`` (the model's name) prefixes the field in messages.
    Raises ``ValidationError`` naming ``model.field`` and the fix: NULL for a NOT NULL column, a wrong
    type, an int outside SMALLINT/INTEGER/BIGINT, a str longer than ``max_length`` or holding NUL, a
    naive datetime, a tz-aware TIME, an interval or NUMERIC outside PostgreSQL's range.
    """
    if value is None:
        if fd.nullable:
            return None
        raise _reject(fd, model, "NULL (None) for a NOT NULL column", "pass a value or declare the field Optional")
    kind = fd.value_kind
    if kind in ("json", "jsonb"):
        problem = _check_json(fd, value)
        if problem is None:
            return Jsonb(value)
        raise _reject(fd, model, problem, "pass a JSON-encodable value")
    if kind == "heerid":
        problem = _check_heerid(fd, value)
        if problem is not None:
            raise _reject(fd, model, problem, "pass the target model's id value")
        return value
    if kind == "array":
        if not isinstance(value, list | tuple):
            raise _reject(fd, model, f"expected a list, got {type(value).__name__}", "pass a list")
        element_kind = _element_kind(fd)
        element_sql = fd.sql_type[:-2].upper() if fd.sql_type.endswith("[]") else fd.sql_type
        element_fd = msgspec.structs.replace(fd, value_kind=element_kind, sql_type=element_sql)
        for index, item in enumerate(value):
            if item is None:
                continue
            problem = _check_scalar(element_kind, item, element_fd)
            if problem is not None:
                raise _reject(fd, model, f"element {index}: {problem}", _FIXES.get(element_kind, "fix the element"))
        if element_kind == "decimal":
            return [_NAN if isinstance(item, decimal.Decimal) and item.is_nan() else item for item in value]
        return list(value)
    problem = _check_scalar(kind, value, fd)
    if problem is not None:
        raise _reject(fd, model, problem, _FIXES.get(kind, f"pass a {kind} value"))
    if fd.max_length is not None and len(value) > fd.max_length:  # type: ignore[arg-type]
        raise _reject(
            fd,
            model,
            f"{len(value)} characters, more than max_length={fd.max_length}",  # type: ignore[arg-type]
            "shorten the text or raise max_length",
        )
    if kind == "float" and isinstance(value, int):
        return float(value)
    if kind == "decimal" and isinstance(value, decimal.Decimal) and value.is_nan():
        return _NAN  # PostgreSQL refuses "-NaN"
    return value


_ELEMENT_KINDS: dict[Any, str] = {
    str: "str", int: "int", float: "float", bool: "bool", decimal.Decimal: "decimal", dt.date: "date",
    dt.datetime: "datetime", dt.time: "time", uuid.UUID: "uuid",
}  # fmt: skip


def _element_kind(fd: FieldDescriptor) -> str:
    return "enum" if fd.enum_type is not None else _ELEMENT_KINDS.get(fd.element_type, "str")
