"""Golden SQL and parameters for every Select combinator, build-time errors, and method/pipe equality."""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Annotated, Any

import msgspec
import pytest
from toolz import pipe

import djogi
from djogi import ForeignKey, Model, field
from djogi.algebra.expr import lower
from djogi.algebra.query import (
    Select,
    after,
    defer,
    distinct,
    distinct_on,
    exclude,
    for_key_share,
    for_no_key_update,
    for_share,
    for_update,
    limit,
    none,
    offset,
    only,
    order_by,
    select,
    values,
    where,
)
from djogi.algebra.results import ModelRows, StructRows, TupleRows
from djogi.errors import ValidationError


class QGenre(djogi.Enum):
    FICTION = "fiction"
    SCIENCE = "science"


class QAuthor(Model, table="q_authors"):
    name: str
    email: Annotated[str, field(unique=True)]


class QBook(Model, table="q_books"):
    title: str
    author: ForeignKey[QAuthor]
    genre: QGenre = QGenre.FICTION
    price: Decimal = Decimal("0")
    rating: int | None = None
    tags: list[str] = []


class Pair(msgspec.Struct):
    title: str
    price: Decimal


COLS = ("id", "created_at", "updated_at", "title", "author_id", "genre", "price", "rating", "tags")
ALL = ", ".join(f'"q_books"."{c}"' for c in COLS)
B = "q_books"

