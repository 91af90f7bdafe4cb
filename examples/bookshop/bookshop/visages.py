"""What each audience of the bookshop's API sees, declared for type checkers.

Each class is the visage djogi derives from the models' ``field(expose=...)`` declarations; djogi checks
the written-out fields against the model when the class is created, so the two cannot drift apart.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bookshop.models import Author, Book, Customer, Genre
from djogi import HeerIdDesc, Visage


class AuthorPublic(Visage[Author], audience="public"):
    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    born: dt.date | None


class BookPublic(Visage[Book], audience="public"):
    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    title: str
    author: HeerIdDesc
    genre: Genre
    price: Decimal
    tags: list[str]


class BookAdmin(Visage[Book], audience="admin"):
    """Staff see the author nested as their public visage (loaded with ``prefetch``)."""

    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    title: str
    author: AuthorPublic
    genre: Genre
    price: Decimal
    tags: list[str]


class CustomerSelf(Visage[Customer], audience="self"):
    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    email: str
    credit: Decimal


class CustomerAdmin(Visage[Customer], audience="admin"):
    """Staff see a customer's name and credit; the email masked (PostgreSQL masks it: it never leaves the
    database), while the customer's own visage shows it."""

    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    name: str
    email: str
    credit: Decimal
