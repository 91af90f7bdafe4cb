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

This module is the one compiler: every node type's SQL is written here and found through the dispatch
tables at its end (``EXPRESSIONS``, ``PREDICATES``, ``STATEMENTS``), built in that one place; a node type
without an entry cannot be rendered (``tests/algebra/test_node_coverage.py`` checks that each has one).
``compile.compile`` adds the shape cache on top.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra.aggregate import Agg
from djogi.algebra.conditional import Case
from djogi.algebra.cte import Cte
from djogi.algebra.dml import (
    UNNEST_ALIAS,
    Delete,
    ExcludedRow,
    Insert,
    InsertFrom,
    Merge,
    MergeWhen,
    Unnest,
    UnnestRow,
    Update,
)
from djogi.algebra.expr import OuterRef, PathColumn
from djogi.algebra.nested import Exists, InQuery, RelatedCount, Subquery
from djogi.algebra.nullability import may_be_null
from djogi.algebra.query import CountOf, ExistsOf, Keyset, Select, nullable_sources, simple
from djogi.algebra.results import JoinedRows, ModelRows, ResultShape, RowCount, ScalarRow, StructRows, TupleRows
from djogi.algebra.search import Distance, SearchMatch
from djogi.algebra.setops import SetOp
from djogi.algebra.sources import Ref, Source
from djogi.algebra.traverse import same
from djogi.algebra.window import Bound, Over, WindowFunc
from djogi.codecs import projection_needs_converter
from djogi.errors import ValidationError
from djogi.identifiers import quote_ident
from djogi.schema import ModelBase, descriptor

__all__ = [
    "EXPRESSIONS",
    "PREDICATES",
    "STATEMENTS",
    "QueryContext",
    "RenderContext",
    "like_text",
    "limit_offset",
    "output_positions",
    "render_expr",
    "render_order",
    "render_predicate",
    "render_query",
    "render_select",
    "with_clause",
]


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


class QueryContext(RenderContext):
    """A ``RenderContext`` for one query scope: ``outer`` is the enclosing scope (for ``outer()``), and
    ``ctes`` / ``refs`` are shared by every scope of a statement (CTEs met, and CTE names referenced, in
    render order). Columns of named sources (``Ref``) render ``"name"."column"``."""

    __slots__ = ("ctes", "outer", "refs")

    def __init__(
        self,
        params: list[object] | None = None,
        *,
        aliases: dict[Any, str] | None = None,
        nullable_models: frozenset[Any] = frozenset(),
        outer: RenderContext | None = None,
    ) -> None:
        super().__init__(params, nullable_models=nullable_models)
        self.aliases = _Aliases(aliases or {})  # set after: an empty mapping would be replaced by a dict
        self.outer = outer
        self.ctes: dict[str, Cte]
        self.refs: list[str]
        if isinstance(outer, QueryContext):
            self.ctes, self.refs = outer.ctes, outer.refs
        else:
            self.ctes, self.refs = {}, []

    def cte(self, src: Source) -> str:
        """Record a reference to the CTE source ``src`` (and its definition, once); its quoted name."""
        assert src.name is not None
        self.refs.append(src.name)
        if src.cte is not None:
            known = self.ctes.setdefault(src.name, src.cte)
            if known is not src.cte and known != src.cte:
                raise ValidationError(f"two different CTEs are named {src.name!r} in one statement")
        return quote_ident(src.name)


class _Aliases(dict[Any, str]):
    """Alias lookup: a ``Ref`` is known by its own name, a model by the alias its query gives it."""

    def get(self, key: Any, default: Any = None) -> Any:
        if type(key) is Ref:
            return key.name
        return super().get(key, default)


def render_query(value: Any, ctx: RenderContext) -> tuple[str, ResultShape]:
    """SQL and result shape of a query or RETURNING mutation rendered inside ``ctx`` (a subquery, an arm,
    a CTE body); parameters continue ``ctx``'s numbering."""
    render = STATEMENTS.get(type(value))
    if render is None:
        raise ValidationError(f"{type(value).__name__} is not a query")
    scope = ctx if isinstance(ctx, QueryContext) else QueryContext(ctx.params, outer=ctx)
    return render(value, scope)


