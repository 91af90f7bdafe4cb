"""Domains (``Annotated[T, Domain(...)]``): golden DDL for creating, altering and dropping one, the catalog
reading back what the models declare, ``db inspect`` writing it, and writes through a domain-typed field
checked as its base type (and by the domain's CHECK in the database)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeAlias

import psycopg
import pytest
from psycopg.rows import TupleRow

import djogi
from djogi import Check, Domain, Field, Model, field
from djogi.errors import CheckViolation, ModelDefinitionError, ValidationError
from djogi.executor import Database
from djogi.migrate import introspect
from djogi.migrate.diff import diff
from djogi.migrate.modelsource import model_source
from djogi.migrate.snapshot import EMPTY, CheckSchema, DomainSchema, encode
from djogi.model import descriptor, registry_scope
from tests.migrate.helpers import creating, declared_by, plan, projected, snap, steps

pytestmark = pytest.mark.anyio

YEAR_CHECK = Check(name="year_check", expression="VALUE >= 1901 AND VALUE <= 2155")
Year: TypeAlias = Annotated[djogi.SmallInt, Domain(name="year", base="SMALLINT", checks=(YEAR_CHECK,))]


class DFilm(Model, table="d_film", timestamps=False):
    film_id: Field[int] = field(primary_key=True)
    release_year: Field[Year | None] = field(default=None)


YearWide: TypeAlias = Annotated[
    int, Domain(name="year", base="SMALLINT", checks=(Check(name="year_check", expression="VALUE >= 1800"),),
                default="2000"),
]  # fmt: skip


def films(wide: bool = False) -> Callable[[], None]:
    def declare() -> None:
        if wide:

            class WideFilm(Model, table="film", timestamps=False):
                film_id: Field[int] = field(primary_key=True)
                release_year: Field[YearWide | None] = field(default=None)
        else:

            class Film(Model, table="film", timestamps=False):
                film_id: Field[int] = field(primary_key=True)
                release_year: Field[Year | None] = field(default=None)

    return declare


def test_a_domain_field_is_its_base_type_in_python_and_the_domain_in_the_catalog() -> None:
    fd = descriptor(DFilm).field("release_year")
    assert (fd.sql_type, fd.value_kind, fd.domain) == ("SMALLINT", "int", Domain(name="year", base="SMALLINT",
                                                                                  checks=(YEAR_CHECK,)))  # fmt: skip
    snapshot = snap(films())
    assert snapshot.models["film"].column("release_year").sql_type == "year"  # type: ignore[union-attr]
    assert snapshot.domains == {"year": DomainSchema(
        name="year", base_type="SMALLINT", checks=(CheckSchema(name="year_check", expression="value >= 1901 AND "
                                                                                              "value <= 2155"),))}
    assert b'"domains"' in encode(snapshot) and b'"domains"' not in encode(EMPTY)


def test_golden_ddl() -> None:
    assert [(label, up, down) for label, up, down, _ in steps(plan(None, films()))][:2] == [
        ("AddDomain year",
         'CREATE DOMAIN "year" AS SMALLINT;\n'
         'ALTER DOMAIN "year" ADD CONSTRAINT "year_check" CHECK (value >= 1901 AND value <= 2155);\n'
         'COMMENT ON CONSTRAINT "year_check" ON DOMAIN "year" IS \'value >= 1901 AND value <= 2155\';',
         'DROP DOMAIN "year";'),
        ("AddTable film",
         'CREATE TABLE "film" (\n    "film_id" BIGINT NOT NULL,\n    "release_year" year,\n'
         '    CONSTRAINT "film_pkey" PRIMARY KEY ("film_id")\n);',
         'DROP TABLE "film";'),
    ]  # fmt: skip
    assert [(label, up, down) for label, up, down, _ in steps(plan(films(), films(wide=True)))] == [
        ("AlterDomain year default", 'ALTER DOMAIN "year" SET DEFAULT 2000;', 'ALTER DOMAIN "year" DROP DEFAULT;'),
        ("AlterDomain year drop check year_check", 'ALTER DOMAIN "year" DROP CONSTRAINT "year_check";',
         'ALTER DOMAIN "year" ADD CONSTRAINT "year_check" CHECK (value >= 1901 AND value <= 2155);\n'
         'COMMENT ON CONSTRAINT "year_check" ON DOMAIN "year" IS \'value >= 1901 AND value <= 2155\';'),
        ("AlterDomain year add check year_check",
         'ALTER DOMAIN "year" ADD CONSTRAINT "year_check" CHECK (value >= 1800) NOT VALID;\n'
         'COMMENT ON CONSTRAINT "year_check" ON DOMAIN "year" IS \'value >= 1800\';',
         'ALTER DOMAIN "year" DROP CONSTRAINT "year_check";'),
        ("AlterDomain year validate check year_check", 'ALTER DOMAIN "year" VALIDATE CONSTRAINT "year_check";',
         "-- no reverse: validation has no reverse"),
    ]  # fmt: skip
    dropped = steps(plan(films(), lambda: None))
    assert dropped[-1][:2] == ("DropDomain year", 'DROP DOMAIN "year";')
    retyped = snap(films())
    changed = diff(retyped, retyped.__class__(
        enums={}, indexes=(), models=retyped.models,
        domains={"year": DomainSchema(name="year", base_type="INTEGER")},
    ))  # fmt: skip
    assert "domain year: changing its base type (SMALLINT -> INTEGER) is not supported" in str(changed.failure())


def test_the_catalog_reads_back_the_declared_domain_and_inspect_writes_it(
    pg_sync: psycopg.Connection[TupleRow],
) -> None:
    for _, up, _, _ in steps(plan(None, films())):
        pg_sync.execute(up.encode())
    live = introspect(pg_sync)
    assert live.structure() == snap(films()).structure()
    source = model_source(live)
    assert (
        'Year: TypeAlias = Annotated[\n    djogi.SmallInt,\n    Domain(\n        name="year",\n'
        '        base="SMALLINT",\n'
        '        checks=(Check(name="year_check", expression="value >= 1901 AND value <= 2155"),),\n    ),\n]'
    ) in source
    assert "    release_year: Field[Year | None] = field(default=None)" in source
    assert declared_by(source) == live.structure()


@pytest.fixture
async def fdb(db: Database, pg: psycopg.AsyncConnection[TupleRow]) -> Database:
    for up in creating(projected(DFilm)):
        await pg.execute(up.encode())
    return db


async def test_writes_are_checked_as_the_base_type_and_by_the_domain(fdb: Database) -> None:
    assert await fdb.create(DFilm(film_id=1, release_year=2006)) == DFilm(film_id=1, release_year=2006)
    await fdb.bulk_create([DFilm(film_id=2, release_year=1999)])  # COPY: the domain's base type
    assert [f.release_year for f in await fdb.all(DFilm.objects.order_by(DFilm.film_id))] == [2006, 1999]
    with pytest.raises(ValidationError, match=r"DFilm\.release_year.*outside the SMALLINT range"):
        await fdb.create(DFilm(film_id=3, release_year=70000))
    with pytest.raises(CheckViolation, match="year_check"):
        await fdb.create(DFilm(film_id=3, release_year=1066))


def _not_null_optional() -> None:
    class Bad(Model, table="d_bad"):
        year: Field[Annotated[int, Domain(name="y", base="INTEGER", not_null=True)] | None] = field(default=None)


def _bad_check() -> None:
    class Bad(Model, table="d_bad"):
        year: Field[Annotated[int, Domain(name="y", base="INTEGER", checks=(Check(name="c", expression="1; x"),))]]


def _retyped() -> None:
    class Bad(Model, table="d_bad"):
        year: Field[Annotated[int, Domain(name="y", base="INTEGER")]] = field(sql_type="BIGINT")


@pytest.mark.parametrize(("declare", "message"), [
    (_not_null_optional, r"Bad\.year: domain y is NOT NULL; the field cannot be optional"),
    (_bad_check, r"Bad\.year: domain y: check c="),
    (_retyped, r"Bad\.year: domain y types the column; drop sql_type="),
])  # fmt: skip
def test_refused_declarations(declare: Callable[[], None], message: str) -> None:
    with registry_scope(isolated=True), pytest.raises(ModelDefinitionError, match=message):
        declare()
