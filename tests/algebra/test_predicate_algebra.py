"""Predicate construction: folding, flattening, structural equality, truthiness, programmatic filters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from djogi import Field, Model, field
from djogi.algebra.filters import OPS, predicate_from_filters
from djogi.algebra.predicate import FALSE, TRUE, And, Not, Or, Xor, and_, or_, xor
from djogi.errors import ValidationError


class Task(Model, table="pred_tasks"):
    title: Field[str]
    rank: Field[int] = field(default=0)
    cost: Field[Decimal] = field(default=Decimal(0))
    due: Field[dt.date | None] = field(default=None)
    tags: Field[list[str]] = field(default=[])


a, b, c = Task.rank > 1, Task.title == "x", Task.due.is_null()


def test_folding_and_flattening() -> None:
    assert (a & TRUE) == a and (a & FALSE) == FALSE
    assert (a | FALSE) == a and (a | TRUE) == TRUE
    assert ~TRUE == FALSE and ~~a == a and isinstance(~a, Not)
    assert (a & b & c) == And((a, b, c)) and ((a & b) & (b & c)) == And((a, b, b, c))
    assert (a | b | c) == Or((a, b, c))
    assert and_() == TRUE and or_() == FALSE and and_(a) == a
    assert xor(a, TRUE) == ~a and xor(FALSE, a) == a and (a ^ b) == Xor(a, b)


def test_structural_equality_and_hash() -> None:
    assert (Task.rank > 1) == (Task.rank > 1) and (Task.rank > 1) != (Task.rank > 2)
    assert hash(Task.rank > 1) == hash(Task.rank > 1)
    assert len({a & b, a & b, b & a}) == 2


def test_no_truth_value() -> None:
    with pytest.raises(TypeError, match=r"combine predicates with & \| ~"):
        bool(a)
    with pytest.raises(TypeError):
        _ = a and b
    with pytest.raises(TypeError):
        _ = a & 1  # type: ignore[operator]


def test_filters() -> None:
    pred = predicate_from_filters(
        Task,
        [("rank", "ge", "2"), ("cost", "between", "1,2.5"), ("due", "is_null", "false"), ("title", "in", "a,b"),
         ("tags", "contains", "x,y"), ("due", "lt", "2024-01-31")],
    )  # fmt: skip
    expected = (
        (Task.rank >= 2) & Task.cost.between(Decimal(1), Decimal("2.5")) & Task.due.is_not_null()
        & Task.title.in_(["a", "b"]) & Task.tags.contains(["x", "y"]) & (Task.due < dt.date(2024, 1, 31))
    )  # fmt: skip
    assert pred == expected
    assert predicate_from_filters(Task, []) == TRUE
    assert predicate_from_filters(Task, [("title", "icontains", "5")]) == Task.title.icontains("5")


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ([("nope", "eq", 1)], "Task has no field 'nope'; filterable fields: id, created_at"),
        ([("rank", "like", 1)], "unknown filter operator 'like' .* allowed: eq, ne"),
        ([("rank", "eq", "x")], "Task.rank: cannot read 'x' as int"),
        ([("titel", "eq", "x")], "Task has no field 'titel'; did you mean 'title'\\? filterable fields: id"),
        ([("cost", "lt", "cheap")], r"^Task.cost: cannot read 'cheap' as decimal$"),
        ([("rank", "contains", "x")], "applies to str"),
        ([("due", "is_null", "maybe")], "expected one of"),
        # malformed values and triples (issue 15): each a ValidationError naming the field or the triple
        ([("cost", "between", "1")], r"Task.cost: between takes two values \(low,high\), not '1'"),
        ([("cost", "between", None)], "Task.cost: expected a comma-separated string or a list of values, not None"),
        ([("cost", "between", b"")], "Task.cost: expected a comma-separated string or a list"),
        ([("rank", "in", 5)], "Task.rank: expected a comma-separated string or a list of values, not 5"),
        ([("cost", "eq", "NaN-ish")], "Task.cost: cannot read 'NaN-ish' as decimal"),
        ([("rank", "eq")], r"a filter is a \(field, op, value\) triple, not \('rank', 'eq'\)"),
        ([("rank", 5, "1")], "with str field and op"),
        ("rank,eq,1", "filters are .* triples"),
        (7, "filters are .* triples"),
    ],
)
def test_filter_errors(filters: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        predicate_from_filters(Task, filters)
    assert "regex" in OPS
