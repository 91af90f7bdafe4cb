"""``db.prepare(query)`` (named parameters, compiled once) and ``db.pipeline()`` (statements sent in one
round trip, one transaction) against the real server."""

from __future__ import annotations

from decimal import Decimal

import pytest

from djogi import Field, ForeignKey, Model, field, param
from djogi.algebra.dml import insert_one
from djogi.algebra.query import select
from djogi.errors import (
    MultipleObjectsReturned,
    NotFound,
    UniqueViolation,
    ValidationError,
)
from djogi.executor import Database, Pending, StatementEvent

pytestmark = pytest.mark.anyio


class PpAuthor(Model, table="pp_authors"):
    name: Field[str]


class PpBook(Model, table="pp_books"):
    title: Field[str]
    author: ForeignKey[PpAuthor]
    price: Field[Decimal] = field(default=Decimal(0))


_FRAMEWORK = (
    "id bigint PRIMARY KEY DEFAULT heerid_next_desc(), created_at timestamptz NOT NULL DEFAULT now(), "
    "updated_at timestamptz NOT NULL DEFAULT now()"
)
SCHEMA = (
    f"CREATE TABLE pp_authors ({_FRAMEWORK}, name text NOT NULL UNIQUE)",
    f"CREATE TABLE pp_books ({_FRAMEWORK}, title text NOT NULL, author_id bigint NOT NULL REFERENCES pp_authors (id), "
    "price numeric NOT NULL)",
)


@pytest.fixture
async def shop(db: Database) -> Database:
    for statement in SCHEMA:
        await db.raw(statement)
    ann = await db.create(PpAuthor(name="Ann"))
    bob = await db.create(PpAuthor(name="Bob"))
    for i in range(6):
        await db.create(PpBook(title=f"b{i}", author=(ann if i % 2 else bob).id, price=Decimal(i)))
    return db


def _events(db: Database) -> list[StatementEvent]:
    events: list[StatementEvent] = []
    db.add_listener(events.append)
    return events


# ------------------------------------------------------------------------------------------ prepare


async def test_a_prepared_search_matches_the_text_literally_as_a_built_one(shop: Database) -> None:
    """``icontains(param("q"))``: each run's value is escaped into the pattern, so ``%`` and ``_`` in it match
    themselves, as in the same query built with the value."""
    author = await shop.one(PpAuthor.objects.where(PpAuthor.name == "Ann"))
    for title in ("50% OFF", "50 pct off", "a_b", "axb"):
        await shop.create(PpBook(title=title, author=author.id))
    search = shop.prepare(PpBook.objects.where(PpBook.title.icontains(param("q"))).order_by(PpBook.title))
    for q in ("50%", "% off", "A_B", "_", "b"):
        built = await shop.all(PpBook.objects.where(PpBook.title.icontains(q)).order_by(PpBook.title))
        assert [b.title for b in await search.all(q=q)] == [b.title for b in built]
    assert [b.title for b in await search.all(q="50%")] == ["50% OFF"]
    assert [b.title for b in await search.all(q="A_B")] == ["a_b"]


async def test_prepared_pages_with_a_named_offset_are_the_built_pages(shop: Database) -> None:
    page = shop.prepare(PpBook.objects.where(PpBook.price >= param("low")).order_by(PpBook.price).limit(2)
                        .offset(param("skip")))  # fmt: skip
    for skip in (0, 2, 4, 6):
        built = await shop.all(PpBook.objects.where(PpBook.price >= 1).order_by(PpBook.price).limit(2).offset(skip))
        assert [b.title for b in await page.all(low=1, skip=skip)] == [b.title for b in built]
    assert [b.title for b in await page.all(low=1, skip=2)] == ["b3", "b4"]
    with pytest.raises(ValidationError, match=r"param\('skip'\): -2 is negative"):
        await page.all(low=1, skip=-2)


