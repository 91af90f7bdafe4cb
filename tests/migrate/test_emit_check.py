"""Files, checksums, determinism, hand-edit refusal, ``check`` and the linter (no database)."""

import datetime as dt
import hashlib
from pathlib import Path

from djogi import Field, Model, field
from djogi.migrate import check, compose, lint_sql, plan_compose
from djogi.migrate.checksum import (
    advisory_lock_key,
    compute_checksum,
    file_checksums,
    is_checksum,
    sanitize_slug,
    version_for,
)
from djogi.migrate.emit import render_steps
from djogi.migrate.operations import Step
from djogi.migrate.snapshot import decode, encode, load
from djogi.model import models, registry_scope

NOW = dt.datetime(2026, 4, 25, 1, 2, 3, tzinfo=dt.UTC)


def test_reference_helpers() -> None:
    assert version_for(NOW, "Add users!") == "V20260425010203__add_users"
    assert sanitize_slug("  --9 Lives.v2  ") == "m_9_lives_v2" and sanitize_slug("!!!") == "migration"
    digest = hashlib.sha256(b"djogi:advisory_lock:main\x00accounts").digest()
    assert advisory_lock_key("main", "accounts") == int.from_bytes(digest[:8], "big", signed=True)
    assert compute_checksum(["a", "b"]) == "V1:" + hashlib.sha256(b"a\nb").hexdigest()
    assert is_checksum(compute_checksum([])) and not is_checksum("V1:ABC")


def test_files_follow_the_reference_framing() -> None:
    steps = (Step(label="AddTable t", up="CREATE TABLE t ();", down="DROP TABLE t;"),
             Step(label="DropColumn t.c", up="ALTER TABLE t DROP COLUMN c;", down="ALTER TABLE t ADD COLUMN c int;",
                  lossy="DropColumn — t.c: values are not restored"),
             Step(label="AddIndex i", up="CREATE INDEX CONCURRENTLY i ON t (c);", down="DROP INDEX i;",
                  transactional=False))  # fmt: skip
    files = render_steps(steps, "V20260425010203__x", "main/_global_", "lossy")
    assert files.up == (
        "-- Djogi composed migration — up\n-- Version: V20260425010203__x\n-- Bucket:  main/_global_\n"
        "-- Classification: Lossy\n-- DO NOT EDIT — regenerate via `djogi migrations compose`.\n\n"
        "-- AddTable t\nCREATE TABLE t ();\n\n-- DropColumn t.c\nALTER TABLE t DROP COLUMN c;\n\n"
        "-- AddIndex i\nCREATE INDEX CONCURRENTLY i ON t (c);\n\n"
    )
    assert files.down == (
        "-- Djogi composed migration — down\n-- Version: V20260425010203__x\n-- Bucket:  main/_global_\n"
        "-- DO NOT EDIT — regenerate via `djogi migrations compose`.\n\n"
        "-- AddIndex i\nDROP INDEX i;\n\n-- DropColumn t.c\n-- LOSSY: DropColumn — t.c: values are not restored\n"
        "ALTER TABLE t ADD COLUMN c int;\n\n-- AddTable t\nDROP TABLE t;\n\n"
    )
    plan = files.plan
    assert [(s.kind, [x.label for x in s.statements]) for s in plan.segments] == [
        ("transactional", ["AddTable t", "DropColumn t.c"]),
        ("non_transactional", ["AddIndex i"]),
    ]
    assert plan.checksum_up == compute_checksum([s.up for s in steps])
    assert plan.checksum_down == compute_checksum([s.down for s in steps])
    assert file_checksums(files.up, files.down) == (plan.checksum_up, plan.checksum_down)
    assert files.named()["V20260425010203__x.plan.json"].startswith('{\n  "format_version": "1",\n  "checksum_up"')


def _declare(extra: bool) -> None:
    class A(Model, table="a"):
        name: Field[str] = field(index=True)

    if extra:

        class B(Model, table="b"):
            n: Field[int | None] = field(default=None)


def test_compose_is_deterministic_and_refuses_to_overwrite_edits(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    with registry_scope(isolated=True):
        _declare(False)
        compose(one, models(), NOW).unwrap()
        compose(two, models(), NOW).unwrap()
        assert plan_compose(one, models(), NOW).unwrap().empty
    for path in one.rglob("*.*"):
        assert path.read_bytes() == (two / path.relative_to(one)).read_bytes()
    snap = load(one / "main" / "_global_" / "schema_snapshot.json").unwrap()
    assert decode(encode(snap)).unwrap() == snap
    up = two / "main" / "_global_" / "V20260425010203__initial.sdjql"
    up.write_text(up.read_text() + "-- my note\n")
    (two / "main" / "_global_" / "schema_snapshot.json").unlink()
    with registry_scope(isolated=True):
        _declare(False)
        refused = compose(two, models(), NOW)
    assert "D013" in refused.failure()


def test_check_finds_model_drift_edits_and_unsafe_sql(tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        _declare(False)
        compose(tmp_path, models(), NOW).unwrap()
        assert check(tmp_path, models()).ok
    with registry_scope(isolated=True):
        _declare(True)
        report = check(tmp_path, models())
    assert [f.rule for f in report.findings] == ["M001"] and not report.ok
    up = tmp_path / "main" / "_global_" / "V20260425010203__initial.sdjql"
    up.write_text(up.read_text().replace('("name")', '("name", "id")'))
    with registry_scope(isolated=True):
        _declare(False)
        assert [f.rule for f in check(tmp_path, models()).findings] == ["M002"]


def test_linter_rules_and_fixes() -> None:
    found = lint_sql([
        ("1", "CREATE INDEX i ON t (c);", True),
        ("2", "ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (c) REFERENCES u (id);", True),
        ("3", "ALTER TABLE t ALTER COLUMN c SET NOT NULL;", True),
        ("4", "ALTER TABLE t ADD COLUMN d int NOT NULL;", True),
        ("5", "ALTER TABLE t ADD CONSTRAINT k UNIQUE (c);", True),
        ("6", "CREATE INDEX CONCURRENTLY j ON t (c);", True),
        ("7", "ALTER TABLE t ADD COLUMN e uuid DEFAULT gen_random_uuid();", True),
        ("8", "BEGIN;", True),
    ])  # fmt: skip
    assert [(f.location, f.rule) for f in found] == [
        ("1", "require-concurrent-index-creation"), ("2", "constraint-missing-not-valid"),
        ("3", "adding-not-nullable-field"), ("4", "adding-required-field"), ("5", "disallowed-unique-constraint"),
        ("6", "ban-concurrent-index-creation-in-transaction"), ("7", "adding-field-with-volatile-default"),
        ("8", "transaction-nesting"),
    ]  # fmt: skip
    assert all(f.fix for f in found)
    safe = lint_sql([
        ("a", "CREATE TABLE t (c int);\nCREATE INDEX i ON t (c);", True),
        ("b", "ALTER TABLE u ADD CONSTRAINT n CHECK (c IS NOT NULL) NOT VALID;", True),
        ("c", "ALTER TABLE u VALIDATE CONSTRAINT n;", False),
        ("d", "ALTER TABLE u ALTER COLUMN c SET NOT NULL;", True),
        ("e", "ALTER TABLE u ADD CONSTRAINT k UNIQUE USING INDEX k;", True),
    ])  # fmt: skip
    assert safe == []
