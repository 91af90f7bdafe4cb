"""The row-level security benchmark runs end to end (a few queries; no figure is asserted)."""

from pathlib import Path

from benchmarks import bench_tenancy


def test_the_tenancy_benchmark_writes_its_table(db_url: str, tmp_path: Path) -> None:
    text = bench_tenancy.run(db_url, 3, 1, tmp_path)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "s |" in line]
    assert [r.split(" | ")[0] for r in rows] == [
        "| raw psycopg, in one transaction", "| djogi, in atomic()", "| djogi, one statement per transaction"
    ]
    assert (tmp_path / "tenancy.md").read_text() == text
