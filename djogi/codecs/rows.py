"""Fast row decoding: psycopg binary tuples -> frozen model instances.

``row_decoder(Model, columns)`` compiles, once per ``(Model, columns)``, a small Python function that
unpacks each tuple and calls the model's constructor with keyword arguments: no per-row dict, no
per-column loop. Columns whose loaded value is already final (str, int, Decimal, datetime, ...) are
passed through (keys included: a HeerId is a plain ``int``, a RanjId a plain ``uuid.UUID``); the others
get one inline conversion: label -> ``djogi.Enum`` member, JSONB document -> ``Jsonb[T]`` value, a
``CHAR(n)`` value without its padding. A row
that cannot be decoded raises ``DecodeError`` naming ``Model.field``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import msgspec

from djogi.codecs.encrypted import decrypt
from djogi.codecs.json import decode_jsonb
from djogi.codecs.search import vector_value
from djogi.errors import DecodeError
from djogi.passwords import PasswordHash
from djogi.schema import FieldDescriptor, ModelBase, descriptor

__all__ = ["RowDecoder", "row_decoder"]

M = TypeVar("M", bound=ModelBase)

_DECODE_ERRORS = (KeyError, ValueError, TypeError, OverflowError, DecodeError)
_array_header = struct.Struct("!iiiii")
_int4 = struct.Struct("!i")


class RowDecoder(Generic[M]):
    """Turns rows (tuples in ``columns`` order) into ``model`` instances.

    ``decode_rows(rows)`` and ``decode_row(row)`` raise ``DecodeError`` naming the model, field (and
    row index) for a value that does not fit its field. ``row_factory`` is a psycopg row factory
    building models inside the fetch (``conn.cursor(binary=True, row_factory=dec.row_factory)``), the
    fastest way to load models: each tuple is freed as soon as its model exists.
    """

    __slots__ = ("columns", "decode_row", "decode_rows", "model")

    def __init__(
        self,
        model: type[M],
        columns: tuple[str, ...],
        decode_rows: Callable[[list[Any]], list[M]],
        decode_row: Callable[[Sequence[Any]], M],
    ) -> None:
        self.model = model
        self.columns = columns
        self.decode_rows = decode_rows
        self.decode_row = decode_row

    def row_factory(self, cursor: object) -> Callable[[Sequence[Any]], M]:
        """psycopg row factory: the cursor's rows become models (via ``decode_row``)."""
        return self.decode_row


def _enum_members(enum_type: Any) -> dict[object, Any]:
    """Label -> member, keyed by both ``str`` and ``bytes`` (an enum of unregistered OID loads as bytes)."""
    members: dict[object, Any] = {}
    for member in enum_type:
        members[member.value] = member
        members[member.value.encode()] = member
    return members


def _parse_text_array(data: bytes | memoryview) -> list[bytes | None]:
    """The elements of a 1-D binary array of a text-like type (an enum array whose OID psycopg lacks)."""
    ndim, _flags, _oid, length, _lbound = _array_header.unpack_from(data, 0) if len(data) >= 20 else (0, 0, 0, 0, 0)
    if ndim == 0:
        return []
    if ndim != 1:
        raise ValueError(f"expected a one-dimensional array, got {ndim} dimensions")
    out: list[bytes | None] = []
    pos = 20
    for _ in range(length):
        (size,) = _int4.unpack_from(data, pos)
        pos += 4
        if size < 0:
            out.append(None)
        else:
            out.append(bytes(data[pos : pos + size]))
            pos += size
    return out


def _enum_array(value: Any, members: dict[object, Any]) -> list[Any]:
    items = _parse_text_array(value) if isinstance(value, bytes | memoryview) else value
    return [None if item is None else members[item] for item in items]


def _converter(model_name: str, fd: FieldDescriptor) -> Callable[[Any], Any] | None:
    """The conversion a loaded value of ``fd`` needs, or None when psycopg's value is final."""
    kind = fd.value_kind
    if kind == "enum":
        return _enum_members(fd.enum_type).__getitem__
    if kind == "array" and fd.enum_type is not None:
        return functools.partial(_enum_array, members=_enum_members(fd.enum_type))
    if kind == "vector":
        return vector_value
    if kind == "jsonb":
        return functools.partial(decode_jsonb, tp=fd.python_type, where=f"{model_name}.{fd.name}")
    if kind == "password":
        return PasswordHash
    if kind == "encrypted":
        return functools.partial(decrypt, model=model_name, field=fd.name)
    if kind == "str" and fd.sql_type.upper().startswith(("CHAR(", "CHARACTER(", "BPCHAR(")):
        return _unpadded  # values are written without trailing spaces (codecs.values refuses them)
    return None


def _unpadded(value: str) -> str:
    """A ``CHAR(n)`` value without the spaces PostgreSQL padded it with."""
    return value.rstrip(" ")


