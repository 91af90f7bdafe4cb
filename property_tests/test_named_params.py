"""Named parameters change nothing but where the values come from: a random predicate compiled with its
values written in, and the same predicate with every value replaced by ``param()`` and bound through
``template()``, give the same SQL and the same parameters (a pattern match's pattern included: escaped and
wrapped in ``%`` when bound as when written; an OFFSET too), and a value the literal refuses (a str holding NUL, which
PostgreSQL text cannot store) is refused when bound too."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from djogi import Field, Model, field, param
from djogi.algebra import Pred, template
from djogi.algebra.compile import compile
from djogi.errors import ValidationError


class NpRow(Model, table="np_rows"):
    name: Field[str]
    qty: Field[int]
    price: Field[Decimal]
    day: Field[dt.date | None] = field(default=None)
    flag: Field[bool] = field(default=False)


VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": st.text(max_size=5) | st.text(st.sampled_from("a%_\\\x00"), max_size=4),  # LIKE's special characters
    "qty": st.integers(-(2**63), 2**63 - 1),
    "price": st.integers(-100_000, 100_000).map(lambda n: Decimal(n) / 100),
    "day": st.dates(),
    "flag": st.booleans(),
}
OPS: dict[str, Callable[[Any, Any], Pred]] = {
    "eq": lambda c, v: c == v, "ne": lambda c, v: c != v, "lt": lambda c, v: c < v, "ge": lambda c, v: c >= v,
}  # fmt: skip
PATTERNS: dict[str, Callable[[Any, Any], Pred]] = {
    name: (lambda n: lambda c, v: getattr(c, n)(v))(name)
    for name in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith", "iexact", "regex")
}  # text only: the pattern made of the value (escaped), on each run for a named parameter


Builder = Callable[[Callable[[str, object], object]], Pred]  # gets the value (or param) for a name


@st.composite
def leaves(draw: st.DrawFn) -> tuple[Builder, dict[str, object]]:
    """A comparison whose value is given by a callback (the value itself, or a named parameter)."""
    field = draw(st.sampled_from(sorted(VALUES)))
    ops = {**OPS, **PATTERNS} if field == "name" else OPS if field != "flag" else {"eq": OPS["eq"], "ne": OPS["ne"]}
    op = draw(st.sampled_from(sorted(ops)))
    value = draw(VALUES[field])
    name = f"{field}_{draw(st.integers(0, 3))}"
    column = getattr(NpRow, field)
    return (lambda give: ops[op](column, give(name, value))), {name: value}


@st.composite
def predicates(draw: st.DrawFn, depth: int = 3) -> tuple[Builder, dict[str, object]]:
    if depth == 0 or draw(st.booleans()):
        return draw(leaves())
    left, lv = draw(predicates(depth - 1))
    right, rv = draw(predicates(depth - 1))
    if lv.keys() & rv.keys() and any(lv[k] != rv[k] or type(lv[k]) is not type(rv[k]) for k in lv.keys() & rv.keys()):
        return left, lv  # one name, two different values: not one parameter
    how = draw(st.sampled_from(["and", "or", "not_and"]))
    build: Builder = {
        "and": lambda give: left(give) & right(give),
        "or": lambda give: left(give) | right(give),
        "not_and": lambda give: ~(left(give) & right(give)),
    }[how]
    return build, {**lv, **rv}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(predicates(), st.sampled_from([None, 1, 10]), st.sampled_from([None, 0, 7]))
def test_a_bound_template_is_the_literal_compile(pred: Any, limit: int | None, offset: int | None) -> None:
    build, values = pred
    named = NpRow.objects.where(build(lambda name, value: param(name))).order_by(NpRow.id)
    named = named if limit is None else named.limit(limit)
    named = named if offset is None else named.offset(param("skip"))
    t = template(named)
    values = values if offset is None else {**values, "skip": offset}
    try:
        literal = NpRow.objects.where(build(lambda name, value: value)).order_by(NpRow.id)
    except ValidationError:
        with pytest.raises(ValidationError):
            t.bind(values)
        return
    literal = literal if limit is None else literal.limit(limit)
    expected = compile(literal if offset is None else literal.offset(offset))
    assert t.sql == expected.sql
    assert t.bind(values) == list(expected.params)


def test_a_nul_the_literal_refuses_is_refused_when_bound() -> None:
    """The failing example hypothesis found: ``name == "\\x00"``."""
    with pytest.raises(ValidationError, match="cannot contain NUL"):
        NpRow.objects.where(NpRow.name == "\x00")
    with pytest.raises(ValidationError, match="name_0"):
        template(NpRow.objects.where(NpRow.name == param("name_0"))).bind({"name_0": "\x00"})


def test_a_nul_in_a_pattern_is_refused_built_and_bound() -> None:
    """Found by ``test_a_bound_template_is_the_literal_compile`` once it drew pattern matches:
    ``name.contains("\\x00")`` was accepted when built (the server refused it on each run, as a
    ``DatabaseError``) while the bound parameter was refused at once."""
    with pytest.raises(ValidationError, match=r"NpRow\.name\.contains\(\): text cannot contain NUL"):
        NpRow.name.contains("\x00")
    with pytest.raises(ValidationError, match="name_0"):
        template(NpRow.objects.where(NpRow.name.contains(param("name_0")))).bind({"name_0": "\x00"})
