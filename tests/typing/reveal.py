"""Type assertions checked by mypy (``tests/typing/test_reveal.py``); never imported at run time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, assert_type

import msgspec

from djogi import Database, ForeignKey, Model
from djogi.algebra import select
from djogi.algebra.expr import Column, OrderBy
from djogi.algebra.predicate import Pred
from djogi.algebra.query import Select
from djogi.loaded import Loaded


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


async def terminals(db: Database) -> None:
    assert_type(await db.all(Book.objects.filter(Book.price < 3)), list[Book])
    assert_type(await db.first(Book.objects), Book | None)
    assert_type(await db.one(Book.objects), Book)
    assert_type(await db.all(Book.objects.prefetch(Book.author)), list[Loaded[Book]])
    assert_type(await db.values(Book.objects.values(Book.title, into=Pair)), list[Pair])
    assert_type(await db.get(Book, 1), Book)
