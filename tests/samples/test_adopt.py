"""Adopting the public samples, loaded unmodified: ``db inspect`` writes models, composing against the database
then reports nothing, ``migrations verify`` (against the real catalog) finds no drift, and realistic queries
written with the generated models return exactly what the same questions in hand-written SQL return.

Each sample is loaded once per module into its own fresh database; ``baseline`` adds djogi's ledger to it.
"""

from __future__ import annotations

import datetime as dt
import sys
import types
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from djogi.algebra import aliased, avg, cast, coalesce, count, exists, func, not_, outer, sum_
from djogi.executor import connect
from djogi.migrate import Bucket, baseline, plan_compose, verify
from djogi.migrate.introspect import catalog
from djogi.migrate.modelsource import model_source
from djogi.model import models, registry_scope
from djogi.testing import TestDatabases
from tests.samples.load import DATA, SAMPLES, available, load_sample
from tests.samples.test_queries import CHINOOK, NORTHWIND

pytestmark = [
    pytest.mark.skipif(
        not all(available(name) for name in SAMPLES),
        reason=f"sample data not found under {DATA} (set DJOGI_SAMPLES; see docs/dev/sample-databases.md)",
    ),
    pytest.mark.anyio,
]

ADOPTED = ("chinook", "northwind")
"""Adopted end to end; pagila cannot be (``test_pagila``)."""
MAIN = Bucket("main")

Models = dict[str, Any]


class Adopted:
    """One sample, loaded and baselined, with the models ``db inspect`` wrote for it (by class name)."""

    def __init__(self, url: str, migrations: Path, source: str) -> None:
        self.url, self.migrations, self.source = url, migrations, source
        module = types.ModuleType(f"inspected_{id(self)}")
        sys.modules[module.__name__] = module
        try:
            exec(compile(source, f"<inspected {url}>", "exec"), module.__dict__)
        finally:
            del sys.modules[module.__name__]
        declared = {d.model for d in models()}
        self.models: Models = {n: v for n, v in vars(module).items() if isinstance(v, type) and v in declared}


@pytest.fixture(scope="module")
def adopted(djogi_databases: TestDatabases, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Adopted]]:
    names = {sample: djogi_databases.create() for sample in ADOPTED}
    try:
        with registry_scope(isolated=True):  # the generated models of the samples, for the module
            found: dict[str, Adopted] = {}
            for sample, name in names.items():
                url = djogi_databases.server.url(name)
                load_sample(sample, url)
                with psycopg.connect(url, autocommit=True) as conn:
                    read = catalog(conn)
                source = model_source(read.snapshot, unmodelled=read.unmodelled)
                migrations = tmp_path_factory.mktemp(sample)
                baseline(url, migrations, MAIN, "V20260101000000__adopted", f"the {sample} sample, loaded unmodified")
                found[sample] = Adopted(url, migrations, source)
            yield found
    finally:
        for name in names.values():
            djogi_databases.drop(name)


@pytest.mark.parametrize("sample", ADOPTED)
def test_composing_against_the_adopted_sample_changes_nothing(adopted: dict[str, Adopted], sample: str) -> None:
    at = adopted[sample]
    plan = plan_compose(at.migrations, _declared(at), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)).unwrap()
    assert plan.empty, plan


@pytest.mark.parametrize("sample", ADOPTED)
def test_verify_finds_no_drift_between_the_generated_models_and_the_catalog(
    adopted: dict[str, Adopted], sample: str
) -> None:
    at = adopted[sample]
    report = verify(at.url, at.migrations, MAIN, models=_declared(at))
    assert report.ok and report.diagnostics == ()


def _declared(at: Adopted) -> list[Any]:
    return [d for d in models() if d.model in at.models.values()]


def _round2(x: Any) -> Any:
    """``round(x, 2)``: an int parameter is a BIGINT, and round() takes an INTEGER number of places."""
    return func("round", x, cast(2, "integer"), returns="numeric")


