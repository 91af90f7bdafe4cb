"""``model_source``: the models ``db inspect`` writes for a snapshot (golden source, and its refusals)."""

from __future__ import annotations

import datetime as dt
import sys
import types
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated

import msgspec
import pytest

import djogi
from djogi import ForeignKey, Index, Model, field
from djogi.migrate import project
from djogi.migrate.modelsource import InspectError, model_source
from djogi.migrate.snapshot import IndexSchema, IndexTarget, Snapshot
from djogi.model import models, registry_scope


class Genre(djogi.Enum):
    FICTION = "fiction"
    SCIENCE_FICTION = "science fiction"


@pytest.fixture(scope="module")
def snapshot() -> Iterator[Snapshot]:
    with registry_scope(isolated=True):

        class Author(Model, table="authors", pk=djogi.Serial, comment="people who write"):
            name: Annotated[str, field(max_length=200, index=True)]
            email: Annotated[str, field(unique=True, column="mail")]
            born: dt.date | None = None
            pages: Annotated[djogi.SmallInt | None, field(comment="it's long")] = None

        class Book(Model, table="books", indexes=(Index(columns=("genre", "-price"), where="price > 0"),)):
            title: str
            author: Annotated[ForeignKey[Author], field(on_delete="cascade")]
            genre: Genre = Genre.FICTION
            price: Annotated[Decimal, field(precision=10, scale=2, db_default="0", check="price >= 0")]
            tags: list[str] = []

        yield project(models(), "main", None).unwrap()


GOLDEN = '''"""Models written by ``djogi db inspect``: one per table, as the database has it."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any

import djogi
from djogi import ForeignKey, Index, IndexColumn, Model, field


class Genre(djogi.Enum):
    __pg_name__ = "genre"
    FICTION = "fiction"
    SCIENCE_FICTION = "science fiction"


class Authors(Model, table="authors", pk=djogi.Serial, comment="people who write"):
    name: Annotated[str, field(max_length=200, index=True)]
    mail: Annotated[str, field(unique=True)]
    born: dt.date | None = None
    pages: Annotated[djogi.SmallInt | None, field(comment="it's long")] = None


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
    title: str
    author: Annotated[ForeignKey[Authors], field(on_delete="cascade")]
    genre: Genre
    price: Annotated[Decimal, field(precision=10, scale=2, db_default="0", check="price >= 0")]
    tags: list[str]
'''


def test_golden_source(snapshot: Snapshot) -> None:
    assert model_source(snapshot) == GOLDEN


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

    key = msgspec.structs.replace(books.primary_key, columns=("book_id",))
    with pytest.raises(InspectError, match=r"table books: primary key \('book_id',\) is not a column named id"):
        model_source(with_books(primary_key=key))
    no_stamp = tuple(c for c in books.columns if c.name != "updated_at")
    with pytest.raises(InspectError, match="table books: no updated_at TIMESTAMPTZ NOT NULL DEFAULT now"):
        model_source(with_books(columns=no_stamp))
    odd = tuple(msgspec.structs.replace(c, sql_type="point") if c.name == "title" else c for c in books.columns)
    with pytest.raises(InspectError, match=r"books\.title: type point has no djogi field type yet"):
        model_source(with_books(columns=odd))
    expression = IndexSchema(name="books_lower_idx", table="books", target=IndexTarget(expression="lower(title)"))
    with pytest.raises(InspectError, match="index books_lower_idx on books: expression indexes"):
        model_source(msgspec.structs.replace(snapshot, indexes=(*snapshot.indexes, expression)))



def test_a_tenant_keyed_table_is_written_with_its_tenant_key() -> None:
    with registry_scope(isolated=True):

        class Note(Model, table="notes", tenant_key="shop"):
            shop: Annotated[str, field(column="shop_code")]
            body: str

        written = project(models(), "main", None).unwrap()
    source = model_source(written)
    assert 'class Notes(Model, table="notes", tenant_key="shop_code"):\n    shop_code: str\n    body: str\n' in source
    module = types.ModuleType("inspected_notes")
    sys.modules[module.__name__] = module
    try:
        with registry_scope(isolated=True):
            exec(compile(source, "<inspected>", "exec"), module.__dict__)
            assert project(models(), "main", None).unwrap().structure() == written.structure()
    finally:
        del sys.modules[module.__name__]
    rls_only = msgspec.structs.replace(written.models["notes"], tenant_key=None)
    with pytest.raises(InspectError, match="table notes: row-level security without djogi's tenant isolation"):
        model_source(msgspec.structs.replace(written, models={"notes": rls_only}))


def test_foreign_key_indexes_are_written_only_where_they_differ_from_the_default() -> None:
    with registry_scope(isolated=True):

        class Shelf(Model, table="shelves"):
            label: str

        class Place(Model, table="places"):
            shelf: ForeignKey[Shelf]
            spare: Annotated[ForeignKey[Shelf], field(index=False, related_name="spares")]
            hashed: Annotated[ForeignKey[Shelf], field(index="hash", related_name="hashes")]

        source = model_source(project(models(), "main", None).unwrap())
    assert source.endswith(
        'class Places(Model, table="places"):\n'
        "    shelf: ForeignKey[Shelves]\n"
        "    spare: Annotated[ForeignKey[Shelves], field(index=False)]\n"
        '    hashed: Annotated[ForeignKey[Shelves], field(index="hash")]\n'
    )
