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

from collections.abc import Callable, Sequence
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

import msgspec

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra.depth import retry_deep
from djogi.algebra.render import RenderContext, like_pattern, render_expr, render_order, render_predicate
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.identifiers import quote_ident
from djogi.model import Model, descriptor

if TYPE_CHECKING:
    from djogi.algebra.cte import Cte
    from djogi.algebra.dml import Delete, Insert, InsertFrom, Update
    from djogi.algebra.query import CountOf, ExistsOf, Keyset, Select
    from djogi.algebra.setops import SetOp
    from djogi.algebra.sources import Source

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
    "cache_clear",
    "cache_size",
    "compile",
    "render_query",
]

MAX_PARAMS = 65535  # PostgreSQL's limit on bind parameters per statement
CACHE_MAX = 4096


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

    ``empty`` is true for ``none()`` queries: terminals answer without sending ``sql``.
    """

    sql: str
    params: tuple[object, ...]
    result: ResultShape
    empty: bool = False


def compile(
    value: Select[Any] | Insert[Any] | InsertFrom[Any] | Update[Any] | Delete[Any] | SetOp | CountOf | ExistsOf,
) -> Statement:
    """Compile a query or mutation value to a ``Statement``, through the shape cache.

    Raises ``ValidationError`` for values that cannot become valid SQL (e.g. a lock with DISTINCT) or that
    are nested deeper than ``depth.MAX_DEPTH``, and ``ArgumentTypeError`` for objects that are not compilable values.
    """
    try:
        return _compile(value)
    except RecursionError:
        return retry_deep(_compile, value)


def _compile(value: Any) -> Statement:
    params = _Params()
    try:
        key = _shape(value, params)
        if params.ctes:
            key = (key, _ctes_shape(params))
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
        raise ArgumentTypeError(
            f"cannot compile {type(value).__name__}: compile() takes a query or mutation (a Select, SetOp, CountOf, "
            "ExistsOf, Insert, InsertFrom, Update or Delete, such as Book.objects.where(...))"
        )
    ctx = QueryContext()
    sql, result = render(value, ctx)
    if ctx.ctes:
        sql = _with_clause(ctx) + sql
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


class _Params(list[object]):
    """Parameters collected by a shape walk, plus the CTE definitions met on the way (walked last; ``None``
    until the first one, so the common walk does not build a dict)."""

    ctes: dict[str, Cte] | None = None


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
        from djogi.algebra.sources import Ref

        if type(key) is Ref:
            return key.name
        return super().get(key, default)


def render_query(value: Any, ctx: RenderContext) -> tuple[str, ResultShape]:
    """SQL and result shape of a query or RETURNING mutation rendered inside ``ctx`` (a subquery, an arm,
    a CTE body); parameters continue ``ctx``'s numbering."""
    render = _RENDER.get(type(value))
    if render is None:
        raise ValidationError(f"{type(value).__name__} is not a query")
    scope = ctx if isinstance(ctx, QueryContext) else QueryContext(ctx.params, outer=ctx)
    return render(value, scope)


def _with_clause(ctx: QueryContext) -> str:
    """``WITH [RECURSIVE] "a" AS (...), ... `` for the CTEs met while rendering, dependencies first."""
    bodies: dict[str, str] = {}
    deps: dict[str, list[str]] = {}
    names = list(ctx.ctes)
    i = 0
    while i < len(names):
        name = names[i]
        start = len(ctx.refs)
        bodies[name], _ = render_query(ctx.ctes[name].query, QueryContext(ctx.params, outer=ctx))
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
        items.append(f"{quote_ident(name)} AS {mat}({bodies[name]})")
    recursive = "RECURSIVE " if any(c.recursive for c in ctx.ctes.values()) else ""
    return f"WITH {recursive}" + ", ".join(items) + " "


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


def _compare_shape(node: p.Compare, params: list[object]) -> object:
    """The shape the generated shaper gives a ``Compare``, with a column and a parameter side inline."""
    left, right = node.left, node.right
    if type(left) is e.Column:
        left_key: object = (e.Column, left.model, left.name)
    else:
        left_key = _shape(left, params)
    if type(right) is e.Param:
        value = right.value
        params.append(list(value) if type(value) is tuple else value)
        return (p.Compare, node.op, left_key, (e.Param, right.vtype.sql))
    return (p.Compare, node.op, left_key, _shape(right, params))


