"""The pure compiler: query and mutation values -> ``Statement`` (SQL with ``$n`` placeholders + params).

Every identifier comes from a validated model descriptor and is double-quoted; every value is a bound
parameter (only ``NULL``, ``TRUE`` and ``FALSE`` are spliced into the text).

**Shape cache.** ``compile`` first walks the value once, producing its *shape* (the value with every
parameter abstracted to its SQL type) and, in the same pass, the parameters in ``$n`` order. A shape seen
before is a cache hit: the SQL text and result shape are reused and only the parameters are new. A shape
is stored only after its cold compile proved the walk reproduces the renderer's parameters exactly (the
same values, in the same order, with no two equal values whose order could be confused); shapes that
cannot be proved, or whose parts are not hashable, are compiled cold every time, never wrongly cached.
"""

from __future__ import annotations

from collections.abc import Callable
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import msgspec

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra.render import RenderContext, like_pattern, render_expr, render_order, render_predicate
from djogi.errors import ValidationError
from djogi.identifiers import quote_ident
from djogi.model import descriptor

if TYPE_CHECKING:
    from djogi.algebra.dml import Delete, Insert, InsertFrom, Update
    from djogi.algebra.query import Keyset, Select

__all__ = [
    "ModelRows",
    "NoResult",
    "ResultShape",
    "RowCount",
    "ScalarRow",
    "Statement",
    "StructRows",
    "TupleRows",
    "cache_clear",
    "cache_size",
    "compile",
]

MAX_PARAMS = 65535  # PostgreSQL's limit on bind parameters per statement
CACHE_MAX = 4096


class ModelRows(msgspec.Struct, frozen=True):
    """Rows of ``model``'s columns ``columns`` (in that order), decoded with ``codecs.row_decoder``."""

    model: Any
    columns: tuple[str, ...]


class TupleRows(msgspec.Struct, frozen=True):
    """Rows of ``n`` values, returned as tuples."""

    n: int


class StructRows(msgspec.Struct, frozen=True):
    """Rows decoded positionally into ``struct_type`` (fields ``columns``)."""

    struct_type: Any
    columns: tuple[str, ...]


class ScalarRow(msgspec.Struct, frozen=True):
    """One row holding one value (``count``, ``exists``)."""


class RowCount(msgspec.Struct, frozen=True):
    """No rows: the result is the number of rows the statement affected."""


class NoResult(msgspec.Struct, frozen=True):
    """Nothing to decode."""


ResultShape = ModelRows | TupleRows | StructRows | ScalarRow | RowCount | NoResult


class Statement(msgspec.Struct, frozen=True):
    """A compiled statement: ``sql`` with ``$1..$n`` placeholders, ``params`` to bind, how to decode rows.

    ``empty`` is true for ``none()`` queries: terminals answer without sending ``sql``.
    """

    sql: str
    params: tuple[object, ...]
    result: ResultShape
    empty: bool = False


def compile(value: Select[Any] | Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any]) -> Statement:
    """Compile a query or mutation value to a ``Statement``, through the shape cache.

    Raises ``ValidationError`` for values that cannot become valid SQL (e.g. a lock with DISTINCT) and
    ``TypeError`` for objects that are not compilable values.
    """
    params: list[object] = []
    try:
        key = _shape(value, params)
        hit = _CACHE.get(key)
    except TypeError:  # an unhashable part: no cache for this value
        return _cold(value)
    if hit is not None:
        return Statement(hit[0], tuple(params), hit[1], hit[2])
    stmt = _cold(value)
    if _proved(params, stmt.params):
        if len(_CACHE) >= CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = (stmt.sql, stmt.result, stmt.empty)
    return stmt


def cache_size() -> int:
    """The number of shapes in the compile cache."""
    return len(_CACHE)


def cache_clear() -> None:
    """Forget every cached shape."""
    _CACHE.clear()


_CACHE: dict[object, tuple[str, ResultShape, bool]] = {}


def _cold(value: Any) -> Statement:
    render = _RENDER.get(type(value))
    if render is None:
        raise TypeError(
            f"cannot compile {type(value).__name__}; expected a Select, Insert, InsertFrom, Update or Delete"
        )
    ctx = RenderContext()
    sql, result = render(value, ctx)
    if len(ctx.params) > MAX_PARAMS:
        raise ValidationError(
            f"the statement needs {len(ctx.params)} parameters; PostgreSQL allows {MAX_PARAMS} "
            "(insert fewer rows per statement, or use bulk_create / COPY)"
        )
    return Statement(sql, tuple(ctx.params), result, bool(getattr(value, "empty", False)))


