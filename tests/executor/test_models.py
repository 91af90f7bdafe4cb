"""Terminals, CRUD and bulk writes on real models against the real server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import anyio
import msgspec
import pytest

import djogi
from djogi import Field, ForeignKey, Jsonb, Model, field
from djogi.algebra.dml import excluded, insert_many, insert_one, update_many
from djogi.algebra.expr import now
from djogi.algebra.relations import prefetch, reverse
from djogi.errors import (
    DecodeError,
    ForeignKeyViolation,
    MultipleObjectsReturned,
    NotFound,
    StaleObject,
    UniqueViolation,
    ValidationError,
)
from djogi.executor import Database, StatementEvent

pytestmark = pytest.mark.anyio


class ExGenre(djogi.Enum):
    __pg_name__ = "ex_genre"
    FICTION = "fiction"
    SCIENCE = "science"


class ExMeta(msgspec.Struct, frozen=True):
    isbn: str
    pages: int | None = None


class ExAuthor(Model, table="ex_authors"):
    name: Field[str]
    email: Field[str] = field(unique=True)


class ExBook(Model, table="ex_books"):
    title: Field[str]
    author: ForeignKey[ExAuthor]
    genre: Field[ExGenre] = field(default=ExGenre.FICTION)
    price: Field[Decimal] = field(default=Decimal("0"))
    tags: Field[list[str]] = field(default=[])
    meta: Field[Jsonb[ExMeta] | None] = field(default=None)
    version: Field[int] = field(version=True, default=0)


class TitlePrice(msgspec.Struct, frozen=True):
    title: str
    price: Decimal


_FRAMEWORK = (
    "id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
    "updated_at timestamptz NOT NULL DEFAULT now()"
)
SCHEMA = (
    "CREATE TYPE ex_genre AS ENUM ('fiction', 'science')",
    f"CREATE TABLE ex_authors ({_FRAMEWORK}, name text NOT NULL, email text NOT NULL, "
    "CONSTRAINT ex_authors_email_key UNIQUE (email))",
    f"CREATE TABLE ex_books ({_FRAMEWORK}, title text NOT NULL, author_id bigint NOT NULL REFERENCES ex_authors (id), "
    "genre ex_genre NOT NULL, price numeric NOT NULL, tags text[] NOT NULL, meta jsonb, version bigint NOT NULL, "
    "CONSTRAINT ex_books_title_key UNIQUE (title))",
)


@pytest.fixture
async def shop(db: Database) -> Database:
    for statement in SCHEMA:
        await db.raw(statement)
    await db.reload_types()
    return db


async def _author(db: Database, name: str = "Ann") -> ExAuthor:
    return await db.create(ExAuthor(name=name, email=f"{name.lower()}@example.com"))


async def _books(db: Database, author: ExAuthor, n: int) -> list[ExBook]:
    return [await db.create(ExBook(title=f"b{i}", author=author.id, price=Decimal(i))) for i in range(n)]


def _counting(db: Database) -> list[StatementEvent]:
    events: list[StatementEvent] = []
    db.add_listener(events.append)
    return events


# ------------------------------------------------------------------------------------------ CRUD


async def test_create_fills_database_columns(shop: Database) -> None:
    ann = await _author(shop)
    assert isinstance(ann.id, djogi.HeerIdDesc)
    assert isinstance(ann.created_at, dt.datetime) and ann.created_at.tzinfo is not None
    book = await shop.create(
        ExBook(title="Dune", author=ann.id, genre=ExGenre.SCIENCE, tags=["a", "b"], meta=ExMeta(isbn="1"))
    )
    assert (book.genre, book.tags, book.meta, book.version) == (ExGenre.SCIENCE, ["a", "b"], ExMeta(isbn="1"), 0)
    assert await shop.get(ExBook, book.id) == book


async def test_create_unique_and_foreign_key_violations(shop: Database) -> None:
    ann = await _author(shop)
    with pytest.raises(UniqueViolation) as info:
        await shop.create(ExAuthor(name="Other", email=ann.email))
    assert info.value.constraint == "ex_authors_email_key"
    assert "ex_authors_email_key" in str(info.value)
    with pytest.raises(ForeignKeyViolation) as fk:
        await shop.create(ExBook(title="x", author=djogi.HeerIdDesc(12345)))
    assert fk.value.constraint == "ex_books_author_id_fkey"


async def test_save_writes_only_changes_and_returns_new_value(shop: Database) -> None:
    ann = await _author(shop)
    events = _counting(shop)
    renamed = await shop.save(ann, name="Ann Smith")
    assert renamed.name == "Ann Smith" and renamed.email == ann.email and ann.name == "Ann"
    assert renamed.updated_at > ann.updated_at  # type: ignore[operator]
    sql = events[-1].sql
    assert '"name" = $1' in sql and '"email"' not in sql.split("RETURNING")[0]
    full = await shop.save(msgspec.structs.replace(renamed, email="new@example.com"))
    assert '"email"' in events[-1].sql.split("RETURNING")[0]
    assert await shop.refresh(ann) == full


async def test_delete_and_not_found_names_the_model(shop: Database) -> None:
    ann = await _author(shop)
    await shop.delete(ann)
    with pytest.raises(NotFound, match="ExAuthor"):
        await shop.get(ExAuthor, ann.id)
    with pytest.raises(NotFound, match="ExAuthor"):
        await shop.delete(ann)
    with pytest.raises(NotFound, match="ExAuthor"):
        await shop.refresh(ann)
    with pytest.raises(NotFound, match="ExAuthor"):
        await shop.save(ann, name="ghost")


async def test_versioned_race_exactly_one_writer_wins(shop: Database) -> None:
    ann = await _author(shop)
    book = await shop.create(ExBook(title="v", author=ann.id))
    outcomes: list[object] = []

    async def writer(price: int) -> None:
        try:
            outcomes.append(await shop.save(book, price=Decimal(price)))
        except StaleObject as exc:
            outcomes.append(exc)

    async with anyio.create_task_group() as tg:
        tg.start_soon(writer, 1)
        tg.start_soon(writer, 2)
    saved = [o for o in outcomes if isinstance(o, ExBook)]
    stale = [o for o in outcomes if isinstance(o, StaleObject)]
    assert len(saved) == 1 and len(stale) == 1 and saved[0].version == 1
    assert stale[0].is_transient
    assert await shop.get(ExBook, book.id) == saved[0]
    with pytest.raises(StaleObject):
        await shop.delete(book)  # the old version
    await shop.delete(saved[0])


# ------------------------------------------------------------------------------------------ terminals


async def test_read_terminals(shop: Database) -> None:
    ann = await _author(shop)
    books = await _books(shop, ann, 5)
    q = ExBook.objects.order_by(ExBook.price)
    assert await shop.all(q) == books
    assert await shop.first(q) == books[0]
    assert await shop.first(q.where(ExBook.price > 100)) is None
    assert await shop.one(q.where(ExBook.title == "b3")) == books[3]
    with pytest.raises(NotFound, match="ExBook"):
        await shop.one(q.where(ExBook.title == "nope"))
    with pytest.raises(MultipleObjectsReturned, match="ExBook"):
        await shop.one(q)
    assert await shop.count(q) == 5
    assert await shop.count(q.where(ExBook.price >= 3)) == 2
    assert await shop.exists(q.where(ExBook.price >= 3))
    assert not await shop.exists(q.where(ExBook.price > 30))
    assert await shop.scalar(q.where(ExBook.title == "b2").values(ExBook.price)) == Decimal(2)
    assert await shop.values(q.values(ExBook.title)) == [(f"b{i}",) for i in range(5)]
    assert await shop.values(q.values(ExBook.title, ExBook.price, into=TitlePrice)) == [
        TitlePrice(f"b{i}", Decimal(i)) for i in range(5)
    ]
    found = await shop.in_bulk(ExBook, [books[1].id, books[4].id, djogi.HeerIdDesc(1)])
    assert found == {books[1].id: books[1], books[4].id: books[4]}


async def test_none_sends_no_sql(shop: Database) -> None:
    events = _counting(shop)
    q = ExBook.objects.none()
    assert await shop.all(q) == []
    assert await shop.first(q) is None
    assert await shop.count(q) == 0
    assert not await shop.exists(q)
    assert await shop.values(q.values(ExBook.title)) == []
    assert await shop.execute(q.update(title="x")) == 0
    assert events == []


async def test_execute_bulk_update_and_delete(shop: Database) -> None:
    ann = await _author(shop)
    await _books(shop, ann, 4)
    n = await shop.execute(ExBook.objects.where(ExBook.price >= 2).update(price=ExBook.price * 10))
    assert n == 2
    assert await shop.values(ExBook.objects.order_by(ExBook.price).values(ExBook.price)) == [
        (Decimal(0),),
        (Decimal(1),),
        (Decimal(20),),
        (Decimal(30),),
    ]
    assert await shop.execute(ExBook.objects.where(ExBook.price > 10).delete()) == 2
    assert await shop.count(ExBook.objects) == 2


async def test_stream_needs_a_transaction(shop: Database) -> None:
    ann = await _author(shop)
    books = await _books(shop, ann, 7)
    with pytest.raises(ValidationError, match="transaction"):
        shop.stream(ExBook.objects)
    async with shop.atomic():
        seen = [b async for b in shop.stream(ExBook.objects.order_by(ExBook.price), batch=3)]
    assert seen == books


async def test_raw_into_model_and_struct(shop: Database) -> None:
    ann = await _author(shop)
    books = await _books(shop, ann, 2)
    assert await shop.raw("SELECT * FROM ex_books ORDER BY price", into=ExBook) == books
    assert await shop.raw("SELECT title, price FROM ex_books WHERE price > $1", (0,), into=TitlePrice) == [
        TitlePrice("b1", Decimal(1))
    ]


async def test_rows_that_do_not_decode_are_named_by_index(shop: Database) -> None:
    """Every terminal, prefetch, stream() and raw() decode through one row-factory path: a row that does not fit
    raises DecodeError naming the model, the field and the row's index in the result."""
    ann = await _author(shop)
    await _books(shop, ann, 3)
    await shop.raw("""UPDATE ex_books SET meta = '{"pages": 3}' WHERE title = 'b1'""")  # no isbn
    says = r"ExBook\.meta: JSONB value does not fit ExMeta.* \(row 1\)"
    with pytest.raises(DecodeError, match=says):
        await shop.all(ExBook.objects.order_by(ExBook.title))
    with pytest.raises(DecodeError, match=says):
        await shop.raw("SELECT * FROM ex_books ORDER BY title", into=ExBook)
    with pytest.raises(DecodeError, match=says):
        books = prefetch(reverse(ExBook.author), query=ExBook.objects.order_by(ExBook.title))
        await shop.all(ExAuthor.objects.prefetch(books))
    with pytest.raises(DecodeError, match=says):
        async with shop.atomic():
            [b async for b in shop.stream(ExBook.objects.order_by(ExBook.title), batch=1)]
    assert await shop.raw("SELECT count(*) FROM ex_books") == [(3,)]  # the connection is still usable


