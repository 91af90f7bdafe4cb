"""The bookshop's models: one declaration per table, everything else derived from it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

import djogi
from djogi import ForeignKey, Index, Jsonb, Model, field


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
    name: Annotated[str, field(max_length=200, index=True)]
    email: Annotated[str, field(unique=True)]
    born: date | None = None


class Book(Model, table="books", indexes=(Index(columns=("genre", "-price")),)):
    title: str
    author: Annotated[ForeignKey[Author], field(on_delete="cascade")]
    genre: Genre = Genre.FICTION
    price: Annotated[Decimal, field(precision=10, scale=2)] = Decimal("0")
    tags: list[str] = []
    meta: Jsonb[BookMeta] | None = None


class Tag(Model, table="tags"):
    name: Annotated[str, field(unique=True, max_length=50)]


class BookTag(Model, table="book_tags", through=(Book, Tag), unique_together=(("book", "tag"),)):
    book: Annotated[ForeignKey[Book], field(on_delete="cascade")]
    tag: Annotated[ForeignKey[Tag], field(on_delete="cascade")]


class Category(Model, table="categories"):
    name: str
    parent: ForeignKey[Category] | None = None


class Customer(Model, table="customers"):
    name: str
    email: Annotated[str, field(unique=True)]
    credit: Annotated[Decimal, field(precision=10, scale=2)] = Decimal("0")
    version: Annotated[int, field(version=True)] = 0


class Order(Model, table="orders"):
    customer: ForeignKey[Customer]
    status: OrderStatus = OrderStatus.OPEN


class OrderLine(Model, table="order_lines"):
    order: Annotated[ForeignKey[Order], field(on_delete="cascade")]
    book: ForeignKey[Book]
    quantity: int = 1
    unit_price: Annotated[Decimal, field(precision=10, scale=2)] = Decimal("0")


class StaffNote(Model, table="staff_notes", tenant_key="store"):
    """Notes each store's staff keep: row-level security shows a store only its own (docs/multi-tenancy.md)."""

    store: str
    body: str