def with_clause(ctx: QueryContext) -> str:
    """``WITH [RECURSIVE] "a" AS (...), ... `` for the CTEs met while rendering, dependencies first."""
    bodies: dict[str, str] = {}
    deps: dict[str, list[str]] = {}
    names = list(ctx.ctes)
    i = 0
    while i < len(names):
        name = names[i]
        start = len(ctx.refs)
        bodies[name], _ = render_query(ctx.ctes[name].query, ctx)  # a CTE body is a statement of its own
        deps[name] = [n for n in ctx.refs[start:] if n != name]
        names = list(ctx.ctes)
        i += 1
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered or name in path:
            return
        for dep in deps.get(name, ()):
            visit(dep, (*path, name))
        ordered.append(name)

    for name in names:
        visit(name, ())
    items = []
    for name in ordered:
        cte = ctx.ctes[name]
        mat = "" if cte.materialized is None else "MATERIALIZED " if cte.materialized else "NOT MATERIALIZED "
        items.append(f"{quote_ident(name)} AS {mat}({bodies[name]})" + _search_cycle(cte))
    recursive = "RECURSIVE " if any(c.recursive for c in ctx.ctes.values()) else ""
    return f"WITH {recursive}" + ", ".join(items) + " "


def _search_cycle(cte: Cte) -> str:
    """`` SEARCH DEPTH|BREADTH FIRST BY .. SET ..`` and `` CYCLE .. SET .. USING ..`` of a recursive CTE."""
    sql = ""
    if cte.search is not None:
        order = "BREADTH" if cte.search.breadth_first else "DEPTH"
        by = ", ".join([quote_ident(c) for c in cte.search.by])
        sql += f" SEARCH {order} FIRST BY {by} SET {quote_ident(cte.search.set)}"
    if cte.cycle is not None:
        by = ", ".join([quote_ident(c) for c in cte.cycle.by])
        sql += f" CYCLE {by} SET {quote_ident(cte.cycle.set)} USING {quote_ident(cte.cycle.using)}"
    return sql


# ------------------------------------------------------------------------------------------ expressions


def render_expr(node: e.Expr[Any], ctx: RenderContext) -> str:
    """SQL text of an expression, binding its parameters into ``ctx``."""
    return EXPRESSIONS[type(node)](node, ctx)


def _param(node: e.Param[Any], ctx: RenderContext) -> str:
    value = node.value
    return ctx.param(list(value) if type(value) is tuple else value, node.vtype.sql)


def _named(node: e.Named[Any], ctx: RenderContext) -> str:
    return ctx.param(e.Slot(node.name, node.vtype), node.vtype.sql)


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


def _agg(node: Agg[Any], ctx: RenderContext) -> str:
    """``name([DISTINCT] args [ORDER BY ..]) [FILTER (WHERE ..)]``, or ``count(*)``."""
    if node.star:
        sql = "count(*)"
    else:
        sql = (
            node.name
            + "("
            + ("DISTINCT " if node.distinct else "")
            + ", ".join([render_expr(a, ctx) for a in node.args])
        )
        if node.order:
            sql += " ORDER BY " + ", ".join([render_order(o, ctx) for o in node.order])
        sql += ")"
    if node.where != p.TRUE:
        sql += " FILTER (WHERE " + render_predicate(node.where, ctx) + ")"
    return sql


def _window_func(node: WindowFunc[Any], ctx: RenderContext) -> str:
    return f"{node.name}({', '.join([render_expr(a, ctx) for a in node.args])})"


def _bound(b: Bound, ctx: RenderContext) -> str:
    return b.kind if b.offset is None else f"{render_expr(b.offset, ctx)} {b.kind}"


def _over(node: Over[Any], ctx: RenderContext) -> str:
    """``func OVER ([PARTITION BY ..] [ORDER BY ..] [frame])``."""
    parts: list[str] = []
    if node.partition:
        parts.append("PARTITION BY " + ", ".join([render_expr(x, ctx) for x in node.partition]))
    if node.order:
        parts.append("ORDER BY " + ", ".join([render_order(o, ctx) for o in node.order]))
    if node.frame is not None:
        f = node.frame
        text = f"{f.mode} BETWEEN {_bound(f.start, ctx)} AND {_bound(f.end, ctx)}"
        parts.append(text if f.exclude is None else f"{text} EXCLUDE {f.exclude}")
    return f"{render_expr(node.func, ctx)} OVER ({' '.join(parts)})"


def _case(node: Case[Any], ctx: RenderContext) -> str:
    """``CASE WHEN <pred> THEN <x> ... [ELSE <y>] END``."""
    arms = " ".join([f"WHEN {render_predicate(w.cond, ctx)} THEN {render_expr(w.then, ctx)}" for w in node.whens])
    default = "" if node.default is None else f" ELSE {render_expr(node.default, ctx)}"
    return f"CASE {arms}{default} END"


def _subquery(node: Subquery[Any], ctx: RenderContext) -> str:
    """``(<query>)``."""
    sql, _ = render_query(node.query, ctx)
    return f"({sql})"


