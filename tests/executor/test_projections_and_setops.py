"""Projections decode like model fields; set operations run through ``db.all``; GROUP BY of expressions."""

from __future__ import annotations

import pytest

import djogi
from djogi import Database, Field, Model, field
from djogi.algebra import count, func
from djogi.errors import ValidationError


class Mood(djogi.Enum):
    LOW = "low"
    HIGH = "high"


class Reading(Model, table="proj_readings"):
    x: Field[int] = field(default=0)
    mood: Field[Mood] = field(default=Mood.LOW)


DDL = (
    "CREATE TYPE mood AS ENUM ('low', 'high');"
    "CREATE TABLE proj_readings (id bigint PRIMARY KEY DEFAULT heerid_next_desc(),"
    " created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),"
    " x bigint NOT NULL, mood mood NOT NULL)"
)


@pytest.fixture
async def readings(db: Database) -> Database:
    for statement in DDL.split(";"):
        await db.raw(statement)
    await db.bulk_create([Reading(x=i, mood=Mood.HIGH if i % 2 else Mood.LOW) for i in range(10)])
    return db


@pytest.mark.anyio
async def test_values_decode_enum_and_id_columns_like_model_fields(readings: Database) -> None:
    q = Reading.objects.order_by(Reading.x).limit(2)
    assert await readings.values(q.values(Reading.mood, Reading.x)) == [(Mood.LOW, 0), (Mood.HIGH, 1)]
    named = await readings.values(q.values(mood=Reading.mood))
    assert [row.mood for row in named] == [Mood.LOW, Mood.HIGH]
    ids = await readings.values(q.values(Reading.id))
    assert all(isinstance(i, djogi.HeerIdDesc) for (i,) in ids)


@pytest.mark.anyio
async def test_all_runs_a_set_operation(readings: Database) -> None:
    union = Reading.objects.filter(Reading.x < 1).union(Reading.objects.filter(Reading.x > 8))
    assert sorted(r.x for r in await readings.all(union)) == [0, 9]


def test_a_set_operation_refuses_a_prefetching_arm() -> None:
    from tests.relations.models import Author

    with pytest.raises(ValidationError, match="arm has prefetch"):
        Author.objects.union(Author.objects.prefetch(Author.books))


@pytest.mark.anyio
async def test_group_by_an_expression_with_a_bound_value(readings: Database) -> None:
    bucket = func("mod", Reading.x, 3, returns="bigint")
    rows = await readings.values(Reading.objects.group_by(bucket).values(b=bucket, n=count()).order_by(bucket))
    assert [(r.b, r.n) for r in rows] == [(0, 4), (1, 3), (2, 3)]
