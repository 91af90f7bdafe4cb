"""Compilation is a function of the value: equal values give byte-identical SQL, and a cache hit gives
exactly what a cold compile gives (hypothesis over random query and mutation shapes)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from djogi import Field, Model, field
from djogi.algebra import compile as compiler
from djogi.algebra.compile import compile
from djogi.algebra.expr import lower

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "300"))


class PItem(Model, table="prop_compile_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal("0"))
    note: Field[str | None] = field(default=None)
    tags: Field[list[str]] = field(default=[])


COLS = {"name": PItem.name, "qty": PItem.qty, "price": PItem.price, "note": PItem.note}
ints = st.integers(-(2**40), 2**40)
texts = st.text(alphabet="ab_%\\xé", max_size=4)
values = {"name": texts, "qty": ints, "price": st.decimals(-1000, 1000, places=2), "note": texts}


@st.composite
def leaf(draw: st.DrawFn) -> Any:
    name = draw(st.sampled_from(sorted(COLS)))
    col: Any = COLS[name]
    kind = draw(st.sampled_from(["cmp", "in", "null", "like", "between"]))
    v = draw(values[name])
    if kind == "cmp":
        op = draw(st.sampled_from(["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"]))
        return getattr(col, op)(v)
    if kind == "in":
        return col.in_(draw(st.lists(values[name], max_size=3)))
    if kind == "null":
        return col.is_null()
    if kind == "like" and name in ("name", "note"):
        return getattr(col, draw(st.sampled_from(["contains", "istartswith", "endswith", "iexact"])))(v)
    return col.between(v, draw(values[name]))


predicates = st.recursive(
    leaf(), lambda inner: st.one_of(st.tuples(inner, inner).map(lambda t: t[0] & t[1]),
                                    st.tuples(inner, inner).map(lambda t: t[0] | t[1]), inner.map(lambda p: ~p)),
    max_leaves=5,
)  # fmt: skip

steps = st.lists(
    st.one_of(
        st.tuples(st.just("filter"), st.lists(predicates, min_size=1, max_size=3)),
        st.tuples(st.just("exclude"), st.lists(predicates, min_size=1, max_size=2)),
        st.tuples(
            st.just("order"), st.sampled_from(sorted(COLS)), st.booleans(), st.sampled_from([None, "first", "last"])
        ),
        st.tuples(st.just("limit"), st.one_of(st.none(), st.integers(0, 10**6))),
        st.tuples(st.just("offset"), st.one_of(st.none(), st.integers(0, 10**6))),
        st.tuples(st.just("distinct")),
        st.tuples(st.just("only"), st.lists(st.sampled_from(sorted(COLS)), min_size=1, max_size=3)),
        st.tuples(st.just("values"), st.integers(1, 3)),
        st.tuples(st.just("lock"), st.sampled_from(["for_update", "for_share", "for_key_share"]), st.booleans()),
        st.tuples(st.just("after"), ints),
        st.tuples(st.just("none")),
    ),
    max_size=8,
)


def build(recipe: list[tuple[Any, ...]]) -> Any:
    q: Any = PItem.objects
    for step in recipe:
        kind = step[0]
        if kind == "filter":
            q = q.filter(*step[1])
        elif kind == "exclude":
            q = q.exclude(*step[1])
        elif kind == "order":
            o = COLS[step[1]].desc() if step[2] else COLS[step[1]].asc()
            q = q.order_by(o if step[3] is None else o.nulls_first() if step[3] == "first" else o.nulls_last())
        elif kind == "limit":
            q = q.limit(step[1])
        elif kind == "offset":
            q = q.offset(step[1])
        elif kind == "distinct" and q.lock is None:
            q = q.distinct()
        elif kind == "only":
            q = q.only(*[COLS[n] for n in step[1]])
        elif kind == "values":
            q = q.values(*[PItem.qty * i for i in range(1, step[1] + 1)], lower(PItem.name))
        elif kind == "lock" and not q.distinct_all:
            q = getattr(q, step[1])(skip_locked=step[2])
        elif kind == "after":
            q = q.order_by(PItem.id).after(tuple(step[1] + i for i in range(len(q.ordering) + 1)))
        elif kind == "none":
            q = q.none()
    return q


def safe_build(recipe: list[tuple[Any, ...]]) -> Any:
    from djogi.errors import ValidationError

    try:
        return build(recipe)
    except ValidationError:  # e.g. after() over a nullable key or values of the wrong type
        return None


@settings(max_examples=EXAMPLES, deadline=None)
@given(steps, steps)
def test_equal_values_compile_identically_and_hits_equal_cold(recipe: Any, other: Any) -> None:
    a, b = safe_build(recipe), safe_build(recipe)
    if a is None:
        return
    assert a == b and hash(a) == hash(b)
    first = compile(a)
    assert compile(b).sql == first.sql and compile(b).params == first.params
    assert first == compiler._cold(a)
    for value in (a, safe_build(other)):
        if value is not None:
            assert compile(value) == compiler._cold(value)  # hit or miss, the same statement


@settings(max_examples=EXAMPLES // 3, deadline=None)
@given(st.lists(st.tuples(texts, ints), min_size=1, max_size=4), st.lists(predicates, max_size=2), ints)
def test_mutations_hits_equal_cold(rows: list[tuple[str, int]], preds: list[Any], n: int) -> None:
    from djogi.algebra.dml import insert

    values: list[Any] = [
        insert(PItem, [PItem(name=name, qty=qty) for name, qty in rows]).on_conflict(PItem.name).do_nothing(),
        PItem.objects.filter(*preds).update(qty=PItem.qty + n, note=None),
        PItem.objects.filter(*preds).delete().with_returning(PItem.id),
    ]
    for value in values:
        assert compile(value) == compiler._cold(value)
        assert compile(value) == compile(value)
