"""PostgreSQL 18 ``RETURNING old.*, new.*`` on updates, deletes and upserts: golden SQL and the rows."""

from __future__ import annotations

from decimal import Decimal

import pytest

from djogi import Field, Model, ValidationError, field
from djogi.algebra.dml import Insert, delete, insert_one
from djogi.algebra.query import select
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class Stock(Model, table="ron_stock"):
    sku: Field[str] = field(unique=True)
    qty: Field[int] = field(default=0)
    price: Field[Decimal] = field(default=Decimal(0))


S = '"ron_stock"'
COLS = ("id", "created_at", "updated_at", "sku", "qty", "price")
SIDES = ", ".join(f'{side}."{c}"' for side in ("old", "new") for c in COLS)


def test_golden_sql() -> None:
    up = select(Stock).where(Stock.sku == "a").update(qty=Stock.qty + 1).with_old_new()
    stmt = up.sql()
    assert stmt.sql == (
        f'UPDATE {S} SET "qty" = ({S}."qty" + $1::bigint), "updated_at" = now() WHERE {S}."sku" = $2::text '
        f"RETURNING {SIDES}"
    )
    assert stmt.params == (1, "a")
    de = delete(select(Stock).where(Stock.qty == 0)).with_returning(Stock.sku).with_old_new()
    assert de.sql().sql == f'DELETE FROM {S} WHERE {S}."qty" = $1::bigint RETURNING old."sku", new."sku"'
    ins = insert_one(Stock(sku="a")).on_conflict(Stock.sku).do_update({"qty": Stock.qty + 1}).with_old_new()
    assert ins.sql().sql.endswith(f"RETURNING {SIDES}")
    with pytest.raises(ValidationError, match="with_old_new"):
        ins.with_created().sql()


@pytest.fixture
async def stock(db: Database) -> Database:
    await db.raw(
        "CREATE TABLE ron_stock (id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL "
        "DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), sku text NOT NULL UNIQUE, qty bigint NOT NULL, "
        "price numeric NOT NULL)"
    )
    return db


async def test_update_returns_old_and_new_rows(stock: Database) -> None:
    a = await stock.create(Stock(sku="a", qty=2))
    ((old, new),) = await stock.execute(select(Stock).where(Stock.sku == "a").update(qty=Stock.qty * 5).with_old_new())
    assert old == a and (new.qty, new.sku, new.id) == (10, "a", a.id)
    pairs = await stock.execute(
        select(Stock).where(Stock.sku == "a").update(qty=1).with_returning(Stock.qty).with_old_new()
    )
    assert pairs == [((10,), (1,))]
    assert await stock.execute(select(Stock).none().update(qty=1).with_old_new()) == []


async def test_delete_returns_the_old_row_and_no_new_one(stock: Database) -> None:
    a = await stock.create(Stock(sku="a"))
    assert await stock.execute(delete(select(Stock)).with_old_new()) == [(a, None)]


async def test_upsert_tells_inserted_from_updated_rows(stock: Database) -> None:
    def upsert(qty: int) -> Insert[Stock]:
        clause = insert_one(Stock(sku="a", qty=qty)).on_conflict(Stock.sku)
        return clause.do_update({"qty": Stock.qty + qty}).with_old_new()

    ((old, new),) = await stock.execute(upsert(3))
    assert old is None and new.qty == 3
    ((old2, new2),) = await stock.execute(upsert(4))
    assert old2 == new and new2.qty == 7 and new2.id == new.id
