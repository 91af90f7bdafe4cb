"""Typed date/time arithmetic runs on the server and decodes to the type it was given."""

from __future__ import annotations

import datetime as dt

import pytest

from djogi import Field, Model
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class Shift(Model, table="iv_shifts"):
    day: Field[dt.date]
    hours: Field[int]
    took: Field[dt.timedelta]
    at: Field[dt.datetime]
    clock: Field[dt.time]


@pytest.fixture
async def shifts(db: Database) -> Database:
    await db.raw(
        "CREATE TABLE iv_shifts (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL "
        "DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), day date NOT NULL, hours bigint NOT NULL, "
        "took interval NOT NULL, at timestamptz NOT NULL, clock time NOT NULL)"
    )
    await db.create(Shift(day=dt.date(2026, 3, 1), hours=3, took=dt.timedelta(minutes=90),
                          at=dt.datetime(2026, 3, 1, 8, tzinfo=dt.UTC), clock=dt.time(23, 30)))  # fmt: skip
    return db


async def test_interval_arithmetic_values(shifts: Database) -> None:
    row = await shifts.one(Shift.objects.values(
        Shift.hours * dt.timedelta(hours=1), Shift.took * 2, Shift.took / 3, 0.5 * Shift.took,
        Shift.day + Shift.took, Shift.day - 1, Shift.at + Shift.hours * dt.timedelta(hours=1),
        Shift.clock + dt.timedelta(hours=1), Shift.day - (Shift.day - 10),
    ))  # fmt: skip
    assert row == (
        dt.timedelta(hours=3), dt.timedelta(hours=3), dt.timedelta(minutes=30), dt.timedelta(minutes=45),
        dt.datetime(2026, 3, 1, 1, 30), dt.date(2026, 2, 28), dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC),
        dt.time(0, 30), 10,
    )  # fmt: skip


async def test_interval_arithmetic_in_filters(shifts: Database) -> None:
    assert await shifts.count(Shift.objects.filter(Shift.day + Shift.took < dt.datetime(2026, 3, 1, 2))) == 1
    assert await shifts.count(Shift.objects.filter(Shift.day + Shift.hours > dt.date(2026, 3, 4))) == 0
    assert await shifts.count(Shift.objects.filter(Shift.took * Shift.hours == dt.timedelta(hours=4, minutes=30))) == 1
