"""Measuring and reporting: timings, the results model, ratios to the baseline, JSON/Markdown/PNG output.

``measure``/``measure_async`` time whole runs of a workload (warm-up runs first, an untimed ``setup``
before every run, a ``gc.collect()`` before every timed run) and summarise them as a ``Timing``;
``interleaved`` times single calls of several sides taking turns call by call. A
``Report`` holds one cell per (peer, workload); ``with_ratios`` divides every median by the baseline
peer's median for the same workload, measured in the same run.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

Status = Literal["ok", "n/a", "error"]
K = TypeVar("K", bound=Hashable)


class Timing(msgspec.Struct, frozen=True, kw_only=True):
    """Summary of ``n`` timed runs, in seconds per run."""

    median: float
    p25: float
    p75: float
    min: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Timing:
        """Summarise ``samples`` (at least one)."""
        if not samples:
            raise ValueError("no samples")
        ordered = sorted(samples)
        return cls(median=percentile(ordered, 50), p25=percentile(ordered, 25), p75=percentile(ordered, 75),
                   min=ordered[0], n=len(ordered))

    @property
    def spread(self) -> float:
        """The interquartile range relative to the median (0.05 means the middle half spans 5%)."""
        return (self.p75 - self.p25) / self.median if self.median > 0 else 0.0


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile of sorted ``ordered``, interpolating linearly between closest ranks."""
    if not ordered:
        raise ValueError("no samples")
    pos = (len(ordered) - 1) * pct / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def measure(fn: Callable[[], object], *, warmup: int = 1, repeat: int = 5,
            setup: Callable[[], object] | None = None) -> Timing:
    """Run ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; ``setup`` runs untimed before each."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples: list[float] = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing.of(samples)


async def measure_async(fn: Callable[[], Awaitable[object]], *, warmup: int = 1, repeat: int = 5,
                        setup: Callable[[], object] | None = None) -> Timing:
    """``measure`` for a coroutine function (``setup`` stays synchronous)."""
    for _ in range(warmup):
        if setup is not None:
            setup()
        await fn()
    samples: list[float] = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        gc.collect()
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return Timing.of(samples)


async def interleaved(sides: Mapping[K, Callable[[int], Awaitable[object]]], calls: int,
                      rounds: int) -> dict[K, Timing]:
    """Seconds per call of each side, the sides taking turns call by call: after one untimed pass of every
    side, ``rounds`` times over ``i`` in ``range(calls)``, every side runs its call ``i`` once, back to back,
    their order rotated with ``i`` so that no side always goes first. A burst of other work on the machine
    then lands on single calls of every side alike, and the per-call median leaves it out, where the
    median of whole runs (``measure``) moves with it."""
    keys = list(sides)
    for key in keys:
        for i in range(calls):
            await sides[key](i)
    samples: dict[K, list[float]] = {key: [] for key in keys}
    clock = time.perf_counter
    for _ in range(rounds):
        for i in range(calls):
            shift = i % len(keys)
            for key in keys[shift:] + keys[:shift]:
                started = clock()
                await sides[key](i)
                samples[key].append(clock() - started)
    return {key: Timing.of(spent) for key, spent in samples.items()}


# ---------------------------------------------------------------------------------------------- results


class WorkloadInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A workload as reported: ``ops`` operations per timed run (figures are shown per operation when > 1)."""

    key: str
    title: str
    ops: int = 1
    description: str = ""
    ratios: bool = True  # False when the baseline cannot do it (compile-only cost)


class Cell(msgspec.Struct, frozen=True, kw_only=True):
    """One (peer, workload) result; ``ratio`` is median / baseline median, None when either is missing."""

    peer: str
    workload: str
    status: Status
    timing: Timing | None = None
    ratio: float | None = None
    note: str | None = None


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """A whole run: machine facts, the baseline peer, peers and workloads in display order, the cells."""

    created_at: str
    baseline: str
    machine: dict[str, str]
    peers: tuple[str, ...]
    workloads: tuple[WorkloadInfo, ...]
    cells: tuple[Cell, ...]

    def cell(self, peer: str, workload: str) -> Cell | None:
        return next((c for c in self.cells if c.peer == peer and c.workload == workload), None)


def with_ratios(cells: Sequence[Cell], baseline: str, workloads: Sequence[WorkloadInfo] = ()) -> tuple[Cell, ...]:
    """``cells`` with ``ratio`` set against ``baseline``'s cell of the same workload (skipping ``ratios=False``)."""
    no_ratio = {w.key for w in workloads if not w.ratios}
    base = {c.workload: c.timing.median for c in cells
            if c.peer == baseline and c.status == "ok" and c.timing is not None and c.timing.median > 0}
    out: list[Cell] = []
    for c in cells:
        ref = base.get(c.workload)
        ratio = None
        if c.status == "ok" and c.timing is not None and ref is not None and c.workload not in no_ratio:
            ratio = c.timing.median / ref
        out.append(msgspec.structs.replace(c, ratio=ratio))
    return tuple(out)


