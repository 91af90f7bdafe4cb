"""``compile``: query and mutation values -> ``Statement`` (SQL with ``$n`` placeholders + params).

The SQL comes from the one renderer, ``djogi.algebra.render`` (every identifier from a validated model
descriptor, double-quoted; every value a bound parameter, only ``NULL``, ``TRUE`` and ``FALSE`` spliced
into the text); this module adds the shape cache.

**Shape cache.** ``compile`` first walks the value once, producing its *shape* (the value with every
parameter abstracted to its SQL type) and, in the same pass, the parameters in ``$n`` order. A shape seen
before is a cache hit: the SQL text and result shape are reused and only the parameters are new. A shape
is stored only after its cold compile proved the walk reproduces the renderer's parameters exactly (the
same values, in the same order); shapes that cannot be proved, or whose parts are not hashable, are
compiled cold every time, never wrongly cached.

Equal values in the proving compile (one search term bound three times, ``a > 5 AND b < 5``) leave their
relative order unproved: the entry keeps those positions as *ties*, and a hit is taken only when the new
parameters are also exactly the same value within each tie (then their order cannot matter); otherwise the
value is compiled cold, and its own proof narrows the ties (to the positions equal in both compiles), so a
shape seen with distinct values stops needing the check.

A shape is generated per node class from its declared children (``djogi.algebra.traverse``): child and
scope fields are shaped, data fields kept as they are. Where rendering depends on values beyond that
(parameters in another order than the fields, like ``LIKE`` patterns; GROUP BY / ORDER BY keys that name
a select-list position, ``render.output_positions``; CTEs met on the way), the node's shaper in
``_SHAPERS`` says so explicitly, so every value-dependent rendering decision is part of the key.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any
from uuid import UUID

import msgspec

from djogi.algebra import expr as e
from djogi.algebra import predicate as p
from djogi.algebra.cte import Cte
from djogi.algebra.depth import retry_deep
from djogi.algebra.dml import Delete, Insert, InsertFrom, Merge, Update
from djogi.algebra.query import CountOf, ExistsOf, Select
from djogi.algebra.render import STATEMENTS, QueryContext, like_text, output_positions, with_clause
from djogi.algebra.results import ResultShape, Statement
from djogi.algebra.setops import SetOp
from djogi.algebra.sources import Source
from djogi.algebra.traverse import field_roles
from djogi.errors import ArgumentTypeError, ValidationError
from djogi.schema.registry import registered

__all__ = [
    "cache_clear",
    "cache_size",
    "compile",
    "compile_named",
]

MAX_PARAMS = 65535  # PostgreSQL's limit on bind parameters per statement
CACHE_MAX = 4096


def compile(
    value: Select[Any]
    | Insert[Any]
    | InsertFrom[Any]
    | Update[Any]
    | Delete[Any]
    | Merge[Any]
    | SetOp[Any]
    | CountOf
    | ExistsOf,
) -> Statement:
    """Compile a query or mutation value to a ``Statement``, through the shape cache.

    Raises ``ValidationError`` for values that cannot become valid SQL (e.g. a lock with DISTINCT) or that
    are nested deeper than ``depth.MAX_DEPTH``, and ``ArgumentTypeError`` for objects that are not compilable values.
    """
    try:
        return _compile(value)
    except RecursionError:
        return retry_deep(_compile, value)


def compile_named(value: Select[Any]) -> Statement:
    """Compile ``value`` without the shape cache, keeping a ``Slot`` in ``params`` for each named parameter
    (``param()``); what ``djogi.algebra.template`` builds on. Raises as ``compile``."""
    try:
        return _cold(value, named=True)
    except RecursionError:
        return retry_deep(lambda v: _cold(v, named=True), value)


def _compile(value: Any) -> Statement:
    params = _Params()
    try:
        key = _shape(value, params)
        if params.ctes:
            key = (key, _ctes_shape(params))
        hit = _CACHE.get(key)
    except TypeError:  # an unhashable part: no cache for this value
        return _cold(value)
    if hit is not None and (not hit[3] or _tied(params, hit[3])):
        return Statement(hit[0], tuple(params), hit[1], hit[2], hit[4])
    stmt = _cold(value)
    ties = _proof(params, stmt.params)
    if ties is not None:
        if hit is not None and hit[0] == stmt.sql:
            ties = _meet(hit[3], ties)
        elif len(_CACHE) >= CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = (stmt.sql, stmt.result, stmt.empty, ties, stmt.tenants)
    return stmt


def cache_size() -> int:
    """The number of shapes in the compile cache."""
    return len(_CACHE)


def cache_clear() -> None:
    """Forget every cached shape."""
    _CACHE.clear()


Ties = tuple[tuple[int, ...], ...]
"""Groups of parameter positions whose order a proof could not tell apart (equal values)."""

_CACHE: dict[object, tuple[str, ResultShape, bool, Ties, tuple[Any, ...]]] = {}


def _cold(value: Any, *, named: bool = False) -> Statement:
    """Render ``value``; a named parameter (``param()``) is refused unless ``named`` (``template()``)."""
    render = STATEMENTS.get(type(value))
    if render is None:
        raise ArgumentTypeError(
            f"cannot compile {type(value).__name__}: compile() takes a query or mutation (a Select, SetOp, CountOf, "
            "ExistsOf, Insert, InsertFrom, Update or Delete, such as Book.objects.where(...))"
        )
    ctx = QueryContext()
    sql, result = render(value, ctx)
    if ctx.ctes:
        sql = with_clause(ctx) + sql
    if len(ctx.params) > MAX_PARAMS:
        raise ValidationError(
            f"the statement needs {len(ctx.params)} parameters; PostgreSQL allows {MAX_PARAMS} "
            "(insert fewer rows per statement, or use bulk_create / COPY)"
        )
    slot = None if named else next((v for v in ctx.params if type(v) is e.Slot), None)
    if slot is not None and isinstance(value, Insert | InsertFrom | Update | Delete | Merge):
        raise ValidationError(
            f"param({slot.name!r}) has no value here: only a select query run through db.prepare(query) takes "
            f"named parameters; a mutation ({type(value).__name__}) takes the values themselves"
        )
    if slot is not None:
        raise ValidationError(
            f"param({slot.name!r}) has no value here: a select query with named parameters runs through "
            f"db.prepare(query), which takes the values on each run ({slot.name}=...); "
            "djogi.algebra.template(query) compiles one without a database"
        )
    return Statement(sql, tuple(ctx.params), result, bool(getattr(value, "empty", False)), _tenant_models(value))


def _tenant_models(value: Any) -> tuple[Any, ...]:
    """The tenant-keyed models whose tables ``value`` names, as the renderer does (a select's own table when
    it has no source, a table source, a mutation's target), in every scope: joins, subqueries, derived and
    LATERAL tables, CTE bodies, set-operation arms, a mutation's source; each once, base first. One pass
    over the child and scope fields ``djogi.algebra.traverse`` declares (the fields the renderer reads)."""
    found: dict[Any, None] = {}
    stack = [value]
    pop, push, known = stack.pop, stack.extend, _WALKED.get
    while stack:
        x = pop()
        t = type(x)
        if t is tuple or t is list:
            push(x[::-1])
            continue
        walked = known(t)
        if walked is None:
            walked = _WALKED[t] = _walked(t)
        names, table_of = walked
        if table_of is not None:
            model = table_of(x)
            desc = registered(model)
            if desc is not None and desc.tenant_key is not None:
                found[model] = None
        if names:
            push([getattr(x, name) for name in names[::-1]])
    return tuple(found)


def _walked(t: type) -> tuple[tuple[str, ...], Callable[[Any], Any] | None]:
    """For node type ``t``: its fields holding nodes (child and scope fields), and how to read the model whose
    table a node of it names (``None``: it names none)."""
    if not issubclass(t, msgspec.Struct):
        return (), None
    names = tuple(name for name, role in field_roles(t) if role != "data")
    return names, next((read for base, read in _TABLE_OF.items() if issubclass(t, base)), None)


_WALKED: dict[type, tuple[tuple[str, ...], Callable[[Any], Any] | None]] = {}
_TABLE_OF: dict[type, Callable[[Any], Any]] = {
    Select: lambda q: q.model if q.source is None else None,
    Source: lambda s: s.model if s.kind == "table" else None,
    **dict.fromkeys((Insert, InsertFrom, Update, Delete, Merge), lambda m: m.model),
}


def _named_shape(node: e.Named[Any], params: list[object]) -> object:
    raise TypeError("a named parameter")  # never cached: compiled cold, where compile() refuses it


def _proof(walked: list[object], rendered: tuple[object, ...]) -> Ties | None:
    """The ties left when the shape walk's parameters are exactly the renderer's (``()``: none; positions of
    equal values otherwise), or ``None`` when they differ or cannot be compared."""
    if len(walked) != len(rendered):
        return None
    try:
        for a, b in zip(walked, rendered, strict=True):
            if type(a) is not type(b) or a != b:
                return None
    except (TypeError, ValueError):  # values that cannot be compared (an array's == is not a bool)
        return None
    try:
        classes: dict[object, list[int]] = {}
        for i, a in enumerate(walked):
            classes.setdefault((list, *a) if type(a) is list else (type(a), a), []).append(i)
    except (TypeError, ValueError):  # an unhashable value (a pgvector Vector): compare pairwise
        return _pairwise_ties(walked)
    return tuple([tuple(c) for c in classes.values() if len(c) > 1])


MAX_PAIRWISE = 64  # more unhashable-value parameters than this: not proved (compiled cold)


def _pairwise_ties(walked: list[object]) -> Ties | None:
    if len(walked) > MAX_PAIRWISE:
        return None
    classes: list[list[int]] = []
    try:
        for i, a in enumerate(walked):
            for c in classes:
                b = walked[c[0]]
                if type(a) is type(b) and a == b:
                    c.append(i)
                    break
            else:
                classes.append([i])
    except (TypeError, ValueError):
        return None
    return tuple([tuple(c) for c in classes if len(c) > 1])


def _meet(old: Ties, new: Ties) -> Ties:
    """The ties two proofs of one shape leave together: positions tied in both."""
    if not old or not new:
        return ()
    label = {i: n for n, c in enumerate(old) for i in c}
    classes: dict[tuple[int, int], list[int]] = {}
    for m, c in enumerate(new):
        for i in c:
            if i in label:
                classes.setdefault((label[i], m), []).append(i)
    return tuple([tuple(c) for c in classes.values() if len(c) > 1])


def _tied(params: list[object], ties: Ties) -> bool:
    """Whether ``params`` hold exactly the same value at every position of each tie."""
    for c in ties:
        first = params[c[0]]
        for i in c[1:]:
            if not _same(first, params[i]):
                return False
    return True


_EXACT = frozenset({str, int, bool, bytes, type(None), UUID, date})  # types whose == means "bound identically"


def _same(a: object, b: object) -> bool:
    """``a`` and ``b`` bind identically: the same object, equal values of a type in ``_EXACT``, or lists of
    such. (``Decimal("1.0") == Decimal("1.00")`` and ``0.0 == -0.0``, yet each binds differently.)"""
    if a is b:
        return True
    t = type(a)
    if t is not type(b):
        return False
    if t in _EXACT:
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(_same, a, b))
    return False


class _Params(list[object]):
    """Parameters collected by a shape walk, plus the CTE definitions met on the way (walked last; ``None``
    until the first one, so the common walk does not build a dict)."""

    ctes: dict[str, Cte] | None = None


# ------------------------------------------------------------------------------------------ shapes

Shaper = Callable[[Any, list[object]], object]
_SHAPERS: dict[type, Shaper] = {}


def _shape(node: object, params: list[object]) -> object:
    """The cache key of ``node``; appends its parameters to ``params`` in render order."""
    shaper = _SHAPERS.get(type(node))
    if shaper is None:
        if isinstance(node, msgspec.Struct):
            shaper = _SHAPERS[type(node)] = _struct_shaper(type(node))
        else:
            return (type(node), node)
    return shaper(node, params)


def _struct_shaper(cls: type[msgspec.Struct]) -> Shaper:
    """A shaper generated for ``cls`` from its declared children (``djogi.algebra.traverse``):
    ``(cls, <field shapes in declaration order>)``, child and scope fields shaped, data fields kept as they
    are (a data field holding an unhashable value makes the value uncacheable: it compiles cold)."""
    parts = "".join(
        f"x.{name}, " if role == "data" else f"g(type(x.{name}), s)(x.{name}, p), " for name, role in field_roles(cls)
    )
    namespace: dict[str, Any] = {"s": _shape, "g": _SHAPERS.get, "C": cls}
    exec(f"def shaper(x, p):\n    return (C, {parts})", namespace)
    return namespace["shaper"]  # type: ignore[no-any-return]


def _tuple_shape(node: tuple[object, ...], params: list[object]) -> object:
    g = _SHAPERS.get  # each item's shaper called directly (``_shape`` only for a type not seen yet)
    out = []
    for item in node:  # (a plain loop: a list comprehension costs a frame per call)
        out.append(g(type(item), _shape)(item, params))
    return tuple(out)


def _param_shape(node: e.Param[Any], params: list[object]) -> object:
    value = node.value
    params.append(list(value) if type(value) is tuple else value)  # as ``render`` binds it: a tuple as an array
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
    out = []
    for part in node.parts:  # (a plain loop, as in ``_tuple_shape``)
        out.append(_compare_shape(part, params) if type(part) is p.Compare else _shape(part, params))
    return (type(node), tuple(out))


def _like_shape(node: p.Like, params: list[object]) -> object:
    if not isinstance(node.text, str):
        return _named_shape(node.text, params)  # (raises: never cached)
    key = (p.Like, _shape(node.expr, params), node.mode, node.ci)
    params.append(like_text(node.mode, node.text))
    return key


def _regex_shape(node: p.Regex, params: list[object]) -> object:
    if not isinstance(node.pattern, str):
        return _named_shape(node.pattern, params)  # (raises: never cached)
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
        condition = s(q.condition, params)
        ordering = []
        for o in q.ordering:  # (a plain loop, as in ``_tuple_shape``)
            ordering.append(
                (e.OrderBy, (e.Column, x.model, x.name), o.descending, o.nulls)
                if type(o) is e.OrderBy and type(x := o.expr) is e.Column else s(o, params)
            )  # fmt: skip
        key: tuple[object, ...] = (
            _SIMPLE_SELECT, q.model, q.distinct_all, q.into, q.selected, q.annotation_type, condition,
            tuple(ordering), q.row_limit, q.row_offset is None, q.lock, q.empty,
        )  # fmt: skip
    else:
        key = _full_select_shape(q, params)
    if q.row_offset is not None:
        params.append(_offset(q.row_offset, params))
    return key


def _offset(value: Any, params: list[object]) -> object:
    return value if type(value) is int else _named_shape(value, params)  # (a named one raises: never cached)


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
        output_positions(q),
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
        out.append((names[i], cte.recursive, cte.materialized, cte.search, cte.cycle, _shape(cte.query, params)))
        names = list(ctes)
        i += 1
    return tuple(out)


def _setop_shape(node: SetOp[Any], params: list[object]) -> object:
    key = (type(node), node.op, _shape(node.left, params), _shape(node.right, params), node.ordering,
           node.row_limit, node.row_offset is None, node.empty)  # fmt: skip
    if node.row_offset is not None:
        params.append(_offset(node.row_offset, params))
    return key


_SHAPERS.update(
    {
        tuple: _tuple_shape,
        e.ValueType: lambda node, params: node,
        e.Column: lambda node, params: (e.Column, node.model, node.name),
        e.Param: _param_shape,
        e.Named: _named_shape,
        p.Compare: _compare_shape,
        p.And: _junction_shape,
        p.Or: _junction_shape,
        p.Like: _like_shape,
        p.Regex: _regex_shape,
        e.JsonPath: _json_path_shape,
    }
)


_SHAPERS.update({Select: _select_shape, Source: _source_shape, SetOp: _setop_shape})
