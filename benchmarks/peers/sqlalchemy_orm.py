"""SQLAlchemy 2 ORM, async over psycopg 3: mapped objects, one session per workload run
(``expire_on_commit=False``), ORM bulk INSERT, ``selectinload`` for the to-many relation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.orm import selectinload

from benchmarks import schema
from benchmarks.peers import _sqla
from benchmarks.peers._sqla import Author, Item, ItemInsert

NAME = "sqlalchemy-orm"


class State:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.session = async_sessionmaker(engine, expire_on_commit=False)


async def connect(url: str) -> State:
    return State(await _sqla.engine(url))


async def close(state: State) -> None:
    await state.engine.dispose()


async def fetch(state: State, n: int) -> int:
    async with state.session() as s:
        return len((await s.scalars(select(Item).order_by(Item.id).limit(n))).all())


async def get_by_pk(state: State, ids: Sequence[int]) -> int:
    found = 0
    async with state.session() as s:
        for pk in ids:
            found += await s.get(Item, pk) is not None
    return found


def _filter_query(floor: int, qty: int) -> Select[Any]:
    return (select(Item).where(Item.id > floor, Item.qty > qty, Item.active)
            .order_by(Item.id).limit(schema.FILTER_LIMIT))


async def filtered(state: State, params: Sequence[tuple[int, int]]) -> int:
    total = 0
    async with state.session() as s:
        for floor, qty in params:
            total += len((await s.scalars(_filter_query(floor, qty))).all())
    return total


async def bulk_insert(state: State, rows: list[schema.ItemRow]) -> int:
    async with state.session() as s, s.begin():
        await s.execute(insert(ItemInsert), _sqla.insert_dicts(rows))
    return len(rows)


async def bulk_insert_keyed(state: State, rows: list[schema.ItemRow]) -> int:
    async with state.session() as s, s.begin():
        created = (await s.scalars(insert(ItemInsert).returning(ItemInsert), _sqla.insert_dicts(rows))).all()
    return len({item.id for item in created})


async def update(state: State, lo: int, hi: int) -> int:
    async with state.session() as s, s.begin():
        stmt = sa_update(Item).where(Item.id.between(lo, hi)).values(qty=Item.qty + 1, updated_at=func.now())
        result = await s.execute(stmt)
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


async def authors_with_books(state: State) -> int:
    async with state.session() as s:
        authors = (await s.scalars(select(Author).options(selectinload(Author.books)).order_by(Author.id))).all()
        return sum(len(a.books) for a in authors)


def compile_cold(state: State, n: int) -> None:
    _sqla.compile_cold(state.engine.dialect, lambda: _filter_query(5_000, 250), n)


def compile_cached(state: State, n: int) -> None:
    _sqla.compile_cached(state.engine.dialect, lambda: _filter_query(5_000, 250), n)