# ---------------------------------------------------------------------------------------------- rendering


def format_seconds(seconds: float) -> str:
    """``1.23 s``, ``45.6 ms``, ``789 µs``, ``1.50 µs``: three significant digits in the largest fitting unit."""
    scale, unit = next(((f, u) for f, u in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")) if seconds >= f), (1e-9, "ns"))
    value = seconds / scale
    digits = 0 if value >= 100 else 1 if value >= 10 else 2
    return f"{value:.{digits}f} {unit}"


def format_cell(cell: Cell | None, ops: int) -> str:
    """A table cell: ``1.07x · 12.3 ms`` (per operation when ``ops`` > 1), ``n/a`` or ``error``."""
    if cell is None or cell.status == "n/a":
        return "n/a"
    if cell.status == "error" or cell.timing is None:
        return "error"
    per = format_seconds(cell.timing.median / ops)
    return f"{cell.ratio:.2f}x · {per}" if cell.ratio is not None else per


def _row(items: Sequence[str]) -> str:
    return "| " + " | ".join(items) + " |"


def ratio_table(report: Report) -> str:
    """The main Markdown table: one row per workload, one column per peer."""
    lines = [_row(["workload", *report.peers]), _row(["---", *("---:" for _ in report.peers)])]
    for w in report.workloads:
        title = f"{w.title} (per op)" if w.ops > 1 else w.title
        lines.append(_row([title, *(format_cell(report.cell(p, w.key), w.ops) for p in report.peers)]))
    return "\n".join(lines)


def detail_table(report: Report) -> str:
    """Every cell: median, interquartile range and minimum of a whole run, n, ratio and notes."""
    lines = [_row(["workload", "peer", "median", "p25–p75", "spread", "min", "n", "ratio", "note"]),
             _row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---"])]
    for w in report.workloads:
        for p in report.peers:
            c = report.cell(p, w.key)
            if c is None:
                continue
            t = c.timing
            figures = ([format_seconds(t.median), f"{format_seconds(t.p25)}–{format_seconds(t.p75)}",
                        f"{t.spread:.0%}", format_seconds(t.min), str(t.n)] if t is not None else ["", "", "", "", ""])
            ratio = f"{c.ratio:.2f}x" if c.ratio is not None else ("" if c.status == "ok" else c.status)
            lines.append(_row([w.key, p, *figures, ratio, (c.note or "").replace("|", "/").replace("\n", " ")]))
    return "\n".join(lines)


def render_markdown(report: Report) -> str:
    """The full Markdown results page: machine facts, the ratio table and the detail table."""
    machine = "\n".join(f"- {k}: {v}" for k, v in report.machine.items())
    return (
        f"# Benchmark results ({report.created_at})\n\n"
        f"Ratios are median / median of `{report.baseline}` for the same workload in this run (lower is "
        f"better); times are medians per operation.\n\n{machine}\n\n{ratio_table(report)}\n\n"
        f"## Every cell (whole timed runs)\n\n{detail_table(report)}\n"
    )


def render_chart(report: Report, path: Path) -> None:
    """A grouped bar chart of the ratios (log scale, 1.0 marked) written as PNG with matplotlib's Agg."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in report.workloads if any((c := report.cell(p, w.key)) and c.ratio for p in report.peers)]
    fig, ax = plt.subplots(figsize=(max(8.0, 1.4 * len(workloads) + 2), 5), dpi=110)
    width = 0.8 / max(1, len(report.peers))
    for i, peer in enumerate(report.peers):
        xs, ys = [], []
        for j, w in enumerate(workloads):
            c = report.cell(peer, w.key)
            if c is not None and c.ratio is not None:
                xs.append(j + (i - (len(report.peers) - 1) / 2) * width)
                ys.append(c.ratio)
        ax.bar(xs, ys, width=width, label=peer)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.set_yscale("log")
    ratios = [c.ratio for c in report.cells if c.ratio]
    lo, hi = (min(ratios) / 2, max(ratios) * 2) if ratios else (0.5, 2.0)
    ticks = [t for t in (0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200) if lo <= t <= hi]
    ax.set_yticks(ticks, [f"{t:g}x" for t in ticks])
    ax.minorticks_off()
    ax.set_xticks(range(len(workloads)), [w.key for w in workloads], rotation=20, ha="right")
    ax.set_ylabel(f"time / {report.baseline} (log scale, lower is better)")
    ax.set_title(f"djogi benchmarks {report.created_at}")
    ax.legend(fontsize="small", ncols=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_tables(report: Report, directory: Path) -> None:
    """Write ``latest.json`` and ``latest.md`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "latest.json").write_bytes(msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n")
    (directory / "latest.md").write_text(render_markdown(report))


def write_results(report: Report, directory: Path) -> None:
    """Write ``latest.json``, ``latest.md`` and ``ratios.png`` (needs the ``bench`` extra) into ``directory``."""
    write_tables(report, directory)
    render_chart(report, directory / "ratios.png")
