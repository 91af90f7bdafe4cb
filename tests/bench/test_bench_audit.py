"""The audit trail benchmark runs end to end (a few writes; no figure is asserted)."""

from pathlib import Path

from benchmarks import bench_audit


def test_the_audit_benchmark_writes_its_table(db_url: str, tmp_path: Path) -> None:
    text = bench_audit.run(db_url, 3, 1, tmp_path)
    rows = [line for line in text.splitlines() if line.startswith("| ") and "s |" in line]
    assert [r.split(" | ")[0] for r in rows] == ["| raw psycopg UPDATE", "| djogi save()", "| djogi create()"]
    assert (tmp_path / "audit.md").read_text() == text
