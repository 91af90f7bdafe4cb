"""Generated columns (``field(generated=...)``, STORED, and ``virtual=True`` on PostgreSQL 18): golden DDL,
the catalog reading back what the models declare, ``db inspect`` writing them, and every write path refusing
a value for one by name while reads return what the database computed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import msgspec
import psycopg
import pytest
from msgspec import UnsetType
from psycopg.rows import TupleRow

import djogi
from djogi import Field, Model, field
from djogi.algebra import insert_many, update_many
from djogi.errors import ModelDefinitionError, ValidationError
from djogi.executor import Database
from djogi.migrate import introspect
from djogi.migrate.diff import diff
from djogi.migrate.introspect import server_spelled
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.snapshot import GeneratedSchema
from djogi.model import descriptor, registry_scope
from tests.migrate.helpers import creating, declared_by, drift_after, plan, projected, snap, steps

pytestmark = pytest.mark.anyio
UNSET = msgspec.UNSET


class GLine(Model, table="g_line", timestamps=False):
    line_id: Field[int] = field(primary_key=True)
    qty: Field[djogi.Integer]
    price: Field[Decimal] = field(precision=8, scale=2)
    total: Field[Decimal | UnsetType] = field(generated="qty * price", default=UNSET)
    label: Field[str | UnsetType | None] = field(generated="'x' || qty", virtual=True, default=UNSET)


def lines(expression: str = "qty * price") -> Callable[[], None]:
    def declare() -> None:
        class Line(Model, table="line", timestamps=False):
            line_id: Field[int] = field(primary_key=True)
            qty: Field[int]
            total: Field[int | UnsetType] = field(generated=expression, default=UNSET)
            half: Field[int | UnsetType] = field(generated="qty / 2", virtual=True, default=UNSET)

    return declare


def test_golden_ddl() -> None:
    got = {label: up for label, up, _, _ in steps(plan(None, lines()))}
    assert got["AddTable line"] == (
        'CREATE TABLE "line" (\n    "line_id" BIGINT NOT NULL,\n    "qty" BIGINT NOT NULL,\n'
        '    "total" BIGINT GENERATED ALWAYS AS (qty * price) STORED NOT NULL,\n'
        '    "half" BIGINT GENERATED ALWAYS AS (qty / 2) VIRTUAL NOT NULL,\n'
        '    CONSTRAINT "line_pkey" PRIMARY KEY ("line_id")\n);'
    )
    assert snap(lines()).models["line"].column("half").generated == GeneratedSchema(  # type: ignore[union-attr]
        expression="qty / 2", stored=False
    )
    changed = plan(lines(), lines("qty * 3"))
    assert [(op.label, op.safety) for op in changed.operations] == [
        ("AlterColumn line.total SET EXPRESSION", "OfflineOnly")
    ]
    assert [(up, down) for _, up, down, _ in steps(changed)] == [(
        'ALTER TABLE "line" ALTER COLUMN "total" SET EXPRESSION AS (qty * 3);',
        'ALTER TABLE "line" ALTER COLUMN "total" SET EXPRESSION AS (qty * price);',
    )]  # fmt: skip
    assert plan(lines("((qty)*(price))"), lines()).operations == ()  # one spelling per expression


def test_a_column_cannot_start_or_stop_being_generated() -> None:
    def plain() -> None:
        class Line(Model, table="line", timestamps=False):
            line_id: Field[int] = field(primary_key=True)
            qty: Field[int]
            total: Field[int]
            half: Field[int | UnsetType] = field(generated="qty / 2", virtual=True, default=UNSET)

    refused = diff(snap(lines()), snap(plain))
    assert "column line.total: changing whether it is generated" in str(refused.failure())


@pytest.fixture
async def gdb(db: Database, pg: psycopg.AsyncConnection[TupleRow]) -> Database:
    for up in creating(projected(GLine)):
        await pg.execute(up.encode())
    return db


def test_the_catalog_reads_back_the_declared_columns_and_inspect_writes_them(
    pg_sync: psycopg.Connection[TupleRow],
) -> None:
    with registry_scope(isolated=True):

        class Line(Model, table="line", timestamps=False):
            line_id: Field[int] = field(primary_key=True)
            qty: Field[djogi.Integer]
            price: Field[Decimal] = field(precision=8, scale=2)
            total: Field[Decimal | UnsetType] = field(generated="qty * price", default=UNSET)
            label: Field[str | UnsetType | None] = field(generated="'x' || qty", virtual=True, default=UNSET)

        declared = project([descriptor(Line)], "main", None).unwrap()
    for up in creating(declared):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync, tables=["line"])
    assert live.structure() != declared.structure()  # the server prints qty * price with the cast it infers
    assert server_spelled(pg_sync, declared, live).structure() == live.structure()
    source = model_source(live)
    assert ('    total: Field[Decimal | msgspec.UnsetType] = field(generated="CAST(qty AS numeric) * price", '
            "default=msgspec.UNSET)") in source
    assert ('    label: Field[str | msgspec.UnsetType | None] = field(generated="\'x\' || qty", virtual=True, '
            "default=msgspec.UNSET)") in source
    assert declared_by(source) == live.structure()


async def test_reads_return_what_the_database_computed(gdb: Database) -> None:
    made = await gdb.create(GLine(line_id=1, qty=3, price=Decimal("2.50")))
    assert (made.total, made.label) == (Decimal("7.50"), "x3")
    saved = await gdb.save(made, qty=4)  # a write of the other fields recomputes them
    assert (saved.total, saved.label) == (Decimal("10.00"), "x4")
    assert await gdb.save(saved) == saved  # a whole-row save leaves generated columns out
    await gdb.bulk_create([GLine(line_id=2, qty=1, price=Decimal("1.00"))])
    await gdb.execute(insert_many(GLine, [GLine(line_id=3, qty=2, price=Decimal("1.00"))]))
    await gdb.execute(update_many(GLine, [GLine(line_id=3, qty=5, price=Decimal("1.00"))], ["qty"]))
    assert [(r.line_id, r.total, r.label) for r in await gdb.all(GLine.objects.order_by(GLine.line_id))] == [
        (1, Decimal("10.00"), "x4"), (2, Decimal("1.00"), "x1"), (3, Decimal("5.00"), "x5"),
    ]


async def test_every_write_of_a_generated_column_is_refused_by_name(gdb: Database) -> None:
    row = GLine(line_id=9, qty=1, price=Decimal("1.00"), total=Decimal("99.00"))
    refused = r"GLine\.total \(NUMERIC\): a generated column \(GENERATED ALWAYS AS \(qty \* price\)\) cannot"
    for write in (gdb.create, lambda r: gdb.bulk_create([r]), lambda r: gdb.execute(insert_many(GLine, [r]))):
        with pytest.raises(ValidationError, match=refused):
            await write(row)
    made = await gdb.create(GLine(line_id=1, qty=1, price=Decimal("1.00")))
    with pytest.raises(ValidationError, match=refused):
        await gdb.save(made, total=Decimal(5))
    with pytest.raises(ValidationError, match=refused):
        await gdb.execute(GLine.objects.update(total=GLine.price * 2))
    with pytest.raises(ValidationError, match=refused):
        await gdb.execute(update_many(GLine, [made], ["total"]))
    assert await gdb.count(GLine.objects) == 1


def _no_unset_default() -> None:
    class Bad(Model, table="g_bad"):
        total: Field[int] = field(generated="1 + 1")


def _virtual_alone() -> None:
    class Bad(Model, table="g_bad"):
        total: Field[int | UnsetType] = field(virtual=True, default=UNSET)


def _with_default() -> None:
    class Bad(Model, table="g_bad"):
        total: Field[int | UnsetType] = field(generated="1 + 1", db_default="2", default=UNSET)


def _not_an_expression() -> None:
    class Bad(Model, table="g_bad"):
        total: Field[int | UnsetType] = field(generated="1); DROP TABLE x; SELECT (1", default=UNSET)


@pytest.mark.parametrize(("declare", "message"), [
    (_no_unset_default, r"Bad\.total: a generated column is filled by the database: declare it"),
    (_virtual_alone, r"Bad\.total: virtual=True applies to generated columns"),
    (_with_default, r"Bad\.total: a generated column is computed from its row: it cannot also .* db_default"),
    (_not_an_expression, r"Bad\.total: generated='1\); DROP TABLE x; SELECT \(1' is not one SQL expression"),
])  # fmt: skip
def test_refused_declarations(declare: Callable[[], None], message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=message):
        declare()


def test_verify_after_apply_finds_no_drift_in_a_declared_expression(db_url: str, tmp_path: Path) -> None:
    """The server prints ``qty * price`` as ``(qty)::numeric * price``: verify compares the two in the
    server's spelling, so migrations djogi applied verify clean (and a real change is still reported)."""
    with registry_scope(isolated=True):

        class Line(Model, table="line", timestamps=False):
            line_id: Field[int] = field(primary_key=True)
            qty: Field[djogi.Integer]
            price: Field[Decimal] = field(precision=8, scale=2)
            total: Field[Decimal | UnsetType] = field(generated="qty * price", default=UNSET)

        changed = drift_after(db_url, tmp_path,
                              "ALTER TABLE line ALTER COLUMN total SET EXPRESSION AS (qty * price * 2)")
    assert changed == [("D607", "line.total")]
