"""Building expressions: build-time type checks, value normalisation, arithmetic typing, structural identity."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import djogi
from djogi import Field, Model, field
from djogi.algebra import expr as e
from djogi.algebra.predicate import Compare, In
from djogi.errors import ValidationError


class Mood(djogi.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Note(Model, table="expr_notes"):
    body: Field[str]
    stars: Field[int] = field(default=0)
    score: Field[float] = field(default=0.0)
    price: Field[Decimal] = field(default=Decimal(0))
    done: Field[bool] = field(default=False)
    due: Field[dt.date | None] = field(default=None)
    at: Field[dt.datetime | None] = field(default=None)
    mood: Field[Mood] = field(default=Mood.HAPPY)
    tags: Field[list[str]] = field(default=[])


UTC = dt.UTC

ACCEPTED: list[tuple[str, object, object]] = [
    ("stars", 3, 3),
    ("score", 2, 2.0),
    ("score", Decimal("0.5"), 0.5),
    ("price", 2, Decimal(2)),
    ("price", 0.1, Decimal("0.1")),  # PostgreSQL's float8 -> numeric: 15 significant digits
    ("price", float("nan"), Decimal("NaN")),
    ("mood", "sad", Mood.SAD),
    ("tags", ["a"], ("a",)),
    ("due", dt.date(2024, 1, 2), dt.date(2024, 1, 2)),
    ("at", dt.datetime(2024, 1, 2, tzinfo=UTC), dt.datetime(2024, 1, 2, tzinfo=UTC)),
]
REJECTED: list[tuple[str, object, str]] = [
    ("price", "x", "Note.price: cannot use 'x' (str); expected Decimal, int or float"),
    ("body", 3, "Note.body: cannot use 3 (int); expected str"),
    ("stars", True, "expected int"),
    ("stars", 1.5, "expected int"),
    ("stars", 2**63, "outside the BIGINT range"),
    ("done", 1, "expected bool"),
    ("due", dt.datetime(2024, 1, 1, tzinfo=UTC), "expected datetime.date"),
    ("at", dt.datetime(2024, 1, 1), "naive datetime"),
    ("mood", "meh", "one of ['happy', 'sad']"),
    ("body", "a\x00b", "NUL"),
    ("tags", "a", "expected a list"),
]


@pytest.mark.parametrize(("name", "value", "sent"), ACCEPTED)
def test_values_are_normalised(name: str, value: object, sent: object) -> None:
    pred = getattr(Note, name) == value
    assert isinstance(pred, Compare) and isinstance(pred.right, e.Param)
    assert e.same(pred.right.value, sent)


@pytest.mark.parametrize(("name", "value", "message"), REJECTED)
def test_wrong_values_raise_before_sql(name: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        _ = getattr(Note, name) < value


def test_other_build_errors() -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: Note.body == Note.stars, "cannot compare a str with Note.stars"),
        (lambda: Note.stars < None, "use is_null"),
        (lambda: Note.stars.in_([1, None]), "None inside in_"),
        (lambda: Note.stars.contains("x"), "applies to str"),
        (lambda: Note.body.path("a"), "path\\(\\) applies to"),
        (lambda: Note.body + 1, "expected str"),
        (lambda: Note.done + 1, "cannot compute"),
        (lambda: Note.stars / 0, "division by zero"),
        (lambda: e.cast(Note.stars, "int; drop table x"), "not a SQL type name"),
        (lambda: e.func("bad name", returns="text"), "not a plain"),
        (lambda: Note.body.collate('C"'), "not a collation"),
    ]
    for build, message in cases:
        with pytest.raises(ValidationError, match=message):
            build()


def test_arithmetic_types() -> None:
    cases: list[tuple[Any, str | None, str]] = [
        (Note.price * 2, "decimal", "numeric"),
        (Note.stars * 2, "int", "bigint"),
        (Note.stars * 1.5, "float", "double precision"),
        (Note.stars + Note.price, "decimal", "numeric"),
        (Note.score - Note.price, "float", "double precision"),
        (Note.at - Note.at, "timedelta", "interval"),
        (2 - Note.stars, "int", "bigint"),
    ]
    for node, kind, sql in cases:
        assert (node.type.kind, node.type.sql) == (kind, sql)


def test_reflected_comparison_and_in_values() -> None:
    pred = Note.stars > 3
    assert isinstance(pred, Compare) and pred.op == "gt"
    membership = Note.mood.in_(["happy", Mood.SAD])
    assert isinstance(membership, In) and membership.values.value == (Mood.HAPPY, Mood.SAD)


def test_structural_identity() -> None:
    assert e.same(Note.stars + 1, Note.stars + 1)
    assert not e.same(Note.stars + 1, Note.stars + 2)
    assert not e.same(e.Param(1, e.ValueType("int", "bigint")), e.Param(True, e.ValueType("int", "bigint")))
    assert e.same(Note.score == float("nan"), Note.score == float("nan"))
    assert hash(Note.stars + 1) == hash(Note.stars + 1)
    assert {Note.stars: 1}[Note.stars] == 1
    assert Note.stars.desc() == Note.stars.desc() and Note.stars.desc() != Note.stars.asc()
    assert bool(Note.stars == Note.stars) and not bool(Note.stars == Note.score)
