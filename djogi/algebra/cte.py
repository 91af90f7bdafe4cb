"""Common table expressions: ``with_`` (plain, MATERIALIZED / NOT MATERIALIZED, data-modifying) and
``with_recursive``.

``with_(name, query)`` returns a ``Source`` named ``name``: select from it (``select_from(src)``), join it,
or use it in a subquery, and the compiler emits ``WITH "name" AS (<query>)`` once at the top of the
statement (dependencies first; ``WITH RECURSIVE`` when one is recursive). ``query`` may be a ``Select``,
a set operation, or a mutation with RETURNING (``delete(q).with_returning()``): a data-modifying CTE
(``WITH "moved" AS (DELETE ... RETURNING ...) INSERT INTO ... SELECT ... FROM "moved"``).

``with_recursive(name, anchor, step)`` builds ``WITH RECURSIVE "name" AS ((<anchor>) UNION ALL (<step>))``
where ``step(src)`` receives the CTE's own source to join against, e.g. a tree walk::

    tree = with_recursive("tree", select(Node).where(Node.id == root),
                          lambda t: select(Node).join(t, on=Node.parent == t.id, fetch=False))
    select_from(tree)

Errors (``ValidationError``): a query without named output columns, two different CTEs with one name in
a statement (at compile time), a mutation without RETURNING.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from djogi.algebra.expr import ValueType
from djogi.algebra.outputs import output_columns
from djogi.algebra.rowtype import check_name
from djogi.algebra.setops import combine
from djogi.algebra.sources import Source
from djogi.errors import ArgumentTypeError, ValidationError

__all__ = ["Cte", "CteCycle", "CteSearch", "breadth_first", "cycle", "depth_first", "with_", "with_recursive"]


class CteSearch(msgspec.Struct, frozen=True, gc=False):
    """``SEARCH DEPTH|BREADTH FIRST BY <by> SET <set>`` of a recursive CTE (built by ``depth_first`` /
    ``breadth_first``)."""

    breadth_first: bool
    by: tuple[str, ...]
    set: str


class CteCycle(msgspec.Struct, frozen=True, gc=False):
    """``CYCLE <by> SET <set> USING <using>`` of a recursive CTE (built by ``cycle``)."""

    by: tuple[str, ...]
    set: str
    using: str


class Cte(msgspec.Struct, frozen=True, gc=False):
    """``"name" AS [[NOT] MATERIALIZED] (<query>) [SEARCH ...] [CYCLE ...]``; ``recursive`` makes the clause
    ``WITH RECURSIVE``."""

    __scopes__ = ("query",)

    name: str
    query: Any
    recursive: bool = False
    materialized: bool | None = None
    search: CteSearch | None = None
    cycle: CteCycle | None = None

    @property
    def extra_columns(self) -> tuple[tuple[str, ValueType], ...]:
        """The columns ``SEARCH`` and ``CYCLE`` add to the CTE's rows: the search order (order by it), the
        cycle mark (true on the row that closed a cycle) and the path (both of PostgreSQL's row types)."""
        out: list[tuple[str, ValueType]] = []
        if self.search is not None:
            out.append((self.search.set, _UNTYPED))
        if self.cycle is not None:
            out += [(self.cycle.set, ValueType("bool", "boolean")), (self.cycle.using, _UNTYPED)]
        return tuple(out)


_UNTYPED = ValueType(None, None)


def depth_first(*by: str, set: str = "search_order") -> CteSearch:
    """``SEARCH DEPTH FIRST BY <by> SET <set>``: order the rows of a recursive CTE depth first by ordering on
    its column ``set`` (``tree.col("search_order")``)."""
    return CteSearch(False, tuple(by), set)


def breadth_first(*by: str, set: str = "search_order") -> CteSearch:
    """``SEARCH BREADTH FIRST BY <by> SET <set>``: order by ``set`` for a breadth-first order."""
    return CteSearch(True, tuple(by), set)


def cycle(*by: str, set: str = "is_cycle", using: str = "path") -> CteCycle:
    """``CYCLE <by> SET <set> USING <using>``: stop the recursion at a row whose ``by`` columns were already
    met on its path (that row is returned once, with ``set`` true)."""
    return CteCycle(tuple(by), set, using)


def _clauses(names: tuple[str, ...], search: object, cycle_: object) -> None:
    """``ValidationError`` unless the SEARCH / CYCLE clauses name output columns and add new ones."""
    taken = set(names)
    for clause, what in ((search, "search"), (cycle_, "cycle")):
        if clause is None:
            continue
        if not isinstance(clause, CteSearch | CteCycle):
            raise ArgumentTypeError(f"with_recursive({what}=...) takes {what}(...) such as depth_first('id')")
        if not clause.by or not all(isinstance(c, str) and c in names for c in clause.by):
            raise ValidationError(f"{what} BY {clause.by!r}: name one or more of the CTE's columns {list(names)}")
        added = (clause.set,) if isinstance(clause, CteSearch) else (clause.set, clause.using)
        for name in added:
            check_name(name, f"{what} column")
            if name in taken:
                raise ValidationError(f"{what} column {name!r} is already a column of the CTE")
            taken.add(name)


def with_(name: str, query: Any, *, materialized: bool | None = None) -> Source:
    """A CTE ``name`` over ``query`` (``materialized``: ``True`` MATERIALIZED, ``False`` NOT MATERIALIZED,
    ``None`` PostgreSQL decides), as a source to select from or join."""
    out = output_columns(query)
    check_name(name, "CTE")
    return Source("cte", out.model, name, cte=Cte(name, query, False, materialized), output=out)


def with_recursive(
    name: str,
    anchor: Any,
    step: Callable[[Source], Any],
    *,
    union_all: bool = True,
    materialized: bool | None = None,
    search: CteSearch | None = None,
    cycle: CteCycle | None = None,
) -> Source:
    """A recursive CTE: ``(<anchor>) UNION [ALL] (<step(self)>)``; ``step`` gets the CTE's own source.

    ``UNION`` (``union_all=False``) discards duplicate rows, which also stops cycles of identical rows.
    ``search=depth_first("id")`` / ``breadth_first(...)`` and ``cycle=cycle("id")`` add PostgreSQL's
    ``SEARCH`` and ``CYCLE`` clauses; their columns are the source's ``col("search_order")`` ... (see
    ``Cte.extra_columns``).
    """
    out = output_columns(anchor)
    check_name(name, "CTE")
    _clauses(out.names, search, cycle)
    own = Source("cte", out.model, name, output=out)
    query = combine("UNION ALL" if union_all else "UNION", anchor, step(own))
    return Source("cte", out.model, name, cte=Cte(name, query, True, materialized, search, cycle), output=out)