async def test_raw_into_refuses_columns_that_do_not_fit(shop: Database) -> None:
    with pytest.raises(ValidationError, match=r"raw\(into=ExBook\): ExBook has no column\(s\) \['nope'\]"):
        await shop.raw("SELECT 1 AS nope", into=ExBook)
    with pytest.raises(ValidationError, match=r"raw\(into=ExBook\): decoding ExBook needs the column\(s\)"):
        await shop.raw("SELECT title FROM ex_books WHERE false", into=ExBook)
    assert await shop.raw("DELETE FROM ex_books", into=ExBook) == []  # no rows returned: nothing to decode


# ------------------------------------------------------------------------------------------ bulk


async def test_bulk_create_via_binary_copy(shop: Database) -> None:
    ann = await _author(shop)
    rows = [
        ExBook(title=f"t{i}", author=ann.id, genre=ExGenre.SCIENCE if i % 2 else ExGenre.FICTION,
               price=Decimal(i) / 4, tags=["x", str(i)], meta=ExMeta(isbn=str(i)) if i % 3 else None)
        for i in range(500)
    ]  # fmt: skip
    events = _counting(shop)
    created = await shop.bulk_create(rows)
    assert any(e.sql.startswith('COPY "ex_books"') for e in events) and len(events) <= 3
    assert len({b.id for b in created}) == 500
    stored = await shop.all(ExBook.objects.order_by(ExBook.price))
    assert stored == sorted(created, key=lambda b: b.price)
    assert await shop.bulk_create([]) == []
    with pytest.raises(UniqueViolation) as info:
        await shop.bulk_create([ExBook(title="t1", author=ann.id)])
    assert info.value.constraint == "ex_books_title_key"


