"""The one table of value kinds: which Python values a column of each kind accepts, and what each becomes.

``normalize`` serves both ``where()`` (``djogi.algebra.expr.coerce``) and writes (``encode_value``), so a
value accepted by one is accepted by the other. ``encode_value`` adds what only a write needs: NULL for a
NOT NULL column, the column's own range (SMALLINT/INTEGER, REAL, ``NUMERIC(p, s)``, ``max_length``) and
NULL elements of arrays whose element type is not optional.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import math
import operator
import re
import struct
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from heeranjid import HeerId, HeerIdDesc, RanjId, RanjIdDesc
from psycopg.types.json import Jsonb

from djogi.codecs.encrypted import encrypt
from djogi.codecs.json import json_encode, jsonb_extras
from djogi.errors import ValidationError
from djogi.passwords import PasswordHash
from djogi.redact import hidden
from djogi.schema import FieldDescriptor
from djogi.types import INT_RANGES, TsVector, Vector

__all__ = [
    "PY_KINDS", "Check", "Refused", "checked_column", "column_value", "encode_unnest_cell", "encode_value",
    "kind_check", "normalize", "sealed", "unset_refused",
]  # fmt: skip

_NAN = decimal.Decimal("NaN")
# NUMERIC holds at most 131072 digits before the decimal point and 16383 after it.
_NUMERIC_MAX_INT_DIGITS = 131072
_NUMERIC_MAX_SCALE = 16383
_BIGINT = INT_RANGES["BIGINT"]
_BIGINT_LOW, _BIGINT_HIGH = _BIGINT
_REAL_MAX = struct.unpack("!f", b"\x7f\x7f\xff\xff")[0]
_NUMERIC_TYPMOD = re.compile(r"^\s*(?:NUMERIC|DECIMAL)\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)\s*$", re.IGNORECASE)
_VECTOR_DIMENSIONS = re.compile(r"^\s*VECTOR\s*\(\s*(\d+)\s*\)\s*$", re.IGNORECASE)
_TEXT_LENGTH = re.compile(
    r"^\s*(?:VARCHAR|CHARACTER\s+VARYING|CHAR|CHARACTER|BPCHAR)\s*\(\s*(\d+)\s*\)\s*$", re.IGNORECASE
)
_INT_IDS = (HeerId, HeerIdDesc)
_UUID_IDS = (RanjId, RanjIdDesc)


class Refused(Exception):
    """Why a value does not fit (``problem``) and how to fix it (``fix``); callers name the column."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(problem)
        self.problem, self.fix = problem, fix


def _wrong(value: object, expected: str) -> Refused:
    return Refused(f"cannot use {value!r} ({type(value).__name__}); expected {expected}")


def _n_str(v: Any, sql: str | None, enum: Any) -> object:
    if not isinstance(v, str):
        raise _wrong(v, "str")
    if "\x00" in v:
        raise Refused("text cannot contain NUL (\\x00) characters in PostgreSQL", "remove the NUL characters")
    if not v.isascii():
        try:
            v.encode()
        except UnicodeEncodeError:
            raise Refused("text contains unpaired surrogates, which UTF-8 cannot encode", "remove them") from None
    return v


def _n_int(v: Any, sql: str | None, enum: Any) -> object:
    if type(v) is int and _BIGINT_LOW <= v <= _BIGINT_HIGH:  # the common case, without the calls below
        return v
    if type(v) is bool or not isinstance(v, int):
        raise _wrong(v, "int")
    if not _BIGINT[0] <= v <= _BIGINT[1]:
        raise Refused(f"{v} is outside the BIGINT range", "pass an int within the column's range")
    return int(v)


def _n_count(v: Any, sql: str | None, enum: Any) -> object:
    """A number of rows (a named OFFSET): an int from 0 to the BIGINT maximum."""
    n = _n_int(v, sql, enum)
    if n < 0:  # type: ignore[operator]
        raise Refused(f"{v} is negative", "pass a number of rows, 0 or more")
    return n


def _n_float(v: Any, sql: str | None, enum: Any) -> object:
    if type(v) is float:
        return v
    if isinstance(v, float):
        return float(v)
    if type(v) is not bool and isinstance(v, int | decimal.Decimal):
        if isinstance(v, decimal.Decimal) and v.is_snan():
            raise Refused("signaling NaN has no DOUBLE PRECISION value", "pass math.nan")
        try:
            f = float(v)
        except OverflowError:
            f = math.inf
        if (math.isfinite(f) and decimal.Decimal(repr(f)) == v) or (isinstance(v, decimal.Decimal) and v.is_nan()):
            return f
        raise Refused(f"{v!r} has no exact DOUBLE PRECISION value", "pass a float")
    raise _wrong(v, "float, int or Decimal")


