"""The shape-keyed compile cache: hits equal cold compiles; unprovable shapes are never cached."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any

import pytest

from djogi import Field, Model, SqlType, Vector, field
from djogi.algebra import compile as compiler
from djogi.algebra.compile import cache_clear, cache_size, compile
from djogi.algebra.dml import insert, update_one
from djogi.algebra.expr import lower
from djogi.algebra.results import Statement
from djogi.algebra.search import l2_distance


class CItem(Model, table="c_items"):
    name: Field[str]
    qty: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal("0"))
    tags: Field[list[str]] = field(default=[])


class CEmbedding(Model, table="c_embeddings"):
    embedding: Field[Annotated[Vector, SqlType("VECTOR(2)")]]


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    cache_clear()
    yield
    cache_clear()


def cold(value: Any) -> Statement:
    return compiler._cold(value)


def shaped(name: str, qty: int, tags: list[str], n: int) -> Any:
    return (
        CItem.objects.filter(CItem.name.istartswith(name), CItem.qty > qty, CItem.tags.overlap(tags))
        .exclude(CItem.qty.in_([qty + 1, qty + 2]))
        .order_by(lower(CItem.name), CItem.id.desc())
        .order_by(CItem.id)
        .after((name.lower(), qty + 3, qty + 4))
        .limit(10)
        .offset(n)
    )


def test_hit_equals_cold_compile() -> None:
    first = compile(shaped("a", 1, ["x"], 10))
    assert cache_size() == 1
    value = shaped("b_%", 5, ["y", "z"], 20)
    hit = compile(value)
    assert cache_size() == 1
    assert hit == cold(value)
    assert hit.sql == first.sql
    assert hit.params != first.params


def test_limit_is_part_of_the_shape() -> None:
    """LIMIT is written into the SQL, so each limit is its own shape; OFFSET stays a parameter."""
    ten = compile(CItem.objects.order_by(CItem.id).limit(10).offset(5))
    assert compile(CItem.objects.order_by(CItem.id).limit(10).offset(7)).sql == ten.sql
    assert cache_size() == 1
    twenty = compile(CItem.objects.order_by(CItem.id).limit(20).offset(5))
    assert cache_size() == 2
    assert ten.sql.endswith(" LIMIT 10 OFFSET $1::bigint") and ten.params == (5,)
    assert twenty.sql.endswith(" LIMIT 20 OFFSET $1::bigint") and twenty.params == (5,)


def test_shapes_differ_in_structure() -> None:
    compile(CItem.objects.filter(CItem.qty > 1))
    compile(CItem.objects.filter(CItem.qty < 1))
    compile(CItem.objects.filter(CItem.qty > 1).limit(3))
    compile(CItem.objects.filter(CItem.name == "a"))
    assert cache_size() == 4


def test_equal_values_are_cached_as_ties_then_narrowed() -> None:
    """Two equal values could have swapped places unnoticed: the entry keeps them as a tie, a hit needs the
    same value at both places, and a compile with distinct values proves the order and drops the tie."""
    same_type = CItem.objects.filter(CItem.qty > 5, CItem.qty < 5)
    assert compile(same_type) == cold(same_type)
    assert cache_size() == 1
    ((sql, _result, _empty, ties, _tenants),) = compiler._CACHE.values()
    assert ties == ((0, 1),)
    assert compile(same_type) == cold(same_type)  # a hit: the tie holds
    distinct = CItem.objects.filter(CItem.qty > 4, CItem.qty < 6)
    assert compile(distinct) == cold(distinct)  # the tie fails: compiled cold, and proved
    assert list(compiler._CACHE.values()) == [(sql, _result, _empty, (), ())]
    assert compile(same_type) == cold(same_type)
    typed = CItem.objects.filter(CItem.qty > 5, CItem.price < 5)  # 5 and Decimal(5): told apart by type
    compile(typed)
    assert cache_size() == 2 and all(entry[3] == () for entry in compiler._CACHE.values())


def test_a_tie_guards_against_a_walk_in_the_wrong_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """A shaper that walks a conjunction backwards (a bug the proof must catch): distinct values are never
    cached; equal values are, as a tie, and a later hit with unequal values is refused, not misbound."""
    from djogi.algebra import predicate as p

    def backwards(node: p.And, params: list[object]) -> object:
        return (p.And, tuple(reversed([compiler._shape(part, params) for part in reversed(node.parts)])))

    monkeypatch.setitem(compiler._SHAPERS, p.And, backwards)
    compile(CItem.objects.filter(CItem.qty > 1, CItem.qty < 2))
    assert cache_size() == 0
    compile(CItem.objects.filter(CItem.qty > 3, CItem.qty < 3))
    assert cache_size() == 1
    for a, b in ((7, 8), (9, 9), (2, 1)):
        value = CItem.objects.filter(CItem.qty > a, CItem.qty < b)
        assert compile(value) == cold(value)
        assert compile(value).params == (a, b)


def test_ties_compare_exactly() -> None:
    """A tie holds only for values that bind identically: the same object, or equal str/int/bytes/UUID/date
    values (``Decimal("1.0") == Decimal("1.00")`` but binds another scale; ``0.0 == -0.0``)."""
    one, one_scaled = Decimal("1.0"), Decimal("1.00")
    for a, b in ((one, one), (one, one_scaled), (one_scaled, one), (one, one)):
        value = CItem.objects.filter(CItem.price > a, CItem.price < b)
        assert compile(value) == cold(value)
        assert str(compile(value).params[1]) == str(b)
    assert compiler._same(one, one) and not compiler._same(one, one_scaled)
    assert not compiler._same(0.0, -0.0) and not compiler._same(1, True) and not compiler._same([1], [1.0])
    assert compiler._same("x", "".join(["x"])) and compiler._same([1, "a"], [1, "a"])


def test_unhashable_values_are_proved_pairwise() -> None:
    """A pgvector ``Vector`` is not hashable: its shape is still cached, with equal vectors as a tie."""

    def knn(probe: Vector, other: Vector) -> Any:
        return CEmbedding.objects.where(l2_distance(CEmbedding.embedding, other) < 1).order_by(
            l2_distance(CEmbedding.embedding, probe)
        )

    first = knn(Vector([1.0, 2.0]), Vector([3.0, 4.0]))
    assert compile(first) == cold(first) and cache_size() == 1
    assert next(iter(compiler._CACHE.values()))[3] == ()
    for a, b in (([5.0, 6.0], [7.0, 8.0]), ([1.0, 1.0], [1.0, 1.0])):
        value = knn(Vector(a), Vector(b))
        assert compile(value) == cold(value)
        assert compile(value).params == (Vector(b), 1.0, Vector(a))


def test_mutations_are_cached_by_shape() -> None:
    a = insert(CItem, [CItem(name="a"), CItem(name="b", qty=2)])
    b = insert(CItem, [CItem(name="c", qty=7), CItem(name="d", qty=8)])
    compile(a)
    assert compile(b) == cold(b)
    u1 = update_one(CItem(name="a", id=1), {"qty": 3})
    u2 = update_one(CItem(name="b", id=2), {"qty": 4})
    compile(u1)
    assert compile(u2) == cold(u2)
    m1 = CItem.objects.filter(CItem.qty > 1).update(price=CItem.price * 2)
    m2 = CItem.objects.filter(CItem.qty > 3).update(price=CItem.price * 4)
    compile(m1)
    assert compile(m2) == cold(m2)
    d1 = CItem.objects.filter(CItem.name.contains("a")).delete()
    d2 = CItem.objects.filter(CItem.name.contains("b")).delete()
    compile(d1)
    assert compile(d2) == cold(d2)


def test_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compiler, "CACHE_MAX", 3)
    for n in range(10):
        compile(CItem.objects.filter(*[CItem.qty > i for i in range(n + 1)]).limit(1000 + n))
        assert cache_size() <= 3


def test_not_compilable() -> None:
    with pytest.raises(TypeError, match="cannot compile"):
        compile(42)  # type: ignore[arg-type]


def test_output_positions_are_part_of_the_shape() -> None:
    """GROUP BY / ORDER BY name a projected expression with bound values by its output position; whether
    a key is projected depends on the values, so a warm cache must not reuse another query's decision."""
    from djogi.algebra.aggregate import count

    base = CItem.objects.values(CItem.price * 2, count())
    unprojected, projected = base.group_by(CItem.price * 3), base.group_by(CItem.price * 2)
    first = compile(unprojected)
    assert first.sql.endswith('GROUP BY ("c_items"."price" * $2::numeric)')
    hit = compile(projected)
    assert hit == cold(projected)
    assert hit.sql.endswith(" GROUP BY 1") and hit.params == (Decimal(2),)
    assert compile(unprojected) == cold(unprojected)
    ordered = base.group_by(CItem.price * 2).order_by(CItem.price * 3)
    compile(ordered)
    reordered = base.group_by(CItem.price * 2).order_by(CItem.price * 2)
    assert compile(reordered) == cold(reordered)
    assert cold(reordered).sql.endswith(" GROUP BY 1 ORDER BY 1 ASC")


class _Incomparable:
    """A value whose ``==`` raises (as a numpy array's does in a boolean context) and which has no hash."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        raise ValueError("the truth value is ambiguous")


def test_values_that_cannot_be_compared_compile_cold() -> None:
    from djogi.algebra.expr import Param, ValueType

    def query(value: object) -> Any:
        return CItem.objects.where(lower(CItem.name) == Param(value, ValueType(None, "text")))

    first, second = _Incomparable(), _Incomparable()
    for value in (first, second):
        stmt = compile(query(value))
        assert stmt.sql == cold(query(value)).sql and stmt.params[0] is value
    assert cache_size() == 0