async def test_bulk_create_keeps_values_already_set(shop: Database) -> None:
    ann = await _author(shop)
    [(raw_id,)] = await shop.raw("SELECT heerid_next_desc()")
    preset = djogi.HeerIdDesc(raw_id)
    created = await shop.bulk_create(
        [ExBook(title="new", author=ann.id), ExBook(id=preset, title="kept", author=ann.id)]
    )
    assert created[1].id == preset and created[0].id != preset
    assert await shop.get(ExBook, preset) == created[1]


async def test_bulk_create_without_returning_leaves_unset_fields_to_the_column_defaults(shop: Database) -> None:
    """``returning=False``: the COPY names only the columns some row sets, and the HeeRanjID key (generated
    in one call of the bulk generator, cheaper than the column default per row); timestamps every row
    leaves UNSET come from the column defaults, and only a field some rows set is generated for the rest."""
    ann = await _author(shop)
    events = _counting(shop)
    inserted = await shop.bulk_create([ExBook(title=f"n{i}", author=ann.id) for i in range(20)], returning=False)
    assert inserted == 20
    copies = [e.sql.split(" FROM STDIN")[0] for e in events if e.sql.startswith("COPY")]
    # the model's field order (each column read once, when its values are checked)
    assert copies == ['COPY "ex_books" ("id", "title", "author_id", "genre", "price", "tags", "meta", "version")']
    (generated,) = [e.sql for e in events if "generate_ids" in e.sql]
    assert generated == ("SELECT array_agg(g.id) FROM heer_generate_ids(heer_id_node(), $1::integer, true, true) "
                         "AS g(id)")
    stored = await shop.all(ExBook.objects.order_by(ExBook.title))
    assert [b.title for b in stored] == sorted(f"n{i}" for i in range(20))
    assert len({b.id for b in stored}) == 20 and all(b.created_at == b.updated_at for b in stored)

    [(raw_id,)] = await shop.raw("SELECT heerid_next_desc()")
    preset = djogi.HeerIdDesc(raw_id)
    events.clear()
    mixed = [ExBook(title="m0", author=ann.id), ExBook(id=preset, title="m1", author=ann.id)]
    assert await shop.bulk_create(mixed, returning=False) == 2
    assert "heer_generate_ids" in events[0].sql
    assert (await shop.get(ExBook, preset)).title == "m1"
    assert await shop.count(ExBook.objects.filter(ExBook.title == "m0")) == 1
    assert await shop.bulk_create([], returning=False) == 0


