"""A project whose committed bootstrap migration installs the previous HeeRanjID SQL: compose emits an
upgrade migration (once), apply runs it, and the database then generates keys from the clocks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg

from djogi import Field, Model
from djogi.heer_sql import installed_sql
from djogi.migrate import Bucket, apply, compose, verify
from djogi.migrate.checksum import GLOBAL_DIR, PHASE_ZERO_VERSION
from djogi.migrate.emit import render_steps, write
from djogi.migrate.operations import Step
from djogi.migrate.snapshot import EMPTY
from djogi.model import models, registry_scope
from tests.keys.helpers import V1_SQL

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def _declare() -> None:
    class Note(Model, table="notes"):
        body: Field[str]


def test_compose_upgrades_an_older_bootstrap_once(empty_db: str, tmp_path: Path) -> None:
    old = render_steps((Step(label="PhaseZero heeranjid", up=V1_SQL, down="-- no reverse: the bootstrap stays"),),
                       PHASE_ZERO_VERSION, f"main/{GLOBAL_DIR}", "additive", snapshot=EMPTY)
    write(old, tmp_path / "main" / GLOBAL_DIR).unwrap()
    with registry_scope(isolated=True):
        _declare()
        first = compose(tmp_path, models(), NOW).unwrap()
    assert [db for db, _ in first.bootstraps] == ["main"]  # the committed bootstrap is old: upgrade
    upgrade = first.bootstraps[0][1].version
    assert upgrade == "V20260102030404__heeranjid_upgrade" and upgrade < first.version
    assert apply(empty_db, tmp_path).applied == (PHASE_ZERO_VERSION, upgrade, first.version)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute(installed_sql()).fetchone() == (True,)
        ids = [r[0] for r in conn.execute(
            "INSERT INTO notes (body) SELECT 'n' FROM generate_series(1, 1000) RETURNING id")]
        assert len(set(ids)) == 1000
    assert verify(empty_db, tmp_path, Bucket("main")).ok
    with registry_scope(isolated=True):
        _declare()
        again = compose(tmp_path, models(), NOW + dt.timedelta(hours=1)).unwrap()
    assert again.empty  # upgraded once: nothing more to write


def test_an_old_database_upgrades_without_model_changes(empty_db: str, tmp_path: Path) -> None:
    """The upgrade does not wait for a model change: compose emits it on its own."""
    old = render_steps((Step(label="PhaseZero heeranjid", up=V1_SQL, down="-- no reverse: the bootstrap stays"),),
                       PHASE_ZERO_VERSION, f"main/{GLOBAL_DIR}", "additive", snapshot=EMPTY)
    write(old, tmp_path / "main" / GLOBAL_DIR).unwrap()
    assert apply(empty_db, tmp_path).applied == (PHASE_ZERO_VERSION,)
    with registry_scope(isolated=True):
        plan = compose(tmp_path, models(), NOW).unwrap()
    assert not plan.buckets and len(plan.bootstraps) == 1
    assert apply(empty_db, tmp_path).applied == (plan.bootstraps[0][1].version,)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert conn.execute(installed_sql()).fetchone() == (True,)
