"""The bookshop's Litestar app (examples/bookshop/bookshop/api.py) served by uvicorn in its own process on a
real port, and asked over real HTTP: each audience gets exactly its visage, and the OpenAPI schema says so."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from tests.example.helpers import APP, BIN, bookshop_env, migrate_and_seed
from tests.migrate.helpers import sql

BOOK_PUBLIC = {"id", "created_at", "updated_at", "title", "author", "genre", "price", "tags"}
AUTHOR_PUBLIC = {"id", "created_at", "updated_at", "name", "born"}
CUSTOMER_SELF = {"id", "created_at", "updated_at", "name", "email", "credit"}
CUSTOMER_ADMIN = {"id", "created_at", "updated_at", "name", "email", "credit"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def api(db_url: str) -> Iterator[httpx.Client]:
    """The app under uvicorn (uvloop), up within 60 s, stopped (and waited for) afterwards."""
    migrate_and_seed(db_url)
    port = _free_port()
    server = subprocess.Popen(
        [str(BIN / "uvicorn"), "bookshop.api:app", "--port", str(port), "--loop", "uvloop"],
        cwd=APP, env=bookshop_env(db_url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"uvicorn exited:\n{server.communicate()[0]}"
                try:
                    client.get("/schema/openapi.json")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "uvicorn did not answer within 60 s"
                    time.sleep(0.1)
            yield client
    finally:
        server.terminate()
        server.wait(timeout=30)




def test_each_audience_gets_its_visage_over_http(api: httpx.Client, db_url: str) -> None:
    books = api.get("/books").json()
    assert [b["title"] for b in books] == [t for (t,) in sql(db_url, "SELECT title FROM books ORDER BY title")]
    assert all(set(b) == BOOK_PUBLIC for b in books)  # no `meta`: internal
    science = api.get("/books", params={"genre": "science"}).json()
    assert [b["title"] for b in science] == ["Cosmos", "Pale Blue Dot"]
    ((cosmos_id, author_id),) = sql(db_url, "SELECT id, author_id FROM books WHERE title = 'Cosmos'")
    one = api.get(f"/books/{cosmos_id}").json()
    assert (one["id"], one["title"], one["author"], Decimal(one["price"])) == (
        cosmos_id, "Cosmos", author_id, Decimal("18.00"),
    )  # fmt: skip
    assert api.get("/books/1").status_code == 404

    ((ada_id,),) = sql(db_url, "SELECT id FROM customers WHERE name = 'Ada'")
    assert api.get("/me").status_code == 401
    mine = api.get("/me", headers={"X-Customer": str(ada_id)}).json()
    assert set(mine) == CUSTOMER_SELF
    assert (mine["name"], mine["email"], Decimal(mine["credit"])) == ("Ada", "ada@example.com", Decimal("100.00"))

    assert api.get("/admin/customers").status_code == 403
    staff = {"X-Role": "admin"}
    customers = api.get("/admin/customers", headers=staff).json()
    assert [(c["name"], c["email"], set(c)) for c in customers] == [
        ("Ada", "[REDACTED]", CUSTOMER_ADMIN), ("Grace", "[REDACTED]", CUSTOMER_ADMIN),
    ]  # fmt: skip
    nested = api.get("/admin/books", headers=staff).json()
    assert len(nested) == len(books)
    carl = next(b["author"] for b in nested if b["title"] == "Cosmos")
    assert set(carl) == AUTHOR_PUBLIC and (carl["id"], carl["name"]) == (author_id, "Carl Sagan")


def test_the_openapi_schema_documents_exactly_the_visages(api: httpx.Client) -> None:
    spec = api.get("/schema/openapi.json").json()
    schemas = spec["components"]["schemas"]
    fields = {name: set(schemas[name]["properties"]) for name in ("BookPublic", "CustomerSelf", "CustomerAdmin")}
    assert fields == {"BookPublic": BOOK_PUBLIC, "CustomerSelf": CUSTOMER_SELF, "CustomerAdmin": CUSTOMER_ADMIN}
    assert set(schemas["AuthorPublic"]["properties"]) == AUTHOR_PUBLIC
    assert set(schemas["BookAdmin"]["properties"]["author"].values()) == {"#/components/schemas/AuthorPublic"}
    listed = spec["paths"]["/books"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["items"] == {"$ref": "#/components/schemas/BookPublic"}
    assert set(spec["paths"]) == {"/books", "/books/{book_id}", "/me", "/admin/books", "/admin/customers"}
