"""Table CHECK constraints (``checks=``) and composite foreign keys (``foreign_keys=``): golden DDL for adding,
changing and dropping them, the database reading back exactly what the models declare, ``db inspect``
writing them, and the refusals of declarations that cannot be created."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from psycopg.rows import TupleRow

import djogi
from djogi import Check, CompositeForeignKey, Field, Model, field
from djogi.errors import ModelDefinitionError
from djogi.migrate import introspect
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.snapshot import CheckSchema, CompositeForeignKeySchema, canonical_expression, decode, encode
from djogi.model import models, registry_scope
from tests.migrate.helpers import declared_by, plan, snap, steps


def schema(*, bound: str = "qty > 0", on_delete: str = "cascade", more_checks: bool = False) -> Callable[[], None]:
    def declare() -> None:
        class Shelf(Model, table="shelf", timestamps=False, primary_key=("store", "code")):
            store: Field[djogi.Integer]
            code: Field[str] = field(max_length=4)
            width: Field[djogi.Integer]
            depth: Field[djogi.Integer]

        checks = (Check(name="slot_qty", expression=bound),)
        if more_checks:
            checks += (Check(name="slot_fits", expression="(qty * 2) <= 100"),)

        class Slot(
            Model, table="slot", timestamps=False, checks=checks,
            foreign_keys=(CompositeForeignKey(fields=("store", "shelf"), target="Shelf", to_fields=("store", "code"),
                                              on_delete=on_delete, on_update="cascade"),),  # type: ignore[arg-type]
        ):  # fmt: skip
            slot_id: Field[int] = field(primary_key=True)
            store: Field[djogi.Integer]
            shelf: Field[str] = field(max_length=4)
            qty: Field[djogi.Integer]

    return declare


def test_snapshot_holds_them_and_writes_them_only_when_present() -> None:
    table = snap(schema()).models["slot"]
    assert table.checks == (CheckSchema(name="slot_qty", expression="qty > 0"),)
    assert table.foreign_keys == (CompositeForeignKeySchema(
        name="slot_store_shelf_fkey", columns=("store", "shelf"), ref_table="shelf", ref_columns=("store", "code"),
        on_delete="Cascade", on_update="Cascade",
    ),)  # fmt: skip
    written = encode(snap(schema()))
    assert b'"checks"' in written and decode(written).unwrap() == snap(schema())
    assert b'"checks"' not in encode(snap(lambda: None)) and b'"foreign_keys"' not in written.split(b'"shelf"')[-1]


def test_golden_ddl_on_a_new_table() -> None:
    got = {label: up for label, up, _, _ in steps(plan(None, schema()))}
    assert got["AddCheck slot.slot_qty"] == (
        'ALTER TABLE "slot" ADD CONSTRAINT "slot_qty" CHECK (qty > 0);\n'
        'COMMENT ON CONSTRAINT "slot_qty" ON "slot" IS \'qty > 0\';'
    )
    assert got["AddForeignKey slot.(store, shelf) -> shelf.(store, code)"] == (
        'ALTER TABLE "slot" ADD CONSTRAINT "slot_store_shelf_fkey" FOREIGN KEY ("store", "shelf") '
        'REFERENCES "shelf" ("store", "code") ON DELETE CASCADE ON UPDATE CASCADE;'
    )


def test_golden_ddl_of_changes() -> None:
    changed = steps(plan(schema(), schema(bound="qty >= 0", on_delete="restrict", more_checks=True)))
    assert [(label, up, down) for label, up, down, _ in changed] == [
        ("DropCheck slot.slot_qty", 'ALTER TABLE "slot" DROP CONSTRAINT "slot_qty";',
         'ALTER TABLE "slot" ADD CONSTRAINT "slot_qty" CHECK (qty > 0);\n'
         'COMMENT ON CONSTRAINT "slot_qty" ON "slot" IS \'qty > 0\';'),
        ("AddCheck slot.slot_fits",
         'ALTER TABLE "slot" ADD CONSTRAINT "slot_fits" CHECK (qty * 2 <= 100) NOT VALID;\n'
         'COMMENT ON CONSTRAINT "slot_fits" ON "slot" IS \'qty * 2 <= 100\';',
         'ALTER TABLE "slot" DROP CONSTRAINT "slot_fits";'),
        ("ValidateConstraint slot_fits", 'ALTER TABLE "slot" VALIDATE CONSTRAINT "slot_fits";',
         "-- no reverse: validation has no reverse"),
        ("AddCheck slot.slot_qty",
         'ALTER TABLE "slot" ADD CONSTRAINT "slot_qty" CHECK (qty >= 0) NOT VALID;\n'
         'COMMENT ON CONSTRAINT "slot_qty" ON "slot" IS \'qty >= 0\';',
         'ALTER TABLE "slot" DROP CONSTRAINT "slot_qty";'),
        ("ValidateConstraint slot_qty", 'ALTER TABLE "slot" VALIDATE CONSTRAINT "slot_qty";',
         "-- no reverse: validation has no reverse"),
        ("DropForeignKey slot.(store, shelf) -> shelf.(store, code)",
         'ALTER TABLE "slot" DROP CONSTRAINT "slot_store_shelf_fkey";',
         'ALTER TABLE "slot" ADD CONSTRAINT "slot_store_shelf_fkey" FOREIGN KEY ("store", "shelf") REFERENCES '
         '"shelf" ("store", "code") ON DELETE CASCADE ON UPDATE CASCADE;'),
        ("AddForeignKey slot.(store, shelf) -> shelf.(store, code)",
         'ALTER TABLE "slot" ADD CONSTRAINT "slot_store_shelf_fkey" FOREIGN KEY ("store", "shelf") REFERENCES '
         '"shelf" ("store", "code") ON DELETE RESTRICT ON UPDATE CASCADE NOT VALID;',
         'ALTER TABLE "slot" DROP CONSTRAINT "slot_store_shelf_fkey";'),
        ("ValidateConstraint slot_store_shelf_fkey", 'ALTER TABLE "slot" VALIDATE CONSTRAINT "slot_store_shelf_fkey";',
         "-- no reverse: validation has no reverse"),
    ]  # fmt: skip
    assert plan(schema(bound="((qty>0))"), schema()).operations == ()  # one spelling per expression


def test_the_database_reads_back_what_the_models_declare(pg_sync: psycopg.Connection[TupleRow]) -> None:
    for _, up, _, _ in steps(plan(None, schema(more_checks=True))):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync, tables=["shelf", "slot"])
    assert live.structure() == snap(schema(more_checks=True)).structure()
    # A constraint created by another tool is read from the catalog's text, normalised the same way.
    pg_sync.execute('ALTER TABLE "shelf" ADD CONSTRAINT "shelf_area" CHECK (((width * depth) < 10000))')
    shelf = introspect(pg_sync, tables=["shelf"]).models["shelf"]
    assert shelf.checks == (CheckSchema(name="shelf_area", expression="width * depth < 10000"),)


def test_inspect_writes_them(pg_sync: psycopg.Connection[TupleRow]) -> None:
    for _, up, _, _ in steps(plan(None, schema(more_checks=True))):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync, tables=["shelf", "slot"])
    source = model_source(live)
    assert '''class Slot(
    Model,
    table="slot",
    timestamps=False,
    checks=(
        Check(name="slot_fits", expression="qty * 2 <= 100"),
        Check(name="slot_qty", expression="qty > 0"),
    ),
    foreign_keys=(
        CompositeForeignKey(
            fields=("store", "shelf"),
            target="Shelf",
            to_fields=("store", "code"),
            name="slot_store_shelf_fkey",
            on_delete="cascade",
            on_update="cascade",
        ),
    ),
):''' in source
    assert declared_by(source) == live.structure()


def _bad(**options: object) -> Callable[[], None]:
    def declare() -> None:
        class Bad(Model, table="bad", timestamps=False, **options):  # type: ignore[call-arg]
            key: Field[int] = field(primary_key=True)
            a: Field[int]
            b: Field[int | None] = field(default=None)

    return declare


@pytest.mark.parametrize(("declare", "message"), [
    (_bad(checks=("a > 0",)), r"Bad: checks must be a tuple of Check\(name=..., expression=...\) values"),
    (_bad(checks=(Check(name="c", expression="a > 0"), Check(name="c", expression="a < 9"))),
     r"Bad: check name 'c' is declared twice"),
    (_bad(checks=(Check(name="c", expression="a > 0; DROP TABLE bad"),)), r"Bad: check c: expression="),
    (_bad(foreign_keys=(CompositeForeignKey(fields=("a",), target="Bad", to_fields=("key",)),)),
     r"fields must name two or more distinct fields of the model"),
    (_bad(foreign_keys=(CompositeForeignKey(fields=("a", "b"), target="Bad", to_fields=("key",)),)),
     r"to_fields must name as many fields of the target"),
    (_bad(foreign_keys=(CompositeForeignKey(fields=("a", "b"), target="Bad", to_fields=("a", "b"),
                                            on_delete="set null"),)),
     r'"set null" needs every field optional'),
])  # fmt: skip
def test_refused_declarations(declare: Callable[[], None], message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=message):
        declare()


def test_a_composite_foreign_key_must_reference_a_unique_key() -> None:
    with registry_scope(isolated=True):
        _bad(foreign_keys=(CompositeForeignKey(fields=("a", "b"), target="Bad", to_fields=("a", "b")),))()
        refused = project(models(), "main", None)
    assert "Bad: foreign key bad_a_b_fkey: Bad.('a', 'b') is neither its primary key nor a unique index" in str(
        refused.failure()
    )


def test_canonical_expression_keeps_what_is_not_one_expression() -> None:
    assert canonical_expression("((a >= (0)::numeric))") == "a >= 0"  # the casts PostgreSQL prints
    assert canonical_expression("'1.5'::numeric::integer") == "CAST(CAST('1.5' AS numeric) AS integer)"
    assert canonical_expression("a > 0 AND") == "a > 0 AND"  # (an alias, not an expression)
    assert canonical_expression("1; SELECT 2") == "1; SELECT 2"


def _renamed(table: str, column: str, *, check: str = "qty > 0") -> Callable[[], None]:
    def declare() -> None:
        class Shelf(Model, table=table, timestamps=False, primary_key=("store", "code"),
                    renamed_from="shelf" if table != "shelf" else None):  # fmt: skip
            store: Field[djogi.Integer]
            code: Field[str] = field(max_length=4)

        class Slot(
            Model, table="slot", timestamps=False, checks=(Check(name="slot_qty", expression=check),),
            foreign_keys=(CompositeForeignKey(fields=("store", "shelf"), target="Shelf", to_fields=("store", "code"),
                                              name="slot_shelf"),),
        ):  # fmt: skip
            slot_id: Field[int] = field(primary_key=True)
            store: Field[djogi.Integer]
            shelf: Field[str] = field(max_length=4)
            qty: Field[djogi.Integer] = field(column=column, renamed_from="qty" if column != "qty" else None)

    return declare


def test_renames_carry_composite_foreign_keys_and_drop_changed_checks_first() -> None:
    """A renamed target table keeps its composite foreign keys (PostgreSQL follows the rename); a CHECK of a
    table whose columns are renamed is dropped before the renames when its text changes, so the rollback
    re-adds the old text after the old names are back. (Found by the migration convergence property test.)"""
    moved = steps(plan(_renamed("shelf", "qty"), _renamed("rack", "qty")))
    assert [label for label, *_ in moved] == [
        "RenameTable shelf -> rack", "RenameConstraint rack.shelf_pkey -> rack_pkey",
    ]
    renamed = steps(plan(_renamed("shelf", "qty"), _renamed("shelf", "amount", check="amount > 0")))
    assert [label for label, *_ in renamed] == [
        "DropCheck slot.slot_qty", "RenameColumn slot.qty -> amount", "AddCheck slot.slot_qty",
        "ValidateConstraint slot_qty",
    ]
