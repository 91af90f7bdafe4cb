"""Whether an expression may be NULL: two rule tables over every expression node type, built here.

- ``may_be_null`` (``MAY_BE_NULL``) is what the renderer's null-safe complements use: conservative, it
  knows the plain expressions (columns, parameters, arithmetic, the built-in functions) and answers True
  for every other node, so ``~p`` keeps its exact SQL (``(x <> $1 OR x IS NULL)``).
- ``nullable`` (``ROW_NULLABLE``) types projected values (``values(n=count())`` decodes to ``int``, not
  ``int | None``): it knows aggregates, window functions, CASE, subqueries and relation counts on top.

Columns of ``nullable_models`` (the outer side of a LEFT / RIGHT / FULL JOIN) may be NULL whatever
their field says.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from djogi.algebra import expr as e
from djogi.algebra.aggregate import Agg
from djogi.algebra.conditional import Case
from djogi.algebra.expr import OuterRef, PathColumn
from djogi.algebra.nested import RelatedCount, Subquery
from djogi.algebra.window import Over, WindowFunc

__all__ = ["MAY_BE_NULL", "ROW_NULLABLE", "may_be_null", "nullable"]

Rule = Callable[[Any, frozenset[Any]], bool]


def may_be_null(node: e.Expr[Any], nullable_models: frozenset[Any] = frozenset()) -> bool:
    """Whether ``node`` can evaluate to NULL, for SQL complements (conservative: True when unsure)."""
    return MAY_BE_NULL[type(node)](node, nullable_models)


def nullable(expr: e.Expr[Any], nullable_models: frozenset[Any] = frozenset()) -> bool:
    """Whether ``expr`` may be NULL in a result row (conservative: True when unsure)."""
    return ROW_NULLABLE[type(expr)](expr, nullable_models)


def _always(node: Any, models: frozenset[Any]) -> bool:
    return True


def _never(node: Any, models: frozenset[Any]) -> bool:
    return False


_NULL_FUNCS = {"now": False, "nullif": True}


def _func(node: e.Func[Any], models: frozenset[Any]) -> bool:
    name, args = node.name, node.args
    if name in _NULL_FUNCS:
        return _NULL_FUNCS[name]
    if name == "coalesce":
        return all(may_be_null(a, models) for a in args)
    if name in ("lower", "upper", "length", "abs"):
        return any(may_be_null(a, models) for a in args)
    return True


MAY_BE_NULL: Mapping[type, Rule] = {
    e.Column: lambda node, models: node.nullable or node.model in models,
    e.Param: _never,
    e.Named: _never,
    e.Const: lambda node, models: node.value is None,
    e.BinOp: lambda node, models: may_be_null(node.left, models) or may_be_null(node.right, models),
    e.Func: _func,
    e.Cast: lambda node, models: may_be_null(node.expr, models),
    e.Collate: lambda node, models: may_be_null(node.expr, models),
    e.JsonPath: _always,
    Agg: _always,
    WindowFunc: _always,
    Over: _always,
    Case: _always,
    Subquery: _always,
    RelatedCount: _always,
    OuterRef: _always,
    PathColumn: _always,
}
"""Expression node type -> ``(node, nullable_models) -> bool`` for SQL complements."""

_NOT_NULL_WINDOWS = frozenset({"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile"})


def _case(node: Case[Any], models: frozenset[Any]) -> bool:
    return node.default is None or any(nullable(x, models) for x in (*(w.then for w in node.whens), node.default))


ROW_NULLABLE: Mapping[type, Rule] = {
    **MAY_BE_NULL,
    Agg: lambda node, models: node.name != "count",
    WindowFunc: lambda node, models: node.name not in _NOT_NULL_WINDOWS,
    Over: lambda node, models: nullable(node.func, models),
    Case: _case,
    RelatedCount: _never,
    OuterRef: lambda node, models: nullable(node.expr, models),
}
"""Expression node type -> ``(node, nullable_models) -> bool`` for result row types."""
