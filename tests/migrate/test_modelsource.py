"""``model_source``: the models ``db inspect`` writes for a snapshot (golden source, and its refusals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Index, Model, field
from djogi.migrate import project
from djogi.migrate.modelsource import InspectError, model_source
from djogi.migrate.snapshot import IndexSchema, IndexTarget, Snapshot
from djogi.model import models, registry_scope
from tests.migrate.helpers import declared_by


class Genre(djogi.Enum):
    FICTION = "fiction"
    SCIENCE_FICTION = "science fiction"


@pytest.fixture(scope="module")
def snapshot() -> Iterator[Snapshot]:
    with registry_scope(isolated=True):

        class Author(Model[djogi.Serial], table="authors", comment="people who write"):
            name: Field[str] = field(max_length=200, index=True)
            email: Field[str] = field(unique=True, column="mail")
            born: Field[dt.date | None] = field(default=None)
            pages: Field[djogi.SmallInt | None] = field(comment="it's long", default=None)

        class Book(Model, table="books", indexes=(Index(columns=("genre", "-price"), where="price > 0"),)):
            title: Field[str]
            author: ForeignKey[Author] = field(on_delete="cascade")
            genre: Field[Genre] = field(default=Genre.FICTION)
            price: Field[Decimal] = field(precision=10, scale=2, db_default="0", check="price >= 0")
            tags: Field[list[str]] = field(default=[])

        yield project(models(), "main", None).unwrap()


GOLDEN = '''"""Models written by ``djogi db inspect``: one per table, as the database has it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import msgspec

import djogi
from djogi import Check, CompositeForeignKey, Field, ForeignKey, Index, IndexColumn, Model, field


class Genre(djogi.Enum):
    __pg_name__ = "genre"
    FICTION = "fiction"
    SCIENCE_FICTION = "science fiction"


class Authors(Model[djogi.Serial], table="authors", comment="people who write"):
    name: Field[str] = field(max_length=200, index=True)
    mail: Field[str] = field(unique=True)
    born: Field[dt.date | None] = field(default=None)
    pages: Field[djogi.SmallInt | None] = field(comment="it's long", default=None)


class Books(
    Model,
    table="books",
    indexes=(
        Index(
            columns=("genre", IndexColumn(name="price", order="desc")),
            name="books_genre_price_idx",
            where="price > 0",
        ),
    ),
):
    title: Field[str]
    author: ForeignKey[Authors] = field(on_delete="cascade")
    genre: Field[Genre]
    price: Field[Decimal] = field(precision=10, scale=2, db_default="0", check="price >= 0")
    tags: Field[list[str]]
