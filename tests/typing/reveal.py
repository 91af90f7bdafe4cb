"""Type assertions checked by pyright (strict) and mypy (strict, no plugin) in ``test_reveal.py``.

The module is also imported at run time (``test_reveal.py``), so its models really register and every query in
it really compiles.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, ClassVar, assert_type

import msgspec

import djogi
from djogi import (
    Database,
    Field,
    ForeignKey,
    HeerIdDesc,
    Loaded,
    Model,
    OneToOne,
    RanjId,
    Reverse,
    Serial,
    custom_pk,
    field,
    param,
    reverse,
)
from djogi.algebra import select
from djogi.algebra.expr import Column, Expr, ForeignColumn, OrderBy, upper
from djogi.algebra.predicate import Pred
from djogi.algebra.query import Select
from djogi.algebra.relations import Related, RelatedCount
from djogi.algebra.rowtype import Row
from djogi.algebra.search import ts_match, websearch_to_tsquery
from djogi.algebra.setops import SetOp
from djogi.executor import Pending, Prepared
from djogi.visages import Visage, derived, to_visage, visage, visage_query


class Genre(djogi.Enum):
    FICTION = "fiction"
    HISTORY = "history"


class Meta(msgspec.Struct, frozen=True):
    pages: int


class Author(Model, table="typing_authors"):
    name: Field[str] = field(max_length=200, index=True)
    email: Field[str] = field(unique=True)
    born: Field[dt.date | None] = field(default=None)
    typing_books: ClassVar[Reverse[Book]]
    edited: ClassVar[Reverse[Review]]


class Counter(Model[Serial], table="typing_counters"):
    name: Field[str]


class Token(Model[RanjId], table="typing_tokens"):
    name: Field[str]


class Visit(Model[uuid.UUID], table="typing_visits", pk=custom_pk(uuid.UUID, "UUID", "gen_random_uuid()")):
    path: Field[str]


class Book(Model, table="typing_books"):
    title: Field[str]
    author: ForeignKey[Author] = field(on_delete="cascade")
    genre: Field[Genre] = field(default=Genre.FICTION)
    price: Field[Decimal] = field(precision=10, scale=2, default=Decimal("0"))
    tags: Field[list[str]] = field(default=[])
    meta: Field[djogi.Jsonb[Meta] | None] = field(default=None)
    small: Field[djogi.SmallInt] = field(default=0)
    counter: ForeignKey[Counter | None] = field(default=None, on_delete="set null")
    words: Field[djogi.TsVector | msgspec.UnsetType] = field(generated=djogi.tsvector_of("english", "title"),
                                                             default=msgspec.UNSET)
    reviews: ClassVar[Reverse[Review]]


class Review(Model, table="typing_reviews"):
    book: ForeignKey[Book] = field(related_name="reviews")
    editor: ForeignKey[Author | None] = field(related_name="edited", on_delete="set null", default=None)


class Category(Model, table="typing_categories"):
    name: Field[str]
    parent: ForeignKey[Category | None] = field(default=None, on_delete="cascade", related_name="children")
    children: ClassVar[Reverse[Category]]


class Bio(Model, table="typing_bios"):
    author: OneToOne[Author]
    text: Field[str] = field(default="")


class Pair(msgspec.Struct):
    title: str
    price: Decimal


# Columns on the class, with their value types; relation columns know their key and target.
assert_type(Book.price, Column[Book, Decimal])
assert_type(Book.title, Column[Book, str])
assert_type(Author.born, Column[Author, dt.date | None])
assert_type(Book.genre, Column[Book, Genre])
assert_type(Book.small, Column[Book, int])
assert_type(Book.meta, Column[Book, Meta | None])
assert_type(Book.tags, Column[Book, list[str]])
assert_type(Book.author, ForeignColumn[Book, HeerIdDesc, Author])
assert_type(Book.counter, ForeignColumn[Book, int | None, Counter | None])
assert_type(Category.parent, ForeignColumn[Category, HeerIdDesc | None, Category | None])
assert_type(Bio.author, ForeignColumn[Bio, HeerIdDesc, Author])
assert_type(Book.created_at, Column[Book, dt.datetime])
assert_type(Book.id, Column[Book, HeerIdDesc])
assert_type(Counter.id, Column[Counter, int])
assert_type(Token.id, Column[Token, RanjId])
assert_type(Visit.id, Column[Visit, uuid.UUID])
assert_type(Book.objects, Select[Book])

# Comparisons build predicates.
assert_type(Book.price < 30, Pred)
assert_type(Book.price == Decimal("1.50"), Pred)
assert_type(Book.title == "x", Pred)
assert_type(Book.title != "x", Pred)
assert_type(Book.genre == Genre.FICTION, Pred)
assert_type(Author.born == None, Pred)  # noqa: E711  (IS NULL)
assert_type(Book.author == 1, Pred)
assert_type(Book.id == 1, Pred)
assert_type(Counter.id > 3, Pred)
assert_type(Book.price.between(1, 10), Pred)
assert_type(Book.title.in_(["a", "b"]), Pred)
assert_type(Book.id.not_in([1, 2]), Pred)
assert_type(Book.author.in_(Author.objects.values(Author.id)), Pred)
assert_type((Book.price < 30) & ~Book.title.icontains("x") | (Book.counter == None), Pred)  # noqa: E711
assert_type(Book.author.to(Author.name) == "Ann", Pred)
assert_type(Book.price.desc(), OrderBy)

# Queries keep their row types.
assert_type(select(Book), Select[Book])
assert_type(Book.objects.filter(Book.price < 30).limit(3), Select[Book])
assert_type(Book.objects.values(Book.title, Book.price, into=Pair), Select[Pair])
assert_type(Book.objects.values(Book.title, Book.price), Select[tuple[str, Decimal]])
assert_type(Book.objects.values(Book.title), Select[tuple[str]])
assert_type(Book.objects.values(title=Book.title), Select[Row])
assert_type(Book.objects.select_related(Book.author), Select[tuple[Book, Author]])
assert_type(Book.objects.select_related(Book.author, Book.counter), Select[tuple[Book, Author, Counter | None]])
assert_type(Book.objects.prefetch(Book.author), Select[Loaded[Book]])
assert_type(Author.objects.prefetch(Author.typing_books), Select[Loaded[Author]])
assert_type(Book.objects.annotate(n=Book.price), Select[tuple[Book, Row]])
assert_type(Book.objects.annotate(n=Book.price).annotate(m=Book.small), Select[tuple[Book, Row]])
assert_type(Book.objects.group_by(Book.genre).annotate(n=Book.price), Select[Row])
assert_type(Book.objects.union(Book.objects.filter(Book.price > 3)), SetOp[Book])
assert_type(Book.objects.except_(Book.objects).union(Book.objects), SetOp[Book])

# Reverse accessors: declared on the target, checked against the relations at run time.
assert_type(reverse(Book.author), Related[Author, Book])
assert_type(reverse(Category.parent), Related[Category, Category])
assert_type(Author.typing_books, Related[Author, Book])
assert_type(Author.edited, Related[Author, Review])
assert_type(Book.reviews, Related[Book, Review])
assert_type(Category.children, Related[Category, Category])
assert_type(Author.typing_books.any(Book.price > 10), Pred)
assert_type(Author.typing_books.count(), RelatedCount)
assert_type(Author.objects.filter(Author.typing_books.none(Book.price > 10)), Select[Author])

# Instances: values, keys of every kind, foreign keys hold the target's key.
ann = Author(name="Ann", email="ann@example.com")
assert_type(ann.id, HeerIdDesc)
assert_type(ann.name, str)
assert_type(ann.born, dt.date | None)
assert_type(ann.created_at, dt.datetime)
assert_type(Counter(name="c").id, int)
assert_type(Token(name="t").id, RanjId)
assert_type(Visit(path="/").id, uuid.UUID)
book = Book(title="t", author=HeerIdDesc(1))
assert_type(book.author, HeerIdDesc)
assert_type(book.counter, int | None)
assert_type(book.price, Decimal)
assert_type(book.meta, Meta | None)
assert_type(Category(name="c", parent=None).parent, HeerIdDesc | None)
assert_type(msgspec.structs.replace(ann, name="Bo"), Author)
assert_type({ann: 1}, dict[Author, int])


async def terminals(db: Database, books: list[Book]) -> None:
    a = await db.create(ann)
    assert_type(a, Author)
    b = Book(title="t", author=a.id)
    assert_type(b.author, HeerIdDesc)
    assert_type(await db.all(Book.objects.filter(Book.price < 3)), list[Book])
    assert_type(await db.first(Book.objects), Book | None)
    assert_type(await db.one(Book.objects), Book)
    assert_type(await db.get(Author, b.author), Author)
    assert_type((await db.one(Book.objects)).id, HeerIdDesc)
    assert_type((await db.one(Counter.objects)).id, int)
    rows = await db.all(Book.objects.prefetch(Book.author, Book.reviews))
    assert_type(rows, list[Loaded[Book]])
    assert_type(rows[0].instance, Book)
    assert_type(rows[0][Book.author], Author)
    assert_type(rows[0][Book.reviews], list[Review])
    for bk, au, c in await db.all(Book.objects.select_related(Book.author, Book.counter)):
        assert_type((bk, au, c), tuple[Book, Author, Counter | None])
    assert_type(await db.all(Book.objects.union(Book.objects)), list[Book])
    for t, p in await db.all(Book.objects.values(Book.title, Book.price)):
        assert_type((t, p), tuple[str, Decimal])
    assert_type(await db.values(Book.objects.values(Book.title, Book.price, into=Pair)), list[Pair])
    for bk, extra in await db.all(Book.objects.annotate(n=Book.price)):
        assert_type(bk, Book)
        assert_type(extra.n, Any)
    assert_type(await db.bulk_create(books), list[Book])
    assert_type(await db.bulk_create(books, returning=False), int)


def any_model(model: type[Model[Any]]) -> str:
    """Code taking any model says ``Model[Any]`` (a bare ``Model`` is ``Model[HeerIdDesc]``)."""
    return model.__name__


assert_type(any_model(Counter) + any_model(Book), str)


async def prepared_and_pipelined(db: Database) -> None:
    prepared = db.prepare(Book.objects.where(Book.title == param("title")))
    assert_type(prepared, Prepared[Book])
    assert_type(await prepared.all(title="x"), list[Book])
    assert_type(await prepared.one(title="x"), Book)
    assert_type(await prepared.first(title="x"), Book | None)
    async with db.pipeline() as p:
        books = p.all(Book.objects)
        author = p.get(Author, 1)
        n = p.count(Book.objects)
        first = p.first(Book.objects)
    assert_type(books, Pending[list[Book]])
    assert_type(author.value, Author)
    assert_type(n.value, int)
    assert_type(first.value, Book | None)


# --- visages (issue 22): a declared visage is typed field by field; a generated one is Visage[Model]
class TWriter(Model, table="typing_writers"):
    name: Field[str] = field(expose=("public", "admin"))
    email: Field[str] = field(expose=("admin",), protected=djogi.protect("pii", "contact", redaction="mask"))


class TBook(Model, table="typing_vbooks"):
    title: Field[str] = field(expose=("public",))
    writer: ForeignKey[TWriter] = field(expose=("public",))


class TBookPublic(Visage[TBook], audience="public"):
    id: HeerIdDesc
    created_at: dt.datetime
    updated_at: dt.datetime
    title: str
    writer: HeerIdDesc
    loud: str = derived(upper(TBook.title.collate("C")))


async def visages(db: Database, book: TBook, loaded: Loaded[TBook]) -> None:
    assert_type(visage_query(TBookPublic), Select[TBookPublic])
    rows = await db.all(visage_query(TBookPublic).filter(TBook.title == "x"))
    assert_type(rows, list[TBookPublic])
    assert_type(rows[0].title, str)
    assert_type(rows[0].loud, str)
    assert_type(to_visage(book, TBookPublic), TBookPublic)
    assert_type(to_visage(loaded, TBookPublic), TBookPublic)
    generated = visage(TWriter, "admin")
    assert_type(generated, type[Visage[TWriter]])
    assert_type(await db.all(visage_query(generated)), list[Visage[TWriter]])
    assert_type(msgspec.json.encode(rows), bytes)
    schema: dict[str, Any] = msgspec.json.schema(TBookPublic)
    del schema
class Line(Model, table="reveal_lines", soft_delete="deleted_at"):
    """Composition: hooks, an actor field, soft delete and a computed field, typed."""

    price: Field[Decimal]
    quantity: Field[int]
    key: Field[str] = field(idempotency_key=True, default="")
    deleted_at: Field[dt.datetime | None] = field(default=None)
    created_by: Field[str | None] = field(actor="created", default=None)
    total: ClassVar[djogi.Computed[Decimal]] = djogi.computed(lambda: Line.price * Line.quantity)

    async def before_create(self, db: Database) -> Line:
        return msgspec.structs.replace(self, quantity=max(self.quantity, 1))


CheapLines = djogi.proxy(Line, where=Line.price < 10, order_by=(Line.price.desc(),))
assert_type(CheapLines, djogi.Proxy[Line])
assert_type(CheapLines.objects, Select[Line])
assert_type(CheapLines.filter(Line.total > 5), Select[Line])
assert_type(Line.total, Expr[Decimal])
assert_type(Line(price=Decimal(1), quantity=2).total, Decimal)
assert_type(djogi.not_deleted(Line), Pred)


async def composed(db: Database) -> None:
    line = await db.create(Line(price=Decimal(1), quantity=2))
    assert_type(line, Line)
    assert_type(await db.create_or_find(line), tuple[Line, bool])
    assert_type(await db.hard_delete(line), None)
    assert_type(db.without_hooks(), Database)


class LoudLine(
    Model, table="reveal_loud_lines", view=djogi.sql("SELECT 1::bigint AS quantity"), materialized=True,
    with_data=False, indexes=(djogi.Index(columns=("quantity",), unique=True, name="reveal_loud"),),
):
    """A materialized view model, declared by SQL."""

    quantity: Field[int]


class LineTotals(Model, table="reveal_line_totals", view=Line.objects.values(quantity=Line.quantity)):
    """A view model declared by a query value."""

    quantity: Field[int]


async def views(db: Database) -> None:
    assert_type(await db.all(LoudLine.objects), list[LoudLine])
    assert_type(await db.refresh_view(LoudLine, concurrently=True), None)
    assert_type(await db.all(LineTotals.objects.filter(LineTotals.quantity > 1)), list[LineTotals])
# --- a generated full-text document (issue 23): read as a TsVector column, matched with @@
async def generated_document(db: Database) -> None:
    assert_type(Book.words, Column[Book, djogi.TsVector | msgspec.UnsetType])
    found = Book.objects.filter(ts_match(Book.words, websearch_to_tsquery("english", "cats")))
    assert_type(found, Select[Book])
    assert_type((await db.one(found)).words, djogi.TsVector | msgspec.UnsetType)
