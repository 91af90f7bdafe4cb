"""Golden SQL and parameters for INSERT / upsert / INSERT…SELECT / UPDATE / DELETE and the CRUD helpers."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
import pytest

from djogi import Model, field
from djogi.algebra.compile import ModelRows, RowCount, Statement
from djogi.algebra.dml import (
    delete_one,
    excluded,
    get_by_pk,
    insert,
    insert_from,
    insert_one,
    update,
    update_one,
)
from djogi.algebra.expr import now
from djogi.errors import ValidationError


class DItem(Model, table="d_items"):
    sku: Annotated[str, field(unique=True)]
    stock: int = 0
    price: Decimal = Decimal("0")
    note: str | None = None
    code: Annotated[str | msgspec.UnsetType, field(db_default="'x'")] = msgspec.UNSET


class DDoc(Model, table="d_docs"):
    body: str
    version: Annotated[int, field(version=True)] = 0


class DArchive(Model, table="d_archive"):
    sku: str
    stock: int


T = "d_items"
ITEM_COLS = ("id", "created_at", "updated_at", "sku", "stock", "price", "note", "code")
ALL = ", ".join(f'"{T}"."{c}"' for c in ITEM_COLS)
DOC_ALL = '"d_docs"."id", "d_docs"."created_at", "d_docs"."updated_at", "d_docs"."body", "d_docs"."version"'
a = DItem(sku="a", stock=1, price=Decimal("2.5"))
b = DItem(sku="b", note="n", code="y")
saved = msgspec.structs.replace(a, id=11)
doc = DDoc(body="old", id=5, version=3)

CASES: list[tuple[str, Any, str, tuple[object, ...]]] = [
    (
        "insert one; db-filled columns left out",
        insert_one(a),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note") VALUES ($1::text, $2::bigint, $3::numeric, NULL) '
        f"RETURNING {ALL}",
        ("a", 1, Decimal("2.5")),
    ),
    (
        "insert many; a db-filled column set in one row is DEFAULT in the others",
        insert(DItem, [a, b]),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note", "code") VALUES ($1::text, $2::bigint, $3::numeric, '
        f"NULL, DEFAULT), ($4::text, $5::bigint, $6::numeric, $7::text, $8::text) RETURNING {ALL}",
        ("a", 1, Decimal("2.5"), "b", 0, Decimal(0), "n", "y"),
    ),
    (
        "insert with an explicit id",
        insert_one(DArchive(sku="s", stock=2, id=9)),
        'INSERT INTO "d_archive" ("id", "sku", "stock") VALUES ($1::bigint, $2::text, $3::bigint) RETURNING '
        '"d_archive"."id", "d_archive"."created_at", "d_archive"."updated_at", "d_archive"."sku", "d_archive"."stock"',
        (9, "s", 2),
    ),
    (
        "insert without returning",
        insert_one(a).without_returning(),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note") VALUES ($1::text, $2::bigint, $3::numeric, NULL)',
        ("a", 1, Decimal("2.5")),
    ),
    (
        "on conflict do nothing, returning id",
        insert_one(a).on_conflict(DItem.sku).do_nothing().with_returning(DItem.id),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note") VALUES ($1::text, $2::bigint, $3::numeric, NULL) '
        f'ON CONFLICT ("sku") DO NOTHING RETURNING "{T}"."id"',
        ("a", 1, Decimal("2.5")),
    ),
    (
        "on constraint do update with excluded, expression and guard",
        insert_one(a)
        .on_conflict(constraint="d_items_sku_key")
        .do_update(
            set={"stock": DItem.stock + excluded(DItem.stock), "price": excluded(DItem.price), "updated_at": now()},
            where=DItem.price != excluded(DItem.price),
        )
        .without_returning(),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note") VALUES ($1::text, $2::bigint, $3::numeric, NULL) '
        f'ON CONFLICT ON CONSTRAINT "d_items_sku_key" DO UPDATE SET "stock" = ("{T}"."stock" + "excluded"."stock"), '
        f'"price" = "excluded"."price", "updated_at" = now() WHERE "{T}"."price" <> "excluded"."price"',
        ("a", 1, Decimal("2.5")),
    ),
    (
        "do update with a value",
        insert_one(a).on_conflict(DItem.sku).do_update(set={"note": "dup"}).without_returning(),
        f'INSERT INTO "{T}" ("sku", "stock", "price", "note") VALUES ($1::text, $2::bigint, $3::numeric, NULL) '
        'ON CONFLICT ("sku") DO UPDATE SET "note" = $4::text',
        ("a", 1, Decimal("2.5"), "dup"),
    ),
    (
        "insert from a select of same-named columns",
        insert_from(DArchive, DItem.objects.filter(DItem.stock > 0), [DArchive.sku, DArchive.stock]),
        f'INSERT INTO "d_archive" ("sku", "stock") SELECT "{T}"."sku", "{T}"."stock" FROM "{T}" '
        f'WHERE "{T}"."stock" > $1::bigint',
        (0,),
    ),
    (
        "insert from a projection, returning",
        insert_from(
            DArchive, DItem.objects.values(DItem.sku, DItem.stock * 2).limit(5), [DArchive.sku, DArchive.stock]
        ).with_returning(DArchive.id),
        f'INSERT INTO "d_archive" ("sku", "stock") SELECT "{T}"."sku", ("{T}"."stock" * $1::bigint) FROM "{T}" '
        'LIMIT 5 RETURNING "d_archive"."id"',
        (2,),
    ),
    (
        "bulk update with expression, value, NULL; updated_at stamped",
        DItem.objects.filter(DItem.sku == "a").update(price=DItem.price * 2, stock=DItem.stock + 1, note=None),
        f'UPDATE "{T}" SET "price" = ("{T}"."price" * $1::numeric), "stock" = ("{T}"."stock" + $2::bigint), '
        f'"note" = NULL, "updated_at" = now() WHERE "{T}"."sku" = $3::text',
        (Decimal(2), 1, "a"),
    ),
    (
        "bulk update keeps an explicit updated_at; F-style copy",
        update(DItem.objects, note=DItem.sku, updated_at=DItem.created_at),
        f'UPDATE "{T}" SET "note" = "{T}"."sku", "updated_at" = "{T}"."created_at"',
        (),
    ),
    (
        "bulk update returning",
        DItem.objects.filter(DItem.stock < 0).update(stock=0).with_returning(),
        f'UPDATE "{T}" SET "stock" = $1::bigint, "updated_at" = now() WHERE "{T}"."stock" < $2::bigint RETURNING {ALL}',
        (0, 0),
    ),
    (
        "bulk update of none()",
        DItem.objects.none().update(stock=0),
        f'UPDATE "{T}" SET "stock" = $1::bigint, "updated_at" = now() WHERE FALSE',
        (0,),
    ),
    (
        "bulk delete",
        DItem.objects.exclude(DItem.note == None).delete(),  # noqa: E711
        f'DELETE FROM "{T}" WHERE "{T}"."note" IS NOT NULL',
        (),
    ),
    ("delete everything", DItem.objects.delete(), f'DELETE FROM "{T}"', ()),
    (
        "delete returning sku",
        DItem.objects.filter(DItem.stock == 0).delete().with_returning(DItem.sku),
        f'DELETE FROM "{T}" WHERE "{T}"."stock" = $1::bigint RETURNING "{T}"."sku"',
        (0,),
    ),
    (
        "update_one with changes",
        update_one(saved, {"stock": 4}),
        f'UPDATE "{T}" SET "stock" = $1::bigint, "updated_at" = now() WHERE "{T}"."id" = $2::bigint RETURNING {ALL}',
        (4, 11),
    ),
    (
        "update_one full save",
        update_one(saved),
        f'UPDATE "{T}" SET "sku" = $1::text, "stock" = $2::bigint, "price" = $3::numeric, "note" = NULL, '
        f'"updated_at" = now() WHERE "{T}"."id" = $4::bigint RETURNING {ALL}',
        ("a", 1, Decimal("2.5"), 11),
    ),
    (
        "update_one with a version field",
        update_one(doc, {"body": "new"}),
        'UPDATE "d_docs" SET "body" = $1::text, "version" = ("d_docs"."version" + $2::bigint), "updated_at" = now() '
        'WHERE ("d_docs"."id" = $3::bigint AND "d_docs"."version" = $4::bigint) RETURNING ' + DOC_ALL,
        ("new", 1, 5, 3),
    ),
    ("delete_one", delete_one(saved), f'DELETE FROM "{T}" WHERE "{T}"."id" = $1::bigint', (11,)),
    (
        "delete_one with a version field",
        delete_one(doc),
        'DELETE FROM "d_docs" WHERE ("d_docs"."id" = $1::bigint AND "d_docs"."version" = $2::bigint)',
        (5, 3),
    ),
    ("get_by_pk", get_by_pk(DItem, 11), f'SELECT {ALL} FROM "{T}" WHERE "{T}"."id" = $1::bigint', (11,)),
]


@pytest.mark.parametrize(("name", "value", "sql", "params"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, value: Any, sql: str, params: tuple[object, ...]) -> None:
    stmt: Statement = value.sql()
    assert stmt.sql == sql
    assert stmt.params == params


def test_result_shapes() -> None:
    assert insert_one(a).sql().result == ModelRows(DItem, ITEM_COLS)
    assert DItem.objects.update(stock=1).sql().result == RowCount()
    assert DItem.objects.delete().with_returning(DItem.sku).sql().result == ModelRows(DItem, ("sku",))
    assert DItem.objects.none().delete().sql().empty
    assert not DItem.objects.delete().sql().empty


def test_values_are_equal_by_structure() -> None:
    assert DItem.objects.filter(DItem.stock > 1).update(stock=DItem.stock + 1) == update(
        DItem.objects.where(DItem.stock > 1), stock=DItem.stock + 1
    )
    assert insert_one(a) == insert(DItem, [a])
    assert hash(insert_one(a)) == hash(insert(DItem, [a]))
    assert insert_one(a) != insert_one(b)


GUARDED = [
    ("limit", DItem.objects.limit(3)),
    ("offset", DItem.objects.offset(3)),
    ("distinct", DItem.objects.distinct()),
    ("distinct", DItem.objects.distinct_on(DItem.sku)),
    ("order_by", DItem.objects.order_by(DItem.sku)),
    ("after", DItem.objects.order_by(DItem.id).after((1,))),
    ("values/only/defer", DItem.objects.only(DItem.sku)),
    ("row lock", DItem.objects.for_update()),
]


@pytest.mark.parametrize(("what", "query"), GUARDED, ids=[f"{g[0]}-{i}" for i, g in enumerate(GUARDED)])
def test_mutation_guard(what: str, query: Any) -> None:
    with pytest.raises(ValidationError, match=f"update\\(\\) .*does not support .*{what}"):
        query.update(stock=1)
    with pytest.raises(ValidationError, match=f"delete\\(\\) .*does not support .*{what.split('/')[0]}"):
        query.delete()
    with pytest.raises(ValidationError):
        query.none().delete()  # the guard runs before the none() short-circuit


ERRORS: list[tuple[str, Any, str]] = [
    ("insert nothing", lambda: insert(DItem, []), "no rows"),
    ("insert a row of another model", lambda: insert(DItem, [doc]), "is not a DItem"),
    ("insert a bad value", lambda: insert_one(DItem(sku=3)), "DItem.sku"),  # type: ignore[arg-type]
    ("insert NULL into NOT NULL", lambda: insert_one(DItem(sku=None)), "NOT NULL"),  # type: ignore[arg-type]
    ("update nothing", lambda: DItem.objects.update(), "at least one"),
    ("update unknown field", lambda: DItem.objects.update(nope=1), "no field 'nope'"),
    ("update the pk", lambda: DItem.objects.update(id=1), "primary key"),
    ("update with another model's column", lambda: DItem.objects.update(stock=DDoc.version), "DDoc.version"),
    ("update with a wrong type", lambda: DItem.objects.update(stock="many"), "DItem.stock"),
    ("update_one unsaved", lambda: update_one(a), "never saved"),
    ("update_one version", lambda: update_one(doc, {"version": 9}), "version counter"),
    ("delete_one unsaved", lambda: delete_one(a), "never saved"),
    ("conflict needs a target", lambda: insert_one(a).on_conflict(), "exactly one"),
    ("conflict bad constraint", lambda: insert_one(a).on_conflict(constraint="x y"), "constraint name"),
    ("conflict other model", lambda: insert_one(a).on_conflict(DDoc.body), "DDoc.body"),
    ("do_update nothing", lambda: insert_one(a).on_conflict(DItem.sku).do_update(set={}), "at least one"),
    ("excluded of an expression", lambda: excluded(DItem.stock + 1), "excluded"),  # type: ignore[arg-type]
    ("insert_from no columns", lambda: insert_from(DArchive, DItem.objects, []), "no target columns"),
    (
        "insert_from count mismatch",
        lambda: insert_from(DArchive, DItem.objects.values(DItem.sku), [DArchive.sku, DArchive.stock]),
        "1 values for 2",
    ),
    (
        "insert_from missing source column",
        lambda: insert_from(DItem, DArchive.objects, [DItem.note]),
        "no field 'note'",
    ),
    ("insert_from locked source", lambda: insert_from(DArchive, DItem.objects.for_update(), [DArchive.sku]), "lock"),
]


@pytest.mark.parametrize(("name", "build", "message"), ERRORS, ids=[c[0] for c in ERRORS])
def test_errors(name: str, build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()
