"""Hostile input for every name and SQL text a model declares: each is kept exactly (quoted) or refused at
class creation with a ModelDefinitionError naming the model (and field), before anything is written."""

import datetime as dt
from pathlib import Path
from typing import Any

import psycopg
import pytest

import djogi
from djogi import Field, Index, IndexColumn, Model, field
from djogi.errors import ModelDefinitionError
from djogi.migrate import Bucket, apply, compose, rollback, verify
from djogi.model import models, registry_scope

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
EVIL = "x'); DROP TABLE victims; --"
LONG = "i" * 64


def _declare(annotation: Any = str, declared: Any = None, **options: Any) -> None:
    class Victim(Model, table="victims"):
        body: Field[annotation] = declared if declared is not None else field()  # type: ignore[valid-type]

    class Target(Model, **{"table": "targets", **options}):
        body: Field[annotation] = declared if declared is not None else field()  # type: ignore[valid-type]


REFUSED = [
    ({"table": "t; DROP TABLE victims"}, "table name"),
    ({"table": 't"x'}, "table name"),
    ({"table": "t" * 64}, "63"),
    ({"table": 5}, "table name 5 must be a str, not int"),
    ({"table": "t", "renamed_from": 5}, "renamed_from 5 must be a str, not int"),
    ({"app": "../../x"}, "app='../../x'"),
    ({"app": "a/b"}, "app='a/b'"),
    ({"app": "_global_"}, "_global_"),
    ({"database": "../main"}, "database='../main'"),
    ({"database": 7}, "database=7"),
    ({"renamed_from": EVIL}, "renamed_from"),
    ({"comment": 3}, "comment must be a str"),
    ({"indexes": (Index(columns=("body",), name=LONG),)}, f"index name {LONG!r}"),
    ({"indexes": (Index(columns=("body",), name="ix; DROP TABLE victims"),)}, "index name"),
    ({"indexes": (Index(columns=(IndexColumn(name="body", opclass="text_ops); DROP TABLE victims; --"),),),)},
     "index key 'body'"),
    ({"indexes": (Index(columns=(IndexColumn(expression="lower(body)); DROP TABLE victims; --"),),),)},
     "is not one SQL expression"),
    ({"indexes": (Index(columns=("body",), where="true; DROP TABLE victims"),)}, "where="),
]


@pytest.mark.parametrize(("options", "says"), REFUSED)
def test_model_options_refused_at_class_creation(options: dict[str, Any], says: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError) as info:
        _declare(**options)
    assert "Target" in str(info.value) and says in str(info.value)


class Evil(djogi.Enum):
    A = "a"


FIELD_REFUSED = [
    (field(sql_type=42), "sql_type=42 must be a str"),  # type: ignore[arg-type]
    (field(sql_type="TEXT); DROP TABLE victims; --"), "sql_type="),
    (field(sql_type="TEXT DEFAULT 'x'"), "carries more than the type"),
    (field(check="true); DROP TABLE victims; --"), "check="),
    (field(check="true) OR (true"), None),
    (field(db_default="'x'; DROP TABLE victims"), "db_default="),
    (field(db_default="'x' -- c"), "db_default="),
    (field(comment=b"bytes"), "comment must be a str"),  # type: ignore[arg-type]
    (field(renamed_from=EVIL), "renamed_from"),
    (field(column="b; DROP TABLE victims"), "column name"),
    (field(column=5), "column name 5 must be a str, not int"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("declared", "says"), FIELD_REFUSED)
def test_field_declarations_refused(declared: Any, says: str | None) -> None:
    if says is None:  # balanced parentheses: one expression, so it is kept and emitted as CHECK (...)
        with registry_scope(isolated=True):
            _declare(str, declared)
        return
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError) as info:
        _declare(str, declared)
    assert "Victim.body" in str(info.value) and says in str(info.value)


