"""The shipper on real databases: main's buffer to a crud_log database, in order, without duplicates."""

from __future__ import annotations

import threading
from pathlib import Path

import anyio
import psycopg
import pytest

from djogi.audit import ShipBatch, ShipperBusy, drain, history, run
from djogi.audit.ship import SHIP_LOCK
from djogi.errors import ConnectionFailure, ValidationError
from djogi.executor import connect
from djogi.migrate.audit import audit_table_sql
from tests.audit.helpers import Account, migrate
from tests.cli.helpers import Project
from tests.migrate.helpers import sql

ACCOUNT = '''
from djogi import Audit, Field, Model

class Account(Model, table="aud_accounts", audit=Audit(exclude=("password",))):
    email: Field[str]
    password: Field[str]
    balance: Field[int] = 0
'''


@pytest.fixture
def log_url(blank_url: str) -> str:
    """An empty database standing for crud_log."""
    return blank_url


def _write(url: str, start: int, count: int) -> None:
    """``count`` accounts inserted, then each updated: 2 * count audit rows."""
    with psycopg.connect(url, autocommit=True) as conn:
        for n in range(start, start + count):
            conn.execute("INSERT INTO aud_accounts (id, email, password, balance) VALUES (%s, %s, 'h', 0)",
                         (n, f"{n}@x"))  # fmt: skip
            conn.execute("UPDATE aud_accounts SET balance = %s WHERE id = %s", (n * 10, n))


TRAIL = "SELECT id, row_key, action, after ->> 'balance' FROM djogi_audit ORDER BY id"


def test_drain_moves_every_row_in_order_and_empties_the_buffer(db_url: str, log_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    _write(db_url, 1, 10)
    buffered = sql(db_url, TRAIL)
    seen: list[ShipBatch] = []
    report = drain(db_url, log_url, batch=3, on_batch=seen.append)
    assert (report.rows, report.batches, report.last_id) == (20, 7, buffered[-1][0])
    assert [b.rows for b in seen] == [3, 3, 3, 3, 3, 3, 2] and seen[0].first_id == buffered[0][0]
    assert sql(log_url, TRAIL) == buffered
    assert sql(db_url, TRAIL) == []
    assert drain(db_url, log_url).rows == 0


def test_rows_shipped_twice_are_kept_once(db_url: str, log_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    _write(db_url, 1, 4)
    buffered = sql(db_url, "SELECT * FROM djogi_audit ORDER BY id")
    # A shipper that committed the first 5 rows to the log and died before deleting them from the buffer:
    first = sql(db_url, "SELECT jsonb_agg(to_jsonb(a) ORDER BY id)::text FROM (SELECT * FROM djogi_audit "
                         "ORDER BY id LIMIT 5) a")[0][0]  # fmt: skip
    sql(log_url, audit_table_sql(buffer=False))
    sql(log_url, "INSERT INTO djogi_audit SELECT * FROM jsonb_populate_recordset(NULL::djogi_audit, %s::jsonb)",
         (first,))
    assert drain(db_url, log_url).rows == 8
    assert sql(log_url, "SELECT * FROM djogi_audit ORDER BY id") == buffered


def test_history_reads_the_log_and_the_buffer(db_url: str, log_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    _write(db_url, 1, 1)
    drain(db_url, log_url)
    sql(db_url, "DELETE FROM aud_accounts")

    async def read() -> list[str]:
        async with connect(db_url) as main, connect(log_url) as log:
            alone = await history(main, Account, 1)
            assert [e.action for e in alone] == ["delete"]
            return [e.action for e in await history(main, Account, 1, log=log)]

    assert anyio.run(read) == ["insert", "update", "delete"]


def test_run_ships_until_stopped(db_url: str, log_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    stop = threading.Event()
    shipped = threading.Event()
    result: list[object] = []

    def note(batch: ShipBatch) -> None:
        if sql(db_url, "SELECT count(*) FROM djogi_audit") == [(0,)]:
            shipped.set()

    worker = threading.Thread(target=lambda: result.append(run(db_url, log_url, stop=stop, poll=0.02, on_batch=note)))
    worker.start()
    try:
        _write(db_url, 1, 5)
        assert shipped.wait(60)
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()
    assert len(sql(log_url, TRAIL)) == 10 and sql(db_url, TRAIL) == []


def test_one_shipper_at_a_time(db_url: str, log_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (SHIP_LOCK,))
        with pytest.raises(ShipperBusy, match="another audit shipper is running"):
            drain(db_url, log_url)
        with pytest.raises(ShipperBusy):
            run(db_url, log_url, stop=threading.Event())


def test_the_shipper_refuses_what_it_cannot_do(db_url: str, tmp_path: Path) -> None:
    migrate(db_url, tmp_path)
    with pytest.raises(ValidationError, match="source and target are the same database"):
        drain(db_url, db_url)
    with pytest.raises(ValidationError, match="batch must be a positive int, not 0"):
        drain(db_url, db_url + "x", batch=0)
    _write(db_url, 1, 1)
    with pytest.raises(ConnectionFailure):
        drain(db_url, "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    assert len(sql(db_url, TRAIL)) == 2


def test_the_cli_ships_once_or_refuses_without_crud_log(db_url: str, log_url: str, tmp_path: Path) -> None:
    project = Project(tmp_path, db_url)
    project.write_models(ACCOUNT)
    project.run("migrations", "compose")
    project.run("migrations", "apply")
    project.refused("audit", "ship", "--once", says="no crud_log database is configured")
    _write(db_url, 1, 3)
    (project.root / "Djogi.toml").write_text('[project]\nmodels = ["shop.models"]\n\n[database.crud_log]\n')
    done = project.run("audit", "ship", "--once", "--batch", "4", CRUD_LOG_URL=log_url)
    assert "shipped 4 audit row(s)" in done.stdout and "done: 6 row(s) in 2 batch(es)" in done.stdout
    assert len(sql(log_url, TRAIL)) == 6
    report = project.json("audit", "ship", "--once", CRUD_LOG_URL=log_url)
    assert report == {"rows": 0, "batches": 0, "last_id": 0, "outages": 0}