def _outer(node: OuterRef[Any], ctx: RenderContext) -> str:
    """The wrapped expression, rendered in the enclosing query's context."""
    if not isinstance(ctx, QueryContext):  # a bare render_expr call: no query scopes to step out of
        return render_expr(node.expr, ctx)
    scope = ctx.outer
    if scope is None or getattr(scope, "outer", None) is None:
        raise ValidationError(
            f"{node.describe()} is used outside a subquery: outer() names a column of the statement enclosing an "
            "exists() / in_query() / scalar() / lateral() subquery; write the column without outer() here"
        )
    return render_expr(node.expr, scope)


def _unlowered(node: PathColumn[Any], ctx: RenderContext) -> str:
    raise ValidationError(
        f"{node.describe()}: a relation path can be used in where()/filter()/exclude() and order_by() "
        "only; join the related model to use its columns elsewhere"
    )


def render_order(node: e.OrderBy, ctx: RenderContext, key: str | None = None) -> str:
    """``expr ASC|DESC [NULLS FIRST|LAST]``; ``key`` replaces the rendered expression (an output position)."""
    sql = (render_expr(node.expr, ctx) if key is None else key) + (" DESC" if node.descending else " ASC")
    return sql if node.nulls is None else sql + (" NULLS FIRST" if node.nulls == "first" else " NULLS LAST")


# ------------------------------------------------------------------------------------------ predicates


def render_predicate(pred: p.Pred, ctx: RenderContext, negate: bool = False) -> str:
    """SQL text of ``pred`` (of ``~pred`` when ``negate``), in negation normal form, binding into ``ctx``."""
    render = PREDICATES.get(type(pred)) or PREDICATES[type(p.predicate(pred, "render_predicate()"))]
    return render(pred, ctx, negate)


def _or_null(sql: str, operands: tuple[tuple[e.Expr[Any], str], ...], ctx: RenderContext) -> str:
    """``(sql OR x IS NULL ...)`` for each operand that may be NULL: the complement of a strict leaf."""
    nulls = [f"{text} IS NULL" for node, text in operands if may_be_null(node, ctx.nullable_models)]
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


def like_text(mode: Literal["contains", "startswith", "endswith", "exact"], text: str) -> str:
    """A LIKE pattern matching ``text`` as ``mode`` says: ``\\ % _`` escaped, wrapped in ``%`` per mode."""
    text = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
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
    text = pred.text  # a named parameter's pattern is made on each run (``djogi.algebra.template``)
    pattern = like_text(pred.mode, text) if isinstance(text, str) else e.Slot(text.name, text.vtype, pred.mode)
    sql = x + op + ctx.param(pattern, "text")
    return _or_null(sql, ((node, x),), ctx) if negate else sql


def _regex(pred: p.Regex, ctx: RenderContext, negate: bool) -> str:
    x = render_expr(pred.expr, ctx)
    op = ("!~" if negate else "~") + ("*" if pred.ci else "")
    pattern = pred.pattern
    sql = f"{x} {op} {ctx.param(pattern, 'text') if isinstance(pattern, str) else _named(pattern, ctx)}"
    return _or_null(sql, ((pred.expr, x),), ctx) if negate else sql


def _array(pred: p.ArrayOp, ctx: RenderContext, negate: bool) -> str:
    x, v = render_expr(pred.expr, ctx), render_expr(pred.value, ctx)
    if not negate:
        return f"{x} {pred.op} {v}"
    return _or_null(f"NOT ({x} {pred.op} {v})", ((pred.expr, x), (pred.value, v)), ctx)


def _search_match(pred: SearchMatch, ctx: RenderContext, negate: bool) -> str:
    """``a @@ b`` / ``a % b`` / ``a <% b``; negated ``(NOT (a op b) OR a IS NULL ...)``."""
    a, b = render_expr(pred.left, ctx), render_expr(pred.right, ctx)
    if not negate:
        return f"{a} {pred.op} {b}"
    return _or_null(f"NOT ({a} {pred.op} {b})", ((pred.left, a), (pred.right, b)), ctx)


def _exists(node: Exists, ctx: RenderContext, negate: bool) -> str:
    """``[NOT ]EXISTS (SELECT 1 FROM ...)`` (the query's own select list when it needs one)."""
    q = node.query
    if isinstance(q, Select) and simple(q) and q.projection is None:
        scope = ctx if isinstance(ctx, QueryContext) else QueryContext(ctx.params, outer=ctx)
        sql, _ = render_select(q, scope, head="1")
    else:
        sql, _ = render_query(q, ctx)
    return ("NOT EXISTS (" if negate else "EXISTS (") + sql + ")"