'''


def test_golden_source(snapshot: Snapshot) -> None:
    assert model_source(snapshot) == GOLDEN
    assert declared_by(GOLDEN) == snapshot.structure()


def test_a_chosen_table_must_exist_and_its_references_be_chosen_too(snapshot: Snapshot) -> None:
    assert "class Books" not in model_source(snapshot, tables=["authors"])
    with pytest.raises(InspectError, match="no table nope in the database"):
        model_source(snapshot, tables=["authors", "nope"])
    with pytest.raises(InspectError, match=r"books\.author_id: references table authors, which is not being inspected"):
        model_source(snapshot, tables=["books"])


def test_what_cannot_be_declared_exactly_is_refused(snapshot: Snapshot) -> None:
    books = snapshot.models["books"]

    def with_books(**changes: object) -> Snapshot:
        changed = msgspec.structs.replace(books, **changes)
        return msgspec.structs.replace(snapshot, models={**snapshot.models, "books": changed})

    keyless = msgspec.structs.replace(books.primary_key, columns=())
    with pytest.raises(InspectError, match="table books: a table without a primary key cannot be declared"):
        model_source(with_books(primary_key=keyless))
    odd = tuple(msgspec.structs.replace(c, sql_type="point") if c.name == "title" else c for c in books.columns)
    with pytest.raises(InspectError, match=r"books\.title: type point has no djogi field type yet"):
        model_source(with_books(columns=odd))
    genre = msgspec.structs.replace(books, table="genre")  # a table whose class would be the enum's
    clash = msgspec.structs.replace(snapshot, models={**snapshot.models, "genre": genre})
    with pytest.raises(InspectError, match=r"enum types or domains \['Genre'\] would be classes of the same name"):
        model_source(clash)
    expression = IndexSchema(name="books_lower_idx", table="books", target=IndexTarget(expression="lower(title)"))
    with pytest.raises(InspectError, match="index books_lower_idx on books: expression indexes"):
        model_source(msgspec.structs.replace(snapshot, indexes=(*snapshot.indexes, expression)))


def test_a_tenant_keyed_table_is_written_with_its_tenant_key() -> None:
    with registry_scope(isolated=True):

        class Note(Model, table="notes", tenant_key="shop"):
            shop: Field[str] = field(column="shop_code")
            body: Field[str]

        written = project(models(), "main", None).unwrap()
    source = model_source(written)
    expected = 'class Notes(Model, table="notes", tenant_key="shop_code"):\n    shop_code: Field[str]\n    body: Field[str]\n'  # noqa: E501
    assert expected in source
    assert declared_by(source) == written.structure()
    rls_only = msgspec.structs.replace(written.models["notes"], tenant_key=None)
    with pytest.raises(InspectError, match="table notes: row-level security without djogi's tenant isolation"):
        model_source(msgspec.structs.replace(written, models={"notes": rls_only}))


def test_foreign_key_indexes_are_written_only_where_they_differ_from_the_default() -> None:
    with registry_scope(isolated=True):

        class Shelf(Model, table="shelves"):
            label: Field[str]

        class Place(Model, table="places"):
            shelf: ForeignKey[Shelf]
            spare: ForeignKey[Shelf] = field(index=False, related_name="spares")
            hashed: ForeignKey[Shelf] = field(index="hash", related_name="hashes")

        source = model_source(project(models(), "main", None).unwrap())
    assert source.endswith(
        'class Places(Model, table="places"):\n'
        '    shelf: ForeignKey[Shelves] = field(related_name="places_shelf")\n'
        '    spare: ForeignKey[Shelves] = field(related_name="places_spare", index=False)\n'
        '    hashed: ForeignKey[Shelves] = field(related_name="places_hashed", index="hash")\n'
    )


def test_search_columns_are_written_with_their_types() -> None:
    with registry_scope(isolated=True):

        class Doc(Model, table="docs"):
            body: Field[djogi.TsVector]
            emb: Field[djogi.Vector] = field(sql_type="VECTOR(3)")

        written = project(models(), "main", None).unwrap()
    source = model_source(written)
    assert source.endswith(
        '    body: Field[djogi.TsVector]\n    emb: Field[djogi.Vector] = field(sql_type="VECTOR(3)")\n'
    )
    assert declared_by(source) == written.structure()


def test_an_existing_schemas_keys_timestamps_and_references_are_declared() -> None:
    """pagila's shapes: keys not named ``id`` filled by a sequence or an identity, a composite key made of
    foreign keys, no djogi timestamps, a collation, ON UPDATE, a reference to a unique field, and two
    references to one model."""
    with registry_scope(isolated=True):

        class Language(Model, table="language", timestamps=False):
            language_id: Field[djogi.Integer | msgspec.UnsetType] = field(
                primary_key=True, sequence="language_language_id_seq", default=msgspec.UNSET
            )
            name: Field[str] = field(max_length=20, collation="C")
            last_update: Field[dt.datetime] = field(db_default="now()")

        class Film(Model, table="film", timestamps=False):
            film_id: Field[int | msgspec.UnsetType] = field(primary_key=True, identity="always", default=msgspec.UNSET)
            code: Field[str] = field(unique=True)
            language: ForeignKey[Language] = field(on_update="cascade", on_delete="restrict")
            original_language: ForeignKey[Language | None] = field(related_name="originals", default=None)

        class FilmCode(Model, table="film_code", primary_key=("film", "n"), timestamps=False):
            film: ForeignKey[Film]
            n: Field[djogi.SmallInt]
            ref: ForeignKey[Film] = field(to_field="code", related_name="refs", index=False)

        written = project(models(), "main", None).unwrap()
    source = model_source(written)
    assert declared_by(source) == written.structure()
    for line in (
        'class Language(Model, table="language", timestamps=False):',
        '    name: Field[str] = field(max_length=20, collation="C")',
        '    last_update: Field[dt.datetime] = field(db_default="now()")',
        '    language_id: Field[djogi.Integer | msgspec.UnsetType] = field(primary_key=True,'
        ' sequence="language_language_id_seq", default=msgspec.UNSET)',
        '    film_id: Field[int | msgspec.UnsetType] = field(primary_key=True, identity="always",'
        ' default=msgspec.UNSET)',
        '    language: ForeignKey[Language] = field(on_update="cascade", related_name="film_language")',
        '    original_language: ForeignKey[Language | None] = field(related_name="film_original_language",'
        " default=None)",
        'class FilmCode(Model, table="film_code", primary_key=("film", "n"), timestamps=False):',
        '    ref: ForeignKey[Film] = field(to_field="code", related_name="film_code_ref", index=False)',
    ):
        assert line + "\n" in source, line
