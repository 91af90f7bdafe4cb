"""What a compiled statement is: SQL text, parameters, and the shape of its result rows (pure values)."""

from __future__ import annotations

from typing import Any

import msgspec

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
    Struct. ``executor.rows.row_maker(shape)`` builds the row function.
    """

    parts: tuple[ModelRows | StructRows | TupleRows, ...]
    optional: tuple[bool, ...]


ResultShape = ModelRows | TupleRows | StructRows | ScalarRow | RowCount | NoResult | JoinedRows


class Statement(msgspec.Struct, frozen=True):
    """A compiled statement: ``sql`` with ``$1..$n`` placeholders, ``params`` to bind, how to decode rows.

    ``empty`` is true for ``none()`` queries: terminals answer without sending ``sql``. ``tenants`` holds the
    tenant-keyed models whose tables the statement reads or writes anywhere (its base, joins, subqueries,
    derived tables, CTE bodies, set-operation arms, a mutation's target and sources), each once: every
    terminal raises ``TenantRequired`` naming the first when no tenant is in force.
    """

    sql: str
    params: tuple[object, ...]
    result: ResultShape
    empty: bool = False
    tenants: tuple[Any, ...] = ()