def _in_query(node: InQuery, ctx: RenderContext, negate: bool) -> str:
    """``x IN (<query>)`` or ``(x IN (<query>)) IS NOT TRUE``."""
    sub, _ = render_query(node.query, ctx)
    sql = f"{render_expr(node.expr, ctx)} IN ({sub})"
    return f"({sql}) IS NOT TRUE" if negate else sql


# ------------------------------------------------------------------------------------------ statements


def _table(model: Any) -> str:
    return quote_ident(descriptor(model).table)


def column_list(model: Any, columns: tuple[str, ...]) -> str:
    """``"t"."a", "t"."b"``: the model's columns, qualified by its table."""
    prefix = _table(model) + "."
    return ", ".join([prefix + quote_ident(c) for c in columns])


def _where(condition: p.Pred, keyset: Keyset | None, ctx: RenderContext) -> str:
    parts = [] if condition == p.TRUE else [render_predicate(condition, ctx)]
    if keyset is not None:
        parts.append(_keyset(keyset, ctx))
    return " WHERE " + " AND ".join(parts) if parts else ""


def _keyset(keyset: Keyset, ctx: RenderContext) -> str:
    """``(k1, k2) > ($1, $2)`` when all keys share a direction, else the expanded OR chain."""
    keys = [render_expr(k.expr, ctx) for k in keyset.keys]
    values = [render_expr(v, ctx) for v in keyset.values]
    directions = {k.descending for k in keyset.keys}
    if len(directions) == 1:
        op = " < " if keyset.keys[0].descending else " > "
        if len(keys) == 1:
            return keys[0] + op + values[0]
        return "(" + ", ".join(keys) + ")" + op + "(" + ", ".join(values) + ")"
    terms = []
    for i, key in enumerate(keyset.keys):
        equal = [f"{keys[j]} = {values[j]}" for j in range(i)]
        step = f"{keys[i]} {'<' if key.descending else '>'} {values[i]}"
        terms.append("(" + " AND ".join([*equal, step]) + ")" if equal else step)
    return "(" + " OR ".join(terms) + ")"


def _returning(
    model: Any, columns: tuple[str, ...] | None, old_new: tuple[bool, bool] | None = None
) -> tuple[str, ResultShape]:
    """The RETURNING clause and its result: model instances when the columns can build one, else tuples.

    ``old_new`` (whether the old and the new row may be missing) returns both versions of each row,
    ``old."a", ..., new."a", ...`` (every column when ``columns`` is None), as ``(old, new)`` pairs."""
    if old_new is not None:
        columns = columns or descriptor(model).columns
        _, part = _returning(model, columns)
        assert isinstance(part, ModelRows | TupleRows)
        sides = ", ".join([f"{side}.{quote_ident(c)}" for side in ("old", "new") for c in columns])
        return " RETURNING " + sides, JoinedRows((part, part), old_new)
    if columns is None:
        return "", RowCount()
    decodable = not descriptor(model).missing_required(columns)
    return " RETURNING " + column_list(model, columns), ModelRows(model, columns) if decodable else TupleRows(
        len(columns)
    )


def _scope_in(
    ctx: RenderContext, aliases: dict[Any, str] | None = None, nullable_models: frozenset[Any] = frozenset()
) -> QueryContext:
    """The scope of one statement (a SELECT, UPDATE, DELETE, MERGE or ON CONFLICT DO UPDATE) rendered inside
    ``ctx``: the rows it reads, for its own clauses. ``outer(x)`` in a subquery of it renders ``x`` here;
    ``outer(x)`` directly in it steps out to ``ctx``, refused when ``ctx`` is no statement's scope (the
    statement's root, a CTE body's, an INSERT's source's)."""
    return QueryContext(ctx.params, aliases=aliases, nullable_models=nullable_models, outer=ctx)


def _scope(q: Select[Any], ctx: RenderContext) -> QueryContext:
    """``_scope_in`` for ``q``: its model aliased to its source's name, outer-join nullability."""
    aliases = {} if q.source is None or q.source.name is None else {q.model: q.source.name}
    return _scope_in(ctx, aliases, nullable_sources(q) if q.joins else frozenset())


def _prefix(src: Source | None, model: Any) -> str:
    return quote_ident(descriptor(model).table if src is None or src.name is None else src.name) + "."


def _source_sql(src: Source, ctx: QueryContext) -> str:
    """A FROM item: ``"table" [AS "alias"]``, ``"cte"`` or ``[LATERAL] (<query>) AS "name"``."""
    if src.kind == "cte":
        return ctx.cte(src)
    if src.kind == "table":
        table = _table(src.model)
        return table if src.name is None else f"{table} AS {quote_ident(src.name)}"
    assert src.name is not None
    sub, _ = render_query(src.query, ctx)
    return ("LATERAL " if src.lateral else "") + f"({sub}) AS {quote_ident(src.name)}"


