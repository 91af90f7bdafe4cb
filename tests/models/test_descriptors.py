"""Golden descriptors of representative models, and declarations refused at class creation.

No ``from __future__ import annotations`` here: models declared inside test functions must have
annotations that evaluate eagerly, so relations to other local models resolve.
"""

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Index, Jsonb, Model, field
from djogi.errors import ModelDefinitionError
from djogi.model import descriptor, registry_scope
from djogi.types import UUID_V4_PK


class Genre(djogi.Enum):
    FICTION = "fiction"
    SCIENCE = "science"


class BookMeta(msgspec.Struct, frozen=True):
    isbn: str
    pages: int | None = None


@pytest.fixture
def scope() -> Iterator[None]:
    with registry_scope():
        yield


def columns(model: type[Model]) -> list[tuple[Any, ...]]:
    """(column, SQL type, nullable, kind, db_default) per field, for golden comparison."""
    return [(fd.column, fd.sql_type, fd.nullable, fd.kind, fd.db_default) for fd in descriptor(model).fields]


FRAMEWORK_TAIL = [
    ("created_at", "TIMESTAMPTZ", False, "framework", "now()"),
    ("updated_at", "TIMESTAMPTZ", False, "framework", "now()"),
]


def test_author_and_book_descriptors(scope: None) -> None:
    class Author(Model, table="authors"):
        name: Field[str] = field(max_length=200, index=True)
        email: Field[str] = field(unique=True)
        born: Field[dt.date | None] = field(default=None)

    class Book(Model, table="books", indexes=(Index(columns=("genre", "-price")),)):
        title: Field[str]
        author: ForeignKey[Author]
        genre: Field[Genre] = field(default=Genre.FICTION)
        price: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"))
        tags: Field[list[str]] = field(default=[])
        meta: Field[Jsonb[BookMeta] | None] = field(default=None)
        version: Field[int] = field(version=True, default=0)

    assert columns(Author) == [
        ("id", "BIGINT", False, "pk", "heerid_next_desc()"),
        *FRAMEWORK_TAIL,
        ("name", "VARCHAR(200)", False, "data", None),
        ("email", "TEXT", False, "data", None),
        ("born", "DATE", True, "data", None),
    ]
    author = descriptor(Author)
    assert author.pk.kind == "HeerIdRecencyBiased" and author.pk_field.python_type is djogi.HeerIdDesc
    assert author.field("name").index == "btree" and author.field("name").max_length == 200
    assert author.field("email").unique and not author.field("name").unique
    assert author.field("born").has_default and author.field("born").default is None
    assert not author.field("email").has_default

    assert columns(Book) == [
        ("id", "BIGINT", False, "pk", "heerid_next_desc()"),
        *FRAMEWORK_TAIL,
        ("title", "TEXT", False, "data", None),
        ("author_id", "BIGINT", False, "relation", None),
        ("genre", "genre", False, "data", None),
        ("price", "NUMERIC(10, 2)", False, "data", None),
        ("tags", "TEXT[]", False, "data", None),
        ("meta", "JSONB", True, "data", None),
        ("version", "BIGINT", False, "data", None),
    ]
    book = descriptor(Book)
    assert [fd.value_kind for fd in book.fields] == [
        "heerid", "datetime", "datetime", "str", "heerid", "enum", "decimal", "array", "jsonb", "int",
    ]  # fmt: skip
    assert book.field("author").relation is not None and book.field("author").relation.on_delete == "restrict"
    assert book.field("genre").default is Genre.FICTION and book.enums == (Genre,)
    assert book.field("tags").default_factory is list and book.field("tags").element_type is str
    assert book.field("meta").python_type is BookMeta
    assert book.version_field is book.field("version")
    assert book.relations == (book.field("author"),)
    (index,) = book.indexes
    assert index.name == "books_genre_price_idx"
    assert [(c.name, c.order) for c in index.columns] == [("genre", "asc"), ("price", "desc")]


