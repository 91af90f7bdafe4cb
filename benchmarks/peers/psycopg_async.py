"""Raw psycopg 3, async: the floor. Raw cursors ($n placeholders), binary results, prepared repeats, tuples."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import psycopg
from psycopg.rows import TupleRow

from benchmarks import schema
from benchmarks.peers import attach, books_attached

NAME = "psycopg-async"
Conn = psycopg.AsyncConnection[TupleRow]


async def connect(url: str) -> Conn:
    return await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor)


async def close(conn: Conn) -> None:
    await conn.close()


async def fetch(conn: Conn, n: int) -> int:
    async with conn.cursor(binary=True) as cur:
        await cur.execute(schema.FETCH_SQL, (n,))
        return len(await cur.fetchall())


async def get_by_pk(conn: Conn, ids: Sequence[int]) -> int:
    found = 0
    async with conn.cursor(binary=True) as cur:
        for pk in ids:
            await cur.execute(schema.GET_SQL, (pk,), prepare=True)
            found += await cur.fetchone() is not None
    return found


async def filtered(conn: Conn, params: Sequence[tuple[int, int]]) -> int:
    total = 0
    async with conn.cursor(binary=True) as cur:
        for floor, qty in params:
            await cur.execute(schema.FILTER_SQL, (floor, qty), prepare=True)
            total += len(await cur.fetchall())
    return total


async def bulk_insert(conn: Conn, rows: Sequence[schema.ItemRow]) -> int:
    async with conn.cursor() as cur, cur.copy(schema.COPY_INSERT_SQL) as copy:
        copy.set_types(schema.INSERT_TYPES)
        for row in rows:
            await copy.write_row(row)
    return len(rows)


async def bulk_insert_keyed(conn: Conn, rows: Sequence[schema.ItemRow]) -> int:
    async with conn.cursor(binary=True) as cur:
        await cur.execute(schema.ALLOCATE_KEYS_SQL, (len(rows),))
        found = await cur.fetchone()
        assert found is not None
        ids: list[int] = found[0]
        async with cur.copy(schema.COPY_KEYED_SQL) as copy:
            copy.set_types(schema.KEYED_TYPES)
            for pk, row in zip(ids, rows, strict=True):
                await copy.write_row((pk, *row))
    return len(set(ids))


async def update(conn: Conn, lo: int, hi: int) -> int:
    async with conn.cursor() as cur:
        await cur.execute(schema.UPDATE_SQL, (lo, hi))
        return cur.rowcount


async def authors_with_books(conn: Conn) -> int:
    async with conn.cursor(binary=True) as cur:
        await cur.execute(schema.AUTHORS_SQL)
        authors = await cur.fetchall()
        await cur.execute(schema.BOOKS_SQL, ([a[0] for a in authors],))
        books = await cur.fetchall()
    return books_attached(attach(authors, books, itemgetter(0), itemgetter(3)))