def _build(model: type[M], columns: tuple[str, ...]) -> RowDecoder[M]:
    desc = descriptor(model)
    by_column = {fd.column: fd for fd in desc.fields}
    unknown = [c for c in columns if c not in by_column]
    if unknown:
        raise ValueError(f"{desc.name} has no column(s) {unknown}; its columns are {list(desc.columns)}")
    missing = desc.missing_required(columns)
    if missing:
        raise ValueError(f"decoding {desc.name} needs the column(s) of required field(s) {missing}")
    fields = [by_column[c] for c in columns]
    converters = [_converter(desc.name, fd) for fd in fields]

    def diagnose(row: Sequence[Any], index: int | None) -> DecodeError:
        where = "" if index is None else f" (row {index})"
        if len(row) != len(columns):
            return DecodeError(f"{desc.name}: row has {len(row)} values for {len(columns)} columns{where}")
        for fd, conv, value in zip(fields, converters, row, strict=True):
            if conv is not None and value is not None:
                try:
                    conv(value)
                except DecodeError as exc:
                    return type(exc)(f"{exc}{where}")
                except _DECODE_ERRORS as exc:
                    return DecodeError(f"{desc.name}.{fd.name}: cannot decode {value!r}: {exc!r}{where}")
        return DecodeError(f"{desc.name}: row does not fit the model{where}: {row!r}")

    def locate(rows: list[Any]) -> DecodeError:
        for index, row in enumerate(rows):
            try:
                env["decode_row"](row)
            except DecodeError as exc:
                return type(exc)(f"{exc} (row {index})")
        return DecodeError(f"{desc.name}: rows do not fit the model")

    env: dict[str, Any] = {"_M": model, "_UNSET": msgspec.UNSET, "_ERRORS": _DECODE_ERRORS, "_diagnose": diagnose,
                           "_locate": locate}
    args: list[str] = []
    for i, (fd, conv) in enumerate(zip(fields, converters, strict=True)):
        var = f"c{i}"
        if conv is None:
            args.append(f"{fd.name}={var}")
            continue
        env[f"_f{i}"] = conv
        call = f"_f{i}({var})"
        args.append(f"{fd.name}=({call} if {var} is not None else None)" if fd.nullable else f"{fd.name}={call}")
    # A field whose column was not read is UNSET, never its default: a default would pass for the stored
    # value, and ``save()`` (which skips UNSET fields) would write it over the row's real one.
    args += [f"{fd.name}=_UNSET" for fd in desc.fields if fd.column not in columns]
    build = f"_M({', '.join(args)})"  # a vectorcall (see djogi.vectorcall): as fast as for a plain Struct
    names = ", ".join(f"c{i}" for i in range(len(columns))) + ("," if len(columns) == 1 else "")
    # try/except costs nothing on Python 3.11+ until an exception is raised.
    source = f"""
def decode_row(row):
    try:
        {names} = row
        return {build}
    except _ERRORS as exc:
        raise _diagnose(row, None) from exc

def decode_rows(rows):
    try:
        return [{build} for {names} in rows]
    except _ERRORS as exc:
        raise _locate(rows) from exc
"""
    exec(compile(source, f"<djogi row decoder {desc.name}>", "exec"), env)
    return RowDecoder(model, columns, env["decode_rows"], env["decode_row"])


_cache: dict[tuple[type, tuple[str, ...]], RowDecoder[Any]] = {}


def row_decoder(model: type[M], columns: tuple[str, ...]) -> RowDecoder[M]:
    """The decoder of ``model`` rows holding ``columns`` (column names, in order); cached.

    A field whose column is left out is ``UNSET`` (not its default, which would pass for the stored value).
    Raises ``TypeError`` for a class that is not a model and ``ValueError`` for a column the model lacks
    or a required field whose column is missing.
    """
    key = (model, columns)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _build(model, columns)
    return found


@functools.cache
def projection_converter(spec: tuple[Any, ...]) -> Callable[[Any], Any] | None:
    """The conversion of one projected value (a ``TupleRows``/``StructRows`` ``decode`` spec): ``("field",
    Model, name)`` decodes like that model field, ``("enum", EnumType)`` into members; None when final."""
    if spec[0] == "field":
        desc = descriptor(spec[1])
        return _converter(desc.name, desc.field(spec[2]))
    members = _enum_members(spec[1])
    return functools.partial(_member, members=members)


def _member(value: Any, members: dict[object, Any]) -> Any:
    return members[value]


def projection_needs_converter(spec: tuple[Any, ...]) -> bool:
    """Whether values of ``spec`` need converting after psycopg loads them."""
    return projection_converter(spec) is not None


def tuple_converter(specs: tuple[Any, ...]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """``row -> tuple`` applying each spec's conversion to its non-NULL value (``specs`` empty: ``tuple``)."""
    if not specs:
        return tuple
    converters = [None if s is None else projection_converter(s) for s in specs]

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        return tuple(
            value if conv is None or value is None else conv(value)
            for conv, value in zip(converters, row, strict=True)
        )

    return convert
