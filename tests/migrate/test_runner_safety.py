"""Crash safety, concurrency and checksum drift of the runner, against PostgreSQL 18."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from djogi import Field, Model, field
from djogi.migrate import (
    Bucket,
    MigrationError,
    apply,
    check,
    compose,
    discover,
    repair_checksum_drift,
    repair_resume_partial,
    status,
    verify,
)
from djogi.migrate.ledger import rows
from djogi.model import models, registry_scope
from djogi.testing import TestDatabases

MAIN = Bucket("main")
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
V2 = "V20260102000000__addindex_items_a_idx"

RUNNER = """
import json, sys, time
from pathlib import Path
from djogi.migrate import apply, Options
hold = sys.argv[3] == "hold"
def progress(event):
    if hold and event.kind == "step" and event.version.endswith("items_a_idx") and event.step == 1:
        Path(sys.argv[4]).write_text("step 1 done")
        while not Path(sys.argv[4] + ".go").exists():
            time.sleep(0.01)
report = apply(sys.argv[1], Path(sys.argv[2]), options=Options(lock_timeout_ms=60000), on_progress=progress)
print(json.dumps({"applied": report.applied, "skipped": report.skipped}))
"""


def _two_versions(migrations: Path) -> None:
    """v1: a table; v2: two concurrent indexes and a unique constraint on it (non-transactional steps)."""
    with registry_scope(isolated=True):

        class Item(Model, table="items"):
            a: Field[int]
            b: Field[str]

        compose(migrations, models(), T1).unwrap()
    with registry_scope(isolated=True):

        class Item(Model, table="items"):  # type: ignore[no-redef]
            a: Field[int] = field(index=True)
            b: Field[str] = field(index=True, unique=True)

        plan = compose(migrations, models(), T2).unwrap()
    assert plan.version == V2


def _spawn(url: str, migrations: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", RUNNER, url, str(migrations), *extra], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_killed_mid_non_transactional_segment_is_refused_then_resumed(db_url: str, tmp_path: Path) -> None:
    _two_versions(tmp_path)
    marker = tmp_path / "marker"
    with psycopg.connect(db_url, autocommit=True) as conn:
        proc = _spawn(db_url, tmp_path, "hold", str(marker))
        # Block the second concurrent index build: an open transaction holding a snapshot.
        blocker = psycopg.connect(db_url)
        blocker.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert time.monotonic() < deadline and proc.poll() is None, proc.communicate()
            time.sleep(0.01)
        blocker.execute("SELECT count(*) FROM items")
        Path(f"{marker}.go").touch()
        while True:  # wait until the runner is stuck inside step 2 (claimed, not acknowledged)
            row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                               "AND query LIKE 'CREATE%CONCURRENTLY%' AND wait_event_type = 'Lock'").fetchone()
            if row and row[0]:
                break
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        blocker.close()
        (row,) = [r for r in rows(conn, "") if r.version == V2]
        assert row.status == "pending" and row.has_claim and row.applied_steps_count == 1
        with pytest.raises(MigrationError) as refused:
            apply(db_url, tmp_path)
        assert refused.value.refusal and f"repair resume-partial {V2}" in str(refused.value)
        assert repair_resume_partial(db_url, tmp_path, MAIN, V2) == 3
        (row,) = [r for r in rows(conn, "") if r.version == V2]
        assert row.status == "applied" and row.applied_steps_count == row.total_steps == 4
        assert apply(db_url, tmp_path).applied == ()
        assert verify(db_url, tmp_path, MAIN).ok and status(db_url, tmp_path).healthy


def _edited_files(migrations: Path) -> list[str]:
    return [f.location for f in check(migrations, (), lint=False).findings if f.rule == "M002"]


def test_an_accepted_edit_is_carried_into_the_plan(db_url: str, djogi_databases: TestDatabases,
                                                   tmp_path: Path) -> None:  # fmt: skip
    """``repair checksum-drift`` used to record the new checksums in the ledger only: ``check`` still called
    the files edited and a fresh database refused to apply them. Now the plan carries the edit."""
    _two_versions(tmp_path)
    apply(db_url, tmp_path)
    up = tmp_path / "main" / "_global_" / f"{V2}.sdjql"
    up.write_text(up.read_text().replace('ON "items" ("a")', 'ON "items" ("a", "b")'))
    assert _edited_files(tmp_path) == [f"main/_global_/{V2}"]
    assert repair_checksum_drift(db_url, tmp_path, MAIN, V2) == next(
        m.checksums for m in discover(tmp_path, MAIN) if m.version == V2
    )
    assert _edited_files(tmp_path) == []
    [edited] = [m for m in discover(tmp_path, MAIN) if m.version == V2]
    assert edited.edited is None and 'ON "items" ("a", "b")' in edited.plan.fragments[0]
    assert verify(db_url, tmp_path, MAIN).ok
    fresh = djogi_databases.create()
    try:
        url = djogi_databases.server.url(fresh)
        assert V2 in apply(url, tmp_path).applied
        with psycopg.connect(url, autocommit=True) as conn:
            found = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'items_a_idx'").fetchone()
        assert found is not None and found[0].endswith("(a, b)")
    finally:
        djogi_databases.drop(fresh)


def test_an_edit_the_plan_cannot_carry_is_refused_by_repair(db_url: str, tmp_path: Path) -> None:
    _two_versions(tmp_path)
    apply(db_url, tmp_path)
    folder = tmp_path / "main" / "_global_"
    up = folder / f"{V2}.sdjql"
    plan_before = (folder / f"{V2}.plan.json").read_bytes()
    up.write_text(up.read_text() + "-- an extra block\nSELECT 1;\n\n")
    with psycopg.connect(db_url, autocommit=True) as conn:
        ledger_before = [r for r in rows(conn) if r.version == V2]
    with pytest.raises(MigrationError) as refused:
        repair_checksum_drift(db_url, tmp_path, MAIN, V2)
    assert refused.value.refusal and refused.value.code == "EditNotAdoptable"
    assert "5 statement block(s) and its plan 4" in str(refused.value)
    assert (folder / f"{V2}.plan.json").read_bytes() == plan_before
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert [r for r in rows(conn) if r.version == V2] == ledger_before


def test_four_concurrent_appliers_apply_each_migration_once(db_url: str, tmp_path: Path) -> None:
    _two_versions(tmp_path)
    procs = [_spawn(db_url, tmp_path, "go") for _ in range(4)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))
    applied = [v for r in reports for v in r["applied"]]
    assert sorted(applied) == sorted(["V00000000000000__phase_zero_bootstrap", "V20260101000000__initial", V2])
    assert sum(1 for r in reports if not r["applied"]) >= 3
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert [(r.version, r.status) for r in rows(conn)] == [
            ("V00000000000000__phase_zero_bootstrap", "applied"),
            ("V20260101000000__initial", "applied"),
            (V2, "applied"),
        ]
    assert verify(db_url, tmp_path, MAIN).ok


def test_edited_applied_migration_is_refused_by_apply_and_verify(db_url: str, tmp_path: Path) -> None:
    _two_versions(tmp_path)
    apply(db_url, tmp_path)
    up = tmp_path / "main" / "_global_" / f"{V2}.sdjql"
    up.write_text(up.read_text().replace('ON "items" ("a")', 'ON "items" ("a", "b")'))
    with pytest.raises(MigrationError) as refused:
        apply(db_url, tmp_path)
    assert refused.value.refusal and refused.value.code == "ChecksumMismatch"
    report = verify(db_url, tmp_path, MAIN)
    assert not report.ok and [d.code for d in report.diagnostics] == ["D620"]
    repair_checksum_drift(db_url, tmp_path, MAIN, V2)
    assert verify(db_url, tmp_path, MAIN).ok
    assert apply(db_url, tmp_path).applied == ()
