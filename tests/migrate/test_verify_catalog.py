"""``verify`` against the real catalog: a database altered behind djogi's back reports exactly that drift,
against the applied snapshot and against the models; a clean database reports nothing.

Each case applies the models' migrations to a fresh database, runs the SQL of the case by hand, and
asserts the ``(code, severity, subject)`` of every diagnostic.
"""

import datetime as dt
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from djogi import Field, ForeignKey, Index, Model, field
from djogi.migrate import Bucket, apply, baseline, compose, rollback, verify
from djogi.migrate.runner.verify import VerifyReport
from djogi.model import ModelDescriptor, models, registry_scope
from tests.migrate.helpers import sql

MAIN = Bucket("main")
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _declare() -> tuple[ModelDescriptor, ...]:
    class Author(Model, table="authors"):
        name: Field[str] = field(max_length=100)
        email: Field[str] = field(unique=True)
        rating: Field[int] = field(check="rating >= 0", index=True, db_default="0", default=0)
        born: Field[date | None] = field(default=None)

    class Book(Model, table="books", indexes=(Index(columns=("title", "-rating"), name="books_title_idx"),)):
        title: Field[str]
        rating: Field[int] = field(default=0)
        author: ForeignKey[Author] = field(on_delete="cascade")

    return models()


@pytest.fixture
def declared() -> Iterator[tuple[ModelDescriptor, ...]]:
    with registry_scope(isolated=True):
        yield _declare()


@pytest.fixture
def applied(db_url: str, tmp_path: Path, declared: tuple[ModelDescriptor, ...]) -> Path:
    compose(tmp_path, declared, T1).unwrap()
    apply(db_url, tmp_path)
    return tmp_path




def _found(report: VerifyReport) -> list[tuple[str, str, str]]:
    return [(d.code, d.severity, d.subject) for d in report.diagnostics]


def test_a_clean_database_reports_nothing(db_url: str, applied: Path, declared: tuple[ModelDescriptor, ...]) -> None:
    report = verify(db_url, applied, MAIN, models=declared)
    assert report.ok and report.models_compared and report.diagnostics == ()


DRIFT = {
    "missing column": ('ALTER TABLE "authors" DROP COLUMN "born"', [("D603", "error", "authors.born")]),
    "extra column": ('ALTER TABLE "authors" ADD COLUMN "nick" TEXT', [("D604", "error", "authors.nick")]),
    "altered type": ('ALTER TABLE "authors" ALTER COLUMN "name" TYPE TEXT', [("D606", "error", "authors.name")]),
    "nullability": ('ALTER TABLE "books" ALTER COLUMN "title" DROP NOT NULL', [("D605", "error", "books.title")]),
    "default": ('ALTER TABLE "authors" ALTER COLUMN "rating" SET DEFAULT 5', [("D607", "error", "authors.rating")]),
    "dropped default": ('ALTER TABLE "authors" ALTER COLUMN "rating" DROP DEFAULT',
                        [("D607", "error", "authors.rating")]),
    "dropped foreign key": ('ALTER TABLE "books" DROP CONSTRAINT "books_author_id_fkey"',
                            [("D609", "error", "books.author_id")]),
    "foreign key action": (
        'ALTER TABLE "books" DROP CONSTRAINT "books_author_id_fkey", ADD CONSTRAINT "books_author_id_fkey" '
        'FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE SET NULL',
        [("D609", "error", "books.author_id")],
    ),
    "foreign key ON UPDATE": (
        'ALTER TABLE "books" DROP CONSTRAINT "books_author_id_fkey", ADD CONSTRAINT "books_author_id_fkey" '
        'FOREIGN KEY ("author_id") REFERENCES "authors" ("id") ON DELETE CASCADE ON UPDATE CASCADE',
        [("D609", "error", "books.author_id")],  # ON UPDATE is declared (field(on_update=...)), so compared
    ),
    "dropped check": ('ALTER TABLE "authors" DROP CONSTRAINT "authors_rating_check"',
                      [("D616", "error", "authors.rating")]),
    "altered check": (
        'ALTER TABLE "authors" DROP CONSTRAINT "authors_rating_check", '
        'ADD CONSTRAINT "authors_rating_check" CHECK (rating > 1)',
        [("D616", "error", "authors.rating")],
    ),
    "extra table check": ('ALTER TABLE "books" ADD CONSTRAINT "short_title" CHECK (length(title) < 50)',
                          [("D616", "error", "books.short_title")]),
    "check left NOT VALID": (
        'ALTER TABLE "authors" DROP CONSTRAINT "authors_rating_check", '
        'ADD CONSTRAINT "authors_rating_check" CHECK (rating >= 0) NOT VALID',
        [("D643", "error", "authors.authors_rating_check")],
    ),
    "exclusion constraint": ('ALTER TABLE "books" ADD CONSTRAINT "one_rating" EXCLUDE USING btree (rating WITH =)',
                             [("D643", "error", "books.one_rating")]),
    "composite foreign key": (
        'ALTER TABLE "authors" ADD CONSTRAINT "authors_pair" UNIQUE ("id", "rating");'
        'ALTER TABLE "books" ADD CONSTRAINT "books_pair" FOREIGN KEY ("author_id", "rating") '
        'REFERENCES "authors" ("id", "rating")',
        [("D609", "error", "books.books_pair"), ("D611", "error", "authors_pair")],
    ),
    "dropped unique": ('ALTER TABLE "authors" DROP CONSTRAINT "authors_email_key"',
                       [("D610", "error", "authors_email_key")]),
    "extra unique index": ('CREATE UNIQUE INDEX "books_title_key" ON "books" ("title")',
                           [("D611", "error", "books_title_key")]),
    "extra plain index": ('CREATE INDEX "books_rating_idx" ON "books" ("rating")',
                          [("D611", "warning", "books_rating_idx")]),
    "dropped index": ('DROP INDEX "authors_rating_idx"', [("D610", "error", "authors_rating_idx")]),
    "altered index": ('DROP INDEX "books_title_idx"; CREATE INDEX "books_title_idx" ON "books" ("title", "rating")',
                      [("D612", "error", "books_title_idx")]),
    "index access method": ('DROP INDEX "authors_rating_idx"; CREATE INDEX "authors_rating_idx" ON "authors" '
                            'USING hash ("rating")', [("D614", "warning", "authors_rating_idx")]),
    "primary key": ('ALTER TABLE "books" DROP CONSTRAINT "books_pkey"', [("D608", "error", "books")]),
    "extra table": ('CREATE TABLE "legacy" ("x" INTEGER)', [("D602", "error", "legacy")]),
    "dropped table": ('DROP TABLE "books"', [("D601", "error", "books")]),
}