def _proved(walked: list[object], rendered: tuple[object, ...]) -> bool:
    """True when the shape walk's parameters are exactly the renderer's, with no ambiguous duplicates."""
    if len(walked) != len(rendered):
        return False
    seen: set[object] = set()
    try:
        for a, b in zip(walked, rendered, strict=True):
            if type(a) is not type(b) or a != b:
                return False
            k = (list, *a) if type(a) is list else (type(a), a)
            if k in seen:
                return False
            seen.add(k)
    except TypeError:  # unhashable parameter values: cannot prove the order
        return False
    return True


# ------------------------------------------------------------------------------------------ shapes

Shaper = Callable[[Any, list[object]], object]
_SHAPERS: dict[type, Shaper] = {}
_INLINE_TYPES = (str, bool, int, type(None))


def _shape(node: object, params: list[object]) -> object:
    """The cache key of ``node``; appends its parameters to ``params`` in render order."""
    shaper = _SHAPERS.get(type(node))
    if shaper is None:
        if isinstance(node, msgspec.Struct):
            shaper = _SHAPERS[type(node)] = _struct_shaper(type(node))
        else:
            return (type(node), node)
    return shaper(node, params)


def _structural(annotation: object) -> bool:
    """Whether a field's values are plain structure (scalars, names, literals), kept in the key as they are."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return all(_structural(arg) for arg in get_args(annotation))
    return annotation in _INLINE_TYPES or annotation == tuple[str, ...] or origin in (type, Literal)


def _field_code(name: str, annotation: object) -> str:
    """Python source computing one field's shape inside a generated shaper (``x`` the node, ``p`` params)."""
    if _structural(annotation):
        return f"x.{name}"  # structural scalars and names: kept as they are
    if get_origin(annotation) is tuple:
        return f"tuple([g(type(i), s)(i, p) for i in x.{name}])"
    return f"g(type(x.{name}), s)(x.{name}, p)"


def _struct_shaper(cls: type[msgspec.Struct]) -> Shaper:
    """A shaper generated for ``cls``: ``(cls, <field shapes in declaration order>)``."""
    try:
        types = {f.name: f.type for f in msgspec.structs.fields(cls)}
    except Exception:  # unresolvable annotations: walk every field generically
        types = {}
    parts = "".join(f"{_field_code(name, types.get(name, Any))}, " for name in cls.__struct_fields__)
    namespace: dict[str, Any] = {"s": _shape, "g": _SHAPERS.get, "C": cls}
    exec(f"def shaper(x, p):\n    return (C, {parts})", namespace)
    return namespace["shaper"]  # type: ignore[no-any-return]


def _tuple_shape(node: tuple[object, ...], params: list[object]) -> object:
    return tuple([_shape(item, params) for item in node])


def _param_value(value: object) -> object:
    """A parameter as ``render`` binds it (tuples become lists, i.e. PostgreSQL arrays)."""
    return list(value) if type(value) is tuple else value


def _param_shape(node: e.Param[Any], params: list[object]) -> object:
    params.append(_param_value(node.value))
    return (e.Param, node.vtype.sql)


def _like_shape(node: p.Like, params: list[object]) -> object:
    key = (p.Like, _shape(node.expr, params), node.mode, node.ci)
    params.append(like_pattern(node))
    return key


def _regex_shape(node: p.Regex, params: list[object]) -> object:
    key = (p.Regex, _shape(node.expr, params), node.ci)
    params.append(node.pattern)
    return key


def _json_path_shape(node: e.JsonPath, params: list[object]) -> object:
    key = (e.JsonPath, _shape(node.expr, params))
    params.append(list(node.keys))
    return key


def _select_shape(q: Select[Any], params: list[object]) -> object:
    from djogi.algebra.query import Select

    s = _shape
    key = (
        Select, q.model, q.distinct_all, q.distinct_keys and s(q.distinct_keys, params),
        q.projection and s(q.projection, params), q.into, q.selected, s(q.condition, params),
        q.keyset and s(q.keyset, params), q.ordering and s(q.ordering, params),
        q.row_limit is None, q.row_offset is None, q.lock, q.empty,
    )  # fmt: skip
    if q.row_limit is not None:
        params.append(q.row_limit)
    if q.row_offset is not None:
        params.append(q.row_offset)
    return key


_SHAPERS.update(
    {
        tuple: _tuple_shape,
        e.ValueType: lambda node, params: node,
        e.Column: lambda node, params: (e.Column, node.model, node.name),
        e.Param: _param_shape,
        p.Like: _like_shape,
        p.Regex: _regex_shape,
        e.JsonPath: _json_path_shape,
    }
)


