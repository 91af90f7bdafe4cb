"""MERGE with RETURNING: golden SQL, refusals, and the rows on the server."""

from __future__ import annotations

import pytest

from djogi import ArgumentTypeError, Field, Model, ValidationError, field
from djogi.algebra import derived, select
from djogi.algebra.dml import Merge, merge
from djogi.executor import Database

pytestmark = pytest.mark.anyio


class Shelf(Model, table="mg_shelf"):
    sku: Field[str] = field(unique=True)
    qty: Field[int] = field(default=0)
    note: Field[str | None] = field(default=None)


class Delivery(Model, table="mg_deliveries"):
    sku: Field[str]
    qty: Field[int]


T = '"mg_shelf"'
COLS = ", ".join(f'{T}."{c}"' for c in ("id", "created_at", "updated_at", "sku", "qty", "note"))


def restock() -> Merge[Shelf]:
    incoming = derived(select(Delivery).values(Delivery.sku, Delivery.qty), "d")
    return (
        merge(Shelf, incoming, Shelf.sku == incoming.col("sku"))
        .when_matched_delete(where=Shelf.qty + incoming.col("qty") == 0)
        .when_matched_update({"qty": Shelf.qty + incoming.col("qty")})
        .when_not_matched_insert(
            {"sku": incoming.col("sku"), "qty": incoming.col("qty")}, where=incoming.col("qty") > 0
        )
    )


def test_golden_sql() -> None:
    stmt = restock().with_returning().sql()
    assert stmt.sql == (
        f'MERGE INTO {T} USING (SELECT "mg_deliveries"."sku", "mg_deliveries"."qty" FROM "mg_deliveries") AS "d" '
        f'ON {T}."sku" = "d"."sku" '
        f'WHEN MATCHED AND ({T}."qty" + "d"."qty") = $1::bigint THEN DELETE '
        f'WHEN MATCHED THEN UPDATE SET "qty" = ({T}."qty" + "d"."qty"), "updated_at" = now() '
        f'WHEN NOT MATCHED AND "d"."qty" > $2::bigint '
        f'THEN INSERT ("sku", "qty", "note") VALUES ("d"."sku", "d"."qty", NULL) '
        f"RETURNING {COLS}, merge_action()"
    )
    assert stmt.params == (0, 0)


def test_refusals() -> None:
    incoming = derived(select(Delivery).values(Delivery.sku, Delivery.qty), "d")
    with pytest.raises(ArgumentTypeError, match="named source"):
        merge(Shelf, select(Delivery), Shelf.sku == "x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match=r"needs a value for \['sku'\]"):
        merge(Shelf, incoming, Shelf.sku == incoming.col("sku")).when_not_matched_insert({"qty": 1})
    with pytest.raises(ValidationError, match="Delivery"):
        merge(Shelf, incoming, Shelf.sku == Delivery.sku)
    with pytest.raises(ValidationError, match="at least one"):
        merge(Shelf, incoming, Shelf.sku == incoming.col("sku")).sql()


@pytest.fixture
async def shop(db: Database) -> Database:
    framework = (
        "id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
        "updated_at timestamptz NOT NULL DEFAULT now()"
    )
    await db.raw(f"CREATE TABLE mg_shelf ({framework}, sku text NOT NULL UNIQUE, qty bigint NOT NULL, note text)")
    await db.raw(f"CREATE TABLE mg_deliveries ({framework}, sku text NOT NULL, qty bigint NOT NULL)")
    return db


async def test_merge_returns_each_row_with_its_action(shop: Database) -> None:
    await shop.bulk_create([Shelf(sku="a", qty=5), Shelf(sku="b", qty=2)])
    await shop.bulk_create([Delivery(sku="a", qty=3), Delivery(sku="b", qty=-2), Delivery(sku="c", qty=4),
                            Delivery(sku="d", qty=-1)])  # fmt: skip
    rows = await shop.execute(restock().with_returning())
    got = sorted((row.sku, row.qty, action) for row, (action,) in rows)
    assert got == [("a", 8, "UPDATE"), ("b", 2, "DELETE"), ("c", 4, "INSERT")]  # a deleted row as it was
    assert sorted((s.sku, s.qty) for s in await shop.all(select(Shelf))) == [("a", 8), ("c", 4)]
    assert await shop.execute(restock()) == 2  # without RETURNING: the rows acted on (a and c updated)
