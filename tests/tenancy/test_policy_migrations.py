"""Tenant policies through compose, apply, verify and rollback on the real server."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from djogi.migrate import Bucket, apply, compose, rollback, verify
from djogi.model import models, registry_scope
from tests.migrate.helpers import codes, sql
from tests.tenancy.helpers import keyed, plain, rekeyed

MAIN = Bucket("main")
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)


def _compose(migrations: Path, declare: Callable[[], None], now: dt.datetime) -> None:
    with registry_scope(isolated=True):
        declare()
        compose(migrations, models(), now, slug=declare.__name__.strip("_"), allow_destructive=True).unwrap()






def _state(url: str) -> tuple[object, ...]:
    return sql(url, "SELECT c.relrowsecurity, c.relforcerowsecurity, count(p.oid) FROM pg_class c LEFT JOIN "
                     "pg_policy p ON p.polrelid = c.oid WHERE c.relname = 'notes' GROUP BY 1, 2")[0]  # fmt: skip


def test_adding_changing_and_removing_the_option_round_trips(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, plain, T1)
    _compose(tmp_path, keyed, T2)
    _compose(tmp_path, rekeyed, T3)
    apply(db_url, tmp_path)
    assert _state(db_url) == (True, True, 1) and verify(db_url, tmp_path, MAIN).diagnostics == ()
    assert rollback(db_url, tmp_path, MAIN).ok  # back to tenant_id as the key
    assert _state(db_url) == (True, True, 1) and codes(verify(db_url, tmp_path, MAIN)) == []
    assert rollback(db_url, tmp_path, MAIN).ok  # back to no tenancy
    assert _state(db_url) == (False, False, 0) and codes(verify(db_url, tmp_path, MAIN)) == []
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ('DROP POLICY "tenant_isolation" ON "notes"', "the tenant isolation policy on tenant_id is missing"),
        ("ALTER POLICY tenant_isolation ON notes USING (true)", "the tenant isolation policy on tenant_id is missing"),
        ("ALTER POLICY tenant_isolation ON notes WITH CHECK (tenant_id > 0)", "is missing, altered or not forced"),
        ("ALTER TABLE notes NO FORCE ROW LEVEL SECURITY", "is missing, altered or not forced"),
        ("CREATE POLICY extra ON notes FOR SELECT USING (true)", "is missing, altered or not forced"),
        ("ALTER TABLE notes DISABLE ROW LEVEL SECURITY", "row-level security is disabled, expected enabled"),
    ],
)
def test_verify_reports_a_missing_or_altered_policy(db_url: str, tmp_path: Path, tamper: str, message: str) -> None:
    _compose(tmp_path, keyed, T1)
    apply(db_url, tmp_path)
    sql(db_url, tamper)
    report = verify(db_url, tmp_path, MAIN)
    assert not report.ok and codes(report) == [("D640", "notes")]
    assert message in report.diagnostics[0].message


def test_verify_reports_row_level_security_the_model_does_not_declare(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, plain, T1)
    apply(db_url, tmp_path)
    sql(db_url, "ALTER TABLE notes ENABLE ROW LEVEL SECURITY")
    report = verify(db_url, tmp_path, MAIN)
    assert [(d.code, d.message) for d in report.diagnostics] == [
        ("D640", "row-level security is enabled, expected disabled")
    ]
