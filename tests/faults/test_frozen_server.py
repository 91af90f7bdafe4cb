"""The server freezes (SIGSTOP of the postmaster and its backends: the sockets stay open, nothing answers)
while ``djogi migrations apply`` runs: the CLI gives up after ``operation_timeout`` and exits 1 saying so,
instead of waiting forever. Runs on this module's own embedded server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from djogi.embedded import EmbeddedServer
from tests.cli.helpers import DJOGI, Project
from tests.faults.helpers import FAULT_BOUND_S, children_of, ready
from tests.faults.test_migration_recovery import PAGES_OPTIONAL, _ledger

OPERATION_TIMEOUT = "2"


def _wait_for_lock(url: str, proc: subprocess.Popen[str]) -> None:
    """Return once the applier's ALTER TABLE waits for a lock."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(600):
            if watcher.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND query LIKE 'ALTER TABLE%'").fetchone():
                return
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
    raise AssertionError("apply never waited for the lock")


def test_apply_on_a_frozen_server_fails_within_the_bound(tmp_path: Path, private_server: EmbeddedServer) -> None:
    project = Project(tmp_path, ready(private_server))
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    blocker = psycopg.connect(project.url)
    blocker.execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
    proc = subprocess.Popen([DJOGI, "migrations", "apply"], cwd=project.root,
                            env=project.env(DJOGI_OPERATION_TIMEOUT=OPERATION_TIMEOUT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    frozen: list[int] = []
    try:
        _wait_for_lock(project.url, proc)
        postmaster = private_server.status().pid
        assert postmaster is not None
        frozen = [postmaster, *children_of(postmaster)]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        _out, err = proc.communicate(timeout=FAULT_BOUND_S)  # a hang fails here (TimeoutExpired)
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        proc.kill()
        blocker.close()
    said = " ".join(err.split())
    assert proc.returncode == 1, err
    assert f"no answer from the server within {OPERATION_TIMEOUT} s (operation_timeout)" in said, err
    assert "stays pending" in said and "repair partial-apply" in said, err

    version, status, _ = _ledger(project.url)[-1]  # the server, resumed, left the row as the message says
    assert version.endswith("__pages") and status == "pending"
    project.run("migrations", "repair", "partial-apply", version, "rolled-back")
    project.run("migrations", "apply")
    assert _ledger(project.url)[-1][:2] == (version, "applied")
