"""Cache transparency: any sequence of queries compiled through the shape cache gives, for each query,
exactly the statement (SQL, parameters, result shape) of a cold compile.

Values come from tiny pools, so that queries of one shape often differ only in values that decide a
rendering (``price * 2`` projected and grouped by ``price * 2`` or ``price * 3``)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Annotated, Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from djogi import Field, ForeignKey, Model, SqlType, Vector, field
from djogi.algebra import (
    case,
    coalesce,
    count,
    count_of,
    cube,
    derived,
    exists,
    exists_of,
    in_query,
    lag,
    lower,
    max_,
    outer,
    rollup,
    row_number,
    rows,
    scalar,
    select_from,
    sum_,
    with_,
)
from djogi.algebra import compile as compiler
from djogi.algebra.compile import cache_clear, compile
from djogi.algebra.dml import delete, insert
from djogi.algebra.search import l2_distance, to_tsvector, ts_match, ts_rank, websearch_to_tsquery
from djogi.errors import DjogiError

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "300"))


class CtAuthor(Model, table="ct_authors"):
    name: Field[str]


class CtItem(Model, table="ct_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal(0))
    note: Field[str | None] = field(default=None)
    author: ForeignKey[CtAuthor | None] = field(default=None)
    embedding: Field[Annotated[Vector, SqlType("VECTOR(2)")] | None] = field(default=None)


small = st.sampled_from([1, 2, 3])
texts = st.sampled_from(["a", "b"])

# An expression recipe: (kind, value); values from tiny pools so equal and unequal expressions both occur.
expr_recipes = st.one_of(
    st.tuples(st.sampled_from(["qty", "price", "name", "lower", "count"]), st.just(0)),
    st.tuples(st.sampled_from(["qty*", "price*", "qty+", "coalesce", "case"]), small),
)


def expr(recipe: tuple[str, int]) -> Any:
    kind, k = recipe
    return {
        "qty": lambda: CtItem.qty,
        "price": lambda: CtItem.price,
        "name": lambda: CtItem.name,
        "lower": lambda: lower(CtItem.name),
        "count": lambda: count(),
        "qty*": lambda: CtItem.qty * k,
        "price*": lambda: CtItem.price * k,
        "qty+": lambda: CtItem.qty + k,
        "coalesce": lambda: coalesce(CtItem.note, "n" * k),
        "case": lambda: case(CtItem.qty > k, 1).otherwise(k),
    }[kind]()


def plain_expr(recipe: tuple[str, int]) -> Any:
    """``expr`` without aggregates (group keys, window keys)."""
    return expr(("qty", 0) if recipe[0] == "count" else recipe)


# A grouping or ordering key: an expression, or ("p<i>", k): the i-th projected expression's kind with value k.
key_recipes = st.one_of(expr_recipes, st.tuples(st.sampled_from(["p0", "p1", "p2"]), small))


def key_expr(recipe: tuple[str, int], projection: list[tuple[str, int]], build: Any = expr) -> Any:
    kind, k = recipe
    if kind in ("p0", "p1", "p2"):
        kind = projection[int(kind[1]) % len(projection)][0]
    return build((kind, k))


pred_recipes = st.tuples(st.sampled_from(["gt", "eq", "in", "like", "null", "not", "or"]), small, texts)


def pred(recipe: tuple[str, int, str]) -> Any:
    kind, k, s = recipe
    return {
        "gt": lambda: CtItem.qty > k,
        "eq": lambda: CtItem.price * k == k,
        "in": lambda: CtItem.qty.in_([k, k + 1]),
        "like": lambda: CtItem.name.startswith(s),
        "null": lambda: CtItem.note.is_null(),
        "not": lambda: ~(CtItem.qty > k),
        "or": lambda: (CtItem.qty < k) | (CtItem.name == s),
    }[kind]()


def simple_query(preds: list[Any], order: list[Any], limit: int | None, off: int | None) -> Any:
    q = CtItem.objects.where(*[pred(r) for r in preds])
    if order:
        q = q.order_by(*[plain_expr(r) for r in order])
    return q.limit(limit).offset(off)


query_recipes = st.one_of(
    st.tuples(
        st.just("select"), st.lists(pred_recipes, max_size=2), st.lists(expr_recipes, max_size=2),
        st.one_of(st.none(), small), st.one_of(st.none(), small),
    ),
    st.tuples(
        st.just("grouped"), st.lists(expr_recipes, min_size=1, max_size=3), st.lists(key_recipes, max_size=2),
        st.sampled_from(["keys", "rollup", "cube"]), st.one_of(st.none(), small), st.lists(key_recipes, max_size=2),
        st.booleans(),
    ),
    st.tuples(st.just("window"), expr_recipes, expr_recipes, small, st.booleans()),
    st.tuples(
        st.just("setop"), st.sampled_from(["union", "union_all", "intersect", "except_"]),
        st.lists(pred_recipes, max_size=2), st.lists(pred_recipes, max_size=2),
        st.one_of(st.none(), small), st.one_of(st.none(), small),
    ),
    st.tuples(st.just("subquery"), st.sampled_from(["exists", "in", "scalar", "derived"]), pred_recipes, small),
    st.tuples(st.just("cte"), st.lists(pred_recipes, max_size=2), st.lists(pred_recipes, max_size=2), st.booleans()),
    st.tuples(st.just("dml"), st.sampled_from(["update", "delete", "insert"]), st.lists(pred_recipes, max_size=2),
              small, texts),
    st.tuples(st.just("count"), st.sampled_from(["count", "exists"]), st.lists(pred_recipes, max_size=2), small),
    # one search term or vector bound in several places, as one shared node or as equal or unequal values
    st.tuples(st.just("search"), texts, texts, st.booleans(), st.booleans()),
    st.tuples(st.just("knn"), small, small, st.booleans()),
)  # fmt: skip


def build(recipe: tuple[Any, ...]) -> Any:
    kind = recipe[0]
    if kind == "select":
        _, preds, order, limit, off = recipe
        return simple_query(preds, order, limit, off)
    if kind == "grouped":
        _, projection, keys, grouping, having, order, named = recipe
        exprs = [expr(r) for r in projection]
        q = (
            CtItem.objects.values(**{f"c{i}": x for i, x in enumerate(exprs)})
            if named
            else CtItem.objects.values(*exprs)
        )
        group_keys = [key_expr(r, projection, plain_expr) for r in keys] or [plain_expr(projection[0])]
        q = (
            q.group_by(*group_keys)
            if grouping == "keys"
            else q.group_by(rollup(*group_keys) if grouping == "rollup" else cube(*group_keys))
        )
        if having is not None:
            q = q.having(count() > having)
        return q.order_by(*[key_expr(r, projection) for r in order])
    if kind == "window":
        _, part, key, k, frame = recipe
        over = sum_(CtItem.qty * k).over(
            partition_by=plain_expr(part), order_by=plain_expr(key), frame=rows(-k, 0) if frame else None
        )
        return CtItem.objects.values(
            n=row_number().over(order_by=plain_expr(key)), s=over, prev=lag(CtItem.qty, k, k).over(order_by=CtItem.id)
        ).order_by(plain_expr(key))
    if kind == "setop":
        _, op, left, right, limit, off = recipe
        arm = getattr(simple_query(left, [], None, None).values(v=CtItem.qty), op)(
            simple_query(right, [], None, None).values(v=CtItem.qty * 2)
        )
        return arm.order_by("v").limit(limit).offset(off)
    if kind == "subquery":
        _, how, p, k = recipe
        inner = CtItem.objects.where(pred(p))
        if how == "exists":
            return CtAuthor.objects.where(exists(inner.where(CtItem.author == outer(CtAuthor.id))))
        if how == "in":
            return CtAuthor.objects.where(in_query(CtAuthor.id, inner.values(CtItem.author)))
        if how == "scalar":
            return CtItem.objects.where(CtItem.qty > scalar(inner.values(max_(CtItem.qty * k))))
        per = derived(inner.group_by(CtItem.author).values(author=CtItem.author, n=count()), "per")
        return CtAuthor.objects.join(per, on=CtAuthor.id == per.author).where(per.n > k)
    if kind == "cte":
        _, inner, outer_preds, materialized = recipe
        src = with_("src", CtItem.objects.where(*[pred(r) for r in inner]), materialized=materialized)
        return select_from(src).where(*[pred(r) for r in outer_preds]).order_by(src.id)
    if kind == "dml":
        _, how, preds, k, s = recipe
        q = CtItem.objects.where(*[pred(r) for r in preds])
        if how == "update":
            return q.update(qty=CtItem.qty * k, note=s)
        if how == "delete":
            return delete(q).with_returning()
        return insert(CtItem, [CtItem(name=s, qty=k), CtItem(name=s * 2, qty=k)])
    if kind == "search":
        _, a, b, shared, ranked = recipe
        document = to_tsvector("simple", CtItem.name)
        query = websearch_to_tsquery("simple", a)
        rank = ts_rank(document, query if shared else websearch_to_tsquery("simple", b))
        matches = CtItem.objects.where(ts_match(document, query))
        return matches.order_by(rank.desc()).values(CtItem.id, rank) if ranked else matches.order_by(rank)
    if kind == "knn":
        _, a, b, shared = recipe
        probe = Vector([float(a), float(b)])
        near = CtItem.objects.where(l2_distance(CtItem.embedding, probe if shared else Vector([float(b), 1.0])) < a)
        return near.order_by(l2_distance(CtItem.embedding, probe)).limit(10)
    _, how, preds, k = recipe
    q = CtItem.objects.where(*[pred(r) for r in preds]).limit(k)
    return count_of(q) if how == "count" else exists_of(q)


def outcome(compiler_fn: Any, value: Any) -> Any:
    try:
        return compiler_fn(value)
    except DjogiError as exc:
        return (type(exc), str(exc))


def revalue(recipe: Any, draw: st.DrawFn) -> Any:
    """``recipe`` with each value from the pools drawn again (the same shape, often other values)."""
    if isinstance(recipe, (tuple, list)):
        items = [revalue(item, draw) for item in recipe]
        return tuple(items) if isinstance(recipe, tuple) else items
    if type(recipe) is int and recipe in (1, 2, 3):
        return draw(small)
    if recipe in ("a", "b"):
        return draw(texts)
    return recipe


@st.composite
def sequences(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Queries and variants of them that differ in values only, in a random order."""
    bases = draw(st.lists(query_recipes, min_size=1, max_size=3))
    out = [revalue(b, draw) for b in bases for _ in range(draw(st.integers(1, 3)))]
    return draw(st.permutations(out))


@settings(max_examples=EXAMPLES, deadline=None)
@given(sequences())
@example(
    [
        ("grouped", [("price*", 2), ("count", 0)], [("price*", 3)], "keys", None, [], False),
        ("grouped", [("price*", 2), ("count", 0)], [("price*", 2)], "keys", None, [], False),
    ]
)
@example([("search", "a", "a", False, True), ("search", "a", "b", False, True), ("search", "b", "b", True, True)])
@example([("knn", 1, 1, False), ("knn", 2, 1, False), ("knn", 2, 1, True), ("knn", 3, 3, True)])
def test_warm_compile_equals_cold_compile(recipes: list[tuple[Any, ...]]) -> None:
    cache_clear()
    for recipe in recipes:
        try:
            value = build(recipe)
        except DjogiError:
            continue
        assert outcome(compile, value) == outcome(compiler._cold, value), recipe
        assert outcome(compile, value) == outcome(compiler._cold, value), recipe  # a hit now, if cacheable