class ExCounter(Model[djogi.Serial], table="ex_counters"):
    label: Field[str]


class ExTicket(Model[int], table="ex_tickets",
               pk=djogi.custom_pk(int, "BIGINT", "nextval(pg_get_serial_sequence('ex_tickets', 'id'))")):
    label: Field[str]


async def test_bulk_create_sequence_keys(shop: Database) -> None:
    """Identity and ``nextval(...)`` keys are allocated in one query (the sequence resolved once) and the
    returned instances are the stored rows."""
    await shop.raw("CREATE TABLE ex_counters (id integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                   "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), "
                   "label text NOT NULL)")  # fmt: skip
    await shop.raw("CREATE TABLE ex_tickets (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
                   "created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(), "
                   "label text NOT NULL)")  # fmt: skip
    for model in (ExCounter, ExTicket):
        events = _counting(shop)
        created = await shop.bulk_create([model(label=str(i)) for i in range(50)])
        assert sorted(c.id for c in created) == list(range(1, 51)) and len(events) <= 3
        (allocation,) = [e.sql for e in events if "generate_series" in e.sql]
        assert "nextval((SELECT " in allocation  # resolved once, not per key
        assert await shop.all(model.objects.order_by(model.id)) == sorted(created, key=lambda c: c.id)
        assert created[0].updated_at.tzinfo == (await shop.get(model, created[0].id)).updated_at.tzinfo