def _junction_shape(node: p.And | p.Or, params: list[object]) -> object:
    """The shape the generated shaper gives an ``And`` / ``Or``, with ``Compare`` parts shaped inline."""
    return (type(node), tuple([
        _compare_shape(part, params) if type(part) is p.Compare else _shape(part, params) for part in node.parts
    ]))  # fmt: skip


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


_SIMPLE_SELECT = "simple select"  # tags the key of a select with nothing but a WHERE and an ORDER BY


def _select_shape(q: Select[Any], params: list[object]) -> object:
    s = _shape
    if (
        q.projection is None and not q.distinct_keys and not q.annotations and q.source is None and not q.joins
        and q.keyset is None and q.grouping is None and q.having_condition is p.TRUE
    ):  # fmt: skip
        # The common case, keyed on the fields that can differ (no parameter sits in the fields left out),
        # with column orderings inline.
        key: tuple[object, ...] = (
            _SIMPLE_SELECT, q.model, q.distinct_all, q.into, q.selected, q.annotation_type,
            s(q.condition, params),
            tuple([
                (e.OrderBy, (e.Column, x.model, x.name), o.descending, o.nulls)
                if type(o) is e.OrderBy and type(x := o.expr) is e.Column else s(o, params)
                for o in q.ordering
            ]),
            q.row_limit, q.row_offset is None, q.lock, q.empty,
        )  # fmt: skip
    else:
        key = _full_select_shape(q, params)
    if q.row_offset is not None:
        params.append(q.row_offset)
    return key


def _full_select_shape(q: Select[Any], params: list[object]) -> tuple[object, ...]:
    s = _shape
    return (
        type(q), q.model, q.distinct_all, q.distinct_keys and s(q.distinct_keys, params),
        q.projection and s(q.projection, params), q.into, q.selected,
        q.annotations and s(q.annotations, params), q.annotation_type,
        q.source and s(q.source, params), q.joins and s(q.joins, params),
        s(q.condition, params), q.keyset and s(q.keyset, params),
        q.grouping and s(q.grouping, params), s(q.having_condition, params),
        q.ordering and s(q.ordering, params), q.row_limit, q.row_offset is None, q.lock, q.empty,
        _output_positions(q),
    )  # fmt: skip


def _source_shape(src: Source, params: list[object]) -> object:
    if src.kind == "cte":
        if not isinstance(params, _Params):
            raise TypeError("a CTE outside a statement walk")  # not cacheable: compile cold
        ctes = params.ctes
        if ctes is None:
            ctes = params.ctes = {}
        assert src.name is not None
        if src.cte is not None:
            known = ctes.setdefault(src.name, src.cte)
            if known is not src.cte and known != src.cte:
                raise TypeError("two CTEs share a name")  # compile cold, which reports it
        return (type(src), "cte", src.model, src.name)
    query = None if src.query is None else _shape(src.query, params)
    return (type(src), src.kind, src.model, src.name, src.lateral, query)


def _ctes_shape(params: _Params) -> object:
    """The shapes of the CTE definitions met by a walk (in the order the renderer meets them)."""
    out = []
    ctes = params.ctes
    assert ctes is not None
    names = list(ctes)
    i = 0
    while i < len(names):
        cte = ctes[names[i]]
        out.append((names[i], cte.recursive, cte.materialized, _shape(cte.query, params)))
        names = list(ctes)
        i += 1
    return tuple(out)


def _setop_shape(node: SetOp, params: list[object]) -> object:
    key = (type(node), node.op, _shape(node.left, params), _shape(node.right, params), node.ordering,
           node.row_limit, node.row_offset is None, node.empty)  # fmt: skip
    if node.row_offset is not None:
        params.append(node.row_offset)
    return key


