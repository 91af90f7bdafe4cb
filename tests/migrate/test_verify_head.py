"""``verify`` and ``rollback`` compare the live schema with the snapshot of the bucket's applied head.

compose writes ``<version>.snapshot.json`` next to each migration (the schema once it is applied; the
bootstrap's is empty). After a rollback the head is the previous migration, so verify is clean apart
from ``D619`` warnings for the rolled-back migrations; real drift against the head is still reported;
migrations composed before the sibling files existed fall back to ``schema_snapshot.json`` with ``D630``.
"""

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from djogi import Field, Model, field
from djogi.migrate import (
    Bucket,
    RollbackReport,
    VerifyReport,
    apply,
    baseline,
    check,
    compose,
    repair_snapshot_rebuild,
    rollback,
    verify,
)
from djogi.migrate.checksum import PHASE_ZERO_VERSION
from djogi.migrate.snapshot import EMPTY, decode, encode, load
from djogi.model import models, registry_scope
from tests.migrate.helpers import sql

MAIN = Bucket("main")
SHOP = Bucket("main", "shop")
T1 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 1, 3, tzinfo=dt.UTC)
V1 = "V20260101000000__initial"
V2 = "V20260102000000__v2"


def _v1() -> None:
    class Author(Model, table="authors"):
        name: Field[str]


def _v2() -> None:
    class Author(Model, table="authors"):
        name: Field[str]
        born: Field[int | None] = field(default=None)

    class Review(Model, table="reviews"):
        stars: Field[int] = field(default=5)


def _compose(migrations: Path, declare: Callable[[], None], now: dt.datetime, slug: str | None = None) -> None:
    with registry_scope(isolated=True):
        declare()
        compose(migrations, models(), now, slug=slug, allow_destructive=True).unwrap()


def _two(migrations: Path) -> Path:
    _compose(migrations, _v1, T1)
    _compose(migrations, _v2, T2, "v2")
    return migrations / "main" / "_global_"


def _codes(report: VerifyReport | RollbackReport) -> list[tuple[str, str]]:
    return [(d.code, d.subject) for d in report.diagnostics]




def test_compose_writes_a_snapshot_per_migration(tmp_path: Path) -> None:
    folder = _two(tmp_path)
    assert load(folder / f"{PHASE_ZERO_VERSION}.snapshot.json").unwrap() == EMPTY
    first = load(folder / f"{V1}.snapshot.json").unwrap()
    assert set(first.models) == {"authors"}
    assert (folder / f"{V2}.snapshot.json").read_bytes() == (folder / "schema_snapshot.json").read_bytes()
    assert decode(encode(first)).unwrap() == first
    with registry_scope(isolated=True):
        _v2()
        assert check(tmp_path, models()).ok
        (folder / f"{V1}.snapshot.json").write_text("{not json")
        assert [f.rule for f in check(tmp_path, models()).findings] == ["M003"]
    again = tmp_path / "again"
    _compose(again, _v1, T1)
    sibling = again / "main" / "_global_" / f"{V1}.snapshot.json"
    sibling.write_text(sibling.read_text().replace('"authors"', '"writers"'))
    (again / "main" / "_global_" / "schema_snapshot.json").unlink()
    with registry_scope(isolated=True):
        _v1()
        refused = compose(again, models(), T1)
    assert "D013" in refused.failure() and sibling.name in refused.failure()


def test_verify_is_clean_after_rollback_and_before_apply(db_url: str, tmp_path: Path) -> None:
    _compose(tmp_path, _v1, T1)
    assert apply(db_url, tmp_path).applied == (PHASE_ZERO_VERSION, V1)
    _compose(tmp_path, _v2, T2, "v2")
    pending = verify(db_url, tmp_path, MAIN)  # composed, not applied: the schema is still v1's
    assert pending.ok and pending.head == V1 and _codes(pending) == [("D619", V2)]
    apply(db_url, tmp_path)
    applied = verify(db_url, tmp_path, MAIN)
    assert applied.ok and applied.head == V2 and applied.diagnostics == ()

    report = rollback(db_url, tmp_path, MAIN)
    assert report.rolled_back == (V2,) and report.head == V1 and report.ok and report.diagnostics == ()
    after = verify(db_url, tmp_path, MAIN)
    assert after.ok and after.head == V1 and _codes(after) == [("D619", V2)]
    assert [d.severity for d in after.diagnostics] == ["warning"]

    report = rollback(db_url, tmp_path, MAIN)  # down to the bootstrap: an empty schema
    assert report.head == PHASE_ZERO_VERSION and report.ok
    emptied = verify(db_url, tmp_path, MAIN)
    assert emptied.ok and _codes(emptied) == [("D619", V1), ("D619", V2)]
    assert apply(db_url, tmp_path).applied == (V1, V2)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()


def test_verify_reports_real_drift_against_the_head(db_url: str, tmp_path: Path) -> None:
    _two(tmp_path)
    apply(db_url, tmp_path)
    rollback(db_url, tmp_path, MAIN)
    sql(db_url, 'ALTER TABLE "authors" ADD COLUMN "born" BIGINT')  # v2's column, by hand
    report = verify(db_url, tmp_path, MAIN)
    assert not report.ok and report.head == V1
    assert _codes(report) == [("D604", "authors.born"), ("D619", V2)]
    sql(db_url, 'ALTER TABLE "authors" DROP COLUMN "born"')
    sql(db_url, 'DROP TABLE "authors"')
    missing = verify(db_url, tmp_path, MAIN)
    assert ("D601", "authors") in _codes(missing) and not missing.ok