async def test_prepared_runs_with_new_values_and_the_same_sql(shop: Database) -> None:
    q = PpBook.objects.where(PpBook.price >= param("low")).order_by(PpBook.price)
    prepared = shop.prepare(q)
    assert prepared.names == {"low"}
    events = _events(shop)
    for low in (0, 3, 5, 9):
        got = await prepared.all(low=low)
        assert [b.price for b in got] == [Decimal(i) for i in range(low, 6)]
        assert got == await shop.all(PpBook.objects.where(PpBook.price >= low).order_by(PpBook.price))
    # the prepared runs (even events) send the SQL the normal path compiles, with each run's value
    assert all(e.sql == prepared.sql for e in events)
    assert [e.params for e in events[::2]] == [(Decimal(v),) for v in (0, 3, 5, 9)]


async def test_prepared_one_and_first(shop: Database) -> None:
    by_title = shop.prepare(PpBook.objects.where(PpBook.title == param("title")))
    assert (await by_title.one(title="b2")).price == Decimal(2)
    assert (await by_title.first(title="b3")) is not None
    assert await by_title.first(title="nope") is None
    with pytest.raises(NotFound, match="PpBook"):
        await by_title.one(title="nope")
    by_author = shop.prepare(PpBook.objects.where(PpBook.author == param("author")))
    ann = await shop.one(PpAuthor.objects.where(PpAuthor.name == "Ann"))
    with pytest.raises(MultipleObjectsReturned):
        await by_author.one(author=ann.id)
    assert len(await by_author.all(author=ann.id)) == 3


async def test_prepared_refuses_wrong_names_before_sending(shop: Database) -> None:
    prepared = shop.prepare(PpBook.objects.where(PpBook.title == param("title")))
    events = _events(shop)
    with pytest.raises(ValidationError, match="missing parameter 'title'; unknown parameter 'titel'"):
        await prepared.all(titel="b1")
    with pytest.raises(ValidationError, match=r"param\('title'\): cannot use 3"):
        await prepared.one(title=3)
    assert events == []


async def test_prepare_refuses_an_untyped_parameter_and_db_all_an_unbound_one(shop: Database) -> None:
    with pytest.raises(ValidationError, match=r"param\('x'\) has no type"):
        shop.prepare(PpBook.objects.values(param("x")))
    with pytest.raises(ValidationError, match=r"param\('title'\) has no value here"):
        await shop.all(PpBook.objects.where(PpBook.title == param("title")))


async def test_prepared_with_prefetch_loads_relations(shop: Database) -> None:
    from djogi.algebra.relations import prefetch, reverse

    books = reverse(PpBook.author)
    q = PpAuthor.objects.where(PpAuthor.name == param("name")).prefetch(prefetch(books))
    [loaded] = await shop.prepare(q).all(name="Ann")
    assert loaded.instance.name == "Ann" and len(loaded[books]) == 3


# ------------------------------------------------------------------------------------------ pipeline


async def test_pipeline_reads_in_one_block(shop: Database) -> None:
    ann = await shop.one(PpAuthor.objects.where(PpAuthor.name == "Ann"))
    async with shop.pipeline() as p:
        books = p.all(PpBook.objects.where(PpBook.author == ann.id).order_by(PpBook.title))
        n = p.count(PpBook.objects)
        there = p.exists(PpBook.objects.where(PpBook.title == "b5"))
        author = p.get(PpAuthor, ann.id)
        first = p.first(PpBook.objects.order_by(PpBook.price.desc()))
        one = p.one(PpBook.objects.where(PpBook.title == "b0"))
        nothing = p.all(PpBook.objects.none())
        with pytest.raises(ValidationError, match="has not run"):
            _ = books.value
    assert [b.title for b in books.value] == ["b1", "b3", "b5"]
    assert (n.value, there.value, author.value, nothing.value) == (6, True, ann, [])
    assert first.value is not None and first.value.price == Decimal(5)
    assert one.value.title == "b0"


async def test_pipeline_missing_rows_raise_when_read(shop: Database) -> None:
    async with shop.pipeline() as p:
        missing = p.get(PpAuthor, 12345)
        many = p.one(PpBook.objects)
        count = p.count(PpBook.objects)
    with pytest.raises(NotFound, match="PpAuthor with id=12345"):
        _ = missing.value
    with pytest.raises(MultipleObjectsReturned):
        _ = many.value
    assert count.value == 6


