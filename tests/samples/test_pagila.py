"""pagila, loaded unmodified, cannot be adopted: its ``payment`` partitions carry foreign keys and indexes of
their own, which no model declares (``db inspect`` refuses them, and verify reports them, ``test_inspect``).
Everything else of it is declared exactly (its views and materialized view too, as SQL views verify finds
no drift in), so its questions run through models written from its snapshot alone, and return exactly the
rows of the same questions in hand-written SQL: ``int * interval``, ``@@`` on the tsvector column, the
partitioned table, the enum's order, the composite-key link table, array containment and the ``year``
domain; its views are read and its materialized view refreshed through the generated view models.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from djogi.algebra import avg, cast, count, max_, min_, sum_
from djogi.algebra.search import to_tsquery, ts_match
from djogi.errors import ValidationError
from djogi.executor import connect
from djogi.migrate.introspect import catalog, server_spelled
from djogi.migrate.modelsource import model_source
from djogi.migrate.project import project
from djogi.migrate.runner.compare import compare
from djogi.model import descriptor, registry_scope
from djogi.testing import TestDatabases
from tests.samples.load import load_sample
from tests.samples.test_adopt import Adopted, Models, _round2
from tests.samples.test_adopt import pytestmark as pytestmark
from tests.samples.test_queries import PAGILA

MORE = {
    # A CHAR(20) column: djogi reads it without PostgreSQL's padding, as a cast to text does.
    "films_per_language": (
        """
        SELECT l.name::text, count(*) FROM film f JOIN language l ON l.language_id = f.language_id
        GROUP BY l.language_id ORDER BY l.name""",
        [
            ("English", 59),
            ("French", 5),
            ("German", 9),
            ("Italian", 10),
            ("Japanese", 7),
            ("Mandarin", 10),
        ],
    ),
}


@pytest.fixture(scope="module")
def pagila(djogi_databases: TestDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Adopted]:
    name = djogi_databases.create()
    try:
        with registry_scope(isolated=True):
            url = djogi_databases.server.url(name)
            load_sample("pagila", url)
            with psycopg.connect(url, autocommit=True) as conn:
                read = catalog(conn)
            assert {u.table for u in read.unmodelled} == {"payment"}  # what stops its adoption
            yield Adopted(url, tmp_path_factory.mktemp("pagila"), model_source(read.snapshot))
    finally:
        djogi_databases.drop(name)


def pagila_queries(m: Models) -> dict[str, Any]:
    """The questions of ``test_queries.PAGILA`` written with the models generated for pagila (same names):
    ``int * interval``, ``@@`` on the tsvector column, the partitioned ``payment``, the enum's order, the
    composite-key link table, array containment and the ``year`` domain."""
    film, rental, inventory, customer, payment = m["Film"], m["Rental"], m["Inventory"], m["Customer"], m["Payment"]
    actor, film_actor, address, city, country = m["Actor"], m["FilmActor"], m["Address"], m["City"], m["Country"]
    language = m["Language"]
    kept = rental.return_date - rental.rental_date
    march = (dt.datetime(2022, 3, 1, tzinfo=dt.UTC), dt.datetime(2022, 4, 1, tzinfo=dt.UTC))
    total = sum_(payment.amount)
    return {
        "overdue_returns": rental.objects.join(inventory, on=inventory.inventory_id == rental.inventory, fetch=False)
        .join(film, on=film.film_id == inventory.film, fetch=False)
        .join(customer, on=customer.customer_id == rental.customer, fetch=False)
        .filter(rental.return_date > rental.rental_date + film.rental_duration * dt.timedelta(days=1))
        .values(rental.rental_id, customer.customer_id, film.title, kept)
        .order_by(kept.desc(), rental.rental_id).limit(5),
        "fulltext_search": film.objects.filter(ts_match(film.fulltext, to_tsquery("english", "astronaut")))
        .values(film.film_id, film.title).order_by(film.film_id),
        "top_customers": payment.objects.join(customer, on=customer.customer_id == payment.customer_id, fetch=False)
        .group_by(customer.customer_id)
        .values(customer.customer_id, customer.first_name, customer.last_name, total, count())
        .order_by(total.desc(), customer.customer_id).limit(5),
        "payments_one_partition": payment.objects
        .filter(payment.payment_date >= march[0], payment.payment_date < march[1])
        .values(count(), sum_(payment.amount), min_(payment.payment_id), max_(payment.payment_id)),
        "films_per_rating": film.objects.group_by(film.rating)
        .values(cast(film.rating, "text"), count(), _round2(avg(film.rental_rate)), max_(film.length))
        .order_by(film.rating),
        "busiest_actors": actor.objects.join(film_actor, on=film_actor.actor == actor.actor_id, fetch=False)
        .group_by(actor.actor_id).values(actor.actor_id, actor.first_name, actor.last_name, count())
        .order_by(count().desc(), actor.actor_id).limit(5),
        "films_with_deleted_scenes": film.objects
        .filter(film.special_features.contains(["Deleted Scenes"]), film.release_year < 2010)
        .values(film.film_id, film.title, film.special_features).order_by(film.film_id).limit(5),
        "customers_per_country": customer.objects
        .join(address, on=address.address_id == customer.address, fetch=False)
        .join(city, on=city.city_id == address.city, fetch=False)
        .join(country, on=country.country_id == city.country, fetch=False)
        .group_by(country.country).values(country.country, count())
        .order_by(count().desc(), country.country).limit(5),
        "films_per_language": film.objects.join(language, on=language.language_id == film.language, fetch=False)
        .group_by(language.language_id).values(language.name, count()).order_by(language.name),
        "out_on_rent_per_store": rental.objects
        .join(inventory, on=inventory.inventory_id == rental.inventory, fetch=False)
        .filter(rental.return_date == None)  # noqa: E711  (IS NULL)
        .group_by(inventory.store).values(inventory.store, count()).order_by(inventory.store),
    }  # fmt: skip


@pytest.mark.parametrize("name", [
    "overdue_returns", "fulltext_search", "top_customers", "payments_one_partition", "films_per_rating",
    "busiest_actors", "films_with_deleted_scenes", "customers_per_country", "out_on_rent_per_store",
    "films_per_language",
])  # fmt: skip
async def test_query_through_generated_models_equals_hand_written_sql(pagila: Adopted, name: str) -> None:
    query = pagila_queries(pagila.models)[name]
    with psycopg.connect(pagila.url) as conn:
        expected = conn.execute((PAGILA.get(name) or MORE[name])[0].encode()).fetchall()
    async with connect(pagila.url) as db:
        got = await db.values(query)
    assert [tuple(row) for row in got] == expected
    assert expected == (PAGILA.get(name) or MORE[name])[1]  # the rows test_queries records for the question


def test_pagila_views_are_inspected_and_verify_without_drift(pagila: Adopted) -> None:
    """Its 7 views and the materialized view (``WITH NO DATA``, with a unique index) are written as SQL views
    with the server's text; their projection, spelled by the server, equals the catalog (no D647)."""
    declared = project([descriptor(m) for m in pagila.models.values()], "main", None).unwrap()
    assert sorted(declared.views) == [
        "actor_info", "customer_list", "film_list", "nicer_but_slower_film_list", "rental_by_category",
        "sales_by_film_category", "sales_by_store", "staff_list",
    ]  # fmt: skip
    matview = declared.views["rental_by_category"]
    assert (matview.materialized, matview.with_data, [i.name for i in matview.indexes]) == (
        True, False, ["rental_category"])  # fmt: skip
    with psycopg.connect(pagila.url, autocommit=True) as conn:
        live = catalog(conn).snapshot
        spelled = server_spelled(conn, declared, live)
    assert [d for d in compare(spelled, live) if d.code == "D647"] == []


async def test_reading_pagila_views_and_refreshing_its_materialized_view(pagila: Adopted) -> None:
    view, matview = pagila.models["SalesByFilmCategory"], pagila.models["RentalByCategory"]
    expected = PAGILA["sales_by_category_view"][1]
    async with connect(pagila.url) as db:
        got = await db.values(view.objects.values(view.category, view.total_sales)
                              .order_by(view.total_sales.desc(), view.category))  # fmt: skip
        assert [tuple(row) for row in got] == expected
        with pytest.raises(ValidationError, match="CustomerList: insert refused: CustomerList is a view"):
            await db.create(pagila.models["CustomerList"](id_=1))
        await db.refresh_view(matview)  # WITH NO DATA until the first refresh
        await db.refresh_view(matview, concurrently=True)  # its unique index allows CONCURRENTLY
        got = await db.values(matview.objects.values(matview.category, matview.total_sales)
                              .order_by(matview.total_sales.desc(), matview.category))  # fmt: skip
    assert [tuple(row) for row in got] == expected
