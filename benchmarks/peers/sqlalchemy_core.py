"""SQLAlchemy 2 Core, async over psycopg 3: Table expressions, Row results, one connection per workload run."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks import schema
from benchmarks.peers import _sqla, attach, books_attached
from benchmarks.peers._sqla import authors, books, items, items_insert

NAME = "sqlalchemy-core"


async def connect(url: str) -> AsyncEngine:
    return await _sqla.engine(url)


async def close(engine: AsyncEngine) -> None:
    await engine.dispose()


async def fetch(engine: AsyncEngine, n: int) -> int:
    async with engine.connect() as conn:
        return len((await conn.execute(select(items).order_by(items.c.id).limit(n))).all())


async def get_by_pk(engine: AsyncEngine, ids: Sequence[int]) -> int:
    found = 0
    async with engine.connect() as conn:
        for pk in ids:
            found += (await conn.execute(select(items).where(items.c.id == pk))).first() is not None
    return found


def _filter_query(floor: int, qty: int) -> Select[Any]:
    return (select(items).where(items.c.id > floor, items.c.qty > qty, items.c.active)
            .order_by(items.c.id).limit(schema.FILTER_LIMIT))


async def filtered(engine: AsyncEngine, params: Sequence[tuple[int, int]]) -> int:
    total = 0
    async with engine.connect() as conn:
        for floor, qty in params:
            total += len((await conn.execute(_filter_query(floor, qty))).all())
    return total


async def bulk_insert(engine: AsyncEngine, rows: list[schema.ItemRow]) -> int:
    async with engine.begin() as conn:
        await conn.execute(items_insert.insert(), _sqla.insert_dicts(rows))
    return len(rows)


async def bulk_insert_keyed(engine: AsyncEngine, rows: list[schema.ItemRow]) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(items_insert.insert().returning(items_insert.c.id), _sqla.insert_dicts(rows))
        return len({row[0] for row in result})


async def update(engine: AsyncEngine, lo: int, hi: int) -> int:
    async with engine.begin() as conn:
        result = await conn.execute(
            sa_update(items).where(items.c.id.between(lo, hi)).values(qty=items.c.qty + 1, updated_at=func.now()))
    return result.rowcount


async def authors_with_books(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        author_rows = (await conn.execute(select(authors).order_by(authors.c.id))).all()
        ids = [a.id for a in author_rows]
        book_rows = (await conn.execute(select(books).where(books.c.author_id.in_(ids)).order_by(books.c.id))).all()
    return books_attached(attach(author_rows, book_rows, attrgetter("id"), attrgetter("author_id")))


def compile_cold(engine: AsyncEngine, n: int) -> None:
    _sqla.compile_cold(engine.dialect, lambda: _filter_query(5_000, 250), n)


def compile_cached(engine: AsyncEngine, n: int) -> None:
    _sqla.compile_cached(engine.dialect, lambda: _filter_query(5_000, 250), n)
