"""Mistakes both type checkers must report (``test_reveal.py``): each line marked ``# E: <mypy code>
<pyright rule>`` must get that error from each checker, and no other line may get any error. Never imported."""

from __future__ import annotations

from decimal import Decimal

from reveal import Author, Book, Category, Genre, TWriter

from djogi import Database, Field, Model, TsVector, field, tsvector_of, visage, visage_query


async def bad(db: Database, a: Author, b: Book) -> None:
    Book.nme  # E: attr-defined reportAttributeAccessIssue
    b.nme  # E: attr-defined reportAttributeAccessIssue
    Book.price < "x"  # E: operator reportOperatorIssue
    Book.objects.filter(Book.title == 3)  # E: arg-type reportArgumentType
    Book.objects.filter(Book.genre == 5)  # E: arg-type reportArgumentType
    Book.objects.filter(Book.title.in_([1, 2]))  # E: list-item reportArgumentType
    Book(title="t", author=a)  # E: arg-type reportArgumentType
    b.author.name  # E: attr-defined reportAttributeAccessIssue
    Book(title=1, author=a.id)  # E: arg-type reportArgumentType
    b.title = "x"  # E: arg-type reportAttributeAccessIssue
    Book(author=a.id)  # E: call-arg reportCallIssue
    Category(name="x", parent="no")  # E: arg-type reportArgumentType
    Author.no_such_books  # E: attr-defined reportAttributeAccessIssue
    rows = await db.all(Book.objects)
    rows[0].nme  # E: attr-defined reportAttributeAccessIssue
    Book.objects.select_related(Author.name)  # E: call-overload reportCallIssue
    Book.objects.filter(Book.price.between("a", "b"))  # E: call-overload reportCallIssue
    Book(title="t", author=a.id, genre="fiction")  # E: arg-type reportArgumentType
    Book.objects.values(Book.title, Book.price, into=3)  # E: call-overload reportArgumentType
    Book.objects.filter(Book.genre == Genre.FICTION).tabel  # E: attr-defined reportAttributeAccessIssue
    visage(TWriter, "staff")  # E: arg-type reportArgumentType
    (await db.all(visage_query(visage(TWriter, "admin"))))[0].email  # E: attr-defined reportAttributeAccessIssue


class Bad(Model, table="typing_bad"):
    price: Field[Decimal] = field(default="x")  # E: arg-type reportAssignmentType
    title: Field[str] = field(max_lenght=3)  # E: call-overload reportCallIssue
    words: Field[TsVector] = field(generated=tsvector_of("english", 3))  # E: arg-type reportArgumentType
