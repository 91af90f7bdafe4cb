"""SQLAlchemy 2 mappings of the benchmark schema, shared by the Core and ORM peers (async, psycopg driver)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import BigInteger, ForeignKey, Integer, Numeric, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import ClauseElement
from sqlalchemy.types import DateTime
from sqlalchemy.util import LRUCache

from benchmarks import schema
from benchmarks.peers import to_sqlalchemy_url


class Base(DeclarativeBase):
    pass


class _ItemColumns:
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default="now()")
    name: Mapped[str] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    qty: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool]


class Item(_ItemColumns, Base):
    __tablename__ = schema.ITEMS


class ItemInsert(_ItemColumns, Base):
    __tablename__ = schema.ITEMS_INSERT


class Author(Base):
    __tablename__ = "bench_authors"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    name: Mapped[str] = mapped_column(Text)
    books: Mapped[list[Book]] = relationship(back_populates="author")


class Book(Base):
    __tablename__ = "bench_books"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    author_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("bench_authors.id"))
    title: Mapped[str] = mapped_column(Text)
    year: Mapped[int] = mapped_column(Integer)
    author: Mapped[Author] = relationship(back_populates="books")


items = cast(Table, Item.__table__)
items_insert = cast(Table, ItemInsert.__table__)
authors = cast(Table, Author.__table__)
books = cast(Table, Book.__table__)


async def engine(url: str) -> AsyncEngine:
    """An async engine over psycopg 3 with one connection already opened (pool warm)."""
    eng = create_async_engine(to_sqlalchemy_url(url, "psycopg"), pool_size=2)
    async with eng.connect():
        pass
    return eng


def insert_dicts(rows: list[schema.ItemRow]) -> list[dict[str, Any]]:
    """Insert rows as the parameter dicts SQLAlchemy's executemany paths take."""
    keys = schema.INSERT_COLUMNS
    return [dict(zip(keys, row, strict=True)) for row in rows]


def compile_cold(dialect: Dialect, build: Callable[[], ClauseElement], n: int) -> None:
    """Build and compile ``n`` times without a cache (``stmt.compile``), extracting parameters too."""
    for _ in range(n):
        build().compile(dialect=dialect).construct_params()


def compile_cached(dialect: Dialect, build: Callable[[], ClauseElement], n: int) -> None:
    """Build ``n`` times and hit the compiled cache as ``Connection.execute`` does (cache key + lookup + params).

    ``_compile_w_cache`` is private SQLAlchemy API; it is the call the execution path makes.
    """
    cache: LRUCache[Any, Any] = LRUCache(100)
    for _ in range(n):
        compiled, extracted, _, _ = build()._compile_w_cache(
            dialect, compiled_cache=cache, column_keys=[])
        compiled.construct_params(extracted_parameters=extracted)