def test_rollback_reports_a_schema_that_differs_from_the_head(db_url: str, tmp_path: Path) -> None:
    folder = _two(tmp_path)
    apply(db_url, tmp_path)
    down = folder / f"{V2}.down.sdjql"
    sql(db_url, 'CREATE TABLE "stray" ("id" BIGINT PRIMARY KEY)')
    report = rollback(db_url, tmp_path, MAIN)
    assert report.rolled_back == (V2,) and report.head == V1
    assert not report.ok and _codes(report) == [("D602", "stray")]
    assert down.is_file()


def test_rollback_to_a_version_checks_that_version(db_url: str, tmp_path: Path) -> None:
    _two(tmp_path)
    with registry_scope(isolated=True):
        _v1()
        compose(tmp_path, models(), T3, slug="drop", allow_destructive=True).unwrap()  # v3 drops what v2 added
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    report = rollback(db_url, tmp_path, MAIN, to=V2, allow_data_loss=True, reason="test")
    assert report.head == V2 and report.ok
    assert verify(db_url, tmp_path, MAIN).ok
    report = rollback(db_url, tmp_path, MAIN, to=V1)
    assert report.rolled_back == (V2,) and report.head == V1 and report.ok


def test_migrations_without_a_snapshot_file_fall_back_with_d630(db_url: str, tmp_path: Path) -> None:
    folder = _two(tmp_path)
    for version in (PHASE_ZERO_VERSION, V1):  # as if composed by an older djogi
        (folder / f"{version}.snapshot.json").unlink()
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()  # head = newest: schema_snapshot.json, as before
    report = rollback(db_url, tmp_path, MAIN)  # cannot know V1's schema: says so, checks nothing
    assert report.head == V1 and report.ok
    [note] = report.diagnostics
    assert (note.code, note.severity, note.subject) == ("D630", "warning", V1)
    assert "composed before djogi kept a snapshot per migration" in note.message and "not checked" in note.message
    after = verify(db_url, tmp_path, MAIN)  # today's comparison with the newest composed snapshot
    assert not after.ok
    assert [d.code for d in after.diagnostics] == ["D630", "D601", "D603", "D619"]
    assert "compared with schema_snapshot.json" in after.diagnostics[0].message
    rollback(db_url, tmp_path, MAIN)  # the bootstrap needs no file: its schema is empty
    assert _codes(verify(db_url, tmp_path, MAIN)) == [("D619", V1), ("D619", V2)]


def test_app_bucket_rollback_sees_tables_only_the_head_has(db_url: str, tmp_path: Path) -> None:
    def shop_v1() -> None:
        class Note(Model, table="notes"):
            body: Field[str]

        class Order(Model, table="orders", app="shop"):
            total: Field[int]

        class Cart(Model, table="carts", app="shop"):
            size: Field[int]

    def shop_v2() -> None:
        class Note(Model, table="notes"):
            body: Field[str]

        class Order(Model, table="orders", app="shop"):
            total: Field[int]

    _compose(tmp_path, shop_v1, T1)
    _compose(tmp_path, shop_v2, T2, "v2")  # drops carts: schema_snapshot.json no longer names it
    apply(db_url, tmp_path)
    assert verify(db_url, tmp_path, SHOP).diagnostics == ()
    report = rollback(db_url, tmp_path, SHOP, allow_data_loss=True, reason="test")
    assert report.head == V1 and report.ok, report.diagnostics
    assert _codes(verify(db_url, tmp_path, SHOP)) == [("D619", V2)]
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    sql(db_url, 'DROP TABLE "carts"')
    assert ("D601", "carts") in _codes(verify(db_url, tmp_path, SHOP))


def test_baseline_is_a_head_and_snapshot_rebuild_still_settles_verify(db_url: str, tmp_path: Path) -> None:
    sql(db_url, 'CREATE TABLE "legacy" ("id" BIGINT PRIMARY KEY, "name" TEXT NOT NULL)')
    adopted = "V20250101000000__adopted"
    baseline(db_url, tmp_path, MAIN, adopted, "existing schema")
    folder = tmp_path / "main" / "_global_"
    assert (folder / f"{adopted}.snapshot.json").read_bytes() == (folder / "schema_snapshot.json").read_bytes()
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()

    with registry_scope(isolated=True):

        class Review(Model, table="reviews"):
            stars: Field[int] = field(default=5)

        version = compose(tmp_path, models(), T2, slug="reviews", allow_destructive=True).unwrap().version
    assert apply(db_url, tmp_path).applied == (version,)  # baseline installed the bootstrap before its own row
    assert verify(db_url, tmp_path, MAIN).diagnostics == ()
    report = rollback(db_url, tmp_path, MAIN, allow_data_loss=True, reason="test")
    # The head is the baseline again: the schema is the baseline's, legacy included.
    assert report.rolled_back == (version,) and report.head == adopted and report.ok, report.diagnostics
    assert _codes(verify(db_url, tmp_path, MAIN)) == [("D619", version)]

    apply(db_url, tmp_path)
    sql(db_url, 'ALTER TABLE "reviews" ADD COLUMN "extra" TEXT')
    assert _codes(verify(db_url, tmp_path, MAIN))[0] == ("D604", "reviews.extra")
    rebuilt = repair_snapshot_rebuild(db_url, tmp_path, MAIN)
    assert rebuilt.models["reviews"].column("extra") is not None
    assert _codes(verify(db_url, tmp_path, MAIN)) == []


@pytest.fixture(autouse=True)
def _isolated_registry() -> Iterator[None]:
    with registry_scope(isolated=True):
        yield