_SHAPERS.update(
    {
        tuple: _tuple_shape,
        e.ValueType: lambda node, params: node,
        e.Column: lambda node, params: (e.Column, node.model, node.name),
        e.Param: _param_shape,
        p.Compare: _compare_shape,
        p.And: _junction_shape,
        p.Or: _junction_shape,
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
    """The RETURNING clause and its result: model instances when the columns can build one, else tuples."""
    if columns is None:
        return "", RowCount()
    decodable = not descriptor(model).missing_required(columns)
    return " RETURNING " + column_list(model, columns), ModelRows(model, columns) if decodable else TupleRows(
        len(columns))


def _scope(q: Select[Any], ctx: RenderContext) -> QueryContext:
    """The context of ``q``'s own scope: its model aliased to its source's name, outer-join nullability."""
    from djogi.algebra.query import nullable_sources

    aliases = {} if q.source is None or q.source.name is None else {q.model: q.source.name}
    nullable = nullable_sources(q) if q.joins else frozenset()
    return QueryContext(ctx.params, aliases=aliases, nullable_models=nullable, outer=ctx)


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
    """The model class a column belongs to (through an alias too), or None for a derived source's column."""
    model = x.model if isinstance(x.model, type) else getattr(x.model, "model", None)
    return model if isinstance(model, type) and issubclass(model, Model) else None


def _decode_specs(exprs: Sequence[Any]) -> tuple[Any, ...]:
    """Per projected expression, how its loaded value becomes a Python value: a model column decodes like
    the model's field, an enum-typed expression into members; ``()`` when every value is already final."""
    from djogi.codecs import projection_needs_converter

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
    return next((i + 1 for i, item in enumerate(q.projection) if e.same(item, x)), None)


def _output_positions(q: Select[Any]) -> tuple[int | None, ...] | None:
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


def limit_offset(row_limit: int | None, row_offset: int | None, ctx: RenderContext) -> str:
    """`` LIMIT 10`` (an integer literal) and `` OFFSET $n::bigint`` (a parameter), each when set.

    LIMIT is the one value written into the SQL: ``limit()`` admits only a non-negative ``int``, written
    with ``int.__repr__``, so it cannot carry SQL. A bound LIMIT keeps PostgreSQL off the generic plan of a
    prepared statement (planned for an unknown LIMIT, it costs as if reading a tenth of the table), so
    every execution was planned again. OFFSET stays bound: its values rarely repeat, and a literal would
    make a new statement (and compile-cache entry) per page.
    """
    sql = "" if row_limit is None else " LIMIT " + int.__repr__(row_limit)
    if row_offset is not None:
        sql += " OFFSET " + ctx.param(row_offset, "bigint")
    return sql


def _render_count(node: CountOf, ctx: RenderContext) -> tuple[str, ResultShape]:
    """``SELECT count(*) FROM ... WHERE ...`` or ``SELECT count(*) FROM (<query>) AS "__djogi_sub"``."""
    from djogi.algebra.query import Select, simple

    q = node.query
    if isinstance(q, Select) and simple(q):
        sql, _ = render_select(q, ctx, head="count(*)")
        return sql, ScalarRow()
    sub, _ = render_query(q, ctx)
    return f'SELECT count(*) FROM ({sub}) AS "__djogi_sub"', ScalarRow()


def _render_exists(node: ExistsOf, ctx: RenderContext) -> tuple[str, ResultShape]:
    """``SELECT EXISTS (SELECT 1 FROM ... LIMIT 1)`` (``FROM (<query>) AS "__djogi_sub"`` when needed)."""
    from djogi.algebra.query import Select, simple

    q = node.query
    if isinstance(q, Select) and simple(q):
        sub, _ = render_select(q, ctx, head="1")
    else:
        inner, _ = render_query(q, ctx)
        sub = f'SELECT 1 FROM ({inner}) AS "__djogi_sub"'
    return f"SELECT EXISTS ({sub} LIMIT 1)", ScalarRow()


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
    source, _ = render_query(ins.source, ctx)
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
    from djogi.algebra import aggregate, conditional, subquery, window  # noqa: F401  (register their renderers)
    from djogi.algebra.dml import Delete, Insert, InsertFrom, Update
    from djogi.algebra.query import CountOf, ExistsOf, Select
    from djogi.algebra.setops import SetOp, render_setop
    from djogi.algebra.sources import Source

    _RENDER.update(
        {Select: render_select, Insert: _render_insert, InsertFrom: _render_insert_from, Update: _render_update,
         Delete: _render_delete, SetOp: render_setop, CountOf: _render_count, ExistsOf: _render_exists}
    )  # fmt: skip
    _SHAPERS[Select] = _select_shape
    _SHAPERS[Source] = _source_shape
    _SHAPERS[SetOp] = _setop_shape


_register()
