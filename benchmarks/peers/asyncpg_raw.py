"""asyncpg: Records from its binary protocol; statements are prepared and cached by the connection."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import asyncpg

from benchmarks import schema
from benchmarks.peers import attach, books_attached

NAME = "asyncpg"


async def connect(url: str) -> asyncpg.Connection:
    return await asyncpg.connect(url)


async def close(conn: asyncpg.Connection) -> None:
    await conn.close()


async def fetch(conn: asyncpg.Connection, n: int) -> int:
    return len(await conn.fetch(schema.FETCH_SQL, n))


async def get_by_pk(conn: asyncpg.Connection, ids: Sequence[int]) -> int:
    found = 0
    for pk in ids:
        found += await conn.fetchrow(schema.GET_SQL, pk) is not None
    return found


async def filtered(conn: asyncpg.Connection, params: Sequence[tuple[int, int]]) -> int:
    total = 0
    for floor, qty in params:
        total += len(await conn.fetch(schema.FILTER_SQL, floor, qty))
    return total


async def bulk_insert(conn: asyncpg.Connection, rows: Sequence[schema.ItemRow]) -> int:
    await conn.copy_records_to_table(schema.ITEMS_INSERT, records=rows, columns=schema.INSERT_COLUMNS)
    return len(rows)


async def bulk_insert_keyed(conn: asyncpg.Connection, rows: Sequence[schema.ItemRow]) -> int:
    ids: list[int] = await conn.fetchval(schema.ALLOCATE_KEYS_SQL, len(rows))
    records = [(pk, *row) for pk, row in zip(ids, rows, strict=True)]
    await conn.copy_records_to_table(schema.ITEMS_INSERT, records=records, columns=schema.KEYED_COLUMNS)
    return len(set(ids))


async def update(conn: asyncpg.Connection, lo: int, hi: int) -> int:
    status: str = await conn.execute(schema.UPDATE_SQL, lo, hi)
    return int(status.rsplit(" ", 1)[-1])


async def authors_with_books(conn: asyncpg.Connection) -> int:
    authors = await conn.fetch(schema.AUTHORS_SQL)
    books = await conn.fetch(schema.BOOKS_SQL, [a[0] for a in authors])
    return books_attached(attach(authors, books, itemgetter(0), itemgetter(3)))
