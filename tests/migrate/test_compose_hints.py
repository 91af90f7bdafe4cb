"""The advice compose gives when it refuses: the db_default a Python default spells, rename questions."""

import datetime as dt
import decimal
from pathlib import Path

import djogi
from djogi import Field, Model, field
from djogi.migrate import compose, plan_compose
from djogi.migrate.compose import _default_sql
from djogi.model import models, registry_scope
from tests.migrate.helpers import plan

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


class Tone(djogi.Enum):
    LOW = "it's low"


def test_default_sql() -> None:
    assert [_default_sql(v) for v in (True, False, 0, -2.5, decimal.Decimal("1.10"), "a'b", Tone.LOW, None, [])] == [
        "true", "false", "0", "-2.5", "1.10", "'a''b'", "'it''s low'", None, None]


def test_rename_hints_for_tables_and_columns() -> None:
    def old() -> None:
        class A(Model, table="a"):
            name: Field[str | None] = field(default=None)

    def new() -> None:
        class B(Model, table="b"):
            name: Field[str | None] = field(default=None)

    def renamed_column() -> None:
        class A(Model, table="a"):
            title: Field[str | None] = field(default=None)

    assert plan(old, new).rename_hints == ["did you rename table a to b? declare renamed_from='a' on its model"]
    assert plan(old, renamed_column).rename_hints == [
        "did you rename a.name to a.title? declare field(renamed_from='name') on it"]


def test_destructive_refusal_carries_the_rename_hint(tmp_path: Path) -> None:
    with registry_scope(isolated=True):
        class A(Model, table="a"):
            name: Field[str | None] = field(default=None)

        compose(tmp_path, models(), NOW).unwrap()
    with registry_scope(isolated=True):
        class A(Model, table="a"):  # type: ignore[no-redef]
            title: Field[str | None] = field(default=None)

        planned = plan_compose(tmp_path, models(), NOW).unwrap()
        refused = compose(tmp_path, models(), NOW)
    assert planned.buckets[0].plan.classification == "destructive"
    assert "did you rename a.name to a.title?" in refused.failure()
