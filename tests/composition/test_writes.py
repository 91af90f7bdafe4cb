"""Actor fields, soft delete, numbering within a parent and idempotency keys against a real database."""

from __future__ import annotations

from decimal import Decimal

import anyio
import pytest
from msgspec import UNSET, UnsetType

from djogi import AuthContext, Field, Model, NotFound, ValidationError, field
from djogi.errors import IdempotencyConflict, ModelDefinitionError, UniqueViolation
from djogi.executor import Database
from djogi.model import descriptor
from djogi.modeldocs import render
from tests.composition.helpers import CmpBook, CmpChapter, CmpOrder, create_tables

pytestmark = pytest.mark.anyio

ANN = AuthContext(user_id="ann")
BOB = AuthContext(user_id="bob")


@pytest.fixture
async def cdb(db: Database) -> Database:
    await create_tables(db)
    return db


# ------------------------------------------------------------------------------------------ actor


async def test_actor_fields_come_from_the_auth_context(cdb: Database) -> None:
    book = await cdb.with_auth(ANN).create(CmpBook(title="Dune"))
    assert (book.created_by, book.updated_by) == ("ann", "ann")
    book = await cdb.with_auth(BOB).save(book, title="Dune II")
    assert (book.created_by, book.updated_by) == ("ann", "bob")
    book = await cdb.with_auth(ANN).save(book)  # the whole row: still the acting user
    assert book.updated_by == "ann"
    [(created, updated)] = await cdb.raw("SELECT created_by, updated_by FROM cmp_books")
    assert (created, updated) == ("ann", "ann")


async def test_the_transactions_auth_is_the_actor(cdb: Database) -> None:
    async with cdb.atomic():
        cdb.set_auth(BOB)
        book = await cdb.with_auth(ANN).create(CmpBook(title="Dune"))
    assert book.created_by == "bob"


async def test_a_callers_value_is_kept_and_no_auth_writes_none(cdb: Database) -> None:
    book = await cdb.with_auth(ANN).create(CmpBook(title="Dune", created_by="import"))
    assert (book.created_by, book.updated_by) == ("import", "ann")
    book = await cdb.with_auth(ANN).save(book, updated_by="robot")
    assert book.updated_by == "robot"
    book = await cdb.save(book, title="x")  # nobody acting: the write has no known author
    assert book.updated_by is None and book.created_by == "import"


async def test_a_required_actor_field_without_a_user_is_refused(cdb: Database) -> None:
    class CmpStrict(Model, table="cmp_strict"):
        body: Field[str]
        author: Field[str] = field(actor="created", default="")

    await create_tables(cdb, [CmpStrict])
    # "" is a value the caller gave: kept
    assert (await cdb.create(CmpStrict(body="x"))).author == ""

    class CmpStrict2(Model, table="cmp_strict2"):
        body: Field[str]
        owner: Field[int | UnsetType] = field(actor="updated", default=UNSET)

    await create_tables(cdb, [CmpStrict2])
    row = await cdb.with_auth(AuthContext(user_id=7)).create(CmpStrict2(body="x"))
    assert row.owner == 7
    with pytest.raises(ValidationError, match=r"CmpStrict2.owner is actor='updated' and not optional"):
        await cdb.save(row, body="y")
    assert (await cdb.refresh(row)).body == "x"
    with pytest.raises(ModelDefinitionError, match="at most one field may be actor='updated'"):

        class CmpTwice(Model, table="cmp_twice"):
            a: Field[str | None] = field(actor="updated", default=None)
            b: Field[str | None] = field(actor="updated", default=None)


async def test_bulk_writes_fill_actor_fields(cdb: Database) -> None:
    ann = cdb.with_auth(ANN)
    rows = await ann.bulk_create([CmpBook(title="a"), CmpBook(title="b", created_by="kept")])
    assert [(r.created_by, r.updated_by) for r in rows] == [("ann", "ann"), ("kept", "ann")]
    assert await cdb.with_auth(BOB).bulk_update(rows, ["title"]) == 2
    stored = await cdb.raw("SELECT created_by, updated_by FROM cmp_books ORDER BY title")
    assert stored == [("ann", "bob"), ("kept", "bob")]


def test_actor_declarations_are_checked() -> None:
    with pytest.raises(ModelDefinitionError, match=r"CmpBadActor.by: actor='created' fills a user id"):

        class CmpBadActor(Model, table="cmp_bad_actor"):
            by: Field[Decimal | None] = field(actor="created", default=None)


# ------------------------------------------------------------------------------------------ soft delete


async def test_delete_of_a_soft_delete_model_marks_the_row(cdb: Database) -> None:
    book = await cdb.with_auth(ANN).create(CmpBook(title="Dune"))
    await cdb.with_auth(BOB).delete(book)
    stored = await cdb.get(CmpBook, book.id)  # not filtered implicitly
    assert stored.deleted_at is not None and stored.updated_by == "bob"
    assert await cdb.all(CmpBook.objects.filter(CmpBook.deleted_at == None)) == []  # noqa: E711
    with pytest.raises(NotFound, match="soft-deleted already"):
        await cdb.delete(stored)
    restored = await cdb.save(stored, deleted_at=None)
    assert restored.deleted_at is None
    await cdb.hard_delete(restored)
    assert await cdb.raw("SELECT * FROM cmp_books") == []