async def test_pipeline_writes_and_reads_see_them_in_order(shop: Database) -> None:
    ann = await shop.one(PpAuthor.objects.where(PpAuthor.name == "Ann"))
    async with shop.pipeline() as p:
        created = p.execute(insert_one(PpBook(title="new", author=ann.id)))
        raised = p.execute(PpBook.objects.where(PpBook.author == ann.id).update(price=PpBook.price + 10))
        after = p.count(PpBook.objects.where(PpBook.price >= 10))
    assert [b.title for b in created.value] == ["new"]
    assert (raised.value, after.value) == (4, 4)


async def test_a_failing_statement_keeps_nothing_the_pipeline_wrote(shop: Database) -> None:
    ann = await shop.one(PpAuthor.objects.where(PpAuthor.name == "Ann"))
    p = shop.pipeline()
    with pytest.raises(UniqueViolation, match=r"^pipeline statement 2 of 3 failed: constraint 'pp_authors_name_key'"):
        async with p:
            first = p.execute(PpBook.objects.where(PpBook.author == ann.id).update(price=Decimal(100)))
            p.execute(insert_one(PpAuthor(name="Ann")))
            later = p.count(PpBook.objects)
    for pending in (first, later):
        with pytest.raises(ValidationError, match=r"not run: the pipeline failed \(pipeline statement 2 of 3"):
            _ = pending.value
    assert await shop.count(PpBook.objects.where(PpBook.price == Decimal(100))) == 0
    assert await shop.count(PpAuthor.objects) == 2


async def test_pipeline_inside_atomic_is_part_of_the_transaction(shop: Database) -> None:
    with pytest.raises(RuntimeError):
        async with shop.atomic():
            async with shop.pipeline() as p:
                p.execute(PpBook.objects.update(price=Decimal(7)))
                seen = p.count(PpBook.objects.where(PpBook.price == Decimal(7)))
            assert seen.value == 6
            raise RuntimeError("roll back")
    assert await shop.count(PpBook.objects.where(PpBook.price == Decimal(7))) == 0


async def test_a_block_left_by_an_exception_sends_nothing(shop: Database) -> None:
    events = _events(shop)
    pending: Pending[int] | None = None
    with pytest.raises(RuntimeError):
        async with shop.pipeline() as p:
            pending = p.execute(PpBook.objects.update(price=Decimal(1)))
            raise RuntimeError("stop")
    assert events == []
    assert pending is not None
    with pytest.raises(ValidationError, match="has not run"):
        _ = pending.value


async def test_pipeline_refusals_raise_at_the_call(shop: Database) -> None:
    from djogi.algebra.relations import prefetch, reverse

    async with shop.pipeline() as p:
        with pytest.raises(ValidationError, match="does not load relations"):
            p.all(PpAuthor.objects.prefetch(prefetch(reverse(PpBook.author))))
        with pytest.raises(ValidationError, match="takes a query"):
            p.all(PpBook.title == "x")  # type: ignore[arg-type]
        with pytest.raises(ValidationError, match=r"param\('t'\) has no value"):
            p.all(select(PpBook).where(PpBook.title == param("t")))


async def test_cursors_kept_between_pipelines_report_the_failing_statement(shop: Database) -> None:
    async with shop.pipeline() as p:  # the connection keeps these cursors, with their results
        counts = [p.count(PpBook.objects) for _ in range(3)]
    assert [c.value for c in counts] == [6, 6, 6]
    with pytest.raises(UniqueViolation, match=r"^pipeline statement 2 of 3 failed"):
        async with shop.pipeline() as p:
            p.count(PpBook.objects)
            p.execute(insert_one(PpAuthor(name="Bob")))
            p.count(PpBook.objects)
    async with shop.pipeline() as p:
        after = p.count(PpAuthor.objects)
    assert after.value == 2