def test_primary_key_kinds(scope: None) -> None:
    class Tag(Model[djogi.Serial], table="tags", unique_together=(("label", "weight"),)):
        label: Field[djogi.SmallInt]
        weight: Field[djogi.Integer]

    class Doc(Model[djogi.RanjId], table="docs"):
        body: Field[bytes]
        score: Field[djogi.Real | None] = field(default=None)

    class Token(Model[uuid.UUID], table="tokens", pk=UUID_V4_PK):
        at: Field[dt.time]
        ttl: Field[dt.timedelta]

    assert columns(Tag)[0] == ("id", "INTEGER", False, "pk", None)
    tag = descriptor(Tag)
    assert tag.pk.kind == "Serial" and tag.pk_field.identity and tag.pk_field.value_kind == "int"
    assert [fd.sql_type for fd in tag.fields[3:]] == ["SMALLINT", "INTEGER"]
    (unique,) = tag.indexes
    assert unique.unique and unique.name == "tags_label_weight_key"

    assert columns(Doc) == [
        ("id", "UUID", False, "pk", "ranjid_next()"),
        *FRAMEWORK_TAIL,
        ("body", "BYTEA", False, "data", None),
        ("score", "REAL", True, "data", None),
    ]
    assert descriptor(Doc).pk.kind == "RanjId" and descriptor(Doc).pk_field.python_type is djogi.RanjId

    assert columns(Token) == [
        ("id", "UUID", False, "pk", "gen_random_uuid()"),
        *FRAMEWORK_TAIL,
        ("at", "TIME", False, "data", None),
        ("ttl", "INTERVAL", False, "data", None),
    ]
    token = descriptor(Token)
    assert token.pk.kind == "Custom" and token.pk_field.python_type is uuid.UUID
    assert token.pk_field.value_kind == "uuid"


def test_long_index_names_are_fitted(scope: None) -> None:
    class Wide(
        Model,
        table="a_rather_long_table_name_for_testing",
        indexes=(Index(columns=("first_long_field_name", "second_long_field_name")),),
    ):
        first_long_field_name: Field[int]
        second_long_field_name: Field[int]

    (index,) = descriptor(Wide).indexes
    assert index.name is not None and len(index.name.encode()) == 63
    assert index.name.startswith("a_rather_long_table_name_for_testing_first_long_field")


def declare(body: dict[str, Any], table: str = "things", **options: Any) -> type[Model]:
    """Declare a model class from value types and defaults (or ``field(...)``), as a class statement would."""
    annotations = {name: Field[hint] for name, (hint, _) in body.items()}
    namespace: dict[str, Any] = {"__annotations__": annotations, "__module__": __name__, "__qualname__": "Thing"}
    namespace.update({name: default for name, (_, default) in body.items() if default is not msgspec.NODEFAULT})
    return type(Model)("Thing", (Model,), namespace, table=table, **options)  # type: ignore[no-any-return]


NO = msgspec.NODEFAULT


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"when": (set[int], NO)}, "Thing.when: unsupported annotation"),
        ({"count": (int, field(max_length=3))}, "Thing.count: max_length applies to str fields"),
        ({"at": (dt.datetime, dt.datetime(2024, 1, 1))}, "Thing.at: naive datetime default"),
        ({"x" * 64: (int, NO)}, "PostgreSQL identifiers are at most 63"),
        ({"order": (int, NO)}, "Thing.order: column name 'order' is a reserved SQL key word; pass field(column=...)"),
        (
            {"a": (int, NO), "b": (int, field(column="a"))},
            "Thing.b: column 'a' is also used by field 'a'",
        ),
        (
            {"version": (str, field(version=True))},
            "Thing.version: a version field must be a non-optional int",
        ),
        ({"meta": (BookMeta, NO)}, "Thing.meta: BookMeta is a Struct; declare the field as Jsonb[BookMeta]"),
    ],
)
def test_bad_declarations_fail_at_class_creation(scope: None, body: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelDefinitionError) as info:
        declare(body)
    assert message in str(info.value)


def test_reserved_word_is_fine_with_an_explicit_column(scope: None) -> None:
    model = declare({"order": (int, field(column="sort_order"))})
    assert descriptor(model).field("order").column == "sort_order"


def test_table_name_over_63_bytes_is_refused(scope: None) -> None:
    with pytest.raises(ModelDefinitionError, match="Thing: table name 'tttt"):
        declare({"a": (int, NO)}, table="t" * 64)


def test_duplicate_table_name_is_refused(scope: None) -> None:
    class First(Model, table="shared_table"):
        a: Field[int]

    with pytest.raises(ModelDefinitionError, match="Second: table 'shared_table' is already declared by First"):

        class Second(Model, table="shared_table"):
            b: Field[int]

    assert descriptor(First).table == "shared_table"