# ------------------------------------------------------------------------------------------ rendering


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


def _returning(model: Any, columns: tuple[str, ...] | None) -> tuple[str, ResultShape]:
    if columns is None:
        return "", RowCount()
    return " RETURNING " + column_list(model, columns), ModelRows(model, columns)


def render_select(q: Select[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    """``SELECT [DISTINCT [ON (..)]] cols FROM "t" [WHERE ..] [ORDER BY ..] [LIMIT $n] [OFFSET $n] [FOR ..]``."""
    desc = descriptor(q.model)
    if q.lock is not None and (q.distinct_all or q.distinct_keys):
        raise ValidationError(f"FOR {q.lock.strength} cannot be combined with DISTINCT (PostgreSQL refuses it)")
    sql = "SELECT "
    if q.distinct_all:
        sql += "DISTINCT "
    elif q.distinct_keys:
        sql += "DISTINCT ON (" + ", ".join([render_expr(x, ctx) for x in q.distinct_keys]) + ") "
    result: ResultShape
    if q.projection is None:
        columns = desc.columns if q.selected is None else q.selected
        sql += column_list(q.model, columns)
        result = ModelRows(q.model, columns)
    elif q.into is None:
        sql += ", ".join([render_expr(x, ctx) for x in q.projection])
        result = TupleRows(len(q.projection))
    else:
        names = tuple(q.into.__struct_fields__)
        sql += ", ".join(
            [f"{render_expr(x, ctx)} AS {quote_ident(n)}" for x, n in zip(q.projection, names, strict=True)]
        )
        result = StructRows(q.into, names)
    sql += " FROM " + quote_ident(desc.table) + _where(q.condition, q.keyset, ctx)
    if q.ordering:
        sql += " ORDER BY " + ", ".join([render_order(o, ctx) for o in q.ordering])
    if q.row_limit is not None:
        sql += " LIMIT " + ctx.param(q.row_limit, "bigint")
    if q.row_offset is not None:
        sql += " OFFSET " + ctx.param(q.row_offset, "bigint")
    if q.lock is not None:
        lock = q.lock
        sql += " FOR " + lock.strength
        if lock.of:
            sql += " OF " + ", ".join([quote_ident(t) for t in lock.of])
        sql += " NOWAIT" if lock.nowait else " SKIP LOCKED" if lock.skip_locked else ""
    return sql, result


def _assignments(items: tuple[tuple[str, e.Expr[Any]], ...], ctx: RenderContext) -> str:
    return ", ".join([f"{quote_ident(column)} = {render_expr(x, ctx)}" for column, x in items])


def _render_insert(ins: Insert[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"INSERT INTO {_table(ins.model)} (" + ", ".join([quote_ident(c) for c in ins.columns]) + ") VALUES "
    sql += ", ".join(
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
            from djogi.algebra.dml import ExcludedRow

            set_ctx = RenderContext(ctx.params, aliases={ExcludedRow(ins.model): "excluded"})
            sql += " DO UPDATE SET " + _assignments(conflict.assignments, set_ctx)
            if conflict.where != p.TRUE:
                sql += " WHERE " + render_predicate(conflict.where, set_ctx)
    returning, result = _returning(ins.model, ins.returning)
    return sql + returning, result


def _render_insert_from(ins: InsertFrom[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"INSERT INTO {_table(ins.model)} (" + ", ".join([quote_ident(c) for c in ins.columns]) + ") "
    source, _ = render_select(ins.source, ctx)
    returning, result = _returning(ins.model, ins.returning)
    return sql + source + returning, result


def _render_update(up: Update[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"UPDATE {_table(up.model)} SET " + _assignments(up.assignments, ctx) + _where(up.condition, None, ctx)
    returning, result = _returning(up.model, up.returning)
    return sql + returning, result


def _render_delete(de: Delete[Any], ctx: RenderContext) -> tuple[str, ResultShape]:
    sql = f"DELETE FROM {_table(de.model)}" + _where(de.condition, None, ctx)
    returning, result = _returning(de.model, de.returning)
    return sql + returning, result


_RENDER: dict[type, Callable[[Any, RenderContext], tuple[str, ResultShape]]] = {}


def _register() -> None:
    from djogi.algebra.dml import Delete, Insert, InsertFrom, Update
    from djogi.algebra.query import Select

    _RENDER.update(
        {Select: render_select, Insert: _render_insert, InsertFrom: _render_insert_from, Update: _render_update,
         Delete: _render_delete}
    )  # fmt: skip
    _SHAPERS[Select] = _select_shape


_register()
