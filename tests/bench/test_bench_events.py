"""The outbox benchmark runs end to end (a few events and writes; no figure is asserted)."""

from pathlib import Path

from benchmarks import bench_events


def test_the_events_benchmark_writes_its_tables(db_url: str, tmp_path: Path) -> None:
    text = bench_events.run(db_url, 30, 3, 1, tmp_path)
    rows = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows == ["| workers", "| 1", "| 2", "| 4", "| write", "| db.save(row, total=i)", "| db.create(row)"]
    assert (tmp_path / "events.md").read_text() == text
