"""The bookshop tour: every query prints its result. Run by ``make demo`` after migrate + seed.

Each section builds a query value, shows it runs, and prints what came back. Writes are idempotent, so
the script can run again and again against the same database.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from bookshop.models import (
    Author,
    Book,
    BookTag,
    Category,
    Customer,
    Genre,
    Order,
    OrderLine,
    OrderStatus,
    StaffNote,
)

import djogi
from djogi import m2m, prefetch
from djogi.algebra import cast, count, func, rank, with_recursive
from djogi.algebra.dml import excluded, insert
from djogi.algebra.search import ts_match, ts_rank, websearch_to_tsquery
from djogi.errors import StaleObject
from djogi.tenancy import APP_ROLE, app_role_sql, create_roles_sql


def show(title: str, value: object) -> None:
    print(f"\n== {title}")
    if isinstance(value, list):
        for item in typing.cast("list[object]", value):
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

        page_size, query = 3, Book.objects.order_by(Book.price, Book.id).limit(3)
        pages: list[list[str]] = []
        page = await db.all(query)
        while page:
            pages.append([b.title for b in page])
            page = await db.all(query.after(page[-1]))
        show(f"keyset pagination, {page_size} per page", pages)

        terms = websearch_to_tsquery("english", "life OR darkness")  # Book.search: the generated tsvector column
        found = Book.objects.filter(ts_match(Book.search, terms)).order_by(ts_rank(Book.search, terms).desc(),
                                                                           Book.title)
        show("full-text search of titles: life OR darkness", [b.title for b in await db.all(found)])

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

        await relations_and_analytics(db)

        fresh = await db.refresh(ada)
        await db.save(fresh, credit=fresh.credit - Decimal("1.00"))
        try:
            await db.save(fresh, credit=Decimal("0"))  # fresh's version is now stale
            show("optimistic locking", "stale write went through (bug!)")
        except StaleObject:
            show("optimistic locking", "stale write refused with StaleObject")

        await tenancy(db)


async def relations_and_analytics(db: djogi.Database) -> None:
    """Relation paths, prefetch, an aggregate with FILTER, a window function and a recursive CTE."""
    by_path = Book.objects.filter(Book.author.to(Author.name).in_(["Carl Sagan", "Mary Beard"])).order_by(Book.title)
    show("books by authors named Carl Sagan or Mary Beard (a relation path)", [b.title for b in await db.all(by_path)])

    statements: list[object] = []
    remove = db.add_listener(statements.append)
    authors = await db.all(
        Author.objects.order_by(Author.name).prefetch(prefetch(Author.books, query=Book.objects.order_by(Book.title)))
    )
    remove()
    show(f"authors with their books (prefetch: {len(statements)} statements)",
         [(a.name, [b.title for b in a.books]) for a in authors])

    labels = m2m(BookTag.book, BookTag.tag, name="labels")  # not "tags": Book has a tags column already
    tagged = await db.all(Book.objects.order_by(Book.title).prefetch(prefetch(labels)))
    show("books with their tags through BookTag (prefetch)",
         [(b.title, sorted(t.name for t in b.labels)) for b in tagged])

    per_genre = (
        Book.objects.group_by(Book.genre)
        .annotate(books=count(), under_15=count().filter(Book.price < 15))
        .order_by(Book.genre)
    )
    show("books per genre, and how many under 15 (FILTER)",
         [f"{r.genre}: {r.books} books, {r.under_15} under 15" for r in await db.values(per_genre)])

    ranked = Book.objects.values(
        genre=Book.genre, title=Book.title, price=Book.price,
        rank=rank().over(partition_by=Book.genre, order_by=Book.price.desc()),
    ).order_by(Book.genre, Book.price.desc(), Book.title)
    show("books ranked by price within their genre (a window function)",
         [f"{r.genre} #{r.rank} {r.title} ({r.price})" for r in await db.values(ranked)])

    tree = with_recursive(
        "tree",
        Category.objects.filter(Category.parent == None).values(  # noqa: E711  (compiles to IS NULL)
            id=Category.id, name=Category.name, depth=cast(0, "bigint"), path=Category.name
        ),
        lambda t: Category.objects.join(t, on=Category.parent == t.id, fetch=False).values(
            id=Category.id, name=Category.name, depth=t.depth + 1,
            path=func("concat", t.path, " / ", Category.name, returns="text"),
        ),
    )
    walk = (
        Category.objects.join(tree, on=Category.id == tree.id, fetch=False)
        .values(name=tree.col("name"), depth=tree.depth)
        .order_by(tree.path.collate("C"))
    )
    show("the category tree (a recursive CTE)", ["  " * node.depth + node.name for node in await db.values(walk)])


async def tenancy(owner: djogi.Database) -> None:
    """Row-level security on ``StaffNote`` (``tenant_key="store"``), seen through the application role: the
    owner (this connection, which ran the migrations) grants it the tables; each store sees its own notes."""
    (user,), = await owner.raw("SELECT current_user")
    for statement in [*create_roles_sql(APP_ROLE), *app_role_sql(APP_ROLE, owner=user)]:
        await owner.raw(statement)
    parts = urlsplit(owner.url)  # the same server and database, as the application role (local: trusted)
    app_url = urlunsplit(parts._replace(netloc=f"{APP_ROLE}@{parts.netloc.rsplit('@', 1)[-1]}"))
    async with djogi.connect(app_url) as app:
        downtown, harbour = app.with_tenant("downtown"), app.with_tenant("harbour")
        for store in (downtown, harbour):  # re-runnable: each store clears its own notes
            await store.execute(StaffNote.objects.delete())
        await downtown.create(StaffNote(store="downtown", body="restock Cosmos"))
        await harbour.bulk_create([StaffNote(store="harbour", body=b) for b in ("window display", "count the till")])
        show("staff notes as each store sees them (row-level security)",
             [(name, sorted(n.body for n in await store.all(StaffNote.objects)))
              for name, store in (("downtown", downtown), ("harbour", harbour))])
        show("the application role without a store sees", await app.raw("SELECT count(*) FROM staff_notes"))
        try:
            await app.all(StaffNote.objects)
        except djogi.TenantRequired:
            show("djogi without a store", "TenantRequired")


if __name__ == "__main__":
    djogi.run(main())  # uvloop where it is installed