def test_hoist_nextval() -> None:
    from djogi.executor.bulk import _hoist_nextval

    assert _hoist_nextval("nextval(pg_get_serial_sequence('t', 'id'))") == (
        "nextval((SELECT (pg_get_serial_sequence('t', 'id'))::regclass))"
    )
    assert _hoist_nextval("NEXTVAL('we)ird''s')") == "nextval((SELECT ('we)ird''s')::regclass))"
    for kept in ("nextval('a') + nextval('b')", "gen_random_uuid()", "nextval()", "nextval('a'"):
        assert _hoist_nextval(kept) == kept


async def test_bulk_insert_conflicts_and_upsert(shop: Database) -> None:
    ann = await _author(shop)
    first = await shop.bulk_create([ExBook(title="a", author=ann.id), ExBook(title="b", author=ann.id)])
    rows = [ExBook(title=t, author=ann.id, price=Decimal(5), tags=["n"]) for t in ("a", "c")]
    inserted = await shop.bulk_insert(rows, conflict_target=["title"])
    assert [b.title for b in inserted] == ["c"] and inserted[0].tags == ["n"]
    upserted = await shop.bulk_upsert(
        [ExBook(title=t, author=ann.id, price=Decimal(9)) for t in ("a", "d")], ["title"], ["price"]
    )
    assert sorted((b.title, b.price) for b in upserted) == [("a", Decimal(9)), ("d", Decimal(9))]
    updated_a = next(b for b in upserted if b.title == "a")
    assert updated_a.id == first[0].id and updated_a.version == 1
    with pytest.raises(ValidationError):
        await shop.bulk_upsert(rows, ["nope"], ["price"])


async def test_bulk_insert_generates_only_what_some_rows_leave_unset(shop: Database) -> None:
    """A key set in some rows is generated for the others; ``created_at`` set in some rows is generated
    for the others together with ``updated_at`` (one ``now()``); nothing else is generated."""
    ann = await _author(shop)
    [(raw_id,)] = await shop.raw("SELECT heerid_next_desc()")
    preset, when = djogi.HeerIdDesc(raw_id), dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    events = _counting(shop)
    rows = [ExBook(title="p", author=ann.id), ExBook(id=preset, title="q", author=ann.id, created_at=when)]
    inserted = await shop.bulk_insert(rows, conflict_target=["title"])
    (generated,) = [e.sql for e in events if "heer_generate_ids" in e.sql]
    assert generated.startswith("SELECT array_agg(g.id), now(), now() FROM")
    p, q = sorted(inserted, key=lambda b: b.title)
    assert q.id == preset and q.created_at == when and p.id != preset
    assert p.created_at == p.updated_at


async def test_bulk_update(shop: Database) -> None:
    ann = await _author(shop)
    books = await shop.bulk_create([ExBook(title=f"u{i}", author=ann.id) for i in range(10)])
    changed = [msgspec.structs.replace(b, price=Decimal(i), tags=[str(i)]) for i, b in enumerate(books)]
    assert await shop.bulk_update(changed, ["price", "tags"]) == 10
    stored = {b.id: b for b in await shop.all(ExBook.objects)}
    assert all(stored[b.id].price == b.price and stored[b.id].tags == b.tags for b in changed)
    assert all(b.version == 1 for b in stored.values())
    with pytest.raises(StaleObject):
        await shop.bulk_update(changed, ["price"])  # versions moved on: nothing written
    assert all(b.version == 1 for b in await shop.all(ExBook.objects))