def chinook_queries(m: Models) -> dict[str, Any]:
    """The questions of ``test_queries.CHINOOK`` written with the generated models (same names)."""
    artist, album, track, invoice, line = m["Artist"], m["Album"], m["Track"], m["Invoice"], m["InvoiceLine"]
    genre, employee, customer, playlist, entry = m["Genre"], m["Employee"], m["Customer"], m["Playlist"], m[
        "PlaylistTrack"]  # fmt: skip
    media = m["MediaType"]
    manager = aliased(employee, "m")
    month = func("date_trunc", "month", invoice.invoice_date, returns="timestamp")
    return {
        "top_artists_by_tracks": artist.objects.join(album, on=album.artist == artist.artist_id, fetch=False)
        .join(track, on=track.album == album.album_id, fetch=False)
        .group_by(artist.artist_id).values(artist.artist_id, artist.name, count())
        .order_by(count().desc(), artist.artist_id).limit(5),
        "revenue_per_country": invoice.objects.group_by(invoice.billing_country)
        .values(invoice.billing_country, count(), sum_(invoice.total))
        .order_by(sum_(invoice.total).desc(), invoice.billing_country).limit(5),
        "genres_sold": line.objects.join(track, on=track.track_id == line.track, fetch=False)
        .join(genre, on=genre.genre_id == track.genre, fetch=False)
        .group_by(genre.genre_id).values(genre.name, sum_(line.quantity), sum_(line.unit_price * line.quantity))
        .order_by(sum_(line.quantity).desc(), genre.name).limit(5),
        "employees_and_managers": employee.objects
        .left_join(manager, on=manager.employee_id == employee.reports_to, fetch=False)
        .values(employee.employee_id, employee.first_name.concat(" ").concat(employee.last_name),
                manager.first_name.concat(" ").concat(manager.last_name))
        .order_by(employee.employee_id),
        "sales_per_support_rep": employee.objects
        .join(customer, on=customer.support_rep == employee.employee_id, fetch=False)
        .left_join(invoice, on=invoice.customer == customer.customer_id, fetch=False)
        .group_by(employee.employee_id)
        .values(employee.employee_id, employee.last_name, count(customer.customer_id, distinct=True),
                count(invoice.invoice_id), coalesce(sum_(invoice.total), Decimal(0)))
        .order_by(employee.employee_id),
        "longest_tracks": track.objects.values(
            track.track_id, track.name, track.milliseconds,
            _round2(cast(track.milliseconds, "numeric") / Decimal("60000.0")),
        ).order_by(track.milliseconds.desc(), track.track_id).limit(3),
        "playlist_sizes": playlist.objects
        .left_join(entry, on=entry.playlist == playlist.playlist_id, fetch=False)
        .group_by(playlist.playlist_id).values(playlist.playlist_id, playlist.name, count(entry.track))
        .order_by(count(entry.track).desc(), playlist.playlist_id).limit(5),
        "revenue_per_month": invoice.objects.group_by(month).values(month, count(), sum_(invoice.total))
        .order_by(month),
        "customers_without_invoices": customer.objects
        .filter(not_(exists(invoice.objects.filter(invoice.customer == outer(customer.customer_id)))))
        .values(count()),
        "media_type_prices": track.objects.join(media, on=media.media_type_id == track.media_type, fetch=False)
        .group_by(media.media_type_id).values(media.name, count(), cast(avg(track.unit_price), "numeric(10,2)"))
        .order_by(count().desc(), media.name),
    }  # fmt: skip


