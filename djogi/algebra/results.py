"""What a compiled statement is: SQL text, parameters, and the shape of its result rows (pure values)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from djogi.codecs import row_decoder, tuple_converter

__all__ = [
    "JoinedRows",
    "ModelRows",
    "NoResult",
    "ResultShape",
    "RowCount",
    "ScalarRow",
    "Statement",
    "StructRows",
    "TupleRows",
    "joined_decoder",
    "struct_maker",
]


class ModelRows(msgspec.Struct, frozen=True):
    """Rows of ``model``'s columns ``columns`` (in that order), decoded with ``codecs.row_decoder``."""

    model: Any
    columns: tuple[str, ...]


class TupleRows(msgspec.Struct, frozen=True):
    """Rows of ``n`` values, returned as tuples. ``decode`` (empty when no value needs it) holds, per value,
    the ``codecs.projection_converter`` spec turning a loaded value into its Python type (an enum member,
    a HeerId ...) or None."""

    n: int
    decode: tuple[Any, ...] = ()


class StructRows(msgspec.Struct, frozen=True):
    """Rows decoded positionally into ``struct_type`` (fields ``columns``); ``decode`` as for ``TupleRows``."""

    struct_type: Any
    columns: tuple[str, ...]
    decode: tuple[Any, ...] = ()


class ScalarRow(msgspec.Struct, frozen=True):
    """One row holding one value (``count``, ``exists``)."""


class RowCount(msgspec.Struct, frozen=True):
    """No rows: the result is the number of rows the statement affected."""


class NoResult(msgspec.Struct, frozen=True):
    """Nothing to decode."""


class JoinedRows(msgspec.Struct, frozen=True):
    """Rows made of consecutive column spans, one per part, decoded into a tuple with one value per part.

    A ``ModelRows`` part takes ``len(columns)`` values and decodes to a model instance, a ``StructRows``
    part ``len(columns)`` values into its Struct, a ``TupleRows`` part ``n`` values into a tuple. Where
    ``optional[i]`` is true (the outer side of a LEFT / RIGHT / FULL join) a span whose values are all NULL
    decodes to ``None``. Parts come in SQL order: the base model, each fetched join, then the ``annotate()``
    Struct. ``joined_decoder(shape)`` builds the row function.
    """

    parts: tuple[ModelRows | StructRows | TupleRows, ...]
    optional: tuple[bool, ...]


ResultShape = ModelRows | TupleRows | StructRows | ScalarRow | RowCount | NoResult | JoinedRows


def struct_maker(struct_type: Any, decode: tuple[Any, ...] = ()) -> Callable[[Any], Any]:
    """``values -> struct_type(*values)``: builds a ``StructRows`` row positionally, converting per ``decode``."""
    if not decode:
        return lambda values: struct_type(*values)
    convert = tuple_converter(decode)
    return lambda values: struct_type(*convert(values))


def joined_decoder(shape: JoinedRows) -> Callable[[Any], tuple[Any, ...]]:
    """``row -> tuple`` for ``JoinedRows`` (rows as tuples in SQL column order, binary-loaded by psycopg)."""
    steps: list[tuple[int, int, Callable[[Any], Any], bool]] = []
    start = 0
    for part, optional in zip(shape.parts, shape.optional, strict=True):
        width: int
        decode: Callable[[Any], Any]
        if isinstance(part, ModelRows):
            width, decode = len(part.columns), row_decoder(part.model, part.columns).decode_row
        elif isinstance(part, StructRows):
            width, decode = len(part.columns), struct_maker(part.struct_type, part.decode)
        else:
            width, decode = part.n, tuple_converter(part.decode)
        steps.append((start, start + width, decode, optional))
        start += width

    def decode_row(row: Any) -> tuple[Any, ...]:
        out = []
        for a, b, dec, optional in steps:
            values = tuple(row[a:b])
            out.append(None if optional and all(v is None for v in values) else dec(values))
        return tuple(out)

    return decode_row


class Statement(msgspec.Struct, frozen=True):
    """A compiled statement: ``sql`` with ``$1..$n`` placeholders, ``params`` to bind, how to decode rows.

    ``empty`` is true for ``none()`` queries: terminals answer without sending ``sql``.
    """

    sql: str
    params: tuple[object, ...]
    result: ResultShape
    empty: bool = False