def test_related_name_and_enum_labels_refused() -> None:
    class TooLong(djogi.Enum):
        A = "é" * 32  # 64 bytes

    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=r"Victim\.body: enum TooLong"):
        _declare(TooLong)

    class BadType(djogi.Enum):
        __pg_name__ = "mood; DROP TABLE victims"
        A = "a"

    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=r"Victim\.body: enum type name"):
        _declare(BadType)
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match="related_name='x y'"):
        class Owner(Model, table="owners"):
            name: Field[str]

        class Pet(Model, table="pets"):
            owner: djogi.ForeignKey[Owner] = field(related_name="x y")


class Quotes(djogi.Enum):
    __pg_name__ = "quotes"
    Q = EVIL
    B = "back\\slash"
    U = "ünïcødé ✓"
    S = "semi;colon"


def test_hostile_values_are_kept_exactly(db_url: str, tmp_path: Path) -> None:
    """Comments, enum labels, literals in CHECK and db_default, and the -n slug: kept exactly, no injection."""
    def declare() -> None:
        class Victim(Model, table="victims", comment=EVIL):
            body: Field[str] = field(
                comment=EVIL,
                check=f"body <> {psycopg.sql.quote(EVIL)}",
                db_default="'" + EVIL.replace("'", "''") + "\\'",
            )
            mood: Field[Quotes] = field(default=Quotes.B)

    with registry_scope(isolated=True):
        declare()
        plan = compose(tmp_path, models(), NOW, slug="../../../etc/passwd; rm -rf").unwrap()
    assert plan.version == "V20260102030405__etcpasswd_rm_rf"
    assert all(p.resolve().is_relative_to(tmp_path) for p in tmp_path.rglob("*"))
    apply(db_url, tmp_path)
    with psycopg.connect(db_url, autocommit=True) as conn:
        row = conn.execute("INSERT INTO victims (mood) VALUES (%s) RETURNING body, mood::text, "
                           "obj_description('victims'::regclass, 'pg_class')", (EVIL,)).fetchone()  # fmt: skip
        labels = conn.execute("SELECT enum_range(NULL::quotes)::text[]").fetchone()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO victims (body, mood) VALUES (%s, %s)", (EVIL, Quotes.S.value))
    assert row == (EVIL + "\\", EVIL, EVIL)  # standard_conforming_strings: the backslash is kept
    assert labels is not None and tuple(labels[0]) == tuple(q.value for q in Quotes)
    assert verify(db_url, tmp_path, Bucket("main")).ok
    assert rollback(db_url, tmp_path, Bucket("main")).ok


def test_cli_refuses_hostile_names_before_writing(tmp_path: Path, db_url: str) -> None:
    """Through the CLI: a model app escaping migrations/, a hostile Djogi.toml database name and a hostile
    -n slug write nothing outside migrations/ (the first two write nothing at all)."""
    from tests.cli.helpers import MODELS_V1, Project

    project = Project(tmp_path, db_url)
    before = {p for p in tmp_path.rglob("*")}
    project.write_models(MODELS_V1.replace('table="books"', 'table="books", app="../../escaped"'))
    assert "app='../../escaped'" in project.run("migrations", "compose", expect=2).stderr
    assert not (project.root / "migrations").exists() and not list(tmp_path.parent.rglob("escaped"))
    project.write_models(MODELS_V1)
    toml = project.root / "Djogi.toml"
    toml.write_text(toml.read_text() + '\n[database."../x"]\nurl = "postgresql://localhost/x"\n')
    project.refused("migrations", "compose", says="database.../x")
    assert not (project.root / "migrations").exists()
    toml.write_text('[project]\nmodels = ["shop.models"]\n')
    project.run("migrations", "compose", "-n", "../../../tmp/evil name")
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert all(p.resolve().is_relative_to((project.root / "migrations").resolve()) or p in before for p in written)
    assert any(p.name.endswith("__tmpevil_name.sdjql") for p in written)
