"""Proxies, the soft-delete filters and computed fields: golden SQL, and their rows from a real database."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import pytest

import djogi
from djogi import Computed, Field, Model, computed, deleted, field, not_deleted, proxy, soft_delete
from djogi.errors import ArgumentTypeError, ModelDefinitionError, NotPortable, ValidationError
from djogi.executor import Database
from tests.composition.helpers import CmpBook, CmpNote, create_tables

pytestmark = pytest.mark.anyio

ActiveBooks = proxy(CmpBook, where=CmpBook.active == True, order_by=(CmpBook.price.desc(),))  # noqa: E712
LiveBooks = proxy(CmpBook, where=not_deleted(CmpBook))


class CmpLine(Model, table="cmp_lines"):
    price: Field[Decimal] = field(precision=10, scale=2)
    quantity: Field[int]
    discount: Field[Decimal | None] = field(precision=10, scale=2, default=None)
    total: ClassVar[Computed[Decimal]] = computed(lambda: CmpLine.price * CmpLine.quantity)
    net: ClassVar[Computed[Decimal]] = computed(lambda: CmpLine.price * CmpLine.quantity - CmpLine.discount)


def test_a_proxy_query_keeps_its_filter_and_order_first() -> None:
    stmt = ActiveBooks.filter(CmpBook.price < 30).order_by(CmpBook.title).sql()
    assert stmt.sql.endswith(
        'FROM "cmp_books" WHERE ("cmp_books"."active" = $1::boolean AND "cmp_books"."price" < $2::numeric) '
        'ORDER BY "cmp_books"."price" DESC, "cmp_books"."title" ASC'
    )
    assert stmt.params == (True, Decimal(30))
    assert ActiveBooks.exclude(CmpBook.title == "x").sql().sql.endswith(
        'WHERE ("cmp_books"."active" = $1::boolean AND "cmp_books"."title" <> $2::text) '
        'ORDER BY "cmp_books"."price" DESC'
    )


def test_proxy_bulk_writes_are_scoped_by_the_default_filter() -> None:
    update = ActiveBooks.update(CmpBook.price > 10, price=CmpBook.price / 2).sql()
    assert update.sql == (
        'UPDATE "cmp_books" SET "price" = ("cmp_books"."price" / $1::numeric), "updated_at" = now() '
        'WHERE ("cmp_books"."active" = $2::boolean AND "cmp_books"."price" > $3::numeric)'
    )
    assert update.params == (Decimal(2), True, Decimal(10))
    assert ActiveBooks.delete().sql().sql == 'DELETE FROM "cmp_books" WHERE "cmp_books"."active" = $1::boolean'


def test_proxy_arguments_are_checked() -> None:
    with pytest.raises(ArgumentTypeError, match="proxy\\(\\) takes a model class"):
        proxy(int)  # type: ignore[type-var]
    with pytest.raises(ValidationError):
        proxy(CmpBook, where=CmpNote.body == "x")
    with pytest.raises(ArgumentTypeError, match="order_by"):
        proxy(CmpBook, order_by="price")  # type: ignore[arg-type]


def test_soft_delete_filters_and_bulk_form() -> None:
    assert LiveBooks.objects.sql().sql.endswith('WHERE "cmp_books"."deleted_at" IS NULL')
    assert CmpBook.objects.filter(deleted(CmpBook)).sql().sql.endswith('WHERE "cmp_books"."deleted_at" IS NOT NULL')
    marked = soft_delete(CmpBook.objects.filter(CmpBook.title == "x")).sql()
    assert marked.sql == (
        'UPDATE "cmp_books" SET "deleted_at" = now(), "updated_at" = now() '
        'WHERE ("cmp_books"."title" = $1::text AND "cmp_books"."deleted_at" IS NULL)'
    )
    assert marked.params == ("x",)
    with pytest.raises(ValidationError, match="CmpNote is not declared soft_delete"):
        not_deleted(CmpNote)


async def test_proxies_and_soft_delete_on_a_database(db: Database) -> None:
    await create_tables(db)
    rows = await db.bulk_create([CmpBook(title=t, price=Decimal(p), active=a)
                                 for t, p, a in (("a", 5, True), ("b", 9, False), ("c", 7, True))])  # fmt: skip
    assert [b.title for b in await db.all(ActiveBooks.objects)] == ["c", "a"]
    await db.delete(rows[2])
    assert [b.title for b in await db.all(LiveBooks.objects.order_by(CmpBook.title))] == ["a", "b"]
    assert len(await db.all(CmpBook.objects)) == 3  # never filtered implicitly
    assert await db.execute(soft_delete(CmpBook.objects)) == 2
    assert await db.all(LiveBooks.objects) == []
    assert ActiveBooks.matches(rows[0]) and not ActiveBooks.matches(rows[1])


def test_computed_fields_compile_inside_queries() -> None:
    stmt = CmpLine.objects.filter(CmpLine.total > 100).order_by(CmpLine.total.desc()).sql()
    assert stmt.sql.endswith(
        'WHERE ("cmp_lines"."price" * "cmp_lines"."quantity") > $1::numeric '
        'ORDER BY ("cmp_lines"."price" * "cmp_lines"."quantity") DESC'
    )
    assert "total" not in djogi.descriptor(CmpLine).columns


async def test_computed_values_agree_between_sql_and_memory(db: Database) -> None:
    await create_tables(db, [CmpLine])
    lines = await db.bulk_create([CmpLine(price=Decimal("2.50"), quantity=3),
                                  CmpLine(price=Decimal("0.10"), quantity=7, discount=Decimal("0.05"))])  # fmt: skip
    read = await db.values(CmpLine.objects.values(CmpLine.id, CmpLine.total, CmpLine.net))
    by_id = {line.id: line for line in lines}
    for key, total, net in read:
        assert (by_id[key].total, by_id[key].net) == (total, net)
    assert [line.net for line in lines] == [None, Decimal("0.65")]
    big = await db.all(CmpLine.objects.filter(CmpLine.total > 1))
    assert [line.quantity for line in big] == [3]


def test_computed_declarations_are_checked() -> None:
    class CmpStray(Model, table="cmp_stray"):
        n: Field[int]
        wrong: ClassVar[Computed[int]] = computed(lambda: CmpLine.quantity + 1)
        junk: ClassVar[Computed[int]] = computed(lambda: 5)  # type: ignore[arg-type,return-value]

    with pytest.raises(ModelDefinitionError, match=r"CmpStray.wrong: a computed field reads its own model's"):
        _ = CmpStray.wrong
    with pytest.raises(ModelDefinitionError, match=r"CmpStray.junk: computed\(\) builds an expression"):
        _ = CmpStray.junk
    with pytest.raises(ArgumentTypeError, match=r"computed\(\) takes a function"):
        computed(5)  # type: ignore[arg-type]


def test_an_sql_only_computed_field_refuses_memory() -> None:
    class CmpTitled(Model, table="cmp_titled"):
        title: Field[str]
        shout: ClassVar[Computed[str]] = computed(lambda: djogi.algebra.func("upper", CmpTitled.title, returns="text"))

    with pytest.raises(NotPortable):
        _ = CmpTitled(title="x").shout
