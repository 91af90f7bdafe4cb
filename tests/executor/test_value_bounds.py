"""Values PostgreSQL would change or could not give back are refused before anything is written, naming the
field: a ``VARCHAR(n)`` declared by ``SqlType`` (the server drops excess trailing spaces silently), and a
TIMESTAMPTZ instant outside the years 1-9999 in UTC (stored, then unreadable into Python)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import pytest

from djogi import Field, Model, SqlType, ValidationError, field
from djogi.algebra.query import select
from djogi.errors import DecodeError
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class Bounded(Model, table="bounded_values"):
    code: Field[Annotated[str, SqlType("VARCHAR(3)")]] = field(default="")


class Stamped(Model, table="bounded_stamps"):
    at: Field[dt.datetime]


@pytest.fixture
async def bounded(db: Database) -> Database:
    """The tables of ``Bounded`` and ``Stamped``."""
    framework = ("id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
                 "updated_at timestamptz NOT NULL DEFAULT now()")  # fmt: skip
    await db.raw(f"CREATE TABLE bounded_values ({framework}, code varchar(3) NOT NULL)")
    await db.raw(f"CREATE TABLE bounded_stamps ({framework}, at timestamptz NOT NULL)")
    return db


@pytest.mark.parametrize("code", ["ab   ", "abcd"])
async def test_a_varchar_value_longer_than_declared_is_refused(bounded: Database, code: str) -> None:
    for write in (bounded.create, lambda row: bounded.bulk_create([row])):
        with pytest.raises(ValidationError, match=rf"Bounded\.code \(VARCHAR\(3\)\): {len(code)} characters, more "):
            await write(Bounded(code=code))
    with pytest.raises(ValidationError, match=r"Bounded\.code \(VARCHAR\(3\)\)"):
        Bounded.objects.update(code=code)
    assert await bounded.all(select(Bounded)) == []
    assert (await bounded.create(Bounded(code="ab "))).code == "ab "


@pytest.mark.parametrize("at", [
    dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.timezone(-dt.timedelta(hours=5))),  # 10000-01-01 in UTC
    dt.datetime(1, 1, 1, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))),  # year 0 in UTC
])  # fmt: skip
async def test_an_instant_python_cannot_read_back_is_refused(bounded: Database, at: dt.datetime) -> None:
    for write in (bounded.create, lambda row: bounded.bulk_create([row])):
        with pytest.raises(ValidationError, match=r"Stamped\.at \(TIMESTAMPTZ\): .* outside years 1-9999 in UTC"):
            await write(Stamped(at=at))
    assert await bounded.all(select(Stamped)) == []
    edge = dt.datetime(9999, 12, 31, 23, 0, tzinfo=dt.UTC)
    assert (await bounded.create(Stamped(at=edge))).at == edge


async def test_a_stored_value_python_cannot_hold_is_a_decode_error(bounded: Database) -> None:
    await bounded.raw("INSERT INTO bounded_stamps (at) VALUES ('infinity')")
    loaded = r"\(.*, at timestamptz\) cannot be loaded into Python: timestamp too large.*cast to text"
    with pytest.raises(DecodeError, match=loaded):
        await bounded.all(select(Stamped))
    assert await bounded.count(select(Stamped)) == 1
