"""Golden SQL and parameters for the many-row statements (``insert_many``, ``update_many``) and the upserts
the executor's ``bulk_insert`` / ``bulk_upsert`` / ``bulk_update`` / ``get_or_create`` / ``update_or_create``
run: each is an algebra value, printable with ``.sql()``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import msgspec
import pytest

from djogi import Model, field
from djogi.algebra.compile import JoinedRows, ModelRows, RowCount, Statement, TupleRows, cache_clear, cache_size
from djogi.algebra.dml import excluded, insert_many, insert_one, update_many
from djogi.algebra.expr import now
from djogi.errors import ArgumentTypeError, ValidationError


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


T = "m_items"
ITEM_ALL = ", ".join(f'"{T}"."{c}"' for c in ("id", "created_at", "updated_at", "sku", "stock", "note", "code"))
DOC_ALL = ", ".join(f'"m_docs"."{c}"' for c in ("id", "created_at", "updated_at", "title", "scores", "stamps", "meta",
                                                 "version"))  # fmt: skip
V = '"__djogi_v"'
ITEM_SELECT = (
    f'SELECT {V}."sku", {V}."stock", {V}."note" FROM unnest($1::TEXT[], $2::BIGINT[], $3::TEXT[]) '
    f'AS {V}("sku", "stock", "note")'
)
a, b = MItem(sku="a", stock=1), MItem(sku="b", note="n")
when = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
d1 = MDoc(title="t", scores=[0.1, math.inf], stamps=[when], meta={"k": [1]}, id=7, version=2)
d2 = MDoc(title="u", id=8)

CASES: list[tuple[str, Any, str, tuple[object, ...]]] = [
    (
        "insert_many: one array per column; db-filled columns every row leaves UNSET left to their defaults",
        insert_many(MItem, [a, b]),
        f'INSERT INTO "{T}" ("sku", "stock", "note") {ITEM_SELECT} RETURNING {ITEM_ALL}',
        (["a", "b"], [1, 0], [None, "n"]),
    ),
    (
        "insert_many ON CONFLICT DO NOTHING (what bulk_insert runs)",
        insert_many(MItem, [a, b]).on_conflict(MItem.sku).do_nothing(),
        f'INSERT INTO "{T}" ("sku", "stock", "note") {ITEM_SELECT} ON CONFLICT ("sku") DO NOTHING '
        f"RETURNING {ITEM_ALL}",
        (["a", "b"], [1, 0], [None, "n"]),
    ),
    (
        "insert_many ON CONFLICT DO UPDATE from excluded, stamped (what bulk_upsert runs)",
        insert_many(MItem, [a, b])
        .on_conflict(MItem.sku)
        .do_update(set={"stock": excluded(MItem.stock), "updated_at": now()}),
        f'INSERT INTO "{T}" ("sku", "stock", "note") {ITEM_SELECT} ON CONFLICT ("sku") DO UPDATE SET '
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
        update_many(MItem, [msgspec.structs.replace(a, id=1), msgspec.structs.replace(b, id=2)], ["stock", "note"]),
        f'UPDATE "{T}" SET "stock" = {V}."stock", "note" = {V}."note", "updated_at" = now() '
        f'FROM (SELECT {V}."id", {V}."stock", {V}."note" FROM unnest($1::BIGINT[], $2::BIGINT[], $3::TEXT[]) '
        f'AS {V}("id", "stock", "note")) AS {V} WHERE "{T}"."id" = {V}."id"',
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
        insert_one(a).on_conflict(MItem.sku).do_nothing(),
        f'INSERT INTO "{T}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) ON CONFLICT ("sku") '
        f"DO NOTHING RETURNING {ITEM_ALL}",
        ("a", 1),
    ),
    (
        "insert_one ON CONFLICT DO UPDATE with_created (what update_or_create runs)",
        insert_one(a).on_conflict(MItem.sku).do_update(set={"stock": excluded(MItem.stock)}).with_created(),
        f'INSERT INTO "{T}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) ON CONFLICT ("sku") '
        f'DO UPDATE SET "stock" = "excluded"."stock" RETURNING {ITEM_ALL}, old."id" IS NULL',
        ("a", 1),
    ),
    (
        "with_created after without_returning returns every column",
        insert_one(a).without_returning().with_created(),
        f'INSERT INTO "{T}" ("sku", "stock", "note") VALUES ($1::text, $2::bigint, NULL) '
        f'RETURNING {ITEM_ALL}, old."id" IS NULL',
        ("a", 1),
    ),
]


@pytest.mark.parametrize(("name", "value", "sql", "params"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, value: Any, sql: str, params: tuple[object, ...]) -> None:
    stmt: Statement = value.sql()
    assert stmt.sql == sql
    assert stmt.params == params


def test_result_shapes() -> None:
    item_columns = ("id", "created_at", "updated_at", "sku", "stock", "note", "code")
    assert insert_many(MItem, [a]).sql().result == ModelRows(MItem, item_columns)
    assert update_many(MItem, [msgspec.structs.replace(a, id=1)], ["stock"]).sql().result == RowCount()
    created = insert_one(a).with_returning(MItem.stock).with_created().sql().result
    assert created == JoinedRows((TupleRows(1), TupleRows(1)), (False, False))
    assert insert_one(a).with_created().sql().result == JoinedRows(
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


ERRORS: list[tuple[str, Any, type[Exception], str]] = [
    ("insert_many nothing", lambda: insert_many(MItem, []), ValidationError, "no rows"),
    ("insert_many not a list", lambda: insert_many(MItem, a), ArgumentTypeError, "list of MItem"),  # type: ignore[arg-type]
    ("insert_many another model", lambda: insert_many(MItem, [a, d2]), ValidationError, "rows of MItem only; got MDoc"),
    ("insert_many a bad value", lambda: insert_many(MItem, [a, MItem(sku=3)]), ValidationError, r"MItem\.sku"),  # type: ignore[arg-type]
    ("insert_many NULL", lambda: insert_many(MItem, [MItem(sku=None)]), ValidationError, r"MItem\.sku.*NOT NULL"),  # type: ignore[arg-type]
    ("insert_many NaN in JSON", lambda: insert_many(MDoc, [MDoc(title="x", meta={"n": math.nan})]), ValidationError,
     r"MDoc\.meta"),
    ("insert_many half set", lambda: insert_many(MItem, [a, MItem(sku="c", code="y")]), ValidationError,
     r"MItem\.code is UNSET in some rows"),
    ("update_many unsaved", lambda: update_many(MItem, [a], ["stock"]), ValidationError, "must have been created"),
    ("update_many unknown", lambda: update_many(MDoc, [d1], ["nope"]), ValidationError, "no field 'nope'"),
    ("update_many no fields", lambda: update_many(MDoc, [d1], []), ValidationError, "needs data fields"),
    ("update_many the key", lambda: update_many(MDoc, [d1], ["id"]), ValidationError, "needs data fields"),
    ("update_many the version", lambda: update_many(MDoc, [d1], ["version"]), ValidationError, "needs data fields"),
    ("update_many a timestamp", lambda: update_many(MDoc, [d1], ["updated_at"]), ValidationError, "needs data fields"),
    ("update_many a bad value", lambda: update_many(MDoc, [msgspec.structs.replace(d1, scores=[None])], ["scores"]),
     ValidationError, r"MDoc\.scores"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "build", "error", "message"), ERRORS, ids=[c[0] for c in ERRORS])
def test_errors(name: str, build: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        build()
