"""The libraries djogi is measured against, one module each, all exposing the same functions.

A peer module defines ``NAME`` and any of these (sync, or ``async def`` for async peers; a missing
function shows as ``n/a``)::

    connect(url) -> state                 close(state)
    fetch(state, n) -> rows fetched       get_by_pk(state, ids) -> rows found
    filtered(state, params) -> rows       bulk_insert(state, rows) -> rows sent
    bulk_insert_keyed(state, rows) -> distinct keys returned for the inserted rows
    update(state, lo, hi) -> rows updated authors_with_books(state) -> books attached
    compile_cold(state, n) / compile_cached(state, n) -> None (always sync: build + compile n times)

Each returns what it did (row counts), which the runner checks, so every figure is of the same work.
A function may raise ``NotAvailable`` when the library cannot do the workload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

PEERS = ("psycopg_async", "psycopg_sync", "asyncpg_raw", "sqlalchemy_core", "sqlalchemy_orm", "django_orm")

A = TypeVar("A")
B = TypeVar("B")


class NotAvailable(Exception):
    """The peer cannot run this workload (reported as ``n/a`` with this message, never as a figure)."""


def attach(authors: Sequence[A], books: Sequence[B], author_id: Callable[[Any], object],
           book_author_id: Callable[[Any], object]) -> list[tuple[A, list[B]]]:
    """Pair every author with its books (the hand-written eager load of the raw drivers)."""
    by_author: defaultdict[object, list[B]] = defaultdict(list)
    for book in books:
        by_author[book_author_id(book)].append(book)
    return [(a, by_author.get(author_id(a), [])) for a in authors]


def books_attached(pairs: Sequence[tuple[object, Sequence[object]]]) -> int:
    return sum(len(books) for _, books in pairs)


def to_sqlalchemy_url(url: str, driver: str) -> str:
    """``postgresql://...`` -> ``postgresql+<driver>://...``."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+{driver}://{rest}" if sep and scheme in ("postgres", "postgresql") else url