def _n_decimal(v: Any, sql: str | None, enum: Any) -> object:
    if isinstance(v, decimal.Decimal):
        if v.is_snan():
            raise Refused("signaling NaN; PostgreSQL NUMERIC has only a quiet NaN", "pass Decimal('NaN')")
        if v.is_nan():
            return _NAN  # PostgreSQL refuses "-NaN"
    elif type(v) is not bool and isinstance(v, int):
        v = decimal.Decimal(v)
    elif isinstance(v, float):  # the number the float prints as (its shortest repr)
        v = decimal.Decimal(repr(v)) if math.isfinite(v) else decimal.Decimal(v) if not math.isnan(v) else _NAN
    else:
        raise _wrong(v, "Decimal, int or float")
    if v.is_finite():
        sign_digits_exp = v.as_tuple()
        exponent = int(sign_digits_exp.exponent)
        if exponent < -_NUMERIC_MAX_SCALE or len(sign_digits_exp.digits) + exponent > _NUMERIC_MAX_INT_DIGITS:
            raise Refused(f"{v} is outside PostgreSQL NUMERIC's range", "pass a smaller Decimal")
    return v


def _n_bool(v: Any, sql: str | None, enum: Any) -> object:
    if isinstance(v, bool):
        return v
    raise _wrong(v, "bool")


def _n_date(v: Any, sql: str | None, enum: Any) -> object:
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    raise _wrong(v, "datetime.date")


def _n_datetime(v: Any, sql: str | None, enum: Any) -> object:
    if not isinstance(v, dt.datetime):
        raise _wrong(v, "a timezone-aware datetime.datetime")
    if v.utcoffset() is None:
        raise Refused(
            f"naive datetime {v!r} (no timezone)", "attach a timezone, e.g. value.replace(tzinfo=datetime.UTC)"
        )
    if v.year in (1, 9999) and not _in_utc_range(v):
        raise Refused(f"{v.isoformat()} is outside years 1-9999 in UTC, so it could not be read back into Python",
                      "pass an instant between 0001-01-01 and 9999-12-31 UTC")  # fmt: skip
    return v


def _in_utc_range(v: dt.datetime) -> bool:
    """Whether the aware ``v`` is an instant Python can hold in UTC (what a TIMESTAMPTZ column reads back as)."""
    try:
        v.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


def _n_timestamp(v: Any, sql: str | None, enum: Any) -> object:
    if not isinstance(v, dt.datetime):
        raise _wrong(v, "a naive datetime.datetime (a timestamp without time zone)")
    if v.tzinfo is not None:
        raise Refused(f"{v!r} has a timezone; a timestamp without time zone holds wall-clock times",
                      "pass a naive datetime (tzinfo=None), or compare a timestamptz expression")  # fmt: skip
    return v


def _n_time(v: Any, sql: str | None, enum: Any) -> object:
    if not isinstance(v, dt.time):
        raise _wrong(v, "datetime.time")
    if v.tzinfo is not None:
        raise Refused("time with a timezone; TIME stores local times", "pass a naive datetime.time")
    return v


def _instance(types: type | tuple[type, ...], expected: str) -> Callable[[Any, str | None, Any], object]:
    def check(v: Any, sql: str | None, enum: Any) -> object:
        if isinstance(v, types):
            return bytes(v) if isinstance(v, bytearray | memoryview) else v
        raise _wrong(v, expected)

    return check


def _n_password(v: Any, sql: str | None, enum: Any) -> object:
    if isinstance(v, PasswordHash):
        return v
    # never quote the value: it may be a password
    raise Refused(f"a password column takes a djogi.PasswordHash, not a {type(v).__name__}",
                  "hash the password first: PasswordHash.hash(password)")  # fmt: skip


