"""Workers against the real server: delivery, retries, leases, SKIP LOCKED, NOTIFY, shutdown."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from djogi import AuthContext
from djogi.errors import ValidationError
from djogi.events import Event, Worker
from djogi.executor import Database
from tests.events.helpers import Memo, Order, migrate
from tests.migrate.helpers import sql


@pytest.fixture
async def owner(db_url: str, db: Database, tmp_path: Path) -> Database:
    migrate(db_url, tmp_path)
    return db


def states(url: str) -> list[tuple[object, ...]]:
    return sql(url, "SELECT state, retry_count, failed_reason FROM ev_orders_outbox ORDER BY id")


async def test_a_worker_delivers_each_event_once_in_order_and_publishes_it(owner: Database, db_url: str) -> None:
    made = [await owner.with_auth(AuthContext(user_id=7)).create(Order(customer=f"c{i}")) for i in range(5)]
    seen: list[Event] = []

    async def handle(event: Event) -> None:
        seen.append(event)

    worker = Worker(owner, {Order: handle}, batch_size=2)
    assert await worker.drain() == 5 and await worker.drain() == 0
    assert [(e.row_id, e.action, e.actor, e.attempt, e.model) for e in seen] == [(o.id, "create", "7", 1, Order)
                                                                                 for o in made]  # fmt: skip
    assert [e.id for e in seen] == sorted(e.id for e in seen) and seen[0].payload["customer"] == "c0"
    assert worker.delivered == 5 and {s[0] for s in states(db_url)} == {"published"}


async def test_a_failing_handler_is_retried_with_backoff_then_failed_with_the_reason(owner: Database,
                                                                                      db_url: str) -> None:  # fmt: skip
    await owner.create(Order(customer="x"))
    attempts: list[int] = []

    async def handle(event: Event) -> None:
        attempts.append(event.attempt)
        raise RuntimeError(f"boom {event.attempt}")

    worker = Worker(owner, {Order: handle}, max_attempts=3, backoff=0.05, max_backoff=0.1)
    assert [worker.delay(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.1]
    assert await worker.drain() == 1  # the retry waits for its backoff: not due yet
    assert states(db_url) == [("pending", 1, "attempt 1: RuntimeError: boom 1")]
    for _ in range(2):
        with anyio.fail_after(10):
            while not await worker.drain():
                await anyio.sleep(0.02)
    assert attempts == [1, 2, 3] and (worker.retried, worker.failed) == (2, 1)
    assert states(db_url) == [("failed", 3, "attempt 3: RuntimeError: boom 3")]
    assert await worker.drain() == 0


async def test_an_expired_lease_lets_another_worker_deliver_the_event_again(owner: Database, db_url: str) -> None:
    await owner.create(Order(customer="x"))
    seen: list[int] = []

    async def handle(event: Event) -> None:
        seen.append(event.attempt)

    lost = Worker(owner, {Order: handle}, lease=0.2)
    assert len(await owner.raw(lost.sources[0].claim, (10, 0.2, 5))) == 1  # claimed by a worker that dies
    other = Worker(owner, {Order: handle})
    assert await other.drain() == 0  # leased: invisible to others
    with anyio.fail_after(10):
        while not await other.drain():
            await anyio.sleep(0.05)
    assert seen == [2] and states(db_url) == [("published", 2, None)]


async def test_an_event_whose_lease_expires_on_its_last_attempt_fails(owner: Database, db_url: str) -> None:
    await owner.create(Order(customer="x"))
    worker = Worker(owner, {Order: lambda e: anyio.sleep(0)}, max_attempts=1)
    await owner.raw(worker.sources[0].claim, (10, 0.01, 1))
    await anyio.sleep(0.05)
    assert await worker.drain() == 0
    await owner.raw(worker.sources[0].expire, (1,))
    assert states(db_url) == [("failed", 1, "the lease expired on attempt 1 (the worker was lost)")]


async def test_concurrent_workers_never_take_the_same_event(owner: Database, db_url: str) -> None:
    await owner.bulk_create([Order(customer=f"c{i}") for i in range(200)])
    seen: list[int] = []

    async def handle(event: Event) -> None:
        seen.append(event.id)
        await anyio.sleep(0)

    workers = [Worker(owner, {Order: handle}, batch_size=7) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for w in workers:
            tg.start_soon(w.drain)
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 200
    assert sum(w.delivered for w in workers) == 200


async def test_notify_wakes_an_idle_worker_and_stop_returns(owner: Database) -> None:
    got = anyio.Event()

    async def handle(event: Event) -> None:
        got.set()

    worker = Worker(owner, {Order: handle}, poll=600)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker.run)
        await anyio.sleep(0.3)  # idle, listening
        await owner.create(Order(customer="wake"))
        with anyio.fail_after(30):  # far below the 600 s poll: only the notification can wake it
            await got.wait()
        worker.stop()
    assert worker.delivered == 1


async def test_stop_mid_batch_releases_the_rest_uncounted(owner: Database, db_url: str) -> None:
    await owner.bulk_create([Order(customer=f"c{i}") for i in range(5)])
    seen: list[int] = []
    worker: Worker

    async def handle(event: Event) -> None:
        seen.append(event.id)
        if len(seen) == 2:
            worker.stop()

    worker = Worker(owner, {Order: handle})
    assert await worker.run_once() == 2
    assert [s[:2] for s in states(db_url)] == [("published", 1)] * 2 + [("pending", 0)] * 3


async def test_tenant_events_need_a_role_that_sees_every_tenant(owner: Database, app_db: Database) -> None:
    await owner.with_tenant(3).create(Memo(tenant_id=3, body="m"))
    seen: list[Event] = []

    async def handle(event: Event) -> None:
        seen.append(event)

    with pytest.raises(ValidationError, match=r"subject to row-level security.*Memo"):
        await Worker(app_db, {Memo: handle}).run()
    bypass = app_db.insecurely()
    worker = Worker(bypass, {Memo: handle})
    await worker.check()
    assert await worker.drain() == 1 and (seen[0].tenant, seen[0].payload["body"]) == (3, "m")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"batch_size": 0}, "batch_size=...\\) must be a positive int"), ({"lease": -1}, "lease"),
     ({"max_attempts": 1.5}, "max_attempts")],
)  # fmt: skip
async def test_bad_settings_and_models_without_an_outbox_are_refused(owner: Database, kwargs: dict[str, float],
                                                                     message: str) -> None:  # fmt: skip
    with pytest.raises(ValidationError, match=message):
        Worker(owner, {Order: lambda e: anyio.sleep(0)}, **kwargs)  # type: ignore[arg-type]
    from tests.tenancy.helpers import Org

    with pytest.raises(ValidationError, match="Org has no outbox"):
        Worker(owner, {Org: lambda e: anyio.sleep(0)})


async def test_release_leaves_an_event_whose_lease_expired_to_the_lease(owner: Database, db_url: str) -> None:
    await owner.create(Order(customer="x"))
    worker = Worker(owner, {Order: lambda e: anyio.sleep(0)})
    source = worker.sources[0]
    [claimed] = await owner.raw(source.claim, (10, 0.05, 5))
    await anyio.sleep(0.1)  # expired: another worker may have claimed it meanwhile
    await owner.raw(source.release, ([claimed[0]],))
    assert states(db_url) == [("processing", 1, None)]
    [again] = await owner.raw(source.claim, (10, 30.0, 5))
    await owner.raw(source.release, ([again[0]],))  # within its lease: handed back, the attempt uncounted
    assert states(db_url) == [("pending", 1, None)]
