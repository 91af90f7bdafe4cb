"""Declared partitioning of a model's table: ``partition_by=`` and ``partitions=`` (pure values).

``PartitionBy.range("id")`` / ``.list(...)`` / ``.hash(...)`` names the method and the key fields;
``Partition.range(name, start, end)``, ``.list(name, *values)``, ``.hash(name, modulus, remainder)`` and
``.default(name)`` declare partitions, each holding its bound as the SQL PostgreSQL prints for it
(``FOR VALUES FROM (0) TO (1000)``), so the migration snapshot and the live catalog read alike. Bound
values are integers, strings or UUIDs; ``None`` as a range end is ``MINVALUE`` / ``MAXVALUE``. A bound
that cannot be written raises ``ModelDefinitionError``.
"""

from __future__ import annotations

import uuid
from typing import Literal

import msgspec

from djogi.errors import ModelDefinitionError

PartitionMethod = Literal["range", "list", "hash"]
BoundValue = int | str | uuid.UUID


class PartitionBy(msgspec.Struct, frozen=True):
    """How a table is partitioned: ``method`` and the key ``fields`` (field names, in key order)."""

    method: PartitionMethod
    fields: tuple[str, ...]

    @classmethod
    def range(cls, *fields: str) -> PartitionBy:
        """``PARTITION BY RANGE (fields)``."""
        return cls("range", fields)

    @classmethod
    def list(cls, *fields: str) -> PartitionBy:
        """``PARTITION BY LIST (field)``."""
        return cls("list", fields)

    @classmethod
    def hash(cls, *fields: str) -> PartitionBy:
        """``PARTITION BY HASH (fields)``."""
        return cls("hash", fields)


class Partition(msgspec.Struct, frozen=True):
    """One partition: its table ``name``, the ``method`` it fits and its ``bound`` (SQL), ``values`` the
    number of key values each side of the bound has (checked against the key when the model is built)."""

    name: str
    method: PartitionMethod | Literal["default"]
    bound: str
    values: int = 0

    @classmethod
    def range(cls, name: str, start: tuple[BoundValue | None, ...] | BoundValue | None,
              end: tuple[BoundValue | None, ...] | BoundValue | None) -> Partition:  # fmt: skip
        """``FOR VALUES FROM (start) TO (end)``: a tuple per side for a multi-field key; ``None`` is
        ``MINVALUE`` at the start and ``MAXVALUE`` at the end."""
        low, high = _side(start), _side(end)
        if len(low) != len(high):
            raise ModelDefinitionError(f"partition {name}: start has {len(low)} value(s), end {len(high)}")
        bound = f"FOR VALUES FROM ({_values(low, 'MINVALUE')}) TO ({_values(high, 'MAXVALUE')})"
        return cls(name, "range", bound, len(low))

    @classmethod
    def list(cls, name: str, *values: BoundValue) -> Partition:
        """``FOR VALUES IN (values)``."""
        if not values:
            raise ModelDefinitionError(f"partition {name}: a list partition needs at least one value")
        return cls(name, "list", f"FOR VALUES IN ({_values(values, '')})", 1)

    @classmethod
    def hash(cls, name: str, modulus: int, remainder: int) -> Partition:
        """``FOR VALUES WITH (modulus m, remainder r)``."""
        if not (isinstance(modulus, int) and isinstance(remainder, int) and 0 <= remainder < modulus):
            raise ModelDefinitionError(
                f"partition {name}: need integers 0 <= remainder < modulus, got {modulus}, {remainder}"
            )
        return cls(name, "hash", f"FOR VALUES WITH (modulus {modulus}, remainder {remainder})")

    @classmethod
    def default(cls, name: str) -> Partition:
        """``DEFAULT``: the rows no other partition takes (range and list only)."""
        return cls(name, "default", "DEFAULT")


def _side(value: tuple[BoundValue | None, ...] | BoundValue | None) -> tuple[BoundValue | None, ...]:
    return value if isinstance(value, tuple) else (value,)


def _values(values: tuple[BoundValue | None, ...], unbounded: str) -> str:
    return ", ".join(_literal(v, unbounded) for v in values)


def _literal(value: BoundValue | None, unbounded: str) -> str:
    """A bound value as PostgreSQL prints it once read back (``canonical_bound`` unquotes numbers)."""
    if value is None and unbounded:
        return unbounded
    if isinstance(value, bool) or value is None:
        raise ModelDefinitionError(f"a partition bound value must be an int, str or UUID, not {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return f"'{value}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise ModelDefinitionError(f"a partition bound value must be an int, str or UUID, not {type(value).__name__}")
