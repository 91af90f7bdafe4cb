"""Relations against the real server: paths, reverse accessors, eager loading without N+1, cascades."""

from __future__ import annotations

import pytest

import djogi
from djogi import Loaded, RelationNotLoaded, add_links, m2m, prefetch, remove_links
from djogi.errors import IntegrityError, ValidationError
from djogi.executor import Database, StatementEvent

from .models import Author, Book, BookTag, Publisher, Review, Tag, schema_sql

pytestmark = pytest.mark.anyio

TAGS = m2m(BookTag.book, BookTag.tag, name="tags")


@pytest.fixture
async def rdb(db: Database) -> Database:
    for statement in schema_sql():
        await db.raw(statement)
    return db


def _counting(db: Database) -> list[StatementEvent]:
    events: list[StatementEvent] = []
    db.add_listener(events.append)
    return events


async def _world(db: Database) -> tuple[list[Author], list[Book], list[Tag]]:
    tor = await db.create(Publisher(name="Tor"))
    ann = await db.create(Author(name="Ann", email="ann@x", publisher=tor.id))
    bob = await db.create(Author(name="Bob", email="bob@y"))
    cy = await db.create(Author(name="Cy"))
    books = [
        await db.create(Book(title="A1", author=ann.id, pages=300, editor=bob.id)),
        await db.create(Book(title="A2", author=ann.id, pages=50)),
        await db.create(Book(title="B1", author=bob.id, pages=120, editor=ann.id)),
    ]
    tags = [await db.create(Tag(label="sf")), await db.create(Tag(label="classic"))]
    await add_links(db, BookTag, books[0], tags)
    await add_links(db, BookTag, books[2], tags[:1])
    return [ann, bob, cy], books, tags


async def test_paths_filter_and_order(rdb: Database) -> None:
    await _world(rdb)
    by_ann = await rdb.all(Book.objects.where(Book.author.to(Author.name) == "Ann").order_by(Book.title))
    assert [b.title for b in by_ann] == ["A1", "A2"]
    # two-valued complement: the books whose editor is not Ann, the ones without an editor included
    not_ann = await rdb.all(Book.objects.exclude(Book.editor.to(Author.name) == "Ann").order_by(Book.title))
    assert [b.title for b in not_ann] == ["A1", "A2"]
    via_publisher = await rdb.all(Book.objects.where(Book.author.to(Author.publisher).to(Publisher.name) == "Tor"))
    assert sorted(b.title for b in via_publisher) == ["A1", "A2"]
    ordered = await rdb.all(Book.objects.order_by(Book.author.to(Author.name).desc(), Book.title))
    assert [b.title for b in ordered] == ["B1", "A1", "A2"]
    by_editor = await rdb.all(Book.objects.order_by(Book.editor.to(Author.name).asc().nulls_last(), Book.title))
    assert [b.title for b in by_editor] == ["B1", "A1", "A2"]


async def test_reverse_any_none_count(rdb: Database) -> None:
    await _world(rdb)
    long_writers = await rdb.all(Author.objects.where(Author.books.any(Book.pages > 100)).order_by(Author.name))
    assert [a.name for a in long_writers] == ["Ann", "Bob"]
    idle = await rdb.all(Author.objects.where(Author.books.none()))
    assert [a.name for a in idle] == ["Cy"]
    rows = await rdb.all(Author.objects.annotate(n_books=Author.books.count()).order_by(Author.name))
    assert [(a.name, extra.n_books) for a, extra in rows] == [("Ann", 2), ("Bob", 1), ("Cy", 0)]  # type: ignore[misc]
    tagged = await rdb.all(Book.objects.where(TAGS.any(Tag.label == "classic")))
    assert [b.title for b in tagged] == ["A1"]


async def test_select_related_one_query(rdb: Database) -> None:
    await _world(rdb)
    events = _counting(rdb)
    rows = await rdb.all(Book.objects.select_related(Book.author, Book.editor).order_by(Book.title))
    assert len(events) == 1
    got = [(b.title, a.name, e.name if e else None) for b, a, e in rows]  # type: ignore[misc]
    assert got == [("A1", "Ann", "Bob"), ("A2", "Ann", None), ("B1", "Bob", "Ann")]
    with pytest.raises(djogi.ValidationError, match="relation columns of Book"):
        Book.objects.select_related(Author.publisher)


