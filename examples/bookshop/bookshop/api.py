"""The bookshop over HTTP: a Litestar app that serves visages, never models.

Every handler returns a visage type, so Litestar encodes it with msgspec and documents it in the OpenAPI
schema (``/schema/openapi.json``) from the same declaration; a field a model does not expose to the
audience is in neither. Run it after ``make demo`` (or ``djogi db up``, ``migrations apply``, ``db seed``)::

    cd examples/bookshop && PYTHONPATH=. ../../.venv/bin/uvicorn bookshop.api:app --loop uvloop

Who is asking is a stand-in for real authentication: the ``X-Customer`` header carries the customer's id,
and ``X-Role: admin`` marks staff.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, get
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers import BaseRouteHandler
from litestar.openapi import OpenAPIConfig

import djogi
from bookshop.models import Book, Customer, Genre
from bookshop.visages import BookAdmin, BookPublic, CustomerAdmin, CustomerSelf
from djogi import HeerIdDesc, to_visage, visage_query


@asynccontextmanager
async def database(app: Litestar) -> AsyncGenerator[None]:
    """One connection pool for the app's life (the URL comes from Djogi.toml / ``DJOGI_DATABASE_URL``)."""
    async with djogi.connect() as db:
        app.state.db = db
        yield


async def provide_db(state: State) -> djogi.Database:
    db: djogi.Database = state.db
    return db


def staff_only(connection: ASGIConnection[object, object, object, State], _: BaseRouteHandler) -> None:
    """Guard: the admin routes need ``X-Role: admin``."""
    if connection.headers.get("x-role") != "admin":
        raise PermissionDeniedException("staff only: send X-Role: admin")


@get("/books")
async def list_books(db: djogi.Database, genre: Genre | None = None, limit: int = 20) -> list[BookPublic]:
    """The catalogue, by title: ``SELECT`` of the public columns only."""
    query = visage_query(BookPublic).order_by(Book.title).limit(limit)
    if genre is not None:
        query = query.filter(Book.genre == genre)
    return await db.all(query)


@get("/books/{book_id:int}")
async def get_book(db: djogi.Database, book_id: int) -> BookPublic:
    found = await db.all(visage_query(BookPublic).filter(Book.id == HeerIdDesc(book_id)))
    if not found:
        raise NotFoundException(f"no book {book_id}")
    return found[0]


@get("/me")
async def me(db: djogi.Database, request: Request[object, object, State]) -> CustomerSelf:
    """The asking customer's own record, email included (exposed to ``self`` only)."""
    asked = request.headers.get("x-customer", "")
    if not asked.isdigit():
        raise NotAuthorizedException("send X-Customer: <your customer id>")
    found = await db.all(visage_query(CustomerSelf).filter(Customer.id == HeerIdDesc(int(asked))))
    if not found:
        raise NotFoundException(f"no customer {asked}")
    return found[0]


@get("/admin/books", guards=[staff_only])
async def admin_books(db: djogi.Database) -> list[BookAdmin]:
    """Books with their authors nested as the authors' public visage: two statements (prefetch)."""
    rows = await db.all(Book.objects.order_by(Book.title).prefetch(Book.author))
    return [to_visage(row, BookAdmin) for row in rows]


@get("/admin/customers", guards=[staff_only])
async def admin_customers(db: djogi.Database) -> list[CustomerAdmin]:
    """Customers for staff: emails masked by PostgreSQL (``protect(..., redaction="mask")``)."""
    return await db.all(visage_query(CustomerAdmin).order_by(Customer.name))


app = Litestar(
    route_handlers=[list_books, get_book, me, admin_books, admin_customers],
    dependencies={"db": Provide(provide_db)},
    lifespan=[database],
    openapi_config=OpenAPIConfig(title="Bookshop", version="1.0.0"),
)