CASES: list[tuple[str, Select[Any], str, tuple[object, ...]]] = [
    ("all", QBook.objects, f'SELECT {ALL} FROM "{B}"', ()),
    (
        "filter several args",
        QBook.objects.filter(QBook.genre == QGenre.SCIENCE, QBook.price < 30),
        f'SELECT {ALL} FROM "{B}" WHERE ("{B}"."genre" = $1::"q_genre" AND "{B}"."price" < $2::numeric)',
        (QGenre.SCIENCE, Decimal(30)),
    ),
    (
        "where twice is AND",
        QBook.objects.where(QBook.price > 1).where(QBook.title == "x"),
        f'SELECT {ALL} FROM "{B}" WHERE ("{B}"."price" > $1::numeric AND "{B}"."title" = $2::text)',
        (Decimal(1), "x"),
    ),
    (
        "exclude is null-safe NOT",
        QBook.objects.exclude(QBook.rating == 5),
        f'SELECT {ALL} FROM "{B}" WHERE ("{B}"."rating" <> $1::bigint OR "{B}"."rating" IS NULL)',
        (5,),
    ),
    (
        "exclude several args negates their AND",
        QBook.objects.exclude(QBook.price > 1, QBook.title == "x"),
        f'SELECT {ALL} FROM "{B}" WHERE ("{B}"."price" <= $1::numeric OR "{B}"."title" <> $2::text)',
        (Decimal(1), "x"),
    ),
    (
        "order_by appends; bare column is ASC",
        QBook.objects.order_by(QBook.price).order_by(QBook.created_at.desc().nulls_last()),
        f'SELECT {ALL} FROM "{B}" ORDER BY "{B}"."price" ASC, "{B}"."created_at" DESC NULLS LAST',
        (),
    ),
    (
        "order by expression",
        QBook.objects.order_by(lower(QBook.title).asc().nulls_first()),
        f'SELECT {ALL} FROM "{B}" ORDER BY lower("{B}"."title") ASC NULLS FIRST',
        (),
    ),
    (
        "limit and offset replace",
        QBook.objects.limit(5).offset(7).limit(20).offset(40),
        f'SELECT {ALL} FROM "{B}" LIMIT 20 OFFSET $1::bigint',
        (40,),
    ),
    ("limit None removes", QBook.objects.limit(5).limit(None), f'SELECT {ALL} FROM "{B}"', ()),
    ("distinct", QBook.objects.distinct(), f'SELECT DISTINCT {ALL} FROM "{B}"', ()),
    (
        "distinct on",
        QBook.objects.distinct_on(QBook.author).order_by(QBook.author, QBook.price.desc()),
        f'SELECT DISTINCT ON ("{B}"."author_id") {ALL} FROM "{B}" ORDER BY "{B}"."author_id" ASC, "{B}"."price" DESC',
        (),
    ),
    (
        "only keeps id, canonical order",
        QBook.objects.only(QBook.price, QBook.title, QBook.author),
        f'SELECT "{B}"."id", "{B}"."title", "{B}"."author_id", "{B}"."price" FROM "{B}"',
        (),
    ),
    (
        "defer",
        QBook.objects.defer(QBook.tags, QBook.created_at),
        f'SELECT "{B}"."id", "{B}"."updated_at", "{B}"."title", "{B}"."author_id", "{B}"."genre", '
        f'"{B}"."price", "{B}"."rating" FROM "{B}"',
        (),
    ),
    ("none", QBook.objects.filter(QBook.price > 1).none(), f'SELECT {ALL} FROM "{B}" WHERE FALSE', ()),
    (
        "values into tuples",
        QBook.objects.values(QBook.title, QBook.price * 2),
        f'SELECT "{B}"."title", ("{B}"."price" * $1::numeric) FROM "{B}"',
        (Decimal(2),),
    ),
    (
        "values into a struct",
        QBook.objects.values(QBook.title, QBook.price, into=Pair),
        f'SELECT "{B}"."title" AS "title", "{B}"."price" AS "price" FROM "{B}"',
        (),
    ),
    ("for update", QBook.objects.for_update(), f'SELECT {ALL} FROM "{B}" FOR UPDATE', ()),
    (
        "for update of, nowait",
        QBook.objects.for_update(nowait=True, of=[QBook]),
        f'SELECT {ALL} FROM "{B}" FOR UPDATE OF "{B}" NOWAIT',
        (),
    ),
    (
        "work queue: skip locked",
        QBook.objects.filter(QBook.rating == None).order_by(QBook.created_at).limit(10).for_update(skip_locked=True),  # noqa: E711
        f'SELECT {ALL} FROM "{B}" WHERE "{B}"."rating" IS NULL ORDER BY "{B}"."created_at" ASC '
        "LIMIT 10 FOR UPDATE SKIP LOCKED",
        (),
    ),
    ("for share", QBook.objects.for_share(), f'SELECT {ALL} FROM "{B}" FOR SHARE', ()),
    ("for no key update", QBook.objects.for_no_key_update(), f'SELECT {ALL} FROM "{B}" FOR NO KEY UPDATE', ()),
    ("for key share", QBook.objects.for_key_share(), f'SELECT {ALL} FROM "{B}" FOR KEY SHARE', ()),
    (
        "keyset: one key",
        QBook.objects.order_by(QBook.id).after((7,)),
        f'SELECT {ALL} FROM "{B}" WHERE "{B}"."id" > $1::bigint ORDER BY "{B}"."id" ASC',
        (7,),
    ),
    (
        "keyset: all descending is a row comparison",
        QBook.objects.filter(QBook.price > 0).order_by(QBook.price.desc(), QBook.id.desc()).after((Decimal(5), 9)),
        f'SELECT {ALL} FROM "{B}" WHERE "{B}"."price" > $1::numeric AND ("{B}"."price", "{B}"."id") < '
        f'($2::numeric, $3::bigint) ORDER BY "{B}"."price" DESC, "{B}"."id" DESC',
        (Decimal(0), Decimal(5), 9),
    ),
    (
        "keyset: mixed directions is an OR chain reusing placeholders",
        QBook.objects.order_by(QBook.title, QBook.price.desc(), QBook.id).after(("m", Decimal(5), 9)),
        f'SELECT {ALL} FROM "{B}" WHERE ("{B}"."title" > $1::text OR ("{B}"."title" = $1::text AND '
        f'"{B}"."price" < $2::numeric) OR ("{B}"."title" = $1::text AND "{B}"."price" = $2::numeric AND '
        f'"{B}"."id" > $3::bigint)) ORDER BY "{B}"."title" ASC, "{B}"."price" DESC, "{B}"."id" ASC',
        ("m", Decimal(5), 9),
    ),
    (
        "keyset: after replaces",
        QBook.objects.order_by(QBook.id).after((1,)).after((2,)),
        f'SELECT {ALL} FROM "{B}" WHERE "{B}"."id" > $1::bigint ORDER BY "{B}"."id" ASC',
        (2,),
    ),
]


