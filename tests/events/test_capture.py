"""Every write path through djogi adds its events in the writing transaction (the app role, RLS applies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from djogi import AuthContext
from djogi.algebra import insert_many, update_many
from djogi.errors import DatabaseError
from djogi.executor import Database
from tests.events.helpers import Memo, Order, migrate
from tests.migrate.helpers import sql


@pytest.fixture
async def app(db_url: str, app_db: Database, tmp_path: Path) -> Database:
    migrate(db_url, tmp_path)
    return app_db


def events(url: str, table: str = "ev_orders_outbox") -> list[tuple[Any, ...]]:
    """``(row_id, action, payload, actor)`` of every event, as the owner, in id order."""
    rows = sql(url, f"SELECT row_id, action, payload, actor FROM {table} ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_create_save_delete_add_one_event_each_with_the_payload_and_actor(app: Database, db_url: str) -> None:
    db = app.with_auth(AuthContext(user_id="alice"))
    order = await db.create(Order(customer="ann", total=5, card="4111"))
    order = await db.save(order, total=7)
    await db.delete(order)
    found = events(db_url)
    assert [(r[0], r[1], r[3]) for r in found] == [(order.id, a, "alice") for a in ("create", "save", "delete")]
    payloads = [r[2] for r in found]
    assert all("card" not in p for p in payloads)
    assert [p["total"] for p in payloads] == [5, 7, 7]
    assert payloads[0]["customer"] == "ann" and payloads[0]["id"] == order.id
    assert set(payloads[1]) == {"id", "created_at", "updated_at", "customer", "total"}


async def test_no_actor_is_recorded_as_null(app: Database, db_url: str) -> None:
    await app.create(Order(customer="ann"))
    assert [r[3] for r in events(db_url)] == [None]


async def test_a_rolled_back_transaction_leaves_neither_rows_nor_events(app: Database, db_url: str) -> None:
    kept = await app.create(Order(customer="kept"))
    with pytest.raises(RuntimeError):
        async with app.atomic():
            await app.create(Order(customer="lost"))
            await app.save(kept, total=99)
            await app.bulk_create([Order(customer="lost2")])
            raise RuntimeError("rolled back")
    assert sql(db_url, "SELECT customer, total FROM ev_orders") == [("kept", 0)]
    assert [(r[1], r[2]["customer"]) for r in events(db_url)] == [("create", "kept")]


async def test_a_savepoint_rollback_removes_only_its_events(app: Database, db_url: str) -> None:
    async with app.atomic():
        await app.create(Order(customer="outer"))
        with pytest.raises(RuntimeError):
            async with app.atomic():
                await app.create(Order(customer="inner"))
                raise RuntimeError("savepoint rolled back")
    assert [r[2]["customer"] for r in events(db_url)] == ["outer"]


async def test_every_bulk_and_queryset_write_path_is_captured(app: Database, db_url: str) -> None:
    made = await app.bulk_create([Order(customer=f"c{i}", total=i) for i in range(3)])
    assert await app.bulk_create([Order(customer="nr")], returning=False) == 1
    inserted = await app.execute(insert_many(Order, [Order(customer="im1"), Order(customer="im2")]))
    await app.bulk_update([replace(o, total=10) for o in made], ["total"])
    await app.execute(update_many(Order, [replace(made[0], total=11)], ["total"]))
    await app.bulk_upsert([replace(made[1], total=20)], ["id"], ["total"])
    await app.bulk_insert([replace(made[2], total=30)], conflict_target=["id"])
    await app.create(Order(customer="g"))
    await app.execute(Order.objects.filter(Order.customer == "nr").update(total=40))
    await app.execute(Order.objects.filter(Order.customer.startswith("im")).delete())
    await app.raw("UPDATE ev_orders SET total = total + 1 WHERE customer = 'g'")
    found = events(db_url)
    actions = [r[1] for r in found]
    assert actions[:6] == ["create"] * 6
    rest = [(a, p["customer"], p["total"]) for _, a, p, _ in found[6:]]
    rest[7:9] = sorted(rest[7:9])
    assert rest == [
        ("save", "c0", 10), ("save", "c1", 10), ("save", "c2", 10), ("save", "c0", 11),
        ("save", "c1", 20),
        ("create", "g", 0), ("save", "nr", 40),
        *sorted(("delete", o.customer, 0) for o in inserted),  # one statement: its rows in any order
        ("save", "g", 1),
    ]  # fmt: skip


async def test_tenant_events_carry_the_tenant_and_obey_row_level_security(app: Database, db_url: str) -> None:
    one, two = app.with_tenant(1), app.with_tenant(2)
    await one.create(Memo(tenant_id=1, body="a"))
    await two.create(Memo(tenant_id=2, body="b"))
    rows = sql(db_url, "SELECT tenant_id, payload->>'body' FROM ev_memos_outbox ORDER BY id")
    assert rows == [(1, "a"), (2, "b")]
    assert await one.raw("SELECT tenant_id FROM ev_memos_outbox") == [(1,)]
    assert await app.raw("SELECT count(*) FROM ev_memos_outbox") == [(0,)]
    with pytest.raises(DatabaseError, match="row-level security"):
        await one.raw("INSERT INTO ev_memos_outbox (row_id, action, payload, tenant_id) VALUES (1, 'create', '{}', 2)")
    assert json.loads(json.dumps(rows)) == [[1, "a"], [2, "b"]]


async def test_the_actor_is_set_once_per_transaction_and_again_when_it_changes(app: Database, db_url: str) -> None:
    seen: list[tuple[str, tuple[object, ...]]] = []
    app.add_listener(lambda e: seen.append((e.sql, e.params)))
    alice = app.with_auth(AuthContext(user_id="alice"))
    async with app.atomic():
        await alice.create(Order(customer="a"))
        await alice.create(Order(customer="b"))
        app.set_auth(AuthContext(user_id=42))
        await app.create(Order(customer="c"))
    actor_sql = "SELECT set_config('djogi.actor', $1, true)"
    assert [p for s, p in seen if s == actor_sql] == [("alice",), ("42",)]
    assert [r[3] for r in events(db_url)] == ["alice", "alice", "42"]