def _n_tsvector(v: Any, sql: str | None, enum: Any) -> object:
    """A ``TsVector`` whose lexemes PostgreSQL stores as they are: non-empty text without NUL, at most 2046
    bytes, positions 1..16383 (each once per lexeme), weights A-D. Lexemes are stored in PostgreSQL's
    order, repeated ones merged (the value read back is the stored one)."""
    if not isinstance(v, TsVector):
        raise _wrong(v, "a djogi.TsVector")
    for lexeme in v.lexemes:
        size = len(lexeme.text.encode("utf-8", "surrogatepass"))
        if not 0 < size <= 2046 or "\x00" in lexeme.text:
            raise Refused(f"lexeme {lexeme.text!r}: a lexeme is 1 to 2046 bytes without NUL")
        positions = [p for p, _ in lexeme.positions]
        if len(set(positions)) != len(positions) or not all(type(p) is int and 0 < p < 16384 for p in positions):
            raise Refused(f"lexeme {lexeme.text!r}: positions are distinct ints from 1 to 16383, not {positions}")
        if not all(w in ("A", "B", "C", "D") for _, w in lexeme.positions):
            raise Refused(f"lexeme {lexeme.text!r}: weights are 'A', 'B', 'C' or 'D'")
    return v


def _n_vector(v: Any, sql: str | None, enum: Any) -> object:
    """A ``pgvector.Vector`` from a Vector, a list or tuple of numbers, or a 1-dimensional numpy array; its
    elements are single precision as the column stores them. NaN, infinities and overflow are refused."""
    if isinstance(v, Vector):
        vec = v
    elif isinstance(v, list | tuple):
        if not all(type(x) in (int, float) for x in v):
            raise _wrong(v, "a list of numbers (int or float)")
        vec = Vector(list(v))
    elif type(v).__name__ == "ndarray" and getattr(v, "ndim", None) == 1:
        vec = Vector(v)
    else:
        raise _wrong(v, "a pgvector Vector, a list of numbers or a 1-dimensional numpy array")
    values = vec.to_list()
    if not values:
        raise Refused("an empty vector", "a vector has at least one dimension")
    if not all(map(math.isfinite, values)):
        raise Refused(f"{v!r} holds NaN, an infinity or a number beyond single precision", "pass finite numbers")
    return vec


def _n_enum(v: Any, sql: str | None, enum: Any) -> object:
    if isinstance(v, enum):
        return v
    if isinstance(v, str) and v in enum._value2member_map_:
        return enum(v)
    raise _wrong(v, f"a {enum.__name__} member or one of {list(enum.labels())}")


def _n_heerid(v: Any, sql: str | None, enum: Any) -> object:
    """An id value: the BIGINT (HeerId kinds, int) or UUID (RanjId kinds, UUID) it is stored as."""
    if sql == "uuid":
        if isinstance(v, _UUID_IDS):
            return v.to_uuid()
        return _instance(uuid.UUID, "a RanjId or UUID")(v, sql, enum)
    if isinstance(v, _INT_IDS):
        return v.as_int()
    key = _n_int(v, sql, enum)
    if key < 0:  # type: ignore[operator]
        raise Refused(f"{v} is not a HeeRanjID key (they are 0..2**63-1)", "pass the target model's id value")
    return key


def _n_encrypted(v: Any, sql: str | None, enum: Any) -> object:
    # never quote the value: it is protected
    raise Refused("the column is encrypted at rest with a random nonce, so equal texts have different "
                  "ciphertexts and PostgreSQL cannot compare them",
                  "filter on another column, or compare in Python after reading the rows")  # fmt: skip


def _json_checker(typed: bool) -> Callable[[Any, str | None, Any], object]:
    """The check of a JSON document (returned as given): JSON-encodable, without NaN/Infinity, NUL or
    unpaired surrogates, none of which JSONB can store as given. A plain (``typed=False``: ``dict``, ``Any``)
    document must also read back as written: only None, bool, int, float, Decimal, str, list and dict
    with str keys. In a ``Jsonb[T]`` document the Struct's types restore the rest."""

    def check(v: Any, sql: str | None, enum: Any) -> object:
        try:
            json_encode(v)
        except (TypeError, ValueError, NotImplementedError, msgspec.EncodeError) as exc:
            raise Refused(f"not JSON-encodable: {exc}", "pass a JSON-encodable value") from None
        problem = _json_content_problem(v, typed=typed)
        if problem is not None:
            raise Refused(problem, "pass a JSON-encodable value")
        return v

    return check


_PLAIN_JSON = (type(None), bool, int, float, decimal.Decimal, str, list, dict)