def _column_model(x: e.Column[Any, Any]) -> Any:
    """The model class a column belongs to (through an alias too), or None for a derived source's column or
    one a source adds to its model's (a recursive CTE's SEARCH / CYCLE columns)."""
    model = x.model if isinstance(x.model, type) else getattr(x.model, "model", None)
    if not (isinstance(model, type) and issubclass(model, ModelBase)):
        return None
    return model if x.model is model or any(fd.name == x.name for fd in descriptor(model).fields) else None


def _decode_specs(exprs: Sequence[Any]) -> tuple[Any, ...]:
    """Per projected expression, how its loaded value becomes a Python value: a model column decodes like
    the model's field, an enum-typed expression into members; ``()`` when every value is already final."""
    specs = tuple(
        ("field", _column_model(x), x.name) if isinstance(x, e.Column) and _column_model(x) is not None
        else ("enum", x.type.enum) if getattr(x, "type", None) is not None and x.type.kind == "enum" and x.type.enum
        else None
        for x in exprs
    )  # fmt: skip
    return specs if any(s is not None and projection_needs_converter(s) for s in specs) else ()


def _select_list(q: Select[Any], ctx: QueryContext) -> tuple[str, ResultShape]:
    if q.projection is not None:
        decode = _decode_specs(q.projection)
        if q.into is None:
            return ", ".join([render_expr(x, ctx) for x in q.projection]), TupleRows(len(q.projection), decode)
        names = tuple(q.into.__struct_fields__)
        cols = ", ".join(
            [f"{render_expr(x, ctx)} AS {quote_ident(n)}" for x, n in zip(q.projection, names, strict=True)]
        )
        return cols, StructRows(q.into, names, decode)
    columns = descriptor(q.model).columns if q.selected is None else q.selected
    prefix = _prefix(q.source, q.model)
    texts = [", ".join([prefix + quote_ident(c) for c in columns])]
    parts: list[ModelRows | StructRows | TupleRows] = [ModelRows(q.model, columns)]
    refs = [q.source.ref if q.source is not None else q.model]
    for j in q.joins:
        if not j.fetch:
            continue
        src = j.source
        if src.model is not None and (src.output is None or src.output.model is not None):
            names = descriptor(src.model).columns if src.output is None else src.output.names
            texts.append(", ".join([_prefix(src, src.model) + quote_ident(c) for c in names]))
            parts.append(ModelRows(src.model, names))
        else:
            assert src.output is not None and src.name is not None
            texts.append(", ".join([f"{quote_ident(src.name)}.{quote_ident(c)}" for c in src.output.names]))
            parts.append(StructRows(src.output.row, src.output.names))
        refs.append(src.ref)
    if q.annotations:
        assert q.annotation_type is not None
        names = tuple(q.annotation_type.__struct_fields__)
        texts.append(
            ", ".join([f"{render_expr(x, ctx)} AS {quote_ident(n)}" for x, n in zip(q.annotations, names, strict=True)])
        )
        parts.append(StructRows(q.annotation_type, names))
        refs.append(None)
    if len(parts) == 1:
        return texts[0], parts[0]
    optional = tuple(r is not None and r in ctx.nullable_models for r in refs)
    return ", ".join(texts), JoinedRows(tuple(parts), optional)


def _from(q: Select[Any], ctx: QueryContext) -> str:
    sql = " FROM " + (_table(q.model) if q.source is None else _source_sql(q.source, ctx))
    for j in q.joins:
        sql += f" {j.kind} JOIN {_source_sql(j.source, ctx)}"
        if j.kind != "CROSS":
            sql += " ON " + render_predicate(j.on, ctx)
    return sql


def _output_position(q: Select[Any], x: Any) -> int | None:
    """The 1-based select-list position of ``x`` when ``x`` has bound values and is projected: GROUP BY and
    ORDER BY must then name that output column, since a second rendering would bind new ``$n`` parameters
    that PostgreSQL cannot match with the select list's."""
    if q.projection is None or "$" not in render_expr(x, RenderContext()):
        return None
    return next((i + 1 for i, item in enumerate(q.projection) if same(item, x)), None)


def output_positions(q: Select[Any]) -> tuple[int | None, ...] | None:
    """The ``_output_position`` of each GROUP BY key and then each ORDER BY key of a grouped projection.

    Whether a key is projected depends on its values (``price * 2`` is, ``price * 3`` is not, for a
    projected ``price * 2``), so the shape cache keys on these positions too."""
    if q.projection is None or q.grouping is None:
        return None
    keys = [x for keys in q.grouping.sets for x in keys] + [o.expr for o in q.ordering]
    return tuple([_output_position(q, x) for x in keys])


