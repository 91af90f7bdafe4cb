"""Compose -> apply -> introspect/verify -> rollback against a real PostgreSQL 18."""

import datetime as dt
from pathlib import Path

import psycopg
import pytest

import djogi
from djogi import Field, ForeignKey, Index, Model, field
from djogi.migrate import Bucket, MigrationError, apply, compose, introspect, rollback, status, verify
from djogi.migrate.snapshot import load
from djogi.model import models, registry_scope

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
MAIN = Bucket("main")


class Tone(djogi.Enum):
    LOW = "low"
    HIGH = "high"


def _declare_v1() -> None:
    class Author(Model, table="authors"):
        name: Field[str] = field(max_length=200, index=True)
        email: Field[str] = field(unique=True, comment="login")
        born: Field[dt.date | None] = field(default=None)

    class Book(Model, table="books", indexes=(Index(columns=("-price", "title")),), comment="books"):
        title: Field[str]
        author: ForeignKey["Author"]
        tone: Field[Tone] = field(default=Tone.LOW)
        price: Field[float] = field(check="price >= 0", db_default="0", default=0.0)
        tags: Field[list[str]] = field(default=[])


def test_compose_apply_verify_rollback(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        _declare_v1()
        plan = compose(tmp_path, models(), NOW).unwrap()
    assert plan.version == "V20260102030405__initial"
    report = apply(db_url, tmp_path)
    assert report.applied == ("V00000000000000__phase_zero_bootstrap", plan.version)
    with psycopg.connect(db_url, autocommit=True) as conn:
        live = introspect(conn)
    snap = load(tmp_path / "main" / "_global_" / "schema_snapshot.json").unwrap()
    assert live.structure() == snap.structure()
    assert verify(db_url, tmp_path, MAIN).ok
    assert apply(db_url, tmp_path).applied == ()
    st = status(db_url, tmp_path)
    assert st.healthy and st.buckets[0].pending == ()
    assert rollback(db_url, tmp_path, MAIN).rolled_back == (plan.version,)
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert introspect(conn).models == {}
    with pytest.raises(MigrationError) as info:
        rollback(db_url, tmp_path, MAIN)
    assert info.value.refusal
    assert apply(db_url, tmp_path).applied == (plan.version,)


def test_rolling_back_a_dropped_column_restores_its_comment(db_url: str, tmp_path: Path) -> None:
    """Found by the migration convergence property test: the down of a DROP COLUMN re-added the column
    without its comment, so the catalog after rollback differed from the previous snapshot (D617)."""

    def declare(with_note: bool) -> None:
        with registry_scope(isolated=True):
            if with_note:

                class Memo(Model, table="memos"):
                    title: Field[str]
                    note: Field[str | None] = field(comment="a column", default=None)

            else:

                class Memo(Model, table="memos"):  # type: ignore[no-redef]
                    title: Field[str]

            compose(tmp_path, models(), NOW + dt.timedelta(seconds=int(not with_note)), allow_destructive=True).unwrap()

    declare(True)
    apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        before = introspect(conn).structure()
    declare(False)
    apply(db_url, tmp_path)
    report = rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test")
    assert report.ok and report.diagnostics == ()
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert introspect(conn).structure() == before


def test_a_failing_segment_is_worded_by_the_executor_translation(db_url: str, tmp_path: Path) -> None:
    """The runner's failures go through ``djogi.executor.errors.translate``: the message ends with the
    server's ``[SQLSTATE ...]``, kept in ``MigrationError.sqlstate`` and in the ledger note."""
    with registry_scope(isolated=True):
        _declare_v1()
        version = compose(tmp_path, models(), NOW).unwrap().version
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE authors (id int)")
    with pytest.raises(MigrationError) as failed:
        apply(db_url, tmp_path)
    error = failed.value
    assert not error.refusal and error.sqlstate == "42P07"
    assert str(error) == (f'main/_global_ {version}: transactional segment 1 failed: relation "authors" already '
                          "exists [SQLSTATE 42P07]")  # fmt: skip
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("SELECT status, partial_apply_note FROM djogi_schema_migrations WHERE version = %s",
                           (version,)).fetchone()  # fmt: skip
    assert row == ("failed", 'transactional segment 1 failed: relation "authors" already exists [SQLSTATE 42P07]')
