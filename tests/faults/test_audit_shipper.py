"""The audit shipper against a crud_log database on a second real server that goes down: ``djogi audit ship``
runs as a real process, is killed with SIGKILL mid-stream and stopped with SIGTERM; the log server is
stopped while writes go on. Nothing is lost, nothing is duplicated, the order of the trail is kept."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql as pgsql

from djogi.embedded import EmbeddedServer
from tests.cli.helpers import DJOGI, Project
from tests.faults.helpers import FAULT_BOUND_S
from tests.migrate.helpers import sql

ACCOUNT = '''
from djogi import Audit, Field, Model

class Account(Model, table="aud_accounts", audit=Audit(exclude=("password",))):
    email: Field[str]
    password: Field[str]
    balance: Field[int] = 0
'''
TRAIL = "SELECT id, row_key, action, after ->> 'balance' FROM djogi_audit ORDER BY id"


def _log_database(server: EmbeddedServer) -> str:
    server.start()
    with psycopg.connect(server.url(), autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = 'crud_log'").fetchone() is None:
            admin.execute(pgsql.SQL("CREATE DATABASE crud_log"))
    return server.url("crud_log")




def _write(url: str, start: int, count: int) -> list[tuple[str, str, str]]:
    """``count`` accounts inserted, then each updated (outside djogi); the trail they should leave."""
    expected = []
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(start, start + count):
            conn.execute("INSERT INTO aud_accounts (id, email, password, balance) VALUES (%s, %s, 'h', 0)",
                         (n, f"{n}@x"))  # fmt: skip
            conn.execute("UPDATE aud_accounts SET balance = %s WHERE id = %s", (n * 10, n))
            expected += [(str(n), "insert", "0"), (str(n), "update", str(n * 10))]
    return expected


def _until(condition: str, check: object) -> None:
    """Wait (bounded by ``FAULT_BOUND_S``) until ``check()`` is true."""
    deadline = time.monotonic() + FAULT_BOUND_S
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting until {condition}"
        time.sleep(0.05)


def _count(url: str) -> int:
    return int(str(sql(url, "SELECT count(*) FROM djogi_audit")[0][0]))


def test_nothing_is_lost_nor_duplicated_and_order_is_kept(tmp_path: Path, db_url: str,
                                                          private_server: EmbeddedServer) -> None:  # fmt: skip
    log_url = _log_database(private_server)
    project = Project(tmp_path, db_url)
    project.write_models(ACCOUNT)
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    (project.root / "Djogi.toml").write_text('[project]\nmodels = ["shop.models"]\n\n[database.crud_log]\n')
    env = project.env(CRUD_LOG_URL=log_url)

    def shipper(name: str) -> tuple[subprocess.Popen[bytes], Path]:
        out = tmp_path / f"{name}.log"
        with out.open("wb") as sink:
            proc = subprocess.Popen([DJOGI, "audit", "ship", "--batch", "50", "--poll", "0.05"], cwd=project.root,
                                    env=env, stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip
        return proc, out

    # The shipper is stopped: the trail waits in the buffer.
    expected = _write(db_url, 1, 300)
    assert _count(db_url) == 600
    first, first_log = shipper("first")
    try:
        _until("the log has some rows", lambda: _count(log_url) > 0 if _table(log_url) else False)
        first.send_signal(signal.SIGKILL)  # mid-stream: the buffer is not empty yet (600 rows, 50 a batch)
        first.wait(FAULT_BOUND_S)
    finally:
        first.kill()
    assert _count(log_url) > 0 and _count(db_url) + _count(log_url) >= 600

    # The log server goes down; writes go on; a new shipper waits it out without losing anything.
    private_server.stop()
    second, second_log = shipper("second")
    try:
        expected += _write(db_url, 301, 100)
        _until("the shipper found the log down", lambda: "retrying in" in second_log.read_text())
        assert _count(db_url) >= 200  # nothing left the buffer: the log is unreachable
        private_server.start()
        _until("the buffer is empty", lambda: _count(db_url) == 0)
        expected += _write(db_url, 401, 20)
        _until("the buffer is empty again", lambda: _count(db_url) == 0)
        second.send_signal(signal.SIGTERM)
        assert second.wait(FAULT_BOUND_S) == 0
    finally:
        second.kill()
    said = second_log.read_text()
    assert "retrying in" in said and "done:" in said, said
    trail = sql(log_url, TRAIL)
    assert [row[1:] for row in trail] == expected
    assert [row[0] for row in trail] == sorted({row[0] for row in trail})
    assert first_log.exists()


def _table(url: str) -> bool:
    return bool(sql(url, "SELECT to_regclass('djogi_audit') IS NOT NULL")[0][0])