def _grouped_key(q: Select[Any], x: Any, ctx: QueryContext) -> str:
    position = _output_position(q, x)
    return render_expr(x, ctx) if position is None else str(position)


def _grouped_order(q: Select[Any], o: Any, ctx: QueryContext) -> str:
    position = _output_position(q, o.expr) if q.grouping is not None else None
    return render_order(o, ctx, None if position is None else str(position))


def _group_by(q: Select[Any], ctx: QueryContext) -> str:
    g = q.grouping
    sql = ""
    if g is not None:
        sets = ["(" + ", ".join([_grouped_key(q, x, ctx) for x in keys]) + ")" for keys in g.sets]
        if g.kind == "keys":
            sql = " GROUP BY " + sets[0][1:-1]
        elif g.kind == "sets":
            sql = " GROUP BY GROUPING SETS (" + ", ".join(sets) + ")"
        else:
            sql = f" GROUP BY {g.kind.upper()} {sets[0]}"
    if q.having_condition != p.TRUE:
        sql += " HAVING " + render_predicate(q.having_condition, ctx)
    return sql


def render_select(q: Select[Any], ctx: RenderContext, head: str | None = None) -> tuple[str, ResultShape]:
    """``SELECT [DISTINCT [ON (..)]] cols FROM <source> [JOIN ..] [WHERE ..] [GROUP BY ..] [HAVING ..]
    [ORDER BY ..] [LIMIT n] [OFFSET $n] [FOR ..]``; ``head`` replaces the select list (a ``ScalarRow``)."""
    if q.lock is not None and (q.distinct_all or q.distinct_keys):
        raise ValidationError(f"FOR {q.lock.strength} cannot be combined with DISTINCT (PostgreSQL refuses it)")
    qctx = _scope(q, ctx)
    sql = "SELECT "
    if q.distinct_all:
        sql += "DISTINCT "
    elif q.distinct_keys:
        sql += "DISTINCT ON (" + ", ".join([render_expr(x, qctx) for x in q.distinct_keys]) + ") "
    result: ResultShape
    if head is None:
        cols, result = _select_list(q, qctx)
    else:
        cols, result = head, ScalarRow()
    sql += cols + _from(q, qctx) + _where(q.condition, q.keyset, qctx) + _group_by(q, qctx)
    if q.ordering:
        sql += " ORDER BY " + ", ".join([_grouped_order(q, o, qctx) for o in q.ordering])
    sql += limit_offset(q.row_limit, q.row_offset, qctx)
    if q.lock is not None:
        lock = q.lock
        sql += " FOR " + lock.strength
        if lock.of:
            sql += " OF " + ", ".join([quote_ident(t) for t in lock.of])
        sql += " NOWAIT" if lock.nowait else " SKIP LOCKED" if lock.skip_locked else ""
    return sql, result


def limit_offset(row_limit: int | None, row_offset: int | e.Named[int] | None, ctx: RenderContext) -> str:
    """`` LIMIT 10`` (an integer literal) and `` OFFSET $n::bigint`` (a parameter), each when set.

    LIMIT is the one value written into the SQL: ``limit()`` admits only a non-negative ``int``, written
    with ``int.__repr__``, so it cannot carry SQL. A bound LIMIT keeps PostgreSQL off the generic plan of a
    prepared statement (planned for an unknown LIMIT, it costs as if reading a tenth of the table), so
    every execution was planned again. OFFSET stays bound: its values rarely repeat, and a literal would
    make a new statement (and compile-cache entry) per page; it may be a named parameter.
    """
    sql = "" if row_limit is None else " LIMIT " + int.__repr__(row_limit)
    if isinstance(row_offset, int):
        sql += " OFFSET " + ctx.param(row_offset, "bigint")
    elif row_offset is not None:
        sql += " OFFSET " + _named(row_offset, ctx)
    return sql


def _render_count(node: CountOf, ctx: RenderContext) -> tuple[str, ResultShape]:
    """``SELECT count(*) FROM ... WHERE ...`` or ``SELECT count(*) FROM (<query>) AS "__djogi_sub"``."""
    q = node.query
    if isinstance(q, Select) and simple(q):
        sql, _ = render_select(q, ctx, head="count(*)")
        return sql, ScalarRow()
    sub, _ = render_query(q, ctx)
    return f'SELECT count(*) FROM ({sub}) AS "__djogi_sub"', ScalarRow()


