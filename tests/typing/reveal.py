"""Type assertions checked by mypy (``tests/typing/test_reveal.py``); never imported at run time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, assert_type

import msgspec

from djogi import Database, ForeignKey, Model, OneToOne, param
from djogi.algebra import select
from djogi.algebra.expr import Column, OrderBy
from djogi.algebra.predicate import Pred
from djogi.algebra.query import Select
from djogi.algebra.relations import Related, RelatedCount
from djogi.executor import Pending, Prepared
from djogi.loaded import Loaded
from djogi.model import field


class Author(Model, table="typing_authors"):
    name: str
    born: dt.date | None = None


class Book(Model, table="typing_books"):
    title: str
    author: ForeignKey[Author]
    price: Decimal = Decimal(0)


assert_type(Book.price, Column[Book, Decimal])
assert_type(Book.title, Column[Book, str])
assert_type(Author.born, Column[Author, dt.date | None])
assert_type(Book.author, Column[Book, Author])
assert_type(Book.created_at, Column[Book, dt.datetime])
assert_type(Book.id, Column[Book, Any])


class Review(Model, table="typing_reviews"):
    book: Annotated[ForeignKey[Book], field(related_name="reviews")]
    editor: Annotated[ForeignKey[Author] | None, field(related_name="edited_reviews", on_delete="set null")] = None


class Bio(Model, table="typing_bios"):
    author: OneToOne[Author]


class Transfer(Model, table="typing_transfers"):
    src: ForeignKey[Author]
    dst: ForeignKey[Author]


# Reverse accessors: the source's table name, or field(related_name=...).
assert_type(Author.typing_books, Related[Author, Book])
assert_type(Book.reviews, Related[Book, Review])
assert_type(Author.edited_reviews, Related[Author, Review])
assert_type(Author.typing_bios, Related[Author, Bio])
assert_type(Author.typing_books.any(Book.price > 10), Pred)
assert_type(Author.typing_books.count(), RelatedCount)
assert_type(Author.objects.filter(Author.typing_books.none(Book.price > 10)), Select[Author])
Author.no_such_attribute  # type: ignore[attr-defined]  # noqa: B018  (unknown names stay errors)
Book.typing_books  # type: ignore[attr-defined]  # noqa: B018  (the reverse lives on the target only)
Author.typing_transfers  # type: ignore[attr-defined]  # noqa: B018  (ambiguous: Transfer.src and .dst)

book = Book(title="t", author=1)
assert_type(book.price, Decimal)
assert_type(book.title, str)

assert_type(Book.price < 30, Pred)
assert_type(Book.title == "x", Pred)
assert_type((Book.price < 30) & ~Book.title.icontains("x") | (Book.author == 1), Pred)
assert_type(Book.price.desc(), OrderBy)
assert_type(select(Book), Select[Book])
assert_type(Book.objects, Select[Book])
assert_type(Book.objects.filter(Book.price < 30).limit(3), Select[Book])


class Pair(msgspec.Struct):
    title: str
    price: Decimal


assert_type(Book.objects.values(Book.title, into=Pair), Select[Pair])
assert_type(Book.objects.values(Book.title, Book.price), Select[Any])
assert_type(Book.objects.select_related(Book.author), Select[tuple[Any, ...]])
assert_type(Book.objects.prefetch(Book.author), Select[Loaded[Book]])


async def terminals(db: Database, books: list[Book]) -> None:
    assert_type(await db.all(Book.objects.filter(Book.price < 3)), list[Book])
    assert_type(await db.first(Book.objects), Book | None)
    assert_type(await db.one(Book.objects), Book)
    assert_type(await db.all(Book.objects.prefetch(Book.author)), list[Loaded[Book]])
    assert_type(await db.values(Book.objects.values(Book.title, into=Pair)), list[Pair])
    assert_type(await db.get(Book, 1), Book)
    assert_type(await db.bulk_create(books), list[Book])
    assert_type(await db.bulk_create(books, returning=False), int)


async def prepared_and_pipelined(db: Database) -> None:
    prepared = db.prepare(Book.objects.where(Book.title == param("title")))
    assert_type(prepared, Prepared[Book])
    assert_type(await prepared.all(title="x"), list[Book])
    assert_type(await prepared.one(title="x"), Book)
    assert_type(await prepared.first(title="x"), Book | None)
    async with db.pipeline() as p:
        books = p.all(Book.objects)
        author = p.get(Author, 1)
        n = p.count(Book.objects)
        first = p.first(Book.objects)
    assert_type(books, Pending[list[Book]])
    assert_type(author.value, Author)
    assert_type(n.value, int)
    assert_type(first.value, Book | None)
