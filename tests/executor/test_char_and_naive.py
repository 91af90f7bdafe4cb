"""``CHAR(n)`` and naive ``TIMESTAMP`` fields on the real server: each value is stored and read back exactly as
written on every write path (VALUES, unnest, COPY), or refused naming the field; PostgreSQL's padding of
``CHAR(n)`` never reaches a model."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import psycopg
import pytest
from psycopg.rows import TupleRow

import djogi
from djogi import Field, Model, field
from djogi.algebra import insert_many, update_many
from djogi.errors import ModelDefinitionError, NotPortable, ValidationError
from djogi.executor import Database
from djogi.migrate.operations import create_table_sql
from djogi.migrate.project import project
from djogi.model import descriptor, registry_scope
from tests.migrate.helpers import creating, projected

pytestmark = pytest.mark.anyio

T0 = dt.datetime(2021, 3, 28, 2, 30)  # a wall-clock time that does not exist in Europe/Berlin


class CLanguage(Model, table="c_language", timestamps=False):
    language_id: Field[djogi.SmallInt] = field(primary_key=True)
    code: Field[str] = field(sql_type="CHAR(3)", unique=True)
    name: Field[str | None] = field(sql_type="CHAR(20)", default=None)
    hired: Field[djogi.NaiveDateTime | None] = field(default=None)


def test_descriptors_and_ddl() -> None:
    desc = descriptor(CLanguage)
    assert [(fd.name, fd.sql_type, fd.value_kind, fd.max_length) for fd in desc.fields] == [
        ("language_id", "SMALLINT", "int", None), ("code", "CHAR(3)", "str", 3), ("name", "CHAR(20)", "str", 20),
        ("hired", "TIMESTAMP", "timestamp", None),
    ]  # fmt: skip
    table = project([desc], "main", None).unwrap().models["c_language"]
    assert create_table_sql(table) == """CREATE TABLE "c_language" (
    "language_id" SMALLINT NOT NULL,
    "code" CHAR(3) NOT NULL,
    "name" CHAR(20),
    "hired" TIMESTAMP,
    CONSTRAINT "c_language_pkey" PRIMARY KEY ("language_id")
);"""


@pytest.fixture
async def langs(db: Database, pg: psycopg.AsyncConnection[TupleRow]) -> Database:
    for up in creating(projected(CLanguage)):
        await pg.execute(up.encode())
    await db.raw("SET TimeZone = 'Europe/Berlin'")  # a naive value must not go through the session's zone
    return db


async def test_values_read_back_as_written_on_every_write_path(langs: Database) -> None:
    rows = [CLanguage(language_id=1, code="en", name="English", hired=T0),
            CLanguage(language_id=2, code="it", name="", hired=None)]  # fmt: skip
    assert await langs.create(rows[0]) == rows[0]
    await langs.bulk_create([rows[1]])  # binary COPY
    await langs.execute(insert_many(CLanguage, [CLanguage(language_id=3, code="abc", hired=T0)]))  # unnest
    assert await langs.all(CLanguage.objects.order_by(CLanguage.language_id)) == [
        *rows, CLanguage(language_id=3, code="abc", hired=T0),
    ]
    later = T0 + dt.timedelta(hours=1)
    await langs.execute(update_many(CLanguage, [CLanguage(language_id=2, code="it", hired=later)], ["hired"]))
    assert (await langs.get(CLanguage, 2)).hired == later
    padded = await langs.raw("SELECT code, name, hired::text FROM c_language WHERE language_id = 1")
    assert padded == [("en ", "English" + " " * 13, "2021-03-28 02:30:00")]  # stored padded, as PostgreSQL does


async def test_queries_compare_with_the_unpadded_values(langs: Database) -> None:
    await langs.create(CLanguage(language_id=1, code="en", name="English", hired=T0))
    found = CLanguage.objects.filter(CLanguage.code == "en", CLanguage.hired == T0, CLanguage.name.startswith("Eng"))
    assert [lang.language_id for lang in await langs.all(found)] == [1]
    assert await langs.values(CLanguage.objects.values(CLanguage.code, CLanguage.name)) == [("en", "English")]
    row = CLanguage(language_id=1, code="en", name="English", hired=T0)
    assert (CLanguage.code == "en").matches(row) and (CLanguage.hired == T0).matches(row)
    with pytest.raises(NotPortable, match="CAST"):  # LIKE reads a CHAR(n) column as text: SQL-only
        found.predicate.matches(row)


@pytest.mark.parametrize(("changes", "message"), [
    ({"code": "en "}, r"CLanguage\.code \(CHAR\(3\)\): trailing spaces in a CHAR\(3\) value"),
    ({"code": "engl"}, r"CLanguage\.code \(CHAR\(3\)\): 4 characters, more than the 3 of CHAR\(3\)"),
    ({"hired": T0.replace(tzinfo=dt.UTC)}, r"CLanguage\.hired \(TIMESTAMP\): .* has a timezone; a timestamp without"),
    ({"hired": dt.date(2021, 1, 1)}, r"CLanguage\.hired \(TIMESTAMP\): cannot use .*expected a naive datetime"),
])  # fmt: skip
async def test_values_that_would_not_read_back_are_refused(
    langs: Database, changes: dict[str, object], message: str
) -> None:
    row = CLanguage(**{"language_id": 9, "code": "de", **changes})  # type: ignore[arg-type]
    for write in (langs.create, lambda r: langs.bulk_create([r])):
        with pytest.raises(ValidationError, match=message):
            await write(row)
    assert await langs.count(CLanguage.objects) == 0


def _bare_char() -> None:
    class Bare(Model, table="c_bare"):
        code: Field[str] = field(sql_type="CHAR")


def _char_with_max_length() -> None:
    class Both(Model, table="c_both"):
        code: Field[str] = field(sql_type="CHAR(2)", max_length=2)


def _naive_array() -> None:
    class Stamps(Model, table="c_stamps"):
        at: Field[list[djogi.NaiveDateTime]]


def _aware_default() -> None:
    class Aware(Model, table="c_aware"):
        at: Field[djogi.NaiveDateTime] = field(default=T0.replace(tzinfo=dt.UTC))


def _naive_auto_timestamp() -> None:
    class Auto(Model, table="c_auto", timestamps=False):
        key: Field[int] = field(primary_key=True)
        at: Field[djogi.NaiveDateTime] = field(timestamp="created", default=T0)


@pytest.mark.parametrize(("declare", "message"), [
    (_bare_char, r"Bare\.code: declare a fixed-length column with its length and no max_length"),
    (_char_with_max_length, r"Both\.code: declare a fixed-length column with its length and no max_length"),
    (_naive_array, r"Stamps\.at: arrays of TIMESTAMP are not supported"),
    (_aware_default, r"Aware\.at: aware datetime default for a TIMESTAMP \(without time zone\) field"),
    (_naive_auto_timestamp, r"Auto\.at: timestamp='created' needs a datetime field stored as TIMESTAMPTZ"),
])  # fmt: skip
def test_declarations_that_would_not_read_back_are_refused(declare: Callable[[], None], message: str) -> None:
    with registry_scope(), pytest.raises(ModelDefinitionError, match=message):
        declare()


async def test_like_matches_the_unpadded_value(langs: Database) -> None:
    await langs.create(CLanguage(language_id=1, code="en", name="English"))
    ends = CLanguage.objects.filter(CLanguage.code.endswith("n"), CLanguage.name.endswith("sh"))
    assert ends.sql().sql.endswith(
        'WHERE (CAST("c_language"."code" AS text) LIKE $1::text AND CAST("c_language"."name" AS text) LIKE $2::text)'
    )
    assert [lang.language_id for lang in await langs.all(ends)] == [1]  # the padded 'en ' would not end in n