def _render_exists(node: ExistsOf, ctx: RenderContext) -> tuple[str, ResultShape]:
    """``SELECT EXISTS (SELECT 1 FROM ... LIMIT 1)`` (``FROM (<query>) AS "__djogi_sub"`` when needed)."""
    q = node.query
    if isinstance(q, Select) and simple(q):
        sub, _ = render_select(q, ctx, head="1")
    else:
        inner, _ = render_query(q, ctx)
        sub = f'SELECT 1 FROM ({inner}) AS "__djogi_sub"'
    return f"SELECT EXISTS ({sub} LIMIT 1)", ScalarRow()


def _assignments(items: tuple[tuple[str, e.Expr[Any]], ...], ctx: RenderContext) -> str:
    return ", ".join([f"{quote_ident(column)} = {render_expr(x, ctx)}" for column, x in items])


def _render_unnest(src: Unnest, ctx: RenderContext) -> str:
    """``SELECT "__djogi_v"."a", <rebuilt array> AS "b" FROM unnest($1::t[], $2::jsonb[]) AS "__djogi_v"("a",
    "b")``; an array column (sent as ``jsonb[]``) is rebuilt by ``CASE WHEN "__djogi_v"."b" IS NULL THEN
    NULL ELSE ARRAY(SELECT jsonb_array_elements_text("__djogi_v"."b"))::element[] END``."""
    alias = quote_ident(UNNEST_ALIAS)
    items = []
    for column, element in zip(src.columns, src.elements, strict=True):
        value = f"{alias}.{quote_ident(column)}"
        if element is not None:
            value = (
                f"CASE WHEN {value} IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text({value}))::"
                f"{element}[] END AS {quote_ident(column)}"
            )
        items.append(value)
    arrays = ", ".join([render_expr(x, ctx) for x in src.arrays])
    columns = ", ".join([quote_ident(c) for c in src.columns])
    return f"SELECT {', '.join(items)} FROM unnest({arrays}) AS {alias}({columns})"