def _json_content_problem(value: Any, *, typed: bool) -> str | None:
    """JSONB cannot hold NUL or unpaired surrogates in strings, and JSON has no NaN/Infinity (msgspec would
    write null); a plain dict's non-str keys would come back as strings (a Struct's typed keys do not)."""
    if isinstance(value, str):
        if "\x00" in value:
            return "JSONB text cannot contain NUL (\\u0000)"
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return "JSON text contains unpaired surrogates, which UTF-8 cannot encode"
        return None
    if isinstance(value, float | decimal.Decimal):
        finite = value.is_finite() if isinstance(value, decimal.Decimal) else math.isfinite(value)
        return None if finite else f"JSON has no {value!r}; store null or a finite number"
    if isinstance(value, dt.datetime | dt.time) and typed:
        offset = value.utcoffset()
        if offset is not None and offset % dt.timedelta(minutes=1):
            return f"{value!r} has a UTC offset of {offset}; JSON (RFC 3339) offsets are whole minutes: convert to UTC"
        return None
    if isinstance(value, dict):
        if not typed and any(not isinstance(key, str) for key in value):
            key = next(key for key in value if not isinstance(key, str))
            return f"object key {key!r} is not a str (JSON would store it as a string)"
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple):
        if not typed and not isinstance(value, list):
            return f"a {type(value).__name__} in plain JSON reads back as a list; pass a list"
        items = value
    elif not typed and not isinstance(value, _PLAIN_JSON):
        return (
            f"a {type(value).__name__} in plain JSON does not read back as one (it is stored as a JSON "
            "string or object); convert it, or declare the field Jsonb[SomeStruct]"
        )
    elif isinstance(value, msgspec.Struct):  # its fields, and the unknown keys a decoded Jsonb value carries
        extras = jsonb_extras(value)
        if extras:
            problem = _json_content_problem(dict(extras), typed=False)
            if problem is not None:
                return problem
        items = msgspec.structs.astuple(value)
        typed = True
    else:
        return None
    for item in items:
        problem = _json_content_problem(item, typed=typed)
        if problem is not None:
            return problem
    return None


_KINDS: dict[str, Callable[[Any, str | None, Any], object]] = {
    "str": _n_str,
    "int": _n_int,
    "count": _n_count,
    "float": _n_float,
    "decimal": _n_decimal,
    "bool": _n_bool,
    "date": _n_date,
    "datetime": _n_datetime,
    "time": _n_time,
    "timestamp": _n_timestamp,
    "timedelta": _instance(dt.timedelta, "datetime.timedelta"),
    "uuid": _instance(uuid.UUID, "uuid.UUID"),
    "bytes": _instance((bytes, bytearray, memoryview), "bytes"),
    "enum": _n_enum,
    "heerid": _n_heerid,
    "password": _n_password,
    "encrypted": _n_encrypted,
    "json": _json_checker(typed=False),
    "jsonb": _json_checker(typed=True),
    "tsvector": _n_tsvector,
    "vector": _n_vector,
}


def normalize(
    kind: str | None,
    value: object,
    *,
    sql: str | None = None,
    enum: Any = None,
    element: str | None = None,
    element_nullable: bool = False,
) -> object:
    """``value`` checked against value kind ``kind`` and normalised to what is sent (``int`` -> ``Decimal``
    for NUMERIC, an id -> its BIGINT/UUID, an enum label -> its member, bytes-like -> ``bytes``, an array
    -> a list of normalised elements). ``None`` and unknown kinds pass unchanged.

    ``sql`` tells an id column's storage (``"uuid"`` or not), ``enum`` the ``djogi.Enum`` of enum values and
    enum arrays, ``element`` an array's element kind. Raises ``Refused`` (the problem and the fix).
    """
    if value is None:
        return None
    if kind == "array":
        return _array(value, element, element_nullable, enum)
    check = _KINDS.get(kind) if kind is not None else None
    return value if check is None else check(value, sql, enum)


def _array(value: object, element: str | None, element_nullable: bool, enum: Any) -> list[Any]:
    """An array value for ``normalize``: a list of its elements, each checked for ``element``."""
    if not isinstance(value, list | tuple):
        raise _wrong(value, "a list")
    check = _KINDS.get(element) if element is not None else None
    items: list[Any] = []
    for index, item in enumerate(value):
        if item is None:
            if not element_nullable:
                raise Refused(f"element {index} is None", "declare the elements optional (list[T | None])")
            items.append(None)
            continue
        try:
            items.append(item if check is None else check(item, None, enum))
        except Refused as refused:
            raise Refused(f"element {index}: {refused.problem}", refused.fix) from None
    return items


