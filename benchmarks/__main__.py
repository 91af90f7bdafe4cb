"""``python -m benchmarks``: start (or reuse) the server, load the data, run every workload for every peer,
write ``benchmarks/results/latest.{json,md}`` and ``ratios.png``, and print the ratio table; then the key
workloads (``benchmarks.bench_keys``: HeeRanjID keys against identity keys, ``bulk_create`` against raw
allocation + COPY, and the default key's cost part by part, ``results/keys.md``),
(b)/(c) under asyncio and uvloop (``benchmarks.bench_loops``, ``results/loops.md``), prepared queries and
pipelining (``benchmarks.bench_hot``, ``results/hot.md``), cascading deletes with and without the
foreign-key index (``benchmarks.bench_fk``, ``results/fk.md``), the row-level security overhead
(``benchmarks.bench_tenancy``, ``results/tenancy.md``), the transactional outbox's delivery rate and write
overhead (``benchmarks.bench_events``, ``results/events.md``), the audit trail's write overhead
(``benchmarks.bench_audit``, ``results/audit.md``) and the search queries against raw psycopg
(``benchmarks.bench_search``, ``results/search.md``).

Workloads run one after another, and within a workload every peer runs back to back, so each ratio
compares figures taken minutes apart at most. Each cell first runs once untimed and checks the row
counts it returns; then it is measured (warm-up runs, then timed repetitions).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib
import inspect
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import psycopg

from benchmarks import (
    bench_audit,
    bench_events,
    bench_fk,
    bench_hot,
    bench_keys,
    bench_loops,
    bench_search,
    bench_tenancy,
    schema,
)
from benchmarks.harness import (
    Cell,
    Report,
    Status,
    Timing,
    WorkloadInfo,
    measure,
    measure_async,
    ratio_table,
    with_ratios,
    write_results,
)
from benchmarks.peers import PEERS, NotAvailable
from djogi.loop import loop_factory, loop_name

BASELINE = "psycopg-async"
PEER_MODULES = (*(f"benchmarks.peers.{p}" for p in PEERS[:3]), "benchmarks.djogi_side",
                *(f"benchmarks.peers.{p}" for p in PEERS[3:]))
RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
DOCS_START, DOCS_END = "<!-- latest-results:start -->", "<!-- latest-results:end -->"
CELL_BUDGET_S = 12.0  # timed repetitions are cut (never below 3) when one run is slow
RUN_BUDGET_S = 420.0  # past this, remaining cells get one timed run (noted), so a loaded machine stays < 10 min
COMPILE_COLD_N = 200
COMPILE_CACHED_N = 1_000


@dataclass(frozen=True)
class Plan:
    """How to run one workload: the peer function, its arguments, the expected count and the repetitions."""

    info: WorkloadInfo
    fn: str
    args: tuple[object, ...]
    expect: int | None
    warmup: int
    repeat: int
    setup: Callable[[], object] | None = None
    check: Callable[[], int] | None = None  # an extra count taken after a run, compared with ``expect``


def plans(admin: psycopg.Connection) -> list[Plan]:
    s = schema
    rows = s.item_rows()
    lo, hi = s.update_range()
    n_books = s.N_AUTHORS * s.BOOKS_PER_AUTHOR
    sel = "the filtered select of (c)"
    return [
        Plan(WorkloadInfo(key="fetch_1k", title="(a) fetch 1k rows",
                          description="SELECT 7 columns ORDER BY id LIMIT 1000 into objects"),
             "fetch", (s.FETCH_SMALL,), s.FETCH_SMALL, 3, 15),
        Plan(WorkloadInfo(key="fetch_100k", title="(a) fetch 100k rows",
                          description="the same with LIMIT 100000"),
             "fetch", (s.N_ITEMS,), s.N_ITEMS, 1, 7),
        Plan(WorkloadInfo(key="get_pk", title="(b) get by pk ×2,000", ops=s.N_LOOKUPS,
                          description="2,000 single-row lookups by distinct random primary keys"),
             "get_by_pk", (s.lookup_ids(),), s.N_LOOKUPS, 1, 5),
        Plan(WorkloadInfo(key="filtered", title="(c) filter+order+limit ×2,000", ops=s.N_LOOKUPS,
                          description="WHERE id > $1 AND qty > $2 AND active ORDER BY id LIMIT 10, 2,000 times"),
             "filtered", (s.filter_params(),), s.N_LOOKUPS * s.FILTER_LIMIT, 1, 5),
        Plan(WorkloadInfo(key="bulk_insert", title="(d) bulk insert 100k rows",
                          description="100,000 tuples -> rows, each library's fastest bulk path"),
             "bulk_insert", (rows,), s.N_ITEMS, 1, 5,
             setup=lambda: s.reset_insert_table(admin), check=lambda: s.count(admin, s.ITEMS_INSERT)),
        Plan(WorkloadInfo(key="bulk_keyed", title="(d2) bulk insert 100k rows, keys returned",
                          description="the same, each created row's key brought back to the caller"),
             "bulk_insert_keyed", (rows,), s.N_ITEMS, 1, 5,
             setup=lambda: s.reset_insert_table(admin), check=lambda: s.count(admin, s.ITEMS_INSERT)),
        Plan(WorkloadInfo(key="update", title="(e) update 10k rows by predicate",
                          description="UPDATE ... SET qty = qty + 1, updated_at = now() WHERE id BETWEEN 1 AND 10000"),
             "update", (lo, hi), hi - lo + 1, 1, 11, setup=lambda: s.vacuum(admin)),
        Plan(WorkloadInfo(key="prefetch", title="(f) 1k authors + books eager",
                          description="1,000 authors with their 10,000 books attached (to-many eager load)"),
             "authors_with_books", (), n_books, 2, 7),
        Plan(WorkloadInfo(key="compile_cold", title="(g) compile, cold", ops=COMPILE_COLD_N, ratios=False,
                          description=f"build + compile {sel} with no cache"),
             "compile_cold", (COMPILE_COLD_N,), None, 2, 7),
        Plan(WorkloadInfo(key="compile_cached", title="(g) compile, cached", ops=COMPILE_CACHED_N, ratios=False,
                          description=f"build + compile {sel} hitting the compiled-statement cache"),
             "compile_cached", (COMPILE_CACHED_N,), None, 2, 7),
    ]


class Peer:
    """A peer module with its connection state; ``error`` is set when it cannot be imported or connected."""

    def __init__(self, module_name: str) -> None:
        self.name = module_name.rsplit(".", 1)[-1]
        self.module: ModuleType | None = None
        self.state: Any = None
        self.error: str | None = None
        try:
            self.module = importlib.import_module(module_name)
            self.name = self.module.NAME
        except NotAvailable as e:
            self.error = f"n/a: {e}"
        except Exception as e:
            self.error = f"cannot import: {type(e).__name__}: {e}"

    def call(self, runner: asyncio.Runner, fn: Callable[..., Any], *args: object) -> Any:
        return runner.run(fn(*args)) if inspect.iscoroutinefunction(fn) else fn(*args)

    def connect(self, runner: asyncio.Runner, url: str) -> None:
        if self.module is None:
            return
        try:
            self.state = self.call(runner, self.module.connect, url)
        except NotAvailable as e:
            self.error = f"n/a: {e}"
        except Exception as e:
            self.error = f"cannot connect: {type(e).__name__}: {e}"

    def close(self, runner: asyncio.Runner) -> None:
        if self.module is not None and self.error is None and hasattr(self.module, "close"):
            self.call(runner, self.module.close, self.state)


def run_cell(runner: asyncio.Runner, peer: Peer, plan: Plan, quick: bool) -> Cell:
    """Validate once (untimed), then measure; NotAvailable -> ``n/a``, any other failure -> ``error``."""
    key = plan.info.key
    if peer.error is not None:
        status: Status = "n/a" if peer.error.startswith("n/a") else "error"
        return Cell(peer=peer.name, workload=key, status=status, note=peer.error.removeprefix("n/a: "))
    fn = getattr(peer.module, plan.fn, None)
    if fn is None:
        return Cell(peer=peer.name, workload=key, status="n/a", note=f"{peer.name} has no {plan.fn}")
    is_async = inspect.iscoroutinefunction(fn)

    def call() -> Any:
        return fn(peer.state, *plan.args)

    try:
        if plan.setup is not None:
            plan.setup()
        start = time.perf_counter()
        got = runner.run(call()) if is_async else call()
        first = time.perf_counter() - start
        counts = [got] + ([plan.check()] if plan.check is not None else [])
        if plan.expect is not None and any(c != plan.expect for c in counts):
            return Cell(peer=peer.name, workload=key, status="error",
                        note=f"expected {plan.expect} rows, got {counts}")
        warmup = 0 if quick or first > 1.0 else max(0, plan.warmup - 1)
        repeat = 1 if quick else max(3, min(plan.repeat, int(CELL_BUDGET_S / max(first, 1e-9))))
        timing: Timing
        if is_async:
            timing = runner.run(measure_async(call, warmup=warmup, repeat=repeat, setup=plan.setup))
        else:
            timing = measure(call, warmup=warmup, repeat=repeat, setup=plan.setup)
        if plan.check is not None and plan.check() != plan.expect:
            return Cell(peer=peer.name, workload=key, status="error", note="row count changed across runs")
        return Cell(peer=peer.name, workload=key, status="ok", timing=timing)
    except NotAvailable as e:
        return Cell(peer=peer.name, workload=key, status="n/a", note=str(e))
    except Exception as e:
        return Cell(peer=peer.name, workload=key, status="error", note=f"{type(e).__name__}: {e}"[:300])


def profile_cell(runner: asyncio.Runner, peer: Peer, plan: Plan, view: str) -> str:
    """One run of ``plan`` for ``peer`` (after one untimed warm-up run) under pyinstrument: its call tree
    (``view="tree"``) or functions by their own time (``"flat"``), or why there is none. Sampling covers the
    whole thread, so the event loop and the driver show too."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed (it comes with the bench extra: make bench installs it)"
    fn = getattr(peer.module, plan.fn, None)
    if peer.error is not None or fn is None:
        return f"{peer.name} cannot run {plan.fn}: {peer.error or 'no such function'}"

    def once() -> None:
        if plan.setup is not None:
            plan.setup()
        peer.call(runner, fn, peer.state, *plan.args)

    once()
    profiler = Profiler(interval=0.0002, async_mode="disabled")
    with profiler:
        once()
    if view == "flat":
        from pyinstrument.renderers import ConsoleRenderer

        return profiler.output(ConsoleRenderer(unicode=True, color=False, flat=True, show_all=True))
    return profiler.output_text(unicode=True, color=False)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_facts(admin: psycopg.Connection, server: dict[str, str]) -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip()
    row = admin.execute("SHOW server_version").fetchone()
    libs = ", ".join(f"{d} {_version(d)}" for d in ("psycopg", "sqlalchemy", "django", "asyncpg", "msgspec"))
    return {
        "cpu": f"{os.cpu_count()} × {cpu}",
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "postgresql": f"{row[0] if row else '?'}, {server['server']}",
        "libraries": libs,
        "djogi": f"{_version('djogi')} (git {rev or '?'}, working tree may be newer)",
        "event loop": loop_name(),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def update_docs(report: Report, chart: Path, path: Path = DOCS) -> None:
    """Replace the text between the latest-results markers of ``docs/benchmarks.md`` with this run's table,
    and copy the ratio chart next to the page (mkdocs only serves files under ``docs/``)."""
    shutil.copyfile(chart, path.parent / "assets" / "ratios.png")
    text = path.read_text()
    head, start, rest = text.partition(DOCS_START)
    _, end, tail = rest.partition(DOCS_END)
    if not start or not end:
        raise SystemExit(f"{path} has no {DOCS_START} ... {DOCS_END} block")
    facts = "\n".join(f"- {k}: {v}" for k, v in report.machine.items())
    block = (f"\nMeasured {report.created_at}; ratios are to `{report.baseline}`, times are medians per "
             f"operation.\n\n{facts}\n\n{ratio_table(report)}\n\n![ratios](assets/ratios.png)\n\n")
    path.write_text(head + start + block + end + tail)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", help="comma-separated peer names to run (default: all)")
    parser.add_argument("--workloads", help="comma-separated workload keys to run, 'keys' for the key workloads, "
                                            "'loops' for (b)/(c) under both event loops, 'hot' for prepared queries "
                                            "and pipelining, 'fk' for cascading deletes, 'events' for the "
                                            "outbox (default: all)")
    parser.add_argument("--quick", action="store_true", help="one timed run per cell, no warm-up (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory (default: %(default)s)")
    parser.add_argument("--update-docs", action="store_true", help=f"also put the table into {DOCS.name}")
    parser.add_argument("--profile", nargs="?", const="tree", choices=("tree", "flat"),
                        help="time nothing: run each selected cell once under pyinstrument and print its call "
                             "tree, or with 'flat' its functions by their own time")
    args = parser.parse_args(argv)
    chosen = set(args.workloads.split(",")) if args.workloads else None

    def wanted(workload: str) -> bool:
        return chosen is None or workload in chosen

    began = time.perf_counter()
    keys = ""
    url, server, cleanup = schema.open_database()
    try:
        with psycopg.connect(url, autocommit=True) as admin, asyncio.Runner(loop_factory=loop_factory()) as runner:
            print(f"loading data into {url} ...", file=sys.stderr)
            schema.load(admin)
            facts = machine_facts(admin, server)
            todo = [p for p in plans(admin) if wanted(p.info.key)]
            peers = [Peer(m) for m in PEER_MODULES]
            if args.peers:
                names = {BASELINE, *args.peers.split(",")}
                peers = [p for p in peers if p.name in names]
            for peer in peers:
                peer.connect(runner, url)
            if args.profile:
                for plan in todo:
                    for peer in peers:
                        print(f"=== {plan.info.title}: {peer.name}\n{profile_cell(runner, peer, plan, args.profile)}")
                for peer in peers:
                    peer.close(runner)
                return 0
            cells: list[Cell] = []
            for plan in todo:
                for peer in peers:
                    late = not args.quick and time.perf_counter() - began > RUN_BUDGET_S
                    cell = run_cell(runner, peer, plan, args.quick or late)
                    if late and cell.status == "ok":
                        cell = msgspec.structs.replace(cell, note="one timed run: the run's time budget was spent")
                    cells.append(cell)
                    shown = f"{cell.timing.median:.4f} s" if cell.timing else f"{cell.status}: {cell.note}"
                    print(f"  {plan.info.key:<15} {peer.name:<16} {shown}", file=sys.stderr)
            for peer in peers:
                peer.close(runner)
            if wanted("keys"):
                print("key workloads (HeeRanjID against identity) ...", file=sys.stderr)
                rows, repeat = (bench_keys.ROWS // 10, 1) if args.quick else (bench_keys.ROWS, bench_keys.REPEAT)
                keys = bench_keys.run(url, rows, repeat, args.out)
            if wanted("loops"):
                print("the same queries under asyncio and uvloop ...", file=sys.stderr)
                keys += "\n" + bench_loops.run(url, 1 if args.quick else bench_loops.REPEAT, args.out)
            if wanted("hot"):
                print("prepared queries and pipelining ...", file=sys.stderr)
                keys += "\n" + bench_hot.run(url, 1 if args.quick else bench_hot.REPEAT, args.out)
            if wanted("fk"):
                print("cascading deletes with and without the foreign-key index ...", file=sys.stderr)
                keys += "\n" + bench_fk.run(url, 1 if args.quick else bench_fk.REPEAT, args.out)
            if wanted("tenancy"):
                print("row-level security overhead ...", file=sys.stderr)
                queries, repeat = (50, 1) if args.quick else (bench_tenancy.QUERIES, bench_tenancy.REPEAT)
                keys += "\n" + bench_tenancy.run(url, queries, repeat, args.out)
            if wanted("events"):
                print("transactional outbox: delivery and write overhead ...", file=sys.stderr)
                events, writes, repeat = (500, 100, 1) if args.quick else (bench_events.EVENTS, bench_events.WRITES,
                                                                           bench_events.REPEAT)  # fmt: skip
                keys += "\n" + bench_events.run(url, events, writes, repeat, args.out)
            if wanted("audit"):
                print("audit trail write overhead ...", file=sys.stderr)
                writes, repeat = (50, 1) if args.quick else (bench_audit.WRITES, bench_audit.REPEAT)
                keys += "\n" + bench_audit.run(url, writes, repeat, args.out)
            if wanted("search"):
                print("search workloads (full text, kNN) against raw psycopg ...", file=sys.stderr)
                rows, repeat = (bench_search.ROWS // 4, 1) if args.quick else (bench_search.ROWS, bench_search.REPEAT)
                keys += "\n" + bench_search.run(url, rows, repeat, args.out)
            facts["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
            facts["wall time"] = f"{time.perf_counter() - began:.0f} s" + (" (--quick)" if args.quick else "")
    finally:
        cleanup()
    infos = tuple(p.info for p in todo)
    report = Report(created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), baseline=BASELINE,
                    machine=facts, peers=tuple(p.name for p in peers), workloads=infos,
                    cells=with_ratios(cells, BASELINE, infos))
    write_results(report, args.out)
    print(ratio_table(report))
    if keys:
        print(f"\n{keys}")
    if args.update_docs:
        update_docs(report, args.out / "ratios.png")
    print(f"\nwritten to {args.out}/latest.json, latest.md, ratios.png", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
