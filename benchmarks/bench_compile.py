"""Compile cost of a 3-predicate SELECT with ORDER BY and LIMIT: djogi cold / cache hit vs SQLAlchemy 2 Core.

Run with ``python -m benchmarks.bench_compile``. Prints microseconds per operation (best of several runs):

- djogi build: building the query value with combinators;
- djogi cold compile: rendering SQL and parameters with the shape cache bypassed;
- djogi cache hit: ``compile()`` of a new value whose shape is cached (walk + parameter extraction);
- SQLAlchemy build, compile (``stmt.compile(dialect=postgresql)``), and build + cache-key generation (the
  least a SQLAlchemy cache hit costs; the key is memoised per statement object, so a fresh one is built).
"""

from __future__ import annotations

import datetime as dt
import timeit
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from djogi import Field, Model, field
from djogi.algebra import compile as compiler

N = 20_000


class BenchBook(Model, table="bench_compile_books"):
    title: Field[str]
    price: Field[Decimal] = field(default=Decimal("0"))
    rating: Field[int] = field(default=0)


def djogi_query(title: str, price: int, rating: int) -> Any:
    return (
        BenchBook.objects.filter(BenchBook.title == title, BenchBook.price < price, BenchBook.rating >= rating)
        .order_by(BenchBook.created_at.desc())
        .limit(20)
    )


def best(fn: Callable[[], object], number: int = N, repeat: int = 5) -> float:
    """Best-of-``repeat`` microseconds per call."""
    return min(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    q = djogi_query("Dune", 30, 4)
    compiler.compile(q)  # warm the shape
    other = djogi_query("Emma", 25, 3)
    results = {
        "djogi build": best(lambda: djogi_query("Emma", 25, 3)),
        "djogi cold compile": best(lambda: compiler._cold(other)),
        "djogi cache hit": best(lambda: compiler.compile(other)),
        "djogi build + cache hit": best(lambda: compiler.compile(djogi_query("Emma", 25, 3))),
    }
    try:
        import sqlalchemy as sa
        from sqlalchemy.dialects import postgresql
    except ImportError:  # pragma: no cover - the bench extra is not installed
        print("sqlalchemy not installed (pip install 'djogi[bench]'): djogi figures only")
    else:
        md = sa.MetaData()
        t = sa.Table(
            "bench_compile_books", md, sa.Column("id", sa.BigInteger, primary_key=True),
            sa.Column("created_at", sa.DateTime(timezone=True)), sa.Column("updated_at", sa.DateTime(timezone=True)),
            sa.Column("title", sa.Text), sa.Column("price", sa.Numeric), sa.Column("rating", sa.BigInteger),
        )  # fmt: skip
        dialect = postgresql.psycopg.dialect()

        def sa_query() -> Any:
            return (
                sa.select(t)
                .where(t.c.title == "Emma", t.c.price < Decimal(25), t.c.rating >= 3)
                .order_by(t.c.created_at.desc())
                .limit(20)
            )

        stmt = sa_query()
        results["SQLAlchemy build"] = best(sa_query)
        results["SQLAlchemy compile"] = best(lambda: stmt.compile(dialect=dialect), number=N // 10)
        results["SQLAlchemy build + cache key"] = best(lambda: sa_query()._generate_cache_key())
    width = max(map(len, results))
    print(f"3-predicate SELECT with ORDER BY + LIMIT ({dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC)")
    for name, us in results.items():
        print(f"  {name:<{width}}  {us:8.2f} µs")


if __name__ == "__main__":
    main()