@pytest.mark.parametrize(("name", "query", "sql", "params"), CASES, ids=[c[0] for c in CASES])
def test_golden(name: str, query: Select[Any], sql: str, params: tuple[object, ...]) -> None:
    stmt = query.sql()
    assert stmt.sql == sql
    assert stmt.params == params


def test_limit_of_an_int_subclass_is_written_as_a_plain_integer() -> None:
    class Size(enum.IntEnum):
        PAGE = 25

    assert QBook.objects.limit(Size.PAGE).sql().sql == f'SELECT {ALL} FROM "{B}" LIMIT 25'


def test_result_shapes() -> None:
    assert QBook.objects.sql().result == ModelRows(QBook, COLS)
    assert QBook.objects.only(QBook.title, QBook.author).sql().result == ModelRows(QBook, ("id", "title", "author_id"))
    assert QBook.objects.values(QBook.title, QBook.price).sql().result == TupleRows(2)
    assert QBook.objects.values(QBook.title, QBook.price, into=Pair).sql().result == StructRows(
        Pair, ("title", "price")
    )
    assert QBook.objects.none().sql().empty
    assert not QBook.objects.sql().empty


LAST = QBook(title="t", author=1, id=3, created_at=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))


def test_methods_and_pipe_build_equal_values() -> None:
    method = (
        QBook.objects.filter(QBook.genre == QGenre.SCIENCE, QBook.price < 30)
        .exclude(QBook.tags.contains(["draft"]))
        .order_by(QBook.created_at.desc(), QBook.id)
        .limit(20)
        .offset(5)
        .only(QBook.title, QBook.author)
        .for_update(skip_locked=True)
        .after(LAST)
    )
    piped = pipe(
        select(QBook),
        where(QBook.genre == QGenre.SCIENCE, QBook.price < 30),
        exclude(QBook.tags.contains(["draft"])),
        order_by(QBook.created_at.desc(), QBook.id),
        limit(20),
        offset(5),
        only(QBook.title, QBook.author),
        for_update(skip_locked=True),
        after(LAST),
    )
    assert method == piped
    assert hash(method) == hash(piped)
    assert method.sql() == piped.sql()
    other = [
        (QBook.objects.distinct(), pipe(QBook.objects, distinct())),
        (QBook.objects.distinct_on(QBook.title), pipe(QBook.objects, distinct_on(QBook.title))),
        (QBook.objects.defer(QBook.tags), pipe(QBook.objects, defer(QBook.tags))),
        (QBook.objects.none(), pipe(QBook.objects, none())),
        (QBook.objects.values(QBook.title), pipe(QBook.objects, values(QBook.title))),
        (QBook.objects.for_share(), pipe(QBook.objects, for_share())),
        (QBook.objects.for_no_key_update(), pipe(QBook.objects, for_no_key_update())),
        (QBook.objects.for_key_share(nowait=True), pipe(QBook.objects, for_key_share(nowait=True))),
    ]
    for a, b in other:
        assert a == b
    assert QBook.objects.limit(1) != QBook.objects.limit(2)


