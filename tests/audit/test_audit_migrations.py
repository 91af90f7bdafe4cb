"""The audit trigger through compose, apply, verify and rollback on the real server."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from djogi.migrate import Bucket, apply, compose, rollback, verify
from djogi.migrate.compose import plan_compose
from djogi.model import models, registry_scope
from tests.audit.helpers import audited, excluding, plain, renamed, renamed_plain, tenanted
from tests.migrate.helpers import codes, sql

MAIN = Bucket("main")
T = [dt.datetime(2026, 1, day, tzinfo=dt.UTC) for day in range(1, 8)]


def _compose(migrations: Path, declare: Callable[[], None], now: dt.datetime) -> None:
    with registry_scope(isolated=True):
        declare()
        compose(migrations, models(), now, slug=declare.__name__, allow_destructive=True).unwrap()


def _converged(migrations: Path, declare: Callable[[], None]) -> bool:
    with registry_scope(isolated=True):
        declare()
        return plan_compose(migrations, models(), T[-1]).unwrap().empty






def _trigger(url: str) -> list[tuple[object, ...]]:
    return sql(url, "SELECT encode(tgargs, 'escape') FROM pg_trigger WHERE tgrelid = 'notes'::regclass "
                     "AND NOT tgisinternal")  # fmt: skip


def _recorded(url: str) -> list[tuple[object, ...]]:
    return sql(url, "SELECT action, after ->> 'body', after ? 'secret', after ? 'hidden' FROM djogi_audit "
                     "ORDER BY id")  # fmt: skip


def test_each_declaration_converges_verifies_and_rolls_back(db_url: str, tmp_path: Path) -> None:
    declarations = [plain, audited, excluding, tenanted, excluding, renamed, renamed_plain]
    for now, declare in zip(T, declarations, strict=True):
        _compose(tmp_path, declare, now)
        apply(db_url, tmp_path)
        assert _converged(tmp_path, declare), declare.__name__
        assert verify(db_url, tmp_path, MAIN).diagnostics == (), declare.__name__
    assert _trigger(db_url) == []
    for declare in reversed(declarations[:-1]):
        assert rollback(db_url, tmp_path, MAIN).ok
        assert codes(verify(db_url, tmp_path, MAIN)) == [], declare.__name__
    assert _trigger(db_url) == []


def test_the_trigger_records_as_declared_and_removing_the_option_keeps_the_rows(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, excluding, T[0])
    apply(db_url, tmp_path)
    assert _trigger(db_url) == [("\\0001\\000id\\000secret\\000",)]
    sql(db_url, "INSERT INTO notes (id, tenant_id, body, secret) VALUES (1, 1, 'a', 's')")
    _compose(tmp_path, renamed, T[1])
    apply(db_url, tmp_path)
    sql(db_url, "UPDATE notes SET body = 'b', hidden = 'h'")
    _compose(tmp_path, renamed_plain, T[2])
    apply(db_url, tmp_path)
    sql(db_url, "DELETE FROM notes")
    assert _trigger(db_url) == []
    assert _recorded(db_url) == [("insert", "a", False, False), ("update", "b", False, False)]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("DROP TRIGGER djogi_audit ON notes", "audit trigger: none (missing, altered or disabled reads as none); "
                                              "expected excluding secret"),
        ("ALTER TABLE notes DISABLE TRIGGER djogi_audit", "audit trigger: none"),
        ("DROP TRIGGER djogi_audit ON notes; CREATE TRIGGER djogi_audit AFTER INSERT OR UPDATE ON notes FOR EACH ROW "
         "EXECUTE FUNCTION djogi_audit_capture('', '1', 'id', 'secret')", "audit trigger: none"),
        ("DROP TRIGGER djogi_audit ON notes; CREATE TRIGGER djogi_audit AFTER INSERT OR UPDATE OR DELETE ON notes FOR "
         "EACH ROW EXECUTE FUNCTION djogi_audit_capture('', '1', 'id')", "audit trigger: recording every column "
                                                                         "(missing"),
    ],
)  # fmt: skip
def test_verify_reports_a_missing_or_altered_trigger(db_url: str, tmp_path: Path, tamper: str, message: str) -> None:
    _compose(tmp_path, excluding, T[0])
    apply(db_url, tmp_path)
    sql(db_url, tamper)
    report = verify(db_url, tmp_path, MAIN)
    assert not report.ok and codes(report) == [("D645", "notes")]
    assert message in report.diagnostics[0].message


def test_verify_reports_a_trigger_the_models_do_not_declare(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, audited, T[0])
    _compose(tmp_path, plain, T[1])
    apply(db_url, tmp_path)
    sql(db_url, "CREATE TRIGGER djogi_audit AFTER INSERT OR UPDATE OR DELETE ON notes FOR EACH ROW "
                 "EXECUTE FUNCTION djogi_audit_capture('', '1', 'id')")  # fmt: skip
    report = verify(db_url, tmp_path, MAIN)
    assert [(d.code, d.message) for d in report.diagnostics] == [
        ("D645", "audit trigger: recording every column (missing, altered or disabled reads as none); expected none")
    ]
