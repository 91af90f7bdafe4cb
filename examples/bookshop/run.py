"""The bookshop tour: every query prints its result. Run by ``make demo`` after migrate + seed.

Each section builds a query value, shows it runs, and prints what came back. Writes are idempotent, so
the script can run again and again against the same database.
"""

from __future__ import annotations

from decimal import Decimal

import anyio
from bookshop.models import Author, Book, Customer, Genre, Order, OrderLine, OrderStatus

import djogi
from djogi.algebra.dml import excluded, insert
from djogi.errors import StaleObject


def show(title: str, value: object) -> None:
    print(f"\n== {title}")
    if isinstance(value, list):
        for item in value:
            print(f"   {item}")
    else:
        print(f"   {value}")


async def main() -> None:
    async with djogi.connect() as db:
        show("server", (await db.raw("SELECT version()"))[0][0])
        cheap_fiction = (
            Book.objects.filter(Book.genre == Genre.FICTION, Book.price < 15)
            .exclude(Book.tags.contains(["draft"]))
            .order_by(Book.price.desc(), Book.id)
        )
        print("SQL:", cheap_fiction.sql().sql)
        show("cheap fiction, no drafts", [(b.title, b.price) for b in await db.all(cheap_fiction)])

        show("authors whose name contains 'le'",
             await db.values(Author.objects.filter(Author.name.icontains("le")).order_by(Author.name)
                             .values(Author.name)))

        show("books by count of genre science", await db.count(Book.objects.filter(Book.genre == Genre.SCIENCE)))

        unread = Book.title.startswith("S") | (Book.meta == None)  # noqa: E711  (compiles to IS NULL)
        books = await db.all(Book.objects.order_by(Book.title, Book.id))
        in_memory = [b.title for b in books if unread.matches(b)]
        in_sql = [b.title for b in await db.all(Book.objects.filter(unread).order_by(Book.title, Book.id))]
        show("the same predicate in memory and in SQL agree", in_memory == in_sql)

        page_size, pages, query = 3, [], Book.objects.order_by(Book.price, Book.id).limit(3)
        page = await db.all(query)
        while page:
            pages.append([b.title for b in page])
            page = await db.all(query.after(page[-1]))
        show(f"keyset pagination, {page_size} per page", pages)

        upsert = insert(Author, [Author(name="Ted Chiang", email="ted@example.com")]).on_conflict(
            Author.email).do_update(set={"name": excluded(Author.name)})
        show("upsert on email (idempotent)", [a.name for a in await db.execute(upsert)])

        ada = await db.one(Customer.objects.filter(Customer.email == "ada@example.com"))
        cosmos = await db.one(Book.objects.filter(Book.title == "Cosmos"))
        async with db.atomic():
            order = await db.create(Order(customer=ada.id))
            await db.create(OrderLine(order=order.id, book=cosmos.id, quantity=1, unit_price=cosmos.price))
            try:
                async with db.atomic():  # a savepoint: its failure rolls back only this block
                    await db.create(OrderLine(order=order.id, book=cosmos.id, quantity=-1))
                    raise ValueError("negative quantity")
            except ValueError:
                pass
            order = await db.save(order, status=OrderStatus.PAID)
        lines = await db.all(OrderLine.objects.filter(OrderLine.order == order.id))
        show("order paid in a transaction; the savepoint's line was rolled back",
             (order.status.value, [line.quantity for line in lines]))

        fresh = await db.refresh(ada)
        await db.save(fresh, credit=fresh.credit - Decimal("1.00"))
        try:
            await db.save(fresh, credit=Decimal("0"))  # fresh's version is now stale
            show("optimistic locking", "stale write went through (bug!)")
        except StaleObject:
            show("optimistic locking", "stale write refused with StaleObject")


if __name__ == "__main__":
    anyio.run(main)
