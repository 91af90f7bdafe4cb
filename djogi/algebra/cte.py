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

from djogi.algebra.outputs import output_columns
from djogi.algebra.rowtype import check_name
from djogi.algebra.setops import combine
from djogi.algebra.sources import Source

__all__ = ["Cte", "with_", "with_recursive"]


class Cte(msgspec.Struct, frozen=True, gc=False):
    """``"name" AS [[NOT] MATERIALIZED] (<query>)``; ``recursive`` makes the clause ``WITH RECURSIVE``."""

    __scopes__ = ("query",)

    name: str
    query: Any
    recursive: bool = False
    materialized: bool | None = None


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
) -> Source:
    """A recursive CTE: ``(<anchor>) UNION [ALL] (<step(self)>)``; ``step`` gets the CTE's own source.

    ``UNION`` (``union_all=False``) discards duplicate rows, which also stops cycles of identical rows.
    """
    out = output_columns(anchor)
    check_name(name, "CTE")
    own = Source("cte", out.model, name, output=out)
    query = combine("UNION ALL" if union_all else "UNION", anchor, step(own))
    return Source("cte", out.model, name, cte=Cte(name, query, True, materialized), output=out)