Check = Callable[[Any, str | None, Any], object]
"""``check(value, sql, enum)``: a value (not None) checked and normalised for one value kind (``Refused``)."""


def _unchecked(value: object, sql: str | None, enum: Any) -> object:
    return value


def kind_check(kind: str | None, element: str | None = None, element_nullable: bool = False) -> Check:
    """The check ``normalize(kind, value, sql=sql, enum=enum, element=..., element_nullable=...)`` applies to
    a value that is not None, chosen once for callers that check many values of one kind (a prepared
    query's parameters): ``check(value, sql, enum)``, raising ``Refused`` as ``normalize`` does."""
    if kind == "array":
        return lambda value, sql, enum: _array(value, element, element_nullable, enum)
    return (_KINDS.get(kind) if kind is not None else None) or _unchecked


# ------------------------------------------------------------------------------------------ writes


def _where(fd: FieldDescriptor, model: str | None) -> str:
    return f"{model}.{fd.name}" if model else fd.name


def _reject(fd: FieldDescriptor, model: str | None, problem: str, fix: str) -> ValidationError:
    return ValidationError(f"{_where(fd, model)} ({fd.sql_type}): {problem}{'; ' + fix if fix else ''}")


def _int_in_range(value: int, sql_type: str) -> int:
    low, high = INT_RANGES.get(sql_type, _BIGINT)
    if not low <= value <= high:
        name = sql_type if sql_type in INT_RANGES else "BIGINT"
        raise Refused(
            f"{value} is outside the {name} range {low}..{high}",
            "pass an int within the column's range, or declare a wider type (BigInt)",
        )
    return value


_DOUBLE = "declare the field float (DOUBLE PRECISION)"


def _real(value: float) -> float:
    """``value`` as a REAL stores it (rounded to single precision); overflow and underflow refused."""
    if not math.isfinite(value):
        return value
    if abs(value) > _REAL_MAX:
        rounded = math.inf
    else:
        (rounded,) = struct.unpack("!f", struct.pack("!f", value))
    if math.isinf(rounded):
        raise Refused(f"{value!r} overflows REAL (at most {_REAL_MAX!r})", _DOUBLE)
    if rounded == 0.0 and value != 0.0:
        raise Refused(f"{value!r} underflows REAL (it would be stored as 0)", _DOUBLE)
    return float(rounded)


def _numeric(value: decimal.Decimal, precision: int, scale: int) -> decimal.Decimal:
    """``value`` for a ``NUMERIC(precision, scale)`` column: more fractional digits than ``scale``, more
    integer digits than ``precision - scale`` or an infinity are refused (PostgreSQL would round or fail)."""
    if value.is_nan():
        return value
    if value.is_infinite():
        raise Refused(f"NUMERIC({precision}, {scale}) cannot hold {value}", "pass a finite Decimal")
    _, digits, exponent = value.as_tuple()
    past = -int(exponent) - scale  # how many digits lie past the scale (only zeros may)
    if past > 0 and any(digits[-past:]):
        raise Refused(
            f"{value} has more than {scale} decimal places (PostgreSQL would round it)",
            f"round it first, e.g. value.quantize(Decimal('1e-{scale}'))" if scale else "round it first",
        )
    if value.adjusted() >= precision - scale and value != 0:
        raise Refused(
            f"{value} has more than {precision - scale} integer digits for NUMERIC({precision}, {scale})",
            "pass a smaller value or raise the precision",
        )
    return value


def _column_check(fd: FieldDescriptor) -> Callable[[Any], Any] | None:
    """The column-level check (and rounding) for a normalised non-NULL value of ``fd`` (of each element,
    for an array), or None when the value kind's own check is all there is."""
    if fd.value_kind == "array":
        return _check_for(_element_kind(fd), fd.sql_type[:-2].upper() if fd.sql_type.endswith("[]") else "", None)
    return _check_for(fd.value_kind, fd.sql_type.upper(), _max_length(fd))


def _max_length(fd: FieldDescriptor) -> int | None:
    """The most characters ``fd`` holds: ``max_length``, or the n of a ``SqlType("VARCHAR(n)")`` / ``CHAR(n)``."""
    return fd.max_length if fd.max_length is not None else _declared_length(fd.sql_type)


@functools.cache
def _declared_length(sql_type: str) -> int | None:
    declared = _TEXT_LENGTH.match(sql_type)
    return None if declared is None else int(declared.group(1))


