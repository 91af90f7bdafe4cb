"""The server freezes (SIGSTOP of the postmaster and its backends: the sockets stay open, nothing answers)
while a CLI command that opens its own connection runs (``djogi migrations apply``, ``djogi db seed``): the
command gives up after ``operation_timeout`` and exits 1 saying so, instead of waiting forever. Runs on this
module's own embedded server."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psycopg

from djogi.embedded import EmbeddedServer
from tests.cli.helpers import DJOGI, Project
from tests.faults.helpers import FAULT_BOUND_S, children_of, ready, signal_all
from tests.faults.test_migration_recovery import PAGES_OPTIONAL, _ledger

OPERATION_TIMEOUT = "2"
SAYS = f"no answer from the server within {OPERATION_TIMEOUT} s (operation_timeout)"


def _frozen_run(project: Project, server: EmbeddedServer, *args: str, waits_in: str) -> tuple[int, str]:
    """Run ``djogi *args`` while another session holds books' lock; once the command's statement starting
    with ``waits_in`` waits for that lock, freeze the whole server. Returns the exit code and the
    one-line stderr (TimeoutExpired if the command is still waiting after ``FAULT_BOUND_S``)."""
    blocker = psycopg.connect(project.url)
    blocker.execute("LOCK TABLE books IN ACCESS EXCLUSIVE MODE")
    proc = subprocess.Popen([DJOGI, *args], cwd=project.root,
                            env=project.env(DJOGI_OPERATION_TIMEOUT=OPERATION_TIMEOUT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    frozen: list[int] = []
    try:
        with psycopg.connect(project.url, autocommit=True) as watcher:
            for _ in range(600):
                if watcher.execute("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                   "AND query LIKE %s", (f"{waits_in}%",)).fetchone():  # fmt: skip
                    break
                assert proc.poll() is None, proc.communicate()
                time.sleep(0.05)
            else:
                raise AssertionError(f"djogi {' '.join(args)} never waited for the lock")
        postmaster = server.status().pid
        assert postmaster is not None
        frozen = [postmaster, *children_of(postmaster)]
        signal_all(frozen, signal.SIGSTOP)
        _out, err = proc.communicate(timeout=FAULT_BOUND_S)  # a hang fails here
    finally:
        signal_all(frozen, signal.SIGCONT)
        proc.kill()
        blocker.close()
    return proc.returncode, " ".join(err.split())


def test_apply_on_a_frozen_server_fails_within_the_bound(tmp_path: Path, private_server: EmbeddedServer) -> None:
    project = Project(tmp_path, ready(private_server))
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    project.write_models(PAGES_OPTIONAL)
    project.run("migrations", "compose", "-n", "pages")
    code, said = _frozen_run(project, private_server, "migrations", "apply", waits_in="ALTER TABLE")
    assert code == 1 and SAYS in said, said
    assert "stays pending" in said and "repair partial-apply" in said, said

    version, status, _ = _ledger(project.url)[-1]  # the server, resumed, left the row as the message says
    assert version.endswith("__pages") and status == "pending"
    project.run("migrations", "repair", "partial-apply", version, "rolled-back")
    project.run("migrations", "apply")
    assert _ledger(project.url)[-1][:2] == (version, "applied")


def test_seed_on_a_frozen_server_fails_within_the_bound(tmp_path: Path, private_server: EmbeddedServer) -> None:
    project = Project(tmp_path, ready(private_server))
    with psycopg.connect(project.url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS books, authors, djogi_schema_migrations, djogi_seed_runs CASCADE")
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    seeds = project.root / "seeds" / "main"
    seeds.mkdir(parents=True)
    (seeds / "001_books.sql").write_text("LOCK TABLE books IN SHARE MODE;")
    code, said = _frozen_run(project, private_server, "db", "seed", waits_in="LOCK TABLE")
    assert code == 1 and SAYS in said and "connection is closed" not in said, said

    assert "not recorded as applied" in said, said
    done = project.run("db", "seed")  # nothing was recorded: the seed runs once the server answers
    assert "db seed: 1 applied, 0 skipped" in done.stdout, done
