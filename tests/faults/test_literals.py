"""String literals survive compose -> files -> apply exactly (blank lines, CR LF, ``-- LOSSY`` lines)."""

import datetime as dt
from pathlib import Path

import psycopg
import pytest

import djogi
from djogi import Field, Model, field
from djogi.errors import ValidationError
from djogi.migrate import Bucket, apply, compose, rollback, verify
from djogi.migrate.checksum import file_checksums, parse_fragments
from djogi.model import models, registry_scope

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
LABELS = ("a\n\nb", "c\r\nd", "e\n-- LOSSY: f", "plain")
COMMENT = "first line\n\n  indented after a blank\r\nthen CRLF\n"


class Odd(djogi.Enum):
    A = LABELS[0]
    C = LABELS[1]
    E = LABELS[2]
    P = LABELS[3]


def _declare() -> None:
    class Note(Model, table="notes", comment=COMMENT):
        body: Field[str] = field(comment=COMMENT, check="body <> 'x\n\ny'", db_default="'two\n\nlines'")
        kind: Field[Odd] = field(default=Odd.P)


def test_literals_are_kept_exactly(db_url: str, tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        _declare()
        plan = compose(tmp_path, models(), NOW).unwrap()
    folder = tmp_path / "main" / "_global_"
    up = (folder / f"{plan.version}.sdjql").read_text()
    down = (folder / f"{plan.version}.down.sdjql").read_text()
    fragments = parse_fragments(up)
    assert fragments is not None and [sql for _, sql in fragments] == list(plan.buckets[0].files.plan.fragments)
    assert file_checksums(up, down) == (plan.buckets[0].files.plan.checksum_up,
                                        plan.buckets[0].files.plan.checksum_down)
    apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        labels = conn.execute("SELECT array_agg(enumlabel ORDER BY enumsortorder)::text[] FROM pg_enum "
                              "WHERE enumtypid = 'odd'::regtype").fetchone()
        comments = conn.execute("SELECT obj_description('notes'::regclass, 'pg_class'), "
                                "col_description('notes'::regclass, 1 + (SELECT count(*) FROM pg_attribute "
                                "WHERE attrelid = 'notes'::regclass AND attname < 'body' AND attnum > 0)::int)"
                                ).fetchone()  # fmt: skip
        body_comment = conn.execute(
            "SELECT col_description(attrelid, attnum) FROM pg_attribute WHERE attrelid = 'notes'::regclass "
            "AND attname = 'body'").fetchone()  # fmt: skip
        default = conn.execute("INSERT INTO notes (kind) VALUES ('plain') RETURNING body").fetchone()
    assert labels is not None and tuple(labels[0]) == LABELS
    assert comments is not None and comments[0] == COMMENT
    assert body_comment == (COMMENT,)
    assert default == ("two\n\nlines",)
    report = verify(db_url, tmp_path, Bucket("main"))
    assert report.ok and not report.diagnostics, report.diagnostics
    assert rollback(db_url, tmp_path, Bucket("main")).ok


def test_tidy_golden() -> None:
    """Exact output: blank lines and CR between tokens go; literals keep their value, re-quoted as E''
    only when the files could not carry them; identifiers and comments are left alone."""
    from djogi.migrate.checksum import tidy

    assert tidy("SELECT 1\r\n\r\n  , 'ok\nfine' -- c\r\n\n\n/* a\n\n b */ ,2") == (
        "SELECT 1\n, 'ok\nfine' -- c\n/* a\nb */ ,2")
    assert tidy("COMMENT ON x IS 'é\n\nb\r\nc''d'") == "COMMENT ON x IS E'é\\n\\nb\\r\\nc''d'"
    assert tidy("SELECT $q$x\n\ny'\\$q$, 'z'") == "SELECT E'x\\n\\ny''\\\\', 'z'"
    assert tidy("SELECT E'a\\\n\nb\\\\'") == "SELECT E'a\\n\\nb\\\\'"
    assert tidy("SELECT 'a\n-- LOSSY x', \"q\nq\"") == "SELECT E'a\\n-- LOSSY x', \"q\nq\""
    with pytest.raises(ValidationError, match="cannot carry"):
        tidy('SELECT "q\n\nq"')