@functools.cache
def _check_for(kind: str, sql: str, max_length: int | None) -> Callable[[Any], Any] | None:
    if kind == "int":
        return lambda v: _int_in_range(v, sql)
    if kind == "float" and sql in ("REAL", "FLOAT4"):
        return _real
    if kind == "decimal":
        typmod = _NUMERIC_TYPMOD.match(sql)
        if typmod is not None:
            precision, scale = int(typmod.group(1)), int(typmod.group(2) or 0)
            return lambda v: _numeric(v, precision, scale)
    if kind == "vector":
        dimensions = _VECTOR_DIMENSIONS.match(sql)
        if dimensions is not None:
            return functools.partial(_dimensioned, dimensions=int(dimensions.group(1)))
    if kind == "str" and max_length is not None:
        fixed = sql.startswith(("CHAR(", "CHARACTER(", "BPCHAR("))

        def short(v: str) -> str:
            if len(v) > max_length:
                raise Refused(f"{len(v)} characters, more than the {max_length} of {sql or 'max_length'} (PostgreSQL "
                              "refuses it, or drops the extra characters when they are spaces)", "shorten it")
            if fixed and v.endswith(" "):
                raise Refused(f"trailing spaces in a {sql} value (PostgreSQL pads {sql} with spaces, so they would "
                              "not read back)", "strip them: value.rstrip(' ')")  # fmt: skip
            return v

        return short
    return None


def _dimensioned(value: Vector, dimensions: int) -> Vector:
    if value.dimensions() != dimensions:
        raise Refused(f"{value.dimensions()} dimensions, not {dimensions}", f"pass {dimensions} numbers")
    return value


def unset_refused(fd: FieldDescriptor, model: str | None) -> ValidationError:
    """The error for writing ``UNSET`` to a field the database does not fill (it has no value to store)."""
    return _reject(fd, model, "UNSET (a field not read by only()/defer() or a partial RETURNING, or left unset)",
                   "give it a value: only the fields the database fills (key, timestamps, db_default) may be UNSET")


def column_value(fd: FieldDescriptor, value: object, *, model: str | None = None) -> object:
    """``value`` checked and normalised for column ``fd`` (``normalize`` plus the column's own range), as
    it is stored: what a write returns. Raises ``ValidationError`` naming ``model.field`` (for any value of
    a generated column, too: the database computes it)."""
    if fd.generated is not None:
        raise _reject(fd, model, f"a generated column (GENERATED ALWAYS AS ({fd.generated})) cannot be written",
                      "leave it UNSET: the database computes it")  # fmt: skip
    if value is None:
        if fd.nullable:
            return None
        raise _reject(fd, model, "NULL (None) for a NOT NULL column", "pass a value or declare the field Optional")
    if value is msgspec.UNSET:
        raise unset_refused(fd, model)
    try:
        if fd.value_kind == "array":
            items = normalize("array", value, enum=fd.enum_type, element=_element_kind(fd),
                              element_nullable=fd.element_nullable)  # fmt: skip
            check = _column_check(fd)
            if check is None:
                return items
            assert isinstance(items, list)
            for index, item in enumerate(items):
                try:
                    items[index] = None if item is None else check(item)
                except Refused as refused:
                    raise Refused(f"element {index}: {refused.problem}", refused.fix) from None
            return items
        kind = "str" if fd.value_kind == "encrypted" else fd.value_kind  # checked as the text it holds
        normalized = normalize(kind, value, sql=_id_storage(fd), enum=fd.enum_type)
        if fd.value_kind == "jsonb" and isinstance(fd.python_type, type) and not isinstance(value, fd.python_type):
            raise _wrong(value, fd.python_type.__name__)
        check = _column_check(fd)
        return normalized if check is None else check(normalized)
    except Refused as refused:
        raise _reject(fd, model, refused.problem, refused.fix) from None


