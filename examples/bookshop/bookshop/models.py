"""The bookshop's models: one declaration per table, everything else derived from it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import ClassVar

import msgspec

import djogi
from djogi import Field, ForeignKey, Index, Jsonb, Model, Reverse, TsVector, field, tsvector_of


class Genre(djogi.Enum):
    """A native PostgreSQL enum type ``genre``."""

    FICTION = "fiction"
    SCIENCE = "science"
    HISTORY = "history"


class OrderStatus(djogi.Enum):
    """``order_status``: where an order is in its life."""

    OPEN = "open"
    PAID = "paid"
    SHIPPED = "shipped"


class BookMeta(msgspec.Struct, frozen=True):
    """Free-form catalogue data kept as JSONB."""

    isbn: str
    pages: int | None = None


class Author(Model, table="authors"):
    name: Field[str] = field(max_length=200, index=True, expose=("public", "admin"))
    email: Field[str] = field(unique=True, expose=("admin",), protected=djogi.protect("pii", "to reach the author"))
    born: Field[date | None] = field(default=None, expose=("public", "admin"))
    books: ClassVar[Reverse[Book]]  # the reverse of Book.author (checked against it)


class Book(Model, table="books", indexes=(
    Index(columns=("genre", "-price")), Index(columns=("search",), method="gin", name="books_search"),
)):
    title: Field[str] = field(expose=("public", "admin"))
    author: ForeignKey[Author] = field(on_delete="cascade", expose=("public", ("admin", "public")))
    genre: Field[Genre] = field(default=Genre.FICTION, expose=("public", "admin"))
    price: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"), expose=("public", "admin"))
    tags: Field[list[str]] = field(default=[], expose=("public", "admin"))
    meta: Field[Jsonb[BookMeta] | None] = field(default=None)
    # the title's full-text document, kept by the database (GENERATED ... STORED) and GIN-indexed
    search: Field[TsVector | msgspec.UnsetType] = field(generated=tsvector_of("english", "title"),
                                                        default=msgspec.UNSET)


class Tag(Model, table="tags"):
    name: Field[str] = field(unique=True, max_length=50)


class BookTag(Model, table="book_tags", through=(Book, Tag), unique_together=(("book", "tag"),)):
    book: ForeignKey[Book] = field(on_delete="cascade")
    tag: ForeignKey[Tag] = field(on_delete="cascade")


class Category(Model, table="categories"):
    name: Field[str]
    parent: ForeignKey[Category | None] = field(default=None)


class Customer(Model, table="customers"):
    name: Field[str] = field(expose=("self", "admin"))
    email: Field[str] = field(
        unique=True,
        expose=("self", "admin"),
        protected=djogi.protect("pii", "to send receipts", redaction="mask", per_audience={"self": "none"}),
    )
    credit: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"), expose=("self", "admin"))
    version: Field[int] = field(version=True, default=0)


class Order(Model, table="orders"):
    customer: ForeignKey[Customer]
    status: Field[OrderStatus] = field(default=OrderStatus.OPEN)


class OrderLine(Model, table="order_lines"):
    order: ForeignKey[Order] = field(on_delete="cascade")
    book: ForeignKey[Book]
    quantity: Field[int] = field(default=1)
    unit_price: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"))


class StaffNote(Model, table="staff_notes", tenant_key="store"):
    """Notes each store's staff keep: row-level security shows a store only its own (docs/multi-tenancy.md)."""

    store: Field[str]
    body: Field[str]