def _render_insert(ins: Insert[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"INSERT INTO {_table(ins.model)} (" + ", ".join([quote_ident(c) for c in ins.columns]) + ") "
    if isinstance(ins.rows, Unnest):
        sql += _render_unnest(ins.rows, ctx)
    else:
        sql += "VALUES " + ", ".join(
            ["(" + ", ".join(["DEFAULT" if x is None else render_expr(x, ctx) for x in row]) + ")" for row in ins.rows]
        )
    conflict = ins.conflict
    if conflict is not None:
        if conflict.constraint is not None:
            sql += " ON CONFLICT ON CONSTRAINT " + quote_ident(conflict.constraint)
        else:
            sql += " ON CONFLICT (" + ", ".join([quote_ident(c) for c in conflict.target]) + ")"
        if not conflict.assignments:
            sql += " DO NOTHING"
        else:
            set_ctx = _scope_in(ctx, {ExcludedRow(ins.model): "excluded"})
            sql += " DO UPDATE SET " + _assignments(conflict.assignments, set_ctx)
            if conflict.where != p.TRUE:
                sql += " WHERE " + render_predicate(conflict.where, set_ctx)
    if ins.old_new:
        if ins.created:
            raise ValidationError("with_old_new() and with_created() together: old is None for a created row")
        returning, result = _returning(ins.model, ins.returning, (True, False))
        return sql + returning, result
    if not ins.created:
        returning, result = _returning(ins.model, ins.returning)
        return sql + returning, result
    desc = descriptor(ins.model)
    returning, row = _returning(ins.model, ins.returning or desc.columns)
    assert isinstance(row, ModelRows | TupleRows)
    sql += f"{returning}, old.{quote_ident(desc.pk_field.column)} IS NULL"
    return sql, JoinedRows((row, TupleRows(1)), (False, False))


def _render_insert_from(ins: InsertFrom[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"INSERT INTO {_table(ins.model)} (" + ", ".join([quote_ident(c) for c in ins.columns]) + ") "
    source, _ = render_query(ins.source, ctx)
    returning, result = _returning(ins.model, ins.returning)
    return sql + source + returning, result


def _render_update(up: Update[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    """``UPDATE "t" SET ... [FROM (<unnest>) AS "__djogi_v"] [WHERE ...] [RETURNING ...]`` (parameters
    numbered in field order: assignments, condition, then the source's arrays). SET and WHERE render in the
    statement's scope (``_scope_in``), so their subqueries may refer to the row updated through ``outer()``."""
    scope = _scope_in(ctx, None if up.source is None else {UnnestRow(up.model): UNNEST_ALIAS})
    sets, where = _assignments(up.assignments, scope), _where(up.condition, None, scope)
    source = "" if up.source is None else f" FROM ({_render_unnest(up.source, ctx)}) AS {quote_ident(UNNEST_ALIAS)}"
    returning, result = _returning(up.model, up.returning, (False, False) if up.old_new else None)
    return f"UPDATE {_table(up.model)} SET {sets}{source}{where}{returning}", result


def _render_delete(de: Delete[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    """``DELETE FROM "t" [WHERE ...] [RETURNING ...]``; WHERE renders in the statement's scope (``_scope_in``)."""
    sql = f"DELETE FROM {_table(de.model)}" + _where(de.condition, None, _scope_in(ctx))
    returning, result = _returning(de.model, de.returning, (False, True) if de.old_new else None)
    return sql + returning, result


def _merge_when(w: MergeWhen, ctx: RenderContext) -> str:
    sql = " WHEN MATCHED" if w.matched else " WHEN NOT MATCHED"
    if w.condition != p.TRUE:
        sql += " AND " + render_predicate(w.condition, ctx)
    if w.action == "update":
        return sql + " THEN UPDATE SET " + _assignments(w.assignments, ctx)
    if w.action == "insert":
        columns = ", ".join([quote_ident(c) for c in w.columns])
        values = ", ".join(["DEFAULT" if x is None else render_expr(x, ctx) for x in w.values])
        return sql + f" THEN INSERT ({columns}) VALUES ({values})"
    return sql + (" THEN DELETE" if w.action == "delete" else " THEN DO NOTHING")


def _render_merge(m: Merge[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    """``MERGE INTO "t" USING <source> ON <on> WHEN ... [RETURNING <columns>, merge_action()]``: ON and the
    arms render in the statement's scope (``_scope_in``), the source outside it (it cannot see the target)."""
    if not m.whens:
        raise ValidationError("merge() needs at least one when_...() arm")
    using = _source_sql(m.using, ctx if isinstance(ctx, QueryContext) else QueryContext(ctx.params, outer=ctx))
    scope = _scope_in(ctx)
    sql = f"MERGE INTO {_table(m.model)} USING {using} ON {render_predicate(m.on, scope)}"
    sql += "".join([_merge_when(w, scope) for w in m.whens])
    if m.returning is None:
        return sql, RowCount()
    returning, row = _returning(m.model, m.returning)
    assert isinstance(row, ModelRows | TupleRows)
    return sql + returning + ", merge_action()", JoinedRows((row, TupleRows(1)), (False, False))


def _render_setop(node: SetOp[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    """``(<left>) op (<right>) [ORDER BY "name" ..] [LIMIT n] [OFFSET $n]``; the result is the left arm's."""
    left, result = render_query(node.left, ctx)
    right, _ = render_query(node.right, ctx)
    sql = f"({left}) {node.op} ({right})"
    if node.ordering:
        keys = []
        for o in node.ordering:
            key = quote_ident(o.name) + (" DESC" if o.descending else " ASC")
            keys.append(key if o.nulls is None else key + (" NULLS FIRST" if o.nulls == "first" else " NULLS LAST"))
        sql += " ORDER BY " + ", ".join(keys)
    return sql + limit_offset(node.row_limit, node.row_offset, ctx), result


# ------------------------------------------------------------------------------------------ dispatch tables

EXPRESSIONS: Mapping[type, Callable[[Any, RenderContext], str]] = {
    e.Column: lambda node, ctx: ctx.column(node),
    e.Param: _param,
    e.Named: _named,
    e.Const: _const,
    e.BinOp: _binop,
    Distance: _binop,
    e.Func: _func,
    e.Cast: _cast,
    e.Collate: _collate,
    e.JsonPath: _json_path,
    Agg: _agg,
    WindowFunc: _window_func,
    Over: _over,
    Case: _case,
    Subquery: _subquery,
    RelatedCount: _subquery,
    OuterRef: _outer,
    PathColumn: _unlowered,
}
"""Expression node type -> ``(node, ctx) -> SQL``."""

PREDICATES: Mapping[type, Callable[[Any, RenderContext, bool], str]] = {
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
    SearchMatch: _search_match,
    Exists: _exists,
    InQuery: _in_query,
}
"""Predicate node type -> ``(node, ctx, negate) -> SQL`` (the third argument asks for the negation)."""

STATEMENTS: Mapping[type, Callable[[Any, RenderContext], tuple[str, ResultShape]]] = {
    Select: render_select,
    SetOp: _render_setop,
    CountOf: _render_count,
    ExistsOf: _render_exists,
    Insert: _render_insert,
    InsertFrom: _render_insert_from,
    Update: _render_update,
    Delete: _render_delete,
    Merge: _render_merge,
}
"""Statement node type -> ``(node, ctx) -> (SQL, result shape)``."""
