"""The outbox holds exactly the committed writes, whatever mix of write paths and rollbacks produced them.

Random transactions, each a random list of writes on ``Order`` (``create``, ``bulk_create``, ``save``,
``delete``, a query's ``update()`` and ``delete()``, raw ``UPDATE``, ``bulk_update``), each committed or
rolled back (some with a savepoint rolled back inside). A model in memory applies only what committed;
afterwards the events (action, row, total) are exactly the writes the model recorded, as multisets (rows of one
statement may be captured in any order), every payload leaves out the excluded column, and one worker drain
delivers each event once.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import anyio
import psycopg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

import djogi
from djogi.events import Event, Worker
from djogi.executor import Database
from tests.events.helpers import Order, migrate

EXAMPLES = int(os.environ.get("DJOGI_PROPERTY_EXAMPLES", "500")) // 10
OPS = ("create", "bulk_create", "save", "delete", "update_all", "delete_query", "raw_update", "bulk_update",
       "savepoint")  # fmt: skip
transactions = st.lists(st.tuples(st.lists(st.sampled_from(OPS), min_size=1, max_size=5), st.booleans()),
                        min_size=1, max_size=5)  # fmt: skip

Shadow = dict[int, int]  # row id -> total
Written = Counter[tuple[str, int, int]]  # (action, row id, total)


@pytest.fixture
def outbox(db_url: str, tmp_path: Path) -> Iterator[tuple[BlockingPortal, Database, str]]:
    migrate(db_url, tmp_path)
    with start_blocking_portal() as portal, portal.wrap_async_context_manager(
        djogi.connect(db_url, min_size=1, max_size=2)
    ) as database:
        yield portal, database, db_url


async def _write(db: Database, op: str, rows: Shadow, step: int) -> Written:
    """Run one write; what it wrote, as events."""
    done: Written = Counter()
    if op == "create":
        made = await db.create(Order(customer="c", total=step, card="secret"))
        rows[made.id] = step
        done[("create", made.id, step)] += 1
    elif op == "bulk_create":
        for made in await db.bulk_create([Order(customer="b", total=step + i, card="x") for i in range(2)]):
            rows[made.id] = made.total
            done[("create", made.id, made.total)] += 1
    elif op in ("save", "delete") and rows:
        row_id = min(rows)
        current = await db.get(Order, row_id)
        if op == "save":
            await db.save(current, total=step)
            rows[row_id] = step
            done[("save", row_id, step)] += 1
        else:
            await db.delete(current)
            done[("delete", row_id, rows.pop(row_id))] += 1
    elif op == "update_all":
        await db.execute(Order.objects.update(total=Order.total + 1))
        for row_id in rows:
            rows[row_id] += 1
            done[("save", row_id, rows[row_id])] += 1
    elif op == "delete_query":
        await db.execute(Order.objects.filter(Order.total > step).delete())
        for row_id in [r for r, total in rows.items() if total > step]:
            done[("delete", row_id, rows.pop(row_id))] += 1
    elif op == "raw_update" and rows:
        row_id = max(rows)
        await db.raw("UPDATE ev_orders SET total = $1 WHERE id = $2", (step * 10, row_id))
        rows[row_id] = step * 10
        done[("save", row_id, step * 10)] += 1
    elif op == "bulk_update" and rows:
        current = await db.all(Order.objects.order_by(Order.id))
        await db.bulk_update([replace(o, total=-o.total) for o in current], ["total"])
        for row_id in rows:
            rows[row_id] = -rows[row_id]
            done[("save", row_id, rows[row_id])] += 1
    elif op == "savepoint":
        inner = dict(rows)
        try:
            async with db.atomic():
                await _write(db, "create", inner, step)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
    return done


def test_the_outbox_holds_exactly_the_committed_writes(outbox: tuple[BlockingPortal, Database, str]) -> None:
    portal, db, url = outbox

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])
    @given(txs=transactions)
    @example(txs=[(["create", "update_all", "delete_query"], True), (["bulk_create", "savepoint"], False)])
    def check(txs: list[tuple[list[str], bool]]) -> None:
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute("TRUNCATE ev_orders, ev_orders_outbox")
        expected: Written = Counter()
        rows: Shadow = {}

        async def run() -> None:
            step = 0
            for ops, commit in txs:
                attempt = dict(rows)
                written: Written = Counter()
                try:
                    async with db.atomic():
                        for op in ops:
                            step += 1
                            written += await _write(db, op, attempt, step)
                        if not commit:
                            raise RuntimeError("rolled back")
                except RuntimeError:
                    continue
                rows.clear()
                rows.update(attempt)
                expected.update(written)

        portal.call(run)
        with psycopg.connect(url, autocommit=True) as owner:
            found = owner.execute("SELECT action, row_id, (payload->>'total')::int, payload ? 'card' "
                                  "FROM ev_orders_outbox").fetchall()  # fmt: skip
            live = dict(owner.execute("SELECT id, total FROM ev_orders").fetchall())
        assert Counter((a, r, t) for a, r, t, _ in found) == expected
        assert not any(card for *_, card in found)
        assert live == rows

        delivered: list[int] = []

        async def handle(event: Event) -> None:
            delivered.append(event.id)
            await anyio.sleep(0)

        async def drain() -> int:
            return await Worker(db, {Order: handle}).drain()

        assert portal.call(drain) == len(found) == len(delivered) == len(set(delivered))

    check()
