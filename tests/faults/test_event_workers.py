"""Event workers as real processes (``djogi events run``) under faults: workers SIGKILLed mid-batch and the
server killed and restarted while events are written. Every committed event is delivered at least once,
none from a rolled-back transaction, and an event is delivered again only on a later attempt (its first
worker was lost), never twice in one attempt. Runs its own embedded server."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from djogi.embedded import EmbeddedServer
from djogi.errors import EmbeddedServerError
from djogi.testing import _scratch_dir
from tests.events.helpers import migrate
from tests.faults.helpers import FAULT_BOUND_S, kill_all, kill_postmaster

DJOGI = str(Path(sys.executable).parent / "djogi")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture
def own_server() -> Iterator[EmbeddedServer]:
    root = _scratch_dir()
    server = EmbeddedServer(root / "pgdata")  # durable commits: a handler's committed work survives the kill
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _workers(project: Path, url: str, n: int) -> list[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJOGI_", "HEER_")) and k != "DATABASE_URL"}
    env.update({"DJOGI_DATABASE_URL": url, "PYTHONPATH": str(ROOT)})
    args = [DJOGI, "events", "run", "tests.events.fault_handlers:HANDLERS", "--lease", "1", "--poll", "0.2",
            "--batch-size", "20", "--backoff", "0.05"]  # fmt: skip
    return [subprocess.Popen(args, cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(n)]  # fmt: skip


def _ready(proc: subprocess.Popen[str]) -> None:
    """Wait until ``proc`` says it is delivering (its signal handlers are installed by then)."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], FAULT_BOUND_S)
    assert ready and "delivering the events of Order" in proc.stdout.readline(), proc.poll()


def _write(url: str, rounds: int, start: int) -> None:
    """``rounds`` committed transactions of 5 orders, each followed by a rolled-back one."""
    with psycopg.connect(url) as conn:
        for i in range(start, start + rounds):
            with conn.transaction():
                conn.execute("INSERT INTO ev_orders (customer, total, card) SELECT 'c' || g, g, '' "
                             "FROM generate_series(1, 5) g")
            with pytest.raises(RuntimeError), conn.transaction():
                conn.execute("INSERT INTO ev_orders (customer, total, card) VALUES ('ROLLED BACK', 0, '')")
                raise RuntimeError(i)


def _one(url: str, query: str) -> int:
    for _ in range(FAULT_BOUND_S * 10):
        try:
            with psycopg.connect(url) as conn:
                row = conn.execute(query).fetchone()
                return int(row[0]) if row else 0
        except psycopg.OperationalError:
            time.sleep(0.1)
    raise AssertionError(f"the server did not come back for: {query}")


def _until(url: str, query: str, at_least: int) -> None:
    deadline = time.monotonic() + FAULT_BOUND_S
    while _one(url, query) < at_least:
        assert time.monotonic() < deadline, f"{query} stayed below {at_least}"
        time.sleep(0.05)


def _restart(server: EmbeddedServer) -> None:
    kill_all(kill_postmaster(server))
    for _ in range(300):
        if not server.status().running:
            break
        time.sleep(0.1)
    for attempt in range(100):
        try:
            server.start()
            return
        except EmbeddedServerError:
            if attempt == 99:
                raise
            time.sleep(0.1)


def test_killed_workers_and_a_restarted_server_lose_no_event(tmp_path: Path, own_server: EmbeddedServer) -> None:
    url = own_server.url()
    migrate(url, tmp_path / "migrations")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE ev_delivered (event_id BIGINT NOT NULL, attempt INTEGER NOT NULL)")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Djogi.toml").write_text('[project]\nmodels = ["tests.events.helpers"]\n')
    _write(url, 40, 0)
    procs = _workers(project, url, 2)
    try:
        _until(url, "SELECT count(*) FROM ev_delivered", 40)
        procs[0].send_signal(signal.SIGKILL)  # mid-batch: its lease runs out, the others deliver it again
        _write(url, 40, 40)
        _until(url, "SELECT count(*) FROM ev_delivered", 250)
        _restart(own_server)  # the survivor loses its connections; it reconnects and carries on
        procs += _workers(project, url, 1)
        _write(url, 40, 80)
        _until(url, "SELECT count(*) FROM ev_orders_outbox WHERE state = 'published'", 600)
        for proc in procs[1:]:
            _ready(proc)
            proc.send_signal(signal.SIGTERM)
        for proc in procs[1:]:
            _out, err = proc.communicate(timeout=FAULT_BOUND_S)
            assert proc.returncode == 0, err
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=FAULT_BOUND_S)
    with psycopg.connect(url) as conn:
        committed = conn.execute("SELECT count(*), count(*) FILTER (WHERE payload->>'customer' = 'ROLLED BACK'), "
                                 "count(*) FILTER (WHERE state <> 'published') FROM ev_orders_outbox").fetchone()
        missing = conn.execute("SELECT count(*) FROM ev_orders_outbox o WHERE NOT EXISTS (SELECT FROM ev_delivered d "
                               "WHERE d.event_id = o.id)").fetchone()
        stray = conn.execute("SELECT count(*) FROM ev_delivered d WHERE NOT EXISTS (SELECT FROM ev_orders_outbox o "
                             "WHERE o.id = d.event_id)").fetchone()
        same_attempt = conn.execute("SELECT count(*) FROM (SELECT event_id, attempt FROM ev_delivered GROUP BY 1, 2 "
                                    "HAVING count(*) > 1) x").fetchone()
        again = conn.execute("SELECT count(*) FROM ev_delivered WHERE attempt > 1").fetchone()
    assert committed == (600, 0, 0)  # 120 transactions of 5 rows; the rolled-back ones left nothing
    assert missing == (0,) and stray == (0,)
    assert same_attempt == (0,)  # a duplicate delivery is always a later attempt
    assert again is not None and again[0] > 0  # the kills did cut batches (else the test proved nothing)