async def test_prefetch_nested_and_typed_access(rdb: Database) -> None:
    (ann, _, _), _, _ = await _world(rdb)
    q = Author.objects.order_by(Author.name).prefetch(
        prefetch(Author.books, query=Book.objects.where(Book.pages > 60).order_by(Book.title), then=prefetch(TAGS)),
        Author.reviews,
        prefetch(Author.publisher),
    )
    events = _counting(rdb)
    rows = await rdb.all(q)
    assert len(events) == 1 + 4
    assert all(isinstance(r, Loaded) for r in rows)
    first: Loaded[Author] = rows[0]  # type: ignore[assignment]
    assert first.name == "Ann" and first.instance == ann
    assert [b.title for b in first.books] == ["A1"]
    assert sorted(t.label for t in first.books[0].tags) == ["classic", "sf"]
    assert first[Author.books][0].instance.title == "A1"  # type: ignore[attr-defined]
    assert first.publisher.name == "Tor" and rows[1].publisher is None  # type: ignore[attr-defined]
    assert first.reviews == [] and rows[2].books == []  # type: ignore[attr-defined]
    with pytest.raises(RelationNotLoaded, match=r"prefetch\(Author.edited\)"):
        _ = first.edited
    one = await rdb.one(Author.objects.where(Author.name == "Bob").prefetch(Author.books))
    assert [b.title for b in one.books] == ["B1"]  # type: ignore[attr-defined]


async def test_no_n_plus_one_for_200_authors(rdb: Database) -> None:
    authors = await rdb.bulk_create([Author(name=f"a{i:03}") for i in range(200)])
    books = await rdb.bulk_create([Book(title=f"{a.name}-{j}", author=a.id) for a in authors for j in range(3)])
    tags = await rdb.bulk_create([Tag(label=f"t{k}") for k in range(5)])
    await rdb.bulk_create([BookTag(book=b.id, tag=tags[i % 5].id) for i, b in enumerate(books)])
    events = _counting(rdb)
    rows = await rdb.all(Author.objects.prefetch(prefetch(Author.books, then=prefetch(TAGS))))
    assert len(events) == 1 + 2
    assert len(rows) == 200 and all(len(r.books) == 3 for r in rows)  # type: ignore[attr-defined]
    assert all(len(b.tags) == 1 for r in rows for b in r.books)  # type: ignore[attr-defined]
    assert all(" = ANY($1" in e.sql for e in events[1:])


async def test_links_are_idempotent(rdb: Database) -> None:
    _, books, tags = await _world(rdb)
    assert await add_links(rdb, BookTag, books[0], tags) == []  # both exist already
    created = await add_links(rdb, BookTag, books[1], tags)
    assert len(created) == 2
    assert await remove_links(rdb, BookTag, books[1], tags[:1]) == 1
    assert await remove_links(rdb, BookTag, books[1], tags[:1]) == 0
    left = await rdb.all(Tag.objects.where(m2m(BookTag.tag, BookTag.book).any(Book.title == "A2")))
    assert [t.label for t in left] == ["classic"]


async def test_cascade_and_restrict(rdb: Database) -> None:
    (ann, bob, _), books, _ = await _world(rdb)
    await rdb.delete(bob)  # cascades to B1, sets A1's editor to NULL
    assert sorted(b.title for b in await rdb.all(Book.objects)) == ["A1", "A2"]
    assert (await rdb.get(Book, books[0].id)).editor is None
    await rdb.create(Review(author=ann.id, text="meh"))
    with pytest.raises(IntegrityError) as caught:
        await rdb.delete(ann)
    assert caught.value.constraint == "rel_reviews_author_id_fkey"
    assert await rdb.count(Book.objects) == 2 and await rdb.count(Author.objects) == 2


@pytest.mark.anyio
async def test_stream_refuses_prefetch(db: Database) -> None:
    async with db.atomic():
        with pytest.raises(ValidationError, match=r"stream\(\) does not load relations"):
            db.stream(Author.objects.prefetch(Author.books))
