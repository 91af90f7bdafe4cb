"""Where the time of (b) get by pk and (c) filter+order+limit goes: each workload run under cProfile, for
raw psycopg async and for djogi (the normal terminal and the prepared query), its time grouped by layer.

Run with ``python -m benchmarks.profile_paths [--queries N]`` on the event loop ``djogi.run`` uses (it loads
the benchmark data when the table is missing). cProfile counts every Python call, which inflates Python
against C (the driver's C parts, the loop, the kernel); shares, not absolute times, are what it gives, and
the waits (``event loop: waiting``) include the server's time. ``--sort`` prints the top functions too.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg

from benchmarks import schema
from benchmarks.djogi_side import PREPARED_FILTER, PREPARED_GET, Item, _filter_query
from djogi.executor import connect
from djogi.loop import loop_factory

WIRE = "wire and server: send, wait, the loop's C code"
# (layer, test on "file:function"), first match wins; the order matters. libpq's send shows as psycopg's
# ``_send_query_*`` (a write that wakes the server, which on a busy machine takes the CPU at once) and the
# waits inside uvloop's C loop as ``asyncio.run``'s own time: both are the round trip, not client work.
LAYERS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    (WIRE, lambda k: any(w in k for w in ("_send_query", "runners.py:run", "epoll", "select.select"))),
    ("djogi: row decoding (codecs, rows)", lambda k: "djogi/codecs/" in k or "djogi/executor/rows.py" in k
     or "row decoder" in k),
    ("djogi: build the query value (algebra, model columns)", lambda k: ("djogi/algebra/" in k or "djogi/model.py" in k)
     and not any(m in k for m in ("compile.py", "render.py", "template.py", "traverse.py"))),
    ("djogi: compile (shape walk, cache lookup)", lambda k: any(
        f"djogi/algebra/{m}" in k for m in ("compile.py", "render.py", "traverse.py"))),
    ("djogi: prepared run (check and bind values)", lambda k: "djogi/algebra/template.py" in k
     or "djogi/executor/prepared.py" in k),
    ("djogi: executor (Database, Session, Pool)", lambda k: "djogi/executor/" in k),
    ("psycopg: Python side (cursor, waiting, prepare cache)", lambda k: "psycopg" in k),
    ("event loop: Python side (asyncio, anyio)", lambda k: any(
        w in k for w in ("asyncio", "anyio", "selectors", "contextvars", "Future"))),
)  # fmt: skip
OTHER = "other (the workload's own loop, builtins)"


def layer_of(key: str) -> str:
    return next((name for name, test in LAYERS if test(key)), OTHER)


class Shares:
    """Own time and Python calls per layer of one profile: ``time`` as fractions of the total, ``client``
    as fractions of the time outside ``WIRE`` (the client's own work), ``calls`` per query."""

    def __init__(self, stats: pstats.Stats, queries: int) -> None:
        raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
        own: dict[str, float] = {}
        calls: dict[str, float] = {}
        for (filename, _line, func), (_cc, nc, tottime, _ct, _callers) in raw.items():
            name = layer_of(f"{filename}:{func}")
            own[name] = own.get(name, 0.0) + tottime
            calls[name] = calls.get(name, 0.0) + nc / queries
        total = sum(own.values()) or 1.0
        client = (total - own.get(WIRE, 0.0)) or 1.0
        self.time = {k: v / total for k, v in own.items()}
        self.client = {k: v / client for k, v in own.items() if k != WIRE}
        self.calls = calls


async def _workloads(url: str, n: int) -> dict[str, Callable[[], Awaitable[None]]]:
    ids = schema.lookup_ids(n)
    params = schema.filter_params(n)
    raw = await psycopg.AsyncConnection.connect(url, autocommit=True, cursor_factory=psycopg.AsyncRawCursor)
    stack = connect(url, min_size=1, max_size=2)
    db = await stack.__aenter__()
    by_pk = db.prepare(PREPARED_GET)
    window = db.prepare(PREPARED_FILTER)

    async def raw_get() -> None:
        async with raw.cursor(binary=True) as cur:
            for pk in ids:
                await cur.execute(schema.GET_SQL, (pk,), prepare=True)
                await cur.fetchone()

    async def raw_filtered() -> None:
        async with raw.cursor(binary=True) as cur:
            for floor, qty in params:
                await cur.execute(schema.FILTER_SQL, (floor, qty), prepare=True)
                await cur.fetchall()

    async def djogi_get() -> None:
        for pk in ids:
            await db.get(Item, pk)

    async def djogi_filtered() -> None:
        for floor, qty in params:
            await db.all(_filter_query(floor, qty))

    async def prepared_get() -> None:
        for pk in ids:
            await by_pk.all(pk=pk)

    async def prepared_filtered() -> None:
        for floor, qty in params:
            await window.all(floor=floor, qty=qty)

    async def close() -> None:
        await raw.close()
        await stack.__aexit__(None, None, None)

    return {"(b) raw psycopg": raw_get, "(b) djogi db.get": djogi_get, "(b) djogi prepared": prepared_get,
            "(c) raw psycopg": raw_filtered, "(c) djogi db.all": djogi_filtered,
            "(c) djogi prepared": prepared_filtered, "close": close}  # fmt: skip


def profile(url: str, n: int, top: int) -> dict[str, Shares]:
    """Each workload once untimed, then once under cProfile; its shares (and top functions printed)."""
    out: dict[str, Shares] = {}
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        work = runner.run(_workloads(url, n))
        close = work.pop("close")
        for name, fn in work.items():
            runner.run(fn())
            prof = cProfile.Profile()
            prof.enable()
            runner.run(fn())
            prof.disable()
            stats = pstats.Stats(prof)
            out[name] = Shares(stats, n)
            if top:
                print(f"=== {name}")
                stats.sort_stats("tottime").print_stats(top)
        runner.run(close())
    return out


def table(result: dict[str, Shares]) -> str:
    """Three Markdown tables: share of all time, share of the client's own work, Python calls per query."""
    names = list(result)
    order = [name for name, _ in LAYERS] + [OTHER]
    head = ["| layer | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    parts = []
    for title, pick, fmt in (
        ("Share of the profiled time", lambda s: s.time, lambda v: f"{v * 100:.0f}%"),
        ("Share of the client's own work (the time outside the first row)", lambda s: s.client,
         lambda v: f"{v * 100:.0f}%"),
        ("Python function calls per query (deterministic)", lambda s: s.calls, lambda v: f"{v:.0f}"),
    ):  # fmt: skip
        rows = [f"| {layer} | " + " | ".join(fmt(pick(result[n]).get(layer, 0.0)) for n in names) + " |"
                for layer in order if any(layer in pick(result[n]) for n in names)]  # fmt: skip
        parts.append(f"{title}:\n\n" + "\n".join(head + rows))
    return "\n\n".join(parts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=schema.N_LOOKUPS, help="queries per workload")
    parser.add_argument("--top", type=int, default=0, help="also print the N functions with the most own time")
    args = parser.parse_args(argv)
    url, _facts, cleanup = schema.open_database()
    try:
        with psycopg.connect(url, autocommit=True) as admin:
            if admin.execute("SELECT to_regclass(%s)", (schema.ITEMS,)).fetchone() in (None, (None,)):
                schema.load(admin)
        print(table(profile(url, args.queries, args.top)))
    finally:
        cleanup()


if __name__ == "__main__":
    main()
