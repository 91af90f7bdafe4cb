"""The one path from a statement's result shape to decoded rows, for every terminal, prefetch and ``raw()``.

``row_maker(shape)`` is the function turning one binary-loaded row (a tuple in SQL column order) into its
value: a model instance (``codecs.row_decoder``), a Struct, a tuple of parts for joined rows, a tuple with
converted values; None when psycopg's tuple is already final. ``row_factory(shape)`` wraps it as a psycopg
row factory, which ``executor.protocol.decode`` calls with the result (a cursor's attributes: ``pgresult``,
``adapters``, ``description``) and whose maker psycopg's loader calls per row, so each tuple is freed as soon
as its value exists; ``into_factory(into)`` does the same for ``raw(into=...)``, reading the column names
off the result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from psycopg.pq import Format

from djogi.algebra.results import JoinedRows, ModelRows, ResultShape, StructRows, TupleRows
from djogi.codecs import row_decoder, tuple_converter
from djogi.errors import DecodeError, ValidationError
from djogi.model import Model, descriptor

__all__ = ["RowFactory", "RowMaker", "into_factory", "row_factory", "row_maker"]

RowMaker = Callable[[Sequence[Any]], Any]
RowFactory = Callable[[Any], RowMaker]


class NamedRows(msgspec.Struct, frozen=True):
    """``raw(into=Struct)`` rows: each row converted into ``struct_type`` by column name (``msgspec.convert``)."""

    struct_type: type[msgspec.Struct]
    columns: tuple[str, ...]


_RAW_BYTES_KINDS = ("bytes", "enum")
"""Field kinds that take a value of a type psycopg has no loader for (loaded as raw bytes)."""

_TYPED_COLUMNS = {"tsvector": "tsvector", "vector": "vector"}
"""Column types loaded as a djogi type of their own, and the one field kind that may take it."""


def checked_factory(make: RowMaker, model: type[Any], columns: tuple[str, ...]) -> RowFactory:
    """A row factory building rows with ``make`` once it has checked, per result, that no column of ``model``
    arrives as raw wire bytes or as another type's value: a row with a column whose type psycopg cannot load (an
    extension's type), or one loaded as a djogi type (``TsVector``, ``Vector``), read into a field of another
    kind raises ``DecodeError`` naming the field, instead of handing the field a value of the wrong type. The
    column types of each result shape are checked once."""
    desc = descriptor(model)
    by_column = {fd.column: fd for fd in desc.fields}
    fields = [by_column.get(c) for c in columns]
    n = len(fields)
    read_oids = _oid_reader(n)
    seen: set[tuple[int, ...]] = set()
    last: list[tuple[int, ...]] = [()]  # the shape of the previous result (one comparison when it repeats)

    def factory(cursor: Any) -> RowMaker:
        result = cursor.pgresult
        if result is None:
            return make
        oids = read_oids(result.ftype)  # (past the last column: 0, which no checked shape holds)
        if oids == last[0] or result.nfields != n:  # (another count: a kept cursor's previous statement)
            return make
        if oids not in seen:
            for i, (oid, fd) in enumerate(zip(oids, fields, strict=True)):
                if fd is None or fd.value_kind in _RAW_BYTES_KINDS or fd.enum_type is not None:
                    continue
                info = cursor.adapters.types.get(oid)
                typed = _TYPED_COLUMNS.get(info.name if info is not None else "")
                if cursor.adapters.get_loader(oid, Format.BINARY) is None or typed not in (None, fd.value_kind):
                    shown = cursor.description[i].type_display if cursor.description else f"oid {oid}"
                    return _refuse(
                        f"{desc.name}.{fd.name}: its column {fd.column!r} is of type {shown}, which djogi cannot "
                        f"decode into {fd.value_kind}; declare the field with that type's annotation or read "
                        "the column as bytes"
                    )
            seen.add(oids)
        last[0] = oids
        return make

    return factory


@functools.cache
def _oid_reader(n: int) -> Callable[[Callable[[int], int]], tuple[int, ...]]:
    """``ftype -> (ftype(0), ..., ftype(n - 1))``, the calls written out: half the instructions of
    ``tuple(map(ftype, range(n)))``, which this check runs once per result."""
    calls = "".join(f"ftype({i}), " for i in range(n))
    reader: Callable[[Callable[[int], int]], tuple[int, ...]] = eval(f"lambda ftype: ({calls})")
    return reader


def _refuse(message: str) -> RowMaker:
    """A row maker raising ``DecodeError(message)`` for any row (a result with no rows decodes nothing)."""

    def make(row: Sequence[Any]) -> Any:
        raise DecodeError(message)

    return make


def row_maker(shape: ResultShape | NamedRows) -> RowMaker | None:
    """``row -> value`` for rows of ``shape``; None for plain tuples (no conversion, or no rows)."""
    if isinstance(shape, ModelRows):
        return row_decoder(shape.model, shape.columns).decode_row
    if isinstance(shape, StructRows):
        return _struct_maker(shape.struct_type, shape.decode)
    if isinstance(shape, JoinedRows):
        return _joined_maker(shape)
    if isinstance(shape, TupleRows) and shape.decode:
        return tuple_converter(shape.decode)
    if isinstance(shape, NamedRows):
        names, into = shape.columns, shape.struct_type
        return lambda row: msgspec.convert(dict(zip(names, row, strict=True)), into)
    return None


def _struct_maker(struct_type: Any, decode: tuple[Any, ...]) -> RowMaker:
    """``values -> struct_type(*values)``: a ``StructRows`` row built positionally, converted per ``decode``."""
    if not decode:
        return lambda values: struct_type(*values)
    convert = tuple_converter(decode)
    return lambda values: struct_type(*convert(values))


def _joined_maker(shape: JoinedRows) -> RowMaker:
    """``row -> tuple`` with one value per part of ``shape`` (None for an all-NULL optional span)."""
    steps: list[tuple[int, int, RowMaker, bool]] = []
    start = 0
    for part, optional in zip(shape.parts, shape.optional, strict=True):
        width = part.n if isinstance(part, TupleRows) else len(part.columns)
        steps.append((start, start + width, row_maker(part) or tuple, optional))
        start += width

    def make(row: Sequence[Any]) -> tuple[Any, ...]:
        out = []
        for a, b, dec, optional in steps:
            values = tuple(row[a:b])
            out.append(None if optional and all(v is None for v in values) else dec(values))
        return tuple(out)

    return make


_FACTORIES: dict[int, tuple[ResultShape, RowFactory | None]] = {}  # id(shape) -> (shape, its factory)
_FACTORIES_MAX = 4096


def row_factory(shape: ResultShape) -> RowFactory | None:
    """The psycopg row factory decoding rows of ``shape`` inside the fetch (None: plain tuples).

    Kept per shape object (a compile-cache hit returns the same one), so the hot path neither rebuilds
    it nor hashes the shape, and the executor's cursor sees the same factory object it already has.
    """
    found = _FACTORIES.get(id(shape))
    if found is not None and found[0] is shape:
        return found[1]
    make = row_maker(shape)
    if make is None:
        factory = None
    elif isinstance(shape, ModelRows):
        factory = checked_factory(make, shape.model, shape.columns)
    else:
        factory = _constant(make)
    if len(_FACTORIES) >= _FACTORIES_MAX:
        _FACTORIES.clear()
    _FACTORIES[id(shape)] = (shape, factory)
    return factory


def _constant(make: RowMaker) -> RowFactory:
    return lambda cursor: make


def into_factory(into: type[Any]) -> RowFactory:
    """The row factory of ``raw(into=...)``: rows of a model decoded by column name through its row decoder,
    rows of another Struct converted by column name, the names read off the result it is called with.
    ValidationError when the columns do not fit the model (also without rows)."""
    is_model = isinstance(into, type) and issubclass(into, Model)

    def factory(cursor: Any) -> RowMaker:
        if cursor.description is None:  # a statement returning no rows
            return tuple
        names = tuple(column.name for column in cursor.description)
        if not is_model:
            maker = row_maker(NamedRows(into, names))
        else:
            try:
                maker = row_maker(ModelRows(into, names))
            except ValueError as exc:
                raise ValidationError(f"raw(into={into.__name__}): {exc}") from None
            assert maker is not None
            return checked_factory(maker, into, names)(cursor)
        assert maker is not None
        return maker

    return factory