def encode_value(fd: FieldDescriptor, value: object, *, model: str | None = None) -> object:
    """Validate ``value`` for column ``fd`` (``column_value``) and return the value to bind.

    JSON/JSONB values come back wrapped for psycopg (``psycopg.types.json.Jsonb``). ``model`` (the
    model's name) prefixes the field in messages. Raises ``ValidationError`` naming ``model.field`` and
    the fix: NULL for a NOT NULL column or (unless declared optional) inside an array, a wrong type, an
    int outside SMALLINT/INTEGER/BIGINT, a REAL overflow or underflow, a Decimal with more digits than its
    ``NUMERIC(p, s)`` holds, a str longer than ``max_length`` or holding NUL or unpaired surrogates, a
    naive datetime, a tz-aware TIME, JSON holding NaN/Infinity or non-str keys.
    """
    normalized = sealed(fd, column_value(fd, value, model=model), model)
    if normalized is not None and fd.value_kind in ("json", "jsonb"):
        return Jsonb(normalized)
    return _naive_text(normalized) if fd.value_kind == "timestamp" else normalized


def _naive_text(value: Any) -> Any:
    """A naive datetime as its ISO text (bound for a TIMESTAMP column: the adapters refuse naive datetimes,
    meant for TIMESTAMPTZ); None as it is."""
    return value if value is None else value.isoformat(" ")


def sealed(fd: FieldDescriptor, stored: object, model: str | None) -> object:
    """What is sent for ``stored`` (a ``column_value``): an encrypted field's text as its ciphertext
    (``djogi.codecs.encrypted``, sealed for ``model.field``), a protected field's value as ``redact.hidden``
    makes it (never shown in logged parameters), any other value unchanged."""
    if fd.protected is None or stored is None:
        return stored
    if fd.value_kind != "encrypted":
        return hidden(stored) if fd.protected.sensitivity != "none" else stored
    if model is None:
        raise ValidationError(f"{fd.name}: an encrypted field is written through its model (its name is part of "
                              "the encryption)")  # fmt: skip
    assert isinstance(stored, str)
    return encrypt(stored, model, fd.name)


def encode_unnest_cell(fd: FieldDescriptor, value: object, *, model: str | None = None) -> object:
    """``value`` checked for column ``fd`` (``column_value``) as one cell of a column sent as an array
    (``unnest($n::type[])``): JSON as its text, and an array as the JSON text of its elements' texts, since
    arrays of different lengths cannot share one PostgreSQL array (the statement rebuilds them with
    ``jsonb_array_elements_text``). Floats and Decimals go as their text, so NaN, the infinities and every
    digit survive (JSON numbers have neither), and datetimes in UTC (JSON's RFC 3339 offsets have whole
    minutes; 1893 Berlin was UTC+00:53:28). Errors as ``column_value``."""
    normalized = sealed(fd, column_value(fd, value, model=model), model)
    if normalized is None:
        return None
    if fd.value_kind in ("json", "jsonb"):
        return json_encode(normalized).decode()
    if fd.value_kind == "array":
        return json_encode([_element_text(v) for v in normalized]).decode()  # type: ignore[attr-defined]
    return _naive_text(normalized) if fd.value_kind == "timestamp" else normalized


