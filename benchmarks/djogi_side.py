"""djogi: frozen models, algebra queries, the anyio + psycopg executor (``djogi.connect()``).

Written against the public surface (``db.all``, ``db.get``, ``db.bulk_create``, ``db.execute(q.update(...))``,
prefetch, ``compile``). A part that does not exist yet raises ``NotAvailable``, which the runner reports
as ``n/a``: no figure is ever substituted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from typing import Any

from benchmarks import schema
from benchmarks.peers import NotAvailable
from djogi import Field, ForeignKey, Integer, Model, custom_pk, field, param
from djogi.errors import ModelDefinitionError

NAME = "djogi"


def _identity_pk(table: str) -> Any:
    """Plain ``int`` keys from the table's identity sequence (the same bigint keys every peer uses)."""
    return custom_pk(int, "BIGINT", f"nextval(pg_get_serial_sequence('{table}', 'id'))")


try:

    class Item(Model[int], table=schema.ITEMS, pk=_identity_pk(schema.ITEMS)):
        name: Field[str]
        price: Field[Decimal] = field(precision=10, scale=2)
        qty: Field[Integer]
        active: Field[bool]

    class ItemInsert(Model[int], table=schema.ITEMS_INSERT, pk=_identity_pk(schema.ITEMS_INSERT)):
        name: Field[str]
        price: Field[Decimal] = field(precision=10, scale=2)
        qty: Field[Integer]
        active: Field[bool]

    class Author(Model[int], table="bench_authors", pk=_identity_pk("bench_authors")):
        name: Field[str]

    class Book(Model[int], table="bench_books", pk=_identity_pk("bench_books")):
        author: ForeignKey[Author]
        title: Field[str]
        year: Field[Integer]

except ModelDefinitionError as e:  # the model layer moved under us: report, do not crash the run
    raise NotAvailable(f"benchmark models do not declare: {e}") from e


def _api(module: str, name: str) -> Any:
    """``module.name``, or NotAvailable naming what is missing."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise NotAvailable(f"{module}.{name} does not exist yet ({type(e).__name__})") from e


class State:
    def __init__(self, stack: AsyncExitStack, db: Any) -> None:
        self.stack = stack
        self.db = db


async def connect(url: str) -> State:
    try:
        djogi_connect = _api("djogi", "connect")
    except NotAvailable:
        djogi_connect = _api("djogi.executor.connect", "connect")
    stack = AsyncExitStack()
    db = await stack.enter_async_context(djogi_connect(url, min_size=1, max_size=2))
    return State(stack, db)


async def close(state: State) -> None:
    await state.stack.aclose()


def _filter_query(floor: Any, qty: Any) -> Any:
    return (Item.objects.where(Item.id > floor, Item.qty > qty, Item.active == True)  # noqa: E712
            .order_by(Item.id).limit(schema.FILTER_LIMIT))


# (b) and (c) with named parameters, for ``db.prepare(...)`` (bench_hot, bench_loops, profile_paths)
PREPARED_GET = Item.objects.where(Item.id == param("pk"))
PREPARED_FILTER = _filter_query(param("floor"), param("qty"))


async def fetch(state: State, n: int) -> int:
    return len(await state.db.all(Item.objects.order_by(Item.id).limit(n)))


async def get_by_pk(state: State, ids: Sequence[int]) -> int:
    get = state.db.get
    found = 0
    for pk in ids:
        found += await get(Item, pk) is not None
    return found


async def filtered(state: State, params: Sequence[tuple[int, int]]) -> int:
    all_ = state.db.all
    total = 0
    for floor, qty in params:
        total += len(await all_(_filter_query(floor, qty)))
    return total


def _insert_objects(rows: Sequence[schema.ItemRow]) -> list[ItemInsert]:
    return [ItemInsert(created_at=c, name=n, price=p, qty=q, active=a) for c, n, p, q, a in rows]


async def bulk_insert(state: State, rows: Sequence[schema.ItemRow]) -> int:
    """``bulk_create(returning=False)``: keys and ``updated_at`` are filled by the column defaults, as in
    raw COPY; nothing comes back."""
    inserted: int = await state.db.bulk_create(_insert_objects(rows), returning=False)
    return inserted


async def bulk_insert_keyed(state: State, rows: Sequence[schema.ItemRow]) -> int:
    """``bulk_create``: keys generated in one round trip, COPY, the created instances returned."""
    return len({item.id for item in await state.db.bulk_create(_insert_objects(rows))})


async def update(state: State, lo: int, hi: int) -> int:
    updated: int = await state.db.execute(Item.objects.where(Item.id.between(lo, hi)).update(qty=Item.qty + 1))
    return updated


async def authors_with_books(state: State) -> int:
    """Every author (by id) with its books (by id) attached: ``prefetch(reverse(Book.author))``, which runs
    one more query (``WHERE author_id = ANY($1)``), as the raw drivers do by hand."""
    prefetch, reverse = _api("djogi", "prefetch"), _api("djogi", "reverse")
    books = reverse(Book.author)  # Author's reverse accessor defaults to the table name (bench_books)
    query = Author.objects.order_by(Author.id).prefetch(prefetch(books, query=Book.objects.order_by(Book.id)))
    return sum(len(author[books]) for author in await state.db.all(query))


def _compiler() -> Callable[[Any], Any]:
    compile_: Callable[[Any], Any] = _api("djogi.algebra.compile", "compile")
    return compile_


def compile_cold(state: State, n: int) -> None:
    compile_ = _compiler()
    clear = _api("djogi.algebra.compile", "cache_clear")
    for _ in range(n):
        clear()
        compile_(_filter_query(5_000, 250))


def compile_cached(state: State, n: int) -> None:
    compile_ = _compiler()
    for _ in range(n):
        compile_(_filter_query(5_000, 250))