@pytest.mark.parametrize("case", list(DRIFT), ids=list(DRIFT))
def test_drift_behind_djogis_back_is_reported(
    case: str, db_url: str, applied: Path, declared: tuple[ModelDescriptor, ...]
) -> None:
    drift, expected = DRIFT[case]
    sql(db_url, drift)
    with_models = verify(db_url, applied, MAIN, models=declared)
    assert _found(with_models) == expected
    assert _found(verify(db_url, applied, MAIN)) == expected  # the snapshot alone finds it too
    assert with_models.ok == all(severity != "error" for _, severity, _ in expected)


def test_a_baselined_database_is_compared_with_the_models(db_url: str, tmp_path: Path) -> None:
    """``baseline`` reads its snapshot from the database, so only the models can tell that they do not
    map it: before, verify after a baseline always passed."""
    sql(db_url, 'CREATE TABLE "authors" ("id" BIGINT PRIMARY KEY, "name" VARCHAR(50) NOT NULL, "extra" TEXT)')
    baseline(db_url, tmp_path, MAIN, "V20250101000000__adopted", "existing schema")
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    with registry_scope(isolated=True):

        class Author(Model, table="authors"):
            name: Field[str] = field(max_length=100)

        report = verify(db_url, tmp_path, MAIN, models=models())
    assert not report.ok and report.models_compared
    assert _found(report) == [
        ("D608", "error", "authors"),  # a BIGINT key with no default is not the models' HeerId key
        ("D607", "error", "authors.id"),
        ("D603", "error", "authors.created_at"),
        ("D603", "error", "authors.updated_at"),
        ("D606", "error", "authors.name"),
        ("D604", "error", "authors.extra"),
    ]
    messages = {d.subject: d.message for d in report.diagnostics}
    assert messages["authors.name"] == "type VARCHAR(50); models: VARCHAR(100)"
    assert messages["authors.extra"] == "column in the database is absent from the models"


def test_models_are_not_compared_while_migrations_are_pending(
    db_url: str, applied: Path, declared: tuple[ModelDescriptor, ...]
) -> None:
    with registry_scope(isolated=True):

        class Author(Model, table="authors"):
            name: Field[str] = field(max_length=100)
            pages: Field[int | None] = field(default=None)

        compose(applied, models(), T1 + dt.timedelta(days=1), slug="more", allow_destructive=True).unwrap()
        report = verify(db_url, applied, MAIN, models=models())
    assert report.ok and not report.models_compared
    assert [d.code for d in report.diagnostics] == ["D642", "D619"]


def test_models_differing_from_an_applied_snapshot_are_reported(
    db_url: str, applied: Path, declared: tuple[ModelDescriptor, ...]
) -> None:
    """Models edited with no migration composed: the database matches the snapshot, not the models."""
    with registry_scope(isolated=True):
        _declare()

        class Review(Model, table="reviews"):
            stars: Field[int] = field(default=5)

        report = verify(db_url, applied, MAIN, models=models())
    assert _found(report) == [("D601", "error", "reviews")]
    assert report.diagnostics[0].message == "table in the models is missing from the database"


def test_rollback_compares_table_checks_with_the_previous_snapshot(
    db_url: str, applied: Path, declared: tuple[ModelDescriptor, ...]
) -> None:
    with registry_scope(isolated=True):
        _declare()

        class Review(Model, table="reviews"):
            stars: Field[int] = field(default=5)

        compose(applied, models(), T1 + dt.timedelta(days=1), slug="reviews").unwrap()
    apply(db_url, applied)
    sql(db_url, 'ALTER TABLE "books" ADD CONSTRAINT "short_title" CHECK (length(title) < 50)')
    report = rollback(db_url, applied, MAIN, allow_data_loss=True, reason="test")
    assert not report.ok and [(d.code, d.subject) for d in report.diagnostics] == [("D616", "books.short_title")]
