"""Computed fields and proxy filters mean the same in PostgreSQL and in memory.

Random lines (prices and discounts with NULLs, quantities, an active flag) are stored; then:

- each computed field read from the database (``values(Line.total, Line.net)``) equals the one the instance
  evaluates in memory, NULL included;
- a filter on a computed field keeps exactly the rows whose in-memory value passes it;
- a proxy returns exactly the rows its ``matches`` keeps, in its default order.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from decimal import Decimal
from typing import ClassVar

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import djogi
from djogi import Computed, Field, Model, computed, field, proxy
from djogi.executor import Database
from tests.composition.helpers import create_tables

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500")) // 10


class ParLine(Model, table="par_lines"):
    price: Field[Decimal] = field(precision=8, scale=2)
    quantity: Field[int]
    discount: Field[Decimal | None] = field(precision=8, scale=2, default=None)
    active: Field[bool] = field(default=True)
    total: ClassVar[Computed[Decimal]] = computed(lambda: ParLine.price * ParLine.quantity)
    net: ClassVar[Computed[Decimal]] = computed(lambda: ParLine.price * ParLine.quantity - ParLine.discount)


money = st.decimals(min_value=-9999, max_value=9999, places=2, allow_nan=False, allow_infinity=False)
lines = st.lists(st.builds(ParLine, price=money, quantity=st.integers(-1000, 1000), discount=st.none() | money,
                           active=st.booleans()), max_size=12)  # fmt: skip


@pytest.fixture
def parity(db_url: str) -> Iterator[tuple[BlockingPortal, Database]]:
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        djogi.connect(db_url, min_size=1, max_size=2)
    ) as database:
        portal.call(create_tables, database, [ParLine])
        yield portal, database


def test_computed_fields_and_proxies_agree_with_memory(parity: tuple[BlockingPortal, Database]) -> None:
    portal, database = parity

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=lines, bound=money)
    def run(rows: list[ParLine], bound: Decimal) -> None:
        cheap = proxy(ParLine, where=(ParLine.active == True) & (ParLine.net < bound),  # noqa: E712
                      order_by=(ParLine.total.desc(), ParLine.id))  # fmt: skip

        async def check() -> None:
            await database.execute(ParLine.objects.delete())
            stored = await database.bulk_create(rows) if rows else []
            by_id = {row.id: row for row in stored}
            read = await database.values(ParLine.objects.values(ParLine.id, ParLine.total, ParLine.net))
            assert {key: (total, net) for key, total, net in read} == {k: (r.total, r.net) for k, r in by_id.items()}
            over = await database.all(ParLine.objects.filter(ParLine.total > bound))
            assert {r.id for r in over} == {k for k, r in by_id.items() if r.total > bound}
            through = await database.all(cheap.objects)
            kept = [r for r in stored if cheap.matches(r)]
            assert [r.id for r in through] == [r.id for r in sorted(kept, key=lambda r: (-r.total, r.id))]

        portal.call(check)

    run()