def _element_text(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return value


def checked_column(fd: FieldDescriptor, values: Sequence[object], *, model: str | None = None) -> list[Any] | None:
    """``values`` (one per row, ``UNSET`` kept) checked like ``column_value`` and turned into what the model
    holds once they are stored; None when every value is stored exactly as given.

    Columns whose values all have the field's exact type are checked without a per-value call (one join of
    all text, the min/max of integers ...), so checking 100k rows stays cheap.
    """
    if fd.generated is None and _stored_as_given(fd, values):
        return None
    filled = fd.db_filled  # UNSET is kept only where the database fills the column; elsewhere it is refused
    out = [v if v is msgspec.UNSET and filled else column_value(fd, v, model=model) for v in values]
    return out if any(a is not b for a, b in zip(out, values, strict=True)) else None


_AWARE_ZONES = (dt.timezone, zoneinfo.ZoneInfo)  # a datetime holding one of these is aware (utcoffset not None)
_EXACT: dict[str, type] = {
    "float": float, "bool": bool, "date": dt.date, "uuid": uuid.UUID, "timedelta": dt.timedelta, "bytes": bytes,
}  # fmt: skip


def _stored_as_given(fd: FieldDescriptor, given: Sequence[object]) -> bool:
    """Whether every value certainly passes ``column_value`` unchanged (False: check each one)."""
    values: Any = given
    types = set(map(type, values))
    mixed = len(types) > 1  # values holds None or UNSET besides (filter them out)
    if fd.nullable:
        types.discard(type(None))
    if fd.db_filled:
        types.discard(type(msgspec.UNSET))
    if len(types) != 1:
        return not types
    (tp,) = types
    if mixed:
        values = [v for v in values if type(v) is tp]
    kind = fd.value_kind
    if kind == "str" and tp is str and _max_length(fd) is None:
        text = "".join(values)
        if "\x00" in text:
            return False
        try:
            return text.isascii() or bool(text.encode())
        except UnicodeEncodeError:
            return False
    if kind == "int" and tp is int:
        low, high = INT_RANGES.get(fd.sql_type.upper(), _BIGINT)
        return bool(low <= min(values) and max(values) <= high)
    if kind == "datetime" and tp is dt.datetime:
        zones = set(map(operator.attrgetter("tzinfo"), values))  # (one per zone, not one utcoffset per value)
        if not all(type(zone) in _AWARE_ZONES for zone in zones) and None in set(map(dt.datetime.utcoffset, values)):
            return False
        return _in_utc_range(min(values)) and _in_utc_range(max(values))
    if kind == "timestamp" and tp is dt.datetime:
        return set(map(operator.attrgetter("tzinfo"), values)) == {None}
    if kind == "time" and tp is dt.time:
        return set(map(operator.attrgetter("tzinfo"), values)) == {None}
    if kind == "float":
        return tp is float and fd.sql_type.upper() not in ("REAL", "FLOAT4")
    if kind == "decimal" and tp is decimal.Decimal:
        return _decimals_as_given(values, fd.sql_type)
    if kind == "heerid":  # key values are plain UUIDs, or ints in 0..2**63-1
        if _id_storage(fd) == "uuid":
            return tp is uuid.UUID
        return tp is int and min(values) >= 0 and max(values) <= _BIGINT[1]
    if kind == "enum":
        return tp is fd.enum_type
    return _EXACT.get(kind) is tp


_PLAIN_SUM_DIGITS = 1000  # the exact sum's digits for a plain NUMERIC column (more: check each value)
_ZERO = decimal.Decimal(0)


def _decimals_as_given(numbers: Sequence[decimal.Decimal], sql_type: str) -> bool:
    """Whether ``numbers`` fit the NUMERIC column as they are, without a per-value call in Python.

    Their exact sum (a context sized for the column, signalling any dropped digit) has the smallest exponent
    of them all, so no value has a digit past the scale when the sum has none, and it is finite only when
    every value is; min and max bound the integer digits. False (check each value) for a NaN, an infinity,
    or values whose sum the context cannot hold exactly."""
    typmod = _NUMERIC_TYPMOD.match(sql_type)
    if typmod is None:
        digits, scale, integer_digits = _PLAIN_SUM_DIGITS, _NUMERIC_MAX_SCALE, _NUMERIC_MAX_INT_DIGITS - 1
    else:  # n values below 10**(p - s) with at most s decimal places sum exactly in p + len(str(n)) digits
        precision, scale = int(typmod.group(1)), int(typmod.group(2) or 0)
        digits, integer_digits = precision + len(str(len(numbers))), precision - scale
    exact = decimal.Context(digits, Emin=decimal.MIN_EMIN, Emax=decimal.MAX_EMAX,
                            traps=[decimal.Rounded, decimal.InvalidOperation])  # fmt: skip
    try:
        with decimal.localcontext(exact):
            total = sum(numbers, _ZERO)
    except decimal.DecimalException:  # a digit dropped, a signaling NaN, inf - inf: check each value
        return False
    if not total.is_finite() or int(total.as_tuple().exponent) < -scale:
        return False
    bound = decimal.Decimal((0, (1,), integer_digits))  # 10**integer_digits, whatever the caller's context
    return bool(-bound < min(numbers) and max(numbers) < bound)


def _id_storage(fd: FieldDescriptor) -> str | None:
    """``"uuid"`` for a key column stored as UUID (the RanjId kinds), else None (BIGINT)."""
    return "uuid" if fd.value_kind == "heerid" and fd.sql_type.upper() == "UUID" else None


PY_KINDS: dict[Any, str] = {
    str: "str", int: "int", float: "float", bool: "bool", decimal.Decimal: "decimal", dt.date: "date",
    dt.datetime: "datetime", dt.time: "time", uuid.UUID: "uuid", dt.timedelta: "timedelta", bytes: "bytes",
}  # fmt: skip
"""The value kind of each plain Python type (array elements, values compared without a column)."""


def _element_kind(fd: FieldDescriptor) -> str:
    return "enum" if fd.enum_type is not None else PY_KINDS.get(fd.element_type, "str")


