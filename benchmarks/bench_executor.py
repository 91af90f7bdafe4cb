"""Executor benchmark: djogi's terminals and bulk_create against raw psycopg, side by side.

Run with ``python -m benchmarks.bench_executor [--rows N] [--lookups N] [--repeat R]``. It uses
``DJOGI_DATABASE_URL`` or the benchmark's embedded server (``benchmarks.schema.open_database``),
installs HeeRanjID there if needed and works on its own table ``bench_exec_items``. Three workloads,
each timed end to end with the raw and djogi runs alternating after a warm-up:

- fetch N rows: raw ``AsyncRawCursor`` binary ``fetchall()`` tuples vs ``db.all(Item.objects)`` models
  (target: djogi at most 1.15x the raw time);
- get by primary key, ``--lookups`` times: raw prepared ``SELECT ... WHERE id = $1`` on one connection vs
  ``db.get(Item, pk)`` through the pool, alternating in chunks of 50 lookups (target: at most 15 µs more
  per call, median chunk against median chunk);
- bulk insert N rows: raw binary COPY of the same rows, ids allocated the same way (one
  ``SELECT array_agg(id), now() FROM generate_ids_desc($1)``; the per-row column default
  ``heerid_next_desc()`` is far slower under COPY) vs ``db.bulk_create`` returning the created models
  (target: at least 0.8x the raw throughput).
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import psycopg

import djogi
from benchmarks.schema import open_database
from djogi import Field, HeerIdDesc, Model, field
from djogi.executor import Database, connect
from djogi.heer_sql import bootstrap_sql, installed_sql

TABLE = "bench_exec_items"
COLUMNS = ("id", "created_at", "updated_at", "name", "price", "qty", "active")
DDL = f"""
DROP TABLE IF EXISTS {TABLE};
CREATE TABLE {TABLE} (
    id bigint PRIMARY KEY DEFAULT heerid_next_desc(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    name text NOT NULL, price numeric(10, 2) NOT NULL, qty integer NOT NULL, active boolean NOT NULL
);
"""
SELECT_SQL = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
GET_SQL = f"{SELECT_SQL} WHERE id = $1"
COPY_SQL = f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN (FORMAT BINARY)"
ALLOCATE_SQL = "SELECT array_agg(id), now() FROM generate_ids_desc($1::integer)"


class BenchItem(Model, table=TABLE):
    name: Field[str]
    price: Field[Decimal] = field(precision=10, scale=2)
    qty: Field[int] = field(sql_type="INTEGER")
    active: Field[bool]


Run = Callable[[], Awaitable[object]]


def rows(n: int) -> list[tuple[str, Decimal, int, bool]]:
    rng = random.Random(7)
    return [(f"item-{i}", Decimal(rng.randint(0, 99_999)) / 100, rng.randint(0, 1000), i % 3 == 0) for i in range(n)]


async def timed(fn: Run, setup: Run | None) -> float:
    if setup is not None:
        await setup()
    gc.collect()
    started = time.perf_counter()
    await fn()
    return time.perf_counter() - started


async def compare(raw: Run, ours: Run, repeat: int, setup: Run | None = None) -> tuple[float, float]:
    """Median seconds of ``raw`` and ``ours``, alternating runs after one warm-up of each."""
    await timed(raw, setup)
    await timed(ours, setup)
    raw_times: list[float] = []
    our_times: list[float] = []
    for i in range(repeat):
        order = ((raw, raw_times), (ours, our_times)) if i % 2 == 0 else ((ours, our_times), (raw, raw_times))
        for fn, sink in order:
            sink.append(await timed(fn, setup))
    return statistics.median(raw_times), statistics.median(our_times)


async def main(n_rows: int, n_lookups: int, repeat: int) -> None:
    url, facts, cleanup = open_database()
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
            if not (await (await admin.execute(installed_sql())).fetchone() or (False,))[0]:
                await admin.execute(bootstrap_sql(1).encode())
            await admin.execute(DDL.encode())
            await admin.execute(f"ALTER DATABASE {admin.info.dbname} SET heer.node_id = '1'".encode())
        data = rows(n_rows)
        async with (
            await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor) as raw,
            connect(url, min_size=1, max_size=2) as db,
        ):
            await run_all(raw, db, data, n_lookups, repeat, facts)
    finally:
        cleanup()


async def run_all(
    raw: psycopg.AsyncConnection[Any], db: Database, data: list[tuple[str, Decimal, int, bool]],
    n_lookups: int, repeat: int, facts: dict[str, str],
) -> None:  # fmt: skip
    n = len(data)

    async def truncate() -> None:
        await raw.execute(f"TRUNCATE {TABLE}")

    async def raw_copy() -> None:
        cur = raw.cursor()
        await cur.execute(ALLOCATE_SQL, (n,), binary=True)
        [(allocated, now)] = await cur.fetchall()
        async with cur.copy(COPY_SQL) as copy:
            copy.set_types(["int8", "timestamptz", "timestamptz", "text", "numeric", "int4", "bool"])
            for pk, row in zip(allocated, data, strict=True):
                await copy.write_row((pk, now, now, *row))

    items = [BenchItem(name=a, price=b, qty=c, active=d) for a, b, c, d in data]

    async def our_copy() -> None:
        created = await db.bulk_create(items)
        assert len(created) == n

    raw_bulk, our_bulk = await compare(raw_copy, our_copy, repeat, truncate)

    await truncate()
    await our_copy()
    await raw.execute(f"VACUUM ANALYZE {TABLE}")

    async def raw_fetch() -> None:
        cur = raw.cursor(binary=True)
        await cur.execute(SELECT_SQL)
        assert len(await cur.fetchall()) == n

    async def our_fetch() -> None:
        assert len(await db.all(BenchItem.objects)) == n

    raw_all, our_all = await compare(raw_fetch, our_fetch, repeat)

    ids = [r[0] for r in await db.raw(f"SELECT id FROM {TABLE} ORDER BY random() LIMIT $1", (n_lookups,))]
    keys = [HeerIdDesc(pk) for pk in ids]

    async def raw_get(chunk: list[Any]) -> None:
        cur = raw.cursor(binary=True)
        for pk in chunk:
            await cur.execute(GET_SQL, (pk,), prepare=True)
            assert await cur.fetchone() is not None

    async def our_get(chunk: list[Any]) -> None:
        get = db.get
        for pk in chunk:
            await get(BenchItem, pk)

    # Lookups alternate in chunks of 50 (raw, djogi, djogi, raw, ...) so drift in the machine's speed
    # hits both sides alike; the medians of the per-chunk times are compared.
    raw_chunks: list[float] = []
    our_chunks: list[float] = []
    for r in range(repeat + 1):
        for i in range(0, len(keys), 50):
            pairs = ((raw_get, ids[i : i + 50], raw_chunks), (our_get, keys[i : i + 50], our_chunks))
            for fn, chunk, sink in pairs if (r + i // 50) % 2 == 0 else pairs[::-1]:
                started = time.perf_counter()
                await fn(chunk)
                if r:  # the first pass warms up (prepares statements, fills caches)
                    sink.append((time.perf_counter() - started) / len(chunk))
    raw_pk, our_pk = statistics.median(raw_chunks), statistics.median(our_chunks)

    overhead_us = (our_pk - raw_pk) * 1e6
    print(f"server: {facts.get('server')}; {n:,} rows, {len(keys):,} lookups, median of {repeat} runs")
    print(f"{'workload':<28}{'raw psycopg':>14}{'djogi':>14}{'result':>26}")
    print(
        f"{'fetch all -> models':<28}{raw_all * 1e3:>11.1f} ms{our_all * 1e3:>11.1f} ms"
        f"{f'{our_all / raw_all:.3f}x time (<= 1.15)':>26}"
    )
    print(
        f"{'get by pk (per call)':<28}{raw_pk * 1e6:>11.1f} µs{our_pk * 1e6:>11.1f} µs"
        f"{f'+{overhead_us:.1f} µs/call (<= 15)':>26}"
    )
    print(
        f"{'bulk_create (binary COPY)':<28}{raw_bulk * 1e3:>11.1f} ms{our_bulk * 1e3:>11.1f} ms"
        f"{f'{raw_bulk / our_bulk:.3f}x speed (>= 0.8)':>26}"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    djogi.run(main(args.rows, args.lookups, args.repeat))


if __name__ == "__main__":
    cli()