def test_soft_delete_names_an_optional_datetime_field() -> None:
    with pytest.raises(ModelDefinitionError, match=r"CmpBadSoft: soft_delete='gone'"):

        class CmpBadSoft(Model, table="cmp_bad_soft", soft_delete="gone"):
            gone: Field[bool] = field(default=False)


# ------------------------------------------------------------------------------------------ numbering


async def test_numbering_counts_within_each_parent(cdb: Database) -> None:
    a, b = await cdb.create(CmpBook(title="a")), await cdb.create(CmpBook(title="b"))
    numbers = [(await cdb.create(CmpChapter(book=book.id, title="c"))).number for book in (a, a, b, a, b)]
    assert numbers == [1, 2, 1, 3, 2]
    given = await cdb.create(CmpChapter(book=b.id, title="c", number=10))
    assert given.number == 10
    assert (await cdb.create(CmpChapter(book=b.id, title="c"))).number == 11
    with pytest.raises(UniqueViolation, match="cmp_chapters_book_id_number_key"):
        await cdb.create(CmpChapter(book=b.id, title="c", number=10))


async def test_concurrent_inserts_into_one_parent_get_distinct_numbers(cdb: Database) -> None:
    book = await cdb.create(CmpBook(title="a"))
    numbers: list[int] = []

    async def add(i: int) -> None:
        async with cdb.atomic():  # a longer transaction: the next writer waits for its commit
            row = await cdb.create(CmpChapter(book=book.id, title=f"c{i}"))
            await cdb.raw("SELECT pg_sleep(0.01)")
        assert isinstance(row.number, int)
        numbers.append(row.number)

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(add, i)
    assert sorted(numbers) == list(range(1, 9))


async def test_bulk_writes_refuse_rows_left_to_be_numbered(cdb: Database) -> None:
    book = await cdb.create(CmpBook(title="a"))
    with pytest.raises(ValidationError, match=r"bulk_create\(\): CmpChapter.number is numbered within book"):
        await cdb.bulk_create([CmpChapter(book=book.id, title="c")])
    rows = await cdb.bulk_create([CmpChapter(book=book.id, title="c", number=1)])
    assert rows[0].number == 1


def test_numbering_declarations_are_checked() -> None:
    with pytest.raises(ModelDefinitionError, match=r"CmpBadNo.n: sequence_within='parent' names no other field"):

        class CmpBadNo(Model, table="cmp_bad_no"):
            n: Field[int] = field(sequence_within="parent", default=UNSET)


# ------------------------------------------------------------------------------------------ idempotency keys


async def test_create_or_find_returns_the_row_of_a_key(cdb: Database) -> None:
    first, created = await cdb.with_auth(AuthContext(user_id=1)).create_or_find(CmpOrder(key="k1", amount=5))
    assert created and first.created_by == 1
    again, created = await cdb.with_auth(AuthContext(user_id=2)).create_or_find(CmpOrder(key="k1", amount=5))
    assert not created and again == first
    with pytest.raises(IdempotencyConflict, match=r"other values for \['amount'\]"):
        await cdb.create_or_find(CmpOrder(key="k1", amount=6))
    assert await cdb.raw("SELECT key, amount FROM cmp_orders") == [("k1", 5)]


async def test_concurrent_create_or_find_creates_one_row(cdb: Database) -> None:
    results: list[bool] = []

    async def attempt() -> None:
        _, created = await cdb.create_or_find(CmpOrder(key="same", amount=1))
        results.append(created)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(attempt)
    assert sorted(results) == [False] * 5 + [True]


async def test_create_or_find_needs_a_key(cdb: Database) -> None:
    with pytest.raises(ValidationError, match="CmpBook declares no field\\(idempotency_key=True\\)"):
        await cdb.create_or_find(CmpBook(title="a"))
    assert await cdb.raw("SELECT * FROM cmp_books") == []


def test_model_reference_pages_show_the_composition() -> None:
    pages = render([descriptor(CmpBook), descriptor(CmpChapter), descriptor(CmpOrder)])
    book, chapter, order = (next(page for path, page in pages.items() if path.endswith(f"/{name}.md"))
                            for name in ("CmpBook", "CmpChapter", "CmpOrder"))  # fmt: skip
    assert "- Soft delete: `deleted_at` (`db.delete` sets it)" in book
    assert "| `created_by` | `TEXT` | yes | `None` | actor: the acting user (created) |" in book
    assert "numbered within `book`" in chapter and "`cmp_chapters_book_id_number_key` | Unique index" in chapter
    assert "unique; idempotency key" in order
