"""The pure parts of the benchmark harness: statistics, ratios, rendering, the results files (no timing asserts)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest

from benchmarks.harness import (
    Cell,
    Report,
    Timing,
    WorkloadInfo,
    detail_table,
    format_cell,
    format_seconds,
    interleaved,
    measure,
    measure_async,
    percentile,
    ratio_table,
    render_markdown,
    with_ratios,
    write_results,
    write_tables,
)


def t(median: float) -> Timing:
    return Timing(median=median, p25=median * 0.9, p75=median * 1.1, min=median * 0.8, n=5)


WORKLOADS = (
    WorkloadInfo(key="fetch", title="(a) fetch"),
    WorkloadInfo(key="get", title="(b) get", ops=1000),
    WorkloadInfo(key="compile", title="(g) compile", ops=100, ratios=False),
)
CELLS = (
    Cell(peer="raw", workload="fetch", status="ok", timing=t(0.010)),
    Cell(peer="orm", workload="fetch", status="ok", timing=t(0.025)),
    Cell(peer="raw", workload="get", status="ok", timing=t(0.100)),
    Cell(peer="orm", workload="get", status="error", note="boom | bad"),
    Cell(peer="raw", workload="compile", status="n/a", note="no compiler"),
    Cell(peer="orm", workload="compile", status="ok", timing=t(0.002)),
)


def report() -> Report:
    return Report(created_at="2026-01-01 00:00 UTC", baseline="raw", machine={"cpu": "2 × test"},
                  peers=("raw", "orm"), workloads=WORKLOADS, cells=with_ratios(CELLS, "raw", WORKLOADS))


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 25) == 1.75
    assert percentile([7.0], 75) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_timing_of_samples_is_order_independent() -> None:
    timing = Timing.of([3.0, 1.0, 2.0, 5.0, 4.0])
    assert timing == Timing(median=3.0, p25=2.0, p75=4.0, min=1.0, n=5)
    assert timing.spread == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        Timing.of([])


def test_ratios_divide_by_the_baseline_of_the_same_workload() -> None:
    cells = {(c.peer, c.workload): c for c in with_ratios(CELLS, "raw", WORKLOADS)}
    assert cells["raw", "fetch"].ratio == 1.0
    assert cells["orm", "fetch"].ratio == pytest.approx(2.5)
    assert cells["raw", "get"].ratio == 1.0
    assert cells["orm", "get"].ratio is None  # error: no figure, no ratio
    assert cells["orm", "compile"].ratio is None  # ratios=False, and the baseline is n/a anyway


def test_no_ratio_without_a_baseline_figure() -> None:
    cells = with_ratios(CELLS, "missing-peer")
    assert all(c.ratio is None for c in cells)


def test_format_seconds_picks_a_unit() -> None:
    assert format_seconds(1.234) == "1.23 s"
    assert format_seconds(0.0456) == "45.6 ms"
    assert format_seconds(0.000789) == "789 µs"
    assert format_seconds(1.5e-6) == "1.50 µs"
    assert format_seconds(2e-9) == "2.00 ns"


def test_format_cell_shows_ratio_and_time_per_operation() -> None:
    cell = Cell(peer="orm", workload="get", status="ok", timing=t(0.2), ratio=2.0)
    assert format_cell(cell, 1000) == "2.00x · 200 µs"
    assert format_cell(msgspec.structs.replace(cell, ratio=None), 1) == "200 ms"
    assert format_cell(Cell(peer="x", workload="y", status="n/a"), 1) == "n/a"
    assert format_cell(Cell(peer="x", workload="y", status="error"), 1) == "error"
    assert format_cell(None, 1) == "n/a"


def test_ratio_table_has_a_row_per_workload_and_a_column_per_peer() -> None:
    lines = ratio_table(report()).splitlines()
    assert lines[0] == "| workload | raw | orm |"
    assert lines[1] == "| --- | ---: | ---: |"
    assert lines[2] == "| (a) fetch | 1.00x · 10.0 ms | 2.50x · 25.0 ms |"
    assert lines[3] == "| (b) get (per op) | 1.00x · 100 µs | error |"
    assert lines[4] == "| (g) compile (per op) | n/a | 20.0 µs |"
    assert len(lines) == 5


def test_detail_table_lists_every_cell_and_escapes_notes() -> None:
    text = detail_table(report())
    assert "| fetch | orm | 25.0 ms | 22.5 ms–27.5 ms | 20% | 20.0 ms | 5 | 2.50x |  |" in text
    assert "| get | orm |  |  |  |  |  | error | boom / bad |" in text
    assert len(text.splitlines()) == 2 + len(CELLS)


def test_markdown_page_names_the_baseline_and_machine() -> None:
    page = render_markdown(report())
    assert "`raw`" in page and "- cpu: 2 × test" in page and ratio_table(report()) in page


def test_results_files_round_trip(tmp_path: Path) -> None:
    write_tables(report(), tmp_path)
    assert msgspec.json.decode((tmp_path / "latest.json").read_bytes(), type=Report) == report()
    assert (tmp_path / "latest.md").read_text() == render_markdown(report())


def test_results_include_the_ratio_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the chart needs the bench extra (make bench installs it)")
    write_results(report(), tmp_path)
    assert (tmp_path / "ratios.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "latest.md").read_text() == render_markdown(report())


def test_measure_runs_warmup_then_repeat_with_setup_before_each() -> None:
    calls: list[str] = []
    timing = measure(lambda: calls.append("run"), warmup=2, repeat=3, setup=lambda: calls.append("setup"))
    assert calls == ["setup", "run"] * 5
    assert timing.n == 3 and timing.min <= timing.median


@pytest.mark.anyio
async def test_measure_async_awaits_each_run() -> None:
    calls: list[str] = []

    async def run() -> None:
        calls.append("run")

    timing = await measure_async(run, warmup=1, repeat=2)
    assert calls == ["run"] * 3 and timing.n == 2


@pytest.mark.anyio
async def test_interleaved_runs_each_call_on_every_side_before_the_next_call() -> None:
    calls: list[tuple[str, int]] = []

    def side(name: str) -> Callable[[int], Awaitable[None]]:
        async def call(i: int) -> None:
            calls.append((name, i))

        return call

    timings = await interleaved({"a": side("a"), "b": side("b"), "c": side("c")}, calls=3, rounds=2)
    untimed = [(name, i) for name in "abc" for i in range(3)]
    timed = [("a", 0), ("b", 0), ("c", 0), ("b", 1), ("c", 1), ("a", 1), ("c", 2), ("a", 2), ("b", 2)] * 2
    assert calls == untimed + timed
    assert list(timings) == ["a", "b", "c"] and all(t.n == 6 for t in timings.values())