async def test_get_or_create_is_race_safe(shop: Database) -> None:
    results: list[tuple[ExAuthor, bool]] = []

    async def attempt(i: int) -> None:
        results.append(await shop.get_or_create(ExAuthor(name=f"n{i}", email="same@example.com"), lookup=["email"]))

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(attempt, i)
    assert sum(created for _, created in results) == 1
    assert len({row.id for row, _ in results}) == 1
    assert await shop.count(ExAuthor.objects) == 1


async def test_update_or_create(shop: Database) -> None:
    row, created = await shop.update_or_create(ExAuthor(name="A", email="a@example.com"), lookup=["email"])
    assert created and row.name == "A"
    again, created = await shop.update_or_create(ExAuthor(name="B", email="a@example.com"), lookup=["email"])
    assert not created and again.id == row.id and again.name == "B"


async def test_bulk_statements_are_the_printed_algebra_values(shop: Database) -> None:
    """``bulk_insert``, ``bulk_upsert``, ``bulk_update``, ``get_or_create`` and ``update_or_create`` send
    exactly the statements their algebra values print (``insert_many``, ``update_many``, ``insert_one``
    with ``on_conflict``), with the same parameters."""
    ann = await _author(shop)
    [first] = await shop.bulk_create([ExBook(title="a", author=ann.id, tags=["t"])])
    rows = [ExBook(id=first.id, title="a", author=ann.id, price=Decimal(2)),
            ExBook(id=djogi.HeerIdDesc(first.id - 1), title="b", author=ann.id, tags=["x", "y"])]  # fmt: skip
    sent = _counting(shop)
    expected = [
        insert_many(ExBook, rows).on_conflict(ExBook.title).do_nothing(),
        insert_many(ExBook, rows)
        .on_conflict(ExBook.title)
        .do_update(set={"price": excluded(ExBook.price), "updated_at": now()}),
    ]
    inserted = await shop.bulk_insert(rows, conflict_target=["title"])
    upserted = await shop.bulk_upsert(rows, ["title"], ["price"])
    assert [b.title for b in inserted] == ["b"] and sorted(b.price for b in upserted) == [Decimal(0), Decimal(2)]
    stored = await shop.all(ExBook.objects.order_by(ExBook.title))
    changed = [msgspec.structs.replace(b, tags=[b.title, "z"]) for b in stored]
    expected.append(update_many(ExBook, changed, ["tags"]))
    assert await shop.bulk_update(changed, ["tags"]) == 2
    author = ExAuthor(name="Bo", email="ann@example.com")
    expected += [
        insert_one(author).on_conflict(ExAuthor.email).do_nothing(),
        insert_one(author)
        .on_conflict(ExAuthor.email)
        .do_update(set={"name": excluded(ExAuthor.name), "updated_at": now()})
        .with_created(),
    ]
    assert await shop.get_or_create(author, lookup=["email"]) == (ann, False)
    row, created = await shop.update_or_create(author, lookup=["email"])
    assert not created and row.id == ann.id and row.name == "Bo"
    bulk = [e for e in sent if e.sql.startswith(("INSERT", "UPDATE"))]
    assert [(e.sql, tuple(e.params)) for e in bulk] == [(s.sql, s.params) for s in (x.sql() for x in expected)]


async def test_upsert_update_fields_follow_do_update(shop: Database) -> None:
    """``bulk_upsert`` / ``update_or_create`` assign as ``do_update`` does: the key and the version are refused
    before any SQL, and an ``updated_at`` listed among the fields is taken from the proposed row (not
    assigned twice)."""
    ann = await _author(shop)
    when = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    [book] = await shop.bulk_create([ExBook(title="a", author=ann.id)])
    for fields in (["id"], ["price", "version"]):
        with pytest.raises(ValidationError, match=r"primary key|version counter"):
            await shop.bulk_upsert([ExBook(title="a", author=ann.id)], ["title"], fields)
        with pytest.raises(ValidationError, match=r"primary key|version counter"):
            await shop.update_or_create(ExBook(title="a", author=ann.id), lookup=["title"], update_fields=fields)
    assert await shop.refresh(book) == book
    [upserted] = await shop.bulk_upsert([ExBook(title="a", author=ann.id, updated_at=when)], ["title"], ["updated_at"])
    assert upserted.id == book.id and upserted.updated_at == when and upserted.version == 1
