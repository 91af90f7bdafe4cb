"""Set operations: ``UNION``, ``INTERSECT``, ``EXCEPT`` (each also ``ALL``) between queries.

``a.union(b)`` renders ``(<a>) UNION (<b>)``: every arm is parenthesised, so an arm may keep its own
ORDER BY / LIMIT; nesting composes (``((a) UNION (b)) INTERSECT (c)``). The result decodes like the left
arm (model rows, tuples, or its ``into`` Struct). ``order_by`` / ``limit`` / ``offset`` on the ``SetOp``
apply to the combined rows; ordering keys name output columns (a column of the left arm's model, or an
output name as a string) and render unqualified, as PostgreSQL requires.

Errors (``ValidationError``, at build time): arms projecting a different number of columns or
incompatible types, an arm with a row lock, an outer ordering key that is not an output column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import msgspec

from djogi.algebra.expr import Column, OrderBy, _compatible
from djogi.algebra.outputs import output_columns
from djogi.algebra.query import Select, _count
from djogi.algebra.traverse import key_hash, same
from djogi.errors import ValidationError

if TYPE_CHECKING:
    from djogi.algebra.results import Statement

__all__ = ["OutputOrder", "SetOp", "except_", "except_all", "intersect", "intersect_all", "union", "union_all"]

SetOperator = Literal["UNION", "UNION ALL", "INTERSECT", "INTERSECT ALL", "EXCEPT", "EXCEPT ALL"]

R = TypeVar("R")


class OutputOrder(msgspec.Struct, frozen=True, gc=False):
    """An ORDER BY key of a set operation: an output column name."""

    name: str
    descending: bool = False
    nulls: Literal["first", "last"] | None = None


class SetOp(msgspec.Struct, Generic[R], frozen=True, kw_only=True):
    """``(<left>) <op> (<right>) [ORDER BY ..] [LIMIT n] [OFFSET $n]``."""

    __scopes__ = ("left", "right")

    op: SetOperator
    left: Any
    right: Any
    ordering: tuple[OutputOrder, ...] = ()
    row_limit: int | None = None
    row_offset: int | None = None
    empty: bool = False

    def __eq__(self, other: object) -> bool:
        return type(other) is SetOp and same(self, other)

    def __hash__(self) -> int:
        return key_hash(self)

    @property
    def model(self) -> Any:
        """The model the rows decode into (the left arm's), or ``None``."""
        return getattr(self.left, "model", None)

    @property
    def prefetches(self) -> tuple[()]:
        """Set operations load no relations (prefetch on an arm is refused when the set operation is built)."""
        return ()

    def union(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) UNION (other)``."""
        return combine("UNION", self, other)

    def union_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) UNION ALL (other)``."""
        return combine("UNION ALL", self, other)

    def intersect(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) INTERSECT (other)``."""
        return combine("INTERSECT", self, other)

    def intersect_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) INTERSECT ALL (other)``."""
        return combine("INTERSECT ALL", self, other)

    def except_(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) EXCEPT (other)``."""
        return combine("EXCEPT", self, other)

    def except_all(self, other: Select[R] | SetOp[R]) -> SetOp[R]:
        """``(self) EXCEPT ALL (other)``."""
        return combine("EXCEPT ALL", self, other)

    def order_by(self, *keys: Any) -> SetOp[R]:
        """Append ORDER BY keys on output columns: a column of the left arm's model (``Book.title``,
        ``Book.title.desc()``) or an output name (``"title"``)."""
        names = output_columns(self).names
        return msgspec.structs.replace(self, ordering=self.ordering + tuple(_output_key(k, names) for k in keys))

    def limit(self, n: int | None) -> SetOp[R]:
        """Replace the outer LIMIT (``None`` removes it)."""
        return msgspec.structs.replace(self, row_limit=_count("limit", n))

    def offset(self, n: int | None) -> SetOp[R]:
        """Replace the outer OFFSET (``None`` removes it)."""
        return msgspec.structs.replace(self, row_offset=_count("offset", n))

    def sql(self) -> Statement:
        """Compile to a ``Statement``."""
        from djogi.algebra.compile import compile

        return compile(self)


def _output_key(key: Any, names: tuple[str, ...]) -> OutputOrder:
    descending, nulls, expr = False, None, key
    if isinstance(key, OrderBy):
        descending, nulls, expr = key.descending, key.nulls, key.expr
    name = expr.column if isinstance(expr, Column) else expr if isinstance(expr, str) else None
    if name is None or name not in names:
        raise ValidationError(
            f"set operation order_by(): {key!r} is not an output column; the outputs are {list(names)}"
        )
    return OutputOrder(name, descending, nulls)


def _arm(query: Any, side: str) -> None:
    if isinstance(query, Select):
        if query.lock is not None:
            raise ValidationError(f"set operation: the {side} arm carries a row lock, which PostgreSQL refuses")
        if query.prefetches:
            raise ValidationError(
                f"set operation: the {side} arm has prefetch(...), which a set operation cannot load; "
                "prefetch on a query over the combined ids instead"
            )
    elif not isinstance(query, SetOp):
        raise ValidationError(f"set operation: the {side} arm must be a query (Select or SetOp), not {query!r}")


def combine(op: SetOperator, left: Any, right: Any) -> SetOp[Any]:
    """``(left) op (right)``; ``ValidationError`` when the arms' columns do not line up (see module doc)."""
    _arm(left, "left")
    _arm(right, "right")
    lo, ro = output_columns(left), output_columns(right)
    if len(lo.types) != len(ro.types):
        raise ValidationError(f"{op}: the left arm has {len(lo.types)} columns, the right arm {len(ro.types)}")
    for i, (a, b) in enumerate(zip(lo.types, ro.types, strict=True)):
        if not _compatible(a, b):
            raise ValidationError(
                f"{op}: column {i + 1} ({lo.names[i]}) is {a.kind} on the left, {b.kind} on the right"
            )
    le, re_ = bool(getattr(left, "empty", False)), bool(getattr(right, "empty", False))
    empty = (le and re_) if op.startswith("UNION") else (le or re_) if op.startswith("INTERSECT") else le
    return SetOp(op=op, left=left, right=right, empty=empty)


def union(left: Any, right: Any) -> SetOp[Any]:
    """``(left) UNION (right)`` (duplicates removed)."""
    return combine("UNION", left, right)


def union_all(left: Any, right: Any) -> SetOp[Any]:
    """``(left) UNION ALL (right)`` (duplicates kept)."""
    return combine("UNION ALL", left, right)


def intersect(left: Any, right: Any) -> SetOp[Any]:
    """``(left) INTERSECT (right)``."""
    return combine("INTERSECT", left, right)


def intersect_all(left: Any, right: Any) -> SetOp[Any]:
    """``(left) INTERSECT ALL (right)``."""
    return combine("INTERSECT ALL", left, right)


def except_(left: Any, right: Any) -> SetOp[Any]:
    """``(left) EXCEPT (right)``."""
    return combine("EXCEPT", left, right)


def except_all(left: Any, right: Any) -> SetOp[Any]:
    """``(left) EXCEPT ALL (right)``."""
    return combine("EXCEPT ALL", left, right)
