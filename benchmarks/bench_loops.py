"""Event-loop benchmark: (b) get by pk and (c) filter+order+limit for raw psycopg async, asyncpg and djogi
(built on every call, and prepared: ``djogi_prepared``), each under asyncio's default loop and under uvloop, so
a figure separates the loop's cost from djogi's.

Run with ``python -m benchmarks.bench_loops [--repeat R]`` (``make bench`` runs it last, on the data it
loaded; alone it loads the data first). Every (peer, loop) cell runs once untimed, then the cells take
turns, ``R`` timed runs each; the table gives the median µs per query, raw psycopg sync as the floor.
The client CPU columns are this process's CPU time per query (``time.process_time``): the client's own work
without the server's or the wait, steadier than wall time on a shared machine. Results go to
``results/loops.md``.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import schema
from benchmarks.peers import NotAvailable
from benchmarks.report import load_average, standalone, write_page

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = ("benchmarks.peers.psycopg_async", "benchmarks.peers.asyncpg_raw", "benchmarks.djogi_side",
         "benchmarks.djogi_prepared")
FLOOR = "benchmarks.peers.psycopg_sync"
REPEAT = 5


def _loops() -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    loops: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {"asyncio": asyncio.new_event_loop}
    try:
        import uvloop
    except ImportError:
        return loops
    loops["uvloop"] = uvloop.new_event_loop
    return loops


class Cell:
    """One peer connected on one loop; ``run(fn, arg)`` times one call of the peer's workload function."""

    def __init__(self, module: ModuleType, runner: asyncio.Runner | None, url: str) -> None:
        self.module, self.runner = module, runner
        self.state = self._call(module.connect, url)
        self.times: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}  # this process's CPU time (the client's own work, not the server's)

    def _call(self, fn: Callable[..., Any], *args: object) -> Any:
        if inspect.iscoroutinefunction(fn):
            assert self.runner is not None
            return self.runner.run(fn(*args))
        return fn(*args)

    def run(self, workload: str, arg: object, timed: bool = True) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        self._call(getattr(self.module, workload), self.state, arg)
        if timed:
            self.times.setdefault(workload, []).append(time.perf_counter() - started)
            self.cpu.setdefault(workload, []).append(time.process_time() - cpu)

    def close(self) -> None:
        if hasattr(self.module, "close"):
            self._call(self.module.close, self.state)


def run(url: str, repeat: int = REPEAT, out: Path = RESULTS) -> str:
    """Measure every cell against ``url`` (data loaded); the Markdown table (also ``out/loops.md``)."""
    workloads = {"get_by_pk": schema.lookup_ids(), "filtered": schema.filter_params()}
    runners = {name: asyncio.Runner(loop_factory=factory) for name, factory in _loops().items()}
    cells: dict[tuple[str, str], Cell] = {}
    skipped: list[str] = []
    load_before = load_average()
    try:
        floor = Cell(importlib.import_module(FLOOR), None, url)
        cells[("psycopg-sync", "-")] = floor
        for module_name in PEERS:
            try:
                module = importlib.import_module(module_name)
            except NotAvailable as e:
                skipped.append(f"{module_name}: {e}")
                continue
            for loop, runner in runners.items():
                cells[(module.NAME, loop)] = Cell(module, runner, url)
        for workload, arg in workloads.items():
            for cell in cells.values():
                cell.run(workload, arg, timed=False)
        for _ in range(repeat):
            for workload, arg in workloads.items():
                for cell in cells.values():
                    cell.run(workload, arg)
        for cell in cells.values():
            cell.close()
    finally:
        for runner in runners.values():
            runner.close()
    load_after = load_average()
    n = schema.N_LOOKUPS
    us = {(key, w): statistics.median(cell.times[w]) / n * 1e6 for key, cell in cells.items() for w in workloads}
    cpu = {(key, w): statistics.median(cell.cpu[w]) / n * 1e6 for key, cell in cells.items() for w in workloads}
    lines = ["| peer | loop | (b) get by pk, µs/query | (b) client CPU µs | (c) filter+order+limit, µs/query "
             "| (c) client CPU µs |", "|---|---|---:|---:|---:|---:|"]  # fmt: skip
    for key in cells:
        lines.append(f"| {key[0]} | {key[1]} | {us[(key, 'get_by_pk')]:.1f} | {cpu[(key, 'get_by_pk')]:.1f} "
                     f"| {us[(key, 'filtered')]:.1f} | {cpu[(key, 'filtered')]:.1f} |")  # fmt: skip
    extra = []
    for ours in ("djogi", "djogi prepared"):
        for loop in runners:
            if (ours, loop) in cells and ("psycopg-async", loop) in cells:
                b, c = (us[((ours, loop), w)] - us[(("psycopg-async", loop), w)] for w in workloads)
                bc, cc = (cpu[((ours, loop), w)] - cpu[(("psycopg-async", loop), w)] for w in workloads)
                extra.append(f"- {ours} over raw psycopg async under {loop}: (b) {b:+.1f} µs, (c) {c:+.1f} µs per "
                             f"query; client CPU (b) {bc:+.1f} µs, (c) {cc:+.1f} µs")  # fmt: skip
        if (ours, "uvloop") in cells:
            b, c = (us[((ours, "uvloop"), w)] / us[(("psycopg-sync", "-"), w)] for w in workloads)
            extra.append(f"- {ours} under uvloop to psycopg sync: (b) {b:.2f}x, (c) {c:.2f}x")
    for peer in ("psycopg-async", "djogi"):
        if (peer, "asyncio") in cells and (peer, "uvloop") in cells:
            b, c = (us[((peer, "asyncio"), w)] - us[((peer, "uvloop"), w)] for w in workloads)
            extra.append(f"- asyncio's loop over uvloop for {peer}: (b) {b:+.1f} µs, (c) {c:+.1f} µs per query")
    text = (f"Medians of {repeat} interleaved runs of {n:,} queries each. Load average {load_before} before, "
            f"{load_after} after ({os.cpu_count()} cores).\n\n" + "\n".join(lines) + "\n\n" + "\n".join(extra)
            + "".join(f"\n- not run: {s}" for s in skipped) + "\n")
    return write_page(out, "loops.md", text)


def main() -> None:
    standalone(__doc__ or "", run, {"repeat": (REPEAT, "timed runs of each cell")}, load=True)


if __name__ == "__main__":
    main()