def northwind_queries(m: Models) -> dict[str, Any]:
    """The questions of ``test_queries.NORTHWIND`` written with the generated models (same names)."""
    customers, orders, details, employees = m["Customers"], m["Orders"], m["OrderDetails"], m["Employees"]
    products, categories, shippers, suppliers = m["Products"], m["Categories"], m["Shippers"], m["Suppliers"]
    region, territories, et = m["Region"], m["Territories"], m["EmployeeTerritories"]
    boss = aliased(employees, "m")
    month = cast(func("date_trunc", "month", orders.order_date, returns="timestamp"), "date")
    line = cast(details.unit_price * details.quantity * (1 - details.discount), "numeric")
    units = sum_(details.quantity)
    gross = _round2(sum_(cast(details.unit_price * details.quantity, "numeric")))
    sales = _round2(sum_(line))
    return {
        "top_customers_by_sales": customers.objects
        .join(orders, on=orders.customer == customers.customer_id, fetch=False)
        .join(details, on=details.order == orders.order_id, fetch=False)
        .group_by(customers.customer_id)
        .values(customers.customer_id, customers.company_name, sales)
        .order_by(sales.desc(), customers.customer_id).limit(5),
        "orders_per_employee": employees.objects
        .left_join(orders, on=orders.employee == employees.employee_id, fetch=False)
        .group_by(employees.employee_id).values(employees.employee_id, employees.last_name, count(orders.order_id))
        .order_by(count(orders.order_id).desc(), employees.employee_id),
        "products_to_reorder": products.objects
        .filter(products.discontinued == 0, products.units_in_stock + products.units_on_order <= products.reorder_level)
        .values(products.product_id, products.product_name, products.units_in_stock, products.units_on_order,
                products.reorder_level)
        .order_by(products.product_id),
        "category_sales": details.objects
        .join(products, on=products.product_id == details.product, fetch=False)
        .join(categories, on=categories.category_id == products.category, fetch=False)
        .group_by(categories.category_id)
        .values(categories.category_name, units, gross)
        .order_by(gross.desc(), categories.category_name),
        "freight_by_shipper": orders.objects.join(shippers, on=shippers.shipper_id == orders.ship_via, fetch=False)
        .group_by(shippers.shipper_id)
        .values(shippers.company_name, count(), _round2(avg(cast(orders.freight, "numeric"))))
        .order_by(shippers.shipper_id),
        "territories_per_region": region.objects
        .join(territories, on=territories.region == region.region_id, fetch=False)
        .left_join(et, on=et.territory == territories.territory_id, fetch=False)
        .group_by(region.region_id)
        .values(region.region_description, count(territories.territory_id, distinct=True),
                count(et.employee, distinct=True))
        .order_by(region.region_id),
        "customers_without_orders": customers.objects
        .filter(not_(exists(orders.objects.filter(orders.customer == outer(customers.customer_id)))))
        .values(count()),
        "manager_of": employees.objects.left_join(boss, on=boss.employee_id == employees.reports_to, fetch=False)
        .values(employees.employee_id, employees.first_name, employees.last_name, boss.last_name)
        .order_by(employees.employee_id),
        "biggest_orders": orders.objects.join(details, on=details.order == orders.order_id, fetch=False)
        .group_by(orders.order_id).values(orders.order_id, orders.order_date, count(), units)
        .order_by(units.desc(), orders.order_id).limit(5),
        "supplier_countries": suppliers.objects.group_by(suppliers.country).values(suppliers.country, count())
        .order_by(count().desc(), suppliers.country).limit(5),
        "orders_per_month": orders.objects.group_by(month).values(month, count()).order_by(month),
    }  # fmt: skip


QUERIES: dict[str, tuple[dict[str, tuple[str, Any]], Callable[[Models], dict[str, Any]]]] = {
    "chinook": (CHINOOK, chinook_queries),
    "northwind": (NORTHWIND, northwind_queries),
}
CASES = [
    *(("chinook", name) for name in (
        "top_artists_by_tracks", "revenue_per_country", "genres_sold", "employees_and_managers",
        "sales_per_support_rep", "longest_tracks", "playlist_sizes", "revenue_per_month", "customers_without_invoices",
        "media_type_prices",
    )),
    *(("northwind", name) for name in (
        "top_customers_by_sales", "orders_per_employee", "products_to_reorder", "category_sales",
        "freight_by_shipper", "territories_per_region", "customers_without_orders", "manager_of", "biggest_orders",
        "supplier_countries", "orders_per_month",
    )),
]  # fmt: skip


@pytest.mark.parametrize(("sample", "name"), CASES)
async def test_query_through_generated_models_equals_hand_written_sql(
    adopted: dict[str, Adopted], sample: str, name: str
) -> None:
    at = adopted[sample]
    sqls, build = QUERIES[sample]
    query = build(at.models)[name]
    with psycopg.connect(at.url) as conn:
        expected = conn.execute(sqls[name][0].encode()).fetchall()
    async with connect(at.url) as db:
        got = await db.values(query)
    assert [tuple(row) for row in got] == expected
    assert expected  # the question has an answer on the trimmed data
