"""Decoding benchmark: 100k rows x 6 columns, raw psycopg binary ``fetchall()`` vs djogi models.

Run with ``python -m benchmarks.bench_decode [--rows N] [--repeat R]``. It uses the project's embedded
server (``.djogi/pgdata``; started if needed and left running, as ``djogi db up`` does),
creates a scratch database, and times, end to end, execute + fetch for raw tuples and execute + fetch
+ decode into frozen models (``row_decoder(...).row_factory`` on the cursor, as the executor does).
The runs alternate (raw, djogi, djogi, raw, ...) after a warm-up, each preceded by ``gc.collect()``;
the medians and their ratio are printed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

import psycopg
from psycopg import sql

import djogi
from djogi import Field
from djogi.codecs import configure_adapters, row_decoder
from djogi.embedded import EmbeddedServer, default_pgdata

TABLE = "bench_decode_items"
COLUMNS = ("id", "created_at", "name", "price", "qty", "active")
TARGET_RATIO = 1.15


class BenchItem(djogi.Model, table=TABLE):
    """The benchmark's model: id (HeerIdDesc), created_at, and four data columns."""

    name: Field[str]
    price: Field[Decimal]
    qty: Field[djogi.Integer]
    active: Field[bool]


def run(url: str, rows: int, repeat: int) -> tuple[float, float]:
    """Time both sides on the database at ``url``; return (raw median, djogi median) in seconds."""
    query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.Identifier(TABLE))
    with psycopg.connect(url, autocommit=True) as raw_conn, psycopg.connect(url, autocommit=True) as dj_conn:
        raw_conn.execute(
            f"CREATE TABLE {TABLE} (id bigint PRIMARY KEY, created_at timestamptz NOT NULL, "
            "updated_at timestamptz NOT NULL DEFAULT now(), name text NOT NULL, price numeric(10, 2) NOT NULL, "
            "qty integer NOT NULL, active boolean NOT NULL)"
        )
        raw_conn.execute(
            f"INSERT INTO {TABLE} (id, created_at, name, price, qty, active) "
            "SELECT 7000000000000000 + g, now() - g * interval '1 second', 'item ' || g, (g %% 10000) / 100.0, "
            "g %% 1000, g %% 2 = 0 FROM generate_series(1, %s) g",
            (rows,),
        )
        raw_conn.execute(f"VACUUM ANALYZE {TABLE}")
        configure_adapters(dj_conn.adapters)
        decoder = row_decoder(BenchItem, COLUMNS)

        def raw() -> object:
            with raw_conn.cursor(binary=True) as cur:
                cur.execute(query)
                return cur.fetchall()

        def djogi_models() -> object:
            with dj_conn.cursor(binary=True, row_factory=decoder.row_factory) as cur:
                cur.execute(query)
                return cur.fetchall()

        check = djogi_models()
        assert isinstance(check, list) and len(check) == rows and isinstance(check[0], BenchItem)
        samples: dict[str, list[float]] = {"raw": [], "djogi": []}
        sides: list[tuple[str, Callable[[], object]]] = [("raw", raw), ("djogi", djogi_models)]
        for side in sides:  # warm-up
            side[1]()
        for rep in range(repeat):
            for name, fn in sides if rep % 2 == 0 else sides[::-1]:
                gc.collect()
                start = time.perf_counter()
                fn()
                samples[name].append(time.perf_counter() - start)
    return statistics.median(samples["raw"]), statistics.median(samples["djogi"])


def main() -> None:
    """Parse arguments, run on a scratch database of the embedded server, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    server = EmbeddedServer(default_pgdata())
    server.start()
    database = f"djogi_bench_decode_{os.getpid()}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    try:
        raw_s, djogi_s = run(server.url(database), args.rows, args.repeat)
    finally:
        with psycopg.connect(server.url(), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))
    ratio = djogi_s / raw_s
    print(f"decode {args.rows} rows x {len(COLUMNS)} columns, median of {args.repeat}:")
    print(f"  raw psycopg binary fetchall : {raw_s * 1000:8.1f} ms")
    print(f"  djogi frozen models         : {djogi_s * 1000:8.1f} ms")
    print(f"  ratio djogi / raw           : {ratio:8.3f}  (target <= {TARGET_RATIO})")


if __name__ == "__main__":
    main()
