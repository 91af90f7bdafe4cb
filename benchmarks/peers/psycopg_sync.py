"""Raw psycopg 3, sync: raw cursors ($n placeholders), binary results, prepared repeats, tuples."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import psycopg
from psycopg.rows import TupleRow

from benchmarks import schema
from benchmarks.peers import attach, books_attached

NAME = "psycopg-sync"
Conn = psycopg.Connection[TupleRow]


def connect(url: str) -> Conn:
    return psycopg.Connection.connect(url, autocommit=True, cursor_factory=psycopg.RawCursor)


def close(conn: Conn) -> None:
    conn.close()


def fetch(conn: Conn, n: int) -> int:
    with conn.cursor(binary=True) as cur:
        cur.execute(schema.FETCH_SQL, (n,))
        return len(cur.fetchall())


def get_by_pk(conn: Conn, ids: Sequence[int]) -> int:
    found = 0
    with conn.cursor(binary=True) as cur:
        for pk in ids:
            cur.execute(schema.GET_SQL, (pk,), prepare=True)
            found += cur.fetchone() is not None
    return found


def filtered(conn: Conn, params: Sequence[tuple[int, int]]) -> int:
    total = 0
    with conn.cursor(binary=True) as cur:
        for floor, qty in params:
            cur.execute(schema.FILTER_SQL, (floor, qty), prepare=True)
            total += len(cur.fetchall())
    return total


def bulk_insert(conn: Conn, rows: Sequence[schema.ItemRow]) -> int:
    with conn.cursor() as cur, cur.copy(schema.COPY_INSERT_SQL) as copy:
        copy.set_types(schema.INSERT_TYPES)
        for row in rows:
            copy.write_row(row)
    return len(rows)


def update(conn: Conn, lo: int, hi: int) -> int:
    with conn.cursor() as cur:
        cur.execute(schema.UPDATE_SQL, (lo, hi))
        return cur.rowcount


def authors_with_books(conn: Conn) -> int:
    with conn.cursor(binary=True) as cur:
        cur.execute(schema.AUTHORS_SQL)
        authors = cur.fetchall()
        cur.execute(schema.BOOKS_SQL, ([a[0] for a in authors],))
        books = cur.fetchall()
    return books_attached(attach(authors, books, itemgetter(0), itemgetter(3)))
