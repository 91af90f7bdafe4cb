"""Rendering expressions and predicates to PostgreSQL text with ``$n`` parameters (pure).

- Columns render ``"table"."column"`` (or ``"alias"."column"`` when the query layer sets an alias for the
  model; bare ``"column"`` with ``qualify=False``).
- Every value is a parameter ``$n`` cast to the SQL type it is compared with (``$1::numeric``,
  ``$2::text[]``, ``$3::"genre"``); casts never carry a typmod and integers/floats are always sent as
  BIGINT/DOUBLE PRECISION, so a statement's text depends only on its shape and every parameter is typed.
- ``in_`` / ``not_in`` render ``= ANY($n::t[])`` / ``<> ALL($n::t[])`` with the list as one array
  parameter (one prepared statement whatever the list length; indexable).
- Predicates are rendered in negation normal form: ``NOT`` is pushed to the leaves (De Morgan) and each
  leaf is complemented null-safely, e.g. ``~(a = $1)`` renders ``(a <> $1 OR a IS NULL)`` when ``a`` may be
  NULL and ``a <> $1`` when it may not. Positive AND/OR formulas are left as they are (in WHERE, NULL acts as
  false there), so indexes stay usable. ``Xor`` renders ``((A) IS TRUE) <> ((B) IS TRUE)``.

A rendered predicate is two-valued where it is used as a condition (WHERE, ON, FILTER, CASE WHEN); to
project one as a column wrap it as ``(<sql>) IS TRUE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.identifiers import quote_ident
from djogi.schema import descriptor

__all__ = ["RenderContext", "may_be_null", "render_expr", "render_order", "render_predicate"]


class RenderContext:
    """Collects parameters while rendering and knows how to qualify columns.

    ``params`` receives the bound values in ``$n`` order (pass a list to continue numbering after values
    already bound). ``aliases`` maps a model class to the alias its columns are qualified with (default: its
    table name). ``qualify=False`` renders bare column names. Columns of models in ``nullable_models``
    (the outer side of a LEFT/FULL JOIN) are treated as nullable when complementing.
    """

    __slots__ = ("_prefix", "aliases", "nullable_models", "params", "qualify")

    def __init__(
        self,
        params: list[object] | None = None,
        *,
        aliases: Mapping[Any, str] | None = None,
        qualify: bool = True,
        nullable_models: frozenset[Any] = frozenset(),
    ) -> None:
        self.params: list[object] = [] if params is None else params
        self.aliases = aliases or {}
        self.qualify = qualify
        self.nullable_models = nullable_models
        self._prefix: dict[Any, str] = {}

    def param(self, value: object, sql_type: str | None) -> str:
        """Bind ``value`` and return its placeholder, ``$n`` or ``$n::sql_type``."""
        self.params.append(value)
        n = len(self.params)
        return f"${n}" if sql_type is None else f"${n}::{sql_type}"

    def column(self, col: e.Column[Any, Any]) -> str:
        """``"alias"."column"`` for a column reference."""
        if not self.qualify:
            return quote_ident(col.column)
        prefix = self._prefix.get(col.model)
        if prefix is None:
            alias = self.aliases.get(col.model)
            if alias is None:
                alias = descriptor(col.model).table
            prefix = self._prefix[col.model] = quote_ident(alias) + "."
        return prefix + quote_ident(col.column)


# ------------------------------------------------------------------------------------------ expressions


def render_expr(node: e.Expr[Any], ctx: RenderContext) -> str:
    """SQL text of an expression, binding its parameters into ``ctx``."""
    return _EXPR[type(node)](node, ctx)


def _param(node: e.Param[Any], ctx: RenderContext) -> str:
    value = node.value
    return ctx.param(list(value) if type(value) is tuple else value, node.vtype.sql)


def _const(node: e.Const[Any], ctx: RenderContext) -> str:
    return "NULL" if node.value is None else "TRUE" if node.value else "FALSE"


def _binop(node: e.BinOp[Any], ctx: RenderContext) -> str:
    return f"({render_expr(node.left, ctx)} {node.op} {render_expr(node.right, ctx)})"


def _func(node: e.Func[Any], ctx: RenderContext) -> str:
    return f"{node.name}({', '.join([render_expr(a, ctx) for a in node.args])})"


def _cast(node: e.Cast[Any], ctx: RenderContext) -> str:
    return f"CAST({render_expr(node.expr, ctx)} AS {node.sql_type})"


def _collate(node: e.Collate[Any], ctx: RenderContext) -> str:
    return f"{render_expr(node.expr, ctx)} COLLATE {quote_ident(node.collation)}"


def _json_path(node: e.JsonPath, ctx: RenderContext) -> str:
    return f"({render_expr(node.expr, ctx)} #> {ctx.param(list(node.keys), 'text[]')})"


_EXPR: dict[type, Callable[[Any, RenderContext], str]] = {
    e.Column: lambda node, ctx: ctx.column(node),
    e.Param: _param,
    e.Const: _const,
    e.BinOp: _binop,
    e.Func: _func,
    e.Cast: _cast,
    e.Collate: _collate,
    e.JsonPath: _json_path,
}


def render_order(node: e.OrderBy, ctx: RenderContext, key: str | None = None) -> str:
    """``expr ASC|DESC [NULLS FIRST|LAST]``; ``key`` replaces the rendered expression (an output position)."""
    sql = (render_expr(node.expr, ctx) if key is None else key) + (" DESC" if node.descending else " ASC")
    return sql if node.nulls is None else sql + (" NULLS FIRST" if node.nulls == "first" else " NULLS LAST")


_NULL_FUNCS = {"now": False, "nullif": True}


def may_be_null(node: e.Expr[Any], ctx: RenderContext) -> bool:
    """Whether ``node`` can evaluate to NULL (conservative: True when unsure)."""
    t = type(node)
    if t is e.Column:
        return node.nullable or node.model in ctx.nullable_models  # type: ignore[attr-defined]
    if t is e.Param:
        return False
    if t is e.Const:
        return node.value is None  # type: ignore[attr-defined]
    if t is e.BinOp:
        return may_be_null(node.left, ctx) or may_be_null(node.right, ctx)  # type: ignore[attr-defined]
    if t is e.Collate or t is e.Cast:
        return may_be_null(node.expr, ctx)  # type: ignore[attr-defined]
    if t is e.Func:
        name, args = node.name, node.args  # type: ignore[attr-defined]
        if name in _NULL_FUNCS:
            return _NULL_FUNCS[name]
        if name == "coalesce":
            return all(may_be_null(a, ctx) for a in args)
        if name in ("lower", "upper", "length", "abs"):
            return any(may_be_null(a, ctx) for a in args)
    return True


# ------------------------------------------------------------------------------------------ predicates


def render_predicate(pred: p.Pred, ctx: RenderContext, negate: bool = False) -> str:
    """SQL text of ``pred`` (of ``~pred`` when ``negate``), in negation normal form, binding into ``ctx``."""
    render = _PRED.get(type(pred)) or _PRED[type(p.predicate(pred, "render_predicate()"))]
    return render(pred, ctx, negate)


def _or_null(sql: str, operands: tuple[tuple[e.Expr[Any], str], ...], ctx: RenderContext) -> str:
    """``(sql OR x IS NULL ...)`` for each operand that may be NULL: the complement of a strict leaf."""
    nulls = [f"{text} IS NULL" for node, text in operands if may_be_null(node, ctx)]
    return f"({sql} OR {' OR '.join(nulls)})" if nulls else sql


def _truth(pred: p.Truth, ctx: RenderContext, negate: bool) -> str:
    return "TRUE" if pred.value != negate else "FALSE"


def _junction(pred: p.And | p.Or, ctx: RenderContext, negate: bool) -> str:
    word = " AND " if (type(pred) is p.And) != negate else " OR "
    return "(" + word.join([render_predicate(part, ctx, negate) for part in pred.parts]) + ")"


def _not(pred: p.Not, ctx: RenderContext, negate: bool) -> str:
    return render_predicate(pred.part, ctx, not negate)


def _xor(pred: p.Xor, ctx: RenderContext, negate: bool) -> str:
    left = render_predicate(pred.left, ctx)
    right = render_predicate(pred.right, ctx)
    return f"((({left}) IS TRUE) {'=' if negate else '<>'} (({right}) IS TRUE))"


_CMP = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">=",
        "distinct": "IS DISTINCT FROM", "not_distinct": "IS NOT DISTINCT FROM"}  # fmt: skip
_CMP_NOT = {"eq": "ne", "ne": "eq", "lt": "ge", "le": "gt", "gt": "le", "ge": "lt",
            "distinct": "not_distinct", "not_distinct": "distinct"}  # fmt: skip


def _compare(pred: p.Compare, ctx: RenderContext, negate: bool) -> str:
    left = render_expr(pred.left, ctx)
    right = render_expr(pred.right, ctx)
    op = pred.op
    if not negate:
        return f"{left} {_CMP[op]} {right}"
    sql = f"{left} {_CMP[_CMP_NOT[op]]} {right}"
    if op == "distinct" or op == "not_distinct":
        return sql
    return _or_null(sql, ((pred.left, left), (pred.right, right)), ctx)


def _is_null(pred: p.IsNull, ctx: RenderContext, negate: bool) -> str:
    return render_expr(pred.expr, ctx) + (" IS NOT NULL" if negate else " IS NULL")


def _between(pred: p.Between, ctx: RenderContext, negate: bool) -> str:
    x, lo, hi = render_expr(pred.expr, ctx), render_expr(pred.low, ctx), render_expr(pred.high, ctx)
    if not negate:
        return f"{x} BETWEEN {lo} AND {hi}"
    return _or_null(f"{x} NOT BETWEEN {lo} AND {hi}", ((pred.expr, x), (pred.low, lo), (pred.high, hi)), ctx)


def _in(pred: p.In, ctx: RenderContext, negate: bool) -> str:
    x = render_expr(pred.expr, ctx)
    values = _param(pred.values, ctx)
    positive = (pred.op == "in") != negate
    sql = f"{x} = ANY({values})" if positive else f"{x} <> ALL({values})"
    return _or_null(sql, ((pred.expr, x),), ctx) if negate else sql


def like_pattern(pred: p.Like) -> str:
    """The LIKE pattern of a ``Like`` leaf: its text with ``\\ % _`` escaped, wrapped in ``%`` per mode."""
    text = pred.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    mode = pred.mode
    return (
        text if mode == "exact" else f"%{text}%" if mode == "contains" else f"{text}%" if mode == "startswith"
        else f"%{text}"
    )  # fmt: skip


def _like(pred: p.Like, ctx: RenderContext, negate: bool) -> str:
    node = pred.expr
    if pred.ci:
        inner = node.expr if type(node) is e.Collate else node
        x = render_expr(inner, ctx)
        op = ' COLLATE "C" NOT ILIKE ' if negate else ' COLLATE "C" ILIKE '
    else:
        x = render_expr(node, ctx)
        op = " NOT LIKE " if negate else " LIKE "
    sql = x + op + ctx.param(like_pattern(pred), "text")
    return _or_null(sql, ((node, x),), ctx) if negate else sql


def _regex(pred: p.Regex, ctx: RenderContext, negate: bool) -> str:
    x = render_expr(pred.expr, ctx)
    op = ("!~" if negate else "~") + ("*" if pred.ci else "")
    sql = f"{x} {op} {ctx.param(pred.pattern, 'text')}"
    return _or_null(sql, ((pred.expr, x),), ctx) if negate else sql


def _array(pred: p.ArrayOp, ctx: RenderContext, negate: bool) -> str:
    x, v = render_expr(pred.expr, ctx), render_expr(pred.value, ctx)
    if not negate:
        return f"{x} {pred.op} {v}"
    return _or_null(f"NOT ({x} {pred.op} {v})", ((pred.expr, x), (pred.value, v)), ctx)


_PRED: dict[type, Callable[[Any, RenderContext, bool], str]] = {
    p.Truth: _truth,
    p.And: _junction,
    p.Or: _junction,
    p.Not: _not,
    p.Xor: _xor,
    p.Compare: _compare,
    p.IsNull: _is_null,
    p.Between: _between,
    p.In: _in,
    p.Like: _like,
    p.Regex: _regex,
    p.ArrayOp: _array,
}


def register_expr(node_type: type, renderer: Callable[[Any, RenderContext], str]) -> None:
    """Teach ``render_expr`` an expression node defined outside this module (aggregates, windows, CASE ...)."""
    _EXPR[node_type] = renderer


def register_pred(node_type: type, renderer: Callable[[Any, RenderContext, bool], str]) -> None:
    """Teach ``render_predicate`` a predicate node defined outside this module; the renderer's third
    argument asks for the node's (two-valued) negation."""
    _PRED[node_type] = renderer
