"""Golden SQL and parameters for INSERT / upsert / INSERT…SELECT / UPDATE / DELETE, the CRUD helpers and the
many-row statements (``insert_many``, ``update_many``) the executor's bulk and upsert verbs run."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import pytest

from djogi import Model, field
from djogi.algebra.compile import cache_clear, cache_size
from djogi.algebra.dml import (
    delete_one,
    excluded,
    get_by_pk,
    insert,
    insert_from,
    insert_many,
    insert_one,
    update,
    update_many,
    update_one,
)
from djogi.algebra.expr import now
from djogi.algebra.results import JoinedRows, ModelRows, RowCount, Statement, TupleRows
from djogi.errors import ArgumentTypeError, ValidationError


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


# ------------------------------------------------------------------------------------------ many rows
# The statements of insert_many / update_many and the upserts the executor's bulk_insert, bulk_upsert,
# bulk_update, get_or_create and update_or_create run.


class MItem(Model, table="m_items"):
    sku: Annotated[str, field(unique=True)]
    stock: int = 0
    note: str | None = None
    code: Annotated[str | msgspec.UnsetType, field(db_default="'x'")] = msgspec.UNSET


class MDoc(Model, table="m_docs"):
    title: Annotated[str, field(unique=True)]
    scores: list[float] = []
    stamps: list[dt.datetime] | None = None
    meta: dict[str, Any] = {}
    version: Annotated[int, field(version=True)] = 0


M = "m_items"
ITEM_ALL = ", ".join(f'"{M}"."{c}"' for c in ("id", "created_at", "updated_at", "sku", "stock", "note", "code"))
DOC_ALL = ", ".join(f'"m_docs"."{c}"' for c in ("id", "created_at", "updated_at", "title", "scores", "stamps", "meta",
                                                 "version"))  # fmt: skip
V = '"__djogi_v"'
ITEM_SELECT = (
    f'SELECT {V}."sku", {V}."stock", {V}."note" FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[]) '
    f'AS {V}("sku", "stock", "note")'
)
ma, mb = MItem(sku="a", stock=1), MItem(sku="b", note="n")
when = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
d1 = MDoc(title="t", scores=[0.1, math.inf], stamps=[when], meta={"k": [1]}, id=7, version=2)
d2 = MDoc(title="u", id=8)

MANY_CASES: list[tuple[str, Any, str, tuple[object, ...]]] = [
    (
        "insert_many: one array per column; db-filled columns every row leaves UNSET left to their defaults",
        insert_many(MItem, [ma, mb]),
        f'INSERT INTO "{M}" ("sku", "stock", "note") {ITEM_SELECT} RETURNING {ITEM_ALL}',
        (["a", "b"], [1, 0], [None, "n"]),
    ),
    (
        "insert_many ON CONFLICT DO NOTHING (what bulk_insert runs)",
        insert_many(MItem, [ma, mb]).on_conflict(MItem.sku).do_nothing(),
        f'INSERT INTO "{M}" ("sku", "stock", "note") {ITEM_SELECT} ON CONFLICT ("sku") DO NOTHING '
        f"RETURNING {ITEM_ALL}",
        (["a", "b"], [1, 0], [None, "n"]),
    ),
    (
        "insert_many ON CONFLICT DO UPDATE from excluded, stamped (what bulk_upsert runs)",
        insert_many(MItem, [ma, mb])
        .on_conflict(MItem.sku)
        .do_update(set={"stock": excluded(MItem.stock), "updated_at": now()}),
        f'INSERT INTO "{M}" ("sku", "stock", "note") {ITEM_SELECT} ON CONFLICT ("sku") DO UPDATE SET '
        f'"stock" = "excluded"."stock", "updated_at" = now() RETURNING {ITEM_ALL}',
        (["a", "b"], [1, 0], [None, "n"]),
    ),
    (
        "insert_many of a model with arrays (as jsonb[] of element texts), JSON (as text) and a version field; "
        "set keys are sent",
        insert_many(MDoc, [d1, d2]).on_conflict(MDoc.title).do_update(set={"meta": excluded(MDoc.meta)}),
        'INSERT INTO "m_docs" ("id", "title", "scores", "stamps", "meta", "version") '
        f'SELECT {V}."id", {V}."title", CASE WHEN {V}."scores" IS NULL THEN NULL ELSE '
        f'ARRAY(SELECT jsonb_array_elements_text({V}."scores"))::DOUBLE PRECISION[] END AS "scores", '
        f'CASE WHEN {V}."stamps" IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text({V}."stamps"))'
        f'::TIMESTAMPTZ[] END AS "stamps", {V}."meta", {V}."version" '
        "FROM unnest($1::BIGINT[], $2::TEXT[], $3::jsonb[], $4::jsonb[], $5::JSONB[], $6::BIGINT[]) "
        f'AS {V}("id", "title", "scores", "stamps", "meta", "version") ON CONFLICT ("title") DO UPDATE SET '
        '"meta" = "excluded"."meta", "version" = ("m_docs"."version" + $7::bigint) RETURNING ' + DOC_ALL,
        ([7, 8], ["t", "u"], ['["0.1","inf"]', "[]"], ['["2020-01-02T02:04:05Z"]', None], ['{"k":[1]}', "{}"],
         [2, 0], 1),
    ),
    (
        "update_many (what bulk_update runs)",
        update_many(MItem, [msgspec.structs.replace(ma, id=1), msgspec.structs.replace(mb, id=2)], ["stock", "note"]),
        f'UPDATE "{M}" SET "stock" = {V}."stock", "note" = {V}."note", "updated_at" = now() '
        f'FROM (SELECT {V}."id", {V}."stock", {V}."note" FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) '
        f'AS {V}("id", "stock", "note")) AS {V} WHERE "{M}"."id" = {V}."id"',
        ([1, 2], [1, 0], [None, "n"]),
    ),
    (
        "update_many with a version field and an array column: versions matched and incremented",
        update_many(MDoc, [d1, d2], ["scores"]),
        f'UPDATE "m_docs" SET "scores" = {V}."scores", "version" = ("m_docs"."version" + $1::bigint), '
        f'"updated_at" = now() FROM (SELECT {V}."id", CASE WHEN {V}."scores" IS NULL THEN NULL ELSE '
        f'ARRAY(SELECT jsonb_array_elements_text({V}."scores"))::DOUBLE PRECISION[] END AS "scores", {V}."version" '
        f'FROM unnest($2::BIGINT[], $3::jsonb[], $4::BIGINT[]) AS {V}("id", "scores", "version")) AS {V} '
        f'WHERE ("m_docs"."id" = {V}."id" AND "m_docs"."version" = {V}."version")',
        (1, [7, 8], ['["0.1","inf"]', "[]"], [2, 0]),
    ),
    (
        "insert_one ON CONFLICT DO NOTHING (what get_or_create runs first)",
        insert_one(ma).on_conflict(MItem.sku).do_nothing(),
        f'INSERT INTO "{M}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) ON CONFLICT ("sku") '
        f"DO NOTHING RETURNING {ITEM_ALL}",
        ("a", 1),
    ),
    (
        "insert_one ON CONFLICT DO UPDATE with_created (what update_or_create runs)",
        insert_one(ma).on_conflict(MItem.sku).do_update(set={"stock": excluded(MItem.stock)}).with_created(),
        f'INSERT INTO "{M}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) ON CONFLICT ("sku") '
        f'DO UPDATE SET "stock" = "excluded"."stock" RETURNING {ITEM_ALL}, old."id" IS NULL',
        ("a", 1),
    ),
    (
        "with_created after without_returning returns every column",
        insert_one(ma).without_returning().with_created(),
        f'INSERT INTO "{M}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) '
        f'RETURNING {ITEM_ALL}, old."id" IS NULL',
        ("a", 1),
    ),
]


CASES += MANY_CASES


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


def test_many_result_shapes() -> None:
    item_columns = ("id", "created_at", "updated_at", "sku", "stock", "note", "code")
    assert insert_many(MItem, [ma]).sql().result == ModelRows(MItem, item_columns)
    assert update_many(MItem, [msgspec.structs.replace(ma, id=1)], ["stock"]).sql().result == RowCount()
    created = insert_one(ma).with_returning(MItem.stock).with_created().sql().result
    assert created == JoinedRows((TupleRows(1), TupleRows(1)), (False, False))
    assert insert_one(ma).with_created().sql().result == JoinedRows(
        (ModelRows(MItem, item_columns), TupleRows(1)), (False, False)
    )


def test_values_are_equal_by_structure_and_cached_by_shape() -> None:
    assert insert_many(MDoc, [d1, d2]) == insert_many(MDoc, [d1, d2])
    assert hash(update_many(MDoc, [d1], ["scores"])) == hash(update_many(MDoc, [d1], ["scores"]))
    assert insert_many(MDoc, [d1, d2]) != insert_many(MDoc, [d2, d1])
    cache_clear()
    first = update_many(MDoc, [d1, d2], ["scores"]).sql()
    assert cache_size() == 1
    other = msgspec.structs.replace(d1, scores=[-0.0], id=9)
    second = update_many(MDoc, [other, d2], ["scores"]).sql()
    assert cache_size() == 1 and second.sql == first.sql
    assert second.params == (1, [9, 8], ['["-0.0"]', "[]"], [2, 0])


MANY_ERRORS: list[tuple[str, Any, type[Exception], str]] = [
    ("insert_many nothing", lambda: insert_many(MItem, []), ValidationError, "no rows"),
    ("insert_many not a list", lambda: insert_many(MItem, ma), ArgumentTypeError, "list of MItem"),  # type: ignore[arg-type]
    ("insert_many another model", lambda: insert_many(MItem, [ma, d2]), ValidationError, "of MItem only; got MDoc"),
    ("insert_many a bad value", lambda: insert_many(MItem, [ma, MItem(sku=3)]), ValidationError, r"MItem\.sku"),  # type: ignore[arg-type]
    ("insert_many NULL", lambda: insert_many(MItem, [MItem(sku=None)]), ValidationError, r"MItem\.sku.*NOT NULL"),  # type: ignore[arg-type]
    ("insert_many NaN in JSON", lambda: insert_many(MDoc, [MDoc(title="x", meta={"n": math.nan})]), ValidationError,
     r"MDoc\.meta"),
    ("insert_many half set", lambda: insert_many(MItem, [ma, MItem(sku="c", code="y")]), ValidationError,
     r"MItem\.code is UNSET in some rows"),
    ("update_many unsaved", lambda: update_many(MItem, [ma], ["stock"]), ValidationError, "must have been created"),
    ("update_many unknown", lambda: update_many(MDoc, [d1], ["nope"]), ValidationError, "no field 'nope'"),
    ("update_many no fields", lambda: update_many(MDoc, [d1], []), ValidationError, "needs data fields"),
    ("update_many the key", lambda: update_many(MDoc, [d1], ["id"]), ValidationError, "needs data fields"),
    ("update_many the version", lambda: update_many(MDoc, [d1], ["version"]), ValidationError, "needs data fields"),
    ("update_many a timestamp", lambda: update_many(MDoc, [d1], ["updated_at"]), ValidationError, "needs data fields"),
    ("update_many a bad value", lambda: update_many(MDoc, [msgspec.structs.replace(d1, scores=[None])], ["scores"]),
     ValidationError, r"MDoc\.scores"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "error", "message"), MANY_ERRORS, ids=[c[0] for c in MANY_ERRORS])
def test_many_errors(name: str, build: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build()
