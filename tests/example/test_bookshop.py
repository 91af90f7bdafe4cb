"""The bookshop example (what ``make demo`` runs) works end to end on a fresh database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "bookshop"
DJOGI = Path(sys.executable).parent / "djogi"


def _run(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(APP), "DJOGI_DATABASE_URL": db_url}
    return subprocess.run(args, cwd=APP, env=env, capture_output=True, text=True, timeout=120)


def test_bookshop_demo_flow(db_url: str) -> None:
    check = _run(db_url, str(DJOGI), "migrations", "check")
    assert check.returncode == 0, f"the committed migrations lag the models:\n{check.stdout}{check.stderr}"
    for step in (("migrations", "apply"), ("db", "seed")):
        done = _run(db_url, str(DJOGI), *step)
        assert done.returncode == 0, done.stderr
    tour = _run(db_url, sys.executable, "run.py")
    assert tour.returncode == 0, tour.stderr
    out = tour.stdout
    assert "PostgreSQL 18" in out
    assert "('The Dispossessed', Decimal('14.50'))" in out
    assert "== the same predicate in memory and in SQL agree\n   True" in out
    assert "['The Left Hand of Darkness', 'Stories of Your Life', 'The Dispossessed']" in out
    assert "('paid', [1])" in out
    assert "stale write refused with StaleObject" in out
    again = _run(db_url, sys.executable, "run.py")
    assert again.returncode == 0, f"the tour is not re-runnable:\n{again.stderr}"
