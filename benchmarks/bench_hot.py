"""Hot-path benchmark: prepared queries (named parameters) and pipelining, against raw psycopg in one run.

Run with ``python -m benchmarks.bench_hot [--repeat R]`` (``make bench`` runs it on the data it loaded;
alone it loads the data first). On the event loop ``djogi.run`` uses (uvloop where installed), every cell
runs once untimed, then the cells take turns, ``R`` timed runs each; the table gives the median µs per
query and the ratio to raw psycopg async measured in the same run. Results go to ``results/hot.md``.

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
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from functools import partial
from pathlib import Path
from typing import Any

import psycopg

from benchmarks import schema
from benchmarks.djogi_side import Item
from benchmarks.peers import psycopg_async
from benchmarks.report import load_average, standalone, write_page
from djogi import param
from djogi.executor import Database, connect
from djogi.loop import loop_factory

RESULTS = Path(__file__).resolve().parent / "results"
REPEAT = 5
BATCH = 10
N_BATCHES = 200

Fn = Callable[[Any], Awaitable[int]]


def _filter_query(floor: object, qty: object) -> Any:
    return (Item.objects.where(Item.id > floor, Item.qty > qty, Item.active == True)  # noqa: E712
            .order_by(Item.id).limit(schema.FILTER_LIMIT))  # fmt: skip


def raw_cells(conn: psycopg.AsyncConnection[Any]) -> dict[tuple[str, str], Fn]:
    """The raw psycopg async side: prepared statements, binary results, tuples (the peer's own workloads)."""

    get = partial(psycopg_async.get_by_pk, conn)  # the peer's coroutines themselves: no wrapper frame timed
    filtered = partial(psycopg_async.filtered, conn)

    async def sequential(batches: Sequence[Sequence[int]]) -> int:
        return sum([await get(batch) for batch in batches])

    async def pipelined(batches: Sequence[Sequence[int]]) -> int:
        found = 0
        for batch in batches:
            cursors = [conn.cursor(binary=True) for _ in batch]
            async with conn.pipeline():
                for cur, pk in zip(cursors, batch, strict=True):
                    await cur.execute(schema.GET_SQL, (pk,), prepare=True)
            for cur in cursors:
                found += await cur.fetchone() is not None
        return found

    return {("get", "raw"): get, ("filtered", "raw"): filtered,
            ("ten", "raw sequential"): sequential, ("ten", "raw pipelined"): pipelined}  # fmt: skip


def djogi_cells(db: Database) -> dict[tuple[str, str], Fn]:
    """djogi's side: the normal terminals, a prepared query, and ``db.pipeline()``."""
    by_pk = db.prepare(Item.objects.where(Item.id == param("pk")))
    window = db.prepare(_filter_query(param("floor"), param("qty")))

    async def get(ids: Sequence[int]) -> int:
        for pk in ids:
            await db.get(Item, pk)
        return len(ids)

    async def get_prepared(ids: Sequence[int]) -> int:
        run = by_pk.all
        return sum([len(await run(pk=pk)) for pk in ids])

    async def filtered(params: Sequence[tuple[int, int]]) -> int:
        return sum([len(await db.all(_filter_query(floor, qty))) for floor, qty in params])

    async def filtered_prepared(params: Sequence[tuple[int, int]]) -> int:
        run = window.all
        return sum([len(await run(floor=floor, qty=qty)) for floor, qty in params])

    async def sequential(batches: Sequence[Sequence[int]]) -> int:
        return sum([await get(batch) for batch in batches])

    async def pipelined(batches: Sequence[Sequence[int]]) -> int:
        found = 0
        for batch in batches:
            async with db.pipeline() as p:
                pending = [p.get(Item, pk) for pk in batch]
            found += sum(1 for x in pending if x.value is not None)
        return found

    return {("get", "djogi"): get, ("get", "djogi prepared"): get_prepared, ("filtered", "djogi"): filtered,
            ("filtered", "djogi prepared"): filtered_prepared,
            ("ten", "djogi sequential"): sequential, ("ten", "djogi pipelined"): pipelined}  # fmt: skip


async def _measure(url: str, repeat: int) -> dict[tuple[str, str], list[float]]:
    ids = schema.lookup_ids()
    args: dict[str, object] = {
        "get": ids, "filtered": schema.filter_params(),
        "ten": [ids[i : i + BATCH] for i in range(0, BATCH * N_BATCHES, BATCH)],
    }  # fmt: skip
    async with AsyncExitStack() as stack:
        raw = await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor)
        stack.push_async_callback(raw.close)
        db = await stack.enter_async_context(connect(url, min_size=1, max_size=2))
        cells = {**raw_cells(raw), **djogi_cells(db)}
        for (workload, _), fn in cells.items():
            await fn(args[workload])  # untimed: prepares statements, fills caches
        times: dict[tuple[str, str], list[float]] = {key: [] for key in cells}
        for r in range(repeat):
            order = list(cells.items())
            for key, fn in order if r % 2 == 0 else order[::-1]:
                started = time.perf_counter()
                await fn(args[key[0]])
                times[key].append(time.perf_counter() - started)
    return times


OPS = {"get": schema.N_LOOKUPS, "filtered": schema.N_LOOKUPS, "ten": BATCH * N_BATCHES}
TITLES = {"get": "(b) get by pk", "filtered": "(c) filter+order+limit", "ten": "10 gets per batch"}


def run(url: str, repeat: int = REPEAT, out: Path = RESULTS) -> str:
    """Measure every cell against ``url`` (data loaded); the Markdown table (also ``out/hot.md``)."""
    load_before = load_average()
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        times = runner.run(_measure(url, repeat))
    load_after = load_average()
    us = {key: statistics.median(t) / OPS[key[0]] * 1e6 for key, t in times.items()}
    base = {"get": us[("get", "raw")], "filtered": us[("filtered", "raw")], "ten": us[("ten", "raw sequential")]}
    lines = ["| workload | side | µs per query | ratio to raw psycopg |", "|---|---|---:|---:|"]
    for (workload, side), value in sorted(us.items(), key=lambda item: list(OPS).index(item[0][0])):
        lines.append(f"| {TITLES[workload]} | {side} | {value:.1f} | {value / base[workload]:.2f}x |")
    djogi_gain = us[("ten", "djogi sequential")] / us[("ten", "djogi pipelined")]
    raw_gain = us[("ten", "raw sequential")] / us[("ten", "raw pipelined")]
    text = (f"Medians of {repeat} interleaved runs; ratios to raw psycopg async in the same run (for the batches: "
            f"to raw sequential). Load average {load_before} before, {load_after} after ({os.cpu_count()} cores, "
            "shared with other work).\n\n" + "\n".join(lines) + "\n\n"
            f"- pipelining 10 gets: djogi {djogi_gain:.2f}x faster than one after another (raw psycopg "
            f"{raw_gain:.2f}x)\n")  # fmt: skip
    return write_page(out, "hot.md", text)


def main() -> None:
    standalone(__doc__ or "", run, {"repeat": (REPEAT, "timed runs of each cell")}, load=True)


if __name__ == "__main__":
    main()