def test_predicate_property() -> None:
    q = QBook.objects.filter(QBook.price > 3).order_by(QBook.price, QBook.id).after((Decimal(5), 7))
    assert q.condition == (QBook.price > 3)
    book = QBook(title="t", author=1, id=8, price=Decimal(5))
    assert q.predicate.matches(book)
    assert not q.predicate.matches(msgspec.structs.replace(book, id=7))
    assert not q.predicate.matches(msgspec.structs.replace(book, price=Decimal(4)))
    assert QBook.objects.none().predicate == djogi.algebra.FALSE


def test_none_absorbs_later_filters() -> None:
    q = QBook.objects.none().filter(QBook.price > 1).exclude(QBook.title == "x")
    assert q.empty and q.sql().sql == f'SELECT {ALL} FROM "{B}" WHERE FALSE'


ERRORS: list[tuple[str, Any, str]] = [
    ("where on another model", lambda: QBook.objects.filter(QAuthor.name == "x"), "QAuthor.name.*QBook.*no join"),
    ("order_by another model", lambda: QBook.objects.order_by(QAuthor.name), "QAuthor.name.*QBook"),
    ("exclude another model", lambda: QBook.objects.exclude(QAuthor.name == "x"), "QAuthor"),
    ("values another model", lambda: QBook.objects.values(QAuthor.name), "QAuthor"),
    ("negative limit", lambda: QBook.objects.limit(-1), "limit must be a non-negative"),
    ("negative offset", lambda: QBook.objects.offset(-3), "offset must be a non-negative"),
    ("bool limit", lambda: QBook.objects.limit(True), "limit"),
    ("string limit", lambda: QBook.objects.limit("10; DROP TABLE x"), "limit must be a non-negative int"),  # type: ignore[arg-type]
    ("step limit validated eagerly", lambda: limit(-1), "limit"),
    ("nowait and skip locked", lambda: QBook.objects.for_update(nowait=True, skip_locked=True), "not both"),
    ("lock of another model", lambda: QBook.objects.for_update(of=[QAuthor]), "no join"),
    ("defer id", lambda: QBook.objects.defer(QBook.id), "primary key"),
    ("only takes columns", lambda: QBook.objects.only(QBook.price * 2), "column references"),
    ("only drops a required field", lambda: QBook.objects.only(QBook.title), r"without a default \(QBook.author\)"),
    ("defer drops a required field", lambda: QBook.objects.defer(QBook.title), r"without a default \(QBook.title\)"),
    ("order_by takes expressions", lambda: QBook.objects.order_by("price"), "expressions"),
    ("distinct_on needs keys", lambda: QBook.objects.distinct_on(), "at least one"),
    ("values into mismatch", lambda: QBook.objects.values(QBook.title, into=Pair), "1 expressions for 2"),
    ("after without ordering", lambda: QBook.objects.after((1,)), "order_by"),
    ("after without unique key", lambda: QBook.objects.order_by(QBook.price).after((1,)), "not deterministic"),
    ("after on nullable key", lambda: QBook.objects.order_by(QBook.rating, QBook.id).after((1, 2)), "nullable"),
    ("after value count", lambda: QBook.objects.order_by(QBook.price, QBook.id).after((1,)), "1 values for 2"),
    ("after None value", lambda: QBook.objects.order_by(QBook.id).after((None,)), "None"),
    ("after wrong type", lambda: QBook.objects.order_by(QBook.id).after(("x",)), "QBook.id"),
    ("lock with distinct", lambda: QBook.objects.distinct().for_update().sql(), "DISTINCT"),
]


@pytest.mark.parametrize(("name", "build", "message"), ERRORS, ids=[c[0] for c in ERRORS])
def test_errors(name: str, build: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_unique_column_makes_keyset_deterministic() -> None:
    q = QAuthor.objects.order_by(QAuthor.email).after(("a@x",))
    assert q.sql().sql.endswith('WHERE "q_authors"."email" > $1::text ORDER BY "q_authors"."email" ASC')


def test_select_requires_a_model() -> None:
    with pytest.raises(TypeError):
        select(Pair)  # type: ignore[type-var]
