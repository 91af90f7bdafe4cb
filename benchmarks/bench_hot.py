"""Hot-path benchmark: prepared queries (named parameters) and pipelining, against raw psycopg in one run.

Run with ``python -m benchmarks.bench_hot [--repeat R]`` (``make bench`` runs it on the data it loaded;
alone it loads the data first). On the event loop ``djogi.run`` uses (uvloop where installed), the sides
of each workload take turns call by call (``harness.interleaved``: an untimed pass, then ``R`` rounds in
which every side runs call ``i`` before any runs call ``i + 1``); the table gives the median µs per query
of the single calls, the ratio to raw psycopg async and the difference from it, measured in the same run.
Results go to ``results/hot.md``.

- (b) get by pk, 2,000 lookups: raw prepared ``SELECT ... WHERE id = $1``; ``db.get(Item, pk)``;
  ``db.prepare(Item.objects.where(Item.id == param("pk"))).all(pk=pk)``.
- (c) filter+order+limit, 2,000 queries: raw prepared; ``db.all(<query built per call>)``;
  ``db.prepare(<query with param("floor"), param("qty")>).all(floor=..., qty=...)``.
- 10 small queries (get by pk), 200 batches: one after another against one pipeline (raw: psycopg's
  ``conn.pipeline()`` with a cursor per query; djogi: ``db.pipeline()`` with ``p.get``). On a local server a
  round trip is short, so the gain here is a floor of what a network gives.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from benchmarks import schema
from benchmarks.djogi_side import PREPARED_FILTER, PREPARED_GET, Item, _filter_query
from benchmarks.harness import Timing, interleaved
from benchmarks.report import load_average, standalone, write_page
from djogi.executor import Database, connect
from djogi.loop import loop_factory

RESULTS = Path(__file__).resolve().parent / "results"
REPEAT = 5
BATCH = 10
CALLS = {"get": schema.N_LOOKUPS, "filtered": schema.N_LOOKUPS, "ten": 200}  # calls of each workload per round

Cell = tuple[str, str]  # (workload, side)
Call = Callable[[int], Awaitable[int]]


def raw_cells(cur: psycopg.AsyncCursor[Any], args: Args) -> dict[Cell, Call]:
    """The raw psycopg async side on one kept cursor: prepared statements, binary results, tuples (the peer's
    SQL, ``schema.GET_SQL`` and ``schema.FILTER_SQL``)."""
    ids, params, batches = args.ids, args.params, args.batches

    async def get(i: int) -> int:
        await cur.execute(schema.GET_SQL, (ids[i],), prepare=True)
        return await cur.fetchone() is not None

    async def filtered(i: int) -> int:
        await cur.execute(schema.FILTER_SQL, params[i], prepare=True)
        return len(await cur.fetchall())

    async def sequential(i: int) -> int:
        return sum([await get(j) for j in batches[i]])

    async def pipelined(i: int) -> int:
        cursors = [cur.connection.cursor(binary=True) for _ in batches[i]]
        async with cur.connection.pipeline():
            for each, j in zip(cursors, batches[i], strict=True):
                await each.execute(schema.GET_SQL, (ids[j],), prepare=True)
        return sum([await each.fetchone() is not None for each in cursors])

    return {("get", "raw"): get, ("filtered", "raw"): filtered,
            ("ten", "raw sequential"): sequential, ("ten", "raw pipelined"): pipelined}  # fmt: skip


def djogi_cells(db: Database, db_prepared: Database, args: Args) -> dict[Cell, Call]:
    """djogi's side: the normal terminals and ``db.pipeline()`` on ``db``, the prepared queries on
    ``db_prepared`` (a pool of its own: see ``_measure``)."""
    ids, params, batches = args.ids, args.params, args.batches
    by_pk = db_prepared.prepare(PREPARED_GET)
    window = db_prepared.prepare(PREPARED_FILTER)

    async def get(i: int) -> int:
        return await db.get(Item, ids[i]) is not None

    async def get_prepared(i: int) -> int:
        return len(await by_pk.all(pk=ids[i]))

    async def filtered(i: int) -> int:
        floor, qty = params[i]
        return len(await db.all(_filter_query(floor, qty)))

    async def filtered_prepared(i: int) -> int:
        floor, qty = params[i]
        return len(await window.all(floor=floor, qty=qty))

    async def sequential(i: int) -> int:
        return sum([await get(j) for j in batches[i]])

    async def pipelined(i: int) -> int:
        async with db.pipeline() as p:
            pending = [p.get(Item, ids[j]) for j in batches[i]]
        return sum(1 for x in pending if x.value is not None)

    return {("get", "djogi"): get, ("get", "djogi prepared"): get_prepared, ("filtered", "djogi"): filtered,
            ("filtered", "djogi prepared"): filtered_prepared,
            ("ten", "djogi sequential"): sequential, ("ten", "djogi pipelined"): pipelined}  # fmt: skip


class Args(NamedTuple):
    """Every cell's arguments by call index: the keys to get, the filter's values, batches of key indexes."""

    ids: list[int]
    params: list[tuple[int, int]]
    batches: list[range]


async def _measure(url: str, repeat: int) -> dict[Cell, Timing]:
    batches = [range(i, i + BATCH) for i in range(0, CALLS["ten"] * BATCH, BATCH)]
    args = Args(schema.lookup_ids(), schema.filter_params(), batches)
    async with AsyncExitStack() as stack:
        raw = await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor)
        stack.push_async_callback(raw.close)
        cur = await stack.enter_async_context(raw.cursor(binary=True))
        # Each side of a workload on a server backend of its own: a statement sent to the backend that has
        # just answered the previous call waits for that backend's work after its answer, which a side
        # taking its turn after another backend's call does not.
        db = await stack.enter_async_context(connect(url, min_size=1, max_size=1))
        db_prepared = await stack.enter_async_context(connect(url, min_size=1, max_size=1))
        cells = {**raw_cells(cur, args), **djogi_cells(db, db_prepared, args)}
        timings: dict[Cell, Timing] = {}
        for workload, calls in CALLS.items():
            sides = {key: fn for key, fn in cells.items() if key[0] == workload}
            timings.update(await interleaved(sides, calls, repeat))
    return timings


TITLES = {"get": "(b) get by pk", "filtered": "(c) filter+order+limit", "ten": "10 gets per batch"}


def run(url: str, repeat: int = REPEAT, out: Path = RESULTS) -> str:
    """Measure every cell against ``url`` (data loaded); the Markdown table (also ``out/hot.md``)."""
    load_before = load_average()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        timings = runner.run(_measure(url, repeat))
    load_after = load_average()
    per = {"get": 1, "filtered": 1, "ten": BATCH}  # queries per call
    us = {key: t.median / per[key[0]] * 1e6 for key, t in timings.items()}
    base = {"get": us[("get", "raw")], "filtered": us[("filtered", "raw")], "ten": us[("ten", "raw sequential")]}
    lines = ["| workload | side | µs per query (median) | ratio to raw psycopg | over raw, µs |",
             "|---|---|---:|---:|---:|"]
    for (workload, side), value in us.items():
        lines.append(f"| {TITLES[workload]} | {side} | {value:.1f} | {value / base[workload]:.2f}x | "
                     f"{value - base[workload]:+.1f} |")  # fmt: skip
    djogi_gain = us[("ten", "djogi sequential")] / us[("ten", "djogi pipelined")]
    raw_gain = us[("ten", "raw sequential")] / us[("ten", "raw pipelined")]
    text = (f"{CALLS['get']:,} gets, {CALLS['filtered']:,} filtered queries and {CALLS['ten']} batches of {BATCH} "
            f"gets, each call run by every side of its workload in turn ({repeat} rounds after an untimed one); the "
            "median of the single calls, and ratios to raw psycopg async in the same run (for the batches: to raw "
            f"sequential). Load average {load_before} before, {load_after} after ({os.cpu_count()} cores, shared "
            "with other work).\n\n" + "\n".join(lines) + "\n\n"
            f"- pipelining 10 gets: djogi {djogi_gain:.2f}x faster than one after another (raw psycopg "
            f"{raw_gain:.2f}x)\n")  # fmt: skip
    return write_page(out, "hot.md", text)


def main() -> None:
    standalone(__doc__ or "", run, {"repeat": (REPEAT, "timed rounds of every call")}, load=True)


if __name__ == "__main__":
    main()
