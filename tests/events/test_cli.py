"""``djogi events run`` as a real process: refusals, delivery, graceful stop on SIGTERM with the totals."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from tests.cli.helpers import DJOGI, Project
from tests.events.helpers import migrate
from tests.migrate.helpers import sql

ROOT = Path(__file__).resolve().parents[2]


def _project(tmp_path: Path, url: str) -> Project:
    project = Project(tmp_path, url)
    (project.root / "Djogi.toml").write_text('[project]\nmodels = ["tests.events.helpers"]\n')
    return project


def test_handlers_that_are_not_a_mapping_are_refused(tmp_path: Path, db_url: str) -> None:
    project = _project(tmp_path, db_url)
    env = {"PYTHONPATH": str(ROOT)}
    project.refused("events", "run", "nope", says="module:attribute", **env)
    project.refused("events", "run", "tests.events.fault_handlers:MISSING", says="must be a non-empty", **env)
    project.refused("events", "run", "no_such_module_xyz:H", says="cannot import 'no_such_module_xyz'", **env)


def test_run_delivers_then_stops_gracefully_on_sigterm(tmp_path: Path, db_url: str) -> None:
    migrate(db_url, tmp_path / "migrations")
    sql(db_url, "CREATE TABLE ev_delivered (event_id BIGINT NOT NULL, attempt INTEGER NOT NULL)")
    sql(db_url, "INSERT INTO ev_orders (customer, total, card) SELECT 'c' || g, g, '' FROM generate_series(1, 30) g")
    project = _project(tmp_path, db_url)
    proc = subprocess.Popen([DJOGI, "--json", "events", "run", "tests.events.fault_handlers:HANDLERS", "--poll", "0.2"],
                            cwd=project.root, env=project.env(PYTHONPATH=str(ROOT)), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while sql(db_url, "SELECT count(*) FROM ev_orders_outbox WHERE state = 'published'") != [(30,)]:
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=5)
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert json.loads(out) == {"delivered": 30, "retried": 0, "failed": 0}
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(DISTINCT event_id), count(*) FROM ev_delivered").fetchone() == (30, 30)
