"""The transactional outbox: events delivered per second by djogi's workers against a plain ``FOR UPDATE SKIP
LOCKED`` loop in raw psycopg, and what an outbox-enabled write costs over the same write without one.

Run with ``python -m benchmarks.bench_events [--events N] [--writes N]`` (``make bench`` runs it after the key
workloads). The tables get exactly the DDL a migration of the models below runs (``outbox=True``: the
companion table and its capture triggers). Each pair alternates its two sides after one warm-up and reports
medians of ``REPEAT`` runs:

- delivery: ``N`` pending events drained by 1, 2 and 4 concurrent workers (tasks on one event loop, one
  connection each, a no-op async handler, batches of 100): ``djogi.events.Worker.drain`` (lease, attempt
  count, publish) against ``BEGIN; SELECT ... ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED; <handle>;
  UPDATE ... SET state = 'published'; COMMIT`` per batch;
- writes: ``N`` ``db.save(row, total=i)`` and ``N`` ``db.create(...)`` on the outbox model against the same
  model without an outbox (the capture trigger inserts one event per statement and notifies).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg

import djogi
from benchmarks.bench_keys import pair
from benchmarks.report import load_average, standalone, write_page
from djogi import Field, Model
from djogi.events import Event, Worker
from djogi.executor import Database, connect
from djogi.loop import loop_factory
from djogi.migrate.diff import diff
from djogi.migrate.project import project
from djogi.migrate.snapshot import EMPTY
from djogi.model import descriptor

RESULTS = Path(__file__).resolve().parent / "results"
EVENTS, WRITES, REPEAT, BATCH = 5_000, 1_000, 3, 100
WORKERS = (1, 2, 4)


class Evented(Model[djogi.Serial], table="bench_ev_orders", outbox=True):
    customer: Field[str]
    total: Field[int]


class Plain(Model[djogi.Serial], table="bench_ev_plain"):
    customer: Field[str]
    total: Field[int]


OUTBOX = "bench_ev_orders_outbox"
RESET = f"UPDATE {OUTBOX} SET state = 'pending', leased_until = NULL, retry_count = 0, published_at = NULL"
_CLAIM = f"SELECT id, row_id, action, payload FROM {OUTBOX} WHERE state = 'pending' ORDER BY id LIMIT %s FOR UPDATE " \
         "SKIP LOCKED"  # fmt: skip
_ACK = f"UPDATE {OUTBOX} SET state = 'published', published_at = now() WHERE id = ANY(%s)"


def _prepare(admin: psycopg.Connection, events: int) -> None:
    admin.execute(f"DROP TABLE IF EXISTS bench_ev_orders, bench_ev_plain, {OUTBOX} CASCADE".encode())
    admin.execute(b"DROP FUNCTION IF EXISTS bench_ev_orders_outbox_capture()")
    plan = diff(EMPTY, project([descriptor(Evented), descriptor(Plain)], "main", None).unwrap()).unwrap()
    for step in plan.steps:
        admin.execute(step.up.encode())
    fill = f"INSERT INTO bench_ev_orders (customer, total) SELECT 'c' || g, g FROM generate_series(1, {events}) g"
    admin.execute(fill.encode())
    admin.execute(f"ANALYZE {OUTBOX}".encode())


async def _handle(event: Event | tuple[Any, ...]) -> None:
    await anyio.sleep(0)


async def _djogi_drain(db: Database, workers: int) -> None:
    running = [Worker(db, {Evented: _handle}, batch_size=BATCH, listen=False) for _ in range(workers)]
    async with anyio.create_task_group() as tg:
        for w in running:
            tg.start_soon(w.drain)


async def _raw_loop(conn: psycopg.AsyncConnection[Any]) -> None:
    while True:
        async with conn.transaction():
            rows = await (await conn.execute(_CLAIM, (BATCH,))).fetchall()
            if not rows:
                return
            for row in rows:
                await _handle(row)
            await conn.execute(_ACK, ([r[0] for r in rows],))


async def _raw_drain(conns: list[psycopg.AsyncConnection[Any]]) -> None:
    async with anyio.create_task_group() as tg:
        for conn in conns:
            tg.start_soon(_raw_loop, conn)


def delivery(url: str, events: int, repeat: int) -> list[tuple[int, float, float]]:
    """(workers, djogi seconds, raw seconds) to drain ``events`` events."""
    out = []
    with asyncio.Runner(loop_factory=loop_factory()) as runner, psycopg.connect(url, autocommit=True) as admin:
        stack = contextlib.AsyncExitStack()
        db = runner.run(stack.enter_async_context(connect(url, min_size=1, max_size=max(WORKERS) + 1)))
        conns = [runner.run(psycopg.AsyncConnection.connect(url, autocommit=True)) for _ in range(max(WORKERS))]
        try:
            def reset() -> None:
                admin.execute(RESET.encode())
                admin.execute(f"VACUUM {OUTBOX}".encode())

            for n in WORKERS:
                ours, base = pair(lambda n=n: runner.run(_djogi_drain(db, n)),  # type: ignore[misc]
                                  lambda n=n: runner.run(_raw_drain(conns[:n])), repeat, setup=reset)  # type: ignore[misc]
                out.append((n, ours, base))
            left = admin.execute(f"SELECT count(*) FROM {OUTBOX} WHERE state <> 'published'".encode()).fetchone()
            assert left == (0,), left
        finally:
            for conn in conns:
                runner.run(conn.close())
            runner.run(stack.aclose())
    return out


async def _saves(db: Database, model: type[Evented] | type[Plain], writes: int) -> None:
    row: Any = await db.get(model, 1)
    for i in range(writes):
        row = await db.save(row, total=i)


async def _creates(db: Database, model: type[Evented] | type[Plain], writes: int) -> None:
    for i in range(writes):
        await db.create(model(customer="x", total=i))


def overhead(url: str, writes: int, repeat: int) -> list[tuple[str, float, float]]:
    """(label, outbox seconds, plain seconds) for ``writes`` saves and ``writes`` creates."""
    out = []
    with asyncio.Runner(loop_factory=loop_factory()) as runner, psycopg.connect(url, autocommit=True) as admin:
        admin.execute(b"INSERT INTO bench_ev_plain (customer, total) VALUES ('c1', 1)")
        stack = contextlib.AsyncExitStack()
        db = runner.run(stack.enter_async_context(connect(url, min_size=1, max_size=2)))
        try:
            work: list[tuple[str, Callable[..., Any]]] = [("db.save(row, total=i)", _saves),
                                                          ("db.create(row)", _creates)]  # fmt: skip
            for label, fn in work:
                ours, base = pair(lambda fn=fn: runner.run(fn(db, Evented, writes)),  # type: ignore[misc]
                                  lambda fn=fn: runner.run(fn(db, Plain, writes)), repeat)  # type: ignore[misc]
                out.append((label, ours, base))
        finally:
            runner.run(stack.aclose())
    return out


def run(url: str, events: int, writes: int, repeat: int = REPEAT, out: Path = RESULTS) -> str:
    """Run both workloads against ``url`` (an owner's URL); the Markdown page (also ``out/events.md``)."""
    with psycopg.connect(url, autocommit=True) as admin:
        _prepare(admin, events)
    load_before = load_average()
    rates = delivery(url, events, repeat)
    costs = overhead(url, writes, repeat)
    load_after = load_average()
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP TABLE bench_ev_orders, bench_ev_plain, {OUTBOX}".encode())
        admin.execute(b"DROP FUNCTION bench_ev_orders_outbox_capture()")
    lines = ["| workers | djogi Worker events/s | raw SKIP LOCKED loop events/s | ratio (djogi / raw throughput) |",
             "|---:|---:|---:|---:|"]
    for n, ours, base in rates:
        lines.append(f"| {n} | {events / ours:,.0f} | {events / base:,.0f} | {base / ours:.2f}x |")
    lines += ["", "| write | outbox model µs/op | plain model µs/op | ratio (outbox / plain time) |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for label, ours, base in costs:
        lines.append(f"| {label} | {ours / writes * 1e6:.0f} | {base / writes * 1e6:.0f} | {ours / base:.2f}x |")
    text = (f"Transactional outbox: {events} events drained by 1, 2 and 4 workers (no-op handler, batches of {BATCH}); "
            f"{writes} saves and creates with and without `outbox=True`; medians of {repeat} alternating runs. Load "
            f"average {load_before} before, {load_after} after ({os.cpu_count()} cores).\n\n" + "\n".join(lines) + "\n")
    return write_page(out, "events.md", text)


def main() -> None:
    options = {"events": (EVENTS, "events drained per timed run"), "writes": (WRITES, "writes per timed run"),
               "repeat": (REPEAT, "timed runs of each side")}  # fmt: skip
    standalone(__doc__ or "", run, options)


if __name__ == "__main__":
    main()
