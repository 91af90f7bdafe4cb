"""Build-time errors of the advanced constructs, equality of values, and the compile cache on them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from djogi import Field, ForeignKey, Model, Serial, field
from djogi.algebra import (
    aliased,
    array_agg,
    case,
    count,
    derived,
    exists,
    in_query,
    lag,
    max_,
    min_,
    outer,
    row_number,
    rows,
    scalar,
    select_from,
    sum_,
    with_,
)
from djogi.algebra.compile import cache_clear, cache_size, compile
from djogi.algebra.dml import update
from djogi.algebra.expr import abs_, coalesce, nullif
from djogi.errors import NotPortable, ValidationError


class VAuthor(Model[Serial], table="advv_authors"):
    name: Field[str]


class VBook(Model[Serial], table="advv_books"):
    title: Field[str]
    author: ForeignKey[VAuthor]
    price: Field[Decimal] = field(default=Decimal(0))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: VBook.objects.where(count() > 1), "use having"),
        (lambda: VBook.objects.where(row_number().over() > 1), "cannot appear here"),
        # the aggregate check walks the tested side of in_query() too (it used to skip the whole node)
        (lambda: VBook.objects.where(in_query(count(), VBook.objects.values(VBook.id))), "use having"),
        (lambda: VBook.objects.values(row_number()), "call .over"),
        (lambda: count(VBook.title).distinct_().order_by(VBook.price), "must be one of the arguments"),
        (lambda: count().order_by(VBook.price), "count(*) cannot take ORDER BY"),
        (lambda: count(None, distinct=True), "count(DISTINCT *)"),
        (lambda: sum_(VBook.title), "sum(VBook.title)"),
        (lambda: sum_(sum_(VBook.price)), "cannot be nested"),
        (lambda: rows(2, -1), "must not come after"),
        (lambda: case(VBook.price > 1, "a").when(VBook.price > 2, 3), "expected str"),
        (lambda: case(VBook.price > 1, "a").otherwise("b").when(VBook.price > 2, "c"), "after otherwise"),
        (lambda: VBook.objects.where(VAuthor.name == "x"), "has no join to VAuthor"),
        (lambda: VBook.objects.join(VAuthor, on=VBook.author == VAuthor.id).join(VAuthor), "already in the query"),
        (lambda: VBook.objects.union(VAuthor.objects), "columns"),
        (lambda: VBook.objects.values(VBook.title).union(VAuthor.objects.values(VAuthor.id)), "str on the left"),
        (lambda: VBook.objects.union(VBook.objects).order_by(VBook.price * 2), "not an output column"),
        (lambda: VBook.objects.union(VBook.objects.for_update()), "row lock"),
        (lambda: scalar(VBook.objects), "exactly one column"),
        (lambda: in_query(VBook.title, VAuthor.objects.values(VAuthor.id)), "cannot compare"),
        (lambda: update(VBook.objects.join(VAuthor, on=VBook.author == VAuthor.id), title="x"), "join"),
        (lambda: update(VBook.objects.group_by(VBook.author), title="x"), "group_by"),
        (lambda: derived(VBook.objects.values(VBook.price * 2), "d"), "name the projected values"),
        (lambda: VBook.objects.values(n=count(), m=count()).values(n=count(), n2=count()).annotate(n=count()),
         "already has values"),
        (lambda: aliased(VBook, "bad name"), "alias"),
        (lambda: select_from(derived(VBook.objects.values(n=count()), "d")), "source of model rows"),
    ],
)  # fmt: skip
def test_build_errors(build: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        build()  # type: ignore[operator]


def test_outer_outside_subquery_is_refused_at_compile() -> None:
    with pytest.raises(ValidationError, match="outside a subquery"):
        compile(VBook.objects.where(VBook.author == outer(VAuthor.id)))


def test_subquery_predicates_are_sql_only() -> None:
    pred = exists(VBook.objects.where(VBook.author == outer(VAuthor.id)))
    assert not pred.is_portable()
    with pytest.raises(NotPortable):
        pred.compile_python()


def test_values_are_structural() -> None:
    def build() -> object:
        cte = with_("c", VBook.objects.where(VBook.price > 1))
        return (
            select_from(cte)
            .join(VAuthor, on=VBook.author == VAuthor.id)
            .group_by(VAuthor.name)
            .values(name=VAuthor.name, n=count(), titles=array_agg(VBook.title).order_by(VBook.title))
        )

    assert build() == build()
    assert hash(build()) == hash(build())
    assert VBook.objects.union(VBook.objects) == VBook.objects.union(VBook.objects)


def test_compile_cache_serves_new_parameters() -> None:
    cache_clear()

    def q(skip: int, price: int, name: str) -> object:
        cheap = with_("cheap", VBook.objects.where(VBook.price < price))
        return (
            select_from(cheap)
            .where(exists(VAuthor.objects.where(VAuthor.id == outer(VBook.author), VAuthor.name == name)))
            .order_by(case(VBook.price > 3, 0).otherwise(1))
            .limit(3)
            .offset(skip)
        )

    cold = compile(q(5, 10, "Ann"))  # type: ignore[arg-type]
    assert cache_size() == 1
    hit = compile(q(7, 20, "Bob"))  # type: ignore[arg-type]
    assert cache_size() == 1
    assert hit.sql == cold.sql
    assert hit.params == ("Bob", Decimal(3), 0, 1, 7, Decimal(20))
    cache_clear()
    assert compile(q(7, 20, "Bob")).params == hit.params  # type: ignore[arg-type]


class VTagged(Model[Serial], table="advv_tagged"):
    nums: Field[list[int]] = field(default=[])


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: rows(Decimal("NaN"), 0), "a frame bound is a finite number, not Decimal\\('NaN'\\)"),
        (lambda: rows(Decimal("sNaN"), 0), "a frame bound is a finite number"),
        (lambda: rows(float("inf"), 0), "a frame bound is a finite number, not inf"),
        (lambda: VBook.price / Decimal("sNaN"), "signaling NaN; PostgreSQL NUMERIC has only a quiet NaN"),
        (lambda: VTagged.nums + {"a": 1}, r"cannot compute VTagged.nums \(array\) \+"),
        (lambda: coalesce(Decimal(1), VBook.price), "coalesce\\(\\) takes an expression such as Book.price"),
        (lambda: nullif(1, VBook.price), "nullif\\(\\) takes an expression"),
        (lambda: abs_(5), "abs\\(\\) takes an expression"),
        (lambda: max_(5), "max\\(\\) takes an expression"),
        (lambda: min_("a"), "min\\(\\) takes an expression"),
        (lambda: array_agg(1.5), "array_agg\\(\\) takes an expression"),
        (lambda: lag(None), "lag\\(\\) takes an expression"),
        (lambda: VBook.price.in_(5), r"VBook.price.in\(\) takes a list of values or a query, not 5"),
    ],
)
def test_malformed_arguments_raise_validation_errors(build: Any, message: str) -> None:
    """Values and arguments of the wrong kind are ValidationErrors, never ValueError / InvalidOperation /
    AttributeError / KeyError / TypeError from inside the algebra (issue 15)."""
    with pytest.raises(ValidationError, match=message):
        build()
